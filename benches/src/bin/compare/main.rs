//! Whole-process comparisons: `tmate-keygen` against `ssh-keygen`, in-process fingerprint
//! throughput, and the charm against the Python charm it replaces. Writes `BENCHMARKS.md`.
//!
//! ```text
//! cargo run --release -p tmate-benches --bin compare [-- --runs 30 --fingerprint-runs 10]
//! ```
//!
//! Every figure in the report is measured by this run; nothing is copied in.
#![allow(
    clippy::print_stderr,
    reason = "a command-line tool: progress goes to standard error"
)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use tmate_benches::{
    Corpus, Error, Job, Machine, RatioSummary, Summary, Table, children_cpu_time, format_count,
    format_duration, utc_date,
};

mod charm;
mod throughput;

/// What the README promises the init comparison shows: our median at most this fraction of
/// `ssh-keygen`'s.
const INIT_TARGET_RATIO: f64 = 0.3;
/// Default number of interleaved runs of each init job.
const DEFAULT_RUNS: usize = 30;
/// Default number of interleaved runs of each fingerprint job (each reads 100,000 keys).
const DEFAULT_FINGERPRINT_RUNS: usize = 10;
/// Default number of interleaved rounds of `update-status` (one run of every charm, floor
/// and reference per round).
const DEFAULT_HOOK_RUNS: usize = 50;
/// The command this binary is run with, printed in the report.
const COMMAND: &str = "cargo run --release -p tmate-benches --bin compare";

type BoxError = Box<dyn std::error::Error>;

/// Command-line options.
#[derive(Debug)]
struct Options {
    runs: usize,
    fingerprint_runs: usize,
    hook_runs: usize,
    output: PathBuf,
}

fn parse_args() -> Result<Options, lexopt::Error> {
    use lexopt::prelude::*;
    let mut opts = Options {
        runs: DEFAULT_RUNS,
        fingerprint_runs: DEFAULT_FINGERPRINT_RUNS,
        hook_runs: DEFAULT_HOOK_RUNS,
        output: workspace_root().join("BENCHMARKS.md"),
    };
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("runs") => opts.runs = parser.value()?.parse()?,
            Long("fingerprint-runs") => opts.fingerprint_runs = parser.value()?.parse()?,
            Long("hook-runs") => opts.hook_runs = parser.value()?.parse()?,
            Long("output") => opts.output = parser.value()?.into(),
            Long("help") | Short('h') => {
                eprintln!(
                    "usage: compare [--runs N (default {DEFAULT_RUNS})] \
                     [--fingerprint-runs N (default {DEFAULT_FINGERPRINT_RUNS})] \
                     [--hook-runs N (default {DEFAULT_HOOK_RUNS})] [--output FILE]"
                );
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    if [opts.runs, opts.fingerprint_runs, opts.hook_runs].contains(&0) {
        return Err("every run count must be at least 1".into());
    }
    Ok(opts)
}

fn main() {
    if let Err(err) = run() {
        eprintln!("compare: {err}");
        let mut source = err.source();
        while let Some(cause) = source {
            eprintln!("  caused by: {cause}");
            source = cause.source();
        }
        std::process::exit(1);
    }
}

/// The commit the benchmarked binaries were built from (`git describe --always --dirty`), so a
/// report can be traced to its source; `unknown` outside a git checkout.
fn source_revision(root: &std::path::Path) -> String {
    std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn run() -> Result<(), BoxError> {
    let opts = parse_args()?;
    let root = workspace_root();
    let target = target_dir(&root);
    let machine = Machine::detect()?;
    let date = utc_date(SystemTime::now());

    eprintln!("compare: building release binaries");
    cargo(
        &root,
        &["build", "--release", "--locked", "-p", "tmate-keygen"],
    )?;
    let keygen = target.join("release/tmate-keygen");
    let ssh_keygen = which("ssh-keygen")
        .ok_or("ssh-keygen not found on PATH (install openssh-client): the comparison needs it")?;

    let work = target.join("bench-work");
    reset_dir(&work)?;
    eprintln!("compare: public-key corpus (generated once, then cached)");
    let corpus = Corpus::ensure(&target.join("bench-data"))?;

    let mut report = String::new();
    writeln!(report, "# Benchmarks\n")?;
    writeln!(
        report,
        "Produced by `{COMMAND}` (`-- --help` lists the options that change the repetitions; \
         this report: `--runs {} --fingerprint-runs {} --hook-runs {}`). \
         Every figure below comes from that run. Micro benchmarks: `cargo bench -p \
         tmate-benches` (not part of this file).\n",
        opts.runs, opts.fingerprint_runs, opts.hook_runs
    )?;
    writeln!(report, "- date: {date}")?;
    writeln!(report, "- commit: {}", source_revision(&root))?;
    writeln!(
        report,
        "- machine: {} CPUs (`nproc`), {}",
        machine.cpus, machine.cpu_model
    )?;
    writeln!(report, "- kernel: {}; OS: {}", machine.kernel, machine.os)?;
    writeln!(report, "- ssh-keygen: {}", tool_version(&ssh_keygen))?;
    writeln!(
        report,
        "- the machine is shared: other processes may have run during the measurements, which \
         is why every figure is a median with its range; load average (1, 5, 15 min) at the \
         start of the measurements: {}, at the end: LOAD_AT_END\n",
        load_average()
    )?;

    init_comparison(&mut report, &opts, &keygen, &ssh_keygen, &work)?;
    fingerprint_comparison(&mut report, &opts, &keygen, &ssh_keygen, &corpus)?;
    throughput::section(&mut report, &corpus)?;
    charm::section(&mut report, &target, &work, opts.hook_runs)?;

    let report = report.replacen("LOAD_AT_END", &load_average(), 1);
    fs::write(&opts.output, &report).map_err(|e| Error::Io {
        path: opts.output.clone(),
        action: "failed to write",
        source: e,
    })?;
    fs::remove_dir_all(&work).ok();
    eprintln!("compare: wrote {}", opts.output.display());
    Ok(())
}

/// `tmate-keygen init` into an empty directory against the same job done with `ssh-keygen`.
fn init_comparison(
    report: &mut String,
    opts: &Options,
    keygen: &Path,
    ssh_keygen: &Path,
    work: &Path,
) -> Result<(), BoxError> {
    let ours_job = |dir: &Path| {
        Job::new().step([
            keygen.as_os_str(),
            "init".as_ref(),
            "--keys-dir".as_ref(),
            dir.as_os_str(),
        ])
    };
    let theirs_job = |dir: &Path| {
        let rsa = dir.join(tmate_keys::RSA_KEY_FILE);
        let ed = dir.join(tmate_keys::ED25519_KEY_FILE);
        let pub_of = |p: &Path| p.with_extension("pub");
        Job::new()
            .step([
                ssh_keygen.as_os_str(),
                "-q".as_ref(),
                "-t".as_ref(),
                "rsa".as_ref(),
                "-b".as_ref(),
                "3072".as_ref(),
                "-N".as_ref(),
                "".as_ref(),
                "-f".as_ref(),
                rsa.as_os_str(),
            ])
            .step([
                ssh_keygen.as_os_str(),
                "-q".as_ref(),
                "-t".as_ref(),
                "ed25519".as_ref(),
                "-N".as_ref(),
                "".as_ref(),
                "-f".as_ref(),
                ed.as_os_str(),
            ])
            .step([
                ssh_keygen.as_os_str(),
                "-l".as_ref(),
                "-E".as_ref(),
                "sha256".as_ref(),
                "-f".as_ref(),
                pub_of(&rsa).as_os_str(),
            ])
            .step([
                ssh_keygen.as_os_str(),
                "-l".as_ref(),
                "-E".as_ref(),
                "sha256".as_ref(),
                "-f".as_ref(),
                pub_of(&ed).as_os_str(),
            ])
    };

    // Not timed: what we generate must be what ssh-keygen reads, with the fingerprints we print.
    let check_dir = fresh_dir(work, "init-check")?;
    let printed = String::from_utf8(ours_job(&check_dir).output()?)?;
    for name in [tmate_keys::RSA_KEY_FILE, tmate_keys::ED25519_KEY_FILE] {
        let pub_path = check_dir.join(format!("{name}.pub"));
        let listed = Job::new()
            .step([
                ssh_keygen.as_os_str(),
                "-l".as_ref(),
                "-E".as_ref(),
                "sha256".as_ref(),
                "-f".as_ref(),
                pub_path.as_os_str(),
            ])
            .output()?;
        let listed = String::from_utf8(listed)?;
        let fingerprint = listed.split_whitespace().nth(1).unwrap_or_default();
        if !fingerprint.starts_with("SHA256:") || !printed.contains(fingerprint) {
            return Err(format!(
                "tmate-keygen init printed no fingerprint matching `ssh-keygen -l` for {name}: {listed}"
            )
            .into());
        }
    }
    if !listed_bits(
        ssh_keygen,
        &check_dir.join(format!("{}.pub", tmate_keys::RSA_KEY_FILE)),
    )?
    .starts_with("3072 ")
    {
        return Err("tmate-keygen init did not generate an RSA-3072 key".into());
    }

    eprintln!("compare: init, {} interleaved runs each", opts.runs);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut ours_cpu, mut theirs_cpu) = (Duration::ZERO, Duration::ZERO);
    for i in 0..opts.runs {
        // Alternate which goes first, so neither always runs on a warmer machine.
        let order: [bool; 2] = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_ours in order {
            let dir = fresh_dir(
                work,
                &format!("init-{i}-{}", if is_ours { "ours" } else { "theirs" }),
            )?;
            let job = if is_ours {
                ours_job(&dir)
            } else {
                theirs_job(&dir)
            };
            let cpu_before = children_cpu_time()?;
            let took = job.run()?;
            let cpu = children_cpu_time()? - cpu_before;
            if is_ours {
                ours.push(took);
                ours_cpu += cpu;
            } else {
                theirs.push(took);
                theirs_cpu += cpu;
            }
            fs::remove_dir_all(&dir).ok();
        }
    }

    let ours_s = Summary::of(&ours).ok_or("no runs")?;
    let theirs_s = Summary::of(&theirs).ok_or("no runs")?;
    let ratio = RatioSummary::of(&ours, &theirs).ok_or("unpaired runs")?;
    let runs = u32::try_from(opts.runs)?;

    writeln!(
        report,
        "## Host keys from scratch: `tmate-keygen init` vs `ssh-keygen`\n"
    )?;
    writeln!(
        report,
        "One job = RSA-3072 + Ed25519 host keys written into an empty directory, plus their \
         SHA-256 fingerprints. {} runs of each job, interleaved (the order alternates every \
         run), each into a new empty directory; wall time from the first process start to the \
         last exit. Before timing, the run checks that `ssh-keygen -l` reads the keys \
         `tmate-keygen` wrote (RSA 3072 bits) and reports the fingerprints it printed.\n",
        opts.runs
    )?;
    writeln!(
        report,
        "- ours: `{}`",
        ours_job(Path::new("DIR"))
            .describe()
            .replace(&*keygen.to_string_lossy(), "tmate-keygen")
    )?;
    writeln!(
        report,
        "- theirs: `{}`\n",
        theirs_job(Path::new("DIR"))
            .describe()
            .replace(&*ssh_keygen.to_string_lossy(), "ssh-keygen")
    )?;
    let mut table = Table::new([
        "job",
        "runs",
        "median",
        "min",
        "max",
        "CPU per run (mean, user+sys)",
    ]);
    table.row([
        "tmate-keygen init (1 process)".to_owned(),
        opts.runs.to_string(),
        format_duration(ours_s.median),
        format_duration(ours_s.min),
        format_duration(ours_s.max),
        format_duration(ours_cpu / runs),
    ]);
    table.row([
        "ssh-keygen (4 processes)".to_owned(),
        opts.runs.to_string(),
        format_duration(theirs_s.median),
        format_duration(theirs_s.min),
        format_duration(theirs_s.max),
        format_duration(theirs_cpu / runs),
    ]);
    writeln!(report, "{table}")?;
    ratio_table(report, &ratio)?;
    writeln!(
        report,
        "Target: median ratio <= {INIT_TARGET_RATIO}: **{}** ({:.3}); worst pair {:.3}. RSA key \
         generation is a prime search with a random running time, so single runs vary widely \
         for both tools; `tmate-keygen` searches for p and q on two threads.\n",
        if ratio.of_medians <= INIT_TARGET_RATIO {
            "met"
        } else {
            "not met"
        },
        ratio.of_medians,
        ratio.pair_max
    )?;
    Ok(())
}

/// `tmate-keygen fingerprint` against `ssh-keygen -l -f` over the 100,000-key corpus.
fn fingerprint_comparison(
    report: &mut String,
    opts: &Options,
    keygen: &Path,
    ssh_keygen: &Path,
    corpus: &Corpus,
) -> Result<(), BoxError> {
    let ours = Job::new().step([
        keygen.as_os_str(),
        "fingerprint".as_ref(),
        corpus.path.as_os_str(),
    ]);
    let theirs = Job::new().step([
        ssh_keygen.as_os_str(),
        "-l".as_ref(),
        "-f".as_ref(),
        corpus.path.as_os_str(),
    ]);

    // Not timed: both must print the same thing, or the timings compare different work.
    eprintln!("compare: fingerprint output check");
    let ours_out = ours.output()?;
    let theirs_out = theirs.output()?;
    let lines = theirs_out.iter().filter(|&&b| b == b'\n').count();
    if ours_out != theirs_out {
        let first_diff = String::from_utf8_lossy(&ours_out)
            .lines()
            .zip(String::from_utf8_lossy(&theirs_out).lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("ours: {a}\ntheirs: {b}"))
            .unwrap_or_else(|| "outputs differ in length".to_owned());
        return Err(
            format!("tmate-keygen fingerprint and ssh-keygen -l disagree:\n{first_diff}").into(),
        );
    }
    if lines != corpus.ed25519 + corpus.rsa {
        return Err(format!(
            "ssh-keygen -l printed {lines} lines for {} keys",
            corpus.ed25519 + corpus.rsa
        )
        .into());
    }

    eprintln!(
        "compare: fingerprint, {} interleaved runs each",
        opts.fingerprint_runs
    );
    let (mut ours_t, mut theirs_t) = (Vec::new(), Vec::new());
    let (mut ours_cpu, mut theirs_cpu) = (Duration::ZERO, Duration::ZERO);
    for i in 0..opts.fingerprint_runs {
        let order: [bool; 2] = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_ours in order {
            let cpu_before = children_cpu_time()?;
            let took = if is_ours { ours.run()? } else { theirs.run()? };
            let cpu = children_cpu_time()? - cpu_before;
            if is_ours {
                ours_t.push(took);
                ours_cpu += cpu;
            } else {
                theirs_t.push(took);
                theirs_cpu += cpu;
            }
        }
    }
    let ours_s = Summary::of(&ours_t).ok_or("no runs")?;
    let theirs_s = Summary::of(&theirs_t).ok_or("no runs")?;
    let ratio = RatioSummary::of(&ours_t, &theirs_t).ok_or("unpaired runs")?;
    let runs = u32::try_from(opts.fingerprint_runs)?;

    writeln!(
        report,
        "## Fingerprints of 100,000 public keys: `tmate-keygen fingerprint` vs `ssh-keygen -l`\n"
    )?;
    writeln!(
        report,
        "The corpus ({}) has {} lines: {} distinct Ed25519 keys and {} RSA-3072 lines cycling \
         through {} distinct keys, alternating, all generated once with `tmate-keys` and cached. \
         Both commands print one `BITS SHA256:... COMMENT (TYPE)` line per key; the run checks \
         that the two outputs are byte-for-byte identical ({} lines) before timing. {} \
         interleaved runs each, standard output to /dev/null.\n",
        corpus
            .path
            .strip_prefix(workspace_root())
            .unwrap_or(&corpus.path)
            .display(),
        format_count(corpus.ed25519 + corpus.rsa),
        format_count(corpus.ed25519),
        format_count(corpus.rsa),
        corpus.rsa_distinct,
        format_count(lines),
        opts.fingerprint_runs
    )?;
    let mut table = Table::new([
        "command",
        "runs",
        "median",
        "min",
        "max",
        "CPU per run (mean)",
        "keys/s (median)",
    ]);
    for (name, s, cpu) in [
        ("tmate-keygen fingerprint FILE", ours_s, ours_cpu),
        ("ssh-keygen -l -f FILE", theirs_s, theirs_cpu),
    ] {
        table.row([
            name.to_owned(),
            opts.fingerprint_runs.to_string(),
            format_duration(s.median),
            format_duration(s.min),
            format_duration(s.max),
            format_duration(cpu / runs),
            format_rate(lines as f64 / s.median.as_secs_f64()),
        ]);
    }
    writeln!(report, "{table}")?;
    ratio_table(report, &ratio)?;
    Ok(())
}

/// The ratio table shared by the comparisons (ours / theirs: below 1 means we are faster).
fn ratio_table(report: &mut String, ratio: &RatioSummary) -> Result<(), BoxError> {
    let mut table = Table::new([
        "time ratio ours/theirs",
        "of medians",
        "best pair",
        "median pair",
        "worst pair",
        "of maxima",
    ]);
    table.row([
        "value".to_owned(),
        format!("{:.3}", ratio.of_medians),
        format!("{:.3}", ratio.pair_min),
        format!("{:.3}", ratio.pair_median),
        format!("{:.3}", ratio.pair_max),
        format!("{:.3}", ratio.of_maxima),
    ]);
    writeln!(report, "{table}")?;
    Ok(())
}

/// A per-second rate with a unit prefix: `3.42 M/s`, `812 k/s`.
fn format_rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.0} k/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.1}/s")
    }
}

/// `BITS SHA256:... COMMENT (TYPE)` as `ssh-keygen -l` prints it for one file.
fn listed_bits(ssh_keygen: &Path, pub_path: &Path) -> Result<String, BoxError> {
    let out = Job::new()
        .step([
            ssh_keygen.as_os_str(),
            "-l".as_ref(),
            "-f".as_ref(),
            pub_path.as_os_str(),
        ])
        .output()?;
    Ok(String::from_utf8(out)?)
}

/// The first line `ssh -V` style tools print; ssh-keygen has no version flag, so ask `ssh -V`.
fn tool_version(ssh_keygen: &Path) -> String {
    let ssh = ssh_keygen.with_file_name("ssh");
    Command::new(&ssh)
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "version unknown".to_owned())
}

/// The first three fields of `/proc/loadavg`, or `unknown`.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").ok().map_or_else(
        || "unknown".to_owned(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(", ")
        },
    )
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn cargo(root: &Path, args: &[&str]) -> Result<(), BoxError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let start = Instant::now();
    let status = Command::new(&cargo).args(args).current_dir(root).status()?;
    if !status.success() {
        return Err(format!("`cargo {}` failed: {status}", args.join(" ")).into());
    }
    eprintln!(
        "compare: `cargo {}` took {}",
        args.join(" "),
        format_duration(start.elapsed())
    );
    Ok(())
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

fn reset_dir(dir: &Path) -> Result<(), BoxError> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    Ok(())
}

fn fresh_dir(parent: &Path, name: &str) -> Result<PathBuf, BoxError> {
    let dir = parent.join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir(&dir)?;
    Ok(dir)
}
