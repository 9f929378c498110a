//! The witness's check (spec/format.md §10.5): read a dataset's store without keys, take the
//! newest checkpoint that counts ([`crate::rules::checkpoint::judge`]) and cosign it only if
//! it extends the last checkpoint this witness cosigned: the policy it names is the same or
//! later in the chain, and every head the witness vouched for before is still in the store
//! and is a head the new checkpoint names or below one. A store that shows the witness a
//! different history than it showed before (a split view, a rollback) is refused; heads of
//! two pushes that raced, all present, are a fork that the next merge clears.

use crate::error::{Error, Result};
use crate::id::{Bytes32, Id};
use crate::identity::Identity;
use crate::object::checkpoint::Cosignature;
use crate::repo::clone::{dataset_of, source_remote};
use crate::rules::checkpoint::{Counted, Gap};
use crate::store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a witness is asked to do.
pub struct WitnessOptions {
    /// Where the dataset is: what `clone` takes.
    pub source: String,
    /// The dataset id, if given.
    pub expect: Option<Id>,
    /// The witness's memory (`witnessed.json`).
    pub memory: Option<PathBuf>,
}

/// What the witness did.
#[derive(Debug, Serialize)]
pub struct WitnessOutcome {
    /// The dataset.
    pub dataset: Id,
    /// `cosigned`, `up-to-date`, `nothing` (no checkpoint counts yet), `fork` (heads of
    /// racing pushes: cosigned after the merge) or `refused` (a split view or a rollback).
    pub status: &'static str,
    /// The checkpoint judged.
    pub checkpoint: Option<Counted>,
    /// The cosignature written.
    pub cosignature: Option<Id>,
    /// Why, for people.
    pub message: String,
}

impl WitnessOutcome {
    /// Whether the run found something wrong (exit 1).
    pub fn refused(&self) -> bool {
        matches!(self.status, "fork" | "refused")
    }
}

/// What this witness last cosigned of one dataset.
#[derive(Serialize, Deserialize, Clone, Debug)]
struct Vouched {
    source: String,
    checkpoint: Id,
    policy: (u64, Id),
    heads: Vec<Id>,
    time: u64,
}

/// Check the newest checkpoint of the dataset at `opts.source` and cosign it as `me`.
pub fn witness(opts: &WitnessOptions, me: &Identity) -> Result<WitnessOutcome> {
    let (url, remote) = source_remote(&opts.source)?;
    let mut memory: BTreeMap<String, Vouched> = opts
        .memory
        .as_deref()
        .map(crate::audit::load_memory)
        .unwrap_or_default();
    let known = memory
        .iter()
        .find(|(_, v)| v.source == url)
        .and_then(|(id, _)| Id::from_hex(id));
    let s = &remote.store;
    let id = dataset_of(s, &url, opts.expect, known).map_err(|e| remote.explain(e))?;
    let chain = crate::rules::chain::load(s, &id).map_err(|e| remote.explain(e))?;
    let mine = Bytes32(me.public().sign);
    let (_, tip) = chain.tip();
    let Some(label) = tip
        .audit
        .as_ref()
        .and_then(|a| a.witnesses.iter().find(|w| w.1 == mine))
        .map(|w| w.0.clone())
    else {
        return Err(Error::Usage(format!(
            "you are not a witness of dataset {} ({}): its owner names you with `coffer share audit --witness LABEL=PUBLIC` (PUBLIC from your `coffer id show`)",
            tip.name,
            id.short()
        )));
    };
    let versions = crate::store::reader::all_versions(s)
        .map_err(|e| remote.explain(e))?
        .versions;
    let (c, cs) = crate::remote::checkpoint::listed(s).map_err(|e| remote.explain(e))?;
    let read = crate::remote::checkpoint::read(s, &c, &cs, None).map_err(|e| remote.explain(e))?;
    let j = crate::remote::checkpoint::judge_store(s, &id, &chain, &versions, &read);
    let mut out = WitnessOutcome {
        dataset: id,
        status: "refused",
        checkpoint: j.counted.last().cloned(),
        cosignature: None,
        message: String::new(),
    };
    // A split view stops the witness; a stale or unwitnessed store (errors under strict
    // settings) is what its cosignature is for.
    if let Some(n) = j
        .notes
        .iter()
        .find(|n| n.rule == crate::rules::Rule::SplitView)
    {
        out.message = format!("{} (rule {})", n.message, n.rule);
        return Ok(out);
    }
    let key = id.to_hex();
    let before = memory.get(&key).cloned();
    // What was vouched for must still be there, whatever the newest checkpoint says.
    if let Some(b) = &before {
        let gone: Vec<String> = b
            .heads
            .iter()
            .filter(|h| !versions.contains_key(h))
            .map(|h| format!("version {}", h.short()))
            .chain(
                (chain.get(&b.policy.1).is_none())
                    .then(|| format!("policy seq {} ({})", b.policy.0, b.policy.1.short())),
            )
            .chain(
                (!c.contains_key(&b.checkpoint))
                    .then(|| format!("checkpoint {}", b.checkpoint.short())),
            )
            .collect();
        if !gone.is_empty() {
            out.message = format!(
                "split view or rollback: the store no longer shows {} that you vouched for on {} (checkpoint {}); nothing was cosigned",
                gone.join(", "),
                crate::history::format_time(b.time),
                b.checkpoint.short()
            );
            return Ok(out);
        }
    }
    let Some(newest) = j.counted.last().cloned() else {
        out.status = "nothing";
        out.message = "no checkpoint counts yet: a writer's push publishes one".into();
        return Ok(out);
    };
    let cosigned_already = newest.witnesses.contains(&label);
    if let Some(b) = &before {
        // The accepted chain's positions are sequence numbers.
        let gap = crate::rules::checkpoint::extends(
            &versions,
            (b.policy.0, &b.heads),
            (newest.policy_seq, &newest.heads),
        );
        if gap == Some(Gap::OlderPolicy) || newest.time < b.time {
            out.message = format!(
                "checkpoint {} by {} names an older policy or an earlier time than checkpoint {} that you cosigned: no single history explains both; nothing was cosigned",
                newest.id.short(),
                newest.signer,
                b.checkpoint.short()
            );
            return Ok(out);
        }
        if let Some(Gap::Lost(lost)) = gap {
            out.status = "fork";
            out.message = format!(
                "checkpoint {} by {} does not extend checkpoint {} that you cosigned: version {} is in the store but neither named nor below what it names. Two pushes raced (a fork); a merge (`coffer pull`, then push) clears it, and you cosign the checkpoint after the merge",
                newest.id.short(),
                newest.signer,
                b.checkpoint.short(),
                lost.short()
            );
            return Ok(out);
        }
    }
    let remember = |memory: &mut BTreeMap<String, Vouched>| -> Result<()> {
        let Some(path) = &opts.memory else {
            return Ok(());
        };
        let Some((pid, _)) = chain
            .policies
            .iter()
            .find(|(_, p)| p.seq == newest.policy_seq)
        else {
            return Ok(());
        };
        memory.insert(
            key.clone(),
            Vouched {
                source: url.clone(),
                checkpoint: newest.id,
                policy: (newest.policy_seq, *pid),
                heads: newest.heads.clone(),
                time: newest.time,
            },
        );
        crate::audit::save_memory(path, memory)
    };
    if cosigned_already {
        remember(&mut memory)?;
        out.status = "up-to-date";
        out.message = format!(
            "you already cosigned the newest checkpoint {} (by {} on {})",
            newest.id.short(),
            newest.signer,
            crate::history::format_time(newest.time)
        );
        return Ok(out);
    }
    let cosig = Cosignature {
        time: crate::repo::now(),
        signer: mine,
        dataset: id,
        checkpoint: newest.id,
    };
    let (cid, bytes) = cosig.sign(me.signing_key());
    s.put_new(&store::cosignature_path(&cid), bytes)
        .map_err(|e| remote.explain(e))?;
    remember(&mut memory)?;
    out.status = "cosigned";
    out.cosignature = Some(cid);
    out.message = format!(
        "cosigned checkpoint {} (by {} on {}: policy seq {}, {} head(s)) as {label}",
        newest.id.short(),
        newest.signer,
        crate::history::format_time(newest.time),
        newest.policy_seq,
        newest.heads.len()
    );
    Ok(out)
}
