//! Crash safety of `tmate-keygen init`: SIGKILL at many points of a run (random delays across
//! the generation window, plus kills timed to the moment the first file appears). After every
//! kill each key file present must be complete and valid (`ssh-keygen -y` reads it, our loader
//! reads it, its `.pub` agrees), no leftover is mistaken for a key, and a rerun finishes the
//! job keeping the keys that survived. Set `TMATE_CRASH_SEED` to replay a schedule.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed expectation is a test failure"
)]

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tmate_tests::keys_support::{
    DirSnapshot, Entry, KEY_FILES, TestRng, keygen_cmd, keygen_ok, ssh_keygen_public,
};

/// Killed runs always made.
const MIN_RUNS: u64 = 100;
/// Killed runs made when time allows (see [`TIME_BUDGET`]).
const MAX_RUNS: u64 = 200;
/// Runs beyond [`MIN_RUNS`] start only within this time: a loaded machine (all tests in
/// parallel on 2 cores) makes each run several times slower.
const TIME_BUDGET: Duration = Duration::from_secs(25);
/// Environment variable holding a seed to replay.
const SEED_ENV: &str = "TMATE_CRASH_SEED";
/// Every `BIG_RSA_EVERY`-th run generates a 3072-bit key (the default) instead of 2048.
const BIG_RSA_EVERY: u64 = 10;
/// Every `FIRST_FILE_EVERY`-th run is killed right after the first file appears, to land in
/// the short write phase more often than random delays do.
const FIRST_FILE_EVERY: u64 = 3;

/// Where a kill landed, judged from the files it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No key file yet (the directory may exist, possibly with a temp file).
    BeforeAnyKey,
    /// Some key files, not all four.
    Partial,
    /// All four key files.
    Complete,
}

fn spawn_init(keys: &Path, rsa_bits: u64) -> Child {
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

/// Median wall time of an uninterrupted `init --rsa-bits 2048` into a fresh directory.
fn typical_run_time() -> Duration {
    let mut times = Vec::new();
    for _ in 0..5 {
        let tmp = tempfile::tempdir().expect("tempdir");
        let start = Instant::now();
        let status = spawn_init(&tmp.path().join("keys"), 2048)
            .wait()
            .expect("wait");
        assert!(status.success());
        times.push(start.elapsed());
    }
    times.sort();
    times[2]
}

/// A private key that survived a kill: file name, bytes, and the public line
/// `ssh-keygen -y` derives from it.
type Survivor = (String, Vec<u8>, String);

/// Checks the state a kill left; returns the phase, the private keys present and the names
/// of leftover temp files.
fn check_after_kill(keys: &Path, run: u64) -> (Phase, Vec<Survivor>, Vec<String>) {
    let snapshot = DirSnapshot::take(keys);
    let mut survivors = Vec::new();
    let mut key_files = 0;
    let mut leftovers = Vec::new();
    for (path, entry) in &snapshot.0 {
        let name = path.display().to_string();
        if name.is_empty() {
            continue;
        }
        if KEY_FILES.contains(&name.as_str()) {
            key_files += 1;
            let Entry::File { mode, content } = entry else {
                panic!("run {run}: {name} is not a regular file: {entry:?}");
            };
            if name.ends_with(".pub") {
                assert_eq!(*mode, 0o644, "run {run}: {name} mode");
                let private = name.trim_end_matches(".pub");
                assert!(
                    snapshot.0.contains_key(Path::new(private)),
                    "run {run}: {name} exists without its private key"
                );
            } else {
                assert_eq!(*mode, 0o600, "run {run}: {name} mode");
                let file = keys.join(&name);
                // Complete and valid for OpenSSH ...
                let public = ssh_keygen_public(&file);
                // ... and for our own loader.
                let listed = keygen_ok([OsStr::new("fingerprint"), file.as_os_str()]);
                assert!(listed.contains(" SHA256:"), "run {run}: {listed}");
                if let Some(Entry::File {
                    content: pub_content,
                    ..
                }) = snapshot.0.get(Path::new(&format!("{name}.pub")))
                {
                    assert_eq!(
                        String::from_utf8_lossy(pub_content),
                        public,
                        "run {run}: {name}.pub does not match"
                    );
                }
                survivors.push((name.clone(), content.clone(), public));
            }
        } else {
            // Anything else must be one of our temp files (`.NAME.tmp.PID`), never a key name.
            let is_temp = name.starts_with('.')
                && KEY_FILES
                    .iter()
                    .any(|key| name.starts_with(&format!(".{key}.tmp.")));
            assert!(is_temp, "run {run}: unexpected file {name}");
            leftovers.push(name);
        }
    }
    let phase = match key_files {
        0 => Phase::BeforeAnyKey,
        4 => Phase::Complete,
        _ => Phase::Partial,
    };
    (phase, survivors, leftovers)
}

#[test]
fn sigkill_during_init_never_leaves_a_broken_key() {
    let seed = TestRng::seed_from_env(SEED_ENV);
    eprintln!("crash test seed: {SEED_ENV}={seed}");
    let mut rng = TestRng::new(seed);
    let window = typical_run_time();
    // Spread kills over the whole run and past it (runs vary with the machine's load).
    let max_delay_us = u64::try_from(window.as_micros()).expect("fits") * 15 / 10 + 1;
    let mut counts = [0u32; 3];
    let mut exited_first = 0;
    let mut with_leftovers = 0;
    let started = Instant::now();
    let mut run = 0;
    while run < MIN_RUNS || (run < MAX_RUNS && started.elapsed() < TIME_BUDGET) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let keys = tmp.path().join("keys");
        let rsa_bits = if run % BIG_RSA_EVERY == BIG_RSA_EVERY - 1 {
            3072
        } else {
            2048
        };
        let mut child = spawn_init(&keys, rsa_bits);
        if run % FIRST_FILE_EVERY == 0 {
            // Kill as the first file (temp or key) appears, plus up to 2 ms.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline
                && child.try_wait().expect("try_wait").is_none()
                && fs::read_dir(&keys).map_or(true, |mut d| d.next().is_none())
            {
                std::thread::sleep(Duration::from_micros(50));
            }
            std::thread::sleep(Duration::from_micros(rng.below(2_000)));
        } else {
            std::thread::sleep(Duration::from_micros(rng.below(max_delay_us)));
        }
        if child.try_wait().expect("try_wait").is_some() {
            exited_first += 1;
        } else {
            child.kill().expect("SIGKILL");
        }
        child.wait().expect("wait");

        let (phase, survivors, leftovers) = check_after_kill(&keys, run);
        counts[phase as usize] += 1;
        if !leftovers.is_empty() {
            with_leftovers += 1;
        }

        // A rerun finishes the job and keeps every key that survived.
        let out = keygen_cmd([
            OsStr::new("init"),
            "--keys-dir".as_ref(),
            keys.as_os_str(),
            "--rsa-bits".as_ref(),
            "2048".as_ref(),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("rerun");
        assert!(
            out.status.success(),
            "run {run}: rerun failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Leftover temp files are removed, and said so.
        let stderr = String::from_utf8_lossy(&out.stderr);
        for name in &leftovers {
            let note = format!(
                "tmate-keygen: removed {}, left by an interrupted run\n",
                keys.join(name).display()
            );
            assert!(stderr.contains(&note), "run {run}: {stderr}");
        }
        let after = DirSnapshot::take(&keys);
        let mut expected: Vec<String> = KEY_FILES.map(str::to_owned).to_vec();
        expected.sort();
        assert_eq!(after.names(), expected, "run {run}: files after the rerun");
        for (name, content, public) in survivors {
            assert_eq!(
                fs::read(keys.join(&name)).expect("read"),
                content,
                "run {run}: {name} changed"
            );
            assert_eq!(
                fs::read_to_string(keys.join(format!("{name}.pub"))).expect("read .pub"),
                public,
                "run {run}: {name}.pub"
            );
        }
        run += 1;
    }
    eprintln!(
        "crash test: {run} runs in {:.1?} (typical init {window:.1?}); kills landed: \
         before any key file {}, after some key files {}, complete {} (of which the process \
         had already exited: {exited_first}); runs that left a temp file: {with_leftovers}",
        started.elapsed(),
        counts[Phase::BeforeAnyKey as usize],
        counts[Phase::Partial as usize],
        counts[Phase::Complete as usize],
    );
    // The schedule must reach both ends of the run, or it tested nothing.
    assert!(
        counts[Phase::BeforeAnyKey as usize] > 0,
        "no kill before the first key file"
    );
    assert!(
        counts[Phase::Partial as usize] > 0,
        "no kill between the first key file and the last (seed {seed})"
    );
    assert!(counts[Phase::Complete as usize] > 0, "no run completed");
}
