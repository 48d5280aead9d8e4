//! all-MiniLM-L6-v2 against the reference values of DESIGN §4 (needs `cargo xtask assets`).

use fuserec_core::dot;
use fuserec_data::assets::{MINILM, cache_dir, require_or_skip};
use fuserec_encoders::{MiniLm, TextEncoder};

fn model() -> Option<MiniLm> {
    let dir = require_or_skip("all-MiniLM-L6-v2", MINILM.locate(&cache_dir()))?;
    Some(MiniLm::load(&dir).unwrap())
}

#[test]
fn reference_sentence_and_cosines() {
    let Some(m) = model() else { return };
    let e = m.encode(&["A cat sits on the mat.", "A kitten is resting on a rug.", "The stock market crashed today."]).unwrap();
    assert_eq!(e.dim(), 384);
    let want = [0.12654, -0.03285, -0.02906, 0.04441, -0.04345];
    for (i, (a, b)) in e.row(0).iter().zip(want).enumerate() {
        assert!((a - b).abs() < 1e-4, "value {i}: {a} vs {b}");
    }
    assert!((dot(e.row(0), e.row(1)) - 0.6553).abs() < 1e-3, "{}", dot(e.row(0), e.row(1)));
    assert!((dot(e.row(0), e.row(2)) - 0.1003).abs() < 1e-3, "{}", dot(e.row(0), e.row(2)));
}

#[test]
fn batching_and_padding_do_not_change_embeddings() {
    let Some(m) = model() else { return };
    let texts = ["short", "a somewhat longer sentence about movies and posters", "A cat sits on the mat.", ""];
    let together = m.encode(&texts).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let alone = m.encode(&[t]).unwrap();
        for (a, b) in together.row(i).iter().zip(alone.row(0)) {
            assert!((a - b).abs() < 1e-5, "text {i}");
        }
    }
    // Rows are unit length, even for the empty string ([CLS][SEP] only; callers mask it).
    for r in together.iter_rows() {
        assert!((dot(r, r) - 1.0).abs() < 1e-4);
    }
    // Over-long input is truncated, not an error.
    let long = "word ".repeat(2000);
    assert_eq!(m.encode(&[&long]).unwrap().rows(), 1);
}

#[test]
fn broken_model_folders_are_named_errors() {
    use safetensors::tensor::TensorView;
    let d = std::env::temp_dir().join(format!("fuserec-bert-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let e = MiniLm::load(&d).err().unwrap().to_string();
    assert!(e.contains("config.json"), "{e}");
    let cfg = |act: &str, hidden: usize| {
        format!(
            r#"{{"hidden_size":{hidden},"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":8,"max_position_embeddings":16,"vocab_size":4,"hidden_act":"{act}"}}"#
        )
    };
    std::fs::write(d.join("config.json"), cfg("relu", 4)).unwrap();
    assert!(MiniLm::load(&d).err().unwrap().to_string().contains("hidden_act `relu`"));
    std::fs::write(d.join("config.json"), cfg("gelu", 5)).unwrap();
    assert!(MiniLm::load(&d).err().unwrap().to_string().contains("not divisible"));
    std::fs::write(d.join("config.json"), cfg("gelu", 4)).unwrap();
    assert!(MiniLm::load(&d).err().unwrap().to_string().contains("tokenizer.json"));
    // A real tokenizer with a weights file whose embedding table has the wrong shape.
    let Some(real) = MINILM.locate(&cache_dir()) else { return };
    std::fs::copy(real.join("tokenizer.json"), d.join("tokenizer.json")).unwrap();
    let bytes = vec![0u8; 4 * 3 * 4];
    let view = TensorView::new(safetensors::Dtype::F32, vec![3, 4], &bytes).unwrap();
    std::fs::write(d.join("model.safetensors"), safetensors::serialize([("embeddings.word_embeddings.weight", view)], None).unwrap())
        .unwrap();
    let e = MiniLm::load(&d).err().unwrap().to_string();
    assert!(e.contains("embeddings.word_embeddings.weight") && e.contains("[3, 4]") && e.contains("[4, 4]"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}
