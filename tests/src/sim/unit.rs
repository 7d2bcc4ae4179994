//! The fake unit agent: runs the charm the way Juju does and drives event sequences.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::charm::Charm;
use super::consumer;
use super::host::{self, TMATE_UNIT};
use super::measure::Usage;
use super::model::{
    ActionRecord, Databag, Fault, HookContext, HostCall, ModelState, NetworkInfo, ProxySettings,
    Relation, Status, ToolCall,
};
use super::secrets::{self, SecretScanner};
use super::store::StateFile;
use super::tools;
use super::{Error, Result};

/// Environment variable naming the state file (read by the tool binary).
pub const STATE_ENV: &str = "JUJU_SIM_STATE";
/// Environment variable that overrides where the `juju-sim-tool` binary is.
pub const TOOL_ENV: &str = "JUJU_SIM_TOOL";
/// Environment variable naming the host root (contract: absent under real Juju).
pub const ROOT_ENV: &str = "TMATE_CHARM_ROOT";
/// Default unit name.
pub const DEFAULT_UNIT: &str = "tmate-ssh-server/0";
/// Default per-hook timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// `PATH` after the fake tools directory (Juju's, see JUJU.md section 1).
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin";

/// One event the agent delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A non-relation hook, e.g. `install`.
    Hook(String),
    /// A relation hook.
    Relation {
        /// Hook suffix: `created`, `joined`, `changed`, `departed`, `broken`.
        kind: String,
        /// Relation id.
        id: u32,
        /// `JUJU_REMOTE_UNIT` (None: empty).
        remote_unit: Option<String>,
        /// `JUJU_DEPARTING_UNIT`.
        departing: Option<String>,
    },
    /// An action with its parameters.
    Action {
        /// Action name.
        name: String,
        /// Parameters given by the operator.
        params: serde_json::Map<String, Value>,
    },
}

/// The outcome of an action as `juju run` reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionOutcome {
    /// `completed` or `failed`.
    pub status: String,
    /// Results set with `action-set`.
    pub results: serde_json::Map<String, Value>,
    /// The failure message (`action-fail` text or `exit status N`).
    pub message: Option<String>,
}

/// One hook (or action) execution.
#[derive(Debug, Clone, Default)]
pub struct HookRun {
    /// `JUJU_DISPATCH_PATH`.
    pub dispatch_path: String,
    /// Exit code (None when killed by the timeout).
    pub exit: Option<i32>,
    /// Hook stdout.
    pub stdout: String,
    /// Hook stderr.
    pub stderr: String,
    /// Hook-tool calls made by this run.
    pub calls: Vec<ToolCall>,
    /// Host commands run by this run.
    pub host_calls: Vec<HostCall>,
    /// Problems found (contract drift, consumer-invalid data, leaked secrets).
    pub findings: Vec<String>,
    /// CPU/RSS of the process tree.
    pub usage: Usage,
    /// Wall time seen by the simulator.
    pub wall: Duration,
    /// Action outcome for actions.
    pub action: Option<ActionOutcome>,
}

impl HookRun {
    /// Whether the hook exited 0.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.exit == Some(0)
    }
}

/// A simulated unit with its own temporary directory (charm, fake tools, root, state).
#[derive(Debug)]
pub struct Sim {
    dir: tempfile::TempDir,
    charm: Charm,
    state: StateFile,
    tool: PathBuf,
    bin: PathBuf,
    timeout: Duration,
    extra_env: Vec<(String, String)>,
    next_relation_id: u32,
    next_action_id: u32,
    next_remote_host: u8,
    context_counter: u64,
    queue: VecDeque<Event>,
    error: Option<Event>,
    runs: Vec<HookRun>,
    secrets: SecretScanner,
}

/// Finds the `juju-sim-tool` binary: `$JUJU_SIM_TOOL`, else next to the running test
/// executable's `deps/` directory (`target/<profile>/juju-sim-tool`).
///
/// # Errors
///
/// [`Error::Setup`] when it cannot be found.
pub fn find_tool() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(TOOL_ENV) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()
        .map_err(|source| Error::io("locate", Path::new("current_exe"), source))?;
    let mut dir = exe.parent();
    while let Some(d) = dir {
        let candidate = d.join("juju-sim-tool");
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d
            .parent()
            .filter(|p| p.file_name().is_some_and(|n| n != "target"));
    }
    Err(Error::Setup(format!(
        "juju-sim-tool not found near {} (build it with `cargo build -p tmate-tests --bin juju-sim-tool` or set {TOOL_ENV})",
        exe.display()
    )))
}

impl Sim {
    /// A unit of the packed charm at `charm_file`, using the tool binary at `tool`.
    ///
    /// # Errors
    ///
    /// [`Error::NotPacked`] when the charm file is missing; I/O errors setting up.
    pub fn new(charm_file: &Path, tool: &Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("juju-sim-")
            .tempdir()
            .map_err(|source| Error::io("create", Path::new("temp dir"), source))?;
        let charm_dir = dir.path().join("charm");
        mkdir(&charm_dir)?;
        let charm = Charm::unpack(charm_file, &charm_dir)?;
        Self::with_charm(dir, charm, tool)
    }

    /// A unit of an unpacked charm directory (copied into the simulator's directory).
    ///
    /// # Errors
    ///
    /// I/O errors copying or reading the charm.
    pub fn from_dir(charm_dir: &Path, tool: &Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("juju-sim-")
            .tempdir()
            .map_err(|source| Error::io("create", Path::new("temp dir"), source))?;
        let dest = dir.path().join("charm");
        copy_dir(charm_dir, &dest)?;
        let charm = Charm::read_dir(&dest, BTreeMap::new())?;
        Self::with_charm(dir, charm, tool)
    }

    fn with_charm(dir: tempfile::TempDir, charm: Charm, tool: &Path) -> Result<Self> {
        let bin = dir.path().join("bin");
        let root = dir.path().join("root");
        mkdir(&bin)?;
        mkdir(&root)?;
        for name in tools::HOOK_TOOLS
            .iter()
            .chain(tools::UNSIMULATED_TOOLS)
            .chain(host::PROGRAMS)
        {
            let link = bin.join(name);
            std::os::unix::fs::symlink(tool, &link)
                .map_err(|source| Error::io("symlink", &link, source))?;
        }
        let unit = DEFAULT_UNIT.to_owned();
        let state = ModelState {
            unit,
            model_name: "sim".to_owned(),
            model_uuid: "6d1d1f51-7f43-4a2e-8c3f-5b0c1d2e3f40".to_owned(),
            juju_version: "3.6.9".to_owned(),
            leader: true,
            endpoints: charm.endpoints().into_keys().collect(),
            config: charm.config_defaults(),
            network: NetworkInfo::ipv4("10.0.0.5"),
            root: root.clone(),
            ..Default::default()
        };
        let state = StateFile::create(&dir.path().join("state.json"), &state)?;
        Ok(Sim {
            dir,
            charm,
            state,
            tool: tool.to_owned(),
            bin,
            timeout: DEFAULT_TIMEOUT,
            extra_env: Vec::new(),
            next_relation_id: 3,
            next_action_id: 1,
            next_remote_host: 10,
            context_counter: 0,
            queue: VecDeque::new(),
            error: None,
            runs: Vec::new(),
            secrets: SecretScanner::new(),
        })
    }

    // ----- arrange ------------------------------------------------------------------------

    /// Sets the per-hook timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Adds `key=value` to the environment of every later hook (a test knob of the charm such
    /// as `TMATE_CHARM_COMMAND_TIMEOUT_CAP`; Juju sets no such variable).
    pub fn set_hook_env(&mut self, key: &str, value: &str) {
        self.extra_env.retain(|(k, _)| k != key);
        self.extra_env.push((key.to_owned(), value.to_owned()));
    }

    /// The environment a hook runs with: what [`Sim`] would give `hook` (e.g.
    /// `hooks/update-status`) now, for running `dispatch` by hand the way `juju exec` does.
    /// Such a run has a context of its own: its hook tool calls are recorded with `hook` as
    /// their hook and take effect at once (nothing is rolled back for it).
    ///
    /// # Errors
    ///
    /// State file errors.
    pub fn exec_environment(&self, hook: &str) -> Result<Vec<(String, String)>> {
        let st = self.state()?;
        let name = hook.rsplit('/').next().unwrap_or(hook).to_owned();
        let context = HookContext {
            dispatch_path: hook.to_owned(),
            context_id: format!("{}{}{name}", st.unit, tools::EXEC_CONTEXT_MARKER),
            ..Default::default()
        };
        Ok(self.environment(&st, &context, hook, &name, &Event::Hook(name.clone()), None))
    }

    /// Changes the model (no event): unit name, leadership, network, proxies, host.
    ///
    /// # Errors
    ///
    /// State file errors.
    pub fn arrange(&mut self, change: impl FnOnce(&mut ModelState)) -> Result<()> {
        self.state.update(change)
    }

    /// Sets the model proxy settings (`JUJU_CHARM_*_PROXY` of later hooks; Juju fires no hook).
    ///
    /// # Errors
    ///
    /// State file errors.
    pub fn set_proxy(&mut self, proxy: ProxySettings) -> Result<()> {
        self.state.update(|st| st.proxy = proxy)
    }

    /// Makes `argv_prefix` fail with `exit` and `stderr` for the next `times` calls (a host
    /// command such as `["apt-get", "install"]`, or a hook tool such as `["relation-set"]`).
    ///
    /// # Errors
    ///
    /// State file errors.
    pub fn fail_host_command(
        &mut self,
        argv_prefix: &[&str],
        exit: i32,
        stderr: &str,
        times: Option<u32>,
    ) -> Result<()> {
        let fault = Fault {
            argv_prefix: argv_prefix.iter().map(|s| (*s).to_owned()).collect(),
            exit,
            stderr: stderr.to_owned(),
            hang_secs: 0,
            remaining: times,
        };
        self.state.update(|st| st.host.faults.push(fault))
    }

    /// Makes `argv_prefix` (host command or hook tool) hang for `secs` seconds (then exit 1)
    /// on its next call.
    ///
    /// # Errors
    ///
    /// State file errors.
    pub fn hang_host_command(&mut self, argv_prefix: &[&str], secs: u64) -> Result<()> {
        let fault = Fault {
            argv_prefix: argv_prefix.iter().map(|s| (*s).to_owned()).collect(),
            exit: 1,
            stderr: "killed by hang fault\n".to_owned(),
            hang_secs: secs,
            remaining: Some(1),
        };
        self.state.update(|st| st.host.faults.push(fault))
    }

    /// The workload container dies: the unit goes `failed`, the container is gone.
    ///
    /// # Errors
    ///
    /// State file errors.
    pub fn crash_workload(&mut self) -> Result<()> {
        self.state.update(|st| {
            if let Some(unit) = st.host.units.get_mut(TMATE_UNIT) {
                unit.active = "failed".to_owned();
                if let Some(running) = unit.running.take() {
                    let (name, _) = container_name(&running);
                    st.host.containers.retain(|c| c.name != name);
                }
            }
        })
    }

    // ----- inspect ------------------------------------------------------------------------

    /// The current model state.
    ///
    /// # Errors
    ///
    /// State file errors.
    pub fn state(&self) -> Result<ModelState> {
        self.state.read()
    }

    /// The unpacked charm.
    #[must_use]
    pub fn charm(&self) -> &Charm {
        &self.charm
    }

    /// The host root (`TMATE_CHARM_ROOT`).
    #[must_use]
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The simulator's directory (charm, bin, root, state.json).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every run so far.
    #[must_use]
    pub fn runs(&self) -> &[HookRun] {
        &self.runs
    }

    /// The secret scanner with every private key learned so far (see [`secrets`]).
    #[must_use]
    pub fn secret_scanner(&self) -> &SecretScanner {
        &self.secrets
    }

    /// Adds a private key whose material must never leave the unit (keys under the host root
    /// are learned automatically after every hook). Returns the number of needles added.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when `text` holds no private key.
    pub fn watch_private_key(&mut self, label: &str, text: &str) -> Result<usize> {
        self.secrets
            .learn_private_key(label, text)
            .map_err(Error::Input)
    }

    /// The failed event awaiting [`Sim::resolve`], if any.
    #[must_use]
    pub fn error(&self) -> Option<&Event> {
        self.error.as_ref()
    }

    /// The unit's status as `juju status` shows it: the agent error while a hook failed,
    /// otherwise the workload status.
    ///
    /// # Errors
    ///
    /// State file errors.
    pub fn display_status(&self) -> Result<Status> {
        if let Some(event) = &self.error {
            return Ok(Status::new(
                "error",
                &format!("hook failed: {:?}", self.hook_name(event)),
            ));
        }
        Ok(self.state()?.unit_status)
    }

    /// Valid `debug-ssh` entries published on relation `id` (consumer's view).
    ///
    /// # Errors
    ///
    /// State file errors; [`Error::Input`] when the relation does not exist.
    pub fn published(&self, id: u32) -> Result<Option<consumer::DebugSshEntry>> {
        let st = self.state()?;
        let relation = st
            .relations
            .get(&id)
            .ok_or_else(|| Error::Input(format!("no relation {id}")))?;
        consumer::validate(&relation.local_unit_data).map_err(Error::Input)
    }

    // ----- act: drivers -------------------------------------------------------------------

    /// Deploys: `install`, `leader-elected` (or `leader-settings-changed`), `config-changed`,
    /// `start`.
    ///
    /// # Errors
    ///
    /// See [`Sim::run_queue`].
    pub fn deploy(&mut self) -> Result<Vec<HookRun>> {
        let leader = self.state()?.leader;
        self.enqueue(Event::Hook("install".into()));
        self.enqueue(Event::Hook(
            if leader {
                "leader-elected"
            } else {
                "leader-settings-changed"
            }
            .into(),
        ));
        self.enqueue(Event::Hook("config-changed".into()));
        self.enqueue(Event::Hook("start".into()));
        self.run_queue()
    }

    /// Runs one `update-status`.
    ///
    /// # Errors
    ///
    /// See [`Sim::run_queue`].
    pub fn update_status(&mut self) -> Result<HookRun> {
        self.enqueue(Event::Hook("update-status".into()));
        last_of(self.run_queue()?)
    }

    /// Fires any non-relation hook by name (re-running a hook is how idempotency is tested).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for a relation hook name; see [`Sim::run_queue`].
    pub fn fire(&mut self, hook: &str) -> Result<HookRun> {
        if hook.contains("-relation-") {
            return Err(Error::Input(format!(
                "{hook} is a relation hook: use the relation drivers"
            )));
        }
        self.enqueue(Event::Hook(hook.to_owned()));
        last_of(self.run_queue()?)
    }

    /// Changes config options (validated against `config.yaml`) and fires `config-changed`.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an unknown option or a value of the wrong type.
    pub fn set_config(&mut self, options: &[(&str, Value)]) -> Result<HookRun> {
        for (name, value) in options {
            let ty = self.charm.config_type(name).ok_or_else(|| {
                Error::Input(format!("config option {name:?} is not in config.yaml"))
            })?;
            let ok = match ty {
                "int" => value.is_i64(),
                "float" => value.is_number(),
                "boolean" => value.is_boolean(),
                _ => value.is_string(),
            };
            if !ok && !value.is_null() {
                return Err(Error::Input(format!(
                    "config option {name:?} is {ty}, got {value}"
                )));
            }
        }
        let defaults = self.charm.config_defaults();
        self.state.update(|st| {
            for (name, value) in options {
                // `juju config --reset` (null) goes back to the default.
                let v = if value.is_null() {
                    defaults.get(*name).cloned().unwrap_or(Value::Null)
                } else {
                    value.clone()
                };
                st.config.insert((*name).to_owned(), v);
            }
        })?;
        self.enqueue(Event::Hook("config-changed".into()));
        last_of(self.run_queue()?)
    }

    /// The machine's addresses change: new network data, then `config-changed`.
    ///
    /// # Errors
    ///
    /// See [`Sim::run_queue`].
    pub fn set_network(&mut self, network: NetworkInfo) -> Result<HookRun> {
        self.state.update(|st| st.network = network)?;
        self.enqueue(Event::Hook("config-changed".into()));
        last_of(self.run_queue()?)
    }

    /// `juju refresh`: optionally replaces the charm with `new_charm_file`, then
    /// `upgrade-charm` and `config-changed`.
    ///
    /// # Errors
    ///
    /// See [`Sim::run_queue`].
    pub fn upgrade(&mut self, new_charm_file: Option<&Path>) -> Result<Vec<HookRun>> {
        if let Some(file) = new_charm_file {
            let dest = self.dir.path().join("charm");
            std::fs::remove_dir_all(&dest).map_err(|source| Error::io("remove", &dest, source))?;
            mkdir(&dest)?;
            self.charm = Charm::unpack(file, &dest)?;
            let defaults = self.charm.config_defaults();
            self.state.update(|st| {
                for (k, v) in defaults {
                    st.config.entry(k).or_insert(v);
                }
            })?;
        }
        self.enqueue(Event::Hook("upgrade-charm".into()));
        self.enqueue(Event::Hook("config-changed".into()));
        self.run_queue()
    }

    /// Relates `endpoint` to `remote_app` with `units`: `-relation-created`, then per unit
    /// `-relation-joined` and `-relation-changed`. Returns the relation id.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when the endpoint is not a relation endpoint of the charm or a unit
    /// name does not belong to `remote_app`.
    pub fn relate(
        &mut self,
        endpoint: &str,
        remote_app: &str,
        units: &[&str],
    ) -> Result<(u32, Vec<HookRun>)> {
        if !self.charm.is_relation_endpoint(endpoint) {
            return Err(Error::Input(format!(
                "endpoint {endpoint:?} is not in metadata.yaml provides/requires"
            )));
        }
        for unit in units {
            if unit.split('/').next() != Some(remote_app) {
                return Err(Error::Input(format!(
                    "unit {unit:?} is not a unit of {remote_app:?}"
                )));
            }
        }
        let id = self.next_relation_id;
        self.next_relation_id += 1;
        self.state.update(|st| {
            let mut relation = Relation {
                id,
                endpoint: endpoint.to_owned(),
                remote_app: remote_app.to_owned(),
                ..Default::default()
            };
            refresh_address_keys(st, &mut relation);
            st.relations.insert(id, relation);
        })?;
        self.enqueue(Event::Relation {
            kind: "created".into(),
            id,
            remote_unit: None,
            departing: None,
        });
        let mut runs = self.run_queue()?;
        for unit in units {
            runs.extend(self.join(id, unit)?);
        }
        Ok((id, runs))
    }

    /// Adds a relation that already exists in the model (no hooks run), e.g. one a previous
    /// charm revision took part in, with this unit's bag holding `local_data` (plus Juju's
    /// address keys). Returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when the endpoint is not a relation endpoint of the charm.
    pub fn add_existing_relation(
        &mut self,
        endpoint: &str,
        remote_app: &str,
        units: &[&str],
        local_data: &[(&str, &str)],
    ) -> Result<u32> {
        if !self.charm.is_relation_endpoint(endpoint) {
            return Err(Error::Input(format!(
                "endpoint {endpoint:?} is not in metadata.yaml provides/requires"
            )));
        }
        let id = self.next_relation_id;
        self.next_relation_id += 1;
        let mut remote_unit_data = BTreeMap::new();
        for unit in units {
            let host = format!("10.0.1.{}", self.next_remote_host);
            self.next_remote_host = self.next_remote_host.wrapping_add(1);
            let bag: Databag = [
                ("private-address".to_owned(), host.clone()),
                ("ingress-address".to_owned(), host.clone()),
                ("egress-subnets".to_owned(), format!("{host}/32")),
            ]
            .into();
            remote_unit_data.insert((*unit).to_owned(), bag);
        }
        self.state.update(|st| {
            let mut relation = Relation {
                id,
                endpoint: endpoint.to_owned(),
                remote_app: remote_app.to_owned(),
                remote_units: units.iter().map(|u| (*u).to_owned()).collect(),
                remote_unit_data,
                ..Default::default()
            };
            refresh_address_keys(st, &mut relation);
            for (k, v) in local_data {
                relation
                    .local_unit_data
                    .insert((*k).to_owned(), (*v).to_owned());
            }
            st.relations.insert(id, relation);
        })?;
        Ok(id)
    }

    /// A new remote unit joins relation `id`: `-joined` then `-changed`.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an unknown relation or a unit already in it.
    pub fn join(&mut self, id: u32, unit: &str) -> Result<Vec<HookRun>> {
        let host = format!("10.0.1.{}", self.next_remote_host);
        self.next_remote_host = self.next_remote_host.wrapping_add(1);
        let unit_owned = unit.to_owned();
        let ok = self.state.update(|st| {
            let Some(relation) = st.relations.get_mut(&id) else {
                return Err(format!("no relation {id}"));
            };
            if relation.remote_units.contains(&unit_owned) {
                return Err(format!("{unit_owned} already joined relation {id}"));
            }
            if unit_owned.split('/').next() != Some(relation.remote_app.as_str()) {
                return Err(format!(
                    "{unit_owned} is not a unit of {}",
                    relation.remote_app
                ));
            }
            relation.remote_units.push(unit_owned.clone());
            let bag: Databag = [
                ("private-address".to_owned(), host.clone()),
                ("ingress-address".to_owned(), host.clone()),
                ("egress-subnets".to_owned(), format!("{host}/32")),
            ]
            .into();
            relation.remote_unit_data.insert(unit_owned.clone(), bag);
            Ok(())
        })?;
        ok.map_err(Error::Input)?;
        self.enqueue(Event::Relation {
            kind: "joined".into(),
            id,
            remote_unit: Some(unit.to_owned()),
            departing: None,
        });
        self.enqueue(Event::Relation {
            kind: "changed".into(),
            id,
            remote_unit: Some(unit.to_owned()),
            departing: None,
        });
        self.run_queue()
    }

    /// The remote unit writes `data` into its bag (empty value deletes): `-relation-changed`.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an unknown relation or unit.
    pub fn remote_change(&mut self, id: u32, unit: &str, data: &[(&str, &str)]) -> Result<HookRun> {
        let unit_owned = unit.to_owned();
        let ok = self.state.update(|st| {
            let relation = st
                .relations
                .get_mut(&id)
                .ok_or(format!("no relation {id}"))?;
            if !relation.remote_units.contains(&unit_owned) {
                return Err(format!("{unit_owned} is not in relation {id}"));
            }
            let bag = relation
                .remote_unit_data
                .entry(unit_owned.clone())
                .or_default();
            for (k, v) in data {
                if v.is_empty() {
                    bag.remove(*k);
                } else {
                    bag.insert((*k).to_owned(), (*v).to_owned());
                }
            }
            Ok(())
        })?;
        ok.map_err(Error::Input)?;
        self.enqueue(Event::Relation {
            kind: "changed".into(),
            id,
            remote_unit: Some(unit.to_owned()),
            departing: None,
        });
        last_of(self.run_queue()?)
    }

    /// A remote unit leaves: `-relation-departed` (its bag stays readable).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an unknown relation or unit.
    pub fn depart(&mut self, id: u32, unit: &str) -> Result<HookRun> {
        let unit_owned = unit.to_owned();
        let ok = self.state.update(|st| {
            let relation = st
                .relations
                .get_mut(&id)
                .ok_or(format!("no relation {id}"))?;
            let before = relation.remote_units.len();
            relation.remote_units.retain(|u| *u != unit_owned);
            if relation.remote_units.len() == before {
                return Err(format!("{unit_owned} is not in relation {id}"));
            }
            Ok(())
        })?;
        ok.map_err(Error::Input)?;
        self.enqueue(Event::Relation {
            kind: "departed".into(),
            id,
            remote_unit: Some(unit.to_owned()),
            departing: Some(unit.to_owned()),
        });
        last_of(self.run_queue()?)
    }

    /// Removes the relation: `-departed` per remaining unit, then `-broken`.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an unknown relation.
    pub fn unrelate(&mut self, id: u32) -> Result<Vec<HookRun>> {
        let units = self
            .state()?
            .relations
            .get(&id)
            .ok_or_else(|| Error::Input(format!("no relation {id}")))?
            .remote_units
            .clone();
        let mut runs = Vec::new();
        for unit in units {
            runs.push(self.depart(id, &unit)?);
        }
        self.enqueue(Event::Relation {
            kind: "broken".into(),
            id,
            remote_unit: None,
            departing: None,
        });
        runs.extend(self.run_queue()?);
        Ok(runs)
    }

    /// Removes the unit: every relation departs and breaks, then `stop`, then `remove`
    /// (the uniter leaves relation scopes before it stops). JUJU.md section 1 gives the
    /// other order; [`Sim::remove_stop_first`] drives that one.
    ///
    /// # Errors
    ///
    /// See [`Sim::run_queue`].
    pub fn remove(&mut self) -> Result<Vec<HookRun>> {
        let ids: Vec<u32> = self.state()?.relations.keys().copied().collect();
        let mut runs = Vec::new();
        for id in ids {
            runs.extend(self.unrelate(id)?);
        }
        self.enqueue(Event::Hook("stop".into()));
        self.enqueue(Event::Hook("remove".into()));
        runs.extend(self.run_queue()?);
        Ok(runs)
    }

    /// Removes the unit in the order JUJU.md section 1 gives: `stop`, then
    /// `update_status_ticks` `update-status` hooks (the timer keeps firing while the unit
    /// dies), then every relation departs and breaks, then `remove`. A charm must be correct
    /// in this order as well as in [`Sim::remove`]'s.
    ///
    /// # Errors
    ///
    /// See [`Sim::run_queue`].
    pub fn remove_stop_first(&mut self, update_status_ticks: u32) -> Result<Vec<HookRun>> {
        self.enqueue(Event::Hook("stop".into()));
        for _ in 0..update_status_ticks {
            self.enqueue(Event::Hook("update-status".into()));
        }
        let mut runs = self.run_queue()?;
        let ids: Vec<u32> = self.state()?.relations.keys().copied().collect();
        for id in ids {
            runs.extend(self.unrelate(id)?);
        }
        self.enqueue(Event::Hook("remove".into()));
        runs.extend(self.run_queue()?);
        Ok(runs)
    }

    /// Runs action `name` (validated against `actions.yaml`) and returns its outcome.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an unknown action or undeclared parameter.
    pub fn run_action(
        &mut self,
        name: &str,
        params: &[(&str, Value)],
    ) -> Result<(ActionOutcome, HookRun)> {
        if !self.charm.action_names().contains(name) {
            return Err(Error::Input(format!(
                "action {name:?} is not in actions.yaml"
            )));
        }
        let declared = self.charm.action_params(name);
        let mut all = self.charm.action_defaults(name);
        for (k, v) in params {
            if !declared.contains(*k) && !self.charm.action_allows_additional(name) {
                return Err(Error::Input(format!(
                    "action {name:?} has no parameter {k:?}"
                )));
            }
            all.insert((*k).to_owned(), v.clone());
        }
        self.enqueue(Event::Action {
            name: name.to_owned(),
            params: all,
        });
        let run = last_of(self.run_queue()?)?;
        let outcome = run.action.clone().unwrap_or_default();
        Ok((outcome, run))
    }

    /// `juju resolve`: re-runs the failed event, then the rest of the queue.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when the unit is not in error; see [`Sim::run_queue`].
    pub fn resolve(&mut self) -> Result<Vec<HookRun>> {
        let event = self
            .error
            .take()
            .ok_or_else(|| Error::Input("unit is not in error".into()))?;
        self.queue.push_front(event);
        self.run_queue()
    }

    // ----- machinery ----------------------------------------------------------------------

    fn enqueue(&mut self, event: Event) {
        self.queue.push_back(event);
    }

    fn hook_name(&self, event: &Event) -> String {
        match event {
            Event::Hook(name) => name.clone(),
            Event::Relation { kind, id, .. } => {
                let endpoint = self
                    .state()
                    .ok()
                    .and_then(|st| st.relations.get(id).map(|r| r.endpoint.clone()))
                    .unwrap_or_default();
                format!("{endpoint}-relation-{kind}")
            }
            Event::Action { name, .. } => name.clone(),
        }
    }

    /// Runs queued events in order until the queue is empty or a hook fails (the unit then
    /// waits for [`Sim::resolve`]; a failed action does not stop the queue).
    ///
    /// # Errors
    ///
    /// [`Error::UnitInError`] when a previous hook failed and was not resolved;
    /// [`Error::Findings`] when a run broke the contract, published data a consumer rejects
    /// or leaked a secret; process and state errors.
    pub fn run_queue(&mut self) -> Result<Vec<HookRun>> {
        let mut runs = Vec::new();
        while let Some(event) = self.queue.pop_front() {
            if let Some(failed) = &self.error {
                let name = self.hook_name(failed);
                self.queue.push_front(event);
                return Err(Error::UnitInError(name));
            }
            let run = self.run_event(&event)?;
            let failed_hook = !run.succeeded() && !matches!(event, Event::Action { .. });
            let findings = run.findings.clone();
            self.runs.push(run.clone());
            runs.push(run);
            if !findings.is_empty() {
                return Err(Error::Findings {
                    hook: self.hook_name(&event),
                    findings,
                });
            }
            if failed_hook {
                self.error = Some(event);
                break;
            }
        }
        Ok(runs)
    }

    fn run_event(&mut self, event: &Event) -> Result<HookRun> {
        let snapshot = self.state()?;
        self.context_counter += 1;
        let hook_name = self.hook_name(event);
        let (dispatch_path, env_hook_name) = match event {
            Event::Action { name, .. } => (format!("actions/{name}"), String::new()),
            _ => (format!("hooks/{hook_name}"), hook_name.clone()),
        };
        let context_id = format!(
            "{}-{}-{:032x}",
            snapshot.unit,
            hook_name,
            0x9e37_79b9_7f4a_7c15_u128 * u128::from(self.context_counter)
        );
        let mut hook = HookContext {
            dispatch_path: dispatch_path.clone(),
            context_id: context_id.clone(),
            ..Default::default()
        };
        let mut action_id = None;
        match event {
            Event::Relation {
                kind,
                id,
                remote_unit,
                departing,
            } => {
                let relation = snapshot
                    .relations
                    .get(id)
                    .ok_or_else(|| Error::Input(format!("relation {id} does not exist")))?;
                if matches!(kind.as_str(), "joined" | "changed" | "departed")
                    && remote_unit.is_none()
                {
                    return Err(Error::Input(format!(
                        "-relation-{kind} needs a remote unit"
                    )));
                }
                hook.relation_id = Some(*id);
                hook.remote_unit.clone_from(remote_unit);
                hook.remote_app = Some(relation.remote_app.clone());
                hook.departing_unit.clone_from(departing);
            }
            Event::Action { .. } => {
                hook.is_action = true;
                action_id = Some(self.next_action_id);
                self.next_action_id += 1;
            }
            Event::Hook(_) => {}
        }
        let (calls_before, host_before, findings_before) = (
            snapshot.calls.len(),
            snapshot.host.commands.len(),
            snapshot.findings.len(),
        );
        let hook_for_state = hook.clone();
        let is_broken = matches!(event, Event::Relation { kind, .. } if kind == "broken");
        self.state.update(|st| {
            st.hook = Some(hook_for_state);
            st.pending_ports.clear();
            if let Event::Action { name, params } = event {
                st.action = Some(ActionRecord {
                    name: name.clone(),
                    id: action_id.unwrap_or(0),
                    params: params.clone(),
                    ..Default::default()
                });
            }
            if is_broken
                && let Event::Relation { id, .. } = event
                && let Some(r) = st.relations.get_mut(id)
            {
                r.broken = true;
                r.remote_units.clear();
            }
        })?;

        let env = self.environment(
            &snapshot,
            &hook,
            &dispatch_path,
            &env_hook_name,
            event,
            action_id,
        );
        let usage_file = self
            .dir
            .path()
            .join(format!("usage-{}.json", self.context_counter));
        let started = Instant::now();
        let files_before = secrets::files_under(&snapshot.root);
        let (exit, stdout_bytes, stderr_bytes) = self.spawn(&env, &usage_file)?;
        let stdout = String::from_utf8_lossy(&stdout_bytes).into_owned();
        let stderr = String::from_utf8_lossy(&stderr_bytes).into_owned();
        let wall = started.elapsed();
        let usage: Usage = std::fs::read_to_string(&usage_file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let _ = std::fs::remove_file(&usage_file);

        let succeeded = exit == Some(0);
        let config_changed = matches!(event, Event::Hook(h) if h == "config-changed");
        let action = self.state.update(|st| {
            if succeeded {
                for change in std::mem::take(&mut st.pending_ports) {
                    if change.open {
                        st.opened_ports.insert(change.range);
                    } else {
                        st.opened_ports.remove(&change.range);
                    }
                }
                if config_changed {
                    // Juju refreshes the unit's address keys when committing config-changed.
                    let ids: Vec<u32> = st.relations.keys().copied().collect();
                    for id in ids {
                        if let Some(mut relation) = st.relations.remove(&id) {
                            refresh_address_keys(st, &mut relation);
                            st.relations.insert(id, relation);
                        }
                    }
                }
                if is_broken && let Event::Relation { id, .. } = event {
                    st.relations.remove(id);
                }
            } else {
                // Nothing transactional is committed.
                st.pending_ports.clear();
                st.charm_state = snapshot.charm_state.clone();
                for (id, relation) in &mut st.relations {
                    if let Some(before) = snapshot.relations.get(id) {
                        relation.local_unit_data = before.local_unit_data.clone();
                        relation.local_app_data = before.local_app_data.clone();
                    }
                }
                if is_broken
                    && let Event::Relation { id, .. } = event
                    && let (Some(r), Some(before)) =
                        (st.relations.get_mut(id), snapshot.relations.get(id))
                {
                    r.broken = before.broken;
                }
            }
            st.hook = None;
            if hook.is_action {
                st.action.as_mut().map(|a| {
                    if !succeeded && a.message.is_none() {
                        a.message = Some(match exit {
                            Some(code) => format!("exit status {code}"),
                            None => "timed out".to_owned(),
                        });
                    }
                    ActionOutcome {
                        status: if a.failed || !succeeded {
                            "failed"
                        } else {
                            "completed"
                        }
                        .to_owned(),
                        results: a.results.clone(),
                        message: a.message.clone(),
                    }
                })
            } else {
                None
            }
        })?;

        let st = self.state()?;
        let mut findings: Vec<String> = st.findings[findings_before..].to_vec();
        findings.extend(self.check_published(&st, action.as_ref(), &stdout, &stderr));
        self.secrets.learn_keys_under(&st.root);
        findings.extend(secrets::scan_hook(
            &self.secrets,
            &st,
            &st.calls[calls_before..],
            &st.host.commands[host_before..],
            action.as_ref(),
            (&stdout_bytes, &stderr_bytes),
            &files_before,
        ));
        if exit.is_none() {
            findings.push(format!(
                "{dispatch_path} timed out after {:?}",
                self.timeout
            ));
        }
        Ok(HookRun {
            dispatch_path,
            exit,
            stdout,
            stderr,
            calls: st.calls[calls_before..].to_vec(),
            host_calls: st.host.commands[host_before..].to_vec(),
            findings,
            usage,
            wall,
            action,
        })
    }

    /// Consumer validation of every `debug-ssh` unit bag and a secret scan of everything
    /// that leaves the unit.
    fn check_published(
        &self,
        st: &ModelState,
        action: Option<&ActionOutcome>,
        stdout: &str,
        stderr: &str,
    ) -> Vec<String> {
        let mut findings = Vec::new();
        for relation in st.relations.values() {
            if self
                .charm
                .endpoints()
                .get(&relation.endpoint)
                .map(String::as_str)
                == Some("debug-ssh")
                && let Err(e) = consumer::validate(&relation.local_unit_data)
            {
                findings.push(format!("{}: {e}", relation.fake_id()));
            }
            for (k, v) in relation
                .local_unit_data
                .iter()
                .chain(&relation.local_app_data)
            {
                if consumer::contains_secret(v) {
                    findings.push(format!(
                        "{}: private key material in relation key {k:?}",
                        relation.fake_id()
                    ));
                }
            }
        }
        let mut texts: Vec<(&str, String)> = vec![
            ("hook stdout", stdout.to_owned()),
            ("hook stderr", stderr.to_owned()),
        ];
        texts.extend(st.logs.iter().map(|l| ("juju-log", l.message.clone())));
        texts.extend(
            st.status_history
                .iter()
                .map(|s| ("status", s.status.message.clone())),
        );
        texts.extend(st.charm_state.values().map(|v| ("charm state", v.clone())));
        if let Some(a) = action {
            texts.push((
                "action results",
                Value::Object(a.results.clone()).to_string(),
            ));
        }
        for (what, text) in texts {
            if consumer::contains_secret(&text) {
                findings.push(format!("private key material in {what}"));
            }
        }
        findings
    }

    fn environment(
        &self,
        st: &ModelState,
        hook: &HookContext,
        dispatch_path: &str,
        hook_name: &str,
        event: &Event,
        action_id: Option<u32>,
    ) -> Vec<(String, String)> {
        let charm_dir = self.charm.dir.display().to_string();
        let agent = format!("unit-{}", st.unit.replace('/', "-"));
        let mut env: Vec<(String, String)> = vec![
            ("JUJU_DISPATCH_PATH".into(), dispatch_path.to_owned()),
            ("JUJU_HOOK_NAME".into(), hook_name.to_owned()),
            ("JUJU_UNIT_NAME".into(), st.unit.clone()),
            ("JUJU_CHARM_DIR".into(), charm_dir.clone()),
            ("CHARM_DIR".into(), charm_dir),
            ("JUJU_MODEL_NAME".into(), st.model_name.clone()),
            ("JUJU_MODEL_UUID".into(), st.model_uuid.clone()),
            ("JUJU_VERSION".into(), st.juju_version.clone()),
            ("JUJU_CONTEXT_ID".into(), hook.context_id.clone()),
            (
                "JUJU_AGENT_SOCKET_ADDRESS".into(),
                format!("@/var/lib/juju/agents/{agent}/agent.socket"),
            ),
            ("JUJU_AGENT_SOCKET_NETWORK".into(), "unix".into()),
            ("JUJU_API_ADDRESSES".into(), "10.0.0.2:17070".into()),
            ("JUJU_MACHINE_ID".into(), "0".into()),
            ("JUJU_PRINCIPAL_UNIT".into(), String::new()),
            ("JUJU_AVAILABILITY_ZONE".into(), String::new()),
            ("CLOUD_API_VERSION".into(), String::new()),
            ("JUJU_CHARM_HTTP_PROXY".into(), st.proxy.http.clone()),
            ("JUJU_CHARM_HTTPS_PROXY".into(), st.proxy.https.clone()),
            ("JUJU_CHARM_FTP_PROXY".into(), st.proxy.ftp.clone()),
            ("JUJU_CHARM_NO_PROXY".into(), st.proxy.no_proxy.clone()),
            (
                "PATH".into(),
                format!("{}:{SYSTEM_PATH}", self.bin.display()),
            ),
            ("DEBIAN_FRONTEND".into(), "noninteractive".into()),
            ("APT_LISTCHANGES_FRONTEND".into(), "none".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("TERM".into(), "tmux-256color".into()),
            (ROOT_ENV.into(), st.root.display().to_string()),
            (STATE_ENV.into(), self.state.path().display().to_string()),
        ];
        if let Event::Relation { id, .. } = event
            && let Some(relation) = st.relations.get(id)
        {
            {
                env.push(("JUJU_RELATION".into(), relation.endpoint.clone()));
                env.push(("JUJU_RELATION_ID".into(), relation.fake_id()));
                env.push((
                    "JUJU_REMOTE_UNIT".into(),
                    hook.remote_unit.clone().unwrap_or_default(),
                ));
                env.push(("JUJU_REMOTE_APP".into(), relation.remote_app.clone()));
                if let Some(departing) = &hook.departing_unit {
                    env.push(("JUJU_DEPARTING_UNIT".into(), departing.clone()));
                }
            }
        }
        if let (Event::Action { name, .. }, Some(id)) = (event, action_id) {
            env.push(("JUJU_ACTION_NAME".into(), name.clone()));
            env.push(("JUJU_ACTION_UUID".into(), id.to_string()));
            env.push(("JUJU_ACTION_TAG".into(), format!("action-{id}")));
        }
        env.extend(self.extra_env.iter().cloned());
        env
    }

    /// Runs `dispatch` (through the measuring wrapper) with `env`, no argv, cwd = charm dir.
    fn spawn(
        &self,
        env: &[(String, String)],
        usage_file: &Path,
    ) -> Result<(Option<i32>, Vec<u8>, Vec<u8>)> {
        use std::os::unix::process::CommandExt;
        let dispatch = self.charm.dir.join("dispatch");
        let mut command = Command::new(&self.tool);
        command
            .arg0("juju-sim-tool")
            .arg("sim-measure")
            .arg(usage_file)
            .arg(&dispatch)
            .current_dir(&self.charm.dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().map_err(|source| Error::Spawn {
            command: dispatch.display().to_string(),
            source,
        })?;
        let mut out_pipe = child.stdout.take();
        let mut err_pipe = child.stderr.take();
        let out_thread = std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(p) = out_pipe.as_mut() {
                let _ = p.read_to_end(&mut s);
            }
            s
        });
        let err_thread = std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(p) = err_pipe.as_mut() {
                let _ = p.read_to_end(&mut s);
            }
            s
        });
        let deadline = Instant::now() + self.timeout;
        let mut sleep = Duration::from_micros(200);
        let exit = loop {
            match child
                .try_wait()
                .map_err(|source| Error::io("wait", &dispatch, source))?
            {
                // A hook killed by a signal (not by our timeout) exits 128+N, as a shell
                // reports it: it failed, and Juju retries it.
                Some(status) => {
                    use std::os::unix::process::ExitStatusExt;
                    break status.code().or_else(|| status.signal().map(|n| 128 + n));
                }
                None if Instant::now() >= deadline => {
                    // Kill the whole process group (charm and any hung tools).
                    if let Ok(pgid) = i32::try_from(child.id()) {
                        let _ = nix::sys::signal::killpg(
                            nix::unistd::Pid::from_raw(pgid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                None => {
                    std::thread::sleep(sleep);
                    sleep = (sleep * 2).min(Duration::from_millis(20));
                }
            }
        };
        let stdout = out_thread.join().unwrap_or_default();
        let stderr = err_thread.join().unwrap_or_default();
        Ok((exit, stdout, stderr))
    }
}

fn last_of(runs: Vec<HookRun>) -> Result<HookRun> {
    runs.into_iter()
        .last()
        .ok_or_else(|| Error::Input("no hook ran".into()))
}

/// Sets Juju's address keys in the unit's bag from the binding's network.
fn refresh_address_keys(st: &ModelState, relation: &mut Relation) {
    let network = st.bindings.get(&relation.endpoint).unwrap_or(&st.network);
    if let Some(addr) = network.primary() {
        relation
            .local_unit_data
            .insert("private-address".into(), addr.to_owned());
        relation
            .local_unit_data
            .insert("ingress-address".into(), addr.to_owned());
        let egress = if network.egress_subnets.is_empty() {
            format!("{addr}/32")
        } else {
            network.egress_subnets.join(",")
        };
        relation
            .local_unit_data
            .insert("egress-subnets".into(), egress);
    }
}

fn container_name(unit_file: &str) -> (String, String) {
    let exec = unit_file
        .lines()
        .find_map(|l| l.trim().strip_prefix("ExecStart="))
        .unwrap_or_default();
    let words: Vec<&str> = exec.split_whitespace().collect();
    let name = words
        .iter()
        .position(|w| *w == "--name")
        .and_then(|i| words.get(i + 1))
        .map(|s| (*s).to_owned())
        .or_else(|| {
            words
                .iter()
                .find_map(|w| w.strip_prefix("--name="))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "tmate-ssh-server".to_owned());
    (name, String::new())
}

fn mkdir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| Error::io("create", path, source))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    mkdir(to)?;
    let entries = std::fs::read_dir(from).map_err(|source| Error::io("read", from, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::io("read", from, source))?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(|source| Error::io("copy", &target, source))?;
        }
    }
    Ok(())
}
