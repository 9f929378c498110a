//! Named objects every reader must refuse, each for one reason: damaged or non-canonical
//! encodings, policies that break one chain rule, signatures that only a lax verifier takes,
//! bad public identity strings, and links that escape a checkout.

use super::{counter, h, people};
use ciborium::Value as Cbor;
use coffer::codec;
use coffer::crypto::keys::EpochSecret;
use coffer::id::{Bytes32, Id};
use coffer::identity::Identity;
use coffer::object::policy::{Member, Policy};
use coffer::object::signed;
use coffer::object::tree::{self, Entry};
use coffer::object::version;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use serde_json::{json, Value};
use sha2::{Digest, Sha512};

/// What the rejects are built from.
pub struct Ctx<'a> {
    pub ident: &'a Identity,
    pub genesis: &'a Policy,
    pub p1: (&'a Id, &'a Policy),
    pub secret: &'a EpochSecret,
    pub pack_bytes: &'a [u8],
    pub vid: Id,
    pub vbytes: &'a [u8],
    pub tree_bytes: &'a [u8],
    pub entries: &'a [Entry],
}

/// `(rejects, chain_rejects, signature_rejects, public_identity_rejects, links)`.
pub type All = (Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>);

pub fn all<R: rand_core::CryptoRng + rand_core::RngCore>(c: &Ctx, rng: &mut R) -> All {
    (
        decoding(c),
        chain(c, rng),
        signatures(c),
        public_identities(c),
        links(),
    )
}

fn reject(name: &str, kind: &str, id: &Id, bytes: &[u8], error: &str) -> Value {
    json!({ "name": name, "kind": kind, "id": id.to_hex(), "bytes": h(bytes), "error": error })
}

/// A map body as key-value pairs.
type Body = Vec<(Cbor, Cbor)>;

/// The body map of an encoded envelope.
fn body_of(envelope: &[u8]) -> Body {
    let v: Cbor = ciborium::from_reader(envelope).expect("cbor");
    match v {
        Cbor::Array(mut a) => match a.pop() {
            Some(Cbor::Map(m)) => m,
            _ => panic!("not a map body"),
        },
        _ => panic!("not an envelope"),
    }
}

/// An envelope of `kind` around `body`, keys put in canonical order.
fn envelope(kind: &str, mut body: Vec<(Cbor, Cbor)>) -> Vec<u8> {
    let key = |k: &Cbor| {
        let mut b = Vec::new();
        ciborium::into_writer(k, &mut b).expect("mem");
        b
    };
    body.sort_by(|a, b| {
        let (x, y) = (key(&a.0), key(&b.0));
        x.len().cmp(&y.len()).then(x.cmp(&y))
    });
    let v = Cbor::Array(vec![
        Cbor::Text("coffer".into()),
        Cbor::Text(kind.into()),
        Cbor::Integer(1.into()),
        Cbor::Map(body),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&v, &mut out).expect("mem");
    out
}

fn set(body: &mut Vec<(Cbor, Cbor)>, key: &str, value: Cbor) {
    body.retain(|(k, _)| k.as_text() != Some(key));
    body.push((Cbor::Text(key.into()), value));
}

/// Sign a payload as `who`; returns `(id, stored)`.
fn signed_by(who: &Identity, payload: Vec<u8>) -> (Id, Vec<u8>) {
    signed::seal(who.signing_key(), payload)
}

fn decoding(c: &Ctx) -> Vec<Value> {
    let mut out = Vec::new();
    let flip = |name: &str, kind: &str, id: &Id, bytes: &[u8], at: usize, error: &str| {
        let mut b = bytes.to_vec();
        b[at] ^= 0x01;
        reject(name, kind, id, &b, error)
    };
    out.push(flip(
        "version_flipped_last_signature_byte",
        "version",
        &c.vid,
        c.vbytes,
        c.vbytes.len() - 1,
        "does not hash to its name",
    ));
    let pack_id = Id::of_stored(c.pack_bytes);
    out.push(flip(
        "pack_flipped_first_blob_byte",
        "pack",
        &pack_id,
        c.pack_bytes,
        20,
        "does not hash to its name",
    ));
    // Trailer damage, each named by its new hash so only the trailer is wrong.
    let n = c.pack_bytes.len();
    for (name, at, byte, error) in [
        ("pack_trailer_bad_magic", n - 16, b'X', "bad trailer magic"),
        (
            "pack_trailer_format_version_2",
            n - 12,
            2,
            "format version 2",
        ),
        (
            "pack_trailer_reserved_not_zero",
            n - 11,
            1,
            "reserved trailer bytes",
        ),
        (
            "pack_trailer_header_len_too_large",
            n - 1,
            0x7f,
            "out of bounds",
        ),
    ] {
        let mut b = c.pack_bytes.to_vec();
        b[at] = byte;
        out.push(reject(name, "pack", &Id::of_stored(&b), &b, error));
    }
    let mut raw = Vec::new();
    ciborium::into_writer(&("coffer", "tree", 2u64, c.entries), &mut raw).expect("mem");
    out.push(reject(
        "tree_unknown_format_version",
        "tree",
        &Id::ZERO,
        &raw,
        "format version 2",
    ));
    let mut noncanon = c.tree_bytes.to_vec();
    // The format version 1 is byte 0x01 after "tree"; re-encode it as 0x18 0x01.
    let pos = 1 + 7 + 5;
    assert_eq!(noncanon[pos], 0x01);
    noncanon.splice(pos..pos + 1, [0x18, 0x01]);
    out.push(reject(
        "tree_non_minimal_integer",
        "tree",
        &Id::ZERO,
        &noncanon,
        "not in canonical encoding",
    ));
    let dotdot = codec::encode(
        tree::KIND,
        &vec![Entry::file("..".into(), false, 0, vec![])],
    );
    out.push(reject(
        "tree_name_dot_dot",
        "tree",
        &Id::ZERO,
        &dotdot,
        "escape",
    ));

    // Policies and versions whose payload breaks the exact shape, validly signed and named.
    let p1_payload = codec::encode("policy", c.p1.1);
    let mut bad = |name: &str, kind: &str, base: &[u8], edit: &dyn Fn(&mut Body), error: &str| {
        let mut body = body_of(base);
        edit(&mut body);
        let (id, stored) = signed_by(c.ident, envelope(kind, body));
        out.push(reject(name, kind, &id, &stored, error));
    };
    bad(
        "policy_unknown_field",
        "policy",
        &p1_payload,
        &|b| set(b, "extra", Cbor::Integer(1.into())),
        "unknown field",
    );
    bad(
        "policy_optional_field_null",
        "policy",
        &p1_payload,
        &|b| set(b, "audit", Cbor::Null),
        "not in canonical encoding",
    );
    let v_payload = codec::encode("version", &version_body(c));
    bad(
        "version_unknown_field",
        "version",
        &v_payload,
        &|b| set(b, "note", Cbor::Text("x".into())),
        "unknown field",
    );
    bad(
        "version_parent_of_31_bytes",
        "version",
        &v_payload,
        &|b| set(b, "parents", Cbor::Array(vec![Cbor::Bytes(vec![1; 31])])),
        "32-byte",
    );
    // Structure of a policy: each one broken on its own, signed and named.
    let mut structural = |name: &str, edit: &dyn Fn(&mut Policy), error: &str| {
        let mut p = c.p1.1.clone();
        edit(&mut p);
        let (id, stored) = signed::seal(c.ident.signing_key(), codec::encode("policy", &p));
        out.push(reject(name, "policy", &id, &stored, error));
    };
    structural(
        "policy_two_members_one_signing_key",
        &|p| p.members[1].2 = p.members[0].2,
        "share a signing key",
    );
    structural(
        "policy_wraps_not_sorted",
        &|p| p.wraps.reverse(),
        "wraps not sorted",
    );
    structural(
        "policy_label_with_control_character",
        &|p| p.members[0].0 = "cam\nden".into(),
        "control characters",
    );
    structural(
        "policy_heads_absent_after_genesis",
        &|p| p.heads = None,
        "must be absent in the genesis policy and present after it",
    );
    // An identity file asking for 4 GiB of Argon2 memory: refused before any allocation.
    let greedy = c
        .ident
        .to_locked_bytes("pw", &counter(0x70, 16), (64, 1, 1), Some(&[0; 12]))
        .expect("locked");
    let mut body = body_of(&greedy);
    set(
        &mut body,
        "m_kib",
        Cbor::Integer((4u64 * 1024 * 1024).into()),
    );
    let greedy = envelope("identity-locked", body);
    out.push(reject(
        "identity_argon2_memory_4_gib",
        "identity",
        &Id::ZERO,
        &greedy,
        "coffer allows at most 1024 MiB",
    ));
    out
}

fn version_body(c: &Ctx) -> version::Version {
    let (_, stored) = (c.vid, c.vbytes);
    version::Version::open(&c.vid, stored).expect("the vector version opens")
}

/// Policies that follow `p1` (or a genesis) and break exactly one chain rule.
fn chain<R: rand_core::CryptoRng + rand_core::RngCore>(c: &Ctx, rng: &mut R) -> Vec<Value> {
    let (p1_id, p1) = c.p1;
    let hackney = people::hackney();
    let gla = people::gla();
    let me = c.ident;
    let next = |edit: &dyn Fn(&mut Policy)| {
        let mut p = p1.clone();
        p.seq = 2;
        p.time += 10;
        p.previous = Some(*p1_id);
        p.heads = Some(vec![c.vid]);
        edit(&mut p);
        p.members
            .sort_by(|a, b| a.label().as_bytes().cmp(b.label().as_bytes()));
        p.sort_wraps();
        p
    };
    let (p1_id_s, p1_stored) = p1.sign(me.signing_key());
    assert_eq!(p1_id_s, *p1_id);
    let mut out = Vec::new();
    let mut add = |name: &str, rule: &str, p: Policy, signer: &Identity| {
        let mut p = p;
        p.signer = Bytes32(signer.public().sign);
        let (id, stored) = p.sign(signer.signing_key());
        out.push(json!({
            "name": name, "rule": rule,
            "prev": { "id": p1_id.to_hex(), "stored": h(&p1_stored) },
            "next": { "id": id.to_hex(), "stored": h(&stored) },
        }));
    };
    add(
        "policy_wrong_dataset",
        "policy-dataset",
        next(&|p| p.dataset = Some(Id([9; 32]))),
        me,
    );
    add("policy_seq_gap", "policy-seq", next(&|p| p.seq = 3), me);
    add(
        "policy_signed_by_reader",
        "policy-signer",
        next(&|p| p.name = "renamed".into()),
        &hackney,
    );
    add(
        "policy_admin_promotes_itself",
        "policy-role-power",
        next(&|p| {
            for m in &mut p.members {
                if m.label() == "gla" {
                    m.1 = "owner".into();
                }
            }
        }),
        &gla,
    );
    let s2 = EpochSecret {
        data_key: counter(0x50, 32).try_into().expect("32"),
        dedup_key: c.secret.dedup_key,
    };
    let members = p1.members.clone();
    let skip_wraps = people::wraps(&members, 2, &s2, rng);
    add(
        "policy_epoch_skips",
        "policy-epoch",
        next(&|p| {
            p.epoch = 2;
            p.wraps.extend(skip_wraps.clone());
        }),
        me,
    );
    add(
        "policy_no_owner",
        "policy-owner",
        next(&|p| {
            for m in &mut p.members {
                if m.label() == "camden" {
                    m.1 = "admin".into();
                }
            }
        }),
        me,
    );
    let hk = hackney.public().kx;
    add(
        "policy_withdrawal_same_epoch",
        "policy-withdrawal-epoch",
        next(&|p| {
            p.members.retain(|m| m.label() != "hackney");
            p.wraps.retain(|w| w.0 .0 != hk);
        }),
        me,
    );
    let stranger = Identity::from_secrets("x", [0x11; 32], [0x22; 32]);
    let sm: Member = people::member("stranger", "reader", &stranger);
    add(
        "policy_member_without_key",
        "policy-wraps",
        next(&|p| p.members.push(sm.clone())),
        me,
    );
    let stray = people::wraps(std::slice::from_ref(&sm), 0, c.secret, rng);
    add(
        "policy_wrap_for_a_stranger",
        "policy-wraps",
        next(&|p| p.wraps.extend(stray.clone())),
        me,
    );
    // Genesis policies.
    let mut g = |name: &str, rule: &str, edit: &dyn Fn(&mut Policy), signer: &Identity| {
        let mut p = c.genesis.clone();
        edit(&mut p);
        p.sort_wraps();
        p.signer = Bytes32(signer.public().sign);
        let (id, stored) = p.sign(signer.signing_key());
        out.push(json!({ "name": name, "rule": rule, "genesis": { "id": id.to_hex(), "stored": h(&stored) } }));
    };
    g(
        "genesis_epoch_not_zero",
        "genesis-epoch",
        &|p| {
            p.epoch = 1;
            for w in &mut p.wraps {
                w.1 = 1;
            }
        },
        me,
    );
    g(
        "genesis_signed_by_non_owner",
        "genesis-signer",
        &|p| p.name = "impostor".into(),
        &hackney,
    );
    out
}

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = a[i] as u16 + b[i] as u16 + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}

/// `k = SHA-512(R || A || SIGN_PREFIX || payload) mod L`.
fn challenge(r: &[u8; 32], a: &[u8; 32], payload: &[u8]) -> Scalar {
    let mut hsh = Sha512::new();
    hsh.update(r);
    hsh.update(a);
    hsh.update(coffer::crypto::SIGN_PREFIX);
    hsh.update(payload);
    Scalar::from_hash(hsh)
}

fn signatures(c: &Ctx) -> Vec<Value> {
    let payload = b"coffer signature vector".to_vec();
    let a = c.ident.public().sign;
    let good = coffer::crypto::sign::sign(c.ident.signing_key(), &payload);
    let mut out = vec![
        json!({ "name": "sig_valid", "public": h(&a), "payload": h(&payload), "signature": h(&good), "valid": true }),
    ];
    let mut bad = |name: &str, public: &[u8; 32], sig: &[u8]| {
        out.push(json!({ "name": name, "public": h(public), "payload": h(&payload), "signature": h(sig), "valid": false }));
    };
    // S + L: the same point equation holds; RFC 8032 requires S < L.
    let mut s_plus_l = good;
    let s: [u8; 32] = good[32..].try_into().expect("32");
    s_plus_l[32..].copy_from_slice(&add_le(&s, &L));
    bad("sig_s_not_reduced", &a, &s_plus_l);
    // The identity as key and as R, S = 0: the cofactorless equation holds for any message.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&identity);
    bad("sig_small_order_key", &identity, &sig);
    // R = identity (small order), S = k * a: valid under the equation for Camden's key.
    let expanded = Sha512::digest(c.ident.signing_key().to_bytes());
    let mut lower: [u8; 32] = expanded[..32].try_into().expect("32");
    lower[0] &= 248;
    lower[31] &= 127;
    lower[31] |= 64;
    let secret = Scalar::from_bytes_mod_order(lower);
    let k = challenge(&identity, &a, &payload);
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&identity);
    sig[32..].copy_from_slice((k * secret).as_bytes());
    bad("sig_small_order_r", &a, &sig);
    // A key encoded with y >= p (a point that decompresses, under a non-canonical encoding).
    let mut nc = [0u8; 32];
    for y in 2u8..19 {
        let mut e = [0xffu8; 32];
        e[0] = 0xed + y;
        e[31] = 0x7f;
        if CompressedEdwardsY(e).decompress().is_some() {
            nc = e;
            break;
        }
    }
    assert_ne!(nc, [0u8; 32], "a non-canonical key encoding exists");
    bad("sig_key_not_canonical", &nc, &good);
    out
}

fn public_identities(c: &Ctx) -> Vec<Value> {
    let p = c.ident.public();
    let mut data = p.sign.to_vec();
    data.extend_from_slice(&p.kx);
    let hrp = bech32::Hrp::parse_unchecked("coffer");
    let not_m = bech32::encode::<bech32::Bech32>(hrp, &data).expect("bech32");
    let good = p.to_string();
    let mut flipped = good.clone().into_bytes();
    let i = flipped.len() / 2;
    flipped[i] = if flipped[i] == b'q' { b'p' } else { b'q' };
    let other = bech32::encode::<bech32::Bech32m>(bech32::Hrp::parse_unchecked("cofer"), &data)
        .expect("bech32m");
    let short = bech32::encode::<bech32::Bech32m>(hrp, &data[..63]).expect("bech32m");
    vec![
        json!({ "name": "bech32_checksum_not_m", "string": not_m }),
        json!({ "name": "one_character_changed", "string": String::from_utf8(flipped).expect("ascii") }),
        json!({ "name": "upper_case", "string": good.to_uppercase() }),
        json!({ "name": "other_hrp", "string": other }),
        json!({ "name": "63_bytes", "string": short }),
    ]
}

fn links() -> Vec<Value> {
    let case = |name: &str, links: &[(&str, &str)], safe: &[bool]| json!({ "name": name, "links": links.iter().map(|(p, t)| json!([p, t])).collect::<Vec<_>>(), "safe": safe });
    vec![
        case("sibling", &[("a/l", "../b/c.csv")], &[true]),
        case("to_the_root_from_below", &[("a/l", "..")], &[true]),
        case("to_the_root_at_the_top", &[("l", ".")], &[true]),
        case("escape_by_parent", &[("l", "../x")], &[false]),
        case("escape_deep", &[("a/b/l", "../../../x")], &[false]),
        case("absolute", &[("l", "/etc/passwd")], &[false]),
        case("backslash", &[("l", "a\\b")], &[false]),
        case("empty", &[("l", "")], &[false]),
        case(
            "through_another_link",
            &[("s", "."), ("t", "s/..")],
            &[true, false],
        ),
    ]
}
