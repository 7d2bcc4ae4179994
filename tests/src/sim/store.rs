//! The state file shared by the simulator and its tool processes, locked with `flock`.
//!
//! The lock lives on a separate, never-replaced `STATE.lock` file; the state itself is
//! replaced atomically (written to `STATE.tmp`, then renamed over `STATE`). A tool process
//! killed at any point (a hook's process group gets SIGKILL on a timeout or from a fault
//! injection test) therefore leaves the previous or the new state, never a torn file, and its
//! lock dies with it.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::model::ModelState;
use super::{Error, Result};

/// Handle to the JSON state file.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// Creates (or overwrites) the state file with `state`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be written.
    pub fn create(path: &Path, state: &ModelState) -> Result<Self> {
        let file = StateFile {
            path: path.to_owned(),
        };
        let lock = file.lock_file()?;
        lock.lock()
            .map_err(|source| Error::io("lock", path, source))?;
        file.replace(state)?;
        Ok(file)
    }

    /// `STATE` plus `suffix`, next to the state file.
    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = OsString::from(self.path.as_os_str());
        name.push(suffix);
        PathBuf::from(name)
    }

    /// Opens (creating) the lock file.
    fn lock_file(&self) -> Result<File> {
        let path = self.sibling(".lock");
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| Error::io("open", &path, source))
    }

    /// Opens an existing state file (no I/O).
    #[must_use]
    pub fn open(path: &Path) -> Self {
        StateFile {
            path: path.to_owned(),
        }
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state under a shared lock.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Json`].
    pub fn read(&self) -> Result<ModelState> {
        let lock = self.lock_file()?;
        lock.lock_shared()
            .map_err(|source| Error::io("lock", &self.path, source))?;
        let text = std::fs::read_to_string(&self.path)
            .map_err(|source| Error::io("read", &self.path, source))?;
        serde_json::from_str(&text).map_err(|source| Error::Json {
            path: self.path.clone(),
            source,
        })
    }

    /// Reads, changes and writes the state under an exclusive lock.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Json`]; the file is unchanged when reading fails.
    pub fn update<T>(&self, change: impl FnOnce(&mut ModelState) -> T) -> Result<T> {
        let lock = self.lock_file()?;
        lock.lock()
            .map_err(|source| Error::io("lock", &self.path, source))?;
        let mut text = String::new();
        File::open(&self.path)
            .and_then(|mut file| file.read_to_string(&mut text))
            .map_err(|source| Error::io("read", &self.path, source))?;
        let mut state: ModelState = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: self.path.clone(),
            source,
        })?;
        let out = change(&mut state);
        self.replace(&state)?;
        Ok(out)
    }

    /// Writes `state` to `STATE.tmp` and renames it over `STATE` (the caller holds the lock).
    fn replace(&self, state: &ModelState) -> Result<()> {
        let json = serde_json::to_vec(state).map_err(|source| Error::Json {
            path: self.path.clone(),
            source,
        })?;
        let tmp = self.sibling(".tmp");
        let mut file = File::create(&tmp).map_err(|source| Error::io("create", &tmp, source))?;
        file.write_all(&json)
            .map_err(|source| Error::io("write", &tmp, source))?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(|source| Error::io("replace", &self.path, source))
    }
}
