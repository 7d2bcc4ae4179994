//! A directory of host keys (`tmate-ssh-server -k DIR`): create what is missing, load, verify,
//! adopt, with crash-safe writes that never replace an existing key.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::{Error, Fingerprint, HashAlg, HostKey, KeyKind, PublicKeyLine, Result, RsaBits};

/// Mode of a newly created keys directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of a private key file, from the moment it is created.
pub const PRIVATE_KEY_MODE: u32 = 0o600;
/// Mode of a public key file.
pub const PUBLIC_KEY_MODE: u32 = 0o644;
/// Permission bits that make a private key readable or writable by others than its owner.
const LOOSE_BITS: u32 = 0o077;
/// Mask of the permission bits reported in [`Repair::TightenedMode`].
const MODE_MASK: u32 = 0o7777;
/// Largest key file read; real ones are under 4 KiB (RSA-4096 private key: about 3.4 KiB).
pub const MAX_KEY_FILE_LEN: u64 = 64 * 1024;
/// Marker in temporary file names: `.ssh_host_rsa_key.tmp.PID`.
const TEMP_MARKER: &str = ".tmp.";

/// `O_NOFOLLOW`: fail with `ELOOP` instead of following a symlink in the last path component.
/// Value from Linux `include/uapi/asm-generic/fcntl.h` (`00400000`), used by x86, x86_64,
/// aarch64, riscv64, s390x and loongarch64.
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
))]
const O_NOFOLLOW: i32 = 0o400_000;
/// `O_NOFOLLOW` on 32-bit ARM and PowerPC: `arch/{arm,powerpc}/include/uapi/asm/fcntl.h`
/// (`0100000`).
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "arm",
        target_arch = "powerpc",
        target_arch = "powerpc64"
    )
))]
const O_NOFOLLOW: i32 = 0o100_000;

/// `ELOOP`, the error `open` gives for a symlink under `O_NOFOLLOW`: 40 in Linux
/// `include/uapi/asm-generic/errno.h`, used by every architecture listed above.
/// (`io::ErrorKind::FilesystemLoop` is not stable yet.)
const ELOOP: i32 = 40;

/// A directory of host keys, e.g. `/var/lib/tmate-ssh-server/keys`.
///
/// The constructor does no I/O; every method re-reads the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeys {
    dir: PathBuf,
}

/// Options for [`HostKeys::ensure`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnsureOptions {
    /// Size of a newly generated RSA key (existing keys are kept whatever their size).
    pub rsa_bits: RsaBits,
}

/// What [`HostKeys::ensure`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsureReport {
    /// Files written for newly generated keys (private key, then its `.pub`).
    pub created: Vec<PathBuf>,
    /// Repairs made to existing keys.
    pub repaired: Vec<Repair>,
    /// Both keys as they are now on disk.
    pub keys: LoadedKeys,
}

/// A repair [`HostKeys::ensure`] made without touching any key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// A missing `.pub` was written from its private key.
    RecreatedPublicKey(PathBuf),
    /// A private key readable or writable by others was set to mode `0600`.
    TightenedMode {
        /// The private key file.
        path: PathBuf,
        /// Its permission bits before.
        old_mode: u32,
    },
    /// A temporary file left by an interrupted run was removed.
    RemovedStaleTemp(PathBuf),
}

/// Both host keys of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedKeys {
    /// The RSA key.
    pub rsa: KeyInfo,
    /// The Ed25519 key.
    pub ed25519: KeyInfo,
}

impl LoadedKeys {
    /// The key of `kind`.
    #[must_use]
    pub fn get(&self, kind: KeyKind) -> &KeyInfo {
        match kind {
            KeyKind::Rsa => &self.rsa,
            KeyKind::Ed25519 => &self.ed25519,
        }
    }
}

/// Public facts about one host key; nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The private key file.
    pub path: PathBuf,
    /// The public key line as `ssh-keygen -y -f PATH` prints it (with trailing newline).
    pub public_line: String,
    /// `SHA256:` fingerprint (what tmate compares).
    pub sha256: Fingerprint,
    /// Legacy `MD5:` fingerprint.
    pub md5: Fingerprint,
    /// Key size as `ssh-keygen -l` prints it.
    pub bits: u32,
}

impl KeyInfo {
    fn new(path: PathBuf, key: &HostKey) -> Self {
        Self {
            path,
            public_line: key.public_line(),
            sha256: key.fingerprint(HashAlg::Sha256),
            md5: key.fingerprint(HashAlg::Md5),
            bits: key.bits(),
        }
    }
}

/// What is on disk for one key kind, read and checked without writing.
struct KindState {
    kind: KeyKind,
    private_path: PathBuf,
    public_path: PathBuf,
    /// The private key file content (kept for verbatim copies) and the parsed key.
    private: Option<(Zeroizing<Vec<u8>>, HostKey, u32)>,
    /// The `.pub` content, present and matching the private key.
    public: Option<String>,
}

impl KindState {
    fn key(&self) -> Option<&HostKey> {
        self.private.as_ref().map(|(_, key, _)| key)
    }
}

impl HostKeys {
    /// A keys directory at `dir` (nothing is read or created yet).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the private key file of `kind`.
    #[must_use]
    pub fn private_key_path(&self, kind: KeyKind) -> PathBuf {
        self.dir.join(kind.file_name())
    }

    /// Path of the public key file of `kind`.
    #[must_use]
    pub fn public_key_path(&self, kind: KeyKind) -> PathBuf {
        self.dir.join(kind.pub_file_name())
    }

    /// Makes sure both host keys exist and are sound, generating only what is missing.
    ///
    /// Creates the directory (mode `0700`) if missing, generates a missing key (private key
    /// written first with mode `0600`, then its `.pub` with `0644`, each through a temporary
    /// file, `fsync` and rename), recreates a missing `.pub` from its private key, sets a
    /// private key readable by others to `0600` and removes temporary files left by an
    /// interrupted run. An existing key is never replaced. Everything is read and checked
    /// before anything is written, so on error nothing has changed. Concurrent calls on the
    /// same directory are serialized with a lock on the directory.
    ///
    /// # Errors
    /// [`Error::NotADirectory`] if the path is not a directory; for a key file:
    /// [`Error::Symlink`], [`Error::NotAFile`], [`Error::NotPrivateKey`],
    /// [`Error::EncryptedPrivateKey`], [`Error::UnsupportedKeyType`], [`Error::WrongKeyKind`],
    /// [`Error::PublicKey`] (unreadable `.pub`), [`Error::Mismatch`] (`.pub` of another key),
    /// [`Error::OrphanPublicKey`] (a `.pub` without its private key), [`Error::TooLarge`]; [`Error::Io`] when a file
    /// operation fails; [`Error::Generate`] if the RNG is broken.
    pub fn ensure(&self, opts: &EnsureOptions, rng: &mut impl CryptoRng) -> Result<EnsureReport> {
        self.prepare_dir()?;
        let _lock = self.lock()?;
        let states = self.inspect_all()?;
        let stale = stale_temps(&self.dir)?;

        // Generate everything first: a failure here leaves the directory untouched.
        let mut generated = Vec::new();
        for state in &states {
            if state.private.is_none() {
                generated.push((
                    state.kind,
                    HostKey::generate(state.kind, opts.rsa_bits, rng)?,
                ));
            }
        }

        let mut repaired = Vec::new();
        for path in stale {
            remove_file(&path)?;
            repaired.push(Repair::RemovedStaleTemp(path));
        }
        let mut created = Vec::new();
        let mut keys = Vec::new();
        for state in states {
            if let Some((_, key, mode)) = &state.private {
                if mode & LOOSE_BITS != 0 {
                    tighten(&state.private_path)?;
                    repaired.push(Repair::TightenedMode {
                        path: state.private_path.clone(),
                        old_mode: *mode,
                    });
                }
                if state.public.is_none() {
                    write_new(
                        &state.public_path,
                        key.public_line().as_bytes(),
                        PUBLIC_KEY_MODE,
                    )?;
                    repaired.push(Repair::RecreatedPublicKey(state.public_path.clone()));
                }
                keys.push(KeyInfo::new(state.private_path, key));
            } else {
                let index = generated
                    .iter()
                    .position(|(kind, _)| *kind == state.kind)
                    .ok_or(Error::Generate {
                        kind: state.kind,
                        reason: "key was not generated",
                    })?;
                let (_, key) = generated.swap_remove(index);
                let text = key.to_openssh()?;
                write_new(&state.private_path, text.as_bytes(), PRIVATE_KEY_MODE)?;
                created.push(state.private_path.clone());
                write_new(
                    &state.public_path,
                    key.public_line().as_bytes(),
                    PUBLIC_KEY_MODE,
                )?;
                created.push(state.public_path.clone());
                keys.push(KeyInfo::new(state.private_path, &key));
            }
        }
        sync_dir(&self.dir)?;
        Ok(EnsureReport {
            created,
            repaired,
            keys: into_loaded(keys)?,
        })
    }

    /// Loads and verifies both keys without writing anything.
    ///
    /// A missing `.pub` is tolerated (the public key is derived from the private key); a
    /// present one must match.
    ///
    /// # Errors
    /// [`Error::Missing`] if the directory or a private key is absent, and the errors of
    /// [`HostKeys::ensure`] for unsound files.
    pub fn load(&self) -> Result<LoadedKeys> {
        self.check_dir()?
            .then_some(())
            .ok_or_else(|| Error::Missing {
                path: self.dir.clone(),
            })?;
        let mut keys = Vec::new();
        for state in self.inspect_all()? {
            let key = state.key().ok_or_else(|| Error::Missing {
                path: state.private_path.clone(),
            })?;
            keys.push(KeyInfo::new(state.private_path.clone(), key));
        }
        into_loaded(keys)
    }

    /// Which keys [`HostKeys::ensure`] would generate (private key file absent), without
    /// reading their content.
    ///
    /// # Errors
    /// [`Error::NotADirectory`] if the path is not a directory, [`Error::Io`] if it cannot be
    /// inspected.
    pub fn missing(&self) -> Result<Vec<KeyKind>> {
        if !self.check_dir()? {
            return Ok(KeyKind::ALL.to_vec());
        }
        let mut missing = Vec::new();
        for kind in KeyKind::ALL {
            let path = self.private_key_path(kind);
            match fs::symlink_metadata(&path) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(kind),
                Err(e) => return Err(Error::io(&path, "inspect", e)),
            }
        }
        Ok(missing)
    }

    /// Copies the valid keys of `other` (e.g. the Python charm's `/home/ubuntu/keys`) for every
    /// kind whose private key is missing here. Never overwrites; the keys to copy and this
    /// directory are checked before anything is written. The private key is copied
    /// byte for byte (mode `0600`), the `.pub` too when `other` has one.
    ///
    /// Returns the kinds adopted (none if `other` does not exist).
    ///
    /// # Errors
    /// As [`HostKeys::ensure`], for files in either directory.
    pub fn adopt_from(&self, other: &HostKeys) -> Result<Vec<KeyKind>> {
        if !other.check_dir()? {
            return Ok(Vec::new());
        }
        let wanted = self.missing()?;
        let mut sources = Vec::new();
        for kind in wanted {
            let state = other.inspect(kind)?;
            if state.private.is_some() {
                sources.push(state);
            }
        }
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        self.prepare_dir()?;
        let _lock = self.lock()?;
        let here = self.inspect_all()?;
        let mut adopted = Vec::new();
        for source in sources {
            let Some(target) = here.iter().find(|s| s.kind == source.kind) else {
                continue;
            };
            if target.private.is_some() {
                // Created by someone else since `missing()`: keep it.
                continue;
            }
            let Some((bytes, key, _)) = &source.private else {
                continue;
            };
            write_new(&target.private_path, bytes, PRIVATE_KEY_MODE)?;
            let public = source.public.clone().unwrap_or_else(|| key.public_line());
            if target.public.is_none() {
                write_new(&target.public_path, public.as_bytes(), PUBLIC_KEY_MODE)?;
            }
            adopted.push(source.kind);
        }
        sync_dir(&self.dir)?;
        Ok(adopted)
    }

    /// `Ok(true)` if the directory exists, `Ok(false)` if absent, an error if it is not a
    /// directory.
    fn check_dir(&self) -> Result<bool> {
        match fs::metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => Ok(true),
            Ok(_) => Err(Error::NotADirectory {
                path: self.dir.clone(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(&self.dir, "inspect", e)),
        }
    }

    /// Creates the directory with mode `0700` unless it exists.
    fn prepare_dir(&self) -> Result<()> {
        if self.check_dir()? {
            return Ok(());
        }
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&self.dir)
            .map_err(|e| Error::io(&self.dir, "create directory", e))?;
        if let Some(parent) = self.dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// An exclusive advisory lock on the directory, held while the returned file is open.
    fn lock(&self) -> Result<File> {
        let dir = File::open(&self.dir).map_err(|e| Error::io(&self.dir, "open directory", e))?;
        dir.lock()
            .map_err(|e| Error::io(&self.dir, "lock directory", e))?;
        Ok(dir)
    }

    fn inspect_all(&self) -> Result<Vec<KindState>> {
        KeyKind::ALL
            .iter()
            .map(|&kind| self.inspect(kind))
            .collect()
    }

    /// Reads and checks both files of `kind` (read-only).
    fn inspect(&self, kind: KeyKind) -> Result<KindState> {
        let private_path = self.private_key_path(kind);
        let public_path = self.public_key_path(kind);
        let private = match read_key_file(&private_path)? {
            None => None,
            Some((bytes, mode)) => {
                let text = std::str::from_utf8(&bytes).map_err(|_| Error::NotText {
                    path: private_path.clone(),
                })?;
                let key = HostKey::from_openssh(text).map_err(|e| e.with_path(&private_path))?;
                if key.kind() != kind {
                    return Err(Error::WrongKeyKind {
                        path: private_path,
                        expected: kind,
                        found: key.kind(),
                    });
                }
                Some((bytes, key, mode))
            }
        };
        let public = match read_key_file(&public_path)? {
            None => None,
            Some((bytes, _)) => {
                let text = String::from_utf8(bytes.to_vec()).map_err(|_| Error::NotText {
                    path: public_path.clone(),
                })?;
                let line = PublicKeyLine::from_any(&text).map_err(|e| e.with_path(&public_path))?;
                let Some((_, key, _)) = &private else {
                    return Err(Error::OrphanPublicKey { path: public_path });
                };
                if line.algorithm() != kind.ssh_name() || line.blob() != key.public_blob() {
                    return Err(Error::Mismatch { path: public_path });
                }
                Some(text)
            }
        };
        Ok(KindState {
            kind,
            private_path,
            public_path,
            private,
            public,
        })
    }
}

fn into_loaded(keys: Vec<KeyInfo>) -> Result<LoadedKeys> {
    let mut keys = keys.into_iter();
    match (keys.next(), keys.next()) {
        (Some(rsa), Some(ed25519)) => Ok(LoadedKeys { rsa, ed25519 }),
        _ => Err(Error::Generate {
            kind: KeyKind::Rsa,
            reason: "internal error: a key is missing from the report",
        }),
    }
}

/// Opens `path` for reading without following a symlink.
fn open_nofollow(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(ELOOP) {
                Error::Symlink {
                    path: path.to_owned(),
                }
            } else {
                Error::io(path, "open", e)
            }
        })
}

/// Reads a key file into a zeroizing buffer with its permission bits, or `None` if absent.
fn read_key_file(path: &Path) -> Result<Option<(Zeroizing<Vec<u8>>, u32)>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, "inspect", e)),
    };
    if meta.file_type().is_symlink() {
        return Err(Error::Symlink {
            path: path.to_owned(),
        });
    }
    if !meta.is_file() {
        return Err(Error::NotAFile {
            path: path.to_owned(),
        });
    }
    let file = open_nofollow(path)?;
    let meta = file.metadata().map_err(|e| Error::io(path, "inspect", e))?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            path: path.to_owned(),
        });
    }
    if meta.len() > MAX_KEY_FILE_LEN {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            limit: MAX_KEY_FILE_LEN,
        });
    }
    // Reserve the whole file up front so the buffer never reallocates, which would leave an
    // unzeroized copy of the old contents behind.
    let capacity = usize::try_from(MAX_KEY_FILE_LEN + 1).unwrap_or(usize::MAX);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "read", e))?;
    if bytes.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            limit: MAX_KEY_FILE_LEN,
        });
    }
    Ok(Some((bytes, meta.mode() & MODE_MASK)))
}

/// Temporary file name for `target`: `.NAME.tmp.PID` in the same directory.
fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{TEMP_MARKER}{}", std::process::id()))
}

/// Temporary files of our key files left in `dir` by an interrupted run.
fn stale_temps(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut stale = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, "list", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, "list", e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_ours = KeyKind::ALL.iter().any(|kind| {
            [kind.file_name(), kind.pub_file_name()].iter().any(|file| {
                name.strip_prefix('.')
                    .and_then(|rest| rest.strip_prefix(file))
                    .and_then(|rest| rest.strip_prefix(TEMP_MARKER))
                    .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
            })
        });
        if is_ours {
            stale.push(entry.path());
        }
    }
    stale.sort();
    Ok(stale)
}

fn remove_file(path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(|e| Error::io(path, "remove", e))
}

/// Creates `target` with `content` and `mode`, crash-safely and never replacing a file:
/// temp file created with `mode` (`O_CREAT|O_EXCL|O_NOFOLLOW`), written, `fsync`ed, then
/// hard-linked to `target` (which fails if `target` exists) and unlinked. A crash leaves
/// `target` absent or complete, plus at most a temp file that the next run removes.
fn write_new(target: &Path, content: &[u8], mode: u32) -> Result<()> {
    let temp = temp_path(target);
    let result = write_temp(&temp, content, mode).and_then(|()| link_into_place(&temp, target));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_temp(temp: &Path, content: &[u8], mode: u32) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(O_NOFOLLOW)
        .open(temp)
        .map_err(|e| Error::io(temp, "create", e))?;
    // The umask may have removed bits from `mode` (e.g. 0644 -> 0600); set it exactly. This
    // only ever widens a public key file: a private key is 0600 or stricter from creation.
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(|e| Error::io(temp, "set permissions on", e))?;
    file.write_all(content)
        .map_err(|e| Error::io(temp, "write", e))?;
    file.sync_all().map_err(|e| Error::io(temp, "sync", e))
}

fn link_into_place(temp: &Path, target: &Path) -> Result<()> {
    match fs::hard_link(temp, target) {
        Ok(()) => remove_file(temp),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::io(target, "create", e)),
        // Filesystems without hard links: rename, after checking under our lock that the
        // target is still absent.
        Err(_) => match fs::symlink_metadata(target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::rename(temp, target).map_err(|e| Error::io(target, "create", e))
            }
            Ok(_) => Err(Error::io(
                target,
                "create",
                io::Error::from(io::ErrorKind::AlreadyExists),
            )),
            Err(e) => Err(Error::io(target, "inspect", e)),
        },
    }
}

/// Sets a private key to mode `0600` through a descriptor opened without following links.
fn tighten(path: &Path) -> Result<()> {
    open_nofollow(path)?
        .set_permissions(Permissions::from_mode(PRIVATE_KEY_MODE))
        .map_err(|e| Error::io(path, "set permissions on", e))
}

/// `fsync` on a directory, so renames and new entries in it survive a crash.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "sync directory", e))
}
