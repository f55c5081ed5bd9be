//! Matrix products of exact and f64 entries: the kernels behind `@`.
//! Exact products run in machine words when the entries allow it (an integer
//! product through f64's GEMM when every partial sum stays below 2^53, else
//! i128), and in big integers otherwise; f64 products through
//! `matrixmultiply`'s blocked kernel.

use num_bigint::{BigInt, BigUint, Sign};
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};

use super::exact::{common_factors, lowest_terms, over_denominator, Factored};

/// Exact `[m,k] @ [k,p]` over common denominators.
///
/// Summing rationals one product at a time reduces every partial sum by a gcd
/// of ever-growing numbers; that dominated deep exact networks. Instead each
/// row of `a` and each column of `b` is put over its least common denominator
/// once, the dot products run on integers, and each result entry is reduced
/// once at the end. Zero factors are skipped (after relu, many are zero).
pub(super) fn exact_matmul(a: &[BigRational], b: &[BigRational], m: usize, k: usize, p: usize) -> Vec<BigRational> {
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
        lowest_terms(total, denom, &row_factors[i].times(&col_factors[j]))
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
pub(super) fn small_integer_matmul(
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
pub(super) fn machine_matmul(
    a: &[BigRational],
    b: &[BigRational],
    m: usize,
    k: usize,
    p: usize,
) -> Option<Vec<BigRational>> {
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
pub(super) const FLOAT_EXACT_BITS: u32 = 53;

/// The integer dot products of the rows of `a` (`[m, k]`, row-major) with
/// the columns `b_columns` (`[p, k]`, column j at `j·k`) by `matrixmultiply`'s
/// f64 kernel. Exact only when every |a|·|b|·k is below 2^53 (the caller
/// checks): then each product and each partial sum, in whatever order the
/// blocked kernel adds them, is an integer below 2^53, which f64 holds
/// exactly, so no rounding ever happens.
pub(super) fn float_integer_dot_products(a: &[i64], b_columns: &[i64], m: usize, k: usize, p: usize) -> Vec<i128> {
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
pub(super) fn machine_lowest_terms(total: i128, row_denom: u64, col_denom: u64) -> BigRational {
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
pub(super) fn float_matmul(a: &[f64], b: &[f64], m: usize, k: usize, p: usize) -> Vec<f64> {
    float_matmul_strided(a, (k, 1), b, m, k, p)
}

/// [`float_matmul`] with `a`'s entry (i, l) read at `i·a_strides.0 +
/// l·a_strides.1`: `(k, 1)` for a row-major `[m, k]`, `(1, m)` for the
/// transpose of a row-major `[k, m]`, read in place.
pub(super) fn float_matmul_strided(
    a: &[f64],
    a_strides: (usize, usize),
    b: &[f64],
    m: usize,
    k: usize,
    p: usize,
) -> Vec<f64> {
    let mut v = vec![0.0; m * p];
    float_matmul_strided_into(&mut v, a, a_strides, b, m, k, p);
    v
}

/// [`float_matmul_strided`] into `v` (m·p entries, overwritten), so that
/// a caller running the same products again (`eval::plan`) reuses its buffers.
pub(super) fn float_matmul_strided_into(
    v: &mut [f64],
    a: &[f64],
    a_strides: (usize, usize),
    b: &[f64],
    m: usize,
    k: usize,
    p: usize,
) {
    assert!(v.len() == m * p, "a matmul's result has room for its entries");
    if m == 0 || k == 0 || p == 0 {
        v.fill(0.0);
        return;
    }
    // β = 0: the GEMM writes every entry of `v` without reading it.
    float_gemm_strided(v, (p, 1), 0.0, a, a_strides, b, (p, 1), (m, k, p));
}

/// `c ← a·b + beta·c` in f64 by `matrixmultiply`'s GEMM, every operand read
/// with its own (row, column) strides: `a` is m × k, `b` k × p, `c` m × p.
/// The convolution's matrix form (`conv_gemm`) reads maps and kernels in
/// place this way, whatever their layout.
#[allow(clippy::too_many_arguments)]
pub(super) fn float_gemm_strided(
    c: &mut [f64],
    c_strides: (usize, usize),
    beta: f64,
    a: &[f64],
    a_strides: (usize, usize),
    b: &[f64],
    b_strides: (usize, usize),
    (m, k, p): (usize, usize, usize),
) {
    if m == 0 || p == 0 {
        return;
    }
    let last = |(r, s): (usize, usize), rows: usize, cols: usize| (rows - 1) * r + (cols - 1) * s;
    assert!(c.len() > last(c_strides, m, p), "a GEMM's result has room for its entries");
    if k == 0 {
        return c.iter_mut().for_each(|x| *x *= beta);
    }
    assert!(
        a.len() > last(a_strides, m, k) && b.len() > last(b_strides, k, p),
        "GEMM operands are smaller than their shapes"
    );
    let i = |(r, s): (usize, usize)| (r as isize, s as isize);
    let ((ra, ca), (rb, cb), (rc, cc)) = (i(a_strides), i(b_strides), i(c_strides));
    let start = GEMM_CLOCK.with(|c| c.get().is_some()).then(std::time::Instant::now);
    // SAFETY: every entry read or written, up to the last index computed
    // from the shapes and strides, lies inside its slice (checked above);
    // `c` is borrowed mutably, so it aliases neither `a` nor `b`.
    unsafe {
        matrixmultiply::dgemm(m, k, p, 1.0, a.as_ptr(), ra, ca, b.as_ptr(), rb, cb, beta, c.as_mut_ptr(), rc, cc);
    }
    if let Some(start) = start {
        GEMM_CLOCK.with(|c| c.set(c.get().map(|t| t + start.elapsed())));
    }
}

thread_local! {
    /// While [`gemm_clock`] runs: the time spent in the f64 GEMM so far.
    static GEMM_CLOCK: std::cell::Cell<Option<std::time::Duration>> = const { std::cell::Cell::new(None) };
}

/// Runs `f`, and returns with its result the time this thread spent in the
/// f64 GEMM meanwhile (for benchmarks: the GEMM's share of an evaluation).
pub(super) fn gemm_clock<T>(f: impl FnOnce() -> T) -> (T, std::time::Duration) {
    let before = GEMM_CLOCK.with(|c| c.replace(Some(std::time::Duration::ZERO)));
    let out = f();
    let spent = GEMM_CLOCK.with(|c| c.replace(before)).unwrap_or_default();
    (out, spent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::exact::exact_sum;
    use num_traits::One;

    fn r(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
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

    /// Numerators and denominators: `BigRational`'s `==` compares values,
    /// and the exact products must also be in lowest terms.
    fn terms(v: &[BigRational]) -> Vec<(BigInt, BigInt)> {
        v.iter().map(|r| (r.numer().clone(), r.denom().clone())).collect()
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
}
