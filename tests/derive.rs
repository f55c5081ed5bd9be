//! The symbolic derivation: reviewed snapshots of every example, the
//! assignment's exact formulas, and formula size growing linearly with depth.

mod common;

use nnderive::derive::derive;
use nnderive::render;

#[test]
fn derivation_of_every_example() {
    common::settings().bind(|| {
        insta::glob!("../grammar/examples", "*.nn", |path| {
            let source = common::source(path);
            let model = nnderive::load(&source).expect("example checks");
            let derivation = derive(&model);
            insta::assert_snapshot!("derive", render::text::derivation(&model, &derivation));
        });
    });
}

#[test]
fn derivation_in_nn_syntax_of_every_example() {
    common::settings().bind(|| {
        insta::glob!("../grammar/examples", "*.nn", |path| {
            let source = common::source(path);
            let model = nnderive::load(&source).expect("example checks");
            let derivation = derive(&model);
            insta::assert_snapshot!("derive_nn", render::nn::derivation(&model, &derivation));
        });
    });
}

/// Every formula of the `.nn` form parses back as `.nn` syntax.
#[test]
fn nn_form_parses_back() {
    for entry in std::fs::read_dir(common::example("")).unwrap() {
        let path = entry.unwrap().path();
        let model = nnderive::load(&common::source(&path)).unwrap();
        let text = render::nn::derivation(&model, &derive(&model));
        for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            nnderive::syntax::parse(line)
                .unwrap_or_else(|e| panic!("{}: `{line}` does not parse: {:?}", path.display(), e));
        }
    }
}

/// The assignment's answer, line for line as the textbook writes it.
#[test]
fn assignment_formulas_are_textbook() {
    let model = nnderive::load(&common::source(&common::example("assignment4.nn"))).unwrap();
    let text = render::text::derivation(&model, &derive(&model));
    for expected in [
        "  δ2 = ŷ − y\n",
        "  ∂L/∂W2 = δ2 Hᵀ   [d-matmul-left at Z2]\n",
        "  ∂L/∂b2 = δ2      [d-add at Z2]\n",
        "  δ1 = (W2ᵀ δ2) ⊙ f′(Z1)\n",
        "  ∂L/∂W1 = δ1 xᵀ   [d-matmul-left at Z1]\n",
        "  ∂L/∂b1 = δ1      [d-add at Z1]\n",
        "f′(t) = step(t) + cos(t)\n",
        "  Z1 = W1 x + b1\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

/// The written-out cross-entropy gives the same error term as the built-in.
#[test]
fn written_out_cross_entropy_matches_builtin() {
    let base = std::fs::read_to_string(common::example("assignment4.nn")).unwrap();
    let written = base.replace("cross_entropy(y, yhat)", "-sum(y * log(yhat))");
    assert_ne!(base, written);
    let model = nnderive::load(&nnderive::Source::new("w.nn", written)).unwrap();
    let text = render::text::derivation(&model, &derive(&model));
    assert!(text.contains("  δ2 = ŷ − y\n"), "{text}");
}

/// A softmax written out, `exp(z) / sum(exp(z))`, followed by the built-in or
/// a written-out cross-entropy, reaches ŷ − y by the same steps as the
/// built-ins, naming the rule; the values agree with finite differences.
#[test]
fn written_out_softmax_matches_builtin() {
    let base = std::fs::read_to_string(common::example("assignment4.nn")).unwrap();
    let softmax = base.replace("softmax(Z2)", "exp(Z2) / sum(exp(Z2))");
    assert_ne!(base, softmax);
    for text in [softmax.clone(), softmax.replace("cross_entropy(y, yhat)", "-sum(y * log(yhat))")] {
        let model = nnderive::load(&nnderive::Source::new("w.nn", text)).unwrap();
        let out = render::text::derivation(&model, &derive(&model));
        for expected in [
            "  ŷ  = exp(Z2) / Σexp(Z2)\n",
            "(diag(ŷ) − ŷ ŷᵀ) (∂L/∂ŷ)         [d-softmax of exp(z) / Σexp(z) at ŷ]\n",
            "= ŷ − y                            [Σy = 1]\n",
            "  δ2 = ŷ − y\n",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in\n{out}");
        }
        assert!(nnderive::gradcheck(&model).unwrap().worst() < 1e-6);
    }
}

/// Without target values, Σy = 1 is assumed and the general form is shown.
#[test]
fn unknown_target_shows_general_form() {
    let model = nnderive::load(&common::source(&common::example("symbolic.nn"))).unwrap();
    let text = render::text::derivation(&model, &derive(&model));
    assert!(text.contains("δ2 = ŷ − y"), "{text}");
    assert!(text.contains("ŷ Σy − y"), "{text}");
    assert!(text.contains("assumed"), "{text}");
}

/// A target that does not sum to one keeps the general form.
#[test]
fn target_not_summing_to_one_keeps_general_form() {
    let base = std::fs::read_to_string(common::example("assignment4.nn")).unwrap();
    let text = base.replace("target y[2]    = [1, 0]", "target y[2]    = [1, 1]");
    let model = nnderive::load(&nnderive::Source::new("t.nn", text)).unwrap();
    let out = render::text::derivation(&model, &derive(&model));
    assert!(out.contains("  δ2 = ŷ Σy − y\n"), "{out}");
}

/// Stored nodes and printed text grow linearly with depth.
#[test]
fn formula_size_grows_linearly_with_depth() {
    let size = |depth: usize| {
        let widths = vec![3; depth + 1];
        let text = common::random_network(1, depth, &widths, &["tanh", "f", "sigmoid"], "cross_entropy");
        let model = nnderive::load(&nnderive::Source::new("deep.nn", text)).unwrap();
        let d = derive(&model);
        (d.graph.len(), render::text::derivation(&model, &d).len())
    };
    let (n50, t50) = size(50);
    let (n100, t100) = size(100);
    let (n200, t200) = size(200);
    for (a, b, what) in [(n50, n100, "nodes"), (n100, n200, "nodes"), (t50, t100, "text"), (t100, t200, "text")] {
        let ratio = b as f64 / a as f64;
        assert!(ratio < 2.2, "{what} grew by {ratio} when depth doubled");
    }
}

/// Formulas as a teacher writes them: each fixture under
/// `tests/fixtures/readable` says in its comment what its snapshot shows.
#[test]
fn readable_formulas() {
    common::settings().bind(|| {
        insta::glob!("fixtures/readable", "*.nn", |path| {
            let source = common::source(path);
            let model = nnderive::load(&source).expect("fixture checks");
            let solution = nnderive::solve(&model).expect("fixture solves");
            let text = format!(
                "{}\n----- solve --round 4 -----\n{}",
                render::text::derivation(&model, &solution.derivation),
                render::text::solution(&model, &solution, Some(4))
            );
            insta::assert_snapshot!("readable", text);
        });
    });
}
