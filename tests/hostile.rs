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

/// [`craft`], naming `policy` (default: the genesis policy) as the policy in force.
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
        policy: under.unwrap_or(ds.id),
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

fn checkout_refused(e: &Env, expect: &str) {
    let outside = e.tmp.path().join("victim");
    std::fs::create_dir_all(&outside).unwrap();
    let to = outside.join("checkout");
    let err = e.fails(&["checkout", "HEAD", "--to", to.to_str().unwrap()], 2);
    assert!(err.contains(expect), "{err}");
    // Nothing was written beside or above the target.
    let stray: Vec<_> = files_under(e.tmp.path())
        .into_iter()
        .filter(|p| {
            !p.starts_with(&e.data)
                && !p.starts_with(&to)
                && p.extension().is_none_or(|x| x != "id")
        })
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    assert!(
        files_under(&to).is_empty(),
        "partial checkout left files: {:?}",
        files_under(&to)
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
