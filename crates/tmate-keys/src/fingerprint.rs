//! OpenSSH key fingerprints (`SHA256:...` and the legacy `MD5:aa:bb:...`).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};

use crate::{Error, Result};

/// `ssh-keygen -E` name of SHA-256.
const SHA256_NAME: &str = "sha256";
/// `ssh-keygen -E` name of MD5.
const MD5_NAME: &str = "md5";
/// Prefix of a SHA-256 fingerprint as printed by OpenSSH (and compared by tmate with `strcmp`).
const SHA256_PREFIX: &str = "SHA256:";
/// Prefix of an MD5 fingerprint as printed by OpenSSH.
const MD5_PREFIX: &str = "MD5:";
/// Length of unpadded base64 for 32 bytes.
const SHA256_B64_LEN: usize = 43;

/// Standard base64 without padding, as OpenSSH prints SHA-256 fingerprints.
const B64_NO_PAD: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
);

/// Fingerprint hash algorithm, named as `ssh-keygen -E` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashAlg {
    /// SHA-256 (the default since OpenSSH 6.8 and the form tmate compares).
    #[default]
    Sha256,
    /// MD5 (legacy colon-separated hex, used by tmate up to 2.2.1).
    Md5,
}

impl HashAlg {
    /// The `ssh-keygen -E` name: `sha256` or `md5`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => SHA256_NAME,
            Self::Md5 => MD5_NAME,
        }
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HashAlg {
    type Err = Error;

    /// Parses `sha256` or `md5` (ASCII case-insensitive, like `ssh-keygen -E`).
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case(SHA256_NAME) {
            Ok(Self::Sha256)
        } else if s.eq_ignore_ascii_case(MD5_NAME) {
            Ok(Self::Md5)
        } else {
            Err(Error::UnknownHashAlg(s.to_owned()))
        }
    }
}

/// A key fingerprint: a hash of the public key blob (the base64-decoded second field of a
/// `.pub` line).
///
/// `Display` prints exactly what `ssh-keygen -l` prints in its second column:
/// `SHA256:` and 43 characters of unpadded standard base64, or `MD5:` and 16 lowercase hex
/// bytes separated by colons. `FromStr` parses exactly those forms, so the round trip is exact.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fingerprint {
    /// SHA-256 digest.
    Sha256([u8; 32]),
    /// MD5 digest.
    Md5([u8; 16]),
}

impl Fingerprint {
    /// Hashes a public key blob (the SSH wire encoding of a public key).
    #[must_use]
    pub fn of_blob(blob: &[u8], alg: HashAlg) -> Self {
        match alg {
            HashAlg::Sha256 => Self::Sha256(Sha256::digest(blob).into()),
            HashAlg::Md5 => Self::Md5(Md5::digest(blob).into()),
        }
    }

    /// The hash algorithm of this fingerprint.
    #[must_use]
    pub fn algorithm(&self) -> HashAlg {
        match self {
            Self::Sha256(_) => HashAlg::Sha256,
            Self::Md5(_) => HashAlg::Md5,
        }
    }

    /// The raw digest bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Sha256(d) => d,
            Self::Md5(d) => d,
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sha256(digest) => {
                let mut buf = [0u8; SHA256_B64_LEN];
                // 32 bytes always encode to exactly 43 unpadded characters.
                let n = B64_NO_PAD
                    .encode_slice(digest, &mut buf)
                    .map_err(|_| fmt::Error)?;
                f.write_str(SHA256_PREFIX)?;
                f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)
            }
            Self::Md5(digest) => {
                f.write_str(MD5_PREFIX)?;
                for (i, byte) in digest.iter().enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = Error;

    /// Parses `SHA256:<43 base64 chars>` or `MD5:<16 colon-separated lowercase hex bytes>`.
    ///
    /// Only the canonical forms `Display` prints are accepted, so
    /// `s.parse::<Fingerprint>()?.to_string() == s` whenever parsing succeeds.
    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidFingerprint(s.escape_debug().to_string());
        if let Some(b64) = s.strip_prefix(SHA256_PREFIX) {
            if b64.len() != SHA256_B64_LEN {
                return Err(invalid());
            }
            let mut digest = [0u8; 32];
            // `decode_slice` rejects non-canonical trailing bits, keeping the round trip exact.
            let n = B64_NO_PAD
                .decode_slice(b64, &mut digest)
                .map_err(|_| invalid())?;
            if n != digest.len() {
                return Err(invalid());
            }
            Ok(Self::Sha256(digest))
        } else if let Some(hex) = s.strip_prefix(MD5_PREFIX) {
            let mut digest = [0u8; 16];
            let mut parts = hex.split(':');
            for byte in &mut digest {
                let part = parts.next().ok_or_else(invalid)?;
                *byte = parse_hex_byte(part).ok_or_else(invalid)?;
            }
            if parts.next().is_some() {
                return Err(invalid());
            }
            Ok(Self::Md5(digest))
        } else {
            Err(invalid())
        }
    }
}

/// Parses exactly two lowercase hex digits.
fn parse_hex_byte(s: &str) -> Option<u8> {
    let &[hi, lo] = s.as_bytes() else {
        return None;
    };
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    Some(digit(hi)? << 4 | digit(lo)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tmate.io default ed25519 fingerprint from the client's `options-table.c`.
    const TMATE_IO_ED25519: &str = "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI";

    #[test]
    fn sha256_round_trip() {
        let fp: Fingerprint = TMATE_IO_ED25519.parse().unwrap();
        assert_eq!(fp.algorithm(), HashAlg::Sha256);
        assert_eq!(fp.to_string(), TMATE_IO_ED25519);
    }

    #[test]
    fn md5_round_trip() {
        let s = "MD5:21:2a:5e:60:25:ef:cb:ce:b7:3e:6c:a7:59:df:eb:11";
        let fp: Fingerprint = s.parse().unwrap();
        assert_eq!(fp.algorithm(), HashAlg::Md5);
        assert_eq!(fp.as_bytes()[0], 0x21);
        assert_eq!(fp.to_string(), s);
    }

    #[test]
    fn of_blob_known_answers() {
        // SHA-256("") and MD5("") in OpenSSH notation.
        assert_eq!(
            Fingerprint::of_blob(b"", HashAlg::Sha256).to_string(),
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert_eq!(
            Fingerprint::of_blob(b"", HashAlg::Md5).to_string(),
            "MD5:d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e"
        );
    }

    #[test]
    fn rejects_non_canonical_forms() {
        for bad in [
            "",
            "SHA256:",
            "sha256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI",
            "jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI",
            "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI=",
            "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9s",
            // Last character carries bits beyond the 256 the digest has.
            "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sJ",
            "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9s!",
            "MD5:21:2A:5e:60:25:ef:cb:ce:b7:3e:6c:a7:59:df:eb:11",
            "MD5:21:2a:5e:60:25:ef:cb:ce:b7:3e:6c:a7:59:df:eb",
            "MD5:21:2a:5e:60:25:ef:cb:ce:b7:3e:6c:a7:59:df:eb:11:00",
            "MD5:212a:5e:60:25:ef:cb:ce:b7:3e:6c:a7:59:df:eb:11",
            "MD5:2:a5e:60:25:ef:cb:ce:b7:3e:6c:a7:59:df:eb:11",
            "MD5:+1:2a:5e:60:25:ef:cb:ce:b7:3e:6c:a7:59:df:eb:11",
        ] {
            assert!(bad.parse::<Fingerprint>().is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn parse_error_message_is_pinned() {
        let err = "SHA256:abc".parse::<Fingerprint>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid fingerprint \"SHA256:abc\" (expected SHA256: and 43 base64 characters, or MD5: and 16 colon-separated hex bytes)"
        );
    }

    #[test]
    fn hash_alg_names() {
        assert_eq!("sha256".parse::<HashAlg>().unwrap(), HashAlg::Sha256);
        assert_eq!("MD5".parse::<HashAlg>().unwrap(), HashAlg::Md5);
        assert_eq!(HashAlg::Md5.to_string(), "md5");
        assert_eq!(
            "sha1".parse::<HashAlg>().unwrap_err().to_string(),
            "unknown fingerprint hash algorithm \"sha1\" (use sha256 or md5)"
        );
    }

    #[test]
    fn debug_shows_display_form() {
        let fp: Fingerprint = TMATE_IO_ED25519.parse().unwrap();
        assert_eq!(
            format!("{fp:?}"),
            format!("Fingerprint({TMATE_IO_ED25519})")
        );
    }
}
