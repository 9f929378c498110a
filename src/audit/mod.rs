//! The auditor's check: a dataset judged straight from its store (an `s3://` URL, a store
//! folder, a dataset folder) by anyone, with no identity and no membership, writing nothing
//! into the store. It applies every keyless rule through [`crate::verify`] (and so through
//! [`crate::rules`]): hashes, canonical encodings, signatures, the policy chain, authors'
//! roles at the time, withdrawn writers, the epochs each version's readers hold, packs
//! present and whole, trailers; junk is listed and ignored. It remembers, per dataset, the
//! newest policy and the heads it last saw (`audits.json` in the user's coffer folder), and
//! reports a rollback when a later audit finds less. The store's checkpoints say whether it
//! is fresh, witnessed and shows this auditor what it showed their signers
//! ([`crate::rules::checkpoint`]). [`html`] renders the report as a page people read.

pub mod html;

use crate::error::{Error, Result};
use crate::id::Id;
use crate::repo::clone::{dataset_of, source_remote};
use crate::repo::Config;
use crate::sharing::access::{self, Access};
use crate::verify::{scratch_view, verify_store, Depth, Level, Report, Whose};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What an audit is asked to do.
pub struct AuditOptions {
    /// Where the dataset is: what `clone` takes.
    pub source: String,
    /// The dataset id the auditor was given; without it, the store's only genesis, trusted
    /// on first use and remembered.
    pub expect: Option<Id>,
    /// The auditor's memory (`audits.json`); `None` remembers nothing.
    pub memory: Option<PathBuf>,
    /// A progress bar over the bytes read.
    pub progress: bool,
    /// Read packs' trailers only, not every byte (the verdict says so).
    pub quick: bool,
}

/// An audit's result: the verify report of the store, and the dataset's access history.
#[derive(Serialize, Debug)]
pub struct AuditReport {
    /// `clean`, `warnings` or `errors`.
    pub verdict: &'static str,
    /// The dataset's name.
    pub name: String,
    /// When the audit ran (RFC 3339, UTC).
    pub time: String,
    /// Findings and counts.
    #[serde(flatten)]
    pub report: Report,
    /// Members over time and who could read each version (absent when the policy chain
    /// could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
}

/// The verdict of a report: its worst finding.
pub fn verdict(r: &Report) -> &'static str {
    match r.findings.iter().map(|f| f.level).min() {
        Some(Level::Error) => "errors",
        Some(Level::Warning) => "warnings",
        _ => "clean",
    }
}

/// What an audit last saw of one dataset.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
struct Seen {
    /// The source it was read from.
    source: String,
    /// The newest accepted policy: seq and id.
    policy: Option<(u64, Id)>,
    /// The heads of the accepted history.
    heads: Vec<Id>,
    /// The newest checkpoint with its quorum.
    #[serde(default)]
    checkpoint: Option<Id>,
    /// When (seconds since the epoch, UTC).
    time: u64,
}

/// Read a per-user memory file (the auditor's, the witness's): empty when absent or
/// unreadable (a damaged memory forgets; it never stops an audit).
pub(crate) fn load_memory<T: serde::de::DeserializeOwned + Default>(path: &Path) -> T {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Write a per-user memory file atomically, making its folder.
pub(crate) fn save_memory<T: Serialize>(path: &Path, memory: &T) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.into(),
            source,
        })?;
    }
    crate::repo::write_atomic(path, &serde_json::to_vec_pretty(memory).unwrap_or_default())
}

/// Audit a dataset from its store. Errors (exit 2) only when the store cannot be read or
/// holds no dataset to audit; everything else is a finding.
pub fn audit(opts: &AuditOptions) -> Result<AuditReport> {
    let (url, remote) = source_remote(&opts.source)?;
    let mut memory: BTreeMap<String, Seen> =
        opts.memory.as_deref().map(load_memory).unwrap_or_default();
    // A dataset remembered for this source is pinned, as clone pins it.
    let known = memory
        .iter()
        .find(|(_, s)| s.source == url)
        .and_then(|(id, _)| Id::from_hex(id));
    let id = dataset_of(&remote.store, &url, opts.expect, known).map_err(|e| remote.explain(e))?;
    // A view of the dataset whose store is the source; its folder is scratch, outside it.
    let scratch = std::env::temp_dir().join(format!(
        "coffer-audit.{}.{}",
        std::process::id(),
        id.short()
    ));
    let config = Config {
        format: 1,
        dataset: id.to_hex(),
        branch: "main".into(),
    };
    let view = scratch_view(&scratch, config, id, remote.store.clone())?;
    let depth = if opts.quick {
        Depth::Quick
    } else {
        Depth::Full
    };
    let report = verify_store(&view, None, opts.progress, Whose::Remote, depth);
    let now = view.history().ok();
    let _ = std::fs::remove_dir_all(&scratch);
    let mut r = report.map_err(|e| remote.explain(e))?;
    r.source = format!("audit of {url}");
    let finish = |r: Report, hist: Option<&crate::rules::History>| AuditReport {
        verdict: verdict(&r),
        name: hist.map_or_else(String::new, |h| h.chain.policies[0].1.name.clone()),
        time: crate::history::format_time(crate::repo::now()),
        access: hist.map(access::of),
        report: r,
    };
    let Some(hist) = now else {
        return Ok(finish(r, None));
    };
    let key = id.to_hex();
    let before = memory.get(&key).cloned();
    let mut rolled_back = false;
    if let Some(b) = &before {
        let when = crate::history::format_time(b.time);
        if let Some((seq, p)) = &b.policy {
            if hist.chain.get(p).is_none() && !hist.chain.knows(p) {
                rolled_back = true;
                r.add(
                    Level::Error,
                    "policy",
                    Some(p),
                    format!(
                        "policy seq {seq}, in force at your last audit ({when}), is gone: the store was rolled back or the policy deleted"
                    ),
                );
            }
        }
        if let Some(c) = &b.checkpoint {
            let name = crate::store::checkpoint_path(c);
            let there = matches!(remote.store.get(&name), Ok(Some(b)) if Id::of_stored(&b) == *c);
            if !there {
                rolled_back = true;
                r.add(
                    Level::Error,
                    "checkpoint",
                    Some(c),
                    format!(
                        "the newest checkpoint at your last audit ({when}) is gone: the store was rolled back, or shows you an older state than it showed you then"
                    ),
                );
            }
        }
        for h in &b.heads {
            if !hist.is_history(h) {
                rolled_back = true;
                r.add(
                    Level::Error,
                    "version",
                    Some(h),
                    format!(
                        "a head of the history at your last audit ({when}) is gone or no longer history: the store was rolled back or the version deleted"
                    ),
                );
            }
        }
    }
    r.findings.sort_by_key(|f| f.level);
    // Remember the longer view only: after a rollback, keep what was seen before.
    if let (Some(path), false) = (&opts.memory, rolled_back) {
        let (tip_id, tip) = hist.chain.tip();
        memory.insert(
            key,
            Seen {
                source: url,
                policy: Some((tip.seq, *tip_id)),
                heads: hist.heads(),
                checkpoint: r.fresh.as_ref().map(|c| c.id),
                time: crate::repo::now(),
            },
        );
        save_memory(path, &memory)?;
    }
    Ok(finish(r, Some(&hist)))
}
