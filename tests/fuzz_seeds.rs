//! The fuzz targets' properties over the committed seeds (`fuzz/seeds/<target>/`), as
//! ordinary tests on stable: the same functions the targets call, from the same file.

#![allow(
    clippy::expect_used,
    reason = "test code: a failed expectation is a test failure"
)]
use std::fs;
use std::path::{Path, PathBuf};

#[allow(
    unreachable_pub,
    clippy::expect_used,
    reason = "shared with the fuzz crate, where these items are its public API"
)]
#[path = "../fuzz/src/lib.rs"]
mod properties;

/// Every seed of a target, sorted by name.
fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut seeds: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let data = fs::read(&path).expect("seed file");
            (path, data)
        })
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 4, "too few seeds in {}", dir.display());
    seeds
}

#[test]
fn parse_conf_seeds() {
    for (path, data) in seeds("parse_conf") {
        // The target rejects non-UTF-8 input; so does this test.
        if let Ok(text) = std::str::from_utf8(&data) {
            println!("{}", path.display());
            properties::parse_conf(text);
        }
    }
}

#[test]
fn fingerprint_seeds() {
    for (path, data) in seeds("fingerprint") {
        println!("{}", path.display());
        properties::fingerprint(&data);
    }
}

#[test]
fn public_key_line_seeds() {
    let mut parsed = 0;
    for (path, data) in seeds("public_key_line") {
        if let Ok(line) = std::str::from_utf8(&data) {
            println!("{}", path.display());
            properties::public_key_line(line);
            parsed += usize::from(tmate_keys::PublicKeyLine::parse(line).is_ok());
        }
    }
    // The agreement check only bites on lines the full parser accepts.
    assert!(parsed >= 4, "only {parsed} seeds parse as public keys");
}
