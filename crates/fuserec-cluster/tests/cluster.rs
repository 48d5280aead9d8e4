//! The offline jobs on a real Ballista cluster on loopback (this crate's scheduler and two
//! executors, separate processes) against the embedded engine: the same rows, the same bits; an
//! executor killed mid-job; a corrupt input and an unreachable scheduler named in the error.

use fuserec_cluster::local::free_port;
use fuserec_cluster::{LocalCluster, same_rows};
use fuserec_data::synthetic::{TableFormat, World, WorldConfig};
use std::path::Path;
use std::time::Duration;

/// Runs one `fuserec-offline` command line.
fn offline(args: &[&str]) -> Result<(), String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(fuserec_offline::cli::run(&args)).map_err(|e| e.to_string())
}

fn same(a: &Path, b: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let n = rt.block_on(same_rows(a, b)).unwrap_or_else(|e| panic!("{e}"));
    assert!(n > 0, "{}: no rows", a.display());
}

#[test]
fn offline_jobs_on_the_cluster_equal_the_embedded_run() {
    let dir = std::env::temp_dir().join(format!("fuserec-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("world");
    let cfg = WorldConfig { users: 300, items: 400, impressions_per_user: 40, searches_per_user: 0.0, ..Default::default() };
    World::generate(&cfg).unwrap().write_as(&data, TableFormat::Parquet, true).unwrap();
    let cluster = LocalCluster::start(Path::new(env!("CARGO_BIN_EXE_fuserec-cluster")), &dir, 2, 2).unwrap();
    let url = cluster.url();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let log = s(&data.join("interactions.parquet"));
    let items = s(&data.join("items.parquet"));

    // Each job both ways; the outputs hold the same rows with the same bits.
    for (name, args) in [
        ("stats", vec!["stats", "--log", &log]),
        ("samples", vec!["samples", "--log", &log, "--history", "20"]),
        ("encode", vec!["encode", "--items", &items, "--text", "hashed-ngram", "--image", "color-hist"]),
        ("text", vec!["encode", "--items", &items, "--text", "hashed-ngram"]),
    ] {
        let (e, c) = (dir.join(format!("{name}-embedded.parquet")), dir.join(format!("{name}-cluster.parquet")));
        let mut a = args.clone();
        a.extend(["--out", e.to_str().unwrap(), "--partitions", "2"]);
        offline(&a).unwrap();
        let mut a = args.clone();
        a.extend(["--out", c.to_str().unwrap(), "--cluster", &url]);
        offline(&a).unwrap_or_else(|e| panic!("{name} on the cluster: {e}"));
        same(&e, &c);
    }
    // The split writes four files.
    let (se, sc) = (dir.join("split-embedded"), dir.join("split-cluster"));
    offline(&["split", "--log", &log, "--out", &s(&se), "--cold", "0.2"]).unwrap();
    offline(&["split", "--log", &log, "--out", &s(&sc), "--cold", "0.2", "--cluster", &url]).unwrap();
    for part in ["train", "val", "test_warm", "test_cold"] {
        same(&se.join(format!("{part}.parquet")), &sc.join(format!("{part}.parquet")));
    }
    // Cluster codes from a tree fitted on the text vectors, and top-K of every item's vector.
    let text = dir.join("text-embedded.parquet");
    let (ids, rows, dim) = fuserec_data::columnar::read_embeddings(&text).unwrap();
    assert_eq!(ids.len(), 400);
    let x = fuserec_quant::Embeddings::from_vec(ids.len(), dim, rows).unwrap();
    let tree =
        fuserec_quant::HierarchicalKMeans::fit(&x, &fuserec_quant::TreeConfig { branching: 4, depth: 2, ..Default::default() }).unwrap();
    let tree_file = dir.join("tree.safetensors");
    fuserec_quant::save(fuserec_quant::Saved::Tree(&tree), &tree_file).unwrap();
    for (name, args) in [
        ("codes", vec!["codes", "--vectors", &s(&text), "--column", "text", "--quantizer", &s(&tree_file)]),
        ("topk", vec!["topk", "--queries", &s(&text), "--id", "item", "--column", "text", "--items", &s(&text), "--k", "10"]),
    ] {
        let (e, c) = (dir.join(format!("{name}-embedded.parquet")), dir.join(format!("{name}-cluster.parquet")));
        let mut a = args.clone();
        a.extend(["--out", e.to_str().unwrap()]);
        offline(&a).unwrap();
        let mut a = args.clone();
        a.extend(["--out", c.to_str().unwrap(), "--cluster", &url]);
        offline(&a).unwrap_or_else(|e| panic!("{name} on the cluster: {e}"));
        same(&e, &c);
    }

    // A corrupt Parquet file: an error naming it, and no output.
    let bad = dir.join("corrupt.parquet");
    std::fs::write(&bad, b"PAR1 this is not a parquet file PAR1").unwrap();
    let out = dir.join("never.parquet");
    let e = offline(&["stats", "--log", &s(&bad), "--out", &s(&out), "--cluster", &url]).unwrap_err();
    assert!(e.contains("corrupt.parquet"), "{e}");
    assert!(!out.exists() && !out.with_extension("parquet.partial").exists());
    // No scheduler there: a clear error at once.
    let e = offline(&["stats", "--log", &log, "--out", &s(&out), "--cluster", &format!("df://127.0.0.1:{}", free_port())]).unwrap_err();
    assert!(e.contains("no Ballista scheduler") && e.contains("cargo xtask cluster up"), "{e}");
    let e = offline(&["stats", "--log", &log, "--out", &s(&out), "--cluster", "http://nowhere"]).unwrap_err();
    assert!(e.contains("df://HOST:PORT"), "{e}");

    // An executor killed while a job runs: the scheduler re-runs its tasks on the other one and
    // the output is complete and equal, or the job fails with an error and leaves no output;
    // never a silently partial file.
    let mut cluster = cluster;
    let victim = cluster.executors.remove(0);
    let (tx, rx) = std::sync::mpsc::channel();
    let out = dir.join("samples-killed.parquet");
    let job = {
        let (log, out, url) = (log.clone(), s(&out), url.clone());
        std::thread::spawn(move || {
            let r = offline(&["samples", "--log", &log, "--history", "20", "--out", &out, "--cluster", &url, "--stall-secs", "20"]);
            tx.send(()).unwrap();
            r
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut victim = victim;
    victim.kill().unwrap();
    victim.wait().unwrap();
    let r = rx.recv_timeout(Duration::from_secs(120)).map(|_| job.join().unwrap());
    match r {
        Ok(Ok(())) => same(&dir.join("samples-embedded.parquet"), &out),
        Ok(Err(e)) => {
            assert!(
                !out.exists() && !Path::new(&format!("{}.partial", out.display())).exists(),
                "a failed job left {}: {e}",
                out.display()
            );
            assert!(e.contains("samples-killed.parquet"), "the error names the output: {e}");
            eprintln!("executor killed mid-job: {e}");
        }
        Err(_) => panic!("the job neither finished nor failed within 120 s after an executor died"),
    }
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}
