//! The state file shared by the simulator and its tool processes, locked with `flock`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
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
        File::create(path).map_err(|source| Error::io("create", path, source))?;
        file.update(|s| *s = state.clone())?;
        Ok(file)
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
        let mut file =
            File::open(&self.path).map_err(|source| Error::io("open", &self.path, source))?;
        file.lock_shared()
            .map_err(|source| Error::io("lock", &self.path, source))?;
        let mut text = String::new();
        file.read_to_string(&mut text)
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
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|source| Error::io("open", &self.path, source))?;
        file.lock()
            .map_err(|source| Error::io("lock", &self.path, source))?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|source| Error::io("read", &self.path, source))?;
        let mut state: ModelState = if text.is_empty() {
            ModelState::default()
        } else {
            serde_json::from_str(&text).map_err(|source| Error::Json {
                path: self.path.clone(),
                source,
            })?
        };
        let out = change(&mut state);
        let json = serde_json::to_vec(&state).map_err(|source| Error::Json {
            path: self.path.clone(),
            source,
        })?;
        file.seek(SeekFrom::Start(0))
            .map_err(|source| Error::io("seek", &self.path, source))?;
        file.set_len(0)
            .map_err(|source| Error::io("truncate", &self.path, source))?;
        file.write_all(&json)
            .map_err(|source| Error::io("write", &self.path, source))?;
        Ok(out)
    }
}
