//! `pull`: fetch, then fast-forward or merge (spec/format.md §11.6), then update the folder.

use super::fetch::{fetch, prefetch_trees, FetchOutcome};
use crate::error::Result;
use crate::history;
use crate::id::Id;
use crate::identity::Identity;
use crate::repo::checkout::{self, CheckoutOptions, CheckoutOutcome};
use crate::repo::merge::{self, MergeOutcome};
use crate::repo::Dataset;
use std::collections::HashSet;

/// What a pull did.
#[derive(Debug, Default, serde::Serialize)]
pub struct PullOutcome {
    /// The fetch.
    pub fetch: FetchOutcome,
    /// The head before.
    pub before: Option<Id>,
    /// The head after.
    pub head: Option<Id>,
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
    let chain = ds.chain()?;
    let keys = ds.keyring(&chain, identity)?;
    let before = ds.head()?;
    if let Some(h) = before {
        merge::ensure_clean(ds, &keys, h)?;
    }
    let fetched = fetch(ds, name, progress)?;
    let mut cur = before;
    let mut merges = Vec::new();
    let mut targets: Vec<(u64, Id)> = Vec::new();
    for h in &fetched.heads {
        targets.push((ds.version(h)?.seq, *h));
    }
    targets.sort();
    for (_, t) in targets {
        cur = Some(match cur {
            None => t,
            Some(c) if ancestors(ds, &c)?.contains(&t) => c,
            Some(c) if ancestors(ds, &t)?.contains(&c) => t,
            Some(c) => {
                let m = merge::merge(
                    ds,
                    identity,
                    c,
                    t,
                    &format!("merge {} from {}", t.short(), fetched.remote),
                )?;
                let v = m.version;
                merges.push(m);
                v
            }
        });
    }
    let mut out = PullOutcome {
        fetch: fetched,
        before,
        head: cur,
        merges,
        checkout: None,
    };
    if cur != before {
        if let Some(h) = cur {
            let keys = ds.keyring(&ds.chain()?, identity)?;
            prefetch_trees(ds, &keys, &h)?;
            out.checkout = Some(checkout::checkout(
                ds,
                &keys,
                h,
                &CheckoutOptions {
                    target: None,
                    force: true,
                    progress,
                },
            )?);
            ds.set_head(&h)?;
        }
    }
    Ok(out)
}

fn ancestors(ds: &Dataset, id: &Id) -> Result<HashSet<Id>> {
    Ok(history::log(ds, id)?.into_iter().map(|(i, _)| i).collect())
}
