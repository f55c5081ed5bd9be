//! `relu(t) = max(t, 0)`.

use num_rational::BigRational;
use num_traits::{Signed, Zero};

use super::spec::{Domain, ElementwiseOp, Hazard, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// `relu(t) = max(t, 0)`: relu′ = step, so relu′(0) = step(0) = 0.
pub struct Relu;

impl ElementwiseOp for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }
    fn rule(&self) -> &'static str {
        "d-relu"
    }
    fn derivative(&self, g: &mut Graph, u: NodeId, _out: NodeId) -> NodeId {
        g.apply(Func::Builtin(Elementwise::Step), vec![u])
    }
    fn exact(&self, x: &BigRational, _y: &BigRational) -> Option<BigRational> {
        Some(if x.is_positive() { x.clone() } else { BigRational::zero() })
    }
    fn rational(&self) -> bool {
        true
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(x.max(0.0))
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{relu}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "relu",
            source: r#"def relu(t):
    """max(t, 0), entry by entry."""
    return np.maximum(t, 0.0)
"#,
            uses: &[],
        }
    }
    fn hazard(&self) -> Option<Hazard> {
        Some(Hazard::Kink)
    }
}
