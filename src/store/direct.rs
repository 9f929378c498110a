//! Writing large objects into a folder store without copying them through the page cache.
//!
//! A pack written with ordinary writes costs the kernel a copy into freshly allocated page
//! cache, the largest item of a first commit's system time, and the fsync that follows writes
//! it out anyway. Written with `O_DIRECT`, the device takes the bytes straight from an aligned
//! buffer: 448 MiB took 1.47 s of system time buffered and 0.06-0.11 s direct on this machine
//! (`dd bs=16M` with and without `oflag=direct`).
//!
//! The result is the same file, published the same way as every other folder-store object:
//! staged under `NAME#N`, fsynced, hard-linked to its name (an existing object is never
//! replaced) and its folder fsynced. File systems that refuse `O_DIRECT` get plain writes.
//!
//! Checkout writes large files the same way ([`Pieces`]): each piece of a file goes to the
//! device in whole aligned pages, and only the partial pages at its ends (shared with the
//! neighbouring pieces, or the file's last page) go through the page cache.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

/// Direct I/O wants buffers, offsets and lengths aligned to the device's logical block
/// (512 or 4096 bytes); 4096 covers both.
pub const ALIGN: usize = 4096;
/// Bytes copied into the aligned buffer per write.
const BLOCK: usize = 1 << 20;

/// Objects at least this large take the direct path; smaller ones are not worth a second
/// copy into an aligned buffer.
pub const MIN_SIZE: usize = 1 << 20;

/// Write `bytes` as the new file `path`, durably; `Ok(false)` if `path` already exists.
pub fn put_new(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let (file, staged, direct) = stage(path)?;
    let r = fill(&staged, file, direct, bytes).and_then(|()| {
        crate::testhook::pause("pack-staged");
        publish(&staged, path)
    });
    // Published or not, the staged name goes: on success it is a second link to the object.
    let _ = std::fs::remove_file(&staged);
    r
}

/// A new, empty staging file beside `path`, and whether it is open for direct I/O.
fn stage(path: &Path) -> io::Result<(File, PathBuf, bool)> {
    let mut made_parent = false;
    let mut n = 1u32;
    loop {
        let mut staged = path.as_os_str().to_owned();
        staged.push(format!("#{n}"));
        let staged = PathBuf::from(staged);
        match open_new(&staged) {
            Ok(f) => {
                let direct = set_direct(&f);
                return Ok((f, staged, direct));
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => n += 1,
            Err(e) if e.kind() == ErrorKind::NotFound && !made_parent => {
                make_parent(path)?;
                made_parent = true;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(target_os = "linux")]
const DIRECT: bool = true;
#[cfg(not(target_os = "linux"))]
const DIRECT: bool = false;

fn open_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Turn direct I/O on for `file`; false where the file system refuses it (or the request
/// fails: plain writes then). Asked of the open file, not at open: Linux creates a file
/// before it checks `O_DIRECT`, so an open with `O_CREAT | O_EXCL | O_DIRECT` that fails on
/// such a file system (ramfs) leaves the file behind.
fn set_direct(file: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
        fcntl_getfl(file).is_ok_and(|f| fcntl_setfl(file, f | OFlags::DIRECT).is_ok())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        false
    }
}

/// Create `path`'s folder and fsync every folder whose entries changed.
fn make_parent(path: &Path) -> io::Result<()> {
    let Some(parent) = path.parent() else {
        return Err(ErrorKind::NotFound.into());
    };
    let mut existing = parent;
    while !existing.exists() {
        match existing.parent() {
            Some(p) => existing = p,
            None => break,
        }
    }
    std::fs::create_dir_all(parent)?;
    let mut dir = parent;
    loop {
        File::open(dir)?.sync_all()?;
        if dir == existing {
            return Ok(());
        }
        match dir.parent() {
            Some(p) => dir = p,
            None => return Ok(()),
        }
    }
}

/// Write `bytes` into the staged file and fsync it.
fn fill(staged: &Path, mut file: File, direct: bool, bytes: &[u8]) -> io::Result<()> {
    if direct {
        match write_direct(&mut file, bytes) {
            Ok(()) => return file.sync_all(),
            // The file system took O_DIRECT at open but not this alignment.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                file = OpenOptions::new().write(true).truncate(true).open(staged)?;
            }
            Err(e) => return Err(e),
        }
    }
    file.write_all(bytes)?;
    file.sync_all()
}

/// Whole aligned blocks: straight from `bytes` when it starts at an aligned address (a pack
/// from `PackBuilder`), else through a bounce buffer; the last one padded with zeros, and
/// the padding cut off again.
fn write_direct(file: &mut File, bytes: &[u8]) -> io::Result<()> {
    let bulk = if bytes.as_ptr().align_offset(ALIGN) == 0 {
        bytes.len() / ALIGN * ALIGN
    } else {
        0
    };
    file.write_all(&bytes[..bulk])?;
    let rest = &bytes[bulk..];
    let block = rest.len().next_multiple_of(ALIGN).min(BLOCK);
    let mut bounce = vec![0u8; block + ALIGN];
    let off = bounce.as_ptr().align_offset(ALIGN);
    if off >= ALIGN {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let buf = &mut bounce[off..off + block];
    for piece in rest.chunks(block.max(1)) {
        let padded = piece.len().next_multiple_of(ALIGN);
        buf[..piece.len()].copy_from_slice(piece);
        buf[piece.len()..padded].fill(0);
        file.write_all(&buf[..padded])?;
    }
    file.set_len(bytes.len() as u64)
}

/// A checkout's writes of file pieces: large files take direct I/O while the file system
/// allows it (the first refusal turns it off for the rest of the checkout).
pub struct Pieces {
    direct: std::sync::atomic::AtomicBool,
}

/// Files at least this large are written with direct I/O: below it, the wait for the device
/// (about 0.1 ms a write here) costs more than the page-cache copy it saves (2.6 ns a byte
/// here, the price of fresh pages in a virtual machine).
pub const PIECES_MIN_FILE: u64 = 128 * 1024;

impl Default for Pieces {
    fn default() -> Self {
        Pieces {
            direct: std::sync::atomic::AtomicBool::new(DIRECT),
        }
    }
}

impl Pieces {
    /// Open (or with `create`, create anew with `mode`; never following a final link) the
    /// file `path`, which will be `len` bytes long, for [`Pieces::write`].
    pub fn open(&self, path: &Path, create: bool, mode: u32, len: u64) -> io::Result<PieceFile> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::sync::atomic::Ordering::Relaxed;
        let mut o = OpenOptions::new();
        o.write(true).custom_flags(libc::O_NOFOLLOW);
        if create {
            o.create_new(true).mode(mode);
        }
        let file = o.open(path)?;
        let direct = len >= PIECES_MIN_FILE && self.direct.load(Relaxed) && {
            let on = set_direct(&file);
            if !on {
                self.direct.store(false, Relaxed);
            }
            on
        };
        Ok(PieceFile { file, direct })
    }

    /// Write `data` at `off` in `f`: the whole pages inside it directly (through `bounce`,
    /// a buffer the caller keeps), the partial pages at its ends through the page cache.
    /// Pieces of one file may be written at once from several threads: no page is ever
    /// written both ways, since the direct part is page-aligned and never reaches a page
    /// another piece shares.
    pub fn write(
        &self,
        f: &mut PieceFile,
        data: &[u8],
        off: u64,
        bounce: &mut Vec<u8>,
    ) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let page = page_size() as u64;
        let end = off + data.len() as u64;
        let (a, b) = (off.next_multiple_of(page), end / page * page);
        if !f.direct || a >= b {
            f.plain()?;
            return f.file.write_all_at(data, off);
        }
        let mid = &data[(a - off) as usize..(b - off) as usize];
        match write_aligned(&f.file, mid, a, page as usize, bounce) {
            Ok(()) => {}
            // The file system took O_DIRECT at open but not this write.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                self.direct
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                f.plain()?;
                f.file.write_all_at(mid, a)?;
            }
            Err(e) => return Err(e),
        }
        f.plain()?;
        f.file.write_all_at(&data[..(a - off) as usize], off)?;
        f.file.write_all_at(&data[(b - off) as usize..], b)
    }
}

/// A file open for [`Pieces::write`].
pub struct PieceFile {
    file: File,
    direct: bool,
}

impl PieceFile {
    /// Turn direct I/O off for the rest of this handle's writes.
    fn plain(&mut self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if self.direct {
            use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
            fcntl_setfl(&self.file, fcntl_getfl(&self.file)? - OFlags::DIRECT)?;
        }
        self.direct = false;
        Ok(())
    }

    /// Set the file's length.
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

/// The memory page size: the unit of direct writes, so that a direct write never shares a
/// page of the cache with a plain one (the kernel would then write back a stale page).
fn page_size() -> usize {
    rustix::param::page_size().max(ALIGN)
}

/// Write `data` (whole pages) at `off` (page-aligned) with direct I/O, `BLOCK` bytes at a
/// time through the aligned part of `bounce`.
fn write_aligned(
    file: &File,
    data: &[u8],
    off: u64,
    page: usize,
    bounce: &mut Vec<u8>,
) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    if bounce.len() < BLOCK + page {
        *bounce = vec![0u8; BLOCK + page];
    }
    let start = bounce.as_ptr().align_offset(page);
    if start >= page {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let buf = &mut bounce[start..start + BLOCK];
    let mut at = off;
    for part in data.chunks(BLOCK) {
        buf[..part.len()].copy_from_slice(part);
        file.write_all_at(&buf[..part.len()], at)?;
        at += part.len() as u64;
    }
    Ok(())
}

/// Link the staged file to its name and make the link durable; false if the name is taken.
fn publish(staged: &Path, path: &Path) -> io::Result<bool> {
    match std::fs::hard_link(staged, path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(true)
}

/// Read `range` of the file `path` straight from the device into a fresh buffer; `None`
/// where the file system refuses direct reads (the caller reads plainly).
pub fn read_range(path: &Path, range: std::ops::Range<u64>) -> io::Result<Option<bytes::Bytes>> {
    use std::os::unix::fs::FileExt;
    if !DIRECT || range.is_empty() {
        return Ok(None);
    }
    let f = match open_read(path) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(None),
        Err(e) => return Err(e),
    };
    let a = ALIGN as u64;
    let (start, end) = (range.start / a * a, range.end.next_multiple_of(a));
    let mut v = vec![0u8; (end - start) as usize + ALIGN];
    let off = v.as_ptr().align_offset(ALIGN);
    if off >= ALIGN {
        return Ok(None);
    }
    let buf = &mut v[off..off + (end - start) as usize];
    let need = (range.end - start) as usize;
    let mut got = 0;
    while got < need {
        // Whole blocks while the file lasts; a short read means its end.
        match f.read_at(&mut buf[got..], start + got as u64) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(k) if k % ALIGN != 0 && got + k < need => {
                return Err(ErrorKind::UnexpectedEof.into())
            }
            Ok(k) => got += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && got == 0 => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    let from = off + (range.start - start) as usize;
    Ok(Some(
        bytes::Bytes::from(v).slice(from..from + (range.end - range.start) as usize),
    ))
}

fn open_read(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_exact_bytes_at_every_tail_length_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        for len in [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            BLOCK - 1,
            BLOCK,
            BLOCK + 7,
            3 * BLOCK + 5,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            // The same bytes from an aligned address (as packs come): written without the
            // bounce buffer but for the tail.
            let mut room = vec![0u8; len + ALIGN];
            let at = room.as_ptr().align_offset(ALIGN);
            room[at..at + len].copy_from_slice(&data);
            let aligned_path = dir.path().join(format!("aligned/{len}/obj"));
            assert!(
                put_new(&aligned_path, &room[at..at + len]).unwrap(),
                "{len}"
            );
            assert_eq!(std::fs::read(&aligned_path).unwrap(), data, "{len} aligned");
            let path = dir.path().join(format!("packs/{len}/obj"));
            assert!(put_new(&path, &data).unwrap(), "{len}");
            assert_eq!(std::fs::read(&path).unwrap(), data, "{len}");
            assert!(!put_new(&path, b"other").unwrap(), "{len}");
            assert_eq!(std::fs::read(&path).unwrap(), data, "{len}");
            let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left, ["obj"], "{len}");
            for (a, b) in [(0, len), (len / 3, len), (1, len / 2 + 1), (len, len)] {
                let (a, b) = (a.min(b) as u64, b as u64);
                if let Some(got) = read_range(&path, a..b).unwrap() {
                    assert_eq!(&got[..], &data[a as usize..b as usize], "{len} {a}..{b}");
                }
            }
            if len > 0 {
                let past = read_range(&path, 0..len as u64 + 1);
                assert!(!matches!(past, Ok(Some(_))), "{len}: read past the end");
            }
        }
    }

    /// Pieces cut at random (and at and around page boundaries), written in a shuffled order
    /// from four threads at once, each through its own handle, make exactly the file; large
    /// files really take the direct path where the file system allows it.
    #[test]
    fn pieces_written_in_any_order_from_many_threads_make_the_exact_file() {
        let dir = tempfile::tempdir().unwrap();
        let page = page_size();
        let min = PIECES_MIN_FILE as usize;
        let probe = dir.path().join("probe");
        let direct_works = DIRECT && {
            use std::os::unix::fs::OpenOptionsExt;
            let mut o = OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(target_os = "linux")]
            o.custom_flags(libc::O_DIRECT);
            o.open(&probe).is_ok()
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        let sizes = [
            0,
            1,
            page - 1,
            page + 1,
            min - 1,
            min,
            min + 1,
            3 * page,
            BLOCK + 777,
            3 * BLOCK + 2 * page + 5,
        ];
        for (case, &len) in sizes.iter().enumerate() {
            for round in 0..4 {
                let data: Vec<u8> = (0..len).map(|i| (i * 131 % 253) as u8 ^ round).collect();
                // Cut points: random, on page boundaries, and one byte either side of them.
                let mut cuts = vec![0, len];
                for _ in 0..next(12) {
                    let c = match next(4) {
                        0 => next(len + 1),
                        1 => next(len / page + 1) * page,
                        2 => (next(len / page + 1) * page).saturating_sub(1),
                        _ => next(len / page + 1) * page + 1,
                    };
                    cuts.push(c.min(len));
                }
                cuts.sort();
                cuts.dedup();
                let mut pieces: Vec<(usize, usize)> =
                    cuts.windows(2).map(|w| (w[0], w[1])).collect();
                for i in (1..pieces.len()).rev() {
                    pieces.swap(i, next(i + 1));
                }
                let path = dir.path().join(format!("f{case}.{round}"));
                let io = Pieces::default();
                let mut pre = io.open(&path, true, 0o644, len as u64).unwrap();
                assert_eq!(pre.direct, direct_works && len >= min, "{len}: direct");
                pre.set_len(len as u64).unwrap();
                pre.plain().unwrap();
                let queue = std::sync::Mutex::new(pieces);
                std::thread::scope(|s| {
                    for _ in 0..4 {
                        s.spawn(|| {
                            let mut bounce = Vec::new();
                            while let Some((a, b)) = queue.lock().unwrap().pop() {
                                let mut f = io.open(&path, false, 0, len as u64).unwrap();
                                io.write(&mut f, &data[a..b], a as u64, &mut bounce)
                                    .unwrap();
                            }
                        });
                    }
                });
                assert!(std::fs::read(&path).unwrap() == data, "{len} round {round}");
                if direct_works {
                    let on = io.direct.load(std::sync::atomic::Ordering::Relaxed);
                    assert!(on, "{len}: direct I/O was turned off");
                }
            }
        }
    }
}
