//! Values left open: what a file does not give stays a symbol, and the
//! answer is still computed. Every expression is checked against an
//! independent computation: the same file solved with the value given, and
//! expressions worked out by hand.

mod common;

use std::process::Command;

use nnderive::eval::symbolic::{Num, Unknown};
use nnderive::eval::tensor::{Data, Tensor};
use nnderive::eval::Solution;
use nnderive::model::Model;
use num_rational::BigRational;

fn load(text: &str) -> Model {
    nnderive::load(&nnderive::Source::new("test.nn", text)).unwrap()
}

fn open_assignment() -> Model {
    nnderive::load(&common::source(&common::example("assignment4_open.nn"))).unwrap()
}

fn exact(n: i64, d: i64) -> Num {
    Num::Exact(BigRational::new(n.into(), d.into()))
}

/// Every value of a solution: the forward values, the δ's, the gradients,
/// the updated parameters and the losses by step, each with a label.
fn everything(model: &Model, s: &Solution) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    for id in model.ids() {
        out.push((model.tensor(id).name.clone(), s.value(id).clone()));
    }
    for (k, (_, v)) in s.symbols.iter().enumerate() {
        out.push((format!("symbol {k}"), v.clone()));
    }
    for (g, v) in s.derivation.gradients.iter().zip(&s.gradients) {
        out.push((format!("∂L/∂{}", model.tensor(g.param).name), v.clone()));
    }
    if let Some(t) = &s.training {
        for (p, v) in &t.updated {
            out.push((format!("{} (new)", model.tensor(*p).name), v.clone()));
        }
        for (k, l) in t.losses.iter().enumerate() {
            out.push((format!("L at step {k}"), l.clone()));
        }
    }
    out
}

/// Substitutes `name = values` into every open value of `open` and checks
/// it against the same quantity of `given`, entry by entry (to f64 rounding:
/// the two are computed by different sequences of operations). A value too
/// large to write out in `open` is skipped; the count of compared values is
/// returned.
fn compare_substituted(model: &Model, open: &Solution, given: &Solution, name: &str, values: &[Num]) -> usize {
    let sub = |u: &Unknown| (&*u.name == name).then(|| values[u.index.first().copied().unwrap_or(0)].clone());
    let mut compared = 0;
    for ((label, a), (_, b)) in everything(model, open).iter().zip(everything(model, given)) {
        if let Data::Symbolic(entries) = a.data() {
            if entries.iter().any(|e| matches!(e, nnderive::eval::symbolic::Sym::TooLarge)) {
                continue;
            }
        }
        let a = a.substitute(&sub).unwrap();
        assert!(!a.is_symbolic(), "{label} still has unknowns after substituting {name}");
        assert_eq!(a.dims(), b.dims(), "{label}");
        for (i, (x, y)) in a.to_f64_vec().iter().zip(b.to_f64_vec()).enumerate() {
            let scale = x.abs().max(y.abs()).max(1.0);
            assert!((x - y).abs() <= 1e-12 * scale, "{label}[{i}]: substituted {x}, solved {y}");
        }
        compared += 1;
    }
    compared
}

#[test]
fn the_assignment_as_posed_substitutes_to_each_class() {
    let model = open_assignment();
    let open = nnderive::solve(&model).unwrap();
    for (k, value) in [["1", "0"], ["0", "1"]].iter().enumerate() {
        let given = nnderive::given(model.clone(), &format!("y=[{}, {}]", value[0], value[1])).unwrap();
        let solved = nnderive::solve(&given).unwrap();
        let numbers: Vec<Num> = value.iter().map(|v| exact(v.parse().unwrap(), 1)).collect();
        let compared = compare_substituted(&model, &open, &solved, "y", &numbers);
        // Everything but the loss after the step (an expression in exp and log
        // of affine forms in y, past the size limit) is compared.
        let total = everything(&model, &open).len();
        assert_eq!(compared, total - 1, "class {}", k + 1);
    }
}

#[test]
fn the_open_answer_is_affine_in_y_with_the_known_numbers() {
    let model = open_assignment();
    let s = nnderive::solve(&model).unwrap();
    // The forward pass does not depend on y: numbers, as with y given.
    let yhat = s.value(model.tensor_id("yhat").unwrap());
    assert!(!yhat.is_symbolic());
    let p = yhat.to_f64_vec();
    // softmax of Z2 = W2 f(W1 x + b1) + b2, computed here from scratch.
    let z1 = [1.35f64, 0.35, 0.6];
    let h: Vec<f64> = z1.iter().map(|z| z.max(0.0) + z.sin()).collect();
    let w2 = [[-0.3, 0.2, 0.1], [0.4, -0.5, 0.3]];
    let b2 = [0.05, -0.05];
    let z2: Vec<f64> = (0..2).map(|i| (0..3).map(|j| w2[i][j] * h[j]).sum::<f64>() + b2[i]).collect();
    let e: Vec<f64> = z2.iter().map(|z| z.exp()).collect();
    let expect: Vec<f64> = e.iter().map(|x| x / (e[0] + e[1])).collect();
    assert!((p[0] - expect[0]).abs() < 1e-12 && (p[1] - expect[1]).abs() < 1e-12);
    // δ2 = ŷ − y: the constant ŷᵢ and the coefficient −1 on yᵢ alone.
    let delta2 = &s.symbols[0].1;
    let Data::Symbolic(entries) = delta2.data() else { panic!("δ2 should be open") };
    for (i, entry) in entries.iter().enumerate() {
        let nnderive::eval::symbolic::Sym::Poly(poly) = entry else { panic!("δ2 is small") };
        let terms: Vec<_> = poly.terms().collect();
        assert_eq!(terms.len(), 2, "δ2[{i}] = ŷ{i} − y{i}");
        assert!((terms[0].1.to_f64() - expect[i]).abs() < 1e-12);
        assert_eq!(terms[1].1, &exact(-1, 1));
        let Some((nnderive::eval::symbolic::Atom::Unknown(u), 1)) = terms[1].0.first() else { panic!() };
        assert_eq!((&*u.name, u.index.as_slice()), ("y", &[i][..]));
    }
    // The loss −Σ y log ŷ: −log ŷᵢ on each yᵢ, no constant.
    let loss =
        nnderive::render::values::scalar(s.value(model.loss), Some(4), nnderive::render::formula::Notation::Text);
    let want = format!("{:.4} y₁ + {:.4} y₂", -expect[0].ln(), -expect[1].ln());
    assert_eq!(loss, want);
}

#[test]
fn a_missing_input_gives_exact_affine_forms() {
    // Z = W x + b with x open: each entry Σⱼ Wᵢⱼ xⱼ + bᵢ, exactly.
    let model = load(
        "input x[3]\ntarget y[2] = [1, 0]\nparam W[2,3] = [[0.5, -1, 2], [0.25, 0, 3]]\nparam b[2] = [0.1, -0.2]\n\
         Z = W @ x + b\nloss L = mse(y, Z)\n",
    );
    let s = nnderive::solve(&model).unwrap();
    let z = s.value(model.tensor_id("Z").unwrap());
    let Data::Symbolic(entries) = z.data() else { panic!("Z should be open") };
    let w = [[(1, 2), (-1, 1), (2, 1)], [(1, 4), (0, 1), (3, 1)]];
    let b = [(1, 10), (-1, 5)];
    for (i, entry) in entries.iter().enumerate() {
        let nnderive::eval::symbolic::Sym::Poly(p) = entry else { panic!() };
        let mut terms = p.terms();
        assert_eq!(terms.next().map(|(_, c)| c.clone()), Some(exact(b[i].0, b[i].1)), "constant of Z[{i}]");
        // Zero weights leave no term: W[1][1] = 0.
        let rest: Vec<_> = terms.collect();
        let expect: Vec<_> = w[i].iter().enumerate().filter(|(_, c)| c.0 != 0).collect();
        assert_eq!(rest.len(), expect.len());
        for ((m, c), (j, wij)) in rest.iter().zip(expect) {
            assert_eq!(*c, &exact(wij.0, wij.1));
            let nnderive::eval::symbolic::Atom::Unknown(u) = &m[0].0 else { panic!() };
            assert_eq!(u.index, vec![j]);
        }
    }
    // mse is a polynomial of degree 2 in x, and its gradient for W affine in x;
    // substituting x gives what solve gives with x given.
    let given = nnderive::given(model.clone(), "x=[1, -2, 0.5]").unwrap();
    let solved = nnderive::solve(&given).unwrap();
    let x = [exact(1, 1), exact(-2, 1), exact(1, 2)];
    let compared = compare_substituted(&model, &s, &solved, "x", &x);
    assert_eq!(compared, everything(&model, &s).len());
}

#[test]
fn a_missing_parameter_keeps_functions_of_it_as_calls() {
    let model = load(
        "input x[2] = [1, -2]\ntarget y = 1\nparam w[2]\nparam c = 0.5\n\
         z = sum(w * x) + c\nloss L = bce(y, sigmoid(z))\ntrain sgd(lr = 0.1)\n",
    );
    let s = nnderive::solve(&model).unwrap();
    let text = nnderive::render::text::solution(&model, &s, Some(4));
    // z is affine in w; the loss keeps σ (or log) of it as a call.
    assert!(text.contains("= 0.5000 + w₁ − 2 w₂"), "{text}");
    assert!(text.contains("−log(σ(0.5000 + w₁ − 2 w₂))"), "{text}");
    let given = nnderive::given(model.clone(), "w=[0.3, 0.4]").unwrap();
    let solved = nnderive::solve(&given).unwrap();
    let w = [exact(3, 10), exact(2, 5)];
    assert!(compare_substituted(&model, &s, &solved, "w", &w) >= 6);
}

#[test]
fn a_missing_constant_is_a_symbol_too() {
    let model = load(
        "input x[2] = [1, 2]\ntarget y[2] = [0, 1]\nparam W[2,2] = [[1, 0], [0, 1]]\nconst lam\n\
         Z = W @ x\nloss L = mse(y, Z) + lam * sum(W^2)\ntrain sgd(lr = 0.5)\n",
    );
    let s = nnderive::solve(&model).unwrap();
    let g = &s.gradients[0];
    assert!(g.is_symbolic(), "∂L/∂W depends on λ");
    // ∂L/∂W = (Z − y) xᵀ + 2 λ W with Z = x = [1, 2]: entries 1 + 2λ, 2, 1, 2 + 2λ.
    let text = nnderive::render::text::solution(&model, &s, None);
    assert!(text.contains("1 + 2 λ"), "{text}");
    let given = nnderive::given(model.clone(), "lam=0.1").unwrap();
    let solved = nnderive::solve(&given).unwrap();
    assert!(compare_substituted(&model, &s, &solved, "lam", &[exact(1, 10)]) >= 5);
}

#[test]
fn expressions_past_the_size_limit_are_said_to_be_too_large() {
    // With every weight open, the softmax of the output is an expression in
    // exp of sums of relu and sin of sums: past the limit.
    let model = nnderive::load(&common::source(&common::example("symbolic.nn"))).unwrap();
    let s = nnderive::solve(&model).unwrap();
    let yhat = s.value(model.tensor_id("yhat").unwrap());
    let Data::Symbolic(entries) = yhat.data() else { panic!("ŷ should be open") };
    assert!(entries.iter().all(|e| matches!(e, nnderive::eval::symbolic::Sym::TooLarge)));
    let text = nnderive::render::text::solution(&model, &s, Some(4));
    // Named in file order, as the sections show them: tensors, error terms, gradients.
    assert!(text.contains("Z2, ŷ, L, δ2, δ1, ∂L/∂W1, ∂L/∂b1, ∂L/∂W2, ∂L/∂b2: the expressions in the values left open are too large to write out"), "{text}");
    // Bounded output: no line of pages.
    assert!(text.lines().all(|l| l.chars().count() < 2000), "a line runs on");
    let json: serde_json::Value = serde_json::from_str(&nnderive::render::json::solution(&model, &s, Some(4))).unwrap();
    assert_eq!(json["forward"]["yhat"]["value"][0]["too_large"], serde_json::json!(true));
}

#[test]
fn json_gives_each_expression_with_its_terms() {
    let model = open_assignment();
    let s = nnderive::solve(&model).unwrap();
    let json: serde_json::Value = serde_json::from_str(&nnderive::render::json::solution(&model, &s, Some(4))).unwrap();
    assert_eq!(json["given"]["y"]["open"], serde_json::json!(true));
    let delta = &json["deltas"]["δ2"]["value"][0];
    assert_eq!(delta["expression"], "0.2182 − y₁");
    assert_eq!(delta["latex"], "0.2182 - y_{1}");
    assert_eq!(delta["terms"][1]["coefficient"], serde_json::json!(-1.0));
    assert_eq!(delta["terms"][1]["exact"], "-1");
    assert_eq!(delta["terms"][1]["factors"][0], serde_json::json!({"unknown": "y", "index": [1], "power": 1}));
}

fn nnderive_cmd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nnderive")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

#[test]
fn given_on_the_command_line_is_the_same_as_in_the_file() {
    let by_option = nnderive_cmd(&["solve", "grammar/examples/assignment4_open.nn", "--given", "y=[1, 0]"]);
    let in_file = nnderive_cmd(&["solve", "grammar/examples/assignment4.nn"]);
    assert!(by_option.status.success());
    assert_eq!(String::from_utf8_lossy(&by_option.stdout), String::from_utf8_lossy(&in_file.stdout));
}

#[test]
fn option_errors_point_into_the_argument() {
    let cases: [(&[&str], &str); 6] = [
        (&["--given", "y=[0, 1, 2]"], "given_shape"),
        (&["--given", "yy=[0, 1]"], "given_unknown"),
        (&["--given", "y=[0, 1"], "given_unclosed"),
        (&["--given", "H=[0, 1, 2]"], "given_equation"),
        (&["--cases", "W1=onehot"], "cases_matrix"),
        (&["--cases", "y=hot"], "cases_kind"),
    ];
    common::settings().bind(|| {
        for (args, name) in cases {
            let mut all = vec!["solve", "grammar/examples/assignment4_open.nn"];
            all.extend_from_slice(args);
            let out = nnderive_cmd(&all);
            assert_eq!(out.status.code(), Some(2), "{name}: a usage error");
            assert!(out.stdout.is_empty());
            insta::assert_snapshot!(format!("option_error@{name}"), String::from_utf8_lossy(&out.stderr));
        }
    });
}

#[test]
fn gradcheck_names_every_value_it_needs() {
    let out = nnderive_cmd(&["gradcheck", "grammar/examples/symbolic.nn"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for name in ["input 'x'", "target 'y'", "param 'W1'", "param 'b1'", "param 'W2'", "param 'b2'"] {
        assert!(err.contains(name), "{err}");
    }
    let ok = nnderive_cmd(&["gradcheck", "grammar/examples/assignment4_open.nn", "--given", "y=[0, 1]"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

#[test]
fn cases_show_each_class_beside_the_others() {
    let out = nnderive_cmd(&["solve", "grammar/examples/assignment4_open.nn", "--round", "4", "--cases", "y=onehot"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let cases = &text[text.find("Cases:").expect("a Cases section")..];
    common::settings().bind(|| insta::assert_snapshot!("cases@assignment4_open", cases));
    let json =
        nnderive_cmd(&["solve", "grammar/examples/assignment4_open.nn", "--format", "json", "--cases", "y=onehot"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0]["y"], serde_json::json!([1.0, 0.0]));
    // Class 1: δ2 = ŷ − e₁, whose entries sum to 0.
    let d: Vec<f64> = cases[0]["values"]["δ2"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!((d[0] + d[1]).abs() < 1e-12 && d[0] < 0.0);
    // Each case is the file solved with that class given.
    for (k, y) in ["y=[1, 0]", "y=[0, 1]"].iter().enumerate() {
        let single = nnderive_cmd(&["solve", "grammar/examples/assignment4_open.nn", "--format", "json", "--given", y]);
        let single: serde_json::Value = serde_json::from_slice(&single.stdout).unwrap();
        assert_eq!(cases[k]["values"]["δ2"], single["deltas"]["δ2"]["value"], "class {}", k + 1);
        assert_eq!(cases[k]["values"]["∂L/∂W1"], single["gradients"]["W1"]["value"], "class {}", k + 1);
    }
}

/// The documents with an open answer and its cases compile with pdflatex
/// (skipped, and said so, where pdflatex is missing outside CI).
#[test]
fn the_open_answer_with_its_cases_compiles() {
    if Command::new("pdflatex").arg("--version").output().is_err() {
        assert!(std::env::var("CI").is_err(), "pdflatex is missing in CI");
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "\nSKIPPED (the test passes without it): pdflatex not found");
        return;
    }
    let dir = std::env::temp_dir().join(format!("nnderive-cases-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tex = dir.join("cases.tex");
    let out = nnderive_cmd(&[
        "solve",
        "grammar/examples/assignment4_open.nn",
        "--round",
        "4",
        "--cases",
        "y=onehot",
        "--format",
        "latex",
        "-o",
        &tex.to_string_lossy(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let latex = std::fs::read_to_string(&tex).unwrap();
    assert!(latex.contains("\\section{Cases: each one-hot value of y}"));
    let run = Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "cases.tex"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{log}");
    assert!(!log.contains("Overfull \\hbox"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_general_form_holds_for_a_target_that_does_not_sum_to_one() {
    // δ2 = ŷ Σy − y in general: with y = [0.3, 0.5] (Σy = 0.8), computed here
    // from ŷ, which does not depend on y.
    let model = open_assignment();
    let s = nnderive::solve(&model).unwrap();
    let (id, general) = &s.general[0];
    assert_eq!(*id, s.symbols[0].0, "the general form of δ2");
    let yhat = s.value(model.tensor_id("yhat").unwrap()).to_f64_vec();
    let y = [exact(3, 10), exact(1, 2)];
    let sub = |u: &Unknown| (&*u.name == "y").then(|| y[u.index[0]].clone());
    let v = general.substitute(&sub).unwrap().to_f64_vec();
    for i in 0..2 {
        let want = yhat[i] * 0.8 - y[i].to_f64();
        assert!((v[i] - want).abs() < 1e-12, "δ2[{i}] = {} (want {want})", v[i]);
    }
    // With y given, Σy = 1 is checked, not assumed: no general value.
    let given = nnderive::solve(&nnderive::given(model, "y=[1, 0]").unwrap()).unwrap();
    assert!(given.general.is_empty());
}
