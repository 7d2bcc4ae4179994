#![doc = include_str!("../README.md")]

mod error;
mod fingerprint;
mod host_key;
mod host_keys;
mod public;
mod rsa_gen;

pub use error::{Error, PublicKeyErrorKind, Result};
pub use fingerprint::{Fingerprint, HashAlg};
pub use host_key::{ED25519_KEY_FILE, HostKey, KeyKind, PUB_SUFFIX, RSA_KEY_FILE, RsaBits};
pub use host_keys::{
    DIR_MODE, EnsureOptions, EnsureReport, HostKeys, KeyInfo, LoadedKeys, MAX_KEY_FILE_LEN,
    PRIVATE_KEY_MODE, PUBLIC_KEY_MODE, Repair,
};
pub use public::{PublicKeyLine, fingerprint_line};

/// The operating system's RNG as an infallible [`rand_core::CryptoRng`]: what production code
/// passes to [`HostKey::generate_rsa`], [`HostKey::generate_ed25519`] and [`HostKeys::ensure`].
/// It panics if the OS cannot supply randomness, which no usable system does.
pub type OsRng = rand_core::UnwrapErr<ssh_key::getrandom::SysRng>;

/// A new [`OsRng`].
#[must_use]
pub fn os_rng() -> OsRng {
    rand_core::UnwrapErr(ssh_key::getrandom::SysRng)
}

/// Re-exported so callers can name the RNG trait without depending on `rand_core`.
pub use rand_core::CryptoRng;

#[cfg(test)]
pub(crate) mod test_rng {
    /// A deterministic, seedable RNG for tests (SplitMix64; not for real keys).
    pub(crate) struct TestRng(pub(crate) u64);

    impl rand_core::TryRng for TestRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            #[allow(clippy::cast_possible_truncation, reason = "taking the low bits")]
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            Ok(z ^ (z >> 31))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for chunk in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for TestRng {}
}
