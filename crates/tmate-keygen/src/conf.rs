//! `tmate-keygen conf ...`: check and apply `tmate-server-*` settings in a tmate.conf.
//!
//! `check FILE` prints the settings a tmate 2.4 client would connect with, as JSON with
//! the keys of the `debug-ssh` relation; `apply FILE ...` edits them in place, keeping
//! everything else in the file byte for byte.

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lexopt::prelude::*;
use tmate_conf::{
    Document, ED25519_FINGERPRINT_OPTION, Env, HOST_OPTION, Host, PORT_OPTION,
    RSA_FINGERPRINT_OPTION,
};
use tmate_keys::HostKeys;

/// Prefix of every message of this subcommand.
const PROGRAM: &str = "tmate-keygen conf";

/// `tmate-keygen conf --help` (and `--help` after an unknown command).
const HELP: &str = "\
Read and edit the tmate-server-* settings of a tmate client config (tmux 2.4 syntax).

Usage:
  tmate-keygen conf check FILE
  tmate-keygen conf apply FILE [--keys-dir DIR] [--host HOST] [--port PORT]

Commands:
  check   Print the effective tmate-server-* settings of FILE as JSON (keys host, port,
          rsa_fingerprint, ed25519_fingerprint; unset options show the client's
          defaults), or every problem the tmate client would report as
          FILE:LINE:COLUMN: message, and exit 1.
  apply   Set the given settings in FILE (created if missing): the value of the command
          that sets an option last is replaced, missing options are appended, and
          everything else stays byte for byte. The file is replaced atomically and
          keeps its mode. Prints `updated FILE` or `unchanged FILE`.

Options (apply):
  --keys-dir DIR   Set both fingerprints from the host keys in DIR
  --host HOST      Set tmate-server-host (an IP address or a DNS name)
  --port PORT      Set tmate-server-port (1-65535)
  -h, --help       Print this help (after check or apply: that command's help)

Examples:
  tmate-keygen conf check ~/.tmate.conf
  tmate-keygen conf apply ~/.tmate.conf --keys-dir /srv/tmate/keys --host 203.0.113.7 --port 10022
  tmate-keygen conf apply ~/.tmate.conf --port 2222
";

/// `tmate-keygen conf check --help`.
const CHECK_HELP: &str = "\
Print the tmate-server-* settings a tmate 2.4 client reads from FILE.

Usage:
  tmate-keygen conf check FILE

Prints one JSON object with the keys of the debug-ssh relation (host, port,
rsa_fingerprint, ed25519_fingerprint; unset options show the client's defaults). If the
client would report problems, prints each as FILE:LINE:COLUMN: message on standard error
and exits 1.

Examples:
  tmate-keygen conf check ~/.tmate.conf
";

/// `tmate-keygen conf apply --help`.
const APPLY_HELP: &str = "\
Set tmate-server-* settings in FILE in place, keeping everything else byte for byte.

Usage:
  tmate-keygen conf apply FILE [--keys-dir DIR] [--host HOST] [--port PORT]

FILE is created if missing. The value of the command that sets an option last is
replaced and missing options are appended; the file is replaced atomically and keeps its
mode. Prints `updated FILE` or `unchanged FILE`. At least one option is required.

Options:
  --keys-dir DIR   Set both fingerprints from the host keys in DIR
  --host HOST      Set tmate-server-host (an IP address or a DNS name)
  --port PORT      Set tmate-server-port (1-65535)
  -h, --help       Print this help

Examples:
  tmate-keygen conf apply ~/.tmate.conf --keys-dir /srv/tmate/keys --host 203.0.113.7 --port 10022
  tmate-keygen conf apply ~/.tmate.conf --port 2222
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    /// Print this help text.
    Help(&'static str),
    Check(PathBuf),
    Apply {
        file: PathBuf,
        keys_dir: Option<PathBuf>,
        host: Option<Host>,
        port: Option<u16>,
    },
}

/// Runs `tmate-keygen conf ARGS...`; `args` are the arguments after `conf`.
#[allow(
    clippy::print_stderr,
    reason = "a command-line tool reports its errors on stderr"
)]
pub(crate) fn run(args: Vec<OsString>) -> ExitCode {
    let action = match parse(args) {
        Ok(action) => action,
        Err(message) => {
            eprintln!("{PROGRAM}: {message} (see 'tmate-keygen conf --help')");
            return ExitCode::FAILURE;
        }
    };
    let result = match action {
        Action::Help(text) => print(text),
        Action::Check(file) => check(&file),
        Action::Apply {
            file,
            keys_dir,
            host,
            port,
        } => apply(&file, keys_dir, host.as_ref(), port),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Diagnostics(lines)) => {
            for line in lines {
                eprintln!("{line}");
            }
            ExitCode::FAILURE
        }
        Err(Failure::Message(message)) => {
            eprintln!("{PROGRAM}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command failed.
#[derive(Debug)]
enum Failure {
    /// Problems in the config, one `FILE:LINE:COL: message` each.
    Diagnostics(Vec<String>),
    /// Anything else, one line.
    Message(String),
}

impl From<tmate_conf::Error> for Failure {
    fn from(e: tmate_conf::Error) -> Self {
        match e {
            tmate_conf::Error::Config { diagnostics } => {
                Self::Diagnostics(diagnostics.iter().map(ToString::to_string).collect())
            }
            other => Self::Message(with_causes(&other)),
        }
    }
}

/// `e` followed by the causes its message does not already include.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn parse(args: Vec<OsString>) -> Result<Action, String> {
    let mut parser = lexopt::Parser::from_args(args);
    let err = |e: lexopt::Error| e.to_string();
    let command = match parser.next().map_err(err)? {
        None => return Err("missing command (check or apply)".to_owned()),
        Some(Short('h') | Long("help")) => return Ok(Action::Help(HELP)),
        Some(Value(v)) => v.string().map_err(err)?,
        Some(other) => return Err(other.unexpected().to_string()),
    };
    let mut file = None;
    let (mut keys_dir, mut host, mut port) = (None, None, None);
    while let Some(arg) = parser.next().map_err(err)? {
        match arg {
            Short('h') | Long("help") => {
                return Ok(Action::Help(match command.as_str() {
                    "check" => CHECK_HELP,
                    "apply" => APPLY_HELP,
                    _ => HELP,
                }));
            }
            Long("keys-dir") if command == "apply" => {
                keys_dir = Some(PathBuf::from(parser.value().map_err(err)?));
            }
            Long("host") if command == "apply" => {
                let text = parser.value().map_err(err)?.string().map_err(err)?;
                host = Some(text.parse::<Host>().map_err(|e| e.to_string())?);
            }
            Long("port") if command == "apply" => {
                let text = parser.value().map_err(err)?.string().map_err(err)?;
                port = Some(crate::cli::port_from_str(&text)?);
            }
            Value(v) if file.is_none() => file = Some(PathBuf::from(v)),
            other => return Err(other.unexpected().to_string()),
        }
    }
    let file = file.ok_or_else(|| format!("{command}: missing FILE"))?;
    match command.as_str() {
        "check" => Ok(Action::Check(file)),
        "apply" if keys_dir.is_none() && host.is_none() && port.is_none() => {
            Err("apply: nothing to set (give --keys-dir, --host or --port)".to_owned())
        }
        "apply" => Ok(Action::Apply {
            file,
            keys_dir,
            host,
            port,
        }),
        other => Err(format!(
            "unknown command {other:?} (expected check or apply)"
        )),
    }
}

fn print(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::Message(format!("failed to write to stdout: {e}")))
}

fn check(file: &Path) -> Result<(), Failure> {
    let doc = Document::read(file)?;
    let evaluation = doc.evaluate(&Env::from_process());
    if !evaluation.is_ok() {
        return Err(Failure::Diagnostics(
            evaluation
                .diagnostics()
                .iter()
                .map(ToString::to_string)
                .collect(),
        ));
    }
    let s = evaluation.server_settings();
    // The debug-ssh relation's keys and value types (every value a string).
    let json = serde_json::json!({
        "host": s.host,
        "port": s.port.to_string(),
        "rsa_fingerprint": s.rsa_fingerprint,
        "ed25519_fingerprint": s.ed25519_fingerprint,
    });
    print(&format!("{json}\n"))
}

fn apply(
    file: &Path,
    keys_dir: Option<PathBuf>,
    host: Option<&Host>,
    port: Option<u16>,
) -> Result<(), Failure> {
    let mut options: Vec<(&str, String)> = Vec::new();
    if let Some(host) = host {
        options.push((HOST_OPTION, host.to_string()));
    }
    if let Some(port) = port {
        options.push((PORT_OPTION, port.to_string()));
    }
    if let Some(dir) = keys_dir {
        let keys = HostKeys::new(dir)
            .load()
            .map_err(|e| Failure::Message(with_causes(&e)))?;
        options.push((RSA_FINGERPRINT_OPTION, keys.rsa.sha256.to_string()));
        options.push((ED25519_FINGERPRINT_OPTION, keys.ed25519.sha256.to_string()));
    }
    let pairs: Vec<(&str, &str)> = options.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let changed = tmate_conf::update_file(file, &pairs, &Env::from_process())?;
    let verb = if changed { "updated" } else { "unchanged" };
    print(&format!("{verb} {}\n", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_check_and_apply() {
        assert_eq!(parse(args(&["check", "f"])), Ok(Action::Check("f".into())));
        assert_eq!(parse(args(&["--help"])), Ok(Action::Help(HELP)));
        assert_eq!(parse(args(&["check", "-h"])), Ok(Action::Help(CHECK_HELP)));
        assert_eq!(
            parse(args(&["apply", "f", "--help"])),
            Ok(Action::Help(APPLY_HELP))
        );
        assert_eq!(parse(args(&["frob", "--help"])), Ok(Action::Help(HELP)));
        assert_eq!(
            parse(args(&[
                "apply",
                "f",
                "--host",
                "10.0.0.5",
                "--port=10022",
                "--keys-dir",
                "k"
            ])),
            Ok(Action::Apply {
                file: "f".into(),
                keys_dir: Some("k".into()),
                host: Some("10.0.0.5".parse().unwrap()),
                port: Some(10022),
            })
        );
    }

    #[test]
    fn usage_errors_are_pinned() {
        let err = |list: &[&str]| parse(args(list)).unwrap_err();
        assert_eq!(err(&[]), "missing command (check or apply)");
        assert_eq!(err(&["check"]), "check: missing FILE");
        assert_eq!(
            err(&["apply", "f"]),
            "apply: nothing to set (give --keys-dir, --host or --port)"
        );
        assert_eq!(
            err(&["apply", "f", "--port", "0"]),
            "invalid port \"0\": expected a number from 1 to 65535"
        );
        assert_eq!(
            err(&["apply", "f", "--host", "a b"]),
            "invalid host \"a b\": only letters, digits, '-' and '.' are allowed in a name"
        );
        assert_eq!(
            err(&["check", "f", "--host", "h"]),
            "invalid option '--host'"
        );
        assert_eq!(
            err(&["frob", "f"]),
            "unknown command \"frob\" (expected check or apply)"
        );
    }
}
