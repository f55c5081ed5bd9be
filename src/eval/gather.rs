//! Numeric kernels of an embedding lookup `W[x]` and of its gradient
//! `scatter_add(G, x)`, NumPy's `W[x]` and `np.add.at(dW, x, G)`.

use num_rational::BigRational;
use num_traits::Zero;

use super::slice::from_data;
use super::tensor::{Data, NumericError, NumericErrorKind, Tensor};

/// The ids as row numbers: each a whole number from 0 to `rows` − 1.
fn row_numbers(ids: &Tensor, rows: usize) -> Result<Vec<usize>, NumericError> {
    let mut out = Vec::with_capacity(ids.len());
    for i in 0..ids.len() {
        let value = ids.entry_f64(i);
        let whole = match ids.data() {
            Data::Exact(v) => v[i].is_integer(),
            Data::Float(_) => value.fract() == 0.0,
            Data::Symbolic(_) => {
                let kind = NumericErrorKind::Unknowns { operation: "an embedding lookup" };
                return Err(NumericError { kind, index: ids.index_of(i) });
            }
        };
        if !whole || value < 0.0 || value >= rows as f64 {
            let kind = NumericErrorKind::NotAnId { value, rows };
            return Err(NumericError { kind, index: ids.index_of(i) });
        }
        out.push(value as usize);
    }
    Ok(out)
}

/// `table[ids]`: row `ids[p]` of the table `[V, D]` at every position p,
/// laid out in `dims` (the ids' shape, then D).
pub fn gather(table: &Tensor, ids: &Tensor, dims: &[usize]) -> Result<Tensor, NumericError> {
    let [rows, width] = *table.dims() else {
        return Err(Tensor::shape_error(format!("a lookup's table is {:?}, not a matrix", table.dims())));
    };
    let picks: Vec<usize> = row_numbers(ids, rows)?.into_iter().flat_map(|k| k * width..(k + 1) * width).collect();
    let data = match table.data() {
        Data::Exact(v) => Data::Exact(picks.iter().map(|&i| v[i].clone()).collect()),
        Data::Float(v) => Data::Float(picks.iter().map(|&i| v[i]).collect()),
        Data::Symbolic(v) => Data::Symbolic(picks.iter().map(|&i| v[i].clone()).collect()),
    };
    Ok(from_data(dims.to_vec(), data)?.with_capped(table.capped() || ids.capped()))
}

/// `scatter_add(g, ids)`: the `[rows, D]` sums, row k adding up g's rows at
/// the positions where `ids` is k (zeros for a row no position picked).
pub fn scatter_add(g: &Tensor, ids: &Tensor, rows: usize) -> Result<Tensor, NumericError> {
    let width = g.dims().last().copied().unwrap_or(1);
    if g.len() != ids.len() * width {
        return Err(Tensor::shape_error(format!("cannot add {:?} into rows by ids {:?}", g.dims(), ids.dims())));
    }
    let ks = row_numbers(ids, rows)?;
    let data = match g.data() {
        Data::Exact(v) => Data::Exact(accumulate(&ks, v, width, rows, BigRational::zero(), |a, b| *a += b)),
        Data::Float(v) => Data::Float(accumulate(&ks, v, width, rows, 0.0, |a, b| *a += b)),
        Data::Symbolic(_) => {
            let kind = NumericErrorKind::Unknowns { operation: "an embedding lookup's gradient" };
            return Err(NumericError { kind, index: Vec::new() });
        }
    };
    Ok(from_data(vec![rows, width], data)?.with_capped(g.capped() || ids.capped()))
}

/// Row `ks[p]` of the result accumulates row p of `values`.
fn accumulate<T: Clone>(
    ks: &[usize],
    values: &[T],
    width: usize,
    rows: usize,
    zero: T,
    add: impl Fn(&mut T, &T),
) -> Vec<T> {
    let mut out = vec![zero; rows * width];
    for (p, &k) in ks.iter().enumerate() {
        for j in 0..width {
            add(&mut out[k * width + j], &values[p * width + j]);
        }
    }
    out
}
