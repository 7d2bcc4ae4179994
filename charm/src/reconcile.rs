//! Event -> snapshot -> one idempotent reconcile.
//!
//! Every hook except `stop`/`remove` and the action runs [`reconcile`]: it gathers a [`State`],
//! and converges everything, doing only what changed. `update-status` on a converged unit takes
//! a fast path: three hook tool calls, three small file reads and one `systemctl is-active`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::{CharmConfig, ConfigError, Proxies, ProxyError};
use crate::context::{Event, JujuContext, RelationEvent};
use crate::error::{Error, chain, service_down_status};
use crate::host::{ActiveState, Container, Fingerprints, Host, Systemctl};
use crate::juju::{Databag, HookTools, LogLevel, Status, StatusKind};
use crate::names::{
    ADDRESS_BINDING, CONTAINER_NAME, DEBUG_SSH_ENDPOINT, DOCKER_DAEMON_JSON, DOCKER_PACKAGE,
    DOCKER_SERVICE, KEYS_DIR, LEGACY_IMAGE_PREFIX, LEGACY_KEYS_DIR, RELATION_ED25519_FINGERPRINT,
    RELATION_HOST, RELATION_PORT, RELATION_RSA_FINGERPRINT, SERVICE, SERVICE_PATH, STATE_APPLIED,
};
use crate::render::{UnitSpec, render_daemon_json, render_unit};

/// Mode of the files the charm writes outside the keys directory.
const CONFIG_FILE_MODE: u32 = 0o644;
/// Mode of Docker's `daemon.json`: its proxy URLs may carry credentials (`user:pass@`), and
/// only dockerd (root) reads it.
const DAEMON_JSON_MODE: u32 = 0o600;

/// Runs the handler for the context's event.
///
/// # Errors
///
/// An [`Error`] that no status describes (see [`Error::status`]): the caller logs it and exits
/// non-zero so Juju retries.
pub(crate) fn dispatch(
    ctx: &JujuContext,
    juju: &impl HookTools,
    host: &impl Host,
) -> Result<(), Error> {
    match &ctx.event {
        Event::Stop | Event::Remove => teardown(ctx, juju, host),
        Event::GetServerConfig => crate::action::get_server_config(juju, host),
        Event::OtherHook(_) => Ok(()),
        Event::Install
        | Event::Start
        | Event::ConfigChanged
        | Event::UpgradeCharm
        | Event::UpdateStatus
        | Event::LeaderElected
        | Event::LeaderSettingsChanged
        | Event::DebugSsh(_) => reconcile(ctx, juju, host),
    }
}

/// What the last fully converged reconcile applied, kept in Juju charm state (committed only
/// when the hook succeeds). `update-status` compares against it to skip all work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Applied {
    /// Published host.
    pub(crate) host: IpAddr,
    /// Listening port.
    pub(crate) port: u16,
    /// Image reference.
    pub(crate) image: String,
    /// RSA fingerprint published.
    pub(crate) rsa_fingerprint: String,
    /// Ed25519 fingerprint published.
    pub(crate) ed25519_fingerprint: String,
    /// [`proxy_digest`] of the proxy settings (the URLs may hold credentials, so they are not
    /// stored).
    pub(crate) proxies: String,
}

/// Charm state key holding [`started_digest`] of the last successful (re)start of the service.
const STATE_STARTED: &str = "started";
/// Charm state key set (to `true`) by `stop`: the unit is being torn down.
///
/// JUJU.md section 1 lists teardown as `stop`, relation `-broken`, `remove`, and `update-status`
/// keeps ticking meanwhile: without the record those hooks would reconcile, rewriting the unit
/// file and restarting the server that `stop` just removed. `start`, `install` and
/// `upgrade-charm` clear it (the unit is coming back, e.g. `start` after a reboot).
const STATE_STOPPING: &str = "stopping";

/// SHA-256, hex, of `tag` and `fields`, each length-prefixed (a missing field is a `0` byte, a
/// present one `1` then its length and bytes), so no two inputs share an encoding.
///
/// The digests are kept in Juju state across `juju refresh`: they must not depend on the
/// toolchain a build used (std's `DefaultHasher` may change between Rust releases, and a
/// changed `started` digest restarts the server, dropping every live session).
fn digest(tag: &str, fields: &[Option<&str>]) -> String {
    fn put(hasher: &mut Sha256, bytes: &[u8]) {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    }
    let mut hasher = Sha256::new();
    put(&mut hasher, tag.as_bytes());
    for field in fields {
        match field {
            None => hasher.update([0]),
            Some(value) => {
                hasher.update([1]);
                put(&mut hasher, value.as_bytes());
            }
        }
    }
    hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// Digest of what the service runs: its unit file and the keys.
fn started_digest(unit: &str, keys: &Fingerprints) -> String {
    digest(
        "tmate-ssh-server-charm started v1",
        &[Some(unit), Some(&keys.rsa), Some(&keys.ed25519)],
    )
}

/// Digest of the model's proxy settings.
fn proxy_digest(proxies: &Proxies) -> String {
    digest(
        "tmate-ssh-server-charm proxies v1",
        &[
            proxies.http.as_deref(),
            proxies.https.as_deref(),
            proxies.no_proxy.as_deref(),
        ],
    )
}

/// One immutable snapshot of everything the reconcile reads from Juju.
#[derive(Debug, Clone)]
pub(crate) struct State {
    /// Validated config (`config-get`).
    pub(crate) config: Result<CharmConfig, ConfigError>,
    /// Validated model proxies (`JUJU_CHARM_*_PROXY`).
    pub(crate) proxies: Result<Proxies, ProxyError>,
    /// The host to publish: `external-address`, else the best address of `network-get`.
    pub(crate) address: Option<IpAddr>,
    /// The record of the last converged reconcile (`state-get`).
    pub(crate) applied: Option<Applied>,
    /// [`started_digest`] of the last successful (re)start (`state-get`); kept while the unit
    /// is blocked, so fixing a bad config does not restart a service that runs fine.
    pub(crate) started: Option<String>,
    /// `stop` ran and no `start`, `install` or `upgrade-charm` since ([`STATE_STOPPING`]).
    pub(crate) stopping: bool,
}

impl State {
    /// Reads config, network and charm state: at most three hook tool calls.
    ///
    /// # Errors
    ///
    /// [`Error::HookTool`] when `config-get` or `state-get` fails (a failing `network-get` only
    /// means there is no address yet).
    pub(crate) fn gather(ctx: &JujuContext, juju: &impl HookTools) -> Result<State, Error> {
        let config = CharmConfig::from_map(&juju.config_get()?);
        let proxies = Proxies::from_env(&ctx.proxy);
        let stored = juju.state_get()?;
        // An unreadable record is no record: the next reconcile rewrites it.
        let applied = stored
            .get(STATE_APPLIED)
            .and_then(|text| serde_json::from_str(text).ok())
            .flatten();
        let started = stored
            .get(STATE_STARTED)
            .filter(|digest| !digest.is_empty())
            .cloned();
        let stopping = stored.get(STATE_STOPPING).is_some_and(|v| !v.is_empty());
        let address = match config.as_ref().ok().and_then(|c| c.external_address) {
            Some(external) => Some(external),
            None => bind_address(juju)?,
        };
        Ok(State {
            config,
            proxies,
            address,
            applied,
            started,
            stopping,
        })
    }
}

/// The preferred address of the `juju-info` binding; `None` while Juju has none.
pub(crate) fn bind_address(juju: &impl HookTools) -> Result<Option<IpAddr>, Error> {
    match juju.network_get(ADDRESS_BINDING) {
        Ok(info) => Ok(info.preferred_address()),
        Err(err) => {
            juju.juju_log(
                LogLevel::Warning,
                &format!("no address yet: {}", chain(&err)),
            )?;
            Ok(None)
        }
    }
}

/// The fingerprints of the `.pub` files, without parsing the private keys (fast path).
fn public_fingerprints(host: &impl Host) -> Result<Option<Fingerprints>, Error> {
    let fingerprint = |kind: tmate_keys::KeyKind| -> Result<Option<String>, Error> {
        let path = format!("{KEYS_DIR}/{}", kind.pub_file_name());
        Ok(host
            .read_file(&path)?
            .and_then(|line| tmate_keys::fingerprint_line(&line, tmate_keys::HashAlg::Sha256).ok())
            .map(|fp| fp.to_string()))
    };
    let rsa = fingerprint(tmate_keys::KeyKind::Rsa)?;
    let ed25519 = fingerprint(tmate_keys::KeyKind::Ed25519)?;
    Ok(rsa
        .zip(ed25519)
        .map(|(rsa, ed25519)| Fingerprints { rsa, ed25519 }))
}

/// Whether nothing changed since the last converged reconcile and the service runs.
fn is_converged(state: &State, host: &impl Host) -> Result<bool, Error> {
    let (Some(applied), Ok(config), Ok(proxies), Some(address)) =
        (&state.applied, &state.config, &state.proxies, state.address)
    else {
        return Ok(false);
    };
    if applied.host != address
        || applied.port != config.port
        || applied.image != config.image
        || applied.proxies != proxy_digest(proxies)
    {
        return Ok(false);
    }
    let Some(keys) = public_fingerprints(host)? else {
        return Ok(false);
    };
    if keys.rsa != applied.rsa_fingerprint || keys.ed25519 != applied.ed25519_fingerprint {
        return Ok(false);
    }
    let unit = render_unit(&UnitSpec {
        image: &config.image,
        host: address,
        port: config.port,
    });
    if state.started.as_deref() != Some(started_digest(&unit, &keys).as_str())
        || host.read_file(SERVICE_PATH)?.as_deref() != Some(unit.as_str())
    {
        return Ok(false);
    }
    Ok(host.is_active(SERVICE)? == ActiveState::Active)
}

/// The end of a full reconcile.
#[derive(Debug)]
struct Outcome {
    status: Status,
    applied: Option<Applied>,
    started: Option<String>,
}

/// Gathers the state and converges; sets the status and the record.
///
/// # Errors
///
/// Only unexpected errors; the rest end as a status.
pub(crate) fn reconcile(
    ctx: &JujuContext,
    juju: &impl HookTools,
    host: &impl Host,
) -> Result<(), Error> {
    let state = State::gather(ctx, juju)?;
    let revives = matches!(
        ctx.event,
        Event::Start | Event::Install | Event::UpgradeCharm
    );
    if state.stopping && !revives {
        log(
            juju,
            &format!(
                "{}: the unit is stopping; the workload is left alone",
                ctx.event
            ),
        )?;
        return Ok(());
    }
    if ctx.event == Event::UpdateStatus && is_converged(&state, host)? {
        return Ok(());
    }
    let outcome = match converge(ctx, &state, juju, host) {
        Ok(outcome) => outcome,
        Err(err) => match err.status() {
            Some(status) => {
                juju.juju_log(LogLevel::Warning, &chain(&err))?;
                Outcome {
                    status,
                    applied: None,
                    started: state.started.clone(),
                }
            }
            None => return Err(err),
        },
    };
    let mut records = BTreeMap::new();
    if outcome.applied != state.applied {
        // Strings and integers always serialise; "null" would only cost one full reconcile.
        let record = serde_json::to_string(&outcome.applied).unwrap_or_else(|_| "null".to_owned());
        records.insert(STATE_APPLIED.to_owned(), record);
    }
    if outcome.started != state.started {
        records.insert(
            STATE_STARTED.to_owned(),
            outcome.started.unwrap_or_default(),
        );
    }
    if state.stopping {
        // An empty value deletes the key.
        records.insert(STATE_STOPPING.to_owned(), String::new());
    }
    if !records.is_empty() {
        juju.state_set(&records)?;
    }
    juju.status_set(&outcome.status)?;
    Ok(())
}

fn log(juju: &impl HookTools, message: &str) -> Result<(), Error> {
    juju.juju_log(LogLevel::Info, message)?;
    Ok(())
}

/// Converges the unit; each step does only what changed.
fn converge(
    ctx: &JujuContext,
    state: &State,
    juju: &impl HookTools,
    host: &impl Host,
) -> Result<Outcome, Error> {
    let config = state.config.clone()?;
    let proxies = state.proxies.clone()?;

    // Docker's proxies go in before docker.io first starts, so the first image pull uses them.
    let daemon_json_changed = ensure_daemon_json(juju, host, &proxies)?;
    // A run killed between writing daemon.json and restarting Docker left a record of other
    // proxies: restart now.
    let proxies_unapplied = state
        .applied
        .as_ref()
        .is_some_and(|applied| applied.proxies != proxy_digest(&proxies));
    if host.package_installed(DOCKER_PACKAGE)? {
        if daemon_json_changed || proxies_unapplied {
            host.systemctl(Systemctl::TryRestart, DOCKER_SERVICE)?;
            log(
                juju,
                &format!("restarted {DOCKER_SERVICE} for the new proxy settings"),
            )?;
        }
    } else {
        juju.status_set(&Status::new(
            StatusKind::Maintenance,
            format!("installing {DOCKER_PACKAGE}"),
        ))?;
        host.apt_update(&proxies)?;
        host.apt_install(DOCKER_PACKAGE, &proxies)?;
        log(juju, &format!("installed {DOCKER_PACKAGE}"))?;
    }

    let (keys, keys_changed) = ensure_keys(juju, host)?;

    let Some(address) = state.address else {
        return Ok(Outcome {
            status: Status::new(
                StatusKind::Waiting,
                format!("waiting for an IP address on the {ADDRESS_BINDING} binding"),
            ),
            applied: None,
            started: state.started.clone(),
        });
    };

    let unit = render_unit(&UnitSpec {
        image: &config.image,
        host: address,
        port: config.port,
    });
    // Whether the service was last started from this unit file with these keys. A run killed
    // after writing the unit file or the keys but before the reload or restart leaves files
    // that look done and a record that does not match: redo both.
    let started = started_digest(&unit, &keys);
    let recorded = state.started.as_ref() == Some(&started);
    let unit_changed = host.read_file(SERVICE_PATH)?.as_deref() != Some(unit.as_str());
    let mut active = host.is_active(SERVICE)?;
    let restart = unit_changed || keys_changed || !recorded || active != ActiveState::Active;
    // Before the unit file changes and our container starts: the Python charm's server would
    // still hold the port.
    remove_legacy_containers(juju, host, restart, &mut active)?;
    if unit_changed {
        host.write_file(SERVICE_PATH, &unit, CONFIG_FILE_MODE)?;
        log(juju, &format!("wrote {SERVICE_PATH}"))?;
    }
    if unit_changed || !recorded {
        host.daemon_reload()?;
    }
    if !host.is_enabled(SERVICE)? {
        host.systemctl(Systemctl::Enable, SERVICE)?;
    }
    let mut start_failure = None;
    if restart {
        if active == ActiveState::Failed {
            // systemd gave up (start limit); allow it to try again.
            host.systemctl(Systemctl::ResetFailed, SERVICE)?;
        }
        match host.systemctl(Systemctl::Restart, SERVICE) {
            Ok(()) => log(juju, &format!("restarted {SERVICE} (was {active})"))?,
            Err(err) => {
                juju.juju_log(LogLevel::Warning, &chain(&err))?;
                start_failure = Some(err);
            }
        }
        active = host.is_active(SERVICE)?;
    }
    let started = start_failure.is_none().then_some(started);

    ensure_port(juju, config.port)?;
    let published = Databag::from([
        (RELATION_HOST.to_owned(), address.to_string()),
        (RELATION_PORT.to_owned(), config.port.to_string()),
        (RELATION_RSA_FINGERPRINT.to_owned(), keys.rsa.clone()),
        (
            RELATION_ED25519_FINGERPRINT.to_owned(),
            keys.ed25519.clone(),
        ),
    ]);
    publish(ctx, juju, &published)?;

    let status = match (&active, start_failure) {
        (ActiveState::Active, _) => Status::new(StatusKind::Active, ""),
        (ActiveState::Activating, None) => {
            Status::new(StatusKind::Maintenance, format!("{SERVICE} is starting"))
        }
        (_, Some(_)) => Status::new(
            StatusKind::Blocked,
            format!("failed to start {SERVICE}: see `journalctl -u {SERVICE}`"),
        ),
        (other, None) => service_down_status(&other.to_string()),
    };
    let applied = (status.kind == StatusKind::Active).then(|| Applied {
        host: address,
        port: config.port,
        image: config.image.clone(),
        rsa_fingerprint: keys.rsa,
        ed25519_fingerprint: keys.ed25519,
        proxies: proxy_digest(&proxies),
    });
    Ok(Outcome {
        status,
        applied,
        started,
    })
}

/// Writes Docker's proxy settings when they differ; returns whether the file changed.
fn ensure_daemon_json(
    juju: &impl HookTools,
    host: &impl Host,
    proxies: &Proxies,
) -> Result<bool, Error> {
    let existing = host.read_file(DOCKER_DAEMON_JSON)?;
    match render_daemon_json(existing.as_deref(), proxies).map_err(Error::DaemonJson)? {
        None => {
            // Content already right, but perhaps readable by all: the Python charm wrote the
            // same proxies with mode 0644. A file without
            // proxies holds nothing of ours and is left as the administrator made it.
            if existing.is_some()
                && !proxies.is_empty()
                && let Some(old) = host.restrict_mode(DOCKER_DAEMON_JSON, DAEMON_JSON_MODE)?
            {
                log(
                    juju,
                    &format!(
                        "changed the mode of {DOCKER_DAEMON_JSON} from {old:o} to {DAEMON_JSON_MODE:o}"
                    ),
                )?;
            }
            Ok(false)
        }
        Some(text) => {
            // A new file replaces the old one, so a looser old mode goes with it.
            host.write_file(DOCKER_DAEMON_JSON, &text, DAEMON_JSON_MODE)?;
            log(
                juju,
                &format!("wrote the proxy settings to {DOCKER_DAEMON_JSON}"),
            )?;
            Ok(true)
        }
    }
}

/// Adopts the Python charm's keys, then generates whatever is still missing; returns the
/// fingerprints and whether any key file changed.
fn ensure_keys(juju: &impl HookTools, host: &impl Host) -> Result<(Fingerprints, bool), Error> {
    let mut changed = false;
    if host.keys_missing(KEYS_DIR)? {
        let adopted = host.adopt_keys(KEYS_DIR, LEGACY_KEYS_DIR)?;
        if !adopted.is_empty() {
            log(
                juju,
                &format!(
                    "adopted the {} host keys of {LEGACY_KEYS_DIR}",
                    adopted.join(" and ")
                ),
            )?;
            changed = true;
        }
        if host.keys_missing(KEYS_DIR)? {
            juju.status_set(&Status::new(
                StatusKind::Maintenance,
                "generating host keys",
            ))?;
        }
    }
    let report = host.ensure_keys(KEYS_DIR)?;
    if !report.changes.is_empty() {
        log(juju, &format!("host keys: {}", report.changes.join(", ")))?;
        changed = true;
    }
    Ok((report.fingerprints, changed))
}

/// The Python charm's containers: random names, its image, any state (never ours, nor another
/// image's).
fn legacy_containers(host: &impl Host) -> Result<Vec<Container>, Error> {
    Ok(host
        .docker_ps()?
        .into_iter()
        .filter(|c| c.name != CONTAINER_NAME && c.image.starts_with(LEGACY_IMAGE_PREFIX))
        .collect())
}

/// Removes the Python charm's containers, before our container starts: its server runs with
/// `--net=host` and would hold the port.
///
/// A running one is the Python charm's unit at work (the same unit name as ours). When the
/// service is about to be restarted anyway (`restart`) it is stopped first, from its old
/// definition: removing the container under a running unit would only make systemd restart
/// it, or fail it. `active` is updated to what the stop left.
fn remove_legacy_containers(
    juju: &impl HookTools,
    host: &impl Host,
    restart: bool,
    active: &mut ActiveState,
) -> Result<(), Error> {
    let mut legacy = legacy_containers(host)?;
    let serving = matches!(active, ActiveState::Active | ActiveState::Activating);
    if restart && serving && legacy.iter().any(|c| c.state == "running") {
        host.systemctl(Systemctl::Stop, SERVICE)?;
        log(
            juju,
            &format!("stopped {SERVICE} (was {active}), which ran the legacy charm's container"),
        )?;
        *active = host.is_active(SERVICE)?;
        // Stopping it may have removed its container (`docker run --rm`).
        legacy = legacy_containers(host)?;
    }
    for container in legacy {
        host.docker_rm(&container.name)?;
        log(
            juju,
            &format!(
                "removed legacy container {} ({})",
                container.name, container.state
            ),
        )?;
    }
    Ok(())
}

/// Opens `port/tcp` and closes every other port the unit has open.
fn ensure_port(juju: &impl HookTools, port: u16) -> Result<(), Error> {
    let wanted = format!("{port}/tcp");
    let opened = juju.opened_ports()?;
    for spec in opened.iter().filter(|spec| **spec != wanted) {
        juju.close_port(spec)?;
    }
    if !opened.contains(&wanted) {
        juju.open_port(port)?;
    }
    Ok(())
}

/// Writes `data` into this unit's bag of every `debug-ssh` relation where it differs.
fn publish(ctx: &JujuContext, juju: &impl HookTools, data: &Databag) -> Result<(), Error> {
    for relation_id in juju.relation_ids(DEBUG_SSH_ENDPOINT)? {
        // The relation being broken is going away; writing to it could fail.
        if ctx.event == Event::DebugSsh(RelationEvent::Broken)
            && ctx.relation_id.as_deref() == Some(&relation_id)
        {
            continue;
        }
        let current = juju.relation_get(&relation_id, &ctx.unit_name)?;
        let same = data
            .iter()
            .all(|(key, value)| current.get(key) == Some(value));
        if !same {
            juju.relation_set(&relation_id, data)?;
            log(juju, &format!("published the server data on {relation_id}"))?;
        }
    }
    Ok(())
}

/// `stop`/`remove`: stops and removes the service and its container; the keys stay.
fn teardown(ctx: &JujuContext, juju: &impl HookTools, host: &impl Host) -> Result<(), Error> {
    if host.read_file(SERVICE_PATH)?.is_some() {
        host.systemctl(Systemctl::Stop, SERVICE)?;
        host.systemctl(Systemctl::Disable, SERVICE)?;
        host.remove_file(SERVICE_PATH)?;
        host.daemon_reload()?;
        log(juju, &format!("stopped and removed {SERVICE}"))?;
    }
    if host.package_installed(DOCKER_PACKAGE)? {
        for container in host.docker_ps()? {
            if container.name == CONTAINER_NAME || container.image.starts_with(LEGACY_IMAGE_PREFIX)
            {
                host.docker_rm(&container.name)?;
                log(juju, &format!("removed container {}", container.name))?;
            }
        }
    }
    if ctx.event == Event::Stop {
        juju.state_set(&BTreeMap::from([(
            STATE_STOPPING.to_owned(),
            "true".to_owned(),
        )]))?;
        juju.status_set(&Status::new(
            StatusKind::Maintenance,
            format!("stopped; host keys kept in {KEYS_DIR}"),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ProxyEnv;
    use crate::host::Container;
    use crate::testing::{
        ED25519_FP, ED25519_PUB, FakeHost, FakeJuju, LEGACY_ED25519_FP, LEGACY_ED25519_PUB,
        LEGACY_RSA_FP, LEGACY_RSA_PUB, RSA_FP, RSA_PUB,
    };
    use serde_json::json;

    const UNIT: &str = "tmate-ssh-server/0";

    fn ctx(event: Event) -> JujuContext {
        JujuContext {
            event,
            unit_name: UNIT.into(),
            relation_id: None,
            proxy: ProxyEnv::default(),
            root: "/".into(),
        }
    }

    fn run(juju: &FakeJuju, host: &FakeHost, event: Event) {
        dispatch(&ctx(event), juju, host).unwrap();
    }

    fn status(kind: StatusKind, message: &str) -> Option<Status> {
        Some(Status::new(kind, message))
    }

    fn published(host: &str, port: &str, rsa: &str, ed25519: &str) -> Databag {
        Databag::from([
            ("host".to_owned(), host.to_owned()),
            ("port".to_owned(), port.to_owned()),
            ("rsa_fingerprint".to_owned(), rsa.to_owned()),
            ("ed25519_fingerprint".to_owned(), ed25519.to_owned()),
        ])
    }

    fn add_relation(juju: &FakeJuju, id: &str) {
        let bag = Databag::from([("private-address".to_owned(), "10.0.0.5".to_owned())]);
        juju.model.borrow_mut().relations.insert(id.to_owned(), bag);
    }

    /// A unit converged by install + config-changed + start, with the records cleared.
    fn deployed() -> (FakeJuju, FakeHost) {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        for event in [Event::Install, Event::ConfigChanged, Event::Start] {
            run(&juju, &host, event);
        }
        assert_eq!(juju.status(), status(StatusKind::Active, ""));
        juju.reset_record();
        host.reset_record();
        (juju, host)
    }

    #[test]
    fn fresh_deploy_installs_generates_writes_starts_and_opens_the_port() {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        add_relation(&juju, "debug-ssh:1");

        run(&juju, &host, Event::Install);

        assert_eq!(
            host.changes(),
            vec![
                "apt-get update",
                "apt-get install docker.io",
                "write /var/lib/tmate-ssh-server/keys/ssh_host_rsa_key 600",
                "write /var/lib/tmate-ssh-server/keys/ssh_host_rsa_key.pub 644",
                "write /var/lib/tmate-ssh-server/keys/ssh_host_ed25519_key 600",
                "write /var/lib/tmate-ssh-server/keys/ssh_host_ed25519_key.pub 644",
                "write /etc/systemd/system/tmate-ssh-server.service 644",
                "systemctl daemon-reload",
                "systemctl enable tmate-ssh-server.service",
                "systemctl restart tmate-ssh-server.service",
            ]
        );
        let unit = host.file(SERVICE_PATH).unwrap();
        assert!(unit.contains(
            " ghcr.io/canonical/tmate-ssh-server:0.1.1 -A -h 10.0.0.5 -p 10022 -k /keys\n"
        ));
        assert_eq!(
            host.file(DOCKER_DAEMON_JSON),
            None,
            "no proxies, no daemon.json"
        );
        let m = juju.model.borrow();
        assert_eq!(
            m.statuses,
            vec![
                Status::new(StatusKind::Maintenance, "installing docker.io"),
                Status::new(StatusKind::Maintenance, "generating host keys"),
                Status::new(StatusKind::Active, ""),
            ]
        );
        assert_eq!(m.opened, vec!["10022/tcp"]);
        let mut want = published("10.0.0.5", "10022", RSA_FP, ED25519_FP);
        want.insert("private-address".into(), "10.0.0.5".into());
        assert_eq!(m.relations["debug-ssh:1"], want);
        let applied: Option<Applied> = serde_json::from_str(&m.state[STATE_APPLIED]).unwrap();
        assert_eq!(applied.unwrap().rsa_fingerprint, RSA_FP);
        assert!(
            m.logs.iter().all(|(_, line)| !line.contains("PRIVATE")),
            "no key material in logs"
        );
    }

    #[test]
    fn second_full_reconcile_changes_nothing() {
        let (juju, host) = deployed();
        for event in [
            Event::ConfigChanged,
            Event::LeaderElected,
            Event::UpgradeCharm,
            Event::Start,
        ] {
            run(&juju, &host, event);
        }
        assert_eq!(host.changes(), Vec::<String>::new());
        assert_eq!(juju.status(), status(StatusKind::Active, ""));
        assert!(
            !juju
                .calls()
                .iter()
                .any(|c| c == "state-set" || c == "open-port" || c == "relation-set")
        );
    }

    #[test]
    fn no_address_waits_then_update_status_finishes_the_job() {
        let juju = FakeJuju::default();
        juju.set_address(None);
        let host = FakeHost::default();

        run(&juju, &host, Event::Install);

        assert_eq!(
            juju.status(),
            status(
                StatusKind::Waiting,
                "waiting for an IP address on the juju-info binding"
            )
        );
        assert!(
            host.machine.borrow().docker_installed,
            "work that needs no address is done"
        );
        assert!(
            host.file("/var/lib/tmate-ssh-server/keys/ssh_host_rsa_key.pub")
                .is_some()
        );
        assert_eq!(host.file(SERVICE_PATH), None);
        assert!(juju.model.borrow().opened.is_empty());
        assert!(!juju.model.borrow().state.contains_key(STATE_APPLIED));

        // network-get failing outright is also "no address yet".
        juju.model.borrow_mut().network = None;
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(
            juju.status(),
            status(
                StatusKind::Waiting,
                "waiting for an IP address on the juju-info binding"
            )
        );

        juju.set_address(Some("10.0.0.7"));
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(juju.status(), status(StatusKind::Active, ""));
        assert!(host.file(SERVICE_PATH).unwrap().contains(" -h 10.0.0.7 "));
        assert_eq!(juju.model.borrow().opened, vec!["10022/tcp"]);
    }

    #[test]
    fn a_run_killed_before_the_restart_is_finished_by_the_retry() {
        let (juju, host) = deployed();
        juju.model
            .borrow_mut()
            .config
            .insert("port".into(), json!(10023));
        // The killed run wrote the new unit file, then died before the reload and restart.
        let unit = render_unit(&UnitSpec {
            image: "ghcr.io/canonical/tmate-ssh-server:0.1.1",
            host: "10.0.0.5".parse().unwrap(),
            port: 10023,
        });
        host.write_file(SERVICE_PATH, &unit, CONFIG_FILE_MODE)
            .unwrap();
        host.reset_record();
        run(&juju, &host, Event::ConfigChanged);
        assert_eq!(
            host.changes(),
            vec![
                "systemctl daemon-reload",
                "systemctl restart tmate-ssh-server.service"
            ]
        );
        assert_eq!(juju.status(), status(StatusKind::Active, ""));
        host.reset_record();
        run(&juju, &host, Event::ConfigChanged);
        assert_eq!(host.changes(), Vec::<String>::new());
    }

    /// The digests stored in Juju state are pinned: a build that computes other values would
    /// restart every server it is refreshed onto. Cross-checked with Python's `hashlib`
    /// (`sha256(be64(len(tag)) + tag + (b"\0" | b"\1" + be64(len(f)) + f)...)`).
    #[test]
    fn digests_are_pinned_sha256_of_length_prefixed_fields() {
        let keys = Fingerprints {
            rsa: "SHA256:rsa".into(),
            ed25519: "SHA256:ed".into(),
        };
        assert_eq!(
            started_digest("[Service]\nExecStart=/bin/true\n", &keys),
            "f167424c0659d984dec309e9f4083e16a13f76b736b65592cbfabf4d8a27a006"
        );
        let proxies = Proxies {
            http: Some("http://user:pass@squid:3128".into()),
            https: None,
            no_proxy: Some("10.0.0.0/8".into()),
        };
        assert_eq!(
            proxy_digest(&proxies),
            "0ef332ac8c6357c32ceac06ad67bb1c310c65c50b752fd4c48a022b39b2b759a"
        );
        assert_eq!(
            proxy_digest(&Proxies::default()),
            "cf74936ebfc5375fe8e931a1056ca0b4491a24125e604cbe472be64602dea5ca"
        );
        // Fields cannot run into each other, and absent is not empty.
        let moved = Proxies {
            http: None,
            https: Some("http://user:pass@squid:3128".into()),
            no_proxy: Some("10.0.0.0/8".into()),
        };
        assert_ne!(proxy_digest(&moved), proxy_digest(&proxies));
        let empty = Proxies {
            http: Some(String::new()),
            ..Proxies::default()
        };
        assert_ne!(proxy_digest(&empty), proxy_digest(&Proxies::default()));
        let split = |rsa: &str, ed25519: &str| Fingerprints {
            rsa: rsa.into(),
            ed25519: ed25519.into(),
        };
        assert_ne!(
            started_digest("u", &split("ab", "c")),
            started_digest("u", &split("a", "bc"))
        );
    }

    /// A record this build cannot read (e.g. one a future or past format wrote, here a numeric
    /// `proxies`) is no record: one full reconcile, which restarts nothing when the files and
    /// the service already match, and rewrites the record, so the next update-status takes
    /// the fast path.
    #[test]
    fn an_unreadable_record_costs_one_full_reconcile_and_no_restart() {
        let (juju, host) = deployed();
        let keys = public_fingerprints(&host).unwrap().unwrap();
        let unreadable = format!(
            r#"{{"host":"10.0.0.5","port":10022,"image":"ghcr.io/canonical/tmate-ssh-server:0.1.1","rsa_fingerprint":"{}","ed25519_fingerprint":"{}","proxies":1234567890123456789}}"#,
            keys.rsa, keys.ed25519
        );
        assert!(
            serde_json::from_str::<Option<Applied>>(&unreadable).is_err(),
            "the record must not parse"
        );
        juju.model
            .borrow_mut()
            .state
            .insert(STATE_APPLIED.into(), unreadable);

        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(
            host.changes(),
            Vec::<String>::new(),
            "no reload, no restart"
        );
        assert!(juju.calls().contains(&"state-set".to_owned()));
        let m = juju.model.borrow();
        let applied: Option<Applied> = serde_json::from_str(&m.state[STATE_APPLIED]).unwrap();
        assert_eq!(applied.unwrap().proxies, proxy_digest(&Proxies::default()));
        drop(m);

        juju.reset_record();
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(juju.calls(), vec!["config-get", "state-get", "network-get"]);
    }

    #[test]
    fn healthy_update_status_makes_at_most_three_hook_calls_and_no_changes() {
        let (juju, host) = deployed();
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(juju.calls(), vec!["config-get", "state-get", "network-get"]);
        assert_eq!(host.changes(), Vec::<String>::new());
        assert_eq!(host.machine.borrow().queries, vec!["is-active"]);
    }

    #[test]
    fn update_status_with_external_address_makes_two_hook_calls() {
        let (juju, host) = deployed();
        juju.model
            .borrow_mut()
            .config
            .insert("external-address".into(), json!("203.0.113.9"));
        run(&juju, &host, Event::ConfigChanged);
        juju.reset_record();
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(juju.calls(), vec!["config-get", "state-get"]);
    }

    #[test]
    fn update_status_restarts_a_service_systemd_gave_up_on() {
        let (juju, host) = deployed();
        host.machine.borrow_mut().active = ActiveState::Failed;
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(
            host.changes(),
            vec![
                "systemctl reset-failed tmate-ssh-server.service",
                "systemctl restart tmate-ssh-server.service"
            ]
        );
        assert_eq!(juju.status(), status(StatusKind::Active, ""));
    }

    #[test]
    fn update_status_reports_the_truth_when_the_service_cannot_start() {
        let (juju, host) = deployed();
        {
            let mut m = host.machine.borrow_mut();
            m.active = ActiveState::Failed;
            m.restart_fails = true;
        }
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(
            juju.status(),
            status(
                StatusKind::Blocked,
                "failed to start tmate-ssh-server.service: see `journalctl -u tmate-ssh-server.service`"
            )
        );
        let applied: Option<Applied> =
            serde_json::from_str(&juju.model.borrow().state[STATE_APPLIED]).unwrap();
        assert_eq!(applied, None, "the fast path is off until it runs again");

        // Once it can start again the next tick recovers.
        host.machine.borrow_mut().restart_fails = false;
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(juju.status(), status(StatusKind::Active, ""));
    }

    #[test]
    fn service_stuck_activating_is_maintenance() {
        let (juju, host) = deployed();
        {
            let mut m = host.machine.borrow_mut();
            m.active = ActiveState::Other("inactive".into());
            m.after_restart = ActiveState::Activating;
        }
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(
            juju.status(),
            status(
                StatusKind::Maintenance,
                "tmate-ssh-server.service is starting"
            )
        );
        host.machine.borrow_mut().after_restart = ActiveState::Other("inactive".into());
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(
            juju.status(),
            status(
                StatusKind::Blocked,
                "tmate-ssh-server.service is inactive: see `journalctl -u tmate-ssh-server.service`"
            )
        );
    }

    #[test]
    fn tampered_unit_file_is_rewritten_on_update_status() {
        let (juju, host) = deployed();
        host.put(SERVICE_PATH, "[Service]\nExecStart=/bin/false\n");
        run(&juju, &host, Event::UpdateStatus);
        assert_eq!(
            host.changes(),
            vec![
                "write /etc/systemd/system/tmate-ssh-server.service 644",
                "systemctl daemon-reload",
                "systemctl restart tmate-ssh-server.service",
            ]
        );
    }

    #[test]
    fn port_change_closes_old_opens_new_restarts_and_republishes() {
        let (juju, host) = deployed();
        add_relation(&juju, "debug-ssh:1");
        run(&juju, &host, Event::DebugSsh(RelationEvent::Joined));
        juju.model
            .borrow_mut()
            .config
            .insert("port".into(), json!(2222));

        run(&juju, &host, Event::ConfigChanged);

        let m = juju.model.borrow();
        assert_eq!(m.opened, vec!["2222/tcp"]);
        let ports: Vec<&String> = m.calls.iter().filter(|c| c.ends_with("-port")).collect();
        assert_eq!(ports, vec!["close-port", "open-port"]);
        assert_eq!(m.relations["debug-ssh:1"]["port"], "2222");
        assert!(
            host.file(SERVICE_PATH)
                .unwrap()
                .contains(" -p 2222 -k /keys\n")
        );
        assert!(
            host.changes()
                .contains(&"systemctl restart tmate-ssh-server.service".to_owned())
        );
        assert_eq!(
            m.statuses.last(),
            Some(&Status::new(StatusKind::Active, ""))
        );
    }

    #[test]
    fn invalid_config_blocks_naming_the_option_and_changes_nothing() {
        let (juju, host) = deployed();
        for (option, value, message) in [
            (
                "port",
                json!(0),
                "invalid config option \"port\": 0 is not a TCP port (1-65535)",
            ),
            (
                "image",
                json!("ghcr.io/x;reboot"),
                "invalid config option \"image\": \"ghcr.io/x;reboot\" is not an image reference (character ';' not allowed)",
            ),
            (
                "external-address",
                json!("tmate.example.com"),
                "invalid config option \"external-address\": \"tmate.example.com\" is not an IPv4 or IPv6 address",
            ),
        ] {
            let saved = juju.model.borrow().config.clone();
            juju.model.borrow_mut().config.insert(option.into(), value);
            run(&juju, &host, Event::ConfigChanged);
            assert_eq!(juju.status(), status(StatusKind::Blocked, message));
            assert_eq!(host.changes(), Vec::<String>::new());
            assert_eq!(juju.model.borrow().opened, vec!["10022/tcp"]);
            // update-status does not take the fast path while blocked, and stays blocked.
            juju.reset_record();
            run(&juju, &host, Event::UpdateStatus);
            assert_eq!(juju.status(), status(StatusKind::Blocked, message));
            juju.model.borrow_mut().config = saved;
            run(&juju, &host, Event::ConfigChanged);
            assert_eq!(juju.status(), status(StatusKind::Active, ""));
        }
    }

    #[test]
    fn invalid_proxy_blocks_naming_the_variable_not_the_value() {
        let (juju, host) = deployed();
        let mut context = ctx(Event::ConfigChanged);
        context.proxy.https = "http://user:s3cret@proxy:notaport".into();
        dispatch(&context, &juju, &host).unwrap();
        let status = juju.status().unwrap();
        assert_eq!(status.kind, StatusKind::Blocked);
        assert_eq!(
            status.message,
            "invalid model proxy setting JUJU_CHARM_HTTPS_PROXY: malformed port (expected http://host[:port] or https://host[:port])"
        );
        assert!(
            juju.model
                .borrow()
                .logs
                .iter()
                .all(|(_, l)| !l.contains("s3cret"))
        );
        assert_eq!(host.changes(), Vec::<String>::new());
    }

    #[test]
    fn proxies_go_to_daemon_json_before_docker_is_installed() {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        let mut context = ctx(Event::Install);
        context.proxy.http = "http://squid.internal:3128".into();
        context.proxy.no_proxy = "127.0.0.1,10.0.0.0/8".into();
        dispatch(&context, &juju, &host).unwrap();
        assert_eq!(
            host.changes()[..2],
            ["write /etc/docker/daemon.json 600", "apt-get update"]
        );
        assert_eq!(
            host.file(DOCKER_DAEMON_JSON).unwrap(),
            "{\n  \"proxies\": {\n    \"http-proxy\": \"http://squid.internal:3128\",\n    \"no-proxy\": \"127.0.0.1,10.0.0.0/8\"\n  }\n}\n"
        );

        // A changed proxy on an installed machine rewrites the file and restarts docker only.
        host.reset_record();
        context.event = Event::ConfigChanged;
        context.proxy.http = "http://squid2.internal:3128".into();
        dispatch(&context, &juju, &host).unwrap();
        assert_eq!(
            host.changes(),
            vec![
                "write /etc/docker/daemon.json 600",
                "systemctl try-restart docker.service"
            ]
        );

        // update-status notices the proxy changed even without config-changed.
        host.reset_record();
        context.event = Event::UpdateStatus;
        context.proxy.http = String::new();
        dispatch(&context, &juju, &host).unwrap();
        assert_eq!(host.changes()[0], "write /etc/docker/daemon.json 600");
        assert!(
            !host
                .file(DOCKER_DAEMON_JSON)
                .unwrap()
                .contains("http-proxy")
        );
    }

    #[test]
    fn daemon_json_with_proxy_credentials_is_made_0600_without_restarting_docker() {
        let (juju, host) = deployed();
        let mut context = ctx(Event::ConfigChanged);
        context.proxy.https = "http://user:s3cret@squid.internal:3128".into();
        dispatch(&context, &juju, &host).unwrap();
        assert_eq!(host.mode(DOCKER_DAEMON_JSON), Some(0o600));
        // As the Python charm wrote it: the same proxies, another layout, readable by all.
        host.put(
            DOCKER_DAEMON_JSON,
            r#"{"proxies": {"https-proxy": "http://user:s3cret@squid.internal:3128"}}"#,
        );
        assert_eq!(host.mode(DOCKER_DAEMON_JSON), Some(0o644));
        host.reset_record();
        dispatch(&context, &juju, &host).unwrap();
        assert_eq!(host.changes(), ["chmod /etc/docker/daemon.json 600"]);
        assert_eq!(host.mode(DOCKER_DAEMON_JSON), Some(0o600));
        assert!(
            juju.model
                .borrow()
                .logs
                .iter()
                .any(|(_, l)| l == "changed the mode of /etc/docker/daemon.json from 644 to 600")
        );
        host.reset_record();
        dispatch(&context, &juju, &host).unwrap();
        assert_eq!(host.changes(), Vec::<String>::new(), "once");

        // Without model proxies the file holds nothing of ours: its mode is the admin's.
        host.put(DOCKER_DAEMON_JSON, r#"{"log-driver": "journald"}"#);
        host.reset_record();
        run(&juju, &host, Event::ConfigChanged);
        assert_eq!(
            host.changes(),
            ["systemctl try-restart docker.service"],
            "docker drops the proxies it had; the file is not touched"
        );
        assert_eq!(host.mode(DOCKER_DAEMON_JSON), Some(0o644));
    }

    #[test]
    fn garbled_daemon_json_blocks_and_is_not_clobbered() {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        host.put(DOCKER_DAEMON_JSON, "{not json");
        let mut context = ctx(Event::Install);
        context.proxy.http = "http://squid:3128".into();
        dispatch(&context, &juju, &host).unwrap();
        assert_eq!(
            juju.status(),
            status(
                StatusKind::Blocked,
                "/etc/docker/daemon.json: not valid JSON (key must be a string at line 1 column 2)"
            )
        );
        assert_eq!(host.file(DOCKER_DAEMON_JSON).unwrap(), "{not json");
        assert_eq!(host.changes(), Vec::<String>::new());
    }

    #[test]
    fn apt_failure_fails_the_hook_commits_nothing_and_the_retry_succeeds() {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        add_relation(&juju, "debug-ssh:1");
        host.machine.borrow_mut().apt_fails = true;
        let err = dispatch(&ctx(Event::Install), &juju, &host).unwrap_err();
        assert_eq!(err.status(), None, "an unexpected error: the hook fails");
        assert_eq!(
            chain(&err),
            "failed to install docker.io: command `apt-get update` exited with status 100: E: Could not resolve archive.ubuntu.com"
        );
        assert_eq!(
            juju.status(),
            status(StatusKind::Maintenance, "installing docker.io"),
            "the last status says what was being done"
        );
        assert_eq!(host.changes(), ["apt-get update"]);
        let calls = juju.calls();
        assert!(
            !calls
                .iter()
                .any(|c| ["state-set", "open-port", "relation-set"].contains(&c.as_str())),
            "nothing transactional: {calls:?}"
        );

        // Juju retries the failed hook; the mirror is back.
        host.machine.borrow_mut().apt_fails = false;
        run(&juju, &host, Event::Install);
        assert_eq!(juju.status(), status(StatusKind::Active, ""));
        assert_eq!(juju.bag("debug-ssh:1")["port"], "10022");
    }

    #[test]
    fn existing_keys_are_kept() {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        host.put_keys(KEYS_DIR, LEGACY_RSA_PUB, LEGACY_ED25519_PUB);
        add_relation(&juju, "debug-ssh:2");
        run(&juju, &host, Event::Install);
        assert!(
            !host.changes().iter().any(|c| c.contains("/keys/")),
            "{:?}",
            host.changes()
        );
        assert!(!juju.model.borrow().statuses.contains(&Status::new(
            StatusKind::Maintenance,
            "generating host keys"
        )));
        assert_eq!(juju.bag("debug-ssh:2")["rsa_fingerprint"], LEGACY_RSA_FP);
    }

    #[test]
    fn corrupt_key_blocks_naming_the_file_and_nothing_is_overwritten() {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        host.put(
            "/var/lib/tmate-ssh-server/keys/ssh_host_rsa_key",
            "-----BEGIN GARBAGE-----",
        );
        run(&juju, &host, Event::Install);
        assert_eq!(
            juju.status(),
            status(
                StatusKind::Blocked,
                "host key problem: /var/lib/tmate-ssh-server/keys/ssh_host_rsa_key: not an OpenSSH private key"
            )
        );
        assert_eq!(
            host.file("/var/lib/tmate-ssh-server/keys/ssh_host_rsa_key")
                .unwrap(),
            "-----BEGIN GARBAGE-----"
        );
        assert_eq!(
            host.file("/var/lib/tmate-ssh-server/keys/ssh_host_ed25519_key"),
            None
        );
        assert_eq!(host.file(SERVICE_PATH), None);
    }

    #[test]
    fn upgrade_from_the_python_charm_keeps_fingerprints_and_cleans_up() {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        add_relation(&juju, "debug-ssh:4");
        // What the Python charm left: keys in /home/ubuntu/keys, its unit, docker, containers.
        host.put_keys(LEGACY_KEYS_DIR, LEGACY_RSA_PUB, LEGACY_ED25519_PUB);
        host.put(
            SERVICE_PATH,
            "[Service]\nExecStart=/usr/bin/docker run --name tmate-x1 ...\n",
        );
        {
            let mut m = host.machine.borrow_mut();
            m.docker_installed = true;
            m.enabled = true;
            m.active = ActiveState::Active;
            m.containers = vec![
                Container {
                    name: "tmate-x1".into(),
                    image: "ghcr.io/canonical/tmate-ssh-server:0.1.1".into(),
                    state: "running".into(),
                },
                Container {
                    name: "old_one".into(),
                    image: "ghcr.io/canonical/tmate-ssh-server:0.1.0".into(),
                    state: "exited".into(),
                },
                Container {
                    name: "unrelated".into(),
                    image: "nginx:latest".into(),
                    state: "exited".into(),
                },
            ];
        }

        run(&juju, &host, Event::UpgradeCharm);

        assert_eq!(juju.status(), status(StatusKind::Active, ""));
        assert_eq!(juju.bag("debug-ssh:4"), {
            let mut want = published("10.0.0.5", "10022", LEGACY_RSA_FP, LEGACY_ED25519_FP);
            want.insert("private-address".into(), "10.0.0.5".into());
            want
        });
        assert_eq!(
            host.file("/var/lib/tmate-ssh-server/keys/ssh_host_ed25519_key.pub")
                .unwrap(),
            LEGACY_ED25519_PUB
        );
        assert_eq!(
            host.file("/home/ubuntu/keys/ssh_host_rsa_key.pub").unwrap(),
            LEGACY_RSA_PUB,
            "source untouched"
        );
        // The old unit is stopped and its containers removed before ours starts: its
        // --net=host server would hold the port.
        let changes = host.changes();
        let from_stop = changes
            .iter()
            .position(|c| c == "systemctl stop tmate-ssh-server.service")
            .unwrap();
        assert_eq!(
            changes[from_stop..],
            [
                "systemctl stop tmate-ssh-server.service",
                "docker rm --force tmate-x1",
                "docker rm --force old_one",
                "write /etc/systemd/system/tmate-ssh-server.service 644",
                "systemctl daemon-reload",
                "systemctl restart tmate-ssh-server.service",
            ]
        );
        assert!(!changes.iter().any(|c| c.contains("unrelated")));
        assert!(!changes.iter().any(|c| c.starts_with("apt-get")));
        let logs = juju.model.borrow().logs.clone();
        assert!(
            logs.iter()
                .any(|(_, l)| l == "adopted the rsa and ed25519 host keys of /home/ubuntu/keys")
        );
    }

    #[test]
    fn a_stray_legacy_container_is_removed_without_stopping_a_healthy_service() {
        let (juju, host) = deployed();
        host.machine.borrow_mut().containers = vec![
            Container {
                name: "tmate-ssh-server".into(),
                image: "ghcr.io/canonical/tmate-ssh-server:0.1.1".into(),
                state: "running".into(),
            },
            Container {
                name: "tmate-x1".into(),
                image: "ghcr.io/canonical/tmate-ssh-server:0.1.0".into(),
                state: "running".into(),
            },
        ];
        run(&juju, &host, Event::ConfigChanged);
        assert_eq!(
            host.changes(),
            ["docker rm --force tmate-x1"],
            "our server keeps its sessions"
        );
        assert_eq!(juju.status(), status(StatusKind::Active, ""));
    }

    #[test]
    fn relation_data_is_published_only_when_it_changes() {
        let (juju, host) = deployed();
        add_relation(&juju, "debug-ssh:1");
        run(&juju, &host, Event::DebugSsh(RelationEvent::Created));
        assert_eq!(
            juju.calls().iter().filter(|c| *c == "relation-set").count(),
            1
        );

        juju.reset_record();
        for event in [RelationEvent::Joined, RelationEvent::Changed] {
            run(&juju, &host, Event::DebugSsh(event));
        }
        assert!(!juju.calls().contains(&"relation-set".to_owned()));

        // A second relation gets the data; the first is left alone.
        add_relation(&juju, "debug-ssh:7");
        juju.reset_record();
        run(&juju, &host, Event::DebugSsh(RelationEvent::Joined));
        assert_eq!(
            juju.calls().iter().filter(|c| *c == "relation-set").count(),
            1
        );
        assert_eq!(juju.bag("debug-ssh:7")["host"], "10.0.0.5");

        // An address change (config-changed) republishes everywhere.
        juju.set_address(Some("10.0.0.99"));
        juju.reset_record();
        run(&juju, &host, Event::ConfigChanged);
        assert_eq!(
            juju.calls().iter().filter(|c| *c == "relation-set").count(),
            2
        );
        assert_eq!(juju.bag("debug-ssh:1")["host"], "10.0.0.99");
        assert!(host.file(SERVICE_PATH).unwrap().contains(" -h 10.0.0.99 "));
    }

    #[test]
    fn ipv4_is_published_over_ipv6_and_external_address_wins() {
        let (juju, host) = deployed();
        add_relation(&juju, "debug-ssh:1");
        juju.model.borrow_mut().network = Some(
            serde_json::from_str(
                r#"{"bind-addresses":[{"addresses":[{"value":"2001:db8::5"}]},{"addresses":[{"value":"192.0.2.8"}]}]}"#,
            )
            .unwrap(),
        );
        run(&juju, &host, Event::ConfigChanged);
        assert_eq!(juju.bag("debug-ssh:1")["host"], "192.0.2.8");
        juju.model
            .borrow_mut()
            .config
            .insert("external-address".into(), json!("203.0.113.9"));
        run(&juju, &host, Event::ConfigChanged);
        assert_eq!(juju.bag("debug-ssh:1")["host"], "203.0.113.9");
        assert!(
            host.file(SERVICE_PATH)
                .unwrap()
                .contains(" -h 203.0.113.9 ")
        );
    }

    #[test]
    fn relation_broken_does_not_write_to_the_broken_relation() {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        add_relation(&juju, "debug-ssh:1");
        add_relation(&juju, "debug-ssh:2");
        let mut context = ctx(Event::DebugSsh(RelationEvent::Broken));
        context.relation_id = Some("debug-ssh:2".into());
        dispatch(&context, &juju, &host).unwrap();
        assert_eq!(juju.bag("debug-ssh:1")["port"], "10022");
        assert!(!juju.bag("debug-ssh:2").contains_key("port"));
    }

    #[test]
    fn published_data_is_what_the_consumers_accept() {
        let (juju, host) = deployed();
        add_relation(&juju, "debug-ssh:1");
        run(&juju, &host, Event::DebugSsh(RelationEvent::Joined));
        let bag = juju.bag("debug-ssh:1");
        // github-runner: host an IP literal, port 1..65535, fingerprints ^SHA256:.
        assert!(
            bag["host"].parse::<IpAddr>().unwrap().is_ipv4(),
            "action-tmate rejects IPv6"
        );
        assert!(matches!(bag["port"].parse::<u16>(), Ok(p) if p > 0));
        for key in ["rsa_fingerprint", "ed25519_fingerprint"] {
            assert!(
                bag[key].starts_with("SHA256:") && bag[key].len() == 50,
                "{key}"
            );
        }
        assert_eq!(bag["rsa_fingerprint"], RSA_FP);
        assert_eq!(bag["ed25519_fingerprint"], ED25519_FP);
        assert_eq!(
            host.file("/var/lib/tmate-ssh-server/keys/ssh_host_rsa_key.pub")
                .unwrap(),
            RSA_PUB
        );
        assert_eq!(
            host.file("/var/lib/tmate-ssh-server/keys/ssh_host_ed25519_key.pub")
                .unwrap(),
            ED25519_PUB
        );
    }

    #[test]
    fn stop_and_remove_tear_down_but_keep_the_keys() {
        let (juju, host) = deployed();
        host.machine.borrow_mut().containers = vec![Container {
            name: "tmate-ssh-server".into(),
            image: "ghcr.io/canonical/tmate-ssh-server:0.1.1".into(),
            state: "running".into(),
        }];
        run(&juju, &host, Event::Stop);
        assert_eq!(
            host.changes(),
            vec![
                "systemctl stop tmate-ssh-server.service",
                "systemctl disable tmate-ssh-server.service",
                "remove /etc/systemd/system/tmate-ssh-server.service",
                "systemctl daemon-reload",
                "docker rm --force tmate-ssh-server",
            ]
        );
        assert_eq!(
            juju.status(),
            status(
                StatusKind::Maintenance,
                "stopped; host keys kept in /var/lib/tmate-ssh-server/keys"
            )
        );
        host.reset_record();
        run(&juju, &host, Event::Remove);
        assert_eq!(host.changes(), Vec::<String>::new(), "idempotent");
        assert!(
            host.file("/var/lib/tmate-ssh-server/keys/ssh_host_rsa_key")
                .is_some()
        );
        assert!(
            host.file("/var/lib/tmate-ssh-server/keys/ssh_host_ed25519_key.pub")
                .is_some()
        );
    }

    /// JUJU.md's teardown order: `stop`, then relation hooks and `update-status` ticks, then
    /// `remove`. Nothing between `stop` and `remove` brings the server back.
    #[test]
    fn after_stop_later_hooks_leave_the_workload_alone_until_start() {
        let (juju, host) = deployed();
        add_relation(&juju, "debug-ssh:1");
        run(&juju, &host, Event::DebugSsh(RelationEvent::Joined));
        run(&juju, &host, Event::Stop);
        assert_eq!(juju.model.borrow().state[STATE_STOPPING], "true");
        assert_eq!(host.file(SERVICE_PATH), None);
        host.reset_record();
        juju.reset_record();

        let mut broken = ctx(Event::DebugSsh(RelationEvent::Broken));
        broken.relation_id = Some("debug-ssh:1".into());
        for context in [
            ctx(Event::UpdateStatus),
            ctx(Event::DebugSsh(RelationEvent::Departed)),
            broken,
            ctx(Event::ConfigChanged),
            ctx(Event::LeaderElected),
            ctx(Event::UpdateStatus),
        ] {
            dispatch(&context, &juju, &host).unwrap();
        }
        assert_eq!(
            host.changes(),
            Vec::<String>::new(),
            "no unit file, no restart"
        );
        let calls = juju.calls();
        assert!(
            calls.iter().all(|c| ![
                "open-port",
                "close-port",
                "relation-set",
                "status-set",
                "state-set"
            ]
            .contains(&c.as_str())),
            "{calls:?}"
        );
        let logs = juju.model.borrow().logs.clone();
        assert!(
            logs.iter().any(|(level, line)| *level == LogLevel::Info
                && line == "debug-ssh-relation-broken: the unit is stopping; the workload is left alone"),
            "{logs:?}"
        );
        run(&juju, &host, Event::Remove);
        assert_eq!(host.changes(), Vec::<String>::new());

        // `start` (e.g. after a reboot) brings the unit back and clears the record.
        run(&juju, &host, Event::Start);
        assert_eq!(juju.status(), status(StatusKind::Active, ""));
        assert!(host.file(SERVICE_PATH).is_some());
        assert!(
            host.changes()
                .contains(&"systemctl restart tmate-ssh-server.service".to_owned())
        );
        assert!(!juju.model.borrow().state.contains_key(STATE_STOPPING));
    }

    #[test]
    fn other_hooks_do_nothing() {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        run(&juju, &host, Event::OtherHook("pre-series-upgrade".into()));
        assert!(juju.calls().is_empty());
        assert!(host.changes().is_empty());
    }

    #[test]
    fn unexpected_hook_tool_failure_is_an_error_not_a_status() {
        let (juju, host) = deployed();
        add_relation(&juju, "debug-ssh:1");
        juju.model.borrow_mut().fail_on = Some("relation-get");
        let err = dispatch(&ctx(Event::DebugSsh(RelationEvent::Joined)), &juju, &host).unwrap_err();
        assert_eq!(err.status(), None);
        assert_eq!(
            chain(&err),
            "command `relation-get` exited with status 1: ERROR fake failure"
        );
        assert!(
            !juju.calls().contains(&"status-set".to_owned()),
            "the status is left to Juju's error state"
        );
    }
}
