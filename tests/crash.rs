//! `kill -9` at many moments of a commit leaves a dataset that verifies clean at the previous
//! version (or at the new one, if the commit finished), and the next commit works.

mod util;

use serde_json::Value;
use std::time::Duration;
use util::*;

#[test]
fn kill_9_during_commit_never_breaks_the_dataset() {
    let e = Env::new();
    for i in 0..6 {
        e.write(&format!("part{i}.bin"), &noise(3_000_000, i));
    }
    e.ok(&["init"]);
    // Kill moments spread over how long a commit of this size takes with this build.
    let t = std::time::Instant::now();
    e.ok(&["commit", "-m", "v1"]);
    let took = t.elapsed().as_millis() as u64;
    let delays: Vec<u64> = (0..16).map(|k| 1 + took * k / 13).collect();
    let bin = assert_cmd::cargo::cargo_bin("coffer");
    let mut finished = 0;
    let mut killed = 0;
    for (round, delay_ms) in delays.iter().enumerate() {
        for i in 0..6 {
            e.write(
                &format!("part{i}.bin"),
                &noise(3_000_000, 100 * (round as u64 + 1) + i),
            );
        }
        let before: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
        let mut child = std::process::Command::new(&bin)
            .args(["commit", "-q", "-m", &format!("round {round}")])
            .env("COFFER_IDENTITY", &e.id)
            .current_dir(&e.data)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay_ms));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if status.success() {
            finished += 1;
        } else {
            killed += 1;
        }
        let out = e.coffer(&["verify", "--json"]).output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "round {round}: {report:#}");
        let after: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
        let n = after.as_array().unwrap().len();
        let m = before.as_array().unwrap().len();
        // Killed after the ref moved counts as finished; anything else keeps the old head.
        assert!(n == m || n == m + 1, "round {round}: {m} -> {n}");
        if n == m {
            assert_eq!(
                after[0]["id"], before[0]["id"],
                "round {round}: head moved without a new version"
            );
        }
    }
    assert!(killed > 0, "no commit was actually interrupted");
    // After all that, a commit works and round-trips.
    e.ok(&["commit", "-m", "after the storm", "--allow-empty"]);
    let out = e.tmp.path().join("out");
    e.ok(&["checkout", "HEAD", "--to", out.to_str().unwrap()]);
    assert_eq!(snapshot(&out), snapshot(&e.data));
    assert!(e.ok(&["verify"]).contains("ok: no problems found"));
    eprintln!("{killed} commits killed, {finished} finished before the kill");
}

/// The one moment that matters most, reached exactly (the binary pauses there, debug builds
/// only): the version object is written and the head has not moved. After the kill the old
/// head stands, `verify` is clean and reports the written version as a leftover (info), and
/// the rerun commits the same content.
#[test]
fn kill_9_between_the_version_and_the_head() {
    let e = Env::new();
    e.write("a.csv", b"a\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let refs = e.data.join(".coffer/refs/main");
    let head = std::fs::read_to_string(&refs).unwrap();
    e.write("b.csv", b"b\n");
    let versions = || util::files_under(&e.store().join("versions")).len();
    let n = versions();
    let mut c = e.spawn_paused(&["commit", "-m", "v2"], "version");
    assert_eq!(
        versions(),
        n + 1,
        "the pause point comes after the version is written"
    );
    kill9_running(&mut c);
    assert_eq!(std::fs::read_to_string(&refs).unwrap(), head);
    let out = e.coffer(&["verify", "--json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["level"], "info", "{report:#}");
    let log: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1);
    let out: Value = serde_json::from_str(&e.ok(&["commit", "-m", "v2", "--json"])).unwrap();
    assert_eq!(out["seq"], 2);
    assert!(e.ok(&["status"]).contains("clean"));
}

/// A second writer is refused while the first holds the lock: the first is paused at a point
/// inside its commit, so the overlap is certain, not a matter of timing.
#[test]
fn a_second_writer_is_refused_while_a_commit_runs() {
    let e = Env::new();
    e.write("a.csv", b"a\n");
    e.ok(&["init"]);
    let mut first = e.spawn_paused(&["commit", "-q", "-m", "first"], "version");
    let second = e.coffer(&["commit", "-m", "second"]).output().unwrap();
    kill9_running(&mut first);
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("another coffer process is writing"), "{err}");
    // The killed holder's lock does not outlive it.
    e.ok(&["commit", "-m", "third"]);
    let log: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["message"], "third");
}

/// `kill -9` during `share add --from-now` (a policy, then a reseal version of the whole
/// head) leaves the previous version as the head or the reseal finished, and a dataset that
/// verifies clean; the next commit seals what the newcomer still lacks.
#[test]
fn kill_9_during_a_reseal_leaves_the_previous_head() {
    let e = Env::new();
    for i in 0..6 {
        e.write(&format!("part{i}.bin"), &noise(3_000_000, i));
    }
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let names: Vec<String> = (0..14).map(|i| format!("member{i}")).collect();
    let publics: Vec<String> = names.iter().map(|n| e.new_identity(n)).collect();
    let t = std::time::Instant::now();
    e.ok(&[
        "share",
        "add",
        &publics[0],
        "--name",
        &names[0],
        "--from-now",
    ]);
    let took = t.elapsed().as_millis() as u64;
    let bin = assert_cmd::cargo::cargo_bin("coffer");
    let mut killed = 0;
    for round in 1..names.len() {
        let head_before = std::fs::read_to_string(e.data.join(".coffer/refs/main")).unwrap();
        let args = [
            "share",
            "add",
            &publics[round],
            "--name",
            &names[round],
            "--from-now",
            "-q",
        ];
        if round == 1 {
            // Exactly between the reseal version and the head, where the risk is.
            let mut child = e.spawn_paused(&args, "version");
            kill9_running(&mut child);
            killed += 1;
        } else {
            let delay = 1 + took * round as u64 / 10;
            let mut child = std::process::Command::new(&bin)
                .args(args)
                .env("COFFER_IDENTITY", &e.id)
                .env("XDG_CONFIG_HOME", e.tmp.path().join("config"))
                .current_dir(&e.data)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(delay));
            let _ = child.kill();
            if !child.wait().unwrap().success() {
                killed += 1;
            }
        }
        if round == 1 {
            assert_eq!(
                std::fs::read_to_string(e.data.join(".coffer/refs/main")).unwrap(),
                head_before
            );
        }
        let out = e.coffer(&["verify", "--json"]).output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "round {round}: {report:#}");
        let head = std::fs::read_to_string(e.data.join(".coffer/refs/main")).unwrap();
        if head != head_before {
            let log: Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
            assert_eq!(log[0]["parents"][0], head_before.trim(), "round {round}");
        }
    }
    assert!(killed > 0, "no reseal was actually interrupted");
    // Whatever the kills left, a commit seals the head for every member added.
    e.ok(&["commit", "-m", "after", "--allow-empty"]);
    let members: Value = serde_json::from_str(&e.ok(&["share", "list", "--json"])).unwrap();
    let mut checked = 0;
    for m in members["members"].as_array().unwrap() {
        let label = m["label"].as_str().unwrap();
        if label == "camden" {
            continue;
        }
        let out = e.tmp.path().join(format!("as-{label}"));
        let r = e.as_(label, &["checkout", "HEAD", "--to", out.to_str().unwrap()]);
        assert!(
            r.status.success(),
            "{label}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert_eq!(
            std::fs::read(out.join("part0.bin")).unwrap(),
            noise(3_000_000, 0)
        );
        checked += 1;
    }
    assert!(checked >= 1);
    assert!(e.ok(&["verify"]).contains("ok: no problems found"));
}

/// A commit killed while a pack is staged under `NAME#N` leaves that file in the store:
/// readers and the next commit pass over it, gc keeps it through the grace period (it may be
/// a write in progress) and removes it after, saying what it was.
#[test]
fn a_pack_write_killed_part_way_is_passed_over_then_collected() {
    let e = Env::new();
    e.write("a.bin", &noise(3 << 20, 1));
    e.ok(&["init"]);
    let staged = || -> Vec<std::path::PathBuf> {
        files_under(&e.store())
            .into_iter()
            .filter(|p| p.to_string_lossy().contains('#'))
            .collect()
    };
    let mut c = e.spawn_paused(&["commit", "-m", "v1"], "pack-staged");
    kill9_running(&mut c);
    let left = staged();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(std::fs::metadata(&left[0]).unwrap().len() >= 1 << 20);

    e.ok(&["commit", "-m", "v1"]);
    e.ok(&["verify"]);
    // Other files with a '#' are not staged writes: a folder store may share its folder.
    let packs = e.store().join("packs");
    let pack = files_under(&packs)
        .into_iter()
        .find(|p| !p.to_string_lossy().contains('#'))
        .unwrap();
    let others = [
        e.store().join("notes#2024.txt"),
        e.store().join("music/track #3.mp3"),
        e.store().join("versions/young#1"),
        pack.with_file_name(format!("{}#x", pack.file_name().unwrap().to_string_lossy())),
        pack.with_file_name(format!("{}#", pack.file_name().unwrap().to_string_lossy())),
    ];
    for p in &others {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"not coffer's").unwrap();
    }
    let left: Vec<_> = left.into_iter().chain(others.iter().cloned()).collect();
    let staged = || -> Vec<std::path::PathBuf> {
        let mut v = staged();
        v.sort();
        v
    };
    let mut left = left;
    left.sort();
    let kept: Value = serde_json::from_str(&e.ok(&["gc", "--json"])).unwrap();
    assert_eq!(kept["staged"], 0, "{kept:#}");
    assert_eq!(staged(), left, "younger than the grace period");
    let said = e.ok(&["gc", "--grace", "0s"]);
    assert!(
        said.contains("1 of them left part-written by a killed writer"),
        "{said}"
    );
    let mut others = others.to_vec();
    others.sort();
    assert_eq!(staged(), others, "only the staged write went");
    e.ok(&["verify"]);
    std::fs::remove_file(e.data.join("a.bin")).unwrap();
    e.ok(&["checkout", "HEAD", "--force"]);
    assert_eq!(
        std::fs::read(e.data.join("a.bin")).unwrap(),
        noise(3 << 20, 1)
    );
}

/// A clone killed during its checkout (every file staged, none in place) is finished by
/// running the same clone again: the folder ends byte-exact with no temporary files left.
/// Until then, `checkout HEAD` there refuses and says to run the clone again, and a clone
/// of another dataset into that folder is refused.
#[test]
fn a_clone_killed_during_its_checkout_is_finished_by_running_it_again() {
    let e = Env::new();
    // Several chunks, one chunk, both large enough for direct writes; small files in folders.
    e.write("big.bin", &noise(3 << 20, 1));
    e.write("mid.bin", &noise(200_000, 2));
    e.write("dir/sub/small.csv", b"a,b\n1,2\n");
    e.write("dir/other.txt", b"hello");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let src = e.data.to_str().unwrap().to_string();
    let dst = e.tmp.path().join("clone");
    let dst_s = dst.to_str().unwrap().to_string();
    let pending = dst.join(".coffer/clone-pending");

    let mut c = e.spawn_paused(&["clone", &src, &dst_s], "staged");
    kill9_running(&mut c);
    assert!(
        pending.exists(),
        "the dataset is in place, its checkout not finished"
    );
    let out = e
        .coffer(&["checkout", "HEAD"])
        .current_dir(&dst)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "checkout HEAD: {err}");
    assert!(err.contains("run the same `coffer clone` again"), "{err}");

    // Another dataset's clone into the same folder is refused, and changes nothing.
    let other = e.tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    e.write("../other/x.txt", b"another dataset");
    e.coffer(&["init"]).current_dir(&other).assert().success();
    e.coffer(&["commit", "-m", "o"])
        .current_dir(&other)
        .assert()
        .success();
    let before = everything_under(&dst);
    let err = e.fails(&["clone", other.to_str().unwrap(), &dst_s], 2);
    assert!(err.contains("unfinished clone of dataset"), "{err}");
    assert_eq!(everything_under(&dst), before);
    // A commit there would record every file not yet written as deleted: refused.
    let out = e
        .coffer(&["commit", "-m", "oops"])
        .current_dir(&dst)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("run the same `coffer clone` again"),
        "{err}"
    );
    let out = e.coffer(&["status"]).current_dir(&dst).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("run the same `coffer clone` again"),
        "status: {err}"
    );
    // A file of the user's where the version has another is kept: the rerun refuses.
    std::fs::write(dst.join("dir/other.txt"), b"mine").unwrap();
    let err = e.fails(&["clone", &src, &dst_s], 2);
    assert!(
        err.contains("differ from the version") && err.contains("dir/other.txt"),
        "{err}"
    );
    assert_eq!(std::fs::read(dst.join("dir/other.txt")).unwrap(), b"mine");
    std::fs::remove_file(dst.join("dir/other.txt")).unwrap();

    e.ok(&["clone", &src, &dst_s]);
    assert!(!pending.exists());
    assert_eq!(snapshot(&dst), snapshot(&e.data));
    let st = e
        .coffer(&["status", "--json"])
        .current_dir(&dst)
        .output()
        .unwrap();
    assert!(st.status.success());
    let st: Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(
        st,
        serde_json::json!([]),
        "no changes after the clone finished"
    );
    e.coffer(&["verify"]).current_dir(&dst).assert().success();
    // Finished: a third run is an ordinary clone into a folder that is not empty.
    let err = e.fails(&["clone", &src, &dst_s], 2);
    assert!(err.contains("is not empty"), "{err}");
}

/// The same, for a dataset with no folders: the killed checkout leaves only temporary files
/// at the top, which the rerun removes.
#[test]
fn a_clone_of_files_only_killed_during_its_checkout_leaves_nothing_behind() {
    let e = Env::new();
    e.write("big.bin", &noise(3 << 20, 3));
    e.write("small.txt", b"small");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let src = e.data.to_str().unwrap().to_string();
    let dst = e.tmp.path().join("clone");
    let dst_s = dst.to_str().unwrap().to_string();
    let mut c = e.spawn_paused(&["clone", &src, &dst_s], "staged");
    kill9_running(&mut c);
    let left: Vec<_> = std::fs::read_dir(&dst)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".coffer-checkout."))
        .collect();
    assert!(!left.is_empty(), "the killed checkout staged its files");
    e.ok(&["clone", &src, &dst_s]);
    let mut names: Vec<_> = std::fs::read_dir(&dst)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [".coffer", "big.bin", "small.txt"]);
    assert_eq!(snapshot(&dst), snapshot(&e.data));
}
