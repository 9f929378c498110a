//! Remotes against real S3-compatible servers on 127.0.0.1 (moto, which honours conditional
//! writes, and `rclone serve s3`, which ignores them): push, clone, pull, concurrent pushes,
//! interrupted transfers, garbage, partial reads and bad input. Every test runs on both.

mod util;

use std::collections::BTreeSet;
use util::s3::{Kind, Server, KINDS};
use util::{noise, snapshot, Env};

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
        let out = w.camden.ok(&["push"]);
        assert!(out.contains("1 version(s)"), "{out}");
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
        let rounds = 8;
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
                    let _ = e.coffer(&["push"]).output().unwrap();
                }
                if head(&w.camden) == head(&w.gla) {
                    break;
                }
            }
            assert_eq!(head(&w.camden), head(&w.gla), "{kind:?} round {round}");
        }
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
