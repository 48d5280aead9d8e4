//! MovieLens in RecBole's atomic-file layout (`<name>.inter`, `<name>.item`; tab-separated,
//! header `name:type`). Implicit feedback: rating ≥ 4 is a positive (a click), below is an
//! exposure without click.

use crate::dataset::{Dataset, LoadReport};
use crate::delimited::Table;
use crate::loader::{InteractionReader, LabelSource, finish, read_items};
use crate::{UnknownIdPolicy, images::image_folder};
use fuserec_core::{Error, IdMap, Result};
use std::path::Path;

/// Ratings at or above this are positives (clicks).
pub const POSITIVE_RATING: f64 = 4.0;

/// Loads `<dir>/<name>.item` and `<dir>/<name>.inter`. Posters, when given, are
/// `<posters>/<item_id>.<ext>`; items without one get no image (masked downstream).
pub fn load_atomic(dir: &Path, name: &str, posters: Option<&Path>) -> Result<Dataset> {
    let inter = dir.join(format!("{name}.inter"));
    let item = dir.join(format!("{name}.item"));
    for p in [&inter, &item] {
        if !p.is_file() {
            return Err(Error::MissingAsset(format!("{} not found — run `cargo xtask assets` to fetch MovieLens-100K", p.display())));
        }
    }
    let mut report = LoadReport::default();
    let mut items = IdMap::new();
    let mut users = IdMap::new();
    let mut meta = read_items(&item, dir, &mut items, &mut report)?;
    let folder = match posters {
        Some(p) => image_folder(p)?,
        None => Default::default(),
    };
    for (i, m) in meta.iter_mut().enumerate() {
        m.image = folder.get(items.raw(i as u32)).cloned();
    }
    let t = Table::read(&inter)?;
    let rating = t.require(&["rating"])?;
    let mut reader = InteractionReader {
        users: &mut users,
        items: &mut items,
        items_meta: &mut meta,
        report: &mut report,
        policy: UnknownIdPolicy::Error,
        catalogue_given: true,
        seen: Some(Default::default()),
        folder: &folder,
    };
    let interactions = reader.read_table(&t, LabelSource::RatingAtLeast(rating, POSITIVE_RATING))?;
    let mut ds = finish(dir, users, items, interactions, meta, report, None)?;
    ds.name = name.to_string();
    Ok(ds)
}
