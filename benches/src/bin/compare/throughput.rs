//! In-process fingerprint throughput on one core (this thread), over the corpus lines.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use tmate_benches::{Corpus, Table, format_count};
use tmate_keys::{Fingerprint, HashAlg, PublicKeyLine, fingerprint_line};

use crate::{BoxError, format_rate};

/// Samples per measurement; the report gives their median and range.
const SAMPLES: usize = 7;
/// Minimum duration of one sample: whole passes over the lines until this much time passed.
const SAMPLE_TIME: Duration = Duration::from_millis(300);
/// Targets from the project's performance issue, in lines per second.
const ED25519_TARGET: f64 = 3.0e6;
/// See [`ED25519_TARGET`].
const RSA_TARGET: f64 = 0.8e6;

/// Measures and appends the throughput section to `report`.
pub(crate) fn section(report: &mut String, corpus: &Corpus) -> Result<(), BoxError> {
    let (ed, rsa) = corpus.lines_by_type()?;
    // Both paths must agree before either is timed.
    for line in ed.iter().take(100).chain(rsa.iter().take(100)) {
        let fast = fingerprint_line(line, HashAlg::Sha256)?;
        let full = PublicKeyLine::parse(line)?.fingerprint(HashAlg::Sha256);
        if fast != full {
            return Err(format!("fingerprint_line and PublicKeyLine disagree on {line}").into());
        }
    }
    let fast = |line: &str| fingerprint_line(line, HashAlg::Sha256).ok();
    let full = |line: &str| {
        PublicKeyLine::parse(line)
            .ok()
            .map(|k| k.fingerprint(HashAlg::Sha256))
    };

    eprintln!("compare: in-process fingerprint throughput");
    let mut table = Table::new(["lines", "path", "median", "min", "max", "target", "met"]);
    for (label, lines, target) in [
        ("Ed25519", &ed, ED25519_TARGET),
        ("RSA-3072", &rsa, RSA_TARGET),
    ] {
        for (path, f) in [
            (
                "`fingerprint_line`",
                &fast as &dyn Fn(&str) -> Option<Fingerprint>,
            ),
            ("`PublicKeyLine::parse` + `fingerprint`", &full),
        ] {
            let rates = measure(lines, f)?;
            let is_fast_path = path.starts_with("`fingerprint_line");
            table.row([
                label.to_owned(),
                path.to_owned(),
                format_rate(rates.0),
                format_rate(rates.1),
                format_rate(rates.2),
                if is_fast_path {
                    format!(">= {}", format_rate(target))
                } else {
                    String::new()
                },
                if is_fast_path {
                    (if rates.0 >= target { "yes" } else { "no" }).to_owned()
                } else {
                    String::new()
                },
            ]);
        }
    }
    writeln!(report, "## In-process fingerprint throughput (one core)\n")?;
    writeln!(
        report,
        "SHA-256 fingerprints of the corpus lines, computed in this process on one thread: \
         {SAMPLES} samples, each at least {} ms of whole passes over the {} Ed25519 or {} RSA \
         lines; lines per second.\n",
        SAMPLE_TIME.as_millis(),
        format_count(ed.len()),
        format_count(rsa.len())
    )?;
    writeln!(report, "{table}")?;
    Ok(())
}

/// (median, min, max) lines per second of `f` over `lines`.
fn measure(
    lines: &[String],
    f: &dyn Fn(&str) -> Option<Fingerprint>,
) -> Result<(f64, f64, f64), BoxError> {
    let mut rates = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let start = Instant::now();
        let mut done = 0_usize;
        while start.elapsed() < SAMPLE_TIME {
            for line in lines {
                if black_box(f(black_box(line))).is_none() {
                    return Err(format!("no fingerprint for {line}").into());
                }
            }
            done += lines.len();
        }
        rates.push(done as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_unstable_by(f64::total_cmp);
    Ok((rates[rates.len() / 2], rates[0], rates[rates.len() - 1]))
}
