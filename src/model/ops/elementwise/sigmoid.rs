//! `sigmoid(t) = 1 / (1 + exp(−t))`, written σ.

use super::spec::{Domain, ElementwiseOp, Hazard, Numpy};
use crate::model::{Graph, NodeId};

/// σ(t): its derivative is written through its output, σ′ = σ (1 − σ).
pub struct Sigmoid;

/// σ(x); the two branches keep exp from overflowing for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl ElementwiseOp for Sigmoid {
    fn name(&self) -> &'static str {
        "sigmoid"
    }
    fn rule(&self) -> &'static str {
        "d-sigmoid"
    }
    fn derivative(&self, g: &mut Graph, _u: NodeId, out: NodeId) -> NodeId {
        let one = g.int(1);
        let rest = g.sub(one, out);
        g.mul(out, rest)
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(sigmoid(x))
    }
    fn latex(&self) -> &'static str {
        "\\sigma"
    }
    fn text(&self) -> &'static str {
        "σ"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "sigmoid",
            source: r#"def sigmoid(t):
    """1 / (1 + exp(−t)), written so that exp never overflows."""
    t = np.asarray(t, dtype=float)
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1 / (1 + e), e / (1 + e))
"#,
            uses: &[],
        }
    }
    fn hazard(&self) -> Option<Hazard> {
        Some(Hazard::Saturates)
    }
}
