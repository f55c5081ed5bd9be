//! Operations added the way "Adding an operation" in docs/design.md says:
//! `softsign(t) = t / (1 + |t|)`, checked against values worked out by
//! hand and against finite differences.

mod common;

use nnderive::render;
use nnderive::Source;

fn solve(text: &str) -> (nnderive::model::Model, nnderive::eval::Solution) {
    let model = nnderive::load(&Source::new("softsign.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    (model, solution)
}

#[test]
fn softsign_is_exact_and_its_derivative_is_the_textbook_one() {
    // z = w x with w = 1/2, x = [1, -2]: softsign(z) = [1/3, -1/2],
    // softsign′(z) = 1/(1 + |z|)² = [4/9, 1/4], exactly.
    let (model, s) = solve(
        "input x[2] = [1, -2]\ntarget y[2] = [0, 0]\nparam w = 0.5\n\
         z = w * x\nh = softsign(z)\nloss L = sum(h)\n",
    );
    let h = s.value(model.tensor_id("h").unwrap());
    assert_eq!((0..2).map(|i| h.exact_string(i).unwrap()).collect::<Vec<_>>(), ["1/3", "-1/2"]);
    // ∂L/∂w = Σ softsign′(z) ⊙ x = 4/9 · 1 + 1/4 · (−2) = −1/18.
    assert_eq!(s.gradients[0].exact_string(0).as_deref(), Some("-1/18"));
    let text = render::text::derivation(&model, &s.derivation);
    assert!(text.contains("∂L/∂z = ∂L/∂h ⊘ (1 + abs(z))²   [d-softsign at h; reciprocal]"), "{text}");
    let latex = render::latex::document(&model, &s, Some(4));
    assert!(latex.contains("\\operatorname{softsign}"));
}

#[test]
fn softsign_gradients_match_finite_differences() {
    let model = nnderive::load(&Source::new(
        "net.nn",
        "input x[3] = [0.5, -1.5, 2]\ntarget y[2] = [0, 1]\nparam W[2,3] = [[0.2, -0.4, 0.1], [-0.3, 0.6, 0.5]]\n\
         param b[2] = [0.1, -0.2]\nZ = W @ x + b\nH = softsign(Z)\nloss L = mse(y, H)\n",
    ))
    .unwrap();
    let check = nnderive::gradcheck(&model).unwrap();
    assert!(check.worst() < 1e-7, "worst relative error {}", check.worst());
}

// `silu(t) = t σ(t)`, added as docs/design.md's "Adding an operation" says:
// one file (src/model/ops/elementwise/silu.rs) and its line in the table.

/// σ(t) and silu′(t) = σ(t) (1 + t (1 − σ(t))), written out here from the
/// textbook definition, apart from nnderive's kernels and its derivative.
fn sigma(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

fn silu_slope(t: f64) -> f64 {
    sigma(t) * (1.0 + t * (1.0 - sigma(t)))
}

fn gradient(model: &nnderive::model::Model, s: &nnderive::eval::Solution, name: &str) -> Vec<f64> {
    let i = s.derivation.gradients.iter().position(|g| model.tensor(g.param).name == name).expect("a gradient");
    s.gradients[i].to_f64_vec()
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-12 * want.abs().max(1.0)
}

#[test]
fn silu_values_and_derivative_are_the_textbook_ones() {
    // z = w x with w = 1, x = [0, 1, −2]: silu(z) = z σ(z) = [0, σ(1), −2σ(−2)],
    // and ∂L/∂w = Σ silu′(z) ⊙ x = silu′(1) − 2 silu′(−2).
    let (model, s) = solve(
        "input x[3] = [0, 1, -2]\ntarget y[3] = [0, 0, 0]\nparam w = 1\n\
         z = w * x\nh = silu(z)\nloss L = sum(h)\n",
    );
    let h = s.value(model.tensor_id("h").unwrap()).to_f64_vec();
    // σ(1) = 1/(1 + e⁻¹) = 0.7310585786300049…, −2σ(−2) = −2/(1 + e²) = −0.2384058440442351…
    let want = [0.0, 0.731_058_578_630_004_9, -0.238_405_844_044_235_1];
    for (got, want) in h.iter().zip(want) {
        assert!(close(*got, want), "silu: {got}, by hand {want}");
    }
    let dw = gradient(&model, &s, "w")[0];
    let by_hand = silu_slope(1.0) - 2.0 * silu_slope(-2.0);
    assert!(close(dw, by_hand) && (dw - 1.109_239).abs() < 1e-6, "∂L/∂w = {dw}, by hand {by_hand}");
    let text = render::text::derivation(&model, &s.derivation);
    assert!(text.contains("∂L/∂z = (∂L/∂h) ⊙ (σ(z) + h ⊙ (1 − σ(z)))   [d-silu at h]"), "{text}");
    assert!(text.contains("d-silu: silu′(t) = σ(t) + silu(t) (1 − σ(t))"), "{text}");
    let latex = render::latex::document(&model, &s, Some(4));
    assert!(latex.contains("\\operatorname{silu}"));
}

#[test]
fn silu_gradients_match_finite_differences() {
    let model = nnderive::load(&Source::new(
        "net.nn",
        "input x[3] = [0.5, -1.5, 2]\ntarget y[2] = [0, 1]\nparam W[2,3] = [[0.2, -0.4, 0.1], [-0.3, 0.6, 0.5]]\n\
         param b[2] = [0.1, -0.2]\nZ = W @ x + b\nH = silu(Z)\nloss L = mse(y, H)\n",
    ))
    .unwrap();
    let check = nnderive::gradcheck(&model).unwrap();
    assert!(check.worst() < 1e-7, "worst relative error {}", check.worst());
}

/// NumPy computes the forward pass and, by hand-written backpropagation,
/// the gradients of mse(y, silu(W x + b)); nnderive's must agree.
#[test]
fn silu_agrees_with_numpy() {
    let text = "input x[3] = [0.5, -1.5, 2]\ntarget y[2] = [0, 1]\n\
                param W[2,3] = [[0.2, -0.4, 0.1], [-0.3, 0.6, 0.5]]\nparam b[2] = [0.1, -0.2]\n\
                Z = W @ x + b\nH = silu(Z)\nloss L = mse(y, H)\n";
    let (model, s) = solve(text);
    let Some(python) = common::numpy_python() else { return };
    let script = r#"
import json
import numpy as np
x = np.array([0.5, -1.5, 2.0]); y = np.array([0.0, 1.0])
W = np.array([[0.2, -0.4, 0.1], [-0.3, 0.6, 0.5]]); b = np.array([0.1, -0.2])
z = W @ x + b
s = 1 / (1 + np.exp(-z))
h = z * s
dh = 2 * (h - y) / h.size
dz = dh * (s + z * s * (1 - s))
print(json.dumps({"H": h.tolist(), "W": np.outer(dz, x).ravel().tolist(), "b": dz.tolist()}))
"#;
    let out = std::process::Command::new(python).args(["-c", script]).output().expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let numpy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = [
        ("H", s.value(model.tensor_id("H").unwrap()).to_f64_vec()),
        ("W", gradient(&model, &s, "W")),
        ("b", gradient(&model, &s, "b")),
    ];
    for (name, got) in ours {
        let want = common::flat(&numpy[name]);
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(&want) {
            assert!(close(*g, *w), "{name}: nnderive {g}, NumPy {w}");
        }
    }
}

/// The lists that read the table name silu: a misspelling is offered it, and
/// the help for an unknown function lists it among the built-ins.
#[test]
fn silu_is_in_every_list_of_built_ins() {
    assert!(nnderive::model::Builtin::names().any(|n| n == "silu"));
    let error = |text: &str| {
        let source = Source::new("f.nn", text);
        nnderive::load(&source).unwrap_err().rendered(&source)
    };
    let typo = error("param x = 1\nloss L = siluu(x)\n");
    assert!(typo.contains("did you mean 'silu'?"), "{typo}");
    let unknown = error("param x = 1\nloss L = squash(x)\n");
    assert!(unknown.contains("softsign, silu"), "{unknown}");
}
