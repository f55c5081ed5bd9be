//! Writing a set of variants (`nnderive vary -o DIR`): every file is made
//! in a temporary folder first, then moved into place, so that a failure or
//! an interrupt leaves the folder as it was.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::output;

/// A file of the set: its name in the folder and its bytes.
pub struct File {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What writing the set did.
pub enum Outcome {
    /// The folder was new, or held no earlier set.
    Written,
    /// The folder held the same variants (the same `.nn` files): their keys
    /// were written again.
    Same,
    /// The folder held a different set, replaced (`--force`).
    Replaced { removed: usize },
}

/// Whether `name` belongs to a set of variants of `stem`: `stem-07.nn`,
/// `stem-07.key.md`, `stem-07.key.json`, `stem-07.key.pdf`.
fn in_set(name: &str, stem: &str) -> bool {
    let Some(rest) = name.strip_prefix(stem).and_then(|r| r.strip_prefix('-')) else { return false };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    digits >= 2 && matches!(&rest[digits..], ".nn" | ".key.md" | ".key.json" | ".key.pdf")
}

/// The files of a set already in `dir`, sorted.
fn existing(dir: &Path, stem: &str) -> Result<Vec<String>, String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("error: cannot read {}: {e}\n", dir.display())),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| in_set(n, stem))
        .collect();
    names.sort();
    Ok(names)
}

/// Writes the set `files` of variants of `stem` into `dir`. A folder that
/// holds a different set of variants of the same file is left alone unless
/// `force`, which replaces that set (its other files stay).
pub fn write(dir: &Path, stem: &str, files: &[File], force: bool) -> Result<Outcome, String> {
    let fail = |why: String| format!("error: cannot write {}: {why}\n", dir.display());
    if dir.exists() && !dir.is_dir() {
        return Err(fail("it is not a folder".into()));
    }
    let old = existing(dir, stem)?;
    let same = !old.is_empty()
        && files
            .iter()
            .filter(|f| f.name.ends_with(".nn"))
            .all(|f| fs::read(dir.join(&f.name)).is_ok_and(|b| b == f.bytes))
        && old.iter().filter(|n| n.ends_with(".nn")).count()
            == files.iter().filter(|f| f.name.ends_with(".nn")).count();
    if !old.is_empty() && !same && !force {
        return Err(format!(
            "error: {} already holds {} files of other variants of {stem} ({} …); add --force to replace them, or write to another folder\n",
            dir.display(),
            old.len(),
            old[0]
        ));
    }
    let fresh = !dir.exists();
    if let Some(parent) = dir.parent().filter(|p| fresh && !p.as_os_str().is_empty() && !p.exists()) {
        fs::create_dir_all(parent).map_err(|e| fail(format!("cannot make its folder {}: {e}", parent.display())))?;
    }
    // The folder the files are made in: beside `dir` when it is new (then
    // renamed to it whole), else inside it.
    let parent = match (fresh, dir.parent()) {
        (true, Some(p)) if !p.as_os_str().is_empty() => p.to_path_buf(),
        (true, _) => PathBuf::from("."),
        (false, _) => dir.to_path_buf(),
    };
    let leaf = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "variants".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{leaf}."))
        .suffix(".nnderive-tmp")
        .tempdir_in(&parent)
        .map_err(|e| fail(format!("cannot create a temporary folder in {}: {e}", parent.display())))?;
    output::set_pending(Some(tmp.path().to_path_buf()));
    let written = (|| -> std::io::Result<()> {
        for f in files {
            let mut out = fs::File::create(tmp.path().join(&f.name))?;
            out.write_all(&f.bytes)?;
            out.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        output::set_pending(None);
        return Err(fail(e.to_string()));
    }
    let tmp = tmp.keep();
    let moved = output::finish_pending(|| -> std::io::Result<usize> {
        if fresh {
            fs::rename(&tmp, dir)?;
            return Ok(0);
        }
        let new: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        let stale: Vec<&String> = old.iter().filter(|n| !new.contains(&n.as_str())).collect();
        for name in &stale {
            fs::remove_file(dir.join(name))?;
        }
        for f in files {
            fs::rename(tmp.join(&f.name), dir.join(&f.name))?;
        }
        fs::remove_dir(&tmp)?;
        Ok(stale.len())
    });
    match moved {
        Ok(removed) if !old.is_empty() && !same => Ok(Outcome::Replaced { removed }),
        Ok(_) if same => Ok(Outcome::Same),
        Ok(_) => Ok(Outcome::Written),
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(fail(e.to_string()))
        }
    }
}

/// The PDF of a LaTeX document, made by `pdflatex` in a temporary folder;
/// `None` when `pdflatex` is not on the PATH.
pub fn pdf(latex: &str, name: &str) -> Result<Option<Vec<u8>>, String> {
    if !on_path("pdflatex") {
        return Ok(None);
    }
    let dir = tempfile::tempdir().map_err(|e| format!("error: cannot make a folder for pdflatex: {e}\n"))?;
    let tex = dir.path().join("key.tex");
    fs::write(&tex, latex).map_err(|e| format!("error: cannot write {}: {e}\n", tex.display()))?;
    let run = std::process::Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "key.tex"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("error: cannot run pdflatex: {e}\n"))?;
    if !run.status.success() {
        let log = String::from_utf8_lossy(&run.stdout);
        let tail: Vec<&str> = log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!("error: pdflatex failed on the key of {name}:\n{}\n", tail.join("\n")));
    }
    fs::read(dir.path().join("key.pdf"))
        .map(Some)
        .map_err(|e| format!("error: pdflatex wrote no PDF for {name}: {e}\n"))
}

/// Whether a program of this name is on the PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
}
