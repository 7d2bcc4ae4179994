//! What the tmate 2.4 client knows: its commands and its options.
//!
//! Read from the Debian `tmate` 2.4.0 client (`tmate list-commands`, `tmate show-options
//! -s`, `-g` and `-gw`) and `options-table.c`.

/// A command of the tmate 2.4 client: its name and its alias, in `cmd.c` table order.
pub(crate) const COMMANDS: &[(&str, Option<&str>)] = &[
    ("attach-session", Some("attach")),
    ("bind-key", Some("bind")),
    ("break-pane", Some("breakp")),
    ("capture-pane", Some("capturep")),
    ("choose-buffer", None),
    ("choose-client", None),
    ("choose-session", None),
    ("choose-tree", None),
    ("choose-window", None),
    ("clear-history", Some("clearhist")),
    ("clock-mode", None),
    ("command-prompt", None),
    ("confirm-before", Some("confirm")),
    ("copy-mode", None),
    ("delete-buffer", Some("deleteb")),
    ("detach-client", Some("detach")),
    ("display-message", Some("display")),
    ("display-panes", Some("displayp")),
    ("find-window", Some("findw")),
    ("has-session", Some("has")),
    ("if-shell", Some("if")),
    ("join-pane", Some("joinp")),
    ("kill-pane", Some("killp")),
    ("kill-server", None),
    ("kill-session", None),
    ("kill-window", Some("killw")),
    ("last-pane", Some("lastp")),
    ("last-window", Some("last")),
    ("link-window", Some("linkw")),
    ("list-buffers", Some("lsb")),
    ("list-clients", Some("lsc")),
    ("list-commands", Some("lscm")),
    ("list-keys", Some("lsk")),
    ("list-panes", Some("lsp")),
    ("list-sessions", Some("ls")),
    ("list-windows", Some("lsw")),
    ("load-buffer", Some("loadb")),
    ("lock-client", Some("lockc")),
    ("lock-server", Some("lock")),
    ("lock-session", Some("locks")),
    ("move-pane", Some("movep")),
    ("move-window", Some("movew")),
    ("new-session", Some("new")),
    ("new-window", Some("neww")),
    ("next-layout", Some("nextl")),
    ("next-window", Some("next")),
    ("paste-buffer", Some("pasteb")),
    ("pipe-pane", Some("pipep")),
    ("previous-layout", Some("prevl")),
    ("previous-window", Some("prev")),
    ("refresh-client", Some("refresh")),
    ("rename-session", Some("rename")),
    ("rename-window", Some("renamew")),
    ("resize-pane", Some("resizep")),
    ("respawn-pane", Some("respawnp")),
    ("respawn-window", Some("respawnw")),
    ("rotate-window", Some("rotatew")),
    ("run-shell", Some("run")),
    ("save-buffer", Some("saveb")),
    ("select-layout", Some("selectl")),
    ("select-pane", Some("selectp")),
    ("select-window", Some("selectw")),
    ("send-keys", Some("send")),
    ("send-prefix", None),
    ("server-info", Some("info")),
    ("set-buffer", Some("setb")),
    ("set-environment", Some("setenv")),
    ("set-hook", None),
    ("set-option", Some("set")),
    ("set-window-option", Some("setw")),
    ("show-buffer", Some("showb")),
    ("show-environment", Some("showenv")),
    ("show-hooks", None),
    ("show-messages", Some("showmsgs")),
    ("show-options", Some("show")),
    ("show-window-options", Some("showw")),
    ("source-file", Some("source")),
    ("split-window", Some("splitw")),
    ("start-server", Some("start")),
    ("suspend-client", Some("suspendc")),
    ("swap-pane", Some("swapp")),
    ("swap-window", Some("swapw")),
    ("switch-client", Some("switchc")),
    ("unbind-key", Some("unbind")),
    ("unlink-window", Some("unlinkw")),
    ("wait-for", Some("wait")),
];

/// Name of the command that sets options.
pub(crate) const SET_OPTION: &str = "set-option";
/// Name of the command that sets window options (the same code in tmux 2.4).
pub(crate) const SET_WINDOW_OPTION: &str = "set-window-option";
/// `set-option` usage, as tmate prints it.
pub(crate) const SET_OPTION_USAGE: &str =
    "usage: set-option [-agosquw] [-t target-window] option [value]";
/// `set-window-option` usage, as tmate prints it.
pub(crate) const SET_WINDOW_OPTION_USAGE: &str =
    "usage: set-window-option [-agoqu] [-t target-window] option [value]";
/// `set-option` flags (`cmd-set-option.c` getopt template, minus `t:`).
pub(crate) const SET_OPTION_FLAGS: &str = "agoqsuw";
/// `set-window-option` flags (`cmd-set-option.c` getopt template, minus `t:`).
pub(crate) const SET_WINDOW_OPTION_FLAGS: &str = "agoqu";

/// Where an option lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Server options: always global, `-g` is not needed.
    Server,
    /// Session options: need `-g` in a config file (there is no session yet).
    Session,
    /// Window options: need `-g` in a config file (there is no window yet).
    Window,
}

/// The value type of an option, for the options whose values this crate follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Free text with a default.
    String(&'static str),
    /// A decimal number in `min..=max` with a default.
    Number { min: i64, max: i64, default: i64 },
    /// An option whose value this crate does not check or follow.
    Unchecked,
}

/// One option of the client's options table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OptionEntry {
    pub(crate) name: &'static str,
    pub(crate) scope: Scope,
    pub(crate) kind: Kind,
}

const fn opt(name: &'static str, scope: Scope) -> OptionEntry {
    OptionEntry {
        name,
        scope,
        kind: Kind::Unchecked,
    }
}

const fn text(name: &'static str, default: &'static str) -> OptionEntry {
    OptionEntry {
        name,
        scope: Scope::Server,
        kind: Kind::String(default),
    }
}

const fn number(name: &'static str, scope: Scope, min: i64, max: i64, default: i64) -> OptionEntry {
    OptionEntry {
        name,
        scope,
        kind: Kind::Number { min, max, default },
    }
}

use Scope::{Server, Session, Window};

/// `INT_MAX`, the upper bound of most tmux number options.
const INT_MAX: i64 = 2_147_483_647;

/// The options table in the client's order (server, session, window).
pub(crate) const OPTIONS: &[OptionEntry] = &[
    opt("buffer-limit", Server),
    opt("default-terminal", Server),
    opt("escape-time", Server),
    opt("exit-unattached", Server),
    opt("focus-events", Server),
    opt("history-file", Server),
    opt("message-limit", Server),
    opt("quiet", Server),
    opt("set-clipboard", Server),
    opt("terminal-overrides", Server),
    text("tmate-identity", ""),
    text("tmate-server-host", "ssh.tmate.io"),
    number("tmate-server-port", Server, 1, 65535, 22),
    text("tmate-server-dsa-fingerprint", "obsolete"),
    text(
        "tmate-server-rsa-fingerprint",
        "SHA256:Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs",
    ),
    text(
        "tmate-server-ecdsa-fingerprint",
        "SHA256:8GmKHYHEJ6n0TEdciHeEGkKOigQfCFuBULdt6vZIhDc",
    ),
    text(
        "tmate-server-ed25519-fingerprint",
        "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI",
    ),
    text("tmate-webhook-userdata", ""),
    text("tmate-webhook-url", ""),
    text("tmate-api-key", ""),
    text("tmate-session-name", ""),
    text("tmate-session-name-ro", ""),
    text("tmate-authorized-keys", ""),
    text("tmate-set", ""),
    number("tmate-foreground-restart", Server, 0, 1, 1),
    opt("assume-paste-time", Session),
    opt("base-index", Session),
    opt("bell-action", Session),
    opt("bell-on-alert", Session),
    opt("default-command", Session),
    opt("default-shell", Session),
    opt("destroy-unattached", Session),
    opt("detach-on-destroy", Session),
    opt("display-panes-active-colour", Session),
    opt("display-panes-colour", Session),
    opt("display-panes-time", Session),
    opt("display-time", Session),
    opt("history-limit", Session),
    opt("key-table", Session),
    opt("lock-after-time", Session),
    opt("lock-command", Session),
    opt("message-command-style", Session),
    opt("message-style", Session),
    opt("mouse", Session),
    opt("prefix", Session),
    opt("prefix2", Session),
    opt("renumber-windows", Session),
    opt("repeat-time", Session),
    opt("set-remain-on-exit", Session),
    opt("set-titles", Session),
    opt("set-titles-string", Session),
    opt("status", Session),
    opt("status-interval", Session),
    opt("status-justify", Session),
    opt("status-keys", Session),
    opt("status-left", Session),
    opt("status-left-length", Session),
    opt("status-left-style", Session),
    opt("status-position", Session),
    opt("status-right", Session),
    opt("status-right-length", Session),
    opt("status-right-style", Session),
    opt("status-style", Session),
    opt("update-environment", Session),
    opt("visual-activity", Session),
    opt("visual-bell", Session),
    opt("visual-silence", Session),
    opt("word-separators", Session),
    number("tmate-display-time", Session, 1, INT_MAX, 15000),
    opt("aggressive-resize", Window),
    opt("allow-rename", Window),
    opt("alternate-screen", Window),
    opt("automatic-rename", Window),
    opt("automatic-rename-format", Window),
    opt("clock-mode-colour", Window),
    opt("clock-mode-style", Window),
    opt("force-height", Window),
    opt("force-width", Window),
    opt("main-pane-height", Window),
    opt("main-pane-width", Window),
    opt("mode-keys", Window),
    opt("mode-style", Window),
    opt("monitor-activity", Window),
    opt("monitor-silence", Window),
    opt("other-pane-height", Window),
    opt("other-pane-width", Window),
    opt("pane-active-border-style", Window),
    opt("pane-base-index", Window),
    opt("pane-border-style", Window),
    opt("remain-on-exit", Window),
    opt("synchronize-panes", Window),
    opt("window-active-style", Window),
    opt("window-style", Window),
    opt("window-status-activity-style", Window),
    opt("window-status-bell-style", Window),
    opt("window-status-current-format", Window),
    opt("window-status-current-style", Window),
    opt("window-status-format", Window),
    opt("window-status-last-style", Window),
    opt("window-status-separator", Window),
    opt("window-status-style", Window),
    opt("wrap-search", Window),
    opt("xterm-keys", Window),
];

/// The result of looking a name up the way tmux does: an exact match, else a unique prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup<T> {
    /// The name (or a unique prefix of it) was found.
    Found(T),
    /// The name is a prefix of several entries, listed in table order.
    Ambiguous(Vec<&'static str>),
    /// Nothing matches.
    Unknown,
}

/// Finds an option by exact name or unique prefix (`options_table_find`).
pub(crate) fn find_option(name: &str) -> Lookup<&'static OptionEntry> {
    if let Some(entry) = OPTIONS.iter().find(|e| e.name == name) {
        return Lookup::Found(entry);
    }
    let matches: Vec<&'static OptionEntry> = OPTIONS
        .iter()
        .filter(|e| e.name.starts_with(name))
        .collect();
    match matches.as_slice() {
        [] => Lookup::Unknown,
        [one] => Lookup::Found(one),
        many => Lookup::Ambiguous(many.iter().map(|e| e.name).collect()),
    }
}

/// Finds a command by alias, exact name or unique prefix (`cmd_parse`); returns its name.
pub(crate) fn find_command(name: &str) -> Lookup<&'static str> {
    if let Some((full, _)) = COMMANDS
        .iter()
        .find(|(full, alias)| *alias == Some(name) || *full == name)
    {
        return Lookup::Found(full);
    }
    let matches: Vec<&'static str> = COMMANDS
        .iter()
        .map(|(full, _)| *full)
        .filter(|full| full.starts_with(name))
        .collect();
    match matches.as_slice() {
        [] => Lookup::Unknown,
        [one] => Lookup::Found(one),
        many => Lookup::Ambiguous(many.to_vec()),
    }
}

/// The closest candidate to `name`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = name.chars().count();
    let limit = (len / 4).max(2);
    candidates
        .into_iter()
        // The distance is at least the difference in length: skip the hopeless cheaply
        // (a long garbage word would otherwise cost a full table per candidate).
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        // On a tie, the shorter name: an extra character is the likelier typo.
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

/// Edit distance counting insertions, deletions, substitutions and adjacent
/// transpositions as one edit each (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_lookup_is_exact_then_unique_prefix() {
        let Lookup::Found(e) = find_option("tmate-server-p") else {
            panic!("prefix not found")
        };
        assert_eq!(e.name, "tmate-server-port");
        let Lookup::Found(e) = find_option("tmate-session-name") else {
            panic!("exact name not found")
        };
        assert_eq!(e.name, "tmate-session-name");
        assert!(matches!(find_option("tmate-server"), Lookup::Ambiguous(v) if v.len() == 6));
        assert_eq!(find_option("tmate-server-port[0]"), Lookup::Unknown);
    }

    #[test]
    fn command_lookup_knows_aliases_and_prefixes() {
        assert_eq!(find_command("set"), Lookup::Found("set-option"));
        assert_eq!(find_command("setw"), Lookup::Found("set-window-option"));
        assert_eq!(find_command("set-o"), Lookup::Found("set-option"));
        assert_eq!(find_command("bogus"), Lookup::Unknown);
        let Lookup::Ambiguous(all) = find_command("se") else {
            panic!("se is ambiguous")
        };
        assert_eq!(
            all.join(", "),
            "select-layout, select-pane, select-window, send-keys, send-prefix, server-info, set-buffer, set-environment, set-hook, set-option, set-window-option"
        );
    }

    #[test]
    fn no_command_name_is_a_prefix_of_another() {
        for (a, _) in COMMANDS {
            for (b, _) in COMMANDS {
                assert!(a == b || !b.starts_with(a), "{a} / {b}");
            }
        }
    }

    #[test]
    fn suggestions_catch_typos_only() {
        let names = OPTIONS.iter().map(|e| e.name);
        assert_eq!(
            suggest("tmate-server-prot", names.clone()),
            Some("tmate-server-port")
        );
        assert_eq!(
            suggest("tmate-sever-host", names.clone()),
            Some("tmate-server-host")
        );
        assert_eq!(suggest("completely-different", names), None);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("ab", "ba"), 1);
    }
}
