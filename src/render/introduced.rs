//! The pre-activations nnderive named (see [`crate::model::preact`]), as
//! every writer says so once, in the forward pass: "nnderive names the
//! pre-activations zh_t and zy_t, which the file leaves unnamed". The
//! names are data here; each writer sets them in its notation.

use super::formula::{Names, Notation};
use crate::model::time::split_step;
use crate::model::{Model, TensorId};

/// One named pre-activation as the forward pass shows it: a sequence once,
/// at step t (`zh_t`), any other by its name (`zL`).
pub struct Shown {
    /// The first step's tensor (or the tensor).
    pub tensor: TensorId,
    /// The equation of the file that uses it, at the same step.
    pub user: TensorId,
}

/// The pre-activations nnderive named, each sequence once, in the order
/// the forward pass shows the equations.
pub fn shown(model: &Model) -> Vec<Shown> {
    if model.introduced.is_empty() {
        return Vec::new();
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for tensor in model.equations() {
        let Some(user) = model.introduced_for(tensor) else { continue };
        let name = &model.tensor(tensor).name;
        let base = split_step(name).map_or(name.as_str(), |(base, _)| base);
        if !seen.contains(&base) {
            seen.push(base);
            out.push(Shown { tensor, user });
        }
    }
    out
}

/// The names of [`shown`] in `notation`, a sequence at the time index.
pub fn spelled(model: &Model, names: &Names, notation: Notation) -> Vec<String> {
    shown(model).iter().map(|s| spell(model, names, s.tensor, notation)).collect()
}

/// A tensor's name, a step of a sequence at the time index (`zh_t`, `zh[t]`).
pub fn spell(model: &Model, names: &Names, id: TensorId, notation: Notation) -> String {
    match (&model.time, split_step(&model.tensor(id).name)) {
        (Some(time), Some((_, k))) => names.at(&time.index, k).tensor(id, notation),
        _ => names.tensor(id, notation),
    }
}

/// "the pre-activation" or "the pre-activations", for `count` names.
pub fn noun(count: usize) -> &'static str {
    if count == 1 {
        "the pre-activation"
    } else {
        "the pre-activations"
    }
}

/// The end of the sentence after the names.
pub const WHICH: &str = ", which the file leaves unnamed";

/// `a`, `a and b`, `a, b and c`.
pub fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The sentence in text (empty without named pre-activations): "nnderive
/// names the pre-activation zh_t, which the file leaves unnamed".
pub fn sentence(model: &Model, names: &Names) -> Option<String> {
    let spelled = spelled(model, names, Notation::Text);
    if spelled.is_empty() {
        return None;
    }
    Some(format!("nnderive names {} {}{}", noun(spelled.len()), listed(&spelled), WHICH))
}
