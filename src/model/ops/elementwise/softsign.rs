//! `softsign(t) = t / (1 + |t|)`.

use num_rational::BigRational;
use num_traits::{One, Signed};

use super::spec::{two, Domain, ElementwiseOp, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// t / (1 + |t|), exact at rational t; softsign′ = 1 / (1 + |t|)².
pub struct Softsign;

impl ElementwiseOp for Softsign {
    fn name(&self) -> &'static str {
        "softsign"
    }
    fn rule(&self) -> &'static str {
        "d-softsign"
    }
    /// (1 + |t|)² overflows for |t| past 1.3e154, where the slope is still
    /// a number: the evaluator divides by a square as by its base twice
    /// (see `eval::stable`).
    fn derivative(&self, g: &mut Graph, u: NodeId, _out: NodeId) -> NodeId {
        let one = g.int(1);
        let a = g.apply(Func::Builtin(Elementwise::Abs), vec![u]);
        let s = g.add(one, a);
        let sq = g.pow(s, two());
        let one = g.int(1);
        g.div(one, sq)
    }
    fn exact(&self, x: &BigRational, _y: &BigRational) -> Option<BigRational> {
        Some(x / (BigRational::one() + x.abs()))
    }
    fn rational(&self) -> bool {
        true
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(x / (1.0 + x.abs()))
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{softsign}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "softsign",
            source: r#"def softsign(t):
    """t / (1 + |t|)."""
    return t / (1 + np.abs(t))
"#,
            uses: &[],
        }
    }
}
