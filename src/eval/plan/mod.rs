//! The f64 evaluation of a model as a compiled plan: the model and its
//! derivation are read once into a flat list of instructions over f64
//! buffers (one slot per value the evaluator would compute, its shape fixed
//! at compile time), which then runs as often as asked without a memo, a
//! map or a tensor allocated per node.
//!
//! The plan computes what [`super::fast::solve_float`] computes, with the
//! same kernels in the same order, so its values are the f64 path's to the
//! last bit where the operation is the same (sums in the same order, the
//! same GEMM): elementwise `+ − ⊙` (broadcast as the shape rule says),
//! negation, the one-argument built-ins, the stable complements `1 − σ(u)`
//! and `1 − tanh(u)²`, matrix products (`aᵀ @ b` read in place), transposes
//! and sums run on the slots directly; every other operation (softmax, the
//! losses, division, powers, convolution, pooling, slices, …) runs the
//! evaluator's own kernel on tensors made from its operands' slots
//! ([`Op::Kernel`]), so nothing is computed two ways. Constants are folded
//! exactly at compile time, as the evaluator computes them.
//!
//! The kink watch of the f64 path holds: a watched built-in whose operand
//! comes within [`super::watch::MARGIN`] of its kink stops the plan, and the
//! evaluator's kernels report to the watch themselves; the caller then
//! solves exactly, as [`super::fast::solve_float`] does — unless, in the
//! first run, every entry that came near (of relu, step, sign, abs or leaky
//! relu; of a max-pool's tied window) has an exact value the given values
//! decide through exact operations alone (`certify`): those entries are set
//! to that value's f64 and the run goes on in f64.
//!
//! Not planned (the caller takes the node-by-node evaluator): a model with
//! a value left open, or with custom functions (`fn`).

mod certify;
mod compile;
mod run;

use std::cell::RefCell;
use std::collections::HashSet;

use super::evaluate::{Note, Quantity};
// How an operand of an elementwise operation is read to fill the result: the
// reader of `Tensor`'s binary operations, resolved once at compile time.
pub(super) use super::tensor::Reader;
use super::tensor::Tensor;
use crate::model::{Complement, Elementwise, NodeId, SymbolId, TensorId};

pub use run::Outcome;

/// The index of a value's buffer.
type Slot = usize;

/// A compiled f64 evaluation of one model and its derivation (see the
/// module's documentation).
pub struct Plan {
    slots: Vec<SlotInfo>,
    instrs: Vec<Instr>,
    /// The instructions before this one compute the forward values.
    forward_end: usize,
    /// The given values: tensor, slot, entries in f64.
    inputs: Vec<(TensorId, Slot, Vec<f64>)>,
    /// The slot of each tensor's value, by tensor.
    values: Vec<Slot>,
    symbols: Vec<(SymbolId, Slot)>,
    /// Parallel to the derivation's gradients.
    gradients: Vec<Slot>,
    /// The notes the evaluator would make that do not depend on values.
    notes: Vec<Note>,
    /// A constant folded at compile time came near a kink: every run is
    /// near one, and the solution is the exact one.
    near: bool,
    /// Where each slot's value comes from, for deciding an entry near a
    /// kink exactly (see `certify`).
    origins: Vec<certify::Origin>,
    /// The buffers, kept from one run to the next.
    buffers: RefCell<Buffers>,
}

/// The values of a run: every slot's entries in f64, and the exact value
/// of a slot whose kernel gave one (a one-hot of labels).
struct Buffers {
    f64s: Vec<Vec<f64>>,
    held: Vec<Option<Tensor>>,
    /// Entries near a kink may be decided exactly (see `certify`): true
    /// only while every given value's buffer holds the given value.
    certify: bool,
    /// The entries (slot, index) decided exactly in this run: their
    /// buffers hold the snapped exact value, and later watches skip them.
    certain: HashSet<(Slot, usize)>,
    /// What is left of this run's budget of entries visited deciding
    /// (`certify::RUN_BUDGET` at its start).
    left: usize,
}

impl Plan {
    /// The plan of `model` derived as `derivation`, or `None` when it has
    /// a value left open or custom functions.
    pub fn compile(model: &crate::model::Model, derivation: &crate::derive::Derivation) -> Option<Plan> {
        compile::compile(model, derivation).ok()
    }

    /// Why `model` has no plan (`None` when it has one), for tests and
    /// benchmarks: "a value is left open", "an exact scalar spread over a
    /// shape", ….
    pub fn unplanned_because(
        model: &crate::model::Model,
        derivation: &crate::derive::Derivation,
    ) -> Option<&'static str> {
        compile::compile(model, derivation).err().map(|e| e.0)
    }

    /// How many instructions the plan runs, and how many of them call the
    /// evaluator's kernel on tensors (for benchmarks).
    pub fn size(&self) -> (usize, usize) {
        (self.instrs.len(), self.instrs.iter().filter(|i| matches!(i.op, Op::Kernel(..))).count())
    }
}

/// One value's buffer: its dims, and its exact value when it is a constant.
struct SlotInfo {
    dims: Vec<usize>,
    constant: Option<Tensor>,
    /// Computed by the evaluator's kernel, whose value may be exact.
    maybe_exact: bool,
}

/// One instruction: an operation writing the slot `out`, for `quantity`
/// (the value being computed when the evaluator first meets it).
struct Instr {
    op: Op,
    out: Slot,
    quantity: Option<Quantity>,
}

#[derive(Clone, Copy)]
enum Zip {
    Add,
    Sub,
    Mul,
}

enum Op {
    /// An elementwise binary operation, each operand read as its reader says.
    Zip(Zip, Slot, Reader, Slot, Reader),
    Neg(Slot),
    /// A one-argument built-in, watched at 0 when the flag says so.
    Unary(Elementwise, Slot, bool),
    /// `1 − σ(u)` or `1 − tanh(u)²` from u.
    Complement(Slot, Complement),
    /// `[m, k] @ [k, p]`, the left operand read with the strides given.
    MatMul {
        a: Slot,
        a_strides: (usize, usize),
        b: Slot,
        m: usize,
        k: usize,
        p: usize,
    },
    /// The transpose of an m × n matrix (a vector is n × 1).
    Transpose(Slot, usize, usize),
    /// The sum of every entry.
    Sum(Slot),
    /// A scalar spread over the output's shape; `0 + x` when the flag is set.
    Fill(Slot, bool),
    /// The evaluator's kernel for the node, on its operands' values.
    Kernel(NodeId, Vec<Slot>),
}
