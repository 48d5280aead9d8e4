//! Score ranked lists against ground truth with every standard metric at K = 5, 10, 20, with
//! bootstrap 95% intervals over users.
//!
//! ```sh
//! cargo run -p fuserec-eval --example score_lists                        # a built-in example
//! cargo run -p fuserec-eval --example score_lists -- ranked.tsv truth.tsv
//! ```
//! `ranked.tsv`: `user<TAB>item<TAB>rank` (rank 1 = best); `truth.tsv`: `user<TAB>item`. Users are
//! matched by name; a user with no truth is skipped (and counted).

use fuserec_eval::{STANDARD_METRICS, evaluate_ranking, markdown_table};
use std::collections::BTreeMap;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ranked, truth) = match args.as_slice() {
        [r, t] => (read(r, 3)?, read(t, 2)?),
        [] => (demo_ranked(), demo_truth()),
        _ => return Err("usage: score_lists [ranked.tsv truth.tsv]".into()),
    };
    // Item names → dense ids, one list per user of the ranked file.
    let mut ids: BTreeMap<String, u32> = BTreeMap::new();
    let mut id = |s: &str| {
        let next = ids.len() as u32;
        *ids.entry(s.to_string()).or_insert(next)
    };
    let mut lists = Vec::new();
    let mut relevant = Vec::new();
    for (user, rows) in &ranked {
        let mut rows = rows.clone();
        rows.sort_by_key(|r| r[1].parse::<u32>().unwrap_or(u32::MAX));
        lists.push(rows.iter().map(|r| id(&r[0])).collect::<Vec<u32>>());
        relevant.push(truth.get(user).map_or_else(Vec::new, |t| t.iter().map(|r| id(&r[0])).collect()));
    }
    let skipped = relevant.iter().filter(|r| r.is_empty()).count();
    let m = evaluate_ranking(STANDARD_METRICS, &[5, 10, 20], &lists, &relevant, 1_000, 1)?;
    let rows: Vec<Vec<String>> =
        m.iter().map(|(k, e)| vec![k.clone(), format!("{:.4}", e.mean), format!("[{:.4}, {:.4}]", e.lo, e.hi), e.n.to_string()]).collect();
    print!("{}", markdown_table(&["metric", "mean", "95% CI", "users"], &rows));
    println!("{skipped} ranked users without ground truth were skipped");
    Ok(())
}

type Rows = BTreeMap<String, Vec<Vec<String>>>;

/// `user → rows of the remaining columns`; a line with another column count names file and line.
fn read(path: &str, columns: usize) -> Result<Rows, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = Rows::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != columns {
            return Err(format!("{path}:{}: {} columns, expected {columns}", n + 1, cols.len()));
        }
        if columns == 3 && cols[2].parse::<u32>().is_err() {
            return Err(format!("{path}:{}: rank `{}` is not a positive integer", n + 1, cols[2]));
        }
        out.entry(cols[0].to_string()).or_default().push(cols[1..].iter().map(|s| s.to_string()).collect());
    }
    Ok(out)
}

fn demo_ranked() -> Rows {
    let lists = [("ann", "shoes hat scarf socks gloves"), ("bob", "hat gloves coat"), ("cy", "socks shoes")];
    lists
        .iter()
        .map(|(u, l)| (u.to_string(), l.split(' ').enumerate().map(|(r, i)| vec![i.to_string(), (r + 1).to_string()]).collect()))
        .collect()
}

fn demo_truth() -> Rows {
    let truth = [("ann", "scarf coat"), ("bob", "hat"), ("cy", "boots")];
    truth.iter().map(|(u, t)| (u.to_string(), t.split(' ').map(|i| vec![i.to_string()]).collect())).collect()
}
