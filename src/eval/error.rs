//! Errors found while computing values: data, rendered once by
//! `render::diagnostic`, each kind with help of its own.

use super::tensor::{NumericError, NumericErrorKind};
use crate::diagnostic::Diagnostic;
use crate::syntax::Span;

/// The most operations one run may take: passes × operations a pass (and,
/// for `--cases`, cases × the work of a solve). Measured in a release build
/// on one core, an operation takes 3 to 16 ns (a matrix product to a sine
/// and its derivative), so the budget is one to three minutes.
pub const WORK_BUDGET: u128 = 10_000_000_000;

/// What a run repeats, which multiplies the work of one pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repeats {
    /// One forward and backward pass (`solve` without `train`).
    Once,
    /// `train` for `steps` steps: a forward and backward pass before each
    /// update, and one after the last.
    Training { steps: u32 },
    /// `gradcheck`: two forward passes for each entry checked.
    FiniteDifferences { entries: usize },
    /// `--cases NAME=onehot`: one whole solve for each case.
    Cases { cases: usize, name: String },
}

impl Repeats {
    /// How many times the unit of work is done.
    pub fn count(&self) -> u128 {
        match self {
            Repeats::Once => 1,
            Repeats::Training { steps } => u128::from(*steps) + 1,
            Repeats::FiniteDifferences { entries } => 2 * *entries as u128 + 1,
            Repeats::Cases { cases, .. } => *cases as u128,
        }
    }
}

/// A run past the budget: what it repeats, the operations of each
/// repetition (a pass, or for `--cases` a solve) and their product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exceeded {
    pub repeats: Repeats,
    pub unit: u128,
    /// `repeats` × `unit`.
    pub total: u128,
    /// The time steps the network is unrolled over, when it has some.
    pub time_steps: Option<u64>,
}

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
    /// `steps t = 1..10000` over a small recurrent network and then
    /// `train sgd(lr = 0.1, steps = 10000)`: the passes the run repeats
    /// times the operations of each pass pass [`WORK_BUDGET`].
    TooMuchWork(Box<Exceeded>),
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
    /// The caller asked the evaluation to stop (see [`super::cancel`]):
    /// the Python package's "Interrupt kernel".
    Interrupted,
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
            Failure::Interrupted => "the evaluation was interrupted".into(),
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
            Failure::Interrupted => return "it was asked to stop; run it again to finish".into(),
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
            NumericErrorKind::NotAnId { .. } => {
                "the ids of an embedding lookup W[x] are row numbers of the table W[V, D]: whole numbers from 0 to V − 1"
            }
            NumericErrorKind::Shape(_) => "this is a bug in nnderive; please report it with the file",
            NumericErrorKind::NotAMask(_) => "a mask holds 1 where a score is kept and 0 where it is masked",
            NumericErrorKind::MaskKeepsNothing { .. } => {
                "keep at least one entry in every row (or column) the softmax normalizes, as a causal mask keeps the diagonal"
            }
            NumericErrorKind::Unknowns { .. } => {
                "give the values it depends on, in the file or with `--given NAME=[...]`; the formulas are shown by `nnderive derive`"
            }
        }
        .into()
    }
}

/// A count of operations as a reader takes it in: exact below 100 000,
/// else two significant digits and a power of ten (`3.8e12`).
fn approx(n: u128) -> String {
    if n < 100_000 {
        return n.to_string();
    }
    let exponent = n.ilog10();
    // The first three digits, rounded to two.
    let tenths = (n / 10u128.pow(exponent - 2) + 5) / 10;
    let (tenths, exponent) = if tenths >= 100 { (tenths / 10, exponent + 1) } else { (tenths, exponent) };
    match tenths % 10 {
        0 => format!("{}e{exponent}", tenths / 10),
        d => format!("{}.{d}e{exponent}", tenths / 10),
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
            ErrorKind::TooMuchWork(exceeded) => {
                let Exceeded { repeats, unit, total, time_steps } = &**exceeded;
                let unrolled = match time_steps {
                    Some(t) => format!(", the network unrolled over {t} time steps"),
                    None => String::new(),
                };
                let most_steps = (WORK_BUDGET / (*unit).max(1)).saturating_sub(1);
                let (unit, total, limit) = (approx(*unit), approx(*total), approx(WORK_BUDGET));
                let (what, product, label, help) = match repeats {
                    Repeats::Once => (
                        "computing the network".to_string(),
                        format!("a forward and backward pass{unrolled}"),
                        "the largest computation",
                        "use smaller tensors; `nnderive derive` shows the formulas without computing them".to_string(),
                    ),
                    Repeats::Training { steps } => (
                        format!("training for {steps} steps"),
                        format!("{} passes × {unit} operations a pass{unrolled}", repeats.count()),
                        "too many steps for this network",
                        match most_steps {
                            0 => "a single pass of this network is past the budget: use smaller tensors".to_string(),
                            most => format!(
                                "this network can train for at most {most} steps in one run; lower `steps`, or make the network smaller"
                            ),
                        },
                    ),
                    Repeats::FiniteDifferences { entries } => (
                        format!("checking {entries} gradient entries by finite differences"),
                        format!("{} forward passes × {unit} operations a pass{unrolled}", repeats.count()),
                        "the parameter with the most entries checked",
                        "check a sample of the entries (`nnderive gradcheck` without `--all` checks 64 of each parameter)"
                            .to_string(),
                    ),
                    Repeats::Cases { cases, name } => (
                        format!("solving once for each of the {cases} one-hot values of '{name}'"),
                        format!("{cases} solves × {unit} operations a solve{unrolled}"),
                        "the target of the cases",
                        format!("give '{name}' a value and solve once, or use a target with fewer classes"),
                    ),
                };
                Diagnostic::new(
                    format!("{what} would take about {total} operations ({product}): more than the {limit} one run may take"),
                    self.span,
                )
                .with_label(label)
                .with_help(help)
            }
            ErrorKind::Numeric { quantity, failure } => {
                Diagnostic::new(format!("cannot compute {quantity}: {}", failure.message()), self.span)
                    .with_label(format!("while computing {quantity}"))
                    .with_help(failure.help())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::approx;

    #[test]
    fn operation_counts_read_at_a_glance() {
        assert_eq!(approx(99_999), "99999");
        assert_eq!(approx(100_000), "1e5");
        assert_eq!(approx(3_802_260_177_999), "3.8e12");
        assert_eq!(approx(380_187_999), "3.8e8");
        assert_eq!(approx(996_000), "1e6");
        assert_eq!(approx(10_000_000_000), "1e10");
        assert_eq!(approx(u128::MAX), "3.4e38");
    }
}
