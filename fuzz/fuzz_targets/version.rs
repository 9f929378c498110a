//! Stored version objects (named by their own hash, so the decoders and the signature check
//! are reached).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let id = coffer::Id::of_stored(data);
    let _ = coffer::object::version::Version::open(&id, data);
});
