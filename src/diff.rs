//! Differences between two versions, or a version and the working folder.

use crate::id::Id;
use crate::object::tree::{Entry, DIR, FILE, SYMLINK};
use serde::Serialize;

/// What one path is, reduced to what a diff compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Entry type (tree::FILE, DIR, SYMLINK).
    pub kind: u8,
    /// Size in bytes (files).
    pub size: u64,
    /// Executable bit.
    pub exec: bool,
    /// Chunk ids (files); empty otherwise.
    pub chunks: Vec<Id>,
    /// Link target.
    pub target: Vec<u8>,
}

impl Node {
    /// From a tree entry.
    pub fn of(e: &Entry) -> Node {
        Node {
            kind: e.kind(),
            size: e.size(),
            exec: e.exec(),
            chunks: if e.kind() == FILE {
                e.ids().to_vec()
            } else {
                Vec::new()
            },
            target: e.target().to_vec(),
        }
    }
}

impl From<Entry> for Node {
    /// From a tree entry, taking its chunk ids and link target.
    fn from(e: Entry) -> Node {
        let Entry(_, kind, exec, size, ids, target) = e;
        Node {
            kind,
            size,
            exec,
            chunks: if kind == FILE { ids } else { Vec::new() },
            target,
        }
    }
}

/// A path's state on one side.
/// One difference.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `added`, `removed` or `modified`.
    pub change: &'static str,
    /// The path.
    pub path: String,
    /// `file`, `dir` or `symlink` (the new one when modified).
    pub kind: &'static str,
    /// Size before, when there was a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_size: Option<u64>,
    /// Size after, when there is a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_size: Option<u64>,
}

fn kind_name(k: u8) -> &'static str {
    match k {
        FILE => "file",
        DIR => "dir",
        SYMLINK => "symlink",
        _ => "unknown",
    }
}

fn size_of(n: &Node) -> Option<u64> {
    (n.kind == FILE).then_some(n.size)
}

/// Differences from `a` to `b`, in path order. Folders are reported only when added or removed.
/// Whether nothing changed from `a` to `b` (a folder is compared by what it holds, path by
/// path).
pub fn same(a: &Node, b: &Node) -> bool {
    a == b || (a.kind == DIR && b.kind == DIR)
}

/// How `path` changed from `a` to `b`, if it did ([`same`]): the one rule for "changed",
/// for diffs, status and checkout's refusal.
pub fn change(path: &str, a: Option<&Node>, b: Option<&Node>) -> Option<Change> {
    let change = match (a, b) {
        (Some(_), None) => "removed",
        (None, Some(_)) => "added",
        (Some(x), Some(y)) if !same(x, y) => "modified",
        _ => return None,
    };
    Some(Change {
        change,
        path: path.to_string(),
        kind: kind_name(b.or(a).map_or(u8::MAX, |n| n.kind)),
        old_size: a.and_then(size_of),
        new_size: b.and_then(size_of),
    })
}

/// The changes from stream `a` to stream `b`, in walk order, holding neither.
pub fn diff_streams(a: Stream, b: Stream) -> crate::error::Result<Vec<Change>> {
    let mut out = Vec::new();
    for item in Join::new([a, b]) {
        let (p, [x, y]) = item?;
        out.extend(change(&p, x.as_ref(), y.as_ref()));
    }
    Ok(out)
}

/// A stream of paths and their nodes in walk order (a version's pre-order, or the working
/// folder's walk).
pub type Stream<'a> = Box<dyn Iterator<Item = crate::error::Result<(String, Node)>> + 'a>;

/// Streams in walk order joined on their paths: each step is the next path any of them
/// holds, with each stream's node there (`None` where it has none). Memory is one item per
/// stream, so two versions and a working folder are compared without holding any of them.
pub struct Join<'a, const N: usize> {
    streams: [std::iter::Peekable<Stream<'a>>; N],
}

impl<'a, const N: usize> Join<'a, N> {
    /// Join `streams`; each step's nodes are in the same order.
    pub fn new(streams: [Stream<'a>; N]) -> Self {
        Join {
            streams: streams.map(Iterator::peekable),
        }
    }
}

impl<const N: usize> Iterator for Join<'_, N> {
    type Item = crate::error::Result<(String, [Option<Node>; N])>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut least: Option<&str> = None;
        for s in &mut self.streams {
            match s.peek() {
                Some(Ok((p, _)))
                    if least.is_none_or(|l| crate::repo::statcache::walk_order(p, l).is_lt()) =>
                {
                    least = Some(p);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) => {
                    return match s.next() {
                        Some(Err(e)) => Some(Err(e)),
                        _ => None,
                    }
                }
                None => {}
            }
        }
        let path = least?.to_string();
        let nodes = std::array::from_fn(|i| {
            self.streams[i]
                .next_if(|r| matches!(r, Ok((p, _)) if *p == path))
                .and_then(|r| r.ok())
                .map(|(_, n)| n)
        });
        Some(Ok((path, nodes)))
    }
}
