//! Atomic output: all of a file or none of it.
//!
//! Output is written to a temporary file in the destination's directory (same file system, so
//! the final rename is atomic), flushed and `fsync`ed, then renamed over the destination. If
//! anything fails before the rename, or the [`AtomicFile`] is dropped without
//! [`commit`](AtomicFile::commit), the temporary file is removed and the destination is left as
//! it was. An existing destination is replaced.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::DataError;

/// A file that appears at its path only when [`commit`](AtomicFile::commit) succeeds.
///
/// Implements [`Write`] (buffered).
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: BufWriter<NamedTempFile>,
}

impl AtomicFile {
    /// Creates the temporary file next to `path`.
    pub fn create(path: &Path) -> Result<AtomicFile, DataError> {
        let io_err = |action: &'static str| {
            move |source| DataError::Io {
                path: path.to_owned(),
                action,
                source,
            }
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path.file_name().ok_or_else(|| {
            io_err("not a file name")(io::Error::from(io::ErrorKind::InvalidInput))
        })?;
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let tmp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(io_err("cannot create a temporary file beside"))?;
        Ok(AtomicFile {
            path: path.to_owned(),
            tmp: BufWriter::with_capacity(1 << 16, tmp),
        })
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, `fsync`s and renames the temporary file to the destination.
    pub fn commit(self) -> Result<(), DataError> {
        let path = self.path;
        let io_err = |action: &'static str| {
            let path = path.clone();
            move |source| DataError::Io {
                path,
                action,
                source,
            }
        };
        let tmp = self
            .tmp
            .into_inner()
            .map_err(|e| io_err("cannot write")(e.into_error()))?;
        tmp.as_file().sync_all().map_err(io_err("cannot sync"))?;
        tmp.persist(&path)
            .map_err(|e| io_err("cannot rename the temporary file to")(e.error))?;
        // Make the rename itself durable. Best effort: the data is already synced, and failing
        // here would report an error for a file that now exists.
        #[cfg(unix)]
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.tmp.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

/// Writes `headers` and `rows` as UTF-8 CSV (no BOM, LF line ends, quotes only where needed)
/// to `path`, atomically.
///
/// Each row is anything iterable over fields, e.g. `&Row` or `Vec<String>`; a row whose field
/// count differs from the header's fails the write ([`DataError::FieldCount`], with the row's
/// output line). With no headers and no rows the file is empty.
pub fn write_csv_atomic<I, R, F>(path: &Path, headers: &[String], rows: I) -> Result<(), DataError>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut out = AtomicFile::create(path)?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .flexible(false)
        .from_writer(&mut out);
    let csv_err = |line: u64, e: csv::Error| match crate::read::csv_error(path, line, e) {
        DataError::Io { path, source, .. } => DataError::Io {
            path,
            action: "cannot write",
            source,
        },
        other => other,
    };
    let mut line = 1;
    if !headers.is_empty() {
        w.write_record(headers).map_err(|e| csv_err(line, e))?;
        line += 1;
    }
    for row in rows {
        w.write_record(row).map_err(|e| csv_err(line, e))?;
        line += 1;
    }
    w.flush().map_err(|source| DataError::Io {
        path: path.to_owned(),
        action: "cannot write",
        source,
    })?;
    drop(w);
    out.commit()
}

/// Writes each line followed by `\n` to `path`, atomically.
pub fn write_lines_atomic<I, S>(path: &Path, lines: I) -> Result<(), DataError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = AtomicFile::create(path)?;
    for line in lines {
        let written = out
            .write_all(line.as_ref().as_bytes())
            .and_then(|()| out.write_all(b"\n"));
        written.map_err(|source| DataError::Io {
            path: path.to_owned(),
            action: "cannot write",
            source,
        })?;
    }
    out.commit()
}
