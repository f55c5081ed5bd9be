//! Watching an f64 evaluation for operands near a discontinuity (see
//! [`super::fast`]): a relu, step, sign, abs or leaky relu at 0, max/min at
//! a tie, a max-pool's tie, a division by (nearly) zero, log or sqrt at 0.
//! The evaluator calls [`observe`] while [`watching`]; [`watched`] runs an
//! evaluation under watch and says whether one came near.

use std::cell::Cell;

use super::tensor::Tensor;
use crate::model::{Elementwise, Func, Graph, Model, Node, NodeId, PoolKind, PoolPart};

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

/// Called by the evaluator after computing node `n` of `graph` (`value`)
/// from `args` while [`watching`]: notes an operand near a discontinuity.
pub(super) fn observe(model: &Model, graph: &Graph, n: NodeId, args: &[&Tensor], value: &Tensor) {
    let node = graph.node(n);
    let near_zero = |t: &Tensor| t.float_view().iter().any(|x| x.abs() <= MARGIN);
    let near = match (node, args) {
        (Node::Apply(Func::Builtin(f), _), [x, rest @ ..]) => match f {
            f if watched_at_zero(*f) => near_zero(x),
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
        // A window whose two largest entries come within MARGIN of each
        // other may have another first maximum in exact arithmetic, and the
        // gradient would flow elsewhere — except a window of certain zeros
        // (see `zeros_are_exact`): its entries are all 0 in exact arithmetic
        // too, so both computations give the window's first entry the
        // gradient (the tie-break rule, `conv::argmax`).
        (Node::Pool(PoolKind::Max, PoolPart::Forward, operands, window), [x, ..]) => {
            let exact_zeros = operands.first().is_some_and(|&a| zeros_are_exact(model, graph, a));
            match super::conv::max_pool_gaps(x, *window) {
                Ok(gaps) => {
                    let maxima = value.float_view();
                    gaps.iter().zip(maxima.iter()).any(|(&g, &m)| g <= MARGIN && !(exact_zeros && g == 0.0 && m == 0.0))
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

/// Whether the one-argument built-in `f` is watched at 0: its value or its
/// slope jumps there (relu, step, sign, abs, leaky relu), or it blows up
/// there (log, sqrt).
pub(super) fn watched_at_zero(f: Elementwise) -> bool {
    matches!(
        f,
        Elementwise::Relu
            | Elementwise::Step
            | Elementwise::Sign
            | Elementwise::Abs
            | Elementwise::LeakyRelu
            | Elementwise::Log
            | Elementwise::Sqrt
    )
}

/// Whether `f` is watched at 0 and takes its branch at an entry by the
/// entry's sign alone (0 included), so that setting the entry to its exact
/// value's f64 settles it (see `plan::certify`); log and sqrt blow up at 0
/// instead.
pub(super) fn settled_by_sign(f: Elementwise) -> bool {
    watched_at_zero(f) && !matches!(f, Elementwise::Log | Elementwise::Sqrt)
}

/// Whether every 0.0 entry of node `n`'s f64 value is 0 in exact arithmetic
/// too, in an evaluation the watch has not stopped.
///
/// True of `relu(x)` and of `max(x, 0)` / `max(0, x)` (through the names of
/// tensors defined as one). Why that is sound: the watch stops the f64
/// solve when an argument of relu comes within MARGIN of 0 (of max, when
/// its two arguments come within MARGIN of each other), so where the solve
/// goes on, relu's f64 output is 0 only where its argument was below
/// −MARGIN — or, in the compiled plan, where the argument was decided
/// exactly and set to its exact value's f64, of the same sign (an exact
/// value ≤ 0: see `plan::certify`). The watch's premise — f64 rounding
/// moves a value by far less than MARGIN — puts the exact argument below 0
/// as well, and relu of it is an exact 0. Equal f64 zeros there are then equal exact values; equal
/// f64s of any other provenance may be different rationals (a given
/// 1e−330 rounds to 0.0; so does 1e−200 · 1e−200), and are not trusted.
pub(super) fn zeros_are_exact(model: &Model, graph: &Graph, n: NodeId) -> bool {
    let mut n = n;
    // A tensor's name stands for its definition; each step goes to an
    // earlier equation, and the count bounds a malformed chain.
    for _ in 0..=model.tensors.len() {
        match graph.node(n) {
            Node::Tensor(t) => match model.tensor(*t).definition {
                Some(def) => n = def,
                None => return false,
            },
            Node::Apply(Func::Builtin(Elementwise::Relu), args) => return args.len() == 1,
            Node::Apply(Func::Builtin(Elementwise::Max), args) => {
                let zero = |a: &NodeId| matches!(graph.node(*a), Node::Const(c) if num_traits::Zero::is_zero(c));
                return args.len() == 2 && args.iter().any(zero);
            }
            _ => return false,
        }
    }
    false
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
