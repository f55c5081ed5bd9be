//! Stage: derive.
