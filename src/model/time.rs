//! Time: a file with `steps t = 1..T` is unrolled into ordinary statements,
//! one per step, before it is checked. `h[t] = tanh(Whh @ h[t-1] + …)`
//! becomes `h[1] = tanh(Whh @ h[0] + …)`, …, `h[T] = …`; `x[t][2]` becomes
//! `x[1]`, …, `x[T]`, each `[2]` with its row of the literal; and
//! `sum(e for t)` becomes `e[1] + … + e[T]`. Derivation, evaluation,
//! gradcheck and the documents then work on ordinary equations, so the
//! numbers of a recurrent network are those of its hand-unrolled file by
//! construction; the [`Timeline`] remembers which tensors are steps of
//! which sequence, for the renderers.
//!
//! The work is linear in T: each statement is copied once per step, and a
//! sum over time is a balanced tree of additions, so nesting grows with
//! log T.

use std::collections::HashMap;

use super::error::{Error, ErrorKind};
use crate::syntax::ast::{self, BinOp, Expr, ExprKind, Ident, Item, Literal, TimeIndex, TimeIndexKind};
use crate::syntax::Span;

/// The most steps a `steps` range may have.
pub const MAX_TIME_STEPS: u64 = 10_000;

/// The most expression nodes the unrolled statements may hold (each
/// time-indexed statement counts once per step), so that a long template
/// over many steps is a located error rather than gigabytes of copies.
pub const MAX_UNROLLED_NODES: u64 = 4_000_000;

/// The time structure of an unrolled file.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// The time index, `t`.
    pub index: String,
    pub first: u64,
    pub last: u64,
    /// Every sequence by name (`h`, `x`), in file order: the steps it has.
    pub sequences: Vec<Sequence>,
}

/// A tensor given or defined per step.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    pub name: String,
    /// Defined at every step of the range by one statement (`h[t] = …`, `x[t][2]`).
    pub templated: bool,
}

impl Timeline {
    /// How many steps the range has.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never empty: a range has at least one step.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The name of step `k` of sequence `name` in the unrolled model: `h[2]`,
/// which is also how the `.nn` language writes it.
pub fn step_name(name: &str, k: u64) -> String {
    format!("{name}[{k}]")
}

/// Splits an unrolled name `h[2]` into `("h", 2)` (spelled with the names).
pub use super::names::split_step;

/// The range of steps at which a sequence is defined: `first..=last`.
#[derive(Clone, Debug)]
struct Defined {
    /// Each statement's steps, and the statement.
    ranges: Vec<(u64, u64, Span)>,
}

impl Defined {
    fn contains(&self, k: u64) -> bool {
        self.ranges.iter().any(|&(a, b, _)| a <= k && k <= b)
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .ranges
            .iter()
            .map(|&(a, b, _)| if a == b { format!("step {a}") } else { format!("steps {a} to {b}") })
            .collect();
        parts.join(", ")
    }
}

/// The time range of the file, once read.
struct Range<'a> {
    index: &'a str,
    first: u64,
    last: u64,
}

struct Unroller<'a> {
    range: Option<Range<'a>>,
    /// Sequences by name.
    defined: HashMap<&'a str, Defined>,
    /// Names of untimed tensors, for `W[t]` errors.
    untimed: HashMap<&'a str, Span>,
}

/// Unrolls the time-indexed statements of `file`; `None` when it has none.
pub fn unroll(file: &ast::File) -> Result<Option<(ast::File, Timeline)>, Error> {
    let mut steps: Option<&ast::Steps> = None;
    for item in &file.items {
        if let Item::Steps(s) = item {
            if let Some(first) = steps {
                return Err(Error::new(ErrorKind::SecondSteps { first: first.span }, s.span));
            }
            if s.first > s.last || s.last - s.first >= MAX_TIME_STEPS {
                let kind = ErrorKind::BadStepRange { first: s.first, last: s.last, limit: MAX_TIME_STEPS };
                return Err(Error::new(kind, s.range_span));
            }
            steps = Some(s);
        }
    }
    if let Some(s) = steps {
        let per_step: u64 = file
            .items
            .iter()
            .map(|item| match item {
                Item::Equation(e) | Item::Loss(e) => size(&e.value),
                Item::Tensor(d) if d.time.is_some() => 1,
                _ => 0,
            })
            .sum();
        let nodes = per_step.saturating_mul(s.last - s.first + 1);
        if nodes > MAX_UNROLLED_NODES {
            let kind = ErrorKind::UnrolledTooLarge { nodes, limit: MAX_UNROLLED_NODES };
            return Err(Error::new(kind, s.span));
        }
    }
    let range = steps.map(|s| Range { index: &s.index.name, first: s.first, last: s.last });
    let mut u = Unroller { range, defined: HashMap::new(), untimed: HashMap::new() };
    let mut sequences: Vec<Sequence> = Vec::new();
    // First pass: what each sequence defines.
    for item in &file.items {
        let (name, time, span) = match item {
            Item::Tensor(d) => (&d.name, &d.time, d.span),
            Item::Equation(e) => (&e.name, &e.time, e.span),
            Item::Loss(e) => (&e.name, &e.time, e.span),
            _ => continue,
        };
        let Some(time) = time else {
            if let Some(d) = u.defined.get(name.name.as_str()) {
                return Err(duplicate(name, d.ranges[0].2));
            }
            u.untimed.insert(&name.name, span);
            continue;
        };
        if let Some(first) = u.untimed.get(name.name.as_str()) {
            return Err(duplicate(name, *first));
        }
        let steps = u.defined_steps(time)?;
        match u.defined.get_mut(name.name.as_str()) {
            Some(d) => {
                if let Some(&(a, b, first)) = d.ranges.iter().find(|&&(a, b, _)| a <= steps.1 && steps.0 <= b) {
                    let k = a.max(steps.0).min(b);
                    return Err(Error::new(ErrorKind::Duplicate { name: step_name(&name.name, k), first }, span));
                }
                d.ranges.push((steps.0, steps.1, span));
            }
            None => {
                u.defined.insert(&name.name, Defined { ranges: vec![(steps.0, steps.1, span)] });
                sequences.push(Sequence { name: name.name.clone(), templated: false });
            }
        }
        if matches!(time.kind, TimeIndexKind::Relative { .. }) {
            if let Some(s) = sequences.iter_mut().find(|s| s.name == name.name) {
                s.templated = true;
            }
        }
    }
    let Some(range) = &u.range else {
        // No `steps`: any time index is an error, found as the file is read.
        for item in &file.items {
            match item {
                Item::Tensor(ast::TensorDecl { time: Some(t), .. })
                | Item::Equation(ast::Equation { time: Some(t), .. }) => {
                    return Err(Error::new(ErrorKind::NoSteps, t.span))
                }
                Item::Equation(e) | Item::Loss(e) => {
                    u.expr(&e.value, None)?;
                }
                Item::Function(f) => {
                    u.expr(&f.body, None)?;
                }
                _ => {}
            }
        }
        return Ok(None);
    };
    let (first, last) = (range.first, range.last);
    let mut items = Vec::new();
    for item in &file.items {
        match item {
            Item::Steps(_) => {}
            Item::Tensor(d) => match &d.time {
                None => items.push(Item::Tensor(d.clone())),
                Some(TimeIndex { kind: TimeIndexKind::Step(k), .. }) => {
                    items.push(Item::Tensor(ast::TensorDecl { name: renamed(&d.name, *k), time: None, ..d.clone() }))
                }
                Some(_) => {
                    let rows = match &d.value {
                        None => None,
                        Some(Literal::List { items, .. }) if items.len() as u64 == last - first + 1 => {
                            Some(items.clone())
                        }
                        // A sequence of scalars, one number per step.
                        Some(Literal::Numbers(list)) if list.len() as u64 == last - first + 1 => {
                            Some(list.numbers().into_iter().map(Literal::Number).collect())
                        }
                        Some(other) => {
                            let rows = match other {
                                Literal::List { items, .. } => items.len(),
                                Literal::Numbers(list) => list.len(),
                                Literal::Number(_) => 1,
                            };
                            let kind =
                                ErrorKind::SequenceRows { name: d.name.name.clone(), steps: last - first + 1, rows };
                            return Err(Error::new(kind, other.span()));
                        }
                    };
                    // The declaration without its literal, copied once per
                    // step: copying the whole literal at each step was
                    // quadratic in the steps (10 000 took 6 s to check).
                    let bare = ast::TensorDecl { value: None, time: None, ..d.clone() };
                    for k in first..=last {
                        let value = rows.as_ref().map(|r| r[(k - first) as usize].clone());
                        items.push(Item::Tensor(ast::TensorDecl { name: renamed(&d.name, k), value, ..bare.clone() }));
                    }
                }
            },
            Item::Equation(e) => match &e.time {
                None => items.push(Item::Equation(ast::Equation { value: u.expr(&e.value, None)?, ..e.clone() })),
                Some(TimeIndex { kind: TimeIndexKind::Step(k), .. }) => items.push(Item::Equation(ast::Equation {
                    name: renamed(&e.name, *k),
                    time: None,
                    value: u.expr(&e.value, None)?,
                    span: e.span,
                })),
                Some(_) => {
                    for k in first..=last {
                        items.push(Item::Equation(ast::Equation {
                            name: renamed(&e.name, k),
                            time: None,
                            value: u.expr(&e.value, Some(k))?,
                            span: e.span,
                        }));
                    }
                }
            },
            Item::Loss(e) => items.push(Item::Loss(ast::Equation { value: u.expr(&e.value, None)?, ..e.clone() })),
            Item::Function(f) => items.push(Item::Function(ast::FnDef { body: u.expr(&f.body, None)?, ..f.clone() })),
            Item::Train(t) => items.push(Item::Train(t.clone())),
            Item::Layout(l) => items.push(Item::Layout(l.clone())),
        }
    }
    let timeline = Timeline { index: range.index.to_string(), first, last, sequences };
    Ok(Some((ast::File { items, comments: file.comments.clone() }, timeline)))
}

/// How many nodes an expression has (its nesting is bounded by the parser).
fn size(e: &Expr) -> u64 {
    1 + match &e.kind {
        ExprKind::Number(_) | ExprKind::Name(_) | ExprKind::Indexed { .. } | ExprKind::Sliced { .. } => 0,
        ExprKind::Neg(x) | ExprKind::Transpose(x) | ExprKind::Paren(x) => size(x),
        ExprKind::Over { body, .. } => size(body),
        ExprKind::List(items) => items.iter().map(size).sum::<u64>(),
        ExprKind::Binary { lhs, rhs, .. } => size(lhs) + size(rhs),
        ExprKind::Call { args, keywords, .. } => {
            args.iter().map(size).sum::<u64>() + keywords.iter().map(|k| size(&k.value)).sum::<u64>()
        }
    }
}

fn duplicate(name: &Ident, first: Span) -> Error {
    Error::new(ErrorKind::Duplicate { name: name.name.clone(), first }, name.span)
}

fn renamed(name: &Ident, k: u64) -> Ident {
    Ident { name: step_name(&name.name, k), span: name.span }
}

impl<'a> Unroller<'a> {
    /// The steps a declaration or equation at `time` defines.
    fn defined_steps(&self, time: &TimeIndex) -> Result<(u64, u64), Error> {
        let Some(range) = &self.range else {
            return Err(Error::new(ErrorKind::NoSteps, time.span));
        };
        match &time.kind {
            TimeIndexKind::Step(k) => Ok((*k, *k)),
            TimeIndexKind::Relative { index, offset } => {
                if index.name != range.index {
                    let kind = ErrorKind::UnknownIndex { found: index.name.clone(), index: range.index.to_string() };
                    return Err(Error::new(kind, index.span));
                }
                if *offset != 0 {
                    return Err(Error::new(ErrorKind::OffsetInDefinition, time.span));
                }
                Ok((range.first, range.last))
            }
        }
    }

    /// `e` with every time index resolved at step `now` (`None` outside
    /// time-indexed equations) and every sum over time written out.
    fn expr(&self, e: &Expr, now: Option<u64>) -> Result<Expr, Error> {
        let kind = match &e.kind {
            ExprKind::Number(_) => e.kind.clone(),
            ExprKind::Name(n) => {
                if self.defined.contains_key(n.name.as_str()) {
                    return Err(Error::new(ErrorKind::SequenceWithoutIndex { name: n.name.clone() }, n.span));
                }
                e.kind.clone()
            }
            // `W[x]` with `x` a declared tensor that is not a sequence (and
            // not the time index): an embedding lookup, for the checker.
            ExprKind::Indexed {
                index: TimeIndex { kind: TimeIndexKind::Relative { index, offset: 0 }, .. }, ..
            } if self.untimed.contains_key(index.name.as_str())
                && self.range.as_ref().is_none_or(|r| r.index != index.name) =>
            {
                e.kind.clone()
            }
            ExprKind::Indexed { name, index } => ExprKind::Name(self.step_of(name, index, now)?),
            // A slice of a tensor that is not a sequence; a sequence's steps
            // are not sliced (`h[t][:, 0:2]` does not parse).
            ExprKind::Sliced { name, .. } => {
                if self.defined.contains_key(name.name.as_str()) {
                    return Err(Error::new(ErrorKind::SequenceWithoutIndex { name: name.name.clone() }, name.span));
                }
                e.kind.clone()
            }
            ExprKind::Neg(x) => ExprKind::Neg(Box::new(self.expr(x, now)?)),
            ExprKind::Transpose(x) => ExprKind::Transpose(Box::new(self.expr(x, now)?)),
            ExprKind::Paren(x) => ExprKind::Paren(Box::new(self.expr(x, now)?)),
            ExprKind::Binary { op, op_span, lhs, rhs } => ExprKind::Binary {
                op: *op,
                op_span: *op_span,
                lhs: Box::new(self.expr(lhs, now)?),
                rhs: Box::new(self.expr(rhs, now)?),
            },
            // The entries of a list are numbers: nothing to unroll.
            ExprKind::List(_) => e.kind.clone(),
            ExprKind::Over { .. } => {
                return Err(Error::new(ErrorKind::OverOutsideSum { func: "this expression".into() }, e.span))
            }
            ExprKind::Call { func, args, keywords } => {
                if let [Expr { kind: ExprKind::Over { body, index }, span }] = args.as_slice() {
                    if matches!(func.name.as_str(), "sum" | "mean") && keywords.is_empty() {
                        return self.over_time(e, func, body, index, *span);
                    }
                }
                if let Some(over) = args.iter().find(|a| matches!(a.kind, ExprKind::Over { .. })) {
                    return Err(Error::new(ErrorKind::OverOutsideSum { func: func.name.clone() }, over.span));
                }
                let mut new_args = Vec::with_capacity(args.len());
                for a in args {
                    new_args.push(self.expr(a, now)?);
                }
                let mut new_keywords = Vec::with_capacity(keywords.len());
                for k in keywords {
                    new_keywords.push(ast::KeywordArg { name: k.name.clone(), value: self.expr(&k.value, now)? });
                }
                ExprKind::Call { func: func.clone(), args: new_args, keywords: new_keywords }
            }
        };
        Ok(Expr { kind, span: e.span })
    }

    /// `sum(body for t)`: `body[first] + … + body[last]` as a balanced tree
    /// (nesting log T deep); `mean` divides by T.
    fn over_time(&self, call: &Expr, func: &Ident, body: &Expr, index: &Ident, over: Span) -> Result<Expr, Error> {
        let Some(range) = &self.range else {
            return Err(Error::new(ErrorKind::NoSteps, over));
        };
        if index.name != range.index {
            let kind = ErrorKind::UnknownIndex { found: index.name.clone(), index: range.index.to_string() };
            return Err(Error::new(kind, index.span));
        }
        let mut terms = Vec::with_capacity((range.last - range.first + 1) as usize);
        for k in range.first..=range.last {
            terms.push(self.expr(body, Some(k))?);
        }
        let op_span = func.span;
        let mut total = balanced_sum(terms, op_span);
        if func.name == "mean" {
            let n = range.last - range.first + 1;
            let count = Expr {
                kind: ExprKind::Number(ast::Number {
                    text: n.to_string(),
                    value: num_rational::BigRational::from_integer(n.into()),
                    span: op_span,
                }),
                span: op_span,
            };
            total = Expr {
                kind: ExprKind::Binary {
                    op: BinOp::Div,
                    op_span,
                    lhs: Box::new(Expr { kind: ExprKind::Paren(Box::new(total)), span: call.span }),
                    rhs: Box::new(count),
                },
                span: call.span,
            };
        }
        Ok(Expr { kind: ExprKind::Paren(Box::new(total)), span: call.span })
    }

    /// The unrolled name of `name[index]` at step `now`.
    fn step_of(&self, name: &Ident, index: &TimeIndex, now: Option<u64>) -> Result<Ident, Error> {
        let Some(range) = &self.range else {
            let kind = match index.kind {
                TimeIndexKind::Step(at) => ErrorKind::NoStepsInteger { name: name.name.clone(), at },
                _ => ErrorKind::NoSteps,
            };
            return Err(Error::new(kind, index.span));
        };
        let mut at = None;
        let step = match &index.kind {
            TimeIndexKind::Step(k) => Some(*k),
            TimeIndexKind::Relative { index: i, offset } => {
                if i.name != range.index {
                    let kind = ErrorKind::UnknownIndex { found: i.name.clone(), index: range.index.to_string() };
                    return Err(Error::new(kind, i.span));
                }
                let Some(now) = now else {
                    return Err(Error::new(ErrorKind::IndexOutsideTime { index: i.name.clone() }, i.span));
                };
                at = Some((i.name.clone(), now, *offset));
                now.checked_add_signed(*offset)
            }
        };
        let Some(defined) = self.defined.get(name.name.as_str()) else {
            if self.untimed.contains_key(name.name.as_str()) {
                return Err(Error::new(ErrorKind::NotASequence { name: name.name.clone() }, index.span));
            }
            // Unknown altogether: the checker reports the unknown name.
            return Ok(Ident { name: name.name.clone(), span: name.span });
        };
        match step {
            Some(k) if defined.contains(k) => Ok(renamed(name, k)),
            _ => {
                let (step, at) = match at {
                    Some((index, now, offset)) => {
                        let written = match offset {
                            0 => format!("{}[{index}]", name.name),
                            o if o > 0 => format!("{}[{index}+{o}]", name.name),
                            o => format!("{}[{index}-{}]", name.name, o.unsigned_abs()),
                        };
                        (now as i128 + offset as i128, Some(format!("{written} at {index} = {now}")))
                    }
                    None => (step.unwrap_or_default() as i128, None),
                };
                let kind = ErrorKind::UndefinedStep { name: name.name.clone(), step, at, defined: defined.describe() };
                Err(Error::new(kind, name.span.to(index.span)))
            }
        }
    }
}

/// `a + b + …` as a balanced tree of additions.
fn balanced_sum(mut terms: Vec<Expr>, op_span: Span) -> Expr {
    while terms.len() > 1 {
        let mut next = Vec::with_capacity(terms.len().div_ceil(2));
        let mut it = terms.into_iter();
        while let Some(a) = it.next() {
            match it.next() {
                Some(b) => {
                    let span = a.span.to(b.span);
                    next.push(Expr {
                        kind: ExprKind::Binary { op: BinOp::Add, op_span, lhs: Box::new(a), rhs: Box::new(b) },
                        span,
                    });
                }
                None => next.push(a),
            }
        }
        terms = next;
    }
    terms.pop().unwrap_or(Expr {
        kind: ExprKind::Number(ast::Number {
            text: "0".into(),
            value: num_rational::BigRational::from_integer(0.into()),
            span: op_span,
        }),
        span: op_span,
    })
}
