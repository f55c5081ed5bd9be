//! `batchnorm(X, gamma, beta, eps = 1e-5)`: batch normalization, of a
//! matrix of examples per feature, or of a batch of feature maps
//! `[N, C, H, W]` per channel (spatial batch norm).

use num_rational::BigRational;

use super::super::normalize::{self, layer_error};
use super::spec::{LayerCall, LayerOp};
use crate::model::error::Error;
use crate::model::layer_error::LayerArgError;
use crate::model::norm::NormLayer;
use crate::model::{Axis, Batch, Graph, Layer, NodeId};

/// `γ ⊙ x̂ + β` with x̂ = (X − μ) ⊘ sqrt(σ² + ε), μ and σ² each feature's
/// mean and variance over the examples of the batch (CS231n's
/// `batchnorm_forward`, PyTorch's `BatchNorm1d` in training mode), written
/// out as named intermediates μ, var and x̂. Which axis holds the examples
/// follows the network's layout, as for softmax. Of maps `[N, C, H, W]`
/// the statistics of each channel run over the N examples and the H × W
/// positions, m = N·H·W entries each, and γ, β are one entry per channel
/// (CS231n's `spatial_batchnorm_forward`).
pub struct Batchnorm;

/// ε when the file gives none: 1e-5, as CS231n and PyTorch.
fn default_eps() -> BigRational {
    BigRational::new(1.into(), 100_000.into())
}

const NAME: &str = "batchnorm";
const OPERANDS: &str = "Z, gamma, beta";

impl LayerOp for Batchnorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn arity(&self) -> usize {
        3
    }

    fn keywords(&self) -> &'static [&'static str] {
        &["eps"]
    }

    fn expand(&self, call: &mut dyn LayerCall) -> Result<NodeId, Error> {
        normalize::whole_equation(call, NAME)?;
        let x = call.operands()[0];
        let shape = call.graph().shape(x).clone();
        if shape.rank() == 4 {
            let input = normalize::input(call, NAME)?;
            let eps = normalize::eps(call, NAME, OPERANDS, default_eps())?;
            return spatial(call, input, eps);
        }
        let dims = normalize::matrix(call, NAME)?;
        let input = normalize::input(call, NAME)?;
        let features = normalize::feature_axis(call, dims);
        let count_features = if features == Axis::ACROSS { dims.1 } else { dims.0 };
        let oriented = normalize::per_feature(call, NAME, features, count_features)?;
        let eps = normalize::eps(call, NAME, OPERANDS, default_eps())?;
        let axis = features.other();
        call.note_batch(Batch { examples: axis, size: shape.axis_len(axis) });
        let count = shape.axis_len(axis);
        let normalize::Stages { mean, var, sigma, xhat } =
            normalize::stages(call, x, |g, a| g.sum_axis(a, axis), count, &eps);
        let g = call.graph();
        let scaled = g.mul(oriented[0], xhat.1);
        let out = g.add(scaled, oriented[1]);
        call.record_norm(NormLayer {
            layer: Layer::Batchnorm,
            input,
            mean: mean.0,
            var: var.0,
            xhat: xhat.0,
            xhat_node: xhat.1,
            out: call.owner(),
            gamma: oriented[0],
            sigma,
            axis,
            spatial: false,
            count,
            eps,
        });
        Ok(out)
    }

    /// `(1/N) (γ ⊘ σ) ⊙ (N G − Σₙ G − x̂ ⊙ Σₙ (G ⊙ x̂))` (CS231n's
    /// `batchnorm_backward_alt`), where γ is the same for every example and
    /// comes out of the sums; for maps the sums are Σₙᵢⱼ per channel over
    /// m = N·H·W entries.
    fn closed_form(&self, g: &mut Graph, layer: &NormLayer, g_out: NodeId) -> Option<(&'static str, NodeId)> {
        let rule = if layer.spatial { "spatial-batchnorm-closed-form" } else { "batchnorm-closed-form" };
        Some((rule, normalize::collected(g, layer, g_out, |g| g.div(layer.gamma, layer.sigma))))
    }
}

/// Spatial batch norm of `X [N, C, H, W]`: writes out μ = Σₙᵢⱼ X / m and
/// σ² = Σₙᵢⱼ (X − μ)² / m (vectors `[C]`, spread over the maps as a conv
/// bias is), x̂ = (X − μ) ⊘ sqrt(σ² + ε), and returns γ ⊙ x̂ + β.
fn spatial(call: &mut dyn LayerCall, input: crate::model::TensorId, eps: BigRational) -> Result<NodeId, Error> {
    let (x, gamma, beta) = (call.operands()[0], call.operands()[1], call.operands()[2]);
    let dims = call.graph().shape(x).dims().to_vec();
    let (channels, count) = (dims[1], dims[0] * dims[2] * dims[3]);
    for (i, node) in [(1, gamma), (2, beta)] {
        let s = call.graph().shape(node).clone();
        if s.dims() != [channels] {
            let arg = call.operand_source(i);
            let error =
                LayerArgError::SpatialNormParamShape { name: crate::syntax::expr_text(arg), shape: s, channels };
            return Err(layer_error(error, arg.span));
        }
    }
    // The layer reads X as [N, C, H, W]: its channels are the axis that
    // reading names (the model's named axes say the same once inferred).
    let rank = call.graph().shape(x).rank();
    let reading = crate::model::axes::Axes::of_map(crate::model::MapLayout::Nchw, rank);
    let channel = reading.and_then(|a| a.position(crate::model::axes::AxisName::Channel)).unwrap_or(1);
    let normalize::Stages { mean, var, sigma, xhat } =
        normalize::stages(call, x, |g, a| g.sum_spatial(a, channel), count, &eps);
    let g = call.graph();
    let scaled = g.mul(gamma, xhat.1);
    let out = g.add(scaled, beta);
    call.record_norm(NormLayer {
        layer: Layer::Batchnorm,
        input,
        mean: mean.0,
        var: var.0,
        xhat: xhat.0,
        xhat_node: xhat.1,
        out: call.owner(),
        gamma,
        sigma,
        axis: Axis::DOWN,
        spatial: true,
        count,
        eps,
    });
    Ok(out)
}
