//! [`NodeError`]: everything a node operation can fail with, classified for exit codes and HTTP
//! statuses.

use std::path::{Path, PathBuf};

use unseen_store::StoreError;
use unseen_transport::TransportError;

/// An error of a node operation.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The directory has no `node.toml`.
    #[error(
        "{} is not a node directory (no node.toml); create one with `unseen init --dir {} --name NAME`",
        .0.display(), .0.display()
    )]
    NotANode(PathBuf),
    /// `init` on a directory that already holds a node.
    #[error("{} already holds a node (node.toml exists); refusing to overwrite its identity", .0.display())]
    AlreadyANode(PathBuf),
    /// `node.toml` does not parse or holds bad values.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `node.toml` holds a bad value, at a line when it is written there.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    ConfigAt {
        /// The file.
        path: PathBuf,
        /// The line of the offending value (from 1), if it is in the file.
        line: Option<usize>,
        /// What is wrong and the range allowed.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The node's database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Mutual TLS.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A dataset file.
    #[error(transparent)]
    Data(#[from] unseen_data::DataError),
    /// A request or flag with a bad value.
    #[error("{0}")]
    Invalid(String),
    /// A policy refuses the request.
    #[error("refused: {0}")]
    Refused(String),
    /// The request conflicts with the current state (e.g. cancelling a finished job).
    #[error("{0}")]
    Conflict(String),
    /// The daemon is not answering on its API address.
    #[error(
        "the node is not running (nothing answers on {addr}); start it with `unseen --dir {dir} node run`"
    )]
    NotRunning {
        /// The API address.
        addr: String,
        /// The node directory.
        dir: String,
    },
    /// The daemon answered with an error.
    #[error("{message} (HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// The partner's node could not be reached or failed during a session (HTTP 502).
    #[error("{0}")]
    Partner(String),
    /// Something failed inside the node.
    #[error("{0}")]
    Internal(String),
}

impl NodeError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The HTTP status this error is reported with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid(_) | Self::Data(_) => 400,
            Self::Refused(_) => 403,
            Self::Conflict(_) => 409,
            Self::Store(e) => match e {
                StoreError::NotFound { .. } => 404,
                StoreError::Duplicate { .. } | StoreError::InvalidTransition { .. } => 409,
                StoreError::InvalidName { .. } | StoreError::Invalid { .. } => 400,
                _ => 500,
            },
            Self::Transport(TransportError::BadCertificate(_) | TransportError::BadKey(_)) => 400,
            Self::Api { status, .. } => *status,
            Self::Partner(_) => 502,
            _ => 500,
        }
    }

    /// Whether the caller's input is at fault (exit code 2 rather than 1).
    pub fn is_user_error(&self) -> bool {
        matches!(self.status(), 400 | 403 | 404 | 409)
            || matches!(
                self,
                Self::NotANode(_)
                    | Self::AlreadyANode(_)
                    | Self::Config { .. }
                    | Self::ConfigAt { .. }
            )
    }
}
