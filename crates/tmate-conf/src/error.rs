//! The crate's error type.

use std::io;
use std::path::PathBuf;

use crate::Diagnostic;

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
    /// The config has problems the tmate client would report.
    #[error("{}", summary(.diagnostics))]
    Config {
        /// Every problem, in document order (at least one).
        diagnostics: Vec<Diagnostic>,
    },
    /// An edit was asked for an option whose value this crate does not follow.
    #[error("option {name:?} cannot be edited (only typed tmate-* options and @user options can)")]
    UnsupportedOption {
        /// The option name.
        name: String,
    },
    /// An edited document would not give an option the value asked for.
    #[error("editing would leave option {name:?} set to {found:?} instead of {expected:?}")]
    EditMismatch {
        /// The option name.
        name: String,
        /// The value asked for.
        expected: String,
        /// The value the edited document gives it.
        found: String,
    },
    /// An edited document would have problems the client reports.
    #[error("editing would make the config invalid: {}", summary(.diagnostics))]
    EditInvalid {
        /// The problems of the edited document.
        diagnostics: Vec<Diagnostic>,
    },
    /// A file is not valid UTF-8.
    #[error("{}: not valid UTF-8", .path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
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

/// The first diagnostic, and how many more there are.
fn summary(diagnostics: &[Diagnostic]) -> String {
    match diagnostics {
        [] => "no diagnostics".to_owned(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more problems)", rest.len()),
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
