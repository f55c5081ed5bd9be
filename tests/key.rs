//! `nnderive key`: answer keys and handouts. Reviewed snapshots of the
//! assignment's key with each `--hide`; the key's values against a
//! computation of the assignment written out here; every example in every
//! format with every `--hide` (a blank per entry of each value, no hidden
//! value or formula left in the output); the LaTeX compiles in
//! `tests/documents.rs`.

mod common;

use nnderive::render;
use nnderive::render::formula::{formula, Notation};
use nnderive::render::key::{self, Hide};
use serde_json::Value;

const HIDES: [Hide; 3] = [Hide::Nothing, Hide::Values, Hide::Formulas];

fn solved(name: &str) -> (nnderive::model::Model, nnderive::eval::Solution) {
    let model = nnderive::load(&common::source(&common::example(name))).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    (model, solution)
}

/// The assignment's key and both handouts, as a teacher prints them.
#[test]
fn assignment_key_with_each_hide() {
    let (model, solution) = solved("assignment4.nn");
    common::settings().bind(|| {
        for (hide, name) in [(Hide::Nothing, "none"), (Hide::Values, "values"), (Hide::Formulas, "formulas")] {
            let k = key::build(&model, &solution, Some(4), hide);
            insta::assert_snapshot!(format!("key_assignment4_hide_{name}"), key::text(&k, hide.default_title()));
        }
    });
}

/// The key's numbers are the assignment's, computed here in f64 from the
/// file's values: the forward pass, the loss, δ2 = ŷ − y, δ1 = (W2ᵀ δ2) ⊙
/// f′(Z1) with f′ = step + cos, the gradients and one SGD step; Z1 exactly.
#[test]
fn assignment_key_values_are_the_assignments() {
    let (model, solution) = solved("assignment4.nn");
    let k = key::build(&model, &solution, None, Hide::Nothing);
    let json: Value = serde_json::from_str(&key::json(&k, "Answer key")).unwrap();
    let items: Vec<&Value> =
        json["parts"].as_array().unwrap().iter().flat_map(|p| p["items"].as_array().unwrap()).collect();
    let item = |name: &str| *items.iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("no {name}"));
    let flat = |v: &Value| -> Vec<f64> {
        match v {
            Value::Array(rows) => rows
                .iter()
                .flat_map(|r| match r {
                    Value::Array(c) => c.iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>(),
                    x => vec![x.as_f64().unwrap()],
                })
                .collect(),
            x => vec![x.as_f64().unwrap()],
        }
    };

    let x = [1.0, -1.0, 0.5, 2.0];
    let y = [1.0, 0.0];
    let w1 = [[0.1, -0.2, 0.3, 0.4], [0.5, -0.3, 0.1, -0.2], [0.4, 0.2, -0.5, 0.3]];
    let b1 = [0.1, -0.1, 0.05];
    let w2 = [[-0.3, 0.2, 0.1], [0.4, -0.5, 0.3]];
    let b2 = [0.05, -0.05];
    let z1: Vec<f64> = (0..3).map(|i| (0..4).map(|j| w1[i][j] * x[j]).sum::<f64>() + b1[i]).collect();
    let h: Vec<f64> = z1.iter().map(|&z: &f64| z.max(0.0) + z.sin()).collect();
    let z2: Vec<f64> = (0..2).map(|i| (0..3).map(|j| w2[i][j] * h[j]).sum::<f64>() + b2[i]).collect();
    let total: f64 = z2.iter().map(|z| z.exp()).sum();
    let yhat: Vec<f64> = z2.iter().map(|z| z.exp() / total).collect();
    let loss = -(y[0] * yhat[0].ln() + y[1] * yhat[1].ln());
    let d2: Vec<f64> = (0..2).map(|i| yhat[i] - y[i]).collect();
    let d1: Vec<f64> = (0..3)
        .map(|j| (0..2).map(|i| w2[i][j] * d2[i]).sum::<f64>() * (if z1[j] > 0.0 { 1.0 } else { 0.0 } + z1[j].cos()))
        .collect();
    let dw1: Vec<f64> = (0..3).flat_map(|i| (0..4).map(move |j| (i, j))).map(|(i, j)| d1[i] * x[j]).collect();
    let dw2: Vec<f64> = (0..2).flat_map(|i| (0..3).map(move |j| (i, j))).map(|(i, j)| d2[i] * h[j]).collect();
    let w2_new: Vec<f64> = (0..6).map(|k| w2[k / 3][k % 3] - 0.001 * dw2[k]).collect();

    assert_eq!(item("Z1")["exact"], serde_json::json!(["27/20", "7/20", "3/5"]));
    for (name, want) in [
        ("Z1", z1),
        ("H", h),
        ("Z2", z2),
        ("yhat", yhat),
        ("L", vec![loss]),
        ("delta2", d2.clone()),
        ("delta1", d1.clone()),
        ("dW1", dw1),
        ("db1", d1),
        ("dW2", dw2),
        ("db2", d2),
        ("W2_new", w2_new),
    ] {
        let got = flat(&item(name)["value"]);
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "{name}: {got:?} against {want:?}");
        }
    }
    // Numbered as a problem set numbers them.
    let labels: Vec<&str> = items.iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        [
            "1(a)", "1(b)", "1(c)", "1(d)", "2", "3(a)", "3(b)", "3(c)", "4(a)", "4(b)", "4(c)", "4(d)", "5(a)",
            "5(b)", "5(c)", "5(d)"
        ]
    );
}

/// The entries of every computed value the key holds (each blank stands for one).
fn entries(k: &key::Key) -> usize {
    k.parts
        .iter()
        .flat_map(|p| &p.items)
        .filter_map(|i| k.value(i.what))
        .map(|v| v.dims().iter().product::<usize>())
        .sum()
}

/// Every example, every format, every `--hide`: one blank per entry of
/// each computed value when values are hidden, and none of the values
/// left; no derived formula left when formulas are hidden, the forward
/// equations kept; the JSON says each item's shape and hides what it should.
#[test]
fn every_example_in_every_format_hides_what_it_says() {
    let mut paths: Vec<_> = std::fs::read_dir(common::example("")).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let mut keys = 0;
    for path in paths {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let model = nnderive::load(&common::source(&path)).unwrap();
        let Ok(solution) = nnderive::solve(&model) else { continue };
        for hide in HIDES {
            let k = key::build(&model, &solution, Some(4), hide);
            let n = entries(&k);
            let text = key::text(&k, "Key");
            let latex = render::latex::write(key::blocks(&k), "Key");
            let markdown = render::markdown::write(key::blocks(&k), "Key");
            let json: Value = serde_json::from_str(&key::json(&k, "Key"))
                .unwrap_or_else(|e| panic!("{stem} {hide:?}: the JSON does not parse: {e}"));
            let blanks_text = text.matches("_____").count();
            let boxes = latex.matches("\\boxed{").count();
            assert_eq!(boxes, markdown.matches("\\boxed{").count(), "{stem} {hide:?}");
            let formulas_hidden = text.matches(&"_".repeat(20)).count();
            let items: Vec<&Value> =
                json["parts"].as_array().unwrap().iter().flat_map(|p| p["items"].as_array().unwrap()).collect();
            let key_items: Vec<&key::Item> = k.parts.iter().flat_map(|p| &p.items).collect();
            assert_eq!(items.len(), key_items.len(), "{stem}");
            for (item, what) in items.iter().zip(key_items.iter().map(|i| i.what)) {
                // The forward pass and the loss are the problem: their formulas always show.
                let derived = !matches!(what, key::What::Equation(_));
                let has_formula = k.formula(what, Notation::Text).is_some();
                let has_value = k.value(what).is_some();
                assert_eq!(
                    item.get("formula").is_some(),
                    has_formula && !(hide == Hide::Formulas && derived),
                    "{stem}"
                );
                assert_eq!(item.get("shape").is_some(), has_value, "{stem}");
                assert_eq!(item.get("value").is_some(), has_value && hide != Hide::Values, "{stem}");
            }
            let derived_formulas = k
                .parts
                .iter()
                .flat_map(|p| &p.items)
                .filter(|i| k.hides_formula(i.what) && k.formula(i.what, Notation::Text).is_some())
                .count();
            match hide {
                Hide::Values => {
                    assert_eq!(boxes, n, "{stem}: one box per entry");
                    assert_eq!(blanks_text - formulas_hidden, n, "{stem}: one blank per entry");
                    // No computed value is left (the given ones are the problem).
                    for item in &items {
                        assert!(item.get("value").is_none() && item.get("exact").is_none(), "{stem}: {item}");
                    }
                }
                Hide::Formulas => {
                    assert_eq!(boxes, 0, "{stem}");
                    assert_eq!(formulas_hidden, derived_formulas, "{stem}");
                    assert_eq!(latex.matches("\\underline{\\hspace{10em}}").count(), derived_formulas, "{stem}");
                    for term in &k.o.error_terms {
                        let formula =
                            formula(&k.o.derivation.graph, term.definition.formula, &k.o.names, Notation::Text);
                        assert!(!text.contains(&format!("= {formula}\n")), "{stem}: {formula} is shown");
                    }
                }
                Hide::Nothing => {
                    assert_eq!((boxes, formulas_hidden), (0, 0), "{stem}");
                }
            }
            keys += 1;
        }
    }
    assert!(keys >= 60, "{keys} keys");
}

/// A recurrence's key: the forward pass step by step, the error terms from
/// the last step down, a gradient as its sum over time; after Adam's
/// steps, the parameters after the last step.
#[test]
fn keys_of_a_recurrence_and_of_adam() {
    let (model, solution) = solved("rnn.nn");
    let k = key::build(&model, &solution, Some(4), Hide::Nothing);
    let text = key::text(&k, "RNN");
    // The pre-activation nnderive names comes first, as the error terms use it.
    for expected in [
        "  (a) zh₁ = Wxh x₁ + Whh h₀ + bh\n",
        "  (b) h₁ = tanh(zh₁)\n",
        "  (a) ∂L/∂Wxh = Σ_t δh_t x_tᵀ\n",
        "5. Update\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let (model, solution) = solved("assignment4_adam.nn");
    let k = key::build(&model, &solution, Some(4), Hide::Values);
    let text = key::text(&k, "Adam");
    assert!(text.contains("the parameters after step 5:\n  (a) W1⁽⁵⁾ = ⎡ ________"), "{text}");
}

fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nnderive"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

/// The command line: `key` writes its file whole with `-o` and takes a
/// title; `--title` belongs to documents, and elsewhere is a usage error;
/// a file with an error exits 1 with its message.
#[test]
fn key_and_titles_on_the_command_line() {
    let dir = std::env::temp_dir().join(format!("nnderive-key-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("handout.tex");
    let out = run(&[
        "key",
        "grammar/examples/assignment4.nn",
        "--hide",
        "values",
        "--round",
        "4",
        "--format",
        "latex",
        "--title",
        "Week 4 & back-propagation",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(
        written.contains("\\title{Week 4 \\& back-propagation}") && written.contains("\\boxed{\\phantom{-0.0000}}")
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let markdown =
        run(&["derive", "grammar/examples/assignment4.nn", "--format", "markdown", "--title", "Formula sheet"]);
    let text = String::from_utf8_lossy(&markdown.stdout);
    assert!(text.starts_with("# Formula sheet\n\n## 1. Forward pass\n"), "{text}");
    assert!(!text.contains("1.35"), "a derivation has no values");
    let json = run(&["derive", "grammar/examples/assignment4.nn", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("derive --format json is JSON");
    assert_eq!(json["deltas"]["δ1"]["formula"], "(W2ᵀ δ2) ⊙ f′(Z1)", "{json}");
    let solve = run(&["solve", "grammar/examples/assignment4.nn", "--format", "latex", "--title", "Key"]);
    assert!(String::from_utf8_lossy(&solve.stdout).contains("\\title{Key}\n"));

    for args in [
        &["derive", "grammar/examples/assignment4.nn", "--title", "T"][..],
        &["solve", "grammar/examples/assignment4.nn", "--format", "json", "--title", "T"][..],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "error: --title names a document: use it with --format latex or --format markdown\n"
        );
    }
    let bad = run(&["key", "tests/fixtures/errors/check_several_errors.nn"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("has 4 errors"));
    assert_eq!(run(&["key", "grammar/examples/assignment4.nn", "--hide", "everything"]).status.code(), Some(2));
}
