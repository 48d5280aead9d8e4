//! A Parquet file's content independent of its row order, to compare an embedded run's output
//! with a cluster's: every row as text (floats in their shortest round-trip form, so equal text
//! is equal bits), sorted.

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use fuserec_offline::{Offline, OfflineError};
use std::path::Path;

/// The rows of `path`, each as `col | col | …`, sorted.
pub async fn sorted_rows(path: &Path) -> Result<Vec<String>, OfflineError> {
    let off = Offline::embedded(1);
    off.register_parquet("t", path).await?;
    let batches = off.collect(off.run("SELECT * FROM t").await?).await?;
    let opts = FormatOptions::default().with_null("∅");
    let mut out = Vec::new();
    for b in &batches {
        let f: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<_, _>>()
            .map_err(|e| OfflineError::Invalid(format!("{}: {e}", path.display())))?;
        for r in 0..b.num_rows() {
            out.push(f.iter().map(|f| f.value(r).to_string()).collect::<Vec<_>>().join(" | "));
        }
    }
    out.sort();
    Ok(out)
}

/// `Ok` when `a` and `b` hold the same rows (any order); otherwise the first difference.
pub async fn same_rows(a: &Path, b: &Path) -> Result<usize, String> {
    let (x, y) = (sorted_rows(a).await.map_err(|e| e.to_string())?, sorted_rows(b).await.map_err(|e| e.to_string())?);
    if x.len() != y.len() {
        return Err(format!("{}: {} rows, {}: {} rows", a.display(), x.len(), b.display(), y.len()));
    }
    match (0..x.len()).find(|&i| x[i] != y[i]) {
        Some(i) => Err(format!("{} vs {}: first difference\n  {}\n  {}", a.display(), b.display(), x[i], y[i])),
        None => Ok(x.len()),
    }
}
