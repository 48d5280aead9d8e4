//! Progress bars on long steps (hidden when stderr is not a terminal, e.g. in CI logs).

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Hides every bar from now on (`true`) or lets them draw again (a host's `quiet=` switch).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::SeqCst);
}

/// A progress bar of `len` steps labelled `msg` on stderr; hidden after `set_quiet(true)`.
pub fn bar(len: u64, msg: &str) -> ProgressBar {
    if QUIET.load(Ordering::Relaxed) {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{msg:>28} [{bar:40}] {pos}/{len} ({elapsed}, eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    b.set_message(msg.to_string());
    b
}

/// A ticking spinner for steps whose length is unknown up front.
pub fn spinner(msg: &str) -> ProgressBar {
    if QUIET.load(Ordering::Relaxed) {
        return ProgressBar::hidden();
    }
    let s = ProgressBar::new_spinner();
    s.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"));
    s.set_message(msg.to_string());
    s.enable_steady_tick(std::time::Duration::from_millis(200));
    s
}
