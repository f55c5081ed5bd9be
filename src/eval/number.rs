//! Number formatting shared by every renderer.

pub use super::tensor::{decimal_places, full_precision, rational_to_f64, round_decimal};
