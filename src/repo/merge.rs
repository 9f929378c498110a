//! Merging two lines of history (after two writers pushed from the same point): a three-way
//! merge of trees by path against their newest common version, recorded as a version with
//! both heads as parents. Where both sides changed the same path differently, this side's
//! entry is kept and the path is reported: the other side's content stays in history (its
//! version is a parent), readable with `coffer cat` or `coffer checkout --to`.

use super::commit::writer;
use super::index::Index;
use super::read::VersionReader;
use super::{Dataset, Keyring};
use crate::crypto::keys::EpochKeys;
use crate::diff;
use crate::error::{Error, Result};
use crate::history;
use crate::id::Id;
use crate::identity::Identity;
use crate::object::blob::{self, KIND_TREE};
use crate::object::pack::PackBuilder;
use crate::object::tree::{self, Entry, DIR, FILE};
use crate::object::version::Seal;
use crate::object::MAX_BLOB_SIZE;
use crate::rules::History;
use crate::store;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What a merge made.
#[derive(Debug, serde::Serialize)]
pub struct MergeOutcome {
    /// The merge version.
    pub version: Id,
    /// The other side's head.
    pub theirs: Id,
    /// Their newest common version, if any.
    pub base: Option<Id>,
    /// Paths both sides changed differently: this side's entry was kept.
    pub conflicts: Vec<String>,
}

/// Refuse to move the folder if it has changes the branch head does not hold.
pub fn ensure_clean(ds: &Dataset, hist: &History, keys: &Keyring, head: Id) -> Result<()> {
    let mut index = Index::load(ds, keys)?;
    let r = VersionReader::open(ds, hist, keys, &mut index, head)?;
    let Some(hk) = keys.current().or_else(|| keys.epochs.values().last()) else {
        return Err(Error::NoVersions);
    };
    let scope = ds.partial().unwrap_or_default();
    let working = super::worktree::WorkingWalk::new(ds, hk, &index, super::scan::Leftovers::Skip)?;
    let changes = diff::diff_streams(r.stream(&scope)?, Box::new(working))?;
    match changes.first() {
        None => Ok(()),
        Some(c) => Err(Error::Dirty(format!(
            "{} path(s), first: {}; commit them (`coffer commit -m MESSAGE`) or move them aside, then run this again",
            changes.len(),
            c.path
        ))),
    }
}

/// The newest version both `a` and `b` descend from.
pub fn base(hist: &History, a: &Id, b: &Id) -> Result<Option<Id>> {
    let from_a: HashSet<Id> = history::ancestors(hist, a)?;
    Ok(history::log(hist, b)?
        .into_iter()
        .map(|(i, _)| i)
        .find(|i| from_a.contains(i)))
}

struct Merger<'a> {
    readers: Vec<VersionReader<'a>>,
    keys: &'a EpochKeys,
    index: &'a Index,
    new_trees: HashMap<Id, Vec<Entry>>,
    pack: PackBuilder,
    conflicts: Vec<String>,
}

impl Merger<'_> {
    fn tree(&self, id: &Id) -> Result<Vec<Entry>> {
        if let Some(t) = self.new_trees.get(id) {
            return Ok(t.clone());
        }
        let mut last = Error::Missing {
            kind: "tree",
            id: *id,
        };
        for r in &self.readers {
            match r.tree(id) {
                Ok(t) => return Ok(t),
                Err(e @ Error::Missing { .. }) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn entries(&self, id: Option<Id>) -> Result<BTreeMap<String, Entry>> {
        Ok(match id {
            Some(id) => self
                .tree(&id)?
                .into_iter()
                .map(|e| (e.name().to_string(), e))
                .collect(),
            None => BTreeMap::new(),
        })
    }

    fn dir_id(e: Option<&Entry>) -> Option<Id> {
        e.filter(|e| e.kind() == DIR).map(|e| e.ids()[0])
    }

    /// Merge folder `o` (ours) and `t` (theirs) against `b`, returning the merged tree id.
    fn merge(&mut self, b: Option<Id>, o: Id, t: Id, path: &str) -> Result<Id> {
        if o == t || b == Some(t) {
            return Ok(o);
        }
        if b == Some(o) {
            return Ok(t);
        }
        let (eb, eo, et) = (
            self.entries(b)?,
            self.entries(Some(o))?,
            self.entries(Some(t))?,
        );
        let names: BTreeSet<&String> = eb.keys().chain(eo.keys()).chain(et.keys()).collect();
        let mut out = Vec::new();
        for n in names {
            let (xb, xo, xt) = (eb.get(n), eo.get(n), et.get(n));
            let sub = if path.is_empty() {
                n.clone()
            } else {
                format!("{path}/{n}")
            };
            let chosen = if xo == xt || xb == xt {
                xo.cloned()
            } else if xb == xo {
                xt.cloned()
            } else if let (Some(so), Some(st)) = (Self::dir_id(xo), Self::dir_id(xt)) {
                let id = self.merge(Self::dir_id(xb), so, st, &sub)?;
                Some(Entry::dir(n.clone(), id))
            } else {
                self.conflicts.push(sub);
                xo.or(xt).cloned()
            };
            out.extend(chosen);
        }
        out.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
        self.emit(out)
    }

    fn emit(&mut self, entries: Vec<Entry>) -> Result<Id> {
        let bytes = tree::encode(&entries);
        if bytes.len() > MAX_BLOB_SIZE {
            return Err(Error::Limit(
                "a merged folder is too large for one tree".into(),
            ));
        }
        let id = self.keys.id_key.blob_id(KIND_TREE, &bytes);
        if !self.index.contains(&id) && !self.new_trees.contains_key(&id) {
            self.pack.add(blob::seal(self.keys, KIND_TREE, id, &bytes));
            self.new_trees.insert(id, entries);
        }
        Ok(id)
    }

    /// Every blob id reachable from `root`, with the files' count and bytes.
    fn reachable(&self, root: Id) -> Result<(BTreeSet<Id>, u64, u64)> {
        let mut ids = BTreeSet::from([root]);
        let (mut files, mut bytes) = (0, 0);
        let mut todo = vec![(root, 0usize)];
        while let Some((t, depth)) = todo.pop() {
            if depth > super::read::MAX_DEPTH {
                return Err(Error::Limit("folders nested too deep".into()));
            }
            for e in self.tree(&t)? {
                if e.kind() == FILE {
                    files += 1;
                    bytes += e.size();
                }
                for id in e.ids() {
                    if ids.insert(*id) && e.kind() == DIR {
                        todo.push((*id, depth + 1));
                    }
                }
            }
        }
        Ok((ids, files, bytes))
    }
}

/// Make a version merging `theirs` into `ours` (neither descends from the other).
pub fn merge(
    ds: &Dataset,
    identity: &Identity,
    ours: Id,
    theirs: Id,
    message: &str,
) -> Result<MergeOutcome> {
    let _lock = ds.lock()?;
    let w = writer(ds, identity)?;
    let mut index = w.index(ds)?;
    let base = base(&w.hist, &ours, &theirs)?;
    let mut readers = Vec::new();
    let mut roots = Vec::new();
    let mut parents = Vec::new();
    for id in [Some(ours), Some(theirs), base].into_iter().flatten() {
        let r = VersionReader::open(ds, &w.hist, &w.keyring, &mut index, id)?;
        roots.push(r.seal.root);
        parents.push(r.version.clone());
        readers.push(r);
    }
    let mut m = Merger {
        readers,
        keys: &w.keys,
        index: &index,
        new_trees: HashMap::new(),
        pack: PackBuilder::default(),
        conflicts: Vec::new(),
    };
    let root = m.merge(base.map(|_| roots[2]), roots[0], roots[1], "")?;
    let (reachable, files, bytes) = m.reachable(root)?;
    let conflicts = std::mem::take(&mut m.conflicts);
    let pack = std::mem::take(&mut m.pack);
    drop(m);
    if !pack.is_empty() {
        let (pid, pbytes, header) = pack.finish(&w.keys);
        let size = pbytes.len() as u64;
        ds.store.put_new(&store::pack_path(&pid), pbytes)?;
        index.add_pack(pid, w.keys.epoch, size, header);
    }
    // Content either side holds only in packs the policy in force may not list (an epoch a
    // member lacks, or one a withdrawn member held) is sealed again.
    super::reseal::ensure_usable(ds, &w.keyring, &w.keys, &mut index, &reachable, false)?;
    let seal = Seal {
        root,
        bytes,
        files,
        message: message.to_string(),
    };
    let (vid, _) = w.write_version(
        ds,
        identity,
        &[(ours, &parents[0]), (theirs, &parents[1])],
        &seal,
        index.packs_of(&reachable)?,
    )?;
    index.save(ds)?;
    Ok(MergeOutcome {
        version: vid,
        theirs,
        base,
        conflicts,
    })
}
