//! `pull`: fetch (signing again access changes made here that do not acknowledge what
//! arrived), make unpublished versions again if the rules now refuse them, then
//! fast-forward or merge (spec/format.md §11.6-11.7), then update the folder.

use super::fetch::{fetch_from, prefetch_trees, FetchOutcome};
use super::Remote;
use crate::error::Result;
use crate::history;
use crate::id::Id;
use crate::identity::Identity;
use crate::repo::checkout::{self, CheckoutOptions, CheckoutOutcome};
use crate::repo::merge::{self, MergeOutcome};
use crate::repo::rebase::{self, Rebased};
use crate::repo::Dataset;

/// What a pull did.
#[derive(Debug, Default, serde::Serialize)]
pub struct PullOutcome {
    /// The fetch.
    pub fetch: FetchOutcome,
    /// The head before.
    pub before: Option<Id>,
    /// The head after.
    pub head: Option<Id>,
    /// Versions of the branch made again under the policy in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebased: Option<Rebased>,
    /// Merge versions made, with the paths both sides changed.
    pub merges: Vec<MergeOutcome>,
    /// The checkout of the new head, when it moved.
    pub checkout: Option<CheckoutOutcome>,
}

/// Fetch, then bring the remote's heads into the branch: fast-forward when the branch is
/// behind, a merge version when both sides moved (see [`merge`]); then update the folder.
pub fn pull(
    ds: &Dataset,
    identity: &Identity,
    name: Option<&str>,
    progress: bool,
) -> Result<PullOutcome> {
    let hist = ds.history()?;
    let keys = ds.keyring(&hist.chain, identity)?;
    let before = ds.head()?;
    // Keys are never taken back: a head these keys do not open was never checked out here (a
    // clone that could not read what it found). It is written in full below, into a folder
    // holding nothing but `.coffer/`; a folder holding files is refused.
    let unread = before
        .and_then(|h| hist.versions.get(&h))
        .is_some_and(|v| !keys.reads(&hist, v));
    if let (true, Some(h)) = (unread, before) {
        // A version of the caller's own, under its own policy that did not come into force.
        let lost = hist.versions.get(&h);
        if let Some(e) = lost.and_then(|v| rebase::lost_own_version(&hist.chain, identity, &h, v)) {
            return Err(e);
        }
        if !ds.holds_nothing()? {
            return Err(crate::Error::Usage(format!(
                "{} holds files but no checkout of the branch head {} (the clone could not read it): move the files out, then run `coffer pull` again",
                ds.root.display(),
                h.short()
            )));
        }
    }
    if let Some(h) = before.filter(|h| !unread && hist.is_history(h)) {
        merge::ensure_clean(ds, &hist, &keys, h)?;
    }
    let fetched = {
        let _lock = ds.lock()?;
        let (_, r) = Remote::open(ds, name)?;
        fetch_from(ds, &r, Some(identity), progress)?
    };
    let rebased = rebase::rebase(ds, identity, progress)?;
    let hist = ds.history()?;
    let mut cur = ds.head()?;
    let mut merges = Vec::new();
    let mut targets: Vec<(u64, Id)> = Vec::new();
    let extra = rebased.iter().flat_map(|r| r.heads.iter().skip(1));
    for h in fetched.heads.iter().chain(extra) {
        targets.push((hist.get(h)?.seq, *h));
    }
    targets.sort();
    for (_, t) in targets {
        cur = Some(match cur {
            None => t,
            Some(c) => {
                let hist = ds.history()?;
                if history::ancestors(&hist, &c)?.contains(&t) {
                    c
                } else if history::ancestors(&hist, &t)?.contains(&c) {
                    t
                } else {
                    let m = merge::merge(
                        ds,
                        identity,
                        c,
                        t,
                        &format!("merge {} from {}", t.short(), fetched.remote),
                    )
                    .map_err(|e| who_can(&hist, e))?;
                    let v = m.version;
                    merges.push(m);
                    v
                }
            }
        });
    }
    let mut out = PullOutcome {
        fetch: fetched,
        before,
        head: cur,
        rebased,
        merges,
        checkout: None,
    };
    if cur != before || unread {
        if let Some(h) = cur {
            let hist = ds.history()?;
            let keys = ds.keyring(&hist.chain, identity)?;
            prefetch_trees(ds, &hist, &keys, &h)?;
            out.checkout = Some(
                checkout::checkout(
                    ds,
                    &hist,
                    &keys,
                    h,
                    &CheckoutOptions {
                        target: None,
                        force: true,
                        progress,
                        keep_differing: false,
                    },
                )
                .map_err(|e| withdrawn(&hist, identity, e))?,
            );
            ds.set_head(&h)?;
        }
    }
    Ok(out)
}

/// A merge this identity cannot read says who can.
fn who_can(hist: &crate::rules::History, e: crate::Error) -> crate::Error {
    let crate::Error::NoEpochKey { who, epoch, .. } = &e else {
        return e;
    };
    let chain = &hist.chain;
    let last = chain.policies.len() - 1;
    let mut can: Vec<String> = chain
        .tip()
        .1
        .members
        .iter()
        .filter(|m| chain.held(m.kx_key(), last).contains(epoch))
        .map(|m| format!("{} ({})", m.label(), m.role()))
        .collect();
    can.sort();
    crate::Error::Usage(format!(
        "{who} cannot read part of what must be merged (sealed under epoch {epoch}, from before {who} was given access): ask one of {} to pull and push, then pull again",
        if can.is_empty() {
            "the owners".to_string()
        } else {
            can.join(", ")
        }
    ))
}

/// A member who cannot read the newest version because its access was withdrawn is told
/// when, by whom, and what it keeps.
fn withdrawn(hist: &crate::rules::History, identity: &Identity, e: crate::Error) -> crate::Error {
    let crate::Error::NoEpochKey { epoch, .. } = &e else {
        return e;
    };
    let chain = &hist.chain;
    let me = identity.public();
    let Some(pos) = chain
        .policies
        .iter()
        .rposition(|(_, p)| p.member_by_sign_key(&me.sign).is_some())
    else {
        return e;
    };
    let Some((_, by)) = chain.policies.get(pos + 1) else {
        return e;
    };
    let held = chain.held(&me.kx, pos);
    let kept = hist
        .versions
        .iter()
        .filter(|(i, v)| hist.is_history(i) && held.contains(&v.epoch))
        .map(|(_, v)| v.seq)
        .max();
    crate::Error::Usage(format!(
        "your access was withdrawn by {} on {} (policy seq {}): the newest versions were sealed afterwards, with a key you were not given (epoch {epoch}); you keep {} (see `coffer log`)",
        chain.label_of_sign_key(&by.signer.0),
        crate::history::format_time(by.time),
        by.seq,
        match kept {
            Some(n) => format!("the versions up to seq {n} that you could read"),
            None => "nothing newer than what you had".into(),
        }
    ))
}
