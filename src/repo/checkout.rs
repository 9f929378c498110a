//! Checkout: write a version's files into a folder, pack by pack, without ever writing
//! outside it: names are checked, ancestors must be real folders, files are assembled in
//! temporary names and renamed into place, and links (checked to stay inside) come last.

use super::commit::chunk_file;
use super::index::{Index, Slot};
use super::read::VersionReader;
use super::scan::Leftovers;
use super::worktree::WorkingWalk;
use super::{Dataset, Keyring};
use crate::crypto::keys::EpochKeys;
use crate::diff::{self, same, Join, Node, Stream};
use crate::error::{Error, IoContext, Result};
use crate::id::Id;
use crate::object::blob::{self, KIND_CHUNK};
use crate::object::tree::{DIR, FILE, SYMLINK};
use crate::store;
use rayon::prelude::*;
use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest byte range read from a pack at once.
const READ_WINDOW: u64 = 4 * 1024 * 1024;
/// Largest run of unneeded bytes read to join two needed blobs into one request: cheaper
/// than a second request up to about this size on a remote store.
const MAX_GAP: u64 = 1024 * 1024;

/// How to check out.
pub struct CheckoutOptions {
    /// Write here instead of the working folder.
    pub target: Option<PathBuf>,
    /// Overwrite files that differ.
    pub force: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// With `force` in place: still refuse, as out of place, if a file there differs from the
    /// version. A clone checks out this way, so that when it finishes a checkout that was
    /// killed, what that put in place is kept and anything else there is not overwritten.
    pub keep_differing: bool,
}

/// What a checkout did.
#[derive(Debug, Default, serde::Serialize)]
pub struct CheckoutOutcome {
    /// Where it wrote.
    pub target: PathBuf,
    /// Files written.
    pub files_written: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Paths left as they were because they already matched.
    pub unchanged: u64,
    /// Paths removed (in-place checkout of files the version does not have).
    pub removed: u64,
}

/// Whether a link at `link_rel` with `target` stays inside the checkout folder, without
/// passing through another link of the version (`links`).
pub fn link_is_safe(link_rel: &str, target: &[u8], links: &HashSet<&str>) -> bool {
    let Ok(t) = std::str::from_utf8(target) else {
        return false;
    };
    if t.is_empty() || t.starts_with('/') || t.contains('\0') || t.contains('\\') {
        return false;
    }
    let mut cur: Vec<&str> = link_rel.split('/').collect();
    cur.pop();
    let comps: Vec<&str> = t.split('/').collect();
    for (i, c) in comps.iter().enumerate() {
        match *c {
            "" | "." => {}
            ".." => {
                if cur.pop().is_none() {
                    return false;
                }
            }
            name => {
                cur.push(name);
                if i + 1 < comps.len() && links.contains(cur.join("/").as_str()) {
                    return false;
                }
            }
        }
    }
    true
}

/// Hash an existing file in the target to compare it with the version's node.
fn disk_node(path: &Path, keys: &EpochKeys) -> Result<Option<Node>> {
    let Ok(m) = std::fs::symlink_metadata(path) else {
        return Ok(None);
    };
    let ft = m.file_type();
    Ok(Some(if ft.is_dir() {
        Node {
            kind: DIR,
            size: 0,
            exec: false,
            chunks: vec![],
            target: vec![],
        }
    } else if ft.is_symlink() {
        let t = std::fs::read_link(path).at(path)?;
        Node {
            kind: SYMLINK,
            size: 0,
            exec: false,
            chunks: vec![],
            target: t.into_os_string().into_encoded_bytes(),
        }
    } else if ft.is_file() {
        let (chunks, size) = chunk_file(path, keys, |_, _| Ok(()))?;
        Node {
            kind: FILE,
            size,
            exec: m.permissions().mode() & 0o111 != 0,
            chunks,
            target: vec![],
        }
    } else {
        Node {
            kind: u8::MAX,
            size: 0,
            exec: false,
            chunks: vec![],
            target: vec![],
        }
    }))
}

/// Clear `path` so something else can be put there. A folder is removed only if empty (its
/// tracked contents are gone by now), so files no version holds are never deleted without
/// `force`.
fn clear_path(path: &Path, force: bool) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            if force {
                std::fs::remove_dir_all(path).at(path)
            } else {
                std::fs::remove_dir(path).map_err(|_| Error::WouldOverwrite {
                    count: 1,
                    first: holding(path.display()),
                })
            }
        }
        Ok(_) => std::fs::remove_file(path).at(path),
        Err(_) => Ok(()),
    }
}

/// How a refusal names a folder that cannot be replaced without `--force`.
fn holding(path: impl std::fmt::Display) -> String {
    format!("{path} (a folder holding files that no version has)")
}

/// Writes a version's folders and files into a folder: shared by the checkout of a whole
/// version and the streamed one.
struct Paths<'a> {
    ds: &'a Dataset,
    reader: &'a VersionReader<'a>,
    keys: &'a Keyring,
    root: &'a Path,
    force: bool,
    pb: indicatif::ProgressBar,
    /// Files given temporary names so far (names stay unique across calls).
    named: usize,
    staged: Staged,
    /// Threads that read, open and write the pieces: several per core, since each waits on
    /// the device for its direct reads and writes ([`writers`]).
    pool: rayon::ThreadPool,
}

/// The pool that writes a checkout's files: four threads per core (at most 16), which kept
/// both cores of the benchmark machine busy while the others waited on direct I/O (one
/// thread per core left a core idle a third of the time; README, "Checkout").
fn writers() -> Result<rayon::ThreadPool> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    rayon::ThreadPoolBuilder::new()
        .num_threads((4 * cores).min(16))
        .thread_name(|i| format!("coffer-checkout-{i}"))
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the checkout's threads: {e}")))
}

/// What a checkout has staged, in walk order: folders made where nothing was, folders to
/// make in place of a file or link, files written under temporary names. Spilled to an
/// unnamed file in `.coffer/`, so memory stays flat in files. Nothing the folder held changes
/// while staging; [`Paths::place`] then makes the rest and renames, and [`Paths::abandon`]
/// takes it all back, so a checkout that fails before placing (a damaged pack, an
/// interrupt, a full disk) leaves the folder as it was, however many files it has.
struct Staged {
    list: std::io::BufWriter<std::fs::File>,
    /// `.coffer/`, where the list is (for errors).
    dot: PathBuf,
    /// The outermost folder to make when placing that the walk is in: what lies below it
    /// waits too, and its files are staged aside.
    aside_top: Option<String>,
    /// Whether the folder for files staged aside (`.coffer-checkout.PID/` at the root) was
    /// made.
    aside_made: bool,
}

/// Where the `n`-th file staged, at `rel` below `root`, waits.
fn staged_file(root: &Path, kind: u8, n: usize, rel: &str) -> PathBuf {
    if kind == FILE_ASIDE {
        aside_dir(root).join(n.to_string())
    } else {
        let pid = std::process::id();
        root.join(rel)
            .with_file_name(format!(".coffer-checkout.{pid}.{n}"))
    }
}

/// Where files wait whose folder is made only when placing.
fn aside_dir(root: &Path) -> PathBuf {
    root.join(format!(".coffer-checkout.{}", std::process::id()))
}

thread_local! {
    /// Each thread's aligned buffer for direct writes ([`store::direct::Pieces::write`]).
    static BOUNCE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A folder made while staging (removed again if the checkout fails).
const MADE_DIR: u8 = 0;
/// A folder to make when placing: a file or link is in its way, or it lies below one.
const NEW_DIR: u8 = 1;
/// A file staged as `.coffer-checkout.PID.N` in its own folder.
const FILE_NEAR: u8 = 2;
/// A file staged as `.coffer-checkout.PID/N` at the root: its folder is not made yet.
const FILE_ASIDE: u8 = 3;

impl Staged {
    fn new(ds: &Dataset) -> Result<Self> {
        let f = tempfile::tempfile_in(&ds.dot).at(&ds.dot)?;
        Ok(Staged {
            list: std::io::BufWriter::new(f),
            dot: ds.dot.clone(),
            aside_top: None,
            aside_made: false,
        })
    }

    fn record(&mut self, kind: u8, n: usize, path: &str) -> Result<()> {
        let w = &mut self.list;
        w.write_all(&[kind])
            .and_then(|()| w.write_all(&(n as u64).to_le_bytes()))
            .and_then(|()| w.write_all(&(path.len() as u32).to_le_bytes()))
            .and_then(|()| w.write_all(path.as_bytes()))
            .at(&self.dot)
    }

    /// The list so far, from its start, read in batches of [`super::batch_size`] records.
    fn each(&mut self, mut batch: impl FnMut(&[(u8, usize, String)]) -> Result<()>) -> Result<()> {
        use std::io::{Read, Seek};
        let dot = &self.dot;
        self.list.flush().at(dot)?;
        let mut f = self.list.get_ref().try_clone().at(dot)?;
        f.seek(std::io::SeekFrom::Start(0)).at(dot)?;
        let mut r = std::io::BufReader::new(f);
        let mut records = Vec::new();
        loop {
            let mut head = [0u8; 13];
            let more = match r.read_exact(&mut head) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => false,
                Err(e) => return Err(e).at(dot),
            };
            if more {
                let n = u64::from_le_bytes(head[1..9].try_into().unwrap_or_default()) as usize;
                let len = u32::from_le_bytes(head[9..13].try_into().unwrap_or_default());
                let mut path = vec![0u8; len as usize];
                r.read_exact(&mut path).at(dot)?;
                // Written from `&str` above.
                let path = String::from_utf8_lossy(&path).into_owned();
                records.push((head[0], n, path));
            }
            if !records.is_empty() && (!more || records.len() >= super::batch_size()) {
                batch(&records)?;
                records.clear();
            }
            if !more {
                return Ok(());
            }
        }
    }
}

impl Paths<'_> {
    /// Stage the folders and files of `to_write` (in pre-order; links are left to
    /// [`Paths::links`]): nothing already in the folder is changed. Returns the files and
    /// bytes staged.
    fn stage(&mut self, to_write: &[(&str, &Node)]) -> Result<(u64, u64)> {
        // Folders, in pre-order: made now where nothing is; where a file or link is in the
        // way, made when placing, and so is everything below it (its files wait aside).
        let mut aside: Vec<bool> = Vec::with_capacity(to_write.len());
        let mut real = RealFolders::new(self.root);
        for (p, n) in to_write {
            let st = &mut self.staged;
            if st.aside_top.as_ref().is_some_and(|t| !is_below(p, t)) {
                st.aside_top = None;
            }
            let below = st.aside_top.is_some();
            aside.push(below);
            if n.kind != DIR {
                continue;
            }
            if below {
                st.record(NEW_DIR, 0, p)?;
                continue;
            }
            let path = self.root.join(p);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    st.record(NEW_DIR, 0, p)?;
                    st.aside_top = Some(p.to_string());
                }
                Err(_) => {
                    // Never made through a link.
                    real.check(p)?;
                    std::fs::create_dir(&path).at(&path)?;
                    st.record(MADE_DIR, 0, p)?;
                }
            }
        }
        // Every folder on the way to a path staged in place must be a real folder.
        for ((p, _), below) in to_write.iter().zip(&aside) {
            if !below {
                real.check(p)?;
            }
        }

        // Files: temporary names, filled pack by pack.
        let (files, aside): (Vec<(&str, &Node)>, Vec<bool>) = to_write
            .iter()
            .zip(aside)
            .filter(|((_, n), _)| n.kind == FILE)
            .map(|((p, n), a)| ((*p, *n), a))
            .unzip();
        if aside.contains(&true) && !self.staged.aside_made {
            let dir = aside_dir(self.root);
            std::fs::create_dir(&dir).at(&dir)?;
            self.staged.aside_made = true;
        }
        let kind_of = |fi: usize| if aside[fi] { FILE_ASIDE } else { FILE_NEAR };
        let (root, named) = (self.root, self.named);
        let tmp_of = |fi: usize| staged_file(root, kind_of(fi), named + fi, files[fi].0);
        // Which temporary files this call made: only those are removed on failure (a file
        // already there under such a name is someone else's).
        let created: Vec<AtomicBool> = files.iter().map(|_| AtomicBool::new(false)).collect();
        let pieces_io = store::direct::Pieces::default();
        // Open file `fi` to write its pieces, creating it first if `create`. Modes are 0644
        // or 0755 filtered by the umask, as git and tar do.
        let open = |fi: usize, create: bool| {
            let tmp = tmp_of(fi);
            let n = files[fi].1;
            let mode = if n.exec { 0o755 } else { 0o644 };
            let f = pieces_io.open(&tmp, create, mode, n.size).at(&tmp)?;
            if create {
                created[fi].store(true, Ordering::Relaxed);
            }
            Ok::<_, Error>((f, tmp))
        };
        let cleanup = || {
            for (fi, made) in created.iter().enumerate() {
                if made.load(Ordering::Relaxed) {
                    let _ = std::fs::remove_file(tmp_of(fi));
                }
            }
        };
        // Every chunk to write: its place in the packs, the file and the offset it goes to;
        // sorted by place, so each pack is read in order and each chunk opened once.
        let mut pieces: Vec<(Slot, u32, u64)> = Vec::new();
        // A one-chunk file (most small files) is created by its one write, saving an open;
        // the others now, at their size, on all cores.
        let made = self.pool.install(|| {
            (0..files.len())
                .into_par_iter()
                .filter(|fi| files[*fi].1.chunks.len() != 1)
                .try_for_each(|fi| {
                    let (f, tmp) = open(fi, true)?;
                    f.set_len(files[fi].1.size).at(&tmp)
                })
        });
        if let Err(e) = made {
            cleanup();
            return Err(e);
        }
        for (fi, (p, n)) in files.iter().enumerate() {
            let placed = file_pieces(self.reader, p, n, &mut |slot, off| {
                pieces.push((slot, fi as u32, off))
            });
            if let Err(e) = placed {
                cleanup();
                return Err(e);
            }
        }
        // By pack, then offset: a pack's header may list its blobs in any order.
        pieces.sort_unstable_by_key(|&(slot, fi, off)| {
            (
                slot.0,
                self.reader.locs.at(slot).entry.offset(),
                slot.1,
                fi,
                off,
            )
        });
        let total: u64 = files.iter().map(|(_, n)| n.size).sum();
        // Read packs in windows of at most READ_WINDOW bytes: bounded buffers (whole 16 MiB
        // spans, allocated on the store's I/O threads, doubled peak memory), and a good request
        // size for remote stores. A window is a run of `pieces`.
        let mut windows: Vec<std::ops::Range<usize>> = Vec::new();
        let (mut first, mut start, mut end) = (0usize, 0u64, 0u64);
        // The previous piece's pack number and offset.
        let mut prev: Option<(u32, u64)> = None;
        for (i, (slot, _, _)) in pieces.iter().enumerate() {
            let e = self.reader.locs.at(*slot).entry;
            let e_end = e.offset() + e.length() as u64;
            // Members of one bundle share its range: never split them (each window would
            // open the whole bundle again).
            let same_unit = prev == Some((slot.0, e.offset()));
            prev = Some((slot.0, e.offset()));
            if i > first
                && !same_unit
                && (pieces[first].0 .0 != slot.0
                    || e_end.saturating_sub(start) > READ_WINDOW
                    || e.offset().saturating_sub(end) > MAX_GAP)
            {
                windows.push(first..i);
                first = i;
            }
            if i == first {
                (start, end) = (e.offset(), e_end);
            } else {
                end = end.max(e_end);
            }
        }
        if first < pieces.len() {
            windows.push(first..pieces.len());
        }
        let r: Result<()> = self.pool.install(|| {
            windows.par_iter().with_max_len(1).try_for_each(|w| {
                crate::interrupt::check()?;
                let run = &pieces[w.clone()];
                let head = self.reader.locs.at(run[0].0);
                let start = head.entry.offset();
                let end = run
                    .iter()
                    .map(|(s, _, _)| {
                        let e = self.reader.locs.at(*s).entry;
                        e.offset() + e.length() as u64
                    })
                    .max()
                    .unwrap_or(start);
                let bytes = self
                    .ds
                    .store
                    .get_range(&store::pack_path(&head.pack), start..end)?;
                let k = self.keys.get(head.epoch).ok_or(Error::Missing {
                    kind: "epoch key",
                    id: head.pack,
                })?;
                // The unit last opened (a bundle serves all its members): pack number and unit.
                let mut plain: Option<(u32, blob::Unit)> = None;
                for (slot, fi, off) in run {
                    let held = |(p, u): &(u32, blob::Unit)| {
                        *p == slot.0 && u.entries.contains(&(slot.1 as usize))
                    };
                    if !plain.as_ref().is_some_and(held) {
                        let l = self.reader.locs.at(*slot);
                        l.expect_kind(KIND_CHUNK)?;
                        let s = (l.entry.offset() - start) as usize;
                        let sealed = &bytes[s..s + l.entry.length() as usize];
                        let unit = blob::open_unit(&k, &l.header.blobs, l.at, sealed)?;
                        plain = Some((slot.0, unit));
                    }
                    let Some(data) = plain.as_ref().and_then(|(_, u)| u.blob(slot.1 as usize))
                    else {
                        return Err(Error::Corrupt {
                            kind: "pack",
                            id: head.pack,
                            reason: format!("entry {} is outside the unit opened for it", slot.1),
                        });
                    };
                    let (_, n) = files[*fi as usize];
                    let (mut f, tmp) = open(*fi as usize, n.chunks.len() == 1)?;
                    BOUNCE
                        .with(|b| pieces_io.write(&mut f, data, *off, &mut b.borrow_mut()))
                        .at(&tmp)?;
                    self.pb.inc(data.len() as u64);
                }
                Ok(())
            })
        });
        drop(pieces);
        if let Err(e) = r {
            cleanup();
            return Err(e);
        }
        for (fi, (p, _)) in files.iter().enumerate() {
            if let Err(e) = self.staged.record(kind_of(fi), self.named + fi, p) {
                cleanup();
                return Err(e);
            }
        }
        let written = (files.len() as u64, total);
        self.named += files.len();
        Ok(written)
    }

    /// Put everything staged in place: folders in the way of a folder are replaced, files
    /// renamed (on all cores; a folder in their way is cleared first). A failure here
    /// leaves the folder part-way; the caller says so.
    fn place(&mut self) -> Result<()> {
        let (root, force) = (self.root, self.force);
        self.staged.each(|records| {
            // Folders first: files of this batch may go into them.
            for (_, _, p) in records.iter().filter(|(k, _, _)| *k == NEW_DIR) {
                let path = root.join(p);
                clear_path(&path, force)?;
                std::fs::create_dir(&path).at(&path)?;
            }
            records
                .par_iter()
                .with_min_len(64)
                .filter(|(k, _, _)| *k == FILE_NEAR || *k == FILE_ASIDE)
                .try_for_each(|(k, n, p)| {
                    let (from, path) = (staged_file(root, *k, *n, p), root.join(p));
                    // A rename replaces a file or link; only a folder in the way needs
                    // clearing (found when the rename fails, saving a stat for every file).
                    match std::fs::rename(&from, &path) {
                        Err(_) if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) => {
                            clear_path(&path, force)?;
                            std::fs::rename(&from, &path).at(&path)
                        }
                        r => r.at(&path),
                    }
                })
        })?;
        if self.staged.aside_made {
            let dir = aside_dir(root);
            std::fs::remove_dir(&dir).at(&dir)?;
        }
        Ok(())
    }

    /// Take back everything staged: the temporary files, then the folders made, deepest
    /// first. Best effort: it runs on the way out of an error. After a failure while
    /// placing, what is not placed yet is removed the same way (placed files are no longer
    /// at their temporary names, and folders stay: they may hold placed files).
    fn abandon(&mut self, placing: bool) {
        let mut made: Vec<String> = Vec::new();
        let root = self.root;
        let _ = self.staged.each(|records| {
            for (k, n, p) in records {
                match *k {
                    MADE_DIR if !placing => made.push(p.clone()),
                    FILE_NEAR | FILE_ASIDE => {
                        let _ = std::fs::remove_file(staged_file(root, *k, *n, p));
                    }
                    _ => {}
                }
            }
            Ok(())
        });
        if self.staged.aside_made {
            let _ = std::fs::remove_dir(aside_dir(root));
        }
        for d in made.iter().rev() {
            let _ = std::fs::remove_dir(self.root.join(d));
        }
    }

    /// Make the links (last: nothing is written through them), each already checked.
    fn links<'b>(&self, links: impl Iterator<Item = (&'b str, &'b [u8])>) -> Result<()> {
        for (p, target) in links {
            let path = self.root.join(p);
            clear_path(&path, self.force)?;
            let target = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(target);
            std::os::unix::fs::symlink(target, &path).at(&path)?;
        }
        Ok(())
    }
}

/// The places of a file's chunks, each given to `piece` with its offset in the file; an
/// error if one is not in the version's packs or they do not add up to the file's size.
fn file_pieces(
    reader: &VersionReader,
    path: &str,
    n: &Node,
    piece: &mut dyn FnMut(Slot, u64),
) -> Result<()> {
    let mut off = 0u64;
    for c in &n.chunks {
        let slot = reader.locs.find(c).ok_or(Error::Missing {
            kind: "chunk",
            id: *c,
        })?;
        piece(slot, off);
        off += reader.locs.at(slot).entry.raw_len() as u64;
    }
    if off != n.size {
        return Err(Error::Corrupt {
            kind: "tree",
            id: reader.seal.root,
            reason: format!(
                "{path}: chunks add up to {off} bytes, the entry says {}",
                n.size
            ),
        });
    }
    Ok(())
}

/// Refuse a version with a link that leaves the checkout folder (`links`: every link of
/// the version).
pub(crate) fn check_links<'b>(
    links: impl Iterator<Item = (&'b str, &'b [u8])> + Clone,
) -> Result<()> {
    let paths: HashSet<&str> = links.clone().map(|(p, _)| p).collect();
    for (p, target) in links {
        if !link_is_safe(p, target, &paths) {
            return Err(Error::UnsafePath(format!(
                "{p} is a link to {:?}, which points outside the checkout folder",
                String::from_utf8_lossy(target)
            )));
        }
    }
    Ok(())
}

/// Check a whole version before anything is written: its trees decode with safe names, its
/// links stay inside the checkout folder, its files' chunks are in its packs and add up.
/// Returns the links.
fn check_version(reader: &VersionReader) -> Result<Vec<(String, Vec<u8>)>> {
    let mut links: Vec<(String, Vec<u8>)> = Vec::new();
    reader.each_path(&mut |p, e| {
        let n = Node::from(e);
        match n.kind {
            SYMLINK => links.push((p, n.target)),
            FILE => file_pieces(reader, &p, &n, &mut |_, _| {})?,
            _ => {}
        }
        Ok(())
    })?;
    check_links(links.iter().map(|(p, t)| (p.as_str(), t.as_slice())))?;
    Ok(links)
}

/// Check out into an empty folder: nothing there to compare or protect, so the version
/// (checked already) is walked again instead of held, and written in batches of
/// [`super::batch_size`] paths. Memory is a batch and the open folders, whatever the number of files.
/// `scope` is the folder a partial clone holds (paths outside it are skipped).
fn checkout_fresh(
    paths: &mut Paths,
    outcome: &mut CheckoutOutcome,
    links: &[(String, Vec<u8>)],
    scope: &str,
) -> Result<()> {
    let reader = paths.reader;
    let mut batch: Vec<(String, Node)> = Vec::new();
    let mut flush = |batch: &mut Vec<(String, Node)>| -> Result<()> {
        let refs: Vec<(&str, &Node)> = batch.iter().map(|(p, n)| (p.as_str(), n)).collect();
        let (files, bytes) = paths.stage(&refs)?;
        outcome.files_written += files;
        outcome.bytes_written += bytes;
        batch.clear();
        Ok(())
    };
    // Links ride along for the check of their folders; they are made last.
    let mut stage = || {
        reader.each_path(&mut |p, e| {
            if !super::in_scope(&p, scope) {
                return Ok(());
            }
            batch.push((p, Node::from(e)));
            if batch.len() >= super::batch_size() {
                flush(&mut batch)?;
            }
            Ok(())
        })?;
        flush(&mut batch)
    };
    if let Err(e) = stage() {
        paths.abandon(false);
        return Err(e);
    }
    crate::testhook::pause("staged");
    paths
        .place()
        .and_then(|()| {
            paths.links(
                links
                    .iter()
                    .filter(|(p, _)| super::in_scope(p, scope))
                    .map(|(p, t)| (p.as_str(), t.as_slice())),
            )
        })
        .map_err(|e| {
            paths.abandon(true);
            part_way(paths.root, e)
        })
}

/// A failure after staged files began to be put in place.
fn part_way(dir: &Path, e: Error) -> Error {
    Error::PartWay {
        dir: dir.to_path_buf(),
        source: Box::new(e),
    }
}

/// Check out version `vid`.
pub fn checkout(
    ds: &Dataset,
    hist: &crate::rules::History,
    keys: &Keyring,
    vid: Id,
    opts: &CheckoutOptions,
) -> Result<CheckoutOutcome> {
    let mut index = Index::load(ds, keys)?;
    let reader = VersionReader::open(ds, hist, keys, &mut index, vid)?;
    let links = check_version(&reader)?;
    let hash_keys = keys
        .current()
        .cloned()
        .or_else(|| keys.get(reader.version.epoch))
        .ok_or(Error::NoVersions)?;

    let in_place = match &opts.target {
        None => true,
        Some(t) => std::fs::canonicalize(t).ok().as_deref() == Some(ds.root.as_path()),
    };
    let root = if in_place {
        ds.root.clone()
    } else {
        let t = opts.target.clone().unwrap_or_default();
        // Checked before any folder is made: a refused --to leaves nothing behind.
        if resolved(&t)?.starts_with(ds.root.join(super::DOT)) {
            return Err(Error::Usage("refusing to check out inside .coffer/".into()));
        }
        std::fs::create_dir_all(&t).at(&t)?;
        std::fs::canonicalize(&t).at(&t)?
    };
    // A checkout into a folder inside the dataset's takes the lock too: a commit's walk
    // passes over its staged files and, holding the lock, removes them as left behind.
    let inside = std::fs::canonicalize(&ds.root).is_ok_and(|r| root.starts_with(r));
    let _lock = if in_place || inside {
        Some(ds.lock()?)
    } else {
        None
    };
    let mut outcome = CheckoutOutcome {
        target: root.clone(),
        ..Default::default()
    };
    let mut paths = Paths {
        ds,
        reader: &reader,
        keys,
        root: &root,
        force: opts.force,
        pb: super::progress_bar(opts.progress, reader.seal.bytes),
        named: 0,
        staged: Staged::new(ds)?,
        pool: writers()?,
    };
    // In place, a partial clone holds only its folder.
    let scope = if in_place { ds.partial() } else { None };
    let scope = scope.as_deref().unwrap_or("");
    // Nothing there to compare or protect: an empty target, or in place a folder holding
    // only `.coffer/` (a clone, or every file deleted and the deletion discarded).
    let empty = if in_place {
        ds.holds_nothing()? && (opts.force || ds.head()?.is_none())
    } else {
        std::fs::read_dir(&root).at(&root)?.next().is_none()
    };
    if empty {
        drop(index);
        if in_place {
            // All the folder may hold is what a killed checkout left.
            super::scan::remove_leftovers(&root)?;
        }
        checkout_fresh(&mut paths, &mut outcome, &links, scope)?;
        paths.pb.finish_and_clear();
        if in_place {
            ds.clone_finished()?;
        }
        return Ok(outcome);
    }

    // In place, the head: what may be replaced or removed without --force.
    let head = match ds.head()? {
        // A head the rules now refuse holds nothing to protect once forced.
        Some(h) if in_place && (!opts.force || hist.is_history(&h)) => {
            Some(VersionReader::open(ds, hist, keys, &mut index, h)?)
        }
        _ => None,
    };
    let head_paths = || -> Result<Stream> {
        match &head {
            Some(h) => h.stream(scope),
            None => Ok(Box::new(std::iter::empty())),
        }
    };

    // The folder, the version and the head are compared as streams in walk order, never
    // held: first a check that changes nothing, then removals, then writes.
    if !opts.force || opts.keep_differing {
        let mut refusal = Refusal::default();
        if in_place && !opts.force {
            // Changes since the head refuse the checkout; so does a file the version has
            // where the walk saw nothing (an ignored file).
            let working: Stream =
                Box::new(WorkingWalk::new(ds, &hash_keys, &index, Leftovers::Remove)?);
            // A folder the version replaces with a file or link: what is on disk below it
            // against what the walk saw there. More on disk is content the walk skips (an
            // ignored file), which only --force may remove; refuse now, not midway.
            let mut replaced: Option<(String, usize)> = None;
            let mut real = RealFolders::new(&root);
            for item in Join::new([reader.stream(scope)?, head_paths()?, working]) {
                let (p, [want, head, now]) = item?;
                match replaced.take() {
                    Some((d, left)) if is_below(&p, &d) => {
                        replaced = Some((d, left.saturating_sub(usize::from(now.is_some()))));
                    }
                    Some((d, left)) if left > 0 => refusal.conflict(holding(d)),
                    _ => {}
                }
                if replaces_folder(want.as_ref(), now.as_ref()) {
                    let below = walkdir::WalkDir::new(root.join(&p)).min_depth(1);
                    replaced = Some((p.clone(), below.into_iter().count()));
                }
                if let Some(c) = diff::change(&p, head.as_ref(), now.as_ref()) {
                    refusal.dirty += 1;
                    refusal
                        .first_dirty
                        .get_or_insert_with(|| format!("{} {}", c.change, c.path));
                }
                if let (Some(w), None) = (&want, &now) {
                    // Anything but a folder where the version has a folder is replaced too.
                    // Below a link nothing is there: the link is the head's, and replaced.
                    let there = std::fs::symlink_metadata(root.join(&p));
                    if real.check(&p).is_ok() && there.is_ok_and(|m| w.kind != DIR || !m.is_dir()) {
                        refusal.conflict(p);
                    }
                }
            }
            if let Some((d, _)) = replaced.filter(|(_, left)| *left > 0) {
                refusal.conflict(holding(d));
            }
        } else {
            // Out of place, anything there that differs from the version.
            let mut batch: Vec<(String, Node)> = Vec::new();
            let mut check = |batch: &mut Vec<(String, Node)>| -> Result<()> {
                let found = disk_nodes(&root, &batch_paths(batch), &hash_keys)?;
                for ((p, w), now) in batch.drain(..).zip(found) {
                    if now.is_some_and(|n| !same(&n, &w)) {
                        refusal.conflict(p);
                    }
                }
                Ok(())
            };
            for item in reader.stream(scope)? {
                batch.push(item?);
                if batch.len() >= super::batch_size() {
                    check(&mut batch)?;
                }
            }
            check(&mut batch)?;
        }
        refusal.check().map_err(|e| match e {
            Error::Dirty(m) if ds.clone_pending() => {
                Error::Dirty(format!("{m}; {}", super::CLONE_PENDING_HINT))
            }
            e => e,
        })?;
    }

    // In place: remove what the head has and the version does not, a folder after what it
    // holds (and only if that leaves it empty). Only what lies in a folder the version turns
    // into a file or link goes before the writes; the rest after them, so an error while
    // writing (a damaged pack) leaves those files in place.
    let remove = |outcome: &mut CheckoutOutcome, in_replaced: bool| -> Result<()> {
        if head.is_none() {
            return Ok(());
        }
        let mut folders: Vec<String> = Vec::new();
        // The folder the version turns into a file or link that the walk is in.
        let mut replaced: Option<String> = None;
        // Nothing is removed through a link or from a folder that is gone: what is there is
        // outside the folder, or nothing.
        let mut real = RealFolders::new(&root);
        let rmdir = |d: String| {
            let _ = std::fs::remove_dir(root.join(d));
        };
        for item in Join::new([reader.stream(scope)?, head_paths()?]) {
            let (p, [want, head]) = item?;
            while folders.last().is_some_and(|d| !is_below(&p, d)) {
                folders.pop().map(rmdir);
            }
            if replaced.as_ref().is_some_and(|r| !is_below(&p, r)) {
                replaced = None;
            }
            let below = replaced.is_some();
            if replaces_folder(want.as_ref(), head.as_ref()) {
                replaced = Some(p.clone());
            }
            if head.is_some() && want.is_none() && below == in_replaced && real.check(&p).is_ok() {
                let path = root.join(&p);
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.is_dir() => folders.push(p),
                    Ok(_) => std::fs::remove_file(&path).at(&path)?,
                    Err(_) => {}
                }
                outcome.removed += 1;
            }
        }
        folders.into_iter().rev().for_each(rmdir);
        Ok(())
    };
    // Stage what differs from what is there now: nothing changes yet, and a failure takes
    // it all back.
    let mut writes = Writes {
        paths: &mut paths,
        outcome: &mut outcome,
        batch: Vec::new(),
        links: Vec::new(),
    };
    let stage = || -> Result<()> {
        if in_place && opts.force {
            // The folder as it is now.
            let working: Stream =
                Box::new(WorkingWalk::new(ds, &hash_keys, &index, Leftovers::Remove)?);
            for item in Join::new([reader.stream(scope)?, working]) {
                let (p, [want, now]) = item?;
                writes.take(p, want, now.as_ref())?;
            }
        } else if in_place {
            // Checked above: the folder is the head.
            drop(index);
            for item in Join::new([reader.stream(scope)?, head_paths()?]) {
                let (p, [want, head]) = item?;
                writes.take(p, want, head.as_ref())?;
            }
        } else {
            drop(index);
            let mut batch: Vec<(String, Node)> = Vec::new();
            let step = |batch: &mut Vec<(String, Node)>, writes: &mut Writes| -> Result<()> {
                // Checked above without --force: whatever is there is the version's.
                let now = if opts.force {
                    disk_nodes(&root, &batch_paths(batch), &hash_keys)?
                } else {
                    batch
                        .iter()
                        .map(|(p, w)| {
                            std::fs::symlink_metadata(root.join(p))
                                .is_ok()
                                .then(|| w.clone())
                        })
                        .collect()
                };
                for ((p, w), now) in batch.drain(..).zip(now) {
                    writes.take(p, Some(w), now.as_ref())?;
                }
                Ok(())
            };
            for item in reader.stream(scope)? {
                batch.push(item?);
                if batch.len() >= super::batch_size() {
                    step(&mut batch, &mut writes)?;
                }
            }
            step(&mut batch, &mut writes)?;
        }
        writes.flush()
    };
    let staged = stage();
    let links = std::mem::take(&mut writes.links);
    if let Err(e) = staged {
        paths.abandon(false);
        return Err(e);
    }
    // Everything is staged and checked: now the folder changes.
    crate::testhook::pause("staged");
    let placed = remove(&mut outcome, true)
        .and_then(|()| paths.place())
        .and_then(|()| paths.links(links.iter().map(|(p, t)| (p.as_str(), t.as_slice()))))
        .and_then(|()| remove(&mut outcome, false));
    placed.map_err(|e| {
        paths.abandon(true);
        part_way(&root, e)
    })?;
    paths.pb.finish_and_clear();
    if in_place {
        ds.clone_finished()?;
    }
    Ok(outcome)
}

/// Where `path` is or would be once made: its longest existing ancestor with links
/// resolved, then the rest taken lexically (`create_dir_all` makes real folders, so `..` in
/// the rest goes back to the folder above, as it would).
fn resolved(path: &Path) -> Result<PathBuf> {
    let path = std::path::absolute(path).at(path)?;
    let mut base = path.as_path();
    let mut rest = Vec::new();
    while std::fs::symlink_metadata(base).is_err() {
        match (base.parent(), base.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                base = parent;
            }
            _ => break,
        }
    }
    let mut out = std::fs::canonicalize(base).at(base)?;
    for c in rest.into_iter().rev() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    Ok(out)
}

/// The rule that nothing is written or removed through a link: every folder on the way to
/// a path must be a real folder. Remembers the folders found real (a bounded number).
struct RealFolders<'a> {
    root: &'a Path,
    known: HashSet<PathBuf>,
}

impl<'a> RealFolders<'a> {
    fn new(root: &'a Path) -> Self {
        RealFolders {
            root,
            known: HashSet::new(),
        }
    }

    /// Check the folders above `rel` (a path below the root).
    fn check(&mut self, rel: &str) -> Result<()> {
        if self.known.len() > 4096 {
            self.known.clear();
        }
        let mut anc = self.root.to_path_buf();
        let Some((parent, _)) = rel.rsplit_once('/') else {
            return Ok(());
        };
        for part in parent.split('/') {
            anc.push(part);
            if self.known.contains(&anc) {
                continue;
            }
            let m = std::fs::symlink_metadata(&anc).at(&anc)?;
            if !m.is_dir() {
                return Err(Error::UnsafePath(format!(
                    "{} is not a real folder",
                    anc.display()
                )));
            }
            self.known.insert(anc.clone());
        }
        Ok(())
    }
}

/// Whether the version (`want`) puts a file or link where a folder is (`there`): what the
/// folder holds must go first, and only --force may remove what no version has.
fn replaces_folder(want: Option<&Node>, there: Option<&Node>) -> bool {
    there.is_some_and(|t| t.kind == DIR) && want.is_some_and(|w| w.kind != DIR)
}

/// Whether `path` is inside folder `dir`.
fn is_below(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

fn batch_paths(batch: &[(String, Node)]) -> Vec<&str> {
    batch.iter().map(|(p, _)| p.as_str()).collect()
}

/// What is at each of `paths` below `root` now, hashed on all cores.
/// What is below a link (or a file) is not there: it is not the folder's, and it is
/// replaced once the link is.
fn disk_nodes(root: &Path, paths: &[&str], keys: &EpochKeys) -> Result<Vec<Option<Node>>> {
    paths
        .par_iter()
        .map(|p| match RealFolders::new(root).check(p) {
            Ok(()) => disk_node(&root.join(p), keys),
            Err(_) => Ok(None),
        })
        .collect()
}

/// Why a checkout would refuse, gathered in one pass before anything is written.
#[derive(Default)]
struct Refusal {
    dirty: usize,
    first_dirty: Option<String>,
    conflicts: usize,
    first_conflict: Option<String>,
}

impl Refusal {
    fn conflict(&mut self, path: String) {
        self.conflicts += 1;
        self.first_conflict.get_or_insert(path);
    }

    fn check(self) -> Result<()> {
        if let Some(first) = self.first_dirty {
            return Err(Error::Dirty(format!(
                "{} change(s), first: {first}; commit them, or use --force to discard them",
                self.dirty
            )));
        }
        match self.first_conflict {
            Some(first) => Err(Error::WouldOverwrite {
                count: self.conflicts,
                first,
            }),
            None => Ok(()),
        }
    }
}

/// The writes of a checkout, in batches of [`super::batch_size`] paths; links last.
struct Writes<'p, 'a> {
    paths: &'p mut Paths<'a>,
    outcome: &'p mut CheckoutOutcome,
    batch: Vec<(String, Node)>,
    links: Vec<(String, Vec<u8>)>,
}

impl Writes<'_, '_> {
    /// Path `p`, which the version has as `want` and the folder as `now`.
    fn take(&mut self, p: String, want: Option<Node>, now: Option<&Node>) -> Result<()> {
        if self.batch.len() >= super::batch_size() {
            self.flush()?;
        }
        let Some(w) = want else { return Ok(()) };
        if now.is_some_and(|n| same(n, &w)) {
            self.outcome.unchanged += 1;
            if w.kind == FILE {
                self.paths.pb.inc(w.size);
            }
            return Ok(());
        }
        if w.kind == SYMLINK {
            self.links.push((p.clone(), w.target.clone()));
        }
        // Links ride along for the check of their folders; they are made last.
        self.batch.push((p, w));
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let refs: Vec<(&str, &Node)> = self.batch.iter().map(|(p, n)| (p.as_str(), n)).collect();
        let (files, bytes) = self.paths.stage(&refs)?;
        self.outcome.files_written += files;
        self.outcome.bytes_written += bytes;
        self.batch.clear();
        Ok(())
    }
}
