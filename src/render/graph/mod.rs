//! The computational graph of a network, as a picture: one node per tensor
//! (its name and shape), one node per equation for the operation that
//! computes it (labelled with the equation's right-hand side), and edges
//! from the operands to the operation and from the operation to its result.
//! With the backward flow, every edge that carries a gradient is drawn
//! again in reverse, and each error term and parameter gradient sits beside
//! the node it belongs to, named and written as the derivation writes it.
//!
//! The graph is of tensors, not scalars: a 512-wide layer is one node. A
//! recurrence is drawn as one step: every sequence (`h_t`, `x_t`) is one
//! node, and an operand from an earlier step comes through a node of that
//! step (`h_{t−1}`), fed by the loop from `h_t` (labelled with the steps it
//! serves and T: `t = 2..T (T = 3)`) and by what stands for it at the other
//! steps (`h₀` at `t = 1`). The folding uses the derivation's own view of
//! the recurrence ([`crate::derive::time`]), so an equation's sequence is
//! one node exactly when `nnderive derive` writes the equation once in t.
//! The work is linear in the unrolled model: each step's operands are read
//! once.
//!
//! [`build`] makes the graph once, as data; [`dot`] writes it for Graphviz,
//! [`svg`] has Graphviz's `dot` draw it, and [`tikz`] draws it for LaTeX
//! with positions from [`layout`] (no Graphviz needed).

pub mod dot;
pub mod layout;
pub mod svg;
pub mod tikz;

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::derive::time::{TimeSum, TimeView};
use crate::derive::{Derivation, Symbol, Wrt};
use crate::model::time::split_step;
use crate::model::{Model, NodeId, Role, Shape, TensorId};

use super::formula::{definition, formula, step_name, Names, Notation, StepLabel};
use super::outline::symbols_by_step;
use super::text::{holds_text, plain_forward_rhs, time_sum_text};

/// A network's computational graph.
#[derive(Clone, Debug, PartialEq)]
pub struct ComputationGraph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    /// For a recurrence: the steps that its one drawn step stands for.
    pub steps: Option<Steps>,
    /// Whether the backward flow and the gradients are drawn.
    pub backward: bool,
}

/// The time steps of a recurrence: `t = first..last`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Steps {
    pub index: String,
    pub first: u64,
    pub last: u64,
}

/// What a node stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A named tensor (or a sequence of them, one per step), by role.
    Tensor(Role),
    /// The operation of one equation.
    Operation,
    /// An error term or a parameter's gradient, beside its node.
    Gradient,
}

/// A node: a tensor, an operation or a gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    pub kind: NodeKind,
    /// The name (`ŷ`, `h_t`), the formula (`W1 x + b1`) or the gradient
    /// (`δ2 = ŷ − y`), in the text notation; lines separated by `\n`.
    pub text: String,
    /// The same in LaTeX (math mode), lines separated by `\n`.
    pub latex: String,
    /// A tensor's shape.
    pub shape: Option<Shape>,
}

/// How an edge is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// An operand into an operation, or an operation to its result.
    Forward,
    /// The loop of a recurrence: a sequence into the node of its earlier
    /// step (`h_t → h_{t−1}`), drawn back against the flow.
    Recurrent,
    /// A forward or recurrent edge reversed: the gradient flowing back.
    Backward,
    /// From a node to the gradient that belongs to it.
    Beside,
}

/// An edge from `from` to `to` (indices into [`ComputationGraph::nodes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct GraphEdge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// The steps it serves in a recurrence (`t = 1`, `t = T`; a loop's
    /// with T: `t = 2..T (T = 3)`).
    pub label: Option<EdgeLabel>,
}

/// An edge's label in the text notation and in LaTeX.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeLabel {
    pub text: String,
    pub latex: String,
}

impl ComputationGraph {
    /// The forward graph alone (tensors, operations and their edges), as
    /// documents draw it.
    pub fn forward(&self) -> ComputationGraph {
        let keep: Vec<bool> = self.nodes.iter().map(|n| n.kind != NodeKind::Gradient).collect();
        let mut index = vec![usize::MAX; self.nodes.len()];
        let mut nodes = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if keep[i] {
                index[i] = nodes.len();
                nodes.push(n.clone());
            }
        }
        let edges = self
            .edges
            .iter()
            .filter(|e| matches!(e.kind, EdgeKind::Forward | EdgeKind::Recurrent))
            .map(|e| GraphEdge { from: index[e.from], to: index[e.to], ..e.clone() })
            .collect();
        ComputationGraph { nodes, edges, steps: self.steps.clone(), backward: false }
    }

    /// How many nodes of a kind.
    pub fn count(&self, kind: NodeKind) -> usize {
        self.nodes.iter().filter(|n| n.kind == kind).count()
    }
}

const T: Notation = Notation::Text;
const L: Notation = Notation::Latex;

/// The computational graph of `model`; with `backward`, the gradient flow
/// and every error term and gradient of `derivation` beside its node.
pub fn build(model: &Model, derivation: &Derivation, backward: bool) -> ComputationGraph {
    let mut b = Builder::new(model, derivation);
    b.tensors();
    b.operations();
    if backward {
        b.backward();
    }
    let steps = derivation.time.as_ref().map(|v| Steps { index: v.index.clone(), first: v.first, last: v.last });
    ComputationGraph { nodes: b.nodes, edges: b.edges, steps, backward }
}

/// An equation's node and the definitions it stands for.
struct Equation {
    /// The node of the tensor it defines.
    node: usize,
    /// Each step's definition (`None` outside a recurrence's template).
    members: Vec<(Option<u64>, NodeId)>,
    /// The operation's label.
    text: String,
    latex: String,
}

struct Builder<'a> {
    model: &'a Model,
    d: &'a Derivation,
    view: Option<&'a TimeView>,
    names: Names<'a>,
    /// The names of steps near the end (`h_T`), and concrete ones elsewhere.
    near: Names<'a>,
    /// The names with a step as the time index, by step.
    at: HashMap<u64, Names<'a>>,
    nodes: Vec<GraphNode>,
    edges: Vec<GraphEdge>,
    /// Each tensor's node.
    node_of: Vec<usize>,
    /// For a tensor folded into a sequence's node: its step.
    folded_step: Vec<Option<u64>>,
    equations: Vec<Equation>,
    /// Each tensor node's operation node.
    operation_of: HashMap<usize, usize>,
    /// The node of each sequence drawn as one step, by name (`h`).
    sequences: HashMap<String, usize>,
    /// The node of a sequence at an earlier step (`h_{t−1}`), by name and offset.
    earlier: HashMap<(String, i64), usize>,
}

impl<'a> Builder<'a> {
    fn new(model: &'a Model, d: &'a Derivation) -> Self {
        let names = Names::new(model, Some(d));
        let near = names.near_end();
        let n = model.tensors.len();
        Builder {
            model,
            d,
            view: d.time.as_ref(),
            names,
            near,
            at: HashMap::new(),
            nodes: Vec::new(),
            edges: Vec::new(),
            node_of: vec![usize::MAX; n],
            folded_step: vec![None; n],
            equations: Vec::new(),
            operation_of: HashMap::new(),
            sequences: HashMap::new(),
            earlier: HashMap::new(),
        }
    }

    /// The names with step `k` as the time index (made once per step).
    fn at(&mut self, k: u64) -> Names<'a> {
        let index = self.view.map(|v| v.index.clone()).unwrap_or_default();
        let names = &self.names;
        self.at.entry(k).or_insert_with(|| names.at(&index, k)).clone()
    }

    fn push(&mut self, node: GraphNode) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// One node per tensor, a sequence's steps folded into one.
    fn tensors(&mut self) {
        let model = self.model;
        // Sequences drawn as one step: equations written once in t, and
        // data given for every step by one declaration (`x[t][2]`).
        let mut templates: HashMap<String, (TensorId, u64)> = HashMap::new();
        let mut plain_sums: HashMap<TensorId, Option<&'a TimeSum>> = HashMap::new();
        if let Some(view) = self.view {
            for f in &view.forward {
                match f {
                    crate::derive::time::Forward::Template { tensor, step } => {
                        if let Some((base, _)) = split_step(&model.tensor(*tensor).name) {
                            templates.insert(base.to_string(), (*tensor, *step));
                        }
                    }
                    crate::derive::time::Forward::Plain { tensor, sum } => {
                        plain_sums.insert(*tensor, sum.as_ref());
                    }
                }
            }
        }
        let data_sequences: Vec<&str> = model
            .time
            .iter()
            .flat_map(|t| t.sequences.iter().filter(|s| s.templated).map(|s| s.name.as_str()))
            .collect();
        let range = model.time.as_ref().map(|t| (t.first, t.last));
        for id in model.ids() {
            let t = model.tensor(id);
            let step = split_step(&t.name).filter(|&(_, k)| range.is_some_and(|(a, b)| a <= k && k <= b));
            let sequence = step.filter(|(base, _)| {
                if t.definition.is_some() {
                    templates.contains_key(*base)
                } else {
                    data_sequences.contains(base)
                }
            });
            let node = match sequence {
                Some((base, k)) => {
                    self.folded_step[id.0 as usize] = Some(k);
                    match self.sequences.get(base) {
                        Some(&node) => node,
                        None => {
                            // Named at its template's step, so that `h_t` is the step drawn.
                            let (rep, r) = templates.get(base).copied().unwrap_or((id, k));
                            let at = self.at(r);
                            let node = self.push(GraphNode {
                                kind: NodeKind::Tensor(t.role),
                                text: at.tensor(rep, T),
                                latex: at.tensor(rep, L),
                                shape: Some(t.shape.clone()),
                            });
                            self.sequences.insert(base.to_string(), node);
                            node
                        }
                    }
                }
                None => self.push(GraphNode {
                    kind: NodeKind::Tensor(t.role),
                    text: self.near.tensor(id, T),
                    latex: self.near.tensor(id, L),
                    shape: Some(t.shape.clone()),
                }),
            };
            self.node_of[id.0 as usize] = node;
        }
        // The equations, each once: a sequence's with every step's definition.
        let g = &self.d.graph;
        let mut by_node: IndexMap<usize, usize> = IndexMap::new();
        for id in model.equations() {
            let Some(def) = model.tensor(id).definition else { continue };
            let node = self.node_of[id.0 as usize];
            let step = self.folded_step[id.0 as usize];
            if let Some(&e) = by_node.get(&node) {
                self.equations[e].members.push((step, def));
                continue;
            }
            let (text, latex) = match (self.view, step) {
                (Some(_), Some(_)) => {
                    let base = split_step(&model.tensor(id).name).map(|(b, _)| b).unwrap_or_default();
                    let (rep, r) = templates[base];
                    let rep_def = model.tensor(rep).definition.unwrap_or(def);
                    let at = self.at(r);
                    (definition(g, rep_def, &at, T), definition(g, rep_def, &at, L))
                }
                (Some(view), None) => {
                    let sum = plain_sums.get(&id).copied().flatten();
                    let near = &self.near;
                    (plain_forward_rhs(g, def, sum, near, view, T), plain_forward_rhs(g, def, sum, near, view, L))
                }
                (None, _) => (definition(g, def, &self.names, T), definition(g, def, &self.names, L)),
            };
            by_node.insert(node, self.equations.len());
            self.equations.push(Equation { node, members: vec![(step, def)], text, latex });
        }
    }

    /// One operation per equation, with an edge from each operand and one
    /// to its result. In a recurrence, an operand from an earlier step of
    /// a sequence (`h[t-1]`) comes through the node of that earlier step
    /// (`h_{t−1}`), fed by the sequence itself (the loop, at the steps
    /// where the earlier step is one of the sequence's) and by the tensors
    /// that stand for it at the other steps (`h₀` at t = 1).
    fn operations(&mut self) {
        let equations = std::mem::take(&mut self.equations);
        let model = self.model;
        let g = &model.graph;
        // (source, earlier-step node) → the steps at which it feeds it.
        let mut feeds: IndexMap<(usize, usize), Vec<u64>> = IndexMap::new();
        for eq in &equations {
            let op = self.push(GraphNode {
                kind: NodeKind::Operation,
                text: eq.text.clone(),
                latex: eq.latex.clone(),
                shape: None,
            });
            self.operation_of.insert(eq.node, op);
            // Each operand's node → the steps at which it is used.
            let mut operands: IndexMap<usize, Vec<u64>> = IndexMap::new();
            for &(k, def) in &eq.members {
                let mut used = crate::model::tensors_in(g, def);
                used.sort_unstable();
                used.dedup();
                for u in used {
                    let source = self.node_of[u.0 as usize];
                    let step = split_step(&model.tensor(u).name);
                    if let (Some(k), Some((base, ku))) = (k, step) {
                        let offset = ku as i64 - k as i64;
                        if offset != 0 && self.sequences.contains_key(base) {
                            let earlier = self.earlier(base, offset, u);
                            operands.entry(earlier).or_default().push(k);
                            feeds.entry((source, earlier)).or_default().push(k);
                            continue;
                        }
                    }
                    let steps = operands.entry(source).or_default();
                    if let Some(s) = k.or(self.folded_step[u.0 as usize]) {
                        steps.push(s);
                    }
                }
            }
            for (source, steps) in operands {
                let label = self.step_label(steps, false);
                self.edges.push(GraphEdge { from: source, to: op, kind: EdgeKind::Forward, label });
            }
            self.edges.push(GraphEdge { from: op, to: eq.node, kind: EdgeKind::Forward, label: None });
        }
        for ((source, earlier), steps) in feeds {
            let (kind, label) = if self.sequences.values().any(|&s| s == source) {
                (EdgeKind::Recurrent, self.step_label(steps, true))
            } else {
                (EdgeKind::Forward, self.step_label(steps, false))
            };
            self.edges.push(GraphEdge { from: source, to: earlier, kind, label });
        }
        self.equations = equations;
    }

    /// The node of sequence `base` at `offset` steps from t (`h_{t−1}`),
    /// made on first use from `u`, one of its tensors.
    fn earlier(&mut self, base: &str, offset: i64, u: TensorId) -> usize {
        if let Some(&node) = self.earlier.get(&(base.to_string(), offset)) {
            return node;
        }
        let index = self.view.map(|v| v.index.clone()).unwrap_or_default();
        let step = StepLabel::Relative { index, offset };
        // Drawn as the sequence is (its role and shape), else as `u`.
        let like = self.sequences.get(base).map(|&s| &self.nodes[s]);
        let kind = like.map_or(NodeKind::Tensor(self.model.tensor(u).role), |n| n.kind);
        let shape = like.and_then(|n| n.shape.clone()).unwrap_or_else(|| self.model.tensor(u).shape.clone());
        let node = self.push(GraphNode {
            kind,
            text: step_name(base, &step, T),
            latex: step_name(base, &step, L),
            shape: Some(shape),
        });
        self.earlier.insert((base.to_string(), offset), node);
        node
    }

    /// The steps an edge serves, when not every step: `t = 1`, `t = T`;
    /// for the loop into an earlier step's node, always, with T:
    /// `t = 2..T (T = 3)`.
    fn step_label(&self, mut steps: Vec<u64>, with_count: bool) -> Option<EdgeLabel> {
        let view = self.view?;
        steps.sort_unstable();
        steps.dedup();
        let every = steps.len() as u64 == view.last - view.first + 1;
        if steps.is_empty() || (every && !with_count) {
            return None;
        }
        let i = &view.index;
        let (first, last) = (view.first, view.last);
        let step = |k: u64| if k == last && k != first { "T".to_string() } else { k.to_string() };
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for k in steps {
            match ranges.last_mut() {
                Some((_, b)) if *b + 1 == k => *b = k,
                _ => ranges.push((k, k)),
            }
        }
        let text = |through: &str| {
            let parts: Vec<String> = ranges
                .iter()
                .map(|&(a, b)| if a == b { step(a) } else { format!("{}{through}{}", step(a), step(b)) })
                .collect();
            let count = if with_count { format!(" (T = {last})") } else { String::new() };
            format!("{i} = {}{count}", parts.join(", "))
        };
        Some(EdgeLabel { text: text(".."), latex: text(", \\dots, ") })
    }

    /// The backward flow: each edge that carries a gradient, reversed, and
    /// each error term and parameter gradient beside its node.
    fn backward(&mut self) {
        let n = self.nodes.len();
        let forward: Vec<(usize, usize)> = self
            .edges
            .iter()
            .filter(|e| matches!(e.kind, EdgeKind::Forward | EdgeKind::Recurrent))
            .map(|e| (e.from, e.to))
            .collect();
        let params: Vec<usize> = self.model.params().map(|p| self.node_of[p.0 as usize]).collect();
        let depends_on_a_parameter = reachable(n, &forward, &params, false);
        let loss = self.node_of[self.model.loss.0 as usize];
        let reaches_the_loss = reachable(n, &forward, &[loss], true);
        for &(a, b) in &forward {
            if depends_on_a_parameter[a] && reaches_the_loss[b] {
                self.edges.push(GraphEdge { from: b, to: a, kind: EdgeKind::Backward, label: None });
            }
        }

        let (d, g) = (self.d, &self.d.graph);
        let mut notes: Vec<(usize, String, String)> = Vec::new();
        match self.view {
            None => {
                for s in symbols_by_step(self.model, d) {
                    let sym = d.symbol(s);
                    let names = &self.names;
                    let text = format!("{} = {}", formula(g, sym.node, names, T), formula(g, sym.formula, names, T));
                    let latex = format!("{} = {}", formula(g, sym.node, names, L), formula(g, sym.formula, names, L));
                    notes.push((self.owner(sym), text, latex));
                }
            }
            Some(view) => {
                for group in &view.groups {
                    if let Some(general) = &group.general {
                        let at = self.at(general.step);
                        let sym = d.symbol(general.symbol);
                        let holds = holds_text(view, &self.names, general, d);
                        let text = format!(
                            "{} = {}\n({holds})",
                            formula(g, sym.node, &at, T),
                            formula(g, sym.formula, &at, T)
                        );
                        let latex = format!("{} = {}", formula(g, sym.node, &at, L), formula(g, sym.formula, &at, L));
                        notes.push((self.owner(sym), text, latex));
                    }
                    for &s in &group.others {
                        let sym = d.symbol(s);
                        let near = &self.near;
                        let text = format!("{} = {}", formula(g, sym.node, near, T), formula(g, sym.formula, near, T));
                        let latex = format!("{} = {}", formula(g, sym.node, near, L), formula(g, sym.formula, near, L));
                        notes.push((self.owner(sym), text, latex));
                    }
                }
            }
        }
        for (i, grad) in d.gradients.iter().enumerate() {
            let lhs = |n: Notation| self.names.gradient_of(Wrt::Tensor(grad.param), n, g);
            let rhs =
                |n: Notation| match self.view.and_then(|v| v.gradients.get(i).and_then(Option::as_ref).map(|s| (v, s)))
                {
                    Some((view, sum)) => time_sum_text(g, sum, &self.names, view, n),
                    None => formula(g, grad.formula, &self.near, n),
                };
            let node = self.node_of[grad.param.0 as usize];
            notes.push((node, format!("{} = {}", lhs(T), rhs(T)), format!("{} = {}", lhs(L), rhs(L))));
        }
        for (owner, text, latex) in notes {
            let note = self.push(GraphNode { kind: NodeKind::Gradient, text, latex, shape: None });
            self.edges.push(GraphEdge { from: owner, to: note, kind: EdgeKind::Beside, label: None });
        }
    }

    /// The node an error term belongs to: the tensor it is the gradient of,
    /// or the operation whose unnamed pre-activation it is the gradient of.
    fn owner(&self, sym: &Symbol) -> usize {
        match sym.wrt {
            Wrt::Tensor(t) => self.node_of[t.0 as usize],
            Wrt::Node(_) => {
                let node = self.node_of[sym.owner.0 as usize];
                self.operation_of.get(&node).copied().unwrap_or(node)
            }
        }
    }
}

/// Which nodes are reachable from `seeds` along `edges` (against them with
/// `reverse`). A worklist, so that a recurrence's loops end it.
fn reachable(n: usize, edges: &[(usize, usize)], seeds: &[usize], reverse: bool) -> Vec<bool> {
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        if reverse {
            next[b].push(a);
        } else {
            next[a].push(b);
        }
    }
    let mut seen = vec![false; n];
    let mut work: Vec<usize> = seeds.to_vec();
    while let Some(v) = work.pop() {
        if !std::mem::replace(&mut seen[v], true) {
            work.extend(next[v].iter().copied().filter(|&w| !seen[w]));
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(text: &str, backward: bool) -> ComputationGraph {
        let model = crate::load(&crate::Source::new("net.nn", text)).expect("the test network loads");
        let d = crate::derive::derive(&model);
        build(&model, &d, backward)
    }

    fn texts(g: &ComputationGraph, kind: NodeKind) -> Vec<&str> {
        g.nodes.iter().filter(|n| n.kind == kind).map(|n| n.text.as_str()).collect()
    }

    /// A 512-wide layer is one node of shape [512, 784]: the graph is of tensors.
    #[test]
    fn a_wide_layer_is_one_node() {
        let g = graph(
            "input x[784]\ntarget y[10]\nparam W1[512,784]\nparam W2[10,512]\n\
             h = relu(W1 @ x)\np = softmax(W2 @ h)\nloss L = cross_entropy(y, p)\n",
            false,
        );
        // The pre-activations the file leaves unnamed are named (zh, zp),
        // each a tensor of its own, as the forward equations show them.
        let operations = ["W1 x", "relu(zh)", "W2 h", "softmax(zp)", "cross_entropy(y, p)"];
        assert_eq!(texts(&g, NodeKind::Operation), operations);
        assert_eq!(g.count(NodeKind::Tensor(Role::Param)), 2);
        let w1 = g.nodes.iter().find(|n| n.text == "W1").expect("W1 is drawn");
        assert_eq!(w1.shape.as_ref().map(|s| s.dims().to_vec()), Some(vec![512, 784]));
        let zh = g.nodes.iter().find(|n| n.text == "zh").expect("zh is drawn");
        assert_eq!(zh.shape.as_ref().map(|s| s.dims().to_vec()), Some(vec![512]));
        // x, W1, zh, h, W2, zp, p, y, L and the five operations.
        assert_eq!(g.nodes.len(), 9 + 5);
        // x, W1 → W1 x; zh → relu; W2, h → W2 h; zp → softmax; y, p → loss;
        // and each operation → its result.
        assert_eq!(g.edges.len(), 8 + 5);
    }

    /// An error term sits beside the tensor it is the gradient of (here the
    /// pre-activation nnderive named, zo = W x); a parameter's gradient
    /// beside the parameter.
    #[test]
    fn each_gradient_sits_beside_its_node() {
        let g = graph(
            "input x[2] = [1, 2]\ntarget y[1] = [1]\nparam W[1,2] = [[0.5, -0.25]]\n\
             o = sigmoid(W @ x)\nloss E = 0.5 * sum((y - o)^2)\n",
            true,
        );
        let beside: Vec<(&str, &str)> = g
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::Beside)
            .map(|e| (g.nodes[e.from].text.as_str(), g.nodes[e.to].text.as_str()))
            .collect();
        assert_eq!(beside, [("zo", "δ1 = (o − y) ⊙ o ⊙ (1 − o)"), ("W", "∂E/∂W = δ1 xᵀ")]);
    }

    /// The backward flow reverses exactly the edges between a parameter and
    /// the loss: not the one from the input, nor the one from the target.
    #[test]
    fn the_backward_flow_skips_inputs_and_targets() {
        let g = graph(
            "input x[2] = [1, 2]\ntarget y[1] = [1]\nparam W[1,2] = [[1, 1]]\n\
             z = W @ x\nloss L = 0.5 * sum((y - z)^2)\n",
            true,
        );
        let name = |i: usize| g.nodes[i].text.as_str();
        let back: Vec<(&str, &str)> =
            g.edges.iter().filter(|e| e.kind == EdgeKind::Backward).map(|e| (name(e.from), name(e.to))).collect();
        assert_eq!(
            back,
            [("W x", "W"), ("z", "W x"), ("0.5 Σ((y − z)²)", "z"), ("L", "0.5 Σ((y − z)²)")],
            "the gradient flows from L back to W only"
        );
        assert_eq!(texts(&g, NodeKind::Gradient), ["δ1 = z − y", "∂L/∂W = δ1 xᵀ"]);
    }
}
