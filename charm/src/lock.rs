//! The flock that serialises concurrent `dispatch` runs on one machine.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::names::{LOCK_PATH, LOCK_TIMEOUT};

/// Pause between two attempts to take a busy lock.
const RETRY_INTERVAL: Duration = Duration::from_millis(50);
/// Mode of the charm's state directory (it holds the keys directory).
const STATE_DIR_MODE: u32 = 0o700;
/// Mode of the lock file.
const LOCK_FILE_MODE: u32 = 0o600;

/// Takes the lock under `root` for the whole run (released when the returned file is dropped).
///
/// Hooks take it exclusively, creating it if needed. The read-only action takes it shared and
/// creates nothing: without a lock file there is no reconcile to wait for, so it returns `None`.
///
/// # Errors
///
/// [`Error::LockTimeout`] when another run holds it for longer than [`LOCK_TIMEOUT`],
/// [`Error::Io`] when it cannot be created or locked.
pub(crate) fn acquire(root: &Path, shared: bool) -> Result<Option<File>, Error> {
    acquire_with_timeout(root, shared, LOCK_TIMEOUT)
}

fn acquire_with_timeout(
    root: &Path,
    shared: bool,
    timeout: Duration,
) -> Result<Option<File>, Error> {
    let path = root.join(LOCK_PATH.trim_start_matches('/'));
    let file = if shared {
        match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", path, e)),
        }
    } else {
        if let Some(dir) = path.parent() {
            DirBuilder::new()
                .recursive(true)
                .mode(STATE_DIR_MODE)
                .create(dir)
                .map_err(|e| Error::io("create directory", dir, e))?;
        }
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(LOCK_FILE_MODE)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?
    };
    let deadline = Instant::now() + timeout;
    loop {
        let attempt = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match attempt {
            Ok(()) => return Ok(Some(file)),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                thread::sleep(RETRY_INTERVAL);
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::LockTimeout {
                    path,
                    timeout_secs: timeout.as_secs(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_lock_excludes_a_second_run_and_times_out() {
        let tmp = tempfile::tempdir().unwrap();
        let held = acquire_with_timeout(tmp.path(), false, Duration::ZERO).unwrap();
        assert!(held.is_some());
        let err = acquire_with_timeout(tmp.path(), false, Duration::from_millis(120)).unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("timed out after 0s waiting for the lock ")
        );
        let err = acquire_with_timeout(tmp.path(), true, Duration::ZERO).unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }));
        drop(held);
        assert!(
            acquire_with_timeout(tmp.path(), false, Duration::ZERO)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn shared_lock_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(
            acquire_with_timeout(tmp.path(), true, Duration::ZERO)
                .unwrap()
                .is_none()
        );
        assert!(!tmp.path().join("var").exists());
    }
}
