//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::Path;

use nnderive::Source;

/// insta settings: every snapshot under the top-level `snapshots/`.
pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

/// Reads a fixture as a `Source` named by its file name.
pub fn source(path: &Path) -> Source {
    let text = std::fs::read_to_string(path).expect("fixture is readable UTF-8");
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Source::new(name, text)
}

/// The path of an example under `grammar/examples`.
pub fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/examples").join(name)
}

/// A random dense network as `.nn` text, for property tests. `seed` drives a
/// small deterministic generator so a failing case can be reproduced.
pub fn random_network(seed: u64, depth: usize, widths: &[usize], activations: &[&str], loss: &str) -> String {
    let mut rng = Lcg(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407));
    let mut out = String::new();
    let n0 = widths[0];
    let vals = |rng: &mut Lcg, n: usize| (0..n).map(|_| rng.decimal()).collect::<Vec<_>>().join(", ");
    out.push_str(&format!("input x[{n0}] = [{}]\n", vals(&mut rng, n0)));
    for k in 1..=depth {
        let (m, n) = (widths[k], widths[k - 1]);
        let rows: Vec<String> = (0..m).map(|_| format!("[{}]", vals(&mut rng, n))).collect();
        out.push_str(&format!("param W{k}[{m},{n}] = [{}]\n", rows.join(", ")));
        out.push_str(&format!("param b{k}[{m}] = [{}]\n", vals(&mut rng, m)));
    }
    let k_out = widths[depth];
    let target: Vec<String> = match loss {
        "cross_entropy" | "log_softmax" => (0..k_out).map(|i| if i == 0 { "1".into() } else { "0".into() }).collect(),
        _ => (0..k_out).map(|_| rng.probability()).collect(),
    };
    out.push_str(&format!("target y[{k_out}] = [{}]\n", target.join(", ")));
    out.push_str("fn f(t) = relu(t) + sin(t)\n");
    let mut prev = "x".to_string();
    for k in 1..=depth {
        out.push_str(&format!("Z{k} = W{k} @ {prev} + b{k}\n"));
        if k < depth {
            let act = activations[(k - 1) % activations.len()];
            out.push_str(&format!("H{k} = {act}(Z{k})\n"));
            prev = format!("H{k}");
        }
    }
    let z = format!("Z{depth}");
    match loss {
        "cross_entropy" => out.push_str(&format!("yhat = softmax({z})\nloss L = cross_entropy(y, yhat)\n")),
        "log_softmax" => out.push_str(&format!("lp = log_softmax({z})\nloss L = -sum(y * lp)\n")),
        "bce" => out.push_str(&format!("o = sigmoid({z})\nloss L = bce(y, o)\n")),
        "mse" => out.push_str(&format!("loss L = mse(y, {z})\n")),
        "squared" => out.push_str(&format!("o = sigmoid({z})\nloss L = 0.5 * sum((y - o)^2)\n")),
        other => panic!("unknown loss {other}"),
    }
    out.push_str("train sgd(lr = 0.1)\n");
    out
}

/// A tiny linear congruential generator: deterministic, dependency-free.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A decimal in [-0.99, 0.99] with two places, never exactly zero.
    pub fn decimal(&mut self) -> String {
        let v = (self.next() % 199) as i64 - 99;
        let v = if v == 0 { 7 } else { v };
        format!("{:.2}", v as f64 / 100.0)
    }

    /// A decimal in [0.05, 0.95].
    pub fn probability(&mut self) -> String {
        format!("{:.2}", 0.05 + (self.next() % 91) as f64 / 100.0)
    }
}

/// Property tests explore new cases on every local run, and the same cases
/// in CI (`CI` set), so that CI results are reproducible.
pub fn proptest_seed() -> proptest::test_runner::RngSeed {
    if std::env::var_os("CI").is_some() {
        proptest::test_runner::RngSeed::Fixed(20261124)
    } else {
        proptest::test_runner::RngSeed::Random
    }
}

/// A nested `.nn` literal of random two-place decimals with the given dims.
pub fn random_literal(rng: &mut Lcg, dims: &[usize]) -> String {
    match dims {
        [] => rng.decimal(),
        [n, rest @ ..] => {
            let items: Vec<String> = (0..*n).map(|_| random_literal(rng, rest)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// A CIFAR-sized convolutional network: a 3×32×32 input, 16 filters 3×3
/// with padding 1, relu, 2×2 max-pool, and a dense layer to 10 classes.
pub fn cifar_network(seed: u64) -> String {
    let mut rng = Lcg(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407));
    let mut out = String::new();
    out.push_str(&format!("input  X[3,32,32] = {}\n", random_literal(&mut rng, &[3, 32, 32])));
    out.push_str(&format!("param  K[16,3,3,3] = {}\n", random_literal(&mut rng, &[16, 3, 3, 3])));
    out.push_str(&format!("param  bK[16] = {}\n", random_literal(&mut rng, &[16])));
    out.push_str(&format!("param  W[10,4096] = {}\n", random_literal(&mut rng, &[10, 4096])));
    out.push_str(&format!("param  b[10] = {}\n", random_literal(&mut rng, &[10])));
    out.push_str("target y[10] = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]\n");
    out.push_str("Z1 = conv2d(X, K, pad = 1) + bK\nA1 = relu(Z1)\nP1 = maxpool(A1, 2)\nv = flatten(P1)\n");
    out.push_str("Z2 = W @ v + b\nyhat = softmax(Z2)\nloss L = cross_entropy(y, yhat)\ntrain sgd(lr = 0.01)\n");
    out
}

/// A vanilla RNN over `steps` steps with a `width`-wide state, `inputs`
/// inputs and `classes` classes, a softmax output and a loss at every step,
/// as in `grammar/examples/rnn.nn`, with random two-place weights.
pub fn rnn_network(seed: u64, steps: usize, width: usize, inputs: usize, classes: usize) -> String {
    let mut rng = Lcg(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407));
    let mut out = format!("steps t = 1..{steps}\n");
    out.push_str(&format!("input  x[t][{inputs}] = {}\n", random_literal(&mut rng, &[steps, inputs])));
    let targets: Vec<String> = (0..steps)
        .map(|_| {
            let hot = rng.next() as usize % classes;
            let row: Vec<&str> = (0..classes).map(|c| if c == hot { "1" } else { "0" }).collect();
            format!("[{}]", row.join(", "))
        })
        .collect();
    out.push_str(&format!("target y[t][{classes}] = [{}]\n", targets.join(", ")));
    out.push_str(&format!("const  h[0][{width}] = [{}]\n", vec!["0"; width].join(", ")));
    out.push_str(&format!("param  Wxh[{width},{inputs}] = {}\n", random_literal(&mut rng, &[width, inputs])));
    out.push_str(&format!("param  Whh[{width},{width}] = {}\n", random_literal(&mut rng, &[width, width])));
    out.push_str(&format!("param  bh[{width}] = {}\n", random_literal(&mut rng, &[width])));
    out.push_str(&format!("param  Why[{classes},{width}] = {}\n", random_literal(&mut rng, &[classes, width])));
    out.push_str(&format!("param  by[{classes}] = {}\n", random_literal(&mut rng, &[classes])));
    out.push_str("h[t] = tanh(Wxh @ x[t] + Whh @ h[t-1] + bh)\n");
    out.push_str("yhat[t] = softmax(Why @ h[t] + by)\n");
    out.push_str("loss L = sum(cross_entropy(y[t], yhat[t]) for t)\n");
    out.push_str("train sgd(lr = 0.01)\n");
    out
}

/// A dense network on a batch: `X[widths[0], batch]` (examples as columns),
/// a weight and a bias per layer (each bias added to every example), `act`
/// between layers and `mse` against `Y[widths[last], batch]`, with random
/// two-place values; as `benches/peer.py` writes its batch case.
pub fn batch_network(seed: u64, widths: &[usize], batch: usize, act: &str) -> String {
    let mut rng = Lcg(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407));
    let depth = widths.len() - 1;
    let mut out = format!("input X[{},{batch}] = {}\n", widths[0], random_literal(&mut rng, &[widths[0], batch]));
    for k in 1..=depth {
        let (m, n) = (widths[k], widths[k - 1]);
        out.push_str(&format!("param W{k}[{m},{n}] = {}\n", random_literal(&mut rng, &[m, n])));
        out.push_str(&format!("param b{k}[{m}] = {}\n", random_literal(&mut rng, &[m])));
    }
    out.push_str(&format!(
        "target Y[{},{batch}] = {}\n",
        widths[depth],
        random_literal(&mut rng, &[widths[depth], batch])
    ));
    let mut prev = "X".to_string();
    for k in 1..=depth {
        out.push_str(&format!("Z{k} = W{k} @ {prev} + b{k}\n"));
        if k < depth {
            out.push_str(&format!("H{k} = {act}(Z{k})\n"));
            prev = format!("H{k}");
        }
    }
    out.push_str(&format!("loss L = mse(Y, Z{depth})\ntrain sgd(lr = 0.1)\n"));
    out
}

/// The values of the assignment's network (`grammar/examples/assignment4.nn`
/// and its variants: f(t) = relu(t) + sin(t), softmax, cross-entropy, one
/// SGD step at α = 0.001), in plain f64 from the textbook formulas, not
/// from nnderive. Matrices are row-major.
pub struct Backprop {
    pub z1: Vec<f64>,
    pub h: Vec<f64>,
    pub z2: Vec<f64>,
    pub yhat: Vec<f64>,
    pub loss: f64,
    pub delta2: Vec<f64>,
    pub delta1: Vec<f64>,
    pub dw1: Vec<f64>,
    pub dw2: Vec<f64>,
    pub w1_new: Vec<f64>,
    pub b1_new: Vec<f64>,
    pub w2_new: Vec<f64>,
    pub b2_new: Vec<f64>,
}

/// [`Backprop`] of x [4], y [2], W1 [3, 4], b1 [3], W2 [2, 3], b2 [2];
/// `fprime` is the derivative of f used in δ1 (a student's, right or wrong).
pub fn assignment_backprop([x, y, w1, b1, w2, b2]: [&[f64]; 6], fprime: impl Fn(f64) -> f64) -> Backprop {
    let z1: Vec<f64> = (0..3).map(|i| (0..4).map(|j| w1[i * 4 + j] * x[j]).sum::<f64>() + b1[i]).collect();
    let h: Vec<f64> = z1.iter().map(|&z| z.max(0.0) + z.sin()).collect();
    let z2: Vec<f64> = (0..2).map(|i| (0..3).map(|j| w2[i * 3 + j] * h[j]).sum::<f64>() + b2[i]).collect();
    let m = z2.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z2.iter().map(|z| (z - m).exp()).collect();
    let s: f64 = e.iter().sum();
    let yhat: Vec<f64> = e.iter().map(|v| v / s).collect();
    let loss = -(0..2).map(|i| y[i] * yhat[i].ln()).sum::<f64>();
    let delta2: Vec<f64> = (0..2).map(|i| yhat[i] - y[i]).collect();
    let delta1: Vec<f64> =
        (0..3).map(|j| (0..2).map(|k| w2[k * 3 + j] * delta2[k]).sum::<f64>() * fprime(z1[j])).collect();
    let outer = |a: &[f64], b: &[f64]| a.iter().flat_map(|p| b.iter().map(move |q| p * q)).collect::<Vec<f64>>();
    let dw1 = outer(&delta1, x);
    let dw2 = outer(&delta2, &h);
    let step = |p: &[f64], g: &[f64]| p.iter().zip(g).map(|(p, g)| p - 0.001 * g).collect::<Vec<f64>>();
    Backprop {
        w1_new: step(w1, &dw1),
        b1_new: step(b1, &delta1),
        w2_new: step(w2, &dw2),
        b2_new: step(b2, &delta2),
        z1,
        h,
        z2,
        yhat,
        loss,
        delta2,
        delta1,
        dw1,
        dw2,
    }
}

/// The assignment's own values, in the order [`assignment_backprop`] takes them.
pub const ASSIGNMENT: [&[f64]; 6] = [
    &[1.0, -1.0, 0.5, 2.0],
    &[1.0, 0.0],
    &[0.1, -0.2, 0.3, 0.4, 0.5, -0.3, 0.1, -0.2, 0.4, 0.2, -0.5, 0.3],
    &[0.1, -0.1, 0.05],
    &[-0.3, 0.2, 0.1, 0.4, -0.5, 0.3],
    &[0.05, -0.05],
];

/// f′(t) = step(t) + cos(t), the derivative of relu(t) + sin(t).
pub fn assignment_fprime(t: f64) -> f64 {
    f64::from(u8::from(t > 0.0)) + t.cos()
}

/// The Python with NumPy that the tests check values against
/// (`$NNDERIVE_PYTHON`, else `python3`): `None` (the check skipped, with a
/// line saying so) without NumPy, and a failure under `CI=true`, where
/// `.ci/run` installs it.
pub fn numpy_python() -> Option<String> {
    let python = std::env::var("NNDERIVE_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_numpy =
        std::process::Command::new(&python).args(["-c", "import numpy"]).output().is_ok_and(|o| o.status.success());
    if has_numpy {
        return Some(python);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{python} has no NumPy: .ci/run installs it and names it in NNDERIVE_PYTHON");
    }
    eprintln!("SKIPPED: {python} has no NumPy; install it or set NNDERIVE_PYTHON to a Python that has it");
    None
}

/// Every number of a nested JSON array (a value of `solve --format json`),
/// row-major.
pub fn flat(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(items) => items.iter().flat_map(flat).collect(),
        serde_json::Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not a number: {other}"),
    }
}

/// Two nested JSON arrays of numbers agree entry by entry, within
/// `tolerance` × (1 + |want|): nnderive's values against a reference.
#[track_caller]
pub fn assert_json_close(what: &str, got: &serde_json::Value, want: &serde_json::Value, tolerance: f64) {
    let (got, want) = (flat(got), flat(want));
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!((a - b).abs() <= tolerance * (1.0 + b.abs()), "{what}[{i}]: nnderive {a}, NumPy {b}");
    }
}

/// The `nnderive` binary run in `dir` with `args`, standard input closed.
pub fn nnderive_in(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nnderive"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the binary runs")
}

/// The `nnderive` binary run in the repository with `args`, `stdin` (if
/// any) written to its standard input, which is then closed.
pub fn nnderive_with_input(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_nnderive"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// `script` run by `sh` in `dir`, each `NN` in it standing for the binary.
pub fn shell(dir: &Path, script: &str) -> std::process::Output {
    let bin = env!("CARGO_BIN_EXE_nnderive");
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script.replace("NN", bin))
        .current_dir(dir)
        .output()
        .expect("sh runs")
}

/// The networks the README and the guides (`docs/*.md`) show in ```nn
/// blocks, those with a loss, each named by its document and place.
pub fn documented_networks() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let blocks = text.split("```nn\n").skip(1).map(|b| b.split("```").next().unwrap_or(""));
        for (i, block) in blocks.enumerate().filter(|(_, b)| b.contains("loss ")) {
            out.push((format!("{} block {}", path.display(), i + 1), block.to_string()));
        }
    }
    out
}
