//! The item embedding store ("multimodal index table"): per item id its text, content features,
//! cluster codes, fused vector, posterior statistics and a version, on redb (an embedded,
//! transactional key-value store). A write returns only after its transaction committed with
//! redb's default durability (fsync), so an acknowledged item survives a crash or restart.
//!
//! Each item also gets a dense `u32` key, assigned once in the same transaction and never reused;
//! the ANN index is keyed by it and is rebuilt from the store on start-up (the store is the
//! source of truth, the index a cache).

use fuserec_core::{Error, Result};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::{Path, PathBuf};

const ITEMS: TableDefinition<&str, &[u8]> = TableDefinition::new("items");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// One served item as stored: id, key, text, statistics, content and vector.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemRecord {
    /// External item id (the store's key).
    pub id: String,
    /// Index key, assigned by the store on first write.
    #[serde(default)]
    pub key: u32,
    /// Incremented by every write.
    #[serde(default)]
    pub version: u64,
    /// Text the encoders saw.
    pub text: String,
    /// Unix seconds of the first write.
    pub created_at: i64,
    /// Exposures counted so far.
    pub exposures: u64,
    /// Clicks counted so far.
    pub clicks: u64,
    /// Cluster code per level (empty: the model reads no codes).
    pub codes: Vec<u32>,
    /// Whether the item has an image / text (modality mask).
    pub has_image: bool,
    /// Whether the item has text.
    pub has_text: bool,
    /// The last gate value (weight of the content view); NaN for models without a gate, stored
    /// as JSON `null` and read back as NaN.
    #[serde(deserialize_with = "nan_from_null")]
    pub gate: f32,
    /// The item's row in the model's id tables, when the model was trained on it (`None`: a new
    /// item, embedded from `features` alone).
    #[serde(default)]
    pub model_row: Option<u32>,
    /// The id row a new item learned from clicks after training (empty: none), its row
    /// optimiser's state and step count (near-line learning).
    #[serde(default)]
    pub id_row: Vec<f32>,
    /// Optimiser state of `id_row`.
    #[serde(default)]
    pub id_state: Vec<f32>,
    /// Optimiser steps taken on `id_row`.
    #[serde(default)]
    pub id_steps: u64,
    /// Content features as the model reads them.
    #[serde(skip)]
    pub features: Vec<f32>,
    /// The fused vector in the index.
    #[serde(skip)]
    pub vector: Vec<f32>,
}

/// JSON writes a non-finite float as `null`; read it back as NaN.
fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f32, D::Error> {
    Ok(<Option<f32> as serde::Deserialize>::deserialize(d)?.unwrap_or(f32::NAN))
}

/// `[u32 header length][header JSON][features f32 LE][vector f32 LE]`; the header carries the
/// two lengths. Vectors in binary: JSON floats would be ~4× larger and slower.
#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    #[serde(flatten)]
    rec: ItemRecord,
    n_features: usize,
    n_vector: usize,
}

pub(crate) fn encode(rec: &ItemRecord) -> Vec<u8> {
    let header = serde_json::to_vec(&Header { rec: rec.clone(), n_features: rec.features.len(), n_vector: rec.vector.len() })
        .expect("record serialises");
    let mut out = Vec::with_capacity(4 + header.len() + 4 * (rec.features.len() + rec.vector.len()));
    out.extend((header.len() as u32).to_le_bytes());
    out.extend(header);
    out.extend(fuserec_core::f32s_to_le(&rec.features));
    out.extend(fuserec_core::f32s_to_le(&rec.vector));
    out
}

pub(crate) fn decode(id: &str, bytes: &[u8]) -> Result<ItemRecord> {
    let bad = |why: &str| Error::Invalid(format!("item store: record of `{id}` is corrupt ({why})"));
    let n = u32::from_le_bytes(bytes.get(..4).ok_or_else(|| bad("shorter than its header length"))?.try_into().expect("4 bytes")) as usize;
    let h = bytes.get(4..4 + n).ok_or_else(|| bad("truncated header"))?;
    let h: Header = serde_json::from_slice(h).map_err(|e| bad(&e.to_string()))?;
    let body = &bytes[4 + n..];
    if body.len() != 4 * (h.n_features + h.n_vector) {
        return Err(bad(&format!("{} vector bytes for {} + {} floats", body.len(), h.n_features, h.n_vector)));
    }
    let mut rec = h.rec;
    rec.features = fuserec_core::f32s_from_le(&body[..4 * h.n_features]);
    rec.vector = fuserec_core::f32s_from_le(&body[4 * h.n_features..]);
    Ok(rec)
}

/// Gives `rec` its key, version and creation time: those of the stored `old`, or the next free
/// key (advancing `next`) for a new item. Within the caller's transaction.
pub(crate) fn assign(rec: &mut ItemRecord, old: Option<&ItemRecord>, next: &mut u64) -> Result<()> {
    match old {
        Some(o) => (rec.key, rec.version, rec.created_at) = (o.key, o.version + 1, o.created_at),
        None => {
            if *next > u32::MAX as u64 {
                return Err(Error::Invalid("item store: out of u32 keys".into()));
            }
            (rec.key, rec.version) = (*next as u32, 1);
            *next += 1;
        }
    }
    Ok(())
}

/// Where served items live: the seam between the server and its store of record. Every write
/// returns once it is durable by the store's own standard (a committed transaction on disk, or
/// an acknowledgement from a replica), so an acknowledged item survives what the store is built
/// to survive. Keys (`u32`) are assigned once per id and never reused; versions count writes.
pub trait RecordStore: Send + Sync {
    /// Writes `rec` (new item or replacement), keeping an existing item's key and creation time
    /// and bumping its version. Returns the stored record once it is durable.
    fn put(&self, rec: ItemRecord) -> Result<ItemRecord>;
    /// Writes many new or replaced records (a first start's catalogue).
    fn put_many(&self, recs: Vec<ItemRecord>) -> Result<usize>;
    /// Applies `f` to each of the existing items `ids` (distinct); an unknown id, or an error
    /// from `f`, writes nothing. (Whether the writes are one transaction is the store's: see
    /// each implementation.)
    fn update_many(&self, ids: &[&str], f: &mut dyn FnMut(&mut ItemRecord) -> Result<()>) -> Result<Vec<ItemRecord>>;
    /// Applies `f` to an existing item durably; `None` when the item is unknown.
    fn update(&self, id: &str, f: &mut dyn FnMut(&mut ItemRecord) -> Result<()>) -> Result<Option<ItemRecord>>;
    /// The record of `id`, if stored.
    fn get(&self, id: &str) -> Result<Option<ItemRecord>>;
    /// Every record (start-up rebuild of the index), in id order.
    fn all(&self) -> Result<Vec<ItemRecord>>;
    /// Number of stored items.
    fn len(&self) -> Result<usize>;
    /// True when no item is stored.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Where the store is, for messages (a file, a cluster's nodes).
    fn describe(&self) -> String;
}

impl RecordStore for ItemStore {
    fn put(&self, rec: ItemRecord) -> Result<ItemRecord> {
        ItemStore::put(self, rec)
    }
    fn put_many(&self, recs: Vec<ItemRecord>) -> Result<usize> {
        ItemStore::put_many(self, recs)
    }
    fn update_many(&self, ids: &[&str], f: &mut dyn FnMut(&mut ItemRecord) -> Result<()>) -> Result<Vec<ItemRecord>> {
        ItemStore::update_many(self, ids, f)
    }
    fn update(&self, id: &str, f: &mut dyn FnMut(&mut ItemRecord) -> Result<()>) -> Result<Option<ItemRecord>> {
        ItemStore::update(self, id, f)
    }
    fn get(&self, id: &str) -> Result<Option<ItemRecord>> {
        ItemStore::get(self, id)
    }
    fn all(&self) -> Result<Vec<ItemRecord>> {
        ItemStore::all(self)
    }
    fn len(&self) -> Result<usize> {
        ItemStore::len(self)
    }
    fn describe(&self) -> String {
        format!("item store {}", self.path.display())
    }
}

/// A durable item store (redb): every write is one transaction, committed before it is
/// acknowledged, so a crash loses no acknowledged item.
pub struct ItemStore {
    db: Database,
    path: PathBuf,
}

fn db_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("item store {}: {e}", path.display()))
}

impl ItemStore {
    /// Opens (or creates) the store file.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let db = Database::create(path).map_err(|e| db_err(path, e))?;
        let s = ItemStore { db, path: path.to_path_buf() };
        // Create the tables so readers never see "table does not exist".
        let txn = s.db.begin_write().map_err(|e| db_err(path, e))?;
        txn.open_table(ITEMS).map_err(|e| db_err(path, e))?;
        txn.open_table(META).map_err(|e| db_err(path, e))?;
        txn.commit().map_err(|e| db_err(path, e))?;
        Ok(s)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `rec` (new item or replacement), keeping an existing item's key and creation time
    /// and bumping its version. Returns the stored record once it is durable.
    pub fn put(&self, rec: ItemRecord) -> Result<ItemRecord> {
        self.write(&rec.id.clone(), move |_| Ok(Some(rec))).map(|r| r.expect("put always writes"))
    }

    /// Writes many new or replaced records in one transaction (a first start's catalogue).
    pub fn put_many(&self, recs: Vec<ItemRecord>) -> Result<usize> {
        let e = |x: redb::Error| db_err(&self.path, x);
        let txn = self.db.begin_write().map_err(|x| e(x.into()))?;
        let n = recs.len();
        {
            let mut items = txn.open_table(ITEMS).map_err(|x| e(x.into()))?;
            let mut meta = txn.open_table(META).map_err(|x| e(x.into()))?;
            let mut next = meta.get("next_key").map_err(|x| e(x.into()))?.map_or(0, |v| v.value());
            for mut rec in recs {
                let old = items.get(rec.id.as_str()).map_err(|x| e(x.into()))?.map(|v| decode(&rec.id, v.value())).transpose()?;
                assign(&mut rec, old.as_ref(), &mut next)?;
                items.insert(rec.id.as_str(), encode(&rec).as_slice()).map_err(|x| e(x.into()))?;
            }
            meta.insert("next_key", next).map_err(|x| e(x.into()))?;
        }
        txn.commit().map_err(|x| e(x.into()))?;
        Ok(n)
    }

    /// Applies `f` to each of the existing items `ids` (distinct) in one transaction: all are
    /// written durably, or none (an unknown id, or an error from `f`, writes nothing).
    pub fn update_many(&self, ids: &[&str], mut f: impl FnMut(&mut ItemRecord) -> Result<()>) -> Result<Vec<ItemRecord>> {
        let e = |x: redb::Error| db_err(&self.path, x);
        let txn = self.db.begin_write().map_err(|x| e(x.into()))?;
        let mut out = Vec::with_capacity(ids.len());
        {
            let mut items = txn.open_table(ITEMS).map_err(|x| e(x.into()))?;
            for &id in ids {
                let old = items.get(id).map_err(|x| e(x.into()))?.map(|v| decode(id, v.value())).transpose()?;
                let Some(mut rec) = old else { return Err(Error::Invalid(format!("item store: unknown item `{id}`"))) };
                f(&mut rec)?;
                if rec.id != id {
                    return Err(Error::Invalid(format!("item store: record for `{id}` names `{}`", rec.id)));
                }
                rec.version += 1;
                items.insert(id, encode(&rec).as_slice()).map_err(|x| e(x.into()))?;
                out.push(rec);
            }
        }
        txn.commit().map_err(|x| e(x.into()))?;
        Ok(out)
    }

    /// Read-modify-write of one item in one transaction: `f` gets the current record (if any)
    /// and returns the new one, or `None` to write nothing.
    fn write(&self, id: &str, f: impl FnOnce(Option<&ItemRecord>) -> Result<Option<ItemRecord>>) -> Result<Option<ItemRecord>> {
        let e = |x: redb::Error| db_err(&self.path, x);
        let txn = self.db.begin_write().map_err(|x| e(x.into()))?;
        let out = {
            let mut items = txn.open_table(ITEMS).map_err(|x| e(x.into()))?;
            let mut meta = txn.open_table(META).map_err(|x| e(x.into()))?;
            let old = items.get(id).map_err(|x| e(x.into()))?.map(|v| decode(id, v.value())).transpose()?;
            let Some(mut rec) = f(old.as_ref())? else { return Ok(None) };
            if rec.id != id {
                return Err(Error::Invalid(format!("item store: record for `{id}` names `{}`", rec.id)));
            }
            let mut next = meta.get("next_key").map_err(|x| e(x.into()))?.map_or(0, |v| v.value());
            assign(&mut rec, old.as_ref(), &mut next)?;
            if old.is_none() {
                meta.insert("next_key", next).map_err(|x| e(x.into()))?;
            }
            items.insert(id, encode(&rec).as_slice()).map_err(|x| e(x.into()))?;
            rec
        };
        txn.commit().map_err(|x| e(x.into()))?;
        Ok(Some(out))
    }

    /// Applies `f` to an existing item (statistics, a new fused vector) durably; `None` when the
    /// item is unknown.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut ItemRecord) -> Result<()>) -> Result<Option<ItemRecord>> {
        self.write(id, |old| {
            let Some(old) = old else { return Ok(None) };
            let mut rec = old.clone();
            f(&mut rec)?;
            Ok(Some(rec))
        })
    }

    /// The record of `id`, if stored.
    pub fn get(&self, id: &str) -> Result<Option<ItemRecord>> {
        let e = |x: redb::Error| db_err(&self.path, x);
        let txn = self.db.begin_read().map_err(|x| e(x.into()))?;
        let items = txn.open_table(ITEMS).map_err(|x| e(x.into()))?;
        let v = items.get(id).map_err(|x| e(x.into()))?;
        v.map(|v| decode(id, v.value())).transpose()
    }

    /// Every record, in id order (start-up rebuild of the index).
    pub fn all(&self) -> Result<Vec<ItemRecord>> {
        let e = |x: redb::Error| db_err(&self.path, x);
        let txn = self.db.begin_read().map_err(|x| e(x.into()))?;
        let items = txn.open_table(ITEMS).map_err(|x| e(x.into()))?;
        let mut out = Vec::new();
        for kv in items.iter().map_err(|x| e(x.into()))? {
            let (k, v) = kv.map_err(|x| e(x.into()))?;
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// Number of stored items.
    pub fn len(&self) -> Result<usize> {
        let e = |x: redb::Error| db_err(&self.path, x);
        let txn = self.db.begin_read().map_err(|x| e(x.into()))?;
        let items = txn.open_table(ITEMS).map_err(|x| e(x.into()))?;
        Ok(items.len().map_err(|x| e(x.into()))? as usize)
    }

    /// True when no item is stored.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn rec(id: &str, x: f32) -> ItemRecord {
        ItemRecord {
            id: id.into(),
            key: 0,
            version: 0,
            text: format!("title of {id}"),
            created_at: 100,
            exposures: 0,
            clicks: 0,
            codes: vec![3, 17],
            has_image: true,
            has_text: true,
            gate: 0.9,
            model_row: Some(7),
            id_row: Vec::new(),
            id_state: Vec::new(),
            id_steps: 0,
            features: vec![x, -x, 0.5],
            vector: vec![x; 4],
        }
    }

    #[test]
    fn round_trip_keys_versions_and_restart() {
        let dir = std::env::temp_dir().join(format!("fuserec-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("items.redb");
        {
            let s = ItemStore::open(&path).unwrap();
            assert!(s.is_empty().unwrap());
            let a = s.put(rec("a", 1.0)).unwrap();
            let b = s.put(rec("b", 2.0)).unwrap();
            assert_eq!((a.key, a.version, b.key, b.version), (0, 1, 1, 1));
            // Replacing keeps the key and creation time, bumps the version.
            let mut a2 = rec("a", 3.0);
            a2.created_at = 999;
            let a2 = s.put(a2).unwrap();
            assert_eq!((a2.key, a2.version, a2.created_at), (0, 2, 100));
            let u = s
                .update("b", |r| {
                    r.exposures += 10;
                    r.clicks += 2;
                    Ok(())
                })
                .unwrap()
                .unwrap();
            assert_eq!((u.exposures, u.clicks, u.version, u.key), (10, 2, 2, 1));
            assert!(s.update("nope", |_| Ok(())).unwrap().is_none());
            // A failing update writes nothing.
            assert!(s.update("b", |_| Err(Error::Invalid("no".into()))).is_err());
            assert_eq!(s.get("b").unwrap().unwrap().version, 2);
        }
        // Reopen: everything acknowledged is there, and new keys continue after the old ones.
        let s = ItemStore::open(&path).unwrap();
        // Many items in one transaction: all or nothing; learned rows read back exactly.
        let row = vec![0.1f32, -1.0e-7, 3.25, f32::MIN_POSITIVE];
        let e = s.update_many(&["a", "zz"], |r| {
            r.exposures += 1;
            Ok(())
        });
        assert!(e.unwrap_err().to_string().contains("unknown item `zz`"));
        let e = s.update_many(&["a", "b"], |r| if r.id == "b" { Err(Error::Invalid("no".into())) } else { Ok(()) });
        assert!(e.is_err());
        assert_eq!((s.get("a").unwrap().unwrap().version, s.get("b").unwrap().unwrap().version), (2, 2), "nothing was written");
        let out = s
            .update_many(&["b", "a"], |r| {
                (r.exposures, r.id_row, r.id_state, r.id_steps) = (r.exposures + 5, row.clone(), vec![1.0; 8], 3);
                Ok(())
            })
            .unwrap();
        assert_eq!(out.iter().map(|r| (r.id.as_str(), r.version)).collect::<Vec<_>>(), vec![("b", 3), ("a", 3)]);
        let b = s.get("b").unwrap().unwrap();
        assert_eq!((b.exposures, b.id_row.clone(), b.id_state.len(), b.id_steps), (15, row.clone(), 8, 3));
        assert_eq!(s.len().unwrap(), 2);
        let a = s.get("a").unwrap().unwrap();
        assert_eq!((a.features.clone(), a.vector.clone(), a.codes.clone()), (vec![3.0, -3.0, 0.5], vec![3.0; 4], vec![3, 17]));
        assert_eq!(s.put(rec("c", 0.0)).unwrap().key, 2);
        assert_eq!(s.all().unwrap().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec!["a", "b", "c"]);
        assert!(s.get("zz").unwrap().is_none());
        // Bulk write: new ids continue the keys, a known id is replaced in place.
        assert_eq!(s.put_many(vec![rec("d", 1.0), rec("a", 5.0)]).unwrap(), 2);
        let (d, a) = (s.get("d").unwrap().unwrap(), s.get("a").unwrap().unwrap());
        assert_eq!((d.key, d.version, a.key, a.version, a.vector[0], a.model_row), (3, 1, 0, 4, 5.0, Some(7)));
        // A model without a gate stores NaN (JSON null) and reads it back.
        let mut g = rec("g", 1.0);
        g.gate = f32::NAN;
        s.put(g).unwrap();
        assert!(s.get("g").unwrap().unwrap().gate.is_nan());
        assert!(decode("g", &encode(&s.get("g").unwrap().unwrap())).unwrap().gate.is_nan());
        // A corrupt record is an error naming the item, not a panic.
        assert!(decode("a", &[1, 2]).unwrap_err().to_string().contains("`a`"));
        let mut bytes = encode(&rec("q", 1.0));
        bytes.truncate(bytes.len() - 3);
        assert!(decode("q", &bytes).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
