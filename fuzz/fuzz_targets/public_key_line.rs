//! tmate-keys public key line parser against its fast fingerprint path.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    let Ok(line) = std::str::from_utf8(data) else {
        return Corpus::Reject;
    };
    tmate_fuzz::public_key_line(line);
    Corpus::Keep
});
