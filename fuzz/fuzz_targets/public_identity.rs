//! Public identity strings (`coffer1…`, bech32m).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = s.parse::<coffer::identity::PublicIdentity>();
    }
});
