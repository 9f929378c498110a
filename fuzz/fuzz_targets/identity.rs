//! Identity files, unlocked and locked (without a passphrase, so the key derivation, whose
//! cost the file chooses within the reader's limits, is not run on every input).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = coffer::identity::Identity::from_file_bytes(data, None);
});
