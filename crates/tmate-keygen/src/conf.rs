//! `tmate-keygen conf ...`: check and apply `tmate-server-*` settings in a tmate.conf.

use std::ffi::OsString;
use std::process::ExitCode;

/// Runs `tmate-keygen conf ARGS...`; `args` are the arguments after `conf`.
pub(crate) fn run(args: Vec<OsString>) -> ExitCode {
    let _ = args;
    ExitCode::FAILURE
}
