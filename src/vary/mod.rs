//! `nnderive vary`: variants of a problem, each a complete `.nn` file with
//! the same structure and new numbers, reproducible from a seed, pairwise
//! distinct and well-posed (one clear answer at the asked precision).
//!
//! Built on every stage before it: the file's AST (rewritten with new
//! literals and printed by `fmt`), the model (what each tensor is), the
//! solution (the answers) and its margins (`eval::margins`), and the
//! rendered names of the quantities.
//!
//! How numbers are drawn is decided once per declaration ([`draw::Plan`]):
//! by its `~` rule, else from its given value (a target keeps its kind, a
//! 0/1 mask stays 0/1, other values keep their decimal places, signs and
//! range of magnitudes). Variant k draws from its own SplitMix64 stream
//! ([`random::SplitMix64::for_variant`]); a draw that is not distinct or
//! not well-posed is drawn again from the same stream, at most
//! [`MAX_ATTEMPTS`] times per variant.

pub mod draw;
pub mod random;

use std::collections::HashSet;

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, ToPrimitive};

use crate::diagnostic::Diagnostic;
use crate::eval::evaluate::Quantity;
use crate::eval::margins::{nearest_hazards, Hazard, Near};
use crate::eval::tensor::{Data, Tensor};
use crate::eval::Solution;
use crate::model::{Model, TensorId};
use crate::render::formula::{Names, Notation};
use crate::render::quantities::Quantities;
use crate::syntax::ast::{self, Decimal, Decimals, Item, Literal, Number, NumberList, TimeIndexKind};
use crate::syntax::Span;
use crate::Source;

use draw::{Declared, Plan};
use random::SplitMix64;

/// The most variants one run makes.
pub const MAX_COUNT: usize = 999;

/// The most draws for one variant before `vary` gives up on it.
pub const MAX_ATTEMPTS: usize = 1000;

/// The default margin around a kink, in units of the asked decimal place:
/// 100, so 0.01 at 4 decimals. A student who carries rounded values
/// (each off by at most half a unit) stays on the same side of every kink.
pub const MARGIN_UNITS: u32 = 100;

/// What to make.
#[derive(Clone, Debug)]
pub struct Options {
    /// How many variants, from 1 to [`MAX_COUNT`].
    pub count: usize,
    pub seed: u64,
    /// The decimal places the answers are asked to (4 by default).
    pub places: u32,
    /// How far every kink argument and max-pool gap must stay from its
    /// hazard; `None` for [`MARGIN_UNITS`] units of the asked place.
    pub margin: Option<BigRational>,
}

/// One variant: its file, and the model and solution of that file.
#[derive(Clone, Debug)]
pub struct Variant {
    /// From 1.
    pub number: usize,
    /// The `.nn` file, formatted.
    pub text: String,
    pub model: Model,
    pub solution: Solution,
}

/// Why a draw was drawn again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The same numbers as an earlier variant or as the file itself.
    Duplicate,
    /// A kink argument within the margin of its kink.
    Kink,
    /// A max-pool window whose two largest entries are within the margin.
    PoolTie,
    /// A probability that rounds to 0 or 1 at the asked precision.
    Saturated,
    /// An answer exactly half-way between two values at the asked precision.
    RoundingTie,
    /// The variant has no solution (a log of a negative number, say).
    DoesNotSolve,
}

impl Reason {
    /// What it is, in a few words (`2 near a kink`).
    pub fn words(self) -> &'static str {
        match self {
            Reason::Duplicate => "a duplicate",
            Reason::Kink => "near a kink",
            Reason::PoolTie => "a near tie in a max-pool",
            Reason::Saturated => "a probability rounding to 0 or 1",
            Reason::RoundingTie => "an answer half-way between two roundings",
            Reason::DoesNotSolve => "without a solution",
        }
    }
}

/// A draw that was refused, and why, in words.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
}

/// Every variant, and how many draws were refused on the way, per reason.
#[derive(Clone, Debug)]
pub struct Variants {
    pub variants: Vec<Variant>,
    pub redraws: Vec<(Reason, usize)>,
    pub places: u32,
    pub margin: BigRational,
}

impl Variants {
    /// What makes every variant well-posed, and what was drawn again, in
    /// words (two lines).
    pub fn summary(&self) -> String {
        let margin =
            crate::render::formula::terminating_decimal(&self.margin).unwrap_or_else(|| self.margin.to_string());
        let mut out = format!(
            "each has one clear answer at {} decimals: every kink argument and max-pool gap at least {margin} from its kink or tie, no probability that rounds to 0 or 1, no answer half-way between two roundings\n",
            self.places
        );
        let total = self.total_redraws();
        if total == 0 {
            out += "no draw was refused\n";
        } else {
            let parts: Vec<String> = self.redraws.iter().map(|(r, n)| format!("{n} {}", r.words())).collect();
            let draws = if total == 1 { "draw was" } else { "draws were" };
            out += &format!("{total} {draws} refused and drawn again: {}\n", parts.join(", "));
        }
        out
    }

    /// How many draws were refused in all.
    pub fn total_redraws(&self) -> usize {
        self.redraws.iter().map(|(_, n)| n).sum()
    }
}

/// Why `vary` could not make the variants.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// The file itself has an error.
    File(crate::Error),
    Vary {
        kind: ErrorKind,
        span: Option<Span>,
    },
}

/// What stopped `vary`. Each variant's doc gives an input that produces it.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorKind {
    /// `param W[2,2]` with neither a value nor a `~` rule: nothing says
    /// what numbers W holds.
    NothingToDraw { name: String, role: &'static str, dims: String },
    /// `param w = 0.5 ~ uniform(-0.001, 0.001)` with `loss L = relu(w)`:
    /// every draw comes within the margin of relu's kink.
    NotWellPosed { variant: usize, attempts: usize, last: Rejection },
    /// `param w = 1 ~ choice(1, 2)` and nothing else drawn, with 3 variants
    /// asked: only one differs from the file (w = 2). With every number
    /// `~ fixed`, the first variant already repeats the file: nothing varies.
    TooFewDistinct { variant: usize, attempts: usize },
}

impl Error {
    fn at(kind: ErrorKind, span: Option<Span>) -> Error {
        Error::Vary { kind, span }
    }

    /// The located message (the file's own errors render as usual).
    pub fn report(&self) -> crate::diagnostic::Report {
        match self {
            Error::File(e) => e.report(),
            Error::Vary { kind, span } => {
                crate::diagnostic::Report { diagnostics: vec![diagnostic(kind, *span)], left_out: false }
            }
        }
    }
}

fn diagnostic(kind: &ErrorKind, span: Option<Span>) -> Diagnostic {
    match kind {
        ErrorKind::NothingToDraw { name, role, dims } => {
            Diagnostic::new(format!("nothing says what numbers to draw for '{name}': it has no value and no rule"), span)
                .with_label("no value, no `~` rule")
                .with_help(format!(
                    "give it a value, or a rule to draw from, e.g. `{role} {name}{dims} ~ uniform(-0.5, 0.5, step = 0.1)`"
                ))
        }
        ErrorKind::NotWellPosed { variant, attempts, last } => Diagnostic::new(
            format!("no well-posed variant {variant} in {attempts} draws; the last was refused: {}", last.detail),
            span,
        )
        .with_help(
            "widen the ranges the numbers are drawn from, or declare them (`param W1[3,4] ~ uniform(-0.5, 0.5, step = 0.1)`); `--margin` sets how far from a kink an argument must stay",
        ),
        ErrorKind::TooFewDistinct { variant: 1, attempts } => Diagnostic::new(
            format!("every well-posed draw gave the file's own numbers, in {attempts} draws: nothing varies"),
            span,
        )
        .with_help("let some of the numbers vary: remove `~ fixed`, or give a range (`~ uniform(-1, 1)`)"),
        ErrorKind::TooFewDistinct { variant, attempts } => Diagnostic::new(
            format!(
                "only {} distinct {} found: every well-posed draw for variant {variant} repeated an earlier one, in {attempts} draws",
                variant - 1,
                if *variant == 2 { "variant" } else { "variants" }
            ),
            span,
        )
        .with_help("ask for fewer variants, or let more of the numbers vary (remove `~ fixed`, widen the ranges)"),
    }
}

/// Makes `options.count` variants of the file `source`.
pub fn vary(source: &Source, options: &Options) -> Result<Variants, Error> {
    let file = crate::parse(source).map_err(Error::File)?;
    let model = crate::model::check(&file).map_err(|e| Error::File(e.into()))?;
    let declared = plans(&model, &file)?;
    let unit = BigRational::new(BigInt::from(1), num_traits::pow(BigInt::from(10), options.places as usize));
    let margin = options.margin.clone().unwrap_or_else(|| &unit * BigRational::from_integer(MARGIN_UNITS.into()));
    let limits = Limits {
        margin: margin.to_f64().unwrap_or(0.0),
        half_unit: unit.to_f64().unwrap_or(0.0) / 2.0,
        places: options.places,
    };
    let mut seen: HashSet<Vec<String>> = HashSet::new();
    // The file's own numbers are not a new variant.
    if declared.iter().all(|d| d.value.is_some()) {
        seen.insert(declared.iter().flat_map(|d| d.value.iter().flatten().map(ToString::to_string)).collect());
    }
    let mut variants = Vec::with_capacity(options.count);
    let mut redraws: Vec<(Reason, usize)> = Vec::new();
    for number in 1..=options.count {
        let mut rng = SplitMix64::for_variant(options.seed, number as u64);
        let mut last: Option<Rejection> = None;
        let mut duplicates = 0;
        let mut accepted = None;
        for _ in 0..MAX_ATTEMPTS {
            let drawn: Vec<Vec<(BigRational, u32)>> = declared.iter().map(|d| draw::draw(d, &mut rng)).collect();
            let key: Vec<String> = drawn.iter().flatten().map(|(v, _)| v.to_string()).collect();
            let outcome = if seen.contains(&key) {
                Err(Rejection { reason: Reason::Duplicate, detail: "the same numbers as an earlier variant".into() })
            } else {
                attempt(source, &file, &declared, &drawn, &limits)
            };
            match outcome {
                Ok((text, model, solution)) => {
                    seen.insert(key);
                    accepted = Some(Variant { number, text, model, solution });
                    break;
                }
                Err(rejection) => {
                    duplicates += usize::from(rejection.reason == Reason::Duplicate);
                    match redraws.iter_mut().find(|(r, _)| *r == rejection.reason) {
                        Some((_, n)) => *n += 1,
                        None => redraws.push((rejection.reason, 1)),
                    }
                    last = Some(rejection);
                }
            }
        }
        match (accepted, last) {
            (Some(v), _) => variants.push(v),
            // Well-posed draws were found, but only earlier variants' numbers.
            (None, _) if duplicates > 0 => {
                return Err(Error::at(ErrorKind::TooFewDistinct { variant: number, attempts: MAX_ATTEMPTS }, None));
            }
            (None, last) => {
                let last = last.unwrap_or(Rejection { reason: Reason::DoesNotSolve, detail: String::new() });
                return Err(Error::at(ErrorKind::NotWellPosed { variant: number, attempts: MAX_ATTEMPTS, last }, None));
            }
        }
    }
    redraws.sort();
    Ok(Variants { variants, redraws, places: options.places, margin })
}

/// What a well-posed variant keeps clear of.
struct Limits {
    /// The least distance from a kink or a max-pool tie.
    margin: f64,
    /// Half a unit of the asked place: a probability below it rounds to 0.
    half_unit: f64,
    places: u32,
}

/// The plan of every declaration, in file order.
fn plans(model: &Model, file: &ast::File) -> Result<Vec<Declared>, Error> {
    let readings = draw::Readings::of(model);
    let mut out = Vec::new();
    for (item, it) in file.items.iter().enumerate() {
        let Item::Tensor(decl) = it else { continue };
        let name = &decl.name.name;
        let (ids, steps): (Vec<TensorId>, Option<usize>) = match (&decl.time, &model.time) {
            (Some(t), Some(timeline)) => match &t.kind {
                TimeIndexKind::Step(k) => {
                    (model.tensor_id(&crate::model::time::step_name(name, *k)).into_iter().collect(), None)
                }
                TimeIndexKind::Relative { .. } => (
                    (timeline.first..=timeline.last)
                        .filter_map(|k| model.tensor_id(&crate::model::time::step_name(name, k)))
                        .collect(),
                    Some(timeline.len() as usize),
                ),
            },
            _ => (model.tensor_id(name).into_iter().collect(), None),
        };
        let mut dims: Vec<usize> = decl.dims.iter().map(|d| d.size as usize).collect();
        if let Some(t) = steps {
            dims.insert(0, t);
        }
        let (plan, value) = draw::plan(model, &readings, decl, &ids, &dims, steps.is_some()).map_err(|_| {
            let dims = match decl.dims.len() {
                0 => String::new(),
                _ => format!("[{}]", decl.dims.iter().map(|d| d.size.to_string()).collect::<Vec<_>>().join(",")),
            };
            let kind = ErrorKind::NothingToDraw { name: name.clone(), role: decl.role.keyword(), dims };
            Error::at(kind, Some(decl.span))
        })?;
        out.push(Declared { item, name: name.clone(), dims, plan, value });
    }
    Ok(out)
}

/// The file with the drawn numbers, checked, solved and tested for being
/// well-posed.
fn attempt(
    source: &Source,
    file: &ast::File,
    declared: &[Declared],
    drawn: &[Vec<(BigRational, u32)>],
    limits: &Limits,
) -> Result<(String, Model, Solution), Rejection> {
    let mut file = file.clone();
    for (d, values) in declared.iter().zip(drawn) {
        let Item::Tensor(decl) = &mut file.items[d.item] else { continue };
        decl.draw = None;
        if d.plan != Plan::Keep {
            let span = decl.value.as_ref().map_or(decl.span, Literal::span);
            decl.value = Some(literal(values, &d.dims, span));
        }
    }
    let text = crate::syntax::format(&file);
    let does_not_solve = |e: crate::Error| Rejection {
        reason: Reason::DoesNotSolve,
        detail: crate::render::diagnostic::visible(&e.diagnostic().message),
    };
    let variant = Source::new(source.name.clone(), text.clone());
    let model = crate::load(&variant).map_err(does_not_solve)?;
    let solution = crate::solve(&model).map_err(does_not_solve)?;
    well_posed(&model, &solution, limits)?;
    Ok((text, model, solution))
}

/// `Ok` when the solution keeps clear of every hazard: kinks and max-pool
/// ties by the margin, probabilities away from rounding to 0 or 1, and
/// every answer away from the half-way point between two roundings.
fn well_posed(model: &Model, solution: &Solution, limits: &Limits) -> Result<(), Rejection> {
    let names = Names::new(model, Some(&solution.derivation));
    let near = nearest_hazards(model, solution)
        .map_err(|e| Rejection { reason: Reason::DoesNotSolve, detail: format!("{e:?}") })?;
    for Near { hazard, quantity, distance } in near {
        let within = |limit: f64| distance < limit;
        let at = quantity.map(|q| format!(" in {}", quantity_name(&names, solution, q))).unwrap_or_default();
        let rejection = match hazard {
            Hazard::Kink { function } if within(limits.margin) => Rejection {
                reason: Reason::Kink,
                detail: format!(
                    "an argument of {function}{at} is {distance} from its kink, closer than the margin {}",
                    limits.margin
                ),
            },
            Hazard::PoolTie if within(limits.margin) => Rejection {
                reason: Reason::PoolTie,
                detail: format!(
                    "the two largest entries of a max-pool window{at} are {distance} apart, closer than the margin {}",
                    limits.margin
                ),
            },
            Hazard::Saturated { function } if within(limits.half_unit) => Rejection {
                reason: Reason::Saturated,
                detail: format!("a {function} probability{at} rounds to 0 or 1 at {} decimals", limits.places),
            },
            _ => continue,
        };
        return Err(rejection);
    }
    let quantities = Quantities::new(model, solution);
    for (i, q) in quantities.list.iter().enumerate() {
        let Some(value) = quantities.value(i, solution) else { continue };
        if let Some(entry) = rounding_tie(value, limits.places) {
            return Err(Rejection {
                reason: Reason::RoundingTie,
                detail: format!(
                    "entry {} of {} is half-way between two values at {} decimals",
                    entry + 1,
                    q.label,
                    limits.places
                ),
            });
        }
    }
    Ok(())
}

/// The first entry exactly half-way between two values at `places`
/// decimals (decided exactly on exact values, to 1e−9 of a unit on f64 ones).
fn rounding_tie(t: &Tensor, places: u32) -> Option<usize> {
    match t.data() {
        Data::Exact(v) => {
            let twice = BigRational::from_integer(BigInt::from(2) * num_traits::pow(BigInt::from(10), places as usize));
            v.iter().position(|x| {
                let scaled = (x * &twice).abs();
                scaled.is_integer() && scaled.to_integer() % 2 == BigInt::from(1)
            })
        }
        _ => {
            let scale = 10f64.powi(places as i32);
            t.to_f64_vec().iter().position(|x| {
                let scaled = (x * scale).abs();
                scaled.is_finite() && ((scaled - scaled.floor()) - 0.5).abs() < 1e-9
            })
        }
    }
}

fn quantity_name(names: &Names, solution: &Solution, q: Quantity) -> String {
    let g = &solution.derivation.graph;
    match q {
        Quantity::Tensor(t) => names.tensor(t, Notation::Text),
        Quantity::Symbol(s) => names.symbol(s, Notation::Text, g),
        Quantity::Gradient(p) => names.gradient_of(crate::derive::Wrt::Tensor(p), Notation::Text, g),
        Quantity::LossAfterStep(k) => format!("the loss after step {k}"),
    }
}

/// A literal of `dims` holding `values` (row-major), as `fmt` lays it out:
/// one list level per dimension, built from the innermost rows out (a loop,
/// not a recursion as deep as the rank).
fn literal(values: &[(BigRational, u32)], dims: &[usize], span: Span) -> Literal {
    let number = |(v, places): &(BigRational, u32)| {
        let d = draw::decimal(v, *places);
        (written(&d, v), d)
    };
    if dims.is_empty() {
        let (text, _) =
            values.first().map(number).unwrap_or_else(|| ("0".into(), Decimal::Small { mantissa: 0, exponent: 0 }));
        let value = values.first().map(|(v, _)| v.clone()).unwrap_or_default();
        return Literal::Number(Number { text, value, span });
    }
    let (outer, last) = dims.split_at(dims.len() - 1);
    let width = last[0].max(1);
    let mut level: Vec<Literal> = values
        .chunks(width)
        .map(|row| {
            let mut texts = Vec::with_capacity(row.len());
            let mut decimals = Decimals::with_capacity(row.len());
            for (text, d) in row.iter().map(number) {
                texts.push(text);
                decimals.push(d);
            }
            let text = format!("[{}]", texts.join(", "));
            match NumberList::plain(span, text, decimals) {
                Some(list) => Literal::Numbers(list),
                None => Literal::List { items: Vec::new(), span },
            }
        })
        .collect();
    for &n in outer.iter().rev() {
        let n = n.max(1);
        let mut items = level.into_iter();
        let groups = items.len() / n;
        level = (0..groups).map(|_| Literal::List { items: items.by_ref().take(n).collect(), span }).collect();
    }
    level.pop().unwrap_or(Literal::List { items: Vec::new(), span })
}

/// A number as the file writes it: `-0.35`, `2`, or the digits of a long decimal.
fn written(d: &Decimal, value: &BigRational) -> String {
    match d {
        Decimal::Small { mantissa, exponent } => ast::decimal_text(*mantissa, *exponent),
        Decimal::Rational(_) => {
            // A terminating decimal with a mantissa past 64 bits: its digits.
            let places = crate::model::draw::places_of(value);
            let scaled = value * BigRational::from_integer(num_traits::pow(BigInt::from(10), places as usize));
            let digits = scaled.to_integer().abs().to_string();
            let sign = if value.is_negative() { "-" } else { "" };
            if places == 0 {
                return format!("{sign}{digits}");
            }
            let padded = format!("{digits:0>width$}", width = places as usize + 1);
            let (int, frac) = padded.split_at(padded.len() - places as usize);
            format!("{sign}{int}.{frac}")
        }
    }
}
