//! Rendering settings as tmux config text that cannot be injected into.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::{Error, Result, ServerConfig};

/// Characters that tmux reads literally in an unquoted word, anywhere in it.
fn is_bare(ch: char) -> bool {
    ch.is_ascii_alphanumeric()
        || matches!(
            ch,
            '-' | '_' | '.' | '/' | ':' | '+' | '@' | '%' | ',' | '='
        )
}

/// Quotes an option value so that tmux 2.4 reads it back as exactly one argument equal
/// to `value`.
///
/// Values made of letters, digits and `-_./:+@%,=` are returned as they are; others
/// are single-quoted, or double-quoted with `\`, `"` and `$` escaped when they hold a
/// `'`. A trailing `;` (which tmux reads as a command separator even inside quotes)
/// is written as `\;`.
///
/// # Errors
///
/// [`Error::ControlCharacter`] if `value` holds a control character (a newline
/// would start a new command; tmux cannot read most others back from a file).
pub fn quote(value: &str) -> Result<Cow<'_, str>> {
    if let Some(ch) = value.chars().find(|c| c.is_control()) {
        return Err(Error::ControlCharacter {
            value: value.to_owned(),
            ch,
        });
    }
    if !value.is_empty() && value.chars().all(is_bare) {
        return Ok(Cow::Borrowed(value));
    }
    // See: cmd-list.c cmd_list_parse - an argument ending in ';' ends the command unless
    // the ';' follows a '\', which is then dropped.
    let (body, semicolon) = match value.strip_suffix(';') {
        Some(body) => (body, "\\;"),
        None => (value, ""),
    };
    let mut out = String::with_capacity(value.len() + 4);
    if !body.contains('\'') {
        // Single quotes: nothing inside is special (cmd-string.c cmd_string_string, esc = 0).
        out.push('\'');
        out.push_str(body);
        out.push_str(semicolon);
        out.push('\'');
    } else {
        // Double quotes: '\' escapes the next character, '$' expands a variable.
        out.push('"');
        for ch in body.chars() {
            if matches!(ch, '\\' | '"' | '$') {
                out.push('\\');
            }
            out.push(ch);
        }
        if !semicolon.is_empty() {
            out.push_str("\\\\;");
        }
        out.push('"');
    }
    Ok(Cow::Owned(out))
}

/// Renders one `set -g NAME VALUE` line, newline included.
///
/// # Errors
///
/// [`Error::ControlCharacter`] from [`quote`].
pub fn render_option(name: &str, value: &str) -> Result<String> {
    Ok(format!("set -g {} {}\n", quote(name)?, quote(value)?))
}

/// Renders the four server settings as `~/.tmate.conf` lines:
///
/// ```text
/// set -g tmate-server-host H
/// set -g tmate-server-port P
/// set -g tmate-server-rsa-fingerprint SHA256:...
/// set -g tmate-server-ed25519-fingerprint SHA256:...
/// ```
///
/// The values are those of [`ServerConfig::options`] (a legacy MD5 fingerprint as the bare
/// hex that tmate clients up to 2.2.1 compare).
#[must_use]
pub fn render(cfg: &ServerConfig) -> String {
    let mut out = String::with_capacity(256);
    for (name, value) in cfg.options() {
        // Hosts, ports and fingerprints are validated and consist of bare characters.
        let value = quote(&value).unwrap_or(Cow::Borrowed("''"));
        let _ = writeln!(out, "set -g {name} {value}");
    }
    out
}

/// Renders the `get-server-config` action result exactly as the original Python charm
/// did: a newline, then the [`render`] lines.
#[must_use]
pub fn render_action(cfg: &ServerConfig) -> String {
    let mut out = String::from("\n");
    out.push_str(&render(cfg));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = "SHA256:Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs";
    const ED25519: &str = "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI";

    #[test]
    fn renders_the_four_lines() {
        let cfg = ServerConfig::new("10.1.2.3", 10022, RSA, ED25519).unwrap();
        let expected = format!(
            "set -g tmate-server-host 10.1.2.3\nset -g tmate-server-port 10022\n\
             set -g tmate-server-rsa-fingerprint {RSA}\nset -g tmate-server-ed25519-fingerprint {ED25519}\n"
        );
        assert_eq!(render(&cfg), expected);
        assert_eq!(render_action(&cfg), format!("\n{expected}"));
    }

    #[test]
    fn quotes_what_tmux_would_misread() {
        let cases = [
            ("plain", "plain"),
            ("", "''"),
            ("a b", "'a b'"),
            ("#x", "'#x'"),
            ("~/id", "'~/id'"),
            ("$HOME", "'$HOME'"),
            ("it's", "\"it's\""),
            ("it's $x \\ \"q\"", "\"it's \\$x \\\\ \\\"q\\\"\""),
            ("a;", "'a\\;'"),
            ("a\\;", "'a\\\\;'"),
            ("'a;", "\"'a\\\\;\""),
            ("x\\", "'x\\'"),
            ("é", "'é'"),
        ];
        for (value, quoted) in cases {
            assert_eq!(quote(value).unwrap(), quoted, "{value:?}");
        }
    }

    #[test]
    fn refuses_control_characters() {
        assert_eq!(
            quote("a\nset -g x y").unwrap_err().to_string(),
            "option value \"a\\nset -g x y\" contains control character '\\n'"
        );
        for bad in ["\r", "\t", "\0", "\u{7f}", "\u{85}"] {
            assert!(quote(bad).is_err(), "{bad:?}");
        }
    }
}

/// The injection property: whatever the value, a rendered line is one logical line
/// holding one command that sets exactly that option to exactly that value.
#[cfg(test)]
mod injection {
    use super::*;
    use crate::{Document, Env};

    /// xorshift64*: a seeded generator, so every run checks the same values.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap()
        }
    }

    /// Characters tmux gives a meaning to, plus ordinary and multi-byte ones and
    /// control characters (which must be refused, never rendered).
    const ALPHABET: &[char] = &[
        ' ', '\t', '\n', '\r', '\0', '\x1b', '\x7f', '\'', '"', '\\', '$', '{', '}', '#', ';', '~',
        '=', '-', '@', '/', 'a', 'Z', '0', '9', 'é', '✓', '🚀', '\u{85}', '\u{feff}',
    ];

    fn value(rng: &mut Rng) -> String {
        let len = rng.below(12);
        (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect()
    }

    #[test]
    fn no_value_can_add_a_line_a_command_or_an_option() {
        let env = Env::empty().with_var("HOME", "/h").with_var("X", "a;b");
        let mut rng = Rng(0x5eed_7a7e_c0f1_9001);
        let (mut rendered, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let value = value(&mut rng);
            let Ok(line) = render_option("@v", &value) else {
                assert!(value.chars().any(char::is_control), "refused {value:?}");
                refused += 1;
                continue;
            };
            rendered += 1;
            let text = format!("{line}set -g @after ok\n");
            let doc = Document::parse(&text);
            assert_eq!(doc.line_count(), 2, "{text:?}");
            let ev = doc.evaluate(&env);
            assert!(ev.is_ok(), "{text:?}: {:?}", ev.diagnostics());
            let assigned: Vec<(&str, &str)> = ev
                .assigned()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(
                assigned,
                [("@after", "ok"), ("@v", value.as_str())],
                "{text:?}"
            );
        }
        // Both branches were exercised.
        assert!(
            rendered > 1000 && refused > 1000,
            "{rendered} rendered, {refused} refused"
        );
    }
}
