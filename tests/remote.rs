//! Remotes against real S3-compatible servers on 127.0.0.1 (moto, which honours conditional
//! writes, and `rclone serve s3`, which ignores them): push, clone, pull, concurrent pushes,
//! interrupted transfers, garbage, partial reads and bad input. Every test runs on both.

mod util;

use std::collections::BTreeSet;
use util::s3::{Kind, Server, KINDS};
use util::{kill9_running, noise, snapshot, Env};

/// Camden's dataset pushed to `s3://coffer-test/camden`, shared with the GLA (writer) and
/// Hackney (reader), who have not cloned yet.
struct World {
    server: Server,
    camden: Env,
    gla: Env,
    hackney: Env,
    url: String,
}

fn org(name: &str, server: &Server) -> Env {
    let mut e = Env::named(name);
    e.vars = server.env();
    e
}

fn world(kind: Kind) -> World {
    let server = Server::start(kind);
    let camden = org("camden", &server);
    let gla = org("gla", &server);
    let hackney = org("hackney", &server);
    let url = server.url("camden");
    camden.write(
        "schools/places.csv",
        b"school,places\nMARKER-PLAINTEXT,30\n",
    );
    camden.write(
        "housing/MARKER-FILENAME.geojson",
        b"{\"type\":\"FeatureCollection\"}",
    );
    camden.write("care/big.bin", &noise(3 << 20, 1));
    camden.ok(&["init"]);
    camden.ok(&["commit", "-m", "MARKER-MESSAGE first export"]);
    camden.ok(&[
        "share",
        "add",
        &gla.public(),
        "--name",
        "GLA",
        "--role",
        "writer",
    ]);
    camden.ok(&["share", "add", &hackney.public(), "--name", "Hackney"]);
    camden.ok(&["remote", "add", "origin", &url]);
    camden.ok(&["push"]);
    World {
        server,
        camden,
        gla,
        hackney,
        url,
    }
}

fn clone(e: &Env, url: &str) -> String {
    e.ok(&["clone", url, "."])
}

fn head(e: &Env) -> String {
    std::fs::read_to_string(e.data.join(".coffer/refs/main"))
        .unwrap()
        .trim()
        .to_string()
}

fn versions_on(server: &Server, prefix: &str) -> BTreeSet<String> {
    server
        .keys(&format!("{prefix}/versions/"))
        .into_iter()
        .map(|k| k.rsplit('/').next().unwrap().to_string())
        .collect()
}

fn local_versions(e: &Env) -> BTreeSet<String> {
    util::files_under(&e.store().join("versions"))
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn push_clone_pull_and_nothing_readable_in_the_bucket() {
    for kind in KINDS {
        let w = world(kind);
        let remotes = w.camden.ok(&["remote", "list"]);
        let expect = match kind {
            Kind::Moto => "conditional writes honoured",
            Kind::Rclone => "conditional writes ignored",
        };
        assert!(remotes.contains(expect), "{kind:?}: {remotes}");
        assert!(w.camden.ok(&["push"]).contains("up to date"));

        // Hackney clones: the same bytes.
        let out = clone(&w.hackney, &w.url);
        assert!(out.contains("checked out"), "{out}");
        assert_eq!(snapshot(&w.hackney.data), snapshot(&w.camden.data));

        // Camden edits and pushes; Hackney pulls (fast-forward).
        w.camden.write(
            "schools/places.csv",
            b"school,places\nMARKER-PLAINTEXT,31\n",
        );
        w.camden.write("schools/new.csv", b"a,b\n");
        w.camden.ok(&["commit", "-m", "second"]);
        let out: serde_json::Value =
            serde_json::from_str(&w.camden.ok(&["push", "--json"])).unwrap();
        assert_eq!(out["versions"], 1, "{out}");
        assert_eq!(out["policies"], 0, "{out}");
        let out = w.hackney.ok(&["pull"]);
        assert!(out.contains("head is now"), "{out}");
        assert_eq!(snapshot(&w.hackney.data), snapshot(&w.camden.data));
        assert_eq!(head(&w.hackney), head(&w.camden));
        // A reader cannot push what it cannot sign, and has nothing to push.
        assert!(w.hackney.ok(&["push"]).contains("up to date"));

        // The GLA clones, commits and pushes; Camden pulls it.
        clone(&w.gla, &w.url);
        w.gla.write("gla/summary.csv", b"borough,total\n");
        w.gla.ok(&["commit", "-m", "GLA summary"]);
        w.gla.ok(&["push"]);
        w.camden.ok(&["pull"]);
        assert_eq!(snapshot(&w.camden.data), snapshot(&w.gla.data));
        for e in [&w.camden, &w.gla, &w.hackney] {
            e.ok(&["verify"]);
        }

        // The bucket holds no plaintext, file name or message.
        let objects = w.server.objects("camden/");
        assert!(objects.len() > 5, "{kind:?}: {}", objects.len());
        for (key, bytes) in &objects {
            assert!(!key.contains("MARKER"), "{key}");
            for marker in [
                "MARKER-PLAINTEXT",
                "MARKER-FILENAME",
                "MARKER-MESSAGE",
                "places.csv",
                "schools",
            ] {
                assert!(
                    !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                    "{kind:?}: {key} contains {marker}"
                );
            }
        }
    }
}

/// Two writers push different new versions at the same moment, many times over. Neither
/// version is ever lost: on moto exactly one push wins and the other is told to pull; on
/// rclone (conditions ignored) both may land as two heads. Pull merges; in the end every
/// version either side made is on the remote and in both histories.
#[test]
fn concurrent_pushes_never_lose_a_version() {
    for kind in KINDS {
        let w = world(kind);
        clone(&w.gla, &w.url);
        let mut made: BTreeSet<String> = BTreeSet::new();
        let mut one_winner_rounds = 0;
        let mut claim_decided = 0;
        let rounds = 12;
        for round in 0..rounds {
            // Round 3 edits the same file on both sides: a conflict, yours kept.
            let (fc, fg) = if round == 3 {
                ("shared.csv", "shared.csv")
            } else {
                ("camden.csv", "gla.csv")
            };
            w.camden.write(fc, format!("camden {round}\n").as_bytes());
            w.gla.write(fg, format!("gla {round}\n").as_bytes());
            w.camden.ok(&["commit", "-m", &format!("camden {round}")]);
            w.gla.ok(&["commit", "-m", &format!("gla {round}")]);
            made.insert(head(&w.camden));
            made.insert(head(&w.gla));
            let mut a = w.camden.spawn(&["push"]);
            let mut b = w.gla.spawn(&["push"]);
            let (ra, rb) = (a.wait().unwrap(), b.wait().unwrap());
            let mut err = String::new();
            for c in [&mut a, &mut b] {
                use std::io::Read;
                c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            }
            let wins = [ra.success(), rb.success()].iter().filter(|x| **x).count();
            for r in [ra, rb] {
                assert!(
                    r.success() || r.code() == Some(2),
                    "{kind:?} round {round}: {err}"
                );
            }
            if wins < 2 {
                assert!(err.contains("coffer pull"), "{kind:?} round {round}: {err}");
            }
            match kind {
                Kind::Moto => assert_eq!(wins, 1, "round {round}: {err}"),
                Kind::Rclone => assert!(wins >= 1, "round {round}: {err}"),
            }
            if wins == 1 {
                one_winner_rounds += 1;
            }
            claim_decided += usize::from(err.contains("same moment"));
            eprintln!(
                "{kind:?} round {round}: {wins} push(es) won{}",
                if err.contains("same moment") {
                    ", the other lost the claim"
                } else {
                    ""
                }
            );
            // Both bring the other's line in and push until the remote has one head.
            for _ in 0..3 {
                for e in [&w.camden, &w.gla] {
                    let out = e.ok(&["pull"]);
                    if round == 3 && out.contains("kept yours") {
                        assert!(out.contains("shared.csv"), "{out}");
                    }
                    // Only a lost race may fail, and it must say what to do.
                    let out = e.coffer(&["push"]).output().unwrap();
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(
                        out.status.success()
                            || (out.status.code() == Some(2) && err.contains("run `coffer pull")),
                        "{kind:?} round {round}: {err}"
                    );
                }
                if head(&w.camden) == head(&w.gla) {
                    break;
                }
            }
            assert_eq!(head(&w.camden), head(&w.gla), "{kind:?} round {round}");
        }
        // On moto every round has exactly one winner (asserted above); the claim decided at
        // least one of them (below), so the race was real.
        assert!(one_winner_rounds > 0 || kind == Kind::Rclone);
        // The race reached the claim (both pushers saw the same remote state) at least once;
        // otherwise this test would only show the check-before-upload path.
        if kind == Kind::Moto {
            assert!(claim_decided > 0, "no round raced to the claim");
        }
        let remote = versions_on(&w.server, "camden");
        for v in &made {
            assert!(
                remote.contains(v),
                "{kind:?}: version {v} lost from the remote"
            );
            assert!(
                local_versions(&w.camden).contains(v),
                "{kind:?}: {v} not at Camden"
            );
            assert!(
                local_versions(&w.gla).contains(v),
                "{kind:?}: {v} not at the GLA"
            );
        }
        // A fresh reader sees one consistent history.
        clone(&w.hackney, &w.url);
        w.hackney.ok(&["verify"]);
        assert_eq!(snapshot(&w.hackney.data), snapshot(&w.camden.data));
        let log = w.hackney.ok(&["log"]);
        for v in &made {
            assert!(
                log.contains(v.as_str()),
                "{kind:?}: {v} not in the reader's log"
            );
        }
    }
}

/// The object count under `prefix` once it stopped changing for half a second (a killed
/// client's last request may still be landing), within 30 s.
fn settled(server: &Server, prefix: &str) -> usize {
    let t = std::time::Instant::now();
    let mut last = server.count(prefix);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = server.count(prefix);
        if now == last {
            return now;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "{prefix} kept changing for 30 s after the kill"
        );
        last = now;
    }
}

/// A push killed with SIGKILL at exact points (after the first pack, after the second, after
/// the first part of a multipart upload, after the claim; the binary pauses there, debug
/// builds only, src/testhook.rs) is rerun until it finishes: at each point the remote holds
/// what that point implies and nothing after it, a reader in between sees the old state
/// whole, and no rerun sends a pack that had already arrived.
#[test]
fn interrupted_push_and_clone_resume() {
    for kind in KINDS {
        let mut w = world(kind);
        clone(&w.hackney, &w.url);
        // Packs (16 MiB) go up in 8 MiB parts here, so kills land mid-multipart too.
        w.camden
            .vars
            .push(("COFFER_MULTIPART_MIB".into(), "8".into()));
        let packs = "camden/packs/";
        let before = w.server.count(packs);
        let versions = versions_on(&w.server, "camden");
        let claims = w.server.count("camden/claims/");
        let mut last = before;
        // Each point gets new content (two 12 MiB files, two packs), since the threads that
        // are not paused finish their uploads before the kill.
        for (round, point) in ["pack:1", "pack:2", "part", "claim"].iter().enumerate() {
            for i in 0..2 {
                let n = 2 * round as u64 + i;
                w.camden
                    .write(&format!("care/part{n}.bin"), &noise(12 << 20, 100 + n));
            }
            w.camden
                .ok(&["commit", "-m", &format!("large export {round}")]);
            let point = *point;
            let mut p = w.camden.spawn_paused(&["push"], point);
            kill9_running(&mut p);
            let now = settled(&w.server, packs);
            assert!(
                now >= last,
                "{kind:?} {point}: packs went from {last} to {now}"
            );
            match point {
                "pack:1" => assert!(now > before, "{kind:?}: no pack after the first"),
                "pack:2" => assert!(now >= before + 2, "{kind:?}: {now} after the second"),
                _ => {}
            }
            // Nothing after the point: no version, and a claim only from the claim on.
            assert_eq!(
                versions_on(&w.server, "camden"),
                versions,
                "{kind:?} {point}: a version arrived before its turn"
            );
            let c = w.server.count("camden/claims/");
            assert_eq!(
                c,
                claims + usize::from(point == "claim"),
                "{kind:?} {point}"
            );
            last = now;
            // A reader between the kill and the rerun: whatever it sees is whole.
            w.hackney.ok(&["pull"]);
            w.hackney.ok(&["verify"]);
            assert_ne!(head(&w.hackney), head(&w.camden), "{kind:?} {point}");
        }
        let present = settled(&w.server, packs) - before;
        let out = w.camden.ok(&["push", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let sent = v["packs"]["objects"].as_u64().unwrap() as usize;
        let total = w.server.count(packs) - before;
        assert_eq!(
            sent + present,
            total,
            "{kind:?}: the rerun sent {sent} packs, {present} had arrived, {total} needed"
        );
        w.hackney.ok(&["pull"]);
        assert_eq!(snapshot(&w.hackney.data), snapshot(&w.camden.data));
        // The GLA's clone killed after two packs arrived, then run again.
        let mut c = w.gla.spawn_paused(&["clone", &w.url, "."], "pack:2");
        let tmp_packs = w.gla.data.join(".coffer.init-tmp/store/packs");
        // Whole packs only: a pack being written is a temporary file until it is renamed.
        let whole = || {
            util::files_under(&tmp_packs)
                .iter()
                .filter(|p| p.file_name().unwrap().len() == 64)
                .count()
        };
        kill9_running(&mut c);
        let arrived = whole();
        assert!(!w.gla.data.join(".coffer").exists());
        let out = w.gla.ok(&["clone", &w.url, ".", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let copied = v["packs"].as_u64().unwrap() as usize;
        let all = util::files_under(&w.gla.store().join("packs"))
            .iter()
            .filter(|p| p.file_name().unwrap().len() == 64)
            .count();
        assert!(arrived >= 2, "{kind:?}: {arrived}");
        assert_eq!(
            copied + arrived,
            all,
            "{kind:?}: {arrived} packs had arrived, the rerun copied {copied}, {all} in all"
        );
        assert_eq!(snapshot(&w.gla.data), snapshot(&w.camden.data));
        w.gla.ok(&["verify"]);
    }
}

/// gc keeps what a push still needs (young unreferenced packs), removes leftovers once they
/// are older than the grace period, and a push rerun after that sends them again.
#[test]
fn gc_keeps_young_packs_and_removes_old_leftovers() {
    for kind in KINDS {
        let w = world(kind);
        clone(&w.hackney, &w.url);
        for i in 0..3 {
            w.camden
                .write(&format!("care/gc{i}.bin"), &noise(12 << 20, 200 + i));
        }
        w.camden.ok(&["commit", "-m", "to be interrupted"]);
        let packs = "camden/packs/";
        let before = w.server.count(packs);
        let mut p = w.camden.spawn_paused(&["push"], "pack:1");
        kill9_running(&mut p);
        // The server may still finish an upload whose bytes had all arrived.
        let leftovers = settled(&w.server, packs) - before;
        assert!(leftovers >= 1);

        // Default grace: nothing young goes, with or without --dry-run.
        let out = w.camden.ok(&["gc", "origin", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["removed"].as_array().unwrap().len(), 0, "{out}");
        assert!(v["young"].as_u64().unwrap() >= 1, "{out}");
        // With no grace, the dry run lists exactly the unreferenced packs and keeps them.
        let out = w
            .camden
            .ok(&["gc", "origin", "--grace", "0s", "--dry-run", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let listed = v["removed"].as_array().unwrap().len();
        assert_eq!(listed, leftovers, "{kind:?}: {out}");
        assert_eq!(w.server.count(packs) - before, leftovers, "{kind:?}");
        w.camden.ok(&["gc", "origin", "--grace", "0s"]);
        assert_eq!(w.server.count(packs), before, "{kind:?}");
        // Nothing referenced went: readers are fine, and the push sends everything again.
        w.hackney.ok(&["pull"]);
        w.hackney.ok(&["verify"]);
        w.camden.ok(&["push"]);

        // gc running again and again while a push uploads: the push's packs are young.
        for i in 0..3 {
            w.camden
                .write(&format!("care/more{i}.bin"), &noise(12 << 20, 300 + i));
        }
        w.camden.ok(&["commit", "-m", "pushed during gc"]);
        let mut p = w.camden.spawn(&["push"]);
        let mut runs = 0;
        while p.try_wait().unwrap().is_none() || runs == 0 {
            w.camden.ok(&["gc", "origin"]);
            runs += 1;
        }
        assert!(p.wait().unwrap().success());
        w.hackney.ok(&["pull"]);
        w.hackney.ok(&["verify"]);
        assert_eq!(snapshot(&w.hackney.data), snapshot(&w.camden.data));
        // The dataset's own store: nothing unreferenced after clean commits.
        let out = w.camden.ok(&["gc", "--grace", "0s", "--dry-run", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["removed"].as_array().unwrap().len(), 0, "{out}");

        // A damaged version stops gc: its packs are unreferenced to a reader who cannot
        // read it, and must not go (it may be restored from another copy).
        let head = head(&w.camden);
        let name = format!("camden/versions/{head}");
        let good = w.server.objects(&name).remove(0).1;
        let mut bad = good.clone();
        let n = bad.len() / 2;
        bad[n] ^= 1;
        w.server.put(&name, &bad);
        // Old claims hold the version's bytes too (and would keep its packs): without them,
        // only the damaged bytes name its packs.
        for k in w.server.keys("camden/claims/") {
            w.server.delete(&k);
        }
        let count = w.server.count(packs);
        let err = w.camden.fails(&["gc", "origin", "--grace", "0s"], 2);
        assert!(
            err.contains("gc stopped, nothing was deleted"),
            "{kind:?}: {err}"
        );
        assert!(err.contains(&format!("versions/{head}")), "{kind:?}: {err}");
        assert_eq!(w.server.count(packs), count);
        // Forced, it keeps every pack the damaged bytes name: all of that version's.
        let out = w
            .camden
            .ok(&["gc", "origin", "--grace", "0s", "--force", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["removed"].as_array().unwrap().len(), 0, "{kind:?}: {out}");
        assert!(
            v["kept_for_unreadable"].as_u64().unwrap() >= 1,
            "{kind:?}: {out}"
        );
        assert_eq!(w.server.count(packs), count);
        w.server.put(&name, &good);
        w.hackney.ok(&["verify"]);
    }
}

/// The same on a folder: a damaged version in the dataset's own store stops gc.
#[test]
fn gc_of_a_folder_store_with_a_damaged_version_deletes_nothing() {
    let e = Env::new();
    e.write("a.bin", &noise(1 << 20, 1));
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    e.write("b.bin", &noise(1 << 20, 2));
    e.ok(&["commit", "-m", "v2"]);
    let head = head(&e);
    let path = e.store().join("versions").join(&head);
    let mut b = std::fs::read(&path).unwrap();
    let n = b.len() / 2;
    b[n] ^= 1;
    std::fs::write(&path, &b).unwrap();
    let packs = e.packs().len();
    let err = e.fails(&["gc", "--grace", "0s"], 2);
    assert!(err.contains("gc stopped, nothing was deleted"), "{err}");
    assert_eq!(e.packs().len(), packs);
    e.ok(&["gc", "--grace", "0s", "--force"]);
    assert_eq!(
        e.packs().len(),
        packs,
        "a pack the damaged version names went"
    );
}

fn refused(e: &Env, args: &[&str], what: &[&str]) -> String {
    let err = e.fails(args, 2);
    for w in what {
        assert!(err.contains(w), "coffer {args:?}: expected {w:?} in: {err}");
    }
    err
}

/// Wrong credentials, a missing bucket, an unreachable endpoint, another dataset, and a
/// remote tampered with, missing objects or rolled back: exit 2, a message naming the
/// remote, and the local dataset untouched.
#[test]
fn bad_remotes_are_refused_and_nothing_local_changes() {
    for kind in KINDS {
        let w = world(kind);
        clone(&w.hackney, &w.url);
        let hackney_before = (head(&w.hackney), snapshot(&w.hackney.data));

        // Unreachable endpoint, missing bucket.
        let mut off = org("camden", &w.server);
        off.vars.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
        off.vars
            .push(("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into()));
        std::fs::remove_dir(&off.data).unwrap();
        std::fs::create_dir(&off.data).unwrap();
        refused(&off, &["clone", &w.url, "."], &["cannot reach"]);
        assert!(!off.data.join(".coffer").exists());
        let missing = "s3://no-such-bucket/camden".to_string();
        refused(
            &w.hackney,
            &["clone", &missing, "elsewhere"],
            &["no-such-bucket", "does not exist"],
        );
        w.camden.ok(&["remote", "add", "nobucket", &missing]);
        refused(
            &w.camden,
            &["push", "nobucket"],
            &["remote nobucket", "does not exist"],
        );

        // Wrong credentials (moto accepts any; rclone checks them).
        if kind == Kind::Rclone {
            let mut bad = org("hackney", &w.server);
            bad.id = w.hackney.id.clone();
            bad.vars.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
            bad.vars
                .push(("AWS_SECRET_ACCESS_KEY".into(), "wrong".into()));
            refused(
                &bad,
                &["clone", &w.url, "."],
                &["access denied", "AWS_SECRET_ACCESS_KEY"],
            );
            let mut cam = w.camden.coffer(&["push"]);
            cam.env("AWS_SECRET_ACCESS_KEY", "wrong");
            let out = cam.output().unwrap();
            assert_eq!(out.status.code(), Some(2));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("remote origin") && err.contains("access denied"),
                "{err}"
            );
        }

        // Another dataset pushed to the same place.
        w.gla.write("x.csv", b"x\n");
        w.gla.ok(&["init"]);
        w.gla.ok(&["commit", "-m", "gla's own"]);
        w.gla.ok(&["remote", "add", "origin", &w.url]);
        refused(&w.gla, &["push"], &["remote origin", "different dataset"]);
        refused(&w.gla, &["fetch"], &["different dataset"]);

        // Camden pushes a second version; each kind of damage is refused by Hackney's pull.
        w.camden
            .write("schools/places.csv", b"school,places\nA,99\n");
        w.camden.ok(&["commit", "-m", "second"]);
        w.camden.ok(&["push"]);
        let v2 = head(&w.camden);
        let v2_name = format!("camden/versions/{v2}");
        let v2_version = w.server.objects(&v2_name).remove(0).1;
        let old_packs: BTreeSet<String> = util::files_under(&w.hackney.store().join("packs"))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let new_pack = w
            .server
            .objects("camden/packs/")
            .into_iter()
            .find(|(k, _)| !old_packs.contains(k.rsplit('/').next().unwrap()))
            .unwrap();
        let unchanged = |why: &str| {
            assert_eq!(
                (head(&w.hackney), snapshot(&w.hackney.data)),
                hackney_before,
                "{kind:?}: {why}"
            );
            w.hackney.ok(&["verify"]);
        };

        let mut flipped = new_pack.1.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 1;
        w.server.put(&new_pack.0, &flipped);
        let pack_short = &new_pack.0.rsplit('/').next().unwrap()[..12];
        refused(
            &w.hackney,
            &["pull"],
            &["remote origin", "altered", pack_short],
        );
        unchanged("tampered pack");

        w.server.delete(&new_pack.0);
        refused(
            &w.hackney,
            &["pull"],
            &["remote origin", "missing from the remote", pack_short],
        );
        unchanged("deleted pack");
        w.server.put(&new_pack.0, &new_pack.1);

        let mut forged = v2_version.clone();
        let n = forged.len() - 10;
        forged[n] ^= 1;
        w.server.put(&v2_name, &forged);
        // A version Hackney never saw that does not open is junk, not history: ignored and
        // reported by name, and the pull goes on (spec §11.1).
        let out = w.hackney.coffer(&["pull"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{kind:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("warning: ignored version {}", &v2[..12]))
                && err.contains("does not hash to its name (rule object-name)"),
            "{kind:?}: {err}"
        );
        unchanged("tampered version");
        w.server.put(&v2_name, &v2_version);

        // Hackney takes v2; then v2 is overwritten with garbage: a head Hackney saw cannot be
        // ignored as junk (that would be a silent rollback).
        w.hackney.ok(&["pull"]);
        assert_eq!(head(&w.hackney), v2);
        w.server.put(&v2_name, b"garbage over a head");
        let err = refused(&w.hackney, &["fetch"], &["remote origin", "was altered"]);
        assert!(err.contains(&v2), "{err}");
        w.server.put(&v2_name, &v2_version);
        // Then the remote is rolled back to v1.
        w.server.delete(&v2_name);
        for e in [&w.hackney, &w.camden] {
            let err = refused(e, &["fetch"], &["remote origin", "rolled back"]);
            assert!(err.contains(&v2[..12]), "{err}");
        }
        refused(&w.camden, &["push"], &["rolled back"]);
        assert_eq!(head(&w.hackney), v2);
        w.hackney.ok(&["verify"]);
    }
}

/// `clone --path` copies no packs and reads only what the folder's files need: byte ranges
/// on moto (far less than the dataset); whole packs on rclone, which ignores ranges. `cat`
/// reads any file of any version the same way; pull keeps the clone partial.
#[test]
fn partial_clone_and_cat_read_only_what_they_need() {
    for kind in KINDS {
        let w = world(kind);
        for i in 0..3 {
            w.camden
                .write(&format!("care/p{i}.bin"), &noise(10 << 20, 400 + i));
        }
        w.camden.ok(&["commit", "-m", "large care data"]);
        w.camden.ok(&["push"]);
        let out = w
            .hackney
            .ok(&["clone", &w.url, ".", "--path", "schools", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["packs"], 0, "{out}");
        let received = v["received"].as_u64().unwrap();
        let full = snapshot(&w.camden.data);
        let want: Vec<_> = full
            .iter()
            .filter(|(p, _, _)| p == "schools" || p.starts_with("schools/"))
            .cloned()
            .collect();
        assert_eq!(snapshot(&w.hackney.data), want, "{kind:?}");
        if kind == Kind::Moto {
            assert!(
                received < 2 << 20,
                "{kind:?}: a partial clone received {received} bytes"
            );
            // Only the packs of trees are copied whole (they are small and of their own).
            let local: u64 = util::files_under(&w.hackney.store().join("packs"))
                .iter()
                .map(|p| p.metadata().unwrap().len())
                .sum();
            assert!(local < 64 << 10, "{kind:?}: {local} bytes of packs copied");
        }
        // Any file of any version, outside the folder too.
        let out = w
            .hackney
            .coffer(&["cat", "HEAD:care/p1.bin"])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, noise(10 << 20, 401), "{kind:?}");
        let out = w.hackney.ok(&["cat", "HEAD~1:schools/places.csv"]);
        assert!(out.contains("MARKER-PLAINTEXT,30"), "{out}");
        w.hackney.fails(&["cat", "HEAD:nothing/here.csv"], 2);
        w.hackney.fails(&["cat", "HEAD"], 2);
        refused(&w.hackney, &["commit", "-m", "x"], &["partial clone"]);
        assert!(w.hackney.ok(&["status"]).contains("clean"));

        // Camden changes inside and outside the folder; the partial clone follows.
        w.camden
            .write("schools/places.csv", b"school,places\nB,12\n");
        w.camden.write("care/p0.bin", b"replaced");
        w.camden.ok(&["commit", "-m", "third"]);
        w.camden.ok(&["push"]);
        w.hackney.ok(&["pull"]);
        assert_eq!(
            std::fs::read(w.hackney.data.join("schools/places.csv")).unwrap(),
            b"school,places\nB,12\n"
        );
        assert!(!w.hackney.data.join("care").exists());
        w.hackney.ok(&["verify"]);
    }
}

/// Both sides changed: pull merges by path. Different files both land; the same file changed
/// on both sides keeps the puller's and is reported, the other side's stays readable; the
/// merge goes back up and the other side fast-forwards to it. A dirty folder is refused.
#[test]
fn pull_merges_both_sides_and_reports_conflicts() {
    for kind in KINDS {
        let w = world(kind);
        clone(&w.gla, &w.url);
        w.gla.write("gla-only.csv", b"from the GLA\n");
        w.gla.write("schools/places.csv", b"school,places\nGLA,1\n");
        w.gla.ok(&["commit", "-m", "GLA edits"]);
        w.gla.ok(&["push"]);
        let theirs = head(&w.gla);
        w.camden.write("camden-only.csv", b"from Camden\n");
        w.camden
            .write("schools/places.csv", b"school,places\nCamden,2\n");
        w.camden.ok(&["commit", "-m", "Camden edits"]);
        refused(&w.camden, &["push"], &["run `coffer pull origin`"]);

        w.camden.write("uncommitted.txt", b"x");
        refused(&w.camden, &["pull"], &["uncommitted changes"]);
        std::fs::remove_file(w.camden.data.join("uncommitted.txt")).unwrap();

        let out = w.camden.ok(&["pull", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["merges"][0]["conflicts"],
            serde_json::json!(["schools/places.csv"]),
            "{out}"
        );
        assert_eq!(v["merges"][0]["theirs"], theirs.as_str());
        let read = |e: &Env, p: &str| std::fs::read(e.data.join(p)).unwrap();
        assert_eq!(read(&w.camden, "gla-only.csv"), b"from the GLA\n");
        assert_eq!(read(&w.camden, "camden-only.csv"), b"from Camden\n");
        assert_eq!(
            read(&w.camden, "schools/places.csv"),
            b"school,places\nCamden,2\n"
        );
        let other = w
            .camden
            .ok(&["cat", &format!("{theirs}:schools/places.csv")]);
        assert_eq!(other, "school,places\nGLA,1\n");
        assert!(w.camden.ok(&["status"]).contains("clean"));
        let log: serde_json::Value =
            serde_json::from_str(&w.camden.ok(&["log", "--json"])).unwrap();
        assert_eq!(log[0]["parents"].as_array().unwrap().len(), 2);
        w.camden.ok(&["verify"]);

        w.camden.ok(&["push"]);
        w.gla.ok(&["pull"]);
        assert_eq!(head(&w.gla), head(&w.camden));
        assert_eq!(snapshot(&w.gla.data), snapshot(&w.camden.data));
    }
}

/// Remote settings: bad names, URLs and options are refused before anything is contacted,
/// secrets never reach `.coffer/`, and commands without a remote say how to add one.
#[test]
fn remote_settings_and_secrets() {
    let server = Server::start(Kind::Moto);
    let e = org("camden", &server);
    e.write("a.csv", b"a\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "one"]);
    refused(&e, &["push"], &["no remotes", "coffer remote add"]);
    refused(
        &e,
        &["remote", "add", "bad/name", "s3://b/p"],
        &["remote name"],
    );
    refused(&e, &["remote", "add", "x", "s3://"], &["no bucket"]);
    refused(
        &e,
        &["remote", "add", "x", "gs://bucket/p"],
        &["not supported"],
    );
    refused(
        &e,
        &[
            "remote",
            "add",
            "x",
            "s3://b/p",
            "--option",
            "secret_access_key=hunter2",
        ],
        &["secret", "environment"],
    );
    refused(
        &e,
        &["remote", "add", "x", "s3://b/p", "--option", "colour=blue"],
        &["unknown store option"],
    );
    e.ok(&[
        "remote",
        "add",
        "origin",
        &server.url("p"),
        "--option",
        "region=us-east-1",
    ]);
    refused(&e, &["remote", "add", "origin", "s3://b/q"], &["exists"]);
    e.ok(&["push"]);
    refused(&e, &["push", "nowhere"], &["no remote named nowhere"]);
    let list: serde_json::Value =
        serde_json::from_str(&e.ok(&["remote", "list", "--json"])).unwrap();
    assert_eq!(list["origin"]["conditional"], true);
    assert_eq!(list["origin"]["options"]["region"], "us-east-1");
    // The credentials in the environment appear nowhere under .coffer/.
    let secret = e
        .vars
        .iter()
        .find(|(k, _)| k == "AWS_SECRET_ACCESS_KEY")
        .unwrap()
        .1
        .clone();
    for f in util::files_under(&e.data.join(".coffer")) {
        let b = std::fs::read(&f).unwrap();
        assert!(
            !b.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{}",
            f.display()
        );
    }
    e.ok(&["remote", "remove", "origin"]);
    refused(
        &e,
        &["remote", "remove", "origin"],
        &["no remote named origin"],
    );
}

/// Two machines of the same owner change members and push at the same moment. On a store that
/// honours conditional writes exactly one policy gets in; the other machine is told to pull,
/// its fetch refuses the diverged chain and says how to recover, and the remote's chain stays
/// whole for everyone. (On a store that ignores conditions both may land and fork the chain:
/// verify reports the fork; see the README's "Not yet".)
#[test]
fn concurrent_share_changes_on_a_conditional_store() {
    let w = world(Kind::Moto);
    let mut second = org("camden-laptop", &w.server);
    second.id = w.camden.id.clone();
    clone(&second, &w.url);
    let x = org("islington", &w.server);
    let y = org("lambeth", &w.server);
    w.camden
        .ok(&["share", "add", &x.public(), "--name", "Islington"]);
    second.ok(&["share", "add", &y.public(), "--name", "Lambeth"]);
    let mut a = w.camden.spawn(&["push"]);
    let mut b = second.spawn(&["push"]);
    let (ra, rb) = (a.wait().unwrap(), b.wait().unwrap());
    assert_eq!(
        [ra.success(), rb.success()].iter().filter(|s| **s).count(),
        1,
        "exactly one share change gets in"
    );
    let loser = if ra.success() { &second } else { &w.camden };
    refused(
        loser,
        &["fetch"],
        &["two share changes", "clone the remote again"],
    );
    clone(&w.hackney, &w.url);
    w.hackney.ok(&["verify"]);
    let members = w.hackney.ok(&["share", "list"]);
    assert!(
        members.contains("Islington") != members.contains("Lambeth"),
        "{members}"
    );
}

/// Copy the objects of `e`'s store that the bucket lacks straight into it (what a push does
/// without its rules, or what lands when two pushes race on a store that ignores conditions).
fn sneak(w: &World, e: &Env, only: &str) {
    let have: BTreeSet<String> = w.server.keys("camden/").into_iter().collect();
    let store = e.store();
    for f in util::files_under(&store.join(only)) {
        let rel = f
            .strip_prefix(&store)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let key = format!("camden/{rel}");
        if !have.contains(&key) {
            w.server.put(&key, &std::fs::read(&f).unwrap());
        }
    }
}

/// On a store that ignores conditional writes, a withdrawal and the withdrawn writer's push
/// can both land. The withdrawn writer's version is then refused by everyone; a remaining
/// writer who had already pulled it and committed on top has its version made again by its
/// next pull, without the refused parent; nothing of the remaining writer's is lost and the
/// history verifies clean for everyone.
#[test]
fn a_withdrawal_racing_the_withdrawn_writers_push_on_rclone() {
    let w = world(Kind::Rclone);
    let lambeth = org("lambeth", &w.server);
    w.camden.ok(&[
        "share",
        "add",
        &lambeth.public(),
        "--name",
        "Lambeth",
        "--role",
        "writer",
    ]);
    w.camden.ok(&["push"]);
    for e in [&w.gla, &lambeth, &w.hackney] {
        clone(e, &w.url);
    }
    // Both sides make their change from the same state.
    w.camden.ok(&["share", "remove", "GLA"]);
    w.gla
        .write("gla.csv", b"written as the withdrawal happened\n");
    w.gla.ok(&["commit", "-m", "GLA, racing"]);
    let raced = head(&w.gla);
    // The GLA's push lands first; Lambeth pulls it and commits on top.
    sneak(&w, &w.gla, "packs");
    sneak(&w, &w.gla, "versions");
    lambeth.ok(&["pull"]);
    assert_eq!(head(&lambeth), raced);
    lambeth.write("lambeth.csv", b"Lambeth's own work\n");
    lambeth.ok(&["commit", "-m", "Lambeth on top"]);
    let lambeth_version = head(&lambeth);
    // Camden's withdrawal lands too (its claim was not refused: the store ignores them).
    sneak(&w, &w.camden, "policy");

    // Hackney, a reader, takes the withdrawal and refuses the GLA's version, by name.
    let f: serde_json::Value = serde_json::from_str(&w.hackney.ok(&["fetch", "--json"])).unwrap();
    assert!(
        f["refused"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x[0] == raced.as_str() && x[1]["rule"] == "version-withdrawn-writer"),
        "{f:#}"
    );
    // Lambeth's push is refused (the remote moved); its pull makes its version again on the
    // history the withdrawal acknowledged, leaving out the GLA's.
    let out = lambeth.coffer(&["push"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let p: serde_json::Value = serde_json::from_str(&lambeth.ok(&["pull", "--json"])).unwrap();
    let rebased = &p["rebased"];
    assert_eq!(rebased["dropped"][0][0], raced.as_str(), "{p:#}");
    assert_eq!(rebased["versions"][0][0], lambeth_version.as_str(), "{p:#}");
    let remade = rebased["versions"][0][1].as_str().unwrap().to_string();
    assert_eq!(head(&lambeth), remade);
    lambeth.ok(&["verify"]);
    lambeth.ok(&["push"]);
    // Everyone converges on Lambeth's re-made version; the GLA's stays refused.
    for e in [&w.camden, &w.hackney] {
        e.ok(&["pull"]);
        assert_eq!(head(e), remade);
        assert_eq!(
            std::fs::read(e.data.join("lambeth.csv")).unwrap(),
            b"Lambeth's own work\n"
        );
        e.ok(&["verify"]);
    }
    let log: serde_json::Value = serde_json::from_str(&w.camden.ok(&["log", "--json"])).unwrap();
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["id"] != raced.as_str()));
    let out = w.gla.coffer(&["pull"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("rule version-withdrawn-writer"), "{err}");
}

/// Two admins change members at the same moment on a store that ignores conditional writes:
/// both policies land and fork the chain. Every reader (the two admins included) sees the
/// fork the same way: both sides refused and named by verify, nobody can commit or change
/// members, versions made before stay readable, and a withdrawal on either side applies.
#[test]
fn two_admins_at_once_fork_the_chain_on_rclone() {
    let w = world(Kind::Rclone);
    let brent = org("brent", &w.server);
    let x = org("islington", &w.server);
    w.camden.ok(&[
        "share",
        "add",
        &brent.public(),
        "--name",
        "Brent",
        "--role",
        "admin",
    ]);
    w.camden.ok(&["push"]);
    for e in [&brent, &w.hackney, &w.gla] {
        clone(e, &w.url);
    }
    // From the same state: Camden adds Islington, Brent withdraws the GLA.
    w.camden
        .ok(&["share", "add", &x.public(), "--name", "Islington"]);
    brent.ok(&["share", "remove", "GLA"]);
    sneak(&w, &w.camden, "policy");
    sneak(&w, &brent, "policy");
    let camden_side = w.camden.ok(&["share", "list", "--json"]);
    let camden_side: serde_json::Value = serde_json::from_str(&camden_side).unwrap();
    for e in [&w.camden, &brent, &w.hackney] {
        e.coffer(&["fetch"]).assert().success();
        let r: serde_json::Value =
            serde_json::from_slice(&e.coffer(&["verify", "--json"]).output().unwrap().stdout)
                .unwrap();
        let forks = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "policy-fork")
            .count();
        assert_eq!(forks, 2, "{r:#}");
        // Nobody commits while the chain is forked.
        e.write("x.csv", b"x\n");
        let out = e
            .coffer(&["commit", "-m", "during the fork"])
            .output()
            .unwrap();
        if e.data != w.hackney.data {
            assert_eq!(out.status.code(), Some(2));
            assert!(String::from_utf8_lossy(&out.stderr).contains("nobody can commit"));
        }
        std::fs::remove_file(e.data.join("x.csv")).unwrap();
    }
    // The GLA's write access is gone already (Brent's side withdrew it), and its versions are
    // refused if it writes into the bucket anyway.
    w.gla.write("g.csv", b"g\n");
    w.gla.ok(&["commit", "-m", "GLA during the fork"]);
    sneak(&w, &w.gla, "packs");
    sneak(&w, &w.gla, "versions");
    let f: serde_json::Value = serde_json::from_str(&w.hackney.ok(&["fetch", "--json"])).unwrap();
    assert!(
        f["refused"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x[1]["rule"] == "version-withdrawn-writer"),
        "{f:#}"
    );
    // What was committed before stays readable.
    let out = w.hackney.tmp.path().join("before");
    w.hackney
        .ok(&["checkout", "HEAD", "--to", out.to_str().unwrap()]);
    assert!(camden_side["members"].as_array().unwrap().len() > 3);

    // The repair: a reader may not; an owner does, and every reader accepts it alike.
    let err = w.hackney.fails(&["share", "repair"], 2);
    assert!(err.contains("only an owner or admin"), "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&w.camden.ok(&["share", "repair", "--json"])).unwrap();
    // Brent's side withdrew the GLA (epoch 1): the repair starts epoch 2, unique in the chain.
    assert_eq!(r["epoch"], 2, "{r:#}");
    let repair = r["policy"].as_str().unwrap().to_string();
    w.camden.ok(&["push"]);
    for e in [&w.camden, &brent, &w.hackney] {
        e.ok(&["pull"]);
        let out = e.coffer(&["verify", "--json"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{v:#}");
        let repaired = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "policy-fork-repaired" && f["level"] == "info")
            .count();
        assert_eq!(repaired, 2, "{v:#}");
        let list: serde_json::Value =
            serde_json::from_str(&e.ok(&["share", "list", "--json"])).unwrap();
        assert_eq!(list["policy"], repair.as_str());
        let members: Vec<(String, String)> = list["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["label"].as_str().unwrap().to_string(),
                    m["role"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        // Camden's side added Islington; Brent's withdrew the GLA: both changes hold.
        assert_eq!(
            members,
            [
                ("Brent", "admin"),
                ("Hackney", "reader"),
                ("Islington", "reader"),
                ("camden", "owner")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string())),
            "{list:#}"
        );
    }
    let err = w.camden.fails(&["share", "repair"], 2);
    assert!(err.contains("there is no fork to repair"), "{err}");
    // Commits work again; the newcomer reads them, the withdrawn GLA does not.
    w.camden.write("after.csv", b"after the repair\n");
    w.camden.ok(&["commit", "-m", "after the repair"]);
    w.camden.ok(&["push"]);
    w.hackney.ok(&["pull"]);
    assert_eq!(
        std::fs::read(w.hackney.data.join("after.csv")).unwrap(),
        b"after the repair\n"
    );
    clone(&x, &w.url);
    assert_eq!(
        std::fs::read(x.data.join("after.csv")).unwrap(),
        b"after the repair\n"
    );
    x.ok(&["verify"]);
    let err = w.gla.fails(&["pull"], 2);
    assert!(err.contains("withdrew"), "{err}");
}

/// An owner who is up to date never fetches what it already holds, so damage to those
/// objects on the remote goes unseen by fetch: `verify --remote` reads everything again.
#[test]
fn verify_remote_rereads_what_this_dataset_already_holds() {
    for kind in KINDS {
        let w = world(kind);
        let report = |e: &Env| -> (i32, serde_json::Value) {
            let out = e
                .coffer(&["verify", "--remote", "origin", "--json"])
                .output()
                .unwrap();
            (
                out.status.code().unwrap(),
                serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr))),
            )
        };
        let (code, r) = report(&w.camden);
        assert_eq!(code, 0, "{kind:?}: {r:#}");
        assert!(r["source"].as_str().unwrap().starts_with("remote origin"));
        // The smallest pack (the helper sends bytes on a command line).
        let (key, pack) = w
            .server
            .objects("camden/packs/")
            .into_iter()
            .min_by_key(|(_, b)| b.len())
            .unwrap();
        let mut bad = pack.clone();
        let n = bad.len() / 2;
        bad[n] ^= 1;
        w.server.put(&key, &bad);
        w.server.put("camden/versions/zz-junk", b"not a version");
        let junk = "ab".repeat(32);
        w.server.put(
            &format!("camden/versions/{junk}"),
            b"junk named like a version",
        );
        // fetch is content: it holds that pack already.
        w.camden.ok(&["fetch"]);
        let (code, r) = report(&w.camden);
        assert_eq!(code, 1, "{kind:?}: {r:#}");
        let id = key.rsplit('/').next().unwrap();
        let findings = r["findings"].as_array().unwrap();
        assert!(
            findings.iter().any(|f| f["id"] == id
                && f["level"] == "error"
                && f["message"]
                    .as_str()
                    .unwrap()
                    .contains("does not hash to its name")),
            "{kind:?}: {r:#}"
        );
        assert!(
            findings.iter().any(|f| f["id"] == junk.as_str()
                && f["level"] == "warning"
                && f["rule"] == "object-name"),
            "{kind:?}: {r:#}"
        );
        // A version this dataset saw there, deleted: a rollback, named.
        let head = head(&w.camden);
        let vkey = format!("camden/versions/{head}");
        let v = w.server.objects(&vkey).remove(0).1;
        w.server.delete(&vkey);
        let (_, r) = report(&w.camden);
        assert!(
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == head.as_str()
                    && f["message"].as_str().unwrap().contains("is gone")),
            "{kind:?}: {r:#}"
        );
        w.server.put(&vkey, &v);
        w.server.put(&key, &pack);
        w.server.delete("camden/versions/zz-junk");
        w.server.delete(&format!("camden/versions/{junk}"));
        let (code, r) = report(&w.camden);
        assert_eq!(code, 0, "{kind:?}: {r:#}");
    }
}

/// Whoever can write to the bucket can add files; none of them stops a member. Planted on a
/// real S3 server: garbage and misnamed objects under `versions/` and `policy/`, a policy and
/// a version signed by a stranger, and a claim at the name of the next push's state.
#[test]
fn junk_in_the_bucket_stops_no_member() {
    use coffer::id::Id;
    use util::forge::{ident, Forge};
    for kind in KINDS {
        let w = world(kind);
        clone(&w.hackney, &w.url);
        clone(&w.gla, &w.url);
        w.hackney.new_identity("stranger");
        // Objects made in a scratch copy, then written straight into the bucket.
        let sdir = w.hackney.tmp.path().join("scratch");
        w.hackney.ok(&[
            "clone",
            &w.url,
            sdir.to_str().unwrap(),
            "--expect-id",
            &dataset_id(&w.camden),
        ]);
        let f = Forge::open(&sdir);
        let s = ident(w.hackney.tmp.path(), "stranger");
        let v = f.version(&s, |_| {});
        let p = f.policy(&s, |p, _| p.name = "taken over".into());
        let sv = f.ds.store.get(&format!("versions/{v}")).unwrap().unwrap();
        let sp = f.ds.store.get(&format!("policy/{p}")).unwrap().unwrap();
        w.server.put(&format!("camden/versions/{v}"), &sv);
        w.server.put(&format!("camden/policy/{p}"), &sp);
        let garbage = b"not a coffer object".to_vec();
        let g = Id::of_stored(&garbage);
        w.server.put(&format!("camden/versions/{g}"), &garbage);
        w.server.put(&format!("camden/policy/{g}"), &garbage);
        w.server
            .put(&format!("camden/versions/{}", "cd".repeat(32)), &sv);
        // The next push builds on the policy in force and the current head: plant its claim.
        let h = f.hist();
        let state = coffer::remote::claim::state_id(
            &f.ds.id,
            &h.chain.tip().0,
            &[Id::from_hex(&head(&w.camden)).unwrap()],
        );
        w.server.put(&format!("camden/claims/{state}"), b"planted");

        // Every member goes on: clone, commit, push, pull.
        let fresh = w.hackney.tmp.path().join("fresh");
        w.hackney.ok(&["clone", &w.url, fresh.to_str().unwrap()]);
        w.camden
            .write("schools/places.csv", b"school,places\nA,31\n");
        w.camden.ok(&["commit", "-m", "after the junk"]);
        w.camden.ok(&["push"]);
        let after = head(&w.camden);
        for e in [&w.hackney, &w.gla] {
            e.ok(&["pull"]);
            assert_eq!(head(e), after, "{kind:?}");
            e.ok(&["verify"]);
        }
        w.gla.write("gla.csv", b"g\n");
        w.gla.ok(&["commit", "-m", "GLA"]);
        w.gla.ok(&["push"]);
        w.camden.ok(&["pull"]);
        // The planted claim did not stop the push; a store that honours conditions kept it
        // (one that ignores them let the push's own claim replace it).
        if kind == Kind::Moto {
            assert_eq!(
                w.server
                    .objects(&format!("camden/claims/{state}"))
                    .remove(0)
                    .1,
                b"planted"
            );
        }
        // verify of the bucket lists every piece of junk, as warnings, and nothing worse.
        let out = w
            .camden
            .coffer(&["verify", "--remote", "origin", "--json"])
            .output()
            .unwrap();
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let flagged: BTreeSet<String> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["level"] == "warning")
            .map(|f| f["id"].as_str().unwrap_or("").to_string())
            .collect();
        for id in [v.to_hex(), p.to_hex(), g.to_hex(), "cd".repeat(32)] {
            assert!(flagged.contains(&id), "{kind:?}: {id} not listed: {r:#}");
        }
        assert!(
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["level"] != "error"),
            "{kind:?}: {r:#}"
        );
    }
}

fn dataset_id(e: &Env) -> String {
    let c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.data.join(".coffer/config.json")).unwrap())
            .unwrap();
    c["dataset"].as_str().unwrap().to_string()
}
