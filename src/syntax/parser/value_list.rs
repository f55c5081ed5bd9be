//! `value_list`: a bracketed list of values as an argument of a call, `[2, 3]`
//! in `maxpool(X, [2, 3], stride = [2, 3], pad = [0, 1])` (PyTorch's
//! `kernel_size=(2, 3)`: height, then width). Only a call's arguments, by
//! position or by keyword, parse as lists; the checker decides which
//! arguments accept one.

use super::*;

/// Whether a value list starts at `i`.
pub(super) fn starts_value_list(i: Input) -> bool {
    i.fragment().starts_with('[')
}

/// `value_list`: `'[' expr (',' expr)* ']'`.
pub(super) fn value_list(i: Input) -> PResult<Expr> {
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

#[cfg(test)]
mod tests {
    use crate::syntax::ast::{ExprKind, Item};
    use crate::syntax::{expr_text, parse};

    /// The right-hand side of the file's one equation.
    fn rhs(source: &str) -> ExprKind {
        let file = parse(source).unwrap();
        match &file.items[..] {
            [Item::Equation(e)] => e.value.kind.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lists_parse_as_positional_and_keyword_arguments() {
        let ExprKind::Call { args, keywords, .. } = rhs("P = maxpool(X, [2, 3], stride = [2,3], pad = 1)") else {
            panic!("not a call")
        };
        assert!(matches!(&args[1].kind, ExprKind::List(items) if items.len() == 2));
        assert!(matches!(&keywords[0].value.kind, ExprKind::List(items) if items.len() == 2));
        assert_eq!(expr_text(&keywords[0].value), "[2, 3]");
        assert!(matches!(&keywords[1].value.kind, ExprKind::Number(_)));
    }

    #[test]
    fn a_list_spans_lines_and_keeps_its_span() {
        let source = "P = maxpool(X, [2,\n   3])";
        let ExprKind::Call { args, .. } = rhs(source) else { panic!("not a call") };
        assert_eq!((args[1].span.line, args[1].span.column), (1, 16));
    }

    #[test]
    fn a_bracket_after_a_name_is_still_a_slice_or_a_step() {
        assert!(matches!(rhs("y = a[:, 0:2]"), ExprKind::Sliced { .. }));
        let ExprKind::Call { args, .. } = rhs("y = f(x[0])") else { panic!("not a call") };
        assert!(matches!(args[0].kind, ExprKind::Indexed { .. }));
    }

    #[test]
    fn an_empty_or_unclosed_list_is_an_error() {
        assert!(parse("P = maxpool(X, [])").is_err());
        assert!(parse("P = maxpool(X, [2, 3)").is_err());
        assert!(parse("P = maxpool(X, stride = [2,)").is_err());
    }
}
