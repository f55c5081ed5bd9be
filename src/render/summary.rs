//! `nnderive check`'s summary: the file's tensors with their roles, shapes
//! (with the axes the checker named) and whether a value is given, then its
//! functions and a count.

use std::fmt::Write;

use super::formula::display_width;
use crate::layout::{align_width, pad_right};
use crate::model::Model;

/// Names wider than this overhang instead of setting the column, as in the
/// derivation's text.
const NAME_ALIGN_CAP: usize = 60;

/// `nnderive check`: each tensor with its role and shape, then the functions.
pub fn check_summary(model: &Model) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    // The file's own tensors: a pre-activation nnderive named is not one.
    let own = |id: &crate::model::TensorId| model.introduced_for(*id).is_none();
    for id in model.ids().filter(own) {
        let t = model.tensor(id);
        let value = match (&t.value, t.role.is_data()) {
            (Some(_), _) => "value given".to_string(),
            (None, true) => "no value".to_string(),
            (None, false) => "computed".to_string(),
        };
        // The axes the checker named, where it named any (`[N=2, C=3, H=5, W=5]`).
        let axes = model.axes(id);
        let shape = match () {
            _ if t.shape.is_scalar() => "scalar".to_string(),
            _ if axes.is_named() => axes.show(t.shape.dims()),
            _ => t.shape.to_string(),
        };
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
        rows.len(),
        model.equations().filter(own).count(),
        model.functions.len(),
        if model.functions.len() == 1 { "" } else { "s" },
        params,
        if params == 1 { "" } else { "s" }
    );
    out
}
