//! The machine the charm manages: files, apt, systemd, Docker and the host keys, behind one
//! trait; [`SystemHost`] is the real implementation (argv-built processes with deadlines,
//! every path under the charm root).
//!
//! Paths given to [`Host`] are the real paths (`/etc/docker/daemon.json`); the implementation
//! decides where they live.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Proxies;
use crate::error::Error;
use crate::names::{APT_INSTALL_TIMEOUT, APT_UPDATE_TIMEOUT, DOCKER_TIMEOUT, SYSTEMCTL_TIMEOUT};
use crate::process::Cmd;

/// `systemctl` verbs that take a unit and must succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Systemctl {
    /// `enable`.
    Enable,
    /// `disable`.
    Disable,
    /// `restart`.
    Restart,
    /// `try-restart` (only if running).
    TryRestart,
    /// `stop`.
    Stop,
    /// `reset-failed`.
    ResetFailed,
}

impl Systemctl {
    /// The verb on the command line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Systemctl::Enable => "enable",
            Systemctl::Disable => "disable",
            Systemctl::Restart => "restart",
            Systemctl::TryRestart => "try-restart",
            Systemctl::Stop => "stop",
            Systemctl::ResetFailed => "reset-failed",
        }
    }
}

/// What `systemctl is-active` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActiveState {
    /// `active`.
    Active,
    /// `activating` (starting, or waiting for an automatic restart).
    Activating,
    /// `failed`: systemd gave up (e.g. the start limit was hit).
    Failed,
    /// `inactive`, `deactivating` or anything else.
    Other(String),
}

impl ActiveState {
    fn parse(text: &str) -> ActiveState {
        match text.trim() {
            "active" => ActiveState::Active,
            "activating" => ActiveState::Activating,
            "failed" => ActiveState::Failed,
            other => ActiveState::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ActiveState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActiveState::Active => "active",
            ActiveState::Activating => "activating",
            ActiveState::Failed => "failed",
            ActiveState::Other(s) if s.is_empty() => "unknown",
            ActiveState::Other(s) => s,
        })
    }
}

/// One line of `docker ps --all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Container {
    /// The container name.
    pub(crate) name: String,
    /// The image it runs.
    pub(crate) image: String,
    /// `running`, `exited`, `created`, ...
    pub(crate) state: String,
}

/// The two host key fingerprints (`SHA256:...`; public, nothing secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprints {
    /// RSA key.
    pub(crate) rsa: String,
    /// Ed25519 key.
    pub(crate) ed25519: String,
}

/// What [`Host::ensure_keys`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeysReport {
    /// The keys now on disk.
    pub(crate) fingerprints: Fingerprints,
    /// One line per file created or repaired (for the log; paths only).
    pub(crate) changes: Vec<String>,
}

/// The machine, as the charm sees it.
pub(crate) trait Host {
    /// Reads a text file; `None` if it does not exist.
    fn read_file(&self, path: &str) -> Result<Option<String>, Error>;
    /// Replaces a file atomically (temporary file, fsync, rename) with `mode`, creating parent
    /// directories.
    fn write_file(&self, path: &str, contents: &str, mode: u32) -> Result<(), Error>;
    /// Removes a file; `false` if it did not exist.
    fn remove_file(&self, path: &str) -> Result<bool, Error>;
    /// Clears the permission bits of an existing file that `mode` does not have (`0644` with
    /// `0600` becomes `0600`; `0400` stays); returns the old mode when it changed, `None` when
    /// the file is missing or already that strict.
    fn restrict_mode(&self, path: &str, mode: u32) -> Result<Option<u32>, Error>;
    /// `dpkg-query -W -f=${Status} PACKAGE` says `install ok installed`.
    fn package_installed(&self, package: &str) -> Result<bool, Error>;
    /// `apt-get update` with the proxies in the environment.
    fn apt_update(&self, proxies: &Proxies) -> Result<(), Error>;
    /// `apt-get install -y --no-install-recommends PACKAGE` with the proxies in the environment.
    fn apt_install(&self, package: &str, proxies: &Proxies) -> Result<(), Error>;
    /// `systemctl daemon-reload`.
    fn daemon_reload(&self) -> Result<(), Error>;
    /// `systemctl VERB UNIT`.
    fn systemctl(&self, verb: Systemctl, unit: &str) -> Result<(), Error>;
    /// `systemctl is-active UNIT`.
    fn is_active(&self, unit: &str) -> Result<ActiveState, Error>;
    /// `systemctl is-enabled UNIT`.
    fn is_enabled(&self, unit: &str) -> Result<bool, Error>;
    /// `docker ps --all --format {{.Names}}\t{{.Image}}\t{{.State}}`.
    fn docker_ps(&self) -> Result<Vec<Container>, Error>;
    /// `docker rm --force NAME`.
    fn docker_rm(&self, name: &str) -> Result<(), Error>;
    /// Copies valid keys from `from` for every kind missing in `dir` (never overwrites);
    /// returns the kinds adopted (`rsa`, `ed25519`).
    fn adopt_keys(&self, dir: &str, from: &str) -> Result<Vec<String>, Error>;
    /// Whether `ensure_keys` would have to generate a key.
    fn keys_missing(&self, dir: &str) -> Result<bool, Error>;
    /// Creates only the missing keys, never overwrites, verifies both.
    fn ensure_keys(&self, dir: &str) -> Result<KeysReport, Error>;
    /// Loads and verifies both keys without writing; `None` if a key is missing.
    fn load_keys(&self, dir: &str) -> Result<Option<Fingerprints>, Error>;
}

/// The real machine, with every path under `root`.
#[derive(Debug, Clone)]
pub(crate) struct SystemHost {
    root: PathBuf,
}

impl SystemHost {
    /// A host whose filesystem starts at `root` (`/` under Juju).
    pub(crate) fn new(root: PathBuf) -> SystemHost {
        SystemHost { root }
    }

    /// `path` under the root.
    pub(crate) fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn keys(&self, dir: &str) -> tmate_keys::HostKeys {
        tmate_keys::HostKeys::new(self.path(dir))
    }
}

fn key_error(err: tmate_keys::Error) -> Error {
    Error::HostKeys(Box::new(err))
}

fn fingerprints(keys: &tmate_keys::LoadedKeys) -> Fingerprints {
    Fingerprints {
        rsa: keys.rsa.sha256.to_string(),
        ed25519: keys.ed25519.sha256.to_string(),
    }
}

/// Mode of directories the charm creates for its files.
const DIR_MODE: u32 = 0o755;

impl Host for SystemHost {
    fn read_file(&self, path: &str) -> Result<Option<String>, Error> {
        let full = self.path(path);
        match fs::read(&full) {
            Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
                Error::io("read", &full, io::Error::new(io::ErrorKind::InvalidData, e))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", full, e)),
        }
    }

    fn write_file(&self, path: &str, contents: &str, mode: u32) -> Result<(), Error> {
        let full = self.path(path);
        let dir = full.parent().unwrap_or(Path::new("/"));
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|e| Error::io("create directory", dir, e))?;
        let name = full
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        remove_stale_temps(dir, &name)?;
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(mode)
                .open(&tmp)?;
            file.write_all(contents.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &full)?;
            File::open(dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io("write", &full, e)
        })
    }

    fn remove_file(&self, path: &str) -> Result<bool, Error> {
        let full = self.path(path);
        match fs::remove_file(&full) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("remove", full, e)),
        }
    }

    fn restrict_mode(&self, path: &str, mode: u32) -> Result<Option<u32>, Error> {
        use std::os::unix::fs::PermissionsExt;
        let full = self.path(path);
        let old = match fs::metadata(&full) {
            Ok(meta) => meta.permissions().mode() & 0o7777,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("stat", full, e)),
        };
        let new = old & mode;
        if new == old {
            return Ok(None);
        }
        fs::set_permissions(&full, fs::Permissions::from_mode(new))
            .map_err(|e| Error::io("change the mode of", full, e))?;
        Ok(Some(old))
    }

    fn package_installed(&self, package: &str) -> Result<bool, Error> {
        let out = Cmd::new(
            ["dpkg-query", "-W", "-f=${Status}", package],
            DOCKER_TIMEOUT,
        )
        .output()?;
        Ok(out.code == Some(0) && out.stdout.trim() == "install ok installed")
    }

    fn apt_update(&self, proxies: &Proxies) -> Result<(), Error> {
        apt(
            ["apt-get", "update"].as_slice(),
            APT_UPDATE_TIMEOUT,
            proxies,
        )
    }

    fn apt_install(&self, package: &str, proxies: &Proxies) -> Result<(), Error> {
        apt(
            [
                "apt-get",
                "install",
                "-y",
                "--no-install-recommends",
                package,
            ]
            .as_slice(),
            APT_INSTALL_TIMEOUT,
            proxies,
        )
    }

    fn daemon_reload(&self) -> Result<(), Error> {
        Cmd::new(["systemctl", "daemon-reload"], SYSTEMCTL_TIMEOUT).run()?;
        Ok(())
    }

    fn systemctl(&self, verb: Systemctl, unit: &str) -> Result<(), Error> {
        Cmd::new(["systemctl", verb.as_str(), unit], SYSTEMCTL_TIMEOUT).run()?;
        Ok(())
    }

    fn is_active(&self, unit: &str) -> Result<ActiveState, Error> {
        // Exit status 3 (LSB "not running") is an answer, not a failure.
        let out = Cmd::new(["systemctl", "is-active", unit], SYSTEMCTL_TIMEOUT).output()?;
        Ok(ActiveState::parse(&out.stdout))
    }

    fn is_enabled(&self, unit: &str) -> Result<bool, Error> {
        let out = Cmd::new(["systemctl", "is-enabled", unit], SYSTEMCTL_TIMEOUT).output()?;
        Ok(out.code == Some(0) && out.stdout.trim() == "enabled")
    }

    fn docker_ps(&self) -> Result<Vec<Container>, Error> {
        let out = Cmd::new(
            [
                "docker",
                "ps",
                "--all",
                "--format",
                "{{.Names}}\t{{.Image}}\t{{.State}}",
            ],
            DOCKER_TIMEOUT,
        )
        .run()?;
        Ok(parse_docker_ps(&out.stdout))
    }

    fn docker_rm(&self, name: &str) -> Result<(), Error> {
        Cmd::new(["docker", "rm", "--force", name], DOCKER_TIMEOUT).run()?;
        Ok(())
    }

    fn adopt_keys(&self, dir: &str, from: &str) -> Result<Vec<String>, Error> {
        let adopted = self
            .keys(dir)
            .adopt_from(&self.keys(from))
            .map_err(key_error)?;
        Ok(adopted.iter().map(ToString::to_string).collect())
    }

    fn keys_missing(&self, dir: &str) -> Result<bool, Error> {
        Ok(!self.keys(dir).missing().map_err(key_error)?.is_empty())
    }

    fn ensure_keys(&self, dir: &str) -> Result<KeysReport, Error> {
        let options = tmate_keys::EnsureOptions::default();
        let report = self
            .keys(dir)
            .ensure(&options, &mut tmate_keys::os_rng())
            .map_err(key_error)?;
        let mut changes: Vec<String> = report
            .created
            .iter()
            .map(|p| format!("created {}", p.display()))
            .collect();
        for repair in &report.repaired {
            changes.push(match repair {
                tmate_keys::Repair::RecreatedPublicKey(p) => format!("recreated {}", p.display()),
                tmate_keys::Repair::TightenedMode { path, old_mode } => {
                    format!(
                        "changed mode of {} from {old_mode:o} to 600",
                        path.display()
                    )
                }
                tmate_keys::Repair::RemovedStaleTemp(p) => format!("removed stale {}", p.display()),
            });
        }
        Ok(KeysReport {
            fingerprints: fingerprints(&report.keys),
            changes,
        })
    }

    fn load_keys(&self, dir: &str) -> Result<Option<Fingerprints>, Error> {
        match self.keys(dir).load() {
            Ok(keys) => Ok(Some(fingerprints(&keys))),
            Err(tmate_keys::Error::Missing { .. }) => Ok(None),
            Err(e) => Err(key_error(e)),
        }
    }
}

/// Removes the temporary files `.NAME.tmp-PID` that a run killed in [`Host::write_file`] left
/// next to `name` in `dir` (runs hold the dispatch lock, so none is in use).
fn remove_stale_temps(dir: &Path, name: &str) -> Result<(), Error> {
    let prefix = format!(".{name}.tmp-");
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let file_name = entry.file_name();
        let is_stale = file_name.to_str().is_some_and(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        });
        if is_stale {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
        }
    }
    Ok(())
}

fn apt(argv: &[&str], timeout: Duration, proxies: &Proxies) -> Result<(), Error> {
    let mut cmd = Cmd::new(argv.iter().copied(), timeout).env("DEBIAN_FRONTEND", "noninteractive");
    for (name, value) in proxies.env_vars() {
        cmd = cmd.env(name, value);
    }
    cmd.run().map_err(Error::Apt)?;
    Ok(())
}

fn parse_docker_ps(text: &str) -> Vec<Container> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.splitn(3, '\t');
            let mut next = || fields.next().unwrap_or_default().trim().to_owned();
            Container {
                name: next(),
                image: next(),
                state: next(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_live_under_the_root() {
        let host = SystemHost::new(PathBuf::from("/tmp/r"));
        assert_eq!(
            host.path("/etc/docker/daemon.json"),
            PathBuf::from("/tmp/r/etc/docker/daemon.json")
        );
        let host = SystemHost::new(PathBuf::from("/"));
        assert_eq!(host.path("/etc/x"), PathBuf::from("/etc/x"));
    }

    #[test]
    fn write_read_remove_round_trip_with_mode() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let host = SystemHost::new(tmp.path().to_owned());
        assert_eq!(host.read_file("/etc/a/b.conf").unwrap(), None);
        host.write_file("/etc/a/b.conf", "one\n", 0o600).unwrap();
        host.write_file("/etc/a/b.conf", "two\n", 0o644).unwrap();
        assert_eq!(
            host.read_file("/etc/a/b.conf").unwrap().as_deref(),
            Some("two\n")
        );
        let mode = fs::metadata(tmp.path().join("etc/a/b.conf"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        let leftovers: Vec<_> = fs::read_dir(tmp.path().join("etc/a")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        assert!(host.remove_file("/etc/a/b.conf").unwrap());
        assert!(!host.remove_file("/etc/a/b.conf").unwrap());
    }

    #[test]
    fn restrict_mode_only_clears_bits() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let host = SystemHost::new(tmp.path().to_owned());
        let mode = |rel: &str| {
            fs::metadata(tmp.path().join(rel))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(host.restrict_mode("/etc/missing", 0o600).unwrap(), None);
        host.write_file("/etc/loose", "x\n", 0o644).unwrap();
        assert_eq!(
            host.restrict_mode("/etc/loose", 0o600).unwrap(),
            Some(0o644)
        );
        assert_eq!(mode("etc/loose"), 0o600);
        assert_eq!(host.restrict_mode("/etc/loose", 0o600).unwrap(), None);
        host.write_file("/etc/strict", "x\n", 0o400).unwrap();
        assert_eq!(host.restrict_mode("/etc/strict", 0o600).unwrap(), None);
        assert_eq!(mode("etc/strict"), 0o400, "never loosened");
        host.write_file("/etc/wide", "x\n", 0o666).unwrap();
        fs::set_permissions(
            tmp.path().join("etc/wide"),
            fs::Permissions::from_mode(0o4777),
        )
        .unwrap();
        assert_eq!(
            host.restrict_mode("/etc/wide", 0o600).unwrap(),
            Some(0o4777)
        );
        assert_eq!(mode("etc/wide"), 0o600);
    }

    #[test]
    fn write_removes_temp_files_a_killed_run_left() {
        let tmp = tempfile::tempdir().unwrap();
        let host = SystemHost::new(tmp.path().to_owned());
        let dir = tmp.path().join("etc/a");
        fs::create_dir_all(&dir).unwrap();
        for name in [
            ".b.conf.tmp-12345",
            ".b.conf.tmp-",
            ".b.conf.tmp-x1",
            ".c.conf.tmp-7",
        ] {
            fs::write(dir.join(name), "torn").unwrap();
        }
        host.write_file("/etc/a/b.conf", "whole\n", 0o644).unwrap();
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".b.conf.tmp-", ".b.conf.tmp-x1", ".c.conf.tmp-7", "b.conf"],
            "only the stale temp files of b.conf are removed"
        );
    }

    #[test]
    fn docker_ps_lines() {
        let text = "tmate-ssh-server\tghcr.io/canonical/tmate-ssh-server:0.1.1\trunning\nfoo_bar\tghcr.io/canonical/tmate-ssh-server:0.1.0\texited\n\n";
        assert_eq!(
            parse_docker_ps(text),
            vec![
                Container {
                    name: "tmate-ssh-server".into(),
                    image: "ghcr.io/canonical/tmate-ssh-server:0.1.1".into(),
                    state: "running".into()
                },
                Container {
                    name: "foo_bar".into(),
                    image: "ghcr.io/canonical/tmate-ssh-server:0.1.0".into(),
                    state: "exited".into()
                },
            ]
        );
    }

    #[test]
    fn active_states() {
        assert_eq!(ActiveState::parse("active\n"), ActiveState::Active);
        assert_eq!(ActiveState::parse("activating\n"), ActiveState::Activating);
        assert_eq!(ActiveState::parse("failed\n"), ActiveState::Failed);
        assert_eq!(
            ActiveState::parse("inactive\n"),
            ActiveState::Other("inactive".into())
        );
        assert_eq!(ActiveState::parse("").to_string(), "unknown");
    }

    #[test]
    fn real_keys_are_generated_once_and_adopted_verbatim() {
        let tmp = tempfile::tempdir().unwrap();
        let host = SystemHost::new(tmp.path().to_owned());
        assert_eq!(host.load_keys("/legacy").unwrap(), None);
        assert!(host.keys_missing("/legacy").unwrap());
        let legacy = host.ensure_keys("/legacy").unwrap();
        assert_eq!(legacy.changes.len(), 4);
        assert!(legacy.fingerprints.rsa.starts_with("SHA256:"));
        assert_eq!(
            host.adopt_keys("/new", "/legacy").unwrap(),
            vec!["rsa", "ed25519"]
        );
        let adopted = host.ensure_keys("/new").unwrap();
        assert!(adopted.changes.is_empty());
        assert_eq!(adopted.fingerprints, legacy.fingerprints);
        assert_eq!(host.load_keys("/new").unwrap(), Some(legacy.fingerprints));
        assert!(host.adopt_keys("/new", "/legacy").unwrap().is_empty());
    }

    #[test]
    fn corrupt_key_is_reported_with_its_path_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let host = SystemHost::new(tmp.path().to_owned());
        host.write_file("/k/ssh_host_rsa_key", "garbage\n", 0o600)
            .unwrap();
        let err = host.ensure_keys("/k").unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("host key problem: "), "{message}");
        assert!(
            message.contains("/k/ssh_host_rsa_key: not an OpenSSH private key"),
            "{message}"
        );
        assert_eq!(
            host.read_file("/k/ssh_host_rsa_key").unwrap().as_deref(),
            Some("garbage\n")
        );
        assert_eq!(
            host.read_file("/k/ssh_host_ed25519_key").unwrap(),
            None,
            "nothing generated"
        );
    }
}
