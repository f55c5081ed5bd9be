//! A worked solution as a sequence of blocks, built once from a solution and
//! written out as LaTeX or Markdown. Both writers share everything here and
//! differ only in how a block is spelled.

use crate::derive::{Convention, Derivation, Step, SymbolKind, Wrt};
use crate::eval::tensor::Tensor;
use crate::eval::{Solution, Training};
use crate::model::sentence::Sentence;
use crate::model::{Func, Model, Optimizer, Role};

use super::formula::{constant, definition, formula, Names, Notation};
use super::outline::{
    derivation_outline, outline, ErrorTerm, NoteItem, Outline, Simplifications, TermByTerm, Valued, WorkedSolution,
};
use super::text::substitute_params;
use super::training;

const L: Notation = Notation::Latex;

/// The title of a worked solution's document.
pub const SOLUTION_TITLE: &str = "Worked solution: gradients by back-propagation";

/// The title of a derivation's document (`derive --format latex|markdown`).
pub const DERIVATION_TITLE: &str = "Derivation: gradients by back-propagation";

/// Running text: plain words and inline mathematics.
#[derive(Clone, Debug, PartialEq)]
pub enum Inline {
    Text(String),
    Math(String),
}

/// One line of a display: `lhs = rhs`, or a continuation `= rhs` when `lhs`
/// is empty, with an optional note on the right (the rule used).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub lhs: String,
    pub rhs: String,
    pub note: Option<Vec<Inline>>,
}

/// A piece of the document.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    Section(String),
    /// A heading of words and inline mathematics (`Error term of layer 2, Δ2`).
    Subsection(Vec<Inline>),
    Paragraph(Vec<Inline>),
    /// Aligned equations.
    Display(Vec<Row>),
    /// A bulleted list.
    List(Vec<Vec<Inline>>),
    /// A table whose cells are all mathematics (LaTeX), with a header row;
    /// `None` rows mark rows left out (a vertical ellipsis).
    Table {
        header: Vec<String>,
        rows: Vec<Option<Vec<String>>>,
    },
    /// A line plot.
    Plot(Plot),
    /// The network's computational graph.
    Figure(Box<Figure>),
}

/// The computational graph in a document: LaTeX draws it with TikZ from
/// the graph itself; Markdown shows an SVG (drawn by Graphviz, outside
/// the renderers), embedded or linked.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub graph: super::graph::ComputationGraph,
    pub svg: Option<SvgImage>,
}

impl Figure {
    /// What the picture shows, in words with inline formulas.
    pub fn caption(&self) -> Vec<Inline> {
        let mut out = vec![text(
            "The computational graph: each tensor with its shape, the operation of each equation, and the edges from operands to results.",
        )];
        if let Some(steps) = &self.graph.steps {
            out.extend([
                text(" One step is drawn for "),
                math(format!("{} = {}, \\dots, T", steps.index, steps.first)),
                text(", with "),
                math(format!("T = {}", steps.last)),
                text("; a value from the step before comes through its own node, fed by the loop."),
            ]);
        }
        out
    }
}

/// How a Markdown document shows the graph's SVG.
#[derive(Clone, Debug, PartialEq)]
pub enum SvgImage {
    /// The SVG itself, embedded as a data URI (one self-contained file;
    /// Jupyter, VS Code and pandoc show it, GitHub does not).
    Embedded(String),
    /// The address of an SVG file beside the document, relative to it
    /// (GitHub and Jupyter show it when the file is there too).
    Linked(String),
}

/// A line plot of y against whole-numbered x (the loss by training step).
#[derive(Clone, Debug, PartialEq)]
pub struct Plot {
    /// The points, in order of x.
    pub points: Vec<(u32, f64)>,
    /// The axis labels, as LaTeX math.
    pub x_label: String,
    pub y_label: String,
    /// The y axis's label in the text notation (`L⁽ᵏ⁾`), for images.
    pub y_text: String,
    /// What the plot shows, in words (the alternative text of an image).
    pub description: String,
}

/// Plots keep at most this many points (evenly spaced, first and last
/// included): enough for the shape of any curve, and few enough for TeX.
pub const PLOT_POINTS: usize = 500;

pub(super) fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

pub(super) fn math(s: impl Into<String>) -> Inline {
    Inline::Math(s.into())
}

pub(super) fn row(lhs: impl Into<String>, rhs: impl Into<String>) -> Row {
    Row { lhs: lhs.into(), rhs: rhs.into(), note: None }
}

/// Matrices whose widest row is longer than this many characters are
/// scaled to the line width, so that they stay within the page.
pub const WIDE_MATRIX: usize = 60;

/// Lists of more parameters than this are written one formula per name.
pub const LONG_LIST: usize = 8;

/// Sums over time with more terms than this show the terms' formulas, not their values.
pub const TERMS_SHOWN: usize = 4;

/// Column vectors longer than this are written as transposed rows.
pub const TALL_VECTOR: usize = 12;

/// The width in characters of the first `pmatrix` in `latex`: each
/// column as wide as its widest entry (as LaTeX sets it), plus a space
/// between columns; 0 without one.
pub fn matrix_width(latex: &str) -> usize {
    let Some(start) = latex.find("\\begin{pmatrix}") else {
        return 0;
    };
    let body = &latex[start + "\\begin{pmatrix}".len()..];
    let body = &body[..body.find("\\end{pmatrix}").unwrap_or(body.len())];
    let mut columns: Vec<usize> = Vec::new();
    for row in body.split("\\\\") {
        for (j, cell) in row.split('&').map(str::trim).enumerate() {
            // Padding counts as what it stands for: `\phantom{-0}` as `-0`.
            let w = cell.replace(PHANTOM, "").chars().filter(|&ch| ch != '{' && ch != '}').count();
            match columns.get_mut(j) {
                Some(c) => *c = (*c).max(w),
                None => columns.push(w),
            }
        }
    }
    columns.iter().sum::<usize>() + 2 * columns.len().saturating_sub(1)
}

/// The width in characters of the widest rows of every `pmatrix` in
/// `latex`, added up: matrices written side by side (a sum over time, term
/// by term) take their total width.
pub fn matrices_width(latex: &str) -> usize {
    latex.split("\\begin{pmatrix}").skip(1).map(|m| matrix_width(&format!("\\begin{{pmatrix}}{m}"))).sum()
}

/// A tensor as a LaTeX `pmatrix` (a scalar as a bare number).
pub fn matrix(t: &Tensor, round: Option<u32>) -> String {
    use super::values::{grid, row_cells_in};
    if t.dims().is_empty() {
        return super::values::scalar(t, round, Notation::Latex);
    }
    let (rows, cols) = grid(t);
    // A long column prints as a transposed row, so that it fits on the page.
    if rows > TALL_VECTOR && cols == 1 {
        let row: Vec<String> = (0..rows).flat_map(|r| row_cells_in(t, r, round, Notation::Latex)).collect();
        return format!("\\begin{{pmatrix}} {} \\end{{pmatrix}}^\\top", row.join(" & "));
    }
    let rows: Vec<String> = if t.len() <= ALIGNED_CELLS {
        let cells = super::values::cells_in(t, round, Notation::Latex);
        aligned_on_the_point(&cells).iter().map(|r| r.join(" & ")).collect()
    } else {
        // Written row by row: the cells of a large tensor are never all held
        // at once (and no reader lines up a million decimal points).
        (0..rows).map(|r| row_cells_in(t, r, round, Notation::Latex).collect::<Vec<_>>().join(" & ")).collect()
    };
    format!("\\begin{{pmatrix}} {} \\end{{pmatrix}}", rows.join(" \\\\ "))
}

/// A blank to fill in for each entry of a tensor of shape `dims`: a box as
/// wide as a value at `round` places (with its sign), in a `pmatrix` laid
/// out as [`matrix`] lays out values; a scalar is one box.
pub fn blank_matrix(dims: &[usize], round: Option<u32>) -> String {
    let cell = format!("\\boxed{{{PHANTOM}{}}}}}", blank_digits(round));
    if dims.is_empty() {
        return cell;
    }
    let (rows, cols) = crate::model::Shape::matrix_of(dims).unwrap_or_else(|| {
        let cols = dims.last().copied().unwrap_or(1).max(1);
        (dims.iter().product::<usize>() / cols, cols)
    });
    if rows > TALL_VECTOR && cols == 1 {
        return format!("\\begin{{pmatrix}} {} \\end{{pmatrix}}^\\top", vec![cell; rows].join(" & "));
    }
    // Boxes are taller than digits: the rows get room to stay apart.
    let row = vec![cell; cols].join(" & ");
    format!("\\begin{{pmatrix}} {} \\end{{pmatrix}}", vec![row; rows].join(" \\\\[4pt] "))
}

/// The room a value takes at `round` places, as digits: `-0.0000`.
pub fn blank_digits(round: Option<u32>) -> String {
    match round {
        Some(0) => "-00".to_string(),
        Some(n) => format!("-0.{}", "0".repeat(n.min(8) as usize)),
        None => "-0.000000".to_string(),
    }
}

/// The blank rows under a formula row `lhs = formula`: a continuation
/// `= blank` for a matrix, or `lhs[c] = blank` per channel (as
/// [`value_rows_after`] writes values).
pub fn blank_rows_after(lhs: &str, dims: &[usize], round: Option<u32>) -> Vec<Row> {
    if dims.len() < 3 {
        return vec![row("", blank_matrix(dims, round))];
    }
    let matrix = &dims[dims.len() - 2..];
    super::values::slice_labels(dims)
        .into_iter()
        .map(|index| row(format!("{lhs}[{index}]"), blank_matrix(matrix, round)))
        .collect()
}

/// Matrices of at most this many entries are aligned on their decimal points.
const ALIGNED_CELLS: usize = 1 << 16;

/// How padding starts: `\phantom{0}` takes the room of a 0 and prints nothing.
const PHANTOM: &str = "\\phantom{";

/// The cells of a matrix padded so that each column, centred by `pmatrix`,
/// lines up on the decimal point (or a fraction's bar): an invisible sign and
/// digits on the left (`\phantom{-0}1.5`), an invisible point and digits on
/// the right (`2\phantom{.25}`). Plain `\phantom` works alike in pdflatex and
/// KaTeX, where column types such as `r@{.}l` do not, and in TeX every digit
/// has the same width.
fn aligned_on_the_point(cells: &[Vec<String>]) -> Vec<Vec<String>> {
    // A cell as (sign, whole part, the rest from the point or bar on).
    let split = |s: &str| -> (bool, usize, String) {
        let (negative, magnitude) = match s.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, s),
        };
        let at = magnitude.find(['.', '/']).unwrap_or(magnitude.len());
        (negative, magnitude[..at].chars().count(), magnitude[at..].to_string())
    };
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let mut signed = vec![false; cols];
    let mut whole = vec![0; cols];
    // The longest rest of each column; a shorter one is padded from it.
    let mut rest: Vec<String> = vec![String::new(); cols];
    for row in cells {
        for (c, cell) in row.iter().enumerate() {
            let (negative, w, r) = split(cell);
            signed[c] |= negative;
            whole[c] = whole[c].max(w);
            if r.chars().count() > rest[c].chars().count() {
                rest[c] = r;
            }
        }
    }
    let phantom = |s: String| if s.is_empty() { s } else { format!("{PHANTOM}{s}}}") };
    cells
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(c, cell)| {
                    let (negative, w, r) = split(cell);
                    let mut left = String::new();
                    if signed[c] && !negative {
                        left.push('-');
                    }
                    left.extend(std::iter::repeat_n('0', whole[c] - w));
                    let missing = rest[c].chars().count() - r.chars().count();
                    let right: String = match r.is_empty() {
                        // No point of its own: the column's point, then digits.
                        true => {
                            rest[c].chars().take(1).chain(std::iter::repeat_n('0', missing.saturating_sub(1))).collect()
                        }
                        false => std::iter::repeat_n('0', missing).collect(),
                    };
                    // After padding, a minus would be set as a binary operator,
                    // with space around it; braced it stays a sign.
                    let cell = if negative && !left.is_empty() { format!("{{{cell}}}") } else { cell.clone() };
                    format!("{}{cell}{}", phantom(left), phantom(right))
                })
                .collect()
        })
        .collect()
}

/// `lhs = value` as display rows: one row for a scalar, vector or matrix,
/// one row per channel (`Z_{1}[0] = ...`) for a map or kernel bank.
pub(super) fn value_rows(lhs: &str, t: &Tensor, round: Option<u32>) -> Vec<Row> {
    if t.dims().len() < 3 {
        // One matrix, written as it is: `slices` would copy it.
        return vec![row(lhs, matrix(t, round))];
    }
    super::values::slices(t)
        .into_iter()
        .map(|(index, m)| match index.is_empty() {
            true => row(lhs, matrix(&m, round)),
            false => row(format!("{lhs}[{index}]"), matrix(&m, round)),
        })
        .collect()
}

/// The value rows under a formula row `lhs = formula`: a continuation
/// `= value` for a matrix, or `lhs[c] = ...` per channel.
pub(super) fn value_rows_after(lhs: &str, t: &Tensor, round: Option<u32>) -> Vec<Row> {
    match t.dims().len() {
        0..=2 => vec![row("", matrix(t, round))],
        _ => value_rows(lhs, t, round),
    }
}

/// Builds the worked solution: the forward pass in general form (with the
/// functions), its values, the gradients, the update and the conventions,
/// each section a walk of the solution's [`Outline`].
pub fn build(model: &Model, solution: &Solution, round: Option<u32>) -> Vec<Block> {
    build_with(model, solution, round, None)
}

/// [`build`] with the computational graph after the forward pass.
pub fn build_with(model: &Model, solution: &Solution, round: Option<u32>, figure: Option<Figure>) -> Vec<Block> {
    let o = outline(model, solution, round);
    let mut out = forward_blocks(&o);
    if let Some(figure) = figure {
        out.push(Block::Figure(Box::new(figure)));
    }
    out.extend(function_blocks(&o));
    out.extend(value_blocks(&o));
    out.extend(gradient_blocks(&o));
    if let Some(train) = o.update {
        out.extend(update_blocks(model, &o.names, train, round));
    }
    out.extend(note_blocks(&o));
    out
}

/// The derivation without numbers, as a document: the forward pass in
/// general form (with the functions and their derivatives), the error terms
/// with their steps, the parameters' gradients and the conventions; the
/// worked solution's sections without its values, walked from the same
/// [`Outline`].
pub fn derivation(model: &Model, derivation: &Derivation) -> Vec<Block> {
    let o = derivation_outline(model, derivation);
    let mut out = forward_blocks(&o);
    out.extend(function_blocks(&o));
    out.extend(gradient_blocks(&o));
    out.extend(note_blocks(&o));
    out
}

/// 1. The forward pass in general form: what it computes from, the
///    equations (in t for a recurrence) and the batch or time steps.
fn forward_blocks<V: Valued>(o: &Outline<V>) -> Vec<Block> {
    let (model, d, names) = (o.model, o.derivation, &o.names);
    let mut out = vec![Block::Section("Forward pass".into()), Block::Paragraph(computed_from(o))];
    let rows = match o.time {
        Some(view) => super::text::time_forward(model, d, view, names, L).into_iter().map(|(l, r)| row(l, r)).collect(),
        None => o
            .forward
            .iter()
            .map(|eq| row(names.tensor(eq.tensor, L), definition(&d.graph, eq.definition, names, L)))
            .collect(),
    };
    out.push(Block::Display(rows));
    let introduced = super::introduced::spelled(model, names, L);
    if !introduced.is_empty() {
        // "The pre-activations zh_t and zy_t are named by nnderive, …": a
        // paragraph starts with a capital, and nnderive's name has none.
        let (noun, count) = (super::introduced::noun(introduced.len()), introduced.len());
        let mut said = vec![text(format!("T{} ", &noun[1..]))];
        for (i, name) in introduced.iter().enumerate() {
            let between = if i + 1 == count {
                ""
            } else if i + 2 == count {
                " and "
            } else {
                ", "
            };
            said.extend([math(name.clone()), text(between)]);
        }
        let (verb, them) = if count == 1 { ("is", "it") } else { ("are", "them") };
        said.push(text(format!(
            " {verb} named by nnderive (the file leaves {them} unnamed), so that every error term is a gradient with respect to a name."
        )));
        out.push(Block::Paragraph(said));
    }
    if let Some(batch) = model.batch {
        let lane = super::text::lane_name(batch.examples.other());
        out.push(Block::Paragraph(vec![
            text("This is a batch of "),
            math(format!("N = {}", batch.size)),
            text(format!(" examples, one per {lane} of the inputs and of every layer's values.")),
        ]));
    }
    if let Some(view) = o.time {
        out.push(Block::Paragraph(vec![
            text("These equations hold at every step "),
            math(format!("{} = {}, \\dots, T", view.index, view.first)),
            text(", with "),
            math(format!("T = {}", view.last)),
            text(if V::HAS_VALUES { "; the values below are computed step by step." } else { "." }),
        ]));
    }
    out
}

/// "The network computes, from the inputs x and the parameters W, b:"
fn computed_from<V>(o: &Outline<V>) -> Vec<Inline> {
    let (model, names) = (o.model, &o.names);
    let mut v = vec![text("The network computes, from the")];
    let mut data: Vec<String> = Vec::new();
    for i in model.ids().filter(|&i| model.tensor(i).role == Role::Input) {
        // A sequence is named once, at step t.
        let name = match (o.time, crate::model::time::split_step(&model.tensor(i).name)) {
            (Some(view), Some((_, k))) => names.at(&view.index, k).tensor(i, L),
            _ => names.tensor(i, L),
        };
        if !data.contains(&name) {
            data.push(name);
        }
    }
    // A network without inputs (a loss of the parameters alone) names none.
    if !data.is_empty() {
        v.push(text(if data.len() == 1 { " input " } else { " inputs " }));
        v.push(math(data.join(", ")));
    }
    let and_the_parameters = if data.is_empty() { " parameters " } else { " and the parameters " };
    let ps: Vec<String> = model.params().map(|i| names.tensor(i, L)).collect();
    if ps.len() > LONG_LIST {
        // One formula per name, so that a long list may break between lines.
        v.push(text(and_the_parameters));
        for (k, p) in ps.iter().enumerate() {
            if k > 0 {
                v.push(text(", "));
            }
            v.push(math(p.clone()));
        }
    } else if !ps.is_empty() {
        v.push(text(and_the_parameters));
        v.push(math(ps.join(", ")));
    }
    v.push(text(":"));
    v
}

/// The custom functions and their derivatives, then the conventions the
/// derivatives rely on.
fn function_blocks<V>(o: &Outline<V>) -> Vec<Block> {
    if o.functions.is_empty() {
        return Vec::new();
    }
    let (model, g, names) = (o.model, &o.derivation.graph, &o.names);
    let mut out = vec![Block::Paragraph(vec![text(
        "The scalar functions are applied entry by entry; their derivatives, worked out by the chain rule, are:",
    )])];
    let mut rows = Vec::new();
    for r in &o.functions {
        let f = model.function(r.func);
        let args: Vec<String> = f.params.iter().map(|p| super::formula::tensor_name(p, L)).collect();
        let func = match r.derivative {
            None => Func::Custom(r.func),
            Some(wrt) => Func::Derivative { func: r.func, wrt },
        };
        let mut line = row(
            format!("{}({})", names.function(func, L), args.join(", ")),
            substitute_params(&formula(g, r.body, names, L), &args),
        );
        // The simplifications that shaped a derivative, as steps name them.
        if !r.simplified.is_empty() {
            line.note = Some(vec![text(r.simplified.shown_names().join(", "))]);
        }
        rows.push(line);
    }
    out.push(Block::Display(rows));
    // State the conventions where the derivatives rely on them.
    for n in &o.notes {
        if let NoteItem::Convention(c) = n {
            out.push(Block::Paragraph([vec![text("Convention: ")], sentence(c.statement()), vec![text(".")]].concat()));
        }
    }
    out
}

/// 2. The numeric forward pass: the given values, then each equation with
///    its value, then the max-pools' masks.
fn value_blocks(o: &WorkedSolution) -> Vec<Block> {
    let (g, names, round) = (&o.derivation.graph, &o.names, o.round);
    let mut out = vec![Block::Section("Forward values".into())];
    out.push(Block::Paragraph(vec![text(match round {
        Some(n) => format!("Values are rounded to {n} decimal places (half away from zero)."),
        None => "Values are exact where the arithmetic is (fractions and terminating decimals), otherwise in double precision.".to_string(),
    })]));
    out.push(Block::Subsection(vec![text("Given")]));
    // Given values are printed exactly as the file has them.
    let given = o.given.iter().flat_map(|i| value_rows(&names.tensor(i.tensor, L), i.value, None)).collect();
    out.push(Block::Display(given));
    out.push(Block::Subsection(vec![text("Computed")]));
    let mut rows = Vec::new();
    for eq in &o.forward {
        let name = names.tensor(eq.tensor, L);
        rows.push(row(name.clone(), definition(g, eq.definition, names, L)));
        rows.extend(value_rows_after(&name, eq.value, round));
    }
    out.push(Block::Display(rows));
    for m in o.forward.iter().flat_map(|eq| &eq.masks) {
        let caption = super::text::mask_caption(formula(g, m.input, names, L), &m.mask, L);
        out.push(Block::Paragraph([vec![text("The ")], pieces(caption), vec![text(":")]].concat()));
        let lhs = format!("\\operatorname{{mask}}\\left({}\\right)", formula(g, m.input, names, L));
        out.push(Block::Display(value_rows(&lhs, &m.mask, None)));
    }
    out
}

/// 3. The gradients: how back-propagation goes, the layer rules, the
///    recurrence in t, each error term and each parameter's gradient, and
///    the simplifications the steps name.
fn gradient_blocks<V: Valued>(o: &Outline<V>) -> Vec<Block> {
    let mut out = vec![Block::Section("Gradients".into()), Block::Paragraph(backpropagation_intro(o))];
    out.extend(layer_rule_blocks(&o.layer_rules));
    out.extend(recurrence_blocks(o));
    for term in o.sections() {
        out.extend(error_term_blocks(o, term));
    }
    out.extend(parameter_gradient_blocks(o));
    out.extend(rule_blocks(o));
    out.extend(simplification_blocks(o.simplifications));
    out
}

/// The legend of the rules the error terms' steps name, each with its
/// statement, as the simplifications have theirs.
fn rule_blocks<V: Valued>(o: &Outline<V>) -> Vec<Block> {
    let tags = super::text::named_rules(o.derivation.defined_symbols().flat_map(|s| &s.steps));
    if tags.is_empty() {
        return Vec::new();
    }
    let items = tags
        .iter()
        .map(|tag| {
            let statement = super::text::rule_statement(tag, o.model, L).unwrap_or_default();
            [vec![text(format!("{tag}: "))], pieces(statement)].concat()
        })
        .collect();
    vec![
        Block::Paragraph(vec![
            text("The steps name the rules they use; "),
            math("\\bar{a}"),
            text(" is "),
            math("\\partial L / \\partial a"),
            text(", the gradient that reaches "),
            math("a"),
            text(":"),
        ]),
        Block::List(items),
    ]
}

/// How back-propagation runs: through time, over a batch, or plain.
fn backpropagation_intro<V>(o: &Outline<V>) -> Vec<Inline> {
    // A loss that reaches each parameter in one rule (`sum(dw * w)`)
    // defines no error term, and the sentence does not speak of one.
    if o.derivation.defined.is_empty() {
        return vec![text(
            "Back-propagation works from the loss towards the parameters; each step names the rule it uses.",
        )];
    }
    if let Some(view) = o.time {
        return vec![
            text("Back-propagation through time works from the loss at the last step back to the first. Each error term "),
            math(format!("\\delta^{{a}}_{{{}}}", view.index)),
            text(" is the gradient of the loss with respect to the pre-activation in the equation of "),
            math(format!("a_{{{}}}", view.index)),
            text(", for each sequence "),
            math("a"),
            text(" that has one; an error term outside the recurrence is numbered, "),
            math("\\delta_k"),
            text(". The shared weights add up their gradients over the steps; each step names the rule it uses."),
        ];
    }
    match o.model.batch {
        Some(batch) => {
            let lane = super::text::lane_name(batch.examples.other());
            vec![
                text("Back-propagation works from the loss towards the input, for the whole batch at once. Each error term "),
                math("\\Delta_k"),
                text(format!(
                    " is the gradient of the loss with respect to the quantity it is defined as (a layer's pre-activations, where the layer has them), one {lane} per example: for a loss that is the mean over the "
                )),
                math(format!("N = {}", batch.size)),
                text(format!(" examples, {lane} ")),
                math("n"),
                text(" is that example's own error term divided by "),
                math("N"),
                text(". A weight's gradient adds up the examples' contributions in one matrix product, and a bias added to every example sums its error term over them; each step names the rule it uses."),
            ]
        }
        None => vec![
            text("Back-propagation works from the loss towards the input. Each error term "),
            math("\\delta_k"),
            text(" is the gradient of the loss with respect to the quantity it is defined as (a layer's pre-activation, where the layer has one); each step names the rule it uses."),
        ],
    }
}

/// The layers' rules, each statement with its index form.
fn layer_rule_blocks(rules: &[Convention]) -> Vec<Block> {
    if rules.is_empty() {
        return Vec::new();
    }
    let mut out =
        vec![Block::Paragraph(vec![text("The layers' rules, as the textbook states them and entry by entry:")])];
    for c in rules {
        let mut statement = opening(*c);
        if let Some(legend) = c.legend() {
            statement.push(text(", "));
            statement.extend(sentence(legend));
        }
        statement.push(text(":"));
        out.push(Block::Paragraph(statement));
        if let Some(form) = c.latex_index_form() {
            let rows: Vec<_> =
                form.split(r" \\ ").filter_map(|f| f.split_once(" = ")).map(|(l, r)| row(l, r)).collect();
            out.push(Block::Display(rows));
        }
    }
    out
}

/// A layer rule's statement as a sentence that starts with a capital:
/// behind its lead-in when it begins with a formula, else with its first
/// word capitalized.
fn opening(c: Convention) -> Vec<Inline> {
    let mut statement = sentence(c.statement());
    if let Some(lead) = c.lead_in() {
        statement.insert(0, text(lead));
    } else if let Some(Inline::Text(first)) = statement.first_mut() {
        *first = capitalized(first);
    }
    statement
}

/// `s` with its first letter a capital.
fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Each sequence's error term in t, with its steps and where it holds.
fn recurrence_blocks<V: Valued>(o: &Outline<V>) -> Vec<Block> {
    let (Some(view), false) = (o.time, o.recurrence.is_empty()) else {
        return Vec::new();
    };
    let (d, g, names) = (o.derivation, &o.derivation.graph, &o.names);
    let mut out = vec![Block::Subsection(vec![text("The recurrence in "), math(&view.index)])];
    for gen in &o.recurrence {
        let at = names.at(&view.index, gen.step);
        let sym = d.symbol(gen.symbol);
        let label = formula(g, sym.node, &at, L);
        let mut rows = Vec::new();
        let of = at.gradient_of(sym.wrt, L, g);
        if of != label {
            rows.push(row(label.clone(), of));
        }
        rows.extend(step_rows(&sym.steps, o.derivation, &at));
        rows.push(row(label.clone(), formula(g, sym.formula, &at, L)));
        out.push(Block::Display(rows));
        let all = gen.holds.len() as u64 == view.last - view.first + 1;
        let mut p = if all {
            vec![text("This holds at every step "), math(&view.index)]
        } else {
            let holds = super::text::steps_text(view, &gen.holds, L);
            vec![text("This holds for "), math(format!("{} = {holds}", view.index))]
        };
        if gen.zero_after_last {
            let zeroed = super::text::zeroed_names(names, gen, o.derivation, L);
            p.push(text(", with "));
            p.push(math(format!("{} = 0", zeroed.join(" = "))));
        }
        p.push(text(if V::HAS_VALUES { "; the values follow from the last step down to the first." } else { "." }));
        out.push(Block::Paragraph(p));
    }
    out
}

/// One error term: its steps, formula and value, and its general form
/// (without Σy = 1) when it has one.
fn error_term_blocks<V: Valued>(o: &Outline<V>, term: &ErrorTerm<V>) -> Vec<Block> {
    let (g, names, round) = (&o.derivation.graph, &o.names, o.round);
    let sym = term.definition;
    let label = formula(g, sym.node, names, L);
    let mut out = vec![Block::Subsection(error_term_heading(o, sym, &label))];
    let mut rows = Vec::new();
    let of = names.gradient_of(sym.wrt, L, g);
    if of != label {
        rows.push(row(label.clone(), of));
    }
    // Each quantity on the way gets its value where its lines end.
    for (i, step) in step_rows(&sym.steps, o.derivation, names).into_iter().enumerate() {
        rows.push(step);
        if let Some(value) = term.path.iter().find(|(at, _)| *at == i).and_then(|(_, v)| v.tensor()) {
            let lhs = sym.steps[..=i].iter().rev().find_map(|s| s.lhs).map(|w| names.gradient_of(w, L, g));
            rows.extend(value_rows_after(&lhs.unwrap_or_default(), value, round));
        }
    }
    // A named gradient its last step already states is not stated again:
    // its value follows that step.
    if !sym.stated_by_steps() {
        rows.push(row(label.clone(), formula(g, sym.formula, names, L)));
    }
    if let Some(value) = term.value.tensor() {
        rows.extend(value_rows_after(&label, value, round));
    }
    out.push(Block::Display(rows));
    if let Some(general) = &term.general {
        let why = match general.target.map(|t| t.verified) {
            Some(Some(true)) => "which holds for the given target",
            _ => "assumed here, as for any one-hot or probability target",
        };
        let rule = match general.target {
            Some(t) => super::text::target_sum_formula(t, names, L),
            None => "\\textstyle\\sum y = 1".into(),
        };
        out.push(Block::Paragraph(vec![
            text("The last step uses "),
            math(rule),
            text(format!(", {why}; without it the error term is")),
        ]));
        let mut rows = vec![row(label.clone(), formula(g, general.formula, names, L))];
        // With the target open, its value in the target's entries.
        if let Some(value) = general.value {
            rows.extend(value_rows_after(&label, value, round));
        }
        out.push(Block::Display(rows));
    }
    out
}

/// A heading a student can read: `Error term of layer 2, Δ2`, or `Gradient
/// with respect to σ` for a named gradient.
fn error_term_heading<V: Valued>(o: &Outline<V>, sym: &crate::derive::Symbol, label: &str) -> Vec<Inline> {
    match (sym.kind, sym.wrt) {
        // Outside a model in time the number of δk is its layer's.
        (SymbolKind::Delta { layer }, _) if o.time.is_none() => {
            vec![text(format!("Error term of layer {layer}, ")), math(label)]
        }
        (SymbolKind::Delta { .. }, _) => vec![text("Error term "), math(label)],
        (SymbolKind::Adjoint, Wrt::Tensor(t)) => vec![text("Gradient with respect to "), math(o.names.tensor(t, L))],
        (SymbolKind::Adjoint, Wrt::Node(_)) => vec![text("Gradient "), math(label)],
    }
}

/// Each parameter's gradient under its own heading, formula then value; a
/// sum over time term by term.
fn parameter_gradient_blocks<V: Valued>(o: &Outline<V>) -> Vec<Block> {
    let (g, names, round) = (&o.derivation.graph, &o.names, o.round);
    let mut out = Vec::new();
    for (i, grad) in o.gradients.iter().enumerate() {
        let (mut rows, mut note) = (Vec::new(), None);
        out.push(Block::Subsection(vec![text("Gradient of "), math(names.tensor(grad.param, L))]));
        let lhs = names.gradient_of(Wrt::Tensor(grad.param), L, g);
        // A derivation writes a sum over time in t, as `derive` does.
        let in_t = o.time.filter(|_| !V::HAS_VALUES).and_then(|view| Some((view, view.gradients.get(i)?.as_ref()?)));
        if let Some((view, sum)) = in_t {
            rows.push(row(lhs, super::text::time_sum_text(g, sum, names, view, L)));
            out.push(Block::Display(rows));
            continue;
        }
        match &grad.over_time {
            Some(TermByTerm { view, sum, terms }) => {
                rows.push(row(lhs.clone(), super::text::time_sum_text(g, sum, names, view, L)));
                let written: Vec<String> = sum.terms.iter().map(|&t| formula(g, t, names, L)).collect();
                rows.push(row("", written.join(" + ")));
                if terms.len() <= TERMS_SHOWN && terms.iter().all(|t| t.dims().len() <= 2) {
                    let values: Vec<String> = terms.iter().map(|t| matrix(t, round)).collect();
                    rows.push(row("", values.join(" + ")));
                    note = grad.value.tensor().and_then(|total| super::text::rounded_terms_note(terms, total, round));
                }
            }
            None => rows.push(row(lhs.clone(), formula(g, grad.formula, names, L))),
        }
        if let Some(value) = grad.value.tensor() {
            rows.extend(value_rows_after(&lhs, value, round));
        }
        out.push(Block::Display(rows));
        if let Some(note) = note {
            out.push(Block::Paragraph(vec![text(capitalized(&note) + ".")]));
        }
    }
    out
}

/// The legend of the simplifications that the error terms' steps and the
/// functions' derivatives name.
fn simplification_blocks(named: Simplifications) -> Vec<Block> {
    let all = named.in_error_terms_and_functions();
    if all.is_empty() {
        return Vec::new();
    }
    vec![
        Block::Paragraph(vec![text(if named.in_functions.is_empty() {
            "Besides the derivative rules, the steps name the simplifications they make:"
        } else {
            "Besides the derivative rules, the steps and the functions' derivatives name the simplifications they make:"
        })]),
        Block::List(
            all.iter()
                .map(|s| [vec![text(format!("{}: ", s.name()))], sentence(s.entry().statement)].concat())
                .collect(),
        ),
    ]
}

/// 5. The conventions and assumptions, then what the evaluation met.
fn note_blocks<V>(o: &Outline<V>) -> Vec<Block> {
    let notes = note_items(o);
    if notes.is_empty() {
        return Vec::new();
    }
    vec![Block::Section("Conventions".into()), Block::List(notes)]
}

/// The conventions and assumptions, then what the evaluation met, each as
/// running text.
pub(super) fn note_items<V>(o: &Outline<V>) -> Vec<Vec<Inline>> {
    let mut notes: Vec<Vec<Inline>> = Vec::new();
    for n in &o.notes {
        let note = match n {
            NoteItem::Convention(c) => sentence(c.statement()),
            NoteItem::Averaging { loss, target, prediction, entries } => {
                pieces(super::text::averaging_sentence(*loss, *target, *prediction, *entries, &o.names, L))
            }
            NoteItem::TargetSum { sum, step } => pieces(match (o.time, step) {
                (Some(view), Some(k)) => super::text::target_sum_sentence(sum, &o.names.at(&view.index, *k), L, true),
                _ => super::text::target_sum_sentence(sum, &o.names, L, false),
            }),
            NoteItem::Evaluation(e) => pieces(super::text::note_pieces(e, &o.names, L)),
        };
        notes.push(note);
    }
    notes
}

/// The update: the optimizer's rule, the loss by step (a plot and a
/// table), and each step's values or the parameters after the last.
fn update_blocks(model: &Model, names: &Names, train: &Training, round: Option<u32>) -> Vec<Block> {
    let mut out = vec![Block::Section("Update".into())];
    let loss = names.tensor(model.loss, L);
    let any = super::formula::any_parameter(model, L);
    let lr = constant(&train.lr, L);
    let final_values = |out: &mut Vec<Block>, label: &dyn Fn(&str) -> String| {
        let mut rows = Vec::new();
        for (id, v) in &train.updated {
            let name = names.tensor(*id, L);
            rows.extend(value_rows(&label(&name), v, round));
        }
        out.push(Block::Display(rows));
    };
    if training::one_sgd_step(train) {
        // One step of SGD is the gradient already shown: the update in one line.
        out.push(Block::Paragraph(vec![
            text("Gradient descent with learning rate "),
            math(format!("\\alpha = {lr}")),
            text(" replaces every parameter "),
            math(any),
            text(" by "),
            math(format!("{any} - \\alpha \\frac{{\\partial {loss}}}{{\\partial {any}}}")),
            text("."),
        ]));
        let mut rows = Vec::new();
        for (id, v) in &train.updated {
            let name = names.tensor(*id, L);
            let new = format!("{name}^{{\\text{{new}}}}");
            rows.push(row(new.clone(), format!("{name} - {lr} \\frac{{\\partial {loss}}}{{\\partial {name}}}")));
            rows.extend(value_rows_after(&new, v, round));
        }
        out.push(Block::Display(rows));
        out.push(Block::Paragraph(vec![text("The loss before and after the update:")]));
        let rows = train
            .losses
            .iter()
            .enumerate()
            .map(|(k, l)| row(format!("{loss}^{{({k})}}"), super::values::scalar(l, round, Notation::Latex)))
            .collect();
        out.push(Block::Display(rows));
        return out;
    }

    let mut p = vec![text(format!("{}: ", training::title(&train.optimizer)))];
    p.push(math(training::settings(train, L).join(",\\ ")));
    p.push(text(match train.steps {
        1 => "; one step.".to_string(),
        n => format!("; {n} steps, each after a forward and backward pass."),
    }));
    p.push(text(" For every parameter "));
    p.push(math(any));
    if let Some(given) = &model.train {
        let name = |t| names.tensor(t, L);
        if let Some(init) = training::initial_state(given, &name, L) {
            p.push(text(", starting from "));
            p.push(math(init));
        }
    }
    p.push(text(", step "));
    p.push(math("k = 1, 2, \\dots"));
    p.push(text(" computes:"));
    out.push(Block::Paragraph(p));
    let rows = training::rule_after(&train.optimizer, training::taken(model), any, &loss, L)
        .into_iter()
        .map(|l| Row { lhs: l.lhs, rhs: l.rhs, note: Some(vec![text(l.meaning)]) })
        .collect();
    out.push(Block::Display(rows));
    let mut remarks = Vec::new();
    if matches!(train.optimizer, Optimizer::RmsProp { .. } | Optimizer::Adam { .. }) {
        remarks.push(text("Products, quotients and square roots of tensors are taken entry by entry."));
    }
    if let Some(note) = training::variant_note(&train.optimizer, L) {
        if !remarks.is_empty() {
            remarks.push(text(" "));
        }
        remarks.extend(pieces(note));
    }
    if !remarks.is_empty() {
        out.push(Block::Paragraph(remarks));
    }

    out.push(Block::Subsection(vec![text("Loss by step")]));
    let values = training::loss_values(train);
    if training::plotted(train) {
        let picks = crate::eval::sampled_entries(values.len(), Some(PLOT_POINTS));
        out.push(Block::Plot(Plot {
            points: picks.iter().map(|&k| (k as u32, values[k])).collect(),
            x_label: "k".into(),
            y_label: training::loss_at(&loss, training::At::K, L),
            y_text: format!("loss {}", names.tensor(model.loss, Notation::Text)),
            description: format!(
                "The loss {} by training step k, from {} at k = 0 to {} at k = {}",
                model.tensor(model.loss).name,
                super::values::scalar(&train.losses[0], Some(4), Notation::Latex),
                super::values::scalar(&train.losses[train.losses.len() - 1], Some(4), Notation::Latex),
                train.steps
            ),
        }));
    }
    let rows = training::shown_losses(train.losses.len())
        .into_iter()
        .map(|k| k.map(|k| vec![k.to_string(), super::values::scalar(&train.losses[k], round, Notation::Latex)]))
        .collect();
    out.push(Block::Table { header: vec!["k".into(), training::loss_at(&loss, training::At::K, L)], rows });

    if !training::step_by_step(train) {
        out.push(Block::Paragraph(vec![text(match train.steps {
            1 => "The parameters after the step:".to_string(),
            n => format!("The parameters after {n} steps:"),
        })]));
        let n = train.steps;
        final_values(&mut out, &|name| training::param_at(name, training::At::Step(n), L));
        return out;
    }
    let shown = training::shown_steps(train.steps);
    for (i, k) in shown.iter().enumerate() {
        let Some(k) = *k else {
            let from = i.checked_sub(1).and_then(|j| shown[j]).unwrap_or(0) + 1;
            let to = shown.get(i + 1).copied().flatten().unwrap_or(train.steps + 1) - 1;
            out.push(Block::Paragraph(vec![text(format!(
                "Steps {from} to {to} are left out here; the JSON output (--format json) lists every step."
            ))]));
            continue;
        };
        let Some(step) = train.history.get(k as usize - 1) else { continue };
        out.push(Block::Subsection(vec![text(format!("Step {k}"))]));
        let at = training::At::Step(k);
        let mut rows = vec![row(
            training::loss_at(&loss, training::At::Step(k - 1), L),
            super::values::scalar(&train.losses[k as usize - 1], round, Notation::Latex),
        )];
        for ps in &step.params {
            let name = names.tensor(ps.param, L);
            let sub = |symbol: String| format!("{symbol}_{{{name}}}");
            rows.extend(value_rows(&sub(training::quantity_symbol(None, at, L)), &ps.gradient, round));
            for (q, v) in train.optimizer.quantities().iter().zip(&ps.quantities) {
                rows.extend(value_rows(&sub(training::quantity_symbol(Some(*q), at, L)), v, round));
            }
            rows.extend(value_rows(&training::param_at(&name, at, L), &ps.value, round));
        }
        rows.push(row(
            training::loss_at(&loss, at, L),
            super::values::scalar(&train.losses[k as usize], round, Notation::Latex),
        ));
        out.push(Block::Display(rows));
    }
    out
}

/// A fixed sentence as running text with its formulas as inline math.
fn sentence(s: Sentence) -> Vec<Inline> {
    pieces(super::text::sentence_pieces(s, L))
}

/// A sentence of words and formulas as running text with inline math.
fn pieces(sentence: Vec<training::Piece>) -> Vec<Inline> {
    sentence
        .into_iter()
        .map(|piece| match piece {
            training::Piece::Words(w) => text(w),
            training::Piece::Formula(f) => math(f),
        })
        .collect()
}

/// Running text with its inline math, for LaTeX and Markdown alike.
pub fn inline(parts: &[Inline]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Inline::Text(t) => prose(t),
            Inline::Math(m) => format!("${m}$"),
        })
        .collect()
}

/// Prose for LaTeX and Markdown alike: special characters escaped, and as a
/// safety net any mathematical symbol of the text notation turned into
/// inline math, which both LaTeX and KaTeX/MathJax accept (also inside
/// `\text{...}`). The writers' own sentences no longer rely on it: their
/// formulas come as data in both notations (conventions, simplifications,
/// step notes, evaluation notes); what is left is words, and whatever a
/// message quotes.
pub fn prose(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // A letter followed by a combining circumflex is a hat: ŷ; a tilde: X̃.
        if chars.get(i + 1) == Some(&'\u{302}') {
            out.push_str(&format!("$\\hat{{{c}}}$"));
            i += 2;
            continue;
        }
        if c == 'Σ' && chars.get(i + 1) == Some(&'ᵢ') && chars.get(i + 2) == Some(&'ⱼ') {
            out.push_str("$\\Sigma_{ij}$");
            i += 3;
            continue;
        }
        // A step subscript of the text notation, `h_{t+1}`: math.
        if c == '_' && chars.get(i + 1) == Some(&'{') {
            if let Some(close) = chars[i + 2..].iter().position(|&ch| ch == '}') {
                let inner: String =
                    chars[i + 2..i + 2 + close].iter().map(|&ch| if ch == '−' { '-' } else { ch }).collect();
                if inner.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '+' || ch == '-') {
                    out.push_str(&format!("${{}}_{{{inner}}}$"));
                    i += close + 3;
                    continue;
                }
            }
        }
        if chars.get(i + 1) == Some(&'\u{303}') {
            out.push_str(&format!("$\\tilde{{{c}}}$"));
            i += 2;
            continue;
        }
        let piece: String = match c {
            '⊙' => "$\\odot$".into(),
            '⊘' => "$\\oslash$".into(),
            'Σ' => "$\\Sigma$".into(),
            'δ' => "$\\delta$".into(),
            'σ' => "$\\sigma$".into(),
            '∂' => "$\\partial$".into(),
            '→' => "$\\to$".into(),
            '←' => "$\\leftarrow$".into(),
            'α' => "$\\alpha$".into(),
            'ᵀ' => "$^\\top$".into(),
            '²' => "$^2$".into(),
            '¹' => "$^1$".into(),
            '⁰' => "$^0$".into(),
            '±' => "$\\pm$".into(),
            '∘' => "$\\circ$".into(),
            '⋆' => "$\\star$".into(),
            '∗' => "$\\ast$".into(),
            '·' => "$\\cdot$".into(),
            '×' => "$\\times$".into(),
            'ᵢ' => "${}_i$".into(),
            'ⱼ' => "${}_j$".into(),
            '₀'..='₉' => format!("${{}}_{}$", c as u32 - 0x2080),
            '′' => "'".into(),
            '−' => "-".into(),
            '#' | '%' | '&' | '_' | '{' | '}' | '$' => format!("\\{c}"),
            '~' => "\\textasciitilde{}".into(),
            '^' => "\\textasciicircum{}".into(),
            '\\' => "\\textbackslash{}".into(),
            _ => c.to_string(),
        };
        out.push_str(&piece);
        i += 1;
    }
    out
}

fn step_rows(steps: &[Step], derivation: &Derivation, names: &Names) -> Vec<Row> {
    let g = &derivation.graph;
    steps
        .iter()
        .map(|s| {
            let lhs = s.lhs.map(|w| names.gradient_of(w, L, g)).unwrap_or_default();
            let from = s.from.iter().map(|&t| names.tensor(t, L)).collect();
            let note = pieces(super::text::rule_note(&s.rules, from, s.simplified, L));
            Row { lhs, rhs: formula(g, s.expr, names, L), note: Some(note) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(cells: &[&str]) -> Vec<Vec<String>> {
        cells.iter().map(|c| vec![c.to_string()]).collect()
    }

    /// Each cell padded so that its sign, whole part, point and decimals take
    /// the same room in every row: the point lines up once `pmatrix` centres them.
    #[test]
    fn columns_align_on_the_decimal_point() {
        let padded = aligned_on_the_point(&column(&["1", "-1", "0.5", "-12.25"]));
        let padded: Vec<&str> = padded.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            padded,
            [r"\phantom{-0}1\phantom{.00}", r"\phantom{0}{-1}\phantom{.00}", r"\phantom{-0}0.5\phantom{0}", r"-12.25"]
        );
        // What the padding stands for: every cell the same shape, digit for digit.
        for cell in &padded {
            let shown = cell.replace(r"\phantom{", "").replace(['{', '}'], "");
            let shape: String = shown.chars().map(|c| if c.is_ascii_digit() { '0' } else { c }).collect();
            assert_eq!(shape.len(), "-00.00".len(), "{cell}");
            assert_eq!(shape.find('.'), Some(3), "{cell}");
        }
        // Fractions line up on the bar; a column without signs or points gets no padding.
        let fractions = aligned_on_the_point(&column(&["1/3", "-2/15"]));
        assert_eq!(fractions[0][0], r"\phantom{-}1/3\phantom{0}");
        assert_eq!(fractions[1][0], "-2/15");
        assert_eq!(aligned_on_the_point(&column(&["1", "0"])), column(&["1", "0"]));
    }

    /// A matrix's width counts padding as the digits it stands for, not as markup.
    #[test]
    fn padding_counts_as_what_it_stands_for() {
        assert_eq!(matrix_width(r"\begin{pmatrix} \phantom{-}0.5 \\ -0.25 \end{pmatrix}"), 5);
    }
}
