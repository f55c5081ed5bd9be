//! `--cases y=onehot`: the answer for each one-hot value of a target, side
//! by side, after the general answer with the target left open.

use std::fmt::Write;

use serde_json::{json, Map, Value};

use crate::eval::tensor::Tensor;
use crate::eval::{Case, SolvedCases};
use crate::model::Model;

use super::document::{math, row, text as words, Block, Row};
use super::formula::{display_width, Notation};
use super::outline::outline;
use crate::layout::pad_right;

/// The quantities each case shows, in order: the loss, the error terms and
/// named gradients, the gradients, and the parameters after training, as
/// the case's outline has them.
fn quantities(model: &Model, case: &Case, notation: Notation) -> Vec<(String, Tensor)> {
    let o = outline(model, &case.solution, None);
    let (g, names) = (&o.derivation.graph, &o.names);
    let mut out = vec![(names.tensor(model.loss, notation), case.solution.value(model.loss).clone())];
    for term in &o.error_terms {
        out.push((names.symbol(term.symbol, notation, g), term.value.clone()));
    }
    for grad in &o.gradients {
        out.push((names.gradient_of(crate::derive::Wrt::Tensor(grad.param), notation, g), grad.value.clone()));
    }
    if let Some(train) = o.update {
        for (p, v) in &train.updated {
            let name = names.tensor(*p, notation);
            let label = match notation {
                Notation::Latex => format!("{name}^{{\\text{{new}}}}"),
                _ => format!("{name} (new)"),
            };
            out.push((label, v.clone()));
        }
    }
    out
}

/// `y = e₁ = [1, 0]`, the heading of a case.
fn heading(model: &Model, cases: &SolvedCases, k: usize, notation: Notation) -> String {
    let name = super::formula::tensor_name(&model.tensor(cases.target).name, notation);
    let entries: Vec<String> = cases.cases[k].value.iter().map(|r| r.to_string()).collect();
    match notation {
        Notation::Latex => format!("{name} = e_{{{}}}", k + 1),
        _ => format!("{name} = [{}]", entries.join(", ")),
    }
}

/// The cases as text: one row per quantity, one column per case.
pub fn text(model: &Model, cases: &SolvedCases, round: Option<u32>) -> String {
    let n = Notation::Text;
    let target = &model.tensor(cases.target).name;
    let mut out = format!(
        "\nCases: {target} one-hot, each solved on its own (columns: {})\n",
        (0..cases.cases.len()).map(|k| heading(model, cases, k, n)).collect::<Vec<_>>().join("; ")
    );
    let per_case: Vec<Vec<(String, Tensor)>> = cases.cases.iter().map(|c| quantities(model, c, n)).collect();
    let Some(first) = per_case.first() else { return out };
    let width = first.iter().map(|(l, _)| display_width(l)).max().unwrap_or(0);
    // blocks[q][k]: quantity q in case k; each case a column as wide as its
    // widest block or heading, so that the columns line up from top to bottom.
    let blocks: Vec<Vec<Vec<String>>> = (0..first.len())
        .map(|q| {
            per_case.iter().map(|c| c.get(q).map(|(_, v)| super::values::block(v, round)).unwrap_or_default()).collect()
        })
        .collect();
    let headers: Vec<String> = (0..cases.cases.len()).map(|k| heading(model, cases, k, n)).collect();
    let columns: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(k, h)| {
            blocks
                .iter()
                .flat_map(|b| b[k].iter())
                .map(|l| display_width(l))
                .chain([display_width(h)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let padded = |cells: Vec<String>| -> String {
        cells.iter().zip(&columns).map(|(c, w)| pad_right(c, *w)).collect::<Vec<_>>().join("   ").trim_end().to_string()
    };
    let _ = writeln!(out, "  {}   {}", " ".repeat(width), padded(headers.clone()));
    for (q, (label, _)) in first.iter().enumerate() {
        let height = blocks[q].iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..height {
            let cells = blocks[q].iter().map(|b| b.get(i).cloned().unwrap_or_default()).collect();
            let lhs = if i == 0 { pad_right(label, width) } else { " ".repeat(width) };
            let eq = if i == 0 { "=" } else { " " };
            let _ = writeln!(out, "  {lhs} {eq} {}", padded(cells));
        }
    }
    out
}

/// The JSON answer with a `cases` array added: for each case the target's
/// value and each quantity's value, named as in text.
pub fn json(answer: &str, model: &Model, cases: &SolvedCases, round: Option<u32>) -> String {
    let mut root: Map<String, Value> = serde_json::from_str(answer).unwrap_or_default();
    let list: Vec<Value> = cases
        .cases
        .iter()
        .map(|c| {
            let mut obj = Map::new();
            let target = Tensor::exact(model.tensor(cases.target).shape.dims().to_vec(), c.value.clone());
            obj.insert(model.tensor(cases.target).name.clone(), super::json::value(&target, round));
            let mut values = Map::new();
            for (label, v) in quantities(model, c, Notation::Text) {
                values.insert(label, super::json::value(&v, round));
            }
            obj.insert("values".into(), Value::Object(values));
            Value::Object(obj)
        })
        .collect();
    root.insert("cases".into(), json!(list));
    let mut text = serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default();
    text.push('\n');
    text
}

/// The cases as document blocks: a section with one display row per
/// quantity, the cases' values side by side.
pub fn blocks(model: &Model, cases: &SolvedCases, round: Option<u32>) -> Vec<Block> {
    let n = Notation::Latex;
    let target = super::formula::tensor_name(&model.tensor(cases.target).name, n);
    let mut intro = vec![words("Each one-hot value of the target "), math(target.clone())];
    intro.push(words(", solved on its own; from left to right: "));
    for k in 0..cases.cases.len() {
        if k > 0 {
            intro.push(words(", "));
        }
        let entries: Vec<String> = cases.cases[k].value.iter().map(|r| r.to_string()).collect();
        intro.push(math(format!("{} = ({})", heading(model, cases, k, n), entries.join(", "))));
    }
    intro.push(words("."));
    let per_case: Vec<Vec<(String, Tensor)>> = cases.cases.iter().map(|c| quantities(model, c, n)).collect();
    let mut rows: Vec<Row> = Vec::new();
    if let Some(first) = per_case.first() {
        for (q, (label, _)) in first.iter().enumerate() {
            let values: Vec<String> =
                per_case.iter().filter_map(|c| c.get(q)).map(|(_, v)| super::document::matrix(v, round)).collect();
            rows.push(row(label.clone(), values.join(",\\quad ")));
        }
    }
    vec![
        Block::Section(format!("Cases: each one-hot value of {}", model.tensor(cases.target).name)),
        Block::Paragraph(intro),
        Block::Display(rows),
    ]
}
