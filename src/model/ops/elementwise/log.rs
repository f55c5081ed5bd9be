//! `log(t)`, the natural logarithm.

use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Graph, NodeId};

/// log(t) for t > 0; log′(t) = 1/t.
pub struct Log;

impl ElementwiseOp for Log {
    fn name(&self) -> &'static str {
        "log"
    }
    fn rule(&self) -> &'static str {
        "d-log"
    }
    fn derivative(&self, g: &mut Graph, u: NodeId, _out: NodeId) -> NodeId {
        let one = g.int(1);
        g.div(one, u)
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        if x <= 0.0 {
            return Err(Domain::LogOfNonPositive(x));
        }
        Ok(x.ln())
    }
    fn latex(&self) -> &'static str {
        "\\log"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Call("np.log")
    }
}
