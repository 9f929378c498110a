//! `coffer audit`: an auditor with only a URL (and the dataset id) checks a dataset on a real
//! S3 server (moto) with no identity and no membership, writing nothing there: a clean store
//! is clean; junk, a withdrawn writer's version and an altered pack are findings naming the
//! object and the rule; a version deleted since the last audit is a rollback.

mod util;

use serde_json::Value;
use std::collections::BTreeSet;
use util::s3::{Kind, Server};
use util::*;

fn org(name: &str, server: &Server) -> Env {
    let mut e = Env::named(name);
    e.vars = server.env();
    e
}

/// The auditor: no identity file at all, its own config folder (its memory).
fn auditor(server: &Server) -> Env {
    let mut e = org("auditor", server);
    let missing = e.tmp.path().join("no-identity-here");
    e.vars
        .push(("COFFER_IDENTITY".into(), missing.display().to_string()));
    e
}

fn audit(e: &Env, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["audit"];
    all.extend(args);
    all.push("--json");
    let out = e.coffer(&all).output().unwrap();
    let code = out.status.code().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "coffer {all:?} exit {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, v)
}

fn has(r: &Value, id: &str, rule: Option<&str>, level: &str) -> bool {
    r["findings"].as_array().unwrap().iter().any(|f| {
        f["id"].as_str().is_some_and(|i| i.starts_with(id))
            && f["level"] == level
            && rule.is_none_or(|rule| f["rule"] == rule)
    })
}

fn sneak(server: &Server, e: &Env, only: &str) {
    let have: BTreeSet<String> = server.keys("camden/").into_iter().collect();
    let store = e.store();
    for f in files_under(&store.join(only)) {
        let rel = f
            .strip_prefix(&store)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let key = format!("camden/{rel}");
        if !have.contains(&key) {
            server.put(&key, &std::fs::read(&f).unwrap());
        }
    }
}

#[test]
fn an_auditor_without_keys_audits_a_bucket() {
    let server = Server::start(Kind::Moto);
    let camden = org("camden", &server);
    let gla = org("gla", &server);
    let url = server.url("camden");
    camden.write("schools/places.csv", b"school,places\nA,30\n");
    camden.write("care/big.bin", &noise(1 << 20, 1));
    camden.ok(&["init"]);
    camden.ok(&["commit", "-m", "March"]);
    camden.ok(&[
        "share",
        "add",
        &gla.public(),
        "--name",
        "GLA",
        "--role",
        "writer",
    ]);
    camden.ok(&["remote", "add", "origin", &url]);
    camden.ok(&["push"]);
    let id = std::fs::read_to_string(camden.data.join(".coffer/config.json")).unwrap();
    let dataset: Value = serde_json::from_str(&id).unwrap();
    let dataset = dataset["dataset"].as_str().unwrap().to_string();
    gla.ok(&["clone", &url, "."]);

    // Clean, keyless, and nothing written to the bucket.
    let a = auditor(&server);
    let before = server.objects("camden/");
    let (code, r) = audit(&a, &[&url, "--expect-id", &dataset]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["decrypted"], false);
    assert_eq!(r["versions"], 1);
    assert_eq!(r["dataset"], dataset.as_str());
    assert_eq!(
        server.objects("camden/"),
        before,
        "the audit wrote to the bucket"
    );

    // Camden withdraws the GLA and commits; the GLA writes a version into the bucket anyway.
    camden.ok(&["share", "remove", "GLA"]);
    camden.write("schools/places.csv", b"school,places\nA,31\n");
    camden.ok(&["commit", "-m", "April"]);
    camden.ok(&["push"]);
    let v2 = std::fs::read_to_string(camden.data.join(".coffer/refs/main"))
        .unwrap()
        .trim()
        .to_string();
    gla.write("gla.csv", b"late\n");
    gla.ok(&["commit", "-m", "after withdrawal"]);
    let late = std::fs::read_to_string(gla.data.join(".coffer/refs/main"))
        .unwrap()
        .trim()
        .to_string();
    sneak(&server, &gla, "packs");
    sneak(&server, &gla, "versions");
    // Junk anyone could add.
    server.put("camden/versions/zz-junk", b"not a version");
    let (code, r) = audit(&a, &[&url]);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        has(&r, &late, Some("version-withdrawn-writer"), "warning"),
        "{r:#}"
    );
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["message"].as_str().unwrap().contains("zz-junk")),
        "{r:#}"
    );
    server.delete("camden/versions/zz-junk");
    server.delete(&format!("camden/versions/{late}"));

    // An altered pack of the history (Camden's smallest): an error naming it.
    let (key, pack) = server
        .objects("camden/packs/")
        .into_iter()
        .filter(|(k, _)| {
            camden
                .packs()
                .iter()
                .any(|p| k.ends_with(&*p.file_name().unwrap().to_string_lossy()))
        })
        .min_by_key(|(_, b)| b.len())
        .unwrap();
    let mut bad = pack.clone();
    let n = bad.len() / 2;
    bad[n] ^= 1;
    server.put(&key, &bad);
    let pid = key.rsplit('/').next().unwrap().to_string();
    let (code, r) = audit(&a, &[&url]);
    assert_eq!(code, 1, "{r:#}");
    assert!(has(&r, &pid, None, "error"), "{r:#}");
    // --quick reads trailers only: it cannot see a byte changed mid-pack, and says so.
    let (code, r) = audit(&a, &[&url, "--quick"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["quick"], true, "{r:#}");
    assert!(r["bytes"].as_u64().unwrap() < 1000, "{r:#}");
    server.put(&key, &pack);
    let (code, r) = audit(&a, &[&url]);
    assert_eq!(code, 0, "{r:#}");

    // The newest version deleted since the last audit: a rollback, named.
    server.delete(&format!("camden/versions/{v2}"));
    let (code, r) = audit(&a, &[&url]);
    assert_eq!(code, 1, "{r:#}");
    assert!(has(&r, &v2, None, "error"), "{r:#}");
    let msg = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == v2.as_str())
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("your last audit"), "{msg}");
    // Still reported next time: the memory keeps the longer view.
    let (code, _) = audit(&a, &[&url]);
    assert_eq!(code, 1);
}

#[test]
fn an_auditor_is_told_what_it_cannot_audit() {
    let server = Server::start(Kind::Moto);
    let a = auditor(&server);
    // No dataset there.
    let err = a.fails(&["audit", &server.url("nothing")], 2);
    assert!(err.contains("holds no valid dataset"), "{err}");
    // Two datasets in one prefix: named, and --expect-id picks one.
    let mut ids = Vec::new();
    for name in ["camden", "impostor"] {
        let e = org(name, &server);
        e.write("a.csv", b"a\n");
        e.ok(&["init"]);
        e.ok(&["commit", "-m", "v1"]);
        e.ok(&["remote", "add", "origin", &server.url("shared")]);
        let cfg: Value =
            serde_json::from_slice(&std::fs::read(e.data.join(".coffer/config.json")).unwrap())
                .unwrap();
        ids.push(cfg["dataset"].as_str().unwrap().to_string());
        // The second push refuses another dataset's store; copy its objects in directly.
        if name == "camden" {
            e.ok(&["push"]);
        } else {
            let store = e.store();
            for f in files_under(&store) {
                let rel = f
                    .strip_prefix(&store)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if rel.starts_with("policy/")
                    || rel.starts_with("versions/")
                    || rel.starts_with("packs/")
                {
                    server.put(&format!("shared/{rel}"), &std::fs::read(&f).unwrap());
                }
            }
        }
    }
    let err = a.fails(&["audit", &server.url("shared")], 2);
    assert!(
        err.contains("holds 2 datasets") && err.contains(&ids[0]) && err.contains(&ids[1]),
        "{err}"
    );
    let (code, r) = audit(&a, &[&server.url("shared"), "--expect-id", &ids[0]]);
    assert_eq!(code, 1, "{r:#}"); // the impostor's genesis is listed as another dataset's
    assert!(has(&r, &ids[1], Some("genesis-other"), "warning"), "{r:#}");
    // An endpoint that does not answer: one line, exit 2, naming the source.
    let mut off = auditor(&server);
    off.vars.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    off.vars
        .push(("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:1".into()));
    let err = off.fails(&["audit", &server.url("shared"), "--expect-id", &ids[0]], 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("s3://"), "{err}");
}

/// `audit --html` writes one page a person reads: rendered by a real browser (Debian's
/// Chromium, headless), it shows the verdict, members, versions, readers and checkpoints of a
/// clean store, and the error naming the damaged pack of a tampered one. No scripts, nothing
/// fetched from the network; labels chosen by signers are escaped.
#[test]
fn the_audit_page_renders_in_a_browser() {
    let server = Server::start(Kind::Moto);
    let camden = org("camden", &server);
    let hackney = org("hackney", &server);
    let url = server.url("camden");
    camden.write("places.csv", b"school,places\nA,30\n");
    camden.write("big.bin", &noise(200_000, 3));
    camden.ok(&["init", "--name", "School places"]);
    camden.ok(&["commit", "-m", "March"]);
    camden.ok(&[
        "share",
        "add",
        &hackney.public(),
        "--name",
        "Hackney <b>&</b>",
    ]);
    camden.ok(&["remote", "add", "origin", &url]);
    camden.ok(&["push"]);
    let a = auditor(&server);
    let page = a.tmp.path().join("report.html");
    let out = a
        .coffer(&["audit", &url, "--html", page.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("<script") && !html.contains("http"),
        "{html}"
    );
    assert!(!html.contains("Hackney <b>"), "a label was not escaped");
    let dom = render_html(&page);
    for want in [
        "Verdict: CLEAN",
        "Audit of School places",
        "Members over time",
        "added Hackney &lt;b&gt;&amp;&lt;/b&gt; as reader",
        "Readers",
        "Checkpoints",
        "Findings (0 error(s), 0 warning(s)",
    ] {
        assert!(dom.contains(want), "{want:?} not on the page: {dom}");
    }

    // A pack of the history altered: the page says so, naming the pack.
    let (key, pack) = server
        .objects("camden/packs/")
        .into_iter()
        .min_by_key(|(_, b)| b.len())
        .unwrap();
    let mut bad = pack.clone();
    let n = bad.len() / 2;
    bad[n] ^= 1;
    server.put(&key, &bad);
    let pid = key.rsplit('/').next().unwrap();
    let out = a
        .coffer(&["audit", &url, "--html", page.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let dom = render_html(&page);
    assert!(dom.contains("Verdict: ERRORS"), "{dom}");
    assert!(
        dom.contains(&pid[..16]),
        "the damaged pack is not named: {dom}"
    );
    assert!(dom.contains("class=\"finding error\""), "{dom}");
}

/// Wrong credentials on a server that checks them (`rclone serve s3`): one line, exit 2,
/// naming the source and what to check; a bucket prefix holding another dataset than the
/// one pinned: refused, naming both.
#[test]
fn an_auditor_with_wrong_credentials_or_the_wrong_dataset_is_told_so() {
    let server = Server::start(Kind::Rclone);
    let camden = org("camden", &server);
    let url = server.url("camden");
    camden.write("a.csv", b"a\n");
    camden.ok(&["init"]);
    camden.ok(&["commit", "-m", "v1"]);
    camden.ok(&["remote", "add", "origin", &url]);
    camden.ok(&["push"]);
    let mut a = auditor(&server);
    a.vars.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    a.vars
        .push(("AWS_SECRET_ACCESS_KEY".into(), "not-the-secret".into()));
    let err = a.fails(&["audit", &url], 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(&url) || err.contains("s3://"), "{err}");
    assert!(
        err.to_lowercase().contains("credential") || err.contains("denied") || err.contains("403"),
        "{err}"
    );
    let other = "ab".repeat(32);
    let err = auditor(&server).fails(&["audit", &url, "--expect-id", &other], 2);
    assert!(
        err.contains("does not hold dataset") && err.contains(&other[..12]),
        "{err}"
    );
}
