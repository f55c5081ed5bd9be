//! Exact rational arithmetic in lowest terms without a general gcd.
//!
//! `num-rational` puts every result in lowest terms with num-bigint's binary
//! gcd, which walks the operands a bit at a time, shifting and subtracting
//! (and allocating) multi-limb numbers: on a deep exact network that was
//! about 60% of the run. But the denominators that occur here are products
//! of the denominators of the numbers in the file, and those are decimals:
//! 2^a · 5^b. The gcd of a numerator with such a denominator needs no
//! Euclid at all, only its trailing zero bits and a remainder by a power of
//! five. So a denominator is factored once over the small primes
//! ([`Factored`]); a result is reduced by removing from numerator and
//! denominator each small prime's common power (one pass over the
//! numerator's limbs per prime, machine-word divisions) and only the part
//! of the denominator with no small factor, usually 1, goes through a gcd.
//! The results are the same lowest terms `BigRational::new` gives.

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// The odd primes a denominator is factored over. Their product,
/// 307 444 891 294 245 705, fits in a u64, so one remainder finds which
/// of them divide a number.
const SMALL_ODD_PRIMES: [u32; 14] = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47];

/// The product of [`SMALL_ODD_PRIMES`].
const SMALL_ODD_PRODUCT: u64 = 307_444_891_294_245_705;
const _: () = {
    let mut product = 1u64;
    let mut i = 0;
    while i < SMALL_ODD_PRIMES.len() {
        product *= SMALL_ODD_PRIMES[i] as u64;
        i += 1;
    }
    assert!(product == SMALL_ODD_PRODUCT);
};

/// A positive integer as `2^twos · ∏ SMALL_ODD_PRIMES[i]^odd[i] · rest`,
/// where `rest` has no factor 2 nor any of the small odd primes.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Factored {
    twos: u64,
    odd: [u64; SMALL_ODD_PRIMES.len()],
    rest: BigUint,
}

impl Factored {
    /// The factorization of 1.
    pub(super) fn one() -> Factored {
        Factored { twos: 0, odd: [0; SMALL_ODD_PRIMES.len()], rest: BigUint::one() }
    }

    /// Factors a positive integer over the small primes: a shift for the
    /// twos, one remainder by [`SMALL_ODD_PRODUCT`] to see which odd ones
    /// divide it, and then a division per power of each prime that does.
    pub(super) fn of(n: &BigUint) -> Factored {
        assert!(!n.is_zero(), "only a positive integer is factored");
        let mut f = Factored::one();
        if n.is_one() {
            return f;
        }
        let mut n = n.clone();
        f.twos = n.trailing_zeros().unwrap_or(0);
        if f.twos > 0 {
            n >>= f.twos;
        }
        let r = rem_u64(&n, SMALL_ODD_PRODUCT);
        for (i, &p) in SMALL_ODD_PRIMES.iter().enumerate() {
            if r.is_multiple_of(u64::from(p)) {
                f.odd[i] = remove_prime(&mut n, p, u64::MAX);
            }
        }
        f.rest = n;
        f
    }

    /// Factors the magnitude of a nonzero integer.
    pub(super) fn of_int(n: &BigInt) -> Factored {
        Factored::of(n.magnitude())
    }

    /// The factorization of the product.
    pub(super) fn times(&self, other: &Factored) -> Factored {
        let mut odd = self.odd;
        for (e, o) in odd.iter_mut().zip(other.odd) {
            *e += o;
        }
        let rest = if other.rest.is_one() {
            self.rest.clone()
        } else if self.rest.is_one() {
            other.rest.clone()
        } else {
            &self.rest * &other.rest
        };
        Factored { twos: self.twos + other.twos, odd, rest }
    }

    /// Makes this the least common multiple of itself and `other`: the
    /// larger power of each small prime, and a gcd only for the rests.
    pub(super) fn lcm_with(&mut self, other: &Factored) {
        self.twos = self.twos.max(other.twos);
        for (e, o) in self.odd.iter_mut().zip(other.odd) {
            *e = (*e).max(o);
        }
        if !other.rest.is_one() && self.rest != other.rest {
            self.rest = if self.rest.is_one() { other.rest.clone() } else { self.rest.lcm(&other.rest) };
        }
    }

    /// The number itself.
    pub(super) fn value(&self) -> BigUint {
        let mut v = self.rest.clone();
        for (&p, &e) in SMALL_ODD_PRIMES.iter().zip(&self.odd) {
            if e > 0 {
                v *= BigUint::from(p).pow(u32::try_from(e).expect("a prime's exponent fits in u32"));
            }
        }
        v << self.twos
    }
}

/// `n mod q` for a nonzero `q`, reading `n`'s limbs from the top.
fn rem_u64(n: &BigUint, q: u64) -> u64 {
    let q = u128::from(q);
    n.iter_u64_digits().rev().fold(0u128, |r, d| ((r << 64) | u128::from(d)) % q) as u64
}

/// `n mod q` for a nonzero `q` below 2^32, in 64-bit machine divisions.
fn rem_u32(n: &BigUint, q: u32) -> u32 {
    let q = u64::from(q);
    n.iter_u32_digits().rev().fold(0u64, |r, d| ((r << 32) | u64::from(d)) % q) as u32
}

/// The largest power of `p` that fits in a u32, and its exponent.
fn word_power(p: u32) -> (u32, u64) {
    let (mut power, mut exponent) = (p, 1);
    while let Some(next) = power.checked_mul(p) {
        power = next;
        exponent += 1;
    }
    (power, exponent)
}

/// Divides `n` by `p` as often as it divides, at most `limit` times, and
/// says how often. Whole word-sized powers of `p` are removed with one
/// remainder and one division each; the last, partial power is read off
/// the remainder, which `p^v` divides exactly when `n` does (for `p^v`
/// below the word power).
pub(super) fn remove_prime(n: &mut BigUint, p: u32, limit: u64) -> u64 {
    let (power, exponent) = word_power(p);
    let mut removed = 0;
    while removed < limit && !n.is_zero() {
        let (q, j) = if limit - removed >= exponent {
            (power, exponent)
        } else {
            let j = limit - removed;
            (p.pow(j as u32), j)
        };
        let mut r = rem_u32(n, q);
        if r == 0 {
            *n = std::mem::take(n) / q;
            removed += j;
            continue;
        }
        let mut partial = 1u32;
        while r.is_multiple_of(p) {
            r /= p;
            partial *= p;
            removed += 1;
        }
        if partial > 1 {
            *n = std::mem::take(n) / partial;
        }
        break;
    }
    removed
}

/// `numer / denom` in lowest terms, where `factors` is the factorization
/// of `denom` (positive). The same value and representation as
/// `BigRational::new(numer, denom)`.
pub(super) fn lowest_terms(numer: BigInt, denom: BigUint, factors: &Factored) -> BigRational {
    debug_assert!(!denom.is_zero());
    if numer.is_zero() {
        return BigRational::zero();
    }
    let (sign, mut n) = numer.into_parts();
    let mut d = denom;
    let twos = n.trailing_zeros().unwrap_or(0).min(factors.twos);
    if twos > 0 {
        n >>= twos;
        d >>= twos;
    }
    for (&p, &e) in SMALL_ODD_PRIMES.iter().zip(&factors.odd) {
        if e > 0 {
            let removed = remove_prime(&mut n, p, e);
            if removed > 0 {
                d = divide_by_power(d, p, removed);
            }
        }
    }
    // The rest shares no small prime with what was removed, so its gcd
    // with the numerator is unchanged by the divisions above.
    if !factors.rest.is_one() {
        let g = (&n % &factors.rest).gcd(&factors.rest);
        if !g.is_one() {
            n /= &g;
            d /= &g;
        }
    }
    BigRational::new_raw(BigInt::from_biguint(sign, n), BigInt::from_biguint(Sign::Plus, d))
}

/// `n / p^e`, known to be exact, in word-sized steps. Divided by value:
/// num-bigint's `/=` by a word divides a copy, `/` on an owned number
/// divides its limbs in place.
fn divide_by_power(mut n: BigUint, p: u32, mut e: u64) -> BigUint {
    let (power, exponent) = word_power(p);
    while e >= exponent {
        n = std::mem::take(&mut n) / power;
        e -= exponent;
    }
    if e > 0 {
        n = std::mem::take(&mut n) / p.pow(e as u32);
    }
    n
}

/// `numer / denom` in lowest terms by a gcd in machine words, when both
/// fit in a u128 (decimals as written and sums of a few of them), where
/// factoring would cost more than it saves.
fn lowest_terms_in_words(numer: &BigInt, denom: &BigUint) -> Option<BigRational> {
    let (n, d) = (numer.magnitude().to_u128()?, denom.to_u128()?);
    let g = n.gcd(&d).max(1);
    Some(BigRational::new_raw(BigInt::from_biguint(numer.sign(), BigUint::from(n / g)), BigInt::from(d / g)))
}

/// `numer / denom` in lowest terms, the denominator's factors taken from
/// the factorizations of its two factors (computed only when needed).
fn reduce_product(numer: BigInt, denom: BigUint, factors: impl FnOnce() -> Factored) -> BigRational {
    match lowest_terms_in_words(&numer, &denom) {
        Some(r) => r,
        None => lowest_terms(numer, denom, &factors()),
    }
}

/// The factorization of a rational's (positive) denominator.
fn denominator_factors(r: &BigRational) -> Factored {
    Factored::of(r.denom().magnitude())
}

/// `a + b`, equal to `&a + &b` on `BigRational`s.
pub(super) fn add(a: &BigRational, b: &BigRational) -> BigRational {
    sum(a, b, false)
}

/// `a - b`, equal to `&a - &b` on `BigRational`s.
pub(super) fn sub(a: &BigRational, b: &BigRational) -> BigRational {
    sum(a, b, true)
}

fn sum(a: &BigRational, b: &BigRational, negate_b: bool) -> BigRational {
    if b.is_zero() {
        return a.clone();
    }
    if a.is_zero() {
        return if negate_b { -b } else { b.clone() };
    }
    if let Some(r) = sum_in_words(a, b, negate_b) {
        return r;
    }
    let combine = |x: BigInt, y: BigInt| if negate_b { x - y } else { x + y };
    if a.denom() == b.denom() {
        let numer = combine(a.numer().clone(), b.numer().clone());
        return reduce_product(numer, a.denom().magnitude().clone(), || denominator_factors(a));
    }
    // Over the product of the denominators, reduced once.
    let numer = combine(a.numer() * b.denom(), b.numer() * a.denom());
    let factors = || denominator_factors(a).times(&denominator_factors(b));
    reduce_product(numer, a.denom().magnitude() * b.denom().magnitude(), factors)
}

/// [`sum`] in machine words, when both numerators fit an i64 and both
/// denominators a u64 (a layer's exact product and its bias, decimals as
/// written): over the least common denominator `ad / g · bd` with `g =
/// gcd(ad, bd)`, in i128 and u128, then to lowest terms by one gcd, with no
/// big integer until the result. `None` when a step would leave the words.
fn sum_in_words(a: &BigRational, b: &BigRational, negate_b: bool) -> Option<BigRational> {
    let (an, ad) = (a.numer().to_i64()?, a.denom().to_u64()?);
    let (bn, bd) = (b.numer().to_i64()?, b.denom().to_u64()?);
    let g = ad.gcd(&bd);
    let (a_scale, b_scale) = (ad / g, bd / g);
    // |an|·bd/g and |bn|·ad/g are below 2^127 each, so their sum or
    // difference fits an i128 less one bit: checked all the same.
    let x = i128::from(an) * i128::from(b_scale);
    let y = i128::from(bn) * i128::from(a_scale);
    let numer = if negate_b { x.checked_sub(y)? } else { x.checked_add(y)? };
    let denom = u128::from(a_scale) * u128::from(bd);
    if numer == 0 {
        return Some(BigRational::zero());
    }
    let sign = if numer < 0 { Sign::Minus } else { Sign::Plus };
    // The gcd and the divisions in u64 when both fit (the common case,
    // where u128 division is a library call several times slower).
    let (n, d) = match (u64::try_from(numer.unsigned_abs()), u64::try_from(denom)) {
        (Ok(n), Ok(d)) => {
            let common = n.gcd(&d);
            (BigUint::from(n / common), BigUint::from(d / common))
        }
        _ => {
            let common = numer.unsigned_abs().gcd(&denom);
            (BigUint::from(numer.unsigned_abs() / common), BigUint::from(denom / common))
        }
    };
    Some(BigRational::new_raw(BigInt::from_biguint(sign, n), BigInt::from_biguint(Sign::Plus, d)))
}

/// `a · b`, equal to `&a * &b` on `BigRational`s. A factor 0 or ±1 (a
/// relu's or a step's derivative) costs no arithmetic.
pub(super) fn mul(a: &BigRational, b: &BigRational) -> BigRational {
    if a.is_zero() || b.is_zero() {
        return BigRational::zero();
    }
    for (unit, other) in [(a, b), (b, a)] {
        if unit.is_integer() && unit.numer().magnitude().is_one() {
            return if unit.is_negative() { -other } else { other.clone() };
        }
    }
    let factors = || denominator_factors(a).times(&denominator_factors(b));
    reduce_product(a.numer() * b.numer(), a.denom().magnitude() * b.denom().magnitude(), factors)
}

/// `a / b` for a nonzero `b`, equal to `&a / &b` on `BigRational`s.
pub(super) fn div(a: &BigRational, b: &BigRational) -> BigRational {
    assert!(!b.is_zero(), "division by an exact zero is refused before it is computed");
    if a.is_zero() {
        return BigRational::zero();
    }
    if b.is_integer() && b.numer().magnitude().is_one() {
        return if b.is_negative() { -a } else { a.clone() };
    }
    // a/b ÷ c/d = (a·d) / (b·c), the sign moved to the numerator.
    let numer = a.numer() * b.denom();
    let numer = if b.is_negative() { -numer } else { numer };
    let factors = || denominator_factors(a).times(&Factored::of_int(b.numer()));
    reduce_product(numer, a.denom().magnitude() * b.numer().magnitude(), factors)
}

/// A sum over the common denominator, reduced once (see `matmul::exact_matmul`).
pub(super) fn exact_sum(v: &[BigRational]) -> BigRational {
    let factors = common_factors(v.iter());
    let denom = BigInt::from(factors.value());
    let numer = v.iter().map(|r| over_denominator(r, &denom)).sum();
    lowest_terms(numer, denom.into_parts().1, &factors)
}

/// The least common multiple of the denominators of `values` (1 if none).
pub(super) fn common_denominator<'a>(values: impl Iterator<Item = &'a BigRational>) -> BigInt {
    BigInt::from(common_factors(values).value())
}

/// [`common_denominator`] factored over the small primes: the larger power
/// of each, so a general gcd is needed only for denominators with a large
/// prime factor.
pub(super) fn common_factors<'a>(values: impl Iterator<Item = &'a BigRational>) -> Factored {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// An integer of up to `bits` random bits.
        fn integer(&mut self, bits: u64) -> BigUint {
            let mut v = BigUint::zero();
            for _ in 0..bits.div_ceil(64) {
                v = (v << 64u32) + self.next();
            }
            let keep = self.below(bits + 1);
            v % (BigUint::one() << keep)
        }

        /// A denominator of the kinds that occur: powers of ten, products
        /// of small primes to high powers (past one word), a large prime
        /// factor (a non-decimal input), a mixture, or 1.
        fn denominator(&mut self) -> BigUint {
            let small = |rng: &mut Rng| {
                let mut d = BigUint::one();
                for _ in 0..rng.below(6) {
                    let p = SMALL_ODD_PRIMES[rng.below(SMALL_ODD_PRIMES.len() as u64) as usize];
                    d *= BigUint::from(p).pow(rng.below(40) as u32);
                }
                d << rng.below(150)
            };
            match self.below(6) {
                0 => BigUint::from(10u32).pow(self.below(120) as u32),
                1 | 2 => small(self),
                3 => self.integer(300) + 1u32,
                4 => small(self) * (self.integer(200) + 1u32),
                _ => BigUint::one(),
            }
        }

        /// A fraction with any sign, zero included, in lowest terms.
        fn fraction(&mut self) -> BigRational {
            let mut numer = match self.below(8) {
                0 => BigUint::zero(),
                1 => BigUint::one(),
                2 => self.integer(40),
                _ => self.integer(600),
            };
            let denom = self.denominator();
            // Numerators sharing factors with the denominator before
            // reduction, so that reduction has work to do.
            if self.below(3) == 0 {
                numer *= &denom;
            }
            let sign = if self.below(2) == 0 { Sign::Minus } else { Sign::Plus };
            BigRational::new(BigInt::from_biguint(sign, numer), BigInt::from_biguint(Sign::Plus, denom))
        }
    }

    /// The reference reduction: Euclid's algorithm written out here, not
    /// num-bigint's gcd nor the code under test.
    fn reference(numer: &BigInt, denom: &BigInt) -> (BigInt, BigInt) {
        let (mut x, mut y) = (numer.abs(), denom.abs());
        while !y.is_zero() {
            let r = &x % &y;
            x = std::mem::replace(&mut y, r);
        }
        let g = if x.is_zero() { BigInt::one() } else { x };
        let (mut n, mut d) = (numer / &g, denom / &g);
        if d.is_negative() {
            n = -n;
            d = -d;
        }
        if n.is_zero() {
            d = BigInt::one();
        }
        (n, d)
    }

    fn parts(r: &BigRational) -> (BigInt, BigInt) {
        (r.numer().clone(), r.denom().clone())
    }

    #[test]
    fn factoring_recovers_the_number_and_leaves_no_small_prime_in_the_rest() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let d = rng.denominator();
            let f = Factored::of(&d);
            assert_eq!(f.value(), d);
            assert!(f.rest.is_odd());
            for p in SMALL_ODD_PRIMES {
                assert!(!(&f.rest % p).is_zero(), "{p} divides the rest of {d}");
            }
        }
        // Exponents past one machine word of the prime's powers.
        let d = (BigUint::from(5u32).pow(100u32) * BigUint::from(3u32).pow(41u32)) << 70u32;
        let f = Factored::of(&d);
        assert_eq!((f.twos, f.odd[0], f.odd[1], f.rest.clone()), (70, 41, 100, BigUint::one()));
    }

    #[test]
    fn lowest_terms_match_euclid_on_generated_fractions() {
        let mut rng = Rng(12345);
        for _ in 0..3000 {
            let denom = rng.denominator();
            let mut numer = BigInt::from(rng.integer(700));
            if rng.below(3) == 0 {
                // A numerator with many factors in common with the denominator.
                numer *= BigInt::from(denom.clone()) * BigInt::from(rng.below(1000));
            }
            if rng.below(2) == 0 {
                numer = -numer;
            }
            let got = lowest_terms(numer.clone(), denom.clone(), &Factored::of(&denom));
            assert_eq!(parts(&got), reference(&numer, &BigInt::from(denom.clone())), "{numer} / {denom}");
        }
    }

    #[test]
    fn products_of_factorizations_reduce_like_the_product() {
        let mut rng = Rng(777);
        for _ in 0..500 {
            let (x, y) = (rng.denominator(), rng.denominator());
            let product = Factored::of(&x).times(&Factored::of(&y));
            assert_eq!(product.value(), &x * &y);
            let mut lcm = Factored::of(&x);
            lcm.lcm_with(&Factored::of(&y));
            let mut g = (x.clone(), y.clone());
            while !g.1.is_zero() {
                let r = &g.0 % &g.1;
                g = (g.1, r);
            }
            assert_eq!(lcm.value(), &x / &g.0 * &y);
        }
    }

    #[test]
    fn sums_of_word_sized_fractions_agree_with_euclid() {
        // Numerators and denominators at the edges of i64 and u64 (the
        // machine-word path and its fall-back), decimals, shared factors.
        let mut rng = Rng(99);
        let numers = [0, 1, -1, 7, -250, i64::MAX, i64::MIN, i64::MIN + 1, 1 << 62, -(1 << 40) - 3];
        let denoms = [1u64, 2, 10, 100, 10_000, 1 << 63, u64::MAX, u64::MAX - 1, 3 * (1 << 40), 999_999_937];
        let pick = |rng: &mut Rng| {
            let n = match rng.below(3) {
                0 => numers[rng.below(numers.len() as u64) as usize],
                _ => (rng.next() >> rng.below(64)) as i64,
            };
            let d = match rng.below(3) {
                0 => denoms[rng.below(denoms.len() as u64) as usize],
                _ => (rng.next() >> rng.below(64)).max(1),
            };
            BigRational::new(BigInt::from(n), BigInt::from(d))
        };
        for _ in 0..20_000 {
            let (a, b) = (pick(&mut rng), pick(&mut rng));
            let (an, ad, bn, bd) = (a.numer(), a.denom(), b.numer(), b.denom());
            assert_eq!(parts(&add(&a, &b)), reference(&(an * bd + bn * ad), &(ad * bd)), "{a} + {b}");
            assert_eq!(parts(&sub(&a, &b)), reference(&(an * bd - bn * ad), &(ad * bd)), "{a} - {b}");
        }
    }

    #[test]
    fn operations_agree_with_big_rational_arithmetic() {
        let mut rng = Rng(2024);
        for _ in 0..3000 {
            let (a, b) = (rng.fraction(), rng.fraction());
            let (an, ad, bn, bd) = (a.numer(), a.denom(), b.numer(), b.denom());
            // Each expected value from the textbook formula, reduced by Euclid.
            assert_eq!(parts(&add(&a, &b)), reference(&(an * bd + bn * ad), &(ad * bd)), "{a} + {b}");
            assert_eq!(parts(&sub(&a, &b)), reference(&(an * bd - bn * ad), &(ad * bd)), "{a} - {b}");
            assert_eq!(parts(&mul(&a, &b)), reference(&(an * bn), &(ad * bd)), "{a} * {b}");
            if !b.is_zero() {
                assert_eq!(parts(&div(&a, &b)), reference(&(an * bd), &(ad * bn)), "{a} / {b}");
            }
            // And with num-rational's own operators.
            assert_eq!(add(&a, &b), &a + &b);
            assert_eq!(mul(&a, &b), &a * &b);
        }
        let one = BigRational::one();
        let x = BigRational::new(BigInt::from(-6), BigInt::from(10).pow(30u32));
        assert_eq!(parts(&mul(&x, &-&one)), parts(&-&x));
        assert_eq!(parts(&div(&x, &-&one)), parts(&-&x));
        assert_eq!(parts(&sub(&x, &x)), (BigInt::zero(), BigInt::one()));
    }
}
