//! Wall time of the offline jobs embedded and on a loopback Ballista cluster of 1 and 2
//! executors, every cluster output checked against the embedded one (same rows, same bits):
//!
//! ```sh
//! cargo xtask world --scale 10 --format parquet --no-images --out /tmp/world10
//! cargo build --release -p fuserec-offline -p fuserec-cluster --features fuserec-offline/cluster --bins --examples
//! target/release/examples/wall /tmp/world10 [--tasks 2] [--executors 1,2]
//! ```
//!
//! `--cluster df://HOST:PORT` runs the cluster side on a cluster that is already up (e.g.
//! `cargo xtask cluster up --executors 2`) instead of starting loopback clusters of its own.

use fuserec_cluster::{LocalCluster, same_rows};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = PathBuf::from(args.first().expect("usage: wall DIR [--tasks N] [--executors 1,2]"));
    let opt = |k: &str| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).cloned();
    let tasks: usize = opt("--tasks").map_or(2, |v| v.parse().expect("--tasks N"));
    let given = opt("--cluster");
    let counts: Vec<usize> = opt("--executors").unwrap_or("1,2".into()).split(',').map(|v| v.parse().expect("--executors 1,2")).collect();
    let bin = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("fuserec-cluster");
    assert!(
        bin.exists(),
        "{} not built: cargo build --release -p fuserec-offline -p fuserec-cluster --features fuserec-offline/cluster --bins --examples",
        bin.display()
    );
    let work = std::env::temp_dir().join(format!("fuserec-wall-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let s = |p: &Path| p.display().to_string();
    let (log, items) = (s(&data.join("interactions.parquet")), s(&data.join("items.parquet")));
    let text = work.join("text-embedded.parquet");
    // (name, arguments without --out, output is a folder)
    let jobs: Vec<(&str, Vec<String>, bool)> = vec![
        ("statistics of every positive", vec!["stats".into(), "--log".into(), log.clone()], false),
        ("training samples, histories ≤ 100", vec!["samples".into(), "--log".into(), log.clone()], false),
        (
            "cold-start split (4 files)",
            vec!["split".into(), "--log".into(), log.clone(), "--cold".into(), "0.2".into(), "--cold-val".into(), "0.1".into()],
            true,
        ),
        (
            "encode titles (hashed n-grams)",
            vec!["encode".into(), "--items".into(), items.clone(), "--text".into(), "hashed-ngram".into()],
            false,
        ),
        (
            "top-100 of every item against all",
            ["topk", "--queries", &s(&text), "--id", "item", "--column", "text", "--items", &s(&text), "--k", "100"]
                .map(String::from)
                .to_vec(),
            false,
        ),
    ];
    // A file output is read back as Parquet, which wants the extension; the split writes a folder.
    let output = |prefix: &str, i: usize, folder: bool| if folder { format!("{prefix}{i}") } else { format!("{prefix}{i}.parquet") };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let run = |args: &[String], out: &Path, cluster: Option<&str>| -> f64 {
        let mut a = args.to_vec();
        a.extend(["--out".into(), s(out)]);
        if let Some(u) = cluster {
            a.extend(["--cluster".into(), u.into()]);
        }
        let t = Instant::now();
        rt.block_on(fuserec_offline::cli::run(&a)).unwrap_or_else(|e| panic!("{a:?}: {e}"));
        t.elapsed().as_secs_f64()
    };
    let mut table: Vec<Vec<String>> = jobs.iter().map(|j| vec![j.0.to_string()]).collect();
    // Embedded first: its outputs are the reference (the encode output feeds top-K).
    for (i, (name, args, _)) in jobs.iter().enumerate() {
        let out = if *name == "encode titles (hashed n-grams)" { text.clone() } else { work.join(output("e", i, jobs[i].2)) };
        table[i].push(format!("{:.2} s", run(args, &out, None)));
    }
    let counts = if given.is_some() { vec![0] } else { counts };
    for &n in &counts {
        // n = 0: the cluster given with --cluster.
        let started = (n > 0).then(|| LocalCluster::start(&bin, &work.join(format!("cluster{n}")), n, tasks).unwrap());
        let url = started.as_ref().map_or_else(|| given.clone().unwrap(), |c| c.url());
        for (i, (_, args, folder)) in jobs.iter().enumerate() {
            let reference = if i == 3 { text.clone() } else { work.join(output("e", i, *folder)) };
            let out = work.join(output(&format!("c{n}-"), i, *folder));
            let secs = run(args, &out, Some(&url));
            let files: Vec<(PathBuf, PathBuf)> = if *folder {
                ["train", "val", "test_warm", "test_cold"]
                    .iter()
                    .map(|p| (reference.join(format!("{p}.parquet")), out.join(format!("{p}.parquet"))))
                    .collect()
            } else {
                vec![(reference.clone(), out.clone())]
            };
            let mut rows = 0;
            for (a, b) in files {
                rows += rt.block_on(same_rows(&a, &b)).unwrap_or_else(|e| panic!("{e}"));
            }
            table[i].push(format!("{secs:.2} s"));
            if table[i].len() == 2 + counts.len() {
                table[i].push(format!("{rows} rows, equal"));
            }
        }
    }
    let head: Vec<String> = counts
        .iter()
        .map(|&n| match n {
            0 => format!("Ballista at {}", given.as_deref().unwrap_or_default()),
            _ => format!("Ballista, {n} executor{} × {tasks} tasks", if n == 1 { "" } else { "s" }),
        })
        .collect();
    println!("| job | embedded | {} | output |", head.join(" | "));
    println!("|---|---|{}---|", "---|".repeat(counts.len()));
    for r in table {
        println!("| {} |", r.join(" | "));
    }
    let _ = std::fs::remove_dir_all(&work);
}
