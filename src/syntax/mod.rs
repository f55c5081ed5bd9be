//! Stage 1: `.nn` text to a spanned AST.

pub mod ast;
mod span;

pub use span::Span;
