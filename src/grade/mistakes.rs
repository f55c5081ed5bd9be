//! The mistakes grading recognises in a wrong part, as one table: each a
//! name and a test that recomputes what that mistake would have given and
//! compares it with the student's values (within the tolerance), first
//! against the key and then against the part recomputed from the
//! student's own earlier values.

use std::collections::HashMap;

use super::{derivative_node, rate, Grader};
use crate::derive::Derivation;
use crate::eval::optimize;
use crate::eval::tensor::Tensor;
use crate::model::{Graph, Model, Node, NodeId};
use crate::render::formula::{formula, Notation};
use crate::render::quantities::{Kind, Quantities, Source};

/// A recognisable mistake: its key (in JSON output) and its test, which
/// returns the sentence naming it.
struct Recogniser {
    key: &'static str,
    test: fn(&Context) -> Option<String>,
}

/// What a test looks at.
struct Context<'g, 'a> {
    grader: &'g Grader<'a>,
    /// The part.
    i: usize,
    yours: &'g [f64],
    /// The key's value, and the part recomputed from the student's own
    /// earlier values when it differs.
    expected: Vec<Vec<f64>>,
    own: &'g HashMap<usize, Vec<f64>>,
}

impl Context<'_, '_> {
    /// Whether `candidate` is what the student wrote.
    fn is(&self, candidate: &[f64]) -> bool {
        self.grader.close(self.yours, candidate, &[])
    }

    fn dims(&self) -> Vec<usize> {
        self.grader.keys[self.i].as_ref().map(|k| k.dims().to_vec()).unwrap_or_default()
    }

    /// Whether some value of the part (the key's, or the student's own
    /// recomputed one) changed by `f` is what the student wrote, and `f`
    /// really changes it.
    fn any(&self, f: impl Fn(&[f64]) -> Option<Vec<f64>>) -> bool {
        self.expected.iter().any(|e| f(e).is_some_and(|c| !self.grader.close(&c, e, &[]) && self.is(&c)))
    }
}

/// In the order they are tried.
const RECOGNISERS: [Recogniser; 9] = [
    Recogniser { key: "transpose", test: transpose },
    Recogniser { key: "sign", test: sign },
    Recogniser { key: "activation-for-derivative", test: activation_for_derivative_test },
    Recogniser { key: "derivative-term-missing", test: derivative_term_missing },
    Recogniser { key: "update-sign", test: update_sign },
    Recogniser { key: "no-learning-rate", test: no_learning_rate },
    Recogniser { key: "factor", test: factor },
    Recogniser { key: "other-quantity", test: other_quantity },
    Recogniser { key: "rounding", test: rounding },
];

/// The first mistake that explains the student's values of part `i`.
pub(super) fn recognise(
    grader: &Grader,
    i: usize,
    yours: &[f64],
    key: &[f64],
    own: &HashMap<usize, Vec<f64>>,
) -> Option<(&'static str, String)> {
    let cx = Context { grader, i, yours, expected: vec![key.to_vec()], own };
    if let Some(found) = RECOGNISERS.iter().find_map(|r| (r.test)(&cx).map(|why| (r.key, why))) {
        return Some(found);
    }
    // The same mistakes, made on top of the student's own earlier answers.
    let again = grader.evaluate(i, None, own).filter(|again| !own.is_empty() && !grader.close(again, key, &[]))?;
    let cx = Context { expected: vec![again], ..cx };
    let mut used: Vec<&str> = own.keys().map(|&j| grader.quantities.list[j].name.as_str()).collect();
    used.sort_unstable();
    RECOGNISERS
        .iter()
        .filter(|r| r.key != "other-quantity")
        .find_map(|r| (r.test)(&cx).map(|why| (r.key, format!("{why} (taking your own {})", used.join(" and ")))))
}

/// A square matrix transposed (a matrix of another shape given transposed
/// is caught by its shape).
fn transpose(cx: &Context) -> Option<String> {
    let dims = cx.dims();
    let [n, m] = dims[..] else { return None };
    (n == m && cx.any(|e| Some(super::transpose(e, &dims))))
        .then(|| "a transpose: your matrix is the answer transposed".into())
}

fn sign(cx: &Context) -> Option<String> {
    cx.any(|e| Some(e.iter().map(|x| -x).collect())).then(|| "a sign: your values are the answer negated".into())
}

/// A part's formula as a mistake changes it.
#[derive(Clone, Debug)]
pub(super) struct Changed {
    /// The recogniser it belongs to.
    pub key: &'static str,
    pub formula: NodeId,
    /// The change, in words.
    pub words: String,
}

/// Whether one of the part's formulas changed by the mistake `key` gives
/// the student's values (from the key's earlier values, or their own).
fn changed_formula(cx: &Context, key: &str) -> Option<String> {
    cx.grader.changed_formulas[cx.i].iter().filter(|c| c.key == key).find_map(|c| {
        let with_key = cx.grader.evaluate(cx.i, Some(c.formula), &HashMap::new());
        let with_own = cx.grader.evaluate(cx.i, Some(c.formula), cx.own);
        [with_key, with_own].into_iter().flatten().any(|v| cx.is(&v)).then(|| c.words.clone())
    })
}

/// The activation where its derivative belongs (`f(Z1)` for `f′(Z1)`).
fn activation_for_derivative_test(cx: &Context) -> Option<String> {
    changed_formula(cx, "activation-for-derivative")
}

/// A derivative that is a sum with one of its terms left out
/// (`step(Z1)` for `f′(Z1) = step(Z1) + cos(Z1)`).
fn derivative_term_missing(cx: &Context) -> Option<String> {
    changed_formula(cx, "derivative-term-missing")
}

/// The parameter after one step, from its gradient changed by `change`
/// (the key's gradient, and the student's where given), with learning
/// rate `lr`: whether one of them is what the student wrote.
fn updated_with(cx: &Context, change: f64, lr: Option<&num_rational::BigRational>) -> bool {
    let g = cx.grader;
    let q = &g.quantities.list[cx.i];
    let (Kind::Updated, Source::Updated { param, .. }, [grad]) = (q.kind, q.source, q.depends.as_slice()) else {
        return false;
    };
    let (Some(train), Some(key), Some(old)) =
        (g.model.train.as_ref(), g.keys[*grad].as_ref(), g.solution.values.get(param.0 as usize))
    else {
        return false;
    };
    let gradients = [Some(key.to_f64_vec()), cx.own.get(grad).cloned()];
    gradients.into_iter().flatten().any(|gradient| {
        let changed = Tensor::float(key.dims().to_vec(), gradient.iter().map(|x| x * change).collect());
        let values = &g.solution.values;
        let start = optimize::initial_state(train, param, &changed, |id| values.get(id.0 as usize).cloned());
        optimize::update(
            &train.optimizer,
            lr.unwrap_or(&train.lr),
            &optimize::Steps::first_of(train),
            old,
            &changed,
            start.as_deref(),
        )
        .is_ok_and(|u| cx.is(&u.value.to_f64_vec()))
    })
}

fn update_sign(cx: &Context) -> Option<String> {
    updated_with(cx, -1.0, None).then(|| "the step adds the gradient; it goes against it: P ← P − α ∂L/∂P".into())
}

fn no_learning_rate(cx: &Context) -> Option<String> {
    let one = num_rational::BigRational::from_integer(1.into());
    let lr = rate(&cx.grader.model.train.as_ref()?.lr);
    updated_with(cx, 1.0, Some(&one)).then(|| format!("the learning rate is missing: P ← P − α ∂L/∂P with α = {lr}"))
}

/// The answer times a constant: N (a missing 1/N of a mean over N
/// examples), 1/N, 2 or ½, or any other factor.
fn factor(cx: &Context) -> Option<String> {
    let tau = cx.grader.tolerance;
    for e in &cx.expected {
        let (k, big) = e.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))?;
        if big.abs() < 20.0 * tau {
            continue;
        }
        let c = cx.yours[k] / big;
        if !c.is_finite() || (c.abs() - 1.0).abs() < 1e-3 || c.abs() < 1e-6 {
            continue;
        }
        let scaled: Vec<f64> = e.iter().map(|x| x * c).collect();
        let slack: Vec<f64> = vec![c.abs() * tau; e.len()];
        if !cx.grader.close(cx.yours, &scaled, &slack) {
            continue;
        }
        let near = |target: f64| (c - target).abs() <= 1e-3 * target.abs();
        let batch = cx.grader.model.batch.map(|b| b.size as f64);
        let named = batch.is_some_and(|n| near(n) || near(1.0 / n)) || [2.0, 0.5, -2.0, -0.5].into_iter().any(near);
        // Any one number is some multiple of another: a factor that is not
        // one of these is named only when several entries agree on it.
        let agreeing = e.iter().filter(|x| x.abs() >= 20.0 * tau).count();
        if !named && agreeing < 2 {
            continue;
        }
        return Some(match batch {
            Some(n) if near(n) => format!(
                "a missing 1/N: your values are N = {n} times the answer (the loss is a mean over {n} examples)"
            ),
            Some(n) if near(1.0 / n) => format!("an extra 1/N: your values are the answer divided by N = {n}"),
            _ if near(2.0) || near(0.5) || near(-2.0) || near(-0.5) => {
                format!("a factor of 2: your values are the answer times {}", super::shortest(round_to(c, 6)))
            }
            _ => format!("a constant factor: your values are the answer times {}", super::shortest(round_to(c, 4))),
        });
    }
    None
}

fn round_to(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

/// How far along the table, either side, another quantity's values are
/// looked for (besides the quantities the part uses): a bounded number of
/// comparisons per part, however many quantities an unrolled network has.
const NEIGHBOURS: usize = 8;

/// The value of another quantity of the same shape: one the part's formula
/// uses (H given Z1's values) or one near it in the table.
fn other_quantity(cx: &Context) -> Option<String> {
    let g = cx.grader;
    let dims = cx.dims();
    let key = g.keys[cx.i].as_ref()?.to_f64_vec();
    let near = cx.i.saturating_sub(NEIGHBOURS)..(cx.i + NEIGHBOURS + 1).min(g.quantities.len());
    let candidates = g.quantities.list[cx.i].depends.iter().copied().chain(near);
    candidates.filter(|&j| j != cx.i).find_map(|j| {
        let other = g.keys[j].as_ref()?;
        if other.dims() != dims.as_slice() {
            return None;
        }
        let other = other.to_f64_vec();
        (!g.close(&other, &key, &[]) && cx.is(&other))
            .then(|| format!("these are the values of {}", g.quantities.list[j].label))
    })
}

/// Every entry within one unit of the last place but not within half:
/// digits cut off, or rounded from a rounded value.
fn rounding(cx: &Context) -> Option<String> {
    let g = cx.grader;
    let unit: Vec<f64> = vec![g.tolerance; cx.yours.len()];
    let e = cx.expected.first()?;
    g.close(cx.yours, e, &unit).then(|| {
        format!(
            "rounding: each entry is within one unit of the {} decimal but not half a unit; round half away from zero (0.66705 is 0.6671), rather than cutting digits off",
            ordinal(g.places)
        )
    })
}

/// `1st`, `2nd`, `4th`.
pub fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// For each part of the table, its formula as the mistakes that change a
/// formula would have it: each one-argument activation of the forward pass
/// whose derivative (`f′(Z1)`, `step(Z1)`, `ŷ ⊙ (1 − ŷ)`) the formula
/// contains, replaced by the activation itself (`f(Z1)`); and a custom
/// function's derivative that is a sum (`step(Z1) + cos(Z1)`) replaced by
/// each of its terms. The changed formulas are added to `graph`.
pub(super) fn changed_formulas(
    model: &Model,
    d: &Derivation,
    quantities: &Quantities,
    graph: &mut Graph,
) -> Vec<Vec<Changed>> {
    let names = crate::render::formula::Names::new(model, Some(d));
    let printed = |graph: &Graph, node: NodeId| formula(graph, node, &names, Notation::Text);
    // By the node a mistake replaces: (key, its replacement, the words).
    let mut swaps: HashMap<NodeId, Vec<(&'static str, NodeId, String)>> = HashMap::new();
    for id in model.equations() {
        let t = model.tensor(id);
        let Some(def) = t.definition else { continue };
        let Node::Apply(func, args) = model.graph.node(def).clone() else { continue };
        let named = graph.tensor(id, t.shape.clone());
        for out in [named, def] {
            let Some(derivative) = derivative_node(graph, func, &args, out) else { continue };
            if derivative == def || swaps.contains_key(&derivative) {
                continue;
            }
            let mut found = Vec::new();
            let words = format!(
                "the activation for its derivative: {} in place of {}",
                printed(graph, def),
                printed(graph, derivative)
            );
            found.push(("activation-for-derivative", def, words));
            // f′ = a + b: a or b alone.
            if let crate::model::Func::Custom(f) = func {
                if let Some(body) = d.fn_derivative(f, 0).map(|fd| fd.body) {
                    if let Node::Add(a, b) = *d.graph.node(body) {
                        let whole = graph.substitute_params(&d.graph, body, &args);
                        for term in [a, b] {
                            let alone = graph.substitute_params(&d.graph, term, &args);
                            let words = format!(
                                "a term of the derivative left out: {} in place of {} = {}",
                                printed(graph, alone),
                                printed(graph, derivative),
                                printed(graph, whole)
                            );
                            found.push(("derivative-term-missing", alone, words));
                        }
                    }
                }
            }
            swaps.insert(derivative, found);
        }
    }
    quantities
        .list
        .iter()
        .map(|q| {
            let Some(formula) = q.formula else { return Vec::new() };
            let mut inside = d.graph.nodes_under(&[formula]);
            inside.sort_unstable();
            let mut out = Vec::new();
            for from in inside.into_iter().filter(|n| swaps.contains_key(n)) {
                for (key, to, words) in &swaps[&from] {
                    let changed = graph.rewrite(formula, &mut |_, n| (n == from).then_some(*to));
                    if changed != formula {
                        out.push(Changed { key, formula: changed, words: words.clone() });
                    }
                }
            }
            out
        })
        .collect()
}
