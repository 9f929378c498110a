//! `coffer diff A B --rows`: which rows of CSV/TSV tables changed between two versions, by
//! key or by whole row, through the real binary: appended rows, a changed cell in the middle
//! of a multi-chunk file, reordered rows, header changes, quoted fields with commas and
//! newlines, BOM and CRLF; bad files (invalid UTF-8, a duplicate key, a missing key column)
//! are reported per file while the others are diffed.

mod util;

use serde_json::Value;
use util::Env;

fn big(changed_at: Option<usize>, extra: usize) -> Vec<u8> {
    let mut s = String::from("id,ward,places\n");
    for i in 0..(100_000 + extra) {
        let places = if Some(i) == changed_at { 999 } else { i % 97 };
        s.push_str(&format!("{i},W{:02},{places}\n", i % 33));
    }
    s.into_bytes()
}

fn find<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {v:#}"))
}

#[test]
fn rows_added_removed_and_changed_by_key_and_by_row() {
    let e = Env::new();
    e.write("big.csv", &big(None, 0));
    e.write("small.csv", b"id,name\n1,Acland\n2,Brecknock\n3,Camden\n");
    e.write("header.csv", b"id,ward,places\n1,W1,10\n2,W2,20\n");
    e.write(
        "quoted.csv",
        b"\xef\xbb\xbfid,note\r\n1,\"plain\"\r\n2,\"comma, and\nnewline\"\r\n",
    );
    e.write("places.tsv", b"id\tplaces\n1\t10\n2\t20\n");
    e.write("bad.csv", b"id,x\n1,a\n");
    e.write("dup.csv", b"id,x\n1,a\n2,b\n");
    e.write("notes.txt", b"not a table\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    // v2: three rows appended and one cell changed mid-file (4 MB: several chunks).
    e.write("big.csv", &big(Some(50_000), 3));
    e.write("small.csv", b"id,name\n3,Camden\n1,Acland\n2,Brecknock\n");
    e.write(
        "header.csv",
        b"id,area,places,year\n1,W1,10,2026\n2,W2,21,2026\n",
    );
    e.write(
        "quoted.csv",
        b"\xef\xbb\xbfid,note\r\n1,\"plain\"\r\n2,\"comma, and\nanother line\"\r\n",
    );
    e.write("places.tsv", b"id\tplaces\n1\t10\n2\t25\n3\t30\n");
    e.write("bad.csv", b"id,x\n1,\xff\xfe\n");
    e.write("dup.csv", b"id,x\n1,a\n1,b\n");
    e.write("notes.txt", b"still not a table\n");
    e.ok(&["commit", "-m", "v2"]);

    let out = e
        .coffer(&["diff", "HEAD~1", "HEAD", "--rows", "--key", "id", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();

    let b = find(&v, "big.csv");
    let added: Vec<&str> = b["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cells"][0].as_str().unwrap())
        .collect();
    assert_eq!(added, ["100000", "100001", "100002"]);
    assert_eq!(b["removed"].as_array().unwrap().len(), 0);
    let ch = b["changed"].as_array().unwrap();
    assert_eq!(ch.len(), 1, "{b:#}");
    assert_eq!(ch[0]["key"][0], "50000");
    assert_eq!(ch[0]["new_line"], 50_002);
    assert_eq!(ch[0]["cells"][0]["column"], "places");
    assert_eq!(ch[0]["cells"][0]["new"], "999");

    // Reordered rows, matched by key: no change at all, so not listed.
    assert!(!v
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "small.csv"));
    assert!(!v
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "notes.txt"));

    let h = find(&v, "header.csv");
    assert_eq!(h["columns_renamed"][0], serde_json::json!(["ward", "area"]));
    assert_eq!(h["columns_added"][0], "year");
    let ch = h["changed"].as_array().unwrap();
    // The new column is not compared (it has no old value); the renamed one is, by position.
    assert_eq!(ch.len(), 1, "{h:#}");
    let row2 = ch.iter().find(|c| c["key"][0] == "2").unwrap();
    assert_eq!(row2["cells"][0]["column"], "places");

    let q = find(&v, "quoted.csv");
    let c = &q["changed"][0]["cells"][0];
    assert_eq!(c["column"], "note");
    assert_eq!(c["old"], "comma, and\nnewline");
    assert_eq!(c["new"], "comma, and\nanother line");

    let t = find(&v, "places.tsv");
    assert_eq!(t["added"][0]["cells"], serde_json::json!(["3", "30"]));
    assert_eq!(t["changed"][0]["cells"][0]["new"], "25");

    let bad = find(&v, "bad.csv");
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("line 2: not valid UTF-8"),
        "{bad:#}"
    );
    let dup = find(&v, "dup.csv");
    let msg = dup["error"].as_str().unwrap();
    assert!(
        msg.contains("key 1 is not unique in the new version (lines 2 and 3)"),
        "{msg}"
    );

    // Without a key: a changed row is one removed and one added; reordering is no change.
    let out = e
        .coffer(&[
            "diff",
            "HEAD~1",
            "HEAD",
            "--rows",
            "--json",
            "--",
            "big.csv",
            "small.csv",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{v:#}");
    let b = find(&v, "big.csv");
    assert_eq!(b["added"].as_array().unwrap().len(), 4);
    assert_eq!(b["removed"].as_array().unwrap().len(), 1);
    assert_eq!(b["removed"][0]["line"], 50_002);

    // A key column missing on one side: a clear error naming the file.
    let out = e
        .coffer(&[
            "diff",
            "HEAD~1",
            "HEAD",
            "--rows",
            "--key",
            "ward",
            "--",
            "header.csv",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("header.csv: key column \"ward\" is not in the new version's header"),
        "{text}"
    );
    // Text output: a summary line per table and the rows, limited.
    let text = e.ok(&[
        "diff", "HEAD~1", "HEAD", "--rows", "--key", "id", "--limit", "2", "--", "big.csv",
    ]);
    assert!(
        text.contains("big.csv: 3 added, 0 removed, 1 changed"),
        "{text}"
    );
    assert!(text.contains("... 2 more"), "{text}");
    // Against the working folder.
    e.write(
        "small.csv",
        b"id,name\n3,Camden Town\n1,Acland\n2,Brecknock\n",
    );
    let text = e.ok(&["diff", "--rows", "--key", "id", "--", "small.csv"]);
    assert!(
        text.contains("name: \"Camden\" -> \"Camden Town\""),
        "{text}"
    );
}

// ---- Skipping unchanged chunks ------------------------------------------------------------
//
// Rows wholly inside a chunk both versions hold are not compared (spec: cli.md, `diff
// --rows`). These tests check the answer against a plain diff computed here from the rows
// as generated, so a skipped row that should have been reported fails them.

/// A row as generated: its line (where the record starts) and cells.
type GenRow = (u64, Vec<String>);

/// A small deterministic generator (no dependency, same rows on every run).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A cell, sometimes needing quotes: commas, quotes and newlines inside.
fn cell(r: &mut Rng, id: u64) -> String {
    match r.below(40) {
        0 => format!("note {id}, with a comma"),
        1 => format!("two\nlines {id}"),
        2 => format!("said \"{id}\""),
        _ => format!("v{}", r.below(1_000_000)),
    }
}

fn quote(c: &str) -> String {
    if c.contains([',', '"', '\n']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c.to_string()
    }
}

/// The file's bytes and each row with its line.
fn render(rows: &[Vec<String>]) -> (Vec<u8>, Vec<GenRow>) {
    let mut s = String::from("id,ward,note,places\n");
    let mut line = 2u64;
    let mut out = Vec::new();
    for r in rows {
        out.push((line, r.clone()));
        let text: Vec<String> = r.iter().map(|c| quote(c)).collect();
        let text = text.join(",");
        line += 1 + text.matches('\n').count() as u64;
        s.push_str(&text);
        s.push('\n');
    }
    (s.into_bytes(), out)
}

/// What `diff --rows` must say, computed plainly: (added, removed, changed) as sorted
/// comparable values. Keyed by the first column, or by whole rows (ids are unique, so
/// every row is).
fn expected(old: &[GenRow], new: &[GenRow], keyed: bool) -> (Value, Value, Value) {
    use std::collections::BTreeMap;
    let k = |r: &GenRow| {
        if keyed {
            vec![r.1[0].clone()]
        } else {
            r.1.clone()
        }
    };
    let a: BTreeMap<Vec<String>, &GenRow> = old.iter().map(|r| (k(r), r)).collect();
    let b: BTreeMap<Vec<String>, &GenRow> = new.iter().map(|r| (k(r), r)).collect();
    let row = |r: &GenRow| serde_json::json!({"line": r.0, "cells": r.1});
    let mut added: Vec<Value> = b
        .iter()
        .filter(|(key, _)| !a.contains_key(*key))
        .map(|(_, r)| row(r))
        .collect();
    let mut removed: Vec<Value> = a
        .iter()
        .filter(|(key, _)| !b.contains_key(*key))
        .map(|(_, r)| row(r))
        .collect();
    let names = ["id", "ward", "note", "places"];
    let mut changed: Vec<Value> = Vec::new();
    for (key, n) in &b {
        let Some(o) = a.get(key) else { continue };
        let cells: Vec<Value> = (0..4)
            .filter(|i| o.1[*i] != n.1[*i])
            .map(|i| serde_json::json!({"column": names[i], "old": o.1[i], "new": n.1[i]}))
            .collect();
        if keyed && !cells.is_empty() {
            changed.push(
                serde_json::json!({"key": key, "old_line": o.0, "new_line": n.0, "cells": cells}),
            );
        }
    }
    let by_line = |v: &mut Vec<Value>, f: &str| v.sort_by_key(|x| x[f].as_u64());
    by_line(&mut added, "line");
    by_line(&mut removed, "line");
    by_line(&mut changed, "new_line");
    (added.into(), removed.into(), changed.into())
}

/// `diff --rows` of big.csv as JSON (`None`: no differences, so the file is not listed).
fn rows_of(e: &Env, args: &[&str]) -> Option<Value> {
    let out = e.coffer(args).output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "big.csv")
        .cloned()
}

#[test]
fn skipping_unchanged_chunks_gives_the_plain_answer() {
    for seed in [7u64, 99, 2026] {
        let mut r = Rng(seed);
        let e = Env::new();
        // About 6 MB: a dozen chunks.
        let mut rows: Vec<Vec<String>> = (0..250_000u64)
            .map(|i| {
                vec![
                    i.to_string(),
                    format!("W{:02}", i % 33),
                    cell(&mut r, i),
                    (i % 97).to_string(),
                ]
            })
            .collect();
        let (bytes, old) = render(&rows);
        e.write("big.csv", &bytes);
        e.ok(&["init"]);
        e.ok(&["commit", "-m", "v1"]);
        // A few edits: cells changed, rows removed, inserted, moved and appended.
        let mut next_id = 1_000_000u64;
        for _ in 0..(2 + r.below(3)) {
            let at = r.below(rows.len() as u64) as usize;
            match r.below(5) {
                0 => rows[at][3] = "999".into(),
                1 => rows[at][2] = cell(&mut r, at as u64 + 7),
                2 => {
                    rows.remove(at);
                }
                3 => {
                    next_id += 1;
                    let c = cell(&mut r, next_id);
                    rows.insert(at, vec![next_id.to_string(), "W99".into(), c, "1".into()]);
                }
                _ => {
                    let row = rows.remove(at);
                    rows.insert(r.below(rows.len() as u64) as usize, row);
                }
            }
        }
        rows.push(vec![
            "2000000".into(),
            "W01".into(),
            "last".into(),
            "5".into(),
        ]);
        let (bytes, new) = render(&rows);
        e.write("big.csv", &bytes);
        e.ok(&["commit", "-m", "v2"]);
        for keyed in [true, false] {
            let key: &[&str] = if keyed { &["--key", "id"] } else { &[] };
            let (added, removed, changed) = expected(&old, &new, keyed);
            let versions = [&["diff", "HEAD~1", "HEAD", "--rows", "--json"][..], key].concat();
            let folder = [&["diff", "HEAD~1", "--rows", "--json"][..], key].concat();
            for args in [versions, folder] {
                let d = rows_of(&e, &args).unwrap_or_else(|| panic!("seed {seed}: no diff"));
                let what = format!("seed {seed}, {args:?}");
                assert_eq!(d["added"], added, "{what}");
                assert_eq!(d["removed"], removed, "{what}");
                if keyed {
                    assert_eq!(d["changed"], changed, "{what}");
                }
                // Rows were matched by their chunks, not compared (how many depends on
                // where the repository's keyed chunker cut the file: the edits can reach
                // most of a dozen chunks, so no more than "some" is certain; none means
                // the diff fell back to reading every row).
                let skipped = d["rows_skipped"].as_u64().unwrap_or(0);
                assert!(skipped > 0, "{what}: no rows skipped");
            }
        }
    }
}

#[test]
fn an_edit_that_opens_a_quote_is_read_again_without_skipping() {
    // After the edit, the rest of the new file is one quoted cell: the chunks after it are
    // the same bytes on both sides but parse into other records. Skipping them would hide
    // every row after the edit.
    let e = Env::new();
    let rows: Vec<Vec<String>> = (0..250_000u64)
        .map(|i| vec![i.to_string(), "W01".into(), format!("v{i}"), "1".into()])
        .collect();
    let (bytes, _) = render(&rows);
    e.write("big.csv", &bytes);
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let text = String::from_utf8(bytes).unwrap();
    let edited = text.replacen("\n40000,W01,v40000,1\n", "\n40000,W01,\"v40000,1\n", 1);
    assert_ne!(edited, text);
    e.write("big.csv", edited.as_bytes());
    e.ok(&["commit", "-m", "v2"]);

    let d = rows_of(
        &e,
        &["diff", "HEAD~1", "HEAD", "--rows", "--key", "id", "--json"],
    )
    .unwrap();
    assert_eq!(
        d["removed"].as_array().unwrap().len(),
        209_999,
        "rows after the quote"
    );
    assert_eq!(d["removed"][0]["cells"][0], "40001");
    let ch = d["changed"].as_array().unwrap();
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0]["key"][0], "40000");
    let note = ch[0]["cells"][0]["new"].as_str().unwrap();
    assert!(
        note.starts_with("v40000,1\n40001,W01,v40001,1\n"),
        "{}",
        &note[..40]
    );
    // Read again without skipping (the shared chunks before the edit would have skipped
    // rows): nothing is skipped.
    assert_eq!(d.get("rows_skipped"), None);

    let d = rows_of(&e, &["diff", "HEAD~1", "HEAD", "--rows", "--json"]).unwrap();
    assert_eq!(d["removed"].as_array().unwrap().len(), 210_000);
    assert_eq!(d["added"].as_array().unwrap().len(), 1);
}

/// Commit `v1` (80,000 plain rows, changed by `before`), then `v1` changed by `edit`; the
/// keyed row diff of the two and the old version's rows with their lines.
fn keyed_pair(
    e: &Env,
    before: impl Fn(&mut Vec<Vec<String>>),
    edit: impl Fn(&mut Vec<Vec<String>>),
) -> (Value, Vec<GenRow>, Vec<GenRow>) {
    keyed_pair_of(e, 80_000, before, edit)
}

fn keyed_pair_of(
    e: &Env,
    n: u64,
    before: impl Fn(&mut Vec<Vec<String>>),
    edit: impl Fn(&mut Vec<Vec<String>>),
) -> (Value, Vec<GenRow>, Vec<GenRow>) {
    let mut rows: Vec<Vec<String>> = (0..n)
        .map(|i| vec![i.to_string(), "W01".into(), format!("v{i}"), "1".into()])
        .collect();
    before(&mut rows);
    let (bytes, old) = render(&rows);
    e.write("big.csv", &bytes);
    e.ok(&["commit", "-m", "before"]);
    edit(&mut rows);
    let (bytes, new) = render(&rows);
    e.write("big.csv", &bytes);
    e.ok(&["commit", "-m", "after"]);
    let args = ["diff", "HEAD~1", "HEAD", "--rows", "--key", "id", "--json"];
    (rows_of(e, &args).unwrap(), old, new)
}

fn not_unique(key: &str, side: &str, a: u64, b: u64) -> String {
    format!("big.csv: key {key} is not unique in the {side} version (lines {a} and {b}); choose key columns that identify one row")
}

/// A row inserted at 40,000: the lines after it move (errors give the old version's).
fn insert_row(rows: &mut Vec<Vec<String>>) {
    let row = vec!["9000000".into(), "W01".into(), "new".into(), "1".into()];
    rows.insert(40_000, row);
}

#[test]
fn duplicate_keys_in_unchanged_chunks_are_still_found() {
    // The uniqueness of the key is checked over every row, skipped or not.
    let e = Env::new();
    e.ok(&["init"]);
    // Both versions repeat id 500 far apart, in chunks they share.
    let (d, old, _) = keyed_pair(&e, |r| r[70_000][0] = "500".into(), insert_row);
    let (a, b) = (old[500].0, old[70_000].0);
    assert_eq!(d["error"], not_unique("500", "old", a, b));

    // A row in an edited chunk repeats the key of a row in a shared chunk, in both versions.
    let (d, old, _) = keyed_pair(&e, |r| r[40_001][0] = "70000".into(), insert_row);
    let (a, b) = (old[40_001].0, old[70_000].0);
    assert_eq!(d["error"], not_unique("70000", "old", a, b));

    // A new row takes the key of a row in a shared chunk.
    let appended = |r: &mut Vec<Vec<String>>| {
        r.push(vec!["123".into(), "W02".into(), "again".into(), "3".into()])
    };
    let (d, old, new) = keyed_pair(&e, |_| {}, appended);
    assert_eq!(
        d["error"],
        not_unique("123", "new", old[123].0, new[80_000].0)
    );
}

#[test]
fn duplicate_keys_are_found_whichever_thread_hashes_the_shared_chunk() {
    // The rows of every other shared chunk are hashed by the old version's thread, the
    // rest by the new one's: a repeated key must be found in either, before or after the
    // row it repeats, whether or not that row was matched first. 400,000 rows make about
    // a dozen chunks; the shared row sits in seven of them.
    let e = Env::new();
    e.ok(&["init"]);
    let at = 200_000;
    for p in [
        2_000usize, 60_000, 120_000, 180_000, 260_000, 330_000, 390_000,
    ] {
        let key = p.to_string();
        // Only the new version repeats it: a row inserted mid-file takes the key.
        let (d, _, new) = keyed_pair_of(
            &e,
            400_000,
            |_| {},
            |r| {
                r.insert(
                    at,
                    vec![key.clone(), "W09".into(), "dup".into(), "1".into()],
                )
            },
        );
        let shared = new[if p < at { p } else { p + 1 }].0;
        let (a, b) = (new[at].0.min(shared), new[at].0.max(shared));
        assert_eq!(d["error"], not_unique(&key, "new", a, b), "row {p}, new");

        // Both versions repeat it: a row next to the edit (matched first) holds the key.
        let (d, old, _) = keyed_pair_of(
            &e,
            400_000,
            |r| r[at + 1][0] = key.clone(),
            |r| insert_row_at(r, at),
        );
        let (a, b) = (old[at + 1].0.min(old[p].0), old[at + 1].0.max(old[p].0));
        assert_eq!(d["error"], not_unique(&key, "old", a, b), "row {p}, both");

        // Only the old version repeats it: the new one gives the row its own key back.
        let (d, old, _) = keyed_pair_of(
            &e,
            400_000,
            |r| r[at + 1][0] = key.clone(),
            |r| r[at + 1][0] = (at + 1).to_string(),
        );
        let (a, b) = (old[at + 1].0.min(old[p].0), old[at + 1].0.max(old[p].0));
        assert_eq!(d["error"], not_unique(&key, "old", a, b), "row {p}, old");
    }
}

fn insert_row_at(rows: &mut Vec<Vec<String>>, at: usize) {
    let row = vec!["9000000".into(), "W01".into(), "new".into(), "1".into()];
    rows.insert(at, row);
}

/// A table of exactly 2 MiB: a two-letter header, then `k` rows "x" and a last "x" without
/// a newline. The chunker cuts a run of "x\n" at its largest chunk size whatever its key,
/// so these bytes are one chunk wherever they start a file.
fn one_largest_chunk(header: &str) -> (String, usize) {
    assert_eq!(header.len(), 2);
    let k = (2 * 1024 * 1024 - 4) / 2;
    let t = format!("{header}\n{}x", "x\n".repeat(k));
    assert_eq!(t.len(), 2 * 1024 * 1024);
    (t, k)
}

#[test]
fn a_last_row_without_a_newline_that_goes_on_in_the_next_version_is_compared() {
    // The old file is exactly one chunk long (the chunker cuts a run of "x\n" at its
    // largest size, 2 MiB, whatever the key) and ends without a newline; the new one holds
    // the same 2 MiB, so the same first chunk, then "y\n": its last row is "xy". A row
    // ending where its file does must not count as lying inside a chunk both sides hold.
    let e = Env::new();
    let (old, k) = one_largest_chunk("vv");
    e.write("big.csv", old.as_bytes());
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    e.write("big.csv", format!("{old}y\n").as_bytes());
    e.ok(&["commit", "-m", "v2"]);
    let d = rows_of(&e, &["diff", "HEAD~1", "HEAD", "--rows", "--json"]).unwrap();
    // One of the identical "x" rows is gone (which one's line is named is not defined).
    let removed = d["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0]["cells"], serde_json::json!(["x"]));
    let last = k as u64 + 2;
    assert_eq!(
        d["added"],
        serde_json::json!([{"line": last, "cells": ["xy"]}])
    );
}

#[test]
fn the_working_folder_side_leaves_out_unchanged_and_deleted_tables() {
    // Only tables present on both sides whose bytes differ are diffed, as between two
    // versions: an untouched table with a repeated key and a ragged row is not read (no
    // error, not listed), a table deleted from the folder is not listed.
    let e = Env::new();
    e.write("t.csv", b"id,v\n1,a\n1,b\n2,c,extra\n");
    e.write("o.csv", b"id,v\n1,a\n");
    e.write("gone.csv", b"id,v\n1,a\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    std::fs::remove_file(e.data.join("gone.csv")).unwrap();
    for key in [&["--key", "id"][..], &[]] {
        let args = [&["diff", "HEAD", "--rows", "--json"][..], key].concat();
        assert_eq!(e.ok(&args).trim(), "[]", "{args:?}");
    }
    e.write("o.csv", b"id,v\n1,b\n");
    let out = e.ok(&["diff", "HEAD", "--rows", "--json", "--key", "id"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let listed: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["o.csv"]);
    assert_eq!(v[0]["changed"][0]["cells"][0]["new"], "b");
}

#[test]
fn a_working_file_cut_short_while_diffed_is_read_again_without_skipping() {
    // The diff takes the working file's chunk ids (its first 2 MiB, a run of "x\n" the
    // chunker cuts at its largest size whatever the key, are the old version's first
    // chunk, not its last), then the file is cut to exactly that chunk before it is
    // parsed: that chunk is now the file's last, and its last row, "x" without a newline,
    // ends there while the old version's goes on ("xz"). Skipping that chunk would lose
    // the row; the diff must notice and read again.
    let e = Env::new();
    let (a, _) = one_largest_chunk("hh");
    // Under 128 KiB, the smallest chunk: the rest is one chunk, never shared.
    let rest: String = (0..10_000).map(|i| format!("r{i}\n")).collect();
    assert!(rest.len() < 128 * 1024);
    e.write("big.csv", format!("{a}z\n{rest}").as_bytes());
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    e.write("big.csv", format!("{a}z\n{rest}r-last\n").as_bytes());
    let (mut child, flag) = e.spawn_resumable(&["diff", "HEAD", "--rows", "--json"], "rows");
    e.write("big.csv", a.as_bytes());
    std::fs::remove_file(&flag).unwrap();
    assert!(child.wait().unwrap().success());
    let out = std::fs::read(flag.with_extension("stdout")).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let d = &v[0];
    assert_eq!(d["path"], "big.csv");
    // Against the old version: the k "x" rows are in both, "xz" and the 10,000 "r" rows
    // are gone, one more "x" (the cut one) is new.
    let added = d["added"].as_array().unwrap();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0]["cells"], serde_json::json!(["x"]));
    let removed = d["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 10_001);
    assert_eq!(removed[0]["cells"], serde_json::json!(["xz"]));
}
