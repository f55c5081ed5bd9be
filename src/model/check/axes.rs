//! Naming the axes of every tensor, once, after the model is built (see
//! `model/axes.rs` for what the names are).
//!
//! Every axis of every expression and of every named tensor is a slot; the
//! operations that keep an axis join the slots they keep (the result of
//! `relu(X)` has X's axes, `W @ X` has W's rows and X's columns, a tensor
//! has its definition's axes), and the operations that read or make a
//! tensor in a known layout name slots, each name with the use that gave
//! it. Joining is union–find, so a name given anywhere reaches every slot
//! joined to it, forwards and backwards (`conv2d(relu(X), K)` names X's
//! axes too). Two layers' different names meeting in one set (`conv2d`
//! channels first, a pool channels last) are one tensor read two ways: a
//! located error naming both uses, never a silent choice. What a network's
//! layout implies (a bias over the examples, a cross-entropy's classes)
//! gives way to a layer's reading, and two such implications that
//! disagree leave the axis unnamed (see [`Use::strict`]).
//!
//! Parameters are left out: their axes are the layer's own (a kernel bank,
//! a weight matrix), not the data's, and a weight shared by two layers
//! must not join their axes.

use std::collections::HashMap;

use super::super::axes::{Axes, AxesError, AxisName, Reading};
use super::super::error::{Error, ErrorKind, Errors};
use super::super::expr::{Graph, Node, NodeId, TensorId};
use super::super::func::{Axis, ConvPart, Layer, LossFn, MapLayout, PoolPart};
use super::super::{Model, Role};
use crate::syntax::Span;

/// A name given to a slot, and by which use.
struct Seed {
    slot: usize,
    name: AxisName,
    use_: usize,
    /// The named tensor the use reads or makes, if it is one.
    tensor: Option<TensorId>,
}

/// One use that names axes: what it is and the equation it is in.
struct Use {
    by: String,
    span: Span,
    /// A layer that reads its operand in one layout and computes with it
    /// so (`conv2d`, the pools, a spatial batch norm): a different reading
    /// elsewhere is an error. The other uses name what a network's layout
    /// implies (a bias over the examples, the classes of a cross-entropy,
    /// attention's steps); a file may compute across that layout on
    /// purpose (`softmax(Z, axis = 1)` on examples in columns), so where
    /// two of them disagree, the axis is left unnamed instead.
    strict: bool,
}

/// The slots of the model: one per axis of each node of the graph, then
/// one per axis of each named tensor.
struct Slots<'m> {
    model: &'m Model,
    node_start: Vec<usize>,
    tensor_start: Vec<usize>,
    parent: Vec<usize>,
    seeds: Vec<Seed>,
    uses: Vec<Use>,
    /// The first equation each node is part of (for a use's place).
    owner: HashMap<NodeId, TensorId>,
}

/// Names the axes of every tensor of `model`, or the errors of tensors read
/// two ways.
pub(super) fn name_axes(mut model: Model) -> Result<Model, Errors> {
    let mut slots = Slots::new(&model);
    slots.join_all();
    slots.seed_all();
    let (axes, errors) = slots.resolve();
    if !errors.is_empty() {
        return Err(errors);
    }
    model.axes = axes;
    Ok(model)
}

impl<'m> Slots<'m> {
    fn new(model: &'m Model) -> Slots<'m> {
        let g = &model.graph;
        let mut next = 0;
        let mut node_start = Vec::with_capacity(g.len() + 1);
        for i in 0..g.len() {
            node_start.push(next);
            next += g.shape(NodeId(i as u32)).rank();
        }
        let mut tensor_start = Vec::with_capacity(model.tensors.len());
        for t in model.tensors.values() {
            tensor_start.push(next);
            next += t.shape.rank();
        }
        let mut owner = HashMap::new();
        for id in model.equations() {
            let Some(root) = model.tensor(id).definition else { continue };
            // Iterative, each node once: the depth of an expression is the
            // file's to choose.
            let mut stack = vec![root];
            while let Some(n) = stack.pop() {
                if owner.contains_key(&n) {
                    continue;
                }
                owner.insert(n, id);
                if !matches!(g.node(n), Node::Tensor(_)) {
                    stack.extend(g.node(n).children());
                }
            }
        }
        Slots {
            model,
            node_start,
            tensor_start,
            parent: (0..next).collect(),
            seeds: Vec::new(),
            uses: Vec::new(),
            owner,
        }
    }

    fn graph(&self) -> &'m Graph {
        &self.model.graph
    }

    fn dims(&self, n: NodeId) -> &'m [usize] {
        self.model.graph.shape(n).dims()
    }

    /// A parameter's axes are its layer's, never joined or named.
    fn is_param(&self, n: NodeId) -> bool {
        matches!(*self.graph().node(n), Node::Tensor(t) if self.model.tensor(t).role == Role::Param)
    }

    fn slot(&self, n: NodeId, axis: usize) -> usize {
        self.node_start[n.0 as usize] + axis
    }

    fn find(&mut self, mut s: usize) -> usize {
        while self.parent[s] != s {
            self.parent[s] = self.parent[self.parent[s]];
            s = self.parent[s];
        }
        s
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            // The smaller index roots the set: the result does not depend
            // on the order of the joins.
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            self.parent[hi] = lo;
        }
    }

    /// Joins axis `i` of node `a` with axis `j` of node `b`.
    fn join(&mut self, (a, i): (NodeId, usize), (b, j): (NodeId, usize)) {
        if self.is_param(a) || self.is_param(b) || i >= self.dims(a).len() || j >= self.dims(b).len() {
            return;
        }
        let (sa, sb) = (self.slot(a, i), self.slot(b, j));
        self.union(sa, sb);
    }

    /// Joins an operand of an elementwise operation with its result: each
    /// axis it has at full length (NumPy's alignment, a column `[m]` beside
    /// `[m, N]` as the first axis; a stretched axis of length 1 holds
    /// nothing of the result's).
    fn join_elementwise(&mut self, n: NodeId, operand: NodeId) {
        let (dn, da) = (self.dims(n), self.dims(operand));
        if dn.len() == da.len() {
            for i in 0..dn.len() {
                if dn[i] == da[i] {
                    self.join((n, i), (operand, i));
                }
            }
        } else if da.len() == 1 && dn.len() == 2 && da[0] == dn[0] {
            self.join((n, 0), (operand, 0));
        }
    }

    /// The joins of every operation that keeps an axis, and of each named
    /// tensor with the expression that names it and with its definition.
    fn join_all(&mut self) {
        let g = self.graph();
        for (i, t) in self.model.tensors.values().enumerate() {
            let Some(d) = t.definition else { continue };
            if t.role == Role::Param || self.dims(d) != t.shape.dims() {
                continue;
            }
            for a in 0..t.shape.rank() {
                let s = self.slot(d, a);
                self.union(s, self.tensor_start[i] + a);
            }
        }
        for i in 0..g.len() {
            let n = NodeId(i as u32);
            let rank = self.dims(n).len();
            match g.node(n) {
                Node::Tensor(t) => {
                    if self.model.tensor(*t).role == Role::Param {
                        continue;
                    }
                    let start = self.tensor_start[t.0 as usize];
                    for a in 0..rank.min(self.model.tensor(*t).shape.rank()) {
                        let s = self.slot(n, a);
                        self.union(s, start + a);
                    }
                }
                Node::Neg(a) | Node::Pow(a, _) | Node::Softmax(a, _) | Node::LogSoftmax(a, _) => {
                    self.join_elementwise(n, *a)
                }
                Node::MaskedSoftmax(a, _, _) => self.join_elementwise(n, *a),
                Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) | Node::Div(a, b) => {
                    self.join_elementwise(n, *a);
                    self.join_elementwise(n, *b);
                }
                Node::Apply(_, args) => {
                    for a in args.clone() {
                        self.join_elementwise(n, a);
                    }
                }
                Node::Loss(_, y, p) if self.dims(*y) == self.dims(*p) => {
                    for a in 0..self.dims(*y).len() {
                        self.join((*y, a), (*p, a));
                    }
                }
                Node::MatMul(a, b) => {
                    let (ra, rb) = (self.dims(*a).len(), self.dims(*b).len());
                    if ra == 2 && rank >= 1 {
                        self.join((n, 0), (*a, 0));
                    }
                    if ra == 2 && rb == 2 && rank == 2 {
                        self.join((n, 1), (*b, 1));
                    }
                }
                Node::Transpose(a) => match self.dims(*a).len() {
                    2 => {
                        self.join((n, 0), (*a, 1));
                        self.join((n, 1), (*a, 0));
                    }
                    1 => self.join((n, 1), (*a, 0)),
                    _ => {}
                },
                Node::Conv(ConvPart::Forward, x, _, _) if rank == 4 => self.join((n, 0), (*x, 0)),
                Node::Pool(_, PoolPart::Forward, operands, _) => {
                    let a = operands[0];
                    for axis in 0..rank {
                        self.join((n, axis), (a, axis));
                    }
                }
                Node::Reshape(a, _) if self.dims(*a) == self.dims(n) => {
                    for axis in 0..rank {
                        self.join((n, axis), (*a, axis));
                    }
                }
                Node::Slice(a, _) if self.dims(*a).len() == rank => {
                    for axis in 0..rank {
                        self.join((n, axis), (*a, axis));
                    }
                }
                Node::SumSpatial(a, channel) => self.join((n, 0), (*a, *channel)),
                Node::Gather(_, ids) => {
                    for axis in 0..self.dims(*ids).len() {
                        self.join((n, axis), (*ids, axis));
                    }
                }
                Node::OneHot(labels, _, axis) if rank == 2 && self.dims(*labels).len() == 1 => {
                    self.join((n, axis.other().index()), (*labels, 0))
                }
                _ => {}
            }
        }
    }

    /// A new use, placed at the equation `n` is part of (or `fallback`).
    fn add_use(&mut self, by: String, strict: bool, n: NodeId, fallback: TensorId) -> usize {
        let eq = self.owner.get(&n).copied().unwrap_or(fallback);
        let (name, span) = (&self.model.tensor(eq).name, self.model.tensor(eq).span);
        self.uses.push(Use { by: format!("{by} in {name}"), span, strict });
        self.uses.len() - 1
    }

    /// Names the axes of `n` (`None` leaves one unnamed).
    fn seed(&mut self, n: NodeId, names: &[Option<AxisName>], use_: usize) {
        if self.is_param(n) || names.len() != self.dims(n).len() {
            return;
        }
        for (axis, name) in names.iter().enumerate() {
            if let Some(name) = *name {
                let slot = self.slot(n, axis);
                let tensor = match *self.graph().node(n) {
                    Node::Tensor(t) => Some(t),
                    _ => None,
                };
                self.seeds.push(Seed { slot, name, use_, tensor });
            }
        }
    }

    /// Names the axes of the named tensor `t`.
    fn seed_tensor(&mut self, t: TensorId, names: &[Option<AxisName>], use_: usize) {
        let tensor = self.model.tensor(t);
        if tensor.role == Role::Param || names.len() != tensor.shape.rank() {
            return;
        }
        for (axis, name) in names.iter().enumerate() {
            if let Some(name) = *name {
                self.seeds.push(Seed { slot: self.tensor_start[t.0 as usize] + axis, name, use_, tensor: Some(t) });
            }
        }
    }

    /// The uses that name axes.
    fn seed_all(&mut self) {
        let g = self.graph();
        let loss = self.model.loss;
        let map = |layout: MapLayout, n: &[usize]| Axes::of_map(layout, n.len()).map(|a| a.names().to_vec());
        for i in 0..g.len() {
            let n = NodeId(i as u32);
            match g.node(n) {
                Node::Conv(ConvPart::Forward, x, _, conv) => {
                    let layout = conv.layout.name();
                    if let Some(names) = map(conv.layout, self.dims(n)) {
                        let u = self.add_use(format!("conv2d (layout = {layout})"), true, n, loss);
                        self.seed(*x, &names, u);
                        self.seed(n, &names, u);
                    }
                }
                Node::Pool(kind, PoolPart::Forward, operands, window) => {
                    let a = operands[0];
                    let layout = window.layout.name();
                    if let Some(names) = map(window.layout, self.dims(n)) {
                        let u = self.add_use(format!("{} (layout = {layout})", kind.name()), true, n, loss);
                        self.seed(a, &names, u);
                        self.seed(n, &names, u);
                    }
                }
                Node::Loss(LossFn::CrossEntropy(Some(axis)), _, p) if self.dims(*p).len() == 2 => {
                    let u = self.add_use("a batched cross_entropy".to_string(), false, n, loss);
                    self.seed(*p, &batch_matrix(axis.other()), u);
                }
                // A bias added to every example: the axis it stretches along
                // holds the examples (as the checker's batch says).
                Node::Add(a, b) => {
                    let (sa, sb) = (g.shape(*a), g.shape(*b));
                    for (small, big) in [(sa, sb), (sb, sa)] {
                        if big.vector_axis().is_some() || big.rank() != 2 {
                            continue;
                        }
                        if let [axis] = small.stretched_axes(big)[..] {
                            let u = self.add_use("a bias added to every example".to_string(), false, n, loss);
                            let mut names = [None, None];
                            names[axis.index()] = Some(AxisName::Batch);
                            self.seed(n, &names, u);
                        }
                    }
                }
                // An embedding lookup `W[ids]`: one row of W, its features,
                // per id.
                Node::Gather(_, _) => {
                    let mut names = vec![None; self.dims(n).len()];
                    if let Some(last) = names.last_mut() {
                        *last = Some(AxisName::Features);
                        let u = self.add_use("an embedding lookup".to_string(), false, n, loss);
                        self.seed(n, &names, u);
                    }
                }
                _ => {}
            }
        }
        for norm in self.model.norms.clone() {
            let x = norm.input;
            let rank = self.model.tensor(x).shape.rank();
            let (names, what) = match (norm.spatial, norm.layer) {
                (true, _) if rank == 4 => (Axes::of_map(MapLayout::Nchw, 4).map(|a| a.names().to_vec()), "batchnorm"),
                (false, Layer::Batchnorm) if rank == 2 => (Some(batch_matrix(norm.axis).to_vec()), "batchnorm"),
                (false, Layer::Layernorm) if rank == 2 => (Some(batch_matrix(norm.axis.other()).to_vec()), "layernorm"),
                _ => (None, ""),
            };
            if let Some(names) = names {
                let eq = self.model.tensor(norm.out);
                let strict = norm.spatial;
                self.uses.push(Use { by: format!("{what} in {}", eq.name), span: eq.span, strict });
                let u = self.uses.len() - 1;
                self.seed_tensor(x, &names, u);
                self.seed_tensor(norm.out, &names, u);
            }
        }
        self.seed_attention();
    }

    /// `attention(Q, K, V)` writes out S = Q Kᵀ / √d and A = softmax(S):
    /// each row of S and A is a query, each column a key, both positions
    /// of a sequence, and so are the rows of V.
    fn seed_attention(&mut self) {
        let model = self.model;
        let g = self.graph();
        let written = |t: TensorId| model.written_out.iter().any(|&(_, w)| w == t);
        for &(owner, a) in &model.written_out {
            let Some(def) = model.tensor(a).definition else { continue };
            let scores = match *g.node(def) {
                Node::Softmax(s, Axis::ACROSS) | Node::MaskedSoftmax(s, _, Axis::ACROSS) => s,
                _ => continue,
            };
            let Node::Tensor(s) = *g.node(scores) else { continue };
            if !written(s) || model.tensor(s).shape.rank() != 2 {
                continue;
            }
            let eq = model.tensor(owner);
            self.uses.push(Use { by: format!("attention in {}", eq.name), span: eq.span, strict: false });
            let u = self.uses.len() - 1;
            let time = [Some(AxisName::Time), Some(AxisName::Time)];
            self.seed_tensor(s, &time, u);
            self.seed_tensor(a, &time, u);
            // The values: the product A V, one row per key.
            if let Some(out) = model.tensor(owner).definition {
                if let Node::MatMul(w, v) = *g.node(out) {
                    if matches!(*g.node(w), Node::Tensor(t) if t == a) && self.dims(v).len() == 2 {
                        self.seed(v, &[Some(AxisName::Time), None], u);
                    }
                }
            }
        }
    }

    /// The name of each set, the errors where one set has two, and each
    /// named tensor's axes (a matrix with one axis of examples or steps
    /// has its features along the other).
    fn resolve(mut self) -> (Vec<Axes>, Errors) {
        let mut named: HashMap<usize, (AxisName, usize)> = HashMap::new();
        let mut errors = Errors::default();
        let mut reported: Vec<(usize, usize)> = Vec::new();
        let mut contested: std::collections::HashSet<usize> = std::collections::HashSet::new();
        let mut seeds = std::mem::take(&mut self.seeds);
        // The layers' readings first: a layout's implication never
        // overrules one.
        seeds.sort_by_key(|s| !self.uses[s.use_].strict);
        for seed in &seeds {
            let root = self.find(seed.slot);
            if contested.contains(&root) {
                continue;
            }
            let strict = |u: usize| self.uses[u].strict;
            match named.get(&root).copied() {
                None => {
                    named.insert(root, (seed.name, seed.use_));
                }
                Some((name, first)) if name != seed.name && !strict(seed.use_) => {
                    if !strict(first) {
                        named.remove(&root);
                        contested.insert(root);
                    }
                }
                Some((name, first)) if name != seed.name && !reported.contains(&(first, seed.use_)) => {
                    reported.push((first, seed.use_));
                    let (tensor, axis) = self.tensor_of(root);
                    let via = seed.tensor.map(|t| self.model.tensor(t).name.clone()).filter(|v| *v != tensor);
                    let error = AxesError::Conflict {
                        tensor,
                        axis,
                        via,
                        first: Reading { name, by: self.uses[first].by.clone() },
                        second: Reading { name: seed.name, by: self.uses[seed.use_].by.clone() },
                        first_span: self.uses[first].span,
                    };
                    errors.push(Error::new(ErrorKind::Axes(error), self.uses[seed.use_].span));
                }
                Some(_) => {}
            }
        }
        let model = self.model;
        let mut axes = Vec::with_capacity(model.tensors.len());
        for (i, t) in model.tensors.values().enumerate() {
            let start = self.tensor_start[i];
            let mut names: Vec<Option<AxisName>> =
                (0..t.shape.rank()).map(|a| named.get(&self.find(start + a)).map(|&(name, _)| name)).collect();
            // A matrix of examples or steps has its features along the
            // other axis (unless that axis is a stretched 1, or two uses
            // disagree about it).
            let dims = t.shape.dims();
            let open = |s: &mut Self, a: usize| dims[a] > 1 && !contested.contains(&s.find(start + a));
            match names[..] {
                [Some(AxisName::Batch | AxisName::Time), None] if open(&mut self, 1) => {
                    names[1] = Some(AxisName::Features)
                }
                [None, Some(AxisName::Batch | AxisName::Time)] if open(&mut self, 0) => {
                    names[0] = Some(AxisName::Features)
                }
                _ => {}
            }
            axes.push(Axes::new(names));
        }
        if errors.is_empty() {
            self.ambiguous_vectors(&named, &mut errors);
        }
        (axes, errors)
    }

    /// A vector `[F]` beside a map whose first (channels-first) and last
    /// (channels-last) axes both have F entries, F > 1: the named channels
    /// decide; nothing naming them, it is an error rather than the rule by
    /// shape (`Shape::spread_axis`) choosing silently.
    fn ambiguous_vectors(&mut self, named: &HashMap<usize, (AxisName, usize)>, errors: &mut Errors) {
        let g = self.graph();
        for i in 0..g.len() {
            let n = NodeId(i as u32);
            let (Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) | Node::Div(a, b)) = *g.node(n) else { continue };
            for (vector, map) in [(a, b), (b, a)] {
                let (dv, dm) = (self.dims(vector), self.dims(map));
                let &[f] = dv else { continue };
                if f < 2 || !matches!(dm.len(), 3 | 4) || dm[dm.len() - 3] != f || dm[dm.len() - 1] != f {
                    continue;
                }
                let channel = |s: &mut Self, axis: usize| {
                    let root = s.find(s.slot(map, axis));
                    named.get(&root).map(|&(name, _)| name) == Some(AxisName::Channel)
                };
                if channel(self, dm.len() - 3) {
                    continue;
                }
                let channels_last = channel(self, dm.len() - 1);
                let Some(&eq) = self.owner.get(&n) else { continue };
                let error = AxesError::AmbiguousVector {
                    vector: operand_text(self.model, vector),
                    map: operand_text(self.model, map),
                    dims: dm.to_vec(),
                    channels_last,
                };
                errors.push(Error::new(ErrorKind::Axes(error), self.model.tensor(eq).span));
            }
        }
    }

    /// A named tensor whose axis is in the set of `root`, for a message
    /// (the first in file order), with the axis.
    fn tensor_of(&mut self, root: usize) -> (String, usize) {
        for (i, t) in self.model.tensors.values().enumerate() {
            for a in 0..t.shape.rank() {
                if self.find(self.tensor_start[i] + a) == root {
                    return (t.name.clone(), a);
                }
            }
        }
        ("a map".to_string(), 0)
    }
}

/// A batch matrix whose examples lie along `examples`: `[N, F]` along
/// axis 0 (rows), `[F, N]` along axis 1 (columns).
fn batch_matrix(examples: Axis) -> [Option<AxisName>; 2] {
    if examples == Axis::DOWN {
        [Some(AxisName::Batch), Some(AxisName::Features)]
    } else {
        [Some(AxisName::Features), Some(AxisName::Batch)]
    }
}

/// A named tensor's name, else "a vector" / "the map".
fn operand_text(model: &Model, n: NodeId) -> String {
    match *model.graph.node(n) {
        Node::Tensor(t) => model.tensor(t).name.clone(),
        _ if model.graph.shape(n).rank() == 1 => "a vector".to_string(),
        _ => "the map".to_string(),
    }
}
