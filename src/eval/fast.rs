//! The values of a solution in f64 from the start, for callers that want
//! numbers rather than a worked document (the Python package's `solve`).
//!
//! [`super::solve`] keeps every value exact until a transcendental function
//! or a size cap forces f64, because the documents print exact values as
//! fractions and decimals. That costs: a product of decimal weights is a
//! product of fractions, a convolution of them one fraction per
//! multiply-add. [`solve_float`] instead starts from the f64 nearest each
//! given value and computes every operation in f64, through the same
//! operations (the same GEMM, the same kernels), so it does the work a
//! numeric library does.
//!
//! What holds for its values, compared with the exact solution's:
//!
//! - a given value is the exact solution's f64 view of it (the nearest f64
//!   to the decimal written);
//! - every other value differs from the exact solution's f64 view of it
//!   only by f64 rounding of the operations before it (a relative error of
//!   a few ulps times the condition of the computation; the package's
//!   tests bound it against the command line's JSON on every example).
//!
//! Rounding matters more where the answer is discontinuous: a relu or step
//! at exactly 0, a tie in a max-pool or in max/min, a division by (nearly)
//! zero, a log or square root at 0. An exact 0 there may come out ±1e-17
//! in f64 and take the other branch. So while the f64 pass runs, every such
//! operation is watched ([`super::watch`]), and when an operand comes within
//! [`super::watch::MARGIN`] of the discontinuity, or the f64 pass fails, the result is
//! not used: [`solve_float`] solves exactly instead, and says so — unless
//! the compiled plan can decide each such entry exactly from the given
//! values alone (an exact 0 of `conv2d(X, K) + bK` at a relu, an exact tie
//! in a max-pool window: see `plan::certify`), and goes on in f64 with
//! those entries set to their exact values' f64s.
//!
//! An f64 solution holds the values a program reads (forward values, error
//! terms, gradients, the training), not those only a document shows (a
//! max-pool's switches, each term of a sum over time, the value of each
//! step of a derivation): its `masks`, `time_terms` and `step_values` are
//! empty. Documents are made from the exact solution.

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;

use super::error::{Error, ErrorKind, Failure};
use super::plan::{Outcome, Plan};
use super::solve::{solve_derived, solve_from, Solution};
use super::tensor::{decimals_to_f64, Tensor};
use crate::derive::Derivation;
use crate::model::Model;

/// How [`solve_float`] computed its solution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Computed {
    /// In f64 from the given values on.
    Float,
    /// Exactly, as [`super::solve`] does: the model has values left open,
    /// the f64 pass came within [`super::watch::MARGIN`] of a discontinuity, or it failed.
    Exact,
}

/// The solution of `model` (derived as `derivation`) with every value in
/// f64 (see the module's documentation), or the exact solution where f64
/// is not trusted ([`Computed`] says which). An error is the exact
/// solution's error; an interruption stops at once.
pub fn solve_float(model: &Model, derivation: &Derivation) -> Result<(Solution, Computed), Error> {
    super::work::check_solve(model, derivation)?;
    let shared = Arc::new(derivation.clone());
    solve_planned(model, &shared, Plan::compile(model, derivation).as_ref())
}

/// [`solve_float`] with the model's compiled plan kept in `plan` (compiled
/// by the first call), so that solving the same model again only runs it;
/// the solution shares `derivation` rather than holding a copy.
pub fn solve_float_cached(
    model: &Model,
    derivation: &Arc<Derivation>,
    plan: &OnceCell<Option<Plan>>,
) -> Result<(Solution, Computed), Error> {
    let plan = match plan.get() {
        // The plan is compiled once the work was checked, and the work
        // depends only on the model and its derivation, which made it.
        Some(plan) => plan,
        None => {
            super::work::check_solve(model, derivation)?;
            plan.get_or_init(|| Plan::compile(model, derivation))
        }
    };
    solve_planned(model, derivation, plan.as_ref())
}

/// [`solve_float`] by the compiled plan when there is one (the same values,
/// see [`super::plan`]), else node by node.
fn solve_planned(
    model: &Model,
    derivation: &Arc<Derivation>,
    plan: Option<&Plan>,
) -> Result<(Solution, Computed), Error> {
    match plan.map(|p| p.solve_shared(model, derivation)) {
        Some(Outcome::Solved(solution)) => Ok((*solution, Computed::Float)),
        Some(Outcome::Exact) => solve_derived(model, derivation.clone()).map(|s| (s, Computed::Exact)),
        Some(Outcome::Unplanned) | None => solve_unplanned_shared(model, derivation),
    }
}

/// [`solve_float`] node by node, by the evaluator (no compiled plan), once
/// the caller has checked the work.
pub fn solve_unplanned(model: &Model, derivation: &Derivation) -> Result<(Solution, Computed), Error> {
    solve_unplanned_shared(model, &Arc::new(derivation.clone()))
}

fn solve_unplanned_shared(model: &Model, derivation: &Arc<Derivation>) -> Result<(Solution, Computed), Error> {
    if let Some(initial) = float_values(model) {
        let (solved, near) = super::watch::watched(|| solve_from(model, derivation.clone(), initial, Vec::new(), true));
        match solved {
            Ok(solution) if !near => return Ok((solution, Computed::Float)),
            Err(e) if matches!(&e.kind, ErrorKind::Numeric { failure: Failure::Interrupted, .. }) => return Err(e),
            _ => {}
        }
    }
    solve_derived(model, derivation.clone()).map(|s| (s, Computed::Exact))
}

/// Each given value as the f64 nearest it; `None` when a value is left open.
fn float_values(model: &Model) -> Option<Vec<Option<Rc<Tensor>>>> {
    let mut out = Vec::with_capacity(model.tensors.len());
    for id in model.ids() {
        let t = model.tensor(id);
        out.push(match (&t.value, t.definition) {
            (Some(v), _) => Some(Rc::new(Tensor::float(t.shape.dims().to_vec(), decimals_to_f64(v)))),
            (None, None) => return None,
            (None, Some(_)) => None,
        });
    }
    Some(out)
}

/// Runs `f`, and returns with its result the time spent meanwhile in the
/// f64 matrix products (`matrixmultiply`'s GEMM), for benchmarks.
pub fn gemm_time<T>(f: impl FnOnce() -> T) -> (T, std::time::Duration) {
    super::matmul::gemm_clock(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;

    fn model(text: &str) -> Model {
        crate::load(&Source::new("t.nn", text)).expect("a valid file")
    }

    const DENSE: &str = "input x[3] = [0.5, -1.25, 2]\ntarget y[2] = [1, 0]\n\
        param W[2,3] = [[0.1, -0.7, 0.3], [0.45, 0.2, -0.15]]\nparam b[2] = [0.05, -0.3]\n\
        Z = W @ x + b\nyhat = softmax(tanh(Z))\nloss L = cross_entropy(y, yhat)\ntrain sgd(lr = 0.1)\n";

    #[test]
    fn f64_values_are_the_exact_values_to_within_rounding() {
        let m = model(DENSE);
        let d = crate::derive::derive(&m);
        let (fast, computed) = solve_float(&m, &d).unwrap();
        let exact = crate::eval::solve(&m).unwrap();
        assert_eq!(computed, Computed::Float);
        // Z = W x + b is exact in the exact solution (a fraction), f64 here.
        assert!(exact.values.iter().any(|v| v.is_exact() && v.len() == 2));
        assert!(fast.values.iter().all(|v| !v.is_exact()));
        // Z by hand: [0.05 + 0.875 + 0.6 + 0.05, 0.225 − 0.25 − 0.3 − 0.3] = [1.575, −0.625].
        let z = m.ids().find(|&id| m.tensor(id).name == "Z").unwrap();
        let found = fast.value(z).to_f64_vec();
        assert!((found[0] - 1.575).abs() < 1e-15 && (found[1] + 0.625).abs() < 1e-15, "{found:?}");
        for (a, b) in fast.values.iter().zip(&exact.values).chain(fast.gradients.iter().zip(&exact.gradients)) {
            for (x, y) in a.to_f64_vec().into_iter().zip(b.to_f64_vec()) {
                assert!((x - y).abs() <= 4.0 * f64::EPSILON * y.abs().max(1.0), "{x} against {y}");
            }
        }
    }

    #[test]
    fn an_operand_at_a_kink_is_decided_exactly_or_solved_exactly() {
        // W x = 0.3 − 0.3 = 0: relu at its kink, the convention's business.
        // The plan decides that entry from the given decimals (an exact 0)
        // and stays in f64, with the exact solution's values and notes.
        let m = model(
            "input x[2] = [1, -1]\ntarget y[1] = [1]\nparam W[1,2] = [[0.3, 0.3]]\n\
             loss E = sum((y - relu(W @ x))^2)\n",
        );
        let (solution, computed) = solve_float(&m, &crate::derive::derive(&m)).unwrap();
        let exact = crate::eval::solve(&m).unwrap();
        assert_eq!(computed, Computed::Float);
        let f64s = |ts: &[Tensor]| ts.iter().map(Tensor::to_f64_vec).collect::<Vec<_>>();
        assert_eq!(f64s(&solution.values), f64s(&exact.values));
        assert_eq!(f64s(&solution.gradients), f64s(&exact.gradients));
        assert_eq!(solution.notes, exact.notes);
        assert!(!super::super::watch::watching(), "the watch ends with the solve");
        // Through tanh the entry is not decided (no exact value): exact.
        let m = model(
            "input x[2] = [1, -1]\ntarget y[1] = [1]\nparam W[1,2] = [[0.3, 0.3]]\n\
             loss E = sum((y - relu(tanh(W @ x)))^2)\n",
        );
        let (solution, computed) = solve_float(&m, &crate::derive::derive(&m)).unwrap();
        assert_eq!(computed, Computed::Exact);
        assert_eq!(solution.values, crate::eval::solve(&m).unwrap().values);
        assert!(!super::super::watch::watching(), "the watch ends with the solve");
    }

    #[test]
    fn the_gemm_clock_counts_only_while_asked() {
        let m = model(DENSE);
        let d = crate::derive::derive(&m);
        let (_, spent) = gemm_time(|| solve_float(&m, &d).unwrap());
        assert!(spent > std::time::Duration::ZERO);
        let (_, none) = gemm_time(|| ());
        assert_eq!(none, std::time::Duration::ZERO);
    }
}
