//! The real MovieLens-100K from `cargo xtask assets` (skips with a message when absent unless
//! FUSEREC_REQUIRE_ASSETS=1).

use fuserec_data::{SplitConfig, assets, movielens, open_image, split};

#[test]
fn ml100k_loads_with_known_counts_and_posters() {
    let Some(dir) = assets::require_or_skip("MovieLens-100K", assets::ML100K.locate(&assets::cache_dir())) else { return };
    let posters = assets::require_or_skip(
        "shared assets (posters)",
        assets::shared_assets_dir().map(|d| d.join("ml100k-posters")).filter(|p| p.is_dir()),
    );
    let ds = movielens::load_atomic(&dir, "ml-100k", posters.as_deref()).unwrap();
    assert_eq!((ds.n_users(), ds.n_items(), ds.interactions.len()), (943, 1682, 100_000));
    assert_eq!(ds.n_positives(), 55_375, "ratings >= 4");
    assert_eq!(ds.items.raw(0), "1");
    assert_eq!(ds.items_meta[0].title, "Toy Story");
    if posters.is_some() {
        assert_eq!(ds.report.items_without_image, 1682 - 1642);
        let img = open_image(ds.items_meta[0].image.as_deref()).expect("Toy Story poster decodes");
        assert!(img.width() > 100 && img.height() > 100);
    }
    let s = split(&ds, &SplitConfig::default(), 1).unwrap();
    // 20% of items with a positive are cold.
    let with_pos = {
        let mut v = vec![false; ds.n_items()];
        ds.interactions.iter().filter(|x| x.is_positive()).for_each(|x| v[x.item.idx()] = true);
        v.iter().filter(|&&b| b).count()
    };
    assert_eq!(s.n_cold(), (with_pos as f64 * 0.2).round() as usize);
    assert_eq!(s.hash, split(&ds, &SplitConfig::default(), 1).unwrap().hash);
}
