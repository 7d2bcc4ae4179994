//! Support for the host key tests (`openssh`, `keygen_cli`, `crash`): the `tmate-keygen`
//! binary, the OpenSSH tools, directory snapshots, an `sshd` guard.
//!
//! # How the tests find `tmate-keygen`
//!
//! A package's integration tests only get `CARGO_BIN_EXE_*` for its own binaries, and the
//! tests package has none. So [`keygen_bin`] runs `cargo build -p tmate-keygen` once per test
//! process (the profile follows the test build: release when `debug_assertions` is off) and
//! takes the executable path from cargo's JSON messages, so `CARGO_TARGET_DIR` and build
//! settings are honoured. Set `TMATE_KEYGEN_BIN=/path/to/tmate-keygen` to test a prebuilt
//! binary instead (and skip the nested build). A missing binary or a failed build panics:
//! these tests never skip.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    reason = "test support: a failed expectation is a test failure"
)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Environment variable naming a prebuilt `tmate-keygen` to test.
pub const KEYGEN_BIN_ENV: &str = "TMATE_KEYGEN_BIN";
/// The sshd binary from Debian's `openssh-server`.
pub const SSHD: &str = "/usr/sbin/sshd";
/// Private host key file names (as in `tmate_keys`).
pub const RSA_KEY: &str = "ssh_host_rsa_key";
/// Private host key file names (as in `tmate_keys`).
pub const ED25519_KEY: &str = "ssh_host_ed25519_key";
/// The four files `init` creates.
pub const KEY_FILES: [&str; 4] = [
    "ssh_host_rsa_key",
    "ssh_host_rsa_key.pub",
    "ssh_host_ed25519_key",
    "ssh_host_ed25519_key.pub",
];

/// Path of the `tmate-keygen` binary under test (built on first use).
///
/// # Panics
///
/// If the build fails or cargo reports no executable.
pub fn keygen_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os(KEYGEN_BIN_ENV) {
            let bin = PathBuf::from(bin);
            assert!(
                bin.is_file(),
                "{KEYGEN_BIN_ENV}={} is not a file",
                bin.display()
            );
            return bin;
        }
        build_keygen()
    })
}

/// `cargo build -p tmate-keygen`, returning the executable cargo reports.
fn build_keygen() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "tmate-keygen", "--bin", "tmate-keygen"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .expect("failed to run cargo to build tmate-keygen");
    assert!(
        out.status.success(),
        "cargo build -p tmate-keygen failed: {}",
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == "tmate-keygen"
            && let Some(exe) = msg["executable"].as_str()
        {
            return PathBuf::from(exe);
        }
    }
    panic!("cargo build -p tmate-keygen reported no executable");
}

/// A `Command` for `tmate-keygen ARGS`.
pub fn keygen_cmd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(keygen_bin());
    cmd.args(args);
    cmd
}

/// Runs `tmate-keygen ARGS` with no stdin and returns its output (any status).
pub fn keygen<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    keygen_cmd(args)
        .stdin(Stdio::null())
        .output()
        .expect("failed to run tmate-keygen")
}

/// Runs `tmate-keygen ARGS`, asserts success and empty stderr, returns stdout.
pub fn keygen_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = keygen(&args);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "tmate-keygen {args:?} failed: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Path of a required external tool, searched in `PATH` and the sbin directories.
///
/// # Panics
///
/// With an install hint when the tool is missing: tests that need it fail, never skip.
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(PathBuf::from),
    );
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    let package = match name {
        "ssh-keygen" | "ssh-keyscan" => "openssh-client",
        "sshd" => "openssh-server",
        "unshare" => "util-linux",
        "mount" => "mount",
        "script" => "bsdutils",
        "timeout" => "coreutils",
        _ => name,
    };
    panic!("required tool `{name}` not found: install the Debian package {package}");
}

/// Runs `tool ARGS` (found with [`require_tool`]) with optional stdin, returns its output.
pub fn run_tool(tool: &str, args: &[&OsStr], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(require_tool(tool));
    cmd.args(args);
    run_with_stdin(&mut cmd, stdin)
}

/// Runs `cmd` feeding it `stdin` (or nothing) and collects its output.
pub fn run_with_stdin(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    use std::io::Write as _;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("failed to run {cmd:?}: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let input = input.to_vec();
        // A writer thread: the child may fill stdout before it has read all of stdin.
        let writer = std::thread::spawn(move || pipe.write_all(&input));
        let out = child.wait_with_output().expect("wait");
        writer.join().expect("writer thread").expect("write stdin");
        out
    } else {
        child.wait_with_output().expect("wait")
    }
}

/// Asserts `out` succeeded and returns its stdout as text.
pub fn stdout_ok(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// `ssh-keygen ARGS`, asserted successful; returns stdout.
pub fn ssh_keygen(args: &[&OsStr]) -> String {
    let out = run_tool("ssh-keygen", args, None);
    stdout_ok(&format!("ssh-keygen {args:?}"), &out)
}

/// `ssh-keygen -y -f KEY` run on a copy of `key` alone in a fresh directory, so that
/// OpenSSH cannot take anything from a neighbouring `.pub` file.
pub fn ssh_keygen_public(key: &Path) -> String {
    let alone = tempfile::tempdir().expect("tempdir");
    let copy = alone.path().join("key");
    fs::copy(key, &copy).expect("copy key");
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o600)).expect("chmod");
    ssh_keygen(&["-y".as_ref(), "-f".as_ref(), copy.as_os_str()])
}

/// One entry of a [`DirSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file: mode bits and content.
    File {
        /// `st_mode & 0o7777`.
        mode: u32,
        /// Full content.
        content: Vec<u8>,
    },
    /// A directory and its mode bits.
    Dir {
        /// `st_mode & 0o7777`.
        mode: u32,
    },
    /// A symbolic link and its target.
    Symlink {
        /// The link target.
        target: PathBuf,
    },
}

/// Every file under a directory (recursively) with mode and content, for "nothing
/// changed" assertions. The root itself is included as `""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSnapshot(pub BTreeMap<PathBuf, Entry>);

impl DirSnapshot {
    /// Snapshots `root` (which may be a file, a symlink or missing).
    pub fn take(root: &Path) -> Self {
        let mut map = BTreeMap::new();
        snapshot_into(root, Path::new(""), &mut map);
        Self(map)
    }

    /// File names (relative) present in the snapshot, excluding the root.
    pub fn names(&self) -> Vec<String> {
        self.0
            .keys()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.display().to_string())
            .collect()
    }
}

fn snapshot_into(path: &Path, rel: &Path, map: &mut BTreeMap<PathBuf, Entry>) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    let mode = meta.mode() & 0o7777;
    if meta.file_type().is_symlink() {
        let target = fs::read_link(path).expect("readlink");
        map.insert(rel.to_owned(), Entry::Symlink { target });
    } else if meta.is_dir() {
        map.insert(rel.to_owned(), Entry::Dir { mode });
        for entry in fs::read_dir(path).expect("read_dir") {
            let entry = entry.expect("dir entry");
            snapshot_into(&entry.path(), &rel.join(entry.file_name()), map);
        }
    } else {
        let content = fs::read(path).expect("read file");
        map.insert(rel.to_owned(), Entry::File { mode, content });
    }
}

/// Mode bits of `path` (not following symlinks).
pub fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .mode()
        & 0o7777
}

/// Whether this process runs as root (read from `/proc/self/status`, no libc needed).
pub fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

/// A `Command` that runs `program ARGS` in a private mount namespace where `dir` is a
/// read-only bind mount of itself: writes under `dir` fail with EROFS even for root (root
/// ignores permission bits, so `chmod 0500` proves nothing in CI). Non-root users get a
/// user namespace mapping them to root (`unshare --map-root-user`).
pub fn in_readonly_dir(dir: &Path, program: &Path, args: &[&OsStr]) -> Command {
    let mut cmd = Command::new(require_tool("unshare"));
    if !is_root() {
        cmd.arg("--map-root-user");
    }
    cmd.args(["--mount", "--propagation", "private", "--"])
        .arg(require_tool("sh"))
        .arg("-c")
        .arg(r#"mount -o bind,ro "$1" "$1" && shift && exec "$@""#)
        .arg("sh")
        .arg(dir)
        .arg(program)
        .args(args);
    cmd
}

/// A free TCP port on 127.0.0.1 (bound then released; good enough for a test).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A running `sshd -D -e` on 127.0.0.1, killed on drop.
pub struct Sshd {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    /// Its config file (kept for error messages).
    pub config: PathBuf,
    _dir: tempfile::TempDir,
}

/// Longest time sshd may live (a safety net should a test process die without `Drop`).
const SSHD_LIFETIME: &str = "120";
/// How long to wait for sshd to accept connections.
const SSHD_STARTUP: Duration = Duration::from_secs(15);

impl Sshd {
    /// Starts sshd on 127.0.0.1 serving exactly `host_keys`.
    ///
    /// # Panics
    ///
    /// If sshd is missing, exits, or does not listen within 15 seconds (`SSHD_STARTUP`).
    pub fn start(host_keys: &[&Path]) -> Self {
        let sshd = require_tool("sshd");
        assert_eq!(sshd, Path::new(SSHD), "sshd must be run by absolute path");
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").expect("create /run/sshd (tests run as root)");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nPidFile none\nUsePAM no\n\
             AuthorizedKeysFile none\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             LogLevel INFO\n"
        );
        for key in host_keys {
            config.push_str(&format!("HostKey {}\n", key.display()));
        }
        let config_path = dir.path().join("sshd_config");
        fs::write(&config_path, config).expect("write sshd_config");
        // `sshd -t` first: a bad config or an unloadable key fails with sshd's own words.
        let check = Command::new(&sshd)
            .arg("-t")
            .arg("-f")
            .arg(&config_path)
            .output()
            .expect("run sshd -t");
        assert!(
            check.status.success(),
            "sshd -t rejected the config or keys: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let mut child = Command::new(require_tool("timeout"))
            .arg(SSHD_LIFETIME)
            .arg(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sshd");
        let stderr = child.stderr.take().expect("stderr pipe");
        // sshd says "Server listening on 127.0.0.1 port N." once its socket is bound.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            let mut log = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                log.push_str(&line);
                if line.contains("Server listening on") {
                    let _ = tx.send(Ok(()));
                }
                line.clear();
            }
            let _ = tx.send(Err(log));
        });
        let deadline = Instant::now() + SSHD_STARTUP;
        let mut sshd = Self {
            child,
            port,
            config: config_path,
            _dir: dir,
        };
        match rx.recv_timeout(SSHD_STARTUP) {
            Ok(Ok(())) => {}
            Ok(Err(log)) => panic!("sshd exited before listening:\n{log}"),
            Err(_) => panic!("sshd did not listen within {SSHD_STARTUP:?}"),
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "sshd is not accepting on {addr}");
            if let Ok(Some(status)) = sshd.child.try_wait() {
                panic!("sshd exited: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // SIGTERM to `timeout` is forwarded to sshd; SIGKILL would orphan sshd.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a whole file as UTF-8 text.
pub fn read_text(path: &Path) -> String {
    let mut text = String::new();
    fs::File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text
}

/// A small xorshift PRNG for test schedules (not for keys); seed it from the clock and
/// print the seed so a failing schedule can be replayed.
#[derive(Debug, Clone)]
pub struct TestRng(u64);

impl TestRng {
    /// From `seed` (0 is replaced, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// A seed from the environment variable `var` if set, else from the clock.
    pub fn seed_from_env(var: &str) -> u64 {
        std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish value in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
