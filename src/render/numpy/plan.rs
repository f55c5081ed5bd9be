//! The statements of the forward and backward pass, in an order that runs:
//! one line per equation, error term and gradient, each under the formula
//! it computes. A network with time steps runs its recurrence as loops over
//! t (the forward pass from the first step up, the error terms from the
//! last step down, as backpropagation through time does), with the lines
//! that hold at one step only under `if t == k:`; every loop is first
//! simulated step by step against what each line reads, and a recurrence
//! whose loop would read a value before it is computed is written step by
//! step instead, in the derivation's own order.

use std::collections::{HashMap, HashSet};

use crate::derive::time::{symbol_keys, SymbolKey, TimeSum, TimeView};
use crate::derive::Derivation;
use crate::model::time::{split_step, step_name};
use crate::model::{Graph, Model, Node, NodeId, NodeMap, SymbolId, TensorId};

use super::super::formula::{definition, delta_name, formula, tensor_name, Names, Notation, StepLabel};
use super::code::{numpy_dims, Printed, Printer, Read};
use super::names::PyNames;

const N: Notation = Notation::Text;

/// A statement of the exported file, with the formula it computes.
pub enum Block {
    /// `# comment` then one statement.
    Line { comment: String, code: String },
    /// A statement without a formula (a dict for a sequence).
    Plain(String),
    /// `for …:` and its body.
    Loop { header: String, body: Vec<Block> },
    /// `if …:` / `elif …:` / `else:` branches (an empty condition is `else`).
    Branches(Vec<(String, Vec<Block>)>),
}

/// Everything a plan is made from.
pub struct Context<'a> {
    pub model: &'a Model,
    pub d: &'a Derivation,
    pub names: &'a Names<'a>,
    pub py: &'a PyNames,
    pub aliases: &'a NodeMap<TensorId>,
}

impl<'a> Context<'a> {
    fn graph(&self) -> &'a Graph {
        &self.d.graph
    }

    fn printer(&self, now: Option<u64>, aliases: bool) -> Printer<'_> {
        Printer {
            model: self.model,
            graph: &self.d.graph,
            names: self.py,
            aliases: aliases.then_some(self.aliases),
            now,
            params: &[],
        }
    }

    /// The line of an equation, at step `now` of a loop or as it is.
    fn equation(&self, t: TensorId, now: Option<u64>) -> (Block, Printed) {
        let def = self.model.tensor(t).definition.unwrap_or(NodeId(0));
        let names = self.at(now);
        let comment = format!("{} = {}", names.tensor(t, N), definition(self.graph(), def, &names, N));
        let printed = self.printer(now, false).print(def, true);
        let code = format!("{} = {}", self.py.tensor(t, now), printed.text);
        (Block::Line { comment, code }, printed)
    }

    /// The line of a defined error term (or named gradient).
    fn symbol(&self, s: SymbolId, now: Option<u64>) -> (Block, Printed) {
        let sym = self.d.symbol(s);
        let names = self.at(now);
        let comment = format!(
            "{} = {}",
            formula(self.graph(), sym.node, &names, N),
            formula(self.graph(), sym.formula, &names, N)
        );
        let printed = self.printer(now, true).print(sym.formula, false);
        let code = format!("{} = {}", self.py.symbol(s, now), printed.text);
        (Block::Line { comment, code }, printed)
    }

    fn at(&self, now: Option<u64>) -> Names<'a> {
        match (now, &self.d.time) {
            (Some(k), Some(view)) => self.names.at(&view.index, k),
            _ => self.names.clone(),
        }
    }
}

/// The forward pass: every equation (the loss last).
pub fn forward(c: &Context) -> Vec<Block> {
    let mut out = sequence_dicts(c);
    match forward_loop(c) {
        Some(blocks) => out.extend(blocks),
        None => out.extend(c.model.order.iter().map(|&t| c.equation(t, None).0)),
    }
    out
}

/// `yhat = {}` for each sequence the pass computes that has no given step
/// (a sequence with one, `h[0]`, is the dict of the given values, filled in).
fn sequence_dicts(c: &Context) -> Vec<Block> {
    let mut seen = HashSet::new();
    let mut given = HashSet::new();
    for t in c.model.ids() {
        let (base, step) = c.py.tensor_base(t);
        if step.is_some() && c.model.tensor(t).definition.is_none() {
            given.insert(base.to_string());
        }
    }
    let mut out = Vec::new();
    for &t in &c.model.order {
        let (base, step) = c.py.tensor_base(t);
        if step.is_some() && !given.contains(base) && seen.insert(base.to_string()) {
            out.push(Block::Plain(format!("{base} = {{}}")));
        }
    }
    out
}

/// Where each step of each sequence is.
struct Steps {
    first: u64,
    last: u64,
    /// Derived quantities by sequence and step.
    symbol_at: HashMap<(SymbolKey, u64), SymbolId>,
    symbol_step: HashMap<SymbolId, (SymbolKey, u64)>,
}

impl Steps {
    fn new(c: &Context, view: &TimeView) -> Steps {
        let keys = symbol_keys(c.model, c.d);
        let symbol_at = keys.iter().map(|(s, (k, step))| ((k.clone(), *step), *s)).collect();
        Steps { first: view.first, last: view.last, symbol_at, symbol_step: keys }
    }

    fn all(&self) -> Vec<u64> {
        (self.first..=self.last).collect()
    }
}

/// A read moved by `by` steps: the same tensor or quantity of another step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Shifted {
    Tensor(TensorId),
    Symbol(SymbolId),
    /// An error term after the last step: zero.
    Zero(SymbolId, u64),
    Missing,
}

fn shift(c: &Context, steps: &Steps, read: Read, by: i64) -> Shifted {
    match read {
        Read::Tensor(t) => {
            let name = &c.model.tensor(t).name;
            match split_step(name) {
                None => Shifted::Tensor(t),
                Some((base, k)) => {
                    match k.checked_add_signed(by).and_then(|k| c.model.tensor_id(&step_name(base, k))) {
                        Some(t2) => Shifted::Tensor(t2),
                        None => Shifted::Missing,
                    }
                }
            }
        }
        Read::Symbol(s) => match steps.symbol_step.get(&s) {
            None => Shifted::Symbol(s),
            Some((key, k)) => match k.checked_add_signed(by) {
                Some(k2) => match steps.symbol_at.get(&(key.clone(), k2)) {
                    Some(&s2) => Shifted::Symbol(s2),
                    None if k2 > steps.last => Shifted::Zero(s, k2),
                    None => Shifted::Missing,
                },
                None => Shifted::Missing,
            },
        },
    }
}

/// What has been computed, as a simulated run goes.
#[derive(Default)]
struct Run {
    tensors: HashSet<TensorId>,
    symbols: HashSet<SymbolId>,
    /// Error terms after the last step that a loop reads (as zeros): the
    /// quantity of the same sequence whose shape they have, and the step.
    zeros: Vec<(SymbolId, u64)>,
}

impl Run {
    /// Whether every read of a line printed at step `at`, run at step `k`, is computed.
    fn ready(&mut self, c: &Context, steps: &Steps, reads: &[Read], by: i64) -> bool {
        for &r in reads {
            match shift(c, steps, r, by) {
                Shifted::Tensor(t) => {
                    if !self.tensors.contains(&t) {
                        return false;
                    }
                }
                Shifted::Symbol(s) => {
                    if !self.symbols.contains(&s) {
                        return false;
                    }
                }
                Shifted::Zero(s, k) => {
                    if !self.zeros.iter().any(|z| z.1 == k && same_sequence(steps, z.0, s)) {
                        self.zeros.push((s, k));
                    }
                }
                Shifted::Missing => return false,
            }
        }
        true
    }
}

fn same_sequence(steps: &Steps, a: SymbolId, b: SymbolId) -> bool {
    match (steps.symbol_step.get(&a), steps.symbol_step.get(&b)) {
        (Some((ka, _)), Some((kb, _))) => ka == kb,
        _ => a == b,
    }
}

/// The tensors an equation's definition reads.
fn tensor_leaves(g: &Graph, root: NodeId) -> Vec<TensorId> {
    g.nodes_under(&[root])
        .into_iter()
        .filter_map(|n| match g.node(n) {
            Node::Tensor(t) => Some(*t),
            _ => None,
        })
        .collect()
}

fn symbol_leaves(g: &Graph, root: NodeId) -> Vec<SymbolId> {
    g.nodes_under(&[root])
        .into_iter()
        .filter_map(|n| match g.node(n) {
            Node::Symbol(s) => Some(*s),
            _ => None,
        })
        .collect()
}

/// The forward pass of a recurrence as a loop over t, or `None` when it
/// has no equation in t or the loop would not run.
fn forward_loop(c: &Context) -> Option<Vec<Block>> {
    let view = c.d.time.as_ref()?;
    let steps = Steps::new(c, view);
    let position: HashMap<TensorId, usize> = c.model.order.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    let mut templates: Vec<(TensorId, u64)> = view
        .forward
        .iter()
        .filter_map(|f| match f {
            crate::derive::time::Forward::Template { tensor, step } => Some((*tensor, *step)),
            crate::derive::time::Forward::Plain { .. } => None,
        })
        .collect();
    if templates.is_empty() {
        return None;
    }
    let base_of = |t: TensorId| split_step(&c.model.tensor(t).name).map(|(b, _)| b.to_string());
    let looped: HashSet<String> = templates.iter().filter_map(|&(t, _)| base_of(t)).collect();
    // Within a step, in the order the model computes that step's equations.
    let first_member = |t: TensorId| {
        let base = base_of(t).unwrap_or_default();
        c.model.tensor_id(&step_name(&base, steps.first)).and_then(|m| position.get(&m).copied()).unwrap_or(usize::MAX)
    };
    templates.sort_by_key(|&(t, _)| first_member(t));
    let in_loop = |t: TensorId| base_of(t).is_some_and(|b| looped.contains(&b));
    // The other equations: before the loop unless they read what it computes.
    let mut after_loop: HashSet<TensorId> = HashSet::new();
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for &t in &c.model.order {
        if in_loop(t) {
            continue;
        }
        let def = c.model.tensor(t).definition?;
        let reads_loop = tensor_leaves(c.graph(), def).into_iter().any(|r| in_loop(r) || after_loop.contains(&r));
        if reads_loop {
            after_loop.insert(t);
            after.push(t);
        } else {
            before.push(t);
        }
    }
    let mut run = Run::default();
    run.tensors.extend(c.model.ids().filter(|&t| c.model.tensor(t).definition.is_none()));
    let mut out = Vec::new();
    for &t in &before {
        let (block, printed) = c.equation(t, None);
        if !run.ready(c, &steps, &printed.reads, 0) {
            return None;
        }
        run.tensors.insert(t);
        out.push(block);
    }
    let mut body = Vec::new();
    let mut printed_body = Vec::new();
    for &(t, r) in &templates {
        let (block, printed) = c.equation(t, Some(r));
        body.push(block);
        printed_body.push((t, r, printed));
    }
    for k in steps.all() {
        for (t, r, printed) in &printed_body {
            let by = k as i64 - *r as i64;
            if !run.ready(c, &steps, &printed.reads, by) {
                return None;
            }
            match shift(c, &steps, Read::Tensor(*t), by) {
                Shifted::Tensor(tk) => run.tensors.insert(tk),
                _ => return None,
            };
        }
    }
    out.push(Block::Loop { header: loop_header(c, &steps, false), body });
    let sums: HashMap<TensorId, &TimeSum> = view
        .forward
        .iter()
        .filter_map(|f| match f {
            crate::derive::time::Forward::Plain { tensor, sum: Some(s) } => Some((*tensor, s)),
            _ => None,
        })
        .collect();
    for &t in &after {
        let line = sums.get(&t).and_then(|s| time_sum(c, &steps, view, s, &mut run));
        let (block, reads) = match line {
            Some((code, reads)) => {
                let names = c.names;
                let comment = format!(
                    "{} = {}",
                    names.tensor(t, N),
                    super::super::text::time_sum_text(c.graph(), sums[&t], names, view, N)
                );
                (Block::Line { comment, code: format!("{} = {code}", c.py.tensor(t, None)) }, reads)
            }
            None => {
                let (block, printed) = c.equation(t, None);
                (block, printed.reads)
            }
        };
        if !run.ready(c, &steps, &reads, 0) {
            return None;
        }
        run.tensors.insert(t);
        out.push(block);
    }
    Some(out)
}

/// `for t in range(1, 4):` (up) or `for t in range(3, 0, -1):` (down).
fn loop_header(c: &Context, steps: &Steps, down: bool) -> String {
    let t = &c.py.index;
    match down {
        false => {
            format!("for {t} in range({}, {}):  # {t} = {} … {}", steps.first, steps.last + 1, steps.first, steps.last)
        }
        true => format!(
            "for {t} in range({}, {}, -1):  # {t} = {} down to {}",
            steps.last,
            steps.first as i64 - 1,
            steps.last,
            steps.first
        ),
    }
}

/// A sum over time as `sum(pattern for t in range(…))`, with the terms
/// outside the pattern, the factor and the divisor; `None` when a pattern
/// moved to some step reads what that step does not have. Also returns the
/// reads of the terms outside the pattern (the pattern's are checked here).
fn time_sum(c: &Context, steps: &Steps, view: &TimeView, sum: &TimeSum, run: &mut Run) -> Option<(String, Vec<Read>)> {
    let index = &c.py.index;
    let mut patterns = Vec::new();
    for &p in &sum.patterns {
        let printed = c.printer(Some(sum.step), true).print(p, false);
        for k in steps.all() {
            let by = k as i64 - sum.step as i64;
            if !run.ready(c, steps, &printed.reads, by) {
                return None;
            }
        }
        let text = match c.graph().node(p) {
            Node::Add(..) | Node::Sub(..) => format!("({})", printed.text),
            _ => printed.text,
        };
        patterns.push(text);
    }
    let mut text = format!("sum({} for {index} in range({}, {}))", patterns.join(" + "), view.first, view.last + 1);
    let mut reads = Vec::new();
    for &r in &sum.rest {
        let printed = c.printer(None, true).print(r, false);
        reads.extend(printed.reads);
        match c.graph().node(r) {
            Node::Add(..) | Node::Sub(..) => text.push_str(&format!(" + ({})", printed.text)),
            _ => text.push_str(&format!(" + {}", printed.text)),
        }
    }
    let constant = |n: NodeId| c.printer(None, false).print(n, false).text;
    let grouped = |t: &str| if sum.rest.is_empty() { t.to_string() } else { format!("({t})") };
    let text = match (sum.factor, sum.divisor) {
        (Some(f), _) => format!("{} * {}", constant(f), grouped(&text)),
        (None, Some(d)) => format!("{} / {}", grouped(&text), constant(d)),
        (None, None) => text,
    };
    Some((text, reads))
}

/// The error terms: a loop from the last step down for a recurrence,
/// otherwise every defined one in the derivation's order.
pub fn error_terms(c: &Context) -> Vec<Block> {
    let mut out = symbol_dicts(c);
    match backward_loop(c) {
        Some(blocks) => out.extend(blocks),
        None => out.extend(c.d.defined.iter().map(|&s| c.symbol(s, None).0)),
    }
    out
}

/// `delta_h = {}` for each sequence of error terms.
fn symbol_dicts(c: &Context) -> Vec<Block> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for &s in &c.d.defined {
        let (base, step) = c.py.symbol_base(s);
        if step.is_some() && seen.insert(base.to_string()) {
            out.push(Block::Plain(format!("{base} = {{}}")));
        }
    }
    out
}

/// One sequence of error terms in the loop: its general form (printed at
/// `step`, holding at `holds`) and the steps with a formula of their own.
struct Group {
    general: Option<(SymbolId, u64, Vec<u64>)>,
    special: Vec<(u64, SymbolId)>,
}

/// The error terms of a recurrence as one loop from the last step down.
fn backward_loop(c: &Context) -> Option<Vec<Block>> {
    let view = c.d.time.as_ref()?;
    let steps = Steps::new(c, view);
    let step_of = |s: SymbolId| steps.symbol_step.get(&s).map(|(_, k)| *k);
    let mut groups: Vec<Group> = Vec::new();
    let mut untimed: Vec<SymbolId> = Vec::new();
    for g in &view.groups {
        let timed = g.general.as_ref().map(|x| x.symbol).or(g.others.first().copied()).and_then(step_of).is_some();
        if !timed {
            untimed.extend(g.others.iter().copied());
            continue;
        }
        let special = g.others.iter().filter_map(|&s| step_of(s).map(|k| (k, s))).collect();
        let general = g.general.as_ref().map(|x| (x.symbol, x.step, x.holds.clone()));
        groups.push(Group { general, special });
    }
    if groups.iter().all(|g| g.general.is_none()) {
        return None;
    }
    // The members of each group by step, and which group a symbol is in.
    let member = |g: &Group, k: u64| -> Option<SymbolId> {
        if let Some(&(_, s)) = g.special.iter().find(|(sk, _)| *sk == k) {
            return Some(s);
        }
        let (s, _, holds) = g.general.as_ref()?;
        if !holds.contains(&k) {
            return None;
        }
        let key = steps.symbol_step.get(s)?.0.clone();
        steps.symbol_at.get(&(key, k)).copied()
    };
    let mut group_of: HashMap<SymbolId, usize> = HashMap::new();
    for (i, g) in groups.iter().enumerate() {
        for k in steps.all() {
            if let Some(s) = member(g, k) {
                group_of.insert(s, i);
            }
        }
    }
    // Within a step, a group comes after the groups whose same-step terms it reads.
    let mut after: Vec<HashSet<usize>> = vec![HashSet::new(); groups.len()];
    for (i, g) in groups.iter().enumerate() {
        for k in steps.all() {
            let Some(s) = member(g, k) else { continue };
            for r in symbol_leaves(c.graph(), c.d.symbol(s).formula) {
                if let Some(&j) = group_of.get(&r) {
                    if j != i && step_of(r) == Some(k) {
                        after[i].insert(j);
                    }
                }
            }
        }
    }
    let mut order: Vec<usize> = Vec::new();
    let mut placed = vec![false; groups.len()];
    while order.len() < groups.len() {
        let next = (0..groups.len()).find(|&i| !placed[i] && after[i].iter().all(|&j| placed[j]))?;
        placed[next] = true;
        order.push(next);
    }
    // Untimed terms: before the loop unless they read what it computes.
    let mut late: HashSet<SymbolId> = HashSet::new();
    let (mut before, mut later) = (Vec::new(), Vec::new());
    for &s in c.d.defined.iter().filter(|s| untimed.contains(s)) {
        let reads_loop = symbol_leaves(c.graph(), c.d.symbol(s).formula)
            .into_iter()
            .any(|r| group_of.contains_key(&r) || late.contains(&r));
        if reads_loop {
            late.insert(s);
            later.push(s);
        } else {
            before.push(s);
        }
    }
    // Simulate the run, building each line once.
    let mut run = Run::default();
    run.tensors.extend(c.model.ids());
    let mut out = Vec::new();
    for &s in &before {
        let (block, printed) = c.symbol(s, None);
        if !run.ready(c, &steps, &printed.reads, 0) {
            return None;
        }
        run.symbols.insert(s);
        out.push(block);
    }
    let mut general_lines: HashMap<usize, (Block, Printed)> = HashMap::new();
    let mut special_lines: HashMap<SymbolId, (Block, Printed)> = HashMap::new();
    for (i, g) in groups.iter().enumerate() {
        if let Some((s, r, _)) = &g.general {
            general_lines.insert(i, c.symbol(*s, Some(*r)));
        }
        for &(_, s) in &g.special {
            special_lines.insert(s, c.symbol(s, None));
        }
    }
    for k in steps.all().into_iter().rev() {
        for &i in &order {
            let g = &groups[i];
            let Some(s) = member(g, k) else { continue };
            let (reads, by) = match special_lines.get(&s) {
                Some((_, printed)) => (&printed.reads, 0),
                None => {
                    let (_, r, _) = g.general.as_ref()?;
                    (&general_lines.get(&i)?.1.reads, k as i64 - *r as i64)
                }
            };
            if !run.ready(c, &steps, reads, by) {
                return None;
            }
            run.symbols.insert(s);
        }
    }
    let timed_done = c.d.defined.iter().filter(|s| !untimed.contains(s)).all(|s| run.symbols.contains(s));
    if !timed_done {
        return None;
    }
    // The zeros after the last step, then the loop.
    for &(s, k) in &run.zeros {
        let (base, _) = c.py.symbol_base(s);
        let shape = numpy_dims(c.d.symbol(s).shape.dims());
        let shown = match steps.symbol_step.get(&s) {
            Some((key, _)) if key.delta => delta_name(key, &StepLabel::At(k), N),
            Some((key, _)) => {
                format!("∂{}/∂{}", c.names.tensor(c.model.loss, N), tensor_name(&step_name(&key.sequence, k), N))
            }
            None => base.to_string(),
        };
        out.push(Block::Line {
            comment: format!("{shown} = 0: there is no step after the last"),
            code: format!("{base}[{k}] = np.zeros({shape})"),
        });
    }
    let mut body = Vec::new();
    for &i in &order {
        let g = &groups[i];
        let mut branches: Vec<(String, Vec<Block>)> = Vec::new();
        let mut special: Vec<&(u64, SymbolId)> = g.special.iter().collect();
        special.sort_by_key(|(k, _)| std::cmp::Reverse(*k));
        for &&(k, s) in &special {
            let (block, _) = special_lines.remove(&s)?;
            branches.push((format!("{} == {k}", c.py.index), vec![block]));
        }
        if let Some((_, _, holds)) = &g.general {
            let (block, _) = general_lines.remove(&i)?;
            let covered = holds.len() + special.len() == steps.all().len();
            let condition = if covered { String::new() } else { steps_condition(&c.py.index, holds) };
            if branches.is_empty() && condition.is_empty() {
                body.push(block);
                continue;
            }
            branches.push((condition, vec![block]));
        }
        body.push(Block::Branches(branches));
    }
    out.push(Block::Loop { header: loop_header(c, &steps, true), body });
    for &s in &later {
        let (block, printed) = c.symbol(s, None);
        if !run.ready(c, &steps, &printed.reads, 0) {
            return None;
        }
        run.symbols.insert(s);
        out.push(block);
    }
    Some(out)
}

/// `a <= t <= b` for a run of steps, else `t in (…)`.
fn steps_condition(index: &str, holds: &[u64]) -> String {
    let contiguous = holds.windows(2).all(|w| w[1] == w[0] + 1);
    match (holds.first(), holds.last(), contiguous) {
        (Some(a), Some(b), true) => format!("{a} <= {index} <= {b}"),
        _ => {
            let list: Vec<String> = holds.iter().map(u64::to_string).collect();
            format!("{index} in ({},)", list.join(", "))
        }
    }
}

/// The gradients: a sum over time as `sum(… for t in range(…))` where the
/// derivation writes one, otherwise the formula as it is.
pub fn gradients(c: &Context) -> Vec<Block> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for g in &c.d.gradients {
        let (base, step) = c.py.gradient_base(g.param);
        if step.is_some() && seen.insert(base.to_string()) {
            out.push(Block::Plain(format!("{base} = {{}}")));
        }
    }
    for (i, grad) in c.d.gradients.iter().enumerate() {
        let lhs = c.names.gradient_of(crate::derive::Wrt::Tensor(grad.param), N, c.graph());
        let target = c.py.gradient(grad.param);
        let summed = c.d.time.as_ref().and_then(|view| {
            let sum = view.gradients.get(i)?.as_ref()?;
            let steps = Steps::new(c, view);
            let mut run = Run::default();
            run.tensors.extend(c.model.ids());
            run.symbols.extend(c.d.defined.iter().copied());
            let (code, _) = time_sum(c, &steps, view, sum, &mut run)?;
            if !run.zeros.is_empty() {
                return None;
            }
            let comment = format!("{lhs} = {}", super::super::text::time_sum_text(c.graph(), sum, c.names, view, N));
            Some(Block::Line { comment, code: format!("{target} = {code}") })
        });
        out.push(summed.unwrap_or_else(|| {
            let comment = format!("{lhs} = {}", formula(c.graph(), grad.formula, c.names, N));
            let code = format!("{target} = {}", c.printer(None, true).print(grad.formula, false).text);
            Block::Line { comment, code }
        }));
    }
    out
}

/// Writes blocks at `indent` levels of four spaces.
pub fn write(blocks: &[Block], indent: usize, out: &mut String) {
    let pad = "    ".repeat(indent);
    for b in blocks {
        match b {
            Block::Line { comment, code } => {
                for line in comment.lines() {
                    out.push_str(&format!("{pad}# {line}\n"));
                }
                out.push_str(&format!("{pad}{code}\n"));
            }
            Block::Plain(code) => out.push_str(&format!("{pad}{code}\n")),
            Block::Loop { header, body } => {
                out.push_str(&format!("{pad}{header}\n"));
                write(body, indent + 1, out);
            }
            Block::Branches(branches) => {
                for (i, (condition, body)) in branches.iter().enumerate() {
                    let head = match (i, condition.is_empty()) {
                        (_, true) => "else:".to_string(),
                        (0, false) => format!("if {condition}:"),
                        (_, false) => format!("elif {condition}:"),
                    };
                    out.push_str(&format!("{pad}{head}\n"));
                    write(body, indent + 1, out);
                }
            }
        }
    }
}
