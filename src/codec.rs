//! Canonical CBOR envelopes: `["coffer", kind, version, body]`, one value, one encoding
//! (spec/format.md, "Encoding").
//!
//! Decoding checks magic, kind and version first, then the body, then re-encodes and
//! compares bytes, so any non-canonical or trailing input is rejected. [`Canonical`] reads
//! the same bytes faster for hot paths (trees), accepting only what `encode` writes.

use crate::error::{Error, Result};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;

/// The magic text that opens every envelope.
pub const MAGIC: &str = "coffer";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// Encode `body` as the envelope of `kind`.
pub fn encode<T: Serialize>(kind: &str, body: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Serializing plain serde data into a Vec cannot fail.
    ciborium::into_writer(&(MAGIC, kind, FORMAT_VERSION, body), &mut out)
        .unwrap_or_else(|e| unreachable!("CBOR encoding into memory failed: {e}"));
    out
}

/// Decode the envelope of `kind`, rejecting other kinds, other versions and non-canonical bytes.
pub fn decode<T: DeserializeOwned + Serialize>(kind: &'static str, bytes: &[u8]) -> Result<T> {
    let malformed = |reason: String| Error::Malformed { what: kind, reason };
    // One parse in the common case; the header alone is parsed again only to name what is
    // wrong when the whole does not parse.
    let parsed: std::result::Result<(String, String, u64, T), _> = ciborium::from_reader(bytes);
    let (magic, found_kind, version, body) = match parsed {
        Ok(all) => all,
        Err(e) => {
            let (magic, found_kind, version, IgnoredAny): (String, String, u64, IgnoredAny) =
                ciborium::from_reader(bytes)
                    .map_err(|e| malformed(format!("not a coffer object: {e}")))?;
            check_header(kind, &magic, &found_kind, version)?;
            return Err(malformed(e.to_string()));
        }
    };
    check_header(kind, &magic, &found_kind, version)?;
    if encode(kind, &body) != bytes {
        return Err(malformed("not in canonical encoding".into()));
    }
    Ok(body)
}

fn check_header(kind: &'static str, magic: &str, found_kind: &str, version: u64) -> Result<()> {
    let malformed = |reason: String| Error::Malformed { what: kind, reason };
    if magic != MAGIC {
        return Err(malformed("not a coffer object (bad magic)".into()));
    }
    if found_kind != kind {
        return Err(malformed(format!(
            "expected a {kind}, found a {found_kind:.40}"
        )));
    }
    if version != FORMAT_VERSION {
        return Err(Error::UnknownVersion {
            what: kind,
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(())
}

/// A reader of exactly the CBOR [`encode`] writes: shortest-form heads, definite lengths,
/// no tags, nothing after the value. Whatever it accepts, [`decode`] accepts with the same
/// value; anything else returns `None`, and the caller falls back to [`decode`], which says
/// what is wrong.
pub struct Canonical<'b> {
    b: &'b [u8],
}

impl<'b> Canonical<'b> {
    /// Start at the envelope of `kind`: `["coffer", kind, version, ...`, positioned at the
    /// body.
    pub fn envelope(bytes: &'b [u8], kind: &str) -> Option<Self> {
        let mut r = Canonical { b: bytes };
        (r.array()? == 4 && r.text()? == MAGIC && r.text()? == kind && r.uint()? == FORMAT_VERSION)
            .then_some(r)
    }

    /// Bytes not yet read.
    pub fn left(&self) -> usize {
        self.b.len()
    }

    /// Whether everything was read.
    pub fn at_end(&self) -> bool {
        self.b.is_empty()
    }

    fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Some(head)
    }

    /// A head of major type `major` with its argument, in shortest form only.
    fn head(&mut self, major: u8) -> Option<u64> {
        let first = *self.take(1)?.first()?;
        if first >> 5 != major {
            return None;
        }
        let (len, min) = match first & 31 {
            n @ 0..=23 => return Some(u64::from(n)),
            24 => (1, 24),
            25 => (2, 0x100),
            26 => (4, 0x1_0000),
            27 => (8, 0x1_0000_0000),
            _ => return None,
        };
        let v = self
            .take(len)?
            .iter()
            .fold(0u64, |v, b| (v << 8) | u64::from(*b));
        (v >= min).then_some(v)
    }

    /// An unsigned integer.
    pub fn uint(&mut self) -> Option<u64> {
        self.head(0)
    }

    /// An array's length.
    pub fn array(&mut self) -> Option<usize> {
        usize::try_from(self.head(4)?).ok()
    }

    /// A byte string.
    pub fn bytes(&mut self) -> Option<&'b [u8]> {
        let n = usize::try_from(self.head(2)?).ok()?;
        self.take(n)
    }

    /// A text string (UTF-8).
    pub fn text(&mut self) -> Option<&'b str> {
        let n = usize::try_from(self.head(3)?).ok()?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    /// `false` or `true`.
    pub fn bool(&mut self) -> Option<bool> {
        match *self.take(1)?.first()? {
            0xf4 => Some(false),
            0xf5 => Some(true),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Body {
        n: u64,
        s: String,
    }

    #[test]
    fn round_trip_and_reject() {
        let b = Body {
            n: 7,
            s: "x".into(),
        };
        let bytes = encode("thing", &b);
        assert_eq!(decode::<Body>("thing", &bytes).unwrap(), b);
        assert!(matches!(
            decode::<Body>("other", &bytes),
            Err(Error::Malformed { .. })
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode::<Body>("thing", &trailing).is_err());
        let v2 = {
            let mut out = Vec::new();
            ciborium::into_writer(&(MAGIC, "thing", 2u64, &b), &mut out).unwrap();
            out
        };
        assert!(matches!(
            decode::<Body>("thing", &v2),
            Err(Error::UnknownVersion { found: 2, .. })
        ));
    }

    #[test]
    fn rejects_non_minimal_integer() {
        // version 1 encoded as a two-byte integer (0x18 0x01) instead of 0x01.
        let b = Body {
            n: 1,
            s: String::new(),
        };
        let good = encode("thing", &b);
        let pos = good.iter().position(|&x| x == 0x01).unwrap();
        let mut bad = good[..pos].to_vec();
        bad.extend_from_slice(&[0x18, 0x01]);
        bad.extend_from_slice(&good[pos + 1..]);
        assert!(decode::<Body>("thing", &bad).is_err());
    }

    #[test]
    fn huge_declared_lengths_do_not_panic() {
        // array(4) "coffer" "thing" 1 then a byte string claiming 2^62 bytes.
        let mut b = encode("thing", &0u8);
        b.pop();
        b.extend_from_slice(&[0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0]);
        assert!(decode::<serde_bytes::ByteBuf>("thing", &b).is_err());
        let mut a = encode("thing", &0u8);
        a.pop();
        a.extend_from_slice(&[0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0]);
        assert!(decode::<Vec<u64>>("thing", &a).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode::<Body>("thing", &bytes);
            let _ = decode::<Vec<crate::id::Id>>("thing", &bytes);
        }

        #[test]
        fn round_trip(n in any::<u64>(), s in ".*") {
            let b = Body { n, s };
            let bytes = encode("thing", &b);
            prop_assert_eq!(decode::<Body>("thing", &bytes).unwrap(), b);
        }
    }
}
