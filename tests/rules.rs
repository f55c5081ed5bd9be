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
    d_elu: "elu" => "exp(min(t, 0))" at "0.7, -0.3, 1.5";
    d_gelu: "gelu" => "normcdf(t) + t normpdf(t)" at "0.7, -0.3, 1.5";
    d_normcdf: "normcdf" => "normpdf(t)" at "0.7, -0.3, 1.5";
    d_normpdf: "normpdf" => "−t normpdf(t)" at "0.7, -0.3, 1.5";
}

/// `fn g(a, b) = NAME(a, b)` must have `∂g/∂a = DA` and `∂g/∂b = DB`, and
/// the gradients of `sum(g(p, q))` must agree with finite differences at
/// points `P` and `Q` (away from the kinks).
fn check_rule2(builtin: &str, da: &str, db: &str, p: &str, q: &str) {
    let text = format!("param p[3] = [{p}]\nparam q[3] = [{q}]\nfn g(a, b) = {builtin}(a, b)\nloss L = sum(g(p, q))\n");
    let model = nnderive::load(&Source::new("rule.nn", text)).expect("rule model checks");
    let d = derive(&model);
    let names = nnderive::render::formula::Names::new(&model, Some(&d));
    let lines = nnderive::render::text::function_lines(&model, &d, &names);
    let find = |lhs: &str| lines.iter().find(|(l, _)| l == lhs).map(|(_, r)| r.clone()).unwrap_or_default();
    assert_eq!(find("∂g/∂a(a, b)"), da, "∂/∂a of {builtin}");
    assert_eq!(find("∂g/∂b(a, b)"), db, "∂/∂b of {builtin}");
    let check = nnderive::gradcheck(&model).expect("gradcheck runs");
    assert!(check.worst() < 1e-6, "{builtin}: finite differences disagree: {check:?}");
}

macro_rules! rules2 {
    ($($test:ident: $builtin:literal => $da:literal, $db:literal at $p:literal, $q:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check_rule2($builtin, $da, $db, $p, $q);
            }
        )*
    };
}

rules2! {
    d_leaky_relu: "leaky_relu" => "b + (1 − b) step(a)", "min(a, 0)" at "0.7, -0.3, 1.5", "0.1, 0.2, -0.5";
    d_max: "max" => "1 − step(b − a)", "step(b − a)" at "0.7, -0.3, 1.5", "0.1, 0.2, 2";
    d_min: "min" => "1 − step(a − b)", "step(a − b)" at "0.7, -0.3, 1.5", "0.1, 0.2, 2";
}

/// At a tie, max and min pass the whole gradient to their first argument,
/// and leaky_relu′(0) is the slope: the stated conventions, exactly.
#[test]
fn kinks_of_the_two_argument_builtins_follow_the_stated_conventions() {
    let text = "param p[2] = [1, 0]\nparam q[2] = [1, 3]\nloss L = sum(max(p, q)) + 2 * sum(min(p, q)) + 4 * sum(leaky_relu(p, 0.25))\n";
    let model = nnderive::load(&Source::new("ties.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let grad = |name: &str| {
        let i =
            solution.derivation.gradients.iter().position(|g| model.tensor(g.param).name == name).expect("a gradient");
        let value = &solution.gradients[i];
        (0..value.len()).map(|k| value.exact_string(k).unwrap_or_default()).collect::<Vec<_>>()
    };
    // p[0] = q[0] = 1 ties: max and min both pick p; p[1] = 0 is leaky_relu's kink (slope 1/4).
    assert_eq!(grad("p"), ["7", "3"]);
    assert_eq!(grad("q"), ["0", "1"]);
}

/// One rule per elementwise built-in, each tested above, each name once.
#[test]
fn every_elementwise_builtin_has_a_rule() {
    use nnderive::derive::rules::rules;
    use nnderive::model::Elementwise;
    let all: Vec<_> = rules().collect();
    for f in Elementwise::ALL {
        assert!(all.iter().any(|r| r.function == f), "{f:?} has no rule");
    }
    assert_eq!(all.len(), Elementwise::ALL.len());
    let names: std::collections::BTreeSet<&str> = all.iter().map(|r| r.name).collect();
    assert_eq!(names.len(), all.len(), "two built-ins share a rule name");
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

/// Every rule a step names in any example or readable fixture has a
/// statement, in the text and in LaTeX, so the legend of a document defines
/// every tag it uses.
#[test]
fn every_named_rule_has_a_statement() {
    use nnderive::render::formula::Notation;
    use nnderive::render::text::{named_rules, rule_statement};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for dir in ["grammar/examples", "tests/fixtures/readable", "tests/fixtures/unrolled"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "nn") {
                continue;
            }
            let model = nnderive::load(&common::source(&path)).unwrap();
            let d = derive(&model);
            let steps = d.defined_symbols().flat_map(|s| &s.steps).chain(d.gradients.iter().flat_map(|g| &g.steps));
            for tag in named_rules(steps) {
                for notation in [Notation::Text, Notation::Latex] {
                    let statement = rule_statement(tag, &model, notation);
                    assert!(statement.is_some_and(|s| !s.is_empty()), "{}: {tag} has no statement", path.display());
                }
                seen += 1;
            }
        }
    }
    assert!(seen > 50, "only {seen} tags seen");
}

/// An elementwise rule is stated from the derivative the engine builds.
#[test]
fn elementwise_rules_are_stated_from_their_derivatives() {
    use nnderive::render::formula::Notation;
    use nnderive::render::text::rule_statement;
    let model = nnderive::load(&Source::new("p.nn", "param p = 1\nloss L = p^2\n")).unwrap();
    let text = |tag: &str| nnderive::render::training::sentence(&rule_statement(tag, &model, Notation::Text).unwrap());
    assert_eq!(text("d-sigmoid"), "σ′(t) = σ(t) (1 − σ(t))");
    assert_eq!(text("d-relu"), "relu′(t) = step(t)");
    assert_eq!(text("d-max"), "∂max/∂a(a, b) = 1 − step(b − a), ∂max/∂b(a, b) = step(b − a)");
    assert_eq!(text("d-matmul-left"), "C = A B: Ā = C̄ Bᵀ");
    assert!(rule_statement("d-unknown", &model, Notation::Text).is_none());
}
