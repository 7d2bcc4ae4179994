//! The rock (`rock/rockcraft.yaml`) against upstream and against the charm that runs it.
//!
//! Needs `python3` with PyYAML and `craft_parts` (installed with `pip install charmcraft`),
//! and the packed charm (`cargo xtask charm`): a missing one fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic on setup failure"
)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tmate_tests::sim::host::UNIT_FILE;
use tmate_tests::sim::{Error, Sim, packed_charm_path};

const TOOL: &str = env!("CARGO_BIN_EXE_juju-sim-tool");
/// The upstream commit the rock builds (TMATE.md: newest commit, the one that added `-A`).
const UPSTREAM_COMMIT: &str = "d7334ee4c3c8036c27fb35c7a24df3a88a15676b";
const UPSTREAM_REPO: &str = "https://github.com/tmate-io/tmate-ssh-server.git";
/// The one part and the one service of the rock.
const NAME: &str = "tmate-ssh-server";

fn rockcraft_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rock/rockcraft.yaml")
}

/// Runs a Python snippet with `input` on stdin; panics with its stderr when it fails.
fn python(script: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed (with PyYAML and craft_parts: pip install charmcraft)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// rockcraft.yaml parsed by PyYAML's safe loader (the same loader family rockcraft uses).
fn rockcraft() -> Value {
    let text = std::fs::read_to_string(rockcraft_path()).unwrap();
    let json = python(
        "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        &text,
    );
    serde_json::from_str(&json).unwrap()
}

fn service(rock: &Value) -> &Value {
    &rock["services"][NAME]
}

/// A Pebble service command split into its fixed words and its `[ default ]` words.
fn pebble_command(command: &str) -> (Vec<String>, Vec<String>) {
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.iter().position(|w| *w == "[") {
        None => (words.iter().map(|w| (*w).to_owned()).collect(), Vec::new()),
        Some(open) => {
            assert_eq!(
                words.last(),
                Some(&"]"),
                "`[ ... ]` must end the command: {command}"
            );
            let fixed = words[..open].iter().map(|w| (*w).to_owned()).collect();
            let defaults = words[open + 1..words.len() - 1]
                .iter()
                .map(|w| (*w).to_owned())
                .collect();
            (fixed, defaults)
        }
    }
}

/// `-A -h H -p P -k K` as a map from flag to value (`""` for a flag without one).
fn tmate_flags(args: &[String]) -> BTreeMap<String, String> {
    let mut flags = BTreeMap::new();
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        assert!(flag.starts_with('-'), "not a flag: {flag} in {args:?}");
        let value = if flag == "-A" {
            String::new()
        } else {
            iter.next()
                .unwrap_or_else(|| panic!("{flag} has no value"))
                .clone()
        };
        assert!(
            flags.insert(flag.clone(), value).is_none(),
            "{flag} given twice"
        );
    }
    flags
}

/// The words of the unit's `ExecStart=` line, with `\` continuations joined.
fn exec_start(unit: &str) -> Vec<String> {
    let joined = unit.replace("\\\n", " ");
    let line = joined
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart= line");
    line.split_whitespace().map(str::to_owned).collect()
}

/// What the charm's `docker run` line says about the workload.
#[derive(Debug)]
struct DockerRun {
    entrypoint: String,
    /// Arguments after the image.
    args: Vec<String>,
    env: BTreeMap<String, String>,
    /// Container paths of `--volume HOST:CONTAINER[:OPTS]`.
    volumes: Vec<String>,
    user: Option<String>,
}

/// Parses `docker run [OPTIONS] IMAGE [ARG...]` from an ExecStart line.
fn docker_run(words: &[String]) -> DockerRun {
    let run = words
        .iter()
        .position(|w| w == "run")
        .expect("a `docker run` line");
    let mut it = words[run + 1..].iter();
    let (mut entrypoint, mut env, mut volumes, mut user) =
        (None, BTreeMap::new(), Vec::new(), None);
    // Options taking a separate value when written without `=`.
    let with_value = [
        "--name",
        "--entrypoint",
        "--env",
        "-e",
        "--volume",
        "-v",
        "--user",
        "-u",
        "--cap-add",
        "--cap-drop",
        "--security-opt",
        "--net",
        "--network",
    ];
    let image = loop {
        let word = it.next().expect("an image after the options");
        if !word.starts_with('-') {
            break word.clone();
        }
        let (flag, value) = match word.split_once('=') {
            Some((f, v)) => (f.to_owned(), v.to_owned()),
            None if with_value.contains(&word.as_str()) => {
                (word.clone(), it.next().unwrap().clone())
            }
            None => (word.clone(), String::new()),
        };
        match flag.as_str() {
            "--entrypoint" => entrypoint = Some(value),
            "--env" | "-e" => {
                let (k, v) = value.split_once('=').expect("--env NAME=VALUE");
                env.insert(k.to_owned(), v.to_owned());
            }
            "--volume" | "-v" => {
                volumes.push(value.split(':').nth(1).expect("HOST:CONTAINER").to_owned());
            }
            "--user" | "-u" => user = Some(value),
            _ => {}
        }
    };
    assert!(!image.is_empty());
    DockerRun {
        entrypoint: entrypoint.expect("the unit names an --entrypoint"),
        args: it.cloned().collect(),
        env,
        volumes,
        user,
    }
}

/// The unit file the packed charm writes on a fresh deploy, under the simulator.
fn charm_unit() -> String {
    let mut sim = match Sim::new(&packed_charm_path(), Path::new(TOOL)) {
        Ok(sim) => sim,
        Err(Error::NotPacked { path }) => {
            panic!(
                "{} is missing: run `cargo xtask charm` first",
                path.display()
            )
        }
        Err(e) => panic!("simulator setup failed: {e}"),
    };
    let runs = sim.deploy().unwrap();
    assert!(
        runs.iter().all(|r| r.succeeded()),
        "deploy failed: {:#?}",
        runs.last()
    );
    std::fs::read_to_string(sim.root().join(UNIT_FILE)).unwrap()
}

#[test]
fn rockcraft_yaml_has_the_required_keys() {
    let rock = rockcraft();
    for key in [
        "name",
        "base",
        "version",
        "platforms",
        "parts",
        "services",
        "summary",
        "description",
    ] {
        assert!(!rock[key].is_null(), "rockcraft.yaml lacks `{key}`");
    }
    assert_eq!(rock["name"], NAME);
    assert!(
        rock["platforms"].get("amd64").is_some(),
        "the charm's bases are amd64"
    );
}

#[test]
fn rock_builds_the_pinned_upstream_commit_with_autotools() {
    let rock = rockcraft();
    let part = &rock["parts"][NAME];
    assert_eq!(part["source"], UPSTREAM_REPO);
    assert_eq!(part["source-type"], "git");
    assert_eq!(part["source-commit"], UPSTREAM_COMMIT);
    assert_eq!(part["plugin"], "autotools");
    let build: Vec<&str> = part["build-packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    // configure.ac's checks: libevent, ncurses, msgpack-c, libssh (pkg-config for pkg.m4).
    for needed in [
        "libevent-dev",
        "libncurses-dev",
        "libmsgpack-dev",
        "libssh-dev",
        "pkg-config",
    ] {
        assert!(build.contains(&needed), "build-packages lacks {needed}");
    }
    // The binary must land where the entrypoint names it.
    let params: Vec<&str> = part["autotools-configure-parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let (entrypoint, _) = pebble_command(service(&rock)["command"].as_str().unwrap());
    let bindir = Path::new(&entrypoint[0]).parent().unwrap();
    assert!(
        params.contains(&format!("--bindir={}", bindir.display()).as_str()),
        "configure --bindir must be {}: {params:?}",
        bindir.display()
    );
}

#[test]
fn rock_parts_pass_craft_parts_validation() {
    // craft_parts is the library rockcraft builds parts with: it rejects unknown keys and
    // wrong plugin properties, so a typo fails here, not in a remote build.
    let rock = rockcraft();
    let parts = serde_json::to_string(&rock["parts"]).unwrap();
    let out = python(
        "import json, sys, craft_parts\n\
         for name, part in json.load(sys.stdin).items():\n\
         \x20   craft_parts.validate_part(part)\n\
         \x20   print(name)",
        &parts,
    );
    assert_eq!(out.trim(), NAME);
}

#[test]
fn craft_parts_validation_rejects_a_misspelt_property() {
    // The check above can fail: the same call rejects a part with a typo.
    let rock = rockcraft();
    let mut part = rock["parts"][NAME].clone();
    part["autotools-configure-paramters"] = Value::Array(Vec::new());
    let out = python(
        "import json, sys, craft_parts\n\
         try:\n\
         \x20   craft_parts.validate_part(json.load(sys.stdin))\n\
         \x20   print('accepted')\n\
         except Exception as e:\n\
         \x20   print('rejected', type(e).__name__)",
        &serde_json::to_string(&part).unwrap(),
    );
    assert!(out.starts_with("rejected"), "{out}");
}

#[test]
fn rock_runs_as_root_with_a_utf8_locale() {
    let rock = rockcraft();
    // The jail needs uid 0 (TMATE.md "Privileges"); no run-user means root.
    assert!(
        rock.get("run-user").is_none(),
        "the server must start as root"
    );
    // An Ubuntu base provides `nobody` in /etc/passwd and /tmp for /tmp/tmate.
    assert!(
        rock["base"].as_str().unwrap().starts_with("ubuntu@"),
        "{}",
        rock["base"]
    );
    assert_eq!(rock["environment"]["LC_ALL"], "C.UTF-8");
    assert_eq!(service(&rock)["environment"]["LC_ALL"], "C.UTF-8");
    assert_eq!(service(&rock)["startup"], "enabled");
}

#[test]
fn rock_service_runs_what_the_charm_unit_runs() {
    let rock = rockcraft();
    let (fixed, defaults) = pebble_command(service(&rock)["command"].as_str().unwrap());
    let rock_flags = tmate_flags(&[&fixed[1..], &defaults[..]].concat());

    let unit = charm_unit();
    let docker = docker_run(&exec_start(&unit));
    let charm_flags = tmate_flags(&docker.args);

    assert_eq!(fixed[0], docker.entrypoint, "entrypoint path");
    assert_eq!(
        rock_flags.keys().collect::<Vec<_>>(),
        charm_flags.keys().collect::<Vec<_>>(),
        "the same tmate-ssh-server flags"
    );
    assert_eq!(rock_flags["-k"], charm_flags["-k"], "keys directory");
    assert!(
        docker.volumes.contains(&charm_flags["-k"]),
        "the charm mounts the keys at {}: {:?}",
        charm_flags["-k"],
        docker.volumes
    );
    assert_eq!(rock_flags["-p"], charm_flags["-p"], "default port");
    // `-A` is fixed in the rock (not overridable by Pebble arguments), as in the charm.
    assert!(fixed.contains(&"-A".to_owned()) && fixed.contains(&"-k".to_owned()));
    assert_eq!(
        docker.env.get("LC_ALL").map(String::as_str),
        Some("C.UTF-8")
    );
    assert_eq!(
        docker.env.get("LC_ALL"),
        rock["environment"]["LC_ALL"]
            .as_str()
            .map(str::to_owned)
            .as_ref()
    );
    // The charm runs the container as root too (or leaves the image's root default).
    assert!(
        matches!(docker.user.as_deref(), None | Some("root" | "0")),
        "{:?}",
        docker.user
    );
}

#[test]
fn pebble_command_and_flag_helpers() {
    let (fixed, defaults) = pebble_command("/x -A -k /keys [ -h localhost -p 10022 ]");
    assert_eq!(fixed, ["/x", "-A", "-k", "/keys"]);
    assert_eq!(defaults, ["-h", "localhost", "-p", "10022"]);
    let flags = tmate_flags(&[fixed[1..].to_vec(), defaults].concat());
    assert_eq!(flags["-A"], "");
    assert_eq!(flags["-k"], "/keys");
    let unit = "[Service]\nExecStart=/usr/bin/docker run --rm --user=root --volume /a:/keys:ro \\\n--env LC_ALL=C.UTF-8 --entrypoint /x img:1 -A -h 10.0.0.5 -p 10022 -k /keys\n";
    let run = docker_run(&exec_start(unit));
    assert_eq!(run.entrypoint, "/x");
    assert_eq!(
        run.args,
        ["-A", "-h", "10.0.0.5", "-p", "10022", "-k", "/keys"]
    );
    assert_eq!(run.volumes, ["/keys"]);
    assert_eq!(run.user.as_deref(), Some("root"));
}
