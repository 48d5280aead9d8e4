//! User profiles in content space.

use fuserec_core::Embeddings;
use rayon::prelude::*;

/// Per history: the unit mean of its items' rows (only items marked in `scorable`, when given);
/// zero for an empty history. The user profile of the centroid model and of the two-tower's
/// content head.
pub fn centroid_profiles(rows: &Embeddings, histories: &[&[u32]], scorable: Option<&[bool]>) -> Embeddings {
    let d = rows.dim();
    let mut profiles = Embeddings::zeros(histories.len(), d);
    profiles.as_mut_slice().par_chunks_mut(d.max(1)).zip(histories.par_iter()).for_each(|(p, hist)| {
        for &h in hist.iter().filter(|&&h| scorable.is_none_or(|s| s[h as usize])) {
            p.iter_mut().zip(rows.row(h as usize)).for_each(|(a, b)| *a += b);
        }
    });
    profiles.l2_normalize();
    profiles
}
