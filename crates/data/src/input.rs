//! Opening input files: regular files only, checked on the opened handle, and read with a cap.
//!
//! Every file unseen reads on a user's or an API caller's say-so goes through [`open_input`]
//! (datasets, keys files) or [`read_small_file`] (certificates, configuration, anything read
//! whole). A FIFO would block the reader forever and a device such as `/dev/zero` never ends,
//! so both are refused before a single byte is read. The file is opened with `O_NONBLOCK`, so
//! that opening a FIFO with no writer returns at once instead of blocking; the flag has no
//! effect on reading a regular file.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::DataError;

/// What kind of file a path names, when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe (FIFO).
    Fifo,
    /// A character device, such as `/dev/zero` or a terminal.
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
    /// A Unix domain socket.
    Socket,
    /// Anything else that is not a regular file.
    Other,
}

impl FileKind {
    /// `a directory`, `a FIFO (named pipe)`, …: for messages.
    pub const fn description(self) -> &'static str {
        match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Other => "not a regular file",
        }
    }

    fn of(t: std::fs::FileType) -> FileKind {
        if t.is_dir() {
            FileKind::Directory
        } else if t.is_fifo() {
            FileKind::Fifo
        } else if t.is_char_device() {
            FileKind::CharDevice
        } else if t.is_block_device() {
            FileKind::BlockDevice
        } else if t.is_socket() {
            FileKind::Socket
        } else {
            FileKind::Other
        }
    }
}

/// Opens `path` for reading if it is a regular file (symbolic links are followed), else
/// [`DataError::NotRegularFile`]. The check is made on the opened handle (`fstat`), so a file
/// swapped for a FIFO between a check and the open cannot slip through; and the open itself
/// does not block on a FIFO.
pub fn open_input(path: &Path) -> Result<File, DataError> {
    let io = |action: &'static str| {
        move |source| DataError::Io {
            path: path.to_owned(),
            action,
            source,
        }
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io("cannot read"))?;
    let meta = file.metadata().map_err(io("cannot read"))?;
    if !meta.is_file() {
        return Err(DataError::NotRegularFile {
            path: path.to_owned(),
            kind: FileKind::of(meta.file_type()),
        });
    }
    Ok(file)
}

/// Reads all of `file` (opened from `path` by [`open_input`]) if it holds at most `max`
/// bytes, else [`DataError::TooLarge`]. Reads at most `max + 1` bytes whatever the file
/// claims, so a file that grows while it is read cannot exceed the cap either.
pub(crate) fn read_capped(path: &Path, file: File, max: u64) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_owned(),
        action: "cannot read",
        source,
    };
    let size = file.metadata().map_err(io)?.len();
    let too_large = |size: u64| DataError::TooLarge {
        path: path.to_owned(),
        size,
        max,
    };
    if size > max {
        return Err(too_large(size));
    }
    // The size is at most `max`, which the caller chose to allow in memory.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read > max {
        return Err(too_large(read));
    }
    Ok(bytes)
}

/// Reads a whole regular file of at most `max_bytes` bytes: for certificates, keys, tokens,
/// configuration and other small files given by path. A FIFO, device or directory is
/// [`DataError::NotRegularFile`]; a larger file is [`DataError::TooLarge`] (checked before
/// reading, and again while reading).
pub fn read_small_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, DataError> {
    let file = open_input(path)?;
    read_capped(path, file, max_bytes)
}

/// [`read_small_file`] for a text file: the bytes must be UTF-8, else
/// [`DataError::Encoding`] naming the line of the first invalid byte (the bytes are not shown).
pub fn read_small_text(path: &Path, max_bytes: u64) -> Result<String, DataError> {
    let bytes = read_small_file(path, max_bytes)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        DataError::Encoding {
            path: path.to_owned(),
            line: crate::encoding::line_of(e.as_bytes(), at),
            encoding: "utf-8",
        }
    })
}
