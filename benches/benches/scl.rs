//! SCL training: pairs/s of a training epoch at full queue lengths 0, 1k, 16k, 64k (the queue adds
//! a `B × K` block to the logits matmul and softmax), and the queue update alone, which must not
//! grow with K (a ring buffer: it copies only the new keys).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fuserec::core::Embeddings;
use fuserec::encoders::scl::{KeyQueue, Pair, SclConfig, SclModel};

fn training(c: &mut Criterion) {
    let (n, fa, fi) = (2560usize, 256usize, 256usize);
    let anchors: Embeddings = fuserec_benches::gaussian(n, fa, 1);
    let items: Embeddings = fuserec_benches::gaussian(n, fi, 2);
    let pairs: Vec<Pair> = (0..n as u32).map(|i| Pair { anchor: i, item: i, hard_negative: Some((i + 1) % n as u32) }).collect();
    let mut g = c.benchmark_group("scl_epoch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    for k in [0usize, 1024, 16384, 65536] {
        let cfg: SclConfig = toml::from_str(&format!("dim = 64\nhidden = [256]\nbatch_size = 256\nepochs = 1\nqueue = {k}")).expect("cfg");
        g.bench_with_input(BenchmarkId::new("queue", k), &k, |b, _| {
            b.iter_batched(
                || {
                    // A full queue, as in steady-state training.
                    let mut m = SclModel::new(&cfg, fa, fi, 1).expect("model");
                    let keys = vec![0.125f32; k * 64];
                    let ids: Vec<u32> = (0..k as u32).map(|i| i % n as u32).collect();
                    m.queue.push(&keys, &ids).expect("prefill");
                    m
                },
                |mut m| m.fit(&anchors, &items, &pairs, 1, &mut |_| {}).expect("fit").len(),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn queue_push(c: &mut Criterion) {
    let keys: Vec<f32> = vec![0.5; 256 * 64];
    let ids: Vec<u32> = (0..256).collect();
    let mut g = c.benchmark_group("scl_queue_push_256_keys");
    for k in [1024usize, 65536] {
        let mut q = KeyQueue::new(k, 64);
        g.bench_with_input(BenchmarkId::from_parameter(k), &k, |b, _| b.iter(|| q.push(&keys, &ids).expect("push")));
    }
    g.finish();
}

criterion_group!(benches, training, queue_push);
criterion_main!(benches);
