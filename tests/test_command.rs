//! `nnderive test`: users' snapshot tests of their `.nn` files, run as a
//! course repository's CI runs them, in a scratch directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nnderive(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nnderive")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh directory holding copies of the named examples.
fn course(name: &str, examples: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nnderive-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in examples {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/examples").join(e);
        std::fs::copy(from, dir.join(e)).unwrap();
    }
    dir
}

/// The files in `dir/__snapshots__`, sorted.
fn snapshots(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir.join("__snapshots__")) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// The lifecycle a course repository sees: a new file fails and gets a
/// `.snap.new`; accepted, it passes; one number changed in the file fails
/// with a unified diff of exactly the values that moved and writes the new
/// text beside the snapshot; accepted, it passes again, and the `.snap.new`
/// is gone.
#[test]
fn a_changed_number_fails_until_accepted() {
    let dir = course("lifecycle", &["assignment4.nn"]);
    let first = nnderive(&dir, &["test", "assignment4.nn"]);
    assert_eq!(first.status.code(), Some(1), "{}", stdout(&first));
    assert!(stdout(&first).contains("assignment4.nn: no snapshot yet"), "{}", stdout(&first));
    assert!(stdout(&first).ends_with("snapshots: 0 matched, 1 new\n"), "{}", stdout(&first));
    assert_eq!(snapshots(&dir), ["assignment4.snap.new"]);

    let accepted = nnderive(&dir, &["test", "assignment4.nn", "--accept"]);
    assert!(accepted.status.success(), "{}{}", stdout(&accepted), stderr(&accepted));
    assert!(stdout(&accepted).ends_with("snapshots: 0 matched, 1 accepted\n"));
    assert_eq!(snapshots(&dir), ["assignment4.snap"]);
    let passed = nnderive(&dir, &["test", "assignment4.nn"]);
    assert!(passed.status.success());
    assert_eq!(stdout(&passed), "snapshots: 1 matched\n");

    // The snapshot is exactly what `derive` and `solve --round 4` print, after its header.
    let snapshot = std::fs::read_to_string(dir.join("__snapshots__/assignment4.snap")).unwrap();
    let derive = stdout(&nnderive(&dir, &["derive", "assignment4.nn"]));
    let solve = stdout(&nnderive(&dir, &["solve", "assignment4.nn", "--round", "4"]));
    let header = format!("---\nnnderive: {}\nfile: assignment4.nn\nround: 4\n---\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        snapshot,
        format!("{header}== nnderive derive assignment4.nn ==\n{derive}\n== nnderive solve assignment4.nn --round 4 ==\n{solve}")
    );

    // One weight changes: W1[2,4] from -0.2 to -0.25, so Z1[2] goes from 0.35 to 0.25.
    let file = dir.join("assignment4.nn");
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replacen("[0.5, -0.3,  0.1, -0.2]", "[0.5, -0.3,  0.1, -0.25]", 1);
    assert_ne!(text, changed);
    std::fs::write(&file, changed).unwrap();
    let failed = nnderive(&dir, &["test", "assignment4.nn"]);
    assert_eq!(failed.status.code(), Some(1));
    let out = stdout(&failed);
    assert!(out.starts_with("assignment4.nn: differs from its snapshot\n--- __snapshots__/assignment4.snap\n+++ __snapshots__/assignment4.snap.new\n@@ "), "{out}");
    assert!(out.contains("\n-       ⎢ 0.3500 ⎥\n+       ⎢ 0.2500 ⎥\n"), "{out}");
    assert!(out.contains("\n-    = 1.5221\n"), "{out}");
    assert!(out.ends_with("snapshots: 0 matched, 1 differs\n"), "{out}");
    // The snapshot is untouched; the new text waits beside it.
    assert_eq!(std::fs::read_to_string(dir.join("__snapshots__/assignment4.snap")).unwrap(), snapshot);
    assert_eq!(snapshots(&dir), ["assignment4.snap", "assignment4.snap.new"]);

    // The guide shows this run and this snapshot, in excerpts.
    shown_in_the_guide("assignment4.nn: differs from its snapshot\n", &out);
    let version = env!("CARGO_PKG_VERSION");
    shown_in_the_guide("---\nnnderive: ", &snapshot.replace(version, "0.1.0"));

    let accepted = nnderive(&dir, &["test", "--accept", "assignment4.nn"]);
    assert!(accepted.status.success());
    assert_eq!(snapshots(&dir), ["assignment4.snap"], "the .snap.new is removed and no temporary file is left");
    let passed = nnderive(&dir, &["test", "assignment4.nn"]);
    assert!(passed.status.success(), "{}", stdout(&passed));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The ```text block of docs/teachers.md that starts with `start` is an
/// excerpt of `output`: its pieces between `…` lines appear there, in order.
fn shown_in_the_guide(start: &str, output: &str) {
    let guide = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/teachers.md")).unwrap();
    let block = guide
        .split("```text\n")
        .filter_map(|b| b.split("```").next())
        .find(|b| b.starts_with(start))
        .unwrap_or_else(|| panic!("docs/teachers.md has no block starting {start:?}"));
    let mut rest = output;
    for piece in block.split("…\n").filter(|p| !p.is_empty()) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => panic!("docs/teachers.md shows\n{piece}\nwhich is not, in this order, in\n{output}"),
        }
    }
}

/// A directory tests each `.nn` file in it, in order of name (other files
/// and subdirectories aside); a `.snap.new` left by an earlier run is
/// removed once its file matches again.
#[test]
fn a_directory_tests_each_nn_file_in_order() {
    let dir = course("directory", &["sigmoid_mse.nn", "assignment4.nn", "rnn.nn"]);
    std::fs::write(dir.join("notes.txt"), "not a network\n").unwrap();
    std::fs::create_dir_all(dir.join("drafts")).unwrap();
    std::fs::write(dir.join("drafts/broken.nn"), "Z = \n").unwrap();
    let out = nnderive(&dir, &["test", "."]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let order: Vec<&str> =
        text.lines().filter_map(|l| l.split_once(": no snapshot yet").map(|(file, _)| file)).collect();
    assert_eq!(order, ["./assignment4.nn", "./rnn.nn", "./sigmoid_mse.nn"], "{text}");
    assert!(nnderive(&dir, &["test", ".", "--accept"]).status.success());
    assert_eq!(snapshots(&dir), ["assignment4.snap", "rnn.snap", "sigmoid_mse.snap"]);

    // A stale .snap.new goes once the file matches.
    std::fs::write(dir.join("__snapshots__/rnn.snap.new"), "old\n").unwrap();
    let out = nnderive(&dir, &["test", "."]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(stdout(&out), "snapshots: 3 matched\n");
    assert_eq!(snapshots(&dir), ["assignment4.snap", "rnn.snap", "sigmoid_mse.snap"]);

    // The same file named twice, or by its directory too, is tested once.
    let out = nnderive(&dir, &["test", ".", "rnn.nn", "./rnn.nn"]);
    assert_eq!(stdout(&out), "snapshots: 3 matched\n");

    // A directory without .nn files fails: a CI run that tests nothing should say so.
    let out = nnderive(&dir, &["test", "__snapshots__"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "error: __snapshots__ has no .nn files to test\n");
    assert_eq!(stdout(&out), "snapshots: 0 matched, 1 could not be tested\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A snapshot keeps its own rounding: written at 2 places, it is tested at
/// 2 places; checked out with Windows line ends, it still matches.
#[test]
fn a_snapshot_keeps_its_rounding_and_reads_crlf() {
    let dir = course("round", &["sigmoid_mse.nn"]);
    assert!(nnderive(&dir, &["test", "sigmoid_mse.nn", "--accept", "--round", "2"]).status.success());
    let path = dir.join("__snapshots__/sigmoid_mse.snap");
    let snapshot = std::fs::read_to_string(&path).unwrap();
    assert!(
        snapshot.contains("\nround: 2\n---\n") && snapshot.contains("== nnderive solve sigmoid_mse.nn --round 2 ==\n")
    );
    assert!(nnderive(&dir, &["test", "sigmoid_mse.nn"]).status.success());
    // Asked at another rounding, it differs.
    assert_eq!(nnderive(&dir, &["test", "sigmoid_mse.nn", "--round", "3"]).status.code(), Some(1));
    std::fs::remove_file(dir.join("__snapshots__/sigmoid_mse.snap.new")).unwrap();
    std::fs::write(&path, snapshot.replace('\n', "\r\n")).unwrap();
    let out = nnderive(&dir, &["test", "sigmoid_mse.nn"]);
    assert!(out.status.success(), "{}", stdout(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file with an error is reported with its message and place, counted,
/// and fails the run; the other files are still tested. Standard input has
/// no place for a snapshot.
#[test]
fn a_file_with_an_error_fails_the_run() {
    let dir = course("error", &["assignment4.nn"]);
    assert!(nnderive(&dir, &["test", "--accept", "assignment4.nn"]).status.success());
    std::fs::write(dir.join("broken.nn"), "input x[2] = [1, 2]\nZ = W @ x\n").unwrap();
    let out = nnderive(&dir, &["test", "broken.nn", "assignment4.nn", "missing.nn"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error: unknown name 'W'\n --> broken.nn:2:5\n"), "{}", stderr(&out));
    assert!(stderr(&out).contains("error: cannot read missing.nn: "), "{}", stderr(&out));
    assert_eq!(stdout(&out), "snapshots: 1 matched, 2 could not be tested\n");
    assert_eq!(snapshots(&dir), ["assignment4.snap"], "nothing written for a file with errors");
    let out = nnderive(&dir, &["test", "-"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("standard input has no place"), "{}", stderr(&out));
    assert_eq!(nnderive(&dir, &["test"]).status.code(), Some(2), "a file is required");
    std::fs::remove_dir_all(&dir).unwrap();
}
