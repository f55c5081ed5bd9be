//! The elementwise built-ins: one file per built-in, each holding one
//! `impl` of [`ElementwiseOp`], and [`op`], the table that maps the
//! built-in's name in the model ([`Elementwise`]) to it.
//!
//! Adding a built-in (docs/design.md, "Adding an operation"): a variant in
//! the list of `model::func` (which makes [`Elementwise::ALL`], the order
//! of the lists of built-ins), a file here with its `impl`, and its line in
//! [`op`]'s table. The compiler refuses a variant without a line in the
//! table, and `tests/architecture.rs` refuses a file here that the table
//! does not list. Everything else (the parser, the checker, the
//! derivation, the evaluator exact and f64, the symbolic values, every
//! writer, the NumPy export, `vary`'s margins, `gradcheck`, the error
//! messages) reads this trait.

use crate::model::Elementwise;

mod abs;
mod cos;
mod elu;
mod exp;
mod gelu;
mod leaky_relu;
mod log;
mod max;
mod min;
mod normcdf;
mod normpdf;
mod relu;
mod sigmoid;
mod sign;
mod silu;
mod sin;
mod softplus;
mod softsign;
mod spec;
mod sqrt;
mod step;
mod tanh;

pub use sigmoid::sigmoid;
pub use softplus::softplus;
pub use spec::{Domain, ElementwiseOp, Hazard, Numpy};

/// The table: each built-in of the model and the `impl` that knows it. The
/// match names every variant, so a new built-in does not compile until it
/// has its line here.
pub fn op(f: Elementwise) -> &'static dyn ElementwiseOp {
    match f {
        Elementwise::Relu => &relu::Relu,
        Elementwise::Step => &step::Step,
        Elementwise::Sign => &sign::Sign,
        Elementwise::Sigmoid => &sigmoid::Sigmoid,
        Elementwise::Tanh => &tanh::Tanh,
        Elementwise::Sin => &sin::Sin,
        Elementwise::Cos => &cos::Cos,
        Elementwise::Exp => &exp::Exp,
        Elementwise::Log => &log::Log,
        Elementwise::Sqrt => &sqrt::Sqrt,
        Elementwise::Abs => &abs::Abs,
        Elementwise::Softplus => &softplus::Softplus,
        Elementwise::LeakyRelu => &leaky_relu::LeakyRelu,
        Elementwise::Elu => &elu::Elu,
        Elementwise::Gelu => &gelu::Gelu,
        Elementwise::Max => &max::Max,
        Elementwise::Min => &min::Min,
        Elementwise::NormCdf => &normcdf::NormCdf,
        Elementwise::NormPdf => &normpdf::NormPdf,
        Elementwise::Softsign => &softsign::Softsign,
        Elementwise::Silu => &silu::Silu,
    }
}

impl Elementwise {
    /// Everything about this built-in: see [`ElementwiseOp`].
    pub fn op(self) -> &'static dyn ElementwiseOp {
        op(self)
    }

    /// The name used in `.nn` files.
    pub fn name(self) -> &'static str {
        op(self).name()
    }

    /// How many arguments it takes: `leaky_relu(t, a)`, `max(a, b)` and
    /// `min(a, b)` take two.
    pub fn arity(self) -> usize {
        op(self).parameters().len()
    }

    /// Whether exact rational arguments give an exact rational value (no
    /// transcendental arithmetic): relu, step, sign, abs, softsign, max, min
    /// and leaky_relu do.
    pub fn is_rational(self) -> bool {
        op(self).rational()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_rational::BigRational;

    /// Each built-in's exactness agrees with its kernels: a rational one has
    /// an exact value, the others do not; every one has an f64 value; names
    /// and rule names are distinct.
    #[test]
    fn every_op_is_consistent() {
        let (x, y) = (BigRational::new((-1).into(), 2.into()), BigRational::new(1.into(), 3.into()));
        let mut names = std::collections::BTreeSet::new();
        for f in Elementwise::ALL {
            let o = f.op();
            assert_eq!(o.exact(&x, &y).is_some(), o.rational(), "{}", o.name());
            assert!(o.float(0.5, 0.25).is_ok(), "{} has an f64 kernel", o.name());
            assert!(names.insert(o.name()), "{} twice", o.name());
            assert_eq!(o.rule(), format!("d-{}", o.name().replace('_', "-")), "{}", o.name());
            assert!((1..=2).contains(&o.parameters().len()));
        }
    }
}
