//! One update of a parameter by each optimizer (the rules are stated in
//! `model::optimizer`), exact wherever the arithmetic allows: every rule is
//! rational except the square roots of RMSprop and Adam, which stay exact
//! when every entry is the square of a fraction (Adam's first step, where
//! v̂ = g ⊙ g) and are f64 otherwise.

use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

use super::tensor::{Data, NumericError, Tensor};
use crate::model::{Elementwise, Optimizer};

/// The result of one step for one parameter.
#[derive(Clone, Debug)]
pub struct Update {
    /// The parameter after the step.
    pub value: Tensor,
    /// The optimizer's quantities at this step, in the order of
    /// [`Optimizer::quantities`].
    pub quantities: Vec<Tensor>,
    /// When a square root of exact values was not a fraction, so that the
    /// step left exact arithmetic: the root, as the rule writes it (`√v̂`).
    pub inexact_root: Option<&'static str>,
}

/// Step `k` (from 1) of `optimizer` with learning rate `lr` on a parameter
/// whose gradient at its current value is `grad`; `previous` are the
/// quantities of step k − 1 (`None` at the first step, where the kept ones
/// start at zero).
pub fn update(
    optimizer: &Optimizer,
    lr: &BigRational,
    k: u32,
    param: &Tensor,
    grad: &Tensor,
    previous: Option<&[Tensor]>,
) -> Result<Update, NumericError> {
    let c = |r: &BigRational| Tensor::scalar_exact(r.clone());
    let one = BigRational::one();
    let alpha = c(lr);
    // The kept quantity at position i of the previous step, or zero.
    let before = |i: usize| previous.and_then(|q| q.get(i)).cloned().unwrap_or_else(|| grad.zeros_like());
    match optimizer {
        Optimizer::Sgd => {
            let value = sgd_step(param, &alpha, grad)?;
            Ok(Update { value, quantities: Vec::new(), inexact_root: None })
        }
        Optimizer::Momentum { beta } => {
            // v ← β v − α g;  P ← P + v
            let v = c(beta).mul(&before(0))?.sub(&alpha.mul(grad)?)?;
            let value = param.add(&v)?;
            Ok(Update { value, quantities: vec![v], inexact_root: None })
        }
        Optimizer::RmsProp { rho, eps } => {
            // s ← ρ s + (1 − ρ) g ⊙ g;  P ← P − α g ⊘ (√s + ε)
            let s = c(rho).mul(&before(0))?.add(&c(&(&one - rho)).mul(&grad.mul(grad)?)?)?;
            let (root, inexact) = sqrt(&s)?;
            let value = param.sub(&alpha.mul(&grad.div(&root.add(&c(eps))?)?)?)?;
            Ok(Update { value, quantities: vec![s], inexact_root: inexact.then_some("√s") })
        }
        Optimizer::Adam { beta1, beta2, eps } => {
            // m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g ⊙ g
            let m = c(beta1).mul(&before(0))?.add(&c(&(&one - beta1)).mul(grad)?)?;
            let v = c(beta2).mul(&before(1))?.add(&c(&(&one - beta2)).mul(&grad.mul(grad)?)?)?;
            // m̂ = m / (1 − β₁ᵏ);  v̂ = v / (1 − β₂ᵏ)
            let correction = |beta: &BigRational| c(&(&one - num_traits::pow(beta.clone(), k as usize)));
            let m_hat = m.div(&correction(beta1))?;
            let v_hat = v.div(&correction(beta2))?;
            // P ← P − α m̂ ⊘ (√v̂ + ε)
            let (root, inexact) = sqrt(&v_hat)?;
            let value = param.sub(&alpha.mul(&m_hat.div(&root.add(&c(eps))?)?)?)?;
            Ok(Update { value, quantities: vec![m, v, m_hat, v_hat], inexact_root: inexact.then_some("√v̂") })
        }
    }
}

/// The entrywise square root: exact when every entry of an exact tensor is
/// the square of a fraction, else f64; the flag says an exact tensor's root
/// had to leave exact arithmetic.
fn sqrt(t: &Tensor) -> Result<(Tensor, bool), NumericError> {
    if let Data::Exact(entries) = t.data() {
        let roots: Option<Vec<BigRational>> = entries.iter().map(rational_sqrt).collect();
        return match roots {
            Some(r) => Ok((Tensor::exact(t.dims().to_vec(), r), false)),
            None => Ok((t.map(Elementwise::Sqrt)?, true)),
        };
    }
    Ok((t.map(Elementwise::Sqrt)?, false))
}

/// √r when it is a fraction (numerator and denominator perfect squares).
fn rational_sqrt(r: &BigRational) -> Option<BigRational> {
    if r.is_negative() {
        return None;
    }
    if r.is_zero() {
        return Some(BigRational::zero());
    }
    let (n, d) = (r.numer().sqrt(), r.denom().sqrt());
    (&n * &n == *r.numer() && &d * &d == *r.denom()).then(|| BigRational::new(n, d))
}

/// `old − lr · grad`. In f64 the two operations run entry by entry in one
/// pass (the same roundings), so that no tensor of `lr · grad` is held
/// beside the old and the new value.
fn sgd_step(old: &Tensor, lr: &Tensor, grad: &Tensor) -> Result<Tensor, NumericError> {
    // An f64 gradient makes the new value f64 (an exact old value is read
    // as f64, as the general path would); exact and symbolic gradients
    // take the general path.
    if matches!((old.data(), grad.data()), (Data::Float(_) | Data::Exact(_), Data::Float(_)))
        && old.dims() == grad.dims()
    {
        let lr = lr.to_f64_vec().first().copied().unwrap_or(f64::NAN);
        let (w, g) = (old.float_view(), grad.float_view());
        let new = w.iter().zip(g.iter()).map(|(w, g)| w - lr * g).collect();
        return Ok(Tensor::float_checked(old.dims().to_vec(), new)?.with_capped(old.capped() || grad.capped()));
    }
    old.sub(&lr.mul(grad)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    #[test]
    fn square_roots_of_squares_stay_exact() {
        assert_eq!(rational_sqrt(&q(9, 16)), Some(q(3, 4)));
        assert_eq!(rational_sqrt(&q(0, 1)), Some(q(0, 1)));
        assert_eq!(rational_sqrt(&q(2, 1)), None);
        assert_eq!(rational_sqrt(&q(4, 3)), None);
        assert_eq!(rational_sqrt(&q(-4, 1)), None);
    }

    /// Adam's first step moves every entry by about α, whatever the
    /// gradient's size (m̂ = g, v̂ = g², so m̂/√v̂ = sign g), and exactly so.
    #[test]
    fn first_adam_step_is_exact_and_about_lr() {
        let adam = Optimizer::Adam { beta1: q(9, 10), beta2: q(999, 1000), eps: q(1, 100_000_000) };
        let p = Tensor::exact(vec![2], vec![q(1, 1), q(1, 1)]);
        let g = Tensor::exact(vec![2], vec![q(3, 1), q(-1, 2)]);
        let u = update(&adam, &q(1, 10), 1, &p, &g, None).unwrap();
        assert!(u.inexact_root.is_none() && u.value.is_exact());
        // 1 − 0.1 · 3/(3 + 1e-8) and 1 + 0.1 · (1/2)/(1/2 + 1e-8)
        let expect = [
            q(1, 1) - q(1, 10) * q(3, 1) / (q(3, 1) + q(1, 100_000_000)),
            q(1, 1) + q(1, 10) * q(1, 2) / (q(1, 2) + q(1, 100_000_000)),
        ];
        match u.value.data() {
            Data::Exact(v) => assert_eq!(v.as_slice(), &expect),
            other => panic!("not exact: {other:?}"),
        }
    }
}
