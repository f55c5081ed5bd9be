//! How a declared name is written in each notation (`yhat` is ŷ in text
//! and `\hat{y}` in LaTeX, `W1` is `W_{1}`, step 3 of the sequence `h` is
//! `h₃`), and the check that no two names of a file are written alike.
//!
//! The spelling lives here, below the renderers, so that the checker and
//! every writer use the very same functions: a name the checker lets through
//! is one that no writer confuses with another.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::error::{Error, ErrorKind};
use crate::syntax::ast;
use crate::syntax::Span;

/// How formulas are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Notation {
    /// Unicode mathematics: ŷ, Hᵀ, ⊙, ⊘, Σ, δ2, f′.
    Text,
    /// `.nn` syntax, which the parser reads back (`W2.T @ delta2`).
    Nn,
    /// LaTeX math mode: `W_2^\top \delta_2`.
    Latex,
}

/// `base` with a circumflex on its first letter: the precomposed letter
/// where Unicode has one (ŷ), else a combining accent.
fn with_hat(base: &str) -> String {
    let mut chars = base.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let hatted = match first {
        'y' => "ŷ".to_string(),
        'Y' => "Ŷ".to_string(),
        'a' => "â".to_string(),
        'e' => "ê".to_string(),
        'i' => "î".to_string(),
        'o' => "ô".to_string(),
        'u' => "û".to_string(),
        'w' => "ŵ".to_string(),
        'z' => "ẑ".to_string(),
        'c' => "ĉ".to_string(),
        'g' => "ĝ".to_string(),
        'h' => "ĥ".to_string(),
        's' => "ŝ".to_string(),
        c => format!("{c}\u{302}"),
    };
    format!("{hatted}{}", chars.as_str())
}

/// The letter a name puts a hat on: the usual estimates `yhat`, `Yhat`,
/// `xhat`, `phat`, `zhat`, `ohat`, or any single letter or Greek name before
/// `_hat` (`y_hat`, `w_hat`, `mu_hat`). Words such as `what` and `that` keep their letters.
fn hat_base(name: &str) -> Option<&str> {
    if let Some(base) = name.strip_suffix("_hat") {
        let mut letters = base.chars();
        let one_letter = letters.next().is_some_and(|c| c.is_ascii_alphabetic()) && letters.next().is_none();
        if one_letter || greek(base).is_some() {
            return Some(base);
        }
    }
    let base = name.strip_suffix("hat").or_else(|| name.strip_suffix("Hat"))?;
    matches!(base, "y" | "Y" | "x" | "X" | "p" | "P" | "z" | "Z" | "o" | "O").then_some(base)
}
/// A tensor name in a notation; step 3 of a sequence `h` (the unrolled
/// name `h[3]`) is `h₃` in text and `h_{3}` in LaTeX.
pub fn tensor_name(name: &str, notation: Notation) -> String {
    if let Some((base, k)) = crate::model::time::split_step(name) {
        return step_name(base, &StepLabel::At(k), notation);
    }
    let hat = hat_base(name);
    match notation {
        Notation::Nn => name.to_string(),
        Notation::Text => match hat {
            Some(base) => with_hat(&text_ident(base)),
            None => text_ident(name),
        },
        Notation::Latex => match hat {
            Some(base) => format!("\\hat{{{}}}", latex_ident(base, notation)),
            None => latex_ident(name, notation),
        },
    }
}

/// A custom function's name: in LaTeX upright like the built-ins
/// (`\operatorname{swish}`, `\operatorname{f}_{2}` for `f2`), a Greek
/// name as its letter (`phi` is φ and `\phi`).
pub fn function_name(name: &str, notation: Notation) -> String {
    match notation {
        Notation::Nn => return name.to_string(),
        Notation::Text => return text_ident(name),
        // A Greek letter is a symbol already (`\phi`), as `\sigma` is.
        Notation::Latex if greek(letters_and_subscript(name).0).is_some() => return latex_ident(name, notation),
        Notation::Latex => {}
    }
    let ident = latex_ident(name, notation);
    let (base, sub) = match ident.find("_{") {
        Some(i) => (&ident[..i], &ident[i..]),
        None => (ident.as_str(), ""),
    };
    let base = base.strip_prefix("\\mathit{").and_then(|b| b.strip_suffix('}')).unwrap_or(base);
    format!("\\operatorname{{{base}}}{sub}")
}

/// Which step a sequence's name shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepLabel {
    /// A concrete step: `h₃`.
    At(u64),
    /// The time index plus an offset: `h_t`, `h_{t−1}`.
    Relative { index: String, offset: i64 },
}
/// `base` at a step, in a notation: `h₃`, `h_t`, `h_{t−1}`, `h[t-1]`, `h_{t-1}`.
pub fn step_name(base: &str, step: &StepLabel, notation: Notation) -> String {
    match notation {
        Notation::Nn => with_step(base.to_string(), step, notation),
        _ => with_step(tensor_name(base, notation), step, notation),
    }
}

/// A rendered name with a step: `h₃`, `h_t`, `h_{t−1}`, `h[t-1]`, `h_{t-1}`.
pub fn with_step(name: String, step: &StepLabel, notation: Notation) -> String {
    let base = name.as_str();
    let relative = |index: &str, offset: i64, minus: &str| match offset {
        0 => index.to_string(),
        o if o > 0 => format!("{index}+{o}"),
        o => format!("{index}{minus}{}", o.unsigned_abs()),
    };
    match (notation, step) {
        (Notation::Nn, StepLabel::At(k)) => format!("{base}[{k}]"),
        (Notation::Nn, StepLabel::Relative { index, offset }) => format!("{base}[{}]", relative(index, *offset, "-")),
        (Notation::Text, StepLabel::At(k)) => format!("{name}{}", subscript_u64(*k)),
        (Notation::Text, StepLabel::Relative { index, offset: 0 }) => format!("{name}_{index}"),
        (Notation::Text, StepLabel::Relative { index, offset }) => {
            format!("{name}_{{{}}}", relative(index, *offset, "−"))
        }
        (Notation::Latex, step) => {
            let sub = match step {
                StepLabel::At(k) => k.to_string(),
                StepLabel::Relative { index, offset } => relative(index, *offset, "-"),
            };
            // A name with a subscript of its own (`W_{1}`) is braced first.
            let base = if name.contains('_') { format!("{{{name}}}") } else { name.clone() };
            format!("{base}_{{{sub}}}")
        }
    }
}

fn subscript_u64(k: u64) -> String {
    crate::layout::subscripted(&k.to_string())
}

/// A name split into its letters and its subscript: `W1` is (`W`, `1`),
/// `net_h` is (`net`, `h`), `beta_1_2` is (`beta`, `1,2`).
fn letters_and_subscript(name: &str) -> (&str, String) {
    match name.split_once('_') {
        Some((b, s)) if !b.is_empty() && !s.is_empty() => (b, s.replace('_', ",")),
        _ => {
            let digits = name.trim_end_matches(|c: char| c.is_ascii_digit());
            if digits.is_empty() || digits.len() == name.len() {
                (name, String::new())
            } else {
                (digits, name[digits.len()..].to_string())
            }
        }
    }
}

/// The Greek letters that names spell in ASCII, with their LaTeX commands:
/// `gamma` is γ and `\gamma`, `lam` is λ, `eps` is ε. Left out on purpose:
/// `delta` and `Delta`, which are the derivation's own error terms (δ2, Δ2),
/// and `Sigma`, which is the sum sign.
const GREEK: &[(&str, &str, &str)] = &[
    ("alpha", "α", "\\alpha"),
    ("beta", "β", "\\beta"),
    ("gamma", "γ", "\\gamma"),
    ("epsilon", "ε", "\\varepsilon"),
    ("eps", "ε", "\\varepsilon"),
    ("zeta", "ζ", "\\zeta"),
    ("eta", "η", "\\eta"),
    ("theta", "θ", "\\theta"),
    ("iota", "ι", "\\iota"),
    ("kappa", "κ", "\\kappa"),
    ("lambda", "λ", "\\lambda"),
    ("lam", "λ", "\\lambda"),
    ("mu", "μ", "\\mu"),
    ("nu", "ν", "\\nu"),
    ("xi", "ξ", "\\xi"),
    ("pi", "π", "\\pi"),
    ("rho", "ρ", "\\rho"),
    ("sigma", "σ", "\\sigma"),
    ("tau", "τ", "\\tau"),
    ("upsilon", "υ", "\\upsilon"),
    ("phi", "φ", "\\phi"),
    ("chi", "χ", "\\chi"),
    ("psi", "ψ", "\\psi"),
    ("omega", "ω", "\\omega"),
    ("Gamma", "Γ", "\\Gamma"),
    ("Theta", "Θ", "\\Theta"),
    ("Lambda", "Λ", "\\Lambda"),
    ("Xi", "Ξ", "\\Xi"),
    ("Pi", "Π", "\\Pi"),
    ("Phi", "Φ", "\\Phi"),
    ("Psi", "Ψ", "\\Psi"),
    ("Omega", "Ω", "\\Omega"),
];

/// The Greek letter a name's letters spell: (`γ`, `\gamma`) for `gamma`.
fn greek(letters: &str) -> Option<(&'static str, &'static str)> {
    GREEK.iter().find(|(ascii, _, _)| *ascii == letters).map(|&(_, text, latex)| (text, latex))
}

/// A name in text: its letters in Greek when they spell a Greek letter
/// (`gamma1` → `γ1`, `lam` → `λ`), else as written.
pub fn text_ident(name: &str) -> String {
    let (letters, _) = letters_and_subscript(name);
    match greek(letters) {
        Some((letter, _)) => format!("{letter}{}", &name[letters.len()..]),
        None => name.to_string(),
    }
}

/// `W1` → `W_{1}`, `net_h` → `\mathit{net}_{h}`, `gamma` → `\gamma`,
/// `x` → `x` (LaTeX only).
pub fn latex_ident(name: &str, notation: Notation) -> String {
    if notation != Notation::Latex {
        return name.to_string();
    }
    let (base, sub) = letters_and_subscript(name);
    let base = match greek(base) {
        Some((_, command)) => command.to_string(),
        None if base.chars().count() > 1 => format!("\\mathit{{{}}}", base.replace('_', "\\_")),
        None => base.to_string(),
    };
    if sub.is_empty() {
        base
    } else {
        format!("{base}_{{{sub}}}")
    }
}

/// What a reader sees a name as, and where: a declared name, a step of a
/// sequence, the sequence itself, a function, or a function's parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Printed {
    /// A tensor, an equation or the loss: `yhat`.
    Name(String),
    /// A sequence, whose steps print as its name with a subscript: `h`.
    Sequence(String),
    /// A step of a sequence, as the file would write it: `h[3]`, `h[t]`.
    Step { sequence: String, step: StepLabel },
    /// The last step of a sequence, which the writers name `h_T`.
    LastStep(String),
    /// A `fn`: `f2`.
    Function(String),
    /// A parameter of a `fn`: `y_hat` in `fn f(yhat, y_hat)`.
    Param { function: String, name: String },
}

impl Printed {
    /// The name the file declares: two holders of one name are one name
    /// (or a duplicate, which the checker reports as such).
    fn declared(&self) -> &str {
        match self {
            Printed::Name(n) | Printed::Sequence(n) | Printed::LastStep(n) | Printed::Function(n) => n,
            Printed::Step { sequence, .. } => sequence,
            Printed::Param { name, .. } => name,
        }
    }

    /// Every form in which a writer shows this, with its notation: the
    /// very calls the writers make (`Names::tensor`, `function_name`, the
    /// document's row of a function's parameters).
    fn forms(&self) -> Vec<(Printed, Notation, String)> {
        let mut out = Vec::new();
        for n in SHOWN {
            match self {
                Printed::Name(name) => out.push((self.clone(), n, tensor_name(name, n))),
                Printed::Sequence(name) => out.push((self.clone(), n, tensor_name(name, n))),
                Printed::Step { sequence, step } => out.push((self.clone(), n, step_name(sequence, step, n))),
                Printed::LastStep(sequence) => {
                    let step = StepLabel::Relative { index: "T".into(), offset: 0 };
                    out.push((self.clone(), n, step_name(sequence, &step, n)));
                }
                Printed::Function(name) => out.push((self.clone(), n, function_name(name, n))),
                Printed::Param { name, .. } => {
                    out.push((self.clone(), n, tensor_name(name, n)));
                    // Differentiated by each of several parameters: `\partial_{a_{1}} f`.
                    if n == Notation::Latex {
                        out.push((self.clone(), n, latex_ident(name, n)));
                    }
                }
            }
        }
        out
    }
}

impl std::fmt::Display for Printed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Printed::Name(n) => write!(f, "'{n}'"),
            Printed::Sequence(n) => write!(f, "the sequence '{n}'"),
            Printed::Step { sequence, step: StepLabel::At(k) } => write!(f, "'{sequence}[{k}]'"),
            Printed::Step { sequence, step: StepLabel::Relative { index, offset } } => match offset {
                0 => write!(f, "'{sequence}[{index}]'"),
                o => write!(f, "'{sequence}[{index}{o:+}]'"),
            },
            Printed::LastStep(n) => write!(f, "the last step of '{n}'"),
            Printed::Function(n) => write!(f, "the function '{n}'"),
            Printed::Param { function, name } => write!(f, "parameter '{name}' of '{function}'"),
        }
    }
}

/// The notations a reader sees names in. The `.nn` notation (and JSON's
/// keys) write a name as the file declares it, so distinct names stay
/// distinct there.
const SHOWN: [Notation; 2] = [Notation::Text, Notation::Latex];

/// Who first showed each form, and where.
#[derive(Default)]
struct Shown {
    by: HashMap<(Notation, String), (Printed, Span)>,
}

impl Shown {
    /// Records every form of `holder`, declared at `span`; the first form
    /// that another name shows already is an error.
    fn add(&mut self, holder: Printed, span: Span) -> Option<Error> {
        let mut clash = None;
        for (holder, n, form) in holder.forms() {
            let key = (n, form);
            match self.by.get(&key) {
                Some((other, first)) if other.declared() != holder.declared() => {
                    clash = clash.or_else(|| Some(alike((&holder, span), (other, *first), n, &key.1)));
                }
                Some(_) => {}
                None => {
                    self.by.insert(key, (holder, span));
                }
            }
        }
        clash
    }

    /// The first form of `holder` (declared at `span`) that another name
    /// shows too, as an error; `holder` itself is not recorded.
    fn find(&self, holder: &Printed, span: Span) -> Option<Error> {
        holder.forms().into_iter().find_map(|(holder, n, form)| {
            let key = (n, form);
            let (other, at) = self.by.get(&key)?;
            if other.declared() == holder.declared() {
                return None;
            }
            Some(alike((&holder, span), (other, *at), n, &key.1))
        })
    }
}

/// Two names, each with where it is declared, that show as `shown` in
/// `notation`: an error at the later of the two.
fn alike(a: (&Printed, Span), b: (&Printed, Span), notation: Notation, shown: &str) -> Error {
    let ((name, span), (other, first)) = if b.1.start <= a.1.start { (a, b) } else { (b, a) };
    let kind =
        ErrorKind::PrintsAlike { name: name.clone(), other: other.clone(), shown: shown.to_string(), notation, first };
    Error::new(kind, span)
}

/// Two names of `file` that a writer would show alike: `yhat` and `y_hat`
/// (both ŷ), `Z2` and `Z_2` (both `Z_{2}` in LaTeX), a tensor `h_t` and
/// the sequence `h[t]` (both `h_t`), `h3` and step 3 of `h` (both
/// `h_{3}`), two functions `f2` and `f_2`, or two parameters of one
/// function. One error per name, at the later of the two.
///
/// The work is linear in the file and its steps: each name's forms are
/// looked up once, and each step of each sequence once, without being
/// stored (a file with more steps than the unroller allows is refused by
/// it, and its steps are not looked at here).
pub(crate) fn prints_alike(file: &ast::File) -> Vec<Error> {
    use ast::{Item, TimeIndexKind};
    let time = file.items.iter().find_map(|item| match item {
        Item::Steps(s) if s.first <= s.last && s.last - s.first < super::time::MAX_TIME_STEPS => Some(s),
        _ => None,
    });
    let index = time.map(|s| s.index.name.as_str());
    let mut shown = Shown::default();
    let mut errors = Vec::new();
    // Each sequence's statements: the steps they define, and where.
    let mut steps: Vec<(&str, u64, u64, Span)> = Vec::new();
    // Each sequence, and its statement at the time index (`h[t] = …`) or
    // else its first, in file order.
    let mut sequences: IndexMap<&str, (Span, bool)> = IndexMap::new();
    for item in &file.items {
        let (name, at) = match item {
            Item::Tensor(d) => (&d.name, &d.time),
            Item::Equation(e) | Item::Loss(e) => (&e.name, &e.time),
            Item::Function(f) => {
                errors.extend(shown.add(Printed::Function(f.name.name.clone()), f.name.span));
                // A function's parameters are its own: compared among themselves.
                let mut params = Shown::default();
                for p in &f.params {
                    let holder = Printed::Param { function: f.name.name.clone(), name: p.name.clone() };
                    errors.extend(params.add(holder, p.span));
                }
                continue;
            }
            Item::Steps(_) | Item::Train(_) | Item::Layout(_) => continue,
        };
        let Some(at) = at else {
            errors.extend(shown.add(Printed::Name(name.name.clone()), name.span));
            continue;
        };
        let (first, last) = match (&at.kind, time) {
            (TimeIndexKind::Step(k), _) => (*k, *k),
            (TimeIndexKind::Relative { .. }, Some(s)) => (s.first, s.last),
            // Without `steps`, the checker reports the index.
            (TimeIndexKind::Relative { .. }, None) => continue,
        };
        let templated = matches!(at.kind, TimeIndexKind::Relative { .. });
        match sequences.get_mut(name.name.as_str()) {
            None => {
                errors.extend(shown.add(Printed::Sequence(name.name.clone()), name.span));
                sequences.insert(&name.name, (name.span, templated));
            }
            Some(seen) if templated && !seen.1 => *seen = (name.span, true),
            Some(_) => {}
        }
        steps.push((&name.name, first, last, name.span));
    }
    // Any step may be named relative to the time index or to the last step
    // (`h_t`, `h_T`), at the statement that defines the sequence at `t`, or
    // else at its first. With an offset (`h_{t−1}`) a form holds a sign,
    // which no declared name's form does, so it can only meet another
    // sequence's form at the same offset, whose name prints like this
    // one's already.
    for (sequence, (span, _)) in sequences {
        if let Some(index) = index {
            let step = StepLabel::Relative { index: index.into(), offset: 0 };
            errors.extend(shown.add(Printed::Step { sequence: sequence.into(), step }, span));
        }
        errors.extend(shown.add(Printed::LastStep(sequence.into()), span));
    }
    let count = steps.iter().map(|&(_, a, b, _)| b - a + 1).fold(0, u64::saturating_add);
    if count <= super::time::MAX_UNROLLED_NODES {
        for &(sequence, first, last, span) in &steps {
            for k in first..=last {
                let holder = Printed::Step { sequence: sequence.into(), step: StepLabel::At(k) };
                if let Some(e) = shown.find(&holder, span) {
                    errors.push(e);
                    break;
                }
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_each_notation() {
        assert_eq!(tensor_name("yhat", Notation::Text), "ŷ");
        assert_eq!(tensor_name("yhat", Notation::Latex), "\\hat{y}");
        assert_eq!(tensor_name("W1", Notation::Latex), "W_{1}");
        assert_eq!(tensor_name("net_h", Notation::Latex), "\\mathit{net}_{h}");
        assert_eq!(tensor_name("hat", Notation::Text), "hat");
    }

    #[test]
    fn greek_names_are_greek_letters() {
        for (name, text, latex) in [
            ("gamma", "γ", "\\gamma"),
            ("lam", "λ", "\\lambda"),
            ("lambda", "λ", "\\lambda"),
            ("eps", "ε", "\\varepsilon"),
            ("sigma", "σ", "\\sigma"),
            ("beta1", "β1", "\\beta_{1}"),
            ("mu_B", "μ_B", "\\mu_{B}"),
            ("Omega", "Ω", "\\Omega"),
            ("mu_hat", "μ\u{302}", "\\hat{\\mu}"),
            ("yhat", "ŷ", "\\hat{y}"),
            // Not Greek: a longer word, the error terms' own letter, the sum sign.
            ("betas", "betas", "\\mathit{betas}"),
            ("delta", "delta", "\\mathit{delta}"),
            ("Sigma", "Sigma", "\\mathit{Sigma}"),
        ] {
            assert_eq!(tensor_name(name, Notation::Text), text, "{name}");
            assert_eq!(tensor_name(name, Notation::Latex), latex, "{name}");
            assert_eq!(tensor_name(name, Notation::Nn), name);
        }
        assert_eq!(function_name("phi", Notation::Latex), "\\phi");
        assert_eq!(function_name("phi", Notation::Text), "φ");
        assert_eq!(function_name("swish", Notation::Latex), "\\operatorname{swish}");
    }
}
