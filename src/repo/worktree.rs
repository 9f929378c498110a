//! The working folder seen as a diff side: unchanged files from the stat cache, the rest
//! chunked and hashed (not sealed) on all cores.

use super::commit::chunk_file;
use super::index::Index;
use super::scan::{self, Kind};
use super::statcache::{ids_fit, StatCacheReader};
use super::Dataset;
use crate::crypto::keys::EpochKeys;
use crate::diff::{Node, Side};
use crate::error::Result;
use crate::object::tree::{DIR, FILE, SYMLINK};
use rayon::prelude::*;

/// The working folder's state.
///
/// A cached entry stands for a file only if its ids fit it in `index` ([`ids_fit`]).
pub fn working_side(ds: &Dataset, keys: &EpochKeys, index: &Index) -> Result<Side> {
    let scanned = scan::scan(&ds.root)?;
    // The cache is read in walk order, alongside the scan's entries.
    let mut cache = StatCacheReader::open(ds);
    let cached: Vec<Option<Vec<_>>> = scanned
        .entries
        .iter()
        .map(|e| match &e.kind {
            Kind::File(st) => cache
                .take(&e.rel, st)
                .filter(|ids| ids_fit(index, ids, st.size)),
            _ => None,
        })
        .collect();
    let nodes: Vec<Result<(String, Node)>> = scanned
        .entries
        .par_iter()
        .zip(cached)
        .with_max_len(1)
        .map(|(e, cached)| {
            let node = match &e.kind {
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
                    target: t.clone(),
                },
                Kind::File(st) => {
                    let chunks = match cached {
                        Some(ids) => ids,
                        None => chunk_file(&ds.root.join(&e.rel), keys, |_, _| Ok(()))?.0,
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
            Ok((e.rel.clone(), node))
        })
        .collect();
    nodes.into_iter().collect()
}
