use super::config::BertConfig;
use crate::TextEncoder;
use crate::weights::Weights;
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

    /// `x` is `rows × inp`; returns `rows × out`.
    fn forward(&self, x: &[f32]) -> Vec<f32> {
        let rows = x.len() / self.inp;
        let mut y = vec![0f32; rows * self.out];
        let block = rows.div_ceil(rayon::current_num_threads()).max(MIN_ROW_BLOCK);
        y.par_chunks_mut(block * self.out).zip(x.par_chunks(block * self.inp)).for_each(|(y, x)| {
            for row in y.chunks_exact_mut(self.out) {
                row.copy_from_slice(&self.b);
            }
            let m = x.len() / self.inp;
            // SAFETY: `x` is m × inp, `w_t` inp × out and `y` m × out, all row-major and disjoint.
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
                    1.0,
                    y.as_mut_ptr(),
                    self.out as isize,
                    1,
                )
            };
        });
        y
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

    /// `x ← LN(x + residual)` row by row (`residual` empty: plain `LN(x)`), in one pass per row.
    fn forward_add(&self, x: &mut [f32], residual: &[f32]) {
        let d = self.g.len();
        x.par_chunks_mut(d).enumerate().for_each(|(r, row)| {
            wide(|| {
                if !residual.is_empty() {
                    row.iter_mut().zip(&residual[r * d..(r + 1) * d]).for_each(|(a, b)| *a += b);
                }
                let mean = sum(row) / d as f32;
                let var = sum_sq(row, mean) / d as f32;
                let inv = 1.0 / (var + self.eps).sqrt();
                for ((v, g), b) in row.iter_mut().zip(&self.g).zip(&self.b) {
                    *v = (*v - mean) * inv * g + b;
                }
            })
        });
    }
}

/// `Σ a·b` in eight independent lanes: a float sum the compiler may vectorise (a single
/// running sum has to stay in order, so it cannot).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ (a − c)²` in eight lanes (see [`dot`]); `c = 0` gives the sum of squares.
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

/// `Σ a` in eight lanes (see [`dot`]).
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

/// The exact (erf) GELU, as BERT was trained with: `x·(1 + erf(x/√2))/2`.
fn gelu(x: &mut [f32]) {
    x.par_chunks_mut(4096)
        .for_each(|c| wide(|| c.iter_mut().for_each(|v| *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2)))));
}

/// erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5·10⁻⁷ exactly, < 10⁻⁶ in f32: tested), written
/// without branches or calls so the GELU loop vectorises (a libm `erff` call per element took
/// half of MiniLM's time).
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    (1.0 - poly * exp_neg(a * a)).copysign(x)
}

/// `e^(−z)` for `z ≥ 0`: `2^k · e^r` with `|r| ≤ ln2/2` and a degree-7 Taylor polynomial for
/// `e^r` (relative error < 10⁻⁸ before rounding); `z` above 87 gives the smallest normal float.
#[inline(always)]
fn exp_neg(z: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let x = -z.min(87.0);
    // Round to nearest by the 1.5·2²³ trick: the sum's low mantissa bits hold k, so both the
    // float k and 2^k come from additions and integer ops only (no libm `floor`, no saturating
    // float → int cast), and the loop vectorises.
    const ROUND: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let k_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    p * f32::from_bits(((k_int + 127) << 23) as u32)
}

/// Runs `f` compiled for AVX-512 or AVX2 + FMA when the CPU has them (the build's baseline is
/// plain x86-64: SSE2 only), else as built. For the element-wise passes (GELU, layer norm,
/// attention) that the compiler vectorises.
#[inline(always)]
fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { with_avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { with_avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Multi-head self-attention of `b` sentences of `l` positions from the fused `qkv` rows
/// (`b·l × 3d`: queries, keys, values); padded keys get no weight. Returns `b·l × d`.
fn attention(qkv: &[f32], b: usize, l: usize, h: usize, lens: &[usize]) -> Vec<f32> {
    let d3 = qkv.len() / (b * l);
    let (d, dh) = (d3 / 3, d3 / 3 / h);
    let scale = 1.0 / (dh as f32).sqrt();
    let mut ctx = vec![0f32; b * l * d];
    ctx.par_chunks_mut(l * d).enumerate().for_each(|(s, out)| {
        wide(|| {
            let rows = &qkv[s * l * d3..(s + 1) * l * d3];
            let keys = lens[s].max(1);
            let mut p = vec![0f32; keys];
            for head in 0..h {
                let (qo, ko, vo) = (head * dh, d + head * dh, 2 * d + head * dh);
                for i in 0..l {
                    let q = &rows[i * d3 + qo..i * d3 + qo + dh];
                    let mut max = f32::NEG_INFINITY;
                    for (j, pj) in p.iter_mut().enumerate() {
                        let k = &rows[j * d3 + ko..j * d3 + ko + dh];
                        *pj = dot(q, k) * scale;
                        max = max.max(*pj);
                    }
                    let mut sum = 0.0;
                    p.iter_mut().for_each(|v| {
                        *v = exp_neg(max - *v);
                        sum += *v;
                    });
                    let o = &mut out[i * d + head * dh..i * d + (head + 1) * dh];
                    for (j, pj) in p.iter().enumerate() {
                        let v = &rows[j * d3 + vo..j * d3 + vo + dh];
                        let w = pj / sum;
                        o.iter_mut().zip(v).for_each(|(a, b)| *a += w * b);
                    }
                }
            }
        })
    });
    ctx
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

    /// One forward pass over sentences padded to the longest among them.
    fn forward_batch(&self, ids: &[&[u32]]) -> Vec<f32> {
        let (b, d) = (ids.len(), self.cfg.hidden_size);
        let l = ids.iter().map(|x| x.len()).max().unwrap_or(1).max(1);
        // Embeddings: word + position + token type 0, then layer norm.
        let mut emb = vec![0f32; b * l * d];
        for (s, toks) in ids.iter().enumerate() {
            for (p, &t) in toks.iter().enumerate() {
                let row = &mut emb[(s * l + p) * d..(s * l + p + 1) * d];
                let (w, pos, ty) = (&self.word[t as usize * d..][..d], &self.position[p * d..][..d], &self.token_type[..d]);
                for j in 0..d {
                    row[j] = w[j] + pos[j] + ty[j];
                }
            }
        }
        let mut x = emb;
        self.emb_ln.forward_add(&mut x, &[]);
        let lens: Vec<usize> = ids.iter().map(|t| t.len()).collect();
        let h = self.cfg.num_attention_heads;
        for layer in &self.layers {
            let ctx = attention(&layer.qkv.forward(&x), b, l, h, &lens);
            let mut a = layer.attn_out.forward(&ctx);
            layer.ln1.forward_add(&mut a, &x);
            let mut up = layer.up.forward(&a);
            gelu(&mut up);
            let mut ff = layer.down.forward(&up);
            layer.ln2.forward_add(&mut ff, &a);
            x = ff;
        }
        // Attention-masked mean pooling, then L2 normalisation.
        let hidden = x;
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
        for z in [0.0f32, 0.1, 1.0, 10.0, 50.0, 86.0] {
            let (got, want) = (exp_neg(z), (-z).exp());
            assert!((got - want).abs() <= 2e-7 * want, "exp(−{z}) = {got}, want {want}");
        }
    }
}
