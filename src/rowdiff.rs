//! Row-level differences between two versions of a CSV or TSV file: header changes first
//! (columns added, removed, renamed in place), then rows added, removed and changed (with
//! the cells that changed), matched by key columns, or by the whole row without a key.
//!
//! Memory is bounded whatever the file size: both sides are streamed once and partitioned
//! by a hash of each row's key into buckets on disk (about 1 MiB each, 256 at most); each bucket pair is
//! then matched in memory. Only the differences are kept. Every row is read, so the key's
//! uniqueness is checked over the whole file. Files whose bytes are equal are not read.
//!
//! Chunk ids let most of a lightly edited file skip the buckets: a chunk whose id both
//! versions hold (once each) has the same bytes on both sides, and if the parser meets its
//! first record at the same offset on both sides, every record that lies wholly inside it is
//! the same record on both sides (same bytes, same parser state), so it is neither added,
//! removed nor changed. Such rows are still parsed (line numbers, ragged rows, UTF-8), and
//! with a key their key still goes to the buckets for the uniqueness check; nothing else of
//! them does. If the offsets disagree anywhere (an edit that opened a quote), the file is
//! read again without skipping.

use serde::Serialize;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, BufWriter, Read, Write};
use std::rc::Rc;

/// About this many bytes of rows per bucket (in memory a bucket takes several times that).
const BUCKET_BYTES: u64 = 1 << 20;
/// At most this many buckets (open files per side).
const MAX_BUCKETS: u64 = 256;
/// Ragged rows listed (all are counted).
const MAX_RAGGED: usize = 100;

/// A row on one side: its line in the file (1 = the header) and its cells.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Line where the record starts.
    pub line: u64,
    /// Cells, in that side's column order.
    pub cells: Vec<String>,
}

/// One changed cell.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Column name.
    pub column: String,
    /// Value before.
    pub old: String,
    /// Value after.
    pub new: String,
}

/// A row present on both sides (same key) whose cells differ.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The key's values.
    pub key: Vec<String>,
    /// Line before.
    pub old_line: u64,
    /// Line after.
    pub new_line: u64,
    /// The cells that differ (columns present on both sides).
    pub cells: Vec<Cell>,
}

/// The differences of one table.
#[derive(Serialize, Debug, Default)]
pub struct TableDiff {
    /// The file.
    #[serde(skip)]
    pub path: String,
    /// Header before and after.
    pub old_header: Vec<String>,
    /// Header after.
    pub new_header: Vec<String>,
    /// Columns only after.
    pub columns_added: Vec<String>,
    /// Columns only before.
    pub columns_removed: Vec<String>,
    /// Columns renamed in place: (before, after).
    pub columns_renamed: Vec<(String, String)>,
    /// Rows only after (new line order).
    pub added: Vec<Row>,
    /// Rows only before (old line order).
    pub removed: Vec<Row>,
    /// Rows on both sides whose cells differ (new line order).
    pub changed: Vec<Changed>,
    /// Rows with another number of cells than the header: (side, line, cells), the first
    /// 100 of them.
    pub ragged: Vec<(String, u64, usize)>,
    /// How many rows are ragged in all (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub ragged_count: u64,
    /// Rows of the new version found unchanged by their chunk ids, without being compared
    /// (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub rows_skipped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What went wrong with one file (the other files' diffs go on).
#[derive(Debug)]
pub struct TableError(pub String);

type Res<T> = std::result::Result<T, TableError>;

fn err(path: &str, what: impl std::fmt::Display) -> TableError {
    TableError(format!("{path}: {what}"))
}

/// The chunks a side's reader has met and the parser has not yet passed: where each starts
/// and ends in the file, and its slot when its id is common to both versions.
pub type ChunkLog = Rc<RefCell<VecDeque<(u64, u64, Option<u32>)>>>;

/// Opens one side of a table, noting its chunks in the log when given one.
pub type Opener<'x> =
    dyn FnMut(Option<ChunkLog>) -> std::io::Result<Box<dyn Read + 'x>> + Send + 'x;

/// How one side's parser met a common chunk.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Phase {
    /// Times the chunk was met (1 unless the file changed while being read).
    visits: u32,
    /// Offset in the chunk of the first record starting in it.
    first: Option<u64>,
}

/// Diff two versions of the table `path`, read from `old` and `new` (each read once, twice
/// if skipping fails), with `key` columns (empty: whole rows). `size` (the larger side's
/// bytes) sizes the buckets; `common` is the number of chunk slots the sides share (0: no
/// skipping).
pub fn diff(
    path: &str,
    old: &mut Opener,
    new: &mut Opener,
    key: &[String],
    size: u64,
    common: usize,
) -> Res<TableDiff> {
    if common > 0 {
        if let Some(d) = diff_once(path, old, new, key, size, common)? {
            return Ok(d);
        }
    }
    Ok(diff_once(path, old, new, key, size, 0)?.unwrap_or_default())
}

/// One pass of [`diff`]; `None` when the common chunks did not line up (read again with
/// `common` = 0, which always gives an answer).
fn diff_once(
    path: &str,
    old: &mut Opener,
    new: &mut Opener,
    key: &[String],
    size: u64,
    common: usize,
) -> Res<Option<TableDiff>> {
    let delim = if path.to_ascii_lowercase().ends_with(".tsv") {
        b'\t'
    } else {
        b','
    };
    let n = (size / BUCKET_BYTES).clamp(1, MAX_BUCKETS) as usize;
    let mut out = TableDiff {
        path: path.to_string(),
        ..Default::default()
    };
    let mut secret = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
    // Both sides are read at once, each on its own thread: each reads its header, the
    // key columns are chosen from both, then each streams its rows into its buckets.
    use std::sync::mpsc::channel;
    let (old_tx, old_headers) = channel();
    let (new_tx, new_headers) = channel();
    let (old_plan, old_rx) = channel();
    let (new_plan, new_rx) = channel();
    let side = |name, open: &mut Opener, header_tx, plan_rx| {
        read_side(
            path,
            name,
            open,
            (delim, n, common, &secret),
            header_tx,
            plan_rx,
        )
    };
    let (old_header, new_header, old_key, new_key, old_side, new_side) =
        std::thread::scope(|sc| {
            let a = sc.spawn(|| side("old", old, old_tx, old_rx));
            let b = sc.spawn(|| side("new", new, new_tx, new_rx));
            let plan = match (old_headers.recv(), new_headers.recv()) {
                (Ok(oh), Ok(nh)) => match key_columns(path, key, &oh, &nh) {
                    Ok((ok, nk)) => Ok(Some((oh, nh, ok, nk))),
                    Err(e) => Err(e),
                },
                // A side that could not read its header says why when joined.
                _ => Ok(None),
            };
            if let Ok(Some((oh, nh, ok, nk))) = &plan {
                // Without a key, rows are hashed in the new header's column order on both
                // sides. Equal bytes are an equal row only under equal headers (a reordered
                // header moves cells).
                let canonical = key.is_empty() && !nk.is_empty();
                let skip = common > 0 && oh == nh;
                let keyed = !key.is_empty();
                let _ = old_plan.send((ok.clone(), canonical, keyed, skip));
                let _ = new_plan.send((nk.clone(), canonical, keyed, skip));
            }
            drop((old_plan, new_plan));
            let joined = |h: std::thread::ScopedJoinHandle<Res<Option<Parted>>>| {
                h.join()
                    .unwrap_or_else(|_| Err(err(path, "internal error reading the table")))
            };
            let (a, b) = (joined(a), joined(b));
            let (a, b) = (a?, b?);
            let Some((oh, nh, ok, nk)) = plan? else {
                return Err(err(path, "could not read both versions"));
            };
            match (a, b) {
                (Some(a), Some(b)) => Ok((oh, nh, ok, nk, a, b)),
                _ => Err(err(path, "could not read both versions")),
            }
        })?;
    for (side, r, l) in old_side.ragged.into_iter().chain(new_side.ragged) {
        if out.ragged.len() < MAX_RAGGED {
            out.ragged.push((side, r, l));
        }
    }
    out.ragged_count = old_side.ragged_count + new_side.ragged_count;
    // Skipped rows are right only if each common chunk was met once on each side, with its
    // first record at the same offset, and was neither side's last (a working file can have
    // changed since its ids were taken).
    if old_side.skipping
        && (old_side.last_shared
            || new_side.last_shared
            || old_side
                .phases
                .iter()
                .zip(&new_side.phases)
                .any(|(a, b)| a.first != b.first || a.visits != 1 || b.visits != 1))
    {
        return Ok(None);
    }
    let (old_parts, new_parts) = (old_side.files, new_side.files);
    let skipped = new_side.skipped;
    // Header changes: by name; a different name at the same position, with both names
    // absent from the other side, is a rename. A header repeating a name (or with empty
    // names) cannot be matched by name: its columns are compared by position.
    use std::collections::HashSet;
    let unique = |h: &[String]| {
        let set: HashSet<&str> = h.iter().map(String::as_str).collect();
        set.len() == h.len() && !set.contains("")
    };
    let pairs: Vec<(String, Option<usize>, Option<usize>)> =
        if unique(&old_header) && unique(&new_header) {
            let old_at: HashMap<&str, usize> = old_header
                .iter()
                .enumerate()
                .map(|(i, h)| (h.as_str(), i))
                .collect();
            let new_set: HashSet<&str> = new_header.iter().map(String::as_str).collect();
            for (i, h) in new_header.iter().enumerate() {
                if !old_at.contains_key(h.as_str()) {
                    match old_header.get(i) {
                        Some(o) if !new_set.contains(o.as_str()) => {
                            out.columns_renamed.push((o.clone(), h.clone()))
                        }
                        _ => out.columns_added.push(h.clone()),
                    }
                }
            }
            let renamed: HashMap<&str, &str> = out
                .columns_renamed
                .iter()
                .map(|(a, b)| (b.as_str(), a.as_str()))
                .collect();
            let renamed_from: HashSet<&str> = out
                .columns_renamed
                .iter()
                .map(|(a, _)| a.as_str())
                .collect();
            for o in &old_header {
                if !new_set.contains(o.as_str()) && !renamed_from.contains(o.as_str()) {
                    out.columns_removed.push(o.clone());
                }
            }
            new_header
                .iter()
                .enumerate()
                .map(|(j, h)| {
                    let i = old_at
                        .get(h.as_str())
                        .or_else(|| renamed.get(h.as_str()).and_then(|a| old_at.get(a)))
                        .copied();
                    (h.clone(), i, Some(j))
                })
                .collect()
        } else {
            let n = old_header.len().max(new_header.len());
            out.columns_added
                .extend(new_header.iter().skip(old_header.len()).cloned());
            out.columns_removed
                .extend(old_header.iter().skip(new_header.len()).cloned());
            (0..n)
                .map(|j| {
                    let name = new_header
                        .get(j)
                        .or(old_header.get(j))
                        .cloned()
                        .unwrap_or_default();
                    let name = if name.is_empty() {
                        format!("column {}", j + 1)
                    } else {
                        name
                    };
                    (
                        name,
                        (j < old_header.len()).then_some(j),
                        (j < new_header.len()).then_some(j),
                    )
                })
                .collect()
        };
    let sides = Sides {
        keyed: !key.is_empty(),
        path,
        old_key: &old_key,
        new_key: &new_key,
        pairs: &pairs,
        same_header: old_header == new_header,
    };
    // Buckets are independent: matched in parallel, merged in order.
    use rayon::prelude::*;
    let parts: Vec<Res<Option<Part>>> = old_parts
        .par_iter()
        .zip(new_parts.par_iter())
        .map_init(Tables::default, |t, (a, b)| match_bucket(&sides, t, a, b))
        .collect();
    for p in parts {
        let Some(p) = p? else { return Ok(None) };
        out.added.extend(p.added);
        out.removed.extend(p.removed);
        out.changed.extend(p.changed);
    }
    out.added.sort_by_key(|r| r.line);
    out.removed.sort_by_key(|r| r.line);
    out.changed.sort_by_key(|c| c.new_line);
    out.old_header = old_header;
    out.new_header = new_header;
    out.rows_skipped = skipped;
    Ok(Some(out))
}

/// One side's rows, partitioned into buckets.
struct Parted {
    files: Vec<tempfile::NamedTempFile>,
    /// Rows in common chunks (not in the buckets without a key).
    skipped: u64,
    /// Whether rows in common chunks were skipped.
    skipping: bool,
    /// Whether the side's last chunk was a common one (never, unless a working file
    /// changed since its ids were taken).
    last_shared: bool,
    phases: Vec<Phase>,
    ragged: Vec<(String, u64, usize)>,
    ragged_count: u64,
}

/// What the key columns decide for one side: its key positions, whether rows are hashed
/// in the new header's order, whether there is a key, whether common chunks are skipped.
type Plan = (Vec<usize>, bool, bool, bool);

/// Read one side on its own thread: open it, send its header, wait for the plan (none if
/// the other side failed: then `None`), partition its rows.
fn read_side(
    path: &str,
    side: &'static str,
    open: &mut Opener,
    (delim, n, common, secret): (u8, usize, usize, &[u8; 16]),
    header_tx: std::sync::mpsc::Sender<Vec<String>>,
    plan_rx: std::sync::mpsc::Receiver<Plan>,
) -> Res<Option<Parted>> {
    let log = (common > 0).then(ChunkLog::default);
    let input = open(log.clone()).map_err(|e| err(path, format!("{side} version: {e}")))?;
    let src = open_source(path, side, input, delim)?;
    if header_tx.send(src.header.clone()).is_err() {
        return Ok(None);
    }
    drop(header_tx);
    let Ok((key_cols, canonical, keyed, skip)) = plan_rx.recv() else {
        return Ok(None);
    };
    let mut phases = vec![Phase::default(); common];
    let (mut ragged, mut ragged_count) = (Vec::new(), 0);
    let skipping = skip && log.is_some();
    let (files, skipped, last_shared) = partition(
        secret,
        path,
        src,
        (&key_cols, canonical, keyed),
        n,
        (&mut ragged, &mut ragged_count),
        log.as_ref().filter(|_| skipping).map(|l| (l, &mut phases)),
    )?;
    Ok(Some(Parted {
        files,
        skipped,
        skipping,
        last_shared,
        phases,
        ragged,
        ragged_count,
    }))
}

/// Which cells make a row's key on each side. With --key, those columns by name (an empty
/// side has no rows to key). Without, every cell: in the new header's order on both sides
/// when they hold the same names (reordered columns are no change), else in each side's own
/// order.
fn key_columns(
    path: &str,
    key: &[String],
    old_header: &[String],
    new_header: &[String],
) -> Res<(Vec<usize>, Vec<usize>)> {
    Ok(if !key.is_empty() {
        let on = |side: &str, h: &[String]| {
            if h.is_empty() {
                Ok(Vec::new())
            } else {
                key_positions(path, side, h, key)
            }
        };
        (on("old", old_header)?, on("new", new_header)?)
    } else {
        fn names(h: &[String]) -> std::collections::BTreeSet<&String> {
            h.iter().collect()
        }
        let unique = |h: &[String]| names(h).len() == h.len();
        if unique(old_header) && unique(new_header) && names(old_header) == names(new_header) {
            let old_at: HashMap<&String, usize> =
                old_header.iter().enumerate().map(|(i, h)| (h, i)).collect();
            (
                new_header.iter().map(|h| old_at[h]).collect(),
                (0..new_header.len()).collect(),
            )
        } else {
            (Vec::new(), Vec::new())
        }
    })
}

/// Newline offsets not yet passed, each with whether a CR came just before it.
type Newlines = Rc<RefCell<VecDeque<(u64, bool)>>>;

/// A reader that notes where each newline byte is, for the line numbers of records (the
/// queue holds only those not yet passed: the read-ahead window's).
struct Lines<R> {
    inner: R,
    at: u64,
    last_cr: bool,
    newlines: Newlines,
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut q = self.newlines.borrow_mut();
        let buf = &buf[..n];
        // A CR that ended the last read ends a line unless an LF follows it.
        if self.last_cr && buf.first() != Some(&b'\n') {
            q.push_back((self.at - 1, false));
        }
        for i in memchr::memchr2_iter(b'\n', b'\r', buf) {
            let at = self.at + i as u64;
            if buf[i] == b'\n' {
                let cr = if i == 0 {
                    self.last_cr
                } else {
                    buf[i - 1] == b'\r'
                };
                q.push_back((at, cr));
            } else if buf.get(i + 1).is_some_and(|b| *b != b'\n') {
                // A CR alone ends a line too (old Mac files).
                q.push_back((at, false));
            }
        }
        if let Some(last) = buf.last() {
            self.last_cr = *last == b'\r';
        } else {
            self.last_cr = false;
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// The line where a record starts, given where csv says it starts (just after the previous
/// record's terminator: blank lines it skipped, and with CR LF the LF, lie in between).
fn line_of(q: &mut VecDeque<(u64, bool)>, before: &mut u64, mut start: u64) -> u64 {
    while q.front().is_some_and(|(nl, _)| *nl < start) {
        q.pop_front();
        *before += 1;
    }
    // Skipped: a newline right at the start (LF, or the LF of CR LF), then again.
    while let Some(&(nl, cr)) = q.front() {
        if nl == start || (cr && nl == start + 1) {
            q.pop_front();
            *before += 1;
            start = nl + 1;
        } else {
            break;
        }
    }
    *before + 1
}

/// One side's table, its header read.
struct Source<R: Read> {
    side: &'static str,
    rd: csv::Reader<BufReader<Lines<R>>>,
    newlines: Newlines,
    /// Empty for an empty file (no header, no rows).
    header: Vec<String>,
}

fn open_source<R: Read>(path: &str, side: &'static str, input: R, delim: u8) -> Res<Source<R>> {
    let newlines = Newlines::default();
    let mut rd = csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(true)
        .has_headers(false)
        .from_reader(BufReader::with_capacity(
            1 << 20,
            Lines {
                inner: input,
                at: 0,
                last_cr: false,
                newlines: newlines.clone(),
            },
        ));
    let mut rec = csv::ByteRecord::new();
    let got = rd
        .read_byte_record(&mut rec)
        .map_err(|e| err(path, format!("{side} version: {e}")))?;
    let mut header: Vec<String> = Vec::with_capacity(rec.len());
    if got {
        for (i, f) in rec.iter().enumerate() {
            let h = std::str::from_utf8(f)
                .map_err(|_| err(path, format!("{side} version, line 1: not valid UTF-8")))?;
            header.push(
                if i == 0 {
                    h.trim_start_matches('\u{feff}')
                } else {
                    h
                }
                .to_string(),
            );
        }
    }
    Ok(Source {
        side,
        rd,
        newlines,
        header,
    })
}

/// Positions of the key columns on one side, by name (each must be there, once).
fn key_positions(path: &str, side: &str, header: &[String], key: &[String]) -> Res<Vec<usize>> {
    key.iter()
        .map(|k| {
            if header.iter().filter(|h| *h == k).count() > 1 {
                return Err(err(
                    path,
                    format!(
                        "key column {k:?} appears more than once in the {side} version's header"
                    ),
                ));
            }
            header.iter().position(|h| h == k).ok_or_else(|| {
                err(
                    path,
                    format!(
                        "key column {k:?} is not in the {side} version's header ({})",
                        header.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// Stream one side's rows into `n` buckets by the hash of their key. With `skip` (the side's
/// chunk log and its phases), rows wholly inside a common chunk go in as their key only
/// (keyed) or not at all (without a key), and the phases note how the parser met each chunk.
#[allow(clippy::type_complexity)]
fn partition<R: Read>(
    secret: &[u8; 16],
    path: &str,
    src: Source<R>,
    (key_cols, canonical, keyed): (&[usize], bool, bool),
    n: usize,
    (ragged, ragged_count): (&mut Vec<(String, u64, usize)>, &mut u64),
    mut skip: Option<(&ChunkLog, &mut Vec<Phase>)>,
) -> Res<(Vec<tempfile::NamedTempFile>, u64, bool)> {
    let Source {
        side,
        mut rd,
        newlines,
        header,
    } = src;
    // Lines before the current record.
    let mut lines_before = 0u64;
    let mut rec = csv::ByteRecord::new();
    let read = |rd: &mut csv::Reader<_>, rec: &mut csv::ByteRecord| -> Res<bool> {
        rd.read_byte_record(rec)
            .map_err(|e| err(path, format!("{side} version: {e}")))
    };
    let io = |e: std::io::Error| err(path, format!("temporary file: {e}"));
    let mut skipped = 0u64;
    // Whether the last chunk the side met was a common one.
    let mut last_shared = false;
    let mut files: Vec<tempfile::NamedTempFile> = (0..n)
        .map(|_| tempfile::NamedTempFile::new().map_err(io))
        .collect::<Res<_>>()?;
    {
        let mut ws: Vec<BufWriter<&std::fs::File>> = files
            .iter_mut()
            .map(|f| BufWriter::new(f.as_file()))
            .collect();
        // The chunk the current record starts in, and whether a record started in it yet.
        let mut cur: Option<(u64, u64, Option<u32>)> = None;
        let mut started = false;
        let visit = |phases: &mut Vec<Phase>, slot: Option<u32>| {
            if let Some(p) = slot.and_then(|k| phases.get_mut(k as usize)) {
                p.visits += 1;
            }
        };
        loop {
            if !read(&mut rd, &mut rec)? {
                break;
            }
            // Where the record starts, counted from the bytes (blank lines, CR LF and
            // newlines inside quotes as the file has them).
            let start = rec.position().map_or(0, |p| p.byte());
            let line = line_of(&mut newlines.borrow_mut(), &mut lines_before, start);
            // Inside which common chunk the record lies wholly, if any.
            let mut inside = None;
            if let Some((log, phases)) = &mut skip {
                let end = rd.position().byte();
                while cur.is_none_or(|(_, b, _)| b <= start) {
                    cur = log.borrow_mut().pop_front();
                    started = false;
                    match cur {
                        Some((_, _, slot)) => {
                            last_shared = slot.is_some();
                            visit(phases, slot)
                        }
                        None => break,
                    }
                }
                if let Some((a, b, slot)) = cur.filter(|(a, _, _)| *a <= start) {
                    if !started {
                        started = true;
                        if let Some(p) = slot.and_then(|k| phases.get_mut(k as usize)) {
                            if p.first.is_none() {
                                p.first = Some(start - a);
                            }
                        }
                    }
                    if end <= b {
                        inside = slot;
                    }
                }
            }
            if rec.len() != header.len() {
                *ragged_count += 1;
                if ragged.len() < MAX_RAGGED {
                    ragged.push((side.to_string(), line, rec.len()));
                }
            }
            // One UTF-8 check per record; cells stay bytes until a bucket is matched.
            if std::str::from_utf8(rec.as_slice()).is_err() {
                return Err(err(
                    path,
                    format!("{side} version, line {line}: not valid UTF-8"),
                ));
            }
            // Without a key, a ragged row is hashed as it is (never equal to a whole one).
            let cols = if canonical && rec.len() != header.len() {
                &[][..]
            } else {
                key_cols
            };
            skipped += inside.is_some() as u64;
            // A row in a common chunk is the same row on both sides: it goes in once, as
            // its key's hash alone, and only for the uniqueness check (a key met twice
            // then reads the table again without skipping, for the lines and cells to
            // name). Each side takes every other common chunk's rows, so the two threads
            // share the hashing.
            if inside.is_some_and(|slot| !keyed || (slot % 2 == 1) != (side == "new")) {
                continue;
            }
            let h = row_hash(secret, &rec, cols);
            // The high bits choose the bucket; the low ones serve the bucket's table.
            let b = ((h >> 64) as u64 % n as u64) as usize;
            if inside.is_some() {
                write_skipped(&mut ws[b], h)
            } else {
                write_row(&mut ws[b], line, h, rec.iter())
            }
            .map_err(io)?;
        }
        if let Some((log, phases)) = &mut skip {
            for (_, _, slot) in log.borrow_mut().drain(..) {
                last_shared = slot.is_some();
                visit(phases, slot);
            }
        }
        for w in &mut ws {
            w.flush().map_err(io)?;
        }
    }
    Ok((files, skipped, last_shared))
}

/// The key of a row, hashed: the key columns' cells (all cells without a key), each
/// length-prefixed, through SipHash-2-4 with 128-bit output, a pseudorandom function keyed
/// with a secret of this run (so nobody can craft rows that collide in the tables below).
/// 128 bits: a collision is not a practical concern. Keyed BLAKE3 would do as well but costs
/// 70 ns for a short key against SipHash's 8 (`coffer-bench-data csv FILE`), more than
/// parsing the row.
fn row_hash(secret: &[u8; 16], rec: &csv::ByteRecord, key_cols: &[usize]) -> u128 {
    use siphasher::sip128::{Hasher128, SipHasher24};
    use std::hash::Hasher;
    let mut h = SipHasher24::new_with_key(secret);
    let mut put = |f: &[u8]| {
        h.write(&(f.len() as u64).to_le_bytes());
        h.write(f);
    };
    if key_cols.is_empty() {
        rec.iter().for_each(&mut put);
    } else {
        for c in key_cols {
            put(rec.get(*c).unwrap_or(b""));
        }
    }
    h.finish128().as_u128()
}

/// The line of a bucket record that stands for a row in a common chunk: its key's hash
/// only.
const SKIPPED: u64 = u64::MAX;

fn write_skipped(w: &mut impl Write, hash: u128) -> std::io::Result<()> {
    w.write_all(&SKIPPED.to_le_bytes())?;
    w.write_all(&hash.to_le_bytes())?;
    w.write_all(&0u32.to_le_bytes())
}

/// A bucket record: line, key hash, the length of the rest, then the cells (count, then
/// each length-prefixed).
fn write_row<'c>(
    w: &mut impl Write,
    line: u64,
    hash: u128,
    cells: impl Iterator<Item = &'c [u8]> + Clone,
) -> std::io::Result<()> {
    let (count, bytes) = cells
        .clone()
        .fold((0u32, 4u32), |(n, b), c| (n + 1, b + 4 + c.len() as u32));
    w.write_all(&line.to_le_bytes())?;
    w.write_all(&hash.to_le_bytes())?;
    w.write_all(&bytes.to_le_bytes())?;
    w.write_all(&count.to_le_bytes())?;
    for c in cells {
        w.write_all(&(c.len() as u32).to_le_bytes())?;
        w.write_all(c)?;
    }
    Ok(())
}

/// One record of a bucket read back: its line ([`SKIPPED`] for a row in a common chunk,
/// which has no cells), key hash, and its cells as written (count, then length-prefixed
/// cells).
#[derive(Default)]
struct Rec {
    line: u64,
    hash: u128,
    raw: Vec<u8>,
}

/// A bucket file read back, through a buffer kept from one bucket to the next (a fresh
/// megabyte per file costs more in page faults than the reading).
struct Bucket<'b> {
    file: std::fs::File,
    buf: &'b mut Vec<u8>,
    /// Start of the unread bytes in `buf`.
    at: usize,
}

impl<'b> Bucket<'b> {
    fn open(f: &tempfile::NamedTempFile, buf: &'b mut Vec<u8>) -> std::io::Result<Self> {
        buf.clear();
        Ok(Bucket {
            file: std::fs::File::open(f.path())?,
            buf,
            at: 0,
        })
    }

    /// The next `n` bytes (fewer only at the end of the file).
    fn take(&mut self, n: usize) -> std::io::Result<&[u8]> {
        if self.buf.len() - self.at < n {
            self.buf.drain(..self.at);
            self.at = 0;
            let want = n.max(1 << 20);
            while self.buf.len() < n {
                let have = self.buf.len();
                self.buf.resize(want, 0);
                let got = self.file.read(&mut self.buf[have..]);
                self.buf.truncate(have + got.as_ref().map_or(0, |g| *g));
                let got = got?;
                if got == 0 {
                    break;
                }
            }
        }
        let end = (self.at + n).min(self.buf.len());
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// Read the next record into `rec` (its cell buffer reused); false at the end. The
    /// bucket was written by this process; a short record ends it.
    fn next(&mut self, rec: &mut Rec) -> std::io::Result<bool> {
        let head = self.take(28)?;
        let (Ok(line), Ok(hash), Ok(len)) = (
            <[u8; 8]>::try_from(head.get(..8).unwrap_or_default()),
            <[u8; 16]>::try_from(head.get(8..24).unwrap_or_default()),
            <[u8; 4]>::try_from(head.get(24..28).unwrap_or_default()),
        ) else {
            return Ok(false);
        };
        rec.line = u64::from_le_bytes(line);
        rec.hash = u128::from_le_bytes(hash);
        let len = u32::from_le_bytes(len) as usize;
        let raw = self.take(len)?;
        if raw.len() < len {
            return Ok(false);
        }
        rec.raw.clear();
        rec.raw.extend_from_slice(raw);
        Ok(true)
    }
}

/// The cells of a record (they were checked to be UTF-8 when written).
fn cells(raw: &[u8]) -> Vec<&str> {
    let n = u32::from_le_bytes(raw[..4].try_into().unwrap_or([0; 4])) as usize;
    let mut out = Vec::with_capacity(n);
    let mut p = 4;
    for _ in 0..n {
        let Some(len) = raw.get(p..p + 4) else { break };
        let len = u32::from_le_bytes(len.try_into().unwrap_or([0; 4])) as usize;
        let Some(c) = raw.get(p + 4..p + 4 + len) else {
            break;
        };
        out.push(std::str::from_utf8(c).unwrap_or(""));
        p += 4 + len;
    }
    out
}

/// Hashes are already uniform: the low 64 bits serve as the table's hash.
#[derive(Default)]
struct Spread(u64);

impl std::hash::Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, b: &[u8]) {
        for (i, x) in b.iter().take(8).enumerate() {
            self.0 ^= (*x as u64) << (8 * i);
        }
    }
}

type Table<V> = HashMap<u128, V, std::hash::BuildHasherDefault<Spread>>;

/// What one bucket pair contributes.
#[derive(Default)]
struct Part {
    added: Vec<Row>,
    removed: Vec<Row>,
    changed: Vec<Changed>,
}

fn row_of(r: &Rec) -> Row {
    Row {
        line: r.line,
        cells: cells(&r.raw).into_iter().map(str::to_string).collect(),
    }
}

/// The key's cells of a row, for people.
fn key_cells(r: &Rec, key_cols: &[usize]) -> Vec<String> {
    let c = cells(&r.raw);
    key_cols
        .iter()
        .map(|i| c.get(*i).copied().unwrap_or("").to_string())
        .collect()
}

struct Sides<'a> {
    /// Rows match by key columns (else by all their cells).
    keyed: bool,
    path: &'a str,
    /// Key column positions on each side (empty: whole rows).
    old_key: &'a [usize],
    new_key: &'a [usize],
    /// Columns compared: name, position before, position after.
    pairs: &'a [(String, Option<usize>, Option<usize>)],
    /// Whether both headers are the same: equal record bytes then mean equal rows.
    same_header: bool,
}

/// Tables a matching thread keeps from one bucket to the next (allocated once, cleared).
#[derive(Default)]
struct Tables {
    /// Old rows by key; without a key, equal rows are a multiset: the first kept, the
    /// lines of the others only (so a table of identical rows costs 8 bytes a row).
    by_key: Table<(Rec, Vec<u64>)>,
    /// Keyed: the new version's lines by key so far ([`SKIPPED`] for skipped rows), for
    /// the uniqueness check.
    seen: Table<u64>,
    /// The read buffer of the bucket files.
    buf: Vec<u8>,
}

/// Match one bucket pair. `None`: a key met in a skipped row is met again (a duplicate the
/// diff must read the table again, without skipping, to name).
fn match_bucket(
    s: &Sides,
    t: &mut Tables,
    old: &tempfile::NamedTempFile,
    new: &tempfile::NamedTempFile,
) -> Res<Option<Part>> {
    let io = |e: std::io::Error| err(s.path, format!("temporary file: {e}"));
    let keyed = s.keyed;
    let dup = |side: &str, k: Vec<String>, a: u64, b: u64| {
        err(
            s.path,
            format!(
                "key {} is not unique in the {side} version (lines {a} and {b}); choose key columns that identify one row",
                k.join(", ")
            ),
        )
    };
    // Tables sized for the bucket up front (rows take at least 28 bytes in it).
    let rows = |f: &tempfile::NamedTempFile, size: u64| {
        let len = f.as_file().metadata().map_or(0, |m| m.len());
        (len / size).min(1 << 20) as usize
    };
    let Tables { by_key, seen, buf } = t;
    by_key.clear();
    seen.clear();
    by_key.reserve(rows(old, 64));
    if keyed {
        seen.reserve(rows(new, 28) + rows(old, 28) / 2);
    }
    let mut r = Rec::default();
    let mut rd = Bucket::open(old, buf).map_err(io)?;
    while rd.next(&mut r).map_err(io)? {
        if r.line == SKIPPED {
            // A skipped row the old side hashed (every other common chunk's): it is in the
            // new version too.
            if by_key.contains_key(&r.hash) || seen.insert(r.hash, SKIPPED).is_some() {
                return Ok(None);
            }
            continue;
        }
        if keyed {
            if let Some((first, _)) = by_key.get(&r.hash) {
                return Err(dup("old", key_cells(&r, s.old_key), first.line, r.line));
            }
            if seen.contains_key(&r.hash) {
                return Ok(None);
            }
        }
        match by_key.get_mut(&r.hash) {
            Some((_, more)) => more.push(r.line),
            None => {
                by_key.insert(r.hash, (std::mem::take(&mut r), Vec::new()));
            }
        }
    }
    let mut part = Part::default();
    let mut rd = Bucket::open(new, rd.buf).map_err(io)?;
    while rd.next(&mut r).map_err(io)? {
        if keyed {
            // A skipped row is in the old version too: no other old row may hold its key
            // (one already matched is in `seen`, by the new row that matched it).
            if r.line == SKIPPED && by_key.contains_key(&r.hash) {
                return Ok(None);
            }
            match seen.insert(r.hash, r.line) {
                Some(SKIPPED) => return Ok(None),
                Some(_) if r.line == SKIPPED => return Ok(None),
                Some(line) => return Err(dup("new", key_cells(&r, s.new_key), line, r.line)),
                None => {}
            }
            if r.line == SKIPPED {
                continue;
            }
        }
        let old = match by_key.get_mut(&r.hash) {
            // An equal row (no key): one of the multiset is used up.
            Some((_, more)) if !more.is_empty() => {
                more.pop();
                continue;
            }
            Some(_) => by_key.remove(&r.hash).map(|(first, _)| first),
            None => None,
        };
        let Some(o) = old else {
            part.added.push(row_of(&r));
            continue;
        };
        if !keyed || (s.same_header && o.raw == r.raw) {
            continue;
        }
        let (oc, nc) = (cells(&o.raw), cells(&r.raw));
        let diffs: Vec<Cell> = s
            .pairs
            .iter()
            .filter_map(|(name, i, j)| {
                let (i, j) = ((*i)?, (*j)?);
                let a = oc.get(i).copied().unwrap_or("");
                let b = nc.get(j).copied().unwrap_or("");
                (a != b).then(|| Cell {
                    column: name.clone(),
                    old: a.to_string(),
                    new: b.to_string(),
                })
            })
            .collect();
        if !diffs.is_empty() {
            part.changed.push(Changed {
                key: key_cells(&r, s.new_key),
                old_line: o.line,
                new_line: r.line,
                cells: diffs,
            });
        }
    }
    for (_, (first, more)) in by_key.drain() {
        let row = row_of(&first);
        for line in more {
            part.removed.push(Row {
                line,
                cells: row.cells.clone(),
            });
        }
        part.removed.push(row);
    }
    Ok(Some(part))
}

/// One table's outcome in a diff of versions.
#[derive(Serialize, Debug)]
pub struct FileResult {
    /// The file.
    pub path: String,
    /// Its differences, when it could be read.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub diff: Option<TableDiff>,
    /// Why not (bad UTF-8, a missing or non-unique key, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A file's bytes, chunk by chunk: from a version (its chunk ids) or from the working
/// folder (cut by the chunker, ids computed only when skipping). Each chunk is noted in the
/// log, with its slot when its id is common.
struct ChunkRead<'a, 'b> {
    from: From<'a, 'b>,
    slots: &'b HashMap<crate::id::Id, u32>,
    log: Option<ChunkLog>,
    buf: Vec<u8>,
    pos: usize,
    at: u64,
}

enum From<'a, 'b> {
    Version {
        r: &'b crate::repo::read::VersionReader<'a>,
        ids: &'b [crate::id::Id],
        next: usize,
    },
    Folder {
        c: crate::chunking::Chunker<std::fs::File>,
        keys: &'b crate::crypto::keys::EpochKeys,
    },
}

impl Read for ChunkRead<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use crate::object::blob::KIND_CHUNK;
        while self.pos == self.buf.len() {
            let id = match &mut self.from {
                From::Version { r, ids, next } => {
                    let Some(id) = ids.get(*next) else {
                        return Ok(0);
                    };
                    *next += 1;
                    self.buf = r
                        .blob(id, KIND_CHUNK)
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    Some(*id)
                }
                From::Folder { c, keys } => {
                    let Some(chunk) = c.next_chunk()? else {
                        return Ok(0);
                    };
                    self.buf.clear();
                    self.buf.extend_from_slice(chunk);
                    self.log
                        .is_some()
                        .then(|| keys.id_key.blob_id(KIND_CHUNK, chunk))
                }
            };
            self.pos = 0;
            let end = self.at + self.buf.len() as u64;
            if let Some(log) = &self.log {
                let slot = id.and_then(|id| self.slots.get(&id).copied());
                log.borrow_mut().push_back((self.at, end, slot));
            }
            self.at = end;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Chunk ids held exactly once by each side, numbered. A side's last chunk is never one: a
/// record can end there at the end of the file (no newline, or an open quote) and go on
/// past the same bytes on the other side.
fn common_chunks(a: &[crate::id::Id], b: &[crate::id::Id]) -> HashMap<crate::id::Id, u32> {
    let mut count: HashMap<crate::id::Id, (u32, u32)> = HashMap::new();
    for id in a {
        count.entry(*id).or_default().0 += 1;
    }
    for id in b {
        count.entry(*id).or_default().1 += 1;
    }
    let mut ids: Vec<crate::id::Id> = count
        .into_iter()
        .filter(|(id, n)| *n == (1, 1) && a.last() != Some(id) && b.last() != Some(id))
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    ids.into_iter().zip(0..).collect()
}

fn is_table(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    p.ends_with(".csv") || p.ends_with(".tsv")
}

/// Row differences of the CSV and TSV files present in both version `a` and version `b` (or
/// the working folder, `b` = `None`) whose bytes differ, limited to `only` (paths or folders;
/// all when empty).
pub fn versions(
    ds: &crate::repo::Dataset,
    hist: &crate::rules::History,
    keys: &crate::repo::Keyring,
    a: crate::id::Id,
    b: Option<crate::id::Id>,
    key: &[String],
    only: &[String],
) -> crate::Result<Vec<FileResult>> {
    use crate::object::tree::FILE;
    use crate::repo::read::VersionReader;
    let mut index = crate::repo::index::Index::load(ds, keys)?;
    let ra = VersionReader::open(ds, hist, keys, &mut index, a)?;
    let rb = match b {
        Some(b) => Some(VersionReader::open(ds, hist, keys, &mut index, b)?),
        None => None,
    };
    let wanted = |p: &str| {
        is_table(p)
            && (only.is_empty()
                || only.iter().any(|o| {
                    let o = o.trim_matches('/');
                    p == o || p.starts_with(&format!("{o}/"))
                }))
    };
    let files = |r: &VersionReader| -> crate::Result<HashMap<String, (Vec<crate::id::Id>, u64)>> {
        Ok(r.flatten()?
            .into_iter()
            .filter(|(p, e)| e.kind() == FILE && wanted(p))
            .map(|(p, e)| (p, (e.ids().to_vec(), e.size())))
            .collect())
    };
    let old = files(&ra)?;
    let mut paths: Vec<&String> = old.keys().collect();
    paths.sort();
    let new = match &rb {
        Some(r) => Some(files(r)?),
        None => None,
    };
    // The old version's chunk keys cut and name the working folder's files, so that their
    // unchanged stretches have the old chunks' ids.
    let folder_keys = keys
        .get(ra.version.epoch)
        .ok_or_else(|| crate::Error::NoEpochKey {
            who: keys.who.clone(),
            epoch: ra.version.epoch,
            dataset: ds.id,
        })?;
    let mut out = Vec::new();
    for p in paths {
        let (ids, size) = &old[p];
        let version = |r, ids, slots| {
            move |log| -> std::io::Result<Box<dyn Read + '_>> {
                Ok(Box::new(ChunkRead {
                    from: From::Version { r, ids, next: 0 },
                    slots,
                    log,
                    buf: Vec::new(),
                    pos: 0,
                    at: 0,
                }))
            }
        };
        let result = match (&new, &rb) {
            (Some(new), Some(rb)) => {
                let Some((nids, nsize)) = new.get(p) else {
                    continue;
                };
                if nids == ids {
                    continue;
                }
                let slots = common_chunks(ids, nids);
                diff(
                    p,
                    &mut version(&ra, ids, &slots),
                    &mut version(rb, nids, &slots),
                    key,
                    (*size).max(*nsize),
                    slots.len(),
                )
            }
            _ => {
                let on_disk = ds.root.join(p);
                let failed = |what: String| FileResult {
                    path: p.clone(),
                    diff: None,
                    error: Some(format!("{p}: {what}")),
                };
                // Only a regular file, never followed through a link: a link to a FIFO or
                // a device would block or never end. A file gone from the folder is not in
                // both, so not diffed.
                match std::fs::symlink_metadata(&on_disk) {
                    Ok(m) if m.is_file() => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Ok(_) => {
                        out.push(failed("not a regular file in the working folder (a link or a special file); not read".into()));
                        continue;
                    }
                    Err(e) => {
                        out.push(failed(format!("cannot read it in the working folder: {e}")));
                        continue;
                    }
                }
                // Its chunk ids first (one quick pass), for the common chunks and to leave
                // out a file whose bytes are the old version's (the same ids under the old
                // version's keys); the pass that parses it names its chunks again, so a file
                // changing meanwhile is caught.
                let (nids, nsize) =
                    match crate::repo::commit::chunk_file(&on_disk, &folder_keys, |_, _| Ok(())) {
                        Ok(r) => r,
                        Err(e) => {
                            out.push(failed(format!("cannot read it in the working folder: {e}")));
                            continue;
                        }
                    };
                if nids == *ids {
                    continue;
                }
                crate::testhook::pause("rows");
                let slots = common_chunks(ids, &nids);
                let folder = |log| -> std::io::Result<Box<dyn Read + '_>> {
                    let f = crate::repo::commit::open_nofollow(&on_disk)
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    Ok(Box::new(ChunkRead {
                        from: From::Folder {
                            c: crate::chunking::Chunker::new(f, folder_keys.gear.clone()),
                            keys: &folder_keys,
                        },
                        slots: &slots,
                        log,
                        buf: Vec::new(),
                        pos: 0,
                        at: 0,
                    }))
                };
                diff(
                    p,
                    &mut version(&ra, ids, &slots),
                    &mut { folder },
                    key,
                    (*size).max(nsize),
                    slots.len(),
                )
            }
        };
        out.push(match result {
            Ok(d)
                if d.added.is_empty()
                    && d.removed.is_empty()
                    && d.changed.is_empty()
                    && d.columns_added.is_empty()
                    && d.columns_removed.is_empty()
                    && d.columns_renamed.is_empty()
                    && d.ragged.is_empty() =>
            {
                continue
            }
            Ok(d) => FileResult {
                path: p.clone(),
                diff: Some(d),
                error: None,
            },
            Err(TableError(e)) => FileResult {
                path: p.clone(),
                diff: None,
                error: Some(e),
            },
        });
    }
    Ok(out)
}
