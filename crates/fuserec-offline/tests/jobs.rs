//! Every offline job against fuserec's own in-process code on one small synthetic world written
//! as Parquet: the same rows, the same f32 bits.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float32Type, Int64Type, UInt32Type};
use fuserec_core::{Embeddings, Interaction};
use fuserec_data::columnar::{OutColumn, write_table};
use fuserec_data::synthetic::{TableFormat, World, WorldConfig};
use fuserec_data::{CtrPrior, Dataset, LoadOptions, PosteriorStats, clicks_by_user, load_dir};
use fuserec_offline::{EncodeJob, Offline, SplitJob, StatsJob, TopKJob, codes_sql};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fuserec-offline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small world (300 users, 400 items, images) as Parquet, and the same folder loaded in process.
fn world() -> &'static (PathBuf, Dataset) {
    static W: OnceLock<(PathBuf, Dataset)> = OnceLock::new();
    W.get_or_init(|| {
        let dir = scratch("world");
        let cfg = WorldConfig { users: 300, items: 400, impressions_per_user: 40, searches_per_user: 0.0, ..Default::default() };
        World::generate(&cfg).unwrap().write_as(&dir, TableFormat::Parquet, true).unwrap();
        let ds = load_dir(&dir, &LoadOptions::default()).unwrap();
        (dir, ds)
    })
}

fn strs(b: &RecordBatch, c: &str) -> Vec<String> {
    let a = datafusion::arrow::compute::cast(b.column_by_name(c).unwrap(), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
    a.as_string::<i32>().iter().map(|s| s.unwrap().to_string()).collect()
}
fn i64s(b: &RecordBatch, c: &str) -> Vec<i64> {
    b.column_by_name(c).unwrap().as_primitive::<Int64Type>().values().to_vec()
}
fn f32s(b: &RecordBatch, c: &str) -> Vec<f32> {
    b.column_by_name(c).unwrap().as_primitive::<Float32Type>().values().to_vec()
}
fn vectors(b: &RecordBatch, c: &str) -> Vec<Option<Vec<f32>>> {
    let a = b.column_by_name(c).unwrap().as_fixed_size_list();
    (0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i).as_primitive::<Float32Type>().values().to_vec())).collect()
}

async fn session(dir: &Path) -> Offline {
    let off = Offline::embedded(2);
    off.register_log("log", &dir.join("interactions.parquet")).await.unwrap();
    off
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_match_posterior_stats_bit_for_bit() {
    let (dir, ds) = world();
    let off = session(dir).await;
    let sql = StatsJob::default().sql("log", "(SELECT * FROM log WHERE label > 0.5)");
    let batches = off.collect(off.run(&sql).await.unwrap()).await.unwrap();
    let mut first = vec![None::<i64>; ds.n_items()];
    for x in &ds.interactions {
        let f = &mut first[x.item.idx()];
        *f = Some(f.map_or(x.ts, |t| t.min(x.ts)));
    }
    let st = PosteriorStats::new(&ds.interactions, first, CtrPrior::default());
    let mut rows = 0;
    let mut seen_history = false;
    for b in &batches {
        let (items, ts, ex, cl) = (strs(b, "item"), i64s(b, "ts"), i64s(b, "exposures"), i64s(b, "clicks"));
        let (ctr, age) = (f32s(b, "smoothed_ctr"), f32s(b, "age_days"));
        for r in 0..b.num_rows() {
            let s = st.at(ds.items.get(&items[r]).unwrap() as usize, ts[r]);
            assert_eq!((ex[r] as f32, cl[r] as f32), (s.exposures, s.clicks), "row {r} item {}", items[r]);
            assert_eq!(ctr[r].to_bits(), s.smoothed_ctr.to_bits(), "smoothed ctr of {} at {}", items[r], ts[r]);
            assert_eq!(age[r].to_bits(), s.age_days.to_bits(), "age of {} at {}", items[r], ts[r]);
            seen_history |= s.exposures > 0.0 && s.clicks > 0.0 && s.age_days > 0.0;
        }
        rows += b.num_rows();
    }
    assert_eq!(rows, ds.n_positives(), "one output row per positive");
    assert!(seen_history, "the world must exercise non-trivial statistics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_match_the_in_process_timeline() {
    let (dir, ds) = world();
    let off = session(dir).await;
    let cap = 5;
    let batches = off.collect(off.run(&StatsJob::default().samples_sql("log", cap)).await.unwrap()).await.unwrap();
    // In process: the per-user click timeline the trainer builds, ties in time by item id. The
    // world's ids (`i<n>`) sort differently as text, so compare with ties ordered by raw id.
    let timeline = clicks_by_user(ds.n_users(), &[&ds.interactions]).unwrap();
    let mut expected: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for (u, ev) in timeline.iter().enumerate() {
        let mut v: Vec<(i64, String)> = ev.iter().map(|&(t, i)| (t, ds.items.raw(i).to_string())).collect();
        v.sort();
        expected.insert(ds.users.raw(u as u32).to_string(), v);
    }
    let mut at: HashMap<String, usize> = HashMap::new();
    let (mut rows, mut full) = (0, 0);
    for b in &batches {
        let (users, items, ts) = (strs(b, "user"), strs(b, "item"), i64s(b, "ts"));
        let hist = b.column_by_name("history").unwrap().as_list::<i32>();
        for r in 0..b.num_rows() {
            let pos = at.entry(users[r].clone()).or_default();
            let seq = &expected[&users[r]];
            assert_eq!((ts[r], &items[r]), (seq[*pos].0, &seq[*pos].1), "user {} sample {pos}", users[r]);
            let h = hist.value(r);
            let got: Vec<String> =
                h.as_string_view_opt().map(|a| a.iter().map(|s| s.unwrap().to_string()).collect()).unwrap_or_else(|| {
                    let a = datafusion::arrow::compute::cast(&h, &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
                    a.as_string::<i32>().iter().map(|s| s.unwrap().to_string()).collect()
                });
            let want: Vec<String> = seq[pos.saturating_sub(cap)..*pos].iter().map(|p| p.1.clone()).collect();
            assert_eq!(got, want, "history of user {} sample {pos}", users[r]);
            full += (got.len() == cap) as usize;
            *pos += 1;
            rows += 1;
        }
    }
    assert_eq!(rows, ds.n_positives());
    assert!(full > 0, "some histories reach the cap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_follows_the_hash_draw_and_the_per_user_temporal_rule() {
    let (dir, ds) = world();
    let off = session(dir).await;
    let job = SplitJob { cold_fraction: 0.2, cold_val_fraction: 0.1, ..Default::default() };
    job.validate().unwrap();
    let batches = off.collect(off.run(&job.sql("log")).await.unwrap()).await.unwrap();
    let mut part_of: HashMap<(String, String, i64), Vec<String>> = HashMap::new();
    let mut n = 0;
    for b in &batches {
        let (u, i, t, p) = (strs(b, "user"), strs(b, "item"), i64s(b, "ts"), strs(b, "part"));
        for r in 0..b.num_rows() {
            part_of.entry((u[r].clone(), i[r].clone(), t[r])).or_default().push(p[r].clone());
            n += 1;
        }
    }
    assert_eq!(n, ds.interactions.len(), "every interaction in exactly one part");
    // The cold draw, item by item.
    let mut has_pos = vec![false; ds.n_items()];
    ds.interactions.iter().filter(|x| x.is_positive()).for_each(|x| has_pos[x.item.idx()] = true);
    let draw = |item: u32| fuserec_offline::udf::unit_hash(job.seed, ds.items.raw(item));
    let kind = |item: u32| match (has_pos[item as usize], draw(item)) {
        (true, u) if u < 0.2 => "cold",
        (true, u) if u < 0.3 => "cold_val",
        _ => "warm",
    };
    let cold = (0..ds.n_items() as u32).filter(|&i| kind(i) == "cold").count() as f64 / has_pos.iter().filter(|&&h| h).count() as f64;
    assert!((0.12..0.28).contains(&cold), "cold share {cold} near 0.2");
    // The warm rule: fuserec_data's per-user split on the same warm rows (ties by raw id, as the plan).
    let mut warm: Vec<Interaction> = ds.interactions.iter().copied().filter(|x| kind(x.item.0) == "warm").collect();
    warm.sort_by(|a, b| (a.ts, ds.items.raw(a.item.0)).cmp(&(b.ts, ds.items.raw(b.item.0))));
    let rank: HashMap<u32, usize> = {
        let mut raw: Vec<(String, u32)> = (0..ds.n_items() as u32).map(|i| (ds.items.raw(i).to_string(), i)).collect();
        raw.sort();
        raw.into_iter().enumerate().map(|(r, (_, i))| (i, r)).collect()
    };
    // per_user_by_time orders by (ts, internal id): give it ids in raw order.
    let relabel: Vec<Interaction> = warm.iter().map(|x| Interaction { item: fuserec_core::ItemId(rank[&x.item.0] as u32), ..*x }).collect();
    let (tr, va, te) = fuserec_data::per_user_by_time(&relabel, ds.n_users(), job.val_fraction, job.test_fraction);
    let by_rank: HashMap<usize, u32> = rank.iter().map(|(&i, &r)| (r, i)).collect();
    let key = |x: &Interaction| (ds.users.raw(x.user.0).to_string(), ds.items.raw(by_rank[&x.item.idx()]).to_string(), x.ts);
    for (xs, want) in [(&tr, "train"), (&va, "val"), (&te, "test_warm")] {
        for x in xs {
            assert!(part_of[&key(x)].contains(&want.to_string()), "{key:?} should be {want}", key = key(x));
        }
    }
    for x in ds.interactions.iter().filter(|x| kind(x.item.0) != "warm") {
        let k = (ds.users.raw(x.user.0).to_string(), ds.items.raw(x.item.0).to_string(), x.ts);
        let want = if kind(x.item.0) == "cold" { "test_cold" } else { "val" };
        assert!(part_of[&k].iter().all(|p| p == want), "{k:?} should be {want}");
    }
    assert!(!te.is_empty() && !va.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_codes_and_top_k_match_the_crates() {
    let (dir, ds) = world();
    let off = Offline::embedded(2);
    off.register_parquet("items", &dir.join("items.parquet")).await.unwrap();
    let job = EncodeJob { text: Some("hashed-ngram".into()), image: Some("color-hist".into()), image_root: dir.clone() };
    let cols: Vec<String> = off.session().table("items").await.unwrap().schema().fields().iter().map(|f| f.name().to_lowercase()).collect();
    let out = dir.join("vectors.parquet");
    let n = off.write(off.run(&job.sql(&cols).unwrap()).await.unwrap(), &out).await.unwrap();
    assert_eq!(n as usize, ds.n_items());
    // Read back and compare with the encoders in process.
    let back = Offline::embedded(2);
    back.register_parquet("vectors", &out).await.unwrap();
    let batches = back.collect(back.run("SELECT * FROM vectors").await.unwrap()).await.unwrap();
    let text_enc = fuserec_recall::features::text_encoder("hashed-ngram", Path::new(".")).unwrap();
    let img_enc = fuserec_recall::features::image_encoder("color-hist").unwrap();
    let mut all_text = Vec::new();
    let mut ids = Vec::new();
    for b in &batches {
        let (items, text, image) = (strs(b, "item"), vectors(b, "text"), vectors(b, "image"));
        for r in 0..b.num_rows() {
            let meta = &ds.items_meta[ds.items.get(&items[r]).unwrap() as usize];
            let want = text_enc.encode(&[meta.text().as_str()]).unwrap();
            let got = text[r].as_ref().unwrap();
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.row(0).iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "text of {}",
                items[r]
            );
            let img = fuserec_data::open_image(meta.image.as_deref()).unwrap();
            let want = img_enc.encode(&[img]).unwrap();
            assert_eq!(image[r].as_deref().unwrap(), want.row(0), "image of {}", items[r]);
            all_text.extend_from_slice(got);
            ids.push(items[r].clone());
        }
    }
    // Cluster codes from a saved tree, as `cargo xtask quantize` writes it.
    let dim = text_enc.dim();
    let x = Embeddings::from_vec(ids.len(), dim, all_text.clone()).unwrap();
    let tree =
        fuserec_quant::HierarchicalKMeans::fit(&x, &fuserec_quant::TreeConfig { branching: 4, depth: 2, ..Default::default() }).unwrap();
    let qpath = dir.join("tree.safetensors");
    fuserec_quant::save(fuserec_quant::Saved::Tree(&tree), &qpath).unwrap();
    let want = fuserec_quant::Quantizer::encode(&tree, &x).unwrap();
    let batches = back.collect(back.run(&codes_sql(qpath.to_str().unwrap(), "text")).await.unwrap()).await.unwrap();
    let mut row_of: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    let mut checked = 0;
    for b in &batches {
        let items = strs(b, "item");
        let codes = b.column_by_name("codes").unwrap().as_fixed_size_list();
        for r in 0..b.num_rows() {
            let got: Vec<u32> = codes.value(r).as_primitive::<UInt32Type>().values().to_vec();
            let i = row_of[items[r].as_str()];
            assert_eq!(got, vec![want.get(i, 0), want.get(i, 1)], "codes of {}", items[r]);
            checked += 1;
        }
    }
    assert_eq!(checked, ids.len());
    row_of.clear();
    // Top-K of a few queries (the first items' own text vectors) against the text vectors.
    let items_file = dir.join("item_vectors.parquet");
    write_table(
        &items_file,
        vec![OutColumn::Text("item".into(), ids.clone()), OutColumn::Vectors("vector".into(), dim, all_text.clone())],
        1000,
    )
    .unwrap();
    let queries_file = dir.join("queries.parquet");
    let nq = 7;
    write_table(
        &queries_file,
        vec![
            OutColumn::Text("user".into(), (0..nq).map(|q| format!("q{q}")).collect()),
            OutColumn::Vectors("vector".into(), dim, all_text[..nq * dim].to_vec()),
        ],
        1000,
    )
    .unwrap();
    back.register_parquet("queries", &queries_file).await.unwrap();
    let k = 5;
    let job = TopKJob { k, items_file: items_file.to_str().unwrap().into() };
    let batches = back.collect(back.run(&job.sql("\"user\"", "vector")).await.unwrap()).await.unwrap();
    let index = fuserec_index::ExactIndex::new(x);
    let q = Embeddings::from_vec(nq, dim, all_text[..nq * dim].to_vec()).unwrap();
    let want = fuserec_index::VectorIndex::search_batch(&index, &q, k, None).unwrap();
    let mut got: Vec<(String, i32, String, f32)> = Vec::new();
    for b in &batches {
        let (qs, items, scores) = (strs(b, "query"), strs(b, "item"), f32s(b, "score"));
        let ranks = b.column_by_name("rank").unwrap().as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        for r in 0..b.num_rows() {
            got.push((qs[r].clone(), ranks.value(r), items[r].clone(), scores[r]));
        }
    }
    assert_eq!(got.len(), nq * k);
    for (qi, list) in want.iter().enumerate() {
        for (r, &(item, score)) in list.iter().enumerate() {
            let g = got.iter().find(|g| g.0 == format!("q{qi}") && g.1 == r as i32 + 1).unwrap();
            assert_eq!((g.2.as_str(), g.3.to_bits()), (ids[item as usize].as_str(), score.to_bits()), "query {qi} rank {}", r + 1);
        }
        assert_eq!(list[0].0 as usize, qi, "an item's own vector ranks it first");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_named() {
    let dir = scratch("bad");
    let off = Offline::embedded(1);
    // Not Parquet at all.
    let corrupt = dir.join("interactions.parquet");
    std::fs::write(&corrupt, b"PAR1 this is not a parquet file").unwrap();
    let e = off.register_log("log", &corrupt).await.unwrap_err().to_string();
    assert!(e.contains("interactions.parquet"), "{e}");
    // Missing file.
    let e = off.register_log("log2", &dir.join("none.parquet")).await.unwrap_err().to_string();
    assert!(e.contains("none.parquet") && e.contains("no such file"), "{e}");
    // Missing column.
    let p = dir.join("nolabel.parquet");
    write_table(
        &p,
        vec![
            OutColumn::Text("user".into(), vec!["u".into()]),
            OutColumn::Text("item".into(), vec!["i".into()]),
            OutColumn::Int("timestamp".into(), vec![1]),
        ],
        10,
    )
    .unwrap();
    let e = off.register_log("log3", &p).await.unwrap_err().to_string();
    assert!(e.contains("no `label` column"), "{e}");
    // Unknown backbone: named at planning time.
    let items = dir.join("items.parquet");
    write_table(&items, vec![OutColumn::Text("item".into(), vec!["a".into()]), OutColumn::Text("title".into(), vec!["x".into()])], 10)
        .unwrap();
    off.register_parquet("items", &items).await.unwrap();
    let job = EncodeJob { text: Some("word2vec".into()), ..Default::default() };
    let e = match off.run(&job.sql(&["item".into(), "title".into()]).unwrap()).await {
        Ok(df) => off.collect(df).await.unwrap_err().to_string(),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("word2vec"), "{e}");
    // Bad split settings.
    assert!(SplitJob { cold_fraction: 1.2, ..Default::default() }.validate().is_err());
    // A failed write leaves no output file behind.
    let off2 = Offline::embedded(1);
    off2.register_parquet("items", &items).await.unwrap();
    let out = dir.join("out.parquet");
    let q = "SELECT fuserec_codes('/nonexistent/q.safetensors', arrow_cast(make_array(1.0), 'FixedSizeList(1, Float32)')) FROM items";
    let e = off2.run(q).await.unwrap_err().to_string();
    assert!(e.contains("/nonexistent/q.safetensors"), "{e}");
    // A NaN query fails while the plan runs: the error says so and nothing is left behind.
    let vecs = dir.join("vecs.parquet");
    write_table(
        &vecs,
        vec![OutColumn::Text("item".into(), vec!["a".into(), "b".into()]), OutColumn::Vectors("vector".into(), 1, vec![1.0, 2.0])],
        10,
    )
    .unwrap();
    let q = format!(
        "SELECT fuserec_topk('{}', arrow_cast(make_array(CASE WHEN item = 'a' THEN CAST('NaN' AS FLOAT) ELSE 1.0 END), 'FixedSizeList(1, Float32)'), 1) FROM items",
        vecs.display()
    );
    let e = off2.write(off2.run(&q).await.unwrap(), &out).await.unwrap_err().to_string();
    assert!(e.contains("non-finite") && e.contains("out.parquet"), "{e}");
    assert!(!out.exists() && !out.with_extension("parquet.partial").exists());
}
