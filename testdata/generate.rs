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

#[path = "generate/bundle.rs"]
mod bundle;
#[path = "generate/people.rs"]
mod people;
#[path = "generate/rejects.rs"]
mod rejects;

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

    // Blobs: one incompressible, one compressible, one empty; then trees.
    let mut blobs = Vec::new();
    let mut chunk_blobs = Vec::new();
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
        chunk_blobs.push(b);
    }
    let chunk_id = |i: usize| Id::from_hex(blobs[i]["id"].as_str().expect("id")).expect("hex");
    // An empty folder, and the root naming it, both files and a link.
    let sub_bytes = tree::encode(&[]);
    let sub_id = keys.id_key.blob_id(KIND_TREE, &sub_bytes);
    let mut entries = vec![
        Entry::file("empty.csv".into(), false, 0, vec![]),
        Entry::file("places.csv".into(), false, 3000, vec![chunk_id(1)]),
        Entry::symlink("latest".into(), b"places.csv".to_vec()),
        Entry::dir("sub".into(), sub_id),
        Entry::file("run.sh".into(), true, 300, vec![chunk_id(0)]),
    ];
    entries.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
    let tree_bytes = tree::encode(&entries);
    let tree_id = keys.id_key.blob_id(KIND_TREE, &tree_bytes);
    let tree_nonce: [u8; 12] = counter(220, 12).try_into().expect("12");
    let sub_nonce: [u8; 12] = counter(221, 12).try_into().expect("12");
    let tb = blob::seal_with_nonce(&keys, KIND_TREE, tree_id, &tree_bytes, Some(&tree_nonce));
    let sb = blob::seal_with_nonce(&keys, KIND_TREE, sub_id, &sub_bytes, Some(&sub_nonce));
    let tree_v = json!({
        "encoded": h(&tree_bytes), "id": tree_id.to_hex(), "nonce": h(&tree_nonce), "comp": tb.comp, "sealed": h(&tb.sealed),
        "sub_encoded": h(&sub_bytes), "sub_id": sub_id.to_hex(), "sub_nonce": h(&sub_nonce), "sub_comp": sb.comp, "sub_sealed": h(&sb.sealed),
    });

    // Chunks and trees go to packs of their own (spec §7).
    let mut pb = PackBuilder::default();
    for b in chunk_blobs {
        pb.add(b);
    }
    let header_nonce: [u8; 12] = counter(240, 12).try_into().expect("12");
    let (pack_id, pack_bytes, _) = pb.finish_with_nonce(&keys, Some(&header_nonce));
    let mut tp = PackBuilder::default();
    tp.add(sb);
    tp.add(tb);
    let tree_header_nonce: [u8; 12] = counter(241, 12).try_into().expect("12");
    let (tree_pack_id, tree_pack_bytes, _) = tp.finish_with_nonce(&keys, Some(&tree_header_nonce));
    let pack_v = json!({
        "header_nonce": h(&header_nonce), "bytes": h(&pack_bytes), "id": pack_id.to_hex(),
        "tree_header_nonce": h(&tree_header_nonce), "tree_bytes": h(&tree_pack_bytes), "tree_id": tree_pack_id.to_hex(),
    });

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
    // A second policy: hackney (X25519 secret = counter bytes from 0x80) becomes a reader, the
    // GLA (seed from 0xc0, X25519 from 0xe0) an admin.
    let hackney = people::hackney();
    let gla = people::gla();
    let mut members = policy.members.clone();
    members.push(people::member("hackney", "reader", &hackney));
    members.push(people::member("gla", "admin", &gla));
    members.sort_by(|a, b| a.label().as_bytes().cmp(b.label().as_bytes()));
    let wraps = people::wraps(&members, 0, &s, &mut rng);
    let mut p1 = Policy {
        seq: 1,
        name: policy.name.clone(),
        time: 1_780_000_050,
        audit: None,
        epoch: 0,
        heads: Some(vec![]),
        wraps,
        signer: Bytes32(public.sign),
        dataset: Some(dataset),
        members,
        repairs: None,
        previous: Some(dataset),
    };
    p1.sort_wraps();
    let (p1_id, p1_bytes) = p1.sign(ident.signing_key());
    let seal = Seal {
        root: tree_id,
        bytes: 3300,
        files: 3,
        message: "March export".into(),
    };
    let seal_nonce: [u8; 12] = counter(250, 12).try_into().expect("12");
    let mut packs = vec![pack_id, tree_pack_id];
    packs.sort();
    let version = Version {
        seq: 1,
        time: 1_780_000_100,
        epoch: 0,
        packs,
        author: Bytes32(public.sign),
        policy: p1_id,
        sealed: seal.seal_with_nonce(&keys, &dataset, 1, &seal_nonce),
        dataset,
        parents: vec![],
    };
    let (vid, vbytes) = version.sign(ident.signing_key());

    // Epoch 1: Camden withdraws Hackney (policy seq 2, acknowledging the version above), then
    // commits a version that adds one file, in packs of epoch 1, reusing epoch-0 packs.
    let s1 = EpochSecret {
        data_key: counter(0x30, 32).try_into().expect("32"),
        dedup_key: s.dedup_key,
    };
    let keys1 = EpochKeys::derive(1, &s1);
    let mut m2 = p1.members.clone();
    m2.retain(|m| m.label() != "hackney");
    let mut p2 = Policy {
        seq: 2,
        name: p1.name.clone(),
        time: 1_780_000_200,
        audit: None,
        epoch: 1,
        heads: Some(vec![vid]),
        wraps: people::wraps(&m2, 1, &s1, &mut rng),
        signer: Bytes32(public.sign),
        dataset: Some(dataset),
        members: m2,
        repairs: None,
        previous: Some(p1_id),
    };
    p2.sort_wraps();
    let (p2_id, p2_bytes) = p2.sign(ident.signing_key());
    let april = b"school,places\nA,11\n".to_vec();
    let april_id = keys1.id_key.blob_id(KIND_CHUNK, &april);
    let april_nonce: [u8; 12] = counter(0x90, 12).try_into().expect("12");
    let ab = blob::seal_with_nonce(&keys1, KIND_CHUNK, april_id, &april, Some(&april_nonce));
    let mut e1 = entries.clone();
    e1.push(Entry::file(
        "april.csv".into(),
        false,
        april.len() as u64,
        vec![april_id],
    ));
    e1.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
    let root1_bytes = tree::encode(&e1);
    let root1 = keys1.id_key.blob_id(KIND_TREE, &root1_bytes);
    let root1_nonce: [u8; 12] = counter(0x91, 12).try_into().expect("12");
    let rb = blob::seal_with_nonce(&keys1, KIND_TREE, root1, &root1_bytes, Some(&root1_nonce));
    let mut cp1 = PackBuilder::default();
    cp1.add(ab);
    let cp1_nonce: [u8; 12] = counter(0x92, 12).try_into().expect("12");
    let (chunks1_id, chunks1_bytes, _) = cp1.finish_with_nonce(&keys1, Some(&cp1_nonce));
    let mut tp1 = PackBuilder::default();
    tp1.add(rb);
    let tp1_nonce: [u8; 12] = counter(0x93, 12).try_into().expect("12");
    let (trees1_id, trees1_bytes, _) = tp1.finish_with_nonce(&keys1, Some(&tp1_nonce));
    let seal2 = Seal {
        root: root1,
        bytes: 3300 + april.len() as u64,
        files: 4,
        message: "April export".into(),
    };
    let seal2_nonce: [u8; 12] = counter(0x94, 12).try_into().expect("12");
    let mut packs2 = vec![pack_id, tree_pack_id, chunks1_id, trees1_id];
    packs2.sort();
    let v2 = Version {
        seq: 2,
        time: 1_780_000_300,
        epoch: 1,
        packs: packs2,
        author: Bytes32(public.sign),
        policy: p2_id,
        sealed: seal2.seal_with_nonce(&keys1, &dataset, 2, &seal2_nonce),
        dataset,
        parents: vec![vid],
    };
    let (v2_id, v2_bytes) = v2.sign(ident.signing_key());
    let epoch1 = json!({
        "data_key": h(&s1.data_key),
        "policy": { "stored": h(&p2_bytes), "id": p2_id.to_hex() },
        "april": { "plaintext": h(&april), "id": april_id.to_hex(), "nonce": h(&april_nonce) },
        "root": { "encoded": h(&root1_bytes), "id": root1.to_hex(), "nonce": h(&root1_nonce) },
        "chunk_pack": { "header_nonce": h(&cp1_nonce), "bytes": h(&chunks1_bytes), "id": chunks1_id.to_hex() },
        "tree_pack": { "header_nonce": h(&tp1_nonce), "bytes": h(&trees1_bytes), "id": trees1_id.to_hex() },
        "version": { "seal_nonce": h(&seal2_nonce), "stored": h(&v2_bytes), "id": v2_id.to_hex(), "message": "April export" },
    });

    // A fork after policy_next and its repair (spec §10.1c), with an RNG of their own so the
    // vectors above stay as they were. Side A is the epoch-1 policy above (Hackney
    // withdrawn); side B, also seq 2, makes the GLA a writer. The repair (seq 2, follows
    // policy_next) keeps Hackney out, the GLA a writer, and starts epoch 2 (data key 50..6f).
    let mut rng2 =
        XofRng(blake3::Hasher::new_derive_key("coffer test vectors repair rng").finalize_xof());
    let mut mb = p1.members.clone();
    for m in &mut mb {
        if m.label() == "gla" {
            m.1 = "writer".into();
        }
    }
    let mut side_b = Policy {
        seq: 2,
        name: p1.name.clone(),
        time: 1_780_000_210,
        audit: None,
        epoch: 0,
        heads: Some(vec![vid]),
        wraps: p1.wraps.clone(),
        signer: Bytes32(public.sign),
        dataset: Some(dataset),
        members: mb.clone(),
        repairs: None,
        previous: Some(p1_id),
    };
    side_b.sort_wraps();
    let (side_b_id, side_b_bytes) = side_b.sign(ident.signing_key());
    let s2 = EpochSecret {
        data_key: counter(0x50, 32).try_into().expect("32"),
        dedup_key: s.dedup_key,
    };
    let mut mr = mb;
    mr.retain(|m| m.label() != "hackney");
    let mut sides = vec![p2_id, side_b_id];
    sides.sort();
    let mut repair = Policy {
        seq: 2,
        name: p1.name.clone(),
        time: 1_780_000_220,
        audit: None,
        epoch: 2,
        heads: Some(vec![vid]),
        wraps: people::wraps(&mr, 2, &s2, &mut rng2),
        signer: Bytes32(public.sign),
        dataset: Some(dataset),
        members: mr,
        repairs: Some(sides),
        previous: Some(p1_id),
    };
    repair.sort_wraps();
    let (repair_id, repair_bytes) = repair.sign(ident.signing_key());
    let repair_v = json!({
        "side_b": { "stored": h(&side_b_bytes), "id": side_b_id.to_hex() },
        "repair": { "stored": h(&repair_bytes), "id": repair_id.to_hex() },
        "data_key": h(&s2.data_key),
    });

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

    // A checkpoint of the store after the version above (signed by Camden, the owner; the
    // default 7-day expiry) and a cosignature of it by a witness (seed 0x10..0x2f).
    let checkpoint = coffer::object::checkpoint::Checkpoint {
        time: 1_700_000_100,
        heads: vec![vid],
        policy: p1_id,
        signer: Bytes32(public.sign),
        dataset,
        expires: 1_700_000_100 + coffer::object::checkpoint::DEFAULT_EXPIRY,
    };
    let (cp_id, cp_bytes) = checkpoint.sign(ident.signing_key());
    let witness = Identity::from_secrets(
        "auditor",
        counter(0x10, 32).try_into().expect("32"),
        counter(0x30, 32).try_into().expect("32"),
    );
    let cosig = coffer::object::checkpoint::Cosignature {
        time: 1_700_000_200,
        signer: Bytes32(witness.public().sign),
        dataset,
        checkpoint: cp_id,
    };
    let (cs_id, cs_bytes) = cosig.sign(witness.signing_key());
    let checkpoint_v = json!({
        "stored": h(&cp_bytes), "id": cp_id.to_hex(), "time": checkpoint.time,
        "expires": checkpoint.expires,
        "cosignature": { "stored": h(&cs_bytes), "id": cs_id.to_hex(),
            "witness_sign_seed": h(&counter(0x10, 32)) },
    });

    // A locked identity file, with small Argon2 parameters so tests run fast (writers use
    // m = 65536): salt counter 0x70.., nonce counter 0x60.., passphrase below.
    let lock_salt = counter(0x70, 16);
    let lock_nonce: [u8; 12] = counter(0x60, 12).try_into().expect("12");
    let locked = ident
        .to_locked_bytes(
            "correct horse battery staple",
            &lock_salt,
            (64, 1, 1),
            Some(&lock_nonce),
        )
        .expect("locked");
    let locked_v = json!({ "passphrase": "correct horse battery staple", "m_kib": 64, "t": 1, "p": 1,
        "salt": h(&lock_salt), "nonce": h(&lock_nonce), "stored": h(&locked) });

    let ctx = rejects::Ctx {
        ident: &ident,
        genesis: &policy,
        p1: (&p1_id, &p1),
        secret: &s,
        pack_bytes: &pack_bytes,
        vid,
        vbytes: &vbytes,
        tree_bytes: &tree_bytes,
        entries: &entries,
    };
    let (rejects, chain_rejects, signature_rejects, identity_rejects, links) =
        rejects::all(&ctx, &mut rng);
    let (bundle_v, bundle_rejects) = bundle::vectors(&keys);

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
        "identity_locked": locked_v,
        "chunking": chunking,
        "blobs": blobs,
        "tree": tree_v,
        "pack": pack_v,
        "bundle": bundle_v,
        "bundle_rejects": bundle_rejects,
        "policy": { "stored": h(&policy_bytes), "dataset_id": dataset.to_hex() },
        "policy_next": {
            "stored": h(&p1_bytes), "id": p1_id.to_hex(),
            "reader_kx_secret": h(&counter(128, 32)), "reader_sign_seed": h(&counter(160, 32)),
            "admin_sign_seed": h(&counter(0xc0, 32)), "admin_kx_secret": h(&counter(0xe0, 32)),
        },
        "wrap": wrap_v,
        "version": { "seal_nonce": h(&seal_nonce), "stored": h(&vbytes), "id": vid.to_hex(), "message": "March export" },
        "epoch1": epoch1,
        "policy_repair": repair_v,
        "claim": claim_v,
        "checkpoint": checkpoint_v,
        "rejects": rejects,
        "chain_rejects": chain_rejects,
        "signature_rejects": signature_rejects,
        "public_identity_rejects": identity_rejects,
        "links": links,
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}
