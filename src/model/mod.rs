//! Stage: model.
