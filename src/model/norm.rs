//! Batch and layer normalization, as their layers write them out: named
//! intermediates μ, σ² and x̂ (printed once, with their values, and referred
//! to by name afterwards) and the layer's output `γ ⊙ x̂ + β`. `derive`
//! reads this record to state the closed form of the input's gradient,
//! which the layer's own [`LayerOp::closed_form`] builds.
//!
//! [`LayerOp::closed_form`]: crate::model::ops::layer::LayerOp::closed_form

use num_rational::BigRational;

use super::expr::{NodeId, TensorId};
use super::func::{Axis, Layer};

/// One normalization layer `out = γ ⊙ (X − μ) ⊘ sqrt(σ² + ε) + β`.
#[derive(Clone, Debug, PartialEq)]
pub struct NormLayer {
    /// The layer that wrote it out (`batchnorm`, `layernorm`), whose
    /// [`LayerOp::closed_form`](crate::model::ops::layer::LayerOp::closed_form)
    /// gives ∂L/∂X.
    pub layer: Layer,
    /// X, a named tensor (an equation or a parameter).
    pub input: TensorId,
    /// μ, σ² and x̂, equations the layer wrote out.
    pub mean: TensorId,
    pub var: TensorId,
    pub xhat: TensorId,
    /// The node that names x̂ in the graph.
    pub xhat_node: NodeId,
    /// The equation whose right-hand side is the layer.
    pub out: TensorId,
    /// γ as it multiplies x̂ (transposed when a column `[D]` scales rows).
    pub gamma: NodeId,
    /// sqrt(σ² + ε), the node x̂ divides by.
    pub sigma: NodeId,
    /// The axis the statistics are taken along (0: down each column).
    pub axis: Axis,
    /// Spatial batch norm of maps `[N, C, H, W]`: the statistics of each
    /// channel over N, H and W (then `axis` is unused).
    pub spatial: bool,
    /// How many entries each statistic averages (N, or D for layer norm).
    pub count: usize,
    pub eps: BigRational,
}
