//! The built-in functions, as one table, and references to functions.
//!
//! Each built-in is named once here; an elementwise built-in's name, arity,
//! derivative, kernels and notation live in its own file under
//! `model::ops::elementwise`.

/// Declares an enum of built-ins and its `ALL` from one list, so that a
/// built-in is named once here; what it is lives in its own file under
/// `model::ops`, whose table the compiler makes list it.
macro_rules! builtins {
    ($(#[$enum_doc:meta])* $name:ident { $($(#[$doc:meta])* $variant:ident,)* }) => {
        $(#[$enum_doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$doc])* $variant,)*
        }

        impl $name {
            /// Every one, in the order the documentation lists them.
            pub const ALL: [$name; [$(stringify!($variant)),*].len()] = [$($name::$variant),*];
        }
    };
}

builtins! {
    /// A built-in function applied entry by entry: which one, as the model
    /// names it, in the order of the documentation and of the list of
    /// built-ins that the help for an unknown function gives. Everything
    /// about it (name, arity, derivative, kernels, notation) is its file's
    /// [`ElementwiseOp`](crate::model::ops::elementwise::ElementwiseOp),
    /// found by [`op`](crate::model::ops::elementwise::op).
    Elementwise {
        Relu,
        /// Heaviside step, with step(0) = 0.
        Step,
        /// sign(t), with sign(0) = 0; appears as the derivative of abs.
        Sign,
        Sigmoid,
        Tanh,
        Sin,
        Cos,
        Exp,
        Log,
        Sqrt,
        Abs,
        Softplus,
        /// `leaky_relu(t, a)`: t for t > 0, a·t otherwise (a, the slope for
        /// negative t, is the second argument: `leaky_relu(Z, 0.01)`).
        LeakyRelu,
        /// `elu(t)`: t for t > 0, exp(t) − 1 otherwise (α = 1).
        Elu,
        /// `gelu(t) = t Φ(t)` with Φ the standard normal CDF, the exact (erf)
        /// form, as PyTorch's default `GELU()`; not the tanh approximation.
        Gelu,
        /// `max(a, b)` entry by entry.
        Max,
        /// `min(a, b)` entry by entry.
        Min,
        /// Φ(t), the standard normal CDF (1 + erf(t/√2))/2; appears in gelu′.
        NormCdf,
        /// φ(t) = exp(−t²/2)/√(2π), the standard normal density; Φ′ = φ.
        NormPdf,
        /// `softsign(t) = t / (1 + |t|)`.
        Softsign,
        /// `silu(t) = t σ(t)`, the sigmoid-weighted linear unit.
        Silu,
    }
}

builtins! {
    /// A layer that is a composition of the graph's operations, checked
    /// and written out by its own module: which one, as the model names it.
    /// Everything about it (name, arity, keywords, checking, expansion) is
    /// its file's [`LayerOp`](crate::model::ops::layer::LayerOp), found by
    /// [`op`](crate::model::ops::layer::op).
    Layer {
        /// `dropout(X, M, keep = 0.8)`: inverted dropout with a given mask.
        Dropout,
        /// `batchnorm(X, gamma, beta, eps = 1e-5)`: per feature, over the
        /// examples of the batch (per channel for maps `[N, C, H, W]`).
        Batchnorm,
        /// `layernorm(X, gamma, beta, eps = 1e-5)`: per example, over its features.
        Layernorm,
        /// `rmsnorm(X, gamma, eps = 1e-8)`: each example divided by the root
        /// mean square of its features, then scaled.
        Rmsnorm,
        /// `attention(Q, K, V, mask = M)`: scaled dot-product attention on rows.
        Attention,
    }
}

/// A built-in that reduces a tensor to a scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduction {
    Sum,
    Mean,
}

/// An axis of a matrix, numbered as NumPy numbers them: axis 0 runs down
/// each column (over the rows), axis 1 along each row (over the columns).
/// `softmax(Z, axis = 0)` normalises each column; `sum(Z, axis = 1)` is a
/// column of row sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Axis(u8);

impl Axis {
    /// Axis 0: down each column.
    pub const DOWN: Axis = Axis(0);
    /// Axis 1: along each row.
    pub const ACROSS: Axis = Axis(1);

    /// The axis numbered `n` of a matrix (0 or 1).
    pub fn of_matrix(n: usize) -> Option<Axis> {
        match n {
            0 => Some(Axis::DOWN),
            1 => Some(Axis::ACROSS),
            _ => None,
        }
    }

    /// Its number, as written in `axis = n`.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The other axis of a matrix: the one along which examples lie when
    /// classes lie along this one.
    pub fn other(self) -> Axis {
        Axis(1 - self.0)
    }
}

/// A built-in loss `loss(y, p)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LossFn {
    /// −sum(y ⊙ log p) for one example. For a batch (matrices whose classes
    /// lie along the axis given), the mean over the examples of each one's
    /// cross-entropy: −sum(Y ⊙ log P) / N, as PyTorch's default reduction.
    CrossEntropy(Option<Axis>),
    /// mean((p − y)²)
    Mse,
    /// −mean(y ⊙ log p + (1 − y) ⊙ log(1 − p))
    Bce,
}

impl LossFn {
    pub fn name(self) -> &'static str {
        match self {
            LossFn::CrossEntropy(_) => "cross_entropy",
            LossFn::Mse => "mse",
            LossFn::Bce => "bce",
        }
    }
}

/// Where a feature map keeps its channels, written `layout = nchw` (the
/// default) or `layout = nhwc` in a `conv2d`, `maxpool` or `avgpool` call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MapLayout {
    /// Channels first, PyTorch's and CS231n's: a map `[C, H, W]`, a batch
    /// `[N, C, H, W]`, kernels `[F, C, kh, kw]`.
    #[default]
    Nchw,
    /// Channels last, TensorFlow's and deeplearning.ai's: a map `[H, W, C]`,
    /// a batch `[N, H, W, C]`, kernels `[kh, kw, C, F]`.
    Nhwc,
}

impl MapLayout {
    /// Every layout, in the order the documentation lists them.
    pub const ALL: [MapLayout; 2] = [MapLayout::Nchw, MapLayout::Nhwc];

    /// The word written after `layout =`.
    pub fn name(self) -> &'static str {
        match self {
            MapLayout::Nchw => "nchw",
            MapLayout::Nhwc => "nhwc",
        }
    }

    /// Looks a layout up by its word.
    pub fn lookup(word: &str) -> Option<MapLayout> {
        MapLayout::ALL.into_iter().find(|l| l.name() == word)
    }

    /// A map's dims `[C, H, W]` / `[N, C, H, W]` as this layout writes them
    /// (`[H, W, C]` / `[N, H, W, C]` channels last). The shape rules are
    /// stated once, channels first, and read through this permutation.
    pub fn map_from_nchw(self, dims: &[usize]) -> Vec<usize> {
        match (self, dims) {
            (MapLayout::Nhwc, [lead @ .., c, h, w]) if matches!(lead.len(), 0 | 1) => {
                lead.iter().copied().chain([*h, *w, *c]).collect()
            }
            _ => dims.to_vec(),
        }
    }

    /// The inverse of [`MapLayout::map_from_nchw`]: a map in this layout as
    /// `[C, H, W]` / `[N, C, H, W]`.
    pub fn map_to_nchw(self, dims: &[usize]) -> Vec<usize> {
        match (self, dims) {
            (MapLayout::Nhwc, [lead @ .., h, w, c]) if matches!(lead.len(), 0 | 1) => {
                lead.iter().copied().chain([*c, *h, *w]).collect()
            }
            _ => dims.to_vec(),
        }
    }

    /// Kernels `[F, C, kh, kw]` as this layout writes them (`[kh, kw, C, F]`
    /// channels last, TensorFlow's and deeplearning.ai's `W`).
    pub fn kernels_from_nchw(self, dims: &[usize]) -> Vec<usize> {
        match (self, dims) {
            (MapLayout::Nhwc, &[f, c, kh, kw]) => vec![kh, kw, c, f],
            _ => dims.to_vec(),
        }
    }

    /// The inverse of [`MapLayout::kernels_from_nchw`].
    pub fn kernels_to_nchw(self, dims: &[usize]) -> Vec<usize> {
        match (self, dims) {
            (MapLayout::Nhwc, &[kh, kw, c, f]) => vec![f, c, kh, kw],
            _ => dims.to_vec(),
        }
    }

    /// The axis of a map of `rank` (3 or 4) that holds its channels.
    pub fn channel_axis(self, rank: usize) -> usize {
        match self {
            MapLayout::Nchw => rank.saturating_sub(3),
            MapLayout::Nhwc => rank.saturating_sub(1),
        }
    }
}

/// The geometry of `conv2d(X, K, stride = s, pad = p)`: PyTorch and CS231n
/// conventions (X is `[C, H, W]`, K is `[F, C, kh, kw]`, zero padding,
/// cross-correlation without a kernel flip), or the same channels last
/// with `layout = nhwc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv {
    pub stride: usize,
    pub pad: usize,
    /// Where the input, the kernels and the output keep their channels.
    pub layout: MapLayout,
}

/// Which part of `conv2d` a node computes: the layer itself or one of
/// its two backward kernels. Everything about each part is in
/// `model::ops::map::conv2d`; the part is named here, beside [`Conv`],
/// because the graph's nodes carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvPart {
    /// `conv2d(X, K)`, operands X and K.
    Forward,
    /// ∂L/∂K from X and the error map δ, operands X and δ.
    KernelGrad,
    /// ∂L/∂X from δ and K, operands δ and K.
    InputGrad,
}

/// Max or average pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolKind {
    Max,
    Avg,
}

/// Which part of a pooling layer a node computes: the layer, or its
/// backward kernel ∂L/∂A. Everything about each part is in
/// `model::ops::map::pool`; the part is named here, beside [`PoolKind`],
/// because the graph's nodes carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolPart {
    /// `maxpool(A, …)` or `avgpool(A, …)`, operand A.
    Forward,
    /// ∂L/∂A from A and ḡ (max: each entry of ḡ goes to the first maximum,
    /// row-major, of its window) or from ḡ alone (average: each entry
    /// spreads over its window, divided as the mean divides).
    Backward,
}

impl PoolKind {
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::Max => "maxpool",
            PoolKind::Avg => "avgpool",
        }
    }
}

/// The window of a pooling layer: `size[0] × size[1]` (height × width),
/// moved by `stride` over the input padded by `pad` rows above and below
/// and `pad[1]` columns left and right, with PyTorch's rules for the number
/// of windows (floor, or ceil with `ceil`). Each pair is (height, width),
/// the order of PyTorch's `kernel_size=(2, 3)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub size: [usize; 2],
    pub stride: [usize; 2],
    /// Rows and columns of padding on each side: −∞ for max-pooling, zeros
    /// counted in the window for average pooling (PyTorch's default,
    /// `count_include_pad=True`).
    pub pad: [usize; 2],
    /// PyTorch's `ceil_mode`: a last, partial window where one more fits
    /// by starting inside the input or its left padding.
    pub ceil: bool,
    /// The input's height and width: the extent the backward pass fills,
    /// which the output's alone does not fix (the floor rule can leave
    /// rows and columns that no window reaches).
    pub extent: [usize; 2],
    /// Where the input and the output keep their channels.
    pub layout: MapLayout,
}

/// One axis of a pooling window: its size, stride and padding along it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowAxis {
    pub size: usize,
    pub stride: usize,
    pub pad: usize,
    pub ceil: bool,
}

impl Window {
    /// A `size × size` window moved by `stride`, no padding, floor rule,
    /// over an input of `extent`.
    pub fn plain(size: usize, stride: usize, extent: [usize; 2]) -> Window {
        Window { size: [size; 2], stride: [stride; 2], pad: [0; 2], ceil: false, extent, layout: MapLayout::Nchw }
    }

    /// Whether size, stride and padding are each the same along both axes:
    /// such a window is written with one number each (`maxpool(A, 2)`).
    pub fn is_square(&self) -> bool {
        self.size[0] == self.size[1] && self.stride[0] == self.stride[1] && self.pad[0] == self.pad[1]
    }

    /// The window along axis 0 (the height) or 1 (the width).
    pub fn axis(&self, axis: usize) -> WindowAxis {
        WindowAxis { size: self.size[axis], stride: self.stride[axis], pad: self.pad[axis], ceil: self.ceil }
    }

    /// How many rows (or columns, `axis` 1) at the end of the input no
    /// window reaches.
    pub fn unreached(&self, axis: usize) -> usize {
        self.axis(axis).unreached(self.extent[axis])
    }
}

impl WindowAxis {
    /// How many windows fit along an axis of `n` entries (PyTorch's rule:
    /// `⌊(n + 2p − k)/s⌋ + 1`, or with `ceil` `⌈(n + 2p − k)/s⌉ + 1` less
    /// one if the last window would start in the right padding); `None`
    /// when the window is larger than the padded input.
    pub fn count(&self, n: usize) -> Option<usize> {
        let padded = n + 2 * self.pad;
        if self.size > padded || self.stride == 0 {
            return None;
        }
        let span = padded - self.size;
        let mut count = if self.ceil { span.div_ceil(self.stride) } else { span / self.stride } + 1;
        if self.ceil && (count - 1) * self.stride >= n + self.pad {
            count -= 1;
        }
        Some(count)
    }

    /// Along an axis of `n` entries, window `i`'s entries of the input (the
    /// padding left out) and its size for the average, counting padding
    /// but not what lies past the padded input (PyTorch's divisor).
    pub fn cover(&self, i: usize, n: usize) -> (std::ops::Range<usize>, usize) {
        let start = i * self.stride;
        let end = (start + self.size).min(n + 2 * self.pad);
        let real = start.saturating_sub(self.pad)..(start + self.size).saturating_sub(self.pad).min(n);
        (real, end - start)
    }

    /// How many entries at the end of an axis of `n` no window reaches.
    pub fn unreached(&self, n: usize) -> usize {
        match self.count(n) {
            Some(count) => n.saturating_sub(((count - 1) * self.stride + self.size).saturating_sub(self.pad)),
            None => 0,
        }
    }
}

/// What a built-in name in a `.nn` file denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Elementwise(Elementwise),
    Reduce(Reduction),
    Softmax,
    LogSoftmax,
    Loss(LossFn),
    /// `conv2d(X, K, stride = 1, pad = 0)`
    Conv2d,
    /// `maxpool(A, k, stride = k)`, `avgpool(A, k, stride = k)`; each of
    /// k, stride and pad a number or a list `[height, width]`
    Pool(PoolKind),
    /// `flatten(T)`: row-major, to a column vector.
    Flatten,
    /// A layer with a module of its own (`model::ops::layer`).
    Layer(Layer),
}

impl Builtin {
    /// The built-ins that are not elementwise, in the order the
    /// documentation lists them (after [`Elementwise::ALL`]): these, then
    /// [`Layer::ALL`].
    const LAYERS: [Builtin; 11] = [
        Builtin::Softmax,
        Builtin::LogSoftmax,
        Builtin::Reduce(Reduction::Sum),
        Builtin::Reduce(Reduction::Mean),
        Builtin::Loss(LossFn::CrossEntropy(None)),
        Builtin::Loss(LossFn::Mse),
        Builtin::Loss(LossFn::Bce),
        Builtin::Conv2d,
        Builtin::Pool(PoolKind::Max),
        Builtin::Pool(PoolKind::Avg),
        Builtin::Flatten,
    ];

    /// Every built-in a `.nn` file may call, elementwise ones first (`sign`,
    /// `normcdf` and `normpdf` appear as the derivatives of `abs` and
    /// `gelu`, and may be called too). The one list that lookups, "did you
    /// mean" suggestions and the help's list of built-ins all read, so a new
    /// built-in is in each of them as soon as it is in its table.
    pub fn all() -> impl Iterator<Item = Builtin> {
        Elementwise::ALL
            .into_iter()
            .map(Builtin::Elementwise)
            .chain(Builtin::LAYERS)
            .chain(Layer::ALL.map(Builtin::Layer))
    }

    /// The name used in `.nn` files.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Elementwise(e) => e.name(),
            Builtin::Reduce(Reduction::Sum) => "sum",
            Builtin::Reduce(Reduction::Mean) => "mean",
            Builtin::Softmax => "softmax",
            Builtin::LogSoftmax => "log_softmax",
            Builtin::Loss(l) => l.name(),
            Builtin::Conv2d => "conv2d",
            Builtin::Pool(p) => p.name(),
            Builtin::Flatten => "flatten",
            Builtin::Layer(l) => l.name(),
        }
    }

    /// Every built-in name, in [`Builtin::all`]'s order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Builtin::all().map(Builtin::name)
    }

    /// Looks a built-in up by its `.nn` name.
    pub fn lookup(name: &str) -> Option<Builtin> {
        Builtin::all().find(|b| b.name() == name)
    }

    /// How many arguments it takes.
    pub fn arity(self) -> usize {
        match self {
            Builtin::Loss(_) | Builtin::Conv2d | Builtin::Pool(_) => 2,
            Builtin::Layer(l) => l.arity(),
            Builtin::Elementwise(e) => e.arity(),
            _ => 1,
        }
    }

    /// The keyword arguments it accepts (`stride = 2`), each optional.
    pub fn keywords(self) -> &'static [&'static str] {
        match self {
            Builtin::Conv2d => &["stride", "pad", "layout"],
            Builtin::Pool(_) => &["stride", "pad", "ceil", "layout"],
            Builtin::Layer(l) => l.keywords(),
            Builtin::Softmax => &["axis", "mask"],
            Builtin::LogSoftmax | Builtin::Reduce(_) | Builtin::Loss(LossFn::CrossEntropy(_)) => &["axis"],
            _ => &[],
        }
    }
}

/// Index of a user-defined scalar function in [`crate::model::Model::functions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FnId(pub u32);

/// A scalar function applied entry by entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Func {
    Builtin(Elementwise),
    /// A `fn` from the file.
    Custom(FnId),
    /// The partial derivative of a custom function with respect to its
    /// parameter `wrt` (`f′` for a one-parameter function). Its body is
    /// worked out by `derive`.
    Derivative {
        func: FnId,
        wrt: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in is listed once and found by its own name; a variant
    /// missing from the list would be missing from lookups and from the
    /// help, so each kind is checked to be present.
    #[test]
    fn every_builtin_is_listed_once_and_found_by_name() {
        let all: Vec<Builtin> = Builtin::all().collect();
        for b in &all {
            assert_eq!(Builtin::lookup(b.name()), Some(*b), "{}", b.name());
            assert_eq!(all.iter().filter(|c| c.name() == b.name()).count(), 1, "{} twice", b.name());
        }
        // One of each kind: adding a variant to `Builtin` makes `name`'s
        // match fail to compile until it is named; this makes sure it is listed too.
        let kind = |b: &Builtin| match b {
            Builtin::Elementwise(_) => 0,
            Builtin::Reduce(_) => 1,
            Builtin::Softmax => 2,
            Builtin::LogSoftmax => 3,
            Builtin::Loss(_) => 4,
            Builtin::Conv2d => 5,
            Builtin::Pool(_) => 6,
            Builtin::Flatten => 7,
            Builtin::Layer(_) => 8,
        };
        let mut kinds: Vec<usize> = all.iter().map(kind).collect();
        kinds.dedup();
        assert_eq!(kinds.len(), 9);
        assert!(Builtin::names().any(|n| n == "softsign"));
        assert_eq!(all.len(), Elementwise::ALL.len() + 11 + Layer::ALL.len());
    }
}
