//! One test per derivative rule (egg style): the derivative of each built-in
//! as nnderive writes it, and its value checked against central finite
//! differences at points away from any kink.

mod common;

use nnderive::derive::derive;
use nnderive::Source;

/// `fn g(t) = NAME(t)` must have `g′(t) = EXPECTED`, and the gradient of
/// `sum(g(p))` must agree with finite differences at `POINTS`.
fn check_rule(builtin: &str, expected: &str, points: &str) {
    let text = format!("param p[3] = [{points}]\nfn g(t) = {builtin}(t)\nloss L = sum(g(p))\n");
    let model = nnderive::load(&Source::new("rule.nn", text)).expect("rule model checks");
    let d = derive(&model);
    let derivative =
        nnderive::render::text::function_lines(&model, &d, &nnderive::render::formula::Names::new(&model, Some(&d)));
    assert_eq!(derivative[1].1, expected, "derivative of {builtin}");
    let check = nnderive::gradcheck(&model).expect("gradcheck runs");
    assert!(check.worst() < 1e-6, "{builtin}: finite differences disagree: {check:?}");
}

macro_rules! rules {
    ($($test:ident: $builtin:literal => $expected:literal at $points:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check_rule($builtin, $expected, $points);
            }
        )*
    };
}

rules! {
    d_relu: "relu" => "step(t)" at "0.7, -0.3, 1.5";
    d_step: "step" => "0" at "0.7, -0.3, 1.5";
    d_sign: "sign" => "0" at "0.7, -0.3, 1.5";
    d_sigmoid: "sigmoid" => "σ(t) (1 − σ(t))" at "0.7, -0.3, 1.5";
    d_tanh: "tanh" => "1 − tanh(t)²" at "0.7, -0.3, 1.5";
    d_sin: "sin" => "cos(t)" at "0.7, -0.3, 1.5";
    d_cos: "cos" => "−sin(t)" at "0.7, -0.3, 1.5";
    d_exp: "exp" => "exp(t)" at "0.7, -0.3, 1.5";
    d_log: "log" => "1 / t" at "0.7, 0.3, 1.5";
    d_sqrt: "sqrt" => "1 / (2 sqrt(t))" at "0.7, 0.3, 1.5";
    d_abs: "abs" => "sign(t)" at "0.7, -0.3, 1.5";
    d_softplus: "softplus" => "σ(t)" at "0.7, -0.3, 1.5";
}

/// The table has one rule per elementwise built-in, each tested above.
#[test]
fn every_elementwise_builtin_has_a_rule() {
    use nnderive::derive::rules::RULES;
    use nnderive::model::Elementwise;
    for f in Elementwise::ALL {
        assert!(RULES.iter().any(|r| r.function == f), "{f:?} has no rule");
    }
    assert_eq!(RULES.len(), Elementwise::ALL.len());
}

/// The chain rule through custom functions that call each other.
#[test]
fn derivative_of_nested_custom_functions() {
    let text = "param p[2] = [0.4, -1.2]\nfn f(t) = relu(t) + sin(t)\nfn g(t) = t * sigmoid(t)\nfn h(a, b) = a * b + f(a)\nloss L = sum(h(g(p), p))\n";
    let model = nnderive::load(&Source::new("nested.nn", text)).unwrap();
    let d = derive(&model);
    let names = nnderive::render::formula::Names::new(&model, Some(&d));
    let lines = nnderive::render::text::function_lines(&model, &d, &names);
    let find = |lhs: &str| lines.iter().find(|(l, _)| l == lhs).map(|(_, r)| r.clone()).unwrap_or_default();
    assert_eq!(find("f′(t)"), "step(t) + cos(t)");
    assert_eq!(find("g′(t)"), "σ(t) + t σ(t) (1 − σ(t))");
    assert_eq!(find("∂h/∂a(a, b)"), "b + f′(a)");
    assert_eq!(find("∂h/∂b(a, b)"), "a");
    assert!(nnderive::gradcheck(&model).unwrap().worst() < 1e-6);
}
