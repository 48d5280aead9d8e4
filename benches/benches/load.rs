//! Loading a 10M-interaction log: the synthetic world at scale 56 (≈ 10.1M impressions, 112k
//! users, 168k items, no images) written once as TSV and as Parquet under the cache, then
//! `load_dir` on each. Peak memory is not a criterion figure: `fuserec load DIR` prints it
//! (`VmHWM`), see docs/RESULTS.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fuserec::data::synthetic::{TableFormat, World, WorldConfig};
use fuserec::data::{LoadOptions, load_dir};
use std::path::PathBuf;

const SCALE: f64 = 56.0;

/// The world in `format` under `<cache>/worlds/load-bench-<format>`, written on first use.
fn world(format: TableFormat) -> PathBuf {
    let name = match format {
        TableFormat::Tsv => "tsv",
        TableFormat::Parquet => "parquet",
    };
    let dir = fuserec::data::assets::cache_dir().join("worlds").join(format!("load-bench-scale{SCALE}-{name}"));
    if !dir.join("world.json").is_file() {
        let w = World::generate(&WorldConfig { scale: SCALE, ..Default::default() }).expect("world");
        let tmp = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&tmp);
        w.write_as(&tmp, format, false).expect("write world");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).expect("move world into place");
    }
    dir
}

fn load(c: &mut Criterion) {
    let mut g = c.benchmark_group("load_10m_interactions");
    g.sample_size(10);
    for format in [TableFormat::Parquet, TableFormat::Tsv] {
        let dir = world(format);
        let n = load_dir(&dir, &LoadOptions::default()).expect("load").interactions.len();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{format:?}").to_lowercase(), |b| {
            b.iter(|| load_dir(&dir, &LoadOptions::default()).expect("load").interactions.len())
        });
    }
    g.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
