//! The derivation written as a `.nn` file that `nnderive check` accepts:
//! the network's declarations (shapes only; a derivation needs no numbers),
//! its functions and forward pass, then each derived quantity as an
//! equation (`delta1 = W2.T @ delta2 * f_prime(Z1)`) and each custom
//! function's derivative as a `fn`. Giving the declared tensors values
//! makes every error term and gradient a value that `solve` computes.
//!
//! A derivation that the `.nn` language cannot spell (a layer's adjoint,
//! such as `maxpool_back`, has no function in the language) or whose
//! derived names the file already uses is refused as [`Unwritable`], never
//! written as a file that does not check.

use std::collections::HashSet;
use std::fmt::Write;

use crate::derive::{Derivation, Wrt};
use crate::model::ops::map::{self, AnyMapNode};
use crate::model::time::split_step;
use crate::model::{Func, Model, Node, NodeId, Role};

use super::formula::{definition, formula, Notation};
use super::outline::{derivation_outline, Outline};
use super::text::substitute_params;

const N: Notation = Notation::Nn;

/// Why a derivation cannot be written as a `.nn` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unwritable {
    /// A derived formula uses an operation that exists only inside
    /// derivations: `operation` as it would print, what it stands for, and
    /// the quantity whose formula uses it.
    /// Input: a max-pool layer, whose error term routes through `maxpool_back`.
    Operation { operation: &'static str, meaning: &'static str, quantity: String },
    /// A name the derivation gives (`delta1`, `dL_dW1`, `f_prime`) is
    /// already a tensor's or a function's name in the file.
    /// Input: a file with an equation `delta1 = …` whose derivation has a δ1.
    NameTaken { name: String },
}

impl Unwritable {
    /// The message, as one sentence.
    pub fn message(&self) -> String {
        match self {
            Unwritable::Operation { operation, meaning, quantity } => format!(
                "the formula of {quantity} uses {operation} ({meaning}), which the .nn language has no function for"
            ),
            Unwritable::NameTaken { name } => {
                format!("the derivation names a quantity {name}, which the file already uses as a name")
            }
        }
    }
}

/// The operations that derivations use and the `.nn` language does not
/// have: what each prints as and what it stands for. Every node is
/// listed, so that a new operation is placed here too.
fn unwritable(node: &Node) -> Option<(&'static str, &'static str)> {
    match node {
        // A map operation's backward parts, named by the operation.
        Node::Conv(part, a, b, c) => map::conv(*part, *a, *b, *c).backward(),
        Node::Pool(kind, part, a, w) => map::pool(*kind, *part, a, *w).backward(),
        Node::Reshape(..) => Some(("reshape", "the adjoint of flatten")),
        Node::SumSpatial(..) => {
            Some(("sum_spatial", "the sum over the positions (and examples) of each channel of a map"))
        }
        Node::OneHot(..) => Some(("onehot", "class labels read as one-hot targets")),
        Node::Diag(..) => Some(("diag", "the diagonal matrix of softmax's Jacobian")),
        Node::MaskedSoftmax(..) => Some(("masked_softmax", "masked attention's softmax over the keys its mask keeps")),
        Node::Unslice(..) => Some(("unslice", "a slice's gradient placed back into zeros of its source's shape")),
        Node::ScatterAdd(..) => {
            Some(("scatter_add", "an embedding table's gradient, each row summed over the positions that picked it"))
        }
        Node::Ones(..) => Some(("ones", "a tensor of ones, a gradient expanded to its operand's shape")),
        Node::Tensor(_)
        | Node::Param(_)
        | Node::Symbol(_)
        | Node::Const(_)
        | Node::Neg(_)
        | Node::Add(..)
        | Node::Sub(..)
        | Node::Mul(..)
        | Node::Div(..)
        | Node::Pow(..)
        | Node::MatMul(..)
        | Node::Transpose(_)
        | Node::Apply(..)
        | Node::Reduce(..)
        | Node::Softmax(..)
        | Node::LogSoftmax(..)
        | Node::Loss(..)
        | Node::Flatten(_)
        | Node::SumAxis(..)
        | Node::Slice(..)
        | Node::Gather(..) => None,
    }
}

/// The derivation as a `.nn` file, or why it cannot be one.
pub fn derivation(model: &Model, derivation: &Derivation) -> Result<String, Unwritable> {
    let o = derivation_outline(model, derivation);
    let (g, names) = (&derivation.graph, &o.names);
    let derived = derived_lines(model, derivation, &o);
    check_writable(model, derivation, &derived)?;

    let mut out = String::from("# The network's declarations (shapes only), then its derivation as equations.\n");
    write_declarations(&mut out, model);
    if !model.functions.is_empty() {
        out.push('\n');
        for f in model.functions.values() {
            let body = substitute_params(&formula(g, f.body, names, N), &f.params);
            let _ = writeln!(out, "fn {}({}) = {body}", f.name, f.params.join(", "));
        }
    }
    out.push_str("\n# forward pass\n");
    let introduced = super::introduced::spelled(model, names, N);
    if !introduced.is_empty() {
        let (noun, list) = (super::introduced::noun(introduced.len()), super::introduced::listed(&introduced));
        let _ = writeln!(out, "# nnderive names {noun} {list}{}", super::introduced::WHICH);
    }
    let loss_name = &model.tensor(model.loss).name;
    let mut forward: Vec<(String, String)> = match &derivation.time {
        Some(view) => super::text::time_forward(model, derivation, view, names, N),
        None => {
            o.forward.iter().map(|eq| (names.tensor(eq.tensor, N), definition(g, eq.definition, names, N))).collect()
        }
    };
    for (lhs, rhs) in forward.iter_mut() {
        if lhs == loss_name {
            *lhs = format!("loss {lhs}");
        }
        let _ = writeln!(out, "{lhs} = {rhs}");
    }

    if !derived.functions.is_empty() {
        out.push_str("\n# derivatives of the custom functions\n");
        for line in &derived.functions {
            let _ = writeln!(out, "{line}");
        }
    }
    out.push_str("\n# error terms\n");
    if let Some(view) = &derivation.time {
        // Each sequence's error term once in t, as a comment; the equations
        // follow step by step, from the last step down, since a step's
        // error term needs the next step's.
        for group in &view.groups {
            let Some(general) = &group.general else { continue };
            let at = names.at(&view.index, general.step);
            let s = derivation.symbol(general.symbol);
            let holds = super::text::steps_text(view, &general.holds, N);
            let _ = writeln!(
                out,
                "# {} = {}  for {} = {holds}",
                formula(g, s.node, &at, N),
                formula(g, s.formula, &at, N),
                view.index
            );
        }
    }
    for (lhs, rhs) in &derived.error_terms {
        let _ = writeln!(out, "{lhs} = {rhs}");
    }
    out.push_str("\n# gradients\n");
    for (lhs, rhs) in &derived.gradients {
        let _ = writeln!(out, "{lhs} = {rhs}");
    }
    Ok(out)
}

/// The derived quantities as lines of the file, with the formulas they are built from.
struct Derived {
    /// `fn f_prime(t) = …`, and the name given.
    functions: Vec<String>,
    function_names: Vec<String>,
    /// `(lhs, rhs)`, step by step for a recurrence.
    error_terms: Vec<(String, String)>,
    gradients: Vec<(String, String)>,
    /// Every formula written, with the quantity it defines (for messages).
    roots: Vec<(NodeId, String)>,
}

fn derived_lines(model: &Model, derivation: &Derivation, o: &Outline<()>) -> Derived {
    let (g, names) = (&derivation.graph, &o.names);
    let mut d = Derived {
        functions: Vec::new(),
        function_names: Vec::new(),
        error_terms: Vec::new(),
        gradients: Vec::new(),
        roots: Vec::new(),
    };
    for r in &o.functions {
        let Some(wrt) = r.derivative else { continue };
        let f = model.function(r.func);
        let name = names.function(Func::Derivative { func: r.func, wrt }, N);
        let body = substitute_params(&formula(g, r.body, names, N), &f.params);
        d.functions.push(format!("fn {name}({}) = {body}", f.params.join(", ")));
        d.roots.push((r.body, name.clone()));
        d.function_names.push(name);
    }
    for term in &o.error_terms {
        let s = term.definition;
        let lhs = formula(g, s.node, names, N);
        d.roots.push((s.formula, lhs.clone()));
        d.error_terms.push((lhs, formula(g, s.formula, names, N)));
    }
    for (i, grad) in o.gradients.iter().enumerate() {
        let lhs = names.gradient_of(Wrt::Tensor(grad.param), N, g);
        let sum = derivation.time.as_ref().and_then(|view| Some((view, view.gradients.get(i)?.as_ref()?)));
        let rhs = match sum {
            Some((view, sum)) => {
                d.roots.extend(sum.patterns.iter().chain(&sum.rest).map(|&n| (n, lhs.clone())));
                super::text::time_sum_text(g, sum, names, view, N)
            }
            None => formula(g, grad.formula, names, N),
        };
        d.roots.push((grad.formula, lhs.clone()));
        d.gradients.push((lhs, rhs));
    }
    d
}

/// Refuses a derivation that would not check: an operation without a
/// `.nn` spelling, or a derived name the file already uses (or that two
/// derived quantities share).
fn check_writable(model: &Model, derivation: &Derivation, d: &Derived) -> Result<(), Unwritable> {
    let g = &derivation.graph;
    for (root, quantity) in &d.roots {
        // Each formula on its own, so that the message names the quantity
        // whose formula uses the operation (the walk is linear in its size).
        if let Some((operation, meaning)) = g.nodes_under(&[*root]).into_iter().find_map(|n| unwritable(g.node(n))) {
            return Err(Unwritable::Operation { operation, meaning, quantity: quantity.clone() });
        }
    }
    let base = |name: &str| split_step(name).map(|(b, _)| b.to_string()).unwrap_or_else(|| name.to_string());
    let mut taken: HashSet<String> = model.tensors.keys().map(|n| base(n)).collect();
    taken.extend(model.functions.keys().cloned());
    // A sequence's steps share one name, so each derived base name is new once.
    let mut given: HashSet<String> = HashSet::new();
    let lhs = d.error_terms.iter().chain(&d.gradients).map(|(l, _)| l).chain(&d.function_names);
    for name in lhs {
        let b = base(name);
        if taken.contains(&b) {
            return Err(Unwritable::NameTaken { name: b });
        }
        if split_step(name).is_none() && !given.insert(b.clone()) {
            return Err(Unwritable::NameTaken { name: b });
        }
    }
    Ok(())
}

/// Each declared tensor with its role and shape, in file order: a sequence
/// declared at every step once (`input x[t][2]`), any other step alone
/// (`const h[0][3]`, the state before the first step).
fn write_declarations(out: &mut String, model: &Model) {
    let Some(time) = &model.time else {
        for id in model.ids().filter(|&id| model.tensor(id).role.is_data()) {
            let t = model.tensor(id);
            let _ = writeln!(out, "{} {}{}", role_keyword(t.role), t.name, dims(t.shape.dims()));
        }
        return;
    };
    let _ = writeln!(out, "steps {} = {}..{}", time.index, time.first, time.last);
    // The declared steps of each sequence.
    let mut declared: std::collections::HashMap<&str, Vec<u64>> = std::collections::HashMap::new();
    for id in model.ids().filter(|&id| model.tensor(id).role.is_data()) {
        if let Some((base, k)) = split_step(&model.tensor(id).name) {
            declared.entry(base).or_default().push(k);
        }
    }
    let every_step =
        |base: &str| declared.get(base).is_some_and(|ks| (time.first..=time.last).all(|k| ks.contains(&k)));
    let mut done: HashSet<&str> = HashSet::new();
    for id in model.ids().filter(|&id| model.tensor(id).role.is_data()) {
        let t = model.tensor(id);
        let name = match split_step(&t.name) {
            Some((base, k)) if every_step(base) && (time.first..=time.last).contains(&k) => {
                if !done.insert(base) {
                    continue;
                }
                format!("{base}[{}]", time.index)
            }
            _ => t.name.clone(),
        };
        let _ = writeln!(out, "{} {name}{}", role_keyword(t.role), dims(t.shape.dims()));
    }
}

/// The keyword that declares a tensor of this role.
fn role_keyword(role: Role) -> &'static str {
    match role {
        Role::Input => "input",
        Role::Target => "target",
        Role::Param => "param",
        Role::Const | Role::Intermediate | Role::Loss => "const",
    }
}

/// `[3,4]`, or nothing for a scalar.
fn dims(dims: &[usize]) -> String {
    match dims {
        [] => String::new(),
        d => format!("[{}]", d.iter().map(usize::to_string).collect::<Vec<_>>().join(",")),
    }
}
