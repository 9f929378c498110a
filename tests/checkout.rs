//! Checkout in place against a model: random versions A and B (files, folders, links, with
//! names drawn from a handful so that they collide), B committed on top of A, random changes
//! to the folder (edits, deletions, untracked files and folders, a file turned into
//! folders), then `checkout HEAD~1` with and without `--force`, at batch sizes that split
//! the streams at every place (debug builds take the batch from `COFFER_TEST_BATCH`).
//!
//! Without `--force`: it succeeds exactly when the folder is B and no ignored file lies
//! below a path where A puts a file or link; then the folder is A, plus the ignored files
//! and the folders above them; otherwise nothing changes. With `--force`: every path of A
//! is A's, nothing of B that A lacks is left (a folder only if it still holds untracked
//! files), and every untracked or ignored file survives unless A puts a file or link at it
//! or above it.

mod util;

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use util::*;

#[derive(Debug, Clone)]
enum Node {
    File(u8, bool),
    Dir(BTreeMap<String, Node>),
    Link(String),
}

const NAMES: [&str; 4] = ["a", "b", "c.csv", "d"];

fn name() -> impl Strategy<Value = String> {
    proptest::sample::select(&NAMES[..]).prop_map(str::to_string)
}

fn tree() -> impl Strategy<Value = BTreeMap<String, Node>> {
    let leaf = prop_oneof![
        4 => (0u8..4, any::<bool>()).prop_map(|(c, x)| Node::File(c, x)),
        1 => name().prop_map(Node::Link),
    ];
    let node = leaf.prop_recursive(3, 24, 4, |inner| {
        proptest::collection::btree_map(name(), inner, 0..4).prop_map(Node::Dir)
    });
    proptest::collection::btree_map(name(), node, 0..4)
}

fn content(c: u8) -> Vec<u8> {
    match c {
        0 => vec![],
        1 => b"x".to_vec(),
        2 => b"row,1\n".repeat(40),
        _ => noise(3000, 7),
    }
}

fn build(dir: &Path, entries: &BTreeMap<String, Node>) {
    use std::os::unix::fs::PermissionsExt;
    for (n, node) in entries {
        let p = dir.join(n);
        match node {
            Node::File(c, exec) => {
                std::fs::write(&p, content(*c)).unwrap();
                let mode = if *exec { 0o755 } else { 0o644 };
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            Node::Dir(sub) => {
                std::fs::create_dir(&p).unwrap();
                build(&p, sub);
            }
            Node::Link(t) => std::os::unix::fs::symlink(t, &p).unwrap(),
        }
    }
}

/// Everything but `.coffer/`.
fn clear(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_name() == ".coffer" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            std::fs::remove_dir_all(e.path()).unwrap();
        } else {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
}

#[derive(Debug, Clone)]
enum Change {
    Append(usize),
    Delete(usize),
    Untracked(usize, String),
    /// Untracked folders three deep (a walk still inside them when a write removes them
    /// would fail).
    UntrackedDeep(usize),
    FileToFolder(usize),
    /// A file `.cofferignore` leaves out, in a folder or the top: the walk never sees it.
    Ignored(usize),
}

/// What `.cofferignore` (in both versions) leaves out.
const IGNORE: &[u8] = b"*.log\n";

fn ignored(path: &str) -> bool {
    path.split('/').any(|n| n.ends_with(".log"))
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        1 => any::<usize>().prop_map(Change::Append),
        1 => any::<usize>().prop_map(Change::Delete),
        1 => (any::<usize>(), prop_oneof![name(), Just("u".to_string())])
            .prop_map(|(i, n)| Change::Untracked(i, n)),
        1 => any::<usize>().prop_map(Change::UntrackedDeep),
        1 => any::<usize>().prop_map(Change::FileToFolder),
        // Ignored files leave the folder clean: more of them reach the checks behind.
        3 => any::<usize>().prop_map(Change::Ignored),
    ]
}

type Snap = BTreeMap<String, (String, Vec<u8>)>;

fn snap(dir: &Path) -> Snap {
    snapshot(dir)
        .into_iter()
        .map(|(p, k, b)| (p, (k, b)))
        .collect()
}

fn apply(dir: &Path, c: &Change) {
    // The ignore rules stay as both versions have them.
    let now: Vec<(String, String)> = snap(dir)
        .into_iter()
        .filter(|(p, _)| p != ".cofferignore")
        .map(|(p, (k, _))| (p, k))
        .collect();
    let pick = |i: usize| (!now.is_empty()).then(|| &now[i % now.len()]);
    match c {
        Change::Append(i) => {
            if let Some((p, k)) = pick(*i) {
                if k.starts_with("file") {
                    let mut b = std::fs::read(dir.join(p)).unwrap();
                    b.extend_from_slice(b"edit");
                    std::fs::write(dir.join(p), b).unwrap();
                }
            }
        }
        Change::Delete(i) => {
            if let Some((p, k)) = pick(*i) {
                match k.as_str() {
                    "dir" => std::fs::remove_dir_all(dir.join(p)).unwrap(),
                    _ => std::fs::remove_file(dir.join(p)).unwrap(),
                }
            }
        }
        Change::Untracked(i, n) => {
            let parent = match pick(*i) {
                Some((p, k)) if k == "dir" => dir.join(p),
                _ => dir.to_path_buf(),
            };
            let p = parent.join(n);
            if std::fs::symlink_metadata(&p).is_err() {
                std::fs::write(p, b"untracked").unwrap();
            }
        }
        Change::UntrackedDeep(i) => {
            let parent = match pick(*i) {
                Some((p, k)) if k == "dir" => dir.join(p),
                _ => dir.to_path_buf(),
            };
            if std::fs::symlink_metadata(parent.join("u")).is_err() {
                std::fs::create_dir_all(parent.join("u/v/w")).unwrap();
                std::fs::write(parent.join("u/v/w/f"), b"deep").unwrap();
            }
        }
        Change::Ignored(i) => {
            let parent = match pick(*i) {
                Some((p, k)) if k == "dir" => dir.join(p),
                _ => dir.to_path_buf(),
            };
            let k = parent.join("k.log");
            // A k.log turned into a folder by an earlier change stays one.
            if !std::fs::symlink_metadata(&k).is_ok_and(|m| m.is_dir()) {
                std::fs::write(k, b"ignored").unwrap();
            }
        }
        Change::FileToFolder(i) => {
            if let Some((p, k)) = pick(*i) {
                if k.starts_with("file") {
                    std::fs::remove_file(dir.join(p)).unwrap();
                    std::fs::create_dir_all(dir.join(p).join("u/v")).unwrap();
                    std::fs::write(dir.join(p).join("u/v/in"), b"inside").unwrap();
                }
            }
        }
    }
}

/// `path` itself and every folder above it.
fn self_and_above(path: &str) -> impl Iterator<Item = &str> {
    path.char_indices()
        .filter(|(_, c)| *c == '/')
        .map(|(i, _)| &path[..i])
        .chain(std::iter::once(path))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn in_place_checkout_matches_the_model(
        a in tree(),
        b in tree(),
        changes in proptest::collection::vec(change(), 0..4),
        force in any::<bool>(),
        batch in proptest::sample::select(vec!["1", "2", "3", "1000"]),
    ) {
        let e = Env::new();
        e.ok(&["init"]);
        build(&e.data, &a);
        e.write(".cofferignore", IGNORE);
        e.ok(&["commit", "-m", "A", "--allow-empty"]);
        let want = snap(&e.data);
        clear(&e.data);
        build(&e.data, &b);
        e.write(".cofferignore", IGNORE);
        e.ok(&["commit", "-m", "B", "--allow-empty"]);
        let head = snap(&e.data);
        for c in &changes {
            apply(&e.data, c);
        }
        let before = snap(&e.data);

        let mut args = vec!["checkout", "HEAD~1"];
        if force {
            args.push("--force");
        }
        let out = e.coffer(&args).env("COFFER_TEST_BATCH", batch).output().unwrap();
        let after = snap(&e.data);
        let said = String::from_utf8_lossy(&out.stderr).into_owned();

        if !force {
            // An ignored file refuses the checkout only where the version puts a file or
            // link above it; elsewhere it stays, and so do the folders above it.
            let seen: Snap = before.clone().into_iter().filter(|(p, _)| !ignored(p)).collect();
            let in_the_way = before.keys().filter(|u| ignored(u)).any(|u| {
                self_and_above(u).any(|q| want.get(q).is_some_and(|(k, _)| k != "dir"))
            });
            prop_assert_eq!(out.status.success(), seen == head && !in_the_way, "{}", said);
            if !out.status.success() {
                prop_assert_eq!(&after, &before);
                return Ok(());
            }
            for (p, v) in &after {
                let kept = ignored(p) && before.get(p) == Some(v)
                    || v.0 == "dir" && after.keys().any(|u| ignored(u) && u.starts_with(&format!("{p}/")));
                prop_assert!(want.get(p) == Some(v) || kept, "{} is not the version's", p);
            }
            for p in want.keys() {
                prop_assert!(after.contains_key(p), "{} is missing", p);
            }
            return Ok(());
        }
        prop_assert!(out.status.success(), "{}", said);
        for (p, v) in &want {
            prop_assert_eq!(after.get(p), Some(v), "{} is not the version's", p);
        }
        for (p, (k, _)) in &after {
            if want.contains_key(p) {
                continue;
            }
            let untracked_below = after
                .keys()
                .any(|q| q.starts_with(&format!("{p}/")) && !head.contains_key(q));
            prop_assert!(
                before.contains_key(p) && (!head.contains_key(p) || (k == "dir" && untracked_below)),
                "{} is left over", p
            );
        }
        for (u, v) in &before {
            let replaced = self_and_above(u)
                .any(|q| want.get(q).is_some_and(|(k, _)| k != "dir") || q == u && want.contains_key(q));
            if v.0.starts_with("file") && !head.contains_key(u) && !replaced {
                // Untracked or ignored.
                prop_assert_eq!(after.get(u), Some(v), "untracked {} was lost", u);
            }
        }
    }
}

/// A file of the version where the folder holds untracked folders, several deep: writing the
/// file removes them, and the walk of the folder must be past them by then, at any batch.
#[test]
fn force_replaces_a_folder_the_walk_is_still_in() {
    for batch in ["1", "2", "3"] {
        let e = Env::new();
        e.ok(&["init"]);
        e.write("a", b"version one");
        e.write("z", b"z");
        e.ok(&["commit", "-m", "one"]);
        e.write("a", b"version two");
        e.ok(&["commit", "-m", "two"]);
        std::fs::remove_file(e.data.join("a")).unwrap();
        e.write("a/u/v/w/in", b"untracked");
        e.write("a/x/in", b"untracked");
        let out = e
            .coffer(&["checkout", "HEAD~1", "--force"])
            .env("COFFER_TEST_BATCH", batch)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "batch {batch}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(e.data.join("a")).unwrap(), b"version one");
        assert_eq!(std::fs::read(e.data.join("z")).unwrap(), b"z");
    }
}

/// A folder of the head that the user replaced with a link to somewhere else: removing what
/// the head had below it must not follow the link (spec §14), with or without `--force`.
#[test]
fn removals_never_go_through_a_link() {
    for force in [false, true] {
        let e = Env::new();
        let outside = e.tmp.path().join("outside");
        e.ok(&["init"]);
        e.write("d/keep", b"in both versions");
        e.write("a/b/keep", b"in both versions");
        e.ok(&["commit", "-m", "one"]);
        e.write("d/f", b"head only");
        e.write("d/sub/f", b"head only");
        e.write("a/b/f", b"head only");
        e.ok(&["commit", "-m", "two"]);
        // The same names outside, which a removal through the links would hit.
        for rel in ["f", "sub/f", "b/f"] {
            std::fs::create_dir_all(outside.join(rel).parent().unwrap()).unwrap();
            std::fs::write(outside.join(rel), b"not coffer's").unwrap();
        }
        std::fs::remove_dir_all(e.data.join("d")).unwrap();
        std::os::unix::fs::symlink(&outside, e.data.join("d")).unwrap();
        std::fs::remove_dir_all(e.data.join("a")).unwrap();
        std::os::unix::fs::symlink(&outside, e.data.join("a")).unwrap();
        let mut args = vec!["checkout", "HEAD~1"];
        if force {
            args.push("--force");
        }
        let out = e.coffer(&args).output().unwrap();
        assert_eq!(
            out.status.success(),
            force,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for rel in ["f", "sub/f", "b/f"] {
            assert_eq!(
                std::fs::read(outside.join(rel)).ok().as_deref(),
                Some(&b"not coffer's"[..]),
                "{rel} outside the folder, force {force}"
            );
        }
        if force {
            assert_eq!(
                std::fs::read(e.data.join("d/keep")).unwrap(),
                b"in both versions"
            );
            assert_eq!(
                std::fs::read(e.data.join("a/b/keep")).unwrap(),
                b"in both versions"
            );
        }
    }
}

/// Found by a helper: an ignored file where the version has a folder was replaced without
/// `--force`; and `--to OUT --force`, with `OUT/d` a link to a copy of the version's `d`,
/// compared through the link, skipped `d`'s files and left `d` an empty folder.
#[test]
fn ignored_files_and_links_in_the_way_of_folders() {
    let e = Env::new();
    e.ok(&["init"]);
    e.write("a/f", b"in the version");
    e.write("d/x", b"x");
    e.write("d/sub/y", b"y");
    e.ok(&["commit", "-m", "one"]);
    std::fs::remove_dir_all(e.data.join("a")).unwrap();
    e.write(".cofferignore", b"a\n");
    e.ok(&["commit", "-m", "two"]);
    e.write("a", b"PRECIOUS");
    e.fails(&["checkout", "HEAD~1"], 2);
    assert_eq!(std::fs::read(e.data.join("a")).unwrap(), b"PRECIOUS");

    let copy = e.tmp.path().join("copy");
    let out = e.tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    copy_dir(&e.data.join("d"), &copy);
    std::os::unix::fs::symlink(&copy, out.join("d")).unwrap();
    let to = out.to_str().unwrap();
    e.fails(&["checkout", "HEAD", "--to", to], 2);
    e.ok(&["checkout", "HEAD", "--to", to, "--force"]);
    assert!(!std::fs::symlink_metadata(out.join("d"))
        .unwrap()
        .is_symlink());
    assert_eq!(std::fs::read(out.join("d/x")).unwrap(), b"x");
    assert_eq!(std::fs::read(out.join("d/sub/y")).unwrap(), b"y");
}

/// Without `--force`, a checkout that refuses changes nothing, and one that may go ahead is
/// not refused: an ignored file inside a folder the version replaces with a file refuses
/// before the folder's tracked files are removed; a link of the head where the version has
/// a folder is replaced, whatever the link's target holds.
#[test]
fn refusals_come_before_any_change_and_only_when_due() {
    let e = Env::new();
    e.ok(&["init"]);
    e.write(".cofferignore", IGNORE);
    e.write("a", b"a file");
    e.write("b/d", b"in b");
    e.ok(&["commit", "-m", "one"]);
    std::fs::remove_file(e.data.join("a")).unwrap();
    std::fs::remove_dir_all(e.data.join("b")).unwrap();
    e.write("a/f", b"tracked");
    e.write("a/sub/g", b"tracked");
    e.write("c/d", b"the link's target");
    std::os::unix::fs::symlink("c", e.data.join("b")).unwrap();
    e.ok(&["commit", "-m", "two"]);

    e.write("a/sub/keep.log", b"PRECIOUS");
    let before = snap(&e.data);
    let said = e.fails(&["checkout", "HEAD~1"], 2);
    assert!(said.contains("a (a folder holding files"), "{said}");
    assert_eq!(snap(&e.data), before);

    std::fs::remove_file(e.data.join("a/sub/keep.log")).unwrap();
    e.ok(&["checkout", "HEAD~1"]);
    assert_eq!(std::fs::read(e.data.join("a")).unwrap(), b"a file");
    assert_eq!(std::fs::read(e.data.join("b/d")).unwrap(), b"in b");
    assert!(!e.data.join("c").exists());
}

/// `--to` inside `.coffer/`, however spelled (a link, `..` after a folder not made yet), is
/// refused before any folder is made.
#[test]
fn a_refused_to_makes_no_folder() {
    let e = Env::new();
    e.ok(&["init"]);
    e.write("f", b"one");
    e.ok(&["commit", "-m", "one"]);
    std::os::unix::fs::symlink(".coffer/store", e.data.join("st")).unwrap();
    for (to, made) in [
        (".coffer/new/deeper", ".coffer/new"),
        ("st/x", ".coffer/store/x"),
        ("sub/../.coffer/y", "sub"),
    ] {
        let said = e.fails(
            &[
                "checkout",
                "HEAD",
                "--to",
                &e.data.join(to).to_string_lossy(),
            ],
            2,
        );
        assert!(said.contains("inside .coffer/"), "{to}: {said}");
        assert!(!e.data.join(made).exists(), "{to} made {made}");
    }
    assert!(!e.data.join(".coffer/y").exists());
}

/// Damage found only when a chunk is decrypted (a flipped byte in a pack) fails the
/// checkout before anything in the folder changes, however many batches it spans: every
/// file is staged before the first is put in place. Nothing is left behind: no temporary
/// file, no folder made for the version, no head file removed, no file turned into a folder
/// or back. The same for a checkout into an empty folder, which stays empty.
#[test]
fn damage_found_while_writing_changes_nothing() {
    let e = Env::new();
    e.ok(&["init"]);
    // The damaged file comes last in walk order, so at batch 1 every other path is staged
    // before the damage is found.
    e.write("zz-data", &noise(3_000_000, 3));
    e.write("keep", b"k");
    e.write("a/new/f", b"in a folder only the older version has");
    e.write("b", b"a file that becomes a folder");
    e.write("c/inner", b"a folder that becomes a file");
    e.write("c/deeper/x", b"below it");
    e.ok(&["commit", "-m", "one"]);
    for p in ["zz-data", "a/new/f", "b", "c/inner", "c/deeper/x"] {
        std::fs::remove_file(e.data.join(p)).unwrap();
    }
    std::fs::remove_dir_all(e.data.join("a")).unwrap();
    std::fs::remove_dir_all(e.data.join("c")).unwrap();
    e.write("b/inner", b"now a folder");
    e.write("c", b"now a file");
    e.write("extra", b"in the head only");
    e.ok(&["commit", "-m", "two"]);
    let largest = e
        .packs()
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&largest).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&largest, bytes).unwrap();

    let before = snap(&e.data);
    let to = e.data.parent().unwrap().join("elsewhere");
    std::fs::create_dir(&to).unwrap();
    for batch in ["1", "2", "100000"] {
        for args in [
            vec!["checkout", "HEAD~1"],
            vec!["checkout", "HEAD~1", "--force"],
            vec!["checkout", "HEAD~1", "--to", to.to_str().unwrap()],
        ] {
            let out = e
                .coffer(&args)
                .env("COFFER_TEST_BATCH", batch)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "batch {batch} {args:?}: {said}");
            assert!(!said.contains("part-way"), "batch {batch} {args:?}: {said}");
            assert_eq!(snap(&e.data), before, "batch {batch} {args:?}");
            assert!(snap(&to).is_empty(), "batch {batch} {args:?}");
        }
    }
}

/// Once every file is staged, the folder changes; a failure from there on (here a file put
/// into a folder the version replaces with a file, after the refusal pass and before the
/// renames) says the folder is part-way and how to finish, and `--force` finishes it. Killed
/// at the same point, nothing but the staged temporary files is there.
#[test]
fn a_failure_after_staging_says_part_way_and_force_finishes() {
    let e = Env::new();
    e.ok(&["init"]);
    e.write("x", b"a file in the older version");
    e.write("y", b"one");
    e.ok(&["commit", "-m", "one"]);
    std::fs::remove_file(e.data.join("x")).unwrap();
    e.write("x/inner", b"a folder now");
    e.write("y", b"two");
    e.ok(&["commit", "-m", "two"]);
    let before = snap(&e.data);

    let mut c = e.spawn_paused(&["checkout", "HEAD~1"], "staged");
    kill9_running(&mut c);
    let now: Snap = snap(&e.data)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(".coffer-checkout."))
        .collect();
    assert_eq!(now, before, "killed once staged, the folder is unchanged");

    let (mut c, flag) = e.spawn_resumable(&["checkout", "HEAD~1"], "staged");
    e.write("x/untracked", b"put there after the refusal pass");
    std::fs::remove_file(&flag).unwrap();
    let st = c.wait().unwrap();
    let said = std::fs::read_to_string(flag.with_extension("stderr")).unwrap();
    assert_eq!(st.code(), Some(2), "{said}");
    assert!(
        said.contains("part-way") && said.contains("--force"),
        "{said}"
    );
    assert!(
        e.data.join("x/untracked").exists(),
        "nothing untracked is lost"
    );

    e.ok(&["checkout", "HEAD~1", "--force"]);
    assert_eq!(
        std::fs::read(e.data.join("x")).unwrap(),
        b"a file in the older version"
    );
    assert_eq!(std::fs::read(e.data.join("y")).unwrap(), b"one");
    assert!(snap(&e.data).keys().all(|p| p == "x" || p == "y"));
}

/// A checkout killed once its files are staged leaves their temporary files behind, beside
/// the files and (for a file whose folder is not made yet) in `.coffer-checkout.PID/`. No
/// command reports them or puts them in a version; the next commit or checkout in place
/// removes them. A file that only looks like one (`.coffer-checkout.notes`) is data.
#[test]
fn a_killed_checkouts_temporary_files_are_passed_over_then_removed() {
    let e = Env::new();
    e.ok(&["init"]);
    e.write("x/inner", b"a folder in the older version");
    e.write("d/y", b"one");
    // Names that only look like a checkout's: the wrong form, kind or place, or numbers
    // coffer never writes. They are the user's.
    let own = [
        ".coffer-checkout.notes",
        ".coffer-checkout.77777",
        ".coffer-checkout.0",
        ".coffer-checkout.0.1",
        ".coffer-checkout.0077777.3",
        ".coffer-checkout.77777.03",
        "d/.coffer-checkout.77778/results.csv",
        ".coffer-checkout.77779.2/results.csv",
        ".coffer-checkout.77780/results.csv",
    ];
    for p in own {
        e.write(p, b"the user's own file");
    }
    e.ok(&["commit", "-m", "one"]);
    std::fs::remove_dir_all(e.data.join("x")).unwrap();
    e.write("x", b"a file now");
    e.write("d/y", b"two");
    e.ok(&["commit", "-m", "two"]);
    let temps = || -> Vec<String> {
        snap(&e.data)
            .into_keys()
            .filter(|p| p.split('/').any(|c| c.starts_with(".coffer-checkout.")))
            .filter(|p| !own.iter().any(|o| o.starts_with(p.as_str())))
            .collect()
    };

    // The killed checkout goes back to "one"; then a commit, or a checkout of the head.
    let rounds: [(&str, &[&str]); 2] = [
        ("HEAD~1", &["commit", "-m", "three", "--allow-empty"]),
        ("HEAD~2", &["checkout", "HEAD"]),
    ];
    for (i, (back, next)) in rounds.into_iter().enumerate() {
        let mut c = e.spawn_paused(&["checkout", back], "staged");
        kill9_running(&mut c);
        let left = temps();
        assert!(
            left.iter().any(|p| p.starts_with("d/.coffer-checkout."))
                && left
                    .iter()
                    .any(|p| p.starts_with(".coffer-checkout.") && p.contains('/')),
            "round {i}: staged beside a file and aside: {left:?}"
        );
        let st = e.ok(&["status"]);
        assert!(st.contains("clean"), "round {i}: {st}");
        e.ok(next);
        assert_eq!(temps(), Vec::<String>::new(), "round {i}: removed");
        assert_eq!(std::fs::read(e.data.join("d/y")).unwrap(), b"two");
        for p in own {
            assert_eq!(
                std::fs::read(e.data.join(p)).unwrap(),
                b"the user's own file"
            );
        }
    }
    let shown = e.ok(&["show", "HEAD"]);
    for p in own {
        assert!(shown.contains(p), "{p}: {shown}");
    }
    for line in shown.lines().filter(|l| l.contains(".coffer-checkout.")) {
        let path = line
            .split_whitespace()
            .last()
            .unwrap()
            .trim_end_matches('/');
        assert!(
            own.iter().any(|o| o.starts_with(path)),
            "a checkout's file in the version: {line}"
        );
    }
}
