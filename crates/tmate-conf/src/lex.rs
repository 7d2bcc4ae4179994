//! The two lexical layers of a tmux 2.4 config: physical lines joined into logical
//! lines (`fparseln` with `\` as escape and continuation character, no comment
//! character), and logical lines split into words (`cmd-string.c`).
//!
//! Everything here mirrors the client's C code, quirks included; the comments name the
//! quirk and the function it comes from.

use std::ops::Range;

/// One logical line: one or more physical lines joined by `\` continuations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    /// Byte range of the line in the document, newline(s) included.
    pub(crate) range: Range<usize>,
    /// The line number tmux reports for this line: the number of the last physical
    /// line read (one more when the file ends in a continuation).
    pub(crate) tmux_line: usize,
    /// The joined text as tmux sees it: continuations removed, cut at the first NUL.
    pub(crate) joined: Vec<u8>,
    /// Document offset of every byte of `joined`, plus one entry for its end.
    pub(crate) map: Vec<usize>,
}

/// Splits a document into logical lines; the ranges partition the whole text.
pub(crate) fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut pos = 0;
    let mut lineno = 0;
    while pos < bytes.len() {
        let start = pos;
        let mut joined = Vec::new();
        let mut map = Vec::new();
        let mut started = false;
        let mut more = true;
        while more {
            more = false;
            lineno += 1;
            if pos >= bytes.len() {
                break;
            }
            let end = bytes[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| pos + i + 1);
            let mut content_end = end;
            if content_end > pos && bytes[content_end - 1] == b'\n' {
                content_end -= 1;
            }
            if content_end > pos
                && bytes[content_end - 1] == b'\\'
                && !is_escaped(&bytes[pos..content_end - 1])
            {
                content_end -= 1;
                more = true;
            }
            // fparseln: an empty piece after a continuation adds nothing (and, without
            // its own continuation, ends the logical line).
            if content_end > pos || !started {
                joined.extend_from_slice(&bytes[pos..content_end]);
                map.extend(pos..content_end);
                started = true;
            }
            pos = end;
        }
        // The end of the joined text stands just after its last byte.
        map.push(map.last().map_or(start, |&last| last + 1));
        // The line is a C string from here on: it ends at the first NUL.
        if let Some(nul) = joined.iter().position(|&b| b == 0) {
            joined.truncate(nul);
            map.truncate(nul + 1);
        }
        lines.push(LogicalLine {
            range: start..pos,
            tmux_line: lineno,
            joined,
            map,
        });
    }
    lines
}

/// `fparseln` `isescaped`: an odd number of `\` before a character escapes it.
fn is_escaped(before: &[u8]) -> bool {
    before.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// C `isspace` in the C and UTF-8 locales, for single bytes.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A part of a word, before expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Literal bytes.
    Lit(Vec<u8>),
    /// `$NAME` or `${NAME}`: the variable's value, or nothing.
    Var(String),
    /// `~` or `~user` at the start of a word, followed by the character that ended it
    /// (`/`, space or tab, which tmux keeps in the word), if any.
    Home {
        user: Option<Vec<u8>>,
        last: Option<u8>,
        /// Index of the `~` in the joined line.
        at: usize,
    },
}

/// A word of a logical line, before expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) pieces: Vec<Piece>,
    /// Indices into the joined line: first byte, and one past the last byte consumed.
    pub(crate) span: Range<usize>,
}

/// Why a logical line cannot be split into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LexErrorKind {
    /// A `'` or `"` string runs to the end of the line.
    Unterminated(u8),
    /// A `$` ends the line.
    DollarAtEnd,
    /// `${` is not followed by a name and `}`.
    BadBraces,
}

/// A lexical error at an index of the joined line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LexError {
    pub(crate) kind: LexErrorKind,
    pub(crate) at: usize,
}

/// `cmd_string_variable` first and following name characters.
fn is_name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_name_char(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

struct Cursor<'a> {
    s: &'a [u8],
    p: usize,
}

impl Cursor<'_> {
    fn getc(&mut self) -> Option<u8> {
        let b = self.s.get(self.p).copied();
        if b.is_some() {
            self.p += 1;
        }
        b
    }
}

/// Splits a joined logical line into words (`cmd_string_parse`). Leading white space
/// (C `isspace`) is skipped first, as `load_cfg` does.
pub(crate) fn words(line: &[u8]) -> Result<Vec<Word>, LexError> {
    let skip = line.iter().take_while(|&&b| is_c_space(b)).count();
    let mut c = Cursor { s: line, p: skip };
    let mut words = Vec::new();
    // `Some` once the current word has started (tmux: `buf != NULL`).
    let mut cur: Option<(usize, Vec<Piece>)> = None;
    loop {
        let at = c.p;
        let ch = c.getc();
        match ch {
            Some(q @ (b'\'' | b'"')) => {
                let pieces = quoted(&mut c, q, at)?;
                let word = cur.get_or_insert_with(|| (at, Vec::new()));
                // An empty string still starts a word (tmux reallocates `buf`).
                word.1.push(Piece::Lit(Vec::new()));
                word.1.extend(pieces);
            }
            Some(b'$') => {
                let piece = variable(&mut c, at)?;
                cur.get_or_insert_with(|| (at, Vec::new())).1.push(piece);
            }
            None | Some(b'#' | b' ' | b'\t') => {
                if let Some((start, pieces)) = cur.take() {
                    words.push(Word {
                        pieces,
                        span: start..at,
                    });
                }
                // '#' starts a comment anywhere outside quotes, even inside a word.
                if matches!(ch, None | Some(b'#')) {
                    return Ok(words);
                }
            }
            Some(b'~') if cur.is_none() => {
                cur = Some((at, vec![tilde(&mut c, at)]));
            }
            Some(b) => push_byte(&mut cur.get_or_insert_with(|| (at, Vec::new())).1, b),
        }
    }
}

fn push_byte(pieces: &mut Vec<Piece>, b: u8) {
    if let Some(Piece::Lit(lit)) = pieces.last_mut() {
        lit.push(b);
    } else {
        pieces.push(Piece::Lit(vec![b]));
    }
}

/// `cmd_string_string`: the rest of a string opened by `end` at index `open`.
/// In double quotes `\` escapes (`\e \r \n \t`, anything else stands for itself) and
/// `$` expands; in single quotes nothing is special.
fn quoted(c: &mut Cursor<'_>, end: u8, open: usize) -> Result<Vec<Piece>, LexError> {
    let unterminated = LexError {
        kind: LexErrorKind::Unterminated(end),
        at: open,
    };
    let esc = end == b'"';
    let mut pieces = Vec::new();
    loop {
        let at = c.p;
        let mut b = c.getc().ok_or(unterminated)?;
        if b == end {
            return Ok(pieces);
        }
        if esc && b == b'\\' {
            b = match c.getc().ok_or(unterminated)? {
                b'e' => 0x1b,
                b'r' => b'\r',
                b'n' => b'\n',
                b't' => b'\t',
                other => other,
            };
        } else if esc && b == b'$' {
            pieces.push(variable(c, at)?);
            continue;
        }
        push_byte(&mut pieces, b);
    }
}

/// `cmd_string_variable`, called after a `$` at index `at`.
fn variable(c: &mut Cursor<'_>, at: usize) -> Result<Piece, LexError> {
    let err = |kind| LexError { kind, at };
    let mut ch = c.getc().ok_or(err(LexErrorKind::DollarAtEnd))?;
    let braced = ch == b'{';
    if braced {
        ch = match c.getc() {
            Some(b) if is_name_start(b) => b,
            _ => return Err(err(LexErrorKind::BadBraces)),
        };
    } else if !is_name_start(ch) {
        // "$1", "$ ", "$'": tmux keeps both characters literally.
        return Ok(Piece::Lit(vec![b'$', ch]));
    }
    let mut name = vec![ch];
    loop {
        let before = c.p;
        match c.getc() {
            Some(b) if is_name_char(b) => name.push(b),
            Some(b'}') if braced => break,
            _ if braced => return Err(err(LexErrorKind::BadBraces)),
            Some(_) => {
                c.p = before;
                break;
            }
            None => break,
        }
    }
    Ok(Piece::Var(String::from_utf8_lossy(&name).into_owned()))
}

/// `cmd_string_expand_tilde`, called after a `~` that starts a word.
fn tilde(c: &mut Cursor<'_>, at: usize) -> Piece {
    let ends = |b: Option<u8>| matches!(b, None | Some(b'/' | b' ' | b'\t'));
    let before = c.p;
    let last = c.getc();
    if ends(last) {
        return Piece::Home {
            user: None,
            last,
            at,
        };
    }
    c.p = before;
    let mut user = Vec::new();
    loop {
        let b = c.getc();
        if ends(b) {
            return Piece::Home {
                user: Some(user),
                last: b,
                at,
            };
        }
        user.extend(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(text: &str) -> Vec<(String, usize)> {
        logical_lines(text)
            .into_iter()
            .map(|l| (String::from_utf8(l.joined).unwrap(), l.tmux_line))
            .collect()
    }

    #[test]
    fn continuation_and_line_numbers_follow_fparseln() {
        assert_eq!(joined(""), vec![]);
        assert_eq!(joined("a\nb"), vec![("a".into(), 1), ("b".into(), 2)]);
        assert_eq!(
            joined("a \\\n b\nc\n"),
            vec![("a  b".into(), 2), ("c".into(), 3)]
        );
        // An escaped backslash does not continue; three do.
        assert_eq!(
            joined("x\\\\\ny\n"),
            vec![("x\\\\".into(), 1), ("y".into(), 2)]
        );
        assert_eq!(joined("x\\\\\\\ny\n"), vec![("x\\\\y".into(), 2)]);
        // An empty line ends a continuation; a lone backslash line continues.
        assert_eq!(
            joined("a \\\n\nb\n"),
            vec![("a ".into(), 2), ("b".into(), 3)]
        );
        assert_eq!(joined("\\\nb\n"), vec![("b".into(), 2)]);
        // A continuation at the end of the file counts one more line, as tmux does.
        assert_eq!(joined("a\nb \\\n"), vec![("a".into(), 1), ("b ".into(), 3)]);
        // NUL ends the C string.
        assert_eq!(joined("a\0b\nc"), vec![("a".into(), 1), ("c".into(), 2)]);
    }

    #[test]
    fn ranges_partition_the_text() {
        let text = "a \\\n b\n\n# c \\\nd\r\ne";
        let lines = logical_lines(text);
        let mut pos = 0;
        for l in &lines {
            assert_eq!(l.range.start, pos);
            pos = l.range.end;
            assert_eq!(l.map.len(), l.joined.len() + 1);
        }
        assert_eq!(pos, text.len());
    }

    fn texts(line: &str) -> Result<Vec<String>, LexError> {
        let words = words(line.as_bytes())?;
        Ok(words
            .iter()
            .map(|w| {
                let mut out = Vec::new();
                for p in &w.pieces {
                    match p {
                        Piece::Lit(b) => out.extend(b),
                        Piece::Var(n) => out.extend(format!("<{n}>").bytes()),
                        Piece::Home { user, last, .. } => {
                            out.extend(
                                format!(
                                    "<~{}>",
                                    String::from_utf8_lossy(user.as_deref().unwrap_or(b""))
                                )
                                .bytes(),
                            );
                            out.extend(last);
                        }
                    }
                }
                String::from_utf8(out).unwrap()
            })
            .collect())
    }

    #[test]
    fn words_follow_cmd_string_parse() {
        assert_eq!(texts("  set -g a b").unwrap(), ["set", "-g", "a", "b"]);
        assert_eq!(texts("a#b c").unwrap(), ["a"]);
        assert_eq!(texts("'a b'\"c\"d ''").unwrap(), ["a bcd", ""]);
        assert_eq!(texts(r#""\e\r\n\t\x\\\"""#).unwrap(), ["\x1b\r\n\tx\\\""]);
        assert_eq!(texts(r"a\b 'c\d'").unwrap(), [r"a\b", r"c\d"]);
        assert_eq!(
            texts("$A ${B}c \"$C\" '$D' $1 $").map_err(|e| e.kind),
            Err(LexErrorKind::DollarAtEnd)
        );
        assert_eq!(
            texts("$A ${B}c \"$C\" '$D' $1").unwrap(),
            ["<A>", "<B>c", "<C>", "$D", "$1"]
        );
        assert_eq!(texts("$A.b").unwrap(), ["<A>.b"]);
        assert_eq!(
            texts("~ x ~/y ~u/z a~ '~'").unwrap(),
            ["<~> x", "<~>/y", "<~u>/z", "a~", "~"]
        );
        assert_eq!(texts("x;").unwrap(), ["x;"]);
    }

    #[test]
    fn lex_errors_point_at_their_cause() {
        let err = |s: &str| words(s.as_bytes()).unwrap_err();
        assert_eq!(
            err("a 'b"),
            LexError {
                kind: LexErrorKind::Unterminated(b'\''),
                at: 2
            }
        );
        assert_eq!(
            err("a \"b\\"),
            LexError {
                kind: LexErrorKind::Unterminated(b'"'),
                at: 2
            }
        );
        assert_eq!(
            err("a \"$\""),
            LexError {
                kind: LexErrorKind::Unterminated(b'"'),
                at: 2
            }
        );
        assert_eq!(
            err("a \"${1}\""),
            LexError {
                kind: LexErrorKind::BadBraces,
                at: 3
            }
        );
        assert_eq!(
            err("x ${1}"),
            LexError {
                kind: LexErrorKind::BadBraces,
                at: 2
            }
        );
        assert_eq!(
            err("x ${A"),
            LexError {
                kind: LexErrorKind::BadBraces,
                at: 2
            }
        );
        assert_eq!(
            err("x ${A-}"),
            LexError {
                kind: LexErrorKind::BadBraces,
                at: 2
            }
        );
    }
}
