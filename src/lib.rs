//! nnderive: derives and computes neural-network gradients the way a textbook
//! writes them.
//!
//! The pipeline, each stage depending only on the ones before it:
//!
//! ```text
//! .nn text -> syntax -> model -> derive -> eval -> render -> (CLI in main.rs)
//! ```

pub mod diagnostic;
pub mod syntax;
pub mod model;
pub mod derive;
pub mod eval;
pub mod render;
