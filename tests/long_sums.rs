//! Gradients that sum one term from every equation: the `large` fuzz
//! target's case 3 (`Hk = fn(H(k-1)) ⊙ x`, `loss L = sum(Hn)`, so ∂L/∂x has a
//! term from each of the n equations). The formula is right at a small n,
//! checked by eye in a snapshot and by central finite differences, and a
//! long one is derived, solved and printed on a small stack, its gradient
//! checked against forward-mode differentiation written out below. Timing
//! lives in `cargo bench -- longsum`, not here.

mod common;

#[path = "../fuzz/large_inputs.rs"]
mod large_inputs;

use nnderive::Source;

/// The fuzz recipe of case 3 with `n` equations, the functions picked in
/// turn from `picks` (indices into `UNARY` below, as the fuzz target reads them).
fn long_sum(n: usize, picks: &[u8]) -> String {
    // large_input makes size(20 000) = v · 20 000 / 65 535 + 1 equations.
    let v = ((n - 1) * 65_535).div_ceil(20_000) as u16;
    let mut recipe = vec![3, (v >> 8) as u8, v as u8];
    recipe.extend_from_slice(picks);
    let text = large_inputs::large_input(&recipe, 1.0);
    assert!(text.contains(&format!("loss L = sum(H{n})")), "{text}");
    text
}

/// The fuzz target's functions, in its order, in f64, written here from
/// their definitions: sin, tanh, relu, sigmoid, abs, softplus, cos, and
/// the file's `fn f(t) = relu(t) + sin(t)`.
const UNARY: [fn(f64) -> f64; 8] = [
    f64::sin,
    f64::tanh,
    |t| t.max(0.0),
    |t| 1.0 / (1.0 + (-t).exp()),
    f64::abs,
    |t| t.exp().ln_1p(),
    f64::cos,
    |t| t.max(0.0) + t.sin(),
];

/// Which function equation k applies (the fuzz target's `pick(k % 16)`).
fn function_of(k: usize, picks: &[u8]) -> usize {
    picks.get(k % 16).copied().unwrap_or(0) as usize % UNARY.len()
}

/// L at one entry x of the input: the equations run entry by entry.
fn loss_at(x: f64, n: usize, picks: &[u8]) -> f64 {
    let mut h = x;
    for k in 1..=n {
        h = UNARY[function_of(k, picks)](h) * x;
    }
    h
}

fn load(text: &str) -> nnderive::model::Model {
    nnderive::load(&Source::new("long.nn", text)).expect("the generated file checks")
}

/// The input's values in the fuzz target's files.
const X: [f64; 2] = [0.5, -1.25];

#[test]
fn a_short_long_sum_reads_and_computes_right() {
    let text = long_sum(5, &[]);
    let model = load(&text);
    let derivation = nnderive::derive::derive(&model);
    let printed = nnderive::render::text::derivation(&model, &derivation);
    common::settings().bind(|| {
        insta::with_settings!({ description => text.clone() }, {
            insta::assert_snapshot!("long_sum_5", printed);
        });
    });
    // The result sums one term per equation: H1 = sin(x) ⊙ x gives two
    // (through sin(x) and through x), each later equation one.
    // It is the last line of the chain that states ∂L/∂x (no line repeats it).
    let lines: Vec<&str> = printed.lines().collect();
    let first = lines.iter().rposition(|l| l.trim_start().starts_with("∂L/∂x")).expect("the gradient of x");
    let chain = lines[first + 1..].iter().take_while(|l| l.trim_start().starts_with("= ")).count();
    let result = lines[first + chain];
    assert_eq!(result.matches(" + ").count(), 5, "{result}");
    assert!(result.ends_with("sin(H4)   [substitute]"), "{result}");

    // Its values, by central finite differences of the loss written out above.
    let solution = nnderive::solve(&model).expect("solves");
    let gradient = solution.gradients[0].to_f64_vec();
    for (i, x) in X.into_iter().enumerate() {
        let e = 1e-6;
        let numeric = (loss_at(x + e, 5, &[]) - loss_at(x - e, 5, &[])) / (2.0 * e);
        assert!((gradient[i] - numeric).abs() < 1e-7, "entry {i}: {} vs {numeric}", gradient[i]);
    }
}

#[test]
fn every_function_of_the_fuzz_target_in_a_long_sum_passes_finite_differences() {
    // Each of the eight functions twice, in two orders.
    let picks: Vec<u8> = (0..16).map(|i| (i * 5 % 8) as u8).collect();
    let n = 40;
    let model = load(&long_sum(n, &picks));
    let solution = nnderive::solve(&model).expect("solves");
    let gradient = solution.gradients[0].to_f64_vec();
    for (i, x) in X.into_iter().enumerate() {
        let e = 1e-6;
        let numeric = (loss_at(x + e, n, &picks) - loss_at(x - e, n, &picks)) / (2.0 * e);
        let tolerance = 1e-6 * numeric.abs().max(1.0);
        assert!((gradient[i] - numeric).abs() < tolerance, "entry {i}: {} vs {numeric}", gradient[i]);
    }
}

/// Runs `f` on a thread with a 256 KiB stack: a recursion whose depth grows
/// with the number of equations would overflow it.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(256 * 1024).spawn(f).expect("thread starts").join().expect("no panic")
}

#[test]
fn a_sum_over_20_000_equations_derives_solves_and_prints_on_a_small_stack() {
    let n = 20_000;
    let text = long_sum(n, &[]);
    let (printed, gradient) = on_small_stack(move || {
        let model = load(&text);
        let derivation = nnderive::derive::derive(&model);
        let printed = nnderive::render::text::derivation(&model, &derivation);
        let solution = nnderive::solve(&model).expect("solves");
        let _ = nnderive::render::text::solution(&model, &solution, Some(4));
        (printed, solution.gradients[0].to_f64_vec())
    });
    let result = printed.lines().rfind(|l| l.trim_start().starts_with("∂L/∂x")).expect("the gradient of x");
    assert_eq!(result.matches(" + ").count(), n, "one term per equation");
    // Independent: forward-mode, dHk = cos(H(k-1)) dH(k-1) x + sin(H(k-1)).
    for (i, x) in X.into_iter().enumerate() {
        let (mut h, mut dh) = (x, 1.0);
        for _ in 0..n {
            (h, dh) = (h.sin() * x, h.cos() * dh * x + h.sin());
        }
        assert!((gradient[i] - dh).abs() <= 1e-9 * dh.abs().max(1.0), "entry {i}: {} vs {dh}", gradient[i]);
    }
}
