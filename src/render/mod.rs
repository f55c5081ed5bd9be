//! Stage 5: rendering formulas, values and whole solutions as text, JSON,
//! LaTeX and Markdown.

pub mod formula;
pub mod nn;
pub mod text;
