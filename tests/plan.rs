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
    let (mut compared, mut unplanned, mut decided) = (Vec::new(), Vec::new(), Vec::new());
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
                // Every entry near a kink decided exactly (`plan::certify`):
                // the exact solution's values, in f64.
                (Outcome::Solved(got), Computed::Exact) => {
                    assert_same_solution(&format!("{name} (decided)"), &got, &floated(&want, &got));
                    decided.push(name.clone());
                }
                (Outcome::Exact, Computed::Float) => panic!("{name}: the plan saw a kink the evaluator did not"),
                (Outcome::Unplanned, _) => panic!("{name}: the plan did not finish"),
            }
        }
        compared.push((name, computed));
    }
    eprintln!("compared: {compared:?}\nnot planned: {unplanned:?}\ndecided exactly: {decided:?}");
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

/// An exact solution with its exact values seen as f64 where `like` (an
/// f64 solution to compare with it) has f64 values: the plan keeps a value
/// exact where its kernel gives one (a max-pool's switches of exact ones).
fn floated(exact: &Solution, like: &Solution) -> Solution {
    let floated = |t: &Tensor, l: &Tensor| match l.is_exact() {
        true => t.clone(),
        false => Tensor::float(t.dims().to_vec(), t.to_f64_vec()),
    };
    let each = |ts: &[Tensor], ls: &[Tensor]| ts.iter().zip(ls).map(|(t, l)| floated(t, l)).collect::<Vec<_>>();
    let mut want = exact.clone();
    want.values = each(&want.values, &like.values);
    want.symbols = want.symbols.iter().zip(&like.symbols).map(|((s, t), (_, l))| (*s, floated(t, l))).collect();
    want.gradients = each(&want.gradients, &like.gradients);
    if let (Some(t), Some(l)) = (want.training.as_mut(), like.training.as_ref()) {
        t.losses = each(&t.losses, &l.losses);
        t.updated = t.updated.iter().zip(&l.updated).map(|((p, v), (_, w))| (*p, floated(v, w))).collect();
        for (step, lstep) in t.history.iter_mut().zip(&l.history) {
            for (p, lp) in step.params.iter_mut().zip(&lstep.params) {
                p.gradient = floated(&p.gradient, &lp.gradient);
                p.value = floated(&p.value, &lp.value);
                p.quantities = each(&p.quantities, &lp.quantities);
            }
        }
    }
    want
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
        assert_same_solution(&format!("seed {seed} (plan against exact)"), &got, &floated(&exact, &got));
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
    // (what, X, A, the entry of X the first window's gradient flows to,
    // whether the plan decides the near entries exactly and stays in f64)
    let cases = [
        // Equal f64s that are different rationals: 1e-330 rounds to 0.0
        // (its exact value is known, but no nonzero f64 of it exists).
        ("a given 1e-330 against 0", x("0", "1e-330"), "X", 1, false),
        // The same, computed: 1e-200 · 1e-200 rounds to 0.0.
        ("1e-200 · 1e-200 against 0", x("0", "1e-200"), "X * 1e-200", 1, false),
        // Two different rationals that round to one f64: the exact first
        // maximum is the second entry, the f64 one the first.
        ("0.1 against 0.1 + 1e-30", x("0.1", "0.100000000000000000000000000001"), "X", 1, false),
        // A relu of 1e-200 · 1e-200 (its exact value is not 0, its f64 is).
        ("relu(1e-200 · 1e-200)", x("1e-200", "-1"), "relu(X * 1e-200)", 0, false),
        // A given 1e-330 at a relu: its exact value is positive, its f64 0.0.
        ("relu of a given 1e-330", x("1e-330", "-1"), "relu(X)", 0, false),
        // Near a kink through a transcendental: not decided exactly.
        ("relu(tanh(0))", x("0", "-1"), "relu(tanh(X))", 0, false),
        // Within MARGIN of each other, but decided by the given values: the
        // plan snaps both to their f64s and agrees with the exact choice.
        ("0.5 against 0.5 + 1e-10", x("0.5", "0.5000000001"), "X", 1, true),
        // A relu at its kink (an exact 0 given): relu′(0) = 0 in both.
        ("relu(0) against relu(-1)", x("0", "-1"), "relu(X)", 0, true),
    ];
    for (what, given, formula, to, decided) in cases {
        let model = pooled(&given, formula);
        let derivation = nnderive::derive::derive(&model);
        let (node, computed) = solve_unplanned(&model, &derivation).unwrap();
        assert_eq!(computed, Computed::Exact, "{what}: the evaluator stayed in f64");
        let plan = Plan::compile(&model, &derivation).unwrap();
        // The exact answer: the first window's gradient at the exact first
        // maximum (the f64 one would be entry 0 in the first three cases).
        let mut want = [0.0; 4];
        if !formula.starts_with("relu") {
            want[to] = if formula.contains("1e-200") { 1e-200 } else { 1.0 };
        } else if formula.contains("1e-200") {
            // relu(1e-400) is the window's exact maximum; its slope 1e-200.
            want[to] = 1e-200;
        } else if given.contains("1e-330") {
            // relu(1e-330) is the window's exact maximum; its slope 1.
            want[to] = 1.0;
        }
        let window = |s: &Solution| {
            let grad = s.gradients[0].to_f64_vec();
            [grad[0], grad[1], grad[4], grad[5]]
        };
        assert_eq!(window(&node), want, "{what}");
        match plan.solve(&model, &derivation) {
            Outcome::Solved(got) if decided => {
                assert_eq!(window(&got), want, "{what}: the plan");
                assert_same_solution(what, &got, &floated(&node, &got));
            }
            Outcome::Exact if !decided => {}
            _ => panic!("{what}: the plan should {}", if decided { "stay in f64" } else { "go exact" }),
        }
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

/// A CNN (conv 1→2 3×3 pad 1 on 6 × 6, bias, relu, 2×2 max-pool, dense 3,
/// softmax, cross-entropy, one SGD step) on two-place decimals made so that
/// (as in a notebook's network) some entries are exact kinks: each filter
/// is symmetric left to right and columns 1 = 4, 2 = 3 of X, so that
/// Z1[f, i, 2] = Z1[f, i, 3] exactly (every window of columns 2–3 is a tie,
/// whose f64 sums, in mirrored orders, may round apart), and each bias is
/// minus the sum at one entry, which is then exactly 0, in a window with an
/// entry at least 0.01 above it. Returns the text and how many positive
/// tied windows have f64 sums that differ (computed here in the kernel's
/// order: taps row by row, then the bias).
fn cnn_with_exact_kinks(seed: u64) -> (String, usize) {
    let mut rng = common::Lcg(seed);
    let mut d = || (rng.next() % 199) as i64 - 99;
    let mut x = [[0i64; 6]; 6];
    for row in &mut x {
        for c in [0, 1, 2, 5] {
            row[c] = d();
        }
        row[3] = row[2];
        row[4] = row[1];
    }
    let mut k = [[[0i64; 3]; 3]; 2];
    for f in &mut k {
        for u in f.iter_mut() {
            u[0] = d();
            u[1] = d();
            u[2] = u[0];
        }
    }
    // The sum without bias, in units of 1e-4, exactly; and in f64.
    let taps = |f: usize, i: usize, j: usize| {
        (0..3).flat_map(move |u| (0..3).map(move |v| (u, v))).filter_map(move |(u, v)| {
            let (r, c) = ((i + u).checked_sub(1)?, (j + v).checked_sub(1)?);
            (r < 6 && c < 6).then(|| (k[f][u][v], x[r][c]))
        })
    };
    let exact = |f: usize, i: usize, j: usize| taps(f, i, j).map(|(a, b)| a * b).sum::<i64>();
    let float = |f: usize, i: usize, j: usize| {
        taps(f, i, j).fold(0.0, |acc, (a, b)| acc + (a as f64 / 100.0) * (b as f64 / 100.0))
    };
    let window = |i: usize, j: usize| (0..4).map(move |t| (i / 2 * 2 + t / 2, j / 2 * 2 + t % 2));
    let mut bias = [0i64; 2];
    for (f, b) in bias.iter_mut().enumerate() {
        let spots = (0..6).flat_map(|i| [0, 1, 4, 5].map(|j| (i, j)));
        let spot = spots
            .filter(|&(i, j)| window(i, j).any(|(m, n)| exact(f, m, n) - exact(f, i, j) >= 100))
            .nth(seed as usize % 3)
            .expect("a spot for an exact zero");
        *b = -exact(f, spot.0, spot.1);
    }
    let decimal = |v: i64, places: u32| {
        let p = 10i64.pow(places);
        format!("{}{}.{:0w$}", if v < 0 { "-" } else { "" }, v.abs() / p, v.abs() % p, w = places as usize)
    };
    let mut apart = 0;
    for (f, &b) in bias.iter().enumerate() {
        let bf = b as f64 / 1e4;
        for i in (0..6).step_by(2) {
            let top = (i..i + 2).map(|m| exact(f, m, 2)).max().unwrap_or(0);
            let rounded = (i..i + 2).any(|m| exact(f, m, 2) == top && float(f, m, 2) + bf != float(f, m, 3) + bf);
            apart += usize::from(top + b > 0 && rounded);
        }
    }
    let rows = |r: &[[i64; 6]]| {
        r.iter().map(|row| format!("[{}]", row.map(|v| decimal(v, 2)).join(", "))).collect::<Vec<_>>().join(", ")
    };
    let kernel = |f: &[[i64; 3]; 3]| {
        f.iter().map(|u| format!("[{}]", u.map(|v| decimal(v, 2)).join(", "))).collect::<Vec<_>>().join(", ")
    };
    let mut list = |n: usize| (0..n).map(|_| rng.decimal()).collect::<Vec<_>>().join(", ");
    let w = (0..3).map(|_| format!("[{}]", list(18))).collect::<Vec<_>>().join(", ");
    let text = format!(
        "input X[1,6,6] = [[{}]]\nparam K[2,1,3,3] = [[[{}]], [[{}]]]\nparam bK[2] = [{}, {}]\n\
         param W[3,18] = [{w}]\nparam b[3] = [0.1, -0.2, 0.05]\ntarget y[3] = [0, 1, 0]\n\
         Z1 = conv2d(X, K, pad = 1) + bK\nA1 = relu(Z1)\nP1 = maxpool(A1, 2, stride = 2)\n\
         v = flatten(P1)\nyhat = softmax(W @ v + b)\nloss L = cross_entropy(y, yhat)\ntrain sgd(lr = 0.1)\n",
        rows(&x),
        kernel(&k[0]),
        kernel(&k[1]),
        decimal(bias[0], 4),
        decimal(bias[1], 4)
    );
    (text, apart)
}

#[test]
fn exact_zeros_and_ties_of_a_cnn_are_decided_exactly_and_the_plan_stays_in_f64() {
    let (mut apart, mut ties) = (0, 0);
    for seed in 1..=6 {
        let (text, rounded_apart) = cnn_with_exact_kinks(seed);
        apart += rounded_apart;
        let model = nnderive::load(&Source::new("kinks.nn", text)).unwrap();
        let derivation = nnderive::derive::derive(&model);
        let exact = nnderive::eval::solve(&model).unwrap();
        let z1 = named(&model, &exact, "Z1");
        assert!(z1.iter().filter(|&&z| z == 0.0).count() >= 2, "seed {seed}: no exact zero of Z1");
        // Positive windows of columns 2–3 (ties by construction).
        let a1 = named(&model, &exact, "A1");
        ties += (0..2)
            .flat_map(|f| (0..6).step_by(2).map(move |i| (f, i)))
            .filter(|&(f, i)| {
                let at = |m: usize, n: usize| a1[f * 36 + m * 6 + n];
                let top = at(i, 2).max(at(i + 1, 2));
                top > 0.0 && top >= at(i, 3).max(at(i + 1, 3))
            })
            .count();
        let (_, computed) = solve_unplanned(&model, &derivation).unwrap();
        assert_eq!(computed, Computed::Exact, "seed {seed}: the evaluator should go exact");
        let plan = Plan::compile(&model, &derivation).unwrap();
        let Outcome::Solved(got) = plan.solve(&model, &derivation) else { panic!("seed {seed}: not solved in f64") };
        assert_same_solution(&format!("seed {seed} (plan against exact)"), &got, &floated(&exact, &got));
        // relu′ at the exact zeros: step(0), which the exact solve notes.
        assert!(
            got.notes.iter().any(|n| matches!(n, nnderive::eval::evaluate::Note::Kink { .. })),
            "seed {seed}: no note of step at 0"
        );
        // Central differences, away from the kinks: moving the dense layer,
        // a bias or a kernel's middle column keeps every tie a tie (the
        // filters stay symmetric) and the zeros below their windows' maxima.
        let h = 1e-6;
        for (param, entries) in
            [("W", vec![0, 17, 40]), ("b", vec![0, 2]), ("bK", vec![0, 1]), ("K", vec![1, 4, 13, 16])]
        {
            let k = derivation.gradients.iter().position(|g| model.tensor(g.param).name == param).unwrap();
            let grad = got.gradients[k].to_f64_vec();
            for i in entries {
                let numeric = (loss_at(&model, param, i, h) - loss_at(&model, param, i, -h)) / (2.0 * h);
                let d = grad[i];
                assert!(
                    (d - numeric).abs() <= 1e-6 * d.abs().max(1e-3),
                    "seed {seed} ∂L/∂{param}[{i}]: {d} against {numeric}"
                );
            }
        }
    }
    assert!(ties >= 3, "only {ties} positive tied windows");
    assert!(apart >= 1, "no tie whose f64 sums round apart: the snap is not exercised");
}
