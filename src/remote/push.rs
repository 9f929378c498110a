//! `push`: packs the remote lacks, then one claim, then policies and versions (spec/format.md
//! §11.1-11.2), so a reader never sees a version whose objects are not all there and two
//! pushers from the same state never both think they went first on a store that honours
//! conditions, nor lose a version on one that does not.

use super::claim::{self, Claim};
use super::fetch::{policies_ahead, published};
use super::listing::{
    check_dataset, check_seen, heads, list, read_local, record_seen, remote_tip, Listing,
};
use super::transfer::{self, Moved};
use super::{Remote, Seen};
use crate::error::{Error, Result};
use crate::history;
use crate::id::Id;
use crate::identity::Identity;
use crate::object::policy::Policy;
use crate::object::version::Version;
use crate::repo::{now, Dataset};
use crate::rules::{chain, Chain, History};
use crate::store;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
    /// The checkpoint published after the push (spec §10.5), when something was pushed.
    pub checkpoint: Option<super::checkpoint::Published>,
    /// Why no checkpoint was published after writing, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_error: Option<String>,
    /// Requests made to the remote.
    pub requests: u64,
}

/// Push the branch head and the policy chain to a remote; with a writer's `identity`, then
/// publish a checkpoint of what the remote holds.
pub fn push(
    ds: &Dataset,
    name: Option<&str>,
    identity: Option<&Identity>,
    progress: bool,
) -> Result<PushOutcome> {
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
        if let Some(out) = push_once(ds, &r, identity, progress)? {
            return Ok(PushOutcome {
                conditional,
                requests: r.store.requests(),
                ..out
            });
        }
    }
    Err(r.problem("the remote kept changing while pushing; try again"))
}

fn push_once(
    ds: &Dataset,
    r: &Remote,
    identity: Option<&Identity>,
    progress: bool,
) -> Result<Option<PushOutcome>> {
    let mut l = list(r)?;
    crate::testhook::pause("listed");
    check_dataset(r, &l, &ds.id)?;
    check_seen(r, &l)?;
    remove_junk_at_our_names(ds, r, &mut l)?;
    let behind = |what: String| Error::Behind {
        name: r.name.clone(),
        what,
    };
    let (ahead, _) = policies_ahead(ds, r, &l)?;
    if !ahead.is_empty() {
        return Err(behind(format!("{} policy change(s)", ahead.len())));
    }
    let chain = ds.chain()?;

    // The remote's versions this dataset lacks, judged by the rules: history means pull
    // first; anything the rules refuse is ignored.
    let mut all = store::reader::all_versions(&ds.store)?.versions;
    let local_ids: HashSet<Id> = all.keys().copied().collect();
    let unknown: Vec<Id> = l.versions.difference(&local_ids).copied().collect();
    let remote_new = store::reader::versions(&r.store, &unknown).map_err(|e| r.explain(e))?;
    let unknown: Vec<Id> = remote_new.versions.keys().copied().collect();
    all.extend(remote_new.versions);
    let wanted: BTreeSet<Id> = all.values().flat_map(|v| v.packs.iter().copied()).collect();
    let epochs = ds.pack_epochs(&wanted)?;
    let hist = History::evaluate(chain.clone(), all, vec![], |p| epochs.get(p).copied());
    let n_published = published(&chain, &l);
    if n_published < chain.policies.len() {
        // The remote's own chain (a fork there, repaired here, still withdraws at once); a
        // remote without the genesis yet holds just what it lists.
        let remote_chain = if l.policies.contains(&ds.id) {
            crate::rules::chain::load(&r.store, &ds.id).map_err(|e| r.explain(e))?
        } else {
            chain.prefix(n_published)
        };
        let public = History::evaluate(remote_chain, hist.versions.clone(), vec![], |p| {
            epochs.get(p).copied()
        });
        if let Some(id) = unknown
            .iter()
            .find(|i| public.is_history(i) && !hist.is_history(i))
        {
            let v = &hist.versions[id];
            return Err(r.problem(format!(
                "version {} by {} reached the remote after your access change (policy seq {}, not pushed yet) was made, and that change does not acknowledge it: run `coffer pull` (it makes the change again, acknowledging it), then push",
                id.short(),
                chain.label_of_sign_key(&v.author.0),
                chain.policies[n_published].1.seq
            )));
        }
    }
    let unknown_history = unknown.iter().filter(|i| hist.is_history(i)).count();
    if unknown_history > 0 {
        return Err(behind(format!("{unknown_history} version(s)")));
    }
    let head = ds.head()?;
    if let Some(h) = &head {
        if let Err(e) = hist.get(h) {
            return Err(Error::Usage(format!(
                "your branch head {} is not history ({e}): run `coffer pull` first",
                h.short()
            )));
        }
    }
    let ancestors = match head {
        Some(h) => history::log(&hist, &h)?,
        None => Vec::new(),
    };
    let anc: HashSet<Id> = ancestors.iter().map(|(i, _)| *i).collect();
    let unmerged = l
        .versions
        .iter()
        .filter(|i| hist.is_history(i) && !anc.contains(i))
        .count();
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
    // A policy acknowledges its heads: they must reach the remote with it.
    for (pid, p) in &new_policies {
        for h in p.heads.iter().flatten() {
            if !l.versions.contains(h) && !anc.contains(h) {
                return Err(Error::Usage(format!(
                    "policy seq {} ({}) acknowledges version {}, which is neither on the remote nor in your branch: run `coffer pull` to merge it, then push",
                    p.seq,
                    pid.short(),
                    h.short()
                )));
            }
        }
    }
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
    let remote_heads = heads(&hist, &l.versions);
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
        // A claim that does not decode, or holds nothing the rules accept, is not another
        // writer's push: carry on as on a store that ignores conditions (spec §11.2).
        if let Ok(other) = Claim::decode(&other) {
            let public = chain.prefix(n_published);
            let (their_policies, theirs) = finish_claim(ds, r, &public, &hist, &other)?;
            // Policies this dataset already holds and refuses (a side of a fork it repaired)
            // are nothing to pull: a pull would change nothing, and the push could never go on.
            let their_policies: Vec<Id> = their_policies
                .into_iter()
                .filter(|p| !chain.refused.iter().any(|(i, _)| i == p))
                .collect();
            if !theirs.is_empty() || !their_policies.is_empty() {
                let local_policies = chain.ids();
                if their_policies.iter().all(|p| local_policies.contains(p))
                    && theirs
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
        }
    }
    crate::testhook::pause("claim");
    // The policies that judged this dataset's forks go first: a reader that held a repair
    // without the sides it names, or a line without the late side it set aside, would judge
    // differently (spec §10.1c).
    for id in chain.fork_related().filter(|id| !l.policies.contains(id)) {
        let b = read_local(ds, &store::policy_path(id), "policy", id)?;
        r.store
            .put_content(&store::policy_path(id), b.into())
            .map_err(|e| r.explain(e))?;
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
    // Last, the checkpoint: it names only what is now on the remote.
    let mut checkpoint_error = None;
    let checkpoint = match identity {
        Some(me)
            if tip
                .member_by_sign_key(&me.public().sign)
                .is_some_and(|m| m.can_write()) =>
        {
            let mut there = l.versions.clone();
            there.extend(new_versions.iter().map(|(i, _)| *i));
            let named = heads(&hist, &there);
            // The push itself is done: a checkpoint that cannot be published is reported,
            // not an error (`coffer checkpoint` publishes it later).
            let at = (tip.seq, *tip_id);
            match super::checkpoint::publish(&r.store, &ds.id, &chain, at, named, me) {
                Ok(p) => Some(p),
                Err(e) => {
                    checkpoint_error = Some(r.explain(e).to_string());
                    None
                }
            }
        }
        _ => None,
    };
    Ok(Some(PushOutcome {
        remote: r.name.clone(),
        versions: new_versions.len(),
        policies: new_policies.len(),
        packs,
        head,
        checkpoint,
        checkpoint_error,
        ..Default::default()
    }))
}

/// A name listed on the remote proves nothing about what is stored under it: anyone who can
/// write there can put junk at the name of a policy or version this dataset is about to
/// publish (a killed push's claim announces them). Policies after the one last seen there
/// and versions not below the heads last seen there that the remote lists are read back;
/// one whose bytes are not ours (so do not hash to its name) is junk: it is deleted and
/// counted as absent, so this push writes the real object.
fn remove_junk_at_our_names(ds: &Dataset, r: &Remote, l: &mut Listing) -> Result<()> {
    let hist = ds.history()?;
    let mut old: HashSet<Id> = HashSet::new();
    for h in &r.config.seen.heads {
        if let Ok(a) = history::ancestors(&hist, h) {
            old.extend(a);
        }
    }
    let seen_seq = r.config.seen.policy.map(|(n, _)| n);
    let policies: Vec<Id> = hist
        .chain
        .policies
        .iter()
        .filter(|(id, p)| l.policies.contains(id) && seen_seq.is_none_or(|n| p.seq > n))
        .map(|(id, _)| *id)
        .collect();
    let versions: Vec<Id> = hist
        .versions
        .keys()
        .filter(|id| l.versions.contains(id) && !old.contains(id))
        .copied()
        .collect();
    for (name, id, policy) in policies
        .iter()
        .map(|i| (store::policy_path(i), *i, true))
        .chain(versions.iter().map(|i| (store::version_path(i), *i, false)))
    {
        let theirs = r.store.get(&name).map_err(|e| r.explain(e))?;
        let ours = ds.store.get(&name)?;
        if theirs.is_some() && ours.is_some() && theirs != ours {
            r.store.delete(&name).map_err(|e| r.explain(e))?;
            if policy {
                l.policies.remove(&id);
            } else {
                l.versions.remove(&id);
            }
        }
    }
    Ok(())
}

/// Make the objects of someone's claim visible, if the rules accept them (under `chain`, the
/// policies the remote holds) and the remote holds everything they need. Returns the claim's
/// accepted policies and its versions that are history; objects the rules refuse are never
/// written back.
fn finish_claim(
    ds: &Dataset,
    r: &Remote,
    chain: &Chain,
    hist: &History,
    c: &Claim,
) -> Result<(Vec<Id>, Vec<Id>)> {
    let l = list(r)?;
    let mut policies: BTreeMap<Id, Policy> = chain.policies.iter().cloned().collect();
    let mut claimed_policies = Vec::new();
    for b in &c.policies {
        let id = Id::of_stored(b);
        if let Ok(p) = Policy::open(&id, b) {
            policies.insert(id, p);
            claimed_policies.push((id, b));
        }
    }
    let chain = chain::walk(&ds.id, policies, Vec::new())?;
    let mut versions = hist.versions.clone();
    let mut claimed = Vec::new();
    for b in &c.versions {
        let id = Id::of_stored(b);
        if let Ok(v) = Version::open(&id, b) {
            versions.insert(id, v);
            claimed.push((id, b));
        }
    }
    let judged = History::evaluate(chain.clone(), versions, Vec::new(), |p| {
        hist.pack_epochs.get(p).copied()
    });
    let mut writes = Vec::new();
    let mut accepted_policies = Vec::new();
    for (id, b) in &claimed_policies {
        if chain.get(id).is_some() {
            accepted_policies.push(*id);
            if !l.policies.contains(id) {
                writes.push((store::policy_path(id), (*b).clone()));
            }
        }
    }
    let mut ids = Vec::new();
    for (id, b) in &claimed {
        if !judged.is_history(id) {
            continue;
        }
        let v = &judged.versions[id];
        if let Some(p) = v.packs.iter().find(|p| !l.packs.contains_key(p)) {
            return Err(r.problem(format!(
                "another writer's unfinished push needs pack {}, which is not there yet; try again shortly",
                p.short()
            )));
        }
        ids.push(*id);
        if !l.versions.contains(id) {
            writes.push((store::version_path(id), (*b).clone()));
        }
    }
    for (name, b) in writes {
        r.store
            .put_content(&name, b.into_vec().into())
            .map_err(|e| r.explain(e))?;
    }
    Ok((accepted_policies, ids))
}
