//! The in-memory dataset every loader produces and every model consumes.

use fuserec_core::{IdMap, Interaction};
use std::path::PathBuf;

/// What is known about an item besides its interactions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemMeta {
    /// Title (may be empty).
    pub title: String,
    /// Longer free text (a `description` column), when the dataset has one.
    pub description: String,
    /// Tags or genres.
    pub tags: Vec<String>,
    /// Where the item's image should be; `None` when the dataset has none for it. The file may
    /// still turn out missing or undecodable: encoders then mask the image modality.
    pub image: Option<PathBuf>,
    /// Creation time (seconds), when the dataset records it.
    pub created_at: Option<i64>,
}

impl ItemMeta {
    /// Title, description and tags joined by spaces: the text the text encoders see.
    pub fn text(&self) -> String {
        let mut parts: Vec<&str> = vec![self.title.as_str(), self.description.as_str()];
        parts.extend(self.tags.iter().map(String::as_str));
        parts.retain(|p| !p.trim().is_empty());
        parts.join(" ")
    }
}

/// What a policy should do with an interaction whose item is not in the item file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownIdPolicy {
    /// Stop with an error naming file, line and id (default: a typo should not pass silently).
    #[default]
    Error,
    /// Drop the row and count it in the [`LoadReport`].
    Skip,
    /// Add the item to the catalogue with empty metadata.
    Add,
}

/// Counts of everything a loader dropped, repaired or noticed, shown to the user after loading.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct LoadReport {
    /// Interaction rows read.
    pub interaction_rows: usize,
    /// Interactions kept after dropping duplicates and unknown items.
    pub interactions_kept: usize,
    /// Exact duplicate `(user, item, ts)` rows dropped.
    pub duplicate_interactions: usize,
    /// Rows whose item is not in the item file.
    pub unknown_item_rows: usize,
    /// A few of those item ids, for the message.
    pub unknown_item_examples: Vec<String>,
    /// Items added to the catalogue by [`UnknownIdPolicy::Add`].
    pub items_added_from_interactions: usize,
    /// Repeated item ids in the item file (the first row wins).
    pub duplicate_item_rows: usize,
    /// Items with no image path.
    pub items_without_image: usize,
    /// Items with an empty title.
    pub empty_titles: usize,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} interaction rows, {} kept; {} duplicate rows dropped; {} rows with unknown items{}; {} items added from interactions; {} duplicate item rows; {} items without image; {} empty titles",
            self.interaction_rows,
            self.interactions_kept,
            self.duplicate_interactions,
            self.unknown_item_rows,
            if self.unknown_item_examples.is_empty() {
                String::new()
            } else {
                format!(" (e.g. {})", self.unknown_item_examples.join(", "))
            },
            self.items_added_from_interactions,
            self.duplicate_item_rows,
            self.items_without_image,
            self.empty_titles
        )
    }
}

/// Train/val/test files shipped with a dataset (a published split), used as given.
#[derive(Clone, Debug, Default)]
pub struct GivenSplit {
    /// Training interactions.
    pub train: Vec<Interaction>,
    /// Validation interactions.
    pub val: Vec<Interaction>,
    /// Test interactions on warm items (all test when there is no cold file).
    pub test_warm: Vec<Interaction>,
    /// `None` when the dataset has a single `test` file; cold items are then the test items
    /// absent from train.
    pub test_cold: Option<Vec<Interaction>>,
}

/// A loaded dataset: the id maps, every interaction and the items' metadata.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Name used in reports and fingerprints.
    pub name: String,
    /// Folder it was read from (images are resolved against it).
    pub root: PathBuf,
    /// External user ids ↔ dense [`UserId`](fuserec_core::UserId)s.
    pub users: IdMap,
    /// External item ids ↔ dense [`ItemId`](fuserec_core::ItemId)s.
    pub items: IdMap,
    /// Every interaction, sorted by `(ts, user, item)`.
    pub interactions: Vec<Interaction>,
    /// Indexed by `ItemId`.
    pub items_meta: Vec<ItemMeta>,
    /// What the loader dropped or repaired.
    pub report: LoadReport,
    /// The dataset's own split files, when it has them.
    pub given_split: Option<GivenSplit>,
}

impl Dataset {
    /// Number of users.
    pub fn n_users(&self) -> usize {
        self.users.len()
    }
    /// Number of items (with or without interactions).
    pub fn n_items(&self) -> usize {
        self.items.len()
    }
    /// Number of positive interactions.
    pub fn n_positives(&self) -> usize {
        self.interactions.iter().filter(|i| i.is_positive()).count()
    }
    /// Creation time per item: the recorded one, else the item's first interaction.
    pub fn created_at(&self) -> Vec<Option<i64>> {
        let mut first = vec![None::<i64>; self.n_items()];
        for x in &self.interactions {
            let f = &mut first[x.item.idx()];
            *f = Some(f.map_or(x.ts, |t| t.min(x.ts)));
        }
        self.items_meta.iter().zip(first).map(|(m, f)| m.created_at.or(f)).collect()
    }
}

/// By time, then user, then item (parallel; a single pass when already in order). Unstable:
/// rows with equal keys are repeats, which the loaders drop (or which are identical).
pub(crate) fn sort_interactions(v: &mut [Interaction]) {
    use rayon::slice::ParallelSliceMut;
    if !v.is_sorted_by_key(order_key) {
        v.par_sort_unstable_by_key(order_key);
    }
}

/// `(ts, user, item)` packed into one integer with the same order: time with its sign flipped
/// (so it orders as unsigned), then user, then item.
pub(crate) fn order_key(x: &Interaction) -> u128 {
    (((x.ts as u64) ^ (1 << 63)) as u128) << 64 | (x.user.0 as u128) << 32 | x.item.0 as u128
}
