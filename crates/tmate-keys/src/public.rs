//! OpenSSH public key lines: `.pub` files, `authorized_keys` lines and the public half stored
//! in the clear inside an OpenSSH private key file.
//!
//! Parsing follows OpenSSH's `sshkey_read` and `sshkey_advance_past_options`
//! (`sshkey.c`, `auth2-pubkeyfile.c`): a line is `[options] keytype base64 [comment]`, where
//! options are only looked for when the first word is not a key type, and a `"` in the options
//! quotes spaces until the next unescaped `"`.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::error::PublicKeyErrorKind;
use crate::{Error, Fingerprint, HashAlg, Result};

/// PEM armour of an OpenSSH private key (`PROTOCOL.key`).
const PRIVATE_KEY_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
/// PEM armour end of an OpenSSH private key.
const PRIVATE_KEY_END: &str = "-----END OPENSSH PRIVATE KEY-----";
/// What `ssh-keygen -l` prints for a key without comment.
const NO_COMMENT: &str = "no comment";
/// Magic at the start of the decoded OpenSSH private key container (`PROTOCOL.key`).
const PRIVATE_KEY_MAGIC: &[u8] = b"openssh-key-v1\0";
/// Largest key blob [`fingerprint_line`] decodes on the stack: an RSA-4096 blob is 535 bytes,
/// Ed25519 51. Bigger keys take an allocating path.
const STACK_BLOB_LEN: usize = 640;

/// Standard base64 that accepts input with or without `=` padding, like OpenSSH's `b64_pton`.
const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// How the key fields after the type name are laid out (OpenSSH `PROTOCOL`, RFC 4253/5656).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `mpint e, mpint n`.
    Rsa,
    /// `mpint p, q, g, y`.
    Dsa,
    /// `string curve, string Q`.
    Ecdsa(&'static str),
    /// `string pk` (32 bytes).
    Ed25519,
    /// `string curve, string Q, string application`.
    SkEcdsa,
    /// `string pk, string application`.
    SkEd25519,
}

/// One OpenSSH public key type.
#[derive(Debug)]
struct KeyType {
    /// Name on the wire and in `.pub` lines.
    name: &'static str,
    /// Name of the plain key type (itself unless a certificate).
    plain: &'static str,
    /// What `ssh-keygen -l` prints in parentheses (OpenSSH `sshkey_type`).
    label: &'static str,
    /// Key field layout.
    layout: Layout,
    /// Fixed size `ssh-keygen -l` prints, or `None` when read from the key (RSA, DSA).
    bits: Option<u32>,
}

impl KeyType {
    fn is_cert(&self) -> bool {
        self.name != self.plain
    }
}

/// Shorthand for the table below.
const fn kt(
    name: &'static str,
    plain: &'static str,
    label: &'static str,
    layout: Layout,
    bits: Option<u32>,
) -> KeyType {
    KeyType {
        name,
        plain,
        label,
        layout,
        bits,
    }
}

/// Every public key type OpenSSH 9 knows (`sshkey.c` `keytypes[]`, without the XMSS
/// experiment), plain keys first.
static KEY_TYPES: &[KeyType] = &[
    kt(
        "ssh-ed25519",
        "ssh-ed25519",
        "ED25519",
        Layout::Ed25519,
        Some(256),
    ),
    kt("ssh-rsa", "ssh-rsa", "RSA", Layout::Rsa, None),
    kt(
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp256",
        "ECDSA",
        Layout::Ecdsa("nistp256"),
        Some(256),
    ),
    kt(
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp384",
        "ECDSA",
        Layout::Ecdsa("nistp384"),
        Some(384),
    ),
    kt(
        "ecdsa-sha2-nistp521",
        "ecdsa-sha2-nistp521",
        "ECDSA",
        Layout::Ecdsa("nistp521"),
        Some(521),
    ),
    kt("ssh-dss", "ssh-dss", "DSA", Layout::Dsa, None),
    kt(
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "ECDSA-SK",
        Layout::SkEcdsa,
        Some(256),
    ),
    kt(
        "sk-ssh-ed25519@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        "ED25519-SK",
        Layout::SkEd25519,
        Some(256),
    ),
    kt(
        "ssh-ed25519-cert-v01@openssh.com",
        "ssh-ed25519",
        "ED25519-CERT",
        Layout::Ed25519,
        Some(256),
    ),
    kt(
        "ssh-rsa-cert-v01@openssh.com",
        "ssh-rsa",
        "RSA-CERT",
        Layout::Rsa,
        None,
    ),
    kt(
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256",
        "ECDSA-CERT",
        Layout::Ecdsa("nistp256"),
        Some(256),
    ),
    kt(
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384",
        "ECDSA-CERT",
        Layout::Ecdsa("nistp384"),
        Some(384),
    ),
    kt(
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521",
        "ECDSA-CERT",
        Layout::Ecdsa("nistp521"),
        Some(521),
    ),
    kt(
        "ssh-dss-cert-v01@openssh.com",
        "ssh-dss",
        "DSA-CERT",
        Layout::Dsa,
        None,
    ),
    kt(
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "ECDSA-SK-CERT",
        Layout::SkEcdsa,
        Some(256),
    ),
    kt(
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        "ED25519-SK-CERT",
        Layout::SkEd25519,
        Some(256),
    ),
];

fn key_type(name: &[u8]) -> Option<&'static KeyType> {
    KEY_TYPES.iter().find(|t| t.name.as_bytes() == name)
}

/// A parse failure before a path or line number is known: byte offset in the line and kind.
type LineError = (usize, PublicKeyErrorKind);

/// Byte ranges of the parts of one public key line.
#[derive(Debug)]
struct Split {
    options: Option<(usize, usize)>,
    key_type: &'static KeyType,
    data: (usize, usize),
    comment: Option<(usize, usize)>,
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_space(bytes[i]) {
        i += 1;
    }
    i
}

fn token_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && !is_space(bytes[i]) {
        i += 1;
    }
    i
}

/// Strips one trailing `\n` or `\r\n`.
fn strip_newline(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// Splits a line into options, key type, base64 data and comment (no decoding).
fn split(line: &str) -> Result<Split, LineError> {
    let bytes = line.as_bytes();
    let start = skip_space(bytes, 0);
    if start == bytes.len() || bytes[start] == b'#' {
        return Err((start, PublicKeyErrorKind::NoKey));
    }
    if line[start..].starts_with(PRIVATE_KEY_BEGIN) {
        return Err((start, PublicKeyErrorKind::PrivateKey));
    }
    let first_end = token_end(bytes, start);
    let (options, type_end, key_type) = match key_type(&bytes[start..first_end]) {
        Some(t) => (None, first_end, t),
        None => {
            // Not a key type, so these are authorized_keys options (`sshkey_advance_past_options`).
            let mut i = start;
            let mut quote_at = None;
            while i < bytes.len() && (quote_at.is_some() || !is_space(bytes[i])) {
                if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else if bytes[i] == b'"' {
                    quote_at = if quote_at.is_some() { None } else { Some(i) };
                }
                i += 1;
            }
            if let Some(q) = quote_at {
                return Err((q, PublicKeyErrorKind::UnterminatedQuote));
            }
            let options_end = i;
            let type_start = skip_space(bytes, options_end);
            let type_end = token_end(bytes, type_start);
            match key_type(&bytes[type_start..type_end]) {
                Some(t) => (Some((start, options_end)), type_end, t),
                None => {
                    // Report the word that most likely meant to be the key type: the first one
                    // unless it looks like options.
                    let first = &line[start..first_end];
                    let looks_like_options = first.contains('=') || first.contains('"');
                    let (at, word) = if looks_like_options && type_start < type_end {
                        (type_start, &line[type_start..type_end])
                    } else {
                        (start, first)
                    };
                    return Err((at, PublicKeyErrorKind::UnknownKeyType(shorten(word))));
                }
            }
        }
    };
    let data_start = skip_space(bytes, type_end);
    let data_end = token_end(bytes, data_start);
    if data_start == data_end {
        return Err((data_start, PublicKeyErrorKind::MissingKeyData));
    }
    // The comment is the rest of the line, verbatim (trailing spaces included), as OpenSSH
    // keeps it.
    let comment_start = skip_space(bytes, data_end);
    let comment = (comment_start < bytes.len()).then_some((comment_start, bytes.len()));
    Ok(Split {
        options,
        key_type,
        data: (data_start, data_end),
        comment,
    })
}

/// Longest unknown key type quoted in an error; longer words are cut. Real key type names are
/// at most 44 characters.
const MAX_QUOTED_TYPE: usize = 48;

/// `word` for an error message, cut to [`MAX_QUOTED_TYPE`] characters: a file that is not a
/// public key could hold anything, and a message must not carry a whole line of it.
fn shorten(word: &str) -> String {
    match word.char_indices().nth(MAX_QUOTED_TYPE) {
        Some((cut, _)) => format!("{}...", &word[..cut]),
        None => word.to_owned(),
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
///
/// An offset at or past the end points just after the last character.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn line_error(line: &str, (offset, kind): LineError) -> Error {
    let (_, column) = line_col(line, offset);
    Error::PublicKey {
        path: None,
        line: 1,
        column,
        kind,
    }
}

/// A minimal SSH wire-format reader (RFC 4251 section 5).
struct Reader<'b> {
    rest: &'b [u8],
}

/// Error text for a blob that ends inside a field.
const TRUNCATED: &str = "truncated";

impl<'b> Reader<'b> {
    fn u32(&mut self) -> Result<u32, &'static str> {
        let (head, rest) = self.rest.split_first_chunk::<4>().ok_or(TRUNCATED)?;
        self.rest = rest;
        Ok(u32::from_be_bytes(*head))
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        let (head, rest) = self.rest.split_first_chunk::<8>().ok_or(TRUNCATED)?;
        self.rest = rest;
        Ok(u64::from_be_bytes(*head))
    }

    fn string(&mut self) -> Result<&'b [u8], &'static str> {
        let len = usize::try_from(self.u32()?).map_err(|_| TRUNCATED)?;
        if len > self.rest.len() {
            return Err(TRUNCATED);
        }
        let (s, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(s)
    }

    /// Reads an mpint and returns its size in bits (OpenSSH `BN_num_bits`).
    fn mpint_bits(&mut self) -> Result<u32, &'static str> {
        let raw = self.string()?;
        if raw.first().is_some_and(|b| b & 0x80 != 0) {
            return Err("negative integer");
        }
        let Some(first) = raw.iter().position(|&b| b != 0) else {
            return Ok(0);
        };
        let significant = u32::try_from(raw.len() - first).map_err(|_| "integer too large")?;
        Ok((significant - 1) * 8 + (8 - raw[first].leading_zeros()))
    }

    fn finish(&self) -> Result<(), &'static str> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err("trailing bytes after the key")
        }
    }
}

/// Ed25519 public key length.
const ED25519_LEN: usize = 32;

/// Reads the key fields of `layout` and returns the size `ssh-keygen -l` prints.
fn read_key_fields(reader: &mut Reader<'_>, t: &KeyType) -> Result<u32, &'static str> {
    let bits = match t.layout {
        Layout::Rsa => {
            let _e = reader.mpint_bits()?;
            reader.mpint_bits()?
        }
        Layout::Dsa => {
            let p = reader.mpint_bits()?;
            for _qgy in 0..3 {
                reader.mpint_bits()?;
            }
            p
        }
        Layout::Ecdsa(curve) => {
            if reader.string()? != curve.as_bytes() {
                return Err("curve does not match the key type");
            }
            reader.string()?;
            0
        }
        Layout::SkEcdsa => {
            if reader.string()? != b"nistp256" {
                return Err("curve does not match the key type");
            }
            reader.string()?;
            reader.string()?;
            0
        }
        Layout::Ed25519 | Layout::SkEd25519 => {
            if reader.string()?.len() != ED25519_LEN {
                return Err("ed25519 key is not 32 bytes");
            }
            if t.layout == Layout::SkEd25519 {
                reader.string()?;
            }
            0
        }
    };
    Ok(t.bits.unwrap_or(bits))
}

/// What a fully checked blob yields.
struct BlobInfo {
    bits: u32,
    /// For certificates, the plain public key blob OpenSSH fingerprints.
    plain: Option<Vec<u8>>,
}

/// Checks a blob's structure against `t` (the type name must already match).
fn inspect_blob(blob: &[u8], t: &KeyType) -> Result<BlobInfo, &'static str> {
    let mut reader = Reader { rest: blob };
    reader.string()?;
    if !t.is_cert() {
        let bits = read_key_fields(&mut reader, t)?;
        reader.finish()?;
        return Ok(BlobInfo { bits, plain: None });
    }
    // Certificate (`PROTOCOL.certkeys`): nonce, the plain key fields, then the certificate body.
    reader.string()?;
    let fields_start = blob.len() - reader.rest.len();
    let bits = read_key_fields(&mut reader, t)?;
    let fields = &blob[fields_start..blob.len() - reader.rest.len()];
    reader.u64()?; // serial
    reader.u32()?; // type
    for _ in 0..2 {
        reader.string()?; // key id, principals
    }
    reader.u64()?; // valid after
    reader.u64()?; // valid before
    for _ in 0..5 {
        reader.string()?; // critical options, extensions, reserved, signature key, signature
    }
    reader.finish()?;
    // OpenSSH fingerprints a certificate as its plain key (`sshkey_fingerprint_raw` force_plain).
    let mut plain = Vec::with_capacity(4 + t.plain.len() + fields.len());
    let name_len = u32::try_from(t.plain.len()).map_err(|_| TRUNCATED)?;
    plain.extend_from_slice(&name_len.to_be_bytes());
    plain.extend_from_slice(t.plain.as_bytes());
    plain.extend_from_slice(fields);
    Ok(BlobInfo {
        bits,
        plain: Some(plain),
    })
}

/// Checks that the blob starts with the string `name`; returns the name found otherwise.
fn blob_type_matches<'b>(blob: &'b [u8], name: &str) -> Result<(), Option<&'b [u8]>> {
    let mut reader = Reader { rest: blob };
    match reader.string() {
        Ok(found) if found == name.as_bytes() => Ok(()),
        Ok(found) => Err(Some(found)),
        Err(_) => Err(None),
    }
}

fn mismatch(line_type: &str, found: Option<&[u8]>) -> PublicKeyErrorKind {
    match found {
        Some(found) => PublicKeyErrorKind::TypeMismatch {
            line: line_type.to_owned(),
            blob: String::from_utf8_lossy(found).into_owned(),
        },
        None => PublicKeyErrorKind::InvalidKeyData(TRUNCATED),
    }
}

/// One parsed OpenSSH public key: a `.pub` line, an `authorized_keys` line (options allowed)
/// or the public key stored in an OpenSSH private key file.
///
/// The key data is fully checked when parsed: its type matches the line's and its fields have
/// the structure OpenSSH expects.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKeyLine<'a> {
    key_type: &'static KeyType,
    blob: Vec<u8>,
    plain_blob: Option<Vec<u8>>,
    bits: u32,
    options: Option<&'a str>,
    comment: Option<&'a str>,
}

impl PartialEq for KeyType {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for KeyType {}

impl std::fmt::Debug for PublicKeyLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKeyLine")
            .field("algorithm", &self.algorithm())
            .field("fingerprint", &self.fingerprint(HashAlg::Sha256))
            .field("options", &self.options)
            .field("comment", &self.comment)
            .finish()
    }
}

impl<'a> PublicKeyLine<'a> {
    /// Parses one line: `[options] keytype base64 [comment]`.
    ///
    /// A trailing newline is ignored. Options are only looked for when the first word is not a
    /// key type, as OpenSSH does.
    ///
    /// # Errors
    /// [`Error::PublicKey`] (line 1, with the column) when the line holds no key, names an
    /// unknown key type, has an unterminated quote in its options, or its key data is not
    /// base64 or not a well-formed key of the named type.
    pub fn parse(line: &'a str) -> Result<Self> {
        let line = strip_newline(line);
        Self::parse_inner(line).map_err(|e| line_error(line, e))
    }

    fn parse_inner(line: &'a str) -> Result<Self, LineError> {
        let split = split(line)?;
        let (data_start, data_end) = split.data;
        let blob = B64
            .decode(&line[data_start..data_end])
            .map_err(|_| (data_start, PublicKeyErrorKind::InvalidBase64))?;
        blob_type_matches(&blob, split.key_type.name)
            .map_err(|found| (data_start, mismatch(split.key_type.name, found)))?;
        let info = inspect_blob(&blob, split.key_type)
            .map_err(|why| (data_start, PublicKeyErrorKind::InvalidKeyData(why)))?;
        Ok(Self {
            key_type: split.key_type,
            blob,
            plain_blob: info.plain,
            bits: info.bits,
            options: split.options.map(|(s, e)| &line[s..e]),
            comment: split.comment.map(|(s, e)| &line[s..e]),
        })
    }

    /// Parses every key in a multi-line text (`authorized_keys`, a `.pub` file), skipping
    /// blank lines and `#` comments.
    ///
    /// # Errors
    /// The first bad line's [`Error::PublicKey`], with its line number and column.
    pub fn parse_all(text: &'a str) -> Result<Vec<Self>> {
        let mut keys = Vec::new();
        let mut offset = 0;
        for raw in text.split_inclusive('\n') {
            let line = strip_newline(raw);
            let trimmed = line.trim_start_matches([' ', '\t']);
            if !(trimmed.is_empty() || trimmed.starts_with('#')) {
                match Self::parse_inner(line) {
                    Ok(key) => keys.push(key),
                    Err((at, kind)) => {
                        let (line, column) = line_col(text, offset + at);
                        return Err(Error::PublicKey {
                            path: None,
                            line,
                            column,
                            kind,
                        });
                    }
                }
            }
            offset += raw.len();
        }
        Ok(keys)
    }

    /// Reads the public key stored in the clear in an OpenSSH private key file (encrypted or
    /// not), as `ssh-keygen -l -f PRIVATE_KEY` does. The comment is not read (it is part of the
    /// private section).
    ///
    /// # Errors
    /// [`Error::PublicKey`] when the text is not an OpenSSH private key container or its public
    /// key is malformed.
    pub fn from_private_openssh(text: &str) -> Result<PublicKeyLine<'static>> {
        let not_key = |why| line_error(text, (0, PublicKeyErrorKind::InvalidKeyData(why)));
        let body = text
            .trim()
            .strip_prefix(PRIVATE_KEY_BEGIN)
            .and_then(|rest| rest.strip_suffix(PRIVATE_KEY_END))
            .ok_or_else(|| not_key("not an OpenSSH private key"))?;
        // Sized up front: a growing String would leave unzeroized copies of the key behind.
        let mut b64 = zeroize::Zeroizing::new(String::with_capacity(body.len()));
        for part in body.split_ascii_whitespace() {
            b64.push_str(part);
        }
        let container = zeroize::Zeroizing::new(
            B64.decode(b64.as_bytes())
                .map_err(|_| not_key("private key is not valid base64"))?,
        );
        let rest = container
            .strip_prefix(PRIVATE_KEY_MAGIC)
            .ok_or_else(|| not_key("not an OpenSSH private key"))?;
        let mut reader = Reader { rest };
        let public = (|| {
            for _cipher_kdf_kdfoptions in 0..3 {
                reader.string()?;
            }
            if reader.u32()? != 1 {
                return Err("not exactly one key in the file");
            }
            reader.string()
        })()
        .map_err(not_key)?;
        let mut type_reader = Reader { rest: public };
        let name = type_reader.string().map_err(not_key)?;
        let key_type = key_type(name).ok_or_else(|| {
            line_error(
                text,
                (
                    0,
                    PublicKeyErrorKind::UnknownKeyType(shorten(&String::from_utf8_lossy(name))),
                ),
            )
        })?;
        let info = inspect_blob(public, key_type).map_err(not_key)?;
        Ok(PublicKeyLine {
            key_type,
            blob: public.to_vec(),
            plain_blob: info.plain,
            bits: info.bits,
            options: None,
            comment: None,
        })
    }

    /// The key type named in the line, e.g. `ssh-ed25519` or `ssh-rsa`.
    #[must_use]
    pub fn algorithm(&self) -> &str {
        self.key_type.name
    }

    /// The decoded key data (the SSH wire encoding of the public key or certificate).
    #[must_use]
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// The comment: the rest of the line after the key data and its following spaces,
    /// verbatim; `None` if there is nothing there.
    #[must_use]
    pub fn comment(&self) -> Option<&str> {
        self.comment
    }

    /// The `authorized_keys` options before the key type, if any, verbatim.
    #[must_use]
    pub fn options(&self) -> Option<&str> {
        self.options
    }

    /// Whether this is an OpenSSH certificate (`*-cert-v01@openssh.com`).
    #[must_use]
    pub fn is_certificate(&self) -> bool {
        self.key_type.is_cert()
    }

    /// The fingerprint `ssh-keygen -l -E ALG` prints (of the plain key for a certificate).
    #[must_use]
    pub fn fingerprint(&self, alg: HashAlg) -> Fingerprint {
        Fingerprint::of_blob(self.plain_blob.as_deref().unwrap_or(&self.blob), alg)
    }

    /// The key size `ssh-keygen -l` prints: RSA and DSA modulus bits, 256/384/521 for ECDSA,
    /// 256 for Ed25519 and the security key types.
    ///
    /// # Errors
    /// None today (the key data is checked when parsed); kept fallible for key types whose
    /// size needs more work to compute.
    pub fn bits(&self) -> Result<u32> {
        Ok(self.bits)
    }

    /// The type `ssh-keygen -l` prints in parentheses: `RSA`, `ED25519`, `ECDSA`, `DSA`,
    /// `ED25519-SK`, `ECDSA-SK`, or one of those with `-CERT`.
    #[must_use]
    pub fn type_label(&self) -> &'static str {
        self.key_type.label
    }

    /// The canonical `.pub` form `keytype base64[ comment]` (no options, no newline).
    #[must_use]
    pub fn to_openssh(&self) -> String {
        let mut line = format!("{} {}", self.key_type.name, B64.encode(&self.blob));
        if let Some(comment) = self.comment {
            line.push(' ');
            line.push_str(comment);
        }
        line
    }

    /// Whether both lines hold the same key (type and key data; options and comments ignored).
    #[must_use]
    pub fn same_key(&self, other: &PublicKeyLine<'_>) -> bool {
        self.key_type.name == other.key_type.name && self.blob == other.blob
    }

    /// The line `ssh-keygen -l -E ALG -f FILE` prints for this key (without newline):
    /// `BITS FINGERPRINT COMMENT (TYPE)`.
    ///
    /// Like `ssh-keygen` (`do_fingerprint`), the comment shown is the line's comment unless
    /// it starts with `#`, else the options before the key, else `no comment`.
    #[must_use]
    pub fn keygen_l_line(&self, alg: HashAlg) -> String {
        let shown = self
            .comment
            .filter(|c| !c.starts_with('#'))
            .or(self.options)
            .unwrap_or(NO_COMMENT);
        format!(
            "{} {} {} ({})",
            self.bits,
            self.fingerprint(alg),
            shown,
            self.type_label()
        )
    }
}

/// Fingerprint of one public key line straight from its base64, without building a key
/// object: the fast path for fingerprinting many lines.
///
/// Accepts the same lines as [`PublicKeyLine::parse`] (options, comments, trailing newline)
/// and checks the key type and the type inside the key data, but not the rest of the key's
/// structure. Certificates take the full parse, because OpenSSH fingerprints their plain key.
///
/// # Errors
/// [`Error::PublicKey`] as for [`PublicKeyLine::parse`].
pub fn fingerprint_line(line: &str, alg: HashAlg) -> Result<Fingerprint> {
    let line = strip_newline(line);
    let split = split(line).map_err(|e| line_error(line, e))?;
    if split.key_type.is_cert() {
        return PublicKeyLine::parse(line).map(|k| k.fingerprint(alg));
    }
    let (data_start, data_end) = split.data;
    let data = &line[data_start..data_end];
    let mut stack = [0u8; STACK_BLOB_LEN];
    let heap;
    let blob: &[u8] = if base64::decoded_len_estimate(data.len()) <= STACK_BLOB_LEN {
        let n = B64
            .decode_slice(data, &mut stack)
            .map_err(|_| line_error(line, (data_start, PublicKeyErrorKind::InvalidBase64)))?;
        &stack[..n]
    } else {
        heap = B64
            .decode(data)
            .map_err(|_| line_error(line, (data_start, PublicKeyErrorKind::InvalidBase64)))?;
        &heap
    };
    blob_type_matches(blob, split.key_type.name)
        .map_err(|found| line_error(line, (data_start, mismatch(split.key_type.name, found))))?;
    Ok(match alg {
        HashAlg::Sha256 => Fingerprint::Sha256(Sha256::digest(blob).into()),
        HashAlg::Md5 => Fingerprint::of_blob(blob, alg),
    })
}

impl PublicKeyLine<'_> {
    /// Reads the key from `text`, which may be a `.pub` file, an `authorized_keys` file (the
    /// first key) or an OpenSSH private key file (its public key), like `ssh-keygen -l -f`.
    ///
    /// # Errors
    /// [`Error::PublicKey`] when no key can be read.
    pub fn from_any(text: &str) -> Result<PublicKeyLine<'_>> {
        if text.trim_start().starts_with(PRIVATE_KEY_BEGIN) {
            return PublicKeyLine::from_private_openssh(text);
        }
        let mut keys = PublicKeyLine::parse_all(text)?;
        if keys.is_empty() {
            return Err(line_error(text, (0, PublicKeyErrorKind::NoKey)));
        }
        Ok(keys.swap_remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    /// Suffix OpenSSH gives certificate key types.
    const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

    fn testdata(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name)
    }

    fn read(name: &str) -> String {
        fs::read_to_string(testdata(name)).unwrap_or_else(|e| panic!("testdata/{name}: {e}"))
    }

    /// Every `testdata/*.pub`, with its captured `ssh-keygen -l` outputs.
    fn pub_files() -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(testdata(""))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".pub"))
            .collect();
        names.sort();
        assert!(names.len() >= 12, "testdata incomplete: {names:?}");
        names
    }

    #[test]
    fn pub_files_match_ssh_keygen_l() {
        for name in pub_files() {
            let text = read(&name);
            let key = PublicKeyLine::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            for alg in [HashAlg::Sha256, HashAlg::Md5] {
                let expected = read(&format!("{name}.{alg}"));
                assert_eq!(
                    format!("{}\n", key.keygen_l_line(alg)),
                    expected,
                    "{name} -E {alg}"
                );
                assert_eq!(
                    fingerprint_line(&text, alg).unwrap(),
                    key.fingerprint(alg),
                    "{name} fast path -E {alg}"
                );
                let fp_field = expected.split(' ').nth(1).unwrap();
                assert_eq!(
                    fp_field.parse::<Fingerprint>().unwrap(),
                    key.fingerprint(alg)
                );
            }
        }
    }

    #[test]
    fn authorized_keys_match_ssh_keygen_l() {
        let text = read("authorized_keys");
        let keys = PublicKeyLine::parse_all(&text).unwrap();
        for alg in [HashAlg::Sha256, HashAlg::Md5] {
            let expected = read(&format!("authorized_keys.{alg}"));
            let ours: Vec<String> = keys.iter().map(|k| k.keygen_l_line(alg)).collect();
            assert_eq!(ours, expected.lines().collect::<Vec<_>>(), "-E {alg}");
        }
        // And line by line through the fast path.
        let fast: Vec<Fingerprint> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|l| fingerprint_line(l, HashAlg::Sha256).unwrap())
            .collect();
        let slow: Vec<Fingerprint> = keys
            .iter()
            .map(|k| k.fingerprint(HashAlg::Sha256))
            .collect();
        assert_eq!(fast, slow);
        assert_eq!(
            keys[0].options(),
            Some(r#"command="echo \"hello world\"",no-pty"#)
        );
        assert_eq!(
            keys[1].options(),
            Some(r#"from="10.0.0.0/8,192.168.1.1",environment="A=b c""#)
        );
        assert_eq!(keys[2].comment(), None);
        assert!(keys[4].is_certificate());
    }

    #[test]
    fn private_key_files_give_the_public_fingerprint() {
        for name in pub_files() {
            let private = name.trim_end_matches(".pub");
            let Ok(text) = fs::read_to_string(testdata(private)) else {
                continue; // certificates and security keys have no private key here
            };
            let key = PublicKeyLine::from_private_openssh(&text).unwrap();
            let public = read(&name);
            let expected = PublicKeyLine::parse(&public).unwrap();
            assert!(key.same_key(&expected), "{private}");
            assert_eq!(key.bits().unwrap(), expected.bits().unwrap());
            assert_eq!(key.type_label(), expected.type_label());
            assert_eq!(
                PublicKeyLine::from_any(&text)
                    .unwrap()
                    .fingerprint(HashAlg::Sha256),
                expected.fingerprint(HashAlg::Sha256)
            );
        }
    }

    #[test]
    fn key_type_table_is_consistent() {
        for t in KEY_TYPES {
            if t.is_cert() {
                let stem = t.plain.strip_suffix("@openssh.com").unwrap_or(t.plain);
                assert_eq!(t.name, format!("{stem}{CERT_SUFFIX}"));
                let plain = key_type(t.plain.as_bytes()).unwrap();
                assert_eq!(t.label, format!("{}-CERT", plain.label));
                assert_eq!((t.layout, t.bits), (plain.layout, plain.bits));
            }
        }
    }

    fn err(line: &str) -> String {
        PublicKeyLine::parse(line).unwrap_err().to_string()
    }

    #[test]
    fn parse_errors_are_pinned_with_columns() {
        let ed = read("ed25519.pub");
        let data = ed.split(' ').nth(1).unwrap();
        assert_eq!(err(""), "1:1: no public key on this line");
        assert_eq!(err("   # comment"), "1:4: no public key on this line");
        assert_eq!(err("ssh-foo AAAA"), "1:1: unknown key type \"ssh-foo\"");
        assert_eq!(
            err(r#"command="x" ssh-foo AAAA"#),
            "1:13: unknown key type \"ssh-foo\""
        );
        assert_eq!(
            err(r#"command="unterminated ssh-ed25519 AAAA"#),
            "1:9: unterminated quote in key options"
        );
        assert_eq!(
            err("ssh-ed25519"),
            "1:12: missing key data after the key type"
        );
        assert_eq!(
            err("ssh-ed25519   "),
            "1:15: missing key data after the key type"
        );
        assert_eq!(
            err("ssh-ed25519 AAAA!"),
            "1:13: key data is not valid base64"
        );
        assert_eq!(
            err(&format!("ssh-rsa {data}")),
            "1:9: key type \"ssh-rsa\" does not match the key data (\"ssh-ed25519\")"
        );
        assert_eq!(
            err(&format!("é ssh-ed25519 {}", &data[..40])),
            "1:15: invalid key data: truncated"
        );
        assert_eq!(
            err(&format!("{}\n", read("ed25519").lines().next().unwrap())),
            "1:1: this is a private key, not a public key line"
        );
        let long = "A".repeat(100);
        assert_eq!(
            err(&format!("{long} {long}")),
            format!("1:1: unknown key type \"{}...\"", &long[..48])
        );
        let with_path = PublicKeyLine::parse("x")
            .unwrap_err()
            .with_path(std::path::Path::new("keys/a.pub"));
        assert_eq!(
            with_path.to_string(),
            "keys/a.pub:1:1: unknown key type \"x\""
        );
    }

    #[test]
    fn parse_all_reports_the_line_and_column() {
        let ed = read("ed25519.pub");
        let text = format!("# keys\n\n{ed}  ssh-ed25519 AAAA!\n");
        let e = PublicKeyLine::parse_all(&text).unwrap_err();
        assert_eq!(e.to_string(), "4:15: key data is not valid base64");
        assert!(PublicKeyLine::parse_all("").unwrap().is_empty());
        assert_eq!(
            PublicKeyLine::parse_all(&format!("{ed}{ed}"))
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn line_col_offsets() {
        assert_eq!(line_col("", 0), (1, 1));
        assert_eq!(line_col("abc", 3), (1, 4), "end of input");
        assert_eq!(line_col("abc", 99), (1, 4), "past the end");
        assert_eq!(line_col("ab\ncd", 3), (2, 1), "start of second line");
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab\n", 3), (2, 1), "after a final newline");
        assert_eq!(line_col("éé x", 5), (1, 4), "columns count characters");
        assert_eq!(line_col("é", 1), (1, 1), "inside a character");
    }

    #[test]
    fn trailing_whitespace_and_crlf() {
        let ed = read("ed25519_nocomment.pub");
        assert!(ed.ends_with(" \n"), "ssh-keygen writes a trailing space");
        assert_eq!(PublicKeyLine::parse(&ed).unwrap().comment(), None);
        let crlf = ed.replace('\n', "\r\n");
        assert_eq!(
            fingerprint_line(&crlf, HashAlg::Sha256).unwrap(),
            fingerprint_line(&ed, HashAlg::Sha256).unwrap()
        );
        let unpadded = read("rsa3072.pub").replacen("= ", " ", 1);
        assert_eq!(
            fingerprint_line(&unpadded, HashAlg::Sha256).unwrap(),
            fingerprint_line(&read("rsa3072.pub"), HashAlg::Sha256).unwrap()
        );
    }

    #[test]
    fn to_openssh_is_canonical() {
        let text = read("authorized_keys");
        let keys = PublicKeyLine::parse_all(&text).unwrap();
        assert_eq!(
            keys[0].to_openssh(),
            read("ed25519.pub").trim_end(),
            "options dropped"
        );
    }
}
