//! The machine a benchmark ran on, and the date it ran, for the head of `BENCHMARKS.md`.

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// Where Linux describes the processors.
const CPUINFO: &str = "/proc/cpuinfo";
/// Where Linux reports its release.
const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
/// The distribution's description (os-release(5)).
const OS_RELEASE: &str = "/etc/os-release";

/// Processor count, processor model, kernel and distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Processors this process may run on (what `nproc` prints).
    pub cpus: usize,
    /// `model name` of the first processor in `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Kernel release, as `uname -r` prints it.
    pub kernel: String,
    /// `PRETTY_NAME` from `/etc/os-release`.
    pub os: String,
}

impl Machine {
    /// Reads the description of this machine.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a `/proc` file cannot be read, [`Error::Parse`] when
    /// `/proc/cpuinfo` names no model.
    pub fn detect() -> Result<Self> {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let cpuinfo = read(CPUINFO)?;
        let cpu_model = cpu_model(&cpuinfo).ok_or_else(|| Error::Parse {
            path: CPUINFO.into(),
            reason: "no `model name` line".to_owned(),
        })?;
        let kernel = read(OSRELEASE)?.trim().to_owned();
        let os = read(OS_RELEASE)
            .ok()
            .and_then(|t| pretty_name(&t))
            .unwrap_or_default();
        Ok(Self {
            cpus,
            cpu_model,
            kernel,
            os,
        })
    }
}

fn read(path: &str) -> Result<String> {
    fs::read_to_string(Path::new(path)).map_err(|e| Error::io(path, "failed to read", e))
}

/// The first `model name : ...` value of a `/proc/cpuinfo` text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// `PRETTY_NAME` of an os-release text, unquoted.
fn pretty_name(os_release: &str) -> Option<String> {
    let value = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))?;
    Some(value.trim_matches('"').to_owned())
}

/// The UTC calendar date of `time` as `YYYY-MM-DD`.
pub fn utc_date(time: SystemTime) -> String {
    let days = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Proleptic Gregorian date of a day count since 1970-01-01.
/// See: Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms", `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both values are within the ranges noted above.
    (
        year,
        u32::try_from(month).unwrap_or(0),
        u32::try_from(day).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cpu_model_is_the_first_model_name() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\nprocessor\t: 1\nmodel name\t: other\n";
        assert_eq!(
            cpu_model(text).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(cpu_model("processor\t: 0\n"), None);
    }

    #[test]
    fn pretty_name_is_unquoted() {
        let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            pretty_name(text).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn dates_match_known_days() {
        let at = |secs: u64| utc_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01");
        assert_eq!(at(951_782_400), "2000-02-29");
        assert_eq!(at(1_709_164_800), "2024-02-29");
        // 2026-11-25T04:54:03Z, the day this project's snapshot check was written.
        assert_eq!(at(1_795_582_443), "2026-11-25");
    }

    #[test]
    fn this_machine_is_described() {
        let m = Machine::detect().unwrap();
        assert!(m.cpus >= 1);
        assert!(!m.cpu_model.is_empty());
        assert!(!m.kernel.is_empty());
    }
}
