//! Properties checked by the fuzz targets, and by `tests/fuzz_seeds.rs` over the
//! committed seeds (that file includes this one with `#[path]`, so this file may use
//! only `tmate_conf` and `tmate_keys`).
//!
//! Each function panics when its property does not hold.

use std::collections::BTreeMap;

use tmate_conf::{Document, Env, Fingerprint, ServerConfig};
use tmate_keys::{HashAlg, PublicKeyLine, fingerprint_line};

/// A fixed environment, so that every run of an input means the same.
pub fn env() -> Env {
    Env::empty()
        .with_var("HOME", "/home/fuzz")
        .with_var("X", "x y;")
        .with_user("root", "/root")
}

/// Config parser: no panic; printing gives back the input byte for byte; rendering the
/// options it sets and parsing that gives back the same options, without problems.
pub fn parse_conf(text: &str) {
    let doc = Document::parse(text);
    assert_eq!(doc.to_string(), text, "lossless print");
    assert_eq!(doc.as_str(), text);
    let env = env();
    let evaluation = doc.evaluate(&env);
    for d in evaluation.diagnostics() {
        assert!(
            d.line() >= 1 && d.column() >= 1 && d.offset() <= text.len(),
            "{d}"
        );
        assert!(d.tmux_line() >= 1);
    }
    // Values holding control characters cannot be rendered (by design); leave them out.
    let mut expected = BTreeMap::new();
    let mut rendered = String::new();
    for (name, value) in evaluation.assigned() {
        if let Ok(line) = tmate_conf::render_option(name, value) {
            rendered.push_str(&line);
            expected.insert(name.clone(), value.clone());
        }
    }
    let again = Document::parse(&rendered).evaluate(&env);
    assert!(
        again.is_ok(),
        "rendered settings have problems: {:?}\n{rendered}",
        again.diagnostics().first().map(ToString::to_string)
    );
    assert_eq!(again.assigned(), &expected, "render -> parse\n{rendered}");

    // Editing a config the client accepts always works, and means what was asked.
    if evaluation.is_ok() {
        let cfg = server_config();
        let mut edited = doc.clone();
        if let Err(e) = edited.set_server_config(&cfg, &env) {
            panic!("editing {text:?} failed: {e}");
        }
        let settings = edited.evaluate(&env).server_settings();
        assert_eq!(
            settings.to_server_config().ok(),
            Some(cfg),
            "{}",
            edited.as_str()
        );
    }
}

/// The settings the edit property applies.
fn server_config() -> ServerConfig {
    ServerConfig::new(
        "10.0.0.5",
        10022,
        "SHA256:Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs",
        "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI",
    )
    .expect("valid settings")
}

/// Fingerprint text: whatever parses prints back exactly; 32 or 16 raw bytes print to
/// text that parses back to them.
pub fn fingerprint(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(fp) = text.parse::<Fingerprint>() {
            assert_eq!(fp.to_string(), text);
        }
        if let Ok(fp) = Fingerprint::parse_allow_md5(text) {
            assert_eq!(fp.to_string(), text);
        }
    }
    if let Ok(digest) = <[u8; 32]>::try_from(data.get(..32).unwrap_or_default()) {
        let fp = Fingerprint::Sha256(digest);
        assert_eq!(fp.to_string().parse::<Fingerprint>().ok(), Some(fp));
    }
    if let Ok(digest) = <[u8; 16]>::try_from(data.get(..16).unwrap_or_default()) {
        let fp = Fingerprint::Md5(digest);
        assert_eq!(Fingerprint::parse_allow_md5(&fp.to_string()).ok(), Some(fp));
    }
}

/// Public key lines: no panic; whenever the full parser accepts a line, the fast
/// fingerprint path gives the same fingerprints, and tmate-conf reads the SHA-256 one.
pub fn public_key_line(line: &str) {
    let fast = fingerprint_line(line, HashAlg::Sha256);
    let Ok(key) = PublicKeyLine::parse(line) else {
        return;
    };
    let _ = (key.algorithm(), key.comment(), key.bits(), key.type_label());
    let sha256 = key.fingerprint(HashAlg::Sha256);
    assert_eq!(fast.ok(), Some(sha256), "fast path disagrees on {line:?}");
    let md5 = key.fingerprint(HashAlg::Md5);
    assert_eq!(fingerprint_line(line, HashAlg::Md5).ok(), Some(md5));
    let text = sha256.to_string();
    let conf: Fingerprint = text
        .parse()
        .expect("tmate-conf reads tmate-keys fingerprints");
    assert_eq!(conf.to_string(), text);
}
