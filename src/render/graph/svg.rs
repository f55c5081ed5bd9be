//! SVG drawn by Graphviz: the DOT text piped through `dot -Tsvg`, the
//! program found on the PATH. nnderive lays out nothing itself here;
//! Graphviz is the one dependency outside Rust, and only for SVG.

use std::fmt;
use std::io::Write;
use std::process::{Command, Stdio};

/// Why Graphviz drew no SVG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SvgError {
    /// No `dot` on the PATH (`PATH=/nowhere nnderive graph net.nn --format svg`).
    Missing,
    /// `dot` could not be started, or stopped with an error: what it said.
    Failed(String),
}

impl fmt::Display for SvgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SvgError::Missing => f.write_str(
                "cannot draw the SVG: Graphviz's `dot` program was not found on the PATH\n  \
                 = help: install Graphviz (Debian and Ubuntu: `apt-get install graphviz`), \
                 or write the graph as DOT with `--format dot`",
            ),
            SvgError::Failed(why) => write!(f, "cannot draw the SVG: Graphviz's `dot` failed: {why}"),
        }
    }
}

impl std::error::Error for SvgError {}

/// `dot_text` drawn as SVG by Graphviz's `dot`.
pub fn svg(dot_text: &str) -> Result<String, SvgError> {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SvgError::Missing,
            _ => SvgError::Failed(format!("it could not be started: {e}")),
        })?;
    // Written from another thread while this one reads the output, so that
    // neither side waits on a full pipe.
    let stdin = child.stdin.take();
    let input = dot_text.to_string();
    let writer = std::thread::spawn(move || stdin.map(|mut s| s.write_all(input.as_bytes())));
    let output = child.wait_with_output().map_err(|e| SvgError::Failed(e.to_string()))?;
    let written = writer.join();
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        let said = if said.is_empty() { format!("it exited with {}", output.status) } else { said };
        return Err(SvgError::Failed(said));
    }
    if let Ok(Some(Err(e))) = written {
        return Err(SvgError::Failed(format!("it did not read the whole graph: {e}")));
    }
    String::from_utf8(output.stdout).map_err(|_| SvgError::Failed("its output is not UTF-8 text".into()))
}
