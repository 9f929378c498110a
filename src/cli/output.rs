//! Text and JSON rendering for people and machines.

use coffer::diff::Change;
use coffer::history::format_time;
use coffer::id::Id;
use coffer::object::tree::{self, Entry};
use coffer::object::version::Version;
use coffer::repo::Keyring;
use coffer::rules::Chain;
use coffer::verify::{Level, Report};
use serde::Serialize;

/// Print a value as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("coffer: cannot render JSON: {e}"),
    }
}

/// 1536 -> "1.5 KiB".
pub fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// One version as `log --json` prints it.
#[derive(Serialize)]
pub struct LogRow {
    pub id: String,
    pub seq: u64,
    pub parents: Vec<String>,
    pub author: String,
    pub author_key: String,
    pub time: String,
    pub epoch: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

impl LogRow {
    pub fn new(id: &Id, v: &Version, chain: &Chain, keys: Option<&Keyring>) -> LogRow {
        let seal = keys
            .and_then(|k| k.get(v.epoch))
            .and_then(|k| v.unseal(id, &k).ok());
        LogRow {
            id: id.to_hex(),
            seq: v.seq,
            parents: v.parents.iter().map(|p| p.to_hex()).collect(),
            author: chain
                .member_by_sign_key(&v.author.0)
                .map(|m| m.label().to_string())
                .unwrap_or_else(|| "(not a member)".into()),
            author_key: hex::encode(v.author.0),
            time: format_time(v.time),
            epoch: v.epoch,
            message: seal.as_ref().map(|s| s.message.clone()),
            files: seal.as_ref().map(|s| s.files),
            bytes: seal.as_ref().map(|s| s.bytes),
        }
    }
}

pub fn print_log(rows: &[LogRow]) {
    for r in rows {
        println!("version {}  (seq {})", r.id, r.seq);
        println!("Author:  {}", r.author);
        println!("Date:    {}", r.time);
        if let (Some(f), Some(b)) = (r.files, r.bytes) {
            println!("Content: {f} files, {}", human_bytes(b));
        }
        println!();
        match &r.message {
            Some(m) => {
                for line in m.lines() {
                    println!("    {line}");
                }
            }
            None => println!(
                "    (message sealed: this identity holds no key for epoch {})",
                r.epoch
            ),
        }
        println!();
    }
}

pub fn print_changes(changes: &[Change]) {
    for c in changes {
        let size = match (c.old_size, c.new_size) {
            (Some(a), Some(b)) => format!("{} -> {}", human_bytes(a), human_bytes(b)),
            (None, Some(b)) => human_bytes(b),
            (Some(a), None) => human_bytes(a),
            (None, None) => c.kind.to_string(),
        };
        println!("{:<9} {}  ({size})", format!("{}:", c.change), c.path);
    }
}

pub fn print_show(row: &LogRow, flat: &[(String, Entry)], json: bool) {
    #[derive(Serialize)]
    struct FileRow<'a> {
        path: &'a str,
        kind: &'static str,
        size: u64,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        exec: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    }
    let files: Vec<FileRow> = flat
        .iter()
        .map(|(p, e)| FileRow {
            path: p,
            kind: match e.kind() {
                tree::FILE => "file",
                tree::DIR => "dir",
                _ => "symlink",
            },
            size: e.size(),
            exec: e.exec(),
            target: (e.kind() == tree::SYMLINK)
                .then(|| String::from_utf8_lossy(e.target()).into_owned()),
        })
        .collect();
    if json {
        print_json(&serde_json::json!({ "version": row, "paths": files }));
        return;
    }
    print_log(std::slice::from_ref(row));
    for f in files {
        match f.kind {
            "dir" => println!("{:>12}  {}/", "", f.path),
            "symlink" => println!(
                "{:>12}  {} -> {}",
                "link",
                f.path,
                f.target.unwrap_or_default()
            ),
            _ => println!(
                "{:>12}  {}{}",
                f.size,
                f.path,
                if f.exec { "*" } else { "" }
            ),
        }
    }
}

pub fn print_report(r: &Report) {
    println!(
        "dataset {} ({}): {} version(s), {} pack(s), {} read, {}",
        r.dataset,
        r.source,
        r.versions,
        r.packs,
        human_bytes(r.bytes),
        if r.decrypted {
            format!("{} blob(s) decrypted and hashed", r.blobs)
        } else {
            "no key: contents not decrypted (signatures, chain and object hashes checked)".into()
        }
    );
    for f in &r.findings {
        let lvl = match f.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
        };
        match &f.id {
            Some(id) => println!(
                "{lvl}: {} {}: {}",
                f.kind,
                &id[..12.min(id.len())],
                f.message
            ),
            None => println!("{lvl}: {}: {}", f.kind, f.message),
        }
    }
    let quick = if r.quick {
        " (quick: listings, sizes and pack trailers only; pack contents were not hashed)"
    } else {
        ""
    };
    if r.is_clean() {
        println!("ok: no problems found{quick}");
    } else {
        let n = r.findings.iter().filter(|f| f.level != Level::Info).count();
        println!("FAILED: {n} problem(s) found{quick}");
    }
}

/// The access history for people.
pub fn print_access(a: &coffer::sharing::access::Access) {
    println!("access changes:");
    for p in &a.policies {
        let added: Vec<String> = p
            .added
            .iter()
            .map(|m| format!("{} ({})", m.label, m.role))
            .collect();
        let mut what = Vec::new();
        if p.seq == 0 {
            what.push(format!("created the dataset with {}", added.join(", ")));
        } else {
            if !added.is_empty() {
                what.push(format!("added {}", added.join(", ")));
            }
            if !p.removed.is_empty() {
                what.push(format!(
                    "withdrew {} (new epoch {})",
                    p.removed.join(", "),
                    p.epoch
                ));
            }
            if !p.changed.is_empty() {
                let changed: Vec<String> = p
                    .changed
                    .iter()
                    .map(|c| format!("{}: {} -> {}", c.label, c.from, c.to))
                    .collect();
                what.push(format!("changed {}", changed.join(", ")));
            }
            if what.is_empty() {
                what.push(format!("new epoch {}", p.epoch));
            }
        }
        println!("  {}  {:<12} {}", p.time, p.by, what.join("; "));
    }
    println!("versions:");
    for v in &a.versions {
        println!(
            "  seq {:<4} {}  {}  by {:<12} readable by {}",
            v.seq,
            v.id.short(),
            v.time,
            v.author,
            v.readers.join(", ")
        );
    }
    if !a.refused.is_empty() {
        println!("refused (not history, ignored by every reader):");
        for r in &a.refused {
            println!(
                "  seq {:<4} {}  by {:<12} {} (rule {})",
                r.seq,
                r.id.short(),
                r.author,
                r.message,
                r.rule
            );
        }
    }
}

/// A hub listing for people: one block per dataset.
pub fn print_hub(h: &coffer::hub::Hub) {
    if h.datasets.is_empty() {
        println!("no datasets under {}", h.source);
        return;
    }
    for d in &h.datasets {
        let at = if d.prefix.is_empty() {
            "."
        } else {
            d.prefix.as_str()
        };
        match (&d.name, &d.id) {
            (Some(name), Some(id)) => {
                println!("{name}  ({at}, id {})", id.short());
                println!("  owners: {}", d.owners.join(", "));
                let members: Vec<String> = d
                    .members
                    .iter()
                    .map(|m| format!("{} ({})", m.label, m.role))
                    .collect();
                println!(
                    "  members (policy seq {}): {}",
                    d.policy_seq.unwrap_or(0),
                    members.join(", ")
                );
                match &d.newest {
                    Some(n) => println!(
                        "  newest version: seq {}, {} ({}){}",
                        n.seq,
                        n.time,
                        n.id.short(),
                        match (&n.fresh_until, n.stale) {
                            (Some(t), true) =>
                                format!("; checkpoint expired {t}: freeze suspected"),
                            (None, _) => "; no checkpoint: judged from the versions".into(),
                            _ => String::new(),
                        }
                    ),
                    None => println!("  newest version: none yet"),
                }
                if let Some(you) = &d.you {
                    println!("  you: {you}");
                }
            }
            _ => {
                println!("?  ({at})");
                for (id, owners) in &d.genesis {
                    println!("  genesis {} owned by {}", id.short(), owners.join(", "));
                }
            }
        }
        if let Some(p) = &d.problem {
            println!("  problem: {p}");
        }
    }
    println!(
        "{} dataset(s) under {}, {} request(s)",
        h.datasets.iter().filter(|d| d.id.is_some()).count(),
        h.source,
        h.requests
    );
}

/// Row differences for people: a summary line per table, then up to `limit` rows.
pub fn print_row_diffs(results: &[coffer::rowdiff::FileResult], limit: usize) {
    if results.is_empty() {
        println!("no table changed");
    }
    for r in results {
        let Some(d) = &r.diff else {
            println!(
                "{}: {}",
                r.path,
                r.error.as_deref().unwrap_or("could not be read")
            );
            continue;
        };
        println!(
            "{}: {} added, {} removed, {} changed",
            r.path,
            d.added.len(),
            d.removed.len(),
            d.changed.len()
        );
        for c in &d.columns_added {
            println!("  column added: {c}");
        }
        for c in &d.columns_removed {
            println!("  column removed: {c}");
        }
        for (a, b) in &d.columns_renamed {
            println!("  column renamed: {a} -> {b}");
        }
        for (side, line, n) in &d.ragged {
            println!("  {side} version, line {line}: {n} cells, not as many as the header");
        }
        let mut shown = 0;
        for row in &d.removed {
            if shown == limit {
                break;
            }
            println!("  - line {}: {}", row.line, row.cells.join(","));
            shown += 1;
        }
        for row in &d.added {
            if shown == limit {
                break;
            }
            println!("  + line {}: {}", row.line, row.cells.join(","));
            shown += 1;
        }
        for c in &d.changed {
            if shown == limit {
                break;
            }
            let cells: Vec<String> = c
                .cells
                .iter()
                .map(|x| format!("{}: {:?} -> {:?}", x.column, x.old, x.new))
                .collect();
            println!(
                "  ~ key {} (line {}): {}",
                c.key.join(","),
                c.new_line,
                cells.join("; ")
            );
            shown += 1;
        }
        let total = d.added.len() + d.removed.len() + d.changed.len();
        if total > shown {
            println!("  ... {} more (--limit, or --json for all)", total - shown);
        }
    }
}
