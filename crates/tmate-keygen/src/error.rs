//! The tool's error type: every error becomes one line `tmate-keygen: <message>` and exit 1.

use std::io;

/// Everything that can go wrong in `tmate-keygen` (outside `conf`, which reports its own).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Bad command line.
    #[error("{0}")]
    Usage(String),
    /// A host key operation failed; the library's message names the file.
    #[error(transparent)]
    Keys(#[from] tmate_keys::Error),
    /// The client settings could not be built.
    #[error(transparent)]
    Conf(#[from] tmate_conf::Error),
    /// A private key given to `fingerprint` could not be used.
    #[error("{name}: {detail}")]
    PrivateKey {
        /// File name as given (or `(stdin)`).
        name: String,
        /// What is wrong with it.
        detail: String,
    },
    /// An input of `fingerprint` could not be opened or read.
    #[error("{name}: {source}")]
    Read {
        /// File name as given (or `(stdin)`).
        name: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// An input of `fingerprint` holds no public key at all.
    #[error("{name}: no public key found")]
    NoKey {
        /// File name as given (or `(stdin)`).
        name: String,
    },
    /// Writing the result failed.
    #[error("failed to write to standard output: {0}")]
    Stdout(#[source] io::Error),
    /// Serialising the JSON output failed (cannot happen for plain strings).
    #[error("failed to serialise the JSON output: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<lexopt::Error> for Error {
    fn from(e: lexopt::Error) -> Self {
        Self::Usage(e.to_string())
    }
}

impl Error {
    /// True when standard output was closed early (e.g. `| head`): not worth a message.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Stdout(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// Names the input in a read error.
    pub(crate) fn read(name: &str, source: io::Error) -> Self {
        Self::Read {
            name: name.to_owned(),
            source,
        }
    }
}

/// Result with [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
