//! `fuserec_encode_text(backbone, text)` and `fuserec_encode_image(backbone, path)`: the
//! registry's encoders (`hashed-ngram`, `minilm`; `color-hist`, `efficientnet-lite0`) over a
//! batch of rows, one encoder call per batch.

use super::{Cache, DfResult, Function, exec_error, fixed_list_f32, literal_str, scalar_str, strings, vector_type};
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs};
use fuserec_encoders::{ImageEncoder, TextEncoder};
use fuserec_recall::features::{image_encoder, text_encoder};
use std::sync::Arc;

static TEXT: Cache<dyn TextEncoder> = Cache::new();
static IMAGE: Cache<dyn ImageEncoder> = Cache::new();

fn text(name: &str) -> DfResult<Arc<dyn TextEncoder>> {
    TEXT.get(name, || text_encoder(name, &fuserec_data::assets::cache_dir()).map(Arc::from))
}

fn image(name: &str) -> DfResult<Arc<dyn ImageEncoder>> {
    IMAGE.get(name, || image_encoder(name).map(Arc::from))
}

/// `fuserec_encode_text(backbone, text)`: a null text is encoded as the empty text (every item
/// gets a row, as in the feature store).
pub struct EncodeText;

impl Function for EncodeText {
    const NAME: &'static str = "fuserec_encode_text";
    const ARGS: usize = 2;
    fn output(args: &ReturnFieldArgs) -> DfResult<DataType> {
        let e = text(&literal_str(Self::NAME, args.scalar_arguments, 0)?)?;
        Ok(vector_type(e.dim()))
    }
    fn invoke(args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let e = text(&scalar_str(Self::NAME, &args.args[0])?)?;
        let texts = strings(Self::NAME, &args.args[1], args.number_rows)?;
        let refs: Vec<&str> = texts.iter().map(|t| t.as_deref().unwrap_or("")).collect();
        let emb = e.encode(&refs).map_err(|e| exec_error(Self::NAME, e))?;
        let rows: Vec<Option<Vec<f32>>> = (0..emb.rows()).map(|i| Some(emb.row(i).to_vec())).collect();
        Ok(ColumnarValue::Array(fixed_list_f32(&rows, e.dim())?))
    }
}

/// `fuserec_encode_image(backbone, path)`: null for a null path or an image that is missing or
/// cannot be decoded (the feature store's masked rows); the job counts them and names the first.
pub struct EncodeImage;

impl Function for EncodeImage {
    const NAME: &'static str = "fuserec_encode_image";
    const ARGS: usize = 2;
    fn output(args: &ReturnFieldArgs) -> DfResult<DataType> {
        let e = image(&literal_str(Self::NAME, args.scalar_arguments, 0)?)?;
        Ok(vector_type(e.dim()))
    }
    fn invoke(args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let e = image(&scalar_str(Self::NAME, &args.args[0])?)?;
        let paths = strings(Self::NAME, &args.args[1], args.number_rows)?;
        let mut ok = Vec::with_capacity(paths.len());
        let mut which = Vec::with_capacity(paths.len());
        for (i, p) in paths.iter().enumerate() {
            if let Some(img) = p.as_deref().and_then(|p| fuserec_data::open_image(Some(std::path::Path::new(p))).ok()) {
                ok.push(img);
                which.push(i);
            }
        }
        let emb = e.encode(&ok).map_err(|e| exec_error(Self::NAME, e))?;
        let mut rows: Vec<Option<Vec<f32>>> = vec![None; paths.len()];
        for (r, &i) in which.iter().enumerate() {
            rows[i] = Some(emb.row(r).to_vec());
        }
        Ok(ColumnarValue::Array(fixed_list_f32(&rows, e.dim())?))
    }
}
