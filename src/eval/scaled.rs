//! Exact kernels in machine integers, for operands whose entries share a
//! small common denominator.
//!
//! Every number written in a `.nn` file is a decimal, and until the first
//! division or transcendental function every value computed from them is
//! one too, with a bounded number of places: a convolution of decimal maps
//! by decimal kernels, a max-pool of its relu. Done entry by entry in
//! `BigRational`s, such a kernel costs a big-integer product per
//! multiply-add and a big-integer gcd per result. Here each operand is
//! instead written once as i64 numerators over one common denominator
//! ([`Scaled`]), the kernel runs on machine integers, and each result is
//! brought to lowest terms once, by a gcd in machine words.
//!
//! The common denominator is the least common multiple of the entries'
//! denominators, so decimals (denominators dividing a power of ten) and any
//! other fractions whose denominators stay within a u64 (thirds, halves)
//! take this path alike; an operand that does not fit, or a sum that could
//! leave an i128, is refused (`None`) and the caller runs its big-integer
//! loop. Nothing ever wraps: every bound is checked before the arithmetic.
//! The results are the same `BigRational`s, numerator and denominator, as
//! the big-integer loops give.

use num_rational::BigRational;
use num_traits::ToPrimitive;

use super::matmul::{machine_lowest_terms, FLOAT_EXACT_BITS};

/// Exact entries as i64 numerators over one common denominator: entry `i`
/// is `numer[i] / denom`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Scaled {
    pub(super) numer: Vec<i64>,
    pub(super) denom: u64,
}

impl Scaled {
    /// `v` over the least common multiple of its denominators, or `None`
    /// when that multiple leaves a u64 or a numerator over it leaves an i64.
    pub(super) fn of(v: &[BigRational]) -> Option<Scaled> {
        let mut denom = 1u64;
        // Most entries share a denominator with the one before (a file's
        // decimals have a few places each): each distinct run costs one
        // divisibility test, and only a new factor a gcd.
        let mut last = 1u64;
        for r in v {
            let d = r.denom().to_u64()?;
            if d == last || denom.is_multiple_of(d) {
                last = d;
                continue;
            }
            denom = (denom / num_integer::Integer::gcd(&denom, &d)).checked_mul(d)?;
            last = d;
        }
        let numer = v
            .iter()
            .map(|r| {
                let (n, d) = (r.numer().to_i64()?, r.denom().to_u64()?);
                n.checked_mul(i64::try_from(denom / d).ok()?)
            })
            .collect::<Option<Vec<i64>>>()?;
        Some(Scaled { numer, denom })
    }

    /// The bits of the largest numerator's magnitude.
    fn bits(&self) -> u32 {
        magnitude_bits(&self.numer)
    }
}

/// The bits of the largest magnitude among `v` (0 when all are 0).
fn magnitude_bits(v: &[i64]) -> u32 {
    v.iter().map(|x| 64 - x.unsigned_abs().leading_zeros()).max().unwrap_or(0)
}

/// The exact result of a bilinear kernel of `a` and `b` into `len`
/// outputs, each output a sum of products of one entry of `a` with one of
/// `b` (a convolution and both its gradients), in machine numbers: `None`
/// when an operand is not [`Scaled`] or a sum could leave an i128, and the
/// caller computes in big integers.
///
/// The kernel is passed twice, for f64 and for i128 (the same loop over
/// different numbers). Each output sums fewer than `|a|·|b|` products of
/// numerators below `2^bits(a)` and `2^bits(b)`, so every partial sum, in
/// whatever order the kernel adds, stays below `2^(bits(a) + bits(b) +
/// bits(|a|·|b|))`: within 2^53 the f64 kernel computes the integer sums
/// exactly (every operand, product and partial sum is an integer f64
/// holds), within 2^126 the i128 one does.
pub(super) fn bilinear(
    a: &[BigRational],
    b: &[BigRational],
    len: usize,
    float_kernel: impl FnOnce(&[f64], &[f64], &mut [f64]),
    integer_kernel: impl FnOnce(&[i128], &[i128], &mut [i128]),
) -> Option<Vec<BigRational>> {
    let (a, b) = (Scaled::of(a)?, Scaled::of(b)?);
    let pairs = (a.numer.len() as u128).saturating_mul(b.numer.len() as u128);
    let bound_bits = a.bits() + b.bits() + (128 - pairs.leading_zeros());
    let totals: Vec<i128> = if bound_bits <= FLOAT_EXACT_BITS {
        // Integers below 2^53 convert to f64 exactly, and back.
        let as_float = |v: &[i64]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
        let mut out = vec![0.0; len];
        float_kernel(&as_float(&a.numer), &as_float(&b.numer), &mut out);
        out.into_iter().map(|x| x as i128).collect()
    } else if bound_bits <= 126 {
        let widen = |v: &[i64]| v.iter().map(|&x| i128::from(x)).collect::<Vec<i128>>();
        let mut out = vec![0i128; len];
        integer_kernel(&widen(&a.numer), &widen(&b.numer), &mut out);
        out
    } else {
        return None;
    };
    Some(totals.into_iter().map(|total| machine_lowest_terms(total, a.denom, b.denom)).collect())
}

#[cfg(test)]
mod tests {
    use num_bigint::BigInt;
    use num_traits::Zero;
    use proptest::prelude::*;

    use super::*;
    use crate::eval::conv::{conv2d, conv2d_input_grad, conv2d_kernel_grad};
    use crate::eval::tensor::{Data, Tensor};
    use crate::model::{Conv, MapLayout};

    fn r(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    /// Numerators and denominators: `==` on `BigRational` compares values,
    /// and the results must also be the same lowest terms.
    fn terms(v: &[BigRational]) -> Vec<(BigInt, BigInt)> {
        v.iter().map(|x| (x.numer().clone(), x.denom().clone())).collect()
    }

    /// A 1-D "valid" correlation `out[i] = Σ_u k[u] · x[i + u]` as a
    /// bilinear kernel over any numbers.
    fn correlate<T: Copy + std::ops::AddAssign + std::ops::Mul<Output = T>>(x: &[T], k: &[T], out: &mut [T]) {
        for (i, o) in out.iter_mut().enumerate() {
            for (u, &w) in k.iter().enumerate() {
                *o += w * x[i + u];
            }
        }
    }

    /// The same correlation one `BigRational` product and sum at a time.
    fn correlate_rational(x: &[BigRational], k: &[BigRational]) -> Vec<BigRational> {
        (0..=x.len() - k.len())
            .map(|i| k.iter().enumerate().fold(BigRational::zero(), |s, (u, w)| s + w * &x[i + u]))
            .collect()
    }

    fn machine_correlate(x: &[BigRational], k: &[BigRational]) -> Option<Vec<BigRational>> {
        let len = x.len() + 1 - k.len();
        bilinear(x, k, len, correlate, correlate)
    }

    #[test]
    fn scaling_puts_entries_over_their_least_common_denominator() {
        let v = [r(1, 2), r(-3, 4), r(7, 10), r(0, 1), r(5, 1)];
        assert_eq!(Scaled::of(&v), Some(Scaled { numer: vec![10, -15, 14, 0, 100], denom: 20 }));
        assert_eq!(Scaled::of(&[r(1, 3), r(1, 100)]), Some(Scaled { numer: vec![100, 3], denom: 300 }));
        assert_eq!(Scaled::of(&[]), Some(Scaled { numer: vec![], denom: 1 }));
        // A numerator that leaves an i64 once scaled, a denominator past a
        // u64, and a common denominator past a u64 are refused.
        assert_eq!(Scaled::of(&[r(i64::MAX, 1), r(1, 2)]), None);
        assert_eq!(Scaled::of(&[BigRational::new(1.into(), BigInt::from(u64::MAX) + 2)]), None);
        assert_eq!(Scaled::of(&[r(1, (1 << 61) - 1), r(1, (1 << 61) + 1)]), None);
        // i64::MIN itself fits over denominator 1.
        assert_eq!(Scaled::of(&[r(i64::MIN, 1)]).map(|s| s.numer), Some(vec![i64::MIN]));
    }

    #[test]
    fn the_three_ranges_give_the_rational_sums() {
        // Small decimals (f64), numerators past 2^53 in the sums (i128),
        // and past 2^126 (refused).
        let x: Vec<BigRational> = (0..9).map(|i| r(i * 37 - 150, 100)).collect();
        let k = [r(3, 10), r(-7, 4), r(1, 3)];
        assert_eq!(terms(&machine_correlate(&x, &k).unwrap()), terms(&correlate_rational(&x, &k)));
        let big = 1i64 << 40;
        let x: Vec<BigRational> = (0..9).map(|i| r(big - i, 1000)).collect();
        let k = [r(big, 1), r(-big + 3, 10), r(big / 2 + 1, 1)];
        assert_eq!(terms(&machine_correlate(&x, &k).unwrap()), terms(&correlate_rational(&x, &k)));
        let huge = [r(i64::MAX, 1), r(i64::MIN, 1)];
        assert_eq!(machine_correlate(&huge, &huge), None);
    }

    /// A decimal of up to `places` places, or a third, or a numerator near
    /// the limits of an i64.
    fn entry() -> impl Strategy<Value = BigRational> {
        prop_oneof![
            6 => (-10_000i64..=10_000, 0u32..=4).prop_map(|(n, places)| r(n, 10i64.pow(places))),
            1 => (-50i64..=50).prop_map(|n| r(n, 3)),
            1 => (any::<i64>(), 0u32..=3).prop_map(|(n, places)| r(n, 10i64.pow(places))),
            1 => (-30i64..=30, 0u32..=18).prop_map(|(n, places)| r(n, 10i64.pow(places))),
        ]
    }

    /// A convolution's three products by their textbook definitions, one
    /// `BigRational` product and sum at a time, for a map `[C, H, W]`,
    /// kernels `[F, C, kh, kw]` and error terms `[F, oh, ow]` (channels
    /// first): the forward map, ∂K and ∂X.
    fn conv_by_definition(
        x: &Tensor,
        k: &Tensor,
        delta: &Tensor,
        conv: Conv,
    ) -> (Vec<BigRational>, Vec<BigRational>, Vec<BigRational>) {
        let exact = |t: &Tensor| match t.data() {
            Data::Exact(v) => v.clone(),
            _ => unreachable!("the operands are exact"),
        };
        let (xv, kv, dv) = (exact(x), exact(k), exact(delta));
        let (&[c, h, w], &[f, _, kh, kw], &[_, oh, ow]) = (x.dims(), k.dims(), delta.dims()) else {
            unreachable!("a map, kernels and error terms")
        };
        let (mut z, mut dk, mut dx) = (
            vec![BigRational::zero(); f * oh * ow],
            vec![BigRational::zero(); kv.len()],
            vec![BigRational::zero(); xv.len()],
        );
        for (fi, ci, u, v, i, j) in taps(f, c, kh, kw, oh, ow) {
            let (m, n) = (conv.stride * i + u, conv.stride * j + v);
            let (Some(m), Some(n)) = (m.checked_sub(conv.pad), n.checked_sub(conv.pad)) else { continue };
            if m >= h || n >= w {
                continue;
            }
            let (ki, xi, zi) = (((fi * c + ci) * kh + u) * kw + v, (ci * h + m) * w + n, (fi * oh + i) * ow + j);
            z[zi] += &kv[ki] * &xv[xi];
            dk[ki] += &dv[zi] * &xv[xi];
            dx[xi] += &kv[ki] * &dv[zi];
        }
        (z, dk, dx)
    }

    /// Every (f, c, u, v, i, j) below the given bounds.
    fn taps(
        f: usize,
        c: usize,
        kh: usize,
        kw: usize,
        oh: usize,
        ow: usize,
    ) -> impl Iterator<Item = (usize, usize, usize, usize, usize, usize)> {
        (0..f).flat_map(move |a| {
            (0..c).flat_map(move |b| {
                (0..kh).flat_map(move |u| {
                    (0..kw).flat_map(move |v| (0..oh).flat_map(move |i| (0..ow).map(move |j| (a, b, u, v, i, j))))
                })
            })
        })
    }

    /// A convolution's operands with entries from [`entry`]: (C, H, W, F,
    /// kh, kw, stride, pad) and the entries of X, K and δ.
    fn conv_case() -> impl Strategy<Value = (Conv, Tensor, Tensor, Tensor)> {
        (1usize..=3, 1usize..=6, 1usize..=6, 1usize..=3, 1usize..=3, 1usize..=3, 1usize..=2, 0usize..=1)
            .prop_filter("the kernel fits the padded map", |&(_, h, w, _, kh, kw, _, pad)| {
                kh <= h + 2 * pad && kw <= w + 2 * pad
            })
            .prop_flat_map(|(c, h, w, f, kh, kw, stride, pad)| {
                let (oh, ow) = ((h + 2 * pad - kh) / stride + 1, (w + 2 * pad - kw) / stride + 1);
                let entries = |n: usize| prop::collection::vec(entry(), n);
                (entries(c * h * w), entries(f * c * kh * kw), entries(f * oh * ow)).prop_map(move |(x, k, d)| {
                    let conv = Conv { stride, pad, layout: MapLayout::Nchw };
                    (
                        conv,
                        Tensor::exact(vec![c, h, w], x),
                        Tensor::exact(vec![f, c, kh, kw], k),
                        Tensor::exact(vec![f, oh, ow], d),
                    )
                })
            })
    }

    fn exact_terms(t: &Tensor) -> Vec<(BigInt, BigInt)> {
        match t.data() {
            Data::Exact(v) => terms(v),
            _ => panic!("an exact convolution gave {:?}", t.dims()),
        }
    }

    proptest! {
        /// The convolution and both its gradients on exact operands (most
        /// decimals, so mostly on the machine path) are the rational sums.
        #[test]
        fn exact_convolutions_match_their_definitions((conv, x, k, delta) in conv_case()) {
            let (z, dk, dx) = conv_by_definition(&x, &k, &delta, conv);
            prop_assert_eq!(exact_terms(&conv2d(&x, &k, conv, delta.dims()).unwrap()), terms(&z));
            prop_assert_eq!(exact_terms(&conv2d_kernel_grad(&x, &delta, conv, k.dims()).unwrap()), terms(&dk));
            prop_assert_eq!(exact_terms(&conv2d_input_grad(&delta, &k, conv, x.dims()).unwrap()), terms(&dx));
        }

        /// Whatever path the operands take (f64, i128, or refused and
        /// computed in `BigRational`s), the result is the rational sum.
        #[test]
        fn machine_sums_match_rational_sums(
            x in prop::collection::vec(entry(), 1..40),
            k in prop::collection::vec(entry(), 1..6),
        ) {
            prop_assume!(k.len() <= x.len());
            let expected = correlate_rational(&x, &k);
            if let Some(got) = machine_correlate(&x, &k) {
                prop_assert_eq!(terms(&got), terms(&expected));
            }
        }
    }
}
