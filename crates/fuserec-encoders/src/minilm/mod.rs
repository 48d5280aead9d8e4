//! BERT-family sentence encoder (all-MiniLM-L6-v2 and any BERT with the same layout), products on
//! fuserec-gemm: `tokenizer.json` + `config.json` + `model.safetensors`, mean pooling over each
//! sentence's tokens, L2 normalisation. Inference only; a batch's sentences are packed without
//! padding (attention runs per sentence over its own tokens).

mod config;
mod model;

pub use config::BertConfig;
pub use model::MiniLm;
