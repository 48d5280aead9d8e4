//! fuserec's functions for DataFusion plans. Each loads what it needs by name or path (an
//! encoder, a quantizer file, an item-vector file) once per process and caches it, so the same
//! plan runs embedded or on executors that only share the file system and the function names.
//!
//! | function | returns |
//! |---|---|
//! | `fuserec_unit_hash(seed, id)` | f64 in `[0, 1)`, a stable hash of the id (split draws) |
//! | `fuserec_encode_text(backbone, text)` | fixed-size list of f32: the text backbone's row |
//! | `fuserec_encode_image(backbone, path)` | fixed-size list of f32, null when the image cannot be read |
//! | `fuserec_codes(quantizer_file, vector)` | fixed-size list of u32: one cluster code per level |
//! | `fuserec_topk(items_file, vector, k)` | list of `{item, score}`: exact top-`k` by inner product |

mod codes;
mod encode;
mod hash;
mod topk;

pub use codes::Codes;
pub use encode::{EncodeImage, EncodeText};
pub use hash::{UnitHash, unit_hash};
pub use topk::TopK;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::common::{DataFusionError, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::prelude::SessionContext;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, LazyLock, Mutex};

type DfResult<T> = datafusion::error::Result<T>;

/// Every fuserec function (for a cluster's function registries).
pub fn all() -> Vec<ScalarUDF> {
    vec![
        Udf::<UnitHash>::scalar(),
        Udf::<EncodeText>::scalar(),
        Udf::<EncodeImage>::scalar(),
        Udf::<Codes>::scalar(),
        Udf::<TopK>::scalar(),
    ]
}

/// Registers every fuserec function on `ctx`.
pub fn register_all(ctx: &SessionContext) {
    all().into_iter().for_each(|f| ctx.register_udf(f));
}

/// One fuserec function: its name, its number of arguments, its output type (which may depend
/// on literal arguments: a backbone's width, a quantizer's levels) and its batch kernel.
pub trait Function: Send + Sync + 'static {
    /// The SQL name.
    const NAME: &'static str;
    /// Number of arguments (any types; each kernel checks its own).
    const ARGS: usize;
    /// The output type for these arguments.
    fn output(args: &ReturnFieldArgs) -> DfResult<DataType>;
    /// One batch.
    fn invoke(args: ScalarFunctionArgs) -> DfResult<ColumnarValue>;
}

/// A [`Function`] as DataFusion's scalar UDF.
pub struct Udf<F> {
    signature: Signature,
    kernel: PhantomData<fn() -> F>,
}

impl<F: Function> Udf<F> {
    /// The UDF, ready to register.
    pub fn scalar() -> ScalarUDF {
        ScalarUDF::new_from_impl(Udf::<F> { signature: Signature::any(F::ARGS, Volatility::Immutable), kernel: PhantomData })
    }
}

impl<F> std::fmt::Debug for Udf<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Udf").field("signature", &self.signature).finish()
    }
}
impl<F> PartialEq for Udf<F> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<F> Eq for Udf<F> {}
impl<F> std::hash::Hash for Udf<F> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        std::any::type_name::<F>().hash(h)
    }
}

impl<F: Function> ScalarUDFImpl for Udf<F> {
    fn name(&self) -> &str {
        F::NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        unreachable!("return_field_from_args is implemented")
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        Ok(Arc::new(Field::new(F::NAME, F::output(&args)?, true)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        F::invoke(args)
    }
}

/// A process-wide cache of loaded things (encoders, quantizers, indexes) by name or path.
pub(crate) struct Cache<T: ?Sized>(LazyLock<Mutex<HashMap<String, Arc<T>>>>);

impl<T: ?Sized> Cache<T> {
    pub(crate) const fn new() -> Self {
        Cache(LazyLock::new(|| Mutex::new(HashMap::new())))
    }

    /// The cached value for `key`, loading it on first use (a failed load is not cached).
    pub(crate) fn get(&self, key: &str, load: impl FnOnce() -> fuserec_core::Result<Arc<T>>) -> DfResult<Arc<T>> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = m.get(key) {
            return Ok(v.clone());
        }
        let v = load().map_err(|e| DataFusionError::Execution(format!("{key}: {e}")))?;
        m.insert(key.to_string(), v.clone());
        Ok(v)
    }
}

/// Argument `i` as a constant string (a backbone name or a file path): it must be a literal,
/// since the output type depends on what it names.
pub(crate) fn literal_str(f: &str, args: &[Option<&ScalarValue>], i: usize) -> DfResult<String> {
    match args.get(i).copied().flatten() {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s))) => Ok(s.clone()),
        _ => plan_err!("{f}: argument {} must be a string literal", i + 1),
    }
}

/// The same constant at execution time.
pub(crate) fn scalar_str(f: &str, v: &ColumnarValue) -> DfResult<String> {
    match v {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s))) => {
            Ok(s.clone())
        }
        _ => exec_err!("{f}: expected a string literal"),
    }
}

/// A string column (any of Arrow's string types) as owned optional strings.
pub(crate) fn strings(f: &str, v: &ColumnarValue, rows: usize) -> DfResult<Vec<Option<String>>> {
    let a = v.to_array(rows)?;
    let a = datafusion::arrow::compute::cast(&a, &DataType::Utf8)?;
    if !matches!(a.data_type(), DataType::Utf8) {
        return exec_err!("{f}: expected strings");
    }
    Ok(a.as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect())
}

/// A vector column (list or fixed-size list of floats) as rows of `dim` f32 (`None` for nulls);
/// a row of another width or with a non-finite value is an error naming its position.
pub(crate) fn vectors(f: &str, v: &ColumnarValue, rows: usize, dim: usize) -> DfResult<Vec<Option<Vec<f32>>>> {
    use datafusion::arrow::datatypes::Float32Type;
    let a: ArrayRef = v.to_array(rows)?;
    let row = |i: usize| -> DfResult<Option<Vec<f32>>> {
        if a.is_null(i) {
            return Ok(None);
        }
        let inner: ArrayRef = match a.data_type() {
            DataType::FixedSizeList(_, _) => a.as_fixed_size_list().value(i),
            DataType::List(_) => a.as_list::<i32>().value(i),
            DataType::LargeList(_) => a.as_list::<i64>().value(i),
            t => return exec_err!("{f}: expected a list of floats, got {t}"),
        };
        let inner = datafusion::arrow::compute::cast(&inner, &DataType::Float32)?;
        let x: Vec<f32> = inner.as_primitive::<Float32Type>().iter().map(|v| v.unwrap_or(f32::NAN)).collect();
        if x.len() != dim {
            return exec_err!("{f}: row {i} of the batch has width {}, expected {dim}", x.len());
        }
        if let Some(c) = x.iter().position(|v| !v.is_finite()) {
            return exec_err!("{f}: row {i} of the batch has a null or non-finite value at column {c}");
        }
        Ok(Some(x))
    };
    (0..a.len()).map(row).collect()
}

/// A fuserec error as the engine's, naming the function.
pub(crate) fn exec_error(f: &str, e: fuserec_core::Error) -> DataFusionError {
    DataFusionError::Execution(format!("{f}: {e}"))
}

/// The non-null rows of a vector column as one matrix, in order (nulls are skipped; the caller
/// spreads results back over them).
pub(crate) fn present(f: &str, rows: &[Option<Vec<f32>>], dim: usize) -> DfResult<fuserec_core::Embeddings> {
    let data: Vec<f32> = rows.iter().flatten().flat_map(|v| v.iter().copied()).collect();
    fuserec_core::Embeddings::from_vec(data.len() / dim.max(1), dim, data).map_err(|e| exec_error(f, e))
}

/// Rows of `dim` f32 (`None` = null row) as a fixed-size list array.
pub(crate) fn fixed_list_f32(rows: &[Option<Vec<f32>>], dim: usize) -> DfResult<ArrayRef> {
    use datafusion::arrow::array::{FixedSizeListArray, Float32Array};
    use datafusion::arrow::buffer::NullBuffer;
    use datafusion::arrow::datatypes::Field;
    let mut values = Vec::with_capacity(rows.len() * dim);
    for r in rows {
        match r {
            Some(v) => values.extend_from_slice(v),
            None => values.extend(std::iter::repeat_n(0.0, dim)),
        }
    }
    let nulls = rows.iter().any(Option::is_none).then(|| NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>()));
    let field = Arc::new(Field::new("item", DataType::Float32, false));
    Ok(Arc::new(FixedSizeListArray::try_new(field, dim as i32, Arc::new(Float32Array::from(values)), nulls)?))
}

/// The output type of a vector function: `dim` non-null f32.
pub(crate) fn vector_type(dim: usize) -> DataType {
    DataType::FixedSizeList(Arc::new(datafusion::arrow::datatypes::Field::new("item", DataType::Float32, false)), dim as i32)
}

/// The width of a vector argument's type (fixed-size lists only: the width must be known).
pub(crate) fn vector_width(f: &str, t: &DataType) -> DfResult<usize> {
    match t {
        DataType::FixedSizeList(_, d) if *d > 0 => Ok(*d as usize),
        t => plan_err!(
            "{f}: the vector argument must be a fixed-size list of floats, got {t} (CAST it, e.g. arrow_cast(v, 'FixedSizeList(64, Float32)'))"
        ),
    }
}
