//! The secret scanner: finds private host key material, in the encodings a leak would take, in
//! whatever a unit emits.
//!
//! The simulator learns every private key that appears under the host root (the charm's keys
//! directory and the Python charm's `/home/ubuntu/keys`; a test may add more with
//! [`SecretScanner::learn_private_key`]) and after every hook scans what left the unit. A key's
//! needles are built from:
//!
//! - the PEM body of the key file (each body line, and the whole base64 with or without line
//!   breaks): every part of it that encodes private bytes;
//! - the private fields decoded from it - Ed25519: the 32-byte seed, the clamped secret scalar
//!   and the nonce prefix (SHA-512 of the seed); RSA: `d`, `p`, `q` and `iqmp` - each as raw
//!   bytes, lower- and upper-case hex (plain and colon-separated as `openssl -text` prints
//!   it), standard and URL-safe base64 at all three byte
//!   alignments (so the field is found inside a longer base64 text such as a PKCS#1 or
//!   PKCS#8 dump), and for RSA in decimal.
//!
//! Needles are fixed-width windows of those encodings ([`BASE64_WINDOW`], [`HEX_WINDOW`],
//! [`COLON_HEX_WINDOW`], [`DECIMAL_WINDOW`], [`RAW_WINDOW`] characters, at a stride of the width plus one window
//! flush with the end), so any leaked fragment of at least `2 * width - 1` characters is found,
//! not only a whole key. Windows that encode only public bytes (the public half of the OpenSSH
//! blob) are left out, so publishing a public key or a fingerprint is never reported.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use sha2::{Digest as _, Sha512};

use super::model::{HostCall, ModelState, ToolCall};
use super::unit::ActionOutcome;

/// Width of a base64 needle. It divides the 70-character lines of an OpenSSH key, so no
/// window of the PEM body straddles a line break.
pub const BASE64_WINDOW: usize = 14;
/// Width of a hexadecimal needle (8 bytes).
pub const HEX_WINDOW: usize = 16;
/// Width of a colon-separated hex needle as `openssl -text` prints numbers (`3a:f0:...`, 8
/// bytes).
pub const COLON_HEX_WINDOW: usize = 24;
/// Width of a decimal needle.
pub const DECIMAL_WINDOW: usize = 20;
/// Width of a raw-bytes needle.
pub const RAW_WINDOW: usize = 12;

/// Directories (relative to the host root) where the charm keeps private keys.
pub const KEY_DIRS: [&str; 2] = ["var/lib/tmate-ssh-server/keys", "home/ubuntu/keys"];
/// Private key file names inside [`KEY_DIRS`].
pub const KEY_FILES: [&str; 2] = ["ssh_host_rsa_key", "ssh_host_ed25519_key"];

/// Needles for every private key learned so far.
#[derive(Debug, Clone, Default)]
pub struct SecretScanner {
    /// Window bytes to a description of what they encode.
    windows: HashMap<Vec<u8>, String>,
    /// The widths present in `windows`.
    widths: BTreeSet<usize>,
    /// PEM bodies already learned (a key is learned once).
    bodies: BTreeSet<String>,
}

/// One byte string with the parts of it that are secret.
struct Field<'a> {
    label: String,
    bytes: &'a [u8],
    secret: Vec<Range<usize>>,
}

impl SecretScanner {
    /// An empty scanner (finds nothing until it learns a key).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys learned.
    #[must_use]
    pub fn key_count(&self) -> usize {
        self.bodies.len()
    }

    /// Number of needles.
    #[must_use]
    pub fn needle_count(&self) -> usize {
        self.windows.len()
    }

    /// Learns the private key in `text` (an OpenSSH key, or any PEM private key whose whole
    /// body is then treated as secret); `label` names it in findings. Returns the number of
    /// needles added (0 when the key was already known).
    ///
    /// # Errors
    ///
    /// A message when `text` holds no PEM private key.
    pub fn learn_private_key(&mut self, label: &str, text: &str) -> Result<usize, String> {
        let (kind, body) = pem_body(text).ok_or_else(|| format!("{label}: no PEM private key"))?;
        let joined: String = body.concat();
        if self.bodies.contains(&joined) {
            return Ok(0);
        }
        let blob = STANDARD
            .decode(joined.as_bytes())
            .map_err(|e| format!("{label}: PEM body is not base64: {e}"))?;
        let before = self.windows.len();

        let mut owned: Vec<(String, Vec<u8>)> = Vec::new();
        let mut blob_secret: Vec<Range<usize>> = Vec::new();
        if kind == "OPENSSH PRIVATE KEY" {
            let key = ssh_key::PrivateKey::from_openssh(text)
                .map_err(|e| format!("{label}: not an OpenSSH private key: {e}"))?;
            match key.key_data() {
                ssh_key::private::KeypairData::Ed25519(pair) => {
                    let seed = pair.private.to_bytes();
                    let hash = Sha512::digest(seed);
                    let mut scalar = [0u8; 32];
                    scalar.copy_from_slice(&hash[..32]);
                    scalar[0] &= 248;
                    scalar[31] &= 127;
                    scalar[31] |= 64;
                    owned.push(("ed25519 seed".into(), seed.to_vec()));
                    owned.push(("ed25519 secret scalar".into(), scalar.to_vec()));
                    owned.push(("ed25519 nonce prefix".into(), hash[32..].to_vec()));
                }
                ssh_key::private::KeypairData::Rsa(pair) => {
                    let private = pair.private();
                    for (name, mpint) in [
                        ("rsa d", private.d()),
                        ("rsa p", private.p()),
                        ("rsa q", private.q()),
                        ("rsa iqmp", private.iqmp()),
                    ] {
                        let bytes = mpint.as_positive_bytes().unwrap_or(mpint.as_bytes());
                        owned.push((name.into(), bytes.to_vec()));
                    }
                }
                other => {
                    return Err(format!(
                        "{label}: unsupported key type {:?}",
                        other.algorithm().map(|a| a.to_string())
                    ));
                }
            }
            // Where the secret fields sit in the file's blob: only those parts of the body
            // are secret (the rest is the public key and framing).
            for (_, bytes) in &owned {
                if let Some(at) = find(&blob, bytes) {
                    blob_secret.push(at..at + bytes.len());
                }
            }
            if blob_secret.is_empty() {
                return Err(format!("{label}: private fields not found in the key file"));
            }
        } else {
            // PKCS#1 / PKCS#8 / SEC1: no field decoder here, so the whole body counts.
            blob_secret.push(0..blob.len());
        }

        self.add_base64_text(
            &format!("{label}: PEM body"),
            joined.as_bytes(),
            0,
            blob.len(),
            &blob_secret,
        );
        let mut fields: Vec<Field<'_>> = owned
            .iter()
            .map(|(name, bytes)| Field {
                label: format!("{label}: {name}"),
                bytes,
                secret: std::iter::once(0..bytes.len()).collect(),
            })
            .collect();
        if kind != "OPENSSH PRIVATE KEY" {
            fields.push(Field {
                label: format!("{label}: DER"),
                bytes: &blob,
                secret: std::iter::once(0..blob.len()).collect(),
            });
        }
        for field in &fields {
            // Only the RSA numbers are ever printed as integers.
            let decimal = field.label.contains(": rsa ");
            self.add_field(field, decimal);
        }
        self.bodies.insert(joined);
        Ok(self.windows.len() - before)
    }

    /// Learns the private keys found under `root` ([`KEY_DIRS`] x [`KEY_FILES`]); files that
    /// are missing or hold no parsable key are skipped. Returns the number of needles added.
    pub fn learn_keys_under(&mut self, root: &Path) -> usize {
        let mut added = 0;
        for dir in KEY_DIRS {
            for name in KEY_FILES {
                let path = root.join(dir).join(name);
                if let Ok(text) = std::fs::read_to_string(&path) {
                    added += self
                        .learn_private_key(&format!("{dir}/{name}"), &text)
                        .unwrap_or(0);
                }
            }
        }
        added
    }

    /// What private key material `data` holds, if any (the first needle found).
    #[must_use]
    pub fn scan(&self, data: &[u8]) -> Option<&str> {
        for &width in &self.widths {
            if data.len() < width {
                continue;
            }
            for window in data.windows(width) {
                if let Some(label) = self.windows.get(window) {
                    return Some(label);
                }
            }
        }
        None
    }

    fn add_field(&mut self, field: &Field<'_>, decimal: bool) {
        let Field {
            label,
            bytes,
            secret,
        } = field;
        // Raw bytes.
        self.add_windows(&format!("{label}, raw"), bytes, RAW_WINDOW, |r| {
            overlaps(secret, &r)
        });
        // Hex, both cases: character i encodes byte i / 2.
        for upper in [false, true] {
            let text = hex(bytes, upper);
            self.add_windows(&format!("{label}, hex"), text.as_bytes(), HEX_WINDOW, |r| {
                overlaps(secret, &(r.start / 2..r.end.div_ceil(2)))
            });
        }
        // Colon-separated hex (`openssl pkey -text`): character i belongs to byte i / 3.
        for upper in [false, true] {
            let text = hex(bytes, upper)
                .as_bytes()
                .chunks(2)
                .map(|pair| String::from_utf8_lossy(pair).into_owned())
                .collect::<Vec<_>>()
                .join(":");
            self.add_windows(
                &format!("{label}, colon hex"),
                text.as_bytes(),
                COLON_HEX_WINDOW,
                |r| overlaps(secret, &(r.start / 3..r.end.div_ceil(3))),
            );
        }
        // Base64 at every alignment, both alphabets.
        for engine in [&STANDARD, &URL_SAFE] {
            for align in 0..3 {
                let mut prefixed = vec![0u8; align];
                prefixed.extend_from_slice(bytes);
                let encoded = engine.encode(&prefixed);
                self.add_base64_text(
                    &format!("{label}, base64"),
                    encoded.as_bytes(),
                    align,
                    bytes.len(),
                    secret,
                );
            }
        }
        if decimal {
            let text = to_decimal(bytes);
            self.add_windows(
                &format!("{label}, decimal"),
                text.as_bytes(),
                DECIMAL_WINDOW,
                |_| true,
            );
        }
    }

    /// Adds the windows of `encoded` (the base64 of `align` unknown bytes followed by `len`
    /// field bytes) whose characters depend on field bytes only and overlap `secret`.
    fn add_base64_text(
        &mut self,
        label: &str,
        encoded: &[u8],
        align: usize,
        len: usize,
        secret: &[Range<usize>],
    ) {
        // Character i carries bits 6i..6i+6 of the input, i.e. bytes 6i/8 ..= (6i+5)/8.
        let bytes_of = |i: usize| (6 * i / 8, (6 * i + 5) / 8);
        let usable = |i: usize| {
            let (first, last) = bytes_of(i);
            first >= align && last < align + len
        };
        let Some(start) = (0..encoded.len()).find(|&i| usable(i)) else {
            return;
        };
        let end = (start..encoded.len())
            .take_while(|&i| usable(i))
            .last()
            .map_or(start, |i| i + 1);
        let text = &encoded[start..end];
        self.add_windows(label, text, BASE64_WINDOW, |r| {
            let first = bytes_of(start + r.start).0 - align;
            let last = bytes_of(start + r.end - 1).1 - align;
            overlaps(secret, &(first..last + 1))
        });
    }

    /// Adds windows of `text` at a stride of `width`, plus the one flush with the end, for
    /// which `keep(char range)` holds.
    fn add_windows(
        &mut self,
        label: &str,
        text: &[u8],
        width: usize,
        keep: impl Fn(Range<usize>) -> bool,
    ) {
        if text.len() < width {
            return;
        }
        let mut starts: Vec<usize> = (0..=text.len() - width).step_by(width).collect();
        starts.push(text.len() - width);
        for start in starts {
            if keep(start..start + width) {
                self.windows
                    .entry(text[start..start + width].to_vec())
                    .or_insert_with(|| label.to_owned());
                self.widths.insert(width);
            }
        }
    }
}

/// The PEM type (`OPENSSH PRIVATE KEY`, `RSA PRIVATE KEY`, ...) and body lines of the first
/// private key block in `text`.
fn pem_body(text: &str) -> Option<(String, Vec<&str>)> {
    let mut lines = text.lines().map(str::trim);
    let kind = lines.find_map(|l| {
        l.strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .filter(|kind| kind.ends_with("PRIVATE KEY"))
    })?;
    let end = format!("-----END {kind}-----");
    let body: Vec<&str> = lines
        .take_while(|l| *l != end)
        .filter(|l| !l.is_empty() && !l.contains(':'))
        .collect();
    (!body.is_empty()).then(|| (kind.to_owned(), body))
}

fn overlaps(ranges: &[Range<usize>], r: &Range<usize>) -> bool {
    ranges.iter().any(|s| s.start < r.end && r.start < s.end)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn hex(bytes: &[u8], upper: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = if upper {
            write!(out, "{b:02X}")
        } else {
            write!(out, "{b:02x}")
        };
    }
    out
}

/// A big-endian unsigned integer in decimal.
fn to_decimal(bytes: &[u8]) -> String {
    // Base 10^9 limbs, least significant first.
    let mut limbs: Vec<u64> = vec![0];
    for &byte in bytes {
        let mut carry = u64::from(byte);
        for limb in &mut limbs {
            let v = *limb * 256 + carry;
            *limb = v % 1_000_000_000;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push(carry % 1_000_000_000);
            carry /= 1_000_000_000;
        }
    }
    let mut out = limbs.last().map(u64::to_string).unwrap_or_default();
    for limb in limbs.iter().rev().skip(1) {
        out.push_str(&format!("{limb:09}"));
    }
    out
}

/// Scans everything one hook emitted: its stdout and stderr, the argv and stdin of every hook
/// tool it called (`juju-log`, `status-set`, `relation-set`, `action-set`, `state-set`, ...),
/// every host command line, the resulting relation bags, charm state and action outcome, and
/// every file under the host root it created or changed (the unit file, `daemon.json`, `.pub`
/// files; the private key files themselves excepted). Returns one finding per place.
#[must_use]
pub fn scan_hook(
    scanner: &SecretScanner,
    st: &ModelState,
    calls: &[ToolCall],
    host_calls: &[HostCall],
    action: Option<&ActionOutcome>,
    output: (&[u8], &[u8]),
    files_before: &HashMap<PathBuf, Vec<u8>>,
) -> Vec<String> {
    let mut findings = Vec::new();
    let mut check = |what: String, data: &[u8]| {
        if let Some(label) = scanner.scan(data) {
            findings.push(format!("private key material ({label}) in {what}"));
        }
    };
    check("hook stdout".into(), output.0);
    check("hook stderr".into(), output.1);
    for call in calls {
        check(
            format!("{} arguments", call.tool),
            call.args.join(" ").as_bytes(),
        );
        if let Some(stdin) = &call.stdin {
            check(format!("{} stdin", call.tool), stdin.as_bytes());
        }
    }
    for call in host_calls {
        let program = call.argv.first().map_or("", String::as_str);
        check(
            format!("host command {program}"),
            call.argv.join(" ").as_bytes(),
        );
    }
    for relation in st.relations.values() {
        for (k, v) in relation
            .local_unit_data
            .iter()
            .chain(&relation.local_app_data)
        {
            check(format!("{} key {k:?}", relation.fake_id()), v.as_bytes());
        }
    }
    for (k, v) in &st.charm_state {
        check(format!("charm state {k:?}"), v.as_bytes());
    }
    if let Some(action) = action {
        let text = serde_json::Value::Object(action.results.clone()).to_string();
        check("action results".into(), text.as_bytes());
        if let Some(message) = &action.message {
            check("action message".into(), message.as_bytes());
        }
    }
    let mut changed: Vec<(PathBuf, Vec<u8>)> = files_under(&st.root)
        .into_iter()
        .filter(|(path, content)| {
            !is_private_key_path(path) && files_before.get(path) != Some(content)
        })
        .collect();
    changed.sort();
    for (path, content) in changed {
        check(format!("file {}", path.display()), &content);
    }
    findings
}

/// A run of `dispatch` started outside the simulator's hook runner (a `juju exec`, or a test
/// giving it an environment of its own), scanned as [`scan_hook`] scans a hook: take
/// [`HandRun::before`] just before starting it and [`HandRun::scan`] once it has exited.
#[derive(Debug, Clone)]
pub struct HandRun {
    calls_before: usize,
    host_before: usize,
    files_before: HashMap<PathBuf, Vec<u8>>,
}

impl HandRun {
    /// Notes how many hook tool calls and host commands the model holds and what the files
    /// under the host root contain, before the run.
    #[must_use]
    pub fn before(st: &ModelState) -> Self {
        Self {
            calls_before: st.calls.len(),
            host_before: st.host.commands.len(),
            files_before: files_under(&st.root),
        }
    }

    /// Scans what the run emitted: its `stdout` and `stderr`, every hook tool call and host
    /// command recorded since [`HandRun::before`], the relation bags and charm state, and every
    /// file it created or changed, for the keys `scanner` knows plus any the run itself
    /// created under the host root. Returns one finding per place (empty: nothing leaked).
    #[must_use]
    pub fn scan(
        &self,
        scanner: &SecretScanner,
        st: &ModelState,
        stdout: &[u8],
        stderr: &[u8],
    ) -> Vec<String> {
        let mut scanner = scanner.clone();
        scanner.learn_keys_under(&st.root);
        scan_hook(
            &scanner,
            st,
            st.calls.get(self.calls_before..).unwrap_or_default(),
            st.host.commands.get(self.host_before..).unwrap_or_default(),
            None,
            (stdout, stderr),
            &self.files_before,
        )
    }
}

/// Whether `path` (relative to the host root) is one of the charm's private key files or a
/// temporary file of one: those hold key material by design.
#[must_use]
pub fn is_private_key_path(relative: &Path) -> bool {
    let Some(dir) = relative.parent() else {
        return false;
    };
    let name = relative
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    KEY_DIRS.iter().any(|d| dir == Path::new(d))
        && KEY_FILES.iter().any(|k| name.contains(k))
        && !name.contains(".pub")
}

/// Every regular file under `root`, relative path to content (symlinks are not followed).
#[must_use]
pub fn files_under(root: &Path) -> HashMap<PathBuf, Vec<u8>> {
    let mut out = HashMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel_path = rel.join(entry.file_name());
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(rel_path);
            } else if meta.is_file()
                && let Ok(content) = std::fs::read(entry.path())
            {
                out.insert(rel_path, content);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_of_small_and_big_numbers() {
        assert_eq!(to_decimal(&[0]), "0");
        assert_eq!(to_decimal(&[1, 0]), "256");
        assert_eq!(to_decimal(&[0xff; 8]), u64::MAX.to_string());
        assert_eq!(
            to_decimal(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0]),
            (u128::from(u64::MAX) + 1).to_string()
        );
    }

    #[test]
    fn pem_body_of_a_key_and_of_nothing() {
        let (kind, body) = pem_body(
            "x\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        assert_eq!(kind, "RSA PRIVATE KEY");
        assert_eq!(body, ["AAAA", "BBBB"]);
        assert!(pem_body("ssh-ed25519 AAAA").is_none());
    }

    #[test]
    fn private_key_paths() {
        assert!(is_private_key_path(Path::new(
            "var/lib/tmate-ssh-server/keys/ssh_host_rsa_key"
        )));
        assert!(is_private_key_path(Path::new(
            "home/ubuntu/keys/.ssh_host_ed25519_key.tmp.42"
        )));
        assert!(!is_private_key_path(Path::new(
            "var/lib/tmate-ssh-server/keys/ssh_host_rsa_key.pub"
        )));
        assert!(!is_private_key_path(Path::new("etc/ssh_host_rsa_key")));
    }
}
