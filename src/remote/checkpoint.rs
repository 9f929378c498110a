//! Checkpoints on a store (spec/format.md §10.5): a writer publishes one with every push and
//! renews it with `coffer checkpoint` (from cron, without a new version); readers read the
//! newest and judge them with [`crate::rules::checkpoint::judge`].

use super::fetch::fetch_from;
use super::listing::{heads, list, remote_tip};
use super::transfer;
use super::Remote;
use crate::error::Result;
use crate::id::{Bytes32, Id};
use crate::identity::Identity;
use crate::object::checkpoint::{Checkpoint, DEFAULT_EXPIRY};
use crate::repo::{now, Dataset};
use crate::rules::checkpoint::{judge, Judged, Named};
use crate::rules::{Chain, Needs};
use crate::store::{self, Store};
use std::collections::{BTreeMap, HashMap};

/// A fetch first reads this many of a remote's newest checkpoints (by listed time), and four
/// times as many cosignatures, then four times more at each step until one counts with its
/// quorum or all are read ([`judge_newest`]): junk added at the top cannot hide the real
/// ones. An audit reads all. A store that lies about times can only make a reader miss a
/// newer checkpoint, which it could as well hide: freshness fails safe.
pub const FETCH_LIMIT: usize = 16;

/// Larger listed objects under `checkpoints/` and `cosignatures/` are junk, not read (a
/// checkpoint naming 256 heads is about 9 KiB).
pub const MAX_SIZE: u64 = 16 << 10;

/// Listed checkpoints or cosignatures: id to (last-modified time, size).
pub type Listed = HashMap<Id, (u64, u64)>;

/// What publishing a checkpoint did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    /// The checkpoint.
    pub id: Id,
    /// The policy it names, by sequence number.
    pub policy_seq: u64,
    /// The heads it names.
    pub heads: Vec<Id>,
    /// When it stops being fresh.
    pub expires: u64,
}

/// Sign and write a checkpoint of `policy` and `heads` to `store`, as `identity`, who must
/// be able to write under the policy in force.
pub(crate) fn publish(
    store: &Store,
    dataset: &Id,
    chain: &Chain,
    (policy_seq, policy): (u64, Id),
    heads: Vec<Id>,
    identity: &Identity,
) -> Result<Published> {
    let me = identity.public();
    let tip = &chain.tip().1;
    if !tip
        .member_by_sign_key(&me.sign)
        .is_some_and(|m| m.can_write())
    {
        return Err(crate::rules::not_allowed(chain, &me.sign, Needs::Write));
    }
    if heads.len() > crate::object::policy::MAX_HEADS {
        return Err(crate::error::Error::Usage(format!(
            "the remote's history has {} heads, more than a checkpoint names ({}): run `coffer pull` (it merges them), push, then publish the checkpoint",
            heads.len(),
            crate::object::policy::MAX_HEADS
        )));
    }
    let time = now();
    let expiry = tip.audit.as_ref().map_or(DEFAULT_EXPIRY, |a| a.expiry);
    let c = Checkpoint {
        time,
        heads,
        policy,
        signer: Bytes32(me.sign),
        dataset: *dataset,
        expires: time.saturating_add(expiry),
    };
    let (id, bytes) = c.sign(identity.signing_key());
    store.put_new(&store::checkpoint_path(&id), bytes)?;
    Ok(Published {
        id,
        policy_seq,
        heads: c.heads,
        expires: c.expires,
    })
}

/// `coffer checkpoint`: fetch from the remote, then publish a checkpoint of what it holds
/// (its newest policy of the chain and the heads of its history), renewing its freshness
/// without a new version.
pub fn renew(
    ds: &Dataset,
    name: Option<&str>,
    identity: &Identity,
    progress: bool,
) -> Result<Published> {
    let _lock = ds.lock()?;
    let (_, r) = Remote::open(ds, name)?;
    fetch_from(ds, &r, None, progress)?;
    let l = list(&r)?;
    let hist = ds.history()?;
    let Some(tip) = remote_tip(&hist.chain, &l) else {
        return Err(r.problem("holds nothing of this dataset yet: run `coffer push` first"));
    };
    // A checkpoint states the dataset's history as its signer knows it, not one store's: a
    // remote lacking something this dataset holds (a lagging mirror) gets a push, not a
    // renewal that could be replayed elsewhere to keep a frozen store looking fresh.
    let (tip_id, _) = hist.chain.tip();
    if tip.1 != *tip_id {
        return Err(r.problem(format!(
            "lacks policy {} that this dataset holds: run `coffer push {}` (it publishes the checkpoint)",
            tip_id.short(),
            r.name
        )));
    }
    if let Some(h) = hist.heads().iter().find(|h| !l.versions.contains(h)) {
        return Err(r.problem(format!(
            "lacks version {h} that this dataset holds: run `coffer push {}` (it publishes the checkpoint), or `coffer pull` first to merge",
            r.name
        )));
    }
    let heads = heads(&hist, &l.versions);
    publish(&r.store, &ds.id, &hist.chain, tip, heads, identity).map_err(|e| r.explain(e))
}

/// Read checkpoints and cosignatures from `store`, newest (by listed time) first: at most
/// `limit` checkpoints and four times as many cosignatures, or all. Objects gone between
/// listing and reading are skipped.
pub(crate) type Read = (Vec<(Id, Vec<u8>)>, Vec<(Id, Vec<u8>)>);

/// See [`Read`].
pub(crate) fn read(
    store: &Store,
    checkpoints: &Listed,
    cosignatures: &Listed,
    limit: Option<usize>,
) -> Result<Read> {
    let newest = |m: &Listed, n: Option<usize>| {
        let mut v: Vec<(u64, Id)> = m
            .iter()
            .filter(|(_, (_, size))| *size <= MAX_SIZE)
            .map(|(i, (t, _))| (*t, *i))
            .collect();
        v.sort_by(|a, b| b.cmp(a));
        v.truncate(n.unwrap_or(usize::MAX));
        v.into_iter().map(|(_, i)| i).collect::<Vec<Id>>()
    };
    let get = |ids: Vec<Id>, path: fn(&Id) -> String| -> Result<Vec<(Id, Vec<u8>)>> {
        let names: Vec<String> = ids.iter().map(path).collect();
        Ok(ids
            .into_iter()
            .zip(transfer::get_all(store, &names)?)
            .filter_map(|(i, b)| Some((i, b?.to_vec())))
            .collect())
    };
    Ok((
        get(newest(checkpoints, limit), store::checkpoint_path)?,
        get(
            newest(cosignatures, limit.map(|n| n * 4)),
            store::cosignature_path,
        )?,
    ))
}

/// Read and judge the newest checkpoints and cosignatures, more at each step, until one
/// counts with its quorum or all are read.
pub(crate) fn judge_newest(
    store: &Store,
    checkpoints: &Listed,
    cosignatures: &Listed,
    mut judge: impl FnMut(&Read) -> Judged,
) -> Result<Judged> {
    let mut limit = FETCH_LIMIT;
    loop {
        let j = judge(&read(store, checkpoints, cosignatures, Some(limit))?);
        if j.newest.is_some() || (limit >= checkpoints.len() && limit * 4 >= cosignatures.len()) {
            return Ok(j);
        }
        limit = limit.saturating_mul(4);
    }
}

/// The checkpoint and cosignature ids a store lists, with their times and sizes.
pub(crate) fn listed(store: &Store) -> Result<(Listed, Listed)> {
    let mut c = HashMap::new();
    let mut s = HashMap::new();
    for (prefix, out) in [("checkpoints", &mut c), ("cosignatures", &mut s)] {
        for m in store.list_meta(prefix)? {
            if let Some(id) =
                transfer::expected_id(&m.name).filter(|i| store::canonical(&m.name, i))
            {
                out.insert(id, (m.modified, m.size));
            }
        }
    }
    Ok((c, s))
}

/// Judge checkpoints read from `store` for a reader with `chain` and the `versions` it
/// opened there; a named object the reader has not seen is looked for in the store itself
/// (it may have landed while the reader listed) before it counts as a split view.
pub(crate) fn judge_store(
    store: &Store,
    dataset: &Id,
    chain: &Chain,
    versions: &BTreeMap<Id, crate::object::version::Version>,
    (checkpoints, cosignatures): &Read,
) -> Judged {
    let mut present = |n: Named| {
        let (name, id) = match n {
            Named::Policy(i) => (store::policy_path(&i), i),
            Named::Version(i) => (store::version_path(&i), i),
        };
        matches!(store.get(&name), Ok(Some(b)) if Id::of_stored(&b) == id)
    };
    judge(
        dataset,
        chain,
        versions,
        checkpoints,
        cosignatures,
        now(),
        &mut present,
    )
}

/// The findings of a judgement that a command prints (everything above information), as
/// one line each.
pub fn lines(j: &Judged) -> Vec<String> {
    j.notes
        .iter()
        .filter(|n| n.level != crate::verify::Level::Info)
        .map(|n| match &n.id {
            Some(id) => format!("{} {}: {} (rule {})", n.kind, id.short(), n.message, n.rule),
            None => format!("{} (rule {})", n.message, n.rule),
        })
        .collect()
}

/// Refuse when the policy in force is strict and the judgement found an error (a split
/// view, a freeze, a missing quorum).
pub(crate) fn enforce(r: &Remote, chain: &Chain, j: &Judged) -> Result<()> {
    let strict = chain.tip().1.audit.as_ref().is_some_and(|a| a.strict);
    match j.notes.iter().find(|n| n.level == crate::verify::Level::Error) {
        Some(n) if strict => Err(r.problem(format!(
            "{} (rule {}; this dataset's audit settings are strict, so nothing was merged or checked out)",
            n.message, n.rule
        ))),
        _ => Ok(()),
    }
}
