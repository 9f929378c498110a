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
    let entries = match decode_canonical(bytes) {
        Some(entries) => entries,
        // Not as `encode` writes it: the general decoder says why.
        None => codec::decode(KIND, bytes).map_err(|e| Error::Corrupt {
            kind: "tree",
            id: *id,
            reason: e.to_string(),
        })?,
    };
    validate(id, &entries)?;
    Ok(entries)
}

/// A tree exactly as [`encode`] writes it, read without serde (trees are the hot object
/// of every walk); `None` for anything else.
fn decode_canonical(bytes: &[u8]) -> Option<Vec<Entry>> {
    let mut r = codec::Canonical::envelope(bytes, KIND)?;
    let n = r.array()?;
    // An entry takes at least 9 bytes: no length read can allocate beyond the input.
    let mut entries = Vec::with_capacity(n.min(r.left() / 9));
    for _ in 0..n {
        if r.array()? != 6 {
            return None;
        }
        let name = r.text()?.to_string();
        let kind = u8::try_from(r.uint()?).ok()?;
        let exec = r.bool()?;
        let size = r.uint()?;
        let k = r.array()?;
        let mut ids = Vec::with_capacity(k.min(r.left() / 34));
        for _ in 0..k {
            ids.push(Id(r.bytes()?.try_into().ok()?));
        }
        let target = r.bytes()?.to_vec();
        entries.push(Entry(name, kind, exec, size, ids, target));
    }
    r.at_end().then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = Entry> {
        (
            "[a-z.]{1,30}",
            0u8..4,
            any::<bool>(),
            prop_oneof![Just(0u64), 0u64..30, any::<u64>()],
            proptest::collection::vec(any::<[u8; 32]>().prop_map(Id), 0..4),
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(n, k, x, s, ids, t)| Entry(n, k, x, s, ids, t))
    }

    fn general(bytes: &[u8]) -> Option<Vec<Entry>> {
        codec::decode(KIND, bytes).ok()
    }

    proptest! {
        /// The fast reader takes every tree `encode` writes, and on any bytes at all
        /// (mutated, cut, grown) never accepts what the general decoder refuses, nor reads
        /// a different value.
        #[test]
        fn the_canonical_reader_agrees_with_the_general_decoder(
            entries in proptest::collection::vec(entry(), 0..6),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 0..4),
        ) {
            let good = encode(&entries);
            prop_assert_eq!(decode_canonical(&good), Some(entries));
            let mut b = good;
            for (at, byte, how) in edits {
                let at = at % (b.len() + 1);
                match how {
                    0 if at < b.len() => b[at] = byte,
                    1 => b.insert(at, byte),
                    2 if at < b.len() => { b.remove(at); }
                    _ => b.truncate(at),
                }
            }
            let fast = decode_canonical(&b);
            if fast.is_some() {
                prop_assert_eq!(fast, general(&b));
            }
        }
    }

    #[test]
    fn the_canonical_reader_refuses_long_heads_tags_and_trailing_bytes() {
        let e = vec![Entry::file("a".into(), false, 5, vec![])];
        let good = encode(&e);
        assert!(decode_canonical(&good).is_some());
        // The size 5 written in a one-byte head (0x18 0x05) instead of inline.
        let at = good.len() - 3;
        assert_eq!(good[at], 0x05);
        let mut long = good.clone();
        long.splice(at..=at, [0x18, 0x05]);
        assert_eq!(decode_canonical(&long), None);
        assert_eq!(general(&long), None);
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(decode_canonical(&trailing), None);
        assert_eq!(general(&trailing), None);
        let mut tagged = vec![0xc0];
        tagged.extend_from_slice(&good);
        assert_eq!(decode_canonical(&tagged), None);
    }
}
