//! `--format markdown`: a Markdown document whose mathematics renders with
//! KaTeX or MathJax (`$…$` inline, `$$…$$` displays).

use std::fmt::Write;

use crate::eval::Solution;
use crate::model::Model;

use base64::Engine;

use super::document::{build_with, inline, prose, Block, Figure, SvgImage, SOLUTION_TITLE};

/// The worked solution as Markdown.
pub fn document(model: &Model, solution: &Solution, round: Option<u32>) -> String {
    document_with(model, solution, round, Vec::new())
}

/// [`document`] with more blocks at the end (the cases of `--cases`).
pub fn document_with(model: &Model, solution: &Solution, round: Option<u32>, more: Vec<Block>) -> String {
    document_with_figure(model, solution, round, None, more)
}

/// [`document_with`] and, after the forward pass, the computational graph
/// as an SVG image, embedded or linked.
pub fn document_with_figure(
    model: &Model,
    solution: &Solution,
    round: Option<u32>,
    figure: Option<Figure>,
    more: Vec<Block>,
) -> String {
    write(build_with(model, solution, round, figure).into_iter().chain(more).collect(), SOLUTION_TITLE)
}

/// A document's blocks as Markdown under the heading `title` (plain words;
/// what Markdown or the math renderer would read as markup is escaped).
pub fn write(blocks: Vec<Block>, title: &str) -> String {
    let mut out = format!("# {}\n\n", plain(title));
    let mut section = 0;
    for block in blocks {
        match block {
            Block::Section(t) => {
                section += 1;
                let _ = writeln!(out, "## {section}. {}\n", prose(&t));
            }
            Block::Subsection(t) => {
                let _ = writeln!(out, "### {}\n", inline(&t));
            }
            Block::Paragraph(p) => {
                let _ = writeln!(out, "{}\n", inline(&p));
            }
            Block::Display(rows) => {
                out.push_str("$$\n\\begin{aligned}\n");
                let n = rows.len();
                for (i, r) in rows.iter().enumerate() {
                    let _ = write!(out, "{} &= {}", r.lhs, r.rhs);
                    if let Some(note) = &r.note {
                        let _ = write!(out, " && \\text{{{}}}", inline(note));
                    }
                    out.push_str(if i + 1 < n { " \\\\\n" } else { "\n" });
                }
                out.push_str("\\end{aligned}\n$$\n\n");
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {}", inline(&item));
                }
                out.push('\n');
            }
            Block::Table { header, rows } => {
                let cells = |cells: &[String]| cells.iter().map(|c| format!(" ${c}$ |")).collect::<String>();
                let _ = writeln!(out, "|{}", cells(&header));
                let _ = writeln!(out, "|{}", "---:|".repeat(header.len()));
                for r in rows {
                    let r = r.unwrap_or_else(|| vec!["\\vdots".to_string(); header.len()]);
                    let _ = writeln!(out, "|{}", cells(&r));
                }
                out.push('\n');
            }
            Block::Figure(figure) => {
                const ALT: &str = "The computational graph of the network";
                let caption = inline(&figure.caption());
                match &figure.svg {
                    Some(SvgImage::Embedded(svg)) => {
                        let data = base64::engine::general_purpose::STANDARD.encode(svg.as_bytes());
                        let _ = writeln!(out, "![{ALT}](data:image/svg+xml;base64,{data})\n");
                    }
                    Some(SvgImage::Linked(address)) => {
                        let _ = writeln!(out, "![{ALT}]({address})\n");
                    }
                    // No SVG was drawn: the DOT text, for Graphviz.
                    None => {
                        let _ = writeln!(out, "```dot\n{}```\n", super::graph::dot::dot(&figure.graph));
                    }
                }
                let _ = writeln!(out, "*{caption}*\n");
            }
            Block::Plot(plot) => match super::plot::markdown_image(&plot) {
                Ok(image) => {
                    let _ = writeln!(out, "{image}\n");
                }
                Err(e) => {
                    let _ =
                        writeln!(out, "({}: the plot could not be drawn: {})\n", prose(&plot.description), prose(&e));
                }
            },
        }
    }
    out
}

/// Plain words as Markdown text: each ASCII punctuation character that
/// Markdown or the math renderer (`$`) could read as markup is escaped with
/// a backslash, which CommonMark allows before any of them.
pub fn plain(words: &str) -> String {
    let mut out = String::with_capacity(words.len());
    for c in words.chars() {
        if c.is_ascii_punctuation() && !matches!(c, ',' | '.' | ':' | ';' | '?' | '\'' | '"' | '/' | '-' | '(' | ')') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
