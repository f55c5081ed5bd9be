//! Convolutional networks: every value of the four examples checked against
//! an independent plain-loop implementation written here (the textbook's
//! nested loops, in the style of CS231n's `conv_forward_naive` and
//! `conv_backward_naive`), never calling the crate's kernels; exactness
//! through conv and pool; and the rules as the issue states them.

// The reference implementation is the textbook's index loops, on purpose.
#![allow(clippy::needless_range_loop)]

mod common;

use common::flat;

use nnderive::render;
use nnderive::Source;
use serde_json::Value;

/// A dense `[C, H, W]` (or `[F, C, H, W]`) array of f64, row-major.
#[derive(Clone, Debug)]
struct Nd {
    dims: Vec<usize>,
    v: Vec<f64>,
}

impl Nd {
    fn zeros(dims: &[usize]) -> Nd {
        Nd { dims: dims.to_vec(), v: vec![0.0; dims.iter().product()] }
    }
    fn at(&self, idx: &[usize]) -> f64 {
        self.v[self.flat(idx)]
    }
    fn flat(&self, idx: &[usize]) -> usize {
        idx.iter().zip(&self.dims).fold(0, |acc, (i, d)| acc * d + i)
    }
    fn add(&mut self, idx: &[usize], x: f64) {
        let f = self.flat(idx);
        self.v[f] += x;
    }
    fn map(&self, f: impl Fn(f64) -> f64) -> Nd {
        Nd { dims: self.dims.clone(), v: self.v.iter().map(|&x| f(x)).collect() }
    }
    fn zip(&self, o: &Nd, f: impl Fn(f64, f64) -> f64) -> Nd {
        Nd { dims: self.dims.clone(), v: self.v.iter().zip(&o.v).map(|(&a, &b)| f(a, b)).collect() }
    }
}

/// X zero-padded by `p` on every side.
fn pad(x: &Nd, p: usize) -> Nd {
    let (c, h, w) = (x.dims[0], x.dims[1], x.dims[2]);
    let mut out = Nd::zeros(&[c, h + 2 * p, w + 2 * p]);
    for ci in 0..c {
        for i in 0..h {
            for j in 0..w {
                let f = out.flat(&[ci, i + p, j + p]);
                out.v[f] = x.at(&[ci, i, j]);
            }
        }
    }
    out
}

/// out[f,i,j] = b[f] + Σ_{c,u,v} w[f,c,u,v] x_pad[c, s i + u, s j + v]
fn conv_forward(x: &Nd, w: &Nd, b: &[f64], s: usize, p: usize) -> Nd {
    let xp = pad(x, p);
    let (f, c, kh, kw) = (w.dims[0], w.dims[1], w.dims[2], w.dims[3]);
    let oh = (xp.dims[1] - kh) / s + 1;
    let ow = (xp.dims[2] - kw) / s + 1;
    let mut out = Nd::zeros(&[f, oh, ow]);
    for fi in 0..f {
        for i in 0..oh {
            for j in 0..ow {
                let mut total = b[fi];
                for ci in 0..c {
                    for u in 0..kh {
                        for v in 0..kw {
                            total += w.at(&[fi, ci, u, v]) * xp.at(&[ci, s * i + u, s * j + v]);
                        }
                    }
                }
                let f = out.flat(&[fi, i, j]);
                out.v[f] = total;
            }
        }
    }
    out
}

/// (dx, dw, db) from dout, scattering each output's gradient back over its window.
fn conv_backward(dout: &Nd, x: &Nd, w: &Nd, s: usize, p: usize) -> (Nd, Nd, Vec<f64>) {
    let xp = pad(x, p);
    let mut dxp = Nd::zeros(&xp.dims);
    let mut dw = Nd::zeros(&w.dims);
    let (f, c, kh, kw) = (w.dims[0], w.dims[1], w.dims[2], w.dims[3]);
    let mut db = vec![0.0; f];
    for fi in 0..f {
        for i in 0..dout.dims[1] {
            for j in 0..dout.dims[2] {
                let g = dout.at(&[fi, i, j]);
                db[fi] += g;
                for ci in 0..c {
                    for u in 0..kh {
                        for v in 0..kw {
                            dw.add(&[fi, ci, u, v], g * xp.at(&[ci, s * i + u, s * j + v]));
                            dxp.add(&[ci, s * i + u, s * j + v], g * w.at(&[fi, ci, u, v]));
                        }
                    }
                }
            }
        }
    }
    let mut dx = Nd::zeros(&x.dims);
    for ci in 0..x.dims[0] {
        for i in 0..x.dims[1] {
            for j in 0..x.dims[2] {
                let f = dx.flat(&[ci, i, j]);
                dx.v[f] = dxp.at(&[ci, i + p, j + p]);
            }
        }
    }
    (dx, dw, db)
}

/// Max or average pooling, with the position of each window's first maximum.
fn pool_forward(x: &Nd, k: usize, s: usize, max: bool) -> (Nd, Vec<[usize; 3]>) {
    let (c, h, w) = (x.dims[0], x.dims[1], x.dims[2]);
    let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
    let mut out = Nd::zeros(&[c, oh, ow]);
    let mut switches = Vec::new();
    for ci in 0..c {
        for i in 0..oh {
            for j in 0..ow {
                let mut best = [ci, s * i, s * j];
                let mut total = 0.0;
                for u in 0..k {
                    for v in 0..k {
                        let here = [ci, s * i + u, s * j + v];
                        total += x.at(&here);
                        if x.at(&here) > x.at(&best) {
                            best = here;
                        }
                    }
                }
                switches.push(best);
                let f = out.flat(&[ci, i, j]);
                out.v[f] = if max { x.at(&best) } else { total / (k * k) as f64 };
            }
        }
    }
    (out, switches)
}

fn pool_backward(dout: &Nd, x: &Nd, k: usize, s: usize, max: bool, switches: &[[usize; 3]]) -> Nd {
    let mut dx = Nd::zeros(&x.dims);
    for (q, &g) in dout.v.iter().enumerate() {
        if max {
            dx.add(&switches[q], g);
        } else {
            let (ci, i, j) = (q / (dout.dims[1] * dout.dims[2]), q / dout.dims[2] % dout.dims[1], q % dout.dims[2]);
            for u in 0..k {
                for v in 0..k {
                    dx.add(&[ci, s * i + u, s * j + v], g / (k * k) as f64);
                }
            }
        }
    }
    dx
}

/// Dense layer z = W v + b, W given as rows.
fn dense(w: &Nd, v: &[f64], b: &[f64]) -> Vec<f64> {
    let (m, n) = (w.dims[0], w.dims[1]);
    (0..m).map(|i| b[i] + (0..n).map(|j| w.at(&[i, j]) * v[j]).sum::<f64>()).collect()
}

/// (dv, dW) of z = W v + b.
fn dense_backward(w: &Nd, v: &[f64], dz: &[f64]) -> (Vec<f64>, Nd) {
    let (m, n) = (w.dims[0], w.dims[1]);
    let dv = (0..n).map(|j| (0..m).map(|i| w.at(&[i, j]) * dz[i]).sum()).collect();
    let mut dw = Nd::zeros(&[m, n]);
    for i in 0..m {
        for j in 0..n {
            dw.add(&[i, j], dz[i] * v[j]);
        }
    }
    (dv, dw)
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|x| (x - m).exp()).collect();
    let t: f64 = e.iter().sum();
    e.iter().map(|x| x / t).collect()
}

fn relu_grad(z: &Nd) -> Nd {
    z.map(|x| if x > 0.0 { 1.0 } else { 0.0 })
}

/// An example's model and solution as JSON at full precision.
struct Example {
    model: nnderive::model::Model,
    json: Value,
}

impl Example {
    fn load(name: &str) -> Example {
        let model = nnderive::load(&common::source(&common::example(name))).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        let json = serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap();
        Example { model, json }
    }

    /// A declared tensor's value, from the file.
    fn given(&self, name: &str) -> Nd {
        let t = &self.model.tensors[name];
        let v = t.exact_value().unwrap().iter().map(ratio).collect::<Vec<_>>();
        Nd { dims: t.shape.dims().to_vec(), v }
    }

    fn vec(&self, name: &str) -> Vec<f64> {
        self.given(name).v
    }
}

fn ratio(r: &num_rational::BigRational) -> f64 {
    r.numer().to_string().parse::<f64>().unwrap() / r.denom().to_string().parse::<f64>().unwrap()
}

#[track_caller]
fn assert_close(what: &str, got: &Value, want: &[f64]) {
    let got = flat(got);
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{what}[{i}]: nnderive {a}, plain loops {b}");
    }
}

/// The network: conv → relu → max-pool (2, stride 1) → flatten → dense → softmax.
#[test]
fn cnn_matches_plain_loops() {
    let e = Example::load("cnn.nn");
    let (x, k, bk, w, b, y) = (e.given("X"), e.given("K"), e.vec("bK"), e.given("W"), e.vec("b"), e.vec("y"));
    let z1 = conv_forward(&x, &k, &bk, 1, 0);
    let a1 = z1.map(|t| t.max(0.0));
    let (p1, switches) = pool_forward(&a1, 2, 1, true);
    let z2 = dense(&w, &p1.v, &b);
    let yhat = softmax(&z2);
    let d2: Vec<f64> = yhat.iter().zip(&y).map(|(p, t)| p - t).collect();
    let (dv, dw) = dense_backward(&w, &p1.v, &d2);
    let dp1 = Nd { dims: p1.dims.clone(), v: dv };
    let da1 = pool_backward(&dp1, &a1, 2, 1, true, &switches);
    let d1 = da1.zip(&relu_grad(&z1), |a, b| a * b);
    let (_, dk, dbk) = conv_backward(&d1, &x, &k, 1, 0);

    let j = &e.json;
    assert_close("Z1", &j["forward"]["Z1"]["value"], &z1.v);
    assert_close("P1", &j["forward"]["P1"]["value"], &p1.v);
    assert_close("v", &j["forward"]["v"]["value"], &p1.v);
    assert_close("δ2", &j["deltas"]["δ2"]["value"], &d2);
    assert_close("δ1", &j["deltas"]["δ1"]["value"], &d1.v);
    assert_close("∂L/∂K", &j["gradients"]["K"]["value"], &dk.v);
    assert_close("∂L/∂bK", &j["gradients"]["bK"]["value"], &dbk);
    assert_close("∂L/∂W", &j["gradients"]["W"]["value"], &dw.v);
    // The quantities on the way to δ1, the hand work of the notebook: the
    // gradient at v, un-flattened at P1, routed through the max-pool to A1.
    let path = j["deltas"]["δ1"]["path"].as_array().expect("δ1 has its path");
    let names: Vec<&str> = path.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["∂L/∂v", "∂L/∂P1", "∂L/∂A1"]);
    assert_close("∂L/∂v", &path[0]["value"], &dp1.v);
    assert_close("∂L/∂P1", &path[1]["value"], &dp1.v);
    assert_close("∂L/∂A1", &path[2]["value"], &da1.v);
    assert_eq!(path[1]["formula"], "reshape(∂L/∂v, 2×2×2)");
    // The mask counts, at each entry of A1, the windows whose maximum it is.
    let mut mask = Nd::zeros(&a1.dims);
    for s in &switches {
        mask.add(s, 1.0);
    }
    assert_close("mask", &j["forward"]["P1"]["mask"]["value"], &mask.v);
    // conv and max-pool are rational: exact until the softmax.
    assert!(j["forward"]["Z1"].get("exact").is_some() && j["forward"]["P1"].get("exact").is_some());
    assert_eq!(j["forward"]["Z1"]["exact"][0][0][0], "4/5");
}

/// Three input channels, stride 2, padding 1.
#[test]
fn stride_and_padding_match_plain_loops() {
    let e = Example::load("cnn_stride_pad.nn");
    let (x, k, bk, w, b, y) = (e.given("X"), e.given("K"), e.vec("bK"), e.given("W"), e.vec("b"), e.vec("y"));
    let z1 = conv_forward(&x, &k, &bk, 2, 1);
    assert_eq!(z1.dims, [2, 3, 3]);
    let a1 = z1.map(|t| t.max(0.0));
    let z2 = dense(&w, &a1.v, &b);
    let yhat = softmax(&z2);
    let d2: Vec<f64> = yhat.iter().zip(&y).map(|(p, t)| p - t).collect();
    let (dv, _) = dense_backward(&w, &a1.v, &d2);
    let d1 = Nd { dims: a1.dims.clone(), v: dv }.zip(&relu_grad(&z1), |a, b| a * b);
    let (_, dk, dbk) = conv_backward(&d1, &x, &k, 2, 1);
    let j = &e.json;
    assert_close("Z1", &j["forward"]["Z1"]["value"], &z1.v);
    assert_close("δ1", &j["deltas"]["δ1"]["value"], &d1.v);
    assert_close("∂L/∂K", &j["gradients"]["K"]["value"], &dk.v);
    assert_close("∂L/∂bK", &j["gradients"]["bK"]["value"], &dbk);
}

/// Average pooling after a tanh layer, binary cross-entropy.
#[test]
fn avgpool_matches_plain_loops() {
    let e = Example::load("cnn_avgpool.nn");
    let (x, k, bk, w, b, y) = (e.given("X"), e.given("K"), e.vec("bK"), e.given("W"), e.vec("b"), e.vec("y"));
    let z1 = conv_forward(&x, &k, &bk, 1, 0);
    let h1 = z1.map(f64::tanh);
    let (p1, _) = pool_forward(&h1, 2, 2, false);
    let z2 = dense(&w, &p1.v, &b);
    let o = 1.0 / (1.0 + (-z2[0]).exp());
    // bce with one output: ∂L/∂z = o − y
    let d2 = [o - y[0]];
    let (dv, _) = dense_backward(&w, &p1.v, &d2);
    let dp1 = Nd { dims: p1.dims.clone(), v: dv };
    let dh1 = pool_backward(&dp1, &h1, 2, 2, false, &[]);
    let d1 = dh1.zip(&h1, |g, h| g * (1.0 - h * h));
    let (_, dk, dbk) = conv_backward(&d1, &x, &k, 1, 0);
    let j = &e.json;
    assert_close("P1", &j["forward"]["P1"]["value"], &p1.v);
    assert_close("δ1", &j["deltas"]["δ1"]["value"], &d1.v);
    assert_close("∂L/∂K", &j["gradients"]["K"]["value"], &dk.v);
    assert_close("∂L/∂bK", &j["gradients"]["bK"]["value"], &dbk);
}

/// Two conv layers: δ flows back through a convolution (the full convolution
/// of δ2 with K2).
#[test]
fn two_conv_layers_match_plain_loops() {
    let e = Example::load("cnn_two_conv.nn");
    let (x, k1, b1, k2, b2) = (e.given("X"), e.given("K1"), e.vec("b1"), e.given("K2"), e.vec("b2"));
    let (w, b, y) = (e.given("W"), e.vec("b"), e.vec("y"));
    let z1 = conv_forward(&x, &k1, &b1, 1, 0);
    let a1 = z1.map(|t| t.max(0.0));
    let z2 = conv_forward(&a1, &k2, &b2, 1, 0);
    let a2 = z2.map(|t| t.max(0.0));
    let z3 = dense(&w, &a2.v, &b);
    let yhat = softmax(&z3);
    let d3: Vec<f64> = yhat.iter().zip(&y).map(|(p, t)| p - t).collect();
    let (dv, _) = dense_backward(&w, &a2.v, &d3);
    let d2 = Nd { dims: a2.dims.clone(), v: dv }.zip(&relu_grad(&z2), |a, b| a * b);
    let (da1, dk2, db2) = conv_backward(&d2, &a1, &k2, 1, 0);
    let d1 = da1.zip(&relu_grad(&z1), |a, b| a * b);
    let (_, dk1, db1) = conv_backward(&d1, &x, &k1, 1, 0);
    let j = &e.json;
    assert_close("Z2", &j["forward"]["Z2"]["value"], &z2.v);
    assert_close("δ2", &j["deltas"]["δ2"]["value"], &d2.v);
    assert_close("δ1", &j["deltas"]["δ1"]["value"], &d1.v);
    assert_close("∂L/∂K2", &j["gradients"]["K2"]["value"], &dk2.v);
    assert_close("∂L/∂b2", &j["gradients"]["b2"]["value"], &db2);
    assert_close("∂L/∂K1", &j["gradients"]["K1"]["value"], &dk1.v);
    assert_close("∂L/∂b1", &j["gradients"]["b1"]["value"], &db1);
}

/// A conv layer that is not first, with stride 2 and padding 1 in both
/// layers: checks the dilated, cropped full convolution against the loops.
#[test]
fn strided_padded_input_gradient_matches_plain_loops() {
    let text = "input X[2,5,5] = [[[1, -2, 3, 0.5, -1], [0.25, 2, -1, 1.5, 0], [-3, 1, 0.5, 2, -0.5], [1, 1, -2, 0.75, 3], [0, -1, 2, 1, -2]], [[2, 0.5, -1, 1, 0], [-1, 3, 0.25, -2, 1], [0.5, -0.5, 1, 2, -3], [2, -1, 0, 1, 0.5], [1, 2, -1, -0.25, 1]]]
param K1[3,2,3,3] = [[[[0.1, -0.2, 0.3], [0.2, 0.1, -0.1], [-0.3, 0.2, 0.4]], [[0.2, 0.1, -0.2], [0.3, -0.1, 0.1], [0.1, 0.2, -0.3]]], [[[-0.1, 0.3, 0.2], [0.1, -0.2, 0.2], [0.3, 0.1, -0.1]], [[0.1, -0.3, 0.2], [-0.2, 0.1, 0.3], [0.2, -0.1, 0.1]]], [[[0.2, 0.2, -0.1], [-0.3, 0.1, 0.2], [0.1, -0.2, 0.3]], [[-0.2, 0.1, 0.1], [0.3, 0.2, -0.1], [0.1, 0.3, -0.2]]]]
param K2[2,3,3,3] = [[[[-0.5, 0.5, 0.25], [0.75, -0.75, 0.75], [-0.75, -0.5, 0.5]], [[-0.75, -0.25, -0.75], [-0.25, 0.25, 0.5], [0.75, 0.25, 0.75]], [[0.25, 0.25, 0.75], [0.5, 0.25, -0.5], [-0.25, -0.75, -0.75]]], [[[-0.5, 0.25, -0.5], [-0.25, 0.75, 0.25], [0.75, -0.25, 0.25]], [[0.5, 0.25, 0.5], [-0.25, 0.5, 0.5], [0.25, 0.5, -0.5]], [[-0.25, 0.75, -0.75], [-0.25, 0.5, 0.75], [0.75, -0.5, 0.75]]]]
Z1 = conv2d(X, K1, stride = 2, pad = 1)
A1 = sigmoid(Z1)
Z2 = conv2d(A1, K2, stride = 2, pad = 1)
loss L = 0.5 * sum(Z2^2)
";
    let model = nnderive::load(&Source::new("t.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let j: Value = serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap();
    let get = |n: &str| {
        let t = &model.tensors[n];
        Nd { dims: t.shape.dims().to_vec(), v: t.exact_value().unwrap().iter().map(ratio).collect() }
    };
    let (x, k1, k2) = (get("X"), get("K1"), get("K2"));
    let z1 = conv_forward(&x, &k1, &[0.0; 3], 2, 1);
    let a1 = z1.map(|t| 1.0 / (1.0 + (-t).exp()));
    let z2 = conv_forward(&a1, &k2, &[0.0; 2], 2, 1);
    assert_eq!(z2.dims, [2, 2, 2]);
    let (da1, dk2, _) = conv_backward(&z2, &a1, &k2, 2, 1);
    let d1 = da1.zip(&a1, |g, a| g * a * (1.0 - a));
    let (_, dk1, _) = conv_backward(&d1, &x, &k1, 2, 1);
    assert_close("Z2", &j["forward"]["Z2"]["value"], &z2.v);
    assert_close("∂L/∂K2", &j["gradients"]["K2"]["value"], &dk2.v);
    assert_close("∂L/∂K1", &j["gradients"]["K1"]["value"], &dk1.v);
    let check = nnderive::gradcheck(&model).unwrap();
    assert!(check.worst() < 1e-6, "{check:?}");
    let derivation = render::text::derivation(&model, &nnderive::derive::derive(&model));
    assert!(derivation.contains("  δ1 = crop₁(dilate₂(δ2) ∗ K2) ⊙ A1 ⊙ (1 − A1)\n"), "{derivation}");
    assert!(derivation.contains("∂L/∂K1 = pad₁(X) ⋆ dilate₂(δ1)"), "{derivation}");
}

/// The backward rules print as the textbook writes them.
#[test]
fn rules_print_in_textbook_form() {
    let derive = |name: &str| {
        let model = nnderive::load(&common::source(&common::example(name))).unwrap();
        render::text::derivation(&model, &nnderive::derive::derive(&model))
    };
    let cnn = derive("cnn.nn");
    for expected in [
        "  Z1 = conv2d(X, K) + bK\n",
        "  P1 = maxpool(A1, 2, stride = 1)\n",
        "  δ1 = maxpool_back(A1, reshape(Wᵀ δ2, 2×2×2)) ⊙ step(Z1)\n",
        "  ∂L/∂K  = X ⋆ δ1   [d-conv2d-kernel at Z1]\n",
        "  ∂L/∂bK = Σᵢⱼ δ1   [d-add at Z1]\n",
        "on a tie, to the first maximum in row-major order",
    ] {
        assert!(cnn.contains(expected), "missing {expected:?} in\n{cnn}");
    }
    let two = derive("cnn_two_conv.nn");
    assert!(two.contains("  δ1 = (δ2 ∗ K2) ⊙ step(Z1)\n"), "{two}");
    assert!(
        two.contains(
            "a full convolution (equivalently δ[f] zero-padded by k − 1 and cross-correlated with rot180(K[f,c]))"
        ),
        "{two}"
    );
    let strided = derive("cnn_stride_pad.nn");
    assert!(strided.contains("  ∂L/∂K  = pad₁(X) ⋆ dilate₂(δ1)"), "{strided}");
    let avg = derive("cnn_avgpool.nn");
    assert!(avg.contains("avgpool_back(reshape(Wᵀ δ2, 2×2×2)) ⊙ (1 − H1²)"), "{avg}");
    assert!(avg.contains("index form: ∂L/∂A[c, s·i+u, s·j+v] = Σ δ[c,i,j] / k²"), "{avg}");
}

/// Max-pool ties go to the first maximum in row-major order, and the mask shows it.
#[test]
fn maxpool_ties_go_to_the_first_maximum() {
    let text = "input X[1,2,2] = [[[1, 3], [3, 2]]]\nparam s = 2\nP = maxpool(s * X, 2)\nloss L = sum(P)\n";
    let model = nnderive::load(&Source::new("t.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let j: Value = serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap();
    assert_eq!(j["forward"]["P"]["mask"]["value"], serde_json::json!([[[0.0, 1.0], [0.0, 0.0]]]));
    // ∂L/∂s = Σ (mask ⊙ X) = 3, exactly.
    assert_eq!(j["gradients"]["s"]["exact"], "3");
    let text = render::text::solution(&model, &solution, None);
    assert!(text.contains("mask(s X)[1] = ⎡ 0  1 ⎤"), "{text}");
}

/// A vector [F] added to a map [F, H, W] adds entry f to channel f, and the
/// gradient of a plain sum reaches the conv layer as a map of ones.
#[test]
fn channel_bias_broadcast_and_sum_loss() {
    let text = "input X[1,3,3] = [[[1, 2, 0], [0, 1, -1], [2, 0, 1]]]\nparam K[2,1,2,2] = [[[[1, 0], [0, 1]]], [[[0.5, 0.5], [-1, 0]]]]\nparam b[2] = [1, -2]\nZ = conv2d(X, K) + b\nloss L = sum(Z)\n";
    let model = nnderive::load(&Source::new("t.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let j: Value = serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap();
    let (x, k) = (
        Nd { dims: vec![1, 3, 3], v: vec![1.0, 2.0, 0.0, 0.0, 1.0, -1.0, 2.0, 0.0, 1.0] },
        Nd { dims: vec![2, 1, 2, 2], v: vec![1.0, 0.0, 0.0, 1.0, 0.5, 0.5, -1.0, 0.0] },
    );
    let z = conv_forward(&x, &k, &[1.0, -2.0], 1, 0);
    let (_, dk, db) = conv_backward(&z.map(|_| 1.0), &x, &k, 1, 0);
    assert_close("Z", &j["forward"]["Z"]["value"], &z.v);
    assert_close("∂L/∂K", &j["gradients"]["K"]["value"], &dk.v);
    assert_eq!(db, [4.0, 4.0]);
    assert_close("∂L/∂b", &j["gradients"]["b"]["value"], &db);
    assert!(nnderive::gradcheck(&model).unwrap().worst() < 1e-6);
}

/// The CIFAR-sized network of `cargo bench` checks with the shapes
/// docs/performance.md gives.
#[test]
fn cifar_sized_network_has_the_stated_shapes() {
    let model = nnderive::load(&Source::new("cifar.nn", common::cifar_network(11))).unwrap();
    let shape = |n: &str| model.tensors[n].shape.dims().to_vec();
    assert_eq!(shape("Z1"), [16, 32, 32]);
    assert_eq!(shape("P1"), [16, 16, 16]);
    assert_eq!(shape("v"), [4096]);
    assert_eq!(shape("Z2"), [10]);
}

/// `derive` needs no numbers: the conv example with every value left out
/// derives the same formulas.
#[test]
fn conv_derivation_needs_no_numbers() {
    let text = std::fs::read_to_string(common::example("cnn.nn")).unwrap();
    // Drop each declaration's `= [...]`, which may span lines.
    let mut symbolic = String::new();
    let mut depth = 0i32;
    for line in text.lines() {
        let brackets = |t: &str| t.matches('[').count() as i32 - t.matches(']').count() as i32;
        if depth > 0 {
            depth += brackets(line);
            continue;
        }
        match line.split_once('=') {
            Some((decl, value)) if ["input", "param", "target"].iter().any(|r| line.starts_with(r)) => {
                symbolic.push_str(decl.trim_end());
                depth = brackets(value);
            }
            _ => symbolic.push_str(line),
        }
        symbolic.push('\n');
    }
    let model = nnderive::load(&Source::new("symbolic_cnn.nn", symbolic.clone())).unwrap();
    assert!(model.tensors.values().all(|t| t.value.is_none()), "{symbolic}");
    let text = render::text::derivation(&model, &nnderive::derive::derive(&model));
    assert!(text.contains("  δ1 = maxpool_back(A1, reshape(Wᵀ δ2, 2×2×2)) ⊙ step(Z1)\n"), "{text}");
    assert!(text.contains("  ∂L/∂K  = X ⋆ δ1   [d-conv2d-kernel at Z1]\n"), "{text}");
}

/// A random small conv network as `.nn` text, and whether a max-pool window
/// of it has a tie (where the derivative is a convention, not a limit).
fn random_conv_network(seed: u64, shape: [usize; 6], pool: usize, act: &str) -> Option<(String, bool)> {
    let [c, h, f, k, pad, stride] = shape;
    if k > h + 2 * pad || pad >= k || (h + 2 * pad - k) % stride != 0 {
        return None;
    }
    let out = (h + 2 * pad - k) / stride + 1;
    let mut rng = common::Lcg(seed);
    let mut text = format!("input X[{c},{h},{h}] = {}\n", common::random_literal(&mut rng, &[c, h, h]));
    text.push_str(&format!("param K[{f},{c},{k},{k}] = {}\n", common::random_literal(&mut rng, &[f, c, k, k])));
    text.push_str(&format!("param bK[{f}] = {}\n", common::random_literal(&mut rng, &[f])));
    text.push_str(&format!("Z1 = conv2d(X, K, stride = {stride}, pad = {pad}) + bK\nA1 = {act}(Z1)\n"));
    let (pooled, side) = match pool {
        1 if out >= 2 => ("maxpool(A1, 2, stride = 1)", out - 1),
        2 if out >= 2 && out % 2 == 0 => ("avgpool(A1, 2)", out / 2),
        _ => ("A1", out),
    };
    let n = f * side * side;
    text.push_str(&format!("P1 = {pooled}\nv = flatten(P1)\n"));
    text.push_str(&format!("param W[2,{n}] = {}\n", common::random_literal(&mut rng, &[2, n])));
    text.push_str("target y[2] = [1, 0]\nyhat = softmax(W @ v)\nloss L = cross_entropy(y, yhat)\n");
    // Ties, from the plain-loop forward pass.
    let model = nnderive::load(&Source::new("r.nn", text.clone())).ok()?;
    let get = |name: &str| {
        let t = &model.tensors[name];
        Nd { dims: t.shape.dims().to_vec(), v: t.exact_value().unwrap().iter().map(ratio).collect() }
    };
    let z1 = conv_forward(&get("X"), &get("K"), &get("bK").v, stride, pad);
    let a1 = match act {
        "relu" => z1.map(|t| t.max(0.0)),
        "tanh" => z1.map(f64::tanh),
        _ => z1.map(|t| 1.0 / (1.0 + (-t).exp())),
    };
    let mut tie = false;
    if pooled.starts_with("maxpool") {
        let (p1, _) = pool_forward(&a1, 2, 1, true);
        for ci in 0..f {
            for i in 0..side {
                for j in 0..side {
                    let best = p1.at(&[ci, i, j]);
                    let hits = (0..2).flat_map(|u| (0..2).map(move |v| (u, v)));
                    let count = hits.filter(|&(u, v)| (a1.at(&[ci, i + u, j + v]) - best).abs() < 1e-9).count();
                    tie |= count > 1 && best > 0.0;
                }
            }
        }
    }
    Some((text, tie))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 24,
        rng_seed: common::proptest_seed(),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Random conv layers (channels, sizes, kernels, padding, stride, pools,
    /// activations) pass gradcheck away from kinks and max-pool ties.
    #[test]
    fn random_conv_networks_pass_gradcheck(
        seed in proptest::prelude::any::<u64>(),
        c in 1usize..=2, h in 2usize..=6, f in 1usize..=2, k in 1usize..=3,
        pad in 0usize..=1, stride in 1usize..=2, pool in 0usize..=2, act in 0usize..=2,
    ) {
        let act = ["relu", "tanh", "sigmoid"][act];
        let Some((text, tie)) = random_conv_network(seed, [c, h, f, k, pad, stride], pool, act) else {
            return Ok(());
        };
        proptest::prop_assume!(!tie);
        let model = nnderive::load(&Source::new("r.nn", text.clone())).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        proptest::prop_assume!(!solution.notes.iter().any(|n| matches!(n, nnderive::eval::evaluate::Note::Kink { .. })));
        let check = nnderive::gradcheck(&model).unwrap();
        proptest::prop_assert!(check.worst() < 1e-5, "{text}\n{check:?}");
    }
}
