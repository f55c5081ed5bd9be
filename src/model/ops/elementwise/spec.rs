//! What an elementwise built-in is: the trait each one's file implements,
//! and the small types its answers use.

use num_rational::BigRational;

use crate::model::{Elementwise, Graph, NodeId};

/// Everything about one elementwise built-in. Methods with a default are
/// the common case (one argument `t`, no exact value, its `.nn` name in
/// text, no hazard); a built-in overrides what differs.
pub trait ElementwiseOp: Sync {
    /// The name used in `.nn` files (`leaky_relu`).
    fn name(&self) -> &'static str;

    /// The names of its arguments where its rule is stated (`t`, or `t, a`
    /// for `leaky_relu(t, a)`, `a, b` for `max(a, b)`); their number is its
    /// arity.
    fn parameters(&self) -> &'static [&'static str] {
        &["t"]
    }

    /// The name of its derivative rule, as derivation steps cite it (`d-relu`).
    fn rule(&self) -> &'static str;

    /// f′(u), where `out` is f(u) itself or the tensor that names it (so
    /// that σ′ reads σ(1 − σ) through the named output). Built with the
    /// model's expression builder, so the derivation, the evaluator and
    /// every writer share it. A built-in of two arguments answers
    /// [`ElementwiseOp::partial`] instead and gives 0 here.
    fn derivative(&self, g: &mut Graph, u: NodeId, out: NodeId) -> NodeId;

    /// ∂f/∂(argument `wrt`) at `args`; `out` as in [`ElementwiseOp::derivative`].
    /// For one argument, the derivative; a built-in of two overrides it.
    fn partial(&self, g: &mut Graph, args: &[NodeId], wrt: usize, out: NodeId) -> NodeId {
        let _ = wrt;
        self.derivative(g, args[0], out)
    }

    /// The exact value at rational arguments (`y` is the second argument of
    /// a built-in of two, and 0 otherwise), or `None` when the value is not
    /// rational: then the f64 kernel computes it.
    fn exact(&self, x: &BigRational, y: &BigRational) -> Option<BigRational> {
        let _ = (x, y);
        None
    }

    /// Whether rational arguments always give an exact value, that is,
    /// whether [`ElementwiseOp::exact`] answers (a unit test checks the two agree).
    fn rational(&self) -> bool {
        false
    }

    /// The f64 value (`y` as for [`ElementwiseOp::exact`]), or the argument
    /// outside its domain. A value that is not finite is refused by the caller.
    fn float(&self, x: f64, y: f64) -> Result<f64, Domain>;

    /// Its name in LaTeX: the standard operator where there is one (`\tanh`,
    /// `\sigma`), else upright (`\operatorname{relu}`).
    fn latex(&self) -> &'static str;

    /// Its name in text formulas: the `.nn` name unless a symbol is usual (σ).
    fn text(&self) -> &'static str {
        self.name()
    }

    /// How the NumPy export calls it.
    fn numpy(&self) -> Numpy;

    /// Where its answer is not clear, for `nnderive vary`'s margins.
    fn hazard(&self) -> Option<Hazard> {
        None
    }
}

/// An argument outside a built-in's domain, found by its f64 kernel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Domain {
    /// log of a number that is not positive.
    LogOfNonPositive(f64),
    /// The square root of a negative number.
    SqrtOfNegative(f64),
}

/// How the NumPy export spells a built-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numpy {
    /// NumPy's own function (`np.tanh`).
    Call(&'static str),
    /// A function the exported file defines, included when a network uses
    /// it: its name, its Python source, and the other built-ins whose
    /// helpers its source calls.
    Helper { name: &'static str, source: &'static str, uses: &'static [Elementwise] },
}

impl Numpy {
    /// The name the exported file calls.
    pub fn name(self) -> &'static str {
        match self {
            Numpy::Call(name) | Numpy::Helper { name, .. } => name,
        }
    }
}

/// A place where a built-in's answer is not clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hazard {
    /// No derivative at 0 of its first argument (relu, abs, …).
    Kink,
    /// No derivative where its two arguments tie (max, min).
    Tie,
    /// Its value is a probability, uncertain near 0 or 1 (sigmoid).
    Saturates,
}

/// The constant 2, for the squares the derivatives write.
pub(super) fn two() -> BigRational {
    BigRational::from_integer(2.into())
}
