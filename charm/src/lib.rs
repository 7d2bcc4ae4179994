#![doc = include_str!("../README.md")]
//!
//! ## As a library
//!
//! The package's binary, `dispatch`, is `fn main` calling [`run`]. The library exists so the
//! benchmarks can run one reconcile in-process: [`testing`] (hidden from the docs) holds the
//! in-memory fakes of the hook tools and the machine that the unit tests use, and
//! [`testing::FakeUnit`] runs a hook of the real charm code against them:
//!
//! ```
//! use tmate_ssh_server_charm::testing::FakeUnit;
//!
//! let unit = FakeUnit::deployed("10.0.0.5").expect("install, config-changed and start succeed");
//! unit.run_hook("update-status").expect("update-status succeeds");
//! assert_eq!(unit.juju.calls(), ["config-get", "state-get", "network-get"]);
//! assert!(unit.host.changes().is_empty(), "a healthy unit is left alone");
//! ```

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
#[doc(hidden)]
pub mod testing;

use std::process::ExitCode;

use crate::context::{Event, JujuContext};
use crate::error::{Error, chain};
use crate::host::SystemHost;
use crate::juju::{HookTools, JujuCli, LogLevel};

/// Runs the charm for the event Juju dispatched, as the `dispatch` binary does.
///
/// It parses the environment once, takes the machine-wide lock, then runs one handler: the
/// idempotent reconcile for every hook except `stop`/`remove` (teardown), or the
/// `get-server-config` action. Nothing is printed on stdout; logs go through `juju-log`, and
/// an error that no status describes is logged (or, without `juju-log`, written to stderr)
/// and ends in a failure exit code so Juju retries the hook.
#[must_use]
pub fn run() -> ExitCode {
    let juju = JujuCli;
    match dispatch_from_env(&juju) {
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

fn dispatch_from_env(juju: &JujuCli) -> Result<(), Error> {
    let ctx = JujuContext::from_env(std::env::vars_os(), std::env::args_os().next())?;
    let _lock = lock::acquire(&ctx.root, ctx.event == Event::GetServerConfig)?;
    reconcile::dispatch(&ctx, juju, &SystemHost::new(ctx.root.clone()))
}
