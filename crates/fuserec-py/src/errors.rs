//! fuserec's errors as Python exceptions, and long calls run off the interpreter's thread.

use fuserec::core::Error;
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use std::time::Duration;

pyo3::create_exception!(
    _fuserec,
    FuserecError,
    pyo3::exceptions::PyValueError,
    "Bad input or configuration: the message names the file, row, column or id."
);

/// Missing files are `FileNotFoundError`, other I/O `OSError`, a stop `KeyboardInterrupt`,
/// everything else (bad rows, unknown ids, shapes, configs) [`FuserecError`] (a `ValueError`).
pub fn to_py(e: Error) -> PyErr {
    match &e {
        Error::Io { err, .. } if err.kind() == std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(e.to_string()),
        Error::Io { .. } => PyOSError::new_err(e.to_string()),
        Error::MissingAsset(_) => PyFileNotFoundError::new_err(e.to_string()),
        Error::Cancelled => PyKeyboardInterrupt::new_err("interrupted"),
        _ => FuserecError::new_err(e.to_string()),
    }
}

pub fn bad(msg: impl Into<String>) -> PyErr {
    FuserecError::new_err(msg.into())
}

/// Runs `work` on its own thread with the GIL released, so other Python threads run meanwhile.
/// Ctrl-C (a pending signal) asks the work to stop at its next check
/// ([`fuserec::core::cancel`]), waits for it and raises `KeyboardInterrupt`; a panic becomes a
/// `RuntimeError`, never a crash of the interpreter.
pub fn interruptible<T: Send>(py: Python<'_>, work: impl FnOnce() -> fuserec::core::Result<T> + Send) -> PyResult<T> {
    fuserec::core::cancel::clear();
    let outcome = std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("fuserec".into())
            .stack_size(64 << 20)
            .spawn_scoped(s, work)
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
        let mut interrupted = None;
        while !handle.is_finished() {
            py.detach(|| std::thread::sleep(Duration::from_millis(20)));
            if interrupted.is_none()
                && let Err(e) = py.check_signals()
            {
                fuserec::core::cancel::request();
                interrupted = Some(e);
            }
        }
        let joined = handle.join();
        if let Some(e) = interrupted {
            return Err(e);
        }
        match joined {
            Ok(r) => r.map_err(to_py),
            Err(p) => {
                let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                Err(PyRuntimeError::new_err(format!("fuserec panicked: {}", msg.unwrap_or_default())))
            }
        }
    });
    fuserec::core::cancel::clear();
    outcome
}
