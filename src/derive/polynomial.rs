//! Elementwise formulas as Laurent polynomials, for the rewrite that clears
//! denominators: a hand-written binary cross-entropy after a sigmoid gives
//!
//! ```text
//! ((−0.5 y) ⊘ o − (0.5 (y − 1)) ⊘ (1 − o)) ⊙ o ⊙ (1 − o)  =  0.5 (o − y)
//! ```
//!
//! A formula built from `+ − ⊙ ⊘`, numbers and integer powers is a sum of
//! terms `c · a₁^e₁ ⋯ aₖ^eₖ` over *atoms*: everything else (names, function
//! calls, matrix products, sums Σ). Entrywise arithmetic commutes, so terms
//! that differ only in order collect. A denominator that is itself a sum
//! (`1 − o`) is first kept whole as an atom, so that it cancels against the
//! same factor elsewhere; what remains of it is then multiplied out. A
//! complement `1 − σ(u)` or `1 − tanh(u)²` (see `model::Complement`) stays
//! whole unless it is such a denominator: multiplied out, σ (1 − σ) would
//! read σ − σ², which f64 computes as 0 where σ rounds to 1.

use std::collections::BTreeMap;

use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use crate::model::{Graph, Node, NodeId};

/// A product of atoms with nonzero integer exponents, sorted by atom.
type Monomial = Vec<(NodeId, i32)>;

/// Σ coefficient · monomial.
#[derive(Clone, Debug)]
struct Poly(BTreeMap<Monomial, BigRational>);

/// More terms than this, and the rewrite gives up (a product of sums can
/// multiply out to exponentially many).
const MAX_TERMS: usize = 48;

impl Poly {
    fn constant(c: BigRational) -> Poly {
        let mut m = BTreeMap::new();
        if !c.is_zero() {
            m.insert(Vec::new(), c);
        }
        Poly(m)
    }

    fn atom(a: NodeId, exponent: i32) -> Poly {
        Poly(BTreeMap::from([(vec![(a, exponent)], BigRational::one())]))
    }

    fn add(&self, other: &Poly, sign: i64) -> Option<Poly> {
        let mut out = self.0.clone();
        for (m, c) in &other.0 {
            let entry = out.entry(m.clone()).or_insert_with(BigRational::zero);
            *entry += c * BigRational::from_integer(sign.into());
            if entry.is_zero() {
                out.remove(m);
            }
        }
        (out.len() <= MAX_TERMS).then_some(Poly(out))
    }

    fn mul(&self, other: &Poly) -> Option<Poly> {
        let mut out: BTreeMap<Monomial, BigRational> = BTreeMap::new();
        for (m1, c1) in &self.0 {
            for (m2, c2) in &other.0 {
                let m = multiply(m1, m2);
                let entry = out.entry(m.clone()).or_insert_with(BigRational::zero);
                *entry += c1 * c2;
                if entry.is_zero() {
                    out.remove(&m);
                }
                if out.len() > MAX_TERMS {
                    return None;
                }
            }
        }
        Some(Poly(out))
    }

    /// The inverse of a single term (`c a^e` → `(1/c) a^−e`).
    fn invert(&self) -> Option<Poly> {
        let [(m, c)] = self.0.iter().collect::<Vec<_>>()[..] else { return None };
        let m = m.iter().map(|&(a, e)| (a, -e)).collect();
        Some(Poly(BTreeMap::from([(m, c.recip())])))
    }

    fn pow(&self, e: i32) -> Option<Poly> {
        if e < 0 {
            return self.invert()?.pow(-e);
        }
        let mut out = Poly::constant(BigRational::one());
        for _ in 0..e {
            out = out.mul(self)?;
        }
        Some(out)
    }
}

fn multiply(a: &Monomial, b: &Monomial) -> Monomial {
    let mut out: BTreeMap<NodeId, i32> = a.iter().copied().collect();
    for &(atom, e) in b {
        *out.entry(atom).or_insert(0) += e;
    }
    out.into_iter().filter(|&(_, e)| e != 0).collect()
}

/// The formula at `root` with its denominators cleared and like terms
/// collected, when that makes it smaller; `None` otherwise. The nodes of
/// `complements` are kept whole.
pub fn clear_denominators(g: &mut Graph, root: NodeId, complements: &[NodeId]) -> Option<NodeId> {
    // Denominators that are sums stay whole at first, so that they cancel.
    let order = g.nodes_under(&[root]);
    let denominators: Vec<NodeId> = order
        .iter()
        .filter_map(|&n| match *g.node(n) {
            Node::Div(_, d) if matches!(g.node(d), Node::Add(..) | Node::Sub(..)) => Some(d),
            _ => None,
        })
        .collect();
    if denominators.is_empty() && !order.iter().any(|&n| matches!(g.node(n), Node::Div(..))) {
        return None;
    }
    let whole: Vec<NodeId> = denominators.iter().chain(complements).copied().collect();
    let cleared = to_poly(g, root, &whole)?;
    // What is left of a whole denominator with a positive power is multiplied out.
    let mut expanded = Poly::constant(BigRational::zero());
    for (m, c) in &cleared.0 {
        let mut term = Poly::constant(c.clone());
        for &(atom, e) in m {
            let factor = if e > 0 && denominators.contains(&atom) {
                to_poly(g, atom, &[])?.pow(e)?
            } else {
                Poly::atom(atom, e)
            };
            term = term.mul(&factor)?;
        }
        expanded = expanded.add(&term, 1)?;
    }
    let result = from_poly(g, &expanded);
    let smaller = super::size::tree_size(g, result) < super::size::tree_size(g, root);
    (smaller && g.shape(result) == g.shape(root)).then_some(result)
}

/// The polynomial of `root`, with `whole` (and every non-arithmetic node) as atoms.
fn to_poly(g: &Graph, root: NodeId, whole: &[NodeId]) -> Option<Poly> {
    let mut memo: BTreeMap<NodeId, Poly> = BTreeMap::new();
    let mut stack = vec![(root, false)];
    while let Some((n, expanded)) = stack.pop() {
        if memo.contains_key(&n) {
            continue;
        }
        let node = g.node(n);
        let arithmetic = matches!(
            node,
            Node::Const(_)
                | Node::Neg(_)
                | Node::Add(..)
                | Node::Sub(..)
                | Node::Mul(..)
                | Node::Div(..)
                | Node::Pow(..)
        );
        if !arithmetic || (whole.contains(&n) && n != root) {
            memo.insert(n, Poly::atom(n, 1));
            continue;
        }
        if !expanded {
            stack.push((n, true));
            stack.extend(node.children().into_iter().filter(|c| !memo.contains_key(c)).map(|c| (c, false)));
            continue;
        }
        let p = |c: &NodeId| memo.get(c).cloned();
        let value = match node {
            Node::Const(c) => Poly::constant(c.clone()),
            Node::Neg(a) => Poly::constant(BigRational::zero()).add(&p(a)?, -1)?,
            Node::Add(a, b) => p(a)?.add(&p(b)?, 1)?,
            Node::Sub(a, b) => p(a)?.add(&p(b)?, -1)?,
            Node::Mul(a, b) => p(a)?.mul(&p(b)?)?,
            Node::Div(a, b) => {
                let denominator = match p(b)?.invert() {
                    Some(inv) => inv,
                    None => Poly::atom(*b, -1),
                };
                p(a)?.mul(&denominator)?
            }
            Node::Pow(a, e) => {
                let e = e.is_integer().then(|| e.to_integer().to_i32()).flatten().filter(|e| e.abs() <= 8)?;
                match p(a)?.pow(e) {
                    Some(v) => v,
                    None => Poly::atom(*a, e),
                }
            }
            _ => return None,
        };
        memo.insert(n, value);
    }
    memo.remove(&root)
}

/// Builds the polynomial back into the graph: terms in the order of their
/// atoms (so, roughly, of the source), positive terms first.
fn from_poly(g: &mut Graph, p: &Poly) -> NodeId {
    let mut terms: Vec<(&Monomial, &BigRational)> = p.0.iter().collect();
    terms.sort_by_key(|(m, c)| (c.is_negative(), m.iter().map(|&(a, _)| a).collect::<Vec<_>>()));
    let mut total: Option<NodeId> = None;
    for (m, c) in terms {
        let mut numerator: Option<NodeId> = None;
        let mut denominator: Option<NodeId> = None;
        for &(atom, e) in m {
            let factor = if e.abs() == 1 { atom } else { g.pow(atom, BigRational::from_integer(e.abs().into())) };
            let side = if e > 0 { &mut numerator } else { &mut denominator };
            *side = Some(match *side {
                None => factor,
                Some(prev) => g.mul(prev, factor),
            });
        }
        let magnitude = g.constant(c.abs());
        let mut term = match numerator {
            Some(n) => g.mul(magnitude, n),
            None => magnitude,
        };
        if let Some(d) = denominator {
            term = g.div(term, d);
        }
        total = Some(match total {
            None if c.is_negative() => g.neg(term),
            None => term,
            Some(t) if c.is_negative() => g.sub(t, term),
            Some(t) => g.add(t, term),
        });
    }
    total.unwrap_or_else(|| g.int(0))
}
