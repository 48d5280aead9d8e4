//! `fuserec-serve --experiment <cfg.toml> --checkpoint <model<i>-seed<s>.safetensors> --store <items.redb> [--model I] [--addr HOST:PORT]`

use fuserec_serve::{ModelSource, ServeConfig, Server};
use std::path::PathBuf;

const HELP: &str = "fuserec-serve: HTTP recall service with near-line item ingestion

  --experiment FILE     the experiment config the model was trained with
  --checkpoint FILE     results/<exp>/<run>/checkpoints/model<i>-seed<s>.safetensors
  --store FILE          item store (redb); created and filled with the catalogue on first start
  --model I             which [[model]] of the config (default: from the checkpoint name)
  --seed S              training seed (default: from the checkpoint name)
  --addr HOST:PORT      listen address (default 127.0.0.1:8080; port 0 = any free port)
  --max-body BYTES      largest request body (default 8000000)
  --ef N                HNSW search beam (default 64)

environment: FUSEREC_CACHE_DIR (assets, features, synthetic worlds)
";

fn main() {
    fuserec::nn::retain_freed_memory();
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return Ok(());
    }
    let flag = |name: &str| -> Result<Option<String>, String> {
        match args.iter().position(|a| a == name) {
            Some(i) => args.get(i + 1).cloned().map(Some).ok_or_else(|| format!("{name} needs a value")),
            None => Ok(None),
        }
    };
    let known = ["--experiment", "--checkpoint", "--store", "--model", "--seed", "--addr", "--max-body", "--ef"];
    if let Some(a) = args.iter().step_by(2).find(|a| !known.contains(&a.as_str())) {
        return Err(format!("unknown option `{a}`\n\n{HELP}"));
    }
    let need = |name: &str| flag(name)?.ok_or_else(|| format!("missing {name}\n\n{HELP}"));
    let checkpoint = PathBuf::from(need("--checkpoint")?);
    let name = checkpoint.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let model = match flag("--model")? {
        Some(m) => m.parse().map_err(|_| format!("--model `{m}` is not a number"))?,
        None => name.strip_prefix("model").and_then(|r| r.split('-').next()).and_then(|n| n.parse().ok()).ok_or_else(|| format!("cannot read the model index from `{name}`: pass --model"))?,
    };
    let seed = flag("--seed")?.map(|s| s.parse().map_err(|_| format!("--seed `{s}` is not a number"))).transpose()?;
    let num = |name: &str, default: usize| -> Result<usize, String> { flag(name)?.map_or(Ok(default), |v| v.parse().map_err(|_| format!("{name} `{v}` is not a number"))) };
    let cache = std::env::var_os("FUSEREC_CACHE_DIR").map(PathBuf::from).unwrap_or_else(fuserec::data::assets::cache_dir);
    let cfg = ServeConfig {
        source: ModelSource { experiment: PathBuf::from(need("--experiment")?), model, checkpoint, seed, cache },
        store: PathBuf::from(need("--store")?),
        addr: flag("--addr")?.unwrap_or_else(|| "127.0.0.1:8080".into()),
        max_body_bytes: num("--max-body", 8_000_000)?,
        hnsw: fuserec::index::HnswConfig { ef_search: num("--ef", 64)?, ..Default::default() },
        max_k: 1000,
    };
    let t = std::time::Instant::now();
    let server = Server::start(cfg).map_err(|e| e.to_string())?;
    let (stored, indexed) = server.app.counts();
    // The first stdout line is the address (serve-bench and scripts read it).
    println!("listening on {}", server.addr);
    eprintln!("{stored} items stored, {indexed} indexed, ready in {:.1}s", t.elapsed().as_secs_f64());
    server.wait();
    Ok(())
}
