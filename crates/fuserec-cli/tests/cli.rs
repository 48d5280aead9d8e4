//! The `fuserec` binary as a user runs it: exit codes, messages, files written.

use std::process::Command;

fn fuserec(args: &[&str], cache: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fuserec")).args(args).env("FUSEREC_CACHE_DIR", cache).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn commands_fail_clearly_and_world_writes_a_loadable_dataset() {
    let dir = std::env::temp_dir().join(format!("fuserec-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (code, out, _) = fuserec(&["help"], &dir);
    assert_eq!(code, 0);
    assert!(out.contains("experiment <name|path.toml>") && out.contains("serve-bench"), "{out}");
    let (code, _, err) = fuserec(&["train-everything"], &dir);
    assert_eq!(code, 1);
    assert!(err.contains("unknown command `train-everything`"), "{err}");
    let (code, _, err) = fuserec(&["experiment", "no-such-experiment"], &dir);
    assert_eq!(code, 1);
    assert!(err.contains("no experiment `no-such-experiment`") && err.contains("quickstart"), "names the known ones: {err}");
    let (code, _, err) = fuserec(&["experiment", "quickstart", "--sedes", "1"], &dir);
    assert_eq!(code, 1);
    assert!(err.contains("unknown option `--sedes`"), "{err}");
    let (code, out, _) = fuserec(&["list"], &dir);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l == "quickstart") && out.lines().any(|l| l == "ml100k-leaderboard"), "{out}");
    // A bad config names its file.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"bad\"\nkind = \"ranking\"\n").unwrap();
    let (code, _, err) = fuserec(&["experiment", bad.to_str().unwrap()], &dir);
    assert_eq!(code, 1);
    assert!(err.contains("bad.toml") && err.contains("unknown experiment kind `ranking`"), "{err}");
    // `world` writes the synthetic world in the dataset layout a `dir` dataset reads.
    let world = dir.join("world");
    let (code, _, err) = fuserec(&["world", "--seed", "3", "--scale", "0.05", "--out", world.to_str().unwrap()], &dir);
    assert_eq!(code, 0, "{err}");
    let ds = fuserec::data::load_dir(&world, &Default::default()).unwrap();
    assert!(ds.n_items() > 0 && ds.n_users() > 0 && !ds.interactions.is_empty());
    // The same world as Parquet without images; `load` reads either and reports the same counts.
    let pq = dir.join("world-pq");
    let (code, _, err) =
        fuserec(&["world", "--seed", "3", "--scale", "0.05", "--format", "parquet", "--no-images", "--out", pq.to_str().unwrap()], &dir);
    assert_eq!(code, 0, "{err}");
    assert!(pq.join("interactions.parquet").is_file() && std::fs::read_dir(pq.join("images")).unwrap().next().is_none());
    let counts = |out: &str| out.lines().next().unwrap().split_once(": ").unwrap().1.to_string();
    let (code, a, err) = fuserec(&["load", world.to_str().unwrap()], &dir);
    assert_eq!(code, 0, "{err}");
    let (code, b, err) = fuserec(&["load", pq.to_str().unwrap()], &dir);
    assert_eq!(code, 0, "{err}");
    assert_eq!(counts(&a), counts(&b));
    assert!(b.contains(&format!("{} interactions", ds.interactions.len())) && b.contains("peak resident memory"), "{b}");
    let (code, _, err) = fuserec(&["world", "--format", "feather", "--out", pq.to_str().unwrap()], &dir);
    assert_eq!(code, 1);
    assert!(err.contains("unknown table format `feather`"), "{err}");
    let (code, _, err) = fuserec(&["load", dir.join("nowhere").to_str().unwrap()], &dir);
    assert_eq!(code, 1);
    assert!(err.contains("nowhere") && err.contains("not found"), "{err}");
    // `encode --out` exports each modality keyed by raw item id: the file an `embeddings:`
    // modality reads, holding exactly the encoder's rows of the items that have the modality.
    let emb = dir.join("emb");
    let (code, out, err) = fuserec(
        &["encode", "--dataset", world.to_str().unwrap(), "--text", "hashed-ngram", "--image", "none", "--out", emb.to_str().unwrap()],
        &dir,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("text.parquet"), "{out}");
    let k = fuserec::features::read_keyed(&emb.join("text.parquet")).unwrap();
    let f = fuserec::ItemFeatures::encode(&ds, Some(&fuserec::encoders::HashedNgramText::default()), None).unwrap();
    let t = f.text().unwrap();
    assert_eq!(k.ids.len(), t.mask.iter().filter(|&&m| m).count());
    assert_eq!(k.dim, t.rows.dim());
    for (r, id) in k.ids.iter().enumerate().step_by(7) {
        let i = ds.items.get(id).unwrap() as usize;
        assert_eq!(&k.values[r * k.dim..(r + 1) * k.dim], t.rows.row(i), "item {id}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
