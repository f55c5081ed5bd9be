//! `rmsnorm(X, gamma, eps = 1e-8)` (Zhang & Sennrich 2019): its values and
//! gradients against an independent NumPy computation (the forward pass and
//! the backward pass written by hand in NumPy, below) to 1e-12, against
//! central differences, and exact values worked by hand. Its errors are
//! fixtures in `tests/fixtures/errors` (`check_rmsnorm_*.nn`).
//!
//! The Python is `$NNDERIVE_PYTHON`, else `python3`. Without NumPy the
//! comparisons say so and skip, except under CI=true, where they fail.

mod common;

use serde_json::Value;

fn solve_json(text: &str) -> Value {
    let out = common::nnderive_with_input(&["solve", "-", "--format", "json"], Some(text));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Examples as rows (`X @ W`): each row normalized over its 3 features,
/// γ a row `[1, 3]`, the default ε.
const ROWS: &str = "\
input  X[4,2]     = [[1, 2], [3, -1], [0, 2], [-1.5, 0.5]]
param  W[2,3]     = [[1, 0.5, -0.3], [-0.5, 1, 0.2]]
param  gamma[1,3] = [[1, 2, -0.5]]
target y[4,3]     = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]

Z      = X @ W
out    = rmsnorm(Z, gamma)
loss L = mse(y, out)
";

/// The same network in NumPy: the forward pass and the backward pass by
/// hand (∂L/∂Z = (Ĝ − x̂ ⊙ mean_d(Ĝ ⊙ x̂)) ⊘ rms with Ĝ = G ⊙ γ and
/// x̂ = Z ⊘ rms, the derivative of x ⊘ sqrt(mean(x²) + ε)).
const ROWS_NUMPY: &str = r#"
import json, numpy as np
X = np.array([[1, 2], [3, -1], [0, 2], [-1.5, 0.5]])
W = np.array([[1, 0.5, -0.3], [-0.5, 1, 0.2]])
gamma = np.array([[1, 2, -0.5]])
y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
eps = 1e-8
Z = X @ W
rms = np.sqrt(np.mean(Z**2, axis=1, keepdims=True) + eps)
xhat = Z / rms
out = gamma * xhat
L = np.mean((out - y) ** 2)
G = 2 * (out - y) / out.size
dgamma = np.sum(G * xhat, axis=0, keepdims=True)
Gh = G * gamma
dZ = (Gh - xhat * np.mean(Gh * xhat, axis=1, keepdims=True)) / rms
dW = X.T @ dZ
print(json.dumps({"rms": rms.tolist(), "out": out.tolist(), "L": L,
                  "gamma": dgamma.tolist(), "W": dW.tolist()}))
"#;

/// Examples as columns (`W @ X`): each column normalized over its 3
/// features, γ a column `[3]`, ε given.
const COLUMNS: &str = "\
input  X[2,4]   = [[1, 3, 0, -1.5], [2, -1, 2, 0.5]]
param  W[3,2]   = [[1, -0.5], [0.5, 1], [-0.3, 0.2]]
param  gamma[3] = [1, 2, -0.5]
target y[3,4]   = [[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 0]]

Z      = W @ X
out    = rmsnorm(Z, gamma, eps = 0.01)
loss L = mse(y, out)
";

const COLUMNS_NUMPY: &str = r#"
import json, numpy as np
X = np.array([[1, 3, 0, -1.5], [2, -1, 2, 0.5]])
W = np.array([[1, -0.5], [0.5, 1], [-0.3, 0.2]])
gamma = np.array([1, 2, -0.5]).reshape(3, 1)
y = np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 0]])
eps = 0.01
Z = W @ X
rms = np.sqrt(np.mean(Z**2, axis=0, keepdims=True) + eps)
xhat = Z / rms
out = gamma * xhat
L = np.mean((out - y) ** 2)
G = 2 * (out - y) / out.size
dgamma = np.sum(G * xhat, axis=1)
Gh = G * gamma
dZ = (Gh - xhat * np.mean(Gh * xhat, axis=0, keepdims=True)) / rms
dW = dZ @ X.T
print(json.dumps({"rms": rms.tolist(), "out": out.tolist(), "L": L,
                  "gamma": dgamma.tolist(), "W": dW.tolist()}))
"#;

fn numpy(script: &str) -> Option<Value> {
    let python = common::numpy_python()?;
    let out = std::process::Command::new(python).args(["-c", script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn agrees_with_numpy(text: &str, script: &str) {
    let solved = solve_json(text);
    let Some(want) = numpy(script) else { return };
    let close = |what: &str, got: &Value, want: &Value| common::assert_json_close(what, got, want, 1e-12);
    close("rms", &solved["forward"]["rms"]["value"], &want["rms"]);
    close("out", &solved["forward"]["out"]["value"], &want["out"]);
    close("L", &solved["loss"]["value"], &want["L"]);
    close("∂L/∂gamma", &solved["gradients"]["gamma"]["value"], &want["gamma"]);
    close("∂L/∂W", &solved["gradients"]["W"]["value"], &want["W"]);
}

#[test]
fn rmsnorm_on_rows_agrees_with_numpy() {
    agrees_with_numpy(ROWS, ROWS_NUMPY);
}

#[test]
fn rmsnorm_on_columns_agrees_with_numpy() {
    agrees_with_numpy(COLUMNS, COLUMNS_NUMPY);
}

/// By hand: the row [1, 1] has mean square 1, and ε = 0.44 makes
/// rms = sqrt(1.44) = 6/5, so out = γ ⊙ [1, 1] / (6/5) = [5/6, 5/3] for
/// γ = [1, 2]; with L = sum(out), ∂L/∂γ is x̂ = X ⊘ rms = [5/6, 5/6], and
/// ∂L/∂X = (Ĝ − x̂ ⊙ mean(Ĝ ⊙ x̂)) / rms with Ĝ = γ: mean(Ĝ ⊙ x̂) = 5/4, so
/// ∂L/∂X = ([1, 2] − (25/24) [1, 1]) / (6/5) = [−5/144, 115/144]. (The
/// square root is evaluated in f64, so these are compared to 1e-15.)
#[test]
fn rmsnorm_by_hand() {
    let text = "param X[1,2] = [[1, 1]]\nparam gamma[1,2] = [[1, 2]]\n\
                out = rmsnorm(X, gamma, eps = 0.44)\nloss L = sum(out)\n";
    let solved = solve_json(text);
    let close = |what: &str, got: &Value, want: &[f64]| {
        common::assert_json_close(what, got, &serde_json::json!(want), 1e-15);
    };
    close("rms", &solved["forward"]["rms"]["value"], &[6.0 / 5.0]);
    close("out", &solved["forward"]["out"]["value"], &[5.0 / 6.0, 5.0 / 3.0]);
    close("∂L/∂gamma", &solved["gradients"]["gamma"]["value"], &[5.0 / 6.0, 5.0 / 6.0]);
    close("∂L/∂X", &solved["gradients"]["X"]["value"], &[-5.0 / 144.0, 115.0 / 144.0]);
}

/// The root mean square is a named intermediate, printed once in the
/// forward pass before the layer's equation and used by name afterwards.
#[test]
fn rms_is_written_out_once() {
    let solved = solve_json(ROWS);
    let forward: Vec<&String> = solved["forward"].as_object().unwrap().keys().collect();
    let at = |name: &str| forward.iter().position(|k| *k == name).unwrap_or_else(|| panic!("{name} in {forward:?}"));
    assert!(at("Z") < at("rms") && at("rms") < at("out"));
    assert_eq!(solved["forward"]["out"]["formula"], "γ ⊙ (Z ⊘ rms)");
    let out = common::nnderive_with_input(&["derive", "-"], Some(ROWS));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    common::settings().bind(|| insta::assert_snapshot!("rmsnorm_derive", String::from_utf8_lossy(&out.stdout)));
}

/// Every gradient agrees with central differences: rows and columns, a
/// parameter normalized directly, γ a column `[D]` scaling rows, a layer
/// inside an expression, two layers (their rms named rms and rms_2), and a
/// single example.
#[test]
fn rmsnorm_passes_gradcheck() {
    let direct = "param  Z[3,2] = [[1, 2], [3, -1], [0, 2]]\nparam  gamma[2] = [1, 2]\n\
                  param  W[2,2] = [[1, 0.5], [-0.5, 1]]\ntarget y[3,2] = [[1, 0], [0, 1], [1, 1]]\n\
                  B = rmsnorm(Z, gamma) + Z\nZ2 = B @ W\nB2 = rmsnorm(Z2, gamma, eps = 0.001)\nloss L = mse(y, B2)\n";
    let one = "input  X[1,2] = [[1, 2]]\nparam  W[2,2] = [[1, 0.5], [-0.5, 1]]\nparam  gamma[1,2] = [[1, 2]]\n\
               target y[1,2] = [[1, 0]]\nZ = X @ W\nout = tanh(rmsnorm(Z, gamma))\nloss L = mse(y, out)\n";
    for text in [ROWS, COLUMNS, direct, one] {
        let model = nnderive::load(&nnderive::Source::new("rms.nn", text)).unwrap();
        assert!(model.tensors.contains_key("rms"), "{text}");
        let check = nnderive::gradcheck(&model).unwrap();
        assert!(check.worst() < 1e-6, "{check:?}\n{text}");
    }
    let model = nnderive::load(&nnderive::Source::new("rms.nn", direct)).unwrap();
    assert!(model.tensors.contains_key("rms_2"));
}

/// `grammar/examples/rmsnorm.nn`: its fourth example is its second times
/// −1/2, and RMSNorm does not see an example's scale, so the fourth row of
/// N1 is the second's negated (up to ε = 1e-8 against mean squares near 1);
/// every gradient agrees with central differences.
#[test]
fn the_example_does_not_see_an_examples_scale() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/grammar/examples/rmsnorm.nn");
    let solved = solve_json(&std::fs::read_to_string(path).unwrap());
    let n1 = &solved["forward"]["N1"]["value"];
    let negated: Vec<f64> = common::flat(&n1[1]).iter().map(|v| -v).collect();
    common::assert_json_close("N1 row 4", &n1[3], &serde_json::json!(negated), 1e-7);
    let model = nnderive::load(&common::source(std::path::Path::new(path))).unwrap();
    let check = nnderive::gradcheck(&model).unwrap();
    assert!(check.worst() < 1e-6, "{check:?}");
}
