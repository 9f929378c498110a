//! A hostile writer (one holding valid keys) crafts trees that try to escape the checkout
//! folder; the real binary must refuse them and write nothing outside.

mod util;

use coffer::id::Bytes32;
use coffer::identity::{Identity, Passphrase};
use coffer::object::blob::{self, KIND_TREE};
use coffer::object::pack::PackBuilder;
use coffer::object::tree::{self, Entry};
use coffer::object::version::{Seal, Version};
use coffer::repo::Dataset;
use coffer::store;
use util::*;

/// Commit a version whose root tree is `root` plus extra `subtrees` (id computed here).
fn craft(e: &Env, root: Vec<Entry>, subtrees: Vec<Vec<Entry>>) {
    craft_under(e, root, subtrees, None)
}

/// [`craft`], naming `policy` (default: the policy in force).
fn craft_under(e: &Env, root: Vec<Entry>, subtrees: Vec<Vec<Entry>>, under: Option<coffer::Id>) {
    let ds = Dataset::find(&e.data).unwrap();
    let me = Identity::load(&e.id, &Passphrase::None).unwrap();
    let chain = ds.chain().unwrap();
    let keys = ds.keyring(&chain, &me).unwrap();
    let k = keys.current().unwrap().clone();
    let mut pack = PackBuilder::default();
    for t in subtrees {
        let bytes = tree::encode(&t);
        pack.add(blob::seal(
            &k,
            KIND_TREE,
            k.id_key.blob_id(KIND_TREE, &bytes),
            &bytes,
        ));
    }
    let bytes = tree::encode(&root);
    let root_id = k.id_key.blob_id(KIND_TREE, &bytes);
    pack.add(blob::seal(&k, KIND_TREE, root_id, &bytes));
    let (pid, pbytes, _) = pack.finish(&k);
    ds.store.put_new(&store::pack_path(&pid), pbytes).unwrap();
    let head = ds.head().unwrap();
    let seq = head
        .map(|h| ds.history().unwrap().versions[&h].seq + 1)
        .unwrap_or(1);
    let seal = Seal {
        root: root_id,
        bytes: 0,
        files: 0,
        message: "hostile".into(),
    };
    let v = Version {
        seq,
        time: 1,
        epoch: k.epoch,
        packs: vec![pid],
        author: Bytes32(me.public().sign),
        policy: under.unwrap_or(chain.tip().0),
        sealed: seal.seal(&k, &ds.id, seq),
        dataset: ds.id,
        parents: head.into_iter().collect(),
    };
    let (vid, vb) = v.sign(me.signing_key());
    ds.store.put_new(&store::version_path(&vid), vb).unwrap();
    ds.set_head(&vid).unwrap();
}

fn setup() -> Env {
    let e = Env::new();
    e.ok(&["init"]);
    e
}

/// The hostile entry comes last, after safe ones (a file and a folder holding a file), so
/// "checked before anything is written" does not hold by accident of a one-entry tree.
fn with_safe_entries(e: &Env, hostile: Vec<Entry>, mut subtrees: Vec<Vec<Entry>>) {
    let k = {
        let ds = Dataset::find(&e.data).unwrap();
        let me = Identity::load(&e.id, &Passphrase::None).unwrap();
        let c = ds.chain().unwrap();
        ds.keyring(&c, &me).unwrap().current().unwrap().clone()
    };
    let sub = vec![Entry::file("inner.csv".into(), false, 0, vec![])];
    let sub_id = k.id_key.blob_id(KIND_TREE, &tree::encode(&sub));
    subtrees.push(sub);
    let mut root = vec![
        Entry::file("0-first.csv".into(), false, 0, vec![]),
        Entry::dir("1-folder".into(), sub_id),
    ];
    root.extend(hostile);
    root.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
    craft(e, root, subtrees);
}

/// Checkout refuses the head with `expect`, through every route: `--to` a new folder, in
/// place (`--force`), and (when `remote` is given, a folder the head was pushed to) a
/// member's `pull` and a fresh `clone`. Each time everything (files, folders, links) inside
/// and outside the target is listed before and after: nothing appears anywhere.
fn checkout_refused(e: &Env, expect: &str) {
    let all_before = everything_under(e.tmp.path());
    let outside = e.tmp.path().join("victim");
    let to = outside.join("checkout");
    let err = e.fails(&["checkout", "HEAD", "--to", to.to_str().unwrap()], 2);
    assert!(err.contains(expect), "--to: {err}");
    let after = everything_under(e.tmp.path());
    let mut rest = after.clone();
    // The (empty) target and its parent may have been made; nothing else.
    rest.retain(|(p, _)| p != "victim" && p != "victim/checkout");
    assert_eq!(rest, all_before, "--to wrote something");
    assert!(everything_under(&to).is_empty());
    let err = e.fails(&["checkout", "HEAD", "--force"], 2);
    assert!(err.contains(expect), "in place: {err}");
    assert_eq!(
        everything_under(e.tmp.path()),
        after,
        "in-place checkout wrote something"
    );
}

/// Push the hostile head (already committed in `e`) to a folder remote that a reader had
/// cloned before: the reader's `pull` and a fresh `clone` refuse it, and nothing appears
/// anywhere on the reader's machine, inside or outside its folders.
fn pull_and_clone_refused(reader: &Env, remote: &std::path::Path, expect: &str) {
    let before = everything_under(reader.tmp.path());
    let err = reader.fails(&["pull"], 2);
    assert!(err.contains(expect), "pull: {err}");
    assert_eq!(
        everything_under(reader.tmp.path()),
        before,
        "pull wrote something"
    );
    let fresh = reader.tmp.path().join("fresh");
    let err = reader.fails(
        &["clone", remote.to_str().unwrap(), fresh.to_str().unwrap()],
        2,
    );
    assert!(err.contains(expect), "clone: {err}");
    let mut after = everything_under(reader.tmp.path());
    after.retain(|(p, _)| !p.starts_with("fresh"));
    assert_eq!(after, before, "clone wrote outside its folder");
    // Inside the clone's folder: only its own bookkeeping, no file of the hostile tree.
    assert!(
        everything_under(&fresh)
            .iter()
            .all(|(p, _)| p.starts_with(".coffer")),
        "{:?}",
        everything_under(&fresh)
    );
}

/// A dataset owned by `e` pushed to a folder remote with one safe version, and a reader
/// (a member) that cloned it: the stage for hostile heads arriving by `pull` and `clone`.
fn with_reader(e: &Env) -> (Env, std::path::PathBuf) {
    let reader = Env::named("hackney");
    e.ok(&["share", "add", &reader.public(), "--name", "Hackney"]);
    e.write("safe.csv", b"a,b\n");
    e.ok(&["commit", "-m", "safe"]);
    let remote = e.tmp.path().join("bucket");
    e.ok(&[
        "remote",
        "add",
        "origin",
        remote.to_str().unwrap(),
        "--create",
    ]);
    e.ok(&["push"]);
    reader.ok(&["clone", remote.to_str().unwrap(), "."]);
    (reader, remote)
}

/// Every hostile tree of this file, through every route, with safe entries before it.
#[test]
fn hostile_trees_are_refused_by_every_route_with_nothing_written() {
    let cases: Vec<(&str, Vec<Entry>, &str)> = vec![
        (
            "dot-dot",
            vec![Entry::file("..".into(), false, 0, vec![])],
            "unsafe path",
        ),
        (
            "slash",
            vec![Entry::file("z/../../evil".into(), false, 0, vec![])],
            "unsafe path",
        ),
        (
            "escaping link",
            vec![Entry::symlink("zlink".into(), b"../../etc".to_vec())],
            "points outside",
        ),
        (
            "absolute link",
            vec![Entry::symlink("zlink".into(), b"/etc/passwd".to_vec())],
            "points outside",
        ),
        (
            "link through link",
            vec![
                Entry::symlink("s".into(), b".".to_vec()),
                Entry::symlink("t".into(), b"s/..".to_vec()),
            ],
            "points outside",
        ),
    ];
    for (what, hostile, expect) in cases {
        let e = setup();
        let (reader, remote) = with_reader(&e);
        with_safe_entries(&e, hostile, vec![]);
        e.ok(&["push"]);
        checkout_refused(&e, expect);
        pull_and_clone_refused(&reader, &remote, expect);
        eprintln!("{what}: refused by checkout --to, in place, pull and clone");
    }
}

/// The target already holds a link where the version has a folder: checkout must not write
/// through it into the folder the link points at.
#[test]
fn a_link_in_the_target_where_a_folder_goes_is_not_followed() {
    let e = setup();
    e.write("reports/summary.csv", b"x,y\n");
    e.ok(&["commit", "-m", "v1"]);
    let victim = e.tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let to = e.tmp.path().join("out");
    std::fs::create_dir(&to).unwrap();
    std::os::unix::fs::symlink(&victim, to.join("reports")).unwrap();
    for force in [false, true] {
        let mut args = vec!["checkout", "HEAD", "--to", to.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        let out = e.coffer(&args).output().unwrap();
        // Without --force the link is a difference it will not overwrite; with it, the link
        // is replaced by a real folder.
        assert_eq!(
            out.status.code(),
            Some(if force { 0 } else { 2 }),
            "force={force}"
        );
        assert!(
            everything_under(&victim).is_empty(),
            "force={force}: wrote through the link: {:?}",
            everything_under(&victim)
        );
    }
    // In place too: the dataset folder's own folder replaced by a link.
    std::fs::remove_dir_all(e.data.join("reports")).unwrap();
    std::os::unix::fs::symlink(&victim, e.data.join("reports")).unwrap();
    e.ok(&["checkout", "HEAD", "--force"]);
    for dir in [&to, &e.data] {
        let m = std::fs::symlink_metadata(dir.join("reports")).unwrap();
        assert!(m.is_dir(), "{}: reports is still a link", dir.display());
        assert_eq!(
            std::fs::read(dir.join("reports/summary.csv")).unwrap(),
            b"x,y\n"
        );
    }
    assert!(
        everything_under(&victim).is_empty(),
        "in place: wrote through the link: {:?}",
        everything_under(&victim)
    );
}

#[test]
fn dot_dot_name_is_refused() {
    let e = setup();
    craft(&e, vec![Entry::file("..".into(), false, 0, vec![])], vec![]);
    checkout_refused(&e, "unsafe path");
    let out = e.coffer(&["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("escape"));
}

#[test]
fn slash_in_name_is_refused() {
    let e = setup();
    craft(
        &e,
        vec![Entry::file("a/../../evil".into(), false, 0, vec![])],
        vec![],
    );
    checkout_refused(&e, "unsafe path");
}

#[test]
fn nul_and_empty_names_are_refused() {
    let e = setup();
    craft(
        &e,
        vec![Entry::file("a\0b".into(), false, 0, vec![])],
        vec![],
    );
    checkout_refused(&e, "unsafe path");
    craft(
        &e,
        vec![Entry::file(String::new(), false, 0, vec![])],
        vec![],
    );
    checkout_refused(&e, "unsafe path");
}

#[test]
fn links_pointing_outside_are_refused() {
    for target in [
        "../../etc",
        "/etc/passwd",
        "sub/../../x",
        "..",
        "a\\..\\..\\x",
    ] {
        let e = setup();
        craft(
            &e,
            vec![Entry::symlink("link".into(), target.as_bytes().to_vec())],
            vec![],
        );
        checkout_refused(&e, "points outside");
        // verify clean must mean checkout works: the escape is an error there too.
        let out = e.coffer(&["verify"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{target}");
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains("leaves the checkout folder: checkout refuses this version"),
            "{target}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// A signed version whose tree names the same subfolder twice at each of 40 levels holds
/// 2^40 paths in a few kilobytes. Every reader refuses it at once, counting each distinct
/// folder once, under a 2 GiB address-space limit; verify reports it.
#[test]
fn a_tree_that_repeats_its_folders_is_refused_quickly() {
    let e = setup();
    let ds = Dataset::find(&e.data).unwrap();
    let me = Identity::load(&e.id, &Passphrase::None).unwrap();
    let keys = ds.keyring(&ds.chain().unwrap(), &me).unwrap();
    let k = keys.current().unwrap().clone();
    let mut level = vec![Entry::file("leaf.csv".into(), false, 0, vec![])];
    let mut subtrees = Vec::new();
    for _ in 0..40 {
        let bytes = tree::encode(&level);
        subtrees.push(level.clone());
        let id = k.id_key.blob_id(KIND_TREE, &bytes);
        level = vec![Entry::dir("a".into(), id), Entry::dir("b".into(), id)];
    }
    craft(&e, level, subtrees);
    let limited = |args: &str| {
        let bin = assert_cmd::cargo::cargo_bin("coffer");
        let t = std::time::Instant::now();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v 2097152; exec {} {args}", bin.display()))
            .env("COFFER_IDENTITY", &e.id)
            .env("XDG_CONFIG_HOME", e.tmp.path().join("config"))
            .current_dir(&e.data)
            .output()
            .unwrap();
        (out, t.elapsed())
    };
    let to = e.tmp.path().join("out");
    for args in [
        "show HEAD".to_string(),
        "diff HEAD".to_string(),
        format!("checkout HEAD --to {}", to.display()),
        "status".to_string(),
    ] {
        let (out, took) = limited(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args}: {err}");
        assert!(
            err.contains("1099511627775 paths") || err.contains("more than the 4000000"),
            "{args}: {err}"
        );
        assert!(
            took < std::time::Duration::from_secs(5),
            "{args} took {took:?}"
        );
    }
    let (out, took) = limited("verify");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("more than the 4000000 a reader expands"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(took < std::time::Duration::from_secs(5));
    // A clone refuses it too, writing nothing outside.
    let (out, took) = limited(&format!(
        "clone {} {}",
        e.data.display(),
        e.tmp.path().join("c").display()
    ));
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < std::time::Duration::from_secs(5));
}

#[test]
fn link_through_link_is_refused() {
    // s -> . is harmless alone; t -> s/.. would resolve to the checkout's parent.
    let e = setup();
    craft(
        &e,
        vec![
            Entry::symlink("s".into(), b".".to_vec()),
            Entry::symlink("t".into(), b"s/..".to_vec()),
        ],
        vec![],
    );
    checkout_refused(&e, "points outside");
}

#[test]
fn nested_escape_in_a_subtree_is_refused() {
    let e = setup();
    let sub = vec![Entry::symlink("up".into(), b"../../..".to_vec())];
    let k = {
        let ds = Dataset::find(&e.data).unwrap();
        let me = Identity::load(&e.id, &Passphrase::None).unwrap();
        let c = ds.chain().unwrap();
        ds.keyring(&c, &me).unwrap().current().unwrap().clone()
    };
    let sub_id = k.id_key.blob_id(KIND_TREE, &tree::encode(&sub));
    craft(&e, vec![Entry::dir("dir".into(), sub_id)], vec![sub]);
    checkout_refused(&e, "points outside");
}

#[test]
fn safe_relative_links_are_created() {
    let e = setup();
    craft(
        &e,
        vec![Entry::symlink("here".into(), b"./x/../y".to_vec())],
        vec![],
    );
    let to = e.tmp.path().join("ok");
    e.ok(&["checkout", "HEAD", "--to", to.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_link(to.join("here"))
            .unwrap()
            .to_str()
            .unwrap(),
        "./x/../y"
    );
}

#[test]
fn unsorted_or_duplicate_entries_are_corrupt() {
    let e = setup();
    craft(
        &e,
        vec![
            Entry::file("b".into(), false, 0, vec![]),
            Entry::file("a".into(), false, 0, vec![]),
        ],
        vec![],
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
        err.contains("tree") && err.contains("not strictly sorted"),
        "{err}"
    );
}

#[test]
fn version_under_an_unknown_policy_is_a_finding() {
    let e = setup();
    craft_under(
        &e,
        vec![Entry::file("a".into(), false, 0, vec![])],
        vec![],
        Some(coffer::Id([9; 32])),
    );
    let out = e.coffer(&["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not in the dataset's policy chain"), "{text}");
}

/// Commit applies checkout's link rule (spec §14): a link every checkout would refuse
/// (escaping, absolute, or passing through a link, itself included) is not committed, with
/// the way out in the message; listed in `.cofferignore`, it is left out and the rest commits.
#[test]
fn commit_refuses_a_link_checkout_would_refuse() {
    let e = Env::new();
    e.write("places.csv", b"borough,places\nCamden,120\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let head = e.ok(&["log", "--json"]);
    for (link, target) in [
        ("up", "../../etc"),
        ("abs", "/etc/passwd"),
        ("sub/back", "../../x"),
        ("dots", ".."),
        ("d/a", "a/b/c"),
        ("s2", "s1/.."),
    ] {
        let p = e.data.join(link);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        if link == "s2" {
            std::os::unix::fs::symlink(".", e.data.join("s1")).unwrap();
        }
        std::os::unix::fs::symlink(target, &p).unwrap();
        let err = e.fails(&["commit", "-m", "with a bad link"], 2);
        assert!(
            err.contains(link) && err.contains("not committed") && err.contains(".cofferignore"),
            "{link} -> {target}: {err}"
        );
        assert_eq!(
            e.ok(&["log", "--json"]),
            head,
            "{link} -> {target} made a version"
        );
        std::fs::remove_file(&p).unwrap();
        let _ = std::fs::remove_file(e.data.join("s1"));
    }
    // Listed in .cofferignore: left out, and the version checks out.
    std::os::unix::fs::symlink("/etc/passwd", e.data.join("abs")).unwrap();
    e.write(".cofferignore", b"abs\n");
    std::os::unix::fs::symlink("places.csv", e.data.join("latest.csv")).unwrap();
    e.ok(&["commit", "-m", "v2"]);
    let out = e.tmp.path().join("out");
    e.ok(&["checkout", "HEAD", "--to", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_link(out.join("latest.csv")).unwrap(),
        std::path::Path::new("places.csv")
    );
    assert!(std::fs::symlink_metadata(out.join("abs")).is_err());
}
