//! nnderive: derives and computes neural-network gradients the way a textbook
//! writes them.
//!
//! The pipeline, each stage depending only on the ones before it:
//!
//! ```text
//! .nn text -> syntax -> model -> derive -> eval -> render -> (CLI in main.rs)
//! ```
//!
//! Two tools for teachers are built on the whole pipeline and used by the
//! CLI: [`vary`] (variants of a problem with new numbers) and [`grade`]
//! (a student's numbers graded part by part, with error carried forward).
//!
//! ```
//! let source = nnderive::Source::new("net.nn", "
//! input  x[2]   = [1, 2]
//! target y[1]   = [1]
//! param  W[1,2] = [[0.5, -0.25]]
//! o = sigmoid(W @ x)
//! loss E = 0.5 * sum((y - o)^2)
//! ");
//! let model = nnderive::load(&source).unwrap();
//! let derivation = nnderive::derive::derive(&model);
//! let text = nnderive::render::text::derivation(&model, &derivation);
//! assert!(text.contains("δ1 = (o − y) ⊙ o ⊙ (1 − o)"));
//! assert!(text.contains("∂E/∂W = δ1 xᵀ"));
//! ```

pub mod span;
pub mod diagnostic;
pub mod layout;
pub mod rational;
pub mod syntax;
pub mod model;
pub mod derive;
pub mod eval;
pub mod render;
pub mod vary;
pub mod grade;

use diagnostic::{Diagnostic, Report};

/// A `.nn` file's name and text.
#[derive(Clone, Debug)]
pub struct Source {
    /// Shown in error messages (`net.nn:3:7`).
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source { name: name.into(), text: lone_carriage_returns_as_newlines(text.into()) }
    }

    /// Decodes raw bytes; text that is not UTF-8 is an error pointing at
    /// the first bad byte (render it against [`Source::lossy`]).
    pub fn decode(name: impl Into<String>, bytes: &[u8]) -> Result<Source, Error> {
        let text = syntax::decode(bytes)?;
        Ok(Source::new(name, text))
    }

    /// [`Source::decode`] of bytes it may keep: UTF-8 text becomes the
    /// source without a copy (a file of many megabytes is read once, not
    /// twice). On an error, the bytes as [`Source::lossy`] comes back too,
    /// to render the error against.
    pub fn decode_owned(name: impl Into<String>, bytes: Vec<u8>) -> Result<Source, Box<(Error, Source)>> {
        let name = name.into();
        match String::from_utf8(bytes) {
            Ok(mut text) => {
                if text.starts_with('\u{feff}') {
                    text.replace_range(..'\u{feff}'.len_utf8(), "");
                }
                Ok(Source::new(name, text))
            }
            Err(e) => {
                let bytes = e.into_bytes();
                let error = match Source::decode(name.clone(), &bytes) {
                    Err(error) => error,
                    Ok(_) => Error::Syntax(syntax::Error {
                        kind: syntax::ErrorKind::NotUtf8 { byte: 0 },
                        span: syntax::Span::default(),
                    }),
                };
                Err(Box::new((error, Source::lossy(name, &bytes))))
            }
        }
    }

    /// The bytes as text with invalid sequences replaced, for showing an
    /// error about them.
    pub fn lossy(name: impl Into<String>, bytes: &[u8]) -> Source {
        Source::new(name, String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Old Mac files end lines with a lone `\r`; read it as `\n` (same length, so
/// every byte offset stays valid), or the whole file would be one line.
fn lone_carriage_returns_as_newlines(mut text: String) -> String {
    if text.contains('\r') {
        let bytes = text.as_bytes();
        let lone: Vec<usize> =
            (0..bytes.len()).filter(|&i| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n')).collect();
        if !lone.is_empty() {
            let mut bytes = text.into_bytes();
            for i in lone {
                bytes[i] = b'\n';
            }
            // Only ASCII bytes changed, so the text is still UTF-8.
            text = String::from_utf8(bytes).unwrap_or_default();
        }
    }
    text
}

/// What is wrong with a file, from whichever stage found it: the first
/// syntax error, every independent error of the checker, or the error that
/// stopped the evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    Syntax(syntax::Error),
    Model(model::Errors),
    Eval(eval::Error),
}

impl Error {
    /// True when the error is nnderive's own fault (a value a checked model
    /// should always have), never the file's: tests and the fuzz target fail on it.
    pub fn is_bug(&self) -> bool {
        matches!(self, Error::Eval(e) if e.is_bug())
    }

    /// The located message of the first error in the file, ready for
    /// `render::diagnostic`.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            Error::Syntax(e) => e.diagnostic(),
            Error::Model(e) => match e.first() {
                Some(first) => first.diagnostic(),
                None => Diagnostic::new("the file has errors", None),
            },
            Error::Eval(e) => e.diagnostic(),
        }
    }

    /// Every error as the terminal shows it, pointing into `source` (the
    /// source the error came from): for a message in a test's failure.
    pub fn rendered(&self, source: &Source) -> String {
        render::diagnostic::report(&self.report(), &source.name, &source.text)
    }

    /// Every error's located message, in file order: what the command line
    /// prints (`render::diagnostic::report`, `render::json::errors`).
    pub fn report(&self) -> Report {
        match self {
            Error::Model(errors) if !errors.is_empty() => Report {
                diagnostics: errors.iter().map(model::Error::diagnostic).collect(),
                left_out: errors.left_out(),
            },
            _ => Report { diagnostics: vec![self.diagnostic()], left_out: false },
        }
    }
}

impl From<syntax::Error> for Error {
    fn from(e: syntax::Error) -> Self {
        Error::Syntax(e)
    }
}

impl From<model::Error> for Error {
    fn from(e: model::Error) -> Self {
        Error::Model(e.into())
    }
}

impl From<model::Errors> for Error {
    fn from(e: model::Errors) -> Self {
        Error::Model(e)
    }
}

impl From<eval::Error> for Error {
    fn from(e: eval::Error) -> Self {
        Error::Eval(e)
    }
}

/// The derivation of a source as `nnderive derive` prints it: the text to
/// snapshot-test a derivation in one call (with `insta`, say).
///
/// ```
/// let source = nnderive::Source::new("net.nn", "
/// input  x[2]   = [1, 2]
/// target y[1]   = [1]
/// param  W[1,2] = [[0.5, -0.25]]
/// o = sigmoid(W @ x)
/// loss E = 0.5 * sum((y - o)^2)
/// ");
/// let text = nnderive::derivation_text(&source).unwrap();
/// assert!(text.contains("δ1 = (o − y) ⊙ o ⊙ (1 − o)"));
/// ```
pub fn derivation_text(source: &Source) -> Result<String, Error> {
    let model = load(source)?;
    Ok(render::text::derivation(&model, &derive::derive(&model)))
}

/// The worked solution of a source as `nnderive solve --round N` prints it
/// (`None`: at full precision, as `solve` without `--round`).
///
/// ```
/// let source = nnderive::Source::new("net.nn", "param w = 3\nloss L = w^2\n");
/// let text = nnderive::solution_text(&source, Some(2)).unwrap();
/// assert!(text.contains("∂L/∂w = 2 w\n        = 6.00\n"));
/// ```
pub fn solution_text(source: &Source, round: Option<u32>) -> Result<String, Error> {
    let model = load(source)?;
    Ok(render::text::solution(&model, &solve(&model)?, round))
}

/// Parses a source into its AST.
pub fn parse(source: &Source) -> Result<syntax::ast::File, Error> {
    Ok(syntax::parse(&source.text)?)
}

/// Parses and checks a source.
pub fn load(source: &Source) -> Result<model::Model, Error> {
    let file = parse(source)?;
    Ok(model::check(&file)?)
}

pub use eval::GradCheckOptions;

/// Solves a checked model: forward values, the loss, every error term and
/// gradient, and the training step ([`eval::solve`], with its error as this
/// crate's).
pub fn solve(model: &model::Model) -> Result<eval::Solution, Error> {
    Ok(eval::solve(model)?)
}

/// Checks every derived gradient against central finite differences
/// ([`eval::gradcheck`]).
pub fn gradcheck(model: &model::Model) -> Result<eval::GradCheck, Error> {
    Ok(eval::gradcheck(model)?)
}

/// [`gradcheck`] with options ([`eval::gradcheck_with`]).
pub fn gradcheck_with(model: &model::Model, options: GradCheckOptions) -> Result<eval::GradCheck, Error> {
    Ok(eval::gradcheck_with(model, options)?)
}
pub use model::with_value;

/// The cases of `--cases NAME=onehot`: one per one-hot value of the
/// target NAME, with the target left open for the general answer; the
/// errors point into `argument`.
pub fn cases(model: &model::Model, argument: &str) -> Result<eval::Cases, Error> {
    let (target, classes) = model::one_hot_target(model, argument)?;
    Ok(eval::Cases::one_hot(model, target, classes))
}

/// `model` with a value given from outside the file: `argument` is
/// `NAME=LITERAL` in the file's literal syntax (`y=[0, 1]`), and every
/// error points into it.
pub fn given(model: model::Model, argument: &str) -> Result<model::Model, Error> {
    let (name, literal) = syntax::parse_given(argument)?;
    Ok(model::with_literal(model, &name, &literal)?)
}
