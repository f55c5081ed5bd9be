//! `nnderive key`: the worked solution as an answer key or a handout,
//! numbered as a problem set numbers its parts: 1. the forward pass, 2. the
//! loss, 3. the error terms (after the derivatives of the custom
//! functions), 4. the gradients, 5. the update, each part's quantities
//! lettered (a), (b)… A handout hides the values (a blank per entry, in the
//! value's shape) or the derived formulas (the values kept); the network
//! itself (the given values, the functions, the forward equations and the
//! loss) is the problem and always shows.
//!
//! The key is a selection and numbering of the solution's one [`Outline`];
//! the text, JSON, LaTeX and Markdown writers below and in `latex.rs` and
//! `markdown.rs` only lay it out.

use std::fmt::Write;

use serde_json::{json, Map, Value};

use crate::derive::Wrt;
use crate::eval::tensor::Tensor;
use crate::eval::Solution;
use crate::model::{Func, Model};

use super::document::{self, Block, Inline, Row};
use super::formula::{definition, display_width, formula, Names, Notation};
use super::outline::{outline, WorkedSolution};
use super::text::substitute_params;
use super::training;

/// What a key leaves for the student to fill in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hide {
    /// Nothing: the answer key.
    Nothing,
    /// Every computed value: a blank per entry, in the value's shape.
    Values,
    /// Every derived formula (the functions' derivatives, the error
    /// terms, the gradients and the update); the values stay.
    Formulas,
}

impl Hide {
    /// The document's title when none is given.
    pub fn default_title(self) -> &'static str {
        match self {
            Hide::Nothing => "Answer key",
            Hide::Values => "Exercise: compute the values",
            Hide::Formulas => "Exercise: derive the formulas",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Hide::Nothing => "none",
            Hide::Values => "values",
            Hide::Formulas => "formulas",
        }
    }
}

/// The key: the solution's outline, what is hidden, and its numbered parts.
pub struct Key<'s> {
    pub o: WorkedSolution<'s>,
    pub hide: Hide,
    pub parts: Vec<Part>,
}

/// A numbered part of the key and its lettered items.
pub struct Part {
    pub number: usize,
    pub title: &'static str,
    pub items: Vec<Item>,
}

/// One quantity to give: its label within its part (`a`, `b`…; none when
/// the part has only this one) and which quantity of the outline it is.
pub struct Item {
    pub letter: Option<String>,
    pub what: What,
}

/// A quantity of the outline, by its place there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// A forward equation or the loss: `o.forward[i]`.
    Equation(usize),
    /// A custom function's derivative: `o.functions[i]`.
    Derivative(usize),
    /// `o.error_terms[i]`.
    ErrorTerm(usize),
    /// `o.gradients[i]`.
    Gradient(usize),
    /// A parameter after the training: `update.updated[i]`.
    Update(usize),
}

/// The letters of a part's items: a…z, then aa, ab…
fn letter(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Builds the key of a solution.
pub fn build<'s>(model: &'s Model, solution: &'s Solution, round: Option<u32>, hide: Hide) -> Key<'s> {
    let o = outline(model, solution, round);
    let (forward, loss): (Vec<usize>, Vec<usize>) =
        (0..o.forward.len()).partition(|&i| o.forward[i].tensor != model.loss);
    let derivatives = (0..o.functions.len()).filter(|&i| o.functions[i].derivative.is_some()).map(What::Derivative);
    let sections: [(&'static str, Vec<What>); 5] = [
        ("Forward pass", forward.into_iter().map(What::Equation).collect()),
        ("Loss", loss.into_iter().map(What::Equation).collect()),
        ("Error terms", derivatives.chain((0..o.error_terms.len()).map(What::ErrorTerm)).collect()),
        ("Gradients", (0..o.gradients.len()).map(What::Gradient).collect()),
        ("Update", (0..o.update.map_or(0, |t| t.updated.len())).map(What::Update).collect()),
    ];
    let mut parts = Vec::new();
    for (title, whats) in sections {
        if whats.is_empty() {
            continue;
        }
        let single = whats.len() == 1;
        let items = whats
            .into_iter()
            .enumerate()
            .map(|(i, what)| Item { letter: (!single).then(|| letter(i)), what })
            .collect();
        parts.push(Part { number: parts.len() + 1, title, items });
    }
    Key { o, hide, parts }
}

impl<'s> Key<'s> {
    fn names(&self) -> &Names<'s> {
        &self.o.names
    }

    /// The item's label as a problem set writes it: `1(a)`, or `2` alone.
    pub fn label(&self, part: &Part, item: &Item) -> String {
        match &item.letter {
            Some(l) => format!("{}({l})", part.number),
            None => part.number.to_string(),
        }
    }

    /// The quantity's name, as an answers file names it: `Z1`, `L`,
    /// `f_prime`, `delta1`, `dW1`, `W1_new`.
    pub fn name(&self, what: What) -> String {
        let (model, g) = (self.o.model, &self.o.derivation.graph);
        match what {
            What::Equation(i) => model.tensor(self.o.forward[i].tensor).name.clone(),
            What::Derivative(i) => self.function_name(i, Notation::Nn),
            What::ErrorTerm(i) => formula(g, self.o.error_terms[i].definition.node, self.names(), Notation::Nn),
            What::Gradient(i) => format!("d{}", model.tensor(self.o.gradients[i].param).name),
            What::Update(i) => format!("{}_new", model.tensor(self.updated(i).0).name),
        }
    }

    fn updated(&self, i: usize) -> &'s (crate::model::TensorId, Tensor) {
        let train = self.o.update.expect("an update item comes from a training step");
        &train.updated[i]
    }

    fn function_name(&self, i: usize, n: Notation) -> String {
        let row = &self.o.functions[i];
        let func = match row.derivative {
            Some(wrt) => Func::Derivative { func: row.func, wrt },
            None => Func::Custom(row.func),
        };
        self.names().function(func, n)
    }

    /// The left-hand side in `n`: `Z1`, `f′(t)`, `δ2`, `∂L/∂W1`, `W1 (new)`.
    pub fn lhs(&self, what: What, n: Notation) -> String {
        let (model, g, names) = (self.o.model, &self.o.derivation.graph, self.names());
        match what {
            What::Equation(i) => names.tensor(self.o.forward[i].tensor, n),
            What::Derivative(i) => {
                let f = model.function(self.o.functions[i].func);
                let params: Vec<String> = f.params.iter().map(|p| super::formula::tensor_name(p, n)).collect();
                format!("{}({})", self.function_name(i, n), params.join(", "))
            }
            What::ErrorTerm(i) => formula(g, self.o.error_terms[i].definition.node, names, n),
            What::Gradient(i) => names.gradient_of(Wrt::Tensor(self.o.gradients[i].param), n, g),
            What::Update(i) => {
                let (param, _) = self.updated(i);
                let name = names.tensor(*param, n);
                match (self.one_sgd_step(), n) {
                    (true, Notation::Latex) => format!("{name}^{{\\text{{new}}}}"),
                    (true, Notation::Text) => format!("{name} (new)"),
                    (true, Notation::Nn) => format!("{}_new", model.tensor(*param).name),
                    (false, _) => {
                        let steps = self.o.update.map_or(1, |t| t.steps);
                        training::param_at(&name, training::At::Step(steps), n)
                    }
                }
            }
        }
    }

    fn one_sgd_step(&self) -> bool {
        self.o.update.is_some_and(training::one_sgd_step)
    }

    /// The formula in `n`, or `None` where the item has none (a parameter
    /// after several steps, whose rule the part's introduction gives).
    pub fn formula(&self, what: What, n: Notation) -> Option<String> {
        let (model, g, names) = (self.o.model, &self.o.derivation.graph, self.names());
        Some(match what {
            What::Equation(i) => definition(g, self.o.forward[i].definition, names, n),
            What::Derivative(i) => {
                let row = &self.o.functions[i];
                substitute_params(&formula(g, row.body, names, n), &model.function(row.func).params)
            }
            What::ErrorTerm(i) => formula(g, self.o.error_terms[i].definition.formula, names, n),
            What::Gradient(i) => {
                let grad = &self.o.gradients[i];
                match (&grad.over_time, self.o.time) {
                    (Some(t), _) => super::text::time_sum_text(g, t.sum, names, t.view, n),
                    (None, Some(view)) => match view.gradients.get(i).and_then(Option::as_ref) {
                        Some(sum) => super::text::time_sum_text(g, sum, names, view, n),
                        None => formula(g, grad.formula, names, n),
                    },
                    (None, None) => formula(g, grad.formula, names, n),
                }
            }
            What::Update(i) => {
                if !self.one_sgd_step() {
                    return None;
                }
                let train = self.o.update?;
                let (param, _) = self.updated(i);
                let name = names.tensor(*param, n);
                let lr = super::formula::constant(&train.lr, n);
                let gradient = names.gradient_of(Wrt::Tensor(*param), n, g);
                match n {
                    Notation::Text => format!("{name} − {lr} {gradient}"),
                    Notation::Nn => format!("{name} - {lr} * {gradient}"),
                    Notation::Latex => format!("{name} - {lr} {gradient}"),
                }
            }
        })
    }

    /// Whether the item's formula is left blank.
    pub fn hides_formula(&self, what: What) -> bool {
        self.hide == Hide::Formulas && !matches!(what, What::Equation(_))
    }

    /// Whether values are left blank.
    pub fn hides_values(&self) -> bool {
        self.hide == Hide::Values
    }

    /// The item's value (a function's derivative has none).
    pub fn value(&self, what: What) -> Option<&'s Tensor> {
        match what {
            What::Equation(i) => Some(self.o.forward[i].value),
            What::Derivative(_) => None,
            What::ErrorTerm(i) => Some(self.o.error_terms[i].value),
            What::Gradient(i) => Some(self.o.gradients[i].value),
            What::Update(i) => Some(&self.updated(i).1),
        }
    }

    /// What a part says before its items: the training step's optimizer,
    /// settings and steps for the update.
    fn introduction(&self, part: &Part, n: Notation) -> Option<Vec<training::Piece>> {
        use training::Piece::{Formula, Words};
        let train = self.o.update.filter(|_| part.items.iter().any(|i| matches!(i.what, What::Update(_))))?;
        let settings = training::settings(train, n).join(if n == Notation::Latex { ",\\ " } else { ", " });
        let mut pieces = match training::one_sgd_step(train) {
            true => vec![Words("One step of gradient descent, with "), Formula(settings)],
            false => vec![Words(training::title(&train.optimizer)), Words(", with "), Formula(settings)],
        };
        match train.steps {
            1 => pieces.push(Words(".")),
            n => pieces.extend([Words("; the parameters after step "), Formula(n.to_string()), Words(":")]),
        }
        Some(pieces)
    }
}

/// A blank formula: a line to write on.
const BLANK_FORMULA_TEXT: &str = "____________________";
const BLANK_FORMULA_LATEX: &str = "\\underline{\\hspace{10em}}";

/// The key as terminal text.
pub fn text(key: &Key, title: &str) -> String {
    const N: Notation = Notation::Text;
    let o = &key.o;
    let mut out = format!("{title}\n{}\n\nGiven\n", "=".repeat(display_width(title)));
    for g in &o.given {
        super::values::labelled_into(&mut out, &o.names.tensor(g.tensor, N), g.value, None, "  ");
    }
    for (i, row) in o.functions.iter().enumerate() {
        if row.derivative.is_none() {
            let f = o.model.function(row.func);
            let body = substitute_params(&formula(&o.derivation.graph, row.body, &o.names, N), &f.params);
            let _ = writeln!(out, "  {}({}) = {body}", key.function_name(i, N), f.params.join(", "));
        }
    }
    let cell = "_".repeat(document::blank_digits(o.round).len() + 1);
    for part in &key.parts {
        let _ = writeln!(out, "\n{}. {}", part.number, part.title);
        if let Some(intro) = key.introduction(part, N) {
            let _ = writeln!(out, "  {}", training::sentence(&intro));
        }
        for item in &part.items {
            let label = item.letter.as_ref().map(|l| format!("({l}) ")).unwrap_or_default();
            let indent = format!("  {}", " ".repeat(display_width(&label)));
            let lhs = key.lhs(item.what, N);
            let formula = match key.formula(item.what, N) {
                Some(_) if key.hides_formula(item.what) => Some(BLANK_FORMULA_TEXT.to_string()),
                f => f,
            };
            let value = key.value(item.what);
            // Continuation lines line up under the `=` of the first.
            let under = " ".repeat(display_width(&lhs));
            match (formula, value) {
                (Some(f), value) => {
                    let _ = writeln!(out, "  {label}{lhs} = {f}");
                    if let Some(v) = value {
                        let lhs = if v.dims().len() >= 3 { lhs.as_str() } else { under.as_str() };
                        write_value(&mut out, key, lhs, v, &cell, &indent);
                    }
                }
                (None, Some(v)) => {
                    out.push_str("  ");
                    out.push_str(&label);
                    // The first line carries the label; the rest are indented by it.
                    let mut first = String::new();
                    write_value(&mut first, key, &lhs, v, &cell, &indent);
                    out.push_str(first.strip_prefix(indent.as_str()).unwrap_or(&first));
                }
                (None, None) => {
                    let _ = writeln!(out, "  {label}{lhs}");
                }
            }
        }
    }
    super::text::write_notes(&mut out, "Conventions", &o.notes, &o.names, o.time);
    out
}

/// `lhs = value`, or `lhs = blanks` of the value's shape.
fn write_value(out: &mut String, key: &Key, lhs: &str, v: &Tensor, cell: &str, indent: &str) {
    if key.hides_values() {
        super::values::blank_labelled_into(out, lhs, v.dims(), cell, indent);
    } else {
        super::values::labelled_into(out, lhs, v, key.o.round, indent);
    }
}

/// The key as the blocks of a document (LaTeX or Markdown): the given
/// network unnumbered, each part a numbered section whose items are one
/// display, lettered on the left, then the conventions.
pub fn blocks(key: &Key) -> Vec<Block> {
    const L: Notation = Notation::Latex;
    let o = &key.o;
    let g = &o.derivation.graph;
    let mut out = vec![Block::Subsection(vec![Inline::Text("Given".into())])];
    let mut given: Vec<Row> =
        o.given.iter().flat_map(|i| document::value_rows(&o.names.tensor(i.tensor, L), i.value, None)).collect();
    for (i, row) in o.functions.iter().enumerate() {
        if row.derivative.is_none() {
            let f = o.model.function(row.func);
            let params: Vec<String> = f.params.iter().map(|p| super::formula::tensor_name(p, L)).collect();
            given.push(document::row(
                format!("{}({})", key.function_name(i, L), params.join(", ")),
                substitute_params(&formula(g, row.body, &o.names, L), &f.params),
            ));
        }
    }
    out.push(Block::Display(given));
    for part in &key.parts {
        out.push(Block::Section(part.title.into()));
        if let Some(intro) = key.introduction(part, L) {
            out.push(Block::Paragraph(
                intro
                    .into_iter()
                    .map(|p| match p {
                        training::Piece::Words(w) => document::text(w),
                        training::Piece::Formula(f) => document::math(f),
                    })
                    .collect(),
            ));
        }
        let mut rows = Vec::new();
        for item in &part.items {
            let lhs = key.lhs(item.what, L);
            let labelled = match &item.letter {
                Some(l) => format!("\\text{{({l})}}\\quad {lhs}"),
                None => lhs.clone(),
            };
            let formula = match key.formula(item.what, L) {
                Some(_) if key.hides_formula(item.what) => Some(BLANK_FORMULA_LATEX.to_string()),
                f => f,
            };
            let value = key.value(item.what);
            let value_rows = |v: &Tensor| match key.hides_values() {
                true => document::blank_rows_after(&lhs, v.dims(), o.round),
                false => document::value_rows_after(&lhs, v, o.round),
            };
            match (formula, value) {
                (Some(f), value) => {
                    rows.push(document::row(labelled, f));
                    rows.extend(value.map(value_rows).unwrap_or_default());
                }
                (None, Some(v)) => {
                    let mut value = value_rows(v);
                    // The first row carries the label (a rank-3 value's rows name their channels).
                    if let Some(first) = value.first_mut() {
                        first.lhs = if first.lhs.is_empty() {
                            labelled
                        } else {
                            format!("{labelled}{}", &first.lhs[lhs.len()..])
                        };
                    }
                    rows.extend(value);
                }
                (None, None) => rows.push(document::row(labelled, String::new())),
            }
        }
        out.push(Block::Display(rows));
    }
    let notes = document::note_items(o);
    if !notes.is_empty() {
        out.push(Block::Subsection(vec![Inline::Text("Conventions".into())]));
        out.push(Block::List(notes));
    }
    out
}

/// The key as JSON: the title, what is hidden, the given values, and each
/// part with its items; an item has its label, its name as an answers file
/// names it, its formula in every notation (unless hidden), its shape and
/// its value (unless hidden).
pub fn json(key: &Key, title: &str) -> String {
    let o = &key.o;
    let mut root = Map::new();
    root.insert("title".into(), json!(title));
    root.insert("hide".into(), json!(key.hide.name()));
    root.insert("round".into(), json!(o.round));
    root.insert("given".into(), super::json::given_json(o));
    let parts: Vec<Value> = key
        .parts
        .iter()
        .map(|part| {
            let items: Vec<Value> = part
                .items
                .iter()
                .map(|item| {
                    let mut obj = Map::new();
                    obj.insert("label".into(), json!(key.label(part, item)));
                    obj.insert("name".into(), json!(key.name(item.what)));
                    obj.insert("text".into(), json!(key.lhs(item.what, Notation::Text)));
                    obj.insert("latex".into(), json!(key.lhs(item.what, Notation::Latex)));
                    if !key.hides_formula(item.what) {
                        for (field, n) in [
                            ("formula", Notation::Text),
                            ("formula_nn", Notation::Nn),
                            ("formula_latex", Notation::Latex),
                        ] {
                            if let Some(f) = key.formula(item.what, n) {
                                obj.insert(field.into(), json!(f));
                            }
                        }
                    }
                    if let Some(v) = key.value(item.what) {
                        obj.insert("shape".into(), json!(v.dims()));
                        if !key.hides_values() {
                            obj.insert("value".into(), super::json::value(v, o.round));
                            if let Some(exact) = super::json::exact(v) {
                                obj.insert("exact".into(), exact);
                            }
                        }
                    }
                    Value::Object(obj)
                })
                .collect();
            let mut obj = Map::new();
            obj.insert("number".into(), json!(part.number));
            obj.insert("title".into(), json!(part.title));
            if let Some(intro) = key.introduction(part, Notation::Text) {
                obj.insert("introduction".into(), json!(training::sentence(&intro)));
            }
            obj.insert("items".into(), Value::Array(items));
            Value::Object(obj)
        })
        .collect();
    root.insert("parts".into(), Value::Array(parts));
    let mut notes: Vec<String> = Vec::new();
    for n in &o.notes {
        let line = super::text::note_sentence(n, &o.names, o.time);
        if !notes.contains(&line) {
            notes.push(line);
        }
    }
    root.insert("notes".into(), json!(notes));
    let mut out = String::new();
    super::json::pretty(&Value::Object(root), 0, &mut out);
    out.push('\n');
    out
}
