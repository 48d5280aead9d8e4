//! Build an exact index and an HNSW graph over the same unit vectors, then trade search width
//! for recall: recall@10 against exact search (with a bootstrap interval) and queries per second
//! at several `ef`.
//!
//! ```sh
//! cargo run --release -p fuserec-index --example hnsw_recall -- 100000 64
//! ```

use fuserec_eval::{Recall, evaluate_ranking};
use fuserec_index::{Embeddings, ExactIndex, Hnsw, HnswConfig, VectorIndex, item_ids};
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> =
        std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>().map_err(|_| "usage: hnsw_recall [items] [dim]")?;
    let (n, d) = (args.first().copied().unwrap_or(20_000), args.get(1).copied().unwrap_or(32));
    let items = unit_rows(n, d, 1);
    let queries = unit_rows(500, d, 2);

    let t0 = Instant::now();
    let mut hnsw = Hnsw::new(d, HnswConfig::default())?;
    hnsw.extend(&(0..n as u32).collect::<Vec<_>>(), items.as_slice())?;
    println!(
        "HNSW over {n} × {d}: built in {:.2} s, {} layers, mean degree {:.1}",
        t0.elapsed().as_secs_f64(),
        hnsw.layers(),
        hnsw.mean_degree()
    );

    let exact = ExactIndex::new(items);
    let t0 = Instant::now();
    let truth = item_ids(&exact.search_batch(&queries, 10, None)?);
    println!("exact: {:.0} queries/s (batched)", queries.rows() as f64 / t0.elapsed().as_secs_f64());

    println!("| ef | recall@10 | 95% CI | queries/s (one thread) |");
    println!("|---|---|---|---|");
    for ef in [16, 32, 64, 128, 256] {
        let t0 = Instant::now();
        let found: Vec<_> =
            (0..queries.rows()).map(|q| hnsw.search_ef(queries.row(q), 10, Some(ef), &|_| false)).collect::<Result<_, _>>()?;
        let qps = queries.rows() as f64 / t0.elapsed().as_secs_f64();
        let r = &evaluate_ranking(&[&Recall], &[10], &found, &truth, 200, 1)?["recall@10"];
        println!("| {ef} | {:.4} | [{:.4}, {:.4}] | {qps:.0} |", r.mean, r.lo, r.hi);
    }
    Ok(())
}

/// `n` unit rows (a deterministic hash stands in for a random generator).
fn unit_rows(n: usize, d: usize, seed: usize) -> Embeddings {
    let h = |x: usize| ((x as f64 * 12.9898 + seed as f64 * 78.233).sin() * 43_758.545_3).fract() as f32;
    let mut e = Embeddings::from_vec(n, d, (0..n * d).map(h).collect()).expect("n × d values");
    e.l2_normalize();
    e
}
