//! The `get-server-config` action: reads, never writes.

use tmate_conf::{Host as ConfHost, ServerConfig};

use crate::config::CharmConfig;
use crate::error::Error;
use crate::host::Host;
use crate::juju::HookTools;
use crate::names::{
    ACTION_NO_ADDRESS, ACTION_NO_KEYS, KEYS_DIR, RESULT_ED25519_FINGERPRINT, RESULT_HOST,
    RESULT_PORT, RESULT_RSA_FINGERPRINT, RESULT_TMATE_CONFIG,
};
use crate::reconcile::bind_address;

/// Returns the `.tmate.conf` lines and their parts, or fails the action with a clear message
/// when the unit is not ready. Mutates nothing; prints nothing.
///
/// # Errors
///
/// Only unexpected errors (a hook tool failing).
pub(crate) fn get_server_config(juju: &impl HookTools, host: &impl Host) -> Result<(), Error> {
    let config = match CharmConfig::from_map(&juju.config_get()?) {
        Ok(config) => config,
        Err(err) => return Ok(juju.action_fail(&err.to_string())?),
    };
    let address = match config.external_address {
        Some(address) => Some(address),
        None => bind_address(juju)?,
    };
    let Some(address) = address else {
        return Ok(juju.action_fail(ACTION_NO_ADDRESS)?);
    };
    let keys = match host.load_keys(KEYS_DIR) {
        Ok(Some(keys)) => keys,
        Ok(None) => return Ok(juju.action_fail(ACTION_NO_KEYS)?),
        Err(err) => return Ok(juju.action_fail(&err.to_string())?),
    };
    let server = match (keys.rsa.parse(), keys.ed25519.parse()) {
        (Ok(rsa), Ok(ed25519)) => {
            ServerConfig::from_parts(ConfHost::from(address), config.port, rsa, ed25519)
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let server = match server {
        Ok(server) => server,
        Err(err) => return Ok(juju.action_fail(&format!("cannot render the tmate config: {err}"))?),
    };
    let text = tmate_conf::render_action(&server);
    let host_text = address.to_string();
    let port_text = config.port.to_string();
    juju.action_set(&[
        (RESULT_TMATE_CONFIG, &text),
        (RESULT_HOST, &host_text),
        (RESULT_PORT, &port_text),
        (RESULT_RSA_FINGERPRINT, &keys.rsa),
        (RESULT_ED25519_FINGERPRINT, &keys.ed25519),
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ED25519_FP, ED25519_PUB, FakeHost, FakeJuju, RSA_FP, RSA_PUB};
    use serde_json::json;

    fn ready() -> (FakeJuju, FakeHost) {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        host.put_keys(KEYS_DIR, RSA_PUB, ED25519_PUB);
        (juju, host)
    }

    fn results(juju: &FakeJuju) -> Vec<(String, String)> {
        juju.model.borrow().results.clone()
    }

    #[test]
    fn returns_the_four_lines_byte_compatible_with_the_python_charm() {
        let (juju, host) = ready();
        get_server_config(&juju, &host).unwrap();
        let want = "\nset -g tmate-server-host 10.0.0.5\nset -g tmate-server-port 10022\nset -g tmate-server-rsa-fingerprint SHA256:1Neuli53oIX7kZTebWXDFLos6/K0OBursvMZjtdOEfk\nset -g tmate-server-ed25519-fingerprint SHA256:5b2eNkzcK2J7wuSL9cvvCwnh7zlMjzfOz4Z8uniyxTI\n";
        assert_eq!(
            results(&juju),
            vec![
                ("tmate-config".to_owned(), want.to_owned()),
                ("host".to_owned(), "10.0.0.5".to_owned()),
                ("port".to_owned(), "10022".to_owned()),
                ("rsa-fingerprint".to_owned(), RSA_FP.to_owned()),
                ("ed25519-fingerprint".to_owned(), ED25519_FP.to_owned()),
            ]
        );
        assert_eq!(juju.model.borrow().failure, None);
        assert!(host.changes().is_empty(), "the action mutates nothing");
        assert_eq!(
            juju.calls(),
            vec!["config-get", "network-get", "action-set"]
        );
    }

    #[test]
    fn uses_the_configured_port_and_external_address() {
        let (juju, host) = ready();
        juju.model
            .borrow_mut()
            .config
            .insert("port".into(), json!(2222));
        juju.model
            .borrow_mut()
            .config
            .insert("external-address".into(), json!("2001:db8::9"));
        get_server_config(&juju, &host).unwrap();
        let text = &results(&juju)[0].1;
        assert!(
            text.starts_with(
                "\nset -g tmate-server-host 2001:db8::9\nset -g tmate-server-port 2222\n"
            ),
            "{text}"
        );
        assert!(!juju.calls().contains(&"network-get".to_owned()));
    }

    #[test]
    fn fails_clearly_without_an_address() {
        let (juju, host) = ready();
        juju.set_address(None);
        get_server_config(&juju, &host).unwrap();
        assert_eq!(
            juju.model.borrow().failure.as_deref(),
            Some("Host address not ready yet.")
        );
        assert!(results(&juju).is_empty());
    }

    #[test]
    fn fails_clearly_without_keys() {
        let juju = FakeJuju::with_address("10.0.0.5");
        let host = FakeHost::default();
        get_server_config(&juju, &host).unwrap();
        assert_eq!(
            juju.model.borrow().failure.as_deref(),
            Some("Host keys not generated yet.")
        );
        assert!(
            host.changes().is_empty(),
            "no key is generated by the action"
        );
    }

    #[test]
    fn fails_clearly_on_a_corrupt_key_or_invalid_config() {
        let (juju, host) = ready();
        host.put(
            "/var/lib/tmate-ssh-server/keys/ssh_host_ed25519_key",
            "junk",
        );
        get_server_config(&juju, &host).unwrap();
        assert_eq!(
            juju.model.borrow().failure.as_deref(),
            Some(
                "host key problem: /var/lib/tmate-ssh-server/keys/ssh_host_ed25519_key: not an OpenSSH private key"
            )
        );
        let (juju, host) = ready();
        juju.model
            .borrow_mut()
            .config
            .insert("port".into(), json!(70000));
        get_server_config(&juju, &host).unwrap();
        assert_eq!(
            juju.model.borrow().failure.as_deref(),
            Some("invalid config option \"port\": 70000 is not a TCP port (1-65535)")
        );
    }
}
