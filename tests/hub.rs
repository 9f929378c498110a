//! The exchange hub on a real S3 server (moto): five datasets owned by three identities under
//! nested prefixes, plus junk; `coffer list` shows each identity exactly what it may do there
//! (a withdrawn member included), needs no key, and names what it cannot read; `coffer clone
//! HUB NAME DIR` clones by a unique name or an id, and refuses an ambiguous name.

mod util;

use serde_json::Value;
use std::collections::BTreeMap;
use util::s3::{Kind, Server};
use util::Env;

fn org(name: &str, server: &Server) -> Env {
    let mut e = Env::named(name);
    e.vars = server.env();
    e
}

/// `e` makes dataset `name` in folder `dir` and pushes it to `url`.
fn make(e: &Env, dir: &str, name: &str, url: &str) {
    std::fs::create_dir_all(e.data.join(dir)).unwrap();
    std::fs::write(e.data.join(dir).join("rows.csv"), format!("{name}\n1\n")).unwrap();
    e.ok(&["-C", dir, "init", "--name", name]);
    e.ok(&["-C", dir, "commit", "-m", "first"]);
    e.ok(&["-C", dir, "remote", "add", "origin", url]);
    e.ok(&["-C", dir, "push"]);
}

/// (prefix -> (name, you)) from `coffer list --json` as `e`.
fn listing(e: &Env, hub: &str) -> (Value, BTreeMap<String, (String, String)>) {
    let v: Value = serde_json::from_str(&e.ok(&["list", hub, "--json"])).unwrap();
    let m = v["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["prefix"].as_str().unwrap().to_string(),
                (
                    d["name"].as_str().unwrap_or("?").to_string(),
                    d["you"].as_str().unwrap_or("-").to_string(),
                ),
            )
        })
        .collect();
    (v, m)
}

#[test]
fn a_hub_lists_what_each_identity_may_do_and_clones_by_name() {
    let server = Server::start(Kind::Moto);
    let camden = org("camden", &server);
    let hackney = org("hackney", &server);
    let gla = org("gla", &server);
    let stranger = org("stranger", &server);
    let hub = server.url("hub");
    make(
        &camden,
        "housing",
        "housing-register",
        &server.url("hub/camden/housing"),
    );
    make(
        &camden,
        "schools",
        "school-places",
        &server.url("hub/camden/schools/2026"),
    );
    make(
        &hackney,
        "care",
        "care-packages",
        &server.url("hub/hackney/care"),
    );
    make(&gla, "summary", "london-summary", &server.url("hub/gla"));
    make(
        &gla,
        "housing",
        "housing-register",
        &server.url("hub/gla/housing"),
    );
    let add = |e: &Env, dir: &str, who: &Env, label: &str, role: &str| {
        e.ok(&[
            "-C",
            dir,
            "share",
            "add",
            &who.public(),
            "--name",
            label,
            "--role",
            role,
        ]);
        e.ok(&["-C", dir, "push"]);
    };
    add(&camden, "housing", &hackney, "Hackney", "reader");
    add(&camden, "housing", &gla, "GLA", "writer");
    add(&camden, "schools", &hackney, "Hackney", "admin");
    add(&hackney, "care", &camden, "Camden", "writer");
    camden.ok(&["-C", "housing", "share", "remove", "GLA"]);
    camden.ok(&["-C", "housing", "push"]);
    // Junk: a prefix whose only "policy" does not open, and a stray file.
    server.put(
        &format!("hub/junk/policy/{}", "ab".repeat(32)),
        b"not a policy",
    );
    server.put("hub/README.txt", b"hello");

    let want = |rows: &[(&str, &str, &str)]| -> BTreeMap<String, (String, String)> {
        rows.iter()
            .map(|(p, n, y)| (p.to_string(), (n.to_string(), y.to_string())))
            .collect()
    };
    let (v, got) = listing(&camden, &hub);
    assert_eq!(
        got,
        want(&[
            ("camden/housing", "housing-register", "owner"),
            ("camden/schools/2026", "school-places", "owner"),
            ("gla", "london-summary", "not a member"),
            ("gla/housing", "housing-register", "not a member"),
            ("hackney/care", "care-packages", "writer"),
            ("junk", "?", "-"),
        ]),
        "{v:#}"
    );
    let junk = v["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["prefix"] == "junk")
        .unwrap();
    assert!(junk["problem"]
        .as_str()
        .unwrap()
        .contains("no valid genesis"));
    let housing = v["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["prefix"] == "camden/housing")
        .unwrap();
    assert_eq!(housing["owners"][0], "camden");
    assert_eq!(
        housing["members"].as_array().unwrap().len(),
        2,
        "{housing:#}"
    );
    assert_eq!(housing["newest"]["seq"], 1, "{housing:#}");

    // A dataset whose store has no checkpoint (written before them): its versions are
    // judged instead.
    for k in server.keys("hub/gla/checkpoints/") {
        server.delete(&k);
    }
    let (v, _) = listing(&camden, &hub);
    let summary = v["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["prefix"] == "gla")
        .unwrap();
    assert_eq!(summary["newest"]["seq"], 1, "{summary:#}");
    assert!(summary["newest"]["fresh_until"].is_null(), "{summary:#}");

    let (_, got) = listing(&gla, &hub);
    assert_eq!(got["camden/housing"].1, "withdrawn");
    assert_eq!(got["gla"].1, "owner");
    let (_, got) = listing(&hackney, &hub);
    assert_eq!(got["camden/housing"].1, "reader");
    assert_eq!(got["camden/schools/2026"].1, "admin");
    assert_eq!(got["hackney/care"].1, "owner");
    let (_, got) = listing(&stranger, &hub);
    assert!(got
        .iter()
        .filter(|(p, _)| *p != "junk")
        .all(|(_, (_, you))| you == "not a member"));
    // No identity: everything listed, nothing marked as yours.
    let mut nobody = org("nobody", &server);
    nobody.vars.push((
        "COFFER_IDENTITY".into(),
        nobody.tmp.path().join("none").display().to_string(),
    ));
    let (_, got) = listing(&nobody, &hub);
    assert_eq!(got.len(), 6);
    assert!(got.values().all(|(_, you)| you == "-"));
    let text = nobody.ok(&["list", &hub]);
    assert!(
        text.contains("school-places") && text.contains("5 dataset(s)"),
        "{text}"
    );

    // Clone by a unique name, with the id pinned and said; an ambiguous name is refused,
    // naming both ids and owners; an id prefix works.
    let out = camden
        .coffer(&["clone", &hub, "care-packages", "care-copy"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pinned") && err.contains("owned by hackney"),
        "{err}"
    );
    assert!(camden.data.join("care-copy/rows.csv").exists());
    let err = hackney.fails(&["clone", &hub, "housing-register", "h"], 2);
    assert!(
        err.contains("2 datasets") && err.contains("camden") && err.contains("gla"),
        "{err}"
    );
    let id = housing["id"].as_str().unwrap();
    hackney.ok(&["clone", &hub, &id[..12], "h"]);
    assert!(hackney.data.join("h/rows.csv").exists());
    let err = hackney.fails(&["clone", &hub, "nothing-here", "x"], 2);
    assert!(err.contains("no dataset called"), "{err}");
}
