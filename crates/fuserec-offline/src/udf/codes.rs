//! `fuserec_codes(quantizer_file, vector)`: cluster codes of a vector from a quantizer saved by
//! `cargo xtask quantize` (tree, k-means or residual), without refitting.

use super::{Cache, DfResult, Function, exec_error, literal_str, present, scalar_str, vector_width, vectors};
use datafusion::arrow::array::{FixedSizeListArray, UInt32Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::plan_err;
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs};
use fuserec_quant::Quantizer;
use std::sync::Arc;

static QUANTIZERS: Cache<dyn Quantizer> = Cache::new();

fn quantizer(path: &str) -> DfResult<Arc<dyn Quantizer>> {
    QUANTIZERS.get(path, || fuserec_quant::load(std::path::Path::new(path)).map(Arc::from))
}

fn codes_type(levels: usize) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new("item", DataType::UInt32, false)), levels as i32)
}

/// `fuserec_codes(quantizer_file, vector)`; a null vector gives null codes.
pub struct Codes;

impl Function for Codes {
    const NAME: &'static str = "fuserec_codes";
    const ARGS: usize = 2;
    fn output(args: &ReturnFieldArgs) -> DfResult<DataType> {
        let q = quantizer(&literal_str(Self::NAME, args.scalar_arguments, 0)?)?;
        let d = vector_width(Self::NAME, args.arg_fields[1].data_type())?;
        if d != q.dim() {
            return plan_err!("{}: vectors of width {d} for a quantizer of width {}", Self::NAME, q.dim());
        }
        Ok(codes_type(q.levels()))
    }
    fn invoke(args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let q = quantizer(&scalar_str(Self::NAME, &args.args[0])?)?;
        let rows = vectors(Self::NAME, &args.args[1], args.number_rows, q.dim())?;
        let x = present(Self::NAME, &rows, q.dim())?;
        let codes = if x.rows() > 0 { Some(q.encode(&x).map_err(|e| exec_error(Self::NAME, e))?) } else { None };
        let levels = q.levels();
        let mut values = Vec::with_capacity(rows.len() * levels);
        let mut k = 0;
        for r in &rows {
            match (r, &codes) {
                (Some(_), Some(c)) => {
                    values.extend((0..levels).map(|l| c.get(k, l)));
                    k += 1;
                }
                _ => values.extend(std::iter::repeat_n(0, levels)),
            }
        }
        let nulls = rows.iter().any(Option::is_none).then(|| NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>()));
        let field = Arc::new(Field::new("item", DataType::UInt32, false));
        let out = FixedSizeListArray::try_new(field, levels as i32, Arc::new(UInt32Array::from(values)), nulls)?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
