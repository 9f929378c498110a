//! A pack holding a bundle (spec §6.4), and packs whose bundles every reader must refuse.

use super::{counter, h};
use coffer::codec;
use coffer::crypto::keys::EpochKeys;
use coffer::id::Id;
use coffer::object::blob::{self, COMP_BUNDLE, KIND_CHUNK};
use coffer::object::pack::{self, BlobEntry, PackBuilder, PackHeader};
use serde_json::{json, Value};

/// Three small CSV files that share their header row: what bundles are for.
fn members() -> Vec<Vec<u8>> {
    ["hackney", "camden", "barnet"]
        .iter()
        .map(|b| {
            let mut s = String::from("school,ward,places,offered\n");
            for i in 0..40 {
                s.push_str(&format!(
                    "{b} primary {i},{b} ward {},{},{}\n",
                    i % 7,
                    30 + i,
                    28 + i % 5
                ));
            }
            s.into_bytes()
        })
        .collect()
}

/// A pack of one sealed range per `(entries, sealed)` unit, its header sealed with `nonce`.
fn craft(keys: &EpochKeys, units: Vec<(Vec<BlobEntry>, Vec<u8>)>, nonce: &[u8; 12]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut blobs = Vec::new();
    for (entries, sealed) in units {
        for mut e in entries {
            e.3 = buf.len() as u64;
            e.4 = sealed.len() as u32;
            blobs.push(e);
        }
        buf.extend_from_slice(&sealed);
    }
    let plain = codec::encode(pack::KIND, &PackHeader { blobs });
    let before = buf.len();
    keys.header
        .seal_with_nonce_into(nonce, &pack::header_aad(keys.epoch), &plain, &mut buf);
    let header_len = (buf.len() - before) as u32;
    buf.extend_from_slice(&pack::trailer_bytes(pack::Trailer {
        epoch: keys.epoch,
        header_len,
    }));
    buf
}

/// Seal `body` as a bundle whose associated data names `aad_members`.
fn seal(keys: &EpochKeys, aad_members: &[BlobEntry], body: &[u8], nonce: &[u8; 12]) -> Vec<u8> {
    let aad = blob::bundle_aad(aad_members.iter().map(|m| (m.1, &m.0, m.5)));
    let mut out = Vec::new();
    keys.blob.seal_with_nonce_into(nonce, &aad, body, &mut out);
    out
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(data, 3).expect("zstd")
}

/// `(bundle, bundle_rejects)`.
pub fn vectors(keys: &EpochKeys) -> (Value, Vec<Value>) {
    let data = members();
    let ids: Vec<Id> = data
        .iter()
        .map(|d| keys.id_key.blob_id(KIND_CHUNK, d))
        .collect();
    let nonce: [u8; 12] = counter(200, 12).try_into().expect("12");
    let header_nonce: [u8; 12] = counter(232, 12).try_into().expect("12");
    let mut b = blob::Bundle::default();
    for (id, d) in ids.iter().zip(&data) {
        b.add(KIND_CHUNK, *id, d);
    }
    let mut pb = PackBuilder::default();
    for s in b.seal_with_nonce(keys, Some(&nonce)) {
        assert!(
            matches!(s, blob::Sealed::Bundle(_)),
            "the members compress together"
        );
        pb.add_sealed(s);
    }
    let (pid, bytes, _) = pb.finish_with_nonce(keys, Some(&header_nonce));
    let bundle = json!({
        "members": data.iter().zip(&ids).map(|(d, id)| json!({ "plaintext": h(d), "id": id.to_hex() })).collect::<Vec<_>>(),
        "nonce": h(&nonce), "header_nonce": h(&header_nonce), "bytes": h(&bytes), "id": pid.to_hex(),
    });

    // Rejects: each breaks one rule of §6.4 or §7.
    let entries = |ids: &[Id], lens: &[usize]| -> Vec<BlobEntry> {
        ids.iter()
            .zip(lens)
            .map(|(id, n)| BlobEntry(*id, KIND_CHUNK, COMP_BUNDLE, 0, 0, *n as u32))
            .collect()
    };
    let lens: Vec<usize> = data.iter().map(Vec::len).collect();
    let whole = data.concat();
    let good = entries(&ids, &lens);
    let mut out = Vec::new();
    let mut add = |name: &str, units: Vec<(Vec<BlobEntry>, Vec<u8>)>, error: &str| {
        let bytes = craft(keys, units, &header_nonce);
        out.push(json!({ "name": name, "id": Id::of_stored(&bytes).to_hex(), "bytes": h(&bytes), "error": error }));
    };
    // Sealed for members in one order, listed in another: the associated data differs.
    let mut swapped = good.clone();
    swapped.swap(0, 1);
    add(
        "bundle_members_reordered",
        vec![(swapped, seal(keys, &good, &zstd(&whole), &nonce))],
        "decryption failed",
    );
    // Lengths moved between members (same total): the associated data differs.
    let mut moved = good.clone();
    moved[0].5 += 1;
    moved[1].5 -= 1;
    add(
        "bundle_member_lengths_moved",
        vec![(moved, seal(keys, &good, &zstd(&whole), &nonce))],
        "decryption failed",
    );
    // A member whose id is another's, sealed consistently: only the id check catches it.
    let mut wrong = good.clone();
    wrong[2].0 = ids[0];
    add(
        "bundle_member_id_mismatch",
        vec![(wrong.clone(), seal(keys, &wrong, &zstd(&whole), &nonce))],
        "does not hash to its id",
    );
    // Two frames: a decoder would join them.
    let half = lens[0];
    let mut two = zstd(&whole[..half]);
    two.extend_from_slice(&zstd(&whole[half..]));
    add(
        "bundle_two_frames",
        vec![(good.clone(), seal(keys, &good, &two, &nonce))],
        "exactly one zstd frame",
    );
    // The frame holds a byte more than the members add up to.
    let mut longer = whole.clone();
    longer.push(b'\n');
    add(
        "bundle_longer_than_members",
        vec![(good.clone(), seal(keys, &good, &zstd(&longer), &nonce))],
        "decompression failed",
    );
    // The frame holds a byte less.
    add(
        "bundle_shorter_than_members",
        vec![(
            good.clone(),
            seal(keys, &good, &zstd(&whole[..whole.len() - 1]), &nonce),
        )],
        "length differs",
    );
    // A member that claims another length of sealed range than the rest of its bundle.
    let sealed = seal(keys, &good, &zstd(&whole), &nonce);
    let mut bytes = craft(keys, vec![(good.clone(), sealed.clone())], &header_nonce);
    {
        // Re-encode the header with member 1's length one less.
        let n = bytes.len();
        let hl = u32::from_le_bytes(bytes[n - 4..].try_into().expect("4")) as usize;
        let hs = n - 16 - hl;
        let plain = keys
            .header
            .open(&pack::header_aad(keys.epoch), &bytes[hs..n - 16])
            .expect("open");
        let mut hdr: PackHeader = codec::decode(pack::KIND, &plain).expect("header");
        hdr.blobs[1].4 -= 1;
        bytes.truncate(hs);
        keys.header.seal_with_nonce_into(
            &header_nonce,
            &pack::header_aad(keys.epoch),
            &codec::encode(pack::KIND, &hdr),
            &mut bytes,
        );
        let header_len = (bytes.len() - hs) as u32;
        bytes.extend_from_slice(&pack::trailer_bytes(pack::Trailer {
            epoch: keys.epoch,
            header_len,
        }));
    }
    out.push(json!({ "name": "bundle_member_length_differs", "id": Id::of_stored(&bytes).to_hex(), "bytes": h(&bytes), "error": "disagree on its length" }));
    // More members than a reader accepts: 4097 one-byte chunks.
    let many: Vec<Vec<u8>> = (0..4097u32).map(|i| vec![(i % 251) as u8]).collect();
    let many_ids: Vec<Id> = many
        .iter()
        .map(|d| keys.id_key.blob_id(KIND_CHUNK, d))
        .collect();
    let many_e = entries(&many_ids, &vec![1; many.len()]);
    let body = zstd(&many.concat());
    let mut out2 = out;
    let bytes = craft(
        keys,
        vec![(many_e.clone(), seal(keys, &many_e, &body, &nonce))],
        &header_nonce,
    );
    out2.push(json!({ "name": "bundle_too_many_members", "id": Id::of_stored(&bytes).to_hex(), "bytes": h(&bytes), "error": "too large" }));
    // An unknown compression byte.
    let mut three = good.clone();
    for e in &mut three {
        e.2 = 3;
    }
    let bytes = craft(
        keys,
        vec![(three, seal(keys, &good, &zstd(&whole), &nonce))],
        &header_nonce,
    );
    out2.push(json!({ "name": "pack_unknown_compression_3", "id": Id::of_stored(&bytes).to_hex(), "bytes": h(&bytes), "error": "unknown blob kind or compression" }));
    // A skippable frame holding junk: it decodes to nothing, like the two empty members.
    let empty_id = keys.id_key.blob_id(KIND_CHUNK, b"");
    let empties = entries(&[empty_id, empty_id], &[0, 0]);
    let mut skippable = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0];
    skippable.extend_from_slice(b"junk");
    let bytes = craft(
        keys,
        vec![(empties.clone(), seal(keys, &empties, &skippable, &nonce))],
        &header_nonce,
    );
    out2.push(json!({ "name": "bundle_skippable_frame", "id": Id::of_stored(&bytes).to_hex(), "bytes": h(&bytes), "error": "exactly one zstd frame" }));
    // Trees in a bundle: only chunks may be bundled.
    let mut trees = good.clone();
    for e in &mut trees {
        e.1 = blob::KIND_TREE;
    }
    let bytes = craft(
        keys,
        vec![(trees.clone(), seal(keys, &trees, &zstd(&whole), &nonce))],
        &header_nonce,
    );
    out2.push(json!({ "name": "bundle_of_trees", "id": Id::of_stored(&bytes).to_hex(), "bytes": h(&bytes), "error": "only chunks" }));
    // Two members of 1 MiB + 1 byte each: more plaintext than a bundle may hold (2 MiB).
    let big: Vec<Vec<u8>> = (0..2u8).map(|i| vec![b'a' + i; (1 << 20) + 1]).collect();
    let big_ids: Vec<Id> = big
        .iter()
        .map(|d| keys.id_key.blob_id(KIND_CHUNK, d))
        .collect();
    let big_e = entries(&big_ids, &[(1 << 20) + 1, (1 << 20) + 1]);
    let bytes = craft(
        keys,
        vec![(
            big_e.clone(),
            seal(keys, &big_e, &zstd(&big.concat()), &nonce),
        )],
        &header_nonce,
    );
    out2.push(json!({ "name": "bundle_over_2_mib", "id": Id::of_stored(&bytes).to_hex(), "bytes": h(&bytes), "error": "too large" }));
    (bundle, out2)
}
