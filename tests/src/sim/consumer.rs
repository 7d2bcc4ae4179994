//! The `debug-ssh` unit data as its consumers validate it (TMATE.md "The consumers").
//!
//! - `github-runner` takes a remote unit bag only when it has all of `host`, `port`,
//!   `rsa_fingerprint`, `ed25519_fingerprint`, and blocks on invalid data: `host` must be an
//!   IP literal, `port` an integer 1..=65535, fingerprints must start with `SHA256:`;
//! - `action-tmate` validates the host against `^[a-z\d\-]+(\.[a-z\d\-]+)*$`
//!   (case-insensitive), which rejects IPv6 literals;
//! - the tmate client compares fingerprints with `strcmp`, so anything but `SHA256:` plus 43
//!   unpadded base64 characters never matches.

use std::net::IpAddr;

use super::model::Databag;

/// The four keys the requirer reads.
pub const KEYS: [&str; 4] = ["host", "port", "rsa_fingerprint", "ed25519_fingerprint"];

/// A complete, valid entry as a runner VM receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugSshEntry {
    /// `TMATE_SERVER_HOST`.
    pub host: IpAddr,
    /// `TMATE_SERVER_PORT`.
    pub port: u16,
    /// `TMATE_SERVER_RSA_FINGERPRINT`.
    pub rsa_fingerprint: String,
    /// `TMATE_SERVER_ED25519_FINGERPRINT`.
    pub ed25519_fingerprint: String,
}

/// Validates one unit databag of the `debug-ssh` relation.
///
/// Returns `Ok(None)` when none of the keys is published yet.
///
/// # Errors
///
/// A message naming the consumer rule broken; partial data is an error too (the consumer
/// silently skips it, which leaves the runner without a server).
pub fn validate(bag: &Databag) -> Result<Option<DebugSshEntry>, String> {
    let present: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|k| bag.contains_key(*k))
        .collect();
    if present.is_empty() {
        return Ok(None);
    }
    if present.len() != KEYS.len() {
        let missing: Vec<&str> = KEYS
            .iter()
            .copied()
            .filter(|k| !bag.contains_key(*k))
            .collect();
        return Err(format!(
            "incomplete debug-ssh data (github-runner skips it): missing {missing:?}"
        ));
    }
    let host_text = &bag["host"];
    let host: IpAddr = host_text
        .parse()
        .map_err(|_| format!("github-runner rejects host {host_text:?}: not an IP literal"))?;
    if !is_action_tmate_host(host_text) {
        return Err(format!(
            "action-tmate rejects host {host_text:?}: does not match ^[a-z\\d\\-]+(\\.[a-z\\d\\-]+)*$ (publish IPv4)"
        ));
    }
    let port_text = &bag["port"];
    let port = port_text
        .parse::<u16>()
        .ok()
        .filter(|p| *p >= 1 && port_text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            format!("github-runner rejects port {port_text:?}: not an integer in 1..65535")
        })?;
    for key in ["rsa_fingerprint", "ed25519_fingerprint"] {
        check_fingerprint(key, &bag[key])?;
    }
    Ok(Some(DebugSshEntry {
        host,
        port,
        rsa_fingerprint: bag["rsa_fingerprint"].clone(),
        ed25519_fingerprint: bag["ed25519_fingerprint"].clone(),
    }))
}

/// action-tmate's host rule: `^[a-z\d\-]+(\.[a-z\d\-]+)*$`, case-insensitive.
#[must_use]
pub fn is_action_tmate_host(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn check_fingerprint(key: &str, value: &str) -> Result<(), String> {
    let Some(b64) = value.strip_prefix("SHA256:") else {
        return Err(format!(
            "github-runner rejects {key} {value:?}: does not start with SHA256:"
        ));
    };
    let ok = b64.len() == 43
        && b64
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
    if !ok {
        return Err(format!(
            "tmate never matches {key} {value:?}: not 43 unpadded base64 characters"
        ));
    }
    Ok(())
}

/// Whether `text` carries private key material (which must never leave the unit).
#[must_use]
pub fn contains_secret(text: &str) -> bool {
    text.contains("PRIVATE KEY") || text.contains("b3BlbnNzaC1rZXktdjE")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "SHA256:Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs";

    fn bag(host: &str, port: &str) -> Databag {
        [
            ("host", host),
            ("port", port),
            ("rsa_fingerprint", FP),
            ("ed25519_fingerprint", FP),
            ("ingress-address", "10.0.0.5"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    #[test]
    fn accepts_ipv4_entry() {
        let entry = validate(&bag("10.0.0.5", "10022")).unwrap().unwrap();
        assert_eq!(entry.port, 10022);
        assert_eq!(entry.host.to_string(), "10.0.0.5");
    }

    #[test]
    fn rejects_what_consumers_reject() {
        assert!(
            validate(&bag("tmate.example.com", "10022"))
                .unwrap_err()
                .contains("not an IP literal")
        );
        assert!(
            validate(&bag("fd00::5", "10022"))
                .unwrap_err()
                .contains("action-tmate rejects host")
        );
        assert!(validate(&bag("None", "10022")).is_err());
        assert!(validate(&bag("10.0.0.5", "0")).is_err());
        assert!(validate(&bag("10.0.0.5", "65536")).is_err());
        assert!(validate(&bag("10.0.0.5", "+22")).is_err());
        let mut b = bag("10.0.0.5", "22");
        b.insert(
            "rsa_fingerprint".into(),
            "Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs".into(),
        );
        assert!(
            validate(&b)
                .unwrap_err()
                .contains("does not start with SHA256:")
        );
        b.remove("rsa_fingerprint");
        assert!(validate(&b).unwrap_err().contains("incomplete"));
    }

    #[test]
    fn empty_bag_is_nothing_published() {
        let b: Databag = [("ingress-address".to_owned(), "10.0.0.5".to_owned())].into();
        assert_eq!(validate(&b), Ok(None));
    }

    #[test]
    fn detects_private_keys() {
        assert!(contains_secret("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert!(!contains_secret("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
    }
}
