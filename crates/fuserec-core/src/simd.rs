//! Element-wise kernels the compiler vectorises, and one macro that compiles a pass for the
//! widest vector unit the CPU has. The build's baseline is plain x86-64 (SSE2): a loop written
//! without calls and branches vectorises there, and [`vectorized_fn!`](crate::vectorized_fn)
//! lets the same loop use AVX-512 or AVX2 + FMA where the CPU has them, chosen at run time.
//! (A closure handed to a `#[target_feature]` function is not reliably inlined into it — seen:
//! a softmax row pass kept running on SSE2 — so the macro copies the body into each variant.)

/// Defines a function whose body is compiled three times: for AVX-512, for AVX2 + FMA and for
/// the baseline; each call runs the widest copy the CPU supports (checked at run time, cached by
/// the standard library). For element-wise passes over slices (softmax rows, GELU, layer norm,
/// attention): the body's loops vectorise for the wide units. Helpers the body calls must be
/// `#[inline(always)]` (as this module's kernels are): a helper that is not inlined runs as
/// built, with SSE2 only.
///
/// ```
/// fuserec_core::vectorized_fn! {
///     /// `xs[j] *= k`.
///     pub fn scale(xs: &mut [f32], k: f32) {
///         for x in xs {
///             *x *= k;
///         }
///     }
/// }
/// let mut v = [1.0, 2.0];
/// scale(&mut v, 3.0);
/// assert_eq!(v, [3.0, 6.0]);
/// ```
#[macro_export]
macro_rules! vectorized_fn {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if ::std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (and so AVX2 and FMA).
                    return unsafe { avx512($($arg),*) };
                }
                if ::std::arch::is_x86_feature_detected!("avx2") && ::std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has AVX2 and FMA.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;

/// `e^x`, relative error < 5·10⁻⁷ on `[−87, 88]`; below −87 it gives `e^−87` (callers treat it
/// as 0), above 88 `e^88`; NaN stays NaN. `2^k · e^r` with `|r| ≤ ln2/2` and a degree-7 Taylor
/// polynomial. No libm call and no branch, so loops over it vectorise: `k` is rounded by the
/// 1.5·2²³ trick (the sum's low mantissa bits hold `k`), not by `round`, which is a libm call on
/// the baseline target.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let k_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    p * f32::from_bits(((k_int + 127) << 23) as u32)
}

/// `Σ a·b` over the shorter length, in sixteen independent lanes: a float sum the compiler may
/// vectorise (a single running sum has to stay in order, so it cannot). Rounds differently from
/// a sequential sum.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for j in 0..16 {
            acc[j] += x[j] * y[j];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Max over a slice, sixteen lanes at a time (`−∞` for an empty slice; NaN is skipped).
#[inline(always)]
pub fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 16];
    let mut chunks = xs.chunks_exact(16);
    for c in &mut chunks {
        for k in 0..16 {
            acc[k] = if c[k] > acc[k] { c[k] } else { acc[k] };
        }
    }
    let tail = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    acc.iter().copied().fold(tail, f32::max)
}

/// `xs[j] = e^(xs[j] − m)` in place; returns the sum.
#[inline(always)]
pub fn exp_shift_sum(xs: &mut [f32], m: f32) -> f32 {
    let mut acc = [0f32; 16];
    let mut chunks = xs.chunks_exact_mut(16);
    for c in &mut chunks {
        for k in 0..16 {
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
    use super::*;

    #[test]
    fn exp_matches_std_on_its_range() {
        let mut worst = 0f32;
        for k in 0..400_000 {
            let x = -87.0 + k as f32 * (87.0 + 88.0) / 400_000.0;
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NEG_INFINITY) < 1e-37 && exp(f32::NEG_INFINITY) >= 0.0);
        assert!(exp(f32::NAN).is_nan());
        // The same values when the pass runs compiled for the CPU's widest unit.
        crate::vectorized_fn! {
            fn exps(xs: &[f32], out: &mut [f32]) {
                for (o, &x) in out.iter_mut().zip(xs) {
                    *o = exp(x);
                }
            }
        }
        let xs: Vec<f32> = (0..1000).map(|k| -80.0 + k as f32 * 0.16).collect();
        let mut wide = vec![0f32; xs.len()];
        exps(&xs, &mut wide);
        assert!(xs.iter().zip(&wide).all(|(&x, &w)| ((w - x.exp()) / x.exp()).abs() < 5e-7));
    }

    #[test]
    fn max_and_shifted_exponentials() {
        let xs = [3.0, -1.0, 7.5, 2.0, 0.0, 1.0, 4.0, 6.0, 7.4, -3.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.5, 7.0];
        assert_eq!(max(&xs), 7.5);
        let ys: Vec<f32> = (0..xs.len()).map(|k| k as f32 - 4.0).collect();
        let want: f32 = xs.iter().zip(&ys).map(|(a, b)| a * b).sum();
        assert!((dot(&xs, &ys) - want).abs() < 1e-4 && dot(&xs[..3], &ys) == 3.0 * -4.0 + -1.0 * -3.0 + 7.5 * -2.0);
        assert_eq!(max(&xs[..3]), 7.5);
        assert_eq!(max(&[]), f32::NEG_INFINITY);
        let mut ys = xs;
        let s = exp_shift_sum(&mut ys, 7.5);
        let want: f32 = xs.iter().map(|x| (x - 7.5f32).exp()).sum();
        assert!((s - want).abs() < 1e-5, "{s} vs {want}");
        assert!(ys.iter().zip(&xs).all(|(y, x)| (y - (x - 7.5f32).exp()).abs() < 1e-6));
    }
}
