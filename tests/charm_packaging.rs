//! The packed `.charm` as Juju and charmcraft see it: entries, modes, metadata, the glibc
//! floor of `dispatch`, and `charmcraft analyse`; and `charm/charmcraft.yaml` as charmcraft's
//! own project model loads it.
//!
//! Needs `target/charm/tmate-ssh-server.charm` (`cargo xtask charm`), `python3`, `objdump`
//! (binutils) and `charmcraft` (`pip install charmcraft==4.5.0`): a missing one fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic on setup failure"
)]

use std::process::Command;

use serde_json::{Value, json};
use tmate_tests::sim::{Charm, Error, packed_charm_path};

/// Ubuntu 22.04's glibc: the oldest base in manifest.yaml.
const MAX_GLIBC: (u32, u32) = (2, 35);

fn unpacked() -> (tempfile::TempDir, Charm) {
    let dir = tempfile::tempdir().unwrap();
    match Charm::unpack(&packed_charm_path(), dir.path()) {
        Ok(charm) => (dir, charm),
        Err(Error::NotPacked { path }) => panic!(
            "{} is missing: run `cargo xtask charm` first",
            path.display()
        ),
        Err(e) => panic!("cannot unpack the charm: {e}"),
    }
}

#[test]
fn packed_charm_has_juju_files_and_executable_dispatch() {
    let (_dir, charm) = unpacked();
    for name in [
        "manifest.yaml",
        "metadata.yaml",
        "actions.yaml",
        "config.yaml",
        "dispatch",
    ] {
        assert!(
            charm.modes.contains_key(name),
            "{name} missing from the zip: {:?}",
            charm.modes.keys()
        );
    }
    // Juju does not chmod: the zip entry itself must carry 0755.
    assert_eq!(
        charm.modes["dispatch"], 0o755,
        "dispatch mode {:o}",
        charm.modes["dispatch"]
    );
    let elf = std::fs::read(charm.dir.join("dispatch")).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF", "dispatch is an ELF binary");

    assert_eq!(charm.name(), "tmate-ssh-server");
    assert_eq!(
        charm.endpoints().get("debug-ssh").map(String::as_str),
        Some("debug-ssh")
    );
    assert!(charm.metadata["provides"]["debug-ssh"].is_object());
    assert!(charm.action_names().contains("get-server-config"));
    let defaults = charm.config_defaults();
    assert_eq!(defaults["port"], json!(10022));
    assert_eq!(
        defaults["image"],
        json!("ghcr.io/canonical/tmate-ssh-server:0.1.1")
    );
    assert_eq!(defaults["external-address"], json!(""));
    assert_eq!(charm.config_type("port"), Some("int"));

    let manifest = std::fs::read_to_string(charm.dir.join("manifest.yaml")).unwrap();
    let manifest = tmate_tests::sim::yaml::parse(&manifest).unwrap();
    let bases: Vec<(String, String)> = manifest["bases"]
        .as_array()
        .expect("manifest.yaml has bases")
        .iter()
        .map(|b| {
            assert!(
                b["architectures"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("amd64")),
                "{b}"
            );
            (
                b["name"].as_str().unwrap().to_owned(),
                b["channel"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        bases.contains(&("ubuntu".into(), "22.04".into())),
        "{bases:?}"
    );
    assert!(
        bases.contains(&("ubuntu".into(), "24.04".into())),
        "{bases:?}"
    );
}

/// `GLIBC_x.y` versions the binary's dynamic symbols need, from `objdump -T`.
fn glibc_versions(path: &std::path::Path) -> Vec<(u32, u32)> {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(path)
        .output()
        .expect("objdump must be installed (apt binutils)");
    assert!(
        out.status.success(),
        "objdump -T failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut versions: Vec<(u32, u32)> = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect();
    versions.sort_unstable();
    versions.dedup();
    versions
}

#[test]
fn dispatch_runs_on_the_oldest_base_glibc() {
    let (_dir, charm) = unpacked();
    let versions = glibc_versions(&charm.dir.join("dispatch"));
    assert!(
        !versions.is_empty(),
        "dispatch links no glibc symbol versions?"
    );
    let newest = versions.last().copied().unwrap();
    assert!(
        newest <= MAX_GLIBC,
        "dispatch needs GLIBC_{}.{} (> {MAX_GLIBC:?}): {versions:?}",
        newest.0,
        newest.1
    );
}

#[test]
fn glibc_version_reader_sees_a_known_binary() {
    // The reader itself: /bin/ls on any glibc system needs at least GLIBC_2.2.5-era symbols.
    let versions = glibc_versions(std::path::Path::new("/bin/ls"));
    assert!(versions.iter().any(|v| v.0 == 2), "{versions:?}");
}

/// `charmcraft analyse` lints the packed charm offline: no lint may end in `errors` or
/// `warnings` (attributes such as `language`/`framework` are informational).
#[test]
fn charmcraft_analyse_reports_no_error_or_warning() {
    let charm = packed_charm_path();
    assert!(
        charm.is_file(),
        "{} is missing: run `cargo xtask charm` first",
        charm.display()
    );
    let home = tempfile::tempdir().unwrap();
    let out = Command::new("charmcraft")
        .args(["analyse", "--format", "json"])
        .arg(&charm)
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .output()
        .expect("charmcraft must be installed (pip install charmcraft==4.5.0)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "charmcraft analyse failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let results: Vec<Value> =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert!(
        results
            .iter()
            .any(|r| r["name"] == "metadata" && r["result"] == "ok"),
        "{stdout}"
    );
    let bad: Vec<&Value> = results
        .iter()
        .filter(|r| r["check_type"] == "lint")
        .filter(|r| {
            !matches!(
                r["result"].as_str(),
                Some("ok" | "nonapplicable" | "ignored")
            )
        })
        .collect();
    assert!(bad.is_empty(), "charmcraft analyse lint problems: {bad:#?}");
}

/// Loads `charm/charmcraft.yaml` (with `overrides` merged over its top-level keys) the way
/// `charmcraft pack` does - its own preprocessing (default parts, metadata.yaml, config.yaml
/// and actions.yaml folded in) and its project model - and prints the validated project as
/// JSON, or `rejected: <error>`.
fn charmcraft_project(overrides: &Value) -> String {
    const SCRIPT: &str = r#"
import json, pathlib, sys, yaml
from charmcraft import preprocess
from charmcraft.models.project import CharmcraftProject
charm_dir = pathlib.Path(sys.argv[1])
data = yaml.safe_load((charm_dir / "charmcraft.yaml").read_text())
data.update(json.loads(sys.argv[2]))
preprocess.add_default_parts(data)
preprocess.add_metadata(charm_dir, data)
preprocess.add_config(charm_dir, data)
preprocess.add_actions(charm_dir, data)
try:
    project = CharmcraftProject.unmarshal(data)
except Exception as e:
    print("rejected:", type(e).__name__, str(e).splitlines()[0])
    sys.exit(0)
print(json.dumps(project.marshal()))
"#;
    let charm_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../charm");
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&charm_dir)
        .arg(overrides.to_string())
        .output()
        .expect("python3 must be installed (with charmcraft: pip install charmcraft==4.5.0)");
    assert!(
        out.status.success(),
        "python3 with charmcraft failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `charmcraft.yaml` is a project charmcraft accepts: one `.charm` per Ubuntu 22.04 and 24.04
/// amd64, a `plugin: nil` part that builds the charm binary with cargo (locked) and primes
/// exactly `dispatch`, with the metadata of `metadata.yaml`.
#[test]
fn charmcraft_yaml_is_a_project_charmcraft_accepts() {
    let out = charmcraft_project(&json!({}));
    let project: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(project["name"], "tmate-ssh-server");
    assert_eq!(project["type"], "charm");
    let platforms: Vec<&String> = project["platforms"].as_object().unwrap().keys().collect();
    assert_eq!(platforms, ["ubuntu@22.04:amd64", "ubuntu@24.04:amd64"]);
    let parts = project["parts"].as_object().unwrap();
    assert_eq!(parts.keys().collect::<Vec<_>>(), ["charm"], "{parts:?}");
    let part = &parts["charm"];
    assert_eq!(part["plugin"], "nil");
    assert_eq!(part["prime"], json!(["dispatch"]));
    let build = part["override-build"].as_str().unwrap();
    assert!(
        build.contains("cargo build --release --locked -p tmate-ssh-server-charm"),
        "{build}"
    );
    assert!(
        build.contains(r#"install -D -m 0755 "$CRAFT_PART_BUILD/target/release/dispatch" "$CRAFT_PART_INSTALL/dispatch""#),
        "{build}"
    );
}

/// The check above can fail: the same loading rejects a misspelt top-level key, a misspelt
/// part property, an unknown plugin and a misspelt architecture.
#[test]
fn charmcraft_project_loading_rejects_mistakes() {
    for mistake in [
        json!({"platfroms": {"ubuntu@22.04:amd64": null}}),
        json!({"parts": {"charm": {"plugin": "nil", "overide-build": "true"}}}),
        json!({"parts": {"charm": {"plugin": "nill"}}}),
        json!({"platforms": {"ubuntu@22.04:amd46": null}}),
    ] {
        let out = charmcraft_project(&mistake);
        assert!(
            out.starts_with("rejected:"),
            "{mistake} was accepted: {out}"
        );
    }
}
