//! Resource usage of one hook run, measured by a wrapper process.
//!
//! The charm is started by `juju-sim-tool sim-measure OUT PROGRAM`: the wrapper spawns
//! `PROGRAM` with no arguments (inheriting cwd, environment and stdio), waits for it, and
//! writes `getrusage(RUSAGE_CHILDREN)` as JSON to `OUT`. Because the wrapper has no other
//! children, that is exactly the charm's process tree: CPU time of the charm plus every
//! hook tool and host fake it waited for (microsecond resolution), and the peak RSS of the
//! largest single process in that tree.

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Resource usage of one hook's process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// User CPU time of the charm and the processes it waited for, microseconds.
    pub user_us: u64,
    /// System CPU time, microseconds.
    pub system_us: u64,
    /// Peak RSS of the largest process in the tree (charm or a tool), KiB.
    pub max_rss_kib: u64,
    /// Wall time from spawn to exit as the wrapper saw it, microseconds.
    pub wall_us: u64,
}

impl Usage {
    /// User plus system CPU time.
    #[must_use]
    pub fn cpu(&self) -> Duration {
        Duration::from_micros(self.user_us + self.system_us)
    }

    /// Wall time.
    #[must_use]
    pub fn wall(&self) -> Duration {
        Duration::from_micros(self.wall_us)
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// The `sim-measure` entry point of `juju-sim-tool`: `args` = `[OUT, PROGRAM]`.
///
/// Returns the exit code to exit with (the child's, `128+signal` if it was killed, 2 on
/// a usage or spawn error).
#[must_use]
pub fn wrapper_main(args: &[String]) -> i32 {
    let [out, program] = args else {
        return 2;
    };
    let start = Instant::now();
    let status = match Command::new(program).status() {
        Ok(status) => status,
        Err(_) => return 127,
    };
    let wall = start.elapsed();
    let usage = match nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => {
            let us = |tv: nix::sys::time::TimeVal| {
                u64::try_from(tv.tv_sec()).unwrap_or(0) * 1_000_000
                    + u64::try_from(tv.tv_usec()).unwrap_or(0)
            };
            Usage {
                user_us: us(u.user_time()),
                system_us: us(u.system_time()),
                max_rss_kib: u64::try_from(u.max_rss()).unwrap_or(0),
                wall_us: u64::try_from(wall.as_micros()).unwrap_or(u64::MAX),
            }
        }
        Err(_) => Usage::default(),
    };
    if let Ok(json) = serde_json::to_string(&usage) {
        // Best effort: a missing file only loses the measurement, not the hook result.
        let _ = std::fs::write(Path::new(out), json);
    }
    exit_code(status)
}

/// One `update-status` on a healthy, converged unit, measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateStatusMeasurement {
    /// User + system CPU time of the charm and every process it waited for (hook tools,
    /// host fakes), from `getrusage(RUSAGE_CHILDREN)` in the wrapper (µs resolution).
    pub cpu: Duration,
    /// User part of [`UpdateStatusMeasurement::cpu`].
    pub user: Duration,
    /// System part of [`UpdateStatusMeasurement::cpu`].
    pub system: Duration,
    /// Wall time from the wrapper's spawn of `dispatch` to its exit.
    pub wall: Duration,
    /// Peak RSS of the largest single process of the hook (charm or a fake tool), KiB.
    pub peak_rss_kib: u64,
    /// Peak RSS of the largest fake tool process, KiB (0 if none ran): when
    /// `peak_rss_kib > tool_peak_rss_kib`, the peak is the charm's own.
    pub tool_peak_rss_kib: u64,
    /// Number of hook-tool calls (the contract's budget is 3).
    pub tool_calls: usize,
    /// Number of host commands (dpkg-query, systemctl, ...).
    pub host_calls: usize,
}

/// Runs one `update-status` on `sim` (which should be healthy and converged, see
/// [`healthy_unit`]) and measures it.
///
/// # Errors
///
/// [`Error::Input`](super::Error::Input) when the hook fails; any driver error.
pub fn measure_update_status(sim: &mut super::Sim) -> super::Result<UpdateStatusMeasurement> {
    let run = sim.update_status()?;
    if !run.succeeded() {
        return Err(super::Error::Input(format!(
            "update-status failed: {:?}\n{}",
            run.exit, run.stderr
        )));
    }
    Ok(UpdateStatusMeasurement {
        cpu: run.usage.cpu(),
        user: Duration::from_micros(run.usage.user_us),
        system: Duration::from_micros(run.usage.system_us),
        wall: run.usage.wall(),
        peak_rss_kib: run.usage.max_rss_kib,
        tool_peak_rss_kib: run.calls.iter().map(|c| c.max_rss_kib).max().unwrap_or(0),
        tool_calls: run.calls.len(),
        host_calls: run.host_calls.len(),
    })
}

/// A deployed unit of the packed charm, related to one `github-runner` unit, that has run
/// one `update-status` and is `active` (the state [`measure_update_status`] expects).
///
/// # Errors
///
/// [`Error::Input`](super::Error::Input) when the unit does not converge to `active`; any
/// setup or driver error.
pub fn healthy_unit(charm_file: &Path, tool: &Path) -> super::Result<super::Sim> {
    let mut sim = super::Sim::new(charm_file, tool)?;
    sim.deploy()?;
    sim.relate("debug-ssh", "github-runner", &["github-runner/0"])?;
    sim.update_status()?;
    let status = sim.display_status()?;
    if status.status != "active" {
        return Err(super::Error::Input(format!(
            "unit did not converge: {status:?}"
        )));
    }
    Ok(sim)
}
