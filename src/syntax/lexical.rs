//! The parser's plumbing and lexical rules: the located input, committed
//! and backtracking failures, spans and columns, nesting limits, spaces and
//! comments, names and numbers. The rules are named after their rules in
//! `grammar/nn.ebnf`; [`super::parser`] and [`super::literal`] build on them.

use std::cell::{Cell, RefCell};

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::char;
use nom::combinator::{opt, recognize};
use nom::Parser;
use nom_locate::LocatedSpan;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Zero;

use super::ast::*;
use super::error::{Error, ErrorKind, MAX_DEPTH, MAX_DIGITS};
use super::habits;
use super::Span;

/// Parser input: the text with its location; `extra` is the whole text
/// being parsed, so that columns can be counted in it without a copy.
pub type Input<'a> = LocatedSpan<&'a str, &'a str>;

/// A parser's failure: a located error once committed, else a bare position.
#[derive(Debug)]
pub struct PError {
    pub error: Option<Error>,
}

impl<'a> nom::error::ParseError<Input<'a>> for PError {
    fn from_error_kind(_: Input<'a>, _: nom::error::ErrorKind) -> Self {
        PError { error: None }
    }

    fn append(_: Input<'a>, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

pub(super) type PResult<'a, T> = nom::IResult<Input<'a>, T, PError>;

pub(super) const KEYWORDS: [&str; 7] = ["input", "target", "param", "const", "fn", "loss", "train"];

thread_local! {
    /// How many brackets are open: inside them, line breaks are spaces.
    pub(super) static OPEN: Cell<usize> = const { Cell::new(0) };
    /// Current nesting depth, bounded by [`MAX_DEPTH`].
    pub(super) static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Numbers in the literal being parsed, bounded by [`MAX_ENTRIES`].
    pub(super) static LITERAL_NUMBERS: Cell<usize> = const { Cell::new(0) };
    /// Every comment met, in order.
    pub(super) static COMMENTS: RefCell<Vec<Comment>> = const { RefCell::new(Vec::new()) };
    /// The last column computed in the text being parsed, as (byte offset,
    /// line, column), so that columns are counted forward from there
    /// instead of from the start of the line each time: a line of 100 000
    /// numbers would otherwise take quadratic time.
    pub(super) static LAST_COLUMN: Cell<(usize, u32, u32)> = const { Cell::new((0, 1, 1)) };
}

// ---- spans and errors -------------------------------------------------

/// The span from `start` up to `end`.
pub(super) fn span(start: Input, end: Input) -> Span {
    Span {
        start: start.location_offset(),
        end: end.location_offset().max(start.location_offset()),
        line: start.location_line(),
        column: column(start),
        end_line: end.location_line().max(start.location_line()),
    }
}

/// The 1-based column (in characters) of `at`, counted on from the last one
/// computed when it lies further along the same line.
pub(super) fn column(at: Input) -> u32 {
    let (offset, line) = (at.location_offset(), at.location_line());
    let (last_offset, last_line, last_column) = LAST_COLUMN.with(|c| c.get());
    let source = at.extra;
    let counted = if line != last_line {
        None
    } else if offset >= last_offset {
        source.get(last_offset..offset).map(|t| last_column + t.chars().count() as u32)
    } else {
        // A little way back on the same line (the sign before a number,
        // the bracket that opened a list): counted back, not from the
        // start of what may be a very long line.
        source.get(offset..last_offset).map(|t| last_column - t.chars().count() as u32)
    };
    let col = counted.unwrap_or_else(|| at.get_utf8_column() as u32);
    LAST_COLUMN.with(|c| c.set((offset, line, col)));
    col
}

/// The span of the next character (or the end of the input).
pub(super) fn here(i: Input) -> Span {
    let len = i.fragment().chars().next().map(char::len_utf8).unwrap_or(0);
    let mut s = span(i, i);
    s.end = s.start + len;
    s
}

pub(super) fn fail<T>(kind: ErrorKind, span: Span) -> Result<T, nom::Err<PError>> {
    Err(nom::Err::Failure(PError { error: Some(Error { kind, span }) }))
}

pub(super) fn backtrack<T>() -> Result<T, nom::Err<PError>> {
    Err(nom::Err::Error(PError { error: None }))
}

/// Describes the next token for an error message.
pub(super) fn found(i: Input) -> String {
    match i.fragment().chars().next() {
        None => "the end of the file".into(),
        Some('\n') | Some('\r') => "the end of the line".into(),
        Some(c) => format!("'{c}'"),
    }
}

/// Expects `c` or fails with "expected 'c' after ...".
pub(super) fn expect_char<'a>(
    i: Input<'a>,
    c: char,
    what: &'static str,
    after: impl FnOnce() -> String,
) -> PResult<'a, Input<'a>> {
    match tag::<_, _, PError>(&*c.to_string()).parse(i) {
        Ok(r) => Ok(r),
        Err(_) => fail(ErrorKind::Expected { what, after: after() }, here(i)),
    }
}

/// What one level of nesting (a bracket, a call, a unary minus, a power)
/// costs against [`MAX_DEPTH`]; an operator in a chain or a `.T` costs 1.
/// Nesting recurses through several parser functions, so it costs more:
/// this keeps both the parser's and the later stages' recursion within a
/// small thread stack.
pub(super) const NEST_COST: usize = 4;

/// Runs `f` one level deeper, failing past [`MAX_DEPTH`].
pub(super) fn deeper<'a, T>(i: Input<'a>, f: impl FnOnce(Input<'a>) -> PResult<'a, T>) -> PResult<'a, T> {
    let depth = DEPTH.with(|d| d.get());
    if depth + NEST_COST > MAX_DEPTH {
        return fail(ErrorKind::TooDeep { limit: MAX_DEPTH }, here(i));
    }
    DEPTH.with(|d| d.set(depth + NEST_COST));
    let r = f(i);
    DEPTH.with(|d| d.set(depth));
    r
}

/// Runs `f` inside a bracket, where line breaks and comments are spaces.
pub(super) fn bracketed<'a, T>(i: Input<'a>, f: impl FnOnce(Input<'a>) -> PResult<'a, T>) -> PResult<'a, T> {
    OPEN.with(|o| o.set(o.get() + 1));
    let r = f(i);
    OPEN.with(|o| o.set(o.get().saturating_sub(1)));
    r
}

// ---- lexical rules ----------------------------------------------------

/// `ws`: spaces and tabs; inside brackets also line breaks and comments.
pub(super) fn ws(mut i: Input) -> PResult<()> {
    loop {
        let inside = OPEN.with(|o| o.get()) > 0;
        let (rest, _) =
            take_while::<_, _, PError>(|c: char| c == ' ' || c == '\t' || (inside && (c == '\n' || c == '\r')))
                .parse(i)?;
        i = rest;
        if inside && i.fragment().starts_with('#') {
            let (rest, _) = comment(i)?;
            i = rest;
            continue;
        }
        return Ok((i, ()));
    }
}

/// `comment`: `#` to the end of the line; recorded for `fmt`.
pub(super) fn comment(i: Input) -> PResult<()> {
    let (rest, hash) = tag("#").parse(i)?;
    let (rest, body) = take_while(|c: char| c != '\n').parse(rest)?;
    let text = body.fragment().trim_end_matches('\r').to_string();
    if let Some((at, ch)) = text.char_indices().find(|&(_, c)| !crate::diagnostic::allowed_in_comment(c)) {
        return fail(ErrorKind::ControlInComment { ch }, here(nom::Input::take_from(&body, at)));
    }
    COMMENTS.with(|c| c.borrow_mut().push(Comment { text, span: span(hash, rest) }));
    Ok((rest, ()))
}

/// `name`: a letter or underscore, then letters, digits and underscores.
pub(super) fn name(i: Input) -> PResult<Ident> {
    let (end, word) = take_while::<_, _, PError>(habits::is_word_char).parse(i)?;
    if !word.fragment().is_ascii() {
        let found = word.fragment().to_string();
        let suggestion = habits::ascii_name(&found);
        return fail(ErrorKind::NonAsciiName { found, suggestion }, span(i, end));
    }
    let (rest, text) = recognize((
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(i)?;
    Ok((rest, Ident { name: text.fragment().to_string(), span: span(text, rest) }))
}

/// A name that must not be a keyword.
pub(super) fn binding_name<'a>(i: Input<'a>, after: impl FnOnce() -> String) -> PResult<'a, Ident> {
    match name(i) {
        Ok((rest, id)) if KEYWORDS.contains(&id.name.as_str()) => {
            fail(ErrorKind::KeywordAsName { keyword: id.name }, span(i, rest))
        }
        Ok(r) => Ok(r),
        Err(e @ nom::Err::Failure(_)) => Err(e),
        Err(_) => fail(ErrorKind::Expected { what: "a name", after: after() }, here(i)),
    }
}

/// `number`: digits with an optional fraction and exponent (unsigned).
pub(super) fn number(i: Input) -> PResult<Number> {
    let (end, value) = decimal(i)?;
    Ok((end, Number { text: recognize_text(i, end), value: value.to_rational(), span: span(i, end) }))
}

/// The value of the `number` at `i`, scanned byte by byte: neither its text
/// nor its span is made, and a mantissa of up to 18 digits needs no big
/// integer. Literals of millions of numbers come through here.
pub(super) fn decimal(i: Input) -> PResult<Decimal> {
    let bytes = i.fragment().as_bytes();
    let digits_from = |at: usize| bytes.get(at..).map_or(0, |b| b.iter().take_while(|c| c.is_ascii_digit()).count());
    let int_len = digits_from(0);
    let mut end = int_len;
    let mut frac = (0, 0);
    if bytes.get(end) == Some(&b'.') {
        frac = (end + 1, digits_from(end + 1));
        end = frac.0 + frac.1;
    }
    if int_len == 0 && frac.1 == 0 {
        return backtrack();
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let signed = matches!(bytes.get(end + 1), Some(b'+' | b'-'));
        let digits_at = end + 1 + usize::from(signed);
        let exp_len = digits_from(digits_at);
        let text_end = |at: usize, also: &[u8]| {
            at + bytes[at..].iter().take_while(|c| c.is_ascii_alphanumeric() || also.contains(c)).count()
        };
        if exp_len == 0 {
            let stop = text_end(digits_at, b".+-");
            let rest = nom::Input::take_from(&i, stop);
            return fail(ErrorKind::BadNumber { text: recognize_text(i, rest) }, span(i, rest));
        }
        let text = &i.fragment()[digits_at..digits_at + exp_len];
        let Some(magnitude) = text.parse::<i64>().ok().filter(|m| *m <= 1000) else {
            let rest = nom::Input::take_from(&i, text_end(digits_at + exp_len, b"."));
            return fail(ErrorKind::ExponentTooLarge { text: recognize_text(i, rest) }, span(i, rest));
        };
        exponent = if bytes[end + 1] == b'-' { -magnitude } else { magnitude };
        end = digits_at + exp_len;
    }
    let rest = nom::Input::take_from(&i, end);
    if int_len + frac.1 > MAX_DIGITS {
        return fail(ErrorKind::NumberTooLong { digits: int_len + frac.1, limit: MAX_DIGITS }, span(i, rest));
    }
    // A letter glued to a number (`2x`) is neither a number nor a name.
    if rest.fragment().starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        let (text_end, glued) = take_while(|c: char| c.is_ascii_alphanumeric() || c == '_').parse(rest)?;
        let kind = ErrorKind::GluedNumber { number: recognize_text(i, rest), name: glued.fragment().to_string() };
        return fail(kind, span(i, text_end));
    }
    Ok((rest, decimal_value(&bytes[..int_len], &bytes[frac.0..frac.0 + frac.1], exponent)))
}

/// The value of a number from its integer digits, fraction digits and exponent.
pub(super) fn decimal_value(int_digits: &[u8], frac_digits: &[u8], exponent: i64) -> Decimal {
    let scale = exponent - frac_digits.len() as i64;
    let significant = int_digits.iter().chain(frac_digits).skip_while(|c| **c == b'0');
    let small = (significant.clone().count() <= 18)
        .then(|| significant.fold(0i64, |m, c| m * 10 + i64::from(c - b'0')))
        .zip(i32::try_from(scale).ok());
    match small {
        Some((mantissa, exponent)) => Decimal::Small { mantissa, exponent },
        None => {
            let all: String = int_digits.iter().chain(frac_digits).map(|c| char::from(*c)).collect();
            let mantissa: BigInt = all.parse().unwrap_or_else(|_| BigInt::zero());
            let ten = BigInt::from(10);
            let r = if scale >= 0 {
                BigRational::from_integer(mantissa * num_traits::pow(ten, scale as usize))
            } else {
                BigRational::new(mantissa, num_traits::pow(ten, scale.unsigned_abs() as usize))
            };
            Decimal::Rational(Box::new(r))
        }
    }
}

/// `Ok(None)` for a parser that did not match, its failure if it committed.
pub(super) fn opt_committed<'a, T>(r: PResult<'a, T>) -> Result<Option<(Input<'a>, T)>, nom::Err<PError>> {
    match r {
        Ok(x) => Ok(Some(x)),
        Err(nom::Err::Error(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The error for a missing expression at `at`: an odd character is named.
pub(super) fn missing_expression<T>(after: String, at: Input) -> Result<T, nom::Err<PError>> {
    match at.fragment().chars().next() {
        Some(ch) if habits::is_word_char(ch) && !ch.is_ascii() => name(at).and_then(|_| backtrack()),
        Some(ch) if !(ch.is_ascii_alphanumeric() || ch.is_whitespace() || "()[]-+.,#_".contains(ch)) => {
            fail(ErrorKind::UnexpectedChar { ch, expected: "an expression" }, here(at))
        }
        _ => fail(ErrorKind::ExpectedExpression { after }, here(at)),
    }
}

pub(super) fn recognize_text(start: Input, end: Input) -> String {
    let len = end.location_offset().saturating_sub(start.location_offset());
    start.fragment().get(..len).unwrap_or("").to_string()
}

/// `number_literal`: a number with an optional sign, as in `-0.5`.
pub(super) fn number_literal(i: Input) -> PResult<Number> {
    let (rest, value) = signed_decimal(i)?;
    Ok((rest, Number { text: recognize_text(i, rest), value: value.to_rational(), span: span(i, rest) }))
}

/// The value of the `number_literal` at `i`, without its text or span.
pub(super) fn signed_decimal(i: Input) -> PResult<Decimal> {
    let (rest, sign) = opt(nom::branch::alt((char('-'), char('+')))).parse(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, value) = match decimal(rest) {
        Ok(r) => r,
        Err(nom::Err::Error(_)) if sign.is_some() => {
            return fail(
                ErrorKind::Expected { what: "a number", after: format!("'{}'", sign.unwrap_or('-')) },
                here(rest),
            )
        }
        Err(e) => return Err(e),
    };
    Ok((rest, if sign == Some('-') { -value } else { value }))
}

/// The shape of a bracketed, comma-separated sequence.
pub(super) struct Sequence {
    /// `']'` or `')'`.
    pub(super) close: char,
    /// May be empty (`[]`, `f()`).
    pub(super) empty: bool,
    /// May end with a comma before the bracket (`[1, 2,]`).
    pub(super) trailing: bool,
    /// What one entry is called in errors (`a dimension`).
    pub(super) entry: &'static str,
}

/// The entries of a sequence whose opening bracket is at `open` and was just
/// consumed, up to and including the closing bracket. `entry` parses one,
/// given what came before it (`'['` or `','`) for its error messages.
pub(super) fn separated<'a, T>(
    i: Input<'a>,
    open: Input<'a>,
    seq: Sequence,
    mut entry: impl FnMut(Input<'a>, &'static str) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let (open_char, expected, first) =
        if seq.close == ']' { ('[', "',' or ']'", "'['") } else { ('(', "',' or ')'", "'('") };
    let unclosed = |instead| fail(ErrorKind::Unclosed { open: open_char, instead }, here(open));
    let close = seq.close.to_string();
    bracketed(i, |i| {
        let (mut rest, _) = ws(i)?;
        let mut out = Vec::new();
        loop {
            let may_close = if out.is_empty() { seq.empty } else { seq.trailing };
            if may_close {
                if let Ok((r, _)) = tag::<_, _, PError>(close.as_str()).parse(rest) {
                    return Ok((r, out));
                }
            }
            if rest.fragment().is_empty() {
                return unclosed(None);
            }
            let (r, x) = entry(rest, if out.is_empty() { first } else { "','" })?;
            out.push(x);
            let entry_end = r;
            let (r, _) = ws(r)?;
            if let Ok((r, _)) = tag::<_, _, PError>(",").parse(r) {
                let (r, _) = ws(r)?;
                rest = r;
                continue;
            }
            if let Ok((r, _)) = tag::<_, _, PError>(close.as_str()).parse(r) {
                return Ok((r, out));
            }
            if r.fragment().is_empty() {
                return unclosed(None);
            }
            if r.location_line() > entry_end.location_line() {
                // The sequence ran on to another line: most likely its bracket is missing.
                return unclosed(Some(here(r)));
            }
            let after = seq.entry.to_string();
            return fail(ErrorKind::Expected { what: expected, after }, here(r));
        }
    })
}
