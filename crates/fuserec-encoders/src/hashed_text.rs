use crate::{TextEncoder, fnv1a};
use fuserec_core::{Embeddings, Error, Result};
use rayon::prelude::*;

/// Feature-hashed bag of word unigrams, word bigrams and character 3-grams (signed hashing,
/// `log1p` term frequency, L2-normalised). Titles sharing words or word pieces land close.
#[derive(Clone, Debug)]
pub struct HashedNgramText {
    /// Output width (hash buckets).
    pub dim: usize,
    /// Weight of word bigrams relative to unigrams.
    pub bigram_weight: f32,
    /// Weight of character 3-grams relative to unigrams.
    pub char_weight: f32,
}

impl Default for HashedNgramText {
    fn default() -> Self {
        HashedNgramText { dim: 1024, bigram_weight: 0.5, char_weight: 0.3 }
    }
}

pub(crate) fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'').map(|t| t.trim_matches('\'').to_lowercase()).filter(|t| !t.is_empty()).collect()
}

impl HashedNgramText {
    fn add(&self, row: &mut [f32], feature: &str, salt: u64, w: f32) {
        let h = fnv1a(salt, feature.as_bytes());
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        row[(h % self.dim as u64) as usize] += sign * w;
    }

    fn encode_one(&self, text: &str, row: &mut [f32]) {
        let toks = tokens(text);
        for t in &toks {
            self.add(row, t, 1, 1.0);
            let padded: Vec<char> = format!("<{t}>").chars().collect();
            for g in padded.windows(3) {
                self.add(row, &g.iter().collect::<String>(), 3, self.char_weight);
            }
        }
        for w in toks.windows(2) {
            self.add(row, &format!("{} {}", w[0], w[1]), 2, self.bigram_weight);
        }
        for x in row.iter_mut() {
            *x = x.signum() * x.abs().ln_1p();
        }
        let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            row.iter_mut().for_each(|x| *x /= n);
        }
    }
}

impl TextEncoder for HashedNgramText {
    fn name(&self) -> String {
        format!("hashed-ngram(dim={},bigram={},char3={})", self.dim, self.bigram_weight, self.char_weight)
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn encode(&self, texts: &[&str]) -> Result<Embeddings> {
        if self.dim == 0 {
            return Err(Error::Config("hashed-ngram dim must be > 0".into()));
        }
        let mut out = Embeddings::zeros(texts.len(), self.dim);
        out.as_mut_slice().par_chunks_mut(self.dim).zip(texts.par_iter()).for_each(|(row, t)| self.encode_one(t, row));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::dot;

    #[test]
    fn shared_words_are_closer_and_rows_are_unit() {
        let e = HashedNgramText::default();
        let m = e.encode(&["rocket orbit galaxy", "galaxy rocket launch", "pasta garlic butter", ""]).unwrap();
        let (a, b, c) = (m.row(0), m.row(1), m.row(2));
        assert!((dot(a, a) - 1.0).abs() < 1e-5);
        assert!(dot(a, b) > 0.3, "{}", dot(a, b));
        assert!(dot(a, c).abs() < 0.15, "{}", dot(a, c));
        assert!(m.row(3).iter().all(|&x| x == 0.0), "empty text → zero row (callers mask it)");
    }

    #[test]
    fn deterministic_and_case_insensitive() {
        let e = HashedNgramText::default();
        let m = e.encode(&["Toy Story", "toy story"]).unwrap();
        assert_eq!(m.row(0), m.row(1));
        assert_eq!(tokens("Children's  film-noir!"), ["children's", "film", "noir"]);
    }
}
