//! Errors found while computing values: data, rendered once by
//! `render::diagnostic`, each kind with help of its own.

use super::tensor::{NumericError, NumericErrorKind};
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
    /// `input x[2]` without `= [...]`, then `nnderive gradcheck`, which
    /// needs every number: the declarations left open, in file order.
    MissingValues {
        missing: Vec<(String, &'static str)>,
        /// What needs them: `the finite-difference check`.
        purpose: &'static str,
    },
    /// `param W[1000,1000]` without a value, then `nnderive solve`: the values
    /// left open have more entries in all than [`MAX_UNKNOWNS`], too many to
    /// carry as expressions (each entry is an unknown of its own).
    TooManyUnknowns {
        /// The declaration whose entries pass the limit, and its role.
        name: String,
        role: &'static str,
        /// The entries left open in all, up to and including this declaration.
        entries: usize,
    },
    /// `loss L = sum(log(x))` with `input x[2] = [0, 1]`: a value that cannot
    /// be computed (see [`Failure`]).
    Numeric {
        /// What was being computed (`Z1`, `δ2`, `∂L/∂W1`).
        quantity: String,
        failure: Failure,
    },
}

/// The most entries the values left open may have in all. Each entry is an
/// unknown, and every value computed from them an expression: beyond a
/// hundred-by-hundred matrix, the expressions take more time and memory
/// than a reader could use (a 1000 × 1000 open parameter would take about
/// 25 s and 3.5 GB).
pub const MAX_UNKNOWNS: usize = 10_000;

/// Why a value could not be computed.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// Some entry failed: `log(x)` with `x = [0, 1]`, `1 / x`, `exp(1000)`,
    /// `sqrt(x)` with `x = [-1]`, or `cross_entropy(y, p)` with `y = [-1, 2]`.
    Entry(NumericError),
    /// `fn f2(t) = f1(f1(t))`, `fn f3(t) = f2(f2(t))`, … forty levels deep:
    /// each level doubles the calls.
    TooManyCalls { limit: u64 },
    /// A value the evaluator needed was missing: a bug in nnderive, never
    /// the file's fault (tests and the fuzz target fail on it).
    Internal(&'static str),
}

impl From<NumericError> for Failure {
    fn from(e: NumericError) -> Self {
        Failure::Entry(e)
    }
}

impl Failure {
    /// True when the failure is nnderive's fault: a shape the checker should
    /// have refused, or a value that was never computed.
    pub fn is_bug(&self) -> bool {
        matches!(self, Failure::Internal(_) | Failure::Entry(NumericError { kind: NumericErrorKind::Shape(_), .. }))
    }

    fn message(&self) -> String {
        match self {
            Failure::Entry(e) => e.to_string(),
            Failure::TooManyCalls { limit } => format!("it needs more than {limit} calls of custom functions"),
            Failure::Internal(what) => format!("internal error: {what}"),
        }
    }

    fn help(&self) -> String {
        let kind = match self {
            Failure::Entry(e) => &e.kind,
            Failure::TooManyCalls { .. } => {
                return "a function that calls another one twice in a chain (`f2(t) = f1(f1(t))`) doubles the work at each level; nest fewer levels, or write the composition as equations".into();
            }
            Failure::Internal(_) => return "this is a bug in nnderive; please report it with the file".into(),
        };
        match kind {
            NumericErrorKind::DivisionByZero => "a division needs a nonzero divisor; check the values in the file",
            NumericErrorKind::LogOfNonPositive(_) => {
                "log needs positive inputs; a probability that is exactly 0, or a loss whose arguments are swapped, gives this"
            }
            NumericErrorKind::SqrtOfNegative(_) => "sqrt needs inputs that are 0 or more; check the values in the file",
            NumericErrorKind::PowerOfNegative { .. } => {
                "a power that is not a whole number (x ^ 0.5) needs a base of 0 or more; write abs(x) ^ 0.5, or a whole power"
            }
            NumericErrorKind::Overflow => {
                "the value is beyond f64's range (about 1.8e308); smaller values or weights keep it finite"
            }
            NumericErrorKind::NotANumber => {
                "an undefined operation such as ∞ − ∞ or 0 · ∞ happened; smaller values or weights keep it finite"
            }
            NumericErrorKind::TargetOutOfRange { at_most_one: false, .. } => {
                "cross_entropy(y, p) takes the target first: y is a one-hot or probability vector, with entries of 0 or more"
            }
            NumericErrorKind::TargetOutOfRange { at_most_one: true, .. } => {
                "bce(y, p) takes the target first: the entries of y are probabilities, from 0 to 1"
            }
            NumericErrorKind::NotAClass { .. } => {
                "class labels number the classes from 0: a target c[N] = [2, 0, 1] against C classes takes whole numbers from 0 to C − 1"
            }
            NumericErrorKind::Shape(_) => "this is a bug in nnderive; please report it with the file",
            NumericErrorKind::Unknowns { .. } => {
                "give the values it depends on, in the file or with `--given NAME=[...]`; the formulas are shown by `nnderive derive`"
            }
        }
        .into()
    }
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

    /// True when the error is nnderive's fault, not the file's.
    pub fn is_bug(&self) -> bool {
        matches!(&self.kind, ErrorKind::Numeric { failure, .. } if failure.is_bug())
    }

    fn describe(&self) -> Diagnostic {
        match &self.kind {
            ErrorKind::MissingValues { missing, purpose } => {
                let names: Vec<String> = missing.iter().map(|(name, role)| format!("{role} '{name}'")).collect();
                let (first, role) = missing.first().map(|(n, r)| (n.as_str(), *r)).unwrap_or(("x", "input"));
                let what = match names.len() {
                    1 => format!("{} has no value", names[0]),
                    _ => format!("{} have no values", names.join(", ")),
                };
                Diagnostic::new(format!("{purpose} needs every number, and {what}"), self.span)
                    .with_label("declared without a value")
                    .with_help(format!(
                        "give {} (`{role} {first}[...] = [...]` in the file, or `--given '{first}=[...]'`); `nnderive solve` computes with values left open",
                        if names.len() == 1 { "it one" } else { "each one" }
                    ))
            }
            ErrorKind::TooManyUnknowns { name, role, entries } => Diagnostic::new(
                format!(
                    "{role} '{name}' has no value, and the values left open would have {entries} entries in all: more than the {MAX_UNKNOWNS} that `solve` keeps as expressions"
                ),
                self.span,
            )
            .with_label("declared without a value")
            .with_help(format!(
                "give it a value (`{role} {name}[...] = [...]` in the file, or `--given '{name}=[...]'`); `nnderive derive` shows the formulas without any numbers"
            )),
            ErrorKind::Numeric { quantity, failure } => {
                Diagnostic::new(format!("cannot compute {quantity}: {}", failure.message()), self.span)
                    .with_label(format!("while computing {quantity}"))
                    .with_help(failure.help())
            }
        }
    }
}
