//! The work budget: how many operations on entries a run will take, counted
//! from the shapes before any number is computed, and a located error when
//! that passes [`WORK_BUDGET`].
//!
//! Each of the file's maxima bounds one factor (16 777 216 entries a tensor,
//! 10 000 time steps, 10 000 training steps, …), but the factors multiply:
//! 10 000 training steps of a network unrolled over 10 000 time steps are
//! within every maximum and would run for hours. One budget bounds their
//! product, as [`super::error::MAX_UNKNOWNS`] bounds the values left open.
//!
//! The count is an estimate in units of one operation on one f64 entry.
//! Every node evaluated costs [`NODE_COST`] (the evaluator's bookkeeping)
//! and then its entries: an elementwise operation its entries, `A @ B` with
//! A `[m, k]` and B `[k, n]` m·k·n, a convolution its output entries times
//! C·kh·kw, a pooling its output times the window, a call of a custom
//! function the nodes of its body, nested calls included, up to the
//! [`MAX_CALLS`] after which the evaluator stops. Exact arithmetic costs
//! more per operation than f64; values grown past the size cap continue in
//! f64, so the count does not weigh them differently.

use std::collections::HashMap;

use super::error::{Error, ErrorKind};
/// The budget and what passing it reports are the errors' (see [`super::error`]).
pub use super::error::{Exceeded, Repeats, WORK_BUDGET};
use super::evaluate::MAX_CALLS;
use crate::derive::Derivation;
use crate::model::ops::map::{self, AnyMapNode};
use crate::model::{Func, Graph, Model, Node, NodeId, Shape, TensorId};

/// What evaluating one node costs besides its entries, in operations: a
/// value allocated, memoised and shared, about 5 µs measured on a
/// recurrent network of scalars unrolled over 10 000 time steps.
pub const NODE_COST: u128 = 2_000;

/// The operations of one forward and backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassWork {
    /// The forward pass (every equation).
    pub forward: u128,
    /// The forward pass and every error term and gradient.
    pub total: u128,
    /// The equation whose own formula costs the most, where an error about
    /// a single pass points.
    pub heaviest: Option<TensorId>,
    /// Some value needs more than [`MAX_CALLS`] calls of custom functions:
    /// the first pass stops there with an error of its own, so nothing is
    /// repeated.
    pub stops: bool,
}

/// Counts the operations of one pass over `derivation`'s formulas.
pub fn pass_work(model: &Model, derivation: &Derivation) -> PassWork {
    let graph = &derivation.graph;
    let mut counter =
        Counter { graph, functions: function_costs(model, derivation), seen: vec![false; graph.len()], stops: false };
    let mut forward = 0u128;
    let mut heaviest: Option<(u128, TensorId)> = None;
    for &id in &model.order {
        let Some(def) = model.tensor(id).definition else { continue };
        let own = counter.count(def);
        forward = forward.saturating_add(own);
        if heaviest.is_none_or(|(w, _)| own > w) {
            heaviest = Some((own, id));
        }
    }
    let mut total = forward;
    for &s in &derivation.defined {
        total = total.saturating_add(counter.count(derivation.symbol(s).formula));
    }
    for g in &derivation.gradients {
        total = total.saturating_add(counter.count(g.formula));
    }
    PassWork { forward, total, heaviest: heaviest.map(|(_, id)| id), stops: counter.stops }
}

/// Refuses a run of `repeats` × `unit` operations past [`WORK_BUDGET`],
/// pointing at `at`.
pub fn check(model: &Model, repeats: Repeats, unit: u128, at: Option<crate::syntax::Span>) -> Result<(), Error> {
    check_stopping(model, repeats, unit, at, false)
}

/// [`check`], counting one repetition when the first stops early (`stops`).
fn check_stopping(
    model: &Model,
    repeats: Repeats,
    unit: u128,
    at: Option<crate::syntax::Span>,
    stops: bool,
) -> Result<(), Error> {
    let repeats = if stops { Repeats::Once } else { repeats };
    let total = repeats.count().saturating_mul(unit);
    if total <= WORK_BUDGET {
        return Ok(());
    }
    let time_steps = model.time.as_ref().map(|t| t.len());
    Err(Error::new(ErrorKind::TooMuchWork(Box::new(Exceeded { repeats, unit, total, time_steps })), at))
}

/// The check of `solve`: the passes of training, or the one pass.
pub fn check_solve(model: &Model, derivation: &Derivation) -> Result<PassWork, Error> {
    let work = pass_work(model, derivation);
    match &model.train {
        Some(train) if !work.stops => {
            check(model, Repeats::Training { steps: train.steps }, work.total, Some(train.span))?
        }
        _ => check(model, Repeats::Once, work.total, work.heaviest.map(|id| model.tensor(id).span))?,
    }
    Ok(work)
}

/// The operations of a whole `solve`: its passes (see [`check_solve`]).
pub fn solve_work(model: &Model, work: &PassWork) -> u128 {
    let passes = match &model.train {
        Some(train) if !work.stops => u128::from(train.steps) + 1,
        _ => 1,
    };
    passes.saturating_mul(work.total)
}

/// [`check`] of repeated passes of `work`: one when the first stops early.
pub fn check_passes(
    model: &Model,
    repeats: Repeats,
    work: &PassWork,
    unit: u128,
    at: Option<crate::syntax::Span>,
) -> Result<(), Error> {
    check_stopping(model, repeats, unit, at, work.stops)
}

/// What one call of a custom function (or of its derivative) evaluates:
/// the calls it makes, itself included, and the nodes of all their bodies.
#[derive(Clone, Copy, Debug)]
struct CallCost {
    calls: u128,
    nodes: u128,
}

/// Every custom function's and derivative's [`CallCost`]. A function calls
/// only functions defined before it, and a derivative those and their
/// derivatives, so one pass in file order finds each body's callees done.
fn function_costs(model: &Model, derivation: &Derivation) -> HashMap<Func, CallCost> {
    let graph = &derivation.graph;
    let mut costs: HashMap<Func, CallCost> = HashMap::new();
    for (i, function) in model.functions.values().enumerate() {
        let id = crate::model::FnId(i as u32);
        let derivatives = derivation.fn_derivatives.iter().filter(|d| d.func == id);
        let bodies = std::iter::once((Func::Custom(id), function.body))
            .chain(derivatives.map(|d| (Func::Derivative { func: d.func, wrt: d.wrt }, d.body)));
        for (f, body) in bodies.collect::<Vec<_>>() {
            let mut cost = CallCost { calls: 1, nodes: 0 };
            for n in graph.nodes_under(&[body]) {
                cost.nodes = cost.nodes.saturating_add(1);
                if let Node::Apply(g @ (Func::Custom(_) | Func::Derivative { .. }), _) = graph.node(n) {
                    let callee = costs.get(g).copied().unwrap_or(CallCost { calls: 1, nodes: 1 });
                    cost.calls = cost.calls.saturating_add(callee.calls);
                    cost.nodes = cost.nodes.saturating_add(callee.nodes);
                }
            }
            costs.insert(f, cost);
        }
    }
    costs
}

struct Counter<'a> {
    graph: &'a Graph,
    functions: HashMap<Func, CallCost>,
    /// Nodes already counted in this pass (the evaluator computes each once).
    seen: Vec<bool>,
    /// A value needs more than [`MAX_CALLS`] calls (see [`PassWork::stops`]).
    stops: bool,
}

impl Counter<'_> {
    /// The operations of the nodes under `root` not counted yet.
    fn count(&mut self, root: NodeId) -> u128 {
        let mut total = 0u128;
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            let Some(seen) = self.seen.get_mut(n.0 as usize) else { continue };
            if std::mem::replace(seen, true) {
                continue;
            }
            let node = self.graph.node(n);
            stack.extend(node.children());
            total = total.saturating_add(NODE_COST).saturating_add(self.cost(n, node));
        }
        total
    }

    /// One node's operations on entries, from the shapes of it and its operands.
    fn cost(&mut self, n: NodeId, node: &Node) -> u128 {
        let g = self.graph;
        let len = |id: NodeId| g.shape(id).len().max(1) as u128;
        let out = len(n);
        let operands = node.children().into_iter().map(len).fold(out, u128::max);
        match node {
            Node::MatMul(a, _) => {
                let inner = Shape::matrix_of(g.shape(*a).dims()).map_or(1, |(_, k)| k.max(1)) as u128;
                out.saturating_mul(inner)
            }
            // A map operation estimates its own parts' work.
            Node::Conv(part, a, b, c) => map::conv(*part, *a, *b, *c).work(g, g.shape(n)),
            Node::Pool(kind, part, a, w) => map::pool(*kind, *part, a, *w).work(g, g.shape(n)),
            // The body's nodes, each over the call's entries. The evaluator
            // stops a value that needs more than MAX_CALLS calls after that
            // many, each a frame of at least one node.
            Node::Apply(f @ (Func::Custom(_) | Func::Derivative { .. }), _) => {
                let cost = self.functions.get(f).copied().unwrap_or(CallCost { calls: 1, nodes: 1 });
                let most = u128::from(MAX_CALLS) + 1;
                let nodes = if cost.calls <= most {
                    cost.nodes
                } else {
                    self.stops = true;
                    most
                };
                nodes.saturating_mul(NODE_COST.saturating_add(operands))
            }
            _ => operands,
        }
    }
}
