//! Numeric kernels of batches, written once for exact and f64 values: the
//! sum of a matrix along an axis, and softmax and log_softmax of a matrix
//! along an axis (each column, or each row, a softmax of its own).

use num_rational::BigRational;
use num_traits::{One, Zero};

use super::exact::{common_denominator, over_denominator};
use super::tensor::{Data, NumericError, NumericErrorKind, Tensor};
use crate::model::{Axis, Shape};

/// The matrix view `(rows, cols)` of a tensor of rank ≤ 2.
fn matrix(t: &Tensor) -> Result<(usize, usize), NumericError> {
    Shape::matrix_of(t.dims()).ok_or_else(|| Tensor::shape_error(format!("{:?} is not a vector or a matrix", t.dims())))
}

/// The flat indices of each lane along `axis` of an `m × n` matrix: the
/// columns (axis 0) or the rows (axis 1), each lane in order.
fn lanes(m: usize, n: usize, axis: Axis) -> impl Iterator<Item = Vec<usize>> {
    let (count, len) = if axis == Axis::DOWN { (n, m) } else { (m, n) };
    (0..count).map(move |lane| {
        (0..len).map(|k| if axis == Axis::DOWN { k * n + lane } else { lane * n + k }).collect::<Vec<_>>()
    })
}

/// The sum along `axis`: the row `[1, n]` of column sums (axis 0), or the
/// column `[m]` of row sums (axis 1), as `Shape::sum_axis` says.
pub fn sum_axis(t: &Tensor, axis: Axis) -> Result<Tensor, NumericError> {
    let (m, n) = matrix(t)?;
    let dims = Shape(t.dims().to_vec()).sum_axis(axis).0;
    let out = match t.data() {
        Data::Exact(v) => {
            let sums = lanes(m, n, axis)
                .map(|lane| {
                    // Over the lane's common denominator, reduced once.
                    let denom = common_denominator(lane.iter().map(|&i| &v[i]));
                    let numer = lane.iter().map(|&i| over_denominator(&v[i], &denom)).sum();
                    BigRational::new(numer, denom)
                })
                .collect();
            Tensor::settle(dims, sums)?
        }
        Data::Float(v) => {
            Tensor::float_checked(dims, lanes(m, n, axis).map(|l| l.iter().map(|&i| v[i]).sum()).collect())?
        }
        Data::Symbolic(v) => {
            let mut sums = Vec::new();
            for lane in lanes(m, n, axis) {
                let lane = Tensor::symbolic(vec![lane.len()], lane.iter().map(|&i| v[i].clone()).collect())?;
                sums.push(lane.sum()?);
            }
            gather(dims, &sums)?
        }
    };
    Ok(out.with_capped(t.capped()))
}

/// Scalars (numbers or expressions) laid out as a tensor of `dims`.
fn gather(dims: Vec<usize>, scalars: &[Tensor]) -> Result<Tensor, NumericError> {
    let mut entries = Vec::with_capacity(scalars.len());
    for s in scalars {
        entries.extend(s.sym_entries());
    }
    Tensor::symbolic(dims, entries)
}

/// Class labels as one-hot targets of `dims` (`[C, N]` for classes along
/// axis 0, `[N, C]` for axis 1, `[C]` or `[1, C]` for one label): 1 at the
/// label's class, 0 elsewhere, exactly. A label that is not a whole number
/// from 0 to C − 1 is an error naming its entry.
pub fn one_hot(labels: &Tensor, classes: usize, axis: Axis, dims: &[usize]) -> Result<Tensor, NumericError> {
    let n = labels.len();
    let mut out = vec![BigRational::zero(); classes * n];
    for i in 0..n {
        let value = labels.entry_f64(i);
        let whole = match labels.data() {
            Data::Exact(v) => v[i].is_integer(),
            Data::Float(_) => value.fract() == 0.0,
            Data::Symbolic(_) => {
                let kind = NumericErrorKind::Unknowns { operation: "reading class labels" };
                return Err(NumericError { kind, index: labels.index_of(i) });
            }
        };
        if !whole || value < 0.0 || value >= classes as f64 {
            let kind = NumericErrorKind::NotAClass { value, classes };
            return Err(NumericError { kind, index: labels.index_of(i) });
        }
        let k = value as usize;
        out[if axis == Axis::DOWN { k * n + i } else { i * classes + k }] = BigRational::one();
    }
    Ok(Tensor::exact(dims.to_vec(), out).with_capped(labels.capped()))
}

/// softmax along `axis`, each lane computed after subtracting its maximum;
/// a vector's over all its entries.
pub fn softmax(t: &Tensor, axis: Axis) -> Result<Tensor, NumericError> {
    if t.is_symbolic() {
        return along_symbolic(t, axis, Tensor::softmax);
    }
    along(t, axis, |lane| {
        let max = lane.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = lane.iter().map(|x| (x - max).exp()).collect();
        let total: f64 = e.iter().sum();
        e.into_iter().map(|x| x / total).collect()
    })
}

/// softmax along `axis` over the entries where `mask` is 1, each lane
/// after subtracting its largest kept score: a masked score counts as −∞,
/// so its weight is exactly 0 and the kept weights of a lane sum to 1. A
/// lane with nothing kept has no softmax (the checker refuses such a mask).
pub fn masked_softmax(t: &Tensor, mask: &Tensor, axis: Axis) -> Result<Tensor, NumericError> {
    if mask.dims() != t.dims() {
        return Err(Tensor::shape_error(format!("a mask {:?} for scores {:?}", mask.dims(), t.dims())));
    }
    // The checker refuses other masks; a value given later is checked here.
    if mask.is_symbolic() {
        return Err(NumericError { kind: NumericErrorKind::Unknowns { operation: "a masked softmax" }, index: vec![] });
    }
    let (m, n) = matrix(t)?;
    let axis = Shape(t.dims().to_vec()).vector_axis().unwrap_or(axis);
    let values = mask.to_f64_vec();
    if let Some(i) = values.iter().position(|&x| x != 0.0 && x != 1.0) {
        return Err(NumericError { kind: NumericErrorKind::NotAMask(values[i]), index: mask.index_of(i) });
    }
    let kept: Vec<bool> = values.iter().map(|&x| x == 1.0).collect();
    if let Some(lane) = lanes(m, n, axis).find(|lane| lane.iter().all(|&i| !kept[i])) {
        let kind = NumericErrorKind::MaskKeepsNothing { row: axis == Axis::ACROSS };
        return Err(NumericError { kind, index: vec![lane[0] / n, lane[0] % n] });
    }
    if t.is_symbolic() {
        use super::symbolic::{Num, Sym};
        let entries = t.sym_entries();
        let mut out = vec![Sym::constant(Num::zero()); entries.len()];
        for lane in lanes(m, n, axis) {
            let on: Vec<usize> = lane.into_iter().filter(|&i| kept[i]).collect();
            let values = Tensor::symbolic(vec![on.len()], on.iter().map(|&i| entries[i].clone()).collect())?;
            for (i, x) in on.into_iter().zip(values.softmax()?.sym_entries()) {
                out[i] = x;
            }
        }
        return Ok(Tensor::symbolic(t.dims().to_vec(), out)?.with_capped(t.capped()));
    }
    let v = t.float_view();
    let mut out = vec![0.0; v.len()];
    for lane in lanes(m, n, axis) {
        let on: Vec<usize> = lane.into_iter().filter(|&i| kept[i]).collect();
        let max = on.iter().map(|&i| v[i]).fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = on.iter().map(|&i| (v[i] - max).exp()).collect();
        let total: f64 = e.iter().sum();
        for (i, x) in on.into_iter().zip(e) {
            out[i] = x / total;
        }
    }
    Ok(Tensor::float_checked(t.dims().to_vec(), out)?.with_capped(t.capped()))
}

/// log_softmax along `axis`, each lane by log-sum-exp; a vector's over all its entries.
pub fn log_softmax(t: &Tensor, axis: Axis) -> Result<Tensor, NumericError> {
    if t.is_symbolic() {
        return along_symbolic(t, axis, Tensor::log_softmax);
    }
    along(t, axis, |lane| {
        let max = lane.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + lane.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        lane.iter().map(|x| x - lse).collect()
    })
}

/// `f` applied to each lane along `axis` of a tensor with entries left
/// open, each lane as a vector of expressions.
fn along_symbolic(
    t: &Tensor,
    axis: Axis,
    f: impl Fn(&Tensor) -> Result<Tensor, NumericError>,
) -> Result<Tensor, NumericError> {
    let (m, n) = matrix(t)?;
    let axis = Shape(t.dims().to_vec()).vector_axis().unwrap_or(axis);
    let entries = t.sym_entries();
    let mut out = entries.clone();
    for lane in lanes(m, n, axis) {
        let values = Tensor::symbolic(vec![lane.len()], lane.iter().map(|&i| entries[i].clone()).collect())?;
        for (i, x) in lane.into_iter().zip(f(&values)?.sym_entries()) {
            out[i] = x;
        }
    }
    Ok(Tensor::symbolic(t.dims().to_vec(), out)?.with_capped(t.capped()))
}

/// `f` applied to each lane along `axis` (to all entries of a vector), in f64.
fn along(t: &Tensor, axis: Axis, f: impl Fn(&[f64]) -> Vec<f64>) -> Result<Tensor, NumericError> {
    let v = t.float_view();
    let (m, n) = matrix(t)?;
    let axis = Shape(t.dims().to_vec()).vector_axis().unwrap_or(axis);
    let mut out = vec![0.0; v.len()];
    for lane in lanes(m, n, axis) {
        let values: Vec<f64> = lane.iter().map(|&i| v[i]).collect();
        for (i, x) in lane.into_iter().zip(f(&values)) {
            out[i] = x;
        }
    }
    Ok(Tensor::float_checked(t.dims().to_vec(), out)?.with_capped(t.capped()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(dims: &[usize], v: &[i64]) -> Tensor {
        Tensor::exact(dims.to_vec(), v.iter().map(|&x| BigRational::from_integer(x.into())).collect())
    }

    #[test]
    fn sums_along_each_axis() {
        // [[1, 2, 3], [4, 5, 6]]: column sums [5, 7, 9], row sums [6, 15].
        let t = exact(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(sum_axis(&t, Axis::DOWN).unwrap(), exact(&[1, 3], &[5, 7, 9]));
        assert_eq!(sum_axis(&t, Axis::ACROSS).unwrap(), exact(&[2], &[6, 15]));
        let f = sum_axis(&t.to_float(), Axis::ACROSS).unwrap();
        assert_eq!(f.to_f64_vec(), vec![6.0, 15.0]);
    }

    #[test]
    fn class_labels_as_one_hot_columns_or_rows() {
        let labels = exact(&[3], &[2, 0, 1]);
        // Columns: example n has its 1 in row labels[n].
        let columns = one_hot(&labels, 3, Axis::DOWN, &[3, 3]).unwrap();
        assert_eq!(columns, exact(&[3, 3], &[0, 1, 0, 0, 0, 1, 1, 0, 0]));
        let rows = one_hot(&labels, 4, Axis::ACROSS, &[3, 4]).unwrap();
        assert_eq!(rows, exact(&[3, 4], &[0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0]));
        let bad = one_hot(&exact(&[2], &[1, 3]), 3, Axis::DOWN, &[3, 2]).unwrap_err();
        assert_eq!(bad.to_string(), "the class label 3 is not a whole number from 0 to 2 at entry [2] (NumPy [1])");
        let half = Tensor::exact(vec![], vec![BigRational::new(1.into(), 2.into())]);
        assert!(one_hot(&half, 2, Axis::DOWN, &[2]).is_err());
    }

    #[test]
    fn softmax_of_each_column_or_row() {
        let t = exact(&[2, 2], &[0, 1000, 0, 0]);
        let columns = softmax(&t, Axis::DOWN).unwrap().to_f64_vec();
        // Column 0 is [0, 0]: halves; column 1 is [1000, 0]: all on the first.
        assert_eq!(columns, vec![0.5, 1.0, 0.5, 0.0]);
        let rows = softmax(&t, Axis::ACROSS).unwrap().to_f64_vec();
        assert_eq!(rows, vec![0.0, 1.0, 0.5, 0.5]);
        let logs = log_softmax(&t, Axis::DOWN).unwrap().to_f64_vec();
        assert!((logs[0] + 2f64.ln()).abs() < 1e-15 && (logs[3] + 1000.0).abs() < 1e-9);
        // A vector's softmax is over its entries, whatever the axis.
        let v = exact(&[2], &[0, 0]);
        assert_eq!(softmax(&v, Axis::ACROSS).unwrap().to_f64_vec(), vec![0.5, 0.5]);
    }

    #[test]
    fn masked_softmax_gives_masked_entries_no_weight() {
        // Rows [0, 1000, 0] with the 1000 masked: halves over the others,
        // and exactly 0 where masked (no overflow from the masked score).
        let t = exact(&[2, 3], &[0, 1000, 0, 2, 5, 7]);
        let mask = exact(&[2, 3], &[1, 0, 1, 1, 0, 0]);
        let rows = masked_softmax(&t, &mask, Axis::ACROSS).unwrap().to_f64_vec();
        assert_eq!(rows, vec![0.5, 0.0, 0.5, 1.0, 0.0, 0.0]);
        // Down each column: column 1 keeps only its first entry.
        let cols = masked_softmax(&exact(&[2, 2], &[0, 3, 0, 9]), &exact(&[2, 2], &[1, 1, 1, 0]), Axis::DOWN).unwrap();
        assert_eq!(cols.to_f64_vec(), vec![0.5, 1.0, 0.5, 0.0]);
        // A row with nothing kept has no softmax.
        assert!(masked_softmax(&t, &exact(&[2, 3], &[1, 1, 1, 0, 0, 0]), Axis::ACROSS).is_err());
    }
}
