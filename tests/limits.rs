//! Work bounded by what the file says: Adam linear in its steps (and its
//! values against Adam written out here), one budget over the factors that
//! multiply (training steps × a pass over every time step, cases × solves,
//! entries checked × passes) with errors that name the product, `--cases`
//! bounded, padded maps counted in every output format, numbers of too many
//! digits refused where they are written, and long constants computed
//! without folding them past the exact size cap. How long things take is
//! measured in `benches/solve.rs` (`cargo bench -- adam`), not here.

mod common;

use std::process::{Command, Output};

use nnderive::eval::work::{self, Repeats, WORK_BUDGET};
use nnderive::eval::{ErrorKind, Failure};
use nnderive::Source;

fn load(name: &str, text: &str) -> nnderive::model::Model {
    nnderive::load(&Source::new(name, text)).expect("the file checks")
}

fn nnderive_cmd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nnderive")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

fn eval_error(error: nnderive::Error) -> nnderive::eval::Error {
    match error {
        nnderive::Error::Eval(e) => e,
        other => panic!("not an evaluation error: {other:?}"),
    }
}

/// Adam on L = w² from w = 3 for 10 000 steps: every loss of the run
/// against Adam written out in f64 (Kingma & Ba's algorithm 1, β^k by
/// `powi`). The first step is exact in nnderive and f64 here, so the two
/// agree to rounding, step after step.
#[test]
fn adam_for_10_000_steps_follows_adam_written_out() {
    let model = load("adam.nn", "param w = 3\nloss L = w^2\ntrain adam(lr = 0.01, steps = 10000)\n");
    let solution = nnderive::solve(&model).expect("solves");
    let training = solution.training.expect("trains");
    let losses: Vec<f64> = training.losses.iter().map(|l| l.to_f64_vec()[0]).collect();
    assert_eq!(losses.len(), 10_001);
    let (b1, b2, eps, lr) = (0.9f64, 0.999f64, 1e-8f64, 0.01f64);
    let (mut w, mut m, mut v) = (3.0f64, 0.0f64, 0.0f64);
    for (k, loss) in losses.iter().enumerate() {
        assert!((loss - w * w).abs() <= 1e-9 * (w * w).max(1e-6), "step {k}: {loss} against {}", w * w);
        let g = 2.0 * w;
        m = b1 * m + (1.0 - b1) * g;
        v = b2 * v + (1.0 - b2) * g * g;
        let t = k as i32 + 1;
        let (m_hat, v_hat) = (m / (1.0 - b1.powi(t)), v / (1.0 - b2.powi(t)));
        w -= lr * m_hat / (v_hat.sqrt() + eps);
    }
}

/// The case at a tenth of the time steps (1 000 time steps of a
/// recurrent network, 10 000 training steps): refused at the `train`
/// statement, naming both factors; the most steps the help offers pass the
/// budget and one more does not.
#[test]
fn training_steps_times_time_steps_are_bounded() {
    let text = std::fs::read_to_string("tests/fixtures/errors/solve_too_much_work_training.nn").unwrap();
    let model = load("rnn.nn", &text);
    let error = eval_error(nnderive::solve(&model).expect_err("past the budget"));
    let ErrorKind::TooMuchWork(exceeded) = &error.kind else { panic!("{error:?}") };
    let work::Exceeded { repeats, unit, time_steps, .. } = &**exceeded;
    assert_eq!((repeats, *time_steps), (&Repeats::Training { steps: 10_000 }, Some(1000)));
    let message = error.diagnostic().message;
    assert!(message.contains("training for 10000 steps") && message.contains("1000 time steps"), "{message}");
    assert_eq!(error.span.map(|s| s.line), Some(9));
    let most = (WORK_BUDGET / unit) - 1;
    assert!(error.diagnostic().help.unwrap().contains(&format!("at most {most} steps")));
    for (steps, fits) in [(most, true), (most + 1, false)] {
        let model = load("rnn.nn", &text.replace("steps = 10000", &format!("steps = {steps}")));
        let derivation = nnderive::derive::derive(&model);
        assert_eq!(work::check_solve(&model, &derivation).is_ok(), fits, "{steps} steps");
    }
}

/// The count against an independent one: a 30×40 by 40×50 product is
/// 30·40·50 multiply-adds, and each node evaluated costs NODE_COST more.
#[test]
fn a_matrix_product_counts_its_multiply_adds() {
    let model = load("mm.nn", "param A[30,40]\nparam B[40,50]\nP = A @ B\nloss L = sum(P)\n");
    let derivation = nnderive::derive::derive(&model);
    let w = work::pass_work(&model, &derivation);
    // Forward: the leaves A and B (their entries), A @ B, and the sum over P.
    let leaves = 2 * work::NODE_COST + 30 * 40 + 40 * 50;
    let product = work::NODE_COST + 30 * 40 * 50;
    let sum = work::NODE_COST + 30 * 50;
    assert_eq!(w.forward, leaves + product + sum + work::NODE_COST + 30 * 50);
    assert!(w.total > w.forward);
}

/// `gradcheck --all` of a 300×300 weight: 2 × 90 000 forward passes of
/// 90 000 multiply-adds each, past the budget, pointing at the weight;
/// a sample of 64 entries passes.
#[test]
fn checking_every_entry_of_a_large_weight_is_bounded() {
    let n = 300;
    let row = |i: usize| {
        format!(
            "[{}]",
            (0..n).map(|j| format!("{}", ((i * 7 + j * 3) % 11) as f64 / 100.0)).collect::<Vec<_>>().join(", ")
        )
    };
    let rows: Vec<String> = (0..n).map(row).collect();
    let x: Vec<String> = (0..n).map(|j| format!("{}", (j % 5) as f64 / 10.0)).collect();
    let text = format!(
        "input x[{n}] = [{}]\nparam W[{n},{n}] = [{}]\nloss L = sum(tanh(W @ x))\n",
        x.join(", "),
        rows.join(", ")
    );
    let model = load("wide.nn", &text);
    let error = eval_error(nnderive::gradcheck(&model).expect_err("past the budget"));
    let ErrorKind::TooMuchWork(exceeded) = &error.kind else { panic!("{error:?}") };
    assert_eq!(exceeded.repeats, Repeats::FiniteDifferences { entries: 90_000 });
    assert_eq!(error.span.map(|s| s.line), Some(2));
    assert!(error.diagnostic().message.starts_with("checking 90000 gradient entries by finite differences"));
    let options = nnderive::GradCheckOptions { sample: Some(64), progress: &mut |_, _| {} };
    let check = nnderive::gradcheck_with(&model, options).expect("a sample fits");
    assert_eq!((check.params[0].checked, check.params[0].entries), (64, 90_000));
}

/// `--cases` is refused past 64 classes, and when its solves together pass
/// the budget, before anything is solved (exit 2 for the option, 1 for the
/// file); the messages are snapshots.
#[test]
fn cases_are_bounded() {
    common::settings().bind(|| {
        let out = nnderive_cmd(&["solve", "tests/fixtures/limits/cases_too_many_classes.nn", "--cases", "y=onehot"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
        insta::assert_snapshot!("limits_cases_too_many_classes", String::from_utf8_lossy(&out.stderr));
        let out = nnderive_cmd(&["solve", "tests/fixtures/limits/cases_too_much_work.nn", "--cases", "y=onehot"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        insta::assert_snapshot!("limits_cases_too_much_work", String::from_utf8_lossy(&out.stderr));
    });
}

/// A padding past the kernel (the 1×1 input padded by 2047, which made
/// maps of 16 million entries) is a located error in every command and
/// format; JSON reports it as data on standard output.
#[test]
fn padded_maps_are_refused_in_every_format() {
    let file = "tests/fixtures/errors/check_conv_padding_past_kernel.nn";
    for args in [
        vec!["check", file],
        vec!["derive", file],
        vec!["gradcheck", file],
        vec!["solve", file],
        vec!["solve", file, "--format", "latex"],
        vec!["solve", file, "--format", "markdown"],
    ] {
        let out = nnderive_cmd(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("check_conv_padding_past_kernel.nn:3:10") && err.contains("padding 2047"), "{err}");
    }
    let out = nnderive_cmd(&["solve", file, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON errors");
    let error = &json["errors"][0];
    assert!(error["message"].as_str().unwrap().contains("padding 2047"), "{json}");
    assert_eq!((error["line"].as_u64(), error["column"].as_u64()), (Some(3), Some(10)), "{json}");
}

/// A number of 200 000 digits is refused where it is written, naming the
/// limit, before its value is computed (reading it took 14 s).
#[test]
fn numbers_of_too_many_digits_are_refused() {
    let text = format!("param w = 0.{}\nloss L = w^2\n", "7".repeat(200_000));
    let error = nnderive::load(&Source::new("long.nn", text)).expect_err("too many digits");
    let d = error.diagnostic();
    assert_eq!(d.message, "this number has 200001 digits; nnderive reads at most 1000");
    let span = d.span.unwrap();
    assert_eq!((span.line, span.column, span.end - span.start), (1, 11, 200_002));
}

/// A constant of 900 digits to the 1000th power, and to the 64th twice
/// over: computed in f64 past the exact size cap (once folded exactly, at a
/// cost of minutes), with a note, and equal to the same power in f64.
#[test]
fn long_constants_are_not_folded_past_the_size_cap() {
    let digits: String = (0..899).map(|i| char::from(b'0' + (i * 7 % 10) as u8)).collect();
    let c = format!("1.0000001{digits}");
    let text = format!("param w = 0.5\nconst c = {c}\nloss L = c^1000 * w * w + (c^64)^64\n");
    let model = load("c.nn", &text);
    let solution = nnderive::solve(&model).expect("solves");
    let c: f64 = c.parse().unwrap();
    let want = c.powi(1000) / 4.0 + c.powi(4096);
    let loss = solution.value(model.loss).to_f64_vec()[0];
    assert!((loss - want).abs() <= 1e-12 * want, "{loss} against {want}");
    assert!(solution.value(model.loss).capped());
    let gradient = solution.gradients[0].to_f64_vec()[0];
    assert!((gradient - c.powi(1000)).abs() <= 1e-12 * c.powi(1000), "{gradient}");
}

/// A value that needs more than MAX_CALLS calls of custom functions stops
/// the first pass with its own error (the work budget does not multiply
/// it by the training steps, which would not help).
#[test]
fn too_many_calls_keep_their_own_error_when_training() {
    let mut text = String::from("param x[2] = [1, 2]\nfn f1(t) = sin(t)\n");
    for k in 2..=30 {
        text.push_str(&format!("fn f{k}(t) = f{p}(f{p}(t))\n", p = k - 1));
    }
    text.push_str("loss L = sum(f30(x))\ntrain sgd(lr = 0.1, steps = 10000)\n");
    let error = eval_error(nnderive::solve(&load("calls.nn", &text)).expect_err("too many calls"));
    assert!(matches!(error.kind, ErrorKind::Numeric { failure: Failure::TooManyCalls { .. }, .. }), "{error:?}");
}
