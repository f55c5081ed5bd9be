//! `sign(t)`, with sign(0) = 0: abs's derivative.

use num_rational::BigRational;
use num_traits::Signed;

use super::spec::{Domain, ElementwiseOp, Hazard, Numpy};
use crate::model::{Graph, NodeId};

/// `sign(t)`: −1, 0 or 1; sign′ = 0.
pub struct Sign;

impl ElementwiseOp for Sign {
    fn name(&self) -> &'static str {
        "sign"
    }
    fn rule(&self) -> &'static str {
        "d-sign"
    }
    fn derivative(&self, g: &mut Graph, _u: NodeId, _out: NodeId) -> NodeId {
        g.int(0)
    }
    fn exact(&self, x: &BigRational, _y: &BigRational) -> Option<BigRational> {
        Some(x.signum())
    }
    fn rational(&self) -> bool {
        true
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        // Not f64::signum, which gives 1 at 0 (and −1 at −0).
        Ok(if x > 0.0 {
            1.0
        } else if x < 0.0 {
            -1.0
        } else {
            0.0
        })
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{sign}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Call("np.sign")
    }
    fn hazard(&self) -> Option<Hazard> {
        Some(Hazard::Kink)
    }
}
