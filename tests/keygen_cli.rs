//! The `tmate-keygen` command line (issue #2): help and version, output formats, idempotent
//! `init`, repairs, and bad input that must fail with one pinned line, exit status 1 and an
//! unchanged directory.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed expectation is a test failure"
)]

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use tmate_tests::keys_support::{
    DirSnapshot, ED25519_KEY, KEY_FILES, RSA_KEY, in_readonly_dir, keygen, keygen_bin, keygen_cmd,
    keygen_ok, mode_of, read_text, require_tool, run_with_stdin, ssh_keygen, stdout_ok,
};

/// The known-answer vectors made by `ssh-keygen`.
fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/tmate-keys/testdata")
        .join(name)
}

/// A temp dir with a complete `keys` dir made by `init --rsa-bits 2048` (fast).
fn with_keys() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    init_ok(&keys, &[]);
    (tmp, keys)
}

/// `init --keys-dir DIR --rsa-bits 2048 EXTRA...`, asserted successful with empty stderr.
fn init_ok(keys: &Path, extra: &[&str]) -> String {
    let mut args: Vec<&OsStr> = vec![
        "init".as_ref(),
        "--keys-dir".as_ref(),
        keys.as_os_str(),
        "--rsa-bits".as_ref(),
        "2048".as_ref(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    keygen_ok(args)
}

/// `init --keys-dir DIR --rsa-bits 2048` (any outcome).
fn init(keys: &Path) -> Output {
    keygen([
        OsStr::new("init"),
        "--keys-dir".as_ref(),
        keys.as_os_str(),
        "--rsa-bits".as_ref(),
        "2048".as_ref(),
    ])
}

/// Asserts the one-line failure contract: exit status 1, nothing on stdout, exactly
/// `tmate-keygen: MESSAGE\n` on stderr.
fn assert_fails_with(out: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr, format!("tmate-keygen: {message}\n"));
}

/// Runs `init` on a keys dir that `spoil` damaged and checks the pinned message and that
/// nothing in the temp dir (keys dir and its siblings) changed.
fn bad_keys_dir_case(spoil: impl FnOnce(&Path), message: impl FnOnce(&Path) -> String) {
    let (tmp, keys) = with_keys();
    spoil(&keys);
    let before = DirSnapshot::take(tmp.path());
    let out = init(&keys);
    assert_fails_with(&out, &message(&keys));
    assert_eq!(
        DirSnapshot::take(tmp.path()),
        before,
        "the directory changed"
    );
}

// --- help, version, output formats ------------------------------------------------------

#[test]
fn help_is_printed_for_every_spelling() {
    let help = keygen_ok(["--help"]);
    for args in [
        &["-h"][..],
        &["help"],
        &["init", "--help"],
        &["fingerprint", "-h"],
    ] {
        assert_eq!(keygen_ok(args), help, "{args:?}");
    }
    assert!(help.starts_with("tmate-keygen: host keys and client settings"));
    for needle in [
        "Usage:",
        "tmate-keygen init [--keys-dir DIR] [--host HOST] [--port PORT] [--rsa-bits BITS] [--format conf|json]",
        "tmate-keygen fingerprint [-E sha256|md5] [FILE|-]...",
        "--rsa-bits BITS    Size of a newly generated RSA key: 2048, 3072 or 4096 [default: 3072]",
        "Examples:",
        "tmate-keygen init --keys-dir /srv/tmate/keys --host 203.0.113.7 --port 10022 > server.conf",
        "Exit status: 0 on success, 1 on any error",
    ] {
        assert!(help.contains(needle), "help lacks {needle:?}:\n{help}");
    }
}

/// `conf --help` and the help of each `conf` command end in examples, and every example
/// works as printed (with a temporary file and keys dir in place of the example paths).
#[test]
fn conf_help_has_examples_that_work() {
    let overview = keygen_ok(["conf", "--help"]);
    assert_eq!(keygen_ok(["conf", "-h"]), overview);
    let check = keygen_ok(["conf", "check", "--help"]);
    let apply = keygen_ok(["conf", "apply", "--help"]);
    assert_eq!(keygen_ok(["conf", "apply", "x.conf", "-h"]), apply);
    assert!(
        check.contains("Usage:\n  tmate-keygen conf check FILE\n"),
        "{check}"
    );
    assert!(!check.contains("conf apply"), "{check}");
    assert!(
        apply.contains("Usage:\n  tmate-keygen conf apply FILE "),
        "{apply}"
    );
    assert!(!apply.contains("conf check"), "{apply}");
    let (tmp, keys) = with_keys();
    let file = tmp.path().join("tmate.conf");
    let mut ran = 0;
    // apply's examples first: check's read the file they create.
    for (name, help, count) in [
        ("apply", &apply, 2),
        ("check", &check, 1),
        ("conf", &overview, 3),
    ] {
        let (_, examples) = help
            .split_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("{name} help has no examples:\n{help}"));
        let lines: Vec<&str> = examples.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), count, "{name} examples:\n{examples}");
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words[..2], ["tmate-keygen", "conf"], "{line}");
            let args: Vec<&OsStr> = words[1..]
                .iter()
                .map(|word| match *word {
                    "~/.tmate.conf" => file.as_os_str(),
                    "/srv/tmate/keys" => keys.as_os_str(),
                    other => OsStr::new(other),
                })
                .collect();
            let out = keygen(&args);
            assert!(
                out.status.success(),
                "{name} example `{line}` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    assert_eq!(ran, 6);
    let settings = keygen_ok([OsStr::new("conf"), "check".as_ref(), file.as_os_str()]);
    let settings: serde_json::Value = serde_json::from_str(&settings).expect("JSON");
    assert_eq!(settings["host"], "203.0.113.7");
    assert_eq!(settings["port"], "2222");
}

/// `init --port` and `conf apply --port` refuse a bad port with the same words.
#[test]
fn port_errors_are_the_same_for_init_and_conf_apply() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    let file = tmp.path().join("tmate.conf");
    for port in ["0", "65536", "ssh", "-1", ""] {
        let init = keygen([
            OsStr::new("init"),
            "--keys-dir".as_ref(),
            keys.as_os_str(),
            "--port".as_ref(),
            port.as_ref(),
        ]);
        let apply = keygen([
            OsStr::new("conf"),
            "apply".as_ref(),
            file.as_os_str(),
            "--port".as_ref(),
            port.as_ref(),
        ]);
        let message = format!("invalid port {port:?}: expected a number from 1 to 65535");
        assert_fails_with(&init, &format!("{message} (see 'tmate-keygen --help')"));
        assert_eq!(apply.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&apply.stderr),
            format!("tmate-keygen conf: {message} (see 'tmate-keygen conf --help')\n")
        );
    }
    assert!(!keys.exists() && !file.exists());
}

#[test]
fn version_names_the_package_version() {
    let expected = format!("tmate-keygen {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(keygen_ok(["--version"]), expected);
    assert_eq!(keygen_ok(["-V"]), expected);
}

#[test]
fn json_output_has_exactly_the_debug_ssh_keys() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    let out = init_ok(
        &keys,
        &["--host", "10.1.2.3", "--port", "10022", "--format", "json"],
    );
    assert_eq!(out.lines().count(), 1, "one line: {out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let object = json.as_object().expect("a JSON object");
    let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["ed25519_fingerprint", "host", "port", "rsa_fingerprint"]
    );
    assert_eq!(json["host"], "10.1.2.3");
    // The relation carries the port as a string.
    assert_eq!(json["port"], "10022");
    for (field, file) in [
        ("rsa_fingerprint", RSA_KEY),
        ("ed25519_fingerprint", ED25519_KEY),
    ] {
        let listed = keygen_ok([OsStr::new("fingerprint"), keys.join(file).as_os_str()]);
        let fingerprint = listed.split(' ').nth(1).expect("fingerprint field");
        assert_eq!(json[field], fingerprint, "{field}");
        assert!(fingerprint.starts_with("SHA256:") && fingerprint.len() == 7 + 43);
    }
}

#[test]
fn conf_output_is_four_tmate_conf_lines_and_nothing_else() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    let conf = init_ok(&keys, &["--host", "tmate.example.com", "--port", "2222"]);
    let json = init_ok(&keys, &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    let rsa = json["rsa_fingerprint"].as_str().expect("string");
    let ed25519 = json["ed25519_fingerprint"].as_str().expect("string");
    assert_eq!(
        conf,
        format!(
            "set -g tmate-server-host tmate.example.com\n\
             set -g tmate-server-port 2222\n\
             set -g tmate-server-rsa-fingerprint {rsa}\n\
             set -g tmate-server-ed25519-fingerprint {ed25519}\n"
        )
    );
}

/// With a terminal, a person gets a progress note while RSA is generated and the
/// create_keys.sh header; the settings themselves are unchanged.
#[test]
fn terminal_gets_progress_note_and_header() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    // `script` runs the command on a pseudo-terminal (stdout and stderr both a tty).
    let command = format!(
        "{} init --keys-dir {} --rsa-bits 2048",
        keygen_bin().display(),
        keys.display()
    );
    let out = run_with_stdin(
        std::process::Command::new(require_tool("script")).args(["-qec", &command, "/dev/null"]),
        None,
    );
    let text = stdout_ok("script", &out).replace("\r\n", "\n");
    let rsa_path = keys.join(RSA_KEY);
    let note = format!(
        "tmate-keygen: generating a 2048-bit RSA host key in {}, this can take a few seconds\n",
        rsa_path.display()
    );
    assert!(text.starts_with(&note), "{text}");
    assert!(text.contains(&format!("tmate-keygen: created {}\n", rsa_path.display())));
    assert!(text.contains("You may use the following settings in your .tmate.conf:\n\nset -g tmate-server-host localhost\n"), "{text}");
    // Without a terminal, none of it (stderr empty, see `init_ok`).
    let again = init_ok(&keys, &[]);
    assert!(text.ends_with(&again), "{text}");
}

// --- idempotence and repairs ----------------------------------------------------------------

#[test]
fn init_twice_changes_nothing() {
    let (tmp, keys) = with_keys();
    assert_eq!(mode_of(&keys), 0o700);
    for name in KEY_FILES {
        let expected = if name.ends_with(".pub") { 0o644 } else { 0o600 };
        assert_eq!(mode_of(&keys.join(name)), expected, "{name}");
    }
    let before = DirSnapshot::take(tmp.path());
    assert_eq!(before.names().len(), 5, "{:?}", before.names());
    let first = init_ok(&keys, &[]);
    let second = init_ok(&keys, &[]);
    assert_eq!(first, second);
    assert_eq!(DirSnapshot::take(tmp.path()), before);
}

#[test]
fn deleted_pub_comes_back_identical() {
    let (tmp, keys) = with_keys();
    let before = DirSnapshot::take(tmp.path());
    let conf = init_ok(&keys, &[]);
    for name in [RSA_KEY, ED25519_KEY] {
        let public = keys.join(format!("{name}.pub"));
        fs::remove_file(&public).expect("remove .pub");
        let out = init(&keys);
        assert_eq!(stdout_ok("init", &out), conf, "same fingerprints");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "tmate-keygen: recreated {} from its private key\n",
                public.display()
            )
        );
        assert_eq!(DirSnapshot::take(tmp.path()), before, "{name}.pub differs");
    }
}

#[test]
fn loose_private_key_mode_is_tightened_and_reported() {
    let (_tmp, keys) = with_keys();
    let key = keys.join(RSA_KEY);
    let content = fs::read(&key).expect("read");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = init(&keys);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "tmate-keygen: changed the mode of {} from 0644 to 0600\n",
            key.display()
        )
    );
    assert_eq!(mode_of(&key), 0o600);
    assert_eq!(fs::read(&key).expect("read"), content);
}

// --- bad input: one line, exit 1, nothing changed --------------------------------------------

#[test]
fn truncated_private_key_is_refused() {
    bad_keys_dir_case(
        |keys| {
            let key = keys.join(RSA_KEY);
            let text = fs::read(&key).expect("read");
            fs::write(&key, &text[..text.len() / 2]).expect("truncate");
        },
        |keys| {
            format!(
                "{}: not an OpenSSH private key",
                keys.join(RSA_KEY).display()
            )
        },
    );
}

#[test]
fn garbage_private_key_is_refused() {
    bad_keys_dir_case(
        |keys| fs::write(keys.join(ED25519_KEY), "hello world\n").expect("write"),
        |keys| {
            format!(
                "{}: not an OpenSSH private key",
                keys.join(ED25519_KEY).display()
            )
        },
    );
}

#[test]
fn pub_of_another_key_is_refused() {
    bad_keys_dir_case(
        |keys| {
            fs::copy(
                testdata("ed25519_nocomment.pub"),
                keys.join(format!("{ED25519_KEY}.pub")),
            )
            .expect("copy");
        },
        |keys| {
            format!(
                "{}.pub: does not match its private key",
                keys.join(ED25519_KEY).display()
            )
        },
    );
}

#[test]
fn key_of_the_wrong_kind_is_refused() {
    bad_keys_dir_case(
        |keys| {
            fs::copy(keys.join(RSA_KEY), keys.join(ED25519_KEY)).expect("copy");
        },
        |keys| {
            format!(
                "{}: expected an ed25519 key, found rsa",
                keys.join(ED25519_KEY).display()
            )
        },
    );
}

#[test]
fn symlinked_key_files_are_refused() {
    for name in [RSA_KEY.to_owned(), format!("{RSA_KEY}.pub")] {
        bad_keys_dir_case(
            |keys| {
                let file = keys.join(&name);
                let real = keys.with_file_name(format!("real-{name}"));
                fs::rename(&file, &real).expect("move");
                symlink(&real, &file).expect("symlink");
            },
            |keys| {
                format!(
                    "{}: is a symlink, refusing to follow it",
                    keys.join(&name).display()
                )
            },
        );
    }
}

#[test]
fn keys_path_that_is_a_file_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("keys");
    fs::write(&file, "not a directory\n").expect("write");
    let before = DirSnapshot::take(tmp.path());
    assert_fails_with(
        &init(&file),
        &format!("{}: not a directory", file.display()),
    );
    assert_eq!(DirSnapshot::take(tmp.path()), before);
}

#[test]
fn rsa_bits_1024_is_refused_before_touching_anything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    let out = keygen([
        OsStr::new("init"),
        "--keys-dir".as_ref(),
        keys.as_os_str(),
        "--rsa-bits".as_ref(),
        "1024".as_ref(),
    ]);
    assert_fails_with(
        &out,
        "unsupported RSA key size 1024 (use 2048, 3072 or 4096)",
    );
    assert!(!keys.exists(), "keys dir was created");
    // Nor on an existing dir.
    let (tmp, keys) = with_keys();
    let before = DirSnapshot::take(tmp.path());
    let out = keygen([
        OsStr::new("init"),
        "--keys-dir".as_ref(),
        keys.as_os_str(),
        "--rsa-bits=1024".as_ref(),
    ]);
    assert_fails_with(
        &out,
        "unsupported RSA key size 1024 (use 2048, 3072 or 4096)",
    );
    assert_eq!(DirSnapshot::take(tmp.path()), before);
}

#[test]
fn usage_errors_are_one_line_with_a_hint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    let dir = keys.to_str().expect("utf-8 path");
    let cases: [(&[&str], &str); 7] = [
        (&[], "missing command"),
        (&["keygen"], "unknown command \"keygen\""),
        (
            &["init", "--keys-dir", dir, "--frob"],
            "invalid option '--frob'",
        ),
        (
            &["init", "--keys-dir", dir, "--port", "0"],
            "invalid port \"0\": expected a number from 1 to 65535",
        ),
        (
            &["init", "--keys-dir", dir, "--port"],
            "missing argument for option '--port'",
        ),
        (
            &["init", "--keys-dir", dir, "--host", "bad host;"],
            "invalid host \"bad host;\": only letters, digits, '-' and '.' are allowed in a name",
        ),
        (
            &["init", "--keys-dir", dir, "--format", "yaml"],
            "invalid format \"yaml\": use conf or json",
        ),
    ];
    for (args, message) in cases {
        assert_fails_with(
            &keygen(args),
            &format!("{message} (see 'tmate-keygen --help')"),
        );
    }
    assert!(!keys.exists(), "a usage error created the keys dir");
}

/// A keys dir on a read-only mount: root ignores permission bits, so `chmod 0500` would
/// prove nothing in CI; a read-only bind mount in a private mount namespace refuses root too.
#[test]
fn unwritable_keys_dir_is_refused() {
    let (tmp, keys) = with_keys();
    for name in [RSA_KEY.to_owned(), format!("{RSA_KEY}.pub")] {
        fs::remove_file(keys.join(name)).expect("remove");
    }
    let before = DirSnapshot::take(tmp.path());
    let out = run_with_stdin(
        &mut in_readonly_dir(
            &keys,
            keygen_bin(),
            &["init".as_ref(), "--keys-dir".as_ref(), keys.as_os_str()],
        ),
        None,
    );
    assert_eq!(
        DirSnapshot::take(tmp.path()),
        before,
        "the directory changed"
    );
    // The library writes through a temp file next to the key, which is gone again: the
    // message names the key file and its directory, not the temp file.
    assert_fails_with(
        &out,
        &format!(
            "{}: failed to create its temporary file in {}: Read-only file system (os error 30)",
            keys.join(RSA_KEY).display(),
            keys.display()
        ),
    );
}

#[test]
fn unwritable_parent_of_a_missing_keys_dir_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let parent = tmp.path().join("ro");
    fs::create_dir(&parent).expect("mkdir");
    let keys = parent.join("keys");
    let before = DirSnapshot::take(tmp.path());
    let out = run_with_stdin(
        &mut in_readonly_dir(
            &parent,
            keygen_bin(),
            &["init".as_ref(), "--keys-dir".as_ref(), keys.as_os_str()],
        ),
        None,
    );
    assert_fails_with(
        &out,
        &format!(
            "{}: failed to create directory: Read-only file system (os error 30)",
            keys.display()
        ),
    );
    assert_eq!(DirSnapshot::take(tmp.path()), before);
}

// --- fingerprint -----------------------------------------------------------------------------

#[test]
fn fingerprint_reads_stdin_without_file_or_with_dash() {
    let line = read_text(&testdata("ed25519.pub"));
    let expected = read_text(&testdata("ed25519.pub.sha256"));
    for args in [
        &["fingerprint"][..],
        &["fingerprint", "-"],
        &["fingerprint", "-E", "sha256", "-"],
    ] {
        let out = run_with_stdin(&mut keygen_cmd(args), Some(line.as_bytes()));
        assert_eq!(stdout_ok("fingerprint", &out), expected, "{args:?}");
    }
    let out = run_with_stdin(
        &mut keygen_cmd(["fingerprint", "-E", "md5"]),
        Some(line.as_bytes()),
    );
    assert_eq!(
        stdout_ok("fingerprint", &out),
        read_text(&testdata("ed25519.pub.md5"))
    );
    // Private keys work on stdin too (ssh-keygen refuses them there).
    let private = fs::read(testdata("ed25519")).expect("read");
    let out = run_with_stdin(&mut keygen_cmd(["fingerprint"]), Some(&private));
    assert_eq!(stdout_ok("fingerprint", &out), expected);
}

#[test]
fn fingerprint_errors_name_the_input_and_the_others_still_print() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let garbage = tmp.path().join("garbage");
    fs::write(&garbage, "no key here\n").expect("write");
    let missing = tmp.path().join("missing.pub");
    let good = testdata("ed25519.pub");
    let out = keygen([
        OsStr::new("fingerprint"),
        good.as_os_str(),
        missing.as_os_str(),
        garbage.as_os_str(),
        tmp.path().as_os_str(),
        good.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let expected = read_text(&testdata("ed25519.pub.sha256"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected.repeat(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "tmate-keygen: {}: No such file or directory (os error 2)\n\
             tmate-keygen: {}: no public key found\n\
             tmate-keygen: {}: Is a directory (os error 21)\n",
            missing.display(),
            garbage.display(),
            tmp.path().display()
        )
    );
    let empty = run_with_stdin(&mut keygen_cmd(["fingerprint"]), Some(b""));
    assert_fails_with(&empty, "(stdin): no public key found");
}

#[test]
fn fingerprint_of_a_broken_private_key_is_one_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = tmp.path().join("key");
    let text = read_text(&testdata("ed25519"));
    fs::write(&key, &text[..text.len() / 2]).expect("write");
    assert_fails_with(
        &keygen([OsStr::new("fingerprint"), key.as_os_str()]),
        &format!(
            "{}: invalid key data: not an OpenSSH private key",
            key.display()
        ),
    );
}

/// Private keys are fingerprinted by themselves; the comment follows ssh-keygen where that is
/// sane (from the .pub beside the key, else from the key) and is `no comment` where
/// ssh-keygen prints an empty field.
#[test]
fn fingerprint_of_private_keys_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, comment) in [
        ("ed25519", "testdata@tmate-keys"),
        ("rsa3072", "testdata@tmate-keys"),
        ("ed25519_nocomment", "no comment"),
    ] {
        let key = tmp.path().join(name);
        fs::copy(testdata(name), &key).expect("copy");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod");
        let ours = keygen_ok([OsStr::new("fingerprint"), key.as_os_str()]);
        let theirs = ssh_keygen(&["-l".as_ref(), "-f".as_ref(), key.as_os_str()]);
        let expected_fp = read_text(&testdata(&format!("{name}.pub.sha256")));
        let fields: Vec<&str> = expected_fp.split(' ').collect();
        let label = fields.last().expect("type");
        assert_eq!(
            ours,
            format!("{} {} {comment} {label}", fields[0], fields[1]),
            "{name}"
        );
        if comment == "no comment" {
            // OpenSSH 9.2 prints an empty comment field here.
            assert_eq!(theirs, format!("{} {}  {label}", fields[0], fields[1]));
        } else {
            assert_eq!(ours, theirs, "{name}");
        }
    }
    // A .pub of a different key beside a private key: we still print the private key's
    // fingerprint (ssh-keygen would print the .pub's).
    let key = tmp.path().join("ed25519");
    fs::copy(testdata("rsa2048.pub"), tmp.path().join("ed25519.pub")).expect("copy");
    let ours = keygen_ok([OsStr::new("fingerprint"), key.as_os_str()]);
    assert_eq!(
        ours.split(' ').nth(1),
        read_text(&testdata("ed25519.pub.sha256")).split(' ').nth(1)
    );
}

/// OpenSSH 9.2's `ssh-keygen -l` keeps the previous line's comment pointer for a key line
/// without a comment and prints stale buffer text; we print `no comment`.
#[test]
fn bare_key_after_commented_line_has_no_comment() {
    let with_comment = read_text(&testdata("rsa3072.pub"));
    let bare = read_text(&testdata("ed25519_nocomment.pub"));
    let out = run_with_stdin(
        &mut keygen_cmd(["fingerprint"]),
        Some(format!("{with_comment}{bare}").as_bytes()),
    );
    let listed = stdout_ok("fingerprint", &out);
    let second = listed.lines().nth(1).expect("two lines");
    assert!(second.ends_with(" no comment (ED25519)"), "{listed}");
}

/// `tmate-keygen fingerprint many | head -1`: a closed stdout ends the run quietly.
#[test]
fn closed_stdout_is_not_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("many");
    let line = read_text(&testdata("ed25519.pub"));
    fs::write(&file, line.repeat(50_000)).expect("write");
    let mut child = keygen_cmd([OsStr::new("fingerprint"), file.as_os_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    // The reader is dropped here: the pipe closes while the tool is still writing.
    let out = child.wait_with_output().expect("wait");
    assert_eq!(first, read_text(&testdata("ed25519.pub.sha256")));
    assert!(out.status.success(), "{}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
