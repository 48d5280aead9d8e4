//! Loader for fuserec's own dataset layout, which the synthetic world also writes:
//!
//! ```text
//! <dir>/items.tsv          item, title[, description][, tags][, image][, created_at]   (tags separated by `|`)
//! <dir>/interactions.tsv   user, item, timestamp, label[, weight]
//! <dir>/images/<item>.<ext>   used when items.tsv has no `image` column
//! ```
//! `.csv` or `.parquet` works in place of `.tsv` (Parquet interactions are streamed in row-group
//! batches; see [`crate::columnar`]). A pre-split dataset replaces `interactions.tsv` with
//! `train.tsv`, optional `val.tsv`, and `test.tsv` or `test_warm.tsv` + `test_cold.tsv`.

use crate::dataset::{Dataset, GivenSplit, ItemMeta, LoadReport, UnknownIdPolicy, order_key, sort_interactions};
use crate::delimited::Table;
use crate::images::image_folder;
use crate::movielens::POSITIVE_RATING;
use fuserec_core::{Error, IdMap, Interaction, ItemId, Result, UserId};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// How [`load_dir`] treats what does not fit.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// What to do with interactions whose item is not in the item file.
    pub unknown_items: UnknownIdPolicy,
}

/// Reads the first of `<dir>/<stem>.tsv` / `.csv` / `.parquet` that exists.
fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    ["tsv", "csv", "parquet"].iter().map(|e| dir.join(format!("{stem}.{e}"))).find(|p| p.is_file())
}

/// Loads a dataset folder in fuserec's layout: `items` and `interactions` tables (TSV, CSV or
/// Parquet), optionally `train`/`val`/`test`(/`test_cold`) split files. Every parse error names
/// file and line (or row group and row).
pub fn load_dir(dir: &Path, opts: &LoadOptions) -> Result<Dataset> {
    if !dir.is_dir() {
        return Err(Error::io(dir, std::io::Error::new(std::io::ErrorKind::NotFound, "dataset directory not found")));
    }
    let mut report = LoadReport::default();
    let mut items = IdMap::new();
    let mut users = IdMap::new();
    let folder = image_folder(&dir.join("images"))?;
    let mut items_meta = match find(dir, "items") {
        Some(p) => read_items(&p, dir, &mut items, &mut report)?,
        None => Vec::new(),
    };
    // Items without an explicit image path fall back to the image folder.
    for (i, meta) in items_meta.iter_mut().enumerate() {
        if meta.image.is_none() {
            meta.image = folder.get(items.raw(i as u32)).cloned();
        }
    }
    let mut reader = InteractionReader {
        users: &mut users,
        items: &mut items,
        items_meta: &mut items_meta,
        report: &mut report,
        policy: opts.unknown_items,
        catalogue_given: find(dir, "items").is_some(),
        seen: None,
        folder: &folder,
    };
    let (interactions, given_split) = if let Some(p) = find(dir, "interactions") {
        // One file: duplicates are dropped after sorting (no set of every row in memory; the
        // highest label wins). Several files (below): a row repeated in a later file is dropped.
        let mut v = reader.read(&p)?;
        let dropped = dedup_sorted(&mut v);
        reader.report.duplicate_interactions += dropped;
        (v, None)
    } else if let Some(train) = find(dir, "train") {
        reader.seen = Some(HashSet::default());
        let train = reader.read(&train)?;
        let val = find(dir, "val").map(|p| reader.read(&p)).transpose()?.unwrap_or_default();
        let (test_warm, test_cold) = match (find(dir, "test_warm"), find(dir, "test_cold"), find(dir, "test")) {
            (Some(w), Some(c), _) => (reader.read(&w)?, Some(reader.read(&c)?)),
            (None, None, Some(t)) => (reader.read(&t)?, None),
            _ => {
                return Err(Error::Config(format!(
                    "{}: a pre-split dataset needs test.tsv, or both test_warm.tsv and test_cold.tsv",
                    dir.display()
                )));
            }
        };
        let mut all: Vec<Interaction> = [&train, &val, &test_warm].into_iter().flatten().copied().collect();
        all.extend(test_cold.iter().flatten().copied());
        (all, Some(GivenSplit { train, val, test_warm, test_cold }))
    } else {
        return Err(Error::Config(format!(
            "{}: no interactions.tsv/.csv and no train.tsv/.csv — not a fuserec dataset directory",
            dir.display()
        )));
    };
    finish(dir, users, items, interactions, items_meta, report, given_split)
}

/// Sorts ([`sort_interactions`]) and drops rows repeating a `(user, item, timestamp)`: of such
/// a group the row with the highest label, then the highest weight, is kept — a rule that does
/// not depend on file order. Returns how many were dropped.
fn dedup_sorted(v: &mut Vec<Interaction>) -> usize {
    sort_interactions(v);
    let before = v.len();
    v.dedup_by(|later, kept| {
        let same = order_key(later) == order_key(kept);
        if same && (later.label, later.weight) > (kept.label, kept.weight) {
            *kept = *later;
        }
        same
    });
    before - v.len()
}

/// A row's label from its `label` value (must be in [0, 1]) or else its rating (positive at
/// `rating_threshold` or above); without either, every row is a positive. Shared by the TSV and
/// Parquet readers.
pub(crate) fn label_of(label: Option<f64>, rating: Option<f64>, rating_threshold: f64) -> std::result::Result<f32, String> {
    match (label, rating) {
        (Some(v), _) if !(0.0..=1.0).contains(&v) => Err(format!("label {v} outside [0, 1]")),
        (Some(v), _) => Ok(v as f32),
        (None, Some(r)) => Ok((r >= rating_threshold) as u8 as f32),
        (None, None) => Ok(1.0),
    }
}

pub(crate) fn finish(
    dir: &Path,
    users: IdMap,
    items: IdMap,
    mut interactions: Vec<Interaction>,
    items_meta: Vec<ItemMeta>,
    mut report: LoadReport,
    given_split: Option<GivenSplit>,
) -> Result<Dataset> {
    sort_interactions(&mut interactions);
    report.interactions_kept = interactions.len();
    report.items_without_image = items_meta.iter().filter(|m| m.image.is_none()).count();
    report.empty_titles = items_meta.iter().filter(|m| m.title.trim().is_empty()).count();
    let name = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Dataset { name, root: dir.to_path_buf(), users, items, interactions, items_meta, report, given_split })
}

pub(crate) fn read_items(path: &Path, dir: &Path, items: &mut IdMap, report: &mut LoadReport) -> Result<Vec<ItemMeta>> {
    let t = Table::read(path)?;
    let c_id = t.require(&["item", "item_id"])?;
    let c_title = t.column(&["title", "movie_title", "name"]);
    let c_tags = t.column(&["tags", "class", "genres", "genre"]);
    let c_image = t.column(&["image", "image_path"]);
    let c_desc = t.column(&["description", "desc", "text"]);
    let c_created = t.column(&["created_at", "created"]);
    let mut meta = Vec::new();
    for (line, f) in &t.rows {
        let id = f[c_id].trim();
        if id.is_empty() {
            return Err(t.err(*line, "empty item id"));
        }
        if items.contains(id) {
            report.duplicate_item_rows += 1;
            continue;
        }
        items.intern(id);
        let tags = c_tags
            .map(|c| {
                let sep = if f[c].contains('|') { '|' } else { ' ' };
                f[c].split(sep).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
            })
            .unwrap_or_default();
        let image = c_image.map(|c| f[c].trim()).filter(|s| !s.is_empty()).map(|s| dir.join(s));
        let created_at = match c_created.map(|c| (c, f[c].trim())) {
            Some((c, s)) if !s.is_empty() => Some(t.number(*line, c, s)? as i64),
            _ => None,
        };
        let field = |c: Option<usize>| c.map(|c| f[c].trim().to_string()).unwrap_or_default();
        meta.push(ItemMeta { title: field(c_title), description: field(c_desc), tags, image, created_at });
    }
    Ok(meta)
}

/// How a row's label is read: a label column, or a rating compared with a threshold.
pub(crate) enum LabelSource {
    Column(usize),
    RatingAtLeast(usize, f64),
    AllPositive,
}

pub(crate) struct InteractionReader<'a> {
    pub users: &'a mut IdMap,
    pub items: &'a mut IdMap,
    pub items_meta: &'a mut Vec<ItemMeta>,
    pub report: &'a mut LoadReport,
    pub policy: UnknownIdPolicy,
    /// Whether an item file defined the catalogue; without one every item id is accepted.
    pub catalogue_given: bool,
    /// Rows seen so far, when duplicates are dropped while reading (several files); `None`:
    /// the caller drops them after sorting.
    pub seen: Option<HashSet<(u32, u32, i64), ahash::RandomState>>,
    pub folder: &'a std::collections::HashMap<String, PathBuf>,
}

/// One interaction row as a file gave it: raw ids, the numbers, and where it is (for errors).
struct RowIn<'a> {
    user: &'a str,
    item: &'a str,
    ts: f64,
    /// The label as [`LabelSource`] reads it.
    label: f32,
    weight: f32,
    /// `file:line` or `file row group r row k`, for the unknown-id examples.
    at: &'a dyn Fn() -> String,
}

impl InteractionReader<'_> {
    pub fn read(&mut self, path: &Path) -> Result<Vec<Interaction>> {
        #[cfg(feature = "parquet")]
        if crate::columnar::is_parquet(path) {
            return self.read_parquet(path);
        }
        let t = Table::read(path)?;
        let label = match (t.column(&["label", "click"]), t.column(&["rating"])) {
            (Some(c), _) => LabelSource::Column(c),
            (None, Some(c)) => LabelSource::RatingAtLeast(c, POSITIVE_RATING),
            (None, None) => LabelSource::AllPositive,
        };
        self.read_table(&t, label)
    }

    /// Interactions streamed from Parquet: the same rules as [`Self::read_table`], errors naming
    /// row group and row; each distinct id of a dictionary-encoded column is resolved once per
    /// row group, row by row (no per-row id vectors).
    #[cfg(feature = "parquet")]
    fn read_parquet(&mut self, path: &Path) -> Result<Vec<Interaction>> {
        let mut out = Vec::new();
        // With a fixed catalogue the item map does not change while reading: item dictionaries
        // are looked up on the decoding threads.
        // (Values not found fall back to `item_id` on this thread: the policy's error or skip.)
        let fixed = self.catalogue_given && self.policy != UnknownIdPolicy::Add;
        let catalogue = fixed.then(|| self.items.clone());
        let lookup = |raw: &str| catalogue.as_ref().and_then(|c| c.get(raw.trim()));
        let lookup: Option<crate::columnar::IdLookup<'_>> = if fixed { Some(&lookup) } else { None };
        crate::columnar::for_each_interaction(path, lookup, |b| {
            let err = |r: usize, msg: String| Error::Row { path: path.to_path_buf(), row_group: b.row_group, row: b.offset + r, msg };
            let null = |what: &'static str| move |r: usize| err(r, format!("column `{what}` is null"));
            if out.capacity() == 0 {
                out.reserve_exact(b.file_rows);
            }
            let (mut items, mut users) = (b.items.resolver(b.known_items), b.users.resolver(None));
            for r in 0..b.rows {
                self.report.interaction_rows += 1;
                let at = || format!("{} row group {} row {}", path.display(), b.row_group, b.offset + r);
                let item = items.get(r, |i| self.item_id(i, &at, &|m| err(r, m))).map_err(|()| null("item")(r))??;
                let label =
                    label_of(b.label.as_ref().map(|l| l[r]), b.rating.as_ref().map(|x| x[r]), POSITIVE_RATING).map_err(|m| err(r, m))?;
                let Some(item) = item else {
                    self.report.unknown_item_rows += 1;
                    continue;
                };
                // Users of skipped rows are not interned (as in the TSV reader).
                let user = users
                    .get(r, |u| match u.trim() {
                        "" => Err(err(r, "empty user or item id".into())),
                        u => Ok(Some(self.users.intern(u))),
                    })
                    .map_err(|()| null("user")(r))??
                    .expect("users always resolve");
                let weight = b.weight.as_ref().map_or(1.0, |w| w[r] as f32);
                if let Some(x) = self.keep(user, item, b.ts[r], label, weight) {
                    out.push(x);
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    pub fn read_table(&mut self, t: &Table, label: LabelSource) -> Result<Vec<Interaction>> {
        let c_user = t.require(&["user", "user_id"])?;
        let c_item = t.require(&["item", "item_id"])?;
        let c_ts = t.require(&["timestamp", "ts", "time"])?;
        let c_w = t.column(&["weight"]);
        let mut out = Vec::with_capacity(t.rows.len());
        for (line, f) in &t.rows {
            let (u, i) = (f[c_user].trim(), f[c_item].trim());
            let ts = t.number(*line, c_ts, &f[c_ts])?;
            let (value, rating, threshold) = match label {
                LabelSource::Column(c) => (Some(t.number(*line, c, &f[c])?), None, POSITIVE_RATING),
                LabelSource::RatingAtLeast(c, th) => (None, Some(t.number(*line, c, &f[c])?), th),
                LabelSource::AllPositive => (None, None, POSITIVE_RATING),
            };
            let label = label_of(value, rating, threshold).map_err(|m| t.err(*line, m))?;
            let weight = match c_w {
                Some(c) => t.number(*line, c, &f[c])? as f32,
                None => 1.0,
            };
            let at = || format!("{}:{line}", t.path.display());
            let err = |msg: String| t.err(*line, msg);
            if let Some(x) = self.push(RowIn { user: u, item: i, ts, label, weight, at: &at }, &err)? {
                out.push(x);
            }
        }
        Ok(out)
    }

    /// Interns one row's ids under the unknown-item policy and drops duplicates of
    /// `(user, item, timestamp)`; `None` = skipped (counted in the report).
    fn push(&mut self, r: RowIn, err: &dyn Fn(String) -> Error) -> Result<Option<Interaction>> {
        self.report.interaction_rows += 1;
        let u = r.user.trim();
        if u.is_empty() {
            return Err(err("empty user or item id".into()));
        }
        let Some(item) = self.item_id(r.item, r.at, err)? else {
            self.report.unknown_item_rows += 1;
            return Ok(None);
        };
        let user = self.users.intern(u);
        Ok(self.keep(user, item, r.ts, r.label, r.weight))
    }

    /// The dense id of item `i` under the unknown-item policy: `None` = skip the row (an example
    /// is recorded; the caller counts the row).
    fn item_id(&mut self, i: &str, at: &dyn Fn() -> String, err: &dyn Fn(String) -> Error) -> Result<Option<u32>> {
        let i = i.trim();
        if i.is_empty() {
            return Err(err("empty user or item id".into()));
        }
        Ok(match self.items.get(i) {
            Some(x) => Some(x),
            None if !self.catalogue_given || self.policy == UnknownIdPolicy::Add => {
                if self.catalogue_given {
                    self.report.items_added_from_interactions += 1;
                }
                let image = self.folder.get(i).cloned();
                self.items_meta.push(ItemMeta { image, ..ItemMeta::default() });
                Some(self.items.intern(i))
            }
            None if self.policy == UnknownIdPolicy::Skip => {
                if self.report.unknown_item_examples.len() < 5 {
                    self.report.unknown_item_examples.push(format!("{i} ({})", at()));
                }
                None
            }
            None => {
                return Err(err(format!(
                    "unknown item id `{i}`: not in the item file (set unknown_items = \"skip\" or \"add\" to accept)"
                )));
            }
        })
    }

    /// The interaction, unless it repeats a `(user, item, timestamp)` already read (counted).
    fn keep(&mut self, user: u32, item: u32, ts: f64, label: f32, weight: f32) -> Option<Interaction> {
        if let Some(seen) = &mut self.seen
            && !seen.insert((user, item, ts as i64))
        {
            self.report.duplicate_interactions += 1;
            return None;
        }
        Some(Interaction { user: UserId(user), item: ItemId(item), ts: ts as i64, label, weight })
    }
}
