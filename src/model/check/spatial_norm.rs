//! Spatial batch normalization: `batchnorm(X, gamma, beta)` of a batch of
//! feature maps `X [N, C, H, W]`, as CS231n's `spatial_batchnorm_forward`
//! computes it: the statistics of each channel over the N examples and the
//! H × W positions, m = N·H·W entries each, and γ, β one entry per channel.

use num_rational::BigRational;

use super::super::axes::{Axes, AxisName};
use super::super::error::{Error, ErrorKind};
use super::super::expr::{NodeId, TensorId};
use super::super::func::{Axis, MapLayout};
use super::super::layer_error::LayerArgError;
use super::super::norm::{NormKind, NormLayer};
use super::Checker;
use crate::syntax::ast;
use crate::syntax::Span;

impl Checker<'_> {
    /// Writes out μ = Σₙᵢⱼ X / m and σ² = Σₙᵢⱼ (X − μ)² / m (vectors `[C]`,
    /// spread over the maps as a conv bias is), x̂ = (X − μ) ⊘ sqrt(σ² + ε),
    /// and returns the output γ ⊙ x̂ + β; the layer is recorded for the
    /// closed form of ∂L/∂X, whose sums are Σₙᵢⱼ.
    pub(super) fn spatial_batchnorm(
        &mut self,
        input: TensorId,
        (x, gamma, beta): (NodeId, NodeId, NodeId),
        args: &[ast::Expr],
        eps: BigRational,
        span: Span,
    ) -> Result<NodeId, Error> {
        let dims = self.graph.shape(x).dims().to_vec();
        let (channels, count) = (dims[1], dims[0] * dims[2] * dims[3]);
        for (node, arg) in [(gamma, &args[1]), (beta, &args[2])] {
            let s = self.graph.shape(node);
            if s.dims() != [channels] {
                let error = LayerArgError::SpatialNormParamShape {
                    name: crate::syntax::expr_text(arg),
                    shape: s.clone(),
                    channels,
                };
                return Err(Error::new(ErrorKind::LayerArgument(error), arg.span));
            }
        }
        // The layer reads X as [N, C, H, W]: its channels are the axis that
        // reading names (the named axes of the model say the same).
        let reading = Axes::of_map(MapLayout::Nchw, dims.len());
        let channel = reading.and_then(|a| a.position(AxisName::Channel)).unwrap_or(1);
        let super::layers::NormStages { mean, var, sigma, xhat } =
            self.norm_stages(x, |g, a| g.sum_spatial(a, channel), count, &eps, span);
        let g = &mut self.graph;
        let scaled = g.mul(gamma, xhat.1);
        let out = g.add(scaled, beta);
        let owner = self.current.expect("a layer is called in an equation");
        self.norms.push(NormLayer {
            kind: NormKind::Batch,
            input,
            mean: mean.0,
            var: var.0,
            xhat: xhat.0,
            out: owner,
            gamma,
            sigma,
            axis: Axis::DOWN,
            spatial: true,
            count,
            eps,
        });
        Ok(out)
    }
}
