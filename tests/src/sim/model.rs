//! The fake unit agent's state: everything Juju knows about the unit, plus the host fakes.
//!
//! It is serialised as the JSON state file that the hook-tool binary locks, reads and writes,
//! so every type here is plain data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A relation databag: string keys to string values.
pub type Databag = BTreeMap<String, String>;

/// The whole simulated world for one unit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelState {
    /// Unit name, e.g. `tmate-ssh-server/0`.
    pub unit: String,
    /// Model name (`JUJU_MODEL_NAME`).
    pub model_name: String,
    /// Model UUID (`JUJU_MODEL_UUID`).
    pub model_uuid: String,
    /// Agent version (`JUJU_VERSION`).
    pub juju_version: String,
    /// Whether this unit is the application leader.
    pub leader: bool,
    /// Endpoint names from `metadata.yaml` (provides, requires, peers, extra-bindings).
    pub endpoints: BTreeSet<String>,
    /// Effective config: defaults from `config.yaml` overlaid with what the operator set;
    /// `null` for an option with no default that was never set.
    pub config: BTreeMap<String, Value>,
    /// The unit's network for every binding without an override.
    pub network: NetworkInfo,
    /// Per-binding overrides of [`ModelState::network`].
    pub bindings: BTreeMap<String, NetworkInfo>,
    /// Relations the unit takes part in, by id.
    pub relations: BTreeMap<u32, Relation>,
    /// Committed open ports (`10022/tcp`).
    pub opened_ports: BTreeSet<String>,
    /// The unit's workload status.
    pub unit_status: Status,
    /// The application's status (leader only).
    pub app_status: Status,
    /// Every status set, in order.
    pub status_history: Vec<StatusRecord>,
    /// What `application-version-set` reported.
    pub workload_version: Option<String>,
    /// `juju-log` lines in order.
    pub logs: Vec<LogLine>,
    /// Charm state (`state-get`/`state-set`), committed plus this hook's writes.
    pub charm_state: BTreeMap<String, String>,
    /// Model proxy settings exported as `JUJU_CHARM_*_PROXY`.
    pub proxy: ProxySettings,
    /// The hook that is running, if any.
    pub hook: Option<HookContext>,
    /// Port changes buffered until the hook exits 0.
    pub pending_ports: Vec<PortChange>,
    /// The running (or last) action.
    pub action: Option<ActionRecord>,
    /// Every hook-tool call, in order.
    pub calls: Vec<ToolCall>,
    /// Host fakes' state.
    pub host: HostState,
    /// Host root the charm writes under (`TMATE_CHARM_ROOT`).
    pub root: PathBuf,
    /// Tool invocations the simulator judged wrong (drift, misuse), for the driver to report.
    pub findings: Vec<String>,
}

/// Network data for one binding, as `network-get` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// Interfaces; empty means Juju has no network config (`network-get` fails).
    pub interfaces: Vec<Interface>,
    /// `egress-subnets`.
    pub egress_subnets: Vec<String>,
    /// `ingress-addresses`.
    pub ingress_addresses: Vec<String>,
}

/// One interface of [`NetworkInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// `mac-address`.
    pub mac_address: String,
    /// `interface-name`.
    pub interface_name: String,
    /// Addresses: `(value, cidr)`.
    pub addresses: Vec<(String, String)>,
}

impl NetworkInfo {
    /// A unit with one IPv4 address on `eth0` (`addr` in a /24).
    #[must_use]
    pub fn ipv4(addr: &str) -> Self {
        Self::with_addresses(&[addr])
    }

    /// A unit whose interface carries the given addresses in order (IPv4 or IPv6); the
    /// ingress address is the first one, egress subnets are host routes.
    #[must_use]
    pub fn with_addresses(addrs: &[&str]) -> Self {
        let addresses = addrs
            .iter()
            .map(|a| ((*a).to_owned(), cidr_of(a)))
            .collect();
        NetworkInfo {
            interfaces: vec![Interface {
                mac_address: "00:16:3e:12:34:56".to_owned(),
                interface_name: "eth0".to_owned(),
                addresses,
            }],
            egress_subnets: addrs.iter().map(|a| host_route(a)).collect(),
            ingress_addresses: addrs.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    /// The machine is up but has no address yet: one interface, no addresses.
    #[must_use]
    pub fn no_address() -> Self {
        NetworkInfo {
            interfaces: vec![Interface {
                mac_address: "00:16:3e:12:34:56".to_owned(),
                interface_name: "eth0".to_owned(),
                addresses: Vec::new(),
            }],
            egress_subnets: Vec::new(),
            ingress_addresses: Vec::new(),
        }
    }

    /// Juju has no network config at all (`network-get` exits 1).
    #[must_use]
    pub fn unavailable() -> Self {
        NetworkInfo::default()
    }

    /// The address Juju puts in `private-address` / `ingress-address` of the unit's bags.
    #[must_use]
    pub fn primary(&self) -> Option<&str> {
        self.ingress_addresses
            .first()
            .map(String::as_str)
            .or_else(|| {
                self.interfaces
                    .first()
                    .and_then(|i| i.addresses.first())
                    .map(|(a, _)| a.as_str())
            })
    }

    /// The JSON `network-get --format=json BINDING` prints (empty collections omitted).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        if !self.interfaces.is_empty() {
            let interfaces: Vec<Value> = self
                .interfaces
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "mac-address": i.mac_address,
                        "interface-name": i.interface_name,
                        "addresses": i.addresses.iter().map(|(value, cidr)| serde_json::json!({
                            "hostname": "", "value": value, "cidr": cidr
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            map.insert("bind-addresses".into(), Value::Array(interfaces));
        }
        if !self.egress_subnets.is_empty() {
            map.insert(
                "egress-subnets".into(),
                serde_json::json!(self.egress_subnets),
            );
        }
        if !self.ingress_addresses.is_empty() {
            map.insert(
                "ingress-addresses".into(),
                serde_json::json!(self.ingress_addresses),
            );
        }
        Value::Object(map)
    }
}

fn cidr_of(addr: &str) -> String {
    if let Ok(std::net::IpAddr::V4(v4)) = addr.parse::<std::net::IpAddr>() {
        let [a, b, c, _] = v4.octets();
        format!("{a}.{b}.{c}.0/24")
    } else {
        // IPv6: a /64 is what clouds hand out; exactness does not matter to the charm.
        let prefix: Vec<&str> = addr.split(':').take(4).collect();
        format!("{}::/64", prefix.join(":"))
    }
}

fn host_route(addr: &str) -> String {
    if addr.contains(':') {
        format!("{addr}/128")
    } else {
        format!("{addr}/32")
    }
}

/// One relation the unit takes part in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    /// Relation id (the `N` in `debug-ssh:N`).
    pub id: u32,
    /// Local endpoint name (`debug-ssh`).
    pub endpoint: String,
    /// Remote application name.
    pub remote_app: String,
    /// Remote units currently in scope, in join order.
    pub remote_units: Vec<String>,
    /// Remote unit databags (departed units' bags stay readable).
    pub remote_unit_data: BTreeMap<String, Databag>,
    /// Remote application databag.
    pub remote_app_data: Databag,
    /// This unit's databag (Juju-managed address keys plus what the charm wrote).
    pub local_unit_data: Databag,
    /// This application's databag (leader writes).
    pub local_app_data: Databag,
    /// Set while `-relation-broken` runs.
    pub broken: bool,
}

impl Relation {
    /// `endpoint:id`, the relation's name for hook tools.
    #[must_use]
    pub fn fake_id(&self) -> String {
        format!("{}:{}", self.endpoint, self.id)
    }
}

/// A workload status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// `maintenance`, `blocked`, `waiting`, `active` (or `unknown` before any).
    pub status: String,
    /// The message.
    pub message: String,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            status: "unknown".to_owned(),
            message: String::new(),
        }
    }
}

impl Status {
    /// A status from its two parts.
    #[must_use]
    pub fn new(status: &str, message: &str) -> Self {
        Status {
            status: status.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// One `status-set`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    /// Whether it targeted the application.
    pub application: bool,
    /// The status.
    pub status: Status,
    /// `JUJU_DISPATCH_PATH` of the hook that set it.
    pub hook: String,
}

/// One `juju-log` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Level after Juju's parsing (`INFO` for an invalid one).
    pub level: String,
    /// The message (prefixed by `endpoint:id: ` in relation hooks, as Juju does).
    pub message: String,
    /// `JUJU_DISPATCH_PATH` of the hook.
    pub hook: String,
}

/// Model proxy settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxySettings {
    /// `JUJU_CHARM_HTTP_PROXY`.
    pub http: String,
    /// `JUJU_CHARM_HTTPS_PROXY`.
    pub https: String,
    /// `JUJU_CHARM_FTP_PROXY`.
    pub ftp: String,
    /// `JUJU_CHARM_NO_PROXY`.
    pub no_proxy: String,
}

/// The hook that is running.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookContext {
    /// `JUJU_DISPATCH_PATH`, e.g. `hooks/install`.
    pub dispatch_path: String,
    /// `JUJU_CONTEXT_ID`.
    pub context_id: String,
    /// Relation of a relation hook.
    pub relation_id: Option<u32>,
    /// `JUJU_REMOTE_UNIT` (None when empty).
    pub remote_unit: Option<String>,
    /// `JUJU_REMOTE_APP`.
    pub remote_app: Option<String>,
    /// `JUJU_DEPARTING_UNIT`.
    pub departing_unit: Option<String>,
    /// Whether this is an action.
    pub is_action: bool,
}

/// A buffered `open-port` / `close-port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortChange {
    /// True for open-port.
    pub open: bool,
    /// Normalised range, e.g. `10022/tcp`.
    pub range: String,
}

/// An action run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Action name.
    pub name: String,
    /// Action id (`JUJU_ACTION_UUID`).
    pub id: u32,
    /// Parameters (with defaults from `actions.yaml`).
    pub params: serde_json::Map<String, Value>,
    /// Results set with `action-set` (nested by dotted keys, leaves are strings).
    pub results: serde_json::Map<String, Value>,
    /// Set by `action-fail`.
    pub failed: bool,
    /// Message from `action-fail` (or `exit status N`).
    pub message: Option<String>,
}

/// One hook-tool invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Tool name (`status-set`).
    pub tool: String,
    /// Arguments after the tool name.
    pub args: Vec<String>,
    /// What the tool read from stdin, if it read it.
    pub stdin: Option<String>,
    /// Exit code.
    pub exit: i32,
    /// `JUJU_DISPATCH_PATH` of the hook, or empty outside a hook.
    pub hook: String,
    /// Peak RSS of the tool process itself, KiB.
    pub max_rss_kib: u64,
}

/// State of the host fakes (dpkg-query, apt-get, systemctl, docker).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostState {
    /// Installed Debian packages.
    pub packages: BTreeSet<String>,
    /// Number of `apt-get update` runs.
    pub apt_updates: u32,
    /// systemd units the fake knows.
    pub units: BTreeMap<String, ServiceUnit>,
    /// Number of `systemctl daemon-reload` runs.
    pub daemon_reloads: u32,
    /// Docker containers.
    pub containers: Vec<Container>,
    /// Number of docker daemon restarts.
    pub docker_restarts: u32,
    /// `daemon.json` as read by the docker daemon at its last (re)start.
    pub docker_daemon_config: Option<String>,
    /// Every host command, in order.
    pub commands: Vec<HostCall>,
    /// Injected failures.
    pub faults: Vec<Fault>,
}

/// A systemd unit as the fake `systemctl` sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceUnit {
    /// Unit file content loaded by the last daemon-reload (or on first use).
    pub loaded: Option<String>,
    /// Unit file content the running service was started from.
    pub running: Option<String>,
    /// `systemctl is-enabled`.
    pub enabled: bool,
    /// `active`, `inactive` or `failed`.
    pub active: String,
    /// Number of (re)starts.
    pub starts: u32,
}

/// A docker container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// `--name`.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// `running`, `exited`, `created`.
    pub state: String,
}

/// One host command run by the charm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCall {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Proxy-related environment variables the command saw.
    pub proxy_env: BTreeMap<String, String>,
    /// Exit code.
    pub exit: i32,
    /// `JUJU_DISPATCH_PATH` of the hook, or empty.
    pub hook: String,
}

/// An injected host-command failure: the first call whose argv starts with `argv_prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Program and leading arguments to match, e.g. `["apt-get", "install"]`.
    pub argv_prefix: Vec<String>,
    /// Exit code to return (after the hang, if any).
    pub exit: i32,
    /// Stderr to print.
    pub stderr: String,
    /// Seconds to sleep before answering (a hang).
    pub hang_secs: u64,
    /// How many more calls it applies to (`None`: forever).
    pub remaining: Option<u32>,
}
