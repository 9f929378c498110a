//! Hostile review of "which versions are history" (spec/format.md §9, §9.1, §10.1a, §11.1,
//! §15; spec/cli.md `audit`): every reader (`verify` with a key and without, `coffer audit`
//! with no identity, a member's `pull`, a fresh `clone`) must decide alike on every crafted
//! version; junk from a non-member with write access to the store never stops a member nor
//! changes history; no crafted input makes the binary panic (exit 101) and `audit` writes
//! nothing into the store.
//!
//! Each test asserts the safe behaviour. Found and fixed: a history version dated after year
//! 9999 (or u64::MAX) panicked `log`, `show` and `access`; junk at a non-canonical pack name
//! (`packs/zz/<id>`) was taken for the pack and stopped or changed a partial clone; junk
//! planted at the names a killed push's claim announced made the rerun push skip the real
//! policy and version (the remote lost a withdrawal).

mod util;

use coffer::crypto::keys::EpochKeys;
use coffer::id::{Bytes32, Id};
use coffer::identity::Identity;
use coffer::object::version::{Seal, Version};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use util::forge::{ident, member, wraps_for, Forge};
use util::*;

/// Camden (owner) commits, shares with the GLA (writer), Hackney (reader), Brent (admin) and
/// Barnet (reader), withdraws Barnet (epoch 1), commits again. `stranger` and `newcomer`
/// exist but are not members. Built once by the binary.
fn template() -> &'static PathBuf {
    static T: OnceLock<PathBuf> = OnceLock::new();
    T.get_or_init(|| {
        let e = Env::new();
        for n in ["gla", "hackney", "brent", "barnet", "stranger", "newcomer"] {
            e.new_identity(n);
        }
        e.write("a.csv", b"id,places\n1,10\n");
        e.write("schools/b.csv", &noise(200_000, 7));
        e.write("schools/north/c.csv", b"north\n");
        e.write("care/d.csv", b"care\n");
        e.ok(&["init", "--name", "camden-services"]);
        e.ok(&["commit", "-m", "v1"]);
        for (n, label, role) in [
            ("gla", "GLA", "writer"),
            ("hackney", "Hackney", "reader"),
            ("brent", "Brent", "admin"),
            ("barnet", "Barnet", "reader"),
        ] {
            let public = e.public_of(n);
            e.ok(&["share", "add", &public, "--name", label, "--role", role]);
        }
        e.ok(&["share", "remove", "Barnet"]);
        e.write("a.csv", b"id,places\n1,11\n");
        e.ok(&["commit", "-m", "v2"]);
        let keep = e.tmp.path().to_path_buf();
        std::mem::forget(e);
        keep
    })
}

fn t(e: &Env) -> &Path {
    e.tmp.path()
}

fn id_of(e: &Env, who: &str) -> Identity {
    ident(t(e), who)
}

fn json_of(out: &std::process::Output, what: &str) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "{what}: not JSON ({err}), exit {:?}: {} {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Exit code, asserting it is one the CLI contract allows (never a panic's 101).
fn code(out: &std::process::Output, what: &str) -> i32 {
    let c = out.status.code().unwrap_or(-1);
    assert!(
        [0, 1, 2].contains(&c),
        "{what}: exit {c} (panic or signal): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    c
}

/// `coffer ARGS` as identity `who` (a file in the env's folder; `nobody` does not exist),
/// in folder `dir`.
fn run_in(e: &Env, dir: &Path, who: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["-C", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    e.coffer(&all)
        .env("COFFER_IDENTITY", t(e).join(format!("{who}.id")))
        .output()
        .unwrap()
}

fn head_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(".coffer/refs/main"))
        .unwrap()
        .trim()
        .to_string()
}

/// Every file of a store folder, with its bytes' hash.
fn store_state(store: &Path) -> BTreeMap<String, String> {
    files_under(store)
        .into_iter()
        .map(|p| {
            let h = blake3::hash(&std::fs::read(&p).unwrap())
                .to_hex()
                .to_string();
            (p.strip_prefix(store).unwrap().display().to_string(), h)
        })
        .collect()
}

/// Version refusals in a verify/audit report: id -> rule (damage is not a rule here).
fn refusals(r: &Value) -> BTreeMap<String, String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "version")
        .filter_map(|f| {
            Some((
                f["id"].as_str()?.to_string(),
                f["rule"].as_str()?.to_string(),
            ))
        })
        .filter(|(_, rule)| rule != "version-pack-missing")
        .collect()
}

/// A member's clone of the dataset made before anything is forged.
fn pre_clone(e: &Env, who: &str) -> PathBuf {
    let dir = t(e).join(format!("{who}-pre"));
    let out = e.as_(
        who,
        &["clone", e.data.to_str().unwrap(), dir.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Ask every reader about every version of `expect` (None: history; Some(rule): refused by
/// that rule) and collect every disagreement. The store is the dataset folder `e.data`, the
/// source of `pre` (a clone made before forging, pulled now) and of a fresh clone, both as
/// `puller`.
fn disagreements(e: &Env, pre: &Path, puller: &str, expect: &[(Id, Option<&str>)]) -> Vec<String> {
    let mut bad = Vec::new();
    let before = store_state(&e.store());
    let mut views: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for who in ["camden", "nobody"] {
        let out = run_in(e, &e.data, who, &["verify", "--json"]);
        let c = code(&out, "verify");
        if c == 2 {
            bad.push(format!(
                "verify as {who} exit 2: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        views.push((
            format!("verify as {who}"),
            refusals(&json_of(&out, "verify")),
        ));
    }
    let out = run_in(
        e,
        &e.data,
        "nobody",
        &["audit", e.data.to_str().unwrap(), "--json"],
    );
    let c = code(&out, "audit");
    if c == 2 {
        bad.push(format!(
            "audit exit 2: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    } else {
        let r = json_of(&out, "audit");
        if r["decrypted"] != false {
            bad.push("audit decrypted".into());
        }
        views.push(("audit".into(), refusals(&r)));
    }
    if store_state(&e.store()) != before {
        bad.push("audit (or verify) wrote into the store".into());
    }
    for (who, view) in &views {
        for (id, want) in expect {
            let got = view.get(&id.to_hex()).map(String::as_str);
            if got != *want {
                bad.push(format!(
                    "{who}: {} is {got:?}, expected {want:?}",
                    id.short()
                ));
            }
        }
    }

    // A member's fetch (what pull runs first): history lands, refusals are named with the
    // same rule. Then pull: fine, or refused only because a reader cannot merge.
    let out = run_in(e, pre, puller, &["fetch", "--json"]);
    if code(&out, "fetch") != 0 {
        bad.push(format!(
            "fetch by {puller} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    } else {
        let p = json_of(&out, "fetch");
        let refused: BTreeMap<String, String> = p["refused"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        (
                            x[0].as_str().unwrap_or("").to_string(),
                            x[1]["rule"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (id, want) in expect {
            let held = pre
                .join(".coffer/store/versions")
                .join(id.to_hex())
                .exists();
            let got = refused.get(&id.to_hex()).map(String::as_str);
            match want {
                None if !held => bad.push(format!(
                    "fetch: history {} not fetched ({got:?})",
                    id.short()
                )),
                Some(rule) if got != Some(rule) => bad.push(format!(
                    "fetch: {} reported as {got:?}, expected {rule}",
                    id.short()
                )),
                _ => {}
            }
        }
    }
    let out = run_in(e, pre, puller, &["pull"]);
    let err = String::from_utf8_lossy(&out.stderr);
    if code(&out, "pull") != 0 && !err.contains("only owners, admins and writers commit") {
        bad.push(format!("pull by {puller} failed: {err}"));
    }

    // A fresh clone: holds history; what it holds that is not history, its verify names.
    let fresh = t(e).join(format!("fresh-{}", rand_suffix()));
    let out = e.as_(
        puller,
        &["clone", e.data.to_str().unwrap(), fresh.to_str().unwrap()],
    );
    if code(&out, "clone") != 0 {
        bad.push(format!(
            "fresh clone by {puller} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    } else {
        let out = run_in(e, &fresh, puller, &["verify", "--json"]);
        code(&out, "clone's verify");
        let r = refusals(&json_of(&out, "clone's verify"));
        for (id, want) in expect {
            let held = fresh
                .join(".coffer/store/versions")
                .join(id.to_hex())
                .exists();
            let got = r.get(&id.to_hex()).map(String::as_str);
            match want {
                None if !held || got.is_some() => bad.push(format!(
                    "fresh clone: history {} held {held}, refused {got:?}",
                    id.short()
                )),
                Some(rule) if held && got != Some(rule) => bad.push(format!(
                    "fresh clone holds {} and judges it {got:?}, expected {rule}",
                    id.short()
                )),
                _ => {}
            }
        }
    }
    bad
}

fn rand_suffix() -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        .to_string()
}

fn assert_agree(e: &Env, pre: &Path, puller: &str, expect: &[(Id, Option<&str>)]) {
    let bad = disagreements(e, pre, puller, expect);
    assert!(bad.is_empty(), "readers disagree:\n{}", bad.join("\n"));
}

/// The branch head's seal (root, sizes), read with Camden's keys.
fn head_seal(f: &Forge, e: &Env) -> Seal {
    let h = f.hist();
    let head = f.ds.head().unwrap().unwrap();
    let v = &h.versions[&head];
    v.unseal(&head, &f.keys(&id_of(e, "camden"), v.epoch))
        .unwrap()
}

/// A version by `author` with the given parents, under the policy in force (or `policy`),
/// the head's content and packs, `seq` right for its parents unless `edit` changes it.
#[allow(clippy::too_many_arguments)]
fn version_with(
    f: &Forge,
    author: &Identity,
    keys: &EpochKeys,
    seal: &Seal,
    parents: &[(Id, u64, u64)],
    policy: Id,
    packs: &[Id],
    edit: impl FnOnce(&mut Version),
) -> (Id, u64, u64) {
    let mut ps: Vec<Id> = parents.iter().map(|p| p.0).collect();
    ps.sort();
    let mut v = Version {
        seq: parents
            .iter()
            .map(|p| p.1)
            .max()
            .unwrap_or(0)
            .saturating_add(1),
        time: parents
            .iter()
            .map(|p| p.2)
            .max()
            .unwrap_or(1_800_000_000)
            .saturating_add(1),
        epoch: keys.epoch,
        packs: packs.to_vec(),
        author: Bytes32(author.public().sign),
        policy,
        sealed: Vec::new(),
        dataset: f.ds.id,
        parents: ps,
    };
    edit(&mut v);
    v.sealed = seal.seal(keys, &v.dataset, v.seq);
    let id = f.store_version(&v, author);
    (id, v.seq, v.time)
}

/// The head as (id, seq, time), the policy in force and its epoch, the head's packs.
fn head_info(f: &Forge) -> ((Id, u64, u64), Id, u32, Vec<Id>) {
    let h = f.hist();
    let head = f.ds.head().unwrap().unwrap();
    let v = &h.versions[&head];
    let (tip, p) = h.chain.tip();
    ((head, v.seq, v.time), *tip, p.epoch, v.packs.clone())
}

// ---------------------------------------------------------------------------------------
// 1. Odd shapes of parents.

/// A stranger's version, a writer's child of it, a grandchild, and a writer's merge of the
/// history head with the refused child: all refused, the first by author, the rest by parent.
#[test]
fn refused_parent_taints_every_descendant_alike() {
    let e = Env::copy_of(template(), "camden");
    let pre = pre_clone(&e, "hackney");
    let f = Forge::open(&e.data);
    let (head, tip, epoch, packs) = head_info(&f);
    let seal = head_seal(&f, &e);
    let gla = id_of(&e, "gla");
    let stranger = id_of(&e, "stranger");
    let gk = f.keys(&gla, epoch);
    let sk = f.keys(&stranger, epoch);
    let x = version_with(&f, &stranger, &sk, &seal, &[head], tip, &packs, |_| {});
    let y = version_with(&f, &gla, &gk, &seal, &[x], tip, &packs, |_| {});
    let z = version_with(&f, &gla, &gk, &seal, &[y], tip, &packs, |_| {});
    let m = version_with(&f, &gla, &gk, &seal, &[head, y], tip, &packs, |_| {});
    // And a good sibling, history.
    let ok = version_with(&f, &gla, &gk, &seal, &[head], tip, &packs, |_| {});
    assert_agree(
        &e,
        &pre,
        "hackney",
        &[
            (x.0, Some("version-author")),
            (y.0, Some("version-parent")),
            (z.0, Some("version-parent")),
            (m.0, Some("version-parent")),
            (ok.0, None),
        ],
    );
}

/// Parents that are junk in the store (a file under `versions/` that does not open), a
/// parent that never existed, a parent refused for its seq: every reader refuses the child
/// by `version-parent`; junk stops nobody.
#[test]
fn junk_and_missing_parents() {
    let e = Env::copy_of(template(), "camden");
    let pre = pre_clone(&e, "hackney");
    let f = Forge::open(&e.data);
    let (head, tip, epoch, packs) = head_info(&f);
    let seal = head_seal(&f, &e);
    let gla = id_of(&e, "gla");
    let gk = f.keys(&gla, epoch);
    // Junk named by its own hash (opens as nothing) and junk misnamed.
    let junk = b"not a coffer object at all".to_vec();
    let j1 = Id::of_stored(&junk);
    f.raw(&format!("versions/{j1}"), &junk);
    let j2 = Id([0x42; 32]);
    f.raw(&format!("versions/{j2}"), b"misnamed");
    let a = version_with(
        &f,
        &gla,
        &gk,
        &seal,
        &[head, (j1, head.1, head.2)],
        tip,
        &packs,
        |_| {},
    );
    let b = version_with(
        &f,
        &gla,
        &gk,
        &seal,
        &[head, (j2, head.1, head.2)],
        tip,
        &packs,
        |_| {},
    );
    let c = version_with(
        &f,
        &gla,
        &gk,
        &seal,
        &[(Id([0x43; 32]), 1, 1)],
        tip,
        &packs,
        |_| {},
    );
    let bad_seq = version_with(&f, &gla, &gk, &seal, &[head], tip, &packs, |v| v.seq += 5);
    let d = version_with(&f, &gla, &gk, &seal, &[bad_seq], tip, &packs, |_| {});
    assert_agree(
        &e,
        &pre,
        "hackney",
        &[
            (a.0, Some("version-parent")),
            (b.0, Some("version-parent")),
            (c.0, Some("version-parent")),
            (bad_seq.0, Some("version-seq")),
            (d.0, Some("version-parent")),
        ],
    );
}

/// Sixteen siblings merged by one version (the limit) are history; seventeen parents do not
/// open (junk). A 300-long chain of a writer's versions is history for everyone.
#[test]
fn wide_merges_and_deep_chains() {
    let e = Env::copy_of(template(), "camden");
    let pre = pre_clone(&e, "hackney");
    let f = Forge::open(&e.data);
    let (head, tip, epoch, packs) = head_info(&f);
    let seal = head_seal(&f, &e);
    let gla = id_of(&e, "gla");
    let gk = f.keys(&gla, epoch);
    let kids: Vec<(Id, u64, u64)> = (0..17)
        .map(|i| version_with(&f, &gla, &gk, &seal, &[head], tip, &packs, |v| v.time += i))
        .collect();
    let merge16 = version_with(&f, &gla, &gk, &seal, &kids[..16], tip, &packs, |_| {});
    let merge17 = version_with(&f, &gla, &gk, &seal, &kids, tip, &packs, |_| {});
    let mut cur = merge16;
    let mut chain = Vec::new();
    for _ in 0..300 {
        cur = version_with(&f, &gla, &gk, &seal, &[cur], tip, &packs, |_| {});
        chain.push(cur.0);
    }
    let mut expect: Vec<(Id, Option<&str>)> = kids.iter().map(|k| (k.0, None)).collect();
    expect.push((merge16.0, None));
    expect.push((merge17.0, Some("object-malformed")));
    expect.extend(chain.iter().map(|i| (*i, None)));
    assert_agree(&e, &pre, "hackney", &expect);
}

// ---------------------------------------------------------------------------------------
// 2. Policies: a side of a fork, withdrawals, acknowledgement.

/// A writer's version naming a side of an unrepaired fork (with that side's epoch) is refused
/// by V2 for everyone; pull and clone keep working.
#[test]
fn version_on_a_fork_side() {
    let e = Env::copy_of(template(), "camden");
    let pre = pre_clone(&e, "brent");
    let f = Forge::open(&e.data);
    let camden = id_of(&e, "camden");
    let newcomer = id_of(&e, "newcomer");
    let base = f.hist().chain.policies.len() - 1;
    let side_a = f.after(base, &camden, |p, s| {
        let m = member("Newcomer", "reader", &newcomer);
        p.wraps
            .extend(wraps_for(std::slice::from_ref(&m), p.epoch, s));
        p.members.push(m);
    });
    let _side_b = f.after(base, &camden, |p, s| {
        p.members.retain(|m| m.label() != "Hackney");
        Forge::rotate(p, s);
    });
    let (head, tip, epoch, packs) = head_info(&f);
    let seal = head_seal(&f, &e);
    let gla = id_of(&e, "gla");
    let gk = f.keys(&gla, epoch);
    let on_side = version_with(&f, &gla, &gk, &seal, &[head], side_a, &packs, |_| {});
    // Under the policy before the fork, after the fork withdrew Hackney on one side, with the
    // head's packs (epoch 1, which Hackney held): no new content, judged by V9.
    let under_base = version_with(&f, &gla, &gk, &seal, &[head], tip, &packs, |_| {});
    // Same, with new content sealed under epoch 1: refused (a side's withdrawal applies).
    let fresh_pack = f.pack(&gla, epoch, b"rows Hackney must not read\n");
    let mut with_new = packs.clone();
    with_new.push(fresh_pack);
    with_new.sort();
    let leak = version_with(&f, &gla, &gk, &seal, &[head], tip, &with_new, |_| {});
    assert_agree(
        &e,
        &pre,
        "brent",
        &[
            (on_side.0, Some("version-policy")),
            (under_base.0, Some("version-withdrawn-reader")),
            (leak.0, Some("version-withdrawn-reader")),
        ],
    );
}

/// The GLA, withdrawn, signs under the policy it knew a child of a version made after its
/// withdrawal (V7), and one under the new policy (V3); and one under the old policy on the
/// head it knew, which a later policy's `heads` names: still refused (V8 needs the policy
/// that withdrew it to acknowledge it), for every reader.
#[test]
fn withdrawn_writer_cannot_add_history_by_any_route() {
    let e = Env::copy_of(template(), "camden");
    let pre = pre_clone(&e, "hackney");
    let f = Forge::open(&e.data);
    let before = head_info(&f);
    let old_policy = before.1;
    let old_epoch = before.2;
    e.ok(&["share", "remove", "GLA"]);
    e.write("a.csv", b"id,places\n1,12\n");
    e.ok(&["commit", "-m", "v3"]);
    let (head, tip, epoch, packs) = head_info(&f);
    let seal = head_seal(&f, &e);
    let gla = id_of(&e, "gla");
    let gk_old = f.keys(&gla, old_epoch);
    let gk_new = f.keys(&gla, epoch);
    let v7 = version_with(
        &f,
        &gla,
        &gk_old,
        &seal,
        &[head],
        old_policy,
        &before.3,
        |_| {},
    );
    let v3 = version_with(&f, &gla, &gk_new, &seal, &[head], tip, &packs, |_| {});
    let late = version_with(
        &f,
        &gla,
        &gk_old,
        &seal,
        &[before.0],
        old_policy,
        &before.3,
        |_| {},
    );
    // A merge by the owner (still a writer) of the head and the late version: V5.
    let camden = id_of(&e, "camden");
    let ck = f.keys(&camden, epoch);
    let merged = version_with(&f, &camden, &ck, &seal, &[head, late], tip, &packs, |_| {});
    // A later policy (Camden adds the newcomer) whose heads name the late version.
    let newcomer = id_of(&e, "newcomer");
    f.policy(&camden, |p, s| {
        let m = member("Newcomer", "reader", &newcomer);
        p.wraps
            .extend(wraps_for(std::slice::from_ref(&m), p.epoch, s));
        p.members.push(m);
        let mut h = p.heads.clone().unwrap_or_default();
        h.push(late.0);
        h.sort();
        p.heads = Some(h);
    });
    // And one re-adding the GLA as a writer, acknowledging the late version again.
    f.policy(&camden, |p, s| {
        let m = member("GLA", "writer", &gla);
        p.wraps
            .extend(wraps_for(std::slice::from_ref(&m), p.epoch, s));
        p.members.push(m);
        let h: BTreeSet<Id> = [late.0, head.0].into_iter().collect();
        p.heads = Some(h.into_iter().collect());
    });
    assert_agree(
        &e,
        &pre,
        "hackney",
        &[
            (v7.0, Some("version-policy-order")),
            (v3.0, Some("version-author")),
            (late.0, Some("version-withdrawn-writer")),
            (merged.0, Some("version-parent")),
        ],
    );
}

/// A withdrawal whose `heads` name the head and also junk, a refused version and a version
/// that does not exist: accepted (heads are not a chain rule), changes no verdict, stops
/// nobody.
#[test]
fn heads_naming_junk_and_refused_versions() {
    let e = Env::copy_of(template(), "camden");
    let pre = pre_clone(&e, "hackney");
    let f = Forge::open(&e.data);
    let (head, tip, epoch, packs) = head_info(&f);
    let seal = head_seal(&f, &e);
    let stranger = id_of(&e, "stranger");
    let sk = f.keys(&stranger, epoch);
    let refused = version_with(&f, &stranger, &sk, &seal, &[head], tip, &packs, |_| {});
    let junk = b"junk version".to_vec();
    let j = Id::of_stored(&junk);
    f.raw(&format!("versions/{j}"), &junk);
    let camden = id_of(&e, "camden");
    // A withdrawal (the GLA) acknowledging junk, the refused version and a ghost, not the head.
    f.policy(&camden, |p, s| {
        p.members.retain(|m| m.label() != "GLA");
        Forge::rotate(p, s);
        let h: BTreeSet<Id> = [head.0, j, refused.0, Id([0x77; 32])].into_iter().collect();
        p.heads = Some(h.into_iter().collect());
    });
    // The GLA's versions: its head-era work is still acknowledged? It made none; a version of
    // the GLA under the old policy, child of the head, is not acknowledged: refused.
    let gla = id_of(&e, "gla");
    let gk = f.keys(&gla, epoch);
    let g = version_with(&f, &gla, &gk, &seal, &[head], tip, &packs, |_| {});
    assert_agree(
        &e,
        &pre,
        "hackney",
        &[
            (head.0, None),
            (refused.0, Some("version-author")),
            (g.0, Some("version-withdrawn-writer")),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// 3. Edge values.

/// `seq` at the edges: u64::MAX without parents (V6), a child of it (V5 or V6), seq 0
/// (does not open).
#[test]
fn seq_edge_values() {
    let e = Env::copy_of(template(), "camden");
    let pre = pre_clone(&e, "hackney");
    let f = Forge::open(&e.data);
    let (head, tip, epoch, packs) = head_info(&f);
    let seal = head_seal(&f, &e);
    let gla = id_of(&e, "gla");
    let gk = f.keys(&gla, epoch);
    let max = version_with(&f, &gla, &gk, &seal, &[], tip, &packs, |v| v.seq = u64::MAX);
    let child = version_with(&f, &gla, &gk, &seal, &[max], tip, &packs, |v| {
        v.seq = u64::MAX
    });
    let zero = version_with(&f, &gla, &gk, &seal, &[], tip, &packs, |v| v.seq = 0);
    let big_epoch = version_with(&f, &gla, &gk, &seal, &[head], tip, &packs, |v| {
        v.epoch = u32::MAX
    });
    assert_agree(
        &e,
        &pre,
        "hackney",
        &[
            (max.0, Some("version-seq")),
            (child.0, Some("version-seq")),
            (zero.0, Some("object-malformed")),
            (big_epoch.0, Some("version-epoch")),
        ],
    );
}

/// A writer's version dated in the year 10000 (and one at u64::MAX seconds): history (time is
/// only a warning), so every command that shows it must work: `log`, `log --json`, `show`,
/// `access`, `verify`, for a member who pulled it.
fn far_future(time: u64) {
    let e = Env::copy_of(template(), "camden");
    let pre = pre_clone(&e, "hackney");
    let f = Forge::open(&e.data);
    let (head, tip, epoch, packs) = head_info(&f);
    let seal = head_seal(&f, &e);
    let gla = id_of(&e, "gla");
    let gk = f.keys(&gla, epoch);
    let v = version_with(&f, &gla, &gk, &seal, &[head], tip, &packs, |v| {
        v.time = time
    });
    assert_agree(&e, &pre, "hackney", &[(v.0, None)]);
    assert_eq!(head_of(&pre), v.0.to_hex());
    let mut bad = Vec::new();
    for args in [
        &["log"][..],
        &["log", "--json"],
        &["show", "HEAD"],
        &["show", "HEAD", "--json"],
        &["access"],
        &["verify"],
    ] {
        let out = run_in(&e, &pre, "hackney", args);
        let c = out.status.code().unwrap_or(-1);
        if ![0, 1, 2].contains(&c) {
            bad.push(format!(
                "{args:?}: exit {c}: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn version_dated_year_10000() {
    far_future(253_402_300_800);
}

#[test]
fn version_dated_u64_max() {
    far_future(u64::MAX);
}

// ---------------------------------------------------------------------------------------
// 4. Packs: epochs, reseal, junk.

/// After `share add --from-now` (a reseal version), the newcomer's fresh clone reads the
/// head; a writer's merge under the new policy listing only resealed packs is history; one
/// listing the old epoch's packs is refused (V10); readers agree.
#[test]
fn reseal_and_newcomer() {
    let e = Env::copy_of(template(), "camden");
    let pre = pre_clone(&e, "hackney");
    let f = Forge::open(&e.data);
    let (old_head, old_tip, old_epoch, old_packs) = head_info(&f);
    let p = e.public_of("newcomer");
    e.ok(&["share", "add", &p, "--name", "Newcomer", "--from-now"]);
    let (head, tip, epoch, packs) = head_info(&f);
    assert_ne!(head.0, old_head.0, "a reseal version");
    let seal = head_seal(&f, &e);
    let gla = id_of(&e, "gla");
    let gk = f.keys(&gla, epoch);
    let ok = version_with(&f, &gla, &gk, &seal, &[head, old_head], tip, &packs, |_| {});
    let mut mixed = packs.clone();
    mixed.extend(old_packs.iter().copied());
    mixed.sort();
    mixed.dedup();
    let bad = version_with(&f, &gla, &gk, &seal, &[head], tip, &mixed, |_| {});
    // The GLA, not having pulled, commits under the policy before the addition (epoch 1):
    // history (an addition withdraws nothing) though the newcomer cannot read it.
    let gk_old = f.keys(&gla, old_epoch);
    let late = version_with(
        &f,
        &gla,
        &gk_old,
        &seal,
        &[old_head],
        old_tip,
        &old_packs,
        |_| {},
    );
    assert_agree(
        &e,
        &pre,
        "hackney",
        &[
            (head.0, None),
            (ok.0, None),
            (bad.0, Some("version-pack-epoch")),
            (late.0, None),
        ],
    );
    // The newcomer clones: the newest head with the highest seq is the GLA's merge, which
    // it can read.
    let dir = t(&e).join("newcomer-clone");
    let out = e.as_(
        "newcomer",
        &["clone", e.data.to_str().unwrap(), dir.to_str().unwrap()],
    );
    code(&out, "newcomer clone");
    assert!(
        out.status.success(),
        "newcomer clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.join("a.csv")).unwrap(),
        std::fs::read(e.data.join("a.csv")).unwrap()
    );
}

/// The GLA's late version under the policy before a `--from-now` addition is history with
/// the highest seq, which a newcomer cannot read: its fresh clone checks out the newest head
/// it can read (the reseal version) and works.
#[test]
fn newcomer_clone_when_highest_head_is_unreadable() {
    let e = Env::copy_of(template(), "camden");
    let f = Forge::open(&e.data);
    let (old_head, old_tip, old_epoch, old_packs) = head_info(&f);
    let p = e.public_of("newcomer");
    e.ok(&["share", "add", &p, "--name", "Newcomer", "--from-now"]);
    let reseal = f.ds.head().unwrap().unwrap();
    let seal = head_seal(&f, &e);
    let gla = id_of(&e, "gla");
    let gk_old = f.keys(&gla, old_epoch);
    let a = version_with(
        &f,
        &gla,
        &gk_old,
        &seal,
        &[old_head],
        old_tip,
        &old_packs,
        |_| {},
    );
    let _b = version_with(&f, &gla, &gk_old, &seal, &[a], old_tip, &old_packs, |_| {});
    let dir = t(&e).join("newcomer-clone");
    let out = e.as_(
        "newcomer",
        &["clone", e.data.to_str().unwrap(), dir.to_str().unwrap()],
    );
    let c = code(&out, "newcomer clone");
    eprintln!(
        "newcomer clone: exit {c}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(c, 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.join(".coffer/refs/main"))
            .unwrap()
            .trim(),
        reseal.to_hex()
    );
}

/// Junk under a pack name that is not canonical (`packs/zz/ID`, `packs/ID`) repeating the id
/// of a real pack of the head, bigger than it: a full clone, a partial clone, a pull, audit
/// and verify all keep working and agree.
#[test]
fn junk_under_a_noncanonical_pack_name() {
    let e = Env::copy_of(template(), "camden");
    let pre = pre_clone(&e, "hackney");
    let f = Forge::open(&e.data);
    let (head, _, _, packs) = head_info(&f);
    for p in &packs {
        let size = std::fs::metadata(e.store().join(coffer::store::pack_path(p)))
            .unwrap()
            .len() as usize;
        f.raw(&format!("packs/zz/{p}"), &vec![0x55; size + 4096]);
    }
    assert_agree(&e, &pre, "hackney", &[(head.0, None)]);
    let dir = t(&e).join("partial");
    let out = e.as_(
        "hackney",
        &[
            "clone",
            e.data.to_str().unwrap(),
            dir.to_str().unwrap(),
            "--path",
            "schools",
        ],
    );
    code(&out, "partial clone");
    assert!(
        out.status.success(),
        "partial clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(head_of(&dir), head.0.to_hex());
}

/// Same, with junk smaller than the real pack: the partial clone must still take the head.
#[test]
fn junk_smaller_under_a_noncanonical_pack_name() {
    let e = Env::copy_of(template(), "camden");
    let f = Forge::open(&e.data);
    let (head, _, _, packs) = head_info(&f);
    for p in &packs {
        f.raw(&format!("packs/zz/{p}"), &[0x55; 100]);
    }
    let dir = t(&e).join("partial");
    let out = e.as_(
        "hackney",
        &[
            "clone",
            e.data.to_str().unwrap(),
            dir.to_str().unwrap(),
            "--path",
            "schools",
        ],
    );
    code(&out, "partial clone");
    assert!(
        out.status.success(),
        "partial clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(head_of(&dir), head.0.to_hex());
}

// ---------------------------------------------------------------------------------------
// 5. Junk planted where a push is about to write (from the claim it can read).

/// Camden withdraws the GLA and commits, and pushes to a folder remote; the push dies after
/// its claim (Ctrl-C, a crash). Anyone with write access reads the claim, computes the ids
/// of the new policy and version, and writes junk under those names. Camden pushes again:
/// the remote must end up with the withdrawal and the version (or the push must fail and
/// say so), and Camden's next fetch must work.
#[test]
fn junk_planted_from_a_claim_before_the_rerun_push() {
    let e = Env::copy_of(template(), "camden");
    let bucket = t(&e).join("bucket");
    e.ok(&["remote", "add", "origin", bucket.to_str().unwrap()]);
    e.ok(&["push"]);
    e.ok(&["share", "remove", "GLA"]);
    e.write("a.csv", b"id,places\n1,13\n");
    e.ok(&["commit", "-m", "v3"]);
    let mut child = e.spawn_paused(&["push"], "claim");
    kill9_running(&mut child);
    let mut planted = Vec::new();
    for c in files_under(&bucket.join("claims")) {
        let claim = coffer::remote::claim::Claim::decode(&std::fs::read(&c).unwrap()).unwrap();
        for (dir, objs) in [("policy", &claim.policies), ("versions", &claim.versions)] {
            for b in objs {
                let id = Id::of_stored(b);
                let path = bucket.join(dir).join(id.to_hex());
                if !path.exists() {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(&path, b"junk from a stranger").unwrap();
                    planted.push(format!("{dir}/{id}"));
                }
            }
        }
    }
    assert!(!planted.is_empty(), "the claim named new objects");
    let out = e.coffer(&["push"]).output().unwrap();
    let c = code(&out, "rerun push");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    if c == 0 {
        // Then the remote must hold the real objects: a fresh clone sees the withdrawal.
        let fresh = t(&e).join("fresh");
        let out = e.as_(
            "hackney",
            &["clone", bucket.to_str().unwrap(), fresh.to_str().unwrap()],
        );
        assert!(
            out.status.success(),
            "clone after the push: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mine: Value = serde_json::from_str(&e.ok(&["share", "list", "--json"])).unwrap();
        let out = run_in(&e, &fresh, "hackney", &["share", "list", "--json"]);
        let theirs = json_of(&out, "share list");
        assert_eq!(
            theirs["policy"], mine["policy"],
            "the remote lacks the withdrawal the push reported as done (planted {planted:?})"
        );
        assert_eq!(
            head_of(&fresh),
            head_of(&e.data),
            "the remote lacks the version"
        );
        let out = e.coffer(&["fetch"]).output().unwrap();
        assert!(
            out.status.success(),
            "Camden's next fetch: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        assert!(
            err.contains("junk") || err.contains("altered") || err.contains("hash"),
            "the push failed without saying why: {err}"
        );
    }
}
