//! The policy chain: later policies crafted with the library (sharing commands come later),
//! checked by the real binary. Valid changes are accepted and used; forks, gaps, detached
//! policies, non-admin signers and withdrawals without a new epoch are findings; a withdrawn
//! member keeps the epochs it had and gets a clear error for newer versions.

mod util;

use coffer::crypto::keys::EpochSecret;
use coffer::crypto::wrap;
use coffer::id::{Bytes32, Id};
use coffer::identity::{Identity, Passphrase};
use coffer::object::policy::{Member, Policy, Wrap};
use coffer::repo::Dataset;
use coffer::store;
use serde_json::Value;
use util::*;

fn ident(e: &Env, name: &str) -> (std::path::PathBuf, Identity) {
    let path = e.tmp.path().join(format!("{name}.id"));
    if !path.exists() {
        e.ok(&["id", "new", "--name", name, "--out", path.to_str().unwrap()]);
    }
    let id = Identity::load(&path, &Passphrase::None).unwrap();
    (path, id)
}

fn member(label: &str, role: &str, id: &Identity) -> Member {
    let p = id.public();
    Member(label.into(), role.into(), Bytes32(p.sign), Bytes32(p.kx))
}

/// A policy following `prev`, with `members` (sorted here), each given `secret` for `epoch`.
fn next_policy(
    ds: &Dataset,
    prev: (Id, &Policy),
    seq: u64,
    mut members: Vec<Member>,
    epoch: u32,
    secret: &EpochSecret,
) -> Policy {
    members.sort_by(|a, b| a.label().cmp(b.label()));
    let wraps = members
        .iter()
        .map(|m| {
            let (enc, ct) = wrap::wrap(m.kx_key(), epoch, secret, &mut rand_core::OsRng).unwrap();
            Wrap(Bytes32(*m.kx_key()), epoch, Bytes32(enc), ct)
        })
        .collect();
    Policy {
        seq,
        name: prev.1.name.clone(),
        time: prev.1.time + 1,
        epoch,
        wraps,
        signer: Bytes32([0; 32]),
        dataset: Some(ds.id),
        members,
        previous: Some(prev.0),
    }
}

fn store_policy(ds: &Dataset, mut p: Policy, signer: &Identity) -> Id {
    p.signer = Bytes32(signer.public().sign);
    let (id, bytes) = p.sign(signer.signing_key());
    ds.store.put_new(&store::policy_path(&id), bytes).unwrap();
    id
}

/// Craft, sign and store the policy following `prev`; returns its id and body.
fn add_next(
    ds: &Dataset,
    prev: (Id, &Policy),
    seq: u64,
    members: Vec<Member>,
    epoch: u32,
    secret: &EpochSecret,
    signer: &Identity,
) -> (Id, Policy) {
    let p = next_policy(ds, prev, seq, members, epoch, secret);
    (store_policy(ds, p.clone(), signer), p)
}

/// The genesis policy's id and body, and the epoch-0 secret as the owner holds it.
fn genesis(ds: &Dataset, owner: &Identity) -> (Id, Policy, EpochSecret) {
    let chain = ds.chain().unwrap();
    let (g, gp) = chain.policies[0].clone();
    (g, gp, secret0(ds, owner))
}

/// The dataset's epoch-0 secret, as its owner holds it.
fn secret0(ds: &Dataset, owner: &Identity) -> EpochSecret {
    let chain = ds.chain().unwrap();
    let p = &chain.policies[0].1;
    p.unwrap_for(&owner.public().kx, owner.kx_secret())
        .remove(0)
        .1
}

fn findings(e: &Env) -> Vec<String> {
    let out = e.coffer(&["verify", "--json"]).output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] != "info")
        .map(|f| {
            format!(
                "{} {}",
                f["kind"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect()
}

fn setup() -> (Env, Dataset, Identity) {
    let e = Env::new();
    e.write("a.csv", b"one\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let ds = Dataset::find(&e.data).unwrap();
    let camden = Identity::load(&e.id, &Passphrase::None).unwrap();
    (e, ds, camden)
}

#[test]
fn a_writer_added_by_the_owner_can_commit_and_it_verifies() {
    let (e, ds, camden) = setup();
    let (gla_path, gla) = ident(&e, "gla");
    let (g, gp, s) = genesis(&ds, &camden);
    let (p1_id, _) = add_next(
        &ds,
        (g, &gp),
        1,
        vec![
            member("camden", "owner", &camden),
            member("gla", "writer", &gla),
        ],
        0,
        &s,
        &camden,
    );
    e.write("b.csv", b"by the GLA\n");
    e.coffer(&["commit", "-m", "GLA adds b"])
        .env("COFFER_IDENTITY", &gla_path)
        .assert()
        .success();
    let log: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
    assert_eq!(log[0]["author"], "gla");
    assert_eq!(log[0]["message"], "GLA adds b");
    let head = ds.version(&ds.head().unwrap().unwrap()).unwrap();
    assert_eq!(head.policy, p1_id, "a commit names the policy in force");
    assert!(findings(&e).is_empty(), "{:?}", findings(&e));
}

#[test]
fn refused_policies_are_findings_and_never_used() {
    let (e, ds, camden) = setup();
    let (hackney_path, hackney) = ident(&e, "hackney");
    let (_, islington) = ident(&e, "islington");
    let (g, gp, s) = genesis(&ds, &camden);
    // Valid: hackney becomes a reader.
    let (p1_id, p1) = add_next(
        &ds,
        (g, &gp),
        1,
        vec![
            member("camden", "owner", &camden),
            member("hackney", "reader", &hackney),
        ],
        0,
        &s,
        &camden,
    );
    // A reader tries to add islington as an owner.
    let mut bad = next_policy(
        &ds,
        (p1_id, &p1),
        2,
        vec![
            member("camden", "owner", &camden),
            member("hackney", "reader", &hackney),
            member("islington", "owner", &islington),
        ],
        0,
        &s,
    );
    bad.time += 1;
    store_policy(&ds, bad, &hackney);
    let f = findings(&e);
    assert!(
        f.iter().any(|x| x.contains("not an owner or admin")),
        "{f:?}"
    );
    // The refused policy is not in force: islington cannot commit, hackney still cannot.
    e.coffer(&["commit", "-m", "x", "--allow-empty"])
        .env("COFFER_IDENTITY", &hackney_path)
        .assert()
        .code(2);
    assert_eq!(ds.chain().unwrap().tip().0, p1_id);

    // A gap (seq 3 after 1) and a detached policy.
    let (e2, ds2, camden2) = setup();
    let (g2, gp2, s2) = genesis(&ds2, &camden2);
    add_next(
        &ds2,
        (g2, &gp2),
        3,
        vec![member("camden", "owner", &camden2)],
        0,
        &s2,
        &camden2,
    );
    add_next(
        &ds2,
        (Id([7; 32]), &gp2),
        1,
        vec![member("camden", "owner", &camden2)],
        0,
        &s2,
        &camden2,
    );
    let f = findings(&e2);
    assert!(f.iter().any(|x| x.contains("a gap or a replay")), "{f:?}");
    assert!(
        f.iter().any(|x| x.contains("detached or replayed")),
        "{f:?}"
    );
}

#[test]
fn a_fork_is_refused_whole() {
    let (e, ds, camden) = setup();
    let (_, a) = ident(&e, "brent");
    let (_, b) = ident(&e, "barnet");
    let (g, gp, s) = genesis(&ds, &camden);
    add_next(
        &ds,
        (g, &gp),
        1,
        vec![
            member("brent", "reader", &a),
            member("camden", "owner", &camden),
        ],
        0,
        &s,
        &camden,
    );
    add_next(
        &ds,
        (g, &gp),
        1,
        vec![
            member("barnet", "reader", &b),
            member("camden", "owner", &camden),
        ],
        0,
        &s,
        &camden,
    );
    let f = findings(&e);
    assert_eq!(
        f.iter().filter(|x| x.contains("forks the chain")).count(),
        2,
        "{f:?}"
    );
    assert_eq!(ds.chain().unwrap().policies.len(), 1);
}

#[test]
fn withdrawal_needs_a_new_epoch_and_keeps_old_reads() {
    let (e, ds, camden) = setup();
    let (hackney_path, hackney) = ident(&e, "hackney");
    let (g, gp, s0) = genesis(&ds, &camden);
    let (p1_id, p1) = add_next(
        &ds,
        (g, &gp),
        1,
        vec![
            member("camden", "owner", &camden),
            member("hackney", "reader", &hackney),
        ],
        0,
        &s0,
        &camden,
    );
    let v1 = ds.head().unwrap().unwrap();

    // Withdrawing without rotating is refused.
    let (e2, ds2, camden2) = setup();
    let (_, h2) = ident(&e2, "hackney");
    let (g2, gp2, s2) = genesis(&ds2, &camden2);
    let (q1_id, q1) = add_next(
        &ds2,
        (g2, &gp2),
        1,
        vec![
            member("camden", "owner", &camden2),
            member("hackney", "reader", &h2),
        ],
        0,
        &s2,
        &camden2,
    );
    add_next(
        &ds2,
        (q1_id, &q1),
        2,
        vec![member("camden", "owner", &camden2)],
        0,
        &s2,
        &camden2,
    );
    let f = findings(&e2);
    assert!(
        f.iter().any(|x| x.contains("without starting a new epoch")),
        "{f:?}"
    );

    // Withdrawing with a new epoch: new data key, same dedup key.
    let s1 = EpochSecret {
        data_key: [42; 32],
        dedup_key: s0.dedup_key,
    };
    let mut p2 = next_policy(
        &ds,
        (p1_id, &p1),
        2,
        vec![member("camden", "owner", &camden)],
        1,
        &s1,
    );
    // Camden keeps epoch 0 too (it is in earlier policies anyway).
    p2.time += 1;
    store_policy(&ds, p2, &camden);
    e.write("after.csv", b"after the withdrawal\n");
    e.ok(&["commit", "-m", "after"]);
    let log: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
    assert_eq!(log[0]["epoch"], 1);
    assert!(findings(&e).is_empty(), "{:?}", findings(&e));

    // Hackney reads the version it was given, and gets a clear error for the new one.
    let old = e.tmp.path().join("hackney-old");
    e.coffer(&["checkout", &v1.to_hex(), "--to", old.to_str().unwrap()])
        .env("COFFER_IDENTITY", &hackney_path)
        .assert()
        .success();
    assert_eq!(std::fs::read(old.join("a.csv")).unwrap(), b"one\n");
    let out = e
        .coffer(&[
            "checkout",
            "HEAD",
            "--to",
            e.tmp.path().join("hackney-new").to_str().unwrap(),
        ])
        .env("COFFER_IDENTITY", &hackney_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("identity hackney holds no key for epoch 1"),
        "{err}"
    );
    assert!(!e.tmp.path().join("hackney-new/after.csv").exists());
}

#[test]
fn a_version_cannot_go_back_to_an_older_policy() {
    let (e, ds, camden) = setup();
    let (gla_path, gla) = ident(&e, "gla");
    let (g, gp, s) = genesis(&ds, &camden);
    add_next(
        &ds,
        (g, &gp),
        1,
        vec![
            member("camden", "owner", &camden),
            member("gla", "writer", &gla),
        ],
        0,
        &s,
        &camden,
    );
    e.write("b.csv", b"b\n");
    e.coffer(&["commit", "-m", "v2"])
        .env("COFFER_IDENTITY", &gla_path)
        .assert()
        .success();
    // Camden signs a child of v2 that claims the genesis policy.
    let parent = ds.head().unwrap().unwrap();
    let pv = ds.version(&parent).unwrap();
    let mut v = pv.clone();
    v.seq += 1;
    v.parents = vec![parent];
    v.policy = g;
    v.author = Bytes32(camden.public().sign);
    let keys = ds.keyring(&ds.chain().unwrap(), &camden).unwrap();
    let seal = pv.unseal(&parent, keys.current().unwrap()).unwrap();
    v.sealed = seal.seal(keys.current().unwrap(), &ds.id, v.seq);
    let (vid, bytes) = v.sign(camden.signing_key());
    ds.store.put_new(&store::version_path(&vid), bytes).unwrap();
    ds.set_head(&vid).unwrap();
    let f = findings(&e);
    assert!(
        f.iter().any(|x| x.contains("older policy than its parent")),
        "{f:?}"
    );
}
