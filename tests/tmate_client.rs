//! The real tmate client (Debian `tmate` 2.4.0) judges `tmate_conf`: for every config in
//! `tests/data/conf/`, the `tmate-server-*` values our evaluator computes are the ones the
//! client reports (`show-options -sv`), and the lines it reports errors on are the lines we
//! report. Rendered and edited configs are read back by the client with the values meant.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a test failure"
)]

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use tmate_conf::{Document, Env, ServerConfig};
use tmate_keys::HostKeys;
use tmate_tests::keys_support::keygen_bin;

/// The client binary (Debian package `tmate`).
const TMATE: &str = "tmate";
/// Directory of the config corpus, relative to this package.
const CORPUS: &str = "data/conf";
/// The options compared for every corpus file.
const COMPARED: &[&str] = &[
    "tmate-server-host",
    "tmate-server-port",
    "tmate-server-rsa-fingerprint",
    "tmate-server-ed25519-fingerprint",
    "tmate-server-ecdsa-fingerprint",
    "tmate-identity",
    "tmate-api-key",
    "tmate-webhook-url",
    "tmate-session-name",
    "tmate-session-name-ro",
    "tmate-foreground-restart",
];

/// The environment the client runs in, which is also what `$VAR` and `~` expand from.
struct Sandbox {
    dir: tempfile::TempDir,
    started: AtomicUsize,
}

impl Sandbox {
    fn new() -> Self {
        // A short path: the socket path must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("tc")
            .tempdir_in("/tmp")
            .unwrap();
        Self {
            dir,
            started: AtomicUsize::new(0),
        }
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    /// Variables given to the client; `PWD` is what tmux sets from its working directory.
    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HOME", self.home().display().to_string()),
            ("LC_ALL", "C.UTF-8".to_owned()),
            ("TERM", "xterm".to_owned()),
            ("PATH", "/usr/bin:/bin".to_owned()),
        ]
    }

    /// The same environment for the evaluator.
    fn env(&self) -> Env {
        let mut env = Env::empty().with_system_users();
        for (name, value) in self.vars() {
            env = env.with_var(name, &value);
        }
        env.with_var("PWD", &self.home().display().to_string())
    }

    fn tmate(&self) -> Command {
        let mut cmd = Command::new(TMATE);
        cmd.env_clear().envs(self.vars()).current_dir(self.home());
        cmd
    }

    /// Starts a client server reading `conf` (copied into the sandbox as `name`).
    fn start(&self, name: &str, conf: &[u8]) -> Server<'_> {
        fs::write(self.home().join(name), conf).unwrap();
        // A socket per server: a new client must not reach a server still shutting down.
        let socket = self
            .home()
            .join(format!("s{}", self.started.fetch_add(1, Ordering::Relaxed)));
        let out = run(self
            .tmate()
            .arg("-f")
            .arg(name)
            .arg("-S")
            .arg(&socket)
            .args(["new-session", "-d"]));
        assert!(
            out.status.success(),
            "tmate new-session -d failed for {name}: {out:?}"
        );
        Server {
            sandbox: self,
            socket,
            name: name.to_owned(),
        }
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} (is the Debian `tmate` package installed?): {e}")
    })
}

/// A running tmate server, killed on drop.
struct Server<'a> {
    sandbox: &'a Sandbox,
    socket: PathBuf,
    name: String,
}

impl Server<'_> {
    fn tmate(&self, args: &[&str]) -> Output {
        let out = run(self.sandbox.tmate().arg("-S").arg(&self.socket).args(args));
        assert!(out.status.success(), "tmate {args:?}: {out:?}");
        out
    }

    /// The value of a global option as the client holds it (`show-options -gv`, which
    /// also finds server options).
    fn option(&self, name: &str) -> String {
        let scope = if name.starts_with('@') { "-gv" } else { "-sv" };
        let out = self.tmate(&["show-options", scope, name]);
        let text = String::from_utf8(out.stdout).unwrap();
        text.strip_suffix('\n').unwrap_or(&text).to_owned()
    }

    /// Line numbers of the config errors the client reports. tmate shows them in copy
    /// mode in the first pane; select everything there (emacs keys, the default without
    /// `EDITOR`) and read the paste buffer.
    fn error_lines(&self) -> Vec<usize> {
        self.tmate(&["send-keys", "M-<", "C-Space", "M->", "C-e", "M-w"]);
        let out = self.tmate(&["show-buffer"]);
        let prefix = format!("{}:", self.name);
        let mut lines: Vec<usize> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|rest| rest.split(':').next().unwrap().parse().unwrap())
            .collect();
        lines.sort_unstable();
        lines
    }
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        let _ = self
            .sandbox
            .tmate()
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// What our evaluator says about `conf`: option values and error lines (as tmate numbers them).
fn ours(
    sandbox: &Sandbox,
    conf: &[u8],
    options: &[&str],
) -> (BTreeMap<String, String>, Vec<usize>) {
    let text = std::str::from_utf8(conf).expect("corpus files are UTF-8");
    let ev = Document::parse(text).evaluate(&sandbox.env());
    let values = options
        .iter()
        .map(|o| {
            (
                (*o).to_owned(),
                ev.value(o).unwrap_or_default().into_owned(),
            )
        })
        .collect();
    let mut lines: Vec<usize> = ev.diagnostics().iter().map(|d| d.tmux_line()).collect();
    lines.sort_unstable();
    (values, lines)
}

fn theirs(server: &Server<'_>, options: &[&str]) -> (BTreeMap<String, String>, Vec<usize>) {
    let values = options
        .iter()
        .map(|o| ((*o).to_owned(), server.option(o)))
        .collect();
    (values, server.error_lines())
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            (name, fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "corpus is missing from {}",
        dir.display()
    );
    files
}

#[test]
fn corpus_means_to_us_what_it_means_to_tmate() {
    let sandbox = Sandbox::new();
    let mut defaults_changed = 0;
    for (name, conf) in corpus() {
        let server = sandbox.start(&name, &conf);
        let theirs = theirs(&server, COMPARED);
        drop(server);
        let ours = ours(&sandbox, &conf, COMPARED);
        assert_eq!(ours.0, theirs.0, "option values of {name}");
        assert_eq!(ours.1, theirs.1, "error lines of {name}");
        // The file names say which files the client must accept or reject.
        assert_eq!(
            theirs.1.is_empty(),
            name.starts_with("accept-"),
            "{name}: tmate reported errors on lines {:?}",
            theirs.1
        );
        if theirs.0["tmate-server-host"] != "ssh.tmate.io" {
            defaults_changed += 1;
        }
    }
    // Guard against a harness that reads nothing: nearly every file sets the host.
    assert!(
        defaults_changed >= 20,
        "only {defaults_changed} files changed the host"
    );
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// Host keys made by `tmate-keygen init` (the tmate-keys library), as a ServerConfig.
fn server_config(sandbox: &Sandbox) -> ServerConfig {
    let keys_dir = sandbox.home().join("keys");
    let out = run(Command::new(keygen_bin())
        .args(["init", "--rsa-bits", "2048", "--keys-dir"])
        .arg(&keys_dir));
    assert!(out.status.success(), "tmate-keygen init: {out:?}");
    let keys = HostKeys::new(&keys_dir).load().unwrap();
    ServerConfig::new(
        "127.0.0.1",
        closed_port(),
        &keys.rsa.sha256.to_string(),
        &keys.ed25519.sha256.to_string(),
    )
    .unwrap()
}

#[test]
fn rendered_config_is_read_back_with_the_values_meant() {
    let sandbox = Sandbox::new();
    let cfg = server_config(&sandbox);
    for (name, text) in [
        ("render.conf", tmate_conf::render(&cfg)),
        ("action.conf", tmate_conf::render_action(&cfg)),
    ] {
        let server = sandbox.start(name, text.as_bytes());
        assert_eq!(server.error_lines(), Vec::<usize>::new(), "{name}");
        for (option, value) in cfg.options() {
            assert_eq!(server.option(option), value, "{option} in {name}");
        }
    }
}

#[test]
fn applied_config_keeps_the_users_settings() {
    let sandbox = Sandbox::new();
    let cfg = server_config(&sandbox);
    let user = "# mine\nset -g status-left 'L #S'\nset-option -g tmate-server-host \"old\" # old server\n\
                set -g @mine 'kept; as is'\nset -g tmate-server-port 22 ; set -g history-limit 4242\n";
    let path = sandbox.home().join("applied.conf");
    fs::write(&path, user).unwrap();
    let out = run(Command::new(keygen_bin())
        .args(["conf", "apply"])
        .arg(&path)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &cfg.port().to_string(),
            "--keys-dir",
        ])
        .arg(sandbox.home().join("keys")));
    assert!(out.status.success(), "conf apply: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("updated {}\n", path.display())
    );
    let edited = fs::read_to_string(&path).unwrap();
    // Only the two value words changed; the fingerprints were appended.
    let expected_head = format!(
        "# mine\nset -g status-left 'L #S'\nset-option -g tmate-server-host 127.0.0.1 # old server\n\
         set -g @mine 'kept; as is'\nset -g tmate-server-port {} ; set -g history-limit 4242\n",
        cfg.port()
    );
    let tail = edited
        .strip_prefix(&expected_head)
        .expect("the user's lines are untouched");
    assert_eq!(
        tail,
        format!(
            "set -g tmate-server-rsa-fingerprint {}\nset -g tmate-server-ed25519-fingerprint {}\n",
            cfg.rsa_fingerprint(),
            cfg.ed25519_fingerprint()
        )
    );
    let server = sandbox.start("applied.conf", edited.as_bytes());
    assert_eq!(server.error_lines(), Vec::<usize>::new());
    for (option, value) in cfg.options() {
        assert_eq!(server.option(option), value, "{option}");
    }
    let show_g = |name: &str| {
        let out = server.tmate(&["show-options", "-gv", name]);
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(show_g("status-left"), "L #S\n");
    assert_eq!(show_g("history-limit"), "4242\n");
    assert_eq!(server.option("@mine"), "kept; as is");
    // `conf check` reports what the client reads, with the debug-ssh relation's keys.
    let out = run(Command::new(keygen_bin())
        .args(["conf", "check"])
        .arg(&path));
    assert!(out.status.success(), "conf check: {out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "host": "127.0.0.1",
            "port": cfg.port().to_string(),
            "rsa_fingerprint": cfg.rsa_fingerprint().to_string(),
            "ed25519_fingerprint": cfg.ed25519_fingerprint().to_string(),
        })
    );
}

/// Values that need quoting, each rendered into its own `@vN` option: the client reads
/// back exactly the value, and the `@after` option on the next line survives.
#[test]
fn quoted_values_are_read_back_exactly() {
    let values = [
        "",
        "a b",
        "it's",
        "\"double\"",
        "$HOME",
        "${HOME}",
        "~/x",
        "~",
        "#hash",
        "a#b",
        "semi;",
        "a\\;",
        ";",
        "\\",
        "x\\",
        "\\\\",
        "-g",
        "--",
        "é ✓ 🚀",
        "'\"$\\#;~",
        "set -g @after evil",
        "a;set -g @after evil",
        "tab-free  spaces  ",
    ];
    let mut text = String::new();
    for (i, value) in values.iter().enumerate() {
        text.push_str(&tmate_conf::render_option(&format!("@v{i}"), value).unwrap());
    }
    text.push_str("set -g @after ok\n");
    let sandbox = Sandbox::new();
    let server = sandbox.start("quoted.conf", text.as_bytes());
    assert_eq!(server.error_lines(), Vec::<usize>::new(), "{text}");
    for (i, value) in values.iter().enumerate() {
        assert_eq!(
            server.option(&format!("@v{i}")),
            *value,
            "value {i} in\n{text}"
        );
    }
    assert_eq!(server.option("@after"), "ok");
}

/// Pieces the generated values are made of: every character tmux's config lexer treats
/// specially (quotes, `$`, `~`, `#`, `;`, `\\`, braces, blanks), words that would be commands
/// or flags if they escaped their quotes, and plain and non-ASCII text.
const VALUE_PIECES: &[&str] = &[
    "'",
    "\"",
    "$",
    "$HOME",
    "${HOME}",
    "~",
    "~/",
    "#",
    ";",
    "\\",
    "{",
    "}",
    " ",
    "  ",
    "a",
    "Zz9",
    "-g",
    "--",
    "set",
    "set -g @after evil",
    "é",
    "✓",
    "🚀",
    "=",
    ":",
    "/",
    ".",
    "%",
];

/// Injection-proofness judged by the real client, beyond the hand-picked values above: 300
/// values drawn (reproducibly) from [`VALUE_PIECES`], each rendered into its own option of
/// one file. tmate reports no error, reads back every value exactly, and the `@after`
/// option on the last line keeps its value, so no value added a line, a command or an
/// option.
#[test]
fn generated_values_are_read_back_exactly() {
    const COUNT: usize = 300;
    // xorshift64*: a fixed seed, so a failure names a value that reproduces.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let values: Vec<String> = (0..COUNT)
        .map(|_| {
            let pieces = 1 + usize::try_from(next() % 6).unwrap();
            (0..pieces)
                .map(|_| VALUE_PIECES[usize::try_from(next()).unwrap() % VALUE_PIECES.len()])
                .collect()
        })
        .collect();
    let mut text = String::new();
    for (i, value) in values.iter().enumerate() {
        text.push_str(&tmate_conf::render_option(&format!("@g{i}"), value).unwrap());
    }
    text.push_str("set -g @after ok\n");
    let sandbox = Sandbox::new();
    let server = sandbox.start("generated.conf", text.as_bytes());
    assert_eq!(server.error_lines(), Vec::<usize>::new(), "{text}");
    let wrong: Vec<String> = values
        .iter()
        .enumerate()
        .filter_map(|(i, value)| {
            let got = server.option(&format!("@g{i}"));
            (got != *value).then(|| format!("@g{i}: rendered {value:?}, tmate read {got:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(server.option("@after"), "ok");
}

/// `conf check` prints every problem as FILE:LINE:COL: message, and exits 1.
#[test]
fn check_reports_problems_with_positions() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(CORPUS)
        .join("reject-01-typos.conf");
    let out = run(Command::new(keygen_bin())
        .args(["conf", "check"])
        .arg(&path));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    let p = path.display();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "{p}:2:8: unknown option \"tmate-server-prot\" (did you mean \"tmate-server-port\"?)\n\
             {p}:3:1: unknown command \"sett\" (did you mean \"set\"?)\n\
             {p}:4:8: ambiguous option \"tmate-server\" (could be: tmate-server-host, tmate-server-port, \
             tmate-server-dsa-fingerprint, tmate-server-rsa-fingerprint, tmate-server-ecdsa-fingerprint, \
             tmate-server-ed25519-fingerprint)\n\
             {p}:5:1: ambiguous command \"se\" (could be: select-layout, select-pane, select-window, \
             send-keys, send-prefix, server-info, set-buffer, set-environment, set-hook, set-option, \
             set-window-option)\n"
        )
    );
}
