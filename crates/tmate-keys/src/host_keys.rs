//! A directory of host keys (`tmate-ssh-server -k DIR`): create what is missing, load, verify,
//! adopt, with crash-safe writes that never replace an existing key.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

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
/// Permission bits that let others than its owner add, remove or replace files in a directory.
const OTHERS_WRITE_BITS: u32 = 0o022;
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

#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64",
        target_arch = "arm",
        target_arch = "powerpc",
        target_arch = "powerpc64"
    )
)))]
compile_error!("tmate-keys needs this target's O_NOFOLLOW and ELOOP values: add them above");

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
    /// created with mode `0600`, then its `.pub` with `0644`, each through a temporary file,
    /// `fsync` and a link into place), recreates a missing `.pub` from its private key, sets a
    /// private key readable by others to `0600` and removes temporary files left by an
    /// interrupted run. An existing key is never replaced. Every existing file is read and
    /// checked before anything is written, so a bad file is reported with nothing changed.
    /// A crash at any point leaves each key file absent or complete, and the next call
    /// finishes the job with the keys that survived. Concurrent calls on the same directory
    /// are serialized with a lock on the directory.
    ///
    /// The directory and every key file must belong to the user running this: a key another
    /// user could read or replace is refused, as is a directory others can write to or a
    /// symlink (never followed).
    ///
    /// # Errors
    /// [`Error::NotADirectory`] if the path is not a directory; [`Error::ForeignOwner`] for a
    /// directory or key file of another user; [`Error::WritableByOthers`] for a directory
    /// others can write to; for the directory or a key file: [`Error::Symlink`]; for a key
    /// file: [`Error::NotAFile`], [`Error::TooLarge`], [`Error::NotText`],
    /// [`Error::NotPrivateKey`], [`Error::EncryptedPrivateKey`],
    /// [`Error::UnsupportedKeyType`], [`Error::WrongKeyKind`], [`Error::PublicKey`] (unreadable
    /// `.pub`), [`Error::Mismatch`] (`.pub` of another key), [`Error::OrphanPublicKey`] (a
    /// `.pub` without its private key); [`Error::Io`] when a file operation fails;
    /// [`Error::Generate`] if the RNG is broken.
    pub fn ensure(&self, opts: &EnsureOptions, rng: &mut impl CryptoRng) -> Result<EnsureReport> {
        let created_dir = self.prepare_dir()?;
        let _lock = self.lock()?;
        let states = self.inspect_all()?;
        let stale = stale_temps(&self.dir)?;

        // Everything is checked: from here on, repair and create.
        let mut repaired = Vec::new();
        for path in stale {
            remove_file(&path)?;
            repaired.push(Repair::RemovedStaleTemp(path));
        }
        let mut keys = Vec::new();
        let mut to_generate = Vec::new();
        for state in &states {
            let Some((_, key, mode)) = &state.private else {
                to_generate.push(state);
                continue;
            };
            if mode & LOOSE_BITS != 0 {
                tighten(&state.private_path)?;
                repaired.push(Repair::TightenedMode {
                    path: state.private_path.clone(),
                    old_mode: *mode,
                });
            }
            if state.public.is_none() {
                TempFile::create(
                    &state.public_path,
                    key.public_line().as_bytes(),
                    PUBLIC_KEY_MODE,
                )?
                .commit()?;
                repaired.push(Repair::RecreatedPublicKey(state.public_path.clone()));
            }
            keys.push((state.kind, KeyInfo::new(state.private_path.clone(), key)));
        }
        if !repaired.is_empty() {
            sync_dir(&self.dir)?;
        }

        // Generate the missing keys, the quick Ed25519 one first, while a second thread writes
        // each finished key: its fsyncs then overlap the RSA prime search.
        to_generate.sort_by_key(|state| state.kind != KeyKind::Ed25519);
        let mut created = Vec::new();
        let mut written = thread::scope(|scope| {
            let (sender, receiver) = mpsc::channel::<(&KindState, HostKey)>();
            let dir = &self.dir;
            let writer = scope.spawn(move || -> Result<Vec<(KeyKind, KeyInfo)>> {
                if created_dir {
                    sync_parent(dir)?;
                }
                let mut written = Vec::new();
                for (state, key) in receiver {
                    let private = key.to_openssh()?;
                    write_pair(
                        (&state.private_path, private.as_bytes()),
                        (&state.public_path, key.public_line().as_bytes()),
                    )?;
                    sync_dir(dir)?;
                    written.push((state.kind, KeyInfo::new(state.private_path.clone(), &key)));
                }
                Ok(written)
            });
            let mut generated = Ok(());
            for state in to_generate {
                match HostKey::generate(state.kind, opts.rsa_bits, rng) {
                    Ok(key) => {
                        if sender.send((state, key)).is_err() {
                            break; // The writer failed; its error is reported below.
                        }
                    }
                    Err(e) => {
                        generated = Err(e);
                        break;
                    }
                }
            }
            drop(sender);
            let written = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            generated.map(|()| written)
        })?;
        written.sort_by_key(|(kind, _)| *kind);
        for (kind, info) in written {
            created.push(info.path.clone());
            created.push(self.public_key_path(kind));
            keys.push((kind, info));
        }
        keys.sort_by_key(|(kind, _)| *kind);
        Ok(EnsureReport {
            created,
            repaired,
            keys: into_loaded(keys.into_iter().map(|(_, info)| info).collect())?,
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
        if !self.check_dir()? {
            return Err(Error::Missing {
                path: self.dir.clone(),
            });
        }
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
        if !other.source_dir_exists()? {
            return Ok(Vec::new());
        }
        let wanted = self.missing()?;
        let mut sources = Vec::new();
        for kind in wanted {
            let state = other.inspect_as(kind, Trust::Source)?;
            if state.private.is_some() {
                sources.push(state);
            }
        }
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        if self.prepare_dir()? {
            sync_parent(&self.dir)?;
        }
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
            // No private key here means no .pub either: inspection refuses an orphan .pub.
            let public = source.public.clone().unwrap_or_else(|| key.public_line());
            write_pair(
                (&target.private_path, bytes),
                (&target.public_path, public.as_bytes()),
            )?;
            adopted.push(source.kind);
        }
        sync_dir(&self.dir)?;
        Ok(adopted)
    }

    /// `Ok(true)` if the keys directory exists and is safe to keep keys in, `Ok(false)` if
    /// absent; an error if it is a symlink (never followed), not a directory, owned by another
    /// user or writable by others (who could replace the keys).
    fn check_dir(&self) -> Result<bool> {
        let meta = match fs::symlink_metadata(&self.dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(&self.dir, "inspect", e)),
        };
        if meta.file_type().is_symlink() {
            return Err(Error::Symlink {
                path: self.dir.clone(),
            });
        }
        if !meta.is_dir() {
            return Err(Error::NotADirectory {
                path: self.dir.clone(),
            });
        }
        check_owner(&self.dir, &meta)?;
        if meta.mode() & OTHERS_WRITE_BITS != 0 {
            return Err(Error::WritableByOthers {
                path: self.dir.clone(),
                mode: meta.mode() & MODE_MASK,
            });
        }
        Ok(true)
    }

    /// Like [`HostKeys::check_dir`] for a directory keys are only copied from (the Python
    /// charm's, which it gave to the `ubuntu` user): it must be a directory, any owner.
    fn source_dir_exists(&self) -> Result<bool> {
        match fs::metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => Ok(true),
            Ok(_) => Err(Error::NotADirectory {
                path: self.dir.clone(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(&self.dir, "inspect", e)),
        }
    }

    /// Creates the directory with mode `0700` unless it exists; `true` if it was created (its
    /// parent then needs a [`sync_parent`]).
    fn prepare_dir(&self) -> Result<bool> {
        if self.check_dir()? {
            return Ok(false);
        }
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&self.dir)
            .map_err(|e| Error::io(&self.dir, "create directory", e))?;
        Ok(true)
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
            .map(|&kind| self.inspect_as(kind, Trust::Home))
            .collect()
    }

    /// Reads and checks both files of `kind` (read-only).
    fn inspect_as(&self, kind: KeyKind, trust: Trust) -> Result<KindState> {
        let private_path = self.private_key_path(kind);
        let public_path = self.public_key_path(kind);
        let private = match read_key_file(&private_path, trust)? {
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
        let public = match read_key_file(&public_path, trust)? {
            None => None,
            Some((bytes, _)) => {
                let text = String::from_utf8(bytes.to_vec()).map_err(|_| Error::NotText {
                    path: public_path.clone(),
                })?;
                // Only public key lines: a private key in a .pub file (mode 0644) is an error,
                // not something to fingerprint.
                let line = PublicKeyLine::parse_all(&text)
                    .and_then(|keys| keys.into_iter().next().ok_or_else(no_key))
                    .map_err(|e| e.with_path(&public_path))?;
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

/// The error for a `.pub` file with no key in it.
fn no_key() -> Error {
    Error::PublicKey {
        path: None,
        line: 1,
        column: 1,
        kind: crate::PublicKeyErrorKind::NoKey,
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

/// Which checks a key file gets beyond being a regular file, never a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// The keys directory this [`HostKeys`] keeps: files must belong to the user running us.
    Home,
    /// A directory keys are only copied from: any owner (the copy is ours).
    Source,
}

/// An error unless `meta` (of `path`) belongs to the effective user running this process.
fn check_owner(path: &Path, meta: &fs::Metadata) -> Result<()> {
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() == euid {
        Ok(())
    } else {
        Err(Error::ForeignOwner {
            path: path.to_owned(),
            owner: meta.uid(),
            euid,
        })
    }
}

/// Reads a key file into a zeroizing buffer with its permission bits, or `None` if absent.
fn read_key_file(path: &Path, trust: Trust) -> Result<Option<(Zeroizing<Vec<u8>>, u32)>> {
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
    if trust == Trust::Home {
        check_owner(path, &meta)?;
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

/// A temporary file next to its target, written and `fsync`ed, removed on drop unless
/// committed.
///
/// Creating a file crash-safely and never replacing one: the temp file is created with its
/// final mode (`O_CREAT|O_EXCL|O_NOFOLLOW`), written and `fsync`ed, then hard-linked to the
/// target (which fails if the target exists) and unlinked. A crash leaves the target absent or
/// complete, plus at most a temp file that the next run removes.
struct TempFile<'a> {
    temp: PathBuf,
    target: &'a Path,
    committed: bool,
}

impl<'a> TempFile<'a> {
    fn create(target: &'a Path, content: &[u8], mode: u32) -> Result<Self> {
        let temp = temp_path(target);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(O_NOFOLLOW)
            .open(&temp)
            .map_err(|e| Error::temp_file(target, "create", e))?;
        let this = Self {
            temp,
            target,
            committed: false,
        };
        // The umask may have removed bits from `mode` (e.g. 0644 -> 0600); set it exactly.
        // This only ever widens a public key file: a private key is 0600 from creation.
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(|e| Error::temp_file(target, "set permissions on", e))?;
        file.write_all(content)
            .map_err(|e| Error::temp_file(target, "write", e))?;
        file.sync_all()
            .map_err(|e| Error::temp_file(target, "sync", e))?;
        Ok(this)
    }

    /// Links the temp file into place; fails if the target exists.
    fn commit(mut self) -> Result<()> {
        let (temp, target) = (&self.temp, self.target);
        match fs::hard_link(temp, target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::io(target, "create", e));
            }
            // Filesystems without hard links: rename, after checking under our lock that the
            // target is still absent.
            Err(_) => match fs::symlink_metadata(target) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::rename(temp, target).map_err(|e| Error::io(target, "create", e))?;
                    self.committed = true;
                    return Ok(());
                }
                Ok(_) => {
                    return Err(Error::io(
                        target,
                        "create",
                        io::Error::from(io::ErrorKind::AlreadyExists),
                    ));
                }
                Err(e) => return Err(Error::io(target, "inspect", e)),
            },
        }
        self.committed = true;
        remove_file(temp)
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Creates a private key file and then its `.pub`. Both temp files are written and `fsync`ed
/// concurrently; the private key is linked into place first. Journaling filesystems (ext4,
/// xfs) commit directory operations in order, so after a crash the `.pub` never exists
/// without its private key; the caller `fsync`s the directory afterwards.
fn write_pair(private: (&Path, &[u8]), public: (&Path, &[u8])) -> Result<()> {
    let (private, public) = thread::scope(|scope| {
        let public = scope.spawn(|| TempFile::create(public.0, public.1, PUBLIC_KEY_MODE));
        let private = TempFile::create(private.0, private.1, PRIVATE_KEY_MODE);
        (
            private,
            public
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        )
    });
    let (private, public) = (private?, public?);
    private.commit()?;
    public.commit()
}

/// Sets a private key to mode `0600` through a descriptor opened without following links.
fn tighten(path: &Path) -> Result<()> {
    open_nofollow(path)?
        .set_permissions(Permissions::from_mode(PRIVATE_KEY_MODE))
        .map_err(|e| Error::io(path, "tighten the mode to 0600", e))
}

/// `fsync` on the parent of a newly created `dir`, so that `dir` itself survives a crash.
fn sync_parent(dir: &Path) -> Result<()> {
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// `fsync` on a directory, so renames and new entries in it survive a crash.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "sync directory", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::TestRng;
    use std::os::unix::fs::symlink;

    const ED: &str = crate::ED25519_KEY_FILE;
    const RSA: &str = crate::RSA_KEY_FILE;

    /// 2048-bit RSA keeps these tests quick; the size itself is tested elsewhere.
    fn opts() -> EnsureOptions {
        EnsureOptions {
            rsa_bits: RsaBits::try_from(2048).unwrap(),
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().mode() & MODE_MASK
    }

    /// Name and content of every file in `dir`, to prove nothing changed.
    fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, u32)> {
        let mut files: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let content = fs::read(e.path()).unwrap_or_default();
                (
                    e.file_name().into_string().unwrap(),
                    content,
                    mode(&e.path()),
                )
            })
            .collect();
        files.sort();
        files
    }

    fn ensured(seed: u64) -> (tempfile::TempDir, HostKeys, EnsureReport) {
        let tmp = tempfile::tempdir().unwrap();
        let keys = HostKeys::new(tmp.path().join("keys"));
        let report = keys.ensure(&opts(), &mut TestRng(seed)).unwrap();
        (tmp, keys, report)
    }

    #[test]
    fn ensure_creates_everything_with_the_right_modes() {
        let (_tmp, keys, report) = ensured(1);
        let dir = keys.dir();
        assert_eq!(
            report.created,
            [
                dir.join(RSA),
                dir.join(format!("{RSA}.pub")),
                dir.join(ED),
                dir.join(format!("{ED}.pub"))
            ]
        );
        assert!(report.repaired.is_empty());
        assert_eq!(mode(dir), DIR_MODE);
        assert_eq!(mode(&dir.join(RSA)), PRIVATE_KEY_MODE);
        assert_eq!(mode(&dir.join(ED)), PRIVATE_KEY_MODE);
        assert_eq!(mode(&dir.join(format!("{ED}.pub"))), PUBLIC_KEY_MODE);
        assert_eq!(report.keys.rsa.bits, 2048);
        assert_eq!(report.keys.ed25519.bits, 256);
        assert_eq!(
            fs::read_to_string(dir.join(format!("{ED}.pub"))).unwrap(),
            report.keys.ed25519.public_line
        );
        assert_eq!(report.keys.get(KeyKind::Rsa), &report.keys.rsa);
        assert_eq!(keys.missing().unwrap(), []);
        assert_eq!(keys.load().unwrap(), report.keys);
        // No temp file left behind.
        assert_eq!(snapshot(dir).len(), 4);
    }

    #[test]
    fn seeded_ensure_is_reproducible() {
        let (_a, _, first) = ensured(7);
        let (_b, _, second) = ensured(7);
        assert_eq!(first.keys.rsa.sha256, second.keys.rsa.sha256);
        assert_eq!(
            first.keys.ed25519.public_line,
            second.keys.ed25519.public_line
        );
    }

    #[test]
    fn second_ensure_changes_nothing() {
        let (_tmp, keys, report) = ensured(2);
        let before = snapshot(keys.dir());
        let again = keys.ensure(&opts(), &mut TestRng(99)).unwrap();
        assert!(again.created.is_empty() && again.repaired.is_empty());
        assert_eq!(again.keys, report.keys);
        assert_eq!(snapshot(keys.dir()), before);
    }

    #[test]
    fn missing_key_is_created_and_the_other_kept() {
        let (_tmp, keys, report) = ensured(3);
        fs::remove_file(keys.dir().join(ED)).unwrap();
        fs::remove_file(keys.dir().join(format!("{ED}.pub"))).unwrap();
        assert_eq!(keys.missing().unwrap(), [KeyKind::Ed25519]);
        let again = keys.ensure(&opts(), &mut TestRng(4)).unwrap();
        assert_eq!(again.created.len(), 2);
        assert_eq!(again.keys.rsa, report.keys.rsa);
        assert_ne!(again.keys.ed25519.sha256, report.keys.ed25519.sha256);
    }

    #[test]
    fn missing_pub_is_recreated_from_the_private_key() {
        let (_tmp, keys, report) = ensured(5);
        let public = keys.dir().join(format!("{RSA}.pub"));
        fs::remove_file(&public).unwrap();
        // load() is read-only and does not need the .pub.
        assert_eq!(keys.load().unwrap(), report.keys);
        assert!(!public.exists());
        let again = keys.ensure(&opts(), &mut TestRng(6)).unwrap();
        assert_eq!(again.repaired, [Repair::RecreatedPublicKey(public.clone())]);
        assert!(again.created.is_empty());
        assert_eq!(
            fs::read_to_string(&public).unwrap(),
            report.keys.rsa.public_line
        );
        assert_eq!(mode(&public), PUBLIC_KEY_MODE);
    }

    #[test]
    fn loose_private_key_mode_is_tightened() {
        let (_tmp, keys, _) = ensured(8);
        let private = keys.dir().join(ED);
        fs::set_permissions(&private, Permissions::from_mode(0o644)).unwrap();
        let again = keys.ensure(&opts(), &mut TestRng(9)).unwrap();
        assert_eq!(
            again.repaired,
            [Repair::TightenedMode {
                path: private.clone(),
                old_mode: 0o644
            }]
        );
        assert_eq!(mode(&private), PRIVATE_KEY_MODE);
    }

    #[test]
    fn stale_temp_files_are_removed() {
        let (_tmp, keys, _) = ensured(10);
        let stale = keys.dir().join(format!(".{ED}{TEMP_MARKER}12345"));
        fs::write(&stale, "half a key").unwrap();
        let unrelated = keys.dir().join(".other.tmp.1");
        fs::write(&unrelated, "not ours").unwrap();
        let again = keys.ensure(&opts(), &mut TestRng(11)).unwrap();
        assert_eq!(again.repaired, [Repair::RemovedStaleTemp(stale.clone())]);
        assert!(!stale.exists());
        assert!(unrelated.exists());
    }

    #[test]
    fn interrupted_run_is_finished_with_the_surviving_key() {
        // A SIGKILL after the private key was linked into place but before its .pub.
        let (_tmp, keys, report) = ensured(12);
        let dir = keys.dir();
        fs::remove_file(dir.join(format!("{RSA}.pub"))).unwrap();
        fs::remove_file(dir.join(ED)).unwrap();
        fs::remove_file(dir.join(format!("{ED}.pub"))).unwrap();
        fs::write(
            dir.join(format!(".{RSA}.pub{TEMP_MARKER}777")),
            "ssh-rsa AAA",
        )
        .unwrap();
        let again = keys.ensure(&opts(), &mut TestRng(13)).unwrap();
        assert_eq!(again.keys.rsa, report.keys.rsa, "the surviving key is kept");
        assert_eq!(again.created, [dir.join(ED), dir.join(format!("{ED}.pub"))]);
        assert_eq!(again.repaired.len(), 2);
        assert_eq!(snapshot(dir).len(), 4);
    }

    /// Asserts `ensure` fails with `expected` and leaves the directory as it was.
    fn assert_refused(keys: &HostKeys, expected: &str) {
        let before = snapshot(keys.dir());
        let err = keys.ensure(&opts(), &mut TestRng(0)).unwrap_err();
        assert_eq!(err.to_string(), expected);
        assert_eq!(snapshot(keys.dir()), before, "nothing touched");
    }

    #[test]
    fn mismatched_pub_is_refused_and_nothing_touched() {
        let (_tmp, keys, _) = ensured(14);
        let dir = keys.dir();
        // Also remove the other key: it must not be generated either.
        fs::remove_file(dir.join(RSA)).unwrap();
        fs::remove_file(dir.join(format!("{RSA}.pub"))).unwrap();
        let other = HostKey::generate_ed25519(&mut TestRng(15)).unwrap();
        let public = dir.join(format!("{ED}.pub"));
        fs::write(&public, other.public_line()).unwrap();
        assert_refused(
            &keys,
            &format!("{}: does not match its private key", public.display()),
        );
        assert_eq!(
            keys.load().unwrap_err().to_string(),
            format!("{}: does not match its private key", public.display())
        );
    }

    #[test]
    fn corrupt_private_key_is_refused_and_nothing_touched() {
        let (_tmp, keys, _) = ensured(16);
        let private = keys.dir().join(RSA);
        let mut text = fs::read_to_string(&private).unwrap();
        text.truncate(text.len() / 2);
        fs::write(&private, &text).unwrap();
        fs::remove_file(keys.dir().join(format!("{ED}.pub"))).unwrap();
        assert_refused(
            &keys,
            &format!("{}: not an OpenSSH private key", private.display()),
        );
        let err = keys.load().unwrap_err();
        assert!(matches!(err, Error::NotPrivateKey { .. }));
        // The message names the problem but never the content.
        assert!(!format!("{err:?}").contains(&text[40..80]));
    }

    #[test]
    fn wrong_kind_and_binary_files_are_refused() {
        let (_tmp, keys, _) = ensured(17);
        let dir = keys.dir();
        fs::copy(dir.join(ED), dir.join(RSA)).unwrap();
        assert_refused(
            &keys,
            &format!(
                "{}: expected an rsa key, found ed25519",
                dir.join(RSA).display()
            ),
        );
        fs::write(dir.join(RSA), [0xff, 0xfe, 0x00]).unwrap();
        assert_refused(
            &keys,
            &format!("{}: not a text file", dir.join(RSA).display()),
        );
    }

    #[test]
    fn symlinked_key_file_is_refused() {
        let (tmp, keys, _) = ensured(18);
        let private = keys.dir().join(ED);
        let elsewhere = tmp.path().join("elsewhere");
        fs::rename(&private, &elsewhere).unwrap();
        symlink(&elsewhere, &private).unwrap();
        assert_refused(
            &keys,
            &format!("{}: is a symlink, refusing to follow it", private.display()),
        );
        // The O_NOFOLLOW open itself refuses, even without the metadata check.
        assert!(matches!(
            open_nofollow(&private),
            Err(Error::Symlink { .. })
        ));
        // A dangling link counts too.
        fs::remove_file(&elsewhere).unwrap();
        assert_refused(
            &keys,
            &format!("{}: is a symlink, refusing to follow it", private.display()),
        );
    }

    #[test]
    fn symlinked_keys_directory_is_refused_and_not_followed() {
        let (tmp, elsewhere, _) = ensured(24);
        fs::set_permissions(
            elsewhere.private_key_path(KeyKind::Rsa),
            Permissions::from_mode(0o644),
        )
        .unwrap();
        let before = snapshot(elsewhere.dir());
        let link = tmp.path().join("link");
        symlink(elsewhere.dir(), &link).unwrap();
        let keys = HostKeys::new(&link);
        let refused = format!("{}: is a symlink, refusing to follow it", link.display());
        assert_refused(&keys, &refused);
        assert_eq!(keys.load().unwrap_err().to_string(), refused);
        assert_eq!(keys.missing().unwrap_err().to_string(), refused);
        assert_eq!(snapshot(elsewhere.dir()), before, "the target was touched");
        // A dangling link is not created through either.
        let dangling = tmp.path().join("dangling");
        symlink(tmp.path().join("nowhere"), &dangling).unwrap();
        assert!(
            HostKeys::new(&dangling)
                .ensure(&opts(), &mut TestRng(25))
                .is_err()
        );
        assert!(!tmp.path().join("nowhere").exists());
    }

    #[test]
    fn keys_directory_others_can_write_is_refused() {
        let (_tmp, keys, _) = ensured(26);
        fs::set_permissions(keys.dir(), Permissions::from_mode(0o777)).unwrap();
        let before = snapshot(keys.dir());
        assert_refused(
            &keys,
            &format!(
                "{}: writable by other users (mode 0777), refusing it",
                keys.dir().display()
            ),
        );
        assert_eq!(snapshot(keys.dir()), before);
        // Readable by others is fine (the private keys themselves are 0600).
        fs::set_permissions(keys.dir(), Permissions::from_mode(0o755)).unwrap();
        keys.ensure(&opts(), &mut TestRng(27)).unwrap();
    }

    #[test]
    fn key_files_and_directories_of_other_users_are_refused() {
        let euid = nix::unistd::geteuid().as_raw();
        if euid == 0 {
            let (_tmp, keys, _) = ensured(28);
            let private = keys.private_key_path(KeyKind::Ed25519);
            std::os::unix::fs::chown(&private, Some(65534), None).unwrap();
            assert_refused(
                &keys,
                &format!(
                    "{}: owned by uid 65534, not by the user running this (uid 0), refusing it",
                    private.display()
                ),
            );
            std::os::unix::fs::chown(&private, Some(0), None).unwrap();
            std::os::unix::fs::chown(keys.dir(), Some(65534), None).unwrap();
            assert_refused(
                &keys,
                &format!(
                    "{}: owned by uid 65534, not by the user running this (uid 0), refusing it",
                    keys.dir().display()
                ),
            );
        } else {
            // Without root, a directory of root's stands in for another user's.
            let root_owned = HostKeys::new("/");
            let err = root_owned.ensure(&opts(), &mut TestRng(29)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "/: owned by uid 0, not by the user running this (uid {euid}), refusing it"
                )
            );
        }
    }

    #[test]
    fn adopt_takes_keys_from_a_directory_of_another_user() {
        // The Python charm gave /home/ubuntu (keys included) to the ubuntu user.
        let (_old_tmp, old, old_report) = ensured(30);
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(old.dir(), Some(1000), Some(1000)).unwrap();
            for kind in KeyKind::ALL {
                std::os::unix::fs::chown(old.private_key_path(kind), Some(1000), None).unwrap();
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        let keys = HostKeys::new(tmp.path().join("new"));
        assert_eq!(keys.adopt_from(&old).unwrap(), KeyKind::ALL.to_vec());
        let loaded = keys.load().unwrap();
        assert_eq!(loaded.rsa.sha256, old_report.keys.rsa.sha256);
        assert_eq!(loaded.ed25519.sha256, old_report.keys.ed25519.sha256);
    }

    #[test]
    fn private_key_in_a_pub_file_is_refused() {
        let (_tmp, keys, _) = ensured(23);
        let public = keys.dir().join(format!("{ED}.pub"));
        fs::copy(keys.dir().join(ED), &public).unwrap();
        assert_refused(
            &keys,
            &format!(
                "{}:1:1: this is a private key, not a public key line",
                public.display()
            ),
        );
        fs::write(&public, "# nothing here\n\n").unwrap();
        assert_refused(
            &keys,
            &format!("{}:1:1: no public key on this line", public.display()),
        );
    }

    #[test]
    fn orphan_pub_is_refused() {
        let (_tmp, keys, _) = ensured(19);
        fs::remove_file(keys.dir().join(RSA)).unwrap();
        let public = keys.dir().join(format!("{RSA}.pub"));
        assert_refused(
            &keys,
            &format!(
                "{}: exists without its private key (remove it to generate a new key)",
                public.display()
            ),
        );
    }

    #[test]
    fn keys_path_that_is_a_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("keys");
        fs::write(&file, "").unwrap();
        let keys = HostKeys::new(&file);
        let expected = format!("{}: not a directory", file.display());
        assert_eq!(
            keys.ensure(&opts(), &mut TestRng(0))
                .unwrap_err()
                .to_string(),
            expected
        );
        assert_eq!(keys.load().unwrap_err().to_string(), expected);
        assert_eq!(keys.missing().unwrap_err().to_string(), expected);
        assert_eq!(fs::read(&file).unwrap(), b"");
    }

    #[test]
    fn directory_as_key_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = HostKeys::new(tmp.path());
        fs::create_dir(tmp.path().join(ED)).unwrap();
        assert_refused(
            &keys,
            &format!("{}: not a regular file", tmp.path().join(ED).display()),
        );
    }

    #[test]
    fn load_is_read_only() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = HostKeys::new(tmp.path().join("keys"));
        assert_eq!(
            keys.load().unwrap_err().to_string(),
            format!("{}: missing", keys.dir().display())
        );
        assert!(!keys.dir().exists(), "load never creates the directory");
        assert_eq!(keys.missing().unwrap(), KeyKind::ALL);
        fs::create_dir(keys.dir()).unwrap();
        assert_eq!(
            keys.load().unwrap_err().to_string(),
            format!("{}: missing", keys.dir().join(RSA).display())
        );
        assert_eq!(snapshot(keys.dir()).len(), 0);
    }

    #[test]
    fn adopt_copies_valid_keys_only_where_missing() {
        let (_old_tmp, old, old_report) = ensured(20);
        let tmp = tempfile::tempdir().unwrap();
        let keys = HostKeys::new(tmp.path().join("new"));
        // Nothing to adopt from a directory that does not exist.
        assert_eq!(
            keys.adopt_from(&HostKeys::new(tmp.path().join("nope")))
                .unwrap(),
            []
        );
        assert!(!keys.dir().exists());

        // An Ed25519 key here already: only RSA is adopted.
        let mine = keys.ensure(&opts(), &mut TestRng(21)).unwrap();
        fs::remove_file(keys.dir().join(RSA)).unwrap();
        fs::remove_file(keys.dir().join(format!("{RSA}.pub"))).unwrap();
        assert_eq!(keys.adopt_from(&old).unwrap(), [KeyKind::Rsa]);
        let loaded = keys.load().unwrap();
        assert_eq!(loaded.rsa.sha256, old_report.keys.rsa.sha256);
        assert_eq!(loaded.ed25519, mine.keys.ed25519);
        assert_eq!(
            fs::read(keys.dir().join(RSA)).unwrap(),
            fs::read(old.dir().join(RSA)).unwrap(),
            "copied byte for byte"
        );
        assert_eq!(mode(&keys.dir().join(RSA)), PRIVATE_KEY_MODE);
        // Adopting again is a no-op.
        assert_eq!(keys.adopt_from(&old).unwrap(), []);
    }

    #[test]
    fn adopt_validates_the_source_first() {
        let (_old_tmp, old, _) = ensured(22);
        fs::write(old.dir().join(ED), "garbage").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let keys = HostKeys::new(tmp.path().join("new"));
        let err = keys.adopt_from(&old).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: not an OpenSSH private key",
                old.dir().join(ED).display()
            )
        );
        assert!(!keys.dir().exists(), "nothing written");
    }

    #[test]
    fn adopt_takes_ssh_keygen_keys() {
        // The Python charm made its keys with ssh-keygen (comment root@host, .pub next to it).
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("old");
        fs::create_dir(&old).unwrap();
        let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        for (src, dst) in [("rsa3072", RSA), ("ed25519", ED)] {
            fs::copy(testdata.join(src), old.join(dst)).unwrap();
            fs::copy(
                testdata.join(format!("{src}.pub")),
                old.join(format!("{dst}.pub")),
            )
            .unwrap();
        }
        let keys = HostKeys::new(tmp.path().join("new"));
        assert_eq!(keys.adopt_from(&HostKeys::new(&old)).unwrap(), KeyKind::ALL);
        let loaded = keys.load().unwrap();
        let expected = fs::read_to_string(testdata.join("rsa3072.pub.sha256")).unwrap();
        assert_eq!(
            expected.split(' ').nth(1).unwrap(),
            loaded.rsa.sha256.to_string()
        );
        assert_eq!(
            loaded.ed25519.public_line,
            fs::read_to_string(testdata.join("ed25519.y")).unwrap()
        );
        assert_eq!(mode(keys.dir()), DIR_MODE);
    }

    #[test]
    fn write_new_never_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("file");
        TempFile::create(&target, b"first", PRIVATE_KEY_MODE)
            .unwrap()
            .commit()
            .unwrap();
        let err = TempFile::create(&target, b"second", PRIVATE_KEY_MODE)
            .unwrap()
            .commit()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: failed to create", target.display())
        );
        assert_eq!(fs::read(&target).unwrap(), b"first");
        assert_eq!(snapshot(tmp.path()).len(), 1, "temp file cleaned up");
    }

    /// The temporary file is gone after a failure, so the error names the key file and the
    /// directory the temporary file was to be created in.
    #[test]
    fn temp_file_errors_name_the_key_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("missing");
        let target = dir.join(RSA);
        let Err(err) = TempFile::create(&target, b"key", PRIVATE_KEY_MODE) else {
            panic!("created a file in a missing directory");
        };
        assert_eq!(
            err.to_string(),
            format!(
                "{}: failed to create its temporary file in {}",
                target.display(),
                dir.display()
            )
        );
        let source = std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .unwrap();
        assert_eq!(source.kind(), io::ErrorKind::NotFound);
        assert!(!tmp.path().join("missing").exists());
    }

    #[test]
    fn temp_names_are_recognised() {
        let tmp = tempfile::tempdir().unwrap();
        let ours = temp_path(&tmp.path().join(RSA));
        assert!(
            ours.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&format!(".{RSA}.tmp."))
        );
        fs::write(&ours, "").unwrap();
        for other in [
            ".ssh_host_rsa_key.tmp.",
            ".ssh_host_rsa_key.tmp.x1",
            "ssh_host_rsa_key.tmp.1",
            ".x.tmp.1",
        ] {
            fs::write(tmp.path().join(other), "").unwrap();
        }
        assert_eq!(stale_temps(tmp.path()).unwrap(), [ours]);
    }
}
