pub use fuserec_nn::V0;
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{V2, fork, row_dot};

/// Sampled softmax: row `i` of `q` (`B` rows) should pick column `i` of `v` (`N ≥ B` columns: the
/// batch's positives, then any extra sampled negatives). `logits = q·vᵀ/τ − log Q_j`, where `Q_j`
/// is the probability that column `j`'s item was sampled as a negative (log-Q correction, so
/// popular items are not punished for being over-represented); columns holding the row's own
/// item are masked, they are not negatives.
pub fn sampled_softmax(q: V2, v: V2, log_q: Option<&[f32]>, items: &[u32], tau: f32) -> V0 {
    let b = q.shape().0;
    let n = items.len();
    assert!(n >= b && v.shape().0 == n, "sampled softmax: {b} rows, {n} columns, {} item rows", v.shape().0);
    assert!(log_q.is_none_or(|l| l.len() == n), "one log Q per column");
    fuserec_nn::dot_softmax_xent(q, v, 1.0 / tau, log_q, items)
}

/// Cross-view triplet on unit vectors: `mean max(0, m − cos(c_i, b_i) + cos(c_i, b_j))`, with `j`
/// the next row holding a different item (rows with no such neighbour are skipped).
pub fn triplet(c: V2, bv: V2, items: &[u32], margin: f32) -> V0 {
    let n = items.len();
    let dev = c.device().clone();
    let mut idx = vec![0usize; n];
    let mut w = vec![0f32; n];
    for i in 0..n {
        if let Some(k) = (1..n).map(|k| (i + k) % n).find(|&j| items[j] != items[i]) {
            idx[i] = k;
            w[i] = 1.0;
        }
    }
    let used = w.iter().sum::<f32>().max(1.0);
    let [c1, c2] = fork(c);
    let [b1, b2] = fork(bv);
    let pos = row_dot(c1, b1);
    let neg = row_dot(c2, b2.gather(dev.tensor_from_vec(idx, (n,))));
    let hinge = (neg - pos + margin).relu();
    (hinge * dev.tensor_from_vec(w, (n,))).sum::<(), _>() * (1.0 / used)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_nn::{T2, device, l2_normalize_rows, leaf};

    fn value(t: V0) -> f32 {
        t.retaped::<NoneTape>().array()
    }

    /// Central differences of `f` at `x` against the tape's gradient.
    fn check(f: &dyn Fn(V2, V2) -> V0, a: Vec<f32>, b: Vec<f32>, rows: usize, cols: usize) {
        let dev = device(0);
        let (ta, va) = leaf(&dev, a.clone(), rows, cols);
        let (tb, vb) = leaf(&dev, b.clone(), rows, cols);
        let grads = f(va, vb).backward();
        let (ga, gb) = (grads.get(&ta).as_vec(), grads.get(&tb).as_vec());
        let eval = |a: &[f32], b: &[f32]| value(f(leaf(&dev, a.to_vec(), rows, cols).1, leaf(&dev, b.to_vec(), rows, cols).1));
        let h = 1e-3f32;
        for (which, g) in [(0, &ga), (1, &gb)] {
            for k in 0..rows * cols {
                let (mut ap, mut am, mut bp, mut bm) = (a.clone(), a.clone(), b.clone(), b.clone());
                if which == 0 {
                    ap[k] += h;
                    am[k] -= h;
                } else {
                    bp[k] += h;
                    bm[k] -= h;
                }
                let fd = (eval(&ap, &bp) - eval(&am, &bm)) / (2.0 * h);
                assert!((fd - g[k]).abs() < 2e-3 * (1.0 + fd.abs()), "input {which} element {k}: tape {} vs finite difference {fd}", g[k]);
            }
        }
    }

    #[test]
    fn sampled_softmax_value_and_gradient() {
        let dev = device(0);
        // Hand case: q = e1, e2; v = e1, e2; τ = 1; no correction → each row: −log(e/(e+1)).
        let q: T2 = dev.tensor_from_vec(vec![1.0, 0.0, 0.0, 1.0], (2, 2));
        let l = sampled_softmax(q.leaky_trace(), q.leaky_trace(), None, &[0, 1], 1.0);
        let want = -(1f32.exp() / (1f32.exp() + 1.0)).ln();
        assert!((value(l) - want).abs() < 1e-5);
        // log-Q: subtracting log Q of the negative column raises its logit when Q < 1.
        let l2 = sampled_softmax(q.leaky_trace(), q.leaky_trace(), Some(&[0.0, (0.5f32).ln()]), &[0, 1], 1.0);
        assert!(value(l2) > want);
        // A duplicate item in the batch is not its own negative.
        let l3 = sampled_softmax(q.leaky_trace(), q.leaky_trace(), None, &[4, 4], 1.0);
        assert!(value(l3).abs() < 1e-5);
        let a: Vec<f32> = (0..12).map(|k| ((k * 7 % 5) as f32 - 2.0) * 0.3).collect();
        let b: Vec<f32> = (0..12).map(|k| ((k * 3 % 7) as f32 - 3.0) * 0.2).collect();
        let lq = [0.1f32.ln(), 0.3f32.ln(), 0.2f32.ln(), 0.4f32.ln()];
        check(&|x, y| sampled_softmax(x, y, Some(&lq), &[0, 1, 2, 0], 0.5), a.clone(), b.clone(), 4, 3);
        // Extra negative columns: 2 query rows against 4 item columns.
        let lq2 = [lq[0], lq[1], lq[2], lq[3]];
        check(&|x, y| sampled_softmax(x.slice((0..2, ..)), y, Some(&lq2), &[0, 1, 2, 1], 0.5), a, b, 4, 3);
    }

    #[test]
    fn triplet_value_and_gradient() {
        let dev = device(0);
        // c0 = b0 (cos 1), neighbour b1 ⟂ → hinge max(0, m − 1 + 0) = 0 for m < 1.
        let e: T2 = dev.tensor_from_vec(vec![1.0, 0.0, 0.0, 1.0], (2, 2));
        assert_eq!(value(triplet(e.leaky_trace(), e.leaky_trace(), &[0, 1], 0.5)), 0.0);
        // c = b swapped → cos(c_i,b_i) = 0, cos(c_i,b_j) = 1 → hinge m + 1.
        let s: T2 = dev.tensor_from_vec(vec![0.0, 1.0, 1.0, 0.0], (2, 2));
        assert!((value(triplet(s.leaky_trace(), e.leaky_trace(), &[0, 1], 0.5)) - 1.5).abs() < 1e-6);
        // Same item everywhere: no valid negative, no loss.
        assert_eq!(value(triplet(s.leaky_trace(), e.leaky_trace(), &[3, 3], 0.5)), 0.0);
        let a: Vec<f32> = (0..12).map(|k| ((k * 5 % 7) as f32 - 3.0) * 0.25 + 0.1).collect();
        let b: Vec<f32> = (0..12).map(|k| ((k * 3 % 5) as f32 - 2.0) * 0.3 + 0.05).collect();
        check(&|x, y| triplet(l2_normalize_rows(x, 1e-12), l2_normalize_rows(y, 1e-12), &[0, 1, 2, 3], 0.8), a, b, 4, 3);
    }
}
