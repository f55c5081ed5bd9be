//! The derivative rules of the elementwise built-ins, as one table.
//!
//! Each rule is one named line; [`derivative`] builds it. Where a textbook
//! writes a derivative through the function's output (σ′ = σ(1 − σ),
//! tanh′ = 1 − tanh²), the rule is given that output, which is the named
//! tensor when the function defines one (`h = sigmoid(z)` gives `h ⊙ (1 − h)`).

use crate::model::ops::map::{Conv2d, LayerRule, Pool};
use crate::model::sentence::{m, same, w, Part, Sentence};
use crate::model::{
    Axis, ConvPart, Elementwise, Func, Graph, LossFn, MapLayout, Node, NodeId, PoolKind, PoolPart, Reduction,
};

/// A named derivative rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Rule name, as shown in derivation steps (`d-relu`).
    pub name: &'static str,
    pub function: Elementwise,
}

/// Every elementwise built-in's derivative rule, in [`Elementwise::ALL`]'s
/// order; a function of two arguments has one rule giving both partial
/// derivatives. Each rule's name and formula live in the built-in's own
/// file (`model::ops::elementwise`).
pub fn rules() -> impl Iterator<Item = Rule> {
    Elementwise::ALL.into_iter().map(rule)
}

/// The rules a derivation step names that are not an elementwise
/// built-in's derivative (those are built by [`derivative`] and
/// [`partial`], and stated from them): the adjoint of each operation, the
/// losses' own rules, and the kinds of step. `ā` is ∂L/∂a, the gradient that
/// reaches `a`; each statement says what one operation passes back.
pub const STEP_RULES: &[(&str, Sentence)] = &[
    ("d-add", &[m("c = a + b: ā = c̄, b̄ = c̄", "c = a + b\\colon\\ \\bar{a} = \\bar{c},\\ \\bar{b} = \\bar{c}")]),
    ("d-sub", &[m("c = a − b: ā = c̄, b̄ = −c̄", "c = a - b\\colon\\ \\bar{a} = \\bar{c},\\ \\bar{b} = -\\bar{c}")]),
    ("d-neg", &[m("c = −a: ā = −c̄", "c = -a\\colon\\ \\bar{a} = -\\bar{c}")]),
    (
        "d-mul",
        &[
            m("c = a ⊙ b: ā = c̄ ⊙ b, b̄ = c̄ ⊙ a", "c = a \\odot b\\colon\\ \\bar{a} = \\bar{c} \\odot b,\\ \\bar{b} = \\bar{c} \\odot a"),
            w(" (a scalar factor's gradient sums over the entries)"),
        ],
    ),
    (
        "d-div",
        &[m(
            "c = a ⊘ b: ā = c̄ ⊘ b, b̄ = −c̄ ⊙ a ⊘ b²",
            "c = a \\oslash b\\colon\\ \\bar{a} = \\bar{c} \\oslash b,\\ \\bar{b} = -\\bar{c} \\odot a \\oslash b^{2}",
        )],
    ),
    ("d-pow", &[m("c = aᵏ: ā = k aᵏ⁻¹ ⊙ c̄", "c = a^{k}\\colon\\ \\bar{a} = k\\, a^{k-1} \\odot \\bar{c}")]),
    ("d-matmul-left", &[m("C = A B: Ā = C̄ Bᵀ", "C = A B\\colon\\ \\bar{A} = \\bar{C} B^\\top")]),
    ("d-matmul-right", &[m("C = A B: B̄ = Aᵀ C̄", "C = A B\\colon\\ \\bar{B} = A^\\top \\bar{C}")]),
    ("d-transpose", &[m("C = Aᵀ: Ā = C̄ᵀ", "C = A^\\top\\colon\\ \\bar{A} = \\bar{C}^\\top")]),
    (
        "d-custom",
        &[
            m("c = f(a, …): ā = ∂f/∂a(a, …) ⊙ c̄", "c = f(a, \\dots)\\colon\\ \\bar{a} = \\partial_{a} f(a, \\dots) \\odot \\bar{c}"),
            w(", with the function's derivative as worked out above"),
        ],
    ),
    ("d-sum", &[m("c = Σa: ā = c̄", "c = \\textstyle\\sum a\\colon\\ \\bar{a} = \\bar{c}"), w(" in every entry")]),
    (
        "d-mean",
        &[m("c = mean(a): ā = c̄ / n", "c = \\operatorname{mean}(a)\\colon\\ \\bar{a} = \\bar{c} / n"), w(" in every entry, n the number of entries")],
    ),
    (
        "d-broadcast",
        &[w("a tensor added to each column, row or channel of a larger one gets the sum of the gradient over the copies: for a column "), m("b", "b"), w(" added to each column of "), m("C", "C"), w(", "), m("b̄ = C̄ 1", "\\bar{b} = \\bar{C} \\mathbf{1}")],
    ),
    (
        "d-softmax",
        &[m("p = softmax(z): z̄ = p ⊙ p̄ − p Σ(p ⊙ p̄)", "p = \\operatorname{softmax}(z)\\colon\\ \\bar{z} = p \\odot \\bar{p} - p \\textstyle\\sum (p \\odot \\bar{p})")],
    ),
    (
        "d-masked-softmax",
        &[
            m(
                "A = softmax(S) over the entries M keeps: S̄ = A ⊙ Ā − A ⊙ ((A ⊙ Ā) 1)",
                "A = \\operatorname{softmax}_M(S)\\colon\\ \\bar{S} = A \\odot \\bar{A} - A \\odot ((A \\odot \\bar{A}) \\mathbf{1})",
            ),
            w(", d-softmax over the kept entries of each row (or column); where "),
            same("M"),
            w(" is 0, "),
            same("A"),
            w(" is 0 and so is "),
            m("S̄", "\\bar{S}"),
        ],
    ),
    (
        D_SOFTMAX_WRITTEN_OUT,
        &[m("exp(z) / Σexp(z)", "\\exp(z) / \\textstyle\\sum \\exp(z)"), w(" is "), m("softmax(z)", "\\operatorname{softmax}(z)"), w(", so d-softmax gives its gradient")],
    ),
    (
        "d-log-softmax",
        &[m("l = log_softmax(z): z̄ = l̄ − softmax(z) Σl̄", "l = \\operatorname{log\\_softmax}(z)\\colon\\ \\bar{z} = \\bar{l} - \\operatorname{softmax}(z) \\textstyle\\sum \\bar{l}")],
    ),
    ("d-maxpool", &[w("max-pooling routes the gradient of each window to the position of the window's maximum (the layer rules give the index form)")]),
    ("d-avgpool", &[w("average-pooling shares the gradient of each window equally among its "), m("k²", "k^{2}"), w(" entries")]),
    ("d-flatten", &[w("flatten's gradient is the gradient of the column, reshaped back to the map's shape "), same("[C, H, W]")]),
    ("d-reshape", &[w("a reshape's gradient is the gradient laid out in the operand's shape again, the same entries in the same row-major order")]),
    (
        "d-slice",
        &[
            m("S = A[r]: Ā = unslice(S̄, r)", "S = A[r]\\colon\\ \\bar{A} = \\operatorname{unslice}_{r}(\\bar{S})"),
            w(": the slice's gradient placed back at the slice's entries, in zeros of "),
            same("A"),
            w("'s shape"),
        ],
    ),
    (
        "d-lookup",
        &[
            m("O = W[x]: W̄[k] = Σ Ō[p] over the positions p with x[p] = k", "O = W[x]\\colon\\ \\bar{W}[k] = \\textstyle\\sum_{p:\\, x[p] = k} \\bar{O}[p]"),
            w(": each row of the table gets the gradients of the positions that picked it, added up (NumPy's "),
            same("np.add.at"),
            w(")"),
        ],
    ),
    ("d-conv2d-input", &[w("a convolution's gradient with respect to its input, as the layer rules give it")]),
    ("d-conv2d-kernel", &[w("a convolution's gradient with respect to its kernels, as the layer rules give it")]),
    (
        "d-cross-entropy",
        &[m("L = −Σ y ⊙ log p: p̄ = −y ⊘ p, ȳ = −log p", "L = -\\textstyle\\sum y \\odot \\log p\\colon\\ \\bar{p} = -y \\oslash p,\\ \\bar{y} = -\\log p"), w(" (over a batch, each divided by the number of examples)")],
    ),
    ("d-mse", &[m("L = mean((p − y)²): p̄ = (2/n) (p − y), ȳ = −p̄", "L = \\operatorname{mean}((p - y)^{2})\\colon\\ \\bar{p} = \\tfrac{2}{n} (p - y),\\ \\bar{y} = -\\bar{p}")]),
    (
        "d-bce",
        &[m(
            "L = −mean(y ⊙ log p + (1 − y) ⊙ log(1 − p)): p̄ = −(1/n) (y ⊘ p − (1 − y) ⊘ (1 − p))",
            "L = -\\operatorname{mean}(y \\odot \\log p + (1 - y) \\odot \\log(1 - p))\\colon\\ \\bar{p} = -\\tfrac{1}{n} (y \\oslash p - (1 - y) \\oslash (1 - p))",
        )],
    ),
    (
        "batchnorm-closed-form",
        &[
            w("the staged gradients above, collected: with "),
            m("G = ∂L/∂out", "G = \\partial L / \\partial \\mathit{out}"),
            w(" (out the layer's output) and "),
            same("N"),
            w(" the number of examples, "),
            m(
                "∂L/∂X = (1/N) (γ ⊘ σ) ⊙ (N G − Σₙ G − x̂ ⊙ Σₙ (G ⊙ x̂))",
                "\\frac{\\partial L}{\\partial X} = \\tfrac{1}{N} (\\gamma \\oslash \\sigma) \\odot \\left(N G - \\textstyle\\sum_n G - \\hat{x} \\odot \\textstyle\\sum_n (G \\odot \\hat{x})\\right)",
            ),
            w(", where "),
            m("σ = sqrt(var + ε)", "\\sigma = \\sqrt{\\mathit{var} + \\varepsilon}"),
        ],
    ),
    (
        "spatial-batchnorm-closed-form",
        &[
            w("the staged gradients above, collected, for maps "),
            same("[N, C, H, W]"),
            w(": with "),
            m("G = ∂L/∂out", "G = \\partial L / \\partial \\mathit{out}"),
            w(", sums "),
            m("Σₙᵢⱼ", "\\textstyle\\sum_{n,i,j}"),
            w(" over the examples and positions of each channel and "),
            m("m = N H W", "m = N H W"),
            w(" entries in each, "),
            m(
                "∂L/∂X = (1/m) (γ ⊘ σ) ⊙ (m G − Σₙᵢⱼ G − x̂ ⊙ Σₙᵢⱼ (G ⊙ x̂))",
                "\\frac{\\partial L}{\\partial X} = \\tfrac{1}{m} (\\gamma \\oslash \\sigma) \\odot \\left(m G - \\textstyle\\sum_{n,i,j} G - \\hat{x} \\odot \\textstyle\\sum_{n,i,j} (G \\odot \\hat{x})\\right)",
            ),
            w(", where "),
            m("σ = sqrt(var + ε)", "\\sigma = \\sqrt{\\mathit{var} + \\varepsilon}"),
            w(", each channel's "),
            m("γ", "\\gamma"),
            w(" and "),
            m("σ", "\\sigma"),
            w(" spread over its maps"),
        ],
    ),
    (
        "layernorm-closed-form",
        &[
            w("the staged gradients above, collected: with "),
            m(
                "Ĝ = ∂L/∂x̂ = (∂L/∂out) ⊙ γ",
                "\\hat{G} = \\partial L / \\partial \\hat{x} = (\\partial L / \\partial \\mathit{out}) \\odot \\gamma",
            ),
            w(" and "),
            same("D"),
            w(" the number of features of an example, "),
            m(
                "∂L/∂X = (1/D) (D Ĝ − Σ_d Ĝ − x̂ ⊙ Σ_d (Ĝ ⊙ x̂)) ⊘ σ",
                "\\frac{\\partial L}{\\partial X} = \\tfrac{1}{D} \\left(D \\hat{G} - \\textstyle\\sum_d \\hat{G} - \\hat{x} \\odot \\textstyle\\sum_d (\\hat{G} \\odot \\hat{x})\\right) \\oslash \\sigma",
            ),
            w(", where "),
            m("σ = sqrt(var + ε)", "\\sigma = \\sqrt{\\mathit{var} + \\varepsilon}"),
        ],
    ),
    ("substitute", &[w("put in the formulas of the gradients named in the line above")]),
    ("expand", &[w("multiply out a product over a sum")]),
    ("result", &[w("the gradient as the steps above leave it")]),
];

/// The statement of a rule a step names, if the table holds it.
pub fn step_rule_statement(name: &str) -> Option<Sentence> {
    STEP_RULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The rule for a softmax written out, `exp(z) / Σexp(z)`: it is softmax(z),
/// so its gradient is d-softmax's, `(diag(p) − p pᵀ) ḡ` (see [`softmax_written_out`]).
pub const D_SOFTMAX_WRITTEN_OUT: &str = "d-softmax of exp(z) / Σexp(z)";

/// For a node `exp(z) ⊘ Σexp(z)` with z a vector (a softmax written out),
/// the node `exp(z)` and z.
pub fn softmax_written_out(g: &Graph, id: NodeId) -> Option<(NodeId, NodeId)> {
    let Node::Div(exp, total) = *g.node(id) else { return None };
    let Node::Apply(Func::Builtin(Elementwise::Exp), ref args) = *g.node(exp) else { return None };
    let [z] = args[..] else { return None };
    let sums_exp = matches!(*g.node(total), Node::Reduce(Reduction::Sum, e) if e == exp);
    (sums_exp && g.shape(z).vector_axis().is_some() && g.shape(z).len() > 1).then_some((exp, z))
}

/// The rule for `f`, named by its file in `model::ops::elementwise`.
pub fn rule(f: Elementwise) -> Rule {
    Rule { name: f.op().rule(), function: f }
}

/// The partial derivative of `f(args)` with respect to argument `wrt`,
/// where `out` is f(args) itself or the tensor that names it: the
/// built-in's own formula ([`ElementwiseOp::partial`](crate::model::ops::elementwise::ElementwiseOp::partial)).
pub fn partial(g: &mut Graph, f: Elementwise, args: &[NodeId], wrt: usize, out: NodeId) -> NodeId {
    // An argument the built-in does not take (the checker refuses such a
    // call) has no influence on it.
    if args.is_empty() || wrt >= f.arity() {
        return g.int(0);
    }
    f.op().partial(g, args, wrt, out)
}

/// f′(u) for a built-in of one argument, where `out` is f(u) itself or the
/// tensor that names it (0 for a built-in of two: see [`partial`]).
pub fn derivative(g: &mut Graph, f: Elementwise, u: NodeId, out: NodeId) -> NodeId {
    f.op().derivative(g, u, out)
}

/// The conventions the derivative of `f` relies on, if any.
pub fn convention(f: Elementwise) -> Option<Convention> {
    match f {
        Elementwise::Relu | Elementwise::Step => Some(Convention::ReluAtZero),
        Elementwise::Abs | Elementwise::Sign => Some(Convention::AbsAtZero),
        Elementwise::LeakyRelu => Some(Convention::LeakyReluAtZero),
        Elementwise::Max | Elementwise::Min => Some(Convention::MaxMinTie),
        Elementwise::Gelu | Elementwise::NormCdf | Elementwise::NormPdf => Some(Convention::GeluExact),
        _ => None,
    }
}

/// The value relu′ and step take at 0, in [`Convention::ReluAtZero`]'s statement.
const RELU_AT_ZERO: Part = m("relu′(0) = step(0) = 0", r"\operatorname{relu}'(0) = \operatorname{step}(0) = 0");
/// The value sign takes at 0, in [`Convention::AbsAtZero`]'s statement.
const SIGN_AT_ZERO: Part = m("sign(0) = 0", r"\operatorname{sign}(0) = 0");

/// A convention at a point where a function has no derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Convention {
    /// relu′(t) = step(t), with relu′(0) = step(0) = 0; step′ = 0.
    ReluAtZero,
    /// abs′(t) = sign(t), with sign(0) = 0; sign′ = 0.
    AbsAtZero,
    /// leaky_relu′ at 0 is the slope a (step(0) = 0).
    LeakyReluAtZero,
    /// max and min pass the gradient of a tie to their first argument.
    MaxMinTie,
    /// gelu is the exact erf form t Φ(t), not the tanh approximation.
    GeluExact,
    /// conv2d is cross-correlation, maps `[C, H, W]`, kernels `[F, C, kh, kw]`.
    ConvForward,
    /// The kernel gradient X̃ ⋆ δ and its index form.
    ConvKernelGrad,
    /// The input gradient, a full convolution, and its index form.
    ConvInputGrad,
    /// A vector `[F]` added to a map `[F, H, W]`: the bias gradient sums each channel.
    ChannelBias,
    /// A convolution over a batch of maps `[N, C, H, W]`: each map on its
    /// own, the kernel and bias gradients summed over the batch.
    BatchConv,
    /// Max-pool routing and its tie rule.
    MaxPool,
    /// Average-pool spreading.
    AvgPool,
    /// A pooling of a batch of maps `[N, C, H, W]`: each map and channel on its own.
    BatchPool,
    /// A convolution channels last (`layout = nhwc`: maps `[N, H, W, C]`,
    /// kernels `[kh, kw, C, F]`): forward, both gradients and the bias in
    /// the file's own indices.
    ChannelsLastConv,
    /// A pooling channels last: each map and channel of `[N, H, W, C]` on its own.
    ChannelsLastPool,
    /// A pooling with padding, in ceil mode, or whose windows leave rows
    /// or columns out: PyTorch's count of windows and its padding values.
    PoolWindows,
    /// A pooling whose window, stride or padding differs between height and
    /// width (`maxpool(X, [2, 3], stride = [2, 3])`): the (height, width)
    /// pairs, PyTorch's count of windows along each axis and its padding values.
    RectPool,
    /// flatten's order and backward.
    Flatten,
    /// An operand stretched over a matrix (a bias added to every example):
    /// its gradient sums along the stretched axis.
    Broadcast,
    /// softmax and log_softmax of a matrix, each column (axis 0) or each row
    /// (axis 1) on its own.
    SoftmaxAlong(Axis),
    /// cross_entropy of a batch whose classes lie along the axis: the mean
    /// over the examples.
    BatchCrossEntropy(Axis),
    /// Integer class labels read as one-hot targets, the classes along the axis.
    OneHot(Axis),
    /// A slice `A[r]` and its gradient, `unslice`.
    Slice,
    /// An embedding lookup `W[x]` and its gradient, `scatter_add`.
    Lookup,
    /// 𝟏, the tensor of ones that expands a gradient to its operand's shape.
    Ones,
    /// Masked attention's softmax of each row over the entries its mask keeps.
    MaskedSoftmax,
}

/// The statement a convolution-layer node of a formula relies on, if any:
/// the layer rules as one table, next to the derivative rules.
pub fn layer_convention(node: &Node) -> Option<Convention> {
    Some(match node {
        // Channels last, one rule states the layer in the file's own indices.
        Node::Conv(_, _, _, c) if c.layout == MapLayout::Nhwc => Convention::ChannelsLastConv,
        Node::Conv(ConvPart::Forward, ..) => Convention::ConvForward,
        Node::Conv(ConvPart::KernelGrad, ..) => Convention::ConvKernelGrad,
        Node::Conv(ConvPart::InputGrad, ..) => Convention::ConvInputGrad,
        // A map's channels first are its axis 0 or 1; past those, its last.
        Node::SumSpatial(_, axis) if *axis >= 2 => Convention::ChannelsLastConv,
        Node::SumSpatial(..) => Convention::ChannelBias,
        Node::Pool(PoolKind::Max, ..) => Convention::MaxPool,
        Node::Pool(PoolKind::Avg, ..) => Convention::AvgPool,
        Node::Flatten(_) | Node::Reshape(..) => Convention::Flatten,
        Node::SumAxis(..) => Convention::Broadcast,
        Node::OneHot(_, _, axis) => Convention::OneHot(*axis),
        Node::Slice(..) | Node::Unslice(..) => Convention::Slice,
        Node::Gather(..) | Node::ScatterAdd(..) => Convention::Lookup,
        Node::Loss(LossFn::CrossEntropy(Some(axis)), ..) => Convention::BatchCrossEntropy(*axis),
        Node::Ones(_) => Convention::Ones,
        Node::MaskedSoftmax(..) => Convention::MaskedSoftmax,
        _ => return None,
    })
}

/// The statement a layer over a batch of maps `[N, C, H, W]` relies on
/// (which the node alone cannot say: the batch is in its operand's shape).
pub fn map_batch_convention(g: &Graph, n: NodeId) -> Option<Convention> {
    match *g.node(n) {
        Node::Conv(ConvPart::Forward, _, _, c) if c.layout == MapLayout::Nhwc => None,
        Node::Pool(_, PoolPart::Forward, _, w) if w.layout == MapLayout::Nhwc => Some(Convention::ChannelsLastPool),
        Node::Conv(ConvPart::Forward, x, ..) if g.shape(x).rank() == 4 => Some(Convention::BatchConv),
        Node::Pool(_, PoolPart::Forward, ref a, _) if a.first().is_some_and(|&a| g.shape(a).rank() == 4) => {
            Some(Convention::BatchPool)
        }
        _ => None,
    }
}

/// The statement a pooling that pads, rounds up, or leaves rows or columns
/// out relies on; a window that differs between height and width states
/// its pairs (and PyTorch's count of windows along each axis) instead.
pub fn pool_window_convention(g: &Graph, n: NodeId) -> Option<Convention> {
    match *g.node(n) {
        Node::Pool(_, PoolPart::Forward, _, w) if !w.is_square() => Some(Convention::RectPool),
        Node::Pool(_, PoolPart::Forward, _, w) if w.pad != [0, 0] || w.ceil || w.unreached(0) + w.unreached(1) > 0 => {
            Some(Convention::PoolWindows)
        }
        _ => None,
    }
}

/// The statement a softmax of a matrix relies on (which the node alone
/// cannot say: a vector's softmax has an axis too).
pub fn batch_convention(g: &Graph, n: NodeId) -> Option<Convention> {
    match *g.node(n) {
        Node::Softmax(a, axis) | Node::LogSoftmax(a, axis) if g.shape(a).vector_axis().is_none() => {
            Some(Convention::SoftmaxAlong(axis))
        }
        _ => None,
    }
}

impl Convention {
    /// A layer's forward or backward rule (shown with the derivation), as
    /// opposed to a convention at a kink.
    pub fn is_layer_rule(self) -> bool {
        !matches!(
            self,
            Convention::ReluAtZero
                | Convention::AbsAtZero
                | Convention::LeakyReluAtZero
                | Convention::MaxMinTie
                | Convention::GeluExact
        )
    }

    /// The words that open a layer rule's paragraph in a document when its
    /// [`Convention::statement`] begins with a formula, so that the
    /// sentence starts with a capital ("The kernel's gradient is ∂L/∂K…").
    /// `None` when the statement begins with words.
    pub fn lead_in(self) -> Option<&'static str> {
        Some(match self {
            // A map operation states its layer rules in its own file.
            Convention::ConvForward
            | Convention::ConvKernelGrad
            | Convention::ConvInputGrad
            | Convention::ChannelBias
            | Convention::BatchConv
            | Convention::ChannelsLastConv
            | Convention::MaxPool
            | Convention::AvgPool
            | Convention::BatchPool
            | Convention::ChannelsLastPool
            | Convention::PoolWindows
            | Convention::RectPool => return self.map_rule().and_then(|r| r.lead_in),
            Convention::SoftmaxAlong(_) => "In a batch, ",
            Convention::BatchCrossEntropy(_) => "The loss ",
            Convention::ReluAtZero
            | Convention::AbsAtZero
            | Convention::LeakyReluAtZero
            | Convention::MaxMinTie
            | Convention::GeluExact
            | Convention::Flatten
            | Convention::Broadcast
            | Convention::OneHot(_)
            | Convention::Slice
            | Convention::Lookup
            | Convention::Ones
            | Convention::MaskedSoftmax => return None,
        })
    }

    /// [`Convention::index_form`] in LaTeX, for documents: one or more
    /// equations `lhs = rhs`, separated by ` \\ `.
    pub fn latex_index_form(self) -> Option<&'static str> {
        Some(match self {
            // A map operation states its layer rules in its own file.
            Convention::ConvForward
            | Convention::ConvKernelGrad
            | Convention::ConvInputGrad
            | Convention::ChannelBias
            | Convention::BatchConv
            | Convention::ChannelsLastConv
            | Convention::MaxPool
            | Convention::AvgPool
            | Convention::BatchPool
            | Convention::ChannelsLastPool
            | Convention::PoolWindows
            | Convention::RectPool => return self.map_rule().and_then(|r| r.latex_index_form),
            Convention::Flatten => r"v[(c H + i) W + j] = T[c,i,j]",
            Convention::Broadcast => {
                r"(A \mathbf{1})[i] = \sum_{j} A[i,j], \quad (\mathbf{1}^\top A)[j] = \sum_{i} A[i,j]"
            }
            Convention::SoftmaxAlong(a) if a == Axis::DOWN => {
                r"\operatorname{softmax}(Z)[k,n] = \exp Z[k,n] \,/\, \textstyle\sum_{j} \exp Z[j,n]"
            }
            Convention::SoftmaxAlong(_) => {
                r"\operatorname{softmax}(Z)[n,k] = \exp Z[n,k] \,/\, \textstyle\sum_{j} \exp Z[n,j]"
            }
            Convention::BatchCrossEntropy(a) if a == Axis::DOWN => {
                r"L = -\tfrac{1}{N} \textstyle\sum_{n} \sum_{k} Y[k,n] \log P[k,n]"
            }
            Convention::BatchCrossEntropy(_) => r"L = -\tfrac{1}{N} \textstyle\sum_{n} \sum_{k} Y[n,k] \log P[n,k]",
            Convention::OneHot(a) if a == Axis::DOWN => {
                r"\operatorname{onehot}(c)[k,n] = 1 \text{ if } k = c[n], \text{ else } 0"
            }
            Convention::OneHot(_) => r"\operatorname{onehot}(c)[n,k] = 1 \text{ if } k = c[n], \text{ else } 0",
            Convention::Slice => {
                r"\operatorname{unslice}_{r}(G)[i] = G[i - a] \text{ if } a \le i < b, \text{ else } 0 \quad (r = a{:}b \text{ on each axis})"
            }
            Convention::Lookup => {
                r"W[x][p,:] = W[x[p],:], \quad \operatorname{scatter\_add}_{x}(G)[k,:] = \textstyle\sum_{p:\, x[p] = k} G[p,:]"
            }
            Convention::Ones => r"\mathbf{1}[i,j] = 1, \quad (\mu \odot \mathbf{1})[i,j] = \mu[i]",
            Convention::MaskedSoftmax => {
                r"\operatorname{softmax}_M(S)[t,s] = M[t,s] \exp S[t,s] \,/\, \textstyle\sum_{j} M[t,j] \exp S[t,j]"
            }
            Convention::ReluAtZero
            | Convention::AbsAtZero
            | Convention::LeakyReluAtZero
            | Convention::MaxMinTie
            | Convention::GeluExact => return None,
        })
    }

    /// What the sets in [`Convention::latex_index_form`] stand for.
    pub fn legend(self) -> Option<Sentence> {
        self.map_rule().and_then(|r| r.legend)
    }

    /// The statement of a map operation's layer rule, which its file
    /// (`model::ops::map`) holds; `None` for the other conventions.
    fn map_rule(self) -> Option<&'static LayerRule> {
        Some(match self {
            Convention::ConvForward => &Conv2d::FORWARD_RULE,
            Convention::ConvKernelGrad => &Conv2d::KERNEL_GRAD_RULE,
            Convention::ConvInputGrad => &Conv2d::INPUT_GRAD_RULE,
            Convention::ChannelBias => &Conv2d::CHANNEL_BIAS_RULE,
            Convention::BatchConv => &Conv2d::BATCH_RULE,
            Convention::ChannelsLastConv => &Conv2d::CHANNELS_LAST_RULE,
            Convention::MaxPool => &Pool::MAX_RULE,
            Convention::AvgPool => &Pool::AVG_RULE,
            Convention::BatchPool => &Pool::BATCH_RULE,
            Convention::ChannelsLastPool => &Pool::CHANNELS_LAST_RULE,
            Convention::PoolWindows => &Pool::WINDOWS_RULE,
            Convention::RectPool => &Pool::RECT_RULE,
            Convention::ReluAtZero
            | Convention::AbsAtZero
            | Convention::LeakyReluAtZero
            | Convention::MaxMinTie
            | Convention::GeluExact
            | Convention::Flatten
            | Convention::Broadcast
            | Convention::SoftmaxAlong(_)
            | Convention::BatchCrossEntropy(_)
            | Convention::OneHot(_)
            | Convention::Slice
            | Convention::Lookup
            | Convention::Ones
            | Convention::MaskedSoftmax => return None,
        })
    }

    /// The same rule entry by entry, where that is clearer (text notation).
    pub fn index_form(self) -> Option<&'static str> {
        Some(match self {
            // A map operation states its layer rules in its own file.
            Convention::ConvForward
            | Convention::ConvKernelGrad
            | Convention::ConvInputGrad
            | Convention::ChannelBias
            | Convention::BatchConv
            | Convention::ChannelsLastConv
            | Convention::MaxPool
            | Convention::AvgPool
            | Convention::BatchPool
            | Convention::ChannelsLastPool
            | Convention::PoolWindows
            | Convention::RectPool => return self.map_rule().and_then(|r| r.index_form),
            Convention::Flatten => "v[(c·H + i)·W + j] = T[c,i,j]",
            Convention::Broadcast => "(A 1)[i] = Σⱼ A[i,j] and (1ᵀ A)[j] = Σᵢ A[i,j]",
            Convention::SoftmaxAlong(a) if a == Axis::DOWN => "softmax(Z)[k,n] = exp(Z[k,n]) / Σⱼ exp(Z[j,n])",
            Convention::SoftmaxAlong(_) => "softmax(Z)[n,k] = exp(Z[n,k]) / Σⱼ exp(Z[n,j])",
            Convention::BatchCrossEntropy(a) if a == Axis::DOWN => "L = −(1/N) Σₙ Σₖ Y[k,n] log P[k,n]",
            Convention::BatchCrossEntropy(_) => "L = −(1/N) Σₙ Σₖ Y[n,k] log P[n,k]",
            Convention::OneHot(a) if a == Axis::DOWN => "onehot(c)[k,n] = 1 if k = c[n], else 0",
            Convention::OneHot(_) => "onehot(c)[n,k] = 1 if k = c[n], else 0",
            Convention::Slice => "unslice(G, r)[i] = G[i − a] if a ≤ i < b on every axis (r = a:b on each), else 0",
            Convention::Lookup => "W[x][p,:] = W[x[p],:], and scatter_add(G, x)[k,:] = Σ G[p,:] over the positions p with x[p] = k",
            Convention::Ones => "𝟏[i,j] = 1 and (μ ⊙ 𝟏)[i,j] = μ[i]",
            Convention::MaskedSoftmax => "softmax(S, mask = M)[t,s] = M[t,s] exp(S[t,s]) / Σⱼ M[t,j] exp(S[t,j]) along each row (each column likewise)",
            Convention::ReluAtZero
            | Convention::AbsAtZero
            | Convention::LeakyReluAtZero
            | Convention::MaxMinTie
            | Convention::GeluExact => return None,
        })
    }

    /// The value the convention takes where the function has no
    /// derivative (`sign(0) = 0`), for a note that says a value was
    /// computed there; `None` for a convention without such a point.
    pub fn at_kink(self) -> Option<Part> {
        match self {
            Convention::ReluAtZero => Some(RELU_AT_ZERO),
            Convention::AbsAtZero => Some(SIGN_AT_ZERO),
            // leaky_relu, max and min take their kinks through step and the
            // comparison of their arguments, whose values carry no note.
            Convention::LeakyReluAtZero | Convention::MaxMinTie | Convention::GeluExact => None,
            // The layer rules state no kink.
            Convention::ConvForward
            | Convention::ConvKernelGrad
            | Convention::ConvInputGrad
            | Convention::SoftmaxAlong(_)
            | Convention::BatchCrossEntropy(_)
            | Convention::ChannelBias
            | Convention::BatchConv
            | Convention::BatchPool
            | Convention::ChannelsLastConv
            | Convention::ChannelsLastPool
            | Convention::PoolWindows
            | Convention::RectPool
            | Convention::MaxPool
            | Convention::AvgPool
            | Convention::Flatten
            | Convention::Broadcast
            | Convention::OneHot(_)
            | Convention::Slice
            | Convention::Lookup
            | Convention::Ones
            | Convention::MaskedSoftmax => None,
        }
    }

    /// The statement, words and formulas in both notations.
    pub fn statement(self) -> Sentence {
        match self {
            // A map operation states its layer rules in its own file.
            Convention::ConvForward
            | Convention::ConvKernelGrad
            | Convention::ConvInputGrad
            | Convention::ChannelBias
            | Convention::BatchConv
            | Convention::ChannelsLastConv
            | Convention::MaxPool
            | Convention::AvgPool
            | Convention::BatchPool
            | Convention::ChannelsLastPool
            | Convention::PoolWindows
            | Convention::RectPool => self.map_rule().map_or(&[], |r| r.statement),
            Convention::ReluAtZero => {
                const {
                    &[
                        m("relu′(t) = step(t)", r"\operatorname{relu}'(t) = \operatorname{step}(t)"),
                        w(", taking "),
                        RELU_AT_ZERO,
                        w(" and "),
                        m("step′(t) = 0", r"\operatorname{step}'(t) = 0"),
                    ]
                }
            }
            Convention::AbsAtZero => {
                const {
                    &[
                        m("abs′(t) = sign(t)", r"\operatorname{abs}'(t) = \operatorname{sign}(t)"),
                        w(", taking "),
                        SIGN_AT_ZERO,
                        w(" and "),
                        m("sign′(t) = 0", r"\operatorname{sign}'(t) = 0"),
                    ]
                }
            }
            Convention::LeakyReluAtZero => {
                const {
                    &[
                        m(
                            "∂leaky_relu/∂t(t, a) = a + (1 − a) step(t)",
                            r"\partial \operatorname{leaky\_relu} / \partial t\,(t, a) = a + (1 - a) \operatorname{step}(t)",
                        ),
                        w(", taking the slope at "),
                        m("t = 0", "t = 0"),
                        w(" to be "),
                        same("a"),
                        w(" ("),
                        m("step(0) = 0", r"\operatorname{step}(0) = 0"),
                        w("), as PyTorch does"),
                    ]
                }
            }
            Convention::MaxMinTie => {
                const {
                    &[
                        m(
                            "∂max/∂a(a, b) = 1 − step(b − a)",
                            r"\partial \max / \partial a\,(a, b) = 1 - \operatorname{step}(b - a)",
                        ),
                        w(" and "),
                        m(
                            "∂max/∂b(a, b) = step(b − a)",
                            r"\partial \max / \partial b\,(a, b) = \operatorname{step}(b - a)",
                        ),
                        w(" (min likewise with "),
                        m("a − b", "a - b"),
                        w("): on a tie "),
                        m("a = b", "a = b"),
                        w(" the whole gradient goes to the first argument, as maxpool's goes to the first maximum"),
                    ]
                }
            }
            Convention::GeluExact => {
                const {
                    &[
                        m("gelu(t) = t Φ(t)", r"\operatorname{gelu}(t) = t\, \Phi(t)"),
                        w(", the exact form with "),
                        m("Φ(t) = (1 + erf(t/√2))/2", r"\Phi(t) = \bigl(1 + \operatorname{erf}(t/\sqrt{2})\bigr)/2"),
                        w(" the standard normal CDF (normcdf) and "),
                        m("φ(t) = exp(−t²/2)/√(2π)", r"\varphi(t) = \exp(-t^{2}/2)/\sqrt{2\pi}"),
                        w(" its density (normpdf), as PyTorch's default; not the tanh approximation"),
                    ]
                }
            }
            Convention::Flatten => {
                const {
                    &[
                        w("flatten lists the entries row-major over "),
                        same("[C, H, W]"),
                        w(" (channel, then row, then column) as a column vector; its backward is the reshape back to "),
                        same("[C, H, W]"),
                        w(", written "),
                        m("reshape(g, C×H×W)", r"\operatorname{reshape}_{C\times H\times W}\left(g\right)"),
                    ]
                }
            }
            Convention::Ones => {
                const {
                    &[
                        m("𝟏", r"\mathbf{1}"),
                        w(" is a tensor of ones with the shape of the gradient it stands in: a gradient equal in every entry is written "),
                        m("c 𝟏", r"c\,\mathbf{1}"),
                        w(" ("),
                        m("∂L/∂P = 𝟏", r"\partial L / \partial P = \mathbf{1}"),
                        w(" for "),
                        m("L = ΣP", r"L = \textstyle\sum P"),
                        w("), and "),
                        m("μ ⊙ 𝟏", r"\mu \odot \mathbf{1}"),
                        w(" is a column (or row) "),
                        m("μ", r"\mu"),
                        w(" copied along the axis it was stretched over, so every gradient has the shape of what it is the gradient of"),
                    ]
                }
            }
            Convention::MaskedSoftmax => {
                const {
                    &[
                        m("softmax(S, mask = M)", r"\operatorname{softmax}(S, \text{mask} = M)"),
                        w(" is the softmax of "),
                        same("S"),
                        w(" (of each row with axis = 1, of each column with axis = 0) over the entries where the mask "),
                        same("M"),
                        w(" is 1: a masked score counts as "),
                        m("−∞", r"-\infty"),
                        w(", so its weight is 0, and so is the gradient "),
                        m("∂L/∂S", r"\partial L / \partial S"),
                        w(" there"),
                    ]
                }
            }
            Convention::Broadcast => {
                const {
                    &[
                        w("an operand stretched over a matrix (a column "),
                        same("[m]"),
                        w(" added to each column of "),
                        same("[m, N]"),
                        w(", a row "),
                        same("[1, n]"),
                        w(" to each row of "),
                        same("[N, n]"),
                        w(") receives the gradient summed along the stretched axis: "),
                        m("A 1", r"A \mathbf{1}"),
                        w(" sums each row of a matrix "),
                        same("A"),
                        w(", "),
                        m("1ᵀ A", r"\mathbf{1}^\top A"),
                        w(" each column"),
                    ]
                }
            }
            Convention::SoftmaxAlong(a) if a == Axis::DOWN => {
                const {
                    &[
                        m("softmax(Z, axis = 0)", r"\operatorname{softmax}(Z, \text{axis} = 0)"),
                        w(" is the softmax of each column of "),
                        same("Z"),
                        w(" on its own (one example per column); log_softmax likewise"),
                    ]
                }
            }
            Convention::SoftmaxAlong(_) => {
                const {
                    &[
                        m("softmax(Z, axis = 1)", r"\operatorname{softmax}(Z, \text{axis} = 1)"),
                        w(" is the softmax of each row of "),
                        same("Z"),
                        w(" on its own (one example per row); log_softmax likewise"),
                    ]
                }
            }
            Convention::BatchCrossEntropy(a) if a == Axis::DOWN => {
                const {
                    &[
                m("cross_entropy(Y, P, axis = 0)", r"\operatorname{cross\_entropy}(Y, P, \text{axis} = 0)"),
                w(" of a batch of "),
                same("N"),
                w(" examples (the columns) is the mean of their cross-entropies, as PyTorch's default reduction, so its gradient carries the factor "),
                m("1/N", r"1/N"),
            ]
                }
            }
            Convention::BatchCrossEntropy(_) => {
                const {
                    &[
                m("cross_entropy(Y, P, axis = 1)", r"\operatorname{cross\_entropy}(Y, P, \text{axis} = 1)"),
                w(" of a batch of "),
                same("N"),
                w(" examples (the rows) is the mean of their cross-entropies, as PyTorch's default reduction, so its gradient carries the factor "),
                m("1/N", r"1/N"),
            ]
                }
            }
            Convention::OneHot(a) if a == Axis::DOWN => {
                const {
                    &[
                        w("a target of class labels "),
                        same("c"),
                        w(" (whole numbers from 0 to "),
                        m("C − 1", "C - 1"),
                        w(", one per example) is read as one-hot columns, "),
                        m("onehot(c)", r"\operatorname{onehot}(c)"),
                        w("; each column sums to 1"),
                    ]
                }
            }
            Convention::OneHot(_) => {
                const {
                    &[
                        w("a target of class labels "),
                        same("c"),
                        w(" (whole numbers from 0 to "),
                        m("C − 1", "C - 1"),
                        w(", one per example) is read as one-hot rows, "),
                        m("onehot(c)", r"\operatorname{onehot}(c)"),
                        w("; each row sums to 1"),
                    ]
                }
            }
            Convention::Slice => {
                const {
                    &[
                        w("a slice "),
                        m("A[r]", "A[r]"),
                        w(" keeps the half-open range "),
                        m("a:b", "a{:}b"),
                        w(" of each axis (from "),
                        same("a"),
                        w(" up to, not including, "),
                        same("b"),
                        w(", as NumPy's "),
                        m("A[:, 0:5]", "A[:, 0{:}5]"),
                        w("); its gradient "),
                        m("unslice(G, r)", r"\operatorname{unslice}_{r}(G)"),
                        w(" is the slice's gradient "),
                        same("G"),
                        w(" placed back at those entries, in zeros of "),
                        same("A"),
                        w("'s shape"),
                    ]
                }
            }
            Convention::Lookup => {
                const {
                    &[
                        w("an embedding lookup "),
                        m("W[x]", "W[x]"),
                        w(" takes row "),
                        m("x[p]", "x[p]"),
                        w(" of the table "),
                        m("W[V, D]", "W[V, D]"),
                        w(" at every position "),
                        same("p"),
                        w(" of the ids "),
                        same("x"),
                        w("; its gradient "),
                        m("scatter_add(G, x)", r"\operatorname{scatter\_add}_{x}(G)"),
                        w(" adds up, for each row "),
                        same("k"),
                        w(", the gradients "),
                        m("G[p]", "G[p]"),
                        w(" of the positions with "),
                        m("x[p] = k", "x[p] = k"),
                        w(" (NumPy's np.add.at): "),
                        m(
                            "∂L/∂W[k] = Σ ∂L/∂O[p] over the positions p with x[p] = k",
                            r"\partial L / \partial W[k] = \textstyle\sum_{p:\, x[p] = k} \partial L / \partial O[p]",
                        ),
                    ]
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in has a rule named after it, each name once.
    #[test]
    fn one_rule_per_built_in() {
        let names: std::collections::BTreeSet<&str> = rules().map(|r| r.name).collect();
        assert_eq!(names.len(), Elementwise::ALL.len());
        for (r, f) in rules().zip(Elementwise::ALL) {
            assert_eq!(r.function, f);
            assert!(r.name.starts_with("d-"));
        }
    }

    /// Every layer rule of a map operation is stated in the operation's
    /// file, and is a layer rule with words to state.
    #[test]
    fn every_map_convention_has_its_statement() {
        let map = [
            Convention::ConvForward,
            Convention::ConvKernelGrad,
            Convention::ConvInputGrad,
            Convention::ChannelBias,
            Convention::BatchConv,
            Convention::ChannelsLastConv,
            Convention::MaxPool,
            Convention::AvgPool,
            Convention::BatchPool,
            Convention::ChannelsLastPool,
            Convention::PoolWindows,
            Convention::RectPool,
        ];
        for c in map {
            assert!(c.map_rule().is_some(), "{c:?}");
            assert!(c.is_layer_rule() && !c.statement().is_empty() && c.index_form().is_some(), "{c:?}");
        }
        assert!(Convention::Flatten.map_rule().is_none());
    }
}
