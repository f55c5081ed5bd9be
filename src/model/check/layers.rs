//! Checking the layers that regularise and normalise: `dropout` (and, with
//! it, the errors of their arguments). Each is built from the graph's
//! ordinary operations, so the derivation, the evaluator and every writer
//! know it already; what is checked here is what the formulas cannot say
//! (a mask of 0s and 1s, a keep-probability in (0, 1]).

use num_rational::BigRational;
use num_traits::{One, Zero};

use super::super::error::{Error, ErrorKind};
use super::super::expr::NodeId;
use super::super::shape::Shape;
use super::super::Role;
use super::{Checker, Scope};
use crate::diagnostic::Diagnostic;
use crate::syntax::ast::{self, ExprKind};
use crate::syntax::Span;

/// What is wrong with an argument of `dropout` (and the normalisation layers).
#[derive(Clone, Debug, PartialEq)]
pub enum LayerArgError {
    /// `dropout(H, M)` where `M` is not a `const` with a value (an input,
    /// a parameter, an expression): the mask is fixed data.
    MaskNotConst { found: String },
    /// `const M[2,2] = [[1, 0.5], [0, 1]]` as a dropout mask: every entry
    /// keeps (1) or drops (0) its unit.
    MaskNotBinary { name: String, entry: String, value: String },
    /// `dropout(H, M)` with H `[2, 2]` and M `[2, 3]`: one mask entry per unit.
    MaskShape { mask: String, mask_shape: Shape, shape: Shape },
    /// `dropout(H, M, keep = 1.2)` or `keep = 0`: the probability of keeping
    /// a unit is in (0, 1].
    KeepOutOfRange { found: String },
}

impl LayerArgError {
    /// The located message, for [`Error::diagnostic`].
    pub fn diagnostic(&self, span: Option<Span>) -> Diagnostic {
        match self {
            LayerArgError::MaskNotConst { found } => {
                Diagnostic::new(format!("the mask of dropout must be a `const` with a value, but {found}"), span)
                    .with_label("not a const mask")
                    .with_help("declare the mask as fixed data of 0s and 1s with X's shape, as in `const M[2,3] = [[1, 0, 1], [1, 1, 0]]`")
            }
            LayerArgError::MaskNotBinary { name, entry, value } => Diagnostic::new(
                format!("the dropout mask '{name}' must hold only 0s and 1s, but {entry} is {value}"),
                span,
            )
            .with_label("not a mask of 0s and 1s")
            .with_help("write 1 for a unit that is kept and 0 for one that is dropped; the division by `keep` is dropout's own"),
            LayerArgError::MaskShape { mask, mask_shape, shape } => Diagnostic::new(
                format!("the dropout mask '{mask}' is {mask_shape}, but what it masks is {shape}"),
                span,
            )
            .with_label(format!("this is {mask_shape}"))
            .with_help(format!("give the mask the shape {shape}: one entry, 0 or 1, per unit")),
            LayerArgError::KeepOutOfRange { found } => {
                Diagnostic::new(format!("keep is the probability of keeping a unit, in (0, 1], but it is {found}"), span)
                    .with_label("not in (0, 1]")
                    .with_help("write it as a number, as in `dropout(H, M, keep = 0.8)`; `keep = 1` keeps every unit")
            }
        }
    }
}

fn layer_error(error: LayerArgError, span: Span) -> Error {
    Error::new(ErrorKind::LayerArgument(error), span)
}

/// The keep-probability of dropout when the file gives none, as CS231n's
/// and PyTorch's examples often use (PyTorch's `p = 0.2` drops).
fn default_keep() -> BigRational {
    BigRational::new(4.into(), 5.into())
}

impl Checker<'_> {
    /// `dropout(X, M, keep = 0.8)`: inverted dropout with the given mask,
    /// `X ⊙ M / keep`, so that the expected activation is unchanged and the
    /// gradient is `∂L/∂out ⊙ M / keep` by the product and quotient rules.
    pub(super) fn dropout(
        &mut self,
        args: &[ast::Expr],
        keywords: &[ast::KeywordArg],
        built: &[NodeId],
    ) -> Result<NodeId, Error> {
        let (x, m) = (built[0], built[1]);
        self.dropout_mask(&args[1])?;
        if !self.graph.shape(x).same_as(self.graph.shape(m)) {
            let error = LayerArgError::MaskShape {
                mask: crate::syntax::expr_text(&args[1]),
                mask_shape: self.graph.shape(m).clone(),
                shape: self.graph.shape(x).clone(),
            };
            return Err(layer_error(error, args[1].span));
        }
        let keep = match keywords.iter().find(|k| k.name.name == "keep") {
            Some(k) => {
                let node = self.build(&k.value, &Scope::Equation)?;
                match self.graph.as_const(node) {
                    Some(p) if p > &BigRational::zero() && p <= &BigRational::one() => p.clone(),
                    Some(p) => {
                        let found = super::decimal(p);
                        return Err(layer_error(LayerArgError::KeepOutOfRange { found }, k.value.span));
                    }
                    None => {
                        let found = format!("`{}`, not a number", crate::syntax::expr_text(&k.value));
                        return Err(layer_error(LayerArgError::KeepOutOfRange { found }, k.value.span));
                    }
                }
            }
            None => default_keep(),
        };
        let g = &mut self.graph;
        let kept = g.mul(x, m);
        let keep = g.constant(keep);
        Ok(g.div(kept, keep))
    }

    /// Refuses a mask that is not a `const` of 0s and 1s.
    fn dropout_mask(&self, arg: &ast::Expr) -> Result<(), Error> {
        let mut e = arg;
        while let ExprKind::Paren(inner) = &e.kind {
            e = inner;
        }
        let tensor = match &e.kind {
            ExprKind::Name(n) => self.tensors.get(&n.name),
            _ => None,
        };
        let Some(tensor) = tensor else {
            let found = format!("`{}` is an expression", crate::syntax::expr_text(arg));
            return Err(layer_error(LayerArgError::MaskNotConst { found }, arg.span));
        };
        let values = match (tensor.role, tensor.exact_value()) {
            (Role::Const, Some(values)) => values,
            (Role::Const, None) => {
                let found = format!("'{}' is declared without one", tensor.name);
                return Err(layer_error(LayerArgError::MaskNotConst { found }, arg.span));
            }
            (role, _) => {
                let found = format!("'{}' is {} {}", tensor.name, article(role.name()), role.name());
                return Err(layer_error(LayerArgError::MaskNotConst { found }, arg.span));
            }
        };
        if let Some(i) = values.iter().position(|v| !v.is_zero() && !v.is_one()) {
            let dims: Vec<usize> = tensor.shape.dims().to_vec();
            let entry = crate::layout::entry_index(&tensor.name, &unravel(i, &dims));
            let value = super::decimal(&values[i]);
            let name = tensor.name.clone();
            return Err(layer_error(LayerArgError::MaskNotBinary { name, entry, value }, arg.span));
        }
        Ok(())
    }
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
    for (k, &d) in dims.iter().enumerate().rev() {
        index[k] = i % d;
        i /= d;
    }
    index
}
