//! The one renderer of diagnostics, in the style of rustc: the message, the
//! place, the source line with a marker under the fault, then help and notes.

use std::fmt::Write;

use crate::diagnostic::Diagnostic;
use crate::syntax::Span;

/// Draws `diag` for the file `file_name` whose text is `source`.
pub fn render(diag: &Diagnostic, file_name: &str, source: &str) -> String {
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
        for (i, (span, label, marker)) in spans.iter().enumerate() {
            if i > 0 {
                let _ = writeln!(out, "{gutter} :");
            }
            snippet(&mut out, source, *span, *label, *marker, width);
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
    out
}

/// The source line of `span` and a marker under it.
fn snippet(out: &mut String, source: &str, span: Span, label: Option<&str>, marker: char, width: usize) {
    let line_no = span.line.max(1) as usize;
    let text = source.split('\n').nth(line_no - 1).unwrap_or("").trim_end_matches('\r');
    // Tabs are drawn as single spaces so that the marker lines up.
    let shown: String = text.chars().map(|c| if c == '\t' { ' ' } else { c }).collect();
    let _ = writeln!(out, "{:>width$} | {shown}", line_no);
    let start_col = span.column.max(1) as usize - 1;
    let line_chars = text.chars().count();
    let start_col = start_col.min(line_chars);
    // The marker covers the span's characters on its first line, at least one.
    let byte_len = span.end.saturating_sub(span.start);
    let line_start_byte = source.split('\n').take(line_no - 1).map(|l| l.len() + 1).sum::<usize>();
    let col_byte = span.start.saturating_sub(line_start_byte).min(text.len());
    let rest = text.get(col_byte..).unwrap_or("");
    let mut covered = 0;
    let mut bytes = 0;
    for c in rest.chars() {
        if bytes >= byte_len {
            break;
        }
        bytes += c.len_utf8();
        covered += 1;
    }
    let marks = marker.to_string().repeat(covered.max(1));
    let label = label.map(|l| format!(" {l}")).unwrap_or_default();
    let _ = writeln!(out, "{:width$} | {}{marks}{label}", "", " ".repeat(start_col));
}
