//! Recurrent networks: each time-indexed example agrees with its twin
//! written out by hand step by step (`tests/fixtures/unrolled`, which uses
//! no time index, so it takes the engine's ordinary path), the vanilla RNN
//! agrees with an independent plain-f64 forward pass and BPTT written here,
//! and the printed derivation does not grow with the number of steps.

// The reference implementation is the textbook's index loops, on purpose.
#![allow(clippy::needless_range_loop)]

mod common;

use nnderive::eval::Solution;
use nnderive::model::Model;
use nnderive::Source;

const EXAMPLES: [&str; 4] = ["rnn", "rnn_many_to_one", "lstm", "gru"];

fn solved(path: &std::path::Path) -> (Model, Solution) {
    let model = nnderive::load(&common::source(path)).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let solution = nnderive::solve(&model).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    (model, solution)
}

/// The hand-written name of an unrolled tensor: `h[3]` is `h3`.
fn hand_name(name: &str) -> String {
    name.replace(['[', ']'], "")
}

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-12 * (1.0 + x.abs().max(y.abs())), "{what}[{i}]: {x} vs {y}");
    }
}

#[test]
fn every_recurrent_example_equals_its_hand_unrolled_twin() {
    for name in EXAMPLES {
        let (model, sol) = solved(&common::example(&format!("{name}.nn")));
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (hand, hand_sol) = solved(&root.join(format!("tests/fixtures/unrolled/{name}.nn")));
        assert!(model.time.is_some() && hand.time.is_none(), "{name}");
        // Every tensor of the hand file, and every one of the unrolled model, has its twin;
        // a pre-activation nnderive named is the twin of the one named in the
        // equation of the same name (`zh[2]` of `h[2]`, `zh2` of `h2`).
        assert_eq!(model.tensors.len(), hand.tensors.len(), "{name}: tensor count");
        let twin_of = |id| match model.introduced_for(id) {
            Some(user) => {
                let user = hand.tensor_id(&hand_name(&model.tensor(user).name));
                hand.introduced.iter().find(|i| Some(i.user) == user).map(|i| i.tensor)
            }
            None => hand.tensor_id(&hand_name(&model.tensor(id).name)),
        };
        for id in model.ids() {
            let t = model.tensor(id);
            let twin = twin_of(id).unwrap_or_else(|| panic!("{name}: no {}", t.name));
            close(
                &sol.value(id).to_f64_vec(),
                &hand_sol.value(twin).to_f64_vec(),
                &format!("{name}: value of {}", t.name),
            );
        }
        for (g, v) in sol.derivation.gradients.iter().zip(&sol.gradients) {
            let p = &model.tensor(g.param).name;
            let twin = hand_sol.derivation.gradients.iter().position(|h| hand.tensor(h.param).name == *p).unwrap();
            close(&v.to_f64_vec(), &hand_sol.gradients[twin].to_f64_vec(), &format!("{name}: ∂L/∂{p}"));
        }
        let (a, b) = (sol.training.as_ref().unwrap(), hand_sol.training.as_ref().unwrap());
        for ((p, v), (q, w)) in a.updated.iter().zip(&b.updated) {
            assert_eq!(model.tensor(*p).name, hand.tensor(*q).name);
            close(&v.to_f64_vec(), &w.to_f64_vec(), &format!("{name}: updated {}", model.tensor(*p).name));
        }
    }
}

#[test]
fn every_recurrent_example_passes_gradcheck() {
    for name in EXAMPLES {
        let model = nnderive::load(&common::source(&common::example(&format!("{name}.nn")))).unwrap();
        let check = nnderive::gradcheck(&model).unwrap();
        assert!(check.worst() < 1e-6, "{name}: {check:?}");
    }
}

// ---- an independent vanilla RNN in plain f64 --------------------------------

fn matvec(w: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    w.iter().map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum()).collect()
}

fn matvec_t(w: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; w[0].len()];
    for i in 0..w.len() {
        for j in 0..w[0].len() {
            out[j] += w[i][j] * x[i];
        }
    }
    out
}

fn outer_add(acc: &mut [Vec<f64>], d: &[f64], x: &[f64]) {
    for i in 0..d.len() {
        for j in 0..x.len() {
            acc[i][j] += d[i] * x[j];
        }
    }
}

fn flat(m: &[Vec<f64>]) -> Vec<f64> {
    m.iter().flatten().copied().collect()
}

/// The textbook's BPTT for `grammar/examples/rnn.nn`, with its numbers.
#[test]
fn vanilla_rnn_matches_plain_f64_bptt() {
    let x = [vec![1.0, 0.0], vec![0.5, -1.0], vec![0.0, 2.0]];
    let y = [vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 0.0]];
    let wxh = vec![vec![0.5, -0.3], vec![0.2, 0.4], vec![-0.1, 0.6]];
    let whh = vec![vec![0.1, -0.2, 0.3], vec![0.4, 0.1, -0.1], vec![-0.3, 0.2, 0.2]];
    let bh = vec![0.1, 0.0, -0.1];
    let why = vec![vec![0.3, -0.4, 0.2], vec![-0.2, 0.5, 0.1]];
    let by = vec![0.05, -0.05];
    let steps = 3;
    // Forward.
    let mut h = vec![vec![0.0; 3]];
    let mut yhat = Vec::new();
    let mut loss = 0.0;
    for t in 0..steps {
        let a: Vec<f64> = matvec(&wxh, &x[t])
            .iter()
            .zip(matvec(&whh, &h[t]))
            .zip(&bh)
            .map(|((p, q), b)| (p + q + b).tanh())
            .collect();
        let o: Vec<f64> = matvec(&why, &a).iter().zip(&by).map(|(p, b)| p + b).collect();
        let m = o.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = o.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        let p: Vec<f64> = e.iter().map(|v| v / s).collect();
        loss -= y[t].iter().zip(&p).map(|(yi, pi)| yi * pi.ln()).sum::<f64>();
        h.push(a);
        yhat.push(p);
    }
    // Backward through time.
    let (mut dwxh, mut dwhh, mut dbh) = (vec![vec![0.0; 2]; 3], vec![vec![0.0; 3]; 3], vec![0.0; 3]);
    let (mut dwhy, mut dby) = (vec![vec![0.0; 3]; 2], vec![0.0; 2]);
    let mut delta_next = vec![0.0; 3];
    let mut dhs = vec![Vec::new(); steps];
    for t in (0..steps).rev() {
        let d_o: Vec<f64> = yhat[t].iter().zip(&y[t]).map(|(p, q)| p - q).collect();
        outer_add(&mut dwhy, &d_o, &h[t + 1]);
        dby.iter_mut().zip(&d_o).for_each(|(a, b)| *a += b);
        let dh: Vec<f64> = matvec_t(&why, &d_o).iter().zip(matvec_t(&whh, &delta_next)).map(|(a, b)| a + b).collect();
        let delta: Vec<f64> = dh.iter().zip(&h[t + 1]).map(|(g, v)| g * (1.0 - v * v)).collect();
        dhs[t] = dh;
        outer_add(&mut dwxh, &delta, &x[t]);
        outer_add(&mut dwhh, &delta, &h[t]);
        dbh.iter_mut().zip(&delta).for_each(|(a, b)| *a += b);
        delta_next = delta;
    }

    let (model, sol) = solved(&common::example("rnn.nn"));
    let value = |n: &str| sol.value(model.tensor_id(n).unwrap()).to_f64_vec();
    for t in 1..=steps {
        close(&value(&format!("h[{t}]")), &h[t], &format!("h{t}"));
        close(&value(&format!("yhat[{t}]")), &yhat[t - 1], &format!("yhat{t}"));
    }
    close(&value("L"), &[loss], "L");
    let grad = |n: &str| {
        let i = sol.derivation.gradients.iter().position(|g| model.tensor(g.param).name == n).unwrap();
        sol.gradients[i].to_f64_vec()
    };
    close(&grad("Wxh"), &flat(&dwxh), "∂L/∂Wxh");
    close(&grad("Whh"), &flat(&dwhh), "∂L/∂Whh");
    close(&grad("bh"), &dbh, "∂L/∂bh");
    close(&grad("Why"), &flat(&dwhy), "∂L/∂Why");
    close(&grad("by"), &dby, "∂L/∂by");
    // ∂L/∂h_t, the gradient each step hands back, is shown with its value.
    let json: serde_json::Value = serde_json::from_str(&nnderive::render::json::solution(&model, &sol, None)).unwrap();
    let path: Vec<&serde_json::Value> =
        json["deltas"].as_object().unwrap().values().filter_map(|d| d["path"].as_array()).flatten().collect();
    for (t, dh) in dhs.iter().enumerate() {
        let name = format!("∂L/∂h{}", ['₁', '₂', '₃'][t]);
        let shown = path.iter().find(|p| p["name"] == name.as_str()).unwrap_or_else(|| panic!("{name} not shown"));
        let got: Vec<f64> = shown["value"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        close(&got, dh, &name);
    }
}

// ---- the language ------------------------------------------------------------

#[test]
fn the_time_index_formats_canonically() {
    for name in EXAMPLES {
        let text = std::fs::read_to_string(common::example(&format!("{name}.nn"))).unwrap();
        let file = nnderive::syntax::parse(&text).unwrap();
        assert_eq!(nnderive::syntax::format(&file), text, "{name} is not in canonical layout");
    }
}

#[test]
fn sum_and_mean_over_time_are_the_written_out_sums() {
    let head = "steps t = 1..4\ninput x[t][2] = [[1, 2], [3, -1], [0.5, 0], [2, 2]]\nparam w[2] = [0.5, -1]\n";
    let load = |loss: &str| {
        let model = nnderive::load(&Source::new("s.nn", format!("{head}{loss}\n"))).unwrap();
        nnderive::solve(&model).unwrap().value(model.loss).to_f64_vec()[0]
    };
    let by_hand = load("loss L = sum(w * x[1]) + sum(w * x[2]) + sum(w * x[3]) + sum(w * x[4])");
    assert_eq!(load("loss L = sum(sum(w * x[t]) for t)"), by_hand);
    assert_eq!(load("loss L = mean(sum(w * x[t]) for t)"), by_hand / 4.0);
}

#[test]
fn steps_may_start_anywhere_and_many_steps_stay_shallow() {
    // 10 000 steps: the sum over time nests log T deep, so nothing overflows.
    let text = "steps t = 5..10004\nconst h[4][1] = [0]\nparam w = 0.5\nh[t] = w * h[t-1] + 1\nloss L = mean(sum(h[t]^2) for t)\n";
    let model = nnderive::load(&Source::new("long.nn", text)).unwrap();
    assert!(model.tensor_id("h[10004]").is_some());
    let too_many = "steps t = 1..10001\nparam w = 1\nloss L = sum(w for t)\n";
    let error = nnderive::load(&Source::new("long.nn", too_many)).unwrap_err();
    assert!(error.diagnostic().message.contains("not a range of 1 to 10000 steps"), "{:?}", error.diagnostic());
}

// ---- formulas do not grow with T ---------------------------------------------

/// A recurrent example of `grammar/examples` with `steps` steps of input:
/// the same weights, inputs and targets repeated.
pub fn longer(name: &str, steps: usize) -> String {
    let text = std::fs::read_to_string(common::example(&format!("{name}.nn"))).unwrap();
    let row = |rows: &[&str]| (0..steps).map(|k| rows[k % rows.len()]).collect::<Vec<_>>().join(", ");
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("steps") {
            out.push(format!("steps t = 1..{steps}"));
        } else if line.starts_with("input  x[t]") || line.starts_with("target y[t]") {
            // A sequence literal, one row per line: gather its rows.
            let mut literal = line.split_once('=').unwrap().1.trim().to_string();
            while !literal.ends_with("]]") {
                literal.push_str(lines.next().unwrap().trim());
            }
            let rows: Vec<String> = literal[1..literal.len() - 1]
                .split("],")
                .map(|r| format!("{}]", r.trim().trim_end_matches(']')))
                .collect();
            let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
            let head = line.split_once('=').unwrap().0;
            out.push(format!("{head}= [{}]", row(&rows)));
        } else {
            // A many-to-one network's output reads the last step.
            match line.starts_with("yhat =") || line.starts_with("loss") {
                true => out.push(line.replace("h[3]", &format!("h[{steps}]"))),
                false => out.push(line.to_string()),
            }
        }
    }
    out.join("\n") + "\n"
}

#[test]
fn derive_of_100_steps_prints_what_3_steps_do() {
    for name in ["rnn", "rnn_many_to_one"] {
        let derive = |text: String| {
            let model =
                nnderive::load(&Source::new("long.nn", text.clone())).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
            nnderive::render::text::derivation(&model, &nnderive::derive::derive(&model))
        };
        let three = derive(longer(name, 3));
        let hundred = derive(longer(name, 100));
        assert_eq!(three, derive(std::fs::read_to_string(common::example(&format!("{name}.nn"))).unwrap()));
        assert!(hundred.contains("with T = 100;"), "{hundred}");
        assert_eq!(hundred.replace("with T = 100;", "with T = 3;"), three, "{name}");
    }
}

/// Each recurrence is stated once in t whatever T is: the derivation of
/// every recurrent example at T = 2..6 is its text at T = 3 but for the
/// line that says what T is, and the gradients of each still agree with
/// central differences.
#[test]
fn every_recurrent_example_reads_the_same_for_any_t() {
    let derive = |text: &str| {
        let model = nnderive::load(&Source::new("long.nn", text)).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let check = nnderive::gradcheck(&model).unwrap();
        (nnderive::render::text::derivation(&model, &nnderive::derive::derive(&model)), check.worst())
    };
    for name in EXAMPLES {
        let (three, _) = derive(&longer(name, 3));
        for steps in 2..=6 {
            let (text, worst) = derive(&longer(name, steps));
            let header = format!("with T = {steps};");
            assert!(text.contains(&header), "{name}, T = {steps}:\n{text}");
            let text = text.replace(&header, "with T = 3;");
            let diff = similar::TextDiff::from_lines(&three, &text).unified_diff().header("T = 3", "T = n").to_string();
            assert!(diff.is_empty(), "{name}, T = {steps}:\n{diff}");
            assert!(worst < 1e-6, "{name}, T = {steps}: gradcheck {worst}");
        }
    }
}

/// Every general formula printed once in t is, shifted to each step where
/// it is said to hold, the formula derived for that step; printing it at
/// each step gives back the unrolled formula's text.
#[test]
fn the_general_forms_are_the_unrolled_formulas() {
    use nnderive::render::formula::{formula, Names, Notation};
    let model = nnderive::load(&common::source(&common::example("rnn.nn"))).unwrap();
    let d = nnderive::derive::derive(&model);
    let view = d.time.as_ref().unwrap();
    let names = Names::new(&model, Some(&d));
    let general = |seq: &str| {
        view.groups
            .iter()
            .filter_map(|g| g.general.as_ref())
            .find(|g| {
                formula(&d.graph, d.symbol(g.symbol).node, &names.at("t", g.step), Notation::Text)
                    == format!("δ{seq}_t")
            })
            .unwrap()
    };
    let hidden = general("h");
    assert_eq!(hidden.holds, vec![1, 2, 3]);
    assert!(hidden.zero_after_last);
    let at = |k: u64| names.at("t", k);
    assert_eq!(
        formula(&d.graph, d.symbol(hidden.symbol).formula, &at(hidden.step), Notation::Text),
        "(Whyᵀ δŷ_t + Whhᵀ δh_{t+1}) ⊙ (1 − h_t²)"
    );
    // The unrolled error terms, step by step: δh₃ has no δh₄ term.
    let unrolled: Vec<String> = d
        .defined_symbols()
        .map(|s| {
            format!(
                "{} = {}",
                formula(&d.graph, s.node, &names, Notation::Text),
                formula(&d.graph, s.formula, &names, Notation::Text)
            )
        })
        .collect();
    assert!(unrolled.contains(&"δh₃ = (Whyᵀ δŷ₃) ⊙ (1 − h₃²)".to_string()), "{unrolled:?}");
    assert!(unrolled.contains(&"δh₂ = (Whyᵀ δŷ₂ + Whhᵀ δh₃) ⊙ (1 − h₂²)".to_string()), "{unrolled:?}");
    assert!(unrolled.contains(&"δh₁ = (Whyᵀ δŷ₁ + Whhᵀ δh₂) ⊙ (1 − h₁²)".to_string()), "{unrolled:?}");
    let whh = d.gradients.iter().position(|g| model.tensor(g.param).name == "Whh").unwrap();
    let sum = view.gradients[whh].as_ref().unwrap();
    let terms: Vec<String> = sum.terms.iter().map(|&t| formula(&d.graph, t, &names, Notation::Text)).collect();
    assert_eq!(terms, ["δh₃ h₂ᵀ", "δh₂ h₁ᵀ", "δh₁ h₀ᵀ"]);
}

#[test]
fn a_template_naming_a_fixed_step_is_printed_step_by_step() {
    // h[t] uses h[0] itself, not h[t-1]: no single equation in t says that with t-relative names.
    let text = "steps t = 1..3\nconst h[0][1] = [1]\nparam w = 0.5\nh[t] = w * h[0] + h[t-1]\nloss L = sum(h[3])\n";
    let model = nnderive::load(&Source::new("fixed.nn", text)).unwrap();
    let out = nnderive::render::text::derivation(&model, &nnderive::derive::derive(&model));
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(out.contains("h₁ = w h₀ + h₀"), "{out}");
    assert!(out.contains("h_T = w h₀ + h_{T−1}"), "{out}");
}

#[test]
fn unrolling_is_bounded() {
    // 10 000 steps of an equation with a few hundred nodes would be millions of copies.
    let long = vec!["h[t-1]"; 100].join(" + ");
    let text = format!(
        "steps t = 1..10000\nconst h[0][1] = [0]\nparam w[1] = [1]\na[t] = w * ({long})\nb[t] = w * ({long})\nc[t] = w * ({long})\nh[t] = a[t] + b[t] + c[t]\nloss L = sum(h[10000])\n"
    );
    let error = nnderive::load(&Source::new("big.nn", text)).unwrap_err();
    assert!(error.diagnostic().message.contains("unrolls at most 4000000"), "{:?}", error.diagnostic());
}
