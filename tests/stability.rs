//! Derivatives and losses at the extremes, against values computed to 50
//! digits with mpmath (`mp.dps = 50`; the expression for each is given):
//! no overflow where the result is a finite number, no cancellation where
//! f64 holds it, and the convention 0 · log 0 = 0 for a term whose weight
//! is exactly zero.

// The references are written as mpmath printed them, to 20 digits.
#![allow(clippy::excessive_precision)]

use nnderive::Source;

fn solve(text: &str) -> (nnderive::model::Model, nnderive::eval::Solution) {
    let model = nnderive::load(&Source::new("s.nn", text)).expect("checks");
    let solution = nnderive::solve(&model).unwrap_or_else(|e| panic!("{text}: {:?}", e.diagnostic()));
    (model, solution)
}

/// Agreement to 1e-12 relative where the reference is a normal f64; below
/// that (subnormal numbers carry fewer digits, and some round to 0), to
/// within the smallest normal number's 1e-12.
fn close(got: f64, want: f64) -> bool {
    if want.abs() < f64::MIN_POSITIVE {
        (got - want).abs() <= 1e-12 * f64::MIN_POSITIVE
    } else {
        (got - want).abs() <= 1e-12 * want.abs()
    }
}

/// (built-in, t, its derivative at t). References: σ′ = σ(t) σ(−t),
/// tanh′ = sech(t)², softplus′ = σ(t), softsign′ = 1/(1 + |t|)²,
/// gelu′ = ncdf(t) + t npdf(t), normcdf′ = npdf(t), normpdf′ = −t npdf(t),
/// elu′ = 1 for t > 0 and exp(t) otherwise.
const EXTREMES: [(&str, &str, f64); 28] = [
    ("elu", "710", 1.0),
    ("elu", "1e300", 1.0),
    ("elu", "-40", 4.2483542552915889953e-18),
    ("elu", "-700", 9.8596765437597708567e-305),
    ("sigmoid", "40", 4.2483542552915889592e-18),
    ("sigmoid", "-40", 4.2483542552915889592e-18),
    ("sigmoid", "700", 9.8596765437597708567e-305),
    ("tanh", "20", 1.6993417021166355837e-17),
    ("tanh", "-300", 1.0601586212017243265e-260),
    ("tanh", "400", 1.4671498336710748854e-347),
    ("softplus", "800", 1.0),
    ("softplus", "-700", 9.8596765437597708567e-305),
    ("softsign", "1e150", 1.0e-300),
    ("softsign", "-1e155", 1.0e-310),
    ("softsign", "1e160", 1.0e-320),
    ("softsign", "1e200", 1.0e-400),
    ("gelu", "-8", -3.9796072610867959891e-14),
    ("gelu", "-20", -1.1014360483133464042e-86),
    ("gelu", "40", 1.0),
    ("normcdf", "30", 1.473646134878547519e-196),
    ("normpdf", "30", -4.4209384046356425571e-195),
    ("exp", "700", 1.0142320547350045095e+304),
    ("log", "1e-300", 1.0e+300),
    ("sqrt", "1e-300", 5.0e+149),
    ("sqrt", "1e300", 5.0e-151),
    ("sin", "1e6", 9.3675212753314478694e-1),
    ("cos", "1e6", 3.4999350217129295212e-1),
    ("relu", "1e300", 1.0),
];

/// Each built-in's derivative at extreme arguments: elu′(710) overflowed in
/// exp, softsign′(1e155) in the square of 1 + |t|, and σ′(40) and tanh′(20)
/// came out 0 from 1 − σ and 1 − tanh² rounded to 0.
#[test]
fn every_derivative_at_its_extremes_matches_a_50_digit_value() {
    let mut wrong = Vec::new();
    for (f, t, want) in EXTREMES {
        let (_, solution) = solve(&format!("param t = {t}\nloss L = {f}(t)\n"));
        let got = solution.gradients[0].to_f64_vec()[0];
        if !close(got, want) {
            wrong.push(format!("{f}′({t}) = {got:e}, not {want:e}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The same derivatives through a named tensor (`h = σ(z)`, whose
/// derivative the rules write with h: h ⊙ (1 − h)) and through a custom
/// function's body (`fn f(t) = tanh(t)`, f′(t) = 1 − tanh(t)²).
#[test]
fn output_forms_of_the_derivatives_are_stable_too() {
    let (_, solution) = solve("param z[2] = [40, -40]\nh = sigmoid(z)\nk = tanh(z / 2)\nloss L = sum(h) + sum(k)\n");
    // σ′(±40) + tanh′(±20)/2, tanh′ = sech².
    let want = 4.2483542552915889592e-18 + 1.6993417021166355837e-17 / 2.0;
    for got in solution.gradients[0].to_f64_vec() {
        assert!(close(got, want), "{got:e} against {want:e}");
    }
    let (_, solution) = solve("param z[2] = [20, -300]\nfn f(t) = tanh(t)\nloss L = sum(f(z))\n");
    let got = solution.gradients[0].to_f64_vec();
    assert!(close(got[0], 1.6993417021166355837e-17) && close(got[1], 1.0601586212017243265e-260), "{got:?}");
}

/// The quotient rule divides by the square of the divisor, ∂(a/b)/∂b =
/// −a/b²: with b = 1e200 the square overflows, the quotient −1e−100 does not.
#[test]
fn dividing_by_a_square_divides_twice() {
    let (_, solution) = solve("param a = 1e300\nparam b = 1e200\nloss L = a / b\n");
    let grads: Vec<f64> = solution.gradients.iter().map(|g| g.to_f64_vec()[0]).collect();
    assert!(close(grads[0], 1e-200) && close(grads[1], -1e-100), "{grads:?}");
}

/// bce of a sigmoid from its logits: log(1 + e^(−40)), 40 + log(1 + e^(−40))
/// and 0.7·800 + log(1 + e^(−800)) where ŷ = σ(z) rounds to 1 and
/// log(1 − ŷ) was a log of 0.
#[test]
fn bce_of_a_sigmoid_is_computed_from_its_logits() {
    for (y, z, want) in [("1", "40", 4.2483542552915889863e-18), ("0", "40", 40.0), ("0.3", "800", 560.0)] {
        let (model, solution) =
            solve(&format!("target y = {y}\nparam z = {z}\nyhat = sigmoid(z)\nloss L = bce(y, yhat)\n"));
        let got = solution.value(model.loss).to_f64_vec()[0];
        assert!(close(got, want), "bce({y}, σ({z})) = {got:e}, not {want:e}");
    }
}

/// A term whose weight is exactly 0 is 0: bce with y = 1 and p = 1 given
/// exactly (the loss −log 1 = 0, ∂L/∂p = −y/p = −1), cross-entropy with
/// y = [1, 0] and p = [1, 0] (0, and ∂L/∂p = −y ⊘ p = [−1, 0]), and bce of
/// a prediction that rounds to 1 with y = 1. Where the weight is not 0 the
/// log of 0 stays an error.
#[test]
fn terms_of_weight_zero_vanish() {
    let (model, solution) = solve("param p = 1\ntarget y = 1\nloss L = bce(y, p)\n");
    assert_eq!(solution.value(model.loss).to_f64_vec(), [0.0]);
    assert_eq!(solution.gradients[0].to_f64_vec(), [-1.0]);
    let (model, solution) = solve("param p[2] = [1, 0]\ntarget y[2] = [1, 0]\nloss L = cross_entropy(y, p)\n");
    assert_eq!(solution.value(model.loss).to_f64_vec(), [0.0]);
    assert_eq!(solution.gradients[0].to_f64_vec(), [-1.0, 0.0]);
    // ŷ = 0.5 + 0.5 tanh(40) rounds to 1: (1 − y) / (1 − ŷ) is 0 / 0 under a
    // weight of 0, and ∂L/∂z = −0.5 sech²(40) / ŷ.
    let (model, solution) = solve("target y = 1\nparam z = 40\nyhat = 0.5 + 0.5 * tanh(z)\nloss L = bce(y, yhat)\n");
    assert_eq!(solution.value(model.loss).to_f64_vec(), [0.0]);
    let got = solution.gradients[0].to_f64_vec()[0];
    assert!(close(got, -3.6097027756908303446e-35), "{got:e}");
    let model = nnderive::load(&Source::new("s.nn", "param p = 1\ntarget y = 0\nloss L = bce(y, p)\n")).unwrap();
    let error = nnderive::solve(&model).expect_err("−log(1 − 1) is infinite");
    assert_eq!(error.diagnostic().message, "cannot compute L: log of 0");
}
