//! Timed runs of external commands, and the CPU time they used.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// `/proc/<pid>/stat` reports CPU times in clock ticks of `USER_HZ`, which the kernel fixes at
/// 100 per second in its user-space ABI on every architecture Linux supports (proc(5), times(2)).
const USER_HZ: u64 = 100;
/// This process's status line.
const SELF_STAT: &str = "/proc/self/stat";

/// A sequence of commands run one after the other, each with an argv (never a shell), standard
/// input closed and standard output discarded, timed as a whole.
#[derive(Debug, Clone, Default)]
pub struct Job {
    steps: Vec<Vec<OsString>>,
}

impl Job {
    /// An empty job.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a command, program first.
    #[must_use]
    pub fn step<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.steps
            .push(argv.into_iter().map(|a| a.as_ref().to_owned()).collect());
        self
    }

    /// The commands, for display.
    pub fn describe(&self) -> String {
        self.steps
            .iter()
            .map(|argv| display(argv))
            .collect::<Vec<_>>()
            .join(" && ")
    }

    /// Runs every step in order and returns the wall time from the first start to the last
    /// exit.
    ///
    /// # Errors
    ///
    /// [`Error::Spawn`] when a program cannot start, [`Error::Failed`] when one exits
    /// unsuccessfully (the remaining steps are not run).
    pub fn run(&self) -> Result<Duration> {
        let start = Instant::now();
        for argv in &self.steps {
            run_step(argv, Stdio::null())?;
        }
        Ok(start.elapsed())
    }

    /// Runs every step in order and returns their standard output, concatenated.
    ///
    /// # Errors
    ///
    /// As [`Job::run`].
    pub fn output(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for argv in &self.steps {
            out.extend(run_step(argv, Stdio::piped())?);
        }
        Ok(out)
    }
}

fn run_step(argv: &[OsString], stdout: Stdio) -> Result<Vec<u8>> {
    let (program, args) = argv.split_first().ok_or_else(|| Error::Spawn {
        argv: String::new(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
    })?;
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| Error::Spawn {
            argv: display(argv),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::Failed {
            argv: display(argv),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(output.stdout)
}

/// The command line as a reader would type it: empty arguments and arguments holding spaces,
/// quotes or shell metacharacters are single-quoted.
fn display(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Characters that make the shell read an argument differently.
const SHELL_SPECIAL: &str = "'\"\\$`;&|<>()*?#~";

fn quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains(|c: char| c.is_whitespace() || SHELL_SPECIAL.contains(c)) {
        return arg.to_owned();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// User plus system CPU time of every child this process has waited for so far (fields
/// `cutime` and `cstime` of `/proc/self/stat`, 10 ms resolution). The difference between two
/// readings is the CPU time of the children reaped in between.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, [`Error::Parse`] when it has an unexpected
/// layout.
pub fn children_cpu_time() -> Result<Duration> {
    let text =
        fs::read_to_string(SELF_STAT).map_err(|e| Error::io(SELF_STAT, "failed to read", e))?;
    let ticks = parse_children_ticks(&text).ok_or_else(|| Error::Parse {
        path: SELF_STAT.into(),
        reason: "no cutime/cstime fields".to_owned(),
    })?;
    Ok(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// `cutime + cstime` (fields 16 and 17) of a `/proc/<pid>/stat` line. The command name, field
/// 2, is in parentheses and may itself hold spaces and parentheses, so fields are counted
/// from the last `)`.
fn parse_children_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // after_comm starts with field 3 (state); cutime is field 16, i.e. index 13 here.
    let mut fields = after_comm.split_whitespace().skip(13);
    let cutime: u64 = fields.next()?.parse().ok()?;
    let cstime: u64 = fields.next()?.parse().ok()?;
    Some(cutime + cstime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_ticks_are_fields_16_and_17() {
        // Fields 1..=17 of a real line, with a command name holding ") (".
        let stat = "4242 (a) (b) S 1 4242 4242 0 -1 4194560 100 7 0 0 12 3 250 31 20 0 1";
        assert_eq!(parse_children_ticks(stat), Some(281));
        assert_eq!(parse_children_ticks("4242 (a) S 1"), None);
    }

    #[test]
    fn a_job_runs_its_steps_in_order() {
        let job = Job::new().step(["echo", "one"]).step(["echo", "two"]);
        assert_eq!(job.output().unwrap(), b"one\ntwo\n");
        assert_eq!(job.describe(), "echo one && echo two");
        assert!(job.run().unwrap() > Duration::ZERO);
    }

    #[test]
    fn describe_quotes_what_the_shell_would_split() {
        let job = Job::new().step(["ssh-keygen", "-N", "", "-C", "it's me"]);
        assert_eq!(job.describe(), r"ssh-keygen -N '' -C 'it'\''s me'");
    }

    #[test]
    fn a_failing_step_reports_argv_status_and_stderr() {
        let job = Job::new()
            .step(["sh", "-c", "echo broken >&2; exit 3"])
            .step(["echo", "never"]);
        let err = job.output().unwrap_err().to_string();
        assert_eq!(
            err,
            "command `sh -c 'echo broken >&2; exit 3'` exited with status 3: broken"
        );
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let err = Job::new().step(["/nonexistent/tool"]).run().unwrap_err();
        assert!(matches!(err, Error::Spawn { .. }), "{err}");
    }

    #[test]
    fn children_cpu_time_grows_with_a_busy_child() {
        let before = children_cpu_time().unwrap();
        Job::new()
            .step([
                "sh",
                "-c",
                "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done",
            ])
            .run()
            .unwrap();
        assert!(children_cpu_time().unwrap() > before);
    }
}
