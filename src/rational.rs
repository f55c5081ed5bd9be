//! Comparing exact numbers without recursion.
//!
//! num-rational compares two ratios (and so `==`, `<`, `max`, sorting) by
//! their continued fractions: integer parts first, then, when those agree,
//! the reciprocals of the remainders, one nested call per partial quotient.
//! Two close values with long continued fractions (F(n)/F(n+1) against
//! F(n+1)/F(n+2) agree on n of them; an exact training step or a long
//! decimal gives such values) recurse that deep and overflow the stack.
//! Every layer compares `BigRational`s through [`cmp`] and [`eq`] instead:
//! equality by numerator and denominator, order by cross-multiplication,
//! each a constant number of big-integer operations.
//!
//! Here too is the size past which exact arithmetic gives up
//! ([`EXACT_BITS_CAP`]), which the graph's constant folding and the
//! evaluator both keep.

use std::borrow::Cow;
use std::cmp::Ordering;

use num_bigint::{BigInt, Sign};
use num_rational::BigRational;

/// Exact values whose numerator and denominator together need more bits
/// than this continue as f64 (many training steps would otherwise make
/// fractions of millions of digits), and constants are folded only while
/// the result stays within it: a product or power of long constants costs
/// about the square of its length to reduce.
pub const EXACT_BITS_CAP: u64 = 4096;

/// The bits of `r`'s numerator and denominator together.
pub fn bits(r: &BigRational) -> u64 {
    r.numer().bits() + r.denom().bits()
}

/// True when `a` and `b` are the same number. A `BigRational` made by its
/// arithmetic or by `BigRational::new` is in lowest terms with a positive
/// denominator, so equal numbers have equal parts (values built with
/// `new_raw` keep that form too: see `syntax::ast::Decimal::to_rational`);
/// a ratio not in that form is compared by value.
pub fn eq(a: &BigRational, b: &BigRational) -> bool {
    if a.numer() == b.numer() && a.denom() == b.denom() {
        return true;
    }
    if canonical_sign(a) && canonical_sign(b) && a.denom() == b.denom() {
        return false;
    }
    cmp(a, b) == Ordering::Equal
}

/// The order of `a` and `b` by value, from the signs, then the sizes of
/// the cross products, then the cross products themselves.
pub fn cmp(a: &BigRational, b: &BigRational) -> Ordering {
    let (an, ad) = positive_denominator(a);
    let (bn, bd) = positive_denominator(b);
    let (sa, sb) = (rank(an.sign()), rank(bn.sign()));
    if sa != sb || sa == 1 {
        return sa.cmp(&sb);
    }
    if ad == bd {
        return an.cmp(&bn);
    }
    // a/b against c/d with b, d > 0 is a·d against c·b. A product of
    // integers of p and q bits has p + q − 1 or p + q bits, so lengths
    // that differ by two or more decide the magnitudes without multiplying.
    let (left, right) = (an.bits() + bd.bits(), bn.bits() + ad.bits());
    if left.abs_diff(right) >= 2 {
        let larger = left.cmp(&right);
        return if sa == 2 { larger } else { larger.reverse() };
    }
    (&*an * &*bd).cmp(&(&*bn * &*ad))
}

/// The larger of `a` and `b`, `a` on a tie.
pub fn max<'a>(a: &'a BigRational, b: &'a BigRational) -> &'a BigRational {
    if cmp(b, a) == Ordering::Greater {
        b
    } else {
        a
    }
}

/// The smaller of `a` and `b`, `a` on a tie.
pub fn min<'a>(a: &'a BigRational, b: &'a BigRational) -> &'a BigRational {
    if cmp(b, a) == Ordering::Less {
        b
    } else {
        a
    }
}

/// Negative, zero and positive as 0, 1 and 2.
fn rank(sign: Sign) -> u8 {
    match sign {
        Sign::Minus => 0,
        Sign::NoSign => 1,
        Sign::Plus => 2,
    }
}

fn canonical_sign(r: &BigRational) -> bool {
    r.denom().sign() == Sign::Plus
}

/// The numerator and denominator with the sign moved onto the numerator.
fn positive_denominator(r: &BigRational) -> (Cow<'_, BigInt>, Cow<'_, BigInt>) {
    if r.denom().sign() == Sign::Minus {
        (Cow::Owned(-r.numer()), Cow::Owned(-r.denom()))
    } else {
        (Cow::Borrowed(r.numer()), Cow::Borrowed(r.denom()))
    }
}

/// F(n+1)/F(n+2) and F(n+2)/F(n+3) (Fibonacci numbers): two close values
/// whose continued fractions agree on n partial quotients, all 1.
#[cfg(test)]
pub(crate) fn close_fibonacci_ratios(n: usize) -> (BigRational, BigRational) {
    let (mut a, mut b) = (BigInt::from(1), BigInt::from(1));
    for _ in 0..n {
        let next = &a + &b;
        a = std::mem::replace(&mut b, next);
    }
    let c = &a + &b;
    (BigRational::new(a, b.clone()), BigRational::new(b, c))
}

#[cfg(test)]
mod tests {
    use num_traits::{Signed, ToPrimitive};

    use super::*;

    fn q(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    /// Small fractions, some with a negative or unreduced denominator,
    /// against their f64 values (distinct ones differ by at least 1/64, so
    /// f64 orders them exactly) and num-rational's order (its recursion is
    /// shallow here) where the form is its own.
    #[test]
    fn agrees_with_f64_and_num_rational_on_small_values() {
        let raw = |n: i64, d: i64| BigRational::new_raw(n.into(), d.into());
        let values: Vec<BigRational> = (-7..=7)
            .flat_map(|n| (1..=6).map(move |d| q(n, d)))
            .chain([raw(3, -4), raw(-6, -8), raw(2, 4), raw(0, -3)])
            .collect();
        let f = |r: &BigRational| r.numer().to_f64().unwrap() / r.denom().to_f64().unwrap();
        for a in &values {
            for b in &values {
                let expect = f(a).partial_cmp(&f(b)).unwrap();
                assert_eq!(cmp(a, b), expect, "{a} against {b}");
                assert_eq!(eq(a, b), expect == Ordering::Equal, "{a} against {b}");
                assert_eq!(f(max(a, b)), f(a).max(f(b)));
                assert_eq!(f(min(a, b)), f(a).min(f(b)));
                assert!(std::ptr::eq(max(a, b), a) == (cmp(b, a) != Ordering::Greater), "a tie keeps the first");
                if a.denom().is_positive() && b.denom().is_positive() {
                    assert_eq!(cmp(a, b), a.cmp(b), "{a} against {b}");
                }
            }
        }
    }

    #[test]
    fn lengths_decide_without_multiplying_and_agree_with_the_product() {
        let big = BigRational::new(BigInt::from(10).pow(300) + 1, BigInt::from(7));
        let small = BigRational::new(BigInt::from(3), BigInt::from(10).pow(300) + 7);
        assert_eq!(cmp(&big, &small), Ordering::Greater);
        assert_eq!(cmp(&-big.clone(), &-small.clone()), Ordering::Less);
        assert_eq!(cmp(&small, &-big.clone()), Ordering::Greater);
        // Equal lengths: the products decide (1/3 < 0.3334).
        assert_eq!(cmp(&q(1, 3), &q(3334, 10_000)), Ordering::Less);
        assert_eq!(cmp(&q(-1, 3), &q(-3334, 10_000)), Ordering::Greater);
    }

    /// num-rational's own `cmp` and `==` recurse 200 000 deep on these and
    /// overflow this thread's stack every time; these run in a few
    /// multiplications.
    #[test]
    fn long_continued_fractions_compare_on_a_small_stack() {
        let (a, b) = close_fibonacci_ratios(200_000);
        let order = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                assert!(!eq(&a, &b));
                assert!(eq(&a, &a.clone()));
                // F(n)/F(n+1) alternates around 1/φ, so the order of two
                // neighbours depends on n's parity: the product says which.
                let expect = (a.numer() * b.denom()).cmp(&(b.numer() * a.denom()));
                assert_eq!(cmp(&a, &b), expect);
                assert_eq!(cmp(&b, &a), expect.reverse());
                assert_eq!(max(&a, &b), if expect == Ordering::Less { &b } else { &a });
                expect
            })
            .expect("thread starts")
            .join()
            .expect("no overflow");
        // Cassini: F(n+1) F(n+3) − F(n+2)² = (−1)ⁿ, so for even n the first is the larger.
        assert_eq!(order, Ordering::Greater);
    }
}
