//! `max(a, b)`, entry by entry.

use num_rational::BigRational;

use super::spec::{Domain, ElementwiseOp, Hazard, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};
use crate::rational;

/// `max(a, b)`: b where b > a, else a, so a tie (and its gradient) goes to
/// the first argument.
pub struct Max;

impl ElementwiseOp for Max {
    fn name(&self) -> &'static str {
        "max"
    }
    fn parameters(&self) -> &'static [&'static str] {
        &["a", "b"]
    }
    fn rule(&self) -> &'static str {
        "d-max"
    }
    fn derivative(&self, g: &mut Graph, _u: NodeId, _out: NodeId) -> NodeId {
        g.int(0)
    }
    /// ∂/∂b = step(b − a), ∂/∂a = 1 − step(b − a).
    fn partial(&self, g: &mut Graph, args: &[NodeId], wrt: usize, _out: NodeId) -> NodeId {
        let u = args[0];
        let v = match args.get(1) {
            Some(&v) => v,
            None => g.int(0),
        };
        let d = g.sub(v, u);
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
        Some(rational::max(x, y).clone())
    }
    fn rational(&self) -> bool {
        true
    }
    fn float(&self, x: f64, y: f64) -> Result<f64, Domain> {
        Ok(if y > x { y } else { x })
    }
    fn latex(&self) -> &'static str {
        "\\max"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Call("np.maximum")
    }
    fn hazard(&self) -> Option<Hazard> {
        Some(Hazard::Tie)
    }
}
