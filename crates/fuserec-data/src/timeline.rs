//! Each user's positives in time order: the behaviour sequences recall histories, SCL
//! co-engagement pairs and CTR behaviour sequences are cut from.

use fuserec_core::{Error, Interaction, Result};

/// Per user: `(timestamp, item)` of every positive in `logs`, sorted by time (ties by item id).
/// A user id outside `0..n_users` is an error naming it.
pub fn clicks_by_user(n_users: usize, logs: &[&[Interaction]]) -> Result<Vec<Vec<(i64, u32)>>> {
    let mut out: Vec<Vec<(i64, u32)>> = vec![Vec::new(); n_users];
    for x in logs.iter().flat_map(|s| s.iter()).filter(|x| x.is_positive()) {
        out.get_mut(x.user.idx())
            .ok_or_else(|| Error::UnknownId { kind: "user", id: x.user.0.to_string(), context: Some(format!("{n_users} users")) })?
            .push((x.ts, x.item.0));
    }
    out.iter_mut().for_each(|c| c.sort_unstable());
    Ok(out)
}
