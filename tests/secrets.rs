//! No private key material leaves the unit (issue #6, part 2).
//!
//! The simulator scans everything a hook emits for the private keys under the host root, in
//! every encoding listed in `tmate_tests::sim::secrets` (so every charm scenario in
//! `charm_scenarios`, `faults` and this file is a secrets test). Here:
//!
//! - the scanner is shown to catch each encoding of real `ssh-keygen` keys, with the leaked
//!   values derived independently of it (a hand-written OpenSSH parser for Ed25519, `openssl
//!   rsa -text` and `python3` for RSA), and to stay quiet on the public parts;
//! - a planted leak through every channel a charm has (juju-log, status, relation data,
//!   action results and failure, charm state, stdout, stderr, the unit file, daemon.json) fails the
//!   simulator's driver, and public data through the same channels does not;
//! - the real charm goes through every kind of event with fresh and adopted (Python charm)
//!   keys, with the scanner provably armed.
//!
//! Needs `ssh-keygen` (openssh-client), `openssl` and `python3`: a missing one fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic on setup failure"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use tmate_tests::keys_support::require_tool;
use tmate_tests::sim::secrets::{HandRun, SecretScanner};
use tmate_tests::sim::{Error, NetworkInfo, ProxySettings, Sim, packed_charm_path};

const TOOL: &str = env!("CARGO_BIN_EXE_juju-sim-tool");
const KEYS: &str = "var/lib/tmate-ssh-server/keys";
const LEGACY_KEYS: &str = "home/ubuntu/keys";

// ----- keys and independently derived leaks -------------------------------------------------

/// A pair of host keys made by the real `ssh-keygen`.
struct TestKeys {
    _dir: tempfile::TempDir,
    ed25519: PathBuf,
    rsa: PathBuf,
}

fn ssh_keygen_into(path: &Path, kind: &str, extra: &[&str]) {
    let out = Command::new(require_tool("ssh-keygen"))
        .args(["-q", "-t", kind, "-N", "", "-C", "root@legacy"])
        .args(extra)
        .arg("-f")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn test_keys() -> TestKeys {
    let dir = tempfile::tempdir().unwrap();
    let ed25519 = dir.path().join("ssh_host_ed25519_key");
    let rsa = dir.path().join("ssh_host_rsa_key");
    ssh_keygen_into(&ed25519, "ed25519", &[]);
    ssh_keygen_into(&rsa, "rsa", &["-b", "2048"]);
    TestKeys {
        _dir: dir,
        ed25519,
        rsa,
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The base64 body lines of a PEM file.
fn body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads an SSH wire-format string at `*at`.
fn ssh_string<'a>(blob: &'a [u8], at: &mut usize) -> &'a [u8] {
    let len = u32::from_be_bytes(blob[*at..*at + 4].try_into().unwrap()) as usize;
    let s = &blob[*at + 4..*at + 4 + len];
    *at += 4 + len;
    s
}

/// The Ed25519 seed and its offset in the blob, parsed by hand from PROTOCOL.key (not with
/// the `ssh-key` crate the scanner uses).
fn ed25519_seed(pem: &str) -> (Vec<u8>, usize) {
    let blob = STANDARD.decode(body_lines(pem).concat()).unwrap();
    let magic = b"openssh-key-v1\0";
    assert!(blob.starts_with(magic));
    let mut at = magic.len();
    for _ in 0..3 {
        ssh_string(&blob, &mut at); // cipher, kdf, kdf options
    }
    at += 4; // number of keys
    ssh_string(&blob, &mut at); // public key
    let private_section_start = at + 4;
    let mut p = private_section_start + 8; // two check ints
    assert_eq!(ssh_string(&blob, &mut p), b"ssh-ed25519");
    ssh_string(&blob, &mut p); // public
    let secret_start = p + 4;
    let secret = ssh_string(&blob, &mut p);
    assert_eq!(secret.len(), 64);
    (secret[..32].to_vec(), secret_start)
}

/// `openssl rsa -text` of the key after `ssh-keygen -m PEM` turned it into PKCS#1, plus that
/// PKCS#1 file and the named numbers as big-endian bytes.
struct OpensslRsa {
    dump: String,
    pkcs1: String,
    numbers: Vec<(&'static str, Vec<u8>)>,
}

fn openssl_rsa(key: &Path) -> OpensslRsa {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("pkcs1");
    std::fs::copy(key, &copy).unwrap();
    let out = Command::new(require_tool("ssh-keygen"))
        .args(["-q", "-p", "-N", "", "-m", "PEM", "-f"])
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pkcs1 = read(&copy);
    assert!(
        pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "{pkcs1}"
    );
    let out = Command::new(require_tool("openssl"))
        .args(["rsa", "-text", "-noout", "-in"])
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8(out.stdout).unwrap();
    let number = |name: &str| -> Vec<u8> {
        let hex: String = dump
            .lines()
            .skip_while(|l| *l != format!("{name}:"))
            .skip(1)
            .take_while(|l| l.starts_with(' '))
            .flat_map(|l| l.trim().split(':'))
            .filter(|b| !b.is_empty())
            .collect();
        let mut bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        if bytes.first() == Some(&0) {
            bytes.remove(0);
        }
        assert!(bytes.len() > 100, "{name} not in the openssl dump");
        bytes
    };
    let numbers = vec![
        ("d", number("privateExponent")),
        ("p", number("prime1")),
        ("q", number("prime2")),
        ("iqmp", number("coefficient")),
    ];
    OpensslRsa {
        dump,
        pkcs1,
        numbers,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `int(HEX, 16)` in decimal, by python3.
fn python_decimal(bytes: &[u8]) -> String {
    let out = Command::new(require_tool("python3"))
        .args(["-c", "import sys; print(int(sys.argv[1], 16))", &hex(bytes)])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The public parts a charm may print: the `.pub` line, its base64, the fingerprint.
fn public_texts(key: &Path) -> Vec<String> {
    let out = Command::new(require_tool("ssh-keygen"))
        .args(["-y", "-f"])
        .arg(key)
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let out = Command::new(require_tool("ssh-keygen"))
        .args(["-l", "-E", "sha256", "-f"])
        .arg(key)
        .output()
        .unwrap();
    let fingerprint = String::from_utf8(out.stdout).unwrap();
    let blob = line.split_whitespace().nth(1).unwrap().to_owned();
    vec![line, blob, fingerprint]
}

/// Every leak the scanner must catch: (what, bytes).
fn leaks(keys: &TestKeys) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, path) in [("ed25519", &keys.ed25519), ("rsa", &keys.rsa)] {
        let pem = read(path);
        let body = body_lines(&pem);
        let joined = body.concat();
        out.push((format!("{name} key file"), pem.clone().into_bytes()));
        out.push((
            format!("{name} body without line breaks"),
            joined.clone().into_bytes(),
        ));
        out.push((
            format!("{name} key file in a JSON string"),
            json!({ "key": pem }).to_string().into_bytes(),
        ));
        if name == "rsa" {
            // The middle of an RSA blob is private (d, iqmp, p, q make up most of it).
            let mid = joined.len() / 2;
            out.push((
                "rsa 40 body characters from the middle".to_owned(),
                joined.as_bytes()[mid - 20..mid + 20].to_vec(),
            ));
        }
    }
    let pem = read(&keys.ed25519);
    let (seed, seed_at) = ed25519_seed(&pem);
    let joined = body_lines(&pem).concat();
    out.push((
        "ed25519 28 body characters over the seed".to_owned(),
        joined.as_bytes()[seed_at * 4 / 3..seed_at * 4 / 3 + 28].to_vec(),
    ));
    let mut misaligned = b"x".to_vec();
    misaligned.extend_from_slice(&seed);
    out.extend([
        ("ed25519 seed, hex".to_owned(), hex(&seed).into_bytes()),
        (
            "ed25519 seed, HEX".to_owned(),
            hex(&seed).to_uppercase().into_bytes(),
        ),
        (
            "ed25519 seed, base64".to_owned(),
            STANDARD.encode(&seed).into_bytes(),
        ),
        (
            "ed25519 seed, url-safe base64 without padding".to_owned(),
            URL_SAFE_NO_PAD.encode(&seed).into_bytes(),
        ),
        (
            "ed25519 seed, base64 one byte into a longer blob".to_owned(),
            STANDARD.encode(&misaligned).into_bytes(),
        ),
        ("ed25519 seed, raw bytes".to_owned(), seed.clone()),
        (
            "ed25519 seed, Rust debug of the byte array".to_owned(),
            // Not an encoding the scanner knows: shows the limit (see the assertion below).
            format!("{seed:?}").into_bytes(),
        ),
    ]);
    let rsa = openssl_rsa(&keys.rsa);
    out.push((
        "rsa `openssl rsa -text` dump".into(),
        rsa.dump.clone().into_bytes(),
    ));
    out.push(("rsa as PKCS#1 PEM".into(), rsa.pkcs1.clone().into_bytes()));
    for (name, bytes) in &rsa.numbers {
        out.push((format!("rsa {name}, hex"), hex(bytes).into_bytes()));
        out.push((
            format!("rsa {name}, base64"),
            STANDARD.encode(bytes).into_bytes(),
        ));
        out.push((
            format!("rsa {name}, decimal"),
            python_decimal(bytes).into_bytes(),
        ));
        out.push((
            format!("rsa {name}, 40 hex digits from the middle"),
            hex(bytes).as_bytes()[100..140].to_vec(),
        ));
    }
    out
}

fn scanner_for(keys: &TestKeys) -> SecretScanner {
    let mut scanner = SecretScanner::new();
    for path in [&keys.ed25519, &keys.rsa] {
        assert!(scanner.learn_private_key("test", &read(path)).unwrap() > 0);
    }
    scanner
}

#[test]
fn scanner_catches_every_encoding_of_real_keys() {
    let keys = test_keys();
    let scanner = scanner_for(&keys);
    let mut caught = 0;
    for (what, bytes) in leaks(&keys) {
        let found = scanner.scan(&bytes);
        if what.contains("Rust debug") {
            // `[12, 200, ...]` (decimal bytes) is not modelled: documented, and pinned here so
            // that teaching the scanner about it updates this test.
            assert_eq!(found, None, "{what}");
            continue;
        }
        assert!(found.is_some(), "scanner missed: {what}");
        // Embedded in other text it is still found.
        let mut framed = b"ERROR failed: ".to_vec();
        framed.extend_from_slice(&bytes);
        framed.extend_from_slice(b" (see juju debug-log)\n");
        assert!(
            scanner.scan(&framed).is_some(),
            "scanner missed framed: {what}"
        );
        caught += 1;
    }
    println!(
        "secret scanner: {caught} leak encodings caught, {} needles",
        scanner.needle_count()
    );
    assert!(caught >= 30, "{caught}");
}

#[test]
fn scanner_finds_each_private_pem_line_and_no_public_one() {
    let keys = test_keys();
    let scanner = scanner_for(&keys);
    let pem = read(&keys.ed25519);
    let (_, seed_at) = ed25519_seed(&pem);
    for (i, line) in body_lines(&pem).iter().enumerate() {
        // Line i encodes bytes 70i*3/4 .. (70i+70)*3/4 of the blob; the 32-byte seed is the
        // secret (the 64-byte private field ends with a copy of the public key).
        let (first, last) = (70 * i * 3 / 4, (70 * i + 70) * 3 / 4);
        let secret = last > seed_at && first < seed_at + 32;
        assert_eq!(
            scanner.scan(line.as_bytes()).is_some(),
            secret,
            "line {i} ({first}..{last}, secret at {seed_at}): {line}"
        );
    }
    for path in [&keys.ed25519, &keys.rsa] {
        let mut public = public_texts(path);
        public.push("SHA256:Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs".into());
        for text in public {
            assert_eq!(
                scanner.scan(text.as_bytes()),
                None,
                "public text flagged: {text}"
            );
        }
    }
}

#[test]
fn scanner_refuses_what_is_not_a_private_key() {
    let keys = test_keys();
    let mut scanner = SecretScanner::new();
    let public = public_texts(&keys.ed25519).remove(0);
    assert!(scanner.learn_private_key("pub", &public).is_err());
    assert_eq!(
        scanner.learn_private_key("x", "hello\n").unwrap_err(),
        "x: no PEM private key"
    );
    assert_eq!(scanner.key_count(), 0);
    assert_eq!(scanner.scan(read(&keys.ed25519).as_bytes()), None);
    // Learning the same key twice adds nothing.
    let first = scanner.learn_private_key("a", &read(&keys.rsa)).unwrap();
    assert!(first > 0);
    assert_eq!(scanner.learn_private_key("b", &read(&keys.rsa)).unwrap(), 0);
    assert_eq!(scanner.key_count(), 1);
}

// ----- planted leaks through the simulator --------------------------------------------------

const METADATA: &str =
    "name: leaky\nsummary: s\ndescription: d\nprovides:\n  debug-ssh:\n    interface: debug-ssh\n";
const CONFIG: &str =
    "options:\n  channel:\n    type: string\n    default: ''\n    description: c\n";
const ACTIONS: &str = "get-server-config:\n  description: d\n";

/// A charm that emits `$TMATE_CHARM_ROOT/leak` through the channel named by its config.
const LEAKY_DISPATCH: &str = r#"#!/bin/sh
set -e
leak=$(cat "$TMATE_CHARM_ROOT/leak")
channel=$(config-get channel)
case "$JUJU_DISPATCH_PATH:$channel" in
  hooks/install:juju-log) juju-log -- "$leak" ;;
  hooks/install:status) status-set blocked -- "$leak" ;;
  hooks/install:state) state-set "cache=$leak" ;;
  hooks/install:stdout) cat "$TMATE_CHARM_ROOT/leak" ;;
  hooks/install:stderr) cat "$TMATE_CHARM_ROOT/leak" >&2 ;;
  hooks/install:unit-file)
    mkdir -p "$TMATE_CHARM_ROOT/etc/systemd/system"
    cat "$TMATE_CHARM_ROOT/leak" > "$TMATE_CHARM_ROOT/etc/systemd/system/tmate-ssh-server.service" ;;
  hooks/install:daemon-json)
    mkdir -p "$TMATE_CHARM_ROOT/etc/docker"
    printf '{"proxies": {"http-proxy": "%s"}}' "$leak" > "$TMATE_CHARM_ROOT/etc/docker/daemon.json" ;;
  hooks/debug-ssh-relation-created:relation) relation-set -r "$JUJU_RELATION_ID" "note=$leak" ;;
  actions/get-server-config:action) action-set "tmate-config=$leak" ;;
  actions/get-server-config:action-fail) action-fail -- "$leak" ;;
esac
"#;

const CHANNELS: [&str; 10] = [
    "juju-log",
    "status",
    "state",
    "stdout",
    "stderr",
    "unit-file",
    "daemon-json",
    "relation",
    "action",
    "action-fail",
];

/// A unit of the leaky charm whose keys dir holds `keys` and whose leak file holds `leak`.
fn leaky_unit(keys: &TestKeys, channel: &str, leak: &[u8]) -> (tempfile::TempDir, Sim) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let charm = dir.path().join("charm");
    std::fs::create_dir(&charm).unwrap();
    std::fs::write(charm.join("metadata.yaml"), METADATA).unwrap();
    std::fs::write(charm.join("config.yaml"), CONFIG).unwrap();
    std::fs::write(charm.join("actions.yaml"), ACTIONS).unwrap();
    std::fs::write(charm.join("dispatch"), LEAKY_DISPATCH).unwrap();
    std::fs::set_permissions(
        charm.join("dispatch"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let mut sim = Sim::from_dir(&charm, Path::new(TOOL)).unwrap();
    let key_dir = sim.root().join(KEYS);
    std::fs::create_dir_all(&key_dir).unwrap();
    for path in [&keys.ed25519, &keys.rsa] {
        std::fs::copy(path, key_dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(sim.root().join("leak"), leak).unwrap();
    let channel = channel.to_owned();
    sim.arrange(|st| {
        st.config.insert("channel".into(), json!(channel));
    })
    .unwrap();
    (dir, sim)
}

/// Runs the hook that uses `channel`; returns the driver's findings (empty when it passed).
fn leak_through(keys: &TestKeys, channel: &str, leak: &[u8]) -> Vec<String> {
    let (_dir, mut sim) = leaky_unit(keys, channel, leak);
    let result = match channel {
        "relation" => sim
            .relate("debug-ssh", "github-runner", &["github-runner/0"])
            .map(|_| ()),
        "action" | "action-fail" => sim
            .deploy()
            .and_then(|_| sim.run_action("get-server-config", &[]))
            .map(|_| ()),
        _ => sim.deploy().map(|_| ()),
    };
    match result {
        Ok(()) => {
            assert_eq!(sim.secret_scanner().key_count(), 2, "keys learned");
            Vec::new()
        }
        Err(Error::Findings { findings, .. }) => findings,
        Err(e) => panic!("{channel}: unexpected error {e}"),
    }
}

#[test]
fn planted_leak_through_every_channel_fails_the_hook() {
    let keys = test_keys();
    let pem = read(&keys.ed25519);
    let (seed, _) = ed25519_seed(&pem);
    let d = &openssl_rsa(&keys.rsa).numbers[0].1;
    let cases: [(&str, Vec<u8>); 3] = [
        ("ed25519 seed, hex", hex(&seed).into_bytes()),
        ("rsa d, base64", STANDARD.encode(d).into_bytes()),
        (
            "ed25519 body line",
            body_lines(&pem)[3].clone().into_bytes(),
        ),
    ];
    for channel in CHANNELS {
        for (what, leak) in &cases {
            let findings = leak_through(&keys, channel, leak);
            assert!(
                findings.iter().any(|f| f.contains("private key material")),
                "{channel}: {what} not reported: {findings:?}"
            );
        }
    }
    // Raw bytes can only travel through a byte stream.
    let findings = leak_through(&keys, "stdout", &seed);
    assert!(
        findings
            .iter()
            .any(|f| f.contains("ed25519 seed, raw") && f.contains("stdout")),
        "{findings:?}"
    );
    println!(
        "planted leaks: {} channels x {} encodings reported",
        CHANNELS.len(),
        cases.len()
    );
}

/// Runs the leaky charm's `install` by hand, as `juju exec` would (outside the simulator's
/// hook runner), and returns the findings of its [`HandRun`] scan.
fn hand_run_leak_through(keys: &TestKeys, channel: &str, leak: &[u8]) -> Vec<String> {
    let (_dir, sim) = leaky_unit(keys, channel, leak);
    let env = sim.exec_environment("hooks/install").unwrap();
    let before = HandRun::before(&sim.state().unwrap());
    let charm_dir = &sim.charm().dir;
    let out = Command::new(charm_dir.join("dispatch"))
        .current_dir(charm_dir)
        .env_clear()
        .envs(env)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{channel}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The simulator's scanner has seen no hook, so knows no key: the scan learns the keys
    // under the root itself.
    assert_eq!(sim.secret_scanner().key_count(), 0);
    before.scan(
        sim.secret_scanner(),
        &sim.state().unwrap(),
        &out.stdout,
        &out.stderr,
    )
}

/// `faults` and `bad_input` start `dispatch` by hand; their scan catches a leak through each
/// channel such a run has, and stays quiet on public data.
#[test]
fn planted_leak_from_a_hand_started_dispatch_is_reported() {
    let keys = test_keys();
    let pem = read(&keys.ed25519);
    let (seed, _) = ed25519_seed(&pem);
    let mut public = public_texts(&keys.ed25519);
    public.extend(public_texts(&keys.rsa));
    let public = public.join("\n");
    let channels = [
        "stdout",
        "stderr",
        "juju-log",
        "status",
        "state",
        "unit-file",
        "daemon-json",
    ];
    for channel in channels {
        let findings = hand_run_leak_through(&keys, channel, hex(&seed).as_bytes());
        assert!(
            findings.iter().any(|f| f.contains("ed25519 seed")),
            "{channel}: not reported: {findings:?}"
        );
        assert_eq!(
            hand_run_leak_through(&keys, channel, public.as_bytes()),
            Vec::<String>::new(),
            "{channel}: public data reported"
        );
    }
    println!(
        "hand-started dispatch: planted leaks through {} channels reported",
        channels.len()
    );
}

#[test]
fn public_data_through_every_channel_is_not_a_finding() {
    let keys = test_keys();
    let mut public = public_texts(&keys.ed25519);
    public.extend(public_texts(&keys.rsa));
    let text = public.join("\n");
    for channel in CHANNELS {
        assert_eq!(
            leak_through(&keys, channel, text.as_bytes()),
            Vec::<String>::new(),
            "{channel}"
        );
    }
}

// ----- the real charm -----------------------------------------------------------------------

fn charm_unit() -> Sim {
    match Sim::new(&packed_charm_path(), Path::new(TOOL)) {
        Ok(sim) => sim,
        Err(Error::NotPacked { path }) => {
            panic!(
                "{} is missing: run `cargo xtask charm` first",
                path.display()
            )
        }
        Err(e) => panic!("simulator setup failed: {e}"),
    }
}

/// Every kind of event, with the failures and oddities that make a charm print more than
/// usual (bad config, bad proxy, no address, a crash, a failing host command). Any finding
/// fails the driver call (`unwrap`).
fn exercise(sim: &mut Sim) {
    let runs = sim.deploy().unwrap();
    assert!(runs.iter().all(|r| r.succeeded()), "{:#?}", runs.last());
    assert!(
        sim.secret_scanner().key_count() >= 2,
        "the scanner learned the unit's keys"
    );
    let (id, _) = sim
        .relate(
            "debug-ssh",
            "github-runner",
            &["github-runner/0", "github-runner/1"],
        )
        .unwrap();
    sim.remote_change(id, "github-runner/0", &[("garbage", "-----BEGIN x")])
        .unwrap();
    let (outcome, _) = sim.run_action("get-server-config", &[]).unwrap();
    assert_eq!(outcome.status, "completed");
    sim.set_config(&[("port", json!(2222))]).unwrap();
    sim.set_config(&[("port", json!(70000))]).unwrap();
    sim.set_config(&[("port", json!(null)), ("image", json!("not an image"))])
        .unwrap();
    sim.set_config(&[
        ("image", json!(null)),
        ("external-address", json!("192.0.2.7")),
    ])
    .unwrap();
    sim.run_action("get-server-config", &[]).unwrap();
    sim.set_config(&[("external-address", json!(""))]).unwrap();
    sim.set_proxy(ProxySettings {
        http: "http://user:secret@squid:3128".into(),
        https: "not a url".into(),
        ..Default::default()
    })
    .unwrap();
    sim.update_status().unwrap();
    sim.set_proxy(ProxySettings::default()).unwrap();
    sim.set_network(NetworkInfo::no_address()).unwrap();
    let (outcome, _) = sim.run_action("get-server-config", &[]).unwrap();
    assert_eq!(outcome.status, "failed");
    sim.set_network(NetworkInfo::ipv4("10.0.0.6")).unwrap();
    sim.crash_workload().unwrap();
    sim.update_status().unwrap();
    sim.fail_host_command(&["systemctl", "restart"], 1, "Job failed.\n", Some(1))
        .unwrap();
    sim.set_config(&[("port", json!(2223))]).unwrap();
    if sim.error().is_some() {
        sim.resolve().unwrap();
    }
    sim.upgrade(None).unwrap();
    sim.depart(id, "github-runner/1").unwrap();
    sim.remove().unwrap();
    let calls: usize = sim.runs().iter().map(|r| r.calls.len()).sum();
    assert!(
        calls > 100,
        "the scenario emitted little: {calls} tool calls"
    );
}

#[test]
fn real_charm_emits_no_key_material_across_all_events() {
    let mut sim = charm_unit();
    exercise(&mut sim);
    assert!(sim.secret_scanner().needle_count() > 500);
    println!(
        "real charm: {} hooks scanned, {} keys, {} needles, no findings",
        sim.runs().len(),
        sim.secret_scanner().key_count(),
        sim.secret_scanner().needle_count()
    );
}

#[test]
fn real_charm_with_adopted_python_charm_keys_emits_none_of_them() {
    let mut sim = charm_unit();
    let legacy = sim.root().join(LEGACY_KEYS);
    std::fs::create_dir_all(&legacy).unwrap();
    ssh_keygen_into(&legacy.join("ssh_host_rsa_key"), "rsa", &["-b", "2048"]);
    ssh_keygen_into(&legacy.join("ssh_host_ed25519_key"), "ed25519", &[]);
    exercise(&mut sim);
    let served = read(&sim.root().join(KEYS).join("ssh_host_ed25519_key"));
    assert_eq!(
        served,
        read(&legacy.join("ssh_host_ed25519_key")),
        "legacy key adopted"
    );
}
