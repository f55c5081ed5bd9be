//! `abs(t) = |t|`.

use num_rational::BigRational;
use num_traits::Signed;

use super::spec::{Domain, ElementwiseOp, Hazard, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// |t|; abs′ = sign, so abs′(0) = 0. LaTeX prints a call as `|…|` (see
/// `render::formula`).
pub struct Abs;

impl ElementwiseOp for Abs {
    fn name(&self) -> &'static str {
        "abs"
    }
    fn rule(&self) -> &'static str {
        "d-abs"
    }
    fn derivative(&self, g: &mut Graph, u: NodeId, _out: NodeId) -> NodeId {
        g.apply(Func::Builtin(Elementwise::Sign), vec![u])
    }
    fn exact(&self, x: &BigRational, _y: &BigRational) -> Option<BigRational> {
        Some(x.abs())
    }
    fn rational(&self) -> bool {
        true
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(x.abs())
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{abs}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Call("np.abs")
    }
    fn hazard(&self) -> Option<Hazard> {
        Some(Hazard::Kink)
    }
}
