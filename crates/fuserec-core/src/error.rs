use std::path::PathBuf;

/// fuserec's result: [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One error type for the whole framework. Parse errors always carry the file and line so a user
/// can open the offending row directly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A line of a text file (TSV, CSV, TOML, JSON lines) that does not parse.
    #[error("{}:{line}: {msg}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        msg: String,
    },
    /// A row of a columnar file (Parquet): row group and row within it, 0-based.
    #[error("{}: row group {row_group}, row {row}: {msg}", path.display())]
    Row {
        /// The file.
        path: PathBuf,
        /// 0-based row group.
        row_group: usize,
        /// 0-based row within the row group.
        row: usize,
        /// What is wrong with the row.
        msg: String,
    },
    /// Reading or writing a file failed. The I/O error is part of the message (not a
    /// `source`), so it is printed once.
    #[error("{}: {err}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        err: std::io::Error,
    },
    /// An id that the dataset or model does not know.
    #[error("unknown {kind} id `{id}`{}", context.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    UnknownId {
        /// `"user"`, `"item"`, …
        kind: &'static str,
        /// The id as given.
        id: String,
        /// Where it was met (file and line, request, …), when known.
        context: Option<String>,
    },
    /// Lengths or widths that do not fit together (a matrix of the wrong width, lists of
    /// different lengths).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A value outside its domain (NaN, a negative count, an undecodable image).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A configuration that cannot run (unknown kind, k larger than the rows, …).
    #[error("config: {0}")]
    Config(String),
    /// A file the work needs (weights, a dataset) is not there; the message says how to get it.
    #[error("asset missing: {0}")]
    MissingAsset(String),
    /// The work was asked to stop ([`crate::cancel`]).
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), err: source }
    }
    /// [`Error::Parse`] at `path:line`.
    pub fn parse(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Error::Parse { path: path.into(), line, msg: msg.into() }
    }
}
