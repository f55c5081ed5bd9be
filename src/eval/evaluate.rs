//! Computes the value of any formula in a derivation's graph.
//!
//! Evaluation is iterative: an explicit stack of pending nodes, and a stack
//! of frames for calls of custom functions, so neither a chain of 100 000
//! equations folded into one gradient nor 10 000 nested `fn`s can overflow
//! the thread's stack. Each call of a custom function evaluates its body once
//! over whole tensors, sharing repeated sub-expressions (`f(t) + f(t) * t`
//! computes `f(t)` once); calls are counted against [`MAX_CALLS`], because a
//! body such as `f(f(t))` doubles the work at every level of nesting.

use std::collections::HashMap;
use std::rc::Rc;

use num_rational::BigRational;

use super::batch;
use super::conv;
use super::error::Failure;
use super::gather;
use super::map;
use super::probe::Probe;
pub use super::quantity::Quantity;
use super::slice;
use super::stable;
use super::tensor::{NumericError, NumericErrorKind, Tensor, EXACT_ENTRIES_CAP};
use crate::derive::Derivation;
use crate::model::{Axis, Elementwise, Func, Graph, LossFn, Model, Node, NodeId, Reduction, SymbolId, TensorId};

/// The most calls of custom functions one value may need. Legitimate files
/// make a few per use of a function (bodies are evaluated over whole
/// tensors); only nesting such as `fn g(t) = f(f(t))`, repeated, gets near.
pub const MAX_CALLS: u64 = 1_000_000;

/// Something worth telling the reader about how a value was computed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Note {
    /// step or sign was evaluated exactly at 0 (a kink of relu or abs), so
    /// the stated convention decided the value.
    Kink { function: Elementwise, quantity: Quantity, entries: Vec<usize> },
    /// An exact value grew past the size cap and continued as f64.
    Capped { quantity: Quantity },
    /// Declarations the file leaves open (in file order): the values that
    /// depend on them are expressions in their entries.
    Open { names: Vec<TensorId> },
    /// Values in the open entries grew past the size limit of expressions.
    TooLarge { quantities: Vec<Quantity> },
    /// The square root in an RMSprop or Adam update of exact values (of the
    /// quantity `root`: Adam's v̂, whose root the rule writes √v̂) was not a
    /// fraction, first at training step `step`, so the parameters continued
    /// in f64 from there.
    InexactRoot { optimizer: &'static str, root: crate::model::optimizer::Quantity, step: u32 },
    /// A value of more than [`EXACT_ENTRIES_CAP`] entries, computed in f64.
    Large { quantity: Quantity },
    /// A pooling in the definition of `quantity` whose windows reach no
    /// further than they fit (PyTorch's floor rule): the last `rows` rows
    /// and `cols` columns of its `extent` (height, width) input are in no
    /// window.
    Unreached { quantity: Quantity, pool: &'static str, rows: usize, cols: usize, extent: [usize; 2] },
}

/// Evaluates formulas of one graph with the current tensor values.
pub struct Evaluator<'a> {
    pub model: &'a Model,
    pub graph: &'a Graph,
    pub derivation: Option<&'a Derivation>,
    /// Values by [`TensorId`](crate::model::TensorId), shared with the
    /// memo rather than copied into it.
    pub tensors: Vec<Option<Rc<Tensor>>>,
    /// Values of defined symbols by [`SymbolId`].
    pub symbols: HashMap<SymbolId, Tensor>,
    /// Values of nodes outside function bodies, shared by every formula.
    memo: HashMap<NodeId, Rc<Tensor>>,
    /// Results of calls of custom functions (and their derivatives) by the
    /// function and the identity of its arguments: in a chain such as
    /// `f_i(t) = sin(f_{i-1}(t))` the derivative calls `f_{i-1}(t)` again
    /// with the very same argument, and finds it here. The stored arguments
    /// keep the pointers alive, so an address is never reused.
    calls: HashMap<CallKey, (Vec<Rc<Tensor>>, Rc<Tensor>)>,
    /// What is being computed, for notes (none while a caller evaluates
    /// something of its own, whose notes it does not keep).
    pub quantity: Option<Quantity>,
    pub notes: Vec<Note>,
    /// When set, told of every operation computed, to find how near the
    /// values come to a kink, a tie or a saturated probability (`eval::margins`).
    pub probe: Option<Probe>,
    /// Whether a cross-entropy of `p = softmax(z)` is computed from the
    /// logits z (the default, finite where p rounds to 0) rather than from p
    /// itself; grading turns it off, to recompute a loss from a student's p.
    pub loss_from_logits: bool,
}

/// One body being evaluated: the formula itself (no parameters, values kept
/// in the evaluator's memo) or a call of a custom function.
struct Frame {
    /// The call's arguments, bound to `Node::Param(i)`.
    params: Vec<Rc<Tensor>>,
    /// Values computed in this frame.
    memo: HashMap<NodeId, Rc<Tensor>>,
    /// Nodes still to visit: `(node, children done)`.
    pending: Vec<(NodeId, bool)>,
    root: NodeId,
    /// For a call: the calling node and the function called.
    call: Option<(NodeId, Func)>,
}

impl Frame {
    fn new(
        root: NodeId,
        params: Vec<Rc<Tensor>>,
        memo: HashMap<NodeId, Rc<Tensor>>,
        call: Option<(NodeId, Func)>,
    ) -> Frame {
        Frame { params, memo, pending: vec![(root, false)], root, call }
    }
}

/// A call in [`Evaluator::calls`]: the function and its arguments' addresses.
type CallKey = (Func, Vec<usize>);

/// The key of a call in [`Evaluator::calls`].
fn call_key(f: Func, args: &[Rc<Tensor>]) -> CallKey {
    (f, args.iter().map(|a| Rc::as_ptr(a) as usize).collect())
}

impl<'a> Evaluator<'a> {
    pub fn new(
        model: &'a Model,
        graph: &'a Graph,
        derivation: Option<&'a Derivation>,
        tensors: Vec<Option<Rc<Tensor>>>,
    ) -> Self {
        Evaluator {
            model,
            graph,
            derivation,
            tensors,
            symbols: HashMap::new(),
            memo: HashMap::new(),
            calls: HashMap::new(),
            quantity: None,
            notes: Vec::new(),
            probe: None,
            loss_from_logits: true,
        }
    }

    /// Forgets cached node values (after parameters change).
    pub fn clear(&mut self) {
        self.memo.clear();
        self.calls.clear();
        self.symbols.clear();
    }

    /// The value of `node`.
    pub fn eval(&mut self, node: NodeId) -> Result<Tensor, Failure> {
        self.eval_shared(node).map(|v| Tensor::clone(&v))
    }

    /// The value of `node`, dropped from the evaluator's cache so that it
    /// moves out without a copy (a gradient of 16 million entries is held
    /// once, not twice); computed again if it is asked for later.
    pub fn eval_owned(&mut self, node: NodeId) -> Result<Tensor, Failure> {
        let value = self.eval_shared(node)?;
        self.memo.remove(&node);
        Ok(Rc::try_unwrap(value).unwrap_or_else(|shared| Tensor::clone(&shared)))
    }

    /// The value of `node`, shared with the evaluator's cache (no copy).
    pub fn eval_shared(&mut self, node: NodeId) -> Result<Rc<Tensor>, Failure> {
        if let Some(v) = self.memo.get(&node) {
            return Ok(v.clone());
        }
        let memo = std::mem::take(&mut self.memo);
        let mut frames = vec![Frame::new(node, Vec::new(), memo, None)];
        let result = self.run(&mut frames);
        // The outermost frame's values stay cached, also after an error.
        if let Some(first) = frames.into_iter().next() {
            self.memo = first.memo;
        }
        result
    }

    /// Runs the frames until the outermost one has its value.
    fn run(&mut self, frames: &mut Vec<Frame>) -> Result<Rc<Tensor>, Failure> {
        let g = self.graph;
        let mut calls: u64 = 0;
        loop {
            let frame = frames.last_mut().ok_or(Failure::Internal("no frame to evaluate"))?;
            let Some((n, expanded)) = frame.pending.pop() else {
                // This frame is done: hand its value to the caller.
                let done = frames.pop().ok_or(Failure::Internal("no frame to finish"))?;
                let value = done.memo.get(&done.root).cloned().ok_or(Failure::Internal("a body has no value"))?;
                let Some(caller) = frames.last_mut() else {
                    frames.push(done);
                    return Ok(value);
                };
                let (call, f) = done.call.ok_or(Failure::Internal("a call without a caller"))?;
                // A derivative that is a constant still has its argument's shape.
                let value = match (f, done.params.first()) {
                    (Func::Derivative { .. }, Some(like)) => broadcast_to(&value, like)?,
                    _ => value,
                };
                self.calls.insert(call_key(f, &done.params), (done.params, value.clone()));
                caller.memo.insert(call, value);
                continue;
            };
            if frame.memo.contains_key(&n) {
                continue;
            }
            let children = self.operands(n);
            if !expanded {
                frame.pending.push((n, true));
                for c in children.into_iter().rev() {
                    if !frame.memo.contains_key(&c) {
                        frame.pending.push((c, false));
                    }
                }
                continue;
            }
            // A caller that can be interrupted is asked now and then.
            if super::cancel::poll() {
                return Err(Failure::Interrupted);
            }
            let args: Vec<&Rc<Tensor>> = children
                .iter()
                .map(|c| frame.memo.get(c).ok_or(Failure::Internal("an operand has no value")))
                .collect::<Result<_, _>>()?;
            // A call opens a frame for the function's body, unless the same
            // function was called with the same arguments before.
            if let Node::Apply(f @ (Func::Custom(_) | Func::Derivative { .. }), _) = g.node(n) {
                let f = *f;
                let args = broadcast_all(&args)?;
                if let Some((_, value)) = self.calls.get(&call_key(f, &args)) {
                    frame.memo.insert(n, value.clone());
                    continue;
                }
                calls += 1;
                if calls > MAX_CALLS {
                    return Err(Failure::TooManyCalls { limit: MAX_CALLS });
                }
                let body = match f {
                    Func::Custom(id) => self.model.function(id).body,
                    Func::Derivative { func, wrt } => self
                        .derivation
                        .and_then(|d| d.fn_derivative(func, wrt))
                        .map(|d| d.body)
                        .ok_or(Failure::Internal("the derivative of a function is not known"))?,
                    Func::Builtin(_) => return Err(Failure::Internal("a built-in was called as a custom function")),
                };
                frames.push(Frame::new(body, args, HashMap::new(), Some((n, f))));
                continue;
            }
            // A tensor's value is shared, not copied.
            if let Node::Tensor(t) = *g.node(n) {
                let value = self.tensors[t.0 as usize].clone().ok_or(Failure::Internal("a tensor has no value"))?;
                frame.memo.insert(n, value);
                continue;
            }
            // A parameter is its argument itself, so that calls it is passed
            // on to are recognised in `calls`.
            if let Node::Param(i) = *g.node(n) {
                let value = frame.params.get(i as usize).ok_or(Failure::Internal("a parameter has no value"))?;
                frame.memo.insert(n, value.clone());
                continue;
            }
            let args: Vec<&Tensor> = args.into_iter().map(|a| &**a).collect();
            let value = self.compute(n, &args)?;
            frame.memo.insert(n, Rc::new(value));
        }
    }

    /// The nodes whose values `n` is computed from: its children, for a
    /// loss of a softmax or sigmoid also the logits (see [`Self::logits`]),
    /// for a complement `1 − σ(u)` or `1 − tanh(u)²` its u, and for `a ⊘ s²`
    /// a and s instead of the square (see [`stable`]).
    pub(super) fn operands(&self, n: NodeId) -> Vec<NodeId> {
        // `aᵀ @ b` reads a in place (see `Tensor::transpose_matmul`).
        if let Some((a, b)) = self.transposed_left(n) {
            return vec![a, b];
        }
        if let Some((a, s)) = stable::over_square(self.graph, n) {
            return vec![a, s];
        }
        let mut children = self.graph.node(n).children();
        if let (&Node::Loss(kind, _, p), true) = (self.graph.node(n), self.loss_from_logits) {
            if let Some((z, _)) = self.logits(kind, p) {
                children.push(z);
            }
        }
        if let Some(form) = self.model.complement(self.graph, n) {
            children.push(form.argument());
        }
        children
    }

    /// `(a, b)` when `n` is `aᵀ @ b`.
    fn transposed_left(&self, n: NodeId) -> Option<(NodeId, NodeId)> {
        let Node::MatMul(t, b) = *self.graph.node(n) else { return None };
        let Node::Transpose(a) = *self.graph.node(t) else { return None };
        Some((a, b))
    }

    /// The logits `z` of a loss's prediction `p`: for cross-entropy, when
    /// `p` is `softmax(z)` (or a tensor defined as one), with the softmax's
    /// axis: −Σ y ⊙ log p is computed as −Σ y ⊙ log_softmax(z), which stays
    /// finite where a probability rounds to 0 in f64 (`softmax([0, 1000])`);
    /// for bce, when `p` is `σ(z)`: see [`stable::bce_of_logits`].
    fn logits(&self, kind: LossFn, p: NodeId) -> Option<(NodeId, Option<Axis>)> {
        match kind {
            LossFn::CrossEntropy(_) => {
                let def = match *self.graph.node(p) {
                    Node::Tensor(t) => self.model.tensor(t).definition?,
                    _ => p,
                };
                match *self.graph.node(def) {
                    Node::Softmax(z, axis) => Some((z, Some(axis))),
                    _ => None,
                }
            }
            LossFn::Bce => self.model.sigmoid_argument(self.graph, p).map(|z| (z, None)),
            LossFn::Mse => None,
        }
    }

    /// Computes node `n` from the values of its operands (not a call of a
    /// custom function: those open a frame).
    pub(super) fn compute(&mut self, n: NodeId, args: &[&Tensor]) -> Result<Tensor, Failure> {
        // A result too large to hold exactly is computed from f64 operands.
        let floats: Vec<Tensor>;
        let float_args: Vec<&Tensor>;
        let args = if self.graph.shape(n).len() > EXACT_ENTRIES_CAP && args.iter().any(|a| a.is_exact()) {
            if let Some(quantity) = self.quantity {
                self.notes.push(Note::Large { quantity });
            }
            floats = args.iter().map(|a| a.to_float()).collect();
            float_args = floats.iter().collect();
            &float_args[..]
        } else {
            args
        };
        let arg = |i: usize| args.get(i).copied().ok_or(Failure::Internal("an operand is missing"));
        if let Some(form) = self.model.complement(self.graph, n) {
            // The argument comes after the children.
            if let Some(value) = args.last().and_then(|u| stable::complement_value(form, u)) {
                return Ok(value?);
            }
        }
        let value = match self.graph.node(n) {
            Node::Tensor(_) => return Err(Failure::Internal("a tensor is bound by the evaluator")),
            Node::Param(_) => return Err(Failure::Internal("a parameter is bound by its frame")),
            Node::Symbol(s) => self
                .symbols
                .get(s)
                .cloned()
                .ok_or(Failure::Internal("a derived quantity was used before it was computed"))?,
            Node::Const(c) => Tensor::scalar_exact(c.clone()),
            Node::Ones(shape) => Tensor::exact(shape.dims().to_vec(), vec![num_traits::One::one(); shape.len()]),
            Node::Neg(_) => arg(0)?.neg(),
            Node::Add(..) => arg(0)?.add(arg(1)?)?,
            Node::Sub(..) => arg(0)?.sub(arg(1)?)?,
            Node::Mul(..) => arg(0)?.mul(arg(1)?)?,
            // a ⊘ s² from a and s: see `operands`.
            Node::Div(..) if stable::over_square(self.graph, n).is_some() => arg(0)?.div(arg(1)?)?.div(arg(1)?)?,
            Node::Div(a, _) if stable::is_weight(self.model, self.graph, *a) => stable::weighted_div(arg(0)?, arg(1)?)?,
            Node::Div(..) => arg(0)?.div(arg(1)?)?,
            Node::MatMul(..) if self.transposed_left(n).is_some() => arg(0)?.transpose_matmul(arg(1)?)?,
            Node::MatMul(..) => arg(0)?.matmul(arg(1)?)?,
            Node::Pow(_, x) => arg(0)?.pow(x)?,
            Node::Transpose(_) => arg(0)?.transpose()?,
            Node::Apply(Func::Builtin(b), _) => {
                let x = arg(0)?;
                if matches!(b, Elementwise::Step | Elementwise::Sign) {
                    let zeros = x.zero_entries();
                    if !zeros.is_empty() {
                        if let Some(quantity) = self.quantity {
                            self.notes.push(Note::Kink { function: *b, quantity, entries: zeros });
                        }
                    }
                }
                match args.get(1) {
                    Some(y) => x.map2(*b, y)?,
                    None => x.map(*b)?,
                }
            }
            Node::Apply(..) => return Err(Failure::Internal("a call was not evaluated as a call")),
            Node::Reduce(Reduction::Sum, _) => arg(0)?.sum()?,
            Node::Reduce(Reduction::Mean, _) => arg(0)?.mean()?,
            Node::Softmax(_, axis) => batch::softmax(arg(0)?, *axis)?,
            Node::LogSoftmax(_, axis) => batch::log_softmax(arg(0)?, *axis)?,
            Node::MaskedSoftmax(_, _, axis) => batch::masked_softmax(arg(0)?, arg(1)?, *axis)?,
            Node::Diag(_) => arg(0)?.diag()?,
            Node::Loss(kind, _, p) => {
                let logits = self.logits(*kind, *p).map(|(_, axis)| axis);
                loss(*kind, arg(0)?, arg(1)?, args.get(2).copied().zip(logits))?
            }
            Node::Conv(part, _, _, c) => map::conv(*part, arg(0)?, arg(1)?, *c, self.graph.shape(n).dims())?,
            Node::Pool(kind, part, _, w) => map::pool(*kind, *part, args, *w, self.graph.shape(n).dims())?,
            Node::Flatten(_) | Node::Reshape(..) => conv::reshape(arg(0)?, self.graph.shape(n).dims())?,
            Node::SumSpatial(_, axis) => conv::sum_spatial(arg(0)?, *axis)?,
            Node::SumAxis(_, axis) => batch::sum_axis(arg(0)?, *axis)?,
            Node::OneHot(_, classes, axis) => batch::one_hot(arg(0)?, *classes, *axis, self.graph.shape(n).dims())?,
            Node::Slice(_, ranges) => slice::slice(arg(0)?, ranges)?,
            Node::Unslice(_, ranges, source) => slice::unslice(arg(0)?, ranges, source.dims())?,
            Node::Gather(..) => gather::gather(arg(0)?, arg(1)?, self.graph.shape(n).dims())?,
            Node::ScatterAdd(_, _, rows) => gather::scatter_add(arg(0)?, arg(1)?, *rows)?,
        };
        if let Some(probe) = &mut self.probe {
            probe.observe(self.graph.node(n), args, &value, self.quantity);
        }
        if super::watch::watching() {
            super::watch::observe(self.model, self.graph, n, args, &value);
        }
        Ok(value)
    }
}

/// Makes every argument of a function call the same shape (a scalar
/// argument is spread over the shape of the others).
fn broadcast_all(args: &[&Rc<Tensor>]) -> Result<Vec<Rc<Tensor>>, Failure> {
    let Some(largest) = args.iter().max_by_key(|a| a.len()) else {
        return Ok(Vec::new());
    };
    args.iter().map(|a| broadcast_to(a, largest)).collect()
}

/// `value` spread to the shape of `like` when it is a scalar (shared, not
/// copied, when it already has the shape).
pub fn broadcast_to(value: &Rc<Tensor>, like: &Tensor) -> Result<Rc<Tensor>, Failure> {
    if value.dims().is_empty() && !like.dims().is_empty() {
        Ok(Rc::new(like.zeros_like().add(value)?))
    } else {
        Ok(value.clone())
    }
}

/// The built-in losses, from their definitions. `logits`, when given, are
/// the `z` of `p = softmax(z)` with the softmax's axis, or of `p = σ(z)`
/// (see [`Evaluator::logits`]). A term whose weight (an entry of y or of
/// 1 − y) is exactly 0 is 0, even where p is 0 (see [`stable::xlogy`]).
fn loss(kind: LossFn, y: &Tensor, p: &Tensor, logits: Option<(&Tensor, Option<Axis>)>) -> Result<Tensor, NumericError> {
    let one = Tensor::scalar_exact(BigRational::from_integer(1.into()));
    match kind {
        LossFn::CrossEntropy(classes) => {
            target_in_range(y, false)?;
            let y_log_p = match logits {
                Some((z, Some(axis))) => y.mul(&batch::log_softmax(z, axis)?)?,
                _ => stable::xlogy(y, p)?,
            };
            let total = y_log_p.sum()?.neg();
            match classes {
                // A batch: the mean over its examples.
                Some(axis) => {
                    let examples = crate::model::Shape(p.dims().to_vec()).axis_len(axis.other());
                    total.div(&Tensor::scalar_exact(BigRational::from_integer(examples.into())))
                }
                None => Ok(total),
            }
        }
        LossFn::Mse => p.sub(y)?.pow(&BigRational::from_integer(2.into()))?.mean(),
        LossFn::Bce => {
            target_in_range(y, true)?;
            if let Some(loss) = logits.and_then(|(z, _)| stable::bce_of_logits(y, z)) {
                return loss;
            }
            let a = stable::xlogy(y, p)?;
            let b = stable::xlogy(&one.sub(y)?, &one.sub(p)?)?;
            Ok(a.add(&b)?.mean()?.neg())
        }
    }
}

/// A target of cross-entropy must be ≥ 0 (and of bce also ≤ 1): it is a
/// one-hot or probability vector, and the first argument of the loss.
fn target_in_range(y: &Tensor, at_most_one: bool) -> Result<(), NumericError> {
    for (i, v) in y.to_f64_vec().into_iter().enumerate() {
        if v < 0.0 || (at_most_one && v > 1.0) {
            let kind = NumericErrorKind::TargetOutOfRange { value: v, at_most_one };
            return Err(NumericError { kind, index: y.index_of(i) });
        }
    }
    Ok(())
}
