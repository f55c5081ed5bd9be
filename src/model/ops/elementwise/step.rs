//! `step(t)`, the Heaviside step with step(0) = 0: relu's derivative.

use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

use super::spec::{Domain, ElementwiseOp, Hazard, Numpy};
use crate::model::{Graph, NodeId};

/// `step(t)`: 1 for t > 0, else 0 (so step(0) = 0); step′ = 0.
pub struct Step;

impl ElementwiseOp for Step {
    fn name(&self) -> &'static str {
        "step"
    }
    fn rule(&self) -> &'static str {
        "d-step"
    }
    fn derivative(&self, g: &mut Graph, _u: NodeId, _out: NodeId) -> NodeId {
        g.int(0)
    }
    fn exact(&self, x: &BigRational, _y: &BigRational) -> Option<BigRational> {
        Some(if x.is_positive() { BigRational::one() } else { BigRational::zero() })
    }
    fn rational(&self) -> bool {
        true
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(f64::from(u8::from(x > 0.0)))
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{step}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "step",
            source: r#"def step(t):
    """1 where t > 0, else 0: step(0) = 0, so relu′(0) is taken as 0."""
    return np.where(np.asarray(t) > 0, 1.0, 0.0)
"#,
            uses: &[],
        }
    }
    fn hazard(&self) -> Option<Hazard> {
        Some(Hazard::Kink)
    }
}
