//! The stored object types, one module each (spec/format.md, "Objects").

pub mod blob;
pub mod checkpoint;
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
        // A later policy, with every optional field present.
        let mut later = pol.clone();
        later.seq = 1;
        later.dataset = Some(Id::ZERO);
        later.previous = Some(Id::ZERO);
        later.heads = Some(vec![Id::ZERO]);
        later.audit = Some(crate::object::policy::Audit {
            expiry: 60,
            quorum: 1,
            strict: true,
            witnesses: vec![crate::object::policy::Witness("w".into(), Bytes32([3; 32]))],
        });
        check_bytes(&codec::encode("policy", &later));
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
            policy: Id::ZERO,
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

#[cfg(test)]
mod fuzz_tests {
    //! Random and mutated bytes into every decoder of stored objects: errors, never panics.
    use crate::crypto::keys::{EpochKeys, EpochSecret};
    use crate::id::Id;
    use crate::object::{blob, pack, policy::Policy, tree, version::Version};
    use proptest::prelude::*;

    fn keys() -> EpochKeys {
        EpochKeys::derive(0, &EpochSecret::from_bytes(&[5u8; 64]).unwrap())
    }

    /// A valid signed version (0), signed genesis policy (1) or tree (2), as stored.
    fn valid_object(which: u8) -> Vec<u8> {
        use crate::id::Bytes32;
        use crate::identity::Identity;
        use crate::object::version::Seal;
        let s = EpochSecret::from_bytes(&[5u8; 64]).unwrap();
        let me = Identity::from_secrets("camden", [1; 32], [2; 32]);
        let p = me.public();
        match which {
            0 => {
                let seal = Seal {
                    root: Id([7; 32]),
                    bytes: 10,
                    files: 1,
                    message: "April".into(),
                };
                let v = Version {
                    seq: 2,
                    time: 1_700_000_000,
                    epoch: 0,
                    packs: vec![Id([8; 32]), Id([9; 32])],
                    author: Bytes32(p.sign),
                    policy: Id([3; 32]),
                    sealed: seal.seal(&keys(), &Id([3; 32]), 2),
                    dataset: Id([3; 32]),
                    parents: vec![Id([4; 32])],
                };
                v.sign(me.signing_key()).1
            }
            1 => {
                let pol = Policy::genesis("housing".into(), 1, "camden".into(), p.sign, p.kx, &s)
                    .unwrap();
                pol.sign(me.signing_key()).1
            }
            _ => tree::encode(&[
                tree::Entry::file("a.csv".into(), false, 0, vec![]),
                tree::Entry::dir("b".into(), Id([6; 32])),
                tree::Entry::symlink("c".into(), b"a.csv".to_vec()),
            ]),
        }
    }

    proptest! {
        #[test]
        fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let id = Id::of_stored(&bytes);
            let _ = Version::open(&id, &bytes);
            let _ = Policy::open(&id, &bytes);
            let _ = tree::decode(&id, &bytes);
            let _ = pack::open_pack(|_| Some(keys()), &id, &bytes);
            let _ = pack::parse_trailer(&id, bytes.len() as u64, &bytes);
        }

        /// Valid objects with edited bodies (bytes overwritten, inserted, removed), each named
        /// by its new hash so only the decoder and the signature stand in the way: a signed
        /// version or policy never opens once changed; a tree that still decodes re-encodes
        /// to exactly the changed bytes (only canonical encodings are accepted).
        #[test]
        fn mutated_valid_objects(
            which in 0u8..3,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..4),
        ) {
            let original = valid_object(which);
            let mut m = original.clone();
            for (pos, byte, how) in edits {
                let i = pos % (m.len() + 1);
                match how {
                    0 if i < m.len() => m[i] = byte,
                    1 => m.insert(i, byte),
                    _ if i < m.len() => { m.remove(i); }
                    _ => {}
                }
            }
            prop_assume!(m != original);
            let id = Id::of_stored(&m);
            match which {
                0 => prop_assert!(Version::open(&id, &m).is_err(), "a changed version opened"),
                1 => prop_assert!(Policy::open(&id, &m).is_err(), "a changed policy opened"),
                _ => {
                    if let Ok(entries) = tree::decode(&id, &m) {
                        prop_assert_eq!(tree::encode(&entries), m, "a non-canonical tree decoded");
                    }
                }
            }
        }

        /// Any mix of blobs and bundles packs and opens back to each blob's bytes, through
        /// the unit that holds it; one flipped bit anywhere in the pack stops the unit it
        /// lands in (or the header) from opening.
        #[test]
        fn bundles_round_trip(
            files in proptest::collection::vec((0usize..3000, 0u8..4, any::<bool>()), 1..40),
            flip in any::<usize>(), bit in 0u8..8,
        ) {
            let k = keys();
            let mut plain = Vec::new();
            let mut pb = pack::PackBuilder::default();
            let mut bundle = blob::Bundle::default();
            for (n, seed, noise) in files {
                let data: Vec<u8> = if noise {
                    (0..n).map(|i| (i as u8).wrapping_mul(151).wrapping_add(seed) ^ (i >> 3) as u8).collect()
                } else {
                    format!("ward {seed},places\n").repeat(n / 14 + 1).into_bytes()
                };
                let id = k.id_key.blob_id(blob::KIND_CHUNK, &data);
                bundle.add(blob::KIND_CHUNK, id, &data);
                plain.push((id, data));
                if bundle.is_full() || seed == 0 {
                    for s in std::mem::take(&mut bundle).seal(&k) {
                        pb.add_sealed(s);
                    }
                }
            }
            for s in bundle.seal(&k) {
                pb.add_sealed(s);
            }
            let (pid, bytes, header) = pb.finish(&k);
            let mut bytes = bytes.to_vec();
            let (_, opened) = pack::open_pack(|_| Some(k.clone()), &pid, &bytes).unwrap();
            prop_assert_eq!(&opened, &header);
            prop_assert_eq!(header.blobs.len(), plain.len());
            for (i, (id, data)) in plain.iter().enumerate() {
                let e = &header.blobs[i];
                prop_assert_eq!(e.id(), *id);
                let s = e.offset() as usize;
                let got = blob::open_at(&k, &header.blobs, i, &bytes[s..s + e.length() as usize]).unwrap();
                prop_assert_eq!(&got, data);
            }
            let at = flip % bytes.len();
            bytes[at] ^= 1 << bit;
            let pid = Id::of_stored(&bytes);
            let all = pack::open_pack(|_| Some(k.clone()), &pid, &bytes).and_then(|(_, h)| {
                for (i, e) in h.blobs.iter().enumerate() {
                    let s = e.offset() as usize;
                    blob::open_at(&k, &h.blobs, i, &bytes[s..s + e.length() as usize])?;
                }
                Ok(())
            });
            prop_assert!(all.is_err(), "flip of bit {} at byte {} went unnoticed", bit, at);
        }

        #[test]
        fn mutated_pack(flip in 0usize..4000, bit in 0u8..8) {
            let k = keys();
            let mut b = pack::PackBuilder::default();
            let data = b"row,1,2,3\n".repeat(50);
            let id = k.id_key.blob_id(0, &data);
            b.add(crate::object::blob::seal(&k, 0, id, &data));
            let mut bytes = b.finish(&k).1.to_vec();
            let i = flip % bytes.len();
            bytes[i] ^= 1 << bit;
            // Named by its new hash, so only the structure and the AEAD stand in the way:
            // every single-bit flip must make the header or the blob fail to open.
            let pid = Id::of_stored(&bytes);
            let opened = pack::open_pack(|_| Some(k.clone()), &pid, &bytes).and_then(|(_, h)| {
                let e = &h.blobs[0];
                let s = e.offset() as usize;
                crate::object::blob::open(&k, e.kind(), e.comp(), e.raw_len(), &e.id(), &bytes[s..s + e.length() as usize])
            });
            prop_assert!(opened.is_err(), "flip of bit {} at byte {} went unnoticed", bit, i);
        }
    }
}
