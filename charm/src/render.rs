//! Pure renderers: the systemd unit and Docker's `daemon.json` (the `.tmate.conf` lines come
//! from `tmate_conf::render_action`).

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::config::Proxies;
use crate::names::{
    CONTAINER_ENTRYPOINT, CONTAINER_KEYS_DIR, CONTAINER_NAME, DOCKER_BIN, DOCKER_SERVICE, KEYS_DIR,
};

/// Highest port that needs `CAP_NET_BIND_SERVICE` (`net.ipv4.ip_unprivileged_port_start`
/// defaults to 1024, and `--net=host` uses the host's value).
const LAST_PRIVILEGED_PORT: u16 = 1023;

/// Capabilities the server keeps; `--cap-drop=ALL` removes Docker's default set first.
///
/// Every connection forks, and the child jails itself (`tmate-main.c` `jail()`, TMATE.md
/// "Privileges"); missing any of these makes sessions fail with `Connection reset by peer`.
const CAPABILITIES: [&str; 4] = [
    // unshare(CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWNET).
    "SYS_ADMIN",
    // chroot("/tmp/tmate/jail").
    "SYS_CHROOT",
    // setresuid() to `nobody`.
    "SETUID",
    // setgroups() and setresgid() to nobody's group.
    "SETGID",
];
// Deliberately not granted, although Docker grants them by default:
// - KILL: the listener only reaps its own children (waitpid); after the jail a session signals
//   processes of its own uid (`nobody`), which needs no capability; `docker stop` signals from
//   outside the container.
// - CHOWN, DAC_OVERRIDE, FOWNER, FSETID: root owns everything the server touches - /tmp/tmate is
//   created by the server itself, the keys are root-owned 0600 files and 0700 directory.
// - NET_BIND_SERVICE: only added for a port below 1024 (see `LAST_PRIVILEGED_PORT`).
// - NET_RAW, MKNOD, AUDIT_WRITE, SETFCAP, SETPCAP: never used by an SSH relay.

/// What the systemd unit depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnitSpec<'a> {
    /// OCI image reference (validated: no whitespace, `%` or `$`).
    pub(crate) image: &'a str,
    /// Host shown in the connection string (`-h`).
    pub(crate) host: IpAddr,
    /// Listening port (`-p`).
    pub(crate) port: u16,
}

/// Renders `/etc/systemd/system/tmate-ssh-server.service`.
///
/// The service is the Docker CLI attached to the container; it only talks to the Docker socket,
/// so the unit is hardened as far as that allows (measured by `systemd-analyze security`).
pub(crate) fn render_unit(spec: &UnitSpec<'_>) -> String {
    let mut caps: Vec<&str> = CAPABILITIES.to_vec();
    if spec.port <= LAST_PRIVILEGED_PORT {
        caps.push("NET_BIND_SERVICE");
    }
    let cap_flags: String = caps.iter().map(|c| format!(" --cap-add={c}")).collect();
    let UnitSpec { image, host, port } = spec;
    // The container (what dockerd runs; the unit's sandbox below does not reach it):
    // - user: `--user=root`, because the per-session jail needs uid 0 to chroot and to drop to
    //   `nobody`; it is root with the four capabilities above only (Docker's default set is
    //   dropped), and `no-new-privileges` keeps set-uid binaries in the image from gaining any.
    // - network: `--net=host`, so the server binds the host's port itself (no docker-proxy or
    //   NAT in the path) and sees the clients' real addresses; every session still unshares its
    //   own network namespace (CLONE_NEWNET) in the jail.
    // - mounts: only the keys directory, read-only (`:ro`): the server reads the host keys and
    //   never writes them, so a compromised server cannot replace the keys clients pin. They
    //   are root-owned 0600 in a 0700 directory, which container root reads without
    //   DAC_OVERRIDE. The jail directory /tmp/tmate lives in the container's own file system;
    //   no host path, and never the Docker socket, is mounted.
    //
    // The unit: the service process is only the Docker CLI (a Go program) talking to
    // /run/docker.sock, and each sandboxing directive was checked against what it needs:
    // - DynamicUser=yes + SupplementaryGroups=docker: the socket is root:docker 0660, and a
    //   dynamic user may hold static supplementary groups; the `docker` group is created by the
    //   docker.io package, which the charm installs before writing this unit (a missing group
    //   fails the start with status 216/GROUP, visible in the journal). The dynamic user's
    //   HOME is `/`, so the CLI finds no config in /.docker and uses the default context, the
    //   local socket; it never reads /root/.docker (ProtectHome=yes hides it anyway). The one
    //   thing lost is `docker login` credentials of root: an image from a private registry
    //   must be pulled beforehand (`docker pull` as root), after which `docker run` needs no
    //   credentials. The default image is public.
    // - ProtectSystem=strict: connecting to a unix socket needs write permission on the
    //   socket inode, which a read-only mount does not remove (EROFS applies to regular files,
    //   directories and symlinks only), so /run/docker.sock stays usable.
    // - PrivateNetwork=yes: a path-bound unix socket is reachable from any network namespace
    //   (only abstract sockets are per namespace); the container's network is dockerd's
    //   business (`--net=host`). RestrictAddressFamilies=AF_UNIX keeps exactly that family.
    // - SystemCallFilter: @system-service without @privileged and @resources covers the Go
    //   runtime; it raises RLIMIT_NOFILE at start-up with prlimit64 (allowed) and ignores the
    //   error should that fail, and SystemCallErrorNumber=EPERM makes a filtered call fail
    //   with an error instead of killing the process.
    //   MemoryDenyWriteExecute=yes is safe: Go never maps memory writable and executable.
    // - PrivateUsers= is deliberately not set: in a user namespace the `docker` group's gid
    //   would be unmapped, so the supplementary group could not be set up (or checked) and
    //   the socket would be refused.
    // - ExecStartPre=-...rm: `--rm` does not run when dockerd or the CLI die abruptly, and a
    //   leftover container of the same name makes `docker run` fail with a name conflict; the
    //   leading `-` accepts "No such container".
    // tests/hardening.rs measures every directive with `systemd-analyze security`.
    format!(
        "\
# Managed by the tmate-ssh-server charm: local changes are overwritten.
[Unit]
Description=tmate-ssh-server relay (Docker container {CONTAINER_NAME})
Documentation=https://github.com/tmate-io/tmate-ssh-server
Requires={DOCKER_SERVICE}
After={DOCKER_SERVICE} network-online.target
Wants=network-online.target

[Service]
Type=exec
# The container has a stable name; a stale one (e.g. after a crash) is removed first.
ExecStartPre=-{DOCKER_BIN} rm --force {CONTAINER_NAME}
# The jail in every session needs uid 0 and a few capabilities (see the charm's render.rs),
# not Docker's default set; no-new-privileges still allows dropping to `nobody`.
ExecStart={DOCKER_BIN} run --rm --name {CONTAINER_NAME} --net=host --user=root --cap-drop=ALL{cap_flags} \
--security-opt=no-new-privileges --volume {KEYS_DIR}:{CONTAINER_KEYS_DIR}:ro --env LC_ALL=C.UTF-8 \
--entrypoint {CONTAINER_ENTRYPOINT} {image} -A -h {host} -p {port} -k {CONTAINER_KEYS_DIR}
ExecStop={DOCKER_BIN} stop {CONTAINER_NAME}
Restart=always
RestartSec=2
TimeoutStopSec=30

# The Docker CLI only needs the Docker socket (root:docker 0660), which a dynamic user in the
# docker group can use; the container's privileges come from dockerd, not from this process.
DynamicUser=yes
SupplementaryGroups=docker
CapabilityBoundingSet=
AmbientCapabilities=
NoNewPrivileges=yes
UMask=0077
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateIPC=yes
PrivateMounts=yes
# A path-bound unix socket is reachable from any network namespace.
PrivateNetwork=yes
RestrictAddressFamilies=AF_UNIX
IPAddressDeny=any
ProtectHostname=yes
ProtectClock=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectProc=invisible
ProcSubset=pid
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RemoveIPC=yes
KeyringMode=private
DevicePolicy=closed
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
"
    )
}

/// Key in `daemon.json` the charm owns (Docker >= 23 reads proxies from it).
const DAEMON_PROXIES: &str = "proxies";

/// Why an existing `daemon.json` cannot be merged into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DaemonJsonError {
    /// It is not JSON.
    #[error("not valid JSON ({0})")]
    Syntax(String),
    /// It is JSON but not an object.
    #[error("not a JSON object")]
    NotAnObject,
}

/// Merges the model proxies into an existing `daemon.json` (other keys are kept).
///
/// Returns the new file content, or `None` when the file needs no change: it already says the
/// same (however formatted), or it is absent and there are no proxies to write.
///
/// # Errors
///
/// [`DaemonJsonError`] when the existing file cannot be parsed as a JSON object.
pub(crate) fn render_daemon_json(
    existing: Option<&str>,
    proxies: &Proxies,
) -> Result<Option<String>, DaemonJsonError> {
    let mut wanted = Map::new();
    for (key, value) in [
        ("http-proxy", &proxies.http),
        ("https-proxy", &proxies.https),
        ("no-proxy", &proxies.no_proxy),
    ] {
        if let Some(value) = value {
            wanted.insert(key.to_owned(), Value::String(value.clone()));
        }
    }
    let existing = match existing {
        None if wanted.is_empty() => return Ok(None),
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(DaemonJsonError::NotAnObject),
            Err(e) => return Err(DaemonJsonError::Syntax(e.to_string())),
        },
    };
    let mut merged = existing.clone();
    if wanted.is_empty() {
        merged.remove(DAEMON_PROXIES);
    } else {
        merged.insert(DAEMON_PROXIES.to_owned(), Value::Object(wanted));
    }
    if merged == existing {
        return Ok(None);
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(merged))
        .map_err(|e| DaemonJsonError::Syntax(e.to_string()))?;
    text.push('\n');
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED_UNIT: &str = "\
# Managed by the tmate-ssh-server charm: local changes are overwritten.
[Unit]
Description=tmate-ssh-server relay (Docker container tmate-ssh-server)
Documentation=https://github.com/tmate-io/tmate-ssh-server
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target

[Service]
Type=exec
# The container has a stable name; a stale one (e.g. after a crash) is removed first.
ExecStartPre=-/usr/bin/docker rm --force tmate-ssh-server
# The jail in every session needs uid 0 and a few capabilities (see the charm's render.rs),
# not Docker's default set; no-new-privileges still allows dropping to `nobody`.
ExecStart=/usr/bin/docker run --rm --name tmate-ssh-server --net=host --user=root --cap-drop=ALL --cap-add=SYS_ADMIN --cap-add=SYS_CHROOT --cap-add=SETUID --cap-add=SETGID --security-opt=no-new-privileges --volume /var/lib/tmate-ssh-server/keys:/keys:ro --env LC_ALL=C.UTF-8 --entrypoint /srv/tmate-ssh-server/tmate-ssh-server ghcr.io/canonical/tmate-ssh-server:0.1.1 -A -h 10.0.0.5 -p 10022 -k /keys
ExecStop=/usr/bin/docker stop tmate-ssh-server
Restart=always
RestartSec=2
TimeoutStopSec=30
";

    fn spec(port: u16) -> UnitSpec<'static> {
        UnitSpec {
            image: "ghcr.io/canonical/tmate-ssh-server:0.1.1",
            host: "10.0.0.5".parse().unwrap(),
            port,
        }
    }

    #[test]
    fn unit_file_is_pinned() {
        let unit = render_unit(&spec(10022));
        assert!(unit.starts_with(PINNED_UNIT), "{unit}");
        assert!(unit.ends_with("[Install]\nWantedBy=multi-user.target\n"));
        assert_eq!(unit, render_unit(&spec(10022)), "deterministic");
    }

    #[test]
    fn unit_file_hardening_keeps_the_docker_socket_usable() {
        let unit = render_unit(&spec(10022));
        for line in [
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "CapabilityBoundingSet=",
            "RestrictAddressFamilies=AF_UNIX",
            "SupplementaryGroups=docker",
        ] {
            assert!(unit.lines().any(|l| l == line), "missing {line}");
        }
        assert!(!unit.contains("--cap-add=KILL"));
        assert!(!unit.contains("NET_BIND_SERVICE"));
    }

    #[test]
    fn privileged_port_adds_net_bind_service_only() {
        let unit = render_unit(&spec(22));
        assert!(unit.contains("--cap-add=SETGID --cap-add=NET_BIND_SERVICE --security-opt"));
        assert!(unit.contains(" -p 22 -k /keys\n"));
        assert!(!render_unit(&spec(1024)).contains("NET_BIND_SERVICE"));
    }

    #[test]
    fn ipv6_host_is_passed_verbatim() {
        let unit = render_unit(&UnitSpec {
            host: "2001:db8::5".parse().unwrap(),
            ..spec(10022)
        });
        assert!(unit.contains(" -A -h 2001:db8::5 -p 10022 -k /keys\n"));
    }

    fn proxies(http: Option<&str>, https: Option<&str>, no: Option<&str>) -> Proxies {
        Proxies {
            http: http.map(Into::into),
            https: https.map(Into::into),
            no_proxy: no.map(Into::into),
        }
    }

    #[test]
    fn daemon_json_fresh_is_pinned() {
        let p = proxies(
            Some("http://squid:3128"),
            Some("http://squid:3128"),
            Some("127.0.0.1,localhost"),
        );
        assert_eq!(
            render_daemon_json(None, &p).unwrap().unwrap(),
            "{\n  \"proxies\": {\n    \"http-proxy\": \"http://squid:3128\",\n    \"https-proxy\": \"http://squid:3128\",\n    \"no-proxy\": \"127.0.0.1,localhost\"\n  }\n}\n"
        );
    }

    #[test]
    fn daemon_json_only_sets_present_proxies() {
        let p = proxies(None, Some("http://s:1"), None);
        assert_eq!(
            render_daemon_json(None, &p).unwrap().unwrap(),
            "{\n  \"proxies\": {\n    \"https-proxy\": \"http://s:1\"\n  }\n}\n"
        );
    }

    #[test]
    fn daemon_json_no_proxies_and_no_file_writes_nothing() {
        assert_eq!(render_daemon_json(None, &Proxies::default()), Ok(None));
    }

    #[test]
    fn daemon_json_merges_other_keys_and_is_idempotent() {
        let existing =
            "{\"log-driver\": \"journald\", \"proxies\": {\"http-proxy\": \"http://old:1\"}}";
        let p = proxies(Some("http://new:2"), None, None);
        let merged = render_daemon_json(Some(existing), &p).unwrap().unwrap();
        assert_eq!(
            merged,
            "{\n  \"log-driver\": \"journald\",\n  \"proxies\": {\n    \"http-proxy\": \"http://new:2\"\n  }\n}\n"
        );
        assert_eq!(render_daemon_json(Some(&merged), &p), Ok(None));
        // Same content, different formatting: still no rewrite.
        let compact = "{\"proxies\":{\"http-proxy\":\"http://new:2\"},\"log-driver\":\"journald\"}";
        assert_eq!(render_daemon_json(Some(compact), &p), Ok(None));
    }

    #[test]
    fn daemon_json_removes_stale_proxies_but_keeps_the_rest() {
        let existing =
            "{\"log-driver\": \"journald\", \"proxies\": {\"http-proxy\": \"http://old:1\"}}";
        let out = render_daemon_json(Some(existing), &Proxies::default())
            .unwrap()
            .unwrap();
        assert_eq!(out, "{\n  \"log-driver\": \"journald\"\n}\n");
        assert_eq!(
            render_daemon_json(Some("{\"a\": 1}"), &Proxies::default()),
            Ok(None)
        );
    }

    #[test]
    fn daemon_json_garbage_is_refused_not_clobbered() {
        let p = proxies(Some("http://s:1"), None, None);
        assert_eq!(
            render_daemon_json(Some("[1]"), &p),
            Err(DaemonJsonError::NotAnObject)
        );
        let err = render_daemon_json(Some("{oops"), &p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not valid JSON (key must be a string at line 1 column 2)"
        );
    }

    /// Runs a tool the test needs; a missing tool fails the test.
    fn tool(program: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
        std::process::Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program} must be installed (apt install systemd): {e}"))
    }

    /// Writes the unit into a temporary directory next to a stub `docker.service`, with the
    /// Docker CLI path pointing at a stub executable (this machine has no Docker).
    fn unit_in_tempdir(unit: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("docker");
        std::fs::write(&docker, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
        let docker = docker.to_str().unwrap();
        std::fs::write(
            dir.path().join("docker.service"),
            format!("[Unit]\nDescription=stub\n[Service]\nExecStart={docker}\n"),
        )
        .unwrap();
        let path = dir.path().join("tmate-ssh-server.service");
        std::fs::write(&path, unit.replace(DOCKER_BIN, docker)).unwrap();
        (dir, path)
    }

    #[test]
    fn systemd_analyze_verify_accepts_the_unit() {
        for port in [10022, 22] {
            let (_dir, path) = unit_in_tempdir(&render_unit(&spec(port)));
            let out = tool("systemd-analyze", &["verify".as_ref(), path.as_os_str()]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.trim().is_empty(),
                "port {port}: {stderr}"
            );
        }
    }

    #[test]
    fn systemd_analyze_security_rates_the_unit_safe() {
        /// `systemd-analyze security` calls anything up to 1.9 "SAFE"; keep well inside it.
        const MAX_EXPOSURE: f64 = 1.0;
        let (_dir, path) = unit_in_tempdir(&render_unit(&spec(10022)));
        let out = tool(
            "systemd-analyze",
            &[
                "security".as_ref(),
                "--offline=yes".as_ref(),
                path.as_os_str(),
            ],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let exposure: f64 = stdout
            .lines()
            .find_map(|l| l.split_once("Overall exposure level for tmate-ssh-server.service: "))
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level in: {stdout}"));
        assert!(exposure <= MAX_EXPOSURE, "exposure {exposure}:\n{stdout}");
    }
}
