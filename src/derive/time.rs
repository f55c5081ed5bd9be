//! The derivation of a recurrent network as one recurrence in t.
//!
//! The model is unrolled ([`crate::model::time`]), so every step has its
//! own equations, error terms and gradient terms. Here those per-step
//! formulas are folded back: a formula at a representative step r is
//! shifted to every other step k (each step-k tensor `h[j]` becomes
//! `h[j + k − r]`, each error term likewise) and compared, node for node in
//! the canonical graph, with the formula actually derived at step k. Only
//! what matches is printed once in t, so the general form is checked against
//! the unrolled formulas by construction; what does not match (the last
//! step of a many-to-one network) is printed on its own.
//!
//! Error terms of steps after the last are zero (`δh_{T+1} = 0`): shifting
//! drops them through the linear operations that carry them, and the
//! result must still equal the derived formula. The work is linear in T:
//! a few candidate steps, each shifted to every step.

use std::collections::{HashMap, HashSet};

use super::{Derivation, SymbolKind};
use crate::model::time::split_step;
use crate::model::{Graph, Model, Node, NodeHasher, NodeId, NodeMap, Reduction, SymbolId, TensorId};

/// The recurrence view of a derivation.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeView {
    /// The time index, `t`.
    pub index: String,
    pub first: u64,
    pub last: u64,
    /// The forward equations, in file order.
    pub forward: Vec<Forward>,
    /// The defined symbols grouped by sequence, in derivation order.
    pub groups: Vec<SymbolGroup>,
    /// Parallel to the derivation's gradients.
    pub gradients: Vec<Option<TimeSum>>,
}

/// A forward equation in the recurrence view.
#[derive(Clone, Debug, PartialEq)]
pub enum Forward {
    /// Every step of a sequence is the same equation in t: printed once, as
    /// the equation of `tensor` (step `step`) with steps relative to it.
    Template { tensor: TensorId, step: u64 },
    /// An equation printed as it is (an untimed one may be a sum over time).
    Plain { tensor: TensorId, sum: Option<TimeSum> },
}

/// The error terms (or named gradients) of one sequence, one per step.
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolGroup {
    /// The symbol printed in general form, its step, and the steps where the
    /// general form holds; `None` when no two steps share a form.
    pub general: Option<General>,
    /// Symbols printed as they are, latest step first.
    pub others: Vec<SymbolId>,
}

/// A formula that holds at several steps.
#[derive(Clone, Debug, PartialEq)]
pub struct General {
    pub symbol: SymbolId,
    pub step: u64,
    /// The steps where it holds, ascending.
    pub holds: Vec<u64>,
    /// Whether error terms after the last step were taken as zero.
    pub zero_after_last: bool,
    /// Those error terms, as the symbols of the general formula (at `step`)
    /// that were shifted past the last step, each with its step: the note
    /// names them (`δh_{T+1} = 0`), and they need not be the formula's own.
    pub zeroed: Vec<(SymbolId, u64)>,
}

/// A sum with one term per step: `Σ_t pattern` plus terms outside it.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSum {
    /// The constant factor in front of the sum, if any.
    pub factor: Option<NodeId>,
    /// The constant the sum is divided by (`mean(… for t)`), if any.
    pub divisor: Option<NodeId>,
    /// Each pattern at step `step`; Σ_t runs over every step.
    pub patterns: Vec<NodeId>,
    pub step: u64,
    /// Terms that belong to no pattern.
    pub rest: Vec<NodeId>,
    /// The terms of the patterns at every step, latest step first.
    pub terms: Vec<NodeId>,
}

/// Where each step-indexed tensor and symbol sits. Sequences and symbol
/// keys are numbered (see [`Steps::new`]), so that the lookups a shift makes
/// at every node hash two integers, not a name.
struct Steps {
    first: u64,
    last: u64,
    /// Each tensor's sequence (by number) and step, indexed by tensor.
    tensor_step: Vec<Option<(u32, u64)>>,
    tensor_at: HashMap<(u32, u64), TensorId, NodeHasher>,
    /// Each symbol's [`SymbolKey`] (by number) and step, indexed by symbol.
    symbol_step: Vec<Option<(u32, u64)>>,
    symbol_at: HashMap<(u32, u64), SymbolId, NodeHasher>,
    /// The node of each tensor a shift has reached, indexed by tensor, so
    /// that reaching it again is a lookup.
    tensor_nodes: Vec<Option<NodeId>>,
}

impl Steps {
    fn new(model: &Model, d: &Derivation, first: u64, last: u64) -> Steps {
        let mut steps = Steps {
            first,
            last,
            tensor_step: vec![None; model.tensors.len()],
            tensor_at: HashMap::default(),
            symbol_step: vec![None; d.symbols.len()],
            symbol_at: HashMap::default(),
            tensor_nodes: vec![None; model.tensors.len()],
        };
        let mut sequences: HashMap<&str, u32> = HashMap::new();
        for id in model.ids() {
            if let Some((base, k)) = split_step(&model.tensor(id).name) {
                let next = sequences.len() as u32;
                let sequence = *sequences.entry(base).or_insert(next);
                steps.tensor_step[id.0 as usize] = Some((sequence, k));
                steps.tensor_at.insert((sequence, k), id);
            }
        }
        let mut keys: HashMap<SymbolKey, u32> = HashMap::new();
        for (s, (key, k)) in symbol_keys(model, d) {
            let next = keys.len() as u32;
            let key = *keys.entry(key).or_insert(next);
            steps.symbol_at.insert((key, k), s);
            steps.symbol_step[s.0 as usize] = Some((key, k));
        }
        steps
    }

    fn tensor_step(&self, t: TensorId) -> Option<(u32, u64)> {
        self.tensor_step.get(t.0 as usize).copied().flatten()
    }

    fn symbol_step(&self, s: SymbolId) -> Option<(u32, u64)> {
        self.symbol_step.get(s.0 as usize).copied().flatten()
    }

    /// The node of tensor `t` in `g`.
    fn tensor_node(&mut self, g: &mut Graph, model: &Model, t: TensorId) -> NodeId {
        match self.tensor_nodes[t.0 as usize] {
            Some(n) => n,
            None => {
                let n = g.tensor(t, model.tensor(t).shape.clone());
                self.tensor_nodes[t.0 as usize] = Some(n);
                n
            }
        }
    }
}

/// Which symbol of a step: the sequence, δ or ∂L/∂X, and which δ of the equation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SymbolKey {
    pub sequence: String,
    pub delta: bool,
    pub ordinal: usize,
}

/// The result of shifting a formula to another step.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shifted {
    Node(NodeId),
    /// An error term after the last step, or an expression linear in one.
    Zero,
    /// A tensor or error term the other step does not have.
    Fail,
}

/// The sequence key of each symbol: owner's sequence, kind and ordinal.
pub fn symbol_keys(model: &Model, derivation: &Derivation) -> HashMap<SymbolId, (SymbolKey, u64)> {
    let mut out = HashMap::new();
    if model.time.is_none() {
        return out;
    }
    let mut ordinals: HashMap<(TensorId, bool), usize> = HashMap::new();
    for (i, s) in derivation.symbols.iter().enumerate() {
        let delta = matches!(s.kind, SymbolKind::Delta { .. });
        // The error term of a pre-activation nnderive named is the layer's,
        // named after the file's equation (`δh_t = ∂L/∂zh_t`), so that no
        // answer ever has to spell a generated name.
        let owner = if delta { model.introduced_for(s.owner).unwrap_or(s.owner) } else { s.owner };
        let Some((base, k)) = split_step(&model.tensor(owner).name) else { continue };
        let n = ordinals.entry((owner, delta)).or_default();
        let key = SymbolKey { sequence: base.to_string(), delta, ordinal: *n };
        *n += 1;
        out.insert(SymbolId(i as u32), (key, k));
    }
    out
}

/// Folds the unrolled derivation of a model with time steps into a recurrence.
pub fn view(model: &Model, d: &mut Derivation) -> Option<TimeView> {
    let timeline = model.time.as_ref()?;
    let mut steps = Steps::new(model, d, timeline.first, timeline.last);
    let candidates = candidates(steps.first, steps.last);
    let mut shifter = Shifter::default();

    // Forward equations.
    let mut forward = Vec::new();
    let mut done: Vec<u32> = Vec::new();
    for id in model.equations() {
        let Some((sequence, _)) = steps.tensor_step(id) else {
            let sum = model
                .tensor(id)
                .definition
                .and_then(|def| time_sum(model, d, &mut steps, &mut shifter, &candidates, def));
            forward.push(Forward::Plain { tensor: id, sum });
            continue;
        };
        if done.contains(&sequence) {
            continue;
        }
        done.push(sequence);
        let members: Vec<(u64, TensorId)> = (steps.first..=steps.last)
            .filter_map(|k| steps.tensor_at.get(&(sequence, k)).map(|&t| (k, t)))
            .filter(|(_, t)| model.tensor(*t).definition.is_some())
            .collect();
        let mut template = None;
        for &r in &candidates {
            let Some(&(_, rt)) = members.iter().find(|(k, _)| *k == r) else { continue };
            let Some(def) = model.tensor(rt).definition else { continue };
            let all = members.len() as u64 == steps.last - steps.first + 1
                && members.iter().all(|&(k, t)| {
                    let by = k as i64 - r as i64;
                    let shifted = shifter.shift(&mut d.graph, model, &d.symbols, &mut steps, def, by).0;
                    model.tensor(t).definition.is_some_and(|theirs| same_sum(&d.graph, shifted, theirs))
                });
            if all {
                template = Some(Forward::Template { tensor: rt, step: r });
                break;
            }
        }
        match template {
            Some(t) => forward.push(t),
            None => forward.extend(members.iter().map(|&(_, t)| Forward::Plain { tensor: t, sum: None })),
        }
    }

    // Error terms, grouped by sequence.
    let mut groups = Vec::new();
    let mut grouped: Vec<u32> = Vec::new();
    let defined = d.defined.clone();
    for &s in &defined {
        let Some((key, _)) = steps.symbol_step(s) else {
            groups.push(SymbolGroup { general: None, others: vec![s] });
            continue;
        };
        if grouped.contains(&key) {
            continue;
        }
        grouped.push(key);
        let members: Vec<(u64, SymbolId)> = (steps.first..=steps.last)
            .rev()
            .filter_map(|k| steps.symbol_at.get(&(key, k)).map(|&s| (k, s)))
            .filter(|(_, s)| d.symbol(*s).defined)
            .collect();
        let mut best: Option<General> = None;
        for &r in &candidates {
            let Some(&(_, rs)) = members.iter().find(|(k, _)| *k == r) else { continue };
            let formula = d.symbol(rs).formula;
            let mut holds = Vec::new();
            let mut zeroed: Vec<(SymbolId, u64)> = Vec::new();
            for &(k, s) in &members {
                let by = k as i64 - r as i64;
                let (shifted, used_zero) = shifter.shift(&mut d.graph, model, &d.symbols, &mut steps, formula, by);
                if same_sum(&d.graph, shifted, d.symbol(s).formula) {
                    holds.push(k);
                    for z in used_zero {
                        if !zeroed.contains(&z) {
                            zeroed.push(z);
                        }
                    }
                }
            }
            let zero = !zeroed.is_empty();
            // A form found at one step only is general when the sequence has
            // other steps and it is not the last step's: at T = 2 the
            // recurrence for t = 1..T−1 holds at step 1 alone, and is printed
            // in t as it is for any T. A formula that names no step (∂L/∂h_T =
            // Wyᵀ δ1) is no formula in t.
            let general = holds.len() >= 2
                || (holds == [r]
                    && members.len() >= 2
                    && r != steps.last
                    && term_step(&d.graph, &steps, formula).is_some());
            if general && best.as_ref().is_none_or(|b| holds.len() > b.holds.len()) {
                holds.sort_unstable();
                best = Some(General { symbol: rs, step: r, holds, zero_after_last: zero, zeroed });
            }
            // A form that holds at every step cannot be bettered (a later
            // candidate replaces it only by holding at more steps): the other
            // candidates are not tried.
            if best.as_ref().is_some_and(|b| b.holds.len() == members.len()) {
                break;
            }
        }
        // `holds` is ascending: a lookup in it is a binary search.
        let others = members
            .iter()
            .filter(|(k, _)| best.as_ref().is_none_or(|b| b.holds.binary_search(k).is_err()))
            .map(|&(_, s)| s)
            .collect();
        groups.push(SymbolGroup { general: best, others });
    }

    let roots: Vec<NodeId> = d.gradients.iter().map(|g| g.formula).collect();
    let gradients = roots.into_iter().map(|f| time_sum(model, d, &mut steps, &mut shifter, &candidates, f)).collect();
    Some(TimeView { index: timeline.index.clone(), first: steps.first, last: steps.last, forward, groups, gradients })
}

/// Steps to try as the representative: inner ones first.
fn candidates(first: u64, last: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for k in [first + 1, first + (last - first) / 2, last.saturating_sub(1), first, last] {
        if (first..=last).contains(&k) && !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// `root` as `factor · (Σ_t patterns + rest)`, when at least one pattern
/// has a term at every step.
fn time_sum(
    model: &Model,
    d: &mut Derivation,
    steps: &mut Steps,
    shifter: &mut Shifter,
    candidates: &[u64],
    root: NodeId,
) -> Option<TimeSum> {
    if steps.last == steps.first {
        return None;
    }
    let (factor, divisor, inner) = match *d.graph.node(root) {
        Node::Mul(c, x) if d.graph.as_const(c).is_some() => (Some(c), None, x),
        Node::Div(x, c) if d.graph.as_const(c).is_some() => (None, Some(c), x),
        _ => (None, None, root),
    };
    let terms = additive_terms(&d.graph, inner);
    if terms.len() < 2 {
        return None;
    }
    let step_of: Vec<Option<u64>> = terms.iter().map(|&t| term_step(&d.graph, steps, t)).collect();
    // Where each term is, so that finding a step's term is a lookup, not a
    // scan of every term (a scan per step was quadratic in the steps).
    let mut positions: NodeMap<Vec<usize>> = NodeMap::default();
    for (j, &t) in terms.iter().enumerate() {
        positions.entry(t).or_default().push(j);
    }
    let mut best: Option<(u64, Vec<NodeId>, Vec<bool>)> = None;
    for &r in candidates {
        let mut used = vec![false; terms.len()];
        let mut patterns = Vec::new();
        for (i, &u) in terms.iter().enumerate() {
            if step_of[i] != Some(r) || used[i] {
                continue;
            }
            let mut found = Vec::new();
            let mut taken: HashSet<usize, NodeHasher> = HashSet::default();
            for k in steps.first..=steps.last {
                let (shifted, _) = shifter.shift(&mut d.graph, model, &d.symbols, steps, u, k as i64 - r as i64);
                let Shifted::Node(n) = shifted else { break };
                let free =
                    positions.get(&n).and_then(|js| js.iter().copied().find(|&j| !used[j] && !taken.contains(&j)));
                match free {
                    Some(j) => {
                        taken.insert(j);
                        found.push(j);
                    }
                    None => break,
                }
            }
            if found.len() as u64 == steps.last - steps.first + 1 {
                for j in found {
                    used[j] = true;
                }
                patterns.push(u);
            }
        }
        let covered = used.iter().filter(|u| **u).count();
        if !patterns.is_empty() && best.as_ref().is_none_or(|(_, _, b)| covered > b.iter().filter(|u| **u).count()) {
            best = Some((r, patterns, used));
        }
        // Patterns that cover every term cannot be bettered (a later
        // candidate replaces them only by covering more): the other
        // candidates are not tried.
        if covered == terms.len() && best.is_some() {
            break;
        }
    }
    let (step, patterns, used) = best?;
    let mut summed: Vec<(u64, NodeId)> = terms
        .iter()
        .zip(&used)
        .zip(&step_of)
        .filter(|((_, u), _)| **u)
        .map(|((&t, _), s)| (s.unwrap_or(0), t))
        .collect();
    summed.sort_by_key(|&(k, _)| std::cmp::Reverse(k));
    let rest = terms.iter().zip(&used).filter(|(_, u)| !**u).map(|(&t, _)| t).collect();
    Some(TimeSum { factor, divisor, patterns, step, rest, terms: summed.into_iter().map(|(_, t)| t).collect() })
}

/// Whether a shifted formula equals `theirs`, up to the order of the terms of a sum.
fn same_sum(g: &Graph, shifted: Shifted, theirs: NodeId) -> bool {
    let Shifted::Node(mine) = shifted else { return false };
    if mine == theirs {
        return true;
    }
    let (mut a, mut b) = (additive_terms(g, mine), additive_terms(g, theirs));
    a.sort_unstable();
    b.sort_unstable();
    a.len() > 1 && a == b
}

/// The terms of a sum `a + b + …` (iteratively, left to right).
fn additive_terms(g: &Graph, root: NodeId) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        match *g.node(n) {
            Node::Add(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            _ => out.push(n),
        }
    }
    out
}

/// The latest step a term refers to, through its symbols, else its tensors.
fn term_step(g: &Graph, steps: &Steps, term: NodeId) -> Option<u64> {
    let nodes = g.nodes_under(&[term]);
    let symbols = nodes.iter().filter_map(|&n| match g.node(n) {
        Node::Symbol(s) => steps.symbol_step(*s).map(|(_, k)| k),
        _ => None,
    });
    let latest = symbols.max();
    latest.or_else(|| {
        nodes
            .iter()
            .filter_map(|&n| match g.node(n) {
                Node::Tensor(t) => steps.tensor_step(*t).map(|(_, k)| k),
                _ => None,
            })
            .max()
    })
}

/// The work space of [`Shifter::shift`], kept from one shift to the next:
/// a view shifts each formula to every step, thousands of formulas in all.
#[derive(Default)]
struct Shifter {
    memo: NodeMap<Shifted>,
    stack: Vec<(NodeId, bool)>,
}

impl Shifter {
    /// `root` with every step moved by `by`: `h[j]` to `h[j + by]`, and each
    /// error term likewise (zero past the last step). Also gives the symbols
    /// of `root` taken as zero, with their steps. Iterative, memoized, linear
    /// in the formula's size.
    fn shift(
        &mut self,
        g: &mut Graph,
        model: &Model,
        symbols: &[super::Symbol],
        steps: &mut Steps,
        root: NodeId,
        by: i64,
    ) -> (Shifted, Vec<(SymbolId, u64)>) {
        if by == 0 {
            return (Shifted::Node(root), Vec::new());
        }
        let Shifter { memo, stack } = self;
        memo.clear();
        stack.clear();
        let mut zero_used = Vec::new();
        stack.push((root, false));
        while let Some((id, expanded)) = stack.pop() {
            if memo.contains_key(&id) {
                continue;
            }
            let children = g.node(id).children();
            if !expanded && !children.is_empty() {
                stack.push((id, true));
                stack.extend(children.iter().filter(|c| !memo.contains_key(c)).map(|&c| (c, false)));
                continue;
            }
            let target = |k: u64| k.checked_add_signed(by);
            let result = match *g.node(id) {
                Node::Tensor(t) => match steps.tensor_step(t) {
                    None => Shifted::Node(id),
                    Some((sequence, k)) => match target(k).and_then(|k2| steps.tensor_at.get(&(sequence, k2))) {
                        Some(&t2) => Shifted::Node(steps.tensor_node(g, model, t2)),
                        None => Shifted::Fail,
                    },
                },
                Node::Symbol(s) => match steps.symbol_step(s) {
                    None => Shifted::Node(id),
                    Some((key, k)) => match target(k) {
                        Some(k2) => match steps.symbol_at.get(&(key, k2)) {
                            Some(&s2) => Shifted::Node(symbols[s2.0 as usize].node),
                            None if k2 > steps.last => {
                                zero_used.push((s, k));
                                Shifted::Zero
                            }
                            None => Shifted::Fail,
                        },
                        None => Shifted::Fail,
                    },
                },
                _ => {
                    let kids: Vec<Shifted> = children.iter().map(|c| memo[c]).collect();
                    let node = g.node(id).clone();
                    if kids.contains(&Shifted::Fail) {
                        Shifted::Fail
                    } else if kids.contains(&Shifted::Zero) {
                        through_zero(g, &node, id, &kids)
                    } else {
                        // Every child has a node; `make` reads them from the memo.
                        let shape = g.shape(id).clone();
                        let memo = &*memo;
                        Shifted::Node(g.make(&node, &shape, &|c| match memo.get(&c) {
                            Some(Shifted::Node(n)) => *n,
                            _ => c,
                        }))
                    }
                }
            };
            memo.insert(id, result);
        }
        (memo[&root], zero_used)
    }
}

/// A node with a zero child: zero through linear operations, the other
/// operand through sums; anything else cannot be shifted.
fn through_zero(g: &mut Graph, node: &Node, id: NodeId, kids: &[Shifted]) -> Shifted {
    let same_shape = |g: &Graph, n: NodeId| g.shape(n) == g.shape(id);
    match (node, kids) {
        (
            Node::Neg(_) | Node::Transpose(_) | Node::Reduce(Reduction::Sum | Reduction::Mean, _) | Node::SumAxis(..),
            _,
        ) => Shifted::Zero,
        (Node::Mul(..) | Node::MatMul(..), _) => Shifted::Zero,
        (Node::Div(..), [Shifted::Zero, Shifted::Node(_)]) => Shifted::Zero,
        (Node::Add(..) | Node::Sub(..), [Shifted::Zero, Shifted::Zero]) => Shifted::Zero,
        (Node::Add(..) | Node::Sub(..), [Shifted::Node(a), Shifted::Zero]) if same_shape(g, *a) => Shifted::Node(*a),
        (Node::Add(..), [Shifted::Zero, Shifted::Node(b)]) if same_shape(g, *b) => Shifted::Node(*b),
        (Node::Sub(..), [Shifted::Zero, Shifted::Node(b)]) if same_shape(g, *b) => Shifted::Node(g.neg(*b)),
        _ => Shifted::Fail,
    }
}
