//! The stat cache: for each file committed, the metadata it had and its chunk ids, so an
//! unchanged file is not read again (as git's index does).

use super::scan::FileStat;
use super::{load_cache, save_cache, Dataset};
use crate::error::Result;
use crate::id::Id;
use std::collections::BTreeMap;

/// Path -> (metadata, chunk ids).
#[derive(Default)]
pub struct StatCache {
    map: BTreeMap<String, (FileStat, Vec<Id>)>,
    /// Differs from the cache file (saving is skipped otherwise).
    dirty: bool,
    /// Entries taken with their metadata unchanged (see [`StatCache::take`]).
    hits: usize,
}

/// A write after our stat moves mtime to a later timestamp tick, unless it lands in the tick
/// of the mtime we recorded. So a file whose mtime is within one tick of the moment its
/// content was read (the read began after the stat) is "racily clean" and is not cached: a
/// write in that tick, after the read, would leave the same mtime. Ticks: filesystems with
/// sub-second mtimes (Linux's coarse clock, at most 10 ms) get 100 ms; whole-second mtimes
/// (FAT, old ext3) get 2 s.
fn racy_window_ns(st: &FileStat) -> i64 {
    if st.mtime_ns % 1_000_000_000 != 0 {
        100_000_000
    } else {
        2_000_000_000
    }
}

impl StatCache {
    fn path(ds: &Dataset) -> std::path::PathBuf {
        ds.dot.join("cache").join("stat")
    }

    /// Load, or start empty if missing or unreadable.
    pub fn load(ds: &Dataset) -> StatCache {
        let map = load_cache(&Self::path(ds)).unwrap_or_default();
        StatCache {
            map,
            dirty: false,
            hits: 0,
        }
    }

    /// Chunk ids of `rel` if its metadata is unchanged.
    pub fn lookup(&self, rel: &str, st: &FileStat) -> Option<&[Id]> {
        match self.map.get(rel) {
            Some((s, ids)) if s == st => Some(ids),
            _ => None,
        }
    }

    /// Take the chunk ids of `rel` if its metadata is unchanged. The entry leaves the cache
    /// either way: a commit builds the next cache from what it sees, and taking keeps one
    /// copy of each file's ids in memory, not two.
    pub fn take(&mut self, rel: &str, st: &FileStat) -> Option<Vec<Id>> {
        match self.map.remove(rel) {
            Some((s, ids)) if s == *st => {
                self.hits += 1;
                Some(ids)
            }
            _ => {
                self.dirty = true;
                None
            }
        }
    }

    /// Note that an entry taken will not be kept as it was (its chunks were not all stored).
    pub fn untake(&mut self) {
        self.dirty = true;
    }

    /// Replace the whole cache (after [`StatCache::take`] of every file seen) with what a
    /// scan saw: each file's metadata (stat before the read), chunk ids, and when its content
    /// was read (no earlier than the scan), which guards against races (see
    /// [`racy_window_ns`]).
    pub fn replace(&mut self, entries: BTreeMap<String, (FileStat, Vec<Id>, i64)>) {
        let map: BTreeMap<String, (FileStat, Vec<Id>)> = entries
            .into_iter()
            .filter(|(_, (s, _, read_ns))| s.mtime_ns < read_ns - racy_window_ns(s))
            .map(|(rel, (s, ids, _))| (rel, (s, ids)))
            .collect();
        // After the takes, what is left of the old cache are files gone; with none gone, no
        // miss and every hit kept, the new cache is the old one.
        self.dirty |= !self.map.is_empty() || map.len() != self.hits;
        self.map = map;
    }

    /// Save.
    pub fn save(&self, ds: &Dataset) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        save_cache(&Self::path(ds), &self.map)
    }
}

/// Now, in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
