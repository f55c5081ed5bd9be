//! `nnderive test`: snapshot tests of `.nn` files, for a course repository's
//! CI. Each file's derivation and worked solution (the text `derive` and
//! `solve --round N` print) are kept beside it in `__snapshots__/NAME.snap`;
//! a run compares them with what this nnderive prints now.
//!
//! A snapshot is readable text: a header between `---` lines naming the
//! nnderive that wrote it, the file and the rounding, then the two commands'
//! output, each after its command line. Only the text after the header is
//! compared, so a new nnderive that prints the same passes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::output::{self, Target};

/// The rounding of a new snapshot's values: the precision a problem set
/// asks for, and far from f64's last digits, which may differ from one
/// machine's math library to another's.
pub const DEFAULT_ROUND: u32 = 4;

/// How long a diff may take before it settles for a longer, still correct,
/// one (two very different texts of a large network).
const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// How one file's snapshot came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Matched,
    Accepted,
    Differs,
    New,
    Error,
}

/// Tests every file (a directory: every `.nn` file in it, by name), prints
/// what differs and a summary; true when every snapshot matched or was
/// accepted.
pub fn run(inputs: &[PathBuf], accept: bool, round: Option<u32>) -> Result<bool, String> {
    if inputs.iter().any(|i| i.as_os_str() == "-") {
        return Err(
            "error: `nnderive test` needs files: a snapshot is kept beside its file, and standard input has no place\n"
                .into(),
        );
    }
    let mut statuses = Vec::new();
    for file in files(inputs) {
        let status = file.and_then(|file| test_one(&file, accept, round)).unwrap_or_else(|message| {
            to_stderr(&message);
            Status::Error
        });
        statuses.push(status);
    }
    let count = |s: Status| statuses.iter().filter(|&&x| x == s).count();
    let mut parts = vec![format!("{} matched", count(Status::Matched))];
    for (status, what) in [
        (Status::Accepted, "accepted"),
        (Status::Differs, "differ"),
        (Status::New, "new"),
        (Status::Error, "could not be tested"),
    ] {
        let n = count(status);
        if n > 0 {
            let what = if status == Status::Differs && n == 1 { "differs" } else { what };
            parts.push(format!("{n} {what}"));
        }
    }
    let mut out = String::new();
    if count(Status::Differs) + count(Status::New) > 0 {
        out.push_str(
            "\nRead each .snap.new; if it is right, accept them all with `nnderive test --accept` and the same files.\n",
        );
    }
    out.push_str(&format!("snapshots: {}\n", parts.join(", ")));
    output::to_stdout(&out)?;
    Ok(statuses.iter().all(|s| matches!(s, Status::Matched | Status::Accepted)))
}

/// The `.nn` files to test, in the order given, each once: a file as
/// given, a directory's `.nn` files sorted by name (not its
/// subdirectories'). A path that cannot be read, or a directory without
/// `.nn` files, is an error in its place.
fn files(inputs: &[PathBuf]) -> Vec<Result<PathBuf, String>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for input in inputs {
        let listed = match fs::metadata(input) {
            Ok(meta) if meta.is_dir() => match nn_files_in(input) {
                Ok(files) if files.is_empty() => Err(format!("error: {} has no .nn files to test\n", input.display())),
                Ok(files) => Ok(files),
                Err(e) => Err(format!("error: cannot list {}: {e}\n", input.display())),
            },
            Ok(_) => Ok(vec![input.clone()]),
            Err(e) => Err(format!("error: cannot read {}: {e}\n", input.display())),
        };
        match listed {
            Ok(files) => {
                for file in files {
                    // The same file named twice (or by two paths) is tested once.
                    let key = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
                    if seen.insert(key) {
                        out.push(Ok(file));
                    }
                }
            }
            Err(message) => out.push(Err(message)),
        }
    }
    out
}

/// The regular `.nn` files directly in `dir`, sorted by name.
fn nn_files_in(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "nn") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Where a file's snapshot is kept: `DIR/__snapshots__/NAME.snap` for
/// `DIR/NAME.nn`.
pub fn snapshot_path(file: &Path) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new(""));
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".nn").unwrap_or(&name);
    dir.join("__snapshots__").join(format!("{stem}.snap"))
}

/// `path` with `.new` after its name: where a new text waits to be accepted.
fn pending_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// A snapshot split into its header's rounding and its content; a text
/// without a header is all content.
fn parse(snapshot: &str) -> (Option<u32>, &str) {
    let Some(rest) = snapshot.strip_prefix("---\n") else { return (None, snapshot) };
    let Some(end) = rest.find("\n---\n") else { return (None, snapshot) };
    let round = rest[..end].lines().find_map(|l| l.strip_prefix("round: ")).and_then(|r| r.trim().parse().ok());
    (round, &rest[end + "\n---\n".len()..])
}

/// The content of a file's snapshot: each command between `==`, then its
/// output (a shell prompt's `$` would read as a command to run).
fn content(file: &Path, round: u32) -> Result<String, String> {
    let source = crate::read(file)?;
    let model = crate::load(&source)?;
    let solution = nnderive::solve(&model).map_err(|e| crate::report(&source, &e))?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let derivation = nnderive::render::text::derivation(&model, &solution.derivation);
    let solved = nnderive::render::text::solution(&model, &solution, Some(round));
    Ok(format!("== nnderive derive {name} ==\n{derivation}\n== nnderive solve {name} --round {round} ==\n{solved}"))
}

/// The whole snapshot file: the header, then the content.
fn snapshot_text(file: &Path, round: u32, content: &str) -> String {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!("---\nnnderive: {}\nfile: {name}\nround: {round}\n---\n{content}", env!("CARGO_PKG_VERSION"))
}

/// Tests one file against its snapshot, writing the new text where it
/// differs (or accepting it); `Err` is the file's error, rendered.
fn test_one(file: &Path, accept: bool, round: Option<u32>) -> Result<Status, String> {
    let snapshot = snapshot_path(file);
    let pending = pending_path(&snapshot);
    let old = match fs::read(&snapshot) {
        // Line ends as git may have checked them out on Windows.
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).replace("\r\n", "\n")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("error: cannot read {}: {e}\n", snapshot.display())),
    };
    let (old_round, old_content) = match &old {
        Some(text) => {
            let (r, c) = parse(text);
            (r, Some(c))
        }
        None => (None, None),
    };
    let round = round.or(old_round).unwrap_or(DEFAULT_ROUND);
    let new_content = content(file, round)?;
    let new = snapshot_text(file, round, &new_content);
    if old_content == Some(new_content.as_str()) {
        remove_stale(&pending)?;
        return Ok(Status::Matched);
    }
    let dir = snapshot.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| format!("error: cannot create {}: {e}\n", dir.display()))?;
    if accept {
        Target::check(&snapshot, file)?.write(&new)?;
        remove_stale(&pending)?;
        output::to_stdout(&format!("{}: accepted into {}\n", file.display(), snapshot.display()))?;
        return Ok(Status::Accepted);
    }
    Target::check(&pending, file)?.write(&new)?;
    let report = match &old {
        None => format!(
            "{}: no snapshot yet; its text is in {} (read it, then accept it with --accept)\n",
            file.display(),
            pending.display()
        ),
        Some(old) => {
            let diff = similar::TextDiff::configure().timeout(DIFF_TIMEOUT).diff_lines(old.as_str(), new.as_str());
            let mut unified = diff.unified_diff();
            unified.context_radius(3).header(&snapshot.display().to_string(), &pending.display().to_string());
            format!("{}: differs from its snapshot\n{unified}", file.display())
        }
    };
    output::to_stdout(&report)?;
    Ok(if old.is_some() { Status::Differs } else { Status::New })
}

/// A message on standard error; a closed standard error loses it rather
/// than stopping the run.
fn to_stderr(message: &str) {
    use std::io::Write;
    let _ = io::stderr().write_all(message.as_bytes());
}

/// Removes a `.snap.new` left by an earlier run, if there is one.
fn remove_stale(pending: &Path) -> Result<(), String> {
    match fs::remove_file(pending) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(format!("error: cannot remove {}: {e}\n", pending.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_beside_its_file() {
        assert_eq!(snapshot_path(Path::new("week1/net.nn")), Path::new("week1/__snapshots__/net.snap"));
        assert_eq!(snapshot_path(Path::new("net.nn")), Path::new("__snapshots__/net.snap"));
        assert_eq!(pending_path(Path::new("a/__snapshots__/net.snap")), Path::new("a/__snapshots__/net.snap.new"));
    }

    #[test]
    fn the_header_is_not_content() {
        let text = snapshot_text(Path::new("net.nn"), 3, "== nnderive derive net.nn ==\nbody\n");
        assert_eq!(parse(&text), (Some(3), "== nnderive derive net.nn ==\nbody\n"));
        // A text without a header (hand-written, or cut) is all content.
        assert_eq!(parse("body\n"), (None, "body\n"));
        assert_eq!(parse("---\nround: 2\nbody\n"), (None, "---\nround: 2\nbody\n"));
    }
}
