//! HNSW against FAISS's IndexHNSWFlat (`benches/peers/hnsw_peer.py`, PyPI `faiss-cpu`): 1M × 64
//! clustered unit vectors, inner product, the same M and efConstruction, 1,000 queries run one at
//! a time on one thread each side. Prints recall@10 and queries/s per efSearch for both, and the
//! QPS ratio at the smallest efSearch each side needs for recall@10 ≥ 0.95.
//! Run with `cargo xtask peer hnsw` (`HNSW_ITEMS=…` for a smaller catalogue, `HNSW_NO_PEER=1` for
//! our side only).

use fuserec::core::Embeddings;
use fuserec::index::{Candidates, ExactIndex, Hnsw, HnswConfig};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const EFS: [usize; 12] = [10, 16, 24, 32, 36, 40, 44, 48, 56, 64, 96, 128];

fn main() {
    let n: usize = std::env::var("HNSW_ITEMS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let (d, nq, m, efc) = (64usize, 1000usize, 16usize, 128usize);
    let items = fuserec_benches::clustered(n, d, 1000, 0.5, 1, 1);
    let queries = fuserec_benches::clustered(nq, d, 1000, 0.5, 1, 2);
    let t = Instant::now();
    let truth = ExactIndex::new(items.clone()).search_candidates(&queries, 10, Candidates::default()).expect("exact");
    eprintln!("exact top-10 of {nq} queries over {n} items: {:.1}s", t.elapsed().as_secs_f64());

    let mut h = Hnsw::new(d, HnswConfig { m, ef_construction: efc, ..Default::default() }).expect("config");
    let keys: Vec<u32> = (0..n as u32).collect();
    let t = Instant::now();
    h.extend(&keys, items.as_slice()).expect("build");
    let build = t.elapsed().as_secs_f64();
    eprintln!("fuserec build: {build:.1}s on {} threads", rayon::current_num_threads());
    let ours: Vec<(usize, f64, f64)> = EFS.iter().map(|&ef| sweep(&h, &queries, &truth, ef)).collect();
    if std::env::var_os("HNSW_NO_PEER").is_some() {
        // Our side only (while tuning).
        for o in &ours {
            println!("| {} | {:.4} | {:.0} |", o.0, o.1, o.2);
        }
        return;
    }

    let tmp = std::env::temp_dir();
    let pid = std::process::id();
    let files = [
        tmp.join(format!("fuserec-hnsw-items-{pid}.f32")),
        tmp.join(format!("fuserec-hnsw-q-{pid}.f32")),
        tmp.join(format!("fuserec-hnsw-truth-{pid}.u32")),
    ];
    std::fs::write(&files[0], fuserec::core::f32s_to_le(items.as_slice())).unwrap();
    std::fs::write(&files[1], fuserec::core::f32s_to_le(queries.as_slice())).unwrap();
    let t_bytes: Vec<u8> = truth.iter().flat_map(|r| r.iter().flat_map(|x| x.0.to_le_bytes())).collect();
    std::fs::write(&files[2], t_bytes).unwrap();
    let python = std::env::var("FUSEREC_FAISS_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/hnsw_peer.py");
    let efs: Vec<String> = EFS.iter().map(|e| e.to_string()).collect();
    let out = Command::new(&python)
        .arg(&script)
        .args([
            "--items".as_ref(),
            files[0].as_os_str(),
            "--queries".as_ref(),
            files[1].as_os_str(),
            "--truth".as_ref(),
            files[2].as_os_str(),
        ])
        .args([
            "--d",
            &d.to_string(),
            "--m",
            &m.to_string(),
            "--ef-construction",
            &efc.to_string(),
            "--efs",
            &efs.join(","),
            "--build-threads",
            &rayon::current_num_threads().to_string(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    files.iter().for_each(|f| drop(std::fs::remove_file(f)));
    if !out.status.success() {
        eprintln!("peer failed (needs `pip install faiss-cpu numpy`):\n{}", String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer prints JSON");
    if !fuserec_benches::fair::report(fuserec_benches::fair::sgemm_gflops(1024), &peer) {
        std::process::exit(2);
    }
    let rows_of = |v: &serde_json::Value| -> Vec<(usize, f64, f64)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["ef"].as_u64().unwrap_or(0) as usize,
                    r["recall_at_10"].as_f64().unwrap_or(f64::NAN),
                    r["qps"].as_f64().unwrap_or(f64::NAN),
                )
            })
            .collect()
    };
    let theirs = rows_of(&peer["rows"]);
    let hnswlib = rows_of(&peer["hnswlib"]["rows"]);
    println!("{n} × {d} clustered unit vectors, inner product, M = {m}, efConstruction = {efc}, {nq} queries one at a time on 1 thread");
    println!(
        "build: fuserec {build:.1}s, faiss {} {:.1}s ({} threads each)\n",
        peer["faiss"],
        peer["build_seconds"].as_f64().unwrap_or(f64::NAN),
        rayon::current_num_threads()
    );
    if !hnswlib.is_empty() {
        println!(
            "hnswlib {} build {:.1}s ({} threads)\n",
            peer["hnswlib"]["version"],
            peer["hnswlib"]["build_seconds"].as_f64().unwrap_or(f64::NAN),
            rayon::current_num_threads()
        );
    }
    println!("| efSearch | fuserec recall@10 | fuserec QPS | FAISS recall@10 | FAISS QPS | hnswlib recall@10 | hnswlib QPS |");
    println!("|---|---|---|---|---|---|---|");
    for (k, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        let h = hnswlib.get(k).map_or("| – | –".to_string(), |h| format!("| {:.4} | {:.0}", h.1, h.2));
        println!("| {} | {:.4} | {:.0} | {:.4} | {:.0} {h} |", o.0, o.1, o.2, t.1, t.2);
    }
    let at = |rows: &[(usize, f64, f64)]| rows.iter().find(|r| r.1 >= 0.95).copied();
    for (name, rows) in [("FAISS", &theirs), ("hnswlib", &hnswlib)] {
        match (at(&ours), at(rows)) {
            (Some(o), Some(t)) => println!(
                "\nat recall@10 ≥ 0.95: fuserec {:.0} QPS (ef {}, recall {:.4}), {name} {:.0} QPS (ef {}, recall {:.4}) → ratio {:.2}×",
                o.2,
                o.0,
                o.1,
                t.2,
                t.0,
                t.1,
                o.2 / t.2
            ),
            _ if rows.is_empty() => println!("\n{name}: not installed (scripts/peer-env installs it)"),
            _ => println!("\n{name}: one side never reaches recall@10 ≥ 0.95 in the sweep"),
        }
    }
}

/// (ef, recall@10, queries/s single-threaded, best of three passes).
fn sweep(h: &Hnsw, queries: &Embeddings, truth: &[Vec<(u32, f32)>], ef: usize) -> (usize, f64, f64) {
    let mut best = f64::INFINITY;
    let mut hits = 0;
    for _ in 0..3 {
        hits = 0;
        let t = Instant::now();
        for (q, tr) in queries.iter_rows().zip(truth) {
            let got = h.search_ef(q, 10, Some(ef), &|_| false).expect("search");
            hits += got.iter().filter(|g| tr.iter().any(|x| x.0 == g.0)).count();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    (ef, hits as f64 / (10 * queries.rows()) as f64, queries.rows() as f64 / best)
}
