//! The public-key corpus the fingerprint comparisons read: 100,000 OpenSSH public key lines,
//! generated once with `tmate-keys` and cached.

use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use ssh_key::getrandom::SysRng;
use ssh_key::rand_core::UnwrapErr;
use tmate_keys::{HostKey, RsaBits};

use crate::error::{Error, Result};

/// Distinct Ed25519 keys in the corpus.
pub const CORPUS_ED25519: usize = 50_000;
/// RSA lines in the corpus.
pub const CORPUS_RSA: usize = 50_000;
/// Distinct RSA-3072 keys the RSA lines cycle through: generating 50,000 RSA keys would take
/// hours, and fingerprinting does the same work for a repeated key as for a new one.
pub const CORPUS_RSA_DISTINCT: usize = 32;
/// File name of the cached corpus; the version changes whenever its composition does.
const CORPUS_FILE: &str = "pubkeys-100k-v1.pub";

/// The corpus on disk and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corpus {
    /// The file: one `ALGORITHM BASE64 bench-N` line per key, Ed25519 and RSA alternating.
    pub path: PathBuf,
    /// Number of Ed25519 lines.
    pub ed25519: usize,
    /// Number of RSA-3072 lines.
    pub rsa: usize,
    /// Number of distinct RSA keys among them.
    pub rsa_distinct: usize,
}

impl Corpus {
    /// Returns the corpus in `dir`, generating it first if it is missing or incomplete (that
    /// takes a minute: most of it is the RSA prime search).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory or the file cannot be written, [`Error::Keys`] when
    /// key generation fails.
    pub fn ensure(dir: &Path) -> Result<Self> {
        let corpus = Self {
            path: dir.join(CORPUS_FILE),
            ed25519: CORPUS_ED25519,
            rsa: CORPUS_RSA,
            rsa_distinct: CORPUS_RSA_DISTINCT,
        };
        let complete = fs::read_to_string(&corpus.path)
            .is_ok_and(|text| text.lines().count() == corpus.ed25519 + corpus.rsa);
        if !complete {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, "failed to create", e))?;
            corpus.generate()?;
        }
        Ok(corpus)
    }

    fn generate(&self) -> Result<()> {
        let mut rng = UnwrapErr(SysRng);
        let mut rsa = Vec::with_capacity(self.rsa_distinct);
        for _ in 0..self.rsa_distinct {
            rsa.push(key_material(&HostKey::generate_rsa(
                RsaBits::default(),
                &mut rng,
            )?));
        }
        // Written to a temporary name and renamed, so an interrupted run leaves no half file.
        let tmp = self.path.with_extension("tmp");
        let file = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, "failed to create", e))?;
        let mut out = BufWriter::new(file);
        let write_err = |e| Error::io(&tmp, "failed to write", e);
        let (mut ed_left, mut rsa_left, mut n) = (self.ed25519, self.rsa, 0_usize);
        while ed_left + rsa_left > 0 {
            if ed_left > 0 {
                let key = HostKey::generate_ed25519(&mut rng)?;
                writeln!(out, "{} bench-{n}", key_material(&key)).map_err(write_err)?;
                ed_left -= 1;
                n += 1;
            }
            if rsa_left > 0 {
                writeln!(out, "{} bench-{n}", rsa[n % rsa.len()]).map_err(write_err)?;
                rsa_left -= 1;
                n += 1;
            }
        }
        out.flush().map_err(write_err)?;
        drop(out);
        fs::rename(&tmp, &self.path).map_err(|e| Error::io(&self.path, "failed to write", e))
    }

    /// Reads the corpus and returns its Ed25519 lines and its RSA lines.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read.
    pub fn lines_by_type(&self) -> Result<(Vec<String>, Vec<String>)> {
        let text = fs::read_to_string(&self.path)
            .map_err(|e| Error::io(&self.path, "failed to read", e))?;
        let (ed, rsa): (Vec<String>, Vec<String>) = text
            .lines()
            .map(str::to_owned)
            .partition(|l| l.starts_with("ssh-ed25519 "));
        Ok((ed, rsa))
    }
}

/// `ALGORITHM BASE64` of a key's public line, without the comment.
fn key_material(key: &HostKey) -> String {
    let line = key.public_line();
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_material_drops_the_comment() {
        let key = HostKey::generate_ed25519(&mut UnwrapErr(SysRng)).unwrap();
        let material = key_material(&key);
        let mut fields = material.split(' ');
        assert_eq!(fields.next(), Some("ssh-ed25519"));
        assert!(
            fields
                .next()
                .is_some_and(|b| b.starts_with("AAAAC3NzaC1lZDI1NTE5"))
        );
        assert_eq!(fields.next(), None);
    }
}
