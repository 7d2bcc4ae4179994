//! `tmate-keygen`: host keys, fingerprints and client settings for a self-hosted
//! tmate-ssh-server (the pure-Rust successor of upstream `create_keys.sh`).
//!
//! A thin shell: parse the arguments ([`cli`]), call the `tmate-keys` library, print.
//! Every error is one line `tmate-keygen: <message>` on standard error and exit status 1.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports to its user on stdout and stderr"
)]

mod cli;
mod conf;
mod error;
mod fingerprint;
mod init;

use std::ffi::OsString;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use cli::Command;
use error::{Error, Result};

/// Program name used as the prefix of every message.
const PROGRAM: &str = "tmate-keygen";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let command = match cli::parse(args) {
        Ok(command) => command,
        Err(e @ Error::Usage(_)) => {
            eprintln!("{PROGRAM}: {e} (see '{PROGRAM} --help')");
            return ExitCode::FAILURE;
        }
        Err(e) => return fail(&e),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = match command {
        Command::Conf(rest) => return conf::run(rest),
        Command::Help => write_out(&mut out, cli::HELP),
        Command::Version => write_out(
            &mut out,
            &format!("{PROGRAM} {}\n", env!("CARGO_PKG_VERSION")),
        ),
        Command::Init(args) => init::run(&args, &mut out),
        Command::Fingerprint(args) => {
            let mut report = |e: Error| eprintln!("{PROGRAM}: {}", message(&e));
            match fingerprint::run(&args, &mut out, &mut report) {
                Ok(true) => Ok(()),
                // Each failed input was reported already.
                Ok(false) => return ExitCode::FAILURE,
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Writes `text` and flushes.
fn write_out(out: &mut impl Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes()).map_err(Error::Stdout)?;
    out.flush().map_err(Error::Stdout)
}

/// Reports `e` (unless stdout was merely closed early) and returns exit status 1.
fn fail(e: &Error) -> ExitCode {
    if e.is_broken_pipe() {
        // `tmate-keygen fingerprint big.keys | head` is not an error worth a message.
        return ExitCode::SUCCESS;
    }
    eprintln!("{PROGRAM}: {}", message(e));
    ExitCode::FAILURE
}

/// `e` on one line, followed by the operating system's reason when an I/O error caused it
/// (`...: failed to create: Read-only file system (os error 30)`). Parser internals of other
/// causes are left out: the message already says what is wrong with which file.
fn message(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(io_error) = cause.downcast_ref::<io::Error>() {
            let cause_text = io_error.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
        }
        source = cause.source();
    }
    text
}
