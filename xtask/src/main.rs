//! `cargo xtask <command>`: the project's task runner. `test` and `peer` are its own; every other
//! command is the `fuserec` binary (crates/fuserec-cli), built and run in the release profile.

mod cluster;
mod crates;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

const HELP: &str = "\
cargo xtask <command>

commands of the task runner:
  test  the test suite: `cargo fmt --all --check`, `cargo clippy --workspace --all-targets -D warnings`
        (this type-checks the benches too), fetch assets (required when FUSEREC_REQUIRE_ASSETS=1),
        then `cargo nextest run --workspace` (cargo test if nextest is absent), then the Python
        package's pytest suite (scripts/python-tests: a venv under the cache, the extension built
        by maturin; FUSEREC_SKIP_PYTHON=1 leaves it out, never in CI), with `crates` (below)
        between the two; everything in the test
        profile (the `fuserec` binary that fetches the assets too), so no optimised build of the
        workspace is needed
  peer [encoders|kmeans|two-tower|hnsw]
        against peers on the same inputs, with the ratio: pretrained encoders vs PyTorch
        (benches/peers/encoders_peer.py), k-means iteration vs FAISS (kmeans_peer.py),
        id-only two-tower training step vs PyTorch (two_tower_peer.py), HNSW vs FAISS
        IndexHNSWFlat at recall@10 ≥ 0.95 (hnsw_peer.py). scripts/peer-env installs the peers
        (Debian's python3-torch with the pthread OpenBLAS; faiss-cpu and hnswlib from PyPI in a
        venv); benches/peers/fair.py puts each in its best configuration (OPENBLAS_CORETYPE for
        this CPU, OMP_WAIT_POLICY=PASSIVE, BLAS threads = its threads); both sides print their
        BLAS kernel and sgemm rate, and no ratio is printed for a peer whose BLAS runs a generic
        kernel or below half our rate
  offline <job> [options]
        the offline jobs as DataFusion plans over Parquet (crates/fuserec-offline, built on
        first use): stats, samples, split, encode, codes, topk; embedded, or on a Ballista
        cluster with --cluster df://HOST:PORT; `cargo xtask offline --help`
  cluster up [--executors 2] [--store-nodes 6] | down | status
        a Ballista scheduler and executors (crates/fuserec-cluster) and a Redis Cluster for the
        serving store (scripts/redis-cluster), on 127.0.0.1; `cargo xtask cluster` for options
  crates
        each library crate on its own (also part of `test`): rustdoc with -D missing_docs -D
        warnings, `cargo package` of every library crate, the doctests (every crate README's
        example and the repository README's), and the README's three-crate program built and run
        in a fresh project outside the workspace

every other command runs `fuserec <command>` (crates/fuserec-cli) in the release profile:
";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.first().copied() {
        Some("test") => test(),
        Some("crates") => crates::check(),
        Some("cluster") => cluster::run(&args[1..]),
        Some("peer") => peer(args.get(1).copied()),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            fuserec(&["help"])
        }
        Some("serve-bench") => {
            cargo(&["build", "--release", "-q", "-p", "fuserec-serve"])?;
            fuserec(&args)
        }
        Some("offline") => {
            let bin = engine_binary("fuserec-offline")?;
            let st = std::process::Command::new(&bin).args(&args[1..]).status().with_context(|| format!("running {}", bin.display()))?;
            if !st.success() {
                std::process::exit(st.code().unwrap_or(1));
            }
            Ok(())
        }
        Some(_) => fuserec(&args),
    }
}

/// `cargo run --release -p fuserec-cli -- <args>`, quietly, with this process's exit status.
fn fuserec(args: &[&str]) -> Result<()> {
    let mut all = vec!["run", "-q", "--release", "-p", "fuserec-cli", "--"];
    all.extend_from_slice(args);
    let st = command(&all).status().context("running cargo")?;
    if !st.success() {
        std::process::exit(st.code().unwrap_or(1));
    }
    Ok(())
}

fn peer(which: Option<&str>) -> Result<()> {
    // The peers as their users install them (idempotent); the FAISS side runs in its venv.
    let out = std::process::Command::new(root().join("scripts/peer-env")).output().context("running scripts/peer-env")?;
    if !out.status.success() {
        bail!("scripts/peer-env failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let faiss_python = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let example = |name: &str| -> Result<()> {
        let args = ["run", "--release", "-q", "-p", "fuserec-benches", "--example", name];
        eprintln!("$ cargo {}", args.join(" "));
        let mut c = command(&args);
        if std::env::var_os("FUSEREC_FAISS_PYTHON").is_none() {
            c.env("FUSEREC_FAISS_PYTHON", &faiss_python);
        }
        let st = c.status().context("running cargo")?;
        if !st.success() {
            bail!("`cargo {}` failed ({st})", args.join(" "));
        }
        Ok(())
    };
    match which {
        Some("encoders") => example("peer"),
        Some("kmeans") => example("kmeans_peer"),
        Some("two-tower") => example("two_tower_peer"),
        Some("hnsw") => example("hnsw_peer"),
        None => ["peer", "kmeans_peer", "two_tower_peer", "hnsw_peer"].into_iter().try_for_each(example),
        Some(other) => bail!("unknown peer `{other}` (encoders, kmeans, two-tower, hnsw)"),
    }
}

fn command(args: &[&str]) -> std::process::Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut c = std::process::Command::new(cargo);
    c.args(args).current_dir(root());
    c
}

/// The cargo target directory (`CARGO_TARGET_DIR`, relative to the checkout, or `target/`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), |d| root().join(d))
}

/// Builds the engine binaries (`fuserec-offline` with its cluster client and `fuserec-cluster`)
/// in one release build, so DataFusion and Ballista are compiled once with one set of features
/// for both, and returns the path of `name`.
fn engine_binary(name: &str) -> Result<PathBuf> {
    cargo(&["build", "--release", "-q", "-p", "fuserec-offline", "-p", "fuserec-cluster", "--features", "fuserec-offline/cluster"])?;
    Ok(target_dir().join("release").join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
}

fn cargo(args: &[&str]) -> Result<()> {
    eprintln!("$ cargo {}", args.join(" "));
    let st = command(args).status().context("running cargo")?;
    if !st.success() {
        bail!("`cargo {}` failed ({st})", args.join(" "));
    }
    Ok(())
}

/// `FUSEREC_REQUIRE_ASSETS=1` (CI): a test that needs a missing asset fails instead of skipping.
fn assets_required() -> bool {
    std::env::var("FUSEREC_REQUIRE_ASSETS").is_ok_and(|v| v == "1")
}

fn test() -> Result<()> {
    // Style gates first (cheap), then the build, the assets and the tests, so the test runner's
    // summary is printed last.
    cargo(&["fmt", "--all", "--check"]).context("`cargo fmt --all` would change files: run it")?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    // Build the tests first: that also builds the `fuserec` binary (its integration tests run it)
    // with the test build's features, so fetching the assets with it compiles nothing twice.
    let nextest = command(&["nextest", "--version"]).output().is_ok_and(|o| o.status.success());
    if nextest {
        cargo(&["nextest", "run", "--workspace", "--no-run"])?;
    } else {
        cargo(&["test", "--workspace", "--no-run"])?;
    }
    let bin = target_dir().join("debug").join(format!("fuserec{}", std::env::consts::EXE_SUFFIX));
    eprintln!("$ {} assets", bin.display());
    let fetched = std::process::Command::new(&bin).arg("assets").status().with_context(|| format!("running {}", bin.display()))?;
    if !fetched.success() {
        if assets_required() {
            bail!("FUSEREC_REQUIRE_ASSETS=1: asset tests must run, and `fuserec assets` failed");
        }
        eprintln!("warning: `fuserec assets` failed; asset tests will skip");
    }
    // The serving store's tests start Redis Clusters of their own: the server (Redis 8, built
    // from Debian's source archive) is built once here, not by tests racing to build it.
    let redis = std::process::Command::new("bash").arg(root().join("scripts/redis-cluster")).args(["install", "-"]).status();
    if !redis.is_ok_and(|s| s.success()) {
        if assets_required() {
            bail!(
                "FUSEREC_REQUIRE_ASSETS=1: the Redis Cluster tests must run, and Redis 8 could not be built (scripts/redis-cluster install -)"
            );
        }
        eprintln!("warning: Redis 8 could not be built; the Redis Cluster tests will skip");
    }
    let rust = if nextest {
        cargo(&["nextest", "run", "--workspace", "--no-fail-fast"])
    } else {
        eprintln!("cargo-nextest not found; using cargo test");
        cargo(&["test", "--workspace", "--no-fail-fast"])
    };
    // Each crate on its own: docs, manifests, doctests, the README program outside the workspace.
    let standalone = crates::check();
    // The Python suite runs even when a Rust test failed (all results are reported).
    let python = python_tests(&bin);
    rust.and(standalone).and(python)
}

/// `scripts/python-tests` with the `fuserec` binary just built (the suite compares against it).
fn python_tests(bin: &Path) -> Result<()> {
    if std::env::var_os("FUSEREC_SKIP_PYTHON").is_some() {
        if std::env::var_os("CI").is_some() {
            bail!("FUSEREC_SKIP_PYTHON is set in CI: the Python tests must run");
        }
        eprintln!("FUSEREC_SKIP_PYTHON set: the Python tests are left out");
        return Ok(());
    }
    let script = root().join("scripts").join("python-tests");
    eprintln!("$ {}", script.display());
    let status = std::process::Command::new("bash")
        .arg(&script)
        .env("FUSEREC_CLI", bin)
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        bail!("the Python tests failed ({status})");
    }
    Ok(())
}
