//! `--format json`: one object with the keys `given`, `forward`, `loss`,
//! `deltas`, `gradients`, `updated`, `training`, `history` and `notes`, names
//! as in the file, entries in the order the text output shows them (file
//! order; for a file with `steps`, the forward equations step by step and
//! the error terms from the last step down). Each quantity has its `value`
//! (numbers), `exact` (fractions as `"27/20"` strings, when every entry is
//! exact) and, where it has one, its `formula` (text notation), `formula_nn`
//! (`.nn` notation) and `latex`, with `name_latex`, the quantity's own name in
//! LaTeX. An error term also says what it is the gradient with respect to,
//! in both notations: `of_text` (`Z1`, `W x`) and `of_nn` (`Z1`, `W @ x`).
//!
//! `given`: the declared tensors that have values, with their `role`.
//! `time`, only for a file with `steps t = …`: the recurrence in t —
//! `index`, `first`, `last`; `forward` and `deltas` as lists of
//! `{name, name_latex, formula, latex}` (a δ with the `steps` where its
//! general form holds and whether δ after the last step is taken as zero);
//! `gradients` by parameter, each sum over time with its `terms` written
//! out (latest step first) and, in a solution, their `values`. Every other
//! key names the steps one by one (`h₃`, `δh₃`).
//! `training`: `{"optimizer": "adam", "lr": {value, exact}, "beta1": …,
//! "beta2": …, "eps": …, "steps": n, "rule": [...], "initial": {...}}` (the
//! optimizer's own settings beside `lr`; `rule` the update rule line by line,
//! each `{key, name, name_latex, formula, latex, meaning}`, `key` being
//! `gradient`, a quantity's key or `parameter`; `initial` the state before
//! the first step, for an optimizer that keeps one), or null without a
//! `train` statement. `history`: one entry per number of steps k from 0,
//! `{"step": k, "value": …, "exact": …}` holding the loss at the parameters
//! after k steps; for a small network (at most `eval::SMALL_NETWORK`
//! parameter entries) also `parameters` (their values after k steps) and,
//! from k = 1, `gradients` (those step k used) and `state` (per parameter,
//! the optimizer's quantities at step k by key: `v`; `s`; `m`, `v`, `m_hat`,
//! `v_hat`).

use std::cell::RefCell;
use std::collections::HashSet;

use num_rational::BigRational;
use serde_json::{json, Map, Value};

use crate::derive::time::TimeView;
use crate::derive::{Convention, Derivation, Symbol, Wrt};
use crate::diagnostic::Report;
use crate::eval::tensor::Tensor;
use crate::eval::{Solution, Training};
use crate::model::sentence::plain;
use crate::model::{Graph, Model, NodeId, TensorId};
use crate::syntax::Span;

use super::formula::{any_parameter, definition, formula, Names, Notation};
use super::outline::{derivation_outline, outline, NoteItem, Outline, WorkedSolution};
use super::training;

const N: Notation = Notation::Text;

/// A value set apart by [`solution_apart`]: its dims and its entries as f64,
/// row-major.
pub type ApartValue = (Vec<usize>, Vec<f64>);

/// What the writer collects while [`solution_apart`] or [`exact_apart`] runs.
enum Collect {
    /// Every value's dims and f64 entries, in placeholder order, and the
    /// address of the tensor each was read from; the entries of a tensor
    /// whose address is in the set are not copied (left empty).
    Values(Vec<ApartValue>, Vec<usize>, HashSet<usize>),
    /// The exact entries (as `"27/20"` strings) of the values whose
    /// placeholder numbers are in `wanted` (sorted), counting them in `next`.
    Exact { next: usize, wanted: Vec<usize>, found: Vec<(usize, Vec<String>)> },
}

thread_local! {
    /// Set while [`solution_apart`] or [`exact_apart`] writes; `None` otherwise.
    static APART: RefCell<Option<Collect>> = const { RefCell::new(None) };
}

/// Writes the solution with [`APART`] set to `collect`, and returns what was collected.
fn collecting(model: &Model, solution: &Solution, collect: Collect) -> (String, Option<Collect>) {
    struct Reset;
    impl Drop for Reset {
        // Also on a panic: a later `solution` on this thread writes values.
        fn drop(&mut self) {
            APART.with(|a| a.borrow_mut().take());
        }
    }
    APART.with(|a| *a.borrow_mut() = Some(collect));
    let reset = Reset;
    let text = self::solution(model, solution, None);
    let collected = APART.with(|a| a.borrow_mut().take());
    drop(reset);
    (text, collected)
}

/// The solution as [`solution`] writes it at full precision, but with each
/// value set apart instead of written out: the JSON has `{"buffer": i}` in
/// place of each `value` (and of a mask's, a general form's, a path's and
/// a sum's terms' values) and `true` in place of each `exact`, and the
/// values come back as f64 in that order, `i` indexing them. The Python
/// package reads this: the skeleton is small (names and formulas, none of
/// the entries) and the values reach NumPy as buffers, not as text.
pub fn solution_apart(model: &Model, solution: &Solution) -> (String, Vec<ApartValue>) {
    let (text, values, _) = solution_apart_from(model, solution);
    (text, values)
}

/// [`solution_apart`], with the address of the tensor each value was read
/// from (a tensor of `solution`, or one the writer made, such as the
/// learning rate's), so that a caller can find the same values in the next
/// solution of the same model without writing the skeleton again.
pub fn solution_apart_from(model: &Model, solution: &Solution) -> (String, Vec<ApartValue>, Vec<usize>) {
    solution_apart_lent(model, solution, HashSet::new())
}

/// [`solution_apart_from`], without copying the entries of the tensors
/// whose addresses are in `lent`: their values come back with their dims
/// and no entries, for a caller that reads the entries where they are
/// (the Python package lends a kept solution's own buffers to NumPy).
pub fn solution_apart_lent(
    model: &Model,
    solution: &Solution,
    lent: HashSet<usize>,
) -> (String, Vec<ApartValue>, Vec<usize>) {
    match collecting(model, solution, Collect::Values(Vec::new(), Vec::new(), lent)) {
        (text, Some(Collect::Values(values, addresses, _))) => (text, values, addresses),
        (text, _) => (text, Vec::new(), Vec::new()),
    }
}

/// The exact entries, as `"27/20"` strings row-major, of the values that
/// [`solution_apart`] numbered `wanted`, for those that are exact. Made
/// only when asked for: the fractions of a large network are many times
/// its f64 values.
pub fn exact_apart(model: &Model, solution: &Solution, wanted: &[usize]) -> Vec<(usize, Vec<String>)> {
    let mut wanted = wanted.to_vec();
    wanted.sort_unstable();
    match collecting(model, solution, Collect::Exact { next: 0, wanted, found: Vec::new() }) {
        (_, Some(Collect::Exact { found, .. })) => found,
        _ => Vec::new(),
    }
}

/// `t` set apart when [`solution_apart`] or [`exact_apart`] is writing: its placeholder.
fn set_apart(t: &Tensor) -> Option<Value> {
    APART.with(|a| {
        let mut apart = a.borrow_mut();
        let i = match apart.as_mut()? {
            Collect::Values(list, addresses, lent) => {
                let at = t as *const Tensor as usize;
                let entries = if lent.contains(&at) { Vec::new() } else { t.float_view().into_owned() };
                list.push((t.dims().to_vec(), entries));
                addresses.push(at);
                list.len() - 1
            }
            Collect::Exact { next, wanted, found } => {
                let i = *next;
                *next += 1;
                if t.is_exact() && wanted.binary_search(&i).is_ok() {
                    found.push((i, (0..t.len()).map(|k| t.exact_string(k).unwrap_or_default()).collect()));
                }
                i
            }
        };
        Some(json!({ "buffer": i }))
    })
}

fn setting_apart() -> bool {
    APART.with(|a| a.borrow().is_some())
}

/// A tensor's entries as JSON numbers: a scalar as a number, a vector as a
/// flat list, a matrix as a list of rows.
pub fn value(t: &Tensor, round: Option<u32>) -> Value {
    if let Some(placeholder) = set_apart(t) {
        return placeholder;
    }
    nest(t, |i| {
        // An entry left open is an object: its expression and its terms.
        if let crate::eval::tensor::Data::Symbolic(v) = t.data() {
            if let Some(s) = v.get(i).filter(|s| s.as_constant().is_none()) {
                return super::symbolic::json(s, round);
            }
        }
        let text = t.format_entry(i, round);
        match round {
            // The rounded decimal text parses to the nearest f64 of that decimal.
            Some(_) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            None => serde_json::Number::from_f64(t.entry_f64(i)).map(Value::Number).unwrap_or(Value::Null),
        }
    })
}

/// The exact entries as `"27/20"` strings, when every entry is exact.
pub fn exact(t: &Tensor) -> Option<Value> {
    if !t.is_exact() {
        return None;
    }
    if setting_apart() {
        // The fractions are made from the tensor set apart with the value.
        return Some(Value::Bool(true));
    }
    Some(nest(t, |i| Value::String(t.exact_string(i).unwrap_or_default())))
}

/// One list level per dimension (a rank-3 tensor is a list of matrices), so
/// that a reader recovers the shape from the nesting.
fn nest(t: &Tensor, entry: impl Fn(usize) -> Value) -> Value {
    let dims = t.dims();
    if dims.is_empty() {
        return entry(0);
    }
    // Innermost lists first, built row by row (not from a flat list of every
    // entry, which would hold each entry twice while the rows are built),
    // then each outer dimension groups the level below: a loop over the
    // dims, not a recursion as deep as the rank.
    let (outer, last) = dims.split_at(dims.len() - 1);
    let n = last[0].max(1);
    let mut level: Vec<Value> =
        (0..t.len() / n).map(|r| Value::Array((r * n..(r + 1) * n).map(&entry).collect())).collect();
    for &n in outer.iter().rev() {
        let n = n.max(1);
        let groups = level.len() / n;
        let mut items = level.into_iter();
        level = (0..groups).map(|_| Value::Array(items.by_ref().take(n).collect())).collect();
    }
    level.pop().unwrap_or(Value::Null)
}

fn with_value(mut obj: Map<String, Value>, t: &Tensor, round: Option<u32>) -> Value {
    obj.insert("value".into(), value(t, round));
    if let Some(e) = exact(t) {
        obj.insert("exact".into(), e);
    }
    Value::Object(obj)
}

/// A quantity's name in LaTeX (`Z_{1}`, `\\delta_{2}`, `\\frac{\\partial L}{\\partial W_{1}}`),
/// and its formula in the text notation and in LaTeX.
fn formulas(name_latex: String, [text, nn, latex]: [String; 3]) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("name_latex".into(), json!(name_latex));
    obj.insert("formula".into(), json!(text));
    obj.insert("formula_nn".into(), json!(nn));
    obj.insert("latex".into(), json!(latex));
    obj
}

/// A formula printed in the text notation, the `.nn` notation and LaTeX.
fn in_every_notation(print: &dyn Fn(Notation) -> String) -> [String; 3] {
    [print(N), print(Notation::Nn), print(Notation::Latex)]
}

/// An equation's name in LaTeX and its right-hand side in every notation.
fn equation_formulas(g: &Graph, names: &Names, id: TensorId, def: NodeId) -> Map<String, Value> {
    formulas(names.tensor(id, Notation::Latex), in_every_notation(&|n| definition(g, def, names, n)))
}

/// An error term's formulas, and what it is the gradient with respect to.
fn error_term_formulas(g: &Graph, names: &Names, sym: &Symbol) -> Map<String, Value> {
    let of = |notation| match sym.wrt {
        Wrt::Tensor(t) => names.tensor(t, notation),
        Wrt::Node(n) => formula(g, n, names, notation),
    };
    let mut obj = Map::new();
    obj.insert("of_text".into(), json!(of(N)));
    obj.insert("of_nn".into(), json!(of(Notation::Nn)));
    let name_latex = formula(g, sym.node, names, Notation::Latex);
    obj.extend(formulas(name_latex, in_every_notation(&|n| formula(g, sym.formula, names, n))));
    obj
}

/// A parameter's gradient: its name in LaTeX and its formula in every notation.
fn gradient_formulas(g: &Graph, names: &Names, param: TensorId, node: NodeId) -> Map<String, Value> {
    let name_latex = names.gradient_of(Wrt::Tensor(param), Notation::Latex, g);
    formulas(name_latex, in_every_notation(&|n| formula(g, node, names, n)))
}

/// The `loss` object: its name and formulas.
fn loss_formulas(model: &Model, g: &Graph, names: &Names) -> Map<String, Value> {
    let loss_t = model.tensor(model.loss);
    let mut loss = Map::new();
    loss.insert("name".into(), json!(loss_t.name));
    if let Some(def) = loss_t.definition {
        loss.extend(equation_formulas(g, names, model.loss, def));
    }
    loss
}

/// The formulas of a derivation, keyed like the solution's: `forward`,
/// `loss`, `deltas` and `gradients`, without values (so a file without
/// numbers has one too).
fn formula_sections(o: &Outline<()>) -> [Map<String, Value>; 4] {
    let (model, g, names) = (o.model, &o.derivation.graph, &o.names);
    let mut forward = Map::new();
    for eq in o.forward.iter().filter(|eq| eq.tensor != model.loss) {
        let mut obj = equation_formulas(g, names, eq.tensor, eq.definition);
        insert_axes(&mut obj, model, eq.tensor);
        forward.insert(model.tensor(eq.tensor).name.clone(), Value::Object(obj));
    }
    let mut deltas = Map::new();
    for term in o.sections() {
        let sym = term.definition;
        deltas.insert(formula(g, sym.node, names, N), Value::Object(error_term_formulas(g, names, sym)));
    }
    let mut gradients = Map::new();
    for grad in &o.gradients {
        let obj = gradient_formulas(g, names, grad.param, grad.formula);
        gradients.insert(model.tensor(grad.param).name.clone(), Value::Object(obj));
    }
    [forward, loss_formulas(model, g, names), deltas, gradients]
}

/// The symbolic derivation as pretty-printed JSON: `forward`, `loss`,
/// `deltas`, `gradients` (formulas only) and `notes`.
pub fn derivation(model: &Model, d: &Derivation) -> String {
    let o = derivation_outline(model, d);
    let [forward, loss, deltas, gradients] = formula_sections(&o);
    let mut root = Map::new();
    root.insert("forward".into(), Value::Object(forward));
    root.insert("loss".into(), Value::Object(loss));
    root.insert("deltas".into(), Value::Object(deltas));
    root.insert("gradients".into(), Value::Object(gradients));
    root.insert("notes".into(), json!(note_sentences(&o.layer_rules, &o.notes, &o.names, o.time)));
    if let Some(introduced) = introduced_json(model, &o.names) {
        root.insert("introduced".into(), introduced);
    }
    if let Some(time) = time_json(model, d, &o.names, None) {
        root.insert("time".into(), time);
    }
    let mut text = String::new();
    pretty(&Value::Object(root), 0, &mut text);
    text.push('\n');
    text
}

/// The pre-activations nnderive named (absent when the file names every
/// one): each as the file would write it (`zh[t]`), the equation that uses
/// it (`h[t]`), and its name in text and LaTeX.
fn introduced_json(model: &Model, names: &Names) -> Option<Value> {
    use super::introduced::{shown, spell};
    let list: Vec<Value> = shown(model)
        .iter()
        .map(|s| {
            json!({
                "name": spell(model, names, s.tensor, Notation::Nn),
                "of": spell(model, names, s.user, Notation::Nn),
                "text": spell(model, names, s.tensor, Notation::Text),
                "latex": spell(model, names, s.tensor, Notation::Latex),
            })
        })
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

/// The layer rules (with their index forms), then the notes, in words.
fn note_sentences(rules: &[Convention], notes: &[NoteItem], names: &Names, time: Option<&TimeView>) -> Vec<String> {
    let mut out: Vec<String> = rules
        .iter()
        .map(|rule| match rule.index_form() {
            Some(index) => format!("{}; index form: {index}", plain(rule.statement())),
            None => plain(rule.statement()),
        })
        .collect();
    out.extend(notes.iter().map(|n| super::text::note_sentence(n, names, time)));
    out
}

/// The whole solution as pretty-printed JSON (with a final newline): a
/// walk of the solution's outline.
pub fn solution(model: &Model, solution: &Solution, round: Option<u32>) -> String {
    let o = outline(model, solution, round);
    // Each key is written as soon as its value is built, and the value then
    // dropped: a solution with a parameter of millions of entries holds one
    // section's tree at a time, not the given values, the gradients and the
    // updated values all at once.
    let mut root = ObjectWriter::new();
    root.field("given", given_json(&o));
    let (forward, loss) = forward_json(&o);
    root.field("forward", forward);
    if let Some(introduced) = introduced_json(model, &o.names) {
        root.field("introduced", introduced);
    }
    root.field("loss", loss);
    root.field("deltas", deltas_json(&o));
    root.field("gradients", gradients_json(&o));
    let mut updated = Map::new();
    if let Some(train) = o.update {
        for (p, v) in &train.updated {
            updated.insert(model.tensor(*p).name.clone(), with_value(Map::new(), v, round));
        }
    }
    root.field("updated", Value::Object(updated));
    let (training, history) = match o.update {
        Some(train) => (training_json(model, &o.names, train, round), history_json(model, solution, train, round)),
        None => (Value::Null, Value::Array(Vec::new())),
    };
    root.field("training", training);
    root.field("history", history);
    root.field("notes", json!(note_sentences(&o.layer_rules, &o.notes, &o.names, o.time)));
    if let Some(time) = time_json(model, o.derivation, &o.names, Some((solution, round))) {
        root.field("time", time);
    }
    root.finish()
}

/// A top-level JSON object written key by key, as [`pretty`] writes one.
struct ObjectWriter {
    out: String,
    empty: bool,
}

impl ObjectWriter {
    fn new() -> ObjectWriter {
        ObjectWriter { out: String::from("{\n"), empty: true }
    }

    /// Writes `"key": value` at the first level of indentation.
    fn field(&mut self, key: &str, value: Value) {
        if !self.empty {
            self.out.push_str(",\n");
        }
        self.empty = false;
        field(key, &value, 1, &mut self.out);
    }

    /// The object, closed, with a final newline.
    fn finish(mut self) -> String {
        self.out.push_str(if self.empty { "}\n" } else { "\n}\n" });
        self.out
    }
}

/// `axes`: the letter of each axis the checker named (`["N", "C", "H",
/// "W"]`, `null` for an axis it did not), on a tensor with any named.
fn insert_axes(obj: &mut Map<String, Value>, model: &crate::model::Model, id: crate::model::TensorId) {
    let axes = model.axes(id);
    if axes.is_named() {
        let letters: Vec<Value> = axes.names().iter().map(|n| n.map_or(Value::Null, |n| json!(n.letter()))).collect();
        obj.insert("axes".into(), Value::Array(letters));
    }
}

/// `given`: each declared tensor with its role and value (`open` when the
/// value is left open).
pub(super) fn given_json(o: &WorkedSolution) -> Value {
    let mut given = Map::new();
    for item in &o.given {
        let t = o.model.tensor(item.tensor);
        let mut obj = Map::new();
        obj.insert("role".into(), json!(t.role.name()));
        insert_axes(&mut obj, o.model, item.tensor);
        if t.value.is_none() {
            // Not given: its entries are the unknowns of the expressions.
            obj.insert("open".into(), json!(true));
        }
        given.insert(t.name.clone(), with_value(obj, item.value, o.round));
    }
    Value::Object(given)
}

/// `forward` (each equation but the loss, with a max-pool's mask) and `loss`.
fn forward_json(o: &WorkedSolution) -> (Value, Value) {
    let (model, g, names) = (o.model, &o.derivation.graph, &o.names);
    let mut forward = Map::new();
    let mut loss = Value::Null;
    for eq in &o.forward {
        let formulas = equation_formulas(g, names, eq.tensor, eq.definition);
        if eq.tensor == model.loss {
            let mut named = Map::new();
            named.insert("name".into(), json!(model.tensor(model.loss).name));
            named.extend(formulas);
            loss = with_value(named, eq.value, o.round);
            continue;
        }
        let mut formulas = formulas;
        insert_axes(&mut formulas, model, eq.tensor);
        let mut entry = with_value(formulas, eq.value, o.round);
        // A max-pool's mask goes with the equation that pools.
        if let (Some(m), Value::Object(obj)) = (eq.masks.last(), &mut entry) {
            let mut mask = Map::new();
            mask.insert("of".into(), json!(formula(g, m.input, names, N)));
            mask.insert("value".into(), value(&m.mask, None));
            obj.insert("mask".into(), Value::Object(mask));
        }
        forward.insert(model.tensor(eq.tensor).name.clone(), entry);
    }
    (Value::Object(forward), loss)
}

/// `deltas`: each error term, with its general form when the target is open.
fn deltas_json(o: &WorkedSolution) -> Value {
    let (g, names) = (&o.derivation.graph, &o.names);
    let mut deltas = Map::new();
    for term in o.sections() {
        let mut entry = with_value(error_term_formulas(g, names, term.definition), term.value, o.round);
        // With the target open: the general form (before Σy = 1) and its value.
        if let (Some(general), Value::Object(obj)) = (&term.general, &mut entry) {
            if let Some(gv) = general.value {
                let f = formula(g, general.formula, names, N);
                obj.insert("general".into(), json!({ "formula": f, "value": value(gv, o.round) }));
            }
        }
        // The quantities on the way to it, each with its step and value.
        let path: Vec<Value> = term
            .path_lines()
            .map(|(wrt, expr, v)| {
                let mut obj = Map::new();
                obj.insert("name".into(), json!(names.gradient_of(wrt, N, g)));
                obj.insert("name_latex".into(), json!(names.gradient_of(wrt, Notation::Latex, g)));
                obj.insert("formula".into(), json!(formula(g, expr, names, N)));
                obj.insert("latex".into(), json!(formula(g, expr, names, Notation::Latex)));
                with_value(obj, v, o.round)
            })
            .collect();
        if let (false, Value::Object(obj)) = (path.is_empty(), &mut entry) {
            obj.insert("path".into(), Value::Array(path));
        }
        deltas.insert(formula(g, term.definition.node, names, N), entry);
    }
    Value::Object(deltas)
}

/// `gradients`: each parameter's gradient with its formulas.
fn gradients_json(o: &WorkedSolution) -> Value {
    let mut gradients = Map::new();
    for grad in &o.gradients {
        let obj = gradient_formulas(&o.derivation.graph, &o.names, grad.param, grad.formula);
        gradients.insert(o.model.tensor(grad.param).name.clone(), with_value(obj, grad.value, o.round));
    }
    Value::Object(gradients)
}

/// The `training` object: the optimizer, its settings and its rule.
fn training_json(model: &Model, names: &Names, train: &Training, round: Option<u32>) -> Value {
    let number = |r: &BigRational| with_value(Map::new(), &Tensor::scalar_exact(r.clone()), round);
    let mut obj = Map::new();
    obj.insert("optimizer".into(), json!(train.optimizer.name()));
    obj.insert("lr".into(), number(&train.lr));
    for (setting, v) in train.optimizer.settings() {
        obj.insert(setting.name.into(), number(v));
    }
    obj.insert("steps".into(), json!(train.steps));
    let loss = |n| names.tensor(model.loss, n);
    let text = training::rule_after(&train.optimizer, training::taken(model), any_parameter(model, N), &loss(N), N);
    let latex = training::rule_after(
        &train.optimizer,
        training::taken(model),
        any_parameter(model, Notation::Latex),
        &loss(Notation::Latex),
        Notation::Latex,
    );
    let last = text.len().saturating_sub(1);
    let rule: Vec<Value> = text
        .into_iter()
        .zip(latex)
        .enumerate()
        .map(|(i, (t, l))| {
            let key = match t.quantity {
                Some(q) => q.key(),
                None if i == last => "parameter",
                None => "gradient",
            };
            json!({"key": key, "name": t.lhs, "name_latex": l.lhs, "formula": t.rhs, "latex": l.rhs, "meaning": t.meaning})
        })
        .collect();
    obj.insert("rule".into(), Value::Array(rule));
    let initial = |n| {
        let name = |t| names.tensor(t, n);
        model.train.as_ref().and_then(|given| training::initial_state(given, &name, n))
    };
    if let Some(text) = initial(N) {
        let latex = initial(Notation::Latex).unwrap_or_default();
        obj.insert("initial".into(), json!({"formula": text, "latex": latex}));
    }
    Value::Object(obj)
}

/// The `history` array: the loss after each number of steps (from 0), and
/// for a small network the parameters then, the gradients the step used and
/// the optimizer's quantities.
fn history_json(model: &Model, solution: &Solution, train: &Training, round: Option<u32>) -> Value {
    let named = |pairs: &mut dyn Iterator<Item = (TensorId, &Tensor)>| -> Value {
        let mut obj = Map::new();
        for (id, v) in pairs {
            obj.insert(model.tensor(id).name.clone(), with_value(Map::new(), v, round));
        }
        Value::Object(obj)
    };
    let taken = model.train.as_ref().map_or(0, |t| t.taken);
    let entries = train.losses.iter().enumerate().map(|(k, loss)| {
        let mut entry = Map::new();
        entry.insert("step".into(), json!(k));
        entry.insert("value".into(), value(loss, round));
        if let Some(e) = exact(loss) {
            entry.insert("exact".into(), e);
        }
        if !train.history.is_empty() {
            match k.checked_sub(1).and_then(|i| train.history.get(i)) {
                None => {
                    let initial = solution.derivation.gradients.iter().map(|g| (g.param, solution.value(g.param)));
                    entry.insert("parameters".into(), named(&mut { initial }));
                }
                Some(step) => {
                    entry.insert("parameters".into(), named(&mut step.params.iter().map(|p| (p.param, &p.value))));
                    entry.insert("gradients".into(), named(&mut step.params.iter().map(|p| (p.param, &p.gradient))));
                    let quantities = train.optimizer.quantities();
                    if !quantities.is_empty() {
                        let mut state = Map::new();
                        for p in &step.params {
                            let mut per = Map::new();
                            for (q, v) in quantities.iter().zip(&p.quantities) {
                                per.insert(q.key().into(), with_value(Map::new(), v, round));
                            }
                            // Adam's t: the updates taken, counting those before the run.
                            if train.optimizer.counts_updates() {
                                per.insert("t".into(), json!(k as u64 + u64::from(taken)));
                            }
                            state.insert(model.tensor(p.param).name.clone(), Value::Object(per));
                        }
                        entry.insert("state".into(), Value::Object(state));
                    }
                }
            }
        }
        Value::Object(entry)
    });
    Value::Array(entries.collect())
}

/// `"key": value` of an object, at `indent` levels.
fn field(key: &str, value: &Value, indent: usize, out: &mut String) {
    pad(indent, out);
    string(key, out);
    out.push_str(": ");
    pretty(value, indent, out);
}

/// `n` levels of indentation.
fn pad(n: usize, out: &mut String) {
    for _ in 0..n {
        out.push_str("  ");
    }
}

/// `text` as a JSON string, as serde_json writes it: as it is when nothing
/// in it needs an escape (a control character, `"` or a backslash), which is
/// most keys and formulas, else by serde_json.
fn string(text: &str, out: &mut String) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&Value::String(text.to_string()).to_string());
    }
}

/// A value that is neither a non-empty object nor an array of arrays or
/// objects, as serde_json writes it (compact).
fn scalar(v: &Value, out: &mut String) {
    use std::fmt::Write;
    match v {
        Value::String(text) => string(text, out),
        // `Value`'s Display is serde_json's compact writer.
        _ => {
            let _ = write!(out, "{v}");
        }
    }
}

/// Pretty JSON that keeps each row of numbers on one line, so a matrix
/// reads as a matrix.
pub fn pretty(v: &Value, indent: usize, out: &mut String) {
    // Written straight into `out`: no text is made per key, row or number.
    match v {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, val)) in map.iter().enumerate() {
                field(k, val, indent + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            pad(indent, out);
            out.push('}');
        }
        Value::Array(items) if items.iter().any(|i| i.is_array() || i.is_object()) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(indent + 1, out);
                pretty(item, indent + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(indent, out);
            out.push(']');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                scalar(item, out);
            }
            out.push(']');
        }
        other => scalar(other, out),
    }
}

/// The recurrence in t of a model with time steps (see the module docs).
fn time_json(
    model: &Model,
    d: &Derivation,
    names: &Names,
    solution: Option<(&Solution, Option<u32>)>,
) -> Option<Value> {
    let view = d.time.as_ref()?;
    let g = &d.graph;
    let text = super::text::time_forward(model, d, view, names, N);
    let latex = super::text::time_forward(model, d, view, names, Notation::Latex);
    let forward: Vec<Value> = text
        .into_iter()
        .zip(latex)
        .map(|((name, formula), (name_latex, latex))| json!({"name": name, "name_latex": name_latex, "formula": formula, "latex": latex}))
        .collect();
    let mut deltas = Vec::new();
    for general in view.groups.iter().filter_map(|gr| gr.general.as_ref()) {
        let at = names.at(&view.index, general.step);
        let sym = d.symbol(general.symbol);
        deltas.push(json!({
            "name": formula(g, sym.node, &at, N),
            "name_latex": formula(g, sym.node, &at, Notation::Latex),
            "formula": formula(g, sym.formula, &at, N),
            "latex": formula(g, sym.formula, &at, Notation::Latex),
            "steps": general.holds,
            "zero_after_last": general.zero_after_last,
        }));
    }
    let mut gradients = Map::new();
    for (i, (grad, sum)) in d.gradients.iter().zip(&view.gradients).enumerate() {
        let Some(sum) = sum else { continue };
        let mut obj = Map::new();
        obj.insert("formula".into(), json!(super::text::time_sum_text(g, sum, names, view, N)));
        obj.insert("latex".into(), json!(super::text::time_sum_text(g, sum, names, view, Notation::Latex)));
        let terms: Vec<String> = sum.terms.iter().map(|&t| formula(g, t, names, N)).collect();
        obj.insert("terms".into(), json!(terms));
        if let Some((solution, round)) = solution {
            if let Some(values) = solution.time_terms.get(i) {
                let total = solution.gradients.get(i);
                if let Some(note) = total.and_then(|total| super::text::rounded_terms_note(values, total, round)) {
                    obj.insert("note".into(), json!(note));
                }
                let values: Vec<Value> = values.iter().map(|v| with_value(Map::new(), v, round)).collect();
                obj.insert("values".into(), Value::Array(values));
            }
        }
        gradients.insert(model.tensor(grad.param).name.clone(), Value::Object(obj));
    }
    Some(json!({
        "index": view.index,
        "first": view.first,
        "last": view.last,
        "forward": forward,
        "deltas": deltas,
        "gradients": gradients,
    }))
}

/// The errors of a run, for `solve --format json`: `{"errors": [...],
/// "count": n, "left_out": bool, "summary": text or null}`, the errors in
/// file order. Each has its `message`, `file`, `line`, `column`, `end_line`
/// and byte offsets `start` and `end` (all null for an error about the file
/// as a whole), `label`, `related` (other places, each with `line`,
/// `column`, `start`, `end` and `label`), `help`, `notes`, and `rendered`: the text the
/// terminal shows for it.
pub fn errors(report: &Report, file_name: &str, source: &str) -> String {
    let place = |span: Option<Span>| match span {
        Some(s) => json!({"line": s.line, "column": s.column, "end_line": s.end_line, "start": s.start, "end": s.end}),
        None => json!({"line": null, "column": null, "end_line": null, "start": null, "end": null}),
    };
    let errors: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let mut obj = Map::new();
            obj.insert("message".into(), json!(d.message));
            obj.insert("file".into(), json!(file_name));
            if let Value::Object(at) = place(d.span) {
                obj.extend(at);
            }
            obj.insert("label".into(), json!(d.label));
            let related: Vec<Value> = d
                .related
                .iter()
                .map(|(s, label)| {
                    json!({"line": s.line, "column": s.column, "start": s.start, "end": s.end, "label": label})
                })
                .collect();
            obj.insert("related".into(), Value::Array(related));
            obj.insert("help".into(), json!(d.help));
            obj.insert("notes".into(), json!(d.notes));
            obj.insert("rendered".into(), json!(super::diagnostic::render(d, file_name, source)));
            Value::Object(obj)
        })
        .collect();
    let out = json!({
        "errors": errors,
        "count": report.diagnostics.len(),
        "left_out": report.left_out,
        "summary": super::diagnostic::summary(report, file_name),
    });
    let mut text = String::new();
    pretty(&out, 0, &mut text);
    text.push('\n');
    // A file's name and the messages quote what the file holds; JSON keeps
    // them exact, and a control or direction character stays an escape
    // (`\u202e`) rather than reaching a terminal that shows this output.
    // Such characters occur only inside strings, where an escape means
    // the same character.
    let hidden = |c: char| c != '\n' && crate::diagnostic::picture(c).is_some();
    if !text.contains(hidden) {
        return text;
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match hidden(c) {
            true => escaped.push_str(&format!("\\u{:04x}", u32::from(c))),
            false => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `v` with each `{"buffer": i}` replaced by value `i` as [`value`]
    /// writes it, and each `"exact": true` by its fractions.
    fn fill(v: &mut Value, values: &[ApartValue], exact: &[(usize, Vec<String>)]) {
        let nested = |dims: &[usize], entry: &dyn Fn(usize) -> Value| {
            let t = Tensor::float(dims.to_vec(), vec![0.0; dims.iter().product()]);
            nest(&t, entry)
        };
        match v {
            Value::Object(obj) => {
                let index = obj.get("value").and_then(|b| b.get("buffer")).and_then(Value::as_u64);
                if let Some(i) = index.map(|i| i as usize) {
                    let (dims, entries) = &values[i];
                    let number =
                        |k: usize| serde_json::Number::from_f64(entries[k]).map(Value::Number).unwrap_or(Value::Null);
                    obj.insert("value".into(), nested(dims, &number));
                    if obj.get("exact") == Some(&Value::Bool(true)) {
                        let strings = &exact.iter().find(|(j, _)| *j == i).expect("fractions of an exact value").1;
                        obj.insert("exact".into(), nested(dims, &|k| Value::String(strings[k].clone())));
                    }
                }
                for (_, child) in obj.iter_mut() {
                    fill(child, values, exact);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| fill(item, values, exact)),
            _ => {}
        }
    }

    #[test]
    fn the_values_set_apart_fill_the_skeleton_back_into_the_solution() {
        for file in ["assignment4.nn", "lstm.nn", "cnn.nn", "assignment4_adam.nn"] {
            let path = format!("{}/grammar/examples/{file}", env!("CARGO_MANIFEST_DIR"));
            let source = crate::Source::new(file, std::fs::read_to_string(path).unwrap());
            let model = crate::load(&source).unwrap();
            let solution = crate::solve(&model).unwrap();
            let (skeleton, values) = solution_apart(&model, &solution);
            assert!(!values.is_empty() && !skeleton.contains("27/20"), "{file}");
            let wanted: Vec<usize> = (0..values.len()).collect();
            let exact = exact_apart(&model, &solution, &wanted);
            let mut filled: Value = serde_json::from_str(&skeleton).unwrap();
            fill(&mut filled, &values, &exact);
            // Compared as text: parsing the whole JSON back would round
            // some numbers by an ulp (serde_json's fast float parsing).
            let mut text = String::new();
            pretty(&filled, 0, &mut text);
            text.push('\n');
            assert_eq!(text, self::solution(&model, &solution, None), "{file}");
        }
        // Out of `solution_apart`, values are written out again.
        assert!(!setting_apart());
    }
}
