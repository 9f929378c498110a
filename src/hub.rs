//! The exchange hub: every dataset under a bucket (or folder), each under its own prefix,
//! found by one listing and read without keys: name, id, owners, members, the newest version
//! (from the newest checkpoint that counts: its heads alone are read; without one, every
//! version and its packs' trailers, judged by the rules), and what the caller's identity may
//! do there.
//! Policies and checkpoints are public by design; nothing here needs a data key.

use crate::error::{Error, Result};
use crate::id::Id;
use crate::identity::PublicIdentity;
use crate::object::policy::Policy;
use crate::object::version::Version;
use crate::remote::transfer;
use crate::rules::checkpoint::Named;
use crate::rules::{Chain, Refusal};
use crate::store::{self, Store};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Top-level names of a dataset's objects (spec/format.md §11).
const KINDS: [&str; 6] = [
    "policy",
    "versions",
    "packs",
    "claims",
    "checkpoints",
    "cosignatures",
];

/// A member as the policy in force names it.
#[derive(Serialize, Debug, Clone)]
pub struct Member {
    /// Label.
    pub label: String,
    /// Role.
    pub role: String,
}

/// The newest version, as the newest checkpoint that counts names it.
#[derive(Serialize, Debug, Clone)]
pub struct Newest {
    /// Version id (the head with the largest seq).
    pub id: Id,
    /// Its sequence number.
    pub seq: u64,
    /// Its commit time (RFC 3339, UTC).
    pub time: String,
    /// Until when the checkpoint naming it is fresh (RFC 3339, UTC); absent when no
    /// checkpoint counts and the history was judged from the versions themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh_until: Option<String>,
    /// Whether that checkpoint has expired (freeze suspected).
    pub stale: bool,
}

/// One dataset under the hub.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Listed {
    /// Its prefix under SOURCE (empty when SOURCE itself holds it).
    pub prefix: String,
    /// Where to clone it from.
    pub url: String,
    /// Its name (chosen by whoever wrote the genesis: not unique, not proof of anything).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// Owners' labels.
    pub owners: Vec<String>,
    /// Members of the policy in force.
    pub members: Vec<Member>,
    /// The policy in force, by sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_seq: Option<u64>,
    /// The newest version, when a checkpoint names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest: Option<Newest>,
    /// What the caller may do: `owner`, `admin`, `writer`, `reader`, `withdrawn`,
    /// `not a member`; absent without an identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub you: Option<String>,
    /// Why it could not be read (fully), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Every valid genesis under the prefix when there are several (not resolved): id and
    /// owners.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub genesis: Vec<(Id, Vec<String>)>,
}

/// A hub listing.
#[derive(Serialize, Debug)]
pub struct Hub {
    /// What was listed.
    pub source: String,
    /// Datasets, by prefix.
    pub datasets: Vec<Listed>,
    /// Requests made.
    pub requests: u64,
}

/// Policies larger than this are junk, not read: a policy of 10,000 members with a wrap of
/// each of a hundred epochs is about 14 MiB.
const MAX_POLICY_SIZE: u64 = 64 << 20;

/// The objects under a folder hub, walked here rather than by the store so that one
/// unreadable folder or a name that is not UTF-8 is reported and the walk goes on, and
/// folder names holding `#` are kept (only a file named `...#N` is an upload in progress).
/// Returns (name, size, modified) and the problems, by prefix.
#[allow(clippy::type_complexity)]
fn walk_folder(root: &std::path::Path) -> (Vec<crate::store::Meta>, Vec<(String, String)>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for e in walkdir::WalkDir::new(root).follow_links(false) {
        let rel = |p: &std::path::Path| {
            p.strip_prefix(root)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned()
        };
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                let at = err.path().map(rel).unwrap_or_default();
                problems.push((at, format!("cannot be read: {err}")));
                continue;
            }
        };
        if !e.file_type().is_file() {
            continue;
        }
        let Some(name) = e.path().strip_prefix(root).ok().and_then(|p| p.to_str()) else {
            // Named by the first component that is not UTF-8, once.
            let mut at = std::path::PathBuf::new();
            for c in e.path().strip_prefix(root).unwrap_or(e.path()).components() {
                at.push(c);
                if c.as_os_str().to_str().is_none() {
                    break;
                }
            }
            let at = at.to_string_lossy().into_owned();
            if !problems.iter().any(|(p, _)| *p == at) {
                problems.push((at, "a name that is not UTF-8: not listed".into()));
            }
            continue;
        };
        if e.file_name().to_string_lossy().contains('#') {
            continue;
        }
        let Ok(m) = e.metadata() else { continue };
        let modified = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        out.push(crate::store::Meta {
            name: name.to_string(),
            size: m.len(),
            modified,
        });
    }
    (out, problems)
}

/// Open the store at `source` (an `s3://` URL, `file://` or a folder) and a function that
/// opens the store under one of its prefixes.
fn open(source: &str) -> Result<(Store, String)> {
    if source.contains("://") && !source.starts_with("file://") {
        let r = crate::remote::Remote::at(source)?;
        return Ok((r.store, source.trim_end_matches('/').to_string()));
    }
    let p = std::path::PathBuf::from(source.strip_prefix("file://").unwrap_or(source));
    if !p.is_dir() {
        return Err(Error::Usage(format!("{source}: no such folder")));
    }
    let p = std::fs::canonicalize(&p).map_err(|e| Error::Io {
        path: p.clone(),
        source: e,
    })?;
    Ok((Store::open_local(&p)?, p.display().to_string()))
}

fn under(base: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{prefix}")
    }
}

/// Objects of one dataset prefix, from the listing.
#[derive(Default)]
struct Group {
    policies: Vec<(Id, u64)>,
    versions: HashSet<Id>,
    packs: HashMap<Id, u64>,
    checkpoints: HashMap<Id, (u64, u64)>,
    cosignatures: HashMap<Id, (u64, u64)>,
}

/// List every dataset under `source`, judged as `me` when given.
pub fn list(source: &str, me: Option<&PublicIdentity>) -> Result<Hub> {
    let (root, base) = open(source)?;
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let (listed, problems) = if root.is_local() {
        walk_folder(std::path::Path::new(&base))
    } else {
        (root.list_meta("")?, Vec::new())
    };
    for m in listed {
        let parts: Vec<&str> = m.name.split('/').collect();
        let Some(i) = parts.iter().rposition(|p| KINDS.contains(p)) else {
            continue;
        };
        let rest = parts[i..].join("/");
        let Some(id) = transfer::expected_id(&rest).filter(|id| store::canonical(&rest, id)) else {
            continue;
        };
        let g = groups.entry(parts[..i].join("/")).or_default();
        match parts[i] {
            "policy" => g.policies.push((id, m.size)),
            "versions" => {
                g.versions.insert(id);
            }
            "packs" => {
                g.packs.insert(id, m.size);
            }
            "checkpoints" => {
                g.checkpoints.insert(id, (m.modified, m.size));
            }
            "cosignatures" => {
                g.cosignatures.insert(id, (m.modified, m.size));
            }
            _ => {}
        }
    }
    let mut requests = root.requests();
    let mut datasets: Vec<Listed> = problems
        .into_iter()
        .map(|(prefix, why)| Listed {
            url: under(&base, &prefix),
            prefix,
            problem: Some(why),
            ..Default::default()
        })
        .collect();
    for (prefix, g) in groups {
        let url = under(&base, &prefix);
        let mut d = Listed {
            prefix: prefix.clone(),
            url: url.clone(),
            ..Default::default()
        };
        if g.policies.is_empty() {
            d.problem = Some(
                "coffer objects but no policy: not a dataset (or its policies were deleted)".into(),
            );
            datasets.push(d);
            continue;
        }
        let s = match open(&url) {
            Ok((s, _)) => s,
            Err(e) => {
                d.problem = Some(e.to_string());
                datasets.push(d);
                continue;
            }
        };
        if let Err(e) = describe(&s, &g, me, &mut d) {
            d.problem = Some(e.to_string());
        }
        requests += s.requests();
        datasets.push(d);
    }
    Ok(Hub {
        source: base,
        datasets,
        requests,
    })
}

/// Read one dataset's policies and newest checkpoints into `d`.
fn describe(s: &Store, g: &Group, me: Option<&PublicIdentity>, d: &mut Listed) -> Result<()> {
    type Sized<'a> = Vec<&'a (Id, u64)>;
    let (small, big): (Sized, Sized) = g
        .policies
        .iter()
        .partition(|(_, size)| *size <= MAX_POLICY_SIZE);
    if let Some((id, size)) = big.first() {
        d.problem = Some(format!(
            "policy {} is {size} bytes, larger than any policy: junk, not read",
            id.short()
        ));
    }
    let ids: Vec<Id> = small.iter().map(|(i, _)| *i).collect();
    let names: Vec<String> = ids.iter().map(store::policy_path).collect();
    let mut all: BTreeMap<Id, Policy> = BTreeMap::new();
    let mut refused = Vec::new();
    for (id, b) in ids.iter().zip(transfer::get_all(s, &names)?) {
        match b.map(|b| Policy::open(id, &b)) {
            Some(Ok(p)) => {
                all.insert(*id, p);
            }
            Some(Err(e)) => refused.push((*id, Refusal::of_error(&e))),
            None => {}
        }
    }
    let owners = |p: &Policy| -> Vec<String> {
        p.members
            .iter()
            .filter(|m| m.role() == "owner")
            .map(|m| m.label().to_string())
            .collect()
    };
    let genesis: Vec<(Id, Vec<String>)> = all
        .iter()
        .filter(|(_, p)| p.seq == 0 && crate::rules::chain::check_genesis(p).is_ok())
        .map(|(id, p)| (*id, owners(p)))
        .collect();
    let id = match genesis.as_slice() {
        [] => {
            d.problem = Some("no valid genesis policy: not a dataset, or damaged".into());
            return Ok(());
        }
        [(id, _)] => *id,
        _ => {
            d.problem = Some(format!(
                "{} datasets' genesis policies under one prefix: not resolved (anyone who can write there can add one); clone with --expect-id",
                genesis.len()
            ));
            d.genesis = genesis;
            return Ok(());
        }
    };
    let chain: Chain = crate::rules::chain::walk(&id, all, refused)?;
    let (_, tip) = chain.tip();
    d.id = Some(id);
    d.name = Some(tip.name.clone());
    d.owners = owners(tip);
    d.policy_seq = Some(tip.seq);
    d.members = tip
        .members
        .iter()
        .map(|m| Member {
            label: m.label().to_string(),
            role: m.role().to_string(),
        })
        .collect();
    d.you = me.map(|me| match tip.member_by_sign_key(&me.sign) {
        Some(m) => m.role().to_string(),
        None if chain.member_by_sign_key(&me.sign).is_some() => "withdrawn".into(),
        None => "not a member".into(),
    });
    // The newest checkpoint that counts names the newest versions: read those alone.
    let now = crate::repo::now();
    let j = crate::remote::checkpoint::judge_newest(s, &g.checkpoints, &g.cosignatures, |read| {
        let mut present = |n: Named| match n {
            Named::Policy(p) => chain.knows(&p),
            Named::Version(v) => g.versions.contains(&v),
        };
        crate::rules::checkpoint::judge(
            &id,
            &chain,
            &BTreeMap::new(),
            &read.0,
            &read.1,
            now,
            &mut present,
        )
    })?;
    let Some(c) = j.newest.or_else(|| j.counted.last().cloned()) else {
        // No checkpoint counts (a store written before checkpoints): judge the versions
        // themselves, with their packs' epochs from the trailers (a range request each).
        let ids: Vec<Id> = g.versions.iter().copied().collect();
        let opened = crate::store::reader::versions(s, &ids)?;
        let wanted: std::collections::BTreeSet<Id> = opened
            .versions
            .values()
            .flat_map(|v| v.packs.iter().copied())
            .collect();
        let sized: Vec<(Id, u64)> = wanted
            .iter()
            .filter_map(|p| Some((*p, *g.packs.get(p)?)))
            .collect();
        let epochs = crate::store::reader::trailer_epochs(s, &sized)?;
        let hist = crate::rules::History::evaluate(chain, opened.versions, opened.junk, |p| {
            epochs.get(p).copied()
        });
        let newest = hist
            .heads()
            .into_iter()
            .filter_map(|h| Some((h, hist.versions.get(&h)?)))
            .max_by_key(|(h, v)| (v.seq, *h));
        if let Some((vid, v)) = newest {
            d.newest = Some(Newest {
                id: vid,
                seq: v.seq,
                time: crate::history::format_time(v.time),
                fresh_until: None,
                stale: false,
            });
        }
        return Ok(());
    };
    let names: Vec<String> = c.heads.iter().map(store::version_path).collect();
    let mut best: Option<(u64, Id, u64)> = None;
    for (vid, b) in c.heads.iter().zip(transfer::get_all(s, &names)?) {
        if let Some(Ok(v)) = b.map(|b| Version::open(vid, &b)) {
            if best.is_none_or(|(seq, _, _)| v.seq > seq) {
                best = Some((v.seq, *vid, v.time));
            }
        }
    }
    if let Some((seq, vid, time)) = best {
        d.newest = Some(Newest {
            id: vid,
            seq,
            time: crate::history::format_time(time),
            fresh_until: Some(crate::history::format_time(c.expires)),
            stale: now >= c.expires,
        });
    }
    Ok(())
}

/// The one dataset under `source` called `which` (its name, its prefix, its id, or a prefix of
/// its id of at least 8 hex digits). Names are chosen by whoever writes a genesis, so a name that is
/// not unique is refused, listing each id and its owners.
pub fn resolve(source: &str, which: &str) -> Result<Listed> {
    let hub = list(source, None)?;
    let hex = which.len() >= 8 && which.bytes().all(|b| b.is_ascii_hexdigit());
    let found: Vec<&Listed> = hub
        .datasets
        .iter()
        .filter(|d| {
            d.name.as_deref() == Some(which)
                || d.prefix == which.trim_matches('/')
                || (hex
                    && d.id
                        .is_some_and(|i| i.to_hex().starts_with(&which.to_lowercase())))
        })
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::Usage(format!(
            "no dataset called {which:?} under {source} (see `coffer list {source}`)"
        ))),
        many => Err(Error::Usage(format!(
            "{} datasets under {source} are called {which:?}; give the id (or, for copies of one dataset, the prefix) instead: {}",
            many.len(),
            many.iter()
                .map(|d| format!(
                    "{} at {} (owners {})",
                    d.id.map(|i| i.to_hex()).unwrap_or_default(),
                    d.prefix,
                    d.owners.join(", ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}
