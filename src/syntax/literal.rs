//! `literal` of `grammar/nn.ebnf`: a signed number or a bracketed list of
//! literals, read with a fast path for rows of plain numbers (literals of
//! millions of numbers come through here) and counted as they come, so that
//! a huge literal fails before it fills memory.

use nom::bytes::complete::tag;
use nom::Parser;

use super::ast::*;
use super::error::{Error, ErrorKind, MAX_DIGITS, MAX_ENTRIES};
use super::lexical::*;

/// `literal`: a signed number or a bracketed list of literals.
pub(super) fn literal(i: Input) -> PResult<Literal> {
    if i.fragment().starts_with('[') {
        return deeper(i, list);
    }
    match number_literal(i) {
        Ok((rest, n)) => {
            count_literal_number(i, rest)?;
            Ok((rest, Literal::Number(n)))
        }
        Err(nom::Err::Error(_)) => fail(ErrorKind::Expected { what: "a number or '['", after: "'='".into() }, here(i)),
        Err(e) => Err(e),
    }
}

/// Counts one more number of the literal being parsed: counted as they
/// come, so that a huge literal fails before it fills memory.
pub(super) fn count_literal_number(start: Input, end: Input) -> Result<(), nom::Err<PError>> {
    let count = LITERAL_NUMBERS.with(|c| c.replace(c.get() + 1)) + 1;
    if count > MAX_ENTRIES {
        return fail(ErrorKind::LiteralTooLarge { limit: MAX_ENTRIES }, span(start, end));
    }
    Ok(())
}

/// `list`: `[` literal (`,` literal)* `,`? `]`.
///
/// Numbers are kept as values and byte ranges while the list is read; a
/// list of numbers only (a matrix row) stays in that compact form.
pub(super) fn list(i: Input) -> PResult<Literal> {
    // A row too long to index with u32 goes the general way, which refuses it.
    if let Some(row) = number_row(i.fragment().as_bytes()).filter(|row| u32::try_from(row.len).is_ok()) {
        let rest = nom::Input::take_from(&i, row.len);
        let whole = span(i, rest);
        let numbers = match row.canonical {
            true => NumberList::canonical(whole, row.values),
            false => NumberList::from_row(whole, recognize_text(i, rest), row.values),
        };
        return Ok((rest, Literal::Numbers(numbers)));
    }
    general_list(i)
}

/// [`list`] read by the general rules, entry by entry.
pub(super) fn general_list(i: Input) -> PResult<Literal> {
    let (rest, _) = tag("[").parse(i)?;
    let seq = Sequence { close: ']', empty: true, trailing: true, entry: "a list entry" };
    let (mut values, mut bounds, mut lists) = (Decimals::new(), Vec::new(), Vec::new());
    let offset_in_list = |at: Input| u32::try_from(at.location_offset() - i.location_offset()).ok();
    let (rest, _) = separated(rest, i, seq, |r, after| {
        let entry = if r.fragment().starts_with('[') {
            deeper(r, list).map(|(rest, l)| {
                lists.push((values.len(), l));
                (rest, ())
            })
        } else {
            match signed_decimal(r) {
                Ok((rest, value)) => {
                    count_literal_number(r, rest)?;
                    let Some(range) = offset_in_list(r).zip(offset_in_list(rest)) else {
                        return fail(ErrorKind::LiteralTooLarge { limit: MAX_ENTRIES }, span(r, rest));
                    };
                    values.push(value);
                    bounds.push(range);
                    Ok((rest, ()))
                }
                Err(nom::Err::Error(_)) => {
                    fail(ErrorKind::Expected { what: "a number or '['", after: "'='".into() }, here(r))
                }
                Err(e) => Err(e),
            }
        };
        match entry {
            // Say what the missing number came after.
            Err(nom::Err::Failure(PError { error: Some(Error { kind: ErrorKind::Expected { what, .. }, span }) })) => {
                fail(ErrorKind::Expected { what, after: after.into() }, span)
            }
            other => other,
        }
    })?;
    let whole = span(i, rest);
    let too_large = || fail(ErrorKind::LiteralTooLarge { limit: MAX_ENTRIES }, whole);
    if lists.is_empty() && !values.is_empty() {
        return match NumberList::new(whole, recognize_text(i, rest), values, bounds) {
            Some(numbers) => Ok((rest, Literal::Numbers(numbers))),
            None => too_large(),
        };
    }
    // Lists among the entries: every entry becomes a node, in the order
    // written. A matrix (lists only) needs no copy of its text for that.
    let numbers = match values.is_empty() {
        true => Vec::new(),
        false => match NumberList::new(whole, recognize_text(i, rest), values, bounds) {
            Some(numbers) => numbers.numbers(),
            None => return too_large(),
        },
    };
    let mut numbers = numbers.into_iter();
    let mut items = Vec::with_capacity(lists.len() + numbers.len());
    let mut taken = 0;
    for (at, l) in lists {
        items.extend(numbers.by_ref().take(at - taken).map(Literal::Number));
        taken = at;
        items.push(l);
    }
    items.extend(numbers.map(Literal::Number));
    Ok((rest, Literal::List { items, span: whole }))
}

/// A row of plain numbers on one line, as `[0.5, -1, 2e-3]`, read in one
/// pass over its bytes with no allocation but the values': its length,
/// its values (the commas say where each number is), and whether it is
/// written as [`NumberList::canonical`] describes, so that its text need
/// not be kept.
/// Anything else (a line break, a comment, a nested list, a space after a
/// sign, a malformed number, more numbers than the literal may hold) gives
/// `None` and goes the general way, which also words every error; so this
/// accepts only what the general path reads to the same values.
pub(super) fn number_row(bytes: &[u8]) -> Option<NumberRow> {
    if bytes.first() != Some(&b'[') {
        return None;
    }
    // The row ends at the first `]`, unless a line or another list starts
    // first; knowing its end bounds every loop below and sizes the values.
    let close = 1 + memchr::memchr3(b']', b'\n', b'[', &bytes[1..])?;
    if bytes[close] != b']' {
        return None;
    }
    let row = &bytes[..close];
    let mut values = Decimals::with_capacity(commas(row) + 1);
    // `row[at]` past the row's end reads as its `]`.
    let byte = |at: usize| row.get(at).copied().unwrap_or(b']');
    // The digits from `at`: how many, how many of them are significant
    // (from the first that is not 0), and the number they make while that
    // is 18 or fewer (saturating past it, where the general rule decides).
    let digits = |mut at: usize, mut mantissa: i64, mut significant: u32| {
        let from = at;
        loop {
            let d = byte(at).wrapping_sub(b'0');
            if d > 9 {
                return (at - from, mantissa, significant);
            }
            mantissa = mantissa.saturating_mul(10).saturating_add(i64::from(d));
            significant += u32::from(mantissa != 0);
            at += 1;
        }
    };
    let skip_blanks = |mut at: usize| {
        while matches!(byte(at), b' ' | b'\t') {
            at += 1;
        }
        at
    };
    let mut canonical = !matches!(byte(1), b' ' | b'\t');
    let mut at = skip_blanks(1);
    loop {
        // Most numbers of a large literal are written as programs print
        // them: read those in a few steps (the same value and the same
        // `canonical` as the rules below give them), the rest below.
        if let Some((mantissa, exponent, next)) = quick_number(row, at) {
            values.push_small(mantissa, exponent);
            match next {
                Some(next) => {
                    at = next;
                    continue;
                }
                None => break,
            }
        }
        let sign = byte(at);
        let negative = sign == b'-';
        at += usize::from(matches!(sign, b'-' | b'+'));
        let int_at = at;
        let (int_len, mut mantissa) = plain_digits(row, at, 0);
        at += int_len;
        let dot = byte(at) == b'.';
        let mut frac_len = 0;
        if dot {
            (frac_len, mantissa) = plain_digits(row, at + 1, mantissa);
            at += 1 + frac_len;
        }
        // Up to 18 digits make at most 18 significant ones, whose number
        // fits in an i64 as read; more are read again, counting them.
        let mut significant = (int_len + frac_len) as u32;
        if int_len + frac_len > 18 {
            let (_, m, s) = digits(int_at, 0, 0);
            let (_, m, s) = if dot { digits(int_at + int_len + 1, m, s) } else { (0, m, s) };
            (mantissa, significant) = (m, s);
        }
        // None of them, or too many (the general path words the error).
        if int_len + frac_len == 0 || int_len + frac_len > MAX_DIGITS {
            return None;
        }
        let mut exponent = 0i64;
        let written_exponent = matches!(byte(at), b'e' | b'E');
        if written_exponent {
            let signed = matches!(byte(at + 1), b'+' | b'-');
            let digits_at = at + 1 + usize::from(signed);
            let (len, magnitude, _) = digits(digits_at, 0, 0);
            if len == 0 || len > 4 || magnitude > 1000 {
                return None;
            }
            exponent = if byte(at + 1) == b'-' { -magnitude } else { magnitude };
            at = digits_at + len;
        }
        if byte(at).is_ascii_alphanumeric() || matches!(byte(at), b'_' | b'.') {
            return None;
        }
        // Written as its value writes it: `0` or no leading zero, digits
        // after a `.`, no `+`, exponent or `-0`, and short enough to pack.
        canonical &= sign != b'+'
            && !written_exponent
            && int_len > 0
            && (byte(int_at) != b'0' || int_len == 1)
            && (!dot || frac_len > 0)
            && !(negative && mantissa == 0)
            && significant <= 18
            && mantissa < 1 << 54
            && frac_len <= 128;
        match i32::try_from(exponent - frac_len as i64) {
            Ok(exponent) if significant <= 18 => {
                values.push_small(if negative { -mantissa } else { mantissa }, exponent)
            }
            _ => {
                let frac_at = int_at + int_len + 1;
                let frac: &[u8] = if dot { &row[frac_at..frac_at + frac_len] } else { &[] };
                let value = decimal_value(&row[int_at..int_at + int_len], frac, exponent);
                values.push(if negative { -value } else { value });
            }
        }
        let end = at;
        at = skip_blanks(at);
        match byte(at) {
            b',' => {
                canonical &= at == end && byte(at + 1) == b' ' && !matches!(byte(at + 2), b' ' | b'\t' | b']');
                at = skip_blanks(at + 1);
                if at == row.len() {
                    // `[1, 2,]`: a trailing comma.
                    canonical = false;
                    break;
                }
            }
            b']' if at == row.len() => {
                canonical &= at == end;
                break;
            }
            _ => return None,
        }
    }
    // Counted only once the row is read: past the limit, the general path
    // counts again and points at the first number too many.
    let count = LITERAL_NUMBERS.with(|c| c.get()) + values.len();
    if count > MAX_ENTRIES {
        return None;
    }
    LITERAL_NUMBERS.with(|c| c.set(count));
    Some(NumberRow { len: row.len() + 1, values, canonical })
}

/// The number at `row[at..]` when it is written canonically (as
/// [`NumberList::canonical`] describes) and short (at most 16 digits, so
/// that its mantissa packs), and followed by `, ` and the start of another
/// number, or by the row's end: its mantissa, its power of ten, and where
/// the next number starts (`None` at the row's end). Anything else, `None`,
/// and [`number_row`]'s general rules read it (a `-0`, a `+`, an exponent,
/// a leading zero, white space other than one space after the comma, …).
#[inline(always)]
fn quick_number(row: &[u8], at: usize) -> Option<(i64, i32, Option<usize>)> {
    let bytes = row.get(at..)?;
    let negative = bytes.first() == Some(&b'-');
    let int_at = usize::from(negative);
    let (int_len, mut mantissa) = plain_digits(bytes, int_at, 0);
    // A leading zero only as the whole integer part (`0.5`, never `05`).
    if int_len == 0 || (int_len > 1 && bytes[int_at] == b'0') {
        return None;
    }
    let mut end = int_at + int_len;
    let mut frac_len = 0;
    if bytes.get(end) == Some(&b'.') {
        (frac_len, mantissa) = plain_digits(bytes, end + 1, mantissa);
        if frac_len == 0 {
            return None;
        }
        end += 1 + frac_len;
    }
    // 16 digits or fewer: exact in the i64 (no wrapping) and within the
    // packed mantissa's 2^54.
    if int_len + frac_len > 16 || (negative && mantissa == 0) {
        return None;
    }
    let mantissa = if negative { -mantissa } else { mantissa };
    let exponent = -(frac_len as i32);
    match bytes.get(end) {
        None => Some((mantissa, exponent, None)),
        Some(b',') if bytes.get(end + 1) == Some(&b' ') && matches!(bytes.get(end + 2), Some(b'-' | b'0'..=b'9')) => {
            Some((mantissa, exponent, Some(at + end + 2)))
        }
        _ => None,
    }
}

/// The digits of `row` from `at`: how many, and `mantissa` with them
/// appended, exact while that makes 18 digits or fewer (wrapping past
/// them, where [`number_row`] reads the digits again). A row's `]` is not
/// in `row`, so its end stops the digits too.
#[inline]
fn plain_digits(row: &[u8], at: usize, mut mantissa: i64) -> (usize, i64) {
    // One pass: each byte is tested and added in the same step.
    let mut end = at;
    while let Some(d) = row.get(end).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9) {
        mantissa = mantissa.wrapping_mul(10).wrapping_add(i64::from(d));
        end += 1;
    }
    (end - at, mantissa)
}

/// How many commas `row` holds, counted a block at a time (a vector
/// compare and sum, where a filter counts byte by byte).
fn commas(row: &[u8]) -> usize {
    row.chunks(255).map(|block| block.iter().map(|&c| u8::from(c == b',')).sum::<u8>() as usize).sum()
}

/// What [`number_row`] read: its length in bytes, each number's value, and
/// whether the values give its text again.
pub(super) struct NumberRow {
    pub(super) len: usize,
    pub(super) values: Decimals,
    pub(super) canonical: bool,
}

/// The dims a literal spells, read along its first entries: `[[1, 2], [3,
/// 4], [5, 6]]` is `[3, 2]`, a number has none. A ragged literal is caught
/// when its entries are checked against these dims, with the entry that
/// differs pointed at.
pub(super) fn literal_dims(lit: &Literal) -> Vec<Dim> {
    let span = lit.span();
    let mut dims = Vec::new();
    let mut at = lit;
    loop {
        match at {
            Literal::Number(_) => return dims,
            Literal::Numbers(list) => {
                dims.push(Dim { size: list.len() as u64, span });
                return dims;
            }
            Literal::List { items, .. } => {
                dims.push(Dim { size: items.len() as u64, span });
                match items.first() {
                    Some(first) => at = first,
                    None => return dims,
                }
            }
        }
    }
}
