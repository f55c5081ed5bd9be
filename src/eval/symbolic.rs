//! Values in the entries that a file leaves open.
//!
//! A declared tensor without a value (a target the problem never states, a
//! parameter left for later) enters evaluation as one unknown per entry,
//! `y₁, y₂`. Every value computed from it is then an expression in those
//! unknowns: a polynomial whose coefficients are exact or f64 like any
//! other number, whose variables are the unknowns and, where a function
//! cannot be applied to a non-constant, the function's call itself
//! (`relu(0.1 w₁ − 0.2)`), a reciprocal `(…)⁻¹` or a power. Sums and
//! products are collected, so an affine quantity stays affine and prints as
//! one: `0.2182 − y₁`.
//!
//! Every expression is bounded: one that would grow past [`SIZE_LIMIT`]
//! becomes [`Sym::TooLarge`], which the writers show as such (the formula
//! still says how it is computed).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::rc::Rc;

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use crate::model::Elementwise;

/// The largest expression written out, counted in terms and variables
/// (see [`Poly::size`]); past it a value is [`Sym::TooLarge`].
pub const SIZE_LIMIT: usize = 100;

/// A coefficient: exact, or f64 once any f64 took part.
#[derive(Clone, Debug)]
pub enum Num {
    Exact(BigRational),
    Float(f64),
}

impl Num {
    pub fn zero() -> Num {
        Num::Exact(BigRational::zero())
    }

    pub fn one() -> Num {
        Num::Exact(BigRational::one())
    }

    pub fn is_zero(&self) -> bool {
        match self {
            Num::Exact(r) => r.is_zero(),
            Num::Float(x) => *x == 0.0,
        }
    }

    pub fn is_negative(&self) -> bool {
        match self {
            Num::Exact(r) => r.is_negative(),
            Num::Float(x) => *x < 0.0,
        }
    }

    pub fn to_f64(&self) -> f64 {
        match self {
            Num::Exact(r) => super::number::rational_to_f64(r),
            Num::Float(x) => *x,
        }
    }

    pub fn add(&self, other: &Num) -> Num {
        match (self, other) {
            (Num::Exact(a), Num::Exact(b)) => Num::Exact(a + b),
            _ => Num::Float(self.to_f64() + other.to_f64()),
        }
    }

    pub fn mul(&self, other: &Num) -> Num {
        match (self, other) {
            (Num::Exact(a), Num::Exact(b)) => Num::Exact(a * b),
            _ => Num::Float(self.to_f64() * other.to_f64()),
        }
    }

    pub fn neg(&self) -> Num {
        match self {
            Num::Exact(r) => Num::Exact(-r),
            Num::Float(x) => Num::Float(-x),
        }
    }

    pub fn abs(&self) -> Num {
        if self.is_negative() {
            self.neg()
        } else {
            self.clone()
        }
    }

    /// 1/x, or `None` for zero.
    pub fn recip(&self) -> Option<Num> {
        if self.is_zero() {
            return None;
        }
        Some(match self {
            Num::Exact(r) => Num::Exact(r.recip()),
            Num::Float(x) => Num::Float(1.0 / x),
        })
    }

    fn is_one(&self) -> bool {
        match self {
            Num::Exact(r) => r.is_one(),
            Num::Float(x) => *x == 1.0,
        }
    }
}

// A total order, so that expressions can be keys: exact before f64, f64 by
// `total_cmp` (values are always finite: the tensor checks them).
impl Ord for Num {
    fn cmp(&self, other: &Num) -> Ordering {
        match (self, other) {
            (Num::Exact(a), Num::Exact(b)) => crate::rational::cmp(a, b),
            (Num::Float(a), Num::Float(b)) => a.total_cmp(b),
            (Num::Exact(_), Num::Float(_)) => Ordering::Less,
            (Num::Float(_), Num::Exact(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Num {
    fn eq(&self, other: &Num) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Num {}

/// An unknown entry: entry `index` (0-based, row-major multi-index) of the
/// declared tensor `name`, the `order`-th declaration of the file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unknown {
    /// Unknowns sort in the file's order, then by entry.
    pub order: u32,
    pub name: Rc<str>,
    pub index: Vec<usize>,
}

/// A variable of a polynomial.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Atom {
    /// An entry the file leaves open.
    Unknown(Unknown),
    /// A built-in function of expressions, at least one not a constant.
    Call(Elementwise, Vec<Poly>),
    /// 1/p for a non-constant p.
    Recip(Poly),
    /// p^e for a non-constant p and an exponent that is not a small integer.
    Power(Poly, BigRational),
}

/// A product of variables with exponents, sorted by variable.
pub type Monomial = Vec<(Atom, u32)>;

/// A sum of monomials with nonzero coefficients; the empty monomial is the
/// constant term.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Poly {
    terms: BTreeMap<Monomial, Num>,
}

/// An entry of a value with unknowns: an expression, or one too large to write out.
#[derive(Clone, Debug, PartialEq)]
pub enum Sym {
    Poly(Poly),
    TooLarge,
}

impl Poly {
    pub fn constant(c: Num) -> Poly {
        let mut terms = BTreeMap::new();
        if !c.is_zero() {
            terms.insert(Vec::new(), c);
        }
        Poly { terms }
    }

    pub fn atom(a: Atom) -> Poly {
        let mut terms = BTreeMap::new();
        terms.insert(vec![(a, 1)], Num::one());
        Poly { terms }
    }

    pub fn unknown(u: Unknown) -> Poly {
        Poly::atom(Atom::Unknown(u))
    }

    /// The terms, constant first, then by variable.
    pub fn terms(&self) -> impl Iterator<Item = (&Monomial, &Num)> {
        self.terms.iter()
    }

    /// The value, when the expression is a constant.
    pub fn as_constant(&self) -> Option<Num> {
        match self.terms.len() {
            0 => Some(Num::zero()),
            1 => self.terms.get(&Vec::new()).cloned(),
            _ => None,
        }
    }

    /// How large the expression is written out: one per term and per
    /// variable, variables counted with the size of their arguments.
    pub fn size(&self) -> usize {
        self.terms.keys().map(|m| 1 + m.iter().map(|(a, _)| a.size()).sum::<usize>()).sum()
    }

    pub fn add(&self, other: &Poly) -> Poly {
        let (mut out, from) =
            if self.terms.len() >= other.terms.len() { (self.clone(), other) } else { (other.clone(), self) };
        for (m, c) in &from.terms {
            out.add_term(m.clone(), c.clone());
        }
        out
    }

    fn add_term(&mut self, m: Monomial, c: Num) {
        match self.terms.get_mut(&m) {
            Some(old) => {
                let sum = old.add(&c);
                if sum.is_zero() {
                    self.terms.remove(&m);
                } else {
                    *old = sum;
                }
            }
            None if !c.is_zero() => {
                self.terms.insert(m, c);
            }
            None => {}
        }
    }

    pub fn neg(&self) -> Poly {
        Poly { terms: self.terms.iter().map(|(m, c)| (m.clone(), c.neg())).collect() }
    }

    pub fn sub(&self, other: &Poly) -> Poly {
        self.add(&other.neg())
    }

    pub fn scale(&self, k: &Num) -> Poly {
        if k.is_zero() {
            return Poly::default();
        }
        Poly { terms: self.terms.iter().map(|(m, c)| (m.clone(), c.mul(k))).collect() }
    }

    pub fn mul(&self, other: &Poly) -> Poly {
        if let Some(k) = other.as_constant() {
            return self.scale(&k);
        }
        if let Some(k) = self.as_constant() {
            return other.scale(&k);
        }
        let mut out = Poly::default();
        for (m1, c1) in &self.terms {
            for (m2, c2) in &other.terms {
                let m = multiply(m1, m2);
                // p · p⁻¹ = 1: a reciprocal meets the expression it inverts.
                let m = cancel_reciprocals(m);
                out.add_term(m, c1.mul(c2));
            }
        }
        out
    }

    /// 1/p: a number for a constant (an error for 0), else the variable p⁻¹
    /// (with a single-term p, its coefficient taken out: (2y)⁻¹ = 0.5 y⁻¹).
    pub fn recip(&self) -> Option<Poly> {
        if let Some(c) = self.as_constant() {
            return c.recip().map(Poly::constant);
        }
        if self.terms.len() == 1 {
            let (m, c) = self.terms.iter().next()?;
            if let [(Atom::Recip(inner), 1)] = m.as_slice() {
                return Some(inner.scale(&c.recip()?));
            }
            if !c.is_one() {
                let monic = Poly { terms: [(m.clone(), Num::one())].into() };
                return Some(Poly::atom(Atom::Recip(monic)).scale(&c.recip()?));
            }
        }
        Some(Poly::atom(Atom::Recip(self.clone())))
    }

    /// p^k for a whole k; `None` for 0 to a negative power.
    pub fn pow_int(&self, k: i64) -> Option<Poly> {
        let base = if k < 0 { self.recip()? } else { self.clone() };
        let mut out = Poly::constant(Num::one());
        // Always the whole product: a partial one would be a wrong value
        // wherever a caller does not check the size (the exponents are
        // small: at most 8 from `power`, a bounded monomial's otherwise).
        for _ in 0..k.unsigned_abs() {
            out = out.mul(&base);
        }
        Some(out)
    }

    /// The unknowns that occur, in order.
    pub fn unknowns(&self, out: &mut Vec<Unknown>) {
        for m in self.terms.keys() {
            for (a, _) in m {
                a.unknowns(out);
            }
        }
    }
}

impl Atom {
    fn size(&self) -> usize {
        match self {
            Atom::Unknown(_) => 1,
            Atom::Call(_, args) => 1 + args.iter().map(Poly::size).sum::<usize>(),
            Atom::Recip(p) | Atom::Power(p, _) => 1 + p.size(),
        }
    }

    fn unknowns(&self, out: &mut Vec<Unknown>) {
        match self {
            Atom::Unknown(u) => {
                if let Err(i) = out.binary_search(u) {
                    out.insert(i, u.clone());
                }
            }
            Atom::Call(_, args) => args.iter().for_each(|p| p.unknowns(out)),
            Atom::Recip(p) | Atom::Power(p, _) => p.unknowns(out),
        }
    }
}

/// The product of two monomials, exponents added.
fn multiply(a: &Monomial, b: &Monomial) -> Monomial {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            Ordering::Less => {
                out.push(a[i].clone());
                i += 1;
            }
            Ordering::Greater => {
                out.push(b[j].clone());
                j += 1;
            }
            Ordering::Equal => {
                out.push((a[i].0.clone(), a[i].1 + b[j].1));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// A monomial with `q` and `q⁻¹` both in it, where q is a single variable
/// (`y₁ · y₁⁻¹`), loses both.
fn cancel_reciprocals(mut m: Monomial) -> Monomial {
    let mut k = 0;
    while k < m.len() {
        if let (Atom::Recip(inner), e) = &m[k] {
            let e = *e;
            let single = match inner.terms.iter().next() {
                Some((im, c)) if inner.terms.len() == 1 && c.is_one() && im.len() == 1 && im[0].1 == 1 => {
                    Some(im[0].0.clone())
                }
                _ => None,
            };
            if let Some(atom) = single {
                if let Some(j) = m.iter().position(|(a, _)| *a == atom) {
                    let common = e.min(m[j].1);
                    m[j].1 -= common;
                    m[k].1 -= common;
                }
            }
        }
        k += 1;
    }
    m.retain(|(_, e)| *e > 0);
    m
}

impl Sym {
    /// `p`, or [`Sym::TooLarge`] past the size limit.
    pub fn bounded(p: Poly) -> Sym {
        if p.size() > SIZE_LIMIT {
            Sym::TooLarge
        } else {
            Sym::Poly(p)
        }
    }

    pub fn constant(c: Num) -> Sym {
        Sym::Poly(Poly::constant(c))
    }

    /// The value, when the entry is a number.
    pub fn as_constant(&self) -> Option<Num> {
        match self {
            Sym::Poly(p) => p.as_constant(),
            Sym::TooLarge => None,
        }
    }

    /// `op` on two entries; too large in, too large out.
    pub fn zip<E>(&self, other: &Sym, op: impl Fn(&Poly, &Poly) -> Result<Poly, E>) -> Result<Sym, E> {
        match (self, other) {
            (Sym::Poly(a), Sym::Poly(b)) => Ok(Sym::bounded(op(a, b)?)),
            _ => Ok(Sym::TooLarge),
        }
    }

    /// `op` on one entry.
    pub fn map<E>(&self, op: impl Fn(&Poly) -> Result<Poly, E>) -> Result<Sym, E> {
        match self {
            Sym::Poly(a) => Ok(Sym::bounded(op(a)?)),
            Sym::TooLarge => Ok(Sym::TooLarge),
        }
    }
}

/// `x^e` for an expression and a rational exponent: multiplied out for a
/// small whole exponent, else the variable `(x)^e`. `None` for 0⁻¹.
pub fn power(x: &Poly, e: &BigRational) -> Option<Poly> {
    if e.is_integer() {
        if let Some(k) = e.to_integer().to_i64().filter(|k| k.unsigned_abs() <= 8) {
            return x.pow_int(k);
        }
    }
    Some(Poly::atom(Atom::Power(x.clone(), e.clone())))
}

/// The whole number `n` as a coefficient.
pub fn count(n: usize) -> Num {
    Num::Exact(BigRational::from_integer(BigInt::from(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(i: usize) -> Poly {
        Poly::unknown(Unknown { order: 0, name: "y".into(), index: vec![i] })
    }

    fn c(n: i64, d: i64) -> Poly {
        Poly::constant(Num::Exact(BigRational::new(n.into(), d.into())))
    }

    #[test]
    fn sums_collect_like_terms_and_drop_zeros() {
        let p = y(0).add(&c(1, 2)).add(&y(0)).sub(&y(1));
        // 1/2 + 2 y₁ − y₂: three terms.
        assert_eq!(p.terms().count(), 3);
        assert_eq!(p.sub(&p), Poly::default());
        assert_eq!(p.sub(&p).as_constant(), Some(Num::zero()));
    }

    #[test]
    fn products_expand_and_constants_scale() {
        // (1 + y₁)(1 − y₁) = 1 − y₁²
        let p = c(1, 1).add(&y(0)).mul(&c(1, 1).sub(&y(0)));
        let squared = Poly::atom(Atom::Unknown(Unknown { order: 0, name: "y".into(), index: vec![0] }));
        let expect = c(1, 1).sub(&squared.mul(&squared));
        assert_eq!(p, expect);
        assert_eq!(y(0).scale(&Num::zero()), Poly::default());
    }

    #[test]
    fn exact_and_float_coefficients_mix_to_float() {
        let p = y(0).scale(&Num::Float(0.25)).add(&y(0).scale(&Num::Exact(BigRational::new(1.into(), 4.into()))));
        let (_, k) = p.terms().next().unwrap();
        assert_eq!(k, &Num::Float(0.5));
    }

    #[test]
    fn reciprocals_cancel_and_invert() {
        let r = y(0).recip().unwrap();
        assert_eq!(y(0).mul(&r), c(1, 1));
        assert_eq!(r.recip().unwrap(), y(0));
        // (2 y₁)⁻¹ = ½ y₁⁻¹
        let half = y(0).scale(&Num::Exact(BigRational::from_integer(2.into()))).recip().unwrap();
        assert_eq!(half, r.scale(&Num::Exact(BigRational::new(1.into(), 2.into()))));
        assert_eq!(c(0, 1).recip(), None);
    }

    #[test]
    fn large_expressions_are_bounded() {
        // (y₁ + … + y₂₀)² has 210 terms, with 2 variables each at most.
        let s = (0..20).map(y).fold(Poly::default(), |a, b| a.add(&b));
        assert!(matches!(Sym::bounded(s.mul(&s)), Sym::TooLarge));
        assert!(matches!(Sym::bounded(s), Sym::Poly(_)));
    }
}
