use crate::{Candidates, Ranked, TopK};
use fuserec_core::{Embeddings, Error, Result};
use rayon::prelude::*;

const QUERY_BLOCK: usize = 64;
const ITEM_BLOCK: usize = 2048;

/// Exact maximum-inner-product search over a fixed item matrix.
pub struct ExactIndex {
    items: Embeddings,
}

impl ExactIndex {
    /// An index over `items`, one row per item id (row `i` is item `i`).
    pub fn new(items: Embeddings) -> Self {
        ExactIndex { items }
    }
    /// The item matrix.
    pub fn items(&self) -> &Embeddings {
        &self.items
    }
    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.rows()
    }
    /// True when there is no item.
    pub fn is_empty(&self) -> bool {
        self.items.rows() == 0
    }

    /// Top-`k` items by inner product for each query row, with per-query exclusions and an
    /// item mask ([`Candidates`]); the pipeline's batch path. [`VectorIndex`](crate::VectorIndex)
    /// offers the common single/batch signature with a filter closure.
    pub fn search_candidates(&self, queries: &Embeddings, k: usize, cand: Candidates<'_>) -> Result<Vec<Ranked>> {
        let d = self.items.dim();
        if queries.dim() != d {
            return Err(Error::Shape(format!("query dim {} ≠ item dim {d}", queries.dim())));
        }
        check_candidates(&cand, queries.rows(), self.items.rows())?;
        let n = self.items.rows();
        let blocks: Vec<Result<Vec<Ranked>>> = (0..queries.rows().div_ceil(QUERY_BLOCK))
            .into_par_iter()
            .map(|qb| {
                let q0 = qb * QUERY_BLOCK;
                let qn = QUERY_BLOCK.min(queries.rows() - q0);
                let qs = &queries.as_slice()[q0 * d..(q0 + qn) * d];
                let mut heaps: Vec<TopK> = (0..qn).map(|_| TopK::new(k)).collect();
                let mut buf = vec![0f32; qn * ITEM_BLOCK];
                for i0 in (0..n).step_by(ITEM_BLOCK) {
                    let inb = ITEM_BLOCK.min(n - i0);
                    let items = &self.items.as_slice()[i0 * d..(i0 + inb) * d];
                    // buf[qn × inb] = qs[qn × d] · items[inb × d]ᵀ
                    unsafe {
                        fuserec_gemm::sgemm(
                            qn,
                            d,
                            inb,
                            1.0,
                            qs.as_ptr(),
                            d as isize,
                            1,
                            items.as_ptr(),
                            1,
                            d as isize,
                            0.0,
                            buf.as_mut_ptr(),
                            inb as isize,
                            1,
                        );
                    }
                    for (r, heap) in heaps.iter_mut().enumerate() {
                        let row = &mut buf[r * inb..(r + 1) * inb];
                        push_row(heap, row, i0, q0 + r, &cand)?;
                    }
                }
                Ok(heaps.into_iter().map(TopK::into_sorted).collect())
            })
            .collect();
        let mut out = Vec::with_capacity(queries.rows());
        for b in blocks {
            out.extend(b?);
        }
        Ok(out)
    }
}

fn check_candidates(cand: &Candidates<'_>, n_queries: usize, n_items: usize) -> Result<()> {
    if let Some(ex) = cand.exclude
        && ex.len() != n_queries
    {
        return Err(Error::Shape(format!("{} exclude lists for {n_queries} queries", ex.len())));
    }
    if let Some(a) = cand.allowed
        && a.len() != n_items
    {
        return Err(Error::Shape(format!("candidate mask of {} for {n_items} items", a.len())));
    }
    Ok(())
}

/// Pushes one row of scores for items `i0..i0+row.len()` into `heap`, after masking.
#[inline]
fn push_row(heap: &mut TopK, row: &mut [f32], i0: usize, query: usize, cand: &Candidates<'_>) -> Result<()> {
    if let Some(ex) = cand.exclude {
        let ex = &ex[query];
        let lo = ex.partition_point(|&x| (x as usize) < i0);
        let end = i0 + row.len();
        for &x in ex[lo..].iter().take_while(|&&x| (x as usize) < end) {
            row[x as usize - i0] = f32::NEG_INFINITY;
        }
    }
    // Scan in lanes: a vectorisable max (and NaN check) per lane; only lanes that can enter
    // the heap are looked at element by element. Items arrive in increasing index, so an equal
    // score never displaces a kept one (the lower index wins ties) and `>` suffices.
    const LANE: usize = 16;
    let mut th = heap.threshold();
    for (c, lane) in row.chunks(LANE).enumerate() {
        let (mut mx, mut nan) = (f32::NEG_INFINITY, false);
        for &x in lane {
            mx = if x > mx { x } else { mx };
            nan |= x.is_nan();
        }
        if nan {
            let j = lane.iter().position(|x| x.is_nan()).unwrap_or(0);
            return Err(Error::Invalid(format!("NaN score for query {query}, item {}", i0 + c * LANE + j)));
        }
        if mx <= th {
            continue;
        }
        for (j, &s) in lane.iter().enumerate() {
            if s > th {
                let item = i0 + c * LANE + j;
                if cand.allowed.is_some_and(|a| !a[item]) {
                    continue;
                }
                heap.push(item as u32, s);
                th = heap.threshold();
            }
        }
    }
    Ok(())
}

/// Top-`k` per row of a dense `rows × n_items` score matrix (models that score every item
/// directly, e.g. popularity or item-KNN). `-inf` means "cannot score": never returned.
pub fn rank_dense(scores: &mut [f32], n_items: usize, k: usize, cand: Candidates<'_>) -> Result<Vec<Ranked>> {
    if n_items == 0 || !scores.len().is_multiple_of(n_items) {
        return Err(Error::Shape(format!("{} scores are not rows of {n_items} items", scores.len())));
    }
    let rows = scores.len() / n_items;
    check_candidates(&cand, rows, n_items)?;
    scores
        .par_chunks_mut(n_items)
        .enumerate()
        .map(|(q, row)| {
            let mut heap = TopK::new(k);
            push_row(&mut heap, row, 0, q, &cand)?;
            Ok(heap.into_sorted())
        })
        .collect()
}

/// Dense inner products `out[q × n] = queries · itemsᵀ` (blocked sgemm), for models that need
/// every score rather than the top K.
pub fn inner_products(queries: &Embeddings, items: &Embeddings, out: &mut [f32]) -> Result<()> {
    let (m, d, n) = (queries.rows(), queries.dim(), items.rows());
    if items.dim() != d || out.len() != m * n {
        return Err(Error::Shape(format!("{m}×{d} · ({n}×{})ᵀ into {} values", items.dim(), out.len())));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    unsafe {
        fuserec_gemm::sgemm(
            m,
            d,
            n,
            1.0,
            queries.as_slice().as_ptr(),
            d as isize,
            1,
            items.as_slice().as_ptr(),
            1,
            d as isize,
            0.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::Rng;

    fn brute(q: &[f32], items: &Embeddings, k: usize, ex: &[u32], allowed: &[bool]) -> Vec<u32> {
        let mut s: Vec<(u32, f32)> = (0..items.rows())
            .filter(|i| !ex.contains(&(*i as u32)) && allowed[*i])
            .map(|i| (i as u32, fuserec_core::dot(q, items.row(i))))
            .collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        s.into_iter().take(k).map(|x| x.0).collect()
    }

    #[test]
    fn matches_brute_force_with_masks_across_blocks() {
        let mut r = Rng::new(1);
        let (n, d, nq) = (5000, 16, 130); // several item and query blocks
        let items = Embeddings::from_vec(n, d, (0..n * d).map(|_| r.normal() as f32).collect()).unwrap();
        let queries = Embeddings::from_vec(nq, d, (0..nq * d).map(|_| r.normal() as f32).collect()).unwrap();
        let exclude: Vec<Vec<u32>> = (0..nq)
            .map(|q| {
                let mut v: Vec<u32> = (0..20).map(|_| r.below(n) as u32).collect();
                v.sort();
                v.dedup();
                let _ = q;
                v
            })
            .collect();
        let allowed: Vec<bool> = (0..n).map(|i| i % 3 != 0).collect();
        let idx = ExactIndex::new(items.clone());
        let got = idx.search_candidates(&queries, 10, Candidates { exclude: Some(&exclude), allowed: Some(&allowed) }).unwrap();
        for q in 0..nq {
            let want = brute(queries.row(q), &items, 10, &exclude[q], &allowed);
            let ids: Vec<u32> = got[q].iter().map(|x| x.0).collect();
            assert_eq!(ids, want, "query {q}");
            assert!(got[q].windows(2).all(|w| w[0].1 >= w[1].1));
        }
    }

    #[test]
    fn dense_skips_neg_inf_and_rejects_nan() {
        let mut s = vec![0.5, f32::NEG_INFINITY, 0.9, 0.1, /* row 2 */ 1.0, 2.0, 3.0, 4.0];
        let ex = vec![vec![], vec![3]];
        let got = rank_dense(&mut s, 4, 3, Candidates { exclude: Some(&ex), allowed: None }).unwrap();
        assert_eq!(got[0], vec![(2, 0.9), (0, 0.5), (3, 0.1)]);
        assert_eq!(got[1], vec![(2, 3.0), (1, 2.0), (0, 1.0)]);
        let mut bad = vec![0.1, f32::NAN];
        let e = rank_dense(&mut bad, 2, 1, Candidates::default()).unwrap_err();
        assert!(e.to_string().contains("NaN score for query 0, item 1"), "{e}");
        assert!(rank_dense(&mut [1.0; 5], 2, 1, Candidates::default()).is_err());
    }
}
