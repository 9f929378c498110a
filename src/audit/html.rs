//! The audit report as one self-contained HTML page: no scripts, no external resources,
//! readable offline and printable. Everything from the store is escaped (labels, names and
//! messages are chosen by whoever signs them).

use super::AuditReport;
use crate::verify::Level;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:75em}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;\
text-align:left;vertical-align:top;font-size:.9em}th{background:#f3f3f3}\
.verdict{padding:1em;font-size:1.3em;font-weight:bold;border-radius:.3em}\
.clean{background:#e3f6e3;color:#145214}.warnings{background:#fff4d6;color:#6b4b00}\
.errors{background:#fde2e2;color:#8a1111}.error{color:#8a1111;font-weight:bold}\
.warning{color:#6b4b00}.info{color:#555}code{font-size:.9em}.yes{text-align:center}\
@media print{body{margin:0}}";

/// Render the page.
pub fn render(a: &AuditReport) -> String {
    let r = &a.report;
    let mut p = String::new();
    let count = |l: Level| r.findings.iter().filter(|f| f.level == l).count();
    let (errors, warnings, infos) = (
        count(Level::Error),
        count(Level::Warning),
        count(Level::Info),
    );
    let title = if a.name.is_empty() {
        format!("Audit of dataset {}", &r.dataset)
    } else {
        format!("Audit of {}", a.name)
    };
    let _ = write!(
        p,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let verdict = match a.verdict {
        "errors" => format!("Verdict: ERRORS. {errors} error(s), {warnings} warning(s) found. Do not rely on this store's history until they are explained."),
        "warnings" => format!("Verdict: WARNINGS. No damage to the history; {warnings} warning(s) to read."),
        _ => "Verdict: CLEAN. No problems found.".to_string(),
    };
    let verdict = if r.quick {
        format!("{verdict} Quick audit: listings, sizes and pack trailers only; the contents of packs were not hashed.")
    } else {
        verdict
    };
    let _ = write!(
        p,
        "<p id=\"verdict\" class=\"verdict {}\">{}</p>\n<table><tr><th>Dataset id</th><td><code>{}</code></td></tr><tr><th>Source</th><td>{}</td></tr><tr><th>Audited</th><td>{}</td></tr><tr><th>Checked</th><td>{} version(s), {} pack(s), {} bytes read; contents not decrypted (an auditor holds no key)</td></tr></table>\n",
        a.verdict,
        esc(&verdict),
        esc(&r.dataset),
        esc(&r.source),
        esc(&a.time),
        r.versions,
        r.packs,
        r.bytes
    );

    p.push_str("<h2>Freshness</h2>\n");
    match &r.fresh {
        Some(c) => {
            let _ = writeln!(
                p,
                "<p>Newest checkpoint{}: signed by {} on {}, fresh until {}; it names policy seq {} and {} head(s).</p>",
                if c.witnesses.is_empty() {
                    String::new()
                } else {
                    format!(" (cosigned by {})", esc(&c.witnesses.join(", ")))
                },
                esc(&c.signer),
                esc(&crate::history::format_time(c.time)),
                esc(&crate::history::format_time(c.expires)),
                c.policy_seq,
                c.heads.len()
            );
        }
        None => p.push_str("<p>No checkpoint with its quorum counts: nothing shows whether the store is current (see the findings).</p>\n"),
    }

    let _ = writeln!(
        p,
        "<h2 id=\"findings\">Findings ({errors} error(s), {warnings} warning(s), {infos} note(s))</h2>"
    );
    if r.findings.is_empty() {
        p.push_str("<p>None.</p>\n");
    } else {
        p.push_str("<table><tr><th>Level</th><th>Rule</th><th>Object</th><th>What</th></tr>\n");
        for f in &r.findings {
            let lvl = match f.level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Info => "info",
            };
            let obj = match &f.id {
                Some(id) => format!("{} <code>{}</code>", f.kind, esc(&id[..16.min(id.len())])),
                None => f.kind.to_string(),
            };
            let _ = writeln!(
                p,
                "<tr class=\"finding {lvl}\"><td class=\"{lvl}\">{lvl}</td><td>{}</td><td>{obj}</td><td>{}</td></tr>",
                f.rule.map(|x| x.name()).unwrap_or("-"),
                esc(&f.message)
            );
        }
        p.push_str("</table>\n");
    }

    if let Some(acc) = &a.access {
        p.push_str("<h2>Members over time</h2>\n<table><tr><th>Policy</th><th>Signed</th><th>By</th><th>Epoch</th><th>Change</th></tr>\n");
        for c in &acc.policies {
            let mut what = Vec::new();
            if !c.added.is_empty() {
                let l: Vec<String> = c
                    .added
                    .iter()
                    .map(|m| format!("{} as {}", m.label, m.role))
                    .collect();
                what.push(format!(
                    "{} {}",
                    if c.seq == 0 { "created with" } else { "added" },
                    l.join(", ")
                ));
            }
            if !c.removed.is_empty() {
                what.push(format!("withdrew {}", c.removed.join(", ")));
            }
            for ch in &c.changed {
                what.push(format!("{}: {} to {}", ch.label, ch.from, ch.to));
            }
            if what.is_empty() {
                what.push("settings only (audit settings or a repair)".into());
            }
            let _ = writeln!(
                p,
                "<tr><td>seq {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                c.seq,
                esc(&c.time),
                esc(&c.by),
                c.epoch,
                esc(&what.join("; "))
            );
        }
        p.push_str("</table>\n<h2>Versions</h2>\n<table><tr><th>Seq</th><th>Time</th><th>Version</th><th>Author</th><th>Epoch</th><th>Could read it</th></tr>\n");
        for v in &acc.versions {
            let _ = writeln!(
                p,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                v.seq,
                esc(&v.time),
                v.id.short(),
                esc(&v.author),
                v.epoch,
                esc(&v.readers.join(", "))
            );
        }
        p.push_str("</table>\n");
        let people: BTreeSet<&str> = acc
            .policies
            .iter()
            .flat_map(|c| c.added.iter().map(|m| m.label.as_str()))
            .collect();
        if !acc.versions.is_empty() && !people.is_empty() {
            p.push_str("<h2>Readers</h2>\n<p>Who held the keys to read each version (every epoch its seal and packs need).</p>\n<table><tr><th>Version</th>");
            for m in &people {
                let _ = write!(p, "<th>{}</th>", esc(m));
            }
            p.push_str("</tr>\n");
            for v in &acc.versions {
                let _ = write!(
                    p,
                    "<tr><td>seq {} <code>{}</code></td>",
                    v.seq,
                    v.id.short()
                );
                for m in &people {
                    let yes = v.readers.iter().any(|x| x == m);
                    let _ = write!(
                        p,
                        "<td class=\"yes\">{}</td>",
                        if yes { "&#10003;" } else { "" }
                    );
                }
                p.push_str("</tr>\n");
            }
            p.push_str("</table>\n");
        }
        if !acc.refused.is_empty() {
            p.push_str("<h2>Versions refused by the rules</h2>\n<table><tr><th>Seq</th><th>Version</th><th>Signer</th><th>Rule</th><th>Why</th></tr>\n");
            for v in &acc.refused {
                let _ = writeln!(
                    p,
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    v.seq,
                    v.id.short(),
                    esc(&v.author),
                    v.rule.name(),
                    esc(&v.message)
                );
            }
            p.push_str("</table>\n");
        }
    }

    p.push_str("<h2>Checkpoints</h2>\n");
    if r.checkpoints.is_empty() {
        p.push_str("<p>None counts.</p>\n");
    } else {
        p.push_str("<table><tr><th>Checkpoint</th><th>Signed by</th><th>On</th><th>Fresh until</th><th>Policy</th><th>Heads</th><th>Cosigned by</th></tr>\n");
        for c in r.checkpoints.iter().rev() {
            let _ = writeln!(
                p,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>seq {}</td><td>{}</td><td>{}</td></tr>",
                c.id.short(),
                esc(&c.signer),
                esc(&crate::history::format_time(c.time)),
                esc(&crate::history::format_time(c.expires)),
                c.policy_seq,
                c.heads.iter().map(|h| h.short()).collect::<Vec<_>>().join(", "),
                esc(&c.witnesses.join(", "))
            );
        }
        p.push_str("</table>\n");
    }
    p.push_str("<p class=\"info\">Made by <code>coffer audit</code>: every rule that needs no key was applied (spec/format.md §9, §10, §15). The contents of the versions were not read.</p>\n</body></html>\n");
    p
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_signers_choose() {
        assert_eq!(
            super::esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
