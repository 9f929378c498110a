//! Commit walks the folder in batches and keeps the stat cache in walk order (so neither is
//! held whole in memory). These tests cross batch boundaries with a few files (debug builds
//! take the batch size from `COFFER_TEST_BATCH`) and check the cache's order and damage.

mod util;

use serde_json::Value;
use util::*;

/// Paths whose walk order (folder by folder, siblings by name) differs from the byte order
/// of whole paths: `a/…` walks before `a.csv` and `a-b`, though `/` sorts after `.` and `-`.
const NAMES: &[&str] = &[
    "a/b.csv",
    "a/x/y.csv",
    "a/x.csv",
    "a/x0/z.csv",
    "a.csv",
    "a-b/c.csv",
    "a0.csv",
    "a b.csv",
    "b",
    "deep/1/2/3/4/5.csv",
    "deep/1/2.csv",
    "deep/1.csv",
    "z/empty.csv",
];

fn fill(e: &Env) {
    for (i, n) in NAMES.iter().enumerate() {
        e.write(n, format!("{n}\n{}", "row\n".repeat(i * 100)).as_bytes());
        age(&e.data.join(n));
    }
    std::fs::create_dir_all(e.data.join("empty/folder")).unwrap();
    std::os::unix::fs::symlink("a.csv", e.data.join("link")).unwrap();
    settle();
}

fn commit(e: &Env, batch: &str, args: &[&str]) -> Value {
    let mut all = vec!["commit", "--json"];
    all.extend_from_slice(args);
    let out = e
        .coffer(&all)
        .env("COFFER_TEST_BATCH", batch)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "commit with batch {batch}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn inode(p: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap().ino()
}

#[test]
fn every_file_hits_the_stat_cache_whatever_the_walk_order_and_batches() {
    let e = Env::new();
    fill(&e);
    e.ok(&["init"]);
    let files = NAMES.len() as u64;
    let v1 = commit(&e, "1", &["-m", "v1"]);
    assert_eq!(v1["files"], files);
    assert_eq!(v1["files_unchanged"], 0);
    let cache = e.data.join(".coffer/cache/stat");
    let before = inode(&cache);
    for batch in ["1", "2", "5", "1000"] {
        let v = commit(&e, batch, &["-m", "again"]);
        assert_eq!(v["files_unchanged"], files, "batch {batch}: {v}");
        assert_eq!(v["bytes_read"], 0, "batch {batch}: {v}");
        assert!(v["version"].is_null(), "batch {batch}: the same tree: {v}");
    }
    assert_eq!(
        inode(&cache),
        before,
        "an unchanged folder leaves the cache file as it was"
    );
}

#[test]
fn commits_in_any_batch_size_make_the_same_version() {
    let e = Env::new();
    fill(&e);
    e.ok(&["init"]);
    let v1 = commit(&e, "1", &["-m", "v1"]);
    let head = v1["version"].as_str().unwrap().to_string();
    // Without the cache every file is read again, in other batches: the same root tree.
    for batch in ["3", "100000"] {
        std::fs::remove_file(e.data.join(".coffer/cache/stat")).unwrap();
        let v = commit(&e, batch, &["-m", "again"]);
        assert_eq!(v["files_unchanged"], 0);
        assert!(v["version"].is_null(), "batch {batch}: {v}");
        assert_eq!(v["head"].as_str().unwrap(), head);
    }
    // An edit deep down, a file gone and one added, across batch boundaries.
    e.write("deep/1/2/3/4/5.csv", b"changed\n");
    std::fs::remove_file(e.data.join("a/x.csv")).unwrap();
    e.write("a/x1.csv", b"new\n");
    age(&e.data.join("deep/1/2/3/4/5.csv"));
    age(&e.data.join("a/x1.csv"));
    settle();
    let v2 = commit(&e, "2", &["-m", "v2"]);
    assert_eq!(v2["files"], NAMES.len() as u64);
    assert_eq!(v2["files_unchanged"], NAMES.len() as u64 - 2);
    assert_eq!(v2["bytes_read"], 12);
    let out = e.tmp.path().join("out");
    e.ok(&["checkout", "HEAD", "--to", out.to_str().unwrap()]);
    assert_eq!(snapshot(&out), snapshot(&e.data));
    e.ok(&["verify"]);
    // The file gone left the cache: the next commit hits every file that is there.
    let v3 = commit(&e, "4", &["-m", "v3"]);
    assert_eq!(v3["files_unchanged"], NAMES.len() as u64);
}

/// The cache is never trusted for integrity: damaged, it makes files be read, never a
/// wrong version, and the commit writes a good one.
#[test]
fn a_damaged_stat_cache_costs_reads_never_a_wrong_version() {
    let e = Env::new();
    fill(&e);
    e.ok(&["init"]);
    let v1 = commit(&e, "1000", &["-m", "v1"]);
    let head = v1["version"].as_str().unwrap().to_string();
    let cache = e.data.join(".coffer/cache/stat");
    let good = std::fs::read(&cache).unwrap();
    let files = NAMES.len() as u64;
    let mut flipped_count = good.clone();
    // The first record's chunk count (after the magic line, path, 33 bytes of metadata)
    // made huge: the record does not parse.
    let first_path = u32::from_le_bytes(good[20..24].try_into().unwrap()) as usize;
    let at = 24 + first_path + 33;
    flipped_count[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut other_path = good.clone();
    // A path changed to one the walk never sees: a miss for that file only.
    other_path[24] ^= 0x01;
    let cases: Vec<(&str, Vec<u8>, u64)> = vec![
        ("garbage", b"\xa1\x00not a cache at all".to_vec(), 0),
        ("empty", Vec::new(), 0),
        ("magic only", good[..20].to_vec(), 0),
        ("cut short", good[..good.len() / 2].to_vec(), 1),
        ("huge chunk count", flipped_count, 0),
        ("changed path", other_path, files - 1),
    ];
    for (what, bytes, at_least_hits) in cases {
        std::fs::write(&cache, &bytes).unwrap();
        let v = commit(&e, "3", &["-m", "again"]);
        assert!(v["version"].is_null(), "{what}: {v}");
        assert_eq!(v["head"].as_str().unwrap(), head, "{what}");
        let hits = v["files_unchanged"].as_u64().unwrap();
        assert!(hits >= at_least_hits && hits < files, "{what}: {hits} hits");
        // The commit wrote a whole cache again.
        let again = commit(&e, "3", &["-m", "again"]);
        assert_eq!(again["files_unchanged"], files, "{what}: {again}");
    }
    // A changed file under a cache entry that still names its old metadata is read.
    e.write("a.csv", b"new content\n");
    let v = commit(&e, "2", &["-m", "v2"]);
    assert_eq!(v["bytes_read"], 12);
    let out = e.tmp.path().join("out");
    e.ok(&["checkout", "HEAD", "--to", out.to_str().unwrap()]);
    assert_eq!(snapshot(&out), snapshot(&e.data));
}

/// A checkout into an empty folder walks the version in batches (the version checked
/// whole first): any batch size writes the same files, links and folders.
#[test]
fn checkout_into_an_empty_folder_in_any_batch_size_writes_the_version() {
    let e = Env::new();
    fill(&e);
    // Several chunks, and the same bytes in two files: one chunk read for both.
    let big = noise(3 << 20, 7);
    e.write("big/one.bin", &big);
    e.write("big/two.bin", &big);
    std::os::unix::fs::symlink("../a/x/y.csv", e.data.join("deep/up")).unwrap();
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    for batch in ["1", "2", "7", "100000"] {
        let out = e.tmp.path().join(format!("out-{batch}"));
        let o = e
            .coffer(&["checkout", "HEAD", "--to", out.to_str().unwrap(), "--json"])
            .env("COFFER_TEST_BATCH", batch)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["files_written"], NAMES.len() as u64 + 2, "batch {batch}");
        assert_eq!(snapshot(&out), snapshot(&e.data), "batch {batch}");
    }
}

/// The records of a stat cache file: (path, start of the record, start of its chunk count).
fn records(cache: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 20;
    while at < cache.len() {
        let n = u32::from_le_bytes(cache[at..at + 4].try_into().unwrap()) as usize;
        let path = String::from_utf8(cache[at + 4..at + 4 + n].to_vec()).unwrap();
        let count_at = at + 4 + n + 33;
        let count = u32::from_le_bytes(cache[count_at..count_at + 4].try_into().unwrap()) as usize;
        out.push((path, at, count_at));
        at = count_at + 4 + 32 * count;
    }
    out
}

/// Chunk ids in the cache are checked against the file's size before they stand for it: a
/// record with another file's ids (both one chunk, of different sizes) is a miss, not a
/// version whose file has the wrong length.
#[test]
fn cached_ids_that_do_not_add_up_to_the_file_are_not_trusted() {
    let e = Env::new();
    fill(&e);
    e.ok(&["init"]);
    let v1 = commit(&e, "1000", &["-m", "v1"]);
    let cache = e.data.join(".coffer/cache/stat");
    let mut bytes = std::fs::read(&cache).unwrap();
    let recs = records(&bytes);
    let id_of = |r: &(String, usize, usize)| r.2 + 4..r.2 + 36;
    let (a, b) = (&recs[0], &recs[1]);
    assert_eq!((a.0.as_str(), b.0.as_str()), ("a/b.csv", "a/x/y.csv"));
    let (ia, ib) = (bytes[id_of(a)].to_vec(), bytes[id_of(b)].to_vec());
    assert_ne!(ia, ib);
    bytes[id_of(a)].copy_from_slice(&ib);
    bytes[id_of(b)].copy_from_slice(&ia);
    std::fs::write(&cache, &bytes).unwrap();
    let v = commit(&e, "1000", &["-m", "again"]);
    assert!(v["version"].is_null(), "{v}");
    assert_eq!(v["head"], v1["version"]);
    assert_eq!(v["files_unchanged"], NAMES.len() as u64 - 2, "{v}");
    e.ok(&["verify"]);
}

/// A folder or FIFO where the cache file goes is removed, not an error (nor a hang).
#[test]
fn a_cache_path_that_is_not_a_file_is_replaced() {
    let e = Env::new();
    fill(&e);
    e.ok(&["init"]);
    commit(&e, "1000", &["-m", "v1"]);
    let cache = e.data.join(".coffer/cache/stat");
    std::fs::remove_file(&cache).unwrap();
    std::fs::create_dir_all(cache.join("inside")).unwrap();
    let v = commit(&e, "1000", &["-m", "again"]);
    assert!(v["version"].is_null(), "{v}");
    assert!(cache.is_file());
    std::fs::remove_file(&cache).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&cache)
        .status()
        .unwrap();
    assert!(made.success());
    let v = commit(&e, "1000", &["-m", "again"]);
    assert_eq!(v["files_unchanged"], 0, "{v}");
    assert!(cache.is_file());
    let v = commit(&e, "1000", &["-m", "again"]);
    assert_eq!(v["files_unchanged"], NAMES.len() as u64, "{v}");
}

/// A tool that puts an mtime back after a same-size write leaves only ctime to tell: a
/// file whose ctime is within the racy window of its read is not cached. The test clock
/// puts the read half an hour back, so the just-written file's ctime is "in the window".
#[test]
fn a_file_whose_ctime_is_not_a_tick_older_than_its_read_is_read_again() {
    let e = Env::new();
    e.write("f.csv", b"AAAA\n");
    let f = std::fs::File::options()
        .write(true)
        .open(e.data.join("f.csv"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    drop(f);
    e.ok(&["init"]);
    let out = e
        .coffer(&["commit", "-m", "v1", "--json"])
        .env("COFFER_TEST_CLOCK_SHIFT", "-1800")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = commit(&e, "1000", &["-m", "again", "--allow-empty"]);
    assert_eq!(
        v["bytes_read"], 5,
        "the file was cached with a fresh ctime: {v}"
    );
}

/// Status reads the cache by the same rule as commit: a record with ids that do not add
/// up to its file is not trusted (it would report unchanged files as modified).
#[test]
fn status_does_not_trust_cached_ids_that_do_not_fit_either() {
    let e = Env::new();
    fill(&e);
    e.ok(&["init"]);
    commit(&e, "1000", &["-m", "v1"]);
    let cache = e.data.join(".coffer/cache/stat");
    let mut bytes = std::fs::read(&cache).unwrap();
    let recs = records(&bytes);
    let (a, b) = (recs[0].2 + 4, recs[1].2 + 4);
    let (ia, ib) = (bytes[a..a + 32].to_vec(), bytes[b..b + 32].to_vec());
    bytes[a..a + 32].copy_from_slice(&ib);
    bytes[b..b + 32].copy_from_slice(&ia);
    std::fs::write(&cache, &bytes).unwrap();
    let status = e.ok(&["status", "--json"]);
    let changes: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(changes.as_array().map(Vec::len), Some(0), "{status}");
}
