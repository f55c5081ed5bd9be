//! The derivative rules of the elementwise built-ins, as one table.
//!
//! Each rule is one named line; [`derivative`] builds it. Where a textbook
//! writes a derivative through the function's output (σ′ = σ(1 − σ),
//! tanh′ = 1 − tanh²), the rule is given that output, which is the named
//! tensor when the function defines one (`h = sigmoid(z)` gives `h ⊙ (1 − h)`).

use num_rational::BigRational;

use crate::model::{Elementwise, Func, Graph, NodeId};

/// A named derivative rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Rule name, as shown in derivation steps (`d-relu`).
    pub name: &'static str,
    pub function: Elementwise,
    /// The rule in words, in the notation of the text output.
    pub statement: &'static str,
}

/// Every elementwise built-in's derivative.
pub const RULES: [Rule; 12] = [
    Rule { name: "d-relu", function: Elementwise::Relu, statement: "relu′(t) = step(t)" },
    Rule { name: "d-step", function: Elementwise::Step, statement: "step′(t) = 0" },
    Rule { name: "d-sign", function: Elementwise::Sign, statement: "sign′(t) = 0" },
    Rule { name: "d-sigmoid", function: Elementwise::Sigmoid, statement: "σ′(t) = σ(t) (1 − σ(t))" },
    Rule { name: "d-tanh", function: Elementwise::Tanh, statement: "tanh′(t) = 1 − tanh²(t)" },
    Rule { name: "d-sin", function: Elementwise::Sin, statement: "sin′(t) = cos(t)" },
    Rule { name: "d-cos", function: Elementwise::Cos, statement: "cos′(t) = −sin(t)" },
    Rule { name: "d-exp", function: Elementwise::Exp, statement: "exp′(t) = exp(t)" },
    Rule { name: "d-log", function: Elementwise::Log, statement: "log′(t) = 1 / t" },
    Rule { name: "d-sqrt", function: Elementwise::Sqrt, statement: "sqrt′(t) = 1 / (2 sqrt(t))" },
    Rule { name: "d-abs", function: Elementwise::Abs, statement: "abs′(t) = sign(t)" },
    Rule { name: "d-softplus", function: Elementwise::Softplus, statement: "softplus′(t) = σ(t)" },
];

/// The rule for `f`.
pub fn rule(f: Elementwise) -> Rule {
    RULES.iter().copied().find(|r| r.function == f).unwrap_or(RULES[0])
}

/// f′(u), where `out` is f(u) itself or the tensor that names it.
pub fn derivative(g: &mut Graph, f: Elementwise, u: NodeId, out: NodeId) -> NodeId {
    let call = |g: &mut Graph, e: Elementwise| g.apply(Func::Builtin(e), vec![u]);
    match f {
        Elementwise::Relu => call(g, Elementwise::Step),
        Elementwise::Step | Elementwise::Sign => g.int(0),
        Elementwise::Sigmoid => {
            let one = g.int(1);
            let rest = g.sub(one, out);
            g.mul(out, rest)
        }
        Elementwise::Tanh => {
            let one = g.int(1);
            let sq = g.pow(out, BigRational::from_integer(2.into()));
            g.sub(one, sq)
        }
        Elementwise::Sin => call(g, Elementwise::Cos),
        Elementwise::Cos => {
            let s = call(g, Elementwise::Sin);
            g.neg(s)
        }
        Elementwise::Exp => out,
        Elementwise::Log => {
            let one = g.int(1);
            g.div(one, u)
        }
        Elementwise::Sqrt => {
            let two = g.int(2);
            let twice = g.mul(two, out);
            let one = g.int(1);
            g.div(one, twice)
        }
        Elementwise::Abs => call(g, Elementwise::Sign),
        Elementwise::Softplus => call(g, Elementwise::Sigmoid),
    }
}

/// The conventions the derivative of `f` relies on, if any.
pub fn convention(f: Elementwise) -> Option<Convention> {
    match f {
        Elementwise::Relu | Elementwise::Step => Some(Convention::ReluAtZero),
        Elementwise::Abs | Elementwise::Sign => Some(Convention::AbsAtZero),
        _ => None,
    }
}

/// A convention at a point where a function has no derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Convention {
    /// relu′(t) = step(t), with relu′(0) = step(0) = 0; step′ = 0.
    ReluAtZero,
    /// abs′(t) = sign(t), with sign(0) = 0; sign′ = 0.
    AbsAtZero,
}

impl Convention {
    /// The convention in words (text notation).
    pub fn statement(self) -> &'static str {
        match self {
            Convention::ReluAtZero => "relu′(t) = step(t), taking relu′(0) = step(0) = 0 and step′(t) = 0",
            Convention::AbsAtZero => "abs′(t) = sign(t), taking sign(0) = 0 and sign′(t) = 0",
        }
    }
}
