//! Values with entries left open, written out: `0.2182 − y₁` in text,
//! `0.2182 - y_{1}` in LaTeX, and as data (terms and coefficients) in JSON.

use serde_json::{json, Value};

use crate::eval::symbolic::{Atom, Monomial, Num, Poly, Sym, Unknown};
use crate::eval::tensor::Tensor;

use super::formula::{builtin_name, tensor_name, Notation};

/// One entry written out: an expression, `…` (text) or `\dots` (LaTeX)
/// when it is too large.
pub fn entry(s: &Sym, round: Option<u32>, notation: Notation) -> String {
    match s {
        Sym::Poly(p) => poly(p, round, notation),
        Sym::TooLarge if notation == Notation::Latex => "\\dots".into(),
        Sym::TooLarge => "…".into(),
    }
}

/// A polynomial: constant first, then its terms in the file's order of
/// unknowns; every minus an operator (`−` in text, `-` in LaTeX).
pub fn poly(p: &Poly, round: Option<u32>, notation: Notation) -> String {
    let minus = if notation == Notation::Latex { "-" } else { "−" };
    let mut out = String::new();
    for (k, (m, c)) in p.terms().enumerate() {
        let negative = c.is_negative();
        match (k, negative) {
            (0, true) => out.push_str(minus),
            (0, false) => {}
            (_, true) => out.push_str(&format!(" {minus} ")),
            (_, false) => out.push_str(" + "),
        }
        let magnitude = number(&c.abs(), round);
        let factors = monomial(m, round, notation);
        match (m.is_empty(), is_exactly_one(&c.abs())) {
            (true, _) => out.push_str(&magnitude),
            (false, true) => out.push_str(&factors),
            (false, false) if notation == Notation::Latex => out.push_str(&format!("{magnitude}\\,{factors}")),
            (false, false) => out.push_str(&format!("{magnitude} {factors}")),
        }
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

fn is_exactly_one(c: &Num) -> bool {
    matches!(c, Num::Exact(r) if num_traits::One::is_one(r)) || matches!(c, Num::Float(x) if *x == 1.0)
}

/// A nonnegative coefficient as the values print it (rounded by `--round`).
fn number(c: &Num, round: Option<u32>) -> String {
    // A whole coefficient reads as one: `2 w₂`, not `2.0000 w₂`.
    if let Num::Exact(r) = c {
        if r.is_integer() {
            return r.numer().to_string();
        }
    }
    let t = match c {
        Num::Exact(r) => Tensor::exact(Vec::new(), vec![r.clone()]),
        Num::Float(x) => Tensor::float(Vec::new(), vec![*x]),
    };
    t.format_entry(0, round)
}

fn monomial(m: &Monomial, round: Option<u32>, notation: Notation) -> String {
    let sep = if notation == Notation::Latex { "\\," } else { " " };
    let factors: Vec<String> = m.iter().map(|(a, e)| power_of(a, *e, round, notation)).collect();
    factors.join(sep)
}

fn power_of(a: &Atom, e: u32, round: Option<u32>, notation: Notation) -> String {
    let base = atom(a, round, notation);
    match (e, notation) {
        (1, _) => base,
        (e, Notation::Latex) => format!("{{{base}}}^{{{e}}}"),
        (e, _) => format!("{base}{}", crate::layout::superscripted(&e.to_string())),
    }
}

fn atom(a: &Atom, round: Option<u32>, notation: Notation) -> String {
    let latex = notation == Notation::Latex;
    match a {
        Atom::Unknown(u) => unknown(u, notation),
        Atom::Call(f, args) => {
            let args: Vec<String> = args.iter().map(|p| poly(p, round, notation)).collect();
            let name = builtin_name(*f, notation);
            if latex {
                format!("{name}\\left({}\\right)", args.join(", "))
            } else {
                format!("{name}({})", args.join(", "))
            }
        }
        Atom::Recip(p) => match latex {
            true => format!("\\frac{{1}}{{{}}}", poly(p, round, notation)),
            false => format!("{}⁻¹", grouped(p, round, notation)),
        },
        Atom::Power(p, e) => {
            let e = super::formula::constant(e, notation);
            match latex {
                true => format!("\\left({}\\right)^{{{e}}}", poly(p, round, notation)),
                false => format!("{}^({e})", grouped(p, round, notation)),
            }
        }
    }
}

/// `p` in parentheses unless it is a single unknown or call.
fn grouped(p: &Poly, round: Option<u32>, notation: Notation) -> String {
    let mut terms = p.terms();
    if let (Some((m, c)), None) = (terms.next(), terms.next()) {
        if m.len() == 1 && m[0].1 == 1 && is_exactly_one(c) && !c.is_negative() {
            return atom(&m[0].0, round, notation);
        }
    }
    format!("({})", poly(p, round, notation))
}

/// An unknown entry, 1-based: `y₁`, `W₁,₂` (`y_{1}`, `W_{1,2}`); a name
/// with a subscript of its own is braced first in LaTeX (`{W_{1}}_{1,2}`).
pub fn unknown(u: &Unknown, notation: Notation) -> String {
    let name = tensor_name(&u.name, notation);
    if u.index.is_empty() {
        return name;
    }
    let index: Vec<String> = u.index.iter().map(|i| (i + 1).to_string()).collect();
    match notation {
        Notation::Latex if name.contains('_') => format!("{{{name}}}_{{{}}}", index.join(",")),
        Notation::Latex => format!("{name}_{{{}}}", index.join(",")),
        Notation::Nn => format!("{}[{}]", u.name, index.join(",")),
        Notation::Text => {
            let subs: Vec<String> = index.iter().map(|i| crate::layout::subscripted(i)).collect();
            // `W1` entry (1, 2) would read `W1₁,₂`; brackets keep the name whole.
            match u.name.ends_with(|c: char| c.is_ascii_digit()) {
                true => format!("{name}[{}]", index.join(",")),
                false => format!("{name}{}", subs.join(",")),
            }
        }
    }
}

/// An entry as JSON: its text and LaTeX, and its terms as data, each a
/// coefficient (a number, and the exact fraction when there is one) and its
/// factors (an unknown by name and 1-based index, or any other variable by
/// its text), so that a program can substitute values itself.
pub fn json(s: &Sym, round: Option<u32>) -> Value {
    let Sym::Poly(p) = s else {
        return json!({ "too_large": true });
    };
    let terms: Vec<Value> = p
        .terms()
        .map(|(m, c)| {
            let factors: Vec<Value> = m
                .iter()
                .map(|(a, e)| match a {
                    Atom::Unknown(u) => json!({
                        "unknown": u.name.as_ref(),
                        "index": u.index.iter().map(|i| i + 1).collect::<Vec<_>>(),
                        "power": e,
                    }),
                    other => json!({ "expression": atom(other, round, Notation::Text), "power": e }),
                })
                .collect();
            let exact = match c {
                Num::Exact(r) if r.is_integer() => Value::String(r.numer().to_string()),
                Num::Exact(r) => Value::String(format!("{}/{}", r.numer(), r.denom())),
                Num::Float(_) => Value::Null,
            };
            json!({ "coefficient": c.to_f64(), "exact": exact, "factors": factors })
        })
        .collect();
    json!({
        "expression": poly(p, round, Notation::Text),
        "latex": poly(p, round, Notation::Latex),
        "terms": terms,
    })
}
