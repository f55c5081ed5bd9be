//! Batched convolution and pooling, `[N, C, H, W]`: the published values of
//! CS231n's `conv_forward_naive` and `max_pool_forward_naive` checks to
//! their printed digits, every value of the batched examples against a NumPy
//! reference written here as the course's naive loops (never nnderive's own
//! export), and every gradient against central differences.

mod common;

use common::flat;

use std::io::Write;
use std::process::{Command, Stdio};

use nnderive::render;
use serde_json::{json, Value};

/// An example's model and its solution as JSON at full precision.
fn load(name: &str) -> (nnderive::model::Model, Value) {
    let model = nnderive::load(&common::source(&common::example(name))).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let json = serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap();
    (model, json)
}

/// The published numbers agree with nnderive's to the digits printed
/// (8 decimals: within half a unit of the last).
#[track_caller]
fn assert_printed(what: &str, got: &Value, published: &[f64]) {
    let got = flat(got);
    assert_eq!(got.len(), published.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(published).enumerate() {
        assert!((a - b).abs() <= 0.5e-8, "{what}[{i}]: nnderive {a}, published {b}");
    }
}

#[track_caller]
fn assert_close(what: &str, got: &Value, want: &Value) {
    common::assert_json_close(what, got, want, 1e-12);
}

/// CS231n ConvolutionalNetworks: x = linspace(-0.1, 0.5) as (2, 3, 4, 4),
/// w = linspace(-0.2, 0.3) as (3, 3, 4, 4), b = linspace(-0.1, 0.2, 3),
/// stride 2, pad 1, and the notebook's `correct_out`.
#[test]
fn cs231n_conv_forward_naive_published_values() {
    let (model, json) = load("cnn_batched.nn");
    assert_eq!(model.tensors["out"].shape.dims(), [2, 3, 2, 2]);
    #[rustfmt::skip]
    let correct_out = [
        -0.08759809, -0.10987781, -0.18387192, -0.2109216,
        0.21027089, 0.21661097, 0.22847626, 0.23004637,
        0.50813986, 0.54309974, 0.64082444, 0.67101435,
        -0.98053589, -1.03143541, -1.19128892, -1.24695841,
        0.69108355, 0.66880383, 0.59480972, 0.56776003,
        2.36270298, 2.36904306, 2.38090835, 2.38247847,
    ];
    assert_printed("out", &json["forward"]["out"]["value"], &correct_out);
}

/// CS231n ConvolutionalNetworks: x = linspace(-0.3, 0.4) as (2, 3, 4, 4),
/// 2×2 windows with stride 2, and the notebook's `correct_out` (a 1×1
/// convolution after the pool gives the pool's error a path to the loss).
#[test]
fn cs231n_max_pool_forward_naive_published_values() {
    let (model, json) = load("pool_batched.nn");
    assert_eq!(model.tensors["out"].shape.dims(), [2, 3, 2, 2]);
    #[rustfmt::skip]
    let correct_out = [
        -0.26315789, -0.24842105, -0.20421053, -0.18947368,
        -0.14526316, -0.13052632, -0.08631579, -0.07157895,
        -0.02736842, -0.01263158, 0.03157895, 0.04631579,
        0.09052632, 0.10526316, 0.14947368, 0.16421053,
        0.20842105, 0.22315789, 0.26736842, 0.28210526,
        0.32631579, 0.34105263, 0.38526316, 0.4,
    ];
    assert_printed("out", &json["forward"]["out"]["value"], &correct_out);
}

/// The reference: CS231n's naive loops over n, f, i, j in NumPy, reading the
/// given tensors from stdin and printing every value the examples compute.
const REFERENCE: &str = r#"
import json, sys
import numpy as np

given = {k: np.array(v, dtype=float) for k, v in json.load(sys.stdin).items()}

def conv_forward(x, w, b, stride, pad):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out

def conv_backward(dout, x, w, stride, pad):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = (n, slice(None), slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW))
                    db[f] += dout[n, f, i, j]
                    dw[f] += xp[window] * dout[n, f, i, j]
                    dxp[window] += w[f] * dout[n, f, i, j]
    return dxp[:, :, pad : pad + H, pad : pad + W], dw, db

def pool_forward(x, size, stride, kind):
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - size) // stride, 1 + (W - size) // stride))
    for n, c, i, j in np.ndindex(*out.shape):
        window = x[n, c, i * stride : i * stride + size, j * stride : j * stride + size]
        out[n, c, i, j] = np.max(window) if kind == "max" else np.mean(window)
    return out

def pool_backward(dout, x, size, stride, kind):
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        window = x[n, c, i * stride : i * stride + size, j * stride : j * stride + size]
        if kind == "max":
            u, v = np.unravel_index(np.argmax(window), window.shape)
            dx[n, c, i * stride + u, j * stride + v] += dout[n, c, i, j]
        else:
            dx[n, c, i * stride : i * stride + size, j * stride : j * stride + size] += dout[n, c, i, j] / size**2
    return dx

def windows(n, k, s, p, ceil):
    """PyTorch's windows along an axis: (first padded index, divisor) of each."""
    o = (-(-(n + 2 * p - k) // s) if ceil else (n + 2 * p - k) // s) + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return [(i * s, min(i * s + k, n + 2 * p) - i * s) for i in range(o)]

def pad_pool(x, k, s, p, ceil, kind, dout):
    """Max-pooling over x padded with -inf, or the mean over x padded with zeros counted in
    the window; returns the output and the gradient of sum(out * dout) by routing."""
    H, W = x.shape[-2:]
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    rows, cols = windows(H, k, s, p, ceil), windows(W, k, s, p, ceil)
    out = np.zeros(x.shape[:2] + (len(rows), len(cols)))
    dxp = np.zeros_like(xp)
    for n, c in np.ndindex(*x.shape[:2]):
        for i, (r0, rh) in enumerate(rows):
            for j, (c0, cw) in enumerate(cols):
                window = xp[n, c, r0 : r0 + k, c0 : c0 + k]
                if kind == "max":
                    out[n, c, i, j] = window.max()
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    dxp[n, c, r0 + u, c0 + v] += dout[n, c, i, j]
                else:
                    out[n, c, i, j] = window.sum() / (rh * cw)
                    dxp[n, c, r0 : r0 + rh, c0 : c0 + cw] += dout[n, c, i, j] / (rh * cw)
    return out, dxp[:, :, p : p + H, p : p + W]

out = {}
if "D" in given:
    X, D = given["X"], given["D"]
    P1, _ = pad_pool(X, 3, 3, 0, False, "max", np.zeros((1, 1, 1, 1)))
    _, g1 = pad_pool(X, 3, 3, 0, False, "max", np.full((1, 1, 1, 1), 0.5))
    P2, g2 = pad_pool(X, 3, 2, 1, False, "max", D)
    P3, g3 = pad_pool(X, 3, 2, 1, False, "avg", D)
    P4, g4 = pad_pool(X, 3, 2, 0, True, "max", D)
    P5, g5 = pad_pool(X, 3, 2, 0, True, "avg", D)
    # pool_variants.nn sums P1, P2 and P3 into its loss, pool_ceil.nn P4 and P5.
    dX = g1 + g2 + g3 if "E" in given else g4 + g5
    out.update(P1=P1, P2=P2, P3=P3, P4=P4, P5=P5, dX=dX)
elif "w" in given:
    x, w, b, dout = given["x"], given["w"], given["b"], given["dout"]
    out["out"] = conv_forward(x, w, b, 2, 1)
    _, out["dw"], out["db"] = conv_backward(dout, x, w, 2, 1)
elif "K1" in given:
    X, K1, b1, K2, b2, Y = (given[k] for k in ["X", "K1", "b1", "K2", "b2", "Y"])
    Z1 = conv_forward(X, K1, b1, 1, 1)
    A1 = np.maximum(Z1, 0)
    P1 = pool_forward(A1, 2, 1, "max")
    Z2 = conv_forward(P1, K2, b2, 2, 0)
    P2 = pool_forward(Z2, 2, 2, "avg")
    dP2 = 2 * (P2 - Y) / P2.size
    d2 = pool_backward(dP2, Z2, 2, 2, "avg")
    dP1, dK2, db2 = conv_backward(d2, P1, K2, 2, 0)
    d1 = pool_backward(dP1, A1, 2, 1, "max") * (Z1 > 0)
    _, dK1, db1 = conv_backward(d1, X, K1, 1, 1)
    out.update(Z1=Z1, P1=P1, Z2=Z2, P2=P2, L=np.mean((P2 - Y) ** 2), d2=d2, d1=d1, dK1=dK1, db1=db1, dK2=dK2, db2=db2)
else:
    x, K, b, dout = given["x"], given["K"], given["b"], given["dout"]
    out["out"] = pool_forward(x, 2, 2, "max")
    out["Z"] = conv_forward(out["out"], K, b, 1, 0)
    dP, out["dK"], out["db"] = conv_backward(dout, out["out"], K, 1, 0)
    out["dx"] = pool_backward(dP, x, 2, 2, "max")
print(json.dumps({k: np.asarray(v).tolist() for k, v in out.items()}))
"#;

/// Runs [`REFERENCE`] on the example's given tensors; `None` (skipped) when
/// there is no Python with NumPy, outside CI.
fn reference(model: &nnderive::model::Model) -> Option<Value> {
    let python = std::env::var("NNDERIVE_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_numpy = Command::new(&python).args(["-c", "import numpy"]).output().is_ok_and(|o| o.status.success());
    if !has_numpy {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{python} has no NumPy for the reference");
        eprintln!("SKIPPED: {python} has no NumPy; set NNDERIVE_PYTHON to a Python that has it");
        return None;
    }
    let mut given = serde_json::Map::new();
    for (name, t) in &model.tensors {
        if let Some(v) = t.exact_value() {
            let values: Vec<f64> = v.iter().map(ratio).collect();
            given.insert(name.clone(), nest(&values, t.shape.dims()));
        }
    }
    let mut child = Command::new(&python)
        .args(["-c", REFERENCE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().unwrap().write_all(Value::Object(given).to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the NumPy reference failed");
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

fn ratio(r: &num_rational::BigRational) -> f64 {
    r.numer().to_string().parse::<f64>().unwrap() / r.denom().to_string().parse::<f64>().unwrap()
}

/// Row-major values as nested arrays of `dims`.
fn nest(values: &[f64], dims: &[usize]) -> Value {
    match dims {
        [] => json!(values[0]),
        [_] => json!(values),
        [n, rest @ ..] => {
            let per = values.len() / n.max(&1);
            Value::Array((0..*n).map(|k| nest(&values[k * per..(k + 1) * per], rest)).collect())
        }
    }
}

#[test]
fn batched_conv_matches_numpy_naive_loops() {
    let (model, j) = load("cnn_batched.nn");
    let Some(r) = reference(&model) else { return };
    assert_close("out", &j["forward"]["out"]["value"], &r["out"]);
    assert_close("∂L/∂w", &j["gradients"]["w"]["value"], &r["dw"]);
    assert_close("∂L/∂b", &j["gradients"]["b"]["value"], &r["db"]);
}

#[test]
fn batched_max_pool_matches_numpy_naive_loops() {
    let (model, j) = load("pool_batched.nn");
    let Some(r) = reference(&model) else { return };
    assert_close("out", &j["forward"]["out"]["value"], &r["out"]);
    assert_close("Z", &j["forward"]["Z"]["value"], &r["Z"]);
    assert_close("∂L/∂K", &j["gradients"]["K"]["value"], &r["dK"]);
    assert_close("∂L/∂b", &j["gradients"]["b"]["value"], &r["db"]);
    assert_close("∂L/∂x", &j["gradients"]["x"]["value"], &r["dx"]);
}

/// Two conv layers, both pools and the input gradient of a conv layer, over a batch.
#[test]
fn batched_network_matches_numpy_naive_loops() {
    let (model, j) = load("cnn_batched_net.nn");
    let Some(r) = reference(&model) else { return };
    for name in ["Z1", "P1", "Z2", "P2"] {
        assert_close(name, &j["forward"][name]["value"], &r[name]);
    }
    assert_close("δ2", &j["deltas"]["δ2"]["value"], &r["d2"]);
    assert_close("δ1", &j["deltas"]["δ1"]["value"], &r["d1"]);
    for (name, key) in [("K1", "dK1"), ("b1", "db1"), ("K2", "dK2"), ("b2", "db2")] {
        assert_close(name, &j["gradients"][name]["value"], &r[key]);
    }
}

/// d2l's pooling examples on `torch.arange(16).reshape(1, 1, 4, 4)`, as
/// PyTorch counts windows: `MaxPool2d(3)` gives `[[10]]` (the floor rule),
/// `MaxPool2d(3, padding=1, stride=2)` `[[5, 7], [13, 15]]`; the mean with
/// padding counts the zeros (10/9 = (0 + 1 + 4 + 5)/9), and ceil mode adds
/// a last window.
#[test]
fn d2l_pooling_published_values_and_pytorch_windows() {
    let (model, j) = load("pool_variants.nn");
    let exact = |j: &Value, name: &str| j["forward"][name]["exact"].to_string();
    assert_eq!(exact(&j, "P1"), r#"[[[["10"]]]]"#);
    assert_eq!(exact(&j, "P2"), r#"[[[["5","7"],["13","15"]]]]"#);
    assert_eq!(exact(&j, "P3"), r#"[[[["10/9","8/3"],["17/3","10"]]]]"#);
    let notes = j["notes"].to_string();
    assert!(
        notes.contains("P1: the windows of maxpool stop where they fit (PyTorch's floor rule), so row 4 and column 4")
    );
    assert_eq!(model.tensors["A"].shape.dims(), [1, 1, 4, 4]);
    let (ceil_model, c) = load("pool_ceil.nn");
    assert_eq!(exact(&c, "P4"), r#"[[[["10","11"],["14","15"]]]]"#);
    // The last window of each axis holds 2 of its 3 rows or columns:
    // (2 + 3 + 6 + 7 + 10 + 11)/6 = 13/2, (10 + 11 + 14 + 15)/4 = 25/2.
    assert_eq!(exact(&c, "P5"), r#"[[[["5","13/2"],["11","25/2"]]]]"#);
    assert!(!c["notes"].to_string().contains("floor rule"));
    let Some(r) = reference(&model) else { return };
    for name in ["P1", "P2", "P3"] {
        assert_close(name, &j["forward"][name]["value"], &r[name]);
    }
    assert_close("δ1 = ∂L/∂A", &j["deltas"]["δ1"]["value"], &r["dX"]);
    let Some(r) = reference(&ceil_model) else { return };
    for name in ["P4", "P5"] {
        assert_close(name, &c["forward"][name]["value"], &r[name]);
    }
    assert_close("δ1 = ∂L/∂A", &c["deltas"]["δ1"]["value"], &r["dX"]);
}

/// Every gradient of the batched examples against central differences.
#[test]
fn batched_examples_pass_gradcheck() {
    for name in ["cnn_batched.nn", "pool_batched.nn", "cnn_batched_net.nn", "pool_variants.nn", "pool_ceil.nn"] {
        let model = nnderive::load(&common::source(&common::example(name))).unwrap();
        let check = nnderive::gradcheck(&model).unwrap();
        assert!(check.worst() < 1e-6, "{name}: {check:?}");
    }
}

/// The derivation states the batched forms, the sums over n with them.
#[test]
fn batched_derivation_sums_over_the_batch() {
    let model = nnderive::load(&common::source(&common::example("cnn_batched_net.nn"))).unwrap();
    let text = render::text::derivation(&model, &nnderive::derive::derive(&model));
    for line in [
        "Z1 = conv2d(X, K1, pad = 1) + b1",
        "∂L/∂b1 = Σₙᵢⱼ δ1",
        "∂L/∂K[f,c,u,v] = Σₙᵢⱼ δ[n,f,i,j] · X̃[n, c, s·i+u, s·j+v]",
        "a batch of maps [N, C, H, W] is pooled one map and one channel at a time",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}
