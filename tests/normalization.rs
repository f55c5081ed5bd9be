//! The regularising and normalising layers (`dropout`): their values and
//! gradients against an independent NumPy implementation
//! (`tests/reference/layers.py`, the CS231n formulas written by hand) to
//! 1e-12, exact values worked by hand, and their located errors.
//!
//! The Python is `$NNDERIVE_PYTHON`, else `python3`. Without NumPy the
//! comparisons say so and skip, except under CI=true, where they fail.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn nnderive(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nnderive"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn solve_json(path: &str) -> Value {
    let out = nnderive(&["solve", path, "--format", "json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// NumPy's forward values and gradients for `network`, given nnderive's JSON.
fn reference(network: &str, solved: &Value) -> Option<Value> {
    let python = common::numpy_python()?;
    let mut child = Command::new(python)
        .args(["tests/reference/layers.py", network])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(solved.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Every number in `ours` and `theirs`, in order.
fn numbers(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Number(n) => out.push(n.as_f64().unwrap()),
        Value::Array(items) => items.iter().for_each(|i| numbers(i, out)),
        other => panic!("not a number: {other}"),
    }
}

fn assert_close(what: &str, ours: &Value, theirs: &Value, tolerance: f64) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    numbers(ours, &mut a);
    numbers(theirs, &mut b);
    assert_eq!(a.len(), b.len(), "{what}: {ours} against {theirs}");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let scale = x.abs().max(y.abs()).max(1.0);
        assert!((x - y).abs() <= tolerance * scale, "{what}[{i}]: nnderive {x}, NumPy {y}");
    }
}

/// Compares every forward value and gradient NumPy computes with nnderive's.
fn agrees_with_numpy(network: &str, path: &str) {
    let solved = solve_json(path);
    let Some(numpy) = reference(network, &solved) else { return };
    let mut compared = 0;
    for (name, value) in numpy["forward"].as_object().unwrap() {
        let ours = if solved["loss"]["name"] == name.as_str() {
            &solved["loss"]["value"]
        } else {
            &solved["forward"][name]["value"]
        };
        assert_close(&format!("{path}: {name}"), ours, value, 1e-12);
        compared += 1;
    }
    for (name, value) in numpy["gradients"].as_object().unwrap() {
        assert_close(&format!("{path}: ∂L/∂{name}"), &solved["gradients"][name]["value"], value, 1e-12);
        compared += 1;
    }
    assert!(compared >= 4, "{path}: only {compared} quantities compared");
}

#[test]
fn dropout_agrees_with_numpy() {
    agrees_with_numpy("dropout", "grammar/examples/dropout.nn");
}

/// Inverted dropout by hand: x = [2, −4, 6], M = [1, 0, 1], keep = 1/2 gives
/// out = [4, 0, 12]; with L = sum(w ⊙ out), ∂L/∂w = out and
/// ∂L/∂x = w ⊙ M / keep, exactly.
#[test]
fn dropout_is_exact_by_hand() {
    let text = "input x[3] = [2, -4, 6]\nconst M[3] = [1, 0, 1]\nparam w[3] = [0.5, 3, -1]\n\
                param v[3] = [1, 1, 1]\nh = dropout(v * x, M, keep = 0.5)\nloss L = sum(w * h)\n";
    let solved = {
        let out = nnderive(&["solve", "-", "--format", "json"], Some(text));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let exact =
        |v: &Value| v["exact"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(exact(&solved["forward"]["h"]), ["4", "0", "12"]);
    assert_eq!(exact(&solved["gradients"]["w"]), ["4", "0", "12"]);
    // ∂L/∂v = x ⊙ w ⊙ M / keep = [2·0.5·2, 0, 6·(−1)·2]
    assert_eq!(exact(&solved["gradients"]["v"]), ["2", "0", "-12"]);
    assert_eq!(solved["gradients"]["v"]["formula"], "(w ⊙ M ⊙ x) / 0.5");
}

/// keep = 1 keeps every unit and divides by nothing: dropout is then the
/// product with the mask alone.
#[test]
fn dropout_with_keep_one_is_the_mask_alone() {
    let text = "input x[2] = [3, 5]\nconst M[2] = [0, 1]\nparam w[2] = [1, 2]\n\
                h = dropout(w * x, M, keep = 1)\nloss L = sum(h)\n";
    let out = nnderive(&["solve", "-", "--format", "json"], Some(text));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let solved: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(solved["forward"]["h"]["formula"], "w ⊙ x ⊙ M");
    assert_eq!(solved["gradients"]["w"]["exact"], serde_json::json!(["0", "5"]));
}

#[test]
fn batchnorm_agrees_with_numpy() {
    agrees_with_numpy("batchnorm", "grammar/examples/batchnorm.nn");
}

#[test]
fn layernorm_on_columns_agrees_with_numpy() {
    agrees_with_numpy("layernorm", "grammar/examples/layernorm.nn");
}

#[test]
fn attention_agrees_with_numpy() {
    agrees_with_numpy("attention", "grammar/examples/attention.nn");
}

/// The closed forms are the results: δ of a normalization's input is
/// `(γ ⊘ σ) ⊙ (N G − Σₙ G − x̂ ⊙ Σₙ (G ⊙ x̂)) / N`, with G = ∂L/∂B1 named.
#[test]
fn batchnorm_states_its_closed_form_as_the_result() {
    let solved = solve_json("grammar/examples/batchnorm.nn");
    let delta = &solved["deltas"]["Δ1"];
    assert_eq!(delta["of_text"], "Z1");
    assert_eq!(
        delta["formula"],
        "((γ ⊘ sqrt(var + 0.00001)) ⊙ (4 (∂L/∂B1) − 1ᵀ (∂L/∂B1) − x̂ ⊙ (1ᵀ ((∂L/∂B1) ⊙ x̂)))) / 4"
    );
    assert_eq!(solved["gradients"]["gamma"]["formula"], "1ᵀ ((∂L/∂B1) ⊙ x̂)");
    assert_eq!(solved["gradients"]["beta"]["formula"], "1ᵀ (∂L/∂B1)");
    // μ, var and x̂ are printed once, in the forward pass, before B1.
    let forward: Vec<&String> = solved["forward"].as_object().unwrap().keys().collect();
    let at = |name: &str| forward.iter().position(|k| *k == name).unwrap();
    assert!(at("Z1") < at("mu") && at("mu") < at("var") && at("var") < at("xhat") && at("xhat") < at("B1"));
}

/// A parameter normalized directly (its gradient is the closed form), a
/// second normalization after it (its μ, var, x̂ named mu_2, var_2, xhat_2),
/// columns [D] for gamma and beta on rows (transposed), and a batch of one
/// example (x̂ = 0): every gradient agrees with central differences.
#[test]
fn unusual_normalizations_pass_gradcheck() {
    let two = "param  Z[3,2] = [[1, 2], [3, -1], [0, 2]]\nparam  gamma[2] = [1, 2]\nparam  beta[2] = [0, 1]\n\
               param  W[2,2] = [[1, 0.5], [-0.5, 1]]\ntarget y[3,2] = [[1, 0], [0, 1], [1, 1]]\n\
               B = batchnorm(Z, gamma, beta)\nZ2 = B @ W\nB2 = layernorm(Z2, gamma, beta, eps = 0.001)\nloss L = mse(y, B2)\n";
    let one = "input  X[1,2] = [[1, 2]]\nparam  W[2,2] = [[1, 0.5], [-0.5, 1]]\nparam  gamma[1,2] = [[1, 2]]\n\
               param  beta[1,2] = [[0, 1]]\ntarget y[1,2] = [[1, 0]]\nZ = X @ W\nout = batchnorm(Z, gamma, beta)\n\
               loss L = mse(y, out)\n";
    for text in [two, one] {
        let model = nnderive::load(&nnderive::Source::new("norms.nn", text)).unwrap();
        assert!(model.tensors.contains_key("xhat"), "{text}");
        let check = nnderive::gradcheck(&model).unwrap();
        assert!(check.worst() < 1e-6, "{check:?}\n{text}");
    }
    let model = nnderive::load(&nnderive::Source::new("norms.nn", two)).unwrap();
    assert!(["mu_2", "var_2", "xhat_2"].iter().all(|n| model.tensors.contains_key(*n)));
}

/// Batch normalization written out from `mean`, `var` and `sqrt` (the
/// network of grammar/examples/batchnorm.nn): its values agree with NumPy's
/// staged CS231n pass to 1e-12, and the gradients with respect to x̂, var
/// and μ are steps of the layer's error term Δ1, each with its value (NumPy's
/// dxhat, dvar, dmu), not error terms of their own, in the JSON of both
/// `derive` and `solve`.
#[test]
fn written_out_batchnorm_keeps_its_stages_in_the_layer_steps() {
    let path = "tests/fixtures/readable/batchnorm_written_out.nn";
    agrees_with_numpy("batchnorm", path);
    let out = nnderive(&["derive", path, "--format", "json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let derived: Value = serde_json::from_slice(&out.stdout).unwrap();
    let solved = solve_json(path);
    for json in [&derived, &solved] {
        let mut terms: Vec<&str> = json["deltas"].as_object().unwrap().keys().map(String::as_str).collect();
        terms.sort_unstable();
        assert_eq!(terms, ["Δ1", "Δ2"], "only the layers' δ's are error terms");
    }
    let steps = solved["deltas"]["Δ1"]["path"].as_array().expect("Δ1 passes through the stages");
    let step = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("{name} in Δ1's steps"));
    let Some(numpy) = reference("batchnorm", &solved) else { return };
    for (name, stage) in [("∂L/∂x̂", "xhat"), ("∂L/∂var", "var"), ("∂L/∂μ", "mu")] {
        assert_close(name, &step(name)["value"], &numpy["stages"][stage], 1e-12);
    }
}
