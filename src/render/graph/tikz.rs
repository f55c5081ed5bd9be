//! The forward graph as a TikZ picture for the LaTeX document: placed by
//! [`super::layout`], so that the document compiles with pdflatex alone
//! (no Graphviz, no LuaLaTeX graph drawing), styled as the DOT graph is.

use std::fmt::Write;

use super::dot::{look, Look};
use super::layout::layered;
use super::{ComputationGraph, EdgeKind, GraphNode, NodeKind};

/// Centimetres between rows, and between the widest nodes of neighbouring columns.
const ROW: f64 = 1.25;
const COLUMN_GAP: f64 = 0.6;

/// The forward graph as a `tikzpicture`, shrunk to the line width when
/// wider (needs `\usepackage{tikz}` and graphicx).
pub fn picture(graph: &ComputationGraph) -> String {
    let graph = graph.forward();
    let forward: Vec<(usize, usize)> =
        graph.edges.iter().filter(|e| e.kind == EdgeKind::Forward).map(|e| (e.from, e.to)).collect();
    let layout = layered(graph.nodes.len(), &forward);
    let mut widths = vec![0.0f64; layout.columns];
    for (i, node) in graph.nodes.iter().enumerate() {
        widths[layout.column[i]] = widths[layout.column[i]].max(width(node));
    }
    let mut x = vec![0.0f64; layout.columns];
    for c in 1..layout.columns {
        x[c] = x[c - 1] + (widths[c - 1] + widths[c]) / 2.0 + COLUMN_GAP;
    }
    let y = |row: f64| -row * ROW;

    let mut out = String::from("\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n");
    out.push_str("\\begin{tikzpicture}[>=stealth, font=\\small, every node/.append style={align=center}]\n");
    let kinds = legend_kinds(&graph);
    for kind in &kinds {
        let l = look(*kind);
        let _ = writeln!(
            out,
            "\\definecolor{{nn{0}fill}}{{HTML}}{{{1}}}\\definecolor{{nn{0}draw}}{{HTML}}{{{2}}}",
            l.class,
            &l.fill[1..],
            &l.border[1..]
        );
        let _ = writeln!(out, "\\tikzset{{nn{}/.style={{{}}}}}", l.class, style(&l));
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        let l = look(node.kind);
        let _ = writeln!(
            out,
            "\\node[nn{}] (n{i}) at ({:.2},{:.2}) {{{}}};",
            l.class,
            x[layout.column[i]],
            y(layout.row[i]),
            label(node)
        );
    }
    let recurrent = graph.edges.iter().any(|e| e.kind == EdgeKind::Recurrent);
    if recurrent {
        let _ = writeln!(out, "\\definecolor{{nnstep}}{{HTML}}{{{}}}", &super::dot::STEP_COLOUR[1..]);
    }
    // The waypoints are the forward edges', in order.
    let mut waypoints = layout.waypoints.iter();
    for e in &graph.edges {
        let edge_label = e
            .label
            .as_ref()
            .map(|l| format!(" node[midway, above, font=\\scriptsize] {{${}$}}", l.latex))
            .unwrap_or_default();
        match e.kind {
            EdgeKind::Recurrent => {
                // Back to an earlier column: out of the source's right side,
                // down the gap after its column, below every node of the
                // columns between, up the gap before the target's column,
                // into its left side; never through a node.
                let (a, b) = (layout.column[e.from], layout.column[e.to]);
                let (left, right) = (a.min(b), a.max(b));
                let lowest = (0..graph.nodes.len())
                    .filter(|&i| (left..=right).contains(&layout.column[i]))
                    .map(|i| layout.row[i])
                    .fold(0.0f64, f64::max);
                let depth = y(lowest + 0.75);
                let out_x = x[a] + widths[a] / 2.0 + COLUMN_GAP / 2.0;
                let in_x = x[b] - widths[b] / 2.0 - COLUMN_GAP / 2.0;
                let label = e
                    .label
                    .as_ref()
                    .map(|l| format!(" node[midway, below, font=\\scriptsize, text=nnstep] {{${}$}}", l.latex))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "\\draw[->, thick, draw=nnstep, rounded corners=8pt] (n{}.east) -| ({out_x:.2},{depth:.2}) --{label} ({in_x:.2},{depth:.2}) |- (n{}.west);",
                    e.from, e.to
                );
            }
            _ => {
                let through: String = waypoints
                    .next()
                    .into_iter()
                    .flatten()
                    .map(|&(c, r)| format!(" -- ({:.2},{:.2})", x[c], y(r)))
                    .collect();
                let _ =
                    writeln!(out, "\\draw[->, rounded corners=6pt] (n{}){through} --{edge_label} (n{});", e.from, e.to);
            }
        }
    }
    // The legend: one sample of each kind of node, in a row below.
    let bottom = layout.row.iter().copied().fold(0.0f64, f64::max);
    let mut previous: Option<usize> = None;
    for (j, kind) in kinds.iter().enumerate() {
        let l = look(*kind);
        let at = match previous {
            None => format!("({:.2},{:.2})", 0.0, y(bottom + if recurrent { 1.6 } else { 1.1 })),
            Some(p) => format!("([xshift=3mm]legend{p}.east)"),
        };
        let _ = writeln!(
            out,
            "\\node[nn{}, anchor=west, font=\\scriptsize] (legend{j}) at {at} {{{}}};",
            l.class, l.legend
        );
        previous = Some(j);
    }
    if recurrent {
        if let Some(p) = previous {
            let _ = writeln!(
                out,
                "\\draw[->, thick, draw=nnstep] ([xshift=4mm]legend{p}.east) -- ++(0.8,0) node[right, font=\\scriptsize, text=nnstep] {{to the next step}};"
            );
        }
    }
    out.push_str("\\end{tikzpicture}}\n");
    out
}

/// The kinds of node the picture has, in the legend's order.
fn legend_kinds(graph: &ComputationGraph) -> Vec<NodeKind> {
    super::dot::LEGEND.iter().copied().filter(|k| graph.nodes.iter().any(|n| n.kind == *k)).collect()
}

/// A node style in TikZ's terms, after the DOT look.
fn style(l: &Look) -> String {
    let c = l.class;
    let mut s = format!("draw=nn{c}draw, fill=nn{c}fill, line width=0.6pt, inner sep=3pt");
    if l.style.contains("rounded") {
        s.push_str(", rounded corners=3pt");
    }
    if l.style.contains("dashed") {
        s.push_str(", dashed");
    }
    match l.shape {
        "ellipse" => s.push_str(", rounded corners=7pt"),
        "doubleoctagon" => s.push_str(", double, double distance=1pt"),
        _ => {}
    }
    if l.class == "operation" {
        s.push_str(", font=\\footnotesize, inner sep=2pt");
    }
    s
}

/// A node's text: a tensor's name over its shape, an operation's formula.
fn label(node: &GraphNode) -> String {
    let math = |s: &str| format!("${s}$");
    match (node.kind, &node.shape) {
        (NodeKind::Tensor(_), Some(shape)) => {
            let shape = if shape.is_scalar() { "\\text{scalar}".to_string() } else { shape.to_string() };
            format!("{}\\\\[-1pt]{{\\scriptsize ${shape}$}}", math(&node.latex))
        }
        _ => node.latex.lines().map(math).collect::<Vec<_>>().join("\\\\"),
    }
}

/// A guess at a node's width in centimetres from its LaTeX: letters at
/// about half an em of the node's font, a space half that, a command one
/// letter (`\delta`) or none (`\left`, `\operatorname`, `\hat`), braces
/// and scripts' markers none. Columns are spaced by it; a guess too wide
/// only leaves room.
fn width(node: &GraphNode) -> f64 {
    const INVISIBLE: [&str; 9] =
        ["left", "right", "operatorname", "hat", "mathit", "text", "mathrm", "displaystyle", "limits"];
    let visible = |s: &str| {
        let mut n = 0.0f64;
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let mut name = String::new();
                    while let Some(&c) = chars.peek().filter(|c| c.is_ascii_alphabetic()) {
                        name.push(c);
                        chars.next();
                    }
                    if name.is_empty() {
                        // `\_`, `\,`: one character.
                        chars.next();
                        n += 1.0;
                    } else if !INVISIBLE.contains(&name.as_str()) {
                        n += 1.0;
                    }
                }
                '{' | '}' | '_' | '^' | '$' => {}
                ' ' => n += 0.5,
                _ => n += 1.0,
            }
        }
        n
    };
    let per_char = if node.kind == NodeKind::Operation { 0.15 } else { 0.18 };
    let text = node.latex.lines().map(visible).fold(0.0, f64::max);
    let shape = node.shape.as_ref().map_or(0, |s| s.to_string().len());
    (text * per_char).max(shape as f64 * 0.13) + 0.25
}
