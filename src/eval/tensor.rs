//! Dense tensors of any rank whose entries are either all exact rationals or
//! all f64. Exactness is a property of the whole tensor: a value is exact
//! until a transcendental function (or an exact value grown past
//! [`EXACT_BITS_CAP`]) turns it into f64, and mixing exact with f64 gives f64.
//!
//! Shapes follow `model::shape`: `[]` scalar, `[n]` a column (n×1), `[m, n]`
//! a matrix. Every failure (log of 0, division by 0, overflow, NaN) is an
//! error naming the entry, never a silent NaN or inf.

use std::cell::OnceCell;
use std::fmt;

use num_bigint::{BigInt, BigUint, Sign};
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

pub use crate::rational::EXACT_BITS_CAP;

/// Tensors of more entries than this are computed in f64 from the start: an
/// exact entry takes about 100 bytes, so an exact tensor of 2^20 entries
/// already takes over 100 MB, and 16 million of them would take gigabytes.
/// The output says which values this applies to.
pub const EXACT_ENTRIES_CAP: usize = 1 << 20;

/// The entries of a tensor.
#[derive(Clone, Debug)]
pub enum Data {
    Exact(Vec<BigRational>),
    Float(Vec<f64>),
    /// Expressions in the entries the file leaves open (see [`super::symbolic`]);
    /// at least one entry is not a number.
    Symbolic(Vec<Sym>),
}

/// Entry by entry, exact entries without recursion (see [`crate::rational`]).
impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        match (self, other) {
            (Data::Exact(a), Data::Exact(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| rational::eq(x, y)),
            (Data::Float(a), Data::Float(b)) => a == b,
            (Data::Symbolic(a), Data::Symbolic(b)) => a == b,
            (Data::Exact(_) | Data::Float(_) | Data::Symbolic(_), _) => false,
        }
    }
}

/// A dense, row-major tensor.
#[derive(Clone)]
pub struct Tensor {
    dims: Vec<usize>,
    data: Data,
    /// Set when exact arithmetic gave up because of [`EXACT_BITS_CAP`].
    capped: bool,
    /// The entries of exact data as f64, made the first time an f64
    /// operation reads them (see [`Tensor::float_view`]): a given weight
    /// matrix meets f64 activations in the forward pass, in `Wᵀ δ` and in
    /// the update, and is converted once rather than at each. A tensor's
    /// entries never change after it is made, so this is never stale.
    float: OnceCell<Vec<f64>>,
}

/// Equal dims, entries and cap: the f64 cache is a copy of the entries.
impl PartialEq for Tensor {
    fn eq(&self, other: &Tensor) -> bool {
        self.dims == other.dims && self.data == other.data && self.capped == other.capped
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("dims", &self.dims)
            .field("data", &self.data)
            .field("capped", &self.capped)
            .finish()
    }
}

/// What went wrong in some entry.
#[derive(Clone, Debug, PartialEq)]
pub enum NumericErrorKind {
    DivisionByZero,
    /// The value whose log was asked for.
    LogOfNonPositive(f64),
    /// The value whose square root was asked for.
    SqrtOfNegative(f64),
    /// A negative base to a power that is not a whole number (`x ^ 0.5`
    /// with x = −8): no real result.
    PowerOfNegative {
        base: f64,
        exponent: f64,
    },
    Overflow,
    NotANumber,
    /// A target entry of cross-entropy below 0, or of bce outside [0, 1].
    TargetOutOfRange {
        value: f64,
        at_most_one: bool,
    },
    /// A class label that is not a whole number from 0 to `classes` − 1.
    NotAClass {
        value: f64,
        classes: usize,
    },
    /// Shapes that the checker should have refused.
    Shape(String),
    /// An operation computed on numbers only met an entry left open.
    Unknowns {
        operation: &'static str,
    },
}

/// A numeric failure at one entry.
#[derive(Clone, Debug, PartialEq)]
pub struct NumericError {
    pub kind: NumericErrorKind,
    /// Multi-index of the entry (empty for a scalar).
    pub index: Vec<usize>,
}

impl fmt::Display for NumericError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            NumericErrorKind::DivisionByZero => "division by zero".to_string(),
            NumericErrorKind::LogOfNonPositive(x) => format!("log of {x}"),
            NumericErrorKind::SqrtOfNegative(x) => format!("square root of {x}"),
            NumericErrorKind::PowerOfNegative { base, exponent } => format!("{base} to the power {exponent}"),
            NumericErrorKind::Overflow => "the value overflows f64".to_string(),
            NumericErrorKind::NotANumber => "the result is not a number".to_string(),
            NumericErrorKind::TargetOutOfRange { value, at_most_one } => {
                let outside = if *at_most_one { "outside [0, 1]" } else { "below 0" };
                let idx: Vec<String> = self.index.iter().map(|i| i.to_string()).collect();
                return write!(f, "the target's entry [{}] is {value}, {outside}", idx.join(", "));
            }
            NumericErrorKind::NotAClass { value, classes } => {
                format!("the class label {value} is not a whole number from 0 to {}", classes.saturating_sub(1))
            }
            NumericErrorKind::Shape(s) => return write!(f, "shape error: {s}"),
            NumericErrorKind::Unknowns { operation } => {
                return write!(f, "{operation} is computed on numbers only, and an operand has entries left open")
            }
        };
        if self.index.is_empty() {
            write!(f, "{what}")
        } else {
            let idx: Vec<String> = self.index.iter().map(|i| i.to_string()).collect();
            write!(f, "{what} at entry [{}]", idx.join(", "))
        }
    }
}

// The elementwise built-ins are the model's table; their numeric rules are here.
use crate::model::{Elementwise, Shape};

use super::exact::{self, Factored};
use super::symbolic::{self, Num, Poly, Sym, Unknown};
use crate::rational;

/// The exact value of a rational built-in (relu, step, sign, abs, softsign;
/// with its second argument `y`, leaky_relu, max and min; on a tie `max` and
/// `min` take the first, the same value); `None` for the others, which are
/// computed in f64, and for a call with the wrong number of arguments.
/// Every built-in is listed once, so that a new one is placed here by the
/// compiler.
fn exact_of(f: Elementwise, x: &BigRational, y: Option<&BigRational>) -> Option<BigRational> {
    Some(match (f, y) {
        (Elementwise::Relu, None) if x.is_positive() => x.clone(),
        (Elementwise::Relu, None) => BigRational::zero(),
        (Elementwise::Step, None) if x.is_positive() => BigRational::one(),
        (Elementwise::Step, None) => BigRational::zero(),
        (Elementwise::Sign, None) => x.signum(),
        (Elementwise::Abs, None) => x.abs(),
        (Elementwise::Softsign, None) => x / (BigRational::one() + x.abs()),
        (Elementwise::LeakyRelu, Some(_)) if x.is_positive() => x.clone(),
        (Elementwise::LeakyRelu, Some(a)) => x * a,
        // Without recursion (see `crate::rational`); a tie takes x.
        (Elementwise::Max, Some(y)) => rational::max(x, y).clone(),
        (Elementwise::Min, Some(y)) => rational::min(x, y).clone(),
        (
            Elementwise::Relu | Elementwise::Step | Elementwise::Sign | Elementwise::Abs | Elementwise::Softsign,
            Some(_),
        )
        | (Elementwise::LeakyRelu | Elementwise::Max | Elementwise::Min, None)
        | (
            Elementwise::Sigmoid
            | Elementwise::Tanh
            | Elementwise::Sin
            | Elementwise::Cos
            | Elementwise::Exp
            | Elementwise::Log
            | Elementwise::Sqrt
            | Elementwise::Softplus
            | Elementwise::Elu
            | Elementwise::Gelu
            | Elementwise::NormCdf
            | Elementwise::NormPdf,
            _,
        ) => return None,
    })
}

/// The standard normal CDF Φ(x) = (1 + erf(x/√2))/2, to about 1e-15.
///
/// For |x| < 6 from the series erf(z) = 2/√π · e^(−z²) Σ 2ⁿ z^(2n+1) / (1·3·…·(2n+1)),
/// whose terms are all positive (no cancellation); beyond, Φ is 0 or 1 to
/// within 1e-9 relative to the density, and the continued fraction for the
/// tail (Laplace) gives the small side.
fn normal_cdf(x: f64) -> f64 {
    if x.abs() < 6.0 {
        let z = x / std::f64::consts::SQRT_2;
        let z2 = z * z;
        let (mut term, mut sum, mut n) = (z, z, 0.0);
        while term.abs() > 1e-17 * sum.abs() && n < 500.0 {
            n += 1.0;
            term *= 2.0 * z2 / (2.0 * n + 1.0);
            sum += term;
        }
        let erf = 2.0 / std::f64::consts::PI.sqrt() * (-z2).exp() * sum;
        return 0.5 * (1.0 + erf);
    }
    // Tail: 1 − Φ(|x|) = φ(|x|) / (|x| + 1/(|x| + 2/(|x| + 3/(|x| + …)))).
    let a = x.abs();
    let mut fraction = a;
    for k in (1..=40).rev() {
        fraction = a + f64::from(k) / fraction;
    }
    let tail = normal_pdf(a) / fraction;
    if x > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The standard normal density φ(x) = exp(−x²/2)/√(2π).
fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// σ(x); the two branches keep exp from overflowing for large |x|.
pub(super) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// log(1 + eˣ) without overflow: max(x, 0) + log(1 + e^(−|x|)).
pub(super) fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// The f64 value (with the second argument `y` of leaky_relu, max and
/// min), or what is wrong with the arguments.
fn float_of(f: Elementwise, x: f64, y: Option<f64>) -> Result<f64, NumericErrorKind> {
    let v = match (f, y) {
        (Elementwise::Relu, None) => x.max(0.0),
        (Elementwise::Step, None) => f64::from(u8::from(x > 0.0)),
        (Elementwise::Sign, None) => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        (Elementwise::Abs, None) => x.abs(),
        (Elementwise::Sigmoid, None) => sigmoid(x),
        (Elementwise::Tanh, None) => x.tanh(),
        (Elementwise::Sin, None) => x.sin(),
        (Elementwise::Cos, None) => x.cos(),
        (Elementwise::Exp, None) => x.exp(),
        (Elementwise::Log, None) => {
            if x <= 0.0 {
                return Err(NumericErrorKind::LogOfNonPositive(x));
            }
            x.ln()
        }
        (Elementwise::Sqrt, None) => {
            if x < 0.0 {
                return Err(NumericErrorKind::SqrtOfNegative(x));
            }
            x.sqrt()
        }
        (Elementwise::Softplus, None) => softplus(x),
        (Elementwise::Elu, None) => {
            if x > 0.0 {
                x
            } else {
                x.exp_m1()
            }
        }
        (Elementwise::Gelu, None) => x * normal_cdf(x),
        (Elementwise::NormCdf, None) => normal_cdf(x),
        (Elementwise::NormPdf, None) => normal_pdf(x),
        (Elementwise::Softsign, None) => x / (1.0 + x.abs()),
        (Elementwise::LeakyRelu, Some(_)) if x > 0.0 => x,
        (Elementwise::LeakyRelu, Some(a)) => x * a,
        (Elementwise::Max, Some(y)) if y > x => y,
        (Elementwise::Min, Some(y)) if y < x => y,
        (Elementwise::Max | Elementwise::Min, Some(_)) => x,
        // The checker gives each call its arity; these are never reached.
        (Elementwise::LeakyRelu | Elementwise::Max | Elementwise::Min, None) => {
            return Err(NumericErrorKind::Shape(format!("{} takes two arguments", f.name())))
        }
        (
            Elementwise::Relu
            | Elementwise::Step
            | Elementwise::Sign
            | Elementwise::Abs
            | Elementwise::Sigmoid
            | Elementwise::Tanh
            | Elementwise::Sin
            | Elementwise::Cos
            | Elementwise::Exp
            | Elementwise::Log
            | Elementwise::Sqrt
            | Elementwise::Softplus
            | Elementwise::Elu
            | Elementwise::Gelu
            | Elementwise::NormCdf
            | Elementwise::NormPdf
            | Elementwise::Softsign,
            Some(_),
        ) => return Err(NumericErrorKind::Shape(format!("{} takes one argument", f.name()))),
    };
    finite(v)
}

/// A built-in function of expressions: its value when every argument is a
/// number, else the call itself as a variable.
fn apply_sym(f: Elementwise, args: &[&Poly]) -> Result<Poly, NumericErrorKind> {
    let constants: Option<Vec<Num>> = args.iter().map(|p| p.as_constant()).collect();
    let Some(c) = constants else {
        return Ok(Poly::atom(symbolic::Atom::Call(f, args.iter().map(|p| (*p).clone()).collect())));
    };
    let exact = match c.as_slice() {
        [Num::Exact(x)] => exact_of(f, x, None),
        [Num::Exact(x), Num::Exact(y)] => exact_of(f, x, Some(y)),
        _ => None,
    };
    let value = match (exact, c.as_slice()) {
        (Some(r), _) => Num::Exact(r),
        (None, [x]) => Num::Float(float_of(f, x.to_f64(), None)?),
        (None, [x, y]) => Num::Float(float_of(f, x.to_f64(), Some(y.to_f64()))?),
        _ => return Err(NumericErrorKind::Shape(format!("{} takes one or two arguments", f.name()))),
    };
    Ok(Poly::constant(value))
}

/// [`Tensor::substitute`] on one expression. Its depth is at most its
/// size, which [`symbolic::SIZE_LIMIT`] bounds.
fn substitute_poly(p: &Poly, value: &dyn Fn(&Unknown) -> Option<Num>) -> Result<Poly, NumericErrorKind> {
    let mut out = Poly::default();
    for (m, c) in p.terms() {
        let mut term = Poly::constant(c.clone());
        for (atom, e) in m {
            let base = match atom {
                symbolic::Atom::Unknown(u) => match value(u) {
                    Some(n) => Poly::constant(n),
                    None => Poly::unknown(u.clone()),
                },
                symbolic::Atom::Call(f, args) => {
                    let args: Vec<Poly> = args.iter().map(|a| substitute_poly(a, value)).collect::<Result<_, _>>()?;
                    apply_sym(*f, &args.iter().collect::<Vec<_>>())?
                }
                symbolic::Atom::Recip(q) => {
                    substitute_poly(q, value)?.recip().ok_or(NumericErrorKind::DivisionByZero)?
                }
                symbolic::Atom::Power(q, k) => {
                    let q = substitute_poly(q, value)?;
                    match q.as_constant() {
                        Some(c) => Poly::constant(numeric_pow(&c, k)?),
                        None => symbolic::power(&q, k).ok_or(NumericErrorKind::DivisionByZero)?,
                    }
                }
            };
            let power = base.pow_int(i64::from(*e)).ok_or(NumericErrorKind::DivisionByZero)?;
            term = term.mul(&power);
        }
        out = out.add(&term);
    }
    Ok(out)
}

/// `c^e` for one number, as `Tensor::pow` computes it.
fn numeric_pow(c: &Num, e: &BigRational) -> Result<Num, NumericErrorKind> {
    let t = match c {
        Num::Exact(r) => Tensor::exact(Vec::new(), vec![r.clone()]),
        Num::Float(x) => Tensor::float(Vec::new(), vec![*x]),
    };
    let p = t.pow(e).map_err(|err| err.kind)?;
    Ok(match p.data {
        Data::Exact(v) => Num::Exact(v.into_iter().next().unwrap_or_default()),
        Data::Float(v) => Num::Float(v.first().copied().unwrap_or(0.0)),
        Data::Symbolic(_) => return Err(NumericErrorKind::Shape("a power of a number is a number".into())),
    })
}

fn finite(v: f64) -> Result<f64, NumericErrorKind> {
    if v.is_nan() {
        Err(NumericErrorKind::NotANumber)
    } else if v.is_infinite() {
        Err(NumericErrorKind::Overflow)
    } else {
        Ok(v)
    }
}

/// The f64 nearest a decimal as written. A mantissa and a power of ten that
/// f64 holds exactly (|m| ≤ 2^53, 10^k for k ≤ 22) give the correctly
/// rounded value in one multiplication or division, without a fraction.
pub fn decimal_to_f64(d: &crate::syntax::ast::Decimal) -> f64 {
    use crate::syntax::ast::Decimal;
    const POWERS: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ];
    if let Decimal::Small { mantissa, exponent } = *d {
        let power = POWERS.get(exponent.unsigned_abs() as usize).copied();
        if let (true, Some(power)) = (mantissa.unsigned_abs() <= 1 << 53, power) {
            let m = mantissa as f64;
            return if exponent >= 0 { m * power } else { m / power };
        }
    }
    rational_to_f64(&d.to_rational())
}

/// The f64 nearest a rational (to within an ulp), also when its numerator and
/// denominator are each far beyond f64's range; ±inf only when the value is.
pub fn rational_to_f64(r: &BigRational) -> f64 {
    // The common case (literals such as 37/100): both parts exact in f64,
    // so one IEEE division is the correctly rounded quotient, the same
    // value num-rational's conversion gives, without its big-integer shifts.
    const EXACT: u64 = 1 << 53;
    if let (Some(n), Some(d)) = (r.numer().to_i64(), r.denom().to_u64()) {
        if n.unsigned_abs() <= EXACT && d <= EXACT {
            return n as f64 / d as f64;
        }
    }
    if let Some(f) = r.to_f64() {
        if f.is_finite() && (f != 0.0 || r.is_zero()) {
            return f;
        }
    }
    // Take the leading 64 or so bits of |numer| / denom as an integer, then
    // scale by the power of two that was shifted away.
    let numer = r.numer().abs();
    let denom = r.denom();
    let shift: i64 = 64 - (numer.bits() as i64 - denom.bits() as i64);
    let q = if shift >= 0 { (numer << shift as usize) / denom } else { numer / (denom << (-shift) as usize) };
    let mut v = q.to_f64().unwrap_or(f64::INFINITY);
    let mut e = -shift;
    while e != 0 && v != 0.0 && v.is_finite() {
        let step = e.clamp(-1000, 1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    if r.is_negative() {
        -v
    } else {
        v
    }
}

use crate::rational::bits;

impl Tensor {
    /// An exact tensor; `data` is row-major and must have `dims.product()` entries.
    pub fn exact(dims: Vec<usize>, data: Vec<BigRational>) -> Tensor {
        Tensor { dims, data: Data::Exact(data), capped: false, float: OnceCell::new() }
    }

    pub fn float(dims: Vec<usize>, data: Vec<f64>) -> Tensor {
        Tensor { dims, data: Data::Float(data), capped: false, float: OnceCell::new() }
    }

    pub fn scalar_exact(r: BigRational) -> Tensor {
        Tensor::exact(Vec::new(), vec![r])
    }

    /// The value of a declared tensor left open: one unknown per entry.
    pub fn unknown(order: u32, name: &str, dims: Vec<usize>) -> Tensor {
        let name: std::rc::Rc<str> = name.into();
        let n = dims.iter().product::<usize>();
        let shape = Tensor { dims: dims.clone(), data: Data::Float(Vec::new()), capped: false, float: OnceCell::new() };
        let data = (0..n)
            .map(|i| Sym::Poly(Poly::unknown(Unknown { order, name: name.clone(), index: shape.index_of(i) })))
            .collect();
        Tensor { dims, data: Data::Symbolic(data), capped: false, float: OnceCell::new() }
    }

    /// A tensor of expressions; back to numbers when every entry is one.
    pub fn symbolic(dims: Vec<usize>, data: Vec<Sym>) -> Result<Tensor, NumericError> {
        let constants: Option<Vec<Num>> = data.iter().map(Sym::as_constant).collect();
        let Some(constants) = constants else {
            return Ok(Tensor { dims, data: Data::Symbolic(data), capped: false, float: OnceCell::new() });
        };
        if constants.iter().all(|c| matches!(c, Num::Exact(_))) {
            let v = constants.into_iter().map(|c| if let Num::Exact(r) = c { r } else { BigRational::zero() });
            Tensor::settle(dims, v.collect())
        } else {
            Tensor::float_checked(dims, constants.iter().map(Num::to_f64).collect())
        }
    }

    /// True when some entry is an expression in unknowns rather than a number.
    pub fn is_symbolic(&self) -> bool {
        matches!(self.data, Data::Symbolic(_))
    }

    /// The entries as expressions (numbers as constants), owned.
    pub(super) fn sym_entries(&self) -> Vec<Sym> {
        self.sym_view().into_owned()
    }

    /// The entries as expressions (numbers as constants), borrowing when they are.
    pub(super) fn sym_view(&self) -> std::borrow::Cow<'_, [Sym]> {
        match &self.data {
            Data::Symbolic(v) => std::borrow::Cow::Borrowed(v),
            Data::Exact(v) => std::borrow::Cow::Owned(v.iter().map(|r| Sym::constant(Num::Exact(r.clone()))).collect()),
            Data::Float(v) => std::borrow::Cow::Owned(v.iter().map(|x| Sym::constant(Num::Float(*x))).collect()),
        }
    }

    /// Each entry through `op`, as expressions.
    fn map_sym(&self, op: impl Fn(&Poly) -> Result<Poly, NumericErrorKind>) -> Result<Tensor, NumericError> {
        let view = self.sym_view();
        let mut out = Vec::with_capacity(view.len());
        for (i, x) in view.iter().enumerate() {
            out.push(x.map(&op).map_err(|k| self.err(k, i))?);
        }
        Ok(Tensor::symbolic(self.dims.clone(), out)?.with_capped(self.capped))
    }

    /// The value with each unknown that `value` knows replaced by its number
    /// (and every function of numbers computed): substituting `y = e₁` into
    /// an answer with `y` left open gives the answer for `y = e₁`.
    pub fn substitute(&self, value: &dyn Fn(&Unknown) -> Option<Num>) -> Result<Tensor, NumericError> {
        if !self.is_symbolic() {
            return Ok(self.clone());
        }
        self.map_sym(|p| substitute_poly(p, value))
    }

    /// A tensor of exact zeros with this tensor's shape.
    pub fn zeros_like(&self) -> Tensor {
        Tensor::exact(self.dims.clone(), vec![BigRational::zero(); self.len()])
    }

    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    pub fn len(&self) -> usize {
        match &self.data {
            Data::Exact(v) => v.len(),
            Data::Float(v) => v.len(),
            Data::Symbolic(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn data(&self) -> &Data {
        &self.data
    }

    pub fn is_exact(&self) -> bool {
        matches!(self.data, Data::Exact(_))
    }

    /// The same entries laid out in `dims` (row-major order is kept).
    pub fn reshaped(&self, dims: Vec<usize>) -> Tensor {
        Tensor { dims, data: self.data.clone(), capped: self.capped, float: OnceCell::new() }
    }

    /// The `dims.product()` entries from flat index `start`, laid out in `dims`
    /// (one channel of a map, for showing it).
    pub fn slice(&self, start: usize, dims: Vec<usize>) -> Tensor {
        let n: usize = dims.iter().product();
        let end = (start + n).min(self.len());
        let start = start.min(end);
        let data = match &self.data {
            Data::Exact(v) => Data::Exact(v[start..end].to_vec()),
            Data::Float(v) => Data::Float(v[start..end].to_vec()),
            Data::Symbolic(v) => Data::Symbolic(v[start..end].to_vec()),
        };
        Tensor { dims, data, capped: self.capped, float: OnceCell::new() }
    }

    /// Marks a value computed from capped operands as capped too.
    pub(super) fn with_capped(mut self, capped: bool) -> Tensor {
        self.capped |= capped;
        self
    }

    /// True if exact arithmetic gave up on this value (see [`EXACT_BITS_CAP`]).
    pub fn capped(&self) -> bool {
        self.capped
    }

    /// Entry `i` as f64.
    pub fn entry_f64(&self, i: usize) -> f64 {
        match &self.data {
            Data::Exact(v) => v.get(i).map(rational_to_f64).unwrap_or(f64::NAN),
            Data::Float(v) => v.get(i).copied().unwrap_or(f64::NAN),
            // An expression has no single value.
            Data::Symbolic(v) => v.get(i).and_then(Sym::as_constant).map_or(f64::NAN, |c| c.to_f64()),
        }
    }

    pub fn to_f64_vec(&self) -> Vec<f64> {
        (0..self.len()).map(|i| self.entry_f64(i)).collect()
    }

    /// The same values as f64.
    pub fn to_float(&self) -> Tensor {
        Tensor::float(self.dims.clone(), self.to_f64_vec())
    }

    /// A copy in f64 with `delta` added to entry `i` (for finite differences).
    pub fn with_entry_offset(&self, i: usize, delta: f64) -> Tensor {
        let mut v = self.to_f64_vec();
        if let Some(x) = v.get_mut(i) {
            *x += delta;
        }
        Tensor::float(self.dims.clone(), v)
    }

    /// Flat indices of entries that are exactly zero.
    pub fn zero_entries(&self) -> Vec<usize> {
        match &self.data {
            Data::Exact(v) => v.iter().enumerate().filter(|(_, x)| x.is_zero()).map(|(i, _)| i).collect(),
            Data::Float(v) => v.iter().enumerate().filter(|(_, x)| **x == 0.0).map(|(i, _)| i).collect(),
            Data::Symbolic(v) => v
                .iter()
                .enumerate()
                .filter(|(_, x)| x.as_constant().is_some_and(|c| c.is_zero()))
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// The multi-index of flat entry `i`.
    pub fn index_of(&self, i: usize) -> Vec<usize> {
        Shape::index_of(&self.dims, i)
    }

    fn err(&self, kind: NumericErrorKind, flat: usize) -> NumericError {
        NumericError { kind, index: self.index_of(flat) }
    }

    pub(super) fn shape_error(msg: String) -> NumericError {
        NumericError { kind: NumericErrorKind::Shape(msg), index: Vec::new() }
    }

    /// Keeps exact results under the size cap, switching to f64 past it.
    pub(super) fn settle(dims: Vec<usize>, data: Vec<BigRational>) -> Result<Tensor, NumericError> {
        if data.iter().any(|r| bits(r) > EXACT_BITS_CAP) {
            let t = Tensor::exact(dims, data);
            let mut f = t.to_float();
            for (i, x) in f.to_f64_vec().iter().enumerate() {
                finite(*x).map_err(|k| f.err(k, i))?;
            }
            f.capped = true;
            return Ok(f);
        }
        Ok(Tensor::exact(dims, data))
    }

    pub(super) fn float_checked(dims: Vec<usize>, data: Vec<f64>) -> Result<Tensor, NumericError> {
        let t = Tensor::float(dims, data);
        if let Data::Float(v) = &t.data {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                let kind = if v[i].is_nan() { NumericErrorKind::NotANumber } else { NumericErrorKind::Overflow };
                return Err(t.err(kind, i));
            }
        }
        Ok(t)
    }

    /// How many entries of `map` each entry of `vector` covers when a vector
    /// `[F]` is spread over a map `[F, H, W, ...]` (see `Shape::broadcasts_over`).
    fn spread(vector: &[usize], map: &[usize]) -> Option<usize> {
        match (vector, map) {
            ([f], [g, rest @ ..]) if f == g && rest.len() >= 2 => Some(rest.iter().product::<usize>().max(1)),
            _ => None,
        }
    }

    /// Elementwise binary operation, the operands broadcast as the model's
    /// shape rule says (`Shape::broadcast`): a scalar, a column or row
    /// stretched over a matrix, a vector spread over a map.
    fn zip(
        &self,
        other: &Tensor,
        exact: impl Fn(&BigRational, &BigRational) -> Result<BigRational, NumericErrorKind>,
        float: impl Fn(f64, f64) -> f64,
        sym: impl Fn(&Poly, &Poly) -> Result<Poly, NumericErrorKind>,
    ) -> Result<Tensor, NumericError> {
        let out = Shape(self.dims.clone()).broadcast(&Shape(other.dims.clone()));
        let readers =
            out.as_ref().and_then(|o| Some((Reader::new(&self.dims, o.dims())?, Reader::new(&other.dims, o.dims())?)));
        let (Some(out), Some((ra, rb))) = (out, readers) else {
            return Err(Tensor::shape_error(format!("{:?} and {:?} differ", self.dims, other.dims)));
        };
        let dims = out.0;
        let n: usize = dims.iter().product();
        let capped = self.capped || other.capped;
        let mut out = match (&self.data, &other.data) {
            (Data::Exact(a), Data::Exact(b)) => {
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    let x = exact(&a[ra.index(i)], &b[rb.index(i)])
                        .map_err(|k| NumericError { kind: k, index: Shape::index_of(&dims, i) })?;
                    v.push(x);
                }
                Tensor::settle(dims, v)?
            }
            (Data::Symbolic(_), _) | (_, Data::Symbolic(_)) => {
                let (a, b) = (self.sym_view(), other.sym_view());
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    let x = a[ra.index(i)]
                        .zip(&b[rb.index(i)], &sym)
                        .map_err(|k| NumericError { kind: k, index: Shape::index_of(&dims, i) })?;
                    v.push(x);
                }
                Tensor::symbolic(dims, v)?
            }
            _ => {
                let a = self.float_view();
                let b = other.float_view();
                let v: Vec<f64> = match (ra, rb) {
                    // Equal shapes, the common case, in one pass the compiler can vectorise.
                    (Reader::Same, Reader::Same) => a.iter().zip(b.iter()).map(|(x, y)| float(*x, *y)).collect(),
                    _ => (0..n).map(|i| float(a[ra.index(i)], b[rb.index(i)])).collect(),
                };
                Tensor::float_checked(dims, v)?
            }
        };
        out.capped |= capped;
        Ok(out)
    }

    /// The entries as f64, borrowing when they already are; exact entries
    /// are converted once per tensor and kept in its `float` cache.
    pub(super) fn float_view(&self) -> std::borrow::Cow<'_, [f64]> {
        match &self.data {
            Data::Float(v) => std::borrow::Cow::Borrowed(v),
            Data::Exact(_) => std::borrow::Cow::Borrowed(self.float.get_or_init(|| self.to_f64_vec())),
            Data::Symbolic(_) => std::borrow::Cow::Owned(self.to_f64_vec()),
        }
    }

    pub fn add(&self, other: &Tensor) -> Result<Tensor, NumericError> {
        self.zip(other, |a, b| Ok(exact::add(a, b)), |a, b| a + b, |a, b| Ok(a.add(b)))
    }

    pub fn sub(&self, other: &Tensor) -> Result<Tensor, NumericError> {
        self.zip(other, |a, b| Ok(exact::sub(a, b)), |a, b| a - b, |a, b| Ok(a.sub(b)))
    }

    pub fn mul(&self, other: &Tensor) -> Result<Tensor, NumericError> {
        self.zip(other, |a, b| Ok(exact::mul(a, b)), |a, b| a * b, |a, b| Ok(a.mul(b)))
    }

    pub fn div(&self, other: &Tensor) -> Result<Tensor, NumericError> {
        // Division by an exact or f64 zero is an error, not an infinity.
        if let Some(i) = other.zero_entries().first() {
            let flat = if other.len() == 1 { 0 } else { *i };
            let dims = if other.dims.is_empty() { self.dims.clone() } else { other.dims.clone() };
            return Err(NumericError { kind: NumericErrorKind::DivisionByZero, index: Shape::index_of(&dims, flat) });
        }
        self.zip(
            other,
            |a, b| Ok(exact::div(a, b)),
            |a, b| a / b,
            |a, b| b.recip().map(|r| a.mul(&r)).ok_or(NumericErrorKind::DivisionByZero),
        )
    }

    pub fn neg(&self) -> Tensor {
        let data = match &self.data {
            Data::Exact(v) => Data::Exact(v.iter().map(|x| -x).collect()),
            Data::Float(v) => Data::Float(v.iter().map(|x| -x).collect()),
            Data::Symbolic(v) => {
                Data::Symbolic(v.iter().map(|x| x.map(|p| Ok::<_, ()>(p.neg())).unwrap_or(Sym::TooLarge)).collect())
            }
        };
        Tensor { dims: self.dims.clone(), data, capped: self.capped, float: OnceCell::new() }
    }

    /// Elementwise power: exact for an integer exponent of an exact tensor.
    pub fn pow(&self, e: &BigRational) -> Result<Tensor, NumericError> {
        if self.is_symbolic() {
            return self.map_sym(|p| match p.as_constant() {
                Some(c) => numeric_pow(&c, e).map(Poly::constant),
                None => symbolic::power(p, e).ok_or(NumericErrorKind::DivisionByZero),
            });
        }
        // Past the size cap the exact power would only be converted to f64,
        // after costing about the square of its length (a 1000-digit value
        // to the 1000th power took minutes): its f64 value comes directly.
        let too_long =
            |v: &[BigRational], k: u32| v.iter().any(|x| bits(x).saturating_mul(u64::from(k)) > EXACT_BITS_CAP);
        let mut capped = self.capped;
        if let (Data::Exact(v), true) = (&self.data, e.is_integer()) {
            let k = e.to_integer().to_i32().filter(|k| k.unsigned_abs() <= 1024);
            capped |= k.is_some_and(|k| too_long(v, k.unsigned_abs()));
            if let Some(k) = k.filter(|k| !too_long(v, k.unsigned_abs())) {
                let mut out = Vec::with_capacity(v.len());
                for (i, x) in v.iter().enumerate() {
                    if k < 0 && x.is_zero() {
                        return Err(self.err(NumericErrorKind::DivisionByZero, i));
                    }
                    let p = num_traits::pow(x.clone(), k.unsigned_abs() as usize);
                    out.push(if k < 0 { p.recip() } else { p });
                }
                let mut t = Tensor::settle(self.dims.clone(), out)?;
                t.capped |= self.capped;
                return Ok(t);
            }
        }
        let ef = rational_to_f64(e);
        let v: Vec<f64> = self.float_view().iter().map(|x| x.powf(ef)).collect();
        for (i, (x, y)) in self.float_view().iter().zip(&v).enumerate() {
            if *x == 0.0 && ef < 0.0 {
                return Err(self.err(NumericErrorKind::DivisionByZero, i));
            }
            if *x < 0.0 && ef.fract() != 0.0 {
                return Err(self.err(NumericErrorKind::PowerOfNegative { base: *x, exponent: ef }, i));
            }
            finite(*y).map_err(|k| self.err(k, i))?;
        }
        Ok(Tensor { dims: self.dims.clone(), data: Data::Float(v), capped, float: OnceCell::new() })
    }

    /// Each entry's f64 through `f`, a kernel that cannot fail itself,
    /// checked finite.
    pub(super) fn map_float(&self, f: impl Fn(f64) -> f64) -> Result<Tensor, NumericError> {
        let v = self.float_view().iter().map(|x| f(*x)).collect();
        Ok(Tensor::float_checked(self.dims.clone(), v)?.with_capped(self.capped))
    }

    /// Applies an elementwise function.
    pub fn map(&self, f: Elementwise) -> Result<Tensor, NumericError> {
        if self.is_symbolic() {
            return self.map_sym(|p| apply_sym(f, &[p]));
        }
        let exact = match &self.data {
            Data::Exact(v) => v.iter().map(|x| exact_of(f, x, None)).collect::<Option<Vec<_>>>(),
            _ => None,
        };
        match exact {
            Some(v) => Ok(Tensor {
                dims: self.dims.clone(),
                data: Data::Exact(v),
                capped: self.capped,
                float: OnceCell::new(),
            }),
            None => {
                let view = self.float_view();
                let mut out = Vec::with_capacity(view.len());
                for (i, x) in view.iter().enumerate() {
                    out.push(float_of(f, *x, None).map_err(|k| self.err(k, i))?);
                }
                Ok(Tensor {
                    dims: self.dims.clone(),
                    data: Data::Float(out),
                    capped: self.capped,
                    float: OnceCell::new(),
                })
            }
        }
    }

    /// Applies an elementwise function of two arguments (`max(a, b)`), a
    /// scalar spread over the other's shape.
    pub fn map2(&self, f: Elementwise, other: &Tensor) -> Result<Tensor, NumericError> {
        let not_exact = || NumericErrorKind::Shape(format!("{} has no exact form", f.name()));
        self.zip(
            other,
            |x, y| exact_of(f, x, Some(y)).ok_or_else(not_exact),
            // A failure becomes NaN, which the f64 result's check reports.
            |x, y| float_of(f, x, Some(y)).unwrap_or(f64::NAN),
            |x, y| apply_sym(f, &[x, y]),
        )
    }

    /// The matrix view `(rows, cols)` of a rank ≤ 2 tensor.
    fn matrix(&self) -> Option<(usize, usize)> {
        Shape::matrix_of(&self.dims)
    }

    /// Matrix product; a vector is a column, and the result is a vector when `other` is one.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor, NumericError> {
        let ((m, k), (_, p)) = match (self.matrix(), other.matrix()) {
            (Some(a), Some(b)) if a.1 == b.0 && !self.dims.is_empty() && !other.dims.is_empty() => (a, b),
            _ => return Err(Tensor::shape_error(format!("cannot multiply {:?} by {:?}", self.dims, other.dims))),
        };
        let dims = if other.dims.len() == 1 { vec![m] } else { vec![m, p] };
        let capped = self.capped || other.capped;
        let mut out = match (&self.data, &other.data) {
            (Data::Exact(a), Data::Exact(b)) => {
                let v = exact_matmul(a, b, m, k, p);
                Tensor::settle(dims, v)?
            }
            (Data::Symbolic(_), _) | (_, Data::Symbolic(_)) => {
                let (a, b) = (self.sym_view(), other.sym_view());
                let mut v = Vec::with_capacity(m * p);
                for i in 0..m {
                    for j in 0..p {
                        let mut total = Sym::constant(Num::zero());
                        for l in 0..k {
                            let term =
                                a[i * k + l].zip(&b[l * p + j], |x, y| Ok::<_, ()>(x.mul(y))).unwrap_or(Sym::TooLarge);
                            total = total.zip(&term, |x, y| Ok::<_, ()>(x.add(y))).unwrap_or(Sym::TooLarge);
                        }
                        v.push(total);
                    }
                }
                Tensor::symbolic(dims, v)?
            }
            _ => {
                let (a, b) = (self.float_view(), other.float_view());
                Tensor::float_checked(dims, float_matmul(&a, &b, m, k, p))?
            }
        };
        out.capped |= capped;
        Ok(out)
    }

    /// `selfᵀ @ other`, as `self.transpose()?.matmul(other)` computes it.
    /// When the product is in f64 (an operand is), a matrix is read
    /// transposed in place: back-propagation's `Wᵀ δ` then neither copies
    /// every exact entry of W nor converts the copy.
    pub fn transpose_matmul(&self, other: &Tensor) -> Result<Tensor, NumericError> {
        // In f64 when neither is an expression and not both are exact.
        let float = !(self.is_symbolic() || other.is_symbolic() || self.is_exact() && other.is_exact());
        if let ([rows, cols], Some((inner, p)), true) = (self.dims.as_slice(), other.matrix(), float) {
            let (rows, cols) = (*rows, *cols);
            // `[1, n]ᵀ` is the vector `[n]`, which the general path handles.
            if rows != 1 && rows == inner && !other.dims.is_empty() {
                let dims = if other.dims.len() == 1 { vec![cols] } else { vec![cols, p] };
                let (a, b) = (self.float_view(), other.float_view());
                let v = float_matmul_strided(&a, (1, cols), &b, cols, rows, p);
                return Ok(Tensor::float_checked(dims, v)?.with_capped(self.capped || other.capped));
            }
        }
        self.transpose()?.matmul(other)
    }

    /// Transpose: `[n]ᵀ = [1, n]`, `[1, n]ᵀ = [n]`, `[m, n]ᵀ = [n, m]`.
    pub fn transpose(&self) -> Result<Tensor, NumericError> {
        if self.dims.is_empty() {
            return Ok(self.clone());
        }
        // The model's rule gives the dims; the entries move as an m × n matrix's.
        let (Some(dims), Some((m, n))) = (Shape::transposed(&self.dims), self.matrix()) else {
            return Err(Tensor::shape_error(format!("cannot transpose {:?}", self.dims)));
        };
        let order = (0..n).flat_map(|j| (0..m).map(move |i| i * n + j));
        let data = match &self.data {
            Data::Exact(v) => Data::Exact(order.map(|i| v[i].clone()).collect()),
            Data::Float(v) => Data::Float(order.map(|i| v[i]).collect()),
            Data::Symbolic(v) => Data::Symbolic(order.map(|i| v[i].clone()).collect()),
        };
        Ok(Tensor { dims, data, capped: self.capped, float: OnceCell::new() })
    }

    /// The sum of all entries (a scalar).
    pub fn sum(&self) -> Result<Tensor, NumericError> {
        let mut t = match &self.data {
            Data::Exact(v) => Tensor::settle(Vec::new(), vec![exact_sum(v)])?,
            Data::Float(v) => Tensor::float_checked(Vec::new(), vec![v.iter().sum()])?,
            Data::Symbolic(v) => {
                let total =
                    v.iter().try_fold(Sym::constant(Num::zero()), |t, x| t.zip(x, |a, b| Ok::<_, ()>(a.add(b))));
                Tensor::symbolic(Vec::new(), vec![total.unwrap_or(Sym::TooLarge)])?
            }
        };
        t.capped |= self.capped;
        Ok(t)
    }

    /// The mean of all entries (a scalar).
    pub fn mean(&self) -> Result<Tensor, NumericError> {
        let n = BigRational::from_integer(BigInt::from(self.len().max(1)));
        self.sum()?.div(&Tensor::scalar_exact(n))
    }

    /// softmax over all entries, computed after subtracting the maximum.
    pub fn softmax(&self) -> Result<Tensor, NumericError> {
        if self.is_symbolic() {
            // exp(zᵢ) / Σⱼ exp(zⱼ), as expressions.
            let e = self.map(Elementwise::Exp)?;
            return e.div(&e.sum()?);
        }
        let v = self.float_view();
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = v.iter().map(|x| (x - max).exp()).collect();
        let total: f64 = e.iter().sum();
        Tensor::float_checked(self.dims.clone(), e.iter().map(|x| x / total).collect())
    }

    /// log_softmax over all entries, by log-sum-exp.
    pub fn log_softmax(&self) -> Result<Tensor, NumericError> {
        if self.is_symbolic() {
            // zᵢ − log Σⱼ exp(zⱼ), as expressions.
            return self.sub(&self.map(Elementwise::Exp)?.sum()?.map(Elementwise::Log)?);
        }
        let v = self.float_view();
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        Tensor::float_checked(self.dims.clone(), v.iter().map(|x| x - lse).collect())
    }

    /// The diagonal matrix of a vector.
    pub fn diag(&self) -> Result<Tensor, NumericError> {
        let n = self.len();
        let dims = vec![n, n];
        Ok(match &self.data {
            Data::Exact(v) => {
                let mut out = vec![BigRational::zero(); n * n];
                for (i, x) in v.iter().enumerate() {
                    out[i * n + i] = x.clone();
                }
                Tensor { dims, data: Data::Exact(out), capped: self.capped, float: OnceCell::new() }
            }
            Data::Float(v) => {
                let mut out = vec![0.0; n * n];
                for (i, x) in v.iter().enumerate() {
                    out[i * n + i] = *x;
                }
                Tensor { dims, data: Data::Float(out), capped: self.capped, float: OnceCell::new() }
            }
            Data::Symbolic(v) => {
                let mut out = vec![Sym::constant(Num::zero()); n * n];
                for (i, x) in v.iter().enumerate() {
                    out[i * n + i] = x.clone();
                }
                Tensor { dims, data: Data::Symbolic(out), capped: self.capped, float: OnceCell::new() }
            }
        })
    }

    /// Entry `i` as text. With `round = Some(n)`: n decimals, half away from
    /// zero, decided on the exact value (for f64, its exact binary value),
    /// never `-0.000`. Without: an exact value as its terminating decimal or
    /// else as a fraction (`1/3`); an f64 as its shortest round-trip form.
    pub fn format_entry(&self, i: usize, round: Option<u32>) -> String {
        let mut out = String::new();
        self.write_entry(i, round, &mut out);
        out
    }

    /// [`Tensor::format_entry`] appended to `out`: the common cases (an f64
    /// or a small fraction, rounded or not) are written digit by digit with
    /// no string of their own, since printing a large value formats
    /// millions of entries.
    pub fn write_entry(&self, i: usize, round: Option<u32>, out: &mut String) {
        if let Some(fixed) = self.fixed_entry(i, round) {
            return fixed.write(out);
        }
        if let (Data::Float(v), None) = (&self.data, round) {
            if let Some(x) = v.get(i).filter(|x| x.is_finite() && **x != 0.0) {
                use std::fmt::Write;
                let _ = write!(out, "{x}");
                return;
            }
        }
        out.push_str(&self.format_entry_slowly(i, round));
    }

    /// Entry `i` as a fixed-point number when it is printed as one and its
    /// digits fit in a u128: an f64 rounded to at most 22 places, or a
    /// fraction of a u64 denominator, rounded or terminating, to at most 18;
    /// `None` for the others (and for an expression, whose writers are
    /// elsewhere). Its widths are known without writing it.
    #[inline]
    pub fn fixed_entry(&self, i: usize, round: Option<u32>) -> Option<Fixed> {
        match (&self.data, round) {
            (Data::Float(v), Some(places)) => {
                let x = *v.get(i)?;
                let magnitude = round_f64_in_integers(x.abs(), places).filter(|_| x.is_finite())?;
                Some(Fixed { magnitude, places, negative: x < 0.0 })
            }
            (Data::Exact(v), _) => {
                let r = v.get(i)?;
                let (n, d) = (r.numer().to_i64()?, r.denom().to_u64()?);
                let negative = n < 0;
                let n = n.unsigned_abs();
                match round {
                    Some(places) if places <= 18 => {
                        Some(Fixed { magnitude: round_small(n, d, places), places, negative })
                    }
                    Some(_) => None,
                    // A terminating decimal is written with its own places:
                    // d = 2^a·5^b and places = max(a, b), so n/d·10^places
                    // is n·2^(places−a)·5^(places−b), with no division.
                    None => {
                        let (twos, fives) = decimal_factors(d)?;
                        let places = twos.max(fives);
                        (places <= 18).then(|| {
                            let scale = (1u64 << (places - twos)) * POWERS_OF_FIVE[(places - fives) as usize];
                            Fixed { magnitude: u128::from(n) * u128::from(scale), places, negative }
                        })
                    }
                }
            }
            (Data::Float(_), None) | (Data::Symbolic(_), _) => None,
        }
    }

    /// [`Tensor::format_entry`] for every case, each entry its own string.
    fn format_entry_slowly(&self, i: usize, round: Option<u32>) -> String {
        match &self.data {
            Data::Exact(v) => match (v.get(i), round) {
                (None, _) => "NaN".into(),
                (Some(r), Some(n)) => round_decimal(r, n),
                (Some(r), None) => full_precision(r),
            },
            Data::Float(v) => {
                let x = v.get(i).copied().unwrap_or(f64::NAN);
                match round {
                    _ if !x.is_finite() => "NaN".into(),
                    Some(n) => round_f64(x, n),
                    None if x == 0.0 => "0".into(),
                    None => format!("{x}"),
                }
            }
            // The writers print expressions (render::symbolic); this is the
            // plain fallback for a number among them.
            Data::Symbolic(v) => match v.get(i).and_then(Sym::as_constant) {
                Some(Num::Exact(r)) => Tensor::exact(Vec::new(), vec![r]).format_entry(0, round),
                Some(Num::Float(x)) => Tensor::float(Vec::new(), vec![x]).format_entry(0, round),
                None => "…".into(),
            },
        }
    }

    /// Entry `i` as an exact fraction (`27/20`, `2`), for exact tensors.
    pub fn exact_string(&self, i: usize) -> Option<String> {
        match &self.data {
            Data::Exact(v) => v.get(i).map(|r| {
                if r.is_integer() {
                    r.numer().to_string()
                } else {
                    format!("{}/{}", r.numer(), r.denom())
                }
            }),
            Data::Float(_) | Data::Symbolic(_) => None,
        }
    }
}

/// Exact `[m,k] @ [k,p]` over common denominators.
///
/// Summing rationals one product at a time reduces every partial sum by a gcd
/// of ever-growing numbers; that dominated deep exact networks. Instead each
/// row of `a` and each column of `b` is put over its least common denominator
/// once, the dot products run on integers, and each result entry is reduced
/// once at the end. Zero factors are skipped (after relu, many are zero).
fn exact_matmul(a: &[BigRational], b: &[BigRational], m: usize, k: usize, p: usize) -> Vec<BigRational> {
    if let Some(out) = machine_matmul(a, b, m, k, p) {
        return out;
    }
    // An empty sum: zeros (and no row or column to put over a denominator).
    if k == 0 {
        return vec![BigRational::zero(); m * p];
    }
    // Each common denominator factored once over the small primes, so that
    // every entry is brought to lowest terms without a general gcd (see
    // `exact::lowest_terms`).
    let row_factors: Vec<Factored> = a.chunks(k.max(1)).take(m).map(|row| common_factors(row.iter())).collect();
    let col_factors: Vec<Factored> =
        (0..p).map(|j| common_factors(b.iter().skip(j).step_by(p.max(1)).take(k))).collect();
    let row_denoms: Vec<BigInt> = row_factors.iter().map(|f| BigInt::from(f.value())).collect();
    let col_denoms: Vec<BigInt> = col_factors.iter().map(|f| BigInt::from(f.value())).collect();
    let a_scaled: Vec<BigInt> =
        a.iter().enumerate().map(|(flat, r)| over_denominator(r, &row_denoms[flat / k.max(1)])).collect();
    let b_scaled: Vec<BigInt> =
        b.iter().enumerate().map(|(flat, r)| over_denominator(r, &col_denoms[flat % p.max(1)])).collect();
    let reduce = |total: BigInt, i: usize, j: usize| {
        let denom = (&row_denoms[i] * &col_denoms[j]).into_parts().1;
        exact::lowest_terms(total, denom, &row_factors[i].times(&col_factors[j]))
    };
    if let Some(out) = small_integer_matmul(&a_scaled, &b_scaled, m, k, p, reduce) {
        return out;
    }
    let mut out = Vec::with_capacity(m * p);
    for i in 0..m {
        let row = &a_scaled[i * k..(i + 1) * k];
        for j in 0..p {
            let mut total = BigInt::zero();
            for (l, x) in row.iter().enumerate() {
                let y = &b_scaled[l * p + j];
                if !x.is_zero() && !y.is_zero() {
                    total += x * y;
                }
            }
            out.push(reduce(total, i, j));
        }
    }
    out
}

/// The integer part of [`exact_matmul`] in machine integers, when every
/// scaled numerator fits in an i64 and no dot product can leave an i128
/// (decimals as written in a file, and the first layers computed from
/// them): the same sums, exactly, without a big integer per product.
fn small_integer_matmul(
    a: &[BigInt],
    b: &[BigInt],
    m: usize,
    k: usize,
    p: usize,
    reduce: impl Fn(BigInt, usize, usize) -> BigRational,
) -> Option<Vec<BigRational>> {
    let bits = |v: &[BigInt]| v.iter().map(|x| x.bits()).max().unwrap_or(0);
    let (a_bits, b_bits) = (bits(a), bits(b));
    // |Σ x·y| < k · 2^(a_bits + b_bits) must stay below 2^127.
    let k_bits = u64::from(usize::BITS - k.leading_zeros());
    if a_bits > 63 || b_bits > 63 || a_bits + b_bits + k_bits > 126 {
        return None;
    }
    let a: Vec<i64> = a.iter().map(|x| x.to_i64()).collect::<Option<_>>()?;
    let b: Vec<i64> = b.iter().map(|x| x.to_i64()).collect::<Option<_>>()?;
    // b by columns, so that each dot product reads both operands in order.
    let mut b_columns = vec![0i64; k * p];
    for l in 0..k {
        for j in 0..p {
            b_columns[j * k + l] = b[l * p + j];
        }
    }
    let mut out = Vec::with_capacity(m * p);
    for i in 0..m {
        let row = &a[i * k..(i + 1) * k];
        for j in 0..p {
            let column = &b_columns[j * k..(j + 1) * k];
            let total: i128 = row.iter().zip(column).map(|(x, y)| i128::from(*x) * i128::from(*y)).sum();
            out.push(reduce(BigInt::from(total), i, j));
        }
    }
    Some(out)
}

/// [`exact_matmul`] entirely in machine integers, when every numerator fits
/// in an i64, every denominator and every row's and column's common
/// denominator in a u64, and no dot product can leave an i128 (decimals as
/// written in a file and the first layer computed from them): the same
/// sums and the same lowest terms, without a big integer until the result.
fn machine_matmul(a: &[BigRational], b: &[BigRational], m: usize, k: usize, p: usize) -> Option<Vec<BigRational>> {
    if m == 0 || k == 0 || p == 0 || a.len() < m * k || b.len() < k * p {
        return None;
    }
    let parts = |v: &[BigRational]| -> Option<Vec<(i64, u64)>> {
        v.iter().map(|r| Some((r.numer().to_i64()?, r.denom().to_u64()?))).collect()
    };
    let (a, b) = (parts(&a[..m * k])?, parts(&b[..k * p])?);
    let lcm = |common: u64, d: u64| -> Option<u64> {
        if common.is_multiple_of(d) {
            return Some(common);
        }
        (common / num_integer::Integer::gcd(&common, &d)).checked_mul(d)
    };
    let row_denoms: Vec<u64> =
        a.chunks(k).map(|row| row.iter().try_fold(1u64, |c, &(_, d)| lcm(c, d))).collect::<Option<_>>()?;
    let col_denoms: Vec<u64> =
        (0..p).map(|j| b.iter().skip(j).step_by(p).try_fold(1u64, |c, &(_, d)| lcm(c, d))).collect::<Option<_>>()?;
    // The numerator over the common denominator, `n · (common / d)`.
    let scale = |(n, d): (i64, u64), common: u64| n.checked_mul(i64::try_from(common / d).ok()?);
    let a_scaled: Vec<i64> =
        a.iter().enumerate().map(|(flat, &x)| scale(x, row_denoms[flat / k])).collect::<Option<_>>()?;
    // b by columns, so that each dot product reads both operands in order.
    let mut b_columns = vec![0i64; k * p];
    for (flat, &x) in b.iter().enumerate() {
        let (l, j) = (flat / p, flat % p);
        b_columns[j * k + l] = scale(x, col_denoms[j])?;
    }
    let bits = |v: &[i64]| v.iter().map(|x| 64 - x.unsigned_abs().leading_zeros()).max().unwrap_or(0);
    let bound_bits = bits(&a_scaled) + bits(&b_columns) + (usize::BITS - k.leading_zeros());
    // |Σ x·y| < k · 2^(a_bits + b_bits) must stay below 2^127.
    if bound_bits > 126 {
        return None;
    }
    let totals = if bound_bits <= FLOAT_EXACT_BITS {
        float_integer_dot_products(&a_scaled, &b_columns, m, k, p)
    } else {
        let mut totals = Vec::with_capacity(m * p);
        for row in a_scaled.chunks(k) {
            for column in b_columns.chunks(k) {
                totals.push(row.iter().zip(column).map(|(x, y)| i128::from(*x) * i128::from(*y)).sum());
            }
        }
        totals
    };
    let mut out = Vec::with_capacity(m * p);
    for (flat, &total) in totals.iter().enumerate() {
        let (row_denom, col_denom) = (row_denoms[flat / p], col_denoms[flat % p]);
        out.push(machine_lowest_terms(total, row_denom, col_denom));
    }
    Some(out)
}

/// Bits of the largest magnitude below which every integer is an f64: a
/// sum of products of integers whose every partial sum stays under 2^53 is
/// exact in f64 whatever order the additions run in.
const FLOAT_EXACT_BITS: u32 = 53;

/// The integer dot products of the rows of `a` (`[m, k]`, row-major) with
/// the columns `b_columns` (`[p, k]`, column j at `j·k`) by `matrixmultiply`'s
/// f64 kernel. Exact only when every |a|·|b|·k is below 2^53 (the caller
/// checks): then each product and each partial sum, in whatever order the
/// blocked kernel adds them, is an integer below 2^53, which f64 holds
/// exactly, so no rounding ever happens.
fn float_integer_dot_products(a: &[i64], b_columns: &[i64], m: usize, k: usize, p: usize) -> Vec<i128> {
    // Integers below 2^53 convert to f64 exactly.
    let a: Vec<f64> = a.iter().map(|&x| x as f64).collect();
    let b: Vec<f64> = b_columns.iter().map(|&x| x as f64).collect();
    let mut v = vec![0.0; m * p];
    assert!(a.len() >= m * k && b.len() >= k * p, "matmul operands are smaller than their shapes");
    // SAFETY: `a` holds m·k entries read with strides (k, 1), `b` k·p
    // entries read as a [k, p] matrix with strides (1, k) (column j is
    // stored at j·k), `v` m·p entries with strides (p, 1), allocated here
    // and aliasing neither input.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            p,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            1,
            k as isize,
            0.0,
            v.as_mut_ptr(),
            p as isize,
            1,
        );
    }
    // Each sum is an integer of magnitude below 2^53: the cast is exact.
    v.into_iter().map(|x| x as i128).collect()
}

/// `total / (row_denom · col_denom)` in lowest terms, by a gcd in machine
/// words (u64 when the product of the denominators fits, as for decimals).
fn machine_lowest_terms(total: i128, row_denom: u64, col_denom: u64) -> BigRational {
    if let (Some(denom), Ok(numer)) = (row_denom.checked_mul(col_denom), i64::try_from(total)) {
        let common = num_integer::Integer::gcd(&numer.unsigned_abs(), &denom);
        // Divided as magnitudes in u64 (|i64::MIN| fits there, not in i64).
        let sign = if numer < 0 { Sign::Minus } else { Sign::Plus };
        let magnitude = BigUint::from(numer.unsigned_abs() / common);
        return BigRational::new_raw(BigInt::from_biguint(sign, magnitude), BigInt::from(denom / common));
    }
    // Lowest terms in u128: the product of two u64 fits.
    let denom = u128::from(row_denom) * u128::from(col_denom);
    let common = num_integer::Integer::gcd(&total.unsigned_abs(), &denom);
    let numer = total / common as i128;
    BigRational::new_raw(BigInt::from(numer), BigInt::from(denom / common))
}

/// `[m,k] @ [k,p]` in f64, row-major, by `matrixmultiply`'s blocked and
/// vectorised kernel (a plain triple loop runs an order of magnitude slower).
fn float_matmul(a: &[f64], b: &[f64], m: usize, k: usize, p: usize) -> Vec<f64> {
    float_matmul_strided(a, (k, 1), b, m, k, p)
}

/// [`float_matmul`] with `a`'s entry (i, l) read at `i·a_strides.0 +
/// l·a_strides.1`: `(k, 1)` for a row-major `[m, k]`, `(1, m)` for the
/// transpose of a row-major `[k, m]`, read in place.
fn float_matmul_strided(a: &[f64], a_strides: (usize, usize), b: &[f64], m: usize, k: usize, p: usize) -> Vec<f64> {
    let mut v = vec![0.0; m * p];
    if m == 0 || k == 0 || p == 0 {
        return v;
    }
    let last_a = (m - 1) * a_strides.0 + (k - 1) * a_strides.1;
    assert!(a.len() > last_a && b.len() >= k * p, "matmul operands are smaller than their shapes");
    let (ra, ca, rp) = (a_strides.0 as isize, a_strides.1 as isize, p as isize);
    // SAFETY: every entry of `a` read, up to index `last_a`, is inside it,
    // `b` holds k·p entries with row stride p, and `v` m·p with row stride
    // p (checked above and allocated here); `v` aliases neither input.
    unsafe {
        matrixmultiply::dgemm(m, k, p, 1.0, a.as_ptr(), ra, ca, b.as_ptr(), rp, 1, 0.0, v.as_mut_ptr(), rp, 1);
    }
    v
}

/// A sum over the common denominator, reduced once (see [`exact_matmul`]).
fn exact_sum(v: &[BigRational]) -> BigRational {
    let factors = common_factors(v.iter());
    let denom = BigInt::from(factors.value());
    let numer = v.iter().map(|r| over_denominator(r, &denom)).sum();
    exact::lowest_terms(numer, denom.into_parts().1, &factors)
}

/// The least common multiple of the denominators of `values` (1 if none).
pub(super) fn common_denominator<'a>(values: impl Iterator<Item = &'a BigRational>) -> BigInt {
    BigInt::from(common_factors(values).value())
}

/// [`common_denominator`] factored over the small primes: the larger power
/// of each, so a general gcd is needed only for denominators with a large
/// prime factor.
fn common_factors<'a>(values: impl Iterator<Item = &'a BigRational>) -> Factored {
    let mut common = Factored::one();
    let mut last: Option<&BigInt> = None;
    for r in values {
        // Unit denominators and a run of equal ones are the common case;
        // each distinct one is factored once.
        if r.denom().is_one() || last == Some(r.denom()) {
            continue;
        }
        common.lcm_with(&Factored::of(r.denom().magnitude()));
        last = Some(r.denom());
    }
    common
}

/// The numerator of `r` written over `denom`, a multiple of its denominator.
pub(super) fn over_denominator(r: &BigRational, denom: &BigInt) -> BigInt {
    if r.denom() == denom {
        r.numer().clone()
    } else {
        r.numer() * (denom / r.denom())
    }
}

/// Where an operand of an elementwise operation is read for each entry of
/// the result (row-major flat indices on both sides).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reader {
    /// The operand has the result's shape: entry i.
    Same,
    /// One value for every entry.
    One,
    /// A vector `[F]` spread over a map `[F, H, W, …]`: `per` entries each.
    Spread { per: usize },
    /// A matrix whose size-1 axes stretch over the result's `[R, C]`: a
    /// column over every column, a row over every row.
    Stretch { cols: usize, out_cols: usize, one_row: bool, one_col: bool },
}

impl Reader {
    /// How `operand` is read to fill `out`, or `None` when it cannot be.
    fn new(operand: &[usize], out: &[usize]) -> Option<Reader> {
        let matrix = Shape::matrix_of;
        if Shape::same_dims(operand, out) {
            return Some(Reader::Same);
        }
        if operand.iter().product::<usize>() == 1 {
            return Some(Reader::One);
        }
        if let Some(per) = Tensor::spread(operand, out) {
            return Some(Reader::Spread { per });
        }
        let ((r, c), (rr, cc)) = (matrix(operand)?, matrix(out)?);
        ((r == rr || r == 1) && (c == cc || c == 1)).then_some(Reader::Stretch {
            cols: c,
            out_cols: cc.max(1),
            one_row: r == 1,
            one_col: c == 1,
        })
    }

    /// The operand's flat index for the result's flat index `i`.
    fn index(self, i: usize) -> usize {
        match self {
            Reader::Same => i,
            Reader::One => 0,
            Reader::Spread { per } => i / per,
            Reader::Stretch { cols, out_cols, one_row, one_col } => {
                let row = if one_row { 0 } else { i / out_cols };
                let col = if one_col { 0 } else { i % out_cols };
                row * cols + col
            }
        }
    }
}

/// `n/d` scaled by 10^places and rounded half up (`places` ≤ 18, so that
/// 2·n·10^places stays below 2^128).
#[inline]
fn round_small(n: u64, d: u64, places: u32) -> u128 {
    let power = POWERS_OF_TEN[places as usize];
    // In u64 when it holds the sum (decimals as written): u128 division
    // is a library call.
    let twice = u64::try_from(power)
        .ok()
        .and_then(|p| n.checked_mul(p))
        .and_then(|x| x.checked_mul(2))
        .and_then(|x| x.checked_add(d));
    if let (Some(twice), Some(d2)) = (twice, d.checked_mul(2)) {
        return u128::from(twice / d2);
    }
    let (n, d) = (u128::from(n), u128::from(d));
    (2 * n * power + d) / (2 * d)
}

/// 10^0 to 10^38, every power of ten a u128 holds.
const POWERS_OF_TEN: [u128; 39] = {
    let mut powers = [1u128; 39];
    let mut k = 1;
    while k < 39 {
        powers[k] = powers[k - 1] * 10;
        k += 1;
    }
    powers
};

/// 5^0 to 5^18 (5^18 · 2^18 = 10^18 fits a u64).
const POWERS_OF_FIVE: [u64; 19] = {
    let mut powers = [1u64; 19];
    let mut k = 1;
    while k < 19 {
        powers[k] = powers[k - 1] * 5;
        k += 1;
    }
    powers
};

/// [`decimal_places`] for a denominator that fits in a u64.
fn small_decimal_places(d: u64) -> Option<u32> {
    decimal_factors(d).map(|(twos, fives)| twos.max(fives))
}

/// `(a, b)` with `d` = 2^a·5^b, or `None` when `d` has another factor.
#[inline]
fn decimal_factors(mut d: u64) -> Option<(u32, u32)> {
    if d == 0 {
        return None;
    }
    let twos = d.trailing_zeros();
    d >>= twos;
    let mut fives = 0;
    while d.is_multiple_of(5) {
        d /= 5;
        fives += 1;
    }
    (d == 1).then_some((twos, fives))
}

/// A number printed in fixed point: `magnitude` / 10^`places`, with a
/// minus sign when `negative` and not zero ([`with_point`] without the
/// strings).
#[derive(Clone, Copy, Debug)]
pub struct Fixed {
    magnitude: u128,
    places: u32,
    negative: bool,
}

impl Fixed {
    /// How many decimal digits `magnitude` has (1 for zero).
    fn digits(self) -> usize {
        match u64::try_from(self.magnitude) {
            Ok(small) => small.checked_ilog10().map_or(1, |l| l as usize + 1),
            Err(_) => self.magnitude.ilog10() as usize + 1,
        }
    }

    /// The widths before the decimal point (with the sign) and from it on.
    pub fn widths(self) -> (usize, usize) {
        let places = self.places as usize;
        let sign = usize::from(self.negative && self.magnitude != 0);
        let int = self.digits().saturating_sub(places).max(1);
        (sign + int, if places == 0 { 0 } else { places + 1 })
    }

    /// Appends the number, as [`Tensor::write_entry`] writes it.
    pub fn write(self, out: &mut String) {
        let mut digits = [0u8; 40];
        let at = self.digits_into(&mut digits);
        let digits = &digits[at..];
        let places = self.places as usize;
        if self.negative && self.magnitude != 0 {
            out.push('-');
        }
        // ASCII digits, always valid UTF-8.
        let push = |out: &mut String, bytes: &[u8]| out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
        if places == 0 {
            push(out, digits);
        } else if digits.len() <= places {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', places - digits.len()));
            push(out, digits);
        } else {
            let (int, frac) = digits.split_at(digits.len() - places);
            push(out, int);
            out.push('.');
            push(out, frac);
        }
    }

    /// [`Fixed::write`] as ASCII bytes in a column's cell (a row of a
    /// printed matrix is gathered as bytes and checked as text once, rather
    /// than each of its pieces on its own): spaces before it up to
    /// `int_w` bytes before its point (the sign included) and after it up
    /// to `frac_w` from its point on. The digits are made once and give the
    /// widths, which [`Fixed::widths`] would count again.
    #[inline]
    pub fn write_cell(self, int_w: usize, frac_w: usize, out: &mut Vec<u8>) {
        // The common cell (a u64 magnitude, a cell of at most 64 bytes, wide
        // enough for its whole part) is made whole in a buffer of spaces,
        // its digits put in place by [`Fixed::place`], and appended at once.
        const CELL: usize = 64;
        let after = if self.places == 0 { 0 } else { self.places as usize + 1 };
        let len = int_w + after.max(frac_w);
        if len <= CELL {
            let mut cell = [b' '; CELL];
            if self.place(&mut cell[..len], int_w) {
                out.extend_from_slice(&cell[..len]);
                return;
            }
        }
        let mut digits = [0u8; 40];
        let at = self.digits_into(&mut digits);
        let digits = &digits[at..];
        let places = self.places as usize;
        let sign = self.negative && self.magnitude != 0;
        let int = digits.len().saturating_sub(places).max(1);
        out.resize(out.len() + int_w.saturating_sub(usize::from(sign) + int), b' ');
        if sign {
            out.push(b'-');
        }
        if places == 0 {
            out.extend_from_slice(digits);
        } else if digits.len() <= places {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + places - digits.len(), b'0');
            out.extend_from_slice(digits);
        } else {
            let (int, frac) = digits.split_at(digits.len() - places);
            out.extend_from_slice(int);
            out.push(b'.');
            out.extend_from_slice(frac);
        }
        let frac = if places == 0 { 0 } else { places + 1 };
        out.resize(out.len() + frac_w.saturating_sub(frac), b' ');
    }

    /// Writes the number into `cell`, a column's cell already filled with
    /// spaces, its point (or its end) `int_w` bytes from the cell's start:
    /// the digits go straight into place, right to left, with no copy.
    /// `false`, with nothing written, when it cannot (a magnitude past u64,
    /// or a cell too narrow), and the caller writes the row another way.
    #[inline]
    pub fn place(self, cell: &mut [u8], int_w: usize) -> bool {
        let places = self.places as usize;
        let Ok(mut rest) = u64::try_from(self.magnitude) else {
            return false;
        };
        let count = rest.checked_ilog10().map_or(1, |l| l as usize + 1);
        let int = count.saturating_sub(places).max(1);
        let sign = self.negative && rest != 0;
        let after = if places == 0 { 0 } else { places + 1 };
        if usize::from(sign) + int > int_w || int_w + after > cell.len() {
            return false;
        }
        let mut at = int_w + after;
        for _ in 0..places {
            at -= 1;
            cell[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        if places > 0 {
            at -= 1;
            cell[at] = b'.';
        }
        for _ in 0..int {
            at -= 1;
            cell[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        if sign {
            cell[at - 1] = b'-';
        }
        true
    }

    /// The number in 13 bytes (magnitude, places, sign) when its magnitude
    /// fits in a u64, as every rounded f64 below 10^(19 − places) does: for
    /// keeping a whole matrix of them. [`Fixed::unpacked`] undoes it.
    pub fn packed(self) -> Option<(u64, u32, bool)> {
        Some((u64::try_from(self.magnitude).ok()?, self.places, self.negative))
    }

    /// The number [`Fixed::packed`] packed.
    pub fn unpacked((magnitude, places, negative): (u64, u32, bool)) -> Fixed {
        Fixed { magnitude: u128::from(magnitude), places, negative }
    }

    /// Writes the decimal digits of `magnitude` at the end of `digits` and
    /// returns where they start. u128::MAX has 39 digits.
    #[inline]
    fn digits_into(self, digits: &mut [u8; 40]) -> usize {
        let mut at = digits.len();
        // Two digits at a time, in u64 where they fit: u128 division is a
        // library call.
        let mut rest = self.magnitude;
        while rest > u128::from(u64::MAX) {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let mut small = rest as u64;
        while small >= 100 {
            let pair = (small % 100) as usize * 2;
            small /= 100;
            at -= 2;
            digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        }
        if small >= 10 {
            let pair = small as usize * 2;
            at -= 2;
            digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        } else {
            at -= 1;
            digits[at] = b'0' + small as u8;
        }
        at
    }
}

/// "00" to "99", for writing two digits at a time.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `r` rounded to `places` decimals, half away from zero, without `-0`.
pub fn round_decimal(r: &BigRational, places: u32) -> String {
    // Small fractions (decimals as written, most exact values) in u128.
    if let (Some(n), Some(d), true) = (r.numer().to_i64(), r.denom().to_u64(), places <= 18) {
        let mut out = String::new();
        Fixed { magnitude: round_small(n.unsigned_abs(), d, places), places, negative: n < 0 }.write(&mut out);
        return out;
    }
    // floor(|n|·10^places / d + 1/2) = floor((2·|n|·10^places + d) / 2d):
    // one integer division, no fraction to reduce.
    let scale = num_traits::pow(BigInt::from(10), places as usize);
    let twice_denom = r.denom() << 1usize;
    let magnitude = (((r.numer().abs() * scale) << 1usize) + r.denom()) / twice_denom;
    let digits = magnitude.to_string();
    with_point(digits, places, r.is_negative())
}

/// `x` rounded to `places` decimals exactly as [`round_decimal`] rounds its
/// exact binary value, without making that value a fraction: Rust's fixed
/// formatting is correctly rounded on the exact value, and only a tie (the
/// exact value ends in a 5 just past the last place) needs deciding here,
/// away from zero where the formatter would go to even.
pub fn round_f64(x: f64, places: u32) -> String {
    if let Some(magnitude) = round_f64_in_integers(x.abs(), places) {
        return with_point(magnitude.to_string(), places, x < 0.0);
    }
    let places_usize = places as usize;
    let magnitude = x.abs();
    let mut text = if is_decimal_tie(magnitude, places) {
        // The value has exactly places + 1 decimals, so this prints it exactly.
        let mut text = format!("{magnitude:.prec$}", prec = places_usize + 1);
        text.pop();
        if places == 0 {
            text.pop();
        }
        round_up_last_digit(&text)
    } else {
        format!("{magnitude:.places_usize$}")
    };
    if x < 0.0 && text.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        text.insert(0, '-');
    }
    text
}

/// |x|·10^places rounded half up, computed exactly in u128 from the bits of
/// `x` = m·2^e when they allow (e < 0, at most 22 places: m·10^places stays
/// below 2^127), else `None`.
#[inline]
fn round_f64_in_integers(x: f64, places: u32) -> Option<u128> {
    if places > 22 || !x.is_finite() {
        return None;
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exponent) = if biased == 0 { (fraction, -1074) } else { (fraction | (1u64 << 52), biased - 1075) };
    if exponent >= 0 {
        return None;
    }
    let scaled = u128::from(mantissa) * POWERS_OF_TEN[places as usize];
    let shift = exponent.unsigned_abs();
    if shift >= 128 {
        // scaled < 2^127 ≤ half of 2^shift: less than half a unit.
        return Some(0);
    }
    let half = 1u128 << (shift - 1);
    let rest = scaled & ((1u128 << shift) - 1);
    Some((scaled >> shift) + u128::from(rest >= half))
}

/// Is `x` (finite, ≥ 0) exactly halfway between two multiples of 10^-places?
/// With x = m·2^e (m odd), 2·x·10^places = m·5^places·2^(places+1+e) is an
/// odd integer exactly when places + 1 + e = 0.
fn is_decimal_tie(x: f64, places: u32) -> bool {
    if x == 0.0 {
        return false;
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exponent) = if biased == 0 { (fraction, -1074) } else { (fraction | (1u64 << 52), biased - 1075) };
    let odd_exponent = exponent + i64::from(mantissa.trailing_zeros());
    i64::from(places) + 1 + odd_exponent == 0
}

/// `text` (digits with at most one `.`) plus one unit in its last place.
fn round_up_last_digit(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mut carry = true;
    for b in bytes.iter_mut().rev() {
        if !carry {
            break;
        }
        match *b {
            b'.' => continue,
            b'9' => *b = b'0',
            d => {
                *b = d + 1;
                carry = false;
            }
        }
    }
    let body = String::from_utf8(bytes).unwrap_or_default();
    if carry {
        format!("1{body}")
    } else {
        body
    }
}

/// The digits of a magnitude scaled by 10^places, written with the decimal
/// point and a minus sign when `negative` and not zero.
fn with_point(digits: String, places: u32, negative: bool) -> String {
    let places = places as usize;
    let negative = negative && digits.bytes().any(|b| b != b'0');
    let mut out = String::with_capacity(digits.len() + places + 3);
    if negative {
        out.push('-');
    }
    if places == 0 {
        out.push_str(&digits);
    } else if digits.len() <= places {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', places - digits.len()));
        out.push_str(&digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - places);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// The number of decimal places of `r` when its decimal expansion
/// terminates (its denominator is 2^a 5^b), else `None`.
pub fn decimal_places(r: &BigRational) -> Option<u32> {
    if let Some(d) = r.denom().to_u64() {
        return small_decimal_places(d);
    }
    terminating(r.denom().magnitude()).and_then(|(twos, fives)| u32::try_from(twos.max(fives)).ok())
}

/// The exponents `(a, b)` of a denominator `2^a 5^b`, or `None` when it
/// has another prime factor. The twos are counted by trailing zero bits and
/// the fives removed a machine word's power at a time, so huge
/// denominators stay cheap.
fn terminating(den: &num_bigint::BigUint) -> Option<(u64, u64)> {
    let twos = den.trailing_zeros().unwrap_or(0);
    let mut odd = den >> twos;
    let fives = exact::remove_prime(&mut odd, 5, u64::MAX);
    odd.is_one().then_some((twos, fives))
}

/// A terminating decimal where the value has one, else `p/q`.
pub fn full_precision(r: &BigRational) -> String {
    if r.denom().to_u64().is_none() {
        // `n / (2^a 5^b)` has the digits `n · 2^(p-a) · 5^(p-b)` with
        // `p = max(a, b)` places: a shift and a product, no division.
        if let Some((twos, fives)) = terminating(r.denom().magnitude()) {
            let places = twos.max(fives);
            if let (Ok(p), Ok(fives_missing)) = (u32::try_from(places), u32::try_from(places - fives)) {
                let digits =
                    (r.numer().magnitude() << (places - twos)) * num_bigint::BigUint::from(5u32).pow(fives_missing);
                return with_point(digits.to_string(), p, r.is_negative());
            }
        }
    }
    match decimal_places(r) {
        Some(places) => round_decimal(r, places),
        None => format!("{}/{}", r.numer(), r.denom()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_fractions_convert_as_num_rational_does() {
        // The division fast path against num-rational's own conversion
        // (correctly rounded), on small parts and on parts at 2^53.
        let big = 1i64 << 53;
        let mut parts: Vec<i64> = (-120..=120).collect();
        parts.extend([big, big - 1, -big, -(big - 1), 3 * (1 << 40) + 7, 10_000_000_000_000_000 / 7]);
        for &n in &parts {
            for d in parts.iter().filter(|d| **d > 0) {
                let r = BigRational::new(BigInt::from(n), BigInt::from(*d));
                let expected = r.to_f64().unwrap();
                assert_eq!(rational_to_f64(&r).to_bits(), expected.to_bits(), "{n}/{d}");
            }
        }
    }

    /// max, min and maxpool of exact values, and the order of expressions'
    /// coefficients, on two values whose continued fractions agree on
    /// 200 000 partial quotients, on a 256 KiB stack: num-rational's `<`
    /// recursed once per partial quotient and overflowed it every time.
    #[test]
    fn long_exact_values_compare_without_recursion() {
        let (a, b) = crate::rational::close_fibonacci_ratios(200_000);
        // Cassini's identity: for an even count the first is the larger.
        let (large, small) = (a, b);
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                assert_eq!(exact_of(Elementwise::Max, &small, Some(&large)), Some(large.clone()));
                assert_eq!(exact_of(Elementwise::Min, &large, Some(&small)), Some(small.clone()));
                // Values this long continue in f64 (the size cap), after the comparison.
                let x = Tensor::exact(vec![2], vec![large.clone(), small.clone()]);
                let y = Tensor::exact(vec![2], vec![small.clone(), large.clone()]);
                assert!(x.map2(Elementwise::Max, &y).unwrap().capped());
                // maxpool's gradient goes to the window's maximum.
                let window = crate::model::Window { size: 2, stride: 2 };
                let zero = BigRational::zero();
                let map = Tensor::exact(vec![1, 2, 2], vec![zero.clone(), small.clone(), large.clone(), zero]);
                let one = Tensor::exact(vec![1, 1, 1], vec![BigRational::one()]);
                let routed = super::super::conv::max_pool_back(&map, &one, window).unwrap();
                assert_eq!(routed.to_f64_vec(), [0.0, 0.0, 1.0, 0.0]);
                assert_eq!(Num::Exact(large.clone()).cmp(&Num::Exact(small.clone())), std::cmp::Ordering::Greater);
                assert_ne!(Num::Exact(large), Num::Exact(small));
            })
            .expect("thread starts")
            .join()
            .expect("no panic");
    }

    /// The model's `is_rational` and the kernels here agree on every
    /// built-in: a rational one has an exact value, the others do not.
    #[test]
    fn rational_built_ins_have_exact_kernels() {
        let (x, y) = (BigRational::new((-1).into(), 2.into()), BigRational::new(1.into(), 3.into()));
        for f in Elementwise::ALL {
            let exact = match f.arity() {
                1 => exact_of(f, &x, None).is_some(),
                _ => exact_of(f, &x, Some(&y)).is_some(),
            };
            assert_eq!(exact, f.is_rational(), "{}", f.name());
            let float = match f.arity() {
                1 => float_of(f, 0.5, None).is_ok(),
                _ => float_of(f, 0.5, Some(0.25)).is_ok(),
            };
            assert!(float, "{} has an f64 kernel", f.name());
        }
    }

    #[test]
    fn normal_cdf_matches_reference_values() {
        for (x, phi) in [
            (0.0, 0.5),
            (0.5, 0.691_462_461_274_013_1),
            (1.0, 0.841_344_746_068_542_9),
            (-2.0, 0.022_750_131_948_179_195),
            (-7.0, 1.279_812_543_885_835e-12),
        ] {
            let got = normal_cdf(x);
            let close = if phi < 1e-6 { ((got - phi) / phi).abs() < 1e-12 } else { (got - phi).abs() < 1e-15 };
            assert!(close, "Φ({x}) = {got}, expected {phi}");
        }
    }

    #[test]
    fn two_argument_builtins_are_exact_with_ties_to_the_first() {
        let a = exact(&[3], &[(1, 2), (-1, 1), (2, 1)]);
        let b = exact(&[3], &[(1, 3), (-1, 1), (5, 1)]);
        let slope = Tensor::scalar_exact(r(1, 10));
        assert_eq!(a.map2(Elementwise::Max, &b).unwrap(), exact(&[3], &[(1, 2), (-1, 1), (5, 1)]));
        assert_eq!(a.map2(Elementwise::Min, &b).unwrap(), exact(&[3], &[(1, 3), (-1, 1), (2, 1)]));
        assert_eq!(a.map2(Elementwise::LeakyRelu, &slope).unwrap(), exact(&[3], &[(1, 2), (-1, 10), (2, 1)]));
    }

    fn r(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    #[test]
    fn decimals_convert_to_the_nearest_f64() {
        use crate::syntax::ast::Decimal;
        // Rust's own parsing of the decimal's text is correctly rounded.
        let mut seed = 12345u64;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let digits = (seed >> 40) % 19;
            let mantissa = ((seed >> 3) % 10u64.pow(digits as u32).max(1)) as i64 * if seed & 1 == 0 { 1 } else { -1 };
            let exponent = ((seed >> 20) % 61) as i32 - 30;
            let d = Decimal::Small { mantissa, exponent };
            let expected: f64 = format!("{mantissa}e{exponent}").parse().unwrap();
            assert_eq!(decimal_to_f64(&d).to_bits(), expected.to_bits(), "{mantissa}e{exponent}");
        }
        let third = Decimal::Rational(Box::new(r(1, 3)));
        assert_eq!(decimal_to_f64(&third), 1.0 / 3.0);
    }

    fn exact(dims: &[usize], v: &[(i64, i64)]) -> Tensor {
        Tensor::exact(dims.to_vec(), v.iter().map(|&(n, d)| r(n, d)).collect())
    }

    #[test]
    fn assignment_first_layer_is_exact() {
        let w = exact(
            &[3, 4],
            &[
                (1, 10),
                (-2, 10),
                (3, 10),
                (4, 10),
                (5, 10),
                (-3, 10),
                (1, 10),
                (-2, 10),
                (4, 10),
                (2, 10),
                (-5, 10),
                (3, 10),
            ],
        );
        let x = exact(&[4], &[(1, 1), (-1, 1), (1, 2), (2, 1)]);
        let b = exact(&[3], &[(1, 10), (-1, 10), (1, 20)]);
        let z = w.matmul(&x).unwrap().add(&b).unwrap();
        assert_eq!(z.dims(), &[3]);
        assert!(z.is_exact());
        let shown: Vec<String> = (0..3).map(|i| z.exact_string(i).unwrap()).collect();
        assert_eq!(shown, ["27/20", "7/20", "3/5"]);
        assert_eq!(z.format_entry(0, None), "1.35");
    }

    #[test]
    fn rounding_is_half_away_from_zero_on_the_exact_value() {
        assert_eq!(round_decimal(&r(1, 20000), 4), "0.0001");
        assert_eq!(round_decimal(&r(-1, 20000), 4), "-0.0001");
        assert_eq!(round_decimal(&r(-4, 100000), 4), "0.0000");
        assert_eq!(round_decimal(&r(5, 2), 0), "3");
        assert_eq!(round_decimal(&r(-5, 2), 0), "-3");
        assert_eq!(round_decimal(&r(27, 20), 4), "1.3500");
        // 2.00005 as f64 is slightly below 2.00005, so it rounds down;
        // 1.00005 is slightly above, so it rounds up.
        let t = Tensor::float(vec![], vec![2.00005]);
        assert_eq!(t.format_entry(0, Some(4)), "2.0000");
        let t = Tensor::float(vec![], vec![1.00005]);
        assert_eq!(t.format_entry(0, Some(4)), "1.0001");
        let t = Tensor::float(vec![], vec![-0.0]);
        assert_eq!(t.format_entry(0, None), "0");
        assert_eq!(full_precision(&r(1, 3)), "1/3");
        assert_eq!(full_precision(&r(1, 40)), "0.025");
        assert_eq!(full_precision(&r(7, 3125)), "0.00224");
        assert_eq!(full_precision(&r(1, 15)), "1/15");
        let huge = BigRational::new(BigInt::from(3), BigInt::from(10).pow(300));
        assert_eq!(decimal_places(&huge), Some(300));
        assert_eq!(full_precision(&r(-1, 8)), "-0.125");
    }

    /// The rounding rule computed the slow, obvious way on the exact value.
    fn reference_round(r: &BigRational, places: u32) -> String {
        let scaled = r * BigRational::from_integer(BigInt::from(10).pow(places));
        let magnitude = (scaled.abs() + r_half()).floor().to_integer();
        let digits = magnitude.to_string();
        with_point(digits, places, r.is_negative())
    }

    fn r_half() -> BigRational {
        BigRational::new(BigInt::one(), BigInt::from(2))
    }

    #[test]
    fn f64_rounding_matches_rounding_the_exact_value() {
        use num_traits::FromPrimitive;
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values: Vec<f64> = vec![0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 1.0 / 32.0, -3.0 / 32.0, 9.995, 0.0];
        // Exact ties at every place count: odd multiples of 2^-(places+1).
        for places in 0..12u32 {
            for odd in [1u64, 3, 5, 7, 19, 999, 1_000_001] {
                values.push(odd as f64 / 2f64.powi(places as i32 + 1));
                values.push(-(odd as f64) * 2f64.powi(-(places as i32) - 1) * 7.0);
            }
        }
        for _ in 0..4000 {
            let bits = next();
            let x = f64::from_bits(bits);
            if x.is_finite() {
                values.push(x);
            }
            // Ordinary magnitudes too, where the places matter.
            values.push((next() % 2_000_000) as f64 / 1024.0 - 977.0);
            values.push(((next() % 100_000) as f64 - 50_000.0) / 3.0e4);
        }
        for x in values {
            let exact = BigRational::from_f64(x).unwrap();
            for places in [0u32, 1, 2, 4, 7, 12, 30] {
                assert_eq!(round_f64(x, places), reference_round(&exact, places), "{x:e} to {places} places");
            }
        }
    }

    #[test]
    fn appended_entries_match_the_general_formatting() {
        // write_entry's digit-by-digit paths against format_entry_slowly
        // (strings and big integers), rounded and at full precision.
        let mut floats =
            vec![0.0, -0.0, 0.5, -0.5, 1e-30, -1e-30, 123456.789, -9.99995, 1e20, 3.0e300, f64::MIN_POSITIVE];
        let mut state = 99u64;
        for _ in 0..3000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            floats.push(f64::from_bits(state >> 2) * if state & 1 == 0 { 1.0 } else { -1.0 });
            floats.push(((state >> 20) % 2_000_000) as f64 / 997.0 - 1000.0);
        }
        floats.retain(|x| x.is_finite());
        let mut exact: Vec<BigRational> = Vec::new();
        for n in [-1_000_003i64, -20, -1, 0, 1, 7, 99, 123_456_789_012] {
            for d in [1i64, 2, 3, 8, 20, 625, 1 << 40, 999_983] {
                exact.push(r(n, d));
            }
        }
        exact.push(BigRational::new(BigInt::from(3).pow(60), BigInt::from(10).pow(25)));
        let tensors = [Tensor::float(vec![floats.len()], floats), Tensor::exact(vec![exact.len()], exact)];
        for t in &tensors {
            for i in 0..t.len() {
                for round in [None, Some(0), Some(1), Some(4), Some(18), Some(22)] {
                    let mut out = String::from("x");
                    t.write_entry(i, round, &mut out);
                    let text = t.format_entry_slowly(i, round);
                    assert_eq!(out[1..], text, "entry {i} at {round:?}");
                    // Known widths are those of the text, split at its point,
                    // and the byte writer writes the same text.
                    if let Some(fixed) = t.fixed_entry(i, round) {
                        let point = text.find('.').unwrap_or(text.len());
                        assert_eq!(fixed.widths(), (point, text.len() - point), "widths of {text}");
                        let mut bytes = b"x".to_vec();
                        fixed.write_cell(0, 0, &mut bytes);
                        assert_eq!(bytes[1..], *text.as_bytes(), "bytes of {text}");
                        // In a wider cell: padded on both sides.
                        let mut cell = Vec::new();
                        fixed.write_cell(point + 3, text.len() - point + 2, &mut cell);
                        assert_eq!(cell, format!("   {text}  ").into_bytes(), "cell of {text}");
                        // Placed in a cell of spaces: the same, where it fits.
                        let mut placed = vec![b' '; text.len() + 5];
                        if fixed.place(&mut placed, point + 3) {
                            assert_eq!(placed, format!("   {text}  ").into_bytes(), "placed {text}");
                        } else {
                            assert!(fixed.packed().is_none(), "{text} fits a u64 and its cell");
                            assert!(placed.iter().all(|b| *b == b' '), "nothing written for {text}");
                        }
                        assert!(!fixed.place(&mut vec![b' '; text.len() - 1], point), "{text} in too small a cell");
                        // Packed and unpacked, it is the same number.
                        if let Some(packed) = fixed.packed() {
                            let mut again = String::new();
                            Fixed::unpacked(packed).write(&mut again);
                            assert_eq!(again, text, "packed {text}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn exact_rounding_matches_the_reference() {
        for n in -300i64..300 {
            for d in [1i64, 2, 3, 7, 8, 40, 625, 9999, 20000, 1 << 20] {
                let v = r(n * 12345 + 7, d);
                for places in [0u32, 1, 3, 4, 9] {
                    assert_eq!(round_decimal(&v, places), reference_round(&v, places), "{v} to {places} places");
                }
            }
        }
    }

    #[test]
    fn full_precision_of_huge_decimals_matches_rounding_to_its_places() {
        // Denominators past a machine word: 2^a 5^b with either larger, and
        // ones with another factor (written as fractions).
        let mut state = 3u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        for _ in 0..400 {
            let (a, b) = (next() % 300, next() % 200);
            let other = [1u32, 1, 3, 7, 11][next() as usize % 5];
            let den = BigInt::from(2).pow(a as u32) * BigInt::from(5).pow(b as u32) * other;
            let numer = BigInt::from(next()).pow((next() % 12) as u32) * BigInt::from(next() as i64 - (1 << 30));
            let v = BigRational::new(numer, den);
            // Independently: the places are found by multiplying by ten
            // until the value is an integer (or giving up past the bound).
            let mut places = None;
            let mut scaled = v.clone();
            for p in 0..=500u32 {
                if scaled.is_integer() {
                    places = Some(p);
                    break;
                }
                scaled *= BigRational::from_integer(BigInt::from(10));
            }
            assert_eq!(decimal_places(&v), places, "{v}");
            let expected = match places {
                Some(p) => reference_round(&v, p),
                None => format!("{}/{}", v.numer(), v.denom()),
            };
            assert_eq!(full_precision(&v), expected, "{v}");
        }
    }

    /// Numerators and denominators: `BigRational`'s `==` compares values,
    /// and the exact products must also be in lowest terms.
    fn terms(v: &[BigRational]) -> Vec<(BigInt, BigInt)> {
        v.iter().map(|r| (r.numer().clone(), r.denom().clone())).collect()
    }

    #[test]
    fn exact_products_agree_in_machine_and_big_integers() {
        // Small entries take the i128 path; one huge entry forces big integers.
        let mut state = 7u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as i64
        };
        let (m, k, p) = (5, 7, 3);
        let a: Vec<BigRational> =
            (0..m * k).map(|_| r(next() % 2001 - 1000, [1, 10, 100, 8][next() as usize % 4])).collect();
        let b: Vec<BigRational> = (0..k * p).map(|_| r(next() % 201 - 100, [1, 3, 100][next() as usize % 3])).collect();
        let fast = exact_matmul(&a, &b, m, k, p);
        let naive: Vec<BigRational> = (0..m * p)
            .map(|ij| (0..k).map(|l| &a[ij / p * k + l] * &b[l * p + ij % p]).fold(BigRational::zero(), |s, x| s + x))
            .collect();
        assert_eq!(terms(&fast), terms(&naive));
        let mut huge = a.clone();
        huge[0] = BigRational::from_integer(BigInt::from(3).pow(200));
        let slow = exact_matmul(&huge, &b, m, k, p);
        let naive: Vec<BigRational> = (0..m * p)
            .map(|ij| {
                (0..k).map(|l| &huge[ij / p * k + l] * &b[l * p + ij % p]).fold(BigRational::zero(), |s, x| s + x)
            })
            .collect();
        assert_eq!(terms(&slow), terms(&naive));
    }

    /// Row-major `[m, k] @ [k, p]` of rationals by plain dot products, one
    /// `BigRational` product and sum at a time.
    fn naive_matmul(a: &[BigRational], b: &[BigRational], m: usize, k: usize, p: usize) -> Vec<BigRational> {
        (0..m * p)
            .map(|ij| (0..k).map(|l| &a[ij / p * k + l] * &b[l * p + ij % p]).fold(BigRational::zero(), |s, x| s + x))
            .collect()
    }

    #[test]
    fn integer_dot_products_in_f64_match_i128_up_to_the_bound() {
        // Entries of at most `a_bits` and `b_bits` bits with a_bits + b_bits
        // + bits(k) = 53: the largest sums allowed on the f64 path, with
        // extreme magnitudes of both signs, zeros, and k = 1.
        let mut state = 5u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 11
        };
        for (m, k, p) in [(1, 1, 1), (3, 1, 4), (5, 3, 2), (17, 33, 9), (2, 300, 3), (9, 7, 1), (1, 64, 70)] {
            let k_bits = usize::BITS - usize::leading_zeros(k);
            let a_bits = (FLOAT_EXACT_BITS - k_bits) / 2;
            let b_bits = FLOAT_EXACT_BITS - k_bits - a_bits;
            let mut entry = |bits: u32| -> i64 {
                let max = (1i64 << bits) - 1;
                match next() % 5 {
                    0 => 0,
                    1 => max,
                    2 => -max,
                    _ => (next() % (2 * max as u64 + 1)) as i64 - max,
                }
            };
            let a: Vec<i64> = (0..m * k).map(|_| entry(a_bits)).collect();
            let b_columns: Vec<i64> = (0..k * p).map(|_| entry(b_bits)).collect();
            let expected: Vec<i128> = (0..m * p)
                .map(|ij| {
                    let (i, j) = (ij / p, ij % p);
                    (0..k).map(|l| i128::from(a[i * k + l]) * i128::from(b_columns[j * k + l])).sum()
                })
                .collect();
            assert_eq!(float_integer_dot_products(&a, &b_columns, m, k, p), expected, "{m}x{k}x{p}");
            // Every entry at the largest magnitude and of one sign: each dot
            // product is k·(2^a_bits - 1)·(2^b_bits - 1), just under 2^53.
            let a = vec![(1i64 << a_bits) - 1; m * k];
            let b_columns = vec![-((1i64 << b_bits) - 1); k * p];
            let extreme = -(k as i128) * i128::from((1i64 << a_bits) - 1) * i128::from((1i64 << b_bits) - 1);
            assert!(extreme.unsigned_abs() < 1 << 53);
            assert_eq!(float_integer_dot_products(&a, &b_columns, m, k, p), vec![extreme; m * p]);
        }
    }

    #[test]
    fn exact_products_past_the_f64_bound_stay_exact() {
        // Integer matrices whose sums f64 would round: 2^53 + 1 is not an
        // f64. The bound check must send them to the i128 loop.
        let big = (1i64 << 27) + 1;
        let cases = [
            // k = 1: (2^27 + 1)(2^26 + 1) = 2^53 + 2^27 + 2^26 + 1.
            ((1, 1, 1), vec![big], vec![(1 << 26) + 1]),
            // Sums of terms that are f64s each, whose total is not.
            ((1, 2, 1), vec![1 << 30, 1], vec![1 << 23, 1]),
            ((2, 3, 2), vec![big, -big, 7, 0, big, -3], vec![big, -1, 5, 9, -big, big]),
        ];
        for ((m, k, p), a, b) in cases {
            let a: Vec<BigRational> = a.into_iter().map(|x| r(x, 1)).collect();
            let b: Vec<BigRational> = b.into_iter().map(|x| r(x, 1)).collect();
            let naive = naive_matmul(&a, &b, m, k, p);
            assert!(naive.iter().any(|x| (x.to_f64().unwrap() as i128) != x.to_integer().to_i128().unwrap()));
            assert_eq!(terms(&machine_matmul(&a, &b, m, k, p).unwrap()), terms(&naive));
            assert_eq!(terms(&exact_matmul(&a, &b, m, k, p)), terms(&naive));
        }
        // The same over denominators: 1/100 steps at and past the bound.
        let (m, k, p) = (3, 4, 2);
        for extra_bits in [0u32, 1, 6] {
            let a_bits = 24 + extra_bits;
            let a: Vec<BigRational> =
                (0..m * k).map(|i| r(((1i64 << a_bits) - 1) * if i % 3 == 0 { -1 } else { 1 }, 100)).collect();
            let b: Vec<BigRational> = (0..k * p).map(|i| r((1i64 << 26) - 1 - i as i64, 10)).collect();
            assert_eq!(terms(&exact_matmul(&a, &b, m, k, p)), terms(&naive_matmul(&a, &b, m, k, p)));
        }
    }

    #[test]
    fn exact_decimal_products_match_plain_rational_dot_products() {
        // Two-place decimals like a network file's, the shape of a first
        // layer (zeros, negatives, reducible sums), on the f64 path.
        let mut state = 17u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as i64
        };
        for (m, k, p) in [(1, 1, 1), (4, 1, 3), (12, 40, 7), (1, 513, 1), (31, 64, 33)] {
            let mut decimal =
                || if next() % 6 == 0 { r(0, 1) } else { r(next() % 199 - 99, [1, 10, 100][next() as usize % 3]) };
            let a: Vec<BigRational> = (0..m * k).map(|_| decimal()).collect();
            let b: Vec<BigRational> = (0..k * p).map(|_| decimal()).collect();
            let naive = naive_matmul(&a, &b, m, k, p);
            assert_eq!(terms(&machine_matmul(&a, &b, m, k, p).unwrap()), terms(&naive), "{m}x{k}x{p}");
        }
        // Empty dimensions take no machine path; the product is all zeros.
        assert!(machine_matmul(&[], &[], 0, 3, 2).is_none());
        assert!(machine_matmul(&[], &[], 2, 0, 3).is_none());
        assert_eq!(terms(&exact_matmul(&[], &[], 2, 0, 3)), terms(&vec![BigRational::zero(); 6]));
        assert!(exact_matmul(&[], &vec![r(1, 2); 6], 0, 3, 2).is_empty());
    }

    #[test]
    fn exact_products_over_wide_and_non_decimal_denominators_match_num_rational() {
        // Denominators past a machine word (the i128 path over big common
        // denominators), a large prime factor (2^89 - 1, which only a gcd
        // can take out) and a product of small primes past one word each.
        let mut state = 11u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as i64
        };
        let mersenne = BigInt::from(2).pow(89) - 1;
        let smooth = BigInt::from(3).pow(45) * BigInt::from(7).pow(30) * BigInt::from(2).pow(70);
        let denominators = [BigInt::from(10).pow(25), BigInt::from(3) * BigInt::from(10).pow(25), mersenne, smooth];
        for case in 0..3 {
            let (m, k, p) = (4, 6, 5);
            let mut entry = |pick: usize| {
                let numer = BigInt::from(next() % 2001 - 1000);
                let numer = if case == 2 { numer * BigInt::from(next()).pow(5) } else { numer };
                let denom = match case {
                    0 => denominators[pick % 2].clone(),
                    _ => denominators[next() as usize % 4].clone(),
                };
                // Some entries share factors with their denominator, some are zero.
                let numer = if case > 0 && next() % 4 == 0 { numer * &denom / BigInt::from(5) } else { numer };
                BigRational::new(if next() % 7 == 0 { BigInt::zero() } else { numer }, denom)
            };
            let a: Vec<BigRational> = (0..m * k).map(&mut entry).collect();
            let b: Vec<BigRational> = (0..k * p).map(entry).collect();
            let naive: Vec<BigRational> = (0..m * p)
                .map(|ij| {
                    (0..k).map(|l| &a[ij / p * k + l] * &b[l * p + ij % p]).fold(BigRational::zero(), |s, x| s + x)
                })
                .collect();
            assert_eq!(terms(&exact_matmul(&a, &b, m, k, p)), terms(&naive), "case {case}");
            let sum = a.iter().fold(BigRational::zero(), |s, x| s + x);
            assert_eq!(terms(&[exact_sum(&a)]), terms(&[sum]), "case {case}");
        }
        // Sums that the large prime divides: x/M + (M - x)/M is 1, and
        // (1/M)·(M/3) + (2/M)·(M/3) is 1 too.
        let m: BigInt = BigInt::from(2).pow(89) - 1;
        let a = [BigRational::new(BigInt::from(5), m.clone()), BigRational::new(&m - 5, m.clone())];
        let ones = [BigRational::one(), BigRational::one()];
        assert_eq!(terms(&exact_matmul(&a, &ones, 1, 2, 1)), terms(&[BigRational::one()]));
        assert_eq!(terms(&[exact_sum(&a)]), terms(&[BigRational::one()]));
        let a = [BigRational::new(BigInt::one(), m.clone()), BigRational::new(BigInt::from(2), m.clone())];
        let b = [BigRational::new(m.clone(), BigInt::from(3)), BigRational::new(m.clone(), BigInt::from(3))];
        assert_eq!(terms(&exact_matmul(&a, &b, 1, 2, 1)), terms(&[BigRational::one()]));
    }

    #[test]
    fn transposed_products_read_in_place_match_the_copied_transpose() {
        let mut state = 3u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % 199) as i64 - 99
        };
        for (m, n, p) in [(7, 5, 0), (7, 5, 3), (1, 4, 0), (1, 4, 2), (33, 17, 9), (4, 1, 2)] {
            let a_exact: Vec<BigRational> = (0..m * n).map(|_| r(next(), 100)).collect();
            let a = Tensor::exact(vec![m, n], a_exact);
            // p = 0 stands for a vector [m].
            let dims = if p == 0 { vec![m] } else { vec![m, p] };
            let b_len = m * p.max(1);
            let b = Tensor::float(dims.clone(), (0..b_len).map(|_| next() as f64 / 7.0).collect());
            let b_exact = Tensor::exact(dims, (0..b_len).map(|_| r(next(), 3)).collect());
            for (x, y) in [(&a, &b), (&a.to_float(), &b), (&a.to_float(), &b_exact), (&a, &b_exact)] {
                let copied = x.transpose().unwrap().matmul(y).unwrap();
                let in_place = x.transpose_matmul(y).unwrap();
                assert_eq!(in_place, copied, "{m}x{n} by {p}");
                // And against a plain loop over the definition.
                let cols = p.max(1);
                for i in 0..n {
                    for j in 0..cols {
                        let sum: f64 = (0..m).map(|l| x.entry_f64(l * n + i) * y.entry_f64(l * cols + j)).sum();
                        assert!((in_place.entry_f64(i * cols + j) - sum).abs() < 1e-9, "{m}x{n} at {i},{j}");
                    }
                }
            }
        }
    }

    #[test]
    fn shape_rules_of_matmul_and_transpose() {
        let d = exact(&[2], &[(1, 1), (2, 1)]);
        let h = exact(&[3], &[(1, 1), (0, 1), (-1, 1)]);
        let outer = d.matmul(&h.transpose().unwrap()).unwrap();
        assert_eq!(outer.dims(), &[2, 3]);
        assert_eq!(outer.exact_string(5).unwrap(), "-2");
        let row = h.transpose().unwrap();
        assert_eq!(row.dims(), &[1, 3]);
        assert_eq!(row.transpose().unwrap().dims(), &[3]);
        assert!(d.matmul(&h).is_err());
    }

    #[test]
    fn softmax_is_stable_and_exactness_is_tracked() {
        let z = exact(&[2], &[(1000, 1), (0, 1)]);
        let s = z.softmax().unwrap();
        assert!(!s.is_exact());
        assert!((s.entry_f64(0) - 1.0).abs() < 1e-12);
        let half = exact(&[2], &[(0, 1), (0, 1)]).softmax().unwrap();
        assert_eq!(half.to_f64_vec(), vec![0.5, 0.5]);
        assert!((z.log_softmax().unwrap().entry_f64(1) + 1000.0).abs() < 1e-9);
    }

    #[test]
    fn errors_name_the_entry() {
        let x = exact(&[2], &[(1, 1), (0, 1)]);
        let e = x.map(Elementwise::Log).unwrap_err();
        assert_eq!(e.to_string(), "log of 0 at entry [1]");
        let one = Tensor::scalar_exact(r(1, 1));
        assert_eq!(one.div(&x).unwrap_err().to_string(), "division by zero at entry [1]");
        let big = exact(&[2, 2], &[(0, 1), (1, 1), (1000, 1), (0, 1)]);
        assert_eq!(big.map(Elementwise::Exp).unwrap_err().to_string(), "the value overflows f64 at entry [1, 0]");
    }

    #[test]
    fn huge_fractions_convert_to_f64() {
        let big = BigInt::from(3).pow(5000);
        let r = BigRational::new(big.clone() * BigInt::from(2), big.clone() * BigInt::from(7));
        assert!((rational_to_f64(&r) - 2.0 / 7.0).abs() < 1e-15);
        let tiny = BigRational::new(BigInt::one(), BigInt::from(2).pow(1100));
        assert_eq!(rational_to_f64(&tiny), 0.0);
        let huge = BigRational::from_integer(BigInt::from(2).pow(1100));
        assert_eq!(rational_to_f64(&-huge), f64::NEG_INFINITY);
    }

    #[test]
    fn exact_values_past_the_cap_continue_in_f64() {
        // t ← t² + 1/3 stays below 1 while its denominator grows as 3^(2^k).
        let mut t = Tensor::scalar_exact(r(1, 3));
        let third = Tensor::scalar_exact(r(1, 3));
        for _ in 0..12 {
            t = t.mul(&t).unwrap().add(&third).unwrap();
        }
        assert!(!t.is_exact());
        assert!(t.capped());
    }

    /// The f64 view of exact entries is made once and kept; what is made
    /// from the tensor (an update, a negation, a slice, a reshape) has its
    /// own entries and view, checked against f64 arithmetic done here.
    #[test]
    fn the_kept_f64_view_follows_every_new_value() {
        let w = exact(&[2, 2], &[(1, 10), (-3, 4), (7, 3), (0, 1)]);
        let plain = [0.1, -0.75, 7.0 / 3.0, 0.0];
        assert_eq!(*w.float_view(), plain);
        // The second read is the kept vector itself.
        assert!(std::ptr::eq(w.float_view().as_ptr(), w.float_view().as_ptr()));
        assert!(matches!(w.float_view(), std::borrow::Cow::Borrowed(_)));
        let g = Tensor::float(vec![2, 2], vec![1.0, 2.0, -4.0, 0.5]);
        // One SGD step, then another from the new value: each reads its own entries.
        let lr = Tensor::float(vec![], vec![0.5]);
        let step1 = w.sub(&lr.mul(&g).unwrap()).unwrap();
        let expect1: Vec<f64> = plain.iter().zip([1.0, 2.0, -4.0, 0.5]).map(|(w, g)| w - 0.5 * g).collect();
        assert_eq!(*step1.float_view(), *expect1);
        let step2 = step1.sub(&lr.mul(&g).unwrap()).unwrap();
        let expect2: Vec<f64> = expect1.iter().zip([1.0, 2.0, -4.0, 0.5]).map(|(w, g)| w - 0.5 * g).collect();
        assert_eq!(*step2.float_view(), *expect2);
        // Exact results of an exact tensor with a kept view: new entries, new view.
        let neg = w.neg();
        assert_eq!(*neg.float_view(), [-0.1, 0.75, -7.0 / 3.0, 0.0]);
        let doubled = w.add(&w).unwrap();
        assert!(doubled.is_exact());
        assert_eq!(*doubled.float_view(), [0.2, -1.5, 14.0 / 3.0, 0.0]);
        assert_eq!(*w.slice(2, vec![2]).float_view(), [7.0 / 3.0, 0.0]);
        assert_eq!(*w.reshaped(vec![4]).float_view(), plain);
        // A product reads the kept view: W x against a plain loop.
        let x = Tensor::float(vec![2], vec![2.0, -1.0]);
        let y = w.matmul(&x).unwrap();
        // (Within rounding: the kernel may fuse a multiply and an add.)
        for (got, want) in y.to_f64_vec().iter().zip([0.1 * 2.0 + 0.75, 7.0 / 3.0 * 2.0]) {
            assert!((got - want).abs() < 1e-15, "{got} against {want}");
        }
        // Equality and clones ignore whether the view was made.
        let fresh = exact(&[2, 2], &[(1, 10), (-3, 4), (7, 3), (0, 1)]);
        assert_eq!(w, fresh);
        assert_eq!(w.clone(), fresh);
    }
}
