use crate::recommender::{Recommender, TrainData};
use fuserec_core::{Error, Result, Rng};
use fuserec_nn::Checkpoint;

/// Uniformly random scores, fixed by seed: the chance level each segment's numbers should be
/// read against (e.g. COLD recall@K of a random ranker ≈ K / number of cold items).
pub struct RandomScores {
    n_items: usize,
    seed: u64,
}

impl RandomScores {
    /// Seeded random scores over `data`'s catalogue.
    pub fn fit(data: &TrainData, seed: u64) -> Self {
        RandomScores { n_items: data.n_items, seed }
    }

    /// Rebuilds the model from its saved state; a malformed state is an error.
    pub fn from_state(ck: &Checkpoint) -> Result<Self> {
        let (n_items, seed): (usize, u64) =
            serde_json::from_str(&ck.header).map_err(|e| Error::Invalid(format!("random: state header: {e}")))?;
        Ok(RandomScores { n_items, seed })
    }
}

impl Recommender for RandomScores {
    fn name(&self) -> String {
        "Random".into()
    }
    fn score(&self, _users: &[u32], histories: &[&[u32]], out: &mut [f32]) {
        for (row, h) in out.chunks_exact_mut(self.n_items).zip(histories) {
            // Seeded by the history so a user gets the same list in every batch layout.
            let key = h.iter().fold(self.seed, |a, &i| a.rotate_left(5) ^ i as u64);
            let mut r = Rng::derive(key, h.len() as u64);
            row.iter_mut().for_each(|x| *x = r.uniform() as f32);
        }
    }
    fn state(&self) -> Result<Checkpoint> {
        Ok(Checkpoint { header: serde_json::to_string(&(self.n_items, self.seed)).expect("numbers serialise"), ..Default::default() })
    }
}
