//! The charm's error type, and the one place errors become Juju statuses.

use std::error::Error as StdError;
use std::io;
use std::path::PathBuf;

use crate::config::{ConfigError, ProxyError};
use crate::context::EnvError;
use crate::juju::{HookToolError, Status, StatusKind};
use crate::names::{DOCKER_DAEMON_JSON, DOCKER_PACKAGE, SERVICE};
use crate::process::CommandError;
use crate::render::DaemonJsonError;

/// A boxed error from the host-keys backend (the real one is `tmate_keys::Error`).
pub(crate) type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can stop the charm from converging.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The environment Juju gave us is not understood.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// A config option is invalid (operator-fixable).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A model proxy setting is invalid (operator-fixable).
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The existing Docker daemon configuration cannot be merged into (operator-fixable).
    #[error("{DOCKER_DAEMON_JSON}: {0}")]
    DaemonJson(#[source] DaemonJsonError),
    /// A host key file is unsound; nothing was overwritten (operator-fixable).
    #[error("host key problem: {0}")]
    HostKeys(#[source] BoxError),
    /// Installing the Docker engine failed (a mirror, the network, a deadline). Unexpected:
    /// the hook fails and Juju retries it with backoff; the source names the apt-get command
    /// and its exit status or deadline.
    #[error("failed to install {DOCKER_PACKAGE}")]
    Apt(#[source] CommandError),
    /// A hook tool failed.
    #[error(transparent)]
    HookTool(#[from] HookToolError),
    /// A host command failed.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A file operation failed.
    #[error("failed to {action} {}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another dispatch run held the lock for too long.
    #[error("timed out after {}s waiting for the lock {} held by another dispatch run", .timeout_secs, .path.display())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        timeout_secs: u64,
    },
}

impl Error {
    /// Builds an [`Error::Io`].
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The status this error puts the unit in, or `None` for an unexpected error (logged with
    /// its chain; `dispatch` exits non-zero and Juju retries the hook).
    ///
    /// This is the one place errors map to statuses: `blocked` when the operator must act;
    /// everything else (a failing hook tool or host command, apt included) fails the hook so
    /// that Juju retries it. (`waiting` for "no address yet" is not an error: see
    /// `reconcile`.)
    pub(crate) fn status(&self) -> Option<Status> {
        let (kind, message) = match self {
            Error::Config(e) => (StatusKind::Blocked, e.to_string()),
            Error::Proxy(e) => (StatusKind::Blocked, e.to_string()),
            Error::DaemonJson(_) => (StatusKind::Blocked, self.to_string()),
            // With its cause: "...: failed to create: Read-only file system (os error 30)".
            Error::HostKeys(_) => (StatusKind::Blocked, chain(self)),
            // apt failing fails the hook: Juju shows the unit in error and retries the hook
            // itself (with backoff), and nothing transactional is committed meanwhile.
            Error::Apt(_)
            | Error::Env(_)
            | Error::HookTool(_)
            | Error::Command(_)
            | Error::Io { .. }
            | Error::LockTimeout { .. } => return None,
        };
        Some(Status::new(kind, message))
    }
}

/// Status when the service does not run after a (re)start.
pub(crate) fn service_down_status(state: &str) -> Status {
    Status::new(
        StatusKind::Blocked,
        format!("{SERVICE} is {state}: see `journalctl -u {SERVICE}`"),
    )
}

/// An error and all its sources, `: `-separated, for `juju-log`.
pub(crate) fn chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // `#[error(transparent)]` and "{0}" variants repeat their source's text.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Argv;

    #[test]
    fn operator_fixable_errors_block() {
        let err = Error::from(ConfigError {
            option: "port",
            reason: "0 is not a TCP port (1-65535)".into(),
        });
        assert_eq!(
            err.status(),
            Some(Status::new(
                StatusKind::Blocked,
                "invalid config option \"port\": 0 is not a TCP port (1-65535)"
            ))
        );
        let err = Error::DaemonJson(DaemonJsonError::NotAnObject);
        assert_eq!(
            err.status(),
            Some(Status::new(
                StatusKind::Blocked,
                "/etc/docker/daemon.json: not a JSON object"
            ))
        );
        let err = Error::HostKeys("/k/ssh_host_rsa_key: not an OpenSSH private key".into());
        assert_eq!(
            err.status(),
            Some(Status::new(
                StatusKind::Blocked,
                "host key problem: /k/ssh_host_rsa_key: not an OpenSSH private key"
            ))
        );
    }

    #[test]
    fn apt_failure_fails_the_hook_and_names_the_command() {
        let err = Error::Apt(CommandError::Failed {
            argv: Argv(vec!["apt-get".into(), "update".into()]),
            code: Some(100),
            stdout: String::new(),
            stderr: "E: could not resolve".into(),
        });
        assert_eq!(err.status(), None, "logged, and the hook fails");
        assert_eq!(
            chain(&err),
            "failed to install docker.io: command `apt-get update` exited with status 100: E: could not resolve"
        );
        let err = Error::Apt(CommandError::Timeout {
            argv: Argv(vec![
                "apt-get".into(),
                "install".into(),
                "-y".into(),
                "--no-install-recommends".into(),
                "docker.io".into(),
            ]),
            timeout: std::time::Duration::from_secs(300),
        });
        assert_eq!(err.status(), None);
        assert_eq!(
            chain(&err),
            "failed to install docker.io: command `apt-get install -y --no-install-recommends docker.io` timed out after 300s and was killed"
        );
    }

    #[test]
    fn unexpected_errors_have_no_status_and_keep_their_chain() {
        let err = Error::io(
            "write",
            "/etc/x",
            io::Error::new(io::ErrorKind::PermissionDenied, "denied"),
        );
        assert_eq!(err.status(), None);
        assert_eq!(chain(&err), "failed to write /etc/x: denied");
        let err = Error::from(CommandError::Timeout {
            argv: Argv(vec!["systemctl".into(), "daemon-reload".into()]),
            timeout: std::time::Duration::from_secs(120),
        });
        assert_eq!(err.status(), None);
        assert_eq!(
            chain(&err),
            "command `systemctl daemon-reload` timed out after 120s and was killed"
        );
    }
}
