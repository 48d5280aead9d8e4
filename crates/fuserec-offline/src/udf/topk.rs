//! `fuserec_topk(items_file, vector, k)`: exact top-`k` items by inner product for each query
//! row, against an item-vector Parquet file (`item` + a vector column, as fuserec writes them),
//! loaded once per process and scored with fuserec-index's blocked exact search.

use super::{Cache, DfResult, Function, exec_error, literal_str, present, scalar_str, vector_width, vectors};
use datafusion::arrow::array::{ArrayRef, Float32Builder, ListBuilder, StringBuilder, StructBuilder, UInt32Builder};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs};
use fuserec_index::{ExactIndex, VectorIndex};
use std::sync::Arc;

/// An item-vector file loaded for scoring: raw ids and the index over their rows.
pub struct ItemVectors {
    ids: Vec<String>,
    index: ExactIndex,
}

static ITEMS: Cache<ItemVectors> = Cache::new();

fn items(path: &str) -> DfResult<Arc<ItemVectors>> {
    ITEMS.get(path, || {
        let (ids, rows, dim) = fuserec_data::columnar::read_embeddings(std::path::Path::new(path))?;
        let emb = fuserec_core::Embeddings::from_vec(ids.len(), dim, rows)?;
        Ok(Arc::new(ItemVectors { ids, index: ExactIndex::new(emb) }))
    })
}

fn entry_fields() -> Fields {
    Fields::from(vec![
        Field::new("rank", DataType::UInt32, false),
        Field::new("item", DataType::Utf8, false),
        Field::new("score", DataType::Float32, false),
    ])
}

fn output_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Struct(entry_fields()), true)))
}

fn literal_k(f: &str, v: Option<&ScalarValue>) -> DfResult<usize> {
    match v.and_then(|s| s.cast_to(&DataType::Int64).ok()) {
        Some(ScalarValue::Int64(Some(k))) if k > 0 => Ok(k as usize),
        _ => plan_err!("{f}: k must be a positive integer literal"),
    }
}

/// `fuserec_topk(items_file, vector, k)`; a null query gives a null list. Ties are broken by item
/// position in the file.
pub struct TopK;

impl Function for TopK {
    const NAME: &'static str = "fuserec_topk";
    const ARGS: usize = 3;
    fn output(args: &ReturnFieldArgs) -> DfResult<DataType> {
        let it = items(&literal_str(Self::NAME, args.scalar_arguments, 0)?)?;
        let d = vector_width(Self::NAME, args.arg_fields[1].data_type())?;
        if d != it.index.dim() {
            return plan_err!("{}: queries of width {d} for item vectors of width {}", Self::NAME, it.index.dim());
        }
        literal_k(Self::NAME, args.scalar_arguments.get(2).copied().flatten())?;
        Ok(output_type())
    }
    fn invoke(args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let it = items(&scalar_str(Self::NAME, &args.args[0])?)?;
        let k = match &args.args[2] {
            ColumnarValue::Scalar(s) => literal_k(Self::NAME, Some(s))?,
            _ => return exec_err!("{}: k must be a literal", Self::NAME),
        };
        let dim = it.index.dim();
        let rows = vectors(Self::NAME, &args.args[1], args.number_rows, dim)?;
        let q = present(Self::NAME, &rows, dim)?;
        let ranked = if q.rows() > 0 { it.index.search_batch(&q, k, None).map_err(|e| exec_error(Self::NAME, e))? } else { Vec::new() };
        let entry = StructBuilder::new(
            entry_fields(),
            vec![Box::new(UInt32Builder::new()), Box::new(StringBuilder::new()), Box::new(Float32Builder::new())],
        );
        let mut b = ListBuilder::new(entry).with_field(Arc::new(Field::new("item", DataType::Struct(entry_fields()), true)));
        let mut next = ranked.into_iter();
        for r in &rows {
            if r.is_none() {
                b.append(false);
                continue;
            }
            for (rank, (item, score)) in next.next().unwrap_or_default().into_iter().enumerate() {
                let s = b.values();
                s.field_builder::<UInt32Builder>(0).expect("rank field").append_value(rank as u32 + 1);
                s.field_builder::<StringBuilder>(1).expect("item field").append_value(&it.ids[item as usize]);
                s.field_builder::<Float32Builder>(2).expect("score field").append_value(score);
                s.append(true);
            }
            b.append(true);
        }
        let out: ArrayRef = Arc::new(b.finish());
        Ok(ColumnarValue::Array(out))
    }
}
