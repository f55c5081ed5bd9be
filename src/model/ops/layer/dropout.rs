//! `dropout(X, M, keep = 0.8)`: inverted dropout with a given mask.

use num_rational::BigRational;
use num_traits::{One, Zero};

use super::spec::{LayerCall, LayerOp};
use crate::model::error::{Error, ErrorKind};
use crate::model::layer_error::LayerArgError;
use crate::model::NodeId;
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
    crate::model::mask::binary_values("dropout", call.named_tensor(1), arg, |r| call.decimal(r)).map(|_| ())
}
