//! The layers that are compositions of the graph's operations: one file
//! per layer, each holding one `impl` of [`LayerOp`] (its name, arity,
//! keywords, the checks of what its formulas cannot say, and its
//! expansion into the graph's ordinary operations), and [`op`], the table
//! that maps the layer's name in the model ([`Layer`]) to it.
//!
//! Since a layer is written out in operations the derivation, the
//! evaluator and every writer already know, its derivative, values and
//! notation are theirs: a new layer needs no other stage. A layer may
//! write out named intermediates ([`LayerCall::write_out`]: μ, var and x̂
//! of a normalization, attention's S and A), and a normalization states
//! the closed form of its input's gradient ([`LayerOp::closed_form`]),
//! which `derive` adds as the last step.

use crate::model::Layer;

mod attention;
mod batchnorm;
mod dropout;
mod layernorm;
mod rmsnorm;
mod spec;

pub use spec::{LayerCall, LayerOp};

/// The table: each layer of the model and the `impl` that knows it. The
/// match names every variant, so a new layer does not compile until it has
/// its line here.
pub fn op(layer: Layer) -> &'static dyn LayerOp {
    match layer {
        Layer::Dropout => &dropout::Dropout,
        Layer::Batchnorm => &batchnorm::Batchnorm,
        Layer::Layernorm => &layernorm::Layernorm,
        Layer::Rmsnorm => &rmsnorm::Rmsnorm,
        Layer::Attention => &attention::Attention,
    }
}

impl Layer {
    /// Everything about this layer: see [`LayerOp`].
    pub fn op(self) -> &'static dyn LayerOp {
        op(self)
    }

    /// The name used in `.nn` files.
    pub fn name(self) -> &'static str {
        op(self).name()
    }

    /// How many operands it takes.
    pub fn arity(self) -> usize {
        op(self).arity()
    }

    /// The keyword arguments it accepts, each optional.
    pub fn keywords(self) -> &'static [&'static str] {
        op(self).keywords()
    }
}
