//! fuserec's pretrained encoders against the PyTorch peer (`benches/peers/encoders_peer.py`):
//! same weights, same inputs (64 titles of 12 tokens; the chelsea reference tensor × 32),
//! 2 threads each, and the ratio (rates from the median of `PEER_ROUNDS` timed batches, default
//! 9, on both sides). Run with `cargo xtask peer encoders`.

use fuserec::data::assets::{MINILM, cache_dir, shared_assets_dir};
use fuserec::encoders::{EfficientNetLite0, MiniLm, TextEncoder};
use std::path::Path;
use std::process::Command;

/// Items per second of `f` (which handles `n` items): `n` over the median of `rounds` timed calls
/// after a warm-up call.
fn rate(n: usize, rounds: usize, f: impl FnMut()) -> f64 {
    n as f64 / fuserec_benches::fair::median_seconds(rounds, f)
}

fn main() {
    // As the CLI, the Python module and the server run (see `retain_freed_memory`).
    assert!(fuserec::nn::retain_freed_memory());
    let rounds: usize = std::env::var("PEER_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(9);
    let minilm = MINILM.locate(&cache_dir()).expect("all-MiniLM-L6-v2 missing: run `cargo xtask assets`");
    let shared = shared_assets_dir().expect("shared assets folder not found (FUSEREC_ASSETS_DIR)");
    let effnet = shared.join("efficientnet-lite0/efficientnet_lite0.safetensors");
    let chelsea = shared.join("reference/chelsea_input_1x3x224x224.f32");
    let titles = fuserec_benches::titles(64);
    let titles_file = std::env::temp_dir().join(format!("fuserec-peer-titles-{}.txt", std::process::id()));
    std::fs::write(&titles_file, titles.join("\n")).expect("write titles");

    let threads = rayon::current_num_threads();
    let gflops = fuserec_benches::fair::sgemm_gflops(1024);
    let m = MiniLm::load(&minilm).expect("load MiniLM");
    let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
    let lens: Vec<usize> = m.tokenize(&refs).expect("tokenize").iter().map(Vec::len).collect();
    let (min, max) = (lens.iter().min().copied().unwrap_or(0), lens.iter().max().copied().unwrap_or(0));
    // Both sides run every title's tokens; the peer also runs padding up to the longest title.
    println!("titles: {} of {min}–{max} tokens ({} tokens, {} with padding)", lens.len(), lens.iter().sum::<usize>(), max * lens.len());
    let ours_text = rate(refs.len(), rounds, || {
        m.encode(&refs).expect("encode");
    });
    let net = EfficientNetLite0::load(&effnet).expect("load EfficientNet");
    let raw = std::fs::read(&chelsea).expect("chelsea tensor");
    let x = fuserec::core::f32s_from_le(&raw);
    let batch = vec![x; 32];
    let ours_img = rate(batch.len(), rounds, || {
        net.forward_batch(&batch, false).expect("forward");
    });

    let python = std::env::var("FUSEREC_PEER_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/encoders_peer.py");
    let out = Command::new(&python)
        .arg(&script)
        .args([
            "--minilm".as_ref(),
            minilm.as_os_str(),
            "--effnet".as_ref(),
            effnet.as_os_str(),
            "--chelsea".as_ref(),
            chelsea.as_os_str(),
            "--titles".as_ref(),
            titles_file.as_os_str(),
        ])
        .args(["--threads", &threads.to_string(), "--rounds", &rounds.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let _ = std::fs::remove_file(&titles_file);
    if !out.status.success() {
        eprintln!(
            "peer failed (needs Debian's python3-torch; libopenblas0-pthread for a fast BLAS):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(1);
    }
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer prints JSON");
    if !fuserec_benches::fair::report(gflops, &peer) {
        std::process::exit(2);
    }
    let theirs_text = peer["sentences_per_s"].as_f64().unwrap_or(f64::NAN);
    let theirs_img = peer["images_per_s"].as_f64().unwrap_or(f64::NAN);
    println!("threads: {threads} (fuserec, rayon) / {} (torch {})", peer["threads"], peer["torch"]);
    println!(
        "peer parity: MiniLM first5 {} cos {}; EfficientNet argmax {} pooled5 {}",
        peer["minilm_first5"], peer["minilm_cos"], peer["effnet_argmax"], peer["effnet_pooled5"]
    );
    println!("| model | batch | fuserec /s | PyTorch /s | ratio |");
    println!("|---|---|---|---|---|");
    println!("| MiniLM-L6 (12-token titles) | 64 | {ours_text:.1} | {theirs_text:.1} | {:.2}× |", ours_text / theirs_text);
    println!("| EfficientNet-Lite0 (224², model only) | 32 | {ours_img:.1} | {theirs_img:.1} | {:.2}× |", ours_img / theirs_img);
}
