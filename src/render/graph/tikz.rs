//! The forward graph as a TikZ picture for the LaTeX document: placed by
//! [`super::layout`], so that the document compiles with pdflatex alone
//! (no Graphviz, no LuaLaTeX graph drawing), styled as the DOT graph is.

use std::fmt::Write;

use super::dot::{look, Look};
use super::layout::layered;
use super::{ComputationGraph, EdgeKind, GraphNode, NodeKind};

/// Centimetres between rows, and between the widest nodes of neighbouring columns.
const ROW: f64 = 1.25;
const COLUMN_GAP: f64 = 0.9;

/// The forward graph as a centred `tikzpicture`, shrunk to the line width
/// when wider (needs `\usepackage{tikz}` and graphicx).
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

    let mut out =
        String::from("\\begin{center}\n\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n");
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
                // Back to an earlier column, below both ends.
                let span = layout.column[e.from].abs_diff(layout.column[e.to]) as f64;
                let drop = 0.9 + 0.25 * span;
                let label = e
                    .label
                    .as_ref()
                    .map(|l| format!(" node[midway, below, font=\\scriptsize, text=nnstep] {{${}$}}", l.latex))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "\\draw[->, thick, draw=nnstep] (n{}.south) .. controls +(0,-{drop:.2}) and +(0,-{drop:.2}) ..{label} (n{}.south);",
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
            None => format!("({:.2},{:.2})", 0.0, y(bottom + 1.1)),
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
                "\\draw[->, thick, draw=nnstep] ([xshift=4mm]legend{p}.east) -- ++(0.8,0) node[right, font=\\scriptsize, text=nnstep] {{from an earlier step}};"
            );
        }
    }
    out.push_str("\\end{tikzpicture}}\n\\end{center}\n");
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

/// A guess at a node's width in centimetres from its LaTeX: each command
/// (`\delta`) one character, braces and scripts' markers none, at about
/// the width of a letter of the small font. Columns are spaced by it; a
/// guess too wide only leaves room.
fn width(node: &GraphNode) -> f64 {
    let visible = |s: &str| {
        let mut n = 0usize;
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    while chars.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                        chars.next();
                    }
                    n += 1;
                }
                '{' | '}' | '_' | '^' | '$' => {}
                _ => n += 1,
            }
        }
        n
    };
    let per_char = if node.kind == NodeKind::Operation { 0.18 } else { 0.21 };
    let text = node.latex.lines().map(visible).max().unwrap_or(0);
    let shape = node.shape.as_ref().map_or(0, |s| s.to_string().len());
    (text as f64 * per_char).max(shape as f64 * 0.15) + 0.3
}
