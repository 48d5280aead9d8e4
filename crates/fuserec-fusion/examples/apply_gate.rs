//! Train a statistics gate on a planted rule (new items should lean on their content, items with
//! many exposures on their id), then apply it outside any training graph: gate values from plain
//! statistics, fused item vectors from plain slices.
//!
//! ```sh
//! cargo run -p fuserec-fusion --example apply_gate
//! ```

use fuserec_fusion::{AdditiveGate, FusionGate, ItemStats, Rng, StatsGate, device};
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{AdamConfig, DenseAdam};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dev = device(0);
    let mut gate = StatsGate::new(&dev, 8, &mut Rng::new(3))?;

    // Planted target: the content weight falls from ~1 to ~0 as exposures grow past ~50.
    let stats: Vec<ItemStats> = (0..64)
        .map(|k| {
            let exposures = (k as f32 * 0.16).exp() - 1.0;
            ItemStats { exposures, clicks: exposures * 0.1, smoothed_ctr: 0.1, age_days: 30.0 }
        })
        .collect();
    let features: Vec<f32> = stats.iter().flat_map(|s| s.gate_features()).collect();
    let target: Vec<f32> = stats.iter().map(|s| 1.0 / (1.0 + (s.exposures.ln_1p() - 4.0).exp())).collect();
    let mut opt = DenseAdam::new(AdamConfig::new(0.05));
    for _ in 0..400 {
        let g = gate.forward(&dev, &features);
        let t = dev.tensor_from_vec(target.clone(), (target.len(),));
        let mut grads = (g - t).square().mean::<(), _>().backward();
        opt.step(&mut gate, &mut grads)?;
    }

    // Inference: gate values for three items, then fuse their behaviour and content vectors.
    let items = [
        ("new item", ItemStats::default()),
        ("some history", ItemStats { exposures: 40.0, clicks: 4.0, smoothed_ctr: 0.1, age_days: 30.0 }),
        ("popular", ItemStats { exposures: 5_000.0, clicks: 500.0, smoothed_ctr: 0.1, age_days: 30.0 }),
    ];
    let feats: Vec<f32> = items.iter().flat_map(|(_, s)| s.gate_features()).collect();
    let g = gate.values(&dev, &feats)?;
    let d = 2;
    let behaviour = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]; // every id vector points along x
    let content = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]; // every content vector along y
    let fused = AdditiveGate.fuse_rows(d, Some(&behaviour), Some(&content), Some(&g))?;
    println!("| item | gate (content weight) | fused vector |");
    println!("|---|---|---|");
    for (i, (name, _)) in items.iter().enumerate() {
        println!("| {name} | {:.3} | [{:.3}, {:.3}] |", g[i], fused[i * d], fused[i * d + 1]);
    }
    assert!(g[0] > g[1] && g[1] > g[2], "the trained gate falls with exposure: {g:?}");
    // A shape mistake is an error naming the views, not a panic.
    let e = AdditiveGate.fuse_rows(d, Some(&behaviour), Some(&content[..4]), Some(&g)).unwrap_err();
    println!("wrong shapes: {e}");
    Ok(())
}
