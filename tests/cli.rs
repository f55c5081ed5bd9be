//! The command line as a user meets it: exit codes, standard input, output
//! files written whole or not at all, and the README's examples.

mod common;

use std::process::Output;

fn nnderive(args: &[&str], stdin: Option<&str>) -> Output {
    common::nnderive_with_input(args, stdin)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn solve_answers_the_assignment() {
    let out = nnderive(&["solve", "grammar/examples/assignment4.nn", "--round", "4"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in ["⎡ 2.3257 ⎤", "⎢ 0.6929 ⎥", "⎣ 1.1646 ⎦", "= 1.5221", "δ2 = ŷ − y", "W1 (new)"] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
}

#[test]
fn input_errors_exit_1_with_the_message_on_stderr() {
    let out = nnderive(&["check", "-"], Some("input x[2] = [1, 2]\nZ = W @ x\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).starts_with("error: unknown name 'W'\n --> <stdin>:2:5"), "{}", stderr(&out));
}

#[test]
fn every_error_is_reported_in_file_order_with_a_summary() {
    let fixture = "tests/fixtures/errors/check_several_errors.nn";
    let out = nnderive(&["check", fixture], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    // Named as the snapshot names it.
    let err = stderr(&out).replace(fixture, "check_several_errors.nn");
    let places: Vec<&str> = err.lines().filter_map(|l| l.trim_start().strip_prefix("--> ")).collect();
    let expected = ["5:11", "8:9", "10:11", "11:9"].map(|p| format!("check_several_errors.nn:{p}"));
    assert_eq!(places, expected, "{err}");
    assert!(err.ends_with("\nerror: check_several_errors.nn has 4 errors\n"), "{err}");
    // The terminal text is exactly the reviewed snapshot.
    let snapshot = std::fs::read_to_string("snapshots/error@check_several_errors.nn.snap").unwrap();
    assert_eq!(err.trim_end(), snapshot.split("\n---\n").nth(1).unwrap().trim_end());
}

#[test]
fn json_output_carries_every_error() {
    let fixture = "tests/fixtures/errors/check_several_errors.nn";
    let out = nnderive(&["solve", fixture, "--format", "json"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("the errors are JSON");
    assert_eq!(report["count"], 4);
    assert_eq!(report["left_out"], false);
    assert_eq!(report["summary"], format!("{fixture} has 4 errors"));
    let errors = report["errors"].as_array().unwrap();
    let at: Vec<(u64, u64)> =
        errors.iter().map(|e| (e["line"].as_u64().unwrap(), e["column"].as_u64().unwrap())).collect();
    assert_eq!(at, [(5, 11), (8, 9), (10, 11), (11, 9)]);
    assert_eq!(errors[2]["message"], "unknown name 'q'");
    assert_eq!(errors[2]["file"], fixture);
    assert_eq!(errors[1]["related"][0]["label"], "this is [2, 4]");
    // Byte offsets point at the text the message is about.
    let text = std::fs::read_to_string(fixture).unwrap();
    let (start, end) = (errors[2]["start"].as_u64().unwrap() as usize, errors[2]["end"].as_u64().unwrap() as usize);
    assert_eq!(&text[start..end], "q");
    assert!(errors[0]["rendered"].as_str().unwrap().starts_with("error: a dimension must be at least 1\n"));
    // An error about the whole file has no place.
    let out = nnderive(&["solve", "-", "--format", "json"], Some("param w[2] = [1, 2]\n"));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(report["count"], 1);
    assert_eq!(report["summary"], serde_json::Value::Null);
    assert_eq!(report["errors"][0]["message"], "the file defines no loss");
    assert_eq!(report["errors"][0]["line"], serde_json::Value::Null);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(nnderive(&["solve"], None).status.code(), Some(2));
    assert_eq!(nnderive(&["frobnicate"], None).status.code(), Some(2));
    assert_eq!(nnderive(&["solve", "x.nn", "--round", "99"], None).status.code(), Some(2));
    let missing = nnderive(&["solve", "no/such/file.nn"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("cannot read no/such/file.nn"));
}

#[test]
fn help_explains_every_command() {
    let out = nnderive(&["--help"], None);
    let text = stdout(&out);
    for cmd in ["check", "fmt", "derive", "solve", "gradcheck", "Exit status"] {
        assert!(text.contains(cmd), "--help does not mention {cmd}:\n{text}");
    }
    let solve = stdout(&nnderive(&["solve", "--help"], None));
    assert!(solve.contains("--round") && solve.contains("--format") && solve.contains("latex"), "{solve}");
}

#[test]
fn output_file_is_written_whole_or_not_at_all() {
    let dir = std::env::temp_dir().join(format!("nnderive-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("answer.tex");
    let target_s = target.to_string_lossy().to_string();
    let out = nnderive(&["solve", "grammar/examples/assignment4.nn", "--format", "latex", "-o", &target_s], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.starts_with("\\documentclass") && written.ends_with("\\end{document}\n"));

    // A failing run leaves the earlier file exactly as it was, and no temporary file.
    let out = nnderive(
        &["solve", "-", "--format", "latex", "-o", &target_s],
        Some("input x[2] = [0, 1]\nparam p = 1\nloss L = sum(log(p * x))\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), written);
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");

    // An error never creates the file either.
    let fresh = dir.join("fresh.md");
    let out = nnderive(&["solve", "-", "--format", "markdown", "-o", &fresh.to_string_lossy()], Some("Z = \n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(!fresh.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fmt_check_exit_codes() {
    assert!(nnderive(&["fmt", "--check", "grammar/examples/assignment4.nn"], None).status.success());
    let out = nnderive(&["fmt", "--check", "tests/fixtures/fmt/messy.nn"], None);
    assert_eq!(out.status.code(), Some(1));
    let formatted = stdout(&nnderive(&["fmt", "-"], Some("param  p=1\nloss L=p^2\n")));
    assert_eq!(formatted, "param p = 1\nloss L = p^2\n");
}

#[test]
fn gradcheck_passes_on_the_assignment_and_json_is_valid() {
    let out = nnderive(&["gradcheck", "grammar/examples/assignment4.nn"], None);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).lines().last().unwrap().starts_with("ok: worst relative error"));
    // Every parameter is smaller than the sample, so --all changes nothing,
    // and no progress bar is drawn when standard error is not a terminal.
    let all = nnderive(&["gradcheck", "grammar/examples/assignment4.nn", "--all"], None);
    assert_eq!(stdout(&all), stdout(&out));
    assert_eq!(stderr(&all), "");
    let json = stdout(&nnderive(&["solve", "grammar/examples/assignment4.nn", "--format", "json"], None));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["loss"]["name"], "L");
}

/// At a kink the check cannot agree; it says why instead of only failing.
#[test]
fn gradcheck_explains_a_kink() {
    let out = nnderive(
        &["gradcheck", "-"],
        Some("input x[2] = [1, -1]\nparam W[1,2] = [[0.5, 0.5]]\nloss L = sum(relu(W @ x))\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("note: ") && text.contains("help: the values sit on a kink"), "{text}");
}

#[test]
fn derive_needs_no_numbers() {
    let out = nnderive(&["derive", "grammar/examples/symbolic.nn"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("δ1 = (W2ᵀ δ2) ⊙ f′(Z1)"));
    let nn = stdout(&nnderive(&["derive", "grammar/examples/symbolic.nn", "--format", "nn"], None));
    assert!(nn.contains("delta2 = yhat - y"), "{nn}");
}

/// The README and every guide in `docs/`, in that order: what their
/// examples promise is checked below.
fn documents() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("README.md")];
    if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
        let mut guides: Vec<_> =
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "md")).collect();
        guides.sort();
        paths.extend(guides);
    }
    paths
        .into_iter()
        .map(|p| (p.strip_prefix(root).unwrap_or(&p).display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

/// The README and the guides show real output: every ```text block that
/// follows a `nnderive …` command line is exactly what that command prints.
#[test]
fn readme_examples_are_real_output() {
    let mut checked = 0;
    for (name, text) in documents() {
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            if let Some(cmd) = lines[i].strip_prefix("$ nnderive ") {
                let args: Vec<&str> = cmd.split_whitespace().collect();
                let mut expected = String::new();
                let mut j = i + 1;
                while j < lines.len() && lines[j] != "```" {
                    expected.push_str(lines[j]);
                    expected.push('\n');
                    j += 1;
                }
                let out = nnderive(&args, None);
                let got = format!("{}{}", stdout(&out), stderr(&out));
                assert_eq!(
                    got.trim_end(),
                    expected.trim_end(),
                    "{name}: the block for `nnderive {cmd}` is out of date"
                );
                checked += 1;
                i = j;
            }
            i += 1;
        }
    }
    assert!(checked >= 3, "only {checked} README examples found");
}

/// Every `nn` block of the README and the guides parses, and a block with
/// a loss checks.
#[test]
fn readme_nn_blocks_parse() {
    let mut count = 0;
    for (name, text) in documents() {
        for block in text.split("```nn\n").skip(1).map(|b| b.split("```").next().unwrap_or("")) {
            nnderive::syntax::parse(block).unwrap_or_else(|e| panic!("{name}: a block does not parse: {e:?}\n{block}"));
            if block.contains("loss ") {
                nnderive::load(&nnderive::Source::new("readme.nn", block))
                    .unwrap_or_else(|e| panic!("{name}: {e:?}\n{block}"));
            }
            count += 1;
        }
    }
    assert!(count >= 4);
}
