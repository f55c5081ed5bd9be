//! `min(a, b)`, entry by entry.

use num_rational::BigRational;

use super::spec::{Domain, ElementwiseOp, Hazard, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};
use crate::rational;

/// `min(a, b)`: b where b < a, else a, so a tie (and its gradient) goes to
/// the first argument.
pub struct Min;

impl ElementwiseOp for Min {
    fn name(&self) -> &'static str {
        "min"
    }
    fn parameters(&self) -> &'static [&'static str] {
        &["a", "b"]
    }
    fn rule(&self) -> &'static str {
        "d-min"
    }
    fn derivative(&self, g: &mut Graph, _u: NodeId, _out: NodeId) -> NodeId {
        g.int(0)
    }
    /// ∂/∂b = step(a − b), ∂/∂a = 1 − step(a − b).
    fn partial(&self, g: &mut Graph, args: &[NodeId], wrt: usize, _out: NodeId) -> NodeId {
        let u = args[0];
        let v = match args.get(1) {
            Some(&v) => v,
            None => g.int(0),
        };
        let d = g.sub(u, v);
        let s = g.apply(Func::Builtin(Elementwise::Step), vec![d]);
        if wrt == 0 {
            let one = g.int(1);
            g.sub(one, s)
        } else {
            s
        }
    }
    fn exact(&self, x: &BigRational, y: &BigRational) -> Option<BigRational> {
        // Without recursion (see `crate::rational`); a tie takes x.
        Some(rational::min(x, y).clone())
    }
    fn rational(&self) -> bool {
        true
    }
    fn float(&self, x: f64, y: f64) -> Result<f64, Domain> {
        Ok(if y < x { y } else { x })
    }
    fn latex(&self) -> &'static str {
        "\\min"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Call("np.minimum")
    }
    fn hazard(&self) -> Option<Hazard> {
        Some(Hazard::Tie)
    }
}
