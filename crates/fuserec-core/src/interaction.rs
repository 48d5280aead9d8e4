use crate::{ItemId, UserId};

/// One logged event: the item was shown to the user at `ts` (seconds); `label` 1 = click /
/// positive, 0 = exposure without click. `weight` defaults to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interaction {
    pub user: UserId,
    pub item: ItemId,
    pub ts: i64,
    pub label: f32,
    pub weight: f32,
}

impl Interaction {
    pub fn is_positive(&self) -> bool {
        self.label > 0.5
    }
}
