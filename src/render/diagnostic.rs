//! The one renderer of diagnostics, in the style of rustc: the message, the
//! place, the source line with a marker under the fault, then help and notes.

use std::fmt::Write;

use crate::diagnostic::{picture, visible_line, Diagnostic, Report};
use crate::syntax::Span;

/// Draws every error of `report` in file order, a blank line between them,
/// then (when there are several) a summary line, as rustc does:
/// `error: net.nn has 3 errors`. One error is drawn alone, as [`render`].
pub fn report(report: &Report, file_name: &str, source: &str) -> String {
    let mut out = String::new();
    for (i, diag) in report.diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&render(diag, file_name, source));
    }
    if let Some(summary) = summary(report, file_name) {
        let _ = writeln!(out, "\nerror: {}", visible(&summary));
    }
    out
}

/// The summary line of a report of several errors (without `error: `).
pub fn summary(report: &Report, file_name: &str) -> Option<String> {
    let file_name = visible_line(file_name);
    let n = report.diagnostics.len();
    match (n, report.left_out) {
        (_, true) => Some(format!("{file_name} has more than {n} errors; the first {n} are shown")),
        (0 | 1, false) => None,
        (_, false) => Some(format!("{file_name} has {n} errors")),
    }
}

/// Draws `diag` for the file `file_name` whose text is `source`.
pub fn render(diag: &Diagnostic, file_name: &str, source: &str) -> String {
    // A file's name is one line, whatever it holds.
    let file_name = visible_line(file_name);
    let mut out = format!("error: {}\n", diag.message);
    let mut spans: Vec<(Span, Option<&str>, char)> = Vec::new();
    if let Some(span) = diag.span {
        spans.push((span, diag.label.as_deref(), '^'));
    }
    for (span, label) in &diag.related {
        spans.push((*span, Some(label.as_str()), '-'));
    }
    let width = spans.iter().map(|(s, _, _)| s.line.to_string().len()).max().unwrap_or(1);
    let gutter = " ".repeat(width);
    match diag.span {
        Some(span) => {
            let _ = writeln!(out, "{gutter}--> {file_name}:{}:{}", span.line, span.column);
        }
        None => {
            let _ = writeln!(out, "{gutter}--> {file_name}");
        }
    }
    if !spans.is_empty() {
        let _ = writeln!(out, "{gutter} |");
        // One snippet per source line, in line order, with every marker on it.
        let mut lines: Vec<(u32, Span)> = spans.iter().map(|(s, _, _)| (s.line, *s)).collect();
        lines.sort_unstable_by_key(|(line, _)| *line);
        lines.dedup_by_key(|(line, _)| *line);
        for (i, (line, first)) in lines.iter().enumerate() {
            if i > 0 {
                let _ = writeln!(out, "{gutter} :");
            }
            let text = line_text(source, *first);
            let on_line: Vec<_> = spans.iter().filter(|(s, _, _)| s.line == *line).collect();
            let first_col = on_line.iter().map(|(s, _, _)| s.column.max(1) as usize - 1).min().unwrap_or(0);
            let window = Window::new(text, first_col);
            source_line(&mut out, text, *line, width, &window);
            for (span, label, marker) in on_line {
                marker_line(&mut out, text, *span, *label, *marker, width, &window);
            }
        }
        let _ = writeln!(out, "{gutter} |");
    }
    if let Some(help) = &diag.help {
        let mut lines = help.lines();
        if let Some(first) = lines.next() {
            let _ = writeln!(out, "{gutter} = help: {first}");
        }
        for l in lines {
            let _ = writeln!(out, "{gutter}         {l}");
        }
    }
    for note in &diag.notes {
        let _ = writeln!(out, "{gutter} = note: {note}");
    }
    visible(&out)
}

/// `text` safe to print on a terminal: control characters become their
/// visible pictures (ESC as ␛) and invisible direction or formatting marks
/// become � ([`crate::diagnostic::picture`]); line breaks stay and a tab is
/// a space. Each stays one column wide, so markers still line up.
pub fn visible(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' => c,
            '\t' => ' ',
            c => picture(c).unwrap_or(c),
        })
        .collect()
}

/// The text of the line where `span` starts, without its line break. It is
/// found around the span's first byte rather than by counting lines from the
/// top, so that drawing each of many errors in a large file costs the
/// length of its line, not of the file.
fn line_text(source: &str, span: Span) -> &str {
    let bytes = source.as_bytes();
    let at = span.start.min(bytes.len());
    let start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let end = bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| at + i);
    // Cut at line breaks, which are ASCII, so both ends are character boundaries.
    source.get(start..end).unwrap_or("").trim_end_matches('\r')
}

/// The visible part of a long source line: it starts a little before the
/// first marker, so that a 10,000-character line still shows the fault.
struct Window {
    /// First character shown.
    start: usize,
    /// Characters shown.
    len: usize,
    /// Whether text was cut at either end (shown as `…`).
    cut_left: bool,
    cut_right: bool,
}

/// Lines longer than this are shown in part.
const MAX_SHOWN: usize = 100;

impl Window {
    fn new(text: &str, first_col: usize) -> Window {
        let total = text.chars().count();
        if total <= MAX_SHOWN {
            return Window { start: 0, len: total, cut_left: false, cut_right: false };
        }
        let start = first_col.saturating_sub(30).min(total.saturating_sub(MAX_SHOWN));
        let len = MAX_SHOWN.min(total - start);
        Window { start, len, cut_left: start > 0, cut_right: start + len < total }
    }

    /// The column (in shown characters) of source column `col`.
    fn shift(&self, col: usize) -> usize {
        col.saturating_sub(self.start) + usize::from(self.cut_left)
    }
}

/// `12 | the source line`, tabs drawn as single spaces so markers line up.
fn source_line(out: &mut String, text: &str, line: u32, width: usize, window: &Window) {
    let shown: String =
        text.chars().skip(window.start).take(window.len).map(|c| if c == '\t' { ' ' } else { c }).collect();
    let left = if window.cut_left { "…" } else { "" };
    let right = if window.cut_right { "…" } else { "" };
    let _ = writeln!(out, "{:>width$} | {left}{shown}{right}", line.max(1));
}

/// A marker under `span` on its (first) line, with its label.
fn marker_line(
    out: &mut String,
    text: &str,
    span: Span,
    label: Option<&str>,
    marker: char,
    width: usize,
    window: &Window,
) {
    let start_col = (span.column.max(1) as usize - 1).min(text.chars().count());
    // The marker covers the span's characters on its first line, at least one,
    // and no further than the visible part.
    let byte_len = span.end.saturating_sub(span.start);
    let mut covered = 0;
    let mut bytes = 0;
    for c in text.chars().skip(start_col) {
        if bytes >= byte_len {
            break;
        }
        bytes += c.len_utf8();
        covered += 1;
    }
    let visible_end = window.start + window.len;
    let covered = covered.min(visible_end.saturating_sub(start_col)).max(1);
    let marks = marker.to_string().repeat(covered);
    let label = label.map(|l| format!(" {l}")).unwrap_or_default();
    let _ = writeln!(out, "{:width$} | {}{marks}{label}", "", " ".repeat(window.shift(start_col)));
}
