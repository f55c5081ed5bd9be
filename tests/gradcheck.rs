//! Every derived gradient, evaluated, agrees with central finite differences
//! of the loss: on every example and on randomly generated networks.

mod common;

use proptest::prelude::*;

#[test]
fn every_example_passes_gradcheck() {
    // The readable-formula fixtures too: their simplified formulas are the ones evaluated.
    let readable = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/readable");
    let examples = std::fs::read_dir(common::example("")).unwrap();
    for entry in examples.chain(std::fs::read_dir(readable).unwrap()) {
        let path = entry.unwrap().path();
        let model = nnderive::load(&common::source(&path)).unwrap();
        if model.tensors.values().any(|t| t.role.is_data() && t.value.is_none()) {
            continue; // a symbolic example has no numbers to check
        }
        let check = nnderive::gradcheck(&model).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert!(check.worst() < 1e-6, "{}: {check:?}", path.display());
    }
}

const ACTIVATIONS: [&str; 6] = ["relu", "sigmoid", "tanh", "f", "softplus", "sin"];
const LOSSES: [&str; 5] = ["cross_entropy", "log_softmax", "bce", "mse", "squared"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, rng_seed: common::proptest_seed(), ..ProptestConfig::default() })]

    #[test]
    fn random_networks_pass_gradcheck(
        seed in any::<u64>(),
        depth in 1usize..=3,
        widths in proptest::collection::vec(1usize..=4, 4),
        activation in 0usize..ACTIVATIONS.len(),
        loss in 0usize..LOSSES.len(),
    ) {
        let mut widths = widths;
        // Softmax-based losses need at least two classes to be interesting.
        if widths[depth] < 2 { widths[depth] = 2; }
        let acts = [ACTIVATIONS[activation], ACTIVATIONS[(activation + 1) % ACTIVATIONS.len()]];
        let text = common::random_network(seed, depth, &widths, &acts, LOSSES[loss]);
        let model = nnderive::load(&nnderive::Source::new("random.nn", text.clone())).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        // A pre-activation exactly at a kink has no derivative to check against.
        prop_assume!(!solution.notes.iter().any(|n| matches!(n, nnderive::eval::evaluate::Note::Kink { .. })));
        let check = nnderive::gradcheck(&model).unwrap();
        prop_assert!(check.worst() < 1e-5, "{text}\n{check:?}");
    }
}

/// Networks off the beaten path: a loss of shape [1], a parameter used
/// twice, scalar parameters spread over vectors, quotients, powers,
/// transposes, custom functions of two arguments, written-out losses.
#[test]
fn unusual_networks_pass_gradcheck() {
    let networks = [
        "input x[2] = [1, 2]\nparam W[1,2] = [[0.5, -1]]\nloss L = W @ x\n",
        "input x[2] = [1, 2]\nparam W[2] = [0.3, -0.7]\nloss L = W.T @ x + x.T @ W\n",
        "input x[3] = [1, -2, 0.5]\nparam s = 0.7\nparam b = -0.2\nloss L = sum(tanh(s * x + b)^2)\n",
        "input x[2] = [0.5, 1.5]\nparam W[2,2] = [[0.2, -0.4], [0.6, 0.1]]\nH = sigmoid(W @ x)\nloss L = sum(W @ H) / 3\n",
        "input x[2] = [0.5, 1.5]\nparam p[2] = [1.5, 2.5]\nloss L = sum(x / p + p^-2 + sqrt(p) * log(p))\n",
        "input x[2] = [0.5, -1]\nparam W[2,2] = [[1, 2], [-1, 0.5]]\nfn g(a, b) = a * b + exp(-a^2)\nloss L = mean(g(W @ x, x))\n",
        "input x[3] = [1, 2, 3]\ntarget y[3] = [0.2, 0.3, 0.5]\nparam W[3,3] = [[0.1, 0, 0.2], [0, -0.1, 0.3], [0.2, 0.1, 0]]\nloss L = -sum(y * log(softmax(W @ x)))\n",
        "input x[2] = [1, -1]\ntarget y[2] = [0.25, 0.75]\nparam W[2,2] = [[0.3, 0.1], [-0.2, 0.4]]\nZ = W @ x\nloss L = -sum(y * log_softmax(Z)) + 0.5 * sum(W^2)\n",
        "input x[2] = [0.3, 0.6]\ntarget y[2] = [1, 0]\nparam W1[2,2] = [[0.5, -0.5], [0.25, 0.75]]\nparam W2[2,2] = [[1, 0], [0.5, -1]]\nH = softplus(W1 @ x) * cos(W1 @ x)\no = sigmoid(W2 @ H)\nloss L = bce(y, o) + mse(y, o)\n",
        "input x[2] = [2, 3]\nparam W[2,2] = [[0.1, 0.2], [0.3, 0.4]]\nA = W @ x\nB = W.T @ A\nloss L = sum(abs(B - A) + relu(A))\n",
    ];
    for text in networks {
        let model = nnderive::load(&nnderive::Source::new("n.nn", text)).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let check = nnderive::gradcheck(&model).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        assert!(check.worst() < 1e-6, "{text}\n{check:?}");
    }
}

/// By default the CLI checks a sample of each parameter's entries, says
/// so, and reports progress; `--all` (no sample) checks every entry.
#[test]
fn a_sample_of_entries_is_checked_and_said() {
    let text = common::random_network(4, 2, &[20, 10, 3], &["tanh"], "mse");
    let model = nnderive::load(&nnderive::Source::new("s.nn", text)).unwrap();
    let mut calls = Vec::new();
    let options = nnderive::GradCheckOptions { sample: Some(64), progress: &mut |d, t| calls.push((d, t)) };
    let check = nnderive::gradcheck_with(&model, options).unwrap();
    let w1 = &check.params[0];
    assert_eq!((w1.checked, w1.entries), (64, 200));
    assert!(check.params.iter().skip(1).all(|p| p.checked == p.entries.min(64)));
    let total: usize = check.params.iter().map(|p| p.checked).sum();
    assert_eq!(calls.last(), Some(&(total, total)));
    assert!(check.worst() < 1e-6);
    let shown = nnderive::render::text::gradcheck(&model, &check, 1e-6);
    assert!(shown.contains("note: entries checked, spread evenly: W1 (64 of 200)"), "{shown}");
    assert_eq!(nnderive::eval::sampled_entries(5, Some(3)), [0, 2, 4]);
    assert_eq!(nnderive::eval::sampled_entries(3, Some(64)), [0, 1, 2]);
    let all = nnderive::gradcheck(&model).unwrap();
    assert!(all.params.iter().all(|p| p.checked == p.entries));
}
