//! Robust summaries of repeated timings.
//!
//! Benchmarks on a shared 2-core machine see outliers in both directions, so every figure is
//! a median with its range, never a mean of a few runs.

use std::time::Duration;

/// Median, minimum and maximum of a set of timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Number of timings.
    pub runs: usize,
    /// Middle value (mean of the two middle values for an even count).
    pub median: Duration,
    /// Fastest timing.
    pub min: Duration,
    /// Slowest timing.
    pub max: Duration,
}

impl Summary {
    /// Summarises `timings`; `None` when there are none.
    pub fn of(timings: &[Duration]) -> Option<Self> {
        let mut sorted = timings.to_vec();
        sorted.sort_unstable();
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        Some(Self {
            runs: sorted.len(),
            median: median_sorted(&sorted),
            min,
            max,
        })
    }
}

/// Mean of the two middle values of a non-empty sorted slice, or its middle value.
fn median_sorted(sorted: &[Duration]) -> Duration {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// How a candidate compares with a baseline over paired (interleaved) runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioSummary {
    /// Median of the candidate divided by the median of the baseline.
    pub of_medians: f64,
    /// Slowest candidate run divided by the slowest baseline run.
    pub of_maxima: f64,
    /// Smallest ratio of one candidate run to the baseline run it was paired with.
    pub pair_min: f64,
    /// Median of the per-pair ratios.
    pub pair_median: f64,
    /// Largest per-pair ratio: the worst case.
    pub pair_max: f64,
}

impl RatioSummary {
    /// Compares `candidate[i]` with `baseline[i]`; `None` unless both have the same, non-zero
    /// number of runs and no baseline run took zero time.
    pub fn of(candidate: &[Duration], baseline: &[Duration]) -> Option<Self> {
        if candidate.len() != baseline.len() || baseline.iter().any(Duration::is_zero) {
            return None;
        }
        let (c, b) = (Summary::of(candidate)?, Summary::of(baseline)?);
        let mut pairs: Vec<f64> = candidate
            .iter()
            .zip(baseline)
            .map(|(c, b)| c.as_secs_f64() / b.as_secs_f64())
            .collect();
        pairs.sort_unstable_by(f64::total_cmp);
        let mid = pairs.len() / 2;
        let pair_median = if pairs.len() % 2 == 1 {
            pairs[mid]
        } else {
            (pairs[mid - 1] + pairs[mid]) / 2.0
        };
        Some(Self {
            of_medians: c.median.as_secs_f64() / b.median.as_secs_f64(),
            of_maxima: c.max.as_secs_f64() / b.max.as_secs_f64(),
            pair_min: pairs[0],
            pair_median,
            pair_max: pairs[pairs.len() - 1],
        })
    }
}

/// Median, minimum and maximum of paired differences `minuend[i] - subtrahend[i]` (e.g. a
/// measured total minus the floor measured in the same round), which may be negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DifferenceSummary {
    /// Number of pairs.
    pub runs: usize,
    /// Middle difference (mean of the two middle ones for an even count), nanoseconds.
    pub median_ns: i128,
    /// Smallest difference, nanoseconds.
    pub min_ns: i128,
    /// Largest difference, nanoseconds.
    pub max_ns: i128,
}

impl DifferenceSummary {
    /// Summarises `minuend[i] - subtrahend[i]`; `None` unless both have the same, non-zero
    /// number of runs.
    pub fn of(minuend: &[Duration], subtrahend: &[Duration]) -> Option<Self> {
        if minuend.len() != subtrahend.len() {
            return None;
        }
        let mut diffs: Vec<i128> = minuend
            .iter()
            .zip(subtrahend)
            .map(|(a, b)| a.as_nanos().cast_signed() - b.as_nanos().cast_signed())
            .collect();
        diffs.sort_unstable();
        let (&min_ns, &max_ns) = (diffs.first()?, diffs.last()?);
        let mid = diffs.len() / 2;
        let median_ns = if diffs.len() % 2 == 1 {
            diffs[mid]
        } else {
            (diffs[mid - 1] + diffs[mid]) / 2
        };
        Some(Self {
            runs: diffs.len(),
            median_ns,
            min_ns,
            max_ns,
        })
    }
}

/// [`format_duration`] of a signed number of nanoseconds: `1.34 ms`, `-87.5 µs`.
pub fn format_signed_nanos(ns: i128) -> String {
    let magnitude = Duration::from_nanos(u64::try_from(ns.unsigned_abs()).unwrap_or(u64::MAX));
    let sign = if ns < 0 { "-" } else { "" };
    format!("{sign}{}", format_duration(magnitude))
}

/// Formats a duration with three significant figures in a unit that suits it: `412 ms`,
/// `1.23 s`, `87.5 µs`, `640 ns`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    let (value, unit) = if secs >= 1.0 {
        (secs, "s")
    } else if secs >= 1e-3 {
        (secs * 1e3, "ms")
    } else if secs >= 1e-6 {
        (secs * 1e6, "µs")
    } else {
        (secs * 1e9, "ns")
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$} {unit}")
}

/// A count with thousands separators: `100,000`.
pub fn format_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn summary_of_nothing_is_none() {
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn summary_of_odd_count_takes_the_middle() {
        let s = Summary::of(&ms(&[50, 10, 30, 40, 20])).unwrap();
        assert_eq!(
            (s.runs, s.median, s.min, s.max),
            (5, ms(&[30])[0], ms(&[10])[0], ms(&[50])[0])
        );
    }

    #[test]
    fn summary_of_even_count_averages_the_middle_pair() {
        let s = Summary::of(&ms(&[40, 10, 20, 30])).unwrap();
        assert_eq!(s.median, Duration::from_millis(25));
    }

    #[test]
    fn ratios_pair_runs_in_order() {
        let r = RatioSummary::of(&ms(&[10, 30, 20]), &ms(&[100, 100, 50])).unwrap();
        assert!((r.of_medians - 20.0 / 100.0).abs() < 1e-12);
        assert!((r.of_maxima - 30.0 / 100.0).abs() < 1e-12);
        assert!((r.pair_min - 0.1).abs() < 1e-12);
        assert!((r.pair_median - 0.3).abs() < 1e-12);
        assert!((r.pair_max - 0.4).abs() < 1e-12);
    }

    #[test]
    fn ratios_need_matching_non_zero_runs() {
        assert_eq!(RatioSummary::of(&ms(&[1, 2]), &ms(&[1])), None);
        assert_eq!(RatioSummary::of(&ms(&[1]), &ms(&[0])), None);
        assert_eq!(RatioSummary::of(&[], &[]), None);
    }

    #[test]
    fn differences_pair_runs_in_order_and_may_be_negative() {
        let d = DifferenceSummary::of(&ms(&[10, 30, 20, 5]), &ms(&[4, 10, 12, 6])).unwrap();
        assert_eq!(d.runs, 4);
        assert_eq!(d.min_ns, -1_000_000);
        assert_eq!(d.max_ns, 20_000_000);
        assert_eq!(
            d.median_ns, 7_000_000,
            "mean of the middle pair, 6 and 8 ms"
        );
        assert_eq!(DifferenceSummary::of(&ms(&[1]), &ms(&[1, 2])), None);
        assert_eq!(DifferenceSummary::of(&[], &[]), None);
    }

    #[test]
    fn signed_nanos_print_like_durations() {
        assert_eq!(format_signed_nanos(1_340_000), "1.34 ms");
        assert_eq!(format_signed_nanos(-87_512), "-87.5 µs");
        assert_eq!(format_signed_nanos(0), "0.00 ns");
    }

    #[test]
    fn durations_print_with_three_significant_figures() {
        assert_eq!(format_duration(Duration::from_millis(1234)), "1.23 s");
        assert_eq!(format_duration(Duration::from_micros(412_300)), "412 ms");
        assert_eq!(format_duration(Duration::from_nanos(87_512)), "87.5 µs");
        assert_eq!(format_duration(Duration::from_nanos(640)), "640 ns");
        assert_eq!(format_duration(Duration::from_secs(75)), "75.0 s");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(100_000), "100,000");
        assert_eq!(format_count(1_234_567), "1,234,567");
    }
}
