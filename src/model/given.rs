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
    let Some(id) = model.tensor_id(name) else {
        let suggestion = suggest(name, model.tensors.keys().map(String::as_str));
        return Err(Error::at(ErrorKind::GivenUnknown { name: name.to_string(), suggestion }, None));
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
