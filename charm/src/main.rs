//! `dispatch`: the tmate-ssh-server Juju machine charm in one binary.
//!
//! Juju runs it for every hook and action with the event in `JUJU_DISPATCH_PATH`; everything
//! happens in [`tmate_ssh_server_charm::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    tmate_ssh_server_charm::run()
}
