//! How each declared tensor's numbers are drawn: a [`Plan`] decided once
//! from the file (its `~` rule, or what its given value looks like), then
//! carried out for every variant.

use std::collections::{HashMap, HashSet};

use num_bigint::{BigInt, BigUint, Sign};
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::random::SplitMix64;
use crate::model::draw::places_of;
use crate::model::{Draw, LossFn, Model, Node, TensorId};
use crate::syntax::ast::{self, Decimal};

/// Which entries of a tensor form one vector: the whole tensor, each row,
/// or each column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Whole,
    Rows,
    Columns,
}

/// The signs the entries of a tensor drawn by magnitude take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signs {
    Positive,
    Negative,
    /// Each entry's sign drawn, as the file's value has both.
    Either,
}

/// How one declaration's numbers are drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// The file's value, unchanged (`~ fixed`).
    Keep,
    /// The default for a given value: each entry `± m · 10^−places` with m a
    /// whole number uniformly from `low` to `high` (the smallest and largest
    /// magnitude of the file's entries, in units of their last decimal place).
    Magnitudes { low: BigUint, high: BigUint, places: u32, signs: Signs },
    /// `~ uniform(low, high, step = s)`: `low + k · step`, k uniformly from 0
    /// to `count − 1`.
    Grid { low: BigRational, step: BigRational, count: BigUint, places: u32 },
    /// Each entry uniformly one of these (`~ choice(0, 1)`, or the default
    /// for a 0/1 mask).
    Choice(Vec<BigRational>),
    /// One-hot vectors, each with its class drawn uniformly.
    OneHot(Layout),
    /// Class labels, whole numbers from 0 to `classes − 1` (a target read
    /// as `onehot(c)`).
    Labels { classes: u64 },
    /// Probability vectors whose entries have `places` decimals and sum to 1,
    /// drawn uniformly among all such vectors.
    Simplex { places: u32, layout: Layout },
}

/// One declaration of the file and how its numbers are drawn.
#[derive(Clone, Debug)]
pub struct Declared {
    /// Its index among the file's items.
    pub item: usize,
    pub name: String,
    /// The dims of its literal: a sequence `x[t][2]` over 3 steps is `[3, 2]`.
    pub dims: Vec<usize>,
    pub plan: Plan,
    /// Its value in the file, row-major, if it has one.
    pub value: Option<Vec<BigRational>>,
}

/// Why no plan can be made for a declaration (see `vary::ErrorKind`).
#[derive(Clone, Debug, PartialEq)]
pub enum NoPlan {
    /// No value, no `~` rule, and nothing else says what it holds.
    Nothing,
}

/// What the model's formulas say about its tensors, found in one pass
/// over the graph: which are read as class labels (with how many
/// classes) and which are the targets of a cross-entropy.
#[derive(Clone, Debug, Default)]
pub struct Readings {
    labels: HashMap<TensorId, u64>,
    cross_entropy_targets: HashSet<TensorId>,
}

impl Readings {
    pub fn of(model: &Model) -> Readings {
        let g = &model.graph;
        let mut out = Readings::default();
        for n in (0..g.len() as u32).map(crate::model::NodeId) {
            match *g.node(n) {
                Node::OneHot(labels, classes, _) => {
                    if let Node::Tensor(t) = *g.node(labels) {
                        out.labels.insert(t, classes as u64);
                    }
                }
                Node::Loss(LossFn::CrossEntropy(_), y, _) => {
                    if let Node::Tensor(t) = *g.node(y) {
                        out.cross_entropy_targets.insert(t);
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// The plan for a declaration whose model tensors are `ids` (one per step
/// for a sequence), with literal dims `dims`.
pub fn plan(
    model: &Model,
    readings: &Readings,
    decl: &ast::TensorDecl,
    ids: &[TensorId],
    dims: &[usize],
    sequence: bool,
) -> Result<(Plan, Option<Vec<BigRational>>), NoPlan> {
    let first = ids.first().map(|&id| model.tensor(id));
    let decimals: Option<Vec<Decimal>> = ids
        .iter()
        .map(|&id| model.tensor(id).value.as_ref().map(|v| v.iter().collect::<Vec<_>>()))
        .collect::<Option<Vec<_>>>()
        .map(|v| v.concat());
    let value: Option<Vec<BigRational>> = decimals.as_ref().map(|d| d.iter().map(Decimal::to_rational).collect());
    let preferred = preferred_layout(model, dims, sequence);
    let plan = match first.and_then(|t| t.draw.as_ref()) {
        Some(Draw::Fixed) => Plan::Keep,
        Some(Draw::Uniform { low, high, step, places }) => {
            let count = ((high - low) / step).floor().to_integer() + BigInt::one();
            let count = count.to_biguint().unwrap_or_else(BigUint::one);
            Plan::Grid { low: low.clone(), step: step.clone(), count, places: *places }
        }
        Some(Draw::Choice(values)) => Plan::Choice(values.clone()),
        Some(Draw::OneHot) => Plan::OneHot(preferred),
        None => {
            if let Some(&classes) = ids.iter().find_map(|t| readings.labels.get(t)) {
                Plan::Labels { classes }
            } else {
                match (&decimals, &value) {
                    (Some(decimals), Some(value)) => default_plan(decl.role, decimals, value, dims, preferred),
                    _ if ids.iter().any(|t| readings.cross_entropy_targets.contains(t)) => Plan::OneHot(preferred),
                    _ => return Err(NoPlan::Nothing),
                }
            }
        }
    };
    Ok((plan, value))
}

/// What a given value looks like decides how it is drawn: a target keeps
/// its kind (one-hot stays one-hot, a probability vector stays one); a 0/1
/// mask stays 0/1; anything else keeps its decimal places, its signs and
/// the range of its magnitudes.
fn default_plan(
    role: ast::Role,
    decimals: &[Decimal],
    value: &[BigRational],
    dims: &[usize],
    preferred: Layout,
) -> Plan {
    let zero = BigRational::zero();
    let one = BigRational::one();
    let binary = value.iter().all(|v| *v == zero || *v == one);
    if role == ast::Role::Target && binary {
        if let Some(layout) = candidates(dims, preferred)
            .into_iter()
            .find(|&l| vectors(dims, l).iter().all(|v| v.iter().filter(|&&i| value[i] == one).count() == 1))
        {
            return Plan::OneHot(layout);
        }
    }
    if binary && value.contains(&zero) && value.contains(&one) {
        return Plan::Choice(vec![zero, one]);
    }
    let places = decimals.iter().map(decimal_places).max().unwrap_or(0);
    if role == ast::Role::Target && !binary && value.iter().all(|v| !v.is_negative()) {
        if let Some(layout) = candidates(dims, preferred)
            .into_iter()
            .find(|&l| vectors(dims, l).iter().all(|v| v.iter().map(|&i| &value[i]).sum::<BigRational>() == one))
        {
            return Plan::Simplex { places, layout };
        }
    }
    let scale = BigRational::from_integer(num_traits::pow(BigInt::from(10), places as usize));
    let units = |v: &BigRational| (v.abs() * &scale).to_integer().to_biguint().unwrap_or_default();
    let low = value.iter().map(units).min().unwrap_or_default();
    let high = value.iter().map(units).max().unwrap_or_default();
    let signs = match (value.iter().any(Signed::is_positive), value.iter().any(Signed::is_negative)) {
        (true, true) => Signs::Either,
        (false, true) => Signs::Negative,
        _ => Signs::Positive,
    };
    Plan::Magnitudes { low, high, places, signs }
}

/// The decimal places a number was written with (`0.50`: 2).
fn decimal_places(d: &Decimal) -> u32 {
    match d {
        Decimal::Small { exponent, .. } => (-(*exponent as i64)).clamp(0, 30) as u32,
        Decimal::Rational(r) => places_of(r),
    }
}

/// The layouts a value could be one-hot (or a probability) in, the most
/// likely first: a vector is one; a matrix is one per example.
fn candidates(dims: &[usize], preferred: Layout) -> Vec<Layout> {
    match dims {
        [_, 1] | [1, _] | [_] | [] => vec![Layout::Whole],
        [_, _] if preferred == Layout::Rows => vec![Layout::Rows, Layout::Columns],
        [_, _] => vec![Layout::Columns, Layout::Rows],
        _ => Vec::new(),
    }
}

/// How a matrix holds one vector per example: a sequence has one row per
/// step; a batch with its examples as rows (`X[N, 4]`) has one per row;
/// otherwise (`Y[2, N]`, the `[n]`-is-a-column convention) one per column.
fn preferred_layout(model: &Model, dims: &[usize], sequence: bool) -> Layout {
    match dims {
        [_, 1] | [1, _] | [_] | [] => Layout::Whole,
        _ if sequence => Layout::Rows,
        _ if model.batch.is_some_and(|b| b.examples.index() == 0) => Layout::Rows,
        _ => Layout::Columns,
    }
}

/// The flat indices of each vector of a tensor of `dims` in `layout`.
fn vectors(dims: &[usize], layout: Layout) -> Vec<Vec<usize>> {
    let n: usize = dims.iter().product();
    match (layout, dims) {
        (Layout::Rows, [rows, cols]) => (0..*rows).map(|r| (r * cols..(r + 1) * cols).collect()).collect(),
        (Layout::Columns, [rows, cols]) => (0..*cols).map(|c| (0..*rows).map(|r| r * cols + c).collect()).collect(),
        _ => vec![(0..n).collect()],
    }
}

/// New values for one declaration, row-major, each with the decimal places
/// to write it with.
pub fn draw(d: &Declared, rng: &mut SplitMix64) -> Vec<(BigRational, u32)> {
    let n: usize = d.dims.iter().product();
    match &d.plan {
        Plan::Keep => d.value.iter().flatten().map(|v| (v.clone(), places_of(v))).collect(),
        Plan::Magnitudes { low, high, places, signs } => {
            let span = high - low + 1u32;
            let scale = BigRational::from_integer(num_traits::pow(BigInt::from(10), *places as usize));
            (0..n)
                .map(|_| {
                    let m = low + rng.below_big(&span);
                    let negative = match signs {
                        Signs::Positive => false,
                        Signs::Negative => true,
                        Signs::Either => rng.below(2) == 1,
                    };
                    let sign = if negative { Sign::Minus } else { Sign::Plus };
                    (BigRational::from_integer(BigInt::from_biguint(sign, m)) / &scale, *places)
                })
                .collect()
        }
        Plan::Grid { low, step, count, places } => (0..n)
            .map(|_| {
                let k = BigInt::from(rng.below_big(count));
                (low + step * BigRational::from_integer(k), *places)
            })
            .collect(),
        Plan::Choice(values) => (0..n)
            .map(|_| {
                let v = &values[rng.below(values.len() as u64) as usize];
                (v.clone(), places_of(v))
            })
            .collect(),
        Plan::Labels { classes } => {
            (0..n).map(|_| (BigRational::from_integer(rng.below(*classes).into()), 0)).collect()
        }
        Plan::OneHot(layout) => {
            let mut out = vec![(BigRational::zero(), 0); n];
            for v in vectors(&d.dims, *layout) {
                if !v.is_empty() {
                    out[v[rng.below(v.len() as u64) as usize]].0 = BigRational::one();
                }
            }
            out
        }
        Plan::Simplex { places, layout } => {
            let mut out = vec![(BigRational::zero(), *places); n];
            let total = 10u64.checked_pow(*places).unwrap_or(u64::MAX);
            let scale = BigRational::from_integer(total.into());
            for v in vectors(&d.dims, *layout) {
                // Stick breaking on the grid: len − 1 cut points in 0..=total,
                // sorted; the entries are the gaps (every such vector equally likely
                // up to the order of equal cuts).
                let mut cuts: Vec<u64> = (1..v.len()).map(|_| rng.below(total.saturating_add(1))).collect();
                cuts.sort_unstable();
                let mut last = 0;
                for (k, &i) in v.iter().enumerate() {
                    let cut = cuts.get(k).copied().unwrap_or(total);
                    out[i].0 = BigRational::from_integer((cut - last).into()) / &scale;
                    last = cut;
                }
            }
            out
        }
    }
}

/// A drawn value as the file writes it: `-0.35`, `2`; trailing zeros dropped.
pub fn decimal(value: &BigRational, places: u32) -> Decimal {
    let places = places.max(places_of(value)).min(30);
    let scaled = value * BigRational::from_integer(num_traits::pow(BigInt::from(10), places as usize));
    let (mut mantissa, mut exponent) = match scaled.to_integer().to_i64() {
        Some(m) if scaled.is_integer() => (m, -(places as i32)),
        _ => return Decimal::Rational(Box::new(value.clone())),
    };
    while exponent < 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    if mantissa == 0 {
        exponent = 0;
    }
    Decimal::Small { mantissa, exponent }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    fn small(mantissa: i64, exponent: i32) -> Decimal {
        Decimal::Small { mantissa, exponent }
    }

    #[test]
    fn given_values_keep_their_kind() {
        let d = |v: &[(i64, i32)]| v.iter().map(|&(m, e)| small(m, e)).collect::<Vec<_>>();
        let values = |v: &[Decimal]| v.iter().map(Decimal::to_rational).collect::<Vec<_>>();
        let one_hot = d(&[(0, 0), (1, 0), (0, 0)]);
        assert_eq!(
            default_plan(ast::Role::Target, &one_hot, &values(&one_hot), &[3], Layout::Whole),
            Plan::OneHot(Layout::Whole)
        );
        // Columns one-hot in a [2, 3] batch of targets.
        let batch = d(&[(1, 0), (0, 0), (1, 0), (0, 0), (1, 0), (0, 0)]);
        assert_eq!(
            default_plan(ast::Role::Target, &batch, &values(&batch), &[2, 3], Layout::Columns),
            Plan::OneHot(Layout::Columns)
        );
        // The same numbers as an input are a 0/1 mask.
        assert_eq!(
            default_plan(ast::Role::Input, &batch, &values(&batch), &[2, 3], Layout::Columns),
            Plan::Choice(vec![r(0, 1), r(1, 1)])
        );
        let probabilities = d(&[(1, -2), (99, -2)]);
        assert_eq!(
            default_plan(ast::Role::Target, &probabilities, &values(&probabilities), &[2], Layout::Whole),
            Plan::Simplex { places: 2, layout: Layout::Whole }
        );
        let x = d(&[(1, 0), (-1, 0), (5, -1), (2, 0)]);
        assert_eq!(
            default_plan(ast::Role::Input, &x, &values(&x), &[4], Layout::Whole),
            Plan::Magnitudes { low: 5u32.into(), high: 20u32.into(), places: 1, signs: Signs::Either }
        );
        let zeros = d(&[(0, 0), (0, 0)]);
        assert_eq!(
            default_plan(ast::Role::Const, &zeros, &values(&zeros), &[2], Layout::Whole),
            Plan::Magnitudes { low: 0u32.into(), high: 0u32.into(), places: 0, signs: Signs::Positive }
        );
    }

    #[test]
    fn draws_stay_in_their_plan() {
        let mut rng = SplitMix64::new(3);
        let declared = |plan, dims: Vec<usize>| Declared { item: 0, name: "t".into(), dims, plan, value: None };
        let magnitudes = declared(
            Plan::Magnitudes { low: 5u32.into(), high: 20u32.into(), places: 1, signs: Signs::Either },
            vec![200],
        );
        let drawn = draw(&magnitudes, &mut rng);
        assert!(drawn
            .iter()
            .all(|(v, p)| *p == 1 && v.abs() >= r(1, 2) && v.abs() <= r(2, 1) && (v * r(10, 1)).is_integer()));
        assert!(drawn.iter().any(|(v, _)| v.is_negative()) && drawn.iter().any(|(v, _)| v.is_positive()));
        let grid = declared(Plan::Grid { low: r(-1, 2), step: r(1, 10), count: 11u32.into(), places: 1 }, vec![300]);
        let drawn = draw(&grid, &mut rng);
        for k in 0..11 {
            assert!(drawn.iter().any(|(v, _)| *v == r(-5 + k, 10)), "{k}");
        }
        assert!(drawn.iter().all(|(v, _)| v.abs() <= r(1, 2)));
        let onehot = declared(Plan::OneHot(Layout::Columns), vec![3, 4]);
        let drawn = draw(&onehot, &mut rng);
        for c in 0..4 {
            assert_eq!((0..3).map(|row| &drawn[row * 4 + c].0).sum::<BigRational>(), r(1, 1));
        }
        let simplex = declared(Plan::Simplex { places: 2, layout: Layout::Rows }, vec![5, 3]);
        let drawn = draw(&simplex, &mut rng);
        for row in 0..5 {
            let v: Vec<&BigRational> = (0..3).map(|c| &drawn[row * 3 + c].0).collect();
            assert_eq!(v.iter().copied().sum::<BigRational>(), r(1, 1));
            assert!(v.iter().all(|x| !x.is_negative() && (*x * r(100, 1)).is_integer()));
        }
        let labels = declared(Plan::Labels { classes: 3 }, vec![50]);
        assert!(draw(&labels, &mut rng).iter().all(|(v, _)| v.is_integer() && *v >= r(0, 1) && *v < r(3, 1)));
    }

    #[test]
    fn decimals_as_written() {
        assert_eq!(decimal(&r(-35, 100), 2), small(-35, -2));
        assert_eq!(decimal(&r(1, 2), 2), small(5, -1));
        assert_eq!(decimal(&r(2, 1), 1), small(2, 0));
        assert_eq!(decimal(&r(0, 1), 3), small(0, 0));
    }
}
