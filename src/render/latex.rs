//! `--format latex`: a standalone LaTeX document (article, amsmath).

use std::fmt::Write;

use crate::eval::Solution;
use crate::model::Model;

use super::document::{
    build_with, inline, matrices_width, prose, Block, Figure, Plot, Row, SOLUTION_TITLE, WIDE_MATRIX,
};

const PREAMBLE: &str = r"\documentclass[11pt]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage[margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\setcounter{MaxMatrixCols}{256}
\allowdisplaybreaks
% \derivstep{formula}{rule}: a derivation step's formula with the rule it uses
% on its line, in a right-hand column at most 0.3 of the line wide (the
% rule's words wrap inside it); the formula is shrunk, when it must be, to
% leave that column room, so the rule never drops to a line of its own.
\newlength{\rulecolumn}
\newcommand{\rulewidth}[1]{\settowidth{\rulecolumn}{\footnotesize #1}%
\ifdim\rulecolumn>0.3\linewidth\setlength{\rulecolumn}{0.3\linewidth}\fi}
\newcommand{\derivstep}[2]{\rulewidth{#2}%
\resizebox{\ifdim\width>\dimexpr0.84\linewidth-\rulecolumn\relax\dimexpr0.84\linewidth-\rulecolumn\relax\else\width\fi}{!}{$\displaystyle #1$}%
\tag*{\rulewidth{#2}\parbox[c]{\rulecolumn}{\raggedleft\footnotesize #2}}}
";

/// The worked solution as a LaTeX document.
pub fn document(model: &Model, solution: &Solution, round: Option<u32>) -> String {
    document_with(model, solution, round, Vec::new())
}

/// [`document`] with more blocks at the end (the cases of `--cases`).
pub fn document_with(model: &Model, solution: &Solution, round: Option<u32>, more: Vec<Block>) -> String {
    document_with_figure(model, solution, round, None, more)
}

/// [`document_with`] and, after the forward pass, the computational graph
/// drawn with TikZ (pdflatex alone draws it: no Graphviz).
pub fn document_with_figure(
    model: &Model,
    solution: &Solution,
    round: Option<u32>,
    figure: Option<Figure>,
    more: Vec<Block>,
) -> String {
    write(build_with(model, solution, round, figure).into_iter().chain(more).collect(), SOLUTION_TITLE)
}

/// A document's blocks as a standalone LaTeX document titled `title`
/// (plain words; special characters are escaped).
pub fn write(blocks: Vec<Block>, title: &str) -> String {
    let mut out = String::from(PREAMBLE);
    if blocks.iter().any(|b| matches!(b, Block::Plot(_))) {
        // Only documents with a plot need pgfplots (Debian: texlive-pictures).
        out.push_str("\\usepackage{pgfplots}\n\\pgfplotsset{compat=1.16}\n");
    }
    if blocks.iter().any(|b| matches!(b, Block::Figure(_))) {
        // TikZ is pgf's (Debian: pgf, with texlive-pictures).
        out.push_str("\\usepackage{tikz}\n");
    }
    let _ = writeln!(out, "\\title{{{}}}", prose(title));
    let _ = writeln!(out, "\\date{{}}\n\\begin{{document}}\n\\maketitle\n");
    for block in blocks {
        match block {
            Block::Section(t) => {
                let _ = writeln!(out, "\\section{{{}}}\n", heading(&t));
            }
            Block::Subsection(t) => {
                let _ = writeln!(out, "\\subsection*{{{}}}\n", inline(&t));
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
            Block::Table { header, rows } => {
                // A table of long exact numbers is scaled to the line, as wide matrices are.
                let wide = rows.iter().flatten().flatten().any(|c| long_number(c));
                let (open, close) = if wide { ("\\resizebox{\\linewidth}{!}{", "}") } else { ("", "") };
                let _ = writeln!(out, "\\begin{{center}}{open}\n\\begin{{tabular}}{{{}}}", "r".repeat(header.len()));
                let cells = |cells: &[String]| cells.iter().map(|c| format!("${c}$")).collect::<Vec<_>>().join(" & ");
                let _ = writeln!(out, "{} \\\\\n\\hline", cells(&header));
                for r in rows {
                    let r = r.unwrap_or_else(|| vec!["\\vdots".to_string(); header.len()]);
                    let _ = writeln!(out, "{} \\\\", cells(&r));
                }
                let _ = write!(out, "\\end{{tabular}}{close}\n\\end{{center}}\n\n");
            }
            Block::Plot(plot) => out.push_str(&pgfplot(&plot)),
            Block::Figure(figure) => {
                // A float, so that a tall picture leaves no gap where it does not fit.
                out.push_str("\\begin{figure}[htbp]\n\\centering\n");
                out.push_str(&super::graph::tikz::picture(&figure.graph));
                let _ = writeln!(out, "\\caption{{{}}}\n\\end{{figure}}\n", inline(&figure.caption()));
            }
        }
    }
    out.push_str("\\end{document}\n");
    out
}

/// Numbers longer than this many characters (exact decimals and fractions
/// at full precision after a few training steps) are scaled to the line.
const LONG_NUMBER: usize = 60;

/// Whether `s` is one number too long for a line: TeX does not break a
/// string of digits.
/// The estimated width in characters past which a formula (without
/// matrices, which [`WIDE_MATRIX`] measures) is shrunk to the page: a sum
/// of four slices' gradients, each a product, runs past the margin; the
/// formulas of a dense, batch, convolutional or recurrent network stay below it.
const LONG_FORMULA: usize = 150;

/// A rough count of the characters a formula shows: a command (`\odot`,
/// `\partial`) as one, braces, `\left`, `\right` and the names of
/// `\operatorname` and `\mathit` as what they enclose.
fn formula_width(latex: &str) -> usize {
    let mut width = 0;
    let mut chars = latex.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let mut name = String::new();
                while let Some(&n) = chars.peek().filter(|n| n.is_ascii_alphabetic()) {
                    name.push(n);
                    chars.next();
                }
                if !matches!(name.as_str(), "left" | "right" | "operatorname" | "mathit" | "textstyle" | "frac") {
                    width += 1;
                }
            }
            '{' | '}' | '^' | '_' | ' ' => {}
            _ => width += 1,
        }
    }
    width
}

fn long_number(s: &str) -> bool {
    s.len() > LONG_NUMBER && s.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '/'))
}

/// A line plot drawn by pgfplots, its y range the one the SVG plots use.
fn pgfplot(plot: &Plot) -> String {
    let (y_lo, y_hi) = super::plot::y_range(&plot.points);
    let x_max = plot.points.last().map_or(1, |p| p.0).max(1);
    let ticks = if x_max <= 10 { format!(", xtick={{0,...,{x_max}}}") } else { String::new() };
    let marks = if plot.points.len() <= 50 { "mark=*, mark size=1.5pt" } else { "no marks" };
    let coordinates: Vec<String> = plot.points.iter().map(|(x, y)| format!("({x},{y:e})")).collect();
    let mut out = String::from("\\begin{center}\n\\begin{tikzpicture}\n");
    let _ = writeln!(
        out,
        "\\begin{{axis}}[width=0.8\\linewidth, height=6cm, xlabel={{${}$}}, ylabel={{${}$}}, xmin=0, xmax={x_max}{ticks}, ymin={y_lo:e}, ymax={y_hi:e}, grid=major, scaled y ticks=false, y tick label style={{/pgf/number format/fixed}}]",
        plot.x_label, plot.y_label
    );
    let _ = writeln!(out, "\\addplot[color=blue, thick, {marks}] coordinates {{{}}};", coordinates.join(" "));
    out.push_str("\\end{axis}\n\\end{tikzpicture}\n\\end{center}\n\n");
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
    let long_formula = !r.rhs.contains("\\begin{pmatrix}") && formula_width(&r.rhs) > LONG_FORMULA;
    let rhs = if matrices_width(&r.rhs) > WIDE_MATRIX || long_number(&r.rhs) || long_formula {
        // Wide matrices are shrunk to stay within the page (never enlarged:
        // graphicx lets the size refer to the natural `\width`).
        format!(
            "\\resizebox{{\\ifdim\\width>0.8\\linewidth 0.8\\linewidth\\else\\width\\fi}}{{!}}{{$\\displaystyle {}$}}",
            r.rhs
        )
    } else {
        r.rhs.clone()
    };
    match &r.note {
        Some(note) => {
            let note = inline(note);
            format!("{} &= \\derivstep{{{}}}{{{note}}}", r.lhs, rhs)
        }
        None => format!("{} &= {}", r.lhs, rhs),
    }
}
