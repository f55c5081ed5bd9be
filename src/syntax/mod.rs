//! Stage 1: `.nn` text to a spanned AST.

pub mod ast;
mod decode;
mod error;
mod format;
pub mod habits;
mod lexical;
mod literal;
mod parser;

pub use crate::span::Span;
pub use decode::decode;
pub use error::{Error, ErrorKind, MAX_DEPTH, MAX_DIGITS, MAX_ENTRIES};
pub use format::{expr_text, format};
pub use parser::{parse, parse_given};
