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

use common::flat;
use serde_json::Value;

fn nnderive(args: &[&str], stdin: Option<&str>) -> Output {
    common::nnderive_with_input(args, stdin)
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

#[test]
fn causal_attention_agrees_with_numpy() {
    agrees_with_numpy("attention_causal", "grammar/examples/attention_causal.nn");
}

/// A causal mask gives the masked weights exactly 0 (not a small number
/// from a large negative score), so the first token attends to itself
/// alone: its output row is V's first row exactly, and δ of the scores
/// zS = Q Kᵀ (∂L/∂S over √d) is exactly 0 wherever the mask is 0.
#[test]
fn causal_mask_gives_exact_zeros_forward_and_back() {
    let solved = solve_json("grammar/examples/attention_causal.nn");
    let mask = flat(&solved["given"]["M"]["value"]);
    let weights = flat(&solved["forward"]["A"]["value"]);
    let delta = solved["deltas"].as_object().unwrap().values().find(|d| d["of_text"] == "zS").unwrap();
    let d_scores = flat(&delta["value"]);
    for (i, &m) in mask.iter().enumerate() {
        if m == 0.0 {
            assert_eq!((weights[i], d_scores[i]), (0.0, 0.0), "entry {i}");
        }
    }
    // Each row's kept weights sum to 1.
    for row in weights.chunks(3) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-15, "{row:?}");
    }
    assert_eq!(weights[0], 1.0);
    let (out, v) = (flat(&solved["forward"]["out"]["value"]), flat(&solved["forward"]["V"]["value"]));
    assert_eq!(&out[..2], &v[..2]);
    assert_eq!(solved["forward"]["A"]["formula"], "softmax(S, mask = M, axis = 1)");
}

/// A masked score of 1000 would dominate its row without the mask; masked,
/// it is −∞ and takes no part: the row's softmax is over the two scores of
/// 0, halves, worked by hand. With a finite "very negative" stand-in the
/// weights could not be exactly 0 and 1/2.
#[test]
fn a_masked_score_takes_no_part_however_large() {
    let text = "input  Q[2,1] = [[1], [1]]\ninput  K[3,1] = [[0], [1000], [0]]\nparam  V[3,1] = [[2], [7], [4]]\n\
                const  M[2,3] = [[1, 0, 1], [0, 1, 0]]\nout = attention(Q, K, V, mask = M)\nloss L = sum(out)\n";
    let out = nnderive(&["solve", "-", "--format", "json"], Some(text));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let solved: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(flat(&solved["forward"]["A"]["value"]), [0.5, 0.0, 0.5, 0.0, 1.0, 0.0]);
    // out = A V: (2 + 4)/2 = 3 for the first query, 7 for the second.
    assert_eq!(flat(&solved["forward"]["out"]["value"]), [3.0, 7.0]);
    // ∂L/∂V = Aᵀ 𝟏: the column sums of A.
    assert_eq!(flat(&solved["gradients"]["V"]["value"]), [0.5, 1.0, 0.5]);
}

/// `softmax(z, mask = m)` on its own (the form the derivation of masked
/// attention is written in): a vector, and the rows and the columns of a
/// matrix, each against central differences; the masked entries' weights
/// and gradients are 0.
#[test]
fn masked_softmax_passes_gradcheck() {
    let vector = "input  z[3] = [1, 1000, 2]\nconst  m[3] = [1, 0, 1]\nparam  w[3] = [1, 2, 3]\n\
                  p = softmax(w * z, mask = m)\nloss L = sum(p * p)\n";
    let rows = "input  X[2,3] = [[1, 2, 0.5], [0.3, -1, 2]]\nconst  M[2,3] = [[1, 0, 1], [1, 1, 0]]\n\
                param  W[3,3] = [[0.5, -0.2, 0.1], [0.3, 0.8, -0.4], [0.2, 0.1, 0.6]]\n\
                target Y[2,3] = [[1, 0, 0], [0, 1, 0]]\nP = softmax(X @ W, mask = M, axis = 1)\nloss L = mse(Y, P)\n";
    let columns = rows.replace("axis = 1", "axis = 0").replace("[[1, 0, 1], [1, 1, 0]]", "[[1, 0, 1], [0, 1, 1]]");
    for text in [vector, rows, &columns] {
        let model = nnderive::load(&nnderive::Source::new("masked.nn", text)).unwrap();
        let check = nnderive::gradcheck(&model).unwrap();
        assert!(check.worst() < 1e-6, "{check:?}\n{text}");
    }
    let out = nnderive(&["solve", "-", "--format", "json"], Some(vector));
    let solved: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = flat(&solved["forward"]["p"]["value"]);
    // exp(1) / (exp(1) + exp(6)) and exp(6) / (…), the 1000 masked.
    let (a, b) = (1f64.exp(), 6f64.exp());
    assert!((p[0] - a / (a + b)).abs() < 1e-15 && p[1] == 0.0 && (p[2] - b / (a + b)).abs() < 1e-15, "{p:?}");
    assert_eq!(flat(&solved["gradients"]["w"]["value"])[1], 0.0);
}

/// A mask given on the command line, after the checker, is checked where
/// the softmax is computed: located, exit 1, and not called a bug.
#[test]
fn a_mask_given_later_is_checked_when_computed() {
    for (given, says) in [
        ("M=[[0,0,0],[1,1,0],[1,1,1]]", "the mask keeps no entry of row 1 (NumPy row 0)"),
        ("M=[[1,0,0],[1,2,0],[1,1,1]]", "the mask's entry 2 is neither 0 nor 1 at entry [2,2] (NumPy [1,1])"),
    ] {
        let out = nnderive(&["solve", "grammar/examples/attention_causal.nn", "--given", given], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says) && stderr.contains("attention_causal.nn:25:7"), "{stderr}");
        assert!(!stderr.contains("bug"), "{stderr}");
    }
}

/// CS231n assignment 2, BatchNormalization.ipynb, the forward check of
/// `batchnorm_forward` in training mode: with `np.random.seed(231)`,
/// `a = relu(X W1) W2` for X [200, 50], W1 [50, 60], W2 [60, 3] drawn by
/// `np.random.randn`. The notebook's published output (8 decimals):
///
/// ```text
/// Before batch normalization:
///   means:  [ -2.3814598  -13.18038246   1.91780462]
///   stds:   [27.18502186 34.21455511 37.68611762]
/// After batch normalization (gamma=1, beta=0)
///   stds:   [0.99999999 1.         1.        ]
/// After batch normalization (gamma= [1. 2. 3.] , beta= [11. 12. 13.] )
///   means:  [11. 12. 13.]
///   stds:   [0.99999999 1.99999999 2.99999999]
/// ```
///
/// NumPy draws `a` (checked against the "before" line); nnderive normalizes
/// it; the means and standard deviations of nnderive's output, computed
/// here, print as the notebook's to 8 decimals, ε = 1e-5 and the biased
/// variance included (with ε = 0 the first std would print 1.00000000).
/// The notebook's "after" means with γ = 1, β = 0 print as about 1e-17,
/// rounding noise of its float code: they are compared as 0.00000000.
#[test]
fn cs231n_batchnorm_forward_check() {
    let Some(python) = common::numpy_python() else { return };
    let draw = "import json, numpy as np\nnp.random.seed(231)\nN, D1, D2, D3 = 200, 50, 60, 3\n\
                X = np.random.randn(N, D1)\nW1 = np.random.randn(D1, D2)\nW2 = np.random.randn(D2, D3)\n\
                a = np.maximum(0, X.dot(W1)).dot(W2)\nprint(json.dumps(a.tolist()))\n";
    let out = Command::new(python).args(["-c", draw]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a: Vec<Vec<f64>> = serde_json::from_slice(&out.stdout).unwrap();
    let stats = |rows: &[Vec<f64>]| -> (Vec<String>, Vec<String>) {
        let n = rows.len() as f64;
        let (mut means, mut stds) = (Vec::new(), Vec::new());
        for j in 0..rows[0].len() {
            let mean = rows.iter().map(|r| r[j]).sum::<f64>() / n;
            let var = rows.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n;
            means.push(format!("{mean:.8}"));
            stds.push(format!("{:.8}", var.sqrt()));
        }
        (means, stds)
    };
    assert_eq!(
        stats(&a),
        (
            vec!["-2.38145980", "-13.18038246", "1.91780462"].into_iter().map(String::from).collect(),
            vec!["27.18502186", "34.21455511", "37.68611762"].into_iter().map(String::from).collect()
        )
    );
    let rows: Vec<String> =
        a.iter().map(|r| format!("[{}]", r.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))).collect();
    for (gamma, beta, means, stds) in [
        (
            "[1, 1, 1]",
            "[0, 0, 0]",
            ["0.00000000", "0.00000000", "0.00000000"],
            ["0.99999999", "1.00000000", "1.00000000"],
        ),
        (
            "[1, 2, 3]",
            "[11, 12, 13]",
            ["11.00000000", "12.00000000", "13.00000000"],
            ["0.99999999", "1.99999999", "2.99999999"],
        ),
    ] {
        let text = format!(
            "input a[200,3] = [{}]\nparam gamma[3] = {gamma}\nparam beta[3] = {beta}\n\
             out = batchnorm(a, gamma, beta, eps = 0.00001)\nloss L = sum(out * out)\n",
            rows.join(", ")
        );
        let solved = nnderive(&["solve", "-", "--format", "json"], Some(&text));
        assert!(solved.status.success(), "{}", String::from_utf8_lossy(&solved.stderr));
        let solved: Value = serde_json::from_slice(&solved.stdout).unwrap();
        let out: Vec<Vec<f64>> = serde_json::from_value(solved["forward"]["out"]["value"].clone()).unwrap();
        let (our_means, our_stds) = stats(&out);
        let zero = |s: &str| s.replace("-0.", "0.");
        assert_eq!(our_means.iter().map(|m| zero(m)).collect::<Vec<_>>(), means, "gamma = {gamma}");
        assert_eq!(our_stds, stds, "gamma = {gamma}");
    }
}

#[test]
fn spatial_batchnorm_agrees_with_numpy() {
    agrees_with_numpy("batchnorm_spatial", "grammar/examples/batchnorm_spatial.nn");
}

/// μ and var of spatial batch norm by hand: channel 0 of Z = X ⊙ V below
/// holds 1, 2, 3, 4 (example 1) and 0, 1, 2, −1 (example 2), so
/// μ₀ = 12/8 = 3/2 and var₀ = Σ (z − 3/2)² / 8 = 18/8 = 9/4; channel 1
/// holds 2, 0, 4, 2 and 0, 2, 2, 4: μ₁ = 2, var₁ = 16/8 = 2. Exact, and
/// the closed form is the stated result, with Σₙᵢⱼ and m = 8. (The loss
/// is cubic: Σ out² would not change with Z, up to ε, since x̂ has a fixed
/// norm, and its gradient would be 0 but for rounding.)
#[test]
fn spatial_batchnorm_statistics_by_hand() {
    let text = "input  X[2,2,2,2] = [[[[1, 2], [3, 4]], [[1, 0], [2, 1]]], [[[0, 1], [2, -1]], [[0, 1], [1, 2]]]]\n\
                param  V[2,2,2,2] = [[[[1, 1], [1, 1]], [[2, 2], [2, 2]]], [[[1, 1], [1, 1]], [[2, 2], [2, 2]]]]\n\
                param  gamma[2] = [1, 2]\nparam  beta[2] = [0, 1]\nZ = X * V\nout = batchnorm(Z, gamma, beta)\n\
                loss L = sum(out * out * out)\n";
    let out = nnderive(&["solve", "-", "--format", "json"], Some(text));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let solved: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(flat(&solved["forward"]["mu"]["value"]), [1.5, 2.0]);
    assert_eq!(flat(&solved["forward"]["var"]["value"]), [2.25, 2.0]);
    assert_eq!(solved["forward"]["mu"]["formula"], "Σₙᵢⱼ Z / 8");
    let delta = solved["deltas"].as_object().unwrap().values().find(|d| d["of_text"] == "Z");
    let formula = match delta {
        Some(d) => d["formula"].as_str().unwrap().to_string(),
        None => solved["gradients"]["V"]["formula"].as_str().unwrap().to_string(),
    };
    assert!(formula.contains("8 (∂L/∂out) − Σₙᵢⱼ (∂L/∂out) − x̂ ⊙ Σₙᵢⱼ ((∂L/∂out) ⊙ x̂)"), "{formula}");
    let model = nnderive::load(&nnderive::Source::new("spatial.nn", text)).unwrap();
    assert!(nnderive::gradcheck(&model).unwrap().worst() < 1e-6);
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
