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
/// an axis, in each column or row; `complements` the nodes that clearing
/// denominators keeps whole (see `polynomial`).
pub fn apply(
    g: &mut Graph,
    root: NodeId,
    rule: Rewrite,
    targets: &[(TensorId, Option<Axis>)],
    complements: &[NodeId],
) -> NodeId {
    if rule == Rewrite::ClearDenominators {
        return super::polynomial::clear_denominators(g, root, complements).unwrap_or(root);
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

#[cfg(test)]
mod tests {
    //! The named rewrites, each on the gradient its layer pair produces,
    //! against the textbook result built by hand: the graph shares equal
    //! nodes, so equal formulas are the same node.
    use super::*;
    use crate::derive::adjoint::local_adjoints;
    use crate::model::{Elementwise, Func, Shape};

    /// Pre-activations z and a target y, both vectors of 3.
    fn z_and_y(g: &mut Graph) -> (NodeId, NodeId) {
        (g.tensor(TensorId(0), Shape::vector(3)), g.tensor(TensorId(1), Shape::vector(3)))
    }

    /// The gradient `seed` sent back through `node` to its operand.
    fn back(g: &mut Graph, node: NodeId, seed: NodeId) -> NodeId {
        let locals = local_adjoints(g, node, node, seed, &|_| true);
        assert_eq!(locals.len(), 1, "{locals:?}");
        locals[0].contribution
    }

    /// softmax then cross-entropy: the softmax rule on −y ⊘ ŷ cancels to
    /// ŷ Σy − y, and Σy = 1 leaves δ = ŷ − y.
    #[test]
    fn softmax_with_cross_entropy_is_yhat_minus_y() {
        let mut g = Graph::new();
        let (z, y) = z_and_y(&mut g);
        let s = g.softmax(z, Axis::DOWN);
        let q = g.div(y, s);
        let seed = g.neg(q);
        let raw = back(&mut g, s, seed);
        let cancelled = apply(&mut g, raw, Rewrite::Cancel, &[], &[]);
        let sum_y = g.reduce(Reduction::Sum, y);
        let scaled = g.mul(s, sum_y);
        assert_eq!(cancelled, g.sub(scaled, y));
        // Σy = 1 only for a target that is said to sum to one.
        assert_eq!(apply(&mut g, cancelled, Rewrite::TargetSumsToOne, &[(TensorId(2), None)], &[]), cancelled);
        let delta = apply(&mut g, cancelled, Rewrite::TargetSumsToOne, &[(TensorId(1), None)], &[]);
        assert_eq!(delta, g.sub(s, y));
    }

    /// log_softmax then the negative log-likelihood −Σ y ⊙ l: the rule
    /// ḡ − softmax(z) Σḡ on ḡ = −y is softmax(z) Σy − y, and Σy = 1 leaves
    /// softmax(z) − y, with nothing to cancel.
    #[test]
    fn log_softmax_with_its_likelihood_is_softmax_minus_y() {
        let mut g = Graph::new();
        let (z, y) = z_and_y(&mut g);
        let l = g.log_softmax(z, Axis::DOWN);
        let seed = g.neg(y);
        let raw = back(&mut g, l, seed);
        assert_eq!(apply(&mut g, raw, Rewrite::Cancel, &[], &[]), raw);
        let delta = apply(&mut g, raw, Rewrite::TargetSumsToOne, &[(TensorId(1), None)], &[]);
        let s = g.softmax(z, Axis::DOWN);
        assert_eq!(delta, g.sub(s, y));
    }

    /// sigmoid then binary cross-entropy: the bce gradient
    /// −(y ⊘ o − (1 − y) ⊘ (1 − o)) times σ′ = o ⊙ (1 − o) is o − y.
    #[test]
    fn sigmoid_with_bce_is_o_minus_y() {
        let mut g = Graph::new();
        let (z, y) = z_and_y(&mut g);
        let o = g.apply(Func::Builtin(Elementwise::Sigmoid), vec![z]);
        let one = g.int(1);
        let (one_y, one_o) = (g.sub(one, y), g.sub(one, o));
        let (yo, rest) = (g.div(y, o), g.div(one_y, one_o));
        let diff = g.sub(yo, rest);
        let seed = g.neg(diff);
        let raw = back(&mut g, o, seed);
        assert_eq!(apply(&mut g, raw, Rewrite::Logistic, &[], &[]), g.sub(o, y));
        // Without the minus (the gradient of +bce) it is y − o.
        let raw = back(&mut g, o, diff);
        assert_eq!(apply(&mut g, raw, Rewrite::Logistic, &[], &[]), g.sub(y, o));
    }

    /// onehot(c)'s entries along its classes sum to 1.
    #[test]
    fn one_hot_sums_are_one() {
        let mut g = Graph::new();
        let c = g.tensor(TensorId(0), Shape::scalar());
        let h = g.one_hot(c, 3, Axis::DOWN);
        let total = g.reduce(Reduction::Sum, h);
        assert_eq!(apply(&mut g, total, Rewrite::OneHotSums, &[], &[]), g.int(1));
    }
}
