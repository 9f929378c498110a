//! Clone: copy another organisation's dataset from a store, check its policy chain from the
//! genesis, make sure the caller is a recipient before writing anything, then check out the
//! newest version. The dataset id is pinned with `--expect-id`, or remembered on first use.

use super::checkout::{self, CheckoutOptions, CheckoutOutcome};
use super::{keyring, Dataset, DOT};
use crate::error::{Error, IoContext, Result};
use crate::id::Id;
use crate::identity::Identity;
use crate::object::policy::Policy;
use crate::remote::Remote;
use crate::rules::chain;
use crate::store::{self, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What to clone.
pub struct CloneOptions {
    /// A store folder, a dataset folder (its `.coffer/store` is used), or a `file://` URL.
    pub source: String,
    /// The new dataset folder (must not exist, or be empty).
    pub target: PathBuf,
    /// Refuse unless the source holds this dataset.
    pub expect_id: Option<Id>,
    /// Trust-on-first-use record (source -> dataset id); `None` disables it.
    pub known: Option<PathBuf>,
    /// Progress bars.
    pub progress: bool,
    /// Clone only this folder (a partial clone): packs are not copied, and the files under
    /// it are read from the source as byte ranges of packs.
    pub path: Option<String>,
}

/// What a clone did.
#[derive(Debug, serde::Serialize)]
pub struct CloneOutcome {
    /// The dataset id.
    pub dataset: Id,
    /// The version checked out, if any.
    pub head: Option<Id>,
    /// Objects copied (packs, versions, policies).
    pub objects: usize,
    /// Packs copied (a resumed clone copies only those that had not arrived).
    pub packs: usize,
    /// Bytes copied.
    pub bytes: u64,
    /// Bytes received from the source, whole objects and ranges (a partial clone's reads
    /// included).
    pub received: u64,
    /// Requests made to the source.
    pub requests: u64,
    /// True when the dataset id was not known for this source before.
    pub first_use: bool,
    /// The checkout.
    pub checkout: Option<CheckoutOutcome>,
    /// Versions in the source the rules refuse (left out), with the rule.
    pub refused: Vec<(Id, crate::rules::Refusal)>,
    /// Policies in the source the rules refuse (left out), with the rule.
    pub refused_policies: Vec<(Id, crate::rules::Refusal)>,
    /// What the source's checkpoints say (freshness, quorum, split views), one line each.
    pub checkpoints: Vec<String>,
}

/// Where the objects are: a URL (`s3://`, `file://`), a store folder or a dataset folder.
/// Returns the URL to record as `origin` and the remote.
pub(crate) fn source_remote(source: &str) -> Result<(String, Remote)> {
    if source.contains("://") && !source.starts_with("file://") {
        return Ok((source.to_string(), Remote::at(source)?));
    }
    let p = PathBuf::from(source.strip_prefix("file://").unwrap_or(source));
    let dir = if p.join(DOT).join("store").is_dir() {
        p.join(DOT).join("store")
    } else {
        p
    };
    if !dir.join("policy").is_dir() {
        return Err(Error::Usage(format!(
            "{source}: not a coffer store or dataset folder (no policy/ inside)"
        )));
    }
    let dir = std::fs::canonicalize(&dir).at(&dir)?;
    let url = dir.display().to_string();
    Ok((url.clone(), Remote::at(&url)?))
}

/// The dataset to clone from a store: the pinned one (`--expect-id`, or the id remembered
/// for this source), which must be there; else the store's only valid genesis policy. Anyone
/// who can write to a bucket can add a genesis of their own, so without a pin several are
/// refused, each named (spec/format.md §11.1).
pub(crate) fn dataset_of(
    s: &Store,
    source: &str,
    expect: Option<Id>,
    known: Option<Id>,
) -> Result<Id> {
    let mut genesis: Vec<(Id, Policy)> = Vec::new();
    for (id, _) in s.list_ids("policy")? {
        if let Some(b) = s.get(&store::policy_path(&id))? {
            if let Ok(p) = Policy::open(&id, &b) {
                if p.seq == 0 && crate::rules::chain::check_genesis(&p).is_ok() {
                    genesis.push((id, p));
                }
            }
        }
    }
    if let (None, Some(old)) = (expect, known) {
        if !genesis.iter().any(|(id, _)| *id == old) {
            let now: Vec<String> = genesis.iter().map(|(i, _)| i.to_hex()).collect();
            return Err(Error::Usage(format!(
                "{source} held dataset {old} when you last cloned it, and now holds {}: a different dataset (pass --expect-id with the new id if that is intended)",
                if now.is_empty() { "none".into() } else { now.join(", ") }
            )));
        }
    }
    if let Some(want) = expect.or(known) {
        return match genesis.iter().find(|(id, _)| *id == want) {
            Some(_) => Ok(want),
            None => Err(Error::Usage(format!(
                "{source} does not hold dataset {want}{}",
                match genesis.as_slice() {
                    [] => String::new(),
                    g => format!(
                        " (it holds {})",
                        g.iter()
                            .map(|(i, _)| i.short())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            ))),
        };
    }
    match genesis.len() {
        1 => Ok(genesis[0].0),
        0 => Err(Error::Usage(format!("{source}: holds no valid dataset"))),
        n => {
            let list: Vec<String> = genesis
                .iter()
                .map(|(id, p)| {
                    let owner = p
                        .member_by_sign_key(&p.signer.0)
                        .map(|m| m.label().to_string())
                        .unwrap_or_default();
                    format!("{id} ({:?}, owner {owner:?})", p.name)
                })
                .collect();
            Err(Error::Usage(format!(
                "{source}: holds {n} datasets, {}; anyone who can write there can add one: pass --expect-id with the id you were given",
                list.join("; ")
            )))
        }
    }
}

/// The dataset id remembered for `source`, if any.
fn known_id(known: &Path, source: &str) -> Option<Id> {
    let map: BTreeMap<String, String> = std::fs::read(known)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())?;
    Id::from_hex(map.get(source)?)
}

fn check_known(known: &Path, source: &str, id: &Id, expect: Option<Id>) -> Result<bool> {
    let mut map: BTreeMap<String, String> = std::fs::read(known)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let key = source.to_string();
    let first = match map.get(&key) {
        Some(old) if old == &id.to_hex() => false,
        Some(old) if expect != Some(*id) => {
            return Err(Error::Usage(format!(
                "{key} held dataset {old} when you last cloned it, and now holds {id}: a different dataset (pass --expect-id {id} if that is intended)"
            )))
        }
        _ => true,
    };
    map.insert(key, id.to_hex());
    if let Some(dir) = known.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    super::write_atomic(known, &serde_json::to_vec_pretty(&map).unwrap_or_default())?;
    Ok(first)
}

/// A folder path for `--path`: relative, `/`-separated, no `.` or `..` parts.
fn check_prefix(p: &str) -> Result<String> {
    let t = p.trim_matches('/');
    if t.is_empty() || t.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(Error::Usage(format!(
            "--path {p}: give a folder inside the dataset, like schools or data/2026"
        )));
    }
    Ok(t.to_string())
}

/// Clone a dataset.
///
/// Rerunnable: a clone killed while copying leaves `DIR/.coffer.init-tmp`, and running the
/// same clone again copies only the objects that did not arrive; one killed during its
/// checkout leaves `DIR/.coffer/` marked [`super::CLONE_PENDING`], and running it again
/// finishes the checkout.
pub fn clone(identity: &Identity, opts: &CloneOptions) -> Result<CloneOutcome> {
    let partial = match &opts.path {
        Some(p) => Some(check_prefix(p)?),
        None => None,
    };
    let (url, r) = source_remote(&opts.source)?;
    let known = opts.known.as_deref().and_then(|k| known_id(k, &url));
    let dataset =
        dataset_of(&r.store, &opts.source, opts.expect_id, known).map_err(|e| r.explain(e))?;
    // The chain from the genesis, and the caller's keys, before anything is written.
    let chain = chain::load(&r.store, &dataset).map_err(|e| r.explain(e))?;
    let keys = keyring(&dataset, &chain, identity)?;
    if let Some(ds) = interrupted(&opts.target, &dataset, partial.as_deref())? {
        return finish(
            ds,
            &r,
            &keys,
            opts,
            dataset,
            chain,
            first_known(opts, &url, &dataset)?,
            None,
        );
    }
    if opts.target.exists() {
        let resumable = std::fs::read_dir(&opts.target)
            .at(&opts.target)?
            .filter_map(|e| e.ok())
            .all(|e| e.file_name() == super::INIT_TMP);
        if !resumable {
            return Err(Error::Usage(format!(
                "{} exists and is not empty; clone into a new folder",
                opts.target.display()
            )));
        }
    }
    let first_use = first_known(opts, &url, &dataset)?;
    std::fs::create_dir_all(&opts.target).at(&opts.target)?;
    let root = std::fs::canonicalize(&opts.target).at(&opts.target)?;
    let mut fetched = None;
    let ds = Dataset::create(
        &root,
        dataset,
        true,
        |dst| {
            // The genesis first, so the half-made dataset can check the rest against its chain.
            crate::remote::transfer::copy(
                &r.store,
                dst,
                &[(store::policy_path(&dataset), 0)],
                false,
            )
            .map_err(|e| r.explain(e))?;
            Ok(())
        },
        |half| {
            if let Some(p) = &partial {
                super::write_atomic(&half.dot.join(super::PARTIAL), format!("{p}\n").as_bytes())?;
            }
            super::write_atomic(
                &half.dot.join(super::CLONE_PENDING),
                format!("{url}\n").as_bytes(),
            )?;
            let mut remotes = crate::remote::Remotes::load(half)?;
            if !remotes.map.contains_key(crate::remote::DEFAULT_REMOTE) {
                remotes.map.insert(
                    crate::remote::DEFAULT_REMOTE.into(),
                    crate::remote::RemoteConfig {
                        url: url.clone(),
                        ..Default::default()
                    },
                );
                remotes.save()?;
            }
            let origin = Remote {
                name: crate::remote::DEFAULT_REMOTE.into(),
                config: remotes.map[crate::remote::DEFAULT_REMOTE].clone(),
                store: r.store.clone(),
            };
            let f = crate::remote::fetch::fetch_from(half, &origin, None, opts.progress)?;
            let hist = half.history()?;
            // The newest head the caller can read (a member added from now on cannot read a
            // head a writer made under the policy before); else the newest, whose checkout
            // then says whose key it needs.
            let mut newest = None;
            for h in &f.heads {
                let v = hist.get(h)?;
                let readable = keys.reads(&hist, v);
                let rank = (readable, v.seq, std::cmp::Reverse(*h));
                if newest.is_none_or(|(r, _)| rank > r) {
                    newest = Some((rank, *h));
                }
            }
            fetched = Some(f);
            Ok(newest.map(|(_, h)| h))
        },
    )?;
    finish(ds, &r, &keys, opts, dataset, chain, first_use, fetched)
}

/// Record `url`'s dataset for trust on first use; whether this is its first use (an error
/// if the source held another dataset before).
fn first_known(opts: &CloneOptions, url: &str, dataset: &Id) -> Result<bool> {
    match &opts.known {
        Some(k) => check_known(k, url, dataset, opts.expect_id),
        None => Ok(true),
    }
}

/// The dataset in `target` if it is a clone of `dataset` (of the same folder, with
/// `--path`) whose checkout did not finish; an error if it is a clone of something else
/// that did not finish.
fn interrupted(target: &Path, dataset: &Id, partial: Option<&str>) -> Result<Option<Dataset>> {
    if !target.join(DOT).join(super::CLONE_PENDING).exists() {
        return Ok(None);
    }
    let ds = Dataset::open(target)?;
    if ds.id != *dataset || ds.partial().as_deref() != partial {
        return Err(Error::Usage(format!(
            "{} holds an unfinished clone of dataset {}{}, not this one; clone into a new folder",
            target.display(),
            ds.id.short(),
            ds.partial()
                .map(|p| format!(" (--path {p})"))
                .unwrap_or_default()
        )));
    }
    Ok(Some(ds))
}

/// Check out the newest version of a clone's dataset (in place), and mark the clone
/// finished.
#[allow(clippy::too_many_arguments)]
fn finish(
    ds: Dataset,
    r: &Remote,
    keys: &super::Keyring,
    opts: &CloneOptions,
    dataset: Id,
    chain: chain::Chain,
    first_use: bool,
    fetched: Option<crate::remote::fetch::FetchOutcome>,
) -> Result<CloneOutcome> {
    let f = fetched.unwrap_or_default();
    let head = ds.head()?;
    let hist = ds.history()?;
    if let Some(h) = &head {
        crate::remote::fetch::prefetch_trees(&ds, &hist, keys, h).map_err(|e| r.explain(e))?;
    }
    let checkout = match head {
        Some(h) => Some(checkout::checkout(
            &ds,
            &hist,
            keys,
            h,
            &CheckoutOptions {
                target: None,
                force: true,
                progress: opts.progress,
                keep_differing: true,
            },
        )
        .map_err(|e| match e {
            Error::NoEpochKey { .. } => {
                // Nothing more a clone can do: the folder is a dataset without its files.
                let _ = ds.clone_finished();
                Error::Usage(format!(
                    "{e}. {} holds the dataset without its files: once you are given access, run `coffer pull` there (older versions you can read check out with `coffer checkout REV --to DIR`)",
                    ds.root.display()
                ))
            }
            Error::WouldOverwrite { count, first } => Error::Usage(format!(
                "{} holds {count} file(s) that differ from the version this clone is checking out, first: {first}; a clone finishing a checkout that was killed keeps them: move them away (or discard them with `coffer checkout HEAD --force` there), then run the clone again",
                ds.root.display()
            )),
            e => e,
        })?),
        None => None,
    };
    // A checkout in place marks it finished; with no version to check out, so does this.
    ds.clone_finished()?;
    Ok(CloneOutcome {
        dataset,
        head,
        objects: f.packs.objects + f.versions.len() + f.policies + 1,
        packs: f.packs.objects,
        received: r.store.received() + ds.store.fallback().map_or(0, |s| s.received()),
        requests: r.store.requests() + ds.store.fallback().map_or(0, |s| s.requests()),
        bytes: f.packs.bytes,
        first_use,
        checkout,
        refused: f.refused,
        refused_policies: chain.refused,
        checkpoints: f.checkpoints,
    })
}
