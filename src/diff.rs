//! Differences between two versions, or a version and the working folder.

use crate::id::Id;
use crate::object::tree::{Entry, DIR, FILE, SYMLINK};
use serde::Serialize;
use std::collections::BTreeMap;

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
pub type Side = BTreeMap<String, Node>;

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
pub fn diff(a: &Side, b: &Side) -> Vec<Change> {
    let mut out = Vec::new();
    let mut ai = a.iter().peekable();
    let mut bi = b.iter().peekable();
    loop {
        let ord = match (ai.peek(), bi.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((pa, _)), Some((pb, _))) => pa.cmp(pb),
        };
        match ord {
            std::cmp::Ordering::Less => {
                let Some((p, n)) = ai.next() else { break };
                out.push(Change {
                    change: "removed",
                    path: p.clone(),
                    kind: kind_name(n.kind),
                    old_size: size_of(n),
                    new_size: None,
                });
            }
            std::cmp::Ordering::Greater => {
                let Some((p, n)) = bi.next() else { break };
                out.push(Change {
                    change: "added",
                    path: p.clone(),
                    kind: kind_name(n.kind),
                    old_size: None,
                    new_size: size_of(n),
                });
            }
            std::cmp::Ordering::Equal => {
                let (Some((p, x)), Some((_, y))) = (ai.next(), bi.next()) else {
                    break;
                };
                if x != y && !(x.kind == DIR && y.kind == DIR) {
                    out.push(Change {
                        change: "modified",
                        path: p.clone(),
                        kind: kind_name(y.kind),
                        old_size: size_of(x),
                        new_size: size_of(y),
                    });
                }
            }
        }
    }
    out
}
