//! Sharing through the real binary, four organisations on one dataset folder (clone comes
//! with its own change): add, read, commit as a writer, refuse a stranger, withdraw.

mod util;

use serde_json::Value;
use util::*;

struct Org {
    path: std::path::PathBuf,
    public: String,
}

fn org(e: &Env, name: &str) -> Org {
    let path = e.tmp.path().join(format!("{name}.id"));
    let public = e
        .ok(&["id", "new", "--name", name, "--out", path.to_str().unwrap()])
        .trim()
        .to_string();
    Org { path, public }
}

/// The environment's own identity (the owner) as an `Org`.
fn e_owner(e: &Env) -> Org {
    Org {
        path: e.id.clone(),
        public: e.public(),
    }
}

fn run_as(e: &Env, who: &Org, args: &[&str]) -> std::process::Output {
    e.coffer(args)
        .env("COFFER_IDENTITY", &who.path)
        .output()
        .unwrap()
}

#[test]
fn camden_shares_with_hackney_and_the_gla_then_withdraws_hackney() {
    let e = Env::new(); // camden, the owner
    let hackney = org(&e, "hackney");
    let gla = org(&e, "gla");
    let islington = org(&e, "islington");
    e.write("places.csv", b"school,places\nA,10\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    e.ok(&["share", "add", &hackney.public, "--name", "Hackney"]);
    e.ok(&[
        "share",
        "add",
        &gla.public,
        "--name",
        "GLA",
        "--role",
        "writer",
    ]);
    let list: Value = serde_json::from_str(&e.ok(&["share", "list", "--json"])).unwrap();
    let roles: Vec<(String, String)> = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["label"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            ("GLA".into(), "writer".into()),
            ("Hackney".into(), "reader".into()),
            ("camden".into(), "owner".into())
        ]
    );

    // Hackney reads v1 byte for byte; it cannot commit.
    let h1 = e.tmp.path().join("hackney-v1");
    assert!(run_as(
        &e,
        &hackney,
        &["checkout", "HEAD", "--to", h1.to_str().unwrap()]
    )
    .status
    .success());
    assert_eq!(
        std::fs::read(h1.join("places.csv")).unwrap(),
        b"school,places\nA,10\n"
    );
    e.write("places.csv", b"school,places\nA,11\n");
    let out = run_as(&e, &hackney, &["commit", "-m", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("you are Hackney (reader); only owners, admins and writers commit; ask "));

    // The GLA commits; Camden verifies it.
    assert!(run_as(&e, &gla, &["commit", "-m", "GLA update"])
        .status
        .success());
    let log: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
    assert_eq!(log[0]["author"], "GLA");
    assert!(e.ok(&["verify"]).contains("ok: no problems found"));

    // Islington was never added.
    let out = run_as(
        &e,
        &islington,
        &[
            "checkout",
            "HEAD",
            "--to",
            e.tmp.path().join("isl").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(") are not a member; only members can read or change it; send the output of `coffer id show` to "), "{err}");
    assert!(!e.tmp.path().join("isl/places.csv").exists());

    // Withdraw Hackney, commit: Hackney keeps v1 and v2, not v3.
    let out = e.ok(&["share", "remove", "Hackney"]);
    assert!(out.contains("new epoch 1"), "{out}");
    e.write("places.csv", b"school,places\nA,12\n");
    e.ok(&["commit", "-m", "after Hackney left"]);
    for (rev, ok) in [("HEAD~2", true), ("HEAD~1", true), ("HEAD", false)] {
        let to = e.tmp.path().join(format!("h-{rev}"));
        let out = run_as(
            &e,
            &hackney,
            &["checkout", rev, "--to", to.to_str().unwrap()],
        );
        assert_eq!(
            out.status.success(),
            ok,
            "{rev}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if !ok {
            assert!(String::from_utf8_lossy(&out.stderr)
                .contains("Hackney cannot open this content of dataset"));
        }
    }
    assert!(e.ok(&["verify"]).contains("ok: no problems found"));

    // The access history needs no identity at all.
    let out = e
        .coffer(&["access", "--json"])
        .env("COFFER_IDENTITY", e.tmp.path().join("nobody"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    let readers = |i: usize| -> Vec<String> {
        a["versions"][i]["readers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(readers(0), vec!["GLA", "Hackney", "camden"]);
    assert_eq!(readers(2), vec!["GLA", "camden"]);
    assert_eq!(a["versions"][1]["author"], "GLA");
    let last = &a["policies"][3];
    assert_eq!(last["by"], "camden");
    assert_eq!(last["removed"][0], "Hackney");
    assert_eq!(last["epoch"], 1);
    let text = e.ok(&["access"]);
    assert!(text.contains("withdrew Hackney (new epoch 1)"), "{text}");
    // The store holds no data key in clear and no plaintext.
    for f in files_under(&e.store()) {
        let b = std::fs::read(&f).unwrap();
        assert!(
            !b.windows(10).any(|w| w == b"school,pla"),
            "{}",
            f.display()
        );
    }
}

#[test]
fn bad_sharing_requests_are_refused_clearly() {
    let e = Env::new();
    let hackney = org(&e, "hackney");
    e.write("a.csv", b"x\n");
    e.ok(&["init"]);
    // A typo in the public identity.
    let mut typo: Vec<char> = hackney.public.chars().collect();
    typo[20] = if typo[20] == 'q' { 'p' } else { 'q' };
    let typo: String = typo.into_iter().collect();
    let err = e.fails(&["share", "add", &typo, "--name", "Hackney"], 2);
    assert!(err.contains("malformed public identity"), "{err}");
    e.ok(&["share", "add", &hackney.public, "--name", "Hackney"]);
    let err = e.fails(&["share", "add", &hackney.public, "--name", "Hackney"], 2);
    assert!(err.contains("already exists"), "{err}");
    let err = e.fails(&["share", "add", &hackney.public, "--name", "Other"], 2);
    assert!(err.contains("already a member"), "{err}");
    let err = e.fails(&["share", "remove", "camden"], 2);
    assert!(err.contains("cannot remove yourself"), "{err}");
    let err = e.fails(&["share", "remove", "Nobody"], 2);
    assert!(err.contains("no member is labelled"), "{err}");
    let err = e.fails(
        &[
            "share",
            "add",
            &hackney.public,
            "--name",
            "X",
            "--role",
            "boss",
        ],
        2,
    );
    assert!(err.contains("unknown role"), "{err}");
    // A reader cannot change members.
    let gla = org(&e, "gla");
    let out = run_as(
        &e,
        &hackney,
        &["share", "add", &gla.public, "--name", "GLA"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("(reader); only owners and admins change who has access; ask "));
    // An admin cannot remove the last owner.
    let brent = org(&e, "brent");
    e.ok(&[
        "share",
        "add",
        &brent.public,
        "--name",
        "Brent",
        "--role",
        "admin",
    ]);
    // An admin cannot remove an owner at all (rule policy-role-power).
    let out = run_as(&e, &brent, &["share", "remove", "camden"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("only an owner may add, remove or change an owner"));
    // The last owner cannot step down.
    let out = run_as(&e, &e_owner(&e), &["share", "role", "camden", "admin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("leaves the dataset without an owner"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(e.ok(&["verify"]).contains("ok: no problems found"));
}

#[test]
fn clone_by_recipients_strangers_pinning_and_withdrawal() {
    let e = Env::new(); // camden
    let hackney = org(&e, "hackney");
    let gla = org(&e, "gla");
    let islington = org(&e, "islington");
    e.write("housing/register.csv", b"id,band\n1,A\n2,B\n");
    e.write("empty/.keep", b"");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    e.ok(&["share", "add", &hackney.public, "--name", "Hackney"]);
    e.ok(&[
        "share",
        "add",
        &gla.public,
        "--name",
        "GLA",
        "--role",
        "writer",
    ]);
    let src = e.data.to_str().unwrap().to_string();
    let dataset = serde_json::from_str::<Value>(&e.ok(&["verify", "--json"])).unwrap()["dataset"]
        .as_str()
        .unwrap()
        .to_string();

    // A stranger is refused before anything is written.
    let isl = e.tmp.path().join("islington-copy");
    let out = run_as(&e, &islington, &["clone", &src, isl.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("are not a member") && err.contains(&dataset[..12]),
        "{err}"
    );
    assert!(!isl.exists());

    // Hackney clones (file:// URL), remembered on first use, byte for byte.
    let hk = e.tmp.path().join("hackney-copy");
    let out = run_as(
        &e,
        &hackney,
        &["clone", &format!("file://{src}"), hk.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("remembering dataset"));
    assert_eq!(snapshot(&hk), snapshot(&e.data));
    assert!(
        run_as(&e, &hackney, &["-C", hk.to_str().unwrap(), "verify"])
            .status
            .success()
    );

    // Pinning: a wrong --expect-id is refused.
    let out = run_as(
        &e,
        &hackney,
        &[
            "clone",
            &src,
            e.tmp.path().join("x").to_str().unwrap(),
            "--expect-id",
            &"ab".repeat(32),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("does not hold dataset {}", "ab".repeat(32))),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The GLA clones, commits in its copy; Camden clones that and verifies the GLA's version.
    let gl = e.tmp.path().join("gla-copy");
    assert!(run_as(&e, &gla, &["clone", &src, gl.to_str().unwrap()])
        .status
        .success());
    std::fs::write(gl.join("housing/register.csv"), b"id,band\n1,A\n2,C\n").unwrap();
    assert!(run_as(
        &e,
        &gla,
        &["-C", gl.to_str().unwrap(), "commit", "-m", "GLA correction"]
    )
    .status
    .success());
    let back = e.tmp.path().join("camden-check");
    e.ok(&["clone", gl.to_str().unwrap(), back.to_str().unwrap()]);
    let log: Value =
        serde_json::from_str(&e.ok(&["-C", back.to_str().unwrap(), "log", "--json"])).unwrap();
    assert_eq!(log[0]["author"], "GLA");
    assert!(e
        .ok(&["-C", back.to_str().unwrap(), "verify"])
        .contains("ok: no problems found"));

    // Trust on first use: the same source path now holding another dataset is refused.
    let other = Env::new();
    other.write("a.csv", b"x\n");
    other.ok(&["init"]);
    let moved = e.tmp.path().join("camden-moved");
    std::fs::rename(&e.data, &moved).unwrap();
    std::fs::rename(&other.data, &e.data).unwrap();
    let out = e
        .coffer(&["clone", &src, e.tmp.path().join("y").to_str().unwrap()])
        .env("COFFER_IDENTITY", &other.id)
        .current_dir(e.tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a different dataset"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&e.data, &other.data).unwrap();
    std::fs::rename(&moved, &e.data).unwrap();

    // Withdrawn: Hackney's new clone stops at the version it cannot read, and older ones work.
    e.ok(&["share", "remove", "Hackney"]);
    e.write("housing/register.csv", b"id,band\n1,A\n2,B\n3,A\n");
    e.ok(&["commit", "-m", "after Hackney left"]);
    let hk2 = e.tmp.path().join("hackney-copy-2");
    let out = run_as(&e, &hackney, &["clone", &src, hk2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("Hackney cannot open this content of dataset"));
    let old = e.tmp.path().join("hackney-old");
    let out = run_as(
        &e,
        &hackney,
        &[
            "-C",
            hk2.to_str().unwrap(),
            "checkout",
            "HEAD~1",
            "--to",
            old.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(old.join("housing/register.csv")).unwrap(),
        b"id,band\n1,A\n2,B\n"
    );
}

#[test]
fn tampered_or_rolled_back_policies_are_detected_and_no_key_is_stored() {
    let e = Env::new();
    let hackney = org(&e, "hackney");
    let gla = org(&e, "gla");
    e.write("a.csv", b"x\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    e.ok(&["share", "add", &hackney.public, "--name", "Hackney"]);
    e.ok(&["share", "remove", "Hackney"]);
    e.ok(&["share", "add", &gla.public, "--name", "GLA"]);
    assert!(e.ok(&["verify"]).contains("ok: no problems found"));

    // No epoch data key appears anywhere in the store.
    let ds = coffer::repo::Dataset::find(&e.data).unwrap();
    let me = coffer::identity::Identity::load(&e.id, &coffer::identity::Passphrase::None).unwrap();
    let chain = ds.chain().unwrap();
    let mut keys = Vec::new();
    for (_, p) in &chain.policies {
        for (_, s) in p.unwrap_for(&me.public().kx, me.kx_secret()) {
            keys.push(s.data_key.to_vec());
            keys.push(s.dedup_key.to_vec());
        }
    }
    assert!(keys.len() >= 4);
    for f in files_under(&e.store()) {
        let b = std::fs::read(&f).unwrap();
        for k in &keys {
            assert!(
                !b.windows(32).any(|w| w == &k[..]),
                "a key appears in {}",
                f.display()
            );
        }
    }

    // Remove the newest policy: a rollback, refused everywhere.
    let tip = chain.tip().0;
    let tip_file = e.store().join("policy").join(tip.to_hex());
    let saved = std::fs::read(&tip_file).unwrap();
    std::fs::remove_file(&tip_file).unwrap();
    let out = e.coffer(&["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("older chain replayed"));
    let err = e.fails(&["commit", "-m", "x", "--allow-empty"], 2);
    assert!(
        err.contains("a policy was removed or an older chain replayed"),
        "{err}"
    );

    // Put it back altered by one bit: refused as tampered.
    let mut bad = saved.clone();
    let n = bad.len() / 2;
    bad[n] ^= 1;
    std::fs::write(&tip_file, &bad).unwrap();
    let out = e.coffer(&["verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "policy"
                && f["id"] == tip.to_hex().as_str()
                && f["message"].as_str().unwrap().contains("does not hash")),
        "{r:#}"
    );

    // Restored: clean again.
    std::fs::write(&tip_file, &saved).unwrap();
    assert!(e.ok(&["verify"]).contains("ok: no problems found"));
}

#[test]
fn from_now_gives_only_later_versions() {
    let e = Env::new();
    let hackney = org(&e, "hackney");
    e.write("a.csv", b"before\n");
    e.write("big/b.csv", &noise(300_000, 1));
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "before Hackney"]);
    let v1 = e.ok(&["log", "--json"]);
    let v1: Value = serde_json::from_str(&v1).unwrap();
    let v1 = v1[0]["id"].as_str().unwrap().to_string();
    let out = e.ok(&[
        "share",
        "add",
        &hackney.public,
        "--name",
        "Hackney",
        "--from-now",
        "--json",
    ]);
    let o: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(o["epoch"], 1);
    let reseal = o["reseal"].as_str().unwrap().to_string();
    assert!(o["resealed"]["blobs"].as_u64().unwrap() >= 3, "{o}");
    // The reseal version is the head, signed by Camden, same content, epoch 1 only: Hackney
    // reads it at once, and not the version before it.
    let log: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
    assert_eq!(log[0]["id"], reseal.as_str());
    assert_eq!(log[0]["author"], "camden");
    assert_eq!(log[0]["epoch"], 1);
    let to = e.tmp.path().join("resealed");
    assert!(run_as(
        &e,
        &hackney,
        &["checkout", "HEAD", "--to", to.to_str().unwrap()]
    )
    .status
    .success());
    assert_eq!(std::fs::read(to.join("a.csv")).unwrap(), b"before\n");
    assert_eq!(
        std::fs::read(to.join("big/b.csv")).unwrap(),
        noise(300_000, 1)
    );
    let out = run_as(
        &e,
        &hackney,
        &[
            "checkout",
            &v1,
            "--to",
            e.tmp.path().join("old").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Hackney cannot open this content of dataset"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Later commits dedup against the resealed content as usual.
    e.write("a.csv", b"after\n");
    let c: Value = serde_json::from_str(&e.ok(&["commit", "-m", "after", "--json"])).unwrap();
    assert!(c["bytes_written"].as_u64().unwrap() < 10_000, "{c}");
    let to = e.tmp.path().join("now");
    assert!(run_as(
        &e,
        &hackney,
        &["checkout", "HEAD", "--to", to.to_str().unwrap()]
    )
    .status
    .success());
    assert_eq!(std::fs::read(to.join("a.csv")).unwrap(), b"after\n");
    let access: Value = serde_json::from_str(&e.ok(&["access", "--json"])).unwrap();
    let readers: Vec<Vec<String>> = access["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v["readers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert_eq!(
        readers,
        vec![
            vec!["camden".to_string()],
            vec!["Hackney".to_string(), "camden".to_string()],
            vec!["Hackney".to_string(), "camden".to_string()],
        ]
    );
    assert!(e.ok(&["verify"]).contains("ok: no problems found"));
}

/// A clone that finds only a head it cannot read (its access was withdrawn) leaves a folder
/// with no files; once access is given again, `pull` there writes the head in full. Files put
/// in that folder meanwhile are never overwritten.
#[test]
fn a_clone_that_could_not_read_its_head_is_pulled_once_access_is_given() {
    let e = Env::new(); // camden
    let hackney = org(&e, "hackney");
    e.write("housing/register.csv", b"id,band\n1,A\n2,B\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    e.ok(&["share", "add", &hackney.public, "--name", "Hackney"]);
    e.ok(&["share", "remove", "Hackney"]);
    e.write("housing/register.csv", b"id,band\n1,A\n2,B\n3,C\n");
    e.ok(&["commit", "-m", "after Hackney left"]);
    let src = e.data.to_str().unwrap().to_string();
    let hk = e.tmp.path().join("hackney-copy");
    let hks = hk.to_str().unwrap();
    let out = run_as(&e, &hackney, &["clone", &src, hks]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open this content") && err.contains("run `coffer pull` there"),
        "{err}"
    );
    let listing = |p: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(listing(&hk), [".coffer"]);

    // Still withdrawn: the pull says so and writes nothing.
    let out = run_as(&e, &hackney, &["-C", hks, "pull"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("your access was withdrawn"), "{err}");
    assert_eq!(listing(&hk), [".coffer"]);

    // A file of Hackney's own in that folder is refused, and kept.
    std::fs::write(hk.join("notes.txt"), b"mine\n").unwrap();
    e.ok(&["share", "add", &hackney.public, "--name", "Hackney"]);
    let out = run_as(&e, &hackney, &["-C", hks, "pull"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds files but no checkout"), "{err}");
    assert_eq!(std::fs::read(hk.join("notes.txt")).unwrap(), b"mine\n");

    // Moved out, the pull writes the head, and the folder is then an ordinary clone.
    std::fs::remove_file(hk.join("notes.txt")).unwrap();
    let out = run_as(&e, &hackney, &["-C", hks, "pull"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(hk.join("housing/register.csv")).unwrap(),
        b"id,band\n1,A\n2,B\n3,C\n"
    );
    let st = run_as(&e, &hackney, &["-C", hks, "status"]);
    assert!(st.status.success());
    assert!(
        String::from_utf8_lossy(&st.stdout).contains("clean"),
        "{}",
        String::from_utf8_lossy(&st.stdout)
    );

    // Checked out now: deleting every file is a change like any other, which pull keeps.
    std::fs::remove_dir_all(hk.join("housing")).unwrap();
    let out = run_as(&e, &hackney, &["-C", hks, "pull"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uncommitted changes"), "{err}");
    assert_eq!(listing(&hk), [".coffer"]);
}

/// Two admins withdraw each other: an admin withdrawn by another (pushed first) forks the
/// older policy late, withdrawing the withdrawer and adding an identity of its own. The fork
/// blocks commits until the owner repairs it; the repair leaves both admins out and takes no
/// addition from a side whose signer the other side withdrew; the repair pushes though a
/// side's claim holds the state it starts from; and nothing committed afterwards reaches the
/// withdrawn admin or its addition.
#[test]
fn a_late_fork_by_a_withdrawn_admin_is_repaired_without_its_additions() {
    let e = Env::new(); // camden, the owner
    let m = org(&e, "member");
    let a2 = org(&e, "a2");
    let sock = org(&e, "sock");
    e.write("a.txt", b"a1\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    for (o, label) in [(&m, "member"), (&a2, "a2")] {
        e.ok(&[
            "share", "add", &o.public, "--name", label, "--role", "admin",
        ]);
    }
    let bucket = e.tmp.path().join("bucket");
    e.ok(&[
        "remote",
        "add",
        "origin",
        bucket.to_str().unwrap(),
        "--create",
    ]);
    e.ok(&["push"]);
    let src = bucket.to_str().unwrap().to_string();
    let (mold, ac) = (e.tmp.path().join("mold"), e.tmp.path().join("ac"));
    let ok = |who: &Org, args: &[&str]| {
        let out = run_as(&e, who, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&m, &["clone", &src, mold.to_str().unwrap()]);
    ok(&a2, &["clone", &src, ac.to_str().unwrap()]);
    ok(
        &a2,
        &["-C", ac.to_str().unwrap(), "share", "remove", "member"],
    );
    ok(&a2, &["-C", ac.to_str().unwrap(), "push"]);
    // The member, on its stale clone: withdraws a2, adds its own identity; then copies the two
    // policies into the bucket by hand.
    ok(&m, &["-C", mold.to_str().unwrap(), "share", "remove", "a2"]);
    ok(
        &m,
        &[
            "-C",
            mold.to_str().unwrap(),
            "share",
            "add",
            &sock.public,
            "--name",
            "sock",
            "--role",
            "reader",
        ],
    );
    for f in std::fs::read_dir(mold.join(".coffer/store/policy")).unwrap() {
        let f = f.unwrap();
        let to = bucket.join("policy").join(f.file_name());
        if !to.exists() {
            std::fs::copy(f.path(), to).unwrap();
        }
    }

    // The owner's folder sees the fork: no commit until it is repaired.
    e.ok(&["pull"]);
    e.write("secret.txt", b"SECRET\n");
    let out = e
        .coffer(&["commit", "-m", "during the fork"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("share repair"));
    let out = e.ok(&["share", "repair"]);
    assert!(out.contains("repaired the fork"), "{out}");
    let list = e.ok(&["share", "list"]);
    for gone in ["member", "a2", "sock"] {
        assert!(
            !list.lines().any(|l| l.trim_start().starts_with(gone)),
            "{gone} is in the repair: {list}"
        );
    }
    e.ok(&["push"]);
    e.ok(&["commit", "-m", "after the repair"]);
    e.ok(&["push"]);
    assert!(e.ok(&["verify"]).contains("ok: no problems found"));

    // Nobody the fork touched reads what came after it.
    for (who, name) in [(&m, "m2"), (&a2, "a22"), (&sock, "s2")] {
        let to = e.tmp.path().join(name);
        let out = run_as(&e, who, &["clone", &src, to.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(!to.join("secret.txt").exists(), "{name} reads the secret");
    }
    let out = run_as(&e, &m, &["-C", mold.to_str().unwrap(), "pull"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!mold.join("secret.txt").exists());
}
