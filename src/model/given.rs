//! Values given from outside the file (a notebook's arrays, a command line's
//! `--given NAME=LITERAL`) in place of a declared tensor's value.

use num_rational::BigRational;

use super::error::{Error, ErrorKind};
use super::shape::Shape;
use super::Model;
use crate::diagnostic::suggest;

/// `model` with the value of the declared tensor `name` replaced by
/// `entries` (row-major) of shape `dims`. Everything derived later (the
/// formulas' conditions such as Σy = 1, the values) sees the new value.
///
/// A `[n]` tensor also takes an `[n, 1]` value (they are the same column).
/// The errors point at the declaration: an unknown name, a name defined by an
/// equation, or a value of the wrong shape (saying so when it is the transpose).
pub fn with_value(mut model: Model, name: &str, dims: &[usize], entries: Vec<BigRational>) -> Result<Model, Error> {
    let Some(id) = file_tensor(&model, name) else {
        return Err(unknown(&model, name));
    };
    let tensor = model.tensor(id);
    if !tensor.role.is_data() {
        return Err(Error::new(ErrorKind::GivenNotData { name: name.to_string() }, tensor.span));
    }
    let given = Shape(dims.to_vec());
    if given.len() != entries.len() || !(given.same_as(&tensor.shape) || given == tensor.shape) {
        let given = if given.len() == entries.len() { given } else { Shape(vec![entries.len()]) };
        return Err(Error::new(
            ErrorKind::GivenShape { name: name.to_string(), declared: tensor.shape.clone(), given },
            tensor.span,
        ));
    }
    model.tensors[id.0 as usize].value =
        Some(entries.into_iter().map(crate::syntax::ast::Decimal::from_rational).collect());
    Ok(model)
}

use super::error::GivenFault;

/// The file's tensor `name`: a pre-activation nnderive named is no name of
/// the file, so a value given for it is for an unknown name.
fn file_tensor(model: &Model, name: &str) -> Option<super::TensorId> {
    model.tensor_id(name).filter(|&id| model.introduced_for(id).is_none())
}

/// A value given for a name the file does not have, with the nearest of its names.
fn unknown(model: &Model, name: &str) -> Error {
    let own = model.ids().filter(|&id| model.introduced_for(id).is_none());
    let suggestion = suggest(name, own.map(|id| model.tensor(id).name.as_str()));
    Error::at(ErrorKind::GivenUnknown { name: name.to_string(), suggestion }, None)
}

/// The error for a value given for `name` that has `fault`: at the
/// declaration, as [`with_value`] reports a wrong shape; an unknown name or
/// an equation's name is reported as [`with_value`] reports it.
pub fn refuse_value(model: &Model, name: &str, fault: GivenFault) -> Error {
    let Some(id) = file_tensor(model, name) else {
        return unknown(model, name);
    };
    let tensor = model.tensor(id);
    if !tensor.role.is_data() {
        return Error::new(ErrorKind::GivenNotData { name: name.to_string() }, tensor.span);
    }
    Error::new(ErrorKind::GivenFault { name: name.to_string(), shape: tensor.shape.clone(), fault }, tensor.span)
}

/// `model` with the declared tensor `name` given the value `literal`, both
/// read from outside the file (`--given 'y=[0, 1]'`): the errors point into
/// that text (an unknown name, an equation's name, a value of the wrong shape).
pub fn with_literal(
    mut model: Model,
    name: &crate::syntax::ast::Ident,
    literal: &crate::syntax::ast::Literal,
) -> Result<Model, Error> {
    let Some(id) = file_tensor(&model, &name.name) else {
        return Err(Error { span: Some(name.span), ..unknown(&model, &name.name) });
    };
    if model.tensor(id).definition.is_some() {
        return Err(Error::new(ErrorKind::GivenNotData { name: name.name.clone() }, name.span));
    }
    let shape = model.tensor(id).shape.clone();
    let values = super::check::literal_values(literal, &shape)?;
    model.tensors[id.0 as usize].value = Some(values);
    Ok(model)
}

/// The most one-hot cases `--cases` solves: each is a whole solve, and
/// the answers are shown side by side, so the output grows with the square
/// of the classes (300 classes printed 164 MB); 64 columns are already more
/// than a reader compares.
pub const MAX_CASES: usize = 64;

/// The target of `--cases NAME=onehot` and its number of classes; the
/// errors point into `argument`.
pub fn one_hot_target(model: &Model, argument: &str) -> Result<(super::TensorId, usize), Error> {
    let at = |start: usize, end: usize| crate::syntax::Span {
        start,
        end,
        line: 1,
        column: argument[..start].chars().count() as u32 + 1,
        end_line: 1,
    };
    let (name, kind, kind_at) = match argument.split_once('=') {
        Some((n, k)) => (n.trim(), k.trim(), argument.len() - k.trim_start().len()),
        None => (argument.trim(), "", argument.len()),
    };
    let name_at = argument.len() - argument.trim_start().len();
    let name_span = at(name_at, name_at + name.len());
    if kind != "onehot" {
        return Err(Error::new(ErrorKind::CasesKind { found: kind.to_string() }, at(kind_at, kind_at + kind.len())));
    }
    let Some(id) = model.tensor_id(name) else {
        let suggestion = suggest(name, model.tensors.keys().map(String::as_str));
        return Err(Error::new(ErrorKind::GivenUnknown { name: name.to_string(), suggestion }, name_span));
    };
    let tensor = model.tensor(id);
    if tensor.definition.is_some() {
        return Err(Error::new(ErrorKind::GivenNotData { name: name.to_string() }, name_span));
    }
    match tensor.shape.dims() {
        [n] | [n, 1] if *n > MAX_CASES => Err(Error::new(
            ErrorKind::CasesTooMany { name: name.to_string(), classes: *n, limit: MAX_CASES },
            name_span,
        )),
        [n] | [n, 1] if *n > 0 => Ok((id, *n)),
        _ => Err(Error::new(ErrorKind::CasesShape { name: name.to_string(), shape: tensor.shape.clone() }, name_span)),
    }
}

/// `model` with the value of `id` removed: left open, it becomes a symbol.
pub fn without_value(mut model: Model, id: super::TensorId) -> Model {
    model.tensors[id.0 as usize].value = None;
    model
}
