//! `fetch`: bring a remote's policies, versions and packs into the dataset, judging every
//! object with the same rules as every other path before it lands (spec/format.md §11.1);
//! and, for partial clones, the packs of trees.
//!
//! Objects the rules refuse (a withdrawn writer's version, junk) are reported and left on the
//! remote. A version that the remote's published policies accept but a policy made here and
//! not yet pushed would refuse means that policy is out of date: `pull` signs it again
//! acknowledging what arrived ([`redo_unpublished`]); `fetch` alone holds the version back.

use super::listing::Listing;
use super::listing::{check_dataset, check_seen, heads, list, pack_ids, record_seen, remote_tip};
use super::transfer::{self, Moved};
use super::{Remote, Seen};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::identity::Identity;
use crate::object::version::Version;
use crate::repo::Dataset;
use crate::rules::history::Status;
use crate::rules::{chain, Chain, History, Refusal, Rule};
use crate::store;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What a fetch did.
#[derive(Debug, Default, serde::Serialize)]
pub struct FetchOutcome {
    /// The remote's name.
    pub remote: String,
    /// Versions new to this dataset.
    pub versions: Vec<Id>,
    /// Policies new to this dataset.
    pub policies: usize,
    /// Packs downloaded.
    pub packs: Moved,
    /// The remote's head versions (history only).
    pub heads: Vec<Id>,
    /// Versions on the remote that the rules refuse, with the rule: left there, ignored.
    pub refused: Vec<(Id, Refusal)>,
    /// Policies on the remote that the rules refuse, with the rule: left there, ignored.
    pub refused_policies: Vec<(Id, Refusal)>,
    /// Versions the remote's published policies accept but a policy made here and not yet
    /// pushed does not acknowledge: `coffer pull` makes that change again.
    pub held_back: Vec<(Id, Refusal)>,
    /// Policies made here and not pushed that `pull` signed again to acknowledge what
    /// arrived.
    pub redone: Vec<Id>,
    /// What the remote's checkpoints say (spec §10.5): warnings about freshness, quorum
    /// and split views, one line each.
    pub checkpoints: Vec<String>,
    /// The newest checkpoint with its quorum, when one counts.
    pub fresh: Option<crate::rules::checkpoint::Counted>,
    /// Requests made to the remote.
    pub requests: u64,
}

/// Bring a remote's policies, versions and packs into the dataset. Nothing a remote holds is
/// written here unless the rules accept it.
pub fn fetch(ds: &Dataset, name: Option<&str>, progress: bool) -> Result<FetchOutcome> {
    let _lock = ds.lock()?;
    let (_, r) = Remote::open(ds, name)?;
    fetch_from(ds, &r, None, progress)
}

/// The remote's policies this dataset lacks: those the rules accept, in chain order, and
/// those they refuse, with the rule. The remote's chain must extend this dataset's (or be a
/// prefix of it): two chains that differ at some point are two share changes made at once.
pub(crate) type Ahead = (Vec<Id>, Vec<(Id, Refusal)>);

/// See [`Ahead`].
pub(crate) fn policies_ahead(ds: &Dataset, r: &Remote, l: &Listing) -> Result<Ahead> {
    let local = ds.chain()?;
    let known = local.ids();
    if l.policies.iter().all(|p| known.contains(p)) {
        return Ok((Vec::new(), Vec::new()));
    }
    let remote = chain::load(&r.store, &ds.id).map_err(|e| r.explain(e))?;
    for (i, (id, _)) in local.policies.iter().enumerate() {
        match remote.policies.get(i) {
            Some((rid, _)) if rid == id => {}
            // A side of a fork on the remote (repaired there or not): the fork, and its
            // repair, reach this dataset too.
            _ if remote.knows(id) => break,
            Some((rid, _)) => {
                return Err(r.problem(format!(
                    "its policy {} and this dataset's {} both follow seq {}: two share changes were made at once and the other was pushed first: clone the remote again and repeat your share change there (this dataset is unchanged)",
                    rid.short(),
                    id.short(),
                    i.saturating_sub(1)
                )))
            }
            None => break,
        }
    }
    // What this dataset holds already, whatever it made of it: a policy it judges otherwise
    // than the remote (a repair made early whose signer it has since withdrawn, say) is not
    // news, and counting it would refuse every push.
    let held: std::collections::HashSet<&Id> = local.refused.iter().map(|(i, _)| i).collect();
    // The accepted policies this dataset lacks, then the policies of an unrepaired fork or
    // of a repaired one's sides (so every reader sees the same fork, and judges its repair).
    let ahead = remote
        .policies
        .iter()
        .chain(remote.fork.iter().flatten())
        .map(|(id, _)| *id)
        .chain(remote.fork_related().copied())
        .filter(|id| !known.contains(id) && !local.knows(id) && !held.contains(id))
        .collect();
    let refused = remote
        .refused
        .into_iter()
        .filter(|(id, r)| {
            !known.contains(id) && !held.contains(id) && r.rule != Rule::PolicyForkRepaired
        })
        .collect();
    Ok((ahead, refused))
}

/// How many of the chain's first policies the remote holds (it always holds the genesis).
pub(crate) fn published(chain: &Chain, l: &Listing) -> usize {
    chain
        .policies
        .iter()
        .take_while(|(id, _)| l.policies.contains(id))
        .count()
        .max(1)
}

/// New versions that the published part of the chain accepts and the whole chain refuses
/// because of a withdrawal that is not published yet.
fn stale(
    chain: &Chain,
    n_published: usize,
    versions: &BTreeMap<Id, Version>,
    epochs: &HashMap<Id, u32>,
    judged: &History,
    new: &[Id],
) -> Vec<(Id, Refusal)> {
    if n_published >= chain.policies.len() {
        return Vec::new();
    }
    let public = History::evaluate(chain.prefix(n_published), versions.clone(), vec![], |p| {
        epochs.get(p).copied()
    });
    new.iter()
        .filter(|id| public.is_history(id))
        .filter_map(|id| match judged.status_of(id) {
            Some(Status::Refused(r))
                if matches!(
                    r.rule,
                    Rule::VersionWithdrawnWriter | Rule::VersionWithdrawnReader
                ) =>
            {
                Some((*id, r.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Sign again, acknowledging `heads`, every policy of `chain` after the first `n_published`
/// (made here, not pushed): the same change, the same wraps and epoch, a new `heads` and
/// `previous`. The old objects are removed (no one else has them).
pub(crate) fn redo_unpublished(
    ds: &Dataset,
    identity: &Identity,
    chain: &Chain,
    n_published: usize,
    heads: Vec<Id>,
) -> Result<Vec<Id>> {
    let me = identity.public();
    let mut prev = chain.policies[n_published - 1].0;
    let mut out = Vec::new();
    for (old, p) in &chain.policies[n_published..] {
        if p.signer.0 != me.sign {
            return Err(Error::Usage(format!(
                "policy seq {} ({}) was made here by {} and not pushed, and it does not acknowledge versions now on the remote; run `coffer pull` as {} so it is made again",
                p.seq,
                old.short(),
                chain.label_of_sign_key(&p.signer.0),
                chain.label_of_sign_key(&p.signer.0)
            )));
        }
        let mut q = p.clone();
        q.previous = Some(prev);
        q.heads = Some(heads.clone());
        q.time = crate::repo::now().max(p.time);
        let (id, bytes) = q.sign(identity.signing_key());
        ds.store.put_new(&store::policy_path(&id), bytes)?;
        ds.store.delete(&store::policy_path(old))?;
        ds.replace_seen_policy(q.seq, &id)?;
        out.push(id);
        prev = id;
    }
    Ok(out)
}

/// [`fetch`] from an open remote (the caller holds the lock, or the dataset is new). With
/// `redo` (pull's identity), policies made here and not pushed that do not acknowledge
/// versions the remote accepts are signed again first.
pub(crate) fn fetch_from(
    ds: &Dataset,
    r: &Remote,
    redo: Option<&Identity>,
    progress: bool,
) -> Result<FetchOutcome> {
    let mut out = FetchOutcome {
        remote: r.name.clone(),
        ..Default::default()
    };
    let l = list(r)?;
    if check_dataset(r, &l, &ds.id)? {
        return Ok(out);
    }
    check_seen(r, &l)?;
    let (ahead, refused_policies) = policies_ahead(ds, r, &l)?;
    out.refused_policies = refused_policies;
    if !ahead.is_empty() {
        let names: Vec<(String, u64)> =
            ahead.iter().map(|id| (store::policy_path(id), 0)).collect();
        out.policies = names.len();
        transfer::copy(&r.store, &ds.store, &names, false).map_err(|e| r.explain(e))?;
    }
    let mut chain = ds.chain()?;

    let mut all = store::reader::all_versions(&ds.store)?.versions;
    let local_ids: HashSet<Id> = all.keys().copied().collect();
    let new_ids: Vec<Id> = l.versions.difference(&local_ids).copied().collect();
    let remote_new = store::reader::versions(&r.store, &new_ids).map_err(|e| r.explain(e))?;
    out.refused.extend(remote_new.junk.iter().cloned());
    let new_ids: Vec<Id> = remote_new.versions.keys().copied().collect();
    let new_bytes = remote_new.bytes;
    all.extend(remote_new.versions);
    let wanted: BTreeSet<Id> = all.values().flat_map(|v| v.packs.iter().copied()).collect();
    let mut epochs = ds.pack_epochs(&wanted)?;

    // First judgement with what is here: versions that break a rule already are not worth
    // their packs. A withdrawal made here and not pushed that does not acknowledge what the
    // remote accepts is made again first (pull only).
    let n_published = published(&chain, &l);
    let mut first = History::evaluate(chain.clone(), all.clone(), vec![], |p| {
        epochs.get(p).copied()
    });
    let early = stale(&chain, n_published, &all, &epochs, &first, &new_ids);
    if let (false, Some(identity)) = (early.is_empty(), redo) {
        let public = History::evaluate(chain.prefix(n_published), all.clone(), vec![], |p| {
            epochs.get(p).copied()
        });
        out.redone = redo_unpublished(ds, identity, &chain, n_published, public.heads())?;
        chain = ds.chain()?;
        first = History::evaluate(chain.clone(), all.clone(), vec![], |p| {
            epochs.get(p).copied()
        });
    }
    let candidates: Vec<&Id> = new_ids.iter().filter(|i| first.is_history(i)).collect();
    let local_packs = pack_ids(ds)?;
    let mut want: BTreeSet<Id> = BTreeSet::new();
    for id in &candidates {
        for p in &all[id].packs {
            if !local_packs.contains(p) {
                if !l.packs.contains_key(p) {
                    return Err(r.problem(format!(
                        "version {} needs pack {}, which is missing from the remote (deleted?)",
                        id.short(),
                        p.short()
                    )));
                }
                want.insert(*p);
            }
        }
    }
    let names: Vec<(String, u64)> = want
        .iter()
        .map(|p| (store::pack_path(p), l.packs[p].0))
        .collect();
    if ds.partial().is_some() {
        // A partial clone reads packs from the remote when it needs them; the rules need
        // only their trailers.
        let sized: Vec<(Id, u64)> = want.iter().map(|p| (*p, l.packs[p].0)).collect();
        epochs.extend(store::reader::trailer_epochs(&r.store, &sized).map_err(|e| r.explain(e))?);
    } else {
        out.packs =
            transfer::copy(&r.store, &ds.store, &names, progress).map_err(|e| r.explain(e))?;
        epochs = ds.pack_epochs(&wanted)?;
    }

    let judged = History::evaluate(chain.clone(), all.clone(), vec![], |p| {
        epochs.get(p).copied()
    });
    out.held_back = stale(&chain, n_published, &all, &epochs, &judged, &new_ids);

    // Versions last, parents first: a crash leaves no version without its packs, and none
    // without its parents.
    let mut order: Vec<(u64, Id)> = new_ids.iter().map(|i| (all[i].seq, *i)).collect();
    order.sort();
    let mut stored: HashSet<Id> = local_ids;
    for (_, id) in order {
        match judged.status_of(&id) {
            Some(Status::Accepted) if all[&id].parents.iter().all(|p| stored.contains(p)) => {
                let Some(b) = new_bytes.get(&id) else {
                    continue;
                };
                ds.store.put_new(&store::version_path(&id), b.clone())?;
                stored.insert(id);
                out.versions.push(id);
            }
            Some(Status::Refused(why)) if !out.held_back.iter().any(|(i, _)| *i == id) => {
                out.refused.push((id, why.clone()));
            }
            _ => {}
        }
    }
    // What accepted policies acknowledge (their heads and everything below them) is held too,
    // history or not: acknowledgement walks those versions, so a dataset lacking one that a
    // policy names would judge the history below it differently from the remote's holder.
    let named: Vec<Id> = chain
        .policies
        .iter()
        .filter_map(|(_, p)| p.heads.as_ref())
        .flatten()
        .copied()
        .collect();
    let acked = crate::rules::history::ancestors(&all, &named);
    let mut extra: Vec<(u64, Id)> = acked
        .iter()
        .filter(|i| !stored.contains(*i))
        .filter_map(|i| Some((all.get(i)?.seq, *i)))
        .collect();
    extra.sort();
    for (_, id) in extra {
        if let Some(b) = new_bytes.get(&id) {
            ds.store.put_new(&store::version_path(&id), b.clone())?;
            stored.insert(id);
        }
    }
    out.heads = heads(&judged, &l.versions);
    // The remote's checkpoints, judged on what the remote itself shows (not on what this
    // dataset held before).
    let there: BTreeMap<Id, Version> = all
        .iter()
        .filter(|(i, _)| l.versions.contains(i))
        .map(|(i, v)| (*i, v.clone()))
        .collect();
    let j = super::checkpoint::judge_newest(&r.store, &l.checkpoints, &l.cosignatures, |read| {
        super::checkpoint::judge_store(&r.store, &ds.id, &chain, &there, read)
    })
    .map_err(|e| r.explain(e))?;
    out.checkpoints = super::checkpoint::lines(&j);
    out.fresh = j.newest.clone();
    super::checkpoint::enforce(r, &chain, &j)?;
    let seen = Seen {
        heads: out.heads.clone(),
        policy: remote_tip(&chain, &l),
    };
    record_seen(ds, r, seen, None)?;
    out.requests = r.store.requests();
    Ok(out)
}

/// In a partial clone, copy the packs holding version `vid`'s trees (trees have packs of
/// their own): walking folders then costs a few whole-pack reads instead of one range request
/// per folder. Pack headers are read as ranges.
pub fn prefetch_trees(
    ds: &Dataset,
    hist: &History,
    keys: &crate::repo::Keyring,
    vid: &Id,
) -> Result<Moved> {
    let Some(origin) = ds.store.fallback() else {
        return Ok(Moved::default());
    };
    let v = hist.get(vid)?;
    let mut index = crate::repo::index::Index::load(ds, keys)?;
    let (locs, _) = index.view(ds, keys, &v.packs)?;
    index.save(ds)?;
    let local = pack_ids(ds)?;
    let mut want: BTreeSet<Id> = BTreeSet::new();
    for loc in locs.iter() {
        if loc.entry.kind() == crate::object::blob::KIND_TREE && !local.contains(&loc.pack) {
            want.insert(loc.pack);
        }
    }
    let names: Vec<(String, u64)> = want.iter().map(|p| (store::pack_path(p), 0)).collect();
    transfer::copy(origin, &ds.store, &names, false)
}
