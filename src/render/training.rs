//! The training step as every writer shows it: the optimizer's update rule
//! as formulas (written once here, printed in Unicode text and LaTeX), its
//! settings, which steps of a long run are shown, and the loss as a
//! sparkline. Each optimizer's rule is one `match` arm of [`rule`].

use num_rational::BigRational;
use num_traits::{One, Zero};

use crate::eval::Training;
use crate::model::optimizer::{Quantity, Setting, BETA, BETA1, BETA2, EPS, LR, RHO};
use crate::model::{self, InitialState, Optimizer, TensorId};

use super::formula::{constant, Notation};

/// Runs of at most this many steps show every step's values; longer ones
/// the first [`FIRST_STEPS`] and the last [`LAST_STEPS`].
pub const ALL_STEPS: u32 = 6;
/// The steps shown at the start of a long run.
pub const FIRST_STEPS: u32 = 3;
/// The steps shown at the end of a long run.
pub const LAST_STEPS: u32 = 2;
/// Loss tables of at most this many rows are shown whole; longer ones
/// their first and last [`LOSS_ROWS_EACH_END`] rows.
pub const LOSS_ROWS: usize = 12;
/// Rows shown at each end of a long loss table.
pub const LOSS_ROWS_EACH_END: usize = 5;
/// The widest sparkline, in characters: longer runs are sampled evenly.
pub const SPARKLINE_WIDTH: usize = 60;

/// Where a symbol stands in the run: `m⁽ᵏ⁾`, `m⁽ᵏ⁻¹⁾`, `m⁽⁰⁾`, `m⁽³⁾`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    K,
    KMinus1,
    Step(u32),
}

/// What a symbol of the rule names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base<'a> {
    /// The gradient g.
    Gradient,
    /// A parameter: the generic P of the rule, or a named one.
    Param(&'a str),
    Quantity(Quantity),
}

/// A formula of an update rule: small enough to write by hand, printed in
/// both notations by one function.
#[derive(Clone, Debug, PartialEq)]
enum F<'a> {
    Symbol(Base<'a>, At),
    /// A symbol at no particular step, as a sentence about the rule names
    /// it: the v̂ of `√v̂`.
    Unstepped(Base<'a>),
    /// A setting, printed as its letter: `lr` prints α.
    Setting(&'static Setting),
    One,
    Add(Box<F<'a>>, Box<F<'a>>),
    Neg(Box<F<'a>>),
    Sub(Box<F<'a>>, Box<F<'a>>),
    /// A scalar coefficient times a tensor: `β v`.
    Scale(Box<F<'a>>, Box<F<'a>>),
    /// The entrywise product.
    Hadamard(Box<F<'a>>, Box<F<'a>>),
    /// A quotient, entry by entry when the divisor is a tensor (⊘ in text).
    Quotient {
        num: Box<F<'a>>,
        den: Box<F<'a>>,
        entrywise: bool,
    },
    Sqrt(Box<F<'a>>),
    /// A setting to the power k, or t + k after t updates taken before: `β₁ᵏ`, `β₁⁵⁺ᵏ`.
    PowerK(&'static Setting, u32),
    /// ∂L/∂P at the parameter's value before step k: the loss's name and the parameter's.
    Gradient(&'a str, &'a str),
}

fn sym<'a>(base: Base<'a>, at: At) -> F<'a> {
    F::Symbol(base, at)
}
fn set<'a>(setting: &'static Setting) -> F<'a> {
    F::Setting(setting)
}
fn add<'a>(a: F<'a>, b: F<'a>) -> F<'a> {
    F::Add(Box::new(a), Box::new(b))
}
fn sub<'a>(a: F<'a>, b: F<'a>) -> F<'a> {
    F::Sub(Box::new(a), Box::new(b))
}
fn scale<'a>(a: F<'a>, b: F<'a>) -> F<'a> {
    F::Scale(Box::new(a), Box::new(b))
}
fn hadamard<'a>(a: F<'a>, b: F<'a>) -> F<'a> {
    F::Hadamard(Box::new(a), Box::new(b))
}
fn quotient<'a>(num: F<'a>, den: F<'a>, entrywise: bool) -> F<'a> {
    F::Quotient { num: Box::new(num), den: Box::new(den), entrywise }
}

/// One line of an update rule: `lhs = rhs`, with what the left side is.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleLine {
    pub lhs: String,
    pub rhs: String,
    /// The quantity the line defines, if it is one the optimizer keeps or computes.
    pub quantity: Option<Quantity>,
    /// What the left side is, in words ("first moment …").
    pub meaning: &'static str,
}

/// The update rule of `optimizer` for a parameter written `param` (`P`, or
/// `θ` when the network has a tensor named P) under loss `loss`: the
/// gradient, each quantity, then the update.
pub fn rule(optimizer: &Optimizer, param: &str, loss: &str, notation: Notation) -> Vec<RuleLine> {
    rule_after(optimizer, 0, param, loss, notation)
}

/// [`rule`] for a run that follows `taken` updates (Adam's `t`): its step
/// k is update t + k, so the bias corrections read `1 − β₁⁵⁺ᵏ` after 5.
pub fn rule_after(optimizer: &Optimizer, taken: u32, param: &str, loss: &str, notation: Notation) -> Vec<RuleLine> {
    use Quantity::*;
    let p = Base::Param(param);
    let g = || sym(Base::Gradient, At::K);
    let q = |quantity, at| sym(Base::Quantity(quantity), at);
    let before = sym(p, At::KMinus1);
    // `a s⁽ᵏ⁻¹⁾ + (1 − a) x`: a running mean with decay `a`.
    let mean = |decay, quantity, x| add(scale(set(decay), q(quantity, At::KMinus1)), scale(sub(F::One, set(decay)), x));
    let mut lines: Vec<(Option<Quantity>, F)> = Vec::new();
    let update = match optimizer {
        Optimizer::Sgd => sub(before, scale(set(&LR), g())),
        Optimizer::Momentum { .. } => {
            lines.push((Some(Velocity), sub(scale(set(&BETA), q(Velocity, At::KMinus1)), scale(set(&LR), g()))));
            add(before, q(Velocity, At::K))
        }
        Optimizer::RmsProp { .. } => {
            lines.push((Some(SquareMean), mean(&RHO, SquareMean, hadamard(g(), g()))));
            let den = add(F::Sqrt(Box::new(q(SquareMean, At::K))), set(&EPS));
            sub(before, scale(set(&LR), quotient(g(), den, true)))
        }
        Optimizer::Adam { .. } => {
            lines.push((Some(FirstMoment), mean(&BETA1, FirstMoment, g())));
            lines.push((Some(SecondMoment), mean(&BETA2, SecondMoment, hadamard(g(), g()))));
            let corrected = |q_hat, q_raw, beta| {
                (Some(q_hat), quotient(q(q_raw, At::K), sub(F::One, F::PowerK(beta, taken)), false))
            };
            lines.push(corrected(FirstMomentCorrected, FirstMoment, &BETA1));
            lines.push(corrected(SecondMomentCorrected, SecondMoment, &BETA2));
            let den = add(F::Sqrt(Box::new(q(SecondMomentCorrected, At::K))), set(&EPS));
            sub(before, scale(set(&LR), quotient(q(FirstMomentCorrected, At::K), den, true)))
        }
    };
    let mut out = vec![RuleLine {
        lhs: print(&g(), notation),
        rhs: print(&F::Gradient(loss, param), notation),
        quantity: None,
        meaning: "gradient at the values before the step",
    }];
    for (quantity, f) in lines {
        let lhs = quantity.map(|x| print(&q(x, At::K), notation)).unwrap_or_default();
        out.push(RuleLine { lhs, rhs: print(&f, notation), quantity, meaning: quantity.map_or("", Quantity::meaning) });
    }
    out.push(RuleLine {
        lhs: print(&sym(p, At::K), notation),
        rhs: print(&update, notation),
        quantity: None,
        meaning: "the update",
    });
    out
}

/// What the quantities kept from step to step start from: zero,
/// `m⁽⁰⁾ = v⁽⁰⁾ = 0`, or the tensors the file names, `v⁽⁰⁾ = v0`
/// (`v⁽⁰⁾ = v1 for W1 and v2 for W2` with several parameters), with
/// `name` printing a tensor's name; `None` for plain SGD.
pub fn initial_state(train: &model::Train, name: &dyn Fn(TensorId) -> String, notation: Notation) -> Option<String> {
    let at = At::Step(0);
    let kept: Vec<Quantity> = train.optimizer.kept().collect();
    let (given, zero): (Vec<Quantity>, Vec<Quantity>) =
        kept.iter().partition(|&&q| train.state.iter().any(|s| s.quantity == q));
    let symbol = |q: Quantity| print(&sym(Base::Quantity(q), at), notation);
    let for_word = match notation {
        Notation::Latex => "\\text{ for }",
        _ => " for ",
    };
    let and_word = match notation {
        Notation::Latex => "\\text{ and }",
        _ => " and ",
    };
    let mut parts: Vec<String> = given
        .iter()
        .map(|&q| {
            let of: Vec<&InitialState> = train.state.iter().filter(|s| s.quantity == q).collect();
            let values: Vec<String> = match of.as_slice() {
                [one] => vec![name(one.tensor)],
                many => many.iter().map(|s| format!("{}{for_word}{}", name(s.tensor), name(s.param))).collect(),
            };
            format!("{} = {}", symbol(q), values.join(and_word))
        })
        .collect();
    if !zero.is_empty() {
        let symbols: Vec<String> = zero.into_iter().map(symbol).collect();
        parts.push(format!("{} = 0", symbols.join(" = ")));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// How many updates the file says were taken before its run (Adam's `t`).
pub fn taken(model: &model::Model) -> u32 {
    model.train.as_ref().map_or(0, |t| t.taken)
}

/// The symbol of a quantity (or of the gradient, `None`) at a step, for
/// a table of values: `m⁽²⁾`.
pub fn quantity_symbol(quantity: Option<Quantity>, at: At, notation: Notation) -> String {
    match quantity {
        Some(q) => print(&sym(Base::Quantity(q), at), notation),
        None => print(&sym(Base::Gradient, at), notation),
    }
}

/// The square root of a quantity as the update rule writes it, at no
/// particular step: `√v̂`, `\\sqrt{\\hat{v}}` (a note says where a root
/// of exact values left exact arithmetic).
pub fn root(quantity: Quantity, notation: Notation) -> String {
    print(&F::Sqrt(Box::new(F::Unstepped(Base::Quantity(quantity)))), notation)
}

/// A parameter's name after a step: `W1⁽²⁾`, `W_{1}^{(2)}`.
pub fn param_at(name: &str, at: At, notation: Notation) -> String {
    print(&sym(Base::Param(name), at), notation)
}

/// The loss after k steps: `L⁽ᵏ⁾`.
pub fn loss_at(name: &str, at: At, notation: Notation) -> String {
    param_at(name, at, notation)
}

/// The optimizer by name, with its source: "Adam with bias correction (Kingma & Ba, 2015)".
pub fn title(optimizer: &Optimizer) -> &'static str {
    match optimizer {
        Optimizer::Sgd => "SGD (plain gradient descent)",
        Optimizer::Momentum { .. } => "SGD with momentum (CS231n's sgd_momentum)",
        Optimizer::RmsProp { .. } => "RMSprop (as in CS231n and PyTorch)",
        Optimizer::Adam { .. } => "Adam with bias correction (Kingma & Ba, 2015)",
    }
}

/// A piece of a sentence: words, or a formula in the notation asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Words(&'static str),
    Formula(String),
}

/// A sentence on how this form relates to another in wide use, where one
/// differs: PyTorch's momentum, whose velocity is scaled differently.
pub fn variant_note(optimizer: &Optimizer, notation: Notation) -> Option<Vec<Piece>> {
    match optimizer {
        Optimizer::Momentum { .. } => {
            let v = |at| sym(Base::Quantity(Quantity::Velocity), at);
            let p = |at| sym(Base::Param("P"), at);
            let equation = |lhs: F, rhs: F| format!("{} = {}", print(&lhs, notation), print(&rhs, notation));
            // PyTorch's v ← β v + g and P ← P − α v.
            let velocity = add(scale(set(&BETA), v(At::KMinus1)), sym(Base::Gradient, At::K));
            let update = sub(p(At::KMinus1), scale(set(&LR), v(At::K)));
            Some(vec![
                Piece::Words("PyTorch writes "),
                Piece::Formula(equation(v(At::K), velocity)),
                Piece::Words(" and "),
                Piece::Formula(equation(p(At::K), update)),
                Piece::Words(": the same parameters, its velocity being this one divided by "),
                Piece::Formula(print(&F::Neg(Box::new(set(&LR))), notation)),
                Piece::Words("."),
            ])
        }
        Optimizer::Sgd | Optimizer::RmsProp { .. } | Optimizer::Adam { .. } => None,
    }
}

/// A sentence of pieces as plain text.
pub fn sentence(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Words(w) => w.to_string(),
            Piece::Formula(f) => f.clone(),
        })
        .collect()
}

/// The settings as `α = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸`.
pub fn settings(train: &Training, notation: Notation) -> Vec<String> {
    let mut out = vec![format!("{} = {}", setting_symbol(&LR, notation), setting_value(&train.lr, notation))];
    for (setting, value) in train.optimizer.settings() {
        out.push(format!("{} = {}", setting_symbol(setting, notation), setting_value(value, notation)));
    }
    out
}

/// The symbol of a setting (`beta1` is β₁, `\\beta_1`), as its table gives it.
pub fn setting_symbol(setting: &Setting, notation: Notation) -> &'static str {
    match notation {
        Notation::Latex => setting.symbol.latex,
        Notation::Text | Notation::Nn => setting.symbol.text,
    }
}

/// A setting's value: a short decimal as written (`0.999`), a small power
/// of ten in scientific form (`10⁻⁸`, `5·10⁻⁸`), anything else exactly.
pub fn setting_value(value: &BigRational, notation: Notation) -> String {
    let short = constant(value, notation);
    if short.chars().count() <= 8 || value.is_zero() {
        return short;
    }
    // m · 10^e with a small whole m.
    let mut m = value.clone();
    let mut e: i32 = 0;
    let ten = BigRational::from_integer(10.into());
    while !m.is_integer() && e > -400 {
        m *= &ten;
        e -= 1;
    }
    if !m.is_integer() || m.numer().to_string().len() > 3 {
        return short;
    }
    let mantissa = m.numer().to_string();
    match notation {
        Notation::Latex if m.is_one() => format!("10^{{{e}}}"),
        Notation::Latex => format!("{mantissa} \\cdot 10^{{{e}}}"),
        _ => {
            let power = format!("10{}", superscript(&e.to_string()));
            if m.is_one() {
                power
            } else {
                format!("{mantissa}·{power}")
            }
        }
    }
}

/// `-8` as `⁻⁸`, `k-1` as `ᵏ⁻¹`.
fn superscript(s: &str) -> String {
    s.chars().map(|c| if c == 'k' { 'ᵏ' } else { crate::layout::superscript_char(c).unwrap_or(c) }).collect()
}

/// Binding strength of a printed formula: a sum, a product, or an atom.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Sum,
    Product,
    Atom,
}

fn print(f: &F, notation: Notation) -> String {
    write(f, notation).0
}

/// `f` in `notation`, with how tightly it binds. The rules are a handful of
/// lines, so this recursion is as deep as the rule, never the input.
fn write(f: &F, notation: Notation) -> (String, Prec) {
    let latex = notation == Notation::Latex;
    let wrap = |f: &F, min: Prec| {
        let (s, p) = write(f, notation);
        match (p < min, latex) {
            (false, _) => s,
            (true, true) => format!("\\left({s}\\right)"),
            (true, false) => format!("({s})"),
        }
    };
    match f {
        F::Symbol(base, at) => {
            let step = match (at, latex) {
                (At::K, false) => "⁽ᵏ⁾".to_string(),
                (At::KMinus1, false) => "⁽ᵏ⁻¹⁾".to_string(),
                (At::Step(n), false) => format!("⁽{}⁾", superscript(&n.to_string())),
                (At::K, true) => "^{(k)}".to_string(),
                (At::KMinus1, true) => "^{(k-1)}".to_string(),
                (At::Step(n), true) => format!("^{{({n})}}"),
            };
            (format!("{}{step}", base_name(base, latex)), Prec::Atom)
        }
        F::Unstepped(base) => (base_name(base, latex), Prec::Atom),
        F::Setting(name) => (setting_symbol(name, notation).to_string(), Prec::Atom),
        F::One => ("1".to_string(), Prec::Atom),
        F::Add(a, b) => (format!("{} + {}", wrap(a, Prec::Sum), wrap(b, Prec::Sum)), Prec::Sum),
        F::Neg(a) => {
            let minus = if latex { "-" } else { "−" };
            (format!("{minus}{}", wrap(a, Prec::Product)), Prec::Sum)
        }
        F::Sub(a, b) => {
            let minus = if latex { "-" } else { "−" };
            (format!("{} {minus} {}", wrap(a, Prec::Sum), wrap(b, Prec::Product)), Prec::Sum)
        }
        F::Scale(a, b) => (format!("{} {}", wrap(a, Prec::Atom), wrap(b, Prec::Product)), Prec::Product),
        F::Hadamard(a, b) => {
            let op = if latex { "\\odot" } else { "⊙" };
            (format!("{} {op} {}", wrap(a, Prec::Product), wrap(b, Prec::Atom)), Prec::Product)
        }
        F::Quotient { num, den, entrywise } => {
            if latex {
                let (n, _) = write(num, notation);
                let (d, _) = write(den, notation);
                (format!("\\frac{{{n}}}{{{d}}}"), Prec::Atom)
            } else {
                let op = if *entrywise { "⊘" } else { "/" };
                (format!("{} {op} {}", wrap(num, Prec::Product), wrap(den, Prec::Atom)), Prec::Product)
            }
        }
        F::Sqrt(x) => {
            if latex {
                (format!("\\sqrt{{{}}}", write(x, notation).0), Prec::Atom)
            } else {
                (format!("√{}", wrap(x, Prec::Atom)), Prec::Atom)
            }
        }
        F::PowerK(name, 0) => match latex {
            true => (format!("{}^{{k}}", setting_symbol(name, notation)), Prec::Atom),
            false => (format!("{}ᵏ", setting_symbol(name, notation)), Prec::Atom),
        },
        F::PowerK(name, taken) => match latex {
            true => (format!("{}^{{{taken}+k}}", setting_symbol(name, notation)), Prec::Atom),
            false => (format!("{}{}⁺ᵏ", setting_symbol(name, notation), superscript(&taken.to_string())), Prec::Atom),
        },
        F::Gradient(loss, p) => {
            let before = print(&sym(Base::Param(p), At::KMinus1), notation);
            match latex {
                true => {
                    (format!("\\left.\\frac{{\\partial {loss}}}{{\\partial {p}}}\\right|_{{{before}}}"), Prec::Atom)
                }
                false => (format!("∂{loss}/∂{p} at {before}"), Prec::Atom),
            }
        }
    }
}

/// The letter of a symbol of the rule, in LaTeX or in Unicode text.
fn base_name(base: &Base, latex: bool) -> String {
    match base {
        Base::Gradient => "g".to_string(),
        Base::Param(p) => p.to_string(),
        Base::Quantity(q) => match (q, latex) {
            (Quantity::FirstMomentCorrected, false) => "m\u{302}".to_string(),
            (Quantity::SecondMomentCorrected, false) => "v\u{302}".to_string(),
            (Quantity::FirstMomentCorrected, true) => "\\hat{m}".to_string(),
            (Quantity::SecondMomentCorrected, true) => "\\hat{v}".to_string(),
            // The course's formulas write the cache s.
            (Quantity::SquareMean, _) => "s".to_string(),
            (Quantity::Velocity | Quantity::FirstMoment | Quantity::SecondMoment, _) => q.key().to_string(),
        },
    }
}

/// Which steps a listing shows: every step of a short run; the first
/// [`FIRST_STEPS`] and last [`LAST_STEPS`] of a long one, `None` marking the
/// gap.
pub fn shown_steps(steps: u32) -> Vec<Option<u32>> {
    if steps <= ALL_STEPS {
        return (1..=steps).map(Some).collect();
    }
    let mut out: Vec<Option<u32>> = (1..=FIRST_STEPS).map(Some).collect();
    out.push(None);
    out.extend((steps - LAST_STEPS + 1..=steps).map(Some));
    out
}

/// The rows of a loss table: every k for a short run, else the first and
/// last [`LOSS_ROWS_EACH_END`] with `None` for the gap.
pub fn shown_losses(count: usize) -> Vec<Option<usize>> {
    if count <= LOSS_ROWS {
        return (0..count).map(Some).collect();
    }
    let mut out: Vec<Option<usize>> = (0..LOSS_ROWS_EACH_END).map(Some).collect();
    out.push(None);
    out.extend((count - LOSS_ROWS_EACH_END..count).map(Some));
    out
}

/// The losses as a sparkline, `▇▅▃▂▁`, from the lowest (▁) to the highest
/// (█) value; at most [`SPARKLINE_WIDTH`] characters, sampled evenly
/// (first and last included) for longer runs.
pub fn sparkline(losses: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let picks = crate::eval::sampled_entries(losses.len(), Some(SPARKLINE_WIDTH));
    let values: Vec<f64> = picks.iter().map(|&i| losses[i]).collect();
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    values
        .iter()
        .map(|&x| {
            if hi.is_nan() || lo.is_nan() || hi <= lo {
                return BARS[3];
            }
            let level = ((x - lo) / (hi - lo) * 7.0).round() as usize;
            BARS[level.min(7)]
        })
        .collect()
}

/// Whether a run is shown step by step (values of the optimizer's
/// quantities and the parameters after each step), rather than as the
/// parameters at the end: when the history was kept, unless the run is one
/// step of plain SGD, whose step is the gradient and update already shown.
pub fn step_by_step(train: &Training) -> bool {
    !train.history.is_empty() && !one_sgd_step(train)
}

/// Whether the run is one step of plain SGD: its step is the gradient
/// already shown, so the update is written in one line, with no rule,
/// table or history.
pub fn one_sgd_step(train: &Training) -> bool {
    matches!(train.optimizer, Optimizer::Sgd) && train.steps == 1
}

/// The loss by step as f64, for plots and sparklines.
pub fn loss_values(train: &Training) -> Vec<f64> {
    train.losses.iter().map(|l| l.entry_f64(0)).collect()
}

/// Whether the loss is worth a plot: three points or more.
pub fn plotted(train: &Training) -> bool {
    // A loss left open (an expression in unknowns) has no point to plot.
    train.losses.len() >= 3 && train.losses.iter().all(|l| !l.is_symbolic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    fn adam() -> Optimizer {
        Optimizer::Adam { beta1: q(9, 10), beta2: q(999, 1000), eps: q(1, 100_000_000) }
    }

    #[test]
    fn adam_rule_in_text() {
        let lines: Vec<String> =
            rule(&adam(), "P", "L", Notation::Text).iter().map(|l| format!("{} = {}", l.lhs, l.rhs)).collect();
        assert_eq!(
            lines,
            [
                "g⁽ᵏ⁾ = ∂L/∂P at P⁽ᵏ⁻¹⁾",
                "m⁽ᵏ⁾ = β₁ m⁽ᵏ⁻¹⁾ + (1 − β₁) g⁽ᵏ⁾",
                "v⁽ᵏ⁾ = β₂ v⁽ᵏ⁻¹⁾ + (1 − β₂) g⁽ᵏ⁾ ⊙ g⁽ᵏ⁾",
                "m\u{302}⁽ᵏ⁾ = m⁽ᵏ⁾ / (1 − β₁ᵏ)",
                "v\u{302}⁽ᵏ⁾ = v⁽ᵏ⁾ / (1 − β₂ᵏ)",
                "P⁽ᵏ⁾ = P⁽ᵏ⁻¹⁾ − α m\u{302}⁽ᵏ⁾ ⊘ (√v\u{302}⁽ᵏ⁾ + ε)",
            ]
        );
    }

    #[test]
    fn adam_rule_in_latex() {
        let lines: Vec<String> =
            rule(&adam(), "P", "L", Notation::Latex).iter().map(|l| format!("{} = {}", l.lhs, l.rhs)).collect();
        assert_eq!(lines[0], "g^{(k)} = \\left.\\frac{\\partial L}{\\partial P}\\right|_{P^{(k-1)}}");
        assert_eq!(lines[3], "\\hat{m}^{(k)} = \\frac{m^{(k)}}{1 - \\beta_1^{k}}");
        assert_eq!(
            lines[5],
            "P^{(k)} = P^{(k-1)} - \\alpha \\frac{\\hat{m}^{(k)}}{\\sqrt{\\hat{v}^{(k)}} + \\epsilon}"
        );
    }

    #[test]
    fn momentum_and_rmsprop_rules() {
        let text = |o: &Optimizer| -> Vec<String> {
            rule(o, "θ", "E", Notation::Text).iter().skip(1).map(|l| format!("{} = {}", l.lhs, l.rhs)).collect()
        };
        assert_eq!(text(&Optimizer::Momentum { beta: q(9, 10) }), ["v⁽ᵏ⁾ = β v⁽ᵏ⁻¹⁾ − α g⁽ᵏ⁾", "θ⁽ᵏ⁾ = θ⁽ᵏ⁻¹⁾ + v⁽ᵏ⁾"]);
        assert_eq!(
            text(&Optimizer::RmsProp { rho: q(99, 100), eps: q(1, 100_000_000) }),
            ["s⁽ᵏ⁾ = ρ s⁽ᵏ⁻¹⁾ + (1 − ρ) g⁽ᵏ⁾ ⊙ g⁽ᵏ⁾", "θ⁽ᵏ⁾ = θ⁽ᵏ⁻¹⁾ − α g⁽ᵏ⁾ ⊘ (√s⁽ᵏ⁾ + ε)"]
        );
        assert_eq!(text(&Optimizer::Sgd), ["θ⁽ᵏ⁾ = θ⁽ᵏ⁻¹⁾ − α g⁽ᵏ⁾"]);
        let train = |optimizer, state, taken| model::Train {
            optimizer,
            lr: BigRational::one(),
            steps: 1,
            state,
            taken,
            span: Default::default(),
        };
        let name = |t: TensorId| ["W1", "W2", "m1", "m2"][t.0 as usize].to_string();
        let init = |t: &model::Train| initial_state(t, &name, Notation::Text);
        assert_eq!(init(&train(adam(), vec![], 0)).as_deref(), Some("m⁽⁰⁾ = v⁽⁰⁾ = 0"));
        assert_eq!(init(&train(Optimizer::Sgd, vec![], 0)), None);
        let m = |param, tensor| InitialState {
            param: TensorId(param),
            quantity: Quantity::FirstMoment,
            tensor: TensorId(tensor),
        };
        assert_eq!(init(&train(adam(), vec![m(0, 2)], 5)).as_deref(), Some("m⁽⁰⁾ = m1, v⁽⁰⁾ = 0"));
        assert_eq!(
            init(&train(adam(), vec![m(0, 2), m(1, 3)], 0)).as_deref(),
            Some("m⁽⁰⁾ = m1 for W1 and m2 for W2, v⁽⁰⁾ = 0")
        );
        let after = rule_after(&adam(), 5, "P", "L", Notation::Text);
        assert_eq!(after[3].rhs, "m⁽ᵏ⁾ / (1 − β₁⁵⁺ᵏ)");
        let after = rule_after(&adam(), 5, "P", "L", Notation::Latex);
        assert!(after[4].rhs.contains("\\beta_2^{5+k}"), "{}", after[4].rhs);
    }

    #[test]
    fn settings_print_as_textbooks_write_them() {
        assert_eq!(setting_value(&q(1, 100_000_000), Notation::Text), "10⁻⁸");
        assert_eq!(setting_value(&q(1, 100_000_000), Notation::Latex), "10^{-8}");
        assert_eq!(setting_value(&q(5, 100_000_000), Notation::Text), "5·10⁻⁸");
        assert_eq!(setting_value(&q(999, 1000), Notation::Text), "0.999");
        assert_eq!(setting_value(&q(1, 3), Notation::Text), "1/3");
    }

    #[test]
    fn long_runs_are_elided() {
        assert_eq!(shown_steps(3), [Some(1), Some(2), Some(3)]);
        assert_eq!(shown_steps(100), [Some(1), Some(2), Some(3), None, Some(99), Some(100)]);
        assert_eq!(shown_losses(4), [Some(0), Some(1), Some(2), Some(3)]);
        let long = shown_losses(201);
        assert_eq!(long.len(), 11);
        assert_eq!((long[0], long[5], long[10]), (Some(0), None, Some(200)));
    }

    #[test]
    fn sparkline_spans_the_range() {
        assert_eq!(sparkline(&[4.0, 3.0, 2.0, 1.0]), "█▆▃▁");
        assert_eq!(sparkline(&[1.0, 1.0]), "▄▄");
        assert_eq!(sparkline(&vec![1.0; 10_001]).chars().count(), SPARKLINE_WIDTH);
    }
}
