//! `sin(t)`.

use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// sin(t); sin′ = cos.
pub struct Sin;

impl ElementwiseOp for Sin {
    fn name(&self) -> &'static str {
        "sin"
    }
    fn rule(&self) -> &'static str {
        "d-sin"
    }
    fn derivative(&self, g: &mut Graph, u: NodeId, _out: NodeId) -> NodeId {
        g.apply(Func::Builtin(Elementwise::Cos), vec![u])
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(x.sin())
    }
    fn latex(&self) -> &'static str {
        "\\sin"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Call("np.sin")
    }
}
