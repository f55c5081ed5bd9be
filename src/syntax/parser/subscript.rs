//! `slice`: NumPy's half-open slice subscripts after a name, `a[:, 0:5]`,
//! `a[2:]`, `a[:, H:2H]`. A subscript that holds a `:` or a `,` is a slice;
//! any other (`x[t]`, `h[t-1]`, `x[0]`) is a step of a sequence, so every
//! recurrent file reads as before.

use nom::bytes::complete::{tag, take_while1};
use nom::Parser;

use super::{bracketed, expect_char, fail, here, name, span, ws, Input, PResult};
use crate::syntax::ast::{Bound, BoundValue, Ident, SliceAxis, SliceAxisKind};
use crate::syntax::error::ErrorKind;

/// Whether the `[` at `i` opens a slice subscript: a `:` or a `,` before
/// its `]` (subscripts do not nest, so the first `]` closes it).
pub(super) fn starts_slice(i: Input) -> bool {
    let inside = i.fragment().get(1..).unwrap_or("");
    let end = inside.find([']', '\n', '[']).unwrap_or(inside.len());
    inside[..end].contains([':', ','])
}

/// `slice`: `'[' slice_axis (',' slice_axis)* ']'`.
pub(super) fn slice(i: Input) -> PResult<(Vec<SliceAxis>, crate::syntax::Span)> {
    bracketed(i, |i| {
        let (mut rest, _) = tag("[").parse(i)?;
        let mut axes = Vec::new();
        loop {
            let (r, _) = ws(rest)?;
            let (r, axis) = slice_axis(r)?;
            axes.push(axis);
            let (r, _) = ws(r)?;
            if r.fragment().starts_with(',') {
                rest = nom::Input::take_from(&r, 1);
                continue;
            }
            let (r, _) = expect_char(r, ']', "',' or ']'", || "the slice".into())?;
            return Ok((r, (axes, span(i, r))));
        }
    })
}

/// `slice_axis`: `bound? ':' bound?` or a lone `bound` (an integer index,
/// which the checker refuses with the slice to write instead).
fn slice_axis(i: Input) -> PResult<SliceAxis> {
    let (rest, start) = bound(i)?;
    let (rest, _) = ws(rest)?;
    if !rest.fragment().starts_with(':') {
        return match start {
            Some(b) => Ok((rest, SliceAxis { kind: SliceAxisKind::Index(b), span: span(i, rest) })),
            None => fail(ErrorKind::Expected { what: "a slice such as '0:5' or ':'", after: "'['".into() }, here(i)),
        };
    }
    let (rest, _) = ws(nom::Input::take_from(&rest, 1))?;
    if rest.fragment().starts_with(':') {
        return fail(ErrorKind::SliceStep, here(rest));
    }
    let (rest, end) = bound(rest)?;
    Ok((rest, SliceAxis { kind: SliceAxisKind::Range { start, end }, span: span(i, rest) }))
}

/// `bound`: `'-'? whole`, `NAME`, `whole NAME` or `whole '*' NAME`; none
/// (a bound left out) before a `:`, `,` or `]`.
fn bound(i: Input) -> PResult<Option<Bound>> {
    let text = i.fragment();
    if text.starts_with([':', ',', ']']) {
        return Ok((i, None));
    }
    let negative = text.starts_with('-');
    let (rest, _) = ws(if negative { nom::Input::take_from(&i, 1) } else { i })?;
    if let Ok((r, digits)) = take_while1::<_, _, super::PError>(|c: char| c.is_ascii_digit()).parse(rest) {
        let Ok(n) = digits.fragment().parse::<i64>() else {
            return fail(ErrorKind::SliceBoundTooLarge, span(i, r));
        };
        let (after, _) = ws(r)?;
        let scaled = after.fragment().starts_with('*') || r.fragment().starts_with(|c: char| c.is_ascii_alphabetic());
        if scaled && !negative {
            let (r, _) =
                if after.fragment().starts_with('*') { ws(nom::Input::take_from(&after, 1))? } else { (r, ()) };
            let (r, id) = bound_name(r)?;
            let value = BoundValue::Scaled { times: n as u64, name: id };
            return Ok((r, Some(Bound { value, span: span(i, r) })));
        }
        let value = BoundValue::Whole(if negative { -n } else { n });
        return Ok((r, Some(Bound { value, span: span(i, r) })));
    }
    if negative {
        return fail(ErrorKind::Expected { what: "a whole number", after: "'-'".into() }, here(rest));
    }
    let (r, id) = bound_name(rest)?;
    Ok((r, Some(Bound { value: BoundValue::Scaled { times: 1, name: id }, span: span(i, r) })))
}

/// The constant's name in a bound.
fn bound_name(i: Input) -> PResult<Ident> {
    match name(i) {
        Ok(r) => Ok(r),
        Err(nom::Err::Failure(e)) => Err(nom::Err::Failure(e)),
        Err(_) => fail(
            ErrorKind::Expected {
                what: "a slice bound (a whole number or a constant's name)",
                after: "the slice".into(),
            },
            here(i),
        ),
    }
}
