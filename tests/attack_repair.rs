//! Attacks on fork repair (spec/format.md §10.1c): validly signed policies and versions
//! written straight into a dataset's store, as someone with the bucket's credentials and some
//! member's keys would, then judged by the real binary (`verify` with and without a key,
//! `share list`, `pull`, a fresh `clone`). Each test asserts the SAFE behaviour, so a failing
//! test is a finding. Found and fixed: a late repair or side by an admin withdrawn after the
//! repair (rule 1 now weighs repairs' lines), a line extended after the repair (repairs are
//! judged on the lines cut where they name them), an ill-formed repair named by another
//! (fixed point), an epoch of u32::MAX (bounded), a changed X25519 key (both keys compared),
//! an overflow panic on a crafted seq. Still open, `#[ignore = "finding: ..."]` so the suite
//! stays green: run them with `cargo test --test attack_repair -- --include-ignored`.
//!
//! The dataset: Camden (owner) commits, shares with the GLA (writer), Hackney (reader) and
//! Brent (admin), commits again; all in epoch 0. Identities `stranger`, `newcomer` and
//! `yorke` exist but are not members. The usual fork (`Lab::fork`): two policies by Camden
//! after the policy in force (`base`): side A adds the newcomer as a reader (epoch 0), side B
//! withdraws Hackney (epoch 1). Brent is untouched by both, so he may repair.

mod util;

use coffer::crypto::keys::EpochSecret;
use coffer::id::{Bytes32, Id};
use coffer::identity::Identity;
use coffer::object::policy::Policy;
use coffer::object::version::Version;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use util::forge::{ident, member, wraps_for, Forge};
use util::*;

fn template() -> &'static PathBuf {
    static T: OnceLock<PathBuf> = OnceLock::new();
    T.get_or_init(|| {
        let e = Env::new();
        for n in ["gla", "hackney", "brent", "stranger", "newcomer", "yorke"] {
            e.new_identity(n);
        }
        e.write("a.csv", b"id,places\n1,10\n");
        e.write("schools/b.csv", &noise(50_000, 3));
        e.ok(&["init", "--name", "camden-services"]);
        e.ok(&["commit", "-m", "v1"]);
        for (n, label, role) in [
            ("gla", "GLA", "writer"),
            ("hackney", "Hackney", "reader"),
            ("brent", "Brent", "admin"),
        ] {
            let public = e.public_of(n);
            e.ok(&["share", "add", &public, "--name", label, "--role", role]);
        }
        e.write("a.csv", b"id,places\n1,11\n");
        e.ok(&["commit", "-m", "v2"]);
        let keep = e.tmp.path().to_path_buf();
        std::mem::forget(e);
        keep
    })
}

/// One attack's world: a copy of the template, and the dataset's dedup key and epoch-0
/// secret (so crafted epochs keep blob ids comparable, as real ones do).
struct Lab {
    e: Env,
    s0: EpochSecret,
}

/// The ids of a fork made by [`Lab::fork`].
struct Fork {
    base: Id,
    a: Id,
    b: Id,
}

impl Fork {
    fn sides(&self) -> Vec<Id> {
        let mut v = vec![self.a, self.b];
        v.sort();
        v
    }
}

impl Lab {
    fn new() -> Lab {
        let e = Env::copy_of(template(), "camden");
        let s0 = Forge::open(&e.data)
            .secrets(&ident(e.tmp.path(), "camden"))
            .remove(&0)
            .unwrap();
        Lab { e, s0 }
    }

    fn who(&self, name: &str) -> Identity {
        ident(self.e.tmp.path(), name)
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.e.tmp.path().join(name)
    }

    /// A new epoch secret with the dataset's dedup key.
    fn fresh(&self) -> EpochSecret {
        let mut s = EpochSecret::generate();
        s.dedup_key = self.s0.dedup_key;
        s
    }

    /// A stored policy of the origin store.
    fn policy(&self, id: &Id) -> Policy {
        policy_in(&self.e.data, id)
    }

    /// A policy following `prev` (any stored policy), signed by `signer`: same members,
    /// wraps, epoch and audit, heads the branch head, then changed by `edit`; members and
    /// wraps sorted; stored in the origin store.
    fn after(&self, prev: &Id, signer: &str, edit: impl FnOnce(&mut Policy, &Lab)) -> Id {
        let f = Forge::open(&self.e.data);
        let q = self.policy(prev);
        let who = self.who(signer);
        let mut p = Policy {
            seq: q.seq + 1,
            name: q.name.clone(),
            time: q.time + 1,
            audit: q.audit.clone(),
            epoch: q.epoch,
            heads: Some(f.ds.head().unwrap().into_iter().collect()),
            wraps: q.wraps.clone(),
            signer: Bytes32(who.public().sign),
            dataset: Some(f.ds.id),
            members: q.members.clone(),
            repairs: None,
            previous: Some(*prev),
        };
        edit(&mut p, self);
        p.members
            .sort_by(|a, b| a.label().as_bytes().cmp(b.label().as_bytes()));
        p.sort_wraps();
        f.store_policy(&p, &who)
    }

    /// The usual fork after the policy in force: A adds the newcomer (reader, epoch 0), B
    /// withdraws Hackney (epoch 1); both by Camden.
    fn fork(&self) -> Fork {
        let base = self.tip(&self.e.data, "camden").unwrap();
        let a = self.after(&base, "camden", |p, l| {
            add(p, "Newcomer", "reader", &l.who("newcomer"), &l.s0)
        });
        let b = self.after(&base, "camden", |p, l| withdraw(p, "Hackney", l));
        Fork { base, a, b }
    }

    /// The policy in force in the dataset folder `dir` as `who` sees it (`share list`), or
    /// the error.
    fn tip(&self, dir: &Path, who: &str) -> Result<Id, String> {
        let out = self.run(dir, who, &["share", "list", "--json"]);
        no_crash(&out, "share list");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        Ok(Id::from_hex(v["policy"].as_str().unwrap()).unwrap())
    }

    /// `coffer -C DIR ARGS` as `who`.
    fn run(&self, dir: &Path, who: &str, args: &[&str]) -> std::process::Output {
        let mut all = vec!["-C", dir.to_str().unwrap()];
        all.extend_from_slice(args);
        self.e
            .coffer(&all)
            .env("COFFER_IDENTITY", self.dir(&format!("{who}.id")))
            .output()
            .unwrap()
    }

    /// Clone the origin into `name` as `who`; the output.
    fn clone_as(&self, who: &str, name: &str) -> std::process::Output {
        let out = self.e.as_(
            who,
            &[
                "clone",
                self.e.data.to_str().unwrap(),
                self.dir(name).to_str().unwrap(),
            ],
        );
        no_crash(&out, "clone");
        out
    }

    /// Policy findings of `verify --json` of folder `dir`, with Camden's key and without any
    /// (asserted equal): (rule, id, level).
    fn findings(&self, dir: &Path) -> Vec<(String, String, String)> {
        let mut both = Vec::new();
        for who in ["camden", "nobody"] {
            let out = self.run(dir, who, &["verify", "--json"]);
            no_crash(&out, "verify");
            let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "verify --json ({who}) is not JSON ({e}): {} {}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            let mut f: Vec<(String, String, String)> = r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["kind"] == "policy")
                .map(|f| {
                    (
                        f["rule"].as_str().unwrap_or("").to_string(),
                        f["id"].as_str().unwrap_or("").to_string(),
                        f["level"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            f.sort();
            both.push(f);
        }
        assert_eq!(both[0], both[1], "verify with and without a key disagree");
        both.remove(0)
    }
}

fn policy_in(dir: &Path, id: &Id) -> Policy {
    let b = std::fs::read(dir.join(".coffer/store/policy").join(id.to_hex())).unwrap();
    Policy::open(id, &b).unwrap()
}

/// Exit 0, 1 or 2, and no panic message.
fn no_crash(out: &std::process::Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0..=2)) && !err.contains("panicked"),
        "{what}: exit {:?}: {err}",
        out.status.code()
    );
}

fn has(f: &[(String, String, String)], rule: &str, id: &Id) -> bool {
    f.iter().any(|(r, i, _)| r == rule && *i == id.to_hex())
}

fn count(f: &[(String, String, String)], rule: &str) -> usize {
    f.iter().filter(|(r, _, _)| r == rule).count()
}

/// Add a member with a wrap of `s` for the policy's epoch.
fn add(p: &mut Policy, label: &str, role: &str, who: &Identity, s: &EpochSecret) {
    let m = member(label, role, who);
    p.wraps
        .extend(wraps_for(std::slice::from_ref(&m), p.epoch, s));
    p.members.push(m);
}

/// Drop wraps for non-members (P8).
fn prune(p: &mut Policy) {
    let members = p.members.clone();
    p.wraps
        .retain(|w| members.iter().any(|m| m.kx_key() == &w.0 .0));
}

/// Start `epoch` (a fresh secret wrapped to every member), dropping later wraps.
fn rotate_to(p: &mut Policy, epoch: u32, s: &EpochSecret) {
    p.epoch = epoch;
    p.wraps.retain(|w| w.1 < epoch);
    prune(p);
    let members = p.members.clone();
    p.wraps.extend(wraps_for(&members, epoch, s));
}

/// Withdraw `label`: a new epoch, one above.
fn withdraw(p: &mut Policy, label: &str, l: &Lab) {
    p.members.retain(|m| m.label() != label);
    let e = p.epoch + 1;
    rotate_to(p, e, &l.fresh());
}

fn set_role(p: &mut Policy, label: &str, role: &str) {
    for m in &mut p.members {
        if m.label() == label {
            m.1 = role.into();
        }
    }
}

/// A repair of `fork` with the members of the base minus Hackney (side B withdrew him), the
/// newcomer in (side A added it), epoch `epoch`, naming `names`.
fn repair_like(p: &mut Policy, l: &Lab, names: &[Id], epoch: u32) {
    p.members.retain(|m| m.label() != "Hackney");
    if p.member("Newcomer").is_none() {
        p.members
            .push(member("Newcomer", "reader", &l.who("newcomer")));
    }
    rotate_to(p, epoch, &l.fresh());
    let mut n = names.to_vec();
    n.sort();
    p.repairs = Some(n);
}

// ---------------------------------------------------------------------------------------
// 1. A settled fork re-opened, or taken over, after the chain moved on past the repair.
// ---------------------------------------------------------------------------------------

/// Fork, `share repair` (R, epoch 2), then Camden withdraws Brent (P, epoch 3) and commits
/// (version V under P). The GLA clones. Returns (fork, R, P, the branch head before V).
fn repaired_then_brent_withdrawn(l: &Lab) -> (Fork, Id, Id, Id) {
    let fk = l.fork();
    let out: Value = serde_json::from_str(&l.e.ok(&["share", "repair", "--json"])).unwrap();
    let r = Id::from_hex(out["policy"].as_str().unwrap()).unwrap();
    assert_eq!(out["epoch"], 2);
    l.e.ok(&["share", "remove", "Brent"]);
    let p = l.tip(&l.e.data, "camden").unwrap();
    assert_eq!(l.policy(&p).epoch, 3);
    let before = Forge::open(&l.e.data).ds.head().unwrap().unwrap();
    l.e.ok(&["commit", "-m", "after Brent left", "--allow-empty"]);
    assert!(l.clone_as("gla", "gla-clone").status.success());
    (fk, r, p, before)
}

/// Brent, withdrawn by P (a policy after the repair R), signs a second repair of the old
/// fork that names both sides and R, one epoch above R (epoch 3: P's number, with another
/// secret): by the letter of §10.1c it names every other well-formed repair and settles the
/// fork. P and every version made under it fall out of the chain, Brent (with an accomplice
/// as admin, the GLA out) is in force; he clones, commits and pushes, and a fresh clone
/// checks out his version. Members' folders that had seen P fail with a rollback error.
/// Safe: P stays in force for every reader and Brent's objects are ignored.
#[test]
fn late_repair_by_admin_withdrawn_after_the_repair_is_ignored() {
    let l = Lab::new();
    let (fk, r, p, before) = repaired_then_brent_withdrawn(&l);
    let mut names = fk.sides();
    names.push(r);
    let r2 = l.after(&fk.base, "brent", |q, l| {
        // Brent's choice of additions and removals: the GLA out, his accomplice in.
        q.members.retain(|m| m.label() != "GLA");
        q.members.push(member("Yorke", "admin", &l.who("yorke")));
        repair_like(q, l, &names, 3);
        q.heads = Some(vec![before]);
    });
    let f = l.findings(&l.e.data);
    let origin = l.tip(&l.e.data, "camden");
    // Brent clones, commits under his repair and pushes.
    let b = l.clone_as("brent", "brent-clone");
    let brent_tip = l.tip(&l.dir("brent-clone"), "brent");
    let commit = l.run(
        &l.dir("brent-clone"),
        "brent",
        &["commit", "-m", "mine now", "--allow-empty"],
    );
    let push = l.run(&l.dir("brent-clone"), "brent", &["push"]);
    no_crash(&commit, "brent commit");
    no_crash(&push, "brent push");
    let fresh = l.clone_as("camden", "fresh");
    let fresh_tip = l.tip(&l.dir("fresh"), "camden");
    let log = l.run(&l.dir("fresh"), "camden", &["log"]);
    let gla = l.run(&l.dir("gla-clone"), "gla", &["pull", "--json"]);
    no_crash(&gla, "gla pull");
    let gla_tip = l.tip(&l.dir("gla-clone"), "gla");
    assert!(
        fresh_tip == Ok(p) && gla_tip == Ok(p) && origin == Ok(p),
        "P {} should stay in force. R {} R2 {} (Brent's). origin: {origin:?}; findings {f:?}\n\
         Brent's clone: {} tip {brent_tip:?}; commit {:?} {}; push {:?} {}\n\
         fresh clone: {} tip {fresh_tip:?}; log:\n{}\n\
         the GLA's clone: pull {}; tip {gla_tip:?}",
        p.short(),
        r.short(),
        r2.short(),
        b.status,
        commit.status.code(),
        String::from_utf8_lossy(&commit.stdout),
        push.status.code(),
        String::from_utf8_lossy(&push.stderr),
        fresh.status,
        String::from_utf8_lossy(&log.stdout),
        String::from_utf8_lossy(&gla.stderr),
    );
}

/// Brent, withdrawn by P after the repair, forks the policy before the fork again (a plain
/// policy adding his accomplice). Rule 1 only weighs the sides' lines, not the repair and
/// what followed it, so his side stands, the repair no longer names every side, and the
/// fork is open again. Safe: his side is ignored (P withdrew him), P stays in force.
#[test]
fn late_side_by_admin_withdrawn_after_the_repair_is_ignored() {
    let l = Lab::new();
    let (fk, _r, p, before) = repaired_then_brent_withdrawn(&l);
    let late = l.after(&fk.base, "brent", |q, l| {
        add(q, "Yorke", "admin", &l.who("yorke"), &l.s0);
        q.heads = Some(vec![before]);
    });
    let f = l.findings(&l.e.data);
    let origin = l.tip(&l.e.data, "camden");
    let fresh = l.clone_as("camden", "fresh");
    let fresh_tip = l.tip(&l.dir("fresh"), "camden");
    let gla = l.run(&l.dir("gla-clone"), "gla", &["pull", "--json"]);
    no_crash(&gla, "gla pull");
    let gla_tip = l.tip(&l.dir("gla-clone"), "gla");
    assert!(
        origin == Ok(p) && gla_tip == Ok(p) && fresh_tip == Ok(p) && count(&f, "policy-fork") == 0,
        "P {} should stay in force; origin {origin:?}, fresh clone {} {fresh_tip:?}, \
         the GLA's clone {gla_tip:?} (pull: {}); late side {}; findings {f:?}",
        p.short(),
        fresh.status,
        String::from_utf8_lossy(&gla.stderr),
        late.short()
    );
    let out =
        l.e.coffer(&["commit", "-m", "x", "--allow-empty"])
            .output()
            .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Brent, withdrawn by P after the repair, is still an admin in side A's policy: he appends
/// a policy to side A's line that withdraws the GLA. The repair kept the GLA, so it is no
/// longer well-formed, and the fork is open again. Safe: the repaired fork stays repaired.
#[test]
fn extending_a_side_after_the_repair_does_not_reopen_the_fork() {
    let l = Lab::new();
    let (fk, r, p, before) = repaired_then_brent_withdrawn(&l);
    let a2 = l.after(&fk.a, "brent", |q, l| {
        withdraw(q, "GLA", l);
        q.heads = Some(vec![before]);
    });
    let f = l.findings(&l.e.data);
    let origin = l.tip(&l.e.data, "camden");
    let fresh = l.clone_as("camden", "fresh");
    let fresh_tip = l.tip(&l.dir("fresh"), "camden");
    assert!(
        origin == Ok(p) && fresh_tip == Ok(p) && !has(&f, "policy-repair", &r),
        "P {} should stay in force; origin {origin:?}; fresh clone {} {fresh_tip:?}; A2 {}; \
         findings {f:?}",
        p.short(),
        fresh.status,
        a2.short()
    );
}

/// The concurrent case, as the spec means it: a first repair R1 is accepted by a clone,
/// then a second one made at the same moment arrives. Both readers see the fork again (no
/// error for the one that had accepted R1), and a third repair settles it for both.
#[test]
fn a_reader_that_accepted_one_of_two_concurrent_repairs_sees_the_fork_then_the_third() {
    let l = Lab::new();
    let fk = l.fork();
    let r1 = l.after(&fk.base, "camden", |q, l| repair_like(q, l, &fk.sides(), 2));
    assert_eq!(l.tip(&l.e.data, "camden"), Ok(r1));
    assert!(l.clone_as("gla", "gla-clone").status.success());
    assert_eq!(l.tip(&l.dir("gla-clone"), "gla"), Ok(r1));
    let r2 = l.after(&fk.base, "brent", |q, l| {
        repair_like(q, l, &fk.sides(), 2);
        q.time += 5;
    });
    let f = l.findings(&l.e.data);
    assert!(
        has(&f, "policy-fork", &r1) && has(&f, "policy-fork", &r2),
        "{f:?}"
    );
    let out = l.run(&l.dir("gla-clone"), "gla", &["pull", "--json"]);
    no_crash(&out, "pull");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        l.findings(&l.dir("gla-clone")),
        f,
        "the clone and the origin disagree"
    );
    let out = l.run(
        &l.dir("gla-clone"),
        "gla",
        &["commit", "-m", "x", "--allow-empty"],
    );
    assert_eq!(out.status.code(), Some(2));
    let r3: Value = serde_json::from_str(&l.e.ok(&["share", "repair", "--json"])).unwrap();
    assert_eq!(r3["epoch"], 3);
    let r3 = Id::from_hex(r3["policy"].as_str().unwrap()).unwrap();
    let out = l.run(&l.dir("gla-clone"), "gla", &["pull", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(l.tip(&l.dir("gla-clone"), "gla"), Ok(r3));
    assert!(l.clone_as("gla", "fresh2").status.success());
    assert_eq!(l.tip(&l.dir("fresh2"), "gla"), Ok(r3));
}

// ---------------------------------------------------------------------------------------
// 2. Readers that hold different objects judge the repair differently.
// ---------------------------------------------------------------------------------------

/// Brent signs X, an ill-formed repair (it keeps Hackney, whom side B withdrew), and R2, a
/// well-formed repair naming both sides and X, which settles the fork at the origin. Fetch
/// must bring X too (R2 names it), or to a clone R2 would name a policy it lacks: the clone
/// accepts the same repair as the origin.
#[test]
fn a_clone_judges_the_repair_like_the_origin_when_a_losing_repair_names_a_refused_one() {
    let l = Lab::new();
    let fk = l.fork();
    let x = l.after(&fk.base, "brent", |q, _| q.repairs = Some(fk.sides()));
    let mut names = fk.sides();
    names.push(x);
    let r2 = l.after(&fk.base, "brent", |q, l| repair_like(q, l, &names, 2));
    let f = l.findings(&l.e.data);
    assert!(has(&f, "policy-repair", &x), "{f:?}");
    // Naming a repair that is not well-formed only makes its line one more that R2
    // repairs (spec §10.1c): R2 is well-formed and settles the fork.
    assert!(!has(&f, "policy-repair", &r2), "{f:?}");
    let r = r2;
    assert_eq!(l.tip(&l.e.data, "camden"), Ok(r));
    let c = l.clone_as("gla", "gla-clone");
    let tip = l.tip(&l.dir("gla-clone"), "gla");
    assert_eq!(
        tip,
        Ok(r),
        "the origin accepts repair {}, the clone does not (clone: {}; clone findings {:?})",
        r.short(),
        String::from_utf8_lossy(&c.stderr),
        l.findings(&l.dir("gla-clone"))
    );
}

/// A folder accepted side A and A's successor A1 (which withdraws Hackney) before anything
/// else arrived. Then side B and a second successor of A, A2, arrive at the origin: A's line
/// there stops at A (nested fork), and Camden's repair keeps Hackney and starts epoch 1 (the
/// number A1 already used with another secret). Fetch does not bring A2 (it is on no line),
/// so the folder still sees A's line as [A, A1] and judges the repair ill-formed. Safe: the
/// folder and a fresh clone accept the same repair.
#[test]
fn a_reader_that_accepted_a_nested_side_judges_the_repair_like_a_fresh_clone() {
    let l = Lab::new();
    let base = l.tip(&l.e.data, "camden").unwrap();
    let a = l.after(&base, "camden", |p, l| {
        add(p, "Newcomer", "reader", &l.who("newcomer"), &l.s0)
    });
    let a1 = l.after(&a, "camden", |p, l| withdraw(p, "Hackney", l));
    // (The origin folder itself is not asked: it would remember A1 as seen.)
    assert!(l.clone_as("gla", "gla-clone").status.success());
    assert_eq!(l.tip(&l.dir("gla-clone"), "gla"), Ok(a1));
    let a2 = l.after(&a, "camden", |p, l| {
        add(p, "Yorke", "reader", &l.who("yorke"), &l.s0)
    });
    let b = l.after(&base, "camden", |p, _| set_role(p, "Brent", "writer"));
    let out: Value = serde_json::from_str(&l.e.ok(&["share", "repair", "--json"])).unwrap();
    let r = Id::from_hex(out["policy"].as_str().unwrap()).unwrap();
    let epoch = out["epoch"].as_u64().unwrap();
    let pull = l.run(&l.dir("gla-clone"), "gla", &["pull", "--json"]);
    no_crash(&pull, "pull");
    let mine = l.tip(&l.dir("gla-clone"), "gla");
    assert!(l.clone_as("gla", "fresh").status.success());
    let fresh = l.tip(&l.dir("fresh"), "gla");
    assert!(
        mine == fresh && fresh == Ok(r),
        "repair {} (epoch {epoch}; A1 {} is in epoch {}) A2 {} B {}: the folder that had \
         accepted A1 says {mine:?} (pull: {}), a fresh clone {fresh:?}; folder findings {:?}",
        r.short(),
        a1.short(),
        l.policy(&a1).epoch,
        a2.short(),
        b.short(),
        String::from_utf8_lossy(&pull.stderr),
        l.findings(&l.dir("gla-clone"))
    );
}

// ---------------------------------------------------------------------------------------
// 3. Denial of service: can the fork be made unrepairable?
// ---------------------------------------------------------------------------------------

/// Brent signs two well-formed repairs at once that name the sides only, one with epoch
/// u32::MAX. Both are sides now; the repair that settles must start an epoch one above
/// u32::MAX, which does not exist. Safe: the owner can still repair.
#[test]
fn a_repair_with_the_last_epoch_number_does_not_block_repair() {
    let l = Lab::new();
    let fk = l.fork();
    let max = l.after(&fk.base, "brent", |q, l| {
        repair_like(q, l, &fk.sides(), u32::MAX);
        // Keep the wraps small: only the new epoch.
        q.wraps.retain(|w| w.1 == u32::MAX);
    });
    let two = l.after(&fk.base, "brent", |q, l| {
        repair_like(q, l, &fk.sides(), 2);
        q.time += 7;
    });
    // An epoch above any a repair of this fork needs is ill-formed, so it cannot use up the
    // numbers: the other repair settles the fork.
    let f = l.findings(&l.e.data);
    assert!(has(&f, "policy-repair", &max), "{f:?}");
    assert!(!f.iter().any(|x| x.0 == "policy-fork"), "{f:?}");
    let list: serde_json::Value =
        serde_json::from_str(&l.e.ok(&["share", "list", "--json"])).unwrap();
    assert_eq!(list["policy"], two.to_hex().as_str());
}

/// Brent makes 256 more sides of the fork (each renames the dataset), 258 in all: a repair names at
/// most 256 policies, so none can name them all. Safe: the owner can still repair.
#[test]
#[ignore = "finding: more than 256 sides (made by one admin) can never be repaired: repairs holds at most 256 ids (policy.rs check_structure, spec §10.1)"]
fn more_than_256_sides_can_still_be_repaired() {
    let l = Lab::new();
    let fk = l.fork();
    for i in 0..256u32 {
        // A distinct side each: the dataset name is something an admin may change.
        l.after(&fk.base, "brent", |q, _| {
            q.name = format!("camden-services {i}");
        });
    }
    let f = l.findings(&l.e.data);
    assert_eq!(count(&f, "policy-fork"), 258, "{f:?}");
    let out = l.e.coffer(&["share", "repair", "--json"]).output().unwrap();
    no_crash(&out, "share repair");
    assert!(
        out.status.success(),
        "the owner cannot repair: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Non-members and readers cannot block a repair: a stranger's repair, a reader's repair,
/// a withdrawn member's repair, junk under `policy/`, a repair naming garbage, one naming a
/// repair of another fork, one following a side, one following the policy before `base`.
/// Each is refused by name, the fork stands, `share repair` works, every reader agrees.
#[test]
fn strangers_readers_and_misaddressed_repairs_do_not_block_or_split_readers() {
    let l = Lab::new();
    let fk = l.fork();
    // The policy before base (to address a repair there).
    let older = l.policy(&fk.base).previous.unwrap();
    let stranger = l.after(&fk.base, "stranger", |q, l| {
        repair_like(q, l, &fk.sides(), 2)
    });
    let reader = l.after(&fk.base, "hackney", |q, l| {
        repair_like(q, l, &fk.sides(), 2)
    });
    let garbage = l.after(&fk.base, "camden", |q, l| {
        let mut n = fk.sides();
        n.push(Id([0xee; 32]));
        repair_like(q, l, &n, 2);
    });
    // A repair of the older policy's "fork" (there is none): no fork, policy-repair; a
    // repair of base naming it is ill-formed.
    let other_fork = l.after(&older, "camden", |q, l| {
        repair_like(q, l, &[fk.base], 1);
        q.members.retain(|m| m.label() != "Brent");
        prune(q);
    });
    let naming_other = l.after(&fk.base, "camden", |q, l| {
        let mut n = fk.sides();
        n.push(other_fork);
        repair_like(q, l, &n, 2);
    });
    let after_side = l.after(&fk.a, "camden", |q, l| repair_like(q, l, &fk.sides(), 2));
    let self_only = l.after(&fk.base, "camden", |q, l| repair_like(q, l, &[fk.a], 2));
    let f = l.findings(&l.e.data);
    for (what, id, rule) in [
        ("stranger", stranger, "policy-signer"),
        ("reader", reader, "policy-signer"),
        ("garbage", garbage, "policy-repair"),
        ("no fork there", other_fork, "policy-repair"),
        ("names another fork's repair", naming_other, "policy-repair"),
        ("follows a side", after_side, "policy-detached"),
        ("names one side", self_only, "policy-repair"),
    ] {
        assert!(
            has(&f, rule, &id),
            "{what}: {rule} for {}: {f:?}",
            id.short()
        );
    }
    assert_eq!(count(&f, "policy-fork"), 2, "{f:?}");
    // Junk under `policy/` of the remote (damage in a dataset's own store, ignored when
    // read from a remote): it must not stop a clone.
    let store = l.e.store().join("policy");
    std::fs::write(store.join(Id([0x11; 32]).to_hex()), b"junk").unwrap();
    let c = l.clone_as("gla", "gla-clone");
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    std::fs::remove_file(store.join(Id([0x11; 32]).to_hex())).unwrap();
    let out: Value = serde_json::from_str(&l.e.ok(&["share", "repair", "--json"])).unwrap();
    let r = Id::from_hex(out["policy"].as_str().unwrap()).unwrap();
    assert_eq!(l.tip(&l.e.data, "camden"), Ok(r));
    let pull = l.run(&l.dir("gla-clone"), "gla", &["pull", "--json"]);
    assert!(
        pull.status.success(),
        "{}",
        String::from_utf8_lossy(&pull.stderr)
    );
    assert_eq!(l.tip(&l.dir("gla-clone"), "gla"), Ok(r));
    assert!(l.clone_as("gla", "fresh").status.success());
    assert_eq!(l.tip(&l.dir("fresh"), "gla"), Ok(r));
    l.e.ok(&["commit", "-m", "after", "--allow-empty"]);
}

// ---------------------------------------------------------------------------------------
// 4. What a repair may contain.
// ---------------------------------------------------------------------------------------

/// Side B withdrew Hackney; a repair that brings Hackney back under another label (same
/// keys) is ill-formed; an admin-signed repair that adds an owner is refused (P4); and the
/// fork stands.
#[test]
fn a_repair_cannot_readmit_under_another_label_or_add_an_owner() {
    let l = Lab::new();
    let fk = l.fork();
    let relabel = l.after(&fk.base, "camden", |q, l| {
        repair_like(q, l, &fk.sides(), 2);
        let s = l.fresh();
        add(q, "Hackney Council", "reader", &l.who("hackney"), &s);
        rotate_to(q, 2, &s);
    });
    let owner = l.after(&fk.base, "brent", |q, l| {
        repair_like(q, l, &fk.sides(), 2);
        let s = l.fresh();
        add(q, "Yorke", "owner", &l.who("yorke"), &s);
        rotate_to(q, 2, &s);
    });
    let f = l.findings(&l.e.data);
    assert!(has(&f, "policy-repair", &relabel), "{f:?}");
    assert!(has(&f, "policy-role-power", &owner), "{f:?}");
    assert_eq!(count(&f, "policy-fork"), 2, "{f:?}");
}

/// Side B withdrew Hackney. A repair re-admits Hackney's signing key with a new X25519 key
/// (the stranger's). By §10.1 that is "withdrawn and added again", a new identity, so the
/// letter of §10.1c allows it; but it hands the withdrawn signing key its access back
/// through the repair. Asserted safe: refused.
#[test]
fn a_repair_cannot_readmit_a_withdrawn_signing_key_with_a_new_exchange_key() {
    let l = Lab::new();
    let fk = l.fork();
    let sneaky = l.after(&fk.base, "camden", |q, l| {
        repair_like(q, l, &fk.sides(), 2);
        let h = l.who("hackney").public();
        let s = l.stranger_kx();
        q.members.push(coffer::object::policy::Member(
            "Hackney".into(),
            "writer".into(),
            Bytes32(h.sign),
            Bytes32(s),
        ));
        let fresh = l.fresh();
        rotate_to(q, 2, &fresh);
    });
    let f = l.findings(&l.e.data);
    assert!(
        has(&f, "policy-repair", &sneaky),
        "the repair giving Hackney's signing key a writer role is accepted: {f:?}; in force {:?}",
        l.tip(&l.e.data, "camden").map(|i| i.short())
    );
}

/// Side A gives Brent a new X25519 key (withdrawn and added again, §10.1), as an admin.
/// Side B, signed by Brent with his old keys, then follows base. By §10.1c rule 1 side A's
/// line withdraws B's signer, so B is ignored and A is in force; the code compares signing
/// keys only and sees a fork. Asserted: the spec's reading.
#[test]
fn a_side_that_changes_an_admins_keys_withdraws_him_for_rule_one() {
    let l = Lab::new();
    let base = l.tip(&l.e.data, "camden").unwrap();
    let a = l.after(&base, "camden", |q, l| {
        let kx = l.stranger_kx();
        for m in &mut q.members {
            if m.label() == "Brent" {
                m.3 = Bytes32(kx);
            }
        }
        let e = q.epoch + 1;
        rotate_to(q, e, &l.fresh());
    });
    let b = l.after(&base, "brent", |q, l| {
        add(q, "Yorke", "writer", &l.who("yorke"), &l.s0)
    });
    let f = l.findings(&l.e.data);
    assert!(
        l.tip(&l.e.data, "camden") == Ok(a) && has(&f, "policy-fork-withdrawn-signer", &b),
        "A {} should be in force, B {} ignored: {f:?}",
        a.short(),
        b.short()
    );
}

/// A fork inside side A's line (A1 and A2 after A), and a repair of that inner fork
/// (following A), do not count in A's line; the outer repair by `share repair` settles the
/// outer fork for every reader; the inner repair is left out.
#[test]
fn a_repair_inside_a_side_does_not_change_the_outer_repair() {
    let l = Lab::new();
    let fk = l.fork();
    let a1 = l.after(&fk.a, "camden", |q, l| withdraw(q, "GLA", l));
    let a2 = l.after(&fk.a, "camden", |q, _| set_role(q, "Brent", "writer"));
    let mut inner = vec![a1, a2];
    inner.sort();
    let ir = l.after(&fk.a, "camden", |q, l| {
        q.members.retain(|m| m.label() != "GLA");
        set_role(q, "Brent", "writer");
        rotate_to(q, 2, &l.fresh());
        q.repairs = Some(inner.clone());
    });
    let f = l.findings(&l.e.data);
    assert_eq!(count(&f, "policy-fork"), 2, "{f:?}");
    let out: Value = serde_json::from_str(&l.e.ok(&["share", "repair", "--json"])).unwrap();
    let r = Id::from_hex(out["policy"].as_str().unwrap()).unwrap();
    // The outer repair: lines [A] and [B]; the inner fork's changes do not apply.
    assert_eq!(out["epoch"], 2);
    let f = l.findings(&l.e.data);
    assert_eq!(count(&f, "policy-fork"), 0, "{f:?}");
    assert!(has(&f, "policy-fork-repaired", &fk.a), "{f:?}");
    assert!(!f.iter().any(|(_, i, _)| *i == r.to_hex()), "{f:?}");
    assert!(f.iter().any(|(_, i, _)| *i == ir.to_hex()), "{f:?}");
    assert!(l.clone_as("gla", "fresh").status.success());
    assert_eq!(l.tip(&l.dir("fresh"), "gla"), Ok(r));
    l.e.ok(&["commit", "-m", "after", "--allow-empty"]);
}

/// Epochs: the settling repair's number is one above every side's and every well-formed
/// repair's; a version of the repair's policy sealed under a side's epoch is refused; a
/// version naming a side is refused after the repair.
#[test]
fn no_version_uses_a_sides_epoch_after_the_repair() {
    let l = Lab::new();
    let fk = l.fork();
    let out: Value = serde_json::from_str(&l.e.ok(&["share", "repair", "--json"])).unwrap();
    let r = Id::from_hex(out["policy"].as_str().unwrap()).unwrap();
    assert_eq!(out["epoch"], 2);
    l.e.ok(&["commit", "-m", "after", "--allow-empty"]);
    let f = Forge::open(&l.e.data);
    let camden = l.who("camden");
    // Sealed under side B's epoch 1 while naming the repair (epoch 2).
    let v1 = f.version(&camden, |v| v.epoch = 1);
    // Naming side B itself, with its epoch.
    let v2 = f.version(&camden, |v| {
        v.policy = fk.b;
        v.epoch = 1;
    });
    // Naming the repair, listing a pack sealed under epoch 1 (side B's number).
    let pack = f.pack(&camden, 1, b"side b's secret content");
    let v3 = f.version(&camden, |v| {
        v.packs.push(pack);
        v.packs.sort();
    });
    let out = l.e.coffer(&["verify", "--json"]).output().unwrap();
    no_crash(&out, "verify");
    let r_json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rule = |id: &Id| -> String {
        r_json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id.to_hex().as_str())
            .map(|x| x["rule"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(rule(&v1), "version-epoch", "{r_json:#}");
    assert_eq!(rule(&v2), "version-policy", "{r_json:#}");
    assert_eq!(rule(&v3), "version-pack-epoch", "{r_json:#}");
    let _ = r;
}

// ---------------------------------------------------------------------------------------
// 5. Crashes on crafted input.
// ---------------------------------------------------------------------------------------

/// A version by anyone (here a stranger) with `seq` u64::MAX, and a child of it by the GLA
/// (a writer, or a withdrawn one naming an old policy): judging the child computes
/// `max_seq + 1` for its refusal message, which overflows (a panic in debug builds). Safe:
/// every reader refuses the child (version-seq) and exits 1.
#[test]
fn a_parent_with_the_largest_seq_does_not_crash_readers() {
    let l = Lab::new();
    let f = Forge::open(&l.e.data);
    let stranger = l.who("stranger");
    let tip = l.tip(&l.e.data, "camden").unwrap();
    let parent = Version {
        seq: u64::MAX,
        time: 1,
        epoch: 0,
        packs: vec![],
        author: Bytes32(stranger.public().sign),
        policy: tip,
        sealed: vec![0; 40],
        dataset: f.ds.id,
        parents: vec![],
    };
    let p = f.store_version(&parent, &stranger);
    let child = f.version(&l.who("gla"), |v| v.parents = vec![p]);
    let out = l.e.coffer(&["verify", "--json"]).output().unwrap();
    no_crash(&out, "verify");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == child.to_hex().as_str() && x["rule"] == "version-seq"),
        "{r:#}"
    );
    let c = l.clone_as("gla", "gla-clone");
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
}

/// Every reading command on every fork state above exits 0, 1 or 2 without a panic,
/// including `access`, `log` and `status` during an unrepaired fork with a losing repair.
#[test]
fn readers_do_not_crash_on_forks_and_repairs() {
    let l = Lab::new();
    let fk = l.fork();
    let _r1 = l.after(&fk.base, "camden", |q, l| repair_like(q, l, &fk.sides(), 2));
    let _r2 = l.after(&fk.base, "brent", |q, l| repair_like(q, l, &fk.sides(), 2));
    let _nested = l.after(&fk.b, "camden", |q, l| withdraw(q, "GLA", l));
    let _nested2 = l.after(&fk.b, "camden", |q, _| set_role(q, "Brent", "writer"));
    for args in [
        &["verify"][..],
        &["verify", "--json"],
        &["access"],
        &["access", "--json"],
        &["log"],
        &["status"],
        &["share", "list"],
        &["share", "list", "--json"],
        &["commit", "-m", "x", "--allow-empty"],
        &["share", "remove", "GLA"],
    ] {
        for who in ["camden", "brent", "gla", "nobody"] {
            let out = l.run(&l.e.data, who, args);
            no_crash(&out, &format!("{args:?} as {who}"));
        }
    }
    let out = l.e.coffer(&["share", "repair", "--json"]).output().unwrap();
    no_crash(&out, "share repair");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = l.clone_as("gla", "gla-clone");
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
}

impl Lab {
    /// The stranger's X25519 public key (a key no member uses).
    fn stranger_kx(&self) -> [u8; 32] {
        self.who("stranger").public().kx
    }
}

/// A folder (here the origin itself, whose store the objects are written into) accepted A
/// and A1 after the policy in force; then B (a fork of the policy before A) and A2 (a
/// second successor of A) arrive. A1 is now beyond a nested fork, on no line, so the folder
/// reports a rollback on every command instead of seeing the fork (§10.1c rule 1: "a
/// dataset folder that had accepted a policy now on one side of a fork is not rolled back,
/// it sees the fork"). Safe: `share list` works and the fork can be repaired there.
#[test]
fn a_folder_that_accepted_a_policy_beyond_a_nested_fork_sees_the_fork() {
    let l = Lab::new();
    let base = l.tip(&l.e.data, "camden").unwrap();
    let a = l.after(&base, "camden", |p, l| {
        add(p, "Newcomer", "reader", &l.who("newcomer"), &l.s0)
    });
    let a1 = l.after(&a, "camden", |p, l| withdraw(p, "Hackney", l));
    assert_eq!(l.tip(&l.e.data, "camden"), Ok(a1));
    l.after(&a, "camden", |p, l| {
        add(p, "Yorke", "reader", &l.who("yorke"), &l.s0)
    });
    l.after(&base, "camden", |p, _| set_role(p, "Brent", "writer"));
    let tip = l.tip(&l.e.data, "camden");
    let repair = l.e.coffer(&["share", "repair"]).output().unwrap();
    no_crash(&repair, "share repair");
    assert!(
        tip.is_ok() && repair.status.success(),
        "share list: {tip:?}; share repair: {}",
        String::from_utf8_lossy(&repair.stderr)
    );
}

/// Yorke (admin) withdraws Brent (admin): P. Camden adds the newcomer (P2) and commits.
/// Much later Brent forks the policy before P with a policy that withdraws Yorke. By rule 1
/// each side's line withdraws the other's signer, so both stand ("two admins withdrawing
/// each other at once"), P and P2 become sides, nobody can commit, and the repair must keep
/// Yorke out. Nothing tells "at once" from "late". Safe: Brent's late side is ignored.
#[test]
#[ignore = "finding (spec): a withdrawn admin's late fork that withdraws the admin who withdrew them re-opens the chain and removes that admin (chain.rs judge_fork, spec §10.1c rule 1)"]
fn a_withdrawn_admins_late_fork_withdrawing_the_withdrawer_is_ignored() {
    let l = Lab::new();
    let yorke = l.e.public_of("yorke");
    l.e.ok(&["share", "add", &yorke, "--name", "Yorke", "--role", "admin"]);
    let base = l.tip(&l.e.data, "camden").unwrap();
    let out = l.e.as_("yorke", &["share", "remove", "Brent"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let newcomer = l.e.public_of("newcomer");
    l.e.ok(&[
        "share", "add", &newcomer, "--name", "Newcomer", "--role", "reader",
    ]);
    let p2 = l.tip(&l.e.data, "camden").unwrap();
    let before = Forge::open(&l.e.data).ds.head().unwrap().unwrap();
    l.e.ok(&["commit", "-m", "later", "--allow-empty"]);
    assert!(l.clone_as("gla", "gla-clone").status.success());
    let late = l.after(&base, "brent", |q, l| {
        withdraw(q, "Yorke", l);
        q.heads = Some(vec![before]);
    });
    let f = l.findings(&l.e.data);
    let pull = l.run(&l.dir("gla-clone"), "gla", &["pull"]);
    no_crash(&pull, "pull");
    let fresh = l.clone_as("camden", "fresh");
    let fresh_tip = l.tip(&l.dir("fresh"), "camden");
    assert!(
        fresh_tip == Ok(p2) && has(&f, "policy-fork-withdrawn-signer", &late),
        "P2 {} should stay in force, Brent's late side {} ignored: fresh clone {} {} {fresh_tip:?}; \
         the GLA's pull: {}; findings {f:?}",
        p2.short(),
        late.short(),
        fresh.status,
        String::from_utf8_lossy(&fresh.stderr),
        String::from_utf8_lossy(&pull.stderr)
    );
}

/// The settling repair (signed by an owner or admin) names as its `heads` a version the
/// rules refuse (a stranger's child of the branch head). The origin, which holds that
/// version, counts the branch head as acknowledged through it; a clone, to which fetch
/// brings only history, does not, so the repair's withdrawal of Hackney refuses the head
/// there (V9). Safe: the clone succeeds and agrees with the origin.
#[test]
fn a_repairs_heads_naming_a_refused_version_are_judged_alike_by_a_clone() {
    let l = Lab::new();
    let fk = l.fork();
    let f = Forge::open(&l.e.data);
    let head = f.ds.head().unwrap().unwrap();
    let x = f.version(&l.who("stranger"), |_| {});
    let r = l.after(&fk.base, "camden", |q, l| {
        repair_like(q, l, &fk.sides(), 2);
        q.heads = Some(vec![x]);
    });
    assert_eq!(l.tip(&l.e.data, "camden"), Ok(r));
    let out = l.e.coffer(&["verify"]).output().unwrap();
    let origin_ok = out.status.code();
    let c = l.clone_as("gla", "gla-clone");
    let tip = l.tip(&l.dir("gla-clone"), "gla");
    let clone_head = std::fs::read_to_string(l.dir("gla-clone").join(".coffer/refs/main"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    assert!(
        c.status.success() && tip == Ok(r) && clone_head == head.to_hex(),
        "origin verify exit {origin_ok:?}; clone {}: {}; clone tip {tip:?}, head {clone_head:?}",
        c.status,
        String::from_utf8_lossy(&c.stderr)
    );
}
