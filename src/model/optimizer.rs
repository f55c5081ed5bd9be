//! The optimizers of `train`: their names, their settings (with defaults and
//! the ranges they must lie in) and the quantities each keeps from step to
//! step. The update rules themselves live in `eval::optimize` (the numbers)
//! and `render::training` (the formulas); both match on [`Optimizer`]
//! without a fallback arm, so a new optimizer is a change the compiler walks
//! through.
//!
//! The rules are the published ones:
//!
//! - `sgd`: P ← P − α g.
//! - `momentum`: CS231n's `sgd_momentum`, v ← β v − α g, P ← P + v, from v = 0.
//!   (PyTorch writes v ← β v + g, P ← P − α v; with a fixed α the two give
//!   the same parameters, their velocities differing by the factor −α.)
//! - `rmsprop`: CS231n's and PyTorch's, s ← ρ s + (1 − ρ) g ⊙ g,
//!   P ← P − α g ⊘ (√s + ε), from s = 0.
//! - `adam`: Kingma & Ba (2015), m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g ⊙ g,
//!   m̂ = m / (1 − β₁ᵏ), v̂ = v / (1 − β₂ᵏ), P ← P − α m̂ ⊘ (√v̂ + ε), from m = v = 0.
//!
//! Each starts from zeros unless the file gives its state (CS231n's
//! `config`): `train momentum(lr = 0.001, velocity = v0)`, `rmsprop(cache
//! = c0)`, `adam(m = m0, v = v0, t = 5)`, where `t` counts the updates
//! already taken, so that the next is update t + 1 ([`StateArg`]).

use num_bigint::BigInt;
use num_rational::BigRational;

/// An optimizer with its own settings (the learning rate and the number of
/// steps are common to all, in [`super::Train`]).
#[derive(Clone, Debug)]
pub enum Optimizer {
    /// Plain gradient descent.
    Sgd,
    /// Gradient descent with a velocity (CS231n's `sgd_momentum`).
    Momentum { beta: BigRational },
    /// RMSprop: each entry's step divided by the root of a running mean of its squared gradients.
    RmsProp { rho: BigRational, eps: BigRational },
    /// Adam with bias correction (Kingma & Ba).
    Adam { beta1: BigRational, beta2: BigRational, eps: BigRational },
}

/// What values a setting may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// Greater than 0 (a learning rate, ε).
    Positive,
    /// From 0 up to, but not including, 1 (a decay rate: 1 would never forget).
    DecayRate,
    /// A whole number of steps, from 1 to [`super::check::MAX_STEPS`].
    Count,
}

/// A setting an optimizer takes: `beta1 = 0.9`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The name written in the file.
    pub name: &'static str,
    /// What it is, for help texts.
    pub meaning: &'static str,
    /// The value when the file does not give one, as mantissa × 10^exponent
    /// (exact: 0.999 is 999/1000); `None` when the file must give it.
    pub default: Option<(i64, i32)>,
    pub range: Range,
    /// Its letter in the update rule's formulas, in Unicode text and LaTeX
    /// (`beta1` is β₁, `\beta_1`).
    pub symbol: Symbol,
}

/// A setting's letter in formulas, written in both notations side by side
/// (nothing is translated from one to the other).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub text: &'static str,
    pub latex: &'static str,
}

impl Setting {
    /// The default as an exact number.
    pub fn default_value(&self) -> Option<BigRational> {
        self.default.map(|(mantissa, exp)| decimal(mantissa, exp))
    }
}

/// `mantissa × 10^exp`, exactly.
fn decimal(mantissa: i64, exp: i32) -> BigRational {
    let ten = BigInt::from(10).pow(exp.unsigned_abs());
    let m = BigInt::from(mantissa);
    if exp >= 0 {
        BigRational::from_integer(m * ten)
    } else {
        BigRational::new(m, ten)
    }
}

/// The learning rate α, common to every optimizer.
pub const LR: Setting = Setting {
    name: "lr",
    meaning: "the learning rate",
    default: None,
    range: Range::Positive,
    symbol: Symbol { text: "α", latex: "\\alpha" },
};
/// The number of updates, common to every optimizer (the K of k = 1..K).
pub const STEPS: Setting = Setting {
    name: "steps",
    meaning: "how many updates",
    default: Some((1, 0)),
    range: Range::Count,
    symbol: Symbol { text: "K", latex: "K" },
};
/// RMSprop's and Adam's ε.
pub const EPS: Setting = Setting {
    name: "eps",
    meaning: "added to the square root so that the update never divides by 0",
    default: Some((1, -8)),
    range: Range::Positive,
    symbol: Symbol { text: "ε", latex: "\\epsilon" },
};
/// Momentum's decay β.
pub const BETA: Setting = Setting {
    name: "beta",
    meaning: "the decay of the velocity",
    default: Some((9, -1)),
    range: Range::DecayRate,
    symbol: Symbol { text: "β", latex: "\\beta" },
};
/// RMSprop's decay ρ.
pub const RHO: Setting = Setting {
    name: "rho",
    meaning: "the decay of the mean of squared gradients",
    default: Some((99, -2)),
    range: Range::DecayRate,
    symbol: Symbol { text: "ρ", latex: "\\rho" },
};
/// Adam's β₁.
pub const BETA1: Setting = Setting {
    name: "beta1",
    meaning: "the decay of the first moment",
    default: Some((9, -1)),
    range: Range::DecayRate,
    symbol: Symbol { text: "β₁", latex: "\\beta_1" },
};
/// Adam's β₂.
pub const BETA2: Setting = Setting {
    name: "beta2",
    meaning: "the decay of the second moment",
    default: Some((999, -3)),
    range: Range::DecayRate,
    symbol: Symbol { text: "β₂", latex: "\\beta_2" },
};

/// An optimizer as the file names it, with the settings it takes in the
/// order its help lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    pub name: &'static str,
    pub settings: &'static [Setting],
    /// The state it may be started from, in the order its help lists it.
    pub state: &'static [StateArg],
}

/// A part of an optimizer's state the file may give: `velocity = v0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateArg {
    /// The name written in the file (CS231n's `config` key).
    pub name: &'static str,
    pub holds: Held,
}

/// What a [`StateArg`] gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// A kept quantity's value before the first update, one `const` tensor
    /// of the parameter's shape per parameter.
    Kept(Quantity),
    /// How many updates were taken before (Adam's t): a whole number from 0
    /// to [`MAX_TAKEN`].
    Taken,
}

/// The largest `t`: far past the step where Adam's corrections are 1 in
/// f64, and small enough that t plus the steps run fits a `u32`.
pub const MAX_TAKEN: u32 = 1_000_000_000;

impl StateArg {
    /// What it is, for help texts.
    pub fn meaning(&self) -> &'static str {
        match self.holds {
            Held::Kept(Quantity::Velocity) => "the velocity",
            Held::Kept(Quantity::SquareMean) => "the running mean of squared gradients",
            Held::Kept(Quantity::FirstMoment) => "the first moment",
            Held::Kept(Quantity::SecondMoment) => "the second moment",
            // Not kept, so never a state; named for completeness.
            Held::Kept(q) => q.meaning(),
            Held::Taken => "the number of updates already taken",
        }
    }
}

/// The optimizer whose state includes `name`, with that part.
pub fn state_owner(name: &str) -> Option<(&'static Kind, &'static StateArg)> {
    KINDS.iter().find_map(|k| k.state.iter().find(|s| s.name == name).map(|s| (k, s)))
}

/// Every optimizer `train` knows. Defaults follow CS231n's assignment code
/// (momentum 0.9, RMSprop decay 0.99, ε = 1e-8), which agree with PyTorch's
/// for RMSprop and Adam.
pub const KINDS: [Kind; 4] = [
    Kind { name: "sgd", settings: &[LR, STEPS], state: &[] },
    Kind {
        name: "momentum",
        settings: &[LR, BETA, STEPS],
        state: &[StateArg { name: "velocity", holds: Held::Kept(Quantity::Velocity) }],
    },
    Kind {
        name: "rmsprop",
        settings: &[LR, RHO, EPS, STEPS],
        state: &[StateArg { name: "cache", holds: Held::Kept(Quantity::SquareMean) }],
    },
    Kind {
        name: "adam",
        settings: &[LR, BETA1, BETA2, EPS, STEPS],
        state: &[
            StateArg { name: "m", holds: Held::Kept(Quantity::FirstMoment) },
            StateArg { name: "v", holds: Held::Kept(Quantity::SecondMoment) },
            StateArg { name: "t", holds: Held::Taken },
        ],
    },
];

/// Settings written as other courses and libraries name them, and where
/// nnderive keeps them: (optimizer, setting as written, optimizer, setting).
/// `sgd(momentum = 0.9)` is PyTorch's SGD with momentum, nnderive's
/// `momentum(beta = 0.9)`; PyTorch's RMSprop calls its decay `alpha`.
/// RMSprop's running mean is CS231n's `cache` (the formulas write it s).
pub const FOREIGN_SETTINGS: [(&str, &str, &str, &str); 6] = [
    ("sgd", "momentum", "momentum", "beta"),
    ("sgd", "beta", "momentum", "beta"),
    ("momentum", "momentum", "momentum", "beta"),
    ("rmsprop", "alpha", "rmsprop", "rho"),
    ("rmsprop", "decay", "rmsprop", "rho"),
    ("rmsprop", "s", "rmsprop", "cache"),
];

/// Where a setting written the foreign way belongs: the optimizer and
/// setting nnderive names it by.
pub fn foreign_setting(optimizer: &str, setting: &str) -> Option<(&'static str, &'static str)> {
    FOREIGN_SETTINGS.iter().find(|(o, s, _, _)| *o == optimizer && *s == setting).map(|&(_, _, o, s)| (o, s))
}

/// The optimizer named `name`, if `train` knows it.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// A quantity an optimizer computes at each step for each parameter, besides
/// the gradient and the new value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Quantity {
    /// Momentum's v.
    Velocity,
    /// RMSprop's s (`cache`), the running mean of g ⊙ g.
    SquareMean,
    /// Adam's m.
    FirstMoment,
    /// Adam's v.
    SecondMoment,
    /// Adam's m̂.
    FirstMomentCorrected,
    /// Adam's v̂.
    SecondMomentCorrected,
}

impl Quantity {
    /// Its key in JSON (`m_hat`), which is also its symbol's plain spelling
    /// but for RMSprop's `cache` (CS231n's name, and the name `train`
    /// takes its initial value by), written s in formulas.
    pub fn key(self) -> &'static str {
        match self {
            Quantity::Velocity | Quantity::SecondMoment => "v",
            Quantity::SquareMean => "cache",
            Quantity::FirstMoment => "m",
            Quantity::FirstMomentCorrected => "m_hat",
            Quantity::SecondMomentCorrected => "v_hat",
        }
    }

    /// What it is, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            Quantity::Velocity => "velocity",
            Quantity::SquareMean => "running mean of squared gradients",
            Quantity::FirstMoment => "first moment (running mean of gradients)",
            Quantity::SecondMoment => "second moment (running mean of squared gradients)",
            Quantity::FirstMomentCorrected => "bias-corrected first moment",
            Quantity::SecondMomentCorrected => "bias-corrected second moment",
        }
    }

    /// Whether it is carried to the next step (state), rather than computed
    /// from the state at this step alone.
    pub fn kept(self) -> bool {
        !matches!(self, Quantity::FirstMomentCorrected | Quantity::SecondMomentCorrected)
    }
}

impl Optimizer {
    /// The name the file uses.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd => "sgd",
            Optimizer::Momentum { .. } => "momentum",
            Optimizer::RmsProp { .. } => "rmsprop",
            Optimizer::Adam { .. } => "adam",
        }
    }

    /// Its own settings (not `lr` and `steps`) with their values, in the
    /// order of [`KINDS`].
    pub fn settings(&self) -> Vec<(&'static Setting, &BigRational)> {
        match self {
            Optimizer::Sgd => Vec::new(),
            Optimizer::Momentum { beta } => vec![(&BETA, beta)],
            Optimizer::RmsProp { rho, eps } => vec![(&RHO, rho), (&EPS, eps)],
            Optimizer::Adam { beta1, beta2, eps } => vec![(&BETA1, beta1), (&BETA2, beta2), (&EPS, eps)],
        }
    }

    /// The quantities it computes per step, in the order of its rule.
    pub fn quantities(&self) -> &'static [Quantity] {
        match self {
            Optimizer::Sgd => &[],
            Optimizer::Momentum { .. } => &[Quantity::Velocity],
            Optimizer::RmsProp { .. } => &[Quantity::SquareMean],
            Optimizer::Adam { .. } => &[
                Quantity::FirstMoment,
                Quantity::SecondMoment,
                Quantity::FirstMomentCorrected,
                Quantity::SecondMomentCorrected,
            ],
        }
    }

    /// Whether it counts its updates (Adam's t, which its bias correction
    /// uses), so that the state shows the count.
    pub fn counts_updates(&self) -> bool {
        kind(self.name()).is_some_and(|k| k.state.iter().any(|s| s.holds == Held::Taken))
    }

    /// The quantities carried from step to step, in the order of
    /// [`Optimizer::quantities`] (a prefix of it).
    pub fn kept(&self) -> impl Iterator<Item = Quantity> {
        self.quantities().iter().copied().filter(|q| q.kept())
    }

    /// Builds the optimizer `name` from the value of each of its settings,
    /// looked up by name (every setting of [`kind`]`(name)` must be there).
    pub fn from_settings(name: &str, value: impl Fn(&str) -> BigRational) -> Option<Optimizer> {
        Some(match name {
            "sgd" => Optimizer::Sgd,
            "momentum" => Optimizer::Momentum { beta: value("beta") },
            "rmsprop" => Optimizer::RmsProp { rho: value("rho"), eps: value("eps") },
            "adam" => Optimizer::Adam { beta1: value("beta1"), beta2: value("beta2"), eps: value("eps") },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind builds, and its settings are those its table lists.
    #[test]
    fn kinds_and_optimizers_agree() {
        for k in KINDS {
            let opt = Optimizer::from_settings(k.name, |s| {
                k.settings.iter().find(|x| x.name == s).and_then(Setting::default_value).expect("a default")
            })
            .expect("known");
            assert_eq!(opt.name(), k.name);
            let own: Vec<&str> = k.settings.iter().map(|s| s.name).filter(|n| !matches!(*n, "lr" | "steps")).collect();
            let listed: Vec<&str> = opt.settings().iter().map(|(s, _)| s.name).collect();
            assert_eq!(own, listed);
            // Every kept quantity may be given, and nothing else.
            let given: Vec<Quantity> =
                k.state.iter().filter_map(|s| if let Held::Kept(q) = s.holds { Some(q) } else { None }).collect();
            assert_eq!(given, opt.kept().collect::<Vec<_>>());
        }
    }

    #[test]
    fn defaults_are_exact_decimals() {
        assert_eq!(decimal(999, -3), BigRational::new(999.into(), 1000.into()));
        assert_eq!(decimal(1, -8), BigRational::new(1.into(), 100_000_000.into()));
        assert_eq!(decimal(3, 2), BigRational::from_integer(300.into()));
    }
}
