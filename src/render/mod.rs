//! Stage: render.
