//! `fuserec-serve --artifact <model<i>-seed<s>.fuserec> --store <items.redb | redis-cluster://HOST:PORT,…> [--addr HOST:PORT] …`

use fuserec_serve::{Limits, ModelSource, ServeConfig, Server, Token};
use std::path::PathBuf;

const HELP: &str = "fuserec-serve: HTTP recall service with near-line item ingestion

  --artifact DIR        the trained model: results/<exp>/<run>/checkpoints/model<i>-seed<s>.fuserec
                        (written by `cargo xtask experiment`; nothing is re-trained or re-split)
  --store FILE|redis-cluster://HOST:PORT[,HOST:PORT…]
                        item store: a redb file, or a Redis Cluster (sharded and replicated;
                        `cargo xtask cluster up` starts one on loopback); filled with the
                        catalogue on first start
  --addr HOST:PORT      listen address (default 127.0.0.1:8080; port 0 = any free port);
                        a non-loopback address needs a write token
  --token-file FILE     bearer token for POST /items and POST /stats (or FUSEREC_SERVE_TOKEN;
                        at least 16 characters); without one, writes are open and the server
                        listens on loopback only
  --image-root DIR      accept `image_path` relative to DIR (default: images by bytes only)
  --ef N                HNSW search beam (default 64)
limits (defaults in brackets):
  --max-body BYTES      largest request body [8000000]
  --max-k N             largest k of a recall [1000]
  --max-items N         most item ids in one recall [512]
  --max-image-bytes N   largest image file or payload [5000000]
  --max-image-side PX   largest image width/height [8192]
  --timeout-secs S      answer 503 after S seconds [30]
  --max-concurrent N    requests in flight before 503 [64]

environment: FUSEREC_CACHE_DIR (pretrained encoders), FUSEREC_SERVE_TOKEN
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
    let known = [
        "--artifact",
        "--store",
        "--addr",
        "--ef",
        "--token-file",
        "--image-root",
        "--max-body",
        "--max-k",
        "--max-items",
        "--max-image-bytes",
        "--max-image-side",
        "--timeout-secs",
        "--max-concurrent",
    ];
    if let Some(a) = args.iter().step_by(2).find(|a| !known.contains(&a.as_str())) {
        if ["--experiment", "--checkpoint", "--model", "--seed"].contains(&a.as_str()) {
            return Err(format!(
                "`{a}` is gone: the server loads the trained artifact an experiment writes, \
                 `--artifact results/<exp>/<run>/checkpoints/model<i>-seed<s>.fuserec`\n\n{HELP}"
            ));
        }
        return Err(format!("unknown option `{a}`\n\n{HELP}"));
    }
    let need = |name: &str| flag(name)?.ok_or_else(|| format!("missing {name}\n\n{HELP}"));
    let num = |name: &str, default: usize| -> Result<usize, String> {
        flag(name)?.map_or(Ok(default), |v| v.parse().map_err(|_| format!("{name} `{v}` is not a number")))
    };
    let cache = std::env::var_os("FUSEREC_CACHE_DIR").map(PathBuf::from).unwrap_or_else(fuserec::data::assets::cache_dir);
    let d = Limits::default();
    let limits = Limits {
        max_body_bytes: num("--max-body", d.max_body_bytes)?,
        max_k: num("--max-k", d.max_k)?,
        max_items_per_request: num("--max-items", d.max_items_per_request)?,
        max_image_bytes: num("--max-image-bytes", d.max_image_bytes)?,
        max_image_side: num("--max-image-side", d.max_image_side as usize)?.min(u32::MAX as usize) as u32,
        request_timeout: std::time::Duration::from_secs(num("--timeout-secs", d.request_timeout.as_secs() as usize)?.max(1) as u64),
        max_concurrent: num("--max-concurrent", d.max_concurrent)?.max(1),
        ..d
    };
    let token = match (flag("--token-file")?, std::env::var("FUSEREC_SERVE_TOKEN").ok()) {
        (Some(f), _) => Some(Token::from_file(std::path::Path::new(&f))?),
        (None, Some(t)) => Some(Token::new(&t).map_err(|e| format!("FUSEREC_SERVE_TOKEN: {e}"))?),
        (None, None) => None,
    };
    let image_root = flag("--image-root")?.map(PathBuf::from);
    if let Some(r) = image_root.as_ref().filter(|r| !r.is_dir()) {
        return Err(format!("--image-root {}: not a directory", r.display()));
    }
    let cfg = ServeConfig {
        source: ModelSource { artifact: PathBuf::from(need("--artifact")?), cache },
        store: fuserec_serve::StoreSpec::parse(&need("--store")?),
        addr: flag("--addr")?.unwrap_or_else(|| "127.0.0.1:8080".into()),
        hnsw: fuserec::index::HnswConfig { ef_search: num("--ef", 64)?, ..Default::default() },
        limits,
        token,
        image_root,
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
