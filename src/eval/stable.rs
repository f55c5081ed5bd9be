//! Numerically stable forms: where a formula, computed operation by
//! operation in f64, would lose a value that is a finite number, the
//! evaluator computes the same value another way. The formulas printed stay
//! the textbook's; only their numbers are computed here.
//!
//! - `1 − σ(u)` is σ(−u): where σ(u) rounds to 1 (u past 37), 1 − σ(u)
//!   would be 0 and σ′ = σ(1 − σ) would lose e^(−u).
//! - `1 − tanh(u)²` is sech²(u) = 4e^(−2|u|)/(1 + e^(−2|u|))², where tanh(u)²
//!   rounds to 1 (|u| past 19).
//! - `a ⊘ s²` is (a ⊘ s) ⊘ s: s² overflows for |s| past 1.3e154 where the
//!   quotient is still a number (the slope of softsign, 1/(1 + |t|)², and
//!   the quotient rule's −ḡ ⊙ a ⊘ b²).
//! - `bce(y, σ(z))` is mean(y softplus(−z) + (1 − y) softplus(z)): log σ(z)
//!   and log(1 − σ(z)) without forming σ(z) (as cross-entropy of a softmax
//!   takes log_softmax of its logits, see `evaluate`).
//! - A term whose weight is exactly zero is zero: in the losses, an entry of
//!   the target y (or of 1 − y) that is 0 makes its term 0 · log p = 0,
//!   and in their gradients y ⊘ p = 0, even where p is 0 or rounds to it.

use num_rational::BigRational;
use num_traits::Zero;

use super::tensor::{sigmoid, softplus, Data, NumericError, NumericErrorKind, Tensor};
use crate::model::{Complement, Elementwise, Graph, Model, Node, NodeId, Role};

/// `(a, s)` when `n` is `a ⊘ s²`, which the evaluator computes as
/// (a ⊘ s) ⊘ s from a and s (the square is never formed).
pub(super) fn over_square(graph: &Graph, n: NodeId) -> Option<(NodeId, NodeId)> {
    let Node::Div(a, d) = *graph.node(n) else { return None };
    let Node::Pow(s, ref e) = *graph.node(d) else { return None };
    crate::rational::eq(e, &BigRational::from_integer(2.into())).then_some((a, s))
}

/// A complement's value from its argument's, or `None` where the
/// argument's entries are left open (the general rules then apply).
pub(super) fn complement_value(form: Complement, u: &Tensor) -> Option<Result<Tensor, NumericError>> {
    if u.is_symbolic() {
        return None;
    }
    Some(match form {
        Complement::OneMinusSigmoid(_) => u.map_float(|x| sigmoid(-x)),
        Complement::OneMinusTanhSquared(_) => u.map_float(sech_squared),
    })
}

/// sech²(x) = 1 − tanh²(x) = 4e^(−2|x|)/(1 + e^(−2|x|))², without overflow
/// and without the cancellation of 1 − tanh².
pub(super) fn sech_squared(x: f64) -> f64 {
    let e = (-2.0 * x.abs()).exp();
    4.0 * e / ((1.0 + e) * (1.0 + e))
}

/// True when `n` weighs the terms of a loss: a target, one minus a target,
/// or class labels read as one-hot targets.
pub(super) fn is_weight(model: &Model, graph: &Graph, n: NodeId) -> bool {
    let target = |n: NodeId| match *graph.node(n) {
        Node::Tensor(t) => model.tensor(t).role == Role::Target,
        Node::OneHot(..) => true,
        _ => false,
    };
    match *graph.node(n) {
        Node::Sub(one, y) => {
            graph.as_const(one).is_some_and(|c| crate::rational::eq(c, &BigRational::from_integer(1.into())))
                && target(y)
        }
        _ => target(n),
    }
}

/// `w ⊙ log p` with the convention 0 · log 0 = 0: an entry whose weight is
/// exactly 0 is 0 whatever p is; the others need p > 0. Weights left open
/// take the general rules.
pub(super) fn xlogy(w: &Tensor, p: &Tensor) -> Result<Tensor, NumericError> {
    if w.is_symbolic() || p.is_symbolic() || w.dims() != p.dims() {
        return w.mul(&p.map(Elementwise::Log)?);
    }
    let zero = weight_zeros(w);
    let (wv, pv) = (w.to_f64_vec(), p.to_f64_vec());
    let mut out = Vec::with_capacity(wv.len());
    for (i, (a, x)) in wv.iter().zip(&pv).enumerate() {
        if zero[i] {
            out.push(0.0);
        } else if *x <= 0.0 {
            return Err(NumericError { kind: NumericErrorKind::LogOfNonPositive(*x), index: p.index_of(i) });
        } else {
            out.push(a * x.ln());
        }
    }
    Ok(Tensor::float_checked(w.dims().to_vec(), out)?.with_capped(w.capped() || p.capped()))
}

/// `bce(y, σ(z))` from the logits z: mean(y softplus(−z) + (1 − y) softplus(z)),
/// since log σ(z) = −softplus(−z) and log(1 − σ(z)) = −softplus(z). Both
/// are finite for every finite z, so a weight of 0 gives a term of 0.
pub(super) fn bce_of_logits(y: &Tensor, z: &Tensor) -> Option<Result<Tensor, NumericError>> {
    if y.is_symbolic() || z.is_symbolic() || y.dims() != z.dims() {
        return None;
    }
    let (yv, zv) = (y.to_f64_vec(), z.to_f64_vec());
    let total: f64 = yv.iter().zip(&zv).map(|(w, x)| w * softplus(-x) + (1.0 - w) * softplus(*x)).sum();
    let n = yv.len().max(1) as f64;
    Some(Tensor::float_checked(Vec::new(), vec![total / n]).map(|t| t.with_capped(y.capped() || z.capped())))
}

/// Which entries of a weight are exactly 0.
fn weight_zeros(w: &Tensor) -> Vec<bool> {
    let mut zero = vec![false; w.len()];
    for i in w.zero_entries() {
        zero[i] = true;
    }
    zero
}

/// `w ⊘ d` where `w` weighs a loss's terms ([`is_weight`]): an entry whose
/// weight is exactly 0 is 0 whatever the divisor; any other zero divisor
/// is a division by zero, as in `Tensor::div`.
pub(super) fn weighted_div(w: &Tensor, d: &Tensor) -> Result<Tensor, NumericError> {
    if w.is_symbolic() || d.is_symbolic() || w.dims() != d.dims() {
        return w.div(d);
    }
    let zero = weight_zeros(w);
    if let Some(i) = d.zero_entries().into_iter().find(|&i| !zero[i]) {
        return Err(NumericError { kind: NumericErrorKind::DivisionByZero, index: d.index_of(i) });
    }
    match (w.data(), d.data()) {
        (Data::Exact(a), Data::Exact(b)) => {
            let v = a.iter().zip(b).map(|(a, b)| if a.is_zero() { BigRational::zero() } else { a / b }).collect();
            Ok(Tensor::settle(w.dims().to_vec(), v)?.with_capped(w.capped() || d.capped()))
        }
        _ => {
            let (a, b) = (w.to_f64_vec(), d.to_f64_vec());
            let v = a.iter().zip(&b).zip(&zero).map(|((a, b), z)| if *z { 0.0 } else { a / b }).collect();
            Ok(Tensor::float_checked(w.dims().to_vec(), v)?.with_capped(w.capped() || d.capped()))
        }
    }
}
