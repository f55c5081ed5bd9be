//! Watching an f64 evaluation for operands near a discontinuity (see
//! [`super::fast`]): a relu, step, sign, abs or leaky relu at 0, max/min at
//! a tie, a max-pool's tie, a division by (nearly) zero, log or sqrt at 0.
//! The evaluator calls [`observe`] while [`watching`]; [`watched`] runs an
//! evaluation under watch and says whether one came near.

use std::cell::Cell;

use super::tensor::Tensor;
use crate::model::{Elementwise, Func, Node, PoolKind, PoolPart};

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
        (Node::Pool(PoolKind::Max, PoolPart::Forward, _, window), [x, ..]) => {
            match super::conv::max_pool_gaps(x, *window) {
                Ok(gaps) => {
                    let maxima = value.float_view();
                    gaps.iter().zip(maxima.iter()).any(|(&g, &m)| g <= MARGIN && !(g == 0.0 && m == 0.0))
                }
                Err(_) => true,
            }
        }
        _ => false,
    };
    if near {
        WATCH.with(|w| w.set(Some(true)));
    }
}

/// Runs `f` watched: its result, and whether an operand came within
/// [`MARGIN`] of a discontinuity meanwhile.
pub(super) fn watched<T>(f: impl FnOnce() -> T) -> (T, bool) {
    struct Reset(Option<bool>);
    impl Drop for Reset {
        // Also on a panic: a later evaluation on this thread is not watched.
        fn drop(&mut self) {
            WATCH.with(|w| w.set(self.0));
        }
    }
    let reset = Reset(WATCH.with(|w| w.replace(Some(false))));
    let out = f();
    let near = WATCH.with(Cell::get) == Some(true);
    drop(reset);
    (out, near)
}
