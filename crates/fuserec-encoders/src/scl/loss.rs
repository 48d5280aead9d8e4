//! InfoNCE over in-batch keys plus a queue of earlier keys, and the hard-negative triplet.

use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{Tape, V0, V2, dot_softmax_xent, fork, row_dot};

/// `−mean_i log( exp(q_i·k_i/τ) / Σ_j exp(q_i·c_j/τ) )` where the columns `c` are the batch's keys
/// followed by the queue's (`queue`: `K × d` values and the item of each). Columns holding row
/// `i`'s own item (a duplicate in the batch, or the same item queued earlier) are not negatives.
/// The queue is a constant: gradients reach `q` and the batch keys only.
pub fn info_nce(q: V2, k: V2, items: &[u32], queue: Option<(&[f32], &[u32])>, tau: f32) -> V0 {
    let dev = q.device().clone();
    let d = q.shape().1;
    let mut cols: Vec<u32> = items.to_vec();
    let keys = match queue.filter(|(_, it)| !it.is_empty()) {
        Some((values, qi)) => {
            cols.extend_from_slice(qi);
            let qt = dev.tensor_from_vec(values.to_vec(), (qi.len(), d));
            (k, qt.retaped::<Tape>()).concat_along(Axis::<0>)
        }
        None => k,
    };
    dot_softmax_xent(q, keys, 1.0 / tau, None, &cols)
}

/// `mean over rows with a hard negative of max(0, m − q·k⁺ + q·k⁻)` (unit vectors: cosines).
/// `has` marks the rows that have one (others contribute nothing).
pub fn hard_triplet(q: V2, pos: V2, neg: V2, has: &[bool], margin: f32) -> V0 {
    let dev = q.device().clone();
    let n = has.len();
    let used = has.iter().filter(|&&h| h).count().max(1) as f32;
    let [q1, q2] = fork(q);
    let hinge = (row_dot(q2, neg) - row_dot(q1, pos) + margin).relu();
    let w: Vec<f32> = has.iter().map(|&h| if h { 1.0 } else { 0.0 }).collect();
    (hinge * dev.tensor_from_vec(w, (n,))).sum::<(), _>() * (1.0 / used)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_nn::{device, leaf};

    fn value(t: V0) -> f32 {
        t.retaped::<NoneTape>().array()
    }

    #[test]
    fn info_nce_value_and_gradient_with_a_queue() {
        let dev = device(0);
        // Hand case: q = k = e1, e2; queue holds −e1 (item 9); τ = 1.
        // Row 0: logits [1, 0, −1] → −log(e / (e + 1 + e⁻¹)); row 1: [0, 1, 0] → −log(e / (e + 2)).
        let e: Vec<f32> = vec![1.0, 0.0, 0.0, 1.0];
        let l = info_nce(leaf(&dev, e.clone(), 2, 2).1, leaf(&dev, e.clone(), 2, 2).1, &[0, 1], Some((&[-1.0, 0.0], &[9])), 1.0);
        let one = 1f32.exp();
        let want = (-(one / (one + 1.0 + 1.0 / one)).ln() - (one / (one + 2.0)).ln()) / 2.0;
        assert!((value(l) - want).abs() < 1e-5);
        // A queued key of row 1's own item (e2, item 1) is masked for row 1 but is a negative
        // for row 0: row 0 [1, 0, 0] → −log(e/(e+2)); row 1 [0, 1, masked] → −log(e/(e+1)).
        let with_self = info_nce(leaf(&dev, e.clone(), 2, 2).1, leaf(&dev, e.clone(), 2, 2).1, &[0, 1], Some((&[0.0, 1.0], &[1])), 1.0);
        let want = (-(one / (one + 2.0)).ln() - (one / (one + 1.0)).ln()) / 2.0;
        assert!((value(with_self) - want).abs() < 1e-5);
        // Finite differences on q and k.
        let queue: Vec<f32> = (0..9).map(|k| (k as f32 * 0.37).sin()).collect();
        let a: Vec<f32> = (0..12).map(|k| ((k * 7 % 5) as f32 - 2.0) * 0.3).collect();
        let b: Vec<f32> = (0..12).map(|k| ((k * 3 % 7) as f32 - 3.0) * 0.2).collect();
        let f = |x: &[f32], y: &[f32]| {
            info_nce(leaf(&dev, x.to_vec(), 4, 3).1, leaf(&dev, y.to_vec(), 4, 3).1, &[0, 1, 2, 3], Some((&queue, &[7, 8, 2])), 0.5)
        };
        let (ta, va) = leaf(&dev, a.clone(), 4, 3);
        let (tb, vb) = leaf(&dev, b.clone(), 4, 3);
        let grads = info_nce(va, vb, &[0, 1, 2, 3], Some((&queue, &[7, 8, 2])), 0.5).backward();
        let (ga, gb) = (grads.get(&ta).as_vec(), grads.get(&tb).as_vec());
        let h = 1e-3;
        for k in 0..12 {
            let (mut ap, mut am) = (a.clone(), a.clone());
            ap[k] += h;
            am[k] -= h;
            let fd = (value(f(&ap, &b)) - value(f(&am, &b))) / (2.0 * h);
            assert!((fd - ga[k]).abs() < 2e-3, "dq[{k}]: {} vs {fd}", ga[k]);
            let (mut bp, mut bm) = (b.clone(), b.clone());
            bp[k] += h;
            bm[k] -= h;
            let fd = (value(f(&a, &bp)) - value(f(&a, &bm))) / (2.0 * h);
            assert!((fd - gb[k]).abs() < 2e-3, "dk[{k}]: {} vs {fd}", gb[k]);
        }
    }

    #[test]
    fn hard_triplet_hand_case() {
        let dev = device(0);
        let q = leaf(&dev, vec![1.0, 0.0, 0.0, 1.0], 2, 2).1;
        let pos = leaf(&dev, vec![1.0, 0.0, 1.0, 0.0], 2, 2).1;
        let neg = leaf(&dev, vec![0.0, 1.0, 0.0, 1.0], 2, 2).1;
        // Row 0: max(0, 0.5 − 1 + 0) = 0; row 1: max(0, 0.5 − 0 + 1) = 1.5; row 1 only counted.
        assert!((value(hard_triplet(q, pos, neg, &[true, true], 0.5)) - 0.75).abs() < 1e-6);
        let q = leaf(&dev, vec![1.0, 0.0, 0.0, 1.0], 2, 2).1;
        let pos = leaf(&dev, vec![1.0, 0.0, 1.0, 0.0], 2, 2).1;
        let neg = leaf(&dev, vec![0.0, 1.0, 0.0, 1.0], 2, 2).1;
        assert!((value(hard_triplet(q, pos, neg, &[false, true], 0.5)) - 1.5).abs() < 1e-6);
    }
}
