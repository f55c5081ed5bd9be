//! Reading a pooling's window from its arguments: `maxpool(X, 2)`,
//! `maxpool(X, 3, stride = 2, pad = 1)`, `maxpool(X, [2, 3], stride = [2, 3],
//! pad = [0, 1])`. Each of the size, the stride and the padding is one
//! number, the same along both axes, or a list `[height, width]`, as
//! PyTorch's `kernel_size=(2, 3)`; the two may be mixed
//! (`maxpool(X, [2, 3], stride = 1, pad = [0, 1])`).

use super::super::error::{Error, ErrorKind};
use super::super::func::{MapLayout, Window};
use super::super::layer_error::LayerArgError;
use super::{switch_value, whole_number};
use crate::syntax::ast::{self, ExprKind};

/// The window of `maxpool(A, size, stride = …, pad = …, ceil = …)` over a
/// map whose last two dimensions are `extent`: the stride defaults to the
/// size (along each axis), the padding to 0.
pub(super) fn pool_window(
    args: &[ast::Expr],
    keywords: &[ast::KeywordArg],
    extent: [usize; 2],
    layout: MapLayout,
) -> Result<Window, Error> {
    let size = pair_value(&args[1], "the window size", 1)?;
    let keyword = |name: &str| keywords.iter().find(|k| k.name.name == name).map(|k| &k.value);
    let stride = match keyword("stride") {
        Some(value) => pair_value(value, "stride", 1)?,
        None => size,
    };
    let pad = match keyword("pad") {
        Some(value) => pair_value(value, "pad", 0)?,
        None => [0, 0],
    };
    let ceil = switch_value(keywords, "ceil")?;
    Ok(Window { size, stride, pad, ceil, extent, layout })
}

/// Whether argument `position` of a pooling may be a list: the window's
/// size, read by [`pool_window`] from the expression, not from the graph.
pub(super) fn is_window_list(position: usize, arg: &ast::Expr) -> bool {
    position == 1 && matches!(arg.kind, ExprKind::List(_))
}

/// One whole number of at least `min`, used along both axes, or a list of
/// two, `[height, width]`.
fn pair_value(expr: &ast::Expr, what: &'static str, min: usize) -> Result<[usize; 2], Error> {
    let mut e = expr;
    while let ExprKind::Paren(inner) = &e.kind {
        e = inner;
    }
    match &e.kind {
        ExprKind::List(items) => match items.as_slice() {
            [height, width] => Ok([whole_number(height, what, min)?, whole_number(width, what, min)?]),
            _ => {
                let error = LayerArgError::ListLength { what, found: items.len() };
                Err(Error::new(ErrorKind::LayerArgument(error), e.span))
            }
        },
        _ => whole_number(expr, what, min).map(|v| [v, v]),
    }
}

/// Refuses a list as a keyword's value of `func` (conv2d's stride and
/// pad are one number each, the same along both axes).
pub(super) fn refuse_lists(func: &str, keywords: &[ast::KeywordArg]) -> Result<(), Error> {
    match keywords.iter().find(|k| matches!(k.value.kind, ExprKind::List(_))) {
        Some(k) => Err(list_not_allowed(format!("the {} of {func}", k.name.name), &k.value)),
        None => Ok(()),
    }
}

/// The error for a list where one number (or a tensor) belongs, `what`
/// naming the place.
pub(super) fn list_not_allowed(what: String, list: &ast::Expr) -> Error {
    Error::new(ErrorKind::LayerArgument(LayerArgError::ListNotAllowed { what }), list.span)
}
