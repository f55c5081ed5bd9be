//! The skeleton of a network's f64 solution, kept for its next solve.
//!
//! The skeleton (names, formulas, `{"buffer": i}` placeholders) of an f64
//! solution depends on the network, not on its values: which quantities
//! there are and in what order. Writing it costs about as much as the
//! evaluation of a small network, so the first solve of a `Net` writes it
//! and records where in the [`Solution`] each placeholder's value was read
//! from ([`Locator`]); the next solve reads the values from the same places
//! of its own solution and hands back the same skeleton.

use nnderive::eval::tensor::Tensor;
use nnderive::eval::Solution;
use nnderive::render::json::ApartValue;
use std::collections::HashMap;

/// Where in a [`Solution`] a value is.
#[derive(Clone, Debug)]
enum Locator {
    Value(usize),
    Symbol(usize),
    Gradient(usize),
    Updated(usize),
    Loss(usize),
    HistoryGradient(usize, usize),
    HistoryQuantity(usize, usize, usize),
    HistoryValue(usize, usize),
    General(usize),
    /// Made by the writer (the learning rate and the optimizer's settings,
    /// from the file's constants): the same in every solution of the
    /// network, whose given values never change (values given for one
    /// call make a network of their own).
    Fixed(ApartValue),
}

/// A skeleton and where each of its values is found.
pub struct Located {
    pub skeleton: String,
    places: Vec<Locator>,
}

/// Every tensor of `solution` a skeleton may read, by address.
fn places(solution: &Solution) -> HashMap<usize, Locator> {
    let at = |t: &Tensor| t as *const Tensor as usize;
    let mut out = HashMap::new();
    for (i, v) in solution.values.iter().enumerate() {
        out.insert(at(v), Locator::Value(i));
    }
    for (i, (_, v)) in solution.symbols.iter().enumerate() {
        out.insert(at(v), Locator::Symbol(i));
    }
    for (i, v) in solution.gradients.iter().enumerate() {
        out.insert(at(v), Locator::Gradient(i));
    }
    for (i, (_, v)) in solution.general.iter().enumerate() {
        out.insert(at(v), Locator::General(i));
    }
    if let Some(training) = &solution.training {
        for (i, (_, v)) in training.updated.iter().enumerate() {
            out.insert(at(v), Locator::Updated(i));
        }
        for (i, v) in training.losses.iter().enumerate() {
            out.insert(at(v), Locator::Loss(i));
        }
        for (s, step) in training.history.iter().enumerate() {
            for (p, param) in step.params.iter().enumerate() {
                out.insert(at(&param.gradient), Locator::HistoryGradient(s, p));
                out.insert(at(&param.value), Locator::HistoryValue(s, p));
                for (q, v) in param.quantities.iter().enumerate() {
                    out.insert(at(v), Locator::HistoryQuantity(s, p, q));
                }
            }
        }
    }
    out
}

impl Located {
    /// Records where each of the values set apart in `skeleton` (read from
    /// the tensors at `addresses`, with `values` their entries) is in
    /// `solution`. `None` when the solution has values that only documents
    /// show (masks, sums' terms, steps' values), which are not located.
    pub fn new(skeleton: &str, solution: &Solution, values: &[ApartValue], addresses: &[usize]) -> Option<Located> {
        if !(solution.masks.is_empty() && solution.time_terms.is_empty() && solution.step_values.is_empty()) {
            return None;
        }
        let found = places(solution);
        let places = addresses
            .iter()
            .zip(values)
            .map(|(a, v)| found.get(a).cloned().unwrap_or_else(|| Locator::Fixed(v.clone())))
            .collect();
        Some(Located { skeleton: skeleton.to_string(), places })
    }

    /// The values of `solution` (of the same network) in the skeleton's
    /// order; `None` when one is not where it was (then the skeleton is
    /// written again).
    pub fn values(&self, solution: &Solution) -> Option<Vec<ApartValue>> {
        let training = solution.training.as_ref();
        let history = |s: usize, p: usize| training?.history.get(s)?.params.get(p);
        self.places
            .iter()
            .map(|place| {
                let t: &Tensor = match place {
                    Locator::Fixed(v) => return Some(v.clone()),
                    Locator::Value(i) => solution.values.get(*i)?,
                    Locator::Symbol(i) => &solution.symbols.get(*i)?.1,
                    Locator::Gradient(i) => solution.gradients.get(*i)?,
                    Locator::General(i) => &solution.general.get(*i)?.1,
                    Locator::Updated(i) => &training?.updated.get(*i)?.1,
                    Locator::Loss(i) => training?.losses.get(*i)?,
                    Locator::HistoryGradient(s, p) => &history(*s, *p)?.gradient,
                    Locator::HistoryValue(s, p) => &history(*s, *p)?.value,
                    Locator::HistoryQuantity(s, p, q) => history(*s, *p)?.quantities.get(*q)?,
                };
                Some((t.dims().to_vec(), t.float_view().into_owned()))
            })
            .collect()
    }
}
