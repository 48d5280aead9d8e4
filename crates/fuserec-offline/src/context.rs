//! The session every offline job runs in: a DataFusion `SessionContext` with fuserec's functions
//! registered and the input tables normalised to fuserec's column names.

use datafusion::arrow::array::RecordBatch;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionConfig, SessionContext};
use std::path::Path;

/// What can go wrong in an offline job: the engine's error (with the file it read) or ours.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// DataFusion refused a plan or failed while running it.
    #[error("{context}: {source}")]
    Engine {
        /// What the job was doing (names the file or table).
        context: String,
        /// The engine's error.
        #[source]
        source: datafusion::error::DataFusionError,
    },
    /// An input or a setting fuserec rejects, with the reason.
    #[error("{0}")]
    Invalid(String),
}

/// Result of an offline job.
pub type Result<T> = std::result::Result<T, OfflineError>;

pub(crate) trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, datafusion::error::DataFusionError> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| OfflineError::Engine { context: what(), source })
    }
}

const DEFAULT_STALL: std::time::Duration = std::time::Duration::from_secs(600);

/// An offline session: embedded (an in-process `SessionContext`, the default) with fuserec's
/// user-defined functions registered ([`crate::udf`]).
pub struct Offline {
    ctx: SessionContext,
    /// `df://HOST:PORT` of the Ballista scheduler, when the plans run on a cluster.
    cluster: Option<String>,
    /// A cluster job showing no progress this long is abandoned.
    stall: std::time::Duration,
}

impl Offline {
    /// An embedded session using `partitions` threads for every stage (0: one per core).
    pub fn embedded(partitions: usize) -> Self {
        let mut cfg = SessionConfig::new();
        if partitions > 0 {
            cfg = cfg.with_target_partitions(partitions);
        }
        let ctx = SessionContext::new_with_config(cfg);
        crate::udf::register_all(&ctx);
        Offline { ctx, cluster: None, stall: DEFAULT_STALL }
    }

    /// A session whose plans run on a Ballista cluster (`df://HOST:PORT`, its scheduler; the
    /// executors must register fuserec's functions: the `fuserec-cluster` binary does), with
    /// `partitions` per stage (0: the engine's default). Inputs and outputs are paths every
    /// executor can read and write (one machine, or a shared file system).
    #[cfg(feature = "cluster")]
    pub async fn remote(url: &str, partitions: usize) -> Result<Self> {
        use ballista::prelude::{SessionConfigExt, SessionContextExt};
        use datafusion::execution::SessionStateBuilder;
        if !url.starts_with("df://") {
            return Err(OfflineError::Invalid(format!("--cluster {url}: expected df://HOST:PORT (the Ballista scheduler)")));
        }
        crate::progress::reachable(url)?;
        let mut cfg = SessionConfig::new_with_ballista().with_ballista_job_name("fuserec-offline");
        // Ballista 55's executors panic deserialising a sort's dynamic filter ("topk_emitter_count
        // > 0"), and the job then never ends: plan without dynamic filters (the scheduler does too).
        cfg.options_mut().optimizer.enable_dynamic_filter_pushdown = false;
        if partitions > 0 {
            cfg = cfg.with_target_partitions(partitions);
        }
        let state = SessionStateBuilder::new().with_config(cfg).with_default_features().build();
        let ctx = SessionContext::remote_with_state(url, state).await.context(|| format!("connecting to the cluster at {url}"))?;
        crate::udf::register_all(&ctx);
        Ok(Offline { ctx, cluster: Some(url.to_string()), stall: DEFAULT_STALL })
    }

    /// The scheduler's `df://HOST:PORT` when the plans run on a cluster.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// The DataFusion session (to register more tables or run plans of one's own).
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers a Parquet file (or a folder of them) as table `raw_name`.
    pub async fn register_parquet(&self, raw_name: &str, path: &Path) -> Result<()> {
        if !path.exists() {
            return Err(OfflineError::Invalid(format!("{}: no such file or folder", path.display())));
        }
        check_footers(path)?;
        // Absolute: executors resolve it in their own working directories.
        let abs = absolute(path)?;
        let p = abs.to_str().ok_or_else(|| OfflineError::Invalid(format!("{}: path is not UTF-8", path.display())))?;
        self.ctx
            .register_parquet(raw_name, p, ParquetReadOptions::default())
            .await
            .context(|| format!("{}: cannot read as Parquet", path.display()))
    }

    /// Registers an interaction log (columns `user`, `item`, `timestamp`, `label`, as fuserec's
    /// loaders read them; ids strings or integers) as view `name` with columns
    /// `user` (string), `item` (string), `ts` (i64 seconds) and `label` (f64).
    pub async fn register_log(&self, name: &str, path: &Path) -> Result<()> {
        let raw = format!("{name}__raw");
        self.register_parquet(&raw, path).await?;
        let schema = self.ctx.table(raw.as_str()).await.context(|| format!("{}: reading the schema", path.display()))?.schema().clone();
        for col in ["user", "item", "timestamp", "label"] {
            if schema.field_with_unqualified_name(col).is_err() {
                let have: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
                return Err(OfflineError::Invalid(format!(
                    "{}: no `{col}` column (an interaction log needs user, item, timestamp, label; it has {})",
                    path.display(),
                    have.join(", ")
                )));
            }
        }
        let q = format!(
            "CREATE VIEW {name} AS SELECT CAST(\"user\" AS VARCHAR) AS \"user\", CAST(item AS VARCHAR) AS item, \
             CAST(\"timestamp\" AS BIGINT) AS ts, CAST(label AS DOUBLE) AS label FROM {raw}"
        );
        self.run(&q).await?.collect().await.context(|| format!("{}: registering view {name}", path.display()))?;
        Ok(())
    }

    /// Plans `sql`.
    pub async fn run(&self, sql: &str) -> Result<DataFrame> {
        self.ctx.sql(sql).await.context(|| format!("planning `{}`", first_line(sql)))
    }

    /// Runs `df` and writes it as one Parquet file at `out` (written under a temporary name and
    /// renamed, so a failed job leaves no partial output); returns the rows written.
    pub async fn write(&self, df: DataFrame, out: &Path) -> Result<u64> {
        let out = &absolute(out)?;
        let tmp = out.with_extension("parquet.partial");
        let _ = std::fs::remove_file(&tmp);
        let t = tmp.to_str().ok_or_else(|| OfflineError::Invalid(format!("{}: path is not UTF-8", out.display())))?;
        let opts = DataFrameWriteOptions::new().with_single_file_output(true);
        let r = self.guarded(df.write_parquet(t, opts, None), || format!("writing {}", out.display())).await;
        let batches = match r {
            Ok(b) => b,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        std::fs::rename(&tmp, out).map_err(|e| OfflineError::Invalid(format!("{}: {e}", out.display())))?;
        Ok(count(&batches))
    }

    /// Runs `df` and returns its rows.
    pub async fn collect(&self, df: DataFrame) -> Result<Vec<RecordBatch>> {
        self.guarded(df.collect(), || "running the plan".into()).await
    }

    /// Runs `job`; on a cluster with its progress shown, and abandoned with an error when the
    /// scheduler reports no progress for [`Offline::stall`] (Ballista 55 can wait forever for
    /// an executor that died mid-job).
    async fn guarded<T>(
        &self,
        job: impl std::future::Future<Output = datafusion::error::Result<T>>,
        what: impl FnOnce() -> String,
    ) -> Result<T> {
        let Some(watch) = self.watch() else { return job.await.context(what) };
        let stall = self.stall;
        tokio::select! {
            r = job => r.context(what),
            () = watch.stalled(stall) => Err(OfflineError::Invalid(format!(
                "{}: the cluster job made no progress for {} s (an executor lost mid-job?); abandoned, nothing written",
                what(),
                stall.as_secs()
            ))),
        }
    }

    /// How long a cluster job may show no progress before it is abandoned (default 10 min).
    pub fn with_stall(mut self, stall: std::time::Duration) -> Self {
        self.stall = stall;
        self
    }

    /// On a cluster: the job's stages, tasks and rows on stderr while it runs (until dropped).
    fn watch(&self) -> Option<Watch> {
        #[cfg(feature = "cluster")]
        return self.cluster.as_deref().map(Watch::start);
        #[cfg(not(feature = "cluster"))]
        None
    }
}

#[cfg(feature = "cluster")]
use crate::progress::Watch;
/// Without a cluster there is nothing to watch.
#[cfg(not(feature = "cluster"))]
struct Watch;
#[cfg(not(feature = "cluster"))]
impl Watch {
    async fn stalled(&self, _: std::time::Duration) {
        std::future::pending().await
    }
}

/// The footer of `path` (or of every `.parquet` file in the folder) is a Parquet footer whose
/// metadata fits in the file. The Parquet reader trusts that length (and panics subtracting in a
/// debug build, or reads a wrapped range in release), so a file that lies is refused here.
fn check_footers(path: &Path) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        let rd = std::fs::read_dir(path).map_err(|e| OfflineError::Invalid(format!("{}: {e}", path.display())))?;
        rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "parquet")).collect()
    } else {
        vec![path.to_path_buf()]
    };
    for f in files {
        let bad = |why: String| OfflineError::Invalid(format!("{}: not a Parquet file ({why})", f.display()));
        let mut h = std::fs::File::open(&f).map_err(|e| bad(e.to_string()))?;
        let len = h.metadata().map_err(|e| bad(e.to_string()))?.len();
        if len < 12 {
            return Err(bad(format!("{len} bytes")));
        }
        let mut tail = [0u8; 8];
        h.seek(SeekFrom::End(-8)).and_then(|_| h.read_exact(&mut tail)).map_err(|e| bad(e.to_string()))?;
        if &tail[4..] != b"PAR1" {
            return Err(bad("no PAR1 footer".into()));
        }
        let meta = u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")) as u64;
        if meta > len - 12 {
            return Err(bad(format!("its footer claims {meta} bytes of metadata in a {len}-byte file")));
        }
    }
    Ok(())
}

/// `path` made absolute against the working directory (it need not exist yet).
pub(crate) fn absolute(path: &Path) -> Result<std::path::PathBuf> {
    std::path::absolute(path).map_err(|e| OfflineError::Invalid(format!("{}: {e}", path.display())))
}

/// The `count` column DataFusion's writers return.
fn count(batches: &[RecordBatch]) -> u64 {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::UInt64Type;
    batches.iter().filter(|b| b.num_columns() > 0).map(|b| b.column(0).as_primitive::<UInt64Type>().iter().flatten().sum::<u64>()).sum()
}

fn first_line(s: &str) -> String {
    let l = s.trim().lines().next().unwrap_or("");
    if l.len() > 80 { format!("{}…", &l[..l.floor_char_boundary(80)]) } else { l.to_string() }
}
