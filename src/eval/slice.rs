//! Numeric kernels of a slice `A[r]` and of its gradient `unslice(G, r)`:
//! entries copied, never computed, so exact, f64 and open (symbolic)
//! values all pass through unchanged.

use num_rational::BigRational;
use num_traits::Zero;

use super::symbolic::{Num, Sym};
use super::tensor::{Data, NumericError, Tensor};
use crate::model::slice::Ranges;

/// `t[ranges]`: the entries of each axis's half-open range.
pub fn slice(t: &Tensor, ranges: &Ranges) -> Result<Tensor, NumericError> {
    if ranges.0.len() != t.dims().len() || ranges.0.iter().zip(t.dims()).any(|(&(_, e), &n)| e > n) {
        return Err(Tensor::shape_error(format!("cannot take {ranges:?} of {:?}", t.dims())));
    }
    let picks = ranges.source_indices(t.dims());
    let dims = ranges.shape().0;
    let data = match t.data() {
        Data::Exact(v) => Data::Exact(picks.iter().map(|&i| v[i].clone()).collect()),
        Data::Float(v) => Data::Float(picks.iter().map(|&i| v[i]).collect()),
        Data::Symbolic(v) => Data::Symbolic(picks.iter().map(|&i| v[i].clone()).collect()),
    };
    Ok(from_data(dims, data)?.with_capped(t.capped()))
}

/// `unslice(g, ranges)` into `source`: g's entries at the ranges, zeros elsewhere.
pub fn unslice(g: &Tensor, ranges: &Ranges, source: &[usize]) -> Result<Tensor, NumericError> {
    if g.dims() != ranges.shape().dims() || ranges.0.len() != source.len() {
        return Err(Tensor::shape_error(format!("cannot place {:?} at {ranges:?} of {source:?}", g.dims())));
    }
    let n: usize = source.iter().product();
    let places = ranges.source_indices(source);
    let data = match g.data() {
        Data::Exact(v) => Data::Exact(scatter(n, &places, v, BigRational::zero())),
        Data::Float(v) => Data::Float(scatter(n, &places, v, 0.0)),
        Data::Symbolic(v) => Data::Symbolic(scatter(n, &places, v, Sym::constant(Num::Exact(BigRational::zero())))),
    };
    Ok(from_data(source.to_vec(), data)?.with_capped(g.capped()))
}

/// `n` zeros with `values[k]` at `places[k]`.
fn scatter<T: Clone>(n: usize, places: &[usize], values: &[T], zero: T) -> Vec<T> {
    let mut out = vec![zero; n];
    for (&at, v) in places.iter().zip(values) {
        out[at] = v.clone();
    }
    out
}

/// A tensor of `data` laid out in `dims`; open entries that all became
/// numbers are numbers again.
pub(super) fn from_data(dims: Vec<usize>, data: Data) -> Result<Tensor, NumericError> {
    Ok(match data {
        Data::Exact(v) => Tensor::exact(dims, v),
        Data::Float(v) => Tensor::float(dims, v),
        Data::Symbolic(v) => Tensor::symbolic(dims, v)?,
    })
}
