//! `tmate-keygen init`: ensure the host keys, print the client settings.

use std::io::{self, IsTerminal, Write};

use tmate_conf::{Host, ServerConfig};
use tmate_keys::{EnsureOptions, Fingerprint, HostKeys, KeyKind, Repair};

use crate::cli::{Format, InitArgs};
use crate::error::{Error, Result};

/// Shown before the settings when a person is looking (upstream `create_keys.sh` prints it).
const CONF_HEADER: &str = "You may use the following settings in your .tmate.conf:";

/// Runs `init`: creates what is missing (never overwrites), then writes the settings to `out`.
///
/// Notes for a person (progress, what was created) go to standard error only when it is a
/// terminal; repairs of existing files are always reported there.
///
/// # Errors
///
/// [`Error::Keys`] when the keys cannot be created, loaded or verified; [`Error::Stdout`]
/// when `out` fails.
pub(crate) fn run(args: &InitArgs, out: &mut impl Write) -> Result<()> {
    let keys = HostKeys::new(&args.keys_dir);
    let chatty = io::stderr().is_terminal();
    if chatty && keys.missing()?.contains(&KeyKind::Rsa) {
        eprintln!(
            "tmate-keygen: generating a {}-bit RSA host key in {}, this can take a few seconds",
            args.rsa_bits.get(),
            keys.dir().join(KeyKind::Rsa.file_name()).display()
        );
    }
    let options = EnsureOptions {
        rsa_bits: args.rsa_bits,
    };
    let report = keys.ensure(&options, &mut tmate_keys::os_rng())?;
    if chatty {
        for path in &report.created {
            eprintln!("tmate-keygen: created {}", path.display());
        }
    }
    for repair in &report.repaired {
        eprintln!("tmate-keygen: {}", describe(repair));
    }

    let cfg = server_config(
        &args.host,
        args.port,
        &report.keys.rsa.sha256,
        &report.keys.ed25519.sha256,
    )?;
    let text = match args.format {
        Format::Conf => {
            if io::stdout().is_terminal() {
                eprintln!("{CONF_HEADER}\n");
            }
            tmate_conf::render(&cfg)
        }
        Format::Json => render_json(&cfg)?,
    };
    out.write_all(text.as_bytes()).map_err(Error::Stdout)?;
    out.flush().map_err(Error::Stdout)
}

/// One line about a repair `ensure` made to existing files.
fn describe(repair: &Repair) -> String {
    match repair {
        Repair::RecreatedPublicKey(path) => {
            format!("recreated {} from its private key", path.display())
        }
        Repair::TightenedMode { path, old_mode } => {
            format!(
                "changed the mode of {} from {old_mode:04o} to 0600",
                path.display()
            )
        }
        Repair::RemovedStaleTemp(path) => {
            format!("removed {}, left by an interrupted run", path.display())
        }
    }
}

/// The client settings for these keys: host, port and both SHA-256 fingerprints.
///
/// # Errors
///
/// [`Error::Conf`] if a fingerprint is not valid `tmate-server-*` text (cannot happen for
/// SHA-256 fingerprints made by `tmate_keys`).
pub(crate) fn server_config(
    host: &Host,
    port: u16,
    rsa: &Fingerprint,
    ed25519: &Fingerprint,
) -> Result<ServerConfig> {
    Ok(ServerConfig::from_parts(
        host.clone(),
        port,
        rsa.to_string().parse()?,
        ed25519.to_string().parse()?,
    )?)
}

/// The `debug-ssh` relation fields as one JSON object (the port is a string, as there).
///
/// # Errors
///
/// [`Error::Json`] (cannot happen for strings).
pub(crate) fn render_json(cfg: &ServerConfig) -> Result<String> {
    let fields = [
        ("host", cfg.host().to_string()),
        ("port", cfg.port().to_string()),
        ("rsa_fingerprint", cfg.rsa_fingerprint().to_string()),
        ("ed25519_fingerprint", cfg.ed25519_fingerprint().to_string()),
    ];
    // Written by hand to keep the relation's field order (serde_json's map is sorted).
    let mut json = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&serde_json::to_string(key)?);
        json.push(':');
        json.push_str(&serde_json::to_string(value)?);
    }
    json.push_str("}\n");
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(host: &str, port: u16) -> (ServerConfig, Fingerprint, Fingerprint) {
        let rsa = Fingerprint::of_blob(b"rsa", tmate_keys::HashAlg::Sha256);
        let ed = Fingerprint::of_blob(b"ed25519", tmate_keys::HashAlg::Sha256);
        let host: Host = host.parse().expect("host");
        (
            server_config(&host, port, &rsa, &ed).expect("config"),
            rsa,
            ed,
        )
    }

    #[test]
    fn conf_lines_match_create_keys_sh() {
        let (cfg, rsa, ed) = cfg("localhost", 22);
        assert_eq!(
            tmate_conf::render(&cfg),
            format!(
                "set -g tmate-server-host localhost\nset -g tmate-server-port 22\n\
                 set -g tmate-server-rsa-fingerprint {rsa}\n\
                 set -g tmate-server-ed25519-fingerprint {ed}\n"
            )
        );
    }

    #[test]
    fn json_has_the_relation_keys_in_order() {
        let (cfg, rsa, ed) = cfg("10.1.2.3", 10022);
        let json = render_json(&cfg).expect("json");
        assert_eq!(
            json,
            format!(
                "{{\"host\":\"10.1.2.3\",\"port\":\"10022\",\"rsa_fingerprint\":\"{rsa}\",\
                 \"ed25519_fingerprint\":\"{ed}\"}}\n"
            )
        );
        let value: serde_json::Value = serde_json::from_str(&json).expect("parses");
        assert_eq!(value["port"], "10022");
    }
}
