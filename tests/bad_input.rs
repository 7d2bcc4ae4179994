//! Bad input at every boundary (issue #6, part 1): one auditable table.
//!
//! [`CASES`] lists every malformed input the project's programs take from outside, boundary by
//! boundary, with the answer pinned: an exact error line (or a pinned part of it), a unit
//! status, a refusal by Juju itself, or "ignored". Each boundary has one test that runs its
//! rows and prints a one-line summary (`cli: 14 cases ok`); every row also checks that the bad
//! input lost nothing: `tmate-keygen` leaves the directory byte for byte as it was, and the
//! charm, once the input is fixed, is `active` again publishing the same host and
//! fingerprints from the same key files.
//!
//! Boundaries: `cli` (tmate-keygen arguments), `private-key` and `public-key` (key files
//! found in the keys directory), `tmate.conf` (`conf check`/`conf apply`), `juju-env`
//! (`JUJU_*` variables of `dispatch`), `network-get` (what Juju says about the unit's
//! addresses), `relation-data` (what the remote side writes), `config` (the charm's options)
//! and `action` (parameters of `get-server-config`).
//!
//! Some of these inputs are also covered by topic tests (`keygen_cli`, the charm's unit tests);
//! this table is the single list to audit. Needs `ssh-keygen` and the packed charm.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "test helpers panic on setup failure; the summary line per boundary is the report"
)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tmate_tests::keys_support::{
    DirSnapshot, ED25519_KEY, RSA_KEY, keygen, keygen_cmd, require_tool,
};
use tmate_tests::sim::consumer::DebugSshEntry;
use tmate_tests::sim::secrets::HandRun;
use tmate_tests::sim::{
    Error, NetworkInfo, ProxySettings, ROOT_ENV, STATE_ENV, Sim, packed_charm_path,
};

const TOOL: &str = env!("CARGO_BIN_EXE_juju-sim-tool");
const KEYS: &str = "var/lib/tmate-ssh-server/keys";

/// What is fed in.
#[derive(Debug, Clone, Copy)]
enum Input {
    /// `tmate-keygen ARGS`; `{keys}` is a keys directory that does not exist yet.
    Cli(&'static [&'static str]),
    /// `tmate-keygen init` on a complete keys dir whose `file` was spoiled.
    KeyFile(&'static str, Spoil),
    /// `tmate-keygen fingerprint FILE` with this content.
    Fingerprint(&'static [u8]),
    /// `tmate-keygen conf check FILE` with this content.
    ConfCheck(&'static [u8]),
    /// `tmate-keygen conf apply FILE --port 2222` with this content.
    ConfApply(&'static [u8]),
    /// `dispatch` run by hand with the standard environment changed: (name, value or unset).
    Env(&'static [(&'static str, Option<&'static [u8]>)]),
    /// The model's proxy settings (`JUJU_CHARM_HTTP_PROXY`, `_HTTPS_`, `_NO_`), then a hook.
    Proxy(&'static str, &'static str, &'static str),
    /// What `network-get` answers, then `config-changed` (Juju's address-change event).
    Network(Net),
    /// The remote unit writes these keys into its bag: `-relation-changed`.
    Remote(&'static [(&'static str, &'static str)]),
    /// `juju config` with these values (JSON), through Juju's type check.
    Config(&'static [(&'static str, &'static str)]),
    /// Config values as `config-get` would print them had Juju not checked their type.
    RawConfig(&'static [(&'static str, &'static str)]),
    /// `juju run get-server-config` with these parameters (JSON values); `true` when the
    /// charm's actions.yaml is relaxed to let undeclared parameters through.
    Action(&'static [(&'static str, &'static str)], bool),
}

/// How a key file is spoiled.
#[derive(Debug, Clone, Copy)]
enum Spoil {
    Empty,
    Text(&'static str),
    Truncated,
    RandomBytes,
    /// Replaced by a key `ssh-keygen -t TYPE` made, with these extra options.
    SshKeygen(&'static str, &'static [&'static str]),
    /// The RSA private key copied over it.
    RsaPrivate,
    /// Replaced by a directory.
    Directory,
}

/// `network-get` answers.
#[derive(Debug, Clone, Copy)]
enum Net {
    /// Juju has no network config (exit 1).
    Unavailable,
    /// An interface without addresses.
    NoAddress,
    /// An interface with these address values.
    Addresses(&'static [&'static str]),
    /// This text instead of JSON.
    Raw(&'static str),
}

/// The pinned answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exit status 1, nothing on stdout, exactly this on stderr (`{file}`, `{keys}` are
    /// substituted).
    Stderr(&'static str),
    /// The unit's status after the hook: kind and exact message.
    Status(&'static str, &'static str),
    /// The unit's status after the hook: kind and a pinned part of the message.
    StatusContains(&'static str, &'static str),
    /// Juju refuses the input before the charm sees it (the simulator's message).
    JujuRefuses(&'static str),
    /// `dispatch` exits 1 and logs (juju-log ERROR, or stderr without juju-log) this part.
    HookFails(&'static str),
    /// The consumer-side check of the published data reports this (the simulator's finding).
    ConsumerRejects(&'static str),
    /// The charm carries on: the hook succeeds, the unit stays `active`, publishing the same.
    Ignored,
    /// The action fails with exactly this message.
    ActionFails(&'static str),
    /// The action completes with the usual results.
    ActionCompletes,
}

struct Case {
    boundary: &'static str,
    name: &'static str,
    input: Input,
    expect: Expect,
}

const fn case(boundary: &'static str, name: &'static str, input: Input, expect: Expect) -> Case {
    Case {
        boundary,
        name,
        input,
        expect,
    }
}

use Expect::*;
use Input::*;

/// Every bad input, by boundary (one row per line: `rustfmt` leaves the table alone).
#[rustfmt::skip]
const CASES: &[Case] = &[
    // ----- cli: tmate-keygen arguments ------------------------------------------------------
    case("cli", "no command", Cli(&[]), Stderr("tmate-keygen: missing command (see 'tmate-keygen --help')\n")),
    case("cli", "unknown command", Cli(&["keygen"]), Stderr("tmate-keygen: unknown command \"keygen\" (see 'tmate-keygen --help')\n")),
    case("cli", "unknown option", Cli(&["init", "--keys-dir", "{keys}", "--frob"]), Stderr("tmate-keygen: invalid option '--frob' (see 'tmate-keygen --help')\n")),
    case("cli", "option without its value", Cli(&["init", "--keys-dir", "{keys}", "--port"]), Stderr("tmate-keygen: missing argument for option '--port' (see 'tmate-keygen --help')\n")),
    case("cli", "stray argument", Cli(&["init", "--keys-dir", "{keys}", "extra"]), Stderr("tmate-keygen: unexpected argument \"extra\" (see 'tmate-keygen --help')\n")),
    case("cli", "port 0", Cli(&["init", "--keys-dir", "{keys}", "--port", "0"]), Stderr("tmate-keygen: invalid port \"0\": expected a number from 1 to 65535 (see 'tmate-keygen --help')\n")),
    case("cli", "port 70000", Cli(&["init", "--keys-dir", "{keys}", "--port", "70000"]), Stderr("tmate-keygen: invalid port \"70000\": expected a number from 1 to 65535 (see 'tmate-keygen --help')\n")),
    case("cli", "port abc", Cli(&["init", "--keys-dir", "{keys}", "--port", "abc"]), Stderr("tmate-keygen: invalid port \"abc\": expected a number from 1 to 65535 (see 'tmate-keygen --help')\n")),
    case("cli", "host with a shell metacharacter", Cli(&["init", "--keys-dir", "{keys}", "--host", "bad;host"]), Stderr("tmate-keygen: invalid host \"bad;host\": only letters, digits, '-' and '.' are allowed in a name (see 'tmate-keygen --help')\n")),
    case("cli", "empty host", Cli(&["init", "--keys-dir", "{keys}", "--host", ""]), Stderr("tmate-keygen: invalid host \"\": empty host (see 'tmate-keygen --help')\n")),
    case("cli", "unknown format", Cli(&["init", "--keys-dir", "{keys}", "--format", "yaml"]), Stderr("tmate-keygen: invalid format \"yaml\": use conf or json (see 'tmate-keygen --help')\n")),
    case("cli", "RSA size 1024", Cli(&["init", "--keys-dir", "{keys}", "--rsa-bits", "1024"]), Stderr("tmate-keygen: unsupported RSA key size 1024 (use 2048, 3072 or 4096)\n")),
    case("cli", "RSA size not a number", Cli(&["init", "--keys-dir", "{keys}", "--rsa-bits", "many"]), Stderr("tmate-keygen: invalid RSA key size \"many\": use 2048, 3072 or 4096 (see 'tmate-keygen --help')\n")),
    case("cli", "unknown fingerprint hash", Cli(&["fingerprint", "-E", "sha1"]), Stderr("tmate-keygen: invalid fingerprint hash \"sha1\": use sha256 or md5 (see 'tmate-keygen --help')\n")),
    case("cli", "conf without a command", Cli(&["conf"]), Stderr("tmate-keygen conf: missing command (check or apply) (see 'tmate-keygen conf --help')\n")),
    case("cli", "conf check without a file", Cli(&["conf", "check"]), Stderr("tmate-keygen conf: check: missing FILE (see 'tmate-keygen conf --help')\n")),
    case("cli", "conf apply port 0", Cli(&["conf", "apply", "{keys}.conf", "--port", "0"]), Stderr("tmate-keygen conf: invalid port \"0\": expected a number from 1 to 65535 (see 'tmate-keygen conf --help')\n")),
    // ----- private-key: the files init finds ---------------------------------------------
    case("private-key", "empty", KeyFile(RSA_KEY, Spoil::Empty), Stderr("tmate-keygen: {file}: not an OpenSSH private key\n")),
    case("private-key", "text", KeyFile(ED25519_KEY, Spoil::Text("hello world\n")), Stderr("tmate-keygen: {file}: not an OpenSSH private key\n")),
    case("private-key", "truncated", KeyFile(RSA_KEY, Spoil::Truncated), Stderr("tmate-keygen: {file}: not an OpenSSH private key\n")),
    case("private-key", "random bytes", KeyFile(ED25519_KEY, Spoil::RandomBytes), Stderr("tmate-keygen: {file}: not a text file\n")),
    case("private-key", "encrypted", KeyFile(ED25519_KEY, Spoil::SshKeygen("ed25519", &["-N", "secret"])), Stderr("tmate-keygen: {file}: private key is encrypted (tmate-ssh-server needs an unencrypted key)\n")),
    case("private-key", "ECDSA key", KeyFile(RSA_KEY, Spoil::SshKeygen("ecdsa", &["-N", ""])), Stderr("tmate-keygen: {file}: unsupported host key type ecdsa-sha2-nistp256 (use rsa or ed25519)\n")),
    case("private-key", "PKCS#1 PEM", KeyFile(RSA_KEY, Spoil::SshKeygen("rsa", &["-N", "", "-b", "2048", "-m", "PEM"])), Stderr("tmate-keygen: {file}: not an OpenSSH private key\n")),
    case("private-key", "RSA key as the Ed25519 key", KeyFile(ED25519_KEY, Spoil::RsaPrivate), Stderr("tmate-keygen: {file}: expected an ed25519 key, found rsa\n")),
    case("private-key", "a directory", KeyFile(RSA_KEY, Spoil::Directory), Stderr("tmate-keygen: {file}: not a regular file\n")),
    // ----- public-key: .pub files and fingerprint inputs ---------------------------------
    case("public-key", "garbage .pub", KeyFile("ssh_host_rsa_key.pub", Spoil::Text("garbage\n")), Stderr("tmate-keygen: {file}:1:1: unknown key type \"garbage\"\n")),
    case("public-key", "private key in the .pub", KeyFile("ssh_host_rsa_key.pub", Spoil::RsaPrivate), Stderr("tmate-keygen: {file}:1:1: this is a private key, not a public key line\n")),
    case("public-key", "empty .pub", KeyFile("ssh_host_ed25519_key.pub", Spoil::Empty), Stderr("tmate-keygen: {file}:1:1: no public key on this line\n")),
    case("public-key", "NUL bytes in the .pub", KeyFile("ssh_host_rsa_key.pub", Spoil::Text("\0\0\0")), Stderr("tmate-keygen: {file}:1:1: unknown key type \"\\0\\0\\0\"\n")),
    case("public-key", ".pub of another key", KeyFile("ssh_host_ed25519_key.pub", Spoil::SshKeygen("ed25519", &["-N", ""])), Stderr("tmate-keygen: {file}: does not match its private key\n")),
    case("public-key", "fingerprint of garbage", Fingerprint(b"ssh-ed25519 AAAA!!!! x\n"), Stderr("tmate-keygen: {file}: no public key found\n")),
    // ----- tmate.conf: conf check / apply --------------------------------------------------
    case("tmate.conf", "misspelt option", ConfCheck(b"set -g tmate-server-prot 22\n"), Stderr("{file}:1:8: unknown option \"tmate-server-prot\" (did you mean \"tmate-server-port\"?)\n")),
    case("tmate.conf", "port out of range", ConfCheck(b"set -g tmate-server-port 70000\n"), Stderr("{file}:1:26: value \"70000\" is too large for option \"tmate-server-port\" (expected a number from 1 to 65535)\n")),
    case("tmate.conf", "port not a number", ConfCheck(b"set -g tmate-server-port abc\n"), Stderr("{file}:1:26: invalid value \"abc\" for option \"tmate-server-port\" (expected a number from 1 to 65535)\n")),
    case("tmate.conf", "unterminated quote", ConfCheck(b"set -g tmate-server-host \"unterminated\n"), Stderr("{file}:1:26: unterminated double quote\n")),
    case("tmate.conf", "missing value", ConfCheck(b"set -g tmate-server-rsa-fingerprint\n"), Stderr("{file}:1:8: missing value for option \"tmate-server-rsa-fingerprint\"\n")),
    case("tmate.conf", "unknown command", ConfCheck(b"frobnicate -g x\n"), Stderr("{file}:1:1: unknown command \"frobnicate\"\n")),
    case("tmate.conf", "too many arguments", ConfCheck(b"set -g tmate-server-port 22 extra\n"), Stderr("{file}:1:29: too many arguments for set-option (usage: set-option [-agosquw] [-t target-window] option [value])\n")),
    case("tmate.conf", "not UTF-8", ConfCheck(b"\xff\xfe set\n"), Stderr("tmate-keygen conf: {file}: not valid UTF-8\n")),
    case("tmate.conf", "apply to a broken file", ConfApply(b"set -g tmate-server-port 22\nset -g tmate-server-host \"oops\n"), Stderr("{file}:2:26: unterminated double quote\n")),
    // ----- juju-env: the environment dispatch runs with ------------------------------------
    case("juju-env", "no JUJU_DISPATCH_PATH, argv[0] names no event", Env(&[("JUJU_DISPATCH_PATH", None)]), HookFails("cannot tell which event to handle: JUJU_DISPATCH_PATH is unset and argv[0] ")),
    case("juju-env", "dispatch path without a name", Env(&[("JUJU_DISPATCH_PATH", Some(b"hooks/"))]), HookFails("unrecognised dispatch path \"hooks/\" (expected hooks/<name> or actions/<name>)")),
    case("juju-env", "dispatch path climbing out", Env(&[("JUJU_DISPATCH_PATH", Some(b"hooks/../../bin/sh"))]), HookFails("unrecognised dispatch path \"hooks/../../bin/sh\" (expected hooks/<name> or actions/<name>)")),
    case("juju-env", "unknown action", Env(&[("JUJU_DISPATCH_PATH", Some(b"actions/reboot"))]), HookFails("unknown action \"reboot\" (this charm only has get-server-config)")),
    case("juju-env", "no JUJU_UNIT_NAME", Env(&[("JUJU_UNIT_NAME", None)]), HookFails("JUJU_UNIT_NAME is not set")),
    case("juju-env", "relation hook without JUJU_RELATION_ID", Env(&[("JUJU_DISPATCH_PATH", Some(b"hooks/debug-ssh-relation-changed"))]), HookFails("JUJU_RELATION_ID is not set")),
    case("juju-env", "relation that does not exist", Env(&[("JUJU_DISPATCH_PATH", Some(b"hooks/debug-ssh-relation-changed")), ("JUJU_RELATION_ID", Some(b"debug-ssh:99"))]), Ignored),
    case("juju-env", "relative TMATE_CHARM_ROOT", Env(&[(ROOT_ENV, Some(b"relative/root"))]), HookFails("TMATE_CHARM_ROOT must be an absolute path, got \"relative/root\"")),
    case("juju-env", "proxy variable not UTF-8", Env(&[("JUJU_CHARM_HTTP_PROXY", Some(b"http://\xff\xfe:3128"))]), HookFails("JUJU_CHARM_HTTP_PROXY is not valid UTF-8")),
    case("juju-env", "HTTPS proxy not a URL", Proxy("", "not a url", ""), StatusContains("blocked", "invalid model proxy setting JUJU_CHARM_HTTPS_PROXY: ")),
    case("juju-env", "HTTP proxy with a space", Proxy("http://squid :3128", "", ""), StatusContains("blocked", "invalid model proxy setting JUJU_CHARM_HTTP_PROXY: ")),
    case("juju-env", "no-proxy list with a quote", Proxy("", "", "localhost,\"evil\""), Status("blocked", "invalid model proxy setting JUJU_CHARM_NO_PROXY: expected a comma-separated list of hosts, domains or CIDRs")),
    // ----- network-get: what Juju says about the unit's addresses ------------------------
    case("network-get", "no network config (exit 1)", Network(Net::Unavailable), Status("waiting", NO_ADDRESS)),
    case("network-get", "no address yet", Network(Net::NoAddress), Status("waiting", NO_ADDRESS)),
    case("network-get", "addresses that are not IPs", Network(Net::Addresses(&["not-an-ip", "10.0.0.300", ""])), Status("waiting", NO_ADDRESS)),
    case("network-get", "only loopback and link-local", Network(Net::Addresses(&["127.0.0.1", "fe80::1", "169.254.1.1"])), Status("waiting", NO_ADDRESS)),
    case("network-get", "IPv6 only", Network(Net::Addresses(&["2001:db8::5"])), ConsumerRejects("action-tmate rejects host \"2001:db8::5\"")),
    case("network-get", "not JSON", Network(Net::Raw("{\"bind-addresses\": 42")), Status("waiting", NO_ADDRESS)),
    case("network-get", "empty output", Network(Net::Raw("")), Status("waiting", NO_ADDRESS)),
    case("network-get", "wrong JSON shape", Network(Net::Raw("[\"10.0.0.5\"]")), Status("waiting", NO_ADDRESS)),
    // ----- relation-data: what the remote side writes ------------------------------------
    case("relation-data", "our keys with garbage", Remote(&[("host", "$(rm -rf /)"), ("port", "-1"), ("rsa_fingerprint", "x")]), Ignored),
    case("relation-data", "control characters and newlines", Remote(&[("note", "a\nb\tc\u{1b}[31m\u{7f}"), ("ingress-address", "not-an-ip")]), Ignored),
    case("relation-data", "huge value", Remote(&[("blob", HUGE)]), Ignored),
    case("relation-data", "a private key", Remote(&[("key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n")]), Ignored),
    // ----- config: the charm's options -------------------------------------------------------
    case("config", "port 0", Config(&[("port", "0")]), Status("blocked", "invalid config option \"port\": 0 is not a TCP port (1-65535)")),
    case("config", "port 70000", Config(&[("port", "70000")]), Status("blocked", "invalid config option \"port\": 70000 is not a TCP port (1-65535)")),
    case("config", "port -1", Config(&[("port", "-1")]), Status("blocked", "invalid config option \"port\": -1 is not a TCP port (1-65535)")),
    case("config", "port \"abc\" (Juju checks types)", Config(&[("port", "\"abc\"")]), JujuRefuses("config option \"port\" is int, got \"abc\"")),
    case("config", "port \"abc\" past Juju", RawConfig(&[("port", "\"abc\"")]), Status("blocked", "invalid config option \"port\": \"abc\" is not an integer")),
    case("config", "image with spaces", Config(&[("image", "\"ghcr.io/x/tmate ssh\"")]), Status("blocked", "invalid config option \"image\": \"ghcr.io/x/tmate ssh\" is not an image reference (character ' ' not allowed)")),
    case("config", "image that is a docker flag", Config(&[("image", "\"--privileged\"")]), StatusContains("blocked", "invalid config option \"image\": \"--privileged\" is not an image reference")),
    case("config", "image with a shell substitution", Config(&[("image", "\"x:$(id)\"")]), Status("blocked", "invalid config option \"image\": \"x:$(id)\" is not an image reference (character '$' not allowed)")),
    case("config", "image in capitals", Config(&[("image", "\"Ghcr.io/Canonical/Tmate\"")]), StatusContains("blocked", "invalid config option \"image\": \"Ghcr.io/Canonical/Tmate\" is not an image reference")),
    case("config", "external-address a DNS name", Config(&[("external-address", "\"tmate.example.com\"")]), Status("blocked", "invalid config option \"external-address\": \"tmate.example.com\" is not an IPv4 or IPv6 address")),
    case("config", "external-address with a command", Config(&[("external-address", "\"10.0.0.9; reboot\"")]), Status("blocked", "invalid config option \"external-address\": \"10.0.0.9; reboot\" is not an IPv4 or IPv6 address")),
    case("config", "unknown option", Config(&[("ports", "22")]), JujuRefuses("config option \"ports\" is not in config.yaml")),
    // ----- action: get-server-config parameters ------------------------------------------
    case("action", "undeclared parameter (Juju checks)", Action(&[("format", "\"yaml\"")], false), JujuRefuses("action \"get-server-config\" has no parameter \"format\"")),
    case("action", "undeclared parameters past Juju", Action(&[("format", "\"yaml\""), ("host", "\"$(id)\""), ("port", "0")], true), ActionCompletes),
    case("action", "nested and huge parameters past Juju", Action(&[("x", "{\"a\": [1, 2, {\"b\": null}]}"), ("blob", HUGE_JSON)], true), ActionCompletes),
    case("action", "with a bad port configured", Action(&[], false), ActionFails("invalid config option \"port\": 0 is not a TCP port (1-65535)")),
];

/// The status while Juju gives no usable address.
const NO_ADDRESS: &str = "waiting for an IP address on the juju-info binding";

/// A 64 KiB value.
const HUGE: &str = concat!(
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
);
/// A long JSON string.
const HUGE_JSON: &str =
    "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"";

/// Boundaries in table order, each with the test that runs it.
const BOUNDARIES: [&str; 9] = [
    "cli",
    "private-key",
    "public-key",
    "tmate.conf",
    "juju-env",
    "network-get",
    "relation-data",
    "config",
    "action",
];

fn cases(boundary: &str) -> Vec<&'static Case> {
    CASES.iter().filter(|c| c.boundary == boundary).collect()
}

/// Runs `check` on every case of `boundary`, collects failures, prints the summary line.
fn run_boundary(boundary: &str, mut check: impl FnMut(&Case) -> Result<(), String>) {
    let cases = cases(boundary);
    assert!(!cases.is_empty(), "no cases for {boundary}");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            check(c)
                .err()
                .map(|e| format!("{boundary}: {}: {e}", c.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!("{boundary}: {} cases ok", cases.len());
}

#[test]
fn table_covers_every_boundary() {
    assert!(CASES.len() >= 40, "{} cases", CASES.len());
    for c in CASES {
        assert!(
            BOUNDARIES.contains(&c.boundary),
            "{}: unknown boundary",
            c.name
        );
    }
    let counts: Vec<String> = BOUNDARIES
        .iter()
        .map(|b| format!("{b} {}", cases(b).len()))
        .collect();
    println!("bad input: {} cases ({})", CASES.len(), counts.join(", "));
}

// ----- tmate-keygen boundaries ----------------------------------------------------------------

/// Checks the one-line failure contract and substitutes `{file}`/`{keys}`.
fn check_stderr(
    out: &std::process::Output,
    want: &str,
    file: &Path,
    keys: &Path,
) -> Result<(), String> {
    let want = want
        .replace("{file}", &file.display().to_string())
        .replace("{keys}", &keys.display().to_string());
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(1) {
        return Err(format!("exit {:?}, stderr {stderr:?}", out.status.code()));
    }
    if !out.stdout.is_empty() {
        return Err(format!("stdout {:?}", String::from_utf8_lossy(&out.stdout)));
    }
    if stderr != want {
        return Err(format!("stderr {stderr:?}, want {want:?}"));
    }
    Ok(())
}

#[test]
fn cli() {
    run_boundary("cli", |c| {
        let (Cli(args), Stderr(want)) = (c.input, c.expect) else {
            return Err("not a cli case".into());
        };
        let tmp = tempfile::tempdir().unwrap();
        let keys = tmp.path().join("keys");
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{keys}", &keys.display().to_string()))
            .collect();
        let before = DirSnapshot::take(tmp.path());
        let out = keygen(&args);
        check_stderr(&out, want, &keys, &keys)?;
        if DirSnapshot::take(tmp.path()) != before {
            return Err("a usage error changed the directory".into());
        }
        Ok(())
    });
}

/// A complete keys dir made once by `init --rsa-bits 2048`, copied for each case.
fn pristine_keys() -> &'static Path {
    static KEYS: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &KEYS
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let keys = tmp.path().join("keys");
            let out = keygen([
                "init".as_ref(),
                "--keys-dir".as_ref(),
                keys.as_os_str(),
                "--rsa-bits".as_ref(),
                std::ffi::OsStr::new("2048"),
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            (tmp, keys)
        })
        .1
}

fn copy_dir(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        std::fs::copy(entry.path(), &dest).unwrap();
    }
}

fn spoil(file: &Path, how: Spoil, keys: &Path) {
    match how {
        Spoil::Empty => std::fs::write(file, b"").unwrap(),
        Spoil::Text(text) => std::fs::write(file, text).unwrap(),
        Spoil::Truncated => {
            let text = std::fs::read(file).unwrap();
            std::fs::write(file, &text[..text.len() / 2]).unwrap();
        }
        Spoil::RandomBytes => {
            let bytes: Vec<u8> = (0u32..3000)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect();
            std::fs::write(file, bytes).unwrap();
        }
        Spoil::SshKeygen(kind, extra) => {
            let dir = tempfile::tempdir().unwrap();
            let key = dir.path().join("key");
            let out = Command::new(require_tool("ssh-keygen"))
                .args(["-q", "-t", kind])
                .args(extra)
                .arg("-f")
                .arg(&key)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let from = if file.extension().is_some_and(|e| e == "pub") {
                key.with_extension("pub")
            } else {
                key
            };
            std::fs::copy(from, file).unwrap();
        }
        Spoil::RsaPrivate => {
            std::fs::copy(keys.join(RSA_KEY), file).unwrap();
        }
        Spoil::Directory => {
            std::fs::remove_file(file).unwrap();
            std::fs::create_dir(file).unwrap();
        }
    }
}

fn key_file_case(c: &Case) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let Stderr(want) = c.expect else {
        return Err("expected a Stderr answer".into());
    };
    match c.input {
        KeyFile(name, how) => {
            copy_dir(pristine_keys(), &keys);
            let file = keys.join(name);
            spoil(&file, how, &keys);
            let before = DirSnapshot::take(tmp.path());
            let out = keygen([
                "init".as_ref(),
                "--keys-dir".as_ref(),
                keys.as_os_str(),
                "--rsa-bits".as_ref(),
                std::ffi::OsStr::new("2048"),
            ]);
            check_stderr(&out, want, &file, &keys)?;
            if DirSnapshot::take(tmp.path()) != before {
                return Err("the keys directory changed".into());
            }
            Ok(())
        }
        Fingerprint(content) => {
            let file = tmp.path().join("input.pub");
            std::fs::write(&file, content).unwrap();
            let out = keygen(["fingerprint".as_ref(), file.as_os_str()]);
            check_stderr(&out, want, &file, &keys)
        }
        _ => Err("not a key file case".into()),
    }
}

#[test]
fn private_key() {
    run_boundary("private-key", key_file_case);
}

#[test]
fn public_key() {
    run_boundary("public-key", key_file_case);
}

#[test]
fn tmate_conf() {
    run_boundary("tmate.conf", |c| {
        let Stderr(want) = c.expect else {
            return Err("expected a Stderr answer".into());
        };
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("tmate.conf");
        let (content, command, options): (&[u8], &str, &[&str]) = match c.input {
            ConfCheck(content) => (content, "check", &[]),
            ConfApply(content) => (content, "apply", &["--port", "2222"]),
            _ => return Err("not a tmate.conf case".into()),
        };
        std::fs::write(&file, content).unwrap();
        // Taken after the file is written and before the command runs, so a command that
        // rewrites or removes the file (`conf apply` on a broken file) fails the check.
        let before = DirSnapshot::take(tmp.path());
        let out = keygen_cmd(["conf", command])
            .arg(&file)
            .args(options)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        // `conf check` reports problems on stderr, one per line, exit 1.
        check_stderr(&out, want, &file, &file)?;
        if DirSnapshot::take(tmp.path()) != before {
            return Err("the file changed".into());
        }
        Ok(())
    });
}

// ----- charm boundaries ---------------------------------------------------------------------

fn charm_unit(charm_dir: Option<&Path>) -> Sim {
    let sim = match charm_dir {
        Some(dir) => Sim::from_dir(dir, Path::new(TOOL)),
        None => Sim::new(&packed_charm_path(), Path::new(TOOL)),
    };
    match sim {
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

/// A deployed, related unit and what it publishes while healthy.
struct Unit {
    sim: Sim,
    relation: u32,
    healthy: DebugSshEntry,
    keys: DirSnapshot,
}

impl Unit {
    fn new(charm_dir: Option<&Path>) -> Self {
        let mut sim = charm_unit(charm_dir);
        let runs = sim.deploy().unwrap();
        assert!(runs.iter().all(|r| r.succeeded()), "{:#?}", runs.last());
        let (relation, _) = sim
            .relate("debug-ssh", "github-runner", &["github-runner/0"])
            .unwrap();
        let healthy = sim.published(relation).unwrap().unwrap();
        let keys = DirSnapshot::take(&sim.root().join(KEYS));
        Unit {
            sim,
            relation,
            healthy,
            keys,
        }
    }

    fn status(&self) -> (String, String) {
        let st = self.sim.state().unwrap();
        (st.unit_status.status, st.unit_status.message)
    }

    /// After the bad input was fixed: active, same data, same key files.
    fn assert_recovered(&mut self) -> Result<(), String> {
        let run = self.sim.update_status().map_err(|e| e.to_string())?;
        if !run.succeeded() {
            return Err(format!(
                "update-status failed after the fix: {}",
                run.stderr
            ));
        }
        let status = self.status();
        if status.0 != "active" {
            return Err(format!("not active after the fix: {status:?}"));
        }
        let published = self
            .sim
            .published(self.relation)
            .map_err(|e| e.to_string())?;
        if published.as_ref() != Some(&self.healthy) {
            return Err(format!("published {published:?}, was {:?}", self.healthy));
        }
        if DirSnapshot::take(&self.sim.root().join(KEYS)) != self.keys {
            return Err("the key files changed".into());
        }
        Ok(())
    }
}

fn check_status(unit: &Unit, expect: Expect) -> Result<(), String> {
    let (kind, message) = unit.status();
    let ok = match expect {
        Status(k, m) => kind == k && message == m,
        StatusContains(k, m) => kind == k && message.contains(m),
        Ignored => kind == "active",
        _ => return Err(format!("{expect:?} is not a status answer")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("status {kind} {message:?}, want {expect:?}"))
    }
}

/// The environment Juju gives `dispatch` (JUJU.md section 1), for the simulated unit.
fn standard_env(sim: &Sim) -> BTreeMap<String, OsString> {
    let charm_dir = sim.charm().dir.display().to_string();
    let path = format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        sim.dir().join("bin").display()
    );
    [
        ("JUJU_DISPATCH_PATH", "hooks/update-status".to_owned()),
        ("JUJU_HOOK_NAME", "update-status".to_owned()),
        ("JUJU_UNIT_NAME", "tmate-ssh-server/0".to_owned()),
        ("JUJU_CHARM_DIR", charm_dir.clone()),
        ("CHARM_DIR", charm_dir),
        ("JUJU_MODEL_NAME", "sim".to_owned()),
        ("JUJU_VERSION", "3.6.9".to_owned()),
        ("JUJU_CHARM_HTTP_PROXY", String::new()),
        ("JUJU_CHARM_HTTPS_PROXY", String::new()),
        ("JUJU_CHARM_NO_PROXY", String::new()),
        ("PATH", path),
        ("LANG", "C.UTF-8".to_owned()),
        (ROOT_ENV, sim.root().display().to_string()),
        (
            STATE_ENV,
            sim.dir().join("state.json").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), OsString::from(v)))
    .collect()
}

/// Runs `dispatch` as Juju would, with `changes` applied to the standard environment; returns
/// its exit code and what it logged, or the findings of the secret scan of everything it
/// emitted (the simulator scans only the hooks it runs itself).
fn dispatch_with_env(
    sim: &Sim,
    changes: &[(&str, Option<&[u8]>)],
) -> Result<(Option<i32>, String), String> {
    let mut env = standard_env(sim);
    for (name, value) in changes {
        match value {
            Some(v) => env.insert((*name).to_owned(), OsString::from_vec(v.to_vec())),
            None => env.remove(*name),
        };
    }
    let st = sim.state().unwrap();
    let logs_before = st.logs.len();
    let scan = HandRun::before(&st);
    let out = Command::new(sim.charm().dir.join("dispatch"))
        .current_dir(&sim.charm().dir)
        .env_clear()
        .envs(&env)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let st = sim.state().unwrap();
    let findings = scan.scan(sim.secret_scanner(), &st, &out.stdout, &out.stderr);
    if !findings.is_empty() {
        return Err(format!("secret scan: {findings:?}"));
    }
    let logs: Vec<String> = st.logs[logs_before..]
        .iter()
        .map(|l| format!("{} {}", l.level, l.message))
        .collect();
    let text = format!(
        "{}{}",
        logs.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.code(), text))
}

#[test]
fn juju_env() {
    let mut unit = Unit::new(None);
    run_boundary("juju-env", |c| {
        match (c.input, c.expect) {
            (Env(changes), HookFails(want)) => {
                let (code, text) = dispatch_with_env(&unit.sim, changes)?;
                if code != Some(1) || !text.contains(want) {
                    return Err(format!("exit {code:?}, logged {text:?}, want {want:?}"));
                }
                if !text.contains("ERROR") {
                    return Err(format!("not logged at ERROR: {text:?}"));
                }
            }
            // A relation that went away between the event and the hook: nothing to do.
            (Env(changes), Ignored) => {
                let (code, text) = dispatch_with_env(&unit.sim, changes)?;
                if code != Some(0) || text.contains("ERROR") {
                    return Err(format!("exit {code:?}, logged {text:?}"));
                }
                check_status(&unit, Ignored)?;
            }
            (Proxy(http, https, no_proxy), expect) => {
                unit.sim
                    .set_proxy(ProxySettings {
                        http: http.into(),
                        https: https.into(),
                        no_proxy: no_proxy.into(),
                        ..Default::default()
                    })
                    .unwrap();
                let run = unit.sim.fire("config-changed").map_err(|e| e.to_string())?;
                if !run.succeeded() {
                    return Err(format!("hook failed: {}", run.stderr));
                }
                check_status(&unit, expect)?;
                unit.sim.set_proxy(ProxySettings::default()).unwrap();
                unit.sim.fire("config-changed").map_err(|e| e.to_string())?;
            }
            _ => return Err("not a juju-env case".into()),
        }
        unit.assert_recovered()
    });
}

/// Replaces the `network-get` hook tool with a script printing `text` (exit 0).
fn raw_network_get(sim: &Sim, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let tool = sim.dir().join("bin").join("network-get");
    std::fs::remove_file(&tool).unwrap();
    let quoted = text.replace('\'', "'\\''");
    std::fs::write(&tool, format!("#!/bin/sh\nprintf '%s' '{quoted}'\n")).unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn restore_network_get(sim: &Sim) {
    let tool = sim.dir().join("bin").join("network-get");
    std::fs::remove_file(&tool).unwrap();
    std::os::unix::fs::symlink(TOOL, &tool).unwrap();
}

#[test]
fn network_get() {
    let mut unit = Unit::new(None);
    let good = unit.sim.state().unwrap().network;
    run_boundary("network-get", |c| {
        let Network(net) = c.input else {
            return Err("not a network-get case".into());
        };
        let result = match net {
            Net::Raw(text) => {
                raw_network_get(&unit.sim, text);
                let r = unit.sim.fire("config-changed");
                restore_network_get(&unit.sim);
                r
            }
            Net::Unavailable => unit.sim.set_network(NetworkInfo::unavailable()),
            Net::NoAddress => unit.sim.set_network(NetworkInfo::no_address()),
            Net::Addresses(addrs) => unit.sim.set_network(NetworkInfo::with_addresses(addrs)),
        };
        match (result, c.expect) {
            (Err(Error::Findings { findings, .. }), ConsumerRejects(want)) => {
                if !findings.iter().any(|f| f.contains(want)) {
                    return Err(format!("findings {findings:?}, want {want:?}"));
                }
            }
            (Ok(run), expect) => {
                if !run.succeeded() {
                    return Err(format!("hook failed: {}", run.stderr));
                }
                check_status(&unit, expect)?;
            }
            (Err(e), _) => return Err(format!("driver error {e}")),
        }
        unit.sim
            .set_network(good.clone())
            .map_err(|e| e.to_string())?;
        unit.assert_recovered()
    });
}

#[test]
fn relation_data() {
    let mut unit = Unit::new(None);
    run_boundary("relation-data", |c| {
        let (Remote(data), Ignored) = (c.input, c.expect) else {
            return Err("not a relation-data case".into());
        };
        let data: Vec<(&str, String)> = data
            .iter()
            .map(|(k, v)| {
                let v = if *v == HUGE {
                    v.repeat(512)
                } else {
                    (*v).to_owned()
                };
                (*k, v)
            })
            .collect();
        let refs: Vec<(&str, &str)> = data.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let run = unit
            .sim
            .remote_change(unit.relation, "github-runner/0", &refs)
            .map_err(|e| e.to_string())?;
        if !run.succeeded() {
            return Err(format!("hook failed: {}", run.stderr));
        }
        check_status(&unit, Ignored)?;
        unit.assert_recovered()
    });
}

/// Parses the JSON values of a config or action row.
fn values(pairs: &[(&'static str, &'static str)]) -> Vec<(&'static str, Value)> {
    pairs
        .iter()
        .map(|(k, v)| (*k, serde_json::from_str(v).unwrap()))
        .collect()
}

#[test]
fn config() {
    let mut unit = Unit::new(None);
    run_boundary("config", |c| {
        let (pairs, raw) = match c.input {
            Config(pairs) => (pairs, false),
            RawConfig(pairs) => (pairs, true),
            _ => return Err("not a config case".into()),
        };
        let values = values(pairs);
        let result = if raw {
            unit.sim
                .arrange(|st| {
                    for (k, v) in &values {
                        st.config.insert((*k).to_owned(), v.clone());
                    }
                })
                .unwrap();
            unit.sim.fire("config-changed")
        } else {
            unit.sim.set_config(&values)
        };
        match (result, c.expect) {
            (Err(Error::Input(message)), JujuRefuses(want)) => {
                if message != want {
                    return Err(format!("Juju said {message:?}, want {want:?}"));
                }
            }
            (Ok(run), expect) => {
                if !run.succeeded() {
                    return Err(format!("hook failed: {}", run.stderr));
                }
                check_status(&unit, expect)?;
                // Blocked keeps serving what it served: nothing is withdrawn.
                let published = unit
                    .sim
                    .published(unit.relation)
                    .map_err(|e| e.to_string())?;
                if published.as_ref() != Some(&unit.healthy) {
                    return Err(format!("published {published:?} while blocked"));
                }
            }
            (r, _) => return Err(format!("got {:?}", r.map(|run| run.exit))),
        }
        let resets: Vec<(&str, Value)> = values.iter().map(|(k, _)| (*k, Value::Null)).collect();
        if !raw && matches!(c.expect, JujuRefuses(_)) {
            return unit.assert_recovered();
        }
        unit.sim.set_config(&resets).map_err(|e| e.to_string())?;
        unit.assert_recovered()
    });
}

/// The packed charm unpacked with `additionalProperties: true` for the action, as if Juju
/// let undeclared parameters through.
fn relaxed_charm() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let unpacked = dir.path().join("charm");
    std::fs::create_dir(&unpacked).unwrap();
    tmate_tests::sim::Charm::unpack(&packed_charm_path(), &unpacked).unwrap();
    let actions = unpacked.join("actions.yaml");
    let text = std::fs::read_to_string(&actions).unwrap();
    let relaxed = text.replace("additionalProperties: false", "additionalProperties: true");
    assert_ne!(
        text, relaxed,
        "actions.yaml has no additionalProperties: false"
    );
    std::fs::write(&actions, relaxed).unwrap();
    (dir, unpacked)
}

#[test]
fn action() {
    let mut strict = Unit::new(None);
    let (_dir, relaxed_dir) = relaxed_charm();
    let mut relaxed = Unit::new(Some(&relaxed_dir));
    run_boundary("action", |c| {
        let Action(params, relax) = c.input else {
            return Err("not an action case".into());
        };
        let unit = if relax { &mut relaxed } else { &mut strict };
        let mut params = values(params);
        for (_, v) in &mut params {
            if *v == serde_json::from_str::<Value>(HUGE_JSON).unwrap() {
                *v = Value::String(HUGE.repeat(512));
            }
        }
        let bad_config = matches!(c.expect, ActionFails(_));
        if bad_config {
            unit.sim
                .set_config(&[("port", Value::from(0))])
                .map_err(|e| e.to_string())?;
        }
        let result = unit.sim.run_action("get-server-config", &params);
        if bad_config {
            unit.sim
                .set_config(&[("port", Value::Null)])
                .map_err(|e| e.to_string())?;
        }
        match (result, c.expect) {
            (Err(Error::Input(message)), JujuRefuses(want)) => {
                if message != want {
                    return Err(format!("Juju said {message:?}, want {want:?}"));
                }
            }
            (Ok((outcome, _)), ActionFails(want)) => {
                if outcome.status != "failed" || outcome.message.as_deref() != Some(want) {
                    return Err(format!("{outcome:?}, want failure {want:?}"));
                }
            }
            (Ok((outcome, _)), ActionCompletes) => {
                let host = outcome.results.get("host").and_then(Value::as_str);
                if outcome.status != "completed"
                    || host != Some(unit.healthy.host.to_string().as_str())
                {
                    return Err(format!("{outcome:?}"));
                }
            }
            (r, _) => return Err(format!("got {:?}", r.map(|(o, _)| o))),
        }
        unit.assert_recovered()
    });
}
