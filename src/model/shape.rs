//! Tensor shapes and the shape rules of every operation.
//!
//! A shape is a list of dimensions of any rank: `[]` is a scalar, `[n]` a
//! column vector (n×1), `[m, n]` a matrix, and higher ranks are reserved for
//! convolution layers. The rules here are the single source of truth: the
//! checker uses them to infer shapes and the evaluator's tensors follow them.

use std::fmt;

use super::func::{Axis, Conv, MapLayout, Window};

/// Why a convolution or pooling window does not fit its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerShapeError {
    /// An operand of the wrong rank: which operand (0 or 1) and what it needs.
    Rank { operand: usize, expected: &'static str },
    /// conv2d's input has C channels but the kernels expect another number;
    /// the layout says which axes hold them.
    Channels { input: usize, kernel: usize, layout: MapLayout },
    /// The window (kernel) is larger than the (padded) input along `axis`.
    WindowTooLarge { axis: &'static str, input: usize, window: usize },
    /// `(input − window) / stride + 1` is not a whole number along `axis`
    /// (`input` already includes the padding).
    NotWhole { axis: &'static str, input: usize, window: usize, stride: usize },
    /// conv2d's padding is more than the kernel's extent along `axis`: whole
    /// rows of windows past the outermost would see only zeros (and a few
    /// bytes of file could ask for a map of millions of entries). A padding
    /// of the kernel's extent is taken: deeplearning.ai pads its 2 × 2
    /// kernels by 2, so its outermost windows see only padding.
    PaddingPastWindow { axis: &'static str, pad: usize, window: usize },
    /// A pooling's padding is more than half its window (PyTorch's rule):
    /// a window could then lie wholly in the padding. `axis` is named for a
    /// window that differs along its two axes.
    PoolPaddingPastHalf { axis: Option<&'static str>, pad: usize, window: usize },
    /// conv2d's bias (its third argument) is not a vector with one entry per
    /// kernel: `expected` is F, `shape` the bias's shape; channels last,
    /// `[1, 1, 1, F]` is taken too.
    Bias { filters: usize, shape: Shape, layout: MapLayout },
}

/// The output length of a window of `window` moved by `stride` over `input`
/// entries (padding included): `(input − window) / stride + 1`, when whole.
pub fn windows(axis: &'static str, input: usize, window: usize, stride: usize) -> Result<usize, LayerShapeError> {
    if window > input {
        return Err(LayerShapeError::WindowTooLarge { axis, input, window });
    }
    if stride == 0 || !(input - window).is_multiple_of(stride) {
        return Err(LayerShapeError::NotWhole { axis, input, window, stride });
    }
    Ok((input - window) / stride + 1)
}

/// The dimensions of a tensor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// The shape of a scalar.
    pub fn scalar() -> Shape {
        Shape(Vec::new())
    }

    /// A column vector of length `n`.
    pub fn vector(n: usize) -> Shape {
        Shape(vec![n])
    }

    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn is_scalar(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape as a matrix `(rows, cols)` when it has rank ≤ 2; a vector
    /// `[n]` is n×1 and a scalar 1×1.
    pub fn as_matrix(&self) -> Option<(usize, usize)> {
        Shape::matrix_of(&self.0)
    }

    /// [`Shape::as_matrix`] of the dims `dims`, for callers (the evaluator's
    /// tensors) that hold dims rather than a `Shape`.
    pub fn matrix_of(dims: &[usize]) -> Option<(usize, usize)> {
        match *dims {
            [] => Some((1, 1)),
            [n] => Some((n, 1)),
            [m, n] => Some((m, n)),
            _ => None,
        }
    }

    /// Two shapes that denote the same matrix: `[n]` and `[n, 1]` are the same.
    pub fn same_as(&self, other: &Shape) -> bool {
        Shape::same_dims(&self.0, &other.0)
    }

    /// [`Shape::same_as`] on dims.
    pub fn same_dims(a: &[usize], b: &[usize]) -> bool {
        a == b
            || (a.len() <= 2
                && b.len() <= 2
                && !a.is_empty()
                && !b.is_empty()
                && Shape::matrix_of(a) == Shape::matrix_of(b))
    }

    /// The multi-index of the entry at row-major position `flat` of `dims`.
    pub fn index_of(dims: &[usize], mut flat: usize) -> Vec<usize> {
        let mut index = vec![0; dims.len()];
        for (k, &d) in dims.iter().enumerate().rev() {
            if d > 0 {
                index[k] = flat % d;
                flat /= d;
            }
        }
        index
    }

    /// Shape of an elementwise operation (`+ − ⊙ ⊘` and the elementwise
    /// built-ins), broadcast as NumPy does with `[n]` a column: equal shapes,
    /// a scalar on one side, a matrix whose size-1 axes stretch over the
    /// other's (a column `[m]` over every column of `[m, N]`, a row `[1, n]`
    /// over every row of `[N, n]`), or a vector `[F]` with a map `[F, H, W]`
    /// (entry f goes with channel f). One side must already have the
    /// result's shape: a column and a row each stretched over the other
    /// (`[3] + [1, 4]`, an outer sum) are refused, as that is far more often
    /// a slip than meant.
    pub fn broadcast(&self, other: &Shape) -> Option<Shape> {
        if self.is_scalar() {
            Some(other.clone())
        } else if other.is_scalar() || self.same_as(other) {
            Some(self.clone())
        } else if self.broadcasts_over(other) || self.stretches_over(other) {
            Some(other.clone())
        } else if other.broadcasts_over(self) || other.stretches_over(self) {
            Some(self.clone())
        } else {
            None
        }
    }

    /// A vector or matrix whose every axis either equals `target`'s or has
    /// length 1 (and stretches to it): `[m]` over `[m, N]`, `[1, n]` over
    /// `[N, n]`, `[1, 1]` over anything of rank ≤ 2.
    pub fn stretches_over(&self, target: &Shape) -> bool {
        if self.is_scalar() || target.is_scalar() {
            return false;
        }
        match (self.as_matrix(), target.as_matrix()) {
            (Some((r, c)), Some((tr, tc))) => (r == tr || r == 1) && (c == tc || c == 1),
            _ => false,
        }
    }

    /// The axes of the matrix `target` along which `self` stretches to
    /// cover it (see [`Shape::stretches_over`]): axis 0 when `self` has one
    /// row and `target` several, axis 1 likewise for columns.
    pub fn stretched_axes(&self, target: &Shape) -> Vec<Axis> {
        if !self.stretches_over(target) {
            return Vec::new();
        }
        let (Some((r, c)), Some((tr, tc))) = (self.as_matrix(), target.as_matrix()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if r == 1 && tr > 1 {
            out.push(Axis::DOWN);
        }
        if c == 1 && tc > 1 {
            out.push(Axis::ACROSS);
        }
        out
    }

    /// Shape of the sum along `axis` of a vector or matrix: along axis 0,
    /// `[m, n]` gives the row `[1, n]` of its column sums (1ᵀX); along
    /// axis 1, the column `[m]` of its row sums (X 1).
    pub fn sum_axis(&self, axis: Axis) -> Shape {
        let (m, n) = self.as_matrix().unwrap_or((1, 1));
        if axis == Axis::DOWN {
            Shape(vec![1, n])
        } else {
            Shape(vec![m])
        }
    }

    /// The length of `axis` in the matrix view (`[n]` is n×1).
    pub fn axis_len(&self, axis: Axis) -> usize {
        let (m, n) = self.as_matrix().unwrap_or((1, 1));
        if axis == Axis::DOWN {
            m
        } else {
            n
        }
    }

    /// For a vector (`[n]`, `[n, 1]`, `[1, n]`), the axis its entries lie along.
    pub fn vector_axis(&self) -> Option<Axis> {
        match self.0.as_slice() {
            [_] | [_, 1] => Some(Axis::DOWN),
            [1, _] => Some(Axis::ACROSS),
            _ => None,
        }
    }

    /// The channel axis of a feature map: 0 of a single map `[C, H, W]`, 1
    /// of a batch `[N, C, H, W]` (the batch axis leads, as in PyTorch and
    /// CS231n). `None` for other ranks. A rule by rank, for where nothing
    /// names the axes: the model's named axes (`Model::axes`) say where the
    /// channels are when a layer reads or makes the map.
    pub fn channel_axis(&self) -> Option<usize> {
        match self.rank() {
            3 => Some(0),
            4 => Some(1),
            _ => None,
        }
    }

    /// A vector spread over a map or a batch of maps (a bias, entry f going
    /// with channel f): see [`Shape::spread_axis`].
    pub fn broadcasts_over(&self, map: &Shape) -> bool {
        self.spread_axis(map).is_some()
    }

    /// The axis of a map (rank 3 or 4) along which `self` is spread, entry f
    /// going with channel f. A vector `[F]` goes with the channels-first
    /// axis (`[F, H, W]`, `[N, F, H, W]`) when that axis has F entries, else
    /// with the last axis (channels last, `[H, W, F]`, `[N, H, W, F]`:
    /// NumPy's own rule, trailing axes first). `[1, 1, 1, F]`, ones but the
    /// last and of the map's rank (deeplearning.ai's bias), goes with the
    /// last axis only, as in NumPy. When both axes have F entries the
    /// checker has made sure the map's named channels are the first
    /// (`check/axes.rs` refuses a vector beside a map whose channels are
    /// last or unnamed), so the choice here is never a guess.
    pub fn spread_axis(&self, map: &Shape) -> Option<usize> {
        let rank = map.rank();
        if !matches!(rank, 3 | 4) {
            return None;
        }
        let (first, last) = (rank - 3, rank - 1);
        match self.dims() {
            [f] if map.dims()[first] == *f => Some(first),
            [f] if map.dims()[last] == *f => Some(last),
            [ones @ .., f]
                if self.rank() == rank && *f == map.dims()[last] && ones.iter().all(|&d| d == 1) && self != map =>
            {
                Some(last)
            }
            _ => None,
        }
    }

    /// Shape of `conv2d(self, kernels, stride, pad)`: `[C, H, W]` with
    /// `[F, C, kh, kw]` gives `[F, H', W']`, H' = (H + 2p − kh)/s + 1, and a
    /// batch `[N, C, H, W]` gives `[N, F, H', W']`; channels last
    /// (`layout = nhwc`), `[N, H, W, C]` with `[kh, kw, C, F]` gives
    /// `[N, H', W', F]` by the same rule.
    pub fn conv2d(&self, kernels: &Shape, conv: Conv) -> Result<Shape, LayerShapeError> {
        let nhwc = conv.layout == MapLayout::Nhwc;
        let input = conv.layout.map_to_nchw(self.dims());
        let (batch, c, h, w) = match *input {
            [c, h, w] => (None, c, h, w),
            [n, c, h, w] => (Some(n), c, h, w),
            _ => {
                let expected = match nhwc {
                    false => "a feature map [C, H, W] or a batch of maps [N, C, H, W]",
                    true => "a feature map [H, W, C] or a batch of maps [N, H, W, C] (layout = nhwc)",
                };
                return Err(LayerShapeError::Rank { operand: 0, expected });
            }
        };
        let &[f, kc, kh, kw] = &*conv.layout.kernels_to_nchw(kernels.dims()) else {
            let expected = match nhwc {
                false => "a kernel bank [F, C, kh, kw]",
                true => "a kernel bank [kh, kw, C, F] (layout = nhwc)",
            };
            return Err(LayerShapeError::Rank { operand: 1, expected });
        };
        if c != kc {
            return Err(LayerShapeError::Channels { input: c, kernel: kc, layout: conv.layout });
        }
        for (axis, window) in [("height", kh), ("width", kw)] {
            if conv.pad > window {
                return Err(LayerShapeError::PaddingPastWindow { axis, pad: conv.pad, window });
            }
        }
        let pad = 2 * conv.pad;
        let out_h = windows("height", h + pad, kh, conv.stride)?;
        let out_w = windows("width", w + pad, kw, conv.stride)?;
        let out: Vec<usize> = batch.into_iter().chain([f, out_h, out_w]).collect();
        Ok(Shape(conv.layout.map_from_nchw(&out)))
    }

    /// Shape of a `kh × kw` pooling of a map `[C, H, W]` or a batch of
    /// maps `[N, C, H, W]` (channels last, `[H, W, C]` or `[N, H, W, C]`):
    /// every channel of every map on its own.
    pub fn pool(&self, window: Window) -> Result<Shape, LayerShapeError> {
        let input = window.layout.map_to_nchw(self.dims());
        let (lead, h, w) = match &*input {
            [lead @ .., h, w] if matches!(lead.len(), 1 | 2) => (lead, *h, *w),
            _ => {
                let expected = match window.layout {
                    MapLayout::Nchw => "a feature map [C, H, W] or a batch of maps [N, C, H, W]",
                    MapLayout::Nhwc => "a feature map [H, W, C] or a batch of maps [N, H, W, C] (layout = nhwc)",
                };
                return Err(LayerShapeError::Rank { operand: 0, expected });
            }
        };
        // A square window's error names no axis, as it reads the same on both.
        let named = |axis: &'static str| (!window.is_square()).then_some(axis);
        for (k, axis) in [(0, "height"), (1, "width")] {
            let along = window.axis(k);
            if 2 * along.pad > along.size {
                return Err(LayerShapeError::PoolPaddingPastHalf {
                    axis: named(axis),
                    pad: along.pad,
                    window: along.size,
                });
            }
        }
        let count = |k: usize, axis: &'static str, n: usize| {
            let along = window.axis(k);
            let input = n + 2 * along.pad;
            along.count(n).ok_or(LayerShapeError::WindowTooLarge { axis, input, window: along.size })
        };
        let (out_h, out_w) = (count(0, "height", h)?, count(1, "width", w)?);
        let out: Vec<usize> = lead.iter().copied().chain([out_h, out_w]).collect();
        Ok(Shape(window.layout.map_from_nchw(&out)))
    }

    /// Shape of `flatten(self)`: a column of every entry.
    /// Whether entries laid out row-major in `a` and in `b` sit in the same
    /// places: the dimensions other than 1 agree (`[]`, `[1]` and `[1, 1]`;
    /// `[3]` and `[3, 1]`), so a reshape between them changes nothing.
    pub fn same_layout(a: &[usize], b: &[usize]) -> bool {
        a.iter().filter(|&&d| d != 1).eq(b.iter().filter(|&&d| d != 1))
    }

    pub fn flatten(&self) -> Shape {
        Shape(vec![self.len()])
    }

    /// Shape of `self @ other`: `[m,k] @ [k,p] = [m,p]`, where a vector is a
    /// column, and the result is a vector when `other` is one.
    pub fn matmul(&self, other: &Shape) -> Option<Shape> {
        if self.is_scalar() || other.is_scalar() {
            return None;
        }
        let (m, k) = self.as_matrix()?;
        let (k2, p) = other.as_matrix()?;
        if k != k2 {
            return None;
        }
        Some(if other.rank() == 1 { Shape(vec![m]) } else { Shape(vec![m, p]) })
    }

    /// Shape of the transpose: `[n]ᵀ = [1, n]`, `[1, n]ᵀ = [n]`, `[m, n]ᵀ = [n, m]`.
    pub fn transpose(&self) -> Option<Shape> {
        Shape::transposed(&self.0).map(Shape)
    }

    /// The dims of the transpose of `dims` (see [`Shape::transpose`]).
    pub fn transposed(dims: &[usize]) -> Option<Vec<usize>> {
        match *dims {
            [] => Some(Vec::new()),
            [n] => Some(vec![1, n]),
            [1, n] => Some(vec![n]),
            [m, n] => Some(vec![n, m]),
            _ => None,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_scalar() {
            return f.write_str("a scalar");
        }
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(d: &[usize]) -> Shape {
        Shape(d.to_vec())
    }

    #[test]
    fn matmul_rules() {
        assert_eq!(s(&[3, 4]).matmul(&s(&[4])), Some(s(&[3])));
        assert_eq!(s(&[2]).matmul(&s(&[1, 3])), Some(s(&[2, 3])));
        assert_eq!(s(&[1, 3]).matmul(&s(&[3])), Some(s(&[1])));
        assert_eq!(s(&[3, 4]).matmul(&s(&[3])), None);
        assert_eq!(s(&[]).matmul(&s(&[3])), None);
    }

    #[test]
    fn transpose_rules() {
        assert_eq!(s(&[3]).transpose(), Some(s(&[1, 3])));
        assert_eq!(s(&[1, 3]).transpose(), Some(s(&[3])));
        assert_eq!(s(&[2, 3]).transpose(), Some(s(&[3, 2])));
        assert_eq!(s(&[2, 3, 4]).transpose(), None);
    }

    #[test]
    fn conv_and_pool_rules() {
        let conv = Conv { stride: 1, pad: 0, layout: MapLayout::Nchw };
        assert_eq!(s(&[1, 5, 5]).conv2d(&s(&[2, 1, 3, 3]), conv), Ok(s(&[2, 3, 3])));
        let strided = Conv { stride: 2, pad: 1, layout: MapLayout::Nchw };
        assert_eq!(s(&[3, 5, 5]).conv2d(&s(&[2, 3, 3, 3]), strided), Ok(s(&[2, 3, 3])));
        assert_eq!(
            s(&[1, 6, 6]).conv2d(&s(&[1, 1, 3, 3]), Conv { stride: 2, pad: 0, layout: MapLayout::Nchw }),
            Err(LayerShapeError::NotWhole { axis: "height", input: 6, window: 3, stride: 2 })
        );
        assert_eq!(
            s(&[1, 2, 2]).conv2d(&s(&[1, 1, 3, 3]), conv),
            Err(LayerShapeError::WindowTooLarge { axis: "height", input: 2, window: 3 })
        );
        let w = Window::plain(2, 1, [3, 3]);
        assert_eq!(s(&[2, 3, 3]).pool(w), Ok(s(&[2, 2, 2])));
        assert_eq!(s(&[2, 2, 2]).flatten(), s(&[8]));
        assert_eq!(s(&[2]).broadcast(&s(&[2, 3, 3])), Some(s(&[2, 3, 3])));
        assert_eq!(s(&[2, 3, 3]).broadcast(&s(&[2])), Some(s(&[2, 3, 3])));
        // No axis of the map has 4 entries; one with 3 is its last, which
        // NumPy's broadcasting reads as channels last.
        assert_eq!(s(&[4]).broadcast(&s(&[2, 3, 3])), None);
        assert_eq!(s(&[3]).spread_axis(&s(&[2, 3, 3])), Some(2));
        // Channels last: [F] and deeplearning.ai's [1, 1, 1, F] go with the last axis.
        assert_eq!(s(&[8]).spread_axis(&s(&[10, 3, 4, 8])), Some(3));
        assert_eq!(s(&[1, 1, 1, 8]).broadcast(&s(&[10, 3, 4, 8])), Some(s(&[10, 3, 4, 8])));
        assert_eq!(s(&[1, 1, 2, 8]).broadcast(&s(&[10, 3, 4, 8])), None);
        // Both readings fit: channels first, as before.
        assert_eq!(s(&[3]).spread_axis(&s(&[2, 3, 5, 3])), Some(1));
        assert_eq!(s(&[2, 3]).broadcast(&s(&[2, 3, 3])), None);
        // A batch of maps: the batch axis leads, the channel axis is the second.
        assert_eq!(s(&[2, 3, 5, 5]).conv2d(&s(&[4, 3, 3, 3]), strided), Ok(s(&[2, 4, 3, 3])));
        assert_eq!(s(&[2, 3, 4, 4]).pool(Window::plain(2, 2, [4, 4])), Ok(s(&[2, 3, 2, 2])));
        // Channels last: the same rules, read through the layout.
        let nhwc = Conv { layout: MapLayout::Nhwc, ..strided };
        assert_eq!(s(&[10, 5, 7, 4]).conv2d(&s(&[3, 3, 4, 8]), nhwc), Ok(s(&[10, 3, 4, 8])));
        assert_eq!(
            s(&[10, 5, 7, 4]).conv2d(&s(&[3, 3, 3, 8]), nhwc),
            Err(LayerShapeError::Channels { input: 4, kernel: 3, layout: MapLayout::Nhwc })
        );
        let pool = Window { layout: MapLayout::Nhwc, ..Window::plain(3, 1, [4, 4]) };
        assert_eq!(s(&[2, 4, 4, 3]).pool(pool), Ok(s(&[2, 2, 2, 3])));
        // PyTorch's rules: the floor, padding, and ceil mode.
        assert_eq!(s(&[1, 4, 4]).pool(Window::plain(3, 3, [4, 4])), Ok(s(&[1, 1, 1])));
        let padded = Window { pad: [1, 1], ..Window::plain(3, 2, [4, 4]) };
        assert_eq!(s(&[1, 4, 4]).pool(padded), Ok(s(&[1, 2, 2])));
        let ceil = Window { ceil: true, ..Window::plain(2, 2, [5, 5]) };
        assert_eq!(s(&[1, 5, 5]).pool(ceil), Ok(s(&[1, 3, 3])));
        assert_eq!(s(&[1, 5, 5]).pool(Window::plain(2, 2, [5, 5])), Ok(s(&[1, 2, 2])));
        // A last window that would start in the right padding is dropped.
        let edge = Window { pad: [1, 1], ceil: true, ..Window::plain(2, 2, [4, 4]) };
        assert_eq!(s(&[1, 4, 4]).pool(edge), Ok(s(&[1, 3, 3])));
        assert_eq!(
            s(&[1, 4, 4]).pool(Window { pad: [2, 2], ..Window::plain(3, 1, [4, 4]) }),
            Err(LayerShapeError::PoolPaddingPastHalf { axis: None, pad: 2, window: 3 })
        );
        // A rectangular window: (height, width) pairs, d2l's (2, 3) window
        // with stride (2, 3) and padding (0, 1) on a 4×4 map gives 2×2.
        let rect =
            Window { size: [2, 3], stride: [2, 3], pad: [0, 1], ceil: false, extent: [4, 4], layout: MapLayout::Nchw };
        assert_eq!(s(&[1, 1, 4, 4]).pool(rect), Ok(s(&[1, 1, 2, 2])));
        let wide =
            Window { size: [1, 3], stride: [1, 1], pad: [0, 2], ceil: false, extent: [4, 4], layout: MapLayout::Nchw };
        assert_eq!(
            s(&[1, 4, 4]).pool(wide),
            Err(LayerShapeError::PoolPaddingPastHalf { axis: Some("width"), pad: 2, window: 3 })
        );
        let tall =
            Window { size: [5, 2], stride: [1, 1], pad: [0, 0], ceil: false, extent: [4, 4], layout: MapLayout::Nchw };
        assert_eq!(
            s(&[1, 4, 4]).pool(tall),
            Err(LayerShapeError::WindowTooLarge { axis: "height", input: 4, window: 5 })
        );
        assert_eq!(s(&[4]).broadcast(&s(&[2, 4, 3, 3])), Some(s(&[2, 4, 3, 3])));
        assert_eq!(s(&[2]).broadcast(&s(&[2, 4, 3, 3])), None);
        assert_eq!(s(&[2]).broadcast(&s(&[1, 2, 2, 3, 3])), None);
    }

    #[test]
    fn broadcast_rules() {
        assert_eq!(s(&[]).broadcast(&s(&[3])), Some(s(&[3])));
        assert_eq!(s(&[3]).broadcast(&s(&[3, 1])), Some(s(&[3])));
        assert_eq!(s(&[3]).broadcast(&s(&[1, 3])), None);
        // A column stretches over every column, a row over every row.
        assert_eq!(s(&[2]).broadcast(&s(&[2, 3])), Some(s(&[2, 3])));
        assert_eq!(s(&[4, 3]).broadcast(&s(&[1, 3])), Some(s(&[4, 3])));
        assert_eq!(s(&[2, 1]).broadcast(&s(&[2, 5])), Some(s(&[2, 5])));
        assert_eq!(s(&[1, 1]).broadcast(&s(&[2, 5])), Some(s(&[2, 5])));
        assert_eq!(s(&[1]).broadcast(&s(&[4])), Some(s(&[4])));
        // Mismatched lengths, and a column with a row (an outer sum), are refused.
        assert_eq!(s(&[3]).broadcast(&s(&[2, 3])), None);
        assert_eq!(s(&[3]).broadcast(&s(&[1, 4])), None);
        assert_eq!(s(&[2, 1]).broadcast(&s(&[1, 5])), None);
        assert_eq!(s(&[2]).stretched_axes(&s(&[2, 3])), vec![Axis::ACROSS]);
        assert_eq!(s(&[1, 3]).stretched_axes(&s(&[4, 3])), vec![Axis::DOWN]);
        assert_eq!(s(&[1, 1]).stretched_axes(&s(&[4, 3])), vec![Axis::DOWN, Axis::ACROSS]);
        assert_eq!(s(&[2, 3]).sum_axis(Axis::DOWN), s(&[1, 3]));
        assert_eq!(s(&[2, 3]).sum_axis(Axis::ACROSS), s(&[2]));
        assert_eq!(s(&[2, 3]).to_string(), "[2, 3]");
        assert_eq!(s(&[]).to_string(), "a scalar");
    }
}
