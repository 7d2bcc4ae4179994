//! The packed charm: locating, unpacking (with unix modes) and reading its metadata.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::yaml;
use super::{Error, Result};

/// File name `cargo xtask charm` writes below `target/charm/`.
pub const CHARM_FILE: &str = "tmate-ssh-server.charm";

/// Python snippet that extracts a zip keeping unix modes and prints `name<TAB>mode` lines.
/// Python's `zipfile` is used because `unzip` is not on every CI image; the zip entries'
/// modes are what Juju gets (it does not chmod).
const UNZIP_PY: &str = r#"
import sys, zipfile, os
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    for info in z.infolist():
        mode = (info.external_attr >> 16) & 0o7777
        path = z.extract(info, dst)
        if mode and not info.is_dir():
            os.chmod(path, mode)
        print(f"{info.filename}\t{mode:o}")
"#;

/// The packed charm's location: `$CARGO_TARGET_DIR/charm/...` or `<workspace>/target/charm/...`.
#[must_use]
pub fn packed_charm_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join("charm").join(CHARM_FILE)
}

/// An unpacked charm directory and what its YAML files say.
#[derive(Debug, Clone)]
pub struct Charm {
    /// The unpacked charm directory (Juju's `JUJU_CHARM_DIR`).
    pub dir: PathBuf,
    /// Unix mode of every zip entry, by name.
    pub modes: BTreeMap<String, u32>,
    /// `metadata.yaml` as JSON.
    pub metadata: Value,
    /// `config.yaml` as JSON (null when absent).
    pub config: Value,
    /// `actions.yaml` as JSON (null when absent).
    pub actions: Value,
}

impl Charm {
    /// Unzips `charm_file` into `dest` (which must exist) and reads its metadata.
    ///
    /// # Errors
    ///
    /// [`Error::NotPacked`] when the file is missing, [`Error::Command`] when extraction
    /// fails, [`Error::Yaml`]/[`Error::Io`] for unreadable metadata.
    pub fn unpack(charm_file: &Path, dest: &Path) -> Result<Self> {
        if !charm_file.is_file() {
            return Err(Error::NotPacked {
                path: charm_file.to_owned(),
            });
        }
        let output = Command::new("python3")
            .arg("-c")
            .arg(UNZIP_PY)
            .arg(charm_file)
            .arg(dest)
            .output()
            .map_err(|source| Error::Spawn {
                command: "python3 -c <unzip>".into(),
                source,
            })?;
        if !output.status.success() {
            return Err(Error::Command {
                command: format!("python3 -c <unzip> {}", charm_file.display()),
                status: output.status.code().unwrap_or(-1),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        let mut modes = BTreeMap::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Some((name, mode)) = line.split_once('\t') {
                modes.insert(name.to_owned(), u32::from_str_radix(mode, 8).unwrap_or(0));
            }
        }
        Self::read_dir(dest, modes)
    }

    /// Reads an already unpacked charm directory (modes taken from the files).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] / [`Error::Yaml`] for an unreadable or malformed `metadata.yaml`.
    pub fn read_dir(dir: &Path, modes: BTreeMap<String, u32>) -> Result<Self> {
        let read_yaml = |name: &str, required: bool| -> Result<Value> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => yaml::parse(&text).map_err(|source| Error::Yaml { path, source }),
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Null),
                Err(source) => Err(Error::io("read", &path, source)),
            }
        };
        Ok(Charm {
            dir: dir.to_owned(),
            modes,
            metadata: read_yaml("metadata.yaml", true)?,
            config: read_yaml("config.yaml", false)?,
            actions: read_yaml("actions.yaml", false)?,
        })
    }

    /// The charm name from `metadata.yaml`.
    #[must_use]
    pub fn name(&self) -> &str {
        self.metadata["name"].as_str().unwrap_or_default()
    }

    /// Endpoints declared in `provides`, `requires`, `peers` and `extra-bindings`, with the
    /// interface of each relation endpoint (empty for extra bindings).
    #[must_use]
    pub fn endpoints(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for section in ["provides", "requires", "peers"] {
            if let Some(map) = self.metadata[section].as_object() {
                for (name, spec) in map {
                    out.insert(
                        name.clone(),
                        spec["interface"].as_str().unwrap_or_default().to_owned(),
                    );
                }
            }
        }
        if let Some(map) = self.metadata["extra-bindings"].as_object() {
            for name in map.keys() {
                out.insert(name.clone(), String::new());
            }
        }
        out
    }

    /// Whether `endpoint` is a `provides` or `requires` endpoint (one that relates to another
    /// application).
    #[must_use]
    pub fn is_relation_endpoint(&self, endpoint: &str) -> bool {
        ["provides", "requires"]
            .iter()
            .any(|s| self.metadata[*s].get(endpoint).is_some())
    }

    /// Config defaults from `config.yaml` (`null` for options without a default).
    #[must_use]
    pub fn config_defaults(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        if let Some(options) = self.config["options"].as_object() {
            for (name, spec) in options {
                out.insert(
                    name.clone(),
                    spec.get("default").cloned().unwrap_or(Value::Null),
                );
            }
        }
        out
    }

    /// The declared type of config option `name` (`string`, `int`, `float`, `boolean`, `secret`).
    #[must_use]
    pub fn config_type(&self, name: &str) -> Option<&str> {
        self.config["options"][name]["type"].as_str()
    }

    /// Action names from `actions.yaml`.
    #[must_use]
    pub fn action_names(&self) -> BTreeSet<String> {
        self.actions
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Default parameter values of `action` (`params.<name>.default`).
    #[must_use]
    pub fn action_defaults(&self, action: &str) -> serde_json::Map<String, Value> {
        let mut out = serde_json::Map::new();
        if let Some(params) = self.actions[action]["params"].as_object() {
            for (name, spec) in params {
                if let Some(default) = spec.get("default") {
                    out.insert(name.clone(), default.clone());
                }
            }
        }
        out
    }

    /// Whether `action` accepts parameters it does not declare.
    #[must_use]
    pub fn action_allows_additional(&self, action: &str) -> bool {
        self.actions[action]["additionalProperties"]
            .as_bool()
            .unwrap_or(true)
    }

    /// Declared parameter names of `action`.
    #[must_use]
    pub fn action_params(&self, action: &str) -> BTreeSet<String> {
        self.actions[action]["params"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}
