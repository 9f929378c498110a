//! Writes `testdata/vectors.json`: known-answer vectors for format version 1, from fixed
//! inputs (counter bytes and BLAKE3 XOF streams), with fixed nonces where the format uses
//! random ones. Run: `cargo run --bin coffer-vectors > testdata/vectors.json`.
//!
//! `tests/vectors.rs` recomputes every value with the library and compares.

use coffer::codec;
use coffer::crypto::keys::{EpochKeys, EpochSecret};
use coffer::crypto::{self, wrap};
use coffer::id::{Bytes32, Id};
use coffer::identity::Identity;
use coffer::object::blob::{self, KIND_CHUNK, KIND_TREE};
use coffer::object::pack::PackBuilder;
use coffer::object::policy::Policy;
use coffer::object::tree::{self, Entry};
use coffer::object::version::{Seal, Version};
use serde_json::{json, Value};

/// Counter bytes `start, start+1, ...` (mod 256).
fn counter(start: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| start.wrapping_add(i as u8)).collect()
}

/// The test input stream: BLAKE3 XOF in derive-key mode with context "coffer test vectors input".
fn stream(n: usize) -> Vec<u8> {
    let mut out = vec![0; n];
    blake3::Hasher::new_derive_key("coffer test vectors input")
        .finalize_xof()
        .fill(&mut out);
    out
}

/// Deterministic RNG for the one HPKE wrap (its output is checked by decryption only).
struct XofRng(blake3::OutputReader);
impl rand_core::RngCore for XofRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.0.fill(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.0.fill(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, d: &mut [u8]) {
        self.0.fill(d)
    }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill(d);
        Ok(())
    }
}
impl rand_core::CryptoRng for XofRng {}

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

fn secret() -> EpochSecret {
    let c = counter(0, 64);
    EpochSecret::from_bytes(&c).expect("64 bytes")
}

fn main() {
    let s = secret();
    let keys = EpochKeys::derive(0, &s);
    let ident = Identity::from_secrets(
        "camden",
        counter(64, 32).try_into().expect("32"),
        counter(96, 32).try_into().expect("32"),
    );
    let public = ident.public();

    let derived = json!({
        "blob_key": h(&blake3::derive_key(crypto::LABEL_BLOB_KEY, &s.data_key)),
        "pack_header_key": h(&blake3::derive_key(crypto::LABEL_PACK_HEADER_KEY, &s.data_key)),
        "seal_key": h(&blake3::derive_key(crypto::LABEL_SEAL_KEY, &s.data_key)),
        "blob_id_key": h(&blake3::derive_key(crypto::LABEL_BLOB_ID_KEY, &s.dedup_key)),
        "gear_table_first4": keys.gear[..4].iter().map(|g| format!("{g:016x}")).collect::<Vec<_>>(),
        "gear_table_last": format!("{:016x}", keys.gear[255]),
    });

    // Chunking: cut points of the test stream at several lengths, including the boundaries.
    let mut chunking = Vec::new();
    for len in [0usize, 1, 131_072, 131_073, 2_097_152, 2_097_153, 6_000_000] {
        let data = stream(len);
        let mut c = coffer::chunking::Chunker::new(&data[..], keys.gear.clone());
        let mut cuts = Vec::new();
        let mut ids = Vec::new();
        let mut at = 0u64;
        while let Some(ch) = c.next_chunk().expect("in memory") {
            at += ch.len() as u64;
            cuts.push(at);
            ids.push(keys.id_key.blob_id(KIND_CHUNK, ch).to_hex());
        }
        chunking.push(json!({ "len": len, "cuts": cuts, "chunk_ids": ids }));
    }

    // Blobs: one incompressible, one compressible, one empty, one tree.
    let mut blobs = Vec::new();
    let mut sealed_blobs = Vec::new();
    let inputs: Vec<(&str, u8, Vec<u8>)> = vec![
        ("chunk_incompressible", KIND_CHUNK, stream(300)),
        (
            "chunk_compressible",
            KIND_CHUNK,
            b"borough,places\n".repeat(200),
        ),
        ("chunk_empty", KIND_CHUNK, Vec::new()),
    ];
    for (i, (name, kind, data)) in inputs.iter().enumerate() {
        let id = keys.id_key.blob_id(*kind, data);
        let nonce: [u8; 12] = counter(200 + i as u8, 12).try_into().expect("12");
        let b = blob::seal_with_nonce(&keys, *kind, id, data, Some(&nonce));
        blobs.push(json!({
            "name": name, "kind": kind, "plaintext": h(data), "id": id.to_hex(),
            "nonce": h(&nonce), "comp": b.comp, "sealed": h(&b.sealed),
        }));
        sealed_blobs.push(b);
    }
    let entries = vec![
        Entry::file("empty.csv".into(), false, 0, vec![]),
        Entry::file(
            "places.csv".into(),
            false,
            3000,
            vec![Id::from_hex(blobs[1]["id"].as_str().expect("id")).expect("hex")],
        ),
        Entry::symlink("latest".into(), b"places.csv".to_vec()),
        Entry::dir("sub".into(), Id([7; 32])),
        Entry::file(
            "run.sh".into(),
            true,
            300,
            vec![Id::from_hex(blobs[0]["id"].as_str().expect("id")).expect("hex")],
        ),
    ];
    let mut entries = entries;
    entries.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
    let tree_bytes = tree::encode(&entries);
    let tree_id = keys.id_key.blob_id(KIND_TREE, &tree_bytes);
    let tree_nonce: [u8; 12] = counter(220, 12).try_into().expect("12");
    let tb = blob::seal_with_nonce(&keys, KIND_TREE, tree_id, &tree_bytes, Some(&tree_nonce));
    let tree_v = json!({ "encoded": h(&tree_bytes), "id": tree_id.to_hex(), "nonce": h(&tree_nonce), "comp": tb.comp, "sealed": h(&tb.sealed) });
    sealed_blobs.push(tb);

    let mut pb = PackBuilder::default();
    for b in sealed_blobs {
        pb.add(b);
    }
    let header_nonce: [u8; 12] = counter(240, 12).try_into().expect("12");
    let (pack_id, pack_bytes, _) = pb.finish_with_nonce(&keys, Some(&header_nonce));
    let pack_v = json!({ "header_nonce": h(&header_nonce), "bytes": h(&pack_bytes), "id": pack_id.to_hex() });

    // Genesis policy (HPKE randomness from XofRng) and a version on it.
    let mut rng = XofRng(blake3::Hasher::new_derive_key("coffer test vectors rng").finalize_xof());
    let policy = Policy::genesis_with_rng(
        "schools".into(),
        1_780_000_000,
        "camden".into(),
        public.sign,
        public.kx,
        &s,
        &mut rng,
    )
    .expect("genesis");
    let (dataset, policy_bytes) = policy.sign(ident.signing_key());
    let w = &policy.wraps[0];
    let wrap_v = json!({
        "recipient_secret": h(ident.kx_secret()), "recipient_public": h(&public.kx),
        "epoch": w.1, "enc": h(&w.2 .0), "ct": h(&w.3), "info": h(crypto::HPKE_INFO_WRAP),
        "aad": h(&wrap::wrap_aad(w.1)), "plaintext": h(s.to_bytes().as_slice()),
    });
    // A second policy: hackney (X25519 secret = counter bytes from 0x80) becomes a reader.
    let hackney = Identity::from_secrets(
        "hackney",
        counter(160, 32).try_into().expect("32"),
        counter(128, 32).try_into().expect("32"),
    );
    let hp = hackney.public();
    let mut members = policy.members.clone();
    members.push(coffer::object::policy::Member(
        "hackney".into(),
        "reader".into(),
        Bytes32(hp.sign),
        Bytes32(hp.kx),
    ));
    members.sort_by(|a, b| a.label().cmp(b.label()));
    let wraps = members
        .iter()
        .map(|m| {
            let (enc, ct) = wrap::wrap(m.kx_key(), 0, &s, &mut rng).expect("wrap");
            coffer::object::policy::Wrap(Bytes32(*m.kx_key()), 0, Bytes32(enc), ct)
        })
        .collect();
    let p1 = Policy {
        seq: 1,
        name: policy.name.clone(),
        time: 1_780_000_050,
        epoch: 0,
        wraps,
        signer: Bytes32(public.sign),
        dataset: Some(dataset),
        members,
        previous: Some(dataset),
    };
    let (p1_id, p1_bytes) = p1.sign(ident.signing_key());
    let seal = Seal {
        root: tree_id,
        bytes: 3300,
        files: 3,
        message: "March export".into(),
    };
    let seal_nonce: [u8; 12] = counter(250, 12).try_into().expect("12");
    let version = Version {
        seq: 1,
        time: 1_780_000_100,
        epoch: 0,
        packs: vec![pack_id],
        author: Bytes32(public.sign),
        policy: dataset,
        sealed: seal.seal_with_nonce(&keys, &dataset, 1, &seal_nonce),
        dataset,
        parents: vec![],
    };
    let (vid, vbytes) = version.sign(ident.signing_key());

    // A push claim building on the dataset after policy_next with no versions yet, carrying
    // the version above.
    let claim_state = coffer::remote::claim::state_id(&dataset, &p1_id, &[]);
    let claim = coffer::remote::claim::Claim {
        policies: vec![],
        versions: vec![vbytes.clone().into()],
    };
    let claim_v = json!({
        "dataset": dataset.to_hex(), "policy_tip": p1_id.to_hex(), "heads": [],
        "state_id": claim_state.to_hex(),
        "heads_v": [vid.to_hex()],
        "state_id_v": coffer::remote::claim::state_id(&dataset, &p1_id, &[vid]).to_hex(),
        "stored": h(&claim.encode()),
    });

    // Named rejections: each must fail to decode or verify.
    let mut rejects = Vec::new();
    let mut flip = |name: &str, kind: &str, id: &Id, bytes: &[u8], at: usize, error: &str| {
        let mut b = bytes.to_vec();
        b[at] ^= 0x01;
        rejects.push(json!({ "name": name, "kind": kind, "id": id.to_hex(), "bytes": h(&b), "error": error }));
    };
    flip(
        "version_flipped_last_signature_byte",
        "version",
        &vid,
        &vbytes,
        vbytes.len() - 1,
        "does not hash to its name",
    );
    flip(
        "pack_flipped_first_blob_byte",
        "pack",
        &pack_id,
        &pack_bytes,
        20,
        "does not hash to its name",
    );
    let mut raw = Vec::new();
    ciborium::into_writer(&("coffer", "tree", 2u64, &entries), &mut raw).expect("mem");
    rejects.push(json!({ "name": "tree_unknown_format_version", "kind": "tree", "id": Id::ZERO.to_hex(), "bytes": h(&raw), "error": "format version 2" }));
    let mut noncanon = tree_bytes.clone();
    // The format version 1 is byte 0x01 after "tree"; re-encode it as 0x18 0x01.
    let pos = 1 + 7 + 5;
    assert_eq!(noncanon[pos], 0x01);
    noncanon.splice(pos..pos + 1, [0x18, 0x01]);
    rejects.push(json!({ "name": "tree_non_minimal_integer", "kind": "tree", "id": Id::ZERO.to_hex(), "bytes": h(&noncanon), "error": "not in canonical encoding" }));
    let dotdot = codec::encode(
        tree::KIND,
        &vec![Entry::file("..".into(), false, 0, vec![])],
    );
    rejects.push(json!({ "name": "tree_name_dot_dot", "kind": "tree", "id": Id::ZERO.to_hex(), "bytes": h(&dotdot), "error": "escape" }));

    let out: Value = json!({
        "format_version": codec::FORMAT_VERSION,
        "inputs": {
            "data_key": h(&s.data_key), "dedup_key": h(&s.dedup_key),
            "sign_seed": h(&counter(64, 32)), "kx_secret": h(&counter(96, 32)),
            "stream": "BLAKE3 XOF, derive-key mode, context \"coffer test vectors input\"",
        },
        "derived": derived,
        "public_identity": public.to_string(),
        "identity_file": h(&ident.to_file_bytes(None).expect("unlocked")),
        "chunking": chunking,
        "blobs": blobs,
        "tree": tree_v,
        "pack": pack_v,
        "policy": { "stored": h(&policy_bytes), "dataset_id": dataset.to_hex() },
        "policy_next": {
            "stored": h(&p1_bytes), "id": p1_id.to_hex(),
            "reader_kx_secret": h(&counter(128, 32)), "reader_sign_seed": h(&counter(160, 32)),
        },
        "wrap": wrap_v,
        "version": { "seal_nonce": h(&seal_nonce), "stored": h(&vbytes), "id": vid.to_hex(), "message": "March export" },
        "claim": claim_v,
        "rejects": rejects,
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}
