//! Command-line parsing the way Juju's hook tools do it (`juju/gnuflag`, interspersed mode).
//!
//! - flags may follow positionals; `--` ends flags; `-` and `` are positionals;
//! - `--name=value` and `--name value`; short flags group (`-ab`) and take a value either
//!   attached (`-r3`) or as the next argument (`-r 3`);
//! - a bool flag takes no argument, but a long bool flag accepts `--name=VALUE` with Go's
//!   `strconv.ParseBool` values;
//! - every error is what gnuflag says, and the tools turn it into `ERROR <message>`, exit 2.
//!
//! See: `juju/gnuflag` `flag.go` (`parseOneGnu`, `parseGnuFlagArg`).

/// Whether a flag takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A boolean switch (`--app`, `--app=false`).
    Bool,
    /// A flag with a value (`-r 3`, `--format=json`).
    Value,
}

/// One flag definition: all its names (first is canonical) and its kind.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Names without dashes, e.g. `["r", "relation"]`.
    pub names: &'static [&'static str],
    /// Bool or value.
    pub kind: Kind,
}

/// The result of a successful parse.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// `(canonical name, value)` in command-line order; bools carry `"true"`/`"false"`.
    pub flags: Vec<(&'static str, String)>,
    /// Positional arguments in order.
    pub args: Vec<String>,
}

impl Parsed {
    /// The last value given for the flag `name`, if any.
    #[must_use]
    pub fn value(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The bool flag `name` (false when absent).
    #[must_use]
    pub fn bool(&self, name: &str) -> bool {
        self.value(name) == Some("true")
    }
}

/// Outcome of a failed parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagError {
    /// `-h` / `--help` given.
    Help,
    /// A gnuflag error message.
    Message(String),
}

/// Go's `strconv.ParseBool`.
///
/// # Errors
///
/// Returns the Go error text for anything else.
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {value:?}: invalid syntax"
        )),
    }
}

fn with_minus(name: &str) -> String {
    if name.chars().count() > 1 {
        format!("--{name}")
    } else {
        format!("-{name}")
    }
}

/// Parses `args` against `specs`; `set` validates each value as gnuflag's `Value.Set` would
/// (called in command-line order, first error wins).
///
/// # Errors
///
/// [`FlagError::Help`] for `-h`/`--help`, [`FlagError::Message`] with gnuflag's text for an
/// unknown flag, a missing value, an empty long flag or a value `set` rejects.
pub fn parse(
    args: &[String],
    specs: &[Spec],
    set: &mut dyn FnMut(&'static str, &str) -> Result<(), String>,
) -> Result<Parsed, FlagError> {
    let mut out = Parsed::default();
    let mut proc_args: std::collections::VecDeque<String> = args.iter().cloned().collect();
    let mut proc_flag = String::new();
    loop {
        // parseOneGnu
        let (name, long) = if !proc_flag.is_empty() {
            let mut chars = proc_flag.chars();
            let first = chars.next().map(String::from).unwrap_or_default();
            proc_flag = chars.as_str().to_owned();
            (first, false)
        } else {
            let Some(a) = proc_args.pop_front() else {
                break;
            };
            if a == "-" || a.is_empty() || !a.starts_with('-') {
                out.args.push(a);
                continue;
            }
            if a == "--" {
                out.args.extend(proc_args.drain(..));
                break;
            }
            if let Some(long) = a.strip_prefix("--") {
                match long.find('=') {
                    None => (long.to_owned(), true),
                    Some(i) => {
                        if i == 0 {
                            return Err(FlagError::Message(format!(
                                "empty flag in argument {a:?}"
                            )));
                        }
                        proc_flag = long[i..].to_owned();
                        (long[..i].to_owned(), true)
                    }
                }
            } else {
                let rest = &a[1..];
                let mut chars = rest.chars();
                let first = chars.next().map(String::from).unwrap_or_default();
                proc_flag = chars.as_str().to_owned();
                (first, false)
            }
        };
        // parseGnuFlagArg
        let Some(spec) = specs.iter().find(|s| s.names.contains(&name.as_str())) else {
            if name == "help" || name == "h" {
                return Err(FlagError::Help);
            }
            return Err(FlagError::Message(format!(
                "flag provided but not defined: {}",
                with_minus(&name)
            )));
        };
        let canonical = spec.names[0];
        if spec.kind == Kind::Bool && !proc_flag.starts_with('=') {
            out.flags.push((canonical, "true".to_owned()));
            continue;
        }
        let value = if !proc_flag.is_empty() {
            let v = std::mem::take(&mut proc_flag);
            if long { v[1..].to_owned() } else { v }
        } else if let Some(next) = proc_args.pop_front() {
            next
        } else {
            return Err(FlagError::Message(format!(
                "flag needs an argument: {}",
                with_minus(&name)
            )));
        };
        let invalid = |err: String| {
            FlagError::Message(format!(
                "invalid value {value:?} for flag {}: {err}",
                with_minus(&name)
            ))
        };
        let value = if spec.kind == Kind::Bool {
            parse_bool(&value).map_err(invalid)?.to_string()
        } else {
            set(canonical, &value).map_err(invalid)?;
            value
        };
        out.flags.push((canonical, value));
    }
    Ok(out)
}

/// `cmd.CheckEmpty`: the error for leftover positionals.
///
/// # Errors
///
/// `unrecognized args: ["a" "b"]` when `rest` is not empty.
pub fn check_empty(rest: &[String]) -> Result<(), String> {
    if rest.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = rest.iter().map(|a| format!("{a:?}")).collect();
    Err(format!("unrecognized args: [{}]", quoted.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[
        Spec {
            names: &["r", "relation"],
            kind: Kind::Value,
        },
        Spec {
            names: &["app"],
            kind: Kind::Bool,
        },
        Spec {
            names: &["a", "all"],
            kind: Kind::Bool,
        },
        Spec {
            names: &["format"],
            kind: Kind::Value,
        },
    ];

    fn run(args: &[&str]) -> Result<Parsed, FlagError> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        parse(&args, SPECS, &mut |name, value| {
            if name == "r" && value.ends_with("99") {
                Err("relation not found".into())
            } else {
                Ok(())
            }
        })
    }

    #[test]
    fn interspersed_flags_and_double_dash() {
        let p = run(&[
            "debug-ssh",
            "--format=json",
            "-r",
            "debug-ssh:3",
            "--",
            "--app",
            "-x",
        ])
        .unwrap();
        assert_eq!(p.value("format"), Some("json"));
        assert_eq!(p.value("r"), Some("debug-ssh:3"));
        assert!(!p.bool("app"));
        assert_eq!(p.args, ["debug-ssh", "--app", "-x"]);
    }

    #[test]
    fn short_value_attached_and_grouped_bools() {
        let p = run(&["-r3", "-a", "--format", "yaml", "-"]).unwrap();
        assert_eq!(p.value("r"), Some("3"));
        assert!(p.bool("a"));
        assert_eq!(p.value("format"), Some("yaml"));
        assert_eq!(p.args, ["-"]);
    }

    #[test]
    fn long_bool_with_value() {
        assert!(!run(&["--app=False"]).unwrap().bool("app"));
        assert!(run(&["--app=true"]).unwrap().bool("app"));
        assert_eq!(
            run(&["--app=yes"]).unwrap_err(),
            FlagError::Message(
                "invalid value \"yes\" for flag --app: strconv.ParseBool: parsing \"yes\": invalid syntax".into()
            )
        );
    }

    #[test]
    fn pinned_error_texts() {
        assert_eq!(
            run(&["--bogus"]).unwrap_err(),
            FlagError::Message("flag provided but not defined: --bogus".into())
        );
        assert_eq!(
            run(&["-x"]).unwrap_err(),
            FlagError::Message("flag provided but not defined: -x".into())
        );
        assert_eq!(
            run(&["-r"]).unwrap_err(),
            FlagError::Message("flag needs an argument: -r".into())
        );
        assert_eq!(
            run(&["-r", "debug-ssh:99"]).unwrap_err(),
            FlagError::Message(
                "invalid value \"debug-ssh:99\" for flag -r: relation not found".into()
            )
        );
        assert_eq!(
            run(&["--=x"]).unwrap_err(),
            FlagError::Message("empty flag in argument \"--=x\"".into())
        );
        assert_eq!(run(&["--help"]).unwrap_err(), FlagError::Help);
        assert_eq!(
            check_empty(&["a".into(), "b c".into()]).unwrap_err(),
            "unrecognized args: [\"a\" \"b c\"]"
        );
    }
}
