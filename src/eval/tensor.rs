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

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};

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
    /// An embedding lookup's id that is not a whole number from 0 to `rows` − 1.
    NotAnId {
        value: f64,
        rows: usize,
    },
    /// Shapes that the checker should have refused.
    Shape(String),
    /// An operation computed on numbers only met an entry left open.
    Unknowns {
        operation: &'static str,
    },
    /// A softmax mask's entry that is neither 0 nor 1 (a value given after
    /// the checker, with `--given`).
    NotAMask(f64),
    /// A softmax mask that keeps no entry of a row (`row`) or column.
    MaskKeepsNothing {
        row: bool,
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
                return write!(
                    f,
                    "the target's entry {} is {value}, {outside}",
                    crate::layout::entry_index("", &self.index)
                );
            }
            NumericErrorKind::NotAClass { value, classes } => {
                format!("the class label {value} is not a whole number from 0 to {}", classes.saturating_sub(1))
            }
            NumericErrorKind::NotAnId { value, rows } => {
                format!("the id {value} is not a row of the table: a whole number from 0 to {}", rows.saturating_sub(1))
            }
            NumericErrorKind::Shape(s) => return write!(f, "shape error: {s}"),
            NumericErrorKind::Unknowns { operation } => {
                return write!(f, "{operation} is computed on numbers only, and an operand has entries left open")
            }
            NumericErrorKind::NotAMask(x) => format!("the mask's entry {x} is neither 0 nor 1"),
            NumericErrorKind::MaskKeepsNothing { row } => {
                let (lane, n) = if *row { ("row", self.index.first()) } else { ("column", self.index.get(1)) };
                let n = n.copied().unwrap_or(0);
                return write!(
                    f,
                    "the mask keeps no entry of {lane} {} (NumPy {lane} {n}): a softmax over no entries is 0/0",
                    n + 1
                );
            }
        };
        if self.index.is_empty() {
            write!(f, "{what}")
        } else {
            write!(f, "{what} at entry {}", crate::layout::entry_index("", &self.index))
        }
    }
}

// The elementwise built-ins are the model's table; their numeric rules are here.
use crate::model::ops::elementwise::Domain;
use crate::model::{Elementwise, Shape};

use super::exact::{self, exact_sum};
use super::matmul::{exact_matmul, float_matmul, float_matmul_strided};
use super::number::*;
pub use super::number::{decimal_to_f64, decimals_to_f64, rational_to_f64};
use super::symbolic::{self, Num, Poly, Sym, Unknown};
use crate::rational;

/// The exact value of a rational built-in (relu, step, sign, abs, softsign;
/// with its second argument `y`, leaky_relu, max and min); `None` for the
/// others, which are computed in f64, and for a call with the wrong number
/// of arguments. The kernel is the built-in's own (`model::ops::elementwise`).
fn exact_of(f: Elementwise, x: &BigRational, y: Option<&BigRational>) -> Option<BigRational> {
    if y.is_some() != (f.arity() == 2) {
        return None;
    }
    f.op().exact(x, y.unwrap_or(&BigRational::zero()))
}

pub(super) use crate::model::ops::elementwise::{sigmoid, softplus};

/// The f64 value (with the second argument `y` of leaky_relu, max and
/// min), or what is wrong with the arguments. The kernel is the built-in's
/// own (`model::ops::elementwise`); a value that is not finite is refused here.
fn float_of(f: Elementwise, x: f64, y: Option<f64>) -> Result<f64, NumericErrorKind> {
    // The checker gives each call its arity; these are never reached.
    match (f.arity(), y) {
        (2, None) => return Err(NumericErrorKind::Shape(format!("{} takes two arguments", f.name()))),
        (1, Some(_)) => return Err(NumericErrorKind::Shape(format!("{} takes one argument", f.name()))),
        _ => {}
    }
    let v = f.op().float(x, y.unwrap_or(0.0)).map_err(|domain| match domain {
        Domain::LogOfNonPositive(x) => NumericErrorKind::LogOfNonPositive(x),
        Domain::SqrtOfNegative(x) => NumericErrorKind::SqrtOfNegative(x),
    })?;
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

    /// The entries of f64 data, moved out (`None` for exact or symbolic
    /// data): a caller that lent its buffer to a tensor takes it back.
    pub fn into_float(self) -> Option<Vec<f64>> {
        match self.data {
            Data::Float(v) => Some(v),
            _ => None,
        }
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

    /// How a vector `[F]` is spread over a map `[F, H, W]` or a batch of
    /// maps `[N, F, H, W]` (see `Shape::broadcasts_over`): how many entries
    /// each entry covers in a row, and F (after F runs the batch's next map
    /// starts again at entry 0).
    fn spread(vector: &[usize], map: &[usize]) -> Option<(usize, usize)> {
        let axis = Shape(vector.to_vec()).spread_axis(&Shape(map.to_vec()))?;
        Some((map[axis + 1..].iter().product::<usize>().max(1), map[axis].max(1)))
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
    /// The entries as f64: exact entries converted once and then kept.
    pub fn float_view(&self) -> std::borrow::Cow<'_, [f64]> {
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
            if let Some(&x) = v.get(i).filter(|x| x.is_finite() && **x != 0.0) {
                return super::shortest::write_shortest(x, out);
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

/// Where an operand of an elementwise operation is read for each entry of
/// the result (row-major flat indices on both sides).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Reader {
    /// The operand has the result's shape: entry i.
    Same,
    /// One value for every entry.
    One,
    /// A vector `[F]` spread over a map `[F, H, W]` or `[N, F, H, W]`:
    /// `per` entries each, F entries to a map.
    Spread { per: usize, channels: usize },
    /// A matrix whose size-1 axes stretch over the result's `[R, C]`: a
    /// column over every column, a row over every row.
    Stretch { cols: usize, out_cols: usize, one_row: bool, one_col: bool },
}

impl Reader {
    /// How `operand` is read to fill `out`, or `None` when it cannot be.
    pub(super) fn new(operand: &[usize], out: &[usize]) -> Option<Reader> {
        let matrix = Shape::matrix_of;
        if Shape::same_dims(operand, out) {
            return Some(Reader::Same);
        }
        if operand.iter().product::<usize>() == 1 {
            return Some(Reader::One);
        }
        if let Some((per, channels)) = Tensor::spread(operand, out) {
            return Some(Reader::Spread { per, channels });
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
    #[inline]
    pub(super) fn index(self, i: usize) -> usize {
        match self {
            Reader::Same => i,
            Reader::One => 0,
            Reader::Spread { per, channels } => (i / per) % channels,
            Reader::Stretch { cols, out_cols, one_row, one_col } => {
                let row = if one_row { 0 } else { i / out_cols };
                let col = if one_col { 0 } else { i % out_cols };
                row * cols + col
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_traits::One;

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
                let window = crate::model::Window::plain(2, 2, [2, 2]);
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
        assert_eq!(e.to_string(), "log of 0 at entry [2] (NumPy [1])");
        let one = Tensor::scalar_exact(r(1, 1));
        assert_eq!(one.div(&x).unwrap_err().to_string(), "division by zero at entry [2] (NumPy [1])");
        let big = exact(&[2, 2], &[(0, 1), (1, 1), (1000, 1), (0, 1)]);
        assert_eq!(
            big.map(Elementwise::Exp).unwrap_err().to_string(),
            "the value overflows f64 at entry [2,1] (NumPy [1,0])"
        );
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
