//! An operation added the way the "Adding a built-in" of docs/design.md says:
//! `softsign(t) = t / (1 + |t|)`, checked against values worked out by
//! hand and against finite differences.

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
