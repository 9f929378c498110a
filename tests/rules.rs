//! The rules testkit: for every trust rule (spec/format.md §9, §10.1a), one well-formed but
//! unauthorised object (canonical, named by its hash, validly signed) that breaks exactly
//! that rule, named after its defect as age's testkit names its cases. Each goes through the
//! real binary: `verify` with and without a key, a member's `pull`, a fresh `clone`, and
//! `checkout`; each check asserts the rule's name, not just a non-zero exit.
//!
//! The objects are made by `tests/util/forge.rs` from a dataset the binary built.

mod util;

use coffer::id::{Bytes32, Id};
use coffer::object::policy::{Audit, Witness};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;
use util::forge::{ident, member, wraps_for, Forge};
use util::*;

/// The dataset every case starts from, built once by the binary: Camden (owner) commits,
/// shares with the GLA (writer), Hackney (reader), Brent (admin) and Barnet (reader), withdraws
/// Barnet (epoch 1), commits again. Identities `stranger` and `newcomer` exist but are not
/// members.
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
        e.ok(&["init", "--name", "camden-services"]);
        e.ok(&["commit", "-m", "v1"]);
        for (n, label, role) in [
            ("gla", "GLA", "writer"),
            ("hackney", "Hackney", "reader"),
            ("brent", "Brent", "admin"),
            ("barnet", "Barnet", "reader"),
        ] {
            let public = public_of(&e, n);
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

fn public_of(e: &Env, name: &str) -> String {
    e.public_of(name)
}

/// One case: what to do first (as the binary would), then the forged object.
struct Case {
    name: &'static str,
    kind: &'static str,
    rule: &'static str,
    /// Who pulls and clones (a member throughout the case).
    puller: &'static str,
    /// How `verify` rates it in the dataset's own store: a well-formed object that breaks a
    /// rule is a warning (not history, ignored); one that does not open is damage.
    level: &'static str,
    prep: fn(&Env),
    forge: fn(&Forge, &Env) -> Id,
}

fn no_prep(_: &Env) {}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn has_finding(report: &Value, id: &Id, rule: &str, level: &str) -> bool {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == id.to_hex().as_str() && f["rule"] == rule && f["level"] == level)
}

fn run(c: &Case) {
    let e = Env::copy_of(template(), "camden");
    (c.prep)(&e);
    let clone_dir = e.tmp.path().join(format!("{}-clone", c.puller));
    let out = e.as_(
        c.puller,
        &[
            "clone",
            e.data.to_str().unwrap(),
            clone_dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}: clone before forging", c.name);
    let before_tip = policy_tip(&e, &clone_dir, c.puller);
    let head_before = std::fs::read_to_string(clone_dir.join(".coffer/refs/main")).unwrap();

    let f = Forge::open(&e.data);
    let id = (c.forge)(&f, &e);
    let case = c.name;

    // verify, with the owner's key and without any key: the object, by id, and the rule.
    for keyless in [false, true] {
        let mut cmd = e.coffer(&["verify", "--json"]);
        if keyless {
            cmd.env("COFFER_IDENTITY", e.tmp.path().join("nobody.id"));
        }
        let out = cmd.output().unwrap();
        let r = json(&out);
        assert_eq!(out.status.code(), Some(1), "{case}: verify exit, {r}");
        assert!(
            has_finding(&r, &id, c.rule, c.level),
            "{case} (keyless {keyless}): no {} finding for {}: {r:#}",
            c.rule,
            id.short()
        );
        assert_eq!(r["decrypted"], !keyless, "{case}");
    }

    // A member's pull ignores it and names it; nothing changes for them.
    let out = e
        .coffer(&["-C", clone_dir.to_str().unwrap(), "pull", "--json"])
        .env(
            "COFFER_IDENTITY",
            e.tmp.path().join(format!("{}.id", c.puller)),
        )
        .output()
        .unwrap();
    let p = json(&out);
    assert!(out.status.success(), "{case}: pull {p}");
    let field = if c.kind == "version" {
        "refused"
    } else {
        "refused_policies"
    };
    let listed = p["fetch"][field]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x[0] == id.to_hex().as_str() && x[1]["rule"] == c.rule);
    assert!(
        listed,
        "{case}: pull does not report {} for it: {p:#}",
        c.rule
    );
    assert_eq!(
        std::fs::read_to_string(clone_dir.join(".coffer/refs/main")).unwrap(),
        head_before,
        "{case}: the pull moved the head"
    );
    assert_eq!(policy_tip(&e, &clone_dir, c.puller), before_tip, "{case}");
    let out = e
        .coffer(&["-C", clone_dir.to_str().unwrap(), "verify"])
        .env(
            "COFFER_IDENTITY",
            e.tmp.path().join(format!("{}.id", c.puller)),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{case}: the puller's verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A fresh clone leaves it out.
    let fresh = e.tmp.path().join("fresh");
    let out = e.as_(
        c.puller,
        &["clone", e.data.to_str().unwrap(), fresh.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{case}: clone {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sub = if c.kind == "version" {
        "versions"
    } else {
        "policy"
    };
    assert!(
        !fresh
            .join(".coffer/store")
            .join(sub)
            .join(id.to_hex())
            .exists(),
        "{case}: the clone took it"
    );
    assert_eq!(
        std::fs::read_to_string(fresh.join(".coffer/refs/main")).unwrap(),
        head_before,
        "{case}: the clone checked out something else"
    );

    // Checkout of a refused version names the rule.
    if c.kind == "version" {
        let to = e.tmp.path().join("out");
        let out = e
            .coffer(&["checkout", &id.to_hex(), "--to", to.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case}: checkout {err}");
        assert!(err.contains(&format!("(rule {})", c.rule)), "{case}: {err}");
        assert!(!to.exists() || std::fs::read_dir(&to).unwrap().next().is_none());
    }
}

fn policy_tip(e: &Env, dir: &std::path::Path, who: &str) -> String {
    let out = e
        .coffer(&["-C", dir.to_str().unwrap(), "share", "list", "--json"])
        .env("COFFER_IDENTITY", e.tmp.path().join(format!("{who}.id")))
        .output()
        .unwrap();
    json(&out)["policy"].as_str().unwrap().to_string()
}

fn t(e: &Env) -> &std::path::Path {
    e.tmp.path()
}

/// The packs of the version before the branch head.
fn parent_packs(f: &Forge) -> Vec<Id> {
    let h = f.hist();
    let head = f.ds.head().unwrap().unwrap();
    let parent = h.versions[&head].parents[0];
    h.versions[&parent].packs.clone()
}

const CASES: &[Case] = &[
    Case {
        name: "version_author_is_reader",
        kind: "version",
        rule: "version-author",
        puller: "gla",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.version(&ident(t(e), "hackney"), |_| {}),
    },
    Case {
        name: "version_author_is_stranger",
        kind: "version",
        rule: "version-author",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.version(&ident(t(e), "stranger"), |_| {}),
    },
    Case {
        name: "version_author_was_withdrawn_before_its_policy",
        kind: "version",
        rule: "version-author",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.version(&ident(t(e), "barnet"), |_| {}),
    },
    Case {
        name: "version_wrong_epoch",
        kind: "version",
        rule: "version-epoch",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.version(&ident(t(e), "gla"), |v| v.epoch = 0),
    },
    Case {
        name: "version_wrong_dataset",
        kind: "version",
        rule: "version-dataset",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.version(&ident(t(e), "gla"), |v| v.dataset = Id([9; 32])),
    },
    Case {
        name: "version_wrong_seq",
        kind: "version",
        rule: "version-seq",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.version(&ident(t(e), "gla"), |v| v.seq += 1),
    },
    Case {
        name: "version_missing_parent",
        kind: "version",
        rule: "version-parent",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            f.version(&ident(t(e), "gla"), |v| {
                v.parents = vec![Id([3; 32])];
                v.seq = 2;
            })
        },
    },
    Case {
        name: "version_parent_refused",
        kind: "version",
        rule: "version-parent",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            let bad = f.version(&ident(t(e), "stranger"), |_| {});
            f.version(&ident(t(e), "gla"), |v| {
                v.parents = vec![bad];
                v.seq += 1;
            })
        },
    },
    Case {
        name: "version_unknown_policy",
        kind: "version",
        rule: "version-policy",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.version(&ident(t(e), "gla"), |v| v.policy = Id([4; 32])),
    },
    Case {
        name: "version_older_policy_than_parent",
        kind: "version",
        rule: "version-policy-order",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        // Camden was an owner in the genesis, in epoch 0: only the order is wrong.
        forge: |f, e| {
            f.version(&ident(t(e), "camden"), |v| {
                v.policy = f.ds.id;
                v.epoch = 0;
            })
        },
    },
    Case {
        name: "version_by_withdrawn_writer",
        kind: "version",
        rule: "version-withdrawn-writer",
        puller: "hackney",
        level: "warning",
        prep: |e| {
            e.ok(&["share", "remove", "GLA"]);
        },
        // The GLA signs a child of the head it knew, under the policy it knew.
        forge: |f, e| {
            let h = f.hist();
            let (prev, p) = &h.chain.policies[h.chain.policies.len() - 2];
            let epoch = p.epoch;
            let prev = *prev;
            f.version(&ident(t(e), "gla"), |v| {
                v.policy = prev;
                v.epoch = epoch;
            })
        },
    },
    Case {
        name: "version_by_demoted_writer",
        kind: "version",
        rule: "version-withdrawn-writer",
        puller: "hackney",
        level: "warning",
        prep: |e| {
            e.ok(&["share", "role", "GLA", "reader"]);
        },
        forge: |f, e| {
            let h = f.hist();
            let prev = h.chain.policies[h.chain.policies.len() - 2].0;
            f.version(&ident(t(e), "gla"), |v| v.policy = prev)
        },
    },
    Case {
        name: "version_reopens_withdrawn_epoch",
        kind: "version",
        rule: "version-withdrawn-reader",
        puller: "brent",
        level: "warning",
        prep: |e| {
            e.ok(&["share", "remove", "Hackney"]);
        },
        // The GLA, still a writer, commits under the policy before the withdrawal (whose
        // epoch Hackney holds) without having seen it.
        forge: |f, e| {
            let h = f.hist();
            let (prev, p) = &h.chain.policies[h.chain.policies.len() - 2];
            let (prev, epoch) = (*prev, p.epoch);
            let gla = ident(t(e), "gla");
            let pack = f.pack(&gla, epoch, b"new rows Hackney must not read\n");
            f.version(&gla, |v| {
                v.policy = prev;
                v.epoch = epoch;
                v.packs.push(pack);
                v.packs.sort();
            })
        },
    },
    Case {
        name: "version_new_pack_of_withdrawn_epoch",
        kind: "version",
        rule: "version-withdrawn-reader",
        puller: "brent",
        level: "warning",
        prep: |e| {
            e.ok(&["share", "remove", "Hackney"]);
        },
        // Under the new policy, but with new content sealed under the old epoch.
        forge: |f, e| {
            let gla = ident(t(e), "gla");
            let old = f.hist().chain.tip().1.epoch - 1;
            let pack = f.pack(&gla, old, b"new rows sealed under the old key\n");
            f.version(&gla, |v| {
                v.packs.push(pack);
                v.packs.sort();
            })
        },
    },
    Case {
        name: "version_pack_unreadable_by_member",
        kind: "version",
        rule: "version-pack-epoch",
        puller: "hackney",
        level: "warning",
        prep: |e| {
            let p = public_of(e, "newcomer");
            e.ok(&["share", "add", &p, "--name", "Newcomer", "--from-now"]);
        },
        // After the reseal, a writer lists the old packs the newcomer cannot open.
        forge: |f, e| {
            let old = parent_packs(f);
            f.version(&ident(t(e), "gla"), |v| v.packs = old)
        },
    },
    Case {
        name: "policy_admin_promotes_itself",
        kind: "policy",
        rule: "policy-role-power",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            f.policy(&ident(t(e), "brent"), |p, _| {
                for m in &mut p.members {
                    if m.label() == "Brent" {
                        m.1 = "owner".into();
                    }
                }
            })
        },
    },
    Case {
        name: "policy_admin_adds_owner",
        kind: "policy",
        rule: "policy-role-power",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            let s = ident(t(e), "stranger");
            f.policy(&ident(t(e), "brent"), |p, secret| {
                let m = member("Stranger", "owner", &s);
                p.wraps
                    .extend(wraps_for(std::slice::from_ref(&m), p.epoch, secret));
                p.members.push(m);
            })
        },
    },
    Case {
        name: "policy_admin_removes_owner",
        kind: "policy",
        rule: "policy-role-power",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            f.policy(&ident(t(e), "brent"), |p, secret| {
                p.members.retain(|m| m.label() != "camden");
                Forge::rotate(p, secret);
            })
        },
    },
    Case {
        name: "policy_admin_changes_audit",
        kind: "policy",
        rule: "policy-role-power",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            let w = ident(t(e), "stranger").public().sign;
            f.policy(&ident(t(e), "brent"), |p, _| {
                p.audit = Some(Audit {
                    expiry: 86_400,
                    quorum: 1,
                    strict: false,
                    witnesses: vec![Witness("Auditor".into(), Bytes32(w))],
                })
            })
        },
    },
    Case {
        name: "policy_signed_by_writer",
        kind: "policy",
        rule: "policy-signer",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.policy(&ident(t(e), "gla"), |p, _| p.name = "renamed".into()),
    },
    Case {
        name: "policy_signed_by_stranger",
        kind: "policy",
        rule: "policy-signer",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.policy(&ident(t(e), "stranger"), |p, _| p.name = "mine".into()),
    },
    Case {
        name: "policy_signed_by_withdrawn_admin",
        kind: "policy",
        rule: "policy-signer",
        puller: "hackney",
        level: "warning",
        prep: |e| {
            e.ok(&["share", "remove", "Brent"]);
        },
        forge: |f, e| f.policy(&ident(t(e), "brent"), |p, _| p.name = "back".into()),
    },
    Case {
        name: "policy_wrong_dataset",
        kind: "policy",
        rule: "policy-dataset",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.policy(&ident(t(e), "camden"), |p, _| p.dataset = Some(Id([5; 32]))),
    },
    Case {
        name: "policy_seq_gap",
        kind: "policy",
        rule: "policy-seq",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| f.policy(&ident(t(e), "camden"), |p, _| p.seq += 1),
    },
    Case {
        name: "policy_epoch_backwards",
        kind: "policy",
        rule: "policy-epoch",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            f.policy(&ident(t(e), "camden"), |p, _| {
                p.epoch -= 1;
                p.wraps.retain(|w| w.1 <= p.epoch);
            })
        },
    },
    Case {
        name: "policy_epoch_skips",
        kind: "policy",
        rule: "policy-epoch",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            f.policy(&ident(t(e), "camden"), |p, secret| {
                Forge::rotate(p, secret);
                let e2 = p.epoch + 1;
                for w in &mut p.wraps {
                    if w.1 == p.epoch {
                        w.1 = e2;
                    }
                }
                p.epoch = e2;
            })
        },
    },
    Case {
        name: "policy_no_owner",
        kind: "policy",
        rule: "policy-owner",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            f.policy(&ident(t(e), "camden"), |p, _| {
                for m in &mut p.members {
                    if m.label() == "camden" {
                        m.1 = "admin".into();
                    }
                }
            })
        },
    },
    Case {
        name: "policy_withdrawal_same_epoch",
        kind: "policy",
        rule: "policy-withdrawal-epoch",
        puller: "gla",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            let h = ident(t(e), "hackney").public().kx;
            f.policy(&ident(t(e), "camden"), |p, _| {
                p.members.retain(|m| m.label() != "Hackney");
                p.wraps.retain(|w| w.0 .0 != h);
            })
        },
    },
    Case {
        name: "policy_member_without_key",
        kind: "policy",
        rule: "policy-wraps",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            let s = ident(t(e), "stranger");
            f.policy(&ident(t(e), "camden"), |p, _| {
                p.members.push(member("Stranger", "reader", &s))
            })
        },
    },
    Case {
        name: "policy_wrap_for_stranger",
        kind: "policy",
        rule: "policy-wraps",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            let s = ident(t(e), "stranger");
            f.policy(&ident(t(e), "camden"), |p, secret| {
                p.wraps
                    .extend(wraps_for(&[member("x", "reader", &s)], p.epoch, secret))
            })
        },
    },
    Case {
        name: "policy_detached",
        kind: "policy",
        rule: "policy-detached",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            f.policy(&ident(t(e), "camden"), |p, _| {
                p.previous = Some(Id([6; 32]))
            })
        },
    },
    Case {
        name: "policy_fork_by_withdrawn_admin",
        kind: "policy",
        rule: "policy-fork-withdrawn-signer",
        puller: "hackney",
        level: "warning",
        prep: |e| {
            e.ok(&["share", "remove", "Brent"]);
        },
        // Brent, withdrawn, signs a successor of the policy before its withdrawal: a fork
        // that would undo the withdrawal if forks stopped the chain.
        forge: |f, e| {
            let n = f.hist().chain.policies.len();
            f.fork(
                &ident(t(e), "brent"),
                n - 2,
                &ident(t(e), "stranger"),
                "reader",
            )
        },
    },
    Case {
        name: "version_bad_signature",
        kind: "version",
        rule: "signature",
        puller: "hackney",
        level: "error",
        prep: no_prep,
        forge: |f, e| {
            let id = f.version(&ident(t(e), "gla"), |_| {});
            f.break_signature("versions", &id)
        },
    },
    Case {
        name: "policy_bad_signature",
        kind: "policy",
        rule: "signature",
        puller: "hackney",
        level: "error",
        prep: no_prep,
        forge: |f, e| {
            let id = f.policy(&ident(t(e), "camden"), |p, _| p.name = "renamed".into());
            f.break_signature("policy", &id)
        },
    },
    Case {
        name: "policy_late_fork_by_withdrawn_admin",
        kind: "policy",
        rule: "policy-fork-withdrawn-signer",
        puller: "hackney",
        level: "warning",
        prep: |e| {
            e.ok(&["share", "remove", "Brent"]);
        },
        // Brent forks a policy older than the one before its withdrawal (where it was still
        // an admin and its sibling does not withdraw it): the whole line that follows the
        // sibling does, so Brent's side is ignored.
        forge: |f, e| {
            let n = f.hist().chain.policies.len();
            f.fork(
                &ident(t(e), "brent"),
                n - 3,
                &ident(t(e), "stranger"),
                "writer",
            )
        },
    },
    Case {
        name: "policy_repair_without_fork",
        kind: "policy",
        rule: "policy-repair",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        // A repair where nothing forked: it would otherwise skip the epoch rule (P5).
        forge: |f, e| {
            f.policy(&ident(t(e), "camden"), |p, s| {
                p.repairs = Some(vec![Id([1; 32])]);
                p.epoch += 4;
                Forge::rotate(p, s);
            })
        },
    },
    Case {
        name: "genesis_of_another_dataset",
        kind: "policy",
        rule: "genesis-other",
        puller: "hackney",
        level: "warning",
        prep: no_prep,
        forge: |f, e| {
            let s = ident(t(e), "stranger");
            let p = s.public();
            let g = coffer::object::policy::Policy::genesis(
                "impostor".into(),
                1,
                "Stranger".into(),
                p.sign,
                p.kx,
                &coffer::crypto::keys::EpochSecret::generate(),
            )
            .unwrap();
            f.store_policy(&g, &s)
        },
    },
];

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let c = CASES
                    .iter()
                    .find(|c| c.name == stringify!($name))
                    .expect("case");
                run(c);
            }
        )*
        #[test]
        fn every_case_has_a_test() {
            let named = [$(stringify!($name)),*];
            for c in CASES {
                assert!(named.contains(&c.name), "case {} is not run", c.name);
            }
        }
    };
}

cases!(
    version_author_is_reader,
    version_author_is_stranger,
    version_author_was_withdrawn_before_its_policy,
    version_wrong_epoch,
    version_wrong_dataset,
    version_wrong_seq,
    version_missing_parent,
    version_parent_refused,
    version_unknown_policy,
    version_older_policy_than_parent,
    version_by_withdrawn_writer,
    version_by_demoted_writer,
    version_reopens_withdrawn_epoch,
    version_new_pack_of_withdrawn_epoch,
    version_pack_unreadable_by_member,
    policy_admin_promotes_itself,
    policy_admin_adds_owner,
    policy_admin_removes_owner,
    policy_admin_changes_audit,
    policy_signed_by_writer,
    policy_signed_by_stranger,
    policy_signed_by_withdrawn_admin,
    policy_wrong_dataset,
    policy_seq_gap,
    policy_epoch_backwards,
    policy_epoch_skips,
    policy_no_owner,
    policy_withdrawal_same_epoch,
    policy_member_without_key,
    policy_wrap_for_stranger,
    policy_detached,
    policy_fork_by_withdrawn_admin,
    policy_late_fork_by_withdrawn_admin,
    policy_repair_without_fork,
    genesis_of_another_dataset,
    version_bad_signature,
    policy_bad_signature,
);

/// A fork of two sides after the policy in force, both signed by Camden (two machines at
/// once): one adds the newcomer and demotes Brent to writer, the other withdraws the GLA
/// (epoch 2). Returns the sides' ids, sorted, and the chain position of the policy before.
fn forked(e: &Env) -> (Vec<Id>, usize) {
    let f = Forge::open(&e.data);
    let camden = ident(t(e), "camden");
    let newcomer = ident(t(e), "newcomer");
    let base = f.hist().chain.policies.len() - 1;
    let a = f.after(base, &camden, |p, s| {
        let m = member("Newcomer", "reader", &newcomer);
        p.wraps
            .extend(wraps_for(std::slice::from_ref(&m), p.epoch, s));
        p.members.push(m);
        for m in &mut p.members {
            if m.label() == "Brent" {
                m.1 = "writer".into();
            }
        }
    });
    let b = f.after(base, &camden, |p, s| {
        p.members.retain(|m| m.label() != "GLA");
        Forge::rotate(p, s);
    });
    let mut sides = vec![a, b];
    sides.sort();
    (sides, base)
}

/// A repair of [`forked`]'s fork, signed by `signer`: by default the right one (the GLA out,
/// Brent a writer, the newcomer in, epoch 3, naming both sides), then changed by `edit`.
fn repair(
    e: &Env,
    base: usize,
    sides: &[Id],
    signer: &str,
    edit: impl FnOnce(&mut coffer::object::policy::Policy, &coffer::crypto::keys::EpochSecret),
) -> Id {
    let f = Forge::open(&e.data);
    let newcomer = ident(t(e), "newcomer");
    f.after(base, &ident(t(e), signer), |p, _| {
        p.members.retain(|m| m.label() != "GLA");
        p.members.push(member("Newcomer", "reader", &newcomer));
        for m in &mut p.members {
            if m.label() == "Brent" {
                m.1 = "writer".into();
            }
        }
        p.epoch = 3;
        let fresh = coffer::crypto::keys::EpochSecret::generate();
        p.wraps
            .retain(|w| w.1 < 3 && p.members.iter().any(|m| m.kx_key() == &w.0 .0));
        p.wraps.extend(wraps_for(&p.members, 3, &fresh));
        p.repairs = Some(sides.to_vec());
        edit(p, &fresh);
    })
}

/// Findings of `verify --json` with Camden's key and without any: (rule, id) pairs, the
/// same both ways for policies.
fn policy_findings(e: &Env) -> Vec<(String, String, String)> {
    let mut both = Vec::new();
    for keyless in [false, true] {
        let mut cmd = e.coffer(&["verify", "--json"]);
        if keyless {
            cmd.env("COFFER_IDENTITY", e.tmp.path().join("nobody.id"));
        }
        let r = json(&cmd.output().unwrap());
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

/// A repair made early (it names two of three lines, the third a late side) is history once
/// another repair settles the fork: an honest race leaves no warning behind for every reader's
/// `verify`. One that also breaks a condition against the lines it names, or starts an epoch
/// past the limit, stays a `policy-repair` warning (spec §10.1c).
#[test]
fn a_repair_made_early_is_history_once_the_fork_is_settled() {
    let e = Env::copy_of(template(), "camden");
    let (sides, base) = forked(&e);
    let early = repair(&e, base, &sides, "camden", |_, _| {});
    let keeps_gla = repair(&e, base, &sides, "camden", |p, s| {
        let m = member("GLA", "writer", &ident(t(&e), "gla"));
        p.wraps.extend(wraps_for(std::slice::from_ref(&m), 3, s));
        p.members.push(m);
    });
    let far = repair(&e, base, &sides, "camden", |p, s| {
        p.epoch = 1000;
        p.wraps.retain(|w| w.1 < 3);
        p.wraps.extend(wraps_for(&p.members, 1000, s));
    });
    // Naming a repair whose epoch is past the limit would carry this one's up with it.
    let names_far = repair(&e, base, &sides, "camden", |p, s| {
        p.epoch = 1001;
        p.wraps.retain(|w| w.1 < 3);
        p.wraps.extend(wraps_for(&p.members, 1001, s));
        let named = p.repairs.as_mut().unwrap();
        named.push(far);
        named.sort();
    });
    e.new_identity("late");
    let late = ident(t(&e), "late");
    let f = Forge::open(&e.data);
    let camden = ident(t(&e), "camden");
    f.after(base, &camden, |p, s| {
        let m = member("Late", "reader", &late);
        p.wraps
            .extend(wraps_for(std::slice::from_ref(&m), p.epoch, s));
        p.members.push(m);
    });
    // Three lines now: no repair settles, and the fork is open.
    let open = policy_findings(&e);
    for id in [early, keeps_gla, far, names_far] {
        assert!(
            open.contains(&("policy-repair".into(), id.to_hex(), "warning".into())),
            "{open:?}"
        );
    }
    let made: Value = serde_json::from_str(&e.ok(&["share", "repair", "--json"])).unwrap();
    let f = policy_findings(&e);
    assert!(
        f.contains(&("policy-fork-repaired".into(), early.to_hex(), "info".into())),
        "{f:?}"
    );
    for id in [keeps_gla, far, names_far] {
        assert!(
            f.contains(&("policy-repair".into(), id.to_hex(), "warning".into())),
            "{f:?}"
        );
    }
    assert!(!f.iter().any(|(r, _, _)| r == "policy-fork"), "{f:?}");
    let list: Value = serde_json::from_str(&e.ok(&["share", "list", "--json"])).unwrap();
    assert_eq!(list["policy"], made["policy"]);
    // `share repair` named the repair made early (only that one) and started above its
    // epoch 3, skipping no number it needs.
    assert_eq!(made["epoch"], 4, "{made}");
    let id = Id::from_hex(made["policy"].as_str().unwrap()).unwrap();
    let bytes = std::fs::read(e.data.join(".coffer/store/policy").join(id.to_hex())).unwrap();
    let named = coffer::object::policy::Policy::open(&id, &bytes)
        .unwrap()
        .repairs
        .unwrap();
    assert!(named.contains(&early), "{named:?}");
    for other in [keeps_gla, far, names_far] {
        assert!(!named.contains(&other), "{named:?}");
    }
    // Epoch 3 is skipped in the chain in force: no later policy may wrap a secret for it
    // (that number's only secret is the early repair's, for its signer's own versions).
    let camden = ident(t(&e), "camden");
    let fills_gap = Forge::open(&e.data).policy(&camden, |p, s| {
        p.wraps.extend(wraps_for(&p.members, 3, s));
        p.sort_wraps();
    });
    let f = policy_findings(&e);
    assert!(
        f.contains(&("policy-wraps".into(), fills_gap.to_hex(), "warning".into())),
        "{f:?}"
    );
}

/// Each repair that breaks one condition of spec §10.1c is refused by name (policy-repair)
/// and the fork stands; the right one settles it, whatever wrong repairs lie beside it: the
/// sides become info findings, the withdrawal and the demotion hold, the newcomer is in, a
/// commit works again.
#[test]
fn repairs_are_judged_alike_by_every_reader() {
    let e = Env::copy_of(template(), "camden");
    let (sides, base) = forked(&e);
    let fork: Vec<_> = policy_findings(&e)
        .into_iter()
        .filter(|(r, _, _)| r == "policy-fork")
        .map(|(_, id, _)| id)
        .collect();
    assert_eq!(fork, sides.iter().map(|s| s.to_hex()).collect::<Vec<_>>());
    let gla = ident(t(&e), "gla");
    type Edit = fn(&mut coffer::object::policy::Policy, &coffer::crypto::keys::EpochSecret);
    let bad: Vec<(&str, &str, Edit)> = vec![
        ("names one side only", "camden", |p, _| {
            p.repairs.as_mut().unwrap().pop();
        }),
        ("epoch not above every side's", "camden", |p, s| {
            p.epoch = 2;
            p.wraps.retain(|w| w.1 < 2);
            p.wraps.extend(wraps_for(&p.members, 2, s));
        }),
        (
            "gives Brent back the admin role a side took",
            "camden",
            |p, _| {
                for m in &mut p.members {
                    if m.label() == "Brent" {
                        m.1 = "admin".into();
                    }
                }
            },
        ),
        // Judged like a side by the fork rule: a line of the fork demotes its signer.
        ("signed by Brent, demoted on a side", "brent", |_, _| {}),
        ("names a policy that is no side", "camden", |p, _| {
            p.repairs.as_mut().unwrap().push(Id([0xff; 32]));
        }),
    ];
    for (what, signer, edit) in bad {
        let id = repair(&e, base, &sides, signer, edit);
        let f = policy_findings(&e);
        let rule = if signer == "brent" {
            "policy-fork-withdrawn-signer"
        } else {
            "policy-repair"
        };
        assert!(
            f.contains(&(rule.into(), id.to_hex(), "warning".into())),
            "{what}: {f:?}"
        );
        assert_eq!(
            f.iter().filter(|(r, _, _)| r == "policy-fork").count(),
            2,
            "{what}: the fork must stand: {f:?}"
        );
    }
    // Keeping the withdrawn GLA (its wrap included).
    let kept = repair(&e, base, &sides, "camden", |p, s| {
        let m = member("GLA", "writer", &ident(t(&e), "gla"));
        p.wraps.extend(wraps_for(std::slice::from_ref(&m), 3, s));
        p.members.push(m);
    });
    assert!(policy_findings(&e).contains(&(
        "policy-repair".into(),
        kept.to_hex(),
        "warning".into()
    )));
    let _ = gla;

    let good = repair(&e, base, &sides, "camden", |_, _| {});
    let f = policy_findings(&e);
    for s in &sides {
        assert!(
            f.contains(&("policy-fork-repaired".into(), s.to_hex(), "info".into())),
            "{f:?}"
        );
    }
    assert!(!f.iter().any(|(r, _, _)| r == "policy-fork"), "{f:?}");
    let list: Value = serde_json::from_str(&e.ok(&["share", "list", "--json"])).unwrap();
    assert_eq!(list["policy"], good.to_hex().as_str());
    assert_eq!(list["epoch"], 3);
    let roles: Vec<String> = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m["label"].as_str().unwrap(),
                m["role"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            "Brent writer",
            "Hackney reader",
            "Newcomer reader",
            "camden owner"
        ]
    );
    e.ok(&["commit", "-m", "after the repair", "--allow-empty"]);
    // The GLA, withdrawn on a side, stays withdrawn: its version is refused.
    let f = Forge::open(&e.data);
    let v = f.version(&ident(t(&e), "gla"), |_| {});
    let out = e.coffer(&["verify", "--json"]).output().unwrap();
    assert!(has_finding(&json(&out), &v, "version-author", "warning"));
}

/// Two repairs made at the same moment settle nothing (neither names the other); a third
/// that names both sides and both repairs does.
#[test]
fn two_repairs_at_once_need_a_third() {
    let e = Env::copy_of(template(), "camden");
    let (sides, base) = forked(&e);
    let r1 = repair(&e, base, &sides, "camden", |p, _| p.time += 10);
    let r2 = repair(&e, base, &sides, "camden", |p, _| p.time += 20);
    // Both are part of the fork now, for every reader.
    let f = policy_findings(&e);
    for r in [&r1, &r2] {
        assert!(
            f.contains(&("policy-fork".into(), r.to_hex(), "warning".into())),
            "{f:?}"
        );
    }
    assert_eq!(f.iter().filter(|(r, _, _)| r == "policy-fork").count(), 4);
    let err = e.fails(&["commit", "-m", "x", "--allow-empty"], 2);
    assert!(err.contains("nobody can commit"), "{err}");
    // `coffer share repair` names both sides and both repairs.
    let out: Value = serde_json::from_str(&e.ok(&["share", "repair", "--json"])).unwrap();
    let f = policy_findings(&e);
    assert!(!f.iter().any(|(r, _, _)| r == "policy-fork"), "{f:?}");
    for s in sides.iter().chain([&r1, &r2]) {
        assert!(
            f.contains(&("policy-fork-repaired".into(), s.to_hex(), "info".into())),
            "{f:?}"
        );
    }
    let list: Value = serde_json::from_str(&e.ok(&["share", "list", "--json"])).unwrap();
    assert_eq!(list["policy"], out["policy"]);
    // Above the sides' epochs (2) and the two repairs' (3): numbers stay unique.
    assert_eq!(list["epoch"], 4);
}

/// Acknowledgement is monotone: an owner's withdrawal whose `heads` leave out the history
/// (empty) cannot refuse what an earlier policy acknowledged. Only versions made since the
/// last policy change, which no policy acknowledged yet, fall under its rules (V9).
#[test]
fn a_withdrawal_with_empty_heads_cannot_wipe_acknowledged_history() {
    let e = Env::copy_of(template(), "camden");
    let f = Forge::open(&e.data);
    let h = f.hist();
    let head = f.ds.head().unwrap().unwrap();
    let v1 = h.versions[&head].parents[0];
    let id = f.policy(&ident(t(&e), "camden"), |p, s| {
        p.members.retain(|m| m.label() != "Hackney");
        Forge::rotate(p, s);
        p.heads = Some(vec![]);
    });
    let h = f.hist();
    assert_eq!(h.chain.tip().0, id, "the withdrawal is in force");
    assert!(
        h.is_history(&v1),
        "v1, acknowledged before, must stay history"
    );
    // v2 was made after the last policy change and nobody acknowledged it: V9 applies.
    let out = e.coffer(&["verify", "--json"]).output().unwrap();
    assert!(
        has_finding(&json(&out), &head, "version-withdrawn-reader", "error")
            || has_finding(&json(&out), &head, "version-withdrawn-reader", "warning")
    );
}
