//! Whole packs (trailer, header, blobs) with a fixed key, the trailer alone, and every blob
//! the header lists.
#![no_main]
use coffer::crypto::keys::{EpochKeys, EpochSecret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The known-answer vectors' key (counter bytes), so the seed packs open.
    let secret: Vec<u8> = (0u8..64).collect();
    let keys = EpochKeys::derive(0, &EpochSecret::from_bytes(&secret).expect("64"));
    let id = coffer::Id::of_stored(data);
    let _ = coffer::object::pack::parse_trailer(&id, data.len() as u64, data);
    if let Ok((_, h)) = coffer::object::pack::open_pack(|_| Some(keys.clone()), &id, data) {
        for e in h.blobs {
            let s = e.offset() as usize;
            if let Some(b) = data.get(s..s + e.length() as usize) {
                let _ =
                    coffer::object::blob::open(&keys, e.kind(), e.comp(), e.raw_len(), &e.id(), b);
            }
        }
    }
});
