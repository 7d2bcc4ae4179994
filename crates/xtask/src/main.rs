//! Project automation, run as `cargo xtask TASK` (alias in `.cargo/config.toml`).
//!
//! Tasks:
//! - `charm` builds the release `dispatch` and packs `target/charm/tmate-ssh-server.charm`;
//! - `test` runs the whole gate CI runs: fmt, clippy, rustdoc, cargo-deny, the packed charm,
//!   nextest and the doctests.

mod charm;
mod test;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask charm|test";

fn main() -> ExitCode {
    let root = workspace_root();
    let task = std::env::args().nth(1);
    let result = match task.as_deref() {
        Some("charm") => charm::run(&root),
        Some("test") => test::run(&root),
        Some(other) => Err(format!("unknown task {other:?}; {USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            #[allow(
                clippy::print_stderr,
                reason = "a command-line tool reports its failure"
            )]
            {
                eprintln!("error: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: two levels above this crate's manifest.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .to_path_buf()
}
