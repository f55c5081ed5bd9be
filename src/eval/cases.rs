//! `--cases y=onehot`: the answer once for each one-hot value of a target,
//! each solved on its own (exactly, like any file with that value given).

use num_rational::BigRational;
use num_traits::{One, Zero};

use super::solve::{solve, Solution};
use crate::model::{with_value, Model, TensorId};

/// The cases to solve: a model with the target left open, and the values.
#[derive(Clone, Debug)]
pub struct Cases {
    /// The model with the target's value removed (its general answer).
    pub open: Model,
    pub target: TensorId,
    /// The target's value in each case, in order (e₁, e₂, …).
    pub values: Vec<Vec<BigRational>>,
}

/// One case solved.
#[derive(Clone, Debug)]
pub struct Case {
    /// The target's value in this case.
    pub value: Vec<BigRational>,
    pub solution: Solution,
}

/// Every case solved.
#[derive(Clone, Debug)]
pub struct SolvedCases {
    pub target: TensorId,
    pub cases: Vec<Case>,
}

impl Cases {
    /// One case per class: the target is eₖ, 1 in entry k and 0 elsewhere.
    pub fn one_hot(model: &Model, target: TensorId, classes: usize) -> Cases {
        let values = (0..classes)
            .map(|k| (0..classes).map(|i| if i == k { BigRational::one() } else { BigRational::zero() }).collect())
            .collect();
        Cases { open: crate::model::without_value(model.clone(), target), target, values }
    }

    /// Refuses cases whose solves together would pass the work budget
    /// ([`super::work`]): the cases × the work of one solve, pointing at
    /// the target's declaration.
    pub fn check_work(&self) -> Result<(), super::Error> {
        let target = self.open.tensor(self.target);
        let derivation = crate::derive::derive(&self.open);
        let work = super::work::pass_work(&self.open, &derivation);
        let per_solve = super::work::solve_work(&self.open, &work);
        let repeats = super::work::Repeats::Cases { cases: self.values.len(), name: target.name.clone() };
        super::work::check_passes(&self.open, repeats, &work, per_solve, Some(target.span))
    }

    /// Solves each case on its own, after [`Cases::check_work`].
    pub fn solve(&self) -> Result<SolvedCases, super::Error> {
        self.check_work()?;
        let dims = self.open.tensor(self.target).shape.dims().to_vec();
        let name = self.open.tensor(self.target).name.clone();
        let mut cases = Vec::with_capacity(self.values.len());
        for value in &self.values {
            // The target and its shape come from the model itself, so this
            // cannot fail for a case built by `one_hot`.
            let model = with_value(self.open.clone(), &name, &dims, value.clone()).map_err(|_| super::Error {
                kind: super::ErrorKind::Numeric {
                    quantity: name.clone(),
                    failure: super::Failure::Internal("a one-hot case does not fit its target"),
                },
                span: Some(self.open.tensor(self.target).span),
                after_step: None,
            })?;
            cases.push(Case { value: value.clone(), solution: solve(&model)? });
        }
        Ok(SolvedCases { target: self.target, cases })
    }
}
