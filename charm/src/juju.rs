//! The Juju hook tools, one trait method per command (ops `hookcmds`), and the real implementation
//! that runs them as processes.
//!
//! See: JUJU.md section 2 for the exact syntax (`--format=json` where output is read, `--` before
//! free text, relation data as JSON on stdin).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::names::HOOK_TOOL_TIMEOUT;
use crate::process::{Argv, Cmd, CommandError};

/// A workload status a unit can set (`error` and `unknown` belong to Juju).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum StatusKind {
    /// Everything works.
    Active,
    /// Waiting for something outside the charm (an address).
    Waiting,
    /// The charm is doing work.
    Maintenance,
    /// The operator must act.
    Blocked,
}

impl StatusKind {
    /// The word `status-set` takes.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StatusKind::Active => "active",
            StatusKind::Waiting => "waiting",
            StatusKind::Maintenance => "maintenance",
            StatusKind::Blocked => "blocked",
        }
    }
}

/// A status with its message. Ordered by priority (ops `_priorities`): blocked > maintenance >
/// waiting > active, so the highest of several is the one to show.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Status {
    /// The kind.
    pub(crate) kind: StatusKind,
    /// The message shown in `juju status`.
    pub(crate) message: String,
}

impl Status {
    /// A status of `kind` with `message`.
    pub(crate) fn new(kind: StatusKind, message: impl Into<String>) -> Status {
        Status {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.kind.as_str(), self.message)
    }
}

/// `juju-log --log-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogLevel {
    /// INFO.
    Info,
    /// WARNING.
    Warning,
    /// ERROR.
    Error,
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
        }
    }
}

/// A failed hook tool call.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HookToolError {
    /// The command failed or timed out.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// Its output was not the JSON we expected.
    #[error("unexpected output from `{argv}`")]
    Output {
        /// The command line.
        argv: Argv,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}

/// Result of a hook tool call.
pub(crate) type ToolResult<T> = Result<T, HookToolError>;

/// `network-get --format=json`: only what the charm reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct NetworkInfo {
    /// Addresses per bound interface.
    #[serde(default, rename = "bind-addresses")]
    pub(crate) bind_addresses: Vec<BindAddress>,
    /// Addresses other units should use to reach this one.
    #[serde(default, rename = "ingress-addresses")]
    pub(crate) ingress_addresses: Vec<String>,
}

/// One `bind-addresses` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct BindAddress {
    /// The interface's addresses.
    #[serde(default)]
    pub(crate) addresses: Vec<InterfaceAddress>,
}

/// One address of an interface; Juju names it `value` (older Juju: `address`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct InterfaceAddress {
    /// The address (Juju >= 2.x).
    #[serde(default)]
    pub(crate) value: Option<String>,
    /// The address (older Juju).
    #[serde(default)]
    pub(crate) address: Option<String>,
}

impl NetworkInfo {
    /// The best address to publish: the first IPv4 bind address, else the first usable IPv6
    /// one (consumers such as action-tmate reject IPv6 literals), else the same from the
    /// ingress addresses. Loopback, unspecified and link-local addresses are useless to clients.
    pub(crate) fn preferred_address(&self) -> Option<IpAddr> {
        let bind = self
            .bind_addresses
            .iter()
            .flat_map(|b| &b.addresses)
            .filter_map(|a| a.value.as_deref().or(a.address.as_deref()));
        let candidates: Vec<IpAddr> = bind
            .chain(self.ingress_addresses.iter().map(String::as_str))
            .filter_map(|s| s.parse::<IpAddr>().ok())
            .filter(is_usable)
            .collect();
        candidates
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| candidates.first())
            .copied()
    }
}

fn is_usable(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_unspecified() || v4.is_link_local()),
        IpAddr::V6(v6) => !(v6.is_loopback() || v6.is_unspecified() || v6.is_unicast_link_local()),
    }
}

/// A unit's view of a relation databag.
pub(crate) type Databag = BTreeMap<String, String>;

/// The Juju hook tools the charm uses, 1:1 with the commands.
pub(crate) trait HookTools {
    /// `status-set --application=False STATUS -- MESSAGE`.
    fn status_set(&self, status: &Status) -> ToolResult<()>;
    /// `juju-log --log-level LEVEL -- MESSAGE`.
    fn juju_log(&self, level: LogLevel, message: &str) -> ToolResult<()>;
    /// `network-get --format=json BINDING`.
    fn network_get(&self, binding: &str) -> ToolResult<NetworkInfo>;
    /// `relation-ids ENDPOINT --format=json`.
    fn relation_ids(&self, endpoint: &str) -> ToolResult<Vec<String>>;
    /// `relation-get --format=json -r ID - UNIT`: the whole databag of `unit`.
    fn relation_get(&self, relation_id: &str, unit: &str) -> ToolResult<Databag>;
    /// `relation-set -r ID --file -` with the settings as JSON on stdin.
    fn relation_set(&self, relation_id: &str, settings: &Databag) -> ToolResult<()>;
    /// `open-port PORT/tcp`.
    fn open_port(&self, port: u16) -> ToolResult<()>;
    /// `close-port PORT/PROTOCOL` (a spec as `opened-ports` lists it).
    fn close_port(&self, spec: &str) -> ToolResult<()>;
    /// `opened-ports --format=json`: e.g. `["10022/tcp"]`.
    fn opened_ports(&self) -> ToolResult<Vec<String>>;
    /// `config-get --format=json`.
    fn config_get(&self) -> ToolResult<serde_json::Map<String, serde_json::Value>>;
    /// `action-set KEY=VALUE ...`.
    fn action_set(&self, results: &[(&str, &str)]) -> ToolResult<()>;
    /// `action-fail -- MESSAGE`.
    fn action_fail(&self, message: &str) -> ToolResult<()>;
    /// `state-get --format=json`: the charm's key/value state.
    fn state_get(&self) -> ToolResult<BTreeMap<String, String>>;
    /// `state-set --file -` with a JSON map on stdin.
    fn state_set(&self, values: &BTreeMap<String, String>) -> ToolResult<()>;
}

/// The real hook tools: processes found on `PATH` (Juju puts its tools dir first).
#[derive(Debug, Default)]
pub(crate) struct JujuCli;

impl JujuCli {
    fn run(&self, argv: &[&str]) -> ToolResult<String> {
        Ok(Cmd::new(argv.iter().copied(), HOOK_TOOL_TIMEOUT)
            .run()?
            .stdout)
    }

    fn run_stdin(&self, argv: &[&str], stdin: &[u8]) -> ToolResult<()> {
        Cmd::new(argv.iter().copied(), HOOK_TOOL_TIMEOUT)
            .stdin(stdin)
            .run()?;
        Ok(())
    }

    /// Runs a `--format=json` command; `null` decodes as `T::default()`.
    fn json<T: DeserializeOwned + Default>(&self, argv: &[&str]) -> ToolResult<T> {
        let stdout = self.run(argv)?;
        let value: Option<T> =
            serde_json::from_str(&stdout).map_err(|source| HookToolError::Output {
                argv: Argv(argv.iter().map(|s| (*s).to_owned()).collect()),
                source,
            })?;
        Ok(value.unwrap_or_default())
    }
}

impl HookTools for JujuCli {
    fn status_set(&self, status: &Status) -> ToolResult<()> {
        self.run(&[
            "status-set",
            "--application=False",
            status.kind.as_str(),
            "--",
            &status.message,
        ])
        .map(drop)
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> ToolResult<()> {
        self.run(&["juju-log", "--log-level", level.as_str(), "--", message])
            .map(drop)
    }

    fn network_get(&self, binding: &str) -> ToolResult<NetworkInfo> {
        self.json(&["network-get", "--format=json", binding])
    }

    fn relation_ids(&self, endpoint: &str) -> ToolResult<Vec<String>> {
        self.json(&["relation-ids", endpoint, "--format=json"])
    }

    fn relation_get(&self, relation_id: &str, unit: &str) -> ToolResult<Databag> {
        self.json(&[
            "relation-get",
            "--format=json",
            "-r",
            relation_id,
            "-",
            unit,
        ])
    }

    fn relation_set(&self, relation_id: &str, settings: &Databag) -> ToolResult<()> {
        let json = serde_json::to_vec(settings).map_err(|source| HookToolError::Output {
            argv: Argv(vec!["relation-set".into()]),
            source,
        })?;
        self.run_stdin(&["relation-set", "-r", relation_id, "--file", "-"], &json)
    }

    fn open_port(&self, port: u16) -> ToolResult<()> {
        self.run(&["open-port", &format!("{port}/tcp")]).map(drop)
    }

    fn close_port(&self, spec: &str) -> ToolResult<()> {
        self.run(&["close-port", spec]).map(drop)
    }

    fn opened_ports(&self) -> ToolResult<Vec<String>> {
        self.json(&["opened-ports", "--format=json"])
    }

    fn config_get(&self) -> ToolResult<serde_json::Map<String, serde_json::Value>> {
        self.json(&["config-get", "--format=json"])
    }

    fn action_set(&self, results: &[(&str, &str)]) -> ToolResult<()> {
        let pairs: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut argv = vec!["action-set"];
        argv.extend(pairs.iter().map(String::as_str));
        self.run(&argv).map(drop)
    }

    fn action_fail(&self, message: &str) -> ToolResult<()> {
        self.run(&["action-fail", "--", message]).map(drop)
    }

    fn state_get(&self) -> ToolResult<BTreeMap<String, String>> {
        self.json(&["state-get", "--format=json"])
    }

    fn state_set(&self, values: &BTreeMap<String, String>) -> ToolResult<()> {
        let json = serde_json::to_vec(values).map_err(|source| HookToolError::Output {
            argv: Argv(vec!["state-set".into()]),
            source,
        })?;
        self.run_stdin(&["state-set", "--file", "-"], &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(json: &str) -> NetworkInfo {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn first_bind_address_of_juju_docs_example() {
        let info = net(
            r#"{"bind-addresses":[{"mac-address":"00:16:3e:12:34:56","interface-name":"eth0","addresses":[{"hostname":"","value":"10.0.0.5","cidr":"10.0.0.0/24"}]}],"egress-subnets":["10.0.0.5/32"],"ingress-addresses":["10.0.0.5"]}"#,
        );
        assert_eq!(info.preferred_address(), Some("10.0.0.5".parse().unwrap()));
    }

    #[test]
    fn ipv4_preferred_over_an_earlier_ipv6_across_all_bind_addresses() {
        let info = net(r#"{"bind-addresses":[
                {"addresses":[{"value":"fe80::1"},{"value":"2001:db8::5"}]},
                {"addresses":[{"value":"192.0.2.7"}]}]}"#);
        assert_eq!(info.preferred_address(), Some("192.0.2.7".parse().unwrap()));
    }

    #[test]
    fn ipv6_when_it_is_all_there_is_but_never_link_local() {
        let info = net(
            r#"{"bind-addresses":[{"addresses":[{"value":"fe80::1"},{"value":"2001:db8::5"}]}]}"#,
        );
        assert_eq!(
            info.preferred_address(),
            Some("2001:db8::5".parse().unwrap())
        );
        let info = net(r#"{"bind-addresses":[{"addresses":[{"value":"fe80::1"}]}]}"#);
        assert_eq!(info.preferred_address(), None);
    }

    #[test]
    fn older_juju_address_key_and_ingress_fallback() {
        let info = net(r#"{"bind-addresses":[{"addresses":[{"address":"10.1.1.1"}]}]}"#);
        assert_eq!(info.preferred_address(), Some("10.1.1.1".parse().unwrap()));
        let info = net(r#"{"bind-addresses":[],"ingress-addresses":["not-an-ip","10.2.2.2"]}"#);
        assert_eq!(info.preferred_address(), Some("10.2.2.2".parse().unwrap()));
    }

    #[test]
    fn no_address_at_all() {
        assert_eq!(net("{}").preferred_address(), None);
        assert_eq!(
            net(r#"{"bind-addresses":[{"addresses":[{"value":""}]}]}"#).preferred_address(),
            None
        );
        assert_eq!(
            net(r#"{"bind-addresses":[{"addresses":[{"value":"127.0.0.1"}]}]}"#)
                .preferred_address(),
            None
        );
    }

    #[test]
    fn status_priority_order() {
        let blocked = Status::new(StatusKind::Blocked, "b");
        let maintenance = Status::new(StatusKind::Maintenance, "m");
        let waiting = Status::new(StatusKind::Waiting, "w");
        let active = Status::new(StatusKind::Active, "");
        let mut all = vec![
            waiting.clone(),
            active.clone(),
            blocked.clone(),
            maintenance.clone(),
        ];
        all.sort();
        assert_eq!(all, vec![active, waiting, maintenance, blocked]);
    }
}
