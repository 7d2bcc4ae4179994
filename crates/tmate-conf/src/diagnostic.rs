//! Problems found in a config, with where they are.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem the tmate client would report for a config (or, where the client crashes
/// instead, the reason it would), with its position and, where one helps, a hint.
///
/// `Display` prints `FILE:LINE:COLUMN: message (hint)`, without `FILE:` when the
/// document was not read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub(crate) path: Option<PathBuf>,
    pub(crate) offset: usize,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) tmux_line: usize,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl Diagnostic {
    /// The file the problem is in, if the document was read from one.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Byte offset of the problem in the document.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// 1-based line of the problem.
    #[must_use]
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column (in characters) of the problem.
    #[must_use]
    pub fn column(&self) -> usize {
        self.column
    }

    /// The line number the tmate client prints for this problem: the last physical
    /// line of the logical line (lines joined by a trailing `\` count as one).
    #[must_use]
    pub fn tmux_line(&self) -> usize {
        self.tmux_line
    }

    /// What is wrong, e.g. `unknown option "tmate-server-prot"`.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A hint, e.g. `did you mean "tmate-server-port"?`.
    #[must_use]
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}:", path.display())?;
        }
        write!(f, "{}:{}: {}", self.line, self.column, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}
