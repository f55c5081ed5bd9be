//! `solve` and `gradcheck`: values of every formula, the training step, and
//! the finite-difference check of the derived gradients.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use num_rational::BigRational;

use super::error::{Error, ErrorKind, Failure, MAX_UNKNOWNS};
use super::evaluate::{Evaluator, Note, Quantity};
use super::tensor::{decimals_to_f64, Data, Tensor, EXACT_ENTRIES_CAP};
use crate::derive::{derive, Derivation, SymbolKind, Wrt};
use crate::model::{Model, Node, NodeId, Optimizer, PoolKind, PoolPart, SymbolId, TensorId, Train};

/// Every value of a worked solution.
#[derive(Clone, Debug)]
pub struct Solution {
    /// The derivation the values are of, shared with whoever solved
    /// (solving a network again shares its derivation, not a copy of it).
    pub derivation: Arc<Derivation>,
    /// Values of every tensor (data and equations) at the file's parameters.
    pub values: Vec<Tensor>,
    /// Values of the defined δ's and named gradients, in `derivation.defined` order.
    pub symbols: Vec<(SymbolId, Tensor)>,
    /// Gradient values, parallel to `derivation.gradients`.
    pub gradients: Vec<Tensor>,
    /// The training step, if the file has one.
    pub training: Option<Training>,
    /// Kinks met and values that left exact arithmetic.
    pub notes: Vec<Note>,
    /// For an answer with values left open, the value of each error term's
    /// general form (before Σy = 1 was used), when it has one: with y open,
    /// `ŷ Σy − y` beside `ŷ − y`.
    pub general: Vec<(SymbolId, Tensor)>,
    /// The switches of every max-pool, in equation order.
    pub masks: Vec<PoolMask>,
    /// For a model with time steps, the value of each term of each gradient
    /// that is a sum over time (`TimeSum::terms`), parallel to the
    /// gradients; empty where a gradient is no such sum.
    pub time_terms: Vec<Vec<Tensor>>,
    /// The value of every intermediate gradient on each defined symbol's
    /// path (∂L/∂v, ∂L/∂P1, ∂L/∂A1 on the way to δ1): for each symbol in
    /// `derivation.defined` order, the index in its `steps` of the line that
    /// ends a quantity's chain of lines, with that quantity's value.
    pub step_values: Vec<Vec<(usize, Tensor)>>,
}

/// Where a max-pool takes each window's maximum: a map the shape of the
/// pool's input counting, at each entry, the windows whose first maximum
/// (row-major) it is; a 0/1 mask when the windows do not overlap.
#[derive(Clone, Debug)]
pub struct PoolMask {
    /// The equation the max-pool is in.
    pub equation: TensorId,
    /// The pool's input.
    pub input: NodeId,
    pub mask: Tensor,
}

/// Networks with at most this many parameter entries are small: their
/// training history keeps the parameters, gradients and optimizer
/// quantities of every step, not only the loss.
pub const SMALL_NETWORK: usize = 64;

/// The result of the `train` statement.
#[derive(Clone, Debug)]
pub struct Training {
    pub optimizer: Optimizer,
    pub lr: BigRational,
    pub steps: u32,
    /// Each parameter after the last step, in file order.
    pub updated: Vec<(TensorId, Tensor)>,
    /// The loss before each step, then after the last one: `losses[k]` is
    /// the loss at the parameters after k steps.
    pub losses: Vec<Tensor>,
    /// For a small network ([`SMALL_NETWORK`]), every step in order;
    /// empty otherwise.
    pub history: Vec<TrainingStep>,
}

/// One step of training of a small network: for each parameter (in the
/// order of `derivation.gradients`) the gradient used, the optimizer's
/// quantities and the value after the step.
#[derive(Clone, Debug)]
pub struct TrainingStep {
    pub params: Vec<ParamStep>,
}

/// One parameter in one training step.
#[derive(Clone, Debug)]
pub struct ParamStep {
    pub param: TensorId,
    /// ∂L/∂P at the value before the step.
    pub gradient: Tensor,
    /// The optimizer's quantities, in the order of [`Optimizer::quantities`].
    pub quantities: Vec<Tensor>,
    /// The value after the step.
    pub value: Tensor,
}

impl Solution {
    pub fn value(&self, id: TensorId) -> &Tensor {
        &self.values[id.0 as usize]
    }

    pub fn symbol_value(&self, id: SymbolId) -> Option<&Tensor> {
        self.symbols.iter().find(|(s, _)| *s == id).map(|(_, v)| v)
    }
}

/// Derives and evaluates everything, then trains.
pub fn solve(model: &Model) -> Result<Solution, Error> {
    solve_derived(model, derive(model))
}

/// [`solve`] of a model already derived (`derivation` is `derive(model)`),
/// so that a caller solving the same model again derives it once.
pub fn solve_derived(model: &Model, derivation: impl Into<Arc<Derivation>>) -> Result<Solution, Error> {
    let derivation = derivation.into();
    // Too much work is said before anything is computed, a value left open
    // included: the size of the network is the first thing to fix.
    super::work::check_solve(model, &derivation)?;
    let initial = initial_values(model)?;
    // Only a given value of more than EXACT_ENTRIES_CAP entries starts in f64.
    let large =
        model.ids().filter(|&id| initial[id.0 as usize].as_ref().is_some_and(|v| matches!(v.data(), Data::Float(_))));
    let large: Vec<Note> = large.map(|id| Note::Large { quantity: Quantity::Tensor(id) }).collect();
    solve_from(model, derivation, initial, large, false)
}

/// [`solve`] from the given values `initial` (by tensor), with `large`
/// the notes of those given in f64, once the caller has checked the work
/// (`work::check_solve`); with `values_only`, without the
/// values only documents show (`masks`, `time_terms`, `step_values` empty).
pub(super) fn solve_from(
    model: &Model,
    derivation: Arc<Derivation>,
    initial: Vec<Option<Rc<Tensor>>>,
    large: Vec<Note>,
    values_only: bool,
) -> Result<Solution, Error> {
    // Values are shared, not copied, between the passes and the training
    // step: a large parameter is held once however many hold it.
    let pass = Pass::run(model, &derivation, initial.clone(), true)?;
    // What only a document shows (the switches, each term of a sum over
    // time, each step's value) is left out of a solution of values only.
    let (masks, time_terms, step_values) = match values_only {
        true => (Vec::new(), Vec::new(), Vec::new()),
        false => (
            pool_masks(model, &derivation, &pass.values)?,
            time_terms(model, &derivation, &pass)?,
            step_values(model, &derivation, &pass),
        ),
    };
    let open = open_values(model);
    let general = if open.is_empty() { Vec::new() } else { general_values(model, &derivation, &pass)? };
    let mut notes = pass.notes.clone();
    notes.extend(large);
    notes.extend(unreached_rows(model));
    if !open.is_empty() {
        notes.push(Note::Open { names: open });
    }
    let training = match &model.train {
        None => None,
        Some(train) => Some(self::train(model, &derivation, &pass, initial, train, &mut notes)?),
    };
    notes.sort();
    notes.dedup();
    // One note names every value too large to write out.
    let large: Vec<Vec<Quantity>> = notes
        .iter()
        .filter_map(|n| if let Note::TooLarge { quantities } = n { Some(quantities.clone()) } else { None })
        .collect();
    if large.len() > 1 {
        notes.retain(|n| !matches!(n, Note::TooLarge { .. }));
        notes.push(Note::TooLarge { quantities: large.concat() });
    }
    Ok(Solution {
        values: pass.values.into_iter().map(unshared).collect(),
        symbols: pass.symbols,
        gradients: pass.gradients,
        training,
        notes,
        masks,
        time_terms,
        step_values,
        general,
        derivation,
    })
}

/// A model derived and given its values once, then evaluated as often as
/// asked: the numeric work of one training step without parsing,
/// checking, deriving or printing, as an in-process comparison with a
/// numeric library needs (`cargo bench -- eval`).
pub struct Prepared<'a> {
    model: &'a Model,
    derivation: Derivation,
    initial: Vec<Option<Rc<Tensor>>>,
}

impl<'a> Prepared<'a> {
    /// Derives `model` and reads its given values.
    pub fn new(model: &'a Model) -> Result<Prepared<'a>, Error> {
        Ok(Prepared { model, derivation: derive(model), initial: initial_values(model)? })
    }

    /// One forward pass, one backward pass and the first update by the
    /// file's optimizer, as [`solve`] computes them: each parameter's new
    /// value, in the order of the derivation's gradients (the gradients
    /// themselves when the file does not train).
    pub fn step(&self) -> Result<Vec<(TensorId, Tensor)>, Error> {
        let (model, derivation) = (self.model, &self.derivation);
        let pass = Pass::run(model, derivation, self.initial.clone(), true)?;
        let Some(train) = &model.train else {
            return Ok(derivation.gradients.iter().map(|g| g.param).zip(pass.gradients).collect());
        };
        let mut updated = Vec::with_capacity(pass.gradients.len());
        let first = super::optimize::Steps::first_of(train);
        for (g, grad) in derivation.gradients.iter().zip(&pass.gradients) {
            let old = pass.values[g.param.0 as usize].as_ref();
            let start = start_of(train, g.param, grad, &self.initial);
            let update = super::optimize::update(&train.optimizer, &train.lr, &first, old, grad, start.as_deref())
                .map_err(|e| numeric(model, g.param, "the update", e))?;
            updated.push((g.param, update.value));
        }
        Ok(updated)
    }
}

/// The state `param` starts from when the file gives one, read from the
/// file's values `initial`.
fn start_of(train: &Train, param: TensorId, grad: &Tensor, initial: &[Option<Rc<Tensor>>]) -> Option<Vec<Tensor>> {
    super::optimize::initial_state(train, param, grad, |id| initial.get(id.0 as usize)?.as_deref().cloned())
}

/// Applies the `train` statement: `steps` updates by its optimizer, each
/// after a forward and backward pass at the current parameters (`pass` is
/// the one at the file's values).
fn train(
    model: &Model,
    derivation: &Derivation,
    pass: &Pass,
    initial: Vec<Option<Rc<Tensor>>>,
    train: &Train,
    notes: &mut Vec<Note>,
) -> Result<Training, Error> {
    let entries: usize =
        derivation.gradients.iter().map(|g| model.tensor(g.param).shape.dims().iter().product::<usize>()).sum();
    let small = entries <= SMALL_NETWORK;
    let mut current: Option<Pass> = None;
    let mut tensors = initial;
    let mut losses = vec![Tensor::clone(&pass.values[model.loss.0 as usize])];
    let mut history = Vec::new();
    // The optimizer's quantities of the last step, per parameter.
    let mut previous: Vec<Option<Vec<Tensor>>> = derivation
        .gradients
        .iter()
        .zip(&pass.gradients)
        .map(|(g, grad)| start_of(train, g.param, grad, &tensors))
        .collect();
    let mut inexact_noted = false;
    for at in super::optimize::Steps::after(&train.optimizer, train.taken).take(train.steps as usize) {
        // The step of this run (from 1), which the history counts; Adam's
        // bias correction uses `at.k`, which counts the updates taken before.
        let step = at.k - train.taken;
        let gradients = current.as_ref().map_or(&pass.gradients, |c| &c.gradients);
        let mut record = Vec::new();
        for ((g, grad), before) in derivation.gradients.iter().zip(gradients).zip(previous.iter_mut()) {
            let p = g.param.0 as usize;
            let old = tensors[p]
                .clone()
                .ok_or_else(|| numeric(model, g.param, "the update", Failure::Internal("a parameter has no value")))?;
            let update =
                super::optimize::update(&train.optimizer, &train.lr, &at, &old, grad, before.as_deref()).map_err(
                    |e| Error { after_step: (step > 1).then(|| step - 1), ..numeric(model, g.param, "the update", e) },
                )?;
            if let (Some(root), false) = (update.inexact_root, inexact_noted) {
                inexact_noted = true;
                notes.push(Note::InexactRoot { optimizer: train.optimizer.name(), root, step });
            }
            if small {
                record.push(ParamStep {
                    param: g.param,
                    gradient: grad.clone(),
                    quantities: update.quantities.clone(),
                    value: update.value.clone(),
                });
            }
            *before = Some(update.quantities);
            tensors[p] = Some(Rc::new(update.value));
        }
        if small {
            history.push(TrainingStep { params: record });
        }
        // The last step needs only the loss; the gradients are not used again.
        let next = Pass::run(model, derivation, tensors.clone(), step < train.steps)
            .map_err(|e| Error { after_step: Some(step), ..e })?;
        losses.push(Tensor::clone(&next.values[model.loss.0 as usize]));
        // After a step only the loss is shown: an expression too large
        // elsewhere (ŷ) is not worth a note of its own.
        let loss = Quantity::Tensor(model.loss);
        notes.extend(next.notes.iter().filter_map(|n| match n {
            Note::TooLarge { quantities } if quantities.contains(&loss) => {
                Some(Note::TooLarge { quantities: vec![Quantity::LossAfterStep(step)] })
            }
            Note::TooLarge { .. } => None,
            other => Some(other.clone()),
        }));
        current = Some(next);
    }
    // Now the last values have one owner each, and move out.
    drop(current);
    let updated = model
        .params()
        .map(|p| match tensors[p.0 as usize].take() {
            Some(v) => (p, unshared(v)),
            None => (p, Tensor::clone(&pass.values[p.0 as usize])),
        })
        .collect();
    Ok(Training {
        optimizer: train.optimizer.clone(),
        lr: train.lr.clone(),
        steps: train.steps,
        updated,
        losses,
        history,
    })
}

/// The value of every term of each gradient that is a sum over time.
fn time_terms(model: &Model, derivation: &Derivation, pass: &Pass) -> Result<Vec<Vec<Tensor>>, Error> {
    let Some(view) = &derivation.time else {
        return Ok(Vec::new());
    };
    let values = pass.values.iter().cloned().map(Some).collect();
    let mut ev = Evaluator::new(model, &derivation.graph, Some(derivation), values);
    ev.symbols.extend(pass.symbols.iter().cloned());
    let mut out = Vec::with_capacity(view.gradients.len());
    for (sum, g) in view.gradients.iter().zip(&derivation.gradients) {
        let mut terms = Vec::new();
        for &t in sum.iter().flat_map(|s| &s.terms) {
            let name = &model.tensor(g.param).name;
            terms.push(ev.eval(t).map_err(|m| numeric(model, g.param, name, m))?);
        }
        out.push(terms);
    }
    Ok(out)
}

/// The values of the quantities each defined symbol's steps pass through
/// (see `Solution::step_values`). A chain of lines about one quantity ends
/// where the next quantity's line begins; its last line is evaluated, and
/// its value is kept for the quantity so that a later line naming it (a
/// gradient used twice, `∂L/∂h_t` in two error terms) can be evaluated too.
/// A line that cannot be evaluated here (one naming a quantity not yet
/// computed) is left without a value: the value shown is only ever the one
/// computed, and every step's value is a by-product of the same pass.
fn step_values(model: &Model, derivation: &Derivation, pass: &Pass) -> Vec<Vec<(usize, Tensor)>> {
    let values = pass.values.iter().cloned().map(Some).collect();
    let mut ev = Evaluator::new(model, &derivation.graph, Some(derivation), values);
    ev.symbols.extend(pass.symbols.iter().cloned());
    let by_wrt: HashMap<Wrt, SymbolId> =
        (0..derivation.symbols.len() as u32).map(SymbolId).map(|s| (derivation.symbol(s).wrt, s)).collect();
    let mut out = Vec::with_capacity(derivation.defined.len());
    for &s in &derivation.defined {
        let sym = derivation.symbol(s);
        let mut found = Vec::new();
        let mut current = None;
        for (i, step) in sym.steps.iter().enumerate() {
            current = step.lhs.or(current);
            let ends_chain = sym.steps.get(i + 1).is_none_or(|next| next.lhs.is_some());
            // The symbol's own value is shown with its formula already.
            let Some(wrt) = current.filter(|&w| ends_chain && w != sym.wrt) else { continue };
            if let Ok(value) = ev.eval(step.expr) {
                if let Some(&id) = by_wrt.get(&wrt) {
                    ev.symbols.entry(id).or_insert_with(|| value.clone());
                }
                found.push((i, value));
            }
        }
        out.push(found);
    }
    out
}

/// The value of each defined symbol's general form (see `Solution::general`).
fn general_values(model: &Model, derivation: &Derivation, pass: &Pass) -> Result<Vec<(SymbolId, Tensor)>, Error> {
    let with_general: Vec<_> =
        derivation.defined.iter().filter_map(|&s| derivation.symbol(s).general.map(|g| (s, g))).collect();
    if with_general.is_empty() {
        return Ok(Vec::new());
    }
    let values = pass.values.iter().cloned().map(Some).collect();
    let mut ev = Evaluator::new(model, &derivation.graph, Some(derivation), values);
    ev.symbols.extend(pass.symbols.iter().cloned());
    let mut out = Vec::with_capacity(with_general.len());
    for (s, g) in with_general {
        let label = symbol_label(model, derivation, s);
        let v = ev.eval(g).map_err(|m| numeric(model, model.loss, &label, m))?;
        out.push((s, v));
    }
    Ok(out)
}

/// A note for each pooling whose windows leave the input's last rows or
/// columns out, so that the output does not silently ignore them.
pub(super) fn unreached_rows(model: &Model) -> Vec<Note> {
    let mut out = Vec::new();
    for &id in &model.order {
        let Some(def) = model.tensor(id).definition else { continue };
        let mut pools: Vec<NodeId> = model.graph.nodes_under(&[def]);
        pools.sort_unstable();
        for n in pools {
            let Node::Pool(kind, PoolPart::Forward, _, w) = *model.graph.node(n) else { continue };
            let (rows, cols) = (w.unreached(0), w.unreached(1));
            if rows + cols > 0 {
                let quantity = Quantity::Tensor(id);
                out.push(Note::Unreached { quantity, pool: kind.name(), rows, cols, extent: w.extent });
            }
        }
    }
    out
}

/// The switches of every max-pool in the equations, from the forward values.
fn pool_masks(model: &Model, derivation: &Derivation, values: &[Rc<Tensor>]) -> Result<Vec<PoolMask>, Error> {
    let any_max_pool = model
        .graph
        .nodes_under(&model.order.iter().filter_map(|&id| model.tensor(id).definition).collect::<Vec<_>>())
        .into_iter()
        .any(|n| matches!(model.graph.node(n), Node::Pool(PoolKind::Max, ..)));
    if !any_max_pool {
        // Nothing to do, and no copy of every value to make.
        return Ok(Vec::new());
    }
    let shared = values.iter().cloned().map(Some).collect();
    let mut ev = Evaluator::new(model, &derivation.graph, Some(derivation), shared);
    let mut out = Vec::new();
    for &id in &model.order {
        let Some(def) = model.tensor(id).definition else { continue };
        let mut pools: Vec<NodeId> = model.graph.nodes_under(&[def]);
        pools.sort_unstable();
        for n in pools {
            let Node::Pool(PoolKind::Max, PoolPart::Forward, ref operands, window) = *model.graph.node(n) else {
                continue;
            };
            let Some(&input) = operands.first() else { continue };
            let name = &model.tensor(id).name;
            let a = ev.eval(input).map_err(|m| numeric(model, id, name, m))?;
            let mask = super::conv::max_pool_switches(&a, window).map_err(|e| numeric(model, id, name, e))?;
            out.push(PoolMask { equation: id, input, mask });
        }
    }
    Ok(out)
}

/// The declared values; a declaration the file leaves open is one unknown
/// per entry (`y₁, y₂`), and everything computed from it an expression in them.
/// Exact, or in f64 past [`EXACT_ENTRIES_CAP`] entries. Shared (`Rc`), so
/// that each pass and each training step reuses them instead of copying
/// every parameter's entries.
fn initial_values(model: &Model) -> Result<Vec<Option<Rc<Tensor>>>, Error> {
    let mut out = Vec::with_capacity(model.tensors.len());
    let mut unknowns = 0usize;
    for id in model.ids() {
        let t = model.tensor(id);
        let dims = t.shape.dims().to_vec();
        out.push(match (&t.value, t.definition) {
            (Some(v), _) if v.len() > EXACT_ENTRIES_CAP => Some(Rc::new(Tensor::float(dims, decimals_to_f64(v)))),
            (Some(v), _) => Some(Rc::new(Tensor::exact(dims, v.iter().map(|d| d.to_rational()).collect()))),
            (None, None) => {
                unknowns = unknowns.saturating_add(t.shape.len());
                if unknowns > MAX_UNKNOWNS {
                    let kind =
                        ErrorKind::TooManyUnknowns { name: t.name.clone(), role: t.role.name(), entries: unknowns };
                    return Err(Error::new(kind, Some(t.span)));
                }
                Some(Rc::new(Tensor::unknown(id.0, &t.name, dims)))
            }
            (None, Some(_)) => None,
        });
    }
    Ok(out)
}

/// The declarations without a value, in file order.
pub fn open_values(model: &Model) -> Vec<TensorId> {
    model.ids().filter(|&id| model.tensor(id).definition.is_none() && model.tensor(id).value.is_none()).collect()
}

/// The error for a computation that needs every number (`gradcheck`).
fn missing(model: &Model, open: &[TensorId]) -> Error {
    missing_for(model, open, "the finite-difference check")
}

fn missing_for(model: &Model, open: &[TensorId], purpose: &'static str) -> Error {
    let missing = open.iter().map(|&id| (model.tensor(id).name.clone(), model.tensor(id).role.name())).collect();
    let kind = ErrorKind::MissingValues { missing, purpose };
    Error { kind, span: open.first().map(|&id| model.tensor(id).span), after_step: None }
}

/// `Ok` when the file gives every value; else the error naming each one
/// left open, for a `purpose` that needs numbers (arrays for a notebook).
pub fn require_values(model: &Model, purpose: &'static str) -> Result<(), Error> {
    let open = open_values(model);
    match open.is_empty() {
        true => Ok(()),
        false => Err(missing_for(model, &open, purpose)),
    }
}

fn numeric(model: &Model, at: TensorId, quantity: &str, failure: impl Into<Failure>) -> Error {
    Error {
        kind: ErrorKind::Numeric { quantity: quantity.to_string(), failure: failure.into() },
        span: Some(model.tensor(at).span),
        after_step: None,
    }
}

/// A shared value, moved out when nothing else holds it, else copied.
fn unshared(v: Rc<Tensor>) -> Tensor {
    Rc::try_unwrap(v).unwrap_or_else(|shared| Tensor::clone(&shared))
}

/// One forward and backward pass.
#[derive(Clone, Debug)]
struct Pass {
    /// Every tensor's value, shared with the inputs it was given.
    values: Vec<Rc<Tensor>>,
    symbols: Vec<(SymbolId, Tensor)>,
    gradients: Vec<Tensor>,
    notes: Vec<Note>,
}

impl Pass {
    fn run(
        model: &Model,
        derivation: &Derivation,
        tensors: Vec<Option<Rc<Tensor>>>,
        backward: bool,
    ) -> Result<Pass, Error> {
        let mut ev = Evaluator::new(model, &derivation.graph, Some(derivation), tensors);
        for &id in &model.order {
            let t = model.tensor(id);
            let Some(def) = t.definition else { continue };
            ev.quantity = Some(Quantity::Tensor(id));
            let v = ev.eval_shared(def).map_err(|m| numeric(model, id, &t.name, m))?;
            capped(&mut ev, &v);
            ev.tensors[id.0 as usize] = Some(v);
        }
        let mut symbols = Vec::new();
        let mut gradients = Vec::new();
        if backward {
            for &s in &derivation.defined {
                let sym = derivation.symbol(s);
                let label = symbol_label(model, derivation, s);
                ev.quantity = Some(Quantity::Symbol(s));
                let at = match sym.wrt {
                    Wrt::Tensor(t) => t,
                    Wrt::Node(_) => model.loss,
                };
                let v = ev.eval(sym.formula).map_err(|m| numeric(model, at, &label, m))?;
                let v = shaped(&mut ev, v, sym.shape.dims()).map_err(|m| numeric(model, at, &label, m))?;
                capped(&mut ev, &v);
                ev.symbols.insert(s, v.clone());
                symbols.push((s, v));
            }
            for g in &derivation.gradients {
                let label = format!("∂{}/∂{}", model.tensor(model.loss).name, model.tensor(g.param).name);
                ev.quantity = Some(Quantity::Gradient(g.param));
                let v = ev.eval_owned(g.formula).map_err(|m| numeric(model, g.param, &label, m))?;
                let v = shaped(&mut ev, v, model.tensor(g.param).shape.dims())
                    .map_err(|m| numeric(model, g.param, &label, m))?;
                capped(&mut ev, &v);
                gradients.push(v);
            }
        }
        ev.clear();
        let values = std::mem::take(&mut ev.tensors)
            .into_iter()
            .map(|v| v.unwrap_or_else(|| Rc::new(Tensor::scalar_exact(BigRational::from_integer(0.into())))))
            .collect();
        Ok(Pass { values, symbols, gradients, notes: ev.notes })
    }
}

/// A derived value that came out a scalar (a constant gradient) spread over
/// its shape (in f64 past [`EXACT_ENTRIES_CAP`] entries).
fn shaped(ev: &mut Evaluator, v: Tensor, dims: &[usize]) -> Result<Tensor, Failure> {
    if v.dims().is_empty() && !dims.is_empty() {
        let n: usize = dims.iter().product();
        if n > EXACT_ENTRIES_CAP {
            if let Some(quantity) = ev.quantity {
                ev.notes.push(Note::Large { quantity });
            }
            let x = v.to_f64_vec().first().copied().unwrap_or(f64::NAN);
            return Ok(Tensor::float_checked(dims.to_vec(), vec![x; n])?);
        }
        let zeros = Tensor::exact(dims.to_vec(), vec![BigRational::from_integer(0.into()); n]);
        Ok(zeros.add(&v)?)
    } else {
        Ok(v)
    }
}

fn capped(ev: &mut Evaluator, v: &Tensor) {
    let Some(quantity) = ev.quantity else { return };
    if v.capped() {
        ev.notes.push(Note::Capped { quantity });
    }
    if let super::tensor::Data::Symbolic(entries) = v.data() {
        if entries.iter().any(|e| matches!(e, super::symbolic::Sym::TooLarge)) {
            ev.notes.push(Note::TooLarge { quantities: vec![quantity] });
        }
    }
}

/// `δ2` or `∂L/∂H`, for messages.
pub fn symbol_label(model: &Model, derivation: &Derivation, s: SymbolId) -> String {
    let sym = derivation.symbol(s);
    match (sym.kind, sym.wrt) {
        // A batch's error terms side by side form a matrix: Δ.
        (SymbolKind::Delta { layer }, _) if model.batch.is_some() && sym.shape.rank() == 2 => format!("Δ{layer}"),
        (SymbolKind::Delta { layer }, _) => format!("δ{layer}"),
        (SymbolKind::Adjoint, Wrt::Tensor(t)) => {
            format!("∂{}/∂{}", model.tensor(model.loss).name, model.tensor(t).name)
        }
        (SymbolKind::Adjoint, Wrt::Node(_)) => format!("∂{}/∂(…)", model.tensor(model.loss).name),
    }
}

/// The finite-difference check of one parameter.
#[derive(Clone, Debug)]
pub struct ParamCheck {
    pub param: TensorId,
    /// The largest relative error over its entries.
    pub worst: f64,
    /// The entry where it occurs.
    pub worst_entry: usize,
    pub derived: f64,
    pub numeric: f64,
    /// How many of its entries were checked.
    pub checked: usize,
    /// How many entries it has.
    pub entries: usize,
}

/// How much of each parameter `gradcheck` compares, and whom it tells how
/// far it has got.
pub struct GradCheckOptions<'a> {
    /// Check at most this many entries of each parameter, spread evenly
    /// over it (first and last included); `None` checks every entry.
    pub sample: Option<usize>,
    /// Called after each entry with (entries done, entries to do).
    pub progress: &'a mut dyn FnMut(usize, usize),
}

/// The rule for a gradient check's tolerance (the largest acceptable
/// relative error), shared by the command line's `--tolerance` and the
/// Python package: a positive, finite number. `Err` says what it must be.
pub fn check_tolerance(tolerance: f64) -> Result<f64, &'static str> {
    match tolerance.is_finite() && tolerance > 0.0 {
        true => Ok(tolerance),
        false => Err("it must be a positive, finite number such as 1e-6"),
    }
}

/// The entries of a parameter of `len` entries that a check of at most
/// `sample` looks at: all of them, or `sample` spread evenly.
pub fn sampled_entries(len: usize, sample: Option<usize>) -> Vec<usize> {
    match sample {
        Some(n) if n < len && n >= 2 => (0..n).map(|k| k * (len - 1) / (n - 1)).collect(),
        Some(n) if n < len => vec![0; n.min(1)],
        _ => (0..len).collect(),
    }
}

/// The finite-difference check of every parameter.
#[derive(Clone, Debug)]
pub struct GradCheck {
    pub params: Vec<ParamCheck>,
    /// The step used: (L(p + h) − L(p − h)) / 2h.
    pub h: f64,
    /// Kinks met at the file's values: there the derivative is a convention
    /// and finite differences see the average of the two one-sided slopes.
    pub kinks: Vec<Note>,
    /// The derivation checked, which names the quantities of the kinks.
    pub derivation: Derivation,
}

impl GradCheck {
    /// The worst relative error over all parameters.
    pub fn worst(&self) -> f64 {
        self.params.iter().map(|p| p.worst).fold(0.0, f64::max)
    }
}

/// Compares every derived gradient entry with a central finite difference
/// of the loss, computed independently by re-running the forward pass in f64.
pub fn gradcheck(model: &Model) -> Result<GradCheck, Error> {
    gradcheck_with(model, GradCheckOptions { sample: None, progress: &mut |_, _| {} })
}

/// [`gradcheck`] on a sample of the entries, reporting progress.
pub fn gradcheck_with(model: &Model, options: GradCheckOptions) -> Result<GradCheck, Error> {
    let open = open_values(model);
    if !open.is_empty() {
        return Err(missing(model, &open));
    }
    let derivation = derive(model);
    let plans: Vec<Vec<usize>> = derivation
        .gradients
        .iter()
        .map(|g| sampled_entries(model.tensor(g.param).shape.len(), options.sample))
        .collect();
    let checked = plans.iter().map(Vec::len).sum();
    let widest = derivation.gradients.iter().zip(&plans).max_by_key(|(_, p)| p.len()).map(|(g, _)| g.param);
    let work = super::work::pass_work(model, &derivation);
    let repeats = super::work::Repeats::FiniteDifferences { entries: checked };
    super::work::check_passes(model, repeats, &work, work.forward, widest.map(|p| model.tensor(p).span))?;
    let initial = initial_values(model)?;
    let float_values: Vec<Option<Rc<Tensor>>> =
        initial.iter().map(|v| v.as_ref().map(|v| Rc::new(v.to_float()))).collect();
    let pass = Pass::run(model, &derivation, initial, true)?;
    let h = 1e-6;
    let mut params = Vec::new();
    let total: usize = plans.iter().map(Vec::len).sum();
    let mut done = 0;
    for ((g, grad), plan) in derivation.gradients.iter().zip(&pass.gradients).zip(&plans) {
        let p = g.param.0 as usize;
        let base = float_values[p].clone().ok_or_else(|| missing(model, &[g.param]))?;
        let derived = grad.to_f64_vec();
        let (checked, entries) = (plan.len(), derived.len());
        let mut check =
            ParamCheck { param: g.param, worst: 0.0, worst_entry: 0, derived: 0.0, numeric: 0.0, checked, entries };
        for (n, &i) in plan.iter().enumerate() {
            let d = derived[i];
            (options.progress)(done, total);
            done += 1;
            let loss_at = |delta: f64| -> Result<f64, Error> {
                let mut tensors = float_values.clone();
                tensors[p] = Some(Rc::new(base.with_entry_offset(i, delta)));
                let pass = Pass::run(model, &derivation, tensors, false)?;
                Ok(pass.values[model.loss.0 as usize].to_f64_vec().first().copied().unwrap_or(f64::NAN))
            };
            let numeric = (loss_at(h)? - loss_at(-h)?) / (2.0 * h);
            let scale = d.abs().max(numeric.abs()).max(1e-3);
            let rel = (d - numeric).abs() / scale;
            if rel > check.worst || (n == 0 && check.worst == 0.0) {
                check = ParamCheck { worst: rel, worst_entry: i, derived: d, numeric, ..check };
            }
        }
        params.push(check);
    }
    (options.progress)(done, total);
    let kinks = pass.notes.into_iter().filter(|n| matches!(n, Note::Kink { .. })).collect();
    Ok(GradCheck { params, h, kinks, derivation })
}
