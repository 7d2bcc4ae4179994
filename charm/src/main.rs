//! `dispatch`: the tmate-ssh-server Juju machine charm in one binary.
//!
//! Juju runs it for every hook and action with the event in `JUJU_DISPATCH_PATH`. It parses the
//! environment once, takes the machine-wide lock, then runs one handler: the idempotent
//! reconcile for every hook except `stop`/`remove` (teardown), or the `get-server-config`
//! action. Nothing is printed on stdout; logs go through `juju-log`.

mod action;
mod config;
mod context;
mod error;
mod host;
mod juju;
mod lock;
mod names;
mod process;
mod reconcile;
mod render;
#[cfg(test)]
mod testing;

use std::process::ExitCode;

use crate::context::{Event, JujuContext};
use crate::error::{Error, chain};
use crate::host::SystemHost;
use crate::juju::{HookTools, JujuCli, LogLevel};

fn main() -> ExitCode {
    let juju = JujuCli;
    match run(&juju) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let text = chain(&err);
            if juju.juju_log(LogLevel::Error, &text).is_err() {
                // Without juju-log, stderr is the only place Juju records (at WARNING).
                #[allow(clippy::print_stderr, reason = "juju-log is unavailable")]
                {
                    eprintln!("ERROR {text}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

fn run(juju: &JujuCli) -> Result<(), Error> {
    let ctx = JujuContext::from_env(std::env::vars_os(), std::env::args_os().next())?;
    let _lock = lock::acquire(&ctx.root, ctx.event == Event::GetServerConfig)?;
    reconcile::dispatch(&ctx, juju, &SystemHost::new(ctx.root.clone()))
}
