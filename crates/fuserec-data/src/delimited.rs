//! Line-oriented reader for TSV / CSV / RecBole atomic files that keeps line numbers, so every
//! error can name `file:line`.

use fuserec_core::{Error, Result};
use std::path::{Path, PathBuf};

/// A delimited file with a header row. Header names are lower-cased and a RecBole `:type` suffix
/// is stripped (`item_id:token` → `item_id`).
#[derive(Debug)]
pub struct Table {
    pub path: PathBuf,
    pub columns: Vec<String>,
    /// `(1-based line number, fields)` for every non-empty data line; for a Parquet file the
    /// 0-based row number instead.
    pub rows: Vec<(usize, Vec<String>)>,
    /// Rows per row group when the table was read from Parquet (errors then name row group and
    /// row instead of a line).
    pub row_groups: Option<Vec<usize>>,
}

pub fn delimiter_for(path: &Path) -> char {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => ',',
        _ => '\t',
    }
}

impl Table {
    /// Reads a delimited file, or a Parquet file (`.parquet`, feature `parquet`) as strings.
    pub fn read(path: &Path) -> Result<Table> {
        #[cfg(feature = "parquet")]
        if crate::columnar::is_parquet(path) {
            return crate::columnar::read_table(path);
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text, delimiter_for(path))
    }

    pub fn parse(path: &Path, text: &str, delim: char) -> Result<Table> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(Error::parse(path, 1, "file is empty: expected a header row"));
        };
        let columns: Vec<String> = split_fields(header.trim_start_matches('\u{feff}'), delim)
            .map_err(|m| Error::parse(path, 1, m))?
            .into_iter()
            .map(|c| c.split(':').next().unwrap_or("").trim().to_ascii_lowercase())
            .collect();
        let mut rows = Vec::new();
        for (i, line) in lines {
            let fields = split_fields(line, delim).map_err(|m| Error::parse(path, i + 1, m))?;
            if fields.len() != columns.len() {
                return Err(Error::parse(
                    path,
                    i + 1,
                    format!(
                        "expected {} fields ({}), found {} (truncated line or wrong delimiter?)",
                        columns.len(),
                        columns.join(", "),
                        fields.len()
                    ),
                ));
            }
            rows.push((i + 1, fields));
        }
        Ok(Table { path: path.to_path_buf(), columns, rows, row_groups: None })
    }

    /// Index of the first column whose name is one of `names`.
    pub fn column(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.columns.iter().position(|c| c == n))
    }

    pub fn require(&self, names: &[&str]) -> Result<usize> {
        self.column(names).ok_or_else(|| {
            let msg = format!("missing column `{}` (header has: {})", names[0], self.columns.join(", "));
            match self.row_groups {
                Some(_) => Error::Invalid(format!("{}: {msg}", self.path.display())),
                None => Error::parse(&self.path, 1, msg),
            }
        })
    }

    /// An error at `line` (a data line; for a Parquet table the row number of `rows`).
    pub fn err(&self, line: usize, msg: impl Into<String>) -> Error {
        match &self.row_groups {
            #[cfg(feature = "parquet")]
            Some(groups) => {
                let (row_group, row) = crate::columnar::locate(groups, line);
                Error::Row { path: self.path.clone(), row_group, row, msg: msg.into() }
            }
            _ => Error::parse(&self.path, line, msg),
        }
    }

    /// Parses a finite number or names the line, column and offending text.
    pub fn number(&self, line: usize, col: usize, text: &str) -> Result<f64> {
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.err(line, format!("column `{}`: `{text}` is not a finite number", self.columns[col]))),
        }
    }
}

/// Splits one line; for CSV, double-quoted fields may contain the delimiter and `""` escapes.
fn split_fields(line: &str, delim: char) -> std::result::Result<Vec<String>, String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if delim == '\t' {
        return Ok(line.split('\t').map(str::to_string).collect());
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if cur.is_empty() => quoted = true,
            (false, c) if c == delim => out.push(std::mem::take(&mut cur)),
            (_, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(cur);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn csv_quotes_and_header_types() {
        let t = Table::parse(Path::new("x.csv"), "item_id:token,title\n1,\"Hello, \"\"world\"\"\"\n", ',').unwrap();
        assert_eq!(t.columns, ["item_id", "title"]);
        assert_eq!(t.rows[0], (2, vec!["1".to_string(), "Hello, \"world\"".to_string()]));
    }
    #[test]
    fn truncated_line_names_file_and_line() {
        let e = Table::parse(Path::new("d/inter.tsv"), "user\titem\tts\n1\t2\t3\n1\t2\n", '\t').unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("d/inter.tsv:3: expected 3 fields"), "{msg}");
    }
    #[test]
    fn empty_file_is_an_error() {
        assert!(Table::parse(Path::new("e.tsv"), "\n\n", '\t').is_err());
    }
}
