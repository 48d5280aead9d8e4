//! Item features: missing and corrupt images and empty titles are masked and counted.

use fuserec::ItemFeatures;
use fuserec::data::{LoadOptions, load_dir};
use fuserec::features::{image_encoder, text_encoder};

#[test]
fn bad_images_and_empty_text_are_masked_not_zero_features() {
    let d = std::env::temp_dir().join(format!("fuserec-feat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("images")).unwrap();
    image::RgbImage::from_pixel(8, 8, image::Rgb([200, 10, 10])).save(d.join("images/ok.png")).unwrap();
    std::fs::write(d.join("images/bad.jpg"), b"\xFF\xD8\xFF\xE0 definitely not a jpeg").unwrap();
    std::fs::write(
        d.join("items.tsv"),
        "item\ttitle\timage\nok\tRed square\timages/ok.png\nbad\tBroken\timages/bad.jpg\ngone\tMissing\timages/gone.png\nnone\t\t\n",
    )
    .unwrap();
    std::fs::write(d.join("interactions.tsv"), "user\titem\ttimestamp\tlabel\nu\tok\t1\t1\n").unwrap();
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    let t = text_encoder("hashed-ngram", &d).unwrap();
    let i = image_encoder("color-hist").unwrap();
    let f = ItemFeatures::encode(&ds, Some(t.as_ref()), Some(i.as_ref())).unwrap();
    let img = f.image().unwrap();
    assert_eq!(img.mask, [true, false, false, false]);
    let r = &f.image_report;
    assert_eq!((r.decoded, r.corrupt, r.missing, r.no_image), (1, 1, 1, 1));
    assert!(r.examples.iter().any(|e| e.starts_with("item bad:") && e.contains("bad.jpg")), "{:?}", r.examples);
    assert!(r.examples.iter().any(|e| e.starts_with("item gone:") && e.contains("not found")), "{:?}", r.examples);
    assert_eq!(f.text().unwrap().mask, [true, true, true, false], "empty title → text masked");
    // Fused: item `none` has no modality at all → flagged, never scored as if it had content.
    let (fused, has) = f.fused().unwrap();
    assert_eq!(has, [true, true, true, false]);
    assert!(fused.row(3).iter().all(|&x| x == 0.0));
    // An item with text but no image keeps unit norm from its text alone.
    let n: f32 = fused.row(1).iter().map(|x| x * x).sum();
    assert!((n - 1.0).abs() < 1e-5);
    assert!(text_encoder("bert-huge", &d).is_err());
    assert!(f.fused_weighted(|m| if m == "text" { -1.0 } else { 1.0 }).is_err());
}

#[test]
fn feature_store_reuses_rows_and_invalidates_on_change() {
    use fuserec::encoders::{ColorGradientHistogram, HashedNgramText};
    use fuserec::features::FeatureStore;
    let d = std::env::temp_dir().join(format!("fuserec-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("data/images")).unwrap();
    for (i, c) in [[200u8, 10, 10], [10, 200, 10], [10, 10, 200]].iter().enumerate() {
        image::RgbImage::from_pixel(8, 8, image::Rgb(*c)).save(d.join(format!("data/images/i{i}.png"))).unwrap();
    }
    std::fs::write(d.join("data/items.tsv"), "item\ttitle\ni0\tred one\ni1\tgreen one\ni2\tblue one\ni3\tno picture\n").unwrap();
    std::fs::write(d.join("data/interactions.tsv"), "user\titem\ttimestamp\tlabel\nu\ti0\t1\t1\n").unwrap();
    let ds = load_dir(&d.join("data"), &LoadOptions::default()).unwrap();
    let store = FeatureStore::new(d.join("store"));
    let (t, i) = (HashedNgramText::default(), ColorGradientHistogram::default());
    let first = ItemFeatures::encode_with_store(&ds, Some(&t), Some(&i), Some(&store)).unwrap();
    assert_eq!(first.image().unwrap().cache.encoded, 4);
    let again = ItemFeatures::encode_with_store(&ds, Some(&t), Some(&i), Some(&store)).unwrap();
    let (ti, ii) = (&again.text().unwrap().cache, &again.image().unwrap().cache);
    assert_eq!((ti.reused, ti.encoded, ii.reused, ii.encoded), (4, 0, 4, 0), "second run is a cache hit");
    assert_eq!(again.hash, first.hash);
    assert_eq!(again.image_report.no_image, 1, "masked items are still reported on a cache hit");
    // One changed image file: only that item is re-encoded, and its row changes.
    image::RgbImage::from_pixel(8, 8, image::Rgb([250, 250, 0])).save(d.join("data/images/i1.png")).unwrap();
    let changed = ItemFeatures::encode_with_store(&ds, Some(&t), Some(&i), Some(&store)).unwrap();
    let c = &changed.image().unwrap();
    assert_eq!((c.cache.reused, c.cache.encoded), (3, 1));
    assert_ne!(c.rows.row(1), first.image().unwrap().rows.row(1));
    // Another backbone configuration invalidates the whole modality.
    let other = ColorGradientHistogram { bins: 3, ..Default::default() };
    let re = ItemFeatures::encode_with_store(&ds, Some(&t), Some(&other), Some(&store)).unwrap();
    assert_eq!(re.image().unwrap().cache.encoded, 4);
    assert_eq!(re.image().unwrap().rows.dim(), 27 + 32);
    // A corrupt manifest is reported and overwritten, never fatal.
    let (_, manifest) = store.paths(&ds, "text", &fuserec::encoders::TextEncoder::name(&t));
    std::fs::write(&manifest, "{ not json").unwrap();
    let healed = ItemFeatures::encode_with_store(&ds, Some(&t), None, Some(&store)).unwrap();
    assert_eq!(healed.text().unwrap().cache.encoded, 4);
    let ok = ItemFeatures::encode_with_store(&ds, Some(&t), None, Some(&store)).unwrap();
    assert_eq!(ok.text().unwrap().cache.reused, 4);
}
