use crate::features::ItemFeatures;
use crate::recommender::Recommender;
use fuserec_core::{Embeddings, Error, Result};
use fuserec_nn::Checkpoint;
use fuserec_recall::features::centroid_profiles;
use rayon::prelude::*;

/// Content-based k-NN: the user profile is the mean of the (L2-normalised) content vectors of
/// their history; an item's score is its cosine with that profile. Serves cold items, since it
/// needs no interactions of the item. Items with no content at all cannot be scored.
pub struct ContentKnn {
    items: Embeddings,
    has_content: Vec<bool>,
    label: String,
    kind: String,
}

impl ContentKnn {
    /// Needs no interactions: the profile is built from each user's history at scoring time.
    /// `weight` maps a modality's name to its weight in the fused vector (0 leaves it out).
    pub fn fit(f: &ItemFeatures, weight: impl Fn(&str) -> f32) -> Result<Self> {
        let (items, has_content) = f.fused_weighted(&weight)?;
        let used: Vec<(String, f32)> = f
            .modalities
            .iter()
            .map(|m| {
                // Beyond text and image, a modality is shown by its name (its backbone may be a path).
                let shown =
                    if m.name == "text" || m.name == "image" { m.backbone.split('(').next().unwrap_or(&m.backbone) } else { &m.name };
                (shown.to_string(), weight(&m.name))
            })
            .filter(|(_, w)| *w > 0.0)
            .collect();
        let equal = used.windows(2).all(|p| p[0].1 == p[1].1);
        let label = used.iter().map(|(k, w)| if equal { k.clone() } else { format!("{k}×{w}") }).collect::<Vec<_>>().join("+");
        Ok(ContentKnn { items, has_content, label, kind: "ContentKNN".into() })
    }
}

impl ContentKnn {
    /// The same model shown under another name (e.g. `ContentCentroid`).
    pub fn named(mut self, kind: &str) -> Self {
        self.kind = kind.to_string();
        self
    }

    /// Rebuilds the model from its saved state; a malformed state is an error.
    pub fn from_state(ck: &Checkpoint) -> Result<Self> {
        let (kind, label): (String, String) =
            serde_json::from_str(&ck.header).map_err(|e| Error::Invalid(format!("content-knn: state header: {e}")))?;
        let items = ck.embeddings("items")?;
        let has_content = ck.mask("has_content", items.rows())?;
        Ok(ContentKnn { items, has_content, label, kind })
    }

    /// Over ready item vectors (e.g. a learned representation); `has_content` marks scorable items.
    pub fn from_vectors(items: Embeddings, has_content: Vec<bool>, label: &str) -> Self {
        let mut items = items;
        items.l2_normalize();
        ContentKnn { items, has_content, label: label.to_string(), kind: "ContentKNN".into() }
    }
}

impl Recommender for ContentKnn {
    fn name(&self) -> String {
        format!("{}[{}]", self.kind, self.label)
    }
    fn score(&self, _users: &[u32], histories: &[&[u32]], out: &mut [f32]) {
        let d = self.items.dim();
        let profiles = centroid_profiles(&self.items, histories, Some(&self.has_content));
        fuserec_index::inner_products(&profiles, &self.items, out).expect("shapes agree by construction");
        let n = self.items.rows();
        out.par_chunks_mut(n).zip(profiles.as_slice().par_chunks(d)).for_each(|(row, p)| {
            let empty = p.iter().all(|&x| x == 0.0);
            for (s, &ok) in row.iter_mut().zip(&self.has_content) {
                if !ok || empty {
                    *s = f32::NEG_INFINITY;
                }
            }
        });
    }
    fn state(&self) -> Result<Checkpoint> {
        let mut ck =
            Checkpoint { header: serde_json::to_string(&(&self.kind, &self.label)).expect("strings serialise"), ..Default::default() };
        ck.put_embeddings("items", &self.items);
        ck.put_mask("has_content", &self.has_content);
        Ok(ck)
    }
}
