//! The worked solution as one structured outline, built once from a model
//! and its solution and walked by every writer (text, JSON, LaTeX and
//! Markdown). The outline decides *what* a solution shows and in which
//! order: which tensors are given, the forward equations in step order with
//! their values and max-pool masks, the functions and their derivatives,
//! the layer rules, the error terms (with their general forms), the
//! gradients (sums over time term by term), the update and the notes. It
//! holds no notation: formulas are graph nodes, notes are data
//! ([`NoteItem`]); each writer decides only how they are spelled and laid
//! out.

use crate::derive::time::{General, TimeSum, TimeView};
use crate::derive::{Convention, Derivation, Symbol, TargetSum};
use crate::eval::evaluate::Note;
use crate::eval::tensor::Tensor;
use crate::eval::{PoolMask, Solution, Training};
use crate::model::time::split_step;
use crate::model::{Fired, FnId, LossFn, Model, Node, NodeId, SymbolId, TensorId};

use super::formula::{Names, Notation};

/// A worked solution, section by section; the fields are in the order the
/// sections come (a writer may group them, as the documents put the forward
/// formulas before the given values).
pub struct Outline<'s> {
    pub model: &'s Model,
    pub solution: &'s Solution,
    pub derivation: &'s Derivation,
    /// How every tensor, symbol and function is named.
    pub names: Names<'s>,
    /// Decimals to round computed values to (`None`: full precision).
    /// Given values are always written as the file has them.
    pub round: Option<u32>,
    /// The recurrence in t of a model with time steps.
    pub time: Option<&'s TimeView>,
    /// 1. The declared tensors with values (inputs, targets, parameters,
    ///    constants), in file order.
    pub given: Vec<Given<'s>>,
    /// 2. The forward equations in step order, with their values.
    pub forward: Vec<Equation<'s>>,
    /// 3. Each custom function followed by its derivatives.
    pub functions: Vec<FunctionRow>,
    /// 4. The layer rules the derivation uses (convolution, pooling…).
    pub layer_rules: Vec<Convention>,
    /// 5. The error terms: for a recurrence, first each sequence's general
    ///    form in t, then every defined symbol with its value.
    pub recurrence: Vec<&'s General>,
    pub error_terms: Vec<ErrorTerm<'s>>,
    /// 6. One gradient per parameter, in file order.
    pub gradients: Vec<GradientItem<'s>>,
    /// The simplifications that the error terms' steps and the functions'
    /// derivatives name, for a legend.
    pub simplifications: Simplifications,
    /// 7. The training step, when the file has one.
    pub update: Option<&'s Training>,
    /// 8. The conventions and assumptions the formulas rely on, then what
    ///    happened during the evaluation.
    pub notes: Vec<NoteItem<'s>>,
}

/// A declared tensor and its value.
pub struct Given<'s> {
    pub tensor: TensorId,
    pub value: &'s Tensor,
}

/// A forward equation, its value and the masks of the max-pools in it.
pub struct Equation<'s> {
    pub tensor: TensorId,
    /// The right-hand side.
    pub definition: NodeId,
    pub value: &'s Tensor,
    pub masks: Vec<&'s PoolMask>,
}

/// A custom function (`derivative: None`) or one of its derivatives.
pub struct FunctionRow {
    pub func: FnId,
    /// The parameter it is the derivative with respect to.
    pub derivative: Option<u32>,
    /// The body, its parameters written `t0`, `t1`… (see `text::substitute_params`).
    pub body: NodeId,
    /// The simplifications that shaped a derivative.
    pub simplified: Fired,
}

/// A defined error term (or named gradient) and its value.
pub struct ErrorTerm<'s> {
    pub symbol: SymbolId,
    pub definition: &'s Symbol,
    pub value: &'s Tensor,
    /// The form before Σy = 1 was used, when it was.
    pub general: Option<GeneralForm<'s>>,
}

/// An error term without the assumption Σy = 1.
pub struct GeneralForm<'s> {
    pub formula: NodeId,
    /// Its value, when the target is left open (an expression in y's entries).
    pub value: Option<&'s Tensor>,
    /// The assumption it goes without: the target of the error term's step.
    pub target: Option<&'s TargetSum>,
}

/// A parameter's gradient and its value.
pub struct GradientItem<'s> {
    pub param: TensorId,
    pub formula: NodeId,
    pub value: &'s Tensor,
    /// A plain sum over time, written term by term with each term's value.
    pub over_time: Option<TermByTerm<'s>>,
}

/// A gradient that is a plain sum over time (no other terms, no factor or
/// divisor) and the value of each of its terms.
pub struct TermByTerm<'s> {
    pub view: &'s TimeView,
    pub sum: &'s TimeSum,
    pub terms: &'s [Tensor],
}

/// Where the simplifications named in a solution come from.
#[derive(Clone, Copy, Default)]
pub struct Simplifications {
    pub in_steps: Fired,
    pub in_functions: Fired,
}

impl Simplifications {
    pub fn all(&self) -> Fired {
        self.in_steps.union(self.in_functions)
    }
}

/// A note as data; the writers put it in words.
pub enum NoteItem<'s> {
    /// A convention at a kink or a reading of an operation.
    Convention(Convention),
    /// Where the constant of an averaging loss (mse, bce) went.
    Averaging { loss: LossFn, target: NodeId, prediction: NodeId, entries: usize },
    /// The assumption Σy = 1 for a target, `step` the step of a target in a
    /// sequence (named `y_t` and said to hold at every step).
    TargetSum { sum: &'s TargetSum, step: Option<u64> },
    /// Something the evaluation met: a kink, a switch to f64, values left open.
    Evaluation(&'s Note),
}

/// Builds the outline of `solution`.
pub fn outline<'s>(model: &'s Model, solution: &'s Solution, round: Option<u32>) -> Outline<'s> {
    let d = &solution.derivation;
    let names = Names::new(model, Some(d));
    let given = model
        .ids()
        .filter(|&id| model.tensor(id).role.is_data())
        .map(|id| Given { tensor: id, value: solution.value(id) })
        .collect();
    let forward = equations_by_step(model)
        .into_iter()
        .filter_map(|id| {
            let definition = model.tensor(id).definition?;
            let masks = solution.masks.iter().filter(|m| m.equation == id).collect();
            Some(Equation { tensor: id, definition, value: solution.value(id), masks })
        })
        .collect();
    let error_terms = symbols_by_step(model, solution)
        .into_iter()
        .map(|(s, v)| {
            let sym = d.symbol(*s);
            let general = sym.general.map(|formula| GeneralForm {
                formula,
                value: solution.general.iter().find(|(id, _)| id == s).map(|(_, v)| v),
                target: target_of(model, d, sym),
            });
            ErrorTerm { symbol: *s, definition: sym, value: v, general }
        })
        .collect();
    let gradients = d
        .gradients
        .iter()
        .zip(&solution.gradients)
        .enumerate()
        .map(|(i, (g, v))| GradientItem {
            param: g.param,
            formula: g.formula,
            value: v,
            over_time: term_by_term(solution, i),
        })
        .collect();
    let mut notes = derivation_notes(model, d, &names);
    notes.extend(solution.notes.iter().map(NoteItem::Evaluation));
    Outline {
        model,
        solution,
        derivation: d,
        round,
        time: d.time.as_ref(),
        given,
        forward,
        functions: function_rows(model, d),
        layer_rules: layer_rules(d),
        recurrence: d.time.iter().flat_map(|v| v.groups.iter().filter_map(|g| g.general.as_ref())).collect(),
        error_terms,
        gradients,
        simplifications: simplifications(d),
        update: solution.training.as_ref(),
        notes,
        names,
    }
}

/// Each custom function followed by its derivatives, in file order.
pub fn function_rows(model: &Model, d: &Derivation) -> Vec<FunctionRow> {
    let mut rows = Vec::new();
    for (i, f) in model.functions.values().enumerate() {
        let func = FnId(i as u32);
        rows.push(FunctionRow { func, derivative: None, body: f.body, simplified: Fired::default() });
        for fd in d.fn_derivatives.iter().filter(|fd| fd.func == func) {
            rows.push(FunctionRow { func, derivative: Some(fd.wrt), body: fd.body, simplified: fd.simplified });
        }
    }
    rows
}

/// The layer rules a derivation uses.
pub fn layer_rules(d: &Derivation) -> Vec<Convention> {
    d.conventions.iter().copied().filter(|c| c.is_layer_rule()).collect()
}

/// The simplifications that a derivation's error terms and functions name.
pub fn simplifications(d: &Derivation) -> Simplifications {
    let in_steps = d.defined_symbols().fold(Fired::default(), |acc, s| acc.union(simplified_in(&s.steps)));
    let in_functions = d.fn_derivatives.iter().fold(Fired::default(), |acc, fd| acc.union(fd.simplified));
    Simplifications { in_steps, in_functions }
}

/// The simplifications that any of `steps` name.
pub fn simplified_in(steps: &[crate::derive::Step]) -> Fired {
    steps.iter().fold(Fired::default(), |acc, s| acc.union(s.simplified))
}

/// The conventions and assumptions a derivation's formulas rely on: the
/// conventions (other than layer rules), where the constants of averaging
/// losses went, and Σy = 1 for each target (a sequence of targets once).
pub fn derivation_notes<'s>(model: &Model, d: &'s Derivation, names: &Names) -> Vec<NoteItem<'s>> {
    let mut notes: Vec<NoteItem> =
        d.conventions.iter().copied().filter(|c| !c.is_layer_rule()).map(NoteItem::Convention).collect();
    notes.extend(averaging_factors(model));
    // A sequence of targets y_1, y_2… is one assumption, about y_t.
    let mut seen: Vec<(String, &TargetSum)> = Vec::new();
    for sum in &d.target_sums {
        let step = d.time.as_ref().and_then(|_| split_step(&model.tensor(sum.target).name)).map(|(_, k)| k);
        let key = match (d.time.as_ref(), step) {
            (Some(view), Some(k)) => names.at(&view.index, k).tensor(sum.target, Notation::Text),
            _ => names.tensor(sum.target, Notation::Text),
        };
        if seen.iter().any(|(y, s)| *y == key && s.axis == sum.axis && s.verified == sum.verified) {
            continue;
        }
        seen.push((key, sum));
        notes.push(NoteItem::TargetSum { sum, step });
    }
    notes
}

/// Each averaging loss (mse, bce) once, with its number of entries.
fn averaging_factors<'s>(model: &Model) -> Vec<NoteItem<'s>> {
    let roots: Vec<_> = model.equations().filter_map(|t| model.tensor(t).definition).collect();
    let mut out: Vec<NoteItem> = Vec::new();
    for n in model.graph.nodes_under(&roots) {
        let Node::Loss(loss, target, prediction) = *model.graph.node(n) else { continue };
        if matches!(loss, LossFn::CrossEntropy(_)) {
            continue;
        }
        let entries = model.graph.shape(prediction).len().max(1);
        let same = |item: &NoteItem| {
            matches!(*item, NoteItem::Averaging { loss: l, target: y, prediction: p, entries: e }
                if l == loss && e == entries && model.graph.node(y) == model.graph.node(target)
                    && model.graph.node(p) == model.graph.node(prediction))
        };
        if !out.iter().any(same) {
            out.push(NoteItem::Averaging { loss, target, prediction, entries });
        }
    }
    out
}

/// The target sum an error term's general form goes without: the target of
/// the same step, for a sequence of targets, else the first.
fn target_of<'s>(model: &Model, d: &'s Derivation, sym: &Symbol) -> Option<&'s TargetSum> {
    let step = split_step(&model.tensor(sym.owner).name).map(|(_, k)| k);
    d.target_sums
        .iter()
        .find(|t| step.is_some() && split_step(&model.tensor(t.target).name).map(|(_, k)| k) == step)
        .or(d.target_sums.first())
}

/// Gradient `i` as a plain sum over time with the value of each term, when
/// it is one (no other terms, no factor or divisor): then it is written
/// term by term and added (`δh₃ h₂ᵀ + δh₂ h₁ᵀ + δh₁ h₀ᵀ = … + … + …`).
pub fn term_by_term(solution: &Solution, i: usize) -> Option<TermByTerm<'_>> {
    let view = solution.derivation.time.as_ref()?;
    let sum = view.gradients.get(i)?.as_ref()?;
    let terms = solution.time_terms.get(i)?;
    let plain = terms.len() == sum.terms.len() && sum.rest.is_empty() && sum.factor.is_none() && sum.divisor.is_none();
    plain.then_some(TermByTerm { view, sum, terms })
}

/// Equations in step order for a model with time steps (each step's
/// equations in file order, untimed ones after the steps they follow), else
/// in file order.
pub fn equations_by_step(model: &Model) -> Vec<TensorId> {
    let mut eqs: Vec<(u64, usize, TensorId)> = model
        .equations()
        .enumerate()
        .map(|(i, id)| {
            let k = split_step(&model.tensor(id).name).map(|(_, k)| k).unwrap_or(u64::MAX);
            (if model.time.is_some() { k } else { 0 }, i, id)
        })
        .collect();
    eqs.sort_unstable();
    eqs.into_iter().map(|(_, _, id)| id).collect()
}

/// The defined symbols with their values: for a model with time steps, from
/// the last step down to the first (untimed ones first), else in derivation order.
pub fn symbols_by_step<'s>(model: &Model, solution: &'s Solution) -> Vec<&'s (SymbolId, Tensor)> {
    let d = &solution.derivation;
    let mut out: Vec<(std::cmp::Reverse<u64>, usize, &(SymbolId, Tensor))> = solution
        .symbols
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let step = split_step(&model.tensor(d.symbol(entry.0).owner).name).map(|(_, k)| k);
            let key = match (&d.time, step) {
                (Some(_), Some(k)) => k,
                (Some(_), None) => u64::MAX,
                (None, _) => 0,
            };
            (std::cmp::Reverse(key), i, entry)
        })
        .collect();
    out.sort_by_key(|(k, i, _)| (*k, *i));
    out.into_iter().map(|(_, _, e)| e).collect()
}
