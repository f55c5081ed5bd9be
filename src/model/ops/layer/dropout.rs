//! `dropout(X, M, keep = 0.8)`: inverted dropout with a given mask.

use num_rational::BigRational;
use num_traits::{One, Zero};

use super::spec::{LayerCall, LayerOp};
use crate::model::error::{Error, ErrorKind};
use crate::model::layer_error::LayerArgError;
use crate::model::{NodeId, Role};
use crate::syntax::ast;

/// `X ⊙ M / keep`, so that the expected activation is unchanged and the
/// gradient is `∂L/∂out ⊙ M / keep` by the product and quotient rules. The
/// mask is given (a `const` of 0s and 1s), so that every value is exact
/// and reproducible; keep is in (0, 1].
pub struct Dropout;

/// The keep-probability when the file gives none, as CS231n's and
/// PyTorch's examples often use (PyTorch's `p = 0.2` drops).
fn default_keep() -> BigRational {
    BigRational::new(4.into(), 5.into())
}

fn layer_error(error: LayerArgError, span: crate::syntax::Span) -> Error {
    Error::new(ErrorKind::LayerArgument(error), span)
}

impl LayerOp for Dropout {
    fn name(&self) -> &'static str {
        "dropout"
    }

    fn arity(&self) -> usize {
        2
    }

    fn keywords(&self) -> &'static [&'static str] {
        &["keep"]
    }

    fn expand(&self, call: &mut dyn LayerCall) -> Result<NodeId, Error> {
        let (x, m) = (call.operands()[0], call.operands()[1]);
        mask(call)?;
        let (mask_shape, shape) = (call.graph().shape(m).clone(), call.graph().shape(x).clone());
        if !shape.same_as(&mask_shape) {
            let mask = crate::syntax::expr_text(call.operand_source(1));
            return Err(layer_error(
                LayerArgError::MaskShape { layer: "dropout", mask, mask_shape, shape },
                call.operand_source(1).span,
            ));
        }
        let keep = match call.keyword("keep")? {
            Some((node, value)) => match call.graph().as_const(node).cloned() {
                Some(p) if p > BigRational::zero() && p <= BigRational::one() => p,
                Some(p) => {
                    let found = call.decimal(&p);
                    return Err(layer_error(LayerArgError::KeepOutOfRange { found }, value.span));
                }
                None => {
                    let found = format!("`{}`, not a number", crate::syntax::expr_text(&value));
                    return Err(layer_error(LayerArgError::KeepOutOfRange { found }, value.span));
                }
            },
            None => default_keep(),
        };
        let g = call.graph();
        let kept = g.mul(x, m);
        let keep = g.constant(keep);
        Ok(g.div(kept, keep))
    }
}

/// The mask, operand 1, is a `const` tensor with values, all 0 or 1.
fn mask(call: &dyn LayerCall) -> Result<(), Error> {
    let arg: &ast::Expr = call.operand_source(1);
    let Some(tensor) = call.named_tensor(1) else {
        let found = format!("`{}` is an expression", crate::syntax::expr_text(arg));
        return Err(layer_error(LayerArgError::MaskNotConst { layer: "dropout", found }, arg.span));
    };
    let values = match (tensor.role, tensor.exact_value()) {
        (Role::Const, Some(values)) => values,
        (Role::Const, None) => {
            let found = format!("'{}' is declared without one", tensor.name);
            return Err(layer_error(LayerArgError::MaskNotConst { layer: "dropout", found }, arg.span));
        }
        (role, _) => {
            let found = format!("'{}' is {} {}", tensor.name, article(role.name()), role.name());
            return Err(layer_error(LayerArgError::MaskNotConst { layer: "dropout", found }, arg.span));
        }
    };
    if let Some(i) = values.iter().position(|v| !v.is_zero() && !v.is_one()) {
        let dims: Vec<usize> = tensor.shape.dims().to_vec();
        let entry = crate::layout::entry_index(&tensor.name, &unravel(i, &dims));
        let value = call.decimal(&values[i]);
        let name = tensor.name.clone();
        return Err(layer_error(LayerArgError::MaskNotBinary { layer: "dropout", name, entry, value }, arg.span));
    }
    Ok(())
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
