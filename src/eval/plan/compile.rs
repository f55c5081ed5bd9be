//! Compiling a model and its derivation into a [`Plan`]: the nodes the
//! evaluator would compute, in the order it would compute them, each once,
//! with its operands' slots and its result's shape fixed here.

use std::collections::HashMap;

use super::{Instr, Op, Plan, Reader, Slot, SlotInfo};
use crate::derive::Derivation;
use crate::eval::evaluate::{Evaluator, Note, Quantity};
use crate::eval::tensor::{decimals_to_f64, Tensor, EXACT_ENTRIES_CAP};
use crate::model::{Func, Model, Node, NodeId, Reduction, Shape};

/// Why a model has no plan (it then takes the node-by-node evaluator).
#[derive(Debug)]
pub(super) struct Unsupported(pub &'static str);

struct Compiler<'a> {
    model: &'a Model,
    derivation: &'a Derivation,
    /// An evaluator used for what it knows about operands (logits of a
    /// loss, complements, `aᵀ @ b`) and to fold constants exactly.
    ev: Evaluator<'a>,
    slots: Vec<SlotInfo>,
    instrs: Vec<Instr>,
    memo: HashMap<NodeId, Slot>,
    /// The slot of each tensor's value, once known.
    tensors: Vec<Option<Slot>>,
    symbols: HashMap<crate::model::SymbolId, Slot>,
    quantity: Option<Quantity>,
    notes: Vec<Note>,
    /// A constant folded here came near a kink (a relu of an exact 0).
    near: bool,
    /// Calls of custom functions planned, by function and arguments' slots.
    calls: HashMap<(Func, Vec<Slot>), Slot>,
    call_count: u64,
}

/// A body being planned (see `Evaluator`'s frames).
struct Frame {
    params: Vec<Slot>,
    memo: HashMap<NodeId, Slot>,
    pending: Vec<(NodeId, bool)>,
    root: NodeId,
    call: Option<(NodeId, Func, Vec<Slot>)>,
}

/// The plan of `model` derived as `derivation`, every given value in f64;
/// `Err` names the first thing it cannot plan.
pub(super) fn compile(model: &Model, derivation: &Derivation) -> Result<Plan, Unsupported> {
    let mut c = Compiler {
        model,
        derivation,
        ev: Evaluator::new(model, &derivation.graph, Some(derivation), Vec::new()),
        slots: Vec::new(),
        instrs: Vec::new(),
        memo: HashMap::new(),
        tensors: vec![None; model.tensors.len()],
        symbols: HashMap::new(),
        quantity: None,
        notes: Vec::new(),
        near: false,
        calls: HashMap::new(),
        call_count: 0,
    };
    // The given values, in f64 (the nearest to each decimal written).
    let mut inputs = Vec::new();
    for id in model.ids() {
        let t = model.tensor(id);
        match (&t.value, t.definition) {
            (Some(v), _) => {
                let data: Vec<f64> = decimals_to_f64(v);
                let slot = c.slot(t.shape.dims().to_vec(), None);
                inputs.push((id, slot, data));
                c.tensors[id.0 as usize] = Some(slot);
            }
            (None, None) => return Err(Unsupported("a value is left open")),
            (None, Some(_)) => {}
        }
    }
    for &id in &model.order {
        let Some(def) = model.tensor(id).definition else { continue };
        c.quantity = Some(Quantity::Tensor(id));
        let s = c.node_slot(def)?;
        c.tensors[id.0 as usize] = Some(s);
    }
    let forward_end = c.instrs.len();
    let mut symbols = Vec::new();
    for &s in &derivation.defined {
        let sym = derivation.symbol(s);
        c.quantity = Some(Quantity::Symbol(s));
        let v = c.node_slot(sym.formula)?;
        let v = c.shaped(v, sym.shape.dims())?;
        c.symbols.insert(s, v);
        symbols.push((s, v));
    }
    let mut gradients = Vec::new();
    for g in &derivation.gradients {
        c.quantity = Some(Quantity::Gradient(g.param));
        let v = c.node_slot(g.formula)?;
        gradients.push(c.shaped(v, model.tensor(g.param).shape.dims())?);
    }
    let values = c.tensors.iter().map(|s| s.ok_or(Unsupported("a tensor has no value"))).collect::<Result<_, _>>()?;
    let mut notes = c.notes;
    notes.append(&mut c.ev.notes);
    let held = vec![None; c.slots.len()];
    let f64s = c
        .slots
        .iter()
        .map(|s| match &s.constant {
            Some(t) => t.to_f64_vec(),
            None => vec![0.0; s.dims.iter().product()],
        })
        .collect();
    let origins = super::certify::origins(c.slots.len(), &inputs, &c.instrs);
    Ok(Plan {
        origins,
        slots: c.slots,
        instrs: c.instrs,
        forward_end,
        inputs,
        values,
        symbols,
        gradients,
        notes,
        near: c.near,
        buffers: std::cell::RefCell::new(super::Buffers {
            f64s,
            held,
            certify: false,
            certain: Default::default(),
            left: 0,
        }),
    })
}

impl Compiler<'_> {
    fn slot(&mut self, dims: Vec<usize>, constant: Option<Tensor>) -> Slot {
        self.slots.push(SlotInfo { dims, constant, maybe_exact: false });
        self.slots.len() - 1
    }

    fn emit(&mut self, op: Op, dims: Vec<usize>) -> Slot {
        let out = self.slot(dims, None);
        self.instrs.push(Instr { op, out, quantity: self.quantity });
        out
    }

    fn dims(&self, s: Slot) -> &[usize] {
        &self.slots[s].dims
    }

    fn is_const(&self, s: Slot) -> bool {
        self.slots[s].constant.is_some()
    }

    /// The slot of `root`'s value, planning every node under it not planned
    /// yet, children first, iteratively (a chain of 100 000 nodes is fine),
    /// a call of a custom function as its body with the arguments' slots
    /// (as the evaluator opens a frame for it, see `evaluate`).
    fn node_slot(&mut self, root: NodeId) -> Result<Slot, Unsupported> {
        let outer = Frame {
            params: Vec::new(),
            memo: std::mem::take(&mut self.memo),
            pending: vec![(root, false)],
            root,
            call: None,
        };
        let mut frames = vec![outer];
        let result = self.run_frames(&mut frames);
        if let Some(first) = frames.into_iter().next() {
            self.memo = first.memo;
        }
        result
    }

    fn run_frames(&mut self, frames: &mut Vec<Frame>) -> Result<Slot, Unsupported> {
        loop {
            let frame = frames.last_mut().ok_or(Unsupported("no frame"))?;
            let Some((n, expanded)) = frame.pending.pop() else {
                let done = frames.pop().ok_or(Unsupported("no frame"))?;
                let value = done.memo.get(&done.root).copied().ok_or(Unsupported("a body has no value"))?;
                if frames.is_empty() {
                    frames.push(done);
                    return Ok(value);
                }
                let (call, f, args) = done.call.ok_or(Unsupported("a call without a caller"))?;
                // A derivative that is a constant still has its argument's shape.
                let value = match (f, args.first()) {
                    (Func::Derivative { .. }, Some(&like)) => self.broadcast_to(value, like)?,
                    _ => value,
                };
                self.calls.insert((f, args), value);
                frames.last_mut().ok_or(Unsupported("no frame"))?.memo.insert(call, value);
                continue;
            };
            if frame.memo.contains_key(&n) {
                continue;
            }
            let operands = self.ev.operands(n);
            if !expanded {
                frame.pending.push((n, true));
                let memo = &frame.memo;
                let todo: Vec<_> =
                    operands.iter().rev().filter(|c| !memo.contains_key(c)).map(|&c| (c, false)).collect();
                frame.pending.extend(todo);
                continue;
            }
            let args = operands
                .iter()
                .map(|c| frame.memo.get(c).copied().ok_or(Unsupported("an operand has no slot")))
                .collect::<Result<Vec<_>, _>>()?;
            let graph = &self.derivation.graph;
            match *graph.node(n) {
                Node::Param(i) => {
                    let s = *frame.params.get(i as usize).ok_or(Unsupported("a parameter has no value"))?;
                    frame.memo.insert(n, s);
                }
                Node::Apply(f @ (Func::Custom(_) | Func::Derivative { .. }), _) => {
                    let args = self.broadcast_all(&args)?;
                    let frame = frames.last_mut().ok_or(Unsupported("no frame"))?;
                    if let Some(&value) = self.calls.get(&(f, args.clone())) {
                        frame.memo.insert(n, value);
                        continue;
                    }
                    self.call_count += 1;
                    if self.call_count > crate::eval::evaluate::MAX_CALLS {
                        return Err(Unsupported("too many calls"));
                    }
                    let body = match f {
                        Func::Custom(id) => self.model.function(id).body,
                        Func::Derivative { func, wrt } => self
                            .derivation
                            .fn_derivative(func, wrt)
                            .map(|d| d.body)
                            .ok_or(Unsupported("no derivative"))?,
                        Func::Builtin(_) => return Err(Unsupported("a built-in called")),
                    };
                    frames.push(Frame {
                        params: args.clone(),
                        memo: HashMap::new(),
                        pending: vec![(body, false)],
                        root: body,
                        call: Some((n, f, args)),
                    });
                }
                _ => {
                    let s = self.plan_node(n, &args)?;
                    frames.last_mut().ok_or(Unsupported("no frame"))?.memo.insert(n, s);
                }
            }
        }
    }

    /// Every argument of a call spread to the shape of the largest (a
    /// scalar over the others' shape), as the evaluator's `broadcast_all`.
    fn broadcast_all(&mut self, args: &[Slot]) -> Result<Vec<Slot>, Unsupported> {
        let Some(&largest) = args.iter().max_by_key(|&&a| self.dims(a).iter().product::<usize>()) else {
            return Ok(Vec::new());
        };
        args.iter().map(|&a| self.broadcast_to(a, largest)).collect()
    }

    /// `value` spread to the shape of `like` when it is a scalar and `like`
    /// is not: `zeros_like(like) + value`.
    fn broadcast_to(&mut self, value: Slot, like: Slot) -> Result<Slot, Unsupported> {
        if !self.dims(value).is_empty() || self.dims(like).is_empty() {
            return Ok(value);
        }
        let dims = self.dims(like).to_vec();
        match (&self.slots[value].constant, &self.slots[like].constant) {
            (Some(v), Some(l)) => {
                let t = l.zeros_like().add(v).map_err(|_| Unsupported("a constant's shape"))?;
                Ok(self.slot(dims, Some(t)))
            }
            _ if self.slots[value].maybe_exact || self.slots[like].maybe_exact => Err(Unsupported("an exact argument")),
            _ => Ok(self.emit(Op::Fill(value, true), dims)),
        }
    }

    /// Plans node `n` from its operands' slots `args` (in the order of
    /// `Evaluator::operands`).
    fn plan_node(&mut self, n: NodeId, args: &[Slot]) -> Result<Slot, Unsupported> {
        let graph = &self.derivation.graph;
        let node = graph.node(n);
        match node {
            Node::Tensor(t) => return self.tensors[t.0 as usize].ok_or(Unsupported("a tensor used before its value")),
            Node::Symbol(s) => {
                return self.symbols.get(s).copied().ok_or(Unsupported("a symbol used before its value"))
            }
            Node::Param(_) | Node::Apply(Func::Custom(_) | Func::Derivative { .. }, _) => {
                return Err(Unsupported("a call outside a frame"))
            }
            _ => {}
        }
        // Computed from constants only: folded now, exactly, as the
        // evaluator computes it (its value is exact there too).
        if args.iter().all(|&a| self.is_const(a)) {
            let refs: Vec<&Tensor> = args.iter().filter_map(|&a| self.slots[a].constant.as_ref()).collect();
            self.ev.quantity = self.quantity;
            let (value, near) = crate::eval::watch::watched(|| self.ev.compute(n, &refs));
            self.near |= near;
            let value = value.map_err(|_| Unsupported("a constant that fails"))?;
            return Ok(self.slot(value.dims().to_vec(), Some(value)));
        }
        // A result too large to hold exactly computed from an exact
        // operand: the evaluator says so, and so does the plan.
        if graph.shape(n).len() > EXACT_ENTRIES_CAP && args.iter().any(|&a| self.is_const(a)) {
            if let Some(quantity) = self.quantity {
                self.notes.push(Note::Large { quantity });
            }
        }
        // From exact values only (a one-hot of labels, and what is computed
        // from it and constants): exact, by the evaluator's kernel.
        let exact_args = args.iter().all(|&a| self.is_const(a) || self.slots[a].maybe_exact);
        if exact_args || matches!(node, Node::OneHot(..)) {
            let dims = self.kernel_dims(n, args);
            let out = self.emit(Op::Kernel(n, args.to_vec()), dims);
            self.slots[out].maybe_exact = true;
            return Ok(out);
        }
        if self.model.complement(graph, n).is_some() {
            let u = *args.last().ok_or(Unsupported("a complement without its argument"))?;
            let form = self.model.complement(graph, n).ok_or(Unsupported("no complement"))?;
            let dims = self.dims(u).to_vec();
            return Ok(self.emit(Op::Complement(u, form), dims));
        }
        let arg = |i: usize| args.get(i).copied().ok_or(Unsupported("an operand is missing"));
        Ok(match *node {
            Node::Neg(_) => {
                let dims = self.dims(arg(0)?).to_vec();
                self.emit(Op::Neg(arg(0)?), dims)
            }
            Node::Add(..) | Node::Sub(..) | Node::Mul(..) => {
                let (a, b) = (arg(0)?, arg(1)?);
                let (da, db) = (self.dims(a).to_vec(), self.dims(b).to_vec());
                let out = Shape(da.clone()).broadcast(&Shape(db.clone())).ok_or(Unsupported("shapes differ"))?;
                let ra = Reader::new(&da, out.dims()).ok_or(Unsupported("shapes differ"))?;
                let rb = Reader::new(&db, out.dims()).ok_or(Unsupported("shapes differ"))?;
                let kind = match node {
                    Node::Add(..) => super::Zip::Add,
                    Node::Sub(..) => super::Zip::Sub,
                    _ => super::Zip::Mul,
                };
                self.emit(Op::Zip(kind, a, ra, b, rb), out.0)
            }
            Node::MatMul(t, _) if matches!(graph.node(t), Node::Transpose(_)) => {
                // `aᵀ @ b`, as `Tensor::transpose_matmul` computes it.
                let (a, b) = (arg(0)?, arg(1)?);
                let (da, db) = (self.dims(a).to_vec(), self.dims(b).to_vec());
                match (da.as_slice(), Shape::matrix_of(&db)) {
                    (&[rows, cols], Some((inner, p))) if rows != 1 && rows == inner && !db.is_empty() => {
                        let dims = if db.len() == 1 { vec![cols] } else { vec![cols, p] };
                        self.emit(Op::MatMul { a, a_strides: (1, cols), b, m: cols, k: rows, p }, dims)
                    }
                    _ => {
                        let t = self.transpose(a)?;
                        self.matmul(t, b)?
                    }
                }
            }
            Node::MatMul(..) => self.matmul(arg(0)?, arg(1)?)?,
            Node::Transpose(_) => self.transpose(arg(0)?)?,
            Node::Apply(Func::Builtin(f), _) if f.arity() == 1 && args.len() == 1 => {
                let dims = self.dims(arg(0)?).to_vec();
                self.emit(Op::Unary(f, arg(0)?, crate::eval::watch::watched_at_zero(f)), dims)
            }
            Node::Reduce(Reduction::Sum, _) => self.emit(Op::Sum(arg(0)?), Vec::new()),
            // Everything else by the evaluator's own kernel, on tensors
            // made from the slots: the same values, checks and notes.
            // An exact operand (a constant gradient) may make its value
            // exact (a max-pool's switches routing exact ones).
            _ => {
                let dims = self.kernel_dims(n, args);
                let out = self.emit(Op::Kernel(n, args.to_vec()), dims);
                self.slots[out].maybe_exact = args.iter().any(|&a| self.is_const(a) || self.slots[a].maybe_exact);
                out
            }
        })
    }

    /// The shape of a kernel's value: for an elementwise operation (a
    /// built-in of two arguments, a division, a power) its operands'
    /// broadcast, as the tensors' own rule gives it (inside a function's
    /// body the graph's shape is the body's, not the call's); else the
    /// graph's, which the run checks against the kernel's value.
    fn kernel_dims(&self, n: NodeId, args: &[Slot]) -> Vec<usize> {
        let graph = &self.derivation.graph;
        let elementwise = match graph.node(n) {
            Node::Apply(Func::Builtin(_), _) | Node::Div(..) => args.len() <= 2,
            Node::Pow(..) => args.len() == 1,
            _ => false,
        };
        let broadcast = args.iter().try_fold(Shape(Vec::new()), |acc, &a| acc.broadcast(&Shape(self.dims(a).to_vec())));
        match (elementwise, broadcast) {
            (true, Some(shape)) if !args.is_empty() => shape.0,
            _ => graph.shape(n).dims().to_vec(),
        }
    }

    fn matmul(&mut self, a: Slot, b: Slot) -> Result<Slot, Unsupported> {
        let (da, db) = (self.dims(a).to_vec(), self.dims(b).to_vec());
        let ((m, k), (k2, p)) = match (Shape::matrix_of(&da), Shape::matrix_of(&db)) {
            (Some(x), Some(y)) if !da.is_empty() && !db.is_empty() => (x, y),
            _ => return Err(Unsupported("a product of these shapes")),
        };
        if k != k2 {
            return Err(Unsupported("a product of these shapes"));
        }
        let dims = if db.len() == 1 { vec![m] } else { vec![m, p] };
        Ok(self.emit(Op::MatMul { a, a_strides: (k, 1), b, m, k, p }, dims))
    }

    fn transpose(&mut self, a: Slot) -> Result<Slot, Unsupported> {
        let da = self.dims(a).to_vec();
        let dims = Shape::transposed(&da).ok_or(Unsupported("a transpose of this shape"))?;
        let (m, n) = Shape::matrix_of(&da).ok_or(Unsupported("a transpose of this shape"))?;
        Ok(self.emit(Op::Transpose(a, m, n), dims))
    }

    /// A derived value that came out a scalar spread over its shape, as
    /// `solve`'s `shaped` does it.
    fn shaped(&mut self, v: Slot, dims: &[usize]) -> Result<Slot, Unsupported> {
        if !self.dims(v).is_empty() || dims.is_empty() {
            return Ok(v);
        }
        let n: usize = dims.iter().product();
        if n > EXACT_ENTRIES_CAP {
            if let Some(quantity) = self.quantity {
                self.notes.push(Note::Large { quantity });
            }
        }
        if let Some(c) = &self.slots[v].constant {
            let value = if n > EXACT_ENTRIES_CAP {
                let x = c.to_f64_vec().first().copied().unwrap_or(f64::NAN);
                Tensor::float(dims.to_vec(), vec![x; n])
            } else {
                let zero = num_rational::BigRational::from_integer(0.into());
                Tensor::exact(dims.to_vec(), vec![zero; n]).add(c).map_err(|_| Unsupported("a constant's shape"))?
            };
            return Ok(self.slot(dims.to_vec(), Some(value)));
        }
        if self.slots[v].maybe_exact {
            return Err(Unsupported("an exact scalar spread over a shape"));
        }
        // 0 + x, as the exact zeros plus the value compute it (−0 becomes 0).
        Ok(self.emit(Op::Fill(v, n <= EXACT_ENTRIES_CAP), dims.to_vec()))
    }
}
