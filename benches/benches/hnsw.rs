//! HNSW on 1M × 64 clustered unit vectors (M = 16, efConstruction = 128): one query (top-10,
//! single-threaded) at several beam widths, a filtered query (half the catalogue excluded), and
//! one online insert into the built graph. Recall per beam width, and the FAISS comparison, come
//! from `cargo xtask peer hnsw`. `HNSW_ITEMS=100000` for a quicker run.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fuserec::index::{Hnsw, HnswConfig};

fn hnsw(c: &mut Criterion) {
    let n: usize = std::env::var("HNSW_ITEMS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let d = 64;
    let items = fuserec_benches::clustered(n, d, 1000, 0.5, 1, 1);
    let queries = fuserec_benches::clustered(1000, d, 1000, 0.5, 1, 2);
    let fresh = fuserec_benches::clustered(10_000, d, 1000, 0.5, 1, 3);
    let mut h = Hnsw::new(d, HnswConfig { m: 16, ef_construction: 128, ..Default::default() }).expect("config");
    let t = std::time::Instant::now();
    h.extend(&(0..n as u32).collect::<Vec<_>>(), items.as_slice()).expect("build");
    eprintln!("built {n} items in {:.1}s", t.elapsed().as_secs_f64());
    let mut g = c.benchmark_group(format!("hnsw_{}k", n / 1000));
    g.throughput(Throughput::Elements(1));
    for ef in [16usize, 32, 64] {
        let mut k = 0;
        g.bench_with_input(BenchmarkId::new("query_top10_ef", ef), &ef, |b, &ef| {
            b.iter(|| {
                k = (k + 1) % queries.rows();
                h.search_ef(queries.row(k), 10, Some(ef), &|_| false).expect("search").len()
            })
        });
    }
    let mut k = 0;
    g.bench_function("query_top10_ef32_half_excluded", |b| {
        b.iter(|| {
            k = (k + 1) % queries.rows();
            h.search_ef(queries.row(k), 10, Some(32), &|key| key % 2 == 0).expect("search").len()
        })
    });
    let mut k = 0;
    g.sample_size(20);
    g.bench_function("insert_one", |b| {
        b.iter(|| {
            k += 1;
            h.insert((n + k) as u32, fresh.row(k % fresh.rows())).expect("insert")
        })
    });
    g.finish();
}

criterion_group!(benches, hnsw);
criterion_main!(benches);
