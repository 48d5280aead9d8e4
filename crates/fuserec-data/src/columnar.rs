//! Parquet input and output beside TSV/CSV (feature `parquet`, on by default).
//!
//! Small files (items, searches) are read whole into a `Table` of strings, so they go through
//! the same validation as a TSV file; errors name the row group and row instead of a line.
//! Interactions are streamed row group by row group in Arrow batches (`for_each_interaction`),
//! so peak memory grows with the number of interactions, not with the file's text.
//! Ids may be strings or integers, timestamps integers, floats or Arrow timestamps (read as
//! seconds), labels numbers or booleans.

use crate::delimited::Table;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use fuserec_core::{Error, Result};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Casts that fail on a value they cannot convert (Arrow's default turns it into a null).
const STRICT: arrow_cast::CastOptions = arrow_cast::CastOptions { safe: false, format_options: arrow_cast::display::FormatOptions::new() };

/// Rows per Arrow batch when streaming.
const BATCH_ROWS: usize = 64 * 1024;

/// Whether `path` names a Parquet file (by extension).
pub fn is_parquet(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| Error::Invalid(format!("{}: not a readable Parquet file ({e})", path.display())))
}

/// A row group that cannot be decoded (a damaged page): the reader does not say which row.
fn arrow_err(path: &Path, rg: usize, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: row group {rg}: cannot decode ({e})", path.display()))
}

/// Header names as the TSV reader has them: lower case, a RecBole `:type` suffix stripped.
fn column_name(f: &Field) -> String {
    f.name().split(':').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// One column of a batch as strings (`None` = null): lists of strings are joined with `|`
/// (tags), everything else is cast to UTF-8 by Arrow.
fn strings(path: &Path, rg: usize, name: &str, a: &ArrayRef) -> Result<Vec<Option<String>>> {
    if let DataType::List(_) | DataType::LargeList(_) = a.data_type() {
        let mut out = Vec::with_capacity(a.len());
        for i in 0..a.len() {
            if a.is_null(i) {
                out.push(None);
                continue;
            }
            let v = match a.data_type() {
                DataType::List(_) => a.as_list::<i32>().value(i),
                _ => a.as_list::<i64>().value(i),
            };
            let parts = strings(path, rg, name, &v)?;
            out.push(Some(parts.into_iter().flatten().collect::<Vec<_>>().join("|")));
        }
        return Ok(out);
    }
    let s = utf8(path, rg, name, a)?;
    let s = s.as_string::<i32>();
    Ok((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_string())).collect())
}

/// A column cast to UTF-8 (integer ids become their decimal text).
fn utf8(path: &Path, rg: usize, name: &str, a: &ArrayRef) -> Result<ArrayRef> {
    match a.data_type() {
        DataType::Utf8 => Ok(a.clone()),
        _ => arrow_cast::cast(a, &DataType::Utf8).map_err(|e| Error::Row {
            path: path.to_path_buf(),
            row_group: rg,
            row: 0,
            msg: format!("column `{name}`: {e}"),
        }),
    }
}

/// Reads a whole Parquet file as a `Table` of strings (nulls become empty fields). For small
/// files: items, searches.
pub fn read_table(path: &Path) -> Result<Table> {
    let b = open(path)?;
    let columns: Vec<String> = b.schema().fields().iter().map(|f| column_name(f)).collect();
    let groups: Vec<usize> = b.metadata().row_groups().iter().map(|g| g.num_rows() as usize).collect();
    let reader = b.with_batch_size(BATCH_ROWS).build().map_err(|e| arrow_err(path, 0, e))?;
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    for batch in reader {
        let rg = group_of(&groups, rows.len());
        let batch = batch.map_err(|e| arrow_err(path, rg, e))?;
        let mut cols = batch.columns().iter().zip(&columns).map(|(a, n)| strings(path, rg, n, a)).collect::<Result<Vec<_>>>()?;
        for r in 0..batch.num_rows() {
            rows.push((rows.len(), cols.iter_mut().map(|c| c[r].take().unwrap_or_default()).collect()));
        }
    }
    Ok(Table { path: path.to_path_buf(), columns, rows, row_groups: Some(groups) })
}

/// Row group holding global row `row`, given the rows per group.
pub(crate) fn group_of(groups: &[usize], row: usize) -> usize {
    let mut start = 0;
    for (g, &n) in groups.iter().enumerate() {
        if row < start + n {
            return g;
        }
        start += n;
    }
    groups.len().saturating_sub(1)
}

/// `(row group, row within it)` of a global row.
pub(crate) fn locate(groups: &[usize], row: usize) -> (usize, usize) {
    let g = group_of(groups, row);
    (g, row - groups[..g].iter().sum::<usize>())
}

/// Which interaction columns a file has (indices into its Arrow schema).
struct InteractionColumns {
    user: usize,
    item: usize,
    ts: usize,
    label: Option<usize>,
    rating: Option<usize>,
    weight: Option<usize>,
}

fn find(schema: &Schema, names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| schema.fields().iter().position(|f| column_name(f) == *n))
}

/// The first column named one of `names`, or an error naming what the file has.
fn require(path: &Path, schema: &Schema, names: &[&str]) -> Result<usize> {
    find(schema, names).ok_or_else(|| {
        let has = schema.fields().iter().map(|f| column_name(f)).collect::<Vec<_>>().join(", ");
        Error::Invalid(format!("{}: missing column `{}` (has: {has})", path.display(), names[0]))
    })
}

/// An id column of one batch: Parquet's dictionary kept (each distinct id resolved once per
/// dictionary, not once per row), or plain strings.
pub(crate) enum IdColumn {
    Dict(arrow_array::DictionaryArray<arrow_array::types::Int32Type>),
    Plain(ArrayRef),
}

impl IdColumn {
    fn of(path: &Path, rg: usize, name: &str, a: &ArrayRef) -> Result<Self> {
        match a.data_type() {
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => Ok(IdColumn::Dict(a.as_dictionary().clone())),
            _ => Ok(IdColumn::Plain(utf8(path, rg, name, a)?)),
        }
    }

    /// A row-by-row resolver of this column's ids (see [`IdResolver::get`]); `known`: ids of
    /// the dictionary's values already looked up (`UNRESOLVED` where not found).
    pub(crate) fn resolver(&self, known: Option<Vec<u32>>) -> IdResolver<'_> {
        match self {
            IdColumn::Dict(d) => IdResolver::Dict {
                keys: d.keys(),
                values: d.values().as_string::<i32>(),
                cache: known.filter(|k| k.len() == d.values().len()).unwrap_or_else(|| vec![UNRESOLVED; d.values().len()]),
            },
            IdColumn::Plain(a) => IdResolver::Plain(a.as_string::<i32>()),
        }
    }

    /// The ids `lookup` gives each dictionary value (`UNRESOLVED`: none), for
    /// [`IdColumn::resolver`]; `None` for plain strings.
    fn lookup_dictionary(&self, lookup: IdLookup<'_>) -> Option<Vec<u32>> {
        match self {
            IdColumn::Dict(d) => Some(d.values().as_string::<i32>().iter().map(|v| v.and_then(lookup).unwrap_or(UNRESOLVED)).collect()),
            IdColumn::Plain(_) => None,
        }
    }
}

/// Raw id → dense id of a fixed map, callable from the decoding threads.
pub(crate) type IdLookup<'a> = &'a (dyn Fn(&str) -> Option<u32> + Sync);

/// A dictionary value not resolved yet.
const UNRESOLVED: u32 = u32::MAX;

/// Resolves a batch's ids one row at a time, with no per-row vector: a dictionary value is
/// resolved once, at the first row that gives it an id.
pub(crate) enum IdResolver<'a> {
    Dict { keys: &'a arrow_array::Int32Array, values: &'a arrow_array::StringArray, cache: Vec<u32> },
    Plain(&'a arrow_array::StringArray),
}

impl IdResolver<'_> {
    /// Row `r`'s id: `f(raw)` is called once per distinct dictionary value until it gives `Some`
    /// (a `None` — the row is skipped — is not remembered: a later row may resolve the value),
    /// once per row for plain strings. `Err(())`: the row's id is null.
    #[inline]
    pub(crate) fn get(&mut self, r: usize, f: impl FnOnce(&str) -> Result<Option<u32>>) -> std::result::Result<Result<Option<u32>>, ()> {
        match self {
            IdResolver::Dict { keys, values, cache } => {
                if keys.is_null(r) {
                    return Err(());
                }
                let k = keys.value(r) as usize;
                match cache[k] {
                    UNRESOLVED => {
                        let id = f(values.value(k));
                        if let Ok(Some(id)) = id {
                            cache[k] = id;
                        }
                        Ok(id)
                    }
                    id => Ok(Ok(Some(id))),
                }
            }
            IdResolver::Plain(s) => {
                if s.is_null(r) {
                    Err(())
                } else {
                    Ok(f(s.value(r)))
                }
            }
        }
    }
}

/// One batch of interaction rows as read, before ids are interned and the label rule applied.
pub(crate) struct InteractionBatch {
    /// Rows in the whole file (for reserving once).
    pub file_rows: usize,
    pub row_group: usize,
    /// Row (within the row group) of the batch's first row.
    pub offset: usize,
    pub rows: usize,
    pub users: IdColumn,
    pub items: IdColumn,
    /// The item dictionary's ids, looked up while decoding (when the catalogue is fixed).
    pub known_items: Option<Vec<u32>>,
    /// Finite numbers (nulls and non-finite values were refused).
    pub ts: Vec<f64>,
    /// The `label`/`click` column, if the file has one.
    pub label: Option<Vec<f64>>,
    pub rating: Option<Vec<f64>>,
    pub weight: Option<Vec<f64>>,
}

/// A numeric column as f64 values (Arrow timestamps in seconds, floored); a null or non-finite
/// value is an error naming its row (`at` = row group and the batch's first row).
fn finite_numbers(path: &Path, at: (usize, usize), name: &str, a: &ArrayRef) -> Result<Vec<f64>> {
    let err = |r: usize, msg: String| Error::Row { path: path.to_path_buf(), row_group: at.0, row: at.1 + r, msg };
    let bad = |e: arrow_schema::ArrowError| err(0, format!("column `{name}` ({}): not numeric ({e})", a.data_type()));
    if let Some(r) = (a.null_count() > 0).then(|| (0..a.len()).find(|&r| a.is_null(r))).flatten() {
        return Err(err(r, format!("column `{name}` is null")));
    }
    let v: Vec<f64> = if let DataType::Timestamp(unit, _) = a.data_type() {
        let per_second = match unit {
            TimeUnit::Second => 1.0,
            TimeUnit::Millisecond => 1e3,
            TimeUnit::Microsecond => 1e6,
            TimeUnit::Nanosecond => 1e9,
        };
        let v = arrow_cast::cast_with_options(a, &DataType::Int64, &STRICT).map_err(bad)?;
        v.as_primitive::<Int64Type>().values().iter().map(|&x| (x as f64 / per_second).floor()).collect()
    } else {
        // Strict: text that is not a number is an error, not a null.
        let v = arrow_cast::cast_with_options(a, &DataType::Float64, &STRICT).map_err(bad)?;
        v.as_primitive::<Float64Type>().values().to_vec()
    };
    match v.iter().position(|x| !x.is_finite()) {
        Some(r) => Err(err(r, format!("column `{name}`: {} is not a finite number", v[r]))),
        None => Ok(v),
    }
}

/// Streams the interactions of a Parquet file in batches of up to a row group: `user`/`user_id`,
/// `item`/`item_id`, `timestamp`/`ts`/`time`, optional `label`/`click`, `rating`, `weight`
/// (other columns are not read). String id columns are read as dictionaries. Nulls and
/// non-finite numbers in the numeric columns are errors naming row group, row and column.
/// `item_lookup` (a fixed catalogue) resolves each item dictionary while decoding, off the
/// caller's thread. Row groups are decoded on another thread while the caller consumes the
/// previous ones.
pub(crate) fn for_each_interaction(
    path: &Path,
    item_lookup: Option<IdLookup<'_>>,
    mut batch_fn: impl FnMut(InteractionBatch) -> Result<()>,
) -> Result<()> {
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    let b = open(path)?;
    let schema = b.schema().clone();
    let need = |names: &[&str]| require(path, &schema, names);
    let cols = InteractionColumns {
        user: need(&["user", "user_id"])?,
        item: need(&["item", "item_id"])?,
        ts: need(&["timestamp", "ts", "time"])?,
        label: find(&schema, &["label", "click"]),
        rating: find(&schema, &["rating"]),
        weight: find(&schema, &["weight"]),
    };
    let mut wanted: Vec<usize> =
        [Some(cols.user), Some(cols.item), Some(cols.ts), cols.label, cols.rating, cols.weight].into_iter().flatten().collect();
    wanted.sort_unstable();
    wanted.dedup();
    // String ids as dictionaries: Parquet stores them so, and a dictionary resolves each id once.
    let hinted: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match f.data_type() {
            DataType::Utf8 if i == cols.user || i == cols.item => {
                Field::new(f.name(), DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), f.is_nullable())
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    let hint = Arc::new(Schema::new(hinted));
    let groups: Vec<usize> = b.metadata().row_groups().iter().map(|g| g.num_rows() as usize).collect();
    // The footer is read once; every row group's reader starts from it.
    let meta = ArrowReaderMetadata::try_new(b.metadata().clone(), ArrowReaderOptions::new().with_schema(hint))
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    drop(b);
    let file_rows: usize = groups.iter().sum();
    // One row group decoded into batches (numbers checked, ids still Arrow arrays).
    let decode = |rg: usize| -> Result<Vec<InteractionBatch>> {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let b = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone());
        let mask = ProjectionMask::roots(b.parquet_schema(), wanted.iter().copied());
        let reader = b
            .with_row_groups(vec![rg])
            .with_projection(mask)
            .with_batch_size(groups[rg].clamp(1, 1 << 20))
            .build()
            .map_err(|e| arrow_err(path, rg, e))?;
        let mut out = Vec::new();
        let mut offset = 0usize;
        for batch in reader {
            let batch: RecordBatch = batch.map_err(|e| arrow_err(path, rg, e))?;
            // Projected columns keep the file's order: look each up by its original position.
            let col = |i: usize| batch.column(wanted.iter().position(|&w| w == i).expect("projected"));
            let name = |i: usize| schema.field(i).name().clone();
            let finite = |c: usize| finite_numbers(path, (rg, offset), &name(c), col(c));
            let rows = batch.num_rows();
            let items = IdColumn::of(path, rg, &name(cols.item), col(cols.item))?;
            out.push(InteractionBatch {
                file_rows,
                row_group: rg,
                offset,
                rows,
                users: IdColumn::of(path, rg, &name(cols.user), col(cols.user))?,
                known_items: item_lookup.and_then(|l| items.lookup_dictionary(l)),
                items,
                ts: finite(cols.ts)?,
                label: cols.label.map(finite).transpose()?,
                rating: cols.rating.map(finite).transpose()?,
                weight: cols.weight.map(finite).transpose()?,
            });
            offset += rows;
        }
        Ok(out)
    };
    // Row groups are decoded on a producer thread (a few at a time in parallel when there are
    // cores to spare) and handed over in file order while the caller consumes earlier ones (ids
    // are interned by the caller, sequentially). The first error in file order is reported.
    use rayon::prelude::*;
    let at_once = rayon::current_num_threads().max(1);
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<InteractionBatch>>>(1);
        let decode = &decode;
        let groups = &groups;
        s.spawn(move || {
            for chunk in (0..groups.len()).collect::<Vec<_>>().chunks(at_once) {
                let decoded: Vec<Result<Vec<InteractionBatch>>> = chunk.par_iter().map(|&rg| decode(rg)).collect();
                for d in decoded {
                    // The caller stopped (an error): stop decoding.
                    if tx.send(d).is_err() {
                        return;
                    }
                }
            }
        });
        let consumed = (|| {
            for batches in rx.iter() {
                for b in batches? {
                    batch_fn(b)?;
                }
            }
            Ok(())
        })();
        drop(rx);
        consumed
    })
}

/// Item embeddings keyed by raw id from Parquet: an `item`/`item_id` column (string or integer)
/// and one list or fixed-size-list column of floats (`embedding`, `vector`, `embeddings`, or the
/// only list column). Returns the ids in file order and the rows (row-major, all one width).
/// Null ids or vectors, rows of another width and non-finite values are errors naming row group,
/// row and id.
pub fn read_embeddings(path: &Path) -> Result<(Vec<String>, Vec<f32>, usize)> {
    let b = open(path)?;
    let schema = b.schema().clone();
    let id_col = require(path, &schema, &["item", "item_id", "id"])?;
    let is_list = |f: &Field| matches!(f.data_type(), DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _));
    let vec_col = find(&schema, &["embedding", "vector", "embeddings", "features"]).filter(|&c| is_list(schema.field(c))).or_else(|| {
        let lists: Vec<usize> = (0..schema.fields().len()).filter(|&c| is_list(schema.field(c))).collect();
        (lists.len() == 1).then(|| lists[0])
    });
    let vec_col = vec_col.ok_or_else(|| {
        Error::Invalid(format!(
            "{}: no embedding column (a list of floats named `embedding` or the only list column; has: {})",
            path.display(),
            schema.fields().iter().map(|f| column_name(f)).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let groups: Vec<usize> = b.metadata().row_groups().iter().map(|g| g.num_rows() as usize).collect();
    let reader = b.with_batch_size(BATCH_ROWS).build().map_err(|e| arrow_err(path, 0, e))?;
    let (mut ids, mut values, mut dim) = (Vec::new(), Vec::new(), None::<usize>);
    for batch in reader {
        let rg = group_of(&groups, ids.len());
        let batch = batch.map_err(|e| arrow_err(path, rg, e))?;
        let id = utf8(path, rg, "item", batch.column(id_col))?;
        let id = id.as_string::<i32>();
        let v = batch.column(vec_col);
        for r in 0..batch.num_rows() {
            let (g, row) = locate(&groups, ids.len());
            let err = |msg: String| Error::Row { path: path.to_path_buf(), row_group: g, row, msg };
            if id.is_null(r) {
                return Err(err("the item id is null".into()));
            }
            let name = id.value(r).trim().to_string();
            if v.is_null(r) {
                return Err(err(format!("item `{name}`: the embedding is null")));
            }
            let list: ArrayRef = match v.data_type() {
                DataType::List(_) => v.as_list::<i32>().value(r),
                DataType::LargeList(_) => v.as_list::<i64>().value(r),
                _ => v.as_fixed_size_list().value(r),
            };
            let xs = finite_numbers(path, (g, row), "embedding", &list)
                .map_err(|_| err(format!("item `{name}`: a null or non-finite value in the embedding")))?;
            let d = *dim.get_or_insert(xs.len());
            if xs.len() != d || d == 0 {
                return Err(err(format!("item `{name}`: {} values, the first row has {d}", xs.len())));
            }
            values.extend(xs.iter().map(|&x| x as f32));
            ids.push(name);
        }
    }
    let dim = dim.ok_or_else(|| Error::Invalid(format!("{}: no rows", path.display())))?;
    Ok((ids, values, dim))
}

/// A column to write: its name and values.
pub enum OutColumn {
    /// Strings: name, values.
    Text(String, Vec<String>),
    /// 64-bit integers: name, values.
    Int(String, Vec<i64>),
    /// 64-bit floats: name, values.
    Float(String, Vec<f64>),
    /// Row-major vectors of one width, as a fixed-size list of float32 (embeddings).
    Vectors(String, usize, Vec<f32>),
}

impl OutColumn {
    fn name(&self) -> &str {
        match self {
            OutColumn::Text(s, _) | OutColumn::Int(s, _) | OutColumn::Float(s, _) | OutColumn::Vectors(s, _, _) => s,
        }
    }
    fn len(&self) -> usize {
        match self {
            OutColumn::Text(_, v) => v.len(),
            OutColumn::Int(_, v) => v.len(),
            OutColumn::Float(_, v) => v.len(),
            OutColumn::Vectors(_, d, v) => v.len() / (*d).max(1),
        }
    }
    fn into_parts(self) -> (String, ArrayRef) {
        use arrow_array::{Float64Array, Int64Array, StringArray};
        match self {
            OutColumn::Text(n, v) => (n, Arc::new(StringArray::from(v))),
            OutColumn::Int(n, v) => (n, Arc::new(Int64Array::from(v))),
            OutColumn::Float(n, v) => (n, Arc::new(Float64Array::from(v))),
            OutColumn::Vectors(n, d, v) => {
                let item = Arc::new(Field::new("item", DataType::Float32, false));
                let values = Arc::new(arrow_array::Float32Array::from(v));
                (n, Arc::new(arrow_array::FixedSizeListArray::new(item, d as i32, values, None)))
            }
        }
    }
}

/// A Parquet file written chunk by chunk (Snappy, row groups of up to `group_rows` rows), under
/// a temporary name renamed by [`TableWriter::finish`], so a reader never sees half a file.
pub struct TableWriter {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    group_rows: usize,
    writer: Option<parquet::arrow::ArrowWriter<File>>,
}

impl TableWriter {
    /// A writer for `path` (nothing is written before the first chunk).
    pub fn create(path: &Path, group_rows: usize) -> Result<Self> {
        let tmp = path.with_extension("parquet.partial");
        Ok(TableWriter { path: path.to_path_buf(), tmp, group_rows: group_rows.max(1), writer: None })
    }

    fn werr(&self, e: impl std::fmt::Display) -> Error {
        Error::Invalid(format!("{}: writing Parquet: {e}", self.path.display()))
    }

    /// Appends rows: the same columns (names, kinds, order) every call, all of one length.
    pub fn write(&mut self, columns: Vec<OutColumn>) -> Result<()> {
        for c in &columns {
            if let OutColumn::Vectors(name, d, v) = c
                && (*d == 0 || !v.len().is_multiple_of(*d))
            {
                return Err(Error::Shape(format!(
                    "{}: column `{name}`: {} values are not rows of width {d}",
                    self.path.display(),
                    v.len()
                )));
            }
        }
        let n = columns.first().map_or(0, OutColumn::len);
        if let Some(c) = columns.iter().find(|c| c.len() != n) {
            return Err(Error::Shape(format!("{}: column `{}` has {} rows, the first column {n}", self.path.display(), c.name(), c.len())));
        }
        let (names, arrays): (Vec<String>, Vec<ArrayRef>) = columns.into_iter().map(OutColumn::into_parts).unzip();
        let fields: Vec<Field> = names.into_iter().zip(&arrays).map(|(n, a)| Field::new(n, a.data_type().clone(), false)).collect();
        let schema = Arc::new(Schema::new(fields));
        if self.writer.is_none() {
            use parquet::basic::Compression;
            use parquet::file::properties::WriterProperties;
            let file = File::create(&self.tmp).map_err(|e| Error::io(&self.tmp, e))?;
            // Dictionary pages up to 8 MiB keep id columns dictionary-encoded for catalogues of a few
            // hundred thousand ids (the 1 MiB default falls back to plain strings).
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(self.group_rows))
                .set_dictionary_page_size_limit(8 << 20)
                .build();
            self.writer = Some(parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| self.werr(e))?);
        }
        let batch = RecordBatch::try_new(schema, arrays).map_err(|e| self.werr(e))?;
        let w = self.writer.as_mut().expect("created above");
        let r = w.write(&batch);
        r.map_err(|e| self.werr(e))
    }

    /// Closes the file and moves it into place.
    pub fn finish(mut self) -> Result<()> {
        let w = self.writer.take().ok_or_else(|| self.werr("no rows were written"))?;
        let r = w.close();
        r.map_err(|e| self.werr(e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `columns` as one Parquet file ([`TableWriter`] in one chunk).
pub fn write_table(path: &Path, columns: Vec<OutColumn>, group_rows: usize) -> Result<()> {
    let mut w = TableWriter::create(path, group_rows)?;
    w.write(columns)?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_groups_locate_global_rows() {
        let g = [3, 0, 2];
        assert_eq!(locate(&g, 0), (0, 0));
        assert_eq!(locate(&g, 2), (0, 2));
        assert_eq!(locate(&g, 3), (2, 0), "an empty group holds no row");
        assert_eq!(locate(&g, 4), (2, 1));
        assert!(is_parquet(Path::new("a/b.parquet")) && is_parquet(Path::new("x.PQ")) && !is_parquet(Path::new("x.tsv")));
    }
}
