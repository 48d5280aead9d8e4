//! CTR samples: every impression (clicked or not; for ratings, rating ≥ 4 is a click) with the
//! user's clicked items strictly before it as the behaviour sequence (most recent last, capped,
//! padding masked).

use fuserec_core::{Error, Interaction, Result};

/// CTR training or test samples, column by column: one row per impression.
pub struct CtrSamples {
    /// Dense user index per impression.
    pub users: Vec<u32>,
    /// Dense item index per impression.
    pub items: Vec<u32>,
    /// Impression time (seconds).
    pub ts: Vec<i64>,
    /// 1.0 click, 0.0 no click.
    pub labels: Vec<f32>,
    /// `len × cap` behaviour item ids (padding: 0), most recent in the last real position.
    pub behaviours: Vec<u32>,
    /// `len × cap`: 1 for a real behaviour, 0 for padding.
    pub mask: Vec<f32>,
    /// Behaviour sequence length (columns of `behaviours` and `mask`).
    pub cap: usize,
}

impl CtrSamples {
    /// Number of impressions.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when there is no impression.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// One sample per interaction of `samples`, histories from the clicks in `history` (usually
    /// the same log, or train ∪ samples) strictly before the sample's time.
    pub fn build(samples: &[Interaction], history: &[Interaction], n_users: usize, cap: usize) -> Result<Self> {
        if cap == 0 {
            return Err(Error::Config("ctr: behaviour sequence cap must be ≥ 1".into()));
        }
        let clicks = crate::clicks_by_user(n_users, &[history])?;
        let n = samples.len();
        let mut s = CtrSamples {
            users: Vec::with_capacity(n),
            items: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            labels: Vec::with_capacity(n),
            behaviours: vec![0; n * cap],
            mask: vec![0.0; n * cap],
            cap,
        };
        for (k, x) in samples.iter().enumerate() {
            let seq = clicks.get(x.user.idx()).ok_or_else(|| Error::UnknownId {
                kind: "user",
                id: x.user.0.to_string(),
                context: Some(format!("{n_users} users")),
            })?;
            let end = seq.partition_point(|c| c.0 < x.ts);
            let start = end.saturating_sub(cap);
            for (p, c) in seq[start..end].iter().enumerate() {
                s.behaviours[k * cap + p] = c.1;
                s.mask[k * cap + p] = 1.0;
            }
            s.users.push(x.user.0);
            s.items.push(x.item.0);
            s.ts.push(x.ts);
            s.labels.push(if x.is_positive() { 1.0 } else { 0.0 });
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::{ItemId, UserId};

    fn ev(user: u32, item: u32, ts: i64, label: f32) -> Interaction {
        Interaction { user: UserId(user), item: ItemId(item), ts, label, weight: 1.0 }
    }

    #[test]
    fn histories_are_strictly_earlier_clicks_capped_and_masked() {
        let log = [ev(0, 1, 10, 1.0), ev(0, 2, 20, 0.0), ev(0, 3, 30, 1.0), ev(0, 4, 30, 1.0), ev(0, 5, 40, 1.0), ev(1, 9, 5, 0.0)];
        let s = CtrSamples::build(&log, &log, 2, 2).unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s.labels, vec![1.0, 0.0, 1.0, 1.0, 1.0, 0.0]);
        // Item 1 at t=10: nothing before.
        assert_eq!(&s.mask[0..2], &[0.0, 0.0]);
        // Item 2 at t=20 (a non-click): history [1]; non-clicks never enter histories.
        assert_eq!((&s.behaviours[2..4], &s.mask[2..4]), (&[1, 0][..], &[1.0, 0.0][..]));
        // Items 3 and 4 at t=30: only clicks before 30 (not each other).
        assert_eq!(&s.behaviours[4..6], &[1, 0]);
        assert_eq!(&s.behaviours[6..8], &[1, 0]);
        // Item 5 at t=40: clicks 1, 3, 4 capped to the two most recent, in time order.
        assert_eq!((&s.behaviours[8..10], &s.mask[8..10]), (&[3, 4][..], &[1.0, 1.0][..]));
        // User 1 never clicked: an empty, fully masked history.
        assert_eq!(&s.mask[10..12], &[0.0, 0.0]);
        assert!(CtrSamples::build(&log, &log, 1, 2).is_err(), "user 1 is outside 1 user");
        assert!(CtrSamples::build(&log, &log, 2, 0).is_err());
    }
}
