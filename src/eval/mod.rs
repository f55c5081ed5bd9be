//! Stage 4: numbers. Values of every forward equation, error term and
//! gradient, computed from the derived formulas themselves; exact rationals
//! wherever the arithmetic allows, f64 after any transcendental function.

pub mod batch;
pub mod conv;
mod error;
pub mod evaluate;
pub mod number;
mod solve;
pub mod tensor;

pub use error::{Error, ErrorKind, Failure};
pub use solve::{
    gradcheck, gradcheck_with, sampled_entries, solve, symbol_label, GradCheck, GradCheckOptions, ParamCheck, PoolMask,
    Solution, Training,
};
