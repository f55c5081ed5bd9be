//! `elu(t)`: t for t > 0, exp(t) − 1 otherwise (α = 1).

use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// elu with α = 1, which is C¹: the slope exp(t) meets 1 at t = 0.
pub struct Elu;

impl ElementwiseOp for Elu {
    fn name(&self) -> &'static str {
        "elu"
    }
    fn rule(&self) -> &'static str {
        "d-elu"
    }
    /// exp(min(t, 0)), not min(exp(t), 1), so that no large t overflows
    /// exp on the way to a slope of 1.
    fn derivative(&self, g: &mut Graph, u: NodeId, _out: NodeId) -> NodeId {
        let zero = g.int(0);
        let m = g.apply(Func::Builtin(Elementwise::Min), vec![u, zero]);
        g.apply(Func::Builtin(Elementwise::Exp), vec![m])
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(if x > 0.0 { x } else { x.exp_m1() })
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{elu}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "elu",
            source: r#"def elu(t):
    """t where t > 0, else exp(t) − 1."""
    return np.where(np.asarray(t) > 0, t, np.expm1(np.minimum(t, 0.0)))
"#,
            uses: &[],
        }
    }
}
