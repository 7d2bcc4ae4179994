//! The `tmate-server-host` value: an IP literal or a DNS name.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::{Error, Result};

/// Longest DNS name in text form, without a trailing dot (RFC 1035 section 2.3.4).
const MAX_NAME_LEN: usize = 253;
/// Longest DNS label (RFC 1035 section 2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// A server host: an IPv4 or IPv6 literal, or an RFC 1123 DNS name.
///
/// The text form is exactly what goes into `tmate-server-host`; none of the accepted
/// forms contains a character that tmux treats specially, so it never needs quoting.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 literal such as `10.0.0.5`.
    Ipv4(Ipv4Addr),
    /// An IPv6 literal such as `fd00::5` (no brackets, no zone).
    Ipv6(Ipv6Addr),
    /// A DNS name such as `tmate.example.com`, stored as given.
    Domain(String),
}

impl Host {
    /// Returns the IP address, or `None` for a DNS name.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Ipv4(ip) => Some(IpAddr::V4(*ip)),
            Self::Ipv6(ip) => Some(IpAddr::V6(*ip)),
            Self::Domain(_) => None,
        }
    }

    /// Returns `true` for an IPv4 or IPv6 literal.
    #[must_use]
    pub fn is_ip(&self) -> bool {
        self.ip().is_some()
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(ip) => Self::Ipv4(ip),
            IpAddr::V6(ip) => Self::Ipv6(ip),
        }
    }
}

impl FromStr for Host {
    type Err = Error;

    /// Parses an IP literal or an RFC 1123 DNS name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHost`] for anything else, including names with a trailing dot
    /// and names whose last label is all digits (they read as a short IPv4 form).
    fn from_str(s: &str) -> Result<Self> {
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Ok(Self::Ipv4(ip));
        }
        if let Ok(ip) = s.parse::<Ipv6Addr>() {
            return Ok(Self::Ipv6(ip));
        }
        check_dns_name(s).map_err(|reason| Error::InvalidHost {
            host: s.to_owned(),
            reason,
        })?;
        Ok(Self::Domain(s.to_owned()))
    }
}

/// Checks RFC 1123 section 2.1 host name syntax.
fn check_dns_name(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty host");
    }
    if s.len() > MAX_NAME_LEN {
        return Err("name longer than 253 characters");
    }
    if s.contains(':') {
        return Err("not a valid IPv6 address");
    }
    let mut last = "";
    for label in s.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > MAX_LABEL_LEN {
            return Err("label longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("only letters, digits, '-' and '.' are allowed in a name");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label cannot start or end with '-'");
        }
        last = label;
    }
    // See: RFC 3696 section 2 - an all-numeric top-level label is an address, not a name
    // (getaddrinfo reads "1.2.3" as 1.2.0.3).
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the last label of a name cannot be all digits");
    }
    Ok(())
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipv4(ip) => ip.fmt(f),
            Self::Ipv6(ip) => ip.fmt(f),
            Self::Domain(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ip_literals_and_names() {
        for ok in [
            "127.0.0.1",
            "::1",
            "fd00::5",
            "localhost",
            "tmate.example.com",
            "a-b.c0",
            "1host.example",
        ] {
            let host: Host = ok.parse().unwrap();
            assert_eq!(host.to_string(), ok);
        }
        assert!("10.1.2.3".parse::<Host>().unwrap().is_ip());
        assert!(!"example.com".parse::<Host>().unwrap().is_ip());
    }

    #[test]
    fn rejects_bad_hosts_with_pinned_messages() {
        let cases = [
            ("", "invalid host \"\": empty host"),
            ("a..b", "invalid host \"a..b\": empty label"),
            ("example.com.", "invalid host \"example.com.\": empty label"),
            (
                "-a.com",
                "invalid host \"-a.com\": a label cannot start or end with '-'",
            ),
            (
                "1.2.3",
                "invalid host \"1.2.3\": the last label of a name cannot be all digits",
            ),
            ("[::1]", "invalid host \"[::1]\": not a valid IPv6 address"),
            (
                "fe80::1%eth0",
                "invalid host \"fe80::1%eth0\": not a valid IPv6 address",
            ),
            (
                "a b",
                "invalid host \"a b\": only letters, digits, '-' and '.' are allowed in a name",
            ),
            (
                "h\nset",
                "invalid host \"h\\nset\": only letters, digits, '-' and '.' are allowed in a name",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(input.parse::<Host>().unwrap_err().to_string(), message);
        }
        let long_label = "a".repeat(64);
        assert!(long_label.parse::<Host>().is_err());
        let long_name = vec!["a".repeat(63); 4].join(".");
        assert_eq!(long_name.len(), 255);
        assert!(long_name.parse::<Host>().is_err());
    }
}
