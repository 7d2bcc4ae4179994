//! The README's headline figures come from `BENCHMARKS.md`, the report the benchmark command
//! writes: a figure that the command did not produce is a defect.

use std::collections::BTreeSet;
use std::path::Path;

/// The numbers in `text`: runs of digits with `,` thousands separators and one decimal point
/// (`100,000`, `0.254`, `1/118.0` gives `1` and `118.0`).
fn numbers(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut seen_point = false;
        while i < chars.len() {
            let c = chars[i];
            let next_is_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if c.is_ascii_digit() || (c == ',' && next_is_digit) {
                i += 1;
            } else if c == '.' && next_is_digit && !seen_point {
                seen_point = true;
                i += 1;
            } else {
                break;
            }
        }
        found.insert(chars[start..i].iter().collect());
    }
    found
}

/// The lines from `## {heading}` up to the next `## ` heading.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let marker = format!("\n## {heading}\n");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("README.md has no `## {heading}` section"))
        + marker.len();
    let end = text[start..]
        .find("\n## ")
        .map_or(text.len(), |n| start + n);
    &text[start..end]
}

#[test]
fn numbers_are_found_with_separators_and_decimals() {
    let got = numbers("0.254 of 100,000 keys, 1/118.0, RSA-3072; 3.8 times. 2, 3");
    let want: BTreeSet<String> = ["0.254", "100,000", "1", "118.0", "3072", "3.8", "2", "3"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want);
}

#[test]
fn readme_performance_figures_are_in_benchmarks_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let report = std::fs::read_to_string(root.join("BENCHMARKS.md")).unwrap();
    let in_report = numbers(&report);
    let headline = section(&readme, "Performance");
    let quoted = numbers(headline);
    assert!(quoted.len() >= 10, "too few figures found: {quoted:?}");
    let missing: Vec<&String> = quoted.difference(&in_report).collect();
    assert!(
        missing.is_empty(),
        "README.md quotes figures that BENCHMARKS.md does not hold: {missing:?}; rerun \
         `cargo run --release -p tmate-benches --bin compare` and quote its report"
    );
}
