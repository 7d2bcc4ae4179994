//! Command-line parsing (lexopt) into one [`Command`] value.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;
use tmate_conf::Host;
use tmate_keys::{HashAlg, RsaBits};

use crate::error::{Error, Result};

/// Default keys directory, as in upstream `create_keys.sh`.
pub(crate) const DEFAULT_KEYS_DIR: &str = "keys";
/// Default host clients connect to, as in upstream `create_keys.sh`.
pub(crate) const DEFAULT_HOST: &str = "localhost";
/// Default port clients connect to, as in upstream `create_keys.sh` (and the tmate client).
pub(crate) const DEFAULT_PORT: u16 = 22;
/// The name standard input goes by in messages, as in `ssh-keygen`.
pub(crate) const STDIN_NAME: &str = "(stdin)";

/// The help text for `--help`, `-h` and `help`.
pub(crate) const HELP: &str = "\
tmate-keygen: host keys and client settings for a self-hosted tmate-ssh-server

Usage:
  tmate-keygen init [--keys-dir DIR] [--host HOST] [--port PORT] [--rsa-bits BITS] [--format conf|json]
  tmate-keygen fingerprint [-E sha256|md5] [FILE|-]...
  tmate-keygen conf ...
  tmate-keygen help | --help | -h
  tmate-keygen --version | -V

Commands:
  init         Create the missing host keys in DIR (ssh_host_rsa_key, ssh_host_ed25519_key
               and their .pub files, in OpenSSH format) and print the client settings for
               them on standard output. Existing keys are never overwritten, so running it
               again prints the same settings; a missing .pub is recreated from its key.
  fingerprint  Print one line per key, as `ssh-keygen -l` does: BITS FINGERPRINT COMMENT (TYPE).
               A FILE may be a .pub file, an authorized_keys or known_hosts file (blank,
               comment and unparsable lines are skipped) or an unencrypted OpenSSH RSA or
               Ed25519 private key (fingerprinted by itself: FILE.pub is not read). With no
               FILE, or for -, standard input is read.
  conf         Read and edit tmate.conf files (see `tmate-keygen conf --help`).

Options for init:
  --keys-dir DIR     Keys directory, created with mode 0700 if missing [default: keys]
  --host HOST        Host name or IP address the clients connect to [default: localhost]
  --port PORT        Port the clients connect to, 1 to 65535 [default: 22]
  --rsa-bits BITS    Size of a newly generated RSA key: 2048, 3072 or 4096 [default: 3072]
  --format FORMAT    conf: the four `set -g tmate-server-...` lines for ~/.tmate.conf
                     json: {\"host\", \"port\", \"rsa_fingerprint\", \"ed25519_fingerprint\"},
                     the fields of the debug-ssh relation [default: conf]

Options for fingerprint:
  -E, --hash ALG     Fingerprint hash: sha256 or md5 [default: sha256]

Examples:
  tmate-keygen init --keys-dir /srv/tmate/keys --host 203.0.113.7 --port 10022 > server.conf
  tmate -f server.conf
  tmate-keygen init --keys-dir /srv/tmate/keys --format json
  tmate-keygen fingerprint /srv/tmate/keys/ssh_host_ed25519_key.pub
  tmate-keygen fingerprint -E md5 ~/.ssh/authorized_keys
  ssh-keyscan -p 10022 203.0.113.7 | tmate-keygen fingerprint

Exit status: 0 on success, 1 on any error (a one-line message on standard error).
";

/// One invocation of the tool.
#[derive(Debug)]
pub(crate) enum Command {
    /// Print [`HELP`].
    Help,
    /// Print the version.
    Version,
    /// `tmate-keygen init`.
    Init(InitArgs),
    /// `tmate-keygen fingerprint`.
    Fingerprint(FingerprintArgs),
    /// `tmate-keygen conf ...`: the arguments after `conf`, handled by [`crate::conf`].
    Conf(Vec<OsString>),
}

/// Output format of `init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The four `set -g` lines of tmate.conf.
    Conf,
    /// A JSON object with the `debug-ssh` relation keys.
    Json,
}

/// Arguments of `init`.
#[derive(Debug)]
pub(crate) struct InitArgs {
    /// Keys directory.
    pub(crate) keys_dir: PathBuf,
    /// Host clients connect to.
    pub(crate) host: Host,
    /// Port clients connect to (never 0).
    pub(crate) port: u16,
    /// Size of a newly generated RSA key.
    pub(crate) rsa_bits: RsaBits,
    /// Output format.
    pub(crate) format: Format,
}

/// One input of `fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// Standard input (no FILE, or `-`).
    Stdin,
    /// A file.
    File(PathBuf),
}

/// Arguments of `fingerprint`.
#[derive(Debug)]
pub(crate) struct FingerprintArgs {
    /// Fingerprint hash.
    pub(crate) hash: HashAlg,
    /// Inputs in order; never empty.
    pub(crate) inputs: Vec<Input>,
}

/// Parses the arguments after the program name.
///
/// # Errors
///
/// [`Error::Usage`] for an unknown command or option, a missing or invalid value.
pub(crate) fn parse(args: Vec<OsString>) -> Result<Command> {
    // `conf` owns its own grammar: hand over everything after it untouched.
    if args.first().is_some_and(|a| a == "conf") {
        return Ok(Command::Conf(args.into_iter().skip(1).collect()));
    }
    let mut parser = lexopt::Parser::from_args(args);
    let command = match parser.next()? {
        None => return Err(Error::Usage("missing command".to_owned())),
        Some(Long("help") | Short('h')) => Command::Help,
        Some(Long("version") | Short('V')) => Command::Version,
        Some(Value(v)) if v == "help" => Command::Help,
        Some(Value(v)) if v == "init" => return parse_init(parser),
        Some(Value(v)) if v == "fingerprint" => return parse_fingerprint(parser),
        Some(Value(v)) => {
            return Err(Error::Usage(format!(
                "unknown command {:?}",
                v.to_string_lossy()
            )));
        }
        Some(arg) => return Err(arg.unexpected().into()),
    };
    // `--help`/`--version`/`help` take no further arguments.
    if let Some(arg) = parser.next()? {
        return Err(arg.unexpected().into());
    }
    Ok(command)
}

/// Parses the options of `init`.
fn parse_init(mut parser: lexopt::Parser) -> Result<Command> {
    let mut args = InitArgs {
        keys_dir: PathBuf::from(DEFAULT_KEYS_DIR),
        host: Host::Domain(DEFAULT_HOST.to_owned()),
        port: DEFAULT_PORT,
        rsa_bits: RsaBits::default(),
        format: Format::Conf,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("help") | Short('h') => return Ok(Command::Help),
            Long("keys-dir") => args.keys_dir = parser.value()?.into(),
            Long("host") => args.host = parse_host(&string_value(&mut parser)?)?,
            Long("port") => args.port = parse_port(&string_value(&mut parser)?)?,
            Long("rsa-bits") => {
                let value = string_value(&mut parser)?;
                if value.trim().parse::<u32>().is_err() {
                    // The library would report a non-number as size 0.
                    return Err(Error::Usage(format!(
                        "invalid RSA key size {value:?}: use 2048, 3072 or 4096"
                    )));
                }
                // The library's message names the accepted sizes.
                args.rsa_bits = value.parse()?;
            }
            Long("format") => args.format = parse_format(&string_value(&mut parser)?)?,
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Init(args))
}

/// Parses the options and files of `fingerprint`.
fn parse_fingerprint(mut parser: lexopt::Parser) -> Result<Command> {
    let mut hash = HashAlg::Sha256;
    let mut inputs = Vec::new();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("help") | Short('h') => return Ok(Command::Help),
            Short('E') | Long("hash") => hash = parse_hash(&string_value(&mut parser)?)?,
            // `ssh-keygen -l -f FILE` habits keep working.
            Short('f') => inputs.push(input(parser.value()?)),
            Value(v) => inputs.push(input(v)),
            _ => return Err(arg.unexpected().into()),
        }
    }
    if inputs.is_empty() {
        inputs.push(Input::Stdin);
    }
    Ok(Command::Fingerprint(FingerprintArgs { hash, inputs }))
}

/// The value of the current option as UTF-8.
fn string_value(parser: &mut lexopt::Parser) -> Result<String> {
    Ok(parser.value()?.string()?)
}

/// `-` is standard input, anything else a file.
fn input(value: OsString) -> Input {
    if value == "-" {
        Input::Stdin
    } else {
        Input::File(value.into())
    }
}

/// Accepts an IP literal or a DNS name (what `tmate_conf` can render without quoting).
fn parse_host(value: &str) -> Result<Host> {
    value
        .parse()
        .map_err(|e: tmate_conf::Error| Error::Usage(e.to_string()))
}

/// Accepts a TCP port 1..=65535.
fn parse_port(value: &str) -> Result<u16> {
    port_from_str(value).map_err(Error::Usage)
}

/// Accepts a TCP port 1..=65535, or says why not: the one message of `init --port` and
/// `conf apply --port` (and the wording of `conf check` for `tmate-server-port`).
pub(crate) fn port_from_str(value: &str) -> Result<u16, String> {
    match value.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(format!(
            "invalid port {value:?}: expected a number from 1 to 65535"
        )),
    }
}

/// Accepts `conf` or `json`.
fn parse_format(value: &str) -> Result<Format> {
    match value {
        "conf" => Ok(Format::Conf),
        "json" => Ok(Format::Json),
        _ => Err(Error::Usage(format!(
            "invalid format {value:?}: use conf or json"
        ))),
    }
}

/// Accepts `sha256` or `md5`, as `ssh-keygen -E`.
fn parse_hash(value: &str) -> Result<HashAlg> {
    value.parse().map_err(|_| {
        Error::Usage(format!(
            "invalid fingerprint hash {value:?}: use sha256 or md5"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command> {
        parse(args.iter().map(OsString::from).collect())
    }

    fn message(args: &[&str]) -> String {
        parse_strs(args).expect_err("should fail").to_string()
    }

    #[test]
    fn init_defaults_mirror_create_keys_sh() {
        let Ok(Command::Init(a)) = parse_strs(&["init"]) else {
            panic!("not init")
        };
        assert_eq!(a.keys_dir, PathBuf::from("keys"));
        assert_eq!(a.host.to_string(), "localhost");
        assert_eq!(a.port, 22);
        assert_eq!(a.rsa_bits.get(), 3072);
        assert_eq!(a.format, Format::Conf);
    }

    #[test]
    fn init_options() {
        let cmd = parse_strs(&[
            "init",
            "--keys-dir=/k",
            "--host",
            "10.0.0.1",
            "--port",
            "10022",
            "--rsa-bits",
            "4096",
            "--format",
            "json",
        ]);
        let Ok(Command::Init(a)) = cmd else {
            panic!("not init")
        };
        assert_eq!(a.keys_dir, PathBuf::from("/k"));
        assert_eq!(a.host.to_string(), "10.0.0.1");
        assert_eq!(a.port, 10022);
        assert_eq!(a.rsa_bits.get(), 4096);
        assert_eq!(a.format, Format::Json);
    }

    #[test]
    fn ipv6_host_is_accepted() {
        assert!(matches!(
            parse_strs(&["init", "--host", "fd00::5"]),
            Ok(Command::Init(_))
        ));
    }

    #[test]
    fn usage_errors_are_pinned() {
        assert_eq!(message(&[]), "missing command");
        assert_eq!(message(&["frobnicate"]), "unknown command \"frobnicate\"");
        assert_eq!(message(&["init", "--bogus"]), "invalid option '--bogus'");
        assert_eq!(
            message(&["init", "--port"]),
            "missing argument for option '--port'"
        );
        assert_eq!(
            message(&["init", "--port", "0"]),
            "invalid port \"0\": expected a number from 1 to 65535"
        );
        assert_eq!(
            message(&["init", "--port", "65536"]),
            "invalid port \"65536\": expected a number from 1 to 65535"
        );
        assert_eq!(
            message(&["init", "--port", "ssh"]),
            "invalid port \"ssh\": expected a number from 1 to 65535"
        );
        assert_eq!(
            message(&["init", "--host", "a b"]),
            "invalid host \"a b\": only letters, digits, '-' and '.' are allowed in a name"
        );
        assert_eq!(
            message(&["init", "--host", ""]),
            "invalid host \"\": empty host"
        );
        assert_eq!(
            message(&["init", "--format", "yaml"]),
            "invalid format \"yaml\": use conf or json"
        );
        assert_eq!(
            message(&["fingerprint", "-E", "sha1"]),
            "invalid fingerprint hash \"sha1\": use sha256 or md5"
        );
        assert_eq!(message(&["--help", "x"]), "unexpected argument \"x\"");
    }

    #[test]
    fn rsa_bits_1024_is_refused_by_the_library() {
        assert_eq!(
            message(&["init", "--rsa-bits", "1024"]),
            "unsupported RSA key size 1024 (use 2048, 3072 or 4096)"
        );
    }

    #[test]
    fn rsa_bits_that_are_not_a_number_are_named() {
        assert_eq!(
            message(&["init", "--rsa-bits", "many"]),
            "invalid RSA key size \"many\": use 2048, 3072 or 4096"
        );
    }

    #[test]
    fn help_and_version() {
        for args in [
            &["--help"][..],
            &["-h"],
            &["help"],
            &["init", "--help"],
            &["fingerprint", "-h"],
        ] {
            assert!(matches!(parse_strs(args), Ok(Command::Help)), "{args:?}");
        }
        assert!(matches!(parse_strs(&["--version"]), Ok(Command::Version)));
        assert!(matches!(parse_strs(&["-V"]), Ok(Command::Version)));
    }

    #[test]
    fn fingerprint_inputs() {
        let Ok(Command::Fingerprint(a)) = parse_strs(&["fingerprint"]) else {
            panic!("not fingerprint")
        };
        assert_eq!(a.inputs, [Input::Stdin]);
        assert_eq!(a.hash, HashAlg::Sha256);
        let Ok(Command::Fingerprint(a)) =
            parse_strs(&["fingerprint", "-Emd5", "a.pub", "-", "-f", "b"])
        else {
            panic!("not fingerprint")
        };
        assert_eq!(a.hash, HashAlg::Md5);
        assert_eq!(
            a.inputs,
            [
                Input::File("a.pub".into()),
                Input::Stdin,
                Input::File("b".into())
            ]
        );
    }

    #[test]
    fn conf_gets_the_rest_untouched() {
        let Ok(Command::Conf(rest)) = parse_strs(&["conf", "--weird", "x"]) else {
            panic!("not conf")
        };
        assert_eq!(rest, [OsString::from("--weird"), OsString::from("x")]);
    }
}
