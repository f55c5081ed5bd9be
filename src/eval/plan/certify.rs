//! Deciding an entry near a kink exactly, without solving the whole model
//! exactly: the exact value of ONE entry of a slot, followed backwards
//! through the plan's instructions to the given decimals.
//!
//! Why it is needed: given values with few decimals make some sums exactly
//! 0 (a convolution plus its bias) or two window entries exactly equal, and
//! f64 then gives ±1e−17 or a tie broken by rounding. The watch (see
//! `watch`) cannot tell those from true values that small, and without
//! this the whole network is solved in BigRational. With it, the plan asks
//! the exact value of just the entries that came near, and goes on in f64
//! when every one of them is decided.
//!
//! Only operations that keep values exact are followed: the given values,
//! constants, `+ − ⊙` (each operand read by its reader), negation, matrix
//! products (one row · column sum), transposes, relu and a convolution's
//! forward part (one window's sum, by the kernel's own index rules). Any
//! other instruction (a transcendental, a division, a kernel of another
//! kind, a value computed after a training step) has no answer: `None`,
//! and the plan goes exact as before. The work is bounded by [`BUDGET`]
//! entries visited per question.
//!
//! Soundness of what the run does with an answer (see `run.rs`):
//! - The watch's premise stays the one of `watch::MARGIN`: an entry whose
//!   f64 value is farther than MARGIN from a kink has the sign (for a tie:
//!   the order) of its exact value. Entries within MARGIN are not trusted;
//!   those are the ones decided here.
//! - A decided entry's buffer value is replaced ("snapped") by [`snap`] of
//!   its exact value: 0 for an exact 0, and otherwise a nonzero f64 of the
//!   exact value's sign (refused when the value underflows to 0, as
//!   `1e−200 · 1e−200` does). Every later branch on that entry — relu,
//!   its derivative `step`, sign, abs — reads the buffer, so it takes the
//!   branch the exact computation takes, including at an exact 0, where
//!   the f64 built-ins follow the exact convention (relu′(0) = step(0) = 0).
//! - Equal exact values snap to equal f64s (one deterministic conversion),
//!   so a window whose candidates tie exactly ties in f64, and the
//!   first-maximum rule (row-major) picks the same entry in both; the
//!   run still checks the f64 choice against the exact one per window.

use num_rational::BigRational;
use num_traits::{Signed, Zero};

use super::{Op, Plan, Slot, Zip};
use crate::eval::number::{decimal_to_f64, rational_to_f64};
use crate::eval::tensor::Data;
use crate::model::{ConvPart, Elementwise, Graph, Model, Node, TensorId};

/// How many entries one question may visit before it gives up (a row ·
/// column of a product of 512 visits about 1 000; a 3×3 convolution over
/// 3 channels plus its bias about 30).
pub(super) const BUDGET: usize = 20_000;

/// How many entries all the questions of one run may visit together: past
/// it the run goes exact (a few milliseconds of exact arithmetic at most,
/// where the whole network's exact solve is the alternative).
pub(super) const RUN_BUDGET: usize = 200_000;

/// How deep a question may follow instructions back (a long chain gives up
/// rather than recursing without bound).
const DEPTH: usize = 64;

/// Where a slot's value comes from.
#[derive(Clone, Copy)]
pub(super) enum Origin {
    /// A constant, a call's parameter, or nothing followed.
    Other,
    /// The given value of a tensor: its index in the plan's inputs.
    Given(usize),
    /// The instruction at this index.
    Instr(usize),
}

/// Each slot's origin, from the plan's inputs and instructions.
pub(super) fn origins(slots: usize, inputs: &[(TensorId, Slot, Vec<f64>)], instrs: &[super::Instr]) -> Vec<Origin> {
    let mut out = vec![Origin::Other; slots];
    for (k, (_, s, _)) in inputs.iter().enumerate() {
        out[*s] = Origin::Given(k);
    }
    for (k, instr) in instrs.iter().enumerate() {
        out[instr.out] = Origin::Instr(k);
    }
    out
}

/// The f64 a decided entry is given: `rational_to_f64` of its exact value
/// (correctly rounded for ordinary fractions, within an ulp otherwise),
/// 0 exactly for 0; `None` when a nonzero value would come out 0 or
/// infinite, or with the other sign, so that no branch could read it
/// differently from the exact value.
pub(super) fn snap(r: &BigRational) -> Option<f64> {
    if r.is_zero() {
        return Some(0.0);
    }
    let f = rational_to_f64(r);
    (f != 0.0 && f.is_finite() && (f < 0.0) == r.is_negative()).then_some(f)
}

impl Plan {
    /// Sets a decided entry of slot `s` (its buffer value `x`) to the
    /// snapped exact value; false when it cannot be. A given value's buffer
    /// is not changed (a solution's given values are the decimals' nearest
    /// f64s): it must already be the snapped value (a given 1e−330 is 0.0
    /// in its buffer, and has no snap).
    pub(super) fn set_decided(&self, s: Slot, x: &mut f64, snapped: f64) -> bool {
        match self.origins[s] {
            Origin::Given(_) => *x == snapped,
            _ => {
                *x = snapped;
                true
            }
        }
    }

    /// The exact value of entry `i` of slot `s` as the given values make
    /// it, or `None` when it is not followed (see the module's doc) or
    /// costs more than [`BUDGET`] or what is left of the run's `left`.
    /// Only valid while every given value's buffer holds the given value
    /// (the first run, before any training); each given entry read is
    /// checked against its buffer's f64 (another model than the plan's
    /// gets no answer).
    pub(super) fn exact_entry(
        &self,
        model: &Model,
        graph: &Graph,
        s: Slot,
        i: usize,
        left: &mut usize,
    ) -> Option<BigRational> {
        let mut budget = BUDGET.min(*left);
        let value = self.entry(model, graph, s, i, &mut budget, 0);
        *left = left.saturating_sub(BUDGET.min(*left) - budget);
        value
    }

    fn entry(
        &self,
        model: &Model,
        graph: &Graph,
        s: Slot,
        i: usize,
        budget: &mut usize,
        depth: usize,
    ) -> Option<BigRational> {
        *budget = budget.checked_sub(1)?;
        if depth > DEPTH {
            return None;
        }
        if let Some(c) = &self.slots[s].constant {
            return match c.data() {
                Data::Exact(v) if v.len() == 1 => v.first().cloned(),
                Data::Exact(v) => v.get(i).cloned(),
                _ => None,
            };
        }
        let at = |s: Slot, i: usize, budget: &mut usize| self.entry(model, graph, s, i, budget, depth + 1);
        let instr = match self.origins[s] {
            Origin::Given(k) => {
                let (id, _, f64s) = &self.inputs[k];
                let d = model.tensor(*id).value.as_ref()?.get(i)?;
                return (decimal_to_f64(&d) == *f64s.get(i)?).then(|| d.to_rational());
            }
            Origin::Other => return None,
            Origin::Instr(k) => &self.instrs[k],
        };
        match instr.op {
            Op::Zip(kind, a, ra, b, rb) => {
                let x = at(a, ra.index(i), budget)?;
                // 0 · y is 0 whatever y is: not followed.
                if matches!(kind, Zip::Mul) && x.is_zero() {
                    return Some(x);
                }
                let y = at(b, rb.index(i), budget)?;
                Some(match kind {
                    Zip::Add => x + y,
                    Zip::Sub => x - y,
                    Zip::Mul => x * y,
                })
            }
            Op::Neg(a) => Some(-at(a, i, budget)?),
            Op::MatMul { a, a_strides, b, k, p, .. } => {
                let (row, col) = (i / p.max(1), i % p.max(1));
                let mut sum = BigRational::zero();
                for t in 0..k {
                    let x = at(a, row * a_strides.0 + t * a_strides.1, budget)?;
                    if !x.is_zero() {
                        sum += x * at(b, t * p + col, budget)?;
                    }
                }
                Some(sum)
            }
            Op::Transpose(a, m, n) => {
                let (j, r) = (i / m.max(1), i % m.max(1));
                at(a, r * n + j, budget)
            }
            Op::Unary(Elementwise::Relu, a, _) => {
                let x = at(a, i, budget)?;
                Some(if x.is_positive() { x } else { BigRational::zero() })
            }
            Op::Kernel(n, ref args) => match (graph.node(n), args.as_slice()) {
                (Node::Conv(ConvPart::Forward, _, _, c), &[x, k]) => {
                    let dims = |s: Slot| self.slots[s].dims.as_slice();
                    let taps = crate::eval::conv::forward_taps(dims(x), dims(k), *c, dims(s), i)?;
                    *budget = budget.checked_sub(taps.len())?;
                    let mut sum = BigRational::zero();
                    for (ki, xi) in taps {
                        let w = at(k, ki, budget)?;
                        if !w.is_zero() {
                            sum += w * at(x, xi, budget)?;
                        }
                    }
                    Some(sum)
                }
                _ => None,
            },
            _ => None,
        }
    }
}
