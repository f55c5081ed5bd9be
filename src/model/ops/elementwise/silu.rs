//! `silu(t) = t σ(t)`, the sigmoid-weighted linear unit (PyTorch's `SiLU`,
//! also called swish).

use super::sigmoid::sigmoid;
use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// t σ(t). Its derivative σ(t) + t σ(t)(1 − σ(t)) is written through its
/// output: silu′(t) = σ(t) + silu(t) (1 − σ(t)), so that `h = silu(z)` gives
/// `σ(z) + h ⊙ (1 − σ(z))`.
pub struct Silu;

impl ElementwiseOp for Silu {
    fn name(&self) -> &'static str {
        "silu"
    }
    fn rule(&self) -> &'static str {
        "d-silu"
    }
    fn derivative(&self, g: &mut Graph, u: NodeId, out: NodeId) -> NodeId {
        let s = g.apply(Func::Builtin(Elementwise::Sigmoid), vec![u]);
        let one = g.int(1);
        let rest = g.sub(one, s);
        let k = g.mul(out, rest);
        g.add(s, k)
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(x * sigmoid(x))
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{silu}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "silu",
            source: r#"def silu(t):
    """t σ(t), the sigmoid-weighted linear unit."""
    return t * sigmoid(t)
"#,
            uses: &[Elementwise::Sigmoid],
        }
    }
}
