//! Names for the pre-activations a file leaves unnamed. A layer's error
//! term starts at its pre-activation, the affine expression inside the
//! activation (`W x + b` in `h = tanh(W x + b)`). When the file names it
//! (`Z1 = W1 @ x + b1`), the derivation writes `δ1 = ∂L/∂Z1`; when it does
//! not, the derivation would have to write the expression itself in every
//! denominator (`∂L/∂(Wh x₁ + Uh (r₁ ⊙ h₀) + bh)`). A textbook names it
//! once in the forward equations instead (`a_t = Wh x_t + …`,
//! `h_t = tanh(a_t)`), and so does this pass: it runs on the checked model,
//! after the time steps are unrolled, and turns `h = tanh(E)` into
//! `zh = E` and `h = tanh(zh)`. Since the pass comes after checking, every
//! located error still speaks of the file's own names only.
//!
//! The generated name is `z` and the name of the equation (`zh` for `h`,
//! `zy` for `yhat`, `zL` for the loss), numbered (`zh2`, …) when that is
//! taken or would print like a name of the file (see [`super::alike`]), so
//! that it never clashes; one sequence keeps one name at every step
//! (`zh[1]`, `zh[2]`, …). [`Model::introduced`] records each one with the
//! equation it was taken out of, for the writers (which say once that
//! nnderive named it) and for the grader (which never asks for it).
//!
//! Values do not change: the new equation computes the very expression
//! the old one held, and the old one now reads it by name.

use std::collections::{HashMap, HashSet};

use super::expr::{Graph, Node, NodeId, NodeMap, NodeSet, TensorId};
use super::func::ConvPart;
use super::names::{Notation, Printed, StepLabel};
use super::time::{split_step, Sequence};
use super::{Model, NamedTensor, Role};

/// A pre-activation that nnderive named: the equation it wrote out, and
/// the equation of the file that uses it (`zh[2]` and `h[2]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Introduced {
    pub tensor: TensorId,
    pub user: TensorId,
    /// The right-hand side of `user` as the file wrote it (`tanh(W x + b)`),
    /// for what speaks only of the file's names: the grader computes a
    /// student's `h` from their own earlier values through it.
    pub written: NodeId,
}

/// The pre-activations nnderive named, in the order of the equations, with
/// lookups by tensor and by the equation that uses it (so that asking costs
/// the same at step 10 000 as at step 1).
#[derive(Clone, Debug, Default)]
pub struct Introductions {
    list: Vec<Introduced>,
    /// Each named pre-activation's equation of the file.
    user: HashMap<TensorId, TensorId>,
    /// Each such equation's right-hand side as the file wrote it.
    written: HashMap<TensorId, NodeId>,
}

impl Introductions {
    fn push(&mut self, i: Introduced) {
        self.user.insert(i.tensor, i.user);
        self.written.insert(i.user, i.written);
        self.list.push(i);
    }

    /// Each one, in the order of the equations.
    pub fn iter(&self) -> std::slice::Iter<'_, Introduced> {
        self.list.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The equation of the file that uses `id`, when nnderive named `id`.
    pub fn user(&self, id: TensorId) -> Option<TensorId> {
        self.user.get(&id).copied()
    }

    /// The right-hand side of `id` as the file wrote it, when nnderive
    /// named a pre-activation in it.
    pub fn written(&self, id: TensorId) -> Option<NodeId> {
        self.written.get(&id).copied()
    }
}

/// `model` with each unnamed pre-activation written out as an equation of
/// its own, placed just before the equation that uses it.
pub(super) fn name_pre_activations(mut model: Model) -> Model {
    let needs = tensors_needing_gradient(&model);
    let mut node_needs: NodeMap<bool> = NodeMap::default();
    // Made at the first pre-activation to name: its table of every form of
    // every name is most of this pass's work, and a file that names each
    // of its pre-activations (`Z1 = W1 @ x + b1`) needs none of it.
    let mut names: Option<Namer> = None;
    // Expressions an equation of the file defines already print as its name.
    let defined: NodeSet = model.tensors.values().filter_map(|t| t.definition).collect();
    // One expression shared by two equations is named once.
    let mut named: NodeMap<NodeId> = NodeMap::default();
    let mut order = Vec::with_capacity(model.order.len());
    for v in model.order.clone() {
        let Some(root) = model.tensor(v).definition else {
            order.push(v);
            continue;
        };
        let found = pre_activations(&model.graph, root, &needs, &mut node_needs);
        // Inner ones first (children are made before their parents), so
        // that an outer pre-activation is written with the inner one's name.
        let fresh: Vec<NodeId> =
            found.into_iter().filter(|n| *n != root && !defined.contains(n) && !named.contains_key(n)).collect();
        for (ordinal, n) in fresh.into_iter().enumerate() {
            let definition = replace(&mut model.graph, n, &named);
            let shape = model.graph.shape(n).clone();
            let namer = names.get_or_insert_with(|| Namer::new(&model));
            let name = namer.name_for(&model.tensor(v).name.clone(), ordinal);
            let id = TensorId(model.tensors.len() as u32);
            let span = model.tensor(v).span;
            let tensor = NamedTensor::intermediate(name.clone(), shape.clone(), definition, span);
            model.tensors.insert(name, tensor);
            let node = model.graph.tensor(id, shape);
            named.insert(n, node);
            model.written_out.push((v, id));
            model.introduced.push(Introduced { tensor: id, user: v, written: root });
            order.push(id);
        }
        let rewritten = replace(&mut model.graph, root, &named);
        model.tensors[v.0 as usize].definition = Some(rewritten);
        order.push(v);
    }
    model.order = order;
    if let (Some(time), Some(names)) = (&mut model.time, names) {
        for (base, user) in names.sequences {
            let templated = time.sequences.iter().find(|s| s.name == user).is_some_and(|s| s.templated);
            let at = time.sequences.iter().position(|s| s.name == user).unwrap_or(time.sequences.len());
            time.sequences.insert(at, Sequence { name: base, templated });
        }
    }
    model
}

/// Whether each tensor's gradient is needed: a parameter, or an equation
/// that uses one (as the derivation marks them).
fn tensors_needing_gradient(model: &Model) -> Vec<bool> {
    let mut needs: Vec<bool> = model.tensors.values().map(|t| t.role == Role::Param).collect();
    for &v in &model.order {
        if let Some(def) = model.tensor(v).definition {
            let mut uses = model.graph.nodes_under(&[def]).into_iter().filter_map(|n| match model.graph.node(n) {
                Node::Tensor(t) => Some(*t),
                _ => None,
            });
            needs[v.0 as usize] = uses.any(|t| needs[t.0 as usize]);
        }
    }
    needs
}

/// Whether `root` uses a tensor whose gradient is needed, memoized.
fn node_needs(graph: &Graph, root: NodeId, needs: &[bool], memo: &mut NodeMap<bool>) -> bool {
    let mut stack = vec![(root, false)];
    while let Some((n, expanded)) = stack.pop() {
        if memo.contains_key(&n) {
            continue;
        }
        if let Node::Tensor(t) = *graph.node(n) {
            memo.insert(n, needs[t.0 as usize]);
            continue;
        }
        let children = graph.node(n).children();
        if !expanded {
            stack.push((n, true));
            stack.extend(children.iter().filter(|c| !memo.contains_key(c)).map(|&c| (c, false)));
            continue;
        }
        let v = children.iter().any(|c| memo.get(c).copied().unwrap_or(false));
        memo.insert(n, v);
    }
    memo[&root]
}

/// Whether `n` is affine in the derivation's sense: a product by a matrix
/// or a convolution, plus or minus other terms.
fn is_affine(graph: &Graph, n: NodeId) -> bool {
    let mut stack = vec![n];
    while let Some(n) = stack.pop() {
        match *graph.node(n) {
            Node::MatMul(..) | Node::Conv(ConvPart::Forward, ..) => return true,
            Node::Add(a, b) | Node::Sub(a, b) => stack.extend([a, b]),
            _ => {}
        }
    }
    false
}

/// The pre-activations of an equation's right-hand side, as the derivation
/// finds them (`derive::backprop`): the maximal affine sub-expressions that
/// need a gradient, not looking into other equations; in ascending order.
fn pre_activations(graph: &Graph, root: NodeId, needs: &[bool], memo: &mut NodeMap<bool>) -> Vec<NodeId> {
    let mut seen = NodeSet::default();
    let mut stack = vec![root];
    let mut nodes = Vec::new();
    while let Some(n) = stack.pop() {
        if !seen.insert(n) || !node_needs(graph, n, needs, memo) {
            continue;
        }
        nodes.push(n);
        if !matches!(graph.node(n), Node::Tensor(_)) {
            stack.extend(graph.node(n).children());
        }
    }
    let mut inner = HashSet::new();
    for &n in &nodes {
        if let Node::Add(a, b) | Node::Sub(a, b) = *graph.node(n) {
            if is_affine(graph, n) {
                inner.insert(a);
                inner.insert(b);
            }
        }
    }
    let mut found: Vec<NodeId> = nodes.into_iter().filter(|&n| is_affine(graph, n) && !inner.contains(&n)).collect();
    found.sort_unstable();
    found
}

/// `root` with every node that `named` maps replaced by its name, rebuilt
/// through the canonical constructors (iteratively: no recursion whose
/// depth the file controls).
fn replace(graph: &mut Graph, root: NodeId, named: &NodeMap<NodeId>) -> NodeId {
    let mut memo: NodeMap<NodeId> = NodeMap::default();
    let mut stack = vec![(root, false)];
    while let Some((id, expanded)) = stack.pop() {
        if memo.contains_key(&id) {
            continue;
        }
        if let Some(&name) = named.get(&id) {
            memo.insert(id, name);
            continue;
        }
        let children = graph.node(id).children();
        if !expanded {
            stack.push((id, true));
            stack.extend(children.into_iter().filter(|c| !memo.contains_key(c)).map(|c| (c, false)));
            continue;
        }
        let new = if children.iter().all(|c| memo.get(c) == Some(c)) {
            id
        } else {
            let (node, shape) = (graph.node(id).clone(), graph.shape(id).clone());
            graph.make(&node, &shape, &|c| memo.get(&c).copied().unwrap_or(c))
        };
        memo.insert(id, new);
    }
    memo[&root]
}

/// Chooses the generated names: free, and printed unlike every other name.
struct Namer {
    /// Every name in use: tensors (a sequence by its base too), functions.
    taken: HashSet<String>,
    /// Every form a reader sees of the names in use.
    shown: HashSet<(Notation, String)>,
    /// The steps of the file, for a sequence's forms.
    steps: Option<(String, u64, u64)>,
    /// The name chosen for each sequence's pre-activations, by the sequence
    /// and the pre-activation's place in its equation.
    chosen: HashMap<(String, usize), String>,
    /// The generated sequences, each with the sequence that uses it.
    sequences: Vec<(String, String)>,
}

impl Namer {
    fn new(model: &Model) -> Namer {
        let steps = model.time.as_ref().map(|t| (t.index.clone(), t.first, t.last));
        let mut namer = Namer {
            taken: HashSet::new(),
            shown: HashSet::new(),
            steps,
            chosen: HashMap::new(),
            sequences: Vec::new(),
        };
        for name in model.tensors.keys() {
            match split_step(name) {
                Some((base, k)) => {
                    if namer.taken.insert(base.to_string()) {
                        namer.show(&sequence_forms(base, namer.steps.as_ref(), false));
                    }
                    namer.show(&Printed::Step { sequence: base.into(), step: StepLabel::At(k) }.forms());
                }
                None => namer.show(&Printed::Name(name.clone()).forms()),
            }
            namer.taken.insert(name.clone());
        }
        for name in model.functions.keys() {
            namer.taken.insert(name.clone());
            namer.show(&Printed::Function(name.clone()).forms());
        }
        namer
    }

    fn show(&mut self, forms: &[(Printed, Notation, String)]) {
        self.shown.extend(forms.iter().map(|(_, n, s)| (*n, s.clone())));
    }

    /// The name of the pre-activation of the equation `user` (an unrolled
    /// name such as `h[2]` gets a step of one sequence, `zh[2]`); `ordinal`
    /// counts the pre-activations of one equation.
    fn name_for(&mut self, user: &str, ordinal: usize) -> String {
        match split_step(user) {
            Some((base, k)) => {
                let key = (base.to_string(), ordinal);
                let chosen = match self.chosen.get(&key) {
                    Some(c) => c.clone(),
                    None => {
                        let c = self.free(base, true);
                        self.chosen.insert(key, c.clone());
                        self.sequences.push((c.clone(), base.to_string()));
                        c
                    }
                };
                super::time::step_name(&chosen, k)
            }
            None => self.free(user, false),
        }
    }

    /// A free name for the pre-activation of `user`, taken at once.
    fn free(&mut self, user: &str, sequence: bool) -> String {
        // A hat marks an estimate (`yhat` is ŷ): its pre-activation is `zy`.
        let letters = user.strip_suffix("_hat").or_else(|| user.strip_suffix("hat")).filter(|b| !b.is_empty());
        let base = format!("z{}", letters.unwrap_or(user));
        let mut k = 1;
        loop {
            let candidate = if k == 1 { base.clone() } else { format!("{base}{k}") };
            let forms = if sequence {
                sequence_forms(&candidate, self.steps.as_ref(), true)
            } else {
                Printed::Name(candidate.clone()).forms()
            };
            let clear = !self.taken.contains(&candidate)
                && crate::model::Builtin::lookup(&candidate).is_none()
                && forms.iter().all(|(_, n, s)| !self.shown.contains(&(*n, s.clone())));
            if clear {
                self.taken.insert(candidate.clone());
                self.show(&forms);
                return candidate;
            }
            k += 1;
        }
    }
}

/// The forms of a sequence: itself, its last step, its step at the time
/// index, and (`every_step`) each of its steps.
fn sequence_forms(
    name: &str,
    steps: Option<&(String, u64, u64)>,
    every_step: bool,
) -> Vec<(Printed, Notation, String)> {
    let mut out = Printed::Sequence(name.into()).forms();
    out.extend(Printed::LastStep(name.into()).forms());
    if let Some((index, first, last)) = steps {
        let step = StepLabel::Relative { index: index.clone(), offset: 0 };
        out.extend(Printed::Step { sequence: name.into(), step }.forms());
        if every_step {
            for k in *first..=*last {
                out.extend(Printed::Step { sequence: name.into(), step: StepLabel::At(k) }.forms());
            }
        }
    }
    out
}
