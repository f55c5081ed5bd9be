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
pub enum Locator {
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

/// A value of a skeleton: a tensor of the solution, or one the writer made.
pub enum Found<'a> {
    Tensor(&'a Tensor),
    Fixed(&'a ApartValue),
}

/// Every tensor of `solution` a skeleton may read, by address.
pub fn places(solution: &Solution) -> HashMap<usize, Locator> {
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

/// Whether the values of `solution` can be located: not when it has
/// values that only documents show (masks, sums' terms, steps' values),
/// which [`places`] does not list.
pub fn locatable(solution: &Solution) -> bool {
    solution.masks.is_empty() && solution.time_terms.is_empty() && solution.step_values.is_empty()
}

impl Located {
    /// Records where each of the values set apart in `skeleton` (read from
    /// the tensors at `addresses`, with `values` their entries, which may
    /// be left empty for the tensors in `found`) is in the solution whose
    /// tensors `found` lists by address ([`places`], of a [`locatable`]
    /// solution). A value found nowhere there is one the writer made, kept
    /// as it is.
    pub fn new(skeleton: &str, values: &[ApartValue], addresses: &[usize], found: &HashMap<usize, Locator>) -> Located {
        let places = addresses
            .iter()
            .zip(values)
            .map(|(a, v)| found.get(a).cloned().unwrap_or_else(|| Locator::Fixed(v.clone())))
            .collect();
        Located { skeleton: skeleton.to_string(), places }
    }

    /// The values of `solution` (of the same network) in the skeleton's
    /// order, where they are; `None` when one is not where it was (then
    /// the skeleton is written again).
    pub fn values<'a>(&'a self, solution: &'a Solution) -> Option<Vec<Found<'a>>> {
        let training = solution.training.as_ref();
        let history = |s: usize, p: usize| training?.history.get(s)?.params.get(p);
        self.places
            .iter()
            .map(|place| {
                let t: &Tensor = match place {
                    Locator::Fixed(v) => return Some(Found::Fixed(v)),
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
                Some(Found::Tensor(t))
            })
            .collect()
    }
}
