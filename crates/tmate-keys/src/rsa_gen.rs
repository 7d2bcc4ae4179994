//! RSA key generation with the prime search spread over the machine's cores.
//!
//! The injected RNG draws one random starting point per prime (top two bits set, as OpenSSL
//! and the `rsa` crate do, so that `p * q` has exactly the requested size). Each prime is then
//! the first probable prime in the sieved sequence that follows its starting point. That
//! sequence is fixed by the starting point alone, so several threads can test its candidates
//! concurrently and still agree on the same answer: the key depends only on what the RNG
//! returned, never on thread timing, and a seeded RNG gives reproducible keys.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;

use crypto_primes::hazmat::{SetBits, SmallFactorsSieve, random_odd_integer};
use crypto_primes::{Flavor, is_prime};
use rand_core::CryptoRng;
use rsa::BoxedUint;

use crate::{Error, KeyKind, Result, RsaBits};

/// The public exponent every current RSA implementation uses (F4 = 2^16 + 1).
const PUBLIC_EXPONENT: u64 = 65_537;
/// How many times a fresh pair of starting points is drawn before giving up. Each attempt
/// fails only with probability about 2^-15 with a working RNG; a stuck RNG fails them all.
const MAX_ATTEMPTS: u32 = 8;
/// Upper bound on prime-search threads (more gives little for two 1536-bit primes).
const MAX_THREADS: usize = 8;
/// FIPS 186-5 A.1.3: `|p - q|` must exceed `2^(nlen/2 - 100)`.
const MIN_DISTANCE_MARGIN_BITS: u32 = 100;

/// Generates an RSA private key of `bits` bits with public exponent 65537.
pub(crate) fn generate<R: CryptoRng + ?Sized>(
    bits: RsaBits,
    rng: &mut R,
) -> Result<rsa::PrivateKey> {
    let half = NonZeroU32::new(bits.get() / 2).ok_or(Error::UnsupportedRsaBits(bits.get()))?;
    let threads = thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, MAX_THREADS);
    for _ in 0..MAX_ATTEMPTS {
        let start_p = random_start(rng, half)?;
        let start_q = random_start(rng, half)?;
        let (Some(p), Some(q)) = (
            first_prime(start_p, half, threads),
            first_prime(start_q, half, threads),
        ) else {
            continue;
        };
        if !far_apart(&p, &q, half.get()) {
            continue;
        }
        // Fails only when gcd(e, p-1) or gcd(e, q-1) is not 1: draw again.
        if let Ok(key) = rsa::PrivateKey::from_p_q(p, q, BoxedUint::from(PUBLIC_EXPONENT)) {
            return Ok(key);
        }
    }
    Err(Error::Generate {
        kind: KeyKind::Rsa,
        reason: "no usable primes from the random number generator",
    })
}

fn random_start<R: CryptoRng + ?Sized>(rng: &mut R, bits: NonZeroU32) -> Result<BoxedUint> {
    random_odd_integer::<BoxedUint, R>(rng, bits, SetBits::TwoMsb)
        .map(|odd| odd.get())
        .map_err(|_| Error::Generate {
            kind: KeyKind::Rsa,
            reason: "could not draw a random starting point",
        })
}

/// Whether `|p - q| > 2^(bits - 100)`.
fn far_apart(p: &BoxedUint, q: &BoxedUint, bits: u32) -> bool {
    let diff = if p > q {
        p.wrapping_sub(q)
    } else {
        q.wrapping_sub(p)
    };
    diff.bit_width() > bits.saturating_sub(MIN_DISTANCE_MARGIN_BITS) + 1
}

/// The sieve and the index of the next candidate it yields, handed out under a lock.
struct Feeder {
    sieve: SmallFactorsSieve<BoxedUint>,
    next_index: u64,
}

/// The first probable prime (Baillie-PSW, as `crypto-primes` tests it) in the sieved sequence
/// starting at `start`, or `None` if the sequence runs out before `2^bits`.
///
/// Workers take candidates in sequence order and test them concurrently. A worker stops once
/// the next candidate comes after the earliest prime found so far; every candidate before that
/// prime has been taken and is tested to the end, so the earliest prime in the sequence wins
/// regardless of which thread finishes first.
fn first_prime(start: BoxedUint, bits: NonZeroU32, threads: usize) -> Option<BoxedUint> {
    let sieve = SmallFactorsSieve::new(start, bits, false).ok()?;
    let feeder = Mutex::new(Feeder {
        sieve,
        next_index: 0,
    });
    let earliest = AtomicU64::new(u64::MAX);
    let found: Mutex<Option<(u64, BoxedUint)>> = Mutex::new(None);
    let work = || {
        loop {
            let (index, candidate) = {
                let mut feeder = feeder.lock().unwrap_or_else(PoisonError::into_inner);
                if feeder.next_index > earliest.load(Ordering::Acquire) {
                    return;
                }
                let Some(candidate) = feeder.sieve.next() else {
                    return;
                };
                let index = feeder.next_index;
                feeder.next_index += 1;
                (index, candidate)
            };
            if is_prime(Flavor::Any, &candidate) {
                earliest.fetch_min(index, Ordering::AcqRel);
                let mut found = found.lock().unwrap_or_else(PoisonError::into_inner);
                if found.as_ref().is_none_or(|(best, _)| index < *best) {
                    *found = Some((index, candidate));
                }
                return;
            }
        }
    };
    thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    found
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .map(|(_, prime)| prime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::TestRng;

    #[test]
    fn same_sequence_same_prime_whatever_the_thread_count() {
        let bits = NonZeroU32::new(512).unwrap();
        let start = random_start(&mut TestRng(7), bits).unwrap();
        let one = first_prime(start.clone(), bits, 1).unwrap();
        for threads in [2, 3, 5] {
            assert_eq!(first_prime(start.clone(), bits, threads).unwrap(), one);
        }
        assert!(is_prime(Flavor::Any, &one));
        assert_eq!(one.bit_width(), 512);
    }

    #[test]
    fn far_apart_margin() {
        // 1024-bit primes must differ by more than 2^924; we demand at least 2^925.
        let one = BoxedUint::one_with_precision(1024);
        let p = one.wrapping_shl_vartime(1023);
        let q = p.wrapping_add(one.wrapping_shl_vartime(925));
        assert!(far_apart(&p, &q, 1024));
        assert!(far_apart(&q, &p, 1024));
        let q = p.wrapping_add(one.wrapping_shl_vartime(924));
        assert!(!far_apart(&p, &q, 1024));
    }
}
