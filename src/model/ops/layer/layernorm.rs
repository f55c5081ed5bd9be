//! `layernorm(X, gamma, beta, eps = 1e-5)`: layer normalization, each
//! example over its own features.

use num_rational::BigRational;

use super::super::normalize;
use super::spec::{LayerCall, LayerOp};
use crate::model::error::Error;
use crate::model::norm::NormLayer;
use crate::model::{Axis, Graph, Layer, NodeId};

/// `γ ⊙ x̂ + β` with x̂ = (X − μ) ⊘ sqrt(σ² + ε), μ and σ² each example's
/// mean and variance over its D features (Ba, Kiros & Hinton 2016;
/// PyTorch's `LayerNorm`), written out as named intermediates μ, var and
/// x̂. Which axis holds the features follows the network's layout, else
/// γ's shape.
pub struct Layernorm;

/// ε when the file gives none: 1e-5, as PyTorch.
fn default_eps() -> BigRational {
    BigRational::new(1.into(), 100_000.into())
}

const NAME: &str = "layernorm";

impl LayerOp for Layernorm {
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
        let dims = normalize::matrix(call, NAME)?;
        let input = normalize::input(call, NAME)?;
        let features = normalize::feature_axis(call, dims);
        let count = if features == Axis::ACROSS { dims.1 } else { dims.0 };
        let oriented = normalize::per_feature(call, NAME, features, count)?;
        let eps = normalize::eps(call, NAME, "Z, gamma, beta", default_eps())?;
        let normalize::Stages { mean, var, sigma, xhat } =
            normalize::stages(call, x, |g, a| g.sum_axis(a, features), count, &eps);
        let g = call.graph();
        let scaled = g.mul(oriented[0], xhat.1);
        let out = g.add(scaled, oriented[1]);
        call.record_norm(NormLayer {
            layer: Layer::Layernorm,
            input,
            mean: mean.0,
            var: var.0,
            xhat: xhat.0,
            xhat_node: xhat.1,
            out: call.owner(),
            gamma: oriented[0],
            sigma,
            axis: features,
            spatial: false,
            count,
            eps,
        });
        Ok(out)
    }

    /// `(1/D) (D Ĝ − Σ_d Ĝ − x̂ ⊙ Σ_d (Ĝ ⊙ x̂)) ⊘ σ` with Ĝ = G ⊙ γ, where γ
    /// varies along the sums and stays inside them.
    fn closed_form(&self, g: &mut Graph, layer: &NormLayer, g_out: NodeId) -> Option<(&'static str, NodeId)> {
        let upstream = g.mul(g_out, layer.gamma);
        let factor = |g: &mut Graph| {
            let one = g.int(1);
            g.div(one, layer.sigma)
        };
        Some(("layernorm-closed-form", normalize::collected(g, layer, upstream, factor)))
    }
}
