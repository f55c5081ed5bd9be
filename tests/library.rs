//! The library as a course repository's own tests use it: one call for the
//! text of a derivation or a solution, snapshot-tested with insta. The
//! function below is the example in docs/teachers.md, character for
//! character (checked here), bound to this repository's snapshot folder.

mod common;

fn assignment4() {
    let source = nnderive::Source::new("assignment4.nn", include_str!("../grammar/examples/assignment4.nn"));
    let text = nnderive::derivation_text(&source).unwrap_or_else(|e| panic!("{}", e.rendered(&source)));
    insta::assert_snapshot!("assignment4_derivation", text);
    let solution = nnderive::solution_text(&source, Some(4)).unwrap_or_else(|e| panic!("{}", e.rendered(&source)));
    insta::assert_snapshot!("assignment4_solution", solution);
}

#[test]
fn the_guides_insta_example_runs() {
    common::settings().bind(assignment4);
}

/// The texts are exactly what `derive` and `solve --round 4` print.
#[test]
fn the_texts_are_the_commands_output() {
    let source = common::source(&common::example("assignment4.nn"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nnderive"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(nnderive::derivation_text(&source).unwrap(), run(&["derive", "grammar/examples/assignment4.nn"]));
    assert_eq!(
        nnderive::solution_text(&source, Some(4)).unwrap(),
        run(&["solve", "grammar/examples/assignment4.nn", "--round", "4"])
    );
    // An error renders as the command line shows it.
    let broken = nnderive::Source::new("broken.nn", "input x[2] = [1, 2]\nZ = W @ x\n");
    let error = nnderive::derivation_text(&broken).unwrap_err();
    assert!(error.rendered(&broken).starts_with("error: unknown name 'W'\n --> broken.nn:2:5\n"));
}

/// The guide shows the function above as a course repository writes it (a
/// `#[test]` of its own, no snapshot folder set).
#[test]
fn the_guide_shows_this_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/teachers.md")).unwrap();
    let block = guide.split("```rust\n").nth(1).and_then(|b| b.split("```").next()).expect("a rust block");
    let function = block.strip_prefix("#[test]\n").expect("the example is a test");
    let this = std::fs::read_to_string(root.join("tests/library.rs")).unwrap();
    assert!(this.contains(function), "docs/teachers.md's example differs from tests/library.rs:\n{function}");
}
