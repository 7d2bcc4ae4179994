//! The simulator itself, driven with a tiny shell charm: environment, transactions,
//! sequences, error/resolve, timeouts and the consumer checks.
#![allow(clippy::unwrap_used, reason = "test helpers panic on setup failure")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tmate_tests::sim::{Error, NetworkInfo, Sim, Status};

const TOOL: &str = env!("CARGO_BIN_EXE_juju-sim-tool");

const METADATA: &str =
    "name: fake\nsummary: s\ndescription: d\nprovides:\n  debug-ssh:\n    interface: debug-ssh\n";
const CONFIG: &str = "options:\n  port:\n    type: int\n    default: 10022\n    description: p\n  host:\n    type: string\n    default: ''\n    description: h\n";
const ACTIONS: &str = "get-server-config:\n  description: d\n";
const FP: &str = "SHA256:Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs";

/// A charm whose behaviour is selected by `$JUJU_DISPATCH_PATH`.
fn dispatch_script() -> String {
    format!(
        r#"#!/bin/sh
set -e
root="$TMATE_CHARM_ROOT"
echo "$JUJU_DISPATCH_PATH argc=$# cwd=$(pwd)" >> "$root/trace"
env | sort > "$root/env-$(echo "$JUJU_DISPATCH_PATH" | tr / _)"
case "$JUJU_DISPATCH_PATH" in
  hooks/install)
    status-set maintenance -- 'Installing packages.'
    apt-get update
    apt-get install -y --no-install-recommends docker.io ;;
  hooks/config-changed|hooks/debug-ssh-relation-changed|hooks/update-status)
    port=$(config-get port)
    host=$(config-get host)
    [ -n "$host" ] || host=$(network-get juju-info --bind-address)
    open-port "$port/tcp"
    state-set "port=$port"
    for rel in $(relation-ids debug-ssh); do
      printf '{{"host":"%s","port":"%s","rsa_fingerprint":"{FP}","ed25519_fingerprint":"{FP}"}}' "$host" "$port" \
        | relation-set -r "$rel" --file -
    done
    status-set active ;;
  hooks/stop)
    relation-set -r "$(relation-ids debug-ssh | head -n1)" host=10.9.9.9
    open-port 1/tcp
    state-set port=1
    status-set blocked -- 'about to fail'
    exit 3 ;;
  hooks/remove)
    systemctl frobnicate tmate-ssh-server.service || true ;;
  actions/get-server-config)
    action-set "tmate-config=set -g tmate-server-port $(config-get port)" ;;
esac
"#
    )
}

fn fake_charm() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let charm = dir.path().join("charm");
    std::fs::create_dir(&charm).unwrap();
    std::fs::write(charm.join("metadata.yaml"), METADATA).unwrap();
    std::fs::write(charm.join("config.yaml"), CONFIG).unwrap();
    std::fs::write(charm.join("actions.yaml"), ACTIONS).unwrap();
    let dispatch = charm.join("dispatch");
    std::fs::write(&dispatch, dispatch_script()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, charm)
}

fn sim() -> (tempfile::TempDir, Sim) {
    let (dir, charm) = fake_charm();
    let sim = Sim::from_dir(&charm, Path::new(TOOL)).unwrap();
    (dir, sim)
}

fn env_of(sim: &Sim, dispatch_path: &str) -> Vec<(String, String)> {
    let file = sim
        .root()
        .join(format!("env-{}", dispatch_path.replace('/', "_")));
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

#[test]
fn deploy_runs_juju_sequence_with_scratch_environment() {
    let (_d, mut sim) = sim();
    let runs = sim.deploy().unwrap();
    let paths: Vec<&str> = runs.iter().map(|r| r.dispatch_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "hooks/install",
            "hooks/leader-elected",
            "hooks/config-changed",
            "hooks/start"
        ]
    );
    let trace = std::fs::read_to_string(sim.root().join("trace")).unwrap();
    let charm_dir = sim.charm().dir.display().to_string();
    assert!(
        trace
            .lines()
            .all(|l| l.ends_with(&format!("argc=0 cwd={charm_dir}"))),
        "{trace}"
    );

    let env = env_of(&sim, "hooks/install");
    let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for k in ["HOME", "USER", "JUJU_RELATION", "JUJU_ACTION_NAME"] {
        assert!(!keys.contains(&k), "{k} must not be set: {keys:?}");
    }
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("JUJU_HOOK_NAME"), Some("install"));
    assert_eq!(get("JUJU_UNIT_NAME"), Some("tmate-ssh-server/0"));
    assert_eq!(get("JUJU_CHARM_DIR"), Some(charm_dir.as_str()));
    assert_eq!(get("CHARM_DIR"), Some(charm_dir.as_str()));
    assert_eq!(get("JUJU_CHARM_HTTP_PROXY"), Some(""));
    assert_eq!(get("DEBIAN_FRONTEND"), Some("noninteractive"));
    assert!(
        get("PATH")
            .unwrap()
            .starts_with(&format!("{}:", sim.dir().join("bin").display()))
    );
    assert!(
        get("JUJU_CONTEXT_ID")
            .unwrap()
            .starts_with("tmate-ssh-server/0-install-")
    );

    let st = sim.state().unwrap();
    assert_eq!(st.unit_status, Status::new("active", ""));
    assert_eq!(st.opened_ports.iter().collect::<Vec<_>>(), ["10022/tcp"]);
    assert!(st.host.packages.contains("docker.io"));
    assert_eq!(
        st.status_history[0].status,
        Status::new("maintenance", "Installing packages.")
    );
}

#[test]
fn relation_sequence_sets_remote_unit_and_publishes_valid_data() {
    let (_d, mut sim) = sim();
    sim.deploy().unwrap();
    let (id, runs) = sim
        .relate(
            "debug-ssh",
            "github-runner",
            &["github-runner/0", "github-runner/1"],
        )
        .unwrap();
    let paths: Vec<&str> = runs.iter().map(|r| r.dispatch_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "hooks/debug-ssh-relation-created",
            "hooks/debug-ssh-relation-joined",
            "hooks/debug-ssh-relation-changed",
            "hooks/debug-ssh-relation-joined",
            "hooks/debug-ssh-relation-changed",
        ]
    );
    let created = env_of(&sim, "hooks/debug-ssh-relation-created");
    assert!(created.contains(&("JUJU_REMOTE_UNIT".into(), String::new())));
    assert!(created.contains(&("JUJU_RELATION_ID".into(), format!("debug-ssh:{id}"))));
    let changed = env_of(&sim, "hooks/debug-ssh-relation-changed");
    assert!(changed.contains(&("JUJU_REMOTE_UNIT".into(), "github-runner/1".into())));
    assert!(changed.contains(&("JUJU_REMOTE_APP".into(), "github-runner".into())));
    let entry = sim.published(id).unwrap().unwrap();
    assert_eq!(entry.host.to_string(), "10.0.0.5");
    assert_eq!(entry.port, 10022);
    let st = sim.state().unwrap();
    assert_eq!(
        st.relations[&id].local_unit_data["ingress-address"],
        "10.0.0.5"
    );
}

#[test]
fn failed_hook_commits_nothing_transactional_and_blocks_until_resolved() {
    let (_d, mut sim) = sim();
    sim.deploy().unwrap();
    let (id, _) = sim
        .relate("debug-ssh", "github-runner", &["github-runner/0"])
        .unwrap();
    let before = sim.state().unwrap();
    let run = sim.fire("stop").unwrap();
    assert_eq!(run.exit, Some(3));
    let after = sim.state().unwrap();
    assert_eq!(
        after.relations[&id].local_unit_data,
        before.relations[&id].local_unit_data
    );
    assert_eq!(after.opened_ports, before.opened_ports);
    assert_eq!(after.charm_state, before.charm_state);
    // status-set is immediate, and the agent shows the hook error.
    assert_eq!(after.unit_status, Status::new("blocked", "about to fail"));
    assert_eq!(
        sim.display_status().unwrap(),
        Status::new("error", "hook failed: \"stop\"")
    );
    assert!(matches!(sim.update_status(), Err(Error::UnitInError(h)) if h == "stop"));
    // The retry fails the same way: still nothing committed.
    let runs = sim.resolve().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(sim.state().unwrap().opened_ports, before.opened_ports);
}

#[test]
fn apt_failure_then_resolve_continues_the_deploy() {
    let (_d, mut sim) = sim();
    sim.fail_host_command(
        &["apt-get", "install"],
        100,
        "E: Unable to locate package docker.io\n",
        Some(1),
    )
    .unwrap();
    let runs = sim.deploy().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].exit, Some(100));
    assert!(runs[0].stderr.contains("Unable to locate package"));
    assert_eq!(sim.display_status().unwrap().status, "error");
    let runs = sim.resolve().unwrap();
    let paths: Vec<&str> = runs.iter().map(|r| r.dispatch_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "hooks/install",
            "hooks/leader-elected",
            "hooks/config-changed",
            "hooks/start"
        ]
    );
    assert_eq!(sim.display_status().unwrap(), Status::new("active", ""));
}

#[test]
fn ipv6_host_is_rejected_like_action_tmate_does() {
    let (_d, mut sim) = sim();
    sim.arrange(|st| st.network = NetworkInfo::with_addresses(&["fd00::5"]))
        .unwrap();
    sim.deploy().unwrap();
    let err = sim
        .relate("debug-ssh", "github-runner", &["github-runner/0"])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("action-tmate rejects host \"fd00::5\""),
        "{err}"
    );
}

#[test]
fn host_command_outside_the_contract_is_a_finding() {
    let (_d, mut sim) = sim();
    sim.deploy().unwrap();
    let err = sim.fire("remove").unwrap_err();
    assert!(
        err.to_string().contains("host command not in the contract"),
        "{err}"
    );
}

#[test]
fn hung_hook_is_killed_by_the_timeout() {
    let (_d, mut sim) = sim();
    sim.set_timeout(Duration::from_secs(2));
    sim.hang_host_command(&["apt-get", "update"], 30).unwrap();
    let err = sim.deploy().unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(sim.runs()[0].exit, None);
}

#[test]
fn action_results_and_input_checks() {
    let (_d, mut sim) = sim();
    sim.deploy().unwrap();
    let (outcome, run) = sim.run_action("get-server-config", &[]).unwrap();
    assert_eq!(outcome.status, "completed");
    assert_eq!(
        outcome.results["tmate-config"],
        "set -g tmate-server-port 10022"
    );
    let env = env_of(&sim, "actions/get-server-config");
    assert!(env.contains(&("JUJU_HOOK_NAME".into(), String::new())));
    assert!(env.contains(&("JUJU_ACTION_NAME".into(), "get-server-config".into())));
    assert_eq!(
        run.calls
            .iter()
            .map(|c| c.tool.as_str())
            .collect::<Vec<_>>(),
        ["config-get", "action-set"]
    );
    assert!(matches!(sim.run_action("nope", &[]), Err(Error::Input(_))));
    assert!(matches!(
        sim.relate("nope", "x", &["x/0"]),
        Err(Error::Input(_))
    ));
    assert!(matches!(
        sim.set_config(&[("port", serde_json::json!("x"))]),
        Err(Error::Input(_))
    ));
}

#[test]
fn config_change_and_address_change_republish() {
    let (_d, mut sim) = sim();
    sim.deploy().unwrap();
    let (id, _) = sim
        .relate("debug-ssh", "github-runner", &["github-runner/0"])
        .unwrap();
    sim.set_config(&[("port", serde_json::json!(2222))])
        .unwrap();
    assert_eq!(sim.published(id).unwrap().unwrap().port, 2222);
    sim.set_network(NetworkInfo::ipv4("10.0.0.77")).unwrap();
    let st = sim.state().unwrap();
    assert_eq!(st.relations[&id].local_unit_data["host"], "10.0.0.77");
    // Juju refreshed its own address keys on the config-changed commit.
    assert_eq!(
        st.relations[&id].local_unit_data["ingress-address"],
        "10.0.0.77"
    );
}

#[test]
fn update_status_measurement_reports_usage() {
    let (_d, mut sim) = sim();
    sim.deploy().unwrap();
    let m = tmate_tests::sim::measure_update_status(&mut sim).unwrap();
    assert!(m.cpu > Duration::ZERO);
    assert!(m.peak_rss_kib > 0);
    assert!(m.tool_peak_rss_kib > 0);
    assert_eq!(m.tool_calls, 7);
}
