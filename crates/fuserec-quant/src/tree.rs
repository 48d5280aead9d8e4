use crate::assign::{gather, sq_dist};
use crate::{Codes, KMeans, KMeansConfig, Quantizer, check_dim, validate};
use fuserec_core::{Embeddings, Error, Result, Rng};
use rayon::prelude::*;

/// The nodes of one tree level. Children of a node are contiguous in the next level.
#[derive(Clone, Debug, PartialEq)]
pub struct TreeLevel {
    /// `nodes × dim` centres of this level's nodes.
    pub centroids: Embeddings,
    /// Parent node (in the previous level) of each node; 0 for level 0 (the implicit root).
    pub parent: Vec<u32>,
    /// Range of each node's children in the next level: `first_child..first_child + n_children`.
    pub first_child: Vec<u32>,
    /// Number of children of each node in the next level (0 on the last level).
    pub n_children: Vec<u32>,
}

/// k-means with `branching` clusters inside every node, `depth` levels deep. An item's code at
/// level ℓ is the id of its level-ℓ node, which names the whole path down to it (what an
/// embedding table wants). Nodes with fewer items than `branching` give each item its own child.
#[derive(Clone, Debug)]
pub struct HierarchicalKMeans {
    /// Clusters per node.
    pub branching: usize,
    /// Levels.
    pub depth: usize,
    /// The nodes, level by level.
    pub levels: Vec<TreeLevel>,
    /// Codes of the training rows.
    pub train_codes: Codes,
}

/// How to grow a [`HierarchicalKMeans`] tree. Named fields with defaults, so that
/// `TreeConfig { branching: 4, ..TreeConfig::default() }` reads as what it sets.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TreeConfig {
    /// Clusters inside every node (≥ 2): level ℓ has at most `branchingˡ⁺¹` nodes.
    pub branching: usize,
    /// Levels (≥ 1): one code per level.
    pub depth: usize,
    /// Lloyd iterations per node's k-means.
    pub max_iter: usize,
    /// Seed; the same seed and data give the same tree.
    pub seed: u64,
}

impl Default for TreeConfig {
    /// 16 × 16 × 16 leaves (4096), 25 iterations, seed 0.
    fn default() -> Self {
        TreeConfig { branching: 16, depth: 3, max_iter: 25, seed: 0 }
    }
}

impl HierarchicalKMeans {
    /// Fits the tree on the rows of `x`. Errors: `branching < 2`, `depth == 0`, no rows, zero
    /// width or a non-finite value (naming the row).
    pub fn fit(x: &Embeddings, cfg: &TreeConfig) -> Result<Self> {
        let TreeConfig { branching, depth, max_iter, seed } = *cfg;
        validate(x, "hierarchical k-means")?;
        if branching < 2 || depth == 0 {
            return Err(Error::Config(format!("tree needs branching ≥ 2 and depth ≥ 1, got {branching} and {depth}")));
        }
        let n = x.rows();
        let mut codes = Codes::new(n, depth);
        let mut levels: Vec<TreeLevel> = Vec::new();
        // Items of each node of the level above (the root holds everything).
        let mut groups: Vec<Vec<u32>> = vec![(0..n as u32).collect()];
        for level in 0..depth {
            // Cluster each parent's items independently (in parallel).
            let fitted: Vec<Result<(Embeddings, Vec<Vec<u32>>)>> = groups
                .par_iter()
                .enumerate()
                .map(|(p, items)| split(x, items, branching, Rng::derive(seed, ((level as u64) << 32) | p as u64).next_u64(), max_iter))
                .collect();
            let mut centroids = Vec::new();
            let mut parent = Vec::new();
            let mut next_groups = Vec::new();
            let mut first = Vec::with_capacity(groups.len());
            let mut count = Vec::with_capacity(groups.len());
            for (p, f) in fitted.into_iter().enumerate() {
                let (c, members) = f?;
                first.push(next_groups.len() as u32);
                count.push(members.len() as u32);
                for (j, m) in members.into_iter().enumerate() {
                    let node = next_groups.len() as u32;
                    m.iter().for_each(|&i| codes.set(i as usize, level, node));
                    centroids.extend_from_slice(c.row(j));
                    parent.push(p as u32);
                    next_groups.push(m);
                }
            }
            if let Some(prev) = levels.last_mut() {
                prev.first_child = first;
                prev.n_children = count;
            }
            let nodes = parent.len();
            levels.push(TreeLevel {
                centroids: Embeddings::from_vec(nodes, x.dim(), centroids)?,
                parent,
                first_child: vec![0; nodes],
                n_children: vec![0; nodes],
            });
            groups = next_groups;
        }
        Ok(HierarchicalKMeans { branching, depth, levels, train_codes: codes })
    }

    /// Children of `node` at `level` (node ids at `level + 1`).
    pub fn children(&self, level: usize, node: u32) -> std::ops::Range<u32> {
        let l = &self.levels[level];
        l.first_child[node as usize]..l.first_child[node as usize] + l.n_children[node as usize]
    }

    /// Rebuilds navigation from parent arrays (children are contiguous and in parent order).
    pub(crate) fn from_levels(branching: usize, mut levels: Vec<TreeLevel>) -> Result<Self> {
        for l in 1..levels.len() {
            let n_parent = levels[l - 1].parent.len();
            let mut first = vec![0u32; n_parent];
            let mut count = vec![0u32; n_parent];
            let mut prev = 0u32;
            for (i, &p) in levels[l].parent.iter().enumerate() {
                if p as usize >= n_parent || p < prev {
                    return Err(Error::Invalid(format!("tree level {l}: parent ids must be sorted and < {n_parent}")));
                }
                if count[p as usize] == 0 {
                    first[p as usize] = i as u32;
                }
                count[p as usize] += 1;
                prev = p;
            }
            levels[l - 1].first_child = first;
            levels[l - 1].n_children = count;
        }
        let depth = levels.len();
        Ok(HierarchicalKMeans { branching, depth, levels, train_codes: Codes::new(0, depth) })
    }
}

/// Splits `items` into at most `b` children: k-means when there are more than `b` items, one
/// child per item otherwise. Returns child centroids and members.
fn split(x: &Embeddings, items: &[u32], b: usize, seed: u64, max_iter: usize) -> Result<(Embeddings, Vec<Vec<u32>>)> {
    let sub = gather(x, items);
    if items.len() <= b {
        return Ok((sub, items.iter().map(|&i| vec![i]).collect()));
    }
    let km = KMeans::fit(&sub, &KMeansConfig { max_iter, ..KMeansConfig::new(b, seed) })?;
    let mut members = vec![Vec::new(); b];
    for (&i, &l) in items.iter().zip(&km.labels) {
        members[l as usize].push(i);
    }
    // Repair guarantees non-empty clusters at fit time; drop any that still are (duplicates).
    let keep: Vec<usize> = (0..b).filter(|&j| !members[j].is_empty()).collect();
    let c = gather(&km.centroids, &keep.iter().map(|&j| j as u32).collect::<Vec<_>>());
    Ok((c, keep.into_iter().map(|j| std::mem::take(&mut members[j])).collect()))
}

impl Quantizer for HierarchicalKMeans {
    fn name(&self) -> String {
        format!("tree(b={},d={})", self.branching, self.depth)
    }
    fn dim(&self) -> usize {
        self.levels[0].centroids.dim()
    }
    fn levels(&self) -> usize {
        self.depth
    }
    fn codes_per_level(&self) -> Vec<usize> {
        self.levels.iter().map(|l| l.parent.len()).collect()
    }
    fn capacity_per_level(&self) -> Vec<usize> {
        (1..=self.depth as u32).map(|l| self.branching.saturating_pow(l)).collect()
    }
    /// Greedy descent: nearest level-0 node, then the nearest of its children, and so on.
    fn encode(&self, x: &Embeddings) -> Result<Codes> {
        check_dim(x, self.dim())?;
        let depth = self.depth;
        let data: Vec<u32> = (0..x.rows())
            .into_par_iter()
            .flat_map_iter(|i| {
                let v = x.row(i);
                let mut path = Vec::with_capacity(depth);
                let mut range = 0..self.levels[0].parent.len() as u32;
                for level in 0..depth {
                    let c = &self.levels[level].centroids;
                    let best = range
                        .clone()
                        .min_by(|&a, &b| sq_dist(v, c.row(a as usize)).total_cmp(&sq_dist(v, c.row(b as usize))))
                        .expect("every node above the leaves has a child");
                    path.push(best);
                    if level + 1 < depth {
                        range = self.children(level, best);
                    }
                }
                path
            })
            .collect();
        Codes::from_vec(x.rows(), depth, data)
    }
    fn reconstruct(&self, codes: &Codes, level: usize) -> Result<Embeddings> {
        let l = self.levels.get(level).ok_or_else(|| Error::Invalid(format!("tree has {} levels, asked for {level}", self.depth)))?;
        let idx: Vec<u32> = (0..codes.len()).map(|i| codes.get(i, level)).collect();
        if let Some(bad) = idx.iter().find(|&&c| c as usize >= l.parent.len()) {
            return Err(Error::Invalid(format!("node {bad} outside level {level} (0..{})", l.parent.len())));
        }
        Ok(gather(&l.centroids, &idx))
    }
}
