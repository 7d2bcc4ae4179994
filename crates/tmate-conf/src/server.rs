//! The four settings that point a tmate client at a server.

use std::net::IpAddr;

use crate::{Error, Fingerprint, Host, Result};

/// Option holding the server host (`options-table.c`).
pub const HOST_OPTION: &str = "tmate-server-host";
/// Option holding the server port (`options-table.c`).
pub const PORT_OPTION: &str = "tmate-server-port";
/// Option holding the expected RSA host key fingerprint (`options-table.c`).
pub const RSA_FINGERPRINT_OPTION: &str = "tmate-server-rsa-fingerprint";
/// Option holding the expected Ed25519 host key fingerprint (`options-table.c`).
pub const ED25519_FINGERPRINT_OPTION: &str = "tmate-server-ed25519-fingerprint";

/// The settings a tmate client needs to use a self-hosted server: host, port and the
/// fingerprints of both host keys.
///
/// Every field is validated on construction, so a `ServerConfig` always renders to a
/// config the client reads back with the same values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerConfig {
    host: Host,
    port: u16,
    rsa_fingerprint: Fingerprint,
    ed25519_fingerprint: Fingerprint,
}

impl ServerConfig {
    /// Validates and builds a config from text, as it arrives from a CLI or a relation.
    ///
    /// Fingerprints must be SHA-256 (`SHA256:` + 43 base64 characters); for legacy
    /// `MD5:` fingerprints parse them with [`Fingerprint::parse_allow_md5`] and use
    /// [`ServerConfig::from_parts`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHost`], [`Error::InvalidPort`] (port 0) or
    /// [`Error::InvalidFingerprint`].
    pub fn new(
        host: &str,
        port: u16,
        rsa_fingerprint: &str,
        ed25519_fingerprint: &str,
    ) -> Result<Self> {
        Self::from_parts(
            host.parse()?,
            port,
            rsa_fingerprint.parse()?,
            ed25519_fingerprint.parse()?,
        )
    }

    /// Builds a config from already-parsed parts.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPort`] if `port` is 0.
    pub fn from_parts(
        host: Host,
        port: u16,
        rsa_fingerprint: Fingerprint,
        ed25519_fingerprint: Fingerprint,
    ) -> Result<Self> {
        if port == 0 {
            return Err(Error::InvalidPort {
                port: port.to_string(),
                reason: "must be between 1 and 65535",
            });
        }
        Ok(Self {
            host,
            port,
            rsa_fingerprint,
            ed25519_fingerprint,
        })
    }

    /// The server host (`tmate-server-host`).
    #[must_use]
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The server host's IP address, if the host is an IP literal.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.ip()
    }

    /// The server port (`tmate-server-port`), never 0.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The RSA host key fingerprint (`tmate-server-rsa-fingerprint`).
    #[must_use]
    pub fn rsa_fingerprint(&self) -> &Fingerprint {
        &self.rsa_fingerprint
    }

    /// The Ed25519 host key fingerprint (`tmate-server-ed25519-fingerprint`).
    #[must_use]
    pub fn ed25519_fingerprint(&self) -> &Fingerprint {
        &self.ed25519_fingerprint
    }

    /// The four `(option, value)` pairs in the order they are rendered.
    ///
    /// Fingerprints are given as [`Fingerprint::to_option_value`]: a legacy MD5 one as the
    /// bare colon-separated hex that tmate clients up to 2.2.1 compare.
    #[must_use]
    pub fn options(&self) -> [(&'static str, String); 4] {
        [
            (HOST_OPTION, self.host.to_string()),
            (PORT_OPTION, self.port.to_string()),
            (
                RSA_FINGERPRINT_OPTION,
                self.rsa_fingerprint.to_option_value(),
            ),
            (
                ED25519_FINGERPRINT_OPTION,
                self.ed25519_fingerprint.to_option_value(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = "SHA256:Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs";
    const ED25519: &str = "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI";

    #[test]
    fn validates_every_field() {
        let cfg = ServerConfig::new("10.0.0.5", 10022, RSA, ED25519).unwrap();
        assert_eq!(cfg.port(), 10022);
        assert_eq!(cfg.host().to_string(), "10.0.0.5");
        assert_eq!(cfg.rsa_fingerprint().to_string(), RSA);
        assert_eq!(cfg.ed25519_fingerprint().to_string(), ED25519);
        assert!(ServerConfig::new("bad host", 1, RSA, ED25519).is_err());
        assert!(ServerConfig::new("h", 1, "MD5:00", ED25519).is_err());
        assert!(ServerConfig::new("h", 1, RSA, "").is_err());
        assert_eq!(
            ServerConfig::new("h", 0, RSA, ED25519)
                .unwrap_err()
                .to_string(),
            "invalid port \"0\": must be between 1 and 65535"
        );
    }

    /// A config for a pre-2.3 client (MD5 fingerprints) renders what that client compares:
    /// `MD5:...` would never match (tmate 2.2 `tmate-ssh-client.c` compares bare hex).
    #[test]
    fn md5_fingerprints_render_as_bare_hex() {
        let rsa = "af:2d:81:c1:fe:49:70:2d:7f:09:a9:d7:4b:32:e3:be";
        let ed25519 = "0f:1e:2d:3c:4b:5a:69:78:87:96:a5:b4:c3:d2:e1:f0";
        let cfg = ServerConfig::from_parts(
            "10.0.0.5".parse().unwrap(),
            22,
            Fingerprint::parse_allow_md5(&format!("MD5:{rsa}")).unwrap(),
            Fingerprint::parse_allow_md5(&format!("MD5:{ed25519}")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            crate::render(&cfg),
            format!(
                "set -g tmate-server-host 10.0.0.5\nset -g tmate-server-port 22\n\
                 set -g tmate-server-rsa-fingerprint {rsa}\n\
                 set -g tmate-server-ed25519-fingerprint {ed25519}\n"
            )
        );
        // SHA-256 ones keep their prefix, which the 2.3+ clients compare.
        let cfg = ServerConfig::new("h", 1, RSA, ED25519).unwrap();
        assert_eq!(cfg.options()[2].1, RSA);
        assert_eq!(cfg.options()[3].1, ED25519);
    }
}
