//! Host key kinds, RSA sizes and the private host key type.

use std::fmt;
use std::str::FromStr;

use rand_core::CryptoRng;
use ssh_key::private::{Ed25519Keypair, KeypairData, RsaKeypair};
use ssh_key::{LineEnding, PrivateKey};
use zeroize::Zeroizing;

use crate::{Error, Fingerprint, HashAlg, Result, rsa_gen};

/// File name of the RSA host key in a keys directory (tmate-ssh-server `-k DIR`).
pub const RSA_KEY_FILE: &str = "ssh_host_rsa_key";
/// File name of the Ed25519 host key in a keys directory (tmate-ssh-server `-k DIR`).
pub const ED25519_KEY_FILE: &str = "ssh_host_ed25519_key";
/// Suffix of a public key file next to its private key.
pub const PUB_SUFFIX: &str = ".pub";

/// `KeyKind::Rsa` name.
const RSA_NAME: &str = "rsa";
/// `KeyKind::Ed25519` name.
const ED25519_NAME: &str = "ed25519";
/// SSH key type name of RSA keys.
const RSA_SSH_NAME: &str = "ssh-rsa";
/// SSH key type name of Ed25519 keys.
const ED25519_SSH_NAME: &str = "ssh-ed25519";
/// Key size `ssh-keygen -l` prints for Ed25519.
const ED25519_BITS: u32 = 256;

/// The two key kinds tmate-ssh-server loads (`tmate-ssh-server.c`; it ignores any other file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// RSA (`ssh_host_rsa_key`).
    Rsa,
    /// Ed25519 (`ssh_host_ed25519_key`).
    Ed25519,
}

impl KeyKind {
    /// Both kinds, in the order keys are created and reported.
    pub const ALL: [KeyKind; 2] = [KeyKind::Rsa, KeyKind::Ed25519];

    /// The private key file name: [`RSA_KEY_FILE`] or [`ED25519_KEY_FILE`].
    #[must_use]
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Rsa => RSA_KEY_FILE,
            Self::Ed25519 => ED25519_KEY_FILE,
        }
    }

    /// The public key file name: the private key file name plus `.pub`.
    #[must_use]
    pub fn pub_file_name(self) -> &'static str {
        match self {
            Self::Rsa => "ssh_host_rsa_key.pub",
            Self::Ed25519 => "ssh_host_ed25519_key.pub",
        }
    }

    /// `rsa` or `ed25519` (as `ssh-keygen -t` spells them).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => RSA_NAME,
            Self::Ed25519 => ED25519_NAME,
        }
    }

    /// The SSH key type name: `ssh-rsa` or `ssh-ed25519`.
    #[must_use]
    pub fn ssh_name(self) -> &'static str {
        match self {
            Self::Rsa => RSA_SSH_NAME,
            Self::Ed25519 => ED25519_SSH_NAME,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyKind {
    type Err = Error;

    /// Parses `rsa` or `ed25519`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            RSA_NAME => Ok(Self::Rsa),
            ED25519_NAME => Ok(Self::Ed25519),
            _ => Err(Error::UnknownKeyKind(s.to_owned())),
        }
    }
}

/// An accepted RSA key size: 2048, 3072 (the default, as `ssh-keygen`) or 4096 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RsaBits(u32);

impl RsaBits {
    /// The sizes accepted.
    pub const ALLOWED: [u32; 3] = [2048, 3072, 4096];
    /// The default size, `ssh-keygen`'s default since OpenSSH 8.0.
    pub const DEFAULT: RsaBits = RsaBits(3072);

    /// The size in bits.
    #[must_use]
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for RsaBits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<u32> for RsaBits {
    type Error = Error;

    /// # Errors
    /// [`Error::UnsupportedRsaBits`] unless `bits` is 2048, 3072 or 4096.
    fn try_from(bits: u32) -> Result<Self> {
        if Self::ALLOWED.contains(&bits) {
            Ok(Self(bits))
        } else {
            Err(Error::UnsupportedRsaBits(bits))
        }
    }
}

impl FromStr for RsaBits {
    type Err = Error;

    /// Parses a decimal size; only 2048, 3072 and 4096 are accepted.
    fn from_str(s: &str) -> Result<Self> {
        let bits = s
            .trim()
            .parse::<u32>()
            .map_err(|_| Error::UnsupportedRsaBits(0))?;
        Self::try_from(bits)
    }
}

impl fmt::Display for RsaBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A generated or loaded private host key (RSA or Ed25519).
///
/// `Debug` shows only the kind and the public fingerprint; the key material lives in
/// `ssh-key` types that zeroize themselves on drop, and every serialized copy this crate makes
/// is wrapped in [`Zeroizing`].
#[derive(Clone)]
pub struct HostKey {
    kind: KeyKind,
    key: PrivateKey,
    /// SSH wire encoding of the public key, cached for fingerprints and comparisons.
    public_blob: Vec<u8>,
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostKey")
            .field("kind", &self.kind)
            .field("fingerprint", &self.fingerprint(HashAlg::Sha256))
            .finish_non_exhaustive()
    }
}

impl HostKey {
    /// Generates an Ed25519 key from `rng` (32 bytes drawn), with an empty comment.
    ///
    /// # Errors
    /// [`Error::Encode`] if the new key cannot be wrapped (not expected).
    pub fn generate_ed25519<R: CryptoRng + ?Sized>(rng: &mut R) -> Result<Self> {
        let keypair = Ed25519Keypair::random(rng);
        Self::from_keypair(KeyKind::Ed25519, KeypairData::from(keypair))
    }

    /// Generates an RSA key of `bits` bits (public exponent 65537), with an empty comment.
    ///
    /// `rng` supplies one random starting point per prime; the primes are then searched for
    /// on all cores (up to 8 threads), deterministically: the same RNG output gives the same
    /// key whatever the number of threads.
    ///
    /// # Errors
    /// [`Error::Generate`] if the RNG keeps producing unusable primes (a broken RNG);
    /// [`Error::Encode`] if the key cannot be converted (not expected).
    pub fn generate_rsa<R: CryptoRng + ?Sized>(bits: RsaBits, rng: &mut R) -> Result<Self> {
        let key = rsa_gen::generate(bits, rng)?;
        let keypair = RsaKeypair::try_from(&key).map_err(|source| Error::Encode {
            kind: KeyKind::Rsa,
            source,
        })?;
        Self::from_keypair(KeyKind::Rsa, KeypairData::from(keypair))
    }

    /// Generates a key of `kind`; RSA keys get `rsa_bits`.
    ///
    /// # Errors
    /// As [`HostKey::generate_rsa`] and [`HostKey::generate_ed25519`].
    pub fn generate<R: CryptoRng + ?Sized>(
        kind: KeyKind,
        rsa_bits: RsaBits,
        rng: &mut R,
    ) -> Result<Self> {
        match kind {
            KeyKind::Rsa => Self::generate_rsa(rsa_bits, rng),
            KeyKind::Ed25519 => Self::generate_ed25519(rng),
        }
    }

    fn from_keypair(kind: KeyKind, data: KeypairData) -> Result<Self> {
        let key = PrivateKey::new(data, "").map_err(|source| Error::Encode { kind, source })?;
        Self::from_private_key(kind, key)
    }

    fn from_private_key(kind: KeyKind, key: PrivateKey) -> Result<Self> {
        let public_blob = key
            .public_key()
            .to_bytes()
            .map_err(|source| Error::Encode { kind, source })?;
        Ok(Self {
            kind,
            key,
            public_blob,
        })
    }

    /// Parses an unencrypted OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`)
    /// holding an RSA or Ed25519 key.
    ///
    /// RSA keys are checked for consistency (`n = p * q`, `d` inverts `e`); Ed25519 keys for
    /// their public half matching the secret.
    ///
    /// # Errors
    /// [`Error::InvalidPrivateKey`] if the text is not an OpenSSH private key or is
    /// inconsistent, [`Error::EncryptedPrivateKey`] if it has a passphrase,
    /// [`Error::UnsupportedKeyType`] for other key types.
    pub fn from_openssh(text: &str) -> Result<Self> {
        let key = PrivateKey::from_openssh(text).map_err(|source| {
            // ssh-key is built without ECDSA/DSA support, so it cannot parse those keys; the
            // public key in the clear says what they are.
            match crate::PublicKeyLine::from_private_openssh(text) {
                Ok(public) if ![RSA_SSH_NAME, ED25519_SSH_NAME].contains(&public.algorithm()) => {
                    Error::UnsupportedKeyType {
                        path: None,
                        found: public.algorithm().to_owned(),
                    }
                }
                _ => Error::InvalidPrivateKey(source),
            }
        })?;
        if key.is_encrypted() {
            return Err(Error::EncryptedPrivateKey { path: None });
        }
        let kind = match key.key_data() {
            KeypairData::Rsa(rsa) => {
                // ssh-key does not check that the parts agree; the rsa crate does.
                rsa::PrivateKey::try_from(rsa).map_err(Error::InvalidPrivateKey)?;
                KeyKind::Rsa
            }
            KeypairData::Ed25519(ed) => {
                let derived = Ed25519Keypair::from_seed(&ed.private.to_bytes());
                if derived.public != ed.public {
                    return Err(Error::InvalidPrivateKey(ssh_key::Error::Crypto));
                }
                KeyKind::Ed25519
            }
            _ => {
                return Err(Error::UnsupportedKeyType {
                    path: None,
                    found: key.algorithm().as_str().to_owned(),
                });
            }
        };
        Self::from_private_key(kind, key)
    }

    /// The kind of key.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The comment stored with the key (empty for generated keys).
    #[must_use]
    pub fn comment(&self) -> &str {
        self.key.comment().as_str_lossy()
    }

    /// The unencrypted OpenSSH private key file content (`-----BEGIN OPENSSH PRIVATE
    /// KEY-----`, LF line endings), in a buffer zeroized on drop.
    ///
    /// # Errors
    /// [`Error::Encode`] if encoding fails (not expected for a valid key).
    pub fn to_openssh(&self) -> Result<Zeroizing<String>> {
        self.key
            .to_openssh(LineEnding::LF)
            .map_err(|source| Error::Encode {
                kind: self.kind,
                source,
            })
    }

    /// The public key line, exactly as `ssh-keygen -y -f KEY` prints it: `TYPE BASE64` plus
    /// ` COMMENT` when the key has a comment, and a trailing newline. This is also the content
    /// written to the `.pub` file.
    #[must_use]
    pub fn public_line(&self) -> String {
        use base64::Engine as _;
        let mut line = String::with_capacity(self.public_blob.len() * 4 / 3 + 32);
        line.push_str(self.kind.ssh_name());
        line.push(' ');
        base64::engine::general_purpose::STANDARD.encode_string(&self.public_blob, &mut line);
        let comment = self.comment();
        if !comment.is_empty() {
            line.push(' ');
            line.push_str(comment);
        }
        line.push('\n');
        line
    }

    /// The SSH wire encoding of the public key (the base64-decoded second field of
    /// [`HostKey::public_line`]).
    #[must_use]
    pub fn public_blob(&self) -> &[u8] {
        &self.public_blob
    }

    /// The fingerprint `ssh-keygen -l -E ALG` prints for this key.
    #[must_use]
    pub fn fingerprint(&self, alg: HashAlg) -> Fingerprint {
        Fingerprint::of_blob(&self.public_blob, alg)
    }

    /// The key size `ssh-keygen -l` prints: the RSA modulus size, or 256 for Ed25519.
    #[must_use]
    pub fn bits(&self) -> u32 {
        match self.key.key_data() {
            KeypairData::Rsa(rsa) => rsa.key_size(),
            _ => ED25519_BITS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::TestRng;

    #[test]
    fn rsa_bits_accepts_only_three_sizes() {
        assert_eq!(RsaBits::default().get(), 3072);
        for ok in RsaBits::ALLOWED {
            assert_eq!(RsaBits::try_from(ok).unwrap().get(), ok);
            assert_eq!(ok.to_string().parse::<RsaBits>().unwrap().get(), ok);
        }
        for bad in [0, 1024, 2047, 3071, 8192] {
            assert_eq!(
                RsaBits::try_from(bad).unwrap_err().to_string(),
                format!("unsupported RSA key size {bad} (use 2048, 3072 or 4096)")
            );
        }
        assert!("abc".parse::<RsaBits>().is_err());
    }

    #[test]
    fn key_kind_names() {
        assert_eq!(KeyKind::Rsa.to_string(), "rsa");
        assert_eq!(KeyKind::Ed25519.file_name(), "ssh_host_ed25519_key");
        assert_eq!(
            KeyKind::Rsa.pub_file_name(),
            format!("{RSA_KEY_FILE}{PUB_SUFFIX}")
        );
        assert_eq!(
            KeyKind::Ed25519.pub_file_name(),
            format!("{ED25519_KEY_FILE}{PUB_SUFFIX}")
        );
        assert_eq!("ed25519".parse::<KeyKind>().unwrap(), KeyKind::Ed25519);
        assert_eq!(
            "dsa".parse::<KeyKind>().unwrap_err().to_string(),
            "unknown host key kind \"dsa\" (use rsa or ed25519)"
        );
    }

    #[test]
    fn seeded_ed25519_is_reproducible_and_round_trips() {
        let a = HostKey::generate_ed25519(&mut TestRng(1)).unwrap();
        let b = HostKey::generate_ed25519(&mut TestRng(1)).unwrap();
        let c = HostKey::generate_ed25519(&mut TestRng(2)).unwrap();
        assert_eq!(a.public_line(), b.public_line());
        assert_ne!(a.public_line(), c.public_line());
        assert_eq!(*a.to_openssh().unwrap(), *b.to_openssh().unwrap());
        let text = a.to_openssh().unwrap();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        let back = HostKey::from_openssh(&text).unwrap();
        assert_eq!(back.kind(), KeyKind::Ed25519);
        assert_eq!(back.public_line(), a.public_line());
        assert_eq!(back.bits(), 256);
        assert!(
            a.public_line()
                .starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI")
        );
        assert!(a.public_line().ends_with('\n'));
        assert_eq!(
            a.public_line().matches(' ').count(),
            1,
            "no comment, no trailing space"
        );
    }

    #[test]
    fn seeded_rsa_is_reproducible_and_round_trips() {
        let bits = RsaBits::try_from(2048).unwrap();
        let a = HostKey::generate_rsa(bits, &mut TestRng(3)).unwrap();
        let b = HostKey::generate_rsa(bits, &mut TestRng(3)).unwrap();
        assert_eq!(a.public_line(), b.public_line());
        assert_eq!(a.bits(), 2048);
        let back = HostKey::from_openssh(&a.to_openssh().unwrap()).unwrap();
        assert_eq!(back.kind(), KeyKind::Rsa);
        assert_eq!(
            back.fingerprint(HashAlg::Sha256),
            a.fingerprint(HashAlg::Sha256)
        );
        assert_eq!(back.bits(), 2048);
        assert!(
            a.public_line()
                .starts_with("ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB")
        );
    }

    #[test]
    fn rsa_4096_is_4096_bits() {
        let key = HostKey::generate_rsa(RsaBits::try_from(4096).unwrap(), &mut TestRng(6)).unwrap();
        assert_eq!(key.bits(), 4096);
        let back = HostKey::from_openssh(&key.to_openssh().unwrap()).unwrap();
        assert_eq!(back.public_line(), key.public_line());
    }

    #[test]
    fn default_rsa_is_3072_bits() {
        let key = HostKey::generate_rsa(RsaBits::default(), &mut TestRng(4)).unwrap();
        assert_eq!(key.bits(), 3072);
        let public = key.public_line();
        let line = crate::PublicKeyLine::parse(&public).unwrap();
        assert_eq!(line.bits().unwrap(), 3072);
    }

    #[test]
    fn debug_is_redacted() {
        let key = HostKey::generate_ed25519(&mut TestRng(5)).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.starts_with("HostKey { kind: Ed25519, fingerprint: Fingerprint(SHA256:"));
        let text = key.to_openssh().unwrap();
        let body: Vec<&str> = text.lines().skip(1).collect();
        for chunk in body.iter().filter(|l| l.len() > 20) {
            assert!(!debug.contains(&chunk[..20]));
        }
    }

    #[test]
    fn from_openssh_rejects_garbage_without_echoing_it() {
        let err = HostKey::from_openssh(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0\n-----END OPENSSH PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "not an OpenSSH private key");
        assert!(!format!("{err:?}").contains("c2VjcmV0"));
    }

    fn testdata(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn ssh_keygen_keys_reproduce_ssh_keygen_y() {
        for name in [
            "rsa2048",
            "rsa3072",
            "rsa3072_nocomment",
            "ed25519",
            "ed25519_nocomment",
        ] {
            let key = HostKey::from_openssh(&testdata(name)).unwrap();
            assert_eq!(key.public_line(), testdata(&format!("{name}.y")), "{name}");
            let l = testdata(&format!("{name}.pub.sha256"));
            let mut fields = l.split(' ');
            assert_eq!(fields.next().unwrap(), key.bits().to_string());
            assert_eq!(
                fields.next().unwrap(),
                key.fingerprint(HashAlg::Sha256).to_string()
            );
        }
    }

    #[test]
    fn other_key_types_are_refused() {
        for (name, found) in [
            ("ecdsa256", "ecdsa-sha2-nistp256"),
            ("ecdsa521", "ecdsa-sha2-nistp521"),
            ("dsa1024", "ssh-dss"),
        ] {
            let err = HostKey::from_openssh(&testdata(name)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("private key: unsupported host key type {found} (use rsa or ed25519)")
            );
        }
        let err = HostKey::from_openssh(&testdata("encrypted_ed25519")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "private key: private key is encrypted (tmate-ssh-server needs an unencrypted key)"
        );
    }

    #[test]
    fn corrupt_rsa_key_is_refused() {
        // Swap one base64 character inside the private section of a real key.
        let text = testdata("rsa2048");
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let middle = lines.len() / 2 + 3;
        let flipped: String = lines[middle]
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i == 10 {
                    if c == 'A' { 'B' } else { 'A' }
                } else {
                    c
                }
            })
            .collect();
        lines[middle] = flipped;
        let err = HostKey::from_openssh(&(lines.join("\n") + "\n")).unwrap_err();
        assert_eq!(err.to_string(), "not an OpenSSH private key");
    }

    /// Runs the real `ssh-keygen` (fails, not skips, when it is missing).
    fn ssh_keygen(args: &[&str]) -> String {
        let out = std::process::Command::new("ssh-keygen")
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("ssh-keygen is required for this test (apt install openssh-client): {e}")
            });
        assert!(
            out.status.success(),
            "ssh-keygen {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn real_ssh_keygen_reads_our_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = TestRng(11);
        for (name, key) in [
            ("ed", HostKey::generate_ed25519(&mut rng).unwrap()),
            (
                "rsa2048",
                HostKey::generate_rsa(RsaBits::try_from(2048).unwrap(), &mut rng).unwrap(),
            ),
            (
                "rsa3072",
                HostKey::generate_rsa(RsaBits::default(), &mut rng).unwrap(),
            ),
        ] {
            let path = dir.path().join(name);
            let mut file = std::fs::OpenOptions::new();
            std::os::unix::fs::OpenOptionsExt::mode(file.write(true).create_new(true), 0o600);
            std::io::Write::write_all(
                &mut file.open(&path).unwrap(),
                key.to_openssh().unwrap().as_bytes(),
            )
            .unwrap();
            let path = path.to_str().unwrap();
            assert_eq!(ssh_keygen(&["-y", "-f", path]), key.public_line(), "{name}");
            let l = ssh_keygen(&["-l", "-E", "sha256", "-f", path]);
            // A private key file with an empty comment: ssh-keygen prints the empty comment.
            let expected = format!(
                "{} {}  ({})\n",
                key.bits(),
                key.fingerprint(HashAlg::Sha256),
                key.kind().as_str().to_uppercase()
            );
            assert_eq!(l, expected, "{name}");
        }
    }
}
