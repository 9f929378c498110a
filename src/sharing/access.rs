//! The access history: for each version, who could read it (everyone ever given its epoch's
//! key), and for each policy change, who made it, when and what changed. Needs no data key.

use super::chain::Chain;
use crate::error::Result;
use crate::id::Id;
use crate::object::policy::Policy;
use crate::repo::Dataset;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One policy in the chain.
#[derive(Serialize, Debug)]
pub struct PolicyChange {
    /// Policy id.
    pub id: Id,
    /// Its sequence number (0 = creation of the dataset).
    pub seq: u64,
    /// When it was signed (RFC 3339, UTC).
    pub time: String,
    /// Label of the signer.
    pub by: String,
    /// Epoch in force after it.
    pub epoch: u32,
    /// `label (role)` of members added.
    pub added: Vec<String>,
    /// Labels of members withdrawn.
    pub removed: Vec<String>,
    /// `label: old -> new` role changes.
    pub changed: Vec<String>,
}

/// Who could read one version.
#[derive(Serialize, Debug)]
pub struct VersionAccess {
    /// Version id.
    pub id: Id,
    /// Sequence number.
    pub seq: u64,
    /// Commit time (RFC 3339, UTC).
    pub time: String,
    /// Label of the author.
    pub author: String,
    /// Epoch it is sealed under.
    pub epoch: u32,
    /// Labels of everyone given that epoch's key.
    pub readers: Vec<String>,
}

/// The whole access history.
#[derive(Serialize, Debug)]
pub struct Access {
    /// Dataset id.
    pub dataset: Id,
    /// Policy changes, oldest first.
    pub policies: Vec<PolicyChange>,
    /// Versions, oldest first.
    pub versions: Vec<VersionAccess>,
}

fn label_by_sign(chain: &Chain, key: &[u8; 32]) -> String {
    chain
        .member_by_sign_key(key)
        .map(|m| m.label().to_string())
        .unwrap_or_else(|| format!("(not a member: {})", hex::encode(&key[..6])))
}

fn diff(prev: Option<&Policy>, next: &Policy) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    for m in &next.members {
        match prev.and_then(|p| p.members.iter().find(|x| x.kx_key() == m.kx_key())) {
            None => added.push(format!("{} ({})", m.label(), m.role())),
            Some(o) if o.role() != m.role() => {
                changed.push(format!("{}: {} -> {}", m.label(), o.role(), m.role()))
            }
            Some(_) => {}
        }
    }
    if let Some(p) = prev {
        for m in &p.members {
            if !next.members.iter().any(|x| x.kx_key() == m.kx_key()) {
                removed.push(m.label().to_string());
            }
        }
    }
    (added, removed, changed)
}

/// Build the access history of `ds`.
pub fn history(ds: &Dataset) -> Result<Access> {
    let chain = ds.chain()?;
    // Epoch -> X25519 keys given it, anywhere in the chain.
    let mut holders: BTreeMap<u32, BTreeSet<[u8; 32]>> = BTreeMap::new();
    for (_, p) in &chain.policies {
        for w in &p.wraps {
            holders.entry(w.1).or_default().insert(w.0 .0);
        }
    }
    let label_by_kx = |kx: &[u8; 32]| {
        chain
            .member_by_kx_key(kx)
            .map(|m| m.label().to_string())
            .unwrap_or_else(|| "(unknown)".into())
    };
    let mut policies = Vec::new();
    let mut prev: Option<&Policy> = None;
    for (id, p) in &chain.policies {
        let (added, removed, changed) = diff(prev, p);
        policies.push(PolicyChange {
            id: *id,
            seq: p.seq,
            time: crate::history::format_time(p.time),
            by: label_by_sign(&chain, &p.signer.0),
            epoch: p.epoch,
            added,
            removed,
            changed,
        });
        prev = Some(p);
    }
    let mut versions = Vec::new();
    for id in ds.version_ids()? {
        let Ok(v) = ds.version(&id) else { continue };
        let mut readers: Vec<String> = holders
            .get(&v.epoch)
            .map(|ks| ks.iter().map(label_by_kx).collect())
            .unwrap_or_default();
        readers.sort();
        versions.push(VersionAccess {
            id,
            seq: v.seq,
            time: crate::history::format_time(v.time),
            author: label_by_sign(&chain, &v.author.0),
            epoch: v.epoch,
            readers,
        });
    }
    versions.sort_by(|a, b| a.seq.cmp(&b.seq).then(a.id.cmp(&b.id)));
    Ok(Access {
        dataset: ds.id,
        policies,
        versions,
    })
}
