//! Stage: eval.
