//! The worked solution as one structured outline, built once from a model
//! and its solution and walked by every writer (text, JSON, LaTeX and
//! Markdown; `derive`'s text, `.nn` and JSON walk the same outline without
//! values). The outline decides *what* a solution shows and in which
//! order: which tensors are given, the forward equations in step order with
//! their values and max-pool masks, the functions and their derivatives,
//! the layer rules, the error terms (with their general forms), the
//! gradients (sums over time term by term), the update and the notes. It
//! holds no notation: formulas are graph nodes, notes are data
//! ([`NoteItem`]); each writer decides how they are spelled and laid out,
//! and the words around them.

use crate::derive::time::{General, TimeSum, TimeView};
use crate::derive::{Convention, Derivation, Step, Symbol, TargetSum, Wrt};
use crate::eval::evaluate::Note;
use crate::eval::tensor::Tensor;
use crate::eval::{PoolMask, Solution, Training};
use crate::model::time::split_step;
use crate::model::{Fired, FnId, LossFn, Model, Node, NodeId, SymbolId, TensorId};

use super::formula::{Names, Notation};

/// A worked solution (`V` = `&Tensor`, each item with its value) or a
/// derivation without numbers (`V` = `()`), section by section; the fields
/// are in the order the sections come (a writer may group them, as the
/// documents put the forward formulas before the given values).
pub struct Outline<'s, V> {
    pub model: &'s Model,
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
    pub given: Vec<Given<V>>,
    /// 2. The forward equations in step order, with their values.
    pub forward: Vec<Equation<'s, V>>,
    /// 3. Each custom function followed by its derivatives.
    pub functions: Vec<FunctionRow>,
    /// 4. The layer rules the derivation uses (convolution, pooling…).
    pub layer_rules: Vec<Convention>,
    /// 5. The error terms: for a recurrence, first each sequence's general
    ///    form in t, then every defined symbol with its value.
    pub recurrence: Vec<&'s General>,
    pub error_terms: Vec<ErrorTerm<'s, V>>,
    /// 6. One gradient per parameter, in file order.
    pub gradients: Vec<GradientItem<'s, V>>,
    /// The simplifications that the error terms' steps and the functions'
    /// derivatives name, for a legend.
    pub simplifications: Simplifications,
    /// 7. The training step, when the file has one.
    pub update: Option<&'s Training>,
    /// 8. The conventions and assumptions the formulas rely on, then what
    ///    happened during the evaluation.
    pub notes: Vec<NoteItem<'s>>,
}

/// A solution's outline: every item with its value.
pub type WorkedSolution<'s> = Outline<'s, &'s Tensor>;

/// What an outline's items carry: a value in a worked solution, nothing in
/// a derivation. A writer that shows both walks the outline once and
/// writes a value where there is one.
pub trait Valued {
    /// The item's value, if the outline has values.
    fn tensor(&self) -> Option<&Tensor>;
    /// Whether the outline has values at all.
    const HAS_VALUES: bool;
}

impl Valued for () {
    fn tensor(&self) -> Option<&Tensor> {
        None
    }
    const HAS_VALUES: bool = false;
}

impl Valued for &Tensor {
    fn tensor(&self) -> Option<&Tensor> {
        Some(self)
    }
    const HAS_VALUES: bool = true;
}

impl<'s, V> Outline<'s, V> {
    /// The error terms that are sections of their own: every defined
    /// symbol but the named gradients stated in an error term's steps (see
    /// [`crate::derive::sections`]). Writers that list every quantity with
    /// its formula (`.nn`, NumPy, answer keys) walk `error_terms` instead.
    pub fn sections(&self) -> impl Iterator<Item = &ErrorTerm<'s, V>> + '_ {
        self.error_terms.iter().filter(|t| t.definition.within.is_none())
    }
}

/// A declared tensor and its value.
pub struct Given<V> {
    pub tensor: TensorId,
    pub value: V,
}

/// A forward equation, its value and the masks of the max-pools in it.
pub struct Equation<'s, V> {
    pub tensor: TensorId,
    /// The right-hand side.
    pub definition: NodeId,
    pub value: V,
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
pub struct ErrorTerm<'s, V> {
    pub symbol: SymbolId,
    pub definition: &'s Symbol,
    pub value: V,
    /// The form before Σy = 1 was used, when it was.
    pub general: Option<GeneralForm<'s>>,
    /// The values of the quantities its steps pass through: the index of
    /// the step line that ends each one's chain, and its value (none
    /// without numbers).
    pub path: Vec<(usize, V)>,
}

impl<V> ErrorTerm<'_, V> {
    /// Each quantity its steps pass through, with the first line of its
    /// chain (the step that gives it from the quantity before:
    /// `∂L/∂P1 = reshape(∂L/∂v, 2×2×2)`) and its value.
    pub fn path_lines(&self) -> impl Iterator<Item = (Wrt, NodeId, &V)> + '_ {
        let steps = &self.definition.steps;
        self.path.iter().filter_map(move |(i, value)| {
            let first = steps.get(..=*i)?.iter().rposition(|s| s.lhs.is_some())?;
            Some((steps[first].lhs?, steps[first].expr, value))
        })
    }
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
pub struct GradientItem<'s, V> {
    pub param: TensorId,
    pub formula: NodeId,
    /// The rules that lead to it.
    pub steps: &'s [Step],
    pub value: V,
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
    pub in_error_terms: Fired,
    pub in_gradients: Fired,
    pub in_functions: Fired,
}

impl Simplifications {
    /// Those named by the error terms and the functions, which every
    /// writer shows with their steps (a gradient's steps only `derive` does).
    pub fn in_error_terms_and_functions(&self) -> Fired {
        self.in_error_terms.union(self.in_functions)
    }

    pub fn all(&self) -> Fired {
        self.in_error_terms.union(self.in_gradients).union(self.in_functions)
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

/// The outline of a derivation, without numbers: what `derive` shows.
pub fn derivation_outline<'s>(model: &'s Model, d: &'s Derivation) -> Outline<'s, ()> {
    let names = Names::new(model, Some(d));
    let given = model.ids().filter(|&id| model.tensor(id).role.is_data()).map(|id| Given { tensor: id, value: () });
    let forward = equations_by_step(model).into_iter().filter_map(|id| {
        let definition = model.tensor(id).definition?;
        Some(Equation { tensor: id, definition, value: (), masks: Vec::new() })
    });
    let error_terms = symbols_by_step(model, d).into_iter().map(|s| {
        let sym = d.symbol(s);
        let general = sym.general.map(|formula| GeneralForm { formula, value: None, target: target_of(model, d, sym) });
        ErrorTerm { symbol: s, definition: sym, value: (), general, path: Vec::new() }
    });
    let gradients = d.gradients.iter().map(|g| GradientItem {
        param: g.param,
        formula: g.formula,
        steps: &g.steps,
        value: (),
        over_time: None,
    });
    Outline {
        model,
        derivation: d,
        round: None,
        time: d.time.as_ref(),
        given: given.collect(),
        forward: forward.collect(),
        functions: function_rows(model, d),
        layer_rules: layer_rules(d),
        recurrence: d.time.iter().flat_map(|v| v.groups.iter().filter_map(|g| g.general.as_ref())).collect(),
        error_terms: error_terms.collect(),
        gradients: gradients.collect(),
        simplifications: simplifications(d),
        update: None,
        notes: derivation_notes(model, d, &names),
        names,
    }
}

/// The outline of `solution`: its derivation's, each item with its value,
/// the max-pools' masks, the sums over time term by term, the update and
/// the evaluation's notes. An item the solution has no value for (the
/// error terms and gradients of a forward pass alone) is left out.
pub fn outline<'s>(model: &'s Model, solution: &'s Solution, round: Option<u32>) -> Outline<'s, &'s Tensor> {
    let o = derivation_outline(model, &solution.derivation);
    let symbol_values: std::collections::HashMap<SymbolId, &Tensor> =
        solution.symbols.iter().map(|(s, v)| (*s, v)).collect();
    let mut shown = std::collections::HashSet::new();
    let path_values: std::collections::HashMap<SymbolId, &Vec<(usize, Tensor)>> =
        solution.derivation.defined.iter().copied().zip(&solution.step_values).collect();
    let given = o.given.into_iter().map(|g| Given { tensor: g.tensor, value: solution.value(g.tensor) });
    let forward = o.forward.into_iter().map(|eq| Equation {
        tensor: eq.tensor,
        definition: eq.definition,
        value: solution.value(eq.tensor),
        masks: solution.masks.iter().filter(|m| m.equation == eq.tensor).collect(),
    });
    let error_terms = o.error_terms.into_iter().filter_map(|term| {
        let value = symbol_values.get(&term.symbol).copied()?;
        let general = term.general.map(|g| GeneralForm {
            value: solution.general.iter().find(|(id, _)| *id == term.symbol).map(|(_, v)| v),
            ..g
        });
        // A quantity on two error terms' paths (∂L/∂ŷ) has its value shown once, the first time.
        let steps = &term.definition.steps;
        // A gradient stated in another's steps shows its values there.
        let path = path_values
            .get(&term.symbol)
            .filter(|_| term.definition.within.is_none())
            .map(|p| {
                p.iter()
                    .filter(|(i, _)| {
                        let wrt = steps.get(..=*i).and_then(|s| s.iter().rev().find_map(|s| s.lhs));
                        wrt.is_some_and(|w| shown.insert(w))
                    })
                    .map(|(i, v)| (*i, v))
                    .collect()
            })
            .unwrap_or_default();
        Some(ErrorTerm { symbol: term.symbol, definition: term.definition, value, general, path })
    });
    let gradients = o.gradients.into_iter().zip(&solution.gradients).enumerate().map(|(i, (g, value))| GradientItem {
        param: g.param,
        formula: g.formula,
        steps: g.steps,
        value,
        over_time: term_by_term(solution, i),
    });
    let mut notes = o.notes;
    notes.extend(solution.notes.iter().map(NoteItem::Evaluation));
    Outline {
        model,
        derivation: o.derivation,
        names: o.names,
        round,
        time: o.time,
        given: given.collect(),
        forward: forward.collect(),
        functions: o.functions,
        layer_rules: o.layer_rules,
        recurrence: o.recurrence,
        error_terms: error_terms.collect(),
        gradients: gradients.collect(),
        simplifications: o.simplifications,
        update: solution.training.as_ref(),
        notes,
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

/// The simplifications that a derivation's error terms, gradients and functions name.
pub fn simplifications(d: &Derivation) -> Simplifications {
    let in_error_terms = d.defined_symbols().fold(Fired::default(), |acc, s| acc.union(simplified_in(&s.steps)));
    let in_gradients = d.gradients.iter().fold(Fired::default(), |acc, g| acc.union(simplified_in(&g.steps)));
    let in_functions = d.fn_derivatives.iter().fold(Fired::default(), |acc, fd| acc.union(fd.simplified));
    Simplifications { in_error_terms, in_gradients, in_functions }
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
        // The losses that are means over their entries: cross-entropy sums
        // over the classes (see `text::averaging_sentence`).
        match loss {
            LossFn::CrossEntropy(_) => continue,
            LossFn::Mse | LossFn::Bce => {}
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

/// The defined symbols: for a model with time steps, from the last step
/// down to the first (untimed ones first), else in derivation order.
pub fn symbols_by_step(model: &Model, d: &Derivation) -> Vec<SymbolId> {
    let mut out: Vec<(std::cmp::Reverse<u64>, usize, SymbolId)> = d
        .defined
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let step = split_step(&model.tensor(d.symbol(s).owner).name).map(|(_, k)| k);
            let key = match (&d.time, step) {
                (Some(_), Some(k)) => k,
                (Some(_), None) => u64::MAX,
                (None, _) => 0,
            };
            (std::cmp::Reverse(key), i, s)
        })
        .collect();
    out.sort_by_key(|(k, i, _)| (*k, *i));
    out.into_iter().map(|(_, _, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Model {
        crate::load(&crate::Source::new("net.nn", text)).expect("the test network loads")
    }

    fn named(model: &Model, ids: impl Iterator<Item = TensorId>) -> Vec<String> {
        ids.map(|id| model.tensor(id).name.clone()).collect()
    }

    /// One layer with mse: every section holds what the file has, in file
    /// order, and the note on mse's 2/n counts the prediction's entries.
    #[test]
    fn sections_of_one_layer_with_mse() {
        let model = load(
            "input x[3] = [1, 2, 3]\ntarget y[2] = [1, 0]\nparam W[2,3] = [[1, 0, 0], [0, 1, 0]]\n\
             param b[2] = [0, 0]\nZ = W @ x + b\no = sigmoid(Z)\nloss E = mse(y, o)\n",
        );
        let solution = crate::solve(&model).expect("it solves");
        let o = outline(&model, &solution, None);
        assert_eq!(named(&model, o.given.iter().map(|g| g.tensor)), ["x", "y", "W", "b"]);
        assert_eq!(named(&model, o.forward.iter().map(|e| e.tensor)), ["Z", "o", "E"]);
        assert_eq!(named(&model, o.gradients.iter().map(|g| g.param)), ["W", "b"]);
        assert_eq!(o.error_terms.len(), 1, "one δ, at Z");
        assert!(o.update.is_none() && o.functions.is_empty() && o.layer_rules.is_empty());
        // Each item carries its own value: o = σ(Z), Z = W x + b = [1, 2].
        assert_eq!(o.forward[0].value.to_f64_vec(), [1.0, 2.0]);
        let averaging: Vec<usize> = o
            .notes
            .iter()
            .filter_map(|n| match n {
                NoteItem::Averaging { loss: LossFn::Mse, entries, .. } => Some(*entries),
                _ => None,
            })
            .collect();
        assert_eq!(averaging, [2]);
    }

    /// A recurrence: the forward equations step by step, the error terms
    /// from the last step down, and Σy = 1 stated once for the sequence y_t.
    #[test]
    fn a_recurrence_runs_forward_by_step_and_back_from_the_last() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/grammar/examples/rnn.nn"))
            .expect("the example is there");
        let model = load(&text);
        let solution = crate::solve(&model).expect("it solves");
        let o = outline(&model, &solution, Some(4));
        let forward = named(&model, o.forward.iter().map(|e| e.tensor));
        // Each pre-activation nnderive named comes just before its equation.
        assert_eq!(forward[..6], ["zh[1]", "h[1]", "zy[1]", "yhat[1]", "zh[2]", "h[2]"]);
        let steps: Vec<u64> = o
            .error_terms
            .iter()
            .filter_map(|t| split_step(&model.tensor(t.definition.owner).name).map(|(_, k)| k))
            .collect();
        assert!(steps.windows(2).all(|w| w[0] >= w[1]), "from the last step down: {steps:?}");
        assert_eq!(steps.first(), Some(&3));
        let sums: Vec<Option<u64>> = o
            .notes
            .iter()
            .filter_map(|n| match n {
                NoteItem::TargetSum { step, .. } => Some(*step),
                _ => None,
            })
            .collect();
        assert_eq!(sums.len(), 1, "one note for y_1, y_2, y_3");
        assert!(sums[0].is_some());
        assert_eq!(o.recurrence.len(), 2, "δh_t and δŷ_t in t");
    }

    /// `derive` and `solve` walk the same items: the solution's outline is
    /// the derivation's with values.
    #[test]
    fn the_solution_outline_is_the_derivation_outline_with_values() {
        let model = load(
            "input x[2] = [1, -1]\ntarget y[2] = [0, 1]\nparam W[2,2] = [[1, 2], [3, 4]]\n\
             fn f(t) = relu(t) + t^2\nh = f(W @ x)\np = softmax(h)\nloss L = cross_entropy(y, p)\n",
        );
        let solution = crate::solve(&model).expect("it solves");
        let worked = outline(&model, &solution, None);
        let bare = derivation_outline(&model, &solution.derivation);
        let worked_symbols: Vec<SymbolId> = worked.error_terms.iter().map(|t| t.symbol).collect();
        let bare_symbols: Vec<SymbolId> = bare.error_terms.iter().map(|t| t.symbol).collect();
        assert!(!bare_symbols.is_empty());
        assert_eq!(worked_symbols, bare_symbols);
        assert_eq!(worked.forward.len(), bare.forward.len());
        assert_eq!(worked.functions.len(), 2, "f and f′");
        assert_eq!(bare.functions.iter().filter(|r| r.derivative.is_some()).count(), 1);
        assert!(bare.notes.iter().any(|n| matches!(n, NoteItem::Convention(Convention::ReluAtZero))));
        assert!(bare.notes.iter().any(|n| matches!(n, NoteItem::TargetSum { step: None, .. })));
    }
}
