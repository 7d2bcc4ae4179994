//! Config parser: lossless, no panic, render -> parse is a fixed point.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    // The model is UTF-8 text (`Document::read` refuses anything else).
    let Ok(text) = std::str::from_utf8(data) else {
        return Corpus::Reject;
    };
    tmate_fuzz::parse_conf(text);
    Corpus::Keep
});
