//! Slices `a[:, 0:5]` and embedding lookups `W[x]`: CS231n's LSTM step and
//! word embedding, written as the notebooks write them, agree with the
//! notebooks' published numbers to every printed digit; their gradients
//! agree with central differences and with a NumPy reference (the
//! notebooks' own backward passes, written out here); slices on every axis
//! agree with values worked out by hand; and every writer states the rules.

mod common;

use std::process::Command;

use nnderive::eval::Solution;
use nnderive::model::Model;
use nnderive::Source;

fn load(name: &str, text: &str) -> Model {
    nnderive::load(&Source::new(name, text)).unwrap_or_else(|e| panic!("{name}: {e:?}\n{text}"))
}

fn example(name: &str) -> (Model, Solution) {
    let path = common::example(name);
    let model = nnderive::load(&common::source(&path)).expect("the example checks");
    let solution = nnderive::solve(&model).expect("the example solves");
    (model, solution)
}

fn value(model: &Model, solution: &Solution, name: &str) -> Vec<f64> {
    solution.value(model.tensor_id(name).unwrap_or_else(|| panic!("no tensor {name}"))).to_f64_vec()
}

fn gradient(model: &Model, solution: &Solution, name: &str) -> Vec<f64> {
    let i = model.params().position(|id| model.tensor(id).name == name).unwrap_or_else(|| panic!("no param {name}"));
    solution.gradients[i].to_f64_vec()
}

/// Agrees with a number printed to 8 decimals: within half a unit of the last digit.
fn printed(got: &[f64], published: &[f64], what: &str) {
    assert_eq!(got.len(), published.len(), "{what}");
    for (i, (g, p)) in got.iter().zip(published).enumerate() {
        assert!((g - p).abs() <= 0.5e-8 + 1e-15, "{what}[{i}]: {g} vs the published {p}");
    }
}

fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}[{i}]: {g} vs {w}");
    }
}

/// Runs `script` and reads the numbers it prints, one a line.
fn numpy(python: &str, script: &str) -> Vec<f64> {
    let out = Command::new(python).args(["-c", script]).output().expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(|t| t.parse().unwrap()).collect()
}

/// LSTM_Captioning.ipynb, "LSTM: step forward": next_h and next_c.
#[test]
fn lstm_step_matches_the_notebook() {
    let (model, solution) = example("lstm_step_slices.nn");
    #[rustfmt::skip]
    let next_h = [
        0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904,
        0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181,
        0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299,
    ];
    #[rustfmt::skip]
    let next_c = [
        0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407,
        0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345,
        0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676,
    ];
    printed(&value(&model, &solution, "next_h"), &next_h, "next_h");
    printed(&value(&model, &solution, "next_c"), &next_c, "next_c");
}

/// The LSTM step's gradients: central differences, and the notebook's
/// backward pass in NumPy (the gates' gradients stacked side by side).
#[test]
fn lstm_step_gradients_agree_with_central_differences_and_numpy() {
    let path = common::example("lstm_step_slices.nn");
    let model = nnderive::load(&common::source(&path)).unwrap();
    let check = nnderive::eval::gradcheck(&model).unwrap();
    assert!(check.worst() < 1e-6, "worst relative error {}", check.worst());

    let Some(python) = common::numpy_python() else { return };
    let solution = nnderive::solve(&model).unwrap();
    let literal = |name: &str| {
        let t = model.tensor(model.tensor_id(name).unwrap());
        let v: Vec<String> = t.exact_value().unwrap().iter().map(nnderive::eval::number::full_precision).collect();
        format!("np.array([{}], dtype=float).reshape({:?})", v.join(", "), t.shape.dims())
    };
    let script = format!(
        "import numpy as np
x = {x}; prev_h = {ph}; prev_c = {pc}; Wx = {wx}; Wh = {wh}; b = {b}
dnext_h = {dh}; dnext_c = {dc}
H = 5
sig = lambda t: 1 / (1 + np.exp(-t))
a = x @ Wx + prev_h @ Wh + b
i, f, o, g = sig(a[:, :H]), sig(a[:, H:2*H]), sig(a[:, 2*H:3*H]), np.tanh(a[:, 3*H:])
next_c = f * prev_c + i * g
next_h = o * np.tanh(next_c)
dc = dnext_c + dnext_h * o * (1 - np.tanh(next_c) ** 2)
da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * np.tanh(next_c) * o * (1 - o), dc * i * (1 - g ** 2)])
for v in [x.T @ da, prev_h.T @ da, da.sum(axis=0)]:
    print(' '.join(repr(float(t)) for t in v.ravel()))
",
        x = literal("x"),
        ph = literal("prev_h"),
        pc = literal("prev_c"),
        wx = literal("Wx"),
        wh = literal("Wh"),
        b = literal("b"),
        dh = literal("dnext_h"),
        dc = literal("dnext_c"),
    );
    let reference = numpy(&python, &script);
    let (dwx, rest) = reference.split_at(80);
    let (dwh, db) = rest.split_at(100);
    close(&gradient(&model, &solution, "Wx"), dwx, 1e-12, "∂L/∂Wx");
    close(&gradient(&model, &solution, "Wh"), dwh, 1e-12, "∂L/∂Wh");
    close(&gradient(&model, &solution, "b"), db, 1e-12, "∂L/∂b");
}

/// RNN_Captioning.ipynb, "Word embedding: forward": out = W[x].
#[test]
fn word_embedding_matches_the_notebook() {
    let (model, solution) = example("embedding.nn");
    #[rustfmt::skip]
    let expected = [
        0.0, 0.07142857, 0.14285714,  0.64285714, 0.71428571, 0.78571429,
        0.21428571, 0.28571429, 0.35714286,  0.42857143, 0.5, 0.57142857,
        0.42857143, 0.5, 0.57142857,  0.21428571, 0.28571429, 0.35714286,
        0.0, 0.07142857, 0.14285714,  0.64285714, 0.71428571, 0.78571429,
    ];
    let out = model.tensor(model.tensor_id("out").unwrap());
    assert_eq!(out.shape.dims(), [2, 4, 3]);
    printed(&value(&model, &solution, "out"), &expected, "out");
}

/// ∂L/∂W of a lookup adds each position's gradient into the row it picked
/// (np.add.at), and agrees with central differences.
#[test]
fn word_embedding_gradient_accumulates_rows() {
    let (model, solution) = example("embedding.nn");
    // ∂L/∂out = dout ⊙ (1 − tanh(out)²) at each position, added into the
    // row that position picked: row 0 at x[0,0] and x[1,2], row 4 never.
    let dout = value(&model, &solution, "dout");
    let out = value(&model, &solution, "out");
    let ids = value(&model, &solution, "x");
    let mut want = vec![0.0; 15];
    for (p, &k) in ids.iter().enumerate() {
        for j in 0..3 {
            want[k as usize * 3 + j] += dout[p * 3 + j] * (1.0 - out[p * 3 + j].tanh().powi(2));
        }
    }
    close(&gradient(&model, &solution, "W"), &want, 1e-14, "∂L/∂W");
    assert_eq!(&want[12..], [0.0, 0.0, 0.0]);
    let check = nnderive::eval::gradcheck(&model).unwrap();
    assert!(check.worst() < 1e-6, "worst relative error {}", check.worst());

    let Some(python) = common::numpy_python() else { return };
    let w = value(&model, &solution, "W");
    let reference = numpy(
        &python,
        &format!(
            "import numpy as np
x = np.array({ids:?}).astype(int).reshape(2, 4); dout = np.array({dout:?}).reshape(2, 4, 3)
W = np.array({w:?}).reshape(5, 3)
dW = np.zeros((5, 3)); np.add.at(dW, x, dout * (1 - np.tanh(W[x]) ** 2))
print(' '.join(repr(float(t)) for t in dW.ravel()))"
        ),
    );
    close(&gradient(&model, &solution, "W"), &reference, 1e-14, "∂L/∂W against np.add.at");
}

/// Slices on any axis, with bounds left out, negative, or named by a
/// constant: the kept entries worked out by hand, the gradient zero
/// outside the slice, and both against central differences.
#[test]
fn slices_on_every_axis() {
    let text = "const K = 2
input x[4,3] = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]
param w[3] = [1, -1, 2]
param T[2,3,4] = [[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], [[13, 14, 15, 16], [17, 18, 19, 20], [21, 22, 23, 24]]]
r = x[1:3, :]
s = x[2:]
c = x[:, :K]
v = w[-2:]
u = T[1:, 1:3, 3:]
loss L = sum(r @ w) + sum(s * s) + sum(c) + sum(v * v) + sum(u * u)
";
    let model = load("slices.nn", text);
    let solution = nnderive::solve(&model).unwrap();
    let shape = |n: &str| model.tensor(model.tensor_id(n).unwrap()).shape.dims().to_vec();
    assert_eq!(shape("r"), [2, 3]);
    assert_eq!(shape("s"), [2, 3]);
    assert_eq!(shape("c"), [4, 2]);
    assert_eq!(shape("v"), [2]);
    assert_eq!(shape("u"), [1, 2, 1]);
    assert_eq!(value(&model, &solution, "r"), [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    assert_eq!(value(&model, &solution, "s"), [7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
    assert_eq!(value(&model, &solution, "c"), [1.0, 2.0, 4.0, 5.0, 7.0, 8.0, 10.0, 11.0]);
    assert_eq!(value(&model, &solution, "v"), [-1.0, 2.0]);
    assert_eq!(value(&model, &solution, "u"), [20.0, 24.0]);
    // ∂L/∂w = Σ rows of r (from r @ w) + 2w on the last two entries.
    assert_eq!(gradient(&model, &solution, "w"), [11.0, 13.0 - 2.0, 15.0 + 4.0]);
    // ∂L/∂T = 2u where u was taken, zeros elsewhere.
    let mut dt = vec![0.0; 24];
    dt[12 + 4 + 3] = 40.0;
    dt[12 + 8 + 3] = 48.0;
    assert_eq!(gradient(&model, &solution, "T"), dt);
    let check = nnderive::eval::gradcheck(&model).unwrap();
    assert!(check.worst() < 1e-6, "worst relative error {}", check.worst());
}

/// `x[t]`, `h[t-1]` and `x[0]` are still steps of a sequence, and a
/// subscript with a `:` or a `,` a slice, in the same file.
#[test]
fn time_steps_and_slices_side_by_side() {
    let text = "steps t = 1..2
input x[t][2] = [[1, 2], [3, 4]]
const h[0][2] = [0, 0]
param W[2,4] = [[1, 0, 1, 0], [0, 1, 0, 1]]
param U[2,2] = [[1, 0], [0, 1]]
h[t] = tanh(U @ h[t-1] + W[:, 0:2] @ x[t])
loss L = sum(sum(h[t]) for t)
";
    let model = load("steps_and_slices.nn", text);
    let check = nnderive::eval::gradcheck(&model).unwrap();
    assert!(check.worst() < 1e-6, "worst relative error {}", check.worst());
    let solution = nnderive::solve(&model).unwrap();
    // ∂L/∂W is zero in the columns the slice leaves out.
    let dw = gradient(&model, &solution, "W");
    assert_eq!([dw[2], dw[3], dw[6], dw[7]], [0.0; 4]);
    assert!(dw[0] != 0.0);
}

/// The derivation states the rules in text, LaTeX, Markdown and JSON; the
/// `.nn` writer refuses with the reason, as it does for a layer's adjoint.
#[test]
fn every_writer_states_the_rules() {
    for (name, operation, text_rule, latex_rule) in [
        ("lstm_step_slices.nn", "unslice", "unslice(G, r)", "\\operatorname{unslice}"),
        (
            "embedding.nn",
            "scatter_add",
            "Σ ∂L/∂O[p] over the positions p with x[p] = k",
            "\\operatorname{scatter\\_add}",
        ),
    ] {
        let (model, solution) = example(name);
        let derivation = nnderive::derive::derive(&model);
        let text = nnderive::render::text::derivation(&model, &derivation);
        assert!(text.contains(text_rule), "{name}: text\n{text}");
        let nn = nnderive::render::nn::derivation(&model, &derivation).unwrap_err().message();
        assert!(nn.contains(operation), "{name}: {nn}");
        let run = |format: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_nnderive"))
                .args(["solve", common::example(name).to_str().unwrap(), "--format", format])
                .output()
                .unwrap();
            assert!(out.status.success(), "{name} {format}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        assert!(run("latex").contains(latex_rule), "{name}: LaTeX");
        assert!(run("markdown").contains(latex_rule), "{name}: Markdown");
        let json = run("json");
        assert!(json.contains(operation), "{name}: JSON");
        let _ = solution;
    }
}
