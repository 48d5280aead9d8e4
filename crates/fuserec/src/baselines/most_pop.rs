use crate::recommender::{Recommender, TrainData};
use fuserec_nn::Checkpoint;

/// Ranks by training positives. Items never clicked in training (all cold items) cannot be
/// scored: popularity carries no information about them.
pub struct MostPop {
    scores: Vec<f32>,
}

impl MostPop {
    /// Counts training positives per item.
    pub fn fit(data: &TrainData) -> Self {
        let scores = data.item_popularity.iter().map(|&c| if c == 0 { f32::NEG_INFINITY } else { c as f32 }).collect();
        MostPop { scores }
    }
}

impl Recommender for MostPop {
    fn name(&self) -> String {
        "MostPop".into()
    }
    fn score(&self, _users: &[u32], histories: &[&[u32]], out: &mut [f32]) {
        for row in out.chunks_exact_mut(self.scores.len()).take(histories.len()) {
            row.copy_from_slice(&self.scores);
        }
    }
    fn state(&self) -> fuserec_core::Result<Checkpoint> {
        let mut ck = Checkpoint::default();
        // Items never seen (−∞) are stored as count 0.
        ck.put_vector("popularity", &self.scores.iter().map(|&s| s.max(0.0)).collect::<Vec<_>>());
        Ok(ck)
    }
}

impl MostPop {
    /// Rebuilds the model from its saved state; a malformed state is an error.
    pub fn from_state(ck: &Checkpoint) -> fuserec_core::Result<Self> {
        let n = ck.len_of("popularity")?;
        let scores = ck.vector("popularity", n)?.into_iter().map(|c| if c > 0.0 { c } else { f32::NEG_INFINITY }).collect();
        Ok(MostPop { scores })
    }
}
