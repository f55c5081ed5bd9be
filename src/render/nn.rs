//! The derivation written in `.nn` syntax: every formula parses back with
//! the `.nn` expression grammar (`delta1 = (W2.T @ delta2) * f_prime(Z1)`).

use std::fmt::Write;

use crate::derive::{Derivation, Wrt};
use crate::model::Model;

use super::formula::{definition, formula, Notation};
use super::outline::derivation_outline;
use super::text::substitute_params;

const N: Notation = Notation::Nn;

/// Forward equations, function derivatives, error terms and gradients, one
/// `name = formula` line each.
pub fn derivation(model: &Model, derivation: &Derivation) -> String {
    let o = derivation_outline(model, derivation);
    let (g, names) = (&derivation.graph, &o.names);
    let mut out = String::from("# forward pass\n");
    if let Some(view) = &derivation.time {
        // In t, as the file writes it; the steps outside the recurrence are numbered.
        let _ = writeln!(out, "steps {} = {}..{}", view.index, view.first, view.last);
        for (lhs, rhs) in super::text::time_forward(model, derivation, view, names, N) {
            let _ = writeln!(out, "{lhs} = {rhs}");
        }
    } else {
        for eq in &o.forward {
            let _ = writeln!(out, "{} = {}", model.tensor(eq.tensor).name, definition(g, eq.definition, names, N));
        }
    }
    let derivatives: Vec<_> = o.functions.iter().filter_map(|r| Some((r, r.derivative?))).collect();
    if !derivatives.is_empty() {
        out.push_str("\n# derivatives of the custom functions\n");
        for (r, wrt) in derivatives {
            let f = model.function(r.func);
            let name = names.function(crate::model::Func::Derivative { func: r.func, wrt }, N);
            let body = substitute_params(&formula(g, r.body, names, N), &f.params);
            let _ = writeln!(out, "fn {name}({}) = {body}", f.params.join(", "));
        }
    }
    out.push_str("\n# error terms\n");
    match &derivation.time {
        Some(view) => {
            for group in &view.groups {
                if let Some(general) = &group.general {
                    let at = names.at(&view.index, general.step);
                    let s = derivation.symbol(general.symbol);
                    let holds = super::text::steps_text(view, &general.holds, Notation::Nn);
                    let _ = writeln!(
                        out,
                        "{} = {}  # for {} = {holds}",
                        formula(g, s.node, &at, N),
                        formula(g, s.formula, &at, N),
                        view.index
                    );
                }
                for &s in &group.others {
                    let s = derivation.symbol(s);
                    let _ = writeln!(out, "{} = {}", formula(g, s.node, names, N), formula(g, s.formula, names, N));
                }
            }
        }
        None => {
            for term in &o.error_terms {
                let s = term.definition;
                let _ = writeln!(out, "{} = {}", formula(g, s.node, names, N), formula(g, s.formula, names, N));
            }
        }
    }
    out.push_str("\n# gradients\n");
    for (i, grad) in o.gradients.iter().enumerate() {
        let lhs = names.gradient_of(Wrt::Tensor(grad.param), N, g);
        let sum = derivation.time.as_ref().and_then(|view| Some((view, view.gradients.get(i)?.as_ref()?)));
        let rhs = match sum {
            Some((view, sum)) => super::text::time_sum_text(g, sum, names, view, N),
            None => formula(g, grad.formula, names, N),
        };
        let _ = writeln!(out, "{lhs} = {rhs}");
    }
    out
}
