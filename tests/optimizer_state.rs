//! `train` from a given optimizer state (`velocity = v0`, `cache = c0`,
//! `m = m0, v = v0, t = 5`): CS231n's published update checks reproduced to
//! their printed digits, a two-parameter run against NumPy, and the state
//! in JSON and the NumPy export.

mod common;

use std::process::Command;

use serde_json::Value;

use nnderive::render;
use nnderive::Source;

fn json_of(source: &Source) -> Value {
    let model = nnderive::load(source).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap()
}

fn example(name: &str) -> Value {
    json_of(&common::source(&common::example(name)))
}

/// Every number of a value object (`{"value": [[…]]}` or `[…]`), flattened.
fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(numbers).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        Value::Object(o) => numbers(&o["value"]),
        other => panic!("not a value: {other}"),
    }
}

/// `got` agrees with `printed` to every digit printed (8 after the point,
/// as the notebook prints them): within half a unit of the last digit.
fn agrees_to_printed_digits(what: &str, got: &[f64], printed: &[f64]) {
    assert_eq!(got.len(), printed.len(), "{what}");
    for (i, (g, p)) in got.iter().zip(printed).enumerate() {
        assert!((g - p).abs() <= 0.5e-8 + 1e-15, "{what}[{i}]: {g} against the notebook's {p}");
    }
}

// The notebook's expected arrays (CS231n FullyConnectedNets, the checks of
// sgd_momentum, rmsprop and adam), as printed.
const MOMENTUM_W: [f64; 20] = [
    0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789, 0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526,
    0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263, 1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096,
];
const MOMENTUM_V: [f64; 20] = [
    0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158, 0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105,
    0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053, 0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096,
];
const RMSPROP_W: [f64; 20] = [
    -0.39223849,
    -0.34037513,
    -0.28849239,
    -0.23659121,
    -0.18467247,
    -0.132737,
    -0.08078555,
    -0.02881884,
    0.02316247,
    0.07515774,
    0.12716641,
    0.17918792,
    0.23122175,
    0.28326742,
    0.33532447,
    0.38739248,
    0.43947102,
    0.49155973,
    0.54365823,
    0.59576619,
];
const RMSPROP_CACHE: [f64; 20] = [
    0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321, 0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377,
    0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936, 0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926,
];
const ADAM_W: [f64; 20] = [
    -0.40094747,
    -0.34836187,
    -0.29577703,
    -0.24319299,
    -0.19060977,
    -0.1380274,
    -0.08544591,
    -0.03286534,
    0.01971428,
    0.0722929,
    0.1248705,
    0.17744702,
    0.23002243,
    0.28259667,
    0.33516969,
    0.38774145,
    0.44031188,
    0.49288093,
    0.54544852,
    0.59801459,
];
const ADAM_V: [f64; 20] = [
    0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853, 0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385,
    0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767, 0.54159906, 0.53110598, 0.52061845, 0.51013645,
    0.49966,
];
const ADAM_M: [f64; 20] = [
    0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474, 0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316,
    0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158, 0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85,
];

#[test]
fn cs231n_sgd_momentum_check() {
    let v = example("cs231n_momentum_state.nn");
    agrees_to_printed_digits("next_w", &numbers(&v["updated"]["w"]), &MOMENTUM_W);
    agrees_to_printed_digits("velocity", &numbers(&v["history"][1]["state"]["w"]["v"]), &MOMENTUM_V);
}

#[test]
fn cs231n_rmsprop_check() {
    let v = example("cs231n_rmsprop_state.nn");
    agrees_to_printed_digits("next_w", &numbers(&v["updated"]["w"]), &RMSPROP_W);
    agrees_to_printed_digits("cache", &numbers(&v["history"][1]["state"]["w"]["cache"]), &RMSPROP_CACHE);
}

#[test]
fn cs231n_adam_check() {
    let v = example("cs231n_adam_state.nn");
    agrees_to_printed_digits("next_w", &numbers(&v["updated"]["w"]), &ADAM_W);
    let state = &v["history"][1]["state"]["w"];
    agrees_to_printed_digits("m", &numbers(&state["m"]), &ADAM_M);
    agrees_to_printed_digits("v", &numbers(&state["v"]), &ADAM_V);
    // Five updates before, one here: the count CS231n's config['t'] ends at.
    assert_eq!(state["t"], 6);
}

/// Without `t`, Adam's count starts at 0 and the history's t is the step.
#[test]
fn adam_counts_from_zero_without_t() {
    let v =
        json_of(&Source::new("t.nn", "param w[2] = [3, -1]\nloss L = sum(w * w)\ntrain adam(lr = 0.1, steps = 2)\n"));
    assert_eq!(v["history"][1]["state"]["w"]["t"], 1);
    assert_eq!(v["history"][2]["state"]["w"]["t"], 2);
}

/// Runs `script` and reads the numbers it prints, one a line.
fn numpy(python: &str, script: &str) -> Vec<f64> {
    let out = Command::new(python).args(["-c", script]).output().expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect()
}

/// Two parameters, each with its own state in declaration order, through a
/// tanh layer and a squared loss, three Adam steps from m, v and t = 3;
/// NumPy computes the same by hand-written backprop and CS231n's adam.
#[test]
fn two_parameters_against_numpy() {
    let Some(python) = common::numpy_python() else { return };
    let file = "\
input x[3] = [0.5, -1, 2]
target y[2] = [0.25, -0.5]
param W1[2,3] = [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]
param W2[2,2] = [[0.7, -0.1], [0.2, 0.3]]
const m1[2,3] = [[0.01, 0.02, -0.03], [0.04, -0.05, 0.06]]
const m2[2,2] = [[-0.02, 0.01], [0.03, 0.04]]
const v1[2,3] = [[0.001, 0.002, 0.003], [0.004, 0.005, 0.006]]
const v2[2,2] = [[0.002, 0.001], [0.004, 0.003]]
h = tanh(W1 @ x)
loss L = 0.5 * sum((W2 @ h - y)^2)
train adam(lr = 0.05, m = [m1, m2], v = [v1, v2], t = 3, steps = 3)
";
    let v = json_of(&Source::new("t.nn", file));
    let script = r#"
import numpy as np
x = np.array([0.5, -1, 2]); y = np.array([0.25, -0.5])
P = {"W1": np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]), "W2": np.array([[0.7, -0.1], [0.2, 0.3]])}
m = {"W1": np.array([[0.01, 0.02, -0.03], [0.04, -0.05, 0.06]]), "W2": np.array([[-0.02, 0.01], [0.03, 0.04]])}
v = {"W1": np.array([[0.001, 0.002, 0.003], [0.004, 0.005, 0.006]]), "W2": np.array([[0.002, 0.001], [0.004, 0.003]])}
t = 3
for _ in range(3):
    h = np.tanh(P["W1"] @ x)
    e = P["W2"] @ h - y
    g = {"W2": np.outer(e, h), "W1": np.outer((P["W2"].T @ e) * (1 - h * h), x)}
    t += 1
    for k in ("W1", "W2"):
        m[k] = 0.9 * m[k] + 0.1 * g[k]
        v[k] = 0.999 * v[k] + 0.001 * g[k] * g[k]
        mt = m[k] / (1 - 0.9**t)
        vt = v[k] / (1 - 0.999**t)
        P[k] = P[k] - 0.05 * mt / (np.sqrt(vt) + 1e-8)
for k in ("W1", "W2"):
    for a in (P[k], m[k], v[k]):
        for z in a.ravel():
            print(repr(float(z)))
"#;
    let want = numpy(&python, script);
    let mut got = Vec::new();
    for p in ["W1", "W2"] {
        got.extend(numbers(&v["updated"][p]));
        got.extend(numbers(&v["history"][3]["state"][p]["m"]));
        got.extend(numbers(&v["history"][3]["state"][p]["v"]));
        assert_eq!(v["history"][3]["state"][p]["t"], 6);
    }
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "entry {i}: {g} against NumPy's {w}");
    }
}

/// Momentum's state with two parameters: the list follows declaration
/// order, not the order of the equations, checked by hand (∂L/∂a = c,
/// ∂L/∂b = d exactly, so v' = β v − α g).
#[test]
fn momentum_list_follows_declaration_order() {
    let file = "\
param b[2] = [1, 1]
param a[2] = [2, 2]
const c[2] = [1, 2]
const d[2] = [3, 4]
const vb[2] = [10, 20]
const va[2] = [30, 40]
loss L = sum(c * a) + sum(d * b)
train momentum(lr = 0.5, beta = 0.5, velocity = [vb, va])
";
    let v = json_of(&Source::new("t.nn", file));
    // b: v' = 0.5 [10, 20] − 0.5 [3, 4] = [3.5, 8]; a: 0.5 [30, 40] − 0.5 [1, 2] = [14.5, 19]
    assert_eq!(numbers(&v["history"][1]["state"]["b"]["v"]), [3.5, 8.0]);
    assert_eq!(numbers(&v["history"][1]["state"]["a"]["v"]), [14.5, 19.0]);
    assert_eq!(numbers(&v["updated"]["b"]), [4.5, 9.0]);
    assert_eq!(numbers(&v["updated"]["a"]), [16.5, 21.0]);
}

/// The NumPy export starts from the same state and agrees with nnderive
/// (its own check passes), for Adam with t and RMSprop's cache.
#[test]
fn numpy_export_starts_from_the_state() {
    let Some(python) = common::numpy_python() else { return };
    for name in ["cs231n_adam_state.nn", "cs231n_rmsprop_state.nn", "cs231n_momentum_state.nn"] {
        let source = common::source(&common::example(name));
        let model = nnderive::load(&source).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        let script = render::numpy::export(&model, &solution, &source.name, false).unwrap();
        assert!(script.contains("np.array(GIVEN["), "{name}: the state is not read");
        let out = Command::new(&python).args(["-c", &script]).output().expect("python runs");
        assert!(
            out.status.success(),
            "{name}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Grading carries a wrong gradient forward through the update from the
/// given state: with v⁽⁰⁾ = v0 = [10, 20], β = α = 0.5 and the student's
/// ∂L/∂w = [1, 1] (the key's is c = [3, 4]), their v⁽¹⁾ = [4.5, 9.5] and
/// w⁽¹⁾ = [5.5, 11.5] are consistent; from zeros they would be w⁽¹⁾ =
/// [0.5, 1.5].
#[test]
fn grading_carries_a_gradient_through_the_given_state() {
    use nnderive::grade::answers::{self, Format};
    use nnderive::grade::{grade, Options, Status};
    let file = "\
param w[2] = [1, 2]
const c[2] = [3, 4]
const v0[2] = [10, 20]
loss L = sum(c * w)
train momentum(lr = 0.5, beta = 0.5, velocity = v0)
";
    let model = nnderive::load(&Source::new("t.nn", file)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let options = Options { places: 4, weights: None, weights_from_answers: true };
    let status = |updated: [f64; 2]| {
        let text = serde_json::json!({"dw": [1.0, 1.0], "w_new": updated}).to_string();
        let g = grade(&model, &solution, &answers::read(&text, Format::Json), &options);
        let part = g.parts.iter().find(|p| p.name == "w_new").expect("the update is graded");
        (part.status, part.message.clone())
    };
    let (from_state, message) = status([5.5, 11.5]);
    assert_eq!(from_state, Status::Consistent, "{message}");
    let (from_zeros, message) = status([0.5, 1.5]);
    assert_ne!(from_zeros, Status::Consistent, "{message}");
    assert_ne!(from_zeros, Status::Correct, "{message}");
}

/// A state list parses with spaces, line breaks and a trailing comma, and
/// `nnderive fmt` writes it in one canonical form; a single name stays one.
#[test]
fn state_lists_format_canonically() {
    let text = "train momentum(lr=0.1,velocity=[ v1 ,\n  v2, ])\ntrain adam(lr = 0.01, m = m0, t = 5)\n";
    let file = nnderive::syntax::parse(text).unwrap();
    assert_eq!(
        nnderive::syntax::format(&file),
        "train momentum(lr = 0.1, velocity = [v1, v2])\ntrain adam(lr = 0.01, m = m0, t = 5)\n"
    );
}
