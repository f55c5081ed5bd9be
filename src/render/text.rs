//! Terminal text: the derivation and (with values) the worked solution.

use std::fmt::Write;

use crate::derive::{Derivation, Step, Wrt};
use crate::model::{Model, Role};

use super::formula::{definition, formula, Names, Notation};

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

/// Lines `lhs = rhs` with the `=` signs aligned.
pub fn aligned(lines: &[(String, String)], indent: &str) -> String {
    let width = lines.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (l, r) in lines {
        let pad = width - l.chars().count();
        let _ = writeln!(out, "{indent}{l}{} = {r}", " ".repeat(pad));
    }
    out
}

/// The lines of a derivation's steps: `(lhs, rhs, rule)`.
pub fn step_lines(steps: &[Step], model: &Model, derivation: &Derivation, names: &Names) -> Vec<(String, String, String)> {
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
            let _ = model;
            (lhs, formula(&derivation.graph, s.expr, names, N), rule)
        })
        .collect()
}

fn write_steps(out: &mut String, rows: &[(String, String, String)], indent: &str) {
    let lw = rows.iter().map(|(l, _, _)| l.chars().count()).max().unwrap_or(0);
    let rw = rows.iter().map(|(_, r, _)| r.chars().count()).max().unwrap_or(0);
    for (l, r, rule) in rows {
        let lpad = " ".repeat(lw - l.chars().count());
        let rpad = " ".repeat(rw - r.chars().count());
        let _ = writeln!(out, "{indent}{l}{lpad} = {r}{rpad}   [{rule}]");
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

    let defined: Vec<_> = derivation.defined_symbols().collect();
    if !defined.is_empty() {
        let _ = writeln!(out, "\nError terms");
        for s in &defined {
            let label = symbol_label(derivation, &names, s);
            let of = names.gradient_of(s.wrt, N, &derivation.graph);
            if of != label {
                let _ = writeln!(out, "  {label} = {of}");
            }
            write_steps(&mut out, &step_lines(&s.steps, model, derivation, &names), "      ");
            let _ = writeln!(out, "  {label} = {}", formula(&derivation.graph, s.formula, &names, N));
            if let Some(general) = s.general {
                let _ = writeln!(out, "      (in general, without Σy = 1: {label} = {})", formula(&derivation.graph, general, &names, N));
            }
            out.push('\n');
        }
        out.pop();
    }

    let _ = writeln!(out, "\nGradients");
    let mut lines = Vec::new();
    for g in &derivation.gradients {
        let lhs = names.gradient_of(Wrt::Tensor(g.param), N, &derivation.graph);
        lines.push((lhs, formula(&derivation.graph, g.formula, &names, N)));
    }
    out.push_str(&aligned(&lines, "  "));

    let notes = conventions(model, derivation, &names);
    if !notes.is_empty() {
        let _ = writeln!(out, "\nConventions");
        for n in notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    out
}

/// The conventions and assumptions the formulas rely on, in words.
pub fn conventions(model: &Model, derivation: &Derivation, names: &Names) -> Vec<String> {
    let mut out: Vec<String> = derivation.conventions.iter().map(|c| c.statement().to_string()).collect();
    for t in &derivation.target_sums {
        let y = names.tensor(t.target, N);
        let text = match t.verified {
            Some(true) => format!("Σ{y} = 1: the entries of {y} sum to 1 (checked on the given values)"),
            None => format!("Σ{y} = 1 is assumed ({y} is a one-hot or probability vector); the general form is shown too"),
            Some(false) => format!("the entries of {y} do not sum to 1, so the general form (with Σ{y}) is kept"),
        };
        out.push(text);
    }
    let _ = (model, Role::Target);
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
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut out = String::new();
    for r in &rows {
        let line = format!("{:w0$}  {:w1$}  {:w2$}  {}", r[0], r[1], r[2], r[3]);
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
