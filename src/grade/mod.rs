//! `nnderive grade`: a student's numbers against a solution, part by part
//! (each named quantity of `render::quantities`), with credit for error
//! carried forward.
//!
//! A part is `correct` when every entry is within the tolerance of the key
//! (half a unit of the asked decimal place), or of the value its formula
//! gives from the student's own (correct, rounded) earlier answers;
//! `consistent` when it is wrong against the key but right given the
//! student's own earlier answers, some of them wrong: the part's formula
//! is evaluated again with the student's values of the quantities it uses
//! (`∂L/∂W1 = δ1 xᵀ` with their δ1), which is error carried forward;
//! `wrong` otherwise, with the first wrong entry and the likely mistake
//! where one is recognised ([`mistakes`]). A part not given is `missing`;
//! one whose entries cannot all be read is `unreadable`, naming them.

pub mod answers;
mod mistakes;
pub mod report;

use std::collections::HashMap;
use std::rc::Rc;

use num_rational::BigRational;
use serde_json::Value as Json;

use crate::derive::rules;
use crate::eval::evaluate::Evaluator;
use crate::eval::tensor::Tensor;
use crate::eval::Solution;
use crate::model::{Func, Graph, Model, Node, NodeId, SymbolId};
use crate::render::quantities::{Kind, Quantities, Source};

use answers::{Answers, Entry, Given};

/// How to grade.
#[derive(Clone, Debug)]
pub struct Options {
    /// The decimal places the answers are asked to: the tolerance is half
    /// a unit of the last one.
    pub places: u32,
    /// The teacher's weights (name → points), which take the place of any
    /// `weights` section in the answers.
    pub weights: Option<Vec<(String, Json)>>,
    /// Whether a `weights` section in the answers may set the weights (not
    /// in a gradebook, where a student does not choose their own points).
    pub weights_from_answers: bool,
}

/// The decimal places answers are asked to when nothing says: 4, as the
/// keys print with `--round 4`.
pub const DEFAULT_PLACES: u32 = 4;

/// What a part earned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Correct,
    Consistent,
    Wrong,
    Missing,
    Unreadable,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Correct => "correct",
            Status::Consistent => "consistent",
            Status::Wrong => "wrong",
            Status::Missing => "missing",
            Status::Unreadable => "unreadable",
        }
    }

    /// Whether the part earns its points: a consistent part does (its
    /// mistake was counted where it was made).
    pub fn earns(self) -> bool {
        matches!(self, Status::Correct | Status::Consistent)
    }
}

/// The first entry outside the tolerance.
#[derive(Clone, Debug, PartialEq)]
pub struct FirstWrong {
    /// 0-based, as NumPy counts; the formulas count from 1.
    pub index: Vec<usize>,
    pub yours: f64,
    /// The key's value at the asked precision.
    pub expected: String,
}

/// One graded part.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// The quantity's ASCII name (`delta1`) and its printed name (`δ1`).
    pub name: String,
    pub label: String,
    pub status: Status,
    pub score: f64,
    pub max: f64,
    /// What to tell the student (empty for a plain correct answer).
    pub message: String,
    pub first_wrong: Option<FirstWrong>,
    /// The key of the likely mistake (`transpose`, `sign`, …), when recognised.
    pub mistake: Option<&'static str>,
}

/// A graded submission.
#[derive(Clone, Debug, PartialEq)]
pub struct Grade {
    pub parts: Vec<Part>,
    pub score: f64,
    pub max: f64,
    /// About the answers as a whole: unknown names, what could not be read.
    pub problems: Vec<String>,
    pub places: u32,
    /// Half a unit of the asked place.
    pub tolerance: f64,
}

/// A student's value of one quantity, fitted to its shape.
#[derive(Clone, Debug)]
enum Fitted {
    Value(Vec<f64>),
    /// A matrix given as `[n, m]` for `[m, n]`: the entries as given.
    Transposed(Vec<f64>, Vec<usize>),
    /// Numbers, but not of the quantity's shape: what to say.
    WrongShape(String),
    Unreadable(String),
}

/// Grades `answers` against `solution`, a solution of `model` with every value known.
pub fn grade(model: &Model, solution: &Solution, answers: &Answers, options: &Options) -> Grade {
    let quantities = Quantities::new(model, solution);
    let tolerance = 0.5 * 10f64.powi(-(options.places as i32));
    let mut problems = answers.problems.clone();
    let mut fitted: Vec<Option<Fitted>> = vec![None; quantities.len()];
    for a in &answers.answers {
        let Some(i) = quantities.find(&a.name) else {
            problems.push(unknown(&quantities, &a.name, "an answer"));
            continue;
        };
        if fitted[i].is_some() {
            problems
                .push(format!("'{}' is {} again: the first value given is graded", a.name, quantities.list[i].name));
            continue;
        }
        let dims = quantities.value(i, solution).map(|v| v.dims().to_vec()).unwrap_or_default();
        let (fit, lines) = fit(&a.value, &dims, &quantities.list[i].name);
        problems.extend(lines);
        fitted[i] = Some(fit);
    }
    let weights = match (&options.weights, &answers.weights) {
        (Some(w), _) => Some(w.clone()),
        (None, Some(w)) if options.weights_from_answers => Some(w.clone()),
        (None, Some(_)) => {
            problems.push("the answers' own weights are not used here: the teacher's (or equal ones) are".into());
            None
        }
        (None, None) => None,
    };
    let graded = graded_parts(&quantities, weights.as_deref(), &mut problems);
    let grader = Grader::new(model, solution, &quantities, tolerance, options.places);
    // Every part given is judged (a later part's credit depends on the
    // earlier ones), in table order, so that each part's dependencies are
    // judged before it.
    let mut statuses: Vec<Option<Status>> = vec![None; quantities.len()];
    let mut judged: Vec<Option<Part>> = vec![None; quantities.len()];
    for i in 0..quantities.len() {
        let part = grader.judge(i, &fitted, &statuses);
        statuses[i] = Some(part.status);
        judged[i] = Some(part);
    }
    let mut parts = Vec::with_capacity(graded.len());
    for (i, points) in graded {
        let Some(mut part) = judged[i].clone() else { continue };
        part.max = points;
        part.score = if part.status.earns() { points } else { 0.0 };
        parts.push(part);
    }
    let score = parts.iter().map(|p| p.score).sum();
    let max = parts.iter().map(|p| p.max).sum();
    Grade { parts, score, max, problems, places: options.places, tolerance }
}

/// "unknown name 'detla1' (did you mean delta1?)".
fn unknown(quantities: &Quantities, name: &str, what: &str) -> String {
    let canonical: Vec<&str> = quantities.list.iter().map(|q| q.name.as_str()).collect();
    let suggestion = crate::diagnostic::suggest(name, canonical.iter().copied())
        .or_else(|| crate::diagnostic::suggest(name, quantities.all_names()));
    match suggestion {
        Some(s) => format!("{what} for '{name}', which this problem has no quantity of (did you mean {s}?)"),
        None => format!(
            "{what} for '{name}', which this problem has no quantity of (the names are {})",
            canonical.join(", ")
        ),
    }
}

/// The parts to grade, with their points: those the weights name (in
/// table order), or every quantity at one point.
fn graded_parts(
    quantities: &Quantities,
    weights: Option<&[(String, Json)]>,
    problems: &mut Vec<String>,
) -> Vec<(usize, f64)> {
    let Some(weights) = weights else {
        return (0..quantities.len()).map(|i| (i, 1.0)).collect();
    };
    let mut points: HashMap<usize, f64> = HashMap::new();
    for (name, value) in weights {
        let Some(i) = quantities.find(name) else {
            problems.push(unknown(quantities, name, "a weight"));
            continue;
        };
        match value.as_f64().filter(|w| w.is_finite() && *w >= 0.0) {
            Some(w) => {
                points.insert(i, w);
            }
            None => problems.push(format!("the weight of '{name}' is {value}, not a number of 0 or more: left out")),
        }
    }
    let mut out: Vec<(usize, f64)> = points.into_iter().filter(|(_, w)| *w > 0.0).collect();
    out.sort_by_key(|(i, _)| *i);
    out
}

/// Fits a given value to `dims`: the entries row-major in that shape, or
/// why it does not fit. Also returns problems about single CSV lines.
fn fit(given: &Given, dims: &[usize], name: &str) -> (Fitted, Vec<String>) {
    let squeeze = |d: &[usize]| d.iter().copied().filter(|&n| n != 1).collect::<Vec<_>>();
    let transposed: Option<Vec<usize>> = match dims {
        [m, n] if m != n && *m > 1 && *n > 1 => Some(vec![*n, *m]),
        _ => None,
    };
    match given {
        Given::Unreadable(why) => {
            (Fitted::Unreadable(format!("your value cannot be read as a tensor: {why}")), Vec::new())
        }
        Given::Nested { dims: given_dims, entries } => {
            let unread: Vec<String> = entries
                .iter()
                .enumerate()
                .filter_map(|(k, e)| match e {
                    Entry::Unreadable(text) => {
                        Some(format!("{} ({text})", one_based(&crate::model::Shape::index_of(given_dims, k))))
                    }
                    Entry::Number(_) => None,
                })
                .collect();
            if let ([], [Entry::Unreadable(text)]) = (given_dims.as_slice(), entries.as_slice()) {
                return (Fitted::Unreadable(format!("your value ({text}) is not a number")), Vec::new());
            }
            if !unread.is_empty() {
                return (Fitted::Unreadable(unreadable_entries(&unread)), Vec::new());
            }
            let values: Vec<f64> =
                entries.iter().map(|e| if let Entry::Number(x) = e { *x } else { f64::NAN }).collect();
            if squeeze(given_dims) == squeeze(dims) {
                (Fitted::Value(values), Vec::new())
            } else if transposed.as_deref() == Some(given_dims.as_slice()) {
                (Fitted::Transposed(values, given_dims.clone()), Vec::new())
            } else {
                (Fitted::WrongShape(wrong_shape(dims, given_dims)), Vec::new())
            }
        }
        Given::Indexed(rows) => fit_rows(rows, dims, transposed.as_deref(), name),
    }
}

/// CSV rows placed at their indices in `dims` (or in its transpose, when
/// every index fits that and not `dims`).
fn fit_rows(
    rows: &[answers::Indexed],
    dims: &[usize],
    transposed: Option<&[usize]>,
    name: &str,
) -> (Fitted, Vec<String>) {
    // Where a 1-based index lands in a shape: one index per dimension, or
    // as many as its dimensions other than 1, with extra 1s allowed
    // (`[i]`, `[i, 1]` or `[1, i]` for a vector; `[]` or `[1, 1]` for a scalar).
    let place = |index: &[usize], dims: &[usize]| -> Option<usize> {
        let (index, dims): (Vec<usize>, Vec<usize>) = if index.len() == dims.len() {
            (index.to_vec(), dims.to_vec())
        } else {
            let core: Vec<usize> = dims.iter().copied().filter(|&d| d != 1).collect();
            let mut excess = index.len().checked_sub(core.len())?;
            let mut kept = Vec::with_capacity(core.len());
            for &i in index {
                if i == 1 && excess > 0 {
                    excess -= 1;
                } else {
                    kept.push(i);
                }
            }
            (kept, core)
        };
        let mut flat = 0;
        for (&i, &d) in index.iter().zip(&dims) {
            if i < 1 || i > d {
                return None;
            }
            flat = flat * d + (i - 1);
        }
        Some(flat)
    };
    let fits = |dims: &[usize]| rows.iter().all(|r| place(&r.index, dims).is_some());
    let (target, is_transposed) = match transposed {
        Some(t) if !fits(dims) && fits(t) => (t.to_vec(), true),
        _ => (dims.to_vec(), false),
    };
    let n: usize = target.iter().product();
    let mut values: Vec<Option<f64>> = vec![None; n];
    let mut problems = Vec::new();
    let mut unread = Vec::new();
    for r in rows {
        let Some(flat) = place(&r.index, &target) else {
            problems.push(format!(
                "line {}: {name} has no entry {} (it is {})",
                r.line,
                one_based_from_one(&r.index),
                shape_text(dims)
            ));
            continue;
        };
        match &r.entry {
            Entry::Number(x) => {
                if values[flat].is_some_and(|old| old != *x) {
                    problems.push(format!(
                        "line {}: {name}{} is given again, with another value: the first is graded",
                        r.line,
                        one_based(&crate::model::Shape::index_of(&target, flat))
                    ));
                } else {
                    values[flat] = Some(*x);
                }
            }
            Entry::Unreadable(text) => unread.push(format!(
                "{} ({text}, line {})",
                one_based(&crate::model::Shape::index_of(&target, flat)),
                r.line
            )),
        }
    }
    if !unread.is_empty() {
        return (Fitted::Unreadable(unreadable_entries(&unread)), problems);
    }
    let missing: Vec<String> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| one_based(&crate::model::Shape::index_of(&target, k)))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
        let more = if missing.len() > 5 { format!(" and {} more", missing.len() - 5) } else { String::new() };
        let (these, are) = if missing.len() == 1 { ("entry", "is") } else { ("entries", "are") };
        let why = format!("{these} {}{more} {are} missing (it is {})", shown.join(", "), shape_text(dims));
        return (Fitted::Unreadable(why), problems);
    }
    let values: Vec<f64> = values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect();
    if is_transposed {
        (Fitted::Transposed(values, target), problems)
    } else {
        (Fitted::Value(values), problems)
    }
}

fn unreadable_entries(list: &[String]) -> String {
    let shown: Vec<&str> = list.iter().take(5).map(String::as_str).collect();
    let more = if list.len() > 5 { format!(" and {} more", list.len() - 5) } else { String::new() };
    let (these, are) = if list.len() == 1 { ("entry", "is not a number") } else { ("entries", "are not numbers") };
    format!("your {these} {}{more} {are}", shown.join(", "))
}

fn wrong_shape(expected: &[usize], given: &[usize]) -> String {
    format!("expected {}, you gave {}", shape_text(expected), shape_text(given))
}

/// `[3, 4]`, or `a scalar`.
pub fn shape_text(dims: &[usize]) -> String {
    match dims {
        [] => "a scalar".into(),
        d => format!("[{}]", d.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// A 0-based index shown 1-based, as the formulas count: `[2, 3]`; a
/// vector's entry `[2]`.
pub fn one_based(index: &[usize]) -> String {
    format!("[{}]", index.iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(", "))
}

fn one_based_from_one(index: &[usize]) -> String {
    format!("[{}]", index.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
}

/// What grading needs at hand: the table, the key values, a graph in
/// which to evaluate formulas again, and the formulas of the mistakes it
/// recognises.
struct Grader<'a> {
    model: &'a Model,
    solution: &'a Solution,
    quantities: &'a Quantities,
    /// The derivation's graph, with the mistaken formulas added.
    graph: Graph,
    /// Every tensor's value in the key, shared.
    base: Vec<Option<Rc<Tensor>>>,
    keys: Vec<Option<Tensor>>,
    /// The symbols each part's formula reads.
    symbols_of: Vec<Vec<SymbolId>>,
    /// For each part, its formula as a mistake would change it (the
    /// activation in place of its derivative, a term of a derivative left
    /// out): the mistake's key, the changed formula, and the change in words.
    changed_formulas: Vec<Vec<mistakes::Changed>>,
    tolerance: f64,
    places: u32,
}

impl<'a> Grader<'a> {
    fn new(model: &'a Model, solution: &'a Solution, quantities: &'a Quantities, tolerance: f64, places: u32) -> Self {
        let d = &solution.derivation;
        let mut graph = d.graph.clone();
        let base = solution.values.iter().map(|v| Some(Rc::new(v.clone()))).collect();
        let keys = (0..quantities.len()).map(|i| quantities.value(i, solution).cloned()).collect();
        let symbols_of = quantities
            .list
            .iter()
            .map(|q| match q.formula {
                Some(f) => d
                    .graph
                    .nodes_under(&[f])
                    .into_iter()
                    .filter_map(|n| if let Node::Symbol(s) = *d.graph.node(n) { Some(s) } else { None })
                    .collect(),
                None => Vec::new(),
            })
            .collect();
        let changed_formulas = mistakes::changed_formulas(model, d, quantities, &mut graph);
        Grader { model, solution, quantities, graph, base, keys, symbols_of, changed_formulas, tolerance, places }
    }

    /// Quantity `i`'s formula evaluated with `values` for the quantities
    /// given there (the key's elsewhere); `formula` replaces its own.
    fn evaluate(&self, i: usize, formula: Option<NodeId>, values: &HashMap<usize, Vec<f64>>) -> Option<Vec<f64>> {
        let q = &self.quantities.list[i];
        let expected = self.keys[i].as_ref()?.dims().to_vec();
        let student = |j: usize| -> Option<Tensor> {
            let v = values.get(&j)?;
            let dims = self.keys[j].as_ref()?.dims().to_vec();
            Some(Tensor::float(dims, v.clone()))
        };
        if q.kind == Kind::Updated {
            let (Source::Updated { param, .. }, [g]) = (q.source, q.depends.as_slice()) else { return None };
            let train = self.model.train.as_ref()?;
            let grad = student(*g).or_else(|| self.keys[*g].clone())?;
            let old = self.solution.values.get(param.0 as usize)?;
            let values = &self.solution.values;
            let start =
                crate::eval::optimize::initial_state(train, param, &grad, |id| values.get(id.0 as usize).cloned());
            let update = crate::eval::optimize::update(
                &train.optimizer,
                &train.lr,
                &crate::eval::optimize::Steps::first_of(train),
                old,
                &grad,
                start.as_deref(),
            )
            .ok()?;
            return Some(update.value.to_f64_vec());
        }
        let formula = formula.or(q.formula)?;
        let mut tensors = self.base.clone();
        let mut symbols: HashMap<SymbolId, Tensor> = HashMap::new();
        for &s in &self.symbols_of[i] {
            if let Some(v) = self.solution.symbol_value(s) {
                symbols.insert(s, v.clone());
            }
        }
        for &j in &q.depends {
            let Some(v) = student(j) else { continue };
            match self.quantities.list[j].source {
                Source::Tensor(t) => tensors[t.0 as usize] = Some(Rc::new(v)),
                Source::Symbol(s) => {
                    symbols.insert(s, v);
                }
                _ => {}
            }
        }
        let mut ev = Evaluator::new(self.model, &self.graph, Some(&self.solution.derivation), tensors);
        ev.symbols = symbols;
        ev.loss_from_logits = false;
        let value = ev.eval(formula).ok()?;
        let n: usize = expected.iter().product();
        let out = value.to_f64_vec();
        match out.len() {
            len if len == n => Some(out),
            // A constant (a gradient that does not depend on the values) spreads over the shape.
            1 => Some(vec![out[0]; n]),
            _ => None,
        }
    }

    /// Whether every entry of `yours` is within the tolerance (widened by
    /// `slack` per entry) of `expected`.
    fn close(&self, yours: &[f64], expected: &[f64], slack: &[f64]) -> bool {
        yours.len() == expected.len()
            && yours.iter().zip(expected).enumerate().all(|(k, (y, e))| {
                (y - e).abs() <= self.tolerance * (1.0 + 1e-9) + slack.get(k).copied().unwrap_or(0.0) + 1e-12 * e.abs()
            })
    }

    /// How far the recomputed value of part `i` could move when each of the
    /// student's values it uses moves within its rounding (half a unit):
    /// the largest change over four patterns of ±half a unit, per entry.
    fn spread(&self, i: usize, formula: Option<NodeId>, values: &HashMap<usize, Vec<f64>>, at: &[f64]) -> Vec<f64> {
        let mut spread: Vec<f64> = vec![0.0; at.len()];
        let patterns: [fn(usize) -> f64; 4] =
            [|_| 1.0, |_| -1.0, |k| if k % 2 == 0 { 1.0 } else { -1.0 }, |k| if k % 2 == 0 { -1.0 } else { 1.0 }];
        for pattern in patterns {
            let shifted: HashMap<usize, Vec<f64>> = values
                .iter()
                .map(|(&j, v)| (j, v.iter().enumerate().map(|(k, x)| x + pattern(k) * self.tolerance).collect()))
                .collect();
            if let Some(moved) = self.evaluate(i, formula, &shifted) {
                for (s, (m, a)) in spread.iter_mut().zip(moved.iter().zip(at)) {
                    *s = f64::max(*s, (m - a).abs());
                }
            }
        }
        spread
    }

    /// The student's values of the quantities part `i` uses.
    fn own_values(&self, i: usize, fitted: &[Option<Fitted>]) -> HashMap<usize, Vec<f64>> {
        self.quantities.list[i]
            .depends
            .iter()
            .filter_map(|&j| match &fitted[j] {
                Some(Fitted::Value(v)) => Some((j, v.clone())),
                _ => None,
            })
            .collect()
    }

    /// Judges part `i` (its points are set by the caller).
    fn judge(&self, i: usize, fitted: &[Option<Fitted>], statuses: &[Option<Status>]) -> Part {
        let q = &self.quantities.list[i];
        let part = |status, message: String| Part {
            name: q.name.clone(),
            label: q.label.clone(),
            status,
            score: 0.0,
            max: 0.0,
            message,
            first_wrong: None,
            mistake: None,
        };
        let Some(key) = self.keys[i].as_ref() else {
            return part(Status::Missing, "the key has no value for it".into());
        };
        let expected = key.to_f64_vec();
        let yours = match &fitted[i] {
            None => return part(Status::Missing, "not given".into()),
            Some(Fitted::Unreadable(why)) => return part(Status::Unreadable, why.clone()),
            Some(Fitted::WrongShape(why)) => return part(Status::Wrong, why.clone()),
            Some(Fitted::Transposed(values, given)) => {
                let dims = key.dims().to_vec();
                let back = transpose(values, given);
                let message = if self.close(&back, &expected, &[]) {
                    format!(
                        "you gave {}, the transpose of the answer ({} is {}); likely mistake: a transpose",
                        shape_text(given),
                        q.label,
                        shape_text(&dims)
                    )
                } else {
                    wrong_shape(&dims, given)
                };
                let mut p = part(Status::Wrong, message);
                p.mistake = self.close(&back, &expected, &[]).then_some("transpose");
                return p;
            }
            Some(Fitted::Value(v)) => v.clone(),
        };
        if self.close(&yours, &expected, &[]) {
            return part(Status::Correct, String::new());
        }
        // Error carried forward: the part from the student's own earlier values.
        let own = self.own_values(i, fitted);
        if !own.is_empty() {
            if let Some(again) = self.evaluate(i, None, &own) {
                let slack = self.spread(i, None, &own, &again);
                if self.close(&yours, &again, &slack) {
                    let wrong: Vec<&str> = own
                        .keys()
                        .filter(|j| !matches!(statuses[**j], Some(Status::Correct)))
                        .map(|&j| self.quantities.list[j].name.as_str())
                        .collect();
                    let mut used: Vec<usize> = own.keys().copied().collect();
                    used.sort_unstable();
                    let names: Vec<&str> = used.iter().map(|&j| self.quantities.list[j].name.as_str()).collect();
                    if wrong.is_empty() {
                        return part(Status::Correct, format!("right from your rounded {}", names.join(" and ")));
                    }
                    let mut wrong = wrong;
                    wrong.sort_unstable();
                    return part(
                        Status::Consistent,
                        format!(
                            "wrong against the key, but right from your own {} (error carried forward)",
                            wrong.join(" and ")
                        ),
                    );
                }
            }
        }
        let first = (0..expected.len()).find(|&k| !self.close(&yours[k..k + 1], &expected[k..k + 1], &[])).unwrap_or(0);
        let index = key.index_of(first);
        let first_wrong = FirstWrong {
            index: index.clone(),
            yours: yours[first],
            expected: key.format_entry(first, Some(self.places)),
        };
        let at = if index.is_empty() { String::new() } else { format!(" {} (NumPy {:?})", one_based(&index), index) };
        let mut message =
            format!("first wrong entry{at}: yours {}, expected {}", shortest(yours[first]), first_wrong.expected);
        let mistake = mistakes::recognise(self, i, &yours, &expected, &own);
        if let Some((_, why)) = &mistake {
            message += &format!("; likely mistake: {why}");
        }
        Part { first_wrong: Some(first_wrong), mistake: mistake.map(|(key, _)| key), ..part(Status::Wrong, message) }
    }
}

/// The entries of a matrix of `dims` row-major, transposed.
fn transpose(values: &[f64], dims: &[usize]) -> Vec<f64> {
    let [rows, cols] = dims[..] else { return values.to_vec() };
    (0..cols).flat_map(|c| (0..rows).map(move |r| values[r * cols + c])).collect()
}

/// A number as short as it reads back (`1.0613`, `-0.5`, `3`).
pub fn shortest(x: f64) -> String {
    let text = format!("{x}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// The derivative node of a one-argument activation `func(args)` whose
/// value is named by the tensor node `out`, as the derivation builds it.
fn derivative_node(graph: &mut Graph, func: Func, args: &[NodeId], out: NodeId) -> Option<NodeId> {
    match func {
        Func::Custom(id) if args.len() == 1 => Some(graph.apply(Func::Derivative { func: id, wrt: 0 }, args.to_vec())),
        Func::Builtin(b) if b.arity() == 1 => Some(rules::partial(graph, b, args, 0, out)),
        _ => None,
    }
}

/// The exact learning rate as an f64, for messages.
fn rate(lr: &BigRational) -> f64 {
    num_traits::ToPrimitive::to_f64(lr).unwrap_or(f64::NAN)
}
