//! `tmate-keygen fingerprint`: `ssh-keygen -l` for files of public keys, streamed.
//!
//! The line grammar follows `do_fingerprint()` in OpenSSH's `ssh-keygen.c`: blank lines and
//! `#` comments are skipped; a line is a bare key (`TYPE BASE64 [COMMENT]`) or a key after
//! one prefix field (authorized_keys options or known_hosts host names, with `"` quoting);
//! lines that hold no key are skipped silently, and an input without any key is an error.
//! The comment printed is the text after the key, or else the prefix field, or else
//! `no comment`; control bytes in it are escaped as `\ooo` like OpenSSH's `mprintf`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};

use tmate_keys::{HashAlg, HostKey, PUB_SUFFIX, PublicKeyLine};
use zeroize::Zeroizing;

use crate::cli::{FingerprintArgs, Input, STDIN_NAME};
use crate::error::{Error, Result};

/// Printed in place of an absent comment, as `ssh-keygen -l`.
const NO_COMMENT: &str = "no comment";
/// A first line containing this (unless it is blank or a `#` comment) marks a private key
/// file, as in `ssh-keygen -l`.
const PRIVATE_KEY_MARKER: &[u8] = b"PRIVATE KEY";
/// Private key files are small; refuse to slurp anything bigger into memory.
const MAX_PRIVATE_KEY_BYTES: usize = 1 << 20;
/// Size of the input buffer. Larger than `std::io::BufReader`'s 8 KiB: it is wiped once per
/// input, and fewer reads make streaming a file of 100,000 keys cheaper.
const INPUT_BUFFER_BYTES: usize = 64 * 1024;

/// Runs `fingerprint` over every input, writing to `out`.
///
/// An input that fails is reported through `report` and the others are still processed.
/// Returns whether every input succeeded.
///
/// # Errors
///
/// [`Error::Stdout`] when writing to `out` fails (this stops everything).
pub(crate) fn run(
    args: &FingerprintArgs,
    out: &mut impl Write,
    report: &mut impl FnMut(Error),
) -> Result<bool> {
    let mut all_ok = true;
    // One reader for every `-`, so that what one input left in the buffer goes to the next.
    let mut stdin: Option<SecretBufReader<File>> = None;
    for input in &args.inputs {
        let result = match input {
            Input::Stdin => match &mut stdin {
                Some(reader) => fingerprint_reader(STDIN_NAME, None, reader, args.hash, out),
                None => match stdin_unbuffered() {
                    Ok(file) => {
                        let reader = stdin.insert(SecretBufReader::new(file));
                        fingerprint_reader(STDIN_NAME, None, reader, args.hash, out)
                    }
                    Err(e) => Err(Error::read(STDIN_NAME, e)),
                },
            },
            Input::File(path) => {
                let name = path.display().to_string();
                match File::open(path) {
                    Ok(file) => {
                        let mut reader = SecretBufReader::new(file);
                        fingerprint_reader(&name, Some(path), &mut reader, args.hash, out)
                    }
                    Err(e) => Err(Error::read(&name, e)),
                }
            }
        };
        match result {
            Ok(()) => {}
            Err(e @ Error::Stdout(_)) => return Err(e),
            Err(e) => {
                all_ok = false;
                report(e);
            }
        }
    }
    out.flush().map_err(Error::Stdout)?;
    Ok(all_ok)
}

/// Standard input as a `File` on a duplicate of descriptor 0, read without the buffer of
/// `std::io::Stdin`: that buffer lives as long as the process and is never wiped, and a
/// private key may arrive on standard input.
fn stdin_unbuffered() -> io::Result<File> {
    Ok(File::from(io::stdin().as_fd().try_clone_to_owned()?))
}

/// A buffered reader whose buffer is zeroized when it is dropped.
///
/// Every input goes through one: which inputs are private keys is only known from their
/// first line, and a `std::io::BufReader` would leave the key bytes it buffered in freed
/// memory. The buffer has a fixed size, so it never reallocates (which would leave a copy).
struct SecretBufReader<R> {
    inner: R,
    buf: Zeroizing<Box<[u8]>>,
    /// Start of the unread bytes in `buf`.
    pos: usize,
    /// End of the bytes read into `buf`.
    filled: usize,
}

impl<R: Read> SecretBufReader<R> {
    fn new(inner: R) -> Self {
        Self::with_capacity(INPUT_BUFFER_BYTES, inner)
    }

    fn with_capacity(capacity: usize, inner: R) -> Self {
        Self {
            inner,
            buf: Zeroizing::new(vec![0; capacity].into_boxed_slice()),
            pos: 0,
            filled: 0,
        }
    }
}

impl<R: Read> Read for SecretBufReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for SecretBufReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            self.filled = loop {
                match self.inner.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.filled);
    }
}

/// Fingerprints one input named `name` (read from `path` unless it is standard input),
/// line by line.
fn fingerprint_reader(
    name: &str,
    path: Option<&Path>,
    reader: &mut impl BufRead,
    hash: HashAlg,
    out: &mut impl Write,
) -> Result<()> {
    // Zeroizing: the first line is handed on as the start of a private key file.
    let mut line = Zeroizing::new(Vec::new());
    let mut found = false;
    let mut first = true;
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::read(name, e))?
            == 0
        {
            break;
        }
        if first && !is_skipped(&line) && contains(&line, PRIVATE_KEY_MARKER) {
            let bytes = read_private(&line, reader).map_err(|e| Error::read(name, e))?;
            return fingerprint_private(name, path, &bytes, hash, out);
        }
        first = false;
        if let Some(entry) = parse_line(&line) {
            write_entry(out, &entry.key, entry.comment, hash)?;
            found = true;
        }
    }
    if found {
        Ok(())
    } else {
        Err(Error::NoKey {
            name: name.to_owned(),
        })
    }
}

/// The whole private key file whose first line is `first`: at most
/// [`MAX_PRIVATE_KEY_BYTES`] more are read from `reader`.
///
/// The bytes go into one zeroized buffer allocated at its final size, so no reallocation
/// leaves a copy of the key behind.
fn read_private(first: &[u8], reader: &mut impl Read) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut bytes = Zeroizing::new(vec![0; first.len() + MAX_PRIVATE_KEY_BYTES]);
    bytes[..first.len()].copy_from_slice(first);
    let mut len = first.len();
    while len < bytes.len() {
        match reader.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // Shortening keeps the allocation, which is wiped whole on drop.
    bytes.truncate(len);
    Ok(bytes)
}

/// Fingerprints the private key file `bytes`.
///
/// The fingerprint is always that of the private key itself. The comment follows
/// `ssh-keygen -l` (`fingerprint_private()` and `sshkey_load_public()`): taken from `FILE.pub`
/// when that holds the same key (the `.pub` path itself when its line has no comment), else
/// from the private key when it is readable (unencrypted RSA or Ed25519 here), else none.
/// Unlike `ssh-keygen`, a `.pub` holding another key is ignored rather than reported.
fn fingerprint_private(
    name: &str,
    path: Option<&Path>,
    bytes: &[u8],
    hash: HashAlg,
    out: &mut impl Write,
) -> Result<()> {
    // A non-UTF-8 file cannot be an OpenSSH key: let the library say so on empty text.
    let text = std::str::from_utf8(bytes).unwrap_or("");
    // The public key sits in the clear in the container (even when encrypted), so this
    // works for every key type; the comment is only readable from an unencrypted key.
    let key = PublicKeyLine::from_private_openssh(text).map_err(|e| Error::PrivateKey {
        name: name.to_owned(),
        detail: match e {
            tmate_keys::Error::PublicKey { kind, .. } => kind.to_string(),
            other => other.to_string(),
        },
    })?;
    let comment = path
        .and_then(|p| neighbour_comment(p, &key))
        .or_else(|| {
            HostKey::from_openssh(text)
                .ok()
                .map(|k| k.comment().as_bytes().to_vec())
        })
        .filter(|c| !c.is_empty());
    write_entry(out, &key, comment.as_deref(), hash)
}

/// The comment `ssh-keygen` takes from `PATH.pub` for the private key `PATH`: the text after
/// the first readable key line, or the `.pub` path when there is none. `None` when the file is
/// unreadable, holds no key before a private key marker, or holds a different key.
fn neighbour_comment(path: &Path, key: &PublicKeyLine<'_>) -> Option<Vec<u8>> {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(PUB_SUFFIX);
    let pub_path = PathBuf::from(pub_path);
    let file = File::open(&pub_path).ok()?;
    // A public key file: an ordinary buffer will do.
    let mut reader = BufReader::new(file.take(MAX_PRIVATE_KEY_BYTES as u64));
    let mut line = Vec::new();
    // See: OpenSSH authfile.c sshkey_try_load_public().
    while reader.read_until(b'\n', &mut line).ok()? > 0 {
        let end = line
            .iter()
            .position(|&b| b == b'\n' || b == 0)
            .unwrap_or(line.len());
        let text = &line[..end];
        if text.is_empty() || text[0] == b'#' {
            line.clear();
            continue;
        }
        if text.starts_with(b"-----BEGIN") || text == b"SSH PRIVATE KEY FILE" {
            return None;
        }
        if let Some((pub_key, rest)) = read_key(trim_blanks(text)) {
            if !pub_key.same_key(key) {
                return None;
            }
            let rest = trim_blanks(rest);
            let comment_end = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len());
            let comment = &rest[..comment_end];
            return Some(if comment.is_empty() {
                pub_path.as_os_str().as_encoded_bytes().to_vec()
            } else {
                comment.to_vec()
            });
        }
        line.clear();
    }
    None
}

/// One key found on a line, with the comment `ssh-keygen -l` would print for it.
struct Entry<'a> {
    /// The parsed key (`TYPE BASE64`).
    key: PublicKeyLine<'a>,
    /// The raw comment bytes, if any.
    comment: Option<&'a [u8]>,
}

/// Writes `BITS FINGERPRINT COMMENT (TYPE)`.
fn write_entry(
    out: &mut impl Write,
    key: &PublicKeyLine<'_>,
    comment: Option<&[u8]>,
    hash: HashAlg,
) -> Result<()> {
    let bits = key.bits().unwrap_or(0);
    let mut line = format!("{bits} {} ", key.fingerprint(hash)).into_bytes();
    match comment {
        Some(comment) => escape_into(comment, &mut line),
        None => line.extend_from_slice(NO_COMMENT.as_bytes()),
    }
    line.extend_from_slice(format!(" ({})\n", key.type_label()).as_bytes());
    out.write_all(&line).map_err(Error::Stdout)
}

/// Parses one input line as `ssh-keygen -l` does; `None` for a line it skips.
fn parse_line(line: &[u8]) -> Option<Entry<'_>> {
    // C string semantics: the line ends at the first newline or NUL.
    let end = line
        .iter()
        .position(|&b| b == b'\n' || b == 0)
        .unwrap_or(line.len());
    let line = trim_blanks(&line[..end]);
    if line.is_empty() || line[0] == b'#' {
        return None;
    }
    let mut prefix = None;
    let (key, rest) = match read_key(line) {
        Some(found) => found,
        None => {
            // A leading non-zero number followed by a blank is an SSH1 key: never retried.
            if leading_nonzero_number(line) {
                return None;
            }
            let split = prefix_end(line)?;
            prefix = Some(&line[..split]);
            // Exactly one separator is consumed: a second blank makes the key unreadable.
            read_key(&line[split + 1..])?
        }
    };
    let trailing = trim_blanks(rest);
    let comment = if trailing.is_empty() || trailing[0] == b'#' {
        prefix
    } else {
        Some(trailing)
    };
    Some(Entry { key, comment })
}

/// Reads `TYPE BLANKS BASE64` at the start of `s`; returns the key and the rest after it.
fn read_key(s: &[u8]) -> Option<(PublicKeyLine<'_>, &[u8])> {
    let type_end = s.iter().position(|&b| is_blank(b))?;
    if type_end == 0 {
        return None;
    }
    let blob_start = type_end + s[type_end..].iter().position(|&b| !is_blank(b))?;
    let blob_end = s[blob_start..]
        .iter()
        .position(|&b| is_blank(b))
        .map_or(s.len(), |n| blob_start + n);
    let key_type = std::str::from_utf8(&s[..type_end]).ok()?;
    let text = std::str::from_utf8(&s[..blob_end]).ok()?;
    let key = PublicKeyLine::parse(text).ok()?;
    // The name on the line must be the blob's own type (as OpenSSH's `sshkey_read`).
    if key.algorithm() != key_type || key.bits().is_err() {
        return None;
    }
    Some((key, &s[blob_end..]))
}

/// `strtol(s, &end, 10) != 0 && (*end == ' ' || *end == '\t')`.
fn leading_nonzero_number(s: &[u8]) -> bool {
    let unsigned = match s.first() {
        Some(b'+' | b'-') => &s[1..],
        _ => s,
    };
    let digits = unsigned.iter().take_while(|b| b.is_ascii_digit()).count();
    let nonzero = unsigned[..digits].iter().any(|&b| b != b'0');
    nonzero && unsigned.get(digits).is_some_and(|&b| is_blank(b))
}

/// End of the first field (blank-separated, `"` quotes, `\"` escapes); `None` if it is all.
fn prefix_end(s: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' if s.get(i + 1) == Some(&b'"') => i += 1,
            b'"' => quoted = !quoted,
            b if !quoted && is_blank(b) => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether `ssh-keygen -l` skips `line` outright (blank, or a `#` comment).
fn is_skipped(line: &[u8]) -> bool {
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    trim_blanks(&line[..end]).first().is_none_or(|&b| b == b'#')
}

/// Space or tab, the only separators OpenSSH knows in key lines.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without leading blanks.
fn trim_blanks(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    &s[start..]
}

/// Whether `haystack` contains `needle`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Appends `comment` with control characters and invalid UTF-8 escaped as `\ooo`, like
/// OpenSSH's `mprintf` in a UTF-8 locale (tab and carriage return pass through).
fn escape_into(comment: &[u8], out: &mut Vec<u8>) {
    let octal = |b: u8, out: &mut Vec<u8>| {
        out.extend_from_slice(format!("\\{b:03o}").as_bytes());
    };
    for chunk in comment.utf8_chunks() {
        for c in chunk.valid().chars() {
            let mut buf = [0; 4];
            let encoded = c.encode_utf8(&mut buf).as_bytes();
            if c.is_control() && c != '\t' && c != '\r' {
                for &b in encoded {
                    octal(b, out);
                }
            } else {
                out.extend_from_slice(encoded);
            }
        }
        for &b in chunk.invalid() {
            octal(b, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ed25519 public key made by `ssh-keygen -t ed25519`.
    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFSLVe0U+wYtSgAfY3T/mpJodlAbhMuIkHHElOoHoJqF";
    /// Its SHA-256 fingerprint, from `ssh-keygen -l`.
    const ED_FP: &str = "SHA256:hQSl6ZY3FA0xY6XiJ4ubrj+ws4pTtCxotQbTQVNjR7E";

    fn comment_of(line: &str) -> Option<Option<String>> {
        parse_line(line.as_bytes())
            .map(|e| e.comment.map(|c| String::from_utf8_lossy(c).into_owned()))
    }

    fn output(input: &str) -> String {
        let mut out = Vec::new();
        fingerprint_reader("t", None, &mut input.as_bytes(), HashAlg::Sha256, &mut out)
            .expect("fingerprint");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn bare_key_with_and_without_comment() {
        assert_eq!(comment_of(ED), Some(None));
        assert_eq!(comment_of(&format!("{ED} ")), Some(None));
        assert_eq!(
            comment_of(&format!("{ED}  a  b ")),
            Some(Some("a  b ".into()))
        );
        assert_eq!(comment_of(&format!("{ED} #c")), Some(None));
        assert_eq!(comment_of(&format!("   {ED}\tx")), Some(Some("x".into())));
    }

    #[test]
    fn prefix_becomes_the_comment_only_without_one() {
        assert_eq!(
            comment_of(&format!("from=\"a b\",no-pty {ED} c")),
            Some(Some("c".into()))
        );
        assert_eq!(
            comment_of(&format!("from=\"a b\",no-pty {ED} # c")),
            Some(Some("from=\"a b\",no-pty".into()))
        );
        assert_eq!(
            comment_of(&format!("host1,host2 {ED}")),
            Some(Some("host1,host2".into()))
        );
        assert_eq!(
            comment_of(&format!("0 {ED} zero")),
            Some(Some("zero".into()))
        );
        assert_eq!(comment_of(&format!("12x {ED} n")), Some(Some("n".into())));
    }

    #[test]
    fn skipped_lines() {
        for line in [
            String::new(),
            "   ".into(),
            "# comment".into(),
            format!("#{ED}"),
            "garbage line".into(),
            "ssh-ed25519 AAAAbroken".into(),
            "ssh-ed25519".into(),
            format!("from=x  {ED} two blanks after the prefix"),
            format!("7 {ED} ssh1-style number"),
            format!("+7\t{ED} x"),
            format!("@cert-authority *.x {ED} ca"),
            format!("ssh-rsa {}", &ED[12..]),
        ] {
            assert!(parse_line(line.as_bytes()).is_none(), "{line:?}");
        }
    }

    #[test]
    fn output_lines_are_ssh_keygen_format() {
        assert_eq!(
            output(&format!("{ED}\n")),
            format!("256 {ED_FP} no comment (ED25519)\n")
        );
        assert_eq!(
            output(&format!("# x\n\n{ED} me@host\r\n")),
            format!("256 {ED_FP} me@host\r (ED25519)\n")
        );
    }

    #[test]
    fn control_bytes_are_escaped_like_mprintf() {
        let mut out = Vec::new();
        escape_into(b"a\tb\x7fc\x1bd\xffe\xc3\xa9f\x08g\\h\xc2\x85i\r", &mut out);
        assert_eq!(
            out,
            b"a\tb\\177c\\033d\\377e\xc3\xa9f\\010g\\h\\302\\205i\r"
        );
    }

    #[test]
    fn no_key_is_an_error_naming_the_input() {
        let mut out = Vec::new();
        let err = fingerprint_reader(
            "x.pub",
            None,
            &mut &b"garbage\n"[..],
            HashAlg::Sha256,
            &mut out,
        )
        .expect_err("no key");
        assert_eq!(err.to_string(), "x.pub: no public key found");
        let err = fingerprint_reader("(stdin)", None, &mut &b""[..], HashAlg::Sha256, &mut out)
            .expect_err("no key");
        assert_eq!(err.to_string(), "(stdin): no public key found");
    }

    #[test]
    fn private_key_marker_only_counts_on_a_first_line_that_is_not_a_comment() {
        let mut out = Vec::new();
        let text = format!("# PRIVATE KEY notes\n{ED} k\n");
        fingerprint_reader("t", None, &mut text.as_bytes(), HashAlg::Sha256, &mut out)
            .expect("a public key file");
        assert_eq!(out, format!("256 {ED_FP} k (ED25519)\n").into_bytes());
        let err = fingerprint_reader(
            "t",
            None,
            &mut &b"-----BEGIN RSA PRIVATE KEY-----\nxx\n"[..],
            HashAlg::Sha256,
            &mut out,
        )
        .expect_err("PEM is not supported");
        assert_eq!(
            err.to_string(),
            "t: invalid key data: not an OpenSSH private key"
        );
    }

    /// A reader that hands out at most `chunk` bytes per call, like a pipe.
    struct Trickle<'a> {
        rest: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.rest.len().min(self.chunk).min(out.len());
            out[..n].copy_from_slice(&self.rest[..n]);
            self.rest = &self.rest[n..];
            Ok(n)
        }
    }

    #[test]
    fn secret_reader_gives_back_lines_across_refills() {
        let text = format!("# keys\n{ED} one\n\n{ED} two\nno newline at the end");
        for (capacity, chunk) in [(1, 1), (7, 3), (7, 100), (4096, 5)] {
            let inner = Trickle {
                rest: text.as_bytes(),
                chunk,
            };
            let mut reader = SecretBufReader::with_capacity(capacity, inner);
            let mut lines = Vec::new();
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).expect("read") > 0 {
                lines.push(String::from_utf8(std::mem::take(&mut line)).expect("utf8"));
            }
            assert_eq!(lines.concat(), text, "capacity {capacity}, chunk {chunk}");
            assert_eq!(lines.len(), 5);
        }
    }

    /// The bytes of a private key read through `fingerprint` are held by types that wipe
    /// them on drop (checked at compile time), and the key buffer is allocated once at its
    /// final size, so growing it never left an unwiped copy (checked at run time).
    #[test]
    fn private_key_bytes_are_held_in_zeroizing_buffers() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tmate-keys/testdata/rsa3072");
        let key = std::fs::read(&path).expect("read test vector");
        // A small buffer, so the key passes through it in many refills.
        let mut reader = SecretBufReader::with_capacity(
            256,
            Trickle {
                rest: &key,
                chunk: 100,
            },
        );
        wiped_on_drop(&reader.buf);
        let mut first = Zeroizing::new(Vec::new());
        reader.read_until(b'\n', &mut first).expect("first line");
        wiped_on_drop(&first);
        let bytes = read_private(&first, &mut reader).expect("read");
        wiped_on_drop(&bytes);
        assert_eq!(&bytes[..], &key[..]);
        assert_eq!(bytes.capacity(), first.len() + MAX_PRIVATE_KEY_BYTES);
        let mut out = Vec::new();
        fingerprint_private("k", None, &bytes, HashAlg::Sha256, &mut out).expect("fingerprint");
        let expected = std::fs::read_to_string(path.with_extension("pub.sha256"))
            .expect("expected fingerprint");
        assert_eq!(String::from_utf8(out).expect("utf8"), expected);
    }

    #[test]
    fn leading_number_rule() {
        assert!(leading_nonzero_number(b"7 x"));
        assert!(leading_nonzero_number(b"-3\tx"));
        assert!(!leading_nonzero_number(b"0 x"));
        assert!(!leading_nonzero_number(b"12x y"));
        assert!(!leading_nonzero_number(b"7"));
        assert!(!leading_nonzero_number(b"host 7"));
    }
}
