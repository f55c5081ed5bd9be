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
