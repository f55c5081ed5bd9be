//! Numeric kernels of the convolution and pooling layers, forward and
//! backward, written once over a [`Ring`] and run on integers (exact values
//! put over a common denominator, so exact stays exact) or on f64.
//!
//! Conventions (PyTorch, CS231n): a map is `[C, H, W]`, a batch of maps
//! `[N, C, H, W]` (the batch axis leads), a kernel bank
//! `[F, C, kh, kw]`, X̃ is X zero-padded by `pad` on every side, and
//! `conv2d` is cross-correlation (no kernel flip):
//! `Z[f,i,j] = Σ_{c,u,v} K[f,c,u,v] · X̃[c, s·i + u, s·j + v]`.
//! Max-pooling ties go to the first maximum of the window in row-major order.
//!
//! Channels last (`layout = nhwc`: maps `[N, H, W, C]`, kernels
//! `[kh, kw, C, F]`) is the same arithmetic over the same logical indices:
//! only where an entry `[n, c, h, w]` sits in memory changes, so each
//! extent carries the strides of its layout and the loops stay one.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};

use super::conv_dims::{unpadded, Dims4};
use super::conv_gemm;
use super::exact::{common_denominator, over_denominator};
use super::tensor::{Data, NumericError, NumericErrorKind, Tensor};
use crate::model::{Conv, MapLayout, PoolKind, Window};

/// The numbers a kernel accumulates in.
trait Ring: Clone {
    /// `self += a · b`
    fn add_product(&mut self, a: &Self, b: &Self);
}

impl Ring for f64 {
    fn add_product(&mut self, a: &Self, b: &Self) {
        *self += a * b;
    }
}

impl Ring for i128 {
    fn add_product(&mut self, a: &Self, b: &Self) {
        *self += a * b;
    }
}

impl Ring for BigInt {
    fn add_product(&mut self, a: &Self, b: &Self) {
        if !a.is_zero() && !b.is_zero() {
            *self += a * b;
        }
    }
}

/// A map `[C, H, W]` or batch `[N, C, H, W]` (channels last `[H, W, C]` or
/// `[N, H, W, C]`).
fn map4(dims: &[usize], layout: MapLayout) -> Result<Dims4, NumericError> {
    let (f, c, h, w) = match *layout.map_to_nchw(dims) {
        [c, h, w] => (1, c, h, w),
        [n, c, h, w] => (n, c, h, w),
        _ => return Err(Tensor::shape_error(format!("{dims:?} is not a feature map"))),
    };
    let at = match layout {
        MapLayout::Nchw => [c * h * w, h * w, w, 1],
        MapLayout::Nhwc => [h * w * c, 1, w * c, c],
    };
    Ok(Dims4 { f, c, h, w, at })
}

/// A kernel bank `[F, C, kh, kw]` (channels last `[kh, kw, C, F]`).
fn kernels4(dims: &[usize], layout: MapLayout) -> Result<Dims4, NumericError> {
    let &[f, c, h, w] = &*layout.kernels_to_nchw(dims) else {
        return Err(Tensor::shape_error(format!("{dims:?} is not a kernel bank")));
    };
    let at = match layout {
        MapLayout::Nchw => [c * h * w, h * w, w, 1],
        MapLayout::Nhwc => [1, f, w * c * f, c * f],
    };
    Ok(Dims4 { f, c, h, w, at })
}

/// Calls `tap(k, x, z)` for every product the convolution sums: the flat
/// indices of a kernel entry `K[f,c,u,v]`, of the input entry
/// `X[n, c, s·i+u−p, s·j+v−p]` it meets (skipping padding) and of the output
/// entry `Z[n,f,i,j]`, over `X` `[N, C, H, W]`, `K` `[F, C, kh, kw]` and `Z`
/// `[N, F, oh, ow]` (a single map is a batch of one). The forward pass and both gradients are sums over the same
/// products, each accumulating into a different one of the three, always in
/// this order.
fn for_each_tap(xd: Dims4, kd: Dims4, zd: Dims4, conv: Conv, mut tap: impl FnMut(usize, usize, usize)) {
    let s = conv.stride;
    for batch in 0..xd.f {
        for f in 0..kd.f {
            for c in 0..kd.c {
                for u in 0..kd.h {
                    for v in 0..kd.w {
                        let k = kd.index(f, c, u, v);
                        for i in 0..zd.h {
                            let Some(m) = unpadded(s, i, u, conv.pad, xd.h) else { continue };
                            for j in 0..zd.w {
                                let Some(n) = unpadded(s, j, v, conv.pad, xd.w) else { continue };
                                tap(k, xd.index(batch, c, m, n), zd.index(batch, f, i, j));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Forward: `Z[f,i,j] = Σ_{c,u,v} K[f,c,u,v] · X̃[c, s·i+u, s·j+v]` into `out` `[F, oh, ow]`.
fn forward<T: Ring>(x: &[T], xd: Dims4, k: &[T], kd: Dims4, conv: Conv, out: &mut [T], od: Dims4) {
    for_each_tap(xd, kd, od, conv, |ki, xi, zi| out[zi].add_product(&k[ki], &x[xi]));
}

/// Kernel gradient: `∂K[f,c,u,v] = Σ_{i,j} δ[f,i,j] · X̃[c, s·i+u, s·j+v]` into `out` `[F, C, kh, kw]`.
fn kernel_grad<T: Ring>(x: &[T], xd: Dims4, d: &[T], dd: Dims4, conv: Conv, out: &mut [T], kd: Dims4) {
    for_each_tap(xd, kd, dd, conv, |ki, xi, zi| out[ki].add_product(&d[zi], &x[xi]));
}

/// Input gradient: `∂X[c,m,n] = Σ_{f,i,j,u,v : s·i+u−p = m, s·j+v−p = n} K[f,c,u,v] · δ[f,i,j]`
/// (the full convolution of δ with K, cropped by the padding) into `out` `[C, H, W]`.
fn input_grad<T: Ring>(d: &[T], dd: Dims4, k: &[T], kd: Dims4, conv: Conv, out: &mut [T], xd: Dims4) {
    for_each_tap(xd, kd, dd, conv, |ki, xi, zi| out[xi].add_product(&k[ki], &d[zi]));
}

/// The f64 forward pass: by GEMM when large (see [`super::conv_gemm`]).
fn forward_f64(x: &[f64], xd: Dims4, k: &[f64], kd: Dims4, conv: Conv, out: &mut [f64], od: Dims4) {
    match conv_gemm::products(xd, kd, od) >= conv_gemm::GEMM_FROM {
        true => conv_gemm::forward(x, xd, k, kd, conv, out, od),
        false => forward(x, xd, k, kd, conv, out, od),
    }
}

/// The f64 kernel gradient: by GEMM when large.
fn kernel_grad_f64(x: &[f64], xd: Dims4, d: &[f64], dd: Dims4, conv: Conv, out: &mut [f64], kd: Dims4) {
    match conv_gemm::products(xd, kd, dd) >= conv_gemm::GEMM_FROM {
        true => conv_gemm::kernel_grad(x, xd, d, dd, conv, out, kd),
        false => kernel_grad(x, xd, d, dd, conv, out, kd),
    }
}

/// The f64 input gradient: by GEMM when large.
fn input_grad_f64(d: &[f64], dd: Dims4, k: &[f64], kd: Dims4, conv: Conv, out: &mut [f64], xd: Dims4) {
    match conv_gemm::products(xd, kd, dd) >= conv_gemm::GEMM_FROM {
        true => conv_gemm::input_grad(d, dd, k, kd, conv, out, xd),
        false => input_grad(d, dd, k, kd, conv, out, xd),
    }
}

/// Which kernel to run: each takes two operands and fills an output of known dims.
type Kernel<T> = fn(&[T], Dims4, &[T], Dims4, Conv, &mut [T], Dims4);

/// Runs a kernel on `a` and `b`: exactly (over common denominators, in
/// i128 when the sums surely fit, else in big integers) or in f64.
fn bilinear(
    (a, ad): (&Tensor, Dims4),
    (b, bd): (&Tensor, Dims4),
    (out_dims, od): (&[usize], Dims4),
    conv: Conv,
    kernels: (Kernel<i128>, Kernel<BigInt>, Kernel<f64>),
) -> Result<Tensor, NumericError> {
    let len: usize = out_dims.iter().product();
    let capped = a.capped() || b.capped();
    let out = match (a.data(), b.data()) {
        (Data::Exact(x), Data::Exact(y)) => {
            // Decimals (and other small fractions) in machine numbers.
            let integer = |a: &[i128], b: &[i128], out: &mut [i128]| (kernels.0)(a, ad, b, bd, conv, out, od);
            let float = |a: &[f64], b: &[f64], out: &mut [f64]| (kernels.2)(a, ad, b, bd, conv, out, od);
            if let Some(v) = super::scaled::bilinear(x, y, len, float, integer) {
                return Ok(Tensor::settle(out_dims.to_vec(), v)?.with_capped(capped));
            }
            let (xd, xs) = scaled(x);
            let (yd, ys) = scaled(y);
            // Each output sums fewer than |a|·|b| products of entries below 2^bits.
            let terms = (a.len() as f64 * b.len() as f64).log2().ceil() as u64;
            let numer: Vec<BigInt> = if max_bits(&xs) + max_bits(&ys) + terms + 1 < 127 {
                let small = |v: &[BigInt]| v.iter().map(|n| n.to_i128().unwrap_or(0)).collect::<Vec<i128>>();
                let mut out = vec![0i128; len];
                (kernels.0)(&small(&xs), ad, &small(&ys), bd, conv, &mut out, od);
                out.into_iter().map(BigInt::from).collect()
            } else {
                let mut out = vec![BigInt::zero(); len];
                (kernels.1)(&xs, ad, &ys, bd, conv, &mut out, od);
                out
            };
            let denom = xd * yd;
            Tensor::settle(out_dims.to_vec(), numer.into_iter().map(|n| BigRational::new(n, denom.clone())).collect())?
        }
        _ => {
            let mut out = vec![0.0; len];
            (kernels.2)(&a.float_view(), ad, &b.float_view(), bd, conv, &mut out, od);
            Tensor::float_checked(out_dims.to_vec(), out)?
        }
    };
    Ok(out.with_capped(capped))
}

/// The entries as integers over their least common denominator.
fn scaled(v: &[BigRational]) -> (BigInt, Vec<BigInt>) {
    let denom = common_denominator(v.iter());
    let numer = v.iter().map(|r| over_denominator(r, &denom)).collect();
    (denom, numer)
}

fn max_bits(v: &[BigInt]) -> u64 {
    v.iter().map(BigInt::bits).max().unwrap_or(0)
}

/// `conv2d(x, k)`: x `[C, H, W]`, k `[F, C, kh, kw]`, result `[F, H', W']`.
pub fn conv2d(x: &Tensor, k: &Tensor, conv: Conv, out_dims: &[usize]) -> Result<Tensor, NumericError> {
    known("conv2d", &[x, k])?;
    let l = conv.layout;
    let (xd, kd, od) = (map4(x.dims(), l)?, kernels4(k.dims(), l)?, map4(out_dims, l)?);
    fits(xd, kd, od, conv, out_dims)?;
    bilinear((x, xd), (k, kd), (out_dims, od), conv, (forward, forward, forward_f64))
}

/// ∂L/∂K = X̃ ⋆ δ: x `[C, H, W]`, δ `[F, H', W']`, result `[F, C, kh, kw]`.
pub fn conv2d_kernel_grad(x: &Tensor, delta: &Tensor, conv: Conv, out_dims: &[usize]) -> Result<Tensor, NumericError> {
    known("conv2d", &[x, delta])?;
    let l = conv.layout;
    let (xd, dd, kd) = (map4(x.dims(), l)?, map4(delta.dims(), l)?, kernels4(out_dims, l)?);
    fits(xd, kd, dd, conv, out_dims)?;
    bilinear((x, xd), (delta, dd), (out_dims, kd), conv, (kernel_grad, kernel_grad, kernel_grad_f64))
}

/// ∂L/∂X = crop(Σ_f δ_f ∗ K[f,c]): δ `[F, H', W']`, k `[F, C, kh, kw]`, result `[C, H, W]`.
pub fn conv2d_input_grad(delta: &Tensor, k: &Tensor, conv: Conv, out_dims: &[usize]) -> Result<Tensor, NumericError> {
    known("conv2d", &[delta, k])?;
    let l = conv.layout;
    let (dd, kd, xd) = (map4(delta.dims(), l)?, kernels4(k.dims(), l)?, map4(out_dims, l)?);
    fits(xd, kd, dd, conv, out_dims)?;
    bilinear((delta, dd), (k, kd), (out_dims, xd), conv, (input_grad, input_grad, input_grad_f64))
}

/// The products one entry (flat index `out`) of `conv2d(x, k)` sums, as
/// (kernel index, input index) pairs, by the forward pass's own index rules
/// (either layout, padding skipped); `None` when the extents do not make a
/// convolution or `out` is past the end. For deciding one entry exactly
/// without the whole map (see `plan::certify`).
pub(super) fn forward_taps(
    x_dims: &[usize],
    k_dims: &[usize],
    conv: Conv,
    out_dims: &[usize],
    out: usize,
) -> Option<Vec<(usize, usize)>> {
    let l = conv.layout;
    let (xd, kd, od) = (map4(x_dims, l).ok()?, kernels4(k_dims, l).ok()?, map4(out_dims, l).ok()?);
    fits(xd, kd, od, conv, out_dims).ok()?;
    // The output's logical [n, f, i, j] from its flat index, in its layout.
    let (c, h, w) = (od.c, od.h, od.w);
    let map = c.checked_mul(h)?.checked_mul(w).filter(|&m| m > 0)?;
    let (n, r) = (out / map, out % map);
    let (f, i, j) = match l {
        MapLayout::Nchw => (r / (h * w), (r % (h * w)) / w, r % w),
        MapLayout::Nhwc => (r % c, r / (w * c), (r % (w * c)) / c),
    };
    if n >= od.f || od.index(n, f, i, j) != out {
        return None;
    }
    let s = conv.stride;
    let mut taps = Vec::with_capacity(kd.c * kd.h * kd.w);
    for ch in 0..kd.c {
        for u in 0..kd.h {
            let Some(m) = unpadded(s, i, u, conv.pad, xd.h) else { continue };
            for v in 0..kd.w {
                let Some(q) = unpadded(s, j, v, conv.pad, xd.w) else { continue };
                taps.push((kd.index(f, ch, u, v), xd.index(n, ch, m, q)));
            }
        }
    }
    Some(taps)
}

/// Checks that a map `x`, kernels `k` and output map `z` belong to one
/// convolution, so that every index the kernels compute is in range.
fn fits(x: Dims4, k: Dims4, z: Dims4, conv: Conv, dims: &[usize]) -> Result<(), NumericError> {
    let side = |n: usize, w: usize| (n + 2 * conv.pad).checked_sub(w).map(|d| d / conv.stride.max(1) + 1);
    let ok = x.f == z.f && x.c == k.c && z.c == k.f && side(x.h, k.h) == Some(z.h) && side(x.w, k.w) == Some(z.w);
    match ok {
        true => Ok(()),
        false => Err(Tensor::shape_error(format!("{dims:?} does not fit the convolution's operands"))),
    }
}

/// A map `[C, H, W]` or a batch `[N, C, H, W]` (or either channels last)
/// as a stack of planes, one per map and channel: pooling treats each plane
/// on its own.
#[derive(Clone, Copy, Debug)]
struct Planes {
    /// N · C planes, plane `p` being map `p / C`, channel `p % C`.
    count: usize,
    channels: usize,
    h: usize,
    w: usize,
    layout: MapLayout,
}

impl Planes {
    fn of(dims: &[usize], layout: MapLayout) -> Result<Planes, NumericError> {
        let (n, channels, h, w) = match *layout.map_to_nchw(dims) {
            [c, h, w] => (1, c, h, w),
            [n, c, h, w] => (n, c, h, w),
            _ => return Err(Tensor::shape_error(format!("{dims:?} is not a feature map or a batch of maps"))),
        };
        Ok(Planes { count: n * channels, channels, h, w, layout })
    }

    /// The flat index of entry `(m, n)` of plane `p`.
    fn index(&self, p: usize, m: usize, n: usize) -> usize {
        match self.layout {
            MapLayout::Nchw => (p * self.h + m) * self.w + n,
            MapLayout::Nhwc => {
                let (map, c) = (p / self.channels.max(1), p % self.channels.max(1));
                ((map * self.h + m) * self.w + n) * self.channels + c
            }
        }
    }
}

/// The windows of a pooling of a map: visited one at a time with the flat
/// indices of the input entries each covers (padding left out) in
/// row-major order, and its size for the average (padding counted,
/// PyTorch's `count_include_pad`). One buffer serves every window: a
/// pooling of a large map visits thousands of them per pass.
struct Windows {
    input: Planes,
    output: Planes,
    window: Window,
}

impl Windows {
    /// How many windows (output entries) there are.
    fn len(&self) -> usize {
        self.output.count * self.output.h * self.output.w
    }

    /// Calls `visit(q, cells, area)` for every window: `q` its output
    /// entry's flat index, `cells` the input entries it covers. Stops with
    /// an error at a window lying wholly in the padding (the checker
    /// refuses those first).
    fn each(&self, mut visit: impl FnMut(usize, &[usize], usize)) -> Result<(), NumericError> {
        let (d, out) = (self.input, self.output);
        let (down, across) = (self.window.axis(0), self.window.axis(1));
        let mut cells = Vec::with_capacity(self.window.size[0] * self.window.size[1]);
        for p in 0..d.count {
            for i in 0..out.h {
                let (rows, height) = down.cover(i, d.h);
                for j in 0..out.w {
                    let (cols, width) = across.cover(j, d.w);
                    cells.clear();
                    for m in rows.clone() {
                        cells.extend(cols.clone().map(|n| d.index(p, m, n)));
                    }
                    if cells.is_empty() {
                        return Err(Tensor::shape_error("a window lies wholly in the padding".into()));
                    }
                    visit(out.index(p, i, j), &cells, height * width);
                }
            }
        }
        Ok(())
    }
}

/// The windows of a pooling of `dims`, and the output's dims; an error when
/// the window does not fit (the checker refuses those first) or `dims` is
/// not the window's input.
fn windows_of(dims: &[usize], window: Window) -> Result<(Windows, Vec<usize>), NumericError> {
    let d = Planes::of(dims, window.layout)?;
    let [kh, kw] = window.size;
    let misfit = || Tensor::shape_error(format!("a {kh}×{kw} window does not fit {dims:?}"));
    let (down, across) = (window.axis(0), window.axis(1));
    if [d.h, d.w] != window.extent || 2 * down.pad > down.size || 2 * across.pad > across.size {
        return Err(misfit());
    }
    let (oh, ow) = (down.count(d.h).ok_or_else(misfit)?, across.count(d.w).ok_or_else(misfit)?);
    let output = Planes { h: oh, w: ow, ..d };
    let nchw = window.layout.map_to_nchw(dims);
    let lead = &nchw[..nchw.len() - 2];
    let out_dims: Vec<usize> = lead.iter().copied().chain([oh, ow]).collect();
    Ok((Windows { input: d, output, window }, window.layout.map_from_nchw(&out_dims)))
}

/// The first maximum of `cells` in row-major order by `greater`: a later
/// equal value never wins.
fn first_max(cells: &[usize], greater: impl Fn(usize, usize) -> bool) -> usize {
    cells.iter().fold(cells[0], |best, &p| if greater(p, best) { p } else { best })
}

/// For each output entry of a max-pool of `a`, the flat index in `a` of its
/// window's first maximum in row-major order (padding, −∞, never wins).
fn argmax(a: &Tensor, window: Window) -> Result<(Vec<usize>, Vec<usize>), NumericError> {
    known("maxpool", &[a])?;
    let (windows, dims) = windows_of(a.dims(), window)?;
    let mut out = vec![0; windows.len()];
    match a.data() {
        Data::Symbolic(_) => return Err(open("maxpool")),
        // Over one common denominator the numerators compare as the values do.
        Data::Exact(v) => match super::scaled::Scaled::of(v) {
            Some(s) => windows.each(|q, cells, _| out[q] = first_max(cells, |p, r| s.numer[p] > s.numer[r]))?,
            None => windows
                .each(|q, cells, _| out[q] = first_max(cells, |p, r| crate::rational::cmp(&v[p], &v[r]).is_gt()))?,
        },
        Data::Float(v) => windows.each(|q, cells, _| out[q] = first_max_f64(v, cells))?,
    }
    Ok((out, dims))
}

/// The cells (flat indices in `a`, row-major, the order `argmax` reads
/// them) of every window of a max-pool of the f64 map `a` (of `dims`)
/// whose two largest entries come within `margin` of each other.
pub(super) fn max_pool_near_windows(
    a: &[f64],
    dims: &[usize],
    window: Window,
    margin: f64,
) -> Result<Vec<Vec<usize>>, NumericError> {
    let (windows, _) = windows_of(dims, window)?;
    if a.len() != dims.iter().product::<usize>() {
        return Err(Tensor::shape_error(format!("{} entries do not fill {dims:?}", a.len())));
    }
    let mut near = Vec::new();
    windows.each(|_, cells, _| {
        let top = cells.iter().map(|&p| a[p]).fold(f64::NEG_INFINITY, f64::max);
        if cells.iter().filter(|&&p| top - a[p] <= margin).count() > 1 {
            near.push(cells.to_vec());
        }
    })?;
    Ok(near)
}

/// The first maximum (row-major) of an f64 window, by `argmax`'s rule.
pub(super) fn first_max_f64(a: &[f64], cells: &[usize]) -> usize {
    first_max(cells, |p, r| a[p] > a[r])
}

/// For each window of a max-pool of `a`, how far its maximum stands above
/// the next largest entry (0 for a tie; infinite for a window of one
/// entry): where it is small, which entry the gradient flows to hangs on
/// the last digits.
pub fn max_pool_gaps(a: &Tensor, window: Window) -> Result<Vec<f64>, NumericError> {
    known("maxpool", &[a])?;
    let (windows, _) = windows_of(a.dims(), window)?;
    let v = a.float_view();
    let mut gaps = vec![0.0; windows.len()];
    windows.each(|q, cells, _| {
        let (mut first, mut second) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for &p in cells {
            if v[p] > first {
                second = first;
                first = v[p];
            } else if v[p] > second {
                second = v[p];
            }
        }
        gaps[q] = first - second;
    })?;
    Ok(gaps)
}

/// `maxpool(a)` or `avgpool(a)`.
pub fn pool(kind: PoolKind, a: &Tensor, window: Window) -> Result<Tensor, NumericError> {
    known("pooling", &[a])?;
    match kind {
        PoolKind::Max => {
            let (best, dims) = argmax(a, window)?;
            let data = match a.data() {
                Data::Symbolic(_) => return Err(open("maxpool")),
                Data::Exact(v) => Data::Exact(best.iter().map(|&p| v[p].clone()).collect()),
                Data::Float(v) => Data::Float(best.iter().map(|&p| v[p]).collect()),
            };
            Ok(from_data(dims, data).with_capped(a.capped()))
        }
        PoolKind::Avg => {
            let (windows, dims) = windows_of(a.dims(), window)?;
            let out = match a.data() {
                Data::Symbolic(_) => return Err(open("avgpool")),
                Data::Exact(v) => {
                    let mut means = vec![BigRational::zero(); windows.len()];
                    windows.each(|q, cells, area| {
                        let total = cells.iter().fold(BigRational::zero(), |t, &p| t + &v[p]);
                        means[q] = total / BigRational::from_integer(BigInt::from(area));
                    })?;
                    Tensor::settle(dims, means)?
                }
                Data::Float(v) => {
                    let mut means = vec![0.0; windows.len()];
                    windows.each(|q, cells, area| means[q] = cells.iter().map(|&p| v[p]).sum::<f64>() / area as f64)?;
                    Tensor::float_checked(dims, means)?
                }
            };
            Ok(out.with_capped(a.capped()))
        }
    }
}

/// The switches of `maxpool(a)`: a map the shape of `a` counting, at each
/// entry, the windows whose first maximum it is (a 0/1 mask when the
/// windows do not overlap).
pub fn max_pool_switches(a: &Tensor, window: Window) -> Result<Tensor, NumericError> {
    let (best, _) = argmax(a, window)?;
    let mut counts = vec![0i64; a.len()];
    for p in best {
        counts[p] += 1;
    }
    let data = counts.into_iter().map(|n| BigRational::from_integer(n.into())).collect();
    Ok(Tensor::exact(a.dims().to_vec(), data))
}

/// ∂L/∂A of `maxpool(a)`: each entry of `g` added at its window's first maximum.
pub fn max_pool_back(a: &Tensor, g: &Tensor, window: Window) -> Result<Tensor, NumericError> {
    known("maxpool", &[a, g])?;
    let (best, dims) = argmax(a, window)?;
    if g.len() != best.len() {
        return Err(Tensor::shape_error(format!("{:?} does not pool to {:?}", a.dims(), dims)));
    }
    let out = match g.data() {
        Data::Symbolic(_) => return Err(open("maxpool")),
        Data::Exact(v) => {
            let mut out = vec![BigRational::zero(); a.len()];
            for (q, &p) in best.iter().enumerate() {
                out[p] += &v[q];
            }
            Tensor::settle(a.dims().to_vec(), out)?
        }
        Data::Float(v) => {
            let mut out = vec![0.0; a.len()];
            for (q, &p) in best.iter().enumerate() {
                out[p] += v[q];
            }
            Tensor::float_checked(a.dims().to_vec(), out)?
        }
    };
    Ok(out.with_capped(a.capped() || g.capped()))
}

/// ∂L/∂A of `avgpool`: each entry of `g` spread over its window of the
/// input (`out_dims`), divided by the window's size as the forward pass
/// divides (padding counted); entries no window reaches get 0.
pub fn avg_pool_back(g: &Tensor, window: Window, out_dims: &[usize]) -> Result<Tensor, NumericError> {
    known("avgpool", &[g])?;
    let (windows, dims) = windows_of(out_dims, window)?;
    if g.dims() != dims {
        return Err(Tensor::shape_error(format!("{:?} does not pool to {:?}", out_dims, g.dims())));
    }
    let len: usize = out_dims.iter().product();
    let out = match g.data() {
        Data::Symbolic(_) => return Err(open("avgpool")),
        Data::Exact(v) => {
            let mut out = vec![BigRational::zero(); len];
            windows.each(|q, cells, area| {
                let share = &v[q] / BigRational::from_integer(BigInt::from(area));
                for &p in cells {
                    out[p] += &share;
                }
            })?;
            Tensor::settle(out_dims.to_vec(), out)?
        }
        Data::Float(v) => {
            let mut out = vec![0.0; len];
            windows.each(|q, cells, area| {
                for &p in cells {
                    out[p] += v[q] / area as f64;
                }
            })?;
            Tensor::float_checked(out_dims.to_vec(), out)?
        }
    };
    Ok(out.with_capped(g.capped()))
}

/// Σ_{i,j} of each channel of `[F, H, W]`, or Σ_{n,i,j} of each channel of
/// a batch `[N, F, H, W]`: a vector `[F]`, the channels on `axis` (the
/// last, channels last: `[N, H, W, F]`).
pub fn sum_spatial(t: &Tensor, axis: usize) -> Result<Tensor, NumericError> {
    known("a convolution's bias gradient", &[t])?;
    let Some(&f) = t.dims().get(axis) else {
        return Err(Tensor::shape_error(format!("{:?} has no axis {axis} of channels", t.dims())));
    };
    let per: usize = t.dims()[axis + 1..].iter().product();
    // The flat index k belongs to channel (k / per) % f: `per` entries
    // follow each channel's, then the next channel's start.
    let channel = |k: usize| (k / per.max(1)) % f.max(1);
    let out = match t.data() {
        Data::Symbolic(_) => return Err(open("a convolution's bias gradient")),
        Data::Exact(v) => {
            let mut sums = vec![BigRational::zero(); f.max(1)];
            for (k, x) in v.iter().enumerate() {
                sums[channel(k)] += x;
            }
            Tensor::settle(vec![f], sums)?
        }
        Data::Float(v) => {
            let mut sums = vec![0.0; f.max(1)];
            for (k, x) in v.iter().enumerate() {
                sums[channel(k)] += x;
            }
            Tensor::float_checked(vec![f], sums)?
        }
    };
    Ok(out.with_capped(t.capped()))
}

/// `flatten(t)` or its adjoint: the same entries in another shape.
pub fn reshape(t: &Tensor, dims: &[usize]) -> Result<Tensor, NumericError> {
    // A scalar gradient (from a plain sum) laid out as a map: that value everywhere.
    if t.dims().is_empty() && !dims.is_empty() {
        let n = dims.iter().product();
        let filled = match t.data() {
            Data::Symbolic(v) => Data::Symbolic(vec![v[0].clone(); n]),
            Data::Exact(v) => Data::Exact(vec![v[0].clone(); n]),
            Data::Float(v) => Data::Float(vec![v[0]; n]),
        };
        return Ok(from_data(dims.to_vec(), filled).with_capped(t.capped()));
    }
    if t.len() != dims.iter().product::<usize>() {
        return Err(Tensor::shape_error(format!("cannot lay {:?} out as {dims:?}", t.dims())));
    }
    Ok(t.reshaped(dims.to_vec()))
}

fn from_data(dims: Vec<usize>, data: Data) -> Tensor {
    match data {
        Data::Exact(v) => Tensor::exact(dims, v),
        Data::Float(v) => Tensor::float(dims, v),
        Data::Symbolic(v) => Tensor::symbolic(dims.clone(), v).unwrap_or_else(|_| Tensor::float(dims, Vec::new())),
    }
}

/// Convolution and pooling are computed on numbers only: an operand with
/// entries left open is refused, by name, rather than guessed at.
fn known(operation: &'static str, operands: &[&Tensor]) -> Result<(), NumericError> {
    if operands.iter().any(|t| t.is_symbolic()) {
        return Err(open(operation));
    }
    Ok(())
}

fn open(operation: &'static str) -> NumericError {
    NumericError { kind: NumericErrorKind::Unknowns { operation }, index: Vec::new() }
}
