//! One update of a parameter by each optimizer (the rules are stated in
//! `model::optimizer`), exact wherever the arithmetic allows: every rule is
//! rational except the square roots of RMSprop and Adam, which stay exact
//! when every entry is the square of a fraction (Adam's first step, where
//! v̂ = g ⊙ g) and are f64 otherwise.
//!
//! Adam's bias corrections 1 − β₁ᵏ and 1 − β₂ᵏ are counted once per step for
//! every parameter ([`Steps`]), each power from the one before: exact while
//! an exact m̂ or v̂ could still come of them, in f64 after, so that a run's
//! work is linear in its steps (recomputing βᵏ as a reduced fraction each
//! step made 10 000 steps take minutes).

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::tensor::{Data, NumericError, Tensor, EXACT_BITS_CAP};
use crate::model::optimizer::Quantity;
use crate::model::{Elementwise, Optimizer, TensorId, Train};

/// βᵏ stays exact while its denominator has at most this many bits. Past
/// it, an exact m (at most [`EXACT_BITS_CAP`] bits an entry, as every exact
/// value) divided by 1 − βᵏ would need more than [`EXACT_BITS_CAP`] bits
/// unless it is 0: the numerator of m / (1 − βᵏ) keeps all of βᵏ's
/// denominator but what m's own parts cancel (see [`correct`]).
const EXACT_POWER_BITS: u64 = 2 * EXACT_BITS_CAP + 64;

/// One training step: its number k (from 1) and what every parameter's
/// update shares at that step.
#[derive(Clone, Debug)]
pub struct Step {
    pub k: u32,
    /// Adam's 1 − β₁ᵏ and 1 − β₂ᵏ, as scalars.
    corrections: Option<[Tensor; 2]>,
}

/// The steps of a training run, in order, each made from the one before in
/// a constant amount of work.
#[derive(Clone, Debug)]
pub struct Steps {
    k: u32,
    /// Adam's β₁ᵏ and β₂ᵏ at step k.
    powers: Option<[Power; 2]>,
}

/// βᵏ for β = n/d in lowest terms: nᵏ/dᵏ is then in lowest terms too, and so
/// is 1 − βᵏ = (dᵏ − nᵏ)/dᵏ, so neither needs a gcd.
#[derive(Clone, Debug)]
enum Power {
    Exact {
        n: BigInt,
        d: BigInt,
        nk: BigInt,
        dk: BigInt,
    },
    /// Past [`EXACT_POWER_BITS`]: β in f64 and the step it is raised to.
    Float {
        beta: f64,
    },
}

impl Power {
    fn new(beta: &BigRational) -> Power {
        let (n, d) = (beta.numer().clone(), beta.denom().clone());
        Power::Exact { nk: BigInt::one(), dk: BigInt::one(), n, d }
    }

    /// From βᵏ⁻¹ to βᵏ.
    fn advance(&mut self) {
        if let Power::Exact { n, d, nk, dk } = self {
            *nk *= &*n;
            *dk *= &*d;
            if dk.bits() > EXACT_POWER_BITS {
                let beta = n.to_f64().unwrap_or(f64::NAN) / d.to_f64().unwrap_or(f64::NAN);
                *self = Power::Float { beta };
            }
        }
    }

    /// 1 − βᵏ as a scalar.
    fn correction(&self, k: u32) -> Tensor {
        match self {
            Power::Exact { nk, dk, .. } => Tensor::scalar_exact(BigRational::new_raw(dk - nk, dk.clone())),
            Power::Float { beta } => Tensor::float(Vec::new(), vec![1.0 - beta.powi(k.min(i32::MAX as u32) as i32)]),
        }
    }
}

impl Steps {
    /// The steps of `optimizer`, before the first.
    pub fn new(optimizer: &Optimizer) -> Steps {
        let powers = match optimizer {
            Optimizer::Adam { beta1, beta2, .. } => Some([Power::new(beta1), Power::new(beta2)]),
            Optimizer::Sgd | Optimizer::Momentum { .. } | Optimizer::RmsProp { .. } => None,
        };
        Steps { k: 0, powers }
    }

    /// The steps of `optimizer` after `taken` updates already taken (Adam's
    /// `t`): the next is number taken + 1. βᵗ is one power, exact while it
    /// is small enough, so a large t costs no more than a small one.
    pub fn after(optimizer: &Optimizer, taken: u32) -> Steps {
        let mut steps = Steps::new(optimizer);
        steps.k = taken;
        if let Some(powers) = steps.powers.as_mut() {
            for p in powers.iter_mut() {
                if let Power::Exact { n, d, nk, dk } = p {
                    if d.bits().saturating_mul(u64::from(taken)) > EXACT_POWER_BITS {
                        let beta = n.to_f64().unwrap_or(f64::NAN) / d.to_f64().unwrap_or(f64::NAN);
                        *p = Power::Float { beta };
                    } else {
                        *nk = n.pow(taken);
                        *dk = d.pow(taken);
                    }
                }
            }
        }
        steps
    }

    /// The first step of `train`'s run: update number `t` + 1.
    pub fn first_of(train: &Train) -> Step {
        Steps::after(&train.optimizer, train.taken).advance()
    }

    /// The first step of `optimizer`.
    pub fn first(optimizer: &Optimizer) -> Step {
        Steps::new(optimizer).advance()
    }

    fn advance(&mut self) -> Step {
        self.k += 1;
        let k = self.k;
        let corrections = self.powers.as_mut().map(|powers| {
            powers.iter_mut().for_each(Power::advance);
            [powers[0].correction(k), powers[1].correction(k)]
        });
        Step { k, corrections }
    }
}

/// Every step, up to the last one a `u32` counts.
impl Iterator for Steps {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        (self.k < u32::MAX).then(|| self.advance())
    }
}

/// `m / (1 − βᵏ)`. An f64 correction only comes past [`EXACT_POWER_BITS`],
/// where the exact quotient of a nonzero exact m would pass the size cap
/// and continue in f64 (so it is computed in f64 and marked so), and the
/// quotient of an exact zero is that zero.
fn correct(m: &Tensor, correction: &Tensor) -> Result<Tensor, NumericError> {
    match (m.data(), correction.is_exact()) {
        (Data::Exact(v), false) if v.iter().all(Zero::is_zero) => Ok(m.clone()),
        (Data::Exact(_), false) => Ok(m.to_float().div(correction)?.with_capped(true)),
        _ => m.div(correction),
    }
}

/// The kept quantities `param` starts from, in the order of
/// [`Optimizer::quantities`], when the file gives any (`velocity = v0`):
/// the tensors it names, read by `value`, and zeros of the gradient's shape
/// for those it leaves out. `None` when all start at zero.
pub fn initial_state(
    train: &Train,
    param: TensorId,
    grad: &Tensor,
    value: impl Fn(TensorId) -> Option<Tensor>,
) -> Option<Vec<Tensor>> {
    let given: Vec<Option<TensorId>> = train.optimizer.kept().map(|q| train.initial(param, q)).collect();
    given
        .iter()
        .any(Option::is_some)
        .then(|| given.iter().map(|id| id.and_then(&value).unwrap_or_else(|| grad.zeros_like())).collect())
}

/// The result of one step for one parameter.
#[derive(Clone, Debug)]
pub struct Update {
    /// The parameter after the step.
    pub value: Tensor,
    /// The optimizer's quantities at this step, in the order of
    /// [`Optimizer::quantities`].
    pub quantities: Vec<Tensor>,
    /// When a square root of exact values was not a fraction, so that the
    /// step left exact arithmetic: the quantity whose root it was (Adam's
    /// v̂), which the writers print as the rule writes its root (`√v̂`).
    pub inexact_root: Option<Quantity>,
}

/// Step `step` (of [`Steps`] for this optimizer) of `optimizer` with
/// learning rate `lr` on a parameter whose gradient at its current value is
/// `grad`; `previous` are the quantities of step k − 1 (`None` at the first
/// step, where the kept ones start at zero).
pub fn update(
    optimizer: &Optimizer,
    lr: &BigRational,
    step: &Step,
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
            Ok(Update { value, quantities: vec![s], inexact_root: inexact.then_some(Quantity::SquareMean) })
        }
        Optimizer::Adam { beta1, beta2, eps } => {
            // m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g ⊙ g
            let m = c(beta1).mul(&before(0))?.add(&c(&(&one - beta1)).mul(grad)?)?;
            let v = c(beta2).mul(&before(1))?.add(&c(&(&one - beta2)).mul(&grad.mul(grad)?)?)?;
            // m̂ = m / (1 − β₁ᵏ);  v̂ = v / (1 − β₂ᵏ)
            // A step made by `Steps` for Adam has them (a bug otherwise).
            let Some([c1, c2]) = &step.corrections else {
                return Err(Tensor::shape_error("an Adam step without its bias corrections".into()));
            };
            let m_hat = correct(&m, c1)?;
            let v_hat = correct(&v, c2)?;
            // P ← P − α m̂ ⊘ (√v̂ + ε)
            let (root, inexact) = sqrt(&v_hat)?;
            let value = param.sub(&alpha.mul(&m_hat.div(&root.add(&c(eps))?)?)?)?;
            Ok(Update {
                value,
                quantities: vec![m, v, m_hat, v_hat],
                inexact_root: inexact.then_some(Quantity::SecondMomentCorrected),
            })
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
        let u = update(&adam, &q(1, 10), &Steps::first(&adam), &p, &g, None).unwrap();
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

    fn scalar(t: &Tensor) -> f64 {
        t.to_f64_vec()[0]
    }

    /// The running powers give 1 − βᵏ exactly, as a reduced fraction,
    /// while they are exact, and the f64 of it after, against βᵏ computed
    /// on its own for each k.
    #[test]
    fn bias_corrections_match_powers_computed_afresh() {
        let adam = Optimizer::Adam { beta1: q(9, 10), beta2: q(999, 1000), eps: q(1, 100_000_000) };
        let mut exact_steps = 0;
        for step in Steps::new(&adam).take(3000) {
            let [c1, c2] = step.corrections.clone().unwrap();
            for (c, (n, d)) in [(c1, (9u32, 10u32)), (c2, (999, 1000))] {
                // (dᵏ − nᵏ)/dᵏ from powers taken afresh; in lowest terms, as
                // n and d are coprime.
                let dk = BigInt::from(d).pow(step.k);
                let numer = &dk - BigInt::from(n).pow(step.k);
                match c.data() {
                    Data::Exact(v) => {
                        exact_steps += 1;
                        assert_eq!((v[0].numer(), v[0].denom()), (&numer, &dk), "step {}", step.k);
                    }
                    _ => {
                        let want = BigRational::new_raw(numer, dk).to_f64().unwrap();
                        assert!(
                            (scalar(&c) - want).abs() <= 1e-13 * want,
                            "step {}: {} against {want}",
                            step.k,
                            scalar(&c)
                        );
                    }
                }
            }
        }
        // β₂ = 999/1000 leaves exact arithmetic after about 830 steps, β₁ = 9/10 after about 2 500.
        assert!((3000..6000).contains(&exact_steps), "{exact_steps} exact corrections");
    }

    /// After t updates the next step is t + 1, with 1 − βᵗ⁺¹ exact while
    /// it is small and in f64 past the exact powers (t = 10⁶ costs one power).
    #[test]
    fn steps_after_t_updates_count_from_t_plus_one() {
        let adam = Optimizer::Adam { beta1: q(9, 10), beta2: q(999, 1000), eps: q(1, 100_000_000) };
        let step = Steps::after(&adam, 5).next().unwrap();
        assert_eq!(step.k, 6);
        let [c1, c2] = step.corrections.unwrap();
        let want = |n: i64, d: i64| BigRational::from_integer(1.into()) - q(n, d).pow(6);
        assert_eq!(c1, Tensor::scalar_exact(want(9, 10)));
        assert_eq!(c2, Tensor::scalar_exact(want(999, 1000)));
        let far = Steps::after(&adam, 1_000_000).nth(1).unwrap();
        assert_eq!(far.k, 1_000_002);
        let [c1, c2] = far.corrections.unwrap();
        assert!(!c1.is_exact() && (scalar(&c1) - 1.0).abs() < 1e-15);
        assert!((scalar(&c2) - (1.0 - 0.999f64.powi(1_000_002))).abs() < 1e-15);
    }

    /// A gradient that stays 0 keeps m̂, v̂ and the parameter exact zeros
    /// past the steps where the corrections turn f64.
    #[test]
    fn zero_moments_stay_exact_past_the_exact_corrections() {
        let adam = Optimizer::Adam { beta1: q(9, 10), beta2: q(999, 1000), eps: q(1, 100_000_000) };
        let zero = Tensor::exact(vec![1], vec![q(0, 1)]);
        let mut previous: Option<Vec<Tensor>> = None;
        let mut value = zero.clone();
        for step in Steps::new(&adam).take(1200) {
            let u = update(&adam, &q(1, 10), &step, &value, &zero, previous.as_deref()).unwrap();
            assert!(u.quantities.iter().all(Tensor::is_exact) && u.value.is_exact(), "step {}", step.k);
            value = u.value;
            previous = Some(u.quantities);
        }
        assert_eq!(value, zero);
        assert!(!value.capped());
    }
}
