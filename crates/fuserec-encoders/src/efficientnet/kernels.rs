//! Convolution kernels on CHW buffers (one image). Weights already include folded batch norm.

/// TF "SAME" padding: output size `ceil(i/s)`, padding before = total / 2.
pub fn same_pad(i: usize, k: usize, s: usize) -> (usize, usize) {
    let o = i.div_ceil(s);
    let total = ((o - 1) * s + k).saturating_sub(i);
    (o, total / 2)
}

#[inline]
pub fn relu6(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0));
}

/// `out[cout × hw] = w[cout × cin] · input[cin × hw] + b`. matrixmultiply, not fuserec-gemm:
/// in the whole model it measured 42 against 28 images/s (docs/RESULTS.md, issue #17).
pub fn pointwise(w: &[f32], b: &[f32], cin: usize, cout: usize, input: &[f32], hw: usize, out: &mut [f32]) {
    debug_assert_eq!(w.len(), cin * cout);
    for (o, row) in out[..cout * hw].chunks_exact_mut(hw).enumerate() {
        row.fill(b[o]);
    }
    unsafe {
        matrixmultiply::sgemm(
            cout,
            cin,
            hw,
            1.0,
            w.as_ptr(),
            cin as isize,
            1,
            input.as_ptr(),
            hw as isize,
            1,
            1.0,
            out.as_mut_ptr(),
            hw as isize,
            1,
        );
    }
}

/// Depthwise k×k convolution with stride and SAME padding; `w[c × k × k]`.
#[allow(clippy::too_many_arguments)]
pub fn depthwise(
    w: &[f32],
    b: &[f32],
    c: usize,
    k: usize,
    stride: usize,
    input: &[f32],
    h: usize,
    wd: usize,
    out: &mut [f32],
) -> (usize, usize) {
    let (ho, pt) = same_pad(h, k, stride);
    let (wo, pl) = same_pad(wd, k, stride);
    for ch in 0..c {
        let src = &input[ch * h * wd..(ch + 1) * h * wd];
        let dst = &mut out[ch * ho * wo..(ch + 1) * ho * wo];
        dst.fill(b[ch]);
        let kw = &w[ch * k * k..(ch + 1) * k * k];
        for ky in 0..k {
            // Output rows whose input row oy*s + ky - pt is inside the image.
            for oy in 0..ho {
                let iy = (oy * stride + ky) as isize - pt as isize;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                let srow = &src[iy as usize * wd..(iy as usize + 1) * wd];
                let drow = &mut dst[oy * wo..(oy + 1) * wo];
                for kx in 0..k {
                    let wv = kw[ky * k + kx];
                    // ix = ox*s + kx - pl must be in [0, wd): ox in [lo, hi).
                    let lo = pl.saturating_sub(kx).div_ceil(stride);
                    let hi = ((wd + pl - kx) as isize).max(0) as usize;
                    let hi = hi.div_ceil(stride).min(wo);
                    if lo >= hi {
                        continue;
                    }
                    let base = lo * stride + kx - pl;
                    if stride == 1 {
                        for (d, s) in drow[lo..hi].iter_mut().zip(&srow[base..base + (hi - lo)]) {
                            *d += wv * s;
                        }
                    } else {
                        for (j, d) in drow[lo..hi].iter_mut().enumerate() {
                            *d += wv * srow[base + j * stride];
                        }
                    }
                }
            }
        }
    }
    (ho, wo)
}

/// im2col for a k×k stride-s SAME convolution: `col[(cin·k·k) × (ho·wo)]`.
pub fn im2col(input: &[f32], cin: usize, h: usize, wd: usize, k: usize, stride: usize, col: &mut Vec<f32>) -> (usize, usize) {
    let (ho, pt) = same_pad(h, k, stride);
    let (wo, pl) = same_pad(wd, k, stride);
    col.clear();
    col.resize(cin * k * k * ho * wo, 0.0);
    for c in 0..cin {
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut col[((c * k + ky) * k + kx) * ho * wo..][..ho * wo];
                for oy in 0..ho {
                    let iy = (oy * stride + ky) as isize - pt as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for ox in 0..wo {
                        let ix = (ox * stride + kx) as isize - pl as isize;
                        if ix >= 0 && ix < wd as isize {
                            row[oy * wo + ox] = input[(c * h + iy as usize) * wd + ix as usize];
                        }
                    }
                }
            }
        }
    }
    (ho, wo)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: direct convolution with explicit zero padding.
    fn naive_dw(x: &[f32], h: usize, w: usize, kern: &[f32], k: usize, s: usize) -> Vec<f32> {
        let (ho, pt) = same_pad(h, k, s);
        let (wo, pl) = same_pad(w, k, s);
        let mut out = vec![0.0; ho * wo];
        for oy in 0..ho {
            for ox in 0..wo {
                for ky in 0..k {
                    for kx in 0..k {
                        let (iy, ix) = ((oy * s + ky) as isize - pt as isize, (ox * s + kx) as isize - pl as isize);
                        if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                            out[oy * wo + ox] += kern[ky * k + kx] * x[iy as usize * w + ix as usize];
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn same_padding_matches_tf() {
        assert_eq!(same_pad(224, 3, 2), (112, 0)); // total 1: 0 before, 1 after
        assert_eq!(same_pad(112, 3, 1), (112, 1));
        assert_eq!(same_pad(56, 5, 2), (28, 1)); // total 3
        assert_eq!(same_pad(7, 5, 1), (7, 2));
    }

    #[test]
    fn depthwise_matches_naive_for_all_strides_and_sizes() {
        let mut r = fuserec_core::Rng::new(2);
        for (h, w, k, s) in [(7, 9, 3, 1), (8, 8, 3, 2), (9, 7, 5, 2), (6, 5, 5, 1), (1, 1, 3, 1)] {
            let x: Vec<f32> = (0..2 * h * w).map(|_| r.normal() as f32).collect();
            let kern: Vec<f32> = (0..2 * k * k).map(|_| r.normal() as f32).collect();
            let (ho, pt) = same_pad(h, k, s);
            let (wo, _) = same_pad(w, k, s);
            let _ = pt;
            let mut out = vec![0.0; 2 * ho * wo];
            depthwise(&kern, &[0.5, -1.0], 2, k, s, &x, h, w, &mut out);
            for c in 0..2 {
                let want = naive_dw(&x[c * h * w..(c + 1) * h * w], h, w, &kern[c * k * k..(c + 1) * k * k], k, s);
                for (a, b) in out[c * ho * wo..(c + 1) * ho * wo].iter().zip(&want) {
                    assert!((a - (b + [0.5, -1.0][c])).abs() < 1e-4, "{h}x{w} k{k} s{s}");
                }
            }
        }
    }

    #[test]
    fn im2col_then_matmul_equals_direct_conv() {
        // One input channel, one output channel: im2col·w must equal the naive convolution.
        let mut r = fuserec_core::Rng::new(3);
        let (h, w, k, s) = (9, 8, 3, 2);
        let x: Vec<f32> = (0..h * w).map(|_| r.normal() as f32).collect();
        let kern: Vec<f32> = (0..k * k).map(|_| r.normal() as f32).collect();
        let mut col = Vec::new();
        let (ho, wo) = im2col(&x, 1, h, w, k, s, &mut col);
        let mut out = vec![0.0; ho * wo];
        pointwise(&kern, &[0.0], k * k, 1, &col, ho * wo, &mut out);
        let want = naive_dw(&x, h, w, &kern, k, s);
        for (a, b) in out.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4);
        }
    }
}
