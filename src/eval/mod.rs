//! Stage 4: numbers. Values of every forward equation, error term and
//! gradient, computed from the derived formulas themselves; exact rationals
//! wherever the arithmetic allows, f64 after any transcendental function.

pub mod batch;
pub mod cancel;
mod cases;
pub mod conv;
mod conv_dims;
mod conv_gemm;
mod error;
mod exact;
pub mod gather;
mod matmul;
pub mod evaluate;
pub mod fast;
pub mod map;
pub mod margins;
pub mod probe;
mod quantity;
mod scaled;
pub mod shortest;
pub mod number;
pub mod symbolic;
pub mod optimize;
pub mod plan;
pub mod slice;
mod solve;
mod stable;
pub mod tensor;
mod watch;
pub mod work;

pub use cases::{Case, Cases, SolvedCases};
pub use error::{Error, ErrorKind, Failure};
pub use solve::{
    check_tolerance, gradcheck, gradcheck_with, open_values, require_values, sampled_entries, solve, solve_derived,
    symbol_label, GradCheck, GradCheckOptions, ParamCheck, PoolMask, Prepared, Solution, Training, TrainingStep,
    SMALL_NETWORK,
};
