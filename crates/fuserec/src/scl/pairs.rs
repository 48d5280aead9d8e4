//! Where SCL pairs come from. Each source gives anchor features, item features and pairs
//! (anchor row → item row, optional hard negative), plus a "raw" view of both sides in one
//! space when one exists (for the raw-backbone baseline).

use crate::features::ItemFeatures;
use crate::two_tower::sequences;
use fuserec_core::{Embeddings, Error, Interaction, Result};
use fuserec_data::Dataset;
use fuserec_encoders::TextEncoder;
use fuserec_encoders::scl::Pair;

/// Contrastive training pairs with the anchor and item rows they index.
pub struct PairData {
    /// Where the pairs come from.
    pub source: String,
    /// Anchor rows.
    pub anchors: Embeddings,
    /// Item rows.
    pub items: Embeddings,
    /// The pairs.
    pub pairs: Vec<Pair>,
    /// Anchors and items in one space (same backbone) for the raw baseline, when possible.
    pub raw: Option<(Embeddings, Embeddings)>,
    /// Which items have the item-side features (others are never positives).
    pub has_item: Vec<bool>,
    /// Pairs to hold out from, when they come from other events than the training pairs (e.g.
    /// the test period); `None`: held-out pairs are taken from `pairs`.
    pub eval_pairs: Option<Vec<Pair>>,
}

/// Something that turns a dataset into contrastive pairs (search sessions, co-clicks, …).
pub trait PairSource {
    /// Name in tables.
    fn name(&self) -> String;
    /// `train`: the training interactions; `all`: every interaction (for held-out pairs only).
    fn build(&self, ds: &Dataset, f: &ItemFeatures, train: &[Interaction], all: &[Interaction]) -> Result<PairData>;
}

fn unit(mut e: Embeddings) -> Embeddings {
    e.l2_normalize();
    e
}

/// Search sessions (`searches.tsv` beside the dataset): the query text (encoded with the text
/// backbone) → the bought item's fused content; the first clicked-but-not-bought item is the
/// hard negative.
pub struct SearchPairs<'a> {
    /// Encodes the query texts.
    pub text: &'a dyn TextEncoder,
}

impl PairSource for SearchPairs<'_> {
    fn name(&self) -> String {
        "search → purchase".into()
    }
    fn build(&self, ds: &Dataset, f: &ItemFeatures, _: &[Interaction], _: &[Interaction]) -> Result<PairData> {
        let path = ds.root.join("searches.tsv");
        if !path.is_file() {
            return Err(Error::MissingAsset(format!("{}: no search log (the synthetic world writes one)", path.display())));
        }
        let searches = fuserec_data::load_searches(&path, ds)?;
        let queries: Vec<&str> = searches.iter().map(|s| s.query.as_str()).collect();
        let anchors = self.text.encode(&queries)?;
        let (items, has_item) = f.fused()?;
        let pairs = searches
            .iter()
            .enumerate()
            .filter(|(_, s)| has_item[s.bought.idx()])
            .map(|(k, s)| Pair {
                anchor: k as u32,
                item: s.bought.0,
                hard_negative: s.clicked.iter().find(|c| has_item[c.idx()]).map(|c| c.0),
            })
            .collect();
        let raw = f.text().map(|t| (unit(anchors.clone()), unit(t.rows.clone())));
        Ok(PairData { source: self.name(), anchors, items, pairs, raw, has_item, eval_pairs: None })
    }
}

/// Title ↔ image of the same item (cross-modal): text features → image features.
pub struct CrossModalPairs;

impl PairSource for CrossModalPairs {
    fn name(&self) -> String {
        "title → image".into()
    }
    fn build(&self, _: &Dataset, f: &ItemFeatures, _: &[Interaction], _: &[Interaction]) -> Result<PairData> {
        let (Some(t), Some(i)) = (f.text(), f.image()) else {
            return Err(Error::Config("cross-modal pairs need both a text and an image backbone".into()));
        };
        let pairs = (0..t.rows.rows() as u32)
            .filter(|&k| t.mask[k as usize] && i.mask[k as usize])
            .map(|k| Pair { anchor: k, item: k, hard_negative: None })
            .collect();
        Ok(PairData {
            source: self.name(),
            anchors: t.rows.clone(),
            items: i.rows.clone(),
            pairs,
            raw: None,
            has_item: i.mask.clone(),
            eval_pairs: None,
        })
    }
}

/// Co-engagement (the comparison the paper argues against): an item → the next item the same
/// user engaged with, both as fused content.
pub struct CoEngagementPairs;

impl PairSource for CoEngagementPairs {
    fn name(&self) -> String {
        "co-engagement".into()
    }
    fn build(&self, ds: &Dataset, f: &ItemFeatures, train: &[Interaction], all: &[Interaction]) -> Result<PairData> {
        let (items, has_item) = f.fused()?;
        let pairs_of = |xs: &[Interaction]| -> Result<Vec<Pair>> {
            let mut pairs = Vec::new();
            for seq in sequences(ds.n_users(), &[xs])? {
                for w in seq.windows(2).filter(|w| w[0] != w[1] && has_item[w[0] as usize] && has_item[w[1] as usize]) {
                    pairs.push(Pair { anchor: w[0], item: w[1], hard_negative: None });
                }
            }
            Ok(pairs)
        };
        let (pairs, eval_pairs) = (pairs_of(train)?, Some(pairs_of(all)?));
        let raw = Some((items.clone(), items.clone()));
        Ok(PairData { source: self.name(), anchors: items.clone(), items, pairs, raw, has_item, eval_pairs })
    }
}
