//! `--format latex`: a standalone LaTeX document (article, amsmath).

use std::fmt::Write;

use crate::eval::Solution;
use crate::model::Model;

use super::document::{build, inline, matrices_width, prose, Block, Row, WIDE_MATRIX};

const PREAMBLE: &str = r"\documentclass[11pt]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage[margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\setcounter{MaxMatrixCols}{256}
\allowdisplaybreaks
";

/// The worked solution as a LaTeX document.
pub fn document(model: &Model, solution: &Solution, round: Option<u32>) -> String {
    document_with(model, solution, round, Vec::new())
}

/// [`document`] with more blocks at the end (the cases of `--cases`).
pub fn document_with(model: &Model, solution: &Solution, round: Option<u32>, more: Vec<Block>) -> String {
    let mut out = String::from(PREAMBLE);
    let _ = writeln!(out, "\\title{{Worked solution: gradients by back-propagation}}");
    let _ = writeln!(out, "\\date{{}}\n\\begin{{document}}\n\\maketitle\n");
    for block in build(model, solution, round).into_iter().chain(more) {
        match block {
            Block::Section(t) => {
                let _ = writeln!(out, "\\section{{{}}}\n", heading(&t));
            }
            Block::Subsection(t) => {
                let _ = writeln!(out, "\\subsection*{{{}}}\n", heading(&t));
            }
            Block::Paragraph(p) => {
                let _ = writeln!(out, "{}\n", inline(&p));
            }
            Block::Display(rows) => {
                out.push_str("\\begin{align*}\n");
                let n = rows.len();
                for (i, r) in rows.iter().enumerate() {
                    out.push_str(&display_row(r));
                    out.push_str(if i + 1 < n { " \\\\\n" } else { "\n" });
                }
                out.push_str("\\end{align*}\n\n");
            }
            Block::List(items) => {
                out.push_str("\\begin{itemize}\n");
                for item in items {
                    let _ = writeln!(out, "  \\item {}", inline(&item));
                }
                out.push_str("\\end{itemize}\n\n");
            }
        }
    }
    out.push_str("\\end{document}\n");
    out
}

/// Headings may carry inline math already (`$\delta_2$`); plain words are escaped.
fn heading(t: &str) -> String {
    if t.starts_with('$') {
        t.to_string()
    } else {
        prose(t)
    }
}

fn display_row(r: &Row) -> String {
    let rhs = if matrices_width(&r.rhs) > WIDE_MATRIX {
        // Wide matrices are shrunk to stay within the page (never enlarged:
        // graphicx lets the size refer to the natural `\width`).
        format!(
            "\\resizebox{{\\ifdim\\width>0.8\\linewidth 0.8\\linewidth\\else\\width\\fi}}{{!}}{{$\\displaystyle {}$}}",
            r.rhs
        )
    } else {
        r.rhs.clone()
    };
    let mut line = format!("{} &= {}", r.lhs, rhs);
    if let Some(note) = &r.note {
        let _ = write!(line, " \\tag*{{\\footnotesize {}}}", prose(note));
    }
    line
}
