//! `softplus(t) = log(1 + exp(t))`.

use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// log(1 + eᵗ); softplus′ = σ.
pub struct Softplus;

/// log(1 + eˣ) without overflow: max(x, 0) + log(1 + e^(−|x|)).
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

impl ElementwiseOp for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }
    fn rule(&self) -> &'static str {
        "d-softplus"
    }
    fn derivative(&self, g: &mut Graph, u: NodeId, _out: NodeId) -> NodeId {
        g.apply(Func::Builtin(Elementwise::Sigmoid), vec![u])
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(softplus(x))
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{softplus}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "softplus",
            source: r#"def softplus(t):
    """log(1 + exp(t)), as max(t, 0) + log(1 + exp(−|t|))."""
    return np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))
"#,
            uses: &[],
        }
    }
}
