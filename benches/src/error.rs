//! The error type of the benchmark support library.

use std::path::PathBuf;
use std::process::ExitStatus;

/// Everything that can go wrong while preparing or running a benchmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A command could not be started (usually: not installed).
    #[error("failed to run `{argv}`")]
    Spawn {
        /// The command line, for the message.
        argv: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// A command ran and failed.
    #[error("command `{argv}` exited with {}: {stderr}", status_text(.status))]
    Failed {
        /// The command line, for the message.
        argv: String,
        /// How it ended.
        status: ExitStatus,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// A file could not be read or written.
    #[error("{}: {action}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done, e.g. `failed to read`.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Key generation or parsing failed.
    #[error(transparent)]
    Keys(#[from] tmate_keys::Error),
    /// A file did not hold what was expected.
    #[error("{}: {reason}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `status 3` or `signal 9`, as the command ended.
fn status_text(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => status.to_string(),
    }
}

impl Error {
    /// Wraps an I/O error with the file it concerns.
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            path: path.into(),
            action,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_names_the_file_and_the_action() {
        let err = Error::io(
            "/proc/nope",
            "failed to read",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(err.to_string(), "/proc/nope: failed to read");
        assert!(std::error::Error::source(&err).is_some());
    }
}
