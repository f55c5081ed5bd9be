//! `list`: a bracketed list of values as an argument of a call, `[2, 3]`
//! in `maxpool(X, [2, 3], stride = [2, 3], pad = [0, 1])` (PyTorch's
//! `kernel_size=(2, 3)`: height, then width). Only a call's arguments, by
//! position or by keyword, parse as lists; the checker decides which
//! arguments accept one.

use super::*;

/// Whether a list starts at `i`.
pub(super) fn starts_list(i: Input) -> bool {
    i.fragment().starts_with('[')
}

/// `list`: `'[' expr (',' expr)* ']'`.
pub(super) fn list(i: Input) -> PResult<Expr> {
    deeper(i, |i| {
        let (rest, _) = tag("[").parse(i)?;
        let seq = Sequence { close: ']', empty: false, trailing: false, entry: "an entry" };
        let (rest, items) = separated(rest, i, seq, |r, after| match expr(r) {
            Err(nom::Err::Error(_)) => missing_expression(after.into(), r),
            other => other,
        })?;
        Ok((rest, Expr { kind: ExprKind::List(items), span: span(i, rest) }))
    })
}
