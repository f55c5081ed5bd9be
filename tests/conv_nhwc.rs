//! Channels last (`layout = nhwc`): deeplearning.ai's "Convolution model -
//! Step by Step" (Course 4, week 1) checks, as the notebook writes them,
//! with inputs drawn by NumPy's seeded `randn` exactly as the notebook draws
//! them, against the digits the notebook prints; every value also against a
//! NumPy reference written here as the notebook's own loops (never
//! nnderive's export), and the gradients of a small channels-last network
//! against central differences.
//!
//! The published numbers are the notebook's expected outputs
//! (`Convolution_model_Step_by_Step_v2.ipynb` and its later revisions):
//! conv_forward `Z's mean = 0.5511276474566768`, `Z[0,2,1]`; pool_forward
//! case 2 (stride 2) `A[0]` (max) and `A[1]` (average); conv_backward
//! `dA_mean = 1.45243777754`, `dW_mean = 1.72699145831`,
//! `db_mean = 7.83923256462`; pool_backward `dA_prev[1,1]` (max and average).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::flat;
use nnderive::render;
use serde_json::{json, Value};

/// Draws the notebook's inputs with `np.random.seed(1)` and `randn`, writes
/// one `.nn` file per check into the folder given as the argument, and
/// prints the NumPy reference values (the notebook's loops) as JSON.
const NOTEBOOK: &str = r#"
import json, sys
import numpy as np

folder = sys.argv[1]

def lit(a):
    if a.ndim == 0:
        return repr(float(a))
    return "[" + ", ".join(lit(x) for x in a) + "]"

def decl(role, name, a):
    return f"{role} {name}[{','.join(map(str, a.shape))}] = {lit(a)}\n"

def conv_forward(A_prev, W, b, stride, pad):
    m, H, Wd, C = A_prev.shape
    f, _, _, F = W.shape
    nH, nW = (H + 2 * pad - f) // stride + 1, (Wd + 2 * pad - f) // stride + 1
    Ap = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    Z = np.zeros((m, nH, nW, F))
    for i in range(m):
        for h in range(nH):
            for w in range(nW):
                for c in range(F):
                    s = Ap[i, h * stride:h * stride + f, w * stride:w * stride + f, :]
                    Z[i, h, w, c] = np.sum(s * W[:, :, :, c]) + float(b[0, 0, 0, c])
    return Z

def conv_backward(dZ, A_prev, W, stride, pad):
    m, H, Wd, C = A_prev.shape
    f, _, _, F = W.shape
    _, nH, nW, _ = dZ.shape
    Ap = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dAp = np.zeros_like(Ap)
    dW, db = np.zeros_like(W), np.zeros((1, 1, 1, F))
    for i in range(m):
        for h in range(nH):
            for w in range(nW):
                for c in range(F):
                    rows, cols = slice(h * stride, h * stride + f), slice(w * stride, w * stride + f)
                    dAp[i, rows, cols, :] += W[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += Ap[i, rows, cols, :] * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
    return dAp[:, pad:pad + H, pad:pad + Wd, :], dW, db

def pool_forward(A_prev, f, stride, mode):
    m, H, Wd, C = A_prev.shape
    nH, nW = (H - f) // stride + 1, (Wd - f) // stride + 1
    A = np.zeros((m, nH, nW, C))
    for i in range(m):
        for h in range(nH):
            for w in range(nW):
                for c in range(C):
                    s = A_prev[i, h * stride:h * stride + f, w * stride:w * stride + f, c]
                    A[i, h, w, c] = np.max(s) if mode == "max" else np.mean(s)
    return A

def pool_backward(dA, A_prev, f, stride, mode):
    dA_prev = np.zeros_like(A_prev)
    m, nH, nW, C = dA.shape
    for i in range(m):
        for h in range(nH):
            for w in range(nW):
                for c in range(C):
                    rows, cols = slice(h * stride, h * stride + f), slice(w * stride, w * stride + f)
                    if mode == "max":
                        s = A_prev[i, rows, cols, c]
                        dA_prev[i, rows, cols, c] += (s == np.max(s)) * dA[i, h, w, c]
                    else:
                        dA_prev[i, rows, cols, c] += dA[i, h, w, c] / (f * f)
    return dA_prev

out = {}
def write(name, text):
    with open(f"{folder}/{name}.nn", "w") as fh:
        fh.write(text)

# conv_forward: A_prev (2, 5, 7, 4), W (3, 3, 4, 8), b (1, 1, 1, 8), pad 1, stride 2.
np.random.seed(1)
A_prev = np.random.randn(2, 5, 7, 4)
W = np.random.randn(3, 3, 4, 8)
b = np.random.randn(1, 1, 1, 8)
write("conv_forward", decl("input", "A_prev", A_prev) + decl("param", "W", W) + decl("param", "b", b)
      + "Z = conv2d(A_prev, W, b, stride = 2, pad = 1, layout = nhwc)\nloss L = sum(Z * Z)\n")
out["conv_forward"] = {"Z": conv_forward(A_prev, W, b, 2, 1)}

# conv_backward: A_prev (10, 4, 4, 3), W (2, 2, 3, 8), b (1, 1, 1, 8), pad 2,
# stride 2, driven by dZ = Z (the notebook calls conv_backward(Z, cache_conv)).
np.random.seed(1)
A_prev = np.random.randn(10, 4, 4, 3)
W = np.random.randn(2, 2, 3, 8)
b = np.random.randn(1, 1, 1, 8)
Z = conv_forward(A_prev, W, b, 2, 2)
dA, dW, db = conv_backward(Z, A_prev, W, 2, 2)
write("conv_backward", decl("param", "A_prev", A_prev) + decl("param", "W", W) + decl("param", "b", b)
      + decl("const", "dZ", Z)
      + "Z = conv2d(A_prev, W, b, stride = 2, pad = 2, layout = nhwc)\nloss L = sum(dZ * Z)\n")
out["conv_backward"] = {"Z": Z, "dA": dA, "dW": dW, "db": db}

# pool_forward, case 2: A_prev (2, 5, 5, 3), f 3, stride 2, max and average.
np.random.seed(1)
A_prev = np.random.randn(2, 5, 5, 3)
write("pool_forward", decl("param", "A_prev", A_prev)
      + "Pmax = maxpool(A_prev, 3, stride = 2, layout = nhwc)\n"
      + "Pavg = avgpool(A_prev, 3, stride = 2, layout = nhwc)\n"
      + "loss L = sum(Pmax) + sum(Pavg)\n")
out["pool_forward"] = {"max": pool_forward(A_prev, 3, 2, "max"), "average": pool_forward(A_prev, 3, 2, "average")}

# pool_backward: A_prev (5, 5, 3, 2), f 2, stride 1, then dA (5, 4, 2, 2)
# drawn next from the same seeded stream.
np.random.seed(1)
A_prev = np.random.randn(5, 5, 3, 2)
dA = np.random.randn(5, 4, 2, 2)
for mode, call in (("max", "maxpool"), ("average", "avgpool")):
    write(f"pool_backward_{mode}", decl("param", "A_prev", A_prev) + decl("const", "dA", dA)
          + f"P = {call}(A_prev, 2, stride = 1, layout = nhwc)\nloss L = sum(dA * P)\n")
    out[f"pool_backward_{mode}"] = {"dA_prev": pool_backward(dA, A_prev, 2, 1, mode)}

print(json.dumps({k: {n: np.asarray(v).tolist() for n, v in d.items()} for k, d in out.items()}))
"#;

/// The notebook's files written into a fresh folder, and the NumPy
/// reference values; `None` (skipped) without a Python with NumPy.
fn notebook() -> Option<(std::path::PathBuf, Value)> {
    let python = common::numpy_python()?;
    let folder = std::env::temp_dir().join(format!("nnderive-nhwc-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let output = Command::new(&python).args(["-c", NOTEBOOK]).arg(&folder).output().expect("python runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    Some((folder, serde_json::from_slice(&output.stdout).unwrap()))
}

/// A file's solution as JSON at full precision.
fn solve(path: &std::path::Path) -> Value {
    let model = nnderive::load(&common::source(path)).unwrap_or_else(|e| panic!("{e:?}"));
    let solution = nnderive::solve(&model).unwrap();
    serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Agrees with a published number to the digits printed: within half a
/// unit of the last printed digit (`places` after the point).
#[track_caller]
fn assert_printed(what: &str, got: f64, published: f64, places: i32) {
    let tolerance = 0.5 * 10f64.powi(-places) + 1e-15;
    assert!((got - published).abs() <= tolerance, "{what}: nnderive {got}, published {published}");
}

#[track_caller]
fn assert_close(what: &str, got: &Value, want: &Value) {
    common::assert_json_close(what, got, want, 1e-9);
}

/// Every check of the notebook in one test, so that the reference runs once.
#[test]
fn deeplearning_ai_step_by_step_numbers() {
    let Some((folder, reference)) = notebook() else { return };

    // conv_forward
    let j = solve(&folder.join("conv_forward.nn"));
    let z = &j["forward"]["Z"]["value"];
    assert_close("conv_forward Z", z, &reference["conv_forward"]["Z"]);
    assert_printed("Z's mean", mean(&flat(z)), 0.5511276474566768, 16);
    let z021 = flat(&z[0][2][1]);
    let published = [-2.17796037, 8.07171329, -0.5772704, 3.36286738, 4.48113645, -2.89198428, 10.99288867, 3.03171932];
    for (k, (a, b)) in z021.iter().zip(published).enumerate() {
        assert_printed(&format!("Z[0,2,1][{k}]"), *a, b, 8);
    }

    // conv_backward, driven by dZ = Z
    let j = solve(&folder.join("conv_backward.nn"));
    let r = &reference["conv_backward"];
    assert_close("conv_backward Z", &j["forward"]["Z"]["value"], &r["Z"]);
    let (da, dw, db) =
        (&j["gradients"]["A_prev"]["value"], &j["gradients"]["W"]["value"], &j["gradients"]["b"]["value"]);
    assert_close("dA", da, &r["dA"]);
    assert_close("dW", dw, &r["dW"]);
    assert_close("db", db, &r["db"]);
    assert_printed("dA_mean", mean(&flat(da)), 1.45243777754, 11);
    assert_printed("dW_mean", mean(&flat(dw)), 1.72699145831, 11);
    assert_printed("db_mean", mean(&flat(db)), 7.83923256462, 11);

    // pool_forward, case 2
    let j = solve(&folder.join("pool_forward.nn"));
    let r = &reference["pool_forward"];
    assert_close("maxpool", &j["forward"]["Pmax"]["value"], &r["max"]);
    assert_close("avgpool", &j["forward"]["Pavg"]["value"], &r["average"]);
    let max_a0 = [
        1.74481176, 0.90159072, 1.65980218, 1.74481176, 1.6924546, 1.65980218, 1.13162939, 1.51981682, 2.18557541,
        1.13162939, 1.6924546, 2.18557541,
    ];
    for (k, (a, b)) in flat(&j["forward"]["Pmax"]["value"][0]).iter().zip(max_a0).enumerate() {
        assert_printed(&format!("max A[0] entry {k}"), *a, b, 8);
    }
    let avg_a1 = [
        -0.17313416,
        0.32377198,
        -0.34317572,
        0.02030094,
        0.14141479,
        -0.01231585,
        0.42944926,
        0.08446996,
        -0.27290905,
        0.15077452,
        0.28911175,
        0.00123239,
    ];
    for (k, (a, b)) in flat(&j["forward"]["Pavg"]["value"][1]).iter().zip(avg_a1).enumerate() {
        assert_printed(&format!("average A[1] entry {k}"), *a, b, 8);
    }

    // pool_backward, max and average
    let published = [
        ("max", [0.0, 0.0, 5.05844394, -1.68282702, 0.0, 0.0]),
        ("average", [0.08485462, 0.2787552, 1.26461098, -0.25749373, 1.17975636, -0.53624893]),
    ];
    for (mode, values) in published {
        let j = solve(&folder.join(format!("pool_backward_{mode}.nn")));
        let grad = &j["gradients"]["A_prev"]["value"];
        assert_close(&format!("pool_backward {mode}"), grad, &reference[format!("pool_backward_{mode}")]["dA_prev"]);
        for (k, (a, b)) in flat(&grad[1][1]).iter().zip(values).enumerate() {
            assert_printed(&format!("{mode} dA_prev[1,1] entry {k}"), *a, b, 8);
        }
    }
    std::fs::remove_dir_all(&folder).ok();
}

/// The example `cnn_nhwc.nn` by plain NHWC loops in NumPy (the notebook's
/// own way of writing them, with PyTorch's tie rule for max-pooling: the
/// first maximum in row-major order): conv → relu → max-pool → conv →
/// avg-pool → mse, forward and backward, on the given tensors from stdin.
const EXAMPLE_REFERENCE: &str = r#"
import json, sys
import numpy as np
data = json.load(sys.stdin)
g = {k: np.reshape(np.array(v, dtype=float), data["shapes"][k]) for k, v in data["values"].items()}

def conv(A, W, b, stride, pad):
    m, H, Wd, C = A.shape
    f, _, _, F = W.shape
    nH, nW = (H + 2 * pad - f) // stride + 1, (Wd + 2 * pad - f) // stride + 1
    Ap = np.pad(A, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    Z = np.zeros((m, nH, nW, F))
    for i, h, w, c in np.ndindex(m, nH, nW, F):
        Z[i, h, w, c] = np.sum(Ap[i, h * stride:h * stride + f, w * stride:w * stride + f, :] * W[..., c]) + b.reshape(-1)[c]
    return Z

def conv_back(dZ, A, W, stride, pad):
    m, H, Wd, C = A.shape
    f = W.shape[0]
    Ap = np.pad(A, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dAp, dW, db = np.zeros_like(Ap), np.zeros_like(W), np.zeros(W.shape[-1])
    for i, h, w, c in np.ndindex(*dZ.shape):
        r, s = slice(h * stride, h * stride + f), slice(w * stride, w * stride + f)
        dAp[i, r, s, :] += W[..., c] * dZ[i, h, w, c]
        dW[..., c] += Ap[i, r, s, :] * dZ[i, h, w, c]
        db[c] += dZ[i, h, w, c]
    return dAp[:, pad:pad + H, pad:pad + Wd, :], dW, db

def pool(A, f, mode):
    m, H, Wd, C = A.shape
    P = np.zeros((m, H // f, Wd // f, C))
    for i, h, w, c in np.ndindex(*P.shape):
        s = A[i, h * f:h * f + f, w * f:w * f + f, c]
        P[i, h, w, c] = np.max(s) if mode == "max" else np.mean(s)
    return P

def pool_back(dP, A, f, mode):
    dA = np.zeros_like(A)
    for i, h, w, c in np.ndindex(*dP.shape):
        s = A[i, h * f:h * f + f, w * f:w * f + f, c]
        if mode == "max":
            u, v = np.unravel_index(np.argmax(s), s.shape)
            dA[i, h * f + u, w * f + v, c] += dP[i, h, w, c]
        else:
            dA[i, h * f:h * f + f, w * f:w * f + f, c] += dP[i, h, w, c] / (f * f)
    return dA

Z1 = conv(g["A"], g["W1"], g["b1"], 1, 1)
A1 = np.maximum(Z1, 0)
P1 = pool(A1, 2, "max")
Z2 = conv(P1, g["W2"], g["b2"], 1, 0)
P2 = pool(Z2, 2, "average")
dP2 = 2 * (P2 - g["Y"]) / P2.size
dZ2 = pool_back(dP2, Z2, 2, "average")
dP1, dW2, db2 = conv_back(dZ2, P1, g["W2"], 1, 0)
dZ1 = pool_back(dP1, A1, 2, "max") * (Z1 > 0)
_, dW1, db1 = conv_back(dZ1, g["A"], g["W1"], 1, 1)
out = {"Z1": Z1, "P1": P1, "Z2": Z2, "P2": P2, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
print(json.dumps({k: v.tolist() for k, v in out.items()}))
"#;

fn ratio(r: &num_rational::BigRational) -> f64 {
    r.numer().to_string().parse::<f64>().unwrap() / r.denom().to_string().parse::<f64>().unwrap()
}

#[test]
fn channels_last_example_matches_numpy_loops() {
    let Some(python) = common::numpy_python() else { return };
    let model = nnderive::load(&common::source(&common::example("cnn_nhwc.nn"))).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let j: Value = serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap();
    let mut given = serde_json::Map::new();
    for (name, t) in &model.tensors {
        if let Some(v) = t.exact_value() {
            given.insert(name.clone(), json!(v.iter().map(ratio).collect::<Vec<f64>>()));
        }
    }
    let shapes: serde_json::Map<String, Value> =
        model.tensors.iter().map(|(name, t)| (name.clone(), json!(t.shape.dims()))).collect();
    let input = json!({ "values": given, "shapes": shapes });
    let mut child = Command::new(&python)
        .args(["-c", EXAMPLE_REFERENCE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the NumPy reference failed");
    let r: Value = serde_json::from_slice(&output.stdout).unwrap();
    for name in ["Z1", "P1", "Z2", "P2"] {
        assert_close(name, &j["forward"][name]["value"], &r[name]);
    }
    for name in ["W1", "b1", "W2", "b2"] {
        assert_close(&format!("∂L/∂{name}"), &j["gradients"][name]["value"], &r[name]);
    }
}

/// A single map channels last, `[H, W, C]`, through a padded, strided-by-1
/// convolution with a bias `[F]`, a padded average pooling and a max
/// pooling: every gradient, the input's too, agrees with central
/// differences (`nnderive gradcheck`, which never reads the derived
/// formulas' kernels).
#[test]
fn a_single_channels_last_map_passes_gradcheck() {
    let folder = std::env::temp_dir().join(format!("nnderive-nhwc-map-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("map.nn"), MAP).unwrap();
    let out = common::nnderive_in(&folder, &["gradcheck", "map.nn"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for name in ["A ", "W ", "b "] {
        assert!(text.lines().any(|l| l.trim_start().starts_with(name) && l.ends_with("ok")), "{name}: {text}");
    }
    std::fs::remove_dir_all(&folder).ok();
}

const MAP: &str = "param  A[4,4,2] = [[[0.2, -0.1], [0.5, 0.3], [-0.4, 0.1], [0.6, -0.2]],
                   [[0.0, 0.7], [-0.3, 0.4], [0.8, -0.5], [0.2, 0.5]],
                   [[-0.6, 0.1], [0.9, -0.1], [0.0, 0.3], [-0.7, 0.4]],
                   [[0.6, 0.2], [0.9, 0.2], [-0.2, 0.3], [-0.6, 0.1]]]
param  W[3,3,2,3] = [[[[0.1, -0.2, 0.3], [0.0, 0.4, -0.1]], [[-0.3, 0.2, 0.1], [0.2, -0.1, 0.0]], [[0.3, -0.1, 0.2], [0.1, 0.2, -0.4]]],
                     [[[0.2, 0.1, -0.3], [-0.2, 0.0, 0.1]], [[0.1, 0.3, -0.2], [0.0, -0.3, 0.2]], [[-0.1, 0.2, 0.1], [0.3, 0.1, 0.0]]],
                     [[[0.0, -0.1, 0.2], [0.1, 0.3, -0.2]], [[0.2, 0.0, 0.1], [-0.1, 0.2, 0.3]], [[0.1, -0.2, 0.0], [0.2, 0.1, -0.1]]]]
param  b[3] = [0.113, -0.127, 0.071]
Z = conv2d(A, W, b, stride = 1, pad = 1, layout = nhwc)
P = avgpool(relu(Z), 3, stride = 1, pad = 1, layout = nhwc)
Q = maxpool(Z, 2, layout = nhwc)
loss L = sum(P * P) + sum(Q * Q)
";
