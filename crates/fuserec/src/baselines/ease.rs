use crate::recommender::{Recommender, TrainData};
use fuserec_core::{Embeddings, Error, Result};
use fuserec_nn::Checkpoint;
use rayon::prelude::*;

/// EASE (Steck 2019): an item-item linear model with a zero diagonal, in closed form. With
/// `G = XᵀX` (binary user × item training positives) and `P = (G + λI)⁻¹`, the weights are
/// `B = I − P·diag(1/diag P)` (so `B_jj = 0`); a user's scores are `x_u B`. Solved in f64 by a
/// Cholesky factorisation (faer, in `fuserec_recall::ease`, which the two-tower's item–item channel
/// shares). Items without training positives get no evidence (`-inf`).
pub struct Ease {
    /// `n × n`, row-major: `b[h·n + j]` = weight from history item `h` to item `j`.
    b: Vec<f32>,
    n: usize,
    scorable: Vec<bool>,
    lambda: f64,
}

impl Ease {
    /// Fits EASE in closed form: `B = I − P·diag(1/diag(P))`, `P = (XᵀX + λI)⁻¹`, zero diagonal.
    /// Errors: `lambda` not positive, or a catalogue too large for a dense item × item matrix.
    pub fn fit(data: &TrainData, lambda: f64) -> Result<Self> {
        let n = data.n_items;
        let b = fuserec_recall::ease::ease_weights(&data.user_items, n, lambda)?;
        let scorable = data.item_popularity.iter().map(|&c| c > 0).collect();
        Ok(Ease { b, n, scorable, lambda })
    }

    /// The weight from history item `h` to item `j`.
    pub fn weight(&self, h: usize, j: usize) -> f32 {
        self.b[h * self.n + j]
    }
}

impl Recommender for Ease {
    fn name(&self) -> String {
        format!("EASE(λ={})", self.lambda)
    }
    fn score(&self, _users: &[u32], histories: &[&[u32]], out: &mut [f32]) {
        fuserec_recall::ease::ease_scores(&self.b, self.n, histories, out);
        out.par_chunks_mut(self.n).for_each(|row| {
            row.iter_mut().zip(&self.scorable).filter(|(_, ok)| !**ok).for_each(|(s, _)| *s = f32::NEG_INFINITY);
        });
    }
    fn state(&self) -> Result<Checkpoint> {
        let mut ck = Checkpoint { header: serde_json::to_string(&self.lambda).expect("a number serialises"), ..Default::default() };
        ck.put_embeddings("b", &Embeddings::from_vec(self.n, self.n, self.b.clone())?);
        ck.put_mask("scorable", &self.scorable);
        Ok(ck)
    }
}

impl Ease {
    /// Rebuilds the model from its saved state; a malformed state is an error.
    pub fn from_state(ck: &Checkpoint) -> Result<Self> {
        let lambda: f64 = serde_json::from_str(&ck.header).map_err(|e| Error::Invalid(format!("ease: state header: {e}")))?;
        let b = ck.embeddings("b")?;
        if b.rows() != b.dim() {
            return Err(Error::Shape(format!("ease: B is {} × {}, not square", b.rows(), b.dim())));
        }
        let n = b.rows();
        Ok(Ease { b: b.as_slice().to_vec(), n, scorable: ck.mask("scorable", n)?, lambda })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::{Interaction, ItemId, UserId};

    /// 4 users × 3 items, λ = 1, against the closed form computed by hand with the adjugate.
    #[test]
    fn four_by_three_by_hand() {
        // X rows: u0 {0,1}, u1 {0,1,2}, u2 {1}, u3 {2}.
        let pos = |u, i| Interaction { user: UserId(u), item: ItemId(i), ts: 0, label: 1.0, weight: 1.0 };
        let log = [pos(0, 0), pos(0, 1), pos(1, 0), pos(1, 1), pos(1, 2), pos(2, 1), pos(3, 2)];
        let data = TrainData::new(4, 3, &log, &[], None);
        let m = Ease::fit(&data, 1.0).unwrap();
        // G + I = [[3,2,1],[2,4,1],[1,1,3]]; det = 3(12−1) − 2(6−1) + 1(2−4) = 21.
        // adj (symmetric) = [[11,−5,−2],[−5,8,−1],[−2,−1,8]], P = adj / 21.
        let p = [[11.0, -5.0, -2.0], [-5.0, 8.0, -1.0], [-2.0, -1.0, 8.0]];
        for (h, ph) in p.iter().enumerate() {
            for (j, pj) in p.iter().enumerate() {
                let want = if h == j { 0.0 } else { -ph[j] / pj[j] };
                assert!((m.weight(h, j) as f64 - want).abs() < 1e-6, "B[{h},{j}] = {} want {want}", m.weight(h, j));
            }
        }
        // User 2 (history {1}) scores row 1 of B: B[1,0] = 5/11, B[1,2] = 1/8.
        let mut out = vec![0.0; 3];
        m.score(&[2], &[&[1]], &mut out);
        assert!((out[0] - 5.0 / 11.0).abs() < 1e-6 && out[1] == 0.0 && (out[2] - 0.125).abs() < 1e-6, "{out:?}");
        assert!(Ease::fit(&data, 0.0).is_err());
    }

    #[test]
    fn items_without_training_positives_are_unscorable() {
        let pos = |u, i| Interaction { user: UserId(u), item: ItemId(i), ts: 0, label: 1.0, weight: 1.0 };
        let log = [pos(0, 0), pos(1, 0), pos(1, 1)];
        let data = TrainData::new(2, 3, &log, &[], None);
        let m = Ease::fit(&data, 10.0).unwrap();
        let mut out = vec![0.0; 3];
        m.score(&[0], &[&[0]], &mut out);
        assert_eq!(out[2], f32::NEG_INFINITY);
        assert!(out[1] > 0.0);
    }
}
