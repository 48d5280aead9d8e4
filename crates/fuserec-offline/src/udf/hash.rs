//! `fuserec_unit_hash(seed, id)`: a stable hash of an id to `[0, 1)`, the same on every machine
//! and engine, for draws that must not depend on row order (which items are cold).

use super::{DfResult, Function};
use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::exec_err;
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs};
use std::sync::Arc;

/// FNV-1a over the id's bytes, seeded, finished by SplitMix64's mixer; the top 53 bits as a
/// fraction of 2⁵³ (exact in f64).
pub fn unit_hash(seed: u64, id: &str) -> f64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in id.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// `fuserec_unit_hash(seed BIGINT, id VARCHAR) → DOUBLE`; a null id gives null.
pub struct UnitHash;

impl Function for UnitHash {
    const NAME: &'static str = "fuserec_unit_hash";
    const ARGS: usize = 2;
    fn output(_: &ReturnFieldArgs) -> DfResult<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke(args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let seeds = datafusion::arrow::compute::cast(&args.args[0].to_array(n)?, &DataType::Int64)?;
        let ids = super::strings(Self::NAME, &args.args[1], n)?;
        let seeds = seeds.as_primitive::<Int64Type>();
        if seeds.null_count() > 0 {
            return exec_err!("fuserec_unit_hash: null seed");
        }
        let out: Float64Array = ids.iter().enumerate().map(|(i, id)| id.as_deref().map(|s| unit_hash(seeds.value(i) as u64, s))).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
