//! The closed form of a normalization layer's input gradient.
//!
//! Reverse mode through the written-out equations μ, σ² and x̂ gives the
//! staged gradient CS231n's `batchnorm_backward` computes (∂L/∂x̂, ∂L/∂σ²,
//! ∂L/∂μ, then ∂L/∂X as their sum). Those stay as the steps; the result is
//! the collected form (`batchnorm_backward_alt`), which the layer's own
//! [`LayerOp::closed_form`](crate::model::ops::layer::LayerOp::closed_form)
//! builds from its named quantities, so that it is evaluated, and so
//! checked, like every other formula.

use crate::model::norm::NormLayer;
use crate::model::{Graph, NodeId};

/// ∂L/∂X of `layer` from G = ∂L/∂out (the node `g_out`), with the name of
/// the rule its step states; `None` when the layer has no closed form.
pub fn closed_form(g: &mut Graph, layer: &NormLayer, g_out: NodeId) -> Option<(&'static str, NodeId)> {
    layer.layer.op().closed_form(g, layer, g_out)
}
