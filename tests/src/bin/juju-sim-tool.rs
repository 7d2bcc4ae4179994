//! Multi-call binary for the Juju simulator: every hook tool, the host fakes and the
//! measuring wrapper, selected by the name it is run as (a symlink) or by the first argument.
//!
//! The state file comes from `$JUJU_SIM_STATE`, or from the parent's environment when the
//! charm ran a host command with a reduced environment.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use tmate_tests::sim::{STATE_ENV, measure, tools};

fn state_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(STATE_ENV) {
        return Some(PathBuf::from(p));
    }
    // The charm may run host commands with env_clear(); its own environment still has it.
    let environ = std::fs::read(format!(
        "/proc/{}/environ",
        std::os::unix::process::parent_id()
    ))
    .ok()?;
    let prefix = format!("{STATE_ENV}=");
    environ
        .split(|b| *b == 0)
        .find_map(|entry| entry.strip_prefix(prefix.as_bytes()))
        .map(|v| PathBuf::from(String::from_utf8_lossy(v).into_owned()))
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let argv0 = if args.is_empty() {
        String::new()
    } else {
        args.remove(0)
    };
    let mut name = argv0.rsplit('/').next().unwrap_or_default().to_owned();
    if name == "juju-sim-tool" {
        if args.is_empty() {
            let _ = writeln!(
                std::io::stderr(),
                "usage: juju-sim-tool (sim-measure OUT PROGRAM | TOOL ARGS...)"
            );
            return ExitCode::from(2);
        }
        name = args.remove(0);
    }
    if name == "sim-measure" {
        return ExitCode::from(u8::try_from(measure::wrapper_main(&args)).unwrap_or(1));
    }
    let Some(state) = state_path() else {
        let _ = writeln!(
            std::io::stderr(),
            "ERROR juju-sim-tool: {STATE_ENV} is not set"
        );
        return ExitCode::from(2);
    };
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let outcome = tools::run(&name, &args, &mut std::io::stdin().lock(), &env, &state);
    if outcome.hang_secs > 0 {
        std::thread::sleep(std::time::Duration::from_secs(outcome.hang_secs));
    }
    let _ = std::io::stdout().write_all(&outcome.stdout);
    let _ = std::io::stderr().write_all(&outcome.stderr);
    ExitCode::from(u8::try_from(outcome.code).unwrap_or(1))
}
