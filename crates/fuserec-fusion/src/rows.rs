//! The plain inference path: fusion on row-major `&[f32]` slices, no autodiff tape, shape
//! mismatches as errors. Applies a trained gate's values outside a training graph.

use fuserec_core::{Error, Result};

/// Behaviour, content and gate inputs of one call, each optional.
pub(crate) type Inputs<'a> = (Option<&'a [f32]>, Option<&'a [f32]>, Option<&'a [f32]>);

/// The views one plain fusion call reads, checked: `rows` rows of width `d` each.
pub(crate) struct RowViews<'a> {
    pub rows: usize,
    pub d: usize,
    pub b: Option<&'a [f32]>,
    pub c: Option<&'a [f32]>,
    pub g: Option<&'a [f32]>,
}

impl<'a> RowViews<'a> {
    /// Checks that every view the fusion `who` reads is present and that all agree on the
    /// number of rows (`b`, `c`: `rows × d`; `g`: `rows`).
    pub fn check(who: &str, d: usize, (b, c, g): Inputs<'a>, needs: (bool, bool, bool)) -> Result<Self> {
        if d == 0 {
            return Err(Error::Shape(format!("{who} fusion: view width 0")));
        }
        let mut rows: Option<(usize, &str)> = None;
        let mut agree = |n: usize, what: &'static str| -> Result<()> {
            match rows {
                Some((r, first)) if r != n => Err(Error::Shape(format!("{who} fusion: {first} has {r} rows but {what} has {n}"))),
                _ => {
                    rows.get_or_insert((n, what));
                    Ok(())
                }
            }
        };
        for (view, need, what) in [(b, needs.0, "behaviour"), (c, needs.1, "content")] {
            match view {
                Some(v) if !v.len().is_multiple_of(d) => {
                    return Err(Error::Shape(format!("{who} fusion: {what} of {} values is not rows of width {d}", v.len())));
                }
                Some(v) => agree(v.len() / d, what)?,
                None if need => return Err(Error::Shape(format!("{who} fusion needs the {what} view"))),
                None => {}
            }
        }
        match g {
            Some(g) => agree(g.len(), "gate")?,
            None if needs.2 => return Err(Error::Shape(format!("{who} fusion needs the gate values"))),
            None => {}
        }
        Ok(RowViews { rows: rows.map_or(0, |r| r.0), d, b, c, g })
    }

    /// Row `r` of a present view.
    pub fn row(view: &'a [f32], d: usize, r: usize) -> &'a [f32] {
        &view[r * d..(r + 1) * d]
    }
}
