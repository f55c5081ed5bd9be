//! `nnderive vary`: variants that are distinct, solve, keep the file's
//! structure and the kind of each tensor, stay clear of kinks by the stated
//! margin (checked here with a plain f64 forward pass, not nnderive's), and
//! come out byte for byte the same from the same seed.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use nnderive::syntax::ast::Decimal;
use nnderive::vary::{vary, Options, Reason};
use nnderive::Source;

fn options(count: usize, seed: u64) -> Options {
    Options { count, seed, places: 4, margin: None }
}

fn assignment() -> Source {
    common::source(&common::example("assignment4.nn"))
}

/// A declared tensor's values as f64, and the decimal places each was written with.
fn values(model: &nnderive::model::Model, name: &str) -> Vec<(f64, u32)> {
    let t = &model.tensors[name];
    t.value
        .as_ref()
        .expect("a value")
        .iter()
        .map(|d| {
            let places = match &d {
                Decimal::Small { exponent, .. } => (-exponent).max(0) as u32,
                Decimal::Rational(_) => 99,
            };
            let r = d.to_rational();
            (num_traits::ToPrimitive::to_f64(&r).unwrap(), places)
        })
        .collect()
}

fn in_magnitudes(v: &[(f64, u32)], low: f64, high: f64, places: u32) -> bool {
    v.iter().all(|&(x, p)| p <= places && x.abs() >= low - 1e-12 && x.abs() <= high + 1e-12)
}

/// The variant's values through the textbook formulas in plain f64.
fn plain(model: &nnderive::model::Model) -> common::Backprop {
    let get = |n: &str| values(model, n).into_iter().map(|(x, _)| x).collect::<Vec<f64>>();
    let (x, y, w1, b1, w2, b2) = (get("x"), get("y"), get("W1"), get("b1"), get("W2"), get("b2"));
    common::assignment_backprop([&x, &y, &w1, &b1, &w2, &b2], common::assignment_fprime)
}

#[test]
fn thirty_variants_of_the_assignment() {
    let source = assignment();
    let original = nnderive::load(&source).unwrap();
    let structure = nnderive::render::text::derivation(&original, &nnderive::derive::derive(&original));
    let set = vary(&source, &options(30, 2024)).unwrap();
    assert_eq!(set.variants.len(), 30);
    let mut texts = HashSet::new();
    let mut numbers = HashSet::new();
    for v in &set.variants {
        assert!(texts.insert(v.text.clone()), "variant {} repeats an earlier one", v.number);
        // Each variant is a file that checks and solves on its own.
        let model = nnderive::load(&Source::new("v.nn", v.text.clone())).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        // The same structure: the same derivation, word for word.
        let derived = nnderive::render::text::derivation(&model, &nnderive::derive::derive(&model));
        assert_eq!(derived, structure, "variant {}", v.number);
        // New numbers of the same kind as the file's.
        let x = values(&model, "x");
        assert!(in_magnitudes(&x, 0.5, 2.0, 1), "x {x:?}");
        let y = values(&model, "y");
        assert!(y.iter().all(|&(v, _)| v == 0.0 || v == 1.0) && y.iter().map(|p| p.0).sum::<f64>() == 1.0, "{y:?}");
        assert!(in_magnitudes(&values(&model, "W1"), 0.1, 0.5, 1));
        assert!(in_magnitudes(&values(&model, "b1"), 0.05, 0.1, 2));
        assert!(in_magnitudes(&values(&model, "W2"), 0.1, 0.5, 1));
        assert!(values(&model, "b2").iter().all(|&(v, _)| v.abs() == 0.05));
        let all: Vec<String> = ["x", "y", "W1", "b1", "W2", "b2"]
            .iter()
            .flat_map(|n| values(&model, n).into_iter().map(|(x, _)| x.to_string()))
            .collect();
        assert!(numbers.insert(all), "variant {} has an earlier variant's numbers", v.number);
        // Well-posed by the stated margin, by a forward pass written here.
        let p = plain(&model);
        assert!(
            p.z1.iter().all(|z| z.abs() >= 0.01),
            "variant {}: Z1 = {:?} is within 0.01 of relu's kink",
            v.number,
            p.z1
        );
        assert!(p.yhat.iter().all(|&q| q >= 0.00005 && 1.0 - q >= 0.00005), "variant {}: ŷ = {:?}", v.number, p.yhat);
        // The key's gradients are the textbook's.
        let g = |k: usize| solution.gradients[k].to_f64_vec();
        for (a, b) in g(0).iter().zip(&p.dw1).chain(g(2).iter().zip(&p.dw2)) {
            assert!((a - b).abs() < 1e-12, "variant {}: {a} against {b}", v.number);
        }
        // No answer half-way between two 4-decimal values.
        let quantities = nnderive::render::quantities::Quantities::new(&model, &solution);
        for i in 0..quantities.len() {
            for x in quantities.value(i, &solution).unwrap().to_f64_vec() {
                let scaled = (x * 1e4).abs();
                assert!(((scaled - scaled.floor()) - 0.5).abs() > 1e-9, "variant {}: {x}", v.number);
            }
        }
    }
    // The same seed gives the same variants; another seed others.
    let again = vary(&source, &options(30, 2024)).unwrap();
    assert!(set.variants.iter().zip(&again.variants).all(|(a, b)| a.text == b.text));
    let other = vary(&source, &options(30, 2025)).unwrap();
    assert!(set.variants.iter().zip(&other.variants).all(|(a, b)| a.text != b.text));
    // Variant k does not depend on how many are made.
    let fewer = vary(&source, &options(5, 2024)).unwrap();
    assert!(fewer.variants.iter().zip(&set.variants).all(|(a, b)| a.text == b.text));
}

#[test]
fn declared_rules_are_followed() {
    let source = common::source(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vary/ranges.nn"));
    let original = nnderive::load(&source).unwrap();
    let set = vary(&source, &options(12, 5)).unwrap();
    let grid = |v: &[(f64, u32)], low: f64, high: f64, step: f64| {
        v.iter().all(|&(x, _)| {
            x >= low - 1e-12 && x <= high + 1e-12 && ((x - low) / step - ((x - low) / step).round()).abs() < 1e-9
        })
    };
    let mut seen_b2 = HashSet::new();
    for v in &set.variants {
        assert!(!v.text.contains('~'), "a variant keeps no draw rules:\n{}", v.text);
        let model = nnderive::load(&Source::new("v.nn", v.text.clone())).unwrap();
        assert_eq!(values(&model, "X"), values(&original, "X"), "fixed");
        let labels = values(&model, "y");
        assert!(labels.iter().all(|&(c, p)| p == 0 && [0.0, 1.0, 2.0].contains(&c)), "{labels:?}");
        assert!(grid(&values(&model, "W1"), -0.5, 0.5, 0.1));
        assert!(grid(&values(&model, "b1"), -0.1, 0.1, 0.05));
        assert!(grid(&values(&model, "W2"), -1.0, 1.0, 0.25));
        let b2 = values(&model, "b2");
        assert!(b2.iter().all(|&(x, _)| x == 0.0 || x == 0.5));
        seen_b2.extend(b2.iter().map(|&(x, _)| x.to_string()));
        nnderive::solve(&model).unwrap();
    }
    assert_eq!(seen_b2.len(), 2, "both choices are drawn");
}

#[test]
fn targets_keep_their_kind() {
    // A batch's one-hot targets stay one-hot column by column.
    let set = vary(&common::source(&common::example("assignment4_batch.nn")), &options(6, 1)).unwrap();
    for v in &set.variants {
        let model = nnderive::load(&Source::new("v.nn", v.text.clone())).unwrap();
        let y = values(&model, "Y");
        for c in 0..3 {
            let column = [y[c].0, y[3 + c].0];
            assert!(column.contains(&1.0) && column.contains(&0.0), "column {c} of {y:?}");
        }
    }
    // Class labels stay whole numbers in range.
    let set = vary(&common::source(&common::example("batch_rows.nn")), &options(6, 1)).unwrap();
    let mut labels = HashSet::new();
    for v in &set.variants {
        let model = nnderive::load(&Source::new("v.nn", v.text.clone())).unwrap();
        for (c, p) in values(&model, "y") {
            assert!(p == 0 && (0.0..3.0).contains(&c) && c.fract() == 0.0);
            labels.insert(c as i64);
        }
    }
    assert_eq!(labels.len(), 3);
    // A probability vector stays one, with the file's two decimals.
    let set = vary(&common::source(&common::example("sigmoid_mse.nn")), &options(6, 1)).unwrap();
    for v in &set.variants {
        let model = nnderive::load(&Source::new("v.nn", v.text.clone())).unwrap();
        let y = values(&model, "y");
        assert!(y.iter().all(|&(p, places)| places <= 2 && (0.0..=1.0).contains(&p)));
        assert!((y[0].0 + y[1].0 - 1.0).abs() < 1e-12, "{y:?}");
        // A scalar constant has one magnitude: it stays.
        assert_eq!(values(&model, "b1")[0].0, 0.35);
    }
    // A recurrent network's one-hot targets stay one-hot step by step, and
    // its zero initial state stays zero.
    let set = vary(&common::source(&common::example("rnn.nn")), &options(4, 1)).unwrap();
    for v in &set.variants {
        let model = nnderive::load(&Source::new("v.nn", v.text.clone())).unwrap();
        for k in 1..=3 {
            let y = values(&model, &format!("y[{k}]"));
            assert_eq!(y.iter().map(|p| p.0).sum::<f64>(), 1.0);
        }
        assert!(values(&model, "h[0]").iter().all(|&(h, _)| h == 0.0));
    }
    // A 0/1 mask stays 0/1, and a target left open but read by a
    // cross-entropy becomes one-hot.
    let mask = Source::new(
        "mask.nn",
        "input  x[4]   = [1, 0, 0, 1]\ntarget y[2]\nparam  W[2,4] = [[0.1, -0.2, 0.3, 0.4], [0.5, -0.3, 0.1, -0.2]]\nloss L = cross_entropy(y, softmax(W @ x))\n",
    );
    for v in &vary(&mask, &options(8, 3)).unwrap().variants {
        let model = nnderive::load(&Source::new("v.nn", v.text.clone())).unwrap();
        assert!(values(&model, "x").iter().all(|&(m, _)| m == 0.0 || m == 1.0));
        let y = values(&model, "y");
        assert_eq!(y.iter().filter(|p| p.0 == 1.0).count(), 1);
    }
}

/// w − 1 with w drawn from {0, 1, 2} sits on relu's kink whenever w = 1:
/// those draws are refused, counted, and no variant keeps one.
#[test]
fn draws_near_a_kink_are_refused_and_counted() {
    let source = Source::new(
        "kink.nn",
        "input x[4] = [1, 2, 3, 4] ~ fixed\nparam w[4] ~ choice(0, 1, 2)\nloss L = sum(relu(w - 1) * x)\n",
    );
    let set = vary(&source, &options(10, 9)).unwrap();
    let kinks = set.redraws.iter().find(|(r, _)| *r == Reason::Kink).map_or(0, |(_, n)| *n);
    assert!(kinks > 0, "{:?}", set.redraws);
    for v in &set.variants {
        let model = nnderive::load(&Source::new("v.nn", v.text.clone())).unwrap();
        assert!(values(&model, "w").iter().all(|&(w, _)| w != 1.0), "{}", v.text);
    }
    assert!(set.summary().contains(&format!("{kinks} near a kink")), "{}", set.summary());
    // With a margin of 0 nothing is nearer than the margin: w = 1 is allowed.
    let zero = Options { margin: Some(num_rational::BigRational::from_integer(0.into())), ..options(10, 9) };
    let set_zero = vary(&source, &zero).unwrap();
    assert!(set_zero.redraws.iter().all(|(r, _)| *r != Reason::Kink));
    assert!(set_zero.variants.iter().any(|v| {
        let model = nnderive::load(&Source::new("v.nn", v.text.clone())).unwrap();
        values(&model, "w").iter().any(|&(w, _)| w == 1.0)
    }));
    // Only 16 variants avoid it: asking for 17 is an error, not a loop.
    let error = vary(&source, &options(17, 9)).unwrap_err();
    let report = nnderive::render::diagnostic::report(&error.report(), "kink.nn", &source.text);
    assert!(report.contains("only 16 distinct variants"), "{report}");
}

/// The distances `eval::margins` reports, against values worked out by hand.
#[test]
fn margins_are_measured() {
    use nnderive::eval::margins::{nearest_hazards, Hazard};
    let source = Source::new(
        "m.nn",
        "input  x[2]   = [0.305, 2]\nparam  w[2]   = [1, 1]\ninput  A[1,2,2] = [[[1, 0.98], [0.5, 0.2]]]\nparam  k      = 1\nloss L = sum(relu(w * x - 0.3)) + sum(max(w, x)) + sum(maxpool(k * A, 2)) + sum(softmax(w * x * 4))\n",
    );
    let model = nnderive::load(&source).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let near = nearest_hazards(&model, &solution).unwrap();
    let distance = |h: Hazard| near.iter().find(|n| n.hazard == h).map(|n| n.distance).unwrap();
    // relu(x − 0.3) at x = 0.305: 0.005 from the kink (its derivative step too).
    assert!((distance(Hazard::Kink { function: "relu" }) - 0.005).abs() < 1e-12);
    // max(w, x): |1 − 0.305| and |1 − 2|, the nearer 0.695.
    assert!((distance(Hazard::Kink { function: "max" }) - 0.695).abs() < 1e-12);
    // The window [1, 0.98, 0.5, 0.2]: its top two 0.02 apart.
    assert!((distance(Hazard::PoolTie) - 0.02).abs() < 1e-12);
    // softmax([1.22, 8]): the smaller probability 1/(1 + e^6.78).
    let p = 1.0 / (1.0 + (8.0f64 - 1.22).exp());
    assert!((distance(Hazard::Saturated { function: "softmax" }) - p).abs() < 1e-12);
}

#[test]
fn errors_are_located_and_snapshotted() {
    common::settings().bind(|| {
        insta::glob!("fixtures/vary/errors", "*.nn", |path| {
            let source = common::source(path);
            let error = vary(&source, &options(3, 1)).expect_err("should fail");
            let rendered = nnderive::render::diagnostic::report(&error.report(), &source.name, &source.text);
            insta::assert_snapshot!("vary_error", rendered);
        });
    });
}

fn cli(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nnderive")).args(args).current_dir(dir).output().unwrap()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn the_command_writes_a_set_once_and_the_same_every_time() {
    let tmp = tempfile::tempdir().unwrap();
    let file = common::example("assignment4.nn");
    let file = file.to_str().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec!["vary", file, "--count", "30", "--seed", "2024", "-o", out, "--no-pdf"];
        args.extend(extra);
        cli(&args, tmp.path())
    };
    let first = run("a", &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(run("b", &[]).status.success());
    let (a, b) = (files(&tmp.path().join("a")), files(&tmp.path().join("b")));
    assert_eq!(a.len(), 90);
    assert_eq!(a, b, "the same seed writes byte-identical files");
    assert!(a.iter().any(|(n, _)| n == "assignment4-30.key.json"));
    // Each key is the solution of its variant, as `solve` writes it.
    let solved = cli(&["solve", "a/assignment4-07.nn", "--round", "4", "--format", "json"], tmp.path());
    let key = std::fs::read(tmp.path().join("a/assignment4-07.key.json")).unwrap();
    assert_eq!(String::from_utf8(solved.stdout).unwrap(), String::from_utf8(key).unwrap());
    let solved = cli(&["solve", "a/assignment4-07.nn", "--round", "4", "--format", "markdown"], tmp.path());
    assert_eq!(solved.stdout, std::fs::read(tmp.path().join("a/assignment4-07.key.md")).unwrap());
    // The library gives the same files.
    let set = vary(&assignment(), &options(30, 2024)).unwrap();
    assert_eq!(set.variants[6].text.as_bytes(), &a.iter().find(|(n, _)| n == "assignment4-07.nn").unwrap().1[..]);
    // Running again: the same set, written again.
    let again = run("a", &[]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("wrote again"));
    // Another seed into the same folder is refused and changes nothing …
    let refused = cli(&["vary", file, "--count", "3", "--seed", "1", "-o", "a", "--no-pdf"], tmp.path());
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("add --force"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(files(&tmp.path().join("a")), b);
    // … unless forced, which replaces the whole set (other files stay).
    std::fs::write(tmp.path().join("a/notes.txt"), "mine").unwrap();
    let forced = cli(&["vary", file, "--count", "3", "--seed", "1", "-o", "a", "--no-pdf", "--force"], tmp.path());
    assert!(forced.status.success());
    let now = files(&tmp.path().join("a"));
    assert_eq!(now.len(), 10, "{:?}", now.iter().map(|f| &f.0).collect::<Vec<_>>());
    assert!(now.iter().any(|(n, _)| n == "notes.txt"));
    // --margin takes a number of 0 or more.
    let bad = cli(&["vary", file, "--count", "3", "-o", "c", "--margin", "-1"], tmp.path());
    assert_eq!(bad.status.code(), Some(2));
    // Nothing temporary is left behind.
    let left: Vec<String> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(left.iter().all(|n| !n.contains("nnderive-tmp")), "{left:?}");
}

/// With pdflatex on the PATH, each key also comes as a PDF.
#[test]
fn keys_as_pdf_when_pdflatex_is_there() {
    if !std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("pdflatex").is_file())) {
        assert!(std::env::var_os("CI").is_none(), "CI needs pdflatex");
        println!("SKIPPED: pdflatex is not on the PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = common::example("assignment4.nn");
    let out = cli(&["vary", file.to_str().unwrap(), "--count", "1", "--seed", "3", "-o", "v"], tmp.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pdf = std::fs::read(tmp.path().join("v/assignment4-01.key.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
}

/// The guide's `vary` run is real: its output block is what the command
/// prints, and the variant it shows is the first one written.
#[test]
fn the_guide_shows_a_real_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/grading.md")).unwrap();
    let (_, after) = guide.split_once("<!-- output: ").expect("the marked output");
    let (command, block) = after.split_once(" -->\n```text\n").unwrap();
    let expected = block.split("```").next().unwrap();
    let mut args: Vec<String> = command.split_whitespace().map(String::from).collect();
    // The problem from the repository; the folder in a temporary one.
    args[1] = root.join(&args[1]).display().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let out = cli(&args.iter().map(String::as_str).collect::<Vec<_>>(), tmp.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    let (_, after) = guide.split_once("<!-- variant 1 of the run above -->\n```nn\n").expect("the marked variant");
    let shown = after.split("```").next().unwrap();
    let written = std::fs::read_to_string(tmp.path().join("variants/assignment4-01.nn")).unwrap();
    assert_eq!(shown, written);
}
