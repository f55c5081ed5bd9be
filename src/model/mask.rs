//! The masks layers take (dropout's, attention's, a masked softmax's): a
//! `const` tensor of 0s and 1s whose values the file gives, so that every
//! value computed through it is exact and reproducible.

use num_rational::BigRational;
use num_traits::{One, Zero};

use super::error::{Error, ErrorKind};
use super::layer_error::LayerArgError;
use super::{NamedTensor, Role};
use crate::syntax::ast;

/// The values of the mask `arg` of `layer`, `tensor` the declared tensor
/// it names (`None` for an expression); refuses anything but a `const` of
/// 0s and 1s with values, naming the first entry that is neither.
/// `decimal` writes a value back as the file would.
pub(crate) fn binary_values(
    layer: &'static str,
    tensor: Option<&NamedTensor>,
    arg: &ast::Expr,
    decimal: impl Fn(&BigRational) -> String,
) -> Result<Vec<BigRational>, Error> {
    let refuse = |error: LayerArgError| Error::new(ErrorKind::LayerArgument(error), arg.span);
    let Some(tensor) = tensor else {
        let found = format!("`{}` is an expression", crate::syntax::expr_text(arg));
        return Err(refuse(LayerArgError::MaskNotConst { layer, found }));
    };
    let values = match (tensor.role, tensor.exact_value()) {
        (Role::Const, Some(values)) => values,
        (Role::Const, None) => {
            let found = format!("'{}' is declared without one", tensor.name);
            return Err(refuse(LayerArgError::MaskNotConst { layer, found }));
        }
        (role, _) => {
            let found = format!("'{}' is {} {}", tensor.name, article(role.name()), role.name());
            return Err(refuse(LayerArgError::MaskNotConst { layer, found }));
        }
    };
    if let Some(i) = values.iter().position(|v| !v.is_zero() && !v.is_one()) {
        let entry = crate::layout::entry_index(&tensor.name, &unravel(i, tensor.shape.dims()));
        let (name, value) = (tensor.name.clone(), decimal(&values[i]));
        return Err(refuse(LayerArgError::MaskNotBinary { layer, name, entry, value }));
    }
    Ok(values)
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The multi-index of the `i`-th entry in row-major order.
fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut index = vec![0; dims.len()];
    for (slot, &d) in index.iter_mut().zip(dims).rev() {
        if d > 0 {
            *slot = i % d;
            i /= d;
        }
    }
    index
}
