//! Where each derived quantity is stated: once, in one section.
//!
//! A derivation reads as a textbook's: a section for each layer's error
//! term (a δ where a layer starts, at an affine or convolution product, or
//! the gradient a built-in layer's own rule starts from, a normalization's
//! G = ∂L/∂out, a sequence's ∂L/∂h_t), whose steps go through the
//! gradients on the way. A gradient named only because it is long or used
//! twice (`∂L/∂σ²` of a batch norm written out from `mean`, `var` and
//! `sqrt`) is such a step, not an error term: [`fold`] states it in the
//! steps of the first error term that uses it (unless it has a general
//! form without Σy = 1, which its own section shows). And a quantity stated once
//! in a section is referred to by name afterwards, not stated again:
//! [`state_once`] keeps the gradients' steps from repeating one another's.

use std::collections::{HashMap, HashSet};

use super::{Gradient, Step, Symbol, SymbolKind, Wrt};
use crate::model::{Fired, Graph, Node, SymbolId};

/// Moves each named gradient that is not an error term (`sections` holds the
/// named gradients that are) into the steps of the first error term, in the
/// order `defined`, whose formula or steps use it, directly or through
/// another such gradient; its lines come before the error term's own, in
/// the order they were derived, and a chain of lines already there (a
/// gradient both inherited) is not repeated. A gradient no error term uses
/// (only the parameters' gradients do) stays a section of its own.
pub fn fold(g: &Graph, symbols: &mut [Symbol], defined: &[SymbolId], sections: &HashSet<SymbolId>) {
    // A gradient with a general form (before Σy = 1) keeps its section,
    // where that form is shown.
    let is_step =
        |s: &Symbol, id: SymbolId| s.kind == SymbolKind::Adjoint && s.general.is_none() && !sections.contains(&id);
    // Named gradients met so far that no error term has taken yet, with
    // the symbols each names (found once, as an error term may pass it by).
    let mut waiting: Vec<SymbolId> = Vec::new();
    let mut names: HashMap<SymbolId, HashSet<SymbolId>> = HashMap::new();
    for &id in defined {
        if is_step(&symbols[id.0 as usize], id) {
            waiting.push(id);
            names.insert(id, mentioned(g, &symbols[id.0 as usize]));
            continue;
        }
        if waiting.is_empty() {
            continue;
        }
        // Those it uses, then those they use (each uses only earlier ones,
        // so one pass from the latest back collects them all).
        let mut taken = mentioned(g, &symbols[id.0 as usize]);
        for &w in waiting.iter().rev() {
            if taken.contains(&w) {
                taken.extend(names[&w].iter().copied());
            }
        }
        let (here, still): (Vec<SymbolId>, Vec<SymbolId>) = waiting.iter().partition(|w| taken.contains(w));
        waiting = still;
        if here.is_empty() {
            continue;
        }
        let (mut steps, mut held) = (Vec::new(), HashSet::new());
        for &w in &here {
            let sym = &mut symbols[w.0 as usize];
            sym.within = Some(id);
            append_chains(&mut steps, &mut held, &stated(sym));
        }
        let host = &mut symbols[id.0 as usize];
        append_chains(&mut steps, &mut held, &host.steps);
        host.steps = steps;
    }
}

/// Drops from each gradient's steps the chains of lines about a quantity
/// an earlier gradient's steps already stated (`∂L/∂out = (1/3) (out − y)`
/// before both ∂L/∂γ and ∂L/∂β): the later gradient refers to it by name.
pub fn state_once(gradients: &mut [Gradient]) {
    let mut said: HashSet<Wrt> = HashSet::new();
    for grad in gradients {
        let own = Wrt::Tensor(grad.param);
        let mut kept = Vec::with_capacity(grad.steps.len());
        for chain in chains(&grad.steps) {
            match chain[0].lhs {
                Some(wrt) if wrt != own && said.contains(&wrt) => {}
                _ => kept.extend_from_slice(chain),
            }
        }
        said.extend(kept.iter().filter_map(|s| s.lhs));
        grad.steps = kept;
    }
}

/// A named gradient's lines: its steps, ending with its formula (a line of
/// its own when no step gives it).
fn stated(sym: &Symbol) -> Vec<Step> {
    let mut steps = sym.steps.clone();
    if steps.last().map(|s| s.expr) != Some(sym.formula) {
        steps.push(Step {
            lhs: Some(sym.wrt),
            expr: sym.formula,
            rules: vec![],
            from: vec![],
            simplified: Fired::default(),
        });
    }
    steps
}

/// Appends the chains of `more` that are not in `held` (the chains of
/// `steps`), and records them there. The set keeps this linear in the
/// lines: an error term at the end of a long chain of named gradients
/// takes all of them.
fn append_chains(steps: &mut Vec<Step>, held: &mut HashSet<Vec<Step>>, more: &[Step]) {
    for chain in chains(more) {
        if held.insert(chain.to_vec()) {
            steps.extend_from_slice(chain);
        }
    }
}

/// The steps cut into chains: a line with a left-hand side and the lines
/// that continue it (`= …`).
fn chains(steps: &[Step]) -> impl Iterator<Item = &[Step]> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= steps.len() {
            return None;
        }
        let len = steps[start + 1..].iter().position(|s| s.lhs.is_some()).map_or(steps.len() - start, |k| k + 1);
        let chain = &steps[start..start + len];
        start += len;
        Some(chain)
    })
}

/// The symbols a symbol's formula and steps name.
fn mentioned(g: &Graph, sym: &Symbol) -> HashSet<SymbolId> {
    let roots: Vec<_> = std::iter::once(sym.formula).chain(sym.steps.iter().map(|s| s.expr)).collect();
    g.nodes_under(&roots)
        .into_iter()
        .filter_map(|n| match g.node(n) {
            Node::Symbol(s) => Some(*s),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(lhs: Option<Wrt>, expr: u32) -> Step {
        Step { lhs, expr: crate::model::NodeId(expr), rules: vec![], from: vec![], simplified: Fired::default() }
    }

    #[test]
    fn chains_cut_at_each_left_hand_side() {
        let a = Some(Wrt::Node(crate::model::NodeId(1)));
        let b = Some(Wrt::Node(crate::model::NodeId(2)));
        let steps = vec![step(a, 10), step(None, 11), step(b, 12), step(None, 13), step(None, 14)];
        let lens: Vec<usize> = chains(&steps).map(<[Step]>::len).collect();
        assert_eq!(lens, vec![2, 3]);
        let mut out = vec![step(a, 10), step(None, 11)];
        let mut held = chains(&out).map(<[Step]>::to_vec).collect();
        append_chains(&mut out, &mut held, &steps);
        assert_eq!(out, steps, "the chain already there is not repeated, the new one is added");
    }
}
