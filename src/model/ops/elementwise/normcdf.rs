//! `normcdf(t) = Φ(t)`, the standard normal CDF: it appears in gelu′.

use super::normpdf::normal_pdf;
use super::spec::{Domain, ElementwiseOp, Numpy};
use crate::model::{Elementwise, Func, Graph, NodeId};

/// Φ(t) = (1 + erf(t/√2))/2; Φ′ = φ.
pub struct NormCdf;

/// The standard normal CDF Φ(x) = (1 + erf(x/√2))/2, to about 1e-15.
///
/// For |x| < 6 from the series erf(z) = 2/√π · e^(−z²) Σ 2ⁿ z^(2n+1) / (1·3·…·(2n+1)),
/// whose terms are all positive (no cancellation); beyond, Φ is 0 or 1 to
/// within 1e-9 relative to the density, and the continued fraction for the
/// tail (Laplace) gives the small side.
pub fn normal_cdf(x: f64) -> f64 {
    if x.abs() < 6.0 {
        let z = x / std::f64::consts::SQRT_2;
        let z2 = z * z;
        let (mut term, mut sum, mut n) = (z, z, 0.0);
        while term.abs() > 1e-17 * sum.abs() && n < 500.0 {
            n += 1.0;
            term *= 2.0 * z2 / (2.0 * n + 1.0);
            sum += term;
        }
        let erf = 2.0 / std::f64::consts::PI.sqrt() * (-z2).exp() * sum;
        return 0.5 * (1.0 + erf);
    }
    // Tail: 1 − Φ(|x|) = φ(|x|) / (|x| + 1/(|x| + 2/(|x| + 3/(|x| + …)))).
    let a = x.abs();
    let mut fraction = a;
    for k in (1..=40).rev() {
        fraction = a + f64::from(k) / fraction;
    }
    let tail = normal_pdf(a) / fraction;
    if x > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

impl ElementwiseOp for NormCdf {
    fn name(&self) -> &'static str {
        "normcdf"
    }
    fn rule(&self) -> &'static str {
        "d-normcdf"
    }
    fn derivative(&self, g: &mut Graph, u: NodeId, _out: NodeId) -> NodeId {
        g.apply(Func::Builtin(Elementwise::NormPdf), vec![u])
    }
    fn float(&self, x: f64, _y: f64) -> Result<f64, Domain> {
        Ok(normal_cdf(x))
    }
    fn latex(&self) -> &'static str {
        "\\Phi"
    }
    fn numpy(&self) -> Numpy {
        Numpy::Helper {
            name: "normcdf",
            source: r#"def normcdf(t):
    """Φ(t), the standard normal CDF: erfc(−t/√2)/2, accurate in both tails."""
    return 0.5 * np.vectorize(math.erfc, otypes=[float])(-np.asarray(t, dtype=float) / math.sqrt(2))
"#,
            uses: &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_reference_values() {
        for (x, phi) in [
            (0.0, 0.5),
            (0.5, 0.691_462_461_274_013_1),
            (1.0, 0.841_344_746_068_542_9),
            (-2.0, 0.022_750_131_948_179_195),
            (-7.0, 1.279_812_543_885_835e-12),
        ] {
            let got = normal_cdf(x);
            let close = if phi < 1e-6 { ((got - phi) / phi).abs() < 1e-12 } else { (got - phi).abs() < 1e-15 };
            assert!(close, "Φ({x}) = {got}, expected {phi}");
        }
    }
}
