//! Attack review of two features through the real binary: `coffer diff A B --rows` (row
//! differences of CSV/TSV tables) and the hub (`coffer list HUB`, `coffer clone HUB NAME DIR`),
//! with folder hubs. Promises checked (spec/cli.md "The hub" and `diff ... --rows`):
//! no input panics (exit 101) or hangs; row diffs are right (by key, multiset without key,
//! quoting, CRLF, BOM, TSV, ragged, empty and header-only files, binary, reordered columns,
//! two-column keys, duplicate and empty column names, a 10 MB cell, 10,000 columns, invalid
//! UTF-8 and non-unique keys reported per file); memory stays bounded on a large table; `list`
//! finds every dataset at any depth and reports what it cannot read and goes on; `clone HUB
//! NAME DIR` refuses ambiguous names and never clones another dataset than the one it pinned.
//! Every finding of the review is fixed and its test runs; none is ignored.

mod util;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use util::Env;

/// Generous: every command here normally ends in seconds; this only catches hangs.
const HANG: u64 = 300;

/// What a command did.
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

/// `coffer ARGS` as `e`'s identity in `e.data`, as a plain command.
fn cmd(e: &Env, args: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("coffer"));
    c.env("COFFER_IDENTITY", &e.id)
        .env("XDG_CONFIG_HOME", e.tmp.path().join("config"))
        .env_remove("COFFER_PASSPHRASE")
        .current_dir(&e.data)
        .args(args);
    c
}

/// Run `c` with stdout and stderr in files (no pipe to fill), killed after `secs`.
fn run_cmd(mut c: Command, scratch: &Path, secs: u64, keep_stdout: bool) -> Out {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let o = scratch.join(format!("out-{n}"));
    let er = scratch.join(format!("err-{n}"));
    c.stdin(Stdio::null())
        .stdout(if keep_stdout {
            Stdio::from(std::fs::File::create(&o).unwrap())
        } else {
            Stdio::null()
        })
        .stderr(std::fs::File::create(&er).unwrap());
    let mut child = c.spawn().unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    let out = Out {
        code: status.and_then(|s| s.code()),
        stdout: read(&o),
        stderr: read(&er),
        timed_out: status.is_none(),
    };
    let _ = std::fs::remove_file(&o);
    let _ = std::fs::remove_file(&er);
    out
}

fn run(e: &Env, args: &[&str]) -> Out {
    run_cmd(cmd(e, args), e.tmp.path(), HANG, true)
}

/// Promise (1): it ended by itself, with an exit code, and not by a panic.
fn sane(o: &Out, what: &str) {
    assert!(!o.timed_out, "{what}: still running after {HANG} s (hang)");
    assert!(
        o.code.is_some(),
        "{what}: killed by a signal; stderr {}",
        o.stderr
    );
    assert_ne!(o.code, Some(101), "{what}: panicked: {}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{what}: {}", o.stderr);
}

// ---------------------------------------------------------------------------------------
// diff --rows
// ---------------------------------------------------------------------------------------

/// A dataset with `old` committed as v1 and `new` (written over it) as v2.
fn two(old: &[(&str, &[u8])], new: &[(&str, &[u8])]) -> Env {
    let e = Env::new();
    for (p, b) in old {
        e.write(p, b);
    }
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    for (p, b) in new {
        e.write(p, b);
    }
    e.ok(&["commit", "-m", "v2"]);
    e
}

/// `coffer diff HEAD~1 HEAD --rows --json EXTRA...`: exit code and the JSON array; the text
/// form is run too (it must not panic either, and exits the same).
fn rowdiff(e: &Env, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["diff", "HEAD~1", "HEAD", "--rows"];
    args.extend_from_slice(extra);
    let text = run(e, &args);
    sane(&text, &format!("{args:?}"));
    args.insert(4, "--json");
    let o = run(e, &args);
    sane(&o, &format!("{args:?}"));
    assert_eq!(
        text.code, o.code,
        "text and JSON exit differently: {}",
        text.stderr
    );
    let v: Value = serde_json::from_str(&o.stdout)
        .unwrap_or_else(|err| panic!("{args:?}: not JSON ({err}): {} / {}", o.stdout, o.stderr));
    (o.code, v)
}

fn table<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {v:#}"))
}

fn absent(v: &Value, path: &str) {
    assert!(
        !v.as_array().unwrap().iter().any(|f| f["path"] == path),
        "{path} should not be listed: {v:#}"
    );
}

/// A full table result, for exact comparison.
#[allow(clippy::too_many_arguments)]
fn tdiff(
    path: &str,
    old_header: &[&str],
    new_header: &[&str],
    added: Value,
    removed: Value,
    changed: Value,
    ragged: Value,
) -> Value {
    json!({"path": path, "old_header": old_header, "new_header": new_header,
        "columns_added": [], "columns_removed": [], "columns_renamed": [],
        "added": added, "removed": removed, "changed": changed, "ragged": ragged})
}

#[test]
fn keyed_rows_added_removed_changed_and_reordering_is_no_change() {
    let e = two(
        &[
            ("t.csv", b"id,name,n\n1,A,1\n2,B,2\n3,C,3\n"),
            ("same.csv", b"id,name\n1,A\n2,B\n3,C\n"),
        ],
        &[
            ("t.csv", b"id,name,n\n3,C,3\n1,A,10\n4,D,4\n"),
            ("same.csv", b"id,name\n3,C\n1,A\n2,B\n"),
        ],
    );
    let (code, v) = rowdiff(&e, &["--key", "id"]);
    assert_eq!(code, Some(0));
    assert_eq!(v.as_array().unwrap().len(), 1, "{v:#}");
    assert_eq!(
        table(&v, "t.csv"),
        &tdiff(
            "t.csv",
            &["id", "name", "n"],
            &["id", "name", "n"],
            json!([{"line": 4, "cells": ["4", "D", "4"]}]),
            json!([{"line": 3, "cells": ["2", "B", "2"]}]),
            json!([{"key": ["1"], "old_line": 2, "new_line": 3,
                    "cells": [{"column": "n", "old": "1", "new": "10"}]}]),
            json!([])
        )
    );
    // Without a key: the reordered table is still no change; the changed row is one removed
    // and one added.
    let (code, v) = rowdiff(&e, &[]);
    assert_eq!(code, Some(0));
    absent(&v, "same.csv");
    let t = table(&v, "t.csv");
    assert_eq!(t["changed"], json!([]));
    assert_eq!(
        t["added"],
        json!([{"line": 3, "cells": ["1", "A", "10"]}, {"line": 4, "cells": ["4", "D", "4"]}])
    );
    assert_eq!(
        t["removed"],
        json!([{"line": 2, "cells": ["1", "A", "1"]}, {"line": 3, "cells": ["2", "B", "2"]}])
    );
}

#[test]
fn unkeyed_duplicates_are_a_multiset() {
    let e = two(
        &[
            ("m.csv", b"v\na\na\nb\n"),
            ("shuffled.csv", b"v\na\na\nb\n"),
            ("three.csv", b"v,w\nx,y\nx,y\nx,y\n"),
        ],
        &[
            ("m.csv", b"v\na\nb\nb\n"),
            ("shuffled.csv", b"v\nb\na\na\n"),
            ("three.csv", b"v,w\nx,y\n"),
        ],
    );
    let (code, v) = rowdiff(&e, &[]);
    assert_eq!(code, Some(0));
    absent(&v, "shuffled.csv");
    let m = table(&v, "m.csv");
    assert_eq!(m["changed"], json!([]));
    let removed = m["removed"].as_array().unwrap();
    let added = m["added"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "{m:#}");
    assert_eq!(added.len(), 1, "{m:#}");
    assert_eq!(removed[0]["cells"], json!(["a"]));
    assert!(
        [2, 3].contains(&removed[0]["line"].as_u64().unwrap()),
        "{m:#}"
    );
    assert_eq!(added[0]["cells"], json!(["b"]));
    assert!(
        [3, 4].contains(&added[0]["line"].as_u64().unwrap()),
        "{m:#}"
    );
    // Three identical rows down to one: two removed.
    let t = table(&v, "three.csv");
    assert_eq!(t["added"], json!([]));
    assert_eq!(t["removed"].as_array().unwrap().len(), 2, "{t:#}");
    assert!(t["removed"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["cells"] == json!(["x", "y"])));
}

#[test]
fn quoted_fields_with_delimiters_quotes_and_newlines() {
    let old: &[u8] = b"id,note\n1,\"a,b\"\n2,\"say \"\"hi\"\"\"\n3,\"multi\nline\"\n4,x\n";
    let new: &[u8] =
        b"id,note\n1,\"a,b\"\n2,\"say \"\"bye\"\"\"\n3,\"multi\nline\nmore\"\n4,y\n5,\"new\r\nrow\"\n";
    let e = two(&[("q.csv", old)], &[("q.csv", new)]);
    let (code, v) = rowdiff(&e, &["--key", "id"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        table(&v, "q.csv"),
        &tdiff(
            "q.csv",
            &["id", "note"],
            &["id", "note"],
            json!([{"line": 8, "cells": ["5", "new\r\nrow"]}]),
            json!([]),
            json!([
                {"key": ["2"], "old_line": 3, "new_line": 3,
                 "cells": [{"column": "note", "old": "say \"hi\"", "new": "say \"bye\""}]},
                {"key": ["3"], "old_line": 4, "new_line": 4,
                 "cells": [{"column": "note", "old": "multi\nline", "new": "multi\nline\nmore"}]},
                {"key": ["4"], "old_line": 6, "new_line": 7,
                 "cells": [{"column": "note", "old": "x", "new": "y"}]}
            ]),
            json!([])
        )
    );
}

#[test]
fn crlf_and_lf_are_the_same_records_and_a_bom_is_dropped() {
    let e = two(
        &[
            ("crlf.csv", b"id,x\n1,a\n2,b\n"),
            ("crlf2.csv", b"id,x\n1,a\n2,b\n"),
            ("bom.csv", b"id,x\n1,a\n2,b\n"),
            ("bomq.csv", b"\xef\xbb\xbf\"id\",\"x\"\n1,a\n2,b\n"),
        ],
        &[
            ("crlf.csv", b"id,x\r\n1,a\r\n2,b\r\n"),
            ("crlf2.csv", b"id,x\r\n1,a\r\n2,c\r\n"),
            ("bom.csv", b"\xef\xbb\xbfid,x\n1,a\n2,c\n"),
            ("bomq.csv", b"\xef\xbb\xbf\"id\",\"x\"\r\n1,a\r\n2,c\r\n"),
        ],
    );
    let (code, v) = rowdiff(&e, &["--key", "id"]);
    assert_eq!(code, Some(0), "{v:#}");
    absent(&v, "crlf.csv");
    let changed2 = json!([{"key": ["2"], "old_line": 3, "new_line": 3,
        "cells": [{"column": "x", "old": "b", "new": "c"}]}]);
    assert_eq!(
        table(&v, "bom.csv"),
        &tdiff(
            "bom.csv",
            &["id", "x"],
            &["id", "x"],
            json!([]),
            json!([]),
            changed2.clone(),
            json!([])
        )
    );
    // CRLF files: the same records and cells (their line numbers: see the finding below).
    for p in ["crlf2.csv", "bomq.csv"] {
        let mut t = table(&v, p).clone();
        for c in t["changed"].as_array_mut().unwrap() {
            c.as_object_mut().unwrap().remove("new_line");
        }
        let mut want = tdiff(
            p,
            &["id", "x"],
            &["id", "x"],
            json!([]),
            json!([]),
            changed2.clone(),
            json!([]),
        );
        want["changed"][0]
            .as_object_mut()
            .unwrap()
            .remove("new_line");
        assert_eq!(t, want, "{p}");
    }
}

#[test]
fn crlf_line_numbers_are_where_the_record_starts() {
    let e = two(
        &[("c.csv", b"id,x\r\n1,a\r\n2,b\r\n")],
        &[("c.csv", b"id,x\r\n1,A\r\n2,b\r\n3,c\r\n")],
    );
    let (code, v) = rowdiff(&e, &["--key", "id"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        table(&v, "c.csv"),
        &tdiff(
            "c.csv",
            &["id", "x"],
            &["id", "x"],
            json!([{"line": 4, "cells": ["3", "c"]}]),
            json!([]),
            json!([{"key": ["1"], "old_line": 2, "new_line": 2,
                    "cells": [{"column": "x", "old": "a", "new": "A"}]}]),
            json!([])
        )
    );
}

#[test]
fn tsv_tabs_delimit_commas_do_not() {
    let e = two(
        &[("t.tsv", b"id\tx\n1\ta,b\n2\tb\n")],
        &[("t.tsv", b"id\tx\n1\ta,b\n2\tc,d\n3\t\"q\t\nr\"\n")],
    );
    let (code, v) = rowdiff(&e, &["--key", "id"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        table(&v, "t.tsv"),
        &tdiff(
            "t.tsv",
            &["id", "x"],
            &["id", "x"],
            json!([{"line": 4, "cells": ["3", "q\t\nr"]}]),
            json!([]),
            json!([{"key": ["2"], "old_line": 3, "new_line": 3,
                    "cells": [{"column": "x", "old": "b", "new": "c,d"}]}]),
            json!([])
        )
    );
}

#[test]
fn ragged_rows_are_reported_not_fatal() {
    let e = two(
        &[
            ("r.csv", b"id,x\n1,a\n2,b\n3,c\n"),
            ("ok.csv", b"id,x\n1,a\n"),
        ],
        &[
            ("r.csv", b"id,x\n1,a,extra\n2\n3,d\n"),
            ("ok.csv", b"id,x\n1,b\n"),
        ],
    );
    let (code, v) = rowdiff(&e, &["--key", "id"]);
    assert_eq!(code, Some(0), "ragged rows are not an error: {v:#}");
    let r = table(&v, "r.csv");
    assert_eq!(r["ragged"], json!([["new", 2, 3], ["new", 3, 1]]));
    assert_eq!(
        r["changed"],
        json!([
            {"key": ["2"], "old_line": 3, "new_line": 3,
             "cells": [{"column": "x", "old": "b", "new": ""}]},
            {"key": ["3"], "old_line": 4, "new_line": 4,
             "cells": [{"column": "x", "old": "c", "new": "d"}]}
        ])
    );
    assert_eq!(table(&v, "ok.csv")["changed"][0]["cells"][0]["new"], "b");
    // Unkeyed, the ragged rows are compared as they are (cells and all).
    let (code, v) = rowdiff(&e, &["--", "r.csv"]);
    assert_eq!(code, Some(0));
    let r = table(&v, "r.csv");
    assert_eq!(
        r["added"],
        json!([{"line": 2, "cells": ["1", "a", "extra"]}, {"line": 3, "cells": ["2"]},
               {"line": 4, "cells": ["3", "d"]}])
    );
}

#[test]
fn empty_and_header_only_files_do_not_stop_the_others() {
    let e = two(
        &[
            ("e1.csv", b""),
            ("e2.csv", b"id,x\n1,a\n"),
            ("h1.csv", b"id,x\n"),
            ("h2.csv", b"id,x\n1,a\n2,b\n"),
            ("h3.csv", b"id,x\n"),
            ("ok.csv", b"id,x\n1,a\n"),
        ],
        &[
            ("e1.csv", b"id,x\n1,a\n"),
            ("e2.csv", b""),
            ("h1.csv", b"id,x\n1,a\n2,b\n"),
            ("h2.csv", b"id,x\n"),
            ("h3.csv", b"id,y\n"),
            ("ok.csv", b"id,x\n1,b\n"),
        ],
    );
    for key in [&["--key", "id"][..], &[][..]] {
        let (_, v) = rowdiff(&e, key);
        assert_eq!(
            table(&v, "ok.csv")["changed"].as_array().map(|a| a.len()),
            if key.is_empty() { Some(0) } else { Some(1) }
        );
        assert_eq!(
            table(&v, "h1.csv")["added"],
            json!([{"line": 2, "cells": ["1", "a"]}, {"line": 3, "cells": ["2", "b"]}])
        );
        assert_eq!(
            table(&v, "h2.csv")["removed"],
            json!([{"line": 2, "cells": ["1", "a"]}, {"line": 3, "cells": ["2", "b"]}])
        );
        // Empty files: listed (as an error or as a diff), never fatal.
        table(&v, "e1.csv");
        table(&v, "e2.csv");
    }
    let (code, v) = rowdiff(&e, &["--", "h3.csv"]);
    assert_eq!(code, Some(0));
    assert_eq!(table(&v, "h3.csv")["columns_renamed"], json!([["x", "y"]]));
}

#[test]
fn an_empty_file_diffs_as_all_rows_added_or_removed() {
    let e = two(
        &[("e1.csv", b""), ("e2.csv", b"id,x\n1,a\n")],
        &[("e1.csv", b"id,x\n1,a\n"), ("e2.csv", b"")],
    );
    let (code, v) = rowdiff(&e, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    let e1 = table(&v, "e1.csv");
    assert_eq!(e1["columns_added"], json!(["id", "x"]), "{e1:#}");
    assert_eq!(e1["added"], json!([{"line": 2, "cells": ["1", "a"]}]));
    let e2 = table(&v, "e2.csv");
    assert_eq!(e2["columns_removed"], json!(["id", "x"]), "{e2:#}");
    assert_eq!(e2["removed"], json!([{"line": 2, "cells": ["1", "a"]}]));
}

#[test]
fn a_file_that_becomes_binary_is_an_error_for_that_file_only() {
    let mut bin = util::noise(5000, 7);
    bin[0] = 0xff; // surely not UTF-8 on the first line
    let e = two(
        &[
            ("b.csv", b"id,x\n1,a\n"),
            ("nul.csv", b"id,x\n1,a\n"),
            ("ok.csv", b"id,x\n1,a\n"),
        ],
        &[
            ("b.csv", &bin),
            ("nul.csv", b"\x00\x01,\x02\n\x00\x00\x00,,,,\n"),
            ("ok.csv", b"id,x\n1,b\n"),
        ],
    );
    let (code, v) = rowdiff(&e, &["--key", "id"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        table(&v, "b.csv"),
        &json!({"path": "b.csv", "error": "b.csv: new version, line 1: not valid UTF-8"})
    );
    // Valid UTF-8 with NULs: just another table (without the key column).
    assert!(table(&v, "nul.csv")["error"]
        .as_str()
        .unwrap()
        .contains("key column \"id\" is not in the new version's header"));
    assert_eq!(table(&v, "ok.csv")["changed"][0]["cells"][0]["new"], "b");
    let (code, v) = rowdiff(&e, &["--", "nul.csv"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        table(&v, "nul.csv")["new_header"],
        json!(["\u{0}\u{1}", "\u{2}"])
    );
}

#[test]
fn reordered_columns_compare_by_name_with_a_key() {
    let e = two(
        &[
            ("r.csv", b"id,name,x\n1,n1,a\n2,n2,b\n"),
            ("r2.csv", b"id,name,x\n1,n1,a\n2,n2,b\n"),
        ],
        &[
            ("r.csv", b"name,x,id\nn1,a,1\nn2,b,2\n"),
            ("r2.csv", b"x,id,name\na,1,n1\nB,2,n2\n"),
        ],
    );
    let (code, v) = rowdiff(&e, &["--key", "id"]);
    assert_eq!(code, Some(0));
    absent(&v, "r.csv");
    assert_eq!(
        table(&v, "r2.csv"),
        &tdiff(
            "r2.csv",
            &["id", "name", "x"],
            &["x", "id", "name"],
            json!([]),
            json!([]),
            json!([{"key": ["2"], "old_line": 3, "new_line": 3,
                    "cells": [{"column": "x", "old": "b", "new": "B"}]}]),
            json!([])
        )
    );
}

#[test]
fn reordered_columns_compare_by_name_without_a_key() {
    let e = two(
        &[("r.csv", b"id,name,x\n1,n1,a\n2,n2,b\n")],
        &[("r.csv", b"name,x,id\nn1,a,1\nn2,b,2\n")],
    );
    let (code, v) = rowdiff(&e, &[]);
    assert_eq!(code, Some(0));
    absent(&v, "r.csv");
}

#[test]
fn a_key_over_two_columns() {
    let old: &[u8] = b"ward,id,places\nW1,1,10\nW1,2,20\nW2,2,30\n\"A,1\",2,40\n\"a\x1fb\",c,60\n";
    let new: &[u8] =
        b"ward,id,places\nW1,1,11\nW2,2,30\nW2,1,50\nA,\"1,2\",40\n\"A,1\",2,40\na,\"b\x1fc\",60\n";
    let e = two(&[("k.csv", old)], &[("k.csv", new)]);
    let (code, v) = rowdiff(&e, &["--key", "ward,id"]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(
        table(&v, "k.csv"),
        &tdiff(
            "k.csv",
            &["ward", "id", "places"],
            &["ward", "id", "places"],
            json!([{"line": 4, "cells": ["W2", "1", "50"]},
                   {"line": 5, "cells": ["A", "1,2", "40"]},
                   {"line": 7, "cells": ["a", "b\u{1f}c", "60"]}]),
            json!([{"line": 3, "cells": ["W1", "2", "20"]},
                   {"line": 6, "cells": ["a\u{1f}b", "c", "60"]}]),
            json!([{"key": ["W1", "1"], "old_line": 2, "new_line": 2,
                    "cells": [{"column": "places", "old": "10", "new": "11"}]}]),
            json!([])
        )
    );
    // Unkeyed, rows whose cells differ only in where a separator-like byte sits are not equal.
    let (_, v) = rowdiff(&e, &[]);
    let k = table(&v, "k.csv");
    assert!(
        k["removed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["cells"] == json!(["a\u{1f}b", "c", "60"])),
        "{k:#}"
    );
}

#[test]
fn a_key_column_named_twice_is_refused_and_never_misaligned() {
    let e = two(
        &[
            ("d.csv", b"id,x,id\n1,a,9\n2,b,8\n"),
            ("k.csv", b"k,id,x,id\n1,1,a,9\n"),
        ],
        &[
            ("d.csv", b"id,x,id\n1,a,9\n2,c,8\n"),
            ("k.csv", b"k,id,x,id\n1,1,b,9\n"),
        ],
    );
    // The key is ambiguous: an error for the file naming the column, exit 1.
    let (code, v) = rowdiff(&e, &["--key", "id", "--", "d.csv"]);
    assert_eq!(code, Some(1), "{v:#}");
    let err = table(&v, "d.csv")["error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(err.contains("\"id\""), "{v:#}");
    // Keyed by another column: only x changed.
    let (code, v) = rowdiff(&e, &["--key", "k", "--", "k.csv"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        table(&v, "k.csv")["changed"],
        json!([{"key": ["1"], "old_line": 2, "new_line": 2,
                "cells": [{"column": "x", "old": "a", "new": "b"}]}])
    );
}

#[test]
fn empty_and_repeated_column_names_compare_by_position() {
    let e = two(
        &[
            ("n.csv", b"id,,\n1,a,b\n2,c,d\n"),
            ("x.csv", b"id,x,x\n1,a,b\n2,c,d\n"),
        ],
        &[
            ("n.csv", b"id,,\n1,a,b\n2,c,e\n"),
            ("x.csv", b"id,x,x\n1,a,b\n2,c,e\n"),
        ],
    );
    let (code, v) = rowdiff(&e, &["--key", "id"]);
    assert_eq!(code, Some(0));
    // An empty name is shown by position.
    for (p, col) in [("n.csv", "column 3"), ("x.csv", "x")] {
        assert_eq!(
            table(&v, p)["changed"],
            json!([{"key": ["2"], "old_line": 3, "new_line": 3,
                    "cells": [{"column": col, "old": "d", "new": "e"}]}]),
            "{p}"
        );
    }
}

#[test]
fn a_ten_megabyte_cell() {
    let big = "a".repeat(10_000_000);
    let mut big2 = "a".repeat(9_999_999);
    big2.push('b');
    let old = format!("id,x\n1,{big}\n2,b\n");
    let new = format!("id,x\n1,\"{big2}\"\n2,b\n3,{big}\n");
    let e = two(&[("l.csv", old.as_bytes())], &[("l.csv", new.as_bytes())]);
    let (code, v) = rowdiff(&e, &["--key", "id"]);
    assert_eq!(code, Some(0));
    let l = table(&v, "l.csv");
    let c = &l["changed"][0];
    assert_eq!(c["key"], json!(["1"]));
    assert_eq!(c["cells"][0]["old"].as_str().unwrap(), big);
    assert_eq!(c["cells"][0]["new"].as_str().unwrap(), big2);
    assert_eq!(l["added"][0]["line"], 4);
    assert_eq!(
        l["added"][0]["cells"][1].as_str().unwrap().len(),
        10_000_000
    );
}

#[test]
fn ten_thousand_columns() {
    let cols = 10_000;
    let header: Vec<String> = (0..cols).map(|i| format!("c{i}")).collect();
    let rows = |changed: bool, extra: bool| {
        let mut s = header.join(",");
        if extra {
            s.push_str(",extra");
        }
        s.push('\n');
        for r in 0..20 {
            let mut cells: Vec<String> = (0..cols).map(|i| (r * cols + i).to_string()).collect();
            if changed && r == 5 {
                cells[cols - 1] = "changed".into();
            }
            if extra {
                cells.push("e".into());
            }
            s.push_str(&cells.join(","));
            s.push('\n');
        }
        s
    };
    // All 10,000 names changed at once: every column renamed in place.
    let renamed = |p: &str| {
        let h: Vec<String> = (0..cols).map(|i| format!("{p}{i}")).collect();
        format!("{}\n{}\n", h.join(","), vec!["1"; cols].join(","))
    };
    let e = two(
        &[
            ("w.csv", rows(false, false).as_bytes()),
            ("rn.csv", renamed("c").as_bytes()),
        ],
        &[
            ("w.csv", rows(true, true).as_bytes()),
            ("rn.csv", renamed("d").as_bytes()),
        ],
    );
    let (code, v) = rowdiff(&e, &["--key", "c0", "--", "w.csv"]);
    assert_eq!(code, Some(0));
    let w = table(&v, "w.csv");
    assert_eq!(w["columns_added"], json!(["extra"]));
    assert_eq!(
        w["changed"],
        json!([{"key": ["50000"], "old_line": 7, "new_line": 7,
                "cells": [{"column": "c9999", "old": "59999", "new": "changed"}]}])
    );
    let (code, v) = rowdiff(&e, &["--", "rn.csv"]);
    assert_eq!(code, Some(0));
    let r = table(&v, "rn.csv");
    assert_eq!(r["columns_renamed"].as_array().unwrap().len(), cols);
    assert_eq!(r["columns_renamed"][9999], json!(["c9999", "d9999"]));
}

#[test]
fn a_hundred_thousand_renamed_columns_do_not_take_minutes() {
    let cols = 100_000;
    let h = |p: &str| {
        let h: Vec<String> = (0..cols).map(|i| format!("{p}{i}")).collect();
        format!("{}\n{}\n", h.join(","), vec!["1"; cols].join(","))
    };
    let e = two(
        &[("rn.csv", h("c").as_bytes())],
        &[("rn.csv", h("d").as_bytes())],
    );
    let o = run_cmd(
        cmd(&e, &["diff", "HEAD~1", "HEAD", "--rows", "--json"]),
        e.tmp.path(),
        60,
        false,
    );
    assert!(
        !o.timed_out,
        "a 1.2 MB table with 100,000 columns: still running after 60 s"
    );
    sane(&o, "100,000 columns");
}

#[test]
fn invalid_utf8_is_reported_per_file_with_side_and_line() {
    let e = two(
        &[
            ("a.csv", b"id,x\n1,a\n2,b\n3,c\n"),
            ("b.csv", b"id,\xc3\x28\n1,a\n"),
            ("c.csv", b"id,x\n1,a\n"),
            ("m.csv", b"id,x\n1,a\n"),
        ],
        &[
            ("a.csv", b"id,x\n1,a\n2,\xff\n3,c\n"),
            ("b.csv", b"id,x\n1,a\n"),
            ("c.csv", b"id,x\n1,b\n"),
            ("m.csv", b"id,x\n1,a\n2,\"two\nlines \xfe\"\n"),
        ],
    );
    for key in [&["--key", "id"][..], &[][..]] {
        let (code, v) = rowdiff(&e, key);
        assert_eq!(code, Some(1), "{v:#}");
        assert_eq!(
            table(&v, "a.csv"),
            &json!({"path": "a.csv", "error": "a.csv: new version, line 3: not valid UTF-8"})
        );
        assert_eq!(
            table(&v, "b.csv"),
            &json!({"path": "b.csv", "error": "b.csv: old version, line 1: not valid UTF-8"})
        );
        assert_eq!(
            table(&v, "m.csv"),
            &json!({"path": "m.csv", "error": "m.csv: new version, line 3: not valid UTF-8"})
        );
        let c = table(&v, "c.csv");
        assert!(c.get("error").is_none(), "{c:#}");
    }
}

#[test]
fn non_unique_keys_name_the_key_and_both_lines() {
    let e = two(
        &[
            ("o.csv", b"id,x\n1,a\n2,b\n1,c\n"),
            ("n.csv", b"w,id,x\nW1,1,a\nW1,2,b\n"),
            ("ok.csv", b"w,id,x\nW1,1,a\n"),
        ],
        &[
            ("o.csv", b"id,x\n1,a\n2,b\n1,d\n"),
            (
                "n.csv",
                b"w,id,x\nW1,1,a\nW1,2,b\nW2,1,c\nW1,2,\"x\ny\"\nW1,2,z\n",
            ),
            ("ok.csv", b"w,id,x\nW1,1,b\n"),
        ],
    );
    let (code, v) = rowdiff(&e, &["--key", "w,id"]);
    assert_eq!(code, Some(1));
    assert!(table(&v, "o.csv")["error"]
        .as_str()
        .unwrap()
        .contains("key column \"w\" is not in the old version's header"));
    assert_eq!(
        table(&v, "n.csv")["error"],
        "n.csv: key W1, 2 is not unique in the new version (lines 3 and 5); choose key columns that identify one row"
    );
    assert_eq!(table(&v, "ok.csv")["changed"][0]["key"], json!(["W1", "1"]));
    let (code, v) = rowdiff(&e, &["--key", "id", "--", "o.csv"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        table(&v, "o.csv")["error"],
        "o.csv: key 1 is not unique in the old version (lines 2 and 4); choose key columns that identify one row"
    );
}

#[test]
fn line_numbers_count_blank_lines() {
    let e = two(
        &[
            ("b.csv", b"id,x\n1,a\n2,b\n"),
            ("cr.csv", b"id,x\r1,a\r2,b\r"),
        ],
        &[
            ("b.csv", b"id,x\n1,a\n\n\n2,c\n3,d\n"),
            ("cr.csv", b"id,x\r1,a\r2,c\r"),
        ],
    );
    let (_, v) = rowdiff(&e, &["--key", "id"]);
    let b = table(&v, "b.csv");
    assert_eq!(b["changed"][0]["new_line"], 5, "{b:#}");
    assert_eq!(b["added"][0]["line"], 6, "{b:#}");
    let cr = table(&v, "cr.csv");
    assert_eq!(cr["changed"][0]["new_line"], 3, "{cr:#}");
}

#[test]
fn hostile_arguments_and_many_duplicate_rows() {
    let mut dups = String::from("x,y\n");
    dups.push_str(&"a,b\n".repeat(1_000_000));
    let mut dups2 = String::from("x,y\n");
    dups2.push_str(&"a,b\n".repeat(999_999));
    dups2.push_str("c,d\n");
    let e = two(
        &[("d.csv", dups.as_bytes()), ("t.csv", b",x\n1,a\n")],
        &[("d.csv", dups2.as_bytes()), ("t.csv", b",x\n1,b\n")],
    );
    // A million identical rows: one removed, one added (and no quadratic matching).
    let (code, v) = rowdiff(&e, &["--", "d.csv"]);
    assert_eq!(code, Some(0));
    let d = table(&v, "d.csv");
    assert_eq!(
        d["added"],
        json!([{"line": 1_000_001, "cells": ["c", "d"]}])
    );
    assert_eq!(d["removed"].as_array().unwrap().len(), 1);
    // An empty key name is the empty-named column.
    let (code, v) = rowdiff(&e, &["--key", "", "--", "t.csv"]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(table(&v, "t.csv")["changed"][0]["key"], json!(["1"]));
    let (code, v) = rowdiff(&e, &["--key", ",", "--", "t.csv"]);
    assert_eq!(code, Some(0), "{v:#}");
    let (code, v) = rowdiff(
        &e,
        &["--key", "nope", "--limit", "0", "--", "t.csv", "nowhere/"],
    );
    assert_eq!(code, Some(1));
    assert!(table(&v, "t.csv")["error"]
        .as_str()
        .unwrap()
        .contains("key column \"nope\""));
    let (code, v) = rowdiff(&e, &["--", "nowhere.csv"]);
    assert_eq!((code, v), (Some(0), json!([])));
    let o = run(
        &e,
        &[
            "diff", "HEAD~1", "HEAD", "--rows", "--limit", "0", "--", "d.csv",
        ],
    );
    sane(&o, "--limit 0");
    assert!(
        o.stdout.contains("d.csv: 1 added, 1 removed, 0 changed"),
        "{}",
        o.stdout
    );
}

#[test]
fn the_working_folder_side_a_directory_in_place_of_a_table() {
    let e = Env::new();
    e.write("t.csv", b"id,x\n1,a\n");
    e.write("u.csv", b"id,x\n1,a\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    std::fs::remove_file(e.data.join("t.csv")).unwrap();
    std::fs::create_dir(e.data.join("t.csv")).unwrap();
    e.write("u.csv", b"id,x\n1,b\n");
    let o = run(&e, &["diff", "--rows", "--json", "--key", "id"]);
    sane(&o, "diff --rows with a folder t.csv");
    assert_eq!(o.code, Some(1));
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(table(&v, "t.csv")["error"]
        .as_str()
        .unwrap()
        .starts_with("t.csv: not a regular file in the working folder"));
    assert_eq!(table(&v, "u.csv")["changed"][0]["cells"][0]["new"], "b");
}

#[test]
fn the_working_folder_side_does_not_follow_links_to_special_files() {
    let e = Env::new();
    e.write("f.csv", b"id,x\n1,a\n");
    e.write("z.csv", b"id,x\n1,a\n");
    e.ok(&["init"]);
    e.ok(&["commit", "-m", "v1"]);
    let fifo = e.tmp.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    std::fs::remove_file(e.data.join("f.csv")).unwrap();
    std::os::unix::fs::symlink(&fifo, e.data.join("f.csv")).unwrap();
    let o = run_cmd(
        cmd(&e, &["diff", "--rows", "--json", "--", "f.csv"]),
        e.tmp.path(),
        30,
        true,
    );
    assert!(
        !o.timed_out,
        "f.csv -> FIFO: diff --rows still blocked after 30 s"
    );
    sane(&o, "f.csv -> FIFO");
    std::fs::remove_file(e.data.join("z.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", e.data.join("z.csv")).unwrap();
    // Address space capped at 2 GiB so the machine survives.
    let mut c = Command::new("sh");
    c.args(["-c", "ulimit -v 2000000; exec \"$@\"", "sh"])
        .arg(assert_cmd::cargo::cargo_bin("coffer"))
        .args(["diff", "--rows", "--json", "--", "z.csv"])
        .env("COFFER_IDENTITY", &e.id)
        .env("XDG_CONFIG_HOME", e.tmp.path().join("config"))
        .current_dir(&e.data);
    let o = run_cmd(c, e.tmp.path(), 30, true);
    sane(&o, "z.csv -> /dev/zero");
    assert!([Some(0), Some(1)].contains(&o.code), "{}", o.stderr);
}

// ---------------------------------------------------------------------------------------
// Memory on large tables (promise 3): peak RSS from /usr/bin/time, no timing.
// ---------------------------------------------------------------------------------------

/// Peak resident memory (KiB) of `coffer ARGS` as `e`, stdout discarded.
fn peak_kib(e: &Env, args: &[&str]) -> (Out, u64) {
    let f = e.tmp.path().join("peak");
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "%M", "-o"])
        .arg(&f)
        .arg(assert_cmd::cargo::cargo_bin("coffer"))
        .args(args)
        .env("COFFER_IDENTITY", &e.id)
        .env("XDG_CONFIG_HOME", e.tmp.path().join("config"))
        .current_dir(&e.data);
    let o = run_cmd(c, e.tmp.path(), HANG * 2, false);
    sane(&o, &format!("{args:?}"));
    let kib = std::fs::read_to_string(&f)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    eprintln!("peak of coffer {args:?}: {kib} KiB");
    (o, kib)
}

/// GNU time, installed from Debian's packages when missing (as the other tests install
/// their tools).
fn have_time() -> bool {
    if !Path::new("/usr/bin/time").exists() {
        let _ = Command::new("sh")
            .args(["-c", "apt-get install -y -qq time || (apt-get update -qq && apt-get install -y -qq time)"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
    }
    Path::new("/usr/bin/time").exists()
}

#[test]
fn a_fifty_megabyte_table_is_diffed_in_bounded_memory() {
    assert!(
        have_time(),
        "/usr/bin/time (Debian package `time`) is needed to measure peak memory"
    );
    let table = |change: bool| {
        let mut s = String::with_capacity(52 << 20);
        s.push_str("id,ward,places,note\n");
        for i in 0..2_600_000u32 {
            let p = if change && i % 500_000 == 7 {
                999
            } else {
                i % 97
            };
            s.push_str(&format!("{i},W{:02},{p},n\n", i % 33));
        }
        if change {
            s.push_str("9999999,W00,1,n\n");
        }
        s
    };
    let e = two(
        &[("big.csv", table(false).as_bytes())],
        &[("big.csv", table(true).as_bytes())],
    );
    let (o, kib) = peak_kib(&e, &["diff", "HEAD~1", "HEAD", "--rows", "--key", "id"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(kib < 256 * 1024, "50 MB table: peak {kib} KiB");
}

#[test]
fn identical_rows_do_not_all_land_in_memory() {
    assert!(
        have_time(),
        "/usr/bin/time (Debian package `time`) is needed to measure peak memory"
    );
    let mut a = String::from("x,y\n");
    a.push_str(&"aaaa,bbbb\n".repeat(5_000_000));
    let mut b = String::from("x,y\n");
    b.push_str(&"aaaa,bbbb\n".repeat(4_999_999));
    b.push_str("c,d\n");
    let e = two(&[("d.csv", a.as_bytes())], &[("d.csv", b.as_bytes())]);
    let (o, kib) = peak_kib(&e, &["diff", "HEAD~1", "HEAD", "--rows"]);
    assert_eq!(o.code, Some(0));
    assert!(kib < 256 * 1024, "50 MB of identical rows: peak {kib} KiB");
}

#[test]
fn unchanged_ragged_rows_do_not_grow_memory() {
    assert!(
        have_time(),
        "/usr/bin/time (Debian package `time`) is needed to measure peak memory"
    );
    let mut a = String::from("a,b,c\n");
    a.push_str(&"1,2\n".repeat(3_000_000));
    let mut b = String::from("a,b,c\n");
    b.push_str(&"1,2\n".repeat(2_999_999));
    b.push_str("3,4\n");
    let e = two(&[("r.csv", a.as_bytes())], &[("r.csv", b.as_bytes())]);
    let (o, kib) = peak_kib(&e, &["diff", "HEAD~1", "HEAD", "--rows", "--json"]);
    assert_eq!(o.code, Some(0));
    assert!(kib < 256 * 1024, "12 MB of short rows: peak {kib} KiB");
}

// ---------------------------------------------------------------------------------------
// The hub: coffer list / coffer clone HUB NAME DIR, on folders
// ---------------------------------------------------------------------------------------

/// `e` makes dataset `name` in its folder `dir` and pushes it to the folder `to`; its id.
fn make(e: &Env, dir: &str, name: &str, to: &Path) -> String {
    std::fs::create_dir_all(e.data.join(dir)).unwrap();
    std::fs::write(e.data.join(dir).join("rows.csv"), format!("n\n{name}\n")).unwrap();
    let v: Value =
        serde_json::from_str(&e.ok(&["-C", dir, "init", "--name", name, "--json"])).unwrap();
    e.ok(&["-C", dir, "commit", "-m", "first"]);
    e.ok(&[
        "-C",
        dir,
        "remote",
        "add",
        "origin",
        to.to_str().unwrap(),
        "--create",
    ]);
    e.ok(&["-C", dir, "push"]);
    v["dataset"].as_str().unwrap().to_string()
}

/// `coffer list HUB --json` as `e`: exit 0 and the JSON.
fn list(e: &Env, hub: &Path) -> Value {
    let o = run(e, &["list", hub.to_str().unwrap(), "--json"]);
    sane(&o, "list");
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let text = run(e, &["list", hub.to_str().unwrap()]);
    sane(&text, "list (text)");
    serde_json::from_str(&o.stdout).unwrap()
}

/// prefix -> (name or "?", problem or "")
fn by_prefix(v: &Value) -> std::collections::BTreeMap<String, (String, String)> {
    v["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["prefix"].as_str().unwrap().to_string(),
                (
                    d["name"].as_str().unwrap_or("?").to_string(),
                    d["problem"].as_str().unwrap_or("").to_string(),
                ),
            )
        })
        .collect()
}

fn entry<'a>(v: &'a Value, prefix: &str) -> &'a Value {
    v["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["prefix"] == prefix)
        .unwrap_or_else(|| panic!("{prefix} not listed: {v:#}"))
}

fn hub_of(e: &Env) -> PathBuf {
    let h = e.tmp.path().join("hub");
    std::fs::create_dir_all(&h).unwrap();
    h
}

/// `clone HUB WHICH DIR --json` as `e`: exit code, the pinned id from stderr, the cloned id.
fn clone(
    e: &Env,
    hub: &Path,
    which: &str,
    dir: &str,
) -> (Option<i32>, Option<String>, Option<String>, String) {
    let o = run(e, &["clone", hub.to_str().unwrap(), which, dir, "--json"]);
    sane(&o, &format!("clone {which}"));
    let pinned = o
        .stderr
        .split(" is dataset ")
        .nth(1)
        .map(|s| s.split(' ').next().unwrap().to_string());
    let cloned = serde_json::from_str::<Value>(&o.stdout)
        .ok()
        .and_then(|v| v["dataset"].as_str().map(str::to_string));
    (o.code, pinned, cloned, o.stderr)
}

#[test]
fn list_finds_datasets_at_any_depth_with_spaces_and_unicode_and_clones_by_name() {
    let e = Env::new();
    let hub = hub_of(&e);
    let root = make(&e, "d0", "root", &hub);
    let a = make(&e, "d1", "alpha", &hub.join("a"));
    let u = make(
        &e,
        "d2",
        "Ünï côde 🚀 name",
        &hub.join("deep/er/still deeper/ünï"),
    );
    // Prefixes named like the store's own folders.
    let p = make(&e, "d3", "kinds", &hub.join("packs/policy/versions"));
    let v = list(&e, &hub);
    let got = by_prefix(&v);
    let want: std::collections::BTreeMap<String, (String, String)> = [
        ("", "root"),
        ("a", "alpha"),
        ("deep/er/still deeper/ünï", "Ünï côde 🚀 name"),
        ("packs/policy/versions", "kinds"),
    ]
    .iter()
    .map(|(p, n)| (p.to_string(), (n.to_string(), String::new())))
    .collect();
    assert_eq!(got, want, "{v:#}");
    for (pfx, id) in [
        ("", &root),
        ("a", &a),
        ("deep/er/still deeper/ünï", &u),
        ("packs/policy/versions", &p),
    ] {
        let d = entry(&v, pfx);
        assert_eq!(d["id"], id.as_str());
        assert_eq!(d["you"], "owner");
        assert_eq!(d["owners"], json!(["camden"]));
        assert_eq!(d["newest"]["seq"], 1, "{d:#}");
    }
    // Clone by the unicode name, by the prefix with spaces, by an id prefix: the id pinned is
    // the one cloned.
    for (which, id, dir) in [
        ("Ünï côde 🚀 name", &u, "c1"),
        ("deep/er/still deeper/ünï", &u, "c2"),
        (&p[..8], &p, "c3"),
        ("root", &root, "c4"),
    ] {
        let (code, pinned, cloned, err) = clone(&e, &hub, which, dir);
        assert_eq!(code, Some(0), "{which}: {err}");
        assert_eq!(pinned.as_deref(), Some(id.as_str()), "{err}");
        assert_eq!(cloned.as_deref(), Some(id.as_str()));
        assert!(err.contains("owned by camden: pinned"), "{err}");
    }
    // Too short an id prefix is not an id.
    let (code, _, _, err) = clone(&e, &hub, &a[..7], "c5");
    assert_eq!(code, Some(2));
    assert!(err.contains("no dataset called"), "{err}");
}

#[test]
fn list_finds_a_dataset_under_a_folder_with_a_hash() {
    let e = Env::new();
    let hub = hub_of(&e);
    let id = make(&e, "d1", "hashed", &hub.join("team#1/x"));
    let v = list(&e, &hub);
    assert_eq!(entry(&v, "team#1/x")["id"], id.as_str());
}

#[test]
fn list_reports_a_prefix_whose_name_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let e = Env::new();
    let hub = hub_of(&e);
    make(&e, "d1", "alpha", &hub.join("a"));
    let odd = hub.join(std::ffi::OsStr::from_bytes(b"bad\xffname"));
    util::copy_dir(&hub.join("a"), &odd);
    let v = list(&e, &hub);
    assert_eq!(v["datasets"].as_array().unwrap().len(), 2, "{v:#}");
}

#[test]
fn junk_damaged_and_doubled_genesis_are_reported_and_the_listing_goes_on() {
    let e = Env::new();
    let gla = Env::named("gla");
    let hub = hub_of(&e);
    let a = make(&e, "d1", "alpha", &hub.join("a"));
    let b = make(&gla, "g1", "beta", &hub.join("b"));
    // A policy folder full of junk: random bytes under id names, a file not named by an id,
    // an empty file, a folder and a FIFO under id names.
    let junk = hub.join("junk/policy");
    std::fs::create_dir_all(&junk).unwrap();
    for i in 0..40u64 {
        let name = hex(&util::noise(32, 100 + i));
        std::fs::write(junk.join(name), util::noise(300, i)).unwrap();
    }
    std::fs::write(junk.join("README"), b"hello").unwrap();
    std::fs::write(junk.join("ef".repeat(32)), b"").unwrap();
    std::fs::create_dir(junk.join("ab".repeat(32))).unwrap();
    let fifo = std::ffi::CString::new(junk.join("fe".repeat(32)).to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    // The same junk next to a real dataset's objects: it still lists.
    util::copy_dir(&hub.join("a"), &hub.join("aj"));
    for i in 0..20u64 {
        std::fs::write(
            hub.join("aj/policy").join(hex(&util::noise(32, 200 + i))),
            util::noise(200, i),
        )
        .unwrap();
        std::fs::write(
            hub.join("aj/checkpoints")
                .join(hex(&util::noise(32, 300 + i))),
            util::noise(200, i),
        )
        .unwrap();
    }
    // A damaged genesis (one bit flipped).
    util::copy_dir(&hub.join("a"), &hub.join("dmg"));
    let g = util::files_under(&hub.join("dmg/policy")).pop().unwrap();
    let mut bytes = std::fs::read(&g).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&g, bytes).unwrap();
    // Two genesis policies in one prefix (anyone who can write there can add one).
    util::copy_dir(&hub.join("a"), &hub.join("two"));
    for f in util::files_under(&hub.join("b/policy")) {
        std::fs::copy(&f, hub.join("two/policy").join(f.file_name().unwrap())).unwrap();
    }
    let v = list(&e, &hub);
    let got = by_prefix(&v);
    assert_eq!(got["a"], ("alpha".into(), String::new()));
    assert_eq!(got["b"], ("beta".into(), String::new()));
    assert_eq!(got["aj"], ("alpha".into(), String::new()), "{v:#}");
    assert_eq!(entry(&v, "aj")["id"], a.as_str());
    let nogen = "no valid genesis policy: not a dataset, or damaged".to_string();
    assert_eq!(got["junk"], ("?".into(), nogen.clone()));
    assert_eq!(got["dmg"], ("?".into(), nogen));
    assert_eq!(got.len(), 6, "{v:#}");
    let two = entry(&v, "two");
    assert!(two["problem"]
        .as_str()
        .unwrap()
        .starts_with("2 datasets' genesis policies under one prefix: not resolved"));
    let mut gen: Vec<(String, Value)> = two["genesis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g[0].as_str().unwrap().to_string(), g[1].clone()))
        .collect();
    gen.sort_by(|x, y| x.0.cmp(&y.0));
    let mut want = vec![(a.clone(), json!(["camden"])), (b.clone(), json!(["gla"]))];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(gen, want);
    assert!(
        two.get("id").is_none() && two.get("name").is_none(),
        "{two:#}"
    );
    // Neither the doubled prefix nor the damaged one can be cloned; nothing is written.
    for which in ["two", "dmg", "junk"] {
        let (code, pinned, _, err) = clone(&e, &hub, which, "c");
        assert_eq!(code, Some(2), "{which}: {err}");
        assert!(pinned.is_none(), "{err}");
        assert!(err.contains("cannot be cloned"), "{err}");
        assert!(!e.data.join("c/.coffer").exists());
    }
    // beta's id names only the clean copy: pinned and cloned.
    let (code, pinned, cloned, err) = clone(&gla, &hub, &b[..16], "c");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (pinned.as_deref(), cloned.as_deref()),
        (Some(b.as_str()), Some(b.as_str()))
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn symlink_loops_end_and_datasets_are_listed_once() {
    let e = Env::new();
    let hub = hub_of(&e);
    make(&e, "d1", "alpha", &hub.join("a"));
    make(&e, "d2", "beta", &hub.join("deep/b"));
    std::os::unix::fs::symlink("..", hub.join("a/loop")).unwrap();
    std::os::unix::fs::symlink(&hub, hub.join("deep/up")).unwrap();
    std::os::unix::fs::symlink(".", hub.join("self")).unwrap();
    std::os::unix::fs::symlink("x", hub.join("deep/x")).unwrap();
    let v = list(&e, &hub);
    let got = by_prefix(&v);
    assert_eq!(got.keys().collect::<Vec<_>>(), ["a", "deep/b"], "{v:#}");
    // A hub that is itself a dangling loop: a clear error.
    std::os::unix::fs::symlink("loop2", e.tmp.path().join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", e.tmp.path().join("loop2")).unwrap();
    let o = run(&e, &["list", e.tmp.path().join("loop1").to_str().unwrap()]);
    sane(&o, "list of a link loop");
    assert_eq!(o.code, Some(2));
    assert!(o.stderr.contains("no such folder"), "{}", o.stderr);
}

#[test]
fn list_of_nothing_a_file_or_an_empty_folder() {
    let e = Env::new();
    let empty = e.tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let v = list(&e, &empty);
    assert_eq!(v["datasets"], json!([]));
    let o = run(&e, &["list", empty.to_str().unwrap()]);
    assert!(o.stdout.starts_with("no datasets under"), "{}", o.stdout);
    for bad in [e.tmp.path().join("missing"), e.id.clone()] {
        let o = run(&e, &["list", bad.to_str().unwrap()]);
        sane(&o, "list of a bad source");
        assert_eq!(o.code, Some(2), "{}", o.stderr);
        assert!(o.stderr.contains("no such folder"), "{}", o.stderr);
    }
    let o = run(&e, &["list", ""]);
    sane(&o, "list \"\"");
    assert_eq!(o.code, Some(2));
    let o = run(&e, &["clone", empty.to_str().unwrap(), "anything", "c"]);
    sane(&o, "clone from an empty hub");
    assert_eq!(o.code, Some(2));
    assert!(
        o.stderr.contains("no dataset called \"anything\""),
        "{}",
        o.stderr
    );
}

#[test]
fn clone_refuses_every_ambiguous_name() {
    let e = Env::new();
    let gla = Env::named("gla");
    let hub = hub_of(&e);
    let h1 = make(&e, "d1", "housing", &hub.join("camden/housing"));
    let h2 = make(&gla, "g1", "housing", &hub.join("gla/housing"));
    // A dataset named like another's prefix, and one named like another's id prefix.
    make(&gla, "g2", "camden/housing", &hub.join("gla/copycat"));
    let short = h2[..8].to_string();
    make(&gla, "g3", &short, &hub.join("gla/hexname"));
    // Two copies of one dataset under two prefixes.
    let s = make(&e, "d2", "schools", &hub.join("camden/schools"));
    util::copy_dir(&hub.join("camden/schools"), &hub.join("mirror/schools"));
    let v = list(&e, &hub);
    assert_eq!(v["datasets"].as_array().unwrap().len(), 6, "{v:#}");
    let (code, pinned, _, err) = clone(&e, &hub, "housing", "c");
    assert_eq!(code, Some(2), "{err}");
    assert!(pinned.is_none());
    assert!(
        err.contains("2 datasets under") && err.contains("are called \"housing\""),
        "{err}"
    );
    assert!(err.contains(&h1) && err.contains(&h2), "{err}");
    assert!(
        err.contains("(owners camden)") && err.contains("(owners gla)"),
        "{err}"
    );
    for which in ["camden/housing", short.as_str(), "schools"] {
        let (code, pinned, _, err) = clone(&e, &hub, which, "c");
        assert_eq!(code, Some(2), "{which}: {err}");
        assert!(pinned.is_none(), "{which}: {err}");
        assert!(err.contains("2 datasets under"), "{which}: {err}");
        assert!(!e.data.join("c/.coffer").exists(), "{which}");
    }
    // Copies of one dataset: the prefix chooses.
    let (code, pinned, cloned, err) = clone(&e, &hub, "mirror/schools", "c");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (pinned.as_deref(), cloned.as_deref()),
        (Some(s.as_str()), Some(s.as_str()))
    );
    assert!(
        err.contains(&format!(
            "{}/mirror/schools",
            hub.canonicalize().unwrap().display()
        )),
        "{err}"
    );
}

#[test]
fn clone_never_takes_another_dataset_than_the_pinned_one() {
    // Both datasets are camden's: a clone of the wrong one would not fail for want of a key.
    let e = Env::new();
    let hub = hub_of(&e);
    let a = make(&e, "d1", "alpha", &hub.join("a"));
    let b = make(&e, "d2", "beta", &hub.join("b"));
    // hub/p is alpha's dataset folder (with its .coffer/store) and also holds beta's store
    // objects at its top: the listing calls prefix p beta, but a clone of the folder p
    // reads the dataset folder's store, alpha.
    util::copy_dir(&e.data.join("d1"), &hub.join("p"));
    for k in ["policy", "versions", "packs", "checkpoints", "claims"] {
        if hub.join("b").join(k).exists() {
            util::copy_dir(&hub.join("b").join(k), &hub.join("p").join(k));
        }
    }
    let v = list(&e, &hub);
    assert_eq!(entry(&v, "p")["id"], b.as_str());
    assert_eq!(entry(&v, "p/.coffer/store")["id"], a.as_str());
    let (code, pinned, cloned, err) = clone(&e, &hub, "p", "c");
    assert_eq!(pinned.as_deref(), Some(b.as_str()), "{err}");
    match code {
        Some(0) => assert_eq!(cloned.as_deref(), Some(b.as_str()), "{err}"),
        Some(2) => {
            assert!(err.contains(&format!("does not hold dataset {b}")), "{err}");
            assert!(!e.data.join("c/.coffer/config.json").exists());
        }
        c => panic!("clone exited {c:?}: {err}"),
    }
    // --expect-id naming another dataset than the one named: refused before anything is read.
    let o = run(
        &e,
        &["clone", hub.to_str().unwrap(), "b", "c2", "--expect-id", &a],
    );
    sane(&o, "clone --expect-id other");
    assert_eq!(o.code, Some(2));
    assert!(
        o.stderr.contains("not the --expect-id given"),
        "{}",
        o.stderr
    );
    assert!(!e.data.join("c2/.coffer").exists());
}

#[test]
fn lookalike_names_are_distinct_and_the_pinned_owner_is_said() {
    // NFC and NFD spellings of one word: byte-different names, each
    // cloned by its exact spelling; stderr names the id and owner it pinned.
    let e = Env::new();
    let gla = Env::named("gla");
    let hub = hub_of(&e);
    let nfc = make(&e, "d1", "caf\u{e9}", &hub.join("x"));
    let nfd = make(&gla, "g1", "cafe\u{301}", &hub.join("y"));
    let v = list(&e, &hub);
    assert_eq!(v["datasets"].as_array().unwrap().len(), 2);
    let (code, pinned, cloned, err) = clone(&e, &hub, "caf\u{e9}", "c");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (pinned.as_deref(), cloned.as_deref()),
        (Some(nfc.as_str()), Some(nfc.as_str()))
    );
    assert!(err.contains("owned by camden: pinned"), "{err}");
    let (_, pinned, _, err) = clone(&e, &hub, "cafe\u{301}", "c2");
    assert_eq!(pinned.as_deref(), Some(nfd.as_str()));
    assert!(err.contains("owned by gla: pinned"), "{err}");
}

/// Whether this process is root and can run coffer as `nobody` (permissions then matter).
fn can_drop_to_nobody() -> bool {
    let uid = unsafe { libc::geteuid() };
    uid == 0 && Path::new("/usr/bin/setpriv").exists()
}

/// `coffer ARGS` as user nobody (no identity).
fn as_nobody(e: &Env, args: &[&str]) -> Out {
    let mut c = Command::new("/usr/bin/setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("coffer"))
        .args(args)
        .env("COFFER_IDENTITY", "/nonexistent/identity")
        .env("XDG_CONFIG_HOME", "/nonexistent/config")
        .current_dir("/");
    run_cmd(c, e.tmp.path(), HANG, true)
}

fn open_to_nobody(e: &Env) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(e.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn an_unreadable_policy_is_reported_and_the_listing_goes_on() {
    if !can_drop_to_nobody() {
        eprintln!("not root or no setpriv: skipped");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    let hub = hub_of(&e);
    open_to_nobody(&e);
    make(&e, "d1", "alpha", &hub.join("a"));
    make(&e, "d2", "beta", &hub.join("b"));
    for f in util::files_under(&hub.join("b/policy")) {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let o = as_nobody(&e, &["list", hub.to_str().unwrap(), "--json"]);
    sane(&o, "list as nobody");
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let got = by_prefix(&v);
    assert_eq!(got["a"].0, "alpha");
    assert!(got["b"].1.contains("Permission denied"), "{v:#}");
    assert!(entry(&v, "a").get("you").is_none());
}

#[test]
fn an_unreadable_folder_is_reported_and_the_listing_goes_on() {
    if !can_drop_to_nobody() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    let hub = hub_of(&e);
    open_to_nobody(&e);
    make(&e, "d1", "alpha", &hub.join("a"));
    make(&e, "d2", "beta", &hub.join("locked/b"));
    std::fs::set_permissions(hub.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let o = as_nobody(&e, &["list", hub.to_str().unwrap(), "--json"]);
    std::fs::set_permissions(hub.join("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
    sane(&o, "list as nobody");
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let got = by_prefix(&v);
    assert_eq!(got["a"].0, "alpha");
    assert!(
        got.iter()
            .any(|(p, (_, problem))| p.starts_with("locked")
                && problem.contains("Permission denied")),
        "{v:#}"
    );
}

#[test]
fn oversized_junk_policies_do_not_exhaust_memory() {
    assert!(
        have_time(),
        "/usr/bin/time (Debian package `time`) is needed to measure peak memory"
    );
    let e = Env::new();
    let hub = hub_of(&e);
    make(&e, "d1", "alpha", &hub.join("a"));
    std::fs::create_dir_all(hub.join("junk/policy")).unwrap();
    for n in ["cd", "dc"] {
        let f = std::fs::File::create(hub.join("junk/policy").join(n.repeat(32))).unwrap();
        f.set_len(512 << 20).unwrap();
    }
    let (o, kib) = peak_kib(&e, &["list", hub.to_str().unwrap(), "--json"]);
    assert_eq!(o.code, Some(0));
    assert!(kib < 128 * 1024, "peak {kib} KiB");
}
