//! Sealing content again under the epoch in force, so that a new version lists only packs
//! every member of the policy in force can open (rule V10) and none that brings a withdrawn
//! member new content (rule V9): after `share add --from-now` (the reseal version), in merges,
//! and when pull signs unpublished versions again under a newer policy.
//!
//! A blob is decrypted with the keys of the epoch in its pack's trailer, checked against its
//! id, and its stored body (still compressed) sealed again; ids do not change, so trees and
//! versions that name it need not change either.

use super::index::{BlobLoc, Index};
use super::{progress_bar, Dataset, Keyring};
use crate::crypto::keys::EpochKeys;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::object::blob::{self, KIND_TREE};
use crate::object::pack::PackBuilder;
use crate::object::tree::{self, DIR};
use crate::store;
use rayon::prelude::*;
use std::collections::BTreeSet;

/// What a reseal did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Resealed {
    /// Blobs sealed again.
    pub blobs: u64,
    /// Their plaintext bytes.
    pub bytes: u64,
    /// New packs written.
    pub packs: u64,
    /// Bytes of those packs.
    pub pack_bytes: u64,
}

/// Blobs sealed again per batch: enough to use every core, few enough to bound memory.
const BATCH: usize = 64;

/// Read one blob's plaintext from any pack `keys` can open.
fn read_any(ds: &Dataset, keys: &Keyring, index: &Index, id: &Id, kind: u8) -> Result<Vec<u8>> {
    let loc = index.locate_readable(id, keys).ok_or(Error::Missing {
        kind: blob::kind_name(kind),
        id: *id,
    })?;
    let e = &loc.entry;
    let sealed = ds.store.get_range(
        &store::pack_path(&loc.pack),
        e.offset()..e.offset() + e.length() as u64,
    )?;
    let k = keys.get(loc.epoch).ok_or_else(|| Error::NoEpochKey {
        who: keys.who.clone(),
        epoch: loc.epoch,
        dataset: ds.id,
    })?;
    loc.open(&k, kind, &sealed)
}

/// Every blob (trees and chunks) reachable from the tree `root`, reading trees from any
/// pack `keys` can open. Each tree is read once, so shared subtrees cost nothing extra.
pub fn reachable(ds: &Dataset, keys: &Keyring, index: &Index, root: Id) -> Result<BTreeSet<Id>> {
    let mut out = BTreeSet::from([root]);
    let mut todo = vec![(root, 0usize)];
    while let Some((t, depth)) = todo.pop() {
        if depth > super::read::MAX_DEPTH {
            return Err(Error::Limit(format!(
                "folders nested deeper than {}",
                super::read::MAX_DEPTH
            )));
        }
        let entries = tree::decode(&t, &read_any(ds, keys, index, &t, KIND_TREE)?)?;
        for e in entries {
            for id in e.ids() {
                if out.insert(*id) && e.kind() == DIR {
                    todo.push((*id, depth + 1));
                }
            }
        }
    }
    Ok(out)
}

/// Make sure every blob of `needed` has a copy that `index` counts as usable, sealing again
/// under `to` (the epoch in force) each one that has none, from a copy `keys` can open.
/// New packs are written to the store and recorded in `index`.
pub fn ensure_usable(
    ds: &Dataset,
    keys: &Keyring,
    to: &EpochKeys,
    index: &mut Index,
    needed: &BTreeSet<Id>,
    progress: bool,
) -> Result<Resealed> {
    let mut todo = Vec::new();
    for id in needed {
        if index.contains(id) {
            continue;
        }
        let loc =
            index
                .locate_readable(id, keys)
                .ok_or_else(|| match index_epoch_of(index, id) {
                    Some(epoch) => Error::NoEpochKey {
                        who: keys.who.clone(),
                        epoch,
                        dataset: ds.id,
                    },
                    None => Error::Missing {
                        kind: "blob",
                        id: *id,
                    },
                })?;
        todo.push(loc);
    }
    let mut out = Resealed::default();
    if todo.is_empty() {
        return Ok(out);
    }
    // Pack by pack, in order, so reads of one pack are close together.
    todo.sort_by_key(|l| (l.pack, l.entry.offset()));
    let pb = progress_bar(
        progress,
        todo.iter().map(|l| l.entry.raw_len() as u64).sum(),
    );
    // One group per sealed range: the members of a bundle are read and opened once, and
    // sealed again as one bundle.
    let mut groups: Vec<&[BlobLoc]> = Vec::new();
    let mut rest = &todo[..];
    while let Some(first) = rest.first() {
        let n = rest
            .iter()
            .take_while(|l| l.pack == first.pack && l.entry.offset() == first.entry.offset())
            .count();
        let (g, r) = rest.split_at(n);
        groups.push(g);
        rest = r;
    }
    let mut pack = PackBuilder::default();
    let mut written = Vec::new();
    for batch in groups.chunks(BATCH) {
        crate::interrupt::check()?;
        let sealed: Vec<Result<Vec<blob::Sealed>>> = batch
            .par_iter()
            .map(|group| {
                let e = &group[0].entry;
                let bytes = ds.store.get_range(
                    &store::pack_path(&group[0].pack),
                    e.offset()..e.offset() + e.length() as u64,
                )?;
                let from = keys.get(group[0].epoch).ok_or_else(|| Error::NoEpochKey {
                    who: keys.who.clone(),
                    epoch: group[0].epoch,
                    dataset: ds.id,
                })?;
                let raw: u64 = group.iter().map(|l| l.entry.raw_len() as u64).sum();
                let out = if e.comp() == blob::COMP_BUNDLE {
                    let unit = blob::open_unit(&from, &group[0].header.blobs, group[0].at, &bytes)?;
                    let mut b = blob::Bundle::default();
                    for l in *group {
                        let data = unit.blob(l.at).ok_or_else(|| Error::Corrupt {
                            kind: "bundle",
                            id: l.entry.id(),
                            reason: "a member is outside its bundle".into(),
                        })?;
                        b.add(l.entry.kind(), l.entry.id(), data);
                    }
                    b.seal(to)
                } else {
                    let b =
                        blob::reseal(&from, to, e.kind(), e.comp(), e.raw_len(), &e.id(), &bytes)?;
                    vec![blob::Sealed::Blob(b)]
                };
                pb.inc(raw);
                Ok(out)
            })
            .collect();
        for group in sealed {
            for b in group? {
                match &b {
                    blob::Sealed::Blob(b) => {
                        out.blobs += 1;
                        out.bytes += b.raw_len as u64;
                    }
                    blob::Sealed::Bundle(b) => {
                        out.blobs += b.members.len() as u64;
                        out.bytes += b.members.iter().map(|m| m.2 as u64).sum::<u64>();
                    }
                }
                pack.add_sealed(b);
                if pack.is_full() {
                    written.push(write_pack(ds, to, std::mem::take(&mut pack))?);
                }
            }
        }
    }
    if !pack.is_empty() {
        written.push(write_pack(ds, to, pack)?);
    }
    pb.finish_and_clear();
    for (id, size, header) in written {
        out.packs += 1;
        out.pack_bytes += size;
        index.add_pack(id, to.epoch, size, header);
    }
    Ok(out)
}

fn index_epoch_of(index: &Index, id: &Id) -> Option<u32> {
    index.locate_any(id).map(|l| l.epoch)
}

fn write_pack(
    ds: &Dataset,
    keys: &EpochKeys,
    b: PackBuilder,
) -> Result<(Id, u64, crate::object::pack::PackHeader)> {
    let (id, bytes, header) = b.finish(keys);
    let size = bytes.len() as u64;
    ds.store.put_new(&store::pack_path(&id), bytes)?;
    Ok((id, size, header))
}
