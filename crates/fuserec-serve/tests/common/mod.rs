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

/// Serving the artifact of `[[model]]` `model` trained in `dir` on a free loopback port, its own store,
/// default limits, no token, no image root (callers override fields).
pub fn config(dir: &Path, model: usize) -> ServeConfig {
    ServeConfig {
        source: ModelSource { artifact: dir.join(format!("ck/model{model}-seed1.fuserec")), cache: dir.join("cache") },
        store: dir.join(format!("store{model}/items.redb")).into(),
        addr: "127.0.0.1:0".into(),
        hnsw: Default::default(),
        limits: Limits::default(),
        token: None,
        image_root: None,
    }
}

/// Serve = evaluate: every catalogue item is stored with exactly (bit for bit) the vector the
/// experiment evaluated, as its artifact holds it, and the server's model recomputes that vector
/// from the artifact's weights and statistics (tower part, cold length and content head alike) up
/// to float rounding.
pub fn assert_serves_what_was_evaluated(server: &Server, artifact: &Path) {
    let a = fuserec::artifact::TrainedArtifact::load(artifact).unwrap();
    let m = server.app.model();
    let name = m.config().display_name();
    assert_eq!(a.item_vectors.dim(), m.dim(), "{name}");
    let mut checked = 0;
    for r in server.app.store.all().unwrap() {
        let Some(i) = m.item_row(&r.id) else { continue };
        assert_eq!(r.vector.as_slice(), a.item_vectors.row(i as usize), "{name}: item {} is not stored as evaluated", r.id);
        let c = &m.catalogue[i as usize];
        let gate = fuserec_serve::ServingModel::gate_features(c.exposures, c.clicks, c.created_at, m.t_end);
        let (again, _) = m.embed_catalogue(i, gate).unwrap();
        let worst = again.iter().zip(a.item_vectors.row(i as usize)).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-5, "{name}: item {} (trained {}) recomputes {worst} away from its evaluated vector", r.id, m.trained(i));
        checked += 1;
    }
    assert_eq!(checked, a.n_items(), "{name}: every catalogue item is stored");
    // A never-seen catalogue item embedded through the new-item path (its content row and codes,
    // no id row) gets the vector it was evaluated with: cold length, head row and the item–item
    // row it borrows from its content neighbours alike.
    if let (Some((rows, w)), None) = (&a.content_rows, &a.manifest.tags) {
        let mut borrowing = 0;
        for i in (0..a.n_items() as u32).filter(|&i| !m.trained(i) && m.catalogue[i as usize].exposures == 0) {
            let c = &m.catalogue[i as usize];
            let row = &rows[i as usize * w..(i as usize + 1) * w];
            let codes: Vec<u32> = a.manifest.codes.iter().map(|(c, _)| c[i as usize]).collect();
            let gate = fuserec_serve::ServingModel::gate_features(c.exposures, c.clicks, c.created_at, m.t_end);
            let (new, _) = m.embed_new(row, &codes, gate, None).unwrap();
            let want = a.item_vectors.row(i as usize);
            let worst = new.iter().zip(want).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-5, "{name}: never-seen item {i} embedded as new is {worst} away from its evaluated vector");
            if let Some(ii) = &m.item_item {
                borrowing += want[want.len() - ii.dim()..].iter().any(|&x| x != 0.0) as usize;
            }
        }
        assert_eq!(borrowing > 0, m.blend.borrow && m.blend.item_item > 0.0 && m.item_item.is_some(), "{name}: {:?}", m.blend);
    }
    // With the item–item channel, a history's query ends in its multi-hot row.
    if let Some(c) = &m.item_item {
        let q = m.history_query(&[0, 2, 2]).unwrap();
        assert_eq!(q.len(), m.dim(), "{name}");
        let tail = &q[q.len() - c.dim()..];
        assert!(tail.iter().enumerate().all(|(j, &x)| x == if j == 0 || j == 2 { 1.0 } else { 0.0 }), "{name}: multi-hot");
    }
}
