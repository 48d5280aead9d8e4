//! Wall time of the offline plans (embedded DataFusion) against fuserec's in-process code on one
//! dataset folder, with a checksum of both outputs (they must agree):
//! `cargo run --release -p fuserec-offline --example scale -- DIR [--partitions N] [--history 100]`.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float32Type, Int64Type};
use fuserec_data::{CtrPrior, LoadOptions, PosteriorStats, clicks_by_user, load_dir};
use fuserec_offline::{Offline, StatsJob};
use std::path::PathBuf;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().expect("usage: scale DIR [--partitions N] [--history N]"));
    let opt =
        |k: &str, d: usize| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).map_or(d, |v| v.parse().expect("a number"));
    let (partitions, cap) = (opt("--partitions", 0), opt("--history", 100));
    let log = dir.join("interactions.parquet");

    // In process: load, statistics of every positive, per-user histories.
    let t = Instant::now();
    let ds = load_dir(&dir, &LoadOptions::default()).expect("load");
    let t_load = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut first = vec![None::<i64>; ds.n_items()];
    for x in &ds.interactions {
        let f = &mut first[x.item.idx()];
        *f = Some(f.map_or(x.ts, |v| v.min(x.ts)));
    }
    let st = PosteriorStats::new(&ds.interactions, first, CtrPrior::default());
    let (mut ex, mut cl, mut bits) = (0u64, 0u64, 0u64);
    for x in ds.interactions.iter().filter(|x| x.is_positive()) {
        let s = st.at(x.item.idx(), x.ts);
        ex += s.exposures as u64;
        cl += s.clicks as u64;
        bits = bits.wrapping_add(s.smoothed_ctr.to_bits() as u64 + s.age_days.to_bits() as u64);
    }
    let t_stats = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let timeline = clicks_by_user(ds.n_users(), &[&ds.interactions]).expect("timeline");
    let hist_len: u64 = timeline.iter().flat_map(|ev| (0..ev.len()).map(|k| k.min(cap) as u64)).sum();
    let t_samples = t.elapsed().as_secs_f64();
    let inproc = (ex, cl, bits, hist_len);

    // The plans, embedded.
    let off = Offline::embedded(partitions);
    off.register_log("log", &log).await.expect("register");
    let t = Instant::now();
    let sql = StatsJob::default().sql("log", "(SELECT * FROM log WHERE label > 0.5)");
    let b = off.collect(off.run(&sql).await.unwrap()).await.unwrap();
    let (mut ex, mut cl, mut bits) = (0u64, 0u64, 0u64);
    for b in &b {
        let e = b.column_by_name("exposures").unwrap().as_primitive::<Int64Type>();
        let c = b.column_by_name("clicks").unwrap().as_primitive::<Int64Type>();
        let r = b.column_by_name("smoothed_ctr").unwrap().as_primitive::<Float32Type>();
        let a = b.column_by_name("age_days").unwrap().as_primitive::<Float32Type>();
        for i in 0..b.num_rows() {
            ex += e.value(i) as u64;
            cl += c.value(i) as u64;
            bits = bits.wrapping_add(r.value(i).to_bits() as u64 + a.value(i).to_bits() as u64);
        }
    }
    let d_stats = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let out = std::env::temp_dir().join(format!("fuserec-offline-scale-{}.parquet", std::process::id()));
    let rows = off.write(off.run(&StatsJob::default().samples_sql("log", cap)).await.unwrap(), &out).await.unwrap();
    let d_samples = t.elapsed().as_secs_f64();
    let chk = Offline::embedded(partitions);
    chk.register_parquet("s", &out).await.unwrap();
    let b = chk.collect(chk.run("SELECT SUM(array_length(history)) AS n FROM s").await.unwrap()).await.unwrap();
    let c = b[0].column(0);
    let hist_len = if c.is_null(0) {
        0
    } else {
        datafusion::arrow::compute::cast(c, &datafusion::arrow::datatypes::DataType::Int64).unwrap().as_primitive::<Int64Type>().value(0)
            as u64
    };
    let _ = std::fs::remove_file(&out);
    let plan = (ex, cl, bits, hist_len);

    println!(
        "{} interactions, {} positives, {} users, {} items; history cap {cap}",
        ds.interactions.len(),
        ds.n_positives(),
        ds.n_users(),
        ds.n_items()
    );
    println!("| step | in process (s) | DataFusion embedded (s) |");
    println!("|---|---|---|");
    println!("| load | {t_load:.2} | (reads Parquet inside each plan) |");
    println!("| statistics of every positive | {t_stats:.2} | {d_stats:.2} |");
    println!("| samples with histories (plan: written to Parquet, {rows} rows) | {t_samples:.2} (timeline only) | {d_samples:.2} |");
    println!("checksums (exposures, clicks, f32 bits, history entries): in process {inproc:?}, plan {plan:?}");
    assert_eq!(inproc, plan, "the plan and the in-process code disagree");
    println!("equal");
}
