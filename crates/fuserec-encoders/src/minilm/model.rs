use super::config::BertConfig;
use crate::TextEncoder;
use crate::weights::Weights;
use dfdx::prelude::*;
use fuserec_core::{Embeddings, Error, Result};
use std::path::Path;
use tokenizers::Tokenizer;

type Dev = Cpu;
type T1 = Tensor<(usize,), f32, Dev>;
type T2 = Tensor<(usize, usize), f32, Dev>;

/// `y = x·Wᵀ + b`, with `Wᵀ` stored at load.
struct Linear {
    w_t: T2,
    b: T1,
}

impl Linear {
    fn load(dev: &Dev, w: &Weights, name: &str, out: usize, inp: usize) -> Result<Self> {
        let raw = w.get(&format!("{name}.weight"), &[out, inp])?;
        let mut t = vec![0f32; raw.len()];
        for o in 0..out {
            for i in 0..inp {
                t[i * out + o] = raw[o * inp + i];
            }
        }
        let b = w.get(&format!("{name}.bias"), &[out])?;
        Ok(Linear { w_t: dev.tensor_from_vec(t, (inp, out)), b: dev.tensor_from_vec(b, (out,)) })
    }
    fn forward(&self, x: T2) -> T2 {
        let y = x.matmul(self.w_t.clone());
        let b = self.b.clone().broadcast_like::<_, Axis<0>>(&y);
        y + b
    }
}

struct LayerNorm {
    g: T1,
    b: T1,
    eps: f64,
}

impl LayerNorm {
    fn load(dev: &Dev, w: &Weights, name: &str, d: usize, eps: f64) -> Result<Self> {
        Ok(LayerNorm {
            g: dev.tensor_from_vec(w.get(&format!("{name}.weight"), &[d])?, (d,)),
            b: dev.tensor_from_vec(w.get(&format!("{name}.bias"), &[d])?, (d,)),
            eps,
        })
    }
    fn forward(&self, x: T2) -> T2 {
        let n = x.normalize::<Axis<1>>(self.eps);
        let g = self.g.clone().broadcast_like::<_, Axis<0>>(&n);
        let b = self.b.clone().broadcast_like::<_, Axis<0>>(&n);
        n * g + b
    }
}

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    attn_out: Linear,
    ln1: LayerNorm,
    up: Linear,
    down: Linear,
    ln2: LayerNorm,
}

/// The pretrained sentence encoder `all-MiniLM-L6-v2` (BERT on dfdx) as a [`TextEncoder`](crate::TextEncoder):
/// WordPiece tokens, mean pooling over the mask, L2-normalised 384-d rows.
pub struct MiniLm {
    dev: Dev,
    cfg: BertConfig,
    tokenizer: Tokenizer,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    /// Sentences per forward pass (after sorting by length).
    pub batch_size: usize,
    label: String,
    sha256: String,
}

impl MiniLm {
    /// Loads `tokenizer.json`, `config.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let cfg = BertConfig::load(&dir.join("config.json"))?;
        let tok_path = dir.join("tokenizer.json");
        if !tok_path.is_file() {
            return Err(Error::MissingAsset(format!("{} not found (run `cargo xtask assets`)", tok_path.display())));
        }
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| Error::Invalid(format!("{}: {e}", tok_path.display())))?;
        // The shipped tokenizer pads every sentence to 128; we pad per length bucket instead.
        tokenizer.with_padding(None);
        let w = Weights::open(&dir.join("model.safetensors"))?;
        let dev = Dev::default();
        let (d, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let word = w.get("embeddings.word_embeddings.weight", &[cfg.vocab_size, d])?;
        let position = w.get("embeddings.position_embeddings.weight", &[cfg.max_position_embeddings, d])?;
        let token_type = w.get("embeddings.token_type_embeddings.weight", &[cfg.type_vocab_size, d])?;
        let emb_ln = LayerNorm::load(&dev, &w, "embeddings.LayerNorm", d, eps)?;
        let mut layers = Vec::new();
        for i in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                q: Linear::load(&dev, &w, &format!("{p}.attention.self.query"), d, d)?,
                k: Linear::load(&dev, &w, &format!("{p}.attention.self.key"), d, d)?,
                v: Linear::load(&dev, &w, &format!("{p}.attention.self.value"), d, d)?,
                attn_out: Linear::load(&dev, &w, &format!("{p}.attention.output.dense"), d, d)?,
                ln1: LayerNorm::load(&dev, &w, &format!("{p}.attention.output.LayerNorm"), d, eps)?,
                up: Linear::load(&dev, &w, &format!("{p}.intermediate.dense"), cfg.intermediate_size, d)?,
                down: Linear::load(&dev, &w, &format!("{p}.output.dense"), d, cfg.intermediate_size)?,
                ln2: LayerNorm::load(&dev, &w, &format!("{p}.output.LayerNorm"), d, eps)?,
            });
        }
        let label = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let sha256 = w.sha256();
        Ok(MiniLm { dev, cfg, tokenizer, word, position, token_type, emb_ln, layers, batch_size: 64, label, sha256 })
    }

    /// Token ids per text (with `[CLS]`/`[SEP]`, truncated to the tokenizer's maximum).
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let max = self.cfg.max_position_embeddings;
        texts
            .iter()
            .map(|t| {
                let enc = self.tokenizer.encode(*t, true).map_err(|e| Error::Invalid(format!("tokenizing `{t}`: {e}")))?;
                let mut ids = enc.get_ids().to_vec();
                ids.truncate(max);
                if let Some(bad) = ids.iter().find(|&&i| i as usize >= self.cfg.vocab_size) {
                    return Err(Error::Invalid(format!("token id {bad} outside the vocabulary of {}", self.cfg.vocab_size)));
                }
                Ok(ids)
            })
            .collect()
    }

    /// One forward pass over sentences padded to the longest among them.
    fn forward_batch(&self, ids: &[&[u32]]) -> Vec<f32> {
        let (b, d) = (ids.len(), self.cfg.hidden_size);
        let l = ids.iter().map(|x| x.len()).max().unwrap_or(1).max(1);
        let (h, dh) = (self.cfg.num_attention_heads, d / self.cfg.num_attention_heads);
        // Embeddings: word + position + token type 0, gathered here, normalised on dfdx.
        let mut emb = vec![0f32; b * l * d];
        let mut mask = vec![0f32; b * l];
        for (s, toks) in ids.iter().enumerate() {
            for (p, &t) in toks.iter().enumerate() {
                let row = &mut emb[(s * l + p) * d..(s * l + p + 1) * d];
                let (w, pos, ty) = (&self.word[t as usize * d..][..d], &self.position[p * d..][..d], &self.token_type[..d]);
                for j in 0..d {
                    row[j] = w[j] + pos[j] + ty[j];
                }
                mask[s * l + p] = 1.0;
            }
        }
        let mut x = self.emb_ln.forward(self.dev.tensor_from_vec(emb, (b * l, d)));
        // Additive key mask: 0 for real tokens, a large negative for padding.
        let key_bias: Vec<f32> = mask.iter().map(|&m| if m > 0.0 { 0.0 } else { -1e9 }).collect();
        let key_bias: Tensor<(usize, usize), f32, Dev> = self.dev.tensor_from_vec(key_bias, (b, l));
        let scale = 1.0 / (dh as f32).sqrt();
        for layer in &self.layers {
            let heads = |t: T2| t.reshape_like(&(b, l, h, dh)).permute::<_, Axes4<0, 2, 1, 3>>();
            let q = heads(layer.q.forward(x.clone()));
            let k = layer.k.forward(x.clone()).reshape_like(&(b, l, h, dh)).permute::<_, Axes4<0, 2, 3, 1>>();
            let v = heads(layer.v.forward(x.clone()));
            let scores = q.matmul(k) * scale;
            let bias = key_bias.clone().broadcast_like::<_, Axes2<1, 2>>(&scores);
            let probs = (scores + bias).softmax::<Axis<3>>();
            let ctx = probs.matmul(v).permute::<_, Axes4<0, 2, 1, 3>>().reshape_like(&(b * l, d));
            x = layer.ln1.forward(layer.attn_out.forward(ctx) + x);
            let ff = layer.down.forward(layer.up.forward(x.clone()).accurate_gelu());
            x = layer.ln2.forward(ff + x);
        }
        // Attention-masked mean pooling, then L2 normalisation.
        let hidden = x.as_vec();
        let mut out = vec![0f32; b * d];
        for s in 0..b {
            let n = ids[s].len().max(1) as f32;
            let o = &mut out[s * d..(s + 1) * d];
            for p in 0..ids[s].len() {
                o.iter_mut().zip(&hidden[(s * l + p) * d..(s * l + p + 1) * d]).for_each(|(a, v)| *a += v / n);
            }
            let norm = o.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                o.iter_mut().for_each(|v| *v /= norm);
            }
        }
        out
    }
}

impl TextEncoder for MiniLm {
    fn name(&self) -> String {
        format!(
            "minilm({};sha={};layers={};dim={};pool=mean-l2)",
            self.label,
            &self.sha256[..12],
            self.cfg.num_hidden_layers,
            self.cfg.hidden_size
        )
    }
    fn weights_sha256(&self) -> Option<String> {
        Some(self.sha256.clone())
    }
    fn dim(&self) -> usize {
        self.cfg.hidden_size
    }
    fn encode(&self, texts: &[&str]) -> Result<Embeddings> {
        let ids = self.tokenize(texts)?;
        let d = self.cfg.hidden_size;
        // Length buckets: sort by token count so each batch pads to nearly its own length.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out = Embeddings::zeros(texts.len(), d);
        for chunk in order.chunks(self.batch_size.max(1)) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            let rows = self.forward_batch(&batch);
            for (j, &i) in chunk.iter().enumerate() {
                out.row_mut(i).copy_from_slice(&rows[j * d..(j + 1) * d]);
            }
        }
        Ok(out)
    }
}
