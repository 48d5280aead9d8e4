//! Cooperative cancellation: a host (the Python bindings on Ctrl-C) asks long work to stop, and
//! the loops that take long (training epochs and batches, encoding chunks, the experiment's
//! models) return [`Error::Cancelled`] at their next check. One flag per process.

use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks running work to stop at its next check.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Clears a request (before new work starts).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// Whether a stop was requested (cheap: one relaxed atomic load).
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// `Err(Error::Cancelled)` when a stop was requested.
pub fn check() -> Result<()> {
    if requested() { Err(Error::Cancelled) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_request_is_seen_until_cleared() {
        super::clear();
        assert!(super::check().is_ok());
        super::request();
        assert!(matches!(super::check(), Err(crate::Error::Cancelled)));
        super::clear();
        assert!(super::check().is_ok());
    }
}
