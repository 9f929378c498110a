//! History across key epochs and membership changes, through the real binary with a folder
//! remote: each scenario of the trust-rules issue that failed before. Camden owns the
//! dataset; the GLA writes; Hackney reads.

mod util;

use serde_json::Value;
use std::path::{Path, PathBuf};
use util::forge::{ident, Forge};
use util::*;

struct World {
    e: Env,
    /// The folder remote.
    remote: PathBuf,
}

impl World {
    /// Camden's dataset with three subfolders, shared with the GLA (writer) and Hackney
    /// (reader), pushed to a folder remote; the GLA and Hackney cloned it.
    fn new() -> World {
        let e = Env::new();
        for n in ["gla", "hackney", "newcomer"] {
            e.new_identity(n);
        }
        e.write("housing/register.csv", &noise(300_000, 1));
        e.write("schools/places.csv", b"school,places\nA,10\n");
        e.write("care/homes.csv", b"home,beds\nX,4\n");
        e.ok(&["init", "--name", "camden-services"]);
        e.ok(&["commit", "-m", "March"]);
        for (n, label, role) in [("gla", "GLA", "writer"), ("hackney", "Hackney", "reader")] {
            let p = public(&e, n);
            e.ok(&["share", "add", &p, "--name", label, "--role", role]);
        }
        let remote = e.tmp.path().join("bucket");
        e.ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
        e.ok(&["push"]);
        let w = World { e, remote };
        for n in ["gla", "hackney"] {
            w.ok(
                n,
                None,
                &[
                    "clone",
                    w.remote.to_str().unwrap(),
                    w.dir(n).to_str().unwrap(),
                ],
            );
        }
        w
    }

    fn dir(&self, who: &str) -> PathBuf {
        if who == "camden" {
            self.e.data.clone()
        } else {
            self.e.tmp.path().join(format!("{who}-copy"))
        }
    }

    /// Run as `who`, in `who`'s copy unless `dir` says otherwise.
    fn run(&self, who: &str, dir: Option<&Path>, args: &[&str]) -> std::process::Output {
        let d = dir.map(Path::to_path_buf).unwrap_or_else(|| self.dir(who));
        let mut a = vec!["-C", d.to_str().unwrap()];
        a.extend_from_slice(args);
        if !d.exists() {
            a.drain(..2);
        }
        self.e
            .coffer(&a)
            .current_dir(self.e.tmp.path())
            .env(
                "COFFER_IDENTITY",
                self.e.tmp.path().join(format!("{who}.id")),
            )
            .output()
            .unwrap()
    }

    fn ok(&self, who: &str, dir: Option<&Path>, args: &[&str]) -> String {
        let out = self.run(who, dir, args);
        assert!(
            out.status.success(),
            "{who} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, who: &str, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(who, None, args)).unwrap()
    }

    fn write(&self, who: &str, rel: &str, bytes: &[u8]) {
        let p = self.dir(who).join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn head(&self, who: &str) -> String {
        std::fs::read_to_string(self.dir(who).join(".coffer/refs/main"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Copy the objects of `who`'s store that the remote lacks straight into the remote, as
    /// anyone with the bucket's credentials can (no `coffer push`, no rules).
    fn sneak(&self, who: &str) {
        let store = self.dir(who).join(".coffer/store");
        for f in files_under(&store) {
            let rel = f.strip_prefix(&store).unwrap();
            let to = self.remote.join(rel);
            if !to.exists() {
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(&f, &to).unwrap();
            }
        }
    }
}

fn public(e: &Env, name: &str) -> String {
    e.public_of(name)
}

fn readers(access: &Value, id: &str) -> Vec<String> {
    access["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("version {id} not in {access:#}"))["readers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

/// Before: after a withdrawal, `verify` opened unchanged subtrees (in packs of the older
/// epoch) with the newer epoch's keys and reported intact data as altered.
#[test]
fn verify_after_withdrawal_opens_each_blob_with_its_packs_epoch() {
    let w = World::new();
    w.ok("camden", None, &["share", "remove", "Hackney"]);
    w.write("camden", "schools/places.csv", b"school,places\nA,11\n");
    w.ok("camden", None, &["commit", "-m", "April"]);
    for _ in 0..3 {
        let r = w.json("camden", &["verify", "--json"]);
        assert_eq!(
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["level"] != "info")
                .count(),
            0,
            "{r:#}"
        );
        assert_eq!(r["decrypted"], true);
    }
    // The newest version uses packs of both epochs, as its access entry says.
    let a = w.json("camden", &["access", "--json"]);
    let newest = a["versions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(newest["epochs"], serde_json::json!([0, 1]), "{a:#}");
    assert_eq!(
        readers(&a, newest["id"].as_str().unwrap()),
        ["GLA", "camden"]
    );
}

/// Before: a member added `--from-now` could not clone (the head reused epoch-0 packs).
#[test]
fn a_member_added_from_now_clones_and_reads_the_head() {
    let w = World::new();
    let p = public(&w.e, "newcomer");
    w.ok(
        "camden",
        None,
        &["share", "add", &p, "--name", "Newcomer", "--from-now"],
    );
    w.ok("camden", None, &["push"]);
    w.ok(
        "newcomer",
        None,
        &[
            "clone",
            w.remote.to_str().unwrap(),
            w.dir("newcomer").to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(w.dir("newcomer").join("housing/register.csv")).unwrap(),
        noise(300_000, 1)
    );
    w.ok("newcomer", None, &["verify"]);
    // Versions before they joined stay closed to them.
    let log = w.json("newcomer", &["log", "--json"]);
    let first = log.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = w.run(
        "newcomer",
        None,
        &["cat", &format!("{first}:schools/places.csv")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sealed under key epoch 0"));
    // The GLA pulls the reseal version and keeps committing.
    w.ok("gla", None, &["pull"]);
    w.write("gla", "schools/places.csv", b"school,places\nA,12\n");
    w.ok("gla", None, &["commit", "-m", "GLA"]);
    w.ok("gla", None, &["push"]);
    w.ok("newcomer", None, &["pull"]);
    assert_eq!(
        std::fs::read(w.dir("newcomer").join("schools/places.csv")).unwrap(),
        b"school,places\nA,12\n"
    );
}

/// Before: a withdrawn writer who writes versions and packs straight into the bucket had
/// them fetched, merged into a version Camden signed, and checked out by new clones.
#[test]
fn a_withdrawn_writer_cannot_add_history_by_any_route() {
    let w = World::new();
    w.ok("camden", None, &["share", "remove", "GLA"]);
    w.write("camden", "care/homes.csv", b"home,beds\nX,5\n");
    w.ok("camden", None, &["commit", "-m", "after the GLA left"]);
    w.ok("camden", None, &["push"]);
    let camden_head = w.head("camden");

    // The GLA commits in its old copy; its push is refused; it copies the objects anyway.
    w.write("gla", "gla.csv", b"the GLA was here\n");
    w.ok("gla", None, &["commit", "-m", "GLA after withdrawal"]);
    let sneaked = w.head("gla");
    let out = w.run("gla", None, &["push"]);
    assert_eq!(out.status.code(), Some(2));
    w.sneak("gla");

    // Variant: a child of Camden's post-withdrawal head, naming the old policy.
    let f = Forge::open(&w.dir("camden"));
    let h = f.hist();
    let old = h.chain.policies[h.chain.policies.len() - 2].0;
    let child = f.version(&ident(w.e.tmp.path(), "gla"), |v| {
        v.policy = old;
        v.epoch = 0;
    });
    let name = format!("versions/{child}");
    std::fs::copy(
        w.dir("camden").join(".coffer/store").join(&name),
        w.remote.join(&name),
    )
    .unwrap();
    std::fs::remove_file(w.dir("camden").join(".coffer/store").join(&name)).unwrap();

    // Camden's pull takes neither, says why, and does not move.
    let p = w.json("camden", &["pull", "--json"]);
    let refused: Vec<(String, String)> = p["fetch"]["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x[0].as_str().unwrap().to_string(),
                x[1]["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        refused.contains(&(sneaked.clone(), "version-withdrawn-writer".into())),
        "{p:#}"
    );
    assert!(refused.iter().any(|(i, _)| *i == child.to_hex()), "{p:#}");
    assert_eq!(w.head("camden"), camden_head);
    assert!(!w.dir("camden").join("gla.csv").exists());
    w.ok("camden", None, &["verify"]);
    // Camden can still push (the refused objects are not "versions it lacks").
    w.write("camden", "care/homes.csv", b"home,beds\nX,6\n");
    w.ok("camden", None, &["commit", "-m", "May"]);
    w.ok("camden", None, &["push"]);
    // A fresh clone checks out Camden's newest version and verifies clean.
    let fresh = w.e.tmp.path().join("fresh");
    w.ok(
        "hackney",
        None,
        &["clone", w.remote.to_str().unwrap(), fresh.to_str().unwrap()],
    );
    assert_eq!(
        w.head("camden"),
        std::fs::read_to_string(fresh.join(".coffer/refs/main"))
            .unwrap()
            .trim()
    );
    assert!(!fresh.join("gla.csv").exists());
    w.ok("hackney", Some(&fresh), &["verify"]);
    // What the withdrawn writer is told.
    let out = w.run("gla", None, &["pull"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is not accepted") && err.contains("rule version-withdrawn-writer"),
        "{err}"
    );
}

/// Before: a remaining writer who had not seen a withdrawal committed under the old epoch
/// (which the withdrawn reader holds), merged and pushed: Hackney could read it. Now pull
/// signs the GLA's unpublished version again under the new policy, sealing its new content
/// under the new epoch.
#[test]
fn a_remaining_writer_cannot_reopen_what_a_withdrawal_closed() {
    let w = World::new();
    w.ok("camden", None, &["share", "remove", "Hackney"]);
    w.ok("camden", None, &["push"]);
    w.write("gla", "gla-readme.txt", b"for Camden and the GLA only\n");
    w.ok("gla", None, &["commit", "-m", "GLA note"]);
    let offline = w.head("gla");
    // Its push is refused (policy change on the remote); its pull signs it again.
    let out = w.run("gla", None, &["push"]);
    assert_eq!(out.status.code(), Some(2));
    let p = w.json("gla", &["pull", "--json"]);
    let rebased = &p["rebased"]["versions"];
    assert_eq!(rebased[0][0], offline.as_str(), "{p:#}");
    assert!(
        p["rebased"]["resealed"]["blobs"].as_u64().unwrap() >= 2,
        "{p:#}"
    );
    let new = rebased[0][1].as_str().unwrap().to_string();
    assert_eq!(w.head("gla"), new);
    w.ok("gla", None, &["verify"]);
    w.ok("gla", None, &["push"]);
    // Hackney fetches it and cannot read the note; access says who can.
    w.ok("hackney", None, &["fetch"]);
    let out = w.run("hackney", None, &["cat", &format!("{new}:gla-readme.txt")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sealed under key epoch 1"));
    w.ok("camden", None, &["pull"]);
    let a = w.json("camden", &["access", "--json"]);
    assert_eq!(readers(&a, &new), ["GLA", "camden"]);
    assert_eq!(
        std::fs::read(w.dir("camden").join("gla-readme.txt")).unwrap(),
        b"for Camden and the GLA only\n"
    );
    w.ok("camden", None, &["verify"]);
}

/// A withdrawal made here acknowledges the history it knew. A version the withdrawn writer
/// pushed before the withdrawal was published is not lost: push refuses the withdrawal,
/// pull signs it again acknowledging that version, and push succeeds.
#[test]
fn a_withdrawal_made_before_a_push_it_did_not_see_is_made_again() {
    let w = World::new();
    w.ok("camden", None, &["share", "remove", "GLA"]);
    w.write("gla", "gla.csv", b"pushed while Camden was withdrawing\n");
    w.ok("gla", None, &["commit", "-m", "GLA in time"]);
    w.ok("gla", None, &["push"]);
    let gla_version = w.head("gla");
    let out = w.run("camden", None, &["push"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("coffer pull"), "{err}");
    // fetch alone holds it back and says why.
    let f = w.json("camden", &["fetch", "--json"]);
    assert_eq!(f["held_back"][0][0], gla_version.as_str(), "{f:#}");
    let p = w.json("camden", &["pull", "--json"]);
    assert_eq!(p["fetch"]["redone"].as_array().unwrap().len(), 1, "{p:#}");
    assert!(p["fetch"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == gla_version.as_str()));
    w.ok("camden", None, &["push"]);
    assert!(w.dir("camden").join("gla.csv").exists());
    w.ok("camden", None, &["verify"]);
    w.ok("hackney", None, &["pull"]);
    assert!(w.dir("hackney").join("gla.csv").exists());
    w.ok("hackney", None, &["verify"]);
    // And from now on the GLA cannot write.
    w.ok("gla", None, &["pull"]);
    let out = w.run("gla", None, &["commit", "-m", "late", "--allow-empty"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `share role` demotes a writer to a reader: they keep reading, their later versions are
/// refused, and `access` shows the change.
#[test]
fn demoting_a_writer_keeps_their_reads_and_refuses_their_writes() {
    let w = World::new();
    w.ok("camden", None, &["share", "role", "GLA", "reader"]);
    w.ok("camden", None, &["push"]);
    w.ok("gla", None, &["pull"]);
    let out = w.run("gla", None, &["commit", "-m", "x", "--allow-empty"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("you are GLA (reader)"), "{err}");
    assert!(
        err.contains("only owners, admins and writers commit"),
        "{err}"
    );
    let a = w.json("camden", &["access", "--json"]);
    let last = a["policies"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["changed"],
        serde_json::json!([{"label": "GLA", "from": "writer", "to": "reader"}])
    );
    w.write("camden", "a.csv", b"a\n");
    w.ok("camden", None, &["commit", "-m", "after"]);
    w.ok("camden", None, &["push"]);
    w.ok("gla", None, &["pull"]);
    assert!(w.dir("gla").join("a.csv").exists());
}

/// A withdrawn reader is told what happened, in terms of people and versions: its pull says
/// who withdrew it and when and what it keeps, and its status still works.
#[test]
fn a_withdrawn_reader_is_told_who_and_when() {
    let w = World::new();
    w.ok("camden", None, &["share", "remove", "Hackney"]);
    w.write("camden", "care/homes.csv", b"home,beds\nX,5\n");
    w.ok("camden", None, &["commit", "-m", "after Hackney left"]);
    w.ok("camden", None, &["push"]);
    let out = w.run("hackney", None, &["pull"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("your access was withdrawn by camden on ")
            && err.contains("(policy seq 3)")
            && err.contains("you keep the versions up to seq 1 that you could read"),
        "{err}"
    );
    // status is about the folder, which matches the version Hackney has.
    let out = w.ok("hackney", None, &["status"]);
    assert!(out.contains("clean"), "{out}");
}
