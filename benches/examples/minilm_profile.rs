//! Profile target: MiniLM on the peer's 64 titles, in a loop (`perf record` this binary).
use fuserec::data::assets::{MINILM, cache_dir};
use fuserec::encoders::{MiniLm, TextEncoder};

fn main() {
    assert!(fuserec::nn::retain_freed_memory());
    let m = MiniLm::load(&MINILM.locate(&cache_dir()).expect("run `cargo xtask assets`")).expect("load");
    let titles = fuserec_benches::titles(64);
    let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
    let t = std::time::Instant::now();
    let mut n = 0;
    while t.elapsed().as_secs_f64() < 8.0 {
        m.encode(&refs).expect("encode");
        n += refs.len();
    }
    println!("{:.1} sentences/s", n as f64 / t.elapsed().as_secs_f64());
}
