//! Branch-free `exp` and lane-wise reductions the compiler can vectorise (libm's `expf` is a
//! scalar call per element; the softmax over `B × N` logits is dominated by it).

const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;

/// `e^x` with relative error < 2e-7 on the range that matters (x ≤ 0 here); inputs below −87
/// flush to a tiny positive value, which callers treat as 0.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let k = (x * std::f32::consts::LOG2_E).round();
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

/// Max over a slice, eight lanes at a time.
pub fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            acc[k] = if c[k] > acc[k] { c[k] } else { acc[k] };
        }
    }
    let tail = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    acc.iter().copied().fold(tail, f32::max)
}

/// `xs[j] = exp(xs[j] − m)` in place; returns the sum.
pub fn exp_shift_sum(xs: &mut [f32], m: f32) -> f32 {
    let mut acc = [0f32; 8];
    let mut chunks = xs.chunks_exact_mut(8);
    for c in &mut chunks {
        for k in 0..8 {
            c[k] = exp(c[k] - m);
            acc[k] += c[k];
        }
    }
    let mut tail = 0.0;
    for x in chunks.into_remainder() {
        *x = exp(*x - m);
        tail += *x;
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    #[test]
    fn exp_matches_libm() {
        let mut worst = 0f32;
        for k in 0..200_000 {
            let x = -87.0 + k as f32 * (87.0 + 20.0) / 200_000.0;
            let (a, b) = (super::exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert_eq!(super::exp(0.0), 1.0);
        assert!(super::exp(f32::NEG_INFINITY) < 1e-37);
        let xs = [3.0, -1.0, 7.5, 2.0, 0.0, 1.0, 4.0, 6.0, 7.4, -3.0];
        assert_eq!(super::max(&xs), 7.5);
        let mut ys = xs;
        let s = super::exp_shift_sum(&mut ys, 7.5);
        let want: f32 = xs.iter().map(|x| (x - 7.5f32).exp()).sum();
        assert!((s - want).abs() < 1e-5);
    }
}
