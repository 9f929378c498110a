//! The stat cache: for each file committed, the metadata it had and its chunk ids, so an
//! unchanged file is not read again (as git's index does).
//!
//! Its entries are kept in walk order (pre-order, siblings by name bytes, as [`super::scan`]
//! yields them), so a commit reads the old cache and writes the new one as it walks,
//! holding neither in memory: memory stays flat in the number of files.
//!
//! File layout (`.coffer/cache/stat`, little-endian): the line `coffer stat cache 2\n`, then
//! per file: path length (u32), path (UTF-8, `/`-separated), size (u64), mtime and ctime
//! (i64 nanoseconds), inode (u64), exec bit (u8), chunk count (u32), chunk ids (32 bytes
//! each). A cache is never trusted for integrity: a record that does not parse ends it, and
//! a path out of order is a miss, so the worst a bad cache does is make files be read.

use super::index::Index;
use super::scan::FileStat;
use super::{AtomicFile, Dataset};
use crate::error::{IoContext, Result};
use crate::id::Id;
use std::cmp::Ordering;
use std::io::{BufReader, Read, Write};

const MAGIC: &[u8] = b"coffer stat cache 2\n";
/// Longest path a record may hold (a longer one ends the cache).
const MAX_PATH: u32 = 1 << 16;
/// Most chunk ids a record may hold: a file of 2^40 bytes in 64 KiB chunks.
const MAX_IDS: u32 = 1 << 24;

/// A write after our stat moves mtime to a later timestamp tick, unless it lands in the tick
/// of the mtime we recorded. So a file whose mtime is within one tick of the moment its
/// content was read (the read began after the stat) is "racily clean" and is not cached: a
/// write in that tick, after the read, would leave the same mtime. Ticks: filesystems with
/// sub-second mtimes (Linux's coarse clock, at most 10 ms) get 100 ms; whole-second mtimes
/// (FAT, old ext3) get 2 s.
///
/// The same holds for ctime: a tool that puts an mtime back (`touch -d`, `cp -p`, `tar x`,
/// `rsync -t`) after a same-size write leaves only ctime to tell, so a file whose ctime is
/// within one tick of its read is not cached either.
fn is_racy(st: &FileStat, read_ns: i64) -> bool {
    let window = |t: i64| {
        if t % 1_000_000_000 != 0 {
            100_000_000
        } else {
            2_000_000_000
        }
    };
    st.mtime_ns >= read_ns - window(st.mtime_ns) || st.ctime_ns >= read_ns - window(st.ctime_ns)
}

/// Remove `path` if it is there and not a regular file (a folder or FIFO where a cache file
/// goes would stop every commit); a cache is never worth an error.
fn clear_odd(path: &std::path::Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(m) if !m.is_file() => {
            let _ = std::fs::remove_file(path);
        }
        _ => {}
    }
}

fn path(ds: &Dataset) -> std::path::PathBuf {
    ds.dot.join("cache").join("stat")
}

/// Walk order of two relative paths: component by component, a folder before what it holds.
pub fn walk_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Whether chunk ids from the stat cache can stand for a file of `size` bytes: all found in
/// `index` (a commit's index holds only packs a new version may list), adding up to the
/// size, and no more of them than the chunker makes (every chunk but the last at least its
/// minimum). The one rule for commit, status, diff and checkout's dirty check: the cache is
/// not trusted, and ids that do not fit mean the file is read.
pub fn ids_fit(index: &Index, ids: &[Id], size: u64) -> bool {
    if ids.len() as u64 > size / crate::chunking::MIN_SIZE as u64 + 1 {
        return false;
    }
    let mut sum = 0u64;
    for id in ids {
        match index.locate(id) {
            Some(l) => sum += l.entry.raw_len() as u64,
            None => return false,
        }
    }
    sum == size
}

/// One cached file.
struct Record {
    rel: String,
    stat: FileStat,
    ids: Vec<Id>,
}

/// The old cache, read in walk order alongside a walk of the folder.
pub struct StatCacheReader {
    r: Option<BufReader<std::fs::File>>,
    next: Option<Record>,
    /// Entries passed without a matching file (files gone), or not matching their file.
    unmatched: bool,
}

impl StatCacheReader {
    /// Open the cache; a missing or unreadable one reads as empty.
    pub fn open(ds: &Dataset) -> StatCacheReader {
        use std::os::unix::fs::OpenOptionsExt;
        // Not blocking on a FIFO, not following a link: only a regular file is a cache.
        let mut r = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path(ds))
            .ok()
            .filter(|f| f.metadata().is_ok_and(|m| m.is_file()))
            .map(|f| BufReader::with_capacity(256 * 1024, f));
        let mut magic = [0u8; MAGIC.len()];
        if let Some(f) = &mut r {
            if f.read_exact(&mut magic).is_err() || magic != MAGIC {
                r = None;
            }
        }
        let mut c = StatCacheReader {
            r,
            next: None,
            unmatched: false,
        };
        c.advance();
        c
    }

    fn advance(&mut self) {
        self.next = self.r.as_mut().and_then(|r| read_record(r).ok());
        if self.next.is_none() {
            self.r = None;
        }
    }

    /// The chunk ids cached for `rel` if its metadata is `st`. Calls must come in walk
    /// order: entries before `rel` are passed over as files gone.
    pub fn take(&mut self, rel: &str, st: &FileStat) -> Option<Vec<Id>> {
        loop {
            let next = self.next.as_ref()?;
            match walk_order(&next.rel, rel) {
                Ordering::Less => {
                    self.unmatched = true;
                    self.advance();
                }
                Ordering::Equal => {
                    let rec = self.next.take()?;
                    self.advance();
                    if rec.stat == *st {
                        return Some(rec.ids);
                    }
                    self.unmatched = true;
                    return None;
                }
                Ordering::Greater => return None,
            }
        }
    }

    /// Whether some cached entry was not taken with its metadata unchanged (call after the
    /// last [`StatCacheReader::take`]).
    pub fn any_unmatched(&self) -> bool {
        self.unmatched || self.next.is_some()
    }
}

fn read_record(r: &mut impl Read) -> std::io::Result<Record> {
    fn u32_(r: &mut impl Read) -> std::io::Result<u32> {
        let mut b = [0u8; 4];
        r.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn u64_(r: &mut impl Read) -> std::io::Result<u64> {
        let mut b = [0u8; 8];
        r.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    let bad = || std::io::Error::from(std::io::ErrorKind::InvalidData);
    let n = u32_(r)?;
    if n > MAX_PATH {
        return Err(bad());
    }
    let mut rel = vec![0u8; n as usize];
    r.read_exact(&mut rel)?;
    let rel = String::from_utf8(rel).map_err(|_| bad())?;
    let size = u64_(r)?;
    let mtime_ns = u64_(r)? as i64;
    let ctime_ns = u64_(r)? as i64;
    let ino = u64_(r)?;
    let mut exec = [0u8];
    r.read_exact(&mut exec)?;
    let count = u32_(r)?;
    if count > MAX_IDS || exec[0] > 1 {
        return Err(bad());
    }
    let mut ids = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        let mut id = [0u8; 32];
        r.read_exact(&mut id)?;
        ids.push(Id(id));
    }
    Ok(Record {
        rel,
        stat: FileStat {
            size,
            mtime_ns,
            ctime_ns,
            ino,
            exec: exec[0] == 1,
        },
        ids,
    })
}

/// The new cache, written in walk order as a commit walks.
pub struct StatCacheWriter {
    f: AtomicFile,
    path: std::path::PathBuf,
    /// An entry was left out as racily clean.
    left_out: bool,
}

impl StatCacheWriter {
    /// Start the new cache.
    pub fn create(ds: &Dataset) -> Result<StatCacheWriter> {
        let path = path(ds);
        clear_odd(&path.with_extension("tmp"));
        let mut f = AtomicFile::create(&path)?;
        f.w.write_all(MAGIC).at(&path)?;
        Ok(StatCacheWriter {
            f,
            path,
            left_out: false,
        })
    }

    /// Add a file (in walk order): its metadata (stat before the read), chunk ids, and when
    /// its content was read (no earlier than the walk), which guards against races (see
    /// [`is_racy`]).
    pub fn add(&mut self, rel: &str, st: &FileStat, ids: &[Id], read_ns: i64) -> Result<()> {
        // A record the reader would refuse is left out, not written to end the cache there.
        let too_big = rel.len() > MAX_PATH as usize || ids.len() > MAX_IDS as usize;
        if too_big || is_racy(st, read_ns) {
            self.left_out = true;
            return Ok(());
        }
        let w = &mut self.f.w;
        let mut put = || -> std::io::Result<()> {
            w.write_all(&(rel.len() as u32).to_le_bytes())?;
            w.write_all(rel.as_bytes())?;
            w.write_all(&st.size.to_le_bytes())?;
            w.write_all(&st.mtime_ns.to_le_bytes())?;
            w.write_all(&st.ctime_ns.to_le_bytes())?;
            w.write_all(&st.ino.to_le_bytes())?;
            w.write_all(&[st.exec as u8])?;
            w.write_all(&(ids.len() as u32).to_le_bytes())?;
            for id in ids {
                w.write_all(&id.0)?;
            }
            Ok(())
        };
        put().at(&self.path)
    }

    /// Replace the old cache with this one, unless they hold the same entries: `changed`
    /// says whether any file missed the old cache or the old cache had entries no file
    /// matched.
    pub fn finish(self, changed: bool) -> Result<()> {
        if changed || self.left_out {
            clear_odd(&self.path);
            self.f.finish()
        } else {
            Ok(())
        }
    }
}

/// Now, in nanoseconds since the epoch (moved by the test clock in debug builds).
pub fn now_ns() -> i64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    t.saturating_add(crate::testhook::clock_shift().saturating_mul(1_000_000_000))
}
