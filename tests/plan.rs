//! The compiled f64 plan (`eval::plan`) against the node-by-node f64
//! evaluation it replaces, on every example, and against independent
//! computations: the assignment's backpropagation by hand, and central
//! differences of the loss.

mod common;

use nnderive::eval::fast::{solve_unplanned, Computed};
use nnderive::eval::plan::{Outcome, Plan};
use nnderive::eval::tensor::Tensor;
use nnderive::eval::Solution;
use nnderive::model::Model;
use nnderive::Source;

fn load(path: &std::path::Path) -> Option<Model> {
    nnderive::load(&Source::new(path.to_string_lossy().as_ref(), std::fs::read_to_string(path).ok()?)).ok()
}

/// Entry by entry within `rel` of the tensor's largest entry.
fn assert_close(what: &str, got: &Tensor, want: &Tensor, rel: f64) {
    assert_eq!(got.dims(), want.dims(), "{what}: dims");
    assert_eq!(got.is_exact(), want.is_exact(), "{what}: exact or f64");
    let (g, w) = (got.to_f64_vec(), want.to_f64_vec());
    let scale = w.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(f64::MIN_POSITIVE);
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!((a - b).abs() <= rel * scale, "{what}[{i}]: {a} against {b} (largest {scale})");
    }
}

fn assert_same_solution(name: &str, got: &Solution, want: &Solution) {
    let rel = 1e-12;
    assert_eq!(got.values.len(), want.values.len());
    for (k, (a, b)) in got.values.iter().zip(&want.values).enumerate() {
        assert_close(&format!("{name}: value {k}"), a, b, rel);
    }
    assert_eq!(got.symbols.len(), want.symbols.len());
    for ((s, a), (t, b)) in got.symbols.iter().zip(&want.symbols) {
        assert_eq!(s, t);
        assert_close(&format!("{name}: symbol {s:?}"), a, b, rel);
    }
    for (k, (a, b)) in got.gradients.iter().zip(&want.gradients).enumerate() {
        assert_close(&format!("{name}: gradient {k}"), a, b, rel);
    }
    assert_eq!(got.notes, want.notes, "{name}: notes");
    match (&got.training, &want.training) {
        (None, None) => {}
        (Some(a), Some(b)) => {
            for (k, (x, y)) in a.losses.iter().zip(&b.losses).enumerate() {
                assert_close(&format!("{name}: loss after {k} steps"), x, y, rel);
            }
            assert_eq!(a.losses.len(), b.losses.len());
            for ((p, x), (q, y)) in a.updated.iter().zip(&b.updated) {
                assert_eq!(p, q);
                assert_close(&format!("{name}: updated {p:?}"), x, y, rel);
            }
            assert_eq!(a.history.len(), b.history.len());
            for (s, t) in a.history.iter().zip(&b.history) {
                for (x, y) in s.params.iter().zip(&t.params) {
                    assert_close(&format!("{name}: history gradient"), &x.gradient, &y.gradient, rel);
                    assert_close(&format!("{name}: history value"), &x.value, &y.value, rel);
                    for (u, v) in x.quantities.iter().zip(&y.quantities) {
                        assert_close(&format!("{name}: history quantity"), u, v, rel);
                    }
                }
            }
        }
        _ => panic!("{name}: training differs"),
    }
}

#[test]
fn the_plan_computes_what_the_evaluator_computes_on_every_example() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|f| f.path()).collect();
    files.sort();
    let (mut compared, mut unplanned) = (Vec::new(), Vec::new());
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "nn")) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(model) = load(path) else { continue };
        let derivation = nnderive::derive::derive(&model);
        let Ok((want, computed)) = solve_unplanned(&model, &derivation) else { continue };
        let Some(plan) = Plan::compile(&model, &derivation) else {
            unplanned.push((name, Plan::unplanned_because(&model, &derivation)));
            continue;
        };
        // Twice: the second run reuses the buffers of the first.
        for _ in 0..2 {
            match (plan.solve(&model, &derivation), computed) {
                (Outcome::Solved(got), Computed::Float) => assert_same_solution(&name, &got, &want),
                (Outcome::Exact, Computed::Exact) => {}
                (Outcome::Solved(_), Computed::Exact) => panic!("{name}: the plan missed a kink the evaluator saw"),
                (Outcome::Exact, Computed::Float) => panic!("{name}: the plan saw a kink the evaluator did not"),
                (Outcome::Unplanned, _) => panic!("{name}: the plan did not finish"),
            }
        }
        compared.push((name, computed));
    }
    eprintln!("compared: {compared:?}\nnot planned: {unplanned:?}");
    // Every example but those with custom functions or open values is planned.
    assert!(compared.len() >= 30, "{compared:?}");
    assert!(compared.iter().filter(|(_, c)| *c == Computed::Float).count() >= 20, "{compared:?}");
}

#[test]
fn a_large_network_trained_in_place_is_trained_as_the_evaluator_trains_it() {
    // More than SMALL_NETWORK parameter entries: plain SGD updates the slots in place.
    for train in ["train sgd(lr = 0.05, steps = 3)\n", "train adam(lr = 0.01, steps = 2)\n"] {
        let text = common::random_network(7, 3, &[12, 10, 8, 3], &["tanh", "sigmoid"], "cross_entropy");
        // The network's own `train` line replaced by this one.
        let text: String =
            text.lines().filter(|l| !l.starts_with("train")).map(|l| format!("{l}\n")).collect::<String>() + train;
        let model = nnderive::load(&Source::new("wide.nn", text)).unwrap();
        let derivation = nnderive::derive::derive(&model);
        let (want, computed) = solve_unplanned(&model, &derivation).unwrap();
        assert_eq!(computed, Computed::Float);
        let plan = Plan::compile(&model, &derivation).unwrap();
        for _ in 0..2 {
            let Outcome::Solved(got) = plan.solve(&model, &derivation) else { panic!("not solved in f64") };
            assert_eq!(got.training.as_ref().unwrap().losses.len(), 4 - usize::from(train.contains("adam")));
            assert_same_solution(train, &got, &want);
        }
    }
}

#[test]
fn the_assignment_by_the_plan_is_the_backpropagation_by_hand() {
    let model = load(&common::example("assignment4.nn")).unwrap();
    let derivation = nnderive::derive::derive(&model);
    let plan = Plan::compile(&model, &derivation).expect("the assignment is planned");
    let Outcome::Solved(solution) = plan.solve(&model, &derivation) else { panic!("not solved in f64") };
    let by_hand = common::assignment_backprop(common::ASSIGNMENT, common::assignment_fprime);
    let value =
        |name: &str| solution.value(model.ids().find(|&id| model.tensor(id).name == name).unwrap()).to_f64_vec();
    let close = |what: &str, got: &[f64], want: &[f64]| {
        assert_eq!(got.len(), want.len(), "{what}");
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{what}: {a} against {b}");
        }
    };
    close("yhat", &value("yhat"), &by_hand.yhat);
    close("L", &value("L"), &[by_hand.loss]);
    let gradient = |name: &str| {
        let (k, _) = derivation.gradients.iter().enumerate().find(|(_, g)| model.tensor(g.param).name == name).unwrap();
        solution.gradients[k].to_f64_vec()
    };
    close("dW1", &gradient("W1"), &by_hand.dw1);
    close("dW2", &gradient("W2"), &by_hand.dw2);
    let training = solution.training.as_ref().unwrap();
    let updated = |name: &str| {
        training.updated.iter().find(|(p, _)| model.tensor(*p).name == name).map(|(_, v)| v.to_f64_vec()).unwrap()
    };
    close("W1 after a step", &updated("W1"), &by_hand.w1_new);
    close("b2 after a step", &updated("b2"), &by_hand.b2_new);
}

/// The loss of `model` by its plan, with entry `i` of `param` moved by `h`.
fn loss_at(model: &Model, param: &str, i: usize, h: f64) -> f64 {
    let id = model.ids().find(|&id| model.tensor(id).name == param).unwrap();
    let t = model.tensor(id);
    let mut entries: Vec<num_rational::BigRational> =
        t.value.as_ref().unwrap().iter().map(|d| d.to_rational()).collect();
    entries[i] += num_rational::BigRational::from_float(h).unwrap();
    let moved = nnderive::with_value(model.clone(), param, t.shape.dims(), entries).unwrap();
    let derivation = nnderive::derive::derive(&moved);
    let plan = Plan::compile(&moved, &derivation).unwrap();
    let Outcome::Solved(s) = plan.solve(&moved, &derivation) else { panic!("not solved in f64") };
    s.value(moved.loss).to_f64_vec()[0]
}

#[test]
fn the_plans_gradients_are_central_differences_of_its_loss() {
    for (file, params) in [("lstm.nn", ["Wf", "bo"]), ("tanh_bce.nn", ["W1", "b2"])] {
        let model = load(&common::example(file)).unwrap();
        let derivation = nnderive::derive::derive(&model);
        let plan = Plan::compile(&model, &derivation).unwrap();
        let Outcome::Solved(solution) = plan.solve(&model, &derivation) else { panic!("{file}: not solved in f64") };
        for param in params {
            let Some(k) = derivation.gradients.iter().position(|g| model.tensor(g.param).name == param) else {
                panic!("{file}: no parameter {param}")
            };
            let grad = solution.gradients[k].to_f64_vec();
            let h = 1e-6;
            for i in [0, grad.len() - 1] {
                let numeric = (loss_at(&model, param, i, h) - loss_at(&model, param, i, -h)) / (2.0 * h);
                let d = grad[i];
                assert!(
                    (d - numeric).abs() <= 1e-6 * d.abs().max(1e-3),
                    "{file} ∂L/∂{param}[{i}]: {d} against {numeric}"
                );
            }
        }
    }
}

/// A CNN (conv 1→2 3×3 pad 1 on a `side` × `side` map, bias, relu, 2×2
/// max-pool, dense 3, softmax, cross-entropy, one SGD step) on random
/// two-place decimals, its biases so low that many pooling windows are relu
/// zeros only: ties of zeros, which decide nothing. From side 64 on, its
/// convolutions are large enough to be computed by GEMM (`eval::conv_gemm`).
fn cnn_with_zero_windows(seed: u64, side: usize) -> String {
    let mut rng = common::Lcg(seed);
    let mut list = |n: usize| (0..n).map(|_| rng.decimal()).collect::<Vec<_>>().join(", ");
    let rows = |rng: &mut dyn FnMut(usize) -> String, r: usize, c: usize| {
        (0..r).map(|_| format!("[{}]", rng(c))).collect::<Vec<_>>().join(", ")
    };
    let x = rows(&mut list, side, side);
    let k: Vec<String> = (0..2).map(|_| format!("[[{}]]", rows(&mut list, 3, 3))).collect();
    let pooled = 2 * (side / 2) * (side / 2);
    let w = rows(&mut list, 3, pooled);
    format!(
        "input X[1,{side},{side}] = [[{x}]]\nparam K[2,1,3,3] = [{}]\nparam bK[2] = [-0.61, -0.57]\n\
         param W[3,{pooled}] = [{w}]\nparam b[3] = [0.1, -0.2, 0.05]\ntarget y[3] = [0, 1, 0]\n\
         Z1 = conv2d(X, K, pad = 1) + bK\nA1 = relu(Z1)\nP1 = maxpool(A1, 2, stride = 2)\n\
         v = flatten(P1)\nyhat = softmax(W @ v + b)\nloss L = cross_entropy(y, yhat)\ntrain sgd(lr = 0.1)\n",
        k.join(", ")
    )
}

fn named(model: &Model, solution: &Solution, name: &str) -> Vec<f64> {
    solution.value(model.ids().find(|&id| model.tensor(id).name == name).unwrap()).to_f64_vec()
}

#[test]
fn ties_of_relu_zeros_in_a_max_pool_stay_in_f64_and_agree_with_the_exact_solution() {
    let mut tied = 0;
    for (seed, side) in [(1, 6), (2, 6), (3, 6), (4, 64)] {
        let text = cnn_with_zero_windows(seed, side);
        let model = nnderive::load(&Source::new("cnn.nn", text)).unwrap();
        let derivation = nnderive::derive::derive(&model);
        let exact = nnderive::eval::solve(&model).unwrap();
        // Windows of four relu zeros: the pooled map's zeros.
        tied += named(&model, &exact, "P1").iter().filter(|&&p| p == 0.0).count();
        assert!(named(&model, &exact, "Z1").iter().all(|&z| z != 0.0), "seed {seed}: a relu at its kink");
        let plan = Plan::compile(&model, &derivation).unwrap();
        let Outcome::Solved(got) = plan.solve(&model, &derivation) else { panic!("seed {seed}: not solved in f64") };
        let (node, computed) = solve_unplanned(&model, &derivation).unwrap();
        assert_eq!(computed, Computed::Float, "seed {seed}: the evaluator went exact");
        assert_same_solution(&format!("seed {seed} (plan against evaluator)"), &got, &node);
        // Against the exact solution: its exact values seen as f64.
        let floated = |t: &Tensor| Tensor::float(t.dims().to_vec(), t.to_f64_vec());
        let mut want = exact.clone();
        want.values = want.values.iter().map(floated).collect();
        want.symbols = want.symbols.iter().map(|(s, t)| (*s, floated(t))).collect();
        want.gradients = want.gradients.iter().map(floated).collect();
        if let Some(t) = want.training.as_mut() {
            t.losses = t.losses.iter().map(floated).collect();
            t.updated = t.updated.iter().map(|(p, v)| (*p, floated(v))).collect();
            for step in &mut t.history {
                for p in &mut step.params {
                    p.gradient = floated(&p.gradient);
                    p.value = floated(&p.value);
                    p.quantities = p.quantities.iter().map(floated).collect();
                }
            }
        }
        assert_same_solution(&format!("seed {seed} (plan against exact)"), &got, &want);
    }
    assert!(tied >= 3, "only {tied} windows of zeros");
}

/// A max-pool of `pooled` (a `[1, 2, 4]` map computed from `X`), the loss
/// the sum of the pooled map: ∂L/∂X is where each window's first maximum is.
fn pooled(given: &str, pooled: &str) -> Model {
    let text = format!("param X[1,2,4] = {given}\nA = {pooled}\nP = maxpool(A, 2, stride = 2)\nloss L = sum(P)\n");
    nnderive::load(&Source::new("pooled.nn", text)).unwrap()
}

#[test]
fn a_tie_that_may_not_be_one_in_exact_arithmetic_goes_exact() {
    let x = |a: &str, b: &str| format!("[[[{a}, {b}, 0.5, 0.25], [-1, -2, 0.75, 0.125]]]");
    // (what, X, A, the entry of X the first window's gradient flows to)
    let cases = [
        // Equal f64s that are different rationals: 1e-330 rounds to 0.0.
        ("a given 1e-330 against 0", x("0", "1e-330"), "X", 1),
        // The same, computed: 1e-200 · 1e-200 rounds to 0.0.
        ("1e-200 · 1e-200 against 0", x("0", "1e-200"), "X * 1e-200", 1),
        // Within MARGIN of each other.
        ("0.5 against 0.5 + 1e-10", x("0.5", "0.5000000001"), "X", 1),
        // A relu at its kink: relu zeros, but of an argument at 0.
        ("relu(0) against relu(-1)", x("0", "-1"), "relu(X)", 0),
    ];
    for (what, given, formula, to) in cases {
        let model = pooled(&given, formula);
        let derivation = nnderive::derive::derive(&model);
        let (node, computed) = solve_unplanned(&model, &derivation).unwrap();
        assert_eq!(computed, Computed::Exact, "{what}: the evaluator stayed in f64");
        let plan = Plan::compile(&model, &derivation).unwrap();
        assert!(matches!(plan.solve(&model, &derivation), Outcome::Exact), "{what}: the plan stayed in f64");
        // The exact answer: the first window's gradient at the exact first
        // maximum (the f64 one would be entry 0 in the first three cases).
        let grad = node.gradients[0].to_f64_vec();
        let window = [grad[0], grad[1], grad[4], grad[5]];
        let mut want = [0.0; 4];
        if formula != "relu(X)" {
            want[to] = if formula.contains("1e-200") { 1e-200 } else { 1.0 };
        }
        assert_eq!(window, want, "{what}");
    }
    // The contrast: the same tie of zeros as relu zeros of arguments below
    // 0 is certain, and stays in f64 with the exact answer.
    let model = pooled(&x("-0.5", "-1"), "relu(X)");
    let derivation = nnderive::derive::derive(&model);
    let (node, computed) = solve_unplanned(&model, &derivation).unwrap();
    assert_eq!(computed, Computed::Float);
    assert_eq!(node.gradients[0].to_f64_vec(), nnderive::eval::solve(&model).unwrap().gradients[0].to_f64_vec());
}

#[test]
fn a_cnn_with_ties_of_zeros_has_the_central_differences_of_its_loss_as_gradients() {
    // 6 × 6: the convolutions' loops; 64 × 64: their GEMM.
    for (seed, side) in [(2, 6), (4, 64)] {
        let model = nnderive::load(&Source::new("cnn.nn", cnn_with_zero_windows(seed, side))).unwrap();
        let derivation = nnderive::derive::derive(&model);
        let plan = Plan::compile(&model, &derivation).unwrap();
        let Outcome::Solved(solution) = plan.solve(&model, &derivation) else { panic!("not solved in f64") };
        assert!(named(&model, &solution, "P1").contains(&0.0), "no window of zeros");
        for param in ["K", "bK", "W"] {
            let k = derivation.gradients.iter().position(|g| model.tensor(g.param).name == param).unwrap();
            let grad = solution.gradients[k].to_f64_vec();
            let h = 1e-6;
            for i in (0..grad.len()).step_by(grad.len().div_ceil(6)) {
                let numeric = (loss_at(&model, param, i, h) - loss_at(&model, param, i, -h)) / (2.0 * h);
                let d = grad[i];
                assert!((d - numeric).abs() <= 1e-6 * d.abs().max(1e-3), "∂L/∂{param}[{i}]: {d} against {numeric}");
            }
        }
        // A kernel entry whose gradient is not 0, so that the check can fail.
        let k = derivation.gradients.iter().position(|g| model.tensor(g.param).name == "K").unwrap();
        assert!(solution.gradients[k].to_f64_vec().iter().any(|g| g.abs() > 1e-3));
    }
}
