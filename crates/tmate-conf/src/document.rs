//! The lossless document model: parse, evaluate, edit, write back.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::eval::{self, Change, Outcome};
use crate::lex::{self, LogicalLine};
use crate::pos::LineIndex;
use crate::table::{self, Kind, Lookup};
use crate::{
    Diagnostic, ED25519_FINGERPRINT_OPTION, Env, Error, HOST_OPTION, PORT_OPTION,
    RSA_FINGERPRINT_OPTION, Result, ServerConfig, quote, render_option,
};

/// Mode of a config file this crate creates (`~/.tmate.conf` holds no secret).
const NEW_FILE_MODE: u32 = 0o644;

/// A tmate config file (tmux 2.4 syntax), kept byte for byte.
///
/// The document is a sequence of logical lines (physical lines joined by a trailing
/// `\`); printing it (`Display`, [`Document::as_str`]) gives back the input exactly.
/// [`Document::evaluate`] runs it the way the tmate 2.4 client does, and the editing
/// methods change only the words or lines they must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    path: Option<PathBuf>,
    text: String,
    lines: Vec<LogicalLine>,
}

impl Document {
    /// Parses config text. This never fails: a line the client would reject is kept as
    /// it is and reported by [`Document::evaluate`].
    #[must_use]
    pub fn parse(text: &str) -> Self {
        Self {
            path: None,
            text: text.to_owned(),
            lines: lex::logical_lines(text),
        }
    }

    /// Reads and parses a config file; diagnostics will name `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Read`] if the file cannot be read, [`Error::NotUtf8`] if it is not
    /// UTF-8.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
            path: path.to_owned(),
        })?;
        Ok(Self::parse(&text).with_path(path))
    }

    /// Sets the file name that diagnostics carry.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The file name diagnostics carry, if any.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The document text, exactly as parsed or edited.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The number of logical lines (physical lines joined by `\` count as one).
    #[must_use]
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// Runs the config the way the tmate 2.4 client does, in `env`.
    #[must_use]
    pub fn evaluate(&self, env: &Env) -> Evaluation {
        let outcome = eval::run(&self.lines, env);
        let index = LineIndex::new(&self.text);
        let diagnostics = outcome
            .problems
            .iter()
            .map(|p| {
                let pos = index.line_col(&self.text, p.offset);
                Diagnostic {
                    path: self.path.clone(),
                    offset: p.offset,
                    line: pos.line,
                    column: pos.column,
                    tmux_line: p.tmux_line,
                    message: p.message.clone(),
                    hint: p.hint.clone(),
                }
            })
            .collect();
        Evaluation {
            diagnostics,
            outcome,
        }
    }

    /// Makes the four server settings of `cfg` effective, changing as little as
    /// possible: the value word of the command that sets an option last is replaced,
    /// and options the file does not set are appended as `set -g` lines. Everything
    /// else (comments, blank lines, other settings, their spelling) stays byte for
    /// byte. Returns whether the text changed.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if the document has problems the client would report (fix
    /// them first), [`Error::EditMismatch`] or [`Error::EditInvalid`] if the edited
    /// document would not mean what was asked (the document is then left unchanged).
    pub fn set_server_config(&mut self, cfg: &ServerConfig, env: &Env) -> Result<bool> {
        let options = cfg.options();
        let pairs: Vec<(&str, &str)> = options.iter().map(|(n, v)| (*n, v.as_str())).collect();
        self.set_options(&pairs, env)
    }

    /// Sets `tmate-*` string or number options, or `@user` options, as
    /// [`Document::set_server_config`] does. Returns whether the text changed.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedOption`] for an option whose value this crate does not
    /// follow, [`Error::ControlCharacter`] for a value tmux cannot read back,
    /// [`Error::Config`], [`Error::EditMismatch`] and [`Error::EditInvalid`] as for
    /// [`Document::set_server_config`].
    pub fn set_options(&mut self, options: &[(&str, &str)], env: &Env) -> Result<bool> {
        // One value per option: the last one given wins.
        let options: Vec<(&str, &str)> = options
            .iter()
            .enumerate()
            .filter(|(i, (name, _))| !options[i + 1..].iter().any(|(later, _)| later == name))
            .map(|(_, pair)| *pair)
            .collect();
        for (name, value) in &options {
            quote(value)?;
            if !is_followed(name) {
                return Err(Error::UnsupportedOption {
                    name: (*name).to_owned(),
                });
            }
        }
        let before = self.evaluate(env);
        if !before.diagnostics.is_empty() {
            return Err(Error::Config {
                diagnostics: before.diagnostics,
            });
        }
        let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
        let mut appended = String::new();
        for (name, value) in &options {
            let assigned = before.outcome.values.get(*name);
            match before.outcome.changes.get(*name) {
                Some(Change::Set { .. })
                    if assigned.map(String::as_str) == Some(normalise(name, value).as_ref()) => {}
                Some(Change::Set { span, split }) => {
                    let mut word = quote(value)?.into_owned();
                    if *split {
                        // Keep the command separator the old word carried.
                        word.push_str(" ;");
                    }
                    edits.push((span.clone(), word));
                }
                _ => appended.push_str(&render_option(name, value)?),
            }
        }
        if edits.is_empty() && appended.is_empty() {
            return Ok(false);
        }
        let mut text = self.text.clone();
        edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
        for (span, word) in &edits {
            text.replace_range(span.clone(), word);
        }
        if !appended.is_empty() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            // A last line ending in a continuation would swallow the first new line;
            // an empty line ends the continuation.
            if let Some(last) = lex::logical_lines(&text).last()
                && continues(&text[last.range.clone()])
            {
                text.push('\n');
            }
            text.push_str(&appended);
        }
        let edited = Self {
            path: self.path.clone(),
            lines: lex::logical_lines(&text),
            text,
        };
        let after = edited.evaluate(env);
        if !after.diagnostics.is_empty() {
            return Err(Error::EditInvalid {
                diagnostics: after.diagnostics,
            });
        }
        for (name, value) in &options {
            let found = after.value(name).unwrap_or_default();
            if found != normalise(name, value) {
                return Err(Error::EditMismatch {
                    name: (*name).to_owned(),
                    expected: (*value).to_owned(),
                    found: found.into_owned(),
                });
            }
        }
        *self = edited;
        Ok(true)
    }
}

/// Whether the last physical line of `line` ends in a `\` that continues it.
fn continues(line: &str) -> bool {
    let body = line.strip_suffix('\n').unwrap_or(line);
    let backslashes = body.bytes().rev().take_while(|&b| b == b'\\').count();
    backslashes % 2 == 1
}

/// Options whose values [`Evaluation`] follows: typed `tmate-*` options and `@user`
/// options, by full name.
fn is_followed(name: &str) -> bool {
    if let Some(user) = name.strip_prefix('@') {
        return !user.is_empty();
    }
    table::OPTIONS
        .iter()
        .any(|e| e.name == name && !matches!(e.kind, Kind::Unchecked))
}

/// The text the client stores for `value`: numbers are normalised (`+022` is `22`).
fn normalise<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if let Lookup::Found(entry) = table::find_option(name)
        && let Kind::Number { min, max, .. } = entry.kind
        && let Ok(n) = eval::strtonum(value, min, max)
    {
        return Cow::Owned(n.to_string());
    }
    Cow::Borrowed(value)
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            f.write_str(&self.text[line.range.clone()])?;
        }
        Ok(())
    }
}

/// What a config means to the tmate 2.4 client: the problems it reports and the
/// values of the options this crate follows (typed `tmate-*` options and `@user`
/// options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    diagnostics: Vec<Diagnostic>,
    outcome: Outcome,
}

impl Evaluation {
    /// Problems the client would report, in document order.
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// `true` when the client would report no problem.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// The effective value of a followed option: what the config set, else the
    /// client's default (`None` for an unset `@user` option or an option this crate
    /// does not follow). `name` must be the full option name.
    #[must_use]
    pub fn value(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(value) = self.outcome.values.get(name) {
            return Some(Cow::Borrowed(value));
        }
        let entry = table::OPTIONS.iter().find(|e| e.name == name)?;
        match entry.kind {
            Kind::String(default) => Some(Cow::Borrowed(default)),
            Kind::Number { default, .. } => Some(Cow::Owned(default.to_string())),
            Kind::Unchecked => None,
        }
    }

    /// The followed options the config leaves at a value other than "unset", with
    /// their values, sorted by name.
    #[must_use]
    pub fn assigned(&self) -> &BTreeMap<String, String> {
        &self.outcome.values
    }

    /// The effective `tmate-server-*` settings a client would connect with.
    #[must_use]
    pub fn server_settings(&self) -> ServerSettings {
        let get = |name| self.value(name).unwrap_or_default().into_owned();
        ServerSettings {
            host: get(HOST_OPTION),
            port: get(PORT_OPTION).parse().unwrap_or_default(),
            rsa_fingerprint: get(RSA_FINGERPRINT_OPTION),
            ed25519_fingerprint: get(ED25519_FINGERPRINT_OPTION),
        }
    }
}

/// The effective server settings of a config, unvalidated (the client accepts any
/// text for the host and the fingerprints).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSettings {
    /// `tmate-server-host`.
    pub host: String,
    /// `tmate-server-port`.
    pub port: u16,
    /// `tmate-server-rsa-fingerprint`.
    pub rsa_fingerprint: String,
    /// `tmate-server-ed25519-fingerprint`.
    pub ed25519_fingerprint: String,
}

impl ServerSettings {
    /// Validates the settings into a [`ServerConfig`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHost`], [`Error::InvalidPort`] or [`Error::InvalidFingerprint`].
    pub fn to_server_config(&self) -> Result<ServerConfig> {
        ServerConfig::new(
            &self.host,
            self.port,
            &self.rsa_fingerprint,
            &self.ed25519_fingerprint,
        )
    }
}

/// Makes `options` effective in the config file at `path`, creating it (mode 0644)
/// if it does not exist, as [`Document::set_options`] does (pass
/// [`ServerConfig::options`] for the server settings). The file is replaced atomically (temporary file in the same directory,
/// fsync, rename) and keeps its mode and owner; a symlink is followed and its target
/// replaced. Nothing is written when nothing changes. Returns whether it changed.
///
/// # Errors
///
/// [`Error::Read`], [`Error::NotUtf8`], [`Error::UnsupportedOption`],
/// [`Error::ControlCharacter`], [`Error::Config`], [`Error::EditMismatch`],
/// [`Error::EditInvalid`] or [`Error::Write`].
pub fn update_file(path: impl AsRef<Path>, options: &[(&str, &str)], env: &Env) -> Result<bool> {
    let path = path.as_ref();
    let target = match fs::canonicalize(path) {
        Ok(target) => target,
        Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_owned(),
        Err(source) => {
            return Err(Error::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut doc = match Document::read(&target) {
        // Diagnostics name the file as the caller did, not its resolved target.
        Ok(doc) => doc.with_path(path),
        Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Document::parse("").with_path(path)
        }
        Err(e) => return Err(e),
    };
    if !doc.set_options(options, env)? {
        return Ok(false);
    }
    write_atomic(&target, doc.as_str())?;
    Ok(true)
}

/// Replaces `path` with `contents` atomically, keeping its mode and owner.
fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Write { path, source }
    };
    let existing = match fs::metadata(path) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => return Err(write_err(path)(source)),
    };
    let mode = existing
        .as_ref()
        .map_or(NEW_FILE_MODE, |m| m.permissions().mode() & 0o7777);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "tmate.conf".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode & 0o777)
            .open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        // The umask may have cleared bits of the original mode.
        file.set_permissions(Permissions::from_mode(mode))?;
        if let Some(meta) = &existing {
            let mine = file.metadata()?;
            if (mine.uid(), mine.gid()) != (meta.uid(), meta.gid()) {
                std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()))?;
            }
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(write_err(path)(source));
    }
    // Make the rename itself durable.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(write_err(dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = "SHA256:Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs";
    const ED25519: &str = "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI";
    const OTHER: &str = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn env() -> Env {
        Env::empty()
            .with_var("HOME", "/h")
            .with_var("FOO", "1.2.3.4")
            .with_user("root", "/root")
    }

    /// Evaluates `text` and returns the options it changed and its diagnostics.
    fn run(text: &str) -> (Vec<(String, String)>, Vec<String>) {
        let doc = Document::parse(text);
        assert_eq!(doc.to_string(), text);
        let ev = doc.evaluate(&env());
        let values = ev
            .assigned()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let diags = ev.diagnostics().iter().map(ToString::to_string).collect();
        (values, diags)
    }

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Config text, the options it changes, its diagnostics.
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    );

    /// Each case was run through the Debian tmate 2.4.0 client first; the values and
    /// the lines of its errors are what it reported.
    #[test]
    fn evaluates_like_the_tmate_client() {
        let cases: &[Case] = &[
            (
                "set -g tmate-server-host 127.0.0.1#c\nset -g tmate-identity a#b\n",
                &[("tmate-identity", "a"), ("tmate-server-host", "127.0.0.1")],
                &[],
            ),
            (
                "set -g tmate-identity ~ foo\n",
                &[("tmate-identity", "/h foo")],
                &[],
            ),
            (
                "set -g tmate-identity ~root/x\n",
                &[("tmate-identity", "/root/x")],
                &[],
            ),
            (
                "set -g tmate-identity \"~\"\n",
                &[("tmate-identity", "~")],
                &[],
            ),
            (
                "set -g tmate-identity \"a\\\\qb\\\\e\"\n",
                &[("tmate-identity", "a\\qb\\e")],
                &[],
            ),
            (
                "set -g tmate-identity a\\\\b\n",
                &[("tmate-identity", "a\\\\b")],
                &[],
            ),
            (
                "set -g tmate-identity foo \\\n  bar\n",
                &[],
                &[
                    "2:3: too many arguments for set-option (usage: set-option [-agosquw] [-t target-window] option [value])",
                ],
            ),
            ("# comment \\\nset -g tmate-identity x\n", &[], &[]),
            (
                "set -g tmate-server-port 2; set -g tmate-identity y\n",
                &[("tmate-identity", "y"), ("tmate-server-port", "2")],
                &[],
            ),
            (
                "set -g tmate-server-port 2 ; bogus\n",
                &[],
                &["1:30: unknown command \"bogus\""],
            ),
            (
                "set -g tmate-identity \"a;\"\n",
                &[("tmate-identity", "a")],
                &[],
            ),
            (
                "set -g tmate-identity a\\\\;\n",
                &[("tmate-identity", "a\\;")],
                &[],
            ),
            (
                "set -g tmate-server-host 'a\\;'\n",
                &[("tmate-server-host", "a;")],
                &[],
            ),
            (
                "set -g tmate-server-p 7\n",
                &[("tmate-server-port", "7")],
                &[],
            ),
            (
                "set -g tmate-server 7\n",
                &[],
                &[
                    "1:8: ambiguous option \"tmate-server\" (could be: tmate-server-host, tmate-server-port, tmate-server-dsa-fingerprint, tmate-server-rsa-fingerprint, tmate-server-ecdsa-fingerprint, tmate-server-ed25519-fingerprint)",
                ],
            ),
            (
                "set -g tmate-server-port +22\n",
                &[("tmate-server-port", "22")],
                &[],
            ),
            (
                "set -g tmate-server-port \" 023\"\n",
                &[("tmate-server-port", "23")],
                &[],
            ),
            (
                "set -g tmate-server-port 65536\nset -g tmate-server-port 0\n",
                &[],
                &[
                    "1:26: value \"65536\" is too large for option \"tmate-server-port\" (expected a number from 1 to 65535)",
                    "2:26: value \"0\" is too small for option \"tmate-server-port\" (expected a number from 1 to 65535)",
                ],
            ),
            (
                "set -g tmate-server-port 6\r\n",
                &[],
                &[
                    "1:26: invalid value \"6\\r\" for option \"tmate-server-port\" (expected a number from 1 to 65535)",
                ],
            ),
            (
                "set tmate-server-port 5\nset-option -s tmate-server-host h1\nsetw -g tmate-identity i\n",
                &[
                    ("tmate-identity", "i"),
                    ("tmate-server-host", "h1"),
                    ("tmate-server-port", "5"),
                ],
                &[],
            ),
            (
                "set -g tmate-server-port 5\nset -gu tmate-server-port\nset -g tmate-server-host h3\nset -gu tmate-server-host\n",
                &[],
                &[],
            ),
            (
                "set -go tmate-server-port 5\n",
                &[],
                &[
                    "1:9: option \"tmate-server-port\" is already set (-o sets only unset options, and this one has a default)",
                ],
            ),
            (
                "set -g tmate-server-host foo\nset -ga tmate-server-host bar\nset -ga tmate-server-port 5\n",
                &[("tmate-server-host", "foobar"), ("tmate-server-port", "5")],
                &[],
            ),
            (
                "set -ga tmate-server-host .x\n",
                &[("tmate-server-host", "ssh.tmate.io.x")],
                &[],
            ),
            (
                "set -gq tmate-server-bogus 1\nset -q -g tmate-server 1\nset -g tmate-server-host\n",
                &[],
                &["3:8: missing value for option \"tmate-server-host\""],
            ),
            (
                "set -g -- tmate-server-port 5\n",
                &[("tmate-server-port", "5")],
                &[],
            ),
            (
                "FOO=9.9.9.9\nset -g tmate-server-host $FOO\nset -g tmate-identity \"${FOO}\"x'$FOO'$FOO.x\n",
                &[
                    ("tmate-identity", "9.9.9.9x$FOO9.9.9.9.x"),
                    ("tmate-server-host", "9.9.9.9"),
                ],
                &[],
            ),
            // The assignment happens after the line's own words were expanded.
            (
                "FOO=x set -g tmate-identity $FOO\n",
                &[("tmate-identity", "1.2.3.4")],
                &[],
            ),
            (
                "set -g tmate-identity $UNSET\n",
                &[("tmate-identity", "")],
                &[],
            ),
            (
                "set -g tmate-identity ${FOO\nset -g tmate-server-host $\nset -g tmate-server-port 3$1\nset -g tmate-server-rsa-fingerprint \"a$\"\n",
                &[],
                &[
                    "1:23: \"${\" must be followed by a variable name and \"}\"",
                    "2:26: \"$\" at the end of a line",
                    "3:26: invalid value \"3$1\" for option \"tmate-server-port\" (expected a number from 1 to 65535)",
                    "4:37: unterminated double quote",
                ],
            ),
            (
                "  \t set -g tmate-server-port 7\n\t\n\r\n\x0bset -g tmate-server-host h13\n",
                &[("tmate-server-host", "h13"), ("tmate-server-port", "7")],
                &[],
            ),
            (
                "set -g tmate-server-host \"a\"b'c'\nse -g tmate-server-port 8\n",
                &[("tmate-server-host", "abc")],
                &[
                    "2:1: ambiguous command \"se\" (could be: select-layout, select-pane, select-window, send-keys, send-prefix, server-info, set-buffer, set-environment, set-hook, set-option, set-window-option)",
                ],
            ),
            (
                "set-o -g tmate-server-port 8\nset -g tmate-server-port 5 extra\nset -g tmate-server-host \"unterminated\n",
                &[("tmate-server-port", "8")],
                &[
                    "2:28: too many arguments for set-option (usage: set-option [-agosquw] [-t target-window] option [value])",
                    "3:26: unterminated double quote",
                ],
            ),
            (
                "set -g tmate-server-port 9 ;; set -g tmate-server-host h16\n",
                &[],
                &[
                    "1:28: too many arguments for set-option (usage: set-option [-agosquw] [-t target-window] option [value])",
                ],
            ),
            (
                "set -g tmate-server-host ~nosuchuser/x\n",
                &[],
                &["1:26: cannot expand \"~nosuchuser\": no such user"],
            ),
            (
                "set -g tmate-server-port 10\0 bogus\nset -g tmate-server-host h18\\",
                &[("tmate-server-host", "h18"), ("tmate-server-port", "10")],
                &[],
            ),
            (
                "set -g tmate-server-port 11 ; set -g tmate-server-port\nset -g tmate-server-host h20 \\; set -g tmate-identity i20\n",
                &[("tmate-server-port", "11")],
                &[
                    "1:38: missing value for option \"tmate-server-port\"",
                    "2:30: too many arguments for set-option (usage: set-option [-agosquw] [-t target-window] option [value])",
                ],
            ),
            (
                "set -g tmate-server-host h21;set -g tmate-identity i21\nset -g tmate-server-port ';'\n",
                &[],
                &[
                    "1:34: too many arguments for set-option (usage: set-option [-agosquw] [-t target-window] option [value])",
                    "2:8: missing value for option \"tmate-server-port\"",
                ],
            ),
            (
                "set -g tmate-server-host \"a\\\"b\\\\c\\$d\\e\\ne\\tf\\rg\\xh\"\n",
                &[("tmate-server-host", "a\"b\\c$d\x1b\ne\tf\rgxh")],
                &[],
            ),
            (
                "set -x tmate-server-port 5\nset -g\nset -g ''\nset -gu tmate-server-port 5\nset -g @x\nset -g tmate-server-port[0] 5\nset status off\nset -w mode-keys vi\n",
                &[],
                &[
                    "1:5: unknown flag \"-x\" for set-option (usage: set-option [-agosquw] [-t target-window] option [value])",
                    "2:5: set-option needs an option name (usage: set-option [-agosquw] [-t target-window] option [value])",
                    "3:8: empty option name",
                    "4:27: value passed to unset option \"tmate-server-port\"",
                    "5:8: missing value for option \"@x\"",
                    "6:8: unknown option \"tmate-server-port[0]\" (did you mean \"tmate-server-port\"?)",
                    "7:5: session option \"status\" needs -g in a config file (tmate: no current session)",
                    "8:8: window option \"mode-keys\" needs -g in a config file (tmate: no current window)",
                ],
            ),
            (
                "set -g tmate-server-host h33 ; set -x\nset -g tmate-server-port 4 ; set -g tmate-server-prot 1 ; set -g tmate-identity i33\n",
                &[("tmate-server-port", "4")],
                &[
                    "1:36: unknown flag \"-x\" for set-option (usage: set-option [-agosquw] [-t target-window] option [value])",
                    "2:37: unknown option \"tmate-server-prot\" (did you mean \"tmate-server-port\"?)",
                ],
            ),
            (
                "set -gu @nope x\nset -ga @u x\nset -ga @u y\nset -go @u z\nset -gq tmate-bogus x ; set -g tmate-identity b\n",
                &[("@u", "xy"), ("tmate-identity", "b")],
                &[
                    "1:9: unknown option \"@nope\"",
                    "4:9: option \"@u\" is already set",
                ],
            ),
            (
                "; set -g tmate-identity a\nset -g tmate-server-host h50 ;\n",
                &[("tmate-server-host", "h50")],
                &["1:1: empty command before \";\""],
            ),
            (
                "set @x y\nset -gt foo tmate-server-host h\n",
                &[],
                &[
                    "1:5: user option \"@x\" needs -g in a config file (tmate 2.4 crashes without a current session)",
                    "2:5: \"-t\" cannot be used in a config file (tmate 2.4 crashes resolving a target before any session exists)",
                ],
            ),
            (
                "set -g tmate-display-time 2147483647\nset -g tmate-display-time 2147483648\nset -g tmate-foreground-restart 2\n",
                &[("tmate-display-time", "2147483647")],
                &[
                    "2:27: value \"2147483648\" is too large for option \"tmate-display-time\" (expected a number from 1 to 2147483647)",
                    "3:33: value \"2\" is too large for option \"tmate-foreground-restart\" (expected a number from 0 to 1)",
                ],
            ),
            (
                "bind-key -t vi-copy v begin-selection\nsset -g status off\n",
                &[],
                &["2:1: unknown command \"sset\" (did you mean \"set\"?)"],
            ),
        ];
        for (text, values, diags) in cases {
            let (got_values, got_diags) = run(text);
            assert_eq!(got_values, opts(values), "values of {text:?}");
            assert_eq!(got_diags, *diags, "diagnostics of {text:?}");
        }
    }

    #[test]
    fn diagnostics_carry_the_path_and_tmux_line() {
        let doc = Document::parse("sset \\\n b\n").with_path("t.conf");
        let ev = doc.evaluate(&env());
        let d = &ev.diagnostics()[0];
        assert_eq!(
            d.to_string(),
            "t.conf:1:1: unknown command \"sset\" (did you mean \"set\"?)"
        );
        assert_eq!(
            (d.line(), d.column(), d.tmux_line(), d.offset()),
            (1, 1, 2, 0)
        );
        assert_eq!(d.path(), Some(Path::new("t.conf")));
        assert_eq!(d.message(), "unknown command \"sset\"");
    }

    #[test]
    fn server_settings_default_to_tmate_io() {
        let ev = Document::parse("set -g tmate-server-port 10022\n").evaluate(&env());
        let s = ev.server_settings();
        assert_eq!((s.host.as_str(), s.port), ("ssh.tmate.io", 10022));
        assert_eq!(s.rsa_fingerprint, RSA);
        assert_eq!(s.ed25519_fingerprint, ED25519);
        assert!(s.to_server_config().is_ok());
        assert_eq!(ev.value("tmate-foreground-restart").as_deref(), Some("1"));
        assert_eq!(ev.value("status"), None);
        assert_eq!(ev.value("@nope"), None);
    }

    fn cfg() -> ServerConfig {
        ServerConfig::new("10.0.0.5", 10022, OTHER, ED25519).unwrap()
    }

    fn apply(text: &str) -> String {
        let mut doc = Document::parse(text);
        doc.set_server_config(&cfg(), &env()).unwrap();
        let s = doc.evaluate(&env()).server_settings();
        assert_eq!(s.to_server_config().unwrap(), cfg());
        doc.to_string()
    }

    #[test]
    fn editing_appends_to_an_empty_or_unrelated_file() {
        assert_eq!(apply(""), crate::render(&cfg()));
        let user = "# my settings\nset -g status-left 'x'\n\nbind r source-file ~/.tmate.conf";
        assert_eq!(apply(user), format!("{user}\n{}", crate::render(&cfg())));
    }

    #[test]
    fn editing_replaces_only_the_value_words() {
        let text = "# server\nset-option -g tmate-server-host \"old host\" # keep me\n\
                    set -g status-left x ; set -g tmate-server-port 22; set -g status-right y\n\
                    setw -g tmate-server-rsa-f 'SHA256:old'\n\
                    set -g tmate-server-ed25519-fingerprint SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI\n";
        let expected = "# server\nset-option -g tmate-server-host 10.0.0.5 # keep me\n\
                        set -g status-left x ; set -g tmate-server-port 10022 ; set -g status-right y\n\
                        setw -g tmate-server-rsa-f SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\
                        set -g tmate-server-ed25519-fingerprint SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI\n";
        assert_eq!(apply(text), expected);
        // Applying again changes nothing.
        let mut doc = Document::parse(expected);
        assert!(!doc.set_server_config(&cfg(), &env()).unwrap());
        assert_eq!(doc.as_str(), expected);
    }

    #[test]
    fn editing_appends_after_unset_append_and_continuations() {
        let text = "set -g tmate-server-host a\nset -ga tmate-server-host b\nset -gu tmate-server-port\nset -g @x y \\\n";
        let out = apply(text);
        assert_eq!(out, format!("{text}\n{}", crate::render(&cfg())));
    }

    #[test]
    fn editing_refuses_a_config_with_problems() {
        let mut doc = Document::parse("set -g tmate-server-prot 1\n");
        let err = doc.set_server_config(&cfg(), &env()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1:8: unknown option \"tmate-server-prot\" (did you mean \"tmate-server-port\"?)"
        );
        assert_eq!(doc.as_str(), "set -g tmate-server-prot 1\n");
    }

    #[test]
    fn set_options_checks_its_inputs() {
        let mut doc = Document::parse("");
        assert_eq!(
            doc.set_options(&[("status", "on")], &env())
                .unwrap_err()
                .to_string(),
            "option \"status\" cannot be edited (only typed tmate-* options and @user options can)"
        );
        assert!(doc.set_options(&[("@x", "a\nb")], &env()).is_err());
        assert!(doc.set_options(&[("@x", "it's; $HOME #")], &env()).unwrap());
        assert_eq!(
            doc.evaluate(&env()).value("@x").as_deref(),
            Some("it's; $HOME #")
        );
        // The last value given for an option wins.
        assert!(
            doc.set_options(&[("@x", "a"), ("@y", "b"), ("@x", "c")], &env())
                .unwrap()
        );
        assert_eq!(doc.evaluate(&env()).value("@x").as_deref(), Some("c"));
    }

    fn options() -> Vec<(&'static str, String)> {
        cfg().options().to_vec()
    }

    fn update(path: &Path) -> Result<bool> {
        let options = options();
        let pairs: Vec<(&str, &str)> = options.iter().map(|(n, v)| (*n, v.as_str())).collect();
        update_file(path, &pairs, &env())
    }

    #[test]
    fn update_file_creates_keeps_mode_and_skips_needless_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tmate.conf");
        assert!(update(&path).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), crate::render(&cfg()));
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            NEW_FILE_MODE
        );

        fs::write(&path, "set -g mouse on\n").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        assert!(update(&path).unwrap());
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("set -g mouse on\n{}", crate::render(&cfg())));
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o640
        );

        // Nothing to change: the file is not rewritten (same inode, same mtime).
        let before = fs::metadata(&path).unwrap();
        assert!(!update(&path).unwrap());
        let after = fs::metadata(&path).unwrap();
        assert_eq!(
            (before.ino(), before.mtime_nsec()),
            (after.ino(), after.mtime_nsec())
        );
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn update_file_follows_a_symlink_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dotfiles.conf");
        let link = dir.path().join(".tmate.conf");
        fs::write(&target, "# dotfiles\n").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(update(&link).unwrap());
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            fs::read_to_string(&target)
                .unwrap()
                .starts_with("# dotfiles\nset -g tmate-server-host")
        );
    }

    #[test]
    fn update_file_leaves_a_broken_config_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.conf");
        fs::write(&path, "set -g status on\nset -g tmate-server-port nope\n").unwrap();
        let err = update(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2:26: invalid value \"nope\" for option \"tmate-server-port\" (expected a number from 1 to 65535)",
                path.display()
            )
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "set -g status on\nset -g tmate-server-port nope\n"
        );
        fs::write(&path, b"\xff\xfe").unwrap();
        assert_eq!(
            update(&path).unwrap_err().to_string(),
            format!("{}: not valid UTF-8", path.display())
        );
    }

    #[test]
    fn update_file_reports_an_unwritable_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("tmate.conf");
        let err = update(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("failed to write {}", path.display())
        );
        assert!(std::error::Error::source(&err).is_some());
    }
}
