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

/// An offline session: embedded (an in-process `SessionContext`, the default) with fuserec's
/// user-defined functions registered ([`crate::udf`]).
pub struct Offline {
    ctx: SessionContext,
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
        Offline { ctx }
    }

    /// The DataFusion session (to register more tables or run plans of one's own).
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers a Parquet file (or a folder of them) as table `raw_name`.
    pub async fn register_parquet(&self, raw_name: &str, path: &Path) -> Result<()> {
        let p = path.to_str().ok_or_else(|| OfflineError::Invalid(format!("{}: path is not UTF-8", path.display())))?;
        if !path.exists() {
            return Err(OfflineError::Invalid(format!("{}: no such file or folder", path.display())));
        }
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
        let tmp = out.with_extension("parquet.partial");
        let _ = std::fs::remove_file(&tmp);
        let t = tmp.to_str().ok_or_else(|| OfflineError::Invalid(format!("{}: path is not UTF-8", out.display())))?;
        let opts = DataFrameWriteOptions::new().with_single_file_output(true);
        let r = df.write_parquet(t, opts, None).await;
        let batches = match r {
            Ok(b) => b,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(OfflineError::Engine { context: format!("writing {}", out.display()), source: e });
            }
        };
        std::fs::rename(&tmp, out).map_err(|e| OfflineError::Invalid(format!("{}: {e}", out.display())))?;
        Ok(count(&batches))
    }

    /// Runs `df` and returns its rows.
    pub async fn collect(&self, df: DataFrame) -> Result<Vec<RecordBatch>> {
        df.collect().await.context(|| "running the plan".into())
    }
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
