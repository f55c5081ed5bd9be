//! Worked-solution documents: reviewed LaTeX and Markdown snapshots of every
//! example, and every LaTeX document compiled by pdflatex without errors
//! (the worked solutions, and the documents of `derive` and `key`).

mod common;

use std::process::Command;

use nnderive::render;

fn examples_with_values() -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(common::example("")).unwrap().map(|e| e.unwrap().path()).collect();
    out.sort();
    out.retain(|p| {
        let model = nnderive::load(&common::source(p)).unwrap();
        nnderive::solve(&model).is_ok()
    });
    out
}

#[test]
fn documents_of_every_example() {
    common::settings().bind(|| {
        insta::glob!("../grammar/examples", "*.nn", |path| {
            let model = nnderive::load(&common::source(path)).unwrap();
            let Ok(solution) = nnderive::solve(&model) else { return };
            insta::assert_snapshot!("latex", render::latex::document(&model, &solution, Some(4)));
            let markdown = render::markdown::document(&model, &solution, Some(4));
            insta::assert_snapshot!("markdown", without_image_data(&markdown));
        });
    });
}

/// The Markdown with each embedded image's base64 data replaced by its
/// length, so that the snapshot stays readable; `tests/optim.rs` decodes
/// and checks the images themselves.
fn without_image_data(markdown: &str) -> String {
    const DATA: &str = "(data:image/svg+xml;base64,";
    let mut out = String::new();
    let mut rest = markdown;
    while let Some(at) = rest.find(DATA) {
        let (before, after) = rest.split_at(at + DATA.len());
        let end = after.find(')').unwrap_or(after.len());
        out.push_str(before);
        out.push_str(&format!("…{} bytes of base64…", end));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Says that a check was skipped, on the terminal itself: the test harness
/// hides what `eprintln!` prints from a passing test, but not a direct write.
fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "\nSKIPPED (the test passes without it): {why}");
}

/// Every example's LaTeX compiles. pdflatex comes from Debian's
/// texlive-latex-base (`.ci/run` installs it); on a machine without it the
/// test says so and passes, except in CI, where it must run.
#[test]
fn latex_compiles_with_pdflatex() {
    if Command::new("pdflatex").arg("--version").output().is_err() {
        assert!(std::env::var("CI").is_err(), "pdflatex is missing in CI: .ci/run should have installed it");
        skipped("pdflatex not found; LaTeX compilation not checked (apt-get install texlive-latex-base texlive-latex-recommended)");
        return;
    }
    // Documents with a loss plot need pgfplots (Debian: texlive-pictures).
    let pgfplots = Command::new("kpsewhich").arg("pgfplots.sty").output().is_ok_and(|o| o.status.success());
    if !pgfplots {
        assert!(
            std::env::var("CI").is_err(),
            "pgfplots is missing in CI: .ci/run should have installed texlive-pictures"
        );
        skipped("pgfplots not found; documents with a plot not compiled (apt-get install texlive-pictures)");
    }
    let dir = std::env::temp_dir().join(format!("nnderive-latex-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Every example, and a run whose loss hardly moves (a flat plot, whose
    // y range must still be one pgfplots can draw).
    let flat = (
        "flat_loss".to_string(),
        "param w = 1\nloss L = w^2\ntrain momentum(lr = 0.0000000000001, steps = 8)\n".to_string(),
    );
    let sources = examples_with_values()
        .into_iter()
        .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), common::source(&p).text))
        .chain([flat]);
    let mut plots = 0;
    for (stem, text) in sources {
        let model = nnderive::load(&nnderive::Source::new(format!("{stem}.nn"), text)).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        for round in [Some(4), None] {
            let document = render::latex::document(&model, &solution, round);
            if document.contains("\\begin{axis}") {
                if !pgfplots {
                    continue;
                }
                plots += 1;
            }
            compile(&dir, &format!("{stem}-{}", round.is_some()), &document);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!pgfplots || plots >= 4, "the trained examples and the flat run have plots ({plots} compiled)");
}

/// Compiles `document` with pdflatex in `dir` as `stem.tex`: it must
/// compile without errors and keep within the margins.
fn compile(dir: &std::path::Path, stem: &str, document: &str) {
    let tex = dir.join(format!("{stem}.tex"));
    std::fs::write(&tex, document).unwrap();
    let out = Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"])
        .arg(&tex)
        .current_dir(dir)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stem} does not compile:\n{log}");
    assert!(!log.contains("Overfull \\hbox"), "{stem} runs past the margin:\n{log}");
}

/// The documents of `derive` and `key`: every example's derivation, every
/// example's handout with its values hidden (a box per entry), and the
/// assignment's key with each `--hide`, rounded and at full precision.
fn derivation_and_key_blocks() -> Vec<(String, Vec<render::document::Block>)> {
    use render::key::{self, Hide};
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(common::example("")).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let model = nnderive::load(&common::source(&path)).unwrap();
        let derivation = nnderive::derive::derive(&model);
        let blocks = render::document::derivation(&model, &derivation);
        out.push((format!("{stem}-derive"), blocks));
        let Ok(solution) = nnderive::solve(&model) else { continue };
        let hides: &[Hide] =
            if stem == "assignment4" { &[Hide::Nothing, Hide::Values, Hide::Formulas] } else { &[Hide::Values] };
        for &hide in hides {
            for round in [Some(4), None].into_iter().take(if stem == "assignment4" { 2 } else { 1 }) {
                let k = key::build(&model, &solution, round, hide);
                out.push((format!("{stem}-key-{hide:?}-{}", round.is_some()), key::blocks(&k)));
            }
        }
    }
    out
}

/// The LaTeX documents of `derive` and `key` compile (see
/// [`latex_compiles_with_pdflatex`] for when pdflatex is missing).
#[test]
fn derivation_and_key_latex_compiles_with_pdflatex() {
    if Command::new("pdflatex").arg("--version").output().is_err() {
        assert!(std::env::var("CI").is_err(), "pdflatex is missing in CI: .ci/run should have installed it");
        skipped("pdflatex not found; the LaTeX of derive and key not compiled");
        return;
    }
    let dir = std::env::temp_dir().join(format!("nnderive-latex-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let documents = derivation_and_key_blocks();
    assert!(documents.len() >= 45, "{} documents", documents.len());
    for (stem, blocks) in documents {
        compile(&dir, &stem, &render::latex::write(blocks, "Key & derivation: 100% δ"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every formula of every Markdown document renders with KaTeX (strict).
/// `.ci/run` installs KaTeX from npm and names it in `NNDERIVE_KATEX`; on a
/// machine without it the test says so and passes, except in CI.
#[test]
fn markdown_math_renders_with_katex() {
    let Some(katex) = std::env::var_os("NNDERIVE_KATEX") else {
        assert!(std::env::var("CI").is_err(), "NNDERIVE_KATEX is not set in CI: .ci/run should install KaTeX");
        skipped("NNDERIVE_KATEX not set; Markdown math not checked (see .ci/run, which installs KaTeX)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("nnderive-katex-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for path in examples_with_values() {
        let model = nnderive::load(&common::source(&path)).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        for round in [Some(4), None] {
            let file = dir.join(format!("{}-{}.md", path.file_stem().unwrap().to_string_lossy(), round.is_some()));
            std::fs::write(&file, render::markdown::document(&model, &solution, round)).unwrap();
            files.push(file);
        }
    }
    // The derivations and the keys, in Markdown.
    for (stem, blocks) in derivation_and_key_blocks() {
        let file = dir.join(format!("{stem}.md"));
        std::fs::write(&file, render::markdown::write(blocks, "Key & derivation: 100% δ")).unwrap();
        files.push(file);
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/katex_check.js");
    let out = Command::new("node").arg(script).args(&files).env("NNDERIVE_KATEX", katex).output().expect("node runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// A name that spells a Greek letter is typeset as that letter by every
/// writer (γ in text, `\gamma` in LaTeX and Markdown), and `yhat` as ŷ.
#[test]
fn greek_names_are_typeset_as_greek_letters() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/readable/greek_names.nn");
    let model = nnderive::load(&common::source(&path)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let text = render::text::solution(&model, &solution, Some(4));
    for letter in ["γ", "β", "μ", "σ", "ε", "λ", "ŷ"] {
        assert!(text.contains(letter), "{letter} missing from the text");
    }
    for written in ["gamma", "beta", "mu ", "sigma", "eps", "lam", "yhat"] {
        assert!(!text.contains(written), "{written} left in the text");
    }
    let latex = render::latex::document(&model, &solution, Some(4));
    let markdown = render::markdown::document(&model, &solution, Some(4));
    for doc in [&latex, &markdown] {
        for command in ["\\gamma", "\\beta", "\\mu", "\\sigma", "\\varepsilon", "\\lambda", "\\hat{y}"] {
            assert!(doc.contains(command), "{command} missing");
        }
        assert!(!doc.contains("\\mathit{gamma}") && !doc.contains("\\mathit{lam}"), "a Greek name in \\mathit");
    }
}

/// Headings a student can read ("Error term of layer 2, δ2", "Gradient of
/// W1") and paragraphs that start with a capital, in every example's
/// documents; every step's rule is set by `\derivstep`, which keeps it on
/// the step's line (a bare `\tag*` drops below a formula too wide for both).
#[test]
fn headings_and_paragraphs_read_as_sentences() {
    for path in examples_with_values() {
        let model = nnderive::load(&common::source(&path)).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        let markdown = render::markdown::document(&model, &solution, Some(4));
        let name = path.display();
        for heading in markdown.lines().filter_map(|l| l.strip_prefix("### ")) {
            assert!(heading.starts_with(char::is_uppercase), "{name}: heading {heading:?}");
        }
        assert!(markdown.contains("### Gradient of "), "{name}: no parameter heading");
        let mut previous_blank = true;
        for line in markdown.lines() {
            let starts_block =
                ["$", "#", "-", "|", "\\", "!", "("].iter().any(|p| line.starts_with(p)) || line.is_empty();
            if previous_blank && !starts_block && !line.starts_with(char::is_uppercase) {
                panic!("{name}: a paragraph starts in lower case: {line:?}");
            }
            previous_blank = line.is_empty();
        }
        let latex = render::latex::document(&model, &solution, Some(4));
        let body = latex.split("\\begin{document}").nth(1).unwrap();
        assert!(!body.contains("\\tag*"), "{name}: a tag outside \\derivstep");
        // A network with a layer has an error term (a lookup straight into
        // the loss has none, though the introduction says what one is).
        if model.time.is_none() && markdown.contains("### Error term") {
            assert!(body.contains("\\subsection*{Error term of layer "), "{name}");
        }
    }
}
