//! Reading one version: its seal, its trees and its blobs, only from the packs it lists.

use super::index::{Index, View};
use super::{Dataset, Keyring};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::object::blob::{self, KIND_TREE};
use crate::object::tree::{self, Entry, DIR};
use crate::object::version::{Seal, Version};
use crate::rules::History;
use crate::store;
use std::collections::HashMap;

/// Deepest folder nesting accepted from a tree (the root is at depth 0).
pub const MAX_DEPTH: usize = 512;
/// Most paths (files, folders and links) in one version: four times the largest datasets
/// coffer is built for (a million files), and few enough that expanding them (about 200
/// bytes of metadata each) fits a machine. A tree that names the same subtree twice at each
/// of 40 levels holds 2^40 paths in a few kilobytes: readers count before they expand
/// (spec/format.md §8).
pub const MAX_PATHS: u64 = 4_000_000;

/// The paths below tree `root`, counted with each distinct subtree read once through
/// `tree`; an error above [`MAX_DEPTH`] or [`MAX_PATHS`].
pub fn count_paths(root: &Id, tree: &mut dyn FnMut(&Id) -> Result<Vec<Entry>>) -> Result<u64> {
    fn count(
        id: &Id,
        depth: usize,
        memo: &mut HashMap<Id, u64>,
        tree: &mut dyn FnMut(&Id) -> Result<Vec<Entry>>,
    ) -> Result<u64> {
        if let Some(n) = memo.get(id) {
            return Ok(*n);
        }
        if depth > MAX_DEPTH {
            return Err(Error::Limit(format!(
                "folders nested deeper than {MAX_DEPTH}"
            )));
        }
        let mut n = 0u64;
        for e in tree(id)? {
            n = n.saturating_add(1);
            if e.kind() == DIR {
                n = n.saturating_add(count(&e.ids()[0], depth + 1, memo, tree)?);
            }
        }
        memo.insert(*id, n);
        Ok(n)
    }
    let n = count(root, 0, &mut HashMap::new(), tree)?;
    if n > MAX_PATHS {
        return Err(Error::Limit(format!(
            "the version holds {n} paths, more than the {MAX_PATHS} a reader expands (a tree that repeats its folders?)"
        )));
    }
    Ok(n)
}

/// An open version.
pub struct VersionReader<'a> {
    ds: &'a Dataset,
    keys: &'a Keyring,
    /// The version id.
    pub id: Id,
    /// The signed manifest.
    pub version: Version,
    /// The sealed part.
    pub seal: Seal,
    /// Where its blobs are.
    pub locs: View,
    /// Packs it lists that this identity cannot open, with their epochs.
    unreadable: Vec<(Id, u32)>,
    /// The bundle last opened (pack, offset): reading its members one after another
    /// (cat, diff, rows over small files) opens it once.
    last_bundle: std::sync::Mutex<Option<(Id, u64, std::sync::Arc<blob::Unit>)>>,
    /// Set once the paths were counted within the limits: the trees do not change, so
    /// later walks (checkout walks a version up to three times) need not count again.
    counted: std::sync::OnceLock<()>,
}

/// A path in a version with its entry; folders included, before their contents.
pub type Flat = Vec<(String, Entry)>;

impl<'a> VersionReader<'a> {
    /// Open `id`, a version the rules accept, decrypting its seal and reading the headers
    /// of its packs.
    pub fn open(
        ds: &'a Dataset,
        hist: &History,
        keys: &'a Keyring,
        index: &mut Index,
        id: Id,
    ) -> Result<Self> {
        let version = hist.get(&id)?.clone();
        let k = keys.get(version.epoch).ok_or_else(|| Error::NoEpochKey {
            who: keys.who.clone(),
            epoch: version.epoch,
            dataset: ds.id,
        })?;
        let seal = version.unseal(&id, &k)?;
        let (locs, unreadable) = index.view(ds, keys, &version.packs)?;
        Ok(VersionReader {
            ds,
            keys,
            id,
            version,
            seal,
            locs,
            unreadable,
            last_bundle: std::sync::Mutex::new(None),
            counted: std::sync::OnceLock::new(),
        })
    }

    /// Read, decrypt and check one blob, with the keys of its pack's epoch.
    pub fn blob(&self, id: &Id, kind: u8) -> Result<Vec<u8>> {
        let loc = self
            .locs
            .get(id)
            .ok_or_else(|| match self.unreadable.first() {
                Some((_, epoch)) => Error::NoEpochKey {
                    who: self.keys.who.clone(),
                    epoch: *epoch,
                    dataset: self.ds.id,
                },
                None => Error::Missing {
                    kind: blob::kind_name(kind),
                    id: *id,
                },
            })?;
        let e = &loc.entry;
        loc.expect_kind(kind)?;
        let bundled = e.comp() == blob::COMP_BUNDLE;
        if bundled {
            let last = self.last_bundle.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((pack, off, unit)) = last.as_ref() {
                if *pack == loc.pack && *off == e.offset() {
                    if let Some(b) = unit.blob(loc.at) {
                        return Ok(b.to_vec());
                    }
                }
            }
        }
        let sealed = self.ds.store.get_range(
            &store::pack_path(&loc.pack),
            e.offset()..e.offset() + e.length() as u64,
        )?;
        let k = self.keys.get(loc.epoch).ok_or(Error::Missing {
            kind: "epoch key",
            id: loc.pack,
        })?;
        if !bundled {
            return loc.open(&k, kind, &sealed);
        }
        let unit = blob::open_unit(&k, &loc.header.blobs, loc.at, &sealed)?;
        let out = unit
            .blob(loc.at)
            .map(<[u8]>::to_vec)
            .ok_or(Error::Missing {
                kind: blob::kind_name(kind),
                id: *id,
            })?;
        *self.last_bundle.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((loc.pack, e.offset(), std::sync::Arc::new(unit)));
        Ok(out)
    }

    /// Read and validate one tree.
    pub fn tree(&self, id: &Id) -> Result<Vec<Entry>> {
        tree::decode(id, &self.blob(id, KIND_TREE)?)
    }

    /// Every path of the version in pre-order. The paths are counted first (each distinct
    /// folder read once), so a version that would expand beyond [`MAX_PATHS`] is refused
    /// before anything is expanded.
    pub fn flatten(&self) -> Result<Flat> {
        let mut out = Vec::new();
        self.each_path(&mut |p, e| {
            out.push((p, e));
            Ok(())
        })?;
        Ok(out)
    }

    /// Call `f` with every path of the version and its entry, in pre-order (counted first,
    /// as [`VersionReader::flatten`] says).
    pub fn each_path(&self, f: &mut dyn FnMut(String, Entry) -> Result<()>) -> Result<()> {
        for item in self.paths()? {
            let (p, e) = item?;
            f(p, e)?;
        }
        Ok(())
    }

    /// The version's paths within `scope` (a partial clone's folder, see
    /// [`super::in_scope`]; "" for all) as a stream of diff nodes in walk order.
    pub fn stream<'r>(&'r self, scope: &'r str) -> Result<crate::diff::Stream<'r>> {
        Ok(Box::new(
            self.paths()?
                .filter(move |r| r.as_ref().map_or(true, |(p, _)| super::in_scope(p, scope)))
                .map(|r| r.map(|(p, e)| (p, crate::diff::Node::from(e)))),
        ))
    }

    /// Every path of the version and its entry in pre-order, siblings by name bytes (the
    /// working folder's walk order), read one folder at a time: memory is the open folders,
    /// not the version. The paths are counted first, as [`VersionReader::flatten`] says.
    pub fn paths(&self) -> Result<PathWalk<'_, 'a>> {
        if self.counted.get().is_none() {
            count_paths(&self.seal.root, &mut |id| self.tree(id)).map_err(|e| match e {
                Error::Limit(why) => Error::Limit(format!("version {}: {why}", self.id.short())),
                other => other,
            })?;
            let _ = self.counted.set(());
        }
        Ok(PathWalk {
            reader: self,
            open: vec![(String::new(), self.tree(&self.seal.root)?.into_iter())],
            n: 0,
        })
    }
}

/// The paths of a version in walk order ([`VersionReader::paths`]).
pub struct PathWalk<'r, 'a> {
    reader: &'r VersionReader<'a>,
    /// The folders being listed, outermost first: each one's path and its entries not yet
    /// given.
    open: Vec<(String, std::vec::IntoIter<Entry>)>,
    n: u64,
}

impl Iterator for PathWalk<'_, '_> {
    type Item = Result<(String, Entry)>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = self.step();
        if r.is_err() {
            // An error ends the walk.
            self.open.clear();
        }
        r.transpose()
    }
}

impl PathWalk<'_, '_> {
    fn step(&mut self) -> Result<Option<(String, Entry)>> {
        loop {
            let Some((prefix, entries)) = self.open.last_mut() else {
                return Ok(None);
            };
            let Some(e) = entries.next() else {
                self.open.pop();
                continue;
            };
            if self.n >= MAX_PATHS {
                return Err(Error::Limit(format!(
                    "more than {MAX_PATHS} paths in a version"
                )));
            }
            self.n += 1;
            let path = if prefix.is_empty() {
                e.name().to_string()
            } else {
                format!("{prefix}/{}", e.name())
            };
            if e.kind() == DIR {
                // The root is at depth 0, so this folder's entries are at depth `open.len()`.
                if self.open.len() > MAX_DEPTH {
                    return Err(Error::Limit(format!(
                        "folders nested deeper than {MAX_DEPTH}"
                    )));
                }
                let sub = self.reader.tree(&e.ids()[0])?;
                self.open.push((path.clone(), sub.into_iter()));
            }
            return Ok(Some((path, e)));
        }
    }
}

/// Write the file at `path` in version `vid` to `out`, one chunk at a time.
pub fn cat(
    ds: &Dataset,
    hist: &History,
    keys: &Keyring,
    vid: Id,
    path: &str,
    out: &mut impl std::io::Write,
) -> Result<()> {
    let mut index = Index::load(ds, keys)?;
    let r = VersionReader::open(ds, hist, keys, &mut index, vid)?;
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let not_found = || Error::Usage(format!("{path}: no such file in version {}", vid.short()));
    let mut tree_id = r.seal.root;
    for (i, part) in parts.iter().enumerate() {
        let e = r
            .tree(&tree_id)?
            .into_iter()
            .find(|e| e.name() == *part)
            .ok_or_else(not_found)?;
        let last = i + 1 == parts.len();
        match (e.kind(), last) {
            (DIR, false) => tree_id = e.ids()[0],
            (tree::FILE, true) => {
                for c in e.ids() {
                    let data = r.blob(c, blob::KIND_CHUNK)?;
                    out.write_all(&data).map_err(|source| Error::Io {
                        path: "<output>".into(),
                        source,
                    })?;
                }
                return Ok(());
            }
            (DIR, true) => {
                return Err(Error::Usage(format!(
                    "{path} is a folder in version {}",
                    vid.short()
                )))
            }
            _ => return Err(not_found()),
        }
    }
    Err(not_found())
}
