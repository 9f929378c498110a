//! The stored object types, one module each (spec/format.md, "Objects").

pub mod blob;
pub mod pack;
pub mod policy;
pub mod signed;
pub mod tree;
pub mod version;

/// Largest plaintext of one blob: chunks are far smaller; this bounds trees.
pub const MAX_BLOB_SIZE: usize = 64 * 1024 * 1024;

#[cfg(test)]
mod canonical_tests {
    //! Every map the format writes has its keys in RFC 8949 §4.2.1 order (shorter first, then
    //! bytewise), so a second implementation that sorts keys produces the same bytes.
    use crate::codec;
    use crate::crypto::keys::{EpochKeys, EpochSecret};
    use crate::id::{Bytes32, Id};
    use crate::identity::Identity;
    use crate::object::{policy::Policy, version::Seal, version::Version};
    use ciborium::Value;

    fn check(v: &Value) {
        match v {
            Value::Map(m) => {
                let keys: Vec<Vec<u8>> = m
                    .iter()
                    .map(|(k, _)| {
                        let mut b = Vec::new();
                        ciborium::into_writer(k, &mut b).unwrap();
                        b
                    })
                    .collect();
                let mut sorted = keys.clone();
                sorted.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
                assert_eq!(keys, sorted, "map keys out of canonical order: {m:?}");
                for (_, x) in m {
                    check(x);
                }
            }
            Value::Array(a) => a.iter().for_each(check),
            _ => {}
        }
    }

    fn check_bytes(b: &[u8]) {
        let v: Value = ciborium::from_reader(b).unwrap();
        check(&v);
    }

    #[test]
    fn all_maps_are_in_canonical_order() {
        let s = EpochSecret::generate();
        let k = EpochKeys::derive(0, &s);
        let me = Identity::from_secrets("x", [1; 32], [2; 32]);
        let p = me.public();
        let pol = Policy::genesis("n".into(), 1, "x".into(), p.sign, p.kx, &s).unwrap();
        check_bytes(&codec::encode("policy", &pol));
        let seal = Seal {
            root: Id::ZERO,
            bytes: 1,
            files: 1,
            message: "m".into(),
        };
        check_bytes(&codec::encode("version-seal", &seal));
        let v = Version {
            seq: 1,
            time: 2,
            epoch: 0,
            packs: vec![Id::ZERO],
            author: Bytes32(p.sign),
            sealed: seal.seal(&k, &Id::ZERO, 1),
            dataset: Id::ZERO,
            parents: vec![],
        };
        let (_, stored) = v.sign(me.signing_key());
        check_bytes(&stored);
        check_bytes(&codec::encode("version", &v));
        check_bytes(&me.to_file_bytes(None).unwrap());
        check_bytes(&me.to_file_bytes(Some("pw")).unwrap());
        let h = crate::object::pack::PackHeader { blobs: vec![] };
        check_bytes(&codec::encode("pack-header", &h));
    }
}
