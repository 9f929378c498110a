//! Push claims (anyone can write one to a bucket).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = coffer::remote::claim::Claim::decode(data);
});
