//! Convolution kernels on HWC buffers (one image, channels last: pixel `(y, x)` is the row
//! `y·w + x` of `c` values). Channels last lets the depthwise convolution run along the channels,
//! contiguous and a multiple of 16 in every block, so it vectorises fully; in CHW its rows are
//! 7–112 pixels wide (short vector loops, scalar tails) and stride 2 gathers. Weights already
//! include folded batch norm.

/// TF "SAME" padding: output size `ceil(i/s)`, padding before = total / 2.
pub fn same_pad(i: usize, k: usize, s: usize) -> (usize, usize) {
    let o = i.div_ceil(s);
    let total = ((o - 1) * s + k).saturating_sub(i);
    (o, total / 2)
}

fuserec_core::vectorized_fn! {
    /// `x ← min(max(x, 0), 6)`.
    pub fn relu6(x: &mut [f32]) {
        for v in x {
            *v = v.clamp(0.0, 6.0);
        }
    }
}

/// `out[hw × cout] = input[hw × cin] · w[cin × cout] + b`: a 1×1 convolution is one product,
/// with the pixels as its long side (in CHW it was `cout × hw`, a shape faer's kernels ran
/// slower than matrixmultiply's; channels last, they run it 1.5× faster: docs/RESULTS.md).
pub fn pointwise(w: &[f32], b: &[f32], cin: usize, cout: usize, input: &[f32], hw: usize, out: &mut [f32]) {
    assert!(w.len() == cin * cout && b.len() == cout && input.len() >= hw * cin && out.len() >= hw * cout, "pointwise shapes");
    for row in out[..hw * cout].chunks_exact_mut(cout) {
        row.copy_from_slice(b);
    }
    // SAFETY: input hw × cin, w cin × cout and out hw × cout, row-major, checked above.
    unsafe {
        fuserec_gemm::sgemm(
            hw,
            cin,
            cout,
            1.0,
            input.as_ptr(),
            cin as isize,
            1,
            w.as_ptr(),
            cout as isize,
            1,
            1.0,
            out.as_mut_ptr(),
            cout as isize,
            1,
        );
    }
}

fuserec_core::vectorized_fn! {
    /// Depthwise k×k convolution with stride and SAME padding on an `h × wd × c` input;
    /// `w[(ky·k + kx) × c]` (tap-major), `b[c]`. Returns the output's `(height, width)`.
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
        for oy in 0..ho {
            for ox in 0..wo {
                let o = &mut out[(oy * wo + ox) * c..(oy * wo + ox + 1) * c];
                o.copy_from_slice(&b[..c]);
                for ky in 0..k {
                    let iy = (oy * stride + ky) as isize - pt as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..k {
                        let ix = (ox * stride + kx) as isize - pl as isize;
                        if ix < 0 || ix >= wd as isize {
                            continue;
                        }
                        let src = &input[(iy as usize * wd + ix as usize) * c..][..c];
                        let tap = &w[(ky * k + kx) * c..][..c];
                        for ((o, s), t) in o.iter_mut().zip(src).zip(tap) {
                            *o += t * s;
                        }
                    }
                }
            }
        }
        (ho, wo)
    }
}

/// im2col for a k×k stride-s SAME convolution of a CHW input: one row per output pixel,
/// `col[(ho·wo) × (cin·k·k)]`, columns in the weights' `(c, ky, kx)` order.
pub fn im2col(input: &[f32], cin: usize, h: usize, wd: usize, k: usize, stride: usize, col: &mut Vec<f32>) -> (usize, usize) {
    let (ho, pt) = same_pad(h, k, stride);
    let (wo, pl) = same_pad(wd, k, stride);
    let per = cin * k * k;
    col.clear();
    col.resize(ho * wo * per, 0.0);
    for oy in 0..ho {
        for ox in 0..wo {
            let row = &mut col[(oy * wo + ox) * per..][..per];
            for c in 0..cin {
                for ky in 0..k {
                    let iy = (oy * stride + ky) as isize - pt as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..k {
                        let ix = (ox * stride + kx) as isize - pl as isize;
                        if ix >= 0 && ix < wd as isize {
                            row[(c * k + ky) * k + kx] = input[(c * h + iy as usize) * wd + ix as usize];
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

    /// Reference: direct convolution of one channel with explicit zero padding.
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

    /// Channels last against the per-channel direct convolution, for both strides, both kernel
    /// sizes, and channel counts that are and are not a multiple of the vector width.
    #[test]
    fn depthwise_matches_naive_for_all_strides_and_sizes() {
        let mut r = fuserec_core::Rng::new(2);
        for (h, w, k, s, c) in [(7, 9, 3, 1, 2), (8, 8, 3, 2, 16), (9, 7, 5, 2, 19), (6, 5, 5, 1, 33), (1, 1, 3, 1, 3)] {
            let chw: Vec<f32> = (0..c * h * w).map(|_| r.normal() as f32).collect();
            let kern: Vec<f32> = (0..c * k * k).map(|_| r.normal() as f32).collect();
            let bias: Vec<f32> = (0..c).map(|i| i as f32 * 0.1 - 0.5).collect();
            let hwc: Vec<f32> = (0..h * w * c).map(|i| chw[(i % c) * h * w + i / c]).collect();
            let taps: Vec<f32> = (0..k * k * c).map(|i| kern[(i % c) * k * k + i / c]).collect();
            let (ho, _) = same_pad(h, k, s);
            let (wo, _) = same_pad(w, k, s);
            let mut out = vec![f32::NAN; ho * wo * c];
            assert_eq!(depthwise(&taps, &bias, c, k, s, &hwc, h, w, &mut out), (ho, wo));
            for ch in 0..c {
                let want = naive_dw(&chw[ch * h * w..(ch + 1) * h * w], h, w, &kern[ch * k * k..(ch + 1) * k * k], k, s);
                for (p, want) in want.iter().enumerate() {
                    let got = out[p * c + ch];
                    assert!((got - (want + bias[ch])).abs() < 1e-4, "{h}x{w} k{k} s{s} c{c}: channel {ch} pixel {p}");
                }
            }
        }
    }

    #[test]
    fn im2col_then_matmul_equals_direct_conv() {
        // Two input channels, one output channel: im2col·w must equal the sum of the naive
        // per-channel convolutions.
        let mut r = fuserec_core::Rng::new(3);
        let (h, w, k, s, cin) = (9, 8, 3, 2, 2);
        let x: Vec<f32> = (0..cin * h * w).map(|_| r.normal() as f32).collect();
        let kern: Vec<f32> = (0..cin * k * k).map(|_| r.normal() as f32).collect();
        let mut col = Vec::new();
        let (ho, wo) = im2col(&x, cin, h, w, k, s, &mut col);
        let mut out = vec![0.0; ho * wo];
        pointwise(&kern, &[0.25], cin * k * k, 1, &col, ho * wo, &mut out);
        let want: Vec<f32> = (0..ho * wo)
            .map(|p| (0..cin).map(|c| naive_dw(&x[c * h * w..(c + 1) * h * w], h, w, &kern[c * k * k..(c + 1) * k * k], k, s)[p]).sum())
            .collect();
        for (a, b) in out.iter().zip(&want) {
            assert!((a - (b + 0.25)).abs() < 1e-4);
        }
    }
}
