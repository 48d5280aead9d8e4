use super::config::BertConfig;
use crate::TextEncoder;
use crate::weights::Weights;
use fuserec_core::simd::{exp, exp_shift_sum, max};
use fuserec_core::{Embeddings, Error, Result};
use rayon::prelude::*;
use std::path::Path;
use tokenizers::Tokenizer;

/// Fewest rows per matrix-product task. A batch's tokens are split into one block per rayon
/// thread (each block packs the weights once, so fewer, larger blocks are faster), but not
/// into blocks smaller than this.
const MIN_ROW_BLOCK: usize = 32;

/// `y = x·Wᵀ + b`, with `Wᵀ` (`inp × out`) stored at load.
struct Linear {
    w_t: Vec<f32>,
    b: Vec<f32>,
    inp: usize,
    out: usize,
}

impl Linear {
    fn load(w: &Weights, name: &str, out: usize, inp: usize) -> Result<Self> {
        let raw = w.get(&format!("{name}.weight"), &[out, inp])?;
        let mut w_t = vec![0f32; raw.len()];
        for o in 0..out {
            for i in 0..inp {
                w_t[i * out + o] = raw[o * inp + i];
            }
        }
        Ok(Linear { w_t, b: w.get(&format!("{name}.bias"), &[out])?, inp, out })
    }

    /// Several layers that read the same input as one (`[Wq | Wk | Wv]`): one product instead of three.
    fn stack(parts: [Linear; 3]) -> Self {
        let (inp, out) = (parts[0].inp, parts.iter().map(|p| p.out).sum());
        let mut w_t = Vec::with_capacity(inp * out);
        for i in 0..inp {
            for p in &parts {
                w_t.extend_from_slice(&p.w_t[i * p.out..(i + 1) * p.out]);
            }
        }
        Linear { w_t, b: parts.iter().flat_map(|p| p.b.iter().copied()).collect(), inp, out }
    }

    /// `x` is `rows × inp`; returns `x·Wᵀ + b` (`rows × out`).
    fn forward(&self, x: &[f32]) -> Vec<f32> {
        let mut y = self.product(x);
        y.par_chunks_mut(self.out).for_each(|row| add(row, &self.b));
        y
    }

    /// `x·Wᵀ` without the bias (`rows × out`): the caller adds it in its next pass over the
    /// rows (GELU, layer norm) instead of a pass of its own.
    fn product(&self, x: &[f32]) -> Vec<f32> {
        let rows = x.len() / self.inp;
        let mut y: Vec<f32> = Vec::with_capacity(rows * self.out);
        let block = rows.div_ceil(rayon::current_num_threads()).max(MIN_ROW_BLOCK);
        y.spare_capacity_mut()[..rows * self.out].par_chunks_mut(block * self.out).zip(x.par_chunks(block * self.inp)).for_each(
            |(y, x)| {
                let m = x.len() / self.inp;
                // SAFETY: `x` is m × inp, `w_t` inp × out and `y` m × out, all row-major and disjoint;
                // β = 0 writes `y` without reading it.
                unsafe {
                    fuserec_gemm::sgemm(
                        m,
                        self.inp,
                        self.out,
                        1.0,
                        x.as_ptr(),
                        self.inp as isize,
                        1,
                        self.w_t.as_ptr(),
                        self.out as isize,
                        1,
                        0.0,
                        y.as_mut_ptr().cast(),
                        self.out as isize,
                        1,
                    )
                };
            },
        );
        // SAFETY: the blocks above cover all rows · out values and each was written in full.
        unsafe { y.set_len(rows * self.out) };
        y
    }
}

fuserec_core::vectorized_fn! {
    /// `row += b`.
    fn add(row: &mut [f32], b: &[f32]) {
        for (v, b) in row.iter_mut().zip(b) {
            *v += b;
        }
    }
}

struct LayerNorm {
    g: Vec<f32>,
    b: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(w: &Weights, name: &str, d: usize, eps: f64) -> Result<Self> {
        Ok(LayerNorm { g: w.get(&format!("{name}.weight"), &[d])?, b: w.get(&format!("{name}.bias"), &[d])?, eps: eps as f32 })
    }

    /// `x ← LN(x + bias + residual)` row by row (`bias` / `residual` empty: left out), in one
    /// pass per row.
    fn forward_add(&self, x: &mut [f32], bias: &[f32], residual: &[f32]) {
        let d = self.g.len();
        x.par_chunks_mut(d).enumerate().for_each(|(r, row)| {
            norm_row(row, bias, if residual.is_empty() { &[] } else { &residual[r * d..(r + 1) * d] }, &self.g, &self.b, self.eps)
        });
    }
}

fuserec_core::vectorized_fn! {
    /// `row ← LN(row + bias + residual)` with gains `g` and biases `b` (an empty `bias` or
    /// `residual` is left out).
    fn norm_row(row: &mut [f32], bias: &[f32], residual: &[f32], g: &[f32], b: &[f32], eps: f32) {
        for (a, c) in row.iter_mut().zip(bias) {
            *a += c;
        }
        for (a, r) in row.iter_mut().zip(residual) {
            *a += r;
        }
        let d = row.len() as f32;
        let mean = sum(row) / d;
        let var = sum_sq(row, mean) / d;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(g).zip(b) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

/// `Σ (a − c)²` in eight independent lanes (a single running sum would have to stay in order,
/// so it could not vectorise); `c = 0` gives the sum of squares.
#[inline(always)]
fn sum_sq(a: &[f32], c: f32) -> f32 {
    let mut acc = [0f32; 8];
    let ch = a.chunks_exact(8);
    let tail: f32 = ch.remainder().iter().map(|x| (x - c) * (x - c)).sum();
    for x in ch {
        for j in 0..8 {
            acc[j] += (x[j] - c) * (x[j] - c);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ a` in eight lanes (see [`sum_sq`]).
#[inline(always)]
fn sum(a: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ch = a.chunks_exact(8);
    let tail: f32 = ch.remainder().iter().sum();
    for x in ch {
        for j in 0..8 {
            acc[j] += x[j];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `x ← GELU(x + b)` row by row (rows as wide as `b`), with the exact (erf) GELU BERT was
/// trained with: `t·(1 + erf(t/√2))/2`.
fn gelu_bias(x: &mut [f32], b: &[f32]) {
    x.par_chunks_mut(b.len() * 8).for_each(|rows| gelu_rows(rows, b));
}

fuserec_core::vectorized_fn! {
    fn gelu_rows(x: &mut [f32], b: &[f32]) {
        for row in x.chunks_exact_mut(b.len()) {
            for (v, b) in row.iter_mut().zip(b) {
                let t = *v + b;
                *v = 0.5 * t * (1.0 + erf(t * std::f32::consts::FRAC_1_SQRT_2));
            }
        }
    }
}

/// erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5·10⁻⁷ exactly, < 10⁻⁶ in f32: tested), written
/// without branches or calls so the GELU loop vectorises (a libm `erff` call per element took
/// half of MiniLM's time).
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    (1.0 - poly * exp(-a * a)).copysign(x)
}

/// Multi-head self-attention of packed sentences (`lens[s]` token rows each, one after
/// another) from the fused `qkv` rows (`Σ len × 3d`: queries, keys, values). Returns `Σ len × d`.
fn attention(qkv: &[f32], lens: &[usize], h: usize) -> Vec<f32> {
    let total: usize = lens.iter().sum();
    let d3 = qkv.len() / total.max(1);
    let (d, dh) = (d3 / 3, d3 / 3 / h);
    let scale = 1.0 / (dh as f32).sqrt();
    let mut ctx = vec![0f32; total * d];
    // Each sentence's rows of `ctx` and `qkv`, handed to one task.
    let mut parts = Vec::with_capacity(lens.len());
    let (mut rest, mut from) = (ctx.as_mut_slice(), 0);
    for &n in lens {
        let (mine, tail) = rest.split_at_mut(n * d);
        parts.push((mine, &qkv[from * d3..(from + n) * d3]));
        (rest, from) = (tail, from + n);
    }
    parts.into_par_iter().filter(|(out, _)| !out.is_empty()).for_each(|(out, rows)| attend(rows, out, out.len() / d, h, scale));
    ctx
}

fuserec_core::vectorized_fn! {
    /// One sentence's attention over `h` heads: `rows` holds its `l` fused `qkv` rows, `out` its
    /// `l × d` context. The keys are transposed first (`d × l`, rows padded to a multiple of
    /// 16), so a query's scores against all keys are one vector update per dimension instead
    /// of a horizontal sum per key.
    fn attend(rows: &[f32], out: &mut [f32], l: usize, h: usize, scale: f32) {
        let d = out.len() / l;
        let (d3, dh, lp) = (3 * d, d / h, l.next_multiple_of(16));
        let mut kt = vec![0f32; d * lp];
        for j in 0..l {
            for (c, &k) in rows[j * d3 + d..j * d3 + 2 * d].iter().enumerate() {
                kt[c * lp + j] = k;
            }
        }
        let mut p = vec![0f32; lp];
        for head in 0..h {
            for i in 0..l {
                let q = &rows[i * d3 + head * dh..i * d3 + (head + 1) * dh];
                // Scores against 16 keys at a time, the 16 sums kept in one register.
                for (jb, block) in p.chunks_exact_mut(16).enumerate() {
                    let mut acc = [0f32; 16];
                    for (c, &qc) in q.iter().enumerate() {
                        let keys = &kt[(head * dh + c) * lp + jb * 16..][..16];
                        for t in 0..16 {
                            acc[t] += qc * keys[t];
                        }
                    }
                    block.copy_from_slice(&acc);
                }
                // Softmax over the padded row (padding at −∞ weighs e^−87 ≈ 0, and is never read).
                for (j, v) in p.iter_mut().enumerate() {
                    *v = if j < l { *v * scale } else { f32::NEG_INFINITY };
                }
                let m = max(&p);
                let inv = 1.0 / exp_shift_sum(&mut p, m);
                // Context: the weighted sum of the values, 16 dimensions at a time.
                let o = &mut out[i * d + head * dh..i * d + (head + 1) * dh];
                let mut chunks = o.chunks_exact_mut(16);
                for (cb, o) in (&mut chunks).enumerate() {
                    let mut acc = [0f32; 16];
                    for (j, pj) in p[..l].iter().enumerate() {
                        let v: &[f32; 16] = rows[j * d3 + 2 * d + head * dh + cb * 16..][..16].try_into().expect("16 values");
                        for t in 0..16 {
                            acc[t] += pj * v[t];
                        }
                    }
                    for (a, b) in o.iter_mut().zip(&acc) {
                        *a = b * inv;
                    }
                }
                // A head width that is not a multiple of 16 (MiniLM's is 32): the rest, plainly.
                let done = dh - chunks.into_remainder().len();
                for c in done..dh {
                    let sum: f32 = p[..l].iter().enumerate().map(|(j, pj)| pj * rows[j * d3 + 2 * d + head * dh + c]).sum();
                    o[c] = sum * inv;
                }
            }
        }
    }
}

struct Layer {
    /// Queries, keys and values in one product.
    qkv: Linear,
    attn_out: Linear,
    ln1: LayerNorm,
    up: Linear,
    down: Linear,
    ln2: LayerNorm,
}

/// The pretrained sentence encoder `all-MiniLM-L6-v2` (BERT: matrix products by fuserec-gemm, fused attention) as a [`TextEncoder`](crate::TextEncoder):
/// WordPiece tokens, mean pooling over the mask, L2-normalised 384-d rows.
pub struct MiniLm {
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
        let (d, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let word = w.get("embeddings.word_embeddings.weight", &[cfg.vocab_size, d])?;
        let position = w.get("embeddings.position_embeddings.weight", &[cfg.max_position_embeddings, d])?;
        let token_type = w.get("embeddings.token_type_embeddings.weight", &[cfg.type_vocab_size, d])?;
        let emb_ln = LayerNorm::load(&w, "embeddings.LayerNorm", d, eps)?;
        let mut layers = Vec::new();
        for i in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                qkv: Linear::stack([
                    Linear::load(&w, &format!("{p}.attention.self.query"), d, d)?,
                    Linear::load(&w, &format!("{p}.attention.self.key"), d, d)?,
                    Linear::load(&w, &format!("{p}.attention.self.value"), d, d)?,
                ]),
                attn_out: Linear::load(&w, &format!("{p}.attention.output.dense"), d, d)?,
                ln1: LayerNorm::load(&w, &format!("{p}.attention.output.LayerNorm"), d, eps)?,
                up: Linear::load(&w, &format!("{p}.intermediate.dense"), cfg.intermediate_size, d)?,
                down: Linear::load(&w, &format!("{p}.output.dense"), d, cfg.intermediate_size)?,
                ln2: LayerNorm::load(&w, &format!("{p}.output.LayerNorm"), d, eps)?,
            });
        }
        let label = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let sha256 = w.sha256();
        Ok(MiniLm { cfg, tokenizer, word, position, token_type, emb_ln, layers, batch_size: 64, label, sha256 })
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

    /// One forward pass over sentences packed without padding: the token rows of all sentences
    /// one after another (`Σ len × d`), so the matrix products, layer norms and GELU run on real
    /// tokens only, and attention runs per sentence over its own rows. A batch padded to its
    /// longest sentence would spend the products on padding rows too.
    fn forward_batch(&self, ids: &[&[u32]]) -> Vec<f32> {
        let (b, d) = (ids.len(), self.cfg.hidden_size);
        let lens: Vec<usize> = ids.iter().map(|t| t.len()).collect();
        let starts: Vec<usize> = lens.iter().scan(0, |acc, &n| Some(std::mem::replace(acc, *acc + n))).collect();
        let total: usize = lens.iter().sum();
        // Embeddings: word + position + token type 0, then layer norm.
        let mut x = vec![0f32; total * d];
        for (s, toks) in ids.iter().enumerate() {
            for (p, &t) in toks.iter().enumerate() {
                let row = &mut x[(starts[s] + p) * d..(starts[s] + p + 1) * d];
                let (w, pos, ty) = (&self.word[t as usize * d..][..d], &self.position[p * d..][..d], &self.token_type[..d]);
                for j in 0..d {
                    row[j] = w[j] + pos[j] + ty[j];
                }
            }
        }
        self.emb_ln.forward_add(&mut x, &[], &[]);
        let h = self.cfg.num_attention_heads;
        for layer in &self.layers {
            let ctx = attention(&layer.qkv.forward(&x), &lens, h);
            // Biases join the pass that follows each product (layer norm, GELU).
            let mut a = layer.attn_out.product(&ctx);
            layer.ln1.forward_add(&mut a, &layer.attn_out.b, &x);
            let mut up = layer.up.product(&a);
            gelu_bias(&mut up, &layer.up.b);
            let mut ff = layer.down.product(&up);
            layer.ln2.forward_add(&mut ff, &layer.down.b, &a);
            x = ff;
        }
        // Mean pooling over each sentence's tokens, then L2 normalisation.
        let mut out = vec![0f32; b * d];
        for s in 0..b {
            let n = lens[s].max(1) as f32;
            let o = &mut out[s * d..(s + 1) * d];
            for row in x[starts[s] * d..(starts[s] + lens[s]) * d].chunks_exact(d) {
                o.iter_mut().zip(row).for_each(|(a, v)| *a += v / n);
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
        // Sorted by token count: a batch holds sentences of similar length (no padding either way;
        // its attention tasks are then of similar size).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorisable erf against libm's over the range GELU sees (and the tails).
    #[test]
    fn erf_matches_libm() {
        let mut worst = 0f32;
        for i in -20_000..=20_000 {
            let x = i as f32 * 5e-4;
            worst = worst.max((erf(x) - libm::erff(x)).abs());
        }
        assert!(worst < 1e-6, "max |erf − libm::erff| = {worst}");
        assert!(erf(0.0).abs() < 1e-6 && erf(30.0) == 1.0 && erf(-30.0) == -1.0);
    }
}
