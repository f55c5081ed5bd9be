//! `gelu(t) = t Φ(t)`, Φ the standard normal CDF.

use super::normcdf::normal_cdf;
use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// The exact (erf) form, as PyTorch's default `GELU()`, not the tanh
/// approximation; gelu′ = Φ + t φ.
pub struct Gelu;

impl ElementwiseOp for Gelu {
    fn name(&self) -> &'static str {
        "gelu"
    }
    fn rule(&self) -> &'static str {
        "d-gelu"
    }
    fn derivative(&self, g: &mut Graph, u: NodeId, _out: NodeId) -> NodeId {
        let cdf = g.apply(Func::Builtin(Elementwise::NormCdf), vec![u]);
        let pdf = g.apply(Func::Builtin(Elementwise::NormPdf), vec![u]);
        let t_pdf = g.mul(u, pdf);
        g.add(cdf, t_pdf)
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(x * normal_cdf(x))
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{gelu}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "gelu",
            source: r#"def gelu(t):
    """t Φ(t), the exact (erf) form."""
    return t * normcdf(t)
"#,
            uses: &[Elementwise::NormCdf],
        }
    }
}
