//! The working folder as a diff stream: unchanged files from the stat cache, the rest
//! chunked and hashed (not sealed) on all cores.

use super::commit::chunk_file;
use super::index::Index;
use super::scan::{self, Kind};
use super::statcache::{ids_fit, StatCacheReader};
use super::Dataset;
use crate::crypto::keys::EpochKeys;
use crate::diff::Node;
use crate::error::Result;
use crate::object::tree::{DIR, FILE, SYMLINK};
use rayon::prelude::*;

/// The working folder's paths and nodes in walk order, taken a batch at a time (files
/// hashed on all cores): memory is a batch, whatever the number of files.
pub struct WorkingWalk<'a> {
    ds: &'a Dataset,
    keys: &'a EpochKeys,
    index: &'a Index,
    walk: scan::Walk,
    cache: StatCacheReader,
    ready: std::collections::VecDeque<(String, Node)>,
    done: bool,
}

impl<'a> WorkingWalk<'a> {
    /// Start walking the working folder of `ds`; `leftovers` says what to do with a killed
    /// checkout's temporary files.
    pub fn new(
        ds: &'a Dataset,
        keys: &'a EpochKeys,
        index: &'a Index,
        leftovers: scan::Leftovers,
    ) -> Result<Self> {
        Ok(WorkingWalk {
            ds,
            keys,
            index,
            walk: scan::Walk::new(&ds.root, leftovers)?,
            // The cache is read in walk order, alongside the walk's entries.
            cache: StatCacheReader::open(ds),
            ready: Default::default(),
            done: false,
        })
    }

    fn refill(&mut self) -> Result<()> {
        let entries = self.walk.batch(super::batch_size())?;
        if entries.is_empty() {
            self.done = true;
            return Ok(());
        }
        let cached: Vec<Option<Vec<_>>> = entries
            .iter()
            .map(|e| match &e.kind {
                Kind::File(st) => self
                    .cache
                    .take(&e.rel, st)
                    .filter(|ids| ids_fit(self.index, ids, st.size)),
                _ => None,
            })
            .collect();
        let (root, keys) = (&self.ds.root, self.keys);
        let nodes: Vec<Result<(String, Node)>> = entries
            .into_par_iter()
            .zip(cached)
            .with_max_len(1)
            .map(|(e, cached)| {
                let node = match e.kind {
                    Kind::Dir => Node {
                        kind: DIR,
                        size: 0,
                        exec: false,
                        chunks: vec![],
                        target: vec![],
                    },
                    Kind::Symlink(t) => Node {
                        kind: SYMLINK,
                        size: 0,
                        exec: false,
                        chunks: vec![],
                        target: t,
                    },
                    Kind::File(st) => {
                        let chunks = match cached {
                            Some(ids) => ids,
                            None => chunk_file(&root.join(&e.rel), keys, |_, _| Ok(()))?.0,
                        };
                        Node {
                            kind: FILE,
                            size: st.size,
                            exec: st.exec,
                            chunks,
                            target: vec![],
                        }
                    }
                };
                Ok((e.rel, node))
            })
            .collect();
        for n in nodes {
            self.ready.push_back(n?);
        }
        Ok(())
    }
}

impl Iterator for WorkingWalk<'_> {
    type Item = Result<(String, Node)>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.ready.is_empty() && !self.done {
            if let Err(e) = self.refill() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.ready.pop_front().map(Ok)
    }
}
