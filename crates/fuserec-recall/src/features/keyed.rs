//! Precomputed item embeddings keyed by raw item id: backbone `embeddings:<file>` in a
//! `[features]` slot. Users bring CLIP or in-house vectors as
//! - Parquet: an `item` column and a list / fixed-size-list float column (`embedding`, …);
//! - `.npy` (float32 or float64, 2-D, C order) with the ids one per line in `<stem>.ids.txt`
//!   (without that file, row `i` is item id `i`, as MMRec stores its features);
//! - safetensors: an integer `item_ids` tensor and a float `embeddings` tensor.
//!
//! Policy: catalogue items without a row are masked and counted; ids not in the catalogue are
//! counted and ignored (with examples), unless *no* id matches, which is an error (a key
//! mismatch such as `12` vs `i12`); duplicate ids, rows of another width, empty files and
//! NaN/inf values are errors naming the file and the id.

use fuserec_core::{Embeddings, Error, Result};
use fuserec_data::Dataset;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Rows as read from the file, in file order.
pub struct KeyedEmbeddings {
    /// External item ids, one per row.
    pub ids: Vec<String>,
    /// `ids.len() × dim`, row-major.
    pub values: Vec<f32>,
    /// Row width.
    pub dim: usize,
}

/// How a keyed file met the catalogue (in the experiment's feature summary).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct EmbeddingsReport {
    /// The file read.
    pub file: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Rows in the file.
    pub rows: usize,
    /// Row width.
    pub dim: usize,
    /// Catalogue items with a row.
    pub matched: usize,
    /// Catalogue items without a row (masked).
    pub missing: usize,
    /// File ids not in the catalogue (ignored), and up to five of them.
    pub unknown: usize,
    /// Up to five of the unknown ids.
    pub unknown_examples: Vec<String>,
}

/// Reads a keyed embeddings file by its extension.
pub fn read_keyed(path: &Path) -> Result<KeyedEmbeddings> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let k = match ext.as_str() {
        "parquet" | "pq" => {
            let (ids, values, dim) = fuserec_data::columnar::read_embeddings(path)?;
            KeyedEmbeddings { ids, values, dim }
        }
        "npy" => read_npy_with_ids(path)?,
        "safetensors" => read_safetensors(path)?,
        _ => {
            return Err(Error::Config(format!("{}: embeddings must be .parquet, .npy (+ .ids.txt) or .safetensors", path.display())));
        }
    };
    if k.ids.is_empty() || k.dim == 0 {
        return Err(Error::Invalid(format!("{}: no embeddings", path.display())));
    }
    if let Some(r) = k.values.chunks(k.dim).position(|row| row.iter().any(|x| !x.is_finite())) {
        return Err(Error::Invalid(format!("{}: item `{}` has a NaN or infinite value", path.display(), k.ids[r])));
    }
    Ok(k)
}

/// The ids file of `x.npy`: `x.ids.txt`, one raw id per line.
pub fn ids_path(npy: &Path) -> PathBuf {
    npy.with_extension("ids.txt")
}

fn read_npy_with_ids(path: &Path) -> Result<KeyedEmbeddings> {
    let (rows, dim, values) = read_npy(path)?;
    let ids_file = ids_path(path);
    if !ids_file.exists() {
        // MMRec's layout: row i is item i.
        return Ok(KeyedEmbeddings { ids: (0..rows).map(|i| i.to_string()).collect(), values, dim });
    }
    let text = std::fs::read_to_string(&ids_file).map_err(|e| Error::io(&ids_file, e))?;
    let ids: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    let ids: Vec<String> = match ids.iter().rposition(|s| !s.is_empty()) {
        Some(last) => ids[..=last].to_vec(),
        None => Vec::new(),
    };
    if ids.len() != rows {
        return Err(Error::Shape(format!("{}: {} ids for {rows} rows of {}", ids_file.display(), ids.len(), path.display())));
    }
    if let Some(l) = ids.iter().position(String::is_empty) {
        return Err(Error::parse(&ids_file, l + 1, "empty item id"));
    }
    Ok(KeyedEmbeddings { ids, values, dim })
}

/// Writes a 2-D float32 `.npy` file (format 1, C order) of `values.len() / dim` rows.
pub fn write_npy(path: &Path, dim: usize, values: &[f32]) -> Result<()> {
    if dim == 0 || !values.len().is_multiple_of(dim) {
        return Err(Error::Shape(format!("{}: {} values are not rows of width {dim}", path.display(), values.len())));
    }
    let mut b = npy_header("<f4", values.len() / dim, dim);
    values.iter().for_each(|v| b.extend(v.to_le_bytes()));
    std::fs::write(path, b).map_err(|e| Error::io(path, e))
}

/// Magic, version 1 and the header dict, padded so the data starts at a multiple of 64.
fn npy_header(descr: &str, rows: usize, dim: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let pad = 64 - (10 + dict.len() + 1) % 64;
    let dict = format!("{dict}{}\n", " ".repeat(pad % 64));
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((dict.len() as u16).to_le_bytes());
    b.extend(dict.as_bytes());
    b
}

/// A 2-D float32/float64 `.npy` file (format 1–3, C order): `(rows, dim, values)`.
pub fn read_npy(path: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: &str| Error::Invalid(format!("{}: not a usable .npy file ({m})", path.display()));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("no NUMPY magic"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(bad(&format!("format version {v}"))),
    };
    let header = bytes.get(start..start + header_len).ok_or_else(|| bad("truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text"))?;
    let field = |key: &str| -> Option<&str> {
        let i = header.find(&format!("'{key}'"))? + key.len() + 2;
        Some(header[i..].trim_start().strip_prefix(':')?.trim_start())
    };
    let descr = field("descr").and_then(|s| s.strip_prefix('\'')).and_then(|s| s.split('\'').next()).ok_or_else(|| bad("no descr"))?;
    if field("fortran_order").is_some_and(|s| s.starts_with("True")) {
        return Err(bad("Fortran order; save with np.ascontiguousarray"));
    }
    let shape = field("shape").and_then(|s| s.strip_prefix('(')).and_then(|s| s.split(')').next()).ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad("shape"))?;
    let [rows, dim] = dims[..] else { return Err(bad(&format!("shape ({shape}) is not 2-D"))) };
    let data = &bytes[start + header_len..];
    let values: Vec<f32> = match descr {
        "<f4" | "=f4" => data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        "<f8" | "=f8" => data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32).collect(),
        other => return Err(bad(&format!("dtype {other}; float32 or float64 little-endian expected"))),
    };
    if values.len() != rows * dim {
        return Err(bad(&format!("{} values for shape ({rows}, {dim})", values.len())));
    }
    Ok((rows, dim, values))
}

fn read_safetensors(path: &Path) -> Result<KeyedEmbeddings> {
    use safetensors::{Dtype, SafeTensors};
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    let get = |name: &str| st.tensor(name).map_err(|_| Error::Invalid(format!("{}: no `{name}` tensor", path.display())));
    let ids_t = get("item_ids")?;
    let ids: Vec<String> = match ids_t.dtype() {
        Dtype::I64 => ids_t.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")).to_string()).collect(),
        Dtype::I32 => ids_t.data().chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")).to_string()).collect(),
        Dtype::U32 => ids_t.data().chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")).to_string()).collect(),
        Dtype::U64 => ids_t.data().chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")).to_string()).collect(),
        d => return Err(Error::Invalid(format!("{}: item_ids is {d:?}; an integer tensor expected", path.display()))),
    };
    let e = get("embeddings")?;
    let values: Vec<f32> = match e.dtype() {
        Dtype::F32 => fuserec_core::f32s_from_le(e.data()),
        Dtype::F64 => e.data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32).collect(),
        d => return Err(Error::Invalid(format!("{}: embeddings is {d:?}; F32 or F64 expected", path.display()))),
    };
    match e.shape() {
        [n, d] if *n == ids.len() => Ok(KeyedEmbeddings { ids, values, dim: *d }),
        s => Err(Error::Shape(format!("{}: embeddings {s:?} for {} item_ids", path.display(), ids.len()))),
    }
}

/// The rows in the dataset's item order: `(rows, mask, report)`; see the module policy.
pub fn align(k: &KeyedEmbeddings, ds: &Dataset, path: &Path) -> Result<(Embeddings, Vec<bool>, EmbeddingsReport)> {
    let n = ds.n_items();
    let mut row_of: HashMap<&str, usize> = HashMap::with_capacity(k.ids.len());
    for (r, id) in k.ids.iter().enumerate() {
        if let Some(first) = row_of.insert(id.as_str(), r) {
            return Err(Error::Invalid(format!("{}: item `{id}` appears twice (rows {first} and {r})", path.display())));
        }
    }
    let mut values = vec![0f32; n * k.dim];
    let mut mask = vec![false; n];
    for i in 0..n {
        if let Some(&r) = row_of.get(ds.items.raw(i as u32)) {
            values[i * k.dim..(i + 1) * k.dim].copy_from_slice(&k.values[r * k.dim..(r + 1) * k.dim]);
            mask[i] = true;
        }
    }
    let matched = mask.iter().filter(|&&m| m).count();
    let unknown: Vec<&String> = k.ids.iter().filter(|id| !ds.items.contains(id)).collect();
    if matched == 0 {
        let sample = |v: Vec<&str>| v.into_iter().take(3).map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
        return Err(Error::Invalid(format!(
            "{}: none of its {} ids is a catalogue item (file ids look like {}; catalogue ids like {}){}",
            path.display(),
            k.ids.len(),
            sample(k.ids.iter().map(String::as_str).collect()),
            sample((0..n.min(3) as u32).map(|i| ds.items.raw(i)).collect()),
            if path.extension().is_some_and(|e| e == "npy") && !ids_path(path).exists() {
                format!(" — without {} rows are keyed by row number", ids_path(path).display())
            } else {
                String::new()
            }
        )));
    }
    let report = EmbeddingsReport {
        file: path.display().to_string(),
        sha256: fuserec_data::assets::sha256_file(path)?,
        rows: k.ids.len(),
        dim: k.dim,
        matched,
        missing: n - matched,
        unknown: unknown.len(),
        unknown_examples: unknown.iter().take(5).map(|s| s.to_string()).collect(),
    };
    Ok((Embeddings::from_vec(n, k.dim, values)?, mask, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ItemFeatures;
    use fuserec_data::columnar::{OutColumn, write_table};

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fuserec-keyed-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Catalogue a, b, c (and one user).
    fn dataset(dir: &Path) -> Dataset {
        std::fs::write(dir.join("items.tsv"), "item\ttitle\na\tA\nb\tB\nc\tC\n").unwrap();
        std::fs::write(dir.join("interactions.tsv"), "user\titem\ttimestamp\tlabel\nu\ta\t1\t1\n").unwrap();
        fuserec_data::load_dir(dir, &Default::default()).unwrap()
    }

    /// A float64 file (the reader takes both widths).
    fn npy(path: &Path, rows: usize, dim: usize, values: &[f64]) {
        let mut b = npy_header("<f8", rows, dim);
        values.iter().for_each(|v| b.extend(v.to_le_bytes()));
        std::fs::write(path, b).unwrap();
    }

    #[test]
    fn every_format_aligns_by_id_masks_missing_and_counts_unknown() {
        let d = scratch("formats");
        let ds = dataset(&d);
        // Rows for c, a and an unknown id; b has none.
        let pq = d.join("e.parquet");
        write_table(
            &pq,
            vec![
                OutColumn::Text("item".into(), vec!["c".into(), "a".into(), "zz".into()]),
                OutColumn::Vectors("embedding".into(), 2, vec![3.0, 3.5, 1.0, 1.5, 9.0, 9.0]),
            ],
            2,
        )
        .unwrap();
        let np = d.join("e.npy");
        npy(&np, 3, 2, &[3.0, 3.5, 1.0, 1.5, 9.0, 9.0]);
        std::fs::write(ids_path(&np), "c\na\nzz\n").unwrap();
        let np32 = d.join("e32.npy");
        write_npy(&np32, 2, &[3.0, 3.5, 1.0, 1.5, 9.0, 9.0]).unwrap();
        std::fs::write(ids_path(&np32), "c\na\nzz\n").unwrap();
        for path in [&pq, &np, &np32] {
            let (rows, mask, r) = align(&read_keyed(path).unwrap(), &ds, path).unwrap();
            assert_eq!(rows.as_slice(), &[1.0, 1.5, 0.0, 0.0, 3.0, 3.5], "{}", path.display());
            assert_eq!(mask, [true, false, true]);
            assert_eq!((r.rows, r.dim, r.matched, r.missing, r.unknown), (3, 2, 2, 1, 1));
            assert_eq!(r.unknown_examples, ["zz"]);
        }
        // Through the features: the slot is filled, masked where missing, and stored.
        let store = crate::features::FeatureStore::new(d.join("store"));
        let f = ItemFeatures::encode(&ds, None, None)
            .unwrap()
            .with_embeddings("image", &format!("embeddings:{}", pq.display()), &ds, Some(&store))
            .unwrap();
        let m = f.image().unwrap();
        assert_eq!((m.rows.dim(), m.mask.clone()), (2, vec![true, false, true]));
        assert_eq!(f.embeddings.len(), 1);
        let (tensor, manifest) = store.paths(&ds, "image", &format!("embeddings:{}", pq.display()));
        assert!(tensor.is_file() && manifest.is_file());
    }

    #[test]
    fn integer_ids_from_safetensors() {
        use safetensors::Dtype;
        use safetensors::tensor::TensorView;
        let d = scratch("st");
        std::fs::write(d.join("items.tsv"), "item\ttitle\n7\tA\n8\tB\n").unwrap();
        std::fs::write(d.join("interactions.tsv"), "user\titem\ttimestamp\tlabel\nu\t7\t1\t1\n").unwrap();
        let ds = fuserec_data::load_dir(&d, &Default::default()).unwrap();
        let ids: Vec<u8> = [8i64, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let e: Vec<u8> = [2f32, 2.5, 1.0, 1.5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let data = safetensors::serialize(
            [
                ("item_ids", TensorView::new(Dtype::I64, vec![2], &ids).unwrap()),
                ("embeddings", TensorView::new(Dtype::F32, vec![2, 2], &e).unwrap()),
            ],
            None,
        )
        .unwrap();
        let p = d.join("e.safetensors");
        std::fs::write(&p, data).unwrap();
        let (rows, mask, _) = align(&read_keyed(&p).unwrap(), &ds, &p).unwrap();
        assert_eq!((rows.as_slice(), mask), (&[1.0, 1.5, 2.0, 2.5][..], vec![true, true]));
    }

    #[test]
    fn bad_files_are_errors_naming_the_file_and_id() {
        let d = scratch("bad");
        let ds = dataset(&d);
        let pq = d.join("e.parquet");
        let write = |ids: &[&str], v: Vec<f32>| {
            write_table(
                &pq,
                vec![
                    OutColumn::Text("item".into(), ids.iter().map(|s| s.to_string()).collect()),
                    OutColumn::Vectors("embedding".into(), 2, v),
                ],
                8,
            )
            .unwrap()
        };
        let err = |p: &Path| read_keyed(p).and_then(|k| align(&k, &ds, p).map(|_| ())).unwrap_err().to_string();
        write(&["a", "a"], vec![1.0; 4]);
        assert!(err(&pq).contains("item `a` appears twice (rows 0 and 1)"), "{}", err(&pq));
        write(&["a", "b"], vec![1.0, f32::NAN, 1.0, 1.0]);
        let e = err(&pq);
        assert!(e.contains("e.parquet: row group 0, row 0: item `a`") && e.contains("non-finite value"), "{e}");
        write(&["1", "2"], vec![1.0; 4]);
        let e = err(&pq);
        assert!(e.contains("none of its 2 ids is a catalogue item") && e.contains("`1`") && e.contains("`a`"), "{e}");
        let np = d.join("e.npy");
        npy(&np, 2, 2, &[1.0; 4]);
        std::fs::write(ids_path(&np), "a\n").unwrap();
        assert!(err(&np).contains("1 ids for 2 rows"), "{}", err(&np));
        std::fs::write(&np, b"not numpy").unwrap();
        assert!(err(&np).contains("not a usable .npy file"), "{}", err(&np));
        assert!(err(&d.join("e.csv")).contains(".parquet, .npy"), "{}", err(&d.join("e.csv")));
    }
}
