//! In-memory fakes of the `HookTools` and `Host` traits for the unit tests and the benchmarks: a
//! model state in, an event, a model state out, with every hook tool call and host change
//! recorded. [`FakeUnit`] runs a hook of the real charm code against them.
//!
//! Not a stable API: it is public only so `tmate-benches` can run a reconcile in-process.
// The unit tests read everything the fakes record; a benchmark only runs them.
#![cfg_attr(
    not(test),
    allow(dead_code, reason = "the records are read by the unit tests")
)]

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::config::Proxies;
use crate::context::{ENV_DISPATCH_PATH, ENV_UNIT_NAME, JujuContext};
use crate::error::Error;
use crate::host::{ActiveState, Container, Fingerprints, Host, KeysReport, Systemctl};
use crate::juju::{
    BindAddress, Databag, HookToolError, HookTools, InterfaceAddress, LogLevel, NetworkInfo,
    Status, ToolResult,
};
use crate::names::KEYS_DIR;
use crate::process::{Argv, CommandError};

/// `ssh-keygen -t rsa -b 3072` public key: what the fake generates.
pub const RSA_PUB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDm9kZCnTId8yyT6efCQhHjxS8cLo4KmWYb8sMlBg27Csx5XfpR2TJpW6rRR1WwEz1nRLWa8QArBghDw3kBnC6itA58GXrRYhDcs6RFWLAYL4dV02Lx8zFrwyVTu0vpDthv0aXbgvJf59PGdIDmrtJmGVidnLjKlfkd7O1ZogE5DDu+K0+jNoHsTjHFSrvNMcbGzH74xJ1GzL9civiBbBFm5qwQCVqF0J7MHDpbCdYMtp7VmMmbq9gdbIekyh2a9PyUwfK4hGNWRlVpc/++iW/XQHF5td5Ab53oIDH6sg4smh+ptD7PsOrEuccDbU9MAqvrW3YUWbkenryCCUEqBu/koYeaetGDLQjK98936xfMciyYSh5SAJxsd53D79QMN8spUuZYYqI/xX6nyOgz2hIKyk4yK/OWMyS5l8JvtEd3VFsSvrMSNEZnPavTx1KM3l6Y5Obf96jpoEFwuzc7uL2qL5Yvid8IgajI8jAPYKBU6y+zCHYCpbCACNvvZ6f+Es0=\n";
/// Its fingerprint, from `ssh-keygen -l -E sha256`.
pub const RSA_FP: &str = "SHA256:1Neuli53oIX7kZTebWXDFLos6/K0OBursvMZjtdOEfk";
/// `ssh-keygen -t ed25519` public key: what the fake generates.
pub const ED25519_PUB: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOO6fL/malEX/wnh2M6oDTWYa0kkQE3QA000sfjM4jKT\n";
/// Its fingerprint, from `ssh-keygen -l -E sha256`.
pub const ED25519_FP: &str = "SHA256:5b2eNkzcK2J7wuSL9cvvCwnh7zlMjzfOz4Z8uniyxTI";
/// The Python charm's RSA key (`/home/ubuntu/keys`).
pub(crate) const LEGACY_RSA_PUB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDYUJHRJADkMjgfetHAci/rT423qZ9om2s7OrWjFeyQKICMBupSFs8Ebu+y6zSqD1Ojj9ZJZTrHOHn4sMsjYyeEDvPjjnjXmPTGVTDnfenwVAS3OuGjsJdMHzVrFHh5BuDHizRrjL6TpcJHEFd2qwFjGFsfUONLLelqgE9TIEO9GUqkUvA7NY21+bciNgWpgLhzwYivSsL8PuIKS10Va7wX+AaKKcsUcrv+Uesgf/6jy6gw9MZWzxr6Tgc4q8VEXywMty+CC6s4FXha8dAZX00B96gUasLcMf/KzCFv8HKf7sz3bUlk/91293wei7dILyNFSu6MsO7o14yYwmZ97Gld legacy\n";
/// Its fingerprint.
pub(crate) const LEGACY_RSA_FP: &str = "SHA256:uAaDBidoLiLS9es1umAM/xzEtIyxOLHlgOPV9IvgwGY";
/// The Python charm's Ed25519 key.
pub(crate) const LEGACY_ED25519_PUB: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKj6qOrO/27JvvaqMS9Y6vl11Koztx819S7kstoenUSm legacy\n";
/// Its fingerprint.
pub(crate) const LEGACY_ED25519_FP: &str = "SHA256:oQ59k51SWDgQNUZ217qL9fEUbJk/LrnDuH+QeBBdT7I";

/// What the fake Juju agent holds.
#[derive(Debug, Default)]
pub(crate) struct Model {
    /// `config-get` output.
    pub(crate) config: serde_json::Map<String, serde_json::Value>,
    /// `network-get juju-info`; `None` makes it fail.
    pub(crate) network: Option<NetworkInfo>,
    /// Charm state.
    pub(crate) state: BTreeMap<String, String>,
    /// Opened ports.
    pub(crate) opened: Vec<String>,
    /// This unit's databag per relation id.
    pub(crate) relations: BTreeMap<String, Databag>,
    /// Every status set, in order.
    pub(crate) statuses: Vec<Status>,
    /// Every juju-log line.
    pub(crate) logs: Vec<(LogLevel, String)>,
    /// Every hook tool call, by command name.
    pub(crate) calls: Vec<String>,
    /// `action-set` results.
    pub(crate) results: Vec<(String, String)>,
    /// `action-fail` message.
    pub(crate) failure: Option<String>,
    /// A hook tool that fails when called (as `relation-get` does for a gone relation).
    pub(crate) fail_on: Option<&'static str>,
}

/// A fake Juju agent.
#[derive(Debug, Default)]
pub struct FakeJuju {
    /// Its state.
    pub(crate) model: RefCell<Model>,
}

impl FakeJuju {
    /// A model where `network-get` answers `address`.
    #[must_use]
    pub fn with_address(address: &str) -> FakeJuju {
        let juju = FakeJuju::default();
        juju.set_address(Some(address));
        juju
    }

    /// Sets (or removes) the bind address.
    pub(crate) fn set_address(&self, address: Option<&str>) {
        let bind_addresses = address
            .map(|a| BindAddress {
                addresses: vec![InterfaceAddress {
                    value: Some(a.to_owned()),
                    ..InterfaceAddress::default()
                }],
            })
            .into_iter()
            .collect();
        self.model.borrow_mut().network = Some(NetworkInfo {
            bind_addresses,
            ..NetworkInfo::default()
        });
    }

    fn call(&self, name: &str) -> ToolResult<()> {
        let mut m = self.model.borrow_mut();
        m.calls.push(name.to_owned());
        if m.fail_on == Some(name) {
            return Err(tool_error(name));
        }
        Ok(())
    }

    /// Hook tool calls so far, by command name (`config-get`, ...).
    #[must_use]
    pub fn calls(&self) -> Vec<String> {
        self.model.borrow().calls.clone()
    }

    /// Forgets the calls, statuses and logs recorded so far.
    pub fn reset_record(&self) {
        let mut m = self.model.borrow_mut();
        m.calls.clear();
        m.statuses.clear();
        m.logs.clear();
    }

    /// The last status set.
    pub(crate) fn status(&self) -> Option<Status> {
        self.model.borrow().statuses.last().cloned()
    }

    /// This unit's bag on `relation_id`.
    pub(crate) fn bag(&self, relation_id: &str) -> Databag {
        self.model
            .borrow()
            .relations
            .get(relation_id)
            .cloned()
            .unwrap_or_default()
    }
}

fn tool_error(argv: &str) -> HookToolError {
    HookToolError::Command(CommandError::Failed {
        argv: Argv(argv.split(' ').map(str::to_owned).collect()),
        code: Some(1),
        stdout: String::new(),
        stderr: "ERROR fake failure".to_owned(),
    })
}

impl HookTools for FakeJuju {
    fn status_set(&self, status: &Status) -> ToolResult<()> {
        self.call("status-set")?;
        self.model.borrow_mut().statuses.push(status.clone());
        Ok(())
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> ToolResult<()> {
        self.call("juju-log")?;
        self.model
            .borrow_mut()
            .logs
            .push((level, message.to_owned()));
        Ok(())
    }

    fn network_get(&self, binding: &str) -> ToolResult<NetworkInfo> {
        self.call("network-get")?;
        assert_eq!(binding, "juju-info");
        self.model
            .borrow()
            .network
            .clone()
            .ok_or_else(|| tool_error("network-get juju-info"))
    }

    fn relation_ids(&self, endpoint: &str) -> ToolResult<Vec<String>> {
        self.call("relation-ids")?;
        assert_eq!(endpoint, "debug-ssh");
        Ok(self.model.borrow().relations.keys().cloned().collect())
    }

    fn relation_get(&self, relation_id: &str, unit: &str) -> ToolResult<Databag> {
        self.call("relation-get")?;
        assert_eq!(unit, UNIT_NAME);
        self.model
            .borrow()
            .relations
            .get(relation_id)
            .cloned()
            .ok_or_else(|| tool_error("relation-get"))
    }

    fn relation_set(&self, relation_id: &str, settings: &Databag) -> ToolResult<()> {
        self.call("relation-set")?;
        let mut m = self.model.borrow_mut();
        let bag = m
            .relations
            .get_mut(relation_id)
            .ok_or_else(|| tool_error("relation-set"))?;
        for (key, value) in settings {
            if value.is_empty() {
                bag.remove(key);
            } else {
                bag.insert(key.clone(), value.clone());
            }
        }
        Ok(())
    }

    fn open_port(&self, port: u16) -> ToolResult<()> {
        self.call("open-port")?;
        self.model.borrow_mut().opened.push(format!("{port}/tcp"));
        Ok(())
    }

    fn close_port(&self, spec: &str) -> ToolResult<()> {
        self.call("close-port")?;
        self.model.borrow_mut().opened.retain(|s| s != spec);
        Ok(())
    }

    fn opened_ports(&self) -> ToolResult<Vec<String>> {
        self.call("opened-ports")?;
        Ok(self.model.borrow().opened.clone())
    }

    fn config_get(&self) -> ToolResult<serde_json::Map<String, serde_json::Value>> {
        self.call("config-get")?;
        Ok(self.model.borrow().config.clone())
    }

    fn action_set(&self, results: &[(&str, &str)]) -> ToolResult<()> {
        self.call("action-set")?;
        for (key, _) in results {
            let ok = key.split('.').all(|seg| {
                !seg.is_empty()
                    && !seg.starts_with('-')
                    && !seg.ends_with('-')
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
            assert!(ok, "action-set key {key:?} would be rejected by Juju");
        }
        let mut m = self.model.borrow_mut();
        m.results.extend(
            results
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Ok(())
    }

    fn action_fail(&self, message: &str) -> ToolResult<()> {
        self.call("action-fail")?;
        self.model.borrow_mut().failure = Some(message.to_owned());
        Ok(())
    }

    fn state_get(&self) -> ToolResult<BTreeMap<String, String>> {
        self.call("state-get")?;
        Ok(self.model.borrow().state.clone())
    }

    fn state_set(&self, values: &BTreeMap<String, String>) -> ToolResult<()> {
        self.call("state-set")?;
        let mut m = self.model.borrow_mut();
        for (key, value) in values {
            // As Juju's state-set: an empty value deletes the key.
            if value.is_empty() {
                m.state.remove(key);
            } else {
                m.state.insert(key.clone(), value.clone());
            }
        }
        Ok(())
    }
}

/// What the fake machine holds.
#[derive(Debug)]
pub(crate) struct Machine {
    /// Files by real path.
    pub(crate) files: BTreeMap<String, String>,
    /// Their modes (a file put in place without one has `0644`).
    pub(crate) modes: BTreeMap<String, u32>,
    /// docker.io installed.
    pub(crate) docker_installed: bool,
    /// apt-get fails.
    pub(crate) apt_fails: bool,
    /// The tmate unit's state.
    pub(crate) active: ActiveState,
    /// The tmate unit is enabled.
    pub(crate) enabled: bool,
    /// `systemctl restart` of the tmate unit fails.
    pub(crate) restart_fails: bool,
    /// The state `systemctl restart` leaves the unit in.
    pub(crate) after_restart: ActiveState,
    /// Docker containers.
    pub(crate) containers: Vec<Container>,
    /// Every change made, in order (`write PATH`, `systemctl restart UNIT`, ...).
    pub(crate) changes: Vec<String>,
    /// Read-only queries made (`is-active`, `dpkg-query`, ...).
    pub(crate) queries: Vec<String>,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            files: BTreeMap::new(),
            modes: BTreeMap::new(),
            docker_installed: false,
            apt_fails: false,
            active: ActiveState::Other("inactive".into()),
            enabled: false,
            restart_fails: false,
            after_restart: ActiveState::Active,
            containers: Vec::new(),
            changes: Vec::new(),
            queries: Vec::new(),
        }
    }
}

/// A fake machine.
#[derive(Debug, Default)]
pub struct FakeHost {
    /// Its state.
    pub(crate) machine: RefCell<Machine>,
}

/// Private key content of a fake key (no real key material in the fakes).
const FAKE_PRIVATE: &str = "FAKE PRIVATE KEY";

impl FakeHost {
    fn change(&self, what: String) {
        self.machine.borrow_mut().changes.push(what);
    }

    fn query(&self, what: &str) {
        self.machine.borrow_mut().queries.push(what.to_owned());
    }

    /// Changes made so far (`write PATH MODE`, `systemctl restart UNIT`, ...).
    #[must_use]
    pub fn changes(&self) -> Vec<String> {
        self.machine.borrow().changes.clone()
    }

    /// Forgets the changes and queries recorded so far.
    pub fn reset_record(&self) {
        let mut m = self.machine.borrow_mut();
        m.changes.clear();
        m.queries.clear();
    }

    /// A file's content.
    pub(crate) fn file(&self, path: &str) -> Option<String> {
        self.machine.borrow().files.get(path).cloned()
    }

    /// A file's mode.
    pub(crate) fn mode(&self, path: &str) -> Option<u32> {
        let m = self.machine.borrow();
        m.files
            .contains_key(path)
            .then(|| m.modes.get(path).copied().unwrap_or(0o644))
    }

    /// Puts a file in place without recording a change (mode `0644`).
    pub(crate) fn put(&self, path: &str, content: &str) {
        let mut m = self.machine.borrow_mut();
        m.files.insert(path.to_owned(), content.to_owned());
        m.modes.remove(path);
    }

    /// Puts a fake key pair in `dir` (private keys are a placeholder, never key material).
    pub fn put_keys(&self, dir: &str, rsa_pub: &str, ed25519_pub: &str) {
        self.put(&format!("{dir}/ssh_host_rsa_key"), FAKE_PRIVATE);
        self.put(&format!("{dir}/ssh_host_rsa_key.pub"), rsa_pub);
        self.put(&format!("{dir}/ssh_host_ed25519_key"), FAKE_PRIVATE);
        self.put(&format!("{dir}/ssh_host_ed25519_key.pub"), ed25519_pub);
    }

    fn check_private(&self, path: &str) -> Result<bool, Error> {
        match self.file(path) {
            None => Ok(false),
            Some(text) if text == FAKE_PRIVATE => Ok(true),
            Some(_) => Err(Error::HostKeys(
                format!("{path}: not an OpenSSH private key").into(),
            )),
        }
    }

    fn fingerprints(&self, dir: &str) -> Result<Fingerprints, Error> {
        let fp = |kind: &str| -> Result<String, Error> {
            let path = format!("{dir}/ssh_host_{kind}_key.pub");
            let line = self
                .file(&path)
                .ok_or_else(|| Error::HostKeys(format!("{path}: missing").into()))?;
            tmate_keys::fingerprint_line(&line, tmate_keys::HashAlg::Sha256)
                .map(|f| f.to_string())
                .map_err(|e| Error::HostKeys(Box::new(e)))
        };
        Ok(Fingerprints {
            rsa: fp("rsa")?,
            ed25519: fp("ed25519")?,
        })
    }
}

const KINDS: [(&str, &str); 2] = [("rsa", RSA_PUB), ("ed25519", ED25519_PUB)];

impl Host for FakeHost {
    fn read_file(&self, path: &str) -> Result<Option<String>, Error> {
        Ok(self.file(path))
    }

    fn write_file(&self, path: &str, contents: &str, mode: u32) -> Result<(), Error> {
        self.put(path, contents);
        self.machine
            .borrow_mut()
            .modes
            .insert(path.to_owned(), mode);
        self.change(format!("write {path} {mode:o}"));
        Ok(())
    }

    fn remove_file(&self, path: &str) -> Result<bool, Error> {
        let mut m = self.machine.borrow_mut();
        let existed = m.files.remove(path).is_some();
        m.modes.remove(path);
        drop(m);
        self.change(format!("remove {path}"));
        Ok(existed)
    }

    fn restrict_mode(&self, path: &str, mode: u32) -> Result<Option<u32>, Error> {
        let Some(old) = self.mode(path) else {
            return Ok(None);
        };
        if old & mode == old {
            return Ok(None);
        }
        self.machine
            .borrow_mut()
            .modes
            .insert(path.to_owned(), old & mode);
        self.change(format!("chmod {path} {:o}", old & mode));
        Ok(Some(old))
    }

    fn package_installed(&self, package: &str) -> Result<bool, Error> {
        assert_eq!(package, "docker.io");
        self.query("dpkg-query");
        Ok(self.machine.borrow().docker_installed)
    }

    fn apt_update(&self, _proxies: &Proxies) -> Result<(), Error> {
        self.change("apt-get update".into());
        if self.machine.borrow().apt_fails {
            return Err(Error::Apt(CommandError::Failed {
                argv: Argv(vec!["apt-get".into(), "update".into()]),
                code: Some(100),
                stdout: String::new(),
                stderr: "E: Could not resolve archive.ubuntu.com".into(),
            }));
        }
        Ok(())
    }

    fn apt_install(&self, package: &str, _proxies: &Proxies) -> Result<(), Error> {
        self.change(format!("apt-get install {package}"));
        self.machine.borrow_mut().docker_installed = true;
        Ok(())
    }

    fn daemon_reload(&self) -> Result<(), Error> {
        self.change("systemctl daemon-reload".into());
        Ok(())
    }

    fn systemctl(&self, verb: Systemctl, unit: &str) -> Result<(), Error> {
        self.change(format!("systemctl {} {unit}", verb.as_str()));
        let mut m = self.machine.borrow_mut();
        if unit == "tmate-ssh-server.service" {
            match verb {
                Systemctl::Enable => m.enabled = true,
                Systemctl::Disable => m.enabled = false,
                Systemctl::Stop => m.active = ActiveState::Other("inactive".into()),
                Systemctl::ResetFailed => {
                    if m.active == ActiveState::Failed {
                        m.active = ActiveState::Other("inactive".into());
                    }
                }
                Systemctl::Restart | Systemctl::TryRestart => {
                    if m.restart_fails {
                        m.active = ActiveState::Failed;
                        return Err(Error::Command(CommandError::Failed {
                            argv: Argv(vec!["systemctl".into(), "restart".into(), unit.into()]),
                            code: Some(1),
                            stdout: String::new(),
                            stderr: "Job for tmate-ssh-server.service failed.".into(),
                        }));
                    }
                    m.active = m.after_restart.clone();
                }
            }
        }
        Ok(())
    }

    fn is_active(&self, unit: &str) -> Result<ActiveState, Error> {
        assert_eq!(unit, "tmate-ssh-server.service");
        self.query("is-active");
        Ok(self.machine.borrow().active.clone())
    }

    fn is_enabled(&self, unit: &str) -> Result<bool, Error> {
        assert_eq!(unit, "tmate-ssh-server.service");
        self.query("is-enabled");
        Ok(self.machine.borrow().enabled)
    }

    fn docker_ps(&self) -> Result<Vec<Container>, Error> {
        self.query("docker ps");
        Ok(self.machine.borrow().containers.clone())
    }

    fn docker_rm(&self, name: &str) -> Result<(), Error> {
        self.change(format!("docker rm --force {name}"));
        self.machine
            .borrow_mut()
            .containers
            .retain(|c| c.name != name);
        Ok(())
    }

    fn adopt_keys(&self, dir: &str, from: &str) -> Result<Vec<String>, Error> {
        let mut adopted = Vec::new();
        for (kind, _) in KINDS {
            let target = format!("{dir}/ssh_host_{kind}_key");
            let source = format!("{from}/ssh_host_{kind}_key");
            if self.check_private(&target)? || !self.check_private(&source)? {
                continue;
            }
            for suffix in ["", ".pub"] {
                if let Some(text) = self.file(&format!("{source}{suffix}")) {
                    self.write_file(&format!("{target}{suffix}"), &text, 0o600)?;
                }
            }
            adopted.push(kind.to_owned());
        }
        Ok(adopted)
    }

    fn keys_missing(&self, dir: &str) -> Result<bool, Error> {
        self.query("keys missing");
        let m = self.machine.borrow();
        Ok(KINDS
            .iter()
            .any(|(kind, _)| !m.files.contains_key(&format!("{dir}/ssh_host_{kind}_key"))))
    }

    fn ensure_keys(&self, dir: &str) -> Result<KeysReport, Error> {
        // Check everything before writing anything, like tmate-keys.
        let mut missing = Vec::new();
        for (kind, public) in KINDS {
            let private = format!("{dir}/ssh_host_{kind}_key");
            if !self.check_private(&private)? {
                missing.push((private, public));
            }
        }
        let mut changes = Vec::new();
        for (private, public) in missing {
            self.write_file(&private, FAKE_PRIVATE, 0o600)?;
            self.write_file(&format!("{private}.pub"), public, 0o644)?;
            changes.push(format!("created {private}"));
            changes.push(format!("created {private}.pub"));
        }
        Ok(KeysReport {
            fingerprints: self.fingerprints(dir)?,
            changes,
        })
    }

    fn load_keys(&self, dir: &str) -> Result<Option<Fingerprints>, Error> {
        for (kind, _) in KINDS {
            if !self.check_private(&format!("{dir}/ssh_host_{kind}_key"))? {
                return Ok(None);
            }
        }
        self.fingerprints(dir).map(Some)
    }
}

/// The unit the fakes stand for (the fake `relation-get` expects this name).
const UNIT_NAME: &str = "tmate-ssh-server/0";

/// One unit of this charm in memory: the fake Juju agent and the fake machine, on which
/// [`FakeUnit::run_hook`] runs the real charm code.
#[derive(Debug, Default)]
pub struct FakeUnit {
    /// The Juju agent: the model and every hook tool call.
    pub juju: FakeJuju,
    /// The machine: files, package, services, containers and every change.
    pub host: FakeHost,
}

impl FakeUnit {
    /// A fresh machine whose `juju-info` binding has `address`, with the default config.
    #[must_use]
    pub fn new(address: &str) -> FakeUnit {
        FakeUnit {
            juju: FakeJuju::with_address(address),
            host: FakeHost::default(),
        }
    }

    /// A unit converged by `install`, `config-changed` and `start`, with the records cleared
    /// (the state `update-status` normally finds).
    ///
    /// # Errors
    ///
    /// The error of the first hook that fails.
    pub fn deployed(address: &str) -> Result<FakeUnit, Box<dyn std::error::Error + Send + Sync>> {
        let unit = FakeUnit::new(address);
        for hook in ["install", "config-changed", "start"] {
            unit.run_hook(hook)?;
        }
        unit.juju.reset_record();
        unit.host.reset_record();
        Ok(unit)
    }

    /// Puts a host key pair of each kind in the charm's keys directory, as an earlier run
    /// would have left them (the fake never generates real keys, so this only skips writing
    /// its placeholders).
    pub fn put_host_keys(&self) {
        self.host.put_keys(KEYS_DIR, RSA_PUB, ED25519_PUB);
    }

    /// Adds a `debug-ssh` relation `relation_id` (e.g. `debug-ssh:1`) whose bag holds only
    /// what Juju puts there.
    pub fn relate(&self, relation_id: &str) {
        let bag = Databag::from([("private-address".to_owned(), "10.0.0.5".to_owned())]);
        self.juju
            .model
            .borrow_mut()
            .relations
            .insert(relation_id.to_owned(), bag);
    }

    /// Runs the charm for the hook `name` (`install`, `update-status`, ...) as `dispatch`
    /// does once it holds its lock: the context is parsed from the environment Juju would
    /// set (`JUJU_DISPATCH_PATH=hooks/NAME`, `JUJU_UNIT_NAME`), then the handler runs against
    /// the fakes.
    ///
    /// # Errors
    ///
    /// An error the charm would log before exiting non-zero (a status is not an error).
    pub fn run_hook(&self, name: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let vars = [
            (ENV_DISPATCH_PATH, format!("hooks/{name}")),
            (ENV_UNIT_NAME, UNIT_NAME.to_owned()),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let ctx = JujuContext::from_env(vars, None)?;
        crate::reconcile::dispatch(&ctx, &self.juju, &self.host)?;
        Ok(())
    }
}
