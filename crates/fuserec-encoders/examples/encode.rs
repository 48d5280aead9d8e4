//! Encode titles with pretrained MiniLM-L6 and images with EfficientNet-Lite0, and print how
//! similar the rows are (cosine of the L2-normalised rows).
//!
//! ```sh
//! cargo xtask assets      # MiniLM into the cache (EfficientNet-Lite0 is in ../shared/assets)
//! cargo run --release -p fuserec-encoders --example encode -- \
//!   --minilm ~/.cache/fuserec/minilm --effnet ../shared/assets/efficientnet_lite0.safetensors \
//!   --text "red running shoes" --text "blue trail sneakers" --text "wool winter hat" \
//!   --image poster1.jpg --image poster2.jpg
//! ```

use fuserec_encoders::{EfficientNetLite0, Embeddings, ImageEncoder, MiniLm, TextEncoder, image};
use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut minilm, mut effnet, mut texts, mut images) = (None, None, Vec::new(), Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--minilm" => minilm = Some(PathBuf::from(value)),
            "--effnet" => effnet = Some(PathBuf::from(value)),
            "--text" => texts.push(value),
            "--image" => images.push(PathBuf::from(value)),
            other => return Err(format!("unknown flag {other} (--minilm DIR --effnet FILE --text T… --image P…)").into()),
        }
    }
    if !texts.is_empty() {
        let dir = minilm.ok_or("--text needs --minilm <folder with model.safetensors, tokenizer.json, config.json>")?;
        let encoder = MiniLm::load(&dir)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        report(&encoder.name(), &texts, &encoder.encode(&refs)?);
    }
    if !images.is_empty() {
        let file = effnet.ok_or("--image needs --effnet <efficientnet_lite0.safetensors>")?;
        let encoder = EfficientNetLite0::load(&file)?;
        let decoded = images.iter().map(|p| image::open(p).map_err(|e| format!("{}: {e}", p.display()))).collect::<Result<Vec<_>, _>>()?;
        let names: Vec<String> = images.iter().map(|p| p.display().to_string()).collect();
        report(&encoder.name(), &names, &encoder.encode(&decoded)?);
    }
    if texts.is_empty() && images.is_empty() {
        return Err("nothing to encode: give --text and/or --image".into());
    }
    Ok(())
}

fn report(encoder: &str, names: &[String], rows: &Embeddings) {
    let mut rows = rows.clone();
    rows.l2_normalize();
    println!("{encoder}: {} rows of width {}", rows.rows(), rows.dim());
    for (a, name) in names.iter().enumerate() {
        let cos: Vec<String> =
            (0..rows.rows()).map(|b| format!("{:.3}", rows.row(a).iter().zip(rows.row(b)).map(|(x, y)| x * y).sum::<f32>())).collect();
        println!("  {name:>30}  {}", cos.join("  "));
    }
}
