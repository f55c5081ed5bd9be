//! The computational graph as Graphviz DOT text, laid out left to right.
//!
//! Node identifiers are `n0`, `n1`, …, so that no name needs quoting
//! there; every name and formula is in a label, escaped for the kind of
//! label it is in (an HTML-like label for tensors, a quoted string for
//! the others). Each node carries its kind in `class`, which Graphviz
//! copies into the SVG for style sheets.

use std::fmt::Write;

use crate::model::Role;

use super::{ComputationGraph, EdgeKind, GraphNode, NodeKind};

/// The font of every label: a sans-serif face; SVG viewers fall back to
/// theirs (Graphviz writes the list into the SVG).
const FONT: &str = "Helvetica,Arial,sans-serif";

/// How each kind of node looks: shape, style, fill, border.
pub(super) struct Look {
    pub(super) class: &'static str,
    /// What the legend calls it.
    pub(super) legend: &'static str,
    pub(super) shape: &'static str,
    pub(super) style: &'static str,
    pub(super) fill: &'static str,
    pub(super) border: &'static str,
}

pub(super) fn look(kind: NodeKind) -> Look {
    let tensor = |class, legend, shape, style, fill, border| Look { class, legend, shape, style, fill, border };
    match kind {
        NodeKind::Tensor(Role::Input) => tensor("input", "input", "box", "rounded,filled", "#d7e9fb", "#2f6db5"),
        NodeKind::Tensor(Role::Target) => tensor("target", "target", "box", "rounded,filled", "#dcf2dc", "#2e8b3e"),
        NodeKind::Tensor(Role::Param) => tensor("param", "parameter", "box", "filled", "#fde6c8", "#c4761c"),
        NodeKind::Tensor(Role::Const) => tensor("const", "constant", "box", "filled,dashed", "#eeeeee", "#808080"),
        NodeKind::Tensor(Role::Intermediate) => {
            tensor("equation", "computed", "ellipse", "filled", "#ffffff", "#505050")
        }
        NodeKind::Tensor(Role::Loss) => tensor("loss", "loss", "doubleoctagon", "filled", "#f9d3d3", "#b03a2e"),
        NodeKind::Operation => tensor("operation", "operation", "box", "rounded,filled", "#f4f4f4", "#a0a0a0"),
        NodeKind::Gradient => tensor("gradient", "gradient", "note", "filled", "#fdecea", "#b03a2e"),
    }
}

/// The order of the legend, and of the roles in it.
pub(super) const LEGEND: [NodeKind; 8] = [
    NodeKind::Tensor(Role::Input),
    NodeKind::Tensor(Role::Target),
    NodeKind::Tensor(Role::Param),
    NodeKind::Tensor(Role::Const),
    NodeKind::Tensor(Role::Intermediate),
    NodeKind::Tensor(Role::Loss),
    NodeKind::Operation,
    NodeKind::Gradient,
];

/// The colour of recurrent edges and of the step's frame.
pub(super) const STEP_COLOUR: &str = "#7b3fa0";
/// The colour of the backward flow and the gradients.
const BACKWARD_COLOUR: &str = "#b03a2e";

/// The graph as DOT text.
pub fn dot(graph: &ComputationGraph) -> String {
    let mut out = String::from("digraph network {\n");
    let _ = writeln!(
        out,
        "  graph [rankdir=LR, newrank=true, nodesep=0.25, ranksep=0.4, fontname=\"{FONT}\", fontsize=11, labelloc=b,\n    label=<{}>];",
        legend(graph)
    );
    let _ = writeln!(out, "  edge [fontname=\"{FONT}\", fontsize=10, color=\"#505050\", arrowsize=0.7];");
    let _ = writeln!(out, "  node [fontname=\"{FONT}\", height=0.3, penwidth=1.2];");
    // Tensors first, then operations, then gradients, each in the order
    // built; each kind's look is set before the first of a run of nodes of
    // that kind (every look sets the same attributes, so none carries over).
    let group = |kind: NodeKind| match kind {
        NodeKind::Tensor(_) => 0,
        NodeKind::Operation => 1,
        NodeKind::Gradient => 2,
    };
    let mut order: Vec<usize> = (0..graph.nodes.len()).collect();
    order.sort_by_key(|&i| group(graph.nodes[i].kind));
    let mut current: Option<NodeKind> = None;
    for (i, node) in order.into_iter().map(|i| (i, &graph.nodes[i])) {
        if current != Some(node.kind) {
            let _ = writeln!(out, "  node [{}];", node_defaults(node.kind));
            current = Some(node.kind);
        }
        let _ = writeln!(out, "  n{i} [label={}];", label(node));
    }
    // A gradient is drawn in the same column as its node.
    let mut beside: Vec<Vec<usize>> = vec![Vec::new(); graph.nodes.len()];
    for e in graph.edges.iter().filter(|e| e.kind == EdgeKind::Beside) {
        beside[e.from].push(e.to);
    }
    for (i, notes) in beside.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
        let ids: Vec<String> = std::iter::once(i).chain(notes.iter().copied()).map(|n| format!("n{n}")).collect();
        let _ = writeln!(out, "  {{ rank=same; {}; }}", ids.join("; "));
    }
    for e in &graph.edges {
        let mut attrs: Vec<String> = match e.kind {
            EdgeKind::Forward => Vec::new(),
            EdgeKind::Recurrent => vec![
                "class=\"recurrent\"".into(),
                format!("color=\"{STEP_COLOUR}\""),
                format!("fontcolor=\"{STEP_COLOUR}\""),
                "style=bold".into(),
                // A loop back to an earlier column must not reorder the columns.
                "constraint=false".into(),
            ],
            EdgeKind::Backward => vec![
                "class=\"backward\"".into(),
                format!("color=\"{BACKWARD_COLOUR}\""),
                "style=dashed".into(),
                "constraint=false".into(),
            ],
            EdgeKind::Beside => vec![
                "class=\"beside\"".into(),
                format!("color=\"{BACKWARD_COLOUR}\""),
                "style=dotted".into(),
                "arrowhead=none".into(),
            ],
        };
        if let Some(label) = &e.label {
            attrs.push(format!("label={}", quoted(&label.text)));
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        let _ = writeln!(out, "  n{} -> n{}{attrs};", e.from, e.to);
    }
    out.push_str("}\n");
    out
}

/// Every attribute of a kind of node.
fn node_defaults(kind: NodeKind) -> String {
    let l = look(kind);
    let (size, colour, margin) = match kind {
        // Room for a viewer's font a little wider than the one Graphviz measured.
        NodeKind::Operation => (10, "#202020", "0.12,0.03"),
        NodeKind::Gradient => (10, BACKWARD_COLOUR, "0.12,0.04"),
        NodeKind::Tensor(_) => (12, "#000000", "0.1,0.04"),
    };
    format!(
        "class=\"{}\", shape={}, style=\"{}\", fillcolor=\"{}\", color=\"{}\", fontsize={size}, fontcolor=\"{colour}\", margin=\"{margin}\"",
        l.class, l.shape, l.style, l.fill, l.border
    )
}

/// A node's label: a tensor's name in bold over its shape; an operation's
/// formula; a gradient's lines.
fn label(node: &GraphNode) -> String {
    match (node.kind, &node.shape) {
        (NodeKind::Tensor(_), Some(shape)) => {
            let shape = if shape.is_scalar() { "scalar".to_string() } else { shape.to_string() };
            // Two rows of a table rather than two lines, so that a low
            // character of the name (the `_` of `h_t`) keeps clear of the shape.
            format!(
                "<<TABLE BORDER=\"0\" CELLPADDING=\"0\" CELLSPACING=\"1\"><TR><TD><B>{}</B></TD></TR><TR><TD><FONT POINT-SIZE=\"9\" COLOR=\"#555555\">{}</FONT></TD></TR></TABLE>>",
                html(&node.text),
                html(&shape)
            )
        }
        _ => quoted(&node.text),
    }
}

/// The legend, as the graph's label: a table with a cell for each kind of
/// node the graph has, styled as those nodes are, then the edges' styles.
fn legend(graph: &ComputationGraph) -> String {
    let mut cells = String::new();
    for kind in LEGEND.iter().filter(|k| graph.nodes.iter().any(|n| n.kind == **k)) {
        let l = look(*kind);
        let rounded = if l.style.contains("rounded") { " STYLE=\"ROUNDED\"" } else { "" };
        let _ = write!(cells, "<TD BGCOLOR=\"{}\" COLOR=\"{}\"{rounded}>{}</TD>", l.fill, l.border, l.legend);
    }
    if let Some(steps) = &graph.steps {
        let loops =
            if graph.edges.iter().any(|e| e.kind == EdgeKind::Recurrent) { "━━▶ to the next step; " } else { "" };
        let _ = write!(
            cells,
            "<TD BORDER=\"0\"><FONT COLOR=\"{STEP_COLOUR}\">{loops}one step drawn for {} = {}..T, T = {}</FONT></TD>",
            html(&steps.index),
            steps.first,
            steps.last
        );
    }
    if graph.backward {
        let _ = write!(cells, "<TD BORDER=\"0\"><FONT COLOR=\"{BACKWARD_COLOUR}\">╌╌▶ gradient flow</FONT></TD>");
    }
    format!("<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"4\" CELLPADDING=\"3\"><TR>{cells}</TR></TABLE>")
}

/// Text for an HTML-like label: `&`, `<`, `>` and `"` as entities, control
/// characters left out (a label cannot show them).
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A DOT quoted string: `"` and `\` escaped (Graphviz reads `\n`, `\l`
/// and `\N` in labels as escapes), each line break as `\n`, other control
/// characters left out.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_for_their_kind() {
        assert_eq!(quoted(r#"a "b" \n"#), r#""a \"b\" \\n""#);
        assert_eq!(quoted("δ1 = z − y\n(for every t)"), "\"δ1 = z − y\\n(for every t)\"");
        assert_eq!(html("a < b & \"c\" > d"), "a &lt; b &amp; &quot;c&quot; &gt; d");
        assert_eq!(quoted("x\u{7}y"), "\"xy\"");
    }
}
