//! `cargo xtask test`: the project's whole test gate, as CI runs it.
//!
//! Order matters for feedback time: cheap static checks first, then the supply chain, then the
//! packed charm (the charm scenarios run the packed `dispatch`), then the tests.

#![allow(
    clippy::print_stderr,
    reason = "a command-line tool reports its progress"
)]

use std::path::Path;
use std::process::{Command, Stdio};

/// Every program the tests run (and where it comes from; `.ci/setup` installs each one): a
/// missing one is an error, never a skip.
const REQUIRED_TOOLS: &[(&str, &str)] = &[
    ("ssh-keygen", "openssh-client"),
    ("ssh-keyscan", "openssh-client"),
    ("/usr/sbin/sshd", "openssh-server"),
    ("tmate", "tmate"),
    ("systemd-analyze", "systemd"),
    ("objdump", "binutils"),
    ("unshare", "util-linux"),
    ("openssl", "openssl"),
    ("python3", "python3"),
    ("unzip", "unzip"),
    ("kill", "procps"),
    ("script", "bsdutils"),
    ("timeout", "coreutils"),
    ("sh", "dash"),
    ("charmcraft", "pip install charmcraft==4.5.0"),
    ("cargo-nextest", "cargo install --locked cargo-nextest"),
    ("cargo-deny", "cargo install --locked cargo-deny@0.20.2"),
];

/// Runs every check; stops at the first failure.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    check_tools()?;
    cargo(root, &["fmt", "--all", "--check"], &[])?;
    cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(
        root,
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    cargo(root, &["fetch", "--locked"], &[])?;
    // fuzz/ is a workspace of its own, so the line above does not check its lock file: resolve
    // it too (no build), so a stale fuzz/Cargo.lock fails here and not in the next campaign.
    cargo_quiet(
        root,
        &[
            "metadata",
            "--locked",
            "--format-version",
            "1",
            "--manifest-path",
            "fuzz/Cargo.toml",
        ],
    )?;
    cargo(root, &["deny", "--offline", "check"], &[])?;
    crate::charm::run(root)?;
    // Run from the root, nextest reads `.config/nextest.toml` there: the fault, bad-input and
    // hardening tests show their summaries even when they pass.
    cargo(
        root,
        &[
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ],
        &[],
    )?;
    cargo(root, &["test", "--workspace", "--doc", "--locked"], &[])?;
    eprintln!("xtask test: all checks passed");
    Ok(())
}

fn check_tools() -> Result<(), String> {
    let missing: Vec<String> = REQUIRED_TOOLS
        .iter()
        .filter(|(tool, _)| !on_path(tool))
        .map(|(tool, from)| format!("{tool} (from {from})"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing tools the tests need: {}; run .ci/setup to install them",
            missing.join(", ")
        ))
    }
}

fn on_path(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// Runs `cargo ARGS` in `root` with its stdout discarded (stderr still shows why it failed).
fn cargo_quiet(root: &Path, args: &[&str]) -> Result<(), String> {
    run_cargo(root, args, &[], Stdio::null())
}

fn cargo(root: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    run_cargo(root, args, envs, Stdio::inherit())
}

fn run_cargo(
    root: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    stdout: Stdio,
) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("xtask test: cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root)
        .stdout(stdout)
        .status()
        .map_err(|e| format!("cannot run cargo {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed: {status}", args.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::REQUIRED_TOOLS;

    /// `.ci/setup` installs the Debian package of every required tool (pip and cargo tools
    /// have install steps of their own there).
    #[test]
    fn ci_setup_installs_every_required_tool() {
        let setup = std::fs::read_to_string(crate::workspace_root().join(".ci/setup")).unwrap();
        let packages: Vec<&str> = setup
            .lines()
            .find_map(|l| l.strip_prefix("apt_packages=("))
            .and_then(|l| l.strip_suffix(')'))
            .expect("an apt_packages=(...) line in .ci/setup")
            .split_whitespace()
            .collect();
        for (tool, from) in REQUIRED_TOOLS {
            if let Some((_, spec)) = from.rsplit_once(' ') {
                assert!(
                    setup.contains(&format!(" {spec}\n")),
                    "{tool}: .ci/setup does not install {spec}"
                );
            } else {
                assert!(
                    packages.contains(from),
                    "{tool}: .ci/setup does not install {from}"
                );
            }
        }
    }
}
