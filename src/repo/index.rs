//! Where each blob lives: the decrypted headers of the store's packs, cached in
//! `.coffer/cache/index` and brought up to date with one listing of the store.
//!
//! The cache is an accelerator only: any pack it does not know is read from the store, and
//! packs that left the store are dropped from it.

use super::{load_cache, save_cache, Dataset, Keyring};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::object::pack::{self, BlobEntry, PackHeader, TRAILER_LEN};
use crate::store::{self, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Where one blob is.
#[derive(Clone, Debug)]
pub struct BlobLoc {
    /// The pack holding it.
    pub pack: Id,
    /// Epoch of that pack.
    pub epoch: u32,
    /// Its entry in the pack header.
    pub entry: BlobEntry,
}

#[derive(Serialize, Deserialize, Clone)]
struct PackInfo(u32, u64, PackHeader);

/// Known packs and the blobs in them.
#[derive(Default)]
pub struct Index {
    packs: BTreeMap<Id, PackInfo>,
    blobs: HashMap<Id, (Id, u32)>,
    /// Differs from the cache file (saving is skipped otherwise).
    dirty: bool,
}

/// Bytes read from the end of a pack in the first request for its header.
const TAIL_GUESS: u64 = 64 * 1024;

/// Read and decrypt the header of one pack of `size` bytes.
pub fn read_header(store: &Store, keys: &Keyring, id: &Id, size: u64) -> Result<(u32, PackHeader)> {
    let name = store::pack_path(id);
    let start = size.saturating_sub(TAIL_GUESS);
    let tail = store.get_range(&name, start..size)?;
    let t = pack::parse_trailer(id, size, &tail)?;
    let need = t.header_len as u64 + TRAILER_LEN as u64;
    let sealed = if need <= tail.len() as u64 {
        let from = tail.len() - need as usize;
        tail.slice(from..tail.len() - TRAILER_LEN)
    } else {
        store.get_range(&name, size - need..size - TRAILER_LEN as u64)?
    };
    let k = keys.get(t.epoch).ok_or_else(|| Error::Corrupt {
        kind: "pack",
        id: *id,
        reason: format!(
            "sealed under epoch {}, whose key this identity does not hold",
            t.epoch
        ),
    })?;
    let header = pack::open_header(&k, id, t.epoch, &sealed, size - need)?;
    Ok((t.epoch, header))
}

impl Index {
    fn cache_path(ds: &Dataset) -> std::path::PathBuf {
        ds.dot.join("cache").join("index")
    }

    /// Load the cache and reconcile it with the store's pack listing.
    pub fn load(ds: &Dataset, keys: &Keyring) -> Result<Index> {
        let cached: Vec<(Id, PackInfo)> = load_cache(&Self::cache_path(ds)).unwrap_or_default();
        let mut cached: HashMap<Id, PackInfo> = cached.into_iter().collect();
        let mut idx = Index::default();
        let cached_count = cached.len();
        let mut listed = ds.store.list_ids("packs")?;
        // A partial clone's packs are mostly on origin: keep their cached headers.
        if let Some(origin) = ds.store.fallback() {
            let local: std::collections::HashSet<Id> = listed.iter().map(|(i, _)| *i).collect();
            listed.extend(
                origin
                    .list_ids("packs")?
                    .into_iter()
                    .filter(|(i, _)| !local.contains(i)),
            );
        }
        let missing: Vec<(Id, u64)> = listed
            .iter()
            .filter(|(id, size)| !matches!(cached.get(id), Some(p) if p.1 == *size))
            .copied()
            .collect();
        for (id, size) in &listed {
            if let Some(p) = cached.remove(id).filter(|p| p.1 == *size) {
                idx.insert(*id, p);
            }
        }
        use rayon::prelude::*;
        type Read = (Id, u64, Result<(u32, PackHeader)>);
        let read: Vec<Read> = missing
            .par_iter()
            .map(|(id, size)| (*id, *size, read_header(&ds.store, keys, id, *size)))
            .collect();
        idx.dirty = !missing.is_empty() || idx.packs.len() != cached_count;
        for (id, size, r) in read {
            // An unreadable pack is verify's business; commit just does not dedup against it.
            if let Ok((epoch, header)) = r {
                idx.insert(id, PackInfo(epoch, size, header));
            }
        }
        Ok(idx)
    }

    fn insert(&mut self, id: Id, info: PackInfo) {
        for (i, b) in info.2.blobs.iter().enumerate() {
            self.blobs.entry(b.id()).or_insert((id, i as u32));
        }
        self.packs.insert(id, info);
    }

    /// Record a pack just written.
    pub fn add_pack(&mut self, id: Id, epoch: u32, size: u64, header: PackHeader) {
        self.dirty = true;
        self.insert(id, PackInfo(epoch, size, header));
    }

    /// Whether a blob is in a known pack.
    pub fn contains(&self, id: &Id) -> bool {
        self.blobs.contains_key(id)
    }

    /// Where a blob is.
    pub fn locate(&self, id: &Id) -> Option<BlobLoc> {
        let (pack, i) = self.blobs.get(id)?;
        let info = self.packs.get(pack)?;
        Some(BlobLoc {
            pack: *pack,
            epoch: info.0,
            entry: info.2.blobs.get(*i as usize)?.clone(),
        })
    }

    /// The packs holding `blobs`, sorted (a version's `packs` list).
    pub fn packs_of<'a>(&self, blobs: impl IntoIterator<Item = &'a Id>) -> Result<Vec<Id>> {
        let mut packs = std::collections::BTreeSet::new();
        for id in blobs {
            let loc = self.locate(id).ok_or(Error::Missing {
                kind: "blob",
                id: *id,
            })?;
            packs.insert(loc.pack);
        }
        Ok(packs.into_iter().collect())
    }

    /// Save the cache.
    pub fn save(&self, ds: &Dataset) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let v: Vec<(&Id, &PackInfo)> = self.packs.iter().collect();
        save_cache(&Self::cache_path(ds), &v)
    }

    /// Blob locations restricted to `packs` (a version's list), reading unknown headers.
    pub fn view(
        &mut self,
        ds: &Dataset,
        keys: &Keyring,
        packs: &[Id],
    ) -> Result<HashMap<Id, BlobLoc>> {
        let mut out = HashMap::new();
        for p in packs {
            if !self.packs.contains_key(p) {
                let size = ds.store.size(&store::pack_path(p))?.ok_or(Error::Missing {
                    kind: "pack",
                    id: *p,
                })?;
                let (epoch, header) = read_header(&ds.store, keys, p, size)?;
                self.dirty = true;
                self.insert(*p, PackInfo(epoch, size, header));
            }
            let info = &self.packs[p];
            for b in &info.2.blobs {
                out.entry(b.id()).or_insert_with(|| BlobLoc {
                    pack: *p,
                    epoch: info.0,
                    entry: b.clone(),
                });
            }
        }
        Ok(out)
    }
}
