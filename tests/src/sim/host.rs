//! Stateful fakes of the host commands the charm runs (the argv shapes of `charm/src/host.rs`).
//!
//! Exactly the argv shapes of the contract are accepted; anything else exits 2 and is
//! recorded as a finding, so drift between charm and contract is caught. Failures and hangs
//! can be injected per argv prefix ([`Fault`](super::model::Fault)).

use std::collections::BTreeMap;
use std::path::Path;

use super::model::{Container, HostCall, ModelState, ServiceUnit};
use super::tools::ToolOutcome;

/// Programs faked on `PATH`.
pub const PROGRAMS: &[&str] = &["apt-get", "docker", "dpkg-query", "systemctl"];

/// The workload's systemd unit.
pub const TMATE_UNIT: &str = "tmate-ssh-server.service";
/// Docker's systemd unit.
pub const DOCKER_UNIT: &str = "docker.service";
/// The package providing docker.
pub const DOCKER_PACKAGE: &str = "docker.io";
/// Where the unit file lives below the root.
pub const UNIT_FILE: &str = "etc/systemd/system/tmate-ssh-server.service";
/// Where docker's daemon config lives below the root.
pub const DAEMON_JSON: &str = "etc/docker/daemon.json";

/// Proxy variables recorded with each host command.
const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
];

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn ok(stdout: &str) -> Out {
    Out {
        code: 0,
        stdout: stdout.to_owned(),
        stderr: String::new(),
    }
}

fn fail(code: i32, stderr: &str) -> Out {
    Out {
        code,
        stdout: String::new(),
        stderr: format!("{stderr}\n"),
    }
}

/// Runs the fake `program` with `args`, updating `st.host`.
pub fn run(
    st: &mut ModelState,
    program: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
) -> ToolOutcome {
    let mut argv = vec![program.to_owned()];
    argv.extend(args.iter().cloned());
    let hook = st
        .hook
        .as_ref()
        .map(|h| h.dispatch_path.clone())
        .unwrap_or_default();
    let proxy_env: BTreeMap<String, String> = PROXY_VARS
        .iter()
        .filter_map(|k| env.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();

    // An injected fault answers instead of the fake.
    let fault_index = st
        .host
        .faults
        .iter()
        .position(|f| argv.starts_with(&f.argv_prefix) && f.remaining != Some(0));
    let out = if let Some(i) = fault_index {
        let fault = &mut st.host.faults[i];
        if let Some(n) = fault.remaining.as_mut() {
            *n -= 1;
        }
        let hang_secs = fault.hang_secs;
        let out = Out {
            code: fault.exit,
            stdout: String::new(),
            stderr: fault.stderr.clone(),
        };
        st.host.commands.push(HostCall {
            argv,
            proxy_env,
            exit: out.code,
            hook,
        });
        return ToolOutcome {
            code: out.code,
            stdout: out.stdout.into_bytes(),
            stderr: out.stderr.into_bytes(),
            hang_secs,
        };
    } else {
        let root = st.root.clone();
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        match program {
            "dpkg-query" => dpkg_query(st, &words),
            "apt-get" => apt_get(st, &words),
            "systemctl" => systemctl(st, &root, &words),
            "docker" => docker(st, &words),
            _ => fail(2, "juju-sim-tool: unknown program"),
        }
    };
    if out.code == 2 && out.stderr.starts_with("juju-sim-tool:") {
        st.findings
            .push(format!("host command not in the contract: {argv:?}"));
    }
    st.host.commands.push(HostCall {
        argv,
        proxy_env,
        exit: out.code,
        hook,
    });
    ToolOutcome {
        code: out.code,
        stdout: out.stdout.into_bytes(),
        stderr: out.stderr.into_bytes(),
        hang_secs: 0,
    }
}

fn unexpected(program: &str, args: &[&str]) -> Out {
    fail(
        2,
        &format!(
            "juju-sim-tool: unexpected argv for {program} (not in the charm contract): {args:?}"
        ),
    )
}

fn dpkg_query(st: &mut ModelState, args: &[&str]) -> Out {
    match args {
        ["-W", "-f=${Status}", package] => {
            if st.host.packages.contains(*package) {
                ok("install ok installed")
            } else {
                fail(
                    1,
                    &format!("dpkg-query: no packages found matching {package}"),
                )
            }
        }
        _ => unexpected("dpkg-query", args),
    }
}

fn apt_get(st: &mut ModelState, args: &[&str]) -> Out {
    match args {
        ["update"] => {
            st.host.apt_updates += 1;
            ok("Reading package lists... Done\n")
        }
        ["install", "-y", "--no-install-recommends", package] if *package == DOCKER_PACKAGE => {
            st.host.packages.insert((*package).to_owned());
            // Installing docker.io enables and starts docker.service.
            let unit = st.host.units.entry(DOCKER_UNIT.to_owned()).or_default();
            unit.enabled = true;
            unit.active = "active".to_owned();
            unit.starts += 1;
            ok("Setting up docker.io ...\n")
        }
        _ => unexpected("apt-get", args),
    }
}

fn read_file(root: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(root.join(rel)).ok()
}

/// Parses `--name X` / `--name=X` and the image after `--entrypoint X` from an ExecStart line.
fn container_of(unit_file: &str) -> (String, String) {
    let exec = unit_file
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap_or_default()
        .replace("\\\n", " ");
    let words: Vec<&str> = exec.split_whitespace().collect();
    let mut name = "tmate-ssh-server".to_owned();
    let mut image = String::from("unknown");
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if w == "--name" {
            if let Some(n) = words.get(i + 1) {
                name = (*n).to_owned();
            }
        } else if let Some(n) = w.strip_prefix("--name=") {
            name = n.to_owned();
        } else if w == "--entrypoint" {
            if let Some(img) = words.get(i + 2) {
                image = (*img).to_owned();
            }
        } else if w.starts_with("--entrypoint=")
            && let Some(img) = words.get(i + 1)
        {
            image = (*img).to_owned();
        }
        i += 1;
    }
    (name, image)
}

/// Whether the ExecStart line runs `docker run --rm` (the container goes when it stops).
fn removed_on_exit(unit_file: &str) -> bool {
    unit_file
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("ExecStart="))
        .is_some_and(|exec| exec.split_whitespace().any(|w| w == "--rm"))
}

/// The container of a stopped service instance: gone with `--rm`, otherwise left `exited`
/// (as the Python charm's `docker run` without `--rm` leaves it).
fn stop_container(containers: &mut Vec<Container>, unit_file: &str) {
    let (name, _) = container_of(unit_file);
    if removed_on_exit(unit_file) {
        containers.retain(|c| c.name != name);
    } else {
        for c in containers.iter_mut().filter(|c| c.name == name) {
            c.state = "exited".to_owned();
        }
    }
}

fn systemctl(st: &mut ModelState, root: &Path, args: &[&str]) -> Out {
    let docker_installed = st.host.packages.contains(DOCKER_PACKAGE);
    match args {
        ["daemon-reload"] => {
            st.host.daemon_reloads += 1;
            let on_disk = read_file(root, UNIT_FILE);
            let unit = st.host.units.entry(TMATE_UNIT.to_owned()).or_default();
            unit.loaded = on_disk;
            ok("")
        }
        [verb, name] if *name == TMATE_UNIT => {
            let on_disk = read_file(root, UNIT_FILE);
            let unit = st.host.units.entry(TMATE_UNIT.to_owned()).or_default();
            if unit.active.is_empty() {
                unit.active = "inactive".to_owned();
            }
            // systemd loads a never-loaded unit from disk on first use.
            if unit.loaded.is_none() {
                unit.loaded.clone_from(&on_disk);
            }
            tmate_unit(st, verb, on_disk, docker_installed)
        }
        ["try-restart", name] if *name == DOCKER_UNIT => {
            if !docker_installed {
                return fail(
                    5,
                    "Failed to try-restart docker.service: Unit docker.service not found.",
                );
            }
            st.host.docker_restarts += 1;
            st.host.docker_daemon_config = read_file(root, DAEMON_JSON);
            ok("")
        }
        _ => unexpected("systemctl", args),
    }
}

fn tmate_unit(
    st: &mut ModelState,
    verb: &str,
    on_disk: Option<String>,
    docker_installed: bool,
) -> Out {
    let unit: &mut ServiceUnit = st.host.units.entry(TMATE_UNIT.to_owned()).or_default();
    let not_loaded = |what: &str| {
        fail(
            5,
            &format!("Failed to {what} {TMATE_UNIT}: Unit {TMATE_UNIT} not found."),
        )
    };
    match verb {
        "enable" => {
            if on_disk.is_none() {
                return fail(
                    1,
                    &format!("Failed to enable unit: Unit file {TMATE_UNIT} does not exist."),
                );
            }
            unit.enabled = true;
            Out {
                code: 0,
                stdout: String::new(),
                stderr: format!(
                    "Created symlink /etc/systemd/system/multi-user.target.wants/{TMATE_UNIT} -> /etc/systemd/system/{TMATE_UNIT}.\n"
                ),
            }
        }
        "disable" => {
            if on_disk.is_none() && !unit.enabled {
                return fail(
                    1,
                    &format!("Failed to disable unit: Unit file {TMATE_UNIT} does not exist."),
                );
            }
            unit.enabled = false;
            ok("")
        }
        "is-enabled" => {
            if on_disk.is_none() {
                return fail(
                    1,
                    &format!(
                        "Failed to get unit file state for {TMATE_UNIT}: No such file or directory"
                    ),
                );
            }
            if unit.enabled {
                ok("enabled\n")
            } else {
                Out {
                    code: 1,
                    stdout: "disabled\n".into(),
                    stderr: String::new(),
                }
            }
        }
        "is-active" => {
            let state = unit.active.clone();
            Out {
                code: if state == "active" { 0 } else { 3 },
                stdout: format!("{state}\n"),
                stderr: String::new(),
            }
        }
        "reset-failed" => {
            if unit.loaded.is_none() {
                return fail(
                    1,
                    &format!(
                        "Failed to reset failed state of unit {TMATE_UNIT}: Unit {TMATE_UNIT} not loaded."
                    ),
                );
            }
            if unit.active == "failed" {
                unit.active = "inactive".to_owned();
            }
            ok("")
        }
        "stop" => {
            if unit.loaded.is_none() {
                return not_loaded("stop");
            }
            let was_running = unit.running.take();
            unit.active = "inactive".to_owned();
            if let Some(content) = was_running {
                stop_container(&mut st.host.containers, &content);
            }
            ok("")
        }
        "restart" => {
            let Some(loaded) = unit.loaded.clone() else {
                return not_loaded("restart");
            };
            let mut stderr = String::new();
            if on_disk.as_ref() != Some(&loaded) {
                stderr = format!(
                    "Warning: The unit file, source configuration file or drop-ins of {TMATE_UNIT} changed on disk. Run 'systemctl daemon-reload' to reload units.\n"
                );
            }
            let (name, image) = container_of(&loaded);
            // ExecStop of the old instance, ExecStartPre `docker rm --force NAME`, then run.
            if let Some(old) = unit.running.take() {
                stop_container(&mut st.host.containers, &old);
            }
            if !docker_installed {
                unit.active = "failed".to_owned();
                return fail(
                    1,
                    &format!(
                        "Job for {TMATE_UNIT} failed because the control process exited with error code."
                    ),
                );
            }
            unit.active = "active".to_owned();
            unit.starts += 1;
            unit.running = Some(loaded);
            st.host.containers.retain(|c| c.name != name);
            st.host.containers.push(Container {
                name,
                image,
                state: "running".to_owned(),
            });
            Out {
                code: 0,
                stdout: String::new(),
                stderr,
            }
        }
        _ => unexpected("systemctl", &[verb, TMATE_UNIT]),
    }
}

fn docker(st: &mut ModelState, args: &[&str]) -> Out {
    if !st.host.packages.contains(DOCKER_PACKAGE) {
        return fail(
            127,
            "docker: command not found (docker.io is not installed)",
        );
    }
    match args {
        [
            "ps",
            "--all",
            "--format",
            "{{.Names}}\t{{.Image}}\t{{.State}}",
        ] => {
            let mut out = String::new();
            for c in &st.host.containers {
                out.push_str(&format!("{}\t{}\t{}\n", c.name, c.image, c.state));
            }
            ok(&out)
        }
        ["rm", "--force", name] => {
            // Removing the workload's container under systemd's feet makes the unit fail
            // and systemd restart it (Restart=always); the fake models the restart.
            let removed = st.host.containers.iter().any(|c| c.name == *name);
            st.host.containers.retain(|c| c.name != *name);
            if removed
                && let Some(unit) = st.host.units.get_mut(TMATE_UNIT)
                && let Some(running) = unit.running.clone()
            {
                let (running_name, image) = container_of(&running);
                if running_name == *name && unit.active == "active" {
                    st.host.containers.push(Container {
                        name: running_name,
                        image,
                        state: "running".to_owned(),
                    });
                    unit.starts += 1;
                }
            }
            ok(&format!("{name}\n"))
        }
        _ => unexpected("docker", args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::Fault;

    fn call(st: &mut ModelState, argv: &[&str]) -> (i32, String, String) {
        let args: Vec<String> = argv[1..].iter().map(|s| (*s).to_owned()).collect();
        let env = BTreeMap::from([("http_proxy".to_owned(), "http://proxy:3128".to_owned())]);
        let out = run(st, argv[0], &args, &env);
        (
            out.code,
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    const UNIT: &str = "[Service]\nExecStart=/usr/bin/docker run --rm --name tmate-ssh-server --net=host --entrypoint /srv/tmate-ssh-server/tmate-ssh-server IMG:1 -A -h 10.0.0.5 -p 10022 -k /keys\n";

    #[test]
    fn install_then_service_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = ModelState {
            root: dir.path().to_owned(),
            ..Default::default()
        };
        assert_eq!(
            call(&mut st, &["dpkg-query", "-W", "-f=${Status}", "docker.io"]).0,
            1
        );
        assert_eq!(call(&mut st, &["apt-get", "update"]).0, 0);
        assert_eq!(
            st.host.commands[1].proxy_env["http_proxy"],
            "http://proxy:3128"
        );
        assert_eq!(
            call(
                &mut st,
                &[
                    "apt-get",
                    "install",
                    "-y",
                    "--no-install-recommends",
                    "docker.io"
                ]
            )
            .0,
            0
        );
        let (code, out, _) = call(&mut st, &["dpkg-query", "-W", "-f=${Status}", "docker.io"]);
        assert_eq!((code, out.as_str()), (0, "install ok installed"));
        // No unit file yet.
        assert_eq!(call(&mut st, &["systemctl", "restart", TMATE_UNIT]).0, 5);
        std::fs::create_dir_all(dir.path().join("etc/systemd/system")).unwrap();
        std::fs::write(dir.path().join(UNIT_FILE), UNIT).unwrap();
        assert_eq!(call(&mut st, &["systemctl", "daemon-reload"]).0, 0);
        assert_eq!(call(&mut st, &["systemctl", "enable", TMATE_UNIT]).0, 0);
        assert_eq!(call(&mut st, &["systemctl", "restart", TMATE_UNIT]).0, 0);
        let (code, out, _) = call(&mut st, &["systemctl", "is-active", TMATE_UNIT]);
        assert_eq!((code, out.as_str()), (0, "active\n"));
        let (_, out, _) = call(
            &mut st,
            &[
                "docker",
                "ps",
                "--all",
                "--format",
                "{{.Names}}\t{{.Image}}\t{{.State}}",
            ],
        );
        assert_eq!(out, "tmate-ssh-server\tIMG:1\trunning\n");
        // A changed unit file without daemon-reload runs the old content, with systemd's warning.
        std::fs::write(dir.path().join(UNIT_FILE), UNIT.replace("10022", "2222")).unwrap();
        let (code, _, err) = call(&mut st, &["systemctl", "restart", TMATE_UNIT]);
        assert_eq!(code, 0);
        assert!(err.contains("changed on disk"), "{err}");
        assert_eq!(st.host.units[TMATE_UNIT].running.as_deref(), Some(UNIT));
        assert_eq!(call(&mut st, &["systemctl", "stop", TMATE_UNIT]).0, 0);
        let (code, out, _) = call(&mut st, &["systemctl", "is-active", TMATE_UNIT]);
        assert_eq!((code, out.as_str()), (3, "inactive\n"));
        assert!(st.host.containers.is_empty());
        assert!(st.findings.is_empty(), "{:?}", st.findings);
    }

    #[test]
    fn stopping_a_container_without_rm_leaves_it_exited() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = ModelState {
            root: dir.path().to_owned(),
            ..Default::default()
        };
        st.host.packages.insert(DOCKER_PACKAGE.to_owned());
        let legacy = UNIT.replace("run --rm --name tmate-ssh-server", "run --name 3f9a1c");
        std::fs::create_dir_all(dir.path().join("etc/systemd/system")).unwrap();
        std::fs::write(dir.path().join(UNIT_FILE), &legacy).unwrap();
        assert_eq!(call(&mut st, &["systemctl", "daemon-reload"]).0, 0);
        assert_eq!(call(&mut st, &["systemctl", "restart", TMATE_UNIT]).0, 0);
        assert_eq!(call(&mut st, &["systemctl", "stop", TMATE_UNIT]).0, 0);
        assert_eq!(
            st.host.containers,
            [Container {
                name: "3f9a1c".into(),
                image: "IMG:1".into(),
                state: "exited".into()
            }]
        );
        assert!(!removed_on_exit(&legacy) && removed_on_exit(UNIT));
    }

    #[test]
    fn unknown_argv_is_drift() {
        let mut st = ModelState::default();
        let (code, _, err) = call(&mut st, &["systemctl", "start", TMATE_UNIT]);
        assert_eq!(code, 2);
        assert!(
            err.starts_with("juju-sim-tool: unexpected argv for systemctl"),
            "{err}"
        );
        assert_eq!(st.findings.len(), 1);
    }

    #[test]
    fn injected_fault_applies_once() {
        let mut st = ModelState::default();
        st.host.faults.push(Fault {
            argv_prefix: vec!["apt-get".into(), "install".into()],
            exit: 100,
            stderr: "E: Unable to locate package docker.io\n".into(),
            hang_secs: 0,
            remaining: Some(1),
        });
        let argv = [
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            "docker.io",
        ];
        assert_eq!(call(&mut st, &argv).0, 100);
        assert!(!st.host.packages.contains(DOCKER_PACKAGE));
        assert_eq!(call(&mut st, &argv).0, 0);
    }

    #[test]
    fn parses_container_from_unit() {
        assert_eq!(
            container_of(UNIT),
            ("tmate-ssh-server".to_owned(), "IMG:1".to_owned())
        );
        let legacy = "ExecStart=/usr/bin/docker run --name abc123 --user root --entrypoint=/srv/x ghcr.io/x:0.1.1 -A";
        assert_eq!(
            container_of(legacy),
            ("abc123".to_owned(), "ghcr.io/x:0.1.1".to_owned())
        );
    }
}
