//! Checks that each library crate stands on its own: documentation (every public item, every
//! link), the doctests of every README, the README's three-crate program built in a fresh
//! project outside the workspace, and publishable manifests (`cargo package`).

use crate::{cargo, command, root};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// rustdoc with every warning an error: a missing doc comment (every library crate has
/// `#![warn(missing_docs)]`), a broken or private link. The whole workspace, so that features
/// resolve as for clippy and the dependencies' metadata is reused, not rebuilt.
pub fn docs() -> Result<()> {
    eprintln!("$ RUSTDOCFLAGS=\"-D warnings\" cargo doc --no-deps --workspace");
    let st = command(&["doc", "--no-deps", "--workspace"]).env("RUSTDOCFLAGS", "-D warnings").status().context("running cargo")?;
    if !st.success() {
        bail!("`cargo doc` found undocumented items or broken links ({st})");
    }
    Ok(())
}

/// The doctests (every crate's README example, and the repository README's). The whole
/// workspace (the crates without doctests say so in their manifests), so that features resolve
/// as for the test build and nothing is compiled twice.
pub fn doctests() -> Result<()> {
    cargo(&["test", "--doc", "--workspace", "--no-fail-fast"])
}

/// Every library crate packages for crates.io, in dependency order (workspace dependencies carry
/// versions; descriptions, keywords, categories and READMEs are present). Left out: the Python
/// extension (built by maturin), the task runner and the benches, none of them published.
pub fn package() -> Result<()> {
    cargo(&[
        "package",
        "--workspace",
        "--no-verify",
        "--allow-dirty",
        "--quiet",
        "--exclude",
        "fuserec-py",
        "--exclude",
        "xtask",
        "--exclude",
        "fuserec-benches",
    ])
}

/// The README's "Using one crate" program, compiled in a new project that depends on
/// `fuserec-quant`, `fuserec-index` and `fuserec-eval` by path and on nothing else, and run (it
/// asserts its own result). Its own target directory: nothing of the workspace build is reused.
pub fn standalone() -> Result<()> {
    let readme = std::fs::read_to_string(root().join("README.md")).context("reading README.md")?;
    let section = readme.split("\n## Using one crate\n").nth(1).context("README.md has no `## Using one crate` section")?;
    let program = section
        .split("```rust\n")
        .nth(1)
        .and_then(|s| s.split("\n```").next())
        .context("the `Using one crate` section has no ```rust block")?;
    if !program.contains("fn main") {
        bail!("the first ```rust block of `Using one crate` must be a whole program (fn main)");
    }
    let target = crate::target_dir();
    let dir = target.join("standalone");
    std::fs::create_dir_all(dir.join("src"))?;
    let dep = |c: &str| format!("{c} = {{ path = {:?} }}\n", root().join("crates").join(c).display().to_string());
    let manifest = format!(
        "[package]\nname = \"standalone\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         # Its own workspace: nothing is inherited from fuserec's.\n[workspace]\n\n[dependencies]\n{}{}{}",
        dep("fuserec-quant"),
        dep("fuserec-index"),
        dep("fuserec-eval")
    );
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    std::fs::write(dir.join("src").join("main.rs"), format!("{program}\n"))?;
    // The workspace's lock file pins the same versions the workspace builds with (cargo drops
    // what the project does not use).
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).context("copying Cargo.lock")?;
    let manifest_path: PathBuf = dir.join("Cargo.toml");
    let own_target = dir.join("target");
    eprintln!("$ cargo run --manifest-path {} (README program, outside the workspace)", manifest_path.display());
    let st = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["run", "--quiet", "--manifest-path"])
        .arg(&manifest_path)
        .env("CARGO_TARGET_DIR", &own_target)
        .current_dir(&dir)
        .status()
        .context("running cargo")?;
    if !st.success() {
        bail!("the README's three-crate program failed outside the workspace ({st})");
    }
    Ok(())
}

/// All of the above, in cost order.
pub fn check() -> Result<()> {
    docs()?;
    package()?;
    doctests()?;
    standalone()
}
