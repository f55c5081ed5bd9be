//! The numeric kernels of the map operations (`model::ops::map`), reached
//! by the part a node computes. The kernels themselves are `conv.rs`'s,
//! written once over exact and f64 values; this is the one place that
//! says which kernel computes which part.

use super::conv;
use super::tensor::{NumericError, Tensor};
use crate::model::{Conv, ConvPart, PoolKind, PoolPart, Window};

/// A part of `conv2d` on its two operands (`X, K`; `X, δ`; `δ, K`, as the
/// node holds them), its result of shape `out_dims`.
pub fn conv(part: ConvPart, a: &Tensor, b: &Tensor, c: Conv, out_dims: &[usize]) -> Result<Tensor, NumericError> {
    match part {
        ConvPart::Forward => conv::conv2d(a, b, c, out_dims),
        ConvPart::KernelGrad => conv::conv2d_kernel_grad(a, b, c, out_dims),
        ConvPart::InputGrad => conv::conv2d_input_grad(a, b, c, out_dims),
    }
}

/// A part of a pooling on its operands (A; A and ḡ for max's backward
/// part; ḡ for average's), its result of shape `out_dims`.
pub fn pool(
    kind: PoolKind,
    part: PoolPart,
    operands: &[&Tensor],
    w: Window,
    out_dims: &[usize],
) -> Result<Tensor, NumericError> {
    match (kind, part, operands) {
        (_, PoolPart::Forward, [a, ..]) => conv::pool(kind, a, w),
        (PoolKind::Max, PoolPart::Backward, [a, g, ..]) => conv::max_pool_back(a, g, w),
        (PoolKind::Avg, PoolPart::Backward, [g, ..]) => conv::avg_pool_back(g, w, out_dims),
        _ => Err(Tensor::shape_error(format!("{} is missing an operand", kind.name()))),
    }
}
