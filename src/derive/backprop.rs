//! Reverse-mode derivation over the model's equations.

use std::collections::{BTreeSet, HashMap, HashSet};

use num_rational::BigRational;
use num_traits::{One, Zero};

use super::adjoint::local_adjoints;
use super::rules;
use super::simplify::{self, Candidates, Rewrite};
use super::size::{occurrences, tree_size};
use super::{Derivation, FnDerivative, Gradient, Step, StepRule, Symbol, SymbolKind, TargetSum, Wrt};
use crate::model::{
    Axis, ConvPart, Fired, FnId, Func, Graph, Model, Node, NodeHasher, NodeId, NodeMap, NodeSet, Role, SymbolId,
    TensorId,
};

/// A map keyed by small ids, hashed as the graph's nodes are (see
/// [`NodeHasher`]): the reverse pass looks its maps up at every node of
/// every equation.
type IdMap<K, V> = HashMap<K, V, NodeHasher>;

/// A gradient contribution reaching a named tensor from one equation.
struct Contribution {
    expr: NodeId,
    rules: Vec<&'static str>,
    explanation: Option<NodeId>,
    from: TensorId,
    /// The simplifications that shaped `expr` (those steps name).
    simplified: Fired,
}

impl Contribution {
    /// `expr` from equation `from`, with no rule behind it yet (a seed).
    fn plain(expr: NodeId, from: TensorId) -> Contribution {
        Contribution { expr, rules: vec![], explanation: None, from, simplified: Fired::default() }
    }
}

/// A δ met inside an equation, defined once the equation's seed is settled.
struct PendingDelta {
    symbol: SymbolId,
    raw: NodeId,
    rules: Vec<&'static str>,
    explanation: Option<NodeId>,
    from: TensorId,
    simplified: Fired,
}

struct Backprop<'m> {
    model: &'m Model,
    g: Graph,
    symbols: Vec<Symbol>,
    defined: Vec<SymbolId>,
    /// Tensors whose value depends on a parameter.
    needs: Vec<bool>,
    /// Memo: does a node of some equation depend on a parameter?
    node_needs: NodeMap<bool>,
    /// Each tensor's place in the forward order (data first, at 0).
    position: Vec<usize>,
    /// δ layer numbers for (equation, node).
    layers: IdMap<(TensorId, NodeId), usize>,
    contributions: IdMap<TensorId, Vec<Contribution>>,
    /// For each inlined symbol, its formula; defined symbols are absent.
    inline: IdMap<SymbolId, NodeId>,
    /// Steps that explain each inlined symbol, inherited by its users.
    inline_steps: IdMap<SymbolId, Vec<Step>>,
    /// The general form (before Σy = 1) of inlined symbols that have one.
    inline_general: IdMap<SymbolId, NodeId>,
    /// Targets that may be taken to sum to one, and how we know.
    target_sums: Vec<TargetSum>,
    /// Each equation's right-hand side with aliases resolved (see `resolve_aliases`).
    defs: Vec<Option<NodeId>>,
    /// Sequences (by base name, `h` for `h[t]`) whose gradient is defined at
    /// every step (see [`derive`]).
    defined_sequences: HashSet<String>,
    /// In a network in time, each tensor's statement and step, (statement,
    /// step): the order the gradients reaching a tensor are summed in.
    time_order: Option<Vec<(usize, u64)>>,
    /// Named gradients that are a layer's error term of their own (a
    /// normalization's G = ∂L/∂out, a sequence's ∂L/∂h_t), beside the δ's.
    own_sections: HashSet<SymbolId>,
}

/// Derives the gradient of the loss with respect to every parameter.
///
/// In a network in time, a sequence's gradient `∂L/∂h_t` is either named at
/// every step or at none: a recurrence in t needs `∂L/∂h_T` as a symbol of
/// its own when `∂L/∂h_{T−1}` is one, or the last steps' formulas have it
/// written out and no longer read as the general one. Whether a step's
/// gradient is named depends on its size, which differs at the last step,
/// so the derivation is run again with the sequences found mixed named at
/// every step; a few rounds settle it (each adds a sequence, and a sequence
/// named everywhere stays so), and a network still mixed after them is
/// derived correctly, only with fewer formulas in t. A round that is run
/// again stops as soon as it is known to be (see [`derive_naming`]): only
/// the last round's gradients, conventions and time view are made.
pub fn derive(model: &Model) -> Derivation {
    let mut sequences = HashSet::new();
    let mut round = 0;
    let mut derivation = loop {
        match derive_naming(model, &sequences, round == MIXED_ROUNDS) {
            Ok(derivation) => break derivation,
            Err(mixed) => sequences.extend(mixed),
        }
        round += 1;
    };
    derivation.time = super::time::view(model, &mut derivation);
    derivation
}

/// How many times [`derive`] runs again to name a sequence's gradient at every step.
const MIXED_ROUNDS: usize = 3;

/// The sequences whose gradient is named at some steps and written out at
/// others (where a step's gradient is zero, it is neither), among the
/// error terms `symbols` of a derivation of `model`.
fn mixed_sequences(model: &Model, symbols: &[Symbol]) -> HashSet<String> {
    if model.time.is_none() {
        return HashSet::new();
    }
    let mut named: HashMap<&str, (bool, bool)> = HashMap::new();
    for s in symbols {
        if s.kind != SymbolKind::Adjoint {
            continue;
        }
        let Wrt::Tensor(t) = s.wrt else { continue };
        if t == model.loss {
            continue;
        }
        let Some((base, _)) = crate::model::time::split_step(&model.tensor(t).name) else { continue };
        let entry = named.entry(base).or_default();
        if s.defined {
            entry.0 = true;
        } else {
            entry.1 = true;
        }
    }
    named.into_iter().filter(|(_, (yes, no))| *yes && *no).map(|(base, _)| base.to_string()).collect()
}

/// For a network in time, each tensor's (statement, step): a sequence's
/// statement is the place of its first equation (`h[t] = …`, not the
/// `const h[0]` before it), so the key does not depend on T. A
/// pre-activation nnderive named counts as a statement just before the
/// equation it was taken out of.
fn time_order(model: &Model) -> Option<Vec<(usize, u64)>> {
    model.time.as_ref()?;
    let place = |id: TensorId| match model.introduced_for(id) {
        Some(user) => 2 * user.0 as usize,
        None => 2 * id.0 as usize + 1,
    };
    // The first equation of each sequence, else its first declaration:
    // (whether it is undefined, place), least first.
    let mut statement: HashMap<&str, (bool, usize)> = HashMap::new();
    for id in model.ids() {
        let tensor = model.tensor(id);
        if let Some((base, _)) = crate::model::time::split_step(&tensor.name) {
            let here = (tensor.definition.is_none(), place(id));
            let first = statement.entry(base).or_insert(here);
            *first = (*first).min(here);
        }
    }
    let key = |id: TensorId| match crate::model::time::split_step(&model.tensor(id).name) {
        Some((base, k)) => (statement[base].1, k),
        None => (place(id), 0),
    };
    Some(model.ids().map(key).collect())
}

/// [`derive`] with the gradients of `sequences` named at every step; or,
/// unless it is the `last` round, the sequences found mixed when some are
/// not among `sequences` (the derivation is then made again with them).
/// Whether a sequence's gradient is named is settled once every equation
/// has been met (no later part of the derivation defines a `∂L/∂h_t`), so
/// a round that will be made again stops there.
fn derive_naming(model: &Model, sequences: &HashSet<String>, last: bool) -> Result<Derivation, HashSet<String>> {
    let defined_sequences = sequences.clone();
    let mut b = Backprop {
        model,
        g: model.graph.clone(),
        symbols: Vec::new(),
        defined: Vec::new(),
        needs: vec![false; model.tensors.len()],
        node_needs: NodeMap::default(),
        layers: IdMap::default(),
        position: {
            let mut position = vec![0; model.tensors.len()];
            for (i, t) in model.order.iter().enumerate() {
                position[t.0 as usize] = i + 1;
            }
            position
        },
        contributions: IdMap::default(),
        inline: IdMap::default(),
        inline_steps: IdMap::default(),
        inline_general: IdMap::default(),
        target_sums: target_sums(model),
        defs: vec![None; model.tensors.len()],
        defined_sequences,
        time_order: time_order(model),
        own_sections: HashSet::new(),
    };
    b.resolve_aliases();
    b.mark_needs();
    b.number_layers();
    let one = b.g.int(1);
    b.contributions.entry(model.loss).or_default().push(Contribution::plain(one, model.loss));
    for &v in model.order.iter().rev() {
        b.equation(v);
    }
    if !last {
        let mixed = mixed_sequences(model, &b.symbols);
        if !mixed.is_subset(&b.defined_sequences) {
            return Err(mixed);
        }
    }
    let mut gradients: Vec<Gradient> = model.params().map(|p| b.gradient(p)).collect();
    super::sections::state_once(&mut gradients);
    if model.time.is_none() {
        // A recurrence's sections are its steps in t (see `time`).
        super::sections::fold(&b.g, &mut b.symbols, &b.defined, &b.own_sections);
    }
    let fn_derivatives = b.fn_derivatives();
    let mut conventions = b.conventions(&fn_derivatives);
    conventions.extend(b.layer_conventions(&gradients));
    let used = b.used_target_sums();
    let target_sums = b.target_sums.iter().filter(|t| used.contains(&(t.target, t.axis))).cloned().collect();
    Ok(Derivation {
        graph: b.g,
        symbols: b.symbols,
        defined: b.defined,
        gradients,
        fn_derivatives,
        conventions,
        target_sums,
        time: None,
    })
}

/// Which targets may be taken to sum to one: those whose values do, and
/// those without values (assumed, and said so). A matrix of targets (a
/// batch) may also sum to one along either axis, each column or each row.
fn target_sums(model: &Model) -> Vec<TargetSum> {
    let mut out = Vec::new();
    for id in model.ids().filter(|&id| model.tensor(id).role == Role::Target) {
        let tensor = model.tensor(id);
        let values = tensor.exact_value();
        let whole = values.as_ref().map(|v| v.iter().fold(BigRational::zero(), |a, b| a + b).is_one());
        out.push(TargetSum { target: id, axis: None, verified: whole });
        let Some((m, n)) = tensor.shape.as_matrix().filter(|_| tensor.shape.vector_axis().is_none()) else {
            continue;
        };
        for axis in [Axis::DOWN, Axis::ACROSS] {
            // Each lane along `axis`: a column (axis 0) or a row (axis 1).
            let lanes = if axis == Axis::DOWN { n } else { m };
            let entry = |lane: usize, k: usize| if axis == Axis::DOWN { k * n + lane } else { lane * n + k };
            let len = tensor.shape.axis_len(axis);
            let verified = values.as_ref().map(|v| {
                (0..lanes).all(|lane| (0..len).fold(BigRational::zero(), |a, k| a + &v[entry(lane, k)]).is_one())
            });
            out.push(TargetSum { target: id, axis: Some(axis), verified });
        }
    }
    out
}

impl<'m> Backprop<'m> {
    fn mark_needs(&mut self) {
        for id in self.model.ids() {
            if self.model.tensor(id).role == Role::Param {
                self.needs[id.0 as usize] = true;
            }
        }
        for &id in &self.model.order {
            if let Some(def) = self.defs[id.0 as usize] {
                self.needs[id.0 as usize] = self.needs_node(def);
            }
        }
    }

    /// The tensor that `t` names through alias equations (`y_pred = yhat`,
    /// `loss L = E`), or `t` itself.
    fn resolve(&self, mut t: TensorId) -> TensorId {
        // Equations are acyclic, so the chain ends; the bound is for safety.
        for _ in 0..self.model.tensors.len() {
            match self.model.tensor(t).definition.map(|d| self.model.graph.node(d)) {
                Some(Node::Tensor(u)) => t = *u,
                _ => break,
            }
        }
        t
    }

    /// Each equation's right-hand side with aliases replaced by what they
    /// name, so that `y_pred = yhat` does not hide `yhat ⊙ (y ⊘ yhat)` from
    /// the cancellation, and an alias adds no step of its own.
    fn resolve_aliases(&mut self) {
        for &id in &self.model.order {
            let Some(def) = self.model.tensor(id).definition else { continue };
            let targets: HashMap<TensorId, TensorId> = crate::model::tensors_in(&self.model.graph, def)
                .into_iter()
                .map(|t| (t, self.resolve(t)))
                .filter(|(t, r)| t != r)
                .collect();
            let def = if targets.is_empty() {
                def
            } else {
                self.g.rewrite(def, &mut |g, n| match g.node(n) {
                    Node::Tensor(t) => targets.get(t).map(|&r| g.tensor(r, g.shape(n).clone())),
                    _ => None,
                })
            };
            self.defs[id.0 as usize] = Some(def);
        }
    }

    /// The loss, or a tensor the loss is an alias of (`loss L = E`): its gradient is 1.
    fn is_loss(&self, v: TensorId) -> bool {
        v == self.model.loss || self.resolve(self.model.loss) == v
    }

    /// Does `n` depend on a parameter? (Memoized, iterative.)
    fn needs_node(&mut self, root: NodeId) -> bool {
        let mut stack = vec![(root, false)];
        while let Some((n, expanded)) = stack.pop() {
            if self.node_needs.contains_key(&n) {
                continue;
            }
            let node = self.g.node(n);
            if let Node::Tensor(t) = node {
                self.node_needs.insert(n, self.needs[t.0 as usize]);
                continue;
            }
            let children = node.children();
            if !expanded {
                stack.push((n, true));
                stack.extend(children.iter().filter(|c| !self.node_needs.contains_key(c)).map(|&c| (c, false)));
                continue;
            }
            let v = children.iter().any(|c| self.node_needs.get(c).copied().unwrap_or(false));
            self.node_needs.insert(n, v);
        }
        self.node_needs[&root]
    }

    /// The nodes of an equation's right-hand side that need a gradient,
    /// parents before children.
    fn rhs_nodes(&mut self, root: NodeId) -> Vec<NodeId> {
        let mut seen = NodeSet::default();
        let mut stack = vec![root];
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) || !self.needs_node(n) {
                continue;
            }
            out.push(n);
            if !matches!(self.g.node(n), Node::Tensor(_)) {
                stack.extend(self.g.node(n).children());
            }
        }
        // Children are always made before their parents, so descending ids
        // are a reverse topological order.
        out.sort_unstable_by(|a, b| b.cmp(a));
        out
    }

    fn is_affine(&self, n: NodeId) -> bool {
        match *self.g.node(n) {
            Node::MatMul(..) | Node::Conv(ConvPart::Forward, ..) => true,
            Node::Add(a, b) | Node::Sub(a, b) => self.is_affine(a) || self.is_affine(b),
            _ => false,
        }
    }

    /// The pre-activations of an equation: maximal affine sub-expressions
    /// (`W @ x + b`) that need a gradient.
    fn pre_activations(&mut self, root: NodeId) -> Vec<NodeId> {
        let nodes = self.rhs_nodes(root);
        let mut inner = NodeSet::default();
        for &n in &nodes {
            if let Node::Add(a, b) | Node::Sub(a, b) = *self.g.node(n) {
                if self.is_affine(n) {
                    inner.insert(a);
                    inner.insert(b);
                }
            }
        }
        let mut found: Vec<NodeId> = nodes.into_iter().filter(|n| self.is_affine(*n) && !inner.contains(n)).collect();
        found.sort_unstable();
        found
    }

    /// Numbers the δ's by layer, in forward order; when every layer's
    /// pre-activation is an equation whose name carries a distinct number
    /// (Nielsen's `z2`, `z3`), the δ's take those numbers (δ2, δ3).
    fn number_layers(&mut self) {
        self.count_layers();
        let mut numbers = Vec::new();
        for &(v, n) in self.layers.keys() {
            // A name nnderive gave (`zh2`) numbers nothing.
            let named = self.defs[v.0 as usize] == Some(n) && self.model.introduced_for(v).is_none();
            let name = &self.model.tensor(v).name;
            let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
            let number = digits.parse::<usize>().ok().filter(|_| named && !digits.is_empty() && digits.len() < 6);
            numbers.push(((v, n), number));
        }
        let found: Vec<usize> = numbers.iter().filter_map(|(_, k)| *k).collect();
        let mut distinct = found.clone();
        distinct.sort_unstable();
        distinct.dedup();
        // Only when names number every layer, each differently, in the forward order.
        let mut by_position: Vec<(usize, usize)> = self.layers.values().copied().zip(found.iter().copied()).collect();
        by_position.sort_unstable();
        let increasing = by_position.windows(2).all(|w| w[0].1 < w[1].1);
        if found.len() == numbers.len() && distinct.len() == found.len() && increasing && !found.is_empty() {
            for (key, number) in numbers {
                if let Some(k) = number {
                    self.layers.insert(key, k);
                }
            }
        }
    }

    /// Numbers the δ's 1, 2, … by layer, in forward order.
    fn count_layers(&mut self) {
        let mut k = 0;
        for &v in &self.model.order {
            if !self.needs[v.0 as usize] {
                continue;
            }
            let Some(def) = self.defs[v.0 as usize] else {
                continue;
            };
            for n in self.pre_activations(def) {
                // The loss itself is no layer: ∂L/∂L = 1 needs no name.
                if self.is_loss(v) && n == def {
                    continue;
                }
                k += 1;
                self.layers.insert((v, n), k);
            }
        }
    }

    fn new_symbol(&mut self, kind: SymbolKind, wrt: Wrt, shape: crate::model::Shape, owner: TensorId) -> SymbolId {
        let id = SymbolId(self.symbols.len() as u32);
        let node = self.g.symbol(id, shape.clone());
        self.symbols.push(Symbol {
            kind,
            wrt,
            shape,
            node,
            formula: node,
            general: None,
            steps: Vec::new(),
            defined: false,
            owner,
            within: None,
        });
        id
    }

    /// Propagates the gradient of equation `v` into everything it uses: its
    /// seed ∂L/∂v is worked out from the contributions that reached it, then
    /// passed down the right-hand side, defining the δ's met on the way and
    /// handing what reaches other tensors on to their equations.
    fn equation(&mut self, v: TensorId) {
        let Some(mut contribs) = self.contributions.remove(&v) else {
            return;
        };
        if let Some(order) = &self.time_order {
            // By statement, then step, latest first: the order in which the
            // equations are met depends on T, and a sum in t must not.
            contribs.sort_by_key(|c| std::cmp::Reverse(order[c.from.0 as usize]));
        }
        let Some(root) = self.defs[v.0 as usize] else { return };
        let shape = self.model.tensor(v).shape.clone();
        let seed = self.new_symbol(SymbolKind::Adjoint, Wrt::Tensor(v), shape, v);
        let is_loss = self.is_loss(v);
        // The loss's own gradient is 1; writing it as ∂L/∂L would only add noise.
        let seed_node = if is_loss { self.g.int(1) } else { self.symbols[seed.0 as usize].node };

        // The seed's own formula and the steps that explain it.
        let (raw, summed) = self.sum_contributions(&contribs);
        let own = if is_loss { Vec::new() } else { own_steps(Wrt::Tensor(v), raw, &contribs, summed) };
        let (formula, general, steps) = self.settle(raw, own);
        let (formula, general, steps) = self.closed_form(v, &contribs, (formula, general, steps));

        let (pending, reaching) = self.propagate(v, root, seed_node);
        let uses: u64 = reaching
            .iter()
            .map(|(_, c)| c.expr)
            .chain(pending.iter().map(|p| p.raw))
            .map(|e| occurrences(&self.g, e, seed_node))
            .sum();
        // A δ that is the whole equation's gradient (`Z = X @ W`, δ = ∂L/∂Z)
        // is that gradient: its lines are the δ's, not a section of their own.
        let seed_is_delta =
            pending.iter().any(|p| p.raw == seed_node && self.symbols[p.symbol.0 as usize].wrt == Wrt::Tensor(v));
        self.place_seed(seed, is_loss, uses, seed_is_delta, (formula, general, steps));
        for p in pending {
            self.define_delta(p, seed_node);
        }
        for (t, c) in reaching {
            self.contributions.entry(t).or_default().push(c);
        }
    }

    /// Backprop through the right-hand side `root` of equation `v`, with its
    /// gradient the node `seed`: the δ's met on the way (to be defined once
    /// the seed is), and the contributions that reach named tensors.
    fn propagate(
        &mut self,
        v: TensorId,
        root: NodeId,
        seed: NodeId,
    ) -> (Vec<PendingDelta>, Vec<(TensorId, Contribution)>) {
        let nodes = self.rhs_nodes(root);
        let leaf = self.g.tensor(v, self.model.tensor(v).shape.clone());
        // Every contribution to a node, in the order they arrive: parents
        // are visited last-made first, so that is the reverse of the source.
        let mut adj: NodeMap<Vec<Contribution>> = NodeMap::default();
        adj.insert(root, vec![Contribution::plain(seed, v)]);
        let mut pending = Vec::new();
        let mut reaching: Vec<(TensorId, Contribution)> = Vec::new();
        for n in nodes {
            let Some(arrived) = adj.remove(&n) else { continue };
            let mut c = self.merge(arrived, v);
            if let Node::Tensor(t) = *self.g.node(n) {
                reaching.push((t, c));
                continue;
            }
            if let Some(&layer) = self.layers.get(&(v, n)) {
                let wrt = if n == root { Wrt::Tensor(v) } else { Wrt::Node(n) };
                let shape = self.g.shape(n).clone();
                let symbol = self.new_symbol(SymbolKind::Delta { layer }, wrt, shape, v);
                pending.push(PendingDelta {
                    symbol,
                    raw: c.expr,
                    rules: c.rules,
                    explanation: c.explanation,
                    from: v,
                    simplified: c.simplified,
                });
                c = Contribution::plain(self.symbols[symbol.0 as usize].node, v);
            }
            let out = if n == root { leaf } else { n };
            let wants_memo: NodeMap<bool> = self
                .g
                .node(n)
                .children()
                .into_iter()
                .map(|ch| (ch, self.node_needs.get(&ch).copied().unwrap_or(false)))
                .collect();
            let locals =
                local_adjoints(&mut self.g, n, out, c.expr, &|ch| wants_memo.get(&ch).copied().unwrap_or(false));
            for l in locals {
                let mut rules = c.rules.clone();
                for rule in std::iter::once(l.rule).chain(l.broadcast) {
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
                let contribution = Contribution {
                    expr: l.contribution,
                    rules,
                    explanation: l.explanation,
                    from: v,
                    simplified: c.simplified.union(l.simplified.shown()),
                };
                adj.entry(l.child).or_default().push(contribution);
            }
        }
        (pending, reaching)
    }

    /// Defines the seed of an equation if it is used more than once
    /// (`uses` times in what its equation passed on); otherwise inlines it,
    /// as it does when a δ is the seed itself (`seed_is_delta`): the δ then
    /// has its lines.
    /// Defining it keeps printed formulas linear in the network's size; a
    /// small formula used twice is clearer written out (∂L/∂ŷ = −y ⊘ ŷ in
    /// the softmax Jacobian product).
    fn place_seed(
        &mut self,
        seed: SymbolId,
        is_loss: bool,
        uses: u64,
        seed_is_delta: bool,
        (formula, general, steps): (NodeId, Option<NodeId>, Vec<Step>),
    ) {
        let size = tree_size(&self.g, formula);
        let too_long = size > FOLD_LIMIT || steps.len() > FOLD_STEPS;
        // A normalization's G = ∂L/∂out is named, as the closed form uses
        // it; its ∂L/∂x̂, ∂L/∂σ², ∂L/∂μ are steps toward ∂L/∂X, not error
        // terms of their own. A step of a sequence is named at every step
        // (its recurrence in t reads the same for any T).
        let owner = self.symbols[seed.0 as usize].owner;
        let in_sequence = crate::model::time::split_step(&self.model.tensor(owner).name)
            .is_some_and(|(base, _)| self.defined_sequences.contains(base));
        let norms = &self.model.norms;
        let norm_output = norms.iter().any(|n| n.out == owner);
        let norm_inside = norms.iter().any(|n| [n.mean, n.var, n.xhat].contains(&owner));
        let named_for_size = !norm_inside && !seed_is_delta && ((uses >= 2 && size > INLINE_LIMIT) || too_long);
        if !is_loss && (norm_output || in_sequence || named_for_size) {
            if norm_output || in_sequence {
                self.own_sections.insert(seed);
            }
            self.define(seed, formula, general, steps);
        } else {
            self.inline.insert(seed, formula);
            self.inline_steps.insert(seed, steps);
            if let Some(general) = general {
                self.inline_general.insert(seed, general);
            }
        }
    }

    /// Defines a δ met in an equation whose gradient is `seed`, with the
    /// step that shows how it arises (none when it is the seed itself).
    fn define_delta(&mut self, p: PendingDelta, seed: NodeId) {
        let own = if p.raw == seed {
            Vec::new()
        } else {
            let c = Contribution {
                expr: p.raw,
                rules: p.rules,
                explanation: p.explanation,
                from: p.from,
                simplified: p.simplified,
            };
            let wrt = self.symbols[p.symbol.0 as usize].wrt;
            own_steps(wrt, p.raw, std::slice::from_ref(&c), Fired::default())
        };
        let (formula, general, steps) = self.settle(p.raw, own);
        self.define(p.symbol, formula, general, steps);
    }

    /// The contributions that reached one node within equation `v`, summed
    /// in source order (they arrive in reverse): `f′(Z) + g′(Z)` for `f(Z) + g(Z)`.
    fn merge(&mut self, mut arrived: Vec<Contribution>, v: TensorId) -> Contribution {
        arrived.reverse();
        let mut parts = arrived.into_iter();
        let Some(mut total) = parts.next() else {
            return Contribution::plain(self.g.int(0), v);
        };
        for next in parts {
            self.g.take_fired();
            let expr = self.g.add(total.expr, next.expr);
            let simplified = total.simplified.union(next.simplified).union(self.g.take_fired().shown());
            let explanation = match (total.explanation, next.explanation) {
                (None, None) => None,
                (a, b) => {
                    let a = a.unwrap_or(total.expr);
                    let b = b.unwrap_or(next.expr);
                    Some(self.g.add(a, b))
                }
            };
            for r in next.rules {
                if !total.rules.contains(&r) {
                    total.rules.push(r);
                }
            }
            total = Contribution { expr, rules: total.rules, explanation, from: v, simplified };
        }
        total
    }

    fn define(&mut self, s: SymbolId, formula: NodeId, general: Option<NodeId>, steps: Vec<Step>) {
        let sym = &mut self.symbols[s.0 as usize];
        sym.formula = formula;
        sym.general = general;
        sym.steps = steps;
        sym.defined = true;
        self.defined.push(s);
    }

    /// Substitutes inlined symbols into `raw` and simplifies, recording each
    /// change as a step after the inherited and `own` steps. Returns the
    /// formula, the general form before Σy = 1 (if that was used), and the steps.
    fn settle(&mut self, raw: NodeId, own: Vec<Step>) -> (NodeId, Option<NodeId>, Vec<Step>) {
        let symbols = symbols_in(&self.g, raw);
        let mut steps = self.inherited_steps(&symbols);
        for s in own {
            if !steps.contains(&s) {
                steps.push(s);
            }
        }
        let inline = &self.inline;
        // Each step takes the simplifications that fired while it was made.
        self.g.take_fired();
        let mut expr = if symbols.iter().any(|s| inline.contains_key(s)) {
            self.g.rewrite(raw, &mut |g, n| match g.node(n) {
                Node::Symbol(s) => inline.get(s).copied(),
                _ => None,
            })
        } else {
            raw
        };
        let continue_with = |steps: &mut Vec<Step>, e: NodeId, rules: Vec<StepRule>, simplified: Fired| {
            // A step that changes nothing is not worth a line.
            if steps.last().map(|s| s.expr) != Some(e) {
                steps.push(Step { lhs: None, expr: e, rules, from: vec![], simplified });
            }
        };
        let simplified = self.g.take_fired().shown();
        if expr != raw && !steps.is_empty() {
            continue_with(&mut steps, expr, vec![StepRule::Named("substitute")], simplified);
        }
        // Rules that cannot change the formula are not run over it.
        let mut candidates = Candidates::of(&self.g, expr);
        for rule in [Rewrite::Cancel, Rewrite::Logistic, Rewrite::ClearDenominators, Rewrite::OneHotSums] {
            if !candidates.may_change(rule, &[]) {
                continue;
            }
            let complements: Vec<NodeId> = match rule {
                Rewrite::ClearDenominators => self
                    .g
                    .nodes_under(&[expr])
                    .into_iter()
                    .filter(|&n| self.model.complement(&self.g, n).is_some())
                    .collect(),
                _ => Vec::new(),
            };
            let next = simplify::apply(&mut self.g, expr, rule, &[], &complements);
            let simplified = self.g.take_fired().shown();
            if next != expr {
                // The one-hot sums say whose: `onehot(y) 1 = 1`.
                let named = match rule {
                    Rewrite::OneHotSums => self.one_hot_sums(expr).unwrap_or_else(|| vec![StepRule::Rewrite(rule)]),
                    _ => vec![StepRule::Rewrite(rule)],
                };
                expr = next;
                candidates = Candidates::of(&self.g, expr);
                continue_with(&mut steps, expr, named, simplified);
            }
        }
        let usable: Vec<(TensorId, Option<Axis>)> =
            self.target_sums.iter().filter(|t| t.verified != Some(false)).map(|t| (t.target, t.axis)).collect();
        let next = if candidates.may_change(Rewrite::TargetSumsToOne, &usable) {
            simplify::apply(&mut self.g, expr, Rewrite::TargetSumsToOne, &usable, &[])
        } else {
            expr
        };
        let simplified = self.g.take_fired().shown();
        let mut general = None;
        if next != expr {
            // Name the targets whose sums were replaced: [Σt = 1] for a target t.
            let summed: Vec<StepRule> = tensors_summed(&self.g, expr)
                .into_iter()
                .filter(|t| usable.contains(t))
                .map(|(t, axis)| {
                    // A sequence's target is named once, not per step (y, not y[2]).
                    let name = &self.model.tensor(t).name;
                    let base = crate::model::time::split_step(name).map_or(name.as_str(), |(base, _)| base);
                    StepRule::TargetSum { target: base.to_string(), one_hot: false, axis }
                })
                .collect();
            general = Some(expr);
            expr = next;
            continue_with(&mut steps, expr, summed, simplified);
        } else if symbols.iter().any(|s| self.inline_general.contains_key(s)) {
            // Σy = 1 was used inside a symbol written out here: carry its general form along.
            let (inline, general_of) = (&self.inline, &self.inline_general);
            let mut g_expr = self.g.rewrite(raw, &mut |g, n| match g.node(n) {
                Node::Symbol(s) => general_of.get(s).or_else(|| inline.get(s)).copied(),
                _ => None,
            });
            for rule in [Rewrite::Cancel, Rewrite::Logistic] {
                g_expr = simplify::apply(&mut self.g, g_expr, rule, &[], &[]);
            }
            if g_expr != expr {
                general = Some(g_expr);
            }
        }
        (expr, general, steps)
    }

    /// The one-hot sums in `root` as the rule that removes them: `onehot(y) 1 = 1`.
    fn one_hot_sums(&self, root: NodeId) -> Option<Vec<StepRule>> {
        let mut rules: Vec<StepRule> = Vec::new();
        for n in self.g.nodes_under(&[root]) {
            let (inner, axis) = match *self.g.node(n) {
                Node::SumAxis(inner, axis) => (inner, Some(axis)),
                Node::Reduce(crate::model::Reduction::Sum, inner) => (inner, None),
                _ => continue,
            };
            let Node::OneHot(labels, ..) = *self.g.node(inner) else { continue };
            let Node::Tensor(t) = *self.g.node(labels) else { continue };
            let rule = StepRule::TargetSum { target: self.model.tensor(t).name.clone(), one_hot: true, axis };
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        // In the order of their text (`1ᵀ onehot(y) = 1ᵀ`, `onehot(y) 1 = 1`,
        // `Σonehot(y) = 1`): columns, rows, then whole vectors, each by name.
        rules.sort_by_key(|r| match r {
            StepRule::TargetSum { target, axis, .. } => (
                match axis {
                    Some(a) if *a == Axis::DOWN => 0,
                    Some(_) => 1,
                    None => 2,
                },
                target.clone(),
            ),
            _ => (3, String::new()),
        });
        (!rules.is_empty()).then_some(rules)
    }

    /// The steps of the inlined symbols among `symbols` (those a formula
    /// mentions), nearest the loss first.
    fn inherited_steps(&self, symbols: &[SymbolId]) -> Vec<Step> {
        let mut mentioned: Vec<SymbolId> =
            symbols.iter().copied().filter(|s| self.inline_steps.contains_key(s)).collect();
        mentioned.sort_unstable();
        // A gradient that sums a term from every equation inherits steps
        // from each: a set keeps the check for repeats linear in their number.
        let mut seen: HashSet<&Step, NodeHasher> = HashSet::default();
        let mut out: Vec<Step> = Vec::new();
        for s in mentioned {
            for step in &self.inline_steps[&s] {
                if seen.insert(step) {
                    out.push(step.clone());
                }
            }
        }
        out
    }

    /// The sum of contributions, and the simplifications that adding them made.
    fn sum_contributions(&mut self, contribs: &[Contribution]) -> (NodeId, Fired) {
        self.g.take_fired();
        let total = self.sum(contribs.iter().map(|c| c.expr));
        (total, self.g.take_fired().shown())
    }

    fn sum(&mut self, exprs: impl Iterator<Item = NodeId>) -> NodeId {
        let mut total: Option<NodeId> = None;
        for e in exprs {
            total = Some(match total {
                None => e,
                Some(t) => self.g.add(t, e),
            });
        }
        total.unwrap_or_else(|| self.g.int(0))
    }

    /// The contributions to `t`'s gradient, in forward order of the equations
    /// they come from, so that the main path reads first (`δ1 xᵀ + 0.02 W1`).
    fn take_contributions(&mut self, t: TensorId) -> Option<Vec<Contribution>> {
        let mut contribs = self.contributions.remove(&t)?;
        contribs.sort_by_key(|c| self.position[c.from.0 as usize]);
        Some(contribs)
    }

    fn gradient(&mut self, p: TensorId) -> Gradient {
        let contribs = self.take_contributions(p).unwrap_or_default();
        let (raw, summed) = self.sum_contributions(&contribs);
        let own = own_steps(Wrt::Tensor(p), raw, &contribs, summed);
        let settled = self.settle(raw, own);
        let (formula, _, steps) = self.closed_form(p, &contribs, settled);
        Gradient { param: p, formula, steps }
    }

    /// For the input X of a batch or layer normalization, whose gradient
    /// comes only through the layer's μ, σ² and x̂: the settled staged
    /// formula with one more step, the closed form, which becomes the
    /// result (see [`super::norm`]). Anything else is returned as it is.
    fn closed_form(
        &mut self,
        x: TensorId,
        contribs: &[Contribution],
        (formula, general, mut steps): (NodeId, Option<NodeId>, Vec<Step>),
    ) -> (NodeId, Option<NodeId>, Vec<Step>) {
        let model = self.model;
        let Some(layer) = model.norms.iter().find(|n| n.input == x) else {
            return (formula, general, steps);
        };
        let within = [layer.mean, layer.var, layer.xhat];
        let out_seed =
            self.symbols.iter().position(|s| s.kind == SymbolKind::Adjoint && s.wrt == Wrt::Tensor(layer.out));
        let (true, Some(out_seed)) = (contribs.iter().all(|c| within.contains(&c.from)), out_seed) else {
            return (formula, general, steps);
        };
        let out_seed = SymbolId(out_seed as u32);
        let g_out = match self.inline.get(&out_seed) {
            Some(&f) => f,
            None => self.symbols[out_seed.0 as usize].node,
        };
        self.g.take_fired();
        let Some((rule, closed)) = super::norm::closed_form(&mut self.g, layer, g_out) else {
            return (formula, general, steps);
        };
        let simplified = self.g.take_fired().shown();
        let rules = vec![StepRule::Named(rule)];
        steps.push(Step { lhs: None, expr: closed, rules, from: vec![layer.out], simplified });
        (closed, None, steps)
    }

    /// Works out ∂f/∂t for every parameter t of every custom function.
    fn fn_derivatives(&mut self) -> Vec<FnDerivative> {
        let mut out = Vec::new();
        for (index, f) in self.model.functions.values().enumerate() {
            for wrt in 0..f.params.len() as u32 {
                self.g.take_fired();
                let (body, fired) = differentiate(&mut self.g, f.body, wrt);
                let simplified = fired.shown();
                out.push(FnDerivative { func: FnId(index as u32), wrt, body, simplified });
            }
        }
        out
    }

    fn conventions(&self, fns: &[FnDerivative]) -> BTreeSet<rules::Convention> {
        let mut roots: Vec<NodeId> = self.model.order.iter().filter_map(|&t| self.model.tensor(t).definition).collect();
        roots.extend(self.model.functions.values().map(|f| f.body));
        roots.extend(fns.iter().map(|d| d.body));
        self.g
            .nodes_under(&roots)
            .into_iter()
            .filter_map(|n| match self.g.node(n) {
                Node::Apply(Func::Builtin(e), _) => rules::convention(*e),
                _ => None,
            })
            .collect()
    }

    /// The convolution-layer rules the equations and derived formulas rely on.
    fn layer_conventions(&self, gradients: &[Gradient]) -> BTreeSet<rules::Convention> {
        let mut roots: Vec<NodeId> = self.model.order.iter().filter_map(|&t| self.model.tensor(t).definition).collect();
        roots.extend(gradients.iter().map(|g| g.formula));
        roots.extend(self.symbols.iter().filter(|s| s.defined).map(|s| s.formula));
        let mut found: BTreeSet<rules::Convention> = self
            .g
            .nodes_under(&roots)
            .into_iter()
            // A reshape that only adds or drops ones (a channels-last bias
            // [F] as [1, 1, 1, F]) is not shown, so it states no rule.
            .filter(|&n| match self.g.node(n) {
                Node::Reshape(a, shape) => !crate::model::Shape::same_layout(self.g.shape(*a).dims(), shape.dims()),
                _ => true,
            })
            .flat_map(|n| {
                let own = rules::layer_convention(self.g.node(n)).or_else(|| rules::batch_convention(&self.g, n));
                let windows = rules::pool_window_convention(&self.g, n);
                own.into_iter().chain(rules::map_batch_convention(&self.g, n)).chain(windows)
            })
            .collect();
        // 𝟏 may show only in a step (∂L/∂E = 𝟏, then 𝟏 ⊙ σ′(Z) = σ′(Z)).
        let steps: Vec<NodeId> = gradients
            .iter()
            .flat_map(|g| &g.steps)
            .chain(self.symbols.iter().flat_map(|s| &s.steps))
            .map(|s| s.expr)
            .collect();
        if self.g.nodes_under(&steps).into_iter().any(|n| matches!(self.g.node(n), Node::Ones(_))) {
            found.insert(rules::Convention::Ones);
        }
        found
    }

    /// Targets whose Σ = 1 was actually used (their general form differs),
    /// with the axis summed along.
    fn used_target_sums(&self) -> Vec<(TensorId, Option<Axis>)> {
        let mut out = Vec::new();
        for s in self.symbols.iter().filter(|s| s.defined) {
            if let Some(general) = s.general {
                for t in tensors_summed(&self.g, general) {
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
        }
        // A target whose values do not sum to one keeps the general form;
        // report it when its sum appears in a formula.
        for t in self.target_sums.iter().filter(|t| t.verified == Some(false)) {
            let key = (t.target, t.axis);
            let appears =
                self.symbols.iter().filter(|s| s.defined).any(|s| tensors_summed(&self.g, s.formula).contains(&key));
            if appears && !out.contains(&key) {
                out.push(key);
            }
        }
        out
    }
}

/// The step that shows how the contributions to `wrt` arise; `summed` are
/// the simplifications that adding them up made.
fn own_steps(wrt: Wrt, raw: NodeId, contribs: &[Contribution], summed: Fired) -> Vec<Step> {
    let mut rules: Vec<&str> = Vec::new();
    // One contribution may come from each of thousands of equations: a set
    // keeps `from` free of repeats in linear time.
    let mut from = Vec::new();
    let mut seen: HashSet<TensorId, NodeHasher> = HashSet::default();
    let simplified = contribs.iter().fold(summed, |acc, c| acc.union(c.simplified));
    for c in contribs {
        for r in &c.rules {
            if !rules.contains(r) {
                rules.push(r);
            }
        }
        if seen.insert(c.from) {
            from.push(c.from);
        }
    }
    // Pass-through rules (a sum passes its gradient on unchanged) are only
    // worth naming when nothing else happened.
    if rules.len() > 1 {
        rules.retain(|r| !matches!(*r, "d-add" | "d-sub"));
    }
    let rules: Vec<StepRule> = rules.into_iter().map(StepRule::Named).collect();
    let explained: Vec<NodeId> = contribs.iter().filter_map(|c| c.explanation).collect();
    if contribs.len() == 1 && explained.len() == 1 {
        // The expanded line is where the constructors' simplifications show.
        vec![
            Step { lhs: Some(wrt), expr: explained[0], rules, from, simplified: Fired::default() },
            Step { lhs: None, expr: raw, rules: vec![StepRule::Named("expand")], from: vec![], simplified },
        ]
    } else {
        vec![Step { lhs: Some(wrt), expr: raw, rules, from, simplified }]
    }
}

/// Formulas with at most this many nodes (read as a tree) are written out
/// wherever they are used instead of getting a name of their own.
const INLINE_LIMIT: u64 = 8;

/// A gradient used once is folded into its user unless its formula grew past
/// this many nodes or its derivation past [`FOLD_STEPS`] lines: in a chain of
/// non-affine equations (`Hk = sin(Hk-1)`) folding everything would make
/// every formula, and the steps that explain it, as long as the chain, and the
/// printed derivation quadratic in the depth.
const FOLD_LIMIT: u64 = 40;

/// See [`FOLD_LIMIT`].
const FOLD_STEPS: usize = 12;

/// The symbols a formula mentions.
fn symbols_in(g: &Graph, root: NodeId) -> Vec<SymbolId> {
    g.nodes_under(&[root])
        .into_iter()
        .filter_map(|n| match g.node(n) {
            Node::Symbol(s) => Some(*s),
            _ => None,
        })
        .collect()
}

/// Tensors that appear as `sum(t)` (axis `None`) or summed along an axis
/// (1ᵀt, t 1) in a formula.
fn tensors_summed(g: &Graph, root: NodeId) -> Vec<(TensorId, Option<Axis>)> {
    g.nodes_under(&[root]).into_iter().filter_map(|n| simplify::summed_tensor(g, n)).collect()
}

/// ∂body/∂t for the parameter `wrt` of a scalar function body: the chain
/// rule over the same local rules back-propagation uses
/// ([`local_adjoints`] with the seed 1, which gives each ∂node/∂operand),
/// so there is one calculus. Forward mode: each node's derivative is
/// Σᵢ ∂node/∂operandᵢ · (the operand's derivative). Also returns the
/// simplifications the local rules made.
fn differentiate(g: &mut Graph, body: NodeId, wrt: u32) -> (NodeId, Fired) {
    let one = g.int(1);
    let mut fired = Fired::default();
    let mut memo: NodeMap<NodeId> = NodeMap::default();
    let mut stack = vec![(body, false)];
    while let Some((n, expanded)) = stack.pop() {
        if memo.contains_key(&n) {
            continue;
        }
        let children = g.node(n).children();
        if !expanded && !children.is_empty() {
            stack.push((n, true));
            stack.extend(children.iter().filter(|c| !memo.contains_key(c)).map(|&c| (c, false)));
            continue;
        }
        let value = match *g.node(n) {
            Node::Param(i) => g.int(i64::from(i == wrt)),
            // Every other node by its local rule; one without operands
            // (a number, a tensor) has none, and the derivative 0.
            _ => {
                // local_adjoints starts afresh: keep what fired so far.
                fired = fired.union(g.take_fired());
                let locals = local_adjoints(g, n, n, one, &|_| true);
                let mut total = g.int(0);
                for l in locals {
                    fired = fired.union(l.simplified);
                    let term = g.mul(l.contribution, memo[&l.child]);
                    total = g.add(total, term);
                }
                total
            }
        };
        memo.insert(n, value);
    }
    (memo[&body], fired.union(g.take_fired()))
}
