//! Rectangular pooling windows, strides and padding, each a `[height, width]`
//! pair as PyTorch's `kernel_size=(2, 3)`: d2l's published values to their
//! printed digits, every forward value and gradient against a NumPy
//! reference written here as plain loops over a padded map (never
//! nnderive's own export), and every gradient against central differences.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use nnderive::render;
use serde_json::{json, Value};

/// A model and its solution as JSON at full precision.
fn solve(name: &str, text: &str) -> (nnderive::model::Model, Value) {
    let model = nnderive::load(&nnderive::Source::new(name, text)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let solution = nnderive::solve(&model).unwrap();
    let json = serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap();
    (model, json)
}

fn example() -> (nnderive::model::Model, Value) {
    let text = std::fs::read_to_string(common::example("pool_rect.nn")).unwrap();
    solve("pool_rect.nn", &text)
}

fn exact(j: &Value, name: &str) -> String {
    j["forward"][name]["exact"].to_string()
}

/// d2l "Pooling", §Padding and Stride (PyTorch tab): on
/// `X = torch.arange(16).reshape(1, 1, 4, 4)` and its second channel
/// `X + 1` (`torch.cat((X, X + 1), 1)`),
/// `nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))` prints
/// `tensor([[[[ 5.,  7.], [13., 15.]]]])`.
#[test]
fn d2l_rectangular_window_published_values() {
    let (model, j) = example();
    assert_eq!(model.tensors["P1"].shape.dims(), [1, 2, 2, 2]);
    // Channel 0 is d2l's printed tensor; channel 1 is X + 1, one more.
    assert_eq!(exact(&j, "P1"), r#"[[[["5","7"],["13","15"]],[["6","8"],["14","16"]]]]"#);
    assert_eq!(model.tensors["P2"].shape.dims(), [1, 2, 3, 4]);
    assert_eq!(model.tensors["P3"].shape.dims(), [1, 2, 3, 3]);
    // The first window of P2 holds rows 0–1 and columns −1..1, the padded
    // column counted: (0 + 1 + 4 + 5)/6 = 5/3.
    assert!(exact(&j, "P2").starts_with(r#"[[[["5/3","3","4","3"]"#), "{}", exact(&j, "P2"));
}

/// d2l "Pooling", the start of the chapter: `pool2d(X, (2, 2))` on
/// `[[0, 1, 2], [3, 4, 5], [6, 7, 8]]` prints `[[4., 5.], [7., 8.]]`, and
/// with `'avg'` `[[2., 3.], [5., 6.]]` (stride 1, a single map [C, H, W]);
/// a published run of the PyTorch tab with `nn.MaxPool2d((2, 3),
/// padding=(1, 1), stride=(2, 3))` on `torch.arange(16)` prints
/// `[[1., 3.], [9., 11.], [13., 15.]]`.
#[test]
fn d2l_pool2d_and_padded_rectangle_published_values() {
    let text = "\
input X[1,3,3] = [[[0, 1, 2], [3, 4, 5], [6, 7, 8]]]
param K[1,1,1,1] = [[[[1]]]]
A = conv2d(X, K)
P = maxpool(A, [2, 2], stride = 1)
Q = avgpool(A, [2, 2], stride = 1)
loss L = sum(P) + sum(Q)
";
    let (_, j) = solve("d2l_pool2d.nn", text);
    assert_eq!(exact(&j, "P"), r#"[[["4","5"],["7","8"]]]"#);
    assert_eq!(exact(&j, "Q"), r#"[[["2","3"],["5","6"]]]"#);
    let text = "\
input X[1,1,4,4] = [[[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]]]
param K[1,1,1,1] = [[[[1]]]]
A = conv2d(X, K)
P = maxpool(A, [2, 3], stride = [2, 3], pad = [1, 1])
loss L = sum(P)
";
    let (model, j) = solve("d2l_padded.nn", text);
    assert_eq!(model.tensors["P"].shape.dims(), [1, 1, 3, 2]);
    assert_eq!(exact(&j, "P"), r#"[[[["1","3"],["9","11"],["13","15"]]]]"#);
}

/// The reference: each window's max (the input padded with −∞) or mean
/// (padded with zeros that count), the windows counted as PyTorch counts
/// them along each axis; the gradient of the loss routed back by the same
/// loops. It reads the given tensors and the pools to compute from stdin.
const REFERENCE: &str = r#"
import json, sys
import numpy as np

spec = json.load(sys.stdin)
A = np.array(spec["A"], dtype=float)
if A.ndim == 3:
    A = A[None]

def starts(n, k, s, p, ceil):
    span = n + 2 * p - k
    o = (-(-span // s) if ceil else span // s) + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return [i * s for i in range(o)]

def pool(A, kind, k, s, p, ceil, seed):
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    N, C, H, W = A.shape
    fill = -np.inf if kind == "max" else 0.0
    Ap = np.pad(A, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    rows, cols = starts(H, kh, sh, ph, ceil), starts(W, kw, sw, pw, ceil)
    out = np.zeros((N, C, len(rows), len(cols)))
    grad = np.zeros_like(Ap)
    for n, c in np.ndindex(N, C):
        for i, r in enumerate(rows):
            for j, q in enumerate(cols):
                # A window past the padded input counts only what lies inside it.
                h, w = min(kh, H + 2 * ph - r), min(kw, W + 2 * pw - q)
                window = Ap[n, c, r : r + h, q : q + w]
                if kind == "max":
                    out[n, c, i, j] = window.max()
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    grad[n, c, r + u, q + v] += seed(out)[n, c, i, j]
                else:
                    out[n, c, i, j] = window.sum() / (h * w)
    if kind == "avg":
        g = seed(out)
        for n, c in np.ndindex(N, C):
            for i, r in enumerate(rows):
                for j, q in enumerate(cols):
                    h, w = min(kh, H + 2 * ph - r), min(kw, W + 2 * pw - q)
                    grad[n, c, r : r + h, q : q + w] += g[n, c, i, j] / (h * w)
    return out, grad[:, :, ph : ph + H, pw : pw + W]

result, dA = {}, np.zeros_like(A)
for p in spec["pools"]:
    seeds = {
        "D": lambda out: np.array(spec["D"], dtype=float).reshape(out.shape),
        "square/8": lambda out: out / 4,
        "ones": lambda out: np.ones_like(out),
    }
    out, grad = pool(A, p["kind"], p["size"], p["stride"], p["pad"], p["ceil"], seeds[p["seed"]])
    result[p["name"]] = out
    dA += grad
result["dA"] = dA
print(json.dumps({k: v.tolist() for k, v in result.items()}))
"#;

/// Runs [`REFERENCE`]; `None` (skipped) without a Python with NumPy, outside CI.
fn reference(spec: Value) -> Option<Value> {
    let python = common::numpy_python()?;
    let mut child = Command::new(&python)
        .args(["-c", REFERENCE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().unwrap().write_all(spec.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the NumPy reference failed");
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

#[track_caller]
fn assert_close(what: &str, got: &Value, want: &Value) {
    common::assert_json_close(what, got, want, 1e-12);
}

/// Values of a given tensor as nested JSON, from the solution.
fn given(j: &Value, name: &str) -> Value {
    j["given"][name]["value"].clone()
}

#[test]
fn example_matches_numpy_loops() {
    let (_, j) = example();
    let spec = json!({
        "A": given(&j, "X"),
        "D": given(&j, "D"),
        "pools": [
            {"name": "P1", "kind": "max", "size": [2, 3], "stride": [2, 3], "pad": [0, 1], "ceil": false, "seed": "D"},
            {"name": "P2", "kind": "avg", "size": [2, 3], "stride": [1, 1], "pad": [0, 1], "ceil": false, "seed": "square/8"},
            {"name": "P3", "kind": "max", "size": [3, 2], "stride": [2, 1], "pad": [1, 0], "ceil": true, "seed": "ones"},
        ],
    });
    let Some(r) = reference(spec) else { return };
    for name in ["P1", "P2", "P3"] {
        assert_close(name, &j["forward"][name]["value"], &r[name]);
    }
    // K is the identity 1×1 convolution, so A = X and δ1 = ∂L/∂A.
    assert_close("δ1 = ∂L/∂A", &j["deltas"]["δ1"]["value"], &r["dA"]);
}

/// A single map [C, H, W] of values without ties, windows taller than
/// wide and wider than tall, padding on one axis, ceil mode on the other.
const SINGLE_MAP: &str = "\
input X[2,5,6] = [[[0.3, -1.2, 0.7, 2.1, -0.4, 1.6], [1.1, 0.2, -0.9, 0.5, 1.8, -1.5], [-0.6, 2.4, 0.9, -2.2, 0.1, 0.8],
                   [1.9, -0.3, 1.4, 0.6, -1.1, 2.6], [-1.7, 0.4, 2.2, -0.8, 1.2, 0.05]],
                  [[-0.2, 1.3, -1.4, 0.35, 2.3, -0.7], [0.95, -2.1, 1.7, 0.15, -0.55, 1.45], [2.05, 0.45, -1.25, 1.15, 0.65, -1.85],
                   [-0.15, 1.55, 0.25, -1.65, 2.45, 0.75], [1.35, -0.95, 0.55, 1.95, -0.45, 0.85]]]
const D[2,3,3] = [[[0.5, -1, 2], [0.25, 1.5, -0.75], [1, -0.5, 0.125]], [[-2, 0.5, 1], [0.75, -0.25, 1.25], [0.5, 2, -1]]]
param K[2,2,1,1] = [[[[1]], [[0]]], [[[0]], [[1]]]]
A = conv2d(X, K)
P1 = maxpool(A, [3, 2], stride = [2, 2], pad = [1, 0], ceil = true)
P2 = avgpool(A, [2, 3], stride = [2, 1], pad = [0, 1], ceil = true)
loss L = sum(P1 * D) + sum(P2 * P2) / 8
";

#[test]
fn single_map_matches_numpy_loops() {
    let (model, j) = solve("single_map.nn", SINGLE_MAP);
    // Rows: ⌈(5 + 2 − 3)/2⌉ + 1 = 3; columns: (6 − 2)/2 + 1 = 3.
    assert_eq!(model.tensors["P1"].shape.dims(), [2, 3, 3]);
    // Rows: ⌈(5 − 2)/2⌉ + 1 = 3, the last window holding row 4 alone;
    // columns: (6 + 2 − 3)/1 + 1 = 6.
    assert_eq!(model.tensors["P2"].shape.dims(), [2, 3, 6]);
    let spec = json!({
        "A": given(&j, "X"),
        "D": given(&j, "D"),
        "pools": [
            {"name": "P1", "kind": "max", "size": [3, 2], "stride": [2, 2], "pad": [1, 0], "ceil": true, "seed": "D"},
            {"name": "P2", "kind": "avg", "size": [2, 3], "stride": [2, 1], "pad": [0, 1], "ceil": true, "seed": "square/8"},
        ],
    });
    let Some(r) = reference(spec) else { return };
    // The reference works on a batch of one.
    for name in ["P1", "P2"] {
        assert_close(name, &json!([j["forward"][name]["value"].clone()]), &r[name]);
    }
    assert_close("δ1 = ∂L/∂A", &json!([j["deltas"]["δ1"]["value"].clone()]), &r["dA"]);
}

/// Every gradient against central differences.
#[test]
fn rectangular_pools_pass_gradcheck() {
    let example = std::fs::read_to_string(common::example("pool_rect.nn")).unwrap();
    for (name, text) in [("pool_rect.nn", example.as_str()), ("single_map.nn", SINGLE_MAP)] {
        let model = nnderive::load(&nnderive::Source::new(name, text)).unwrap();
        let check = nnderive::gradcheck(&model).unwrap();
        assert!(check.worst() < 1e-6, "{name}: {check:?}");
    }
}

/// The derivation writes the windows as the file does and states the index
/// form with both sizes, strides and paddings; a square window reads as before.
#[test]
fn derivation_states_the_pairs() {
    let (model, _) = example();
    let text = render::text::derivation(&model, &nnderive::derive::derive(&model));
    for line in [
        "P1 = maxpool(A, [2, 3], pad = [0, 1])",
        "P2 = avgpool(A, [2, 3], stride = 1, pad = [0, 1])",
        "P3 = maxpool(A, [3, 2], stride = [2, 1], pad = [1, 0], ceil = true)",
        "P[c,i,j] = the max (or mean) of A[c, sh·i + a − ph, sw·j + b − pw] over a ∈ 0..kh−1, b ∈ 0..kw−1",
        "W′ = ⌊(W + 2pw − kw)/sw⌋ + 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let square = "param X[1,4,4]\nP = maxpool(X, [2, 2], stride = [2, 2], pad = [0, 0])\nloss L = sum(P * P)\n";
    let model = nnderive::load(&nnderive::Source::new("square.nn", square)).unwrap();
    let text = render::text::derivation(&model, &nnderive::derive::derive(&model));
    assert!(text.contains("P = maxpool(X, 2)") && !text.contains("kh"), "{text}");
}

/// `nnderive fmt` keeps the lists as written, and what it writes parses to
/// the same model.
#[test]
fn lists_survive_fmt() {
    let text = "param X[1,4,4]\nP = maxpool(X,[2,3],stride=[ 2 , 3 ],pad=[0,1])\nloss L = sum(P * P)\n";
    let file = nnderive::syntax::parse(text).unwrap();
    let formatted = nnderive::syntax::format(&file);
    assert!(formatted.contains("P = maxpool(X, [2, 3], stride = [2, 3], pad = [0, 1])"), "{formatted}");
    let a = nnderive::load(&nnderive::Source::new("a.nn", text)).unwrap();
    let b = nnderive::load(&nnderive::Source::new("b.nn", &formatted)).unwrap();
    assert_eq!(a.tensors["P"].shape, b.tensors["P"].shape);
}

/// The floor rule along each axis with its own numbers: a 3 × 2 window on a
/// 4 × 5 map covers rows 1–3 (⌊(4 − 3)/3⌋ + 1 = 1 window) and columns 1–4
/// (⌊(5 − 2)/2⌋ + 1 = 2), and the note names row 4 and column 5.
#[test]
fn the_note_names_the_rows_and_columns_each_axis_leaves_out() {
    let text = "\
input X[1,4,5] = [[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19]]]
param K[1,1,1,1] = [[[[1]]]]
A = conv2d(X, K)
P = avgpool(A, [3, 2])
loss L = sum(P * P)
";
    let (model, j) = solve("unreached.nn", text);
    assert_eq!(model.tensors["P"].shape.dims(), [1, 1, 2]);
    // (0 + 1 + 5 + 6 + 10 + 11)/6 = 11/2 and (2 + 3 + 7 + 8 + 12 + 13)/6 = 15/2.
    assert_eq!(exact(&j, "P"), r#"[[["11/2","15/2"]]]"#);
    let notes = j["notes"].to_string();
    assert!(notes.contains("so row 4 and column 5 of its input are in no window"), "{notes}");
}
