//! The values of a solution in f64 from the start, for callers that want
//! numbers rather than a worked document (the Python package's `solve`).
//!
//! [`super::solve`] keeps every value exact until a transcendental function
//! or a size cap forces f64, because the documents print exact values as
//! fractions and decimals. That costs: a product of decimal weights is a
//! product of fractions, a convolution of them one fraction per
//! multiply-add. [`solve_float`] instead starts from the f64 nearest each
//! given value and computes every operation in f64, through the same
//! operations (the same GEMM, the same kernels), so it does the work a
//! numeric library does.
//!
//! What holds for its values, compared with the exact solution's:
//!
//! - a given value is the exact solution's f64 view of it (the nearest f64
//!   to the decimal written);
//! - every other value differs from the exact solution's f64 view of it
//!   only by f64 rounding of the operations before it (a relative error of
//!   a few ulps times the condition of the computation; the package's
//!   tests bound it against the command line's JSON on every example).
//!
//! Rounding matters more where the answer is discontinuous: a relu or step
//! at exactly 0, a tie in a max-pool or in max/min, a division by (nearly)
//! zero, a log or square root at 0. An exact 0 there may come out ±1e-17
//! in f64 and take the other branch. So while the f64 pass runs, every such
//! operation is watched ([`observe`]), and when an operand comes within
//! [`MARGIN`] of the discontinuity, or the f64 pass fails, the result is
//! not used: [`solve_float`] solves exactly instead, and says so.

use std::cell::Cell;
use std::rc::Rc;

use super::error::{Error, ErrorKind, Failure};
use super::solve::{solve_derived, solve_from, Solution};
use super::tensor::{decimal_to_f64, Tensor};
use crate::derive::Derivation;
use crate::model::{Elementwise, Func, Model, Node, PoolKind};

/// How near (in absolute value) an operand may come to a discontinuity
/// before the f64 values are not trusted there. f64 rounding of values of
/// ordinary size is some 1e-16 of them; an operand this small is far more
/// likely an exact zero rounded than a true value.
pub const MARGIN: f64 = 1e-9;

thread_local! {
    /// `Some(near)` while an f64 pass is watched: `near` is set when an
    /// operand came within [`MARGIN`] of a discontinuity.
    static WATCH: Cell<Option<bool>> = const { Cell::new(None) };
}

/// True while [`solve_float`] watches the evaluation (one thread-local read).
#[inline]
pub(super) fn watching() -> bool {
    WATCH.with(Cell::get).is_some()
}

/// Called by the evaluator after computing `node` (`value`) from `args` while
/// [`watching`]: notes an operand near a discontinuity.
pub(super) fn observe(node: &Node, args: &[&Tensor], value: &Tensor) {
    let near_zero = |t: &Tensor| t.float_view().iter().any(|x| x.abs() <= MARGIN);
    let near = match (node, args) {
        (Node::Apply(Func::Builtin(f), _), [x, rest @ ..]) => match f {
            Elementwise::Relu
            | Elementwise::Step
            | Elementwise::Sign
            | Elementwise::Abs
            | Elementwise::LeakyRelu
            | Elementwise::Log
            | Elementwise::Sqrt => near_zero(x),
            Elementwise::Max | Elementwise::Min => match rest.first() {
                Some(y) => {
                    let (a, b) = (x.float_view(), y.float_view());
                    let n = a.len().max(b.len());
                    let at = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
                    (0..n).any(|i| (at(&a, i) - at(&b, i)).abs() <= MARGIN)
                }
                None => false,
            },
            _ => false,
        },
        (Node::Div(..), [_, d, ..]) => near_zero(d),
        (Node::Pow(_, e), [x, ..]) => num_traits::Signed::is_negative(e) && near_zero(x),
        // A window whose largest entries are all 0.0 (a relu's zeros, which
        // are exact zeros once no relu argument came near 0) is a true tie,
        // and the convention decides it as it does in exact arithmetic.
        (Node::Pool(PoolKind::Max, _, window), [x, ..]) => match super::conv::max_pool_gaps(x, *window) {
            Ok(gaps) => {
                let maxima = value.float_view();
                gaps.iter().zip(maxima.iter()).any(|(&g, &m)| g <= MARGIN && !(g == 0.0 && m == 0.0))
            }
            Err(_) => true,
        },
        _ => false,
    };
    if near {
        WATCH.with(|w| w.set(Some(true)));
    }
}

/// How [`solve_float`] computed its solution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Computed {
    /// In f64 from the given values on.
    Float,
    /// Exactly, as [`super::solve`] does: the model has values left open,
    /// the f64 pass came within [`MARGIN`] of a discontinuity, or it failed.
    Exact,
}

/// The solution of `model` (derived as `derivation`) with every value in
/// f64 (see the module's documentation), or the exact solution where f64
/// is not trusted ([`Computed`] says which). An error is the exact
/// solution's error; an interruption stops at once.
pub fn solve_float(model: &Model, derivation: &Derivation) -> Result<(Solution, Computed), Error> {
    if let Some(initial) = float_values(model) {
        struct Reset(Option<bool>);
        impl Drop for Reset {
            fn drop(&mut self) {
                WATCH.with(|w| w.set(self.0));
            }
        }
        let reset = Reset(WATCH.with(|w| w.replace(Some(false))));
        let solved = solve_from(model, derivation.clone(), initial, Vec::new(), true);
        let near = WATCH.with(Cell::get) == Some(true);
        drop(reset);
        match solved {
            Ok(solution) if !near => return Ok((solution, Computed::Float)),
            Err(e) if matches!(&e.kind, ErrorKind::Numeric { failure: Failure::Interrupted, .. }) => return Err(e),
            _ => {}
        }
    }
    solve_derived(model, derivation.clone()).map(|s| (s, Computed::Exact))
}

/// Each given value as the f64 nearest it; `None` when a value is left open.
fn float_values(model: &Model) -> Option<Vec<Option<Rc<Tensor>>>> {
    let mut out = Vec::with_capacity(model.tensors.len());
    for id in model.ids() {
        let t = model.tensor(id);
        out.push(match (&t.value, t.definition) {
            (Some(v), _) => {
                Some(Rc::new(Tensor::float(t.shape.dims().to_vec(), v.iter().map(|d| decimal_to_f64(&d)).collect())))
            }
            (None, None) => return None,
            (None, Some(_)) => None,
        });
    }
    Some(out)
}
