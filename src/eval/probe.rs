//! What the evaluator observes for `nnderive vary`'s margins: as it computes
//! each operation, a [`Probe`] records how near the operation's arguments
//! and value come to a hazard, a place where the answer is not clear.
//! Which operations are hazards, and how far from one a value is, is
//! decided here, in [`hazard_of`] (an elementwise built-in's file declares
//! its own).

use super::conv;
use super::quantity::Quantity;
use super::tensor::Tensor;
use crate::model::ops::elementwise::Hazard as ElementwiseHazard;
use crate::model::{Axis, Elementwise, Func, Node, PoolKind, PoolPart};

/// A kind of place where the answer is not clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hazard {
    /// A function with a kink (no derivative) at 0 of this argument:
    /// relu, step, sign, abs, leaky_relu; `max` and `min` at a tie, where
    /// the argument is a − b.
    Kink { function: &'static str },
    /// Two equal largest entries in a max-pool window: which one receives
    /// the gradient is a convention.
    PoolTie,
    /// A probability (softmax or sigmoid) at 0 or 1 to the precision of the answer.
    Saturated { function: &'static str },
}

/// The nearest a computation came to one kind of hazard.
#[derive(Clone, Debug, PartialEq)]
pub struct Near {
    pub hazard: Hazard,
    /// What was being computed (a forward value, an error term, a gradient).
    pub quantity: Option<Quantity>,
    /// How far from the hazard: |argument| for a kink, the gap between the
    /// two largest entries for a pool, min(p, 1 − p) for a probability.
    pub distance: f64,
}

/// Collects, per hazard, the nearest approach (see [`Evaluator::probe`]).
#[derive(Clone, Debug, Default)]
pub struct Probe {
    nearest: Vec<Near>,
}

/// How far from a hazard an operation is, given its operands and value.
enum Measure {
    /// |first operand|.
    FirstOperand,
    /// |first − second operand|.
    Difference,
    /// min(p, 1 − p) over the value.
    Probability,
}

/// The hazard of an elementwise built-in, if it has one, as its file
/// (`model::ops::elementwise`) declares it.
fn hazard_of(f: Elementwise) -> Option<(Hazard, Measure)> {
    let function = f.name();
    Some(match f.op().hazard()? {
        ElementwiseHazard::Kink => (Hazard::Kink { function }, Measure::FirstOperand),
        ElementwiseHazard::Tie => (Hazard::Kink { function }, Measure::Difference),
        ElementwiseHazard::Saturates => (Hazard::Saturated { function }, Measure::Probability),
    })
}

impl Probe {
    /// The nearest approach to each hazard met, in the order [`Hazard`] sorts.
    pub fn nearest(&self) -> &[Near] {
        &self.nearest
    }

    fn record(&mut self, hazard: Hazard, quantity: Option<Quantity>, distance: f64) {
        if distance.is_nan() {
            return;
        }
        match self.nearest.iter_mut().find(|n| n.hazard == hazard) {
            Some(near) if distance < near.distance => *near = Near { hazard, quantity, distance },
            Some(_) => {}
            None => {
                self.nearest.push(Near { hazard, quantity, distance });
                self.nearest.sort_by_key(|n| n.hazard);
            }
        }
    }

    /// Called by the evaluator after it computes `node` from `args`.
    pub(crate) fn observe(&mut self, node: &Node, args: &[&Tensor], value: &Tensor, quantity: Option<Quantity>) {
        let smallest = |v: Vec<f64>| v.into_iter().fold(f64::INFINITY, f64::min);
        match node {
            Node::Apply(Func::Builtin(f), _) => {
                let Some((hazard, measure)) = hazard_of(*f) else { return };
                let distance = match (measure, args) {
                    (Measure::FirstOperand, [x, ..]) => smallest(x.to_f64_vec().into_iter().map(f64::abs).collect()),
                    (Measure::Difference, [a, b, ..]) => {
                        let (a, b) = (a.to_f64_vec(), b.to_f64_vec());
                        // A scalar operand is spread over the other's entries.
                        let n = a.len().max(b.len());
                        let at = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
                        smallest((0..n).map(|i| (at(&a, i) - at(&b, i)).abs()).collect())
                    }
                    (Measure::Probability, _) => probability_margin(value),
                    _ => return,
                };
                self.record(hazard, quantity, distance);
            }
            Node::Softmax(..) => {
                self.record(Hazard::Saturated { function: "softmax" }, quantity, probability_margin(value))
            }
            // Masked weights are 0 by the mask, and a lane that keeps one
            // entry gives it 1: only the weights shared among kept entries
            // can saturate.
            Node::MaskedSoftmax(_, _, axis) => {
                let (Some(mask), [m, n]) = (args.get(1), value.dims()) else { return };
                let (p, kept) = (value.to_f64_vec(), mask.to_f64_vec());
                let lane = |i: usize| if *axis == Axis::DOWN { i % n } else { i / n };
                let mut count = vec![0; if *axis == Axis::DOWN { *n } else { *m }];
                (0..p.len()).filter(|&i| kept[i] == 1.0).for_each(|i| count[lane(i)] += 1);
                let shared = (0..p.len()).filter(|&i| kept[i] == 1.0 && count[lane(i)] > 1);
                let margin = smallest(shared.map(|i| p[i].min(1.0 - p[i])).collect());
                if margin.is_finite() {
                    self.record(Hazard::Saturated { function: "softmax" }, quantity, margin)
                }
            }
            Node::Pool(PoolKind::Max, PoolPart::Forward, _, window) => {
                if let Some(a) = args.first() {
                    if let Ok(gaps) = conv::max_pool_gaps(a, *window) {
                        self.record(Hazard::PoolTie, quantity, smallest(gaps));
                    }
                }
            }
            _ => {}
        }
    }
}

/// min(p, 1 − p) over the entries of a probability.
fn probability_margin(p: &Tensor) -> f64 {
    p.to_f64_vec().into_iter().map(|p| p.min(1.0 - p)).fold(f64::INFINITY, f64::min)
}
