//! `cargo xtask test`: the project's whole test gate, as CI runs it.
//!
//! Order matters for feedback time: cheap static checks first, then the supply chain, then the
//! packed charm (the charm scenarios run the packed `dispatch`), then the tests.

#![allow(
    clippy::print_stderr,
    reason = "a command-line tool reports its progress"
)]

use std::path::Path;
use std::process::Command;

/// Tools the test suite checks our output against; a missing one is an error, never a skip.
const REQUIRED_TOOLS: &[(&str, &str)] = &[
    ("ssh-keygen", "openssh-client"),
    ("ssh-keyscan", "openssh-client"),
    ("/usr/sbin/sshd", "openssh-server"),
    ("tmate", "tmate"),
    ("systemd-analyze", "systemd"),
    ("objdump", "binutils"),
    ("unshare", "util-linux"),
    ("charmcraft", "pip install charmcraft"),
    ("cargo-nextest", "cargo install --locked cargo-nextest"),
    ("cargo-deny", "cargo install --locked cargo-deny"),
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
    cargo(root, &["deny", "--offline", "check"], &[])?;
    crate::charm::run(root)?;
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

fn cargo(root: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("xtask test: cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed: {status}", args.join(" ")))
    }
}
