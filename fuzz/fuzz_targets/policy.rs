//! Stored policy objects, then the chain rules on what opens.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let id = coffer::Id::of_stored(data);
    if let Ok(p) = coffer::object::policy::Policy::open(&id, data) {
        let _ = coffer::rules::chain::check_genesis(&p);
        let _ = coffer::rules::chain::check_successor(&id, &id, &p, &p);
    }
});
