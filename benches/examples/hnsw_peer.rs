//! HNSW against FAISS's IndexHNSWFlat (`benches/peers/hnsw_peer.py`, PyPI `faiss-cpu`): 1M × 64
//! clustered unit vectors, inner product, the same M and efConstruction, 1,000 queries run one at
//! a time on one thread each side (and hnswlib's, when installed). Prints recall@10 and
//! queries/s per efSearch (medians of passes the sides take in turns) and the QPS ratio at the
//! smallest efSearch each side needs for recall@10 ≥ 0.95.
//! Run with `cargo xtask peer hnsw` (`HNSW_ITEMS=…` for a smaller catalogue, `HNSW_NO_PEER=1` for
//! our side only).

use fuserec::core::Embeddings;
use fuserec::index::{Candidates, ExactIndex, Hnsw, HnswConfig};
use fuserec_benches::fair::{Peer, interleaved};
use serde_json::json;
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
    if std::env::var_os("HNSW_NO_PEER").is_some() {
        // Our side only (while tuning).
        for &ef in &EFS {
            let r = recall(&h, &queries, &truth, ef);
            println!("| {ef} | {r:.4} | {:.0} |", nq as f64 / fuserec_benches::fair::median_seconds(5, || pass(&h, &queries, ef)));
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
    let mut cmd = Command::new(&python);
    cmd.arg(&script)
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
        ]);
    let mut peer = Peer::start(cmd, "needs `pip install faiss-cpu numpy` (scripts/peer-env)");
    files.iter().for_each(|f| drop(std::fs::remove_file(f)));
    let ready = peer.ready.clone();
    if !fuserec_benches::fair::report(fuserec_benches::fair::sgemm_gflops(1024), &ready) {
        std::process::exit(2);
    }
    let with_hnswlib = !ready["hnswlib"].is_null();
    println!("{n} × {d} clustered unit vectors, inner product, M = {m}, efConstruction = {efc}, {nq} queries one at a time on 1 thread");
    println!(
        "build: fuserec {build:.1}s, faiss {} {:.1}s ({} threads each)\n",
        ready["faiss"],
        ready["build_seconds"].as_f64().unwrap_or(f64::NAN),
        rayon::current_num_threads()
    );
    if with_hnswlib {
        println!(
            "hnswlib {} build {:.1}s ({} threads)\n",
            ready["hnswlib"]["version"],
            ready["hnswlib"]["build_seconds"].as_f64().unwrap_or(f64::NAN),
            rayon::current_num_threads()
        );
    }
    // Per ef: (ef, recall, QPS) for fuserec, FAISS and hnswlib; the three take turns pass by pass.
    let mut rows: [Vec<(usize, f64, f64)>; 3] = Default::default();
    for &ef in &EFS {
        let peer = std::cell::RefCell::new(&mut peer);
        let mut ours = || fuserec_benches::fair::time(|| pass(&h, &queries, ef));
        let mut faiss = || peer.borrow_mut().seconds(json!({ "op": "faiss", "ef": ef }));
        let mut hnswlib = || peer.borrow_mut().seconds(json!({ "op": "hnswlib", "ef": ef }));
        let t = if with_hnswlib {
            interleaved(5, &mut [&mut ours, &mut faiss, &mut hnswlib])
        } else {
            interleaved(5, &mut [&mut ours, &mut faiss])
        };
        let recall_of = |v: &serde_json::Value| v[ef.to_string()].as_f64().unwrap_or(f64::NAN);
        let recalls = [recall(&h, &queries, &truth, ef), recall_of(&ready["recall"]), recall_of(&ready["hnswlib"]["recall"])];
        for (side, (secs, r)) in t.iter().zip(recalls).enumerate() {
            rows[side].push((ef, r, nq as f64 / secs));
        }
    }
    println!("| efSearch | fuserec recall@10 | fuserec QPS | FAISS recall@10 | FAISS QPS | hnswlib recall@10 | hnswlib QPS |");
    println!("|---|---|---|---|---|---|---|");
    for (k, (o, t)) in rows[0].iter().zip(&rows[1]).enumerate() {
        let h = rows[2].get(k).map_or("| – | –".to_string(), |h| format!("| {:.4} | {:.0}", h.1, h.2));
        println!("| {} | {:.4} | {:.0} | {:.4} | {:.0} {h} |", o.0, o.1, o.2, t.1, t.2);
    }
    let at = |rows: &[(usize, f64, f64)]| rows.iter().find(|r| r.1 >= 0.95).copied();
    for (name, theirs) in [("FAISS", &rows[1]), ("hnswlib", &rows[2])] {
        match (at(&rows[0]), at(theirs)) {
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
            _ if theirs.is_empty() => println!("\n{name}: not installed (scripts/peer-env installs it)"),
            _ => println!("\n{name}: one side never reaches recall@10 ≥ 0.95 in the sweep"),
        }
    }
    println!("QPS: medians of 5 passes per side, the sides taking turns pass by pass");
}

/// recall@10 of `h` at beam width `ef` against the exact top 10.
fn recall(h: &Hnsw, queries: &Embeddings, truth: &[Vec<(u32, f32)>], ef: usize) -> f64 {
    let hits: usize = queries
        .iter_rows()
        .zip(truth)
        .map(|(q, tr)| h.search_ef(q, 10, Some(ef), &|_| false).expect("search").iter().filter(|g| tr.iter().any(|x| x.0 == g.0)).count())
        .sum();
    hits as f64 / (10 * queries.rows()) as f64
}

/// One pass: every query, one after another on this thread.
fn pass(h: &Hnsw, queries: &Embeddings, ef: usize) {
    for q in queries.iter_rows() {
        std::hint::black_box(h.search_ef(q, 10, Some(ef), &|_| false).expect("search"));
    }
}
