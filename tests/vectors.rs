//! The library against the known-answer vectors in `testdata/vectors.json`
//! (written by `testdata/generate.rs`; see `testdata/README.md`).

use coffer::codec;
use coffer::crypto::keys::{EpochKeys, EpochSecret};
use coffer::crypto::{self, wrap};
use coffer::id::Id;
use coffer::identity::Identity;
use coffer::object::blob::{self, SealedBlob, COMP_NONE, KIND_TREE};
use coffer::object::pack::{self, PackBuilder};
use coffer::object::policy::Policy;
use coffer::object::tree;
use coffer::object::version::Version;
use serde_json::Value;

fn vectors() -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn b(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn id(v: &Value) -> Id {
    Id::from_hex(v.as_str().unwrap()).unwrap()
}

fn a12(v: &Value) -> [u8; 12] {
    b(v).try_into().unwrap()
}

fn setup(v: &Value) -> (EpochSecret, EpochKeys, Identity) {
    let mut sec = b(&v["inputs"]["data_key"]);
    sec.extend(b(&v["inputs"]["dedup_key"]));
    let s = EpochSecret::from_bytes(&sec).unwrap();
    let k = EpochKeys::derive(0, &s);
    let ident = Identity::from_secrets(
        "camden",
        b(&v["inputs"]["sign_seed"]).try_into().unwrap(),
        b(&v["inputs"]["kx_secret"]).try_into().unwrap(),
    );
    (s, k, ident)
}

fn stream(n: usize) -> Vec<u8> {
    let mut out = vec![0; n];
    blake3::Hasher::new_derive_key("coffer test vectors input")
        .finalize_xof()
        .fill(&mut out);
    out
}

#[test]
fn format_version_and_labels() {
    let v = vectors();
    assert_eq!(v["format_version"], codec::FORMAT_VERSION);
    let (s, k, _) = setup(&v);
    let d = &v["derived"];
    assert_eq!(
        b(&d["blob_key"]),
        blake3::derive_key(crypto::LABEL_BLOB_KEY, &s.data_key)
    );
    assert_eq!(
        b(&d["pack_header_key"]),
        blake3::derive_key(crypto::LABEL_PACK_HEADER_KEY, &s.data_key)
    );
    assert_eq!(
        b(&d["seal_key"]),
        blake3::derive_key(crypto::LABEL_SEAL_KEY, &s.data_key)
    );
    assert_eq!(
        b(&d["blob_id_key"]),
        blake3::derive_key(crypto::LABEL_BLOB_ID_KEY, &s.dedup_key)
    );
    let first: Vec<String> = k.gear[..4].iter().map(|g| format!("{g:016x}")).collect();
    assert_eq!(d["gear_table_first4"], serde_json::json!(first));
    assert_eq!(d["gear_table_last"], format!("{:016x}", k.gear[255]));
}

#[test]
fn identity_and_public_string() {
    let v = vectors();
    let (_, _, ident) = setup(&v);
    assert_eq!(
        ident.public().to_string(),
        v["public_identity"].as_str().unwrap()
    );
    assert_eq!(ident.to_file_bytes(None).unwrap(), b(&v["identity_file"]));
}

#[test]
fn chunk_boundaries_and_ids() {
    let v = vectors();
    let (_, k, _) = setup(&v);
    for c in v["chunking"].as_array().unwrap() {
        let data = stream(c["len"].as_u64().unwrap() as usize);
        let mut ch = coffer::chunking::Chunker::new(&data[..], k.gear.clone());
        let mut cuts = Vec::new();
        let mut ids = Vec::new();
        let mut at = 0u64;
        while let Some(x) = ch.next_chunk().unwrap() {
            at += x.len() as u64;
            cuts.push(at);
            ids.push(k.id_key.blob_id(blob::KIND_CHUNK, x).to_hex());
        }
        assert_eq!(
            c["cuts"],
            serde_json::json!(cuts),
            "cuts for len {}",
            c["len"]
        );
        assert_eq!(c["chunk_ids"], serde_json::json!(ids));
    }
}

#[test]
fn blobs_tree_and_pack() {
    let v = vectors();
    let (_, k, _) = setup(&v);
    let mut sealed = Vec::new();
    for x in v["blobs"].as_array().unwrap() {
        let kind = x["kind"].as_u64().unwrap() as u8;
        let comp = x["comp"].as_u64().unwrap() as u8;
        let plain = b(&x["plaintext"]);
        let bid = id(&x["id"]);
        assert_eq!(k.id_key.blob_id(kind, &plain), bid, "{}", x["name"]);
        if comp == COMP_NONE {
            // zstd output may vary between library versions; stored-as-is blobs must not.
            let again = blob::seal_with_nonce(&k, kind, bid, &plain, Some(&a12(&x["nonce"])));
            assert_eq!(again.sealed, b(&x["sealed"]), "{}", x["name"]);
        }
        let opened =
            blob::open(&k, kind, comp, plain.len() as u32, &bid, &b(&x["sealed"])).unwrap();
        assert_eq!(opened, plain);
        sealed.push(SealedBlob {
            id: bid,
            kind,
            comp,
            raw_len: plain.len() as u32,
            sealed: b(&x["sealed"]),
        });
    }
    let t = &v["tree"];
    let tid = id(&t["id"]);
    let entries = tree::decode(&tid, &b(&t["encoded"])).unwrap();
    assert_eq!(tree::encode(&entries), b(&t["encoded"]));
    assert_eq!(k.id_key.blob_id(KIND_TREE, &b(&t["encoded"])), tid);
    let mut trees = Vec::new();
    for (enc, tid, comp, sealed) in [
        ("sub_encoded", "sub_id", "sub_comp", "sub_sealed"),
        ("encoded", "id", "comp", "sealed"),
    ] {
        let raw = b(&t[enc]);
        let tid = id(&t[tid]);
        let comp = t[comp].as_u64().unwrap() as u8;
        assert_eq!(
            blob::open(&k, KIND_TREE, comp, raw.len() as u32, &tid, &b(&t[sealed])).unwrap(),
            raw
        );
        trees.push(SealedBlob {
            id: tid,
            kind: KIND_TREE,
            comp,
            raw_len: raw.len() as u32,
            sealed: b(&t[sealed]),
        });
    }
    // The root names the subtree that the tree pack holds.
    assert!(entries
        .iter()
        .any(|e| e.kind() == tree::DIR && e.ids()[0] == id(&t["sub_id"])));

    // Chunks and trees in packs of their own.
    for (blobs, nonce, bytes_key, id_key) in [
        (sealed, "header_nonce", "bytes", "id"),
        (trees, "tree_header_nonce", "tree_bytes", "tree_id"),
    ] {
        let mut pb = PackBuilder::default();
        for s in blobs {
            pb.add(s);
        }
        let (pid, bytes, header) = pb.finish_with_nonce(&k, Some(&a12(&v["pack"][nonce])));
        assert_eq!(bytes, b(&v["pack"][bytes_key]));
        assert_eq!(pid, id(&v["pack"][id_key]));
        let (trailer, opened) =
            pack::open_pack(|e| (e == 0).then(|| k.clone()), &pid, &bytes).unwrap();
        assert_eq!(trailer.epoch, 0);
        assert_eq!(opened, header);
        let kinds: std::collections::BTreeSet<u8> = header.blobs.iter().map(|b| b.kind()).collect();
        assert_eq!(kinds.len(), 1, "a pack holds chunks or trees, not both");
    }
}

/// The bundle (spec §6.4) opens to its members, in order, each under its own id; the
/// library seals the same members to the same bytes. Every bundle reject is refused with
/// its reason, whether by the header rules (§7) or on opening the bundle.
#[test]
fn bundles() {
    let v = vectors();
    let (_, k, _) = setup(&v);
    let bv = &v["bundle"];
    let members: Vec<(Vec<u8>, Id)> = bv["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (b(&m["plaintext"]), id(&m["id"])))
        .collect();
    let bytes = b(&bv["bytes"]);
    let pid = id(&bv["id"]);
    let (_, header) = pack::open_pack(|e| (e == 0).then(|| k.clone()), &pid, &bytes).unwrap();
    assert_eq!(header.blobs.len(), members.len());
    for (i, (plain, bid)) in members.iter().enumerate() {
        let e = &header.blobs[i];
        assert_eq!((e.id(), e.comp(), e.offset()), (*bid, blob::COMP_BUNDLE, 0));
        assert_eq!(pack::unit_of(&header.blobs, i), 0..members.len());
        let s = e.offset() as usize;
        let got = blob::open_at(&k, &header.blobs, i, &bytes[s..s + e.length() as usize]).unwrap();
        assert_eq!(&got, plain);
    }
    // zstd output may vary between library versions; with the same one, the bytes match.
    let mut bundle = blob::Bundle::default();
    for (plain, bid) in &members {
        bundle.add(blob::KIND_CHUNK, *bid, plain);
    }
    let mut pb = PackBuilder::default();
    for s in bundle.seal_with_nonce(&k, Some(&a12(&bv["nonce"]))) {
        pb.add_sealed(s);
    }
    let (again, _, _) = pb.finish_with_nonce(&k, Some(&a12(&bv["header_nonce"])));
    assert_eq!(again, pid);

    for r in v["bundle_rejects"].as_array().unwrap() {
        let bytes = b(&r["bytes"]);
        let rid = id(&r["id"]);
        let err = pack::open_pack(|_| Some(k.clone()), &rid, &bytes).and_then(|(_, h)| {
            for (i, e) in h.blobs.iter().enumerate() {
                let s = e.offset() as usize;
                blob::open_at(&k, &h.blobs, i, &bytes[s..s + e.length() as usize])?;
            }
            Ok(())
        });
        let err = err
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", r["name"]))
            .to_string();
        assert!(
            err.contains(r["error"].as_str().unwrap()),
            "{}: {err}",
            r["name"]
        );
    }
}

#[test]
fn policy_wrap_and_version() {
    let v = vectors();
    let (s, k, ident) = setup(&v);
    let ds = id(&v["policy"]["dataset_id"]);
    let policy = Policy::open(&ds, &b(&v["policy"]["stored"])).unwrap();
    assert_eq!(policy.members[0].label(), "camden");
    assert_eq!(policy.members[0].role(), "owner");
    let got = policy.unwrap_for(&ident.public().kx, ident.kx_secret());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.data_key, s.data_key);

    let w = &v["wrap"];
    assert_eq!(b(&w["info"]), crypto::HPKE_INFO_WRAP);
    let epoch = w["epoch"].as_u64().unwrap() as u32;
    assert_eq!(b(&w["aad"]), wrap::wrap_aad(epoch));
    let un = wrap::unwrap(
        &b(&w["recipient_secret"]).try_into().unwrap(),
        epoch,
        &b(&w["enc"]).try_into().unwrap(),
        &b(&w["ct"]),
    )
    .unwrap();
    assert_eq!(un.to_bytes().to_vec(), b(&w["plaintext"]));

    let vid = id(&v["version"]["id"]);
    let stored = b(&v["version"]["stored"]);
    let ver = Version::open(&vid, &stored).unwrap();
    assert_eq!(ver.dataset, ds);
    assert_eq!(ver.policy, id(&v["policy_next"]["id"]));
    let mut packs = vec![id(&v["pack"]["id"]), id(&v["pack"]["tree_id"])];
    packs.sort();
    assert_eq!(ver.packs, packs);
    let seal = ver.unseal(&vid, &k).unwrap();
    assert_eq!(seal.message, v["version"]["message"].as_str().unwrap());
    assert_eq!(seal.root, id(&v["tree"]["id"]));
    // Ed25519 is deterministic: re-signing the same body gives the same bytes.
    let resealed = seal.seal_with_nonce(&k, &ds, ver.seq, &a12(&v["version"]["seal_nonce"]));
    assert_eq!(resealed, ver.sealed);
    assert_eq!(ver.sign(ident.signing_key()), (vid, stored));
}

#[test]
fn named_rejections() {
    let v = vectors();
    for r in v["rejects"].as_array().unwrap() {
        let bytes = b(&r["bytes"]);
        let rid = id(&r["id"]);
        let err = match r["kind"].as_str().unwrap() {
            "version" => Version::open(&rid, &bytes).err().map(|e| e.to_string()),
            "policy" => Policy::open(&rid, &bytes).err().map(|e| e.to_string()),
            "pack" => pack::open_pack(|_| None, &rid, &bytes)
                .err()
                .map(|e| e.to_string()),
            "tree" => tree::decode(&rid, &bytes).err().map(|e| e.to_string()),
            "identity" => Identity::from_file_bytes(&bytes, Some("pw")).err(),
            other => panic!("unknown kind {other}"),
        };
        let err = err.unwrap_or_else(|| panic!("{} was accepted", r["name"]));
        assert!(
            err.contains(r["error"].as_str().unwrap()),
            "{}: {err}",
            r["name"]
        );
    }
}

#[test]
fn chain_rejects_name_their_rule() {
    let v = vectors();
    let ds = id(&v["policy"]["dataset_id"]);
    for c in v["chain_rejects"].as_array().unwrap() {
        let got = if let Some(g) = c.get("genesis") {
            let p = Policy::open(&id(&g["id"]), &b(&g["stored"])).unwrap();
            coffer::rules::chain::check_genesis(&p)
        } else {
            let prev_id = id(&c["prev"]["id"]);
            let prev = Policy::open(&prev_id, &b(&c["prev"]["stored"])).unwrap();
            let next = Policy::open(&id(&c["next"]["id"]), &b(&c["next"]["stored"]))
                .unwrap_or_else(|e| panic!("{}: {e}", c["name"]));
            coffer::rules::chain::check_successor(&ds, &prev_id, &prev, &next)
        };
        let r = got.expect_err(c["name"].as_str().unwrap());
        assert_eq!(r.rule.name(), c["rule"].as_str().unwrap(), "{}", c["name"]);
    }
}

#[test]
fn strict_signatures() {
    let v = vectors();
    for s in v["signature_rejects"].as_array().unwrap() {
        let public: [u8; 32] = b(&s["public"]).try_into().unwrap();
        assert_eq!(
            crypto::sign::verify(&public, &b(&s["payload"]), &b(&s["signature"])),
            s["valid"].as_bool().unwrap(),
            "{}",
            s["name"]
        );
    }
}

#[test]
fn bad_public_identities() {
    let v = vectors();
    for r in v["public_identity_rejects"].as_array().unwrap() {
        assert!(
            r["string"]
                .as_str()
                .unwrap()
                .parse::<coffer::identity::PublicIdentity>()
                .is_err(),
            "{} was accepted",
            r["name"]
        );
    }
}

#[test]
fn link_targets() {
    let v = vectors();
    for c in v["links"].as_array().unwrap() {
        let links: Vec<(String, String)> = c["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l[0].as_str().unwrap().into(), l[1].as_str().unwrap().into()))
            .collect();
        let paths: std::collections::HashSet<&str> =
            links.iter().map(|(p, _)| p.as_str()).collect();
        for ((p, t), safe) in links.iter().zip(c["safe"].as_array().unwrap()) {
            assert_eq!(
                coffer::repo::checkout::link_is_safe(p, t.as_bytes(), &paths),
                safe.as_bool().unwrap(),
                "{}: {p} -> {t}",
                c["name"]
            );
        }
    }
}

#[test]
fn locked_identity_file() {
    let v = vectors();
    let (_, _, ident) = setup(&v);
    let l = &v["identity_locked"];
    let pass = l["passphrase"].as_str().unwrap();
    let stored = b(&l["stored"]);
    let opened = Identity::from_file_bytes(&stored, Some(pass)).unwrap();
    assert_eq!(opened.public(), ident.public());
    let again = ident
        .to_locked_bytes(
            pass,
            &b(&l["salt"]),
            (
                l["m_kib"].as_u64().unwrap() as u32,
                l["t"].as_u64().unwrap() as u32,
                l["p"].as_u64().unwrap() as u32,
            ),
            Some(&a12(&l["nonce"])),
        )
        .unwrap();
    assert_eq!(again, stored);
    assert!(Identity::from_file_bytes(&stored, Some("wrong")).is_err());
}

/// Epoch 1: the trailer's epoch is little-endian, the header's and the seal's associated data
/// big-endian; a version made after a withdrawal lists packs of both epochs and is history.
#[test]
fn objects_of_epoch_one() {
    let v = vectors();
    let (s, _, ident) = setup(&v);
    let e = &v["epoch1"];
    let s1 = EpochSecret {
        data_key: b(&e["data_key"]).try_into().unwrap(),
        dedup_key: s.dedup_key,
    };
    let k1 = EpochKeys::derive(1, &s1);
    let april = b(&e["april"]["plaintext"]);
    let april_id = id(&e["april"]["id"]);
    assert_eq!(k1.id_key.blob_id(blob::KIND_CHUNK, &april), april_id);
    let root = b(&e["root"]["encoded"]);
    let root_id = id(&e["root"]["id"]);
    for (pack_key, kind, data, bid, nonce) in [
        (
            "chunk_pack",
            blob::KIND_CHUNK,
            &april,
            april_id,
            &e["april"]["nonce"],
        ),
        ("tree_pack", KIND_TREE, &root, root_id, &e["root"]["nonce"]),
    ] {
        let mut pb = PackBuilder::default();
        pb.add(blob::seal_with_nonce(
            &k1,
            kind,
            bid,
            data,
            Some(&a12(nonce)),
        ));
        let (pid, bytes, _) = pb.finish_with_nonce(&k1, Some(&a12(&e[pack_key]["header_nonce"])));
        assert_eq!(bytes, b(&e[pack_key]["bytes"]), "{pack_key}");
        assert_eq!(pid, id(&e[pack_key]["id"]));
        let n = bytes.len();
        assert_eq!(
            &bytes[n - 8..n - 4],
            &[1, 0, 0, 0],
            "trailer epoch, little-endian"
        );
        // The header opens with epoch-1 keys only.
        assert!(pack::open_pack(|e| (e == 1).then(|| k1.clone()), &pid, &bytes).is_ok());
        let k0 = EpochKeys::derive(1, &s);
        assert!(pack::open_pack(|_| Some(k0.clone()), &pid, &bytes).is_err());
    }
    assert_eq!(
        pack::header_aad(1)[pack::header_aad(1).len() - 4..],
        [0, 0, 0, 1]
    );

    // The chain genesis -> p1 (adds Hackney, the GLA) -> p2 (withdraws Hackney, epoch 1).
    let ds = id(&v["policy"]["dataset_id"]);
    let mut all = std::collections::BTreeMap::new();
    for (i, st) in [
        (&v["policy"]["dataset_id"], &v["policy"]["stored"]),
        (&v["policy_next"]["id"], &v["policy_next"]["stored"]),
        (&e["policy"]["id"], &e["policy"]["stored"]),
    ] {
        all.insert(id(i), Policy::open(&id(i), &b(st)).unwrap());
    }
    let chain = coffer::rules::chain::walk(&ds, all, vec![]).unwrap();
    assert_eq!(chain.policies.len(), 3, "{:?}", chain.refused);
    let v1 = id(&v["version"]["id"]);
    let v2 = id(&e["version"]["id"]);
    let mut versions = std::collections::BTreeMap::new();
    versions.insert(v1, Version::open(&v1, &b(&v["version"]["stored"])).unwrap());
    let ver2 = Version::open(&v2, &b(&e["version"]["stored"])).unwrap();
    assert_eq!(ver2.epoch, 1);
    let seal = ver2.unseal(&v2, &k1).unwrap();
    assert_eq!(seal.root, root_id);
    assert_eq!(seal.message, e["version"]["message"].as_str().unwrap());
    assert_eq!(
        ver2.clone().sign(ident.signing_key()),
        (v2, b(&e["version"]["stored"]))
    );
    versions.insert(v2, ver2);
    let epochs: std::collections::HashMap<Id, u32> = [
        (id(&v["pack"]["id"]), 0),
        (id(&v["pack"]["tree_id"]), 0),
        (id(&e["chunk_pack"]["id"]), 1),
        (id(&e["tree_pack"]["id"]), 1),
    ]
    .into_iter()
    .collect();
    let hist =
        coffer::rules::History::evaluate(chain, versions, vec![], |p| epochs.get(p).copied());
    assert!(hist.is_history(&v1) && hist.is_history(&v2));
    assert_eq!(
        hist.epochs_needed(hist.get(&v2).unwrap())
            .into_iter()
            .collect::<Vec<_>>(),
        [0, 1]
    );
}

#[test]
fn policy_chain_successor() {
    let v = vectors();
    let ds = id(&v["policy"]["dataset_id"]);
    let genesis = Policy::open(&ds, &b(&v["policy"]["stored"])).unwrap();
    let n = &v["policy_next"];
    let pid = id(&n["id"]);
    let next = Policy::open(&pid, &b(&n["stored"])).unwrap();
    assert_eq!(next.previous, Some(ds));
    assert_eq!(
        coffer::rules::chain::check_successor(&ds, &ds, &genesis, &next),
        Ok(())
    );
    let reader = Identity::from_secrets(
        "hackney",
        b(&n["reader_sign_seed"]).try_into().unwrap(),
        b(&n["reader_kx_secret"]).try_into().unwrap(),
    );
    assert_eq!(
        next.member_by_sign_key(&reader.public().sign)
            .unwrap()
            .role(),
        "reader"
    );
    let got = next.unwrap_for(&reader.public().kx, reader.kx_secret());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.data_key.to_vec(), b(&v["inputs"]["data_key"]));
}

#[test]
fn push_claim_name_and_envelope() {
    use coffer::remote::claim::{state_id, Claim};
    let v = vectors();
    let c = &v["claim"];
    let dataset = id(&c["dataset"]);
    let tip = id(&c["policy_tip"]);
    assert_eq!(state_id(&dataset, &tip, &[]), id(&c["state_id"]));
    assert_eq!(
        state_id(&dataset, &tip, &[id(&c["heads_v"][0])]),
        id(&c["state_id_v"])
    );
    let stored = b(&c["stored"]);
    let claim = Claim::decode(&stored).unwrap();
    assert_eq!(claim.versions.len(), 1);
    assert_eq!(
        claim.versions[0].as_slice(),
        b(&v["version"]["stored"]).as_slice()
    );
    assert_eq!(claim.encode(), stored);
    // A claim is strict like every envelope: a trailing byte is refused.
    let mut longer = stored.clone();
    longer.push(0);
    assert!(Claim::decode(&longer).is_err());
}

/// A fork after `policy_next` (the epoch-1 withdrawal of Hackney, and `side_b` making the GLA
/// a writer) and its repair (spec §10.1c): the walk accepts the repair as seq 2, the sides are
/// `policy-fork-repaired`, and the repair's epoch-2 key opens for the GLA.
#[test]
fn policy_repair_settles_the_fork() {
    use coffer::rules::Rule;
    let v = vectors();
    let ds = id(&v["policy"]["dataset_id"]);
    let r = &v["policy_repair"];
    let mut all = std::collections::BTreeMap::new();
    for (i, s) in [
        (&v["policy"]["dataset_id"], &v["policy"]["stored"]),
        (&v["policy_next"]["id"], &v["policy_next"]["stored"]),
        (
            &v["epoch1"]["policy"]["id"],
            &v["epoch1"]["policy"]["stored"],
        ),
        (&r["side_b"]["id"], &r["side_b"]["stored"]),
        (&r["repair"]["id"], &r["repair"]["stored"]),
    ] {
        let pid = id(i);
        let bytes = b(s);
        all.insert(pid, Policy::open(&pid, &bytes).unwrap());
    }
    let chain = coffer::rules::chain::walk(&ds, all, vec![]).unwrap();
    assert_eq!(chain.tip().0, id(&r["repair"]["id"]));
    assert_eq!(chain.tip().1.epoch, 2);
    assert!(chain.fork.is_empty());
    for side in [&v["epoch1"]["policy"]["id"], &r["side_b"]["id"]] {
        assert!(chain
            .refused
            .iter()
            .any(|(i, why)| *i == id(side) && why.rule == Rule::PolicyForkRepaired));
    }
    let gla = Identity::from_secrets(
        "gla",
        (0xc0..0xe0u8).collect::<Vec<_>>().try_into().unwrap(),
        (0xe0..=0xffu8).collect::<Vec<_>>().try_into().unwrap(),
    );
    let got = chain.tip().1.unwrap_for(&gla.public().kx, gla.kx_secret());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, 2);
    assert_eq!(got[0].1.data_key.to_vec(), b(&r["data_key"]));
    assert_eq!(
        chain
            .tip()
            .1
            .member_by_sign_key(&gla.public().sign)
            .unwrap()
            .role(),
        "writer"
    );
}

/// A checkpoint and its cosignature (spec §10.5): both open and re-sign to the same bytes;
/// under the chain genesis, `policy_next` with the version present, the checkpoint counts,
/// is fresh before `expires` and a freeze from then on; the witness is not named in those
/// policies, so its cosignature is refused by rule W1.
#[test]
fn checkpoint_and_cosignature() {
    use coffer::object::checkpoint::{Checkpoint, Cosignature};
    use coffer::rules::Rule;
    let v = vectors();
    let c = &v["checkpoint"];
    let (cid, cbytes) = (id(&c["id"]), b(&c["stored"]));
    let cp = Checkpoint::open(&cid, &cbytes).unwrap();
    let (_, _, me) = setup(&v);
    assert_eq!(cp.sign(me.signing_key()), (cid, cbytes.clone()));
    let (sid, sbytes) = (id(&c["cosignature"]["id"]), b(&c["cosignature"]["stored"]));
    let cs = Cosignature::open(&sid, &sbytes).unwrap();
    assert_eq!(cs.checkpoint, cid);
    let seed: [u8; 32] = b(&c["cosignature"]["witness_sign_seed"])
        .try_into()
        .unwrap();
    let w = Identity::from_secrets("auditor", seed, [0x30; 32]);
    assert_eq!(cs.sign(w.signing_key()), (sid, sbytes.clone()));
    // A changed byte never opens.
    let mut bad = cbytes.clone();
    let n = bad.len() - 70;
    bad[n] ^= 1;
    assert!(Checkpoint::open(&Id::of_stored(&bad), &bad).is_err());

    let ds = id(&v["policy"]["dataset_id"]);
    let mut all = std::collections::BTreeMap::new();
    for (i, s) in [
        (&v["policy"]["dataset_id"], &v["policy"]["stored"]),
        (&v["policy_next"]["id"], &v["policy_next"]["stored"]),
    ] {
        let pid = id(i);
        all.insert(pid, Policy::open(&pid, &b(s)).unwrap());
    }
    let chain = coffer::rules::chain::walk(&ds, all, vec![]).unwrap();
    let vid = id(&v["version"]["id"]);
    let mut versions = std::collections::BTreeMap::new();
    versions.insert(
        vid,
        coffer::object::version::Version::open(&vid, &b(&v["version"]["stored"])).unwrap(),
    );
    let judge = |now: u64| {
        coffer::rules::checkpoint::judge(
            &ds,
            &chain,
            &versions,
            &[(cid, cbytes.clone())],
            &[(sid, sbytes.clone())],
            now,
            &mut |_| false,
        )
    };
    let expires = c["expires"].as_u64().unwrap();
    let fresh = judge(expires - 1);
    assert_eq!(fresh.newest.as_ref().map(|n| n.id), Some(cid));
    let rules: Vec<Rule> = fresh.notes.iter().map(|n| n.rule).collect();
    assert_eq!(rules, vec![Rule::Cosignature]);
    let stale = judge(expires);
    assert!(stale.notes.iter().any(|n| n.rule == Rule::Freeze));
    // Without the version in the store, the checkpoint names what the reader cannot see.
    let hidden = coffer::rules::checkpoint::judge(
        &ds,
        &chain,
        &Default::default(),
        &[(cid, cbytes.clone())],
        &[],
        expires - 1,
        &mut |_| false,
    );
    assert!(hidden
        .notes
        .iter()
        .any(|n| n.rule == Rule::SplitView && n.level == coffer::verify::Level::Error));
}
