//! Terminal text: the derivation and (with values) the worked solution.

use std::fmt::Write;

use crate::derive::{Derivation, Step, Wrt};
use crate::eval::evaluate::Note;
use crate::eval::{GradCheck, ParamCheck, Solution};
use crate::model::Model;

use super::formula::{definition, display_width, formula, Names, Notation};
use crate::layout::{align_width, pad_right};

const N: Notation = Notation::Text;

/// The forward equations, one per line, aligned at `=`.
pub fn forward_equations(model: &Model, names: &Names) -> Vec<(String, String)> {
    model
        .equations()
        .filter_map(|t| {
            let def = model.tensor(t).definition?;
            Some((names.tensor(t, N), definition(&model.graph, def, names, N)))
        })
        .collect()
}

/// Each custom function and its derivative(s): `(lhs, rhs)` pairs.
pub fn function_lines(model: &Model, derivation: &Derivation, names: &Names) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for (i, f) in model.functions.values().enumerate() {
        let params = f.params.join(", ");
        let param_names = |s: String| substitute_params(&s, &f.params);
        lines.push((format!("{}({params})", f.name), param_names(formula(&derivation.graph, f.body, names, N))));
        for d in derivation.fn_derivatives.iter().filter(|d| d.func.0 as usize == i) {
            let name = names.function(crate::model::Func::Derivative { func: d.func, wrt: d.wrt }, N);
            lines.push((format!("{name}({params})"), param_names(formula(&derivation.graph, d.body, names, N))));
        }
    }
    lines
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
            let after_ok = j == chars.len() || !(chars[j].is_alphanumeric() || chars[j] == '_');
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
            let mut rule = s.rule.clone();
            if !s.from.is_empty() {
                let from: Vec<String> = s.from.iter().map(|&t| names.tensor(t, N)).collect();
                let _ = write!(rule, " at {}", from.join(", "));
            }
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

/// Names of the quantities a derivation defines: `δ2`, `∂L/∂W1`.
pub fn symbol_label(derivation: &Derivation, names: &Names, s: &crate::derive::Symbol) -> String {
    formula(&derivation.graph, s.node, names, N)
}

/// The whole symbolic derivation, as `nnderive derive` prints it.
pub fn derivation(model: &Model, derivation: &Derivation) -> String {
    let names = Names::new(model, Some(derivation));
    let mut out = String::new();
    let _ = writeln!(out, "Forward pass");
    out.push_str(&aligned(&forward_equations(model, &names), "  "));

    let fns = function_lines(model, derivation, &names);
    if !fns.is_empty() {
        let _ = writeln!(out, "\nFunctions and their derivatives");
        out.push_str(&aligned(&fns, "  "));
    }

    write_layer_rules(&mut out, derivation);

    let defined: Vec<_> = derivation.defined_symbols().collect();
    if !defined.is_empty() {
        let _ = writeln!(out, "\nError terms");
        for s in &defined {
            let label = symbol_label(derivation, &names, s);
            let of = names.gradient_of(s.wrt, N, &derivation.graph);
            if of != label {
                let _ = writeln!(out, "  {label} = {of}");
            }
            write_steps(&mut out, &step_lines(&s.steps, derivation, &names), "      ");
            let _ = writeln!(out, "  {label} = {}", formula(&derivation.graph, s.formula, &names, N));
            if let Some(general) = s.general {
                let _ = writeln!(
                    out,
                    "      (in general, without Σy = 1: {label} = {})",
                    formula(&derivation.graph, general, &names, N)
                );
            }
            out.push('\n');
        }
        out.pop();
    }

    let _ = writeln!(out, "\nGradients");
    let mut rows = Vec::new();
    for g in &derivation.gradients {
        let lhs = names.gradient_of(Wrt::Tensor(g.param), N, &derivation.graph);
        let result = formula(&derivation.graph, g.formula, &names, N);
        let mut steps = step_lines(&g.steps, derivation, &names);
        // A gradient read off in one step is one line, with its rule.
        if steps.len() <= 1 {
            let rule = steps.pop().map(|(_, _, r)| r).unwrap_or_else(|| "no path from the loss".into());
            rows.push((lhs, result, rule));
        } else {
            rows.extend(steps);
            rows.push((lhs, result, "result".into()));
        }
    }
    write_steps(&mut out, &rows, "  ");

    let notes = conventions(derivation, &names);
    if !notes.is_empty() {
        let _ = writeln!(out, "\nConventions");
        for n in notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    out
}

/// The layer rules the derivation uses: each statement with its index form.
pub fn layer_rules(derivation: &Derivation) -> Vec<(&'static str, Option<&'static str>)> {
    derivation.conventions.iter().filter(|c| c.is_layer_rule()).map(|c| (c.statement(), c.index_form())).collect()
}

fn write_layer_rules(out: &mut String, derivation: &Derivation) {
    let rules = layer_rules(derivation);
    if rules.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nLayer rules");
    for (statement, index) in rules {
        let _ = writeln!(out, "  {statement}");
        if let Some(index) = index {
            let _ = writeln!(out, "      index form: {index}");
        }
    }
}

/// The conventions and assumptions the formulas rely on, in words.
pub fn conventions(derivation: &Derivation, names: &Names) -> Vec<String> {
    let mut out: Vec<String> =
        derivation.conventions.iter().filter(|c| !c.is_layer_rule()).map(|c| c.statement().to_string()).collect();
    for t in &derivation.target_sums {
        let y = names.tensor(t.target, N);
        let text = match t.verified {
            Some(true) => format!("Σ{y} = 1: the entries of {y} sum to 1 (checked on the given values)"),
            None => {
                format!("Σ{y} = 1 is assumed ({y} is a one-hot or probability vector); the general form is shown too")
            }
            Some(false) => format!("the entries of {y} do not sum to 1, so the general form (with Σ{y}) is kept"),
        };
        out.push(text);
    }
    out
}

/// `nnderive check`: each tensor with its role and shape, then the functions.
pub fn check_summary(model: &Model) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    for t in model.tensors.values() {
        let value = match (&t.value, t.role.is_data()) {
            (Some(_), _) => "value given".to_string(),
            (None, true) => "no value".to_string(),
            (None, false) => "computed".to_string(),
        };
        let shape = if t.shape.is_scalar() { "scalar".to_string() } else { t.shape.to_string() };
        rows.push([t.role.name().to_string(), t.name.clone(), shape, value]);
    }
    let width = |i: usize| align_width(rows.iter().map(|r| display_width(&r[i])), NAME_ALIGN_CAP);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut out = String::new();
    for r in &rows {
        let line = format!("{}  {}  {}  {}", pad_right(&r[0], w0), pad_right(&r[1], w1), pad_right(&r[2], w2), r[3]);
        let _ = writeln!(out, "{}", line.trim_end());
    }
    for f in model.functions.values() {
        let _ = writeln!(out, "fn {}({})", f.name, f.params.join(", "));
    }
    let params = model.params().count();
    let _ = writeln!(
        out,
        "ok: {} tensors, {} equations, {} function{}, {} parameter{}",
        model.tensors.len(),
        model.equations().count(),
        model.functions.len(),
        if model.functions.len() == 1 { "" } else { "s" },
        params,
        if params == 1 { "" } else { "s" }
    );
    out
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
            out.push_str(&super::values::labelled(&pad, value, round, "  "));
        }
        _ => out.push_str(&super::values::labelled(lhs, value, round, "  ")),
    }
}

/// `nnderive solve`: the worked solution as terminal text.
pub fn solution(model: &Model, solution: &Solution, round: Option<u32>) -> String {
    let d = &solution.derivation;
    let names = Names::new(model, Some(d));
    let g = &d.graph;
    let mut out = String::new();

    let _ = writeln!(out, "Given");
    for id in model.ids() {
        let t = model.tensor(id);
        if t.role.is_data() {
            // Given values are printed exactly as the file has them.
            out.push_str(&super::values::labelled(&names.tensor(id, N), solution.value(id), None, "  "));
        }
    }

    let _ = writeln!(out, "\nForward pass");
    for id in model.equations() {
        let t = model.tensor(id);
        let Some(def) = t.definition else { continue };
        let f = definition(g, def, &names, N);
        formula_and_value(&mut out, &names.tensor(id, N), Some(&f), solution.value(id), round);
        for m in solution.masks.iter().filter(|m| m.equation == id) {
            let input = formula(g, m.input, &names, N);
            let _ = writeln!(out, "  {}:", mask_caption(&input, &m.mask));
            out.push_str(&super::values::labelled(&format!("mask({input})"), &m.mask, None, "  "));
        }
    }

    let fns = function_lines(model, d, &names);
    if !fns.is_empty() {
        let _ = writeln!(out, "\nFunctions and their derivatives");
        out.push_str(&aligned(&fns, "  "));
    }

    write_layer_rules(&mut out, d);

    if !d.defined.is_empty() {
        let _ = writeln!(out, "\nError terms");
        for (s, v) in &solution.symbols {
            let sym = d.symbol(*s);
            let label = symbol_label(d, &names, sym);
            let f = formula(g, sym.formula, &names, N);
            formula_and_value(&mut out, &label, Some(&f), v, round);
        }
    }

    let _ = writeln!(out, "\nGradients");
    for (grad, v) in d.gradients.iter().zip(&solution.gradients) {
        let lhs = names.gradient_of(Wrt::Tensor(grad.param), N, g);
        let f = formula(g, grad.formula, &names, N);
        formula_and_value(&mut out, &lhs, Some(&f), v, round);
    }

    if let Some(train) = &solution.training {
        let lr = super::formula::constant(&train.lr, N);
        let steps = if train.steps == 1 { "one step".to_string() } else { format!("{} steps", train.steps) };
        let _ = writeln!(
            out,
            "\nUpdate (SGD, learning rate α = {lr}, {steps}): P ← P − α ∂{}/∂P",
            names.tensor(model.loss, N)
        );
        for (p, v) in &train.updated {
            // K[0,0] (new) = ... for each channel of a kernel bank
            for (index, m) in super::values::slices(v) {
                let index = if index.is_empty() { index } else { format!("[{index}]") };
                let lhs = format!("{}{index} (new)", names.tensor(*p, N));
                out.push_str(&super::values::labelled(&lhs, &m, round, "  "));
            }
        }
        let losses: Vec<String> = train.losses.iter().map(|l| l.format_entry(0, round)).collect();
        let _ = writeln!(out, "  {} by step: {}", names.tensor(model.loss, N), losses.join(" → "));
    }

    let mut notes = conventions(d, &names);
    notes.extend(solution.notes.iter().map(note_text));
    if !notes.is_empty() {
        let _ = writeln!(out, "\nNotes");
        for n in notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    out
}

/// What a max-pool's mask shows, in words (text notation).
pub fn mask_caption(input: &str, mask: &crate::eval::tensor::Tensor) -> String {
    if mask.to_f64_vec().iter().any(|&x| x > 1.0) {
        format!(
            "mask of the max-pool over {input}: at each entry, how many windows take their maximum there (on a tie the first, in row-major order); the windows overlap, so an entry can count more than once; each window's δ is routed there"
        )
    } else {
        format!(
            "mask of the max-pool over {input}: 1 at the maximum of each window (on a tie the first, in row-major order), 0 elsewhere; each window's δ is routed there"
        )
    }
}

/// A note in words.
pub fn note_text(note: &Note) -> String {
    match note {
        Note::Kink { function, quantity, entries } => {
            let list: Vec<String> = entries.iter().map(|e| format!("[{e}]")).collect();
            let conv = if *function == "step" { "relu′(0) = step(0) = 0" } else { "sign(0) = 0" };
            format!("{quantity}: {function} was evaluated exactly at 0 in entr{} {}, where the convention {conv} decides the value", if entries.len() == 1 { "y" } else { "ies" }, list.join(", "))
        }
        Note::Capped { quantity } => {
            format!("{quantity}: exact fractions grew too large and the computation continued in f64")
        }
    }
}

/// `nnderive gradcheck`: the worst relative error per parameter.
pub fn gradcheck(model: &Model, check: &GradCheck, tolerance: f64) -> String {
    let mut out = format!("central differences with h = {:e}; tolerance {tolerance:e}\n", check.h);
    let width = align_width(check.params.iter().map(|p| display_width(&model.tensor(p.param).name)), NAME_ALIGN_CAP);
    for p in &check.params {
        let verdict = if p.worst <= tolerance { "ok" } else { "FAIL" };
        let _ = writeln!(
            out,
            "  {}  worst relative error {:.3e} at entry [{}] (derived {:.9}, numeric {:.9})  {verdict}",
            pad_right(&model.tensor(p.param).name, width),
            p.worst,
            p.worst_entry,
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
    for kink in &check.kinks {
        let _ = writeln!(out, "note: {}", note_text(kink));
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
