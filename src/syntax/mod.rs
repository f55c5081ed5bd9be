//! Stage 1: `.nn` text to a spanned AST.

pub mod ast;
mod error;
mod format;
pub mod habits;
mod parser;
mod span;

pub use error::{Error, ErrorKind, MAX_DEPTH, MAX_DIGITS, MAX_ENTRIES};
pub use format::{expr_text, format};
pub use parser::{decode, parse, parse_given};
pub use span::Span;
