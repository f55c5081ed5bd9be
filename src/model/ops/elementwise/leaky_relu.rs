//! `leaky_relu(t, a)`: t for t > 0, a·t otherwise.

use num_rational::BigRational;
use num_traits::Signed;

use super::spec::{Domain, ElementwiseOp, Hazard, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// `leaky_relu(t, a)`, the slope for negative t its second argument
/// (`leaky_relu(Z, 0.01)`): the slope is a where step(t) = 0, so at 0 too.
pub struct LeakyRelu;

impl ElementwiseOp for LeakyRelu {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }
    fn parameters(&self) -> &'static [&'static str] {
        &["t", "a"]
    }
    fn rule(&self) -> &'static str {
        "d-leaky-relu"
    }
    fn derivative(&self, g: &mut Graph, _u: NodeId, _out: NodeId) -> NodeId {
        g.int(0)
    }
    /// ∂/∂t = a + (1 − a) step(t); ∂/∂a = min(t, 0).
    fn partial(&self, g: &mut Graph, args: &[NodeId], wrt: usize, _out: NodeId) -> NodeId {
        let u = args[0];
        if wrt == 0 {
            let v = match args.get(1) {
                Some(&v) => v,
                None => g.int(0),
            };
            let s = g.apply(Func::Builtin(Elementwise::Step), vec![u]);
            let one = g.int(1);
            let rest = g.sub(one, v);
            let k = g.mul(rest, s);
            g.add(v, k)
        } else {
            let zero = g.int(0);
            g.apply(Func::Builtin(Elementwise::Min), vec![u, zero])
        }
    }
    fn exact(&self, x: &BigRational, a: &BigRational) -> Option<BigRational> {
        Some(if x.is_positive() { x.clone() } else { x * a })
    }
    fn rational(&self) -> bool {
        true
    }
    fn float(&self, x: f64, a: f64) -> Result<f64, Domain> {
        Ok(if x > 0.0 { x } else { x * a })
    }
    fn latex(&self) -> &'static str {
        "\\operatorname{leaky\\_relu}"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "leaky_relu",
            source: r#"def leaky_relu(t, a):
    """t where t > 0, else a·t."""
    return np.where(np.asarray(t) > 0, t, np.multiply(a, t))
"#,
            uses: &[],
        }
    }
    fn hazard(&self) -> Option<Hazard> {
        Some(Hazard::Kink)
    }
}
