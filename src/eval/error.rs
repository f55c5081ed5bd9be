//! Errors found while computing values.

use crate::diagnostic::Diagnostic;
use crate::syntax::Span;

/// An evaluation error, located at the equation or declaration concerned.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    /// The equation (or declaration) it concerns.
    pub span: Option<Span>,
    /// Set when it happened while recomputing after this training step.
    pub after_step: Option<u32>,
}

/// What went wrong. Each variant's doc gives an input that produces it.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorKind {
    /// `input x[2]` without `= [...]`, then `nnderive solve`.
    MissingValue { name: String, role: &'static str },
    /// `loss L = sum(log(x))` with `input x[2] = [0, 1]`: log of zero, division
    /// by zero, overflow or NaN in some entry of some formula.
    Numeric {
        /// What was being computed (`Z1`, `δ2`, `∂L/∂W1`).
        quantity: String,
        /// What happened, with the entry (`log of 0 at entry [1]`).
        message: String,
    },
}

impl Error {
    pub fn new(kind: ErrorKind, span: Option<Span>) -> Error {
        Error { kind, span, after_step: None }
    }

    pub fn diagnostic(&self) -> Diagnostic {
        let d = self.describe();
        match self.after_step {
            Some(step) => d.with_note(format!(
                "this happened after training step {step}: the update made the values too large or out of range; a smaller learning rate may help"
            )),
            None => d,
        }
    }

    fn describe(&self) -> Diagnostic {
        match &self.kind {
            ErrorKind::MissingValue { name, role } => {
                Diagnostic::new(format!("{role} '{name}' has no value, so nothing can be computed"), self.span)
                    .with_label("declared without a value")
                    .with_help(format!(
                        "give it one (`{role} {name}[...] = [...]`), or use `nnderive derive` for the formulas alone"
                    ))
            }
            ErrorKind::Numeric { quantity, message } => {
                Diagnostic::new(format!("cannot compute {quantity}: {message}"), self.span)
                    .with_label(format!("while computing {quantity}"))
                    .with_help("check the values in the file: a log or division needs nonzero, in-range inputs")
            }
        }
    }
}
