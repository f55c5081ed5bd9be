//! The closed form of a normalization layer's input gradient.
//!
//! Reverse mode through the written-out equations μ, σ² and x̂ gives the
//! staged gradient CS231n's `batchnorm_backward` computes (∂L/∂x̂, ∂L/∂σ²,
//! ∂L/∂μ, then ∂L/∂X as their sum). Those stay as the steps; the result is
//! the collected form of `batchnorm_backward_alt`, built here from the
//! layer's own named quantities so that it is evaluated, and so checked,
//! like every other formula.

use crate::model::norm::{NormKind, NormLayer};
use crate::model::{Graph, Model, NodeId};

/// The rule a step names when it states the closed form of `layer`.
pub fn rule(layer: &NormLayer) -> &'static str {
    match (layer.kind, layer.spatial) {
        (NormKind::Batch, true) => "spatial-batchnorm-closed-form",
        (NormKind::Batch, false) => "batchnorm-closed-form",
        (NormKind::Layer, _) => "layernorm-closed-form",
    }
}

/// ∂L/∂X of `layer` from G = ∂L/∂out (the node `g_out`):
/// batch norm `(1/N) (γ ⊘ σ) ⊙ (N G − Σₙ G − x̂ ⊙ Σₙ (G ⊙ x̂))`, where γ is
/// the same for every example and comes out of the sums; layer norm
/// `(1/D) (D Ĝ − Σ_d Ĝ − x̂ ⊙ Σ_d (Ĝ ⊙ x̂)) ⊘ σ` with Ĝ = G ⊙ γ, where γ
/// varies along the sums and stays inside them.
pub fn closed_form(g: &mut Graph, model: &Model, layer: &NormLayer, g_out: NodeId) -> NodeId {
    let xhat = g.tensor(layer.xhat, model.tensor(layer.xhat).shape.clone());
    let upstream = match layer.kind {
        NormKind::Batch => g_out,
        NormKind::Layer => g.mul(g_out, layer.gamma),
    };
    let n = g.int(layer.count as i64);
    let scaled = g.mul(n, upstream);
    // Σₙ (or Σ_d) along the layer's axis; Σₙᵢⱼ per channel for maps.
    let sum = |g: &mut Graph, a: NodeId| {
        if layer.spatial {
            // The channels the checker named on the layer's input (a
            // spatial batch norm reads it as [N, C, H, W]); the rule by
            // rank only where nothing named them.
            let named = model.axes(layer.input).position(crate::model::axes::AxisName::Channel);
            let channel = named.or_else(|| g.shape(a).channel_axis()).unwrap_or(0);
            g.sum_spatial(a, channel)
        } else {
            g.sum_axis(a, layer.axis)
        }
    };
    let total = sum(g, upstream);
    let along = g.mul(upstream, xhat);
    let projected = sum(g, along);
    let correction = g.mul(xhat, projected);
    let first = g.sub(scaled, total);
    let inner = g.sub(first, correction);
    let factor = match layer.kind {
        NormKind::Batch => g.div(layer.gamma, layer.sigma),
        NormKind::Layer => {
            let one = g.int(1);
            g.div(one, layer.sigma)
        }
    };
    let product = g.mul(factor, inner);
    g.div(product, n)
}
