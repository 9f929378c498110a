//! Reading a store's history objects so the rules can judge them: every version object
//! opened (hash, encoding, signature) or set aside as junk, and the epoch in each pack's
//! trailer. Keyless, and the same for the embedded store, a remote, or a store being audited.

use super::Store;
use crate::error::Result;
use crate::id::Id;
use crate::object::pack::{self, TRAILER_LEN};
use crate::object::version::Version;
use crate::remote::transfer;
use crate::rules::Refusal;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};

/// Versions read from a store.
#[derive(Default)]
pub struct Opened {
    /// Those that opened (hash, encoding, signature).
    pub versions: BTreeMap<Id, Version>,
    /// Those that did not, with the reason.
    pub junk: Vec<(Id, Refusal)>,
    /// The stored bytes of those that opened.
    pub bytes: HashMap<Id, Bytes>,
}

/// Read and open the versions `ids` of `store` (absent ones are skipped).
pub fn versions(store: &Store, ids: &[Id]) -> Result<Opened> {
    let names: Vec<String> = ids.iter().map(super::version_path).collect();
    let got = transfer::get_all(store, &names)?;
    let mut out = Opened::default();
    for (id, bytes) in ids.iter().zip(got) {
        let Some(bytes) = bytes else { continue };
        match Version::open(id, &bytes) {
            Ok(v) => {
                out.versions.insert(*id, v);
                out.bytes.insert(*id, bytes);
            }
            Err(e) => out.junk.push((*id, Refusal::of_error(&e))),
        }
    }
    Ok(out)
}

/// Every version of `store`.
pub fn all_versions(store: &Store) -> Result<Opened> {
    let ids: Vec<Id> = store
        .list_ids("versions")?
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    versions(store, &ids)
}

/// The epoch in the trailer of each pack of `packs` (id and size), read as a range of its
/// last bytes. A pack whose trailer cannot be read or parsed is left out (verify reports
/// it as damaged; the rules treat it as missing).
pub fn trailer_epochs(store: &Store, packs: &[(Id, u64)]) -> Result<HashMap<Id, u32>> {
    let found = transfer::for_stores(&[store], packs, |(id, size)| {
        if *size < TRAILER_LEN as u64 {
            return Ok(None);
        }
        let tail = match store.get_range(&super::pack_path(id), size - TRAILER_LEN as u64..*size) {
            Ok(t) => t,
            Err(crate::Error::Store { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(pack::parse_trailer(id, *size, &tail)
            .ok()
            .map(|t| (*id, t.epoch)))
    })?;
    Ok(found.into_iter().flatten().collect())
}
