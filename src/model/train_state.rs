//! The state a `train` statement starts from (CS231n's `config`):
//! `velocity = v0`, `cache = [c1, c2]`, `t = 5`. A kept quantity is given
//! as one `const` tensor per parameter, of that parameter's shape: a single
//! name when the file has one parameter, else a bracketed list in the order
//! the parameters are declared. A kept quantity not given starts at zero.

use indexmap::IndexMap;
use num_rational::BigRational;
use num_traits::{Signed, ToPrimitive};

use super::error::{Error, ErrorKind};
use super::expr::TensorId;
use super::optimizer::{Held, Kind, StateArg, MAX_TAKEN};
use super::{InitialState, NamedTensor, Role};
use crate::syntax::ast;

/// The state arguments read so far, each checked on its own; the names are
/// matched to the parameters by [`Start::finish`].
#[derive(Default)]
pub(super) struct Start {
    kept: Vec<(super::optimizer::Quantity, Vec<TensorId>)>,
    taken: u32,
}

impl Start {
    /// Reads `arg`, the part `part` of `kind`'s state.
    pub(super) fn add(
        &mut self,
        kind: &'static Kind,
        part: &'static StateArg,
        arg: &ast::TrainArg,
        tensors: &IndexMap<String, NamedTensor>,
    ) -> Result<(), Error> {
        match (part.holds, &arg.value) {
            (Held::Taken, ast::TrainValue::Number(n)) => {
                self.taken = taken(&n.value)
                    .ok_or_else(|| Error::new(ErrorKind::BadTaken { name: part.name, limit: MAX_TAKEN }, n.span))?;
                Ok(())
            }
            (Held::Taken, ast::TrainValue::State(s)) => {
                Err(Error::new(ErrorKind::BadTaken { name: part.name, limit: MAX_TAKEN }, s.span))
            }
            (Held::Kept(_), ast::TrainValue::Number(n)) => {
                Err(Error::new(ErrorKind::StateNeedsTensors { optimizer: kind.name, part: *part }, n.span))
            }
            (Held::Kept(quantity), ast::TrainValue::State(s)) => {
                let params: Vec<(usize, &NamedTensor)> =
                    tensors.values().enumerate().filter(|(_, t)| t.role == Role::Param).collect();
                if s.names.len() != params.len() || (params.len() > 1 && !s.bracketed) {
                    let kind = ErrorKind::StateCount {
                        setting: part.name,
                        given: s.names.len(),
                        params: params.iter().map(|(_, p)| p.name.clone()).collect(),
                    };
                    return Err(Error::new(kind, s.span));
                }
                let mut ids = Vec::with_capacity(params.len());
                for (name, (_, param)) in s.names.iter().zip(&params) {
                    let Some((i, _, tensor)) = tensors.get_full(&name.name) else {
                        let suggestion = crate::diagnostic::suggest(
                            &name.name,
                            tensors.values().filter(|t| t.role == Role::Const).map(|t| t.name.as_str()),
                        );
                        let kind = ErrorKind::StateNotConst { name: name.name.clone(), role: None, suggestion };
                        return Err(Error::new(kind, name.span));
                    };
                    if tensor.role != Role::Const {
                        let kind = ErrorKind::StateNotConst {
                            name: name.name.clone(),
                            role: Some(tensor.role),
                            suggestion: None,
                        };
                        return Err(Error::new(kind, name.span));
                    }
                    if tensor.shape != param.shape {
                        let kind = ErrorKind::StateShape {
                            setting: part.name,
                            name: name.name.clone(),
                            shape: tensor.shape.clone(),
                            param: param.name.clone(),
                            param_shape: param.shape.clone(),
                        };
                        return Err(Error::new(kind, name.span));
                    }
                    ids.push(TensorId(i as u32));
                }
                self.kept.push((quantity, ids));
                Ok(())
            }
        }
    }

    /// The initial state of each of `params` (the parameters in declaration
    /// order) and the count of updates taken.
    pub(super) fn finish(self, params: &[TensorId]) -> (Vec<InitialState>, u32) {
        let state = self
            .kept
            .into_iter()
            .flat_map(|(quantity, ids)| {
                params.iter().zip(ids).map(move |(&param, tensor)| InitialState { param, quantity, tensor })
            })
            .collect();
        (state, self.taken)
    }
}

/// `t` as a count: a whole number from 0 to [`MAX_TAKEN`].
fn taken(v: &BigRational) -> Option<u32> {
    (v.is_integer() && !v.is_negative()).then(|| v.to_integer().to_u32()).flatten().filter(|&n| n <= MAX_TAKEN)
}
