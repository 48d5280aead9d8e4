//! Search logs (`searches.tsv`: `user, timestamp, query, bought[, clicked]`, clicked items
//! `|`-separated): the pair source of semantic-aware contrastive learning. The synthetic world
//! writes one; a user's dataset may have one.

use crate::Dataset;
use crate::delimited::Table;
use fuserec_core::{Error, ItemId, Result};
use std::path::Path;

/// One search session: who searched what, and what they bought.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    /// External user id.
    pub user: String,
    /// Time of the search (seconds).
    pub ts: i64,
    /// The query text.
    pub query: String,
    /// The item bought.
    pub bought: ItemId,
    /// Clicked but not bought (hard negatives), without the bought item.
    pub clicked: Vec<ItemId>,
}

/// Reads `path` against the dataset's item ids. Unknown items and empty queries are errors
/// naming file and line.
pub fn load_searches(path: &Path, ds: &Dataset) -> Result<Vec<Search>> {
    let t = Table::read(path)?;
    let c_user = t.require(&["user", "user_id"])?;
    let c_ts = t.require(&["timestamp", "ts", "time"])?;
    let c_query = t.require(&["query", "query_text"])?;
    let c_bought = t.require(&["bought", "item", "purchased"])?;
    let c_clicked = t.column(&["clicked", "clicks"]);
    let item = |line: usize, raw: &str| -> Result<ItemId> {
        ds.items.get(raw.trim()).map(ItemId).ok_or_else(|| t.err(line, format!("unknown item `{}`", raw.trim())))
    };
    let mut out = Vec::with_capacity(t.rows.len());
    for (line, f) in &t.rows {
        let query = f[c_query].trim().to_string();
        if query.is_empty() {
            return Err(t.err(*line, "empty query"));
        }
        let ts = t.number(*line, c_ts, &f[c_ts])? as i64;
        let bought = item(*line, &f[c_bought])?;
        let mut clicked = Vec::new();
        if let Some(c) = c_clicked {
            for raw in f[c].split('|').filter(|s| !s.trim().is_empty()) {
                let i = item(*line, raw)?;
                if i != bought && !clicked.contains(&i) {
                    clicked.push(i);
                }
            }
        }
        out.push(Search { user: f[c_user].trim().to_string(), ts, query, bought, clicked });
    }
    if out.is_empty() {
        return Err(Error::Invalid(format!("{}: no search sessions", path.display())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, load_dir};

    #[test]
    fn reads_and_rejects_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("fuserec-searches-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("items.tsv"), "item\ttitle\na\tA\nb\tB\nc\tC\n").unwrap();
        std::fs::write(dir.join("interactions.tsv"), "user\titem\ttimestamp\tlabel\nu\ta\t1\t1\n").unwrap();
        let ds = load_dir(&dir, &LoadOptions::default()).unwrap();
        let p = dir.join("searches.tsv");
        std::fs::write(&p, "user\ttimestamp\tquery\tbought\tclicked\nu\t5\tred boots\ta\tb|a|c|b\nv\t6\tblue\tc\t\n").unwrap();
        let s = load_searches(&p, &ds).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].bought, s[0].clicked.clone()),
            (ItemId(0), vec![ItemId(1), ItemId(2)]),
            "bought dropped from clicked, duplicates once"
        );
        assert!(s[1].clicked.is_empty());
        std::fs::write(&p, "user\ttimestamp\tquery\tbought\nu\t5\tred\tzzz\n").unwrap();
        let e = load_searches(&p, &ds).unwrap_err().to_string();
        assert!(e.contains("searches.tsv") && e.contains(":2") && e.contains("zzz"), "{e}");
        std::fs::write(&p, "user\ttimestamp\tquery\tbought\nu\t5\t \ta\n").unwrap();
        assert!(load_searches(&p, &ds).unwrap_err().to_string().contains("empty query"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
