//! The named quantities of a solution, as one table: every value a student
//! may be asked for (forward values `Z1`, `H`, `yhat`; the loss `L`; error
//! terms `delta1`; gradients `dW1`; parameters after training `W1_new`),
//! each with its names, its value in the solution, the formula that
//! computes it and the earlier quantities that formula uses. Grading
//! (`nnderive grade`) and the Python package's `compare` both read it.
//!
//! Every quantity has a plain ASCII name and answers to its other
//! spellings: `δ1` and `delta1`, `ŷ` and `yhat`, `∂L/∂W1`, `dL/dW1`,
//! `dL_dW1`, `dW1` and `W1` (for a gradient), `h[2]`, `h_2` and `h₂`.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::derive::{SymbolKind, Wrt};
use crate::eval::tensor::Tensor;
use crate::eval::Solution;
use crate::model::{Model, Node, NodeId, SymbolId, TensorId};

use super::formula::{Names, Notation};

/// What part of a solution a quantity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A forward equation's value.
    Forward,
    /// The loss.
    Loss,
    /// An error term δ (or a named ∂L/∂X used more than once).
    ErrorTerm,
    /// The gradient of the loss with respect to a parameter.
    Gradient,
    /// A parameter after the training step(s).
    Updated,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Forward => "forward",
            Kind::Loss => "loss",
            Kind::ErrorTerm => "error term",
            Kind::Gradient => "gradient",
            Kind::Updated => "updated",
        }
    }
}

/// Where a quantity's value is kept in a [`Solution`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `solution.values[tensor]`.
    Tensor(TensorId),
    /// `solution.symbols`.
    Symbol(SymbolId),
    /// `solution.gradients[index]`, the gradient of `param`.
    Gradient { param: TensorId, index: usize },
    /// `training.updated[index]`, the parameter `param` after training.
    Updated { param: TensorId, index: usize },
}

/// One named quantity.
#[derive(Clone, Debug)]
pub struct NamedQuantity {
    /// Its plain ASCII name: `Z1`, `yhat`, `delta1`, `dW1`, `W1_new`, `h[2]`.
    pub name: String,
    /// As the text output writes it: `ŷ`, `δ1`, `∂L/∂W1`, `W1 (new)`, `h₂`.
    pub label: String,
    pub kind: Kind,
    pub source: Source,
    /// The formula in the derivation's graph that computes it from earlier
    /// quantities (none for a parameter after training, which the
    /// optimizer's update computes from its gradient).
    pub formula: Option<NodeId>,
    /// The earlier quantities (indices into the table) whose values its
    /// formula uses; for a parameter after one training step, its gradient.
    pub depends: Vec<usize>,
    /// Every other name it answers to.
    pub aliases: Vec<String>,
}

/// Every named quantity of a solution, in the order the solution shows
/// them (each depending only on earlier ones), with a lookup by any name.
#[derive(Clone, Debug)]
pub struct Quantities {
    pub list: Vec<NamedQuantity>,
    lookup: HashMap<String, usize>,
}

impl Quantities {
    /// The table of `solution`, a solution of `model`.
    pub fn new(model: &Model, solution: &Solution) -> Quantities {
        let d = &solution.derivation;
        let names = Names::new(model, Some(d));
        let mut list: Vec<NamedQuantity> = Vec::new();
        let mut by_tensor: HashMap<TensorId, usize> = HashMap::new();
        let mut by_symbol: HashMap<SymbolId, usize> = HashMap::new();
        let tensor_names = |id: TensorId| {
            let name = model.tensor(id).name.clone();
            let mut aliases = vec![names.tensor(id, Notation::Text)];
            aliases.extend(underscored(&name));
            (name, aliases)
        };
        let forward = model.order.iter().copied().filter(|&id| id != model.loss).chain([model.loss]);
        // A pre-activation nnderive named is never asked for: the file's
        // equation is, computed as the file wrote it.
        for id in forward.filter(|&id| model.introduced_for(id).is_none()) {
            let Some(def) = model.written_definition(id) else { continue };
            let (name, aliases) = tensor_names(id);
            let kind = if id == model.loss { Kind::Loss } else { Kind::Forward };
            by_tensor.insert(id, list.len());
            list.push(NamedQuantity {
                name,
                label: names.tensor(id, Notation::Text),
                kind,
                source: Source::Tensor(id),
                formula: Some(def),
                depends: Vec::new(),
                aliases,
            });
        }
        for &s in &d.defined {
            let sym = d.symbol(s);
            let (name, mut aliases) = match (sym.kind, sym.wrt) {
                (SymbolKind::Delta { .. }, wrt) => {
                    let mut aliases = vec![names.symbol(s, Notation::Text, &d.graph)];
                    if let Wrt::Tensor(t) = wrt {
                        aliases.extend(gradient_spellings(&names, model, t));
                    }
                    (names.symbol(s, Notation::Nn, &d.graph), aliases)
                }
                (SymbolKind::Adjoint, Wrt::Tensor(t)) => {
                    let mut spellings = gradient_spellings(&names, model, t);
                    (spellings.remove(0), spellings)
                }
                // A gradient with respect to an unnamed expression is not asked for.
                (SymbolKind::Adjoint, Wrt::Node(_)) => continue,
            };
            let label = names.symbol(s, Notation::Text, &d.graph);
            let spelled = label.replace('δ', "delta").replace('Δ', "Delta");
            if spelled.is_ascii() {
                aliases.push(spelled);
            }
            aliases.extend(underscored(&name));
            by_symbol.insert(s, list.len());
            list.push(NamedQuantity {
                name,
                label,
                kind: Kind::ErrorTerm,
                source: Source::Symbol(s),
                formula: Some(sym.formula),
                depends: Vec::new(),
                aliases,
            });
        }
        let mut by_gradient: HashMap<TensorId, usize> = HashMap::new();
        for (index, g) in d.gradients.iter().enumerate() {
            let mut spellings = gradient_spellings(&names, model, g.param);
            let name = spellings.remove(0);
            spellings.push(model.tensor(g.param).name.clone());
            by_gradient.insert(g.param, list.len());
            list.push(NamedQuantity {
                name,
                label: names.gradient_of(Wrt::Tensor(g.param), Notation::Text, &d.graph),
                kind: Kind::Gradient,
                source: Source::Gradient { param: g.param, index },
                formula: Some(g.formula),
                depends: Vec::new(),
                aliases: spellings,
            });
        }
        if let Some(training) = &solution.training {
            for (index, (p, _)) in training.updated.iter().enumerate() {
                let param = &model.tensor(*p).name;
                // After one step, the update is computed from the gradient shown.
                let depends = match (training.steps, by_gradient.get(p)) {
                    (1, Some(&g)) => vec![g],
                    _ => Vec::new(),
                };
                list.push(NamedQuantity {
                    name: format!("{param}_new"),
                    label: format!("{} (new)", names.tensor(*p, Notation::Text)),
                    kind: Kind::Updated,
                    source: Source::Updated { param: *p, index },
                    formula: None,
                    depends,
                    aliases: vec![format!("{param} (new)"), format!("{param}new")],
                });
            }
        }
        // What each formula uses: the named quantities among its leaves.
        for q in list.iter_mut() {
            let Some(formula) = q.formula else { continue };
            let mut depends: Vec<usize> = d
                .graph
                .nodes_under(&[formula])
                .into_iter()
                .filter_map(|n| match *d.graph.node(n) {
                    Node::Tensor(t) => by_tensor.get(&t).copied(),
                    Node::Symbol(s) => by_symbol.get(&s).copied(),
                    _ => None,
                })
                .collect();
            depends.sort_unstable();
            depends.dedup();
            q.depends = depends;
        }
        Quantities::indexed(list)
    }

    /// The lookup of names: each quantity's own name first, then the
    /// aliases that name no other quantity (an alias two quantities share is
    /// dropped; a quantity whose name is taken keeps its first free alias).
    fn indexed(mut list: Vec<NamedQuantity>) -> Quantities {
        let mut lookup: HashMap<String, usize> = HashMap::new();
        for (i, q) in list.iter_mut().enumerate() {
            if lookup.contains_key(&q.name) {
                let free = q.aliases.iter().find(|a| !lookup.contains_key(*a)).cloned();
                if let Some(free) = free {
                    let taken = std::mem::replace(&mut q.name, free);
                    q.aliases.push(taken);
                }
            }
            lookup.entry(q.name.clone()).or_insert(i);
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for q in &list {
            let mut own: Vec<&str> = q.aliases.iter().map(String::as_str).collect();
            own.sort_unstable();
            own.dedup();
            for a in own {
                *counts.entry(a).or_default() += 1;
            }
        }
        let mut aliases: Vec<(String, usize)> = Vec::new();
        for (i, q) in list.iter().enumerate() {
            for a in &q.aliases {
                if counts.get(a.as_str()) == Some(&1) && !lookup.contains_key(a) {
                    aliases.push((a.clone(), i));
                }
            }
        }
        lookup.extend(aliases);
        // A quantity answers to its own label, as the text output writes it,
        // even where another quantity shares it as an alias (∂L/∂a for the
        // gradient of a and for the error term Δ1 defined as it).
        for (i, q) in list.iter().enumerate() {
            lookup.entry(q.label.clone()).or_insert(i);
        }
        for q in list.iter_mut() {
            let name = q.name.clone();
            q.aliases.retain(|a| *a != name);
            q.aliases.sort_unstable();
            q.aliases.dedup();
        }
        Quantities { list, lookup }
    }

    /// The quantity a name stands for, by any of its spellings.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.lookup.get(name.trim()).copied()
    }

    /// Every name the table answers to, for suggestions.
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.lookup.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The value of quantity `i` in `solution`.
    pub fn value<'s>(&self, i: usize, solution: &'s Solution) -> Option<&'s Tensor> {
        match self.list.get(i)?.source {
            Source::Tensor(t) => solution.values.get(t.0 as usize),
            Source::Symbol(s) => solution.symbol_value(s),
            Source::Gradient { index, .. } => solution.gradients.get(index),
            Source::Updated { index, .. } => solution.training.as_ref()?.updated.get(index).map(|(_, v)| v),
        }
    }
}

/// The ways to write ∂L/∂X for a tensor X, the compact one first: `dW1`,
/// `dL_dW1`, `dL/dW1`, `∂L/∂W1`.
fn gradient_spellings(names: &Names, model: &Model, t: TensorId) -> Vec<String> {
    let x = &model.tensor(t).name;
    let l = &model.tensor(model.loss).name;
    let mut out = vec![format!("d{x}"), format!("d{l}_d{x}"), format!("d{l}/d{x}")];
    if let Some(d) = names.derivation {
        out.push(names.gradient_of(Wrt::Tensor(t), Notation::Text, &d.graph));
    }
    out.extend(underscored(&format!("d{x}")));
    out
}

/// `h_2` for a step name `h[2]` (and `delta_h_2` for `delta_h[2]`).
fn underscored(name: &str) -> Option<String> {
    let (base, rest) = name.split_once('[')?;
    let step = rest.strip_suffix(']')?;
    step.chars().all(|c| c.is_ascii_digit()).then(|| format!("{base}_{step}"))
}

/// The table as JSON for the Python package: a list of `{name, label,
/// kind, aliases, shape, value, depends}`, values at full precision
/// (nested one list per dimension, as `render::json` writes them).
pub fn json(quantities: &Quantities, solution: &Solution) -> String {
    let items: Vec<Value> = quantities
        .list
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let value = quantities.value(i, solution);
            json!({
                "name": q.name,
                "label": q.label,
                "kind": q.kind.name(),
                "aliases": q.aliases,
                "shape": value.map(|v| v.dims().to_vec()).unwrap_or_default(),
                "value": value.map(|v| super::json::value(v, None)).unwrap_or(Value::Null),
                "depends": q.depends.iter().map(|&d| quantities.list[d].name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Value::Array(items).to_string()
}
