//! `--format markdown`: a Markdown document whose mathematics renders with
//! KaTeX or MathJax (`$…$` inline, `$$…$$` displays).

use std::fmt::Write;

use crate::eval::Solution;
use crate::model::Model;

use super::document::{build, inline, prose, Block};

/// The worked solution as Markdown.
pub fn document(model: &Model, solution: &Solution, round: Option<u32>) -> String {
    document_with(model, solution, round, Vec::new())
}

/// [`document`] with more blocks at the end (the cases of `--cases`).
pub fn document_with(model: &Model, solution: &Solution, round: Option<u32>, more: Vec<Block>) -> String {
    let mut out = String::from("# Worked solution: gradients by back-propagation\n\n");
    let mut section = 0;
    for block in build(model, solution, round).into_iter().chain(more) {
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
