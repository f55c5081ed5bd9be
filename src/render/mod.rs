//! Stage 5: rendering formulas, values and whole solutions as text, JSON,
//! LaTeX and Markdown.

pub mod cases;
pub mod diagnostic;
pub mod document;
pub mod formula;
pub mod json;
pub mod latex;
pub mod markdown;
pub mod nn;
pub mod outline;
pub mod plot;
pub mod quantities;
pub mod symbolic;
pub mod text;
pub mod training;
pub mod values;
