//! Names that print alike are refused. Each case shows, with the real
//! writers, that each of two names alone prints the same form (so a file
//! holding both would be ambiguous), then that the checker refuses the two
//! together, naming that form. Names that merely look related, and print
//! differently, are accepted.

use nnderive::model::names::{Notation, Printed};
use nnderive::model::ErrorKind;
use nnderive::render;
use nnderive::{Error, Source};

/// What every writer shows for `text`: the text derivation and solution,
/// the LaTeX document and the Markdown document.
fn written(text: &str) -> String {
    let model = nnderive::load(&Source::new("one.nn", text)).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    let derivation = nnderive::derive::derive(&model);
    let solution = nnderive::solve(&model).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    [
        render::text::derivation(&model, &derivation),
        render::text::solution(&model, &solution, Some(4)),
        render::latex::document(&model, &solution, Some(4)),
        render::markdown::document(&model, &solution, Some(4)),
    ]
    .concat()
}

/// The one error of `text`, which must be two names printing alike.
fn refused(text: &str) -> (Printed, Printed, String, Notation) {
    let Err(Error::Model(errors)) = nnderive::load(&Source::new("both.nn", text)) else {
        panic!("{text} should be refused");
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    match &*errors.first().unwrap().kind {
        ErrorKind::PrintsAlike { name, other, shown, notation, .. } => {
            (name.clone(), other.clone(), shown.clone(), *notation)
        }
        other => panic!("{text}: {other:?}"),
    }
}

struct Case {
    /// A file with the first name only, and one with the second only.
    alone: [&'static str; 2],
    /// A file with both.
    both: &'static str,
    /// What both print as, and in which notation.
    shown: &'static str,
    notation: Notation,
    /// The later name, and the first, as the error names them.
    names: [&'static str; 2],
}

const RNN: &str = "steps t = 1..3\ninput x[t] = [1, 2, 3]\nparam w = 0.5\nh[0] = 0\nh[t] = tanh(w * h[t-1] + x[t])\n";

fn cases() -> Vec<Case> {
    vec![
        Case {
            alone: ["param w = 2\nyhat = w * w\nloss L = yhat * yhat\n", "param w = 2\ny_hat = w * w\nloss L = y_hat * y_hat\n"],
            both: "param w = 2\nyhat = w * w\ny_hat = yhat + 1\nloss L = y_hat * y_hat\n",
            shown: "ŷ",
            notation: Notation::Text,
            names: ["'y_hat'", "'yhat'"],
        },
        Case {
            alone: ["param w = 2\nZ2 = w * w\nloss L = Z2 * Z2\n", "param w = 2\nZ_2 = w * w\nloss L = Z_2 * Z_2\n"],
            both: "param w = 2\nZ2 = w * w\nZ_2 = 2 * Z2\nloss L = Z_2 * Z_2\n",
            shown: "Z_{2}",
            notation: Notation::Latex,
            names: ["'Z_2'", "'Z2'"],
        },
        Case {
            alone: ["param h_t = 2\nloss L = h_t * h_t\n", "steps t = 1..3\ninput x[t] = [1, 2, 3]\nparam w = 0.5\nh[0] = 0\nh[t] = tanh(w * h[t-1] + x[t])\nloss L = sum(h[t] for t)\n"],
            both: "steps t = 1..3\ninput x[t] = [1, 2, 3]\nparam w = 0.5\nparam h_t = 1\nh[0] = 0\nh[t] = tanh(w * h[t-1] + x[t])\nloss L = sum(h[t] for t) + h_t\n",
            shown: "h_t",
            notation: Notation::Text,
            names: ["'h[t]'", "'h_t'"],
        },
        Case {
            alone: ["param h2 = 2\nloss L = h2 * h2\n", "steps t = 1..3\ninput x[t] = [1, 2, 3]\nparam w = 0.5\nh[0] = 0\nh[t] = tanh(w * h[t-1] + x[t])\nloss L = sum(h[t] for t)\n"],
            both: "steps t = 1..3\ninput x[t] = [1, 2, 3]\nparam w = 0.5\nparam h2 = 1\nh[0] = 0\nh[t] = tanh(w * h[t-1] + h2 * x[t])\nloss L = sum(h[t] for t)\n",
            shown: "h_{2}",
            notation: Notation::Latex,
            names: ["'h[2]'", "'h2'"],
        },
        Case {
            alone: ["param h_T = 2\nloss L = h_T * h_T\n", "steps t = 1..3\ninput x[t] = [1, 2, 3]\nparam w = 0.5\nh[0] = 0\nh[t] = tanh(w * h[t-1] + x[t])\nloss L = sum(h[t] for t)\n"],
            both: "steps t = 1..3\ninput x[t] = [1, 2, 3]\nparam w = 0.5\nh[0] = 0\nh[t] = tanh(w * h[t-1] + x[t])\nparam h_T = 1\nloss L = sum(h[t] for t) * h_T\n",
            shown: "h_T",
            notation: Notation::Text,
            names: ["'h_T'", "the last step of 'h'"],
        },
        Case {
            alone: ["fn f2(t) = t * t\nparam w = 1\nloss L = f2(w)\n", "fn f_2(t) = t * t\nparam w = 1\nloss L = f_2(w)\n"],
            both: "fn f2(t) = t * t\nfn f_2(t) = t + 1\nparam w = 1\nloss L = f2(w) + f_2(w)\n",
            shown: "\\operatorname{f}_{2}",
            notation: Notation::Latex,
            names: ["the function 'f_2'", "the function 'f2'"],
        },
        Case {
            alone: ["fn f(a1, b) = a1 * b\nparam w = 1\nloss L = f(w, w)\n", "fn f(a_1, b) = a_1 * b\nparam w = 1\nloss L = f(w, w)\n"],
            both: "fn f(a1, a_1) = a1 * a_1\nparam w = 1\nloss L = f(w, w)\n",
            shown: "a_{1}",
            notation: Notation::Latex,
            names: ["parameter 'a_1' of 'f'", "parameter 'a1' of 'f'"],
        },
    ]
}

#[test]
fn names_that_the_writers_print_alike_are_refused() {
    for case in cases() {
        for alone in case.alone {
            assert!(written(alone).contains(case.shown), "{alone} should print {}", case.shown);
        }
        let (name, other, shown, notation) = refused(case.both);
        assert_eq!([name.to_string(), other.to_string()], case.names, "{}", case.both);
        assert_eq!((shown.as_str(), notation), (case.shown, case.notation), "{}", case.both);
    }
}

/// Every pair is refused in either order, at the later name.
#[test]
fn either_order_is_refused_at_the_later_name() {
    for (a, b) in [("yhat", "y_hat"), ("Z2", "Z_2"), ("W1", "W_1"), ("xhat", "x_hat"), ("Yhat", "Y_hat")] {
        for (first, second) in [(a, b), (b, a)] {
            let text = format!("param {first} = 1\nparam {second} = 2\nloss L = {first} * {second}\n");
            let (name, other, ..) = refused(&text);
            assert_eq!((name, other), (Printed::Name(second.into()), Printed::Name(first.into())), "{text}");
        }
    }
}

/// Names that look related but print differently stay allowed.
#[test]
fn names_that_print_differently_are_accepted() {
    for (a, b) in [
        ("yhat", "Yhat"),
        ("yhat", "what"),
        ("W1", "W12"),
        ("W1", "W_12"),
        ("x", "X"),
        ("net_h", "neth"),
        ("h_t", "ht"),
        ("y_hat", "y_hat2"),
    ] {
        let text = format!("param {a} = 1\nparam {b} = 2\nloss L = {a} * {b}\n");
        nnderive::load(&Source::new("ok.nn", text.clone())).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    }
    // A sequence and names that none of its steps prints as.
    let text = format!("{RNN}param h_s = 1\nparam hh = 2\nloss L = sum(h[t] for t) + h_s * hh\n");
    nnderive::load(&Source::new("ok.nn", text.clone())).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    // Two functions, each with parameters of the same names.
    let text = "fn f(a, b) = a * b\nfn g(a, b) = a + b\nparam w = 1\nloss L = f(w, w) + g(w, w)\n";
    nnderive::load(&Source::new("ok.nn", text)).unwrap_or_else(|e| panic!("{text}: {e:?}"));
}

/// A name printed like a step far into a long sequence is found, and the
/// check costs one look-up per step (10 000 steps check at once).
#[test]
fn every_step_of_a_long_sequence_is_compared() {
    let text = "steps t = 1..10000\ninput x[t]\nparam w = 0.5\nh[0] = 0\nh[t] = tanh(w * h[t-1] + x[t])\nparam h9999 = 1\nloss L = h[10000] * h9999\n";
    let (name, other, shown, notation) = refused(text);
    assert_eq!(name.to_string(), "'h9999'");
    assert_eq!(other.to_string(), "'h[9999]'");
    assert_eq!((shown.as_str(), notation), ("h_{9999}", Notation::Latex));
}

/// The check reports alongside the file's other errors, in file order.
#[test]
fn alike_names_are_one_error_among_others() {
    let text = "param yhat = 1\nparam y_hat = 2\nZ = q + 1\nloss L = yhat * y_hat\n";
    let Err(Error::Model(errors)) = nnderive::load(&Source::new("two.nn", text)) else { panic!("refused") };
    let kinds: Vec<&ErrorKind> = errors.iter().map(|e| &*e.kind).collect();
    assert!(matches!(kinds[..], [ErrorKind::PrintsAlike { .. }, ErrorKind::UnknownName { .. }]), "{kinds:?}");
}
