//! Any bytes as an envelope of each kind: an error, never a panic or a runaway allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = coffer::codec::decode::<coffer::object::pack::PackHeader>("pack-header", data);
    let _ = coffer::codec::decode::<coffer::object::version::Seal>("version-seal", data);
    let _ = coffer::codec::decode::<coffer::object::policy::Policy>("policy", data);
    let _ = coffer::codec::decode::<coffer::object::version::Version>("version", data);
});
