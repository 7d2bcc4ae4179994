//! The environment Juju runs `dispatch` with, parsed once into a [`JujuContext`] and an [`Event`].
//!
//! See: JUJU.md section 1 (`juju/juju` `internal/worker/uniter/runner/context/env.go`).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::names::{
    DEBUG_SSH_ENDPOINT, ENV_CHARM_ROOT, ENV_HTTP_PROXY, ENV_HTTPS_PROXY, ENV_NO_PROXY,
    GET_SERVER_CONFIG_ACTION,
};

/// Names the event (`hooks/install`, `actions/get-server-config`).
pub(crate) const ENV_DISPATCH_PATH: &str = "JUJU_DISPATCH_PATH";
/// The unit this hook runs for, e.g. `tmate-ssh-server/0`.
pub(crate) const ENV_UNIT_NAME: &str = "JUJU_UNIT_NAME";
/// The relation of a relation hook, e.g. `debug-ssh:3`.
pub(crate) const ENV_RELATION_ID: &str = "JUJU_RELATION_ID";

/// Why the environment could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum EnvError {
    /// Neither `JUJU_DISPATCH_PATH` nor argv\[0\] names an event.
    #[error(
        "cannot tell which event to handle: JUJU_DISPATCH_PATH is unset and argv[0] {argv0:?} is not hooks/<name> or actions/<name>"
    )]
    NoEvent {
        /// argv\[0\] as given (lossily decoded).
        argv0: String,
    },
    /// `JUJU_DISPATCH_PATH` (or argv\[0\]) is neither `hooks/<name>` nor `actions/<name>`.
    #[error("unrecognised dispatch path {path:?} (expected hooks/<name> or actions/<name>)")]
    BadDispatchPath {
        /// The offending value.
        path: String,
    },
    /// An action the charm does not define.
    #[error("unknown action {name:?} (this charm only has get-server-config)")]
    UnknownAction {
        /// The action name.
        name: String,
    },
    /// A variable the charm needs is missing or empty.
    #[error("{name} is not set")]
    Missing {
        /// The variable.
        name: &'static str,
    },
    /// A variable holds bytes that are not UTF-8.
    #[error("{name} is not valid UTF-8")]
    NotUtf8 {
        /// The variable.
        name: String,
    },
    /// `TMATE_CHARM_ROOT` is not an absolute path.
    #[error("TMATE_CHARM_ROOT must be an absolute path, got {root:?}")]
    RelativeRoot {
        /// The offending value.
        root: String,
    },
}

/// What happened to a `debug-ssh` relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelationEvent {
    /// `-relation-created`.
    Created,
    /// `-relation-joined`.
    Joined,
    /// `-relation-changed`.
    Changed,
    /// `-relation-departed`.
    Departed,
    /// `-relation-broken`.
    Broken,
}

impl RelationEvent {
    const ALL: [(RelationEvent, &'static str); 5] = [
        (RelationEvent::Created, "created"),
        (RelationEvent::Joined, "joined"),
        (RelationEvent::Changed, "changed"),
        (RelationEvent::Departed, "departed"),
        (RelationEvent::Broken, "broken"),
    ];
}

/// The event `dispatch` was run for: one enum, one `match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// `install`.
    Install,
    /// `start`.
    Start,
    /// `config-changed` (also fires when the machine's addresses change).
    ConfigChanged,
    /// `upgrade-charm` (e.g. `juju refresh` from the Python charm).
    UpgradeCharm,
    /// `update-status`, the periodic tick.
    UpdateStatus,
    /// `leader-elected`.
    LeaderElected,
    /// `leader-settings-changed`.
    LeaderSettingsChanged,
    /// `stop`: the unit is going away.
    Stop,
    /// `remove`: the last hook of the unit.
    Remove,
    /// `debug-ssh-relation-*`.
    DebugSsh(RelationEvent),
    /// The `get-server-config` action.
    GetServerConfig,
    /// A hook this charm has nothing to do for (e.g. `pre-series-upgrade`, `secret-changed`).
    OtherHook(String),
}

impl Event {
    /// Parses a dispatch path: `hooks/<name>` or `actions/<name>`.
    ///
    /// # Errors
    ///
    /// [`EnvError::BadDispatchPath`] or [`EnvError::UnknownAction`].
    pub(crate) fn from_dispatch_path(path: &str) -> Result<Event, EnvError> {
        let bad = || EnvError::BadDispatchPath {
            path: path.to_owned(),
        };
        let (kind, name) = path.split_once('/').ok_or_else(bad)?;
        if name.is_empty() || name.contains('/') {
            return Err(bad());
        }
        match kind {
            "hooks" => Ok(Event::from_hook_name(name)),
            "actions" if name == GET_SERVER_CONFIG_ACTION => Ok(Event::GetServerConfig),
            "actions" => Err(EnvError::UnknownAction {
                name: name.to_owned(),
            }),
            _ => Err(bad()),
        }
    }

    fn from_hook_name(name: &str) -> Event {
        match name {
            "install" => Event::Install,
            "start" => Event::Start,
            "config-changed" => Event::ConfigChanged,
            "upgrade-charm" => Event::UpgradeCharm,
            "update-status" => Event::UpdateStatus,
            "leader-elected" => Event::LeaderElected,
            "leader-settings-changed" => Event::LeaderSettingsChanged,
            "stop" => Event::Stop,
            "remove" => Event::Remove,
            _ => name
                .strip_prefix(DEBUG_SSH_ENDPOINT)
                .and_then(|rest| rest.strip_prefix("-relation-"))
                .and_then(|what| RelationEvent::ALL.iter().find(|(_, n)| *n == what))
                .map_or_else(
                    || Event::OtherHook(name.to_owned()),
                    |(ev, _)| Event::DebugSsh(*ev),
                ),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Event::Install => "install",
            Event::Start => "start",
            Event::ConfigChanged => "config-changed",
            Event::UpgradeCharm => "upgrade-charm",
            Event::UpdateStatus => "update-status",
            Event::LeaderElected => "leader-elected",
            Event::LeaderSettingsChanged => "leader-settings-changed",
            Event::Stop => "stop",
            Event::Remove => "remove",
            Event::DebugSsh(ev) => {
                let what = RelationEvent::ALL
                    .iter()
                    .find(|(e, _)| e == ev)
                    .map_or("?", |(_, n)| n);
                return write!(f, "{DEBUG_SSH_ENDPOINT}-relation-{what}");
            }
            Event::GetServerConfig => GET_SERVER_CONFIG_ACTION,
            Event::OtherHook(name) => name,
        };
        f.write_str(name)
    }
}

/// The model's proxy settings as Juju exported them (raw, validated later).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProxyEnv {
    /// From `JUJU_CHARM_HTTP_PROXY`.
    pub(crate) http: String,
    /// From `JUJU_CHARM_HTTPS_PROXY`.
    pub(crate) https: String,
    /// From `JUJU_CHARM_NO_PROXY`.
    pub(crate) no_proxy: String,
}

/// The raw environment of one `dispatch` run, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JujuContext {
    /// The event (from `JUJU_DISPATCH_PATH`, falling back to argv\[0\]).
    pub(crate) event: Event,
    /// Unit name, e.g. `tmate-ssh-server/0` (from `JUJU_UNIT_NAME`).
    pub(crate) unit_name: String,
    /// Relation id of a relation hook, e.g. `debug-ssh:3` (from `JUJU_RELATION_ID`).
    pub(crate) relation_id: Option<String>,
    /// Model proxy settings (from `JUJU_CHARM_*_PROXY`).
    pub(crate) proxy: ProxyEnv,
    /// Root under which every host path lives (from `TMATE_CHARM_ROOT`, default `/`).
    pub(crate) root: PathBuf,
}

impl JujuContext {
    /// Parses the process environment and argv\[0\].
    ///
    /// # Errors
    ///
    /// Any [`EnvError`]: no event, a garbled dispatch path, a missing unit name, non-UTF-8 values.
    pub(crate) fn from_env<I>(vars: I, argv0: Option<OsString>) -> Result<JujuContext, EnvError>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let vars: HashMap<OsString, OsString> = vars.into_iter().collect();
        let get =
            |name: &str| -> Result<Option<String>, EnvError> {
                match vars.get(OsStr::new(name)) {
                    None => Ok(None),
                    Some(value) => value.to_str().map(|v| Some(v.to_owned())).ok_or_else(|| {
                        EnvError::NotUtf8 {
                            name: name.to_owned(),
                        }
                    }),
                }
            };
        let non_empty = |name: &str| get(name).map(|v| v.filter(|v| !v.is_empty()));

        let event = match non_empty(ENV_DISPATCH_PATH)? {
            Some(path) => Event::from_dispatch_path(&path)?,
            None => event_from_argv0(argv0.as_deref())?,
        };
        let unit_name = non_empty(ENV_UNIT_NAME)?.ok_or(EnvError::Missing {
            name: ENV_UNIT_NAME,
        })?;
        let relation_id = non_empty(ENV_RELATION_ID)?;
        if matches!(event, Event::DebugSsh(_)) && relation_id.is_none() {
            return Err(EnvError::Missing {
                name: ENV_RELATION_ID,
            });
        }
        let proxy = ProxyEnv {
            http: get(ENV_HTTP_PROXY)?.unwrap_or_default(),
            https: get(ENV_HTTPS_PROXY)?.unwrap_or_default(),
            no_proxy: get(ENV_NO_PROXY)?.unwrap_or_default(),
        };
        let root = match non_empty(ENV_CHARM_ROOT)? {
            None => PathBuf::from("/"),
            Some(root) if Path::new(&root).is_absolute() => PathBuf::from(root),
            Some(root) => return Err(EnvError::RelativeRoot { root }),
        };
        Ok(JujuContext {
            event,
            unit_name,
            relation_id,
            proxy,
            root,
        })
    }
}

/// Juju < 2.8 (or a `hooks/<name>` symlink) runs the charm as `.../hooks/<name>`.
fn event_from_argv0(argv0: Option<&OsStr>) -> Result<Event, EnvError> {
    let argv0 = argv0.unwrap_or_default();
    let no_event = || EnvError::NoEvent {
        argv0: argv0.to_string_lossy().into_owned(),
    };
    let path = Path::new(argv0);
    let name = path
        .file_name()
        .and_then(OsStr::to_str)
        .ok_or_else(no_event)?;
    let kind = path
        .parent()
        .and_then(Path::file_name)
        .and_then(OsStr::to_str)
        .filter(|kind| matches!(*kind, "hooks" | "actions"))
        .ok_or_else(no_event)?;
    Event::from_dispatch_path(&format!("{kind}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<JujuContext, EnvError> {
        JujuContext::from_env(env(pairs), Some("./dispatch".into()))
    }

    #[test]
    fn every_event_name_parses() {
        let cases = [
            ("hooks/install", Event::Install),
            ("hooks/start", Event::Start),
            ("hooks/config-changed", Event::ConfigChanged),
            ("hooks/upgrade-charm", Event::UpgradeCharm),
            ("hooks/update-status", Event::UpdateStatus),
            ("hooks/leader-elected", Event::LeaderElected),
            (
                "hooks/leader-settings-changed",
                Event::LeaderSettingsChanged,
            ),
            ("hooks/stop", Event::Stop),
            ("hooks/remove", Event::Remove),
            (
                "hooks/debug-ssh-relation-created",
                Event::DebugSsh(RelationEvent::Created),
            ),
            (
                "hooks/debug-ssh-relation-joined",
                Event::DebugSsh(RelationEvent::Joined),
            ),
            (
                "hooks/debug-ssh-relation-changed",
                Event::DebugSsh(RelationEvent::Changed),
            ),
            (
                "hooks/debug-ssh-relation-departed",
                Event::DebugSsh(RelationEvent::Departed),
            ),
            (
                "hooks/debug-ssh-relation-broken",
                Event::DebugSsh(RelationEvent::Broken),
            ),
            ("actions/get-server-config", Event::GetServerConfig),
            (
                "hooks/pre-series-upgrade",
                Event::OtherHook("pre-series-upgrade".into()),
            ),
            (
                "hooks/other-relation-joined",
                Event::OtherHook("other-relation-joined".into()),
            ),
        ];
        for (path, want) in cases {
            let event = Event::from_dispatch_path(path).unwrap();
            assert_eq!(event, want, "{path}");
            assert_eq!(format!("{}/{event}", path.split('/').next().unwrap()), path);
        }
    }

    #[test]
    fn full_context_from_a_relation_hook() {
        let ctx = parse(&[
            ("JUJU_DISPATCH_PATH", "hooks/debug-ssh-relation-joined"),
            ("JUJU_UNIT_NAME", "tmate-ssh-server/0"),
            ("JUJU_RELATION_ID", "debug-ssh:3"),
            ("JUJU_CHARM_HTTP_PROXY", "http://squid:3128"),
            ("JUJU_CHARM_HTTPS_PROXY", ""),
            ("JUJU_CHARM_NO_PROXY", "127.0.0.1"),
            ("TMATE_CHARM_ROOT", "/tmp/root"),
        ])
        .unwrap();
        assert_eq!(ctx.event, Event::DebugSsh(RelationEvent::Joined));
        assert_eq!(ctx.unit_name, "tmate-ssh-server/0");
        assert_eq!(ctx.relation_id.as_deref(), Some("debug-ssh:3"));
        assert_eq!(ctx.proxy.http, "http://squid:3128");
        assert_eq!(ctx.proxy.https, "");
        assert_eq!(ctx.proxy.no_proxy, "127.0.0.1");
        assert_eq!(ctx.root, PathBuf::from("/tmp/root"));
    }

    #[test]
    fn root_defaults_to_slash() {
        let ctx = parse(&[
            ("JUJU_DISPATCH_PATH", "hooks/install"),
            ("JUJU_UNIT_NAME", "t/0"),
        ])
        .unwrap();
        assert_eq!(ctx.root, PathBuf::from("/"));
        assert_eq!(ctx.proxy, ProxyEnv::default());
    }

    #[test]
    fn argv0_fallback_when_dispatch_path_unset_or_empty() {
        for pairs in [vec![], vec![("JUJU_DISPATCH_PATH", "")]] {
            let mut pairs = pairs;
            pairs.push(("JUJU_UNIT_NAME", "t/0"));
            let ctx = JujuContext::from_env(
                env(&pairs),
                Some("/var/lib/juju/agents/unit-t-0/charm/hooks/upgrade-charm".into()),
            )
            .unwrap();
            assert_eq!(ctx.event, Event::UpgradeCharm);
        }
        let ctx = JujuContext::from_env(
            env(&[("JUJU_UNIT_NAME", "t/0")]),
            Some("actions/get-server-config".into()),
        )
        .unwrap();
        assert_eq!(ctx.event, Event::GetServerConfig);
    }

    #[test]
    fn argv0_that_names_no_event_is_a_clear_error() {
        let err =
            JujuContext::from_env(env(&[("JUJU_UNIT_NAME", "t/0")]), Some("./dispatch".into()))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot tell which event to handle: JUJU_DISPATCH_PATH is unset and argv[0] \"./dispatch\" is not hooks/<name> or actions/<name>"
        );
        let err = JujuContext::from_env(env(&[("JUJU_UNIT_NAME", "t/0")]), None).unwrap_err();
        assert!(matches!(err, EnvError::NoEvent { .. }));
    }

    #[test]
    fn garbled_dispatch_paths_are_rejected() {
        for path in [
            "install",
            "hooks/",
            "hooks/a/b",
            "charm/install",
            "/hooks/install",
        ] {
            let err =
                parse(&[("JUJU_DISPATCH_PATH", path), ("JUJU_UNIT_NAME", "t/0")]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "unrecognised dispatch path {path:?} (expected hooks/<name> or actions/<name>)"
                )
            );
        }
        let err = parse(&[
            ("JUJU_DISPATCH_PATH", "actions/reboot"),
            ("JUJU_UNIT_NAME", "t/0"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown action \"reboot\" (this charm only has get-server-config)"
        );
    }

    #[test]
    fn missing_variables_are_named() {
        let err = parse(&[("JUJU_DISPATCH_PATH", "hooks/install")]).unwrap_err();
        assert_eq!(err.to_string(), "JUJU_UNIT_NAME is not set");
        let err = parse(&[
            ("JUJU_DISPATCH_PATH", "hooks/debug-ssh-relation-changed"),
            ("JUJU_UNIT_NAME", "t/0"),
        ])
        .unwrap_err();
        assert_eq!(err.to_string(), "JUJU_RELATION_ID is not set");
        let err = parse(&[
            ("JUJU_DISPATCH_PATH", "hooks/install"),
            ("JUJU_UNIT_NAME", "t/0"),
            ("TMATE_CHARM_ROOT", "relative/root"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "TMATE_CHARM_ROOT must be an absolute path, got \"relative/root\""
        );
    }

    #[test]
    fn non_utf8_values_are_named() {
        use std::os::unix::ffi::OsStringExt;
        let mut vars = env(&[
            ("JUJU_DISPATCH_PATH", "hooks/install"),
            ("JUJU_UNIT_NAME", "t/0"),
        ]);
        vars.push((
            "JUJU_CHARM_HTTP_PROXY".into(),
            OsString::from_vec(vec![0xff, 0xfe]),
        ));
        let err = JujuContext::from_env(vars, None).unwrap_err();
        assert_eq!(err.to_string(), "JUJU_CHARM_HTTP_PROXY is not valid UTF-8");
    }
}
