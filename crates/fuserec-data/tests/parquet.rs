//! Parquet input: the same dataset as TSV and as Parquet loads identically, Arrow's other column
//! types (integer ids, timestamps, booleans, lists) read as documented, and every bad row is an
//! error naming file, row group, row and column.
#![cfg(feature = "parquet")]

mod common;
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow_schema::{Field, Schema};
use common::{scratch, write};
use fuserec_data::columnar::{OutColumn, write_table};
use fuserec_data::synthetic::{TableFormat, World, WorldConfig};
use fuserec_data::{LoadOptions, load_dir, load_searches};
use std::path::Path;
use std::sync::Arc;

/// Writes `columns` with Arrow's own types, `group` rows per row group.
fn write_arrow(path: &Path, columns: Vec<(&str, ArrayRef, bool)>, group: usize) {
    let fields: Vec<Field> = columns.iter().map(|(n, a, null)| Field::new(*n, a.data_type().clone(), *null)).collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns.into_iter().map(|c| c.1).collect()).unwrap();
    let props = parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(group)).build();
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn text(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

#[test]
fn the_world_loads_the_same_from_tsv_and_parquet() {
    let w = World::generate(&WorldConfig { scale: 0.1, ..Default::default() }).unwrap();
    let (a, b) = (scratch("pq-tsv"), scratch("pq-parquet"));
    w.write_as(&a, TableFormat::Tsv, false).unwrap();
    w.write_as(&b, TableFormat::Parquet, false).unwrap();
    assert!(b.join("interactions.parquet").is_file() && !b.join("interactions.tsv").exists());
    let (x, y) = (load_dir(&a, &LoadOptions::default()).unwrap(), load_dir(&b, &LoadOptions::default()).unwrap());
    assert_eq!(x.interactions.len(), w.events.len());
    assert_eq!(x.interactions, y.interactions, "same internal ids, times, labels and weights");
    assert_eq!((x.n_users(), x.n_items()), (y.n_users(), y.n_items()));
    for i in 0..x.n_items() as u32 {
        assert_eq!(x.items.raw(i), y.items.raw(i));
    }
    assert_eq!(x.items_meta, y.items_meta);
    assert_eq!(x.report, y.report);
    let (sx, sy) = (load_searches(&a.join("searches.tsv"), &x).unwrap(), load_searches(&b.join("searches.parquet"), &y).unwrap());
    assert_eq!(sx, sy);
    assert!(!sx.is_empty());
}

#[test]
fn arrow_types_integer_ids_timestamps_booleans_and_list_tags() {
    let d = scratch("pq-types");
    // Tags as list<string>: joined with `|` like the TSV form.
    let tags = {
        let mut b = ListBuilder::new(StringBuilder::new());
        b.values().append_value("space");
        b.values().append_value("toy");
        b.append(true);
        b.values().append_value("ocean");
        b.append(true);
        Arc::new(b.finish()) as ArrayRef
    };
    write_arrow(
        &d.join("items.parquet"),
        vec![
            ("item_id", Arc::new(Int64Array::from(vec![10, 20])), false),
            ("title", text(&["Red Rocket", "Blue Sea"]), false),
            ("tags", tags, false),
        ],
        8,
    );
    write_arrow(
        &d.join("interactions.parquet"),
        vec![
            ("user_id", Arc::new(Int64Array::from(vec![7, 7, 8])), false),
            ("item_id", Arc::new(Int64Array::from(vec![10, 20, 10])), false),
            ("timestamp", Arc::new(TimestampMillisecondArray::from(vec![5_000, 1_999, 3_000])), false),
            ("click", Arc::new(BooleanArray::from(vec![true, false, true])), false),
        ],
        2,
    );
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    assert_eq!(ds.items_meta[0].tags, ["space", "toy"]);
    assert_eq!(ds.items.raw(1), "20");
    // Milliseconds → seconds (floored); sorted by time; booleans as 1/0.
    let got: Vec<(String, String, i64, f32)> =
        ds.interactions.iter().map(|x| (ds.users.raw(x.user.0).to_string(), ds.items.raw(x.item.0).to_string(), x.ts, x.label)).collect();
    assert_eq!(got, [("7".into(), "20".into(), 1, 0.0), ("8".into(), "10".into(), 3, 1.0), ("7".into(), "10".into(), 5, 1.0)]);
    // A rating column without a label: rating ≥ 4 is a positive, as in the TSV loader.
    write_arrow(
        &d.join("interactions.parquet"),
        vec![
            ("user", text(&["a", "b"]), false),
            ("item", text(&["10", "20"]), false),
            ("ts", Arc::new(Float64Array::from(vec![1.0, 2.0])), false),
            ("rating", Arc::new(Float64Array::from(vec![4.0, 3.5])), false),
        ],
        8,
    );
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    assert_eq!(ds.interactions.iter().map(|x| x.label).collect::<Vec<_>>(), [1.0, 0.0]);
}

#[test]
fn bad_rows_name_the_row_group_row_and_column() {
    let d = scratch("pq-bad");
    write(&d, "items.tsv", "item\ttitle\na\tA\nb\tB\n");
    let inter = d.join("interactions.parquet");
    let users = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as ArrayRef;
    let five = |u: ArrayRef, item: &[&str], ts: Vec<f64>, label: Vec<f64>| {
        write_arrow(
            &inter,
            vec![
                ("user", u, true),
                ("item", text(item), false),
                ("timestamp", Arc::new(Float64Array::from(ts)), false),
                ("label", Arc::new(Float64Array::from(label)), false),
            ],
            2,
        )
    };
    let load = || load_dir(&d, &LoadOptions::default()).unwrap_err().to_string();
    // Global row 3 = row group 1, row 1 (two rows per group).
    five(users(vec![Some("u"), Some("u"), Some("v"), None, Some("w")]), &["a", "b", "a", "b", "a"], vec![1.0; 5], vec![1.0; 5]);
    let e = load();
    assert!(e.contains("interactions.parquet: row group 1, row 1") && e.contains("`user` is null"), "{e}");
    let ok = || users(vec![Some("u"); 5]);
    five(ok(), &["a", "b", "a", "b", "a"], vec![1.0, 2.0, 3.0, 4.0, 5.0], vec![1.0, 0.0, 2.0, 1.0, 1.0]);
    let e = load();
    assert!(e.contains("row group 1, row 0") && e.contains("label 2 outside [0, 1]"), "{e}");
    five(ok(), &["a", "b", "a", "b", "a"], vec![1.0, 2.0, 3.0, 4.0, f64::NAN], vec![1.0; 5]);
    let e = load();
    assert!(e.contains("row group 2, row 0") && e.contains("`timestamp`") && e.contains("not a finite number"), "{e}");
    five(ok(), &["a", "b", "zz", "b", "a"], vec![1.0, 2.0, 3.0, 4.0, 5.0], vec![1.0; 5]);
    let e = load();
    assert!(e.contains("row group 1, row 0") && e.contains("unknown item id `zz`"), "{e}");
    // Skipping unknown items counts them, with a location per example.
    let ds = load_dir(&d, &LoadOptions { unknown_items: fuserec_data::UnknownIdPolicy::Skip }).unwrap();
    assert_eq!(ds.report.unknown_item_rows, 1);
    assert!(ds.report.unknown_item_examples[0].contains("row group 1 row 0"), "{:?}", ds.report.unknown_item_examples);
    // A user seen only in skipped rows is not a user (as with TSV).
    five(
        users(vec![Some("u"), Some("u"), Some("ghost"), Some("u"), Some("u")]),
        &["a", "b", "zz", "b", "a"],
        vec![1.0, 2.0, 3.0, 4.0, 5.0],
        vec![1.0; 5],
    );
    let ds = load_dir(&d, &LoadOptions { unknown_items: fuserec_data::UnknownIdPolicy::Skip }).unwrap();
    assert_eq!((ds.n_users(), ds.interactions.len(), ds.report.interaction_rows), (1, 4, 5));
    // A missing column names what the file has.
    write_arrow(&inter, vec![("user", text(&["u"]), false), ("item", text(&["a"]), false)], 2);
    let e = load();
    assert!(e.contains("missing column `timestamp`") && e.contains("has: user, item"), "{e}");
    // A column of the wrong type: text where a timestamp should be.
    write_arrow(&inter, vec![("user", text(&["u"]), false), ("item", text(&["a"]), false), ("timestamp", text(&["yesterday"]), false)], 2);
    let e = load();
    assert!(e.contains("row group 0") && e.contains("column `timestamp` (Utf8): not numeric") && e.contains("yesterday"), "{e}");
    // A truncated file (the footer is gone).
    five(ok(), &["a", "b", "a", "b", "a"], vec![1.0, 2.0, 3.0, 4.0, 5.0], vec![1.0; 5]);
    let bytes = std::fs::read(&inter).unwrap();
    std::fs::write(&inter, &bytes[..bytes.len() / 2]).unwrap();
    let e = load();
    assert!(e.contains("interactions.parquet") && e.contains("not a readable Parquet file"), "{e}");
    // Damaged data pages (the footer intact): an error naming the file and row group, no panic.
    five(ok(), &["a", "b", "a", "b", "a"], vec![1.0, 2.0, 3.0, 4.0, 5.0], vec![1.0; 5]);
    let mut bytes = std::fs::read(&inter).unwrap();
    let third = bytes.len() / 3;
    bytes[4..third].iter_mut().for_each(|b| *b = 0xff);
    std::fs::write(&inter, &bytes).unwrap();
    let e = load();
    assert!(e.contains("interactions.parquet: row group 0: cannot decode"), "{e}");
    // Not Parquet at all.
    std::fs::write(&inter, b"user\titem\ttimestamp\nu\ta\t1\n").unwrap();
    let e = load();
    assert!(e.contains("interactions.parquet") && e.contains("not a readable Parquet file"), "{e}");
    // An empty title column value in a Parquet items table is an empty title, counted.
    std::fs::remove_file(d.join("items.tsv")).unwrap();
    write_table(
        &d.join("items.parquet"),
        vec![OutColumn::Text("item".into(), vec!["a".into(), "".into()]), OutColumn::Text("title".into(), vec!["A".into(), "B".into()])],
        8,
    )
    .unwrap();
    five(ok(), &["a", "a", "a", "a", "a"], vec![1.0, 2.0, 3.0, 4.0, 5.0], vec![1.0; 5]);
    let e = load();
    assert!(e.contains("items.parquet: row group 0, row 1") && e.contains("empty item id"), "{e}");
}

#[test]
fn keyed_embeddings_read_lists_and_refuse_ragged_or_null_rows() {
    use arrow_array::builder::Float64Builder;
    use fuserec_data::columnar::read_embeddings;
    let d = scratch("pq-emb");
    let p = d.join("e.parquet");
    let lists = |rows: Vec<Option<Vec<f64>>>| {
        let mut b = ListBuilder::new(Float64Builder::new());
        for r in rows {
            match r {
                Some(v) => {
                    v.into_iter().for_each(|x| b.values().append_value(x));
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Arc::new(b.finish()) as ArrayRef
    };
    // list<float64> under another name: the only list column is the embedding; integer ids.
    write_arrow(
        &p,
        vec![
            ("item_id", Arc::new(Int64Array::from(vec![5, 9])), false),
            ("clip", lists(vec![Some(vec![1.0, 2.0]), Some(vec![3.0, 4.0])]), true),
        ],
        8,
    );
    let (ids, values, dim) = read_embeddings(&p).unwrap();
    assert_eq!((ids, values, dim), (vec!["5".to_string(), "9".to_string()], vec![1.0, 2.0, 3.0, 4.0], 2));
    write_arrow(&p, vec![("item", text(&["a", "b"]), false), ("embedding", lists(vec![Some(vec![1.0, 2.0]), Some(vec![3.0])]), true)], 8);
    let e = read_embeddings(&p).unwrap_err().to_string();
    assert!(e.contains("row group 0, row 1") && e.contains("item `b`: 1 values, the first row has 2"), "{e}");
    write_arrow(&p, vec![("item", text(&["a", "b"]), false), ("embedding", lists(vec![Some(vec![1.0]), None]), true)], 8);
    let e = read_embeddings(&p).unwrap_err().to_string();
    assert!(e.contains("item `b`: the embedding is null"), "{e}");
    write_arrow(&p, vec![("item", text(&["a"]), false), ("score", Arc::new(Float64Array::from(vec![1.0])), false)], 8);
    let e = read_embeddings(&p).unwrap_err().to_string();
    assert!(e.contains("no embedding column") && e.contains("has: item, score"), "{e}");
}
