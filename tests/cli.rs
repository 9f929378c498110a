//! End-to-end tests of the real `coffer` binary.

mod util;

use predicates::prelude::*;
use serde_json::Value;
use util::*;

#[test]
fn tour_commit_edit_log_diff_checkout_verify() {
    let e = Env::new();
    e.write(
        "schools/places.csv",
        b"borough,places\nCamden,120\nHackney,98\n",
    );
    e.write("big.bin", &noise(5_000_000, 1));
    e.write("empty.txt", b"");
    std::fs::create_dir_all(e.data.join("empty/folder")).unwrap();
    e.write("run.sh", b"#!/bin/sh\necho hi\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        e.data.join("run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("schools/places.csv", e.data.join("latest.csv")).unwrap();

    e.ok(&["init", "--name", "schools"]);
    let v1_snapshot = snapshot(&e.data);
    let out = e.ok(&["commit", "-m", "March export"]);
    assert!(out.contains("(seq 1)"), "{out}");
    assert!(e.ok(&["status"]).contains("clean"));

    e.write(
        "schools/places.csv",
        b"borough,places\nCamden,121\nHackney,98\n",
    );
    e.write("new.csv", b"a,b\n");
    std::fs::remove_file(e.data.join("empty.txt")).unwrap();
    let status: Value = serde_json::from_str(&e.ok(&["status", "--json"])).unwrap();
    let changes: Vec<(String, String)> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().into(),
                c["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("removed".into(), "empty.txt".into()),
            ("added".into(), "new.csv".into()),
            ("modified".into(), "schools/places.csv".into())
        ]
    );
    e.ok(&["commit", "-m", "April export"]);

    let log: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2);
    for key in ["id", "seq", "parents", "author", "time", "message"] {
        assert!(log[0].get(key).is_some(), "log lacks {key}");
    }
    assert_eq!(log[0]["seq"], 2);
    assert_eq!(log[0]["message"], "April export");
    assert_eq!(log[0]["author"], "camden");
    assert_eq!(log[0]["parents"][0], log[1]["id"]);
    assert!(log[1]["parents"].as_array().unwrap().is_empty());

    let diff: Value = serde_json::from_str(&e.ok(&["diff", "HEAD~1", "HEAD", "--json"])).unwrap();
    assert_eq!(diff.as_array().unwrap().len(), 3);
    assert_eq!(diff[2]["path"], "schools/places.csv");
    assert_eq!(diff[2]["old_size"], 37);
    assert_eq!(diff[2]["new_size"], 37);

    // By prefix, and byte for byte with modes, links and empty folders.
    let v1 = log[1]["id"].as_str().unwrap();
    let out = e.tmp.path().join("out");
    e.ok(&["checkout", &v1[..10], "--to", out.to_str().unwrap()]);
    assert_eq!(snapshot(&out), v1_snapshot);

    let show = e.ok(&["show", "HEAD~1"]);
    assert!(
        show.contains("March export") && show.contains("empty/folder/"),
        "{show}"
    );
    assert!(e.ok(&["verify"]).contains("ok: no problems found"));
}

#[test]
fn in_place_checkout_restores_and_refuses_dirty_folder() {
    let e = Env::new();
    e.write("a.csv", b"one\n");
    e.write("keep/b.csv", b"two\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let v1 = snapshot(&e.data);
    e.write("a.csv", b"one changed\n");
    e.write("c.csv", b"three\n");
    e.ok(&["commit", "-m", "v2"]);

    e.write("a.csv", b"uncommitted\n");
    let err = e.fails(&["checkout", "HEAD~1"], 2);
    assert!(err.contains("uncommitted changes"), "{err}");
    e.write("a.csv", b"one changed\n");
    e.ok(&["checkout", "HEAD~1"]);
    assert_eq!(snapshot(&e.data), v1);
    // The head did not move: committing records the restored content as version 3.
    let out = e.ok(&["commit", "-m", "restore v1"]);
    assert!(out.contains("(seq 3)"), "{out}");
}

#[test]
fn checkout_to_folder_with_different_files_needs_force() {
    let e = Env::new();
    e.write("a.csv", b"committed\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let to = e.tmp.path().join("to");
    std::fs::create_dir(&to).unwrap();
    std::fs::write(to.join("a.csv"), b"someone else's file\n").unwrap();
    std::fs::write(to.join("unrelated.txt"), b"left alone\n").unwrap();
    let err = e.fails(&["checkout", "HEAD", "--to", to.to_str().unwrap()], 2);
    assert!(
        err.contains("would overwrite 1 file") && err.contains("a.csv") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(to.join("a.csv")).unwrap(),
        b"someone else's file\n"
    );
    e.ok(&["checkout", "HEAD", "--to", to.to_str().unwrap(), "--force"]);
    assert_eq!(std::fs::read(to.join("a.csv")).unwrap(), b"committed\n");
    assert_eq!(
        std::fs::read(to.join("unrelated.txt")).unwrap(),
        b"left alone\n"
    );
    // Same content already there: no conflict.
    e.ok(&["checkout", "HEAD", "--to", to.to_str().unwrap()]);
}

#[test]
fn errors_are_clear_and_exit_2() {
    let e = Env::new();
    let err = e.fails(&["log"], 2);
    assert!(err.starts_with("coffer: not a coffer dataset"), "{err}");
    assert!(err.contains("coffer init"), "{err}");

    e.ok(&["init"]);
    let err = e.fails(&["init"], 2);
    assert!(err.contains("already exists"), "{err}");
    let err = e.fails(&["log"], 2);
    assert!(err.contains("no versions yet"), "{err}");

    let missing = e.tmp.path().join("nobody.id");
    let err = e
        .coffer(&["commit", "-m", "x"])
        .env("COFFER_IDENTITY", &missing)
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(
        err.contains("no identity at") && err.contains("coffer id new"),
        "{err}"
    );

    // Another identity is not a member of the dataset.
    let other = e.tmp.path().join("islington.id");
    e.ok(&[
        "id",
        "new",
        "--name",
        "islington",
        "--out",
        other.to_str().unwrap(),
    ]);
    e.write("a.csv", b"x\n");
    let out = e
        .coffer(&["commit", "-m", "x"])
        .env("COFFER_IDENTITY", &other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("you (identity key ") && err.contains(") are not a member; "),
        "{err}"
    );

    e.ok(&["commit", "-m", "v1"]);
    let err = e.fails(&["show", "HEAD~5"], 2);
    assert!(err.contains("unknown version `HEAD~5`"), "{err}");
    let err = e.fails(&["show", "zzzz"], 2);
    assert!(err.contains("unknown version"), "{err}");
    let err = e.fails(&["checkout"], 2);
    assert!(err.contains("Usage"), "{err}");
}

#[test]
fn identity_file_is_private_and_passphrase_works() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    let mode = std::fs::metadata(&e.id).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let public = e.ok(&["id", "show"]);
    assert!(public.trim().starts_with("coffer1") && public.trim().lines().count() == 1);
    // Refuses to overwrite.
    let err = e.fails(
        &["id", "new", "--name", "x", "--out", e.id.to_str().unwrap()],
        2,
    );
    assert!(err.contains("refusing to overwrite"), "{err}");

    let locked = e.tmp.path().join("locked.id");
    e.coffer(&[
        "id",
        "new",
        "--name",
        "gla",
        "--passphrase",
        "--passphrase-env",
        "PW",
        "--out",
        locked.to_str().unwrap(),
    ])
    .env("PW", "correct horse")
    .assert()
    .success();
    let bytes = std::fs::read(&locked).unwrap();
    // The secrets themselves (opened here through the library) appear nowhere in the file,
    // not even 8 bytes of them.
    use coffer::identity::Identity;
    assert!(Identity::from_file_bytes(&bytes, Some("wrong horse")).is_err());
    let id = Identity::from_file_bytes(&bytes, Some("correct horse")).unwrap();
    let seed = id.signing_key().to_bytes();
    for secret in [&seed[..], &id.kx_secret()[..]] {
        assert!(
            !secret.windows(8).any(|s| bytes.windows(8).any(|b| b == s)),
            "secret key bytes in clear in the locked identity file"
        );
    }
    assert!(!bytes.windows(4).any(|w| w == b"sign"));
    e.coffer(&["id", "show", "--passphrase-env", "PW"])
        .env("COFFER_IDENTITY", &locked)
        .env("PW", "correct horse")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("coffer1"));
    e.coffer(&["id", "show", "--passphrase-env", "PW"])
        .env("COFFER_IDENTITY", &locked)
        .env("PW", "wrong")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("wrong passphrase"));
    e.coffer(&["id", "show"])
        .env("COFFER_IDENTITY", &locked)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--passphrase-env"));
}

#[test]
fn unchanged_files_are_not_read_again() {
    let e = Env::new();
    for i in 0..50 {
        e.write(
            &format!("f{i}.csv"),
            format!("row {i}\n").repeat(1000).as_bytes(),
        );
    }
    e.ok(&["init"]);
    for i in 0..50 {
        age(&e.data.join(format!("f{i}.csv")));
    }
    settle();
    let first: Value = serde_json::from_str(&e.ok(&["commit", "-m", "v1", "--json"])).unwrap();
    assert_eq!(first["files_unchanged"], 0);
    // Ids are hex strings in JSON, as in `log --json`.
    assert_eq!(first["version"].as_str().unwrap().len(), 64);
    e.write("f7.csv", b"changed\n");
    let second: Value = serde_json::from_str(&e.ok(&["commit", "-m", "v2", "--json"])).unwrap();
    assert_eq!(second["files_unchanged"], 49);
    assert_eq!(second["bytes_read"], 8);
    let third = e.ok(&["commit", "-m", "v3"]);
    assert!(third.contains("nothing changed"), "{third}");
}

#[test]
fn cofferignore_is_honoured() {
    let e = Env::new();
    e.write(".cofferignore", b"*.tmp\nscratch/\n");
    e.write("keep.csv", b"x\n");
    e.write("drop.tmp", b"x\n");
    e.write("scratch/a.csv", b"x\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let show: Value = serde_json::from_str(&e.ok(&["show", "HEAD", "--json"])).unwrap();
    let paths: Vec<&str> = show["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec![".cofferignore", "keep.csv"]);
}

#[test]
fn store_holds_no_plaintext_and_no_names() {
    let e = Env::new();
    let marker = b"MARKER-CAMDEN-SAFEGUARDING-7731";
    let mut body = Vec::new();
    for i in 0..2000 {
        body.extend_from_slice(format!("{i},").as_bytes());
        body.extend_from_slice(marker);
        body.push(b'\n');
    }
    e.write("secret-folder-name/secret-file-name.csv", &body);
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "MESSAGE-MARKER-9911"]);
    for f in files_under(&e.store()) {
        let b = std::fs::read(&f).unwrap();
        for needle in [
            &marker[..],
            b"MARKER-CAMDEN",
            b"secret-file-name",
            b"secret-folder-name",
            b"MESSAGE-MARKER",
        ] {
            assert!(
                !b.windows(needle.len()).any(|w| w == needle),
                "{} contains {:?}",
                f.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
}

#[test]
fn tampered_pack_is_reported_with_its_id_and_kind() {
    let e = Env::new();
    e.write("a.bin", &noise(3_000_000, 9));
    e.write("b.csv", b"hello\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let packs = e.packs();
    let victim = packs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let name = victim.file_name().unwrap().to_str().unwrap().to_string();
    let mut b = std::fs::read(victim).unwrap();
    b[1000] ^= 0x40;
    std::fs::write(victim, &b).unwrap();

    let out = e.coffer(&["verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &report["findings"][0];
    assert_eq!(f["level"], "error");
    assert_eq!(f["kind"], "pack");
    assert_eq!(f["id"], name.as_str());
    assert!(f["message"].as_str().unwrap().contains("does not hash"));
    let text = String::from_utf8(
        e.coffer(&["verify"])
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    assert!(
        text.contains(&format!("error: pack {}", &name[..12]))
            && text.contains("are damaged or missing")
            && text.contains("FAILED:"),
        "{text}"
    );
    let err = e.fails(
        &[
            "checkout",
            "HEAD",
            "--to",
            e.tmp.path().join("o").to_str().unwrap(),
        ],
        2,
    );
    assert!(
        err.contains("chunk") && err.contains("decryption failed"),
        "{err}"
    );
    assert!(
        !e.tmp.path().join("o/a.bin").exists(),
        "a damaged file must not be left in place"
    );
}

#[test]
fn deleted_pack_and_forged_version_are_findings() {
    let e = Env::new();
    e.write("a.csv", b"x\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    e.write("b.csv", &noise(100_000, 3));
    e.ok(&["commit", "-m", "v2"]);
    // Alter one byte inside the signed payload of the newest version (its message is sealed,
    // so flip a byte of the time field).
    let head = std::fs::read_to_string(e.data.join(".coffer/refs/main")).unwrap();
    let vpath = e.store().join("versions").join(head.trim());
    let mut v = std::fs::read(&vpath).unwrap();
    let pos = v.windows(4).position(|w| w == b"time").unwrap() + 6;
    v[pos] ^= 1;
    std::fs::write(&vpath, &v).unwrap();
    // A pack of v1, which stays readable: the version that lists it can report it missing.
    let v1_packs: Vec<_> = {
        let mut p = e.packs();
        p.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
        p
    };
    let oldest_pack = v1_packs[0].clone();
    std::fs::remove_file(&oldest_pack).unwrap();
    let out = e.coffer(&["verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let msgs: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "error")
        .map(|f| format!("{} {} {}", f["kind"], f["id"], f["message"]))
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("version")
            && m.contains(head.trim())
            && m.contains("does not hash")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("branch head")), "{msgs:?}");
    // The deleted pack is reported by its id (v1 still lists it, or v2 did).
    let gone = oldest_pack
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        msgs.iter()
            .any(|m| m.contains(&gone) || m.contains(&gone[..12])),
        "the deleted pack {gone} is not reported: {msgs:?}"
    );
}

#[test]
fn verify_without_a_key_checks_what_it_can() {
    let e = Env::new();
    e.write("a.csv", b"x\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let out = e
        .coffer(&["verify"])
        .env("COFFER_IDENTITY", e.tmp.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no key"));
}

#[test]
fn help_teaches() {
    let e = Env::new();
    let h = e.ok(&["--help"]);
    for w in [
        "commit",
        "checkout",
        "verify",
        "Exit codes",
        "A first session",
    ] {
        assert!(h.contains(w), "--help lacks {w}");
    }
}

#[test]
fn identical_folders_share_a_tree_and_verify_counts_both() {
    let e = Env::new();
    for d in ["north", "south", "east"] {
        e.write(&format!("{d}/sites.csv"), b"site,capacity\nA,10\n");
        e.write(&format!("{d}/deep/more.csv"), b"x\n");
    }
    e.ok(&["init"]);
    let out: Value = serde_json::from_str(&e.ok(&["commit", "-m", "v1", "--json"])).unwrap();
    assert_eq!(out["files"], 6);
    let report: Value = serde_json::from_str(&e.ok(&["verify", "--json"])).unwrap();
    assert_eq!(
        report["findings"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
}

#[test]
fn dash_c_and_subfolders_find_the_dataset() {
    let e = Env::new();
    e.write("sub/deeper/a.csv", b"x\n");
    e.ok(&["init"]);
    // -C a subfolder, from outside the dataset.
    let mut c = assert_cmd::Command::cargo_bin("coffer").unwrap();
    c.env("COFFER_IDENTITY", &e.id)
        .current_dir(e.tmp.path())
        .args(["-C", "data/sub/deeper", "commit", "-m", "from a subfolder"])
        .assert()
        .success();
    let log: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
    assert_eq!(log[0]["message"], "from a subfolder");
    let show: Value = serde_json::from_str(&e.ok(&["show", "HEAD", "--json"])).unwrap();
    assert_eq!(show["paths"][2]["path"], "sub/deeper/a.csv");
}

/// An identity file claiming 4 GiB of Argon2 memory (the vectors' reject) is refused before
/// anything is allocated, with a message, under a 2 GiB address-space limit.
#[test]
fn a_greedy_identity_file_is_refused_before_allocating() {
    let e = Env::new();
    let v: Value = serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let greedy = v["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "identity_argon2_memory_4_gib")
        .unwrap();
    let path = e.tmp.path().join("greedy.id");
    std::fs::write(
        &path,
        hex::decode(greedy["bytes"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("coffer");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 2097152; exec {} --identity {} --passphrase-env PW id show",
            bin.display(),
            path.display()
        ))
        .env("PW", "pw")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "it asks for 4096 MiB of memory to derive its key; coffer allows at most 1024 MiB"
        ),
        "{err}"
    );
}

/// A remote URL with a typo never lands inside the dataset folder.
#[test]
fn remote_urls_with_typos_are_refused() {
    let e = Env::new();
    e.write("a.csv", b"a\n");
    e.ok(&["init"]);
    let before = snapshot(&e.data);
    for (url, says) in [
        (
            "s3:/borough-exchange/camden",
            "did you mean s3://borough-exchange/camden?",
        ),
        (
            "s3:borough-exchange/camden",
            "did you mean s3://borough-exchange/camden?",
        ),
        ("file:/tmp/x", "did you mean file:///tmp/x?"),
        ("inside/store", "is inside the dataset folder"),
    ] {
        let err = e.fails(&["remote", "add", "test1", url], 2);
        assert!(err.contains(says), "{url}: {err}");
    }
    assert_eq!(
        snapshot(&e.data),
        before,
        "something was created in the dataset"
    );
    let typo = e.tmp.path().join("bukcet/camden-housing");
    let err = e.fails(&["remote", "add", "origin", typo.to_str().unwrap()], 2);
    assert!(
        err.contains("does not exist (a typo?); pass --create"),
        "{err}"
    );
    assert!(!typo.parent().unwrap().exists());
    e.ok(&[
        "remote",
        "add",
        "origin",
        typo.to_str().unwrap(),
        "--create",
    ]);
    assert!(typo.is_dir());
    let other = e.tmp.path().join("elsewhere");
    e.ok(&["remote", "set-url", "origin", other.to_str().unwrap()]);
    e.ok(&["remote", "rename", "origin", "hub"]);
    let list: Value = serde_json::from_str(&e.ok(&["remote", "list", "--json"])).unwrap();
    assert_eq!(list["hub"]["url"], other.to_str().unwrap());
}

/// Shell completions and the manual page come from the same definitions as `--help`: bash
/// loads the script and completes subcommands; the page has every command's section.
#[test]
fn completions_and_manual_page() {
    let e = Env::new();
    let script = e.ok(&["completions", "bash"]);
    let path = e.tmp.path().join("coffer.bash");
    std::fs::write(&path, &script).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(coffer wit); COMP_CWORD=1; _coffer coffer wit coffer; echo \"${{COMPREPLY[@]}}\"",
            path.display()
        ))
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        got.trim(),
        "witness",
        "{got} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shell in ["zsh", "fish"] {
        assert!(e.ok(&["completions", shell]).contains("checkpoint"));
    }
    let man = e.ok(&["man"]);
    assert!(
        man.starts_with(".ie") || man.starts_with(".TH"),
        "{}",
        &man[..80]
    );
    for section in [
        "COFFER AUDIT",
        "COFFER WITNESS",
        "COFFER LIST",
        "COFFER COMMIT",
    ] {
        assert!(
            man.contains(section),
            "{section} missing from the manual page"
        );
    }
    e.fails(&["completions", "tcsh"], 2);
}

/// The stat cache trusts a file's metadata only if its content was read more than one
/// timestamp tick after its mtime: a write in that tick, after the read, would keep the
/// mtime. A file with an mtime in the future is always read again; an old one is not.
#[test]
fn stat_cache_reads_again_a_file_whose_mtime_is_not_a_tick_older_than_its_read() {
    let e = Env::new();
    e.write("old.csv", &vec![b'a'; 300_000]);
    e.write("fresh.csv", &vec![b'b'; 200_000]);
    util::age(&e.data.join("old.csv"));
    util::settle();
    let f = std::fs::File::options()
        .write(true)
        .open(e.data.join("fresh.csv"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(30))
        .unwrap();
    drop(f);
    e.ok(&["init"]);
    let read = |args: &[&str]| -> u64 {
        let v: serde_json::Value = serde_json::from_str(&e.ok(args)).unwrap();
        v["bytes_read"].as_u64().unwrap()
    };
    assert_eq!(read(&["commit", "-m", "v1", "--json"]), 500_000);
    assert_eq!(
        read(&["commit", "-m", "v2", "--allow-empty", "--json"]),
        200_000,
        "only the file whose mtime is not a tick older than its read is read again"
    );
}
