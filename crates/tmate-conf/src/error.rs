//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A host is neither an IP literal nor an RFC 1123 DNS name.
    #[error("invalid host {host:?}: {reason}")]
    InvalidHost {
        /// The rejected text.
        host: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A port is outside 1..=65535.
    #[error("invalid port {port:?}: {reason}")]
    InvalidPort {
        /// The rejected text.
        port: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A fingerprint is not `SHA256:` followed by 43 characters of unpadded base64
    /// (or, where asked for, `MD5:` followed by 16 colon-separated hex bytes).
    #[error("invalid fingerprint {text:?}: {reason}")]
    InvalidFingerprint {
        /// The rejected text.
        text: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// An option value holds a character that tmux cannot read back from a config line.
    #[error("option value {value:?} contains control character {ch:?}")]
    ControlCharacter {
        /// The rejected value.
        value: String,
        /// The first offending character.
        ch: char,
    },
    /// A file could not be read.
    #[error("failed to read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file could not be written.
    #[error("failed to write {}", .path.display())]
    Write {
        /// The file (or the temporary file next to it).
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
