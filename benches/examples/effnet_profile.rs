//! Profile target: EfficientNet-Lite0 on the peer's batch (the chelsea reference tensor × 32), in
//! a loop (`perf record` this binary).
use fuserec::data::assets::shared_assets_dir;
use fuserec::encoders::EfficientNetLite0;
use std::time::Instant;

fn main() {
    assert!(fuserec::nn::retain_freed_memory());
    let shared = shared_assets_dir().expect("shared assets folder not found (FUSEREC_ASSETS_DIR)");
    let net = EfficientNetLite0::load(&shared.join("efficientnet-lite0/efficientnet_lite0.safetensors")).expect("load");
    let x = fuserec::core::f32s_from_le(&std::fs::read(shared.join("reference/chelsea_input_1x3x224x224.f32")).expect("chelsea tensor"));
    let batch = vec![x; 32];
    net.forward_batch(&batch, false).expect("forward");
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed().as_secs_f64() < 8.0 {
        net.forward_batch(&batch, false).expect("forward");
        n += batch.len();
    }
    println!("{:.1} images/s", n as f64 / t.elapsed().as_secs_f64());
}
