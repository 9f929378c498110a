//! Signing versions of the branch again under the policy in force, as git rebases unpublished
//! commits (spec/format.md §11.7). When a policy that arrived (or one made here and signed
//! again) refuses versions of the branch, pull makes each of the caller's again with the same
//! content and message, under the policy in force, sealing again whatever a withdrawn member
//! could read or a member cannot; versions by others that the rules refuse are left out, and
//! their children take their parents. Nothing of the caller's work is lost, and nothing new
//! reaches a withdrawn member.

use super::commit::writer;
use super::reseal::{self, Resealed};
use super::Dataset;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::identity::Identity;
use crate::object::version::Version;
use crate::rules::history::Status;
use std::collections::{BTreeMap, HashMap};

/// What a rebase did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Rebased {
    /// Versions made again: old id and new id.
    pub versions: Vec<(Id, Id)>,
    /// Versions by others left out, with the reason.
    pub dropped: Vec<(Id, String)>,
    /// What was sealed again.
    pub resealed: Resealed,
    /// The new branch head, and further heads the old head stood for (to merge).
    pub heads: Vec<Id>,
}

/// If the branch head is not history, make the branch's refused versions again under the
/// policy in force. `None` when there is nothing to do.
pub fn rebase(ds: &Dataset, identity: &Identity, progress: bool) -> Result<Option<Rebased>> {
    let _lock = ds.lock()?;
    let Some(head) = ds.head()? else {
        return Ok(None);
    };
    let hist = ds.history()?;
    if hist.is_history(&head) {
        return Ok(None);
    }
    // The branch's versions that are not history, oldest first.
    let mut bad: Vec<(u64, Id)> = Vec::new();
    let mut stack = vec![head];
    let mut seen = std::collections::HashSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) || hist.is_history(&id) {
            continue;
        }
        let v = hist.versions.get(&id).ok_or(Error::Missing {
            kind: "version",
            id,
        })?;
        bad.push((v.seq, id));
        stack.extend(v.parents.iter().copied());
    }
    bad.sort();
    let me = identity.public().sign;
    let reason = |id: &Id| match hist.status_of(id) {
        Some(Status::Refused(r)) => r.to_string(),
        _ => "not history".into(),
    };
    if bad.iter().any(|(_, id)| hist.versions[id].author.0 == me) {
        if let Err(r) = hist.chain.may_write(&me) {
            let (_, first) = bad[bad.len() - 1];
            return Err(Error::Usage(format!(
                "your version {} is not accepted ({}), and it cannot be signed again under the policy in force: {}",
                first.short(),
                reason(&first),
                r.message
            )));
        }
    }
    let w = writer(ds, identity)?;
    let mut index = w.index(ds)?;
    let mut out = Rebased::default();
    let mut images: HashMap<Id, Vec<Id>> = HashMap::new();
    let mut made: BTreeMap<Id, Version> = BTreeMap::new();
    for (_, id) in &bad {
        let v = hist.versions[id].clone();
        let mut parents: Vec<Id> = Vec::new();
        for p in &v.parents {
            let img = images.get(p).cloned().unwrap_or_else(|| vec![*p]);
            for i in img {
                if !parents.contains(&i) {
                    parents.push(i);
                }
            }
        }
        if v.author.0 != me {
            out.dropped.push((*id, reason(id)));
            images.insert(*id, parents);
            continue;
        }
        let k = w.keyring.get(v.epoch).ok_or_else(|| Error::NoEpochKey {
            who: w.label.clone(),
            epoch: v.epoch,
            dataset: ds.id,
        })?;
        let seal = v
            .unseal(id, &k)
            .map_err(|e| lost_own_version(&hist.chain, identity, id, &v).unwrap_or(e))?;
        let reachable = reseal::reachable(ds, &w.keyring, &index, seal.root)?;
        let r = reseal::ensure_usable(ds, &w.keyring, &w.keys, &mut index, &reachable, progress)?;
        out.resealed.blobs += r.blobs;
        out.resealed.bytes += r.bytes;
        out.resealed.packs += r.packs;
        out.resealed.pack_bytes += r.pack_bytes;
        let pv: Vec<(Id, Version)> = parents
            .iter()
            .map(|p| {
                made.get(p)
                    .cloned()
                    .or_else(|| hist.versions.get(p).cloned())
                    .map(|v| (*p, v))
                    .ok_or(Error::Missing {
                        kind: "version",
                        id: *p,
                    })
            })
            .collect::<Result<_>>()?;
        let refs: Vec<(Id, &Version)> = pv.iter().map(|(i, v)| (*i, v)).collect();
        let (nid, nv) = w.write_version(ds, identity, &refs, &seal, index.packs_of(&reachable)?)?;
        made.insert(nid, nv);
        images.insert(*id, vec![nid]);
        out.versions.push((*id, nid));
    }
    out.heads = images.get(&head).cloned().unwrap_or_default();
    match out.heads.first() {
        Some(h) => ds.set_head(h)?,
        None => {
            return Err(Error::Usage(
                "no version of your branch is history any more; clone the dataset again".into(),
            ))
        }
    }
    index.save(ds)?;
    // The refused versions were made here and are now stood for by their new versions (or
    // were someone else's and are refused): they go, so the store holds history only.
    for (_, id) in &bad {
        ds.store.delete(&crate::store::version_path(id))?;
    }
    Ok(Some(out))
}

/// Why the caller's own version `id` does not open under the keys in force, when the reason
/// is known: the policy it was made under is the caller's own (a repair that did not settle
/// its fork, spec §10.1c, §11.7), whose secret for that epoch opens it, and the chain in
/// force gives no secret that does (none for that epoch number, or another one). The
/// folder's files still hold the version's content.
pub(crate) fn lost_own_version(
    chain: &crate::rules::Chain,
    identity: &Identity,
    id: &Id,
    v: &Version,
) -> Option<Error> {
    if v.author.0 != identity.public().sign {
        return None;
    }
    let own = chain.own_aside_secret(identity, &v.policy, v.epoch)?;
    v.unseal(id, &crate::crypto::keys::EpochKeys::derive(v.epoch, &own))
        .ok()?;
    Some(Error::Usage(format!(
        "your version {} was made under your policy {} (epoch {}), which did not become the policy in force (another change to the members arrived as it was pushed), and the policy in force gives no key that opens it, so the version cannot be made again from this folder. Its files are still here: clone the dataset into a new folder, copy your changed files there, and commit them",
        id.short(),
        v.policy.short(),
        v.epoch,
    )))
}
