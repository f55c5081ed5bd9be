//! Syntax errors: a kind and the place it points at.

use crate::diagnostic::Diagnostic;

use super::Span;

/// A syntax error.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub span: Span,
}

/// What went wrong. Each variant's doc gives an input that produces it.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorKind {
    /// Bytes that are not UTF-8 (`b"x = \xff"`).
    NotUtf8 { byte: u8 },
    /// A surrogate encoded as if it were a character (`b"# \xed\xb2\x80"`,
    /// U+DC80): what Python's `surrogateescape` and Java's modified UTF-8
    /// leave in text.
    Surrogate { code: u32 },
    /// `$ = 1`: a line that does not start a statement.
    ExpectedStatement,
    /// `input x[2] [1, 2]`: a required token is missing.
    Expected { what: &'static str, after: String },
    /// `Z = W1 @`: an operator or `=` with nothing after it.
    ExpectedExpression { after: String },
    /// `Z = (a + b`: a bracket that is never closed; `instead` is where
    /// something else came (`None` at the end of the file).
    Unclosed { open: char, instead: Option<Span> },
    /// `Z = a b`: something left over after a complete statement.
    Trailing { found: String },
    /// `param loss[2]`: a keyword where a name belongs.
    KeywordAsName { keyword: String },
    /// `x = 1e`: a number whose exponent has no digits.
    BadNumber { text: String },
    /// `H = 2relu(Z1)`: a number glued to a name.
    GluedNumber { number: String, name: String },
    /// `Z1 = W1 @ x + $b1`: a character that starts nothing.
    UnexpectedChar { ch: char, expected: &'static str },
    /// `inptu x[4] = ...`: a misspelled keyword (the line reads as an equation).
    MisspelledKeyword { found: String, keyword: String },
    /// `x = 1e99999`: an exponent too large to represent exactly.
    ExponentTooLarge { text: String },
    /// `x = 0.333…` with more than [`MAX_DIGITS`] digits.
    NumberTooLong { digits: usize, limit: usize },
    /// `input x[99999999999999999999]`: a dimension too large to count.
    DimensionTooLarge,
    /// `input x[]` or `input x[2.5]`: dims must be whole numbers.
    ExpectedDimension,
    /// `steps t = 1..99999999999999999999`: a step past what nnderive counts.
    StepTooLarge,
    /// `a[:, 0:99999999999999999999]`: a slice bound past what nnderive counts.
    SliceBoundTooLarge,
    /// `a[::2]`: a slice with a step; slices here take every entry of their range.
    SliceStep,
    /// `Z = ((((...))))` nested thousands deep.
    TooDeep { limit: usize },
    /// `param W[3000,3000] = [[...], ...]`: more numbers in one literal than
    /// a tensor may hold.
    LiteralTooLarge { limit: usize },
    /// `ŷ = softmax(Z2)` or `loss L = λ * sum(W^2)`: names are ASCII;
    /// `suggestion` spells the word in ASCII (`yhat`, `lam`).
    NonAsciiName { found: String, suggestion: String },
    /// `Z = np.dot(W1, x)`: a NumPy, PyTorch or math module call; `instead`
    /// is the nnderive form (`W1 @ x`).
    ModuleCall { written: String, library: &'static str, instead: Option<String> },
    /// `Z = W1.dot(x)` or `s = x.sum()`: a method call; `instead` is the
    /// nnderive form (`W1 @ x`, `sum(x)`).
    MethodCall { written: String, instead: Option<String> },
    /// `R = W1**2`: Python's power operator; `instead` is `W1^2`.
    DoubleStar { instead: String },
    /// `# a comment \x1b[2J`: a comment holding a control character other
    /// than a tab, or a mark that reverses or hides text (U+202E, U+2066);
    /// see [`crate::diagnostic::allowed_in_comment`].
    ControlInComment { ch: char },
}

/// The largest tensor nnderive will hold (entries), declared or computed:
/// 2^24 = 16 777 216, a 4096×4096 matrix. A literal's numbers take 8 bytes
/// each once read, and a tensor past `eval::tensor::EXACT_ENTRIES_CAP`
/// entries is computed in f64 (8 bytes an entry, not the 100 of an exact
/// one), so a tensor at the limit takes 128 MB; `check` of a 4000×4000
/// literal peaks near 0.4 GB and `solve` of a layer over it near 0.8 GB
/// (measured; see docs/errors.md). A typo in a dimension cannot allocate gigabytes.
pub const MAX_ENTRIES: usize = 1 << 24;

/// The most digits a number may have, before and after its point together
/// (leading zeros count: they set the denominator). Far more than exact
/// arithmetic keeps once a value is computed with (about 600 digits, see
/// `eval::tensor::EXACT_BITS_CAP`), while reading one number and reducing
/// its fraction costs about the square of its digits: 200 000 digits took
/// 14 s.
pub const MAX_DIGITS: usize = 1000;

/// The nesting budget: a bracket, call, unary minus or power costs 4, an
/// operator in a chain or a `.T` costs 1 (about 30 levels of parentheses, or
/// 120 terms in one sum). The limit keeps every stage within a 1 MiB stack,
/// even in debug builds.
pub const MAX_DEPTH: usize = 128;

/// What `.nn` writes for an operator from the textbook's notation.
fn textbook_operator(ch: char) -> Option<&'static str> {
    Some(match ch {
        '−' | '–' => "write the minus sign as ASCII '-'",
        '⊙' | '∘' => "the entry-by-entry product is written `*`",
        '⊘' => "the entry-by-entry quotient is written `/`",
        '·' | '×' | '⋅' => "write `@` for a matrix product, or `*` entry by entry",
        '²' => "write a power with `^`, as in `t^2`",
        '√' => "write a square root as `sqrt(...)`",
        '∑' => "a sum over the entries is `sum(...)`",
        _ => return None,
    })
}

impl Error {
    /// The located, human message for this error.
    pub fn diagnostic(&self) -> Diagnostic {
        let span = Some(self.span);
        match &self.kind {
            ErrorKind::NotUtf8 { byte } => Diagnostic::new(format!("the file is not valid UTF-8 (byte 0x{byte:02x})"), span)
                .with_label("not UTF-8")
                .with_help("save the file as UTF-8 text"),
            ErrorKind::Surrogate { code } => Diagnostic::new(format!("the text holds a lone surrogate (U+{code:04X}), which is not a character"), span)
                .with_label("not a character")
                .with_help("a lone surrogate is half of a UTF-16 pair, left by text decoded with errors='surrogateescape' or by Java's modified UTF-8; save the file as UTF-8 text"),
            ErrorKind::ExpectedStatement => Diagnostic::new("expected a statement", span)
                .with_label("not a statement")
                .with_help("a line is a declaration (input/target/param/const), `fn`, an equation `NAME = ...`, `loss NAME = ...` or `train sgd(lr = ...)`"),
            ErrorKind::Expected { what, after } => Diagnostic::new(format!("expected {what} after {after}"), span).with_label(format!("expected {what}")),
            ErrorKind::ExpectedExpression { after } => Diagnostic::new(format!("expected an expression after {after}"), span)
                .with_label("expression missing")
                .with_help("an expression is a number, a name, a call such as relu(Z1), or a combination with + - * / ^ @"),
            ErrorKind::Unclosed { open, instead } => {
                let close = match open {
                    '(' => ')',
                    _ => ']',
                };
                let d = Diagnostic::new(format!("this '{open}' is never closed"), span)
                    .with_label(format!("unclosed '{open}'"))
                    .with_help(format!("add the matching '{close}'"));
                match instead {
                    Some(at) => d.with_related(*at, format!("expected ',' or '{close}' before this")),
                    None => d,
                }
            }
            ErrorKind::Trailing { found } => {
                let operator = found.strip_prefix('\'').and_then(|f| f.strip_suffix('\'')).and_then(|f| f.chars().next());
                let help = operator.and_then(textbook_operator).unwrap_or("one statement per line; an operator such as * or @ may be missing");
                Diagnostic::new(format!("unexpected {found} after the end of the statement"), span).with_label("unexpected").with_help(help)
            }
            ErrorKind::KeywordAsName { keyword } => Diagnostic::new(format!("'{keyword}' is a keyword and cannot be used as a name"), span)
                .with_label("keyword")
                .with_help("the keywords are input, target, param, const, fn, loss and train"),
            ErrorKind::BadNumber { text } => Diagnostic::new(format!("'{text}' is not a number"), span)
                .with_label("malformed number")
                .with_help("write numbers like 2, 0.5, -1e-3 or 2.5E+2"),
            ErrorKind::GluedNumber { number, name } => Diagnostic::new(format!("'{number}{name}' is not a number or a name"), span)
                .with_label("a number glued to a name")
                .with_help(format!("to multiply, write `{number} * {name}`")),
            ErrorKind::UnexpectedChar { ch, expected } => Diagnostic::new(format!("unexpected character '{ch}'"), span)
                .with_label(format!("expected {expected}"))
                .with_help(textbook_operator(*ch).unwrap_or("names are letters, digits and underscores; operators are + - * / ^ @ and .T")),
            ErrorKind::MisspelledKeyword { found, keyword } => Diagnostic::new(format!("unknown keyword '{found}'"), span)
                .with_label("not a keyword")
                .with_help(format!("did you mean '{keyword}'?")),
            ErrorKind::ExponentTooLarge { text } => Diagnostic::new(format!("the exponent of '{text}' is too large"), span)
                .with_label("exponent out of range")
                .with_help("exponents from -1000 to 1000 are supported"),
            ErrorKind::NumberTooLong { digits, limit } => {
                Diagnostic::new(format!("this number has {digits} digits; nnderive reads at most {limit}"), span)
                    .with_label("too many digits")
                    .with_help("round it: exact arithmetic keeps about 600 digits of a computed value, and f64 about 17")
            }
            ErrorKind::StepTooLarge => Diagnostic::new("this step is too large", span).with_label("too large"),
            ErrorKind::SliceBoundTooLarge => {
                Diagnostic::new("this slice bound is too large", span).with_label("too large")
            }
            ErrorKind::SliceStep => Diagnostic::new("a slice with a step (`a[::2]`) is not supported", span)
                .with_label("a step")
                .with_help("a slice takes every entry from its start up to (not including) its end: write `a[0:4]`"),
            ErrorKind::DimensionTooLarge => Diagnostic::new("this dimension is too large", span).with_label("too large"),
            ErrorKind::ExpectedDimension => Diagnostic::new("expected a dimension: a whole number", span)
                .with_label("not a dimension")
                .with_help("write dims like [4] for a vector or [3, 4] for a matrix"),
            ErrorKind::TooDeep { limit } => Diagnostic::new("the expression is nested too deeply", span)
                .with_label("too deep")
                .with_help(format!("nnderive accepts about {} levels of brackets, or {limit} terms in a row; split it into several equations", limit / 4)),
            ErrorKind::NonAsciiName { found, suggestion } => {
                let d = Diagnostic::new(format!("'{found}' is not a name: names are ASCII"), span)
                    .with_label("not ASCII letters, digits or _");
                if found == "Σ" || found == "∑" {
                    d.with_help("a sum over the entries is `sum(...)`")
                } else if suggestion.contains('^') {
                    d.with_help(format!("a power is written with `^`: `{suggestion}`"))
                } else if suggestion.starts_with('.') || suggestion.contains(".T") {
                    d.with_help(format!("a transpose is written `.T`: `{suggestion}`"))
                } else if suggestion.is_empty() || suggestion.starts_with(|c: char| c.is_ascii_digit()) {
                    d.with_help("a name is ASCII letters, digits and _, starting with a letter or _")
                } else if suggestion.ends_with("hat") && suggestion.len() > 3 {
                    d.with_help(format!(
                        "a name is ASCII letters, digits and _: write `{suggestion}` (the output shows it as {found}, and as \\hat in LaTeX)"
                    ))
                } else {
                    d.with_help(format!("a name is ASCII letters, digits and _: write `{suggestion}`"))
                }
            }
            ErrorKind::ModuleCall { written, library, instead } => {
                let d = Diagnostic::new(format!("`{written}` is {library}, not nnderive"), span)
                    .with_label(format!("{library} syntax"));
                match instead {
                    Some(form) => d.with_help(format!("nnderive has no modules; write `{form}`")),
                    None => d.with_help("nnderive has no modules: call its built-ins by name, as in `exp(z)` or `sum(x)`"),
                }
            }
            ErrorKind::MethodCall { written, instead } => {
                let d = Diagnostic::new(format!("`{written}` is NumPy or PyTorch style; nnderive has no methods"), span)
                    .with_label("a method call");
                match instead {
                    Some(form) => d.with_help(format!("write `{form}`")),
                    None => d.with_help("the one suffix is `.T` (transpose); functions are called by name, as in `sum(x)`"),
                }
            }
            ErrorKind::ControlInComment { ch } => {
                let what = if is_direction_mark(*ch) { "a text-direction mark" } else { "an invisible control character" };
                Diagnostic::new(format!("a comment holds {what} (U+{:04X})", u32::from(*ch)), span)
                    .with_label(format!("U+{:04X}", u32::from(*ch)))
                    .with_help("delete it: such a character can clear a terminal or make the text around it read in another order, so the line would not show what it holds; a comment may hold tabs and any character that shows")
            }
            ErrorKind::DoubleStar { instead } => Diagnostic::new("`**` is Python's power operator; nnderive writes `^`", span)
                .with_label("Python syntax")
                .with_help(format!("write `{instead}`")),
            ErrorKind::LiteralTooLarge { limit } => {
                Diagnostic::new(format!("this value has more than {limit} numbers, the most a tensor may hold"), span)
                    .with_label("one number too many")
                    .with_help("the limit bounds memory; give the tensor smaller dims, or leave its value out and use `nnderive derive` for the formulas")
            }
        }
    }
}

/// Marks that change the direction of the text around them (U+202E makes
/// what follows read right to left).
fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
