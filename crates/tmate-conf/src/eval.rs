//! What a config means: expansion, `NAME=value` lines, `;` lists, command look-up and
//! `set-option` as the tmate 2.4 client runs them.
//!
//! The client parses every line first (`load_cfg`: a line with a parse error is
//! dropped whole) and then runs the commands in order (a failing command skips the rest
//! of its line). This module does the same, in the same two passes.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::Env;
use crate::lex::{self, LexErrorKind, LogicalLine, Piece};
use crate::table::{
    self, Kind, Lookup, OptionEntry, SET_OPTION, SET_OPTION_FLAGS, SET_OPTION_USAGE,
    SET_WINDOW_OPTION, SET_WINDOW_OPTION_FLAGS, SET_WINDOW_OPTION_USAGE, Scope,
};

/// A problem before positions are turned into lines and columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) offset: usize,
    pub(crate) tmux_line: usize,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

/// The last thing a command did to an option, for editing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// A plain set; `span` is the value word in the document, `split` whether that word
    /// also ended its command with a `;`.
    Set { span: Range<usize>, split: bool },
    /// An append or an unset.
    Other,
}

/// The outcome of running a config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) problems: Vec<Problem>,
    /// Options the config changed, for the options whose values are followed: typed
    /// `tmate-*` options (numbers normalised) and `@user` options.
    pub(crate) values: BTreeMap<String, String>,
    pub(crate) changes: BTreeMap<String, Change>,
}

/// A word after expansion.
#[derive(Debug, Clone)]
struct Arg {
    text: String,
    /// Document byte range of the word.
    span: Range<usize>,
    /// The word ended with a `;` that ended its command.
    split: bool,
}

/// `set-option` / `set-window-option` flags.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    append: bool,
    global: bool,
    only_unset: bool,
    quiet: bool,
    unset: bool,
}

#[derive(Debug, Clone)]
enum Command {
    Set {
        flags: Flags,
        name: Arg,
        value: Option<Arg>,
    },
    /// A command this crate does not model; it is known to the client.
    Other,
}

struct Line<'a> {
    line: &'a LogicalLine,
    commands: Vec<Command>,
}

/// Runs a whole document.
pub(crate) fn run(lines: &[LogicalLine], env: &Env) -> Outcome {
    let mut env = env.clone();
    let mut out = Outcome::default();
    let mut parsed = Vec::new();
    for line in lines {
        match parse_line(line, &mut env) {
            Ok(commands) => parsed.push(Line { line, commands }),
            Err(problem) => out.problems.push(problem),
        }
    }
    for Line { line, commands } in &parsed {
        for command in commands {
            if let Err((offset, message, hint)) = execute(command, &mut out) {
                out.problems.push(Problem {
                    offset,
                    tmux_line: line.tmux_line,
                    message,
                    hint,
                });
                break;
            }
        }
    }
    out.problems.sort_by_key(|p| p.offset);
    out
}

type Failure = (usize, String, Option<String>);

fn parse_line(line: &LogicalLine, env: &mut Env) -> Result<Vec<Command>, Problem> {
    let problem = |at: usize, message: String, hint: Option<String>| Problem {
        offset: at,
        tmux_line: line.tmux_line,
        message,
        hint,
    };
    let words = lex::words(&line.joined).map_err(|e| {
        let message = match e.kind {
            LexErrorKind::Unterminated(b'\'') => "unterminated single quote".to_owned(),
            LexErrorKind::Unterminated(_) => "unterminated double quote".to_owned(),
            LexErrorKind::DollarAtEnd => "\"$\" at the end of a line".to_owned(),
            LexErrorKind::BadBraces => {
                "\"${\" must be followed by a variable name and \"}\"".to_owned()
            }
        };
        problem(line.map[e.at], message, None)
    })?;
    let mut argv = Vec::with_capacity(words.len());
    for word in &words {
        let mut bytes = Vec::new();
        for piece in &word.pieces {
            match piece {
                Piece::Lit(lit) => bytes.extend_from_slice(lit),
                Piece::Var(name) => bytes.extend_from_slice(env.var(name).unwrap_or("").as_bytes()),
                Piece::Home { user, last, at } => {
                    let user = user.as_deref().map(String::from_utf8_lossy);
                    let Some(home) = env.home(user.as_deref()) else {
                        let (message, hint) = match &user {
                            Some(user) => (
                                format!("cannot expand {:?}: no such user", format!("~{user}")),
                                None,
                            ),
                            None => (
                                "cannot expand \"~\": no home directory".to_owned(),
                                Some("set HOME".to_owned()),
                            ),
                        };
                        return Err(problem(line.map[*at], message, hint));
                    };
                    bytes.extend_from_slice(home.as_bytes());
                    bytes.extend(last);
                }
            }
        }
        argv.push(Arg {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            span: line.map[word.span.start]..line.map[word.span.end - 1] + 1,
            split: false,
        });
    }
    // cmd_string_parse: leading NAME=value words set environment variables, at parse
    // time, for the lines that follow.
    let mut first = 0;
    while let Some(arg) = argv.get(first) {
        let space = arg.text.find([' ', '\t']).unwrap_or(arg.text.len());
        match arg.text.find('=') {
            Some(eq) if eq < space => env.set_var(&arg.text[..eq], &arg.text[eq + 1..]),
            _ => break,
        }
        first += 1;
    }
    let mut commands = Vec::new();
    let mut group: Vec<Arg> = Vec::new();
    let mut end_offset = line.map[line.joined.len()];
    for mut arg in argv.drain(first..) {
        end_offset = arg.span.end;
        // cmd_list_parse: an argument ending in ';' ends the command (even a quoted
        // one); "\;" at its end stands for a literal ';'.
        if let Some(body) = arg.text.strip_suffix(';') {
            if let Some(escaped) = body.strip_suffix('\\') {
                arg.text = format!("{escaped};");
                group.push(arg);
                continue;
            }
            let at = arg.span.start;
            if !body.is_empty() {
                arg.text = body.to_owned();
                arg.split = true;
                group.push(arg);
            }
            let command = parse_command(&group, at).map_err(|(o, m, h)| problem(o, m, h))?;
            commands.push(command);
            group.clear();
            continue;
        }
        group.push(arg);
    }
    if !group.is_empty() {
        let command = parse_command(&group, end_offset).map_err(|(o, m, h)| problem(o, m, h))?;
        commands.push(command);
    }
    Ok(commands)
}

/// `cmd_parse`: finds the command and, for the option commands, checks the flags and
/// the number of arguments.
fn parse_command(args: &[Arg], at: usize) -> Result<Command, Failure> {
    let Some(first) = args.first() else {
        return Err((at, "empty command before \";\"".to_owned(), None));
    };
    let name = match table::find_command(&first.text) {
        Lookup::Found(name) => name,
        Lookup::Unknown => {
            let candidates = table::COMMANDS
                .iter()
                .flat_map(|(name, alias)| std::iter::once(*name).chain(*alias));
            let hint =
                table::suggest(&first.text, candidates).map(|s| format!("did you mean \"{s}\"?"));
            return Err((
                first.span.start,
                format!("unknown command {:?}", first.text),
                hint,
            ));
        }
        Lookup::Ambiguous(all) => {
            return Err((
                first.span.start,
                format!("ambiguous command {:?}", first.text),
                Some(format!("could be: {}", all.join(", "))),
            ));
        }
    };
    let (flags_allowed, usage) = match name {
        SET_OPTION => (SET_OPTION_FLAGS, SET_OPTION_USAGE),
        SET_WINDOW_OPTION => (SET_WINDOW_OPTION_FLAGS, SET_WINDOW_OPTION_USAGE),
        _ => return Ok(Command::Other),
    };
    let usage_hint = || Some(usage.to_owned());
    let mut flags = Flags::default();
    // BSD getopt, as tmux uses: options end at "--", at "-" or at the first word that
    // does not start with '-'.
    let mut index = 1;
    while let Some(arg) = args.get(index) {
        if arg.text == "--" {
            index += 1;
            break;
        }
        let Some(letters) = arg.text.strip_prefix('-').filter(|l| !l.is_empty()) else {
            break;
        };
        for letter in letters.chars() {
            match letter {
                't' => {
                    return Err((
                        arg.span.start,
                        "\"-t\" cannot be used in a config file".to_owned(),
                        Some(
                            "tmate 2.4 crashes resolving a target before any session exists"
                                .to_owned(),
                        ),
                    ));
                }
                'a' if flags_allowed.contains('a') => flags.append = true,
                'g' if flags_allowed.contains('g') => flags.global = true,
                'o' if flags_allowed.contains('o') => flags.only_unset = true,
                'q' if flags_allowed.contains('q') => flags.quiet = true,
                'u' if flags_allowed.contains('u') => flags.unset = true,
                's' | 'w' if flags_allowed.contains(letter) => {}
                _ => {
                    return Err((
                        arg.span.start,
                        format!("unknown flag {:?} for {name}", format!("-{letter}")),
                        usage_hint(),
                    ));
                }
            }
        }
        index += 1;
    }
    let rest = &args[index..];
    match rest {
        [] => Err((
            args.last().map_or(at, |a| a.span.start),
            format!("{name} needs an option name"),
            usage_hint(),
        )),
        [name, value @ ..] if value.len() <= 1 => Ok(Command::Set {
            flags,
            name: name.clone(),
            value: value.first().cloned(),
        }),
        [_, _, extra, ..] => Err((
            extra.span.start,
            format!("too many arguments for {name}"),
            usage_hint(),
        )),
        _ => unreachable!("slice patterns above are exhaustive"),
    }
}

/// Runs one command against the options (`cmd_set_option_exec`).
fn execute(command: &Command, out: &mut Outcome) -> Result<(), Failure> {
    let Command::Set { flags, name, value } = command else {
        return Ok(());
    };
    let at_name = name.span.start;
    if name.text.is_empty() {
        return Err((at_name, "empty option name".to_owned(), None));
    }
    if name.text.starts_with('@') {
        return set_user_option(*flags, name, value.as_ref(), out);
    }
    let entry: &OptionEntry = match table::find_option(&name.text) {
        Lookup::Found(entry) => entry,
        _ if flags.quiet => return Ok(()),
        Lookup::Unknown => {
            let hint = table::suggest(&name.text, table::OPTIONS.iter().map(|e| e.name))
                .map(|s| format!("did you mean \"{s}\"?"));
            return Err((at_name, format!("unknown option {:?}", name.text), hint));
        }
        Lookup::Ambiguous(all) => {
            return Err((
                at_name,
                format!("ambiguous option {:?}", name.text),
                Some(format!("could be: {}", all.join(", "))),
            ));
        }
    };
    let option = entry.name;
    if !flags.global && entry.scope != Scope::Server {
        let (scope, what) = match entry.scope {
            Scope::Window => ("window", "no current window"),
            _ => ("session", "no current session"),
        };
        return Err((
            at_name,
            format!("{scope} option \"{option}\" needs -g in a config file"),
            Some(format!("tmate: {what}")),
        ));
    }
    if flags.unset {
        if let Some(value) = value {
            return Err((
                value.span.start,
                format!("value passed to unset option \"{option}\""),
                None,
            ));
        }
        if !matches!(entry.kind, Kind::Unchecked) {
            out.values.remove(option);
            out.changes.insert(option.to_owned(), Change::Other);
        }
        return Ok(());
    }
    if flags.only_unset {
        return Err((
            at_name,
            format!("option \"{option}\" is already set"),
            Some("-o sets only unset options, and this one has a default".to_owned()),
        ));
    }
    let Some(value) = value else {
        return Err((
            at_name,
            format!("missing value for option \"{option}\""),
            None,
        ));
    };
    match entry.kind {
        Kind::Unchecked => {}
        Kind::String(default) => {
            let new = if flags.append {
                let old = out.values.get(option).map_or(default, String::as_str);
                format!("{old}{}", value.text)
            } else {
                value.text.clone()
            };
            out.values.insert(option.to_owned(), new);
            out.changes
                .insert(option.to_owned(), change(flags.append, value));
        }
        Kind::Number { min, max, .. } => {
            let n = strtonum(&value.text, min, max).map_err(|why| {
                let message = match why {
                    "invalid" => format!("invalid value {:?} for option \"{option}\"", value.text),
                    _ => format!("value {:?} is {why} for option \"{option}\"", value.text),
                };
                (
                    value.span.start,
                    message,
                    Some(format!("expected a number from {min} to {max}")),
                )
            })?;
            out.values.insert(option.to_owned(), n.to_string());
            // "-a" does nothing to a number: it is a plain set.
            out.changes.insert(option.to_owned(), change(false, value));
        }
    }
    Ok(())
}

fn change(append: bool, value: &Arg) -> Change {
    if append {
        Change::Other
    } else {
        Change::Set {
            span: value.span.clone(),
            split: value.split,
        }
    }
}

fn set_user_option(
    flags: Flags,
    name: &Arg,
    value: Option<&Arg>,
    out: &mut Outcome,
) -> Result<(), Failure> {
    let option = name.text.as_str();
    let at_name = name.span.start;
    if !flags.global {
        return Err((
            at_name,
            format!("user option {option:?} needs -g in a config file"),
            Some("tmate 2.4 crashes without a current session".to_owned()),
        ));
    }
    let exists = out.values.contains_key(option);
    if flags.unset {
        if !exists {
            return Err((at_name, format!("unknown option {option:?}"), None));
        }
        if let Some(value) = value {
            return Err((
                value.span.start,
                format!("value passed to unset option {option:?}"),
                None,
            ));
        }
        out.values.remove(option);
        out.changes.insert(option.to_owned(), Change::Other);
        return Ok(());
    }
    if flags.only_unset && exists {
        return Err((at_name, format!("option {option:?} is already set"), None));
    }
    let Some(value) = value else {
        return Err((
            at_name,
            format!("missing value for option {option:?}"),
            None,
        ));
    };
    let new = match out.values.get(option) {
        Some(old) if flags.append => format!("{old}{}", value.text),
        _ => value.text.clone(),
    };
    out.values.insert(option.to_owned(), new);
    out.changes
        .insert(option.to_owned(), change(flags.append, value));
    Ok(())
}

/// OpenBSD `strtonum` over `strtoll(s, _, 10)`: leading white space and a sign are
/// allowed, nothing may follow the digits. The error is `strtonum`'s `errstr`.
pub(crate) fn strtonum(s: &str, min: i64, max: i64) -> Result<i64, &'static str> {
    let bytes = s.trim_start_matches(|c: char| c.is_ascii() && lex::is_c_space(c as u8));
    let (negative, digits) = match bytes.as_bytes().first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid");
    }
    // strtoll saturates on overflow; so does this.
    let mut n: i64 = 0;
    for b in digits.bytes() {
        let d = i64::from(b - b'0');
        n = if negative {
            n.saturating_mul(10).saturating_sub(d)
        } else {
            n.saturating_mul(10).saturating_add(d)
        };
    }
    if n < min {
        Err("too small")
    } else if n > max {
        Err("too large")
    } else {
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtonum_matches_openbsd() {
        assert_eq!(strtonum("22", 1, 65535), Ok(22));
        assert_eq!(strtonum("+22", 1, 65535), Ok(22));
        assert_eq!(strtonum(" \t023", 1, 65535), Ok(23));
        assert_eq!(strtonum("22 ", 1, 65535), Err("invalid"));
        assert_eq!(strtonum("", 1, 65535), Err("invalid"));
        assert_eq!(strtonum("-", 1, 65535), Err("invalid"));
        assert_eq!(strtonum("1e3", 1, 65535), Err("invalid"));
        assert_eq!(strtonum("0", 1, 65535), Err("too small"));
        assert_eq!(strtonum("-0", 1, 65535), Err("too small"));
        assert_eq!(strtonum("65536", 1, 65535), Err("too large"));
        assert_eq!(strtonum("99999999999999999999", 1, 65535), Err("too large"));
        assert_eq!(
            strtonum("-99999999999999999999", 1, 65535),
            Err("too small")
        );
        assert_eq!(strtonum("99999999999999999999x", 1, 65535), Err("invalid"));
    }
}
