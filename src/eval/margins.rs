//! How close a solution comes to the places where its answer is not clear:
//! an argument of a function with a kink (relu at 0, `max(a, b)` at a tie),
//! a max-pool window whose two largest entries tie, a probability that
//! rounds to 0 or 1. `nnderive vary` redraws a variant that comes within
//! its margin of one, so that every variant has one clear answer.
//!
//! The evaluator reports what it computes to a [`Probe`] (see
//! [`super::probe`], where the hazards are decided, one line per built-in);
//! this file runs a solution's first pass again with one.

use super::error::Failure;
use super::evaluate::Evaluator;
pub use super::probe::{Hazard, Near, Probe};
use super::quantity::Quantity;
use super::Solution;
use crate::model::Model;

/// The nearest approach to each hazard while computing a solution's
/// forward values, error terms and gradients (the first pass; training
/// steps after the first are not probed).
pub fn nearest_hazards(model: &Model, solution: &Solution) -> Result<Vec<Near>, Failure> {
    let derivation = &solution.derivation;
    let values = solution.values.iter().map(|v| Some(std::rc::Rc::new(v.clone()))).collect();
    let mut ev = Evaluator::new(model, &derivation.graph, Some(derivation), values);
    ev.symbols.extend(solution.symbols.iter().cloned());
    ev.probe = Some(Probe::default());
    for &id in &model.order {
        if let Some(def) = model.tensor(id).definition {
            ev.quantity = Some(Quantity::Tensor(id));
            ev.eval(def)?;
        }
    }
    for &s in &derivation.defined {
        ev.quantity = Some(Quantity::Symbol(s));
        ev.eval(derivation.symbol(s).formula)?;
    }
    for g in &derivation.gradients {
        ev.quantity = Some(Quantity::Gradient(g.param));
        ev.eval(g.formula)?;
    }
    Ok(ev.probe.take().map(|p| p.nearest().to_vec()).unwrap_or_default())
}
