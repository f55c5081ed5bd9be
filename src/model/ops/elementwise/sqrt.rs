//! `sqrt(t)`.

use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Graph, NodeId};

/// √t for t ≥ 0; written through its output, sqrt′ = 1 / (2 sqrt). LaTeX
/// prints a call as `\sqrt{…}` (see `render::formula`); its name is for
/// a function standing alone.
pub struct Sqrt;

impl ElementwiseOp for Sqrt {
    fn name(&self) -> &'static str {
        "sqrt"
    }
    fn rule(&self) -> &'static str {
        "d-sqrt"
    }
    fn derivative(&self, g: &mut Graph, _u: NodeId, out: NodeId) -> NodeId {
        let two = g.int(2);
        let twice = g.mul(two, out);
        let one = g.int(1);
        g.div(one, twice)
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        if x < 0.0 {
            return Err(Domain::SqrtOfNegative(x));
        }
        Ok(x.sqrt())
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{sqrt}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Call("np.sqrt")
    }
}
