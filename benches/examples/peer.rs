//! fuserec's pretrained encoders against the PyTorch peer (`benches/peers/encoders_peer.py`):
//! same weights, same inputs (64 titles of 12 tokens; the chelsea reference tensor × 32),
//! 2 threads each, and the ratio (rates from the median of `PEER_ROUNDS` timed batches, default
//! 15, the two sides taking turns). Run with `cargo xtask peer encoders`.

use fuserec::data::assets::{MINILM, cache_dir, shared_assets_dir};
use fuserec::encoders::{EfficientNetLite0, MiniLm, TextEncoder};
use fuserec_benches::fair::{Peer, interleaved, time};
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn main() {
    // As the CLI, the Python module and the server run (see `retain_freed_memory`).
    assert!(fuserec::nn::retain_freed_memory());
    let rounds: usize = std::env::var("PEER_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
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
    let net = EfficientNetLite0::load(&effnet).expect("load EfficientNet");
    let raw = std::fs::read(&chelsea).expect("chelsea tensor");
    let x = fuserec::core::f32s_from_le(&raw);
    let batch = vec![x; 32];

    let python = std::env::var("FUSEREC_PEER_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/encoders_peer.py");
    let mut cmd = Command::new(&python);
    cmd.arg(&script)
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
        .args(["--threads", &threads.to_string()]);
    let mut peer = Peer::start(cmd, "needs Debian's python3-torch; libopenblas0-pthread for a fast BLAS");
    let _ = std::fs::remove_file(&titles_file);
    let ready = peer.ready.clone();
    if !fuserec_benches::fair::report(gflops, &ready) {
        std::process::exit(2);
    }
    // Rates: batch size over the median of timed batches, the two sides taking turns.
    let text = interleaved(
        rounds,
        &mut [
            &mut || {
                time(|| {
                    m.encode(&refs).expect("encode");
                })
            },
            &mut || peer.seconds(json!({ "op": "minilm" })),
        ],
    );
    let img = interleaved(
        rounds,
        &mut [
            &mut || {
                time(|| {
                    net.forward_batch(&batch, false).expect("forward");
                })
            },
            &mut || peer.seconds(json!({ "op": "effnet" })),
        ],
    );
    let (ours_text, theirs_text) = (refs.len() as f64 / text[0], refs.len() as f64 / text[1]);
    let (ours_img, theirs_img) = (batch.len() as f64 / img[0], batch.len() as f64 / img[1]);
    println!("threads: {threads} (fuserec, rayon) / {} (torch {})", ready["threads"], ready["torch"]);
    println!(
        "peer parity: MiniLM first5 {} cos {}; EfficientNet argmax {} pooled5 {}",
        ready["minilm_first5"], ready["minilm_cos"], ready["effnet_argmax"], ready["effnet_pooled5"]
    );
    println!("| model | batch | fuserec /s | PyTorch /s | ratio |");
    println!("|---|---|---|---|---|");
    println!("| MiniLM-L6 (12-token titles) | 64 | {ours_text:.1} | {theirs_text:.1} | {:.2}× |", ours_text / theirs_text);
    println!("| EfficientNet-Lite0 (224², model only) | 32 | {ours_img:.1} | {theirs_img:.1} | {:.2}× |", ours_img / theirs_img);
}
