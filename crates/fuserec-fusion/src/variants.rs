use crate::rows::RowViews;
use crate::{FusionGate, Views};
use fuserec_core::Result;
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{V1, V2, fork};

fn need<T>(x: Option<T>, what: &str, who: &str) -> T {
    x.unwrap_or_else(|| panic!("{who} fusion called without its {what} input (a model-assembly bug)"))
}

/// The plain id two-tower: `item = b`.
pub struct IdOnly;
/// Content only: `item = c` (every item, warm or cold, is its content).
pub struct ContentOnly;
/// Both views side by side, no gate: `item = [b ; c]`.
pub struct MultiView;
/// `item = [b ; g·c]` against a query `[q_b ; q_c]`.
pub struct ConcatGate;
/// `item = (1−g)·b + g·c`, written `b + g·(c − b)`.
pub struct AdditiveGate;

fn scale_rows(x: V2, g: V1) -> V2 {
    let s = *x.shape();
    x * g.broadcast_like::<_, Axis<1>>(&s)
}

impl FusionGate for IdOnly {
    fn name(&self) -> &'static str {
        "id-only"
    }
    fn views(&self) -> Views {
        Views { behaviour: true, content: false, gated: false, concat: false }
    }
    fn fuse(&self, b: Option<V2>, _: Option<V2>, _: Option<V1>) -> V2 {
        need(b, "behaviour", self.name())
    }
    fn fuse_rows(&self, d: usize, b: Option<&[f32]>, c: Option<&[f32]>, g: Option<&[f32]>) -> Result<Vec<f32>> {
        let v = RowViews::check(self.name(), d, (b, c, g), (true, false, false))?;
        Ok(v.b.unwrap_or_default().to_vec())
    }
}

impl FusionGate for ContentOnly {
    fn name(&self) -> &'static str {
        "content-only"
    }
    fn views(&self) -> Views {
        Views { behaviour: false, content: true, gated: false, concat: false }
    }
    fn fuse(&self, _: Option<V2>, c: Option<V2>, _: Option<V1>) -> V2 {
        need(c, "content", self.name())
    }
    fn fuse_rows(&self, d: usize, b: Option<&[f32]>, c: Option<&[f32]>, g: Option<&[f32]>) -> Result<Vec<f32>> {
        let v = RowViews::check(self.name(), d, (b, c, g), (false, true, false))?;
        Ok(v.c.unwrap_or_default().to_vec())
    }
}

impl FusionGate for MultiView {
    fn name(&self) -> &'static str {
        "multi-view"
    }
    fn views(&self) -> Views {
        Views { behaviour: true, content: true, gated: false, concat: true }
    }
    fn fuse(&self, b: Option<V2>, c: Option<V2>, _: Option<V1>) -> V2 {
        (need(b, "behaviour", self.name()), need(c, "content", self.name())).concat_along(Axis::<1>)
    }
    fn fuse_rows(&self, d: usize, b: Option<&[f32]>, c: Option<&[f32]>, g: Option<&[f32]>) -> Result<Vec<f32>> {
        let v = RowViews::check(self.name(), d, (b, c, g), (true, true, false))?;
        Ok(concat_rows(&v, |_| 1.0))
    }
}

impl FusionGate for ConcatGate {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn views(&self) -> Views {
        Views { behaviour: true, content: true, gated: true, concat: true }
    }
    fn fuse(&self, b: Option<V2>, c: Option<V2>, g: Option<V1>) -> V2 {
        let gc = scale_rows(need(c, "content", self.name()), need(g, "gate", self.name()));
        (need(b, "behaviour", self.name()), gc).concat_along(Axis::<1>)
    }
    fn fuse_rows(&self, d: usize, b: Option<&[f32]>, c: Option<&[f32]>, g: Option<&[f32]>) -> Result<Vec<f32>> {
        let v = RowViews::check(self.name(), d, (b, c, g), (true, true, true))?;
        let g = v.g.unwrap_or_default();
        Ok(concat_rows(&v, |r| g[r]))
    }
}

impl FusionGate for AdditiveGate {
    fn name(&self) -> &'static str {
        "additive"
    }
    fn views(&self) -> Views {
        Views { behaviour: true, content: true, gated: true, concat: false }
    }
    fn fuse(&self, b: Option<V2>, c: Option<V2>, g: Option<V1>) -> V2 {
        let [b1, b2] = fork(need(b, "behaviour", self.name()));
        b1 + scale_rows(need(c, "content", self.name()) - b2, need(g, "gate", self.name()))
    }
    fn fuse_rows(&self, d: usize, b: Option<&[f32]>, c: Option<&[f32]>, g: Option<&[f32]>) -> Result<Vec<f32>> {
        let v = RowViews::check(self.name(), d, (b, c, g), (true, true, true))?;
        let (b, c, g) = (v.b.unwrap_or_default(), v.c.unwrap_or_default(), v.g.unwrap_or_default());
        Ok(b.iter().zip(c).enumerate().map(|(j, (&b, &c))| b + g[j / d] * (c - b)).collect())
    }
}

/// `[b ; w(r)·c]` per row `r`.
fn concat_rows(v: &RowViews<'_>, w: impl Fn(usize) -> f32) -> Vec<f32> {
    let (b, c, d) = (v.b.unwrap_or_default(), v.c.unwrap_or_default(), v.d);
    let mut out = Vec::with_capacity(2 * v.rows * d);
    for r in 0..v.rows {
        out.extend_from_slice(RowViews::row(b, d, r));
        out.extend(RowViews::row(c, d, r).iter().map(|&x| w(r) * x));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FusionKind;
    use fuserec_nn::{T1, T2, device, leaf};

    #[test]
    fn hand_computed_fusions() {
        let dev = device(0);
        let b: T2 = dev.tensor_from_vec(vec![1.0, 0.0, 0.0, 1.0], (2, 2));
        let c: T2 = dev.tensor_from_vec(vec![0.0, 1.0, 1.0, 0.0], (2, 2));
        let g: T1 = dev.tensor_from_vec(vec![0.25, 1.0], (2,));
        let run = |k: FusionKind| {
            k.build().fuse(Some(b.leaky_trace()), Some(c.leaky_trace()), Some(g.leaky_trace())).retaped::<NoneTape>().as_vec()
        };
        assert_eq!(run(FusionKind::IdOnly), vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(run(FusionKind::ContentOnly), vec![0.0, 1.0, 1.0, 0.0]);
        assert_eq!(run(FusionKind::MultiView), vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
        assert_eq!(run(FusionKind::Concat), vec![1.0, 0.0, 0.0, 0.25, 0.0, 1.0, 1.0, 0.0]);
        assert_eq!(run(FusionKind::Additive), vec![0.75, 0.25, 1.0, 0.0]);
        for k in [FusionKind::IdOnly, FusionKind::ContentOnly, FusionKind::MultiView, FusionKind::Concat, FusionKind::Additive] {
            assert_eq!(run(k).len() / 2, k.build().fused_dim(2), "{k:?}");
        }
    }

    /// The plain path gives the taped path's numbers for every fusion, and wrong shapes are
    /// errors naming the view.
    #[test]
    fn plain_rows_match_the_taped_path_and_check_shapes() {
        let dev = device(0);
        let mut rng = fuserec_core::Rng::new(5);
        let (n, d) = (7, 3);
        let bv: Vec<f32> = (0..n * d).map(|_| rng.normal() as f32).collect();
        let cv: Vec<f32> = (0..n * d).map(|_| rng.normal() as f32).collect();
        let gv: Vec<f32> = (0..n).map(|_| rng.uniform() as f32).collect();
        for k in [FusionKind::IdOnly, FusionKind::ContentOnly, FusionKind::MultiView, FusionKind::Concat, FusionKind::Additive] {
            let f = k.build();
            let b: T2 = dev.tensor_from_vec(bv.clone(), (n, d));
            let c: T2 = dev.tensor_from_vec(cv.clone(), (n, d));
            let g: T1 = dev.tensor_from_vec(gv.clone(), (n,));
            let taped = f.fuse(Some(b.leaky_trace()), Some(c.leaky_trace()), Some(g.leaky_trace())).retaped::<NoneTape>().as_vec();
            let plain = f.fuse_rows(d, Some(&bv), Some(&cv), Some(&gv)).unwrap();
            assert_eq!(plain.len(), n * f.fused_dim(d), "{k:?}");
            assert!(plain.iter().zip(&taped).all(|(a, b)| (a - b).abs() < 1e-6), "{k:?}: {plain:?} vs {taped:?}");
        }
        let e = AdditiveGate.fuse_rows(d, Some(&bv), Some(&cv[..d * 6]), Some(&gv)).unwrap_err().to_string();
        assert!(e.contains("behaviour has 7 rows but content has 6"), "{e}");
        let e = AdditiveGate.fuse_rows(d, Some(&bv), Some(&cv), None).unwrap_err().to_string();
        assert!(e.contains("needs the gate"), "{e}");
        let e = ConcatGate.fuse_rows(d, Some(&bv[..4]), Some(&cv), Some(&gv)).unwrap_err().to_string();
        assert!(e.contains("4 values is not rows of width 3"), "{e}");
        assert!(IdOnly.fuse_rows(0, Some(&bv), None, None).is_err());
        assert!(ContentOnly.fuse_rows(d, Some(&bv), None, None).is_err());
    }

    #[test]
    fn additive_gradient_reaches_gate() {
        // d/dg Σ((1−g)b + g c) = Σ(c − b) per row.
        let dev = device(0);
        let (tg, g) = leaf(&dev, vec![0.3, 0.6], 1, 2);
        let g = g.reshape_like(&(2,));
        let b: T2 = dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0], (2, 2));
        let c: T2 = dev.tensor_from_vec(vec![0.5, 0.5, 5.0, 1.0], (2, 2));
        let out = AdditiveGate.fuse(Some(b.leaky_trace()), Some(c.leaky_trace()), Some(g));
        let grads = out.sum::<(), _>().backward();
        assert_eq!(grads.get(&tg).as_vec(), vec![-2.0, -1.0]);
    }
}
