//! Fault injection (issue #6): SIGKILL, disk full, read-only mounts, hostile key files,
//! concurrent `dispatch` runs and failing or hanging tools, against `tmate-keygen init` and the
//! packed charm run by the Juju simulator exactly as the agent runs it. Every test fails when
//! the property breaks, and prints one summary line (`faults: ...`; `.config/nextest.toml`
//! shows it for passing tests too, so CI logs carry the figures).
//!
//! The behaviour under test (what the project documents):
//!
//! - **SIGKILL** at any point (of `tmate-keygen init`, or of a hook's whole process group:
//!   `dispatch` plus the hook tools and host commands it runs): each key file is complete or
//!   absent, a key that existed before is byte-identical, no `.pub` exists without its key, no
//!   other file is half-written, nothing transactional is committed; Juju retries the killed
//!   hook and that run exits 0 and leaves the unit `active` with valid published data.
//! - **Disk full / read-only file system**: `tmate-keygen init` exits 1 with one line naming
//!   the file and the OS error. The charm sets `blocked` with `host key problem: PATH: ...` when
//!   a key cannot be written (exit 0: the operator must act, and every `update-status` retries),
//!   and fails the hook (non-zero exit, `juju-log` ERROR naming the path, so Juju retries it)
//!   for any other file (the unit file, its lock). Existing keys are never touched, no
//!   temporary file is left, and the unit converges once space (or write access) is back.
//! - **Hostile files**: a key file or the keys directory that is a symlink is refused and never
//!   followed (the target is untouched), as is one owned by another user or a keys directory
//!   others can write to (`0666`); a private key with a loose mode (`0666`) is set to `0600`,
//!   content unchanged. The charm reports a refusal as `blocked` (exit 0).
//! - **Concurrency**: `dispatch` runs on one machine are serialised by an exclusive `flock` on
//!   `{root}/var/lib/tmate-ssh-server/dispatch.lock`: a second run (a `juju exec` of a hook
//!   while a hook runs) makes no hook tool call until the first exits, then both exit 0.
//! - **Failing or hanging tools**: every command has a deadline (hook tools 60 s, `systemctl`
//!   120 s, `docker`/`dpkg-query` 60 s, `apt-get update` 2 min, `apt-get install` 5 min); a
//!   hang ends at the deadline, well before the simulator's own hook timeout. `network-get`
//!   failures ("no address yet") end in `waiting` (exit 0, retried by `update-status`, the
//!   charm's documented design); any other failure, `apt-get` included, fails the hook with
//!   nothing committed, and the retry converges. The default run caps the deadlines at a few
//!   seconds through the charm's test knob `TMATE_CHARM_COMMAND_TIMEOUT_CAP`; the long
//!   run also waits for the real 60 s deadlines.
//!
//! Needs root (tmpfs and bind mounts in a private mount namespace of the test thread; CI runs
//! as root), `ssh-keygen`, and the packed charm (`cargo xtask charm`). The default run makes
//! 200 SIGKILLs that each ended what they hit (60 hooks in deployments, 60 in upgrades from
//! the Python charm, 80 runs of `tmate-keygen init`, some of them between two file writes),
//! counted from the wait status: a run that exited before the signal arrived does not count.
//! It adds 80 other faults: 24 disk-full or read-only runs of `tmate-keygen init`, 9
//! disk-full and 3 read-only charm runs, 20 hostile key directories (10 for `tmate-keygen`,
//! 10 for the charm), 10 concurrency runs (a held lock, 8 random overlaps, a burst of 40 tool
//! processes) and 14 tool faults (each of the 7 tools in `TOOL_CASES` failing, then
//! hanging). `TMATE_FAULTS_LONG=1` makes ten times as many kills and overlaps and waits for
//! the real deadlines; `TMATE_FAULTS_SEED` replays a kill schedule.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code: a failed expectation is a test failure; the summary lines are the report"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tmate_tests::keys_support::{
    DirSnapshot, ED25519_KEY, Entry, KEY_FILES, RSA_KEY, TestRng, is_root, keygen_cmd,
    ssh_keygen_public,
};
use tmate_tests::sim::host::{TMATE_UNIT, UNIT_FILE};
use tmate_tests::sim::model::{Container, Databag, HookContext};
use tmate_tests::sim::secrets::{HandRun, SecretScanner};
use tmate_tests::sim::{
    Charm, Error, HookRun, STATE_ENV, Sim, StateFile, Status, packed_charm_path,
};

const TOOL: &str = env!("CARGO_BIN_EXE_juju-sim-tool");
/// Ten times the injections, and the charm's real deadlines.
const LONG_ENV: &str = "TMATE_FAULTS_LONG";
/// Seed of the kill schedules.
const SEED_ENV: &str = "TMATE_FAULTS_SEED";
/// The charm's test knob capping every command deadline (seconds).
const TIMEOUT_CAP_ENV: &str = "TMATE_CHARM_COMMAND_TIMEOUT_CAP";
/// The charm's state directory, its keys and its lock, below the root.
const STATE_DIR: &str = "var/lib/tmate-ssh-server";
const KEYS: &str = "var/lib/tmate-ssh-server/keys";
const LOCK: &str = "var/lib/tmate-ssh-server/dispatch.lock";
/// The Python charm's keys, adopted on upgrade.
const LEGACY_KEYS: &str = "home/ubuntu/keys";
const IMAGE: &str = "ghcr.io/canonical/tmate-ssh-server:0.1.1";
const ADDRESS: &str = "10.0.0.5";
/// The hooks of a deployment, in Juju's order.
const DEPLOY: [&str; 4] = ["install", "leader-elected", "config-changed", "start"];
/// The hooks of `juju refresh`.
const UPGRADE: [&str; 2] = ["upgrade-charm", "config-changed"];
/// The charm's real deadlines (`charm/src/names.rs`).
const HOOK_TOOL_DEADLINE: Duration = Duration::from_secs(60);
const DOCKER_DEADLINE: Duration = Duration::from_secs(60);
/// Deadline cap for the default run, and slack allowed on top of a deadline.
const CAP: Duration = Duration::from_secs(2);
const SLACK: Duration = Duration::from_secs(10);
/// `SIGKILL`.
const SIGKILL: i32 = 9;
/// How the simulator reports a hook whose process group got SIGKILL (128 + 9): it takes
/// the exit code from the wait status's signal (`sim::unit`, as a shell reports it).
const KILLED: i32 = 128 + SIGKILL;
/// `ENOSPC`.
const ENOSPC: i32 = 28;
/// tmpfs page size: space is allocated per page.
const PAGE: u64 = 4096;

fn long() -> bool {
    std::env::var(LONG_ENV).is_ok_and(|v| v == "1")
}

/// `n`, ten times over in the long run.
fn scaled(n: u64) -> u64 {
    if long() { n * 10 } else { n }
}

fn rng(test: &str) -> TestRng {
    let seed = TestRng::seed_from_env(SEED_ENV);
    eprintln!("{test}: {SEED_ENV}={seed}");
    TestRng::new(seed)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

// ----- the simulator ------------------------------------------------------------------------

/// The packed charm unpacked once, for many units ([`Sim::from_dir`] copies it).
struct Unpacked(tempfile::TempDir);

impl Unpacked {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        match Charm::unpack(&packed_charm_path(), dir.path()) {
            Ok(_) => Unpacked(dir),
            Err(Error::NotPacked { path }) => panic!(
                "{} is missing: run `cargo xtask charm` first",
                path.display()
            ),
            Err(e) => panic!("unpacking the charm failed: {e}"),
        }
    }

    fn unit(&self) -> Sim {
        Sim::from_dir(self.0.path(), Path::new(TOOL))
            .unwrap_or_else(|e| panic!("simulator setup failed: {e}"))
    }
}

/// Fires `hook`, or re-runs it with `juju resolve` when the unit is in error.
fn fire_or_retry(sim: &mut Sim, hook: &str) -> HookRun {
    if sim.error().is_some() {
        let runs = sim
            .resolve()
            .unwrap_or_else(|e| panic!("retry of {hook}: {e}"));
        runs.into_iter().last().expect("resolve ran the hook")
    } else {
        sim.fire(hook).unwrap_or_else(|e| panic!("{hook}: {e}"))
    }
}

/// Runs `hooks` in order; every one must exit 0.
fn run_hooks(sim: &mut Sim, hooks: &[&str]) -> Vec<HookRun> {
    hooks
        .iter()
        .map(|hook| {
            let run = fire_or_retry(sim, hook);
            assert!(run.succeeded(), "{hook} failed: {run:#?}");
            run
        })
        .collect()
}

/// What Juju keeps only when a hook exits 0.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Committed {
    charm_state: BTreeMap<String, String>,
    bags: BTreeMap<u32, (Databag, Databag)>,
    ports: BTreeSet<String>,
}

fn committed(sim: &Sim) -> Committed {
    let st = sim.state().unwrap();
    Committed {
        charm_state: st.charm_state,
        bags: st
            .relations
            .iter()
            .map(|(id, r)| (*id, (r.local_unit_data.clone(), r.local_app_data.clone())))
            .collect(),
        ports: st.opened_ports,
    }
}

fn status(sim: &Sim) -> Status {
    sim.display_status().unwrap()
}

/// `ssh-keygen -l -E sha256` of a `.pub` file: the fingerprint field.
fn ssh_keygen_fingerprint(pub_file: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(pub_file)
        .output()
        .expect("ssh-keygen must be installed (apt openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen -l {}: {}",
        pub_file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

/// The unit is `active`, serves the unit file it wrote, and publishes on relation `id` the
/// fingerprints of the keys on disk (as `ssh-keygen` computes them).
fn assert_converged(sim: &Sim, id: u32, what: &str) {
    assert_eq!(status(sim), Status::new("active", ""), "{what}");
    let st = sim.state().unwrap();
    let unit_file = fs::read_to_string(sim.root().join(UNIT_FILE)).unwrap();
    let service = &st.host.units[TMATE_UNIT];
    assert_eq!(service.active, "active", "{what}");
    assert_eq!(
        service.running.as_deref(),
        Some(unit_file.as_str()),
        "{what}"
    );
    let entry = sim
        .published(id)
        .unwrap_or_else(|e| panic!("{what}: published data invalid: {e}"))
        .unwrap_or_else(|| panic!("{what}: nothing published"));
    let keys = sim.root().join(KEYS);
    assert_eq!(
        (entry.rsa_fingerprint, entry.ed25519_fingerprint),
        (
            ssh_keygen_fingerprint(&keys.join(format!("{RSA_KEY}.pub"))),
            ssh_keygen_fingerprint(&keys.join(format!("{ED25519_KEY}.pub")))
        ),
        "{what}: published fingerprints are not those of the keys on disk"
    );
    assert_eq!(entry.host.to_string(), ADDRESS, "{what}");
    assert!(
        st.charm_state.get("applied").is_some_and(|v| v != "null"),
        "{what}: no applied record: {:?}",
        st.charm_state
    );
}

/// Every file below `root` (relative path), not following symlinks.
fn files_below(root: &Path) -> Vec<PathBuf> {
    DirSnapshot::take(root)
        .0
        .into_iter()
        .filter(|(_, e)| !matches!(e, Entry::Dir { .. }))
        .map(|(p, _)| p)
        .collect()
}

/// A temporary file of ours: `.NAME.tmp.PID` (tmate-keys) or `.NAME.tmp-PID` (the charm).
fn is_temp(name: &str) -> bool {
    name.starts_with('.') && (name.contains(".tmp.") || name.contains(".tmp-"))
}

fn temp_files(root: &Path) -> Vec<PathBuf> {
    files_below(root)
        .into_iter()
        .filter(|p| p.file_name().and_then(OsStr::to_str).is_some_and(is_temp))
        .collect()
}

// ----- key directories ----------------------------------------------------------------------

/// The complete private keys of a directory (name -> bytes), after checking that each key file
/// present is complete and sound: a private key OpenSSH reads, mode `0600`, its `.pub` (if any)
/// exactly what `ssh-keygen -y` derives, mode `0644`; no `.pub` without its key; nothing else
/// but temporary files of ours. A missing directory has no keys.
fn check_keys(dir: &Path, what: &str) -> BTreeMap<String, Vec<u8>> {
    let snapshot = DirSnapshot::take(dir);
    let mut keys = BTreeMap::new();
    for (path, entry) in &snapshot.0 {
        let name = path.display().to_string();
        if name.is_empty() {
            continue;
        }
        if !KEY_FILES.contains(&name.as_str()) {
            assert!(
                is_temp(&name),
                "{what}: unexpected file {name} in {}",
                dir.display()
            );
            continue;
        }
        let Entry::File { mode, content } = entry else {
            panic!("{what}: {name} is not a regular file: {entry:?}");
        };
        if let Some(private) = name.strip_suffix(".pub") {
            assert_eq!(*mode, 0o644, "{what}: {name} mode");
            assert!(
                snapshot.0.contains_key(Path::new(private)),
                "{what}: {name} exists without its private key"
            );
        } else {
            assert_eq!(*mode, 0o600, "{what}: {name} mode");
            let public = ssh_keygen_public(&dir.join(&name));
            if let Some(Entry::File { content: line, .. }) =
                snapshot.0.get(Path::new(&format!("{name}.pub")))
            {
                assert_eq!(
                    String::from_utf8_lossy(line),
                    public,
                    "{what}: {name}.pub does not match its key"
                );
            }
            keys.insert(name, content.clone());
        }
    }
    keys
}

/// Every key in `kept` is still there, byte for byte.
fn assert_kept(dir: &Path, kept: &BTreeMap<String, Vec<u8>>, what: &str) {
    for (name, bytes) in kept {
        let now =
            fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{what}: {name} is gone: {e}"));
        assert!(now == *bytes, "{what}: {name} changed");
    }
}

/// Copies the files `names` of `from` into `to` (created), keeping their modes.
fn copy_files(from: &Path, to: &Path, names: &[&str]) {
    fs::create_dir_all(to).unwrap();
    for name in names {
        fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

// ----- SIGKILL ------------------------------------------------------------------------------

/// When a kill is sent.
#[derive(Debug, Clone)]
enum Trigger {
    /// This long after arming.
    After(Duration),
    /// As soon as a new entry appears in `dir` (which may not exist yet), plus `extra`.
    NewEntry { dir: PathBuf, extra: Duration },
}

impl Trigger {
    /// Waits for the trigger; false if `done` was set first.
    fn wait(&self, done: &AtomicBool) -> bool {
        let started = Instant::now();
        match self {
            Trigger::After(delay) => {
                while started.elapsed() < *delay {
                    if done.load(Ordering::Acquire) {
                        return false;
                    }
                    std::thread::sleep((*delay - started.elapsed()).min(Duration::from_millis(1)));
                }
            }
            Trigger::NewEntry { dir, extra } => {
                let before: BTreeSet<_> = entries(dir);
                loop {
                    if done.load(Ordering::Acquire) {
                        return false;
                    }
                    if entries(dir).difference(&before).next().is_some() {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                std::thread::sleep(*extra);
            }
        }
        true
    }
}

fn entries(dir: &Path) -> BTreeSet<std::ffi::OsString> {
    fs::read_dir(dir).map_or_else(
        |_| BTreeSet::new(),
        |d| d.flatten().map(|e| e.file_name()).collect(),
    )
}

/// The process group of the hook the simulator in `sim_dir` is running: its measuring
/// wrapper (`juju-sim-tool sim-measure SIM_DIR/usage-N.json dispatch`) leads the group of
/// `dispatch` and every tool it runs.
fn hook_process_group(sim_dir: &Path) -> Option<i32> {
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let mut args = cmdline.split(|b| *b == 0).skip(1);
        if args.next() == Some(b"sim-measure".as_slice())
            && args
                .next()
                .is_some_and(|a| a.starts_with(sim_dir.as_os_str().as_bytes()))
        {
            return Some(pid);
        }
    }
    None
}

/// Waits for `trigger`, then SIGKILLs the process group of whatever hook `sim_dir` runs.
/// Returns whether a kill was sent (false if `done` came first).
fn kill_hook(sim_dir: &Path, trigger: &Trigger, done: &AtomicBool) -> bool {
    if !trigger.wait(done) {
        return false;
    }
    // Between two hooks there is no group: wait for the next one.
    loop {
        if let Some(pgid) = hook_process_group(sim_dir) {
            // The group may have exited meanwhile (ESRCH): then look again.
            if nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .is_ok()
            {
                return true;
            }
        }
        if done.load(Ordering::Acquire) {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The furthest step of the reconcile a killed run reached, from what it did.
fn landing(run: &HookRun, keys_changed: bool, unit_changed: bool) -> &'static str {
    let tool = |names: &[&str]| run.calls.iter().any(|c| names.contains(&c.tool.as_str()));
    let host = |prefixes: &[&[&str]]| {
        run.host_calls.iter().any(|c| {
            prefixes
                .iter()
                .any(|p| c.argv.len() >= p.len() && c.argv[..p.len()] == **p)
        })
    };
    if tool(&["state-set"]) {
        "record"
    } else if tool(&[
        "relation-ids",
        "relation-get",
        "relation-set",
        "opened-ports",
        "open-port",
    ]) {
        "ports+relations"
    } else if host(&[&["docker", "ps"], &["docker", "rm"]]) {
        "containers"
    } else if host(&[&["systemctl"]]) {
        "systemd"
    } else if unit_changed {
        "unit file"
    } else if keys_changed {
        "keys"
    } else if host(&[&["apt-get"], &["dpkg-query"]]) {
        "docker.io"
    } else if !run.calls.is_empty() {
        "model"
    } else {
        "exec+lock"
    }
}

/// A scenario for dispatch kills: a unit before a sequence of hooks, and what must hold.
struct KillScenario<'a> {
    hooks: &'a [&'a str],
    /// Builds a fresh unit; returns it with the relation id to check.
    setup: &'a dyn Fn() -> (Sim, u32),
    /// Keys that must be in the new key home after any kill, if present there (the legacy
    /// keys on upgrade); empty: any sound key.
    adopted: &'a BTreeMap<String, Vec<u8>>,
    /// Files outside the keys that may exist under the root (relative), with their allowed
    /// contents.
    allowed_files: &'a BTreeMap<PathBuf, Vec<Vec<u8>>>,
    /// The unit file the hooks end with.
    final_unit_file: Option<&'a Vec<u8>>,
}

/// Tally of a kill campaign.
#[derive(Debug, Default)]
struct KillTally {
    kills: u64,
    cycles: u64,
    completed_before_kill: u64,
    landed: BTreeMap<String, u64>,
    leftover_temps: u64,
}

impl KillTally {
    fn summary(&self) -> String {
        let landed: Vec<String> = self
            .landed
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "{} kills in {} cycles (+{} schedules that ended before the kill); landed: {}; kills that left a temp file: {}",
            self.kills,
            self.cycles,
            self.completed_before_kill,
            landed.join(", "),
            self.leftover_temps
        )
    }
}

/// Typical wall time of each hook of `scenario` (one uninterrupted run), and that run's unit.
fn baseline(scenario: &KillScenario<'_>) -> Vec<Duration> {
    let (mut sim, id) = (scenario.setup)();
    let runs = run_hooks(&mut sim, scenario.hooks);
    assert_converged(&sim, id, "uninterrupted run");
    runs.iter()
        .map(|r| r.usage.wall().max(r.wall / 2))
        .collect()
}

/// One cycle: a fresh unit, `kills` SIGKILLs at random points of the hook sequence (each
/// killed hook is retried, as Juju does, and may be killed again), then the retries run to
/// the end and must converge.
fn kill_cycle(
    scenario: &KillScenario<'_>,
    typical: &[Duration],
    kills: u64,
    rng: &mut TestRng,
    tally: &mut KillTally,
) {
    let (mut sim, id) = (scenario.setup)();
    let root = sim.root();
    let keys_dir = root.join(KEYS);
    let mut kept: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut next = 0;
    let mut kills_left = kills;
    let cycle = tally.cycles;
    while next < scenario.hooks.len() {
        let remaining: Duration = typical[next..].iter().sum();
        // Aim a third of the kills at the short write phases: the first new key file, or the
        // unit file's temporary file, when they are still to be written.
        let keys_to_write = fs::read_dir(&keys_dir).map_or(true, |d| d.count() < KEY_FILES.len());
        let unit_to_write =
            fs::read(root.join(UNIT_FILE)).ok().as_ref() != scenario.final_unit_file;
        let trigger = if kills_left == 0 {
            None
        } else if rng.below(3) == 0 && (keys_to_write || unit_to_write) {
            let dir = if keys_to_write && (!unit_to_write || rng.below(2) == 0) {
                keys_dir.clone()
            } else {
                root.join("etc/systemd/system")
            };
            Some(Trigger::NewEntry {
                dir,
                extra: Duration::from_micros(rng.below(2_000)),
            })
        } else {
            Some(Trigger::After(Duration::from_micros(
                rng.below(micros(remaining) + 1),
            )))
        };
        let done = AtomicBool::new(false);
        let sim_dir = sim.dir().to_owned();
        let mut killed_run = None;
        let mut sent = false;
        std::thread::scope(|scope| {
            let killer = trigger
                .as_ref()
                .map(|t| scope.spawn(|| kill_hook(&sim_dir, t, &done)));
            while next < scenario.hooks.len() {
                let hook = scenario.hooks[next];
                let before = committed(&sim);
                let keys_before = DirSnapshot::take(&keys_dir);
                let unit_before = fs::read(root.join(UNIT_FILE)).ok();
                let run = fire_or_retry(&mut sim, hook);
                if run.exit == Some(KILLED) {
                    killed_run = Some((hook, run, before, keys_before, unit_before));
                    break;
                }
                assert!(run.succeeded(), "cycle {cycle}: {hook} failed: {run:#?}");
                next += 1;
            }
            done.store(true, Ordering::Release);
            // A kill sent to a hook that had just exited (a zombie group) changes nothing.
            if let Some(killer) = killer {
                sent = killer.join().unwrap();
            }
        });
        let Some((hook, run, before, keys_before, unit_before)) = killed_run else {
            if trigger.is_some() {
                tally.completed_before_kill += 1;
            }
            break;
        };
        // Counted as a kill only when the simulator saw the hook die of SIGKILL (it reports
        // the wait status's signal as 128 + N) and our kill was sent: a hook that exited
        // before the signal arrived ran to its end and is not counted.
        assert!(
            trigger.is_some() && sent,
            "cycle {cycle}: {hook} died of SIGKILL without a kill sent: {run:#?}"
        );
        kills_left -= 1;
        tally.kills += 1;
        let what = format!("cycle {cycle}, kill in {hook}");
        // Juju sees a failed hook and will retry it.
        assert_eq!(
            status(&sim).status,
            "error",
            "{what}: the killed hook must count as failed"
        );
        assert_eq!(
            committed(&sim),
            before,
            "{what}: a killed hook committed data"
        );
        // Keys: complete or absent, earlier ones unchanged, adopted ones the legacy bytes.
        let keys = check_keys(&keys_dir, &what);
        assert_kept(&keys_dir, &kept, &what);
        for (name, bytes) in &keys {
            if let Some(legacy) = scenario.adopted.get(name) {
                assert!(bytes == legacy, "{what}: {name} is not the adopted key");
            } else {
                assert!(scenario.adopted.is_empty(), "{what}: {name} is not adopted");
            }
        }
        kept.extend(keys);
        // Every other file is absent or one of its whole versions.
        let mut temps = 0;
        for rel in files_below(&root) {
            let name = rel.file_name().and_then(OsStr::to_str).unwrap_or_default();
            if rel.starts_with(KEYS) {
                continue;
            }
            if is_temp(name) {
                temps += 1;
                continue;
            }
            let allowed = scenario
                .allowed_files
                .get(&rel)
                .unwrap_or_else(|| panic!("{what}: unexpected file {}", rel.display()));
            if !allowed.is_empty() {
                let bytes = fs::read(root.join(&rel)).unwrap();
                assert!(
                    allowed.contains(&bytes),
                    "{what}: {} is torn:\n{}",
                    rel.display(),
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
        if temps > 0 || !temp_files(&keys_dir).is_empty() {
            tally.leftover_temps += 1;
        }
        let keys_changed = DirSnapshot::take(&keys_dir) != keys_before;
        let unit_changed = fs::read(root.join(UNIT_FILE)).ok() != unit_before
            || fs::read_dir(root.join("etc/systemd/system")).is_ok_and(|d| {
                d.flatten()
                    .any(|e| is_temp(&e.file_name().to_string_lossy()))
            });
        *tally
            .landed
            .entry(format!(
                "{hook}/{}",
                landing(&run, keys_changed, unit_changed)
            ))
            .or_default() += 1;
    }
    // The retries ran to the end: converged, the keys that survived kept.
    assert!(sim.error().is_none(), "cycle {cycle}: unit left in error");
    let what = format!("cycle {cycle} after {} kills", kills - kills_left);
    assert_converged(&sim, id, &what);
    let keys = check_keys(&keys_dir, &what);
    assert_eq!(keys.len(), 2, "{what}: keys incomplete");
    assert_kept(&keys_dir, &kept, &what);
    if !scenario.adopted.is_empty() {
        assert_eq!(
            &keys, scenario.adopted,
            "{what}: the legacy keys were not adopted"
        );
    }
    let temps = temp_files(&root);
    assert!(temps.is_empty(), "{what}: temporary files left: {temps:?}");
    tally.cycles += 1;
}

/// Runs kill cycles until `injections` kills were made.
fn kill_campaign(name: &str, scenario: &KillScenario<'_>, injections: u64) -> KillTally {
    let mut rng = rng(name);
    let typical = baseline(scenario);
    let started = Instant::now();
    let mut tally = KillTally::default();
    while tally.kills < injections {
        let kills = 1 + rng.below(5).min(injections - tally.kills - 1);
        kill_cycle(scenario, &typical, kills, &mut rng, &mut tally);
    }
    eprintln!(
        "faults: SIGKILL of dispatch during {name}: {} in {:.1?} (typical hooks {typical:.0?})",
        tally.summary(),
        started.elapsed()
    );
    assert!(
        tally.landed.len() >= 4,
        "kills landed in too few places: {tally:?}"
    );
    tally
}

/// A fresh unit with a `debug-ssh` relation already in the model (its data published by
/// whichever hook converges).
fn fresh_related_unit(charm: &Unpacked) -> (Sim, u32) {
    let mut sim = charm.unit();
    let id = sim
        .add_existing_relation("debug-ssh", "github-runner", &["github-runner/0"], &[])
        .unwrap();
    (sim, id)
}

/// The unit file the charm writes for the default config at [`ADDRESS`].
fn expected_unit_file(charm: &Unpacked) -> Vec<u8> {
    let (mut sim, _) = fresh_related_unit(charm);
    run_hooks(&mut sim, &DEPLOY);
    fs::read(sim.root().join(UNIT_FILE)).unwrap()
}

#[test]
fn sigkill_dispatch_during_deploy() {
    let charm = Unpacked::new();
    let unit_file = expected_unit_file(&charm);
    let allowed = BTreeMap::from([
        (PathBuf::from(UNIT_FILE), vec![unit_file.clone()]),
        (PathBuf::from(LOCK), vec![Vec::new()]),
    ]);
    let scenario = KillScenario {
        hooks: &DEPLOY,
        setup: &|| fresh_related_unit(&charm),
        adopted: &BTreeMap::new(),
        allowed_files: &allowed,
        final_unit_file: Some(&unit_file),
    };
    kill_campaign("deploy", &scenario, scaled(60));
}

/// Generates a key with `ssh-keygen` (as the Python charm did).
fn ssh_keygen_generate(path: &Path, kind: &str) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "root@legacy", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen must be installed (apt openssh-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A unit of the Python charm, about to be refreshed to this one: its keys in
/// `/home/ubuntu/keys` (copied from `legacy`), its unit file, random-named containers, the
/// port open, its relation data published.
fn legacy_unit(charm: &Unpacked, legacy: &Path, legacy_unit_file: &str) -> (Sim, u32) {
    let mut sim = charm.unit();
    let keys = sim.root().join(LEGACY_KEYS);
    copy_files(legacy, &keys, &KEY_FILES);
    fs::create_dir_all(sim.root().join("etc/systemd/system")).unwrap();
    fs::write(sim.root().join(UNIT_FILE), legacy_unit_file).unwrap();
    let legacy_unit_file = legacy_unit_file.to_owned();
    sim.arrange(|st| {
        st.host.packages.insert("docker.io".into());
        let service = st.host.units.entry(TMATE_UNIT.into()).or_default();
        service.loaded = Some(legacy_unit_file.clone());
        service.running = Some(legacy_unit_file.clone());
        service.enabled = true;
        service.active = "active".into();
        st.host.containers = vec![
            Container {
                name: "3f9a1c".into(),
                image: IMAGE.into(),
                state: "running".into(),
            },
            Container {
                name: "b81d07".into(),
                image: IMAGE.into(),
                state: "exited".into(),
            },
        ];
        st.opened_ports.insert("10022/tcp".into());
        st.unit_status = Status::new("active", "");
    })
    .unwrap();
    let rsa = ssh_keygen_fingerprint(&keys.join(format!("{RSA_KEY}.pub")));
    let ed = ssh_keygen_fingerprint(&keys.join(format!("{ED25519_KEY}.pub")));
    let id = sim
        .add_existing_relation(
            "debug-ssh",
            "github-runner",
            &["github-runner/0"],
            &[
                ("host", ADDRESS),
                ("port", "10022"),
                ("rsa_fingerprint", &rsa),
                ("ed25519_fingerprint", &ed),
            ],
        )
        .unwrap();
    (sim, id)
}

#[test]
fn sigkill_dispatch_during_upgrade_from_python_charm() {
    let charm = Unpacked::new();
    let legacy = tempfile::tempdir().unwrap();
    ssh_keygen_generate(&legacy.path().join(RSA_KEY), "rsa");
    ssh_keygen_generate(&legacy.path().join(ED25519_KEY), "ed25519");
    let adopted: BTreeMap<String, Vec<u8>> = [RSA_KEY, ED25519_KEY]
        .iter()
        .map(|n| ((*n).to_owned(), fs::read(legacy.path().join(n)).unwrap()))
        .collect();
    let legacy_unit_file = format!(
        "[Unit]\nDescription=tmate-ssh-server\n[Service]\nExecStart=/usr/bin/docker run --name 3f9a1c --user root --net=host --cap-add SYS_ADMIN -v /home/ubuntu/keys:/keys --entrypoint=/srv/tmate-ssh-server/tmate-ssh-server {IMAGE} -A -h {ADDRESS} -p 10022 -k /keys\n[Install]\nWantedBy=multi-user.target\n"
    );
    let unit_file = expected_unit_file(&charm);
    let mut allowed = BTreeMap::from([
        (
            PathBuf::from(UNIT_FILE),
            vec![unit_file.clone(), legacy_unit_file.clone().into_bytes()],
        ),
        (PathBuf::from(LOCK), vec![Vec::new()]),
    ]);
    for name in KEY_FILES {
        allowed.insert(
            Path::new(LEGACY_KEYS).join(name),
            vec![fs::read(legacy.path().join(name)).unwrap()],
        );
    }
    let setup = || legacy_unit(&charm, legacy.path(), &legacy_unit_file);
    let scenario = KillScenario {
        hooks: &UPGRADE,
        setup: &setup,
        adopted: &adopted,
        allowed_files: &allowed,
        final_unit_file: Some(&unit_file),
    };
    kill_campaign("upgrade", &scenario, scaled(60));
}

// ----- SIGKILL of tmate-keygen init ---------------------------------------------------------

/// What a keys directory holds before a killed `init` (`crash.rs` kills runs that start
/// from nothing).
#[derive(Debug, Clone, Copy)]
enum Start {
    /// The Ed25519 key and its `.pub`.
    Ed25519Only,
    /// The RSA key and its `.pub`.
    RsaOnly,
    /// Both private keys, no `.pub`, the RSA key with mode `0644` (three repairs to make).
    NoPubLoose,
}

const STARTS: [Start; 3] = [Start::Ed25519Only, Start::RsaOnly, Start::NoPubLoose];

/// Where a kill of `init` landed when some but not all of the files it had to write are
/// there, or a temporary file is: the phase the kill campaign must reach.
const MID_WRITE: &str = "mid-write";

/// Sets up `keys` from the complete set in `pool`; returns the private keys present with
/// their bytes and modes.
fn prepare_start(start: Start, pool: &Path, keys: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    let ed = format!("{ED25519_KEY}.pub");
    let rsa = format!("{RSA_KEY}.pub");
    match start {
        Start::Ed25519Only => copy_files(pool, keys, &[ED25519_KEY, &ed]),
        Start::RsaOnly => copy_files(pool, keys, &[RSA_KEY, &rsa]),
        Start::NoPubLoose => {
            copy_files(pool, keys, &[RSA_KEY, ED25519_KEY]);
            fs::set_permissions(keys.join(RSA_KEY), fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    if keys.exists() {
        fs::set_permissions(keys, fs::Permissions::from_mode(0o700)).unwrap();
    }
    [RSA_KEY, ED25519_KEY]
        .iter()
        .filter_map(|name| {
            let path = keys.join(name);
            let meta = fs::metadata(&path).ok()?;
            Some((
                (*name).to_owned(),
                (fs::read(&path).unwrap(), meta.mode() & 0o7777),
            ))
        })
        .collect()
}

fn spawn_init(keys: &Path, rsa_bits: u32) -> Child {
    keygen_cmd([
        OsStr::new("init"),
        "--keys-dir".as_ref(),
        keys.as_os_str(),
        "--rsa-bits".as_ref(),
        rsa_bits.to_string().as_ref(),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn tmate-keygen init")
}

/// `tmate-keygen init --rsa-bits 2048` run to the end.
fn init(keys: &Path) -> Output {
    keygen_cmd([
        OsStr::new("init"),
        "--keys-dir".as_ref(),
        keys.as_os_str(),
        "--rsa-bits".as_ref(),
        "2048".as_ref(),
    ])
    .stdin(Stdio::null())
    .output()
    .expect("run tmate-keygen init")
}

/// A keys directory after a killed `init` that started from `pre`: every key file complete
/// or absent; a key that existed is byte-identical (its mode either the old one or `0600`).
fn check_after_init_kill(
    keys: &Path,
    pre: &BTreeMap<String, (Vec<u8>, u32)>,
    what: &str,
) -> BTreeMap<String, Vec<u8>> {
    // A pre-existing loose key may not be tightened yet: check it at 0600 on a copy.
    let mut loose = Vec::new();
    for (name, (_, mode)) in pre {
        let path = keys.join(name);
        let now = fs::metadata(&path).unwrap().mode() & 0o7777;
        assert!(now == *mode || now == 0o600, "{what}: {name} mode {now:o}");
        if now != 0o600 {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            loose.push((path, now));
        }
    }
    let keys_now = check_keys(keys, what);
    for (path, mode) in loose {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
    for (name, (bytes, _)) in pre {
        assert!(keys_now.get(name) == Some(bytes), "{what}: {name} changed");
    }
    keys_now
}

#[test]
fn sigkill_keygen_init_keeps_existing_keys() {
    let mut rng = rng("sigkill_keygen_init");
    let pool = tempfile::tempdir().unwrap();
    let pool_keys = pool.path().join("keys");
    assert!(init(&pool_keys).status.success());
    // Typical run time from each start: the median of three.
    let typical: Vec<Duration> = STARTS
        .iter()
        .map(|start| {
            let mut times: Vec<Duration> = (0..3)
                .map(|_| {
                    let tmp = tempfile::tempdir().unwrap();
                    let keys = tmp.path().join("keys");
                    prepare_start(*start, &pool_keys, &keys);
                    let started = Instant::now();
                    assert!(spawn_init(&keys, 2048).wait().unwrap().success());
                    started.elapsed()
                })
                .collect();
            times.sort();
            times[1]
        })
        .collect();
    let target = scaled(80);
    let started = Instant::now();
    let mut landed: BTreeMap<&str, u64> = BTreeMap::new();
    let mut kills = 0;
    let mut run = 0;
    while kills < target {
        // About three runs in five die of the kill; the rest exit first. Bounded, so a
        // schedule that stops landing fails instead of looping.
        assert!(
            run < target * 4,
            "too few runs died of SIGKILL: {kills} of {run}"
        );
        // One run in five generates an RSA key (slow: the kill usually lands in the prime
        // search, so aim it at the writes); the others only repair or add the Ed25519 key.
        let which = match run % 5 {
            0 => 0,
            1 | 3 => 1,
            _ => 2,
        };
        let start = STARTS[which];
        let what = format!("run {run} ({start:?})");
        let tmp = tempfile::tempdir().unwrap();
        let keys = tmp.path().join("keys");
        let pre = prepare_start(start, &pool_keys, &keys);
        let to_write: Vec<&str> = KEY_FILES
            .into_iter()
            .filter(|f| !keys.join(f).exists())
            .collect();
        let mut child = spawn_init(&keys, 2048);
        let trigger = if which == 0 || run % 2 == 0 {
            Trigger::NewEntry {
                dir: keys.clone(),
                extra: Duration::from_micros(rng.below(2_000)),
            }
        } else {
            Trigger::After(Duration::from_micros(rng.below(micros(typical[which]) + 1)))
        };
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| trigger.wait(&done));
            while child.try_wait().unwrap().is_none() && !waiter.is_finished() {
                std::thread::sleep(Duration::from_micros(100));
            }
            done.store(true, Ordering::Release);
            // The child may exit between this check and the kill: only its wait status
            // below says whether the kill is what ended it.
            if waiter.join().unwrap() && child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
            }
        });
        let status = child.wait().unwrap();
        let killed = status.signal() == Some(SIGKILL);
        assert!(
            killed || status.success(),
            "{what}: init neither finished nor died of SIGKILL: {status}"
        );
        let survivors = check_after_init_kill(&keys, &pre, &what);
        let written = to_write.iter().filter(|f| keys.join(f).exists()).count();
        let phase = if !killed {
            "exited before the kill"
        } else if written == to_write.len() {
            "all files written"
        } else if written > 0 || !temp_files(&keys).is_empty() {
            MID_WRITE
        } else {
            "nothing written yet"
        };
        kills += u64::from(killed);
        *landed.entry(phase).or_default() += 1;

        // A rerun finishes the job, keeping every key.
        let out = init(&keys);
        assert!(
            out.status.success(),
            "{what}: rerun failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let final_keys = check_keys(&keys, &what);
        assert_eq!(
            final_keys.len(),
            2,
            "{what}: keys incomplete after the rerun"
        );
        assert!(
            KEY_FILES.iter().all(|f| keys.join(f).exists()),
            "{what}: a .pub is missing after the rerun"
        );
        assert_kept(&keys, &survivors, &what);
        assert!(temp_files(&keys).is_empty(), "{what}: temp files left");
        run += 1;
    }
    let mid_write = landed.get(MID_WRITE).copied().unwrap_or(0);
    let landed: Vec<String> = landed.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!(
        "faults: SIGKILL of tmate-keygen init: {kills} runs died of SIGKILL in {run} runs from 3 starting states with keys in {:.1?} (typical {:.0?}); landed: {}",
        started.elapsed(),
        typical,
        landed.join(", ")
    );
    assert!(
        mid_write > 0,
        "no kill landed between the first and the last file written: {}",
        landed.join(", ")
    );
}

// ----- mounts: disk full and read-only ------------------------------------------------------

/// Moves the calling thread into a mount namespace of its own with private propagation: mounts
/// made here are invisible to the machine, reach every process the thread starts, and go away
/// with the thread ([`Mounted`] unmounts them first). Needs root.
fn private_mount_namespace() {
    assert!(
        is_root(),
        "the fault tests mount tmpfs and read-only binds in a private mount namespace: run them as root (CI does)"
    );
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("make the mount namespace private");
}

/// A mount of this test thread, detached on drop.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A `kib` KiB tmpfs on `target` (created).
fn mount_tmpfs(target: &Path, kib: u64) -> Mounted {
    fs::create_dir_all(target).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        Some(format!("size={kib}k,mode=0755").as_str()),
    )
    .expect("mount tmpfs");
    Mounted(target.to_owned())
}

/// `target` bind-mounted read-only on itself: writes fail with EROFS, even for root.
fn bind_read_only(target: &Path) -> Mounted {
    use nix::mount::MsFlags;
    nix::mount::mount(
        Some(target),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind mount");
    let mounted = Mounted(target.to_owned());
    nix::mount::mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .expect("remount read-only");
    mounted
}

/// Fills the file system of `dir` with `dir/filler`, then frees `free_pages` pages of it.
fn fill(dir: &Path, free_pages: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut file = fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(ENOSPC) => break,
            Err(e) => panic!("filling {}: {e}", dir.display()),
        }
    }
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub(free_pages * PAGE)).unwrap();
    path
}

/// The one line `tmate-keygen` printed on a failed run, checked: exit 1, nothing on stdout,
/// a single `tmate-keygen: PATH...: ...` line naming a file under `under` and ending in
/// `os_error`.
fn keygen_failure(out: &Output, under: &Path, os_error: &str, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(out.stdout.is_empty(), "{what}: stdout on failure");
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
    let prefix = format!("tmate-keygen: {}", under.display());
    assert!(
        stderr.starts_with(&prefix) && stderr.trim_end().ends_with(os_error),
        "{what}: {stderr}"
    );
    stderr
}

/// A failure message with the PID of temporary file names replaced by `N`.
fn without_pid(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find(".tmp.") {
        out.push_str(&rest[..i + 5]);
        rest = rest[i + 5..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('N');
    }
    out.push_str(rest);
    out
}

#[test]
fn disk_full_and_read_only_keygen_init_fails_cleanly_keeping_keys() {
    private_mount_namespace();
    let pool = tempfile::tempdir().unwrap();
    let pool_keys = pool.path().join("keys");
    assert!(init(&pool_keys).status.success());
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut injections = 0;
    let starts = [
        None,
        Some(Start::Ed25519Only),
        Some(Start::RsaOnly),
        Some(Start::NoPubLoose),
    ];
    for start in starts {
        for free_pages in 0..=4 {
            let what = format!("{start:?} with {free_pages} free pages");
            let tmp = tempfile::tempdir().unwrap();
            let fs_dir = tmp.path().join("fs");
            let mounted = mount_tmpfs(&fs_dir, 256);
            let keys = fs_dir.join("keys");
            let pre = start.map_or_else(BTreeMap::new, |s| prepare_start(s, &pool_keys, &keys));
            let to_write: Vec<&str> = KEY_FILES
                .into_iter()
                .filter(|f| !keys.join(f).exists())
                .collect();
            let filler = fill(&fs_dir, free_pages);
            injections += 1;
            let out = init(&keys);
            // Every key file fits in one page, and tmpfs allocates whole pages: init has room
            // exactly when there is a free page for each file it must write.
            let room = u64::try_from(to_write.len()).unwrap() <= free_pages;
            let outcome = if out.status.success() {
                assert!(
                    room,
                    "{what}: init wrote {to_write:?} on a full tmpfs: the file system did not fill up"
                );
                assert_eq!(check_keys(&keys, &what).len(), 2, "{what}");
                "ok".to_owned()
            } else {
                assert!(
                    !room,
                    "{what}: init failed with a free page for each of {to_write:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let line =
                    keygen_failure(&out, &keys, "No space left on device (os error 28)", &what);
                assert!(
                    to_write.iter().any(|f| line.contains(f)),
                    "{what}: the error names none of the files to write ({to_write:?}): {line}"
                );
                let line = without_pid(&line);
                line.trim_end()
                    .trim_start_matches("tmate-keygen: ")
                    .replace(&keys.display().to_string(), "KEYS")
            };
            *outcomes.entry(outcome).or_default() += 1;
            check_after_init_kill(&keys, &pre, &what);
            assert!(temp_files(&keys).is_empty(), "{what}: temp files left");
            // Space is back: the next run finishes, keeping every key.
            let kept = check_keys(&keys, &what);
            fs::remove_file(&filler).unwrap();
            assert!(init(&keys).status.success(), "{what}: rerun failed");
            assert_eq!(check_keys(&keys, &what).len(), 2, "{what}");
            assert_kept(&keys, &kept, &what);
            drop(mounted);
        }
        // A read-only keys directory: fine when nothing is to be written, else a clear error.
        let Some(start) = start else { continue };
        let what = format!("{start:?} read-only");
        let tmp = tempfile::tempdir().unwrap();
        let keys = tmp.path().join("keys");
        let pre = prepare_start(start, &pool_keys, &keys);
        let before = DirSnapshot::take(&keys);
        let mounted = bind_read_only(&keys);
        injections += 1;
        let out = init(&keys);
        let line = keygen_failure(&out, &keys, "Read-only file system (os error 30)", &what);
        *outcomes
            .entry(
                without_pid(line.trim_end().trim_start_matches("tmate-keygen: "))
                    .replace(&keys.display().to_string(), "KEYS"),
            )
            .or_default() += 1;
        assert_eq!(
            DirSnapshot::take(&keys),
            before,
            "{what}: the directory changed"
        );
        drop(mounted);
        assert!(init(&keys).status.success(), "{what}: rerun failed");
        check_after_init_kill(&keys, &pre, &what);
    }
    // Complete keys on a read-only directory: nothing to write, so init succeeds.
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    copy_files(&pool_keys, &keys, &KEY_FILES);
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o700)).unwrap();
    let mounted = bind_read_only(&keys);
    injections += 1;
    let out = init(&keys);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    *outcomes
        .entry("ok on a read-only directory, nothing to write".to_owned())
        .or_default() += 1;
    drop(mounted);
    let outcomes: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k:?} {v}")).collect();
    eprintln!(
        "faults: disk full / read-only under tmate-keygen init: {injections} runs; outcomes: {}",
        outcomes.join(", ")
    );
}

/// The `juju-log` ERROR lines of `run`'s hook, if any.
fn error_logs(sim: &Sim, hook: &str) -> Vec<String> {
    sim.state()
        .unwrap()
        .logs
        .iter()
        .filter(|l| l.level == "ERROR" && l.hook == hook)
        .map(|l| l.message.clone())
        .collect()
}

/// A failed hook (non-zero exit, the unit in error) that committed nothing, logged one ERROR
/// line through `juju-log` containing `expected`, and left no temporary file.
fn assert_failed_cleanly(sim: &Sim, run: &HookRun, before: &Committed, expected: &str, what: &str) {
    assert_eq!(run.exit, Some(1), "{what}: {run:#?}");
    assert_eq!(status(sim).status, "error", "{what}");
    assert_eq!(
        &committed(sim),
        before,
        "{what}: a failed hook committed data"
    );
    let errors = error_logs(sim, &run.dispatch_path);
    assert!(
        errors.len() == 1 && errors[0].contains(expected),
        "{what}: expected one juju-log ERROR containing {expected:?}, got {errors:?}"
    );
    let temps = temp_files(&sim.root());
    assert!(temps.is_empty(), "{what}: temporary files left: {temps:?}");
    check_keys(&sim.root().join(KEYS), what);
}

#[test]
fn disk_full_charm_blocks_on_keys_fails_on_other_files_then_converges() {
    private_mount_namespace();
    let charm = Unpacked::new();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let pool = tempfile::tempdir().unwrap();
    let pool_keys = pool.path().join("keys");
    assert!(init(&pool_keys).status.success());
    // The keys' file system is full: blocked naming the file (exit 0, nothing else done),
    // then converged by update-status once space is back.
    for (start, free_pages) in [
        (None, 0),
        (None, 1),
        (None, 2),
        (None, 3),
        (Some(Start::Ed25519Only), 0),
        (Some(Start::Ed25519Only), 1),
        (Some(Start::NoPubLoose), 0),
    ] {
        let what = format!("keys on a full disk from {start:?}, {free_pages} pages free");
        let (mut sim, id) = fresh_related_unit(&charm);
        let state_dir = sim.root().join(STATE_DIR);
        let mounted = mount_tmpfs(&state_dir, 128);
        let keys = sim.root().join(KEYS);
        let pre = start.map_or_else(BTreeMap::new, |s| prepare_start(s, &pool_keys, &keys));
        let filler = fill(&state_dir, free_pages);
        let runs = run_hooks(&mut sim, &DEPLOY);
        let st = sim.state().unwrap();
        let message = st.unit_status.message.clone();
        assert_eq!(st.unit_status.status, "blocked", "{what}: {message}");
        assert!(
            message.starts_with(&format!("host key problem: {}/", keys.display()))
                && message.ends_with("No space left on device (os error 28)"),
            "{what}: {message}"
        );
        *outcomes
            .entry(without_pid(&message).replace(&keys.display().to_string(), "KEYS"))
            .or_default() += 1;
        assert!(runs.iter().all(HookRun::succeeded));
        assert!(
            !sim.root().join(UNIT_FILE).exists(),
            "{what}: went on past the keys"
        );
        assert!(st.opened_ports.is_empty(), "{what}");
        assert_eq!(
            sim.published(id).unwrap(),
            None,
            "{what}: published without keys"
        );
        check_after_init_kill(&keys, &pre, &what);
        let kept = check_keys(&keys, &what);
        assert!(
            temp_files(&sim.root()).is_empty(),
            "{what}: temp files left"
        );
        fs::remove_file(filler).unwrap();
        sim.update_status().unwrap();
        assert_converged(&sim, id, &what);
        assert_kept(&keys, &kept, &what);
        drop(mounted);
    }
    // The unit file's file system is full: the hook fails naming the file, commits nothing,
    // and the retry converges once space is back.
    for free_pages in [0, 1] {
        let what = format!("/etc on a full disk, {free_pages} pages free");
        let (mut sim, id) = fresh_related_unit(&charm);
        let etc = sim.root().join("etc");
        let mounted = mount_tmpfs(&etc, 64);
        fs::create_dir_all(etc.join("systemd/system")).unwrap();
        let filler = fill(&etc, free_pages);
        let before = committed(&sim);
        let run = sim.fire("install").unwrap();
        let unit_file = sim.root().join(UNIT_FILE);
        if run.succeeded() {
            // One free page holds the unit file.
            assert!(free_pages > 0, "{what}: {run:#?}");
            *outcomes.entry("unit file fits".to_owned()).or_default() += 1;
        } else {
            let expected = format!(
                "failed to write {}: No space left on device (os error 28)",
                unit_file.display()
            );
            assert_failed_cleanly(&sim, &run, &before, &expected, &what);
            assert!(!unit_file.exists(), "{what}: unit file half-written");
            *outcomes
                .entry(expected.replace(&sim.root().display().to_string(), "ROOT"))
                .or_default() += 1;
        }
        fs::remove_file(filler).unwrap();
        let rest = if run.succeeded() {
            &DEPLOY[1..]
        } else {
            &DEPLOY[..]
        };
        run_hooks(&mut sim, rest);
        assert_converged(&sim, id, &what);
        drop(mounted);
    }
    let outcomes: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k:?} {v}")).collect();
    eprintln!(
        "faults: disk full under the charm: outcomes: {}",
        outcomes.join(", ")
    );
}

#[test]
fn read_only_charm_files_block_or_fail_then_converge() {
    private_mount_namespace();
    let charm = Unpacked::new();
    // Complete keys on a read-only keys directory: nothing to write there, a port change
    // converges.
    let (mut sim, id) = fresh_related_unit(&charm);
    run_hooks(&mut sim, &DEPLOY);
    let keys = sim.root().join(KEYS);
    let snapshot = DirSnapshot::take(&keys);
    let mounted = bind_read_only(&keys);
    let run = sim
        .set_config(&[("port", serde_json::json!(10023))])
        .unwrap();
    assert!(run.succeeded(), "{run:#?}");
    assert_converged(&sim, id, "read-only complete keys");
    assert_eq!(sim.published(id).unwrap().unwrap().port, 10023);
    drop(mounted);
    assert_eq!(DirSnapshot::take(&keys), snapshot);

    // A key missing on a read-only keys directory: blocked naming the file, exit 0, the other
    // key untouched; converged once writable.
    for name in [RSA_KEY.to_owned(), format!("{RSA_KEY}.pub")] {
        fs::remove_file(keys.join(name)).unwrap();
    }
    let ed = fs::read(keys.join(ED25519_KEY)).unwrap();
    let mounted = bind_read_only(&keys);
    let run = sim.fire("upgrade-charm").unwrap();
    assert!(run.succeeded(), "{run:#?}");
    let message = sim.state().unwrap().unit_status.message;
    assert_eq!(status(&sim).status, "blocked", "{message}");
    // The temporary file the key was to be written to is gone: the key file is named.
    assert_eq!(
        message,
        format!(
            "host key problem: {}: failed to create its temporary file in {}: \
             Read-only file system (os error 30)",
            keys.join(RSA_KEY).display(),
            keys.display()
        )
    );
    drop(mounted);
    sim.update_status().unwrap();
    assert_converged(&sim, id, "after the keys directory is writable again");
    assert_eq!(
        fs::read(keys.join(ED25519_KEY)).unwrap(),
        ed,
        "ed25519 key changed"
    );

    // The charm's state directory read-only on a fresh unit: the lock cannot be created, the
    // hook fails naming it and commits nothing; the retry converges once writable.
    let (mut sim, id) = fresh_related_unit(&charm);
    let state_dir = sim.root().join(STATE_DIR);
    fs::create_dir_all(&state_dir).unwrap();
    let mounted = bind_read_only(&state_dir);
    let before = committed(&sim);
    let run = sim.fire("install").unwrap();
    let expected = format!(
        "failed to open {}: Read-only file system (os error 30)",
        sim.root().join(LOCK).display()
    );
    assert_failed_cleanly(&sim, &run, &before, &expected, "read-only state directory");
    assert!(
        run.calls.iter().all(|c| c.tool == "juju-log"),
        "work done without the lock: {:?}",
        run.calls
    );
    drop(mounted);
    run_hooks(&mut sim, &DEPLOY);
    assert_converged(&sim, id, "after the state directory is writable again");
    eprintln!(
        "faults: read-only under the charm: complete keys converge, a missing key blocks ({}), an unwritable lock fails the hook ({})",
        without_pid(&message).replace(&keys.display().to_string(), "KEYS"),
        expected.replace(&sim.root().display().to_string(), "ROOT")
    );
}

// ----- hostile files ------------------------------------------------------------------------

/// How a keys directory is tampered with; `outside` is a sibling directory for link targets.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    /// The RSA key becomes a symlink to a copy outside (mode `0644`, tempting a repair).
    PrivateKeySymlink,
    /// The Ed25519 key becomes a dangling symlink to a path outside.
    DanglingPrivateKeySymlink,
    /// The RSA `.pub` becomes a symlink to a copy outside.
    PubSymlink,
    /// The directory becomes a symlink to a copy outside (with a loose RSA key).
    DirSymlink,
    /// The directory becomes a symlink to an empty directory outside.
    DirSymlinkToEmpty,
    /// The RSA key belongs to `nobody`.
    PrivateKeyOwner,
    /// The Ed25519 `.pub` belongs to `nobody`.
    PubOwner,
    /// The directory belongs to `nobody`.
    DirOwner,
    /// The directory has mode `0666` (writable by others).
    DirMode,
    /// The RSA key has mode `0666`: repaired to `0600`.
    PrivateKeyMode,
}

const TAMPERS: [Tamper; 10] = [
    Tamper::PrivateKeySymlink,
    Tamper::DanglingPrivateKeySymlink,
    Tamper::PubSymlink,
    Tamper::DirSymlink,
    Tamper::DirSymlinkToEmpty,
    Tamper::PrivateKeyOwner,
    Tamper::PubOwner,
    Tamper::DirOwner,
    Tamper::DirMode,
    Tamper::PrivateKeyMode,
];

/// `nobody`.
const NOBODY: u32 = 65534;

impl Tamper {
    /// Tampers with the complete keys directory `keys`; returns the error message expected
    /// (`None`: repaired) and the path of what was tampered with.
    fn apply(self, keys: &Path, outside: &Path) -> Option<String> {
        let rsa = keys.join(RSA_KEY);
        let moved = |name: &str| {
            fs::create_dir_all(outside).unwrap();
            let target = outside.join(name);
            fs::rename(keys.join(name), &target).unwrap();
            symlink(&target, keys.join(name)).unwrap();
            keys.join(name)
        };
        let symlink_error =
            |path: &Path| format!("{}: is a symlink, refusing to follow it", path.display());
        let owner_error = |path: &Path| {
            format!(
                "{}: owned by uid {NOBODY}, not by the user running this (uid 0), refusing it",
                path.display()
            )
        };
        match self {
            Tamper::PrivateKeySymlink => {
                let link = moved(RSA_KEY);
                fs::set_permissions(outside.join(RSA_KEY), fs::Permissions::from_mode(0o644))
                    .unwrap();
                Some(symlink_error(&link))
            }
            Tamper::DanglingPrivateKeySymlink => {
                let link = keys.join(ED25519_KEY);
                fs::remove_file(&link).unwrap();
                fs::remove_file(keys.join(format!("{ED25519_KEY}.pub"))).unwrap();
                symlink(outside.join("planted"), &link).unwrap();
                Some(symlink_error(&link))
            }
            Tamper::PubSymlink => Some(symlink_error(&moved(&format!("{RSA_KEY}.pub")))),
            Tamper::DirSymlink => {
                fs::set_permissions(&rsa, fs::Permissions::from_mode(0o644)).unwrap();
                fs::rename(keys, outside).unwrap();
                symlink(outside, keys).unwrap();
                Some(symlink_error(keys))
            }
            Tamper::DirSymlinkToEmpty => {
                fs::remove_dir_all(keys).unwrap();
                fs::create_dir_all(outside).unwrap();
                symlink(outside, keys).unwrap();
                Some(symlink_error(keys))
            }
            Tamper::PrivateKeyOwner => {
                std::os::unix::fs::chown(&rsa, Some(NOBODY), Some(NOBODY)).unwrap();
                Some(owner_error(&rsa))
            }
            Tamper::PubOwner => {
                let public = keys.join(format!("{ED25519_KEY}.pub"));
                std::os::unix::fs::chown(&public, Some(NOBODY), None).unwrap();
                Some(owner_error(&public))
            }
            Tamper::DirOwner => {
                std::os::unix::fs::chown(keys, Some(NOBODY), None).unwrap();
                Some(owner_error(keys))
            }
            Tamper::DirMode => {
                fs::set_permissions(keys, fs::Permissions::from_mode(0o666)).unwrap();
                Some(format!(
                    "{}: writable by other users (mode 0666), refusing it",
                    keys.display()
                ))
            }
            Tamper::PrivateKeyMode => {
                fs::set_permissions(&rsa, fs::Permissions::from_mode(0o666)).unwrap();
                None
            }
        }
    }
}

/// Files and directories below `dir` with owner, mode and content (a symlink as its target):
/// "nothing changed, nothing followed" compares two of these.
fn deep_snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let content = if meta.file_type().is_symlink() {
            fs::read_link(&path).unwrap().into_os_string().into_vec()
        } else if meta.is_dir() {
            stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            Vec::new()
        } else {
            fs::read(&path).unwrap()
        };
        out.insert(path, (meta.uid(), meta.mode(), content));
    }
    out
}

#[test]
fn hostile_key_files_are_refused_or_repaired_never_followed_by_keygen() {
    assert!(is_root(), "chown to nobody needs root (CI runs as root)");
    let pool = tempfile::tempdir().unwrap();
    let pool_keys = pool.path().join("keys");
    assert!(init(&pool_keys).status.success());
    let mut refused = 0;
    for tamper in TAMPERS {
        let what = format!("{tamper:?}");
        let tmp = tempfile::tempdir().unwrap();
        let keys = tmp.path().join("keys");
        let outside = tmp.path().join("outside");
        copy_files(&pool_keys, &keys, &KEY_FILES);
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o700)).unwrap();
        let rsa_bytes = fs::read(keys.join(RSA_KEY)).unwrap();
        let expected = tamper.apply(&keys, &outside);
        let before = deep_snapshot(tmp.path());
        let out = init(&keys);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match expected {
            Some(message) => {
                refused += 1;
                assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
                assert_eq!(stderr, format!("tmate-keygen: {message}\n"), "{what}");
                assert_eq!(
                    deep_snapshot(tmp.path()),
                    before,
                    "{what}: something changed"
                );
                assert!(!outside.join("planted").exists(), "{what}: followed");
            }
            None => {
                assert!(out.status.success(), "{what}: {stderr}");
                assert_eq!(
                    stderr,
                    format!(
                        "tmate-keygen: changed the mode of {} from 0666 to 0600\n",
                        keys.join(RSA_KEY).display()
                    ),
                    "{what}"
                );
                assert_eq!(check_keys(&keys, &what).len(), 2);
                assert_eq!(fs::read(keys.join(RSA_KEY)).unwrap(), rsa_bytes, "{what}");
            }
        }
    }
    eprintln!(
        "faults: hostile files under tmate-keygen init: {} cases, {refused} refused with nothing touched (symlinks, other owners, writable directory), 1 repaired (0666 key -> 0600)",
        TAMPERS.len()
    );
}

#[test]
fn hostile_key_files_are_refused_or_repaired_never_followed_by_the_charm() {
    assert!(is_root(), "chown to nobody needs root (CI runs as root)");
    let charm = Unpacked::new();
    let mut refused = 0;
    for tamper in TAMPERS {
        let what = format!("{tamper:?}");
        let (mut sim, id) = fresh_related_unit(&charm);
        run_hooks(&mut sim, &DEPLOY);
        let root = sim.root();
        let keys = root.join(KEYS);
        let outside = root.join("outside");
        let rsa_bytes = fs::read(keys.join(RSA_KEY)).unwrap();
        let published = sim.published(id).unwrap();
        let expected = tamper.apply(&keys, &outside);
        let before = deep_snapshot(&root.join(STATE_DIR));
        let outside_before = deep_snapshot(&outside);
        let run = sim.fire("config-changed").unwrap();
        assert!(run.succeeded(), "{what}: {run:#?}");
        let st = sim.state().unwrap();
        match expected {
            Some(message) => {
                refused += 1;
                assert_eq!(
                    st.unit_status,
                    Status::new("blocked", &format!("host key problem: {message}")),
                    "{what}"
                );
                let mut after = deep_snapshot(&root.join(STATE_DIR));
                let mut before = before.clone();
                // Only the lock file's inode times may change; compare without it.
                after.remove(&root.join(LOCK));
                before.remove(&root.join(LOCK));
                assert_eq!(after, before, "{what}: something changed");
                assert_eq!(deep_snapshot(&outside), outside_before, "{what}: followed");
                assert!(!outside.join("planted").exists(), "{what}: followed");
                assert_eq!(sim.published(id).unwrap(), published, "{what}");
                // The operator removes the bad entry: the next update-status converges.
                let _ = fs::remove_file(&keys).or_else(|_| fs::remove_dir_all(&keys));
                sim.update_status().unwrap();
                assert_converged(&sim, id, &what);
            }
            None => {
                assert_converged(&sim, id, &what);
                assert_eq!(check_keys(&keys, &what).len(), 2);
                assert_eq!(fs::read(keys.join(RSA_KEY)).unwrap(), rsa_bytes, "{what}");
                assert!(
                    st.logs.iter().any(|l| l.message
                        == format!(
                            "host keys: changed mode of {} from 666 to 600",
                            keys.join(RSA_KEY).display()
                        )),
                    "{what}: {:?}",
                    st.logs
                );
            }
        }
    }
    eprintln!(
        "faults: hostile files under the charm: {} cases, {refused} blocked with nothing touched, 1 repaired (0666 key -> 0600)",
        TAMPERS.len()
    );
}

// ----- concurrency --------------------------------------------------------------------------

/// A `dispatch` run started by hand, and what its secret scan compares against.
struct ExecRun {
    child: Child,
    before: HandRun,
}

/// Starts the unit's `dispatch` in `charm_dir` by hand, as `juju exec --unit U -- hooks/HOOK`
/// would, with `env` from [`Sim::exec_environment`] (same root, same state file `store`).
fn exec_dispatch(charm_dir: &Path, env: &[(String, String)], store: &StateFile) -> ExecRun {
    let before = HandRun::before(&store.read().unwrap());
    let child = Command::new(charm_dir.join("dispatch"))
        .current_dir(charm_dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dispatch");
    ExecRun { child, before }
}

/// Waits for `run` as [`wait_bounded`] does, then fails if its stdout, stderr, hook tool
/// calls or files hold private key material: the simulator scans only the hooks it runs.
fn finish_exec(
    run: ExecRun,
    scanner: &SecretScanner,
    store: &StateFile,
    limit: Duration,
    what: &str,
) -> (Output, Duration) {
    let (out, wall) = wait_bounded(run.child, limit, what);
    let findings = run
        .before
        .scan(scanner, &store.read().unwrap(), &out.stdout, &out.stderr);
    assert!(findings.is_empty(), "{what}: {findings:#?}");
    (out, wall)
}

/// Waits for `child` for at most `limit`; panics (after killing it) when it takes longer.
fn wait_bounded(mut child: Child, limit: Duration, what: &str) -> (Output, Duration) {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

#[test]
fn concurrent_dispatch_runs_are_serialised_by_the_lock() {
    let charm = Unpacked::new();

    // 1. A hook holds the lock while network-get hangs for 2 s (then fails: "no address
    // yet"); a juju-exec'd run started meanwhile makes no hook tool call until the hook has
    // exited, then converges; both exit 0.
    let (mut sim, id) = fresh_related_unit(&charm);
    run_hooks(&mut sim, &DEPLOY);
    sim.hang_host_command(&["network-get"], 2).unwrap();
    let store = StateFile::open(&sim.dir().join("state.json"));
    let exec_env = sim.exec_environment("hooks/config-changed").unwrap();
    let charm_dir = sim.charm().dir.clone();
    let scanner = sim.secret_scanner().clone();
    let (hook, (exec_out, exec_wall, calls_while_held, waited)) = std::thread::scope(|scope| {
        let exec = scope.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(30);
            let held_at = loop {
                let st = store.read().unwrap();
                if st.calls.iter().any(|c| {
                    c.tool == "network-get" && c.exit == 1 && c.hook == "hooks/upgrade-charm"
                }) {
                    break st.calls.len();
                }
                assert!(
                    Instant::now() < deadline,
                    "the hook never reached network-get"
                );
                std::thread::sleep(Duration::from_millis(2));
            };
            let spawned = Instant::now();
            let mut exec = exec_dispatch(&charm_dir, &exec_env, &store);
            std::thread::sleep(Duration::from_secs(1));
            let calls_while_held = store.read().unwrap().calls.len() - held_at;
            let waited = exec.child.try_wait().unwrap().is_none();
            let (out, _) = finish_exec(
                exec,
                &scanner,
                &store,
                Duration::from_secs(90),
                "juju exec run",
            );
            (out, spawned.elapsed(), calls_while_held, waited)
        });
        let hook = sim.fire("upgrade-charm").unwrap();
        (hook, exec.join().unwrap())
    });
    assert!(hook.succeeded(), "{hook:#?}");
    assert_eq!(
        calls_while_held, 0,
        "the second run called hook tools while the first held the lock"
    );
    assert!(waited, "the second run did not wait for the lock");
    assert!(
        exec_out.status.success(),
        "juju exec run failed: {}",
        String::from_utf8_lossy(&exec_out.stderr)
    );
    // The exec'd run changed nothing Juju would not have committed: one more hook settles.
    sim.fire("update-status").unwrap();
    assert_converged(&sim, id, "after a hook and a juju exec run");
    assert!(temp_files(&sim.root()).is_empty());
    let serialised = format!(
        "a juju exec run started while a hook held the lock made no hook tool call for 1 s and finished after {exec_wall:.1?}"
    );

    // 2. Random overlaps of an install hook and an exec'd config-changed on a fresh unit:
    // their hook tool calls do not interleave, both exit 0, every file is whole.
    let rounds = scaled(8);
    let mut rng = rng("concurrent_dispatch");
    let mut hook_first = 0;
    for round in 0..rounds {
        let what = format!("overlap round {round}");
        let (mut sim, id) = fresh_related_unit(&charm);
        let exec_env = sim.exec_environment("hooks/config-changed").unwrap();
        let charm_dir = sim.charm().dir.clone();
        let store = StateFile::open(&sim.dir().join("state.json"));
        let scanner = sim.secret_scanner().clone();
        // Either run may start first, by up to 100 ms.
        let delay = Duration::from_micros(rng.below(100_000));
        let (exec_delay, hook_delay) = if round % 2 == 0 {
            (delay, Duration::ZERO)
        } else {
            (Duration::ZERO, delay)
        };
        let (hook, exec_out) = std::thread::scope(|scope| {
            let exec = scope.spawn(|| {
                std::thread::sleep(exec_delay);
                let exec = exec_dispatch(&charm_dir, &exec_env, &store);
                finish_exec(exec, &scanner, &store, Duration::from_secs(90), &what).0
            });
            std::thread::sleep(hook_delay);
            let hook = sim.fire("install").unwrap();
            (hook, exec.join().unwrap())
        });
        assert!(hook.succeeded(), "{what}: {hook:#?}");
        assert!(
            exec_out.status.success(),
            "{what}: exec run failed: {}",
            String::from_utf8_lossy(&exec_out.stderr)
        );
        let calls = sim.state().unwrap().calls;
        let order: Vec<&str> = calls.iter().map(|c| c.hook.as_str()).collect();
        let mut runs = order.clone();
        runs.dedup();
        assert_eq!(
            runs.len(),
            2,
            "{what}: the two runs' hook tool calls interleave: {order:?}"
        );
        if runs[0] == "hooks/install" {
            hook_first += 1;
        }
        let keys = check_keys(&sim.root().join(KEYS), &what);
        assert_eq!(keys.len(), 2, "{what}");
        run_hooks(&mut sim, &DEPLOY[1..]);
        assert_converged(&sim, id, &what);
        assert_kept(&sim.root().join(KEYS), &keys, &what);
        assert!(temp_files(&sim.root()).is_empty(), "{what}");
    }

    // 3. The simulator's own state file under concurrent tool processes: every call lands.
    let (mut sim, _) = fresh_related_unit(&charm);
    sim.arrange(|st| {
        st.hook = Some(HookContext {
            dispatch_path: "hooks/update-status".into(),
            ..HookContext::default()
        });
    })
    .unwrap();
    let state = sim.dir().join("state.json");
    let store = StateFile::open(&state);
    let tools = 40;
    let children: Vec<Child> = (0..tools)
        .map(|n| {
            Command::new(TOOL)
                .arg0("juju-log")
                .args(["--", &format!("concurrent {n}")])
                .env(STATE_ENV, &state)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn juju-log")
        })
        .collect();
    let mut reads = 0;
    for child in children {
        // Readers never see a torn file while writers replace it.
        store.read().expect("state readable while tools write");
        reads += 1;
        assert!(
            wait_bounded(child, Duration::from_secs(30), "juju-log")
                .0
                .status
                .success()
        );
    }
    let logged: BTreeSet<String> = store
        .read()
        .unwrap()
        .logs
        .into_iter()
        .map(|l| l.message)
        .filter(|m| m.starts_with("concurrent "))
        .collect();
    assert_eq!(logged.len(), tools, "lost updates in the state file");
    eprintln!(
        "faults: concurrency: {serialised}; {rounds} random overlaps of a hook and an exec run (hook first {hook_first}), never interleaved, all whole; {tools} concurrent tool processes and {reads} reads on the simulator state, none lost"
    );
}

// ----- failing and hanging tools ------------------------------------------------------------

/// What the charm must do when a tool fails or hangs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The hook fails (non-zero exit), commits nothing, and its retry converges.
    HookFails,
    /// The hook ends in `waiting` with this message prefix (exit 0), and the next
    /// `update-status` converges.
    Waiting(&'static str),
}

/// One tool fault: which tool, in which hook, on what unit.
struct ToolCase {
    /// argv prefix the fault matches.
    argv: &'static [&'static str],
    /// On a fresh unit (`install`) or on a deployed one (a port change, `config-changed`).
    fresh: bool,
    expect: Expect,
}

const TOOL_CASES: &[ToolCase] = &[
    ToolCase {
        argv: &["network-get"],
        fresh: false,
        expect: Expect::Waiting("waiting for an IP address on the juju-info binding"),
    },
    ToolCase {
        argv: &["relation-set"],
        fresh: false,
        expect: Expect::HookFails,
    },
    ToolCase {
        argv: &["apt-get", "update"],
        fresh: true,
        expect: Expect::HookFails,
    },
    ToolCase {
        argv: &["apt-get", "install"],
        fresh: true,
        expect: Expect::HookFails,
    },
    ToolCase {
        argv: &["docker", "ps"],
        fresh: false,
        expect: Expect::HookFails,
    },
    ToolCase {
        argv: &["systemctl", "daemon-reload"],
        fresh: false,
        expect: Expect::HookFails,
    },
    ToolCase {
        argv: &["systemctl", "enable"],
        fresh: true,
        expect: Expect::HookFails,
    },
];

/// Runs one tool fault (`hang`: the tool never answers) and checks the outcome; returns the
/// hook's wall time.
fn tool_fault(
    charm: &Unpacked,
    case: &ToolCase,
    hang: bool,
    deadline: Option<Duration>,
) -> Duration {
    let what = format!(
        "{} {}",
        case.argv.join(" "),
        if hang { "hangs" } else { "fails" }
    );
    let (mut sim, id) = fresh_related_unit(charm);
    if let Some(deadline) = deadline {
        sim.set_hook_env(TIMEOUT_CAP_ENV, &deadline.as_secs().to_string());
    }
    // The simulator's own timeout must not be what ends the hook.
    let bound = deadline.unwrap_or(HOOK_TOOL_DEADLINE) + SLACK;
    sim.set_timeout(bound * 3);
    let hook = if case.fresh {
        "install"
    } else {
        run_hooks(&mut sim, &DEPLOY);
        sim.arrange(|st| {
            st.config.insert("port".into(), serde_json::json!(10023));
        })
        .unwrap();
        "config-changed"
    };
    let unit_before = fs::read(sim.root().join(UNIT_FILE)).ok();
    if hang {
        sim.hang_host_command(case.argv, 3600).unwrap();
    } else {
        sim.fail_host_command(case.argv, 1, "ERROR injected failure\n", Some(1))
            .unwrap();
    }
    let before = committed(&sim);
    let run = sim.fire(hook).unwrap_or_else(|e| panic!("{what}: {e}"));
    let faulted = |c: &[String]| c.len() >= case.argv.len() && c[..case.argv.len()] == *case.argv;
    assert!(
        run.calls.iter().any(|c| {
            let mut argv = vec![c.tool.clone()];
            argv.extend(c.args.iter().cloned());
            faulted(&argv)
        }) || run.host_calls.iter().any(|c| faulted(&c.argv)),
        "{what}: the faulty tool was not called"
    );
    assert!(
        run.exit.is_some(),
        "{what}: the simulator's timeout ended the hook"
    );
    assert!(
        run.wall < bound,
        "{what}: took {:?}, bound {bound:?}",
        run.wall
    );
    if hang {
        assert!(
            run.wall >= deadline.unwrap_or(HOOK_TOOL_DEADLINE),
            "{what}: ended before the deadline ({:?})",
            run.wall
        );
    }
    // No partial files whatever happened.
    check_keys(&sim.root().join(KEYS), &what);
    assert!(
        temp_files(&sim.root()).is_empty(),
        "{what}: temporary files left"
    );
    if let Some(unit) = fs::read(sim.root().join(UNIT_FILE))
        .ok()
        .filter(|_| !case.fresh)
    {
        let whole = Some(&unit) == unit_before.as_ref()
            || String::from_utf8_lossy(&unit).contains(" -p 10023 ");
        assert!(whole, "{what}: unit file torn");
    }
    match case.expect {
        Expect::HookFails => {
            assert_ne!(run.exit, Some(0), "{what}");
            assert_eq!(status(&sim).status, "error", "{what}");
            assert_eq!(committed(&sim), before, "{what}: committed data");
            let errors = error_logs(&sim, &run.dispatch_path);
            assert!(
                errors.len() == 1 && errors[0].contains(&case.argv.join(" ")),
                "{what}: {errors:?}"
            );
            // Juju retries the hook (and goes on with the deployment).
            run_hooks(
                &mut sim,
                if case.fresh {
                    &DEPLOY
                } else {
                    &["config-changed"]
                },
            );
        }
        Expect::Waiting(prefix) => {
            assert_eq!(run.exit, Some(0), "{what}");
            let st = sim.state().unwrap();
            assert_eq!(st.unit_status.status, "waiting", "{what}");
            assert!(
                st.unit_status.message.starts_with(prefix),
                "{what}: {:?}",
                st.unit_status
            );
            assert_eq!(
                st.opened_ports, before.ports,
                "{what}: ports changed while waiting"
            );
            // update-status retries (and the deployment goes on).
            sim.update_status().unwrap();
            if case.fresh {
                run_hooks(&mut sim, &DEPLOY[1..]);
            }
        }
    }
    assert_converged(&sim, id, &what);
    if !case.fresh {
        assert_eq!(sim.published(id).unwrap().unwrap().port, 10023, "{what}");
    }
    run.wall
}

#[test]
fn failing_and_hanging_tools_are_bounded_and_commit_nothing() {
    let charm = Unpacked::new();
    let mut summary = Vec::new();
    for case in TOOL_CASES {
        tool_fault(&charm, case, false, Some(CAP));
        let wall = tool_fault(&charm, case, true, Some(CAP));
        summary.push(format!("{} {wall:.1?}", case.argv.join(" ")));
    }
    if long() {
        // The real deadlines: 60 s for hook tools and docker.
        for case in TOOL_CASES
            .iter()
            .filter(|c| matches!(c.argv[0], "network-get" | "docker"))
        {
            let deadline = if case.argv[0] == "docker" {
                DOCKER_DEADLINE
            } else {
                HOOK_TOOL_DEADLINE
            };
            let wall = tool_fault(&charm, case, true, None);
            assert!(wall >= deadline);
            summary.push(format!(
                "{} at the real deadline {wall:.1?}",
                case.argv.join(" ")
            ));
        }
    }
    eprintln!(
        "faults: tool failures: {} tools failing and hanging (deadline capped at {CAP:?}); hung hooks ended after: {}",
        TOOL_CASES.len(),
        summary.join(", ")
    );
}
