//! Worked-solution documents: reviewed LaTeX and Markdown snapshots of every
//! example, and every LaTeX document compiled by pdflatex without errors.

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
            insta::assert_snapshot!("markdown", render::markdown::document(&model, &solution, Some(4)));
        });
    });
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
    let dir = std::env::temp_dir().join(format!("nnderive-latex-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for path in examples_with_values() {
        let model = nnderive::load(&common::source(&path)).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        for round in [Some(4), None] {
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            let tex = dir.join(format!("{stem}.tex"));
            std::fs::write(&tex, render::latex::document(&model, &solution, round)).unwrap();
            let out = Command::new("pdflatex")
                .args(["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"])
                .arg(&tex)
                .current_dir(&dir)
                .output()
                .unwrap();
            let log = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{stem} (round {round:?}) does not compile:\n{log}");
            assert!(!log.contains("Overfull \\hbox"), "{stem} (round {round:?}) runs past the margin:\n{log}");
        }
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
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/katex_check.js");
    let out = Command::new("node").arg(script).args(&files).env("NNDERIVE_KATEX", katex).output().expect("node runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
