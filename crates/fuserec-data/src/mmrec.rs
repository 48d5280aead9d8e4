//! MMRec's dataset layout, so fuserec runs on the data and published split of MMRec's tables:
//!
//! ```text
//! <dir>/<name>.inter    userID, itemID, rating, timestamp, x_label   (tab-separated)
//! <dir>/image_feat.npy  items × d, row i = itemID i
//! <dir>/text_feat.npy   items × d, row i = itemID i
//! ```
//! `x_label` is 0 (train), 1 (validation) or 2 (test); every row is a positive. Item ids are
//! MMRec's contiguous integers, interned in order (internal id = itemID), so the feature files
//! are read with `[features] image = "embeddings:<dir>/image_feat.npy"` (an `.npy` without an
//! ids file is keyed by row number). Items have no text or image files of their own. A repeated
//! `(userID, itemID, timestamp)` row is dropped and counted; the earlier part keeps it.

use crate::dataset::{Dataset, GivenSplit, ItemMeta, LoadReport};
use crate::delimited::Table;
use crate::loader::finish;
use fuserec_core::{Error, IdMap, Interaction, ItemId, Result, UserId};
use std::path::{Path, PathBuf};

/// `<dir>/<dir name>.inter`, or the only `*.inter` file in `dir`.
fn inter_file(dir: &Path) -> Result<PathBuf> {
    let named = dir.file_name().map(|n| dir.join(format!("{}.inter", n.to_string_lossy())));
    if let Some(p) = named.filter(|p| p.is_file()) {
        return Ok(p);
    }
    let all: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "inter"))
        .collect();
    match all.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::Config(format!("{}: no .inter file — not an MMRec dataset folder", dir.display()))),
        _ => Err(Error::Config(format!("{}: several .inter files; name the folder after the one to use", dir.display()))),
    }
}

/// Loads an MMRec dataset folder with its published split (`[split] kind = "given"`).
pub fn load_mmrec(dir: &Path) -> Result<Dataset> {
    let path = inter_file(dir)?;
    let t = Table::read(&path)?;
    let c_user = t.require(&["userid", "user_id", "user"])?;
    let c_item = t.require(&["itemid", "item_id", "item"])?;
    let c_ts = t.column(&["timestamp", "ts", "time"]);
    let c_split = t.require(&["x_label"])?;
    let mut rows = Vec::with_capacity(t.rows.len());
    let mut n_items = 0usize;
    for (line, f) in &t.rows {
        let item = f[c_item].trim();
        let i: usize = item
            .parse()
            .map_err(|_| t.err(*line, format!("itemID `{item}` is not a non-negative integer (MMRec remaps items to 0..n)")))?;
        let part = t.number(*line, c_split, &f[c_split])?;
        if ![0.0, 1.0, 2.0].contains(&part) {
            return Err(t.err(*line, format!("x_label {part}: 0 (train), 1 (validation) or 2 (test) expected")));
        }
        let ts = match c_ts {
            Some(c) => t.number(*line, c, &f[c])? as i64,
            None => *line as i64,
        };
        let user = f[c_user].trim();
        if user.is_empty() {
            return Err(t.err(*line, "empty userID"));
        }
        n_items = n_items.max(i + 1);
        rows.push((user.to_string(), i as u32, ts, part as u8));
    }
    let mut items = IdMap::new();
    (0..n_items).for_each(|i| {
        items.intern(&i.to_string());
    });
    let mut users = IdMap::new();
    let mut parts: [Vec<Interaction>; 3] = Default::default();
    for (u, i, ts, part) in rows {
        let x = Interaction { user: UserId(users.intern(&u)), item: ItemId(i), ts, label: 1.0, weight: 1.0 };
        parts[part as usize].push(x);
    }
    // A repeated (user, item, timestamp) row is dropped and counted; across parts the earlier
    // part keeps it (train, then validation, then test), as with fuserec's split files.
    let mut seen = std::collections::HashSet::with_capacity_and_hasher(t.rows.len(), ahash::RandomState::new());
    let mut duplicates = 0;
    for p in parts.iter_mut() {
        p.retain(|x| {
            let new = seen.insert((x.user, x.item, x.ts));
            duplicates += !new as usize;
            new
        });
    }
    let [mut train, mut val, mut test] = parts;
    for p in [&mut train, &mut val, &mut test] {
        crate::dataset::sort_interactions(p);
    }
    if train.is_empty() || test.is_empty() {
        return Err(Error::Invalid(format!("{}: needs rows with x_label 0 (train) and 2 (test)", path.display())));
    }
    let all: Vec<Interaction> = train.iter().chain(&val).chain(&test).copied().collect();
    let report = LoadReport { interaction_rows: t.rows.len(), duplicate_interactions: duplicates, ..Default::default() };
    let meta = vec![ItemMeta::default(); n_items];
    let split = GivenSplit { train, val, test_warm: test, test_cold: None };
    finish(dir, users, items, all, meta, report, Some(split))
}
