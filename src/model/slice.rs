//! Slices (`a[:, 0:5]`) and embedding lookups (`W[x]`): what they mean in
//! the model. A slice keeps a half-open range `start..end` of every axis
//! (NumPy's basic slicing, whole numbers only); its gradient is the
//! slice's gradient placed back into zeros of the source's shape. A lookup
//! `W[x]` picks row `x[p]` of a table `W[V, D]` at every position `p` of
//! the ids `x`; its gradient accumulates each row's gradient over the
//! positions that picked it (NumPy's `np.add.at`).

use num_rational::BigRational;

use super::error::{Error, ErrorKind};
use super::shape::Shape;
use crate::syntax::ast::{Bound, BoundValue, Ident, SliceAxis, SliceAxisKind};
use crate::syntax::Span;

pub use super::ranges::Ranges;

/// The ranges a slice subscript keeps of `source`, a tensor named `name`;
/// `constant` gives the value of a named bound (a declared whole-number
/// constant) or the error that it is not one.
pub fn ranges(
    name: &str,
    source: &Shape,
    axes: &[SliceAxis],
    subscript: Span,
    constant: &dyn Fn(&Ident) -> Result<i64, Error>,
) -> Result<Ranges, Error> {
    let dims = source.dims();
    if axes.len() > dims.len() {
        let kind = ErrorKind::SliceRank { name: name.into(), shape: source.clone(), axes: axes.len() };
        return Err(Error::new(kind, subscript));
    }
    let mut out = Vec::with_capacity(dims.len());
    for (axis, a) in axes.iter().enumerate() {
        let len = dims[axis];
        let (start, end) = match &a.kind {
            SliceAxisKind::Index(b) => {
                let at = bound_value(b, constant)?;
                let kind = ErrorKind::SliceIndex { name: name.into(), axis, at, rank: dims.len() };
                return Err(Error::new(kind, a.span));
            }
            SliceAxisKind::Range { start, end } => (start, end),
        };
        let at = |b: &Option<Bound>, default: usize| -> Result<usize, Error> {
            let Some(b) = b else { return Ok(default) };
            let v = bound_value(b, constant)?;
            // A negative bound counts from the end, as in NumPy.
            let resolved = if v < 0 { len as i64 + v } else { v };
            if resolved < 0 || resolved > len as i64 {
                let kind = ErrorKind::SliceOutOfRange { name: name.into(), axis, bound: v, len };
                return Err(Error::new(kind, b.span));
            }
            Ok(resolved as usize)
        };
        let (s, e) = (at(start, 0)?, at(end, len)?);
        if s >= e {
            let kind = ErrorKind::SliceEmpty { name: name.into(), axis, start: s, end: e };
            return Err(Error::new(kind, a.span));
        }
        out.push((s, e));
    }
    out.extend(dims[axes.len()..].iter().map(|&n| (0, n)));
    Ok(Ranges(out))
}

fn bound_value(b: &Bound, constant: &dyn Fn(&Ident) -> Result<i64, Error>) -> Result<i64, Error> {
    match &b.value {
        BoundValue::Whole(n) => Ok(*n),
        BoundValue::Scaled { times, name } => {
            let v = constant(name)?;
            (*times as i64).checked_mul(v).ok_or_else(|| Error::new(ErrorKind::SliceBoundTooLarge, b.span))
        }
    }
}

/// The whole number a declared scalar constant holds, if it holds one.
pub fn whole_number(values: &[BigRational]) -> Option<i64> {
    match values {
        [v] if v.is_integer() => i64::try_from(v.to_integer()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_indices_walk_the_slice_row_major() {
        // [1:3, 0:2] of a 3×4 matrix: rows 1 and 2, columns 0 and 1.
        let r = Ranges(vec![(1, 3), (0, 2)]);
        assert_eq!(r.source_indices(&[3, 4]), [4, 5, 8, 9]);
        assert_eq!(r.shape(), Shape(vec![2, 2]));
        // A slice of the middle axis of [2, 3, 2].
        let r = Ranges(vec![(0, 2), (1, 2), (0, 2)]);
        assert_eq!(r.source_indices(&[2, 3, 2]), [2, 3, 8, 9]);
    }

    #[test]
    fn numpy_form_leaves_out_whole_axes_at_the_end() {
        let source = Shape(vec![3, 20]);
        assert_eq!(Ranges(vec![(0, 3), (0, 5)]).numpy(&source), "[:, :5]");
        assert_eq!(Ranges(vec![(0, 3), (15, 20)]).numpy(&source), "[:, 15:]");
        assert_eq!(Ranges(vec![(1, 3), (0, 20)]).numpy(&source), "[1:]");
        assert_eq!(Ranges(vec![(1, 2), (5, 10)]).numpy(&source), "[1:2, 5:10]");
        assert!(Ranges(vec![(0, 3), (0, 20)]).is_whole(&source));
    }

    #[test]
    fn whole_numbers_of_constants() {
        let r = |n: i64, d: i64| BigRational::new(n.into(), d.into());
        assert_eq!(whole_number(&[r(5, 1)]), Some(5));
        assert_eq!(whole_number(&[r(5, 2)]), None);
        assert_eq!(whole_number(&[r(1, 1), r(2, 1)]), None);
    }
}
