//! [`Ranges`]: the part of a tensor a slice keeps, as the graph's slice
//! and unslice nodes hold it (see `slice.rs` for what slices mean).

use super::shape::Shape;

/// The kept range `start..end` of each axis of the sliced tensor, every
/// axis listed (an axis the subscript leaves out is `0..len`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ranges(pub Vec<(usize, usize)>);

impl Ranges {
    /// The shape of the slice: each range's length.
    pub fn shape(&self) -> Shape {
        Shape(self.0.iter().map(|&(s, e)| e - s).collect())
    }

    /// Whether the slice keeps every entry of `source`.
    pub fn is_whole(&self, source: &Shape) -> bool {
        self.0.iter().zip(source.dims()).all(|(&(s, e), &n)| s == 0 && e == n)
    }

    /// The subscript in NumPy's form, `[:, 0:5]`; axes from the last whole
    /// one on are left out (`a[2:4]`, not `a[2:4, :]`), but at least one is kept.
    pub fn numpy(&self, source: &Shape) -> String {
        let dims = source.dims();
        let mut keep = self.0.len();
        while keep > 1 && self.0[keep - 1] == (0, dims[keep - 1]) {
            keep -= 1;
        }
        let axes: Vec<String> = self.0[..keep]
            .iter()
            .zip(dims)
            .map(|(&(s, e), &n)| match (s, e == n) {
                (0, true) => ":".to_string(),
                (s, true) => format!("{s}:"),
                (0, false) => format!(":{e}"),
                (s, false) => format!("{s}:{e}"),
            })
            .collect();
        format!("[{}]", axes.join(", "))
    }

    /// The flat (row-major) index in the source of each entry of the
    /// slice, in the slice's row-major order.
    pub fn source_indices(&self, source: &[usize]) -> Vec<usize> {
        let shape = self.shape();
        let n: usize = shape.dims().iter().product();
        let mut out = Vec::with_capacity(n);
        let mut at = vec![0usize; self.0.len()];
        for _ in 0..n {
            let mut flat = 0;
            for (axis, &(start, _)) in self.0.iter().enumerate() {
                flat = flat * source[axis] + start + at[axis];
            }
            out.push(flat);
            // The next index of the slice, the last axis fastest.
            for axis in (0..at.len()).rev() {
                at[axis] += 1;
                if at[axis] < shape.dims()[axis] {
                    break;
                }
                at[axis] = 0;
            }
        }
        out
    }
}
