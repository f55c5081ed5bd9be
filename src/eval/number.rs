//! Numbers as a person reads them: exact fractions and f64 values
//! converted, rounded half away from zero on the exact value, and printed in
//! fixed point. Shared by the tensors (which keep rounded cells) and every
//! renderer; below both, so it depends on neither.

use num_bigint::BigInt;

use super::exact;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// The powers of ten exact in f64: a short decimal with one of them is
/// converted by one correctly rounded IEEE operation.
const POWERS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// The f64 nearest a decimal as written. A mantissa and a power of ten that
/// f64 holds exactly (|m| ≤ 2^53, 10^k for k ≤ 22) give the correctly
/// rounded value in one multiplication or division, without a fraction.
pub fn decimal_to_f64(d: &crate::syntax::ast::Decimal) -> f64 {
    use crate::syntax::ast::Decimal;
    if let Decimal::Small { mantissa, exponent } = *d {
        let power = POWERS.get(exponent.unsigned_abs() as usize).copied();
        if let (true, Some(power)) = (mantissa.unsigned_abs() <= 1 << 53, power) {
            let m = mantissa as f64;
            return if exponent >= 0 { m * power } else { m / power };
        }
    }
    rational_to_f64(&d.to_rational())
}

/// Every entry of `values` as [`decimal_to_f64`] makes it (the same
/// rule, so the same f64), read from the packed words in one pass: a
/// given matrix of a million entries is converted once per network.
pub fn decimals_to_f64(values: &crate::syntax::ast::Decimals) -> Vec<f64> {
    use crate::syntax::ast::Decimal;
    values
        .parts()
        .map(|part| match part {
            Ok((mantissa, exponent)) => match POWERS.get(exponent.unsigned_abs() as usize) {
                Some(&power) if mantissa.unsigned_abs() <= 1 << 53 => {
                    let m = mantissa as f64;
                    if exponent >= 0 {
                        m * power
                    } else {
                        m / power
                    }
                }
                _ => decimal_to_f64(&Decimal::Small { mantissa, exponent }),
            },
            Err(d) => decimal_to_f64(d),
        })
        .collect()
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

/// `n/d` scaled by 10^places and rounded half up (`places` ≤ 18, so that
/// 2·n·10^places stays below 2^128).
#[inline]
pub(super) fn round_small(n: u64, d: u64, places: u32) -> u128 {
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
pub(super) const POWERS_OF_TEN: [u128; 39] = {
    let mut powers = [1u128; 39];
    let mut k = 1;
    while k < 39 {
        powers[k] = powers[k - 1] * 10;
        k += 1;
    }
    powers
};

/// 5^0 to 5^18 (5^18 · 2^18 = 10^18 fits a u64).
pub(super) const POWERS_OF_FIVE: [u64; 19] = {
    let mut powers = [1u64; 19];
    let mut k = 1;
    while k < 19 {
        powers[k] = powers[k - 1] * 5;
        k += 1;
    }
    powers
};

/// [`decimal_places`] for a denominator that fits in a u64.
pub(super) fn small_decimal_places(d: u64) -> Option<u32> {
    decimal_factors(d).map(|(twos, fives)| twos.max(fives))
}

/// `(a, b)` with `d` = 2^a·5^b, or `None` when `d` has another factor.
#[inline]
pub(super) fn decimal_factors(mut d: u64) -> Option<(u32, u32)> {
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
    pub(super) magnitude: u128,
    pub(super) places: u32,
    pub(super) negative: bool,
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
pub(super) fn round_f64_in_integers(x: f64, places: u32) -> Option<u128> {
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
pub(super) fn is_decimal_tie(x: f64, places: u32) -> bool {
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
pub(super) fn round_up_last_digit(text: &str) -> String {
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
pub(super) fn with_point(digits: String, places: u32, negative: bool) -> String {
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
pub(super) fn terminating(den: &num_bigint::BigUint) -> Option<(u64, u64)> {
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
    use crate::eval::tensor::Tensor;

    fn r(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

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

    /// Numbers as a file writes them, read by the parser (its fast path
    /// for rows, and the general rules for what it hands over) and then
    /// made f64, against Rust's own parsing of the same text (correctly
    /// rounded): short and long mantissas (past 18 digits, past 2^54),
    /// leading zeros, exponents, `+`, `-0`, subnormal and huge values.
    #[test]
    fn written_numbers_read_to_the_f64_rust_parses_them_to() {
        let mut seed = 20261208u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut rows = Vec::new();
        for _ in 0..300 {
            let numbers: Vec<String> = (0..40)
                .map(|_| {
                    let sign = ["", "-", "+"][next(3) as usize];
                    let digits = [1, 2, 3, 16, 17, 19, 25][next(7) as usize];
                    let int: String = (0..1 + next(digits)).map(|_| char::from(b'0' + next(10) as u8)).collect();
                    let frac: String = (0..next(digits)).map(|_| char::from(b'0' + next(10) as u8)).collect();
                    let exponent = match next(4) {
                        0 => format!("e{}", next(700) as i64 - 350),
                        _ => String::new(),
                    };
                    let point = if frac.is_empty() && next(2) == 0 { String::new() } else { format!(".{frac}") };
                    format!("{sign}{int}{point}{exponent}")
                })
                .collect();
            rows.push(numbers);
        }
        rows.push(vec![
            "-0".into(),
            "-0.00".into(),
            "0".into(),
            "1e-320".into(),
            "2.5e-324".into(),
            "1.7976931348623157e308".into(),
        ]);
        for numbers in rows {
            let text = format!("param W[{}] = [{}]\nloss L = sum(W)\n", numbers.len(), numbers.join(", "));
            let model = crate::load(&crate::Source::new("t.nn", text)).expect("a valid file");
            let values = model.tensors.values().find_map(|t| t.value.clone()).expect("a value");
            // Converted all at once (as a plan does) or one by one: the same f64.
            let bulk = decimals_to_f64(&values);
            assert_eq!(bulk.len(), numbers.len());
            for ((written, d), all) in numbers.iter().zip(values.iter()).zip(bulk) {
                assert_eq!(decimal_to_f64(&d).to_bits(), all.to_bits(), "{written}");
                let expected: f64 = written.parse().unwrap();
                // The exact value of `-0` is 0, whose f64 is +0 (a
                // negative value too small for f64 rounds to -0).
                let zero = !written.split(['e', 'E']).next().unwrap_or("").bytes().any(|c| matches!(c, b'1'..=b'9'));
                let expected = if zero { 0.0 } else { expected };
                assert_eq!(decimal_to_f64(&d).to_bits(), expected.to_bits(), "{written}");
            }
        }
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
}
