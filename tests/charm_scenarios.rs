//! The packed charm under the Juju simulator: model state in, events, model state out.
//!
//! Needs `target/charm/tmate-ssh-server.charm` (`cargo xtask charm`), `ssh-keygen`, `tmate`
//! and `unshare` (util-linux): a missing one fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic on setup failure"
)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tmate_tests::sim::host::{DAEMON_JSON, TMATE_UNIT, UNIT_FILE};
use tmate_tests::sim::model::Container;
use tmate_tests::sim::{
    Error, NetworkInfo, ProxySettings, Sim, Status, consumer, packed_charm_path,
};

const TOOL: &str = env!("CARGO_BIN_EXE_juju-sim-tool");
const KEYS: &str = "var/lib/tmate-ssh-server/keys";
const LEGACY_KEYS: &str = "home/ubuntu/keys";
const IMAGE: &str = "ghcr.io/canonical/tmate-ssh-server:0.1.1";
const ADDRESS: &str = "10.0.0.5";

/// A fresh unit of the packed charm.
fn unit() -> Sim {
    let charm = packed_charm_path();
    match Sim::new(&charm, Path::new(TOOL)) {
        Ok(sim) => sim,
        Err(Error::NotPacked { path }) => panic!(
            "{} is missing: run `cargo xtask charm` first",
            path.display()
        ),
        Err(e) => panic!("simulator setup failed: {e}"),
    }
}

fn deployed() -> Sim {
    let mut sim = unit();
    let runs = sim.deploy().unwrap();
    assert!(
        runs.iter().all(|r| r.succeeded()),
        "deploy failed: {:#?}",
        runs.last()
    );
    sim
}

/// The permission bits of a file under the root.
fn mode(sim: &Sim, rel: &str) -> u32 {
    std::fs::metadata(sim.root().join(rel))
        .unwrap_or_else(|e| panic!("stat {rel}: {e}"))
        .permissions()
        .mode()
        & 0o7777
}

fn read(sim: &Sim, rel: &str) -> String {
    std::fs::read_to_string(sim.root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// `ssh-keygen -l -E sha256` of a public key file: the fingerprint field.
fn ssh_keygen_fingerprint(pub_file: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(pub_file)
        .output()
        .expect("ssh-keygen must be installed (apt openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen -l failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

fn key_fingerprints(sim: &Sim, dir: &str) -> (String, String) {
    (
        ssh_keygen_fingerprint(&sim.root().join(dir).join("ssh_host_rsa_key.pub")),
        ssh_keygen_fingerprint(&sim.root().join(dir).join("ssh_host_ed25519_key.pub")),
    )
}

/// Every file under the root with its bytes and mode.
fn snapshot_files(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (Vec<u8>, u32)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                out.insert(path.clone(), (std::fs::read(&path).unwrap(), mode));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &mut out);
    out
}

fn assert_serves(sim: &Sim, host: &str, port: u16) {
    let st = sim.state().unwrap();
    let unit_file = read(sim, UNIT_FILE);
    assert!(
        unit_file.contains(&format!("-h {host} -p {port}")),
        "unit file:\n{unit_file}"
    );
    let service = &st.host.units[TMATE_UNIT];
    assert_eq!(service.active, "active");
    assert!(service.enabled);
    assert_eq!(
        service.running.as_deref(),
        Some(unit_file.as_str()),
        "the service runs the file on disk"
    );
    let tmate_containers: Vec<&Container> = st
        .host
        .containers
        .iter()
        .filter(|c| c.image.starts_with("ghcr.io/canonical/tmate-ssh-server"))
        .collect();
    assert_eq!(
        tmate_containers,
        [&Container {
            name: "tmate-ssh-server".into(),
            image: IMAGE.into(),
            state: "running".into()
        }]
    );
    assert_eq!(
        st.opened_ports.iter().cloned().collect::<Vec<_>>(),
        [format!("{port}/tcp")]
    );
    assert_eq!(sim.display_status().unwrap(), Status::new("active", ""));
}

#[test]
fn deploy_converges_to_active_serving_unit() {
    let sim = deployed();
    assert_serves(&sim, ADDRESS, 10022);
    let unit_file = read(&sim, UNIT_FILE);
    for needle in [
        "--name tmate-ssh-server",
        "/var/lib/tmate-ssh-server/keys:/keys:ro",
        "--entrypoint /srv/tmate-ssh-server/tmate-ssh-server",
        IMAGE,
        "-A -h 10.0.0.5 -p 10022 -k /keys",
        "ExecStartPre=-/usr/bin/docker rm --force tmate-ssh-server",
        "Restart=always",
    ] {
        assert!(
            unit_file.contains(needle),
            "{needle:?} missing from unit file:\n{unit_file}"
        );
    }
    let st = sim.state().unwrap();
    assert!(st.host.packages.contains("docker.io"));
    // No model proxy and no daemon.json before: the charm has nothing to tell Docker and
    // writes no file (render_daemon_json leaves an absent file absent).
    assert!(
        !sim.root().join(DAEMON_JSON).exists(),
        "daemon.json written without proxies:\n{}",
        std::fs::read_to_string(sim.root().join(DAEMON_JSON)).unwrap_or_default()
    );
    assert_eq!(
        st.host.docker_restarts, 0,
        "docker is not restarted for proxy settings"
    );
    for name in ["ssh_host_rsa_key", "ssh_host_ed25519_key"] {
        let mode = std::fs::metadata(sim.root().join(KEYS).join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let (rsa, ed) = key_fingerprints(&sim, KEYS);
    assert!(rsa.starts_with("SHA256:") && ed.starts_with("SHA256:"));
}

#[test]
fn deploy_without_address_waits_then_converges_when_address_arrives() {
    for no_address in [NetworkInfo::no_address(), NetworkInfo::unavailable()] {
        let mut sim = unit();
        sim.arrange(|st| st.network = no_address.clone()).unwrap();
        let runs = sim.deploy().unwrap();
        assert!(runs.iter().all(|r| r.succeeded()));
        let status = sim.display_status().unwrap();
        assert_eq!(status.status, "waiting", "{status:?}");
        assert!(!sim.root().join(UNIT_FILE).exists());
        let (outcome, _) = sim.run_action("get-server-config", &[]).unwrap();
        assert_eq!(outcome.status, "failed");
        assert_eq!(
            outcome.message.as_deref(),
            Some("Host address not ready yet.")
        );

        sim.set_network(NetworkInfo::ipv4("10.0.0.9")).unwrap();
        assert_serves(&sim, "10.0.0.9", 10022);
    }
}

#[test]
fn relation_data_valid_for_consumers_and_equal_to_action() {
    let mut sim = deployed();
    let (id, _) = sim
        .relate(
            "debug-ssh",
            "github-runner",
            &["github-runner/0", "github-runner/1"],
        )
        .unwrap();
    let entry = sim
        .published(id)
        .unwrap()
        .expect("debug-ssh data published");
    assert_eq!(entry.host.to_string(), ADDRESS);
    assert_eq!(entry.port, 10022);
    let (rsa, ed) = key_fingerprints(&sim, KEYS);
    assert_eq!(
        (
            entry.rsa_fingerprint.as_str(),
            entry.ed25519_fingerprint.as_str()
        ),
        (rsa.as_str(), ed.as_str())
    );

    let (outcome, run) = sim.run_action("get-server-config", &[]).unwrap();
    assert_eq!(outcome.status, "completed", "{outcome:?}\n{}", run.stderr);
    let r = &outcome.results;
    assert_eq!(r["host"], json!(ADDRESS));
    assert_eq!(r["port"], json!("10022"));
    assert_eq!(r["rsa-fingerprint"], json!(rsa));
    assert_eq!(r["ed25519-fingerprint"], json!(ed));
    let conf = r["tmate-config"].as_str().unwrap();
    for line in [
        format!("set -g tmate-server-host {ADDRESS}"),
        "set -g tmate-server-port 10022".to_owned(),
        format!("set -g tmate-server-rsa-fingerprint {rsa}"),
        format!("set -g tmate-server-ed25519-fingerprint {ed}"),
    ] {
        assert!(
            conf.lines().any(|l| l.trim() == line),
            "{line:?} not in:\n{conf}"
        );
    }
    // The action changes nothing.
    assert!(run.calls.iter().all(|c| {
        !["relation-set", "state-set", "open-port", "status-set"].contains(&c.tool.as_str())
    }));
}

/// The action's `tmate-config` loaded by the real tmate client, which must report back the
/// published values. The client runs in its own empty network namespace, so its connection
/// attempt to the (simulated) server address never leaves the machine.
#[test]
fn tmate_client_accepts_action_config() {
    let mut sim = deployed();
    let (outcome, _) = sim.run_action("get-server-config", &[]).unwrap();
    let conf = outcome.results["tmate-config"].as_str().unwrap().to_owned();
    let home = tempfile::tempdir().unwrap();
    let conf_file = home.path().join("tmate.conf");
    std::fs::write(&conf_file, &conf).unwrap();
    let sock = home.path().join("t.sock");
    let tmate = |args: &[&str], isolated: bool| {
        let mut cmd = if isolated {
            let mut c = Command::new("unshare");
            c.args(["-n", "tmate"]);
            c
        } else {
            Command::new("tmate")
        };
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C.UTF-8")
            .env("TERM", "xterm")
            .env("HOME", home.path())
            .args(args)
            .output()
            .expect("tmate and unshare must be installed (apt tmate util-linux)")
    };
    let sock_s = sock.to_str().unwrap();
    let out = tmate(
        &[
            "-f",
            conf_file.to_str().unwrap(),
            "-S",
            sock_s,
            "new-session",
            "-d",
        ],
        true,
    );
    assert!(
        out.status.success(),
        "tmate new-session failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // tmate-server-* are server options (`-s`); `-g` shows the global session options.
    let shown = tmate(&["-S", sock_s, "show-options", "-s"], false);
    let global = tmate(&["-S", sock_s, "show-options", "-g"], false);
    assert!(
        global.status.success(),
        "show-options -g failed: {}",
        String::from_utf8_lossy(&global.stderr)
    );
    let _ = tmate(&["-S", sock_s, "kill-server"], false);
    assert!(
        shown.status.success(),
        "show-options failed: {}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let text = String::from_utf8(shown.stdout).unwrap();
    let option = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .map(|v| v.trim().trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("{name} not in show-options:\n{text}"))
    };
    let r = &outcome.results;
    assert_eq!(option("tmate-server-host"), r["host"].as_str().unwrap());
    assert_eq!(option("tmate-server-port"), r["port"].as_str().unwrap());
    assert_eq!(
        option("tmate-server-rsa-fingerprint"),
        r["rsa-fingerprint"].as_str().unwrap()
    );
    assert_eq!(
        option("tmate-server-ed25519-fingerprint"),
        r["ed25519-fingerprint"].as_str().unwrap()
    );
}

#[test]
fn dead_container_is_restarted_by_update_status() {
    let mut sim = deployed();
    let starts = sim.state().unwrap().host.units[TMATE_UNIT].starts;
    sim.crash_workload().unwrap();
    assert!(sim.state().unwrap().host.containers.is_empty());
    let run = sim.update_status().unwrap();
    assert!(run.succeeded());
    assert_serves(&sim, ADDRESS, 10022);
    assert_eq!(
        sim.state().unwrap().host.units[TMATE_UNIT].starts,
        starts + 1
    );
    assert!(
        run.host_calls
            .iter()
            .any(|c| c.argv == ["systemctl", "reset-failed", TMATE_UNIT]),
        "{:?}",
        run.host_calls
    );
}

#[test]
fn port_change_moves_port_unit_file_and_relation() {
    let mut sim = deployed();
    let (id, _) = sim
        .relate("debug-ssh", "github-runner", &["github-runner/0"])
        .unwrap();
    let run = sim.set_config(&[("port", json!(2222))]).unwrap();
    assert!(run.succeeded());
    assert_serves(&sim, ADDRESS, 2222);
    assert_eq!(sim.published(id).unwrap().unwrap().port, 2222);
    assert!(
        run.calls
            .iter()
            .any(|c| c.tool == "close-port" && c.args == ["10022/tcp"]),
        "{:?}",
        run.calls
    );
}

#[test]
fn model_proxy_goes_to_apt_and_docker() {
    let mut sim = unit();
    let proxy = ProxySettings {
        http: "http://squid.internal:3128".into(),
        https: "http://squid.internal:3128".into(),
        ftp: String::new(),
        no_proxy: "127.0.0.1,localhost,::1".into(),
    };
    sim.set_proxy(proxy.clone()).unwrap();
    sim.deploy().unwrap();
    let daemon: Value = serde_json::from_str(&read(&sim, DAEMON_JSON)).unwrap();
    assert_eq!(
        daemon["proxies"],
        json!({"http-proxy": proxy.http, "https-proxy": proxy.https, "no-proxy": proxy.no_proxy})
    );
    // Proxy URLs may carry credentials: only root (dockerd) reads the file.
    assert_eq!(mode(&sim, DAEMON_JSON), 0o600);
    let st = sim.state().unwrap();
    let apt: Vec<_> = st
        .host
        .commands
        .iter()
        .filter(|c| c.argv[0] == "apt-get")
        .collect();
    assert_eq!(apt.len(), 2);
    for call in apt {
        assert_eq!(
            call.proxy_env.get("http_proxy"),
            Some(&proxy.http),
            "{call:?}"
        );
        assert_eq!(
            call.proxy_env.get("https_proxy"),
            Some(&proxy.https),
            "{call:?}"
        );
        assert_eq!(
            call.proxy_env.get("no_proxy"),
            Some(&proxy.no_proxy),
            "{call:?}"
        );
    }

    // A later proxy change rewrites daemon.json and restarts docker with it.
    let restarts = st.host.docker_restarts;
    sim.set_proxy(ProxySettings {
        http: "http://other.internal:8080".into(),
        ..proxy
    })
    .unwrap();
    sim.fire("config-changed").unwrap();
    let st = sim.state().unwrap();
    assert_eq!(st.host.docker_restarts, restarts + 1);
    assert_eq!(
        st.host.docker_daemon_config.as_deref(),
        Some(read(&sim, DAEMON_JSON).as_str())
    );
    assert!(read(&sim, DAEMON_JSON).contains("http://other.internal:8080"));
    assert_eq!(
        mode(&sim, DAEMON_JSON),
        0o600,
        "the rewrite keeps it private"
    );

    // A file with the right proxies but readable by all (as the Python charm left it) is made
    // private; docker keeps running.
    std::fs::set_permissions(
        sim.root().join(DAEMON_JSON),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let contents = read(&sim, DAEMON_JSON);
    let run = sim.fire("config-changed").unwrap();
    assert!(run.succeeded(), "{}", run.stderr);
    assert_eq!(mode(&sim, DAEMON_JSON), 0o600);
    assert_eq!(read(&sim, DAEMON_JSON), contents);
    assert_eq!(sim.state().unwrap().host.docker_restarts, restarts + 1);
}

#[test]
fn invalid_proxy_blocks_naming_the_variable() {
    let mut sim = unit();
    sim.set_proxy(ProxySettings {
        http: "not a url".into(),
        ..Default::default()
    })
    .unwrap();
    sim.deploy().unwrap();
    let status = sim.display_status().unwrap();
    assert_eq!(status.status, "blocked", "{status:?}");
    assert!(
        status.message.contains("JUJU_CHARM_HTTP_PROXY"),
        "{status:?}"
    );
}

fn ssh_keygen_generate(path: &Path, kind: &str) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "root@legacy", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen must be installed (apt openssh-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `juju refresh` from the Python charm: its keys in /home/ubuntu/keys, its random-named
/// container, its unit file and relation data. The Rust charm must keep serving the same
/// host keys (pinned fingerprints) and clean up the legacy containers.
#[test]
fn upgrade_from_python_charm_keeps_fingerprints_and_removes_legacy_containers() {
    let mut sim = unit();
    let legacy = sim.root().join(LEGACY_KEYS);
    std::fs::create_dir_all(&legacy).unwrap();
    ssh_keygen_generate(&legacy.join("ssh_host_rsa_key"), "rsa");
    ssh_keygen_generate(&legacy.join("ssh_host_ed25519_key"), "ed25519");
    let (rsa, ed) = key_fingerprints(&sim, LEGACY_KEYS);
    let legacy_files = snapshot_files(&legacy);
    let legacy_unit = format!(
        "[Unit]\nDescription=tmate-ssh-server\n[Service]\nExecStart=/usr/bin/docker run --name 3f9a1c --user root --net=host --cap-add SYS_ADMIN -v /home/ubuntu/keys:/keys --entrypoint=/srv/tmate-ssh-server/tmate-ssh-server {IMAGE} -A -h {ADDRESS} -p 10022 -k /keys\n[Install]\nWantedBy=multi-user.target\n"
    );
    std::fs::create_dir_all(sim.root().join("etc/systemd/system")).unwrap();
    std::fs::write(sim.root().join(UNIT_FILE), &legacy_unit).unwrap();
    sim.arrange(|st| {
        st.host.packages.insert("docker.io".into());
        let service = st.host.units.entry(TMATE_UNIT.into()).or_default();
        service.loaded = Some(legacy_unit.clone());
        service.running = Some(legacy_unit.clone());
        service.enabled = true;
        service.active = "active".into();
        st.host.containers = vec![
            Container {
                name: "3f9a1c".into(),
                image: IMAGE.into(),
                state: "running".into(),
            },
            Container {
                name: "b81d07".into(),
                image: IMAGE.into(),
                state: "exited".into(),
            },
            Container {
                name: "unrelated".into(),
                image: "ubuntu:22.04".into(),
                state: "exited".into(),
            },
        ];
        st.opened_ports.insert("10022/tcp".into());
        st.unit_status = Status::new("active", "");
    })
    .unwrap();
    let id = sim
        .add_existing_relation(
            "debug-ssh",
            "github-runner",
            &["github-runner/0"],
            &[
                ("host", ADDRESS),
                ("port", "10022"),
                ("rsa_fingerprint", &rsa),
                ("ed25519_fingerprint", &ed),
            ],
        )
        .unwrap();

    let runs = sim.upgrade(None).unwrap();
    assert!(runs.iter().all(|r| r.succeeded()), "{:#?}", runs.last());
    // upgrade-charm stops the Python charm's unit (its container stays, exited: no `--rm`),
    // removes its containers, and only then starts ours: the old --net=host server would
    // otherwise hold the port.
    let calls: Vec<&[String]> = runs[0]
        .host_calls
        .iter()
        .map(|c| c.argv.as_slice())
        .collect();
    let at = |argv: &[&str]| {
        calls
            .iter()
            .position(|c| *c == argv)
            .unwrap_or_else(|| panic!("{argv:?} not run: {calls:#?}"))
    };
    let stop = at(&["systemctl", "stop", TMATE_UNIT]);
    let rm_running = at(&["docker", "rm", "--force", "3f9a1c"]);
    let rm_exited = at(&["docker", "rm", "--force", "b81d07"]);
    let restart = at(&["systemctl", "restart", TMATE_UNIT]);
    assert!(
        stop < rm_running && rm_running < restart && rm_exited < restart,
        "{calls:#?}"
    );
    assert!(
        !calls[..stop]
            .iter()
            .any(|c| c.starts_with(&["docker".to_owned(), "rm".to_owned()])),
        "a container is removed only once its unit is stopped: {calls:#?}"
    );
    let entry = sim.published(id).unwrap().unwrap();
    assert_eq!(
        (entry.rsa_fingerprint, entry.ed25519_fingerprint),
        (rsa.clone(), ed.clone())
    );
    let served = key_fingerprints(&sim, KEYS);
    assert_eq!(served, (rsa, ed), "the new key home serves the legacy keys");
    assert_eq!(
        snapshot_files(&legacy),
        legacy_files,
        "legacy keys untouched"
    );
    assert_serves(&sim, ADDRESS, 10022);
    let names: Vec<String> = sim
        .state()
        .unwrap()
        .host
        .containers
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(names, ["unrelated", "tmate-ssh-server"]);
}

/// apt failing fails the hook (issue 4: "apt failure -> non-zero exit, nothing committed, the
/// retry succeeds"): the chain naming the apt-get command goes to `juju-log`, Juju shows the
/// unit in error and retries the hook, and until then nothing transactional is committed:
/// no port, no relation data, no charm state, and no unit file either.
#[test]
fn apt_failure_fails_the_hook_commits_nothing_and_the_retry_succeeds() {
    let mut sim = unit();
    // A unit added to an application that is already related: the relation is there at install.
    let id = sim
        .add_existing_relation("debug-ssh", "github-runner", &["github-runner/0"], &[])
        .unwrap();
    let bag_before = sim.state().unwrap().relations[&id].local_unit_data.clone();
    // The mirror is down until the test says otherwise.
    sim.fail_host_command(
        &["apt-get", "install"],
        100,
        "E: Unable to locate package docker.io\n",
        None,
    )
    .unwrap();
    let runs = sim.deploy().unwrap();
    assert_eq!(runs.len(), 1, "the failed install stops the queue");
    let install = &runs[0];
    assert_eq!(install.exit, Some(1), "{}", install.stderr);
    assert!(
        install
            .host_calls
            .iter()
            .any(|c| c.argv[..2] == ["apt-get", "install"] && c.exit == 100),
        "{:?}",
        install.host_calls
    );
    assert_eq!(
        sim.display_status().unwrap(),
        Status::new("error", "hook failed: \"install\"")
    );
    let st = sim.state().unwrap();
    assert_eq!(
        st.unit_status,
        Status::new("maintenance", "installing docker.io"),
        "the workload status says what was being done"
    );
    assert!(
        st.logs.iter().any(|l| l.level == "ERROR"
            && l.message
                == "failed to install docker.io: command `apt-get install -y --no-install-recommends docker.io` exited with status 100: E: Unable to locate package docker.io"),
        "the chain is logged through juju-log: {:?}",
        st.logs
    );
    assert!(!st.host.packages.contains("docker.io"));
    assert!(st.opened_ports.is_empty(), "{:?}", st.opened_ports);
    assert_eq!(
        st.relations[&id].local_unit_data, bag_before,
        "no relation data"
    );
    assert!(st.charm_state.is_empty(), "{:?}", st.charm_state);
    assert!(!sim.root().join(UNIT_FILE).exists());

    // The mirror is back; Juju retries the failed hook (as `juju resolve` does).
    sim.arrange(|st| st.host.faults.clear()).unwrap();
    let runs = sim.resolve().unwrap();
    assert!(runs.iter().all(|r| r.succeeded()), "{:#?}", runs.last());
    assert_eq!(
        runs.len(),
        4,
        "install retried, then the rest of the deploy"
    );
    assert!(
        runs[0]
            .host_calls
            .iter()
            .any(|c| c.argv[..2] == ["apt-get", "install"] && c.exit == 0)
    );
    assert_serves(&sim, ADDRESS, 10022);
    let entry = sim
        .published(id)
        .unwrap()
        .expect("published after the retry");
    assert_eq!(entry.host.to_string(), ADDRESS);
}

/// An unexpected host failure fails the hook (non-zero exit, logged through `juju-log`),
/// nothing transactional is committed, and `juju resolve` retries and finishes the deploy.
#[test]
fn unexpected_host_failure_fails_hook_commits_nothing_and_resolve_succeeds() {
    let mut sim = unit();
    sim.fail_host_command(
        &["systemctl", "daemon-reload"],
        1,
        "Failed to reload daemon: Access denied\n",
        Some(1),
    )
    .unwrap();
    let runs = sim.deploy().unwrap();
    assert_eq!(runs.len(), 1);
    assert_ne!(runs[0].exit, Some(0));
    assert_eq!(
        sim.display_status().unwrap(),
        Status::new("error", "hook failed: \"install\"")
    );
    let st = sim.state().unwrap();
    assert!(st.opened_ports.is_empty());
    assert!(st.charm_state.is_empty(), "{:?}", st.charm_state);
    assert!(
        st.logs.iter().any(|l| l.level == "ERROR"),
        "the failure is logged through juju-log: {:?}",
        st.logs
    );

    let runs = sim.resolve().unwrap();
    assert!(runs.iter().all(|r| r.succeeded()));
    assert_eq!(
        runs.len(),
        4,
        "install retried, then the rest of the deploy"
    );
    assert_serves(&sim, ADDRESS, 10022);
}

#[test]
fn three_units_publish_three_distinct_valid_entries() {
    let mut entries = Vec::new();
    for n in 0..3u8 {
        let mut sim = unit();
        sim.arrange(|st| {
            st.unit = format!("tmate-ssh-server/{n}");
            st.leader = n == 0;
            st.network = NetworkInfo::ipv4(&format!("10.0.0.{}", 5 + n));
        })
        .unwrap();
        sim.deploy().unwrap();
        let (id, _) = sim
            .relate("debug-ssh", "github-runner", &["github-runner/0"])
            .unwrap();
        let st = sim.state().unwrap();
        let entry = consumer::validate(&st.relations[&id].local_unit_data)
            .unwrap()
            .unwrap();
        entries.push(entry);
    }
    for (i, a) in entries.iter().enumerate() {
        for b in &entries[i + 1..] {
            assert_ne!(a.host, b.host);
            assert_ne!(a.rsa_fingerprint, b.rsa_fingerprint);
            assert_ne!(a.ed25519_fingerprint, b.ed25519_fingerprint);
        }
    }
}

#[test]
fn remove_stops_service_and_keeps_keys() {
    let mut sim = deployed();
    sim.relate("debug-ssh", "github-runner", &["github-runner/0"])
        .unwrap();
    let keys = snapshot_files(&sim.root().join(KEYS));
    assert_eq!(keys.len(), 4);
    let runs = sim.remove().unwrap();
    assert!(runs.iter().all(|r| r.succeeded()), "{:#?}", runs.last());
    let st = sim.state().unwrap();
    assert!(!sim.root().join(UNIT_FILE).exists());
    let service = &st.host.units[TMATE_UNIT];
    assert_ne!(service.active, "active");
    assert!(!service.enabled);
    assert!(st.host.containers.is_empty());
    assert!(st.relations.is_empty());
    assert_eq!(
        snapshot_files(&sim.root().join(KEYS)),
        keys,
        "host keys are kept"
    );
}

/// Teardown in JUJU.md's order: `stop`, `update-status` ticks, the relation's `-departed` and
/// `-broken`, then `remove`. After `stop` no hook brings the server back: no restart, no unit
/// file, no enable, no port opened, no relation data written; the keys stay.
#[test]
fn remove_stop_first_tears_down_and_nothing_restarts_after_stop() {
    let mut sim = deployed();
    let (id, _) = sim
        .relate("debug-ssh", "github-runner", &["github-runner/0"])
        .unwrap();
    let keys = snapshot_files(&sim.root().join(KEYS));
    assert_eq!(keys.len(), 4);
    let starts = sim.state().unwrap().host.units[TMATE_UNIT].starts;

    let runs = sim.remove_stop_first(2).unwrap();
    assert!(runs.iter().all(|r| r.succeeded()), "{:#?}", runs.last());
    let hooks: Vec<&str> = runs.iter().map(|r| r.dispatch_path.as_str()).collect();
    assert_eq!(
        hooks,
        [
            "hooks/stop",
            "hooks/update-status",
            "hooks/update-status",
            "hooks/debug-ssh-relation-departed",
            "hooks/debug-ssh-relation-broken",
            "hooks/remove",
        ]
    );
    for run in &runs[1..] {
        let starting = run.host_calls.iter().find(|c| {
            c.argv[0] == "systemctl"
                && ["restart", "enable", "daemon-reload", "reset-failed"]
                    .contains(&c.argv[1].as_str())
        });
        assert!(starting.is_none(), "{}: {starting:?}", run.dispatch_path);
        let written = run
            .calls
            .iter()
            .find(|c| ["open-port", "relation-set", "status-set"].contains(&c.tool.as_str()));
        assert!(written.is_none(), "{}: {written:?}", run.dispatch_path);
    }
    let st = sim.state().unwrap();
    assert!(!sim.root().join(UNIT_FILE).exists());
    let service = &st.host.units[TMATE_UNIT];
    assert_eq!(service.active, "inactive");
    assert!(!service.enabled);
    assert_eq!(service.starts, starts, "nothing restarted after stop");
    assert!(st.host.containers.is_empty(), "{:?}", st.host.containers);
    assert!(!st.relations.contains_key(&id));
    assert!(
        st.logs
            .iter()
            .any(|l| l.hook == "hooks/debug-ssh-relation-broken"
                && l.message
                    .ends_with("the unit is stopping; the workload is left alone")),
        "{:?}",
        st.logs
    );
    assert_eq!(
        snapshot_files(&sim.root().join(KEYS)),
        keys,
        "host keys are kept"
    );
}

#[test]
fn rerunning_any_hook_changes_nothing() {
    let mut sim = deployed();
    let (id, _) = sim
        .relate("debug-ssh", "github-runner", &["github-runner/0"])
        .unwrap();
    sim.update_status().unwrap();
    let files = snapshot_files(&sim.root());
    let before = sim.state().unwrap();
    for hook in [
        "install",
        "leader-elected",
        "config-changed",
        "start",
        "upgrade-charm",
        "update-status",
    ] {
        let run = sim.fire(hook).unwrap();
        assert!(run.succeeded(), "{hook}: {}", run.stderr);
    }
    sim.remote_change(id, "github-runner/0", &[("foo", "bar")])
        .unwrap();
    let after = sim.state().unwrap();
    assert_eq!(snapshot_files(&sim.root()), files, "files byte-identical");
    assert_eq!(after.host.units, before.host.units, "no restart, no reload");
    assert_eq!(after.host.daemon_reloads, before.host.daemon_reloads);
    assert_eq!(after.host.docker_restarts, before.host.docker_restarts);
    assert_eq!(after.host.containers, before.host.containers);
    assert_eq!(
        after.relations[&id].local_unit_data,
        before.relations[&id].local_unit_data
    );
    assert_eq!(after.opened_ports, before.opened_ports);
    assert_eq!(after.charm_state, before.charm_state);
    assert_eq!(after.unit_status, before.unit_status);
}

/// The contract's budget: `update-status` on a healthy, converged unit makes at most three
/// hook-tool calls, sets no status, logs nothing and runs `systemctl is-active` once.
#[test]
fn update_status_on_healthy_unit_stays_within_tool_budget() {
    let mut sim = tmate_tests::sim::healthy_unit(&packed_charm_path(), Path::new(TOOL)).unwrap();
    let run = sim.update_status().unwrap();
    assert!(run.succeeded());
    let tools: Vec<&str> = run.calls.iter().map(|c| c.tool.as_str()).collect();
    assert!(tools.len() <= 3, "{tools:?}");
    assert!(
        !tools.contains(&"status-set") && !tools.contains(&"juju-log"),
        "{tools:?}"
    );
    let host: Vec<&Vec<String>> = run.host_calls.iter().map(|c| &c.argv).collect();
    assert_eq!(
        host,
        [&vec![
            "systemctl".to_owned(),
            "is-active".to_owned(),
            TMATE_UNIT.to_owned()
        ]]
    );
}
