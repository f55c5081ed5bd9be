//! The f64 convolution as matrix products (im2col), for the kernels of
//! [`super::conv`] when a convolution is large: the taps of each map are
//! laid out as the columns of a matrix once, and the forward pass, the
//! kernel gradient and the input gradient each become one GEMM per map
//! (`matrixmultiply`, blocked and vectorised) instead of a loop of single
//! multiply-adds.
//!
//! With R = C·kh·kw taps per output position and P = H'·W' positions, the
//! columns of map n are `cols[(c,u,v), (i,j)] = X̃[n, c, s·i+u, s·j+v]`
//! (0 in the padding), an R × P matrix, and with `K` read as F × R:
//!
//! - forward: `Z_n = K · cols_n` (F × P);
//! - kernel gradient: `∂K = Σ_n δ_n · cols_nᵀ` (F × R);
//! - input gradient: `dcols_n = Kᵀ · δ_n` (R × P), each entry added back at
//!   the input entry its column read (col2im).
//!
//! These are the sums [`super::conv`]'s loops compute, over the same
//! products; only the order of the additions differs (the GEMM's blocking
//! and fused multiply-adds, then col2im's adds per input entry), which
//! moves an f64 result by rounding only. On integers below 2^53 (exact
//! values over a common denominator, `scaled::bilinear`) every partial sum
//! is exact, so the order changes nothing. Small convolutions (below
//! [`GEMM_FROM`] multiply-adds) keep the loops: there the layout costs
//! more than it saves, and their digits stay the ones the documents print.
//!
//! Maps and error maps are read and written in place in either layout: a
//! map `[N, C, H, W]` or `[N, H, W, C]` is, per n, a C × (H·W) matrix with
//! row stride `at[1]` and column stride `at[3]` (the stride of w; h's is W
//! times it in both layouts).

use super::conv_dims::{unpadded, Dims4};
use super::matmul::float_gemm_strided;
use crate::model::Conv;

/// From this many multiply-adds on, the convolution is computed by GEMM.
pub(super) const GEMM_FROM: usize = 1 << 16;

/// The multiply-adds of a convolution of `x` with `k` into `z` (padding
/// counted): N · F · R · P.
pub(super) fn products(xd: Dims4, kd: Dims4, zd: Dims4) -> usize {
    xd.f * kd.f * kd.c * kd.h * kd.w * zd.h * zd.w
}

/// Map n of `d` as a (channels × positions) matrix: its offset and strides.
fn plane(d: Dims4, n: usize) -> (usize, (usize, usize)) {
    (n * d.at[0], (d.at[1], d.at[3]))
}

/// The columns of map `n` of `x` (R × P, row-major) into `cols`.
fn im2col(x: &[f64], xd: Dims4, kd: Dims4, zd: Dims4, conv: Conv, n: usize, cols: &mut [f64]) {
    let (s, positions) = (conv.stride, zd.h * zd.w);
    let mut rows = cols.chunks_exact_mut(positions);
    for c in 0..kd.c {
        for u in 0..kd.h {
            for v in 0..kd.w {
                let Some(row) = rows.next() else { return };
                for (i, out) in row.chunks_exact_mut(zd.w).enumerate() {
                    let Some(m) = unpadded(s, i, u, conv.pad, xd.h) else {
                        out.fill(0.0);
                        continue;
                    };
                    for (j, o) in out.iter_mut().enumerate() {
                        *o = unpadded(s, j, v, conv.pad, xd.w).map_or(0.0, |q| x[xd.index(n, c, m, q)]);
                    }
                }
            }
        }
    }
}

/// The kernel bank as an F × R row-major matrix (its own layout is
/// `[F, C, kh, kw]` or `[kh, kw, C, F]`).
fn kernel_matrix(k: &[f64], kd: Dims4) -> Vec<f64> {
    let mut out = Vec::with_capacity(kd.f * kd.c * kd.h * kd.w);
    for f in 0..kd.f {
        for c in 0..kd.c {
            for u in 0..kd.h {
                for v in 0..kd.w {
                    out.push(k[kd.index(f, c, u, v)]);
                }
            }
        }
    }
    out
}

/// Forward: `Z_n = K · cols_n` added into `out` (zeros on entry).
pub(super) fn forward(x: &[f64], xd: Dims4, k: &[f64], kd: Dims4, conv: Conv, out: &mut [f64], od: Dims4) {
    let (r, p) = (kd.c * kd.h * kd.w, od.h * od.w);
    let kmat = kernel_matrix(k, kd);
    let mut cols = vec![0.0; r * p];
    for n in 0..xd.f {
        im2col(x, xd, kd, od, conv, n, &mut cols);
        let (at, strides) = plane(od, n);
        float_gemm_strided(&mut out[at..], strides, 1.0, &kmat, (r, 1), &cols, (p, 1), (kd.f, r, p));
    }
}

/// Kernel gradient: `∂K = Σ_n δ_n · cols_nᵀ` added into `out` (zeros on entry).
pub(super) fn kernel_grad(x: &[f64], xd: Dims4, d: &[f64], dd: Dims4, conv: Conv, out: &mut [f64], kd: Dims4) {
    let (r, p) = (kd.c * kd.h * kd.w, dd.h * dd.w);
    let mut cols = vec![0.0; r * p];
    let mut grad = vec![0.0; kd.f * r];
    for n in 0..xd.f {
        im2col(x, xd, kd, dd, conv, n, &mut cols);
        let (at, strides) = plane(dd, n);
        float_gemm_strided(&mut grad, (r, 1), 1.0, &d[at..], strides, &cols, (1, p), (kd.f, p, r));
    }
    let mut g = grad.iter();
    for f in 0..kd.f {
        for c in 0..kd.c {
            for u in 0..kd.h {
                for v in 0..kd.w {
                    out[kd.index(f, c, u, v)] += g.next().copied().unwrap_or(0.0);
                }
            }
        }
    }
}

/// Input gradient: `dcols_n = Kᵀ · δ_n`, each entry added into `out` (zeros
/// on entry) at the input entry its column read.
pub(super) fn input_grad(d: &[f64], dd: Dims4, k: &[f64], kd: Dims4, conv: Conv, out: &mut [f64], xd: Dims4) {
    let (r, p, s) = (kd.c * kd.h * kd.w, dd.h * dd.w, conv.stride);
    let kmat = kernel_matrix(k, kd);
    let mut dcols = vec![0.0; r * p];
    for n in 0..xd.f {
        let (at, strides) = plane(dd, n);
        float_gemm_strided(&mut dcols, (p, 1), 0.0, &kmat, (1, r), &d[at..], strides, (r, kd.f, p));
        let mut rows = dcols.chunks_exact(p);
        for c in 0..kd.c {
            for u in 0..kd.h {
                for v in 0..kd.w {
                    let Some(row) = rows.next() else { return };
                    for (i, line) in row.chunks_exact(dd.w).enumerate() {
                        let Some(m) = unpadded(s, i, u, conv.pad, xd.h) else { continue };
                        for (j, g) in line.iter().enumerate() {
                            if let Some(q) = unpadded(s, j, v, conv.pad, xd.w) {
                                out[xd.index(n, c, m, q)] += g;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MapLayout;

    /// Dims of a map batch `[N, C, H, W]` (or `[N, H, W, C]`) and of a
    /// kernel bank `[F, C, kh, kw]` (or `[kh, kw, C, F]`) in `layout`.
    fn map(n: usize, c: usize, h: usize, w: usize, layout: MapLayout) -> Dims4 {
        let at = match layout {
            MapLayout::Nchw => [c * h * w, h * w, w, 1],
            MapLayout::Nhwc => [h * w * c, 1, w * c, c],
        };
        Dims4 { f: n, c, h, w, at }
    }

    fn bank(f: usize, c: usize, h: usize, w: usize, layout: MapLayout) -> Dims4 {
        let at = match layout {
            MapLayout::Nchw => [c * h * w, h * w, w, 1],
            MapLayout::Nhwc => [1, f, w * c * f, c * f],
        };
        Dims4 { f, c, h, w, at }
    }

    /// Pseudo-random entries in (−1, 1).
    fn entries(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// The textbook sums, written out from the definitions with the padding
    /// made explicit (X̃ read as 0 outside X), one entry at a time.
    fn padded(x: &[f64], xd: Dims4, n: usize, c: usize, m: isize, q: isize) -> f64 {
        match (usize::try_from(m), usize::try_from(q)) {
            (Ok(m), Ok(q)) if m < xd.h && q < xd.w => x[xd.index(n, c, m, q)],
            _ => 0.0,
        }
    }

    #[test]
    fn the_matrix_form_is_the_convolution_sum_in_every_layout_stride_and_padding() {
        for layout in [MapLayout::Nchw, MapLayout::Nhwc] {
            for (batch, chans, side, filters, (kh, kw), stride, pad) in [
                (1, 3, 9, 4, (3, 3), 1, 1),
                (2, 2, 8, 3, (3, 2), 2, 0),
                (2, 1, 7, 2, (2, 3), 2, 2),
                (1, 2, 5, 1, (5, 5), 1, 0),
            ] {
                let conv = Conv { stride, pad, layout };
                let xd = map(batch, chans, side, side + 1, layout);
                let kd = bank(filters, chans, kh, kw, layout);
                let (oh, ow) = ((side + 2 * pad - kh) / stride + 1, (side + 1 + 2 * pad - kw) / stride + 1);
                let zd = map(batch, filters, oh, ow, layout);
                let x = entries(1, batch * chans * side * (side + 1));
                let k = entries(2, filters * chans * kh * kw);
                let d = entries(3, batch * filters * oh * ow);
                let tap = |n: usize, c: usize, i: usize, j: usize, u: usize, v: usize| {
                    let (m, q) = ((stride * i + u) as isize - pad as isize, (stride * j + v) as isize - pad as isize);
                    padded(&x, xd, n, c, m, q)
                };
                let close = |what: &str, got: &[f64], want: &[f64]| {
                    for (a, b) in got.iter().zip(want) {
                        assert!((a - b).abs() <= 1e-13, "{what} {layout:?} stride {stride} pad {pad}: {a} against {b}");
                    }
                };
                // Z[n,f,i,j] = Σ_{c,u,v} K[f,c,u,v] · X̃[n, c, s·i+u, s·j+v]
                let mut z = vec![0.0; d.len()];
                forward(&x, xd, &k, kd, conv, &mut z, zd);
                let mut want = vec![0.0; d.len()];
                for n in 0..batch {
                    for f in 0..filters {
                        for i in 0..oh {
                            for j in 0..ow {
                                let mut sum = 0.0;
                                for c in 0..chans {
                                    for u in 0..kh {
                                        for v in 0..kw {
                                            sum += k[kd.index(f, c, u, v)] * tap(n, c, i, j, u, v);
                                        }
                                    }
                                }
                                want[zd.index(n, f, i, j)] = sum;
                            }
                        }
                    }
                }
                close("forward", &z, &want);
                // ∂K[f,c,u,v] = Σ_{n,i,j} δ[n,f,i,j] · X̃[n, c, s·i+u, s·j+v]
                let mut gk = vec![0.0; k.len()];
                kernel_grad(&x, xd, &d, zd, conv, &mut gk, kd);
                let mut want = vec![0.0; k.len()];
                for f in 0..filters {
                    for c in 0..chans {
                        for u in 0..kh {
                            for v in 0..kw {
                                let mut sum = 0.0;
                                for n in 0..batch {
                                    for i in 0..oh {
                                        for j in 0..ow {
                                            sum += d[zd.index(n, f, i, j)] * tap(n, c, i, j, u, v);
                                        }
                                    }
                                }
                                want[kd.index(f, c, u, v)] = sum;
                            }
                        }
                    }
                }
                close("kernel gradient", &gk, &want);
                // ∂X[n,c,m,q] = Σ over the taps that read X[n,c,m,q] of K · δ
                let mut gx = vec![0.0; x.len()];
                input_grad(&d, zd, &k, kd, conv, &mut gx, xd);
                let mut want = vec![0.0; x.len()];
                for n in 0..batch {
                    for f in 0..filters {
                        for c in 0..chans {
                            for u in 0..kh {
                                for v in 0..kw {
                                    for i in 0..oh {
                                        for j in 0..ow {
                                            let (m, q) = (stride * i + u, stride * j + v);
                                            if m >= pad && q >= pad && m - pad < xd.h && q - pad < xd.w {
                                                want[xd.index(n, c, m - pad, q - pad)] +=
                                                    k[kd.index(f, c, u, v)] * d[zd.index(n, f, i, j)];
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                close("input gradient", &gx, &want);
            }
        }
    }
}
