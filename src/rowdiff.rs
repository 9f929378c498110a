//! Row-level differences between two versions of a CSV or TSV file: header changes first
//! (columns added, removed, renamed in place), then rows added, removed and changed (with
//! the cells that changed), matched by key columns, or by the whole row without a key.
//!
//! Memory is bounded whatever the file size: both sides are streamed once and partitioned
//! by a hash of each row's key into buckets on disk (about 1 MiB each, 256 at most); each bucket pair is
//! then matched in memory. Only the differences are kept. Every row is read, so the key's
//! uniqueness is checked over the whole file. Files whose bytes are equal are not read.

use serde::Serialize;
use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};

/// About this many bytes of rows per bucket (in memory a bucket takes several times that).
const BUCKET_BYTES: u64 = 1 << 20;
/// At most this many buckets (open files per side).
const MAX_BUCKETS: u64 = 256;

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
    /// Rows with another number of cells than the header: (side, line, cells).
    pub ragged: Vec<(String, u64, usize)>,
}

/// What went wrong with one file (the other files' diffs go on).
#[derive(Debug)]
pub struct TableError(pub String);

type R<T> = std::result::Result<T, TableError>;

fn err(path: &str, what: impl std::fmt::Display) -> TableError {
    TableError(format!("{path}: {what}"))
}

/// Diff two versions of the table `path`, read from `old` and `new` (each read once), with
/// `key` columns (empty: whole rows). `size` (the larger side's bytes) sizes the buckets.
pub fn diff(path: &str, old: impl Read, new: impl Read, key: &[String], size: u64) -> R<TableDiff> {
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
    let (old_header, old_parts) = partition(path, "old", old, delim, key, n, &mut out.ragged)?;
    let (new_header, new_parts) = partition(path, "new", new, delim, key, n, &mut out.ragged)?;
    // Header changes: by name; a different name at the same position, with both names
    // absent from the other side, is a rename.
    for (i, h) in new_header.iter().enumerate() {
        if !old_header.contains(h) {
            match old_header.get(i) {
                Some(o) if !new_header.contains(o) => {
                    out.columns_renamed.push((o.clone(), h.clone()))
                }
                _ => out.columns_added.push(h.clone()),
            }
        }
    }
    for o in &old_header {
        let renamed = out.columns_renamed.iter().any(|(a, _)| a == o);
        if !new_header.contains(o) && !renamed {
            out.columns_removed.push(o.clone());
        }
    }
    // Compare cells of columns present on both sides (renamed ones by position).
    let pairs: Vec<(String, Option<usize>, Option<usize>)> = new_header
        .iter()
        .enumerate()
        .map(|(j, h)| {
            let i = old_header.iter().position(|o| o == h).or_else(|| {
                out.columns_renamed
                    .iter()
                    .find(|(_, b)| b == h)
                    .and_then(|(a, _)| old_header.iter().position(|o| o == a))
            });
            (h.clone(), i, Some(j))
        })
        .collect();
    for (a, b) in old_parts.into_iter().zip(new_parts) {
        match_bucket(path, key, a, b, &pairs, &mut out)?;
    }
    out.added.sort_by_key(|r| r.line);
    out.removed.sort_by_key(|r| r.line);
    out.changed.sort_by_key(|c| c.new_line);
    out.old_header = old_header;
    out.new_header = new_header;
    Ok(out)
}

/// Read a table, write each record to the bucket of its key's hash: `line, key, cells`.
fn partition(
    path: &str,
    side: &str,
    input: impl Read,
    delim: u8,
    key: &[String],
    n: usize,
    ragged: &mut Vec<(String, u64, usize)>,
) -> R<(Vec<String>, Vec<tempfile::NamedTempFile>)> {
    let mut rd = csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(true)
        .has_headers(false)
        .from_reader(BufReader::with_capacity(1 << 20, input));
    let mut rec = csv::ByteRecord::new();
    let text = |b: &[u8], line: u64| -> R<String> {
        String::from_utf8(b.to_vec()).map_err(|_| {
            err(
                path,
                format!("{side} version, line {line}: not valid UTF-8"),
            )
        })
    };
    let read = |rd: &mut csv::Reader<_>, rec: &mut csv::ByteRecord| -> R<bool> {
        rd.read_byte_record(rec)
            .map_err(|e| err(path, format!("{side} version: {e}")))
    };
    if !read(&mut rd, &mut rec)? {
        return Err(err(path, format!("{side} version is empty (no header)")));
    }
    let mut header: Vec<String> = Vec::with_capacity(rec.len());
    for (i, f) in rec.iter().enumerate() {
        let mut h = text(f, 1)?;
        if i == 0 {
            h = h.trim_start_matches('\u{feff}').to_string();
        }
        header.push(h);
    }
    let key_cols: Vec<usize> = key
        .iter()
        .map(|k| {
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
        .collect::<R<_>>()?;
    let io = |e: std::io::Error| err(path, format!("temporary file: {e}"));
    let mut files: Vec<tempfile::NamedTempFile> = (0..n)
        .map(|_| tempfile::NamedTempFile::new().map_err(io))
        .collect::<R<_>>()?;
    {
        let mut ws: Vec<BufWriter<&std::fs::File>> = files
            .iter_mut()
            .map(|f| BufWriter::new(f.as_file()))
            .collect();
        loop {
            let line = rd.position().line();
            if !read(&mut rd, &mut rec)? {
                break;
            }
            if rec.len() != header.len() {
                ragged.push((side.to_string(), line, rec.len()));
            }
            // One UTF-8 check per record; cells stay bytes until a bucket is matched.
            if std::str::from_utf8(rec.as_slice()).is_err() {
                return Err(err(
                    path,
                    format!("{side} version, line {line}: not valid UTF-8"),
                ));
            }
            let k = byte_key(&rec, &key_cols);
            let h = blake3::hash(&k);
            let b = (u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap_or([0; 8])) % n as u64)
                as usize;
            write_row(&mut ws[b], line, &k, &rec).map_err(io)?;
        }
        for w in &mut ws {
            w.flush().map_err(io)?;
        }
    }
    Ok((header, files))
}

/// The key of a row: the key columns' cells (all cells without a key), separated by a
/// unit separator (a byte CSV cells of people's data do not hold in practice; a collision
/// only makes two rows compare as one key, reported as a duplicate).
fn byte_key(rec: &csv::ByteRecord, key_cols: &[usize]) -> Vec<u8> {
    let mut k = Vec::new();
    let mut push = |i: usize, f: &[u8]| {
        if i > 0 {
            k.push(0x1f);
        }
        k.extend_from_slice(f);
    };
    if key_cols.is_empty() {
        for (i, f) in rec.iter().enumerate() {
            push(i, f);
        }
    } else {
        for (i, c) in key_cols.iter().enumerate() {
            push(i, rec.get(*c).unwrap_or(b""));
        }
    }
    k
}

fn write_row(
    w: &mut impl Write,
    line: u64,
    key: &[u8],
    rec: &csv::ByteRecord,
) -> std::io::Result<()> {
    w.write_all(&line.to_le_bytes())?;
    w.write_all(&(key.len() as u64).to_le_bytes())?;
    w.write_all(key)?;
    w.write_all(&(rec.len() as u64).to_le_bytes())?;
    for c in rec.iter() {
        w.write_all(&(c.len() as u64).to_le_bytes())?;
        w.write_all(c)?;
    }
    Ok(())
}

/// The rows of one bucket, read back one at a time in the order written.
struct Rows(BufReader<std::fs::File>);

impl Rows {
    fn open(f: &tempfile::NamedTempFile) -> std::io::Result<Rows> {
        Ok(Rows(BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(f.path())?,
        )))
    }

    fn u64(&mut self) -> std::io::Result<Option<u64>> {
        let mut u = [0u8; 8];
        match self.0.read_exact(&mut u) {
            Ok(()) => Ok(Some(u64::from_le_bytes(u))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn string(&mut self) -> std::io::Result<String> {
        let len = self.u64()?.unwrap_or(0);
        let mut b = vec![0u8; len as usize];
        self.0.read_exact(&mut b)?;
        String::from_utf8(b).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    #[allow(clippy::type_complexity)]
    fn next_row(&mut self) -> std::io::Result<Option<(u64, String, Vec<String>)>> {
        let Some(line) = self.u64()? else {
            return Ok(None);
        };
        let key = self.string()?;
        let n = self.u64()?.unwrap_or(0);
        let mut cells = Vec::with_capacity(n as usize);
        for _ in 0..n {
            cells.push(self.string()?);
        }
        Ok(Some((line, key, cells)))
    }
}

fn match_bucket(
    path: &str,
    key: &[String],
    old: tempfile::NamedTempFile,
    new: tempfile::NamedTempFile,
    pairs: &[(String, Option<usize>, Option<usize>)],
    out: &mut TableDiff,
) -> R<()> {
    let io = |e: std::io::Error| err(path, format!("temporary file: {e}"));
    let keyed = !key.is_empty();
    let dup = |side: &str, k: &str, a: u64, b: u64| {
        err(
            path,
            format!(
                "key {} is not unique in the {side} version (lines {a} and {b}); choose key columns that identify one row",
                k
            ),
        )
    };
    // Old rows by key (several per key without a key: identical rows are a multiset).
    let mut by_key: HashMap<String, Vec<(u64, Vec<String>)>> = HashMap::new();
    let mut rows = Rows::open(&old).map_err(io)?;
    while let Some((line, k, cells)) = rows.next_row().map_err(io)? {
        let shown = k.replace('\u{1f}', ", ");
        let e = by_key.entry(k).or_default();
        if let (true, Some((first, _))) = (keyed, e.first()) {
            return Err(dup("old", &shown, *first, line));
        }
        e.push((line, cells));
    }
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut rows = Rows::open(&new).map_err(io)?;
    while let Some((line, k, cells)) = rows.next_row().map_err(io)? {
        if keyed {
            if let Some(first) = seen.insert(k.clone(), line) {
                return Err(dup("new", &k.replace('\u{1f}', ", "), first, line));
            }
        }
        match by_key
            .get_mut(&k)
            .and_then(|v| (!v.is_empty()).then(|| v.remove(0)))
        {
            None => out.added.push(Row { line, cells }),
            Some((old_line, old_cells)) => {
                if !keyed {
                    continue;
                }
                let diffs: Vec<Cell> = pairs
                    .iter()
                    .filter_map(|(name, i, j)| {
                        let (i, j) = ((*i)?, (*j)?);
                        let o = old_cells.get(i).map_or("", String::as_str);
                        let n = cells.get(j).map_or("", String::as_str);
                        (o != n).then(|| Cell {
                            column: name.clone(),
                            old: o.to_string(),
                            new: n.to_string(),
                        })
                    })
                    .collect();
                if !diffs.is_empty() {
                    out.changed.push(Changed {
                        key: k.split('\u{1f}').map(str::to_string).collect(),
                        old_line,
                        new_line: line,
                        cells: diffs,
                    });
                }
            }
        }
    }
    for (_, rows) in by_key {
        for (line, cells) in rows {
            out.removed.push(Row { line, cells });
        }
    }
    Ok(())
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

/// A file's bytes, read chunk by chunk from a version.
struct ChunkRead<'a, 'b> {
    r: &'b crate::repo::read::VersionReader<'a>,
    ids: Vec<crate::id::Id>,
    next: usize,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChunkRead<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            let Some(id) = self.ids.get(self.next) else {
                return Ok(0);
            };
            self.next += 1;
            self.buf = self
                .r
                .blob(id, crate::object::blob::KIND_CHUNK)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
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
    let mut out = Vec::new();
    for p in paths {
        let (ids, size) = &old[p];
        let left = ChunkRead {
            r: &ra,
            ids: ids.clone(),
            next: 0,
            buf: Vec::new(),
            pos: 0,
        };
        let result = match (&new, &rb) {
            (Some(new), Some(rb)) => {
                let Some((nids, nsize)) = new.get(p) else {
                    continue;
                };
                if nids == ids {
                    continue;
                }
                let right = ChunkRead {
                    r: rb,
                    ids: nids.clone(),
                    next: 0,
                    buf: Vec::new(),
                    pos: 0,
                };
                diff(p, left, right, key, (*size).max(*nsize))
            }
            _ => {
                let on_disk = ds.root.join(p);
                let Ok(f) = std::fs::File::open(&on_disk) else {
                    continue;
                };
                let nsize = f.metadata().map(|m| m.len()).unwrap_or(0);
                diff(p, left, f, key, (*size).max(nsize))
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
