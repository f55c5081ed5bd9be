//! `cos(t)`.

use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// cos(t); cos′ = −sin.
pub struct Cos;

impl ElementwiseOp for Cos {
    fn name(&self) -> &'static str {
        "cos"
    }
    fn rule(&self) -> &'static str {
        "d-cos"
    }
    fn derivative(&self, g: &mut Graph, u: NodeId, _out: NodeId) -> NodeId {
        let s = g.apply(Func::Builtin(Elementwise::Sin), vec![u]);
        g.neg(s)
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(x.cos())
    }
    fn latex(&self) -> &'static str {
        "\\cos"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Call("np.cos")
    }
}
