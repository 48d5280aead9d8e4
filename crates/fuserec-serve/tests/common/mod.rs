//! What the serving tests share: a small synthetic experiment trained in a scratch directory,
//! a server config for one of its models, and the serve = evaluate check.

use fuserec::ExperimentConfig;
use fuserec::data::Dataset;
use fuserec_serve::{Limits, ModelSource, ServeConfig, Server};
use std::path::{Path, PathBuf};

/// An experiment on the synthetic world at scale 0.3, one seed: `rest` adds the split and models.
pub fn small_world(name: &str, rest: &str) -> String {
    format!("name = \"{name}\"\nseeds = [1]\nk = [10]\nbootstrap = 0\n[dataset]\nkind = \"synthetic\"\nscale = 0.3\n{rest}")
}

/// A fresh scratch directory `<tmp>/<tag>-<pid>` holding `<name>.toml` and the checkpoints of its
/// trained models (`ck/`); returns it with the config and the dataset.
pub fn train(tag: &str, name: &str, toml: &str) -> (PathBuf, ExperimentConfig, Dataset) {
    let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.toml")), toml).unwrap();
    let exp = ExperimentConfig::load(&dir.join(format!("{name}.toml"))).unwrap();
    let opts = fuserec::RunOptions { cache: dir.join("cache"), export_topk: None, log: false, checkpoints: Some(dir.join("ck")) };
    fuserec::run(&exp, &opts).unwrap();
    let ds = fuserec::experiment::load_dataset(&exp.dataset, &dir.join("cache")).unwrap();
    (dir, exp, ds)
}

/// Serving `[[model]]` `model` of `<name>.toml` in `dir` on a free loopback port, its own store,
/// default limits, no token, no image root (callers override fields).
pub fn config(dir: &Path, name: &str, model: usize) -> ServeConfig {
    ServeConfig {
        source: ModelSource {
            experiment: dir.join(format!("{name}.toml")),
            model,
            checkpoint: dir.join(format!("ck/model{model}-seed1.safetensors")),
            seed: None,
            cache: dir.join("cache"),
        },
        store: dir.join(format!("store{model}/items.redb")),
        addr: "127.0.0.1:0".into(),
        hnsw: Default::default(),
        limits: Limits::default(),
        token: None,
        image_root: None,
    }
}

/// Serve = evaluate: every catalogue item is stored with the vector the experiment evaluated
/// (tower part, cold length and content head alike), up to float rounding.
pub fn assert_serves_what_was_evaluated(server: &Server) {
    let m = server.app.model();
    assert_eq!(m.catalogue_vectors.dim(), m.dim(), "{}", m.config().display_name());
    for r in server.app.store.all().unwrap() {
        let Some(i) = m.dataset.items.get(&r.id) else { continue };
        let worst = r.vector.iter().zip(m.catalogue_vectors.row(i as usize)).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(
            worst < 1e-5,
            "{}: item {} (trained {}) is stored {worst} away from its evaluated vector",
            m.config().display_name(),
            r.id,
            m.trained[i as usize]
        );
    }
}
