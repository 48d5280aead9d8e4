use fuserec_core::{Error, Result};
use std::path::Path;

/// The fields of a Hugging Face BERT `config.json` the encoder needs.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct BertConfig {
    /// Width of the hidden states (384 for MiniLM-L6).
    pub hidden_size: usize,
    /// Transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Longest input in tokens.
    pub max_position_embeddings: usize,
    /// Tokenizer vocabulary size.
    pub vocab_size: usize,
    /// Token type (segment) vocabulary size.
    #[serde(default = "two")]
    pub type_vocab_size: usize,
    /// Layer norm epsilon.
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    /// Feed-forward activation; only `"gelu"` is supported.
    #[serde(default = "gelu")]
    pub hidden_act: String,
}

fn two() -> usize {
    2
}
fn eps() -> f64 {
    1e-12
}
fn gelu() -> String {
    "gelu".into()
}

impl BertConfig {
    /// Reads a Hugging Face `config.json`; unsupported settings are errors naming the file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let c: BertConfig = serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        if c.hidden_act != "gelu" {
            return Err(Error::Invalid(format!("{}: hidden_act `{}` unsupported (only erf `gelu`)", path.display(), c.hidden_act)));
        }
        if c.num_attention_heads == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            return Err(Error::Invalid(format!(
                "{}: hidden_size {} not divisible by {} heads",
                path.display(),
                c.hidden_size,
                c.num_attention_heads
            )));
        }
        Ok(c)
    }
}
