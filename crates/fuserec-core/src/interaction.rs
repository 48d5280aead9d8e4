use crate::{ItemId, UserId};

/// One logged event: the item was shown to the user at `ts` (seconds); `label` 1 = click /
/// positive, 0 = exposure without click. `weight` defaults to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interaction {
    /// Who saw the item.
    pub user: UserId,
    /// The item shown.
    pub item: ItemId,
    /// When, in seconds since the Unix epoch (any consistent origin works).
    pub ts: i64,
    /// 1 for a click / positive, 0 for an exposure without click.
    pub label: f32,
    /// Sample weight in losses (1 unless the data says otherwise).
    pub weight: f32,
}

impl Interaction {
    /// `label > 0.5`.
    pub fn is_positive(&self) -> bool {
        self.label > 0.5
    }
}
