//! EfficientNet-Lite0 against the reference values of DESIGN §4 (needs the shared assets; skips
//! with a message unless FUSEREC_REQUIRE_ASSETS=1).

use fuserec_data::assets::{require_or_skip, shared_assets_dir};
use fuserec_encoders::efficientnet::{EfficientNetLite0, preprocess};
use std::path::PathBuf;

fn assets() -> Option<PathBuf> {
    require_or_skip(
        "shared assets (EfficientNet-Lite0 weights)",
        shared_assets_dir().filter(|d| d.join("efficientnet-lite0/efficientnet_lite0.safetensors").is_file()),
    )
}

fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0
}

#[test]
fn chelsea_tensor_matches_reference() {
    let Some(dir) = assets() else { return };
    let net = EfficientNetLite0::load(&dir.join("efficientnet-lite0/efficientnet_lite0.safetensors")).unwrap();
    let raw = std::fs::read(dir.join("reference/chelsea_input_1x3x224x224.f32")).unwrap();
    let input = fuserec_core::f32s_from_le(&raw);
    let out = net.forward(&input, true).unwrap();
    let want = [0.091554, 0.043349, 0.0, 0.502418, 1.647514];
    for (i, (a, b)) in out.pooled.iter().zip(want).enumerate() {
        assert!((a - b).abs() < 1e-3, "pooled[{i}] = {a}, want {b}");
    }
    let norm = out.pooled.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm / 15.4317 - 1.0).abs() < 1e-3, "norm {norm}");
    assert_eq!(argmax(&out.logits), 282, "tiger cat");
    let max = out.logits.iter().cloned().fold(f32::MIN, f32::max);
    assert!((max - 9.1667).abs() < 1e-2, "max logit {max}");
}

#[test]
fn coffee_png_through_our_preprocessing_is_espresso() {
    let Some(dir) = assets() else { return };
    let net = EfficientNetLite0::load(&dir.join("efficientnet-lite0/efficientnet_lite0.safetensors")).unwrap();
    let img = image::open(dir.join("reference/coffee.png")).unwrap();
    let out = net.forward(&preprocess(&img), true).unwrap();
    assert_eq!(argmax(&out.logits), 967, "espresso");
    let cat = image::open(dir.join("reference/chelsea.png")).unwrap();
    assert_eq!(argmax(&net.forward(&preprocess(&cat), true).unwrap().logits), 282);
}

#[test]
fn wrong_files_are_named_errors() {
    let Some(dir) = assets() else { return };
    let e = EfficientNetLite0::load(&dir.join("reference/chelsea.png")).err().unwrap().to_string();
    assert!(e.contains("chelsea.png") && e.contains("not a safetensors"), "{e}");
    let e = EfficientNetLite0::load(&dir.join("nope.safetensors")).err().unwrap().to_string();
    assert!(e.contains("nope.safetensors"), "{e}");
}

#[test]
fn odd_images_give_finite_features() {
    use fuserec_encoders::ImageEncoder;
    let Some(dir) = assets() else { return };
    let net = EfficientNetLite0::load(&dir.join("efficientnet-lite0/efficientnet_lite0.safetensors")).unwrap();
    let imgs = vec![
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(1, 1, image::Luma([90]))),
        image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(500, 20, image::Rgba([10, 200, 30, 0]))),
    ];
    let e = net.encode(&imgs).unwrap();
    assert_eq!((e.rows(), e.dim()), (2, 1280));
    assert!(e.first_non_finite().is_none());
    assert!(e.row(0) != e.row(1));
}
