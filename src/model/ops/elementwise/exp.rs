//! `exp(t)`.

use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Graph, NodeId};

/// exp(t); exp′ = exp, written as its output.
pub struct Exp;

impl ElementwiseOp for Exp {
    fn name(&self) -> &'static str {
        "exp"
    }
    fn rule(&self) -> &'static str {
        "d-exp"
    }
    fn derivative(&self, _g: &mut Graph, _u: NodeId, out: NodeId) -> NodeId {
        out
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(x.exp())
    }
    fn latex(&self) -> &'static str {
        "\\exp"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Call("np.exp")
    }
}
