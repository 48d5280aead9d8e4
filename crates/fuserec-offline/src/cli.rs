//! The `fuserec-offline` command line: one job per call, embedded or on a cluster (`--cluster`).

use crate::{EncodeJob, Offline, OfflineError, SplitJob, StatsJob, TopKJob, codes_sql};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `fuserec-offline --help`.
pub const HELP: &str = "\
fuserec-offline <job> [options]      offline jobs as DataFusion plans over Parquet (embedded)

jobs:
  stats   --log FILE [--at FILE] --out FILE
          posterior statistics (exposures, clicks, smoothed CTR, age in days) of each row of
          --at (default: the log's positives) from the log's events strictly before it
  samples --log FILE [--history 100] --out FILE
          training samples: one per positive, the user's earlier positives (most recent N) and
          the item's statistics as of the sample's time
  split   --log FILE --out DIR [--cold 0.2] [--cold-val 0] [--val 0.1] [--test 0.1] [--seed 1]
          item cold start (cold items drawn by a stable hash of their id) with a per-user
          temporal warm split; writes DIR/{train,val,test_warm,test_cold}.parquet, a pre-split
          dataset folder once items.parquet is beside them
  encode  --items FILE [--text hashed-ngram|minilm] [--image color-hist|efficientnet-lite0] --out FILE
          item vectors (item, text, image); image paths are relative to the items file's folder
  codes   --vectors FILE [--column vector] --quantizer FILE --out FILE
          cluster codes per item from a quantizer saved by `fuserec quantize`
  topk    --queries FILE [--id user] [--column vector] --items FILE [--k 100] --out FILE
          exact top-K items by inner product for each query row (query, rank, item, score)

options:
  --partitions N          parallel partitions per stage (default: one per core)
  --cluster df://HOST:PORT  run the plans on a Ballista cluster (`cargo xtask cluster up`
                          starts one on loopback); outputs equal the embedded run's
  --stall-secs S          abandon a cluster job that shows no progress for S s [600]

The interaction log has columns user, item, timestamp, label (ids strings or integers).
";

/// `--key value` pairs after the job name; an unknown key or a missing value is an error.
fn options(args: &[String], known: &[&str]) -> Result<HashMap<String, String>, OfflineError> {
    let mut m = HashMap::new();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let key = k.strip_prefix("--").filter(|k| known.contains(k) || ["partitions", "cluster", "stall-secs"].contains(k));
        let key = key.ok_or_else(|| OfflineError::Invalid(format!("unknown option `{k}` (options: --{})", known.join(", --"))))?;
        let v = it.next().ok_or_else(|| OfflineError::Invalid(format!("--{key} needs a value")))?;
        m.insert(key.to_string(), v.clone());
    }
    Ok(m)
}

fn need<'a>(o: &'a HashMap<String, String>, k: &str) -> Result<&'a str, OfflineError> {
    o.get(k).map(String::as_str).ok_or_else(|| OfflineError::Invalid(format!("--{k} is required")))
}

fn num<T: std::str::FromStr>(o: &HashMap<String, String>, k: &str, default: T) -> Result<T, OfflineError> {
    match o.get(k) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| OfflineError::Invalid(format!("--{k}: `{v}` is not a number"))),
    }
}

/// Runs one job: `args` are the command line after the program name (`stats --log … --out …`).
pub async fn run(args: &[String]) -> Result<(), OfflineError> {
    if args.is_empty() {
        return Err(OfflineError::Invalid(format!("name a job\n\n{HELP}")));
    }
    let (job, rest) = (args[0].as_str(), &args[1..]);
    let known: &[&str] = match job {
        "stats" => &["log", "at", "out"],
        "samples" => &["log", "history", "out"],
        "split" => &["log", "out", "cold", "cold-val", "val", "test", "seed"],
        "encode" => &["items", "text", "image", "out"],
        "codes" => &["vectors", "column", "quantizer", "out"],
        "topk" => &["queries", "id", "column", "items", "k", "out"],
        _ => return Err(OfflineError::Invalid(format!("unknown job `{job}` (see --help)"))),
    };
    let o = options(rest, known)?;
    let off = match o.get("cluster") {
        None => Offline::embedded(num(&o, "partitions", 0)?),
        #[cfg(feature = "cluster")]
        Some(url) => {
            Offline::remote(url, num(&o, "partitions", 0)?).await?.with_stall(std::time::Duration::from_secs(num(&o, "stall-secs", 600)?))
        }
        #[cfg(not(feature = "cluster"))]
        Some(_) => return Err(OfflineError::Invalid("--cluster: this build has no Ballista client (feature `cluster`)".into())),
    };
    let t0 = Instant::now();
    let out = PathBuf::from(need(&o, "out")?);
    match job {
        "stats" => {
            off.register_log("log", Path::new(need(&o, "log")?)).await?;
            let at = match o.get("at") {
                Some(p) => {
                    off.register_log("at_rows", Path::new(p)).await?;
                    "at_rows".to_string()
                }
                None => "(SELECT * FROM log WHERE label > 0.5)".to_string(),
            };
            report(job, &out, off.write(off.run(&StatsJob::default().sql("log", &at)).await?, &out).await?, t0);
        }
        "samples" => {
            off.register_log("log", Path::new(need(&o, "log")?)).await?;
            let cap: usize = num(&o, "history", 100)?;
            if cap == 0 {
                return Err(OfflineError::Invalid("--history must be ≥ 1".into()));
            }
            report(job, &out, off.write(off.run(&StatsJob::default().samples_sql("log", cap)).await?, &out).await?, t0);
        }
        "split" => {
            off.register_log("log", Path::new(need(&o, "log")?)).await?;
            let d = SplitJob::default();
            let s = SplitJob {
                cold_fraction: num(&o, "cold", d.cold_fraction)?,
                cold_val_fraction: num(&o, "cold-val", d.cold_val_fraction)?,
                val_fraction: num(&o, "val", d.val_fraction)?,
                test_fraction: num(&o, "test", d.test_fraction)?,
                seed: num(&o, "seed", d.seed)?,
            };
            s.validate()?;
            std::fs::create_dir_all(&out).map_err(|e| OfflineError::Invalid(format!("{}: {e}", out.display())))?;
            // The labelled rows come back once (from the engine or the cluster); the four files
            // are cut from them here.
            let plan = off.run(&s.sql("log")).await?;
            let schema = plan.schema().inner().clone();
            let all = off.collect(plan).await?;
            let local = Offline::embedded(1);
            let mem = datafusion::datasource::MemTable::try_new(schema, vec![all])
                .map_err(|e| OfflineError::Engine { context: "splitting".into(), source: e })?;
            local
                .session()
                .register_table("parts", std::sync::Arc::new(mem))
                .map_err(|e| OfflineError::Engine { context: "splitting".into(), source: e })?;
            for part in ["train", "val", "test_warm", "test_cold"] {
                let q = format!(
                    "SELECT \"user\", item, ts AS \"timestamp\", label FROM parts WHERE part = '{part}' ORDER BY \"user\", ts, item"
                );
                let f = out.join(format!("{part}.parquet"));
                report(&format!("split {part}"), &f, local.write(local.run(&q).await?, &f).await?, t0);
            }
        }
        "encode" => {
            let items = abs(need(&o, "items")?)?;
            off.register_parquet("items", &items).await?;
            let cols = columns(&off, "items").await?;
            let root = items.parent().unwrap_or(Path::new(".")).to_path_buf();
            let e = EncodeJob { text: o.get("text").cloned(), image: o.get("image").cloned(), image_root: root };
            let n = off.write(off.run(&e.sql(&cols)?).await?, &out).await?;
            report(job, &out, n, t0);
            if e.image.is_some() {
                let chk = Offline::embedded(1);
                chk.register_parquet("v", &out).await?;
                let df = chk.run("SELECT item FROM v WHERE image IS NULL ORDER BY item").await?;
                let missing = chk.collect(df).await?;
                let n: usize = missing.iter().map(|b| b.num_rows()).sum();
                if n > 0 {
                    let first = datafusion_first(&missing);
                    eprintln!("warning: {n} item(s) have no readable image (null image vector), first: {first}");
                }
            }
        }
        "codes" => {
            off.register_parquet("vectors", Path::new(need(&o, "vectors")?)).await?;
            let col = o.get("column").map_or("vector", String::as_str);
            let q = abs(need(&o, "quantizer")?)?;
            let q = q.to_str().ok_or_else(|| OfflineError::Invalid("--quantizer: path is not UTF-8".into()))?;
            report(job, &out, off.write(off.run(&codes_sql(q, &quote_ident(col))).await?, &out).await?, t0);
        }
        "topk" => {
            off.register_parquet("queries", Path::new(need(&o, "queries")?)).await?;
            // Absolute: the executors open it from their own working directories.
            let items_file =
                abs(need(&o, "items")?)?.to_str().ok_or_else(|| OfflineError::Invalid("--items: path is not UTF-8".into()))?.to_string();
            let job_cfg = TopKJob { k: num(&o, "k", 100)?, items_file };
            if job_cfg.k == 0 {
                return Err(OfflineError::Invalid("--k must be ≥ 1".into()));
            }
            let (id, col) = (o.get("id").map_or("user", String::as_str), o.get("column").map_or("vector", String::as_str));
            report(job, &out, off.write(off.run(&job_cfg.sql(&quote_ident(id), &quote_ident(col))).await?, &out).await?, t0);
        }
        _ => unreachable!("checked above"),
    }
    Ok(())
}

fn abs(p: &str) -> Result<PathBuf, OfflineError> {
    std::path::absolute(p).map_err(|e| OfflineError::Invalid(format!("{p}: {e}")))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

async fn columns(off: &Offline, table: &str) -> Result<Vec<String>, OfflineError> {
    let t = off.session().table(table).await.map_err(|e| OfflineError::Engine { context: table.into(), source: e })?;
    Ok(t.schema().fields().iter().map(|f| f.name().to_lowercase()).collect())
}

fn datafusion_first(b: &[datafusion::arrow::array::RecordBatch]) -> String {
    use datafusion::arrow::util::display::array_value_to_string;
    b.iter().find(|b| b.num_rows() > 0).and_then(|b| array_value_to_string(b.column(0), 0).ok()).unwrap_or_default()
}

fn report(job: &str, out: &Path, rows: u64, t0: Instant) {
    eprintln!("{job}: {rows} rows → {} ({:.2} s)", out.display(), t0.elapsed().as_secs_f64());
}
