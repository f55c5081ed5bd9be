//! The derivation written in `.nn` syntax: every formula parses back with
//! the `.nn` expression grammar (`delta1 = (W2.T @ delta2) * f_prime(Z1)`).

use std::fmt::Write;

use crate::derive::{Derivation, Wrt};
use crate::model::Model;

use super::formula::{definition, formula, Names, Notation};
use super::text::substitute_params;

const N: Notation = Notation::Nn;

/// Forward equations, function derivatives, error terms and gradients, one
/// `name = formula` line each.
pub fn derivation(model: &Model, derivation: &Derivation) -> String {
    let names = Names::new(model, Some(derivation));
    let g = &derivation.graph;
    let mut out = String::from("# forward pass\n");
    for t in model.equations() {
        if let Some(def) = model.tensor(t).definition {
            let _ = writeln!(out, "{} = {}", model.tensor(t).name, definition(g, def, &names, N));
        }
    }
    if !derivation.fn_derivatives.is_empty() {
        out.push_str("\n# derivatives of the custom functions\n");
        for d in &derivation.fn_derivatives {
            let f = model.function(d.func);
            let name = names.function(crate::model::Func::Derivative { func: d.func, wrt: d.wrt }, N);
            let body = substitute_params(&formula(g, d.body, &names, N), &f.params);
            let _ = writeln!(out, "fn {name}({}) = {body}", f.params.join(", "));
        }
    }
    out.push_str("\n# error terms\n");
    for s in derivation.defined_symbols() {
        let _ = writeln!(out, "{} = {}", formula(g, s.node, &names, N), formula(g, s.formula, &names, N));
    }
    out.push_str("\n# gradients\n");
    for grad in &derivation.gradients {
        let lhs = names.gradient_of(Wrt::Tensor(grad.param), N, g);
        let _ = writeln!(out, "{lhs} = {}", formula(g, grad.formula, &names, N));
    }
    out
}
