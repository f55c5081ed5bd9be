//! Pre-activations the file leaves unnamed are named once in the forward
//! pass (`zh_t = Wxh x_t + Whh h_{t−1} + bh`, `h_t = tanh(zh_t)`), as a
//! textbook names them, and every error term is then a gradient with
//! respect to a name. Checked here: no writer prints a gradient with
//! respect to a written-out expression, the forward pass says once what
//! nnderive named, a file that names its pre-activations is left as it
//! is, a generated name never clashes with the file's names, the values
//! are those of an independent computation, and a student's answers (the
//! grader) never need a generated name.

mod common;

use nnderive::grade::answers::{self, Format};
use nnderive::grade::{grade, Options};
use nnderive::model::Model;
use nnderive::render::quantities::Quantities;
use nnderive::Source;
use serde_json::{json, Value};

fn load(name: &str, text: &str) -> Model {
    nnderive::load(&Source::new(name, text)).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn example(name: &str) -> Model {
    nnderive::load(&common::source(&common::example(name))).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn derivation_text(model: &Model) -> String {
    nnderive::render::text::derivation(model, &nnderive::derive::derive(model))
}

fn generated(model: &Model) -> Vec<String> {
    model.introduced.iter().map(|i| model.tensor(i.tensor).name.clone()).collect()
}

/// The examples whose derivation wrote an expression in a denominator.
const UNNAMED: [&str; 7] =
    ["rnn", "rnn_many_to_one", "lstm", "gru", "tied_autoencoder", "attention", "attention_causal"];

#[test]
fn no_writer_takes_a_gradient_with_respect_to_an_expression() {
    for name in UNNAMED {
        let model = example(&format!("{name}.nn"));
        assert!(!model.introduced.is_empty(), "{name}: something is named");
        let solution = nnderive::solve(&model).unwrap();
        let text = derivation_text(&model);
        let solved = nnderive::render::text::solution(&model, &solution, Some(4));
        for (what, out) in [("derive", &text), ("solve", &solved)] {
            assert!(!out.contains("∂L/∂("), "{name} {what}:\n{out}");
            // Said once, under the forward pass.
            assert_eq!(out.matches("nnderive names the pre-activation").count(), 1, "{name} {what}:\n{out}");
        }
        let latex = nnderive::render::latex::document(&model, &solution, Some(4));
        let markdown = nnderive::render::markdown::document(&model, &solution, Some(4));
        for (what, out) in [("latex", &latex), ("markdown", &markdown)] {
            assert!(!out.contains("\\partial L}{\\partial \\left("), "{name} {what}");
            assert_eq!(out.matches("named by nnderive (the file leaves").count(), 1, "{name} {what}");
        }
        let json: Value = serde_json::from_str(&nnderive::render::json::solution(&model, &solution, Some(4))).unwrap();
        let introduced = json["introduced"].as_array().expect("the JSON lists what nnderive named");
        assert!(!introduced.is_empty(), "{name}");
        for entry in introduced {
            let named = entry["name"].as_str().unwrap();
            assert!(named.starts_with('z'), "{name}: {entry}");
            // Its values are in the forward pass, by its name, step by step.
            let first = named.replace("[t]", &format!("[{}]", model.time.as_ref().map_or(0, |t| t.first)));
            assert!(json["forward"].get(&first).is_some(), "{name}: {first} has values");
        }
    }
}

#[test]
fn the_grus_forward_pass_names_each_gate_once_and_the_error_terms_use_the_names() {
    let text = derivation_text(&example("gru.nn"));
    for line in [
        "zn_t = Wn x_t + Un (r_t ⊙ h_{t−1}) + bn",
        "n_t  = tanh(zn_t)",
        "zL   = Wy h_T + by",
        "L    = mse(y, zL)",
        "(nnderive names the pre-activations zz_t, zr_t, zn_t and zL, which the file leaves unnamed)",
        "δn_t = ∂L/∂zn_t",
        "δ1 = ∂L/∂zL",
        "∂L/∂Wn = Σ_t δn_t x_tᵀ",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

/// Every example that names each layer's pre-activation (Z1, Z2, …) or
/// has none keeps its derivation as it was: nothing is named for it.
#[test]
fn files_that_name_their_pre_activations_are_left_alone() {
    for entry in std::fs::read_dir(common::example("")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if UNNAMED.contains(&stem.as_str()) {
            continue;
        }
        let model = nnderive::load(&common::source(&path)).unwrap();
        assert_eq!(generated(&model), Vec::<String>::new(), "{stem}");
    }
    // The dense network of the assignment: Z1 and Z2 stay the error terms' names.
    let text = derivation_text(&example("assignment4.nn"));
    assert!(text.contains("δ2 = ∂L/∂Z2") && text.contains("δ1 = ∂L/∂Z1"), "{text}");
    assert!(!text.contains("nnderive names"), "{text}");
}

#[test]
fn a_generated_name_never_clashes_with_the_files_names() {
    // `zh` is a parameter and `zh2` an equation, `zo` a function: the
    // pre-activations of h and o are numbered past them.
    let model = load(
        "taken.nn",
        "input x[2] = [1, -1]\ntarget y[2] = [0.5, 0]\nparam W[2,2] = [[0.1, 0.2], [0.3, -0.4]]\n\
         param zh[2] = [0.1, 0.2]\nfn zo(t) = 2 * t\n\
         h = tanh(W @ x + zh)\nzh2 = 2 * h\no = sigmoid(W @ zh2)\nloss L = mse(y, zo(o))\n",
    );
    assert_eq!(generated(&model), ["zh3", "zo2"]);
    // A sequence keeps one name at every step, past a name a step of it would print like.
    let model = load(
        "steps.nn",
        "steps t = 1..2\ninput x[t][1] = [[1], [2]]\ntarget y[1] = [1]\nconst h[0][1] = [0]\n\
         param W[1,1] = [[0.5]]\nparam U[1,1] = [[0.25]]\nparam zh_1[1] = [0]\n\
         h[t] = tanh(W @ x[t] + U @ h[t-1] + zh_1)\nloss L = mse(y, h[2])\n",
    );
    assert_eq!(generated(&model), ["zh2[1]", "zh2[2]"]);
    let text = derivation_text(&model);
    assert!(text.contains("zh2_t = W x_t + U h_{t−1} + zh_1"), "{text}");
    assert!(text.contains("δh_t = ∂L/∂zh2_t"), "{text}");
}

#[test]
fn two_pre_activations_of_one_equation_get_two_names() {
    let model = load(
        "two.nn",
        "input x[2] = [1, -1]\ntarget y[2] = [0.5, 0]\nparam A[2,2] = [[0.1, 0.2], [0.3, -0.4]]\n\
         param B[2,2] = [[0.5, -0.1], [0.2, 0.3]]\n\
         h = tanh(A @ x) * sigmoid(B @ x)\nloss L = mse(y, h)\n",
    );
    assert_eq!(generated(&model), ["zh", "zh2"]);
    let text = derivation_text(&model);
    assert!(text.contains("h   = tanh(zh) ⊙ σ(zh2)"), "{text}");
    assert!(!text.contains("∂L/∂("), "{text}");
}

/// The gradients of a network whose pre-activations nnderive named,
/// against central finite differences of the loss as the file writes it,
/// computed here in plain f64.
#[test]
fn the_values_are_those_of_the_file_as_written() {
    let (w, b, x, y) = ([[0.3, -0.2], [0.1, 0.4]], [0.05, -0.1], [1.0, -0.5], [0.25, 0.75]);
    let text = format!(
        "input x[2] = [{}, {}]\ntarget y[2] = [{}, {}]\nparam W[2,2] = [[{}, {}], [{}, {}]]\nparam b[2] = [{}, {}]\n\
         h = tanh(W @ x + b)\nloss L = mse(y, h)\n",
        x[0], x[1], y[0], y[1], w[0][0], w[0][1], w[1][0], w[1][1], b[0], b[1]
    );
    let model = load("one.nn", &text);
    assert_eq!(generated(&model), ["zh"]);
    let solution = nnderive::solve(&model).unwrap();
    let loss = |w: [[f64; 2]; 2], b: [f64; 2]| {
        (0..2).map(|i| ((w[i][0] * x[0] + w[i][1] * x[1] + b[i]).tanh() - y[i]).powi(2)).sum::<f64>() / 2.0
    };
    let quantities = Quantities::new(&model, &solution);
    let gradient = |name: &str| quantities.value(quantities.find(name).unwrap(), &solution).unwrap().to_f64_vec();
    let eps = 1e-6;
    let dw = gradient("dL_dW");
    for (k, got) in dw.iter().enumerate() {
        let (mut up, mut down) = (w, w);
        up[k / 2][k % 2] += eps;
        down[k / 2][k % 2] -= eps;
        let fd = (loss(up, b) - loss(down, b)) / (2.0 * eps);
        assert!((got - fd).abs() < 1e-8, "dL/dW[{k}]: {got} vs {fd}");
    }
    let db = gradient("dL_db");
    for (k, got) in db.iter().enumerate() {
        let (mut up, mut down) = (b, b);
        up[k] += eps;
        down[k] -= eps;
        let fd = (loss(w, up) - loss(w, down)) / (2.0 * eps);
        assert!((got - fd).abs() < 1e-8, "dL/db[{k}]: {got} vs {fd}");
    }
}

fn options() -> Options {
    Options { places: 4, weights: None, weights_from_answers: false }
}

/// The grader asks for the file's names only, and a student's h₂ computed
/// from their own wrong h₁ through the file's equation is still credited
/// as carried forward (the step through h_{t−1} is not lost in zh).
#[test]
fn answers_never_need_a_generated_name() {
    let model = example("rnn.nn");
    let solution = nnderive::solve(&model).unwrap();
    let quantities = Quantities::new(&model, &solution);
    for q in &quantities.list {
        assert!(!q.name.starts_with("zh") && !q.name.starts_with("zy"), "asked for {}", q.name);
    }
    // h₁ = tanh(Wxh x₁ + bh) (h₀ = 0), made wrong in its first entry; h₂
    // from it by the file's equation, in plain f64.
    let wxh: [[f64; 2]; 3] = [[0.5, -0.3], [0.2, 0.4], [-0.1, 0.6]];
    let whh: [[f64; 3]; 3] = [[0.1, -0.2, 0.3], [0.4, 0.1, -0.1], [-0.3, 0.2, 0.2]];
    let bh: [f64; 3] = [0.1, 0.0, -0.1];
    let (x1, x2): ([f64; 2], [f64; 2]) = ([1.0, 0.0], [0.5, -1.0]);
    let mut h1: Vec<f64> = (0..3).map(|i| (wxh[i][0] * x1[0] + wxh[i][1] * x1[1] + bh[i]).tanh()).collect();
    h1[0] += 0.1;
    let h2: Vec<f64> = (0..3)
        .map(|i| {
            let recurrent: f64 = (0..3).map(|j| whh[i][j] * h1[j]).sum();
            (wxh[i][0] * x2[0] + wxh[i][1] * x2[1] + recurrent + bh[i]).tanh()
        })
        .collect();
    let round = |v: &[f64]| v.iter().map(|x| (x * 1e4).round() / 1e4).collect::<Vec<f64>>();
    let text = json!({"h[1]": round(&h1), "h[2]": round(&h2)}).to_string();
    let g = grade(&model, &solution, &answers::read(&text, Format::Json), &options());
    let status = |name: &str| g.parts.iter().find(|p| p.name == name).map(|p| p.status.name());
    assert_eq!(status("h[1]"), Some("wrong"));
    assert_eq!(status("h[2]"), Some("consistent"), "{}", nnderive::grade::report::text(&g, "answers", "rnn.nn"));
    assert!(
        g.parts.iter().all(|p| !p.name.starts_with('z')),
        "{:?}",
        g.parts.iter().map(|p| &p.name).collect::<Vec<_>>()
    );
}

/// A located error speaks of the file's names: the pass runs after checking.
#[test]
fn errors_name_only_the_files_names() {
    let err = nnderive::load(&Source::new(
        "bad.nn",
        "input x[2] = [1, 2]\ntarget y[3] = [0, 1, 0]\nparam W[3,2] = [[1, 2], [3, 4], [5, 6]]\n\
         param b[2] = [0, 0]\nh = tanh(W @ x + b)\nloss L = mse(y, h)\n",
    ))
    .unwrap_err();
    let message = format!("{err:?}");
    assert!(!message.contains("zh"), "{message}");
}

/// `--given` takes the file's names only: a generated name is unknown
/// there, and the file's inputs still take values.
#[test]
fn given_values_use_the_files_names() {
    let model = example("tied_autoencoder.nn");
    let err = nnderive::given(model.clone(), "zcode=[1, 2]").unwrap_err();
    let message = format!("{err:?}");
    assert!(message.contains("GivenUnknown") && message.contains("\"code\""), "{message}");
    let given = nnderive::given(model, "x=[1, 0, -1]").expect("an input takes a value");
    let solution = nnderive::solve(&given).unwrap();
    let zcode = given.tensor_id("zcode").unwrap();
    // zcode = W x + b_enc with W = [[0.1, -0.2, 0.3], [0.2, 0.1, -0.1]], b_enc = 0.
    assert_eq!(solution.value(zcode).to_f64_vec(), [-0.2, 0.3]);
}
