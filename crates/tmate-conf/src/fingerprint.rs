//! Server key fingerprints as tmate compares them.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use crate::{Error, Result};

/// Prefix of a SHA-256 fingerprint (tmate 2.3.0 and later).
pub const SHA256_PREFIX: &str = "SHA256:";
/// Prefix of a legacy MD5 fingerprint (tmate up to 2.2.1).
pub const MD5_PREFIX: &str = "MD5:";
/// Length of the unpadded base64 text of a SHA-256 digest.
const SHA256_BASE64_LEN: usize = 43;
/// Bytes in an MD5 digest.
const MD5_LEN: usize = 16;

/// A server host key fingerprint, as the client's `tmate-server-*-fingerprint` options
/// hold it.
///
/// `Display` prints `SHA256:` + 43 characters of unpadded standard base64 (what
/// `ssh-keygen -l -E sha256` prints), or `MD5:` + 16 colon-separated lowercase hex
/// bytes (what `ssh-keygen -l -E md5` prints). [`FromStr`] accepts only the SHA-256 form,
/// because the tmate 2.4 client compares SHA-256 text only; [`Fingerprint::parse_allow_md5`]
/// also accepts MD5. Parsing is exact: `s.parse::<Fingerprint>()?.to_string() == s`.
///
/// The text to put in a `tmate-server-*-fingerprint` option is
/// [`Fingerprint::to_option_value`], not `Display`: clients up to 2.2.1 compare the bare
/// colon-separated hex, without the `MD5:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fingerprint {
    /// SHA-256 of the public key blob.
    Sha256([u8; 32]),
    /// MD5 of the public key blob (legacy clients only).
    Md5([u8; 16]),
}

impl Fingerprint {
    /// Parses a SHA-256 fingerprint, or a legacy `MD5:aa:bb:...` one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFingerprint`] if `s` is neither form.
    pub fn parse_allow_md5(s: &str) -> Result<Self> {
        match s.strip_prefix(MD5_PREFIX) {
            Some(hex) => parse_md5(hex)
                .map(Self::Md5)
                .map_err(|reason| invalid(s, reason)),
            None => s.parse(),
        }
    }

    /// The value of a `tmate-server-*-fingerprint` option that a client compares equal to
    /// this fingerprint: the `Display` text for SHA-256 (tmate 2.3.0 and later), and for
    /// MD5 the bare colon-separated lowercase hex, e.g. `af:2d:81:...`.
    ///
    /// tmate up to 2.2.1 compares the option with `strcmp` against libssh's
    /// `ssh_get_hexa()` of the MD5 digest, which has no prefix, so an `MD5:` value can never
    /// match (see: tmate-io/tmate `tmate-ssh-client.c`, `SSH_AUTH_SERVER`; the defaults in
    /// `options-table.c` of those versions have the same form).
    #[must_use]
    pub fn to_option_value(&self) -> String {
        match self {
            Self::Sha256(_) => self.to_string(),
            Self::Md5(digest) => md5_hex(digest),
        }
    }

    /// Returns the digest bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Sha256(d) => d,
            Self::Md5(d) => d,
        }
    }
}

fn invalid(text: &str, reason: &'static str) -> Error {
    Error::InvalidFingerprint {
        text: text.to_owned(),
        reason,
    }
}

/// `aa:bb:...`: 16 colon-separated lowercase hex bytes, as libssh's `ssh_get_hexa()`.
fn md5_hex(digest: &[u8; MD5_LEN]) -> String {
    let mut out = String::with_capacity(3 * MD5_LEN - 1);
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn parse_md5(hex: &str) -> Result<[u8; MD5_LEN], &'static str> {
    let mut out = [0u8; MD5_LEN];
    let mut parts = hex.split(':');
    for byte in &mut out {
        let part = parts
            .next()
            .ok_or("expected 16 colon-separated hex bytes")?;
        if part.len() != 2 || !part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err("expected 16 colon-separated lowercase hex bytes");
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| "expected hex bytes")?;
    }
    if parts.next().is_some() {
        return Err("expected 16 colon-separated hex bytes");
    }
    Ok(out)
}

impl FromStr for Fingerprint {
    type Err = Error;

    /// Parses `SHA256:` + 43 characters of canonical unpadded standard base64.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFingerprint`] for anything else (including `MD5:` text; see
    /// [`Fingerprint::parse_allow_md5`]).
    fn from_str(s: &str) -> Result<Self> {
        let Some(b64) = s.strip_prefix(SHA256_PREFIX) else {
            return Err(invalid(
                s,
                "expected \"SHA256:\" followed by 43 base64 characters",
            ));
        };
        if b64.len() != SHA256_BASE64_LEN {
            return Err(invalid(
                s,
                "expected 43 base64 characters after \"SHA256:\"",
            ));
        }
        let mut digest = [0u8; 32];
        // The engine rejects padding and non-zero trailing bits, so the text is canonical.
        match STANDARD_NO_PAD.decode_slice(b64, &mut digest) {
            Ok(32) => Ok(Self::Sha256(digest)),
            _ => Err(invalid(s, "not canonical unpadded base64")),
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sha256(digest) => {
                f.write_str(SHA256_PREFIX)?;
                f.write_str(&STANDARD_NO_PAD.encode(digest))
            }
            Self::Md5(digest) => {
                f.write_str(MD5_PREFIX)?;
                f.write_str(&md5_hex(digest))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The public tmate.io Ed25519 fingerprint (tmate `options-table.c`).
    const TMATE_IO_ED25519: &str = "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI";

    #[test]
    fn sha256_round_trips_exactly() {
        let fp: Fingerprint = TMATE_IO_ED25519.parse().unwrap();
        assert_eq!(fp.to_string(), TMATE_IO_ED25519);
        assert_eq!(fp.as_bytes().len(), 32);
        assert_eq!(Fingerprint::parse_allow_md5(TMATE_IO_ED25519).unwrap(), fp);
    }

    #[test]
    fn md5_only_when_asked() {
        let md5 = "MD5:0f:1e:2d:3c:4b:5a:69:78:87:96:a5:b4:c3:d2:e1:f0";
        let fp = Fingerprint::parse_allow_md5(md5).unwrap();
        assert_eq!(fp.to_string(), md5);
        assert_eq!(
            md5.parse::<Fingerprint>().unwrap_err().to_string(),
            format!(
                "invalid fingerprint {md5:?}: expected \"SHA256:\" followed by 43 base64 characters"
            )
        );
    }

    /// The tmate.io RSA fingerprint as tmate 2.2's `options-table.c` has it (its default
    /// for `tmate-server-rsa-fingerprint`): the form such a client compares.
    const TMATE_IO_RSA_MD5_OPTION: &str = "af:2d:81:c1:fe:49:70:2d:7f:09:a9:d7:4b:32:e3:be";

    #[test]
    fn option_values_are_what_the_clients_compare() {
        let md5 = Fingerprint::parse_allow_md5(&format!("MD5:{TMATE_IO_RSA_MD5_OPTION}")).unwrap();
        assert_eq!(md5.to_option_value(), TMATE_IO_RSA_MD5_OPTION);
        assert_eq!(md5.to_string(), format!("MD5:{TMATE_IO_RSA_MD5_OPTION}"));
        let sha256: Fingerprint = TMATE_IO_ED25519.parse().unwrap();
        assert_eq!(sha256.to_option_value(), TMATE_IO_ED25519);
    }

    #[test]
    fn rejects_malformed_with_pinned_messages() {
        let cases = [
            (
                "jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI",
                "expected \"SHA256:\" followed by 43 base64 characters",
            ),
            (
                "SHA256:abc",
                "expected 43 base64 characters after \"SHA256:\"",
            ),
            (
                "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI=",
                "expected 43 base64 characters after \"SHA256:\"",
            ),
            // Last character carries non-zero trailing bits.
            (
                "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sJ",
                "not canonical unpadded base64",
            ),
            (
                "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9s\n",
                "not canonical unpadded base64",
            ),
        ];
        for (input, reason) in cases {
            assert_eq!(
                input.parse::<Fingerprint>().unwrap_err().to_string(),
                format!("invalid fingerprint {input:?}: {reason}")
            );
        }
        for bad_md5 in [
            "MD5:0f",
            "MD5:0F:1e:2d:3c:4b:5a:69:78:87:96:a5:b4:c3:d2:e1:f0",
            "MD5:0f:1e:2d:3c:4b:5a:69:78:87:96:a5:b4:c3:d2:e1:f0:00",
        ] {
            assert!(Fingerprint::parse_allow_md5(bad_md5).is_err(), "{bad_md5}");
        }
    }
}
