//! Stage 5: rendering formulas, values and whole solutions as text, JSON,
//! LaTeX, Markdown and runnable NumPy code.

pub mod cases;
pub mod diagnostic;
pub mod document;
pub mod formula;
pub mod graph;
pub mod introduced;
pub mod json;
pub mod key;
pub mod latex;
pub mod markdown;
pub mod nn;
pub mod numpy;
pub mod outline;
pub mod plot;
pub mod quantities;
pub mod summary;
pub mod symbolic;
pub mod text;
pub mod training;
pub mod values;
