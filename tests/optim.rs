//! Optimizers and the training history: each optimizer's values against its
//! published update rule, computed here by hand (exact fractions or plain
//! f64 loops over gradients written out in the test), the history's length
//! and contents in every format, the elision of long runs, and the plots.

mod common;

use num_rational::BigRational;
use serde_json::Value;

use nnderive::render;
use nnderive::Source;

fn solve(text: &str) -> (nnderive::model::Model, nnderive::eval::Solution) {
    let model = nnderive::load(&Source::new("t.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    (model, solution)
}

fn json(text: &str) -> Value {
    let (model, solution) = solve(text);
    serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap()
}

fn q(n: i64, d: i64) -> BigRational {
    BigRational::new(n.into(), d.into())
}

/// `"27/20"` as written by the JSON output.
fn fraction(r: &BigRational) -> String {
    if r.is_integer() {
        r.numer().to_string()
    } else {
        format!("{}/{}", r.numer(), r.denom())
    }
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

/// A tiny model whose gradient is written by hand: L = ½ Σ (w − c)², so
/// ∂L/∂w = w − c, entry by entry.
fn tiny(train: &str) -> String {
    format!("param w[2] = [3, -1]\nconst c[2] = [1, 2]\nloss L = 0.5 * sum((w - c)^2)\ntrain {train}\n")
}

const W0: [i64; 2] = [3, -1];
const C: [i64; 2] = [1, 2];

/// Momentum (CS231n's sgd_momentum: v ← βv − αg, w ← w + v) in exact
/// fractions, step by step: parameters, velocity, gradient and loss.
#[test]
fn momentum_is_exact_and_follows_cs231n() {
    let v = json(&tiny("momentum(lr = 0.1, beta = 0.9, steps = 4)"));
    assert_eq!(v["training"]["optimizer"], "momentum");
    assert_eq!(v["training"]["beta"]["exact"], "9/10");
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.len(), 5);
    let (lr, beta) = (q(1, 10), q(9, 10));
    let mut w: Vec<BigRational> = W0.iter().map(|&x| q(x, 1)).collect();
    let c: Vec<BigRational> = C.iter().map(|&x| q(x, 1)).collect();
    let mut vel = vec![q(0, 1); 2];
    let loss = |w: &[BigRational]| w.iter().zip(&c).map(|(w, c)| (w - c) * (w - c)).sum::<BigRational>() * q(1, 2);
    assert_eq!(history[0]["exact"], fraction(&loss(&w)));
    for (k, entry) in history.iter().enumerate().skip(1) {
        let g: Vec<BigRational> = w.iter().zip(&c).map(|(w, c)| w - c).collect();
        for i in 0..2 {
            vel[i] = &beta * &vel[i] - &lr * &g[i];
            w[i] = &w[i] + &vel[i];
        }
        let strings = |v: &[BigRational]| Value::from(v.iter().map(fraction).collect::<Vec<_>>());
        assert_eq!(entry["step"], k);
        assert_eq!(entry["gradients"]["w"]["exact"], strings(&g), "step {k}");
        assert_eq!(entry["state"]["w"]["v"]["exact"], strings(&vel), "step {k}");
        assert_eq!(entry["parameters"]["w"]["exact"], strings(&w), "step {k}");
        assert_eq!(entry["exact"], fraction(&loss(&w)), "step {k}");
    }
    assert_eq!(v["updated"]["w"]["exact"], history[4]["parameters"]["w"]["exact"]);
}

/// Adam as Kingma & Ba (2015), Algorithm 1, in a plain f64 loop. The first
/// step is exact (m̂ = g, v̂ = g², a perfect square); from the second the
/// square root is not a fraction, and a note says so.
#[test]
fn adam_follows_kingma_and_ba() {
    let text = tiny("adam(lr = 0.1, steps = 6)");
    let v = json(&text);
    assert_eq!(v["training"]["beta1"]["exact"], "9/10");
    assert_eq!(v["training"]["beta2"]["exact"], "999/1000");
    assert_eq!(v["training"]["eps"]["exact"], "1/100000000");
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.len(), 7);
    let (lr, b1, b2, eps) = (0.1, 0.9, 0.999, 1e-8);
    let mut w = W0.map(|x| x as f64);
    let (mut m, mut s) = ([0.0; 2], [0.0; 2]);
    for (k, entry) in history.iter().enumerate().skip(1) {
        let t = k as i32;
        let g = [w[0] - C[0] as f64, w[1] - C[1] as f64];
        let (mut m_hat, mut v_hat) = ([0.0; 2], [0.0; 2]);
        for i in 0..2 {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            s[i] = b2 * s[i] + (1.0 - b2) * g[i] * g[i];
            m_hat[i] = m[i] / (1.0 - b1.powi(t));
            v_hat[i] = s[i] / (1.0 - b2.powi(t));
            w[i] -= lr * m_hat[i] / (v_hat[i].sqrt() + eps);
        }
        let state = &entry["state"]["w"];
        for (key, want) in [("m", m), ("v", s), ("m_hat", m_hat), ("v_hat", v_hat)] {
            let got = f64s(&state[key]["value"]);
            assert!(got.iter().zip(want).all(|(a, b)| close(*a, b)), "step {k} {key}: {got:?} vs {want:?}");
        }
        let got = f64s(&entry["parameters"]["w"]["value"]);
        assert!(got.iter().zip(w).all(|(a, b)| close(*a, b)), "step {k}: {got:?} vs {w:?}");
    }
    // Step 1: w − α g ⊘ (|g| + ε), exactly.
    let step1: Vec<String> = [(3, 2), (-1, -3)]
        .iter()
        .map(|&(w, g)| fraction(&(q(w, 1) - q(1, 10) * q(g, 1) / (q(g.abs(), 1) + q(1, 100_000_000)))))
        .collect();
    assert_eq!(history[1]["parameters"]["w"]["exact"], Value::from(step1));
    assert!(history[2]["parameters"]["w"].get("exact").is_none());
    let notes: Vec<&str> = v["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(notes.iter().any(|n| n.starts_with("adam: √v̂ at step 2 is not a fraction")), "{notes:?}");
}

/// RMSprop (CS231n, PyTorch: s ← ρs + (1 − ρ)g², w ← w − αg ⊘ (√s + ε)) in a
/// plain f64 loop; with ρ = 0.99 the first root is exact (√0.01 g² = 0.1|g|).
#[test]
fn rmsprop_follows_its_rule() {
    let v = json(&tiny("rmsprop(lr = 0.01, steps = 5)"));
    assert_eq!(v["training"]["rho"]["exact"], "99/100");
    let (lr, rho, eps) = (0.01, 0.99, 1e-8);
    let mut w = W0.map(|x| x as f64);
    let mut s = [0.0; 2];
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.len(), 6);
    for (k, entry) in history.iter().enumerate().skip(1) {
        for i in 0..2 {
            let g = w[i] - C[i] as f64;
            s[i] = rho * s[i] + (1.0 - rho) * g * g;
            w[i] -= lr * g / (s[i].sqrt() + eps);
        }
        // RMSprop's s is kept under CS231n's name, `cache`.
        let got = f64s(&entry["state"]["w"]["cache"]["value"]);
        assert!(got.iter().zip(s).all(|(a, b)| close(*a, b)), "step {k} s: {got:?} vs {s:?}");
        let got = f64s(&entry["parameters"]["w"]["value"]);
        assert!(got.iter().zip(w).all(|(a, b)| close(*a, b)), "step {k}: {got:?} vs {w:?}");
    }
    assert!(history[1]["parameters"]["w"].get("exact").is_some(), "the first step's root is a fraction");
}

/// Several SGD steps: every step's parameters and gradients are in the
/// history, exactly w ← w − α (w − c).
#[test]
fn sgd_history_is_exact() {
    let v = json(&tiny("sgd(lr = 0.25, steps = 3)"));
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.len(), 4);
    assert!(history[1].get("state").is_none(), "plain SGD keeps no state");
    let mut w: Vec<BigRational> = W0.iter().map(|&x| q(x, 1)).collect();
    for entry in &history[1..] {
        for (i, w) in w.iter_mut().enumerate() {
            *w = &*w - q(1, 4) * (&*w - q(C[i], 1));
        }
        let strings: Vec<String> = w.iter().map(fraction).collect();
        assert_eq!(entry["parameters"]["w"]["exact"], Value::from(strings));
    }
}

/// Adam on the assignment's network: the per-step gradients that `solve`
/// reports are the gradients of the network at the parameters of the step
/// before (each checked by solving the network afresh at those values), and
/// the moments and parameters follow Kingma & Ba from them.
#[test]
fn adam_on_the_assignment_network() {
    let text = std::fs::read_to_string(common::example("assignment4_adam.nn")).unwrap();
    let model = nnderive::load(&Source::new("assignment4_adam.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let train = solution.training.as_ref().unwrap();
    assert_eq!(train.steps, 5);
    assert_eq!(train.history.len(), 5);
    assert_eq!(train.losses.len(), 6);
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let params: Vec<_> = solution.derivation.gradients.iter().map(|g| g.param).collect();
    let mut p: Vec<Vec<f64>> = params.iter().map(|&id| solution.value(id).to_f64_vec()).collect();
    let mut m: Vec<Vec<f64>> = p.iter().map(|x| vec![0.0; x.len()]).collect();
    let mut s = m.clone();
    for (k, step) in train.history.iter().enumerate() {
        let t = k as i32 + 1;
        // The gradient at the parameters before this step, from a fresh solve.
        let mut at = model.clone();
        for (id, values) in params.iter().zip(&p) {
            let t = model.tensor(*id);
            let exact = values.iter().map(|&x| BigRational::from_float(x).unwrap()).collect();
            at = nnderive::with_value(at, &t.name, t.shape.dims(), exact).unwrap();
        }
        let fresh = nnderive::solve(&at).unwrap();
        assert!(close(fresh.value(model.loss).entry_f64(0), train.losses[k].entry_f64(0)), "loss before step {t}");
        for (i, ps) in step.params.iter().enumerate() {
            assert_eq!(ps.param, params[i]);
            let g = ps.gradient.to_f64_vec();
            let independent = fresh.gradients[i].to_f64_vec();
            assert!(g.iter().zip(&independent).all(|(a, b)| close(*a, *b)), "step {t} gradient {i}");
            for j in 0..g.len() {
                m[i][j] = b1 * m[i][j] + (1.0 - b1) * g[j];
                s[i][j] = b2 * s[i][j] + (1.0 - b2) * g[j] * g[j];
                let m_hat = m[i][j] / (1.0 - b1.powi(t));
                let v_hat = s[i][j] / (1.0 - b2.powi(t));
                p[i][j] -= lr * m_hat / (v_hat.sqrt() + eps);
            }
            let got = ps.quantities.iter().map(|q| q.to_f64_vec()).collect::<Vec<_>>();
            assert_eq!(got.len(), 4);
            assert!(got[0].iter().zip(&m[i]).all(|(a, b)| close(*a, *b)), "step {t} m of {i}");
            assert!(got[1].iter().zip(&s[i]).all(|(a, b)| close(*a, *b)), "step {t} v of {i}");
            let value = ps.value.to_f64_vec();
            assert!(value.iter().zip(&p[i]).all(|(a, b)| close(*a, *b)), "step {t} value of {i}");
        }
    }
    assert!(train.losses.windows(2).all(|w| w[1].entry_f64(0) < w[0].entry_f64(0)), "Adam lowers the loss here");
}

/// A network with more than `SMALL_NETWORK` parameter entries keeps the loss
/// of every step, not the parameters, and shows the parameters at the end.
#[test]
fn large_networks_keep_only_the_losses() {
    let row = |n: usize| format!("[{}]", vec!["0.1"; n].join(", "));
    let w = (0..8).map(|_| row(9)).collect::<Vec<_>>().join(", ");
    let text = format!(
        "input x[9] = {}\nparam W[8,9] = [{w}]\nloss L = 0.5 * sum((W @ x)^2)\ntrain momentum(lr = 0.1, steps = 3)\n",
        row(9)
    );
    const { assert!(72 > nnderive::eval::SMALL_NETWORK) };
    let (model, solution) = solve(&text);
    let v: Value = serde_json::from_str(&render::json::solution(&model, &solution, Some(4))).unwrap();
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.len(), 4);
    assert!(history.iter().all(|h| h.get("parameters").is_none() && h.get("value").is_some()));
    let out = render::text::solution(&model, &solution, Some(4));
    assert!(out.contains("\nAfter 3 steps\n  W (new) = "), "{out}");
    assert!(!out.contains("\nStep 1"), "{out}");
}

/// A long run shows its first and last steps, says what it leaves out, and
/// draws the loss as a sparkline of at most 60 characters; JSON keeps all.
#[test]
fn long_runs_are_elided_in_text_and_documents() {
    let text = tiny("momentum(lr = 0.01, steps = 200)");
    let (model, solution) = solve(&text);
    let out = render::text::solution(&model, &solution, Some(4));
    for step in ["\nStep 1:", "\nStep 2:", "\nStep 3:", "\nStep 199:", "\nStep 200:"] {
        assert!(out.contains(step), "{step} missing:\n{out}");
    }
    assert!(!out.contains("\nStep 4:") && !out.contains("\nStep 198:"), "{out}");
    assert!(out.contains("… steps 4 to 198 are left out here"), "{out}");
    let spark = out.lines().find(|l| l.starts_with("L by step")).unwrap();
    let bars = spark.trim_start_matches("L by step").trim();
    assert_eq!(bars.chars().count(), 60, "{spark}");
    assert!(bars.chars().all(|c| ('▁'..='█').contains(&c)), "{spark}");
    // The table: the first five and last five of 201 losses, and a gap.
    let table: Vec<&str> =
        out.split("L by step").nth(1).unwrap().lines().skip(2).take_while(|l| !l.is_empty()).collect();
    assert_eq!(table.len(), 11, "{table:?}");
    assert!(table[5].contains('⋮') && table[10].trim_start().starts_with("200"), "{table:?}");
    let v: Value = serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap();
    assert_eq!(v["history"].as_array().unwrap().len(), 201);
    assert!(v["history"][150].get("state").is_some());
    let latex = render::latex::document(&model, &solution, Some(4));
    assert!(latex.contains("Steps 4 to 198 are left out here"), "{latex}");
    assert!(latex.contains("\\subsection*{Step 200}") && !latex.contains("\\subsection*{Step 100}"));
}

/// The documents of a trained example plot the loss: pgfplots in LaTeX, an
/// SVG image (drawn by plotters, one point per step) in Markdown.
#[test]
fn documents_plot_the_loss() {
    let text = std::fs::read_to_string(common::example("assignment4_momentum.nn")).unwrap();
    let (model, solution) = solve(&text);
    let latex = render::latex::document(&model, &solution, Some(4));
    assert!(latex.contains("\\usepackage{pgfplots}"));
    let plot = latex.split("\\addplot").nth(1).expect("a plot");
    let coordinates = plot.split("coordinates {").nth(1).unwrap().split('}').next().unwrap();
    assert_eq!(coordinates.matches('(').count(), 6, "{coordinates}");
    let first = solution.training.as_ref().unwrap().losses[0].entry_f64(0);
    assert!(coordinates.starts_with(&format!("(0,{first:e})")), "{coordinates}");

    let markdown = render::markdown::document(&model, &solution, Some(4));
    let data = markdown.split("(data:image/svg+xml;base64,").nth(1).expect("an image").split(')').next().unwrap();
    use base64::Engine;
    let svg = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).unwrap()).unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    assert_eq!(svg.matches("<circle").count(), 6, "{svg}");
    assert!(svg.contains("step k") && svg.contains("loss L"), "{svg}");

    // One step of plain SGD has no plot and no pgfplots.
    let text = std::fs::read_to_string(common::example("assignment4.nn")).unwrap();
    let (model, solution) = solve(&text);
    assert!(!render::latex::document(&model, &solution, Some(4)).contains("pgfplots"));
    assert!(!render::markdown::document(&model, &solution, Some(4)).contains("data:image"));
}

/// The update rule of each optimizer, in every format that prints it.
#[test]
fn rules_are_printed_in_every_format() {
    let (model, solution) = solve(&tiny("adam(lr = 0.1, steps = 2)"));
    let text = render::text::solution(&model, &solution, Some(4));
    assert!(text.contains("m̂⁽ᵏ⁾ = m⁽ᵏ⁾ / (1 − β₁ᵏ)"), "{text}");
    assert!(text.contains("P⁽ᵏ⁾ = P⁽ᵏ⁻¹⁾ − α m̂⁽ᵏ⁾ ⊘ (√v̂⁽ᵏ⁾ + ε)"), "{text}");
    let latex = render::latex::document(&model, &solution, Some(4));
    assert!(latex.contains("\\hat{m}^{(k)} &= \\derivstep{\\frac{m^{(k)}}{1 - \\beta_1^{k}}}"), "{latex}");
    let markdown = render::markdown::document(&model, &solution, Some(4));
    assert!(
        markdown.contains("P^{(k)} &= P^{(k-1)} - \\alpha \\frac{\\hat{m}^{(k)}}{\\sqrt{\\hat{v}^{(k)}} + \\epsilon}")
    );
    let v: Value = serde_json::from_str(&render::json::solution(&model, &solution, Some(4))).unwrap();
    let keys: Vec<&str> =
        v["training"]["rule"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["gradient", "m", "v", "m_hat", "v_hat", "parameter"]);
    assert_eq!(v["training"]["initial"]["formula"], "m⁽⁰⁾ = v⁽⁰⁾ = 0");
}

/// RMSprop on the tiny model, as the terminal shows it.
#[test]
fn rmsprop_text() {
    let (model, solution) = solve(&tiny("rmsprop(lr = 0.01, steps = 3)"));
    common::settings().bind(|| {
        insta::assert_snapshot!("optim_rmsprop_text", render::text::solution(&model, &solution, None));
    });
}

/// The training guide's excerpt of a training run is real output: its lines appear,
/// in order and together, in what the command prints.
#[test]
fn readme_excerpt_is_real_output() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/training.md")).unwrap();
    let marker = "<!-- excerpt: solve grammar/examples/assignment4_adam.nn --round 4 -->\n```text\n";
    let excerpt = readme.split(marker).nth(1).expect("the excerpt").split("```").next().unwrap();
    let text = std::fs::read_to_string(common::example("assignment4_adam.nn")).unwrap();
    let model = nnderive::load(&Source::new("assignment4_adam.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let out = render::text::solution(&model, &solution, Some(4));
    assert!(excerpt.lines().count() > 20);
    assert!(out.contains(excerpt), "docs/training.md's excerpt is out of date:\n{excerpt}");
}

/// Every optimizer whose rule takes a square root says, in each format, where
/// the root of exact values stopped being a fraction; the root in its note
/// is the one its rule prints, in the same notation (`√v̂` in text and JSON,
/// `\sqrt{\hat{v}}` in LaTeX and Markdown, which KaTeX typesets in strict
/// mode), and the LaTeX sentence holds no Unicode mathematics. An optimizer
/// whose rule has no root has no such note.
#[test]
fn each_inexact_root_note_prints_the_rules_root_in_every_format() {
    let katex = std::env::var_os("NNDERIVE_KATEX");
    let dir = std::env::temp_dir().join(format!("nnderive-inexact-root-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut markdown_files = Vec::new();
    let mut roots = 0;
    for kind in nnderive::model::optimizer::KINDS {
        let (model, solution) = solve(&tiny(&format!("{}(lr = 0.1, steps = 3)", kind.name)));
        let text = render::text::solution(&model, &solution, None);
        let json: Value = serde_json::from_str(&render::json::solution(&model, &solution, None)).unwrap();
        let latex = render::latex::document(&model, &solution, None);
        let markdown = render::markdown::document(&model, &solution, None);
        let prefix = format!("{}: ", kind.name);
        let json_note = json["notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .find(|n| n.starts_with(&prefix) && n.contains("is not a fraction"));
        // The rule's update line, as each writer prints it.
        let text_rule = text.lines().filter(|l| l.contains("√")).collect::<Vec<_>>().join("\n");
        let Some(json_note) = json_note else {
            assert!(text_rule.is_empty(), "{}: a root in its rule but no note:\n{text}", kind.name);
            assert!(!latex.contains("is not a fraction"), "{}", kind.name);
            continue;
        };
        roots += 1;
        // `adam: √v̂ at step 2 is not a fraction, …`: the root, from the note.
        let root = |note: &str| note.split(": ").nth(1).unwrap().split(" at step").next().unwrap().to_string();
        let unicode = root(json_note);
        assert!(unicode.starts_with('√'), "{json_note}");
        assert!(text.contains(json_note), "{}: the text's note differs from JSON's", kind.name);
        assert!(
            text_rule.contains(&format!("{unicode}⁽ᵏ⁾")),
            "{}: {unicode} is not the rule's root:\n{text_rule}",
            kind.name
        );
        for (format, document) in [("LaTeX", &latex), ("Markdown", &markdown)] {
            let line = document.lines().find(|l| l.contains("is not a fraction")).unwrap_or_else(|| panic!("{format}"));
            assert!(line.is_ascii(), "{}: Unicode in the {format} note: {line}", kind.name);
            // `$\sqrt{\hat{v}}$ at step`, and the same root in the rule at step k.
            let set = line.split('$').nth(1).unwrap_or_else(|| panic!("{format}: {line}"));
            assert!(set.starts_with("\\sqrt{"), "{format}: {line}");
            assert!(
                document.contains(&format!("{}^{{(k)}}}}", &set[..set.len() - 1])),
                "{format}: {set} not in the rule"
            );
        }
        let file = dir.join(format!("{}.md", kind.name));
        std::fs::write(&file, &markdown).unwrap();
        markdown_files.push(file);
    }
    assert_eq!(roots, 2, "RMSprop and Adam take roots");
    if let Some(katex) = katex {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/katex_check.js");
        let out = std::process::Command::new("node")
            .arg(script)
            .args(&markdown_files)
            .env("NNDERIVE_KATEX", katex)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        assert!(std::env::var("CI").is_err(), "NNDERIVE_KATEX is not set in CI");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
