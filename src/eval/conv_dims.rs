//! The extents of a convolution's operands as four numbers with the strides
//! of their layout, and the padding rule, shared by the convolution's loops
//! (`conv.rs`) and its matrix form (`conv_gemm.rs`).

/// A `[C, H, W]`, `[N, C, H, W]` or `[F, C, kh, kw]` extent as four
/// numbers (a single map has N = 1, stored in `f`), with the strides of
/// each logical axis in the tensor's own layout.
#[derive(Clone, Copy, Debug)]
pub(super) struct Dims4 {
    pub(super) f: usize,
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    /// Strides of f (or n), c, h (or u) and w (or v), in that order.
    pub(super) at: [usize; 4],
}

impl Dims4 {
    /// The flat index of the logical entry `[f, c, h, w]`.
    pub(super) fn index(&self, f: usize, c: usize, h: usize, w: usize) -> usize {
        f * self.at[0] + c * self.at[1] + h * self.at[2] + w * self.at[3]
    }
}

/// The row or column of X (unpadded) that X̃ position `s·i + u` reads, if
/// it is not padding.
pub(super) fn unpadded(s: usize, i: usize, u: usize, pad: usize, n: usize) -> Option<usize> {
    (s * i + u).checked_sub(pad).filter(|&m| m < n)
}
