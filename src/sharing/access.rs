//! The access history: for each version, who could read it (everyone holding every epoch its
//! seal and its packs need: spec/format.md §9), and for each policy change, who made it,
//! when and what changed. Needs no data key: wraps and pack trailers are readable.

use crate::error::Result;
use crate::id::Id;
use crate::object::policy::Policy;
use crate::repo::Dataset;
use crate::rules::history::Status;
use crate::rules::History;
use serde::Serialize;
use std::collections::BTreeSet;

/// A member as a policy change names it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct MemberRole {
    /// The member's label.
    pub label: String,
    /// Its role.
    pub role: String,
}

/// A role change.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    /// The member's label.
    pub label: String,
    /// Role before.
    pub from: String,
    /// Role after.
    pub to: String,
}

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
    /// Members added.
    pub added: Vec<MemberRole>,
    /// Labels of members withdrawn.
    pub removed: Vec<String>,
    /// Role changes.
    pub changed: Vec<RoleChange>,
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
    /// Epoch its seal is under.
    pub epoch: u32,
    /// Every epoch a reader needs: the seal's and those of the packs it lists.
    pub epochs: Vec<u32>,
    /// Labels of everyone given all of those epochs.
    pub readers: Vec<String>,
}

/// A version the rules refuse: no one reads it as history.
#[derive(Serialize, Debug)]
pub struct Refused {
    /// Version id.
    pub id: Id,
    /// Sequence number it claims.
    pub seq: u64,
    /// Label of its signer.
    pub author: String,
    /// The rule it breaks.
    pub rule: crate::rules::Rule,
    /// What happened.
    pub message: String,
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
    /// Versions in the store that are not history.
    pub refused: Vec<Refused>,
}

fn diff(prev: Option<&Policy>, next: &Policy) -> (Vec<MemberRole>, Vec<String>, Vec<RoleChange>) {
    let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    for m in &next.members {
        match prev.and_then(|p| p.members.iter().find(|x| x.same_identity(m))) {
            None => added.push(MemberRole {
                label: m.label().to_string(),
                role: m.role().to_string(),
            }),
            Some(o) if o.role() != m.role() => changed.push(RoleChange {
                label: m.label().to_string(),
                from: o.role().to_string(),
                to: m.role().to_string(),
            }),
            Some(_) => {}
        }
    }
    if let Some(p) = prev {
        for m in &p.members {
            if !next.members.iter().any(|x| x.same_identity(m)) {
                removed.push(m.label().to_string());
            }
        }
    }
    (added, removed, changed)
}

/// Build the access history of `ds`.
pub fn history(ds: &Dataset) -> Result<Access> {
    Ok(of(&ds.history()?))
}

/// The access history of judged versions.
pub fn of(hist: &History) -> Access {
    let chain = &hist.chain;
    let last = chain.policies.len() - 1;
    // Everyone ever given a key, by X25519 key.
    let people: BTreeSet<[u8; 32]> = chain
        .policies
        .iter()
        .flat_map(|(_, p)| p.wraps.iter().map(|w| w.0 .0))
        .collect();
    let mut policies = Vec::new();
    let mut prev: Option<&Policy> = None;
    for (id, p) in &chain.policies {
        let (added, removed, changed) = diff(prev, p);
        policies.push(PolicyChange {
            id: *id,
            seq: p.seq,
            time: crate::history::format_time(p.time),
            by: chain.label_of_sign_key(&p.signer.0),
            epoch: p.epoch,
            added,
            removed,
            changed,
        });
        prev = Some(p);
    }
    let mut versions = Vec::new();
    let mut refused = Vec::new();
    for (id, v) in &hist.versions {
        match hist.status_of(id) {
            Some(Status::Refused(r)) => refused.push(Refused {
                id: *id,
                seq: v.seq,
                author: chain.label_of_sign_key(&v.author.0),
                rule: r.rule,
                message: r.message.clone(),
            }),
            Some(_) => {
                let needed = hist.epochs_needed(v);
                let mut readers: Vec<String> = people
                    .iter()
                    .filter(|kx| needed.is_subset(&chain.held(kx, last)))
                    .filter_map(|kx| chain.member_by_kx_key(kx))
                    .map(|m| m.label().to_string())
                    .collect();
                readers.sort();
                versions.push(VersionAccess {
                    id: *id,
                    seq: v.seq,
                    time: crate::history::format_time(v.time),
                    author: chain.label_of_sign_key(&v.author.0),
                    epoch: v.epoch,
                    epochs: needed.into_iter().collect(),
                    readers,
                });
            }
            None => {}
        }
    }
    versions.sort_by(|a, b| a.seq.cmp(&b.seq).then(a.id.cmp(&b.id)));
    refused.sort_by(|a, b| a.seq.cmp(&b.seq).then(a.id.cmp(&b.id)));
    Access {
        dataset: chain.dataset,
        policies,
        versions,
        refused,
    }
}
