//! The `.nn` parser: one function per rule of `grammar/nn.ebnf`, with the
//! same name, built from the smallest piece up (nom 8 with nom_locate spans).
//!
//! Errors: a parser that has seen enough to know what the user meant is
//! committed and fails with a located [`Error`] saying what was expected
//! (`nom::Err::Failure`); one that merely did not match backtracks
//! (`nom::Err::Error`).

use std::cell::{Cell, RefCell};

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, digit1};
use nom::combinator::{opt, recognize};
use nom::Parser;
use nom_locate::LocatedSpan;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Zero;

use super::ast::*;
use super::error::{Error, ErrorKind, MAX_DEPTH, MAX_DIGITS, MAX_ENTRIES};
use super::format::expr_text;
use super::habits;
use super::Span;

#[path = "statements.rs"]
mod statements;

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

type PResult<'a, T> = nom::IResult<Input<'a>, T, PError>;

const KEYWORDS: [&str; 7] = ["input", "target", "param", "const", "fn", "loss", "train"];

thread_local! {
    /// How many brackets are open: inside them, line breaks are spaces.
    static OPEN: Cell<usize> = const { Cell::new(0) };
    /// Current nesting depth, bounded by [`MAX_DEPTH`].
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Numbers in the literal being parsed, bounded by [`MAX_ENTRIES`].
    static LITERAL_NUMBERS: Cell<usize> = const { Cell::new(0) };
    /// Every comment met, in order.
    static COMMENTS: RefCell<Vec<Comment>> = const { RefCell::new(Vec::new()) };
    /// The last column computed in the text being parsed, as (byte offset,
    /// line, column), so that columns are counted forward from there
    /// instead of from the start of the line each time: a line of 100 000
    /// numbers would otherwise take quadratic time.
    static LAST_COLUMN: Cell<(usize, u32, u32)> = const { Cell::new((0, 1, 1)) };
}

/// Parses a whole file.
pub fn parse(source: &str) -> Result<File, Error> {
    OPEN.with(|o| o.set(0));
    DEPTH.with(|d| d.set(0));
    COMMENTS.with(|c| c.borrow_mut().clear());
    LAST_COLUMN.with(|c| c.set((0, 1, 1)));
    let result = file(Input::new_extra(source, source));
    let comments = COMMENTS.with(|c| std::mem::take(&mut *c.borrow_mut()));
    match result {
        Ok((_, items)) => Ok(File { items, comments }),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
            Err(e.error.unwrap_or_else(|| Error { kind: ErrorKind::ExpectedStatement, span: Span::default() }))
        }
        Err(nom::Err::Incomplete(_)) => Err(Error { kind: ErrorKind::ExpectedStatement, span: Span::default() }),
    }
}

/// Parses `NAME = LITERAL`, a value given from outside the file (the
/// command line's `--given 'y=[0, 1]'`), with spans into that text.
pub fn parse_given(source: &str) -> Result<(Ident, Literal), Error> {
    OPEN.with(|o| o.set(0));
    DEPTH.with(|d| d.set(0));
    LITERAL_NUMBERS.with(|c| c.set(0));
    LAST_COLUMN.with(|c| c.set((0, 1, 1)));
    let result = given(Input::new_extra(source, source));
    COMMENTS.with(|c| c.borrow_mut().clear());
    match result {
        Ok((_, out)) => Ok(out),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.error.unwrap_or_else(|| Error {
            kind: ErrorKind::Expected { what: "NAME=VALUE", after: "--given".into() },
            span: Span::default(),
        })),
        Err(nom::Err::Incomplete(_)) => Err(Error {
            kind: ErrorKind::Expected { what: "NAME=VALUE", after: "--given".into() },
            span: Span::default(),
        }),
    }
}

fn given(i: Input) -> PResult<(Ident, Literal)> {
    let (rest, _) = ws(i)?;
    let (rest, id) = match name(rest) {
        Ok(ok) => ok,
        Err(nom::Err::Error(_)) => {
            return fail(ErrorKind::Expected { what: "a declared name", after: "--given".into() }, here(rest))
        }
        Err(e) => return Err(e),
    };
    let (rest, _) = ws(rest)?;
    let Ok((rest, _)) = tag::<_, _, PError>("=").parse(rest) else {
        return fail(ErrorKind::Expected { what: "'='", after: format!("'{}'", id.name) }, here(rest));
    };
    let (rest, _) = ws(rest)?;
    let (rest, value) = literal(rest)?;
    let (rest, _) = ws(rest)?;
    if !rest.fragment().is_empty() {
        return fail(ErrorKind::Expected { what: "the end of the value", after: "the value".into() }, here(rest));
    }
    Ok((rest, (id, value)))
}

// ---- spans and errors -------------------------------------------------

/// The span from `start` up to `end`.
fn span(start: Input, end: Input) -> Span {
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
fn column(at: Input) -> u32 {
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
fn here(i: Input) -> Span {
    let len = i.fragment().chars().next().map(char::len_utf8).unwrap_or(0);
    let mut s = span(i, i);
    s.end = s.start + len;
    s
}

fn fail<T>(kind: ErrorKind, span: Span) -> Result<T, nom::Err<PError>> {
    Err(nom::Err::Failure(PError { error: Some(Error { kind, span }) }))
}

fn backtrack<T>() -> Result<T, nom::Err<PError>> {
    Err(nom::Err::Error(PError { error: None }))
}

/// Describes the next token for an error message.
fn found(i: Input) -> String {
    match i.fragment().chars().next() {
        None => "the end of the file".into(),
        Some('\n') | Some('\r') => "the end of the line".into(),
        Some(c) => format!("'{c}'"),
    }
}

/// Expects `c` or fails with "expected 'c' after ...".
fn expect_char<'a>(
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
const NEST_COST: usize = 4;

/// Runs `f` one level deeper, failing past [`MAX_DEPTH`].
fn deeper<'a, T>(i: Input<'a>, f: impl FnOnce(Input<'a>) -> PResult<'a, T>) -> PResult<'a, T> {
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
fn bracketed<'a, T>(i: Input<'a>, f: impl FnOnce(Input<'a>) -> PResult<'a, T>) -> PResult<'a, T> {
    OPEN.with(|o| o.set(o.get() + 1));
    let r = f(i);
    OPEN.with(|o| o.set(o.get().saturating_sub(1)));
    r
}

// ---- lexical rules ----------------------------------------------------

/// `ws`: spaces and tabs; inside brackets also line breaks and comments.
fn ws(mut i: Input) -> PResult<()> {
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
fn comment(i: Input) -> PResult<()> {
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
fn name(i: Input) -> PResult<Ident> {
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
fn binding_name<'a>(i: Input<'a>, after: impl FnOnce() -> String) -> PResult<'a, Ident> {
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
fn number(i: Input) -> PResult<Number> {
    let (end, value) = decimal(i)?;
    Ok((end, Number { text: recognize_text(i, end), value: value.to_rational(), span: span(i, end) }))
}

/// The value of the `number` at `i`, scanned byte by byte: neither its text
/// nor its span is made, and a mantissa of up to 18 digits needs no big
/// integer. Literals of millions of numbers come through here.
fn decimal(i: Input) -> PResult<Decimal> {
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
fn decimal_value(int_digits: &[u8], frac_digits: &[u8], exponent: i64) -> Decimal {
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
fn opt_committed<'a, T>(r: PResult<'a, T>) -> Result<Option<(Input<'a>, T)>, nom::Err<PError>> {
    match r {
        Ok(x) => Ok(Some(x)),
        Err(nom::Err::Error(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The error for a missing expression at `at`: an odd character is named.
fn missing_expression<T>(after: String, at: Input) -> Result<T, nom::Err<PError>> {
    match at.fragment().chars().next() {
        Some(ch) if habits::is_word_char(ch) && !ch.is_ascii() => name(at).and_then(|_| backtrack()),
        Some(ch) if !(ch.is_ascii_alphanumeric() || ch.is_whitespace() || "()[]-+.,#_".contains(ch)) => {
            fail(ErrorKind::UnexpectedChar { ch, expected: "an expression" }, here(at))
        }
        _ => fail(ErrorKind::ExpectedExpression { after }, here(at)),
    }
}

fn recognize_text(start: Input, end: Input) -> String {
    let len = end.location_offset().saturating_sub(start.location_offset());
    start.fragment().get(..len).unwrap_or("").to_string()
}

/// `number_literal`: a number with an optional sign, as in `-0.5`.
fn number_literal(i: Input) -> PResult<Number> {
    let (rest, value) = signed_decimal(i)?;
    Ok((rest, Number { text: recognize_text(i, rest), value: value.to_rational(), span: span(i, rest) }))
}

/// The value of the `number_literal` at `i`, without its text or span.
fn signed_decimal(i: Input) -> PResult<Decimal> {
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

// ---- declarations -----------------------------------------------------

/// `role`: the keyword that starts a declaration.
fn role(i: Input) -> PResult<Role> {
    let (rest, id) = name(i)?;
    let r = match id.name.as_str() {
        "input" => Role::Input,
        "target" => Role::Target,
        "param" => Role::Param,
        "const" => Role::Const,
        _ => return backtrack(),
    };
    Ok((rest, r))
}

/// `dim`: one whole-number dimension.
fn dim(i: Input) -> PResult<Dim> {
    match digit1::<_, PError>(i) {
        Ok((rest, d)) => match d.fragment().parse::<u64>() {
            Ok(size) if !rest.fragment().starts_with(['.', 'e', 'E']) => Ok((rest, Dim { size, span: span(i, rest) })),
            Ok(_) => fail(ErrorKind::ExpectedDimension, here(rest)),
            Err(_) => fail(ErrorKind::DimensionTooLarge, span(i, rest)),
        },
        Err(_) => fail(ErrorKind::ExpectedDimension, here(i)),
    }
}

/// The shape of a bracketed, comma-separated sequence.
struct Sequence {
    /// `']'` or `')'`.
    close: char,
    /// May be empty (`[]`, `f()`).
    empty: bool,
    /// May end with a comma before the bracket (`[1, 2,]`).
    trailing: bool,
    /// What one entry is called in errors (`a dimension`).
    entry: &'static str,
}

/// The entries of a sequence whose opening bracket is at `open` and was just
/// consumed, up to and including the closing bracket. `entry` parses one,
/// given what came before it (`'['` or `','`) for its error messages.
fn separated<'a, T>(
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

/// `dims`: `[` dim (`,` dim)* `]`.
fn dims(i: Input) -> PResult<(Vec<Dim>, Span)> {
    let (rest, _) = tag("[").parse(i)?;
    let seq = Sequence { close: ']', empty: false, trailing: false, entry: "a dimension" };
    let (rest, out) = separated(rest, i, seq, |r, _| dim(r))?;
    Ok((rest, (out, span(i, rest))))
}

/// `literal`: a signed number or a bracketed list of literals.
fn literal(i: Input) -> PResult<Literal> {
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
fn count_literal_number(start: Input, end: Input) -> Result<(), nom::Err<PError>> {
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
fn list(i: Input) -> PResult<Literal> {
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
fn general_list(i: Input) -> PResult<Literal> {
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
fn number_row(bytes: &[u8]) -> Option<NumberRow> {
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
    let mut values = Decimals::with_capacity(row.iter().filter(|c| **c == b',').count() + 1);
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
        let sign = byte(at);
        let negative = sign == b'-';
        at += usize::from(matches!(sign, b'-' | b'+'));
        let int_at = at;
        let (int_len, mut mantissa, mut significant) = digits(at, 0, 0);
        at += int_len;
        let dot = byte(at) == b'.';
        let mut frac_len = 0;
        if dot {
            (frac_len, mantissa, significant) = digits(at + 1, mantissa, significant);
            at += 1 + frac_len;
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

/// What [`number_row`] read: its length in bytes, each number's value, and
/// whether the values give its text again.
struct NumberRow {
    len: usize,
    values: Decimals,
    canonical: bool,
}

/// `declaration`: `ROLE NAME dims? (= literal)? (~ draw)?`.
fn declaration(i: Input) -> PResult<TensorDecl> {
    let (rest, r) = role(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, id) = binding_name(rest, || format!("'{}'", r.keyword()))?;
    let (rest, _) = ws(rest)?;
    let (rest, time) = if declares_time(rest) {
        let (r, t) = time_index(rest)?;
        let (r, _) = ws(r)?;
        (r, Some(t))
    } else {
        (rest, None)
    };
    let (rest, dims_and_span) = opt(dims).parse(rest)?;
    let (dims, dims_span) = match dims_and_span {
        Some((d, s)) => (d, Some(s)),
        None => (Vec::new(), None),
    };
    let (rest, _) = ws(rest)?;
    let (rest, value) = if let Ok((r, _)) = tag::<_, _, PError>("=").parse(rest) {
        let (r, _) = ws(r)?;
        LITERAL_NUMBERS.with(|c| c.set(0));
        let (r, lit) = literal(r)?;
        (r, Some(lit))
    } else if at_line_end(rest) || rest.fragment().starts_with('~') {
        (rest, None)
    } else {
        let written: Vec<String> = dims.iter().map(|d| d.size.to_string()).collect();
        let shown = if dims_span.is_some() {
            format!("'{}[{}]'", id.name, written.join(","))
        } else {
            format!("'{}'", id.name)
        };
        return fail(ErrorKind::Expected { what: "'=' or the end of the line", after: shown }, here(rest));
    };
    let (after_ws, _) = ws(rest)?;
    let (rest, draw) = if after_ws.fragment().starts_with('~') {
        let (r, d) = draw(after_ws)?;
        (r, Some(d))
    } else {
        (rest, None)
    };
    Ok((rest, TensorDecl { role: r, name: id, time, dims, dims_span, value, draw, span: span(i, rest) }))
}

/// `draw`: `~ NAME` or `~ NAME(draw_arg, ...)`, how `nnderive vary` draws
/// the declared tensor's numbers.
fn draw(i: Input) -> PResult<Draw> {
    let (rest, _) = tag("~").parse(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, id) = binding_name(rest, || "'~' (as in `~ uniform(-1, 1)`)".into())?;
    let (after_ws, _) = ws(rest)?;
    let (rest, args) = if after_ws.fragment().starts_with('(') {
        let open = after_ws;
        let (r, _) = tag("(").parse(after_ws)?;
        let seq = Sequence { close: ')', empty: true, trailing: true, entry: "an argument" };
        separated(r, open, seq, |r, after| draw_arg(r, after))?
    } else {
        (rest, Vec::new())
    };
    Ok((rest, Draw { name: id, args, span: span(i, rest) }))
}

/// `draw_arg`: a number, or `NAME = number` (`step = 0.1`).
fn draw_arg<'a>(i: Input<'a>, after: &'static str) -> PResult<'a, DrawArg> {
    let (rest, name) = match name(i) {
        Ok((r, id)) => {
            let (r, _) = ws(r)?;
            let (r, _) = expect_char(r, '=', "'='", || format!("'{}'", id.name))?;
            let (r, _) = ws(r)?;
            (r, Some(id))
        }
        Err(nom::Err::Failure(e)) => return Err(nom::Err::Failure(e)),
        Err(_) => (i, None),
    };
    let shown = || match &name {
        Some(id) => format!("'{} ='", id.name),
        None => after.to_string(),
    };
    let (rest, value) = match number_literal(rest) {
        Ok(r) => r,
        Err(nom::Err::Error(_)) => return fail(ErrorKind::Expected { what: "a number", after: shown() }, here(rest)),
        Err(e) => return Err(e),
    };
    Ok((rest, DrawArg { name, value }))
}

/// Whether the brackets at `i` after a declared name are a time index
/// (`x[t][2]`, `h[0][3]`) rather than dims (`x[2]`): they hold a name, or a
/// single number with another bracket right after them (`x[2] [1, 2]` is
/// dims and a literal missing its `=`).
fn declares_time(i: Input) -> bool {
    let Some(inside) = i.fragment().strip_prefix('[') else {
        return false;
    };
    let inside = inside.trim_start_matches([' ', '\t']);
    if inside.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return true;
    }
    let digits = inside.trim_start_matches(|c: char| c.is_ascii_digit());
    digits.len() < inside.len()
        && digits.trim_start_matches([' ', '\t']).strip_prefix(']').is_some_and(|after| after.starts_with('['))
}

// ---- time -----------------------------------------------------------------

/// `steps`: `steps NAME = step .. step`, the time index and its range.
fn steps(i: Input) -> PResult<Steps> {
    let (rest, _) = keyword("steps")(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, index) = binding_name(rest, || "'steps'".into())?;
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect_char(rest, '=', "'='", || format!("'steps {}'", index.name))?;
    let (rest, _) = ws(rest)?;
    let range_start = rest;
    let (rest, first) = step(rest, "'='")?;
    let (rest, _) = ws(rest)?;
    let Ok((rest, _)) = tag::<_, _, PError>("..").parse(rest) else {
        return fail(ErrorKind::Expected { what: "'..'", after: format!("'{first}' (as in `1..3`)") }, here(rest));
    };
    let (rest, _) = ws(rest)?;
    let (rest, last) = step(rest, "'..'")?;
    Ok((rest, Steps { index, first, last, range_span: span(range_start, rest), span: span(i, rest) }))
}

/// `step`: a whole-number step of the time index.
fn step<'a>(i: Input<'a>, after: &str) -> PResult<'a, u64> {
    match digit1::<_, PError>(i) {
        Ok((rest, d)) => match d.fragment().parse::<u64>() {
            Ok(n) if n <= i64::MAX as u64 => Ok((rest, n)),
            _ => fail(ErrorKind::StepTooLarge, span(i, rest)),
        },
        Err(_) => fail(ErrorKind::Expected { what: "a step (a whole number)", after: after.into() }, here(i)),
    }
}

/// `time_index`: `[t]`, `[t-1]`, `[t+1]` or `[0]` after a name: one step of a sequence.
fn time_index(i: Input) -> PResult<TimeIndex> {
    let (rest, _) = tag("[").parse(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, kind) = if let Ok((r, index)) = name(rest) {
        let (r, _) = ws(r)?;
        let sign = match r.fragment().chars().next() {
            Some('+') => 1,
            Some('-') => -1,
            _ => 0,
        };
        if sign == 0 {
            (r, TimeIndexKind::Relative { index, offset: 0 })
        } else {
            let after = format!("'{}'", if sign > 0 { '+' } else { '-' });
            let (r, _) = ws(nom::Input::take_from(&r, 1))?;
            let (r, n) = step(r, &after)?;
            (r, TimeIndexKind::Relative { index, offset: sign * n as i64 })
        }
    } else {
        let (r, n) = step(rest, "'['")?;
        (r, TimeIndexKind::Step(n))
    };
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect_char(rest, ']', "']'", || "the step".into())?;
    Ok((rest, TimeIndex { kind, span: span(i, rest) }))
}

/// `over`: `for NAME` after the argument of `sum(e for t)` or `mean(e for t)`.
fn over(i: Input) -> PResult<Ident> {
    let (rest, _) = ws(i)?;
    let (rest, _) = keyword("for")(rest)?;
    let (rest, _) = ws(rest)?;
    binding_name(rest, || "'for'".into())
}

fn at_line_end(i: Input) -> bool {
    let f = i.fragment();
    f.is_empty() || f.starts_with('\n') || f.starts_with('\r') || f.starts_with('#')
}

// ---- functions, equations, training -----------------------------------

/// `params`: `(` name (`,` name)* `)`.
fn params<'a>(i: Input<'a>, func: &str) -> PResult<'a, Vec<Ident>> {
    let (rest, _) = expect_char(i, '(', "'('", || format!("'fn {func}'"))?;
    let seq = Sequence { close: ')', empty: false, trailing: false, entry: "a parameter" };
    separated(rest, i, seq, |r, after| binding_name(r, || after.into()))
}

/// `function`: `fn NAME(params) = expr`.
fn function(i: Input) -> PResult<FnDef> {
    let (rest, _) = keyword("fn")(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, id) = binding_name(rest, || "'fn'".into())?;
    let (rest, _) = ws(rest)?;
    let (rest, ps) = params(rest, &id.name)?;
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect_char(rest, '=', "'='", || format!("'fn {}(...)'", id.name))?;
    let (rest, body) = rhs(rest, "'='")?;
    Ok((rest, FnDef { name: id, params: ps, body, span: span(i, rest) }))
}

/// Matches a keyword as a whole word.
fn keyword(word: &'static str) -> impl Fn(Input) -> PResult<()> {
    move |i| {
        let (rest, id) = name(i)?;
        if id.name == word {
            Ok((rest, ()))
        } else {
            backtrack()
        }
    }
}

/// The right-hand side after `=`: an expression, or a clear error.
fn rhs<'a>(i: Input<'a>, after: &str) -> PResult<'a, Expr> {
    let (rest, _) = ws(i)?;
    match expr(rest) {
        Ok(r) => Ok(r),
        Err(nom::Err::Error(_)) => missing_expression(after.to_string(), rest),
        Err(e) => Err(e),
    }
}

/// `equation`: `NAME = expr`.
fn equation(i: Input) -> PResult<Equation> {
    let (rest, id) = binding_name(i, || "the start of the line".into())?;
    let (rest, _) = ws(rest)?;
    // `inptu x[4] = ...`: a word, then a name where `=` belongs, reads best
    // as a misspelled keyword.
    if name(rest).is_ok() {
        if let Some(keyword) = crate::diagnostic::suggest(&id.name, KEYWORDS) {
            return fail(ErrorKind::MisspelledKeyword { found: id.name, keyword }, id.span);
        }
    }
    let (rest, time) = if rest.fragment().starts_with('[') {
        let (r, t) = time_index(rest)?;
        let (r, _) = ws(r)?;
        (r, Some(t))
    } else {
        (rest, None)
    };
    let (rest, mut eq) = defined_as(i, rest, id, String::new())?;
    eq.time = time;
    Ok((rest, eq))
}

/// `loss`: `loss NAME = expr`.
fn loss(i: Input) -> PResult<Equation> {
    let (rest, _) = keyword("loss")(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, id) = match binding_name(rest, || "'loss'".into()) {
        // `loss = ...`: the loss needs a name.
        Err(nom::Err::Failure(PError { error: Some(Error { kind: ErrorKind::Expected { .. }, span }) })) => {
            return fail(
                ErrorKind::Expected { what: "a name for the loss", after: "'loss' (as in `loss L = ...`)".into() },
                span,
            )
        }
        other => other?,
    };
    let (rest, _) = ws(rest)?;
    defined_as(i, rest, id, "loss ".into())
}

/// `= expr` after the name `id` of an equation that started at `start`;
/// `prefix` is what stood before the name, for error messages.
fn defined_as<'a>(start: Input<'a>, i: Input<'a>, id: Ident, prefix: String) -> PResult<'a, Equation> {
    let (rest, _) = expect_char(i, '=', "'='", || format!("'{prefix}{}'", id.name))?;
    let (rest, value) = rhs(rest, "'='")?;
    Ok((rest, Equation { name: id, time: None, value, span: span(start, rest) }))
}

/// `train_arg`: `NAME = number_literal`.
fn train_arg(i: Input) -> PResult<TrainArg> {
    let (rest, id) = binding_name(i, || "'('".into())?;
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect_char(rest, '=', "'='", || format!("'{}'", id.name))?;
    let (rest, _) = ws(rest)?;
    let (rest, value) = match number_literal(rest) {
        Ok(r) => r,
        Err(nom::Err::Error(_)) => {
            return fail(ErrorKind::Expected { what: "a number", after: format!("'{} ='", id.name) }, here(rest))
        }
        Err(e) => return Err(e),
    };
    Ok((rest, TrainArg { name: id, value }))
}

/// `train`: `train NAME(train_arg, ...)`.
fn train(i: Input) -> PResult<Train> {
    let (rest, _) = keyword("train")(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, optimizer) = binding_name(rest, || "'train'".into())?;
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect_char(rest, '(', "'('", || format!("'train {}'", optimizer.name))?;
    let seq = Sequence { close: ')', empty: true, trailing: true, entry: "a setting" };
    let (rest, args) = separated(rest, i, seq, |r, _| train_arg(r))?;
    Ok((rest, Train { optimizer, args, span: span(i, rest) }))
}

// ---- expressions --------------------------------------------------------

/// Folds `first (op next)*` left-associatively, counting depth per operator.
fn chain<'a>(
    i: Input<'a>,
    ops: &'static [(&'static str, BinOp)],
    next: fn(Input<'a>) -> PResult<'a, Expr>,
) -> PResult<'a, Expr> {
    let (mut rest, mut lhs) = next(i)?;
    let base = DEPTH.with(|d| d.get());
    let mut count = 0;
    loop {
        let (r, _) = ws(rest)?;
        let Some((symbol, op)) = ops.iter().find(|(s, _)| r.fragment().starts_with(*s)) else {
            break;
        };
        let (after_op, op_tok) = tag::<_, _, PError>(*symbol).parse(r)?;
        if *symbol == "*" && after_op.fragment().starts_with('*') {
            return double_star(&lhs, after_op);
        }
        count += 1;
        if base + count > MAX_DEPTH {
            DEPTH.with(|d| d.set(base));
            return fail(ErrorKind::TooDeep { limit: MAX_DEPTH }, here(r));
        }
        // Each operator deepens the left-leaning tree, and what follows it too.
        DEPTH.with(|d| d.set(base + count));
        let (after_ws, _) = ws(after_op)?;
        let parsed = next(after_ws);
        DEPTH.with(|d| d.set(base));
        let (r2, rhs) = match parsed {
            Ok(x) => x,
            Err(nom::Err::Error(_)) => return missing_expression(format!("'{symbol}'"), after_ws),
            Err(e) => return Err(e),
        };
        let s = lhs.span.to(rhs.span);
        lhs = Expr {
            kind: ExprKind::Binary { op: *op, op_span: span(op_tok, after_op), lhs: Box::new(lhs), rhs: Box::new(rhs) },
            span: s,
        };
        rest = r2;
    }
    Ok((rest, lhs))
}

/// Python's power, as in `W1**2`: refused with the same power written `^`
/// (`after` is the second `*`; the base is the last operand of `lhs`).
fn double_star<'a>(lhs: &Expr, after: Input<'a>) -> PResult<'a, Expr> {
    let base = match &lhs.kind {
        ExprKind::Binary { op: BinOp::Mul | BinOp::Div | BinOp::MatMul, rhs, .. } => rhs,
        _ => lhs,
    };
    let (r, _) = tag("*").parse(after)?;
    let (r, _) = ws(r)?;
    let (end, exponent) = match deeper(r, unary) {
        Ok(x) => x,
        Err(nom::Err::Error(_)) => return missing_expression("'**'".into(), r),
        Err(e) => return Err(e),
    };
    let exponent = match &exponent.kind {
        ExprKind::Number(_) | ExprKind::Name(_) | ExprKind::Paren(_) | ExprKind::Call { .. } => expr_text(&exponent),
        _ => format!("({})", expr_text(&exponent)),
    };
    let base_text = match &base.kind {
        ExprKind::Number(_) | ExprKind::Name(_) | ExprKind::Paren(_) | ExprKind::Call { .. } => expr_text(base),
        _ => format!("({})", expr_text(base)),
    };
    fail(ErrorKind::DoubleStar { instead: format!("{base_text}^{exponent}") }, base.span.to(span(after, end)))
}

/// `expr`: terms joined by `+` and `-`.
pub fn expr(i: Input) -> PResult<Expr> {
    chain(i, &[("+", BinOp::Add), ("-", BinOp::Sub)], term)
}

/// `term`: unary expressions joined by `*`, `/` and `@`.
fn term(i: Input) -> PResult<Expr> {
    chain(i, &[("*", BinOp::Mul), ("/", BinOp::Div), ("@", BinOp::MatMul)], unary)
}

/// `unary`: `-` unary, or a power.
fn unary(i: Input) -> PResult<Expr> {
    if let Ok((rest, _)) = tag::<_, _, PError>("-").parse(i) {
        return deeper(rest, |rest| {
            let (rest, _) = ws(rest)?;
            let (end, inner) = match unary(rest) {
                Ok(x) => x,
                Err(nom::Err::Error(_)) => return missing_expression("'-'".into(), rest),
                Err(e) => return Err(e),
            };
            let s = here(i).to(inner.span);
            Ok((end, Expr { kind: ExprKind::Neg(Box::new(inner)), span: s }))
        });
    }
    power(i)
}

/// `power`: postfix (`^` unary)?, right-associative and tighter than unary minus.
fn power(i: Input) -> PResult<Expr> {
    let (rest, base) = postfix(i)?;
    let (r, _) = ws(rest)?;
    let Ok((after_op, op_tok)) = tag::<_, _, PError>("^").parse(r) else {
        return Ok((rest, base));
    };
    deeper(after_op, |after_op| {
        let (after_ws, _) = ws(after_op)?;
        let (end, exponent) = match unary(after_ws) {
            Ok(x) => x,
            Err(nom::Err::Error(_)) => return missing_expression("'^'".into(), after_ws),
            Err(e) => return Err(e),
        };
        let s = base.span.to(exponent.span);
        let kind = ExprKind::Binary {
            op: BinOp::Pow,
            op_span: span(op_tok, after_op),
            lhs: Box::new(base),
            rhs: Box::new(exponent),
        };
        Ok((end, Expr { kind, span: s }))
    })
}

/// `postfix`: a primary followed by any number of `.T`.
fn postfix(i: Input) -> PResult<Expr> {
    let (mut rest, mut e) = primary(i)?;
    let mut count = 0;
    while let Ok((r, _)) = tag::<_, _, PError>(".T").parse(rest) {
        if r.fragment().starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            break;
        }
        count += 1;
        if DEPTH.with(|d| d.get()) + count > MAX_DEPTH {
            return fail(ErrorKind::TooDeep { limit: MAX_DEPTH }, here(rest));
        }
        let s = e.span.to(span(rest, r));
        e = Expr { kind: ExprKind::Transpose(Box::new(e)), span: s };
        rest = r;
    }
    if rest.fragment().starts_with('.')
        && rest.fragment()[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    {
        return dotted(i, rest, e);
    }
    Ok((rest, e))
}

/// `np.dot(W1, x)`, `W1.dot(x)`, `x.sum()`: a module or method call, as in
/// NumPy and PyTorch. Not part of the grammar: refused with the nnderive
/// form of the same expression.
fn dotted<'a>(start: Input<'a>, mut rest: Input<'a>, receiver: Expr) -> PResult<'a, Expr> {
    let module = match &receiver.kind {
        ExprKind::Name(n) => habits::library(&n.name).map(|l| (n.name.clone(), l)),
        _ => None,
    };
    let mut path = Vec::new();
    while let Ok((r, _)) = tag::<_, _, PError>(".").parse(rest) {
        let Ok((r, member)) = name(r) else { break };
        path.push(member.name);
        rest = r;
    }
    let func = path.last().cloned().unwrap_or_default();
    let mut args = Vec::new();
    let called = rest.fragment().starts_with('(');
    if called {
        let open = rest;
        let (r, _) = tag("(").parse(rest)?;
        let (r, all) = deeper(r, |r| self::args(r, open))?;
        for a in all {
            args.push(match a {
                Arg::Positional(e) => expr_text(&e),
                Arg::Keyword(k) => format!("{} = {}", k.name.name, expr_text(&k.value)),
            });
        }
        rest = r;
    }
    let call = if called { format!("({})", args.join(", ")) } else { String::new() };
    let at = span(start, rest);
    match module {
        Some((m, library)) => {
            let written = format!("{m}.{}{call}", path.join("."));
            let instead = match (called, path.len()) {
                (true, 1) => habits::form(&func, &args).or_else(|| Some(format!("{func}{call}"))),
                _ => None,
            };
            fail(ErrorKind::ModuleCall { written, library, instead }, at)
        }
        None => {
            let receiver = expr_text(&receiver);
            let written = format!("{receiver}.{}{call}", path.join("."));
            let mut all = vec![receiver.clone()];
            all.extend(args.iter().cloned());
            let instead = match (called, path.len()) {
                (true, 1) => {
                    habits::form(&func, &all).or_else(|| args.is_empty().then(|| format!("{func}({receiver})")))
                }
                _ => None,
            };
            fail(ErrorKind::MethodCall { written, instead }, at)
        }
    }
}

/// `primary`: a number, a call, a name, or a parenthesized expression.
fn primary(i: Input) -> PResult<Expr> {
    if let Ok((rest, _)) = tag::<_, _, PError>("(").parse(i) {
        return deeper(rest, |rest| {
            bracketed(rest, |rest| {
                let (rest, _) = ws(rest)?;
                let (rest, inner) = match expr(rest) {
                    Ok(x) => x,
                    Err(nom::Err::Error(_)) => return missing_expression("'('".into(), rest),
                    Err(e) => return Err(e),
                };
                let (rest, _) = ws(rest)?;
                match tag::<_, _, PError>(")").parse(rest) {
                    Ok((end, _)) => Ok((end, Expr { kind: ExprKind::Paren(Box::new(inner)), span: span(i, end) })),
                    Err(_) if rest.fragment().is_empty() => {
                        fail(ErrorKind::Unclosed { open: '(', instead: None }, here(i))
                    }
                    Err(_) => fail(ErrorKind::Expected { what: "')'", after: "the expression".into() }, here(rest)),
                }
            })
        });
    }
    if let Some((rest, n)) = opt_committed(number(i))? {
        let s = n.span;
        return Ok((rest, Expr { kind: ExprKind::Number(n), span: s }));
    }
    let (rest, id) = name(i)?;
    if KEYWORDS.contains(&id.name.as_str()) {
        return fail(ErrorKind::KeywordAsName { keyword: id.name }, span(i, rest));
    }
    if rest.fragment().starts_with('(') {
        return deeper(i, call);
    }
    if rest.fragment().starts_with('[') {
        let (rest, index) = time_index(rest)?;
        return Ok((rest, Expr { kind: ExprKind::Indexed { name: id, index }, span: span(i, rest) }));
    }
    let s = id.span;
    Ok((rest, Expr { kind: ExprKind::Name(id), span: s }))
}

/// `call`: `NAME(args)`.
fn call(i: Input) -> PResult<Expr> {
    let (rest, func) = name(i)?;
    let (rest, _) = tag("(").parse(rest)?;
    let (rest, all) = args(rest, i)?;
    let mut args = Vec::new();
    let mut keywords = Vec::new();
    for a in all {
        match a {
            Arg::Positional(e) => args.push(e),
            Arg::Keyword(k) => keywords.push(k),
        }
    }
    Ok((rest, Expr { kind: ExprKind::Call { func, args, keywords }, span: span(i, rest) }))
}

/// One argument of a call, as written.
enum Arg {
    Positional(Expr),
    Keyword(KeywordArg),
}

/// `args`: arguments separated by commas, up to the closing `)`.
fn args<'a>(i: Input<'a>, start: Input<'a>) -> PResult<'a, Vec<Arg>> {
    let seq = Sequence { close: ')', empty: true, trailing: false, entry: "an argument" };
    separated(i, start, seq, |r, after| match arg(r) {
        Err(nom::Err::Error(_)) => missing_expression(after.into(), r),
        other => other,
    })
}

/// `arg`: a keyword argument, or an expression (with `for t` when summed over time).
fn arg(i: Input) -> PResult<Arg> {
    if let Some((rest, k)) = opt_committed(keyword_arg(i))? {
        return Ok((rest, Arg::Keyword(k)));
    }
    let (rest, e) = expr(i)?;
    match opt_committed(over(rest))? {
        Some((end, index)) => {
            let s = e.span.to(index.span);
            Ok((end, Arg::Positional(Expr { kind: ExprKind::Over { body: Box::new(e), index }, span: s })))
        }
        None => Ok((rest, Arg::Positional(e))),
    }
}

/// `keyword_arg`: `NAME = expr`; backtracks when no `=` follows the name.
fn keyword_arg(i: Input) -> PResult<KeywordArg> {
    let (rest, id) = name(i)?;
    let (rest, _) = ws(rest)?;
    let Ok((rest, _)) = tag::<_, _, PError>("=").parse(rest) else {
        return backtrack();
    };
    let (rest, value) = rhs(rest, &format!("'{} ='", id.name))?;
    Ok((rest, KeywordArg { name: id, value }))
}

// ---- statements and the file ----------------------------------------------

/// `statement`: whichever statement the first word announces.
fn statement(i: Input) -> PResult<Item> {
    let word = name(i);
    if let Err(e @ nom::Err::Failure(_)) = word {
        return Err(e);
    }
    if let Ok((_, id)) = word {
        return match id.name.as_str() {
            "input" | "target" | "param" | "const" => declaration(i).map(|(r, d)| (r, Item::Tensor(d))),
            "fn" => function(i).map(|(r, f)| (r, Item::Function(f))),
            "loss" => loss(i).map(|(r, e)| (r, Item::Loss(e))),
            "train" => train(i).map(|(r, t)| (r, Item::Train(t))),
            "steps" if starts_steps(i) => steps(i).map(|(r, s)| (r, Item::Steps(s))),
            "layout" if statements::starts_layout(i) => statements::layout(i).map(|(r, l)| (r, Item::Layout(l))),
            _ => equation(i).map(|(r, e)| (r, Item::Equation(e))),
        };
    }
    fail(ErrorKind::ExpectedStatement, here(i))
}

/// Whether `steps` at `i` starts a `steps t = ...` statement (a name
/// follows) rather than an equation named `steps`.
fn starts_steps(i: Input) -> bool {
    let after = i.fragment().trim_start_matches("steps").trim_start_matches([' ', '\t']);
    after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// `line`: an optional statement, an optional comment, then the line break.
fn line(i: Input) -> PResult<Option<Item>> {
    let (rest, _) = ws(i)?;
    let (rest, item) = if at_line_end(rest) {
        (rest, None)
    } else {
        let (r, item) = statement(rest)?;
        (r, Some(item))
    };
    let (rest, _) = ws(rest)?;
    let (rest, _) = opt(comment).parse(rest)?;
    let (rest, _) = opt(tag("\r")).parse(rest)?;
    if rest.fragment().is_empty() {
        return Ok((rest, item));
    }
    match tag::<_, _, PError>("\n").parse(rest) {
        Ok((r, _)) => Ok((r, item)),
        Err(_) => fail(ErrorKind::Trailing { found: found(rest) }, here(rest)),
    }
}

/// `file`: lines until the end of the input.
fn file(mut i: Input) -> PResult<Vec<Item>> {
    let mut items = Vec::new();
    while !i.fragment().is_empty() {
        let (rest, item) = line(i)?;
        items.extend(item);
        i = rest;
    }
    Ok((i, items))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A fixed seed under CI (as the integration tests use), else random.
    fn seed() -> proptest::test_runner::RngSeed {
        match std::env::var_os("CI") {
            Some(_) => proptest::test_runner::RngSeed::Fixed(20261126),
            None => proptest::test_runner::RngSeed::Random,
        }
    }

    /// One number as people and programs write them: a sign or none,
    /// digits (leading zeros too, up to 25 of them: past 18 significant
    /// digits the value is kept whole, past 2^54 it is not packed), a
    /// fraction or none, an exponent or none.
    fn number() -> impl Strategy<Value = String> {
        let digits = prop_oneof![
            4 => "[0-9]{1,3}",
            1 => "0",
            1 => "[1-9][0-9]{14,17}",
            1 => "[0-9]{19,25}",
        ];
        let fraction =
            prop_oneof![2 => Just(None), 3 => proptest::option::of("[0-9]{0,4}"), 1 => Just(Some("".into()))];
        let exponent = prop_oneof![4 => Just(String::new()), 1 => "[eE][+-]?[0-9]{1,3}"];
        (prop_oneof![Just(""), Just("-"), Just("+")], digits, fraction, exponent).prop_map(|(sign, int, frac, exp)| {
            let mantissa = match frac {
                Some(f) => format!("{int}.{f}"),
                None => int,
            };
            format!("{sign}{mantissa}{exp}")
        })
    }

    /// A row `[a, b, c]`: either with any of the separators and white
    /// space the grammar allows, or written as programs print numbers
    /// (mostly canonical, so that the few ways of not being so are met:
    /// one odd number among them, a `-0`, a mantissa past 2^54).
    fn row() -> impl Strategy<Value = String> {
        let separator = prop_oneof![6 => Just(", "), 1 => Just(","), 1 => Just(" ,  "), 1 => Just(",\t")];
        let blank = prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\t ")];
        let any_row = (proptest::collection::vec((number(), separator), 1..40), blank.clone(), blank, any::<bool>())
            .prop_map(|(numbers, open, close, trailing)| {
                let last = numbers.len() - 1;
                let mut text = format!("[{open}");
                for (k, (n, sep)) in numbers.iter().enumerate() {
                    text.push_str(n);
                    if k < last || trailing {
                        text.push_str(sep);
                    }
                }
                text.push_str(close);
                text.push(']');
                text
            });
        let int = prop_oneof![2 => Just("0".to_string()), 4 => "[1-9][0-9]{0,2}", 1 => "[1-9][0-9]{15,17}"];
        let printed = (prop_oneof![Just(""), Just("-")], int, proptest::option::of("[0-9]{1,4}"))
            .prop_map(|(sign, int, frac)| format!("{sign}{int}{}", frac.map(|f| format!(".{f}")).unwrap_or_default()));
        let printed_row = (proptest::collection::vec(printed, 1..12), proptest::option::of((any::<usize>(), number())))
            .prop_map(|(mut numbers, odd)| {
                if let Some((at, odd)) = odd {
                    let at = at % numbers.len();
                    numbers[at] = odd;
                }
                format!("[{}]", numbers.join(", "))
            });
        prop_oneof![any_row, printed_row]
    }

    /// Reads `text` as a literal list, the fast way when `fast` (as the
    /// parser does) or by the general rules only.
    fn read(text: &str, fast: bool) -> NumberList {
        LITERAL_NUMBERS.with(|c| c.set(0));
        LAST_COLUMN.with(|c| c.set((0, 1, 1)));
        let input = Input::new_extra(text, text);
        let parsed = if fast { list(input) } else { general_list(input) };
        match parsed {
            Ok((rest, Literal::Numbers(list))) if rest.fragment().is_empty() => list,
            other => panic!("{text:?} read as {other:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { rng_seed: seed(), cases: 1024, ..ProptestConfig::default() })]

        /// The fast path reads every row of plain numbers, to the same
        /// values (the same mantissa and power of ten, not only the same
        /// rational), texts and spans as the general rules; it keeps no
        /// text exactly when the values write it again.
        #[test]
        fn the_fast_path_for_rows_agrees_with_the_general_rules(text in row()) {
            prop_assert!(number_row(text.as_bytes()).is_some(), "not read fast: {text:?}");
            let (fast, general) = (read(&text, true), read(&text, false));
            prop_assert_eq!(format!("{:?}", fast.values()), format!("{:?}", general.values()));
            prop_assert_eq!(fast.texts().collect::<Vec<_>>(), general.texts().collect::<Vec<_>>());
            prop_assert_eq!(fast.numbers(), general.numbers());
            prop_assert_eq!(fast.span, general.span);
            prop_assert!(fast == general, "{:?} read unequal", text);
            // Written again from the values, independently of the parser.
            let written: Vec<String> = general
                .values()
                .iter()
                .map(|d| match d {
                    Decimal::Small { mantissa, exponent } if exponent <= 0 => super::super::ast::decimal_text(mantissa, exponent),
                    _ => String::new(),
                })
                .collect();
            let again = format!("[{}]", written.join(", "));
            let canonical = number_row(text.as_bytes()).map(|r| r.canonical);
            let packed = general.values().iter().all(|d| {
                matches!(d, Decimal::Small { mantissa, exponent: -128..=0 } if mantissa.unsigned_abs() < 1 << 54)
            });
            prop_assert_eq!(canonical, Some(again == text && packed), "{:?} written again as {:?}", text, again);
        }
    }

    #[test]
    fn canonical_rows_give_their_text_and_places_again() {
        let text = "[-0.65, 0.50, 0, 0.0, 10, -3.125, 0.005]";
        assert!(number_row(text.as_bytes()).unwrap().canonical);
        let list = read(text, true);
        assert_eq!(list.texts().collect::<Vec<_>>(), ["-0.65", "0.50", "0", "0.0", "10", "-3.125", "0.005"]);
        let columns: Vec<u32> = list.numbers().iter().map(|n| n.span.column).collect();
        assert_eq!(columns, [2, 9, 15, 18, 23, 27, 35]);
        assert_eq!(list.number(5).text, "-3.125");
        assert_eq!(&text[list.number(5).span.start..list.number(5).span.end], "-3.125");
        // Each of these is read fast but keeps its text.
        for text in ["[-0, 1]", "[+1, 2]", "[.5, 1]", "[5., 1]", "[007, 1]", "[1e3, 1]", "[1,2]", "[ 1, 2]", "[1, 2,]"]
        {
            assert!(!number_row(text.as_bytes()).unwrap().canonical, "{text}");
        }
        // And these go the general way.
        for text in ["[1, # one\n 2]", "[1,\n 2]", "[- 1, 2]", "[1, [2]]", "[]", "[1 2]", "[1, 2x]", "[1e, 2]"] {
            assert!(number_row(text.as_bytes()).is_none(), "{text}");
        }
    }

    #[test]
    fn decimal_text_writes_every_zero() {
        let cases =
            [(0, 0, "0"), (0, -2, "0.00"), (-50, -2, "-0.50"), (5, -3, "0.005"), (1234, -2, "12.34"), (7, 2, "700")];
        for (mantissa, exponent, text) in cases {
            assert_eq!(super::super::ast::decimal_text(mantissa, exponent), text);
            assert_eq!(super::super::ast::decimal_text_len(mantissa, exponent), text.len(), "{text}");
        }
    }
}
