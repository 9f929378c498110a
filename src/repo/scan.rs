//! Walking the working folder: what a commit or status sees, in tree order, honouring
//! `.cofferignore` (gitignore syntax) and never following links.

use super::{DOT, IGNORE_FILE};
use crate::error::{Error, Result};
use crate::object::tree::is_safe_name;
use std::path::{Path, PathBuf};

/// What a scanned path is.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A regular file with its metadata.
    File(FileStat),
    /// A folder.
    Dir,
    /// A symbolic link and its target.
    Symlink(Vec<u8>),
}

/// The metadata a stat cache compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Change time, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Inode number.
    pub ino: u64,
    /// Whether any execute bit is set.
    pub exec: bool,
}

impl FileStat {
    /// From file metadata.
    pub fn of(m: &std::fs::Metadata) -> FileStat {
        use std::os::unix::fs::MetadataExt;
        FileStat {
            size: m.len(),
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
            ino: m.ino(),
            exec: m.mode() & 0o111 != 0,
        }
    }
}

/// One scanned path.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Path relative to the root, `/`-separated.
    pub rel: String,
    /// Nesting depth (1 = directly in the root).
    pub depth: usize,
    /// What it is.
    pub kind: Kind,
}

/// The result of a scan.
pub struct Scan {
    /// Entries in pre-order, siblings sorted by name bytes.
    pub entries: Vec<Entry>,
    /// Paths skipped because they are neither file, folder nor link.
    pub skipped: Vec<String>,
}

/// Walk `root` whole.
pub fn scan(root: &Path) -> Result<Scan> {
    let mut walk = Walk::new(root, Leftovers::Skip)?;
    let mut entries = Vec::new();
    loop {
        let batch = walk.batch(usize::MAX)?;
        if batch.is_empty() {
            break;
        }
        entries.extend(batch);
    }
    Ok(Scan {
        entries,
        skipped: walk.skipped,
    })
}

type DirEntries = Box<dyn Iterator<Item = walkdir::Result<walkdir::DirEntry>>>;

/// How a checkout names the files it stages (spec §14): `.coffer-checkout.PID.N` beside
/// each file, `.coffer-checkout.PID/` at the root.
pub const CHECKOUT_TEMP: &str = ".coffer-checkout.";

/// The process a checkout's temporary belongs to, if the entry at `path` (of type `ft`,
/// `depth` below the root) is one (spec §14): a file `.coffer-checkout.PID.N` anywhere, or a
/// folder `.coffer-checkout.PID` at the root holding nothing but files named N. PID and N
/// are decimal as coffer writes them: no leading zero, and PID not 0. Anything else is the
/// user's.
pub fn checkout_temp_pid(path: &Path, depth: usize, ft: std::fs::FileType) -> Option<u32> {
    let rest = path.file_name()?.to_str()?.strip_prefix(CHECKOUT_TEMP)?;
    let decimal = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let (pid, n) = match rest.split_once('.') {
        Some((pid, n)) => (pid, Some(n)),
        None => (rest, None),
    };
    if !decimal(pid) || pid == "0" {
        return None;
    }
    let kind_fits = match n {
        Some(n) => decimal(n) && ft.is_file(),
        None => {
            depth == 1
                && ft.is_dir()
                && std::fs::read_dir(path).is_ok_and(|mut d| {
                    d.all(|e| {
                        e.is_ok_and(|e| {
                            e.file_type().is_ok_and(|t| t.is_file())
                                && e.file_name().to_str().is_some_and(decimal)
                        })
                    })
                })
        }
    };
    kind_fits.then(|| pid.parse().ok())?
}

/// Whether a checkout temporary of process `pid` was left behind: that process is gone
/// (Linux `/proc`). Where that cannot be told, or it is this process, it is not.
fn left_behind(pid: u32) -> bool {
    if pid == std::process::id() || !Path::new("/proc/self").exists() {
        return false;
    }
    // Gone, or a zombie (killed, its parent not yet told): neither writes again.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state == 'Z' || state == 'X'),
    }
}

/// Remove the checkout temporaries left behind in `root` (the caller holds the dataset lock):
/// a walk that removes them as it passes.
pub fn remove_leftovers(root: &Path) -> Result<()> {
    let mut walk = Walk::new(root, Leftovers::Remove)?;
    while !walk.batch(super::batch_size())?.is_empty() {}
    Ok(())
}

/// A walk of the working folder taken in batches, so a caller holds a bounded number of
/// entries at a time.
pub struct Walk {
    root: std::path::PathBuf,
    iter: DirEntries,
    /// Paths skipped so far because they are neither file, folder nor link.
    pub skipped: Vec<String>,
}

/// What a walk does with the temporary files of a checkout that was killed: a walk never
/// reports them, since they belong to no version; one that holds the dataset's lock
/// removes them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Leftovers {
    /// Pass over them (status, or a walk without the lock).
    Skip,
    /// Remove those of processes that are gone (the caller holds the dataset's lock).
    Remove,
}

impl Walk {
    /// Start walking `root`, honouring its `.cofferignore`.
    pub fn new(root: &Path, leftovers: Leftovers) -> Result<Walk> {
        let mut gb = ignore::gitignore::GitignoreBuilder::new(root);
        let ig = root.join(IGNORE_FILE);
        if ig.is_file() {
            if let Some(e) = gb.add(&ig) {
                return Err(Error::Usage(format!("{}: {e}", ig.display())));
            }
        }
        let gi = gb
            .build()
            .map_err(|e| Error::Usage(format!("{}: {e}", ig.display())))?;
        let iter = walkdir::WalkDir::new(root)
            .min_depth(1)
            .follow_links(false)
            .sort_by(|a, b| {
                a.file_name()
                    .as_encoded_bytes()
                    .cmp(b.file_name().as_encoded_bytes())
            })
            .into_iter()
            .filter_entry(move |e| {
                if e.depth() == 1 && e.file_name() == DOT {
                    return false;
                }
                if let Some(pid) = checkout_temp_pid(e.path(), e.depth(), e.file_type()) {
                    if leftovers == Leftovers::Remove && left_behind(pid) {
                        // Best effort: what stays is still passed over.
                        let _ = if e.file_type().is_dir() {
                            std::fs::remove_dir_all(e.path())
                        } else {
                            std::fs::remove_file(e.path())
                        };
                    }
                    return false;
                }
                !gi.matched(e.path(), e.file_type().is_dir()).is_ignore()
            });
        Ok(Walk {
            root: root.into(),
            iter: Box::new(iter),
            skipped: Vec::new(),
        })
    }

    /// The next at most `max` entries in walk order, files statted (on all cores); empty
    /// when the walk is over.
    pub fn batch(&mut self, max: usize) -> Result<Vec<Entry>> {
        let root = self.root.as_path();
        let mut entries = Vec::new();
        let mut files: Vec<usize> = Vec::new();
        while entries.len() < max {
            let Some(item) = self.iter.next() else { break };
            let e = item.map_err(|err| {
                let path = err.path().map(PathBuf::from).unwrap_or_else(|| root.into());
                let source = err
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("filesystem loop"));
                Error::Io { path, source }
            })?;
            let rel_path = e.path().strip_prefix(root).unwrap_or(e.path());
            let mut rel = String::new();
            for c in rel_path.components() {
                let s = c.as_os_str().to_str().ok_or_else(|| {
                    Error::Usage(format!(
                        "{}: file name is not valid UTF-8; rename it or add it to {IGNORE_FILE}",
                        e.path().display()
                    ))
                })?;
                if !is_safe_name(s) {
                    return Err(Error::Usage(format!(
                        "{}: file name contains a backslash; rename it or add it to {IGNORE_FILE}",
                        e.path().display()
                    )));
                }
                if !rel.is_empty() {
                    rel.push('/');
                }
                rel.push_str(s);
            }
            let ft = e.file_type();
            let kind = if ft.is_dir() {
                Kind::Dir
            } else if ft.is_symlink() {
                let t = std::fs::read_link(e.path()).map_err(|source| Error::Io {
                    path: e.path().into(),
                    source,
                })?;
                Kind::Symlink(t.into_os_string().into_encoded_bytes())
            } else if ft.is_file() {
                // Stat later, on all cores.
                files.push(entries.len());
                Kind::File(FileStat::default())
            } else {
                self.skipped.push(rel);
                continue;
            };
            entries.push(Entry {
                rel,
                depth: e.depth(),
                kind,
            });
        }
        use rayon::prelude::*;
        let stats: Vec<Result<FileStat>> = files
            .par_iter()
            .with_min_len(256)
            .map(|&i| {
                let p = root.join(&entries[i].rel);
                std::fs::symlink_metadata(&p)
                    .map(|m| FileStat::of(&m))
                    .map_err(|source| Error::Io { path: p, source })
            })
            .collect();
        for (i, st) in files.into_iter().zip(stats) {
            entries[i].kind = Kind::File(st?);
        }
        Ok(entries)
    }
}
