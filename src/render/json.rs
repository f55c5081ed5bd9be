//! `--format json`: one object with the keys `forward`, `loss`, `deltas`,
//! `gradients`, `updated` (and `notes`), names as in the file, entries in
//! file order. Formulas use the text notation.

use serde_json::{json, Map, Value};

use crate::derive::Wrt;
use crate::eval::tensor::Tensor;
use crate::eval::Solution;
use crate::model::Model;

use super::formula::{definition, formula, Names, Notation};

const N: Notation = Notation::Text;

/// A tensor's entries as JSON numbers: a scalar as a number, a vector as a
/// flat list, a matrix as a list of rows.
pub fn value(t: &Tensor, round: Option<u32>) -> Value {
    nest(t, |i| {
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
    Some(nest(t, |i| Value::String(t.exact_string(i).unwrap_or_default())))
}

/// Nested arrays, one level per dimension (a map `[C, H, W]` is a list of
/// channels, each a list of rows).
fn nest(t: &Tensor, entry: impl Fn(usize) -> Value) -> Value {
    match t.dims() {
        [] => entry(0),
        dims => nest_from(dims, 0, &entry),
    }
}

fn nest_from(dims: &[usize], start: usize, entry: &dyn Fn(usize) -> Value) -> Value {
    match dims {
        [] => entry(start),
        [n] => Value::Array((start..start + n).map(entry).collect()),
        [n, rest @ ..] => {
            let size: usize = rest.iter().product();
            Value::Array((0..*n).map(|k| nest_from(rest, start + k * size, entry)).collect())
        }
    }
}

fn with_value(mut obj: Map<String, Value>, t: &Tensor, round: Option<u32>) -> Value {
    obj.insert("value".into(), value(t, round));
    if let Some(e) = exact(t) {
        obj.insert("exact".into(), e);
    }
    Value::Object(obj)
}

/// The whole solution as pretty-printed JSON (with a final newline).
pub fn solution(model: &Model, solution: &Solution, round: Option<u32>) -> String {
    let d = &solution.derivation;
    let names = Names::new(model, Some(d));
    let g = &d.graph;

    let mut forward = Map::new();
    for id in model.equations().filter(|&id| id != model.loss) {
        let t = model.tensor(id);
        let Some(def) = t.definition else { continue };
        let mut obj = Map::new();
        obj.insert("formula".into(), json!(definition(g, def, &names, N)));
        let mut entry = with_value(obj, solution.value(id), round);
        for m in solution.masks.iter().filter(|m| m.equation == id) {
            let mut mask = Map::new();
            mask.insert("of".into(), json!(formula(g, m.input, &names, N)));
            mask.insert("value".into(), value(&m.mask, None));
            if let Value::Object(o) = &mut entry {
                o.insert("mask".into(), Value::Object(mask));
            }
        }
        forward.insert(t.name.clone(), entry);
    }

    let loss_t = model.tensor(model.loss);
    let mut loss = Map::new();
    loss.insert("name".into(), json!(loss_t.name));
    if let Some(def) = loss_t.definition {
        loss.insert("formula".into(), json!(definition(g, def, &names, N)));
    }
    let loss = with_value(loss, solution.value(model.loss), round);

    let mut deltas = Map::new();
    for (s, v) in &solution.symbols {
        let sym = d.symbol(*s);
        let of = match sym.wrt {
            Wrt::Tensor(t) => model.tensor(t).name.clone(),
            Wrt::Node(n) => formula(g, n, &names, Notation::Nn),
        };
        let mut obj = Map::new();
        obj.insert("of".into(), json!(of));
        obj.insert("formula".into(), json!(formula(g, sym.formula, &names, N)));
        deltas.insert(formula(g, sym.node, &names, N), with_value(obj, v, round));
    }

    let mut gradients = Map::new();
    for (grad, v) in d.gradients.iter().zip(&solution.gradients) {
        let mut obj = Map::new();
        obj.insert("formula".into(), json!(formula(g, grad.formula, &names, N)));
        gradients.insert(model.tensor(grad.param).name.clone(), with_value(obj, v, round));
    }

    let mut updated = Map::new();
    if let Some(train) = &solution.training {
        for (p, v) in &train.updated {
            updated.insert(model.tensor(*p).name.clone(), with_value(Map::new(), v, round));
        }
    }

    let mut notes: Vec<String> = super::text::layer_rules(d)
        .into_iter()
        .map(|(statement, index)| match index {
            Some(index) => format!("{statement}; index form: {index}"),
            None => statement.to_string(),
        })
        .collect();
    notes.extend(super::text::conventions(d, &names));
    notes.extend(solution.notes.iter().map(super::text::note_text));

    let mut root = Map::new();
    root.insert("forward".into(), Value::Object(forward));
    root.insert("loss".into(), loss);
    root.insert("deltas".into(), Value::Object(deltas));
    root.insert("gradients".into(), Value::Object(gradients));
    root.insert("updated".into(), Value::Object(updated));
    root.insert("notes".into(), json!(notes));
    let mut text = String::new();
    pretty(&Value::Object(root), 0, &mut text);
    text.push('\n');
    text
}

/// Pretty JSON that keeps each row of numbers on one line, so a matrix
/// reads as a matrix.
pub fn pretty(v: &Value, indent: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match v {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, val)) in map.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                pretty(val, indent + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        Value::Array(items) if items.iter().any(|i| i.is_array() || i.is_object()) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                pretty(item, indent + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(Value::to_string).collect();
            out.push('[');
            out.push_str(&inner.join(", "));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
