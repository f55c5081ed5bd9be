//! Control characters never reach a terminal: a file name in a message
//! shows them as pictures (ESC as ␛), a comment holding one is a located
//! error in `check` and `fmt` (so `fmt` never copies one out), and JSON
//! errors keep them as escapes.

use std::path::Path;
use std::process::{Command, Output};

fn nnderive(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nnderive")).args(args).current_dir(dir).output().expect("the binary runs")
}

/// Every character that must not reach a terminal: C0 controls but the
/// line break and tab, DEL, C1 controls (U+009B is ESC [ in one), and the
/// marks that reverse or hide text.
const HIDDEN: [char; 14] = [
    '\u{0}', '\u{7}', '\u{8}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}', '\u{61c}', '\u{200b}', '\u{200f}', '\u{202e}',
    '\u{2066}', '\u{2069}', '\u{feff}',
];

/// Bytes that no line of a message may hold: every [`HIDDEN`] character,
/// and a carriage return.
fn assert_clean(bytes: &[u8], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    for c in text.chars() {
        assert!(!HIDDEN.contains(&c) && c != '\r', "{what}: U+{:04X} reached the output:\n{text}", u32::from(c));
    }
}

#[test]
fn file_names_in_messages_show_control_characters_as_pictures() {
    let dir = tempfile::tempdir().unwrap();
    for c in HIDDEN.iter().filter(|&&c| c != '\u{0}').chain(&['\n', '\t', '\r']) {
        let name = format!("net{c}[2J.nn");
        // A file that does not exist: `cannot read …`.
        let out = nnderive(&["check", &name], dir.path());
        assert_eq!(out.status.code(), Some(1));
        assert_clean(&out.stderr, &format!("check of a missing file U+{:04X}", u32::from(*c)));
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: cannot read net"), "{out:?}");
        // A file that exists and has an error: the diagnostic's `-->` line.
        std::fs::write(dir.path().join(&name), "param w = 1\nloss L = w +\n").unwrap();
        let out = nnderive(&["check", &name], dir.path());
        assert_eq!(out.status.code(), Some(1));
        assert_clean(&out.stderr, "a diagnostic's file name");
        // Several errors: the summary line names the file too.
        std::fs::write(dir.path().join(&name), "Z = q\nH = r\nparam w = 1\nloss L = w\n").unwrap();
        let out = nnderive(&["check", &name], dir.path());
        assert!(String::from_utf8_lossy(&out.stderr).contains("has 2 errors"), "{out:?}");
        assert_clean(&out.stderr, "the summary's file name");
        // `fmt --check` of a file that is not formatted.
        std::fs::write(dir.path().join(&name), "param w=1\nloss L = w\n").unwrap();
        let out = nnderive(&["fmt", "--check", &name], dir.path());
        assert_eq!(out.status.code(), Some(1));
        assert_clean(&out.stderr, "fmt --check");
        // `-o` into a folder that does not exist.
        let target = format!("no{c}such/out.txt");
        let out = nnderive(&["solve", &name, "-o", &target], dir.path());
        assert_eq!(out.status.code(), Some(1));
        assert_clean(&out.stderr, "-o");
        std::fs::remove_file(dir.path().join(&name)).unwrap();
    }
    let out = nnderive(&["check", "x\u{1b}[2Jy.nn"], dir.path());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot read x␛[2Jy.nn: No such file or directory (os error 2)\n"
    );
}

#[test]
fn a_comment_with_a_control_character_is_refused_by_check_and_fmt() {
    let dir = tempfile::tempdir().unwrap();
    for c in HIDDEN {
        for (line, text) in [
            (2, format!("param w = 1\n# note {c}[2J\nloss L = w * w\n")),
            (1, format!("param w = 1 # {c}\nloss L = w * w\n")),
            (1, format!("param W[2] = [1,  # {c}\n  2]\nloss L = sum(W * W)\n")),
        ] {
            std::fs::write(dir.path().join("net.nn"), &text).unwrap();
            for command in ["check", "fmt"] {
                let out = nnderive(&[command, "net.nn"], dir.path());
                let what = format!("{command} with U+{:04X}", u32::from(c));
                assert_eq!(out.status.code(), Some(1), "{what}");
                assert!(out.stdout.is_empty(), "{what} wrote {:?}", String::from_utf8_lossy(&out.stdout));
                assert_clean(&out.stderr, &what);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("a comment holds"), "{what}: {err}");
                assert!(err.contains(&format!("U+{:04X}", u32::from(c))), "{what}: {err}");
                assert!(err.contains(&format!(" --> net.nn:{line}:")), "{what}: {err}");
            }
        }
    }
}

/// Tabs, the zero-width joiners, and any character that shows stay
/// allowed in comments, and `fmt` keeps them.
#[test]
fn comments_keep_tabs_joiners_and_every_visible_character() {
    let dir = tempfile::tempdir().unwrap();
    let comment = "# tab\there, می\u{200c}خواهم, 👨\u{200d}👩\u{200d}👧, ŷ = σ(z), «ok» ←";
    std::fs::write(dir.path().join("net.nn"), format!("param w = 1\n{comment}\nloss L = w * w\n")).unwrap();
    let out = nnderive(&["check", "net.nn"], dir.path());
    assert!(out.status.success(), "{out:?}");
    let out = nnderive(&["fmt", "net.nn"], dir.path());
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(comment), "{out:?}");
}

/// JSON errors keep a file's name exact, with such characters as escapes.
#[test]
fn json_errors_escape_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    for c in HIDDEN.iter().filter(|&&c| c != '\u{0}') {
        let name = format!("net{c}.nn");
        std::fs::write(dir.path().join(&name), "param w = 1\n# \u{202e} note\nloss L = w * w\n").unwrap();
        let out = nnderive(&["solve", "--format", "json", &name], dir.path());
        assert_eq!(out.status.code(), Some(1));
        assert_clean(&out.stdout, "JSON errors");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(json["errors"][0]["file"], serde_json::json!(name));
        assert_eq!(json["errors"][0]["message"], "a comment holds a text-direction mark (U+202E)");
    }
}

/// The grammar's `comment` rule and the parser refuse the same characters:
/// the rule's excluded class, read from grammar/nn.ebnf, is exactly what
/// `allowed_in_comment` refuses, besides the line break that ends a comment.
#[test]
fn the_grammar_states_which_characters_a_comment_may_hold() {
    let grammar = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/nn.ebnf")).unwrap();
    let rule = grammar.lines().find(|l| l.starts_with("comment ")).expect("a comment rule");
    let class = rule.split("[^").nth(1).and_then(|c| c.split(']').next()).expect("an excluded class");
    let code = |s: &str| u32::from_str_radix(s, 16).expect("a #x code");
    // `#x0-#x8#xA-#x1F#x61C…`: single codes and ranges.
    let mut excluded: Vec<(u32, u32)> = Vec::new();
    for item in class.split("#x").filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ").replace("- ", "-").split(' ')
    {
        let (a, b) = item.split_once('-').unwrap_or((item, item));
        excluded.push((code(a), code(b)));
    }
    assert!(excluded.len() >= 8, "{excluded:?}");
    // A line break ends the comment rather than being refused in it.
    for c in (0..=0x10FFFF).filter_map(char::from_u32).filter(|&c| c != '\n') {
        let refused = excluded.iter().any(|&(a, b)| a <= c as u32 && c as u32 <= b);
        assert_eq!(nnderive::diagnostic::allowed_in_comment(c), !refused, "U+{:04X}", c as u32);
    }
}

/// Outside comments, such a character is already a syntax error wherever
/// it stands, and the message shows it as a picture.
#[test]
fn outside_comments_such_characters_are_syntax_errors() {
    for c in HIDDEN {
        for text in [
            format!("param w = 1{c}\nloss L = w * w\n"),
            format!("param W[2] = [1,{c} 2]\nloss L = sum(W * W)\n"),
            format!("{c}param w = 1\nloss L = w * w\n"),
            format!("param w{c} = 1\nloss L = w * w\n"),
        ] {
            let error = nnderive::load(&nnderive::Source::new("net.nn", text.clone())).expect_err("refused");
            let shown = nnderive::render::diagnostic::report(&error.report(), "net.nn", &text);
            assert_clean(shown.as_bytes(), &format!("{text:?}"));
        }
    }
}
