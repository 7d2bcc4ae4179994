//! A fake Juju unit agent that runs the packed charm the way Juju runs it.
//!
//! The model (ops' state-transition testing, binary-level): a [`ModelState`] in, one event,
//! a [`ModelState`] out. See JUJU.md section 5 (the Juju contract) and `charm/src/host.rs`
//! (the host commands).
//!
//! - [`Sim`] holds a unit: an unpacked charm directory, a `bin/` of symlinks to the
//!   `juju-sim-tool` multi-call binary (every hook tool plus the host fakes `dpkg-query`,
//!   `apt-get`, `systemctl`, `docker`), a host root (`TMATE_CHARM_ROOT`) and the JSON state
//!   file the tools lock and update ([`StateFile`]).
//! - Each hook runs `dispatch` with no arguments, cwd = the charm dir, an environment built
//!   from scratch (JUJU.md section 1) and a timeout; stdout, stderr, exit code, every
//!   hook-tool call (argv + stdin) and host command are recorded in a [`HookRun`].
//! - `relation-set`, `open-port`/`close-port` and `state-set` are committed only when the
//!   hook exits 0; `status-set`, `juju-log`, `action-set`/`action-fail` are immediate.
//! - Drivers emit Juju's sequences ([`Sim::deploy`], [`Sim::relate`], [`Sim::depart`],
//!   [`Sim::unrelate`], [`Sim::update_status`], [`Sim::set_network`], [`Sim::set_config`],
//!   [`Sim::upgrade`], [`Sim::run_action`], [`Sim::remove`], [`Sim::remove_stop_first`]); a
//!   failed hook leaves the unit in error until [`Sim::resolve`].
//! - After every hook the published `debug-ssh` data is validated as the consumers do
//!   ([`consumer`]), and everything leaving the unit is scanned for the private keys found
//!   under the host root, in any common encoding ([`secrets`]); any problem (or contract
//!   drift in host commands) fails the driver with [`Error::Findings`].
//! - [`measure::measure_update_status`] measures CPU, wall, peak RSS and tool calls of one
//!   `update-status` for benchmarks.
//!
//! The tool binary is found with [`find_tool`] (`$JUJU_SIM_TOOL`, else next to the test
//! executable); the packed charm with [`charm::packed_charm_path`].

pub mod charm;
pub mod consumer;
pub mod flags;
pub mod host;
pub mod measure;
pub mod model;
pub mod secrets;
pub mod store;
pub mod tools;
mod unit;
pub mod yaml;

use std::path::{Path, PathBuf};

pub use charm::{Charm, packed_charm_path};
pub use measure::{UpdateStatusMeasurement, Usage, healthy_unit, measure_update_status};
pub use model::{ModelState, NetworkInfo, ProxySettings, Status};
pub use store::StateFile;
pub use unit::{
    ActionOutcome, DEFAULT_TIMEOUT, DEFAULT_UNIT, Event, HookRun, ROOT_ENV, STATE_ENV, Sim,
    TOOL_ENV, find_tool,
};

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("failed to {op} {}", .path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not valid JSON.
    #[error("invalid state file {}", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A charm YAML file is outside the supported subset or malformed.
    #[error("failed to parse {}", .path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: yaml::YamlError,
    },
    /// The packed charm is missing.
    #[error("{} does not exist: run `cargo xtask charm` first", .path.display())]
    NotPacked {
        /// Expected location.
        path: PathBuf,
    },
    /// A helper program could not be started.
    #[error("failed to run `{command}`")]
    Spawn {
        /// The command.
        command: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A helper program failed.
    #[error("command `{command}` exited with status {status}: {stderr}")]
    Command {
        /// The command.
        command: String,
        /// Exit status.
        status: i32,
        /// Its stderr.
        stderr: String,
    },
    /// The simulator could not be set up.
    #[error("setup failed: {0}")]
    Setup(String),
    /// A driver was asked for something Juju would never do.
    #[error("inconsistent input: {0}")]
    Input(String),
    /// A hook failed earlier and was not resolved.
    #[error("unit is in error (hook failed: {0:?}); call resolve() first")]
    UnitInError(String),
    /// A hook broke the contract, published data a consumer rejects, or leaked a secret.
    #[error("hook {hook:?} produced findings:\n  {}", .findings.join("\n  "))]
    Findings {
        /// The hook.
        hook: String,
        /// What was found.
        findings: Vec<String>,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }
}

/// Result type of the simulator.
pub type Result<T, E = Error> = std::result::Result<T, E>;
