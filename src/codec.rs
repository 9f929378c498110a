//! Canonical CBOR envelopes: `["coffer", kind, version, body]`, one value, one encoding
//! (spec/format.md, "Encoding").
//!
//! Decoding checks magic, kind and version first, then the body, then re-encodes and
//! compares bytes, so any non-canonical or trailing input is rejected.

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
    let (magic, found_kind, version, IgnoredAny): (String, String, u64, IgnoredAny) =
        ciborium::from_reader(bytes).map_err(|e| malformed(format!("not a coffer object: {e}")))?;
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
    let (_, _, _, body): (String, String, u64, T) =
        ciborium::from_reader(bytes).map_err(|e| malformed(e.to_string()))?;
    if encode(kind, &body) != bytes {
        return Err(malformed("not in canonical encoding".into()));
    }
    Ok(body)
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
