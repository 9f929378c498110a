//! Remote commands: remote add/list/remove, push, fetch, pull, gc, and cat.

use super::args::RemoteCommand;
use super::output::{human_bytes, print_json};
use super::{open_keys, Ctx};
use coffer::error::{Error, Result};
use coffer::remote::{fetch as rfetch, gc as rgc, pull as rpull, push as rpush, Remote, Remotes};
use std::collections::BTreeMap;
use std::io::Write;

pub(crate) fn remote(ctx: &Ctx, rc: &RemoteCommand) -> Result<()> {
    let ds = ctx.dataset()?;
    let mut remotes = Remotes::load(&ds)?;
    match rc {
        RemoteCommand::Add {
            name,
            url,
            options,
            create,
            json,
        } => {
            let mut opts = BTreeMap::new();
            for o in options {
                let (k, v) = o
                    .split_once('=')
                    .ok_or_else(|| Error::Usage(format!("--option {o}: expected KEY=VALUE")))?;
                opts.insert(k.trim().to_string(), v.trim().to_string());
            }
            remotes.add(name, url, opts, &ds.root, *create)?;
            remotes.save()?;
            if *json {
                print_json(&serde_json::json!({ "name": name, "url": remotes.map[name].url }));
            } else {
                println!("added remote {name} ({})", remotes.map[name].url);
            }
        }
        RemoteCommand::SetUrl {
            name,
            url,
            create,
            json,
        } => {
            remotes.set_url(name, url, &ds.root, *create)?;
            remotes.save()?;
            if *json {
                print_json(&serde_json::json!({ "name": name, "url": remotes.map[name].url }));
            } else {
                println!("remote {name} is now {}", remotes.map[name].url);
            }
        }
        RemoteCommand::Rename { old, new, json } => {
            remotes.rename(old, new)?;
            remotes.save()?;
            if *json {
                print_json(
                    &serde_json::json!({ "name": new, "was": old, "url": remotes.map[new].url }),
                );
            } else {
                println!("renamed remote {old} to {new}");
            }
        }
        RemoteCommand::Remove { name, json } => {
            let c = remotes.remove(name)?;
            remotes.save()?;
            if *json {
                print_json(&serde_json::json!({ "removed": name, "url": c.url }));
            } else {
                println!(
                    "removed remote {name} ({}); nothing on it was deleted",
                    c.url
                );
            }
        }
        RemoteCommand::List { json } => {
            if *json {
                print_json(&remotes.map);
            } else if remotes.map.is_empty() {
                println!("no remotes (add one with `coffer remote add origin s3://BUCKET/PREFIX`)");
            } else {
                for (name, c) in &remotes.map {
                    let cond = match c.conditional {
                        Some(true) => "conditional writes honoured",
                        Some(false) => "conditional writes ignored",
                        None => "not pushed to yet",
                    };
                    let heads: Vec<String> = c.seen.heads.iter().map(|h| h.short()).collect();
                    println!(
                        "{name}\t{}\t{cond}\thead {}",
                        c.url,
                        if heads.is_empty() {
                            "-".into()
                        } else {
                            heads.join(",")
                        }
                    );
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn push(ctx: &Ctx, name: Option<&str>, json: bool) -> Result<()> {
    let ds = ctx.dataset()?;
    // A writer's push ends with a checkpoint, which needs the identity's signing key.
    let identity = match ctx.identity() {
        Ok(i) => Some(i),
        Err(e) => {
            ctx.say(format!("note: no checkpoint will be published ({e})"));
            None
        }
    };
    let o = rpush::push(&ds, name, identity.as_ref(), ctx.progress())?;
    if json {
        print_json(&o);
    } else if o.versions == 0 && o.policies == 0 {
        println!("{} is up to date", o.remote);
    } else {
        println!(
            "pushed to {}: {} version(s), {} policy change(s), {} pack(s) ({}); head {} ({} requests)",
            o.remote,
            o.versions,
            o.policies,
            o.packs.objects,
            human_bytes(o.packs.bytes),
            o.head.map(|h| h.short()).unwrap_or_else(|| "-".into()),
            o.requests
        );
        if let Some(e) = &o.checkpoint_error {
            ctx.say(format!("warning: no checkpoint was published: {e}"));
        }
        if let Some(c) = &o.checkpoint {
            println!(
                "published checkpoint {}: fresh until {} (renew with `coffer checkpoint`)",
                c.id.short(),
                coffer::history::format_time(c.expires)
            );
        }
        if !o.conditional {
            ctx.say(format!(
                "note: {} ignores conditional writes; a concurrent push may leave two heads, which `coffer pull` merges",
                o.remote
            ));
        }
    }
    Ok(())
}

pub(crate) fn fetch(ctx: &Ctx, name: Option<&str>, json: bool) -> Result<()> {
    let ds = ctx.dataset()?;
    let o = rfetch::fetch(&ds, name, ctx.progress())?;
    if json {
        print_json(&o);
    } else {
        println!(
            "fetched from {}: {} version(s), {} policy change(s), {} pack(s) ({}); remote head(s) {}",
            o.remote,
            o.versions.len(),
            o.policies,
            o.packs.objects,
            human_bytes(o.packs.bytes),
            heads(&o.heads)
        );
        report_ignored(ctx, &o);
    }
    Ok(())
}

/// Warn about what a fetch left on the remote: objects the rules refuse, and versions held
/// back until an access change made here is signed again.
fn report_ignored(ctx: &Ctx, o: &rfetch::FetchOutcome) {
    for (id, r) in &o.refused_policies {
        ctx.say(format!(
            "warning: ignored policy {} on {}: {} (rule {})",
            id.short(),
            o.remote,
            r.message,
            r.rule
        ));
    }
    for (id, r) in &o.refused {
        ctx.say(format!(
            "warning: ignored version {} on {}: {} (rule {})",
            id.short(),
            o.remote,
            r.message,
            r.rule
        ));
    }
    for (id, r) in &o.held_back {
        ctx.say(format!(
            "warning: held back version {} from {}: {}; run `coffer pull` to make your access change again so it acknowledges it",
            id.short(),
            o.remote,
            r.message
        ));
    }
    for line in &o.checkpoints {
        ctx.say(format!("warning: {}: {line}", o.remote));
    }
    for id in &o.redone {
        ctx.say(format!(
            "signed your unpushed access change again as policy {} so it acknowledges what arrived from {}",
            id.short(),
            o.remote
        ));
    }
}

fn heads(h: &[coffer::Id]) -> String {
    if h.is_empty() {
        return "-".into();
    }
    h.iter().map(|i| i.short()).collect::<Vec<_>>().join(", ")
}

pub(crate) fn pull(ctx: &Ctx, name: Option<&str>, json: bool) -> Result<()> {
    let ds = ctx.dataset()?;
    let id = ctx.identity()?;
    let o = rpull::pull(&ds, &id, name, ctx.progress())?;
    if json {
        print_json(&o);
        return Ok(());
    }
    let f = &o.fetch;
    println!(
        "fetched from {}: {} version(s), {} pack(s) ({})",
        f.remote,
        f.versions.len(),
        f.packs.objects,
        human_bytes(f.packs.bytes)
    );
    report_ignored(ctx, f);
    if let Some(r) = &o.rebased {
        for (old, new) in &r.versions {
            println!(
                "signed your version {} again under the policy in force as {}",
                old.short(),
                new.short()
            );
        }
        for (old, why) in &r.dropped {
            println!("left out version {}: {why}", old.short());
        }
    }
    for m in &o.merges {
        println!(
            "merged {} into a new version {}{}",
            m.theirs.short(),
            m.version.short(),
            if m.conflicts.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} path(s) changed on both sides kept yours:",
                    m.conflicts.len()
                )
            }
        );
        for c in &m.conflicts {
            println!("  {c}  (theirs: coffer cat {}:{c})", m.theirs.short());
        }
    }
    match (o.before, o.head) {
        (a, b) if a == b => println!("already up to date"),
        (_, Some(h)) => println!(
            "head is now {}{}",
            h.short(),
            if o.merges.is_empty() {
                ""
            } else {
                " (push it to share the merge)"
            }
        ),
        _ => {}
    }
    Ok(())
}

pub(crate) fn gc(
    ctx: &Ctx,
    name: Option<&str>,
    dry_run: bool,
    force: bool,
    grace: u64,
    json: bool,
) -> Result<()> {
    let ds = ctx.dataset()?;
    let (target, o) = match name {
        Some(_) => {
            let (_, r) = Remote::open(&ds, name)?;
            let o = rgc::gc(&r.store, &ds.id, grace, dry_run, force).map_err(|e| r.explain(e))?;
            (r.name, o)
        }
        None => {
            let _lock = ds.lock()?;
            (
                "this dataset's store".to_string(),
                rgc::gc(&ds.store, &ds.id, grace, dry_run, force)?,
            )
        }
    };
    if json {
        print_json(&o);
        return Ok(());
    }
    for (n, why) in &o.unreadable {
        ctx.say(format!(
            "warning: cannot read {n} ({why}); kept every pack it names"
        ));
    }
    for (n, size) in &o.removed {
        println!(
            "{}{n} ({})",
            if dry_run { "would remove " } else { "removed " },
            human_bytes(*size)
        );
    }
    println!(
        "{target}: {} unreferenced pack(s){} ({}) {}; {} younger than the grace period kept; {} referenced",
        o.removed.len(),
        match o.staged {
            0 => String::new(),
            n => format!(", {n} of them left part-written by a killed writer"),
        },
        human_bytes(o.bytes),
        if dry_run { "would be removed" } else { "removed" },
        o.young,
        o.referenced
    );
    Ok(())
}

pub(crate) fn cat(ctx: &Ctx, spec: &str, path: Option<&str>) -> Result<()> {
    let (rev, path) = match path {
        Some(p) => (spec, p),
        None => spec.split_once(':').ok_or_else(|| {
            Error::Usage(format!(
                "{spec}: expected VERSION:PATH, e.g. `coffer cat HEAD:{spec}` for the newest version"
            ))
        })?,
    };
    let ds = ctx.dataset()?;
    let id = ctx.identity()?;
    let (hist, keys) = open_keys(&ds, &id)?;
    let vid = coffer::history::resolve(&ds, &hist, rev)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    coffer::repo::read::cat(&ds, &hist, &keys, vid, path, &mut out)?;
    out.flush().map_err(|source| Error::Io {
        path: "<stdout>".into(),
        source,
    })
}
