//! Tree blobs: decoding and the name and order rules.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = coffer::object::tree::decode(&coffer::Id::ZERO, data);
});
