//! One expression of the derivation as a NumPy expression.
//!
//! Every [`Node`] kind is mapped here, in one exhaustive match: an
//! operation added to the graph is a compile error here until it has its
//! NumPy form. Vectors are columns (`[n]` is an n×1 array), as in the
//! derivation, so `δ1 xᵀ` is `delta1 @ x.T` and a bias `[m]` broadcasts over
//! the columns of a batch `[m, N]` as NumPy broadcasts.
//!
//! The printer walks the graph without recursion (an explicit stack, each
//! node printed once), so a long formula cannot overflow the stack; a sum
//! of many terms is written as one call to `sum([...])`, which Python
//! compiles without the recursion a long `a + b + …` chain costs its
//! compiler.

use num_rational::BigRational;
use num_traits::Signed;

use crate::model::ops::map::{self, AnyMapNode};
use crate::model::SymbolId;
use crate::model::{Axis, Elementwise, Func, Graph, LossFn, Model, Node, NodeId, NodeMap, Reduction, TensorId};

use super::names::PyNames;

/// How tightly a Python expression binds, loosest first (Python's own order:
/// `+ -`, then `* / @`, then unary `-`, then `**`, then `.T`, calls, names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Sum,
    Product,
    Unary,
    Power,
    Atom,
}

/// A sum with more terms than this is written `sum([…])`.
const LONG_SUM: usize = 64;

/// What a printed expression reads: the tensors and derived quantities it
/// names (leaves and the equations that stand for sub-expressions), so that
/// the writer can check each is computed before the line runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Read {
    Tensor(TensorId),
    Symbol(SymbolId),
}

/// A printed expression and what it reads.
pub struct Printed {
    pub text: String,
    pub reads: Vec<Read>,
}

/// The context an expression is printed in.
pub struct Printer<'a> {
    pub model: &'a Model,
    pub graph: &'a Graph,
    pub names: &'a PyNames,
    /// Sub-expressions that an equation names, printed as that name (as the
    /// derivation's text prints them): `tanh(…)` is `h[t]`.
    pub aliases: Option<&'a NodeMap<TensorId>>,
    /// In a loop over t: the step that `t` stands for (names of steps of a
    /// sequence print relative to it, `h[t - 1]`).
    pub now: Option<u64>,
    /// The parameter names of the function whose body this is.
    pub params: &'a [String],
}

impl Printer<'_> {
    /// `root` as a Python expression. `expand` prints the root itself even
    /// when an equation names it (the right-hand side of that equation).
    pub fn print(&self, root: NodeId, expand: bool) -> Printed {
        let mut done: NodeMap<(String, Prec)> = NodeMap::default();
        let mut reads = Vec::new();
        let mut stack = vec![(root, false)];
        while let Some((id, expanded)) = stack.pop() {
            if done.contains_key(&id) {
                continue;
            }
            if let Some(t) = self.alias(id, root, expand) {
                reads.push(Read::Tensor(t));
                done.insert(id, (self.names.tensor(t, self.now), Prec::Atom));
                continue;
            }
            let children = self.operands(id);
            if !expanded {
                stack.push((id, true));
                stack.extend(children.into_iter().filter(|c| !done.contains_key(c)).map(|c| (c, false)));
                continue;
            }
            let printed = self.node(id, &done, &mut reads);
            done.insert(id, printed);
        }
        let text = done.remove(&root).map(|(s, _)| s).unwrap_or_default();
        reads.sort_unstable_by_key(|r| match r {
            Read::Tensor(t) => (0, t.0),
            Read::Symbol(s) => (1, s.0),
        });
        reads.dedup();
        Printed { text, reads }
    }

    fn alias(&self, id: NodeId, root: NodeId, expand: bool) -> Option<TensorId> {
        if expand && id == root {
            return None;
        }
        self.aliases?.get(&id).copied()
    }

    /// The nodes a node's text is made of: its children, except that a
    /// long sum is flattened into its terms.
    fn operands(&self, id: NodeId) -> Vec<NodeId> {
        match self.graph.node(id) {
            Node::Add(..) | Node::Sub(..) => self.chain(id).into_iter().map(|(_, n)| n).collect(),
            Node::Loss(LossFn::CrossEntropy(_), y, p) => {
                let mut out = vec![*y, *p];
                out.extend(self.softmax_logits(*p).map(|(z, _)| z));
                out
            }
            node => node.children(),
        }
    }

    /// The logits `z` and the softmax's axis when `p` is `softmax(z)` or a
    /// tensor defined as one: nnderive then computes log p as
    /// log_softmax(z), which stays finite where p rounds to 0 in float64.
    fn softmax_logits(&self, p: NodeId) -> Option<(NodeId, Axis)> {
        let def = match *self.graph.node(p) {
            Node::Tensor(t) => self.model.tensor(t).definition?,
            _ => p,
        };
        match *self.graph.node(def) {
            Node::Softmax(z, axis) => Some((z, axis)),
            _ => None,
        }
    }

    /// A sum `a ± b ± …` as its first term and each further term with its
    /// sign, walked as a loop down the left-leaning chain.
    fn chain(&self, id: NodeId) -> Vec<(bool, NodeId)> {
        let mut terms = Vec::new();
        let mut first = id;
        loop {
            let aliased = first != id && self.aliases.is_some_and(|a| a.contains_key(&first));
            match self.graph.node(first) {
                Node::Add(a, b) if !aliased => {
                    terms.push((true, *b));
                    first = *a;
                }
                Node::Sub(a, b) if !aliased => {
                    terms.push((false, *b));
                    first = *a;
                }
                _ => break,
            }
        }
        terms.push((true, first));
        terms.reverse();
        terms
    }

    fn node(&self, id: NodeId, done: &NodeMap<(String, Prec)>, reads: &mut Vec<Read>) -> (String, Prec) {
        let g = self.graph;
        let text = |n: &NodeId| done.get(n).map(|(s, _)| s.as_str()).unwrap_or("");
        // The operand `n`, in parentheses unless it binds at least as tightly as `min`.
        let operand = |n: &NodeId, min: Prec| match done.get(n) {
            Some((s, p)) if *p >= min => s.clone(),
            Some((s, _)) => format!("({s})"),
            None => String::new(),
        };
        let call = |name: &str, args: &[&NodeId], extra: &[String]| {
            let mut parts: Vec<String> = args.iter().map(|a| text(a).to_string()).collect();
            parts.extend(extra.iter().cloned());
            (format!("{name}({})", parts.join(", ")), Prec::Atom)
        };
        // A vector [F] beside a map [F, H, W]: entry f goes with channel f.
        let beside_map = |n: &NodeId, other: &NodeId| per_channel(g.shape(*n), g.shape(*other), text(n).to_string());
        // `(W2.T @ delta2) * f_prime(Z1)`: a matrix product beside an
        // entrywise one keeps the parentheses the derivation's text shows,
        // though Python would group it the same way without them.
        let mixed = |n: &NodeId, op: &str| {
            let aliased = self.aliases.is_some_and(|a| a.contains_key(n));
            !aliased
                && match g.node(*n) {
                    Node::MatMul(..) => op != "@",
                    Node::Mul(..) | Node::Div(..) => op == "@",
                    _ => false,
                }
        };
        let binary = |a: &NodeId, b: &NodeId, op: &str| {
            let left = match (beside_map(a, b), mixed(a, op)) {
                (Some(spread), _) => spread,
                (None, true) => format!("({})", text(a)),
                (None, false) => operand(a, Prec::Product),
            };
            // Left to right, as the derivation groups it: a right operand
            // that is itself a product keeps its parentheses.
            let right = match beside_map(b, a) {
                Some(spread) => spread,
                None => operand(b, Prec::Unary),
            };
            (format!("{left} {op} {right}"), Prec::Product)
        };
        match g.node(id) {
            Node::Tensor(t) => {
                reads.push(Read::Tensor(*t));
                (self.names.tensor(*t, self.now), Prec::Atom)
            }
            Node::Param(i) => (self.params.get(*i as usize).cloned().unwrap_or_else(|| format!("t{i}")), Prec::Atom),
            Node::Symbol(s) => {
                reads.push(Read::Symbol(*s));
                (self.names.symbol(*s, self.now), Prec::Atom)
            }
            Node::Const(c) => number(c),
            Node::Ones(shape) => (format!("np.ones({})", numpy_dims(shape.dims())), Prec::Atom),
            Node::Neg(a) => (format!("-{}", operand(a, Prec::Unary)), Prec::Unary),
            Node::Add(..) | Node::Sub(..) => self.sum(id, done),
            Node::Mul(a, b) => binary(a, b, "*"),
            Node::Div(a, b) => binary(a, b, "/"),
            Node::MatMul(a, b) => binary(a, b, "@"),
            Node::Pow(a, e) => {
                let (exponent, p) = number(e);
                let exponent = if p >= Prec::Unary { exponent } else { format!("({exponent})") };
                (format!("{} ** {exponent}", operand(a, Prec::Atom)), Prec::Power)
            }
            Node::Transpose(a) => (format!("{}.T", operand(a, Prec::Atom)), Prec::Atom),
            Node::Apply(f, args) => {
                let name = match f {
                    Func::Builtin(e) => builtin(*e).to_string(),
                    Func::Custom(_) | Func::Derivative { .. } => self.names.function(*f),
                };
                call(&name, &args.iter().collect::<Vec<_>>(), &[])
            }
            Node::Reduce(Reduction::Sum, a) => call("np.sum", &[a], &[]),
            Node::Reduce(Reduction::Mean, a) => call("np.mean", &[a], &[]),
            Node::Softmax(a, axis) => call("softmax", &[a], &axis_argument(g, *a, *axis)),
            Node::LogSoftmax(a, axis) => call("log_softmax", &[a], &axis_argument(g, *a, *axis)),
            Node::MaskedSoftmax(a, m, axis) => call("masked_softmax", &[a, m], &[format!("axis={}", axis.index())]),
            Node::Diag(a) => call("np.diagflat", &[a], &[]),
            Node::Loss(LossFn::CrossEntropy(axis), y, p) => {
                let mut extra: Vec<String> = axis.iter().map(|a| format!("axis={}", a.index())).collect();
                if let Some((z, softmax_axis)) = self.softmax_logits(*p) {
                    let (log_p, _) = call("log_softmax", &[&z], &axis_argument(g, z, softmax_axis));
                    extra.push(format!("log_p={log_p}"));
                }
                call("cross_entropy", &[y, p], &extra)
            }
            Node::Loss(LossFn::Mse, y, p) => call("mse", &[y, p], &[]),
            Node::Loss(LossFn::Bce, y, p) => call("bce", &[y, p], &[]),
            // A map operation says how the export computes each part.
            Node::Conv(part, a, b, c) => {
                let numpy = map::conv(*part, *a, *b, *c).numpy(g.shape(id));
                let operands: Vec<&NodeId> = numpy.operands.iter().collect();
                call(numpy.function, &operands, &numpy.settings)
            }
            Node::Pool(kind, part, a, w) => {
                let numpy = map::pool(*kind, *part, a, *w).numpy(g.shape(id));
                let operands: Vec<&NodeId> = numpy.operands.iter().collect();
                call(numpy.function, &operands, &numpy.settings)
            }
            Node::Flatten(a) => call("flatten", &[a], &[]),
            Node::Reshape(a, shape) => call("reshape", &[a], &[numpy_dims(shape.dims())]),
            // Channels last, the channels are the last axis.
            Node::SumSpatial(a, axis) if *axis + 1 == g.shape(*a).rank() => {
                call("sum_spatial", &[a], &["channels_last=True".into()])
            }
            Node::SumSpatial(a, _) => call("sum_spatial", &[a], &[]),
            Node::SumAxis(a, axis) => call("np.sum", &[a], &[format!("axis={}", axis.index()), "keepdims=True".into()]),
            Node::OneHot(labels, classes, axis) => {
                call("onehot", &[labels], &[classes.to_string(), format!("axis={}", axis.index())])
            }
            Node::Slice(a, ranges) => (format!("{}{}", operand(a, Prec::Atom), ranges.numpy(g.shape(*a))), Prec::Atom),
            Node::Unslice(grad, ranges, source) => {
                let index = format!("np.s_{}", ranges.numpy(source));
                call("unslice", &[grad], &[index, numpy_dims(source.dims())])
            }
            Node::Gather(w, x) => call("lookup", &[w, x], &[numpy_dims(g.shape(id).dims())]),
            Node::ScatterAdd(grad, x, rows) => call("scatter_add", &[grad, x], &[rows.to_string()]),
        }
    }

    /// A sum or difference, term by term; a long one as `sum([…])`.
    fn sum(&self, id: NodeId, done: &NodeMap<(String, Prec)>) -> (String, Prec) {
        let terms = self.chain(id);
        let text = |n: &NodeId, min: Prec| match done.get(n) {
            Some((s, p)) if *p >= min => s.clone(),
            Some((s, _)) => format!("({s})"),
            None => String::new(),
        };
        let spread = |n: &NodeId| per_channel(self.graph.shape(*n), self.graph.shape(id), text(n, Prec::Atom));
        if terms.len() > LONG_SUM {
            let parts: Vec<String> = terms
                .iter()
                .map(|(plus, n)| {
                    let t = spread(n).unwrap_or_else(|| text(n, Prec::Unary));
                    if *plus {
                        t
                    } else {
                        format!("-{}", text(n, Prec::Unary))
                    }
                })
                .collect();
            return (format!("sum([{}])", parts.join(", ")), Prec::Atom);
        }
        let mut out = String::new();
        for (i, (plus, n)) in terms.iter().enumerate() {
            let t = spread(n).unwrap_or_else(|| text(n, if i == 0 { Prec::Sum } else { Prec::Product }));
            match (i, plus) {
                (0, _) => out.push_str(&t),
                (_, true) => {
                    out.push_str(" + ");
                    out.push_str(&t);
                }
                (_, false) => {
                    out.push_str(" - ");
                    out.push_str(&t);
                }
            }
        }
        (out, Prec::Sum)
    }
}

/// The NumPy spelling of each elementwise built-in: a function of the
/// exported file (see `helpers`), or NumPy's own, as its file says.
pub fn builtin(e: Elementwise) -> &'static str {
    e.op().numpy().name()
}

/// A softmax's axis as an argument: none for a column (the helper's
/// default, axis 0), else `axis=n`.
fn axis_argument(g: &Graph, a: NodeId, axis: Axis) -> Vec<String> {
    let column = g.shape(a).vector_axis() == Some(Axis::DOWN);
    if column && axis == Axis::DOWN {
        Vec::new()
    } else {
        vec![format!("axis={}", axis.index())]
    }
}

/// A vector beside a map (a bias), spread over the map's channels:
/// `per_channel(b)` channels first, `per_channel(b, channels_last=True)`
/// when it goes with the map's last axis; `None` when it is not a vector
/// beside a map.
fn per_channel(vector: &crate::model::Shape, map: &crate::model::Shape, text: String) -> Option<String> {
    if vector.rank() > 2 || vector.is_scalar() || map.channel_axis().is_none() {
        return None;
    }
    match vector.spread_axis(map) {
        Some(axis) if axis + 1 == map.rank() => Some(format!("per_channel({text}, channels_last=True)")),
        _ => Some(format!("per_channel({text})")),
    }
}

/// The NumPy shape of an nnderive shape: a vector `[n]` is a column (n, 1),
/// a scalar `()`.
pub fn numpy_dims(dims: &[usize]) -> String {
    match dims {
        [] => "()".into(),
        [n] => format!("({n}, 1)"),
        _ => {
            let parts: Vec<String> = dims.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// An exact constant as Python writes it: an integer, a terminating
/// decimal (`0.01`, which Python reads as the nearest float64), or a
/// quotient of integers (`1 / 3`, which Python divides correctly rounded).
fn number(c: &BigRational) -> (String, Prec) {
    if c.is_integer() {
        let s = c.to_integer().to_string();
        let p = if c.is_negative() { Prec::Unary } else { Prec::Atom };
        return (s, p);
    }
    if let Some(d) = super::super::formula::terminating_decimal(c) {
        let p = if c.is_negative() { Prec::Unary } else { Prec::Atom };
        return (d, p);
    }
    let sign = if c.is_negative() { "-" } else { "" };
    (format!("{sign}{} / {}", c.numer().abs(), c.denom()), Prec::Product)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    #[test]
    fn numbers_are_python_literals() {
        assert_eq!(number(&r(2, 1)).0, "2");
        assert_eq!(number(&r(-1, 100)).0, "-0.01");
        assert_eq!(number(&r(1, 3)), ("1 / 3".to_string(), Prec::Product));
        assert_eq!(number(&r(-2, 3)).0, "-2 / 3");
    }

    #[test]
    fn shapes_are_numpy_shapes() {
        assert_eq!(numpy_dims(&[]), "()");
        assert_eq!(numpy_dims(&[3]), "(3, 1)");
        assert_eq!(numpy_dims(&[2, 3, 4]), "(2, 3, 4)");
    }
}
