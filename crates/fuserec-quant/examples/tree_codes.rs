//! Quantise a matrix into hierarchical cluster codes, report their quality level by level, save
//! the tree and check that the loaded copy encodes identically.
//!
//! ```sh
//! cargo run --release -p fuserec-quant --example tree_codes                       # a generated matrix
//! cargo run --release -p fuserec-quant --example tree_codes -- vectors.f32 384     # raw little-endian f32 rows
//! ```

use fuserec_quant::{Embeddings, HierarchicalKMeans, Quantizer, Saved, TreeConfig, load, quality, save};
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let x = match args.as_slice() {
        [path, dim] => {
            let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
            let dim: usize = dim.parse().map_err(|_| format!("dimension `{dim}` is not a number"))?;
            if dim == 0 || bytes.len() % (4 * dim) != 0 {
                return Err(format!("{path}: {} bytes are not rows of {dim} little-endian f32", bytes.len()).into());
            }
            let values: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            Embeddings::from_vec(values.len() / dim, dim, values)?
        }
        [] => clustered(20_000, 32),
        _ => return Err("usage: tree_codes [<file of little-endian f32 rows> <dim>]".into()),
    };
    println!("{} vectors of width {}", x.rows(), x.dim());

    let cfg = TreeConfig { branching: 16, depth: 3, ..TreeConfig::default() };
    let t0 = Instant::now();
    let tree = HierarchicalKMeans::fit(&x, &cfg)?;
    let codes = tree.encode(&x)?;
    println!("fitted {} in {:.2} s", tree.name(), t0.elapsed().as_secs_f64());

    let report = quality(&tree, &x, &codes)?;
    println!("| level | codes used / available | mse per item | entropy (bits) | largest code share |");
    println!("|---|---|---|---|---|");
    for l in &report.levels {
        println!(
            "| {} | {} / {} | {:.4} | {:.2} of {:.2} | {:.3} |",
            l.level, l.used, l.available, l.mse, l.entropy_bits, l.max_entropy_bits, l.largest_share
        );
    }

    let path = std::env::temp_dir().join(format!("tree-codes-{}.safetensors", std::process::id()));
    save(Saved::Tree(&tree), &path)?;
    let loaded = load(&path)?;
    assert_eq!(loaded.encode(&x)?, codes, "the saved tree must encode exactly as the fitted one");
    std::fs::remove_file(&path)?;
    println!("saved, loaded and re-encoded: identical codes");
    Ok(())
}

/// `n` rows around 40 random centres (a deterministic hash stands in for a random generator).
fn clustered(n: usize, d: usize) -> Embeddings {
    let h = |x: usize| ((x as f64 * 12.9898).sin() * 43_758.545_3).fract() as f32;
    let rows = (0..n * d).map(|k| 4.0 * h(1_000_003 + (k / d % 40) * d + k % d) + h(k)).collect();
    Embeddings::from_vec(n, d, rows).expect("n × d values")
}
