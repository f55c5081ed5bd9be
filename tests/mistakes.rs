//! The table of foreign spellings (`syntax::habits`) stays true to the
//! language: every form it offers parses, and every function it names is a
//! built-in; every activation it defines checks and passes gradcheck.

use nnderive::model::Builtin;
use nnderive::syntax::habits::{form, DEFINITIONS, FORMS};
use nnderive::Source;

#[test]
fn every_form_parses_and_names_only_builtins() {
    for (name, arity, _) in FORMS {
        let args: Vec<String> = ["a", "b", "c"].iter().take(arity).map(|s| s.to_string()).collect();
        let text = form(name, &args).expect("a form");
        let file =
            nnderive::syntax::parse(&format!("Z = {text}\n")).unwrap_or_else(|e| panic!("{name}: {text}: {e:?}"));
        assert_eq!(file.items.len(), 1);
        let pieces: Vec<&str> = text.split('(').collect();
        let before_brackets = &pieces[..pieces.len() - 1];
        for called in
            before_brackets.iter().filter_map(|s| s.rsplit(|c: char| !c.is_ascii_alphanumeric() && c != '_').next())
        {
            if !called.is_empty() {
                assert!(Builtin::lookup(called).is_some(), "{name}: {text} calls '{called}', not a built-in");
            }
        }
    }
}

/// A habit is for a name nnderive does not know: one for a name that has
/// become a built-in (as `silu` did) would never be reached.
#[test]
fn no_habit_names_a_builtin() {
    for name in FORMS.iter().map(|f| f.0).chain(DEFINITIONS.iter().map(|d| d.0)) {
        assert!(Builtin::lookup(name).is_none(), "'{name}' is a built-in: its habit is never reached");
    }
}

#[test]
fn operands_are_bracketed_where_precedence_needs_it() {
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(form("square", &args(&["a - b"])).unwrap(), "(a - b)^2");
    assert_eq!(form("square", &args(&["-z"])).unwrap(), "(-z)^2");
    assert_eq!(form("transpose", &args(&["(W @ x)"])).unwrap(), "(W @ x).T");
    assert_eq!(form("dot", &args(&["W1", "x"])).unwrap(), "W1 @ x");
    assert_eq!(form("ln", &args(&["1 - p"])).unwrap(), "log(1 - p)");
    assert_eq!(form("mse_loss", &args(&["yhat", "y"])).unwrap(), "mse(y, yhat)");
    assert_eq!(form("dot", &args(&["W1"])), None, "arity matters");
}

#[test]
fn every_offered_definition_checks_and_differentiates() {
    for (name, definition) in DEFINITIONS {
        let text = format!("param p[3] = [0.7, -0.3, 2.5]\n{definition}\nloss L = sum({name}(p))\n");
        let model = nnderive::load(&Source::new("def.nn", text)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(nnderive::gradcheck(&model).unwrap().worst() < 1e-6, "{name}");
    }
}

/// The help of the error `path`'s file gets, and the pieces of code in it
/// (between backticks).
fn help_code(path: &str) -> (String, Vec<String>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/errors").join(path);
    let text = std::fs::read_to_string(&path).unwrap();
    let error = nnderive::load(&Source::new("bad.nn", text.clone())).map(|_| ()).expect_err("the fixture fails");
    let help = error.diagnostic().help.expect("a help");
    let code = help.split('`').skip(1).step_by(2).map(str::to_string).collect();
    (text, code)
}

/// Loads `text`, checks every gradient against finite differences, and
/// returns the model.
fn checks_and_differentiates(what: &str, text: String) -> nnderive::model::Model {
    let model =
        nnderive::load(&Source::new("fixed.nn", text.clone())).unwrap_or_else(|e| panic!("{what}: {e:?}\n{text}"));
    assert!(nnderive::gradcheck(&model).unwrap().worst() < 1e-6, "{what}");
    model
}

/// A help that writes code is right: the file rewritten as it says checks,
/// solves, and its gradients pass gradcheck.
#[test]
fn helps_that_write_code_give_files_that_check() {
    // A one-for-one replacement of the code the error points at.
    for (fixture, wrong, piece) in [
        ("check_shape_mismatch_matmul_feature_map.nn", "W @ P1", 0),
        ("check_unknown_function_norm.nn", "norm(W1)^2", 0),
        ("check_wrong_arity_sum_of_two.nn", "sum(W1^2, b1^2)", 1),
    ] {
        let (text, code) = help_code(fixture);
        let fixed = text.replace(wrong, &code[piece]);
        assert_ne!(fixed, text, "{fixture}");
        checks_and_differentiates(fixture, fixed);
    }
    // The help's `sum(W1^2) + sum(b1^2)` is the penalty over both tensors.
    let (_, code) = help_code("check_wrong_arity_sum_of_two.nn");
    assert_eq!(code[1], "sum(W1^2) + sum(b1^2)");

    // The training statement rewritten whole: momentum with the given β and steps.
    let (text, code) = help_code("check_unknown_train_arg_sgd_momentum.nn");
    let statement = code.iter().find(|c| c.starts_with("train ")).unwrap();
    let fixed: String = text
        .lines()
        .map(|l| if l.starts_with("train ") { statement.as_str() } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let model = checks_and_differentiates("momentum", fixed);
    let train = model.train.as_ref().unwrap();
    assert_eq!(train.steps, 3);
    assert!(matches!(train.optimizer, nnderive::model::Optimizer::Momentum { .. }), "{:?}", train.optimizer);

    // Batch normalization without gamma and beta: the call the help gives,
    // on the batch named first, as an equation of its own.
    let (text, code) = help_code("check_batchnorm_arity.nn");
    let named = code.iter().find(|c| c.starts_with("Z = ")).unwrap();
    let call = code.iter().find(|c| c.starts_with("batchnorm(")).unwrap();
    let fixed = text
        .replace(
            "Yhat = softmax(batchnorm(W1 @ X), axis = 0)",
            &format!("{named}\nB = {call}\nYhat = softmax(B, axis = 0)"),
        )
        .replacen("param", "param gamma[2] = [1.5, 0.5]\nparam beta[2] = [0.1, -0.2]\nparam", 1);
    checks_and_differentiates("batchnorm", fixed);

    // Dropout without its mask: the call the help gives, with a mask declared.
    let (text, code) = help_code("check_dropout_without_mask.nn");
    let call = code.iter().find(|c| c.starts_with("dropout(")).unwrap();
    let fixed = text.replace("dropout(relu(W1 @ x))", call).replacen("param", "const M[2] = [1, 0]\nparam", 1);
    checks_and_differentiates("dropout", fixed);
}
