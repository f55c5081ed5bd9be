//! The built-in functions, as one table, and references to functions.
//!
//! Each built-in is described once here (name, arity, what kind of operation
//! it is); derivative rules live in `derive::rules`, numeric rules in `eval`.

/// A built-in function applied entry by entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Elementwise {
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
}

/// What nnderive knows of an elementwise built-in apart from its calculus
/// (`derive::rules`) and its numeric kernels (`eval::tensor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The name used in `.nn` files.
    pub name: &'static str,
    /// How many arguments it takes: `leaky_relu(t, a)`, `max(a, b)` and
    /// `min(a, b)` take two.
    pub arity: usize,
    /// Whether exact rational arguments give an exact rational value (no
    /// transcendental arithmetic): relu, step, sign, abs, softsign, max, min
    /// and leaky_relu do.
    pub rational: bool,
}

impl Elementwise {
    /// Every elementwise built-in, in the order the documentation lists them.
    pub const ALL: [Elementwise; 20] = [
        Elementwise::Relu,
        Elementwise::Step,
        Elementwise::Sign,
        Elementwise::Sigmoid,
        Elementwise::Tanh,
        Elementwise::Sin,
        Elementwise::Cos,
        Elementwise::Exp,
        Elementwise::Log,
        Elementwise::Sqrt,
        Elementwise::Abs,
        Elementwise::Softplus,
        Elementwise::LeakyRelu,
        Elementwise::Elu,
        Elementwise::Gelu,
        Elementwise::Max,
        Elementwise::Min,
        Elementwise::NormCdf,
        Elementwise::NormPdf,
        Elementwise::Softsign,
    ];

    /// Everything about one built-in in one place: its name in `.nn` files,
    /// how many arguments it takes and whether it keeps exact values exact.
    /// One match lists every built-in, so that adding one makes the
    /// compiler ask for all three at once.
    pub fn spec(self) -> Spec {
        // (name, arity, rational)
        let (name, arity, rational) = match self {
            Elementwise::Relu => ("relu", 1, true),
            Elementwise::Step => ("step", 1, true),
            Elementwise::Sign => ("sign", 1, true),
            Elementwise::Sigmoid => ("sigmoid", 1, false),
            Elementwise::Tanh => ("tanh", 1, false),
            Elementwise::Sin => ("sin", 1, false),
            Elementwise::Cos => ("cos", 1, false),
            Elementwise::Exp => ("exp", 1, false),
            Elementwise::Log => ("log", 1, false),
            Elementwise::Sqrt => ("sqrt", 1, false),
            Elementwise::Abs => ("abs", 1, true),
            Elementwise::Softplus => ("softplus", 1, false),
            // leaky_relu(t, a), max(a, b), min(a, b): two arguments, applied
            // entry by entry (a scalar is spread).
            Elementwise::LeakyRelu => ("leaky_relu", 2, true),
            Elementwise::Elu => ("elu", 1, false),
            Elementwise::Gelu => ("gelu", 1, false),
            Elementwise::Max => ("max", 2, true),
            Elementwise::Min => ("min", 2, true),
            Elementwise::NormCdf => ("normcdf", 1, false),
            Elementwise::NormPdf => ("normpdf", 1, false),
            Elementwise::Softsign => ("softsign", 1, true),
        };
        Spec { name, arity, rational }
    }

    /// The name used in `.nn` files.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// How many arguments it takes (see [`Spec::arity`]).
    pub fn arity(self) -> usize {
        self.spec().arity
    }

    /// Keeps exact rational values exact (see [`Spec::rational`]).
    pub fn is_rational(self) -> bool {
        self.spec().rational
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

/// The geometry of `conv2d(X, K, stride = s, pad = p)`: PyTorch and CS231n
/// conventions (X is `[C, H, W]`, K is `[F, C, kh, kw]`, zero padding,
/// cross-correlation without a kernel flip).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv {
    pub stride: usize,
    pub pad: usize,
}

/// Max or average pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolKind {
    Max,
    Avg,
}

impl PoolKind {
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::Max => "maxpool",
            PoolKind::Avg => "avgpool",
        }
    }
}

/// The window of a pooling layer: `size × size`, moved by `stride` over the
/// input padded by `pad` on every side, with PyTorch's rules for the number
/// of windows (floor, or ceil with `ceil`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub size: usize,
    pub stride: usize,
    /// Rows and columns of padding on each side: −∞ for max-pooling, zeros
    /// counted in the window for average pooling (PyTorch's default,
    /// `count_include_pad=True`).
    pub pad: usize,
    /// PyTorch's `ceil_mode`: a last, partial window where one more fits
    /// by starting inside the input or its left padding.
    pub ceil: bool,
    /// The input's height and width: the extent the backward pass fills,
    /// which the output's alone does not fix (the floor rule can leave
    /// rows and columns that no window reaches).
    pub extent: [usize; 2],
}

impl Window {
    /// A `size × size` window moved by `stride`, no padding, floor rule,
    /// over an input of `extent`.
    pub fn plain(size: usize, stride: usize, extent: [usize; 2]) -> Window {
        Window { size, stride, pad: 0, ceil: false, extent }
    }

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

    /// How many rows (or columns) at the end of an axis of `n` entries no
    /// window reaches.
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
    /// `maxpool(A, k, stride = k)`, `avgpool(A, k, stride = k)`
    Pool(PoolKind),
    /// `flatten(T)`: row-major, to a column vector.
    Flatten,
    /// `dropout(X, M, keep = 0.8)`: inverted dropout with a given mask.
    Dropout,
    /// `batchnorm(X, gamma, beta, eps = 1e-5)`, `layernorm(…)`.
    Norm(NormKind),
    /// `attention(Q, K, V)`: scaled dot-product attention on rows.
    Attention,
}

impl Builtin {
    /// The built-ins that are not elementwise, in the order the
    /// documentation lists them (after [`Elementwise::ALL`]).
    const LAYERS: [Builtin; 15] = [
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
        Builtin::Dropout,
        Builtin::Norm(NormKind::Batch),
        Builtin::Norm(NormKind::Layer),
        Builtin::Attention,
    ];

    /// Every built-in a `.nn` file may call, elementwise ones first (`sign`,
    /// `normcdf` and `normpdf` appear as the derivatives of `abs` and
    /// `gelu`, and may be called too). The one list that lookups, "did you
    /// mean" suggestions and the help's list of built-ins all read, so a new
    /// built-in is in each of them as soon as it is in its table.
    pub fn all() -> impl Iterator<Item = Builtin> {
        Elementwise::ALL.into_iter().map(Builtin::Elementwise).chain(Builtin::LAYERS)
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
            Builtin::Dropout => "dropout",
            Builtin::Norm(kind) => kind.name(),
            Builtin::Attention => "attention",
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
            Builtin::Loss(_) | Builtin::Conv2d | Builtin::Pool(_) | Builtin::Dropout => 2,
            Builtin::Norm(_) | Builtin::Attention => 3,
            Builtin::Elementwise(e) => e.arity(),
            _ => 1,
        }
    }

    /// The keyword arguments it accepts (`stride = 2`), each optional.
    pub fn keywords(self) -> &'static [&'static str] {
        match self {
            Builtin::Conv2d => &["stride", "pad"],
            Builtin::Pool(_) => &["stride", "pad", "ceil"],
            Builtin::Dropout => &["keep"],
            Builtin::Norm(_) => &["eps"],
            Builtin::Attention => &["mask"],
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

/// Which statistics a normalization layer takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormKind {
    /// `batchnorm`: per feature, over the examples of the batch.
    Batch,
    /// `layernorm`: per example, over its features.
    Layer,
}

impl NormKind {
    /// The name used in `.nn` files.
    pub fn name(self) -> &'static str {
        match self {
            NormKind::Batch => "batchnorm",
            NormKind::Layer => "layernorm",
        }
    }
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
            Builtin::Dropout => 8,
            Builtin::Norm(_) => 9,
            Builtin::Attention => 10,
        };
        let mut kinds: Vec<usize> = all.iter().map(kind).collect();
        kinds.dedup();
        assert_eq!(kinds.len(), 11);
        assert!(Builtin::names().any(|n| n == "softsign"));
        assert_eq!(all.len(), Elementwise::ALL.len() + 15);
    }
}
