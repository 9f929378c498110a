//! Checkpoints and witnesses (spec §10.5) on real S3 servers: a freeze is reported once the
//! newest checkpoint expires (an error under strict settings), a store that hides a version
//! from one reader is a split view to that reader and to the witness, and two pushes that
//! raced on a store that ignores conditional writes are a fork the witness waits out, never a
//! split view. Time is moved with `COFFER_TEST_CLOCK_SHIFT` (debug builds), never waited for.

mod util;

use serde_json::Value;
use util::s3::{Kind, Server};
use util::Env;

const DAY: u64 = 86_400;

fn org(name: &str, server: &Server) -> Env {
    let mut e = Env::named(name);
    e.vars = server.env();
    e
}

/// From now on, `e`'s clock runs `secs` ahead.
fn shifted(e: &mut Env, secs: u64) {
    e.vars.retain(|(k, _)| k != "COFFER_TEST_CLOCK_SHIFT");
    e.vars
        .push(("COFFER_TEST_CLOCK_SHIFT".into(), secs.to_string()));
}

fn head(e: &Env) -> String {
    std::fs::read_to_string(e.data.join(".coffer/refs/main"))
        .unwrap()
        .trim()
        .to_string()
}

/// (exit code, stdout, stderr).
fn run(e: &Env, args: &[&str]) -> (i32, String, String) {
    let out = e.coffer(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn audit(e: &Env, url: &str) -> (i32, Value) {
    let (code, out, err) = run(e, &["audit", url, "--json"]);
    let v = serde_json::from_str(&out).unwrap_or_else(|_| panic!("audit exit {code}: {err}"));
    (code, v)
}

fn rules(r: &Value) -> Vec<(String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            Some((
                f["rule"].as_str()?.to_string(),
                f["level"].as_str()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn a_frozen_store_is_reported_once_the_newest_checkpoint_expires() {
    let server = Server::start(Kind::Moto);
    let mut camden = org("camden", &server);
    let mut hackney = org("hackney", &server);
    let mut auditor = org("auditor", &server);
    let url = server.url("camden");
    camden.write("places.csv", b"school,places\nA,30\n");
    camden.ok(&["init"]);
    camden.ok(&["commit", "-m", "March"]);
    camden.ok(&["share", "add", &hackney.public(), "--name", "Hackney"]);
    // Bad settings are refused with the reason.
    let err = camden.fails(&["share", "audit", "--quorum", "2"], 2);
    assert!(err.contains("quorum"), "{err}");
    let out = camden.ok(&["share", "audit", "--expiry", "1day"]);
    assert!(out.contains("fresh for 1 day"), "{out}");
    camden.ok(&["remote", "add", "origin", &url]);
    let out = camden.ok(&["push"]);
    assert!(out.contains("published checkpoint"), "{out}");
    let (_, _, err) = run(&hackney, &["clone", &url, "."]);
    assert!(!err.contains("freeze"), "{err}");
    let (code, r) = audit(&auditor, &url);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["fresh"]["signer"], "camden", "{r:#}");

    // Two days on, nothing new: every reader is told, and since when.
    shifted(&mut hackney, 2 * DAY);
    shifted(&mut auditor, 2 * DAY);
    let (code, _, err) = run(&hackney, &["pull"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("freeze suspected") && err.contains("expired on"),
        "{err}"
    );
    let (code, r) = audit(&auditor, &url);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        rules(&r).contains(&("freeze".into(), "warning".into())),
        "{r:#}"
    );

    // The data office renews from cron; readers are satisfied again.
    shifted(&mut camden, 2 * DAY);
    let out = camden.ok(&["checkpoint"]);
    assert!(out.contains("published checkpoint"), "{out}");
    let (code, r) = audit(&auditor, &url);
    assert_eq!(code, 0, "{r:#}");
    let (_, _, err) = run(&hackney, &["pull"]);
    assert!(!err.contains("freeze"), "{err}");

    // Strict: a stale store is an error; pull refuses after fetching and moves nothing.
    camden.ok(&["share", "audit", "--expiry", "1day", "--strict"]);
    camden.ok(&["push"]);
    hackney.ok(&["pull"]);
    let before = head(&hackney);
    shifted(&mut hackney, 4 * DAY);
    shifted(&mut auditor, 4 * DAY);
    let (code, _, err) = run(&hackney, &["pull"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("freeze suspected") && err.contains("strict"),
        "{err}"
    );
    assert_eq!(head(&hackney), before);
    let (code, r) = audit(&auditor, &url);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        rules(&r).contains(&("freeze".into(), "error".into())),
        "{r:#}"
    );
    // Checkpoints signed in a reader's future do not count.
    shifted(&mut auditor, 0);
    let (code, r) = audit(&auditor, &url);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        rules(&r).contains(&("checkpoint-time".into(), "warning".into())),
        "{r:#}"
    );
}

#[test]
fn a_store_hiding_a_version_is_a_split_view_to_readers_and_to_the_witness() {
    let server = Server::start(Kind::Moto);
    let camden = org("camden", &server);
    let hackney = org("hackney", &server);
    let witness = org("witness", &server);
    let auditor = org("auditor", &server);
    let url = server.url("camden");
    camden.write("places.csv", b"school,places\nA,30\n");
    camden.ok(&["init"]);
    camden.ok(&["commit", "-m", "March"]);
    camden.ok(&["share", "add", &hackney.public(), "--name", "Hackney"]);
    let w = format!("London audit={}", witness.public());
    camden.ok(&["share", "audit", "--witness", &w]);
    camden.ok(&["remote", "add", "origin", &url]);
    camden.ok(&["push"]);
    // A stranger is told it is no witness.
    let err = auditor.fails(&["witness", &url], 2);
    assert!(err.contains("not a witness"), "{err}");
    let out = witness.ok(&["witness", &url]);
    assert!(out.starts_with("cosigned"), "{out}");
    assert!(witness.ok(&["witness", &url]).starts_with("up-to-date"));
    camden.write("places.csv", b"school,places\nA,31\n");
    camden.ok(&["commit", "-m", "April"]);
    camden.ok(&["push"]);
    let april = head(&camden);
    let out = witness.ok(&["witness", &url]);
    assert!(out.starts_with("cosigned"), "{out}");
    let (code, r) = audit(&auditor, &url);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["fresh"]["witnesses"][0], "London audit", "{r:#}");

    // The operator shows some readers a copy without April (`view`).
    let april_cp: Vec<String> = server
        .objects("camden/checkpoints/")
        .into_iter()
        .filter(|(_, b)| {
            let raw = hex(&april);
            b.windows(32).any(|w| w == raw.as_slice())
        })
        .map(|(k, _)| k.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(april_cp.len(), 1);
    let copy = |to: &str, skip: &[String]| {
        for (k, b) in server.objects("camden/") {
            if !skip.iter().any(|s| k.contains(s.as_str())) {
                server.put(&k.replacen("camden/", &format!("{to}/"), 1), &b);
            }
        }
    };
    copy("view", std::slice::from_ref(&april));
    let view = server.url("view");
    let newcomer = org("hackney", &server);
    let mut newcomer = newcomer;
    newcomer.id = hackney.id.clone();
    let (code, _, err) = run(&newcomer, &["clone", &view, "."]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("split view") && err.contains(&april[..12]),
        "{err}"
    );
    let (code, r) = audit(&org("auditor2", &server), &view);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        rules(&r).contains(&("split-view".into(), "error".into())),
        "{r:#}"
    );

    // A better-prepared operator also hides April's checkpoint and its cosignature: readers
    // who never saw April cannot tell (the older checkpoint is fresh), but the witness can.
    let cosig: Vec<String> = server
        .objects("camden/cosignatures/")
        .into_iter()
        .filter(|(_, b)| {
            let raw = hex(&april_cp[0]);
            b.windows(32).any(|w| w == raw.as_slice())
        })
        .map(|(k, _)| k.rsplit('/').next().unwrap().to_string())
        .collect();
    let mut hide = vec![april.clone(), april_cp[0].clone()];
    hide.extend(cosig);
    copy("view2", &hide);
    let view2 = server.url("view2");
    let (code, r) = audit(&org("auditor3", &server), &view2);
    assert_eq!(code, 0, "{r:#}");
    let dataset = r["dataset"].as_str().unwrap().to_string();
    // An auditor who audited the real store after April remembers it and its checkpoint.
    let (code, out, err) = run(
        &auditor,
        &["audit", &view2, "--expect-id", &dataset, "--json"],
    );
    assert_eq!(code, 1, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    let gone: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["level"] == "error" && f["message"].as_str().unwrap().contains("your last audit")
        })
        .collect();
    assert!(
        gone.iter()
            .any(|f| f["kind"] == "checkpoint" && f["id"] == april_cp[0].as_str())
            && gone.iter().any(|f| f["id"] == april.as_str()),
        "{r:#}"
    );
    let (code, out, err) = run(&witness, &["witness", &view2, "--expect-id", &dataset]);
    assert_eq!(code, 1, "{out} {err}");
    assert!(
        out.starts_with("refused") && out.contains(&april[..12]),
        "{out}"
    );
    // Nothing was cosigned in the hidden view.
    assert_eq!(
        server.keys("view2/cosignatures/").len(),
        server.keys("camden/cosignatures/").len() - 1
    );
}

#[test]
fn racing_pushes_on_rclone_are_a_fork_the_witness_waits_out_not_a_split_view() {
    let server = Server::start(Kind::Rclone);
    let camden = org("camden", &server);
    let mut gla = org("gla", &server);
    let witness = org("witness", &server);
    let auditor = org("auditor", &server);
    let url = server.url("camden");
    camden.write("camden.csv", b"a\n");
    camden.ok(&["init"]);
    camden.ok(&["commit", "-m", "v1"]);
    camden.ok(&[
        "share",
        "add",
        &gla.public(),
        "--name",
        "GLA",
        "--role",
        "writer",
    ]);
    let w = format!("witness={}", witness.public());
    camden.ok(&["share", "audit", "--witness", &w]);
    camden.ok(&["remote", "add", "origin", &url]);
    camden.ok(&["push"]);
    gla.ok(&["clone", &url, "."]);
    assert!(witness.ok(&["witness", &url]).starts_with("cosigned"));

    // Both commit on the same version; the GLA's push lists the bucket, then waits while
    // Camden pushes; then it goes on with its stale listing (a minute later by its clock).
    camden.write("camden.csv", b"b\n");
    camden.ok(&["commit", "-m", "camden"]);
    gla.write("gla.csv", b"g\n");
    gla.ok(&["commit", "-m", "gla"]);
    let (vc, vg) = (head(&camden), head(&gla));
    shifted(&mut gla, 60);
    let (mut child, flag) = gla.spawn_resumable(&["push"], "listed");
    camden.ok(&["push"]);
    assert!(witness.ok(&["witness", &url]).starts_with("cosigned"));
    std::fs::remove_file(&flag).unwrap();
    let st = child.wait().unwrap();
    assert!(st.success(), "the GLA's push failed");
    let heads: Vec<String> = server
        .keys("camden/versions/")
        .into_iter()
        .map(|k| k.rsplit('/').next().unwrap().to_string())
        .collect();
    assert!(heads.contains(&vc) && heads.contains(&vg), "{heads:?}");

    // Two heads, each named by its own writer's checkpoint, both in the store: no split view
    // for any reader.
    let (code, r) = audit(&auditor, &url);
    assert_eq!(code, 0, "{r:#}");
    assert!(
        !rules(&r).iter().any(|(rule, _)| rule == "split-view"),
        "{r:#}"
    );
    // The witness sees that the newest checkpoint does not extend what it cosigned: a fork.
    let (code, out, _) = run(&witness, &["witness", &url]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("fork") && out.contains("raced"), "{out}");

    // Camden merges and pushes (two minutes later by its clock): the witness cosigns.
    let mut camden = camden;
    shifted(&mut camden, 120);
    camden.ok(&["pull"]);
    camden.ok(&["push"]);
    let out = witness.ok(&["witness", &url]);
    assert!(out.starts_with("cosigned"), "{out}");
    let (code, r) = audit(&auditor, &url);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["fresh"]["signer"], "camden", "{r:#}");
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}
