//! `maxpool` and `avgpool`: the pooling layers, the backward kernel of
//! each (∂L/∂A), and everything nnderive knows about each part: the
//! backward shape rule, the layer's local adjoint, how each part is
//! written in every notation, how the NumPy export computes it, the work
//! its kernel does, and the layer rules the derivation states (routing,
//! spreading, batches, channels last, how windows are counted). The
//! numeric kernels are `eval::conv`'s, reached through `eval::map` by the
//! part. The forward shape rule, whose errors the checker reports at the
//! call, is `Shape::pool`.

use super::spec::{Adjoint, LayerRule, MapOp, NumpyCall, NumpyHelper, Spelling};
use crate::model::sentence::{m, same, w};
use crate::model::{Graph, MapLayout, Node, NodeId, PoolKind, PoolPart, Shape, Window};

/// `maxpool(A, k, stride = s, pad = p, ceil = …, layout = …)` and `avgpool(…)`.
pub struct Pool;

impl MapOp for Pool {
    /// Max or average, and which part.
    type Part = (PoolKind, PoolPart);
    type Settings = Window;

    fn name(&self) -> &'static str {
        "pool"
    }

    fn shape(&self, (kind, part): (PoolKind, PoolPart), operands: &[&Shape], window: Window) -> Shape {
        let Some(first) = operands.first() else { return Shape::scalar() };
        match (kind, part) {
            // The checker has refused a window that does not fit.
            (_, PoolPart::Forward) => first.pool(window).unwrap_or_else(|_| (*first).clone()),
            // ∂L/∂A has A's shape; average pooling's is built from ḡ alone.
            (PoolKind::Max, PoolPart::Backward) => (*first).clone(),
            (PoolKind::Avg, PoolPart::Backward) => unpool_shape(first, window),
        }
    }

    fn build(&self, g: &mut Graph, (kind, part): (PoolKind, PoolPart), operands: &[NodeId], window: Window) -> NodeId {
        let shapes: Vec<&Shape> = operands.iter().map(|&a| g.shape(a)).collect();
        let shape = self.shape((kind, part), &shapes, window);
        g.map_node(Node::Pool(kind, part, operands.to_vec(), window), shape)
    }

    // P = maxpool(A): ḡ routed to the first maximum of each window;
    // P = avgpool(A): ḡ / k² over each window.
    fn adjoint(
        &self,
        g: &mut Graph,
        (kind, part): (PoolKind, PoolPart),
        operands: &[NodeId],
        window: Window,
        seed: NodeId,
        _wants: &dyn Fn(NodeId) -> bool,
    ) -> Vec<Adjoint> {
        let (PoolPart::Forward, &[a]) = (part, operands) else { return vec![] };
        let (back, rule) = match kind {
            PoolKind::Max => (vec![a, seed], "d-maxpool"),
            PoolKind::Avg => (vec![seed], "d-avgpool"),
        };
        let contribution = self.build(g, (kind, PoolPart::Backward), &back, window);
        vec![Adjoint { operand: a, contribution, rule }]
    }

    fn backward(&self, (kind, part): (PoolKind, PoolPart)) -> Option<(&'static str, &'static str)> {
        match (kind, part) {
            (_, PoolPart::Forward) => None,
            (PoolKind::Max, PoolPart::Backward) => Some(("maxpool_back", "the adjoint of maxpool")),
            (PoolKind::Avg, PoolPart::Backward) => Some(("avgpool_back", "the adjoint of avgpool")),
        }
    }

    fn spelling(&self, (kind, part): (PoolKind, PoolPart), operands: &[NodeId], window: Window, nn: bool) -> Spelling {
        let operands = operands.to_vec();
        match self.backward((kind, part)) {
            None => Spelling::Call { name: kind.name(), operands, settings: arguments(window) },
            // The textbook's notation leaves the window to the layer's rule.
            Some((name, _)) => {
                let settings = if nn { arguments(window) } else { vec![] };
                Spelling::Call { name, operands, settings }
            }
        }
    }

    fn numpy(&self, (kind, part): (PoolKind, PoolPart), operands: &[NodeId], w: Window, out: &Shape) -> NumpyCall {
        // One number for a square setting, else a (height, width) tuple as PyTorch writes it.
        let pair = |[a, b]: [usize; 2]| if a == b { a.to_string() } else { format!("({a}, {b})") };
        let mut settings = vec![pair(w.size)];
        if w.stride != w.size {
            settings.push(format!("stride={}", pair(w.stride)));
        }
        if w.pad != [0, 0] {
            settings.push(format!("pad={}", pair(w.pad)));
        }
        if w.ceil {
            settings.push("ceil=True".into());
        }
        if w.layout == MapLayout::Nhwc {
            settings.push("layout=\"nhwc\"".into());
        }
        let helpers: &'static [NumpyHelper] = match (kind, part) {
            (PoolKind::Max, PoolPart::Forward) => &[POOL_WINDOWS, MAXPOOL],
            (PoolKind::Avg, PoolPart::Forward) => &[POOL_WINDOWS, AVGPOOL],
            (PoolKind::Max, PoolPart::Backward) => &[POOL_WINDOWS, MAXPOOL_BACK],
            (PoolKind::Avg, PoolPart::Backward) => {
                // The input's height and width, which ḡ alone does not give.
                let dims = out.dims();
                let end = match w.layout {
                    MapLayout::Nchw => dims.len(),
                    MapLayout::Nhwc => dims.len().saturating_sub(1),
                };
                settings.push(format!("input_size={}", super::size_tuple(&dims[end.saturating_sub(2)..end])));
                &[POOL_WINDOWS, AVGPOOL_BACK]
            }
        };
        // The first helper gives every pooling its windows; the second is the part's own.
        NumpyCall { function: helpers[1].name, operands: operands.to_vec(), settings, helpers }
    }

    // Each entry of the larger side looks at one window's entries.
    fn work(&self, _: (PoolKind, PoolPart), operands: &[&Shape], w: Window, out: &Shape) -> u128 {
        let len = |s: &Shape| s.len().max(1) as u128;
        let largest = operands.iter().map(|s| len(s)).fold(len(out), u128::max);
        largest.saturating_mul(w.size[0] as u128 * w.size[1] as u128)
    }
}

/// A pooling window as the `.nn` call's arguments: the size, then the
/// stride unless it equals the size, the padding unless 0, `ceil = true`
/// in ceil mode, and the layout unless channels first.
fn arguments(w: Window) -> Vec<(&'static str, String)> {
    // One number for a square setting, else the list `[height, width]` as written.
    let pair = |[a, b]: [usize; 2]| if a == b { a.to_string() } else { format!("[{a}, {b}]") };
    let mut out = vec![("", pair(w.size))];
    if w.stride != w.size {
        out.push(("stride", pair(w.stride)));
    }
    if w.pad != [0, 0] {
        out.push(("pad", pair(w.pad)));
    }
    if w.ceil {
        out.push(("ceil", "true".to_string()));
    }
    if w.layout != MapLayout::Nchw {
        out.push(("layout", w.layout.name().to_string()));
    }
    out
}

/// Shape of ∂L/∂A for a pooling from its gradient `[C, H', W']` (or a
/// batch `[N, C, H', W']`, or either channels last): the same with H × W
/// the window's extent.
fn unpool_shape(g: &Shape, window: Window) -> Shape {
    match &*window.layout.map_to_nchw(g.dims()) {
        [lead @ .., _, _] if matches!(lead.len(), 1 | 2) => {
            let out: Vec<usize> = lead.iter().copied().chain(window.extent).collect();
            Shape(window.layout.map_from_nchw(&out))
        }
        _ => g.clone(),
    }
}

const POOL_WINDOWS: NumpyHelper = NumpyHelper {
    order: (1, 0),
    name: "pool_windows",
    source: r#"def pool_windows(n, size, stride, pad=0, ceil=False):
    """Along an axis of n entries, each pooling window's entries of the input (padding left out)
    and its size counting padding, the windows counted as PyTorch counts them (floor, or
    ceil_mode, where a last window must start inside the input or its left padding)."""
    span = n + 2 * pad - size
    count = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (count - 1) * stride >= n + pad:
        count -= 1
    return [
        (slice(max(i * stride - pad, 0), min(i * stride + size - pad, n)), min(i * stride + size, n + 2 * pad) - i * stride)
        for i in range(count)
    ]


def pool_axes(H, W, size, stride=None, pad=0, ceil=False):
    """The windows down the H rows and across the W columns of a map; size, stride (default:
    size) and pad are each one number or a (height, width) pair, as in PyTorch."""
    pair = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    (kh, kw), (sh, sw), (ph, pw) = pair(size), pair(stride or size), pair(pad)
    return pool_windows(H, kh, sh, ph, ceil), pool_windows(W, kw, sw, pw, ceil)
"#,
};

const MAXPOOL: NumpyHelper = NumpyHelper {
    order: (1, 1),
    name: "maxpool",
    source: r#"def maxpool(A, size, stride=None, pad=0, ceil=False, layout="nchw"):
    """The largest entry of each size×size (or height×width) window of each map and channel, the window moved by
    `stride` (default: size) over A padded with −∞; A is [C, H, W] or a batch [N, C, H, W]
    (channels last, layout="nhwc": [N, H, W, C])."""
    if layout == "nhwc":
        return np.moveaxis(maxpool(np.moveaxis(A, -1, -3), size, stride, pad, ceil), -3, -1)
    rows, cols = pool_axes(*A.shape[-2:], size, stride, pad, ceil)
    P = np.zeros(A.shape[:-2] + (len(rows), len(cols)))
    for i, (r, _) in enumerate(rows):
        for j, (c, _) in enumerate(cols):
            P[..., i, j] = np.max(A[..., r, c], axis=(-2, -1))
    return P
"#,
};

const AVGPOOL: NumpyHelper = NumpyHelper {
    order: (1, 2),
    name: "avgpool",
    source: r#"def avgpool(A, size, stride=None, pad=0, ceil=False, layout="nchw"):
    """The mean of each size×size (or height×width) window of each map and channel, the window moved by `stride`
    (default: size) over A padded with zeros that count in the mean (PyTorch's default)."""
    if layout == "nhwc":
        return np.moveaxis(avgpool(np.moveaxis(A, -1, -3), size, stride, pad, ceil), -3, -1)
    rows, cols = pool_axes(*A.shape[-2:], size, stride, pad, ceil)
    P = np.zeros(A.shape[:-2] + (len(rows), len(cols)))
    for i, (r, h) in enumerate(rows):
        for j, (c, w) in enumerate(cols):
            P[..., i, j] = np.sum(A[..., r, c], axis=(-2, -1)) / (h * w)
    return P
"#,
};

const MAXPOOL_BACK: NumpyHelper = NumpyHelper {
    order: (1, 3),
    name: "maxpool_back",
    source: r#"def maxpool_back(A, g, size, stride=None, pad=0, ceil=False, layout="nchw"):
    """∂L/∂A of maxpool(A): each g[..., i, j] goes to the first maximum (row by row) of its window."""
    if layout == "nhwc":
        dA = maxpool_back(np.moveaxis(A, -1, -3), np.moveaxis(g, -1, -3), size, stride, pad, ceil)
        return np.moveaxis(dA, -3, -1)
    rows, cols = pool_axes(*A.shape[-2:], size, stride, pad, ceil)
    dA = np.zeros_like(A, dtype=float)
    for index in np.ndindex(*g.shape):
        *lead, i, j = index
        (r, _), (c, _) = rows[i], cols[j]
        window = A[tuple(lead)][r, c]
        u, v = np.unravel_index(np.argmax(window), window.shape)
        dA[tuple(lead) + (r.start + u, c.start + v)] += g[index]
    return dA
"#,
};

const AVGPOOL_BACK: NumpyHelper = NumpyHelper {
    order: (1, 4),
    name: "avgpool_back",
    source: r#"def avgpool_back(g, size, stride=None, pad=0, ceil=False, input_size=None, layout="nchw"):
    """∂L/∂A of avgpool(A): each g[..., i, j] spread over its window, divided as the mean divides."""
    if layout == "nhwc":
        return np.moveaxis(avgpool_back(np.moveaxis(g, -1, -3), size, stride, pad, ceil, input_size), -3, -1)
    H, W = input_size
    rows, cols = pool_axes(H, W, size, stride, pad, ceil)
    dA = np.zeros(g.shape[:-2] + (H, W))
    for i, (r, h) in enumerate(rows):
        for j, (c, w) in enumerate(cols):
            dA[..., r, c] += g[..., i, j, None, None] / (h * w)
    return dA
"#,
};

/// The layer rules the derivation states where a pooling's formulas appear
/// (chosen by `derive::rules` from the node's part and its operands'
/// shapes), each in words and formulas in both notations, with its index
/// form where that is clearer.
impl Pool {
    /// Max-pool routing and its tie rule.
    pub const MAX_RULE: LayerRule = LayerRule {
        lead_in: None,
        statement: const {
            &[
                        w("maxpool routes each entry of the gradient to the maximum of its window and 0 elsewhere; on a tie, to the first maximum in row-major order; the steps write this routing of a gradient "),
                        same("G"),
                        w(" through the windows of "),
                        same("A"),
                        w(" as "),
                        m("maxpool_back(A, G)", r"\operatorname{maxpool\_back}\left(A, G\right)"),
                    ]
        },
        index_form: Some("∂L/∂A[c,m,n] = Σ δ[c,i,j] over the windows (i, j) whose first maximum is at (m, n)"),
        latex_index_form: Some(r"\partial L / \partial A[c,m,n] = \sum_{(i,j) \in M(m,n)} \delta[c,i,j]"),
        legend: Some(
            const { &[w("where "), same("M(m, n)"), w(" are the windows whose first maximum is at "), same("(m, n)")] },
        ),
    };

    /// Average-pool spreading.
    pub const AVG_RULE: LayerRule = LayerRule {
        lead_in: None,
        statement: const {
            &[
                w("avgpool spreads each entry of the gradient evenly over its "),
                m("k × k", r"k \times k"),
                w(" window, written "),
                m("avgpool_back(G)", r"\operatorname{avgpool\_back}\left(G\right)"),
            ]
        },
        index_form: Some("∂L/∂A[c, s·i+u, s·j+v] = Σ δ[c,i,j] / k² over the windows (i, j) that contain the entry"),
        latex_index_form: Some(r"\partial L / \partial A[c,m,n] = \sum_{(i,j) \in W(m,n)} \delta[c,i,j] / k^2"),
        legend: Some(const { &[w("where "), same("W(m, n)"), w(" are the windows that contain "), same("(m, n)")] }),
    };

    /// A pooling of a batch of maps `[N, C, H, W]`: each map and channel on its own.
    pub const BATCH_RULE: LayerRule = LayerRule {
        lead_in: None,
        statement: const {
            &[
                w("a batch of maps "),
                same("[N, C, H, W]"),
                w(" is pooled one map and one channel at a time, giving "),
                m("[N, C, H′, W′]", r"[N, C, H', W']"),
                w("; the backward routes each map's gradient within that map"),
            ]
        },
        index_form: Some("P[n,c,i,j] = the max (or mean) of A[n, c, s·i+u, s·j+v] over the window's u, v"),
        latex_index_form: Some(r"P[n,c,i,j] = \operatorname{pool}_{u,v} A[n,c,\, s i+u,\, s j+v]"),
        legend: None,
    };

    /// A pooling channels last: each map and channel of `[N, H, W, C]` on its own.
    pub const CHANNELS_LAST_RULE: LayerRule = LayerRule {
        lead_in: None,
        statement: const {
            &[
                w("channels last ("),
                m("layout = nhwc", r"\text{layout} = \text{nhwc}"),
                w("): a batch of maps "),
                same("[N, H, W, C]"),
                w(" is pooled one map and one channel at a time, giving "),
                m("[N, H′, W′, C]", r"[N, H', W', C]"),
                w("; the backward routes each map's gradient within that map"),
            ]
        },
        index_form: Some("P[n,h,w,c] = the max (or mean) of A[n, s·h+i, s·w+j, c] over the window's i, j"),
        latex_index_form: Some(r"P[n,h,w,c] = \operatorname{pool}_{i,j} A[n,\, s h+i,\, s w+j,\, c]"),
        legend: None,
    };

    /// A pooling with padding, in ceil mode, or whose windows leave rows or columns out: PyTorch's count of windows and its padding values.
    pub const WINDOWS_RULE: LayerRule = LayerRule {
        lead_in: None,
        statement: const {
                    &[
                        w("pooling counts its windows as PyTorch does: as many as fit in the input padded by "),
                        same("p"),
                        w(" on each side, rounded down (rows and columns past the last window are in no window and get no gradient), or with "),
                        m("ceil = true", r"\text{ceil} = \text{true}"),
                        w(" rounded up, a last window starting inside the input or its left padding; max-pooling pads with "),
                        m("−∞", r"-\infty"),
                        w(", average pooling with zeros that count in the mean (PyTorch's count_include_pad), a window past the padded input counting only what lies inside it"),
                    ]
                },
        index_form: Some("H′ = ⌊(H + 2p − k)/s⌋ + 1 (in ceil mode ⌈(H + 2p − k)/s⌉ + 1, less one if the last window would start in the right padding); P[c,i,j] = the max (or mean) of Ã[c, s·i+u, s·j+v] over u, v (Ã: the input padded by p)"),
        latex_index_form: Some(r"H' = \lfloor (H + 2p - k)/s \rfloor + 1 \\ P[c,i,j] = \operatorname{pool}_{u,v} \tilde{A}[c,\, s i+u,\, s j+v]"),
        legend: None,
    };

    /// A pooling whose window, stride or padding differs between height and width: the (height, width) pairs.
    pub const RECT_RULE: LayerRule = LayerRule {
        lead_in: None,
        statement: const {
                    &[
                        w("a window of "),
                        m("kh × kw", r"k_h \times k_w"),
                        w(" moves by "),
                        m("sh", r"s_h"),
                        w(" rows and "),
                        m("sw", r"s_w"),
                        w(" columns over the input padded by "),
                        m("ph", r"p_h"),
                        w(" rows above and below and "),
                        m("pw", r"p_w"),
                        w(" columns left and right (each pair written [height, width], the order of PyTorch's kernel_size); the windows are counted along each axis as PyTorch counts them, rounded down (or up with "),
                        m("ceil = true", r"\text{ceil} = \text{true}"),
                        w("); max-pooling pads with "),
                        m("−∞", r"-\infty"),
                        w(", average pooling with zeros that count in the mean; in avgpool's rule "),
                        m("k × k", r"k \times k"),
                        w(" and "),
                        m("k²", r"k^2"),
                        w(" read "),
                        m("kh × kw", r"k_h \times k_w"),
                        w(" and "),
                        m("kh·kw", r"k_h k_w"),
                    ]
                },
        index_form: Some("H′ = ⌊(H + 2ph − kh)/sh⌋ + 1, W′ = ⌊(W + 2pw − kw)/sw⌋ + 1; P[c,i,j] = the max (or mean) of A[c, sh·i + a − ph, sw·j + b − pw] over a ∈ 0..kh−1, b ∈ 0..kw−1 (an entry in the padding: −∞ for the max, 0 for the mean, which divides by kh·kw)"),
        latex_index_form: Some(concat!(
                r"H' = \lfloor (H + 2p_h - k_h)/s_h \rfloor + 1,\ W' = \lfloor (W + 2p_w - k_w)/s_w \rfloor + 1 \\ ",
                r"P[c,i,j] = \operatorname{pool}_{0 \le a < k_h,\ 0 \le b < k_w} A[c,\, s_h i + a - p_h,\, s_w j + b - p_w]"
            )),
        legend: None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(d: &[usize]) -> Shape {
        Shape(d.to_vec())
    }

    /// ∂L/∂A has A's shape, whichever operands build it.
    #[test]
    fn backward_shapes() {
        let shape = |kind, part, a: &[usize], w| Pool.shape((kind, part), &[&s(a)], w);
        let w = Window::plain(2, 1, [3, 3]);
        assert_eq!(shape(PoolKind::Max, PoolPart::Forward, &[2, 3, 3], w), s(&[2, 2, 2]));
        assert_eq!(shape(PoolKind::Avg, PoolPart::Backward, &[2, 2, 2], w), s(&[2, 3, 3]));
        assert_eq!(shape(PoolKind::Max, PoolPart::Backward, &[2, 3, 3], w), s(&[2, 3, 3]));
        let batch = Window::plain(2, 2, [4, 4]);
        assert_eq!(shape(PoolKind::Avg, PoolPart::Backward, &[2, 3, 2, 2], batch), s(&[2, 3, 4, 4]));
        let nhwc = Window { layout: MapLayout::Nhwc, ..Window::plain(3, 1, [4, 4]) };
        assert_eq!(shape(PoolKind::Avg, PoolPart::Backward, &[2, 2, 2, 3], nhwc), s(&[2, 4, 4, 3]));
    }
}
