//! `cargo xtask charm`: builds the release `dispatch` and packs
//! `target/charm/tmate-ssh-server.charm`.
//!
//! The `.charm` is a zip (JUJU.md section 3): `manifest.yaml`, `metadata.yaml`, `actions.yaml`,
//! `config.yaml` and `dispatch` with unix mode 0755 (Juju does not chmod it). No `hooks/`
//! symlinks: every supported Juju (>= 2.9) runs `dispatch`. The zip is written here (stored
//! entries, CRC-32) rather than with a dependency.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The package that builds `dispatch`.
const CHARM_PACKAGE: &str = "tmate-ssh-server-charm";
/// Where the charm's metadata lives, relative to the workspace root.
const CHARM_DIR: &str = "charm";
/// The packed charm, relative to the target directory.
const CHARM_OUTPUT: &str = "charm/tmate-ssh-server.charm";
/// The charmcraft release whose manifest format this follows.
const CHARMCRAFT_VERSION: &str = "4.5.0";
/// Ubuntu releases the charm runs on; the binary is checked against the oldest one's glibc.
const BASES: [&str; 2] = ["22.04", "24.04"];
/// glibc of Ubuntu 22.04, the oldest base.
const MAX_GLIBC: (u32, u32) = (2, 35);
/// Metadata files copied verbatim from `charm/`.
const METADATA_FILES: [&str; 3] = ["metadata.yaml", "actions.yaml", "config.yaml"];

/// Unix mode of a regular file entry.
const MODE_FILE: u32 = 0o100_644;
/// Unix mode of the executable `dispatch`.
const MODE_EXECUTABLE: u32 = 0o100_755;

/// Builds, checks and packs the charm.
///
/// # Errors
///
/// A message saying which step failed: the build, the glibc check, reading the metadata or
/// writing the zip.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let target = target_dir(root);
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["build", "--release", "--locked", "-p", CHARM_PACKAGE])
        .current_dir(root)
        .status()
        .map_err(|e| format!("failed to run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build of {CHARM_PACKAGE} failed ({status})"));
    }
    let binary = target.join("release/dispatch");
    check_glibc(&binary)?;
    let dispatch =
        fs::read(&binary).map_err(|e| format!("failed to read {}: {e}", binary.display()))?;

    let epoch = build_epoch();
    let mut entries = vec![Entry::file(
        "manifest.yaml",
        render_manifest(epoch).into_bytes(),
        MODE_FILE,
    )];
    for name in METADATA_FILES {
        let path = root.join(CHARM_DIR).join(name);
        let data =
            fs::read(&path).map_err(|e| format!("failed to read {}: {e}", path.display()))?;
        entries.push(Entry::file(name, data, MODE_FILE));
    }
    entries.push(Entry::file("dispatch", dispatch, MODE_EXECUTABLE));
    let zip = write_zip(&entries, epoch);

    let output = target.join(CHARM_OUTPUT);
    if let Some(dir) = output.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
    }
    let tmp = output.with_extension("charm.tmp");
    fs::write(&tmp, &zip).map_err(|e| format!("failed to write {}: {e}", tmp.display()))?;
    fs::rename(&tmp, &output).map_err(|e| format!("failed to write {}: {e}", output.display()))?;
    #[allow(clippy::print_stderr, reason = "progress of a command-line task")]
    {
        eprintln!("packed {} ({} bytes)", output.display(), zip.len());
    }
    Ok(())
}

/// `CARGO_TARGET_DIR` if set (relative to the workspace root), else `target/`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Seconds since the epoch: `SOURCE_DATE_EPOCH` for reproducible builds, else now.
fn build_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        })
}

/// Fails if `binary` needs a glibc symbol version newer than [`MAX_GLIBC`] (`objdump -T`).
fn check_glibc(binary: &Path) -> Result<(), String> {
    let output = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .map_err(|e| format!("failed to run objdump (apt install binutils): {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "objdump -T {} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let too_new = glibc_too_new(&String::from_utf8_lossy(&output.stdout));
    if too_new.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} needs glibc newer than {}.{} (Ubuntu {}): {}",
        binary.display(),
        MAX_GLIBC.0,
        MAX_GLIBC.1,
        BASES[0],
        too_new.join(", ")
    ))
}

/// The `GLIBC_x.y` symbol references in `objdump -T` output newer than [`MAX_GLIBC`], as
/// `symbol@GLIBC_x.y`.
fn glibc_too_new(objdump: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in objdump.lines() {
        let mut words = line.split_whitespace();
        let Some(version) = words
            .clone()
            .find_map(|w| w.trim_start_matches('(').strip_prefix("GLIBC_"))
        else {
            continue;
        };
        let version = version.trim_end_matches(')');
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let major = parts.next().unwrap_or(0);
        let minor = parts.next().unwrap_or(0);
        if (major, minor) > MAX_GLIBC {
            let symbol = words.next_back().unwrap_or_default();
            found.push(format!("{symbol}@GLIBC_{version}"));
        }
    }
    found
}

/// `manifest.yaml` as charmcraft writes it.
fn render_manifest(epoch: u64) -> String {
    let mut text = format!(
        "charmcraft-version: {CHARMCRAFT_VERSION}\ncharmcraft-started-at: '{}'\nbases:\n",
        rfc3339(epoch)
    );
    for channel in BASES {
        let _ = write!(
            text,
            "- name: ubuntu\n  channel: '{channel}'\n  architectures:\n  - amd64\n"
        );
    }
    text
}

/// Civil date and time (UTC) of a Unix timestamp: (year, month, day, hour, minute, second).
fn civil(epoch: u64) -> (u64, u64, u64, u64, u64, u64) {
    // Howard Hinnant's days_from_civil inverse, for dates after 1970.
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day, secs / 3600, secs / 60 % 60, secs % 60)
}

fn rfc3339(epoch: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(epoch);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00")
}

/// One zip entry.
#[derive(Debug)]
struct Entry {
    name: String,
    data: Vec<u8>,
    mode: u32,
}

impl Entry {
    fn file(name: &str, data: Vec<u8>, mode: u32) -> Entry {
        Entry {
            name: name.to_owned(),
            data,
            mode,
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zip uses).
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, slot) in (0u32..).zip(table.iter_mut()) {
        let mut c = i;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *slot = c;
    }
    let mut crc = 0xFFFF_FFFF_u32;
    for &byte in data {
        crc = table[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// MS-DOS date and time fields of a Unix timestamp (clamped to 1980, the format's epoch).
fn dos_time(epoch: u64) -> (u16, u16) {
    let (y, mo, d, h, mi, s) = civil(epoch);
    let y = y.clamp(1980, 2107);
    let date = ((y - 1980) << 9) | (mo << 5) | d;
    let time = (h << 11) | (mi << 5) | (s / 2);
    (
        u16::try_from(time).unwrap_or(0),
        u16::try_from(date).unwrap_or(0),
    )
}

/// Zip "version made by": Unix (3) in the high byte, spec 2.0 in the low byte, so readers
/// apply the mode in the external attributes.
const MADE_BY_UNIX: u16 = (3 << 8) | 20;
/// Zip "version needed to extract" for stored entries.
const NEEDED: u16 = 10;

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Writes a zip of stored (uncompressed) entries. Sizes and offsets must fit in 32 bits (no
/// zip64): a charm is a few megabytes.
fn write_zip(entries: &[Entry], epoch: u64) -> Vec<u8> {
    let (time, date) = dos_time(epoch);
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let crc = crc32(&entry.data);
        let size = u32::try_from(entry.data.len()).unwrap_or(u32::MAX);
        let name_len = u16::try_from(entry.name.len()).unwrap_or(u16::MAX);

        u32le(&mut out, 0x0403_4b50);
        u16le(&mut out, NEEDED);
        u16le(&mut out, 0); // flags
        u16le(&mut out, 0); // stored
        u16le(&mut out, time);
        u16le(&mut out, date);
        u32le(&mut out, crc);
        u32le(&mut out, size);
        u32le(&mut out, size);
        u16le(&mut out, name_len);
        u16le(&mut out, 0); // extra field length
        out.extend_from_slice(entry.name.as_bytes());
        out.extend_from_slice(&entry.data);

        u32le(&mut central, 0x0201_4b50);
        u16le(&mut central, MADE_BY_UNIX);
        u16le(&mut central, NEEDED);
        u16le(&mut central, 0);
        u16le(&mut central, 0);
        u16le(&mut central, time);
        u16le(&mut central, date);
        u32le(&mut central, crc);
        u32le(&mut central, size);
        u32le(&mut central, size);
        u16le(&mut central, name_len);
        u16le(&mut central, 0); // extra
        u16le(&mut central, 0); // comment
        u16le(&mut central, 0); // disk
        u16le(&mut central, 0); // internal attributes
        u32le(&mut central, entry.mode << 16);
        u32le(&mut central, offset);
        central.extend_from_slice(entry.name.as_bytes());
    }
    let central_offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
    let central_size = u32::try_from(central.len()).unwrap_or(u32::MAX);
    let count = u16::try_from(entries.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&central);
    u32le(&mut out, 0x0605_4b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, count);
    u16le(&mut out, count);
    u32le(&mut out, central_size);
    u32le(&mut out, central_offset);
    u16le(&mut out, 0); // comment length
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01+00:00");
        assert_eq!(
            dos_time(1_767_225_600),
            (0, ((2026 - 1980) << 9) | (1 << 5) | 1)
        );
    }

    #[test]
    fn manifest_is_pinned() {
        assert_eq!(
            render_manifest(1_767_225_600),
            "charmcraft-version: 4.5.0\ncharmcraft-started-at: '2026-01-01T00:00:00+00:00'\nbases:\n\
             - name: ubuntu\n  channel: '22.04'\n  architectures:\n  - amd64\n\
             - name: ubuntu\n  channel: '24.04'\n  architectures:\n  - amd64\n"
        );
    }

    #[test]
    fn glibc_versions_from_objdump() {
        let objdump = "\
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.2.5) write
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.34) __libc_start_main
0000000000000000      DF *UND*\t0000000000000000  GLIBC_2.35  foo
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.36) arc4random
0000000000000000  w   DF *UND*\t0000000000000000 (GLIBC_2.39) pidfd_spawnp
0000000000000000  w   D  *UND*\t0000000000000000  Base        __gmon_start__
";
        assert_eq!(
            glibc_too_new(objdump),
            vec!["arc4random@GLIBC_2.36", "pidfd_spawnp@GLIBC_2.39"]
        );
    }

    /// Unix mode of a symlink entry (the writer supports them; the charm has none).
    const MODE_SYMLINK: u32 = 0o120_777;

    /// The zip is read back by the two readers that matter: `unzip` (modes, symlinks) and
    /// Python's `zipfile` (what charmcraft and the simulator use).
    #[test]
    fn zip_is_readable_by_unzip_and_python() {
        let tmp = tempfile::tempdir().unwrap();
        let entries = vec![
            Entry::file("manifest.yaml", b"bases: []\n".to_vec(), MODE_FILE),
            Entry::file(
                "dispatch",
                b"#!/bin/sh\necho hi\n".to_vec(),
                MODE_EXECUTABLE,
            ),
            Entry::file("hooks/install", b"../dispatch".to_vec(), MODE_SYMLINK),
        ];
        let path = tmp.path().join("t.charm");
        fs::write(&path, write_zip(&entries, 1_767_225_600)).unwrap();

        let test = Command::new("unzip")
            .arg("-t")
            .arg(&path)
            .output()
            .expect("unzip must be installed (apt install unzip)");
        assert!(
            test.status.success(),
            "{}",
            String::from_utf8_lossy(&test.stdout)
        );
        let out = tmp.path().join("out");
        let status = Command::new("unzip")
            .arg("-q")
            .arg(&path)
            .arg("-d")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(out.join("dispatch"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            fs::read_link(out.join("hooks/install")).unwrap(),
            Path::new("../dispatch")
        );
        assert_eq!(
            fs::read_to_string(out.join("hooks/install")).unwrap(),
            "#!/bin/sh\necho hi\n"
        );

        let script = "import sys, zipfile\n\
z = zipfile.ZipFile(sys.argv[1])\n\
assert z.testzip() is None\n\
for i in z.infolist():\n    print(i.filename, oct(i.external_attr >> 16), i.date_time[:3], len(z.read(i)))\n";
        let py = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&path)
            .output()
            .expect("python3 must be installed");
        assert!(
            py.status.success(),
            "{}",
            String::from_utf8_lossy(&py.stderr)
        );
        assert_eq!(
            String::from_utf8(py.stdout).unwrap(),
            "manifest.yaml 0o100644 (2026, 1, 1) 10\ndispatch 0o100755 (2026, 1, 1) 18\nhooks/install 0o120777 (2026, 1, 1) 11\n"
        );
    }
}
