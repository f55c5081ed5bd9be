//! `tanh(t)`.

use super::spec::{two, Domain, ElementwiseOp, Numpy};
use crate::model::{Graph, NodeId};

/// tanh(t): its derivative is written through its output, tanh′ = 1 − tanh².
pub struct Tanh;

impl ElementwiseOp for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }
    fn rule(&self) -> &'static str {
        "d-tanh"
    }
    fn derivative(&self, g: &mut Graph, _u: NodeId, out: NodeId) -> NodeId {
        let one = g.int(1);
        let sq = g.pow(out, two());
        g.sub(one, sq)
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(x.tanh())
    }
    fn latex(&self) -> &'static str {
        "\\tanh"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Call("np.tanh")
    }
}
