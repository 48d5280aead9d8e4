//! Pretrained encoders: EfficientNet-Lite0 images/s (batch 32, model only and with
//! preprocessing) and MiniLM sentences/s (batch 64 titles of 12 tokens). Skips with a message when
//! the assets are absent.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fuserec::data::assets::{MINILM, cache_dir, shared_assets_dir};
use fuserec::encoders::{EfficientNetLite0, ImageEncoder, MiniLm, TextEncoder, efficientnet::preprocess};
use std::hint::black_box;
use std::time::Duration;

fn encoders(c: &mut Criterion) {
    let mut g = c.benchmark_group("encoders");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    match shared_assets_dir().map(|d| d.join("efficientnet-lite0/efficientnet_lite0.safetensors")).filter(|p| p.is_file()) {
        Some(p) => {
            let net = EfficientNetLite0::load(&p).unwrap();
            let img = image::open(p.parent().unwrap().parent().unwrap().join("reference/chelsea.png")).unwrap();
            let inputs = vec![preprocess(&img); 32];
            let images = vec![img; 32];
            g.throughput(Throughput::Elements(32));
            g.bench_function("efficientnet_lite0_batch32", |b| b.iter(|| black_box(net.forward_batch(&inputs, false).unwrap())));
            g.bench_function("efficientnet_lite0_batch32_with_preprocess", |b| b.iter(|| black_box(net.encode(&images).unwrap())));
        }
        None => eprintln!("SKIP efficientnet benches: shared assets not found"),
    }
    match MINILM.locate(&cache_dir()) {
        Some(dir) => {
            let m = MiniLm::load(&dir).unwrap();
            let titles = fuserec_benches::titles(64);
            let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
            g.throughput(Throughput::Elements(64));
            g.bench_function("minilm_batch64_titles", |b| b.iter(|| black_box(m.encode(&refs).unwrap())));
        }
        None => eprintln!("SKIP minilm bench: run `cargo xtask assets`"),
    }
    g.finish();
}

criterion_group!(benches, encoders);
criterion_main!(benches);
