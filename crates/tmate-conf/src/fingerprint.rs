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
/// bytes. [`FromStr`] accepts only the SHA-256 form, because the tmate 2.4 client
/// compares SHA-256 text only; [`Fingerprint::parse_allow_md5`] also accepts MD5.
/// Parsing is exact: `s.parse::<Fingerprint>()?.to_string() == s`.
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
                for (i, byte) in digest.iter().enumerate() {
                    if i > 0 {
                        f.write_char(':')?;
                    }
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
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
