//! [`Quantity`]: what a value of a solution is, as data, for the notes
//! and the probe to name it.

use crate::model::{SymbolId, TensorId};

/// What a note is about, as data: each writer names it in its own notation
/// (`δ2` in text, `\\delta_{2}` in LaTeX).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Quantity {
    /// A named tensor: a given value or an equation.
    Tensor(TensorId),
    /// An error term or adjoint of the derivation.
    Symbol(SymbolId),
    /// The gradient of the loss with respect to a parameter.
    Gradient(TensorId),
    /// The loss after training step k.
    LossAfterStep(u32),
}
