//! One k-means iteration on 1M × 64, k = 1024, against FAISS (`benches/peers/kmeans_peer.py`,
//! PyPI `faiss-cpu`): same data, same initial centroids, same number of iterations, 2 threads.
//! Run with `cargo xtask peer kmeans`.

use fuserec::core::Embeddings;
use fuserec::quant::KMeans;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn main() {
    let (n, d, k) = (1_000_000usize, 64usize, 1024usize);
    let iters: usize = std::env::var("PEER_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let x = fuserec_benches::gaussian(n, d, 1);
    let init = Embeddings::from_vec(k, d, x.as_slice()[..k * d].to_vec()).unwrap();
    let tmp = std::env::temp_dir();
    let (data_file, init_file) =
        (tmp.join(format!("fuserec-km-{}.f32", std::process::id())), tmp.join(format!("fuserec-km-init-{}.f32", std::process::id())));
    let bytes = fuserec::core::f32s_to_le;
    std::fs::write(&data_file, bytes(x.as_slice())).unwrap();
    std::fs::write(&init_file, bytes(init.as_slice())).unwrap();

    let mut c = init.clone();
    KMeans::iteration(&x, &mut c); // warm-up (page faults, thread pool)
    // Best of three runs of `iters` iterations each (the machine is shared; the peer does the same).
    let mut ours = f64::INFINITY;
    let mut obj = 0.0;
    for _ in 0..3 {
        let mut c = init.clone();
        let t = Instant::now();
        for _ in 0..iters {
            obj = KMeans::iteration(&x, &mut c);
        }
        ours = ours.min(t.elapsed().as_secs_f64() / iters as f64);
    }
    let threads = rayon::current_num_threads();
    let gflops = fuserec_benches::fair::sgemm_gflops(1024);

    let python = std::env::var("FUSEREC_FAISS_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/kmeans_peer.py");
    let out = Command::new(&python)
        .arg(&script)
        .args(["--data".as_ref(), data_file.as_os_str(), "--init".as_ref(), init_file.as_os_str()])
        .args([
            "--n",
            &n.to_string(),
            "--d",
            &d.to_string(),
            "--k",
            &k.to_string(),
            "--iters",
            &iters.to_string(),
            "--threads",
            &threads.to_string(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let _ = std::fs::remove_file(&data_file);
    let _ = std::fs::remove_file(&init_file);
    if !out.status.success() {
        eprintln!("peer failed (needs `pip install faiss-cpu numpy`):\n{}", String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer prints JSON");
    let theirs = peer["seconds_per_iteration"].as_f64().unwrap_or(f64::NAN);
    if !fuserec_benches::fair::report(gflops, &peer) {
        std::process::exit(2);
    }
    println!("threads: {threads} (fuserec) / {} (faiss {})", peer["threads"], peer["faiss"]);
    println!("objective after {iters} iterations: fuserec {obj:.6e} (assignment before the last update), faiss {}", peer["objective"]);
    println!("| k-means iteration, 1M × 64, k = 1024 (best of 3 × {iters}) | fuserec s | FAISS s | ratio (fuserec ÷ FAISS) |");
    println!("|---|---|---|---|");
    println!("| per iteration | {ours:.3} | {theirs:.3} | {:.2}× |", ours / theirs);
}
