//! Typed 32-byte identifiers: BLAKE3 outputs that name blobs, packs, versions and policies.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A 32-byte identifier. Shown as 64 lowercase hex digits; encoded in CBOR as a byte string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id(pub [u8; 32]);

impl Id {
    /// The all-zero id, used only as a placeholder in errors about unnamed objects.
    pub const ZERO: Id = Id([0; 32]);

    /// Plain BLAKE3 of `bytes`: the name of every stored object (packs, versions, policies).
    pub fn of_stored(bytes: &[u8]) -> Id {
        Id(*blake3::hash(bytes).as_bytes())
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parse 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Id> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Id(out))
    }

    /// The first 12 hex digits, for people.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

/// A byte string in CBOR (the format); 64 hex digits in human-readable formats (JSON output).
impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            return Id::from_hex(&s)
                .ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"));
        }
        let b = Bytes32::deserialize(d)?;
        Ok(Id(b.0))
    }
}

/// A fixed 32-byte CBOR byte string (public keys, seeds); rejects any other length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Bytes32(pub [u8; 32]);

impl fmt::Debug for Bytes32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes32({})", hex::encode(&self.0[..6]))
    }
}

impl Serialize for Bytes32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Bytes32;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a 32-byte byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes32, E> {
                let a: [u8; 32] = v
                    .try_into()
                    .map_err(|_| E::invalid_length(v.len(), &self))?;
                Ok(Bytes32(a))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A set of ids that grows to millions (the blobs one commit stores) at about 32 bytes an
/// id: a sorted run plus a small unsorted tail, merged when the tail reaches a quarter of
/// the run. A hash set costs 33 bytes a slot at up to twice the ids, and three times that
/// while it grows.
#[derive(Default)]
pub struct IdSet {
    sorted: Vec<Id>,
    tail: std::collections::HashSet<Id>,
}

impl IdSet {
    /// Add `id`; false if it was there.
    pub fn insert(&mut self, id: Id) -> bool {
        if self.sorted.binary_search(&id).is_ok() || !self.tail.insert(id) {
            return false;
        }
        if self.tail.len() >= (self.sorted.len() / 4).max(4096) {
            self.merge();
        }
        true
    }

    /// Merge the tail into the run from the back, in place: O(run) moves, and the run
    /// grows where it is (large vectors are remapped, not copied).
    fn merge(&mut self) {
        let mut tail: Vec<Id> = std::mem::take(&mut self.tail).into_iter().collect();
        tail.sort_unstable();
        let n = self.sorted.len();
        self.sorted.reserve_exact(tail.len());
        self.sorted.resize(n + tail.len(), Id::default());
        let (mut i, mut w) = (n, n + tail.len());
        while let Some(t) = tail.last() {
            w -= 1;
            if i > 0 && self.sorted[i - 1] > *t {
                i -= 1;
                self.sorted[w] = self.sorted[i];
            } else {
                self.sorted[w] = *t;
                tail.pop();
            }
        }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &Id) -> bool {
        self.sorted.binary_search(id).is_ok() || self.tail.contains(id)
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.tail.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The same answers as a hash set, across merges (ids drawn from a small range so
        /// that repeats are common).
        #[test]
        fn an_id_set_is_a_set(ops in proptest::collection::vec(0u16..12_000, 0..30_000)) {
            let mut set = IdSet::default();
            let mut model = std::collections::HashSet::new();
            for n in ops {
                let mut b = [0u8; 32];
                b[..2].copy_from_slice(&n.to_be_bytes());
                b[31] = n as u8;
                let id = Id(b);
                prop_assert_eq!(set.insert(id), model.insert(id));
                prop_assert!(set.contains(&id));
                prop_assert_eq!(set.len(), model.len());
            }
            prop_assert!(set.sorted.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
