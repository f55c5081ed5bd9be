//! Every derived gradient, evaluated, agrees with central finite differences
//! of the loss: on every example and on randomly generated networks.

mod common;

use proptest::prelude::*;

#[test]
fn every_example_passes_gradcheck() {
    for entry in std::fs::read_dir(common::example("")).unwrap() {
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
