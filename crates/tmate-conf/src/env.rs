//! The environment tmux expands `$VAR` and `~` from.

use std::collections::BTreeMap;
use std::fs;

/// Variable holding the home directory (`~` without a user name).
const HOME: &str = "HOME";
/// Variable tmux sets to its working directory (`tmux.c`).
const PWD: &str = "PWD";
/// The user database `~user` is resolved from.
const PASSWD: &str = "/etc/passwd";

/// The environment a config is read in: variables for `$NAME` and `${NAME}`, and
/// home directories for `~` and `~user`.
///
/// tmux expands from the environment of the process that started the server (plus
/// `NAME=value` lines of the config itself, which [`Document::evaluate`] applies as it
/// goes) and resolves users through `getpwnam`.
///
/// [`Document::evaluate`]: crate::Document::evaluate
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
    users: BTreeMap<String, String>,
    own_home: Option<String>,
}

impl Env {
    /// An environment with no variables and no users.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// The environment of this process: its variables (those that are valid UTF-8),
    /// `PWD` set to the working directory as tmux does, and the users of `/etc/passwd`
    /// ([`Env::with_system_users`]).
    #[must_use]
    pub fn from_process() -> Self {
        let mut env = Self::empty();
        for (name, value) in std::env::vars_os() {
            if let (Ok(name), Ok(value)) = (name.into_string(), value.into_string()) {
                env.vars.insert(name, value);
            }
        }
        if let Some(cwd) = std::env::current_dir()
            .ok()
            .and_then(|p| p.to_str().map(str::to_owned))
        {
            env.vars.insert(PWD.to_owned(), cwd);
        }
        env.with_system_users()
    }

    /// Adds the users of `/etc/passwd` (for `~user`) and this process's own home
    /// directory there (for `~` without `HOME`), as `getpwnam`/`getpwuid` would give.
    /// An unreadable `/etc/passwd` adds nothing.
    #[must_use]
    pub fn with_system_users(mut self) -> Self {
        let passwd = fs::read_to_string(PASSWD).unwrap_or_default();
        let uid = own_uid();
        for entry in passwd.lines() {
            let fields: Vec<&str> = entry.split(':').collect();
            if let [name, _, entry_uid, _, _, home, ..] = fields.as_slice() {
                self.users
                    .entry((*name).to_owned())
                    .or_insert_with(|| (*home).to_owned());
                if uid.as_deref() == Some(*entry_uid) && self.own_home.is_none() {
                    self.own_home = Some((*home).to_owned());
                }
            }
        }
        self
    }

    /// Adds or replaces a variable.
    #[must_use]
    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.set_var(name, value);
        self
    }

    /// Adds a user and their home directory (for `~user`).
    #[must_use]
    pub fn with_user(mut self, name: &str, home: &str) -> Self {
        self.users.insert(name.to_owned(), home.to_owned());
        self
    }

    /// Sets the home directory of the current user in the user database, used for `~`
    /// when `HOME` is unset or empty.
    #[must_use]
    pub fn with_own_home(mut self, home: &str) -> Self {
        self.own_home = Some(home.to_owned());
        self
    }

    /// The value of a variable, if set.
    #[must_use]
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub(crate) fn set_var(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_owned(), value.to_owned());
    }

    /// The directory `~` (user `None`) or `~user` expands to, if any.
    #[must_use]
    pub fn home(&self, user: Option<&str>) -> Option<&str> {
        match user {
            None => match self.var(HOME) {
                Some(home) if !home.is_empty() => Some(home),
                _ => self.own_home.as_deref(),
            },
            Some(user) => self.users.get(user).map(String::as_str),
        }
    }
}

/// The real user id of this process, read from `/proc/self/status`.
fn own_uid() -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_prefers_a_non_empty_home_variable() {
        let env = Env::empty().with_own_home("/from/passwd");
        assert_eq!(env.home(None), Some("/from/passwd"));
        let env = env.with_var("HOME", "");
        assert_eq!(env.home(None), Some("/from/passwd"));
        let env = env.with_var("HOME", "/h");
        assert_eq!(env.home(None), Some("/h"));
        assert_eq!(env.home(Some("nobody")), None);
        assert_eq!(
            env.with_user("nobody", "/nonexistent").home(Some("nobody")),
            Some("/nonexistent")
        );
    }

    #[test]
    fn process_env_knows_root_and_pwd() {
        let env = Env::from_process();
        assert_eq!(env.home(Some("root")), Some("/root"));
        assert!(env.var("PWD").is_some());
    }
}
