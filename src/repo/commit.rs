//! Commit: scan the folder, chunk and seal what is new on all cores, pack it, build trees,
//! then sign a version. Write order: packs, then the version object, then the branch ref,
//! so a crash at any point leaves the previous version intact (spec/format.md, "Ordering").

use super::index::Index;
use super::scan::{self, Kind};
use super::statcache::{ids_fit, now_ns, StatCacheReader, StatCacheWriter};
use super::{progress_bar, Dataset, Keyring};
use crate::chunking::Chunker;
use crate::crypto::keys::EpochKeys;
use crate::error::{Error, IoContext, Result};
use crate::id::{Bytes32, Id};
use crate::identity::Identity;
use crate::object::blob::{self, Bundle, Sealed, BUNDLE_CHUNK_MAX, KIND_CHUNK, KIND_TREE};
use crate::object::pack::{PackBuilder, PackHeader};
use crate::object::tree::{self, Entry};
use crate::object::version::{Seal, Version};
use crate::object::MAX_BLOB_SIZE;
use crate::rules::History;
use crate::store;
use crossbeam_channel::{bounded, Receiver, Sender};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::Mutex;

/// What to commit.
pub struct CommitOptions {
    /// The message.
    pub message: String,
    /// Make a version even when nothing changed.
    pub allow_empty: bool,
    /// Show a progress bar.
    pub progress: bool,
}

/// What a commit did.
#[derive(Debug, Default, serde::Serialize)]
pub struct CommitOutcome {
    /// The new version, or `None` when nothing changed.
    pub version: Option<Id>,
    /// The branch head afterwards: the new version, or the unchanged head.
    pub head: Option<Id>,
    /// The head's sequence number.
    pub seq: u64,
    /// Regular files in the version.
    pub files: u64,
    /// Bytes of regular files in the version.
    pub bytes: u64,
    /// Bytes read from files that were new or changed.
    pub bytes_read: u64,
    /// Files whose stat matched the cache and were not read.
    pub files_unchanged: u64,
    /// New packs written.
    pub packs_written: u64,
    /// Bytes of new packs.
    pub bytes_written: u64,
    /// Paths skipped (not a file, folder or link).
    pub skipped: Vec<String>,
    /// The author's label.
    pub author: String,
}

/// Chunk one file and return its chunk ids and length. Each chunk goes to `sink` with its id.
pub fn chunk_file(
    path: &Path,
    keys: &EpochKeys,
    mut sink: impl FnMut(Id, &[u8]) -> Result<()>,
) -> Result<(Vec<Id>, u64)> {
    let f = open_nofollow(path)?;
    let hint = f.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let mut c = Chunker::with_size_hint(f, keys.gear.clone(), hint);
    let mut ids = Vec::new();
    let mut len = 0u64;
    while let Some(chunk) = c.next_chunk().at(path)? {
        crate::interrupt::check()?;
        let id = keys.id_key.blob_id(KIND_CHUNK, chunk);
        len += chunk.len() as u64;
        sink(id, chunk)?;
        ids.push(id);
    }
    Ok((ids, len))
}

/// Open a file for reading without following a final symlink.
pub fn open_nofollow(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .at(path)
}

/// Threads writing finished packs to the store.
const PACK_WRITERS: usize = 1;

/// A pack written by this commit: id, size, header.
type NewPack = (Id, u64, PackHeader);

/// Packs sealed blobs and writes each full pack to the store.
struct Packer {
    tx: Option<Sender<Sealed>>,
    handle: Option<std::thread::JoinHandle<Result<Vec<NewPack>>>>,
}

impl Packer {
    fn start(ds_store: store::Store, keys: EpochKeys) -> Packer {
        let (tx, rx): (Sender<Sealed>, Receiver<Sealed>) = bounded(8);
        let handle = std::thread::spawn(move || {
            // Finished packs go to writer threads, so packing never waits on storage; the
            // bounded queue caps memory at a few packs.
            let (wtx, wrx) = bounded::<(Id, bytes::Bytes)>(1);
            let writers: Vec<_> = (0..PACK_WRITERS)
                .map(|_| {
                    let wrx = wrx.clone();
                    let st = ds_store.clone();
                    std::thread::spawn(move || -> Result<()> {
                        for (id, bytes) in wrx {
                            st.put_new(&store::pack_path(&id), bytes)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            drop(wrx);
            let mut out = Vec::new();
            let mut cur = PackBuilder::default();
            let mut send_ok = true;
            let mut flush = |b: PackBuilder, out: &mut Vec<NewPack>| {
                let (id, bytes, header) = b.finish(&keys);
                out.push((id, bytes.len() as u64, header));
                send_ok &= wtx.send((id, bytes)).is_ok();
            };
            for b in rx {
                cur.add_sealed(b);
                if cur.is_full() {
                    flush(std::mem::take(&mut cur), &mut out);
                }
            }
            if !cur.is_empty() {
                flush(cur, &mut out);
            }
            drop(wtx);
            for w in writers {
                match w.join() {
                    Ok(r) => r?,
                    Err(_) => return Err(Error::Usage("a pack writer thread panicked".into())),
                }
            }
            if !send_ok {
                return Err(Error::Usage("the pack writers stopped".into()));
            }
            Ok(out)
        });
        Packer {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    fn sender(&self) -> Sender<Sealed> {
        self.tx.clone().unwrap_or_else(|| bounded(0).0)
    }

    fn finish(mut self) -> Result<Vec<NewPack>> {
        drop(self.tx.take());
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            _ => Err(Error::Usage("the pack writer thread panicked".into())),
        }
    }
}

/// Small chunks waiting for a bundle (§6.4), shared by the readers: the one whose chunk fills
/// the bundle compresses and seals it, so bundles are sealed on every core.
#[derive(Default)]
struct Bundles(Mutex<Bundle>);

impl Bundles {
    /// Seal chunk `id` on its own, or add it to the bundle (sealing that once it is full),
    /// and send what was sealed to the packer.
    fn seal(&self, keys: &EpochKeys, tx: &Sender<Sealed>, id: Id, data: &[u8]) -> Result<()> {
        let send = |s: Sealed| {
            tx.send(s)
                .map_err(|_| Error::Usage("the pack writer stopped".into()))
        };
        if data.len() >= BUNDLE_CHUNK_MAX || blob::looks_incompressible(data) {
            return send(Sealed::Blob(blob::seal(keys, KIND_CHUNK, id, data)));
        }
        let full = {
            // A poisoned lock still holds whole chunks: a panic elsewhere fails the commit.
            let mut b = self.0.lock().unwrap_or_else(|p| p.into_inner());
            b.add(KIND_CHUNK, id, data);
            b.is_full().then(|| std::mem::take(&mut *b))
        };
        match full {
            Some(b) => b.seal(keys).into_iter().try_for_each(send),
            None => Ok(()),
        }
    }

    /// Seal and send what is left.
    fn flush(&self, keys: &EpochKeys, tx: &Sender<Sealed>) -> Result<()> {
        let b = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        b.seal(keys).into_iter().try_for_each(|s| {
            tx.send(s)
                .map_err(|_| Error::Usage("the pack writer stopped".into()))
        })
    }
}

/// Blob ids already stored or being stored by this commit.
struct Seen<'a> {
    index: &'a Index,
    new: Mutex<crate::id::IdSet>,
}

impl Seen<'_> {
    /// True if the caller must store this blob (first time seen).
    fn claim(&self, id: &Id) -> bool {
        // A poisoned lock still holds a valid set; storing a blob twice is harmless.
        !self.index.contains(id)
            && self
                .new
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(*id)
    }
}

/// What a writer needs to make a version: the history it extends, the keys, and the
/// policy it is made under.
pub(crate) struct Writer {
    /// The store's versions judged by the rules.
    pub hist: History,
    /// Every epoch key the writer holds.
    pub keyring: Keyring,
    /// The current epoch's keys.
    pub keys: EpochKeys,
    /// The policy in force.
    pub policy: Id,
    /// The writer's label.
    pub label: String,
}

/// Check that `identity` may write to `ds` now (rule V3 for a new version, and no
/// unrepaired fork), and unlock its keys.
pub(crate) fn writer(ds: &Dataset, identity: &Identity) -> Result<Writer> {
    let hist = ds.history()?;
    let me = identity.public();
    let member = match hist.chain.may_write(&me.sign) {
        Ok(m) => m.clone(),
        Err(r) if r.rule == crate::rules::Rule::PolicyFork => {
            return Err(Error::Usage(r.message));
        }
        Err(_) => {
            return Err(crate::rules::not_allowed(
                &hist.chain,
                &me.sign,
                crate::rules::Needs::Write,
            ))
        }
    };
    let keyring: Keyring = ds.keyring(&hist.chain, identity)?;
    let keys = keyring.current().cloned().ok_or_else(|| {
        crate::rules::not_allowed(&hist.chain, &me.sign, crate::rules::Needs::Read)
    })?;
    let policy = hist.chain.tip().0;
    Ok(Writer {
        hist,
        keyring,
        keys,
        policy,
        label: member.label().to_string(),
    })
}

impl Writer {
    /// The packs' index, limited to packs a new version may list (rules V9, V10).
    pub fn index(&self, ds: &Dataset) -> Result<Index> {
        let mut index = Index::load(ds, &self.keyring)?;
        index.restrict_to(self.hist.usable_packs());
        Ok(index)
    }

    /// The branch head, which must be history.
    pub fn head(&self, ds: &Dataset) -> Result<Option<(Id, Version)>> {
        let Some(h) = ds.head()? else { return Ok(None) };
        match self.hist.get(&h) {
            Ok(v) => Ok(Some((h, v.clone()))),
            Err(Error::Refused { refusal, .. }) => Err(Error::Usage(format!(
                "your branch head {} is not accepted: {refusal}; run `coffer pull` (it signs your unpublished versions again under the policy in force)",
                h.short()
            ))),
            Err(e) => Err(e),
        }
    }

    /// Sign and store a version made of `seal` under the policy in force, with `parents`,
    /// listing `packs` (sorted; [`Index::packs_of`] the blobs it reaches).
    pub fn write_version(
        &self,
        ds: &Dataset,
        identity: &Identity,
        parents: &[(Id, &Version)],
        seal: &Seal,
        packs: Vec<Id>,
    ) -> Result<(Id, Version)> {
        let seq = parents.iter().map(|(_, v)| v.seq).max().unwrap_or(0) + 1;
        let time = parents
            .iter()
            .map(|(_, v)| v.time)
            .fold(super::now(), u64::max);
        let mut ids: Vec<Id> = parents.iter().map(|(i, _)| *i).collect();
        ids.sort();
        ids.dedup();
        let version = Version {
            seq,
            time,
            epoch: self.keys.epoch,
            packs,
            author: Bytes32(identity.public().sign),
            policy: self.policy,
            sealed: seal.seal(&self.keys, &ds.id, seq),
            dataset: ds.id,
            parents: ids,
        };
        let (vid, vbytes) = version.sign(identity.signing_key());
        ds.store.put_new(&store::version_path(&vid), vbytes)?;
        Ok((vid, version))
    }
}

/// Folders being built as the walk goes: the open folders from the root down, each with
/// the entries seen so far. A folder closes when the walk leaves it; its tree is sealed,
/// packed and written as packs fill.
struct Trees<'a> {
    keys: &'a EpochKeys,
    index: &'a Index,
    store: &'a store::Store,
    /// Open folders: name and entries (the root first, with an empty name).
    open: Vec<(String, Vec<Entry>)>,
    pack: PackBuilder,
    /// Trees sealed by this commit.
    new: HashSet<Id>,
    /// Packs already stored that this version refers to (through its files, or folders
    /// that did not change); the packs this commit writes are all referred to.
    old_packs: BTreeSet<Id>,
    /// Packs of trees written.
    written: Vec<NewPack>,
}

impl<'a> Trees<'a> {
    fn new(keys: &'a EpochKeys, index: &'a Index, store: &'a store::Store) -> Trees<'a> {
        Trees {
            keys,
            index,
            store,
            open: vec![(String::new(), Vec::new())],
            pack: PackBuilder::default(),
            new: HashSet::new(),
            old_packs: BTreeSet::new(),
            written: Vec::new(),
        }
    }

    /// Close folders until the open one holds entries at `depth` (1 = in the root).
    fn leave_to(&mut self, depth: usize) -> Result<()> {
        while self.open.len() > depth.max(1) {
            let Some((name, entries)) = self.open.pop() else {
                break;
            };
            let id = self.emit(entries)?;
            if let Some((_, parent)) = self.open.last_mut() {
                parent.push(Entry::dir(name, id));
            }
        }
        Ok(())
    }

    /// Add a file or link at `depth`.
    fn add(&mut self, depth: usize, entry: Entry) -> Result<()> {
        self.leave_to(depth)?;
        if let Some((_, entries)) = self.open.last_mut() {
            entries.push(entry);
        }
        Ok(())
    }

    /// Open the folder `name` at `depth`.
    fn open(&mut self, depth: usize, name: String) -> Result<()> {
        self.leave_to(depth)?;
        self.open.push((name, Vec::new()));
        Ok(())
    }

    /// Note a blob the version refers to; whether it is already stored.
    fn refer(&mut self, id: &Id) -> bool {
        match self.index.locate(id) {
            Some(loc) => {
                self.old_packs.insert(loc.pack);
                true
            }
            None => false,
        }
    }

    /// Close every folder; the root tree's id.
    fn finish(&mut self) -> Result<Id> {
        self.leave_to(1)?;
        let top = self.open.pop().map(|(_, e)| e).unwrap_or_default();
        let root = self.emit(top)?;
        if !self.pack.is_empty() {
            self.flush()?;
        }
        Ok(root)
    }

    fn flush(&mut self) -> Result<()> {
        let (pid, pbytes, header) = std::mem::take(&mut self.pack).finish(self.keys);
        let size = pbytes.len() as u64;
        self.store.put_new(&store::pack_path(&pid), pbytes)?;
        self.written.push((pid, size, header));
        Ok(())
    }

    fn emit(&mut self, mut entries: Vec<Entry>) -> Result<Id> {
        entries.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
        let bytes = tree::encode(&entries);
        if bytes.len() > MAX_BLOB_SIZE {
            return Err(Error::Limit(format!(
                "a folder with {} entries encodes to more than {} MiB",
                entries.len(),
                MAX_BLOB_SIZE >> 20
            )));
        }
        let id = self.keys.id_key.blob_id(KIND_TREE, &bytes);
        if !self.refer(&id) && self.new.insert(id) {
            self.pack.add(blob::seal(self.keys, KIND_TREE, id, &bytes));
            if self.pack.is_full() {
                self.flush()?;
            }
        }
        Ok(id)
    }
}

/// Make a new version of the working folder.
pub fn commit(ds: &Dataset, identity: &Identity, opts: &CommitOptions) -> Result<CommitOutcome> {
    if let Some(p) = ds.partial() {
        return Err(Error::Usage(format!(
            "this is a partial clone of {p}/: a version holds the whole dataset, so commit from a full clone (coffer clone URL DIR without --path)"
        )));
    }
    let _lock = ds.lock()?;
    if ds.clone_pending() {
        return Err(Error::Usage(format!(
            "{}, then commit",
            super::CLONE_PENDING_HINT
        )));
    }
    let w = writer(ds, identity)?;
    let (keyring, keys) = (&w.keyring, w.keys.clone());
    let parent = w.head(ds)?;
    let scan_start = now_ns();
    let mut walk = scan::Walk::new(&ds.root, scan::Leftovers::Remove)?;
    let mut index = w.index(ds)?;
    let mut old_cache = StatCacheReader::open(ds);
    let mut new_cache = StatCacheWriter::create(ds)?;
    let mut cache_changed = false;
    let mut outcome = CommitOutcome::default();
    let pb = progress_bar(opts.progress, 0);
    let packer = Packer::start(ds.store.clone(), keys.clone());
    let seen = Seen {
        index: &index,
        new: Mutex::new(Default::default()),
    };
    let mut trees = Trees::new(&keys, &index, &ds.store);
    let bundles = Bundles::default();
    let mut paths = 0u64;
    // Every link's path and target (few, and checked together: §14).
    let mut links: Vec<(String, Vec<u8>)> = Vec::new();
    // The walk goes in batches ([`super::batch_size`] entries): each batch's files are read on all
    // cores (largest first), then its entries join the trees and the new stat cache in walk
    // order. Memory is the batch, the open folders and the stored blobs' index, whatever
    // the number of files.
    let mut walked = || -> Result<Id> {
        loop {
            let batch = walk.batch(super::batch_size())?;
            if batch.is_empty() {
                break;
            }
            paths += batch.len() as u64;
            if paths > super::read::MAX_PATHS {
                return Err(Error::Limit(format!(
                "the folder holds more than {} paths, the most a version may hold (readers refuse more)",
                super::read::MAX_PATHS
            )));
            }
            // Files whose stat matches the cache and whose chunks are all stored are not read.
            // Per entry: a file's chunk ids and when its content was read (for a file the cache
            // vouches for, the walk's start).
            let mut file_chunks: Vec<Option<(Vec<Id>, i64)>> = vec![None; batch.len()];
            // Files to read: entry and size (largest first).
            let mut todo: Vec<(usize, u64)> = Vec::new();
            for (i, e) in batch.iter().enumerate() {
                if let Kind::File(st) = &e.kind {
                    match old_cache.take(&e.rel, st) {
                        Some(ids) if ids_fit(&index, &ids, st.size) => {
                            file_chunks[i] = Some((ids, scan_start));
                            outcome.files_unchanged += 1;
                        }
                        _ => {
                            cache_changed = true;
                            todo.push((i, st.size));
                        }
                    }
                }
            }
            todo.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
            pb.inc_length(todo.iter().map(|(_, size)| size).sum());
            // One file per work item: with files sorted largest first, rayon's default splitting
            // would leave most bytes in one thread's leaf.
            // Per file read: its entry, chunk ids, length, and when its read began.
            type Read = (usize, Vec<Id>, u64, i64);
            let results: Vec<Result<Read>> = todo
                .par_iter()
                .with_max_len(1)
                .map(|(i, _)| {
                    let tx = packer.sender();
                    let path = ds.root.join(&batch[*i].rel);
                    let read_start = now_ns();
                    let (ids, len) = chunk_file(&path, &keys, |id, data| {
                        if seen.claim(&id) {
                            bundles.seal(&keys, &tx, id, data)?;
                        }
                        pb.inc(data.len() as u64);
                        Ok(())
                    })?;
                    Ok((*i, ids, len, read_start))
                })
                .collect();
            // When each file read began: its cache entry's race guard counts from there.
            for r in results {
                let (i, ids, len, read_start) = r?;
                outcome.bytes_read += len;
                if let Some(slot) = file_chunks.get_mut(i) {
                    *slot = Some((ids, read_start.max(scan_start)));
                }
            }
            for (e, chunks) in batch.into_iter().zip(file_chunks) {
                let name = match e.rel.rsplit_once('/') {
                    Some((_, n)) => n.to_string(),
                    None => e.rel.clone(),
                };
                match e.kind {
                    Kind::File(st) => {
                        let (ids, since) = chunks.unwrap_or((Vec::new(), scan_start));
                        for id in &ids {
                            trees.refer(id);
                        }
                        outcome.files += 1;
                        outcome.bytes += st.size;
                        new_cache.add(&e.rel, &st, &ids, since)?;
                        trees.add(e.depth, Entry::file(name, st.exec, st.size, ids))?;
                    }
                    Kind::Symlink(t) => {
                        links.push((e.rel.clone(), t.clone()));
                        trees.add(e.depth, Entry::symlink(name, t))?
                    }
                    Kind::Dir => trees.open(e.depth, name)?,
                }
            }
        }
        // Checkout's link rule, applied before the version exists: a version with a link
        // that every checkout would refuse is not made.
        super::checkout::check_links(links.iter().map(|(p, t)| (p.as_str(), t.as_slice())))
            .map_err(|e| match e {
                Error::UnsafePath(m) => Error::Usage(format!(
                    "{m}; checkout would refuse the version, so it is not committed: replace \
                     the link with what it points to, or add it to {}",
                    super::IGNORE_FILE
                )),
                e => e,
            })?;
        trees.finish()
    };
    // The packer is joined whatever happened, so no pack is being written once this returns.
    let root = walked().and_then(|root| bundles.flush(&keys, &packer.sender()).map(|_| root));
    drop(seen);
    let new_packs = packer.finish();
    pb.finish_and_clear();
    let root = root?;
    let new_packs = new_packs?;
    outcome.skipped = walk.skipped;
    cache_changed |= old_cache.any_unmatched();
    let tree_packs = std::mem::take(&mut trees.written);
    let mut packs = std::mem::take(&mut trees.old_packs);
    drop(trees);
    for (id, size, header) in new_packs.into_iter().chain(tree_packs) {
        outcome.packs_written += 1;
        outcome.bytes_written += size;
        packs.insert(id);
        index.add_pack(id, keys.epoch, size, header);
    }

    let unchanged = match &parent {
        Some((pid, pv)) => {
            pv.unseal(pid, keyring.get(pv.epoch).as_ref().unwrap_or(&keys))?
                .root
                == root
        }
        None => false,
    };
    if unchanged && !opts.allow_empty {
        index.save(ds)?;
        new_cache.finish(cache_changed)?;
        if let Some((pid, pv)) = &parent {
            outcome.head = Some(*pid);
            outcome.seq = pv.seq;
        }
        outcome.author = w.label.clone();
        return Ok(outcome);
    }

    let seal = Seal {
        root,
        bytes: outcome.bytes,
        files: outcome.files,
        message: opts.message.clone(),
    };
    let parents: Vec<(Id, &Version)> = parent.iter().map(|(i, v)| (*i, v)).collect();
    let packs = packs.into_iter().collect();
    let (vid, version) = w.write_version(ds, identity, &parents, &seal, packs)?;
    crate::testhook::pause("version");
    ds.set_head(&vid)?;
    // Caches last: losing them costs time, never data.
    index.save(ds)?;
    new_cache.finish(cache_changed)?;
    outcome.version = Some(vid);
    outcome.head = Some(vid);
    outcome.seq = version.seq;
    outcome.author = w.label.clone();
    Ok(outcome)
}
