//! Micro benchmarks of `tmate-keys`: key generation per type and size, and fingerprints of
//! public key lines per key type (`cargo bench -p tmate-benches --bench keys`).
#![allow(clippy::expect_used, reason = "a benchmark stops on a setup failure")]

use std::hint::black_box;
use std::sync::LazyLock;

use divan::Bencher;
use ssh_key::getrandom::SysRng;
use ssh_key::rand_core::UnwrapErr;
use tmate_keys::{HashAlg, HostKey, PublicKeyLine, RsaBits, fingerprint_line};

fn main() {
    divan::main();
}

/// RSA sizes `tmate-keys` accepts.
const RSA_SIZES: [u32; 3] = [2048, 3072, 4096];

/// Key types of the fingerprint benchmarks, as labels: `ed25519`, `rsa-2048`, ...
const KEY_TYPES: [&str; 4] = ["ed25519", "rsa-2048", "rsa-3072", "rsa-4096"];

/// One public key line per entry of [`KEY_TYPES`], generated once.
static LINES: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    let mut rng = UnwrapErr(SysRng);
    KEY_TYPES
        .iter()
        .map(|&label| {
            let key = match label.strip_prefix("rsa-") {
                Some(bits) => {
                    let bits = RsaBits::try_from(bits.parse::<u32>().expect("a size"))
                        .expect("a supported size");
                    HostKey::generate_rsa(bits, &mut rng)
                }
                None => HostKey::generate_ed25519(&mut rng),
            }
            .expect("key generation");
            (label, key.public_line())
        })
        .collect()
});

fn line(label: &str) -> &'static str {
    LINES
        .iter()
        .find(|(l, _)| *l == label)
        .map(|(_, line)| line.as_str())
        .expect("a known key type")
}

mod generate {
    use super::*;

    #[divan::bench]
    fn ed25519(bencher: Bencher<'_, '_>) {
        let mut rng = UnwrapErr(SysRng);
        bencher.bench_local(|| HostKey::generate_ed25519(&mut rng).expect("generated"));
    }

    /// RSA generation is a prime search with a random running time: few, whole samples.
    #[divan::bench(args = RSA_SIZES, sample_count = 10, sample_size = 1)]
    fn rsa(bencher: Bencher<'_, '_>, bits: u32) {
        let bits = RsaBits::try_from(bits).expect("a supported size");
        let mut rng = UnwrapErr(SysRng);
        bencher.bench_local(|| HostKey::generate_rsa(bits, &mut rng).expect("generated"));
    }
}

mod fingerprint {
    use super::*;

    /// The fast path: SHA-256 of the base64-decoded blob, no key parse.
    #[divan::bench(args = KEY_TYPES)]
    fn fingerprint_line_sha256(bencher: Bencher<'_, '_>, key_type: &str) {
        let line = line(key_type);
        bencher
            .bench(|| fingerprint_line(black_box(line), HashAlg::Sha256).expect("a fingerprint"));
    }

    #[divan::bench(args = KEY_TYPES)]
    fn fingerprint_line_md5(bencher: Bencher<'_, '_>, key_type: &str) {
        let line = line(key_type);
        bencher.bench(|| fingerprint_line(black_box(line), HashAlg::Md5).expect("a fingerprint"));
    }

    /// Full parse (algorithm, blob, comment) then the fingerprint.
    #[divan::bench(args = KEY_TYPES)]
    fn parse_then_sha256(bencher: Bencher<'_, '_>, key_type: &str) {
        let line = line(key_type);
        bencher.bench(|| {
            PublicKeyLine::parse(black_box(line))
                .expect("a key line")
                .fingerprint(HashAlg::Sha256)
        });
    }

    /// What `ssh-keygen -l` prints for a line: bits and type need the key's structure.
    #[divan::bench(args = KEY_TYPES)]
    fn keygen_l_line(bencher: Bencher<'_, '_>, key_type: &str) {
        let line = line(key_type);
        bencher.bench(|| {
            PublicKeyLine::parse(black_box(line))
                .expect("a key line")
                .keygen_l_line(HashAlg::Sha256)
        });
    }
}

mod openssh {
    use super::*;

    /// Serialising and re-reading the private key files `init` writes.
    #[divan::bench(args = ["ed25519", "rsa-3072"])]
    fn private_key_round_trip(bencher: Bencher<'_, '_>, key_type: &str) {
        let mut rng = UnwrapErr(SysRng);
        let key = if key_type == "ed25519" {
            HostKey::generate_ed25519(&mut rng)
        } else {
            HostKey::generate_rsa(RsaBits::default(), &mut rng)
        }
        .expect("key generation");
        bencher.bench_local(|| {
            let text = key.to_openssh().expect("serialised");
            HostKey::from_openssh(&text).expect("parsed")
        });
    }
}
