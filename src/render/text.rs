//! Terminal text: the derivation and (with values) the worked solution.

use std::fmt::Write;

use crate::derive::time::{Forward, General, TimeSum, TimeView};
use crate::derive::{stated_by, Convention, Derivation, Step, StepRule, Symbol, Wrt};
use crate::eval::evaluate::{Note, Quantity};
use crate::eval::{GradCheck, ParamCheck, Solution, Training};
use crate::model::sentence::{plain, Part, Sentence};
use crate::model::{Axis, Fired, Model, NodeId, Optimizer};

use super::formula::{definition, display_width, formula, Names, Notation};
use super::outline::{
    derivation_notes, derivation_outline, function_rows, layer_rules, outline, simplifications, simplified_in,
    FunctionRow, NoteItem, Outline, WorkedSolution,
};
use super::training;
use crate::layout::{align_width, pad_right};

const N: Notation = Notation::Text;

/// Each custom function and its derivative(s): `(lhs, rhs)` pairs.
pub fn function_lines(model: &Model, derivation: &Derivation, names: &Names) -> Vec<(String, String)> {
    function_rows(model, derivation).iter().map(|r| function_line(r, model, derivation, names)).collect()
}

/// `f(t) = body` or `f′(t) = body`, with the parameters' own names.
fn function_line(row: &FunctionRow, model: &Model, derivation: &Derivation, names: &Names) -> (String, String) {
    let f = model.function(row.func);
    let shown: Vec<String> = f.params.iter().map(|p| super::formula::tensor_name(p, N)).collect();
    let params = shown.join(", ");
    let body = substitute_params(&formula(&derivation.graph, row.body, names, N), &shown);
    let lhs = match row.derivative {
        None => format!("{}({params})", names.function(crate::model::Func::Custom(row.func), N)),
        Some(wrt) => {
            format!("{}({params})", names.function(crate::model::Func::Derivative { func: row.func, wrt }, N))
        }
    };
    (lhs, body)
}

/// The functions and their derivatives as `derive` prints them: a derivative
/// that a simplification shaped names it (`[negative-coefficient]`).
fn write_functions(out: &mut String, rows: &[FunctionRow], model: &Model, derivation: &Derivation, names: &Names) {
    if rows.is_empty() {
        return;
    }
    let rows: Vec<(String, String, Fired)> = rows
        .iter()
        .map(|r| {
            let (l, rhs) = function_line(r, model, derivation, names);
            (l, rhs, r.simplified)
        })
        .collect();
    let _ = writeln!(out, "\nFunctions and their derivatives");
    let lw = align_width(rows.iter().map(|(l, _, _)| display_width(l)), NAME_ALIGN_CAP);
    let rw =
        align_width(rows.iter().filter(|(_, _, s)| !s.is_empty()).map(|(_, r, _)| display_width(r)), FORMULA_ALIGN_CAP);
    for (l, r, simplified) in rows {
        if simplified.is_empty() {
            let _ = writeln!(out, "  {} = {r}", pad_right(&l, lw));
        } else {
            let rule = simplified.shown_names().join(", ");
            let _ = writeln!(out, "  {} = {}   [{rule}]", pad_right(&l, lw), pad_right(&r, rw));
        }
    }
}

/// The statement of a rule that a step names, in `notation`. An
/// elementwise built-in's derivative is stated from what
/// [`crate::derive::rules::derivative`] and `partial` build, printed by the
/// formula printer (so the statement cannot drift from the rule); the other
/// rules come from [`crate::derive::rules::STEP_RULES`].
pub fn rule_statement(name: &str, model: &Model, notation: Notation) -> Option<Vec<training::Piece>> {
    use crate::derive::rules;
    use crate::model::{Func, Graph};
    let Some(rule) = rules::rules().find(|r| r.name == name) else {
        return rules::step_rule_statement(name).map(|s| sentence_pieces(s, notation));
    };
    let f = rule.function;
    let names = Names::detached(model);
    let mut g = Graph::new();
    let params: Vec<String> = f.op().parameters().iter().map(|p| p.to_string()).collect();
    let args: Vec<NodeId> = (0..params.len() as u32).map(|i| g.param(i)).collect();
    let out = g.apply(Func::Builtin(f), args.clone());
    let name = super::formula::builtin_name(f, notation);
    let call_args = params.join(", ");
    let mut lines = Vec::new();
    for (i, param) in params.iter().enumerate() {
        let d = match params.len() {
            1 => rules::derivative(&mut g, f, args[0], out),
            _ => rules::partial(&mut g, f, &args, i, out),
        };
        let body = substitute_params(&formula(&g, d, &names, notation), &params);
        let lhs = match (params.len(), notation) {
            (1, Notation::Latex) => format!("{name}'({call_args})"),
            (1, _) => format!("{name}′({call_args})"),
            (_, Notation::Latex) => format!("\\partial_{{{param}}} {name}({call_args})"),
            (_, _) => format!("∂{name}/∂{param}({call_args})"),
        };
        lines.push(format!("{lhs} = {body}"));
    }
    Some(vec![training::Piece::Formula(lines.join(if notation == Notation::Latex { ",\\ " } else { ", " }))])
}

/// The rules named by `steps`, each once, in the order they first appear.
pub fn named_rules<'a>(steps: impl IntoIterator<Item = &'a Step>) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for step in steps {
        for rule in &step.rules {
            if let StepRule::Named(name) = rule {
                if !out.contains(name) {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// Function bodies print their parameters as `t0`, `t1`…; put the real names back.
pub fn substitute_params(text: &str, params: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if boundary && chars[i] == 't' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            // A superscript (t²) ends the name; a letter, digit or _ continues it.
            let after_ok =
                j == chars.len() || !(chars[j].is_alphabetic() || chars[j].is_ascii_digit() || chars[j] == '_');
            if j > i + 1 && after_ok {
                let index: usize = chars[i + 1..j].iter().collect::<String>().parse().unwrap_or(usize::MAX);
                if let Some(p) = params.get(index) {
                    out.push_str(p);
                    i = j;
                    continue;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Left-hand sides wider than this overhang instead of setting the column.
const NAME_ALIGN_CAP: usize = 60;

/// Formulas wider than this overhang instead of setting the rule column.
const FORMULA_ALIGN_CAP: usize = 120;

/// Lines `lhs = rhs` with the `=` signs aligned.
pub fn aligned(lines: &[(String, String)], indent: &str) -> String {
    let width = align_width(lines.iter().map(|(l, _)| display_width(l)), NAME_ALIGN_CAP);
    let mut out = String::new();
    for (l, r) in lines {
        let _ = writeln!(out, "{indent}{} = {r}", pad_right(l, width));
    }
    out
}

/// The lines of a derivation's steps: `(lhs, rhs, rule)`.
pub fn step_lines(steps: &[Step], derivation: &Derivation, names: &Names) -> Vec<(String, String, String)> {
    steps
        .iter()
        .map(|s| {
            let lhs = match s.lhs {
                Some(w) => names.gradient_of(w, N, &derivation.graph),
                None => String::new(),
            };
            let from = s.from.iter().map(|&t| names.tensor(t, N)).collect();
            let rule = training::sentence(&rule_note(&s.rules, from, s.simplified, N));
            (lhs, formula(&derivation.graph, s.expr, names, N), rule)
        })
        .collect()
}

fn write_steps(out: &mut String, rows: &[(String, String, String)], indent: &str) {
    let lw = align_width(rows.iter().map(|(l, _, _)| display_width(l)), NAME_ALIGN_CAP);
    let rw = align_width(rows.iter().map(|(_, r, _)| display_width(r)), FORMULA_ALIGN_CAP);
    for (l, r, rule) in rows {
        let _ = writeln!(out, "{indent}{} = {}   [{rule}]", pad_right(l, lw), pad_right(r, rw));
    }
}

/// The whole symbolic derivation, as `nnderive derive` prints it.
pub fn derivation(model: &Model, derivation: &Derivation) -> String {
    if let Some(view) = &derivation.time {
        return time_derivation(model, derivation, view);
    }
    let o = derivation_outline(model, derivation);
    let (g, names) = (&derivation.graph, &o.names);
    let mut out = String::new();
    let _ = writeln!(out, "Forward pass");
    let forward: Vec<(String, String)> =
        o.forward.iter().map(|eq| (names.tensor(eq.tensor, N), definition(g, eq.definition, names, N))).collect();
    out.push_str(&aligned(&forward, "  "));
    write_introduced(&mut out, model, names, "  ");
    write_functions(&mut out, &o.functions, model, derivation, names);
    write_layer_rules(&mut out, &o.layer_rules);
    write_error_term_steps(&mut out, &o);

    let _ = writeln!(out, "\nGradients");
    let mut rows = Vec::new();
    for grad in &o.gradients {
        let lhs = names.gradient_of(Wrt::Tensor(grad.param), N, g);
        let result = formula(g, grad.formula, names, N);
        let mut steps = step_lines(grad.steps, derivation, names);
        // A gradient read off in one step is one line, with its rule.
        if steps.len() <= 1 {
            let rule = steps.pop().map(|(_, _, r)| r).unwrap_or_else(|| "no path from the loss".into());
            rows.push((lhs, result, rule));
        } else {
            rows.extend(steps);
            // The last line states the gradient unless a step after it changed it.
            if !stated_by(grad.steps, Wrt::Tensor(grad.param), grad.formula) {
                rows.push((lhs, result, "result".into()));
            }
        }
    }
    write_steps(&mut out, &rows, "  ");

    write_notes(&mut out, "Conventions", &o.notes, names, None);
    let mut tags = named_rules(
        derivation.defined_symbols().flat_map(|s| &s.steps).chain(o.gradients.iter().flat_map(|g| g.steps)),
    );
    if rows.iter().any(|(_, _, rule)| rule == "result") {
        tags.push("result");
    }
    write_rules(&mut out, model, &tags);
    write_simplifications(&mut out, o.simplifications.all());
    out
}

/// The legend of the rules named in the steps: each with its statement.
fn write_rules(out: &mut String, model: &Model, tags: &[&str]) {
    if tags.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nRules named above (ā is ∂L/∂a, the gradient that reaches a)");
    for tag in tags {
        let statement = rule_statement(tag, model, N).map(|p| training::sentence(&p)).unwrap_or_default();
        let _ = writeln!(out, "  {tag}: {statement}");
    }
}

/// Each error term with the steps that derive it, and its general form
/// (without Σy = 1) when it has one.
fn write_error_term_steps(out: &mut String, o: &Outline<()>) {
    if o.error_terms.is_empty() {
        return;
    }
    let (d, names) = (o.derivation, &o.names);
    let _ = writeln!(out, "\nError terms");
    for term in o.sections() {
        let general = term.general.as_ref().map(|general| {
            let sums: Vec<String> = d.target_sums.iter().map(|t| target_sum_formula(t, names, N)).collect();
            (sums.join(", "), general.formula)
        });
        write_error_term(out, d, names, term.definition, None, general);
    }
    out.pop();
}

/// One error term: what it stands for, the steps that derive it, its
/// formula (with `holds`, where it holds), and its general form without
/// the targets' sums (`without` names them), each line in the text notation.
fn write_error_term(
    out: &mut String,
    d: &Derivation,
    names: &Names,
    s: &Symbol,
    holds: Option<String>,
    general: Option<(String, NodeId)>,
) {
    let g = &d.graph;
    let label = formula(g, s.node, names, N);
    let of = names.gradient_of(s.wrt, N, g);
    let result = formula(g, s.formula, names, N);
    // `Δ1 = ∂L/∂a` is said once: the result line says it when no step
    // comes between (the gradient was named above).
    if of != label && !(s.steps.is_empty() && result == of) {
        let _ = writeln!(out, "  {label} = {of}");
    }
    let lines = step_lines(&s.steps, d, names);
    // A named gradient its last chain of steps states is not stated again:
    // that chain is the section's result, at its indent, with where it holds.
    if s.stated_by_steps() {
        let last = s.steps.iter().rposition(|step| step.lhs.is_some()).unwrap_or(0);
        write_steps(out, &lines[..last], "      ");
        write_steps(out, &lines[last..], "  ");
        if let Some(h) = holds {
            out.pop();
            let _ = writeln!(out, "   ({h})");
        }
    } else {
        write_steps(out, &lines, "      ");
        let _ = write!(out, "  {label} = {result}");
        match holds {
            Some(h) => {
                let _ = writeln!(out, "   ({h})");
            }
            None => out.push('\n'),
        }
    }
    if let Some((without, general)) = general {
        let _ = writeln!(out, "      (in general, without {without}: {label} = {})", formula(g, general, names, N));
    }
    out.push('\n');
}

/// The legend of the simplifications named in the steps and function
/// derivatives: each with its rule.
fn write_simplifications(out: &mut String, named: Fired) {
    if named.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nSimplifications named above");
    for s in named.iter() {
        let _ = writeln!(out, "  {}: {}", s.name(), plain(s.entry().statement));
    }
}

/// The layer rules the derivation uses, each statement with its index form.
fn write_layer_rules(out: &mut String, rules: &[Convention]) {
    if rules.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nLayer rules");
    for rule in rules {
        let _ = writeln!(out, "  {}", plain(rule.statement()));
        if let Some(index) = rule.index_form() {
            let _ = writeln!(out, "      index form: {index}");
        }
    }
}

/// A note in words: a convention, where an averaging loss's constant went,
/// the assumption Σy = 1 (of `y_t` at every step, for a sequence of
/// targets), or what the evaluation met.
pub fn note_sentence(note: &NoteItem, names: &Names, time: Option<&TimeView>) -> String {
    match note {
        NoteItem::Convention(c) => plain(c.statement()),
        NoteItem::Averaging { loss, target, prediction, entries } => {
            // In t, the loss's steps are named as the loss's formula names them (`h_T`).
            let names = match time {
                Some(view) => names_near(names, view, view.last),
                None => names.clone(),
            };
            training::sentence(&averaging_sentence(*loss, *target, *prediction, *entries, &names, N))
        }
        NoteItem::TargetSum { sum, step } => training::sentence(&match (time, step) {
            (Some(view), Some(k)) => target_sum_sentence(sum, &names.at(&view.index, *k), N, true),
            _ => target_sum_sentence(sum, names, N, false),
        }),
        NoteItem::Evaluation(n) => note_text(n, names),
    }
}

/// Where the constant of an averaging loss went, in words and formulas in
/// `notation`: mse's gradient carries 2/n and bce's 1/n, folded into the
/// formulas' coefficients.
pub fn averaging_sentence(
    loss: crate::model::LossFn,
    target: crate::model::NodeId,
    prediction: crate::model::NodeId,
    entries: usize,
    names: &Names,
    notation: Notation,
) -> Vec<training::Piece> {
    use training::Piece::{Formula, Words};
    let g = &names.model.graph;
    let (y, p) = (formula(g, target, names, notation), formula(g, prediction, names, notation));
    let factor = |k: i32| super::formula::constant(&num_rational::BigRational::new(k.into(), entries.into()), notation);
    let latex = notation == Notation::Latex;
    match loss {
        crate::model::LossFn::Bce => vec![
            Formula(if latex { format!("\\operatorname{{bce}}({y}, {p})") } else { format!("bce({y}, {p})") }),
            Words(" is a mean with "),
            Formula(format!("n = {entries}")),
            Words(": its gradient carries the factor "),
            Formula(if latex { format!("\\tfrac{{1}}{{n}} = {}", factor(1)) } else { format!("1/n = {}", factor(1)) }),
        ],
        crate::model::LossFn::Mse if latex => vec![
            Formula(format!("\\operatorname{{mse}}({y}, {p}) = \\operatorname{{mean}}\\left(({p} - {y})^2\\right)")),
            Words(" with "),
            Formula(format!("n = {entries}")),
            Words(": its gradient is "),
            Formula(format!("\\tfrac{{2}}{{n}} ({p} - {y})")),
            Words(", and "),
            Formula(format!("\\tfrac{{2}}{{n}} = {}", factor(2))),
        ],
        crate::model::LossFn::Mse => vec![
            Formula(format!("mse({y}, {p}) = mean(({p} − {y})²)")),
            Words(" with "),
            Formula(format!("n = {entries}")),
            Words(": its gradient is "),
            Formula(format!("(2/n) ({p} − {y})")),
            Words(", and "),
            Formula(format!("2/n = {}", factor(2))),
        ],
        // Cross-entropy sums over the classes (a batch's mean over the
        // examples is its layer rule's, `Convention::BatchCrossEntropy`), so
        // the outline makes no averaging note of it.
        crate::model::LossFn::CrossEntropy(_) => Vec::new(),
    }
}

/// The assumption Σy = 1 for one target in words and formulas in
/// `notation`; `at_every_step` for a sequence of targets, `names` naming
/// its step `y_t`.
pub fn target_sum_sentence(
    t: &crate::derive::TargetSum,
    names: &Names,
    notation: Notation,
    at_every_step: bool,
) -> Vec<training::Piece> {
    use training::Piece::{Formula, Words};
    let y = names.tensor(t.target, notation);
    let rule = target_sum_formula(t, names, notation);
    // The sum without its value: `Σy`, `1ᵀ Y`, `Y 1`.
    let sum = rule.split_once(" = ").map_or(rule.as_str(), |(sum, _)| sum).to_string();
    let mut out = match (t.axis, t.verified) {
        (None, Some(true)) => {
            vec![
                Formula(rule),
                Words(": the entries of "),
                Formula(y),
                Words(" sum to 1 (checked on the given values)"),
            ]
        }
        (None, None) => vec![
            Formula(rule),
            Words(" is assumed ("),
            Formula(y),
            Words(" is a one-hot or probability vector); the general form is shown too"),
        ],
        (None, Some(false)) => vec![
            Words("the entries of "),
            Formula(y),
            Words(" do not sum to 1, so the general form (with "),
            Formula(sum),
            Words(") is kept"),
        ],
        (Some(axis), Some(true)) => vec![
            Formula(rule),
            Words(": each "),
            Words(lane_name(axis)),
            Words(" of "),
            Formula(y),
            Words(" sums to 1 (checked on the given values)"),
        ],
        (Some(axis), None) => vec![
            Formula(rule),
            Words(" is assumed (each "),
            Words(lane_name(axis)),
            Words(" of "),
            Formula(y),
            Words(" is a one-hot or probability vector); the general form is shown too"),
        ],
        (Some(axis), Some(false)) => vec![
            Words("the "),
            Words(lane_name(axis)),
            Words("s of "),
            Formula(y),
            Words(" do not each sum to 1, so the general form (with "),
            Formula(sum),
            Words(") is kept"),
        ],
    };
    if at_every_step {
        out.push(Words(", at every step"));
    }
    out
}

/// What lies along an axis of a matrix: its columns run down axis 0.
pub fn lane_name(axis: crate::model::Axis) -> &'static str {
    if axis == crate::model::Axis::DOWN {
        "column"
    } else {
        "row"
    }
}

/// The rule Σy = 1 for one target as a formula: `Σy = 1`, or for a batch's
/// targets `1ᵀY = 1ᵀ` (each column sums to one) or `Y 1 = 1` (each row).
pub fn target_sum_formula(t: &crate::derive::TargetSum, names: &Names, notation: Notation) -> String {
    let y = names.tensor(t.target, notation);
    let latex = notation == Notation::Latex;
    let (one, top) = if latex { ("\\mathbf{1}", "^\\top") } else { ("1", "ᵀ") };
    match t.axis {
        None if latex => format!("\\textstyle\\sum {y} = 1"),
        None => format!("Σ{y} = 1"),
        Some(axis) if axis == crate::model::Axis::DOWN => format!("{one}{top} {y} = {one}{top}"),
        Some(_) => format!("{y} {one} = {one}"),
    }
}

/// A formula line followed by its value: `lhs = formula` then `= value`
/// aligned under it.
fn formula_and_value(
    out: &mut String,
    lhs: &str,
    formula_text: Option<&str>,
    value: &crate::eval::tensor::Tensor,
    round: Option<u32>,
) {
    // A map of rank 3 or more shows each channel by name: Z1[0] = ...
    let pad = if value.dims().len() >= 3 { lhs.to_string() } else { " ".repeat(display_width(lhs)) };
    match formula_text {
        Some(f) if f != lhs => {
            let _ = writeln!(out, "  {lhs} = {f}");
            super::values::labelled_into(out, &pad, value, round, "  ");
        }
        _ => out.push_str(&super::values::labelled(lhs, value, round, "  ")),
    }
}

/// The layer rules the solution's own lines need. It shows the error
/// terms, the quantities on their paths and the gradients, not every step
/// of the derivation: 𝟏 is defined only when one of those lines has it.
fn shown_layer_rules(o: &Outline<&crate::eval::tensor::Tensor>) -> Vec<Convention> {
    let g = &o.derivation.graph;
    let mut shown: Vec<NodeId> = o.gradients.iter().map(|grad| grad.formula).collect();
    for term in o.sections() {
        shown.push(term.definition.formula);
        shown.extend(term.path_lines().map(|(_, expr, _)| expr));
    }
    let uses_ones = || g.nodes_under(&shown).into_iter().any(|n| matches!(g.node(n), crate::model::Node::Ones(_)));
    o.layer_rules.iter().copied().filter(|&c| c != Convention::Ones || uses_ones()).collect()
}

/// `nnderive solve`: the worked solution as terminal text.
pub fn solution(model: &Model, solution: &Solution, round: Option<u32>) -> String {
    let o = outline(model, solution, round);
    let mut out = String::new();
    write_given(&mut out, &o);
    write_forward_values(&mut out, &o);
    let fns: Vec<(String, String)> =
        o.functions.iter().map(|r| function_line(r, model, o.derivation, &o.names)).collect();
    if !fns.is_empty() {
        let _ = writeln!(out, "\nFunctions and their derivatives");
        out.push_str(&aligned(&fns, "  "));
    }
    write_layer_rules(&mut out, &shown_layer_rules(&o));
    write_error_term_values(&mut out, &o);
    write_gradient_values(&mut out, &o);
    if let Some(train) = o.update {
        write_training(&mut out, model, &o.names, train, round);
    }
    write_notes(&mut out, "Notes", &o.notes, &o.names, o.time);
    out
}

/// The given values, exactly as the file has them.
fn write_given(out: &mut String, o: &WorkedSolution) {
    let _ = writeln!(out, "Given");
    for g in &o.given {
        super::values::labelled_into(out, &o.names.tensor(g.tensor, N), g.value, None, "  ");
    }
}

/// The forward equations with their values (a recurrence first in t, then
/// step by step), each max-pool's mask after its equation.
fn write_forward_values(out: &mut String, o: &WorkedSolution) {
    let (g, names) = (&o.derivation.graph, &o.names);
    let _ = writeln!(out, "\nForward pass");
    if let Some(view) = o.time {
        let _ = writeln!(out, "  in {} = {}..T, T = {}:", view.index, view.first, view.last);
        out.push_str(&aligned(&time_forward(o.model, o.derivation, view, names, N), "    "));
        write_introduced(out, o.model, names, "    ");
        let _ = writeln!(out, "  step by step:");
    } else {
        write_introduced(out, o.model, names, "  ");
    }
    for eq in &o.forward {
        let f = definition(g, eq.definition, names, N);
        formula_and_value(out, &names.tensor(eq.tensor, N), Some(&f), eq.value, o.round);
        for m in &eq.masks {
            let input = formula(g, m.input, names, N);
            let _ = writeln!(out, "  {}:", training::sentence(&mask_caption(input.clone(), &m.mask, N)));
            super::values::labelled_into(out, &format!("mask({input})"), &m.mask, None, "  ");
        }
    }
}

/// The pre-activations nnderive named, said once under the forward pass.
fn write_introduced(out: &mut String, model: &Model, names: &Names, indent: &str) {
    if let Some(s) = super::introduced::sentence(model, names) {
        let _ = writeln!(out, "{indent}({s})");
    }
}

/// The error terms with their values; for a recurrence, the general form
/// in t first.
fn write_error_term_values(out: &mut String, o: &WorkedSolution) {
    let (d, g, names) = (o.derivation, &o.derivation.graph, &o.names);
    if o.error_terms.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nError terms");
    if let Some(view) = o.time {
        let general: Vec<(String, String)> = o
            .recurrence
            .iter()
            .map(|gen| {
                let at = names.at(&view.index, gen.step);
                let sym = d.symbol(gen.symbol);
                let rhs = format!("{}   ({})", formula(g, sym.formula, &at, N), holds_text(view, names, gen, d));
                (formula(g, sym.node, &at, N), rhs)
            })
            .collect();
        if !general.is_empty() {
            let _ = writeln!(out, "  in {}:", view.index);
            out.push_str(&aligned(&general, "    "));
            let _ = writeln!(out, "  from {} = T = {} down to {}:", view.index, view.last, view.first);
        }
    }
    for term in o.sections() {
        let sym = term.definition;
        // The quantities on the way, each as its step gives it from the
        // one before (∂L/∂P1 = reshape(∂L/∂v, 2×2×2)), with its value.
        for (wrt, expr, value) in term.path_lines() {
            let lhs = names.gradient_of(wrt, N, g);
            formula_and_value(out, &lhs, Some(&formula(g, expr, names, N)), value, o.round);
        }
        let label = formula(g, sym.node, names, N);
        let f = formula(g, sym.formula, names, N);
        formula_and_value(out, &label, Some(&f), term.value, o.round);
        // With the target open, Σy = 1 is an assumption: the value
        // without it follows, in y's entries.
        if let Some(general) = &term.general {
            let Some(value) = general.value else { continue };
            let sums: Vec<String> =
                d.target_sums.iter().map(|t| format!("Σ{} = 1", names.tensor(t.target, N))).collect();
            let _ = writeln!(out, "    in general, without {}:", sums.join(", "));
            let f = formula(g, general.formula, names, N);
            formula_and_value(out, &format!("  {label}"), Some(&f), value, o.round);
        }
    }
}

/// The gradients with their values; a sum over time term by term.
fn write_gradient_values(out: &mut String, o: &WorkedSolution) {
    let (g, names) = (&o.derivation.graph, &o.names);
    let _ = writeln!(out, "\nGradients");
    for grad in &o.gradients {
        let lhs = names.gradient_of(Wrt::Tensor(grad.param), N, g);
        match &grad.over_time {
            Some(t) => write_time_sum(out, &lhs, g, names, t.view, t.sum, t.terms, grad.value, o.round),
            None => {
                let f = formula(g, grad.formula, names, N);
                formula_and_value(out, &lhs, Some(&f), grad.value, o.round);
            }
        }
    }
}

/// The notes under `title`, one per line, each sentence once.
pub(super) fn write_notes(out: &mut String, title: &str, notes: &[NoteItem], names: &Names, time: Option<&TimeView>) {
    let mut lines: Vec<String> = Vec::new();
    for n in notes {
        let line = note_sentence(n, names, time);
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "\n{title}");
        for l in lines {
            let _ = writeln!(out, "  {l}");
        }
    }
}

/// The training step: the optimizer's rule, the loss by step (a sparkline
/// and a table) and each step's values, or the parameters after the last.
fn write_training(out: &mut String, model: &Model, names: &Names, train: &Training, round: Option<u32>) {
    let loss = names.tensor(model.loss, N);
    let p = super::formula::any_parameter(model, N);
    let new_values = |out: &mut String| {
        for (p, v) in &train.updated {
            if v.dims().len() < 3 {
                // Written as it is: `slices` would copy it.
                super::values::labelled_into(out, &format!("{} (new)", names.tensor(*p, N)), v, round, "  ");
                continue;
            }
            // K[0,0] (new) = ... for each channel of a kernel bank
            for (index, m) in super::values::slices(v) {
                let index = if index.is_empty() { index } else { format!("[{index}]") };
                let lhs = format!("{}{index} (new)", names.tensor(*p, N));
                super::values::labelled_into(out, &lhs, &m, round, "  ");
            }
        }
    };
    if training::one_sgd_step(train) {
        // One step of SGD is the gradient already shown: the update in one line.
        let lr = super::formula::constant(&train.lr, N);
        let _ = writeln!(out, "\nUpdate (SGD, learning rate α = {lr}, one step): {p} ← {p} − α ∂{loss}/∂{p}");
        new_values(out);
        let losses: Vec<String> =
            train.losses.iter().map(|l| super::values::scalar(l, round, Notation::Text)).collect();
        let _ = writeln!(out, "  {loss} by step: {}", losses.join(" → "));
        return;
    }
    let steps = match train.steps {
        1 => "one step".to_string(),
        n => format!("{n} steps, each after a forward and backward pass"),
    };
    let _ = writeln!(out, "\nUpdate: {}; {steps}", training::title(&train.optimizer));
    let _ = writeln!(out, "  {}", training::settings(train, N).join(", "));
    if let Some(given) = &model.train {
        let name = |t| names.tensor(t, N);
        let _ = match training::initial_state(given, &name, N) {
            Some(init) => writeln!(out, "  for every parameter {p}, from {init}, at step k = 1, 2, …:"),
            None => writeln!(out, "  for every parameter {p}, at step k = 1, 2, …:"),
        };
    }
    let rule = training::rule_after(&train.optimizer, training::taken(model), p, &loss, N);
    let lw = align_width(rule.iter().map(|l| display_width(&l.lhs)), NAME_ALIGN_CAP);
    let rw = align_width(rule.iter().map(|l| display_width(&l.rhs)), FORMULA_ALIGN_CAP);
    for l in &rule {
        let line = format!("    {} = {}   {}", pad_right(&l.lhs, lw), pad_right(&l.rhs, rw), l.meaning);
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if matches!(train.optimizer, Optimizer::RmsProp { .. } | Optimizer::Adam { .. }) {
        let _ = writeln!(out, "  ⊙, ⊘ and √ act entry by entry");
    }
    if let Some(note) = training::variant_note(&train.optimizer, N) {
        let _ = writeln!(out, "  ({})", training::sentence(&note));
    }

    let values = training::loss_values(train);
    let spark = if training::plotted(train) { format!("  {}", training::sparkline(&values)) } else { String::new() };
    let _ = writeln!(out, "\n{loss} by step{spark}");
    let shown = training::shown_losses(train.losses.len());
    let cells: Vec<Vec<String>> = shown
        .iter()
        .map(|k| match k {
            Some(k) => vec![k.to_string(), super::values::scalar(&train.losses[*k], round, Notation::Text)],
            None => vec!["⋮".to_string(), "⋮".to_string()],
        })
        .collect();
    let k_width = cells.iter().map(|c| display_width(&c[0])).max().unwrap_or(1);
    let _ = writeln!(out, "  {}  {}", pad_left("k", k_width), training::loss_at(&loss, training::At::K, N));
    let values: Vec<Vec<String>> = cells.iter().map(|c| vec![c[1].clone()]).collect();
    for (c, v) in cells.iter().zip(super::values::aligned_rows(&values)) {
        let _ = writeln!(out, "  {}  {}", pad_left(&c[0], k_width), v.trim_end());
    }

    if !training::step_by_step(train) {
        let after = if train.steps == 1 { "the step".to_string() } else { format!("{} steps", train.steps) };
        let _ = writeln!(out, "\nAfter {after}");
        new_values(out);
        return;
    }
    let width = align_width(train.updated.iter().map(|(p, _)| display_width(&names.tensor(*p, N))), NAME_ALIGN_CAP);
    let shown = training::shown_steps(train.steps);
    for (i, k) in shown.iter().enumerate() {
        let Some(k) = *k else {
            let from = i.checked_sub(1).and_then(|j| shown[j]).unwrap_or(0) + 1;
            let to = shown.get(i + 1).copied().flatten().unwrap_or(train.steps + 1) - 1;
            let _ = writeln!(out, "\n… steps {from} to {to} are left out here (--format json lists every step) …");
            continue;
        };
        let at = |k: u32| training::loss_at(&loss, training::At::Step(k), N);
        let _ = writeln!(
            out,
            "\nStep {k}: {} = {} → {} = {}",
            at(k - 1),
            super::values::scalar(&train.losses[k as usize - 1], round, Notation::Text),
            at(k),
            super::values::scalar(&train.losses[k as usize], round, Notation::Text)
        );
        let Some(step) = train.history.get(k as usize - 1) else { continue };
        for ps in &step.params {
            let name = names.tensor(ps.param, N);
            let at = training::At::Step(k);
            let mut items = vec![(training::quantity_symbol(None, at, N), &ps.gradient)];
            for (q, v) in train.optimizer.quantities().iter().zip(&ps.quantities) {
                items.push((training::quantity_symbol(Some(*q), at, N), v));
            }
            items.push((training::param_at(&name, at, N), &ps.value));
            out.push_str(&packed(&pad_right(&name, width), &items, round));
        }
    }
}

/// `s` right-aligned in `width` columns.
fn pad_left(s: &str, width: usize) -> String {
    format!("{}{s}", " ".repeat(width.saturating_sub(display_width(s))))
}

/// Labelled values (`m⁽¹⁾ = [...]`) side by side after a name, as many to
/// a line as fit in [`SIDE_BY_SIDE_WIDTH`]; maps of rank 3 or more one
/// channel after another.
fn packed(name: &str, items: &[(String, &crate::eval::tensor::Tensor)], round: Option<u32>) -> String {
    let indent = format!("  {}  ", " ".repeat(display_width(name)));
    let mut out = String::new();
    if items.iter().any(|(_, t)| t.dims().len() >= 3) {
        let _ = writeln!(out, "  {}", name.trim_end());
        for (label, t) in items {
            out.push_str(&super::values::labelled(label, t, round, &indent));
        }
        return out;
    }
    let blocks: Vec<Vec<String>> = items
        .iter()
        .map(|(label, t)| {
            let pad = " ".repeat(display_width(label) + 3);
            super::values::block(t, round)
                .into_iter()
                .enumerate()
                .map(|(i, l)| if i == 0 { format!("{label} = {l}") } else { format!("{pad}{l}") })
                .collect()
        })
        .collect();
    let width = |b: &Vec<String>| b.iter().map(|l| display_width(l)).max().unwrap_or(0);
    let mut start = 0;
    while start < blocks.len() {
        // As many blocks as fit, and at least one.
        let mut end = start + 1;
        let mut used = width(&blocks[start]);
        while end < blocks.len() && used + 3 + width(&blocks[end]) <= SIDE_BY_SIDE_WIDTH {
            used += 3 + width(&blocks[end]);
            end += 1;
        }
        let lines = side_by_side(&blocks[start..end], "   ", usize::MAX).unwrap_or_default();
        for (i, line) in lines.iter().enumerate() {
            let lead = if start == 0 && i == 0 { format!("  {name}  ") } else { indent.clone() };
            let _ = writeln!(out, "{lead}{line}");
        }
        start = end;
    }
    out
}

/// What a max-pool's mask shows, in words and formulas: `input` is the
/// pool's input written in `notation`.
pub fn mask_caption(input: String, mask: &crate::eval::tensor::Tensor, notation: Notation) -> Vec<training::Piece> {
    use training::Piece::{Formula, Words};
    let overlapping = mask.to_f64_vec().iter().any(|&x| x > 1.0);
    vec![
        Words("mask of the max-pool over "),
        Formula(input),
        Words(if overlapping {
            ": at each entry, how many windows take their maximum there (on a tie the first, in row-major order); the windows overlap, so an entry can count more than once; each window's "
        } else {
            ": 1 at the maximum of each window (on a tie the first, in row-major order), 0 elsewhere; each window's "
        }),
        Formula(if notation == Notation::Latex { "\\delta" } else { "δ" }.to_string()),
        Words(" is routed there"),
    ]
}

/// A note in words, in the text notation.
pub fn note_text(note: &Note, names: &Names) -> String {
    training::sentence(&note_pieces(note, names, N))
}

/// What a note is about, named in `notation` (`δ2`, `\\delta_{2}`).
fn quantity_pieces(q: Quantity, names: &Names, notation: Notation) -> Vec<training::Piece> {
    use training::Piece::{Formula, Words};
    let graph = names.derivation.map_or(&names.model.graph, |d| &d.graph);
    match q {
        Quantity::Tensor(id) => vec![Formula(names.tensor(id, notation))],
        Quantity::Symbol(s) => vec![Formula(names.symbol(s, notation, graph))],
        Quantity::Gradient(p) => vec![Formula(names.gradient_of(crate::derive::Wrt::Tensor(p), notation, graph))],
        Quantity::LossAfterStep(k) => {
            vec![Formula(names.tensor(names.model.loss, notation)), Words(" after step "), Formula(k.to_string())]
        }
    }
}

/// A note of the evaluation as words and formulas in `notation`: each
/// writer sets the formulas in its own way (LaTeX as mathematics).
pub fn note_pieces(note: &Note, names: &Names, notation: Notation) -> Vec<training::Piece> {
    use training::Piece::{Formula, Words};
    let latex = notation == Notation::Latex;
    let mut out = Vec::new();
    match note {
        Note::Kink { function, quantity, entries } => {
            // Counted from 1, as the formulas count entries.
            let list: Vec<String> = entries.iter().map(|e| format!("[{}]", e + 1)).collect();
            out.extend(quantity_pieces(*quantity, names, notation));
            out.push(Words(": "));
            out.push(Formula(super::formula::builtin_name(*function, notation).to_string()));
            out.push(Words(if entries.len() == 1 {
                " was evaluated exactly at 0 in entry "
            } else {
                " was evaluated exactly at 0 in entries "
            }));
            out.push(Formula(list.join(", ")));
            // The value the function's convention takes at its kink, as the
            // convention's statement writes it (step and sign both have one).
            if let Some(Part::Math { text, latex: tex }) =
                crate::derive::rules::convention(*function).and_then(|c| c.at_kink())
            {
                out.push(Words(", where the convention "));
                out.push(Formula(if latex { tex } else { text }.to_string()));
                out.push(Words(" decides the value"));
            }
        }
        Note::Capped { quantity } => {
            out.extend(quantity_pieces(*quantity, names, notation));
            out.push(Words(": exact fractions grew too large and the computation continued in f64"));
        }
        Note::Open { names: open } => {
            let one = open.len() == 1;
            for (i, &id) in open.iter().enumerate() {
                if i > 0 {
                    out.push(Words(", "));
                }
                out.push(Formula(names.tensor(id, notation)));
            }
            let first = open.first().map(|&id| names.model.tensor(id).name.clone()).unwrap_or_else(|| "y".into());
            let unknown = crate::eval::symbolic::Unknown { order: 0, name: first.as_str().into(), index: vec![0] };
            out.push(Words(if one {
                " is not given: every value that depends on it is an expression in it, entries numbered from 1 ("
            } else {
                " are not given: every value that depends on them is an expression in them, entries numbered from 1 ("
            }));
            out.push(Formula(super::symbolic::unknown(&unknown, notation)));
            out.push(Words(" is the first entry of "));
            out.push(Formula(match open.first() {
                Some(&id) => names.tensor(id, notation),
                None => first,
            }));
            out.push(Words(if one {
                "); numbers follow once it is given, in the file or on the command line (option given), and the answer for each class of a target with the option cases"
            } else {
                "); numbers follow once they are given, in the file or on the command line (option given), and the answer for each class of a target with the option cases"
            }));
        }
        Note::TooLarge { quantities } => {
            for (i, &q) in quantities.iter().enumerate() {
                if i > 0 {
                    out.push(Words(", "));
                }
                out.extend(quantity_pieces(q, names, notation));
            }
            out.push(Words(if quantities.len() == 1 {
                ": the expression in the values left open is too large to write out (more than "
            } else {
                ": the expressions in the values left open are too large to write out (more than "
            }));
            out.push(Formula(crate::eval::symbolic::SIZE_LIMIT.to_string()));
            out.push(Words(" terms and variables) and shown as "));
            out.push(Formula(if latex { "\\dots".into() } else { "…".into() }));
            out.push(Words(if quantities.len() == 1 {
                "; its formula says how it is computed"
            } else {
                "; their formulas say how they are computed"
            }));
        }
        Note::InexactRoot { optimizer, root, step } => {
            out.push(Words(optimizer));
            out.push(Words(": "));
            // The root as the update rule writes it (`√s`, `√v̂`).
            out.push(Formula(training::root(*root, notation)));
            out.push(Words(" at step "));
            out.push(Formula(step.to_string()));
            out.push(Words(" is not a fraction, so from that step on the parameters are computed in f64"));
        }
        Note::Unreached { quantity, pool, rows, cols, extent } => {
            out.extend(quantity_pieces(*quantity, names, notation));
            out.push(Words(": the windows of "));
            out.push(Formula(pool.to_string()));
            out.push(Words(" stop where they fit (PyTorch's floor rule), so "));
            // "row 4 and column 4", "rows 4–5", counted from 1 as the formulas count.
            let spans = [(*rows, extent[0], "row ", "rows "), (*cols, extent[1], "column ", "columns ")];
            for (k, (n, of, one, many)) in spans.into_iter().filter(|s| s.0 > 0).enumerate() {
                if k > 0 {
                    out.push(Words(" and "));
                }
                out.push(Words(if n == 1 { one } else { many }));
                let dash = if latex { "\\text{–}" } else { "–" };
                out.push(Formula(if n == 1 { of.to_string() } else { format!("{}{dash}{of}", of + 1 - n) }));
            }
            out.push(Words(
                " of its input are in no window: they do not change the result and get no gradient from it",
            ));
        }
        Note::Large { quantity } => {
            out.extend(quantity_pieces(*quantity, names, notation));
            out.push(Words(": more than "));
            out.push(Formula(crate::eval::tensor::EXACT_ENTRIES_CAP.to_string()));
            out.push(Words(" entries, so computed in f64 rather than as exact fractions"));
        }
    }
    out
}

/// `nnderive gradcheck`: the worst relative error per parameter.
pub fn gradcheck(model: &Model, check: &GradCheck, tolerance: f64) -> String {
    let mut out = format!("central differences with h = {:e}; tolerance {tolerance:e}\n", check.h);
    let width = align_width(check.params.iter().map(|p| display_width(&model.tensor(p.param).name)), NAME_ALIGN_CAP);
    for p in &check.params {
        let verdict = if p.worst <= tolerance { "ok" } else { "FAIL" };
        // The entry as (row, column), or its place in each dimension.
        let mut index = Vec::new();
        let mut rest = p.worst_entry;
        for &d in model.tensor(p.param).shape.dims().iter().rev() {
            index.push(rest % d.max(1));
            rest /= d.max(1);
        }
        index.reverse();
        let name = &model.tensor(p.param).name;
        let _ = writeln!(
            out,
            "  {}  worst relative error {:.3e} at {} (derived {:.9}, numeric {:.9})  {verdict}",
            pad_right(name, width),
            p.worst,
            crate::layout::entry_index(name, &index),
            p.derived + 0.0,
            p.numeric + 0.0
        );
    }
    let sampled: Vec<&ParamCheck> = check.params.iter().filter(|p| p.checked < p.entries).collect();
    if !sampled.is_empty() {
        let which: Vec<String> = sampled
            .iter()
            .map(|p| format!("{} ({} of {})", model.tensor(p.param).name, p.checked, p.entries))
            .collect();
        let _ = writeln!(out, "note: entries checked, spread evenly: {}; --all checks every entry", which.join(", "));
    }
    let names = Names::new(model, Some(&check.derivation));
    for kink in &check.kinks {
        let _ = writeln!(out, "note: {}", note_text(kink, &names));
    }
    let worst = check.worst();
    let verdict = if worst <= tolerance { "ok" } else { "FAIL" };
    let _ = writeln!(out, "{verdict}: worst relative error {worst:.3e}");
    if worst > tolerance && !check.kinks.is_empty() {
        let _ = writeln!(
            out,
            "help: the values sit on a kink (see the note): there the derived gradient follows the convention, \
             while finite differences average the two one-sided slopes; move the values off the kink to check the formulas"
        );
    }
    out
}

// ---- recurrent networks: the derivation once in t ------------------------

/// The names to print a formula of step `k` with: relative to the time
/// index for a general formula, relative to T near the last step, and
/// concrete near the first (so that the text is the same for any T).
pub fn names_near<'a>(names: &Names<'a>, _view: &TimeView, k: u64) -> Names<'a> {
    names.near_end_for(Some(k))
}

/// `1..T−1`, `T`, `1, 2`: steps in words that do not depend on T.
pub fn steps_text(view: &TimeView, holds: &[u64], notation: Notation) -> String {
    let minus = if notation == Notation::Text { "−" } else { "-" };
    let label = |k: u64| match view.last - k {
        _ if k == view.first => k.to_string(),
        0 => "T".to_string(),
        d if d <= 2 => format!("T{minus}{d}"),
        _ => k.to_string(),
    };
    let through = if notation == Notation::Latex { ", \\dots, " } else { ".." };
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for &k in holds {
        match ranges.last_mut() {
            Some((_, b)) if *b + 1 == k => *b = k,
            _ => ranges.push((k, k)),
        }
    }
    // A range from the first step to one near the end reads the same for
    // any T even when it is one step: `1..T−1` at T = 2 is step 1.
    let from_first_to_end = |a: u64, b: u64| a == view.first && b < view.last && view.last - b <= 2;
    let parts: Vec<String> = ranges
        .iter()
        .map(|&(a, b)| match (a == b, from_first_to_end(a, b)) {
            (_, true) => format!("{a}{through}T{minus}{}", view.last - b),
            (true, false) => label(a),
            (false, false) => format!("{}{through}{}", label(a), label(b)),
        })
        .collect();
    parts.join(", ")
}

/// When a general formula holds: `every t`, or `t = 1..T−1`, and the zero
/// after the last step it relies on.
pub fn holds_text(view: &TimeView, names: &Names, general: &General, derivation: &Derivation) -> String {
    let all = general.holds.len() as u64 == view.last - view.first + 1;
    let mut text = if all {
        format!("for every {}", view.index)
    } else {
        format!("for {} = {}", view.index, steps_text(view, &general.holds, N))
    };
    if general.zero_after_last {
        let _ = write!(text, ", with {} = 0", zeroed_names(names, general, derivation, N).join(" = "));
    }
    text
}

/// The error terms after the last step a general formula takes as zero,
/// each named from T: `δh_{T+1}`; for an LSTM's ∂L/∂h_t, the gates' δg_{T+1}, ….
pub fn zeroed_names(names: &Names, general: &General, derivation: &Derivation, notation: Notation) -> Vec<String> {
    let g = &derivation.graph;
    // In the order the general formula names them.
    let at = names.at("t", general.step);
    let text = formula(g, derivation.symbol(general.symbol).formula, &at, N);
    let mut found: Vec<(usize, String)> = Vec::new();
    for &(s, k) in &general.zeroed {
        let node = derivation.symbol(s).node;
        let place = text.find(&formula(g, node, &at, N)).unwrap_or(usize::MAX);
        let name = formula(g, node, &names.at("T", k.saturating_sub(1)), notation);
        if !found.iter().any(|(_, n)| *n == name) {
            found.push((place, name));
        }
    }
    found.sort_by_key(|(place, _)| *place);
    found.into_iter().map(|(_, name)| name).collect()
}

/// A formula in t: `Σ_t p` for each pattern, then the other terms.
pub fn time_sum_text(
    g: &crate::model::Graph,
    sum: &TimeSum,
    names: &Names,
    view: &TimeView,
    notation: Notation,
) -> String {
    let at = names.at(&view.index, sum.step);
    let mut parts: Vec<String> = sum
        .patterns
        .iter()
        .map(|&p| {
            let body = formula(g, p, &at, notation);
            let body = if matches!(g.node(p), crate::model::Node::Add(..) | crate::model::Node::Sub(..)) {
                match notation {
                    Notation::Latex => format!("\\left({body}\\right)"),
                    _ => format!("({body})"),
                }
            } else {
                body
            };
            match notation {
                Notation::Text => format!("Σ_{} {body}", view.index),
                Notation::Latex => format!("\\sum_{{{}}} {body}", view.index),
                Notation::Nn => format!("sum({body} for {})", view.index),
            }
        })
        .collect();
    parts.extend(sum.rest.iter().map(|&r| formula(g, r, names, notation)));
    let mut total = parts.join(" + ");
    if let Some(c) = sum.divisor {
        let c = formula(g, c, names, notation);
        total = match notation {
            Notation::Latex => format!("\\frac{{{total}}}{{{c}}}"),
            _ if parts.len() == 1 && sum.patterns.len() == 1 => format!("({total}) / {c}"),
            _ => format!("({total}) / {c}"),
        };
    }
    match sum.factor {
        Some(c) => {
            let c = formula(g, c, names, notation);
            match notation {
                Notation::Latex => format!("{c} \\left({total}\\right)"),
                Notation::Nn => format!("{c} * ({total})"),
                Notation::Text => format!("{c} ({total})"),
            }
        }
        None => total,
    }
}

/// Rules and the equations they were applied to, each sequence once (`at h_t`).
fn collapsed_rule(steps: &[Step], names: &Names, view: &TimeView) -> String {
    let mut rules: Vec<StepRule> = Vec::new();
    let mut from: Vec<String> = Vec::new();
    let mut simplified = crate::model::Fired::default();
    for s in steps {
        simplified = simplified.union(s.simplified);
        for r in &s.rules {
            if !rules.contains(r) {
                rules.push(r.clone());
            }
        }
        for &t in &s.from {
            let name = match crate::model::time::split_step(&names.model.tensor(t).name) {
                Some((_, k)) => names.at(&view.index, k).tensor(t, N),
                None => names.tensor(t, N),
            };
            if !from.contains(&name) {
                from.push(name);
            }
        }
    }
    if rules.is_empty() {
        return "no path from the loss".into();
    }
    training::sentence(&rule_note(&rules, from, simplified, N))
}

/// A step's rule note as words and formulas in `notation`: the rules, the
/// equations they were applied to (`from`, already named), then the
/// simplifications that shaped the line (`d-mse at L; like-terms`).
pub fn rule_note(rules: &[StepRule], from: Vec<String>, simplified: Fired, notation: Notation) -> Vec<training::Piece> {
    use training::Piece::{Formula, Words};
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if i > 0 {
            out.push(Words(", "));
        }
        out.extend(step_rule(rule, notation));
    }
    for (i, name) in from.into_iter().enumerate() {
        out.push(Words(if i == 0 { " at " } else { ", " }));
        out.push(Formula(name));
    }
    for (i, name) in simplified.shown_names().into_iter().enumerate() {
        out.push(Words(if i == 0 { "; " } else { ", " }));
        out.push(Words(name));
    }
    out
}

/// One rule of a step in `notation`.
fn step_rule(rule: &StepRule, notation: Notation) -> Vec<training::Piece> {
    use training::Piece::{Formula, Words};
    match rule {
        StepRule::Named(name) => vec![Words(name)],
        StepRule::Rewrite(rewrite) => sentence_pieces(rewrite.statement(), notation),
        StepRule::TargetSum { target, one_hot, axis } => {
            let latex = notation == Notation::Latex;
            let name = if latex { super::formula::tensor_name(target, notation) } else { target.clone() };
            let name = match (*one_hot, latex) {
                (false, _) => name,
                (true, false) => format!("onehot({name})"),
                (true, true) => format!("\\operatorname{{onehot}}({name})"),
            };
            vec![Formula(match (axis, latex) {
                (None, false) => format!("Σ{name} = 1"),
                (None, true) => format!("\\textstyle\\sum {name} = 1"),
                (Some(a), false) if *a == Axis::DOWN => format!("1ᵀ {name} = 1ᵀ"),
                (Some(a), true) if *a == Axis::DOWN => format!("\\mathbf{{1}}^\\top {name} = \\mathbf{{1}}^\\top"),
                (Some(_), false) => format!("{name} 1 = 1"),
                (Some(_), true) => format!("{name} \\mathbf{{1}} = \\mathbf{{1}}"),
            })]
        }
    }
}

/// A fixed sentence as words and formulas in `notation`.
pub fn sentence_pieces(sentence: Sentence, notation: Notation) -> Vec<training::Piece> {
    sentence
        .iter()
        .map(|part| match *part {
            Part::Words(w) => training::Piece::Words(w),
            Part::Math { text, latex } => {
                training::Piece::Formula(if notation == Notation::Latex { latex } else { text }.to_string())
            }
        })
        .collect()
}

/// The forward equations in t: `(lhs, rhs)`.
pub fn time_forward(
    model: &Model,
    derivation: &Derivation,
    view: &TimeView,
    names: &Names,
    notation: Notation,
) -> Vec<(String, String)> {
    let g = &derivation.graph;
    view.forward
        .iter()
        .filter_map(|f| match f {
            Forward::Template { tensor, step } => {
                let at = names.at(&view.index, *step);
                let def = model.tensor(*tensor).definition?;
                Some((at.tensor(*tensor, notation), definition(g, def, &at, notation)))
            }
            Forward::Plain { tensor, sum } => {
                let def = model.tensor(*tensor).definition?;
                let k =
                    crate::model::time::split_step(&model.tensor(*tensor).name).map(|(_, k)| k).unwrap_or(view.first);
                let near = names_near(names, view, k);
                Some((near.tensor(*tensor, notation), plain_forward_rhs(g, def, sum.as_ref(), &near, view, notation)))
            }
        })
        .collect()
}

/// The right-hand side of a forward equation that is not a template in t
/// (an untimed one, or one step of a sequence whose steps differ): a sum
/// over time as `Σ_t …`, anything else as it is; `near` names the steps.
pub fn plain_forward_rhs(
    g: &crate::model::Graph,
    def: NodeId,
    sum: Option<&TimeSum>,
    near: &Names,
    view: &TimeView,
    notation: Notation,
) -> String {
    match sum {
        Some(sum) => time_sum_text(g, sum, near, view, notation),
        None => definition(g, def, near, notation),
    }
}

/// `nnderive derive` for a model with time steps: every formula once in t.
fn time_derivation(model: &Model, derivation: &Derivation, view: &TimeView) -> String {
    let names = Names::new(model, Some(derivation));
    let g = &derivation.graph;
    let mut out = String::new();
    // The simplifications the printed steps name, for the legend at the end.
    let named = std::cell::Cell::new(Fired::default());
    let _ = writeln!(out, "Time steps");
    let _ = writeln!(
        out,
        "  {} = {}..T with T = {}; an equation in {} holds at every step",
        view.index, view.first, view.last, view.index
    );
    let _ = writeln!(out, "\nForward pass");
    out.push_str(&aligned(&time_forward(model, derivation, view, &names, N), "  "));
    write_introduced(&mut out, model, &names, "  ");

    write_functions(&mut out, &function_rows(model, derivation), model, derivation, &names);
    named.set(named.get().union(simplifications(derivation).in_functions));
    write_layer_rules(&mut out, &layer_rules(derivation));

    if !view.groups.is_empty() {
        let _ = writeln!(out, "\nError terms");
        let write_symbol = |out: &mut String, s: crate::model::SymbolId, names: &Names, holds: Option<String>| {
            let sym = derivation.symbol(s);
            named.set(named.get().union(simplified_in(&sym.steps)));
            let general = sym.general.map(|general| ("Σy = 1".to_string(), general));
            write_error_term(out, derivation, names, sym, holds, general);
        };
        let step_of = |s: crate::model::SymbolId| {
            crate::model::time::split_step(&model.tensor(derivation.symbol(s).owner).name).map(|(_, k)| k)
        };
        for group in &view.groups {
            // The steps after those of the general form (∂L/∂h_T) come first,
            // as backprop meets them: the recurrence then starts from them.
            let last_general = group.general.as_ref().and_then(|g| g.holds.last().copied());
            let later = |s: &crate::model::SymbolId| last_general.is_some_and(|l| step_of(*s).is_some_and(|k| k > l));
            let write_other = |out: &mut String, s: crate::model::SymbolId| {
                let near = names_near(&names, view, step_of(s).unwrap_or(view.last));
                write_symbol(out, s, &near, None);
            };
            for &s in group.others.iter().filter(|s| later(s)) {
                write_other(&mut out, s);
            }
            if let Some(general) = &group.general {
                let at = names.at(&view.index, general.step);
                write_symbol(&mut out, general.symbol, &at, Some(holds_text(view, &names, general, derivation)));
            }
            for &s in group.others.iter().filter(|s| !later(s)) {
                write_other(&mut out, s);
            }
        }
        out.pop();
    }

    let _ = writeln!(out, "\nGradients");
    let mut rows = Vec::new();
    for (grad, sum) in derivation.gradients.iter().zip(&view.gradients) {
        let lhs = names.gradient_of(Wrt::Tensor(grad.param), N, g);
        let rhs = match sum {
            Some(sum) => time_sum_text(g, sum, &names, view, N),
            None => formula(g, grad.formula, &names_near(&names, view, view.last), N),
        };
        named.set(named.get().union(simplified_in(&grad.steps)));
        rows.push((lhs, rhs, collapsed_rule(&grad.steps, &names, view)));
    }
    write_steps(&mut out, &rows, "  ");

    write_notes(&mut out, "Conventions", &derivation_notes(model, derivation, &names), &names, Some(view));
    let tags = named_rules(
        derivation.defined_symbols().flat_map(|s| &s.steps).chain(derivation.gradients.iter().flat_map(|g| &g.steps)),
    );
    write_rules(&mut out, model, &tags);
    write_simplifications(&mut out, named.get());
    out
}

/// Matrices side by side, joined by `sep` on their first line, or `None`
/// when the joined lines would be wider than `max_width` columns (each
/// block's width is measured once, so a wide row is refused before any
/// line is built: the cost is linear in the blocks' text).
fn side_by_side(blocks: &[Vec<String>], sep: &str, max_width: usize) -> Option<Vec<String>> {
    let widths: Vec<usize> = blocks.iter().map(|b| b.iter().map(|l| display_width(l)).max().unwrap_or(0)).collect();
    let sep_width = display_width(sep);
    let total = widths.iter().sum::<usize>() + sep_width * blocks.len().saturating_sub(1);
    if total > max_width {
        return None;
    }
    let height = blocks.iter().map(Vec::len).max().unwrap_or(0);
    let blank = " ".repeat(sep_width);
    Some(
        (0..height)
            .map(|r| {
                let cells: Vec<String> = blocks
                    .iter()
                    .zip(&widths)
                    .map(|(b, &w)| pad_right(b.get(r).map(String::as_str).unwrap_or(""), w))
                    .collect();
                cells.join(if r == 0 { sep } else { &blank }).trim_end().to_string()
            })
            .collect(),
    )
}

/// Widest line of term values written side by side.
const SIDE_BY_SIDE_WIDTH: usize = 120;

/// `∂L/∂W = Σ_t … = term₃ + term₂ + term₁ = [..] + [..] + [..] = [..]`.
#[allow(clippy::too_many_arguments)]
fn write_time_sum(
    out: &mut String,
    lhs: &str,
    g: &crate::model::Graph,
    names: &Names,
    view: &TimeView,
    sum: &TimeSum,
    terms: &[crate::eval::tensor::Tensor],
    total: &crate::eval::tensor::Tensor,
    round: Option<u32>,
) {
    let pad = " ".repeat(display_width(lhs));
    let written: Vec<String> = sum.terms.iter().map(|&t| formula(g, t, names, N)).collect();
    let _ = writeln!(out, "  {lhs} = {}", time_sum_text(g, sum, names, view, N));
    let _ = writeln!(out, "  {pad} = {}", written.join(" + "));
    // Drawn side by side only when they fit: a lower bound on their width
    // first, so that the usual case (terms too wide to fit) draws no block
    // it then throws away, since each term is written again below.
    let narrowest = terms.iter().map(super::values::narrowest_block).sum::<usize>() + 3 * terms.len().saturating_sub(1);
    let lines = if terms.iter().all(|t| t.dims().len() <= 2) && narrowest <= SIDE_BY_SIDE_WIDTH {
        let blocks: Vec<Vec<String>> = terms.iter().map(|t| super::values::block(t, round)).collect();
        side_by_side(&blocks, " + ", SIDE_BY_SIDE_WIDTH)
    } else {
        None
    };
    if let Some(lines) = lines {
        for (i, l) in lines.iter().enumerate() {
            let _ = writeln!(out, "  {pad} {} {l}", if i == 0 { "=" } else { " " });
        }
    } else {
        for (w, t) in written.iter().zip(terms) {
            super::values::labelled_into(out, &format!("{pad}   {w}"), t, round, "  ");
        }
    }
    super::values::labelled_into(out, &pad, total, round, "  ");
    if let Some(note) = rounded_terms_note(terms, total, round) {
        let _ = writeln!(out, "  {pad}   ({note})");
    }
}

/// The note under a sum shown term by term whose rounded terms do not add
/// up to its rounded total, in words every format uses.
pub fn rounded_terms_note(
    terms: &[crate::eval::tensor::Tensor],
    total: &crate::eval::tensor::Tensor,
    round: Option<u32>,
) -> Option<String> {
    let places = round.filter(|_| super::values::rounded_terms_disagree(terms, total, round))?;
    let decimals = if places == 1 { "decimal" } else { "decimals" };
    Some(format!(
        "each term is rounded to {places} {decimals} on its own, so the rounded terms need not add up to the rounded total"
    ))
}
