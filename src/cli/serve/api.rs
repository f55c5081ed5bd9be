//! The page's questions answered as JSON: a derivation, a graph, an export.
//!
//! Documents go to the page as the blocks the Markdown and LaTeX writers
//! share ([`render::document::Block`]), each formula as the LaTeX those
//! writers emit, so the page typesets exactly what `--format markdown`
//! shows, with no Markdown parser in the browser and no HTML from the
//! server: every string is data the page inserts as text or hands to KaTeX.

use std::time::Instant;

use base64::Engine as _;
use serde_json::{json, Value};

use nnderive::render::document::{self, Block, Inline, Row};
use nnderive::render::{self, graph};
use nnderive::{Error, Source};

/// A file's errors as the page shows them: `render::json::errors`, whose
/// entries hold each place (line, column), message, labels and help.
fn errors(source: &Source, error: &Error) -> Value {
    let text = render::json::errors(&error.report(), &source.name, &source.text);
    serde_json::from_str(&text).unwrap_or_else(|_| json!({ "errors": [] }))
}

fn inline(parts: &[Inline]) -> Value {
    parts
        .iter()
        .map(|p| match p {
            Inline::Text(t) => json!({ "text": t }),
            Inline::Math(m) => json!({ "math": m }),
        })
        .collect()
}

/// The rows of a display as one `aligned` environment, spelled as the
/// Markdown writer spells it.
fn aligned(rows: &[Row]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|r| match &r.note {
            Some(note) => format!("{} &= {} && \\text{{{}}}", r.lhs, r.rhs, document::inline(note)),
            None => format!("{} &= {}", r.lhs, r.rhs),
        })
        .collect();
    format!("\\begin{{aligned}}\n{}\n\\end{{aligned}}", rows.join(" \\\\\n"))
}

/// A document's blocks as JSON for the page.
pub fn blocks(blocks: Vec<Block>) -> Value {
    let mut section = 0;
    blocks
        .into_iter()
        .map(|block| match block {
            Block::Section(t) => {
                section += 1;
                json!({ "kind": "section", "text": format!("{section}. {t}") })
            }
            Block::Subsection(parts) => json!({ "kind": "subsection", "inline": inline(&parts) }),
            Block::Paragraph(parts) => json!({ "kind": "paragraph", "inline": inline(&parts) }),
            Block::Display(rows) => json!({ "kind": "display", "latex": aligned(&rows) }),
            Block::List(items) => {
                json!({ "kind": "list", "items": items.iter().map(|i| inline(i)).collect::<Vec<_>>() })
            }
            Block::Table { header, rows } => json!({ "kind": "table", "header": header, "rows": rows }),
            Block::Plot(plot) => match render::plot::svg(&plot) {
                Ok(svg) => json!({ "kind": "image", "alt": plot.description, "src": svg_data(&svg) }),
                Err(e) => json!({ "kind": "paragraph", "inline": [{ "text": format!("({}: the plot could not be drawn: {e})", plot.description) }] }),
            },
            Block::Figure(figure) => json!({ "kind": "paragraph", "inline": inline(&figure.caption()) }),
        })
        .collect()
}

/// An SVG as a `data:` address for an `<img>`, where no script in it runs.
fn svg_data(svg: &str) -> String {
    format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg.as_bytes()))
}

/// Derives and solves `text`: the derivation, the worked solution and the
/// values as text, or the file's errors. A file that derives but cannot be
/// solved (the work budget, a value left open where a number is needed)
/// keeps its derivation and gets the solver's errors beside it.
pub fn derive(name: &str, text: &str, round: Option<u32>) -> Result<Value, String> {
    let started = Instant::now();
    let source = Source::new(name, text);
    let model = match nnderive::load(&source) {
        Ok(model) => model,
        Err(e) => return Ok(json!({ "ok": false, "errors": errors(&source, &e), "ms": ms(started) })),
    };
    let derivation = nnderive::derive::derive(&model);
    let derived = blocks(document::derivation(&model, &derivation));
    let mut out = json!({ "ok": true, "derivation": derived });
    match nnderive::solve(&model) {
        Ok(solution) => {
            out["solution"] = blocks(document::build(&model, &solution, round));
            out["values"] = json!(render::text::solution(&model, &solution, round));
        }
        Err(e) => out["solve_errors"] = errors(&source, &e),
    }
    out["ms"] = json!(ms(started));
    Ok(out)
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// The computational graph: an SVG drawn by Graphviz's `dot` when it is
/// installed, else the DOT text with a note saying why.
pub fn graph(name: &str, text: &str, grad: bool) -> Result<Value, String> {
    let source = Source::new(name, text);
    let model = match nnderive::load(&source) {
        Ok(model) => model,
        Err(e) => return Ok(json!({ "ok": false, "errors": errors(&source, &e) })),
    };
    let derivation = nnderive::derive::derive(&model);
    let dot = graph::dot::dot(&graph::build(&model, &derivation, grad));
    Ok(match graph::svg::svg(&dot) {
        Ok(svg) => json!({ "ok": true, "src": svg_data(&svg) }),
        Err(e) => json!({ "ok": true, "dot": dot, "note": format!("The graph is shown as DOT text: {e}.") }),
    })
}

/// One download: the worked solution as LaTeX or Markdown, the solution as
/// JSON, or the NumPy export, with the file name it is offered under.
pub fn export(name: &str, text: &str, round: Option<u32>, format: &str) -> Result<Value, String> {
    let extension = match format {
        "latex" => "tex",
        "markdown" => "md",
        "json" => "json",
        "numpy" => "py",
        _ => return Err("format is one of latex, markdown, json, numpy".into()),
    };
    let source = Source::new(name, text);
    let solved = nnderive::load(&source).and_then(|model| nnderive::solve(&model).map(|s| (model, s)));
    let (model, solution) = match solved {
        Ok(solved) => solved,
        Err(e) => return Ok(json!({ "ok": false, "errors": errors(&source, &e) })),
    };
    let title = document::SOLUTION_TITLE;
    let text = match format {
        "latex" => render::latex::write(document::build(&model, &solution, round), title),
        "markdown" => render::markdown::write(document::build(&model, &solution, round), title),
        "json" => render::json::solution(&model, &solution, round),
        _ => match render::numpy::export(&model, &solution, name, false) {
            Ok(text) => text,
            Err(e) => return Ok(json!({ "ok": false, "errors": errors(&source, &nnderive::Error::from(e)) })),
        },
    };
    let stem = std::path::Path::new(name).file_stem().map(|s| s.to_string_lossy().into_owned());
    let stem = stem.filter(|s| !s.is_empty()).unwrap_or_else(|| "network".into());
    Ok(json!({ "ok": true, "name": format!("{stem}.{extension}"), "text": text }))
}
