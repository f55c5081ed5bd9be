//! `solve --format numpy`: every example and every test network exports to
//! a Python file that runs under python3 with NumPy and agrees with
//! `solve --format json` to 1e-9 relative (compared here, in Rust, not by
//! the file's own check); the gradients the file computes by the derived
//! formulas agree with central differences of its own loss; and the
//! options and errors of the format behave as documented.
//!
//! The Python is `$NNDERIVE_PYTHON`, else `python3`. Without NumPy these
//! tests say so and skip, except under CI=true, where they fail: `.ci/run`
//! installs NumPy for them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn nnderive(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nnderive"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

/// Every network the tests can reach that gives every value: the examples
/// and the test fixtures that solve.
fn networks() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        "grammar/examples",
        "tests/fixtures/readable",
        "tests/fixtures/unrolled",
        "tests/fixtures/fmt",
        "tests/fixtures/numpy",
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("the folder is there")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "nn"))
            .collect();
        files.sort();
        out.extend(files);
    }
    out.retain(|p| {
        let model = nnderive::load(&common::source(p)).expect("every fixture here loads");
        nnderive::eval::open_values(&model).is_empty()
    });
    assert!(out.len() >= 30, "only {} networks found", out.len());
    out
}

fn export(path: &Path, dir: &Path, bare: bool) -> PathBuf {
    let stem = path.file_stem().unwrap().to_string_lossy();
    let file = dir.join(format!("{stem}{}.py", if bare { "_bare" } else { "" }));
    let (p, f) = (path.to_string_lossy(), file.to_string_lossy());
    let mut args = vec!["solve", &*p, "--format", "numpy", "-o", &*f];
    if bare {
        args.push("--bare");
    }
    let out = nnderive(&args);
    assert!(out.status.success(), "{stem}: {}", String::from_utf8_lossy(&out.stderr));
    file
}

fn run(python: &str, args: &[&str]) -> Output {
    Command::new(python).args(args).output().expect("python runs")
}

/// Whether `got` agrees with `want` as the exported file's check says:
/// |got − want| ≤ 1e-9 · max(|want|, 0.001 · max(1, the tensor's largest |entry|)).
fn agree(got: &[f64], want: &[f64]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} entries, expected {}", got.len(), want.len()));
    }
    let scale = want.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let allowed = 1e-9 * w.abs().max(1e-3 * scale);
        if (g - w).abs() > allowed || !g.is_finite() {
            return Err(format!("entry {i}: {g} against nnderive's {w}"));
        }
    }
    Ok(())
}

fn numbers(v: &Value) -> Vec<f64> {
    let mut out = Vec::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n) => out.push(n.as_f64().unwrap_or(f64::NAN)),
            Value::Array(items) => stack.extend(items.iter().rev()),
            _ => out.push(f64::NAN),
        }
    }
    out
}

/// Compares every `value` under `want` (nnderive's JSON) with the one at
/// the same place in `got` (the Python file's); returns how many numbers.
fn compare(got: &Value, want: &Value, place: &str) -> usize {
    let mut count = 0;
    match want {
        Value::Object(map) => {
            for (key, w) in map {
                let here = format!("{place}.{key}");
                match key.as_str() {
                    "value" => {
                        let g = got.get("value").unwrap_or_else(|| panic!("{here} is missing"));
                        let (g, w) = (numbers(g), numbers(w));
                        agree(&g, &w).unwrap_or_else(|e| panic!("{here}: {e}"));
                        count += w.len();
                    }
                    // Not values: the exact fractions, formulas, and what only the
                    // worked solution shows (the quantities on an error term's path,
                    // checked against plain loops in tests/conv.rs and tests/rnn.rs),
                    // and the named axes (a property of the file, not a number).
                    "exact" | "mask" | "general" | "path" | "axes" => {}
                    _ if w.is_object() || w.is_array() => {
                        let g = got.get(key).unwrap_or_else(|| panic!("{here} is missing"));
                        count += compare(g, w, &here);
                    }
                    _ => {}
                }
            }
        }
        Value::Array(items) => {
            let g = got.as_array().unwrap_or_else(|| panic!("{place} is not a list"));
            assert_eq!(g.len(), items.len(), "{place}: entries");
            for (i, (g, w)) in g.iter().zip(items).enumerate() {
                count += compare(g, w, &format!("{place}[{i}]"));
            }
        }
        _ => {}
    }
    count
}

/// Each exported file runs, passes its own check, and prints the values of
/// `solve --format json` for every key it has (given, forward, loss,
/// deltas, gradients, updated, history with its parameters, gradients and
/// optimizer state).
#[test]
fn every_network_exports_runs_and_agrees_with_solve_json() {
    let Some(python) = common::numpy_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut all_deltas = 0;
    for path in networks() {
        let name = path.display().to_string();
        let json = nnderive(&["solve", &name, "--format", "json"]);
        assert!(json.status.success(), "{name}");
        let want: Value = serde_json::from_slice(&json.stdout).unwrap();
        let file = export(&path, dir.path(), false);
        let out = run(&python, &[&file.to_string_lossy()]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("all "), "{name}: the file's own check");
        let got: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut count = 0;
        for section in ["given", "forward", "loss", "deltas", "gradients", "updated", "history"] {
            let g = got.get(section).unwrap_or_else(|| panic!("{name}: no {section}"));
            count += compare(g, &want[section], &format!("{name}: {section}"));
            assert_eq!(got[section].is_array(), want[section].is_array());
        }
        let deltas = want["deltas"].as_object().unwrap().len();
        assert_eq!(got["deltas"].as_object().unwrap().len(), deltas, "{name}: every error term");
        // A network without a layer (an embedding lookup into the loss)
        // has no error term; the others compare theirs.
        assert!(count > 0, "{name}");
        all_deltas += deltas;
    }
    assert!(all_deltas >= 30, "only {all_deltas} error terms compared");
}

/// The gradients the file computes by the derived formulas agree with
/// central differences of the loss its forward pass computes, entry by
/// entry, for every parameter: the code is checked against its own
/// forward pass, independently of nnderive's numbers.
#[test]
fn exported_gradients_agree_with_central_differences() {
    let Some(python) = common::numpy_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let driver = dir.path().join("gradcheck.py");
    std::fs::write(&driver, GRADCHECK).unwrap();
    for path in networks() {
        let name = path.display().to_string();
        let file = export(&path, dir.path(), true);
        let out = run(&python, &[&driver.to_string_lossy(), &file.to_string_lossy()]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let worst = report["worst"].as_f64().unwrap();
        assert!(report["entries"].as_u64().unwrap() > 0, "{name}");
        assert!(worst < 1e-6, "{name}: {report}");
    }
}

/// Loads an exported file as a module and compares ∂L/∂P from `backprop`
/// with (L(P + h) − L(P − h)) / 2h for every entry of every parameter.
const GRADCHECK: &str = r#"
import importlib.util, json, sys
import numpy as np

spec = importlib.util.spec_from_file_location("net", sys.argv[1])
net = importlib.util.module_from_spec(spec)
spec.loader.exec_module(net)
start = {k: np.array(v, dtype=float) for k, v in net.PARAMETERS.items()}
gradients = net.backprop_at(start)["gradients"]
worst, where, entries = 0.0, None, 0
for name, value in start.items():
    derived = np.broadcast_to(np.asarray(gradients[name], dtype=float), value.shape)
    for i in np.ndindex(value.shape):
        h = 1e-6 * max(1.0, abs(value[i]))
        up = {k: v.copy() for k, v in start.items()}
        down = {k: v.copy() for k, v in start.items()}
        up[name][i] += h
        down[name][i] -= h
        numeric = (float(net.backprop_at(up)["loss"]) - float(net.backprop_at(down)["loss"])) / (2 * h)
        error = abs(numeric - derived[i]) / max(1.0, abs(numeric), abs(derived[i]))
        entries += 1
        if error >= worst:
            worst, where = error, f"{name}{list(i)}: derived {derived[i]}, numeric {numeric}"
print(json.dumps({"worst": worst, "where": where, "entries": entries}))
"#;

/// `--bare` leaves out nnderive's values and the check: the file is the
/// computation alone, and still runs and prints the same JSON.
#[test]
fn a_bare_export_is_the_computation_alone() {
    let dir = tempfile::tempdir().unwrap();
    let example = common::example("assignment4.nn");
    let full = std::fs::read_to_string(export(&example, dir.path(), false)).unwrap();
    let bare = std::fs::read_to_string(export(&example, dir.path(), true)).unwrap();
    assert!(full.contains("EXPECTED = json.loads(") && full.contains("def check("));
    assert!(!bare.contains("EXPECTED") && !bare.contains("def check("));
    assert!(full.starts_with(&bare[..bare.find("Run it with").unwrap()]));
    let Some(python) = common::numpy_python() else { return };
    let out = run(&python, &[&dir.path().join("assignment4_bare.py").to_string_lossy()]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["loss"]["name"], "L");
}

/// A file whose check fails exits 1 and names the worst entry.
#[test]
fn a_wrong_value_fails_the_check_and_names_the_entry() {
    let Some(python) = common::numpy_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = export(&common::example("assignment4.nn"), dir.path(), false);
    let text = std::fs::read_to_string(&file).unwrap();
    // One gradient formula changed: ∂L/∂b1 = 1.001 δ1.
    let broken = text.replace("    dL_db1 = delta1\n", "    dL_db1 = 1.001 * delta1\n");
    assert_ne!(broken, text);
    std::fs::write(&file, broken).unwrap();
    let out = run(&python, &[&file.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("gradients.b1[") && err.contains("differ by 1.0e-03 relative"), "{err}");
}

/// The export of the assignment's network, as a student reads it.
#[test]
fn the_assignment_exports_as_readable_code() {
    let source = common::source(&common::example("assignment4.nn"));
    let model = nnderive::load(&source).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let code = nnderive::render::numpy::export(&model, &solution, &source.name, true).unwrap();
    common::settings().bind(|| insta::assert_snapshot!("numpy@assignment4.nn", code));
}

/// Values left open: an error naming each one and how to give it, exit 1,
/// and no file written.
#[test]
fn values_left_open_are_an_error_saying_what_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("net.py");
    let out = nnderive(&[
        "solve",
        "grammar/examples/assignment4_open.nn",
        "--format",
        "numpy",
        "-o",
        &target.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: a NumPy export needs every number, and target 'y' has no value\n"), "{err}");
    assert!(err.contains("--> grammar/examples/assignment4_open.nn:5:1") && err.contains("--given 'y=[...]'"), "{err}");
    assert!(!target.exists());
    // With the value given, it exports.
    let out = nnderive(&["solve", "grammar/examples/assignment4_open.nn", "--format", "numpy", "--given", "y=[0, 1]"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("y = column([0.0, 1.0])"));
}

/// `--round` and `--cases` do not go with the format, nor `--bare` with
/// another: usage errors, exit 2, before any work.
#[test]
fn options_that_do_not_go_with_the_format_are_usage_errors() {
    let a4 = "grammar/examples/assignment4.nn";
    for (args, says) in [
        (vec!["solve", a4, "--format", "numpy", "--round", "4"], "--round does not go with --format numpy"),
        (vec!["solve", a4, "--format", "numpy", "--cases", "y=onehot"], "--cases does not go with --format numpy"),
        (vec!["solve", a4, "--bare"], "--bare goes with --format numpy only"),
    ] {
        let out = nnderive(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).starts_with(&format!("error: {says}")), "{args:?}");
    }
}

/// Every ```python block of docs/export.md is part of a real export (of
/// the assignment's network or of the RNN example), line for line.
#[test]
fn the_guides_python_blocks_are_real_exports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/export.md")).unwrap();
    let exports: Vec<String> = ["assignment4.nn", "rnn.nn"]
        .iter()
        .map(|name| {
            let source = common::source(&common::example(name));
            let model = nnderive::load(&source).unwrap();
            let solution = nnderive::solve(&model).unwrap();
            nnderive::render::numpy::export(&model, &solution, &source.name, true).unwrap()
        })
        .collect();
    let blocks: Vec<&str> = guide.split("```python\n").skip(1).map(|b| b.split("```").next().unwrap_or("")).collect();
    assert!(blocks.len() >= 4);
    for block in blocks {
        assert!(exports.iter().any(|e| e.contains(block)), "not in any export:\n{block}");
    }
}
