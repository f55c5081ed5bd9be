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

/// The `.nn` form of every example, or (for the examples whose derivation
/// uses an operation the language has no function for) the reason it is
/// refused.
#[test]
fn derivation_in_nn_syntax_of_every_example() {
    common::settings().bind(|| {
        insta::glob!("../grammar/examples", "*.nn", |path| {
            let source = common::source(path);
            let model = nnderive::load(&source).expect("example checks");
            let derivation = derive(&model);
            let text = match render::nn::derivation(&model, &derivation) {
                Ok(text) => text,
                Err(e) => format!("refused: {}\n", e.message()),
            };
            insta::assert_snapshot!("derive_nn", text);
        });
    });
}

/// The `.nn` form of every example is a file that checks, and derives
/// again; given the example's values, `solve` computes each derived
/// quantity as an equation, and each equals the solver's own error term or
/// gradient. The examples refused are exactly those whose derivation uses a
/// layer's adjoint or class labels, which the language cannot write.
#[test]
fn nn_form_checks_and_evaluates_to_the_solution() {
    use nnderive::derive::Wrt;
    use render::formula::{formula, Notation};
    let mut refused = Vec::new();
    let mut compared = 0;
    let mut paths: Vec<_> = std::fs::read_dir(common::example("")).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let model = nnderive::load(&common::source(&path)).unwrap();
        let text = match render::nn::derivation(&model, &derive(&model)) {
            Ok(text) => text,
            Err(render::nn::Unwritable::Operation { operation, .. }) => {
                refused.push((stem, operation));
                continue;
            }
            Err(e) => panic!("{stem}: {}", e.message()),
        };
        let written = nnderive::load(&nnderive::Source::new(format!("{stem}-derived.nn"), text.clone()))
            .unwrap_or_else(|e| panic!("{stem}: the .nn form does not check: {e:?}\n{text}"));
        // Derived again, it derives the same gradients of the same parameters.
        let again = derive(&written);
        assert_eq!(again.gradients.len(), model.params().count(), "{stem}");

        // The example's values, given to the written file's declarations.
        let Ok(solution) = nnderive::solve(&model) else { continue };
        if model.ids().any(|id| model.tensor(id).role.is_data() && model.tensor(id).value.is_none()) {
            continue; // values left open: nothing to compare as numbers
        }
        let mut given = written;
        for id in model.ids().filter(|&id| model.tensor(id).role.is_data()) {
            let t = model.tensor(id);
            given = nnderive::with_value(given, &t.name, t.shape.dims(), t.exact_value().unwrap())
                .unwrap_or_else(|e| panic!("{stem}: {} takes its value: {e:?}", t.name));
        }
        let values = nnderive::solve(&given).unwrap_or_else(|e| panic!("{stem}: {e:?}"));
        let o = render::outline::outline(&model, &solution, None);
        let g = &solution.derivation.graph;
        let mut expected: Vec<(String, &nnderive::eval::tensor::Tensor)> = o
            .error_terms
            .iter()
            .map(|term| (formula(g, term.definition.node, &o.names, Notation::Nn), term.value))
            .collect();
        expected.extend(
            o.gradients.iter().map(|grad| (o.names.gradient_of(Wrt::Tensor(grad.param), Notation::Nn, g), grad.value)),
        );
        for (name, want) in expected {
            let id = given.tensor_id(&name).unwrap_or_else(|| panic!("{stem}: no equation {name}"));
            let (got, want) = (values.value(id).to_f64_vec(), want.to_f64_vec());
            assert_eq!(got.len(), want.len(), "{stem}: {name}");
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{stem}: {name} is {got:?}, the solver's {want:?}");
            }
            compared += 1;
        }
    }
    assert!(compared >= 100, "only {compared} quantities compared");
    let refused: Vec<String> = refused.iter().map(|(stem, op)| format!("{stem}: {op}")).collect();
    assert_eq!(
        refused,
        [
            "batch_rows: onehot",
            "batchnorm: onehot",
            "batchnorm_spatial: sum_spatial",
            "cnn: maxpool_back",
            "cnn_avgpool: avgpool_back",
            "cnn_batched: conv2d_kernel_grad",
            "cnn_batched_net: avgpool_back",
            "cnn_nhwc: avgpool_back",
            "cnn_stride_pad: reshape",
            "cnn_two_conv: reshape",
            "conv_nhwc_backward: conv2d_input_grad",
            "dropout: onehot",
            "embedding: scatter_add",
            "layernorm: onehot",
            "lstm_step_slices: unslice",
            "pool_batched: maxpool_back",
            "pool_ceil: maxpool_back",
            "pool_rect: maxpool_back",
            "pool_variants: maxpool_back"
        ]
    );
}

/// A derived name the file already uses is refused, not written twice.
#[test]
fn nn_form_refuses_a_name_the_file_uses() {
    let text = "input x[2] = [1, 2]\nparam W[2,2] = [[1, 0], [0, 1]]\ndelta1 = W @ x\nloss L = sum(sigmoid(delta1))\n";
    let model = nnderive::load(&nnderive::Source::new("taken.nn", text)).unwrap();
    let derivation = derive(&model);
    let refused = render::nn::derivation(&model, &derivation).unwrap_err();
    assert_eq!(refused, render::nn::Unwritable::NameTaken { name: "delta1".into() });
    // Under another name the same network is written, and checks.
    let renamed = text.replace("delta1", "Z");
    let model = nnderive::load(&nnderive::Source::new("renamed.nn", renamed)).unwrap();
    let written = render::nn::derivation(&model, &derive(&model)).unwrap();
    nnderive::load(&nnderive::Source::new("written.nn", written)).unwrap();
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

/// Every `.nn` file whose text output a reader sees: the examples and the
/// readable and unrolled fixtures, plus the issue's own cases of a minus
/// sign from a constant.
fn texts_with_formulas() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["grammar/examples", "tests/fixtures/readable", "tests/fixtures/unrolled"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            out.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
        }
    }
    let head = "input x[2] = [1, 2]\ntarget y[2] = [0, 1]\nparam W[2,2] = [[0.1, -0.2], [0.3, 0.4]]\n";
    for (name, rest) in [
        ("-mean", "p = sigmoid(W @ x)\nloss L = -mean(y * log(p))\n"),
        ("2 ce", "p = softmax(W @ x)\nloss L = 2 * cross_entropy(y, p)\n"),
        ("lrelu", "fn lrelu(t) = relu(t) - 0.01 * relu(-t)\np = softmax(lrelu(W @ x))\nloss L = cross_entropy(y, p)\n"),
        ("minus", "p = sigmoid(-(W @ x) - 2 * x)\nloss L = -3 * sum(y * log(p)) - sum(-1.5 * W)\n"),
    ] {
        out.push((name.to_string(), format!("{head}{rest}")));
    }
    out
}

/// Is `line` a row of values (numbers in brackets, sums of them, `2.68 → 2.63`)
/// rather than a formula? Values keep their ASCII sign, as numbers are typed.
fn is_value_line(line: &str) -> bool {
    let rest =
        [" = ", ": "].iter().filter_map(|sep| line.rfind(sep).map(|i| &line[i + sep.len()..])).min_by_key(|r| r.len());
    let rest = rest.unwrap_or(line).trim_start_matches("= ");
    let is_number = |t: &str| {
        let t = t.strip_prefix('-').unwrap_or(t);
        !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '/') || t == "NaN"
    };
    rest.split(|c: char| c.is_whitespace() || "⎡⎤⎢⎥⎣⎦[]".contains(c))
        .filter(|t| !t.is_empty())
        .all(|t| is_number(t) || matches!(t, "+" | "→"))
}

/// The formula printer never mixes `-` and `−`: in the text output of every
/// example and fixture (derivation, and solution at full precision and
/// rounded), outside rows of values an ASCII `-` only joins two words
/// (`cross-correlation`, the rule `d-relu`), never stands for a minus.
#[test]
fn text_formulas_use_only_the_unicode_minus() {
    for (name, text) in texts_with_formulas() {
        let model = nnderive::load(&nnderive::Source::new("t.nn", text)).unwrap();
        let mut outputs = vec![render::text::derivation(&model, &derive(&model))];
        if let Ok(solution) = nnderive::solve(&model) {
            outputs.push(render::text::solution(&model, &solution, Some(4)));
            outputs.push(render::text::solution(&model, &solution, None));
        }
        for out in outputs {
            for line in out.lines().filter(|l| !is_value_line(l)) {
                let chars: Vec<char> = line.chars().collect();
                for (i, _) in chars.iter().enumerate().filter(|(_, &c)| c == '-') {
                    let letter =
                        |j: Option<usize>| j.and_then(|j| chars.get(j)).is_some_and(|c| c.is_ascii_alphabetic());
                    assert!(
                        letter(i.checked_sub(1)) && letter(Some(i + 1)),
                        "{name}: an ASCII '-' in a formula:\n{line}"
                    );
                }
            }
        }
    }
}

/// The left-hand sides a section of a derivation's text states, with the
/// line that states each: every line `lhs = …` but the continuations
/// (`= …`), the notes in parentheses, and a section's opening line that
/// only names its error term (`Δ2 = ∂L/∂scores`, said before its steps).
/// Sections are the forward pass, the gradients, and each error term (the
/// error terms are separated by blank lines).
fn stated_per_section(text: &str) -> Vec<Vec<(String, String)>> {
    let mut sections: Vec<Vec<(String, String)>> = Vec::new();
    let mut heading = "";
    let mut opening = true;
    for line in text.lines() {
        if !line.is_empty() && !line.starts_with(' ') {
            heading = line;
            sections.push(Vec::new());
            opening = true;
            continue;
        }
        if !matches!(heading, "Forward pass" | "Error terms" | "Gradients") {
            continue;
        }
        let body = line.trim();
        if body.is_empty() {
            if heading == "Error terms" {
                sections.push(Vec::new());
                opening = true;
            }
            continue;
        }
        let first = std::mem::replace(&mut opening, false);
        if body.starts_with('=') || body.starts_with('(') {
            continue;
        }
        let Some((lhs, rhs)) = body.split_once(" = ") else { continue };
        let names_only = heading == "Error terms" && first && !rhs.contains("   [") && rhs.trim().starts_with('∂');
        if names_only {
            continue;
        }
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        sections.last_mut().expect("a heading first").push((words(lhs), words(body)));
    }
    sections
}

/// A quantity is stated once in a section and referred to by its name
/// afterwards: in the derivation of every example, fixture and documented
/// network, no section of the forward pass, the error terms or the
/// gradients states one left-hand side twice (`∂L/∂out = …` before both
/// ∂L/∂γ and ∂L/∂β, a gradient's last step and then its `[result]`, a
/// named gradient's steps and then its formula again).
#[test]
fn no_section_states_a_quantity_twice() {
    let mut texts = texts_with_formulas();
    texts.extend(common::documented_networks());
    let mut checked = 0;
    for (name, text) in texts {
        let model = nnderive::load(&nnderive::Source::new("t.nn", text)).unwrap();
        let derived = render::text::derivation(&model, &derive(&model));
        for section in stated_per_section(&derived) {
            for (i, (lhs, line)) in section.iter().enumerate() {
                let again = section[..i].iter().find(|(earlier, _)| earlier == lhs);
                assert!(
                    again.is_none(),
                    "{name}: {lhs} stated twice in one section:\n{}\n{line}\n\n{derived}",
                    again.unwrap().1
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 60, "only {checked} derivations scanned");
}

/// The scan finds what it looks for: a section that states `∂L/∂out`
/// twice, or ends with a `[result]` restating its last step.
#[test]
fn the_scan_for_restated_quantities_can_fail() {
    let twice = "Gradients\n  ∂L/∂out = a   [d-mse at L]\n  ∂L/∂γ = b   [d-mul]\n  ∂L/∂out = a   [d-mse at L]\n";
    let lhs: Vec<String> = stated_per_section(twice).concat().into_iter().map(|(l, _)| l).collect();
    assert_eq!(lhs, ["∂L/∂out", "∂L/∂γ", "∂L/∂out"]);
    let error_term = "Error terms\n  Δ1 = ∂L/∂a\n      ∂L/∂a = x   [d-tanh]\n  Δ1 = x\n\n  Δ2 = ∂L/∂b\n  Δ2 = ∂L/∂b\n";
    let sections = stated_per_section(error_term);
    let lhs: Vec<Vec<&str>> = sections.iter().map(|s| s.iter().map(|(l, _)| l.as_str()).collect()).collect();
    assert_eq!(lhs, [vec!["∂L/∂a", "Δ1"], vec!["Δ2"]], "the opening line names, the rest state");
    assert_eq!(sections[1][0].1, "Δ2 = ∂L/∂b");
}

/// A convention at a kink restates derivatives in its sentence
/// (`relu′(t) = step(t)` and `step′(t) = 0`); each restated derivative is
/// what the built-in's own rule builds, as the formula printer prints it,
/// so that the sentence cannot drift from the rule. (Checked in the text
/// notation: the LaTeX statements write ∂f/∂t in a form of their own.)
#[test]
fn kink_conventions_restate_the_rules_derivatives() {
    use nnderive::derive::rules::{convention, rule};
    use nnderive::model::sentence::Part;
    use nnderive::model::Elementwise;
    use nnderive::render::formula::Notation;
    use nnderive::render::training::Piece;
    let model = nnderive::load(&nnderive::Source::new("t.nn", "param w = 1\nloss L = w^2\n")).unwrap();
    let mut checked = Vec::new();
    for f in Elementwise::ALL {
        let Some(c) = convention(f) else { continue };
        let stated: String = render::text::rule_statement(rule(f).name, &model, Notation::Text)
            .unwrap()
            .into_iter()
            .map(|p| match p {
                Piece::Words(w) => w.to_string(),
                Piece::Formula(s) => s,
            })
            .collect();
        let name = f.name();
        // The statement's formulas that give this built-in's derivative at
        // any t (not its value at the kink, `relu′(0) = …`).
        let restated = c.statement().iter().filter_map(|part| match part {
            Part::Math { text, .. } if text.starts_with(&format!("{name}′(t)")) => Some(*text),
            Part::Math { text, .. } if text.starts_with(&format!("∂{name}/∂")) => Some(*text),
            _ => None,
        });
        for text in restated {
            assert!(stated.contains(text), "{name}: {text:?} is not the rule's {stated:?}");
            checked.push(name);
        }
    }
    assert!(checked.len() >= 6, "restated derivatives checked: {checked:?}");
}
