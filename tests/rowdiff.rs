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
