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
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::Arc;

/// Where one blob is.
#[derive(Clone, Debug)]
pub struct BlobLoc {
    /// The pack holding it.
    pub pack: Id,
    /// Epoch of that pack.
    pub epoch: u32,
    /// Its entry in the pack header.
    pub entry: BlobEntry,
    /// That pack's header (a bundle's members are opened together).
    pub header: Arc<PackHeader>,
    /// The entry's position in it.
    pub at: usize,
}

impl BlobLoc {
    /// Refuse to read this blob as `kind` unless its header entry says it is one.
    pub fn expect_kind(&self, kind: u8) -> Result<()> {
        use crate::object::blob::kind_name;
        if self.entry.kind() != kind {
            return Err(Error::Corrupt {
                kind: kind_name(kind),
                id: self.entry.id(),
                reason: format!("stored as a {}", kind_name(self.entry.kind())),
            });
        }
        Ok(())
    }

    /// Open this blob as a `kind` from `sealed`, the bytes at its entry's offset and length,
    /// with the keys of its pack's epoch: decrypt, decompress and check it against its id
    /// (§6.3, §6.4).
    pub fn open(
        &self,
        keys: &crate::crypto::keys::EpochKeys,
        kind: u8,
        sealed: &[u8],
    ) -> Result<Vec<u8>> {
        self.expect_kind(kind)?;
        crate::object::blob::open_at(keys, &self.header.blobs, self.at, sealed)
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct PackInfo(u32, u64, Arc<PackHeader>);

/// A blob's place: pack number (position in a list of packs) and entry in that pack's
/// header.
pub type Slot = (u32, u32);

/// Known packs and the blobs in them.
///
/// Memory is per blob, so a blob costs one table slot of two numbers (8 bytes) besides its
/// header entry: the table hashes the id it finds in the header rather than storing it
/// again (a map from id to pack id and position cost about ten times that).
#[derive(Default)]
pub struct Index {
    /// Each pack: id and what it holds; a pack's number is its position.
    packs: Vec<(Id, PackInfo)>,
    /// Pack id -> number.
    numbers: HashMap<Id, u32>,
    /// Each blob's first known location.
    blobs: BlobTable,
    /// Further copies of blobs held by more than one pack (after a reseal; rare).
    more: HashMap<Id, Vec<Slot>>,
    /// Numbers of the packs a new version may list (rules V9, V10); `None`: all.
    usable: Option<std::collections::HashSet<u32>>,
    /// Differs from the cache file (saving is skipped otherwise).
    dirty: bool,
}

/// Blob ids to their first place in a list of packs, 8 bytes a blob: the table hashes the
/// id it finds in the pack's header rather than storing it again. Hashed with a per-process
/// key, so a member cannot craft ids that collide.
#[derive(Default)]
struct BlobTable {
    slots: hashbrown::HashTable<Slot>,
    hasher: RandomState,
}

impl BlobTable {
    fn find(&self, packs: &[(Id, PackInfo)], id: &Id) -> Option<Slot> {
        self.slots
            .find(self.hasher.hash_one(id), |s| entry_of(packs, *s).0 == *id)
            .copied()
    }

    /// Add the blobs of pack number `no` (in `packs`); each one the table already holds is
    /// given to `held` with its new slot and its first one.
    fn add(&mut self, packs: &[(Id, PackInfo)], no: u32, held: impl FnMut(&BlobEntry, Slot, Slot)) {
        self.add_where(packs, no, |_| true, held)
    }

    /// [`BlobTable::add`] for the entries `keep` accepts (by position in the header).
    fn add_where(
        &mut self,
        packs: &[(Id, PackInfo)],
        no: u32,
        keep: impl Fn(u32) -> bool,
        mut held: impl FnMut(&BlobEntry, Slot, Slot),
    ) {
        let BlobTable { slots, hasher } = self;
        let header = &packs[no as usize].1 .2.blobs;
        let rehash = |s: &Slot| hasher.hash_one(entry_of(packs, *s).0);
        slots.reserve(header.len(), rehash);
        for (i, b) in (0u32..).zip(header) {
            if !keep(i) {
                continue;
            }
            let hash = hasher.hash_one(b.0);
            match slots.find(hash, |s| entry_of(packs, *s).0 == b.0) {
                None => {
                    slots.insert_unique(hash, (no, i), rehash);
                }
                Some(first) => held(b, (no, i), *first),
            }
        }
    }
}

/// Where a version's blobs are: the headers of the packs it lists (shared with the
/// [`Index`]) and the table of its blobs.
pub struct View {
    packs: Vec<(Id, PackInfo)>,
    blobs: BlobTable,
}

impl View {
    /// A view of packs read and checked by the caller (verify): each pack's id, epoch,
    /// header, and the entries of it to leave out (those that failed their check). A blob
    /// held twice is found in the first pack listed that holds it whole.
    pub fn of_checked<'h>(
        packs: impl IntoIterator<Item = (Id, u32, Arc<PackHeader>, &'h HashSet<u32>)>,
    ) -> View {
        let mut out = View {
            packs: Vec::new(),
            blobs: BlobTable::default(),
        };
        for (id, epoch, header, bad) in packs {
            let no = out.packs.len() as u32;
            out.packs.push((id, PackInfo(epoch, 0, header)));
            out.blobs
                .add_where(&out.packs, no, |i| !bad.contains(&i), |_, _, _| {});
        }
        out
    }

    /// The blob at `slot`, which [`View::find`] gave.
    pub fn at(&self, (p, i): Slot) -> BlobLoc {
        let (pack, info) = &self.packs[p as usize];
        BlobLoc {
            pack: *pack,
            epoch: info.0,
            entry: info.2.blobs[i as usize].clone(),
            header: info.2.clone(),
            at: i as usize,
        }
    }

    /// Where blob `id` is, in the first listed pack holding it.
    pub fn get(&self, id: &Id) -> Option<BlobLoc> {
        self.find(id).map(|s| self.at(s))
    }

    /// The place of blob `id` (packs are numbered in the order the version lists them, and
    /// a pack's blobs in the order they are stored).
    pub fn find(&self, id: &Id) -> Option<Slot> {
        self.blobs.find(&self.packs, id)
    }

    /// Every blob, once.
    pub fn iter(&self) -> impl Iterator<Item = BlobLoc> + '_ {
        self.blobs.slots.iter().map(|s| self.at(*s))
    }
}

/// The header entry at `slot` (which the index made, so it is in range).
fn entry_of(packs: &[(Id, PackInfo)], (pack, i): Slot) -> &BlobEntry {
    &packs[pack as usize].1 .2.blobs[i as usize]
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
    let k = keys.get(t.epoch).ok_or_else(|| Error::NoEpochKey {
        who: keys.who.clone(),
        epoch: t.epoch,
        dataset: keys.dataset,
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
                idx.insert(id, PackInfo(epoch, size, Arc::new(header)));
            }
        }
        Ok(idx)
    }

    fn insert(&mut self, id: Id, info: PackInfo) {
        if self.numbers.contains_key(&id) {
            return;
        }
        let Ok(no) = u32::try_from(self.packs.len()) else {
            return;
        };
        self.numbers.insert(id, no);
        self.packs.push((id, info));
        let more = &mut self.more;
        self.blobs.add(&self.packs, no, |b, slot, first| {
            if first.0 != no {
                more.entry(b.0).or_default().push(slot);
            }
        });
    }

    /// Every known location of a blob.
    fn copies(&self, id: &Id) -> impl Iterator<Item = Slot> + '_ {
        self.blobs
            .find(&self.packs, id)
            .into_iter()
            .chain(self.more.get(id).into_iter().flatten().copied())
    }

    fn loc(&self, (pack, i): Slot) -> Option<BlobLoc> {
        let (id, info) = self.packs.get(pack as usize)?;
        Some(BlobLoc {
            pack: *id,
            epoch: info.0,
            entry: info.2.blobs.get(i as usize)?.clone(),
            header: info.2.clone(),
            at: i as usize,
        })
    }

    fn is_usable(&self, pack: u32) -> bool {
        self.usable.as_ref().is_none_or(|u| u.contains(&pack))
    }

    /// Keep only blobs in packs for which `usable(pack, epoch)` holds: what a new version
    /// may list (rules V9, V10). Commit and merge then seal other content again rather than
    /// point at it. The packs stay known (and cached).
    pub fn restrict_to(&mut self, usable: impl Fn(&Id, u32) -> bool) {
        self.usable = Some(
            (0u32..)
                .zip(&self.packs)
                .filter(|(_, (id, info))| usable(id, info.0))
                .map(|(no, _)| no)
                .collect(),
        );
    }

    /// Record a pack just written (of the current epoch: usable by a new version).
    pub fn add_pack(&mut self, id: Id, epoch: u32, size: u64, header: PackHeader) {
        self.dirty = true;
        self.insert(id, PackInfo(epoch, size, Arc::new(header)));
        if let (Some(u), Some(no)) = (&mut self.usable, self.numbers.get(&id)) {
            u.insert(*no);
        }
    }

    /// Whether a blob is in a pack a new version may list.
    pub fn contains(&self, id: &Id) -> bool {
        self.copies(id).any(|(p, _)| self.is_usable(p))
    }

    /// Where a blob is, in a pack a new version may list.
    pub fn locate(&self, id: &Id) -> Option<BlobLoc> {
        let c = self.copies(id).find(|(p, _)| self.is_usable(*p))?;
        self.loc(c)
    }

    /// Where a blob is, in any known pack.
    pub fn locate_any(&self, id: &Id) -> Option<BlobLoc> {
        self.copies(id).find_map(|c| self.loc(c))
    }

    /// Where a blob is, in any pack whose epoch `keys` holds (to read it, or seal it again).
    pub fn locate_readable(&self, id: &Id, keys: &Keyring) -> Option<BlobLoc> {
        self.copies(id)
            .filter_map(|c| self.loc(c))
            .find(|l| keys.epochs.contains_key(&l.epoch))
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
        let v: Vec<(&Id, &PackInfo)> = self.packs.iter().map(|(id, info)| (id, info)).collect();
        save_cache(&Self::cache_path(ds), &v)
    }

    /// Blob locations restricted to `packs` (a version's list), reading unknown headers,
    /// and the packs sealed under an epoch `keys` lacks, with their epoch: a blob found only
    /// there cannot be read by this identity.
    pub fn view(
        &mut self,
        ds: &Dataset,
        keys: &Keyring,
        packs: &[Id],
    ) -> Result<(View, Vec<(Id, u32)>)> {
        let mut out = View {
            packs: Vec::new(),
            blobs: BlobTable::default(),
        };
        let mut unreadable = Vec::new();
        for p in packs {
            if !self.numbers.contains_key(p) {
                let size = ds.store.size(&store::pack_path(p))?.ok_or(Error::Missing {
                    kind: "pack",
                    id: *p,
                })?;
                match read_header(&ds.store, keys, p, size) {
                    Ok((epoch, header)) => {
                        self.dirty = true;
                        self.insert(*p, PackInfo(epoch, size, Arc::new(header)));
                    }
                    Err(Error::NoEpochKey { epoch, .. }) => {
                        unreadable.push((*p, epoch));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(info) = self.numbers.get(p).map(|n| &self.packs[*n as usize].1) else {
                continue;
            };
            if !keys.epochs.contains_key(&info.0) {
                unreadable.push((*p, info.0));
                continue;
            }
            let info = info.clone();
            let no = out.packs.len() as u32;
            out.packs.push((*p, info));
            out.blobs.add(&out.packs, no, |_, _, _| {});
        }
        Ok((out, unreadable))
    }
}
