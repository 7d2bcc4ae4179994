//! Validated charm configuration and model proxy settings.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::context::ProxyEnv;
use crate::names::{
    DEFAULT_IMAGE, DEFAULT_PORT, ENV_HTTP_PROXY, ENV_HTTPS_PROXY, ENV_NO_PROXY,
    OPTION_EXTERNAL_ADDRESS, OPTION_IMAGE, OPTION_PORT,
};

/// An invalid config option (operator-fixable: the unit goes `blocked`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid config option {option:?}: {reason}")]
pub(crate) struct ConfigError {
    /// The option's name.
    pub(crate) option: &'static str,
    /// What is wrong with it.
    pub(crate) reason: String,
}

/// An invalid model proxy setting (operator-fixable: the unit goes `blocked`). The value is not
/// repeated: a proxy URL may carry credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid model proxy setting {variable}: {reason}")]
pub(crate) struct ProxyError {
    /// The environment variable.
    pub(crate) variable: &'static str,
    /// What is wrong with it.
    pub(crate) reason: String,
}

/// The charm's validated configuration (`config.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CharmConfig {
    /// Port the server listens on and publishes.
    pub(crate) port: u16,
    /// OCI image reference of the server.
    pub(crate) image: String,
    /// An IP literal published instead of the bind address.
    pub(crate) external_address: Option<IpAddr>,
}

impl CharmConfig {
    /// Validates `config-get --format=json` output; a missing option takes its default.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first invalid option.
    pub(crate) fn from_map(map: &Map<String, Value>) -> Result<CharmConfig, ConfigError> {
        let invalid = |option, reason: String| ConfigError { option, reason };
        let port = match map.get(OPTION_PORT) {
            None | Some(Value::Null) => DEFAULT_PORT,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n != 0)
                .ok_or_else(|| invalid(OPTION_PORT, format!("{n} is not a TCP port (1-65535)")))?,
            Some(other) => return Err(invalid(OPTION_PORT, format!("{other} is not an integer"))),
        };
        let image = match map.get(OPTION_IMAGE) {
            None | Some(Value::Null) => DEFAULT_IMAGE.to_owned(),
            Some(Value::String(s)) if s.is_empty() => DEFAULT_IMAGE.to_owned(),
            Some(Value::String(s)) => {
                validate_image(s).map_err(|reason| invalid(OPTION_IMAGE, reason))?;
                s.clone()
            }
            Some(other) => return Err(invalid(OPTION_IMAGE, format!("{other} is not a string"))),
        };
        let external_address = match map.get(OPTION_EXTERNAL_ADDRESS) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim().parse::<IpAddr>().map_err(|_| {
                invalid(
                    OPTION_EXTERNAL_ADDRESS,
                    format!("{s:?} is not an IPv4 or IPv6 address"),
                )
            })?),
            Some(other) => {
                return Err(invalid(
                    OPTION_EXTERNAL_ADDRESS,
                    format!("{other} is not a string"),
                ));
            }
        };
        Ok(CharmConfig {
            port,
            image,
            external_address,
        })
    }
}

/// Checks an OCI image reference: `[registry[:port]/]path[:tag][@digest]`, per the
/// distribution reference grammar, which in particular rules out whitespace, shell
/// metacharacters, systemd specifiers (`%`, `$`) and a leading `-` (a docker flag).
fn validate_image(image: &str) -> Result<(), String> {
    const MAX_LEN: usize = 255;
    if image.len() > MAX_LEN {
        return Err(format!("longer than {MAX_LEN} characters"));
    }
    if let Some(c) = image
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "./:@_-".contains(*c)))
    {
        return Err(format!(
            "{image:?} is not an image reference (character {c:?} not allowed)"
        ));
    }
    let not_ref = |why: &str| format!("{image:?} is not an image reference ({why})");
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let (algorithm, hex) = digest
            .split_once(':')
            .ok_or_else(|| not_ref("digest needs algorithm:hex"))?;
        let algorithm_ok = algorithm.starts_with(|c: char| c.is_ascii_alphabetic())
            && algorithm
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c));
        if !algorithm_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(not_ref("malformed digest"));
        }
    }
    // A tag follows the last ':' unless that ':' belongs to a registry port ("host:5000/x").
    let (name, tag) = match name_tag.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (name_tag, None),
    };
    if let Some(tag) = tag {
        let tag_ok = tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !tag_ok {
            return Err(not_ref("malformed tag"));
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 {
        let first = components[0];
        if first.contains(['.', ':']) || first == "localhost" {
            let (host, port) = match first.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (first, None),
            };
            let host_ok = !host.is_empty()
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            let port_ok = port.is_none_or(|p| {
                !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit())
            });
            if !host_ok || !port_ok {
                return Err(not_ref("malformed registry"));
            }
            components.remove(0);
        }
    }
    for component in components {
        let ok = component.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && component.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && component
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !ok {
            return Err(not_ref(
                "repository path components are lowercase letters, digits and . _ -",
            ));
        }
    }
    Ok(())
}

/// Validated model proxy settings; `None` means unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Proxies {
    /// HTTP proxy URL.
    pub(crate) http: Option<String>,
    /// HTTPS proxy URL.
    pub(crate) https: Option<String>,
    /// Comma-separated hosts/domains/CIDRs that bypass the proxies.
    pub(crate) no_proxy: Option<String>,
}

impl Proxies {
    /// Validates the raw `JUJU_CHARM_*_PROXY` values (empty means unset).
    ///
    /// # Errors
    ///
    /// [`ProxyError`] naming the first invalid variable.
    pub(crate) fn from_env(env: &ProxyEnv) -> Result<Proxies, ProxyError> {
        let url = |variable, value: &str| -> Result<Option<String>, ProxyError> {
            let value = value.trim();
            if value.is_empty() {
                return Ok(None);
            }
            validate_proxy_url(value).map_err(|reason| ProxyError { variable, reason })?;
            Ok(Some(value.to_owned()))
        };
        let http = url(ENV_HTTP_PROXY, &env.http)?;
        let https = url(ENV_HTTPS_PROXY, &env.https)?;
        let no_proxy = env.no_proxy.trim();
        let no_proxy = if no_proxy.is_empty() {
            None
        } else {
            let bad = no_proxy.split(',').map(str::trim).any(|entry| {
                entry
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "\"'\\;".contains(c))
            });
            if bad {
                return Err(ProxyError {
                    variable: ENV_NO_PROXY,
                    reason: "expected a comma-separated list of hosts, domains or CIDRs".to_owned(),
                });
            }
            Some(no_proxy.to_owned())
        };
        Ok(Proxies {
            http,
            https,
            no_proxy,
        })
    }

    /// Whether the model sets no proxy at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none() && self.no_proxy.is_none()
    }

    /// The proxy environment for child processes (`apt-get`): lower- and upper-case names.
    pub(crate) fn env_vars(&self) -> Vec<(&'static str, &str)> {
        let mut vars = Vec::new();
        for (names, value) in [
            (["http_proxy", "HTTP_PROXY"], &self.http),
            (["https_proxy", "HTTPS_PROXY"], &self.https),
            (["no_proxy", "NO_PROXY"], &self.no_proxy),
        ] {
            if let Some(value) = value {
                for name in names {
                    vars.push((name, value.as_str()));
                }
            }
        }
        vars
    }
}

/// `http[s]://[user[:password]@]host[:port][/]` - what Docker and apt accept.
fn validate_proxy_url(url: &str) -> Result<(), String> {
    const EXPECTED: &str = "expected http://host[:port] or https://host[:port]";
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("not an http or https URL ({EXPECTED})"))?;
    if rest
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "\"'\\<>`".contains(c))
    {
        return Err(format!("contains whitespace or quotes ({EXPECTED})"));
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err(format!("has a path, query or fragment ({EXPECTED})"));
    }
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (v6, after) = bracketed
            .split_once(']')
            .ok_or_else(|| format!("unclosed '[' ({EXPECTED})"))?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("malformed IPv6 host ({EXPECTED})"));
        }
        match after {
            "" => (v6, None),
            _ => (
                v6,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| format!("malformed port ({EXPECTED})"))?,
                ),
            ),
        }
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c))
    {
        return Err(format!("missing or malformed host ({EXPECTED})"));
    }
    if let Some(port) = port
        && !matches!(port.parse::<u16>(), Ok(p) if p != 0)
    {
        return Err(format!("malformed port ({EXPECTED})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: serde_json::Value) -> Result<CharmConfig, ConfigError> {
        CharmConfig::from_map(value.as_object().unwrap())
    }

    #[test]
    fn defaults() {
        let c = config(json!({})).unwrap();
        assert_eq!(
            c,
            CharmConfig {
                port: 10022,
                image: DEFAULT_IMAGE.into(),
                external_address: None
            }
        );
        let c = config(json!({"port": 10022, "image": "", "external-address": ""})).unwrap();
        assert_eq!(c.image, DEFAULT_IMAGE);
        assert_eq!(c.external_address, None);
    }

    #[test]
    fn valid_values() {
        let c = config(json!({"port": 2222, "image": "localhost:5000/tmate/server@sha256:0123456789abcdef0123456789abcdef", "external-address": "203.0.113.9"})).unwrap();
        assert_eq!(c.port, 2222);
        assert_eq!(c.external_address, Some("203.0.113.9".parse().unwrap()));
        let c = config(json!({"external-address": "2001:db8::1"})).unwrap();
        assert_eq!(c.external_address, Some("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn invalid_port_names_the_option() {
        for (value, reason) in [
            (json!(0), "0 is not a TCP port (1-65535)"),
            (json!(65536), "65536 is not a TCP port (1-65535)"),
            (json!(-1), "-1 is not a TCP port (1-65535)"),
            (json!(1.5), "1.5 is not a TCP port (1-65535)"),
            (json!("22"), "\"22\" is not an integer"),
        ] {
            let err = config(json!({ "port": value })).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid config option \"port\": {reason}")
            );
        }
    }

    #[test]
    fn image_references() {
        for ok in [
            "ghcr.io/canonical/tmate-ssh-server:0.1.1",
            "tmate/tmate-ssh-server",
            "ubuntu",
            "registry.example.com:5000/a/b_c__d.e-f:v1.2_rc",
            "ghcr.io/x/y@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert_eq!(validate_image(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ghcr.io/x y",
            "x;rm -rf /",
            "$(id)",
            "-v/:/host",
            "Ghcr.io/Upper/Case",
            "x:tag with space",
            "x:%n",
            "x:",
            "x@sha256:zz",
            "/leading",
            "a//b",
        ] {
            assert!(validate_image(bad).is_err(), "{bad}");
        }
        let err = config(json!({"image": "x|y"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid config option \"image\": \"x|y\" is not an image reference (character '|' not allowed)"
        );
    }

    #[test]
    fn invalid_external_address() {
        let err = config(json!({"external-address": "tmate.example.com"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid config option \"external-address\": \"tmate.example.com\" is not an IPv4 or IPv6 address"
        );
    }

    fn proxies(http: &str, https: &str, no: &str) -> Result<Proxies, ProxyError> {
        Proxies::from_env(&ProxyEnv {
            http: http.into(),
            https: https.into(),
            no_proxy: no.into(),
        })
    }

    #[test]
    fn proxies_empty_means_unset() {
        assert_eq!(proxies("", " ", "").unwrap(), Proxies::default());
        assert!(Proxies::default().env_vars().is_empty());
    }

    #[test]
    fn valid_proxies_and_their_environment() {
        let p = proxies(
            "http://squid.internal:3128",
            "http://user:pw@[2001:db8::1]:8080/",
            "127.0.0.1,.internal,10.0.0.0/8",
        )
        .unwrap();
        assert_eq!(
            p.https.as_deref(),
            Some("http://user:pw@[2001:db8::1]:8080/")
        );
        assert_eq!(
            p.env_vars(),
            vec![
                ("http_proxy", "http://squid.internal:3128"),
                ("HTTP_PROXY", "http://squid.internal:3128"),
                ("https_proxy", "http://user:pw@[2001:db8::1]:8080/"),
                ("HTTPS_PROXY", "http://user:pw@[2001:db8::1]:8080/"),
                ("no_proxy", "127.0.0.1,.internal,10.0.0.0/8"),
                ("NO_PROXY", "127.0.0.1,.internal,10.0.0.0/8"),
            ]
        );
    }

    #[test]
    fn invalid_proxy_names_the_variable_but_not_the_value() {
        let err = proxies("squid:3128", "", "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid model proxy setting JUJU_CHARM_HTTP_PROXY: not an http or https URL (expected http://host[:port] or https://host[:port])"
        );
        let err = proxies("", "http://u:secret@host:99999", "").unwrap_err();
        assert_eq!(err.variable, "JUJU_CHARM_HTTPS_PROXY");
        assert!(!err.to_string().contains("secret"));
        for bad in [
            "http://",
            "http://host/path",
            "http://ho st",
            "ftp://host",
            "http://[::1:3128",
            "http://host:0",
        ] {
            assert!(proxies(bad, "", "").is_err(), "{bad}");
        }
        let err = proxies("", "", "a b,c").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid model proxy setting JUJU_CHARM_NO_PROXY: expected a comma-separated list of hosts, domains or CIDRs"
        );
    }
}
