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
}

impl Elementwise {
    /// Every elementwise built-in, in the order the documentation lists them.
    pub const ALL: [Elementwise; 12] = [
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
    ];

    /// The name used in `.nn` files.
    pub fn name(self) -> &'static str {
        match self {
            Elementwise::Relu => "relu",
            Elementwise::Step => "step",
            Elementwise::Sign => "sign",
            Elementwise::Sigmoid => "sigmoid",
            Elementwise::Tanh => "tanh",
            Elementwise::Sin => "sin",
            Elementwise::Cos => "cos",
            Elementwise::Exp => "exp",
            Elementwise::Log => "log",
            Elementwise::Sqrt => "sqrt",
            Elementwise::Abs => "abs",
            Elementwise::Softplus => "softplus",
        }
    }

    /// Keeps exact rational values exact (no transcendental arithmetic).
    pub fn is_rational(self) -> bool {
        matches!(self, Elementwise::Relu | Elementwise::Step | Elementwise::Sign | Elementwise::Abs)
    }
}

/// A built-in that reduces a tensor to a scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduction {
    Sum,
    Mean,
}

/// A built-in loss `loss(y, p)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LossFn {
    /// −sum(y ⊙ log p)
    CrossEntropy,
    /// mean((p − y)²)
    Mse,
    /// −mean(y ⊙ log p + (1 − y) ⊙ log(1 − p))
    Bce,
}

impl LossFn {
    pub fn name(self) -> &'static str {
        match self {
            LossFn::CrossEntropy => "cross_entropy",
            LossFn::Mse => "mse",
            LossFn::Bce => "bce",
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
}

impl Builtin {
    /// Every built-in name a `.nn` file may call (`sign` is internal: it only
    /// appears as the derivative of `abs`, but calling it is harmless).
    pub const NAMES: [&'static str; 19] = [
        "relu",
        "step",
        "sign",
        "sigmoid",
        "tanh",
        "sin",
        "cos",
        "exp",
        "log",
        "sqrt",
        "abs",
        "softplus",
        "softmax",
        "log_softmax",
        "sum",
        "mean",
        "cross_entropy",
        "mse",
        "bce",
    ];

    /// Looks a built-in up by its `.nn` name.
    pub fn lookup(name: &str) -> Option<Builtin> {
        if let Some(e) = Elementwise::ALL.iter().find(|e| e.name() == name) {
            return Some(Builtin::Elementwise(*e));
        }
        Some(match name {
            "softmax" => Builtin::Softmax,
            "log_softmax" => Builtin::LogSoftmax,
            "sum" => Builtin::Reduce(Reduction::Sum),
            "mean" => Builtin::Reduce(Reduction::Mean),
            "cross_entropy" => Builtin::Loss(LossFn::CrossEntropy),
            "mse" => Builtin::Loss(LossFn::Mse),
            "bce" => Builtin::Loss(LossFn::Bce),
            _ => return None,
        })
    }

    /// How many arguments it takes.
    pub fn arity(self) -> usize {
        match self {
            Builtin::Loss(_) => 2,
            _ => 1,
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
