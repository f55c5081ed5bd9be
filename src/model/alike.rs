//! The check that no two names of a file are written alike in any notation
//! a reader sees (`yhat` and `y_hat` both print as ŷ), with the very
//! functions of [`super::names`] that every writer uses.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::error::{Error, ErrorKind};
use super::names::*;
use crate::syntax::ast;
use crate::syntax::Span;

/// Who first showed each form, and where.
#[derive(Default)]
struct Shown {
    by: HashMap<(Notation, String), (Printed, Span)>,
}

impl Shown {
    /// Records every form of `holder`, declared at `span`; the first form
    /// that another name shows already is an error.
    fn add(&mut self, holder: Printed, span: Span) -> Option<Error> {
        let mut clash = None;
        for (holder, n, form) in holder.forms() {
            let key = (n, form);
            match self.by.get(&key) {
                Some((other, first)) if other.declared() != holder.declared() => {
                    clash = clash.or_else(|| Some(alike((&holder, span), (other, *first), n, &key.1)));
                }
                Some(_) => {}
                None => {
                    self.by.insert(key, (holder, span));
                }
            }
        }
        clash
    }

    /// The first form of step `k` of `sequence` (declared at `span`) that
    /// another name shows too, as an error; the step itself is not
    /// recorded. `bases` is the sequence's name in each notation, in the
    /// order of [`Printed::forms`].
    fn find_step(&self, sequence: &str, bases: &[(Notation, String)], k: u64, span: Span) -> Option<Error> {
        bases.iter().find_map(|(n, base)| {
            let key = (*n, with_step(base.clone(), &StepLabel::At(k), *n));
            let (other, at) = self.by.get(&key)?;
            if other.declared() == sequence {
                return None;
            }
            let holder = Printed::Step { sequence: sequence.into(), step: StepLabel::At(k) };
            Some(alike((&holder, span), (other, *at), *n, &key.1))
        })
    }
}

/// Two names, each with where it is declared, that show as `shown` in
/// `notation`: an error at the later of the two.
fn alike(a: (&Printed, Span), b: (&Printed, Span), notation: Notation, shown: &str) -> Error {
    let ((name, span), (other, first)) = if b.1.start <= a.1.start { (a, b) } else { (b, a) };
    let kind =
        ErrorKind::PrintsAlike { name: name.clone(), other: other.clone(), shown: shown.to_string(), notation, first };
    Error::new(kind, span)
}

/// Two names of `file` that a writer would show alike: `yhat` and `y_hat`
/// (both ŷ), `Z2` and `Z_2` (both `Z_{2}` in LaTeX), a tensor `h_t` and
/// the sequence `h[t]` (both `h_t`), `h3` and step 3 of `h` (both
/// `h_{3}`), two functions `f2` and `f_2`, or two parameters of one
/// function. One error per name, at the later of the two.
///
/// The work is linear in the file and its steps: each name's forms are
/// looked up once, and each step of each sequence once, without being
/// stored (a file with more steps than the unroller allows is refused by
/// it, and its steps are not looked at here).
pub(crate) fn prints_alike(file: &ast::File) -> Vec<Error> {
    use ast::{Item, TimeIndexKind};
    let time = file.items.iter().find_map(|item| match item {
        Item::Steps(s) if s.first <= s.last && s.last - s.first < super::time::MAX_TIME_STEPS => Some(s),
        _ => None,
    });
    let index = time.map(|s| s.index.name.as_str());
    let mut shown = Shown::default();
    let mut errors = Vec::new();
    // Each sequence's statements: the steps they define, and where.
    let mut steps: Vec<(&str, u64, u64, Span)> = Vec::new();
    // Each sequence, and its statement at the time index (`h[t] = …`) or
    // else its first, in file order.
    let mut sequences: IndexMap<&str, (Span, bool)> = IndexMap::new();
    for item in &file.items {
        let (name, at) = match item {
            Item::Tensor(d) => (&d.name, &d.time),
            Item::Equation(e) | Item::Loss(e) => (&e.name, &e.time),
            Item::Function(f) => {
                errors.extend(shown.add(Printed::Function(f.name.name.clone()), f.name.span));
                // A function's parameters are its own: compared among themselves.
                let mut params = Shown::default();
                for p in &f.params {
                    let holder = Printed::Param { function: f.name.name.clone(), name: p.name.clone() };
                    errors.extend(params.add(holder, p.span));
                }
                continue;
            }
            Item::Steps(_) | Item::Train(_) | Item::Layout(_) => continue,
        };
        let Some(at) = at else {
            errors.extend(shown.add(Printed::Name(name.name.clone()), name.span));
            continue;
        };
        let (first, last) = match (&at.kind, time) {
            (TimeIndexKind::Step(k), _) => (*k, *k),
            (TimeIndexKind::Relative { .. }, Some(s)) => (s.first, s.last),
            // Without `steps`, the checker reports the index.
            (TimeIndexKind::Relative { .. }, None) => continue,
        };
        let templated = matches!(at.kind, TimeIndexKind::Relative { .. });
        match sequences.get_mut(name.name.as_str()) {
            None => {
                errors.extend(shown.add(Printed::Sequence(name.name.clone()), name.span));
                sequences.insert(&name.name, (name.span, templated));
            }
            Some(seen) if templated && !seen.1 => *seen = (name.span, true),
            Some(_) => {}
        }
        steps.push((&name.name, first, last, name.span));
    }
    // Any step may be named relative to the time index or to the last step
    // (`h_t`, `h_T`), at the statement that defines the sequence at `t`, or
    // else at its first. With an offset (`h_{t−1}`) a form holds a sign,
    // which no declared name's form does, so it can only meet another
    // sequence's form at the same offset, whose name prints like this
    // one's already.
    for (sequence, (span, _)) in sequences {
        if let Some(index) = index {
            let step = StepLabel::Relative { index: index.into(), offset: 0 };
            errors.extend(shown.add(Printed::Step { sequence: sequence.into(), step }, span));
        }
        errors.extend(shown.add(Printed::LastStep(sequence.into()), span));
    }
    let count = steps.iter().map(|&(_, a, b, _)| b - a + 1).fold(0, u64::saturating_add);
    if count <= super::time::MAX_UNROLLED_NODES {
        for &(sequence, first, last, span) in &steps {
            // The sequence's name in each notation, written once: each
            // step's form is it with the step's subscript, as `step_name`
            // writes it (and as `Printed::forms` of the step would give).
            let bases: Vec<(Notation, String)> = SHOWN.iter().map(|&n| (n, tensor_name(sequence, n))).collect();
            for k in first..=last {
                if let Some(e) = shown.find_step(sequence, &bases, k, span) {
                    errors.push(e);
                    break;
                }
            }
        }
    }
    errors
}
