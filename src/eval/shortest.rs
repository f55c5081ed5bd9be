//! An f64 at full precision exactly as Rust's `{}` writes it, made faster.
//!
//! The text writer prints every value of a solution at full precision:
//! millions of entries for a long recurrence, and `{}` (Grisu with a
//! Dragon fallback) was a quarter of its time. zmij (Schubfach, the
//! formatter serde_json uses for the JSON output) finds the same digits —
//! the shortest decimal that reads back as the same f64, the nearest one
//! when several are as short — several times faster, but lays them out
//! its own way (`1e-7`, `1.5e+16`, `1.0`). This module takes its digits and
//! writes them as `{}` does: plain decimal, never an exponent, no `.0`.
//! The tests compare the two on every kind of f64.

/// Appends finite, nonzero `x` as `format!("{x}")` writes it.
pub fn write_shortest(x: f64, out: &mut String) {
    debug_assert!(x.is_finite() && x != 0.0);
    let mut buffer = zmij::Buffer::new();
    let printed = buffer.format_finite(x);
    // Most values: zmij's plain decimal (it writes one from 10⁻⁵ to 10¹⁵)
    // is already `{}`'s, but for the `.0` of a whole number, unless it is
    // a tie, which needs few significant bits.
    if !printed.contains('e') && !may_be_halfway(x) {
        out.push_str(printed.strip_suffix(".0").unwrap_or(printed));
        return;
    }
    let printed = printed.as_bytes();
    let (negative, printed) = match printed.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, printed),
    };
    // printed = mantissa [e±exponent], the mantissa with at most one '.'.
    let (mantissa, exponent) = match printed.iter().position(|&b| b == b'e') {
        Some(e) => (&printed[..e], parse_exponent(&printed[e + 1..])),
        None => (printed, 0),
    };
    // The digits without the point, and where the point goes among them:
    // x = 0.d₁d₂…dₙ × 10^point.
    let mut digits = [0u8; 32];
    let mut n = 0;
    let mut point = None;
    for &b in mantissa {
        if b == b'.' {
            point = Some(n as i32);
        } else {
            digits[n] = b;
            n += 1;
        }
    }
    let mut point = point.unwrap_or(n as i32) + exponent;
    // Leading zeros (`0.001`) move the point; trailing ones (`1.0`, `100`)
    // are written back from `point` below.
    let mut first = 0;
    while first < n && digits[first] == b'0' {
        first += 1;
        point -= 1;
    }
    while n > first && digits[n - 1] == b'0' {
        n -= 1;
    }
    let mut digits = &digits[first..n];
    // The one place the two differ: when x lies exactly halfway between two
    // shortest candidates, zmij takes the even one and `{}` the one above
    // (2⁻²⁵ = 2.98023223876953125e-8: zmij ends in …312, `{}` in …313).
    let mut above = [b'0'; 33];
    if halfway_above(x, digits, point) {
        let len = digits.len();
        above[1..=len].copy_from_slice(digits);
        let mut i = len;
        while above[i] == b'9' {
            above[i] = b'0';
            i -= 1;
        }
        above[i] += 1;
        // A carry out of the first digit (…999 → 1000) moves the point.
        let from = if i == 0 {
            point += 1;
            0
        } else {
            1
        };
        let mut to = len + 1;
        while above[to - 1] == b'0' {
            to -= 1;
        }
        digits = &above[from..to];
    }
    if negative {
        out.push('-');
    }
    let len = digits.len() as i32;
    if point <= 0 {
        out.push_str("0.");
        push_zeros(out, (-point) as usize);
        out.push_str(ascii(digits));
    } else if point >= len {
        out.push_str(ascii(digits));
        push_zeros(out, (point - len) as usize);
    } else {
        out.push_str(ascii(&digits[..point as usize]));
        out.push('.');
        out.push_str(ascii(&digits[point as usize..]));
    }
}

/// Whether |x| is exactly halfway between `0.digits × 10^point` and the
/// next number of as many digits above it. |x| = m·2⁻ᵏ with m odd is
/// m·5ᵏ·10⁻ᵏ, a decimal whose last digit is 5 (m·5ᵏ is odd) when k ≥ 1;
/// it is halfway when that decimal is `digits` followed by that 5. An
/// integer (k ≤ 0) is never halfway, and a tie needs at most 18 digits.
fn halfway_above(x: f64, digits: &[u8], point: i32) -> bool {
    let (m, k) = odd_significand(x);
    if !may_be_halfway(x) || digits.len() > 17 {
        return false;
    }
    let n = u128::from(m) * 5u128.pow(k as u32);
    // n·10⁻ᵏ is digits·10^(point−len) + 5·10^(point−len−1) when n is the
    // digits followed by a 5 and its last digit is in the same place.
    let mut below = 0u128;
    for &d in digits {
        below = below * 10 + u128::from(d - b'0');
    }
    point - digits.len() as i32 - 1 == -k && n == below * 10 + 5
}

/// |x| as m·2⁻ᵏ with m odd.
fn odd_significand(x: f64) -> (u64, i32) {
    let bits = x.to_bits() & !(1u64 << 63);
    let (biased, fraction) = ((bits >> 52) as i32, bits & ((1u64 << 52) - 1));
    let (m, e) = if biased == 0 { (fraction, -1074) } else { (fraction | 1 << 52, biased - 1075) };
    let zeros = m.trailing_zeros();
    (m >> zeros, -(e + zeros as i32))
}

/// Whether x could be halfway between two decimals of at most 17 digits
/// (see [`halfway_above`]): it is not a whole number, and m·5ᵏ has at
/// most 18 digits, which needs k ≤ 27 (5²⁷ > 10¹⁸).
fn may_be_halfway(x: f64) -> bool {
    let (_, k) = odd_significand(x);
    (1..=27).contains(&k)
}

/// Digits as a str (zmij writes only ASCII).
fn ascii(digits: &[u8]) -> &str {
    std::str::from_utf8(digits).expect("zmij writes ASCII digits")
}

/// zmij's exponent after its `e`: an optional sign and decimal digits.
fn parse_exponent(s: &[u8]) -> i32 {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let magnitude = digits.iter().fold(0i32, |acc, &d| acc * 10 + i32::from(d - b'0'));
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// Appends `n` zeros (up to 308 of them, for 1e308).
fn push_zeros(out: &mut String, n: usize) {
    push_run(out, "00000000000000000000000000000000", n);
}

/// Appends `n` copies of `run`'s one ASCII character, a slice of `run` at a
/// time rather than a character at a time (zeros here, spaces in the
/// text's columns).
pub fn push_run(out: &mut String, run: &str, mut n: usize) {
    while n > 0 {
        let k = n.min(run.len());
        out.push_str(&run[..k]);
        n -= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_display(x: f64) {
        if !x.is_finite() || x == 0.0 {
            return;
        }
        let mut out = String::new();
        write_shortest(x, &mut out);
        assert_eq!(out, format!("{x}"), "bits {:#018x}", x.to_bits());
    }

    #[test]
    fn writes_what_display_writes_at_the_edges() {
        let mut cases = vec![
            1.0,
            0.1,
            0.3,
            1.5,
            100.0,
            123.456,
            1e-5,
            1e-6,
            1e-7,
            1.5e-7,
            1e15,
            1e16,
            1.5e16,
            1e21,
            1e22,
            1e23,
            9007199254740993.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::EPSILON,
            std::f64::consts::PI,
            2.0f64.powi(-1074),
            2.0f64.powi(63),
            0.30000000000000004,
        ];
        // Every power of two and of ten, and their neighbours on each side.
        for e in -1074..=1023 {
            cases.push(2.0f64.powi(e));
        }
        for e in -323..=308 {
            cases.push(format!("1e{e}").parse().unwrap());
        }
        for x in cases.clone() {
            cases.push(f64::from_bits(x.to_bits() + 1));
            cases.push(f64::from_bits(x.to_bits().saturating_sub(1)));
        }
        // Small integers and short decimals, as weights are written.
        for i in 1..=2000 {
            cases.push(f64::from(i));
            cases.push(f64::from(i) / 1000.0);
            cases.push(f64::from(i) / 7.0);
        }
        for x in cases {
            same_as_display(x);
            same_as_display(-x);
        }
    }

    #[test]
    fn breaks_ties_upwards_as_display_does() {
        // Halfway cases are numbers with few significant bits: every odd
        // significand of up to 12 bits and the top bits of long ones, at
        // every scale where its decimal can end on the tie.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut significands: Vec<u64> = (1..4096).step_by(2).collect();
        for bits in 13..=53 {
            for _ in 0..40 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                significands.push((state >> (64 - bits)) | 1 | (1 << (bits - 1)));
            }
        }
        for m in significands {
            for e in -90..=40 {
                same_as_display(m as f64 * 2.0f64.powi(e));
                same_as_display(-(m as f64) * 2.0f64.powi(e));
            }
        }
        // Two ties found so, each written with its last digit rounded up.
        let mut out = String::new();
        write_shortest(2.0f64.powi(-25), &mut out);
        assert_eq!(out, "0.000000029802322387695313");
        out.clear();
        // 1658206780088562.25, exactly (between 2⁵⁰ and 2⁵¹ an f64 has two bits after the point).
        write_shortest(6632827120354249.0 / 4.0, &mut out);
        assert_eq!(out, "1658206780088562.3");
    }

    #[test]
    fn writes_what_display_writes_for_random_bits() {
        // Every exponent is as likely as any other: the whole range of f64
        // (xorshift, so the test needs no crate).
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            same_as_display(f64::from_bits(state));
        }
        // And values in the range the networks print: results of
        // arithmetic on numbers near 1.
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            same_as_display(unit);
            same_as_display(unit * 1e-3);
            same_as_display(unit.tanh() * 0.37);
        }
    }
}
