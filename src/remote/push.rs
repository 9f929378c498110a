//! `push`: packs the remote lacks, then one claim, then policies and versions (spec/format.md
//! §11.1-11.2), so a reader never sees a version whose objects are not all there and two
//! pushers from the same state never both think they went first on a store that honours
//! conditions, nor lose a version on one that does not.

use super::claim::{self, Claim};
use super::listing::{check_dataset, check_seen, heads, list, read_local, record_seen, remote_tip};
use super::transfer::{self, Moved};
use super::{Remote, Seen};
use crate::error::{Error, Result};
use crate::history;
use crate::id::Id;
use crate::object::policy::Policy;
use crate::object::version::Version;
use crate::repo::{now, Dataset};
use crate::store;
use std::collections::{BTreeSet, HashMap, HashSet};

/// A push reuses a pack it finds on the remote but that no version there references (left
/// by an interrupted push) only while it is younger than this; an older one is uploaded
/// again. `gc` never deletes an unreferenced pack younger than twice this.
pub const REUSE_WINDOW_SECS: u64 = 12 * 3600;

/// What a push did.
#[derive(Debug, Default, serde::Serialize)]
pub struct PushOutcome {
    /// The remote's name.
    pub remote: String,
    /// Versions made visible.
    pub versions: usize,
    /// Policies made visible.
    pub policies: usize,
    /// Packs uploaded.
    pub packs: Moved,
    /// The remote's head afterwards.
    pub head: Option<Id>,
    /// Whether the store honours `If-None-Match: *` (probed once per remote).
    pub conditional: bool,
    /// Requests made to the remote.
    pub requests: u64,
}

/// Push the branch head and the policy chain to a remote.
pub fn push(ds: &Dataset, name: Option<&str>, progress: bool) -> Result<PushOutcome> {
    let _lock = ds.lock()?;
    let (_, mut r) = Remote::open(ds, name)?;
    let conditional = match r.config.conditional {
        Some(c) => c,
        None => r.probe()?,
    };
    r.config.conditional = Some(conditional);
    // A claim that turns out to be our own earlier attempt, or one whose versions we already
    // have, is finished and the push starts over from the new state.
    for _ in 0..3 {
        if let Some(out) = push_once(ds, &r, progress)? {
            return Ok(PushOutcome {
                conditional,
                requests: r.store.requests(),
                ..out
            });
        }
    }
    Err(r.problem("the remote kept changing while pushing; try again"))
}

fn push_once(ds: &Dataset, r: &Remote, progress: bool) -> Result<Option<PushOutcome>> {
    let l = list(r)?;
    check_dataset(r, &l, &ds.id)?;
    check_seen(r, &l)?;
    let chain = ds.chain()?;
    let behind = |what: String| Error::Behind {
        name: r.name.clone(),
        what,
    };
    let local_policies: HashSet<Id> = chain.policies.iter().map(|(i, _)| *i).collect();
    let unknown = l.policies.difference(&local_policies).count();
    if unknown > 0 {
        return Err(behind(format!("{unknown} policy change(s)")));
    }
    let local_versions: HashSet<Id> = ds.version_ids()?.into_iter().collect();
    let unknown = l.versions.difference(&local_versions).count();
    if unknown > 0 {
        return Err(behind(format!("{unknown} version(s)")));
    }
    let head = ds.head()?;
    let ancestors = match head {
        Some(h) => history::log(ds, &h)?,
        None => Vec::new(),
    };
    let anc: HashSet<Id> = ancestors.iter().map(|(i, _)| *i).collect();
    let unmerged = l.versions.difference(&anc).count();
    if unmerged > 0 {
        return Err(behind(format!(
            "{unmerged} version(s) not merged into your head"
        )));
    }
    let mut new_versions: Vec<&(Id, Version)> = ancestors
        .iter()
        .filter(|(id, _)| !l.versions.contains(id))
        .collect();
    new_versions.sort_by_key(|(id, v)| (v.seq, *id));
    let new_policies: Vec<&(Id, Policy)> = chain
        .policies
        .iter()
        .filter(|(id, _)| !l.policies.contains(id))
        .collect();
    let (tip_id, tip) = chain.tip();
    let seen = Seen {
        heads: head.into_iter().collect(),
        policy: Some((tip.seq, *tip_id)),
    };
    if new_versions.is_empty() && new_policies.is_empty() {
        record_seen(ds, r, seen, r.config.conditional)?;
        return Ok(Some(PushOutcome {
            remote: r.name.clone(),
            head,
            ..Default::default()
        }));
    }

    // Packs first. One the remote holds but no version there references may be the
    // leftover of an interrupted push: reused while young, sent again once gc could take it.
    let referenced: HashSet<Id> = ancestors
        .iter()
        .filter(|(id, _)| l.versions.contains(id))
        .flat_map(|(_, v)| v.packs.iter().copied())
        .collect();
    let local_packs: HashMap<Id, u64> = ds.store.list_ids("packs")?.into_iter().collect();
    let need: BTreeSet<Id> = new_versions
        .iter()
        .flat_map(|(_, v)| v.packs.iter().copied())
        .collect();
    let t = now();
    let mut send = Vec::new();
    for p in need {
        let size = *local_packs.get(&p).ok_or(Error::Missing {
            kind: "pack",
            id: p,
        })?;
        let reuse = match l.packs.get(&p) {
            Some((remote_size, modified)) => {
                referenced.contains(&p)
                    || (*remote_size == size && t.saturating_sub(*modified) < REUSE_WINDOW_SECS)
            }
            None => false,
        };
        if !reuse {
            send.push((store::pack_path(&p), size));
        }
    }
    let packs = transfer::copy(&ds.store, &r.store, &send, progress).map_err(|e| r.explain(e))?;

    // The claim: the one step two pushers from the same state cannot both pass.
    let mut claim = Claim::default();
    for (id, _) in &new_policies {
        claim
            .policies
            .push(read_local(ds, &store::policy_path(id), "policy", id)?.into());
    }
    for (id, _) in &new_versions {
        claim
            .versions
            .push(read_local(ds, &store::version_path(id), "version", id)?.into());
    }
    let remote_heads = heads(ds, &l.versions)?;
    let base_policy = remote_tip(&chain, &l).map(|(_, id)| id).unwrap_or(ds.id);
    let state = claim::state_id(&ds.id, &base_policy, &remote_heads);
    let name = store::claim_path(&state);
    let body = claim.encode();
    r.store
        .put_new(&name, body.clone())
        .map_err(|e| r.explain(e))?;
    // Read back whether written now or before: a store that ignores the condition may have
    // let another writer replace it, and an existing claim may be our own earlier attempt.
    let standing = r.store.get(&name).map_err(|e| r.explain(e))?;
    if standing.as_deref() != Some(body.as_slice()) {
        let Some(other) = standing else {
            return Err(r.problem(format!(
                "claim {} vanished after it was written",
                state.short()
            )));
        };
        let other = Claim::decode(&other)
            .map_err(|e| r.problem(format!("claim {}: {e}", state.short())))?;
        let theirs = finish_claim(ds, r, &other)?;
        if theirs
            .iter()
            .all(|v| anc.contains(v) || new_versions.iter().any(|(i, _)| i == v))
        {
            // An earlier attempt of ours: now finished, start over from the new state.
            return Ok(None);
        }
        return Err(behind(
            "versions another writer pushed at the same moment".into(),
        ));
    }
    for (id, _) in &new_policies {
        let b = read_local(ds, &store::policy_path(id), "policy", id)?;
        r.store
            .put_content(&store::policy_path(id), b.into())
            .map_err(|e| r.explain(e))?;
    }
    for (id, _) in &new_versions {
        let b = read_local(ds, &store::version_path(id), "version", id)?;
        r.store
            .put_content(&store::version_path(id), b.into())
            .map_err(|e| r.explain(e))?;
    }
    record_seen(ds, r, seen, r.config.conditional)?;
    Ok(Some(PushOutcome {
        remote: r.name.clone(),
        versions: new_versions.len(),
        policies: new_policies.len(),
        packs,
        head,
        ..Default::default()
    }))
}

/// Make the objects of someone's claim visible, if the remote holds everything they need.
/// Returns the claim's version ids.
fn finish_claim(ds: &Dataset, r: &Remote, c: &Claim) -> Result<Vec<Id>> {
    let l = list(r)?;
    let mut ids = Vec::new();
    let mut writes = Vec::new();
    for b in &c.policies {
        let id = Id::of_stored(b);
        Policy::open(&id, b).map_err(|e| r.problem(format!("a claim holds a bad policy: {e}")))?;
        if !l.policies.contains(&id) {
            writes.push((store::policy_path(&id), b.clone()));
        }
    }
    for b in &c.versions {
        let id = Id::of_stored(b);
        let v = Version::open(&id, b)
            .map_err(|e| r.problem(format!("a claim holds a bad version: {e}")))?;
        if v.dataset != ds.id {
            return Err(r.problem(format!(
                "a claim holds version {} of another dataset",
                id.short()
            )));
        }
        if let Some(p) = v.packs.iter().find(|p| !l.packs.contains_key(p)) {
            return Err(r.problem(format!(
                "another writer's unfinished push needs pack {}, which is not there yet; try again shortly",
                p.short()
            )));
        }
        ids.push(id);
        if !l.versions.contains(&id) {
            writes.push((store::version_path(&id), b.clone()));
        }
    }
    for (name, b) in writes {
        r.store
            .put_content(&name, b.into_vec().into())
            .map_err(|e| r.explain(e))?;
    }
    Ok(ids)
}
