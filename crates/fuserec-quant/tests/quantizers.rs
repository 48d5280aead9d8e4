use fuserec_core::{Embeddings, Rng};
use fuserec_quant::{
    HierarchicalKMeans, KMeans, KMeansConfig, Quantizer, ResidualConfig, ResidualKMeans, Saved, TreeConfig, load, quality, save,
};

fn gaussian(n: usize, d: usize, seed: u64) -> Embeddings {
    let mut r = Rng::new(seed);
    Embeddings::from_vec(n, d, (0..n * d).map(|_| r.normal() as f32).collect()).unwrap()
}

fn sq(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[test]
fn tree_codes_are_consistent() {
    let x = gaussian(4000, 8, 1);
    let t = HierarchicalKMeans::fit(&x, &TreeConfig { branching: 4, depth: 3, seed: 7, max_iter: 20 }).unwrap();
    assert_eq!(t.levels.len(), 3);
    assert_eq!(t.levels[0].parent.len(), 4);
    for level in 1..3 {
        let (lv, up) = (&t.levels[level], &t.levels[level - 1]);
        for (node, &p) in lv.parent.iter().enumerate() {
            // The child's centroid lies in its parent's Voronoi region among the parent's siblings.
            let siblings: Vec<u32> =
                if level == 1 { (0..up.parent.len() as u32).collect() } else { t.children(level - 2, up.parent[p as usize]).collect() };
            let c = lv.centroids.row(node);
            let best = siblings
                .iter()
                .copied()
                .min_by(|&a, &b| sq(c, up.centroids.row(a as usize)).total_cmp(&sq(c, up.centroids.row(b as usize))))
                .unwrap();
            assert_eq!(best, p, "level {level} node {node}");
            assert!(t.children(level - 1, p).contains(&(node as u32)));
        }
    }
    // Every item's path follows parent links, and re-encoding the training rows gives their codes.
    let codes = t.encode(&x).unwrap();
    for i in 0..x.rows() {
        let path = t.train_codes.path(i);
        assert_eq!(t.levels[1].parent[path[1] as usize], path[0]);
        assert_eq!(t.levels[2].parent[path[2] as usize], path[1]);
    }
    let same = (0..x.rows()).filter(|&i| codes.path(i) == t.train_codes.path(i)).count();
    assert!(same as f64 / x.rows() as f64 > 0.98, "greedy encode agrees with fit on {same}/{}", x.rows());
}

#[test]
fn tree_handles_nodes_smaller_than_branching() {
    let x = gaussian(20, 3, 2);
    let t = HierarchicalKMeans::fit(&x, &TreeConfig { branching: 16, depth: 3, seed: 1, max_iter: 10 }).unwrap();
    // 20 items, b = 16: level 0 has 16 nodes; small nodes give one child per item.
    assert_eq!(t.levels[0].parent.len(), 16);
    assert_eq!(t.levels[1].parent.len(), 20);
    assert_eq!(t.levels[2].parent.len(), 20);
    let q = quality(&t, &x, &t.train_codes).unwrap();
    assert_eq!(q.collision_rate, 0.0);
    assert!(q.levels[2].mse < 1e-10, "each leaf is its item");
    assert!(HierarchicalKMeans::fit(&x, &TreeConfig { branching: 1, depth: 2, seed: 1, max_iter: 10 }).is_err());
}

#[test]
fn residual_error_decreases_with_levels() {
    let x = gaussian(3000, 16, 3);
    let r = ResidualKMeans::fit(&x, &ResidualConfig { levels: 4, k: 16, seed: 5, max_iter: 15 }).unwrap();
    let codes = r.encode(&x).unwrap();
    let q = quality(&r, &x, &codes).unwrap();
    for w in q.levels.windows(2) {
        assert!(w[1].mse < w[0].mse, "{} → {}", w[0].mse, w[1].mse);
    }
    assert_eq!(q.levels[1].available, 256);
    assert!(q.levels[0].used <= 16);
    assert!(q.levels[0].entropy_bits > 3.0 && q.levels[0].entropy_bits <= 4.0 + 1e-9);
}

#[test]
fn quality_on_a_hand_made_case() {
    // Two points per cluster, two clusters; 1-level k-means: no collisions are possible to avoid.
    let x = Embeddings::from_vec(4, 1, vec![0.0, 2.0, 10.0, 12.0]).unwrap();
    let km = KMeans::fit(&x, &KMeansConfig::new(2, 1)).unwrap();
    let codes = km.encode(&x).unwrap();
    let q = quality(&km, &x, &codes).unwrap();
    assert!((q.levels[0].mse - 1.0).abs() < 1e-9, "each point is 1 away from its centroid");
    assert_eq!((q.levels[0].used, q.levels[0].available), (2, 2));
    assert!((q.levels[0].entropy_bits - 1.0).abs() < 1e-12);
    assert!((q.levels[0].largest_share - 0.5).abs() < 1e-12);
    assert_eq!(q.collision_rate, 1.0);
}

#[test]
fn save_load_round_trip_keeps_codes() {
    let x = gaussian(1500, 6, 4);
    let dir = std::env::temp_dir().join(format!("fuserec-quant-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let t = HierarchicalKMeans::fit(&x, &TreeConfig { branching: 5, depth: 2, seed: 1, max_iter: 10 }).unwrap();
    let r = ResidualKMeans::fit(&x, &ResidualConfig { levels: 2, k: 8, seed: 1, max_iter: 10 }).unwrap();
    let k = KMeans::fit(&x, &KMeansConfig::new(9, 1)).unwrap();
    let new_items = gaussian(50, 6, 99);
    for (name, saved, q) in [("t", Saved::Tree(&t), &t as &dyn Quantizer), ("r", Saved::Residual(&r), &r), ("k", Saved::KMeans(&k), &k)] {
        let p = dir.join(format!("{name}.safetensors"));
        save(saved, &p).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back.name(), q.name());
        assert_eq!(back.codes_per_level(), q.codes_per_level());
        assert_eq!(back.encode(&new_items).unwrap(), q.encode(&new_items).unwrap(), "{name}: cold items encode the same after reload");
    }
    std::fs::write(dir.join("bad.safetensors"), b"garbage").unwrap();
    let e = load(&dir.join("bad.safetensors")).err().unwrap().to_string();
    assert!(e.contains("bad.safetensors"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
