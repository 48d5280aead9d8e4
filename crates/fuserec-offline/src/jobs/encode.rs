//! Batch encoding of an item table with the registry's backbones.

use std::path::PathBuf;

/// Encodes view `items` (columns `item`, and any of `title`, `description`, `tags`, `image`):
/// the text is title, description and tags joined by spaces (tags written `a|b` become words,
/// empty parts are skipped), as the feature store builds it; images are read from `image_root`
/// joined with the `image` column. Output: `item`, `text` and/or `image` vectors (an image
/// that is missing or cannot be decoded gives a null vector, as the feature store masks it).
#[derive(Clone, Debug, Default)]
pub struct EncodeJob {
    /// Text backbone (`hashed-ngram`, `minilm`), or none.
    pub text: Option<String>,
    /// Image backbone (`color-hist`, `efficientnet-lite0`), or none.
    pub image: Option<String>,
    /// Folder the `image` paths are relative to (usually the items file's folder).
    pub image_root: PathBuf,
}

pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl EncodeJob {
    /// SQL over view `items` with the given `columns` (lower-case names present in the table).
    pub fn sql(&self, columns: &[String]) -> crate::Result<String> {
        let has = |c: &str| columns.iter().any(|x| x == c);
        if !has("item") {
            return Err(crate::OfflineError::Invalid(format!("items: no `item` column (it has {})", columns.join(", "))));
        }
        let mut out = vec!["CAST(item AS VARCHAR) AS item".to_string()];
        if let Some(t) = &self.text {
            let mut parts = Vec::new();
            for c in ["title", "description"] {
                if has(c) {
                    parts.push(format!("NULLIF(TRIM(CAST({c} AS VARCHAR)), '')"));
                }
            }
            if has("tags") {
                parts.push("NULLIF(TRIM(replace(CAST(tags AS VARCHAR), '|', ' ')), '')".into());
            }
            if parts.is_empty() {
                return Err(crate::OfflineError::Invalid("items: text encoding needs a title, description or tags column".into()));
            }
            out.push(format!("fuserec_encode_text({}, COALESCE(concat_ws(' ', {}), '')) AS text", quote(t), parts.join(", ")));
        }
        if let Some(b) = &self.image {
            if !has("image") {
                return Err(crate::OfflineError::Invalid("items: image encoding needs an `image` column".into()));
            }
            let root = self.image_root.to_str().ok_or_else(|| crate::OfflineError::Invalid("image root is not UTF-8".into()))?;
            out.push(format!("fuserec_encode_image({}, concat({}, '/', CAST(image AS VARCHAR))) AS image", quote(b), quote(root)));
        }
        if out.len() == 1 {
            return Err(crate::OfflineError::Invalid("encode: name a text or an image backbone".into()));
        }
        Ok(format!("SELECT {} FROM items", out.join(", ")))
    }
}

/// Cluster codes of view `vectors` (`item` and a fixed-size `vector` column) from a saved quantizer.
pub fn codes_sql(quantizer: &str, vector: &str) -> String {
    format!("SELECT CAST(item AS VARCHAR) AS item, fuserec_codes({}, {vector}) AS codes FROM vectors", quote(quantizer))
}
