//! `rmsnorm(X, gamma, eps = 1e-8)`: root mean square layer normalization
//! (Zhang & Sennrich 2019), each example over its own features.

use num_rational::BigRational;

use super::super::normalize;
use super::spec::{LayerCall, LayerOp};
use crate::model::error::Error;
use crate::model::{Axis, Elementwise, Func, NodeId};

/// `γ ⊙ (X ⊘ rms)` with rms = sqrt(Σ_d X² / D + ε), the root mean square of
/// each example's D features: layer norm without the centring and the
/// shift. The features are laid out as layer norm's (the network's layout,
/// else γ's shape), and rms is written out as a named intermediate, one
/// entry per example, printed once with its values. Its gradient is
/// reverse mode's through rms: no closed form is stated.
pub struct Rmsnorm;

/// ε when the file gives none: 1e-8, the default of the paper's reference
/// code (`bzhangGo/rmsnorm`). That code adds ε to the root mean square;
/// here it is added under the square root, as in `mean(x²) + ε` of
/// PyTorch's `nn.RMSNorm` and LLaMA's, so that rms is a layer norm's σ
/// without the mean.
fn default_eps() -> BigRational {
    BigRational::new(1.into(), 100_000_000.into())
}

const NAME: &str = "rmsnorm";

impl LayerOp for Rmsnorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn arity(&self) -> usize {
        2
    }

    fn keywords(&self) -> &'static [&'static str] {
        &["eps"]
    }

    fn expand(&self, call: &mut dyn LayerCall) -> Result<NodeId, Error> {
        let x = call.operands()[0];
        let dims = normalize::matrix(call, NAME)?;
        let features = normalize::feature_axis(call, dims);
        let count = if features == Axis::ACROSS { dims.1 } else { dims.0 };
        let gamma = normalize::per_feature(call, NAME, features, count)?[0];
        let eps = normalize::eps(call, NAME, "Z, gamma", default_eps())?;
        let g = call.graph();
        let squares = g.pow(x, BigRational::from_integer(2.into()));
        let total = g.sum_axis(squares, features);
        let n = g.int(count as i64);
        let mean = g.div(total, n);
        let eps = g.constant(eps);
        let shifted = g.add(mean, eps);
        let rms_def = g.apply(Func::Builtin(Elementwise::Sqrt), vec![shifted]);
        let (_, rms) = call.write_out("rms", rms_def);
        let g = call.graph();
        let scaled = g.div(x, rms);
        Ok(g.mul(gamma, scaled))
    }
}
