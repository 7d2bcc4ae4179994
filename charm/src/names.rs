//! Every name and number the charm shares with Juju, the host or the workload, defined once.

use std::time::Duration;

/// The relation endpoint the charm provides (`metadata.yaml`).
pub(crate) const DEBUG_SSH_ENDPOINT: &str = "debug-ssh";
/// The binding whose address the server is reachable on (as the Python charm used).
pub(crate) const ADDRESS_BINDING: &str = "juju-info";
/// The one action (`actions.yaml`).
pub(crate) const GET_SERVER_CONFIG_ACTION: &str = "get-server-config";

/// Config option: the listening port (`config.yaml`).
pub(crate) const OPTION_PORT: &str = "port";
/// Config option: the OCI image of the server (`config.yaml`).
pub(crate) const OPTION_IMAGE: &str = "image";
/// Config option: an IP literal published instead of the bind address (`config.yaml`).
pub(crate) const OPTION_EXTERNAL_ADDRESS: &str = "external-address";
/// Default of [`OPTION_PORT`], the port the Python charm used.
pub(crate) const DEFAULT_PORT: u16 = 10022;
/// Default of [`OPTION_IMAGE`], the image the Python charm ran.
pub(crate) const DEFAULT_IMAGE: &str = "ghcr.io/canonical/tmate-ssh-server:0.1.1";

/// Unit databag key: the host clients connect to (consumers require an IP literal).
pub(crate) const RELATION_HOST: &str = "host";
/// Unit databag key: the port, as a decimal string.
pub(crate) const RELATION_PORT: &str = "port";
/// Unit databag key: the RSA host key fingerprint, `SHA256:...`.
pub(crate) const RELATION_RSA_FINGERPRINT: &str = "rsa_fingerprint";
/// Unit databag key: the Ed25519 host key fingerprint, `SHA256:...`.
pub(crate) const RELATION_ED25519_FINGERPRINT: &str = "ed25519_fingerprint";

/// Action result key: the four `set -g` lines of a `.tmate.conf`.
pub(crate) const RESULT_TMATE_CONFIG: &str = "tmate-config";
/// Action result key: the host.
pub(crate) const RESULT_HOST: &str = "host";
/// Action result key: the port.
pub(crate) const RESULT_PORT: &str = "port";
/// Action result key: the RSA fingerprint.
pub(crate) const RESULT_RSA_FINGERPRINT: &str = "rsa-fingerprint";
/// Action result key: the Ed25519 fingerprint.
pub(crate) const RESULT_ED25519_FINGERPRINT: &str = "ed25519-fingerprint";
/// Action failure when the unit has no address (same text as the Python charm).
pub(crate) const ACTION_NO_ADDRESS: &str = "Host address not ready yet.";
/// Action failure when the host keys do not exist yet.
pub(crate) const ACTION_NO_KEYS: &str = "Host keys not generated yet.";

/// Charm state key holding the JSON record of what the last successful reconcile applied.
pub(crate) const STATE_APPLIED: &str = "applied";

/// Root under which every host path lives (tests point it at a temporary directory).
pub(crate) const ENV_CHARM_ROOT: &str = "TMATE_CHARM_ROOT";
/// Test knob, absent under Juju: caps the deadline of every host command and hook tool call at
/// this many seconds, so tests of hanging tools need not wait for the real deadlines below.
pub(crate) const ENV_COMMAND_TIMEOUT_CAP: &str = "TMATE_CHARM_COMMAND_TIMEOUT_CAP";
/// Model HTTP proxy (always exported by Juju, possibly empty).
pub(crate) const ENV_HTTP_PROXY: &str = "JUJU_CHARM_HTTP_PROXY";
/// Model HTTPS proxy (always exported by Juju, possibly empty).
pub(crate) const ENV_HTTPS_PROXY: &str = "JUJU_CHARM_HTTPS_PROXY";
/// Model no-proxy list (always exported by Juju, possibly empty).
pub(crate) const ENV_NO_PROXY: &str = "JUJU_CHARM_NO_PROXY";

/// The package providing the Docker engine and CLI.
pub(crate) const DOCKER_PACKAGE: &str = "docker.io";
/// The Docker engine's unit, restarted after its proxy settings change.
pub(crate) const DOCKER_SERVICE: &str = "docker.service";
/// The Docker daemon configuration file.
pub(crate) const DOCKER_DAEMON_JSON: &str = "/etc/docker/daemon.json";
/// The Docker CLI, by absolute path (systemd-analyze verify wants absolute paths).
pub(crate) const DOCKER_BIN: &str = "/usr/bin/docker";

/// The systemd unit running the container (same name as the Python charm's unit).
pub(crate) const SERVICE: &str = "tmate-ssh-server.service";
/// Where [`SERVICE`] lives.
pub(crate) const SERVICE_PATH: &str = "/etc/systemd/system/tmate-ssh-server.service";
/// The container's stable name (the Python charm used random ones).
pub(crate) const CONTAINER_NAME: &str = "tmate-ssh-server";
/// Image prefix of the containers the Python charm left behind.
pub(crate) const LEGACY_IMAGE_PREFIX: &str = "ghcr.io/canonical/tmate-ssh-server";

/// The host keys the server loads (mounted read-only into the container).
pub(crate) const KEYS_DIR: &str = "/var/lib/tmate-ssh-server/keys";
/// The Python charm's key directory, adopted on upgrade so fingerprints survive `juju refresh`.
pub(crate) const LEGACY_KEYS_DIR: &str = "/home/ubuntu/keys";
/// The lock serialising concurrent dispatch runs.
pub(crate) const LOCK_PATH: &str = "/var/lib/tmate-ssh-server/dispatch.lock";
/// Where the keys directory appears inside the container.
pub(crate) const CONTAINER_KEYS_DIR: &str = "/keys";
/// The server binary inside the image.
pub(crate) const CONTAINER_ENTRYPOINT: &str = "/srv/tmate-ssh-server/tmate-ssh-server";

/// Deadline of a hook tool call.
pub(crate) const HOOK_TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// Deadline of a `systemctl` call (a restart waits for `docker stop`, 10 s grace by default).
pub(crate) const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(120);
/// Deadline of a `docker` or `dpkg-query` call.
pub(crate) const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);
/// Deadline of `apt-get update` (index files only: small downloads).
///
/// With [`APT_INSTALL_TIMEOUT`] it keeps the install hook well under 10 minutes (issue 4: waits
/// inside a hook are short and bounded). A slow mirror costs a failed hook, not a stuck agent:
/// Juju retries the hook with backoff, and apt keeps what it fetched (lists in
/// `/var/lib/apt/lists`, `.deb`s in `/var/cache/apt/archives`, partial files resumed), so each
/// retry continues where the last one was killed.
pub(crate) const APT_UPDATE_TIMEOUT: Duration = Duration::from_secs(2 * 60);
/// Deadline of `apt-get install docker.io` (tens of MB of packages, then unpacking); see
/// [`APT_UPDATE_TIMEOUT`] for why it is short and why a retry resumes the download.
pub(crate) const APT_INSTALL_TIMEOUT: Duration = Duration::from_secs(5 * 60);
// Both apt-get runs together leave room under 10 minutes for everything else in the hook.
const _: () = assert!(APT_UPDATE_TIMEOUT.as_secs() + APT_INSTALL_TIMEOUT.as_secs() <= 7 * 60);
/// How long a run waits for another run's lock before giving up (Juju then retries).
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(60);
