//! Bounded subprocesses: an argv (never a shell), captured output, a deadline.

use std::fmt;
use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::names::ENV_COMMAND_TIMEOUT_CAP;

/// Longest sleep between two polls of a running child.
const MAX_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How long to wait for the output pipes once the child has exited (a grandchild that inherited
/// them could keep them open forever).
const PIPE_DRAIN_GRACE: Duration = Duration::from_secs(2);

/// `timeout`, or less when [`ENV_COMMAND_TIMEOUT_CAP`] holds a smaller whole number of seconds
/// (read once; absent or not a number: no cap).
fn capped(timeout: Duration) -> Duration {
    static CAP: OnceLock<Option<Duration>> = OnceLock::new();
    let cap = CAP.get_or_init(|| {
        std::env::var(ENV_COMMAND_TIMEOUT_CAP)
            .ok()
            .and_then(|secs| secs.parse().ok())
            .map(Duration::from_secs)
    });
    cap.map_or(timeout, |cap| timeout.min(cap))
}

/// A command line, kept for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Argv(pub(crate) Vec<String>);

impl fmt::Display for Argv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+{}".contains(c));
            if plain {
                f.write_str(arg)?;
            } else {
                write!(f, "'{}'", arg.replace('\'', r"'\''"))?;
            }
        }
        Ok(())
    }
}

/// Why a subprocess did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommandError {
    /// The program could not be started (not on `PATH`, not executable, ...).
    #[error("failed to run `{argv}`")]
    Spawn {
        /// The command line.
        argv: Argv,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The program ran longer than its deadline and was killed.
    #[error("command `{argv}` timed out after {}s and was killed", .timeout.as_secs())]
    Timeout {
        /// The command line.
        argv: Argv,
        /// The deadline it exceeded.
        timeout: Duration,
    },
    /// The program exited unsuccessfully.
    #[error("command `{argv}` {}: {}", describe_status(*.code), .stderr.trim())]
    Failed {
        /// The command line.
        argv: Argv,
        /// The exit status, `None` when killed by a signal.
        code: Option<i32>,
        /// What it wrote on stdout.
        stdout: String,
        /// What it wrote on stderr.
        stderr: String,
    },
}

fn describe_status(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_owned(),
    }
}

/// What a finished subprocess produced.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    /// Exit status, `None` when killed by a signal.
    pub(crate) code: Option<i32>,
    /// Standard output, lossily decoded.
    pub(crate) stdout: String,
    /// Standard error, lossily decoded.
    pub(crate) stderr: String,
}

/// A command to run: argv, optional stdin bytes, extra environment, deadline.
#[derive(Debug)]
pub(crate) struct Cmd<'a> {
    argv: Vec<String>,
    stdin: Option<&'a [u8]>,
    env: Vec<(String, String)>,
    timeout: Duration,
}

impl<'a> Cmd<'a> {
    /// A command from its argv (the program is looked up on `PATH`) and its deadline.
    pub(crate) fn new<I, S>(argv: I, timeout: Duration) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: None,
            env: Vec::new(),
            timeout: capped(timeout),
        }
    }

    /// Feeds `data` to the child's stdin (otherwise stdin is `/dev/null`).
    pub(crate) fn stdin(mut self, data: &'a [u8]) -> Self {
        self.stdin = Some(data);
        self
    }

    /// Adds an environment variable on top of the inherited environment.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The argv, for messages.
    pub(crate) fn argv(&self) -> Argv {
        Argv(self.argv.clone())
    }

    /// Runs the command and returns its output whatever the exit status.
    ///
    /// # Errors
    ///
    /// [`CommandError::Spawn`] when it cannot start, [`CommandError::Timeout`] when it outlives
    /// its deadline (it is killed).
    pub(crate) fn output(&self) -> Result<Output, CommandError> {
        let (program, args) = match self.argv.split_first() {
            Some(split) => split,
            None => {
                return Err(CommandError::Spawn {
                    argv: self.argv(),
                    source: io::Error::new(io::ErrorKind::InvalidInput, "empty argv"),
                });
            }
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let spawn_error = |source| CommandError::Spawn {
            argv: self.argv(),
            source,
        };
        let mut child = command.spawn().map_err(spawn_error)?;

        let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
        for (is_stdout, pipe) in [
            (
                true,
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
            (
                false,
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
        ] {
            if let Some(mut pipe) = pipe {
                let tx = tx.clone();
                thread::spawn(move || {
                    let mut buf = Vec::new();
                    // A read error just truncates the captured output.
                    let _ = pipe.read_to_end(&mut buf);
                    let _ = tx.send((is_stdout, buf));
                });
            }
        }
        drop(tx);
        if let (Some(data), Some(mut pipe)) = (self.stdin, child.stdin.take()) {
            // Small payloads (relation data) fit in the pipe buffer; a child that exits without
            // reading gives EPIPE, which its exit status reports better than we could.
            let _ = pipe.write_all(data);
        }

        let deadline = Instant::now() + self.timeout;
        let mut interval = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(source) => return Err(spawn_error(source)),
            }
            let now = Instant::now();
            if now >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CommandError::Timeout {
                    argv: self.argv(),
                    timeout: self.timeout,
                });
            }
            thread::sleep(interval.min(deadline - now));
            interval = (interval * 2).min(MAX_POLL_INTERVAL);
        };

        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let drain_deadline = Instant::now() + PIPE_DRAIN_GRACE;
        for _ in 0..2 {
            let left = drain_deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((true, buf)) => stdout = buf,
                Ok((false, buf)) => stderr = buf,
                Err(_) => break,
            }
        }
        Ok(Output {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Runs the command and requires exit status 0.
    ///
    /// # Errors
    ///
    /// As [`Cmd::output`], plus [`CommandError::Failed`] for a non-zero exit.
    pub(crate) fn run(&self) -> Result<Output, CommandError> {
        let output = self.output()?;
        if output.code == Some(0) {
            Ok(output)
        } else {
            Err(CommandError::Failed {
                argv: self.argv(),
                code: output.code,
                stdout: output.stdout,
                stderr: output.stderr,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_secs(10);

    #[test]
    fn captures_stdout_stderr_and_status() {
        let out = Cmd::new(["sh", "-c", "echo out; echo err >&2; exit 3"], SHORT)
            .output()
            .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
    }

    #[test]
    fn feeds_stdin() {
        let out = Cmd::new(["cat"], SHORT)
            .stdin(b"{\"a\":\"b\"}")
            .run()
            .unwrap();
        assert_eq!(out.stdout, "{\"a\":\"b\"}");
    }

    #[test]
    fn stdin_is_null_by_default() {
        let out = Cmd::new(["cat"], SHORT).run().unwrap();
        assert_eq!(out.stdout, "");
    }

    #[test]
    fn passes_extra_environment() {
        let out = Cmd::new(["sh", "-c", "printf %s \"$X_TEST\""], SHORT)
            .env("X_TEST", "v")
            .run()
            .unwrap();
        assert_eq!(out.stdout, "v");
    }

    #[test]
    fn kills_on_timeout() {
        let started = Instant::now();
        let err = Cmd::new(["sleep", "30"], Duration::from_millis(200))
            .output()
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            err.to_string(),
            "command `sleep 30` timed out after 0s and was killed"
        );
    }

    #[test]
    fn failure_message_names_argv_status_and_stderr() {
        let err = Cmd::new(["sh", "-c", "echo 'ERROR boom' >&2; exit 2"], SHORT)
            .run()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "command `sh -c 'echo '\\''ERROR boom'\\'' >&2; exit 2'` exited with status 2: ERROR boom"
        );
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let err = Cmd::new(["/nonexistent/program"], SHORT)
            .output()
            .unwrap_err();
        assert!(matches!(err, CommandError::Spawn { .. }), "{err:?}");
        assert_eq!(err.to_string(), "failed to run `/nonexistent/program`");
    }
}
