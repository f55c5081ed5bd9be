//! The functions an exported file defines for the built-ins NumPy has no
//! single call for, each written once here with the definition nnderive
//! computes by, and included only when the network uses it. Layers are
//! explicit loops over their windows, so each line reads as the layer's
//! index formula.

use std::collections::BTreeSet;

use crate::model::ops::elementwise::Numpy;
use crate::model::ops::map::{self, AnyMapNode, NumpyHelper};
use crate::model::{Elementwise, Func, Graph, LossFn, Node, NodeId};

/// A function of the exported file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Helper {
    /// An elementwise built-in's own helper (its file's [`Numpy::Helper`]).
    Builtin(Elementwise),
    Softmax,
    MaskedSoftmax,
    LogSoftmax,
    CrossEntropy,
    Mse,
    Bce,
    PerChannel,
    /// A map operation's helper (its file's [`NumpyHelper`]), in the
    /// order its `order` gives.
    Map(NumpyHelper),
    Flatten,
    Reshape,
    SumSpatial,
    OneHot,
    Unslice,
    Lookup,
    ScatterAdd,
}

/// The helpers an elementwise built-in needs (none when NumPy has it):
/// its own, and those its own calls.
fn elementwise(e: Elementwise, out: &mut BTreeSet<Helper>) {
    if let Numpy::Helper { uses, .. } = e.op().numpy() {
        if out.insert(Helper::Builtin(e)) {
            for &u in uses {
                elementwise(u, out);
            }
        }
    }
}

/// Every helper the expressions under `roots` call.
pub fn used(g: &Graph, roots: &[NodeId]) -> BTreeSet<Helper> {
    let mut out = BTreeSet::new();
    for n in g.nodes_under(roots) {
        let helpers: &[Helper] = match g.node(n) {
            Node::Apply(Func::Builtin(e), _) => {
                elementwise(*e, &mut out);
                &[]
            }
            Node::Apply(Func::Custom(_) | Func::Derivative { .. }, _) => &[],
            Node::Softmax(..) => &[Helper::Softmax],
            Node::LogSoftmax(..) => &[Helper::LogSoftmax],
            Node::MaskedSoftmax(..) => &[Helper::MaskedSoftmax],
            // With a softmax's logits at hand, log p is their log_softmax.
            Node::Loss(LossFn::CrossEntropy(_), ..) => &[Helper::CrossEntropy, Helper::LogSoftmax],
            Node::Loss(LossFn::Mse, ..) => &[Helper::Mse],
            Node::Loss(LossFn::Bce, ..) => &[Helper::Bce],
            Node::Conv(part, a, b, c) => {
                let call = map::conv(*part, *a, *b, *c).numpy(g.shape(n));
                out.extend(call.helpers.iter().map(|&h| Helper::Map(h)));
                &[]
            }
            Node::Pool(kind, part, a, w) => {
                let call = map::pool(*kind, *part, a, *w).numpy(g.shape(n));
                out.extend(call.helpers.iter().map(|&h| Helper::Map(h)));
                &[]
            }
            Node::Flatten(_) => &[Helper::Flatten],
            Node::Reshape(..) => &[Helper::Reshape],
            Node::SumSpatial(..) => &[Helper::SumSpatial],
            Node::OneHot(..) => &[Helper::OneHot],
            Node::Slice(..) => &[],
            Node::Unslice(..) => &[Helper::Unslice],
            Node::Gather(..) => &[Helper::Lookup],
            Node::ScatterAdd(..) => &[Helper::ScatterAdd],
            Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) | Node::Div(a, b) | Node::MatMul(a, b) => {
                let (sa, sb) = (g.shape(*a), g.shape(*b));
                let beside = |x: &crate::model::Shape, y: &crate::model::Shape| {
                    x.rank() <= 2 && !x.is_scalar() && y.channel_axis().is_some()
                };
                if beside(sa, sb) || beside(sb, sa) {
                    &[Helper::PerChannel]
                } else {
                    &[]
                }
            }
            Node::Tensor(_)
            | Node::Param(_)
            | Node::Symbol(_)
            | Node::Const(_)
            | Node::Ones(_)
            | Node::Neg(_)
            | Node::Pow(..)
            | Node::Transpose(_)
            | Node::Reduce(..)
            | Node::Diag(_)
            | Node::SumAxis(..) => &[],
        };
        out.extend(helpers.iter().copied());
    }
    out
}

/// The Python definition of a helper.
pub fn source(h: Helper) -> &'static str {
    match h {
        // `used` names a built-in's helper only when its file gives one.
        Helper::Builtin(e) => match e.op().numpy() {
            Numpy::Helper { source, .. } => source,
            Numpy::Call(_) => "",
        },
        Helper::Map(h) => h.source,
        Helper::Softmax => {
            r#"def softmax(z, axis=0):
    """exp(z) / Σ exp(z) along `axis` (0: each column), after subtracting the largest entry."""
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
"#
        }
        Helper::MaskedSoftmax => {
            r#"def masked_softmax(z, mask, axis=1):
    """softmax along `axis` over the entries where mask is 1; a masked score counts as −∞ (weight 0)."""
    s = np.where(mask == 1, z, -np.inf)
    e = np.exp(s - np.max(s, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
"#
        }
        Helper::LogSoftmax => {
            r#"def log_softmax(z, axis=0):
    """z − log Σ exp(z) along `axis` (0: each column), by log-sum-exp."""
    m = np.max(z, axis=axis, keepdims=True)
    return z - (m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True)))
"#
        }
        Helper::CrossEntropy => {
            r#"def cross_entropy(y, p, axis=None, log_p=None):
    """−Σ y ⊙ log p; for a batch whose classes lie along `axis`, divided by the number of
    examples. For p = softmax(z), `log_p` is log_softmax(z), which stays finite where an
    entry of p rounds to 0."""
    total = -np.sum(y * (np.log(p) if log_p is None else log_p))
    return total if axis is None else total / np.shape(p)[1 - axis]
"#
        }
        Helper::Mse => {
            r#"def mse(y, p):
    """mean((p − y)²) over every entry."""
    return np.mean((p - y) ** 2)
"#
        }
        Helper::Bce => {
            r#"def bce(y, p):
    """−mean(y ⊙ log p + (1 − y) ⊙ log(1 − p)) over every entry."""
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
"#
        }
        Helper::PerChannel => {
            r#"def per_channel(v, channels_last=False):
    """A vector [F] beside a map [F, H, W] or a batch [N, F, H, W] (channels last [N, H, W, F]):
    entry f goes with every entry of channel f."""
    return np.reshape(v, -1) if channels_last else np.reshape(v, (-1, 1, 1))
"#
        }
        Helper::Flatten => {
            r#"def flatten(T):
    """The entries in row-major order, as a column."""
    return np.reshape(T, (-1, 1))
"#
        }
        Helper::Reshape => {
            r#"def reshape(v, shape):
    """The entries of a column laid out in `shape` again, row-major (flatten's inverse)."""
    return np.reshape(v, shape)
"#
        }
        Helper::SumSpatial => {
            r#"def sum_spatial(G, channels_last=False):
    """Σ_{i,j} of each channel of a map [F, H, W], Σ_{n,i,j} of a batch [N, F, H, W] (channels
    last [N, H, W, F]): a column [F]."""
    channels = G.ndim - 1 if channels_last else G.ndim - 3
    return np.sum(G, axis=tuple(a for a in range(G.ndim) if a != channels)).reshape(-1, 1)
"#
        }
        Helper::OneHot => {
            r#"def onehot(labels, classes, axis=0):
    """Class labels 0 … classes−1 as one-hot columns (axis 0) or rows (axis 1)."""
    labels = np.reshape(np.asarray(labels, dtype=float), -1)
    if np.any(labels != np.round(labels)) or np.any(labels < 0) or np.any(labels >= classes):
        raise ValueError(f"class labels must be whole numbers from 0 to {classes - 1}: {labels}")
    Y = np.zeros((classes, labels.size))
    Y[labels.astype(int), np.arange(labels.size)] = 1.0
    return Y if axis == 0 else Y.T
"#
        }
        Helper::Unslice => {
            r#"def unslice(G, index, shape):
    """A slice's gradient G placed back at `index` in zeros of `shape`."""
    out = np.zeros(shape)
    out[index] = G
    return out
"#
        }
        Helper::Lookup => {
            r#"def lookup(W, x, shape):
    """Row x[p] of the table W at every position p of the ids x (an embedding lookup)."""
    return W[np.reshape(np.asarray(x), -1).astype(int)].reshape(shape)
"#
        }
        Helper::ScatterAdd => {
            r#"def scatter_add(G, x, rows):
    """dW[k] = sum of G[p] over the positions p with x[p] = k (np.add.at)."""
    ids = np.reshape(np.asarray(x), -1).astype(int)
    dW = np.zeros((rows, G.size // max(ids.size, 1)))
    np.add.at(dW, ids, np.reshape(G, (ids.size, -1)))
    return dW
"#
        }
    }
}
