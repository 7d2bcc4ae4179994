//! The crate's error type.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::KeyKind;

/// Result type with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// Every variant that concerns a file carries its path. No variant ever holds private key
/// material: the sources kept here are I/O errors and `ssh-key` format errors, whose messages
/// describe the structure of a file, never its content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An RSA key size other than 2048, 3072 or 4096 bits was requested.
    #[error("unsupported RSA key size {0} (use 2048, 3072 or 4096)")]
    UnsupportedRsaBits(u32),

    /// A fingerprint hash algorithm name other than `sha256` or `md5`.
    #[error("unknown fingerprint hash algorithm \"{0}\" (use sha256 or md5)")]
    UnknownHashAlg(String),

    /// A string that is not a `SHA256:...` or `MD5:...` fingerprint.
    #[error(
        "invalid fingerprint \"{0}\" (expected SHA256: and 43 base64 characters, or MD5: and 16 colon-separated hex bytes)"
    )]
    InvalidFingerprint(String),

    /// A key kind name other than `rsa` or `ed25519`.
    #[error("unknown host key kind \"{0}\" (use rsa or ed25519)")]
    UnknownKeyKind(String),

    /// A public key line (`.pub` or `authorized_keys` style) that cannot be parsed.
    ///
    /// `line` and `column` are 1-based; `column` counts characters.
    #[error("{}{line}:{column}: {kind}", path_prefix(.path.as_deref()))]
    PublicKey {
        /// The file the line came from, when known.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// 1-based column (in characters) where the problem starts.
        column: usize,
        /// What is wrong.
        kind: PublicKeyErrorKind,
    },

    /// Text that is not an unencrypted OpenSSH private key (no file involved).
    #[error("not an OpenSSH private key")]
    InvalidPrivateKey(#[source] ssh_key::Error),

    /// A private key file that is not an OpenSSH private key.
    #[error("{}: not an OpenSSH private key", .path.display())]
    NotPrivateKey {
        /// The file.
        path: PathBuf,
        /// Why `ssh-key` rejected it (structure only, never content).
        #[source]
        source: ssh_key::Error,
    },

    /// A private key that is protected by a passphrase; tmate-ssh-server cannot use it.
    #[error("{}: private key is encrypted (tmate-ssh-server needs an unencrypted key)", path_or_text(.path.as_deref()))]
    EncryptedPrivateKey {
        /// The file, when known.
        path: Option<PathBuf>,
    },

    /// A private key of a type tmate-ssh-server does not load as a host key.
    #[error("{}: unsupported host key type {found} (use rsa or ed25519)", path_or_text(.path.as_deref()))]
    UnsupportedKeyType {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The key type found, e.g. `ecdsa-sha2-nistp256`.
        found: String,
    },

    /// A host key file holding a key of the other kind (e.g. Ed25519 in `ssh_host_rsa_key`).
    #[error("{}: expected an {expected} key, found {found}", .path.display())]
    WrongKeyKind {
        /// The file.
        path: PathBuf,
        /// The kind the file name promises.
        expected: KeyKind,
        /// The kind found inside.
        found: KeyKind,
    },

    /// A `.pub` file whose key is not the public half of its private key.
    #[error("{}: does not match its private key", .path.display())]
    Mismatch {
        /// The `.pub` file.
        path: PathBuf,
    },

    /// A `.pub` file whose private key is absent; it is not replaced automatically.
    #[error("{}: exists without its private key (remove it to generate a new key)", .path.display())]
    OrphanPublicKey {
        /// The `.pub` file.
        path: PathBuf,
    },

    /// A key file larger than any key file could be.
    #[error("{}: larger than {limit} bytes, not a key file", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The size limit in bytes.
        limit: u64,
    },

    /// A required key file is absent.
    #[error("{}: missing", .path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },

    /// A key file (or temp file) is a symbolic link; it is never followed.
    #[error("{}: is a symlink, refusing to follow it", .path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },

    /// The keys directory or a key file in it belongs to another user, who could read or
    /// replace the keys; it is left alone.
    #[error("{}: owned by uid {owner}, not by the user running this (uid {euid}), refusing it", .path.display())]
    ForeignOwner {
        /// The file or directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The effective user id of this process.
        euid: u32,
    },

    /// The keys directory can be written by other users, who could replace the keys.
    #[error("{}: writable by other users (mode {mode:04o}), refusing it", .path.display())]
    WritableByOthers {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The keys path exists but is not a directory.
    #[error("{}: not a directory", .path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },

    /// A key path exists but is not a regular file (a directory, socket, ...).
    #[error("{}: not a regular file", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },

    /// A key file is not valid UTF-8 text.
    #[error("{}: not a text file", .path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },

    /// A file operation failed.
    #[error("{}: failed to {action}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done, e.g. `read`, `write`, `create directory`.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Creating a key file failed at its temporary file: every key file is written to a
    /// temporary file in the same directory first (`.NAME.tmp.PID`), which is removed again
    /// on failure, so the message names the key file and its directory.
    #[error("{}: failed to {action} its temporary file in {}", .path.display(), parent_or_dot(.path).display())]
    TempFile {
        /// The key file being created.
        path: PathBuf,
        /// What failed: `create`, `set permissions on`, `write` or `sync`.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Key generation failed (never expected with a working RNG).
    #[error("failed to generate {kind} key: {reason}")]
    Generate {
        /// The kind of key.
        kind: KeyKind,
        /// What failed.
        reason: &'static str,
    },

    /// Encoding a key to OpenSSH format failed (never expected for a valid key).
    #[error("failed to encode {kind} key")]
    Encode {
        /// The kind of key.
        kind: KeyKind,
        /// The `ssh-key` error.
        #[source]
        source: ssh_key::Error,
    },
}

/// What is wrong with a public key line; see [`Error::PublicKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKeyErrorKind {
    /// The line is blank or a `#` comment.
    NoKey,
    /// The key type is not one OpenSSH knows.
    UnknownKeyType(String),
    /// `authorized_keys` options with an unterminated `"`.
    UnterminatedQuote,
    /// Nothing after the key type.
    MissingKeyData,
    /// The key data is not base64.
    InvalidBase64,
    /// The key type in the line is not the one inside the key data.
    TypeMismatch {
        /// Type named in the line.
        line: String,
        /// Type named inside the key data.
        blob: String,
    },
    /// The key data ends early or has bad structure.
    InvalidKeyData(&'static str),
    /// A private key file was given where a public key was expected.
    PrivateKey,
}

impl fmt::Display for PublicKeyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoKey => f.write_str("no public key on this line"),
            Self::UnknownKeyType(t) => write!(f, "unknown key type \"{}\"", t.escape_debug()),
            Self::UnterminatedQuote => f.write_str("unterminated quote in key options"),
            Self::MissingKeyData => f.write_str("missing key data after the key type"),
            Self::InvalidBase64 => f.write_str("key data is not valid base64"),
            Self::TypeMismatch { line, blob } => write!(
                f,
                "key type \"{}\" does not match the key data (\"{}\")",
                line.escape_debug(),
                blob.escape_debug()
            ),
            Self::InvalidKeyData(why) => write!(f, "invalid key data: {why}"),
            Self::PrivateKey => f.write_str("this is a private key, not a public key line"),
        }
    }
}

fn path_prefix(path: Option<&Path>) -> String {
    path.map(|p| format!("{}:", p.display()))
        .unwrap_or_default()
}

/// The directory `path` is in (`.` for a bare file name).
fn parent_or_dot(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn path_or_text(path: Option<&Path>) -> String {
    path.map_or_else(|| "private key".to_owned(), |p| p.display().to_string())
}

impl Error {
    /// Attaches `path` to an error that concerns unnamed text (a public key line, a private key
    /// read from a string), leaving other errors untouched.
    #[must_use]
    pub(crate) fn with_path(self, path: &Path) -> Self {
        match self {
            Self::PublicKey {
                path: None,
                line,
                column,
                kind,
            } => Self::PublicKey {
                path: Some(path.to_owned()),
                line,
                column,
                kind,
            },
            Self::InvalidPrivateKey(source) => Self::NotPrivateKey {
                path: path.to_owned(),
                source,
            },
            Self::EncryptedPrivateKey { path: None } => Self::EncryptedPrivateKey {
                path: Some(path.to_owned()),
            },
            Self::UnsupportedKeyType { path: None, found } => Self::UnsupportedKeyType {
                path: Some(path.to_owned()),
                found,
            },
            other => other,
        }
    }

    /// Builds an [`Error::TempFile`] for the key file `path`.
    pub(crate) fn temp_file(path: &Path, action: &'static str, source: io::Error) -> Self {
        Self::TempFile {
            path: path.to_owned(),
            action,
            source,
        }
    }

    /// Builds an [`Error::Io`].
    pub(crate) fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            action,
            source,
        }
    }
}
