//! OpenSSH agreement: keys made by `tmate-keygen init` are exactly what `ssh-keygen` and a
//! real `sshd` say they are (for RSA 2048, 3072 and 4096 and Ed25519), and
//! `tmate-keygen fingerprint` prints what `ssh-keygen -l` prints, streaming.
//! Needs openssh-client and openssh-server; fails (never skips) without them.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed expectation is a test failure"
)]

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use tmate_tests::keys_support::{
    ED25519_KEY, RSA_KEY, Sshd, keygen_cmd, keygen_ok, read_text, run_tool, run_with_stdin,
    ssh_keygen, ssh_keygen_public, stdout_ok,
};

/// The known-answer vectors made by `ssh-keygen` (see their `generate.sh`).
fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/tmate-keys/testdata")
}

/// `init --format json` into a fresh `keys` dir; returns (tempdir, keys dir, parsed JSON).
fn init_json(rsa_bits: u32) -> (tempfile::TempDir, PathBuf, serde_json::Value) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    let out = keygen_ok([
        OsStr::new("init"),
        "--keys-dir".as_ref(),
        keys.as_os_str(),
        "--rsa-bits".as_ref(),
        rsa_bits.to_string().as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let json = serde_json::from_str(&out).expect("init prints JSON");
    (tmp, keys, json)
}

/// `ssh-keygen -l -E ALG -f FILE`.
fn ssh_keygen_l(alg: &str, file: &Path) -> String {
    ssh_keygen(&[
        "-l".as_ref(),
        "-E".as_ref(),
        alg.as_ref(),
        "-f".as_ref(),
        file.as_os_str(),
    ])
}

/// `tmate-keygen fingerprint -E ALG FILE`.
fn ours_l(alg: &str, file: &Path) -> String {
    keygen_ok([
        OsStr::new("fingerprint"),
        "-E".as_ref(),
        alg.as_ref(),
        file.as_os_str(),
    ])
}

/// Every OpenSSH view of a fresh key pair agrees with ours, `sshd` included.
fn check_fresh_keys(rsa_bits: u32) {
    let (_tmp, keys, json) = init_json(rsa_bits);
    let cases = [
        (RSA_KEY, rsa_bits, "RSA", "rsa_fingerprint", "ssh-rsa "),
        (
            ED25519_KEY,
            256,
            "ED25519",
            "ed25519_fingerprint",
            "ssh-ed25519 ",
        ),
    ];
    for (name, bits, label, json_key, prefix) in cases {
        let key = keys.join(name);
        let public = keys.join(format!("{name}.pub"));
        // The private key alone (no .pub beside it) gives back our .pub, byte for byte.
        let derived = ssh_keygen_public(&key);
        assert_eq!(
            derived,
            read_text(&public),
            "{name}: ssh-keygen -y differs from .pub"
        );
        assert!(derived.starts_with(prefix), "{name}: {derived}");
        for alg in ["sha256", "md5"] {
            let theirs = ssh_keygen_l(alg, &public);
            assert_eq!(ours_l(alg, &public), theirs, "{name}.pub -E {alg}");
            let fields: Vec<&str> = theirs.split(' ').collect();
            assert_eq!(
                theirs,
                format!("{bits} {} no comment ({label})\n", fields[1])
            );
            // Ours on the private key matches ssh-keygen on it (which reads the .pub beside it
            // for the comment: our keys have none, so it shows the .pub path).
            let theirs_private = ssh_keygen_l(alg, &key);
            assert_eq!(ours_l(alg, &key), theirs_private, "{name} -E {alg}");
            assert_eq!(
                theirs_private,
                format!("{bits} {} {} ({label})\n", fields[1], public.display())
            );
            if alg == "sha256" {
                assert_eq!(json[json_key], fields[1], "{json_key} in init's JSON");
            }
        }
    }
    // The conf output of a second run names the same fingerprints.
    let conf = keygen_ok([OsStr::new("init"), "--keys-dir".as_ref(), keys.as_os_str()]);
    assert_eq!(
        conf,
        format!(
            "set -g tmate-server-host localhost\nset -g tmate-server-port 22\n\
             set -g tmate-server-rsa-fingerprint {}\nset -g tmate-server-ed25519-fingerprint {}\n",
            json["rsa_fingerprint"].as_str().expect("string"),
            json["ed25519_fingerprint"].as_str().expect("string"),
        )
    );
    check_sshd_serves(&keys, &json, rsa_bits);
}

#[test]
fn fresh_keys_agree_with_ssh_keygen_and_sshd_rsa_2048() {
    check_fresh_keys(2048);
}

#[test]
fn fresh_keys_agree_with_ssh_keygen_and_sshd_rsa_3072() {
    check_fresh_keys(3072);
}

#[test]
fn fresh_keys_agree_with_ssh_keygen_and_sshd_rsa_4096() {
    check_fresh_keys(4096);
}

/// A real sshd (127.0.0.1 only, on a free port) loads both keys in `keys` and presents
/// exactly their fingerprints on the wire: `ssh-keyscan | ssh-keygen -lf -` lists the
/// fingerprints `init` printed in `json`, and so does our `fingerprint` command.
fn check_sshd_serves(keys: &Path, json: &serde_json::Value, rsa_bits: u32) {
    let sshd = Sshd::start(&[&keys.join(RSA_KEY), &keys.join(ED25519_KEY)]);
    let port = sshd.port.to_string();
    let scan = run_tool(
        "ssh-keyscan",
        &[
            "-p".as_ref(),
            port.as_ref(),
            "-t".as_ref(),
            "rsa,ed25519".as_ref(),
            "127.0.0.1".as_ref(),
        ],
        None,
    );
    let scanned = stdout_ok("ssh-keyscan", &scan);
    assert_eq!(scanned.lines().count(), 2, "ssh-keyscan output:\n{scanned}");
    let listed = stdout_ok(
        "ssh-keygen -lf -",
        &run_tool(
            "ssh-keygen",
            &["-l".as_ref(), "-f".as_ref(), "-".as_ref()],
            Some(scanned.as_bytes()),
        ),
    );
    let host = format!("[127.0.0.1]:{port}");
    let rsa = json["rsa_fingerprint"].as_str().expect("string");
    let ed25519 = json["ed25519_fingerprint"].as_str().expect("string");
    let mut expected = vec![
        format!("{rsa_bits} {rsa} {host} (RSA)"),
        format!("256 {ed25519} {host} (ED25519)"),
    ];
    let mut got: Vec<String> = listed.lines().map(str::to_owned).collect();
    expected.sort();
    got.sort();
    assert_eq!(
        got, expected,
        "fingerprints served by sshd (RSA {rsa_bits})"
    );
    // Our fingerprint command reads ssh-keyscan output the same way.
    let ours = run_with_stdin(&mut keygen_cmd(["fingerprint"]), Some(scanned.as_bytes()));
    assert_eq!(stdout_ok("tmate-keygen fingerprint", &ours), listed);
    drop(sshd);
}

/// The known-answer vectors: every file `ssh-keygen -l` reads (public keys of every type,
/// certificates, security keys, authorized_keys, private keys with their .pub beside them).
#[test]
fn fingerprint_matches_ssh_keygen_on_known_answer_vectors() {
    let dir = testdata();
    let mut checked = 0;
    let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the tmate-keys test vectors)", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for file in entries {
        let name = file
            .file_name()
            .and_then(OsStr::to_str)
            .expect("utf-8 name");
        let skip = [".md5", ".sha256", ".y", ".sh"];
        if skip.iter().any(|s| name.ends_with(s)) {
            continue;
        }
        for alg in ["sha256", "md5"] {
            assert_eq!(
                ours_l(alg, &file),
                ssh_keygen_l(alg, &file),
                "{name} -E {alg}"
            );
            checked += 1;
        }
        // The committed expectations (made by ssh-keygen when the vectors were generated).
        for alg in ["sha256", "md5"] {
            let expected = dir.join(format!("{name}.{alg}"));
            if expected.exists() {
                assert_eq!(ours_l(alg, &file), read_text(&expected), "{name}.{alg}");
            }
        }
    }
    // rsa2048 rsa3072 rsa3072_nocomment ed25519 ed25519_nocomment ecdsa256/384/521 dsa1024
    // encrypted_ed25519 (each private + .pub), certificate, two sk keys, authorized_keys.
    assert!(checked >= 2 * 24, "only {checked} vector checks ran");
}

/// An authorized_keys file with options, quoting, known_hosts-style host prefixes,
/// comments, blank lines, junk and CRLF, built from keys `ssh-keygen` makes now.
#[test]
fn fingerprint_matches_ssh_keygen_on_authorized_keys_with_options() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut keys = Vec::new();
    for (name, args) in [
        ("ed", &["-t", "ed25519"][..]),
        ("rsa", &["-t", "rsa", "-b", "2048"]),
        ("ec", &["-t", "ecdsa", "-b", "384"]),
    ] {
        let path = tmp.path().join(name);
        let mut argv: Vec<&OsStr> = vec!["-q".as_ref(), "-N".as_ref(), "".as_ref()];
        argv.extend(args.iter().map(OsStr::new));
        argv.extend([
            "-C".as_ref(),
            "c@x".as_ref(),
            "-f".as_ref(),
            path.as_os_str(),
        ]);
        ssh_keygen(&argv);
        let line = read_text(&path.with_extension("pub"));
        let mut fields = line.split(' ');
        let key = format!(
            "{} {}",
            fields.next().expect("type"),
            fields.next().expect("b64")
        );
        keys.push(key);
    }
    let [ed, rsa, ec] = [&keys[0], &keys[1], &keys[2]];
    // A key line without a comment comes first: OpenSSH 9.2's `ssh-keygen -l` does not reset
    // the comment between lines, so a bare key after a commented line shows stale buffer
    // text there (see `bare_key_after_commented_line_has_no_comment` in keygen_cli.rs).
    let text = format!(
        "# authorized_keys for tests\n\
         \n\
         {rsa}\n\
         {ed} plain comment\n\
         \x20\x20\t{rsa} leading blanks\n\
         command=\"echo hi there\",no-pty {rsa} with options\n\
         from=\"10.0.0.1\" {ed}\n\
         from=\"a b\",no-pty {ec} # a hash comment\n\
         restrict,command=\"say \\\"x y\\\"\" {ec} escaped quotes\n\
         {ed}\ttab   separated  comment  \n\
         host1,host2 {ed}\n\
         [127.0.0.1]:2222 {ec} known_hosts style\n\
         garbage line here\n\
         ssh-ed25519 AAAAbroken\n\
         {ed} crlf comment\r\n\
         {ec} ünïcödé comment\n"
    );
    let file = tmp.path().join("authorized_keys");
    fs::write(&file, &text).expect("write");
    for alg in ["sha256", "md5"] {
        let theirs = ssh_keygen_l(alg, &file);
        assert_eq!(theirs.lines().count(), 12, "{theirs}");
        assert_eq!(ours_l(alg, &file), theirs, "-E {alg}");
    }
}

/// Lots of keys: the output is identical line for line (streaming does not change results).
#[test]
fn fingerprint_matches_ssh_keygen_on_many_keys() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sources = [
        "ed25519.pub",
        "rsa3072.pub",
        "ecdsa521.pub",
        "authorized_keys",
    ];
    let mut body = String::new();
    for source in sources {
        body.push_str(&read_text(&testdata().join(source)));
    }
    let file = tmp.path().join("many");
    let copies = 2_000;
    fs::write(&file, body.repeat(copies)).expect("write");
    let theirs = ssh_keygen_l("sha256", &file);
    let ours = ours_l("sha256", &file);
    assert!(theirs.lines().count() >= 3 * copies);
    assert_eq!(ours.lines().count(), theirs.lines().count());
    assert!(ours == theirs, "outputs differ");
}

/// Key lines fed to the streaming test (issue #2: "a file of 100,000 keys is fine").
const STREAMED_KEYS: usize = 100_000;
/// Lines written before the test waits for the first output line, with stdin still open.
/// Their output (about 100 bytes a line) is far more than the tool's 8 KiB output buffer,
/// so a streaming tool must have printed some of it.
const FIRST_CHUNK_KEYS: usize = 2_000;
/// Bound on the tool's peak resident set (`VmHWM`) while it reads the keys.
///
/// Streaming needs one line, a 64 KiB input buffer and an 8 KiB output buffer on top of the
/// executable: a few MiB. The input (built below, mostly RSA-4096 lines of about 750 bytes)
/// is about 60 MB, and the test checks that it is more than three times this bound: a tool
/// that read all of its input before printing - or kept it - would hold all of it at once
/// and exceed the bound several times over.
const MAX_PEAK_RSS_KIB: u64 = 16 * 1024;
/// How long to wait for the first output line before calling the tool stuck: a guard
/// against a hang (a tool that waits for end of input never prints), not a speed
/// requirement.
const FIRST_LINE_GUARD: Duration = Duration::from_secs(300);

/// `VmHWM` (peak resident set size, KiB) of process `pid`, from `/proc/PID/status`.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status:\n{status}"))
}

/// `TYPE BASE64` of a key `ssh-keygen ARGS` makes now.
fn fresh_public_key(dir: &Path, name: &str, args: &[&str]) -> String {
    let path = dir.join(name);
    let mut argv: Vec<&OsStr> = vec!["-q".as_ref(), "-N".as_ref(), "".as_ref()];
    argv.extend(args.iter().map(OsStr::new));
    argv.extend(["-f".as_ref(), path.as_os_str()]);
    ssh_keygen(&argv);
    let line = read_text(&path.with_extension("pub"));
    let mut fields = line.split(' ');
    format!(
        "{} {}",
        fields.next().expect("type"),
        fields.next().expect("base64")
    )
}

/// Issue #2: `tmate-keygen fingerprint -` streams. 100,000 key lines go through a pipe; the
/// first output line arrives while standard input is still open (the rest is written only
/// after it), the tool's peak memory stays far below the size of its input, and the output
/// is `ssh-keygen -l -f FILE` over the same lines, line for line.
#[test]
fn fingerprint_streams_100000_keys_from_a_pipe() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Real keys, made now; mostly RSA-4096, whose long lines make the input large.
    let keys = [
        fresh_public_key(tmp.path(), "rsa", &["-t", "rsa", "-b", "4096"]),
        fresh_public_key(tmp.path(), "ed", &["-t", "ed25519"]),
        fresh_public_key(tmp.path(), "ec", &["-t", "ecdsa", "-b", "256"]),
    ];
    let pattern = [0, 0, 0, 0, 0, 0, 1, 2];
    // Every line has its own comment (OpenSSH 9.2 shows stale text for a bare key after a
    // commented one, see keygen_cli.rs).
    let lines: Vec<String> = (0..STREAMED_KEYS)
        .map(|i| format!("{} key-{i}@stream\n", keys[pattern[i % pattern.len()]]))
        .collect();
    let input_len: usize = lines.iter().map(String::len).sum();
    assert!(
        input_len as u64 > 3 * MAX_PEAK_RSS_KIB * 1024,
        "the input ({input_len} bytes) is too small to tell streaming from buffering"
    );
    let file = tmp.path().join("keys.pub");
    fs::write(&file, lines.concat()).expect("write keys file");

    let mut child = keygen_cmd(["fingerprint", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tmate-keygen fingerprint -");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin pipe");
    let stdout = child.stdout.take().expect("stdout pipe");
    // A reader thread: the first line is reported as soon as it arrives, the rest collected.
    let (first_tx, first_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut first = String::new();
        stdout.read_line(&mut first).expect("read first line");
        let _ = first_tx.send(first.clone());
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).expect("read output");
        first + &rest
    });

    stdin
        .write_all(lines[..FIRST_CHUNK_KEYS].concat().as_bytes())
        .expect("write the first keys");
    stdin.flush().expect("flush");
    let first = match first_rx.recv_timeout(FIRST_LINE_GUARD) {
        Ok(first) => first,
        Err(e) => {
            let _ = child.kill();
            panic!(
                "no output line after {FIRST_CHUNK_KEYS} keys with stdin still open ({e}): \
                 not streaming"
            );
        }
    };
    assert!(first.ends_with(" key-0@stream (RSA)\n"), "{first:?}");
    for chunk in lines[FIRST_CHUNK_KEYS..].chunks(1_000) {
        stdin
            .write_all(chunk.concat().as_bytes())
            .expect("write keys");
    }
    stdin.flush().expect("flush");
    // All but what the pipe holds has been read by now: the peak so far is the peak of
    // reading the whole input.
    let peak = peak_rss_kib(pid);
    drop(stdin);
    let status = child.wait().expect("wait");
    let ours = reader.join().expect("reader thread");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr pipe")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert!(status.success() && stderr.is_empty(), "{status}: {stderr}");
    assert!(
        peak <= MAX_PEAK_RSS_KIB,
        "peak RSS {peak} KiB over {MAX_PEAK_RSS_KIB} KiB for {input_len} bytes of input"
    );

    let theirs = ssh_keygen(&["-l".as_ref(), "-f".as_ref(), file.as_os_str()]);
    assert_eq!(theirs.lines().count(), STREAMED_KEYS, "ssh-keygen -l");
    assert_eq!(
        ours.lines().count(),
        STREAMED_KEYS,
        "tmate-keygen fingerprint -"
    );
    if let Some((i, (a, b))) = ours
        .lines()
        .zip(theirs.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!("line {}: ours {a:?}, ssh-keygen {b:?}", i + 1);
    }
    assert!(ours == theirs, "outputs differ");
}
