//! Loader for fuserec's own dataset layout, which the synthetic world also writes:
//!
//! ```text
//! <dir>/items.tsv          item, title[, description][, tags][, image][, created_at]   (tags separated by `|`)
//! <dir>/interactions.tsv   user, item, timestamp, label[, weight]
//! <dir>/images/<item>.<ext>   used when items.tsv has no `image` column
//! ```
//! `.csv` works in place of `.tsv`. A pre-split dataset replaces `interactions.tsv` with
//! `train.tsv`, optional `val.tsv`, and `test.tsv` or `test_warm.tsv` + `test_cold.tsv`.

use crate::dataset::{Dataset, GivenSplit, ItemMeta, LoadReport, UnknownIdPolicy, sort_interactions};
use crate::delimited::Table;
use crate::images::image_folder;
use fuserec_core::{Error, IdMap, Interaction, ItemId, Result, UserId};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub unknown_items: UnknownIdPolicy,
}

/// Reads the first of `<dir>/<stem>.tsv` / `.csv` that exists.
fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    ["tsv", "csv"].iter().map(|e| dir.join(format!("{stem}.{e}"))).find(|p| p.is_file())
}

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
        seen: HashSet::new(),
        folder: &folder,
    };
    let (interactions, given_split) = if let Some(p) = find(dir, "interactions") {
        (reader.read(&p)?, None)
    } else if let Some(train) = find(dir, "train") {
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
    pub seen: HashSet<(u32, u32, i64)>,
    pub folder: &'a std::collections::HashMap<String, PathBuf>,
}

impl InteractionReader<'_> {
    pub fn read(&mut self, path: &Path) -> Result<Vec<Interaction>> {
        let t = Table::read(path)?;
        let label = match (t.column(&["label", "click"]), t.column(&["rating"])) {
            (Some(c), _) => LabelSource::Column(c),
            (None, Some(c)) => LabelSource::RatingAtLeast(c, 4.0),
            (None, None) => LabelSource::AllPositive,
        };
        self.read_table(&t, label)
    }

    pub fn read_table(&mut self, t: &Table, label: LabelSource) -> Result<Vec<Interaction>> {
        let c_user = t.require(&["user", "user_id"])?;
        let c_item = t.require(&["item", "item_id"])?;
        let c_ts = t.require(&["timestamp", "ts", "time"])?;
        let c_w = t.column(&["weight"]);
        let mut out = Vec::with_capacity(t.rows.len());
        for (line, f) in &t.rows {
            self.report.interaction_rows += 1;
            let (u, i) = (f[c_user].trim(), f[c_item].trim());
            if u.is_empty() || i.is_empty() {
                return Err(t.err(*line, "empty user or item id"));
            }
            let ts = t.number(*line, c_ts, &f[c_ts])?;
            let label = match label {
                LabelSource::Column(c) => {
                    let v = t.number(*line, c, &f[c])?;
                    if !(0.0..=1.0).contains(&v) {
                        return Err(t.err(*line, format!("label {v} outside [0, 1]")));
                    }
                    v as f32
                }
                LabelSource::RatingAtLeast(c, th) => (t.number(*line, c, &f[c])? >= th) as u8 as f32,
                LabelSource::AllPositive => 1.0,
            };
            let weight = match c_w {
                Some(c) => t.number(*line, c, &f[c])? as f32,
                None => 1.0,
            };
            let item = match self.items.get(i) {
                Some(x) => x,
                None if !self.catalogue_given || self.policy == UnknownIdPolicy::Add => {
                    if self.catalogue_given {
                        self.report.items_added_from_interactions += 1;
                    }
                    let image = self.folder.get(i).cloned();
                    self.items_meta.push(ItemMeta { image, ..ItemMeta::default() });
                    self.items.intern(i)
                }
                None if self.policy == UnknownIdPolicy::Skip => {
                    self.report.unknown_item_rows += 1;
                    if self.report.unknown_item_examples.len() < 5 {
                        self.report.unknown_item_examples.push(format!("{i} ({}:{line})", t.path.display()));
                    }
                    continue;
                }
                None => {
                    return Err(t.err(
                        *line,
                        format!("unknown item id `{i}`: not in the item file (set unknown_items = \"skip\" or \"add\" to accept)"),
                    ));
                }
            };
            let user = self.users.intern(u);
            if !self.seen.insert((user, item, ts as i64)) {
                self.report.duplicate_interactions += 1;
                continue;
            }
            out.push(Interaction { user: UserId(user), item: ItemId(item), ts: ts as i64, label, weight });
        }
        Ok(out)
    }
}
