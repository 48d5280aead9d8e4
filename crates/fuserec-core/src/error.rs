use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One error type for the whole framework. Parse errors always carry the file and line so a user
/// can open the offending row directly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}:{line}: {msg}", path.display())]
    Parse { path: PathBuf, line: usize, msg: String },
    /// The I/O error is part of the message (not a `source`), so it is printed once.
    /// A row of a columnar file (Parquet): row group and row within it, 0-based.
    #[error("{}: row group {row_group}, row {row}: {msg}", path.display())]
    Row { path: PathBuf, row_group: usize, row: usize, msg: String },
    #[error("{}: {err}", path.display())]
    Io { path: PathBuf, err: std::io::Error },
    #[error("unknown {kind} id `{id}`{}", context.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    UnknownId { kind: &'static str, id: String, context: Option<String> },
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error("invalid value: {0}")]
    Invalid(String),
    #[error("config: {0}")]
    Config(String),
    #[error("asset missing: {0}")]
    MissingAsset(String),
    /// The work was asked to stop ([`crate::cancel`]).
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), err: source }
    }
    pub fn parse(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Error::Parse { path: path.into(), line, msg: msg.into() }
    }
}
