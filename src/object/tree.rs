//! Trees: one folder's entries, sorted by name (spec/format.md, "Trees").

use crate::codec;
use crate::error::{Error, Result};
use crate::id::Id;
use serde::{Deserialize, Serialize};

/// Envelope kind of a tree.
pub const KIND: &str = "tree";

/// Entry type: regular file.
pub const FILE: u8 = 0;
/// Entry type: folder.
pub const DIR: u8 = 1;
/// Entry type: symbolic link.
pub const SYMLINK: u8 = 2;

/// One entry: `[name, type, exec, size, ids, target]`.
///
/// `ids` are a file's chunk ids in order, or a folder's one subtree id; `target` is a link's
/// target bytes. Unused fields are empty, false or zero.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Entry(
    pub String,
    pub u8,
    pub bool,
    pub u64,
    pub Vec<Id>,
    #[serde(with = "serde_bytes")] pub Vec<u8>,
);

impl Entry {
    /// A regular file.
    pub fn file(name: String, exec: bool, size: u64, chunks: Vec<Id>) -> Entry {
        Entry(name, FILE, exec, size, chunks, Vec::new())
    }
    /// A folder.
    pub fn dir(name: String, tree: Id) -> Entry {
        Entry(name, DIR, false, 0, vec![tree], Vec::new())
    }
    /// A symbolic link.
    pub fn symlink(name: String, target: Vec<u8>) -> Entry {
        Entry(name, SYMLINK, false, 0, Vec::new(), target)
    }
    /// Entry name.
    pub fn name(&self) -> &str {
        &self.0
    }
    /// Entry type.
    pub fn kind(&self) -> u8 {
        self.1
    }
    /// Executable bit (files only).
    pub fn exec(&self) -> bool {
        self.2
    }
    /// File size in bytes.
    pub fn size(&self) -> u64 {
        self.3
    }
    /// Chunk ids (file) or subtree id (folder).
    pub fn ids(&self) -> &[Id] {
        &self.4
    }
    /// Link target.
    pub fn target(&self) -> &[u8] {
        &self.5
    }
}

/// Whether `name` is a safe single path component: not empty, `.` or `..`, no `/`, `\` or NUL.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// Check a decoded tree: safe, strictly ascending names and well-formed entries.
pub fn validate(id: &Id, entries: &[Entry]) -> Result<()> {
    let bad = |reason: String| Error::Corrupt {
        kind: "tree",
        id: *id,
        reason,
    };
    let mut prev: Option<&str> = None;
    for e in entries {
        if !is_safe_name(e.name()) {
            return Err(Error::UnsafePath(format!(
                "tree {} has an entry named {:?}, which could escape the checkout folder",
                id.short(),
                e.name()
            )));
        }
        if let Some(p) = prev {
            if p.as_bytes() >= e.name().as_bytes() {
                return Err(bad(format!(
                    "entries not strictly sorted at {:?}",
                    e.name()
                )));
            }
        }
        prev = Some(e.name());
        let ok = match e.kind() {
            FILE => e.target().is_empty(),
            DIR => e.ids().len() == 1 && !e.exec() && e.size() == 0 && e.target().is_empty(),
            SYMLINK => {
                e.ids().is_empty()
                    && !e.exec()
                    && e.size() == 0
                    && !e.target().is_empty()
                    && !e.target().contains(&0)
            }
            _ => false,
        };
        if !ok {
            return Err(bad(format!("malformed entry {:?}", e.name())));
        }
    }
    Ok(())
}

/// Encode a tree.
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    codec::encode(KIND, &entries)
}

/// Decode and validate a tree.
pub fn decode(id: &Id, bytes: &[u8]) -> Result<Vec<Entry>> {
    let entries: Vec<Entry> = codec::decode(KIND, bytes).map_err(|e| Error::Corrupt {
        kind: "tree",
        id: *id,
        reason: e.to_string(),
    })?;
    validate(id, &entries)?;
    Ok(entries)
}
