//! BERT-family sentence encoder (all-MiniLM-L6-v2 and any BERT with the same layout) on dfdx:
//! `tokenizer.json` + `config.json` + `model.safetensors`, attention-masked mean pooling, L2
//! normalisation. Inference only; sentences are length-bucketed so padding stays small.

mod config;
mod model;

pub use config::BertConfig;
pub use model::MiniLm;
