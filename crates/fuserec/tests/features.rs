//! Item features: missing and corrupt images and empty titles are masked and counted.

use fuserec::data::{load_dir, LoadOptions};
use fuserec::features::{image_encoder, text_encoder};
use fuserec::ItemFeatures;

#[test]
fn bad_images_and_empty_text_are_masked_not_zero_features() {
    let d = std::env::temp_dir().join(format!("fuserec-feat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("images")).unwrap();
    image::RgbImage::from_pixel(8, 8, image::Rgb([200, 10, 10])).save(d.join("images/ok.png")).unwrap();
    std::fs::write(d.join("images/bad.jpg"), b"\xFF\xD8\xFF\xE0 definitely not a jpeg").unwrap();
    std::fs::write(d.join("items.tsv"), "item\ttitle\timage\nok\tRed square\timages/ok.png\nbad\tBroken\timages/bad.jpg\ngone\tMissing\timages/gone.png\nnone\t\t\n").unwrap();
    std::fs::write(d.join("interactions.tsv"), "user\titem\ttimestamp\tlabel\nu\tok\t1\t1\n").unwrap();
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    let t = text_encoder("hashed-ngram").unwrap();
    let i = image_encoder("color-hist").unwrap();
    let f = ItemFeatures::encode(&ds, Some(t.as_ref()), Some(i.as_ref())).unwrap();
    let img = f.image.as_ref().unwrap();
    assert_eq!(img.mask, [true, false, false, false]);
    let r = &f.image_report;
    assert_eq!((r.decoded, r.corrupt, r.missing, r.no_image), (1, 1, 1, 1));
    assert!(r.examples.iter().any(|e| e.starts_with("item bad:") && e.contains("bad.jpg")), "{:?}", r.examples);
    assert!(r.examples.iter().any(|e| e.starts_with("item gone:") && e.contains("not found")), "{:?}", r.examples);
    assert_eq!(f.text.as_ref().unwrap().mask, [true, true, true, false], "empty title → text masked");
    // Fused: item `none` has no modality at all → flagged, never scored as if it had content.
    let (fused, has) = f.fused(1.0, 1.0).unwrap();
    assert_eq!(has, [true, true, true, false]);
    assert!(fused.row(3).iter().all(|&x| x == 0.0));
    // An item with text but no image keeps unit norm from its text alone.
    let n: f32 = fused.row(1).iter().map(|x| x * x).sum();
    assert!((n - 1.0).abs() < 1e-5);
    assert!(text_encoder("bert-huge").is_err());
    assert!(f.fused(-1.0, 1.0).is_err());
}
