//! `normpdf(t) = φ(t)`, the standard normal density: it appears in gelu′.

use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Graph, NodeId};

/// φ(t) = exp(−t²/2)/√(2π); written through its output, φ′ = −t φ.
pub struct NormPdf;

/// The standard normal density φ(x) = exp(−x²/2)/√(2π).
pub(super) fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

impl ElementwiseOp for NormPdf {
    fn name(&self) -> &'static str {
        "normpdf"
    }
    fn rule(&self) -> &'static str {
        "d-normpdf"
    }
    fn derivative(&self, g: &mut Graph, u: NodeId, out: NodeId) -> NodeId {
        let t_out = g.mul(u, out);
        g.neg(t_out)
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(normal_pdf(x))
    }
    fn latex(&self) -> &'static str {
        "\\varphi"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "normpdf",
            source: r#"def normpdf(t):
    """φ(t) = exp(−t²/2) / √(2π), the standard normal density."""
    return np.exp(-0.5 * np.square(t)) / math.sqrt(2 * math.pi)
"#,
            uses: &[],
        }
    }
}
