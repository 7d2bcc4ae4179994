//! The hook tools (`status-set`, `relation-get`, ...) and host fakes behind one entry point.
//!
//! Each call locks the state file, runs the tool against the model, records the call and
//! writes the state back. Parsing and error texts follow `juju/juju`
//! `internal/worker/uniter/runner/jujuc/*.go`: an `Init` (usage) error exits 2, a `Run`
//! error exits 1, both print `ERROR <message>` on stderr.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use super::flags::{self, FlagError, Kind, Parsed, Spec};
use super::host;
use super::model::{ModelState, PortChange, StatusRecord, ToolCall};
use super::store::StateFile;
use super::yaml;

/// Every hook tool the simulator implements.
pub const HOOK_TOOLS: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "is-leader",
    "juju-log",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-set",
];

/// Hook tools Juju has that the simulator does not implement: calling one is a finding.
pub const UNSIMULATED_TOOLS: &[&str] = &[
    "secret-add",
    "secret-get",
    "secret-set",
    "secret-remove",
    "secret-grant",
    "secret-revoke",
    "secret-ids",
    "secret-info-get",
    "leader-get",
    "leader-set",
    "goal-state",
    "credential-get",
    "storage-get",
    "storage-list",
    "storage-add",
    "resource-get",
    "payload-register",
    "payload-unregister",
    "payload-status-set",
    "pod-spec-set",
    "k8s-spec-set",
    "juju-reboot",
    "relation-model-get",
    "unit-get",
    "add-metric",
];

/// What a tool process must do after the state is written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ToolOutcome {
    /// Exit code.
    pub code: i32,
    /// Bytes for stdout.
    pub stdout: Vec<u8>,
    /// Bytes for stderr.
    pub stderr: Vec<u8>,
    /// Seconds to sleep before answering (an injected hang).
    pub hang_secs: u64,
}

/// An error a hook tool reports.
#[derive(Debug)]
enum ToolError {
    /// `Init` / flag error: exit 2.
    Usage(String),
    /// `Run` error: exit 1.
    Run(String),
    /// `--help`: exit 0.
    Help,
}

type ToolResult = Result<(), ToolError>;

struct Ctx<'a> {
    out: Vec<u8>,
    err: Vec<u8>,
    stdin: &'a mut dyn Read,
    stdin_used: Option<String>,
}

impl Ctx<'_> {
    fn read_stdin(&mut self) -> Result<String, ToolError> {
        let mut text = String::new();
        self.stdin
            .read_to_string(&mut text)
            .map_err(|e| ToolError::Run(format!("read stdin: {e}")))?;
        self.stdin_used = Some(text.clone());
        Ok(text)
    }
}

/// Runs the tool or host fake `name` with `args` against the state file.
///
/// `env` is the tool process's environment (host fakes record proxy variables from it).
/// Never panics on bad input: every problem becomes an exit code and a message.
pub fn run(
    name: &str,
    args: &[String],
    stdin: &mut dyn Read,
    env: &BTreeMap<String, String>,
    state: &Path,
) -> ToolOutcome {
    let file = StateFile::open(state);
    if host::PROGRAMS.contains(&name) {
        let result = file.update(|st| host::run(st, name, args, env));
        return result.unwrap_or_else(|e| ToolOutcome {
            code: 2,
            stderr: format!("juju-sim-tool: {e}\n").into_bytes(),
            ..Default::default()
        });
    }
    let result = file.update(|st| {
        injected_fault(st, name, args)
            .unwrap_or_else(|| run_hook_tool(st, name, args, stdin, exec_context(env)))
    });
    result.unwrap_or_else(|e| ToolOutcome {
        code: 2,
        stderr: format!("ERROR juju-sim-tool: {e}\n").into_bytes(),
        ..Default::default()
    })
}

/// Marker in the `JUJU_CONTEXT_ID` of a `juju exec`-style run ([`Sim::exec_environment`]).
///
/// [`Sim::exec_environment`]: super::Sim::exec_environment
pub(crate) const EXEC_CONTEXT_MARKER: &str = "-exec-";

/// The `JUJU_DISPATCH_PATH` of a `juju exec`-style run calling a tool: such a run has a
/// context of its own (tools called from it are attributed to it, never "outside a hook").
fn exec_context(env: &BTreeMap<String, String>) -> Option<String> {
    env.get("JUJU_CONTEXT_ID")
        .filter(|id| id.contains(EXEC_CONTEXT_MARKER))
        .and_then(|_| env.get("JUJU_DISPATCH_PATH").cloned())
}

fn run_hook_tool(
    st: &mut ModelState,
    name: &str,
    args: &[String],
    stdin: &mut dyn Read,
    exec: Option<String>,
) -> ToolOutcome {
    let mut ctx = Ctx {
        out: Vec::new(),
        err: Vec::new(),
        stdin,
        stdin_used: None,
    };
    let hook = exec
        .clone()
        .or_else(|| st.hook.as_ref().map(|h| h.dispatch_path.clone()))
        .unwrap_or_default();
    if st.hook.is_none() && exec.is_none() {
        st.findings.push(format!(
            "{name} called outside a hook (no JUJU_CONTEXT_ID context)"
        ));
    }
    let result = match name {
        "action-fail" => action_fail(st, args),
        "action-get" => action_get(st, args, &mut ctx),
        "action-log" => action_log(st, args),
        "action-set" => action_set(st, args),
        "application-version-set" => application_version_set(st, args),
        "close-port" | "open-port" => port(st, name == "open-port", args, &mut ctx),
        "config-get" => config_get(st, args, &mut ctx),
        "is-leader" => is_leader(st, args, &mut ctx),
        "juju-log" => juju_log(st, args, &mut ctx),
        "network-get" => network_get(st, args, &mut ctx),
        "opened-ports" => opened_ports(st, args, &mut ctx),
        "relation-get" => relation_get(st, args, &mut ctx),
        "relation-ids" => relation_ids(st, args, &mut ctx),
        "relation-list" => relation_list(st, args, &mut ctx),
        "relation-set" => relation_set(st, args, &mut ctx),
        "state-delete" => state_delete(st, args),
        "state-get" => state_get(st, args, &mut ctx),
        "state-set" => state_set(st, args, &mut ctx),
        "status-set" => status_set(st, args),
        other => {
            st.findings.push(format!(
                "hook tool {other} is not simulated (args {args:?})"
            ));
            Err(ToolError::Usage(format!(
                "juju-sim-tool: hook tool {other:?} is not simulated"
            )))
        }
    };
    let code = match result {
        Ok(()) => 0,
        Err(ToolError::Help) => 0,
        Err(ToolError::Usage(message)) => {
            ctx.err
                .extend_from_slice(format!("ERROR {message}\n").as_bytes());
            2
        }
        Err(ToolError::Run(message)) => {
            ctx.err
                .extend_from_slice(format!("ERROR {message}\n").as_bytes());
            1
        }
    };
    st.calls.push(ToolCall {
        tool: name.to_owned(),
        args: args.to_vec(),
        stdin: ctx.stdin_used.take(),
        exit: code,
        hook,
        max_rss_kib: own_max_rss_kib(),
    });
    ToolOutcome {
        code,
        stdout: ctx.out,
        stderr: ctx.err,
        hang_secs: 0,
    }
}

/// A failure or hang injected for a hook tool (`Sim::fail_host_command` and
/// `Sim::hang_host_command` match hook tools by argv prefix too, e.g. `["network-get"]`).
/// The call is recorded with the injected exit code; nothing else changes.
fn injected_fault(st: &mut ModelState, name: &str, args: &[String]) -> Option<ToolOutcome> {
    let mut argv = vec![name.to_owned()];
    argv.extend(args.iter().cloned());
    let fault = st
        .host
        .faults
        .iter_mut()
        .find(|f| argv.starts_with(&f.argv_prefix) && f.remaining != Some(0))?;
    if let Some(n) = fault.remaining.as_mut() {
        *n -= 1;
    }
    let outcome = ToolOutcome {
        code: fault.exit,
        stdout: Vec::new(),
        stderr: fault.stderr.clone().into_bytes(),
        hang_secs: fault.hang_secs,
    };
    let hook = st
        .hook
        .as_ref()
        .map(|h| h.dispatch_path.clone())
        .unwrap_or_default();
    st.calls.push(ToolCall {
        tool: name.to_owned(),
        args: args.to_vec(),
        stdin: None,
        exit: outcome.code,
        hook,
        max_rss_kib: own_max_rss_kib(),
    });
    Some(outcome)
}

/// Peak RSS of this process from `/proc/self/status` (`VmHWM`), KiB.
fn own_max_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

// ----- shared parsing -------------------------------------------------------------------

const FORMAT: Spec = Spec {
    names: &["format"],
    kind: Kind::Value,
};
const RELATION: Spec = Spec {
    names: &["r", "relation"],
    kind: Kind::Value,
};
const FORMATS: &[&str] = &["json", "smart", "yaml"];

/// Parses a relation id flag value like Juju's `relationIdValue.Set`.
fn resolve_relation(st: &ModelState, value: &str) -> Result<u32, String> {
    let trimmed = value.rsplit(':').next().unwrap_or(value);
    let id: i64 = trimmed
        .parse()
        .map_err(|_| "invalid relation id".to_owned())?;
    u32::try_from(id)
        .ok()
        .filter(|id| st.relations.contains_key(id))
        .ok_or_else(|| "relation not found".to_owned())
}

fn parse(st: &ModelState, args: &[String], specs: &[Spec]) -> Result<Parsed, ToolError> {
    flags::parse(args, specs, &mut |name, value| match name {
        "r" => resolve_relation(st, value).map(|_| ()),
        "format" if !FORMATS.contains(&value) => Err(format!("unknown format {value:?}")),
        _ => Ok(()),
    })
    .map_err(|e| match e {
        FlagError::Help => ToolError::Help,
        FlagError::Message(m) => ToolError::Usage(m),
    })
}

/// The relation from `-r`, else the hook's relation.
fn relation_id(st: &ModelState, parsed: &Parsed) -> Option<u32> {
    match parsed.value("r") {
        Some(v) => resolve_relation(st, v).ok(),
        None => st.hook.as_ref().and_then(|h| h.relation_id),
    }
}

fn check_empty(rest: &[String]) -> ToolResult {
    flags::check_empty(rest).map_err(ToolError::Usage)
}

/// `key=value` arguments as `keyvalues.Parse(args, true)` reads them.
fn key_values(args: &[String]) -> Result<Vec<(String, String)>, ToolError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(ToolError::Usage(format!(
                "expected \"key=value\", got {arg:?}"
            )));
        };
        if out.iter().any(|(k, _)| k == key) {
            return Err(ToolError::Usage(format!(
                "key {key:?} specified more than once"
            )));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// Reads a `--file` settings map (YAML or JSON; scalars become strings as goyaml does).
fn read_settings_file(path: &str, ctx: &mut Ctx<'_>) -> Result<Vec<(String, String)>, ToolError> {
    let text = if path == "-" {
        ctx.read_stdin()?
    } else {
        std::fs::read_to_string(path).map_err(|e| ToolError::Run(format!("open {path}: {e}")))?
    };
    let value = match serde_json::from_str::<Value>(&text) {
        Ok(v) => v,
        Err(_) => yaml::parse(&text).map_err(|e| ToolError::Run(format!("yaml: {e}")))?,
    };
    let map = match value {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        other => {
            return Err(ToolError::Run(format!(
                "yaml: unmarshal errors: cannot unmarshal {other} into map[string]string"
            )));
        }
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let v = match v {
            Value::String(s) => s,
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(ToolError::Run(format!(
                    "yaml: unmarshal errors: cannot unmarshal {other} into string (key {k:?})"
                )));
            }
        };
        out.push((k, v));
    }
    Ok(out)
}

// ----- output ----------------------------------------------------------------------------

fn write(ctx: &mut Ctx<'_>, parsed: &Parsed, value: &Value) {
    let format = parsed.value("format").unwrap_or("smart");
    let mut text = render(value, format);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    ctx.out.extend_from_slice(text.as_bytes());
}

/// Renders a value as juju/cmd's `smart`, `json` or `yaml` formatter would.
#[must_use]
pub fn render(value: &Value, format: &str) -> String {
    match format {
        "json" => value.to_string(),
        "yaml" => {
            if value.is_null() {
                String::new()
            } else {
                yaml_emit(value, 0)
            }
        }
        _ => match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Bool(true) => "True".to_owned(),
            Value::Bool(false) => "False".to_owned(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
            other => yaml_emit(other, 0),
        },
    }
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s),
        Value::Array(_) | Value::Object(_) => String::new(),
    }
}

fn yaml_string(s: &str) -> String {
    let looks_typed = s.parse::<f64>().is_ok()
        || matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | "y" | "n"
        );
    let special = s.is_empty()
        || s.starts_with(|c: char| " -?:,[]{}#&*!|>'\"%@`".contains(c))
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #");
    if s.contains('\n') || s.contains('\t') {
        serde_json::to_string(s).unwrap_or_default()
    } else if looks_typed || special {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_owned()
    }
}

fn yaml_emit(value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{}\n"),
        Value::Array(items) if items.is_empty() => out.push_str("[]\n"),
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        out.push_str(&format!(
                            "{pad}{}:\n{}",
                            yaml_string(k),
                            yaml_emit(v, indent + 2)
                        ));
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!(
                            "{pad}{}:\n{}",
                            yaml_string(k),
                            yaml_emit(v, indent)
                        ));
                    }
                    Value::Object(_) => out.push_str(&format!("{pad}{}: {{}}\n", yaml_string(k))),
                    Value::Array(_) => out.push_str(&format!("{pad}{}: []\n", yaml_string(k))),
                    scalar => out.push_str(&format!(
                        "{pad}{}: {}\n",
                        yaml_string(k),
                        yaml_scalar(scalar)
                    )),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        let nested = yaml_emit(item, indent + 2);
                        out.push_str(&format!("{pad}- {}", nested.trim_start()));
                    }
                    scalar => out.push_str(&format!("{pad}- {}\n", yaml_scalar(scalar))),
                }
            }
        }
        scalar => out.push_str(&format!("{}\n", yaml_scalar(scalar))),
    }
    out
}

// ----- the tools -------------------------------------------------------------------------

fn status_set(st: &mut ModelState, args: &[String]) -> ToolResult {
    let p = parse(
        st,
        args,
        &[Spec {
            names: &["application"],
            kind: Kind::Bool,
        }],
    )?;
    let Some(status) = p.args.first() else {
        return Err(ToolError::Usage(
            "invalid args, require <status> [message]".into(),
        ));
    };
    const VALID: [&str; 4] = ["maintenance", "blocked", "waiting", "active"];
    if !VALID.contains(&status.as_str()) {
        return Err(ToolError::Usage(format!(
            "invalid status {status:?}, expected one of [{}]",
            VALID.join(" ")
        )));
    }
    let message = p.args.get(1).cloned().unwrap_or_default();
    if p.args.len() > 2 {
        check_empty(&p.args[2..])?;
    }
    let application = p.bool("application");
    if application && !st.leader {
        return Err(ToolError::Run("this unit is not the leader".into()));
    }
    let new = super::model::Status::new(status, &message);
    let hook = st
        .hook
        .as_ref()
        .map(|h| h.dispatch_path.clone())
        .unwrap_or_default();
    if application {
        st.app_status = new.clone();
    } else {
        st.unit_status = new.clone();
    }
    st.status_history.push(StatusRecord {
        application,
        status: new,
        hook,
    });
    Ok(())
}

fn application_version_set(st: &mut ModelState, args: &[String]) -> ToolResult {
    let p = parse(st, args, &[])?;
    let Some(version) = p.args.first() else {
        return Err(ToolError::Usage("no version specified".into()));
    };
    check_empty(&p.args[1..])?;
    st.workload_version = Some(version.clone());
    Ok(())
}

fn juju_log(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(
        st,
        args,
        &[
            Spec {
                names: &["debug"],
                kind: Kind::Bool,
            },
            Spec {
                names: &["l", "log-level"],
                kind: Kind::Value,
            },
            FORMAT,
        ],
    )?;
    if p.args.is_empty() {
        return Err(ToolError::Usage("no message specified".into()));
    }
    if p.value("format").is_some() {
        ctx.err
            .extend_from_slice(b"--format flag deprecated for command \"juju-log\"");
    }
    let hook = st
        .hook
        .as_ref()
        .map(|h| h.dispatch_path.clone())
        .unwrap_or_default();
    let level = if p.bool("debug") {
        "DEBUG".to_owned()
    } else {
        let requested = p.value("l").unwrap_or("INFO").to_ascii_uppercase();
        match requested.as_str() {
            "TRACE" | "DEBUG" | "INFO" | "ERROR" | "CRITICAL" => requested,
            "WARN" | "WARNING" => "WARNING".to_owned(),
            _ => {
                st.findings.push(format!(
                    "juju-log: invalid log level {requested:?} (Juju logs it at INFO)"
                ));
                "INFO".to_owned()
            }
        }
    };
    let prefix = st
        .hook
        .as_ref()
        .and_then(|h| h.relation_id)
        .and_then(|id| st.relations.get(&id))
        .map(|r| format!("{}: ", r.fake_id()))
        .unwrap_or_default();
    st.logs.push(super::model::LogLine {
        level,
        message: format!("{prefix}{}", p.args.join(" ")),
        hook,
    });
    Ok(())
}

fn is_leader(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(st, args, &[FORMAT])?;
    check_empty(&p.args)?;
    write(ctx, &p, &Value::Bool(st.leader));
    Ok(())
}

fn network_get(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(
        st,
        args,
        &[
            FORMAT,
            Spec {
                names: &["primary-address"],
                kind: Kind::Bool,
            },
            Spec {
                names: &["bind-address"],
                kind: Kind::Bool,
            },
            Spec {
                names: &["ingress-address"],
                kind: Kind::Bool,
            },
            Spec {
                names: &["egress-subnets"],
                kind: Kind::Bool,
            },
            RELATION,
        ],
    )?;
    let Some(binding) = p.args.first() else {
        return Err(ToolError::Usage("no arguments specified".into()));
    };
    if binding.is_empty() {
        return Err(ToolError::Usage("no binding name specified".into()));
    }
    check_empty(&p.args[1..])?;
    if binding != "juju-info" && !st.endpoints.contains(binding) {
        return Err(ToolError::Run(format!(
            "undefined for unit charm: binding name {binding:?} not defined by the unit's charm"
        )));
    }
    let info = st.bindings.get(binding).unwrap_or(&st.network).clone();
    if info.interfaces.is_empty() {
        return Err(ToolError::Run(format!(
            "no network config found for binding {binding:?}"
        )));
    }
    let keys: Vec<&str> = ["bind-address", "ingress-address", "egress-subnets"]
        .into_iter()
        .filter(|k| p.bool(k))
        .collect();
    let first_addr = info.interfaces[0].addresses.first().map(|(a, _)| a.clone());
    if p.bool("primary-address") {
        if !keys.is_empty() {
            return Err(ToolError::Run(
                "--primary-address must be the only flag specified".into(),
            ));
        }
        let addr = first_addr.ok_or_else(|| {
            ToolError::Run(format!(
                "no addresses attached to space for binding {binding:?}"
            ))
        })?;
        write(ctx, &p, &Value::String(addr));
        return Ok(());
    }
    if keys.is_empty() {
        write(ctx, &p, &info.to_json());
        return Ok(());
    }
    let mut out = Map::new();
    for key in &keys {
        let value = match *key {
            "egress-subnets" => serde_json::json!(info.egress_subnets),
            "ingress-address" => match info
                .ingress_addresses
                .first()
                .cloned()
                .or_else(|| first_addr.clone())
            {
                Some(a) => Value::String(a),
                None => {
                    return Err(ToolError::Run(format!(
                        "no addresses attached to space for binding {binding:?}"
                    )));
                }
            },
            _ => match &first_addr {
                Some(a) => Value::String(a.clone()),
                // Juju indexes Addresses[0] here and the agent would panic; report it.
                None => {
                    return Err(ToolError::Run(format!(
                        "no addresses attached to space for binding {binding:?}"
                    )));
                }
            },
        };
        out.insert((*key).to_owned(), value);
    }
    if keys.len() == 1 {
        write(ctx, &p, &out[keys[0]]);
    } else {
        write(ctx, &p, &Value::Object(out));
    }
    Ok(())
}

fn relation_ids(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(st, args, &[FORMAT])?;
    let name = match p.args.first() {
        Some(n) => n.clone(),
        None => {
            match st
                .hook
                .as_ref()
                .and_then(|h| h.relation_id)
                .and_then(|id| st.relations.get(&id))
            {
                Some(r) => r.endpoint.clone(),
                None => return Err(ToolError::Usage("no endpoint name specified".into())),
            }
        }
    };
    if p.args.len() > 1 {
        check_empty(&p.args[1..])?;
    }
    let ids: Vec<Value> = st
        .relations
        .values()
        .filter(|r| r.endpoint == name)
        .map(|r| Value::String(r.fake_id()))
        .collect();
    write(ctx, &p, &Value::Array(ids));
    Ok(())
}

fn relation_list(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(
        st,
        args,
        &[
            FORMAT,
            RELATION,
            Spec {
                names: &["app"],
                kind: Kind::Bool,
            },
        ],
    )?;
    let Some(id) = relation_id(st, &p) else {
        return Err(ToolError::Usage("no relation id specified".into()));
    };
    check_empty(&p.args)?;
    let relation = &st.relations[&id];
    if p.bool("app") {
        write(ctx, &p, &Value::String(relation.remote_app.clone()));
    } else {
        let units: Vec<Value> = relation
            .remote_units
            .iter()
            .cloned()
            .map(Value::String)
            .collect();
        write(ctx, &p, &Value::Array(units));
    }
    Ok(())
}

fn is_valid_application(name: &str) -> bool {
    // names.IsValidApplication: ^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*$
    let mut parts = name.split('-');
    let Some(first) = parts.next() else {
        return false;
    };
    let ok_first = first.starts_with(|c: char| c.is_ascii_lowercase())
        && first
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    ok_first
        && parts.all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && p.chars().any(|c| c.is_ascii_lowercase())
        })
}

fn is_valid_unit(name: &str) -> bool {
    name.split_once('/').is_some_and(|(app, n)| {
        is_valid_application(app) && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
    })
}

fn relation_get(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(
        st,
        args,
        &[
            FORMAT,
            RELATION,
            Spec {
                names: &["app"],
                kind: Kind::Bool,
            },
        ],
    )?;
    let Some(id) = relation_id(st, &p) else {
        return Err(ToolError::Usage("no relation id specified".into()));
    };
    let mut rest: &[String] = &p.args;
    let mut key = String::new();
    if let Some(first) = rest.first() {
        key = if first == "-" {
            String::new()
        } else {
            first.clone()
        };
        rest = &rest[1..];
    }
    let mut application = p.bool("app");
    let hook = st.hook.clone().unwrap_or_default();
    let target = if let Some(given) = rest.first() {
        rest = &rest[1..];
        if application {
            if is_valid_application(given) {
                given.clone()
            } else if is_valid_unit(given) {
                given.split('/').next().unwrap_or_default().to_owned()
            } else {
                String::new()
            }
        } else {
            if !is_valid_unit(given) {
                if is_valid_application(given) {
                    return Err(ToolError::Usage(format!(
                        "expected unit name, got application name {given:?}"
                    )));
                }
                return Err(ToolError::Usage(format!("invalid unit name {given:?}")));
            }
            given.clone()
        }
    } else if application {
        hook.remote_app
            .clone()
            .ok_or_else(|| ToolError::Usage("no unit or application specified".into()))?
    } else if let Some(unit) = hook.remote_unit.clone() {
        unit
    } else if let Some(app) = hook.remote_app.clone() {
        application = true;
        app
    } else {
        return Err(ToolError::Usage("no unit or application specified".into()));
    };
    check_empty(rest)?;
    let local_app = st.unit.split('/').next().unwrap_or_default().to_owned();
    let relation = &st.relations[&id];
    let bag = if target == st.unit {
        if application {
            &relation.local_app_data
        } else {
            &relation.local_unit_data
        }
    } else if target == local_app && application {
        if !st.leader {
            return Err(ToolError::Run("permission denied".into()));
        }
        &relation.local_app_data
    } else if application {
        if target != relation.remote_app {
            return Err(ToolError::Run(format!(
                "cannot read settings for application {target:?} in relation {:?}: permission denied",
                relation.fake_id()
            )));
        }
        &relation.remote_app_data
    } else {
        match relation.remote_unit_data.get(&target) {
            Some(bag) => bag,
            None => {
                return Err(ToolError::Run(format!(
                    "cannot read settings for unit {target:?} in relation {:?}: unit {target:?}: settings not found",
                    relation.fake_id()
                )));
            }
        }
    };
    let value = if key.is_empty() {
        serde_json::to_value(bag).unwrap_or(Value::Null)
    } else {
        bag.get(&key).cloned().map_or(Value::Null, Value::String)
    };
    write(ctx, &p, &value);
    Ok(())
}

fn relation_set(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(
        st,
        args,
        &[
            RELATION,
            Spec {
                names: &["file"],
                kind: Kind::Value,
            },
            Spec {
                names: &["app"],
                kind: Kind::Bool,
            },
            FORMAT,
        ],
    )?;
    let Some(id) = relation_id(st, &p) else {
        return Err(ToolError::Usage("no relation id specified".into()));
    };
    let overrides = key_values(&p.args)?;
    if p.value("format").is_some() {
        ctx.err
            .extend_from_slice(b"--format flag deprecated for command \"relation-set\"");
    }
    let mut settings = match p.value("file") {
        Some(path) => read_settings_file(path, ctx)?,
        None => Vec::new(),
    };
    for (k, v) in overrides {
        settings.retain(|(key, _)| *key != k);
        settings.push((k, v));
    }
    let application = p.bool("app");
    if application && !st.leader {
        return Err(ToolError::Run("cannot write relation settings".into()));
    }
    let relation = st
        .relations
        .get_mut(&id)
        .ok_or_else(|| ToolError::Run("relation not found".into()))?;
    let bag = if application {
        &mut relation.local_app_data
    } else {
        &mut relation.local_unit_data
    };
    for (k, v) in settings {
        if v.is_empty() {
            bag.remove(&k);
        } else {
            bag.insert(k, v);
        }
    }
    Ok(())
}

/// `network.ParsePortRange` on a lower-cased argument, normalised for display.
fn parse_port_range(text: &str) -> Result<String, String> {
    if text == "icmp" {
        return Ok("icmp".to_owned());
    }
    let (ports, protocol) = match text.split_once('/') {
        Some((ports, protocol)) => (ports, protocol),
        None => (text, "tcp"),
    };
    if !["tcp", "udp"].contains(&protocol) {
        return Err(format!(
            "invalid protocol {protocol:?}, expected \"tcp\", \"udp\", or \"icmp\""
        ));
    }
    let port = |s: &str| -> Result<u16, String> {
        s.parse::<u16>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| format!("invalid port {s:?}"))
    };
    match ports.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (port(from)?, port(to)?);
            if from > to {
                return Err(format!("invalid port range {text:?}"));
            }
            Ok(if from == to {
                format!("{from}/{protocol}")
            } else {
                format!("{from}-{to}/{protocol}")
            })
        }
        None => Ok(format!("{}/{protocol}", port(ports)?)),
    }
}

fn port(st: &mut ModelState, open: bool, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let name = if open { "open-port" } else { "close-port" };
    let p = parse(
        st,
        args,
        &[
            FORMAT,
            Spec {
                names: &["endpoints"],
                kind: Kind::Value,
            },
        ],
    )?;
    let Some(first) = p.args.first() else {
        return Err(ToolError::Usage("no port or range specified".into()));
    };
    let range = parse_port_range(&first.to_ascii_lowercase()).map_err(ToolError::Usage)?;
    check_empty(&p.args[1..])?;
    if p.value("format").is_some() {
        ctx.err
            .extend_from_slice(format!("--format flag deprecated for command {name:?}").as_bytes());
    }
    if let Some(endpoints) = p.value("endpoints").filter(|e| !e.is_empty()) {
        for endpoint in endpoints.split(',').map(str::trim) {
            if !st.endpoints.contains(endpoint) {
                return Err(ToolError::Run(format!("endpoint {endpoint:?} not found")));
            }
        }
    }
    st.pending_ports.push(PortChange { open, range });
    Ok(())
}

fn opened_ports(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(
        st,
        args,
        &[
            FORMAT,
            Spec {
                names: &["endpoints"],
                kind: Kind::Bool,
            },
        ],
    )?;
    check_empty(&p.args)?;
    // Pending open-port calls of this hook are not listed (opened-ports.go doc).
    let ports: Vec<Value> = st
        .opened_ports
        .iter()
        .map(|r| {
            if p.bool("endpoints") {
                format!("{r} (*)")
            } else {
                r.clone()
            }
        })
        .map(Value::String)
        .collect();
    write(ctx, &p, &Value::Array(ports));
    Ok(())
}

fn config_get(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(
        st,
        args,
        &[
            FORMAT,
            Spec {
                names: &["a", "all"],
                kind: Kind::Bool,
            },
        ],
    )?;
    let key = p.args.first().cloned().unwrap_or_default();
    if !key.is_empty() && p.bool("a") {
        return Err(ToolError::Usage(format!(
            "cannot use argument --all together with key {key:?}"
        )));
    }
    if p.args.len() > 1 {
        check_empty(&p.args[1..])?;
    }
    let value = if key.is_empty() {
        let map: Map<String, Value> = st
            .config
            .iter()
            .filter(|(_, v)| p.bool("a") || !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Value::Object(map)
    } else {
        st.config.get(&key).cloned().unwrap_or(Value::Null)
    };
    write(ctx, &p, &value);
    Ok(())
}

fn running_action(st: &mut ModelState) -> Result<&mut super::model::ActionRecord, ToolError> {
    let in_action = st.hook.as_ref().is_some_and(|h| h.is_action);
    match st.action.as_mut() {
        Some(action) if in_action => Ok(action),
        _ => Err(ToolError::Run("not running an action".into())),
    }
}

fn action_get(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(st, args, &[FORMAT])?;
    let key = p.args.first().cloned().unwrap_or_default();
    if p.args.len() > 1 {
        check_empty(&p.args[1..])?;
    }
    let params = Value::Object(running_action(st)?.params.clone());
    let value = if key.is_empty() {
        params
    } else {
        key.split('.')
            .try_fold(&params, |v, k| v.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    };
    write(ctx, &p, &value);
    Ok(())
}

fn is_action_key(key: &str) -> bool {
    // ^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !key.is_empty()
        && key.starts_with(ok)
        && key.ends_with(ok)
        && key.chars().all(|c| ok(c) || c == '-')
}

const RESERVED_ACTION_KEYS: [&str; 4] = ["stdout", "stdout-encoding", "stderr", "stderr-encoding"];

fn action_set(st: &mut ModelState, args: &[String]) -> ToolResult {
    let p = parse(st, args, &[])?;
    let mut entries = Vec::new();
    for arg in &p.args {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ToolError::Usage(format!(
                "argument {arg:?} must be of the form key...=value"
            )));
        };
        let keys: Vec<&str> = key.split('.').collect();
        for k in &keys {
            if !is_action_key(k) {
                return Err(ToolError::Usage(format!(
                    "key {k:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods"
                )));
            }
            if RESERVED_ACTION_KEYS.contains(k) {
                return Err(ToolError::Usage(format!(
                    "cannot set reserved action key \"{k}\""
                )));
            }
        }
        entries.push((
            keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>(),
            value.to_owned(),
        ));
    }
    let action = running_action(st)?;
    for (keys, value) in entries {
        let mut map = &mut action.results;
        for k in &keys[..keys.len() - 1] {
            let slot = map
                .entry(k.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            map = slot
                .as_object_mut()
                .ok_or_else(|| ToolError::Run("internal: not a map".into()))?;
        }
        map.insert(keys[keys.len() - 1].clone(), Value::String(value));
    }
    Ok(())
}

fn action_fail(st: &mut ModelState, args: &[String]) -> ToolResult {
    let p = parse(st, args, &[])?;
    let message = match p.args.first() {
        None => "action failed without reason given, check action for errors".to_owned(),
        Some(m) => {
            check_empty(&p.args[1..])?;
            m.clone()
        }
    };
    let action = running_action(st)?;
    action.failed = true;
    action.message = Some(message);
    Ok(())
}

fn action_log(st: &mut ModelState, args: &[String]) -> ToolResult {
    let p = parse(st, args, &[])?;
    if p.args.is_empty() {
        return Err(ToolError::Usage("no message specified".into()));
    }
    running_action(st)?;
    let hook = st
        .hook
        .as_ref()
        .map(|h| h.dispatch_path.clone())
        .unwrap_or_default();
    st.logs.push(super::model::LogLine {
        level: "ACTION".into(),
        message: p.args.join(" "),
        hook,
    });
    Ok(())
}

fn state_get(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(
        st,
        args,
        &[
            FORMAT,
            Spec {
                names: &["strict"],
                kind: Kind::Bool,
            },
        ],
    )?;
    let mut key = p.args.first().cloned().unwrap_or_default();
    if key == "-" {
        key.clear();
    }
    if p.args.len() > 1 {
        check_empty(&p.args[1..])?;
    }
    if key.is_empty() {
        let value = serde_json::to_value(&st.charm_state).unwrap_or(Value::Null);
        write(ctx, &p, &value);
        return Ok(());
    }
    match st.charm_state.get(&key) {
        Some(v) => write(ctx, &p, &Value::String(v.clone())),
        None if p.bool("strict") => return Err(ToolError::Run(format!("{key:?} not found"))),
        None => write(ctx, &p, &Value::String(String::new())),
    }
    Ok(())
}

fn state_set(st: &mut ModelState, args: &[String], ctx: &mut Ctx<'_>) -> ToolResult {
    let p = parse(
        st,
        args,
        &[Spec {
            names: &["file"],
            kind: Kind::Value,
        }],
    )?;
    let overrides = key_values(&p.args)?;
    let mut settings = match p.value("file") {
        Some(path) => read_settings_file(path, ctx)?,
        None => Vec::new(),
    };
    for (k, v) in overrides {
        settings.retain(|(key, _)| *key != k);
        settings.push((k, v));
    }
    for (k, v) in settings {
        if v.is_empty() {
            st.charm_state.remove(&k);
        } else {
            st.charm_state.insert(k, v);
        }
    }
    Ok(())
}

fn state_delete(st: &mut ModelState, args: &[String]) -> ToolResult {
    let p = parse(st, args, &[])?;
    let Some(key) = p.args.first() else {
        return Err(ToolError::Usage("no key specified".into()));
    };
    check_empty(&p.args[1..])?;
    st.charm_state.remove(key);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::{ActionRecord, HookContext, NetworkInfo, Relation};
    use serde_json::json;

    fn state() -> ModelState {
        let mut st = ModelState {
            unit: "tmate-ssh-server/0".into(),
            leader: true,
            endpoints: ["debug-ssh".to_owned()].into(),
            network: NetworkInfo::ipv4("10.0.0.5"),
            ..Default::default()
        };
        st.config.insert("port".into(), json!(10022));
        st.config.insert("unset".into(), Value::Null);
        let mut relation = Relation {
            id: 3,
            endpoint: "debug-ssh".into(),
            remote_app: "github-runner".into(),
            remote_units: vec!["github-runner/0".into()],
            ..Default::default()
        };
        relation.remote_unit_data.insert(
            "github-runner/0".into(),
            [("private-address".to_owned(), "10.0.0.9".to_owned())].into(),
        );
        st.relations.insert(3, relation);
        st.hook = Some(HookContext {
            dispatch_path: "hooks/config-changed".into(),
            ..Default::default()
        });
        st
    }

    fn call(st: &mut ModelState, tool: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let mut input = stdin.as_bytes();
        let out = run_hook_tool(st, tool, &args, &mut input, None);
        (
            out.code,
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    #[test]
    fn status_set_accepts_ops_form_and_rejects_bad_status() {
        let mut st = state();
        let (code, _, _) = call(
            &mut st,
            "status-set",
            &["--application=False", "maintenance", "--", "Installing."],
            "",
        );
        assert_eq!(code, 0);
        assert_eq!(
            st.unit_status,
            crate::sim::model::Status::new("maintenance", "Installing.")
        );
        let (code, _, err) = call(&mut st, "status-set", &["error", "x"], "");
        assert_eq!(
            (code, err.as_str()),
            (
                2,
                "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]\n"
            )
        );
        let (code, _, err) = call(&mut st, "status-set", &["active", "a", "b"], "");
        assert_eq!(
            (code, err.as_str()),
            (2, "ERROR unrecognized args: [\"b\"]\n")
        );
        st.leader = false;
        let (code, _, _) = call(&mut st, "status-set", &["--application", "active"], "");
        assert_eq!(code, 1);
        assert_eq!(st.calls.len(), 4);
    }

    #[test]
    fn relation_tools_round_trip() {
        let mut st = state();
        let (code, out, _) = call(&mut st, "relation-ids", &["debug-ssh", "--format=json"], "");
        assert_eq!((code, out.as_str()), (0, "[\"debug-ssh:3\"]\n"));
        let (_, out, _) = call(
            &mut st,
            "relation-list",
            &["--format=json", "-r", "debug-ssh:3"],
            "",
        );
        assert_eq!(out, "[\"github-runner/0\"]\n");
        let (_, out, _) = call(
            &mut st,
            "relation-get",
            &["--format=json", "-r", "3", "-", "github-runner/0"],
            "",
        );
        assert_eq!(out, "{\"private-address\":\"10.0.0.9\"}\n");
        let (code, _, _) = call(
            &mut st,
            "relation-set",
            &["-r", "debug-ssh:3", "--file", "-"],
            "{\"host\":\"10.0.0.5\",\"port\":\"10022\"}",
        );
        assert_eq!(code, 0);
        let (_, out, _) = call(
            &mut st,
            "relation-get",
            &["--format=json", "-r", "3", "port", "tmate-ssh-server/0"],
            "",
        );
        assert_eq!(out, "\"10022\"\n");
        assert_eq!(
            st.calls[3].stdin.as_deref(),
            Some("{\"host\":\"10.0.0.5\",\"port\":\"10022\"}")
        );
        // An empty value deletes the key.
        call(&mut st, "relation-set", &["-r", "3", "port="], "");
        assert!(!st.relations[&3].local_unit_data.contains_key("port"));
    }

    #[test]
    fn relation_not_found_is_a_usage_error() {
        let mut st = state();
        let (code, _, err) = call(
            &mut st,
            "relation-get",
            &["-r", "debug-ssh:99", "-", "github-runner/0"],
            "",
        );
        assert_eq!(
            (code, err.as_str()),
            (
                2,
                "ERROR invalid value \"debug-ssh:99\" for flag -r: relation not found\n"
            )
        );
        let (code, _, err) = call(&mut st, "relation-list", &[], "");
        assert_eq!(
            (code, err.as_str()),
            (2, "ERROR no relation id specified\n")
        );
        let (code, _, err) = call(
            &mut st,
            "relation-get",
            &["-r", "3", "-", "github-runner"],
            "",
        );
        assert_eq!(
            (code, err.as_str()),
            (
                2,
                "ERROR expected unit name, got application name \"github-runner\"\n"
            )
        );
    }

    #[test]
    fn app_bag_needs_leadership() {
        let mut st = state();
        st.leader = false;
        let (code, _, err) = call(&mut st, "relation-set", &["-r", "3", "--app", "a=b"], "");
        assert_eq!(
            (code, err.as_str()),
            (1, "ERROR cannot write relation settings\n")
        );
    }

    #[test]
    fn network_get_formats_and_missing_config() {
        let mut st = state();
        let (_, out, _) = call(&mut st, "network-get", &["--format=json", "juju-info"], "");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["bind-addresses"][0]["addresses"][0]["value"],
            json!("10.0.0.5")
        );
        assert_eq!(v["ingress-addresses"], json!(["10.0.0.5"]));
        let (_, out, _) = call(&mut st, "network-get", &["debug-ssh", "--bind-address"], "");
        assert_eq!(out, "10.0.0.5\n");
        st.network = NetworkInfo::no_address();
        let (_, out, _) = call(&mut st, "network-get", &["--format=json", "juju-info"], "");
        assert_eq!(
            out,
            "{\"bind-addresses\":[{\"addresses\":[],\"interface-name\":\"eth0\",\"mac-address\":\"00:16:3e:12:34:56\"}]}\n"
        );
        st.network = NetworkInfo::unavailable();
        let (code, _, err) = call(&mut st, "network-get", &["juju-info"], "");
        assert_eq!(
            (code, err.as_str()),
            (
                1,
                "ERROR no network config found for binding \"juju-info\"\n"
            )
        );
    }

    #[test]
    fn ports_are_pending_until_commit() {
        let mut st = state();
        assert_eq!(call(&mut st, "open-port", &["10022/TCP"], "").0, 0);
        let (_, out, _) = call(&mut st, "opened-ports", &["--format=json"], "");
        assert_eq!(out, "[]\n");
        assert_eq!(
            st.pending_ports,
            vec![PortChange {
                open: true,
                range: "10022/tcp".into()
            }]
        );
        let (code, _, err) = call(&mut st, "open-port", &["70000"], "");
        assert_eq!((code, err.as_str()), (2, "ERROR invalid port \"70000\"\n"));
    }

    #[test]
    fn config_get_filters_nulls_unless_all() {
        let mut st = state();
        let (_, out, _) = call(&mut st, "config-get", &["--format=json"], "");
        assert_eq!(out, "{\"port\":10022}\n");
        let (_, out, _) = call(&mut st, "config-get", &["--format=json", "--all"], "");
        assert_eq!(out, "{\"port\":10022,\"unset\":null}\n");
        let (_, out, _) = call(&mut st, "config-get", &["port"], "");
        assert_eq!(out, "10022\n");
        let (_, out, _) = call(&mut st, "config-get", &["missing", "--format", "json"], "");
        assert_eq!(out, "null\n");
    }

    #[test]
    fn action_set_validates_keys_and_nests() {
        let mut st = state();
        let (code, _, err) = call(&mut st, "action-set", &["rsa_fingerprint=x"], "");
        assert_eq!(
            (code, err.as_str()),
            (
                2,
                "ERROR key \"rsa_fingerprint\" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods\n"
            )
        );
        let (code, _, err) = call(&mut st, "action-set", &["stdout=x"], "");
        assert_eq!(
            (code, err.as_str()),
            (2, "ERROR cannot set reserved action key \"stdout\"\n")
        );
        let (code, _, err) = call(&mut st, "action-set", &["a=b"], "");
        assert_eq!((code, err.as_str()), (1, "ERROR not running an action\n"));
        st.hook.as_mut().unwrap().is_action = true;
        st.action = Some(ActionRecord {
            name: "get-server-config".into(),
            ..Default::default()
        });
        assert_eq!(
            call(&mut st, "action-set", &["a.b=1", "tmate-config=x\ny"], "").0,
            0
        );
        assert_eq!(
            Value::Object(st.action.as_ref().unwrap().results.clone()),
            json!({"a": {"b": "1"}, "tmate-config": "x\ny"})
        );
        assert_eq!(
            call(
                &mut st,
                "action-fail",
                &["--", "Host address not ready yet."],
                ""
            )
            .0,
            0
        );
        assert!(st.action.as_ref().unwrap().failed);
    }

    #[test]
    fn state_get_set_and_log() {
        let mut st = state();
        let (_, out, _) = call(&mut st, "state-get", &["--format=json"], "");
        assert_eq!(out, "{}\n");
        call(
            &mut st,
            "state-set",
            &["--file", "-"],
            "applied: '{\"port\": 10022}'\n",
        );
        let (_, out, _) = call(&mut st, "state-get", &["applied", "--format=json"], "");
        assert_eq!(out, "\"{\\\"port\\\": 10022}\"\n");
        call(
            &mut st,
            "juju-log",
            &["--log-level", "WARNING", "--", "Unit address not assigned."],
            "",
        );
        assert_eq!(st.logs[0].level, "WARNING");
        assert_eq!(call(&mut st, "juju-log", &[], "").0, 2);
        let (code, out, _) = call(&mut st, "is-leader", &["--format=json"], "");
        assert_eq!((code, out.as_str()), (0, "true\n"));
        let (_, out, _) = call(&mut st, "is-leader", &[], "");
        assert_eq!(out, "True\n");
    }

    #[test]
    fn yaml_rendering_quotes_typed_strings() {
        assert_eq!(
            render(&json!({"port": "10022", "host": "h"}), "yaml"),
            "host: h\nport: '10022'\n"
        );
        assert_eq!(render(&json!(["a", "b"]), "smart"), "a\nb");
    }
}
