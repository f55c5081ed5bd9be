//! `conv2d`: the convolution layer, its two backward kernels (∂L/∂K and
//! ∂L/∂X), and everything nnderive knows about each: their shape rules,
//! the layer's local adjoint (which backward kernel each operand
//! receives), how each is written in every notation, how the NumPy export
//! computes each, the work each kernel does, and the layer rules the
//! derivation states (cross-correlation, both gradients, the bias, batches,
//! channels last). The numeric kernels themselves are `eval::conv`'s,
//! reached through `eval::map` by the part. The forward shape rule, whose
//! errors the checker reports at the call, is `Shape::conv2d`.

use super::spec::{Adjoint, Indexed, LayerRule, MapOp, NumpyCall, NumpyHelper, Side, Spelling, Symbol};
use crate::model::sentence::{m, same, w};
use crate::model::{Conv, ConvPart, Graph, MapLayout, Node, NodeId, Shape};

/// `conv2d(X, K, stride = s, pad = p, layout = …)`.
pub struct Conv2d;

impl MapOp for Conv2d {
    type Part = ConvPart;
    type Settings = Conv;

    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn shape(&self, part: ConvPart, operands: &[&Shape], conv: Conv) -> Shape {
        let [a, b] = operands else { return Shape::scalar() };
        match part {
            // The checker has refused an input and kernels that do not fit.
            ConvPart::Forward => a.conv2d(b, conv).unwrap_or_else(|_| (*a).clone()),
            ConvPart::KernelGrad => kernel_grad_shape(a, b, conv),
            ConvPart::InputGrad => input_grad_shape(a, b, conv),
        }
    }

    fn build(&self, g: &mut Graph, part: ConvPart, operands: &[NodeId], conv: Conv) -> NodeId {
        let &[a, b] = operands else { unreachable!("conv2d's parts take two operands") };
        let shape = self.shape(part, &[g.shape(a), g.shape(b)], conv);
        g.map_node(Node::Conv(part, a, b, conv), shape)
    }

    // Z = conv2d(X, K): X̄ = Σ_f ḡ_f ∗ K[f,c] (full convolution, cropped by
    // the padding), K̄[f,c] = X̃_c ⋆ ḡ_f (valid cross-correlation). Each
    // backward node is built only for an operand that wants it.
    fn adjoint(
        &self,
        g: &mut Graph,
        part: ConvPart,
        operands: &[NodeId],
        conv: Conv,
        seed: NodeId,
        wants: &dyn Fn(NodeId) -> bool,
    ) -> Vec<Adjoint> {
        let (ConvPart::Forward, &[x, k]) = (part, operands) else { return vec![] };
        let mut out = Vec::new();
        if wants(x) {
            let contribution = self.build(g, ConvPart::InputGrad, &[seed, k], conv);
            out.push(Adjoint { operand: x, contribution, rule: "d-conv2d-input" });
        }
        if wants(k) {
            let contribution = self.build(g, ConvPart::KernelGrad, &[x, seed], conv);
            out.push(Adjoint { operand: k, contribution, rule: "d-conv2d-kernel" });
        }
        out
    }

    fn backward(&self, part: ConvPart) -> Option<(&'static str, &'static str)> {
        match part {
            ConvPart::Forward => None,
            ConvPart::KernelGrad => Some(("conv2d_kernel_grad", "the adjoint of conv2d with respect to its kernels")),
            ConvPart::InputGrad => Some(("conv2d_input_grad", "the adjoint of conv2d with respect to its input")),
        }
    }

    fn spelling(&self, part: ConvPart, operands: &[NodeId], conv: Conv, nn: bool) -> Spelling {
        let (a, b) = (operands[0], operands[1]);
        let name = self.backward(part).map_or(self.name(), |(name, _)| name);
        let pad = (conv.pad > 0).then_some(Indexed { name: "pad", k: conv.pad });
        let dilate = (conv.stride > 1).then_some(Indexed { name: "dilate", k: conv.stride });
        let crop = (conv.pad > 0).then_some(Indexed { name: "crop", k: conv.pad });
        match part {
            _ if nn => Spelling::Call { name, operands: vec![a, b], settings: keywords(conv) },
            ConvPart::Forward => Spelling::Call { name, operands: vec![a, b], settings: keywords(conv) },
            // ∂L/∂K = X̃ ⋆ δ: the padded input cross-correlated with the
            // (dilated) error map.
            ConvPart::KernelGrad => Spelling::Infix {
                left: Side { operand: a, inside: pad },
                symbol: Symbol { text: "⋆", latex: "\\star" },
                right: Side { operand: b, inside: dilate },
                around: None,
            },
            // ∂L/∂X = Σ_f δ_f ∗ K[f,c]: a full convolution of the (dilated)
            // error map with the kernels, cropped by the padding.
            ConvPart::InputGrad => Spelling::Infix {
                left: Side { operand: a, inside: dilate },
                symbol: Symbol { text: "∗", latex: "\\ast" },
                right: Side { operand: b, inside: None },
                around: crop,
            },
        }
    }

    fn numpy(&self, part: ConvPart, operands: &[NodeId], conv: Conv, out: &Shape) -> NumpyCall {
        let dims = out.dims();
        let mut settings = Vec::new();
        let helpers: &'static [NumpyHelper] = match part {
            ConvPart::Forward => &[CONV2D],
            ConvPart::KernelGrad => {
                // Kernels [F, C, kh, kw], or [kh, kw, C, F] channels last.
                let size = match conv.layout {
                    MapLayout::Nchw => &dims[dims.len().min(2)..],
                    MapLayout::Nhwc => &dims[..dims.len().min(2)],
                };
                settings.push(format!("kernel_size={}", super::size_tuple(size)));
                &[KERNEL_GRAD]
            }
            ConvPart::InputGrad => {
                let end = match conv.layout {
                    MapLayout::Nchw => dims.len(),
                    MapLayout::Nhwc => dims.len().saturating_sub(1),
                };
                settings.push(format!("input_size={}", super::size_tuple(&dims[end.saturating_sub(2)..end])));
                &[INPUT_GRAD]
            }
        };
        if conv.stride != 1 {
            settings.push(format!("stride={}", conv.stride));
        }
        if conv.pad != 0 {
            settings.push(format!("pad={}", conv.pad));
        }
        if conv.layout == MapLayout::Nhwc {
            settings.push("layout=\"nhwc\"".into());
        }
        NumpyCall { function: helpers[0].name, operands: operands.to_vec(), settings, helpers }
    }

    // Each output entry sums C·kh·kw products, each input-gradient entry at
    // most F·kh·kw, and each kernel-gradient entry one product per output
    // position.
    fn work(&self, part: ConvPart, operands: &[&Shape], _: Conv, out: &Shape) -> u128 {
        let len = |s: &Shape| s.len().max(1) as u128;
        let largest = operands.iter().map(|s| len(s)).fold(len(out), u128::max);
        let dims = |i: usize| operands.get(i).map_or(&[][..], |s| s.dims());
        match part {
            ConvPart::Forward | ConvPart::InputGrad => {
                let kd = dims(1);
                let per: u128 = kd.iter().skip(1).map(|&d| d as u128).product();
                let filters = match part {
                    ConvPart::Forward => 1,
                    _ => kd.first().copied().unwrap_or(1) as u128,
                };
                largest.saturating_mul(per).saturating_mul(filters)
            }
            ConvPart::KernelGrad => {
                let positions: u128 = dims(1).iter().skip(1).map(|&d| d as u128).product();
                len(out).saturating_mul(positions)
            }
        }
    }
}

/// The settings as the `.nn` call writes them, each only where it differs
/// from its default.
fn keywords(c: Conv) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if c.stride != 1 {
        out.push(("stride", c.stride.to_string()));
    }
    if c.pad != 0 {
        out.push(("pad", c.pad.to_string()));
    }
    if c.layout != MapLayout::Nchw {
        out.push(("layout", c.layout.name().to_string()));
    }
    out
}

/// Shape of ∂L/∂K for `conv2d(x, K)` from x `[C, H, W]` and the error map
/// δ `[F, H', W']` (or a batch of each, `[N, C, H, W]` and `[N, F, H', W']`):
/// `[F, C, kh, kw]` with kh = H + 2p − s(H' − 1); channels last, the same
/// read through the layout.
fn kernel_grad_shape(x: &Shape, delta: &Shape, conv: Conv) -> Shape {
    let side = |n: usize, o: usize| (n + 2 * conv.pad).saturating_sub(conv.stride * o.saturating_sub(1));
    let (x, d) = (conv.layout.map_to_nchw(x.dims()), conv.layout.map_to_nchw(delta.dims()));
    match (&*x, &*d) {
        (&[c, h, w], &[f, oh, ow]) | (&[_, c, h, w], &[_, f, oh, ow]) => {
            Shape(conv.layout.kernels_from_nchw(&[f, c, side(h, oh), side(w, ow)]))
        }
        _ => delta.clone(),
    }
}

/// Shape of ∂L/∂X for `conv2d(X, K)` from δ `[F, H', W']` (or a batch
/// `[N, F, H', W']`) and K `[F, C, kh, kw]`: `[C, H, W]` (or `[N, C, H, W]`)
/// with H = s(H' − 1) + kh − 2p; channels last, the same read through the
/// layout.
fn input_grad_shape(delta: &Shape, kernels: &Shape, conv: Conv) -> Shape {
    let side = |o: usize, k: usize| (conv.stride * o.saturating_sub(1) + k).saturating_sub(2 * conv.pad);
    let (d, k) = (conv.layout.map_to_nchw(delta.dims()), conv.layout.kernels_to_nchw(kernels.dims()));
    let out = match (&*d, &*k) {
        (&[_, oh, ow], &[_, c, kh, kw]) => vec![c, side(oh, kh), side(ow, kw)],
        (&[n, _, oh, ow], &[_, c, kh, kw]) => vec![n, c, side(oh, kh), side(ow, kw)],
        _ => return delta.clone(),
    };
    Shape(conv.layout.map_from_nchw(&out))
}

const CONV2D: NumpyHelper = NumpyHelper {
    order: (0, 0),
    name: "conv2d",
    source: r#"def conv2d(X, K, stride=1, pad=0, layout="nchw"):
    """Z[n, f, i, j] = Σ_{c,u,v} K[f, c, u, v] X̃[n, c, s·i + u, s·j + v], X̃ = X with `pad` zeros
    around each map; X is one map [C, H, W] or a batch [N, C, H, W] (channels last, layout="nhwc":
    X [N, H, W, C], K [kh, kw, C, F], Z [N, H', W', F])."""
    if layout == "nhwc":
        return np.moveaxis(conv2d(np.moveaxis(X, -1, -3), np.transpose(K, (3, 2, 0, 1)), stride, pad), -3, -1)
    F, C, kh, kw = K.shape
    Xp = np.pad(X, [(0, 0)] * (X.ndim - 2) + [(pad, pad), (pad, pad)])
    oh, ow = (Xp.shape[-2] - kh) // stride + 1, (Xp.shape[-1] - kw) // stride + 1
    Z = np.zeros(X.shape[:-3] + (F, oh, ow))
    for i, j in np.ndindex(oh, ow):
        window = Xp[..., stride * i : stride * i + kh, stride * j : stride * j + kw]
        Z[..., i, j] = np.einsum("...cuv,fcuv->...f", window, K)
    return Z
"#,
};

const KERNEL_GRAD: NumpyHelper = NumpyHelper {
    order: (0, 1),
    name: "conv2d_kernel_grad",
    source: r#"def conv2d_kernel_grad(X, delta, kernel_size, stride=1, pad=0, layout="nchw"):
    """∂L/∂K[f, c, u, v] = Σ_{n,i,j} δ[n, f, i, j] X̃[n, c, s·i + u, s·j + v]: X̃ ⋆ δ, summed over a batch."""
    if layout == "nhwc":
        dK = conv2d_kernel_grad(np.moveaxis(X, -1, -3), np.moveaxis(delta, -1, -3), kernel_size, stride, pad)
        return np.transpose(dK, (2, 3, 1, 0))
    kh, kw = kernel_size
    X, delta = np.reshape(X, (-1,) + X.shape[-3:]), np.reshape(delta, (-1,) + delta.shape[-3:])
    Xp = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dK = np.zeros((delta.shape[1], X.shape[1], kh, kw))
    for i, j in np.ndindex(*delta.shape[-2:]):
        window = Xp[..., stride * i : stride * i + kh, stride * j : stride * j + kw]
        dK += np.einsum("nf,ncuv->fcuv", delta[..., i, j], window)
    return dK
"#,
};

const INPUT_GRAD: NumpyHelper = NumpyHelper {
    order: (0, 2),
    name: "conv2d_input_grad",
    source: r#"def conv2d_input_grad(delta, K, input_size, stride=1, pad=0, layout="nchw"):
    """∂L/∂X: each δ[n, f, i, j] sends K[f] back over the window it came from (a full
    convolution), and the padding is cropped off."""
    if layout == "nhwc":
        dX = conv2d_input_grad(np.moveaxis(delta, -1, -3), np.transpose(K, (3, 2, 0, 1)), input_size, stride, pad)
        return np.moveaxis(dX, -3, -1)
    H, W = input_size
    F, C, kh, kw = K.shape
    dXp = np.zeros(delta.shape[:-3] + (C, H + 2 * pad, W + 2 * pad))
    for i, j in np.ndindex(*delta.shape[-2:]):
        dXp[..., stride * i : stride * i + kh, stride * j : stride * j + kw] += np.einsum(
            "...f,fcuv->...cuv", delta[..., i, j], K
        )
    return dXp[..., pad : pad + H, pad : pad + W]
"#,
};

/// The layer rules the derivation states where a convolution's formulas appear
/// (chosen by `derive::rules` from the node's part and its operands'
/// shapes), each in words and formulas in both notations, with its index
/// form where that is clearer.
impl Conv2d {
    /// The convolution: `conv2d` is cross-correlation, its maps and kernels.
    pub const FORWARD_RULE: LayerRule = LayerRule {
        lead_in: Some("The convolution "),
        statement: const {
            &[
                m("conv2d(X, K)", r"\operatorname{conv2d}(X, K)"),
                w(" is cross-correlation (no kernel flip), as in PyTorch and CS231n; a map is "),
                same("[C, H, W]"),
                w(" (channels, height, width), a kernel bank "),
                m("[F, C, kh, kw]", r"[F, C, k_h, k_w]"),
            ]
        },
        index_form: Some(
            "Z[f,i,j] = Σ K[f,c,u,v] · X̃[c, s·i+u, s·j+v] over c, u, v (X̃: the input zero-padded by p; s: the stride)",
        ),
        latex_index_form: Some(r"Z[f,i,j] = \sum_{c,u,v} K[f,c,u,v]\, \tilde{X}[c,\, s i+u,\, s j+v]"),
        legend: None,
    };

    /// The kernels' gradient X̃ ⋆ δ and its index form.
    pub const KERNEL_GRAD_RULE: LayerRule = LayerRule {
        lead_in: Some("The kernel's gradient is "),
        statement: const {
            &[
                m("∂L/∂K[f,c] = X̃[c] ⋆ δ[f]", r"\partial L / \partial K[f,c] = \tilde{X}[c] \star \delta[f]"),
                w(": the valid cross-correlation of the input, zero-padded by "),
                same("p"),
                w(", with the error map, which for stride "),
                same("s"),
                w(" is dilated by "),
                m("s − 1", "s - 1"),
                w(" zeros between entries"),
            ]
        },
        index_form: Some("∂L/∂K[f,c,u,v] = Σᵢⱼ δ[f,i,j] · X̃[c, s·i+u, s·j+v]"),
        latex_index_form: Some(
            r"\partial L / \partial K[f,c,u,v] = \sum_{i,j} \delta[f,i,j]\, \tilde{X}[c,\, s i+u,\, s j+v]",
        ),
        legend: None,
    };

    /// The input's gradient, a full convolution, and its index form.
    pub const INPUT_GRAD_RULE: LayerRule = LayerRule {
        lead_in: Some("The input's gradient is "),
        statement: const {
            &[
                m(
                    "∂L/∂X[c] = Σ δ[f] ∗ K[f,c] over f",
                    r"\partial L / \partial X[c] = \textstyle\sum_{f} \delta[f] \ast K[f,c]",
                ),
                w(": a full convolution (equivalently "),
                m("δ[f]", r"\delta[f]"),
                w(" zero-padded by "),
                m("k − 1", "k - 1"),
                w(" and cross-correlated with "),
                m("rot180(K[f,c])", r"\operatorname{rot180}(K[f,c])"),
                w("), then cropped by "),
                same("p"),
                w(" on each side"),
            ]
        },
        index_form: Some("∂L/∂X̃[c,m,n] = Σ δ[f,i,j] · K[f,c,u,v] over f and s·i+u = m, s·j+v = n"),
        latex_index_form: Some(
            r"\partial L / \partial \tilde{X}[c,m,n] = \sum_{f} \sum_{s i+u=m,\ s j+v=n} \delta[f,i,j]\, K[f,c,u,v]",
        ),
        legend: None,
    };

    /// A vector `[F]` added to a map `[F, H, W]`: the bias gradient sums each channel.
    pub const CHANNEL_BIAS_RULE: LayerRule = LayerRule {
        lead_in: None,
        statement: const {
            &[
                w("a vector "),
                same("b"),
                w(" of length "),
                same("F"),
                w(" added to a map "),
                same("[F, H, W]"),
                w(" adds "),
                same("b[f]"),
                w(" to channel "),
                same("f"),
                w(", so its gradient sums each channel"),
            ]
        },
        index_form: Some("∂L/∂b[f] = Σᵢⱼ δ[f,i,j]"),
        latex_index_form: Some(r"\partial L / \partial b[f] = \sum_{i,j} \delta[f,i,j]"),
        legend: None,
    };

    /// A convolution over a batch of maps `[N, C, H, W]`: each map on its own, the kernel and bias gradients summed over the batch.
    pub const BATCH_RULE: LayerRule = LayerRule {
        lead_in: None,
        statement: const {
                    &[
                        w("a batch of maps "),
                        same("[N, C, H, W]"),
                        w(" (the batch axis first, as in PyTorch and CS231n) goes through conv2d one map at a time, giving "),
                        m("[N, F, H′, W′]", r"[N, F, H', W']"),
                        w("; the kernels and the bias are shared by every map, so their gradients sum over the batch "),
                        same("n"),
                        w(" as well as over the positions "),
                        same("i, j"),
                    ]
                },
        index_form: Some("Z[n,f,i,j] = Σ K[f,c,u,v] · X̃[n, c, s·i+u, s·j+v] over c, u, v; ∂L/∂K[f,c,u,v] = Σₙᵢⱼ δ[n,f,i,j] · X̃[n, c, s·i+u, s·j+v]; ∂L/∂b[f] = Σₙᵢⱼ δ[n,f,i,j]"),
        latex_index_form: Some(// Three lines, one per ` \\ `, aligned at their " = ".
                concat!(
                    r"Z[n,f,i,j] = \sum_{c,u,v} K[f,c,u,v]\, \tilde{X}[n,c,\, s i+u,\, s j+v] \\ ",
                    r"\partial L / \partial K[f,c,u,v] = \sum_{n,i,j} \delta[n,f,i,j]\, \tilde{X}[n,c,\, s i+u,\, s j+v] \\ ",
                    r"\partial L / \partial b[f] = \sum_{n,i,j} \delta[n,f,i,j]"
                )),
        legend: None,
    };

    /// A convolution channels last (`layout = nhwc`): forward, both gradients and the bias in the file's own indices.
    pub const CHANNELS_LAST_RULE: LayerRule = LayerRule {
        lead_in: None,
        statement: const {
                    &[
                        w("channels last ("),
                        m("layout = nhwc", r"\text{layout} = \text{nhwc}"),
                        w(", as in TensorFlow and deeplearning.ai): a batch of maps "),
                        same("[N, H, W, C]"),
                        w(" (one map "),
                        same("[H, W, C]"),
                        w(") and kernels "),
                        same("[kh, kw, C, F]"),
                        w(" give "),
                        m("[N, H′, W′, F]", r"[N, H', W', F]"),
                        w("; conv2d is cross-correlation (no kernel flip), each map on its own; the kernels and the bias are shared by every map, so their gradients sum over the batch "),
                        same("n"),
                        w(" as well as over the positions "),
                        same("h, w"),
                        w("; the input's gradient is the full convolution of δ with the kernels, cropped by the padding"),
                    ]
                },
        index_form: Some("Z[n,h,w,f] = Σ Ã[n, s·h+i, s·w+j, c] · W[i,j,c,f] over i, j, c, + b[f] (Ã: the input zero-padded by p; s: the stride); ∂L/∂W[i,j,c,f] = Σ δ[n,h,w,f] · Ã[n, s·h+i, s·w+j, c] over n, h, w; ∂L/∂b[f] = Σ δ[n,h,w,f] over n, h, w; ∂L/∂Ã[n,m,o,c] = Σ δ[n,h,w,f] · W[i,j,c,f] over f and s·h+i = m, s·w+j = o"),
        latex_index_form: Some(// Four lines, one per ` \\ `, aligned at their " = ".
                concat!(
                    r"Z[n,h,w,f] = \sum_{i,j,c} \tilde{A}[n,\, s h+i,\, s w+j,\, c]\, W[i,j,c,f] + b[f] \\ ",
                    r"\partial L / \partial W[i,j,c,f] = \sum_{n,h,w} \delta[n,h,w,f]\, \tilde{A}[n,\, s h+i,\, s w+j,\, c] \\ ",
                    r"\partial L / \partial b[f] = \sum_{n,h,w} \delta[n,h,w,f] \\ ",
                    r"\partial L / \partial \tilde{A}[n,m,o,c] = \sum_{f} \sum_{s h+i=m,\ s w+j=o} \delta[n,h,w,f]\, W[i,j,c,f]"
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

    /// The backward kernels' shapes give back the kernels' and the input's.
    #[test]
    fn backward_shapes() {
        let strided = Conv { stride: 2, pad: 1, layout: MapLayout::Nchw };
        let shape = |part, a: &[usize], b: &[usize], c| Conv2d.shape(part, &[&s(a), &s(b)], c);
        assert_eq!(shape(ConvPart::Forward, &[3, 5, 5], &[2, 3, 3, 3], strided), s(&[2, 3, 3]));
        assert_eq!(shape(ConvPart::KernelGrad, &[3, 5, 5], &[2, 3, 3], strided), s(&[2, 3, 3, 3]));
        assert_eq!(shape(ConvPart::InputGrad, &[2, 3, 3], &[2, 3, 3, 3], strided), s(&[3, 5, 5]));
        // A batch of maps: the batch axis leads, the channel axis is the second.
        assert_eq!(shape(ConvPart::KernelGrad, &[2, 3, 5, 5], &[2, 4, 3, 3], strided), s(&[4, 3, 3, 3]));
        assert_eq!(shape(ConvPart::InputGrad, &[2, 4, 3, 3], &[4, 3, 3, 3], strided), s(&[2, 3, 5, 5]));
        // Channels last: the same rules, read through the layout.
        let nhwc = Conv { layout: MapLayout::Nhwc, ..strided };
        assert_eq!(shape(ConvPart::KernelGrad, &[10, 5, 7, 4], &[10, 3, 4, 8], nhwc), s(&[3, 3, 4, 8]));
        assert_eq!(shape(ConvPart::InputGrad, &[10, 3, 4, 8], &[3, 3, 4, 8], nhwc), s(&[10, 5, 7, 4]));
    }
}
