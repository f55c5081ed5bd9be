//! Named rewrites that turn a correct but raw gradient into textbook form.
//! Each is applied to a whole formula and, where it changes it, shows as one
//! derivation step. The constructors of `Graph` already keep every formula
//! canonical; these rules go further using facts about specific operations.

use num_traits::One;

use crate::model::sentence::{m, w, Sentence};
use crate::model::{Axis, Graph, Node, NodeId, Reduction, TensorId};

/// A rewrite rule over whole formulas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rewrite {
    /// a ⊙ (b ⊘ a) = b (entries of a are nonzero wherever it divides).
    Cancel,
    /// (y ⊘ o − (1 − y) ⊘ (1 − o)) ⊙ o ⊙ (1 − o) = y − o (and its negative):
    /// the logistic derivative cancels the binary cross-entropy's denominators.
    Logistic,
    /// Σy = 1 for a target y that is a probability vector; for a batch's
    /// targets, 1ᵀY = 1ᵀ (each column one) or Y 1 = 1 (each row one).
    TargetSumsToOne,
    /// A one-hot target's entries along its classes sum to 1 (each column or
    /// row of onehot(c), or one label's vector).
    OneHotSums,
    /// Multiply out an entrywise formula, cancel what its denominators share
    /// with its factors, and collect like terms (see `polynomial`), when the
    /// result is smaller: a hand-written bce after a sigmoid gives `0.5 (o − y)`.
    ClearDenominators,
}

impl Rewrite {
    /// The rule as derivation steps name it, its formula in both notations.
    pub fn statement(self) -> Sentence {
        match self {
            Rewrite::Cancel => const { &[w("cancel: "), m("a ⊙ (b ⊘ a) = b", r"a \odot (b \oslash a) = b")] },
            Rewrite::Logistic => {
                const {
                    &[
                        w("cancel: "),
                        m(
                            "(y ⊘ o − (1 − y) ⊘ (1 − o)) ⊙ o ⊙ (1 − o) = y − o",
                            r"\bigl(y \oslash o - (1 - y) \oslash (1 - o)\bigr) \odot o \odot (1 - o) = y - o",
                        ),
                    ]
                }
            }
            Rewrite::TargetSumsToOne => const { &[m("Σy = 1", r"\textstyle\sum y = 1")] },
            Rewrite::ClearDenominators => const { &[w("clear denominators, collect terms")] },
            Rewrite::OneHotSums => {
                const { &[m("onehot(c)", r"\operatorname{onehot}(c)"), w(" sums to 1 over the classes")] }
            }
        }
    }
}

/// What in a formula the rules could rewrite. Each rule changes only nodes
/// of its own kind (a product with a quotient, a one-hot sum, the sum of a
/// target), so a formula without any is left as it is, and its pass over the
/// formula can be skipped: a gradient that sums a term from each of
/// thousands of equations is then walked once, not once per rule.
#[derive(Debug, Default)]
pub struct Candidates {
    /// Some node is a quotient (`Cancel`, `Logistic` and `ClearDenominators`
    /// all need one).
    quotients: bool,
    /// Some node is a one-hot target (`OneHotSums`).
    one_hots: bool,
    /// The tensors summed whole or along an axis (`TargetSumsToOne`).
    summed: Vec<(TensorId, Option<Axis>)>,
}

impl Candidates {
    /// Scans `root` once.
    pub fn of(g: &Graph, root: NodeId) -> Candidates {
        let mut found = Candidates::default();
        for n in g.nodes_under(&[root]) {
            match g.node(n) {
                Node::Div(..) => found.quotients = true,
                Node::OneHot(..) => found.one_hots = true,
                _ => {}
            }
            if let Some(sum) = summed_tensor(g, n) {
                if !found.summed.contains(&sum) {
                    found.summed.push(sum);
                }
            }
        }
        found
    }

    /// Could `apply(g, root, rule, targets)` change the formula scanned? When
    /// not, it would return `root` without adding a node to the graph.
    pub fn may_change(&self, rule: Rewrite, targets: &[(TensorId, Option<Axis>)]) -> bool {
        match rule {
            Rewrite::Cancel | Rewrite::Logistic | Rewrite::ClearDenominators => self.quotients,
            Rewrite::OneHotSums => self.one_hots,
            Rewrite::TargetSumsToOne => self.summed.iter().any(|s| targets.contains(s)),
        }
    }
}

/// Applies `rule` everywhere in `root`; `targets` lists the targets whose
/// entries may be taken to sum to one: all of them (axis `None`), or along
/// an axis, in each column or row.
pub fn apply(g: &mut Graph, root: NodeId, rule: Rewrite, targets: &[(TensorId, Option<Axis>)]) -> NodeId {
    if rule == Rewrite::ClearDenominators {
        return super::polynomial::clear_denominators(g, root).unwrap_or(root);
    }
    g.rewrite(root, &mut |g, n| match rule {
        // A rule about the whole formula, not about each node.
        Rewrite::ClearDenominators => None,
        Rewrite::Cancel => cancel(g, n),
        Rewrite::Logistic => logistic(g, n),
        Rewrite::OneHotSums => match *g.node(n) {
            Node::SumAxis(a, axis) if matches!(*g.node(a), Node::OneHot(_, _, classes) if classes == axis) => {
                Some(g.int(1))
            }
            Node::Reduce(Reduction::Sum, a)
                if matches!(*g.node(a), Node::OneHot(labels, ..) if g.shape(labels).is_scalar()) =>
            {
                Some(g.int(1))
            }
            _ => None,
        },
        Rewrite::TargetSumsToOne => match summed_tensor(g, n) {
            Some(sum) if targets.contains(&sum) => Some(g.int(1)),
            _ => None,
        },
    })
}

fn cancel(g: &mut Graph, n: NodeId) -> Option<NodeId> {
    let Node::Mul(a, b) = *g.node(n) else { return None };
    let quotient_over = |g: &Graph, q: NodeId, d: NodeId| match *g.node(q) {
        Node::Div(num, den) if den == d && g.shape(num) == g.shape(n) => Some(num),
        _ => None,
    };
    quotient_over(g, b, a).or_else(|| quotient_over(g, a, b))
}

fn logistic(g: &mut Graph, n: NodeId) -> Option<NodeId> {
    let Node::Mul(a, b) = *g.node(n) else { return None };
    // Matches either orientation of the difference; `flipped` is true for
    // (1 − y) ⊘ (1 − o) − y ⊘ o, whose product is o − y.
    let matches = |g: &Graph, diff: NodeId, prod: NodeId| -> Option<(NodeId, NodeId, bool)> {
        let Node::Sub(first, second) = *g.node(diff) else {
            return None;
        };
        let is_one_minus = |x: NodeId, of: NodeId| matches!(*g.node(x), Node::Sub(c, v) if v == of && g.as_const(c).is_some_and(|c| c.is_one()));
        let pair = |q1: NodeId, q2: NodeId| -> Option<(NodeId, NodeId)> {
            let Node::Div(y, o) = *g.node(q1) else { return None };
            let Node::Div(one_y, one_o) = *g.node(q2) else {
                return None;
            };
            (is_one_minus(one_y, y) && is_one_minus(one_o, o)).then_some((y, o))
        };
        let (y, o, flipped) = match pair(first, second) {
            Some((y, o)) => (y, o, false),
            None => {
                let (y, o) = pair(second, first)?;
                (y, o, true)
            }
        };
        let Node::Mul(p1, p2) = *g.node(prod) else { return None };
        let one_o = |x: NodeId| is_one_minus(x, o);
        ((p1 == o && one_o(p2)) || (one_o(p1) && p2 == o)).then_some((y, o, flipped))
    };
    let (y, o, flipped) = matches(g, a, b).or_else(|| matches(g, b, a))?;
    Some(if flipped { g.sub(o, y) } else { g.sub(y, o) })
}

/// For `Σt` of a tensor t, `(t, None)`; for its sums along an axis (1ᵀt,
/// t 1), `(t, Some(axis))`.
pub fn summed_tensor(g: &Graph, n: NodeId) -> Option<(TensorId, Option<Axis>)> {
    let (inner, axis) = match *g.node(n) {
        Node::Reduce(Reduction::Sum, inner) => (inner, None),
        Node::SumAxis(inner, axis) => (inner, Some(axis)),
        _ => return None,
    };
    match *g.node(inner) {
        Node::Tensor(t) => Some((t, axis)),
        _ => None,
    }
}
