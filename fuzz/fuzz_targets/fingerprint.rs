//! Fingerprint text round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tmate_fuzz::fingerprint(data));
