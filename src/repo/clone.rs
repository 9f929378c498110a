//! Clone: copy another organisation's dataset from a store, check its policy chain from the
//! genesis, make sure the caller is a recipient before writing anything, then check out the
//! newest version. The dataset id is pinned with `--expect-id`, or remembered on first use.

use super::checkout::{self, CheckoutOptions, CheckoutOutcome};
use super::{keyring, Dataset, DOT};
use crate::error::{Error, IoContext, Result};
use crate::id::Id;
use crate::identity::Identity;
use crate::object::policy::Policy;
use crate::object::version::Version;
use crate::sharing::chain;
use crate::store::{self, Store};
use std::collections::{BTreeMap, HashSet};
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
}

/// What a clone did.
#[derive(Debug, serde::Serialize)]
pub struct CloneOutcome {
    /// The dataset id.
    pub dataset: Id,
    /// The version checked out, if any.
    pub head: Option<Id>,
    /// Objects copied.
    pub objects: usize,
    /// Bytes copied.
    pub bytes: u64,
    /// True when the dataset id was not known for this source before.
    pub first_use: bool,
    /// The checkout.
    pub checkout: Option<CheckoutOutcome>,
}

fn source_store(source: &str) -> Result<(PathBuf, Store)> {
    let p = source.strip_prefix("file://").unwrap_or(source);
    let p = PathBuf::from(p);
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
    let s = Store::open_local(&dir)?;
    Ok((dir, s))
}

/// The one dataset a store holds: the id of its only genesis policy.
fn dataset_of(s: &Store, source: &str) -> Result<Id> {
    let mut genesis = Vec::new();
    for (id, _) in s.list_ids("policy")? {
        if let Some(b) = s.get(&store::policy_path(&id))? {
            if let Ok(p) = Policy::open(&id, &b) {
                if p.seq == 0 {
                    genesis.push(id);
                }
            }
        }
    }
    match genesis.len() {
        1 => Ok(genesis[0]),
        0 => Err(Error::Usage(format!("{source}: holds no valid dataset"))),
        n => Err(Error::Usage(format!(
            "{source}: holds {n} datasets; coffer expects one per store"
        ))),
    }
}

/// The newest version: the highest sequence number among heads, ties to the smallest id.
fn newest(s: &Store, dataset: &Id) -> Result<Option<Id>> {
    let mut versions: BTreeMap<Id, Version> = BTreeMap::new();
    for (id, _) in s.list_ids("versions")? {
        if let Some(b) = s.get(&store::version_path(&id))? {
            match Version::open(&id, &b) {
                Ok(v) if v.dataset == *dataset => {
                    versions.insert(id, v);
                }
                _ => {}
            }
        }
    }
    let parents: HashSet<Id> = versions
        .values()
        .flat_map(|v| v.parents.iter().copied())
        .collect();
    Ok(versions
        .iter()
        .filter(|(id, _)| !parents.contains(*id))
        .max_by(|(a, x), (b, y)| x.seq.cmp(&y.seq).then(b.cmp(a)))
        .map(|(id, _)| *id))
}

fn check_known(known: &Path, source: &Path, id: &Id, expect: Option<Id>) -> Result<bool> {
    let mut map: BTreeMap<String, String> = std::fs::read(known)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let key = source.display().to_string();
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

/// Clone a dataset.
pub fn clone(identity: &Identity, opts: &CloneOptions) -> Result<CloneOutcome> {
    let (src_dir, src) = source_store(&opts.source)?;
    let dataset = dataset_of(&src, &opts.source)?;
    if let Some(want) = opts.expect_id {
        if want != dataset {
            return Err(Error::Usage(format!(
                "{} holds dataset {dataset}, not the expected {want}",
                opts.source
            )));
        }
    }
    // The chain from the genesis, and the caller's keys, before anything is written.
    let chain = chain::load(&src, &dataset)?;
    let keys = keyring(&dataset, &chain, identity)?;
    let head = newest(&src, &dataset)?;
    if opts.target.exists()
        && std::fs::read_dir(&opts.target)
            .at(&opts.target)?
            .next()
            .is_some()
    {
        return Err(Error::Usage(format!(
            "{} exists and is not empty; clone into a new folder",
            opts.target.display()
        )));
    }
    let first_use = match &opts.known {
        Some(k) => check_known(k, &src_dir, &dataset, opts.expect_id)?,
        None => true,
    };
    std::fs::create_dir_all(&opts.target).at(&opts.target)?;
    let root = std::fs::canonicalize(&opts.target).at(&opts.target)?;
    let mut objects = 0;
    let mut bytes = 0;
    let ds = Dataset::create(&root, dataset, head, |dst| {
        for prefix in ["policy", "versions", "packs"] {
            for (name, _) in src.list(prefix)? {
                if let Some(b) = src.get(&name)? {
                    bytes += b.len() as u64;
                    objects += 1;
                    dst.put_new(&name, b.to_vec())?;
                }
            }
        }
        Ok(())
    })?;
    let checkout = match head {
        Some(h) => Some(checkout::checkout(
            &ds,
            &keys,
            h,
            &CheckoutOptions {
                target: None,
                force: true,
                progress: opts.progress,
            },
        )?),
        None => None,
    };
    Ok(CloneOutcome {
        dataset,
        head,
        objects,
        bytes,
        first_use,
        checkout,
    })
}
