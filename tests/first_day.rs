//! A data officer's first day: each mistake from the first-day review, through the real
//! binary, asserting the exact message a person sees. Camden owns the dataset "housing";
//! the GLA writes; Hackney reads; Islington is not a member.

mod util;

use serde_json::Value;
use std::path::PathBuf;
use util::*;

struct Day {
    e: Env,
    remote: PathBuf,
    /// The dataset's short id, as messages name it.
    short: String,
}

impl Day {
    fn new() -> Day {
        let e = Env::new();
        for n in ["gla", "hackney", "islington"] {
            e.new_identity(n);
        }
        e.write("housing/register.csv", b"ward,households\nA,10\n");
        e.ok(&["init", "--name", "housing"]);
        e.ok(&["commit", "-m", "March export"]);
        for (n, label, role) in [("gla", "GLA", "writer"), ("hackney", "Hackney", "reader")] {
            let p = e.public_of(n);
            e.ok(&["share", "add", &p, "--name", label, "--role", role]);
        }
        let remote = e.tmp.path().join("bucket");
        e.ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
        e.ok(&["push"]);
        let v: Value = serde_json::from_str(&e.ok(&["verify", "--json"])).unwrap();
        let short = v["dataset"].as_str().unwrap()[..12].to_string();
        Day { e, remote, short }
    }

    fn copy(&self, who: &str) -> PathBuf {
        self.e.tmp.path().join(format!("{who}-copy"))
    }

    /// `coffer ARGS` as `who` (identity `WHO.id`), in `who`'s copy (Camden: the dataset).
    fn run(&self, who: &str, args: &[&str]) -> std::process::Output {
        let dir = if who == "camden" {
            self.e.data.clone()
        } else {
            self.copy(who)
        };
        let mut c = self.e.coffer(args);
        if dir.exists() {
            c.current_dir(dir);
        } else {
            c.current_dir(self.e.tmp.path());
        }
        c.env(
            "COFFER_IDENTITY",
            self.e.tmp.path().join(format!("{who}.id")),
        )
        .output()
        .unwrap()
    }

    fn ok(&self, who: &str, args: &[&str]) -> String {
        let out = self.run(who, args);
        assert!(
            out.status.success(),
            "{who} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run, expect exit 2, return stderr.
    fn refused(&self, who: &str, args: &[&str]) -> String {
        let out = self.run(who, args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{who} {args:?}: {err}");
        err
    }

    fn clone_as(&self, who: &str) {
        let to = self.copy(who);
        self.ok(
            who,
            &["clone", self.remote.to_str().unwrap(), to.to_str().unwrap()],
        );
    }
}

#[test]
fn a_reader_who_commits_is_told_who_they_are_and_whom_to_ask() {
    let d = Day::new();
    d.clone_as("hackney");
    std::fs::write(d.copy("hackney").join("mine.csv"), b"x\n").unwrap();
    let err = d.refused("hackney", &["commit", "-m", "mine"]);
    assert_eq!(
        err,
        format!(
            "coffer: dataset housing ({}): you are Hackney (reader); only owners, admins and writers commit; ask camden (owner) to make you a writer\n",
            d.short
        )
    );
    let err = d.refused("hackney", &["share", "remove", "GLA"]);
    assert_eq!(
        err,
        format!(
            "coffer: dataset housing ({}): you are Hackney (reader); only owners and admins change who has access; ask camden (owner)\n",
            d.short
        )
    );
}

#[test]
fn a_writer_commit_line_names_the_author() {
    let d = Day::new();
    d.clone_as("gla");
    std::fs::write(d.copy("gla").join("gla.csv"), b"x\n").unwrap();
    let out = d.ok("gla", &["commit", "-m", "GLA figures"]);
    assert!(
        out.starts_with("version ") && out.contains(" (seq 2) by GLA: "),
        "{out}"
    );
    // Nothing to commit: the JSON names the unchanged head and its seq, not seq 0.
    let j: Value =
        serde_json::from_str(&d.ok("gla", &["commit", "-m", "again", "--json"])).unwrap();
    assert_eq!(j["version"], Value::Null);
    assert_eq!(j["seq"], 2);
    assert_eq!(j["author"], "GLA");
    assert_eq!(j["head"].as_str().unwrap().len(), 64);
}

#[test]
fn a_stranger_is_told_the_next_step() {
    let d = Day::new();
    let err = d.refused(
        "islington",
        &[
            "clone",
            d.remote.to_str().unwrap(),
            d.copy("islington").to_str().unwrap(),
        ],
    );
    let key = err
        .split("you (identity key ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(key.len(), 8, "{err}");
    assert_eq!(
        err,
        format!(
            "coffer: dataset housing ({}): you (identity key {key}) are not a member; only members can read or change it; send the output of `coffer id show` to camden (owner), ask to be added, then run this again\n",
            d.short
        )
    );
    assert!(!d.copy("islington").exists());
}

#[test]
fn a_public_identity_passed_as_an_identity_file_is_recognised() {
    let d = Day::new();
    let public = d.e.public_of("hackney");
    let file = d.e.tmp.path().join("hackney.pub");
    std::fs::write(&file, format!("{public}\n")).unwrap();
    let err =
        d.e.coffer(&["--identity", file.to_str().unwrap(), "status"])
            .output()
            .unwrap();
    assert_eq!(err.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(err.stderr).unwrap(),
        format!(
            "coffer: identity file {}: this is a public identity ({}...), which others use to add you; pass your own identity file, the one `coffer id new` wrote\n",
            file.display(),
            &public[..16]
        )
    );
}

#[test]
fn a_passphrase_without_a_terminal_points_at_the_environment() {
    let e = Env::new();
    let out = e.tmp.path().join("locked.id");
    // setsid: no controlling terminal, whatever runs the tests.
    let res = std::process::Command::new("setsid")
        .arg("-w")
        .arg(assert_cmd::cargo::cargo_bin("coffer"))
        .args(["id", "new", "--name", "x", "--passphrase", "--out"])
        .arg(&out)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8(res.stderr).unwrap();
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(&format!(
            "coffer: identity file {}: cannot ask for a passphrase here (",
            out.display()
        )) && err.ends_with("): put it in an environment variable and pass --passphrase-env VAR\n"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn withdrawing_twice_says_when_and_by_whom() {
    let d = Day::new();
    d.ok("camden", &["share", "remove", "Hackney"]);
    let err = d.refused("camden", &["share", "remove", "Hackney"]);
    assert!(
        err.starts_with(
            "coffer: \"Hackney\" is already withdrawn: camden withdrew their access on "
        ) && err.ends_with(" (policy seq 3; see `coffer share list`)\n"),
        "{err}"
    );
    // The withdrawn member, told on any command that needs its role.
    d.clone_as("gla");
    d.ok("camden", &["share", "remove", "GLA"]);
    d.ok("camden", &["push"]);
    d.ok("gla", &["fetch"]);
    std::fs::write(d.copy("gla").join("late.csv"), b"x\n").unwrap();
    let err = d.refused("gla", &["commit", "-m", "late"]);
    assert!(
        err.starts_with(&format!(
            "coffer: dataset housing ({}): you were GLA (writer) until camden withdrew your access on ",
            d.short
        )) && err.ends_with(" (policy seq 4); ask camden (owner) to add you again if you need access\n"),
        "{err}"
    );
}

#[test]
fn small_things_people_expect() {
    let d = Day::new();
    // show defaults to HEAD; cat takes VERSION PATH as two arguments, and hints otherwise.
    let out = d.ok("camden", &["show"]);
    assert!(out.contains("March export"), "{out}");
    assert_eq!(
        d.ok("camden", &["cat", "HEAD", "housing/register.csv"]),
        "ward,households\nA,10\n"
    );
    assert_eq!(
        d.refused("camden", &["cat", "housing/register.csv"]),
        "coffer: housing/register.csv: expected VERSION:PATH, e.g. `coffer cat HEAD:housing/register.csv` for the newest version\n"
    );
    assert_eq!(
        d.refused("camden", &["show", "d5b"]),
        "coffer: version prefix `d5b` is too short: give at least 4 hex digits (see `coffer log`)\n"
    );
    // Help shows the real default identity path ($XDG_CONFIG_HOME is set by the tests).
    let help = d.ok("camden", &["--help"]);
    let real = d.e.tmp.path().join("config/coffer/identity");
    assert!(
        help.contains(&format!("[default: {}]", real.display())),
        "{help}"
    );
    // --json on commands that change something.
    let to = d.e.tmp.path().join("out");
    let j: Value = serde_json::from_str(&d.ok(
        "camden",
        &["checkout", "HEAD", "--to", to.to_str().unwrap(), "--json"],
    ))
    .unwrap();
    assert_eq!(j["files_written"], 1);
    let j: Value = serde_json::from_str(&d.ok(
        "camden",
        &["remote", "add", "hub", d.remote.to_str().unwrap(), "--json"],
    ))
    .unwrap();
    assert_eq!(j["name"], "hub");
    let moved = d.e.tmp.path().join("moved");
    let j: Value = serde_json::from_str(&d.ok(
        "camden",
        &[
            "remote",
            "set-url",
            "hub",
            moved.to_str().unwrap(),
            "--create",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(j["url"], moved.to_str().unwrap());
    let j: Value =
        serde_json::from_str(&d.ok("camden", &["remote", "rename", "hub", "gla-hub", "--json"]))
            .unwrap();
    assert_eq!((&j["name"], &j["was"]), (&"gla-hub".into(), &"hub".into()));
    let j: Value =
        serde_json::from_str(&d.ok("camden", &["remote", "remove", "gla-hub", "--json"])).unwrap();
    assert_eq!(j["removed"], "gla-hub");
    let key = d.e.tmp.path().join("new.key");
    let j: Value = serde_json::from_str(&d.ok(
        "camden",
        &[
            "id",
            "new",
            "--name",
            "Barnet",
            "--out",
            key.to_str().unwrap(),
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(j["name"], "Barnet");
    assert!(j["public"].as_str().unwrap().starts_with("coffer1"));
    let fresh = d.e.tmp.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    let j: Value =
        serde_json::from_str(&d.ok("camden", &["-C", fresh.to_str().unwrap(), "init", "--json"]))
            .unwrap();
    assert_eq!(j["name"], "fresh");
    assert_eq!(j["owner"], "camden");
    let a: Value = serde_json::from_str(&d.ok("camden", &["access", "--json"])).unwrap();
    assert_eq!(a["policies"][1]["added"][0]["label"], "GLA");
    assert_eq!(a["policies"][1]["added"][0]["role"], "writer");
}

#[test]
fn a_dirty_pull_offers_only_options_that_exist() {
    let d = Day::new();
    d.clone_as("hackney");
    d.e.write("housing/register.csv", b"ward,households\nA,11\n");
    d.ok("camden", &["commit", "-m", "April"]);
    d.ok("camden", &["push"]);
    std::fs::write(d.copy("hackney").join("notes.txt"), b"mine\n").unwrap();
    let err = d.refused("hackney", &["pull"]);
    assert_eq!(
        err,
        "coffer: the working folder has uncommitted changes: 1 path(s), first: notes.txt; commit them (`coffer commit -m MESSAGE`) or move them aside, then run this again\n"
    );
    assert!(!err.contains("--force"));
}

#[test]
fn missing_s3_credentials_are_named_before_any_request() {
    let d = Day::new();
    d.ok(
        "camden",
        &["remote", "add", "s3", "s3://borough-exchange/camden"],
    );
    let out =
        d.e.coffer(&["push", "s3"])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
            .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env_remove("AWS_SKIP_SIGNATURE")
            // Nothing listens here: a request would fail differently, and slowly.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "coffer: s3://borough-exchange/camden: no S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys) in the environment; on a cloud machine with an instance role, set AWS_EC2_METADATA_DISABLED=false\n"
    );
}

#[test]
fn ctrl_c_during_commit_says_so_and_loses_nothing() {
    let e = Env::new();
    e.write("a.csv", b"a\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let head = std::fs::read_to_string(e.data.join(".coffer/refs/main")).unwrap();
    // A large sparse file: costs no disk, takes seconds to chunk.
    let big = std::fs::File::create(e.data.join("big.bin")).unwrap();
    big.set_len(64 << 30).unwrap();
    drop(big);
    let child = e.spawn(&["commit", "-m", "big"]);
    std::thread::sleep(std::time::Duration::from_millis(700));
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.ends_with("coffer: interrupted: the last version is intact; run it again to resume\n"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(e.data.join(".coffer/refs/main")).unwrap(),
        head
    );
    std::fs::remove_file(e.data.join("big.bin")).unwrap();
    assert!(e.ok(&["verify"]).contains("ok"));
    e.write("b.csv", b"b\n");
    assert!(e.ok(&["commit", "-m", "v2"]).contains("(seq 2)"));
}

/// Ctrl-C during a push to a real S3 server that has stopped answering: the request in
/// flight cannot be cancelled politely, so after a short grace coffer still says one line and
/// exits 130; the next push, once the server answers again, finishes the job.
#[test]
fn ctrl_c_during_a_stuck_push_says_so_and_the_rerun_finishes() {
    let server = util::s3::Server::start(util::s3::Kind::Moto);
    let mut e = Env::new();
    e.vars = server.env();
    e.write("part.bin", &noise(4 << 20, 1));
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let url = server.url("interrupted");
    e.ok(&["remote", "add", "origin", &url]);
    ctrl_c_while_frozen(&e, &server, &["push"]);
    e.ok(&["push"]);
    let dir = e.tmp.path().join("copy");
    e.ok(&["clone", &url, dir.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(dir.join("part.bin")).unwrap(),
        std::fs::read(e.data.join("part.bin")).unwrap()
    );
    assert!(e
        .ok(&["-C", dir.to_str().unwrap(), "verify"])
        .contains("ok"));
}

/// Ctrl-C during a clone from an S3 server that has stopped answering: one line, exit 130,
/// nothing half-made in the target that a rerun cannot finish; the rerun, once the server
/// answers, clones and verifies.
#[test]
fn ctrl_c_during_a_stuck_clone_says_so_and_the_rerun_finishes() {
    let server = util::s3::Server::start(util::s3::Kind::Moto);
    let mut e = Env::new();
    e.vars = server.env();
    e.write("part.bin", &noise(4 << 20, 2));
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let url = server.url("to-clone");
    e.ok(&["remote", "add", "origin", &url]);
    e.ok(&["push"]);
    let dir = e.tmp.path().join("copy");
    ctrl_c_while_frozen(&e, &server, &["clone", &url, dir.to_str().unwrap()]);
    assert!(
        !dir.join(".coffer").exists(),
        "a half-made clone looks like a dataset"
    );
    e.ok(&["clone", &url, dir.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(dir.join("part.bin")).unwrap(),
        std::fs::read(e.data.join("part.bin")).unwrap()
    );
    assert!(e
        .ok(&["-C", dir.to_str().unwrap(), "verify"])
        .contains("ok"));
}

/// Run `coffer ARGS` against `server` frozen (SIGSTOP), press Ctrl-C half a second in, and
/// check the one line and exit 130; the server is thawed again.
fn ctrl_c_while_frozen(e: &Env, server: &util::s3::Server, args: &[&str]) {
    server.freeze(true);
    let child = e.spawn(args);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    server.freeze(false);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(130), "{args:?}: {err}");
    assert!(
        err.ends_with("coffer: interrupted: the last version is intact; run it again to resume\n"),
        "{args:?}: {err}"
    );
}
