//! RSA key generation with the prime search spread over the machine's cores.
//!
//! The injected RNG draws one random starting point per prime (top two bits set, as OpenSSL
//! and the `rsa` crate do, so that `p * q` has exactly the requested size, and odd). Each prime
//! is then the first probable prime in the sieved sequence `start, start + 2, start + 4, ...`.
//! That sequence is fixed by the starting point alone, so several threads can test its
//! candidates concurrently and still agree on the answer: the key depends only on what the
//! RNG returned, never on thread timing, and a seeded RNG gives reproducible keys.
//!
//! Speed comes from four things (RSA-3072: median ~45 ms on two cores, against ~350 ms for
//! `ssh-keygen -t rsa -b 3072` on the same machine):
//! - a sieve by every odd prime below [`SIEVE_LIMIT`] (about 43 000 primes), which leaves ~45
//!   candidates to test per 1536-bit prime instead of ~60 with the 2048 primes of the
//!   `crypto-primes` sieve;
//! - a cheap test on each candidate: a strong (Miller-Rabin) test to base 2 computed by
//!   squaring and doubling in Montgomery form, with no general multiplications. It discards
//!   composites; a survivor then gets the strong Lucas test of `crypto-primes`, completing the
//!   Baillie-PSW test that `crypto_primes::is_prime` performs;
//! - a squaring written for that test ([`Monty`]), about 25% faster than crypto-bigint's;
//! - both cores testing candidates of the same sequence.

use std::num::NonZeroUsize;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;

use crypto_bigint::{CheckedAdd as _, Odd, Uint};
use crypto_primes::hazmat::{AStarBase, LucasCheck, lucas_test};
use rand_core::CryptoRng;
use rsa::BoxedUint;
use zeroize::Zeroize;

use crate::{Error, KeyKind, Result, RsaBits};

/// The public exponent every current RSA implementation uses (F4 = 2^16 + 1).
const PUBLIC_EXPONENT: u32 = 65_537;
/// How many times a fresh pair of starting points is drawn before giving up. An attempt fails
/// only if the two primes are too close (probability about 2^-100) or the sequence reaches
/// the end of the bit range; a stuck RNG fails them all.
const MAX_ATTEMPTS: u32 = 8;
/// Upper bound on prime-search threads (more gives little for two primes).
const MAX_THREADS: usize = 8;
/// FIPS 186-5 A.1.3: `|p - q|` must exceed `2^(nlen/2 - 100)`.
const MIN_DISTANCE_MARGIN_BITS: u32 = 100;
/// Candidates are sieved by every odd prime below this bound. Measured on the target machine:
/// 2^19 balances sieving time (~2 ms per prime) against primality tests saved.
const SIEVE_LIMIT: u32 = 1 << 19;
/// Odd numbers covered by one sieve window. A 1536-bit prime is expected every ~530 odd
/// numbers, so a window holds none with probability about e^-7.7; then the next one is sieved.
const WINDOW: usize = 4096;

/// Generates an RSA private key of `bits` bits with public exponent 65537.
pub(crate) fn generate<R: CryptoRng + ?Sized>(
    bits: RsaBits,
    rng: &mut R,
) -> Result<rsa::PrivateKey> {
    // The prime size in 64-bit limbs is a const generic of crypto-bigint's fast fixed-size
    // arithmetic: 1024-, 1536- and 2048-bit primes.
    match bits.get() {
        2048 => generate_sized::<16, R>(rng),
        3072 => generate_sized::<24, R>(rng),
        4096 => generate_sized::<32, R>(rng),
        other => Err(Error::UnsupportedRsaBits(other)),
    }
}

fn threads() -> usize {
    thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .clamp(1, MAX_THREADS)
}

fn generate_sized<const LIMBS: usize, R: CryptoRng + ?Sized>(
    rng: &mut R,
) -> Result<rsa::PrivateKey> {
    let threads = threads();
    for _ in 0..MAX_ATTEMPTS {
        let start_p = random_start::<LIMBS, R>(rng);
        let start_q = random_start::<LIMBS, R>(rng);
        // Sieve both first windows at once, then search each sequence with every thread.
        let (window_p, window_q) = thread::scope(|scope| {
            let q = scope.spawn(|| Window::new(start_q));
            let p = Window::new(start_p);
            (p, q.join())
        });
        let Ok(window_q) = window_q else {
            continue;
        };
        let [Some(p), Some(q)] = find_primes([window_p, window_q], threads) else {
            continue;
        };
        if !far_apart(&p, &q) {
            continue;
        }
        let (mut p, mut q) = (p, q);
        let primes = (BoxedUint::from(&p), BoxedUint::from(&q));
        p.zeroize();
        q.zeroize();
        let (p, q) = primes;
        // Cannot fail for distinct primes with p, q != 1 mod e, which the sieve guarantees.
        if let Ok(key) = rsa::PrivateKey::from_p_q(p, q, BoxedUint::from(PUBLIC_EXPONENT)) {
            return Ok(key);
        }
    }
    Err(Error::Generate {
        kind: KeyKind::Rsa,
        reason: "no usable primes from the random number generator",
    })
}

/// A random odd number with exactly `64 * LIMBS` bits whose top two bits are set.
fn random_start<const LIMBS: usize, R: CryptoRng + ?Sized>(rng: &mut R) -> Uint<LIMBS> {
    let mut words = [0u64; LIMBS];
    for word in &mut words {
        *word = rng.next_u64();
    }
    let mut start = Uint::<LIMBS>::from_words(words);
    words.zeroize();
    let top = Uint::<LIMBS>::ONE.wrapping_shl_vartime(Uint::<LIMBS>::BITS - 1);
    start = start | top | top.wrapping_shr_vartime(1) | Uint::ONE;
    start
}

// The prime search works on crypto-bigint's words as 64-bit limbs.
const _: () = assert!(
    crypto_bigint::Word::BITS == 64,
    "tmate-keys' RSA generation needs a 64-bit target"
);

/// Whether `|p - q| > 2^(bits - 100)` (demanding one more bit, to keep the check simple).
fn far_apart<const LIMBS: usize>(p: &Uint<LIMBS>, q: &Uint<LIMBS>) -> bool {
    let diff = if p > q {
        p.wrapping_sub(q)
    } else {
        q.wrapping_sub(p)
    };
    diff.bit_width_vartime() > Uint::<LIMBS>::BITS - MIN_DISTANCE_MARGIN_BITS + 1
}

/// An odd prime below [`SIEVE_LIMIT`] with a reciprocal for division-free remainders.
struct SmallPrime {
    p: u32,
    /// `floor((2^64 - 1) / p)`.
    reciprocal: u64,
}

impl SmallPrime {
    /// `x mod p` for `x < 2^52` (Barrett reduction: the estimated quotient is at most one
    /// short, because `x / 2^64 < 1`).
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the high half of a u128 product"
    )]
    fn reduce(&self, x: u64) -> u64 {
        let q = ((u128::from(x) * u128::from(self.reciprocal)) >> 64) as u64;
        let r = x - q * u64::from(self.p);
        if r >= u64::from(self.p) {
            r - u64::from(self.p)
        } else {
            r
        }
    }
}

/// The odd primes below [`SIEVE_LIMIT`], computed once per process (sieve of Eratosthenes
/// over odd numbers, well under a millisecond).
fn small_primes() -> &'static [SmallPrime] {
    static PRIMES: OnceLock<Vec<SmallPrime>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let limit = SIEVE_LIMIT as usize;
        // is_composite[i] describes 2i + 1.
        let mut is_composite = vec![false; limit / 2];
        let mut primes = Vec::with_capacity(limit / 10);
        for i in 1..limit / 2 {
            if is_composite[i] {
                continue;
            }
            let p = 2 * i + 1;
            let mut multiple = p * p / 2;
            while multiple < limit / 2 {
                is_composite[multiple] = true;
                multiple += p;
            }
            let p = u32::try_from(p).unwrap_or(u32::MAX);
            primes.push(SmallPrime {
                p,
                reciprocal: u64::MAX / u64::from(p),
            });
        }
        primes
    })
}

/// The 32-bit digits of `n`, most significant first.
fn digits<const LIMBS: usize>(n: &Uint<LIMBS>) -> impl Iterator<Item = u64> + '_ {
    n.as_words()
        .iter()
        .rev()
        .flat_map(|&w| [w >> 32, w & 0xffff_ffff])
}

/// One sieve window: the odd numbers `base + 2i` for `i < WINDOW` that have no factor below
/// [`SIEVE_LIMIT`] and are not 1 mod 65537 (so that `e` is invertible mod `p - 1`).
struct Window<const LIMBS: usize> {
    base: Uint<LIMBS>,
    survivors: Vec<u16>,
}

impl<const LIMBS: usize> Window<LIMBS> {
    fn new(base: Uint<LIMBS>) -> Self {
        let primes = small_primes();
        let mut residues = vec![0u64; primes.len()];
        // Horner's rule over 32-bit digits, digits outermost so that the independent
        // reductions of different primes overlap in the CPU.
        for digit in digits(&base) {
            for (r, sp) in residues.iter_mut().zip(primes) {
                *r = sp.reduce((*r << 32) | digit);
            }
        }
        let mut composite = vec![false; WINDOW];
        for (&r, sp) in residues.iter().zip(primes) {
            let p = u64::from(sp.p);
            // base + 2i == 0 (mod p)  <=>  i == (p - r) / 2 (mod p), halving mod p.
            let mut i = usize::try_from(half_mod((p - r) % p, p)).unwrap_or(usize::MAX);
            while i < WINDOW {
                composite[i] = true;
                i += sp.p as usize;
            }
            if sp.p == PUBLIC_EXPONENT {
                // base + 2i == 1 (mod e): p - 1 would share the factor e with the exponent.
                let mut i = usize::try_from(half_mod((p + 1 - r) % p, p)).unwrap_or(usize::MAX);
                while i < WINDOW {
                    composite[i] = true;
                    i += sp.p as usize;
                }
            }
        }
        residues.zeroize();
        let survivors = (0..WINDOW)
            .filter(|&i| !composite[i])
            .filter_map(|i| u16::try_from(i).ok())
            .collect();
        Self { base, survivors }
    }

    /// The next window, or `None` past the top of the bit range.
    fn next(&self) -> Option<Self> {
        let step = Uint::<LIMBS>::from_u64(2 * WINDOW as u64);
        let base = self.base.checked_add(&step).into_option()?;
        // Keep the top two bits: past them, p * q could lose a bit.
        let top_two = base.wrapping_shr_vartime(Uint::<LIMBS>::BITS - 2);
        (top_two == Uint::from_u64(3)).then(|| Self::new(base))
    }

    fn candidate(&self, index: usize) -> Option<Uint<LIMBS>> {
        let i = *self.survivors.get(index)?;
        Some(self.base.wrapping_add(&Uint::from_u64(2 * u64::from(i))))
    }
}

impl<const LIMBS: usize> Drop for Window<LIMBS> {
    fn drop(&mut self) {
        self.base.zeroize();
    }
}

/// `x / 2 mod p` for odd `p` and `x < p`.
fn half_mod(x: u64, p: u64) -> u64 {
    if x.is_multiple_of(2) {
        x / 2
    } else {
        (x + p) / 2
    }
}

/// Montgomery arithmetic modulo an odd `n` of `N` 64-bit limbs whose top bit is set (every
/// candidate has its top two bits set), specialised for the base-2 test: squaring and
/// doubling only.
///
/// Squaring uses product scanning with the reduction interleaved ("FIPS" method, Koç, Acar
/// and Kaliski, "Analyzing and comparing Montgomery multiplication algorithms", IEEE Micro
/// 1996): each column of the product is summed in a 192-bit accumulator, halving the number
/// of carry chains. Measured on the target machine it squares a 1536-bit number in ~500 ns,
/// against ~650 ns for crypto-bigint's general `FixedMontyForm::square`.
struct Monty<const N: usize> {
    n: [u64; N],
    /// `-n^-1 mod 2^64`.
    n0inv: u64,
}

/// A 192-bit column accumulator: `low` plus `high * 2^128`.
#[derive(Clone, Copy, Default)]
struct Acc {
    low: u128,
    high: u64,
}

impl Acc {
    fn add(&mut self, x: u128) {
        let (sum, carry) = self.low.overflowing_add(x);
        self.low = sum;
        self.high += u64::from(carry);
    }

    fn add_acc(&mut self, other: Acc) {
        self.add(other.low);
        self.high += other.high;
    }

    /// The low 64 bits, then the accumulator shifted right by 64.
    #[allow(clippy::cast_possible_truncation, reason = "taking the low limb")]
    fn shift(&mut self) -> u64 {
        let limb = self.low as u64;
        self.low = (self.low >> 64) | (u128::from(self.high) << 64);
        self.high = 0;
        limb
    }
}

fn mul_wide(a: u64, b: u64) -> u128 {
    u128::from(a) * u128::from(b)
}

impl<const N: usize> Monty<N> {
    fn new(n: [u64; N]) -> Self {
        // Newton's iteration doubles the correct low bits of the inverse each step: 1 -> 64.
        let mut inverse: u64 = 1;
        for _ in 0..6 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(n[0].wrapping_mul(inverse)));
        }
        Self {
            n,
            n0inv: inverse.wrapping_neg(),
        }
    }

    /// `R mod n` (1 in Montgomery form): `2^(64N) - n`, because `2^(64N-1) < n < 2^(64N)`.
    fn one(&self) -> [u64; N] {
        let mut one = [0u64; N];
        let mut borrow = false;
        for (o, &n) in one.iter_mut().zip(&self.n) {
            let (d, b1) = 0u64.overflowing_sub(n);
            let (d, b2) = d.overflowing_sub(u64::from(borrow));
            *o = d;
            borrow = b1 | b2;
        }
        one
    }

    /// `n - x` (negation in Montgomery form, for `0 < x < n`).
    fn neg(&self, x: &[u64; N]) -> [u64; N] {
        let mut out = self.n;
        sub_in_place(&mut out, x);
        out
    }

    /// `x + x mod n`.
    fn double(&self, x: &[u64; N]) -> [u64; N] {
        let mut out = [0u64; N];
        let mut carry = 0;
        for (o, &limb) in out.iter_mut().zip(x) {
            *o = (limb << 1) | carry;
            carry = limb >> 63;
        }
        self.reduce_once(out, carry != 0)
    }

    /// Subtracts `n` once if `x` (plus `carry * 2^(64N)`) is at least `n`.
    fn reduce_once(&self, mut x: [u64; N], carry: bool) -> [u64; N] {
        if carry || !less_than(&x, &self.n) {
            sub_in_place(&mut x, &self.n);
        }
        x
    }

    /// `x^2 / R mod n`.
    fn square(&self, x: &[u64; N]) -> [u64; N] {
        let n = &self.n;
        let mut m = [0u64; N];
        let mut out = [0u64; N];
        let mut acc = Acc::default();
        for column in 0..2 * N {
            // Terms x[i] * x[column - i] with both indices below N.
            let first = column.saturating_sub(N - 1);
            let mut square = Acc::default();
            let mut i = first;
            while i < column - i {
                square.add(mul_wide(x[i], x[column - i]));
                i += 1;
            }
            // Every off-diagonal product appears twice.
            square.high = (square.high << 1) | u64::from(square.low >> 127 == 1);
            square.low <<= 1;
            if i == column - i {
                square.add(mul_wide(x[i], x[i]));
            }
            acc.add_acc(square);
            for (j, &mj) in m.iter().enumerate().take(column.min(N)).skip(first) {
                acc.add(mul_wide(mj, n[column - j]));
            }
            if column < N {
                #[allow(clippy::cast_possible_truncation, reason = "the low limb")]
                let mi = (acc.low as u64).wrapping_mul(self.n0inv);
                m[column] = mi;
                acc.add(mul_wide(mi, n[0]));
                acc.shift();
            } else {
                out[column - N] = acc.shift();
            }
        }
        self.reduce_once(out, acc.low != 0)
    }
}

fn sub_in_place<const N: usize>(x: &mut [u64; N], y: &[u64; N]) {
    let mut borrow = false;
    for (a, &b) in x.iter_mut().zip(y) {
        let (d, b1) = a.overflowing_sub(b);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        *a = d;
        borrow = b1 | b2;
    }
}

fn less_than<const N: usize>(x: &[u64; N], y: &[u64; N]) -> bool {
    for (a, b) in x.iter().rev().zip(y.iter().rev()) {
        if a != b {
            return a < b;
        }
    }
    false
}

/// Strong probable-prime test to base 2 (Miller-Rabin) for a candidate (odd, top bit set).
/// Computes `2^d` by squaring and doubling, so it costs about one squaring per bit. Variable
/// time: it runs only on candidates, and every candidate it passes then gets the Lucas test.
fn strong_base2<const LIMBS: usize>(n: &Uint<LIMBS>) -> bool {
    let words = n.to_words();
    if words[0] & 1 == 0 || words[LIMBS - 1] >> 63 == 0 {
        return false;
    }
    let monty = Monty::new(words);
    let one = monty.one();
    let minus_one = monty.neg(&one);
    let n_minus_one = n.wrapping_sub(&Uint::ONE);
    let s = n_minus_one.trailing_zeros_vartime();
    let d = n_minus_one.wrapping_shr_vartime(s);
    let mut x = one;
    for bit in (0..d.bit_width_vartime()).rev() {
        x = monty.square(&x);
        if d.bit_vartime(bit) {
            x = monty.double(&x);
        }
    }
    if x == one || x == minus_one {
        return true;
    }
    for _ in 1..s {
        x = monty.square(&x);
        if x == minus_one {
            return true;
        }
        if x == one {
            return false;
        }
    }
    false
}

/// The strong Lucas test of Baillie-PSW (`crypto-primes`' `is_prime` without its base-2
/// Miller-Rabin test, which [`strong_base2`] has just done).
fn lucas<const LIMBS: usize>(candidate: Uint<LIMBS>) -> bool {
    Odd::new(candidate)
        .into_option()
        .is_some_and(|odd| lucas_test(odd, AStarBase, LucasCheck::Bpsw21).is_probably_prime())
}

/// One candidate sequence being searched: its sieve windows and how far the search got.
struct Sequence<const LIMBS: usize> {
    window: Option<Window<LIMBS>>,
    /// Index of the next candidate within the current window.
    in_window: usize,
    /// Index of the next candidate in the whole sequence.
    next_index: u64,
    /// Candidates that passed the base-2 test and are in their Lucas test.
    pending: u32,
    /// The earliest confirmed prime: its index and value.
    found: Option<(u64, Uint<LIMBS>)>,
}

impl<const LIMBS: usize> Sequence<LIMBS> {
    fn new(window: Window<LIMBS>) -> Self {
        Self {
            window: Some(window),
            in_window: 0,
            next_index: 0,
            pending: 0,
            found: None,
        }
    }

    /// The next candidate, unless a prime is found or being confirmed, or the sequence left
    /// the bit range.
    fn next(&mut self) -> Option<(u64, Uint<LIMBS>)> {
        if self.found.is_some() || self.pending > 0 {
            return None;
        }
        loop {
            let window = self.window.as_ref()?;
            if let Some(candidate) = window.candidate(self.in_window) {
                self.in_window += 1;
                let index = self.next_index;
                self.next_index += 1;
                return Some((index, candidate));
            }
            self.window = window.next();
            self.in_window = 0;
        }
    }
}

impl<const LIMBS: usize> Drop for Sequence<LIMBS> {
    fn drop(&mut self) {
        if let Some((_, prime)) = &mut self.found {
            prime.zeroize();
        }
    }
}

/// The first probable prime (Baillie-PSW) of each sieved sequence, or `None` for a sequence
/// that leaves the bit range first.
///
/// Workers take candidates in sequence order, from the first sequence until a candidate of it
/// passes the base-2 test, then from the second, and test them concurrently; a candidate is
/// always tested to the end. So every candidate before the earliest prime of a sequence is
/// tested, and that prime is the answer regardless of which thread finishes first. A worker
/// moves on to the second sequence while another confirms the first one's prime, so no core
/// idles between the two searches. In the (never observed) case where the Lucas test rejects
/// a base-2 pseudoprime, its sequence is served again.
fn find_primes<const LIMBS: usize>(
    windows: [Window<LIMBS>; 2],
    threads: usize,
) -> [Option<Uint<LIMBS>>; 2] {
    let search = Mutex::new(windows.map(Sequence::new));
    let lock = || search.lock().unwrap_or_else(PoisonError::into_inner);
    let work = || {
        loop {
            let next = lock()
                .iter_mut()
                .enumerate()
                .find_map(|(which, sequence)| sequence.next().map(|(i, c)| (which, i, c)));
            let Some((which, index, mut candidate)) = next else {
                return;
            };
            if strong_base2(&candidate) {
                lock()[which].pending += 1;
                let prime = lucas(candidate);
                let mut search = lock();
                let sequence = &mut search[which];
                sequence.pending -= 1;
                if prime
                    && sequence
                        .found
                        .as_ref()
                        .is_none_or(|(best, _)| index < *best)
                {
                    sequence.found = Some((index, candidate));
                }
            }
            candidate.zeroize();
        }
    };
    thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    let mut search = search.into_inner().unwrap_or_else(PoisonError::into_inner);
    [0, 1].map(|which| search[which].found.take().map(|(_, prime)| prime))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::TestRng;
    use crypto_bigint::{U512, U1024};
    use crypto_primes::{Flavor, is_prime};

    /// The first prime of the sequence starting at `start`, searched with `threads` threads
    /// (as the second of two sequences, to exercise the hand-over).
    fn first_prime(start: U512, threads: usize) -> U512 {
        let other = random_start::<8, _>(&mut TestRng(start.as_words()[0]));
        let [_, prime] = find_primes([Window::new(other), Window::new(start)], threads);
        prime.unwrap()
    }

    #[test]
    fn same_sequence_same_prime_whatever_the_thread_count() {
        let start = random_start::<8, _>(&mut TestRng(7));
        let one = first_prime(start, 1);
        for threads in [2, 3, 5] {
            assert_eq!(first_prime(start, threads), one);
        }
        assert!(is_prime(Flavor::Any, &one));
        assert_eq!(one.bit_width_vartime(), 512);
        assert!(one >= start);
        let [a, b] = find_primes([Window::new(start), Window::new(start)], 2);
        assert_eq!((a, b), (Some(one), Some(one)));
    }

    #[test]
    fn the_first_prime_after_the_start_is_found() {
        // Nothing between the start and the prime returned is prime (checked with
        // crypto-primes alone), i.e. the sieve drops no usable prime.
        let start = random_start::<8, _>(&mut TestRng(8));
        let prime = first_prime(start, 2);
        let e = crypto_bigint::NonZero::new(U512::from_u32(PUBLIC_EXPONENT)).unwrap();
        let mut n = start;
        while n < prime {
            let usable = n.wrapping_sub(&U512::ONE) % e != U512::ZERO;
            assert!(!(is_prime(Flavor::Any, &n) && usable), "skipped a prime");
            n = n.wrapping_add(&U512::from_u8(2));
        }
    }

    #[test]
    fn strong_base2_agrees_with_crypto_primes() {
        // Sieve survivors of a 512-bit window: about one in 15 is prime.
        let window = Window::new(random_start::<8, _>(&mut TestRng(9)));
        let mut primes = 0;
        for index in 0..window.survivors.len() {
            let n = window.candidate(index).unwrap();
            let expected = is_prime(Flavor::Any, &n);
            assert_eq!(strong_base2(&n), expected, "{n}");
            assert_eq!(strong_base2(&n) && lucas(n), expected, "{n}");
            primes += u32::from(expected);
        }
        assert!(primes > 5, "{primes}");
        // Known base-2 strong pseudoprimes: the Lucas test rejects them (strong_base2 only
        // takes numbers with the top bit set, which these are not).
        for spsp in [2047u64, 3277, 4033, 4681, 8321] {
            assert!(!lucas(U1024::from_u64(spsp)));
            assert!(!strong_base2(&U1024::from_u64(spsp)));
        }
        // A composite with the top bit set: 2^1023 + 1, divisible by 3.
        let composite = U1024::ONE
            .wrapping_shl_vartime(1023)
            .wrapping_add(&U1024::ONE);
        assert!(!strong_base2(&composite));
    }

    #[test]
    fn montgomery_square_and_double_agree_with_crypto_bigint() {
        use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
        fn check<const L: usize>(seed: u64) {
            let mut rng = TestRng(seed);
            for _ in 0..20 {
                let n = random_start::<L, _>(&mut rng);
                let params = FixedMontyParams::new_vartime(Odd::new(n).unwrap());
                let monty = Monty::new(n.to_words());
                assert_eq!(
                    monty.one(),
                    FixedMontyForm::one(&params).as_montgomery().to_words()
                );
                // Values up to n - 1, including the largest.
                let mut x = FixedMontyForm::new(&random_start::<L, _>(&mut rng), &params);
                for value in [x, -FixedMontyForm::one(&params)] {
                    x = value;
                    for _ in 0..50 {
                        let ours = monty.square(&x.as_montgomery().to_words());
                        x = x.square();
                        assert_eq!(ours, x.as_montgomery().to_words());
                        assert_eq!(monty.double(&ours), x.double().as_montgomery().to_words());
                    }
                }
            }
        }
        check::<1>(1);
        check::<2>(2);
        check::<8>(3);
        check::<24>(4);
    }

    #[test]
    fn small_primes_and_reduction() {
        let primes = small_primes();
        assert_eq!(primes[0].p, 3);
        assert_eq!(
            primes[..5].iter().map(|sp| sp.p).collect::<Vec<_>>(),
            [3, 5, 7, 11, 13]
        );
        // pi(2^19) - 1 (without 2).
        assert_eq!(primes.len(), 43_390 - 1);
        assert!(primes.iter().any(|sp| sp.p == PUBLIC_EXPONENT));
        let largest = primes.last().unwrap();
        assert_eq!(largest.p, 524_287);
        for x in [0u64, 1, 524_286, 524_287, (1 << 52) - 1, 0xdead_beef_cafe] {
            assert_eq!(largest.reduce(x), x % 524_287);
            assert_eq!(primes[0].reduce(x), x % 3);
        }
    }

    #[test]
    fn window_residues_match_division() {
        let base = random_start::<8, _>(&mut TestRng(10));
        let window = Window::new(base);
        // Every survivor is free of small factors; every dropped odd number has one (or is
        // 1 mod 65537).
        let survivors: std::collections::HashSet<u16> = window.survivors.iter().copied().collect();
        for i in 0..WINDOW as u64 {
            let n = base.wrapping_add(&U512::from_u64(2 * i));
            let has_factor = small_primes().iter().take(2000).any(|sp| {
                n % crypto_bigint::NonZero::new(U512::from_u32(sp.p)).unwrap() == U512::ZERO
            });
            if has_factor {
                assert!(!survivors.contains(&u16::try_from(i).unwrap()));
            }
        }
        assert!(window.survivors.len() > 100 && window.survivors.len() < 1000);
    }

    #[test]
    fn far_apart_margin() {
        // 1024-bit primes must differ by more than 2^924; we demand at least 2^925.
        let p = U1024::ONE.wrapping_shl_vartime(1023);
        let q = p.wrapping_add(&U1024::ONE.wrapping_shl_vartime(925));
        assert!(far_apart(&p, &q));
        assert!(far_apart(&q, &p));
        let q = p.wrapping_add(&U1024::ONE.wrapping_shl_vartime(924));
        assert!(!far_apart(&p, &q));
    }

    #[test]
    fn random_start_has_the_top_two_bits_and_is_odd() {
        let mut rng = TestRng(11);
        for _ in 0..20 {
            let n = random_start::<16, _>(&mut rng);
            assert!(n.bit_vartime(1023) && n.bit_vartime(1022) && n.bit_vartime(0));
        }
    }
}
