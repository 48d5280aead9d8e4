//! Approximate maximum-inner-product search with a hierarchical navigable small-world graph
//! (HNSW, Malkov & Yashunin): a greedy walk from the top layer down to a beam search of width
//! `ef` on layer 0. Items are keyed by an external `u32` key; insert, upsert (re-insert under the
//! same key) and delete work online. A deleted or replaced node stays in the graph as a waypoint
//! (tombstone) but is never returned.
//!
//! Bulk loads search for the neighbours of a batch of new items in parallel against the graph as
//! it stands, then link them one by one; a batch is at most 1/16 of the graph, so an item misses
//! at most its batch-mates as neighbours (later items link back to them).

use crate::Ranked;
use fuserec_core::{Error, Result, Rng};
use rayon::prelude::*;
use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

/// Shape of an [`Hnsw`] graph and its default search width. Defaults: m 16, ef_construction 128,
/// ef_search 64, seed 0.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HnswConfig {
    /// Links per node on the upper layers (twice as many on layer 0).
    #[serde(default = "d_m")]
    pub m: usize,
    /// Beam width while inserting.
    #[serde(default = "d_efc")]
    pub ef_construction: usize,
    /// Default beam width of a search (raised to `k` when smaller).
    #[serde(default = "d_ef")]
    pub ef_search: usize,
    /// Seed of the level draws; the same seed and insertion order give the same graph.
    #[serde(default)]
    pub seed: u64,
}
fn d_m() -> usize {
    16
}
fn d_efc() -> usize {
    128
}
fn d_ef() -> usize {
    64
}

impl Default for HnswConfig {
    fn default() -> Self {
        HnswConfig { m: d_m(), ef_construction: d_efc(), ef_search: d_ef(), seed: 0 }
    }
}

/// A distance that orders like `-dot` (smaller = closer), with a total order for heaps.
#[derive(Clone, Copy, PartialEq, Debug)]
struct Near(f32, u32);
impl Eq for Near {}
impl PartialOrd for Near {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Near {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then(self.1.cmp(&o.1))
    }
}

/// Whether the CPU has AVX2 and FMA (checked once, at index creation): then the inner product
/// uses them, else `fuserec_core::simd::dot` (lanes the compiler vectorises for the baseline target).
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_fma(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: this function's target features are the ones the body needs.
    unsafe { dot_fma_body(a, b) }
}

/// The AVX2 + FMA inner product, for inlining into functions compiled with those features (a
/// call to [`dot_fma`] per distance cannot be inlined into the search loop otherwise).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot_fma_body(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY: the caller guarantees AVX2 and FMA; every load reads 8 floats at i ≤ n − 8
    // (bounds from n = the shorter length).
    unsafe {
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i + 16 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)), s1);
            i += 16;
        }
        if i + 8 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
            i += 8;
        }
        let s = _mm256_add_ps(s0, s1);
        let x = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        let x = _mm_add_ps(x, _mm_movehl_ps(x, x));
        let x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
        let mut r = _mm_cvtss_f32(x);
        while i < n {
            r += a[i] * b[i];
            i += 1;
        }
        r
    }
}

/// Generation-stamped visited marks and the beam's heaps, reused across searches of one thread
/// (a search then allocates nothing but its answer).
struct Visited {
    /// One byte per node (1 MB at 1M nodes: the marks stay in cache), refilled every 255 searches.
    stamp: Vec<u8>,
    now: u8,
    cand: BinaryHeap<Reverse<Near>>,
    best: BinaryHeap<Near>,
    /// A node's neighbours not visited yet (prefetched, then scored).
    fresh: Vec<u32>,
}

impl Visited {
    fn start(&mut self, n: usize) {
        if self.stamp.len() < n {
            self.stamp.resize(n, 0);
        }
        self.now = self.now.wrapping_add(1);
        if self.now == 0 {
            self.stamp.fill(0);
            self.now = 1;
        }
    }
    /// Marks `v`; true when it was not marked yet.
    #[inline]
    fn first(&mut self, v: u32) -> bool {
        let s = &mut self.stamp[v as usize];
        let fresh = *s != self.now;
        *s = self.now;
        fresh
    }
}

thread_local! {
    static VISITED: RefCell<Visited> = const { RefCell::new(Visited { stamp: Vec::new(), now: 0, cand: BinaryHeap::new(), best: BinaryHeap::new(), fresh: Vec::new() }) };
}

/// An HNSW graph over `u32`-keyed vectors, searched by inner product (normalise the vectors
/// for cosine). Built online: [`insert`](Hnsw::insert) (also an upsert), [`extend`](Hnsw::extend)
/// for bulk loads, [`remove`](Hnsw::remove). Search through [`VectorIndex`](crate::VectorIndex) or
/// [`search_ef`](Hnsw::search_ef) to set the beam width per call.
pub struct Hnsw {
    dim: usize,
    fma: bool,
    cfg: HnswConfig,
    ml: f64,
    rng: Rng,
    data: Vec<f32>,
    keys: Vec<u32>,
    node_of: HashMap<u32, u32>,
    dead: Vec<bool>,
    /// Layer-0 links: per node `1 + 2m` slots, `[count, links…]`.
    layer0: Vec<u32>,
    /// Upper-layer links: per node, `level × (1 + m)` slots (layers 1..=level).
    upper: Vec<Vec<u32>>,
    entry: Option<u32>,
    top: usize,
}

/// A new item's place in the graph, found before it is linked.
struct Plan {
    level: usize,
    /// Per layer `0..=min(level, top)`: the chosen neighbours.
    links: Vec<Vec<u32>>,
}

impl Hnsw {
    /// An empty graph for vectors of width `dim`. Errors: `dim` 0, `m < 2`, or a zero beam width.
    pub fn new(dim: usize, cfg: HnswConfig) -> Result<Self> {
        if dim == 0 || cfg.m < 2 || cfg.ef_construction == 0 || cfg.ef_search == 0 {
            return Err(Error::Config(format!(
                "hnsw: dim {dim}, m {} (≥ 2), ef_construction {}, ef_search {}",
                cfg.m, cfg.ef_construction, cfg.ef_search
            )));
        }
        Ok(Hnsw {
            dim,
            fma: has_fma(),
            cfg,
            ml: 1.0 / (cfg.m as f64).ln(),
            rng: Rng::derive(cfg.seed, 0x4E5),
            data: Vec::new(),
            keys: Vec::new(),
            node_of: HashMap::new(),
            dead: Vec::new(),
            layer0: Vec::new(),
            upper: Vec::new(),
            entry: None,
            top: 0,
        })
    }

    /// Width of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// The configuration it was built with.
    pub fn config(&self) -> HnswConfig {
        self.cfg
    }
    /// Live (searchable) items.
    pub fn len(&self) -> usize {
        self.node_of.len()
    }
    /// True when no live item remains.
    pub fn is_empty(&self) -> bool {
        self.node_of.is_empty()
    }
    /// Graph nodes including tombstones of deleted and replaced items.
    pub fn nodes(&self) -> usize {
        self.keys.len()
    }
    /// Whether `key` is a live item.
    pub fn contains(&self, key: u32) -> bool {
        self.node_of.contains_key(&key)
    }
    /// The stored vector of a live `key`.
    pub fn vector(&self, key: u32) -> Option<&[f32]> {
        self.node_of.get(&key).map(|&n| self.vec(n))
    }

    /// Inner product, dispatched by a predictable branch (a direct call, unlike a fn pointer).
    #[inline(always)]
    fn ip(&self, a: &[f32], b: &[f32]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if self.fma {
            // SAFETY: `fma` is true only when the CPU has AVX2 and FMA.
            return unsafe { dot_fma(a, b) };
        }
        fuserec_core::simd::dot(a, b)
    }

    #[inline(always)]
    fn vec(&self, n: u32) -> &[f32] {
        &self.data[n as usize * self.dim..(n as usize + 1) * self.dim]
    }
    #[inline(always)]
    fn links(&self, n: u32, layer: usize) -> &[u32] {
        let s = if layer == 0 {
            let w = 1 + 2 * self.cfg.m;
            &self.layer0[n as usize * w..(n as usize + 1) * w]
        } else {
            let w = 1 + self.cfg.m;
            &self.upper[n as usize][(layer - 1) * w..layer * w]
        };
        &s[1..1 + s[0] as usize]
    }
    fn set_links(&mut self, n: u32, layer: usize, to: &[u32]) {
        let s = if layer == 0 {
            let w = 1 + 2 * self.cfg.m;
            &mut self.layer0[n as usize * w..(n as usize + 1) * w]
        } else {
            let w = 1 + self.cfg.m;
            &mut self.upper[n as usize][(layer - 1) * w..layer * w]
        };
        s[0] = to.len() as u32;
        s[1..1 + to.len()].copy_from_slice(to);
    }
    fn cap(&self, layer: usize) -> usize {
        if layer == 0 { 2 * self.cfg.m } else { self.cfg.m }
    }

    fn check(&self, v: &[f32], what: &str) -> Result<()> {
        if v.len() != self.dim {
            return Err(Error::Shape(format!("hnsw: {what} has {} values, the index {}", v.len(), self.dim)));
        }
        if let Some(k) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::Invalid(format!("hnsw: {what} has a non-finite value at {k}")));
        }
        Ok(())
    }

    /// Beam search on one layer from `eps`; returns up to `ef` nodes passing `keep`, nearest first.
    /// Nodes that fail `keep` are still walked through. Runs a copy compiled for AVX2 + FMA when
    /// the CPU has them, with the inner product inlined into the loop.
    fn search_layer<K: Fn(u32) -> bool>(
        &self,
        q: &[f32],
        eps: &[Near],
        ef: usize,
        layer: usize,
        visited: &mut Visited,
        keep: K,
    ) -> Vec<Near> {
        #[cfg(target_arch = "x86_64")]
        if self.fma {
            // SAFETY: `fma` is true only when the CPU has AVX2 and FMA.
            return unsafe { self.search_layer_fma(q, eps, ef, layer, visited, keep) };
        }
        self.search_layer_with::<K, false>(q, eps, ef, layer, visited, keep)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn search_layer_fma<K: Fn(u32) -> bool>(
        &self,
        q: &[f32],
        eps: &[Near],
        ef: usize,
        layer: usize,
        visited: &mut Visited,
        keep: K,
    ) -> Vec<Near> {
        self.search_layer_with::<K, true>(q, eps, ef, layer, visited, keep)
    }

    #[inline(always)]
    fn search_layer_with<K: Fn(u32) -> bool, const FMA: bool>(
        &self,
        q: &[f32],
        eps: &[Near],
        ef: usize,
        layer: usize,
        visited: &mut Visited,
        keep: K,
    ) -> Vec<Near> {
        #[inline(always)]
        fn ip<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
            #[cfg(target_arch = "x86_64")]
            if FMA {
                // SAFETY: FMA is true only in the copy compiled for AVX2 + FMA, which runs only
                // when the CPU has them.
                return unsafe { dot_fma_body(a, b) };
            }
            fuserec_core::simd::dot(a, b)
        }
        visited.start(self.keys.len());
        let mut cand = std::mem::take(&mut visited.cand);
        let mut best = std::mem::take(&mut visited.best);
        let mut fresh = std::mem::take(&mut visited.fresh);
        cand.clear();
        best.clear();
        for &e in eps {
            if visited.first(e.1) {
                cand.push(Reverse(e));
                if keep(e.1) {
                    best.push(e);
                }
            }
        }
        while best.len() > ef {
            best.pop();
        }
        while let Some(Reverse(c)) = cand.pop() {
            if best.len() >= ef && best.peek().is_some_and(|w| c.0 > w.0) {
                break;
            }
            // The neighbours not seen yet, their vectors requested before any is scored; and the
            // next candidate's links, which the loop reads after these.
            fresh.clear();
            for &e in self.links(c.1, layer) {
                if visited.first(e) {
                    self.prefetch(e);
                    fresh.push(e);
                }
            }
            if let Some(Reverse(next)) = cand.peek() {
                self.prefetch_links(next.1, layer);
            }
            for &e in &fresh {
                let d = -ip::<FMA>(q, self.vec(e));
                if best.len() < ef || best.peek().is_some_and(|w| d < w.0) {
                    cand.push(Reverse(Near(d, e)));
                    if keep(e) {
                        best.push(Near(d, e));
                        if best.len() > ef {
                            best.pop();
                        }
                    }
                }
            }
        }
        let mut out: Vec<Near> = best.drain().collect();
        out.sort();
        (visited.cand, visited.best, visited.fresh) = (cand, best, fresh);
        out
    }

    /// Hints the CPU to fetch a node's layer-0 links (upper layers are few and stay cached).
    #[inline(always)]
    fn prefetch_links(&self, n: u32, layer: usize) {
        #[cfg(target_arch = "x86_64")]
        if layer == 0 {
            let w = 1 + 2 * self.cfg.m;
            let p = self.layer0.as_ptr().wrapping_add(n as usize * w) as *const i8;
            for off in (0..w * 4).step_by(64) {
                // SAFETY: a prefetch is a hint; it never faults, even on an invalid address.
                unsafe { std::arch::x86_64::_mm_prefetch(p.wrapping_add(off), std::arch::x86_64::_MM_HINT_T0) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (n, layer);
    }

    /// Hints the CPU to fetch a node's vector before its distance is needed.
    #[inline(always)]
    fn prefetch(&self, n: u32) {
        #[cfg(target_arch = "x86_64")]
        {
            // Every cache line of the vector (a 64-d row is four).
            let p = self.data.as_ptr().wrapping_add(n as usize * self.dim) as *const i8;
            for off in (0..self.dim * 4).step_by(64) {
                // SAFETY: a prefetch is a hint; it never faults, even on an invalid address.
                unsafe { std::arch::x86_64::_mm_prefetch(p.wrapping_add(off), std::arch::x86_64::_MM_HINT_T0) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = n;
    }

    /// Greedy walk on an upper layer: move to the nearest neighbour until none is nearer.
    fn greedy(&self, q: &[f32], mut cur: Near, layer: usize) -> Near {
        loop {
            let mut moved = false;
            for &e in self.links(cur.1, layer) {
                let d = -self.ip(q, self.vec(e));
                if d < cur.0 {
                    cur = Near(d, e);
                    moved = true;
                }
            }
            if !moved {
                return cur;
            }
        }
    }

    /// Malkov's heuristic: keep a candidate only if it is nearer to the base than to every
    /// neighbour kept so far, which spreads links over directions instead of one dense cluster.
    fn select(&self, sorted: &[Near], m: usize) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::with_capacity(m);
        for c in sorted {
            if out.len() >= m {
                break;
            }
            let v = self.vec(c.1);
            if out.iter().all(|&r| -self.ip(v, self.vec(r)) > c.0) {
                out.push(c.1);
            }
        }
        out
    }

    /// Greedy descent to `layer` and beam searches below it, against the graph as it is.
    fn plan(&self, q: &[f32], level: usize, visited: &mut Visited) -> Plan {
        let Some(entry) = self.entry else { return Plan { level, links: Vec::new() } };
        let mut cur = Near(-self.ip(q, self.vec(entry)), entry);
        for layer in (level + 1..=self.top).rev() {
            cur = self.greedy(q, cur, layer);
        }
        let mut eps = vec![cur];
        let mut links = vec![Vec::new(); level.min(self.top) + 1];
        for layer in (0..=level.min(self.top)).rev() {
            let w = self.search_layer(q, &eps, self.cfg.ef_construction, layer, visited, |_| true);
            let live: Vec<Near> = w.iter().copied().filter(|n| !self.dead[n.1 as usize]).collect();
            links[layer] = self.select(&live, self.cfg.m);
            if !w.is_empty() {
                eps = w;
            }
        }
        Plan { level, links }
    }

    fn draw_level(&mut self) -> usize {
        ((-(1.0 - self.rng.uniform()).ln() * self.ml) as usize).min(16)
    }

    /// Adds the node and its links (both directions, shrinking full lists by the heuristic).
    fn link(&mut self, key: u32, v: &[f32], plan: Plan) -> u32 {
        if let Some(old) = self.node_of.remove(&key) {
            self.dead[old as usize] = true;
        }
        let n = self.keys.len() as u32;
        self.data.extend_from_slice(v);
        self.keys.push(key);
        self.dead.push(false);
        self.layer0.extend(std::iter::repeat_n(0, 1 + 2 * self.cfg.m));
        self.upper.push(vec![0; plan.level * (1 + self.cfg.m)]);
        self.node_of.insert(key, n);
        for (layer, nbs) in plan.links.iter().enumerate() {
            self.set_links(n, layer, nbs);
            for &b in nbs {
                let cap = self.cap(layer);
                let cur = self.links(b, layer);
                if cur.len() < cap {
                    let mut l = cur.to_vec();
                    l.push(n);
                    self.set_links(b, layer, &l);
                } else {
                    let base = self.vec(b);
                    let mut c: Vec<Near> = cur.iter().chain(std::iter::once(&n)).map(|&x| Near(-self.ip(base, self.vec(x)), x)).collect();
                    c.sort();
                    let l = self.select(&c, cap);
                    self.set_links(b, layer, &l);
                }
            }
        }
        if self.entry.is_none() || plan.level > self.top {
            self.entry = Some(n);
            self.top = plan.level;
        }
        n
    }

    /// Inserts `v` under `key`; an existing item with that key is replaced (upsert).
    pub fn insert(&mut self, key: u32, v: &[f32]) -> Result<()> {
        self.check(v, &format!("item {key}"))?;
        let level = self.draw_level();
        let plan = VISITED.with(|vis| self.plan(v, level, &mut vis.borrow_mut()));
        self.link(key, v, plan);
        Ok(())
    }

    /// Bulk insert (`vectors`: `keys.len() × dim`), neighbour searches in parallel.
    pub fn extend(&mut self, keys: &[u32], vectors: &[f32]) -> Result<()> {
        if vectors.len() != keys.len() * self.dim {
            return Err(Error::Shape(format!("hnsw: {} values for {} items × {}", vectors.len(), keys.len(), self.dim)));
        }
        for (k, v) in keys.iter().zip(vectors.chunks_exact(self.dim)) {
            self.check(v, &format!("item {k}"))?;
        }
        let fresh = self.keys.is_empty();
        let mut at = 0;
        while at < keys.len() {
            let batch = (self.keys.len() / 16).clamp(1, 4096).min(keys.len() - at);
            let levels: Vec<usize> = (0..batch).map(|_| self.draw_level()).collect();
            let this = &*self;
            let plans: Vec<Plan> = (0..batch)
                .into_par_iter()
                .map(|i| {
                    VISITED.with(|vis| this.plan(&vectors[(at + i) * this.dim..(at + i + 1) * this.dim], levels[i], &mut vis.borrow_mut()))
                })
                .collect();
            for (i, plan) in plans.into_iter().enumerate() {
                self.link(keys[at + i], &vectors[(at + i) * self.dim..(at + i + 1) * self.dim], plan);
            }
            at += batch;
        }
        if fresh {
            self.reorder();
        }
        Ok(())
    }

    /// Renumbers nodes in breadth-first order of layer 0 from the entry point, so that nodes a
    /// search visits together sit together in memory (fewer cache misses on large graphs).
    fn reorder(&mut self) {
        let n = self.keys.len();
        let Some(entry) = self.entry else { return };
        let mut order: Vec<u32> = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        let mut queue = std::collections::VecDeque::from([entry]);
        seen[entry as usize] = true;
        while let Some(v) = queue.pop_front() {
            order.push(v);
            for &e in self.links(v, 0) {
                if !std::mem::replace(&mut seen[e as usize], true) {
                    queue.push_back(e);
                }
            }
        }
        order.extend((0..n as u32).filter(|&v| !seen[v as usize]));
        let mut new_of = vec![0u32; n];
        for (new, &old) in order.iter().enumerate() {
            new_of[old as usize] = new as u32;
        }
        let (d, w0) = (self.dim, 1 + 2 * self.cfg.m);
        let mut data = Vec::with_capacity(self.data.len());
        let mut layer0 = Vec::with_capacity(self.layer0.len());
        let mut upper = Vec::with_capacity(n);
        let (mut keys, mut dead) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let w = 1 + self.cfg.m;
        for &old in &order {
            let o = old as usize;
            data.extend_from_slice(&self.data[o * d..(o + 1) * d]);
            let row = &self.layer0[o * w0..(o + 1) * w0];
            layer0.push(row[0]);
            layer0.extend(row[1..].iter().enumerate().map(|(k, &x)| if (k as u32) < row[0] { new_of[x as usize] } else { 0 }));
            let mut up = std::mem::take(&mut self.upper[o]);
            for lvl in up.chunks_mut(w) {
                let c = lvl[0] as usize;
                lvl[1..1 + c].iter_mut().for_each(|x| *x = new_of[*x as usize]);
            }
            upper.push(up);
            keys.push(self.keys[o]);
            dead.push(self.dead[o]);
        }
        (self.data, self.layer0, self.upper, self.keys, self.dead) = (data, layer0, upper, keys, dead);
        self.node_of.values_mut().for_each(|v| *v = new_of[*v as usize]);
        self.entry = Some(new_of[entry as usize]);
    }

    /// Removes `key` (its node stays as a waypoint). Returns whether it was present.
    pub fn remove(&mut self, key: u32) -> bool {
        match self.node_of.remove(&key) {
            Some(n) => {
                self.dead[n as usize] = true;
                true
            }
            None => false,
        }
    }

    /// Top-`k` live items by inner product with `q` (`(key, score)`, best first, ties to the lower
    /// key), leaving out keys for which `exclude` is true. `ef = None` uses the configured width.
    pub fn search_ef(&self, q: &[f32], k: usize, ef: Option<usize>, exclude: &dyn Fn(u32) -> bool) -> Result<Ranked> {
        self.check(q, "query")?;
        let Some(entry) = self.entry else { return Ok(Vec::new()) };
        if k == 0 {
            return Ok(Vec::new());
        }
        let ef = ef.unwrap_or(self.cfg.ef_search).max(k);
        let keep = |n: u32| !self.dead[n as usize] && !exclude(self.keys[n as usize]);
        let found = VISITED.with(|vis| {
            let vis = &mut vis.borrow_mut();
            let mut cur = Near(-self.ip(q, self.vec(entry)), entry);
            for layer in (1..=self.top).rev() {
                cur = self.greedy(q, cur, layer);
            }
            self.search_layer(q, &[cur], ef, 0, vis, keep)
        });
        let mut out: Ranked = found.into_iter().map(|n| (self.keys[n.1 as usize], -n.0)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(k);
        Ok(out)
    }

    /// Mean out-degree on layer 0 over live nodes (a health figure for reports).
    pub fn mean_degree(&self) -> f64 {
        let live: Vec<u32> = self.node_of.values().copied().collect();
        live.iter().map(|&n| self.links(n, 0).len()).sum::<usize>() as f64 / live.len().max(1) as f64
    }

    /// Highest layer of any node.
    pub fn layers(&self) -> usize {
        self.top + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Candidates, ExactIndex};
    use fuserec_core::Embeddings;

    /// `n` unit vectors around 50 centres (item embeddings cluster by topic).
    fn clustered(n: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        let centres: Vec<f32> = (0..50 * d).map(|_| rng.normal() as f32).collect();
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let c = rng.below(50);
            let mut v: Vec<f32> = (0..d).map(|j| centres[c * d + j] + 0.6 * rng.normal() as f32).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            out.extend(v);
        }
        out
    }

    fn recall(h: &Hnsw, items: &[f32], queries: &[f32], d: usize, ef: usize) -> f64 {
        let exact = ExactIndex::new(Embeddings::from_vec(items.len() / d, d, items.to_vec()).unwrap());
        let qn = queries.len() / d;
        let truth = exact.search_candidates(&Embeddings::from_vec(qn, d, queries.to_vec()).unwrap(), 10, Candidates::default()).unwrap();
        let mut hit = 0;
        for (q, t) in truth.iter().enumerate() {
            let got = h.search_ef(&queries[q * d..(q + 1) * d], 10, Some(ef), &|_| false).unwrap();
            hit += got.iter().filter(|g| t.iter().any(|x| x.0 == g.0)).count();
        }
        hit as f64 / (10 * qn) as f64
    }

    #[test]
    fn recall_against_exact_search_and_online_inserts_agree_with_bulk() {
        let (n, d) = (4000, 32);
        let items = clustered(n, d, 1);
        let queries = clustered(200, d, 2);
        let keys: Vec<u32> = (0..n as u32).collect();
        let mut bulk = Hnsw::new(d, HnswConfig::default()).unwrap();
        bulk.extend(&keys, &items).unwrap();
        let r = recall(&bulk, &items, &queries, d, 64);
        assert!(r > 0.95, "bulk recall@10 {r}");
        assert!(recall(&bulk, &items, &queries, d, 10) < r + 1e-9, "a narrower beam cannot find more");
        let mut online = Hnsw::new(d, HnswConfig::default()).unwrap();
        for (k, v) in keys.iter().zip(items.chunks_exact(d)) {
            online.insert(*k, v).unwrap();
        }
        let r2 = recall(&online, &items, &queries, d, 64);
        assert!(r2 > 0.95, "online recall@10 {r2}");
        assert_eq!(bulk.len(), n);
        assert!(bulk.mean_degree() > 4.0 && bulk.layers() >= 2);
        // Every item finds itself.
        for key in [0u32, 17, 1234, 3999] {
            let got = bulk.search_ef(&items[key as usize * d..(key as usize + 1) * d], 1, None, &|_| false).unwrap();
            assert_eq!(got[0].0, key);
        }
        // Deterministic: the same seed builds the same graph.
        let mut again = Hnsw::new(d, HnswConfig::default()).unwrap();
        again.extend(&keys, &items).unwrap();
        for q in queries.chunks_exact(d).take(20) {
            assert_eq!(again.search_ef(q, 10, None, &|_| false).unwrap(), bulk.search_ef(q, 10, None, &|_| false).unwrap());
        }
    }

    #[test]
    fn upsert_delete_and_filters() {
        let d = 16;
        let items = clustered(1000, d, 3);
        let keys: Vec<u32> = (0..1000).map(|k| k * 7).collect();
        let mut h = Hnsw::new(d, HnswConfig { seed: 4, ..Default::default() }).unwrap();
        h.extend(&keys, &items).unwrap();
        let q = &items[10 * d..11 * d];
        assert_eq!(h.search_ef(q, 1, None, &|_| false).unwrap()[0].0, 70);
        // Filter: a user's seen items never come back, and k results still do.
        let seen = |k: u32| k == 70 || k.is_multiple_of(2);
        let got = h.search_ef(q, 10, None, &seen).unwrap();
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|g| !seen(g.0)));
        assert!(got.windows(2).all(|w| w[0].1 >= w[1].1));
        // Upsert: key 70 moves to item 500's place; it is found there, exactly once.
        h.insert(70, &items[500 * d..501 * d]).unwrap();
        assert_eq!(h.len(), 1000);
        assert_eq!(h.nodes(), 1001);
        let near_old = h.search_ef(q, 5, None, &|_| false).unwrap();
        assert!(near_old.iter().all(|g| g.0 != 70), "the old vector no longer answers for 70");
        let near_new = h.search_ef(&items[500 * d..501 * d], 2, None, &|_| false).unwrap();
        let mut ks: Vec<u32> = near_new.iter().map(|g| g.0).collect();
        ks.sort();
        assert_eq!(ks, vec![70, 3500], "{near_new:?}");
        assert_eq!(h.vector(70).unwrap(), &items[500 * d..501 * d]);
        // Delete.
        assert!(h.remove(3500) && !h.remove(3500) && !h.contains(3500));
        let all = h.search_ef(&items[500 * d..501 * d], 999, Some(999), &|_| false).unwrap();
        assert_eq!(all.len(), 999, "every live item reachable");
        assert!(all.iter().all(|g| g.0 != 3500));
        // Bad input and the empty index.
        assert!(h.insert(1, &[0.0; 3]).is_err());
        let mut nan = items[..d].to_vec();
        nan[2] = f32::NAN;
        assert!(h.insert(1, &nan).is_err() && h.search_ef(&nan, 3, None, &|_| false).is_err());
        assert!(Hnsw::new(d, HnswConfig::default()).unwrap().search_ef(q, 3, None, &|_| false).unwrap().is_empty());
        assert!(Hnsw::new(0, HnswConfig::default()).is_err());
    }
}
