//! Which checkpoints and cosignatures count, and what they say about the store a reader sees
//! (spec/format.md §10.5): freshness (a freeze), witnesses (a quorum) and split views. Every
//! path that reads a store's checkpoints (fetch, pull, clone, verify --remote, audit, witness)
//! asks [`judge`] and nothing else.
//!
//! A checkpoint **counts** when it opens and:
//! - C1 `checkpoint-dataset`: it names this dataset;
//! - C2 `checkpoint-signer`: its signer is an owner, admin or writer both in the policy in
//!   force and in the policy it names (a withdrawn writer's checkpoints stop counting);
//! - C3 `checkpoint-expiry`: it expires no later than its time plus the audit expiry of the
//!   policy in force (7 days without audit settings);
//! - C4 `checkpoint-time`: it was not signed more than 10 minutes after the reader's clock;
//! - C5 `checkpoint-policy`: the policy it names is accepted (in the chain);
//! - C6 `split-view`: every policy and version it names is in the store this reader sees.
//!   One that is not means the store shows this reader less than it showed the signer: an
//!   error, never a warning;
//! - C7 `checkpoint-history` (a warning): two counted checkpoints by one signer, taken in
//!   order (time, then the policy's place in the chain, then how many versions its heads
//!   reach, then id), extend each other (the later names the same policy or a later one, and
//!   every head of the earlier is a head of the later or below one).
//!
//! A cosignature counts (W1 `cosignature`) when it opens, names this dataset and a counted
//! checkpoint, and is signed by a witness of the policy in force. Then:
//! - F1 `checkpoint-missing`: no checkpoint counts;
//! - F2 `checkpoint-quorum`: none has the quorum of the policy in force;
//! - F3 `freeze`: the newest that has it has expired (freeze suspected).
//!
//! F1-F3 are warnings, errors when the policy in force is `strict`; F1 is only information
//! for a dataset without audit settings.

use crate::id::Id;
use crate::object::checkpoint::{Checkpoint, Cosignature, DEFAULT_EXPIRY};
use crate::object::version::Version;
use crate::rules::{Chain, Refusal, Rule};
use crate::verify::Level;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How far ahead of the reader's clock a checkpoint may be signed (clock skew).
pub const MAX_SKEW: u64 = 600;

/// One thing the judgement found, about one object.
#[derive(Clone, Debug)]
pub struct Note {
    /// Severity.
    pub level: Level,
    /// `checkpoint` or `cosignature`.
    pub kind: &'static str,
    /// The object, where one is concerned.
    pub id: Option<Id>,
    /// The rule.
    pub rule: Rule,
    /// What, for people.
    pub message: String,
}

/// A counted checkpoint, for reports.
#[derive(Clone, Debug, Serialize)]
pub struct Counted {
    /// Its id.
    pub id: Id,
    /// Who signed it (their label in the policy in force).
    pub signer: String,
    /// When.
    pub time: u64,
    /// Until when it is fresh.
    pub expires: u64,
    /// The sequence number of the policy it names.
    pub policy_seq: u64,
    /// The heads it names.
    pub heads: Vec<Id>,
    /// The witnesses who cosigned it (labels), ascending.
    pub witnesses: Vec<String>,
}

/// What a reader makes of a store's checkpoints and cosignatures.
#[derive(Clone, Debug, Default)]
pub struct Judged {
    /// Findings, in the order found.
    pub notes: Vec<Note>,
    /// Counted checkpoints, oldest first.
    pub counted: Vec<Counted>,
    /// The newest counted checkpoint with the quorum: what freshness is measured on.
    pub newest: Option<Counted>,
}

impl Judged {
    fn note(&mut self, level: Level, kind: &'static str, id: Option<Id>, rule: Rule, m: String) {
        self.notes.push(Note {
            level,
            kind,
            id,
            rule,
            message: m,
        });
    }

    /// True when a finding is an error (a split view, or a stale checkpoint under `strict`).
    pub fn has_error(&self) -> bool {
        self.notes.iter().any(|n| n.level == Level::Error)
    }
}

/// Which object a checkpoint names that the reader has not seen.
pub enum Named {
    /// A policy.
    Policy(Id),
    /// A version.
    Version(Id),
}

/// How a later checkpoint fails to extend an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gap {
    /// It names a policy earlier in the chain.
    OlderPolicy,
    /// A head of the earlier one is neither named nor below what it names.
    Lost(Id),
}

/// Whether a checkpoint naming the policy at chain position `new.0` and heads `new.1`
/// extends one naming `old` (the rule of C7, and what a witness checks before cosigning):
/// `None` when it does.
pub fn extends(
    versions: &BTreeMap<Id, Version>,
    old: (u64, &[Id]),
    new: (u64, &[Id]),
) -> Option<Gap> {
    if new.0 < old.0 {
        return Some(Gap::OlderPolicy);
    }
    let below = crate::rules::history::ancestors(versions, new.1);
    old.1
        .iter()
        .find(|h| !below.contains(h))
        .map(|h| Gap::Lost(*h))
}

/// Judge the checkpoints and cosignatures read from a store (as stored bytes, by id) for a
/// reader whose accepted chain is `chain` and who opened `versions` from that store, at time
/// `now`. `present` is asked about policies and versions a checkpoint names that the reader
/// has not seen, and says whether the store holds them after all (a push that landed while
/// the reader was listing); a checkpoint naming one it does not hold is a split view.
pub fn judge(
    dataset: &Id,
    chain: &Chain,
    versions: &BTreeMap<Id, Version>,
    checkpoints: &[(Id, Vec<u8>)],
    cosignatures: &[(Id, Vec<u8>)],
    now: u64,
    present: &mut dyn FnMut(Named) -> bool,
) -> Judged {
    let mut j = Judged::default();
    let (_, tip) = chain.tip();
    let audit = tip.audit.as_ref();
    let expiry = audit.map_or(DEFAULT_EXPIRY, |a| a.expiry);
    let strict = audit.is_some_and(|a| a.strict);
    let stale = if strict { Level::Error } else { Level::Warning };
    let who = |k: &[u8; 32]| chain.label_of_sign_key(k);
    let mut counted: Vec<(Id, Checkpoint, u64)> = Vec::new();
    for (id, bytes) in checkpoints {
        let c = match Checkpoint::open(id, bytes) {
            Ok(c) => c,
            Err(e) => {
                let r = Refusal::of_error(&e);
                j.note(
                    Level::Warning,
                    "checkpoint",
                    Some(*id),
                    r.rule,
                    format!("{}; junk, ignored", r.message),
                );
                continue;
            }
        };
        let refuse = |j: &mut Judged, level: Level, rule: Rule, m: String| {
            j.note(level, "checkpoint", Some(*id), rule, m);
        };
        if c.dataset != *dataset {
            refuse(
                &mut j,
                Level::Warning,
                Rule::CheckpointDataset,
                format!("names dataset {}, not this one; ignored", c.dataset.short()),
            );
            continue;
        }
        let writes_now = tip
            .member_by_sign_key(&c.signer.0)
            .is_some_and(|m| m.can_write());
        let named = chain.get(&c.policy);
        if !writes_now {
            // Once a writer: their old checkpoints are history, no longer counted.
            let was = named
                .and_then(|(_, p)| p.member_by_sign_key(&c.signer.0))
                .is_some_and(|m| m.can_write());
            refuse(
                &mut j,
                if was { Level::Info } else { Level::Warning },
                Rule::CheckpointSigner,
                format!(
                    "signed by {}, who {} write in the policy in force (seq {}); not counted",
                    who(&c.signer.0),
                    if was { "no longer may" } else { "may not" },
                    tip.seq
                ),
            );
            continue;
        }
        // C6 before the rest: what it names must be there, whatever else is wrong with it.
        let mut missing: Vec<String> = Vec::new();
        if !chain.knows(&c.policy) && !present(Named::Policy(c.policy)) {
            missing.push(format!("policy {}", c.policy.short()));
        }
        for h in &c.heads {
            if !versions.contains_key(h) && !present(Named::Version(*h)) {
                missing.push(format!("version {}", h.short()));
            }
        }
        if !missing.is_empty() {
            refuse(
                &mut j,
                Level::Error,
                Rule::SplitView,
                format!(
                    "split view: this checkpoint, signed by {} on {}, names {} that the store does not show you: the store shows you less than it showed {} (ask whoever runs it; compare with another member's or a witness's view)",
                    who(&c.signer.0),
                    crate::history::format_time(c.time),
                    missing.join(", "),
                    who(&c.signer.0)
                ),
            );
            continue;
        }
        let Some((pos, named)) = named else {
            refuse(
                &mut j,
                Level::Warning,
                Rule::CheckpointPolicy,
                format!(
                    "names policy {}, which is in the store but not in force; not counted",
                    c.policy.short()
                ),
            );
            continue;
        };
        if !named
            .member_by_sign_key(&c.signer.0)
            .is_some_and(|m| m.can_write())
        {
            refuse(
                &mut j,
                Level::Warning,
                Rule::CheckpointSigner,
                format!(
                    "signed by {}, who may not write in the policy it names (seq {}); not counted",
                    who(&c.signer.0),
                    named.seq
                ),
            );
            continue;
        }
        if c.expires - c.time > expiry {
            refuse(
                &mut j,
                Level::Warning,
                Rule::CheckpointExpiry,
                format!(
                    "fresh for {} s, more than the {expiry} s the policy allows; not counted",
                    c.expires - c.time
                ),
            );
            continue;
        }
        if c.time > now.saturating_add(MAX_SKEW) {
            refuse(
                &mut j,
                Level::Warning,
                Rule::CheckpointTime,
                format!(
                    "signed for {}, ahead of this clock ({}); not counted",
                    crate::history::format_time(c.time),
                    crate::history::format_time(now)
                ),
            );
            continue;
        }
        counted.push((*id, c, pos as u64));
    }
    // Time order; within one second (a push and a renewal, or two pushes), the later policy,
    // then the longer history, come later, so "newest" is never decided by an id alone.
    let size = |c: &Checkpoint| crate::rules::history::ancestors(versions, &c.heads).len();
    counted.sort_by_cached_key(|(id, c, pos)| (c.time, *pos, size(c), *id));

    // C7: each signer's checkpoints, in time order, tell one history.
    let mut by_signer: BTreeMap<[u8; 32], Vec<usize>> = BTreeMap::new();
    for (i, (_, c, _)) in counted.iter().enumerate() {
        by_signer.entry(c.signer.0).or_default().push(i);
    }
    for (signer, list) in &by_signer {
        for w in list.windows(2) {
            let (aid, a, apos) = &counted[w[0]];
            let (bid, b, bpos) = &counted[w[1]];
            let gap = extends(versions, (*apos, &a.heads), (*bpos, &b.heads));
            if let Some(gap) = gap {
                j.note(
                    Level::Warning,
                    "checkpoint",
                    Some(*bid),
                    Rule::CheckpointHistory,
                    format!(
                        "{} signed this after checkpoint {}, and no single history explains both ({}): a split view, or the same identity pushing from two places at once",
                        who(signer),
                        aid.short(),
                        match gap {
                            Gap::OlderPolicy => "it names an older policy".to_string(),
                            Gap::Lost(h) => format!(
                                "version {} is neither named nor below what it names",
                                h.short()
                            ),
                        }
                    ),
                );
            }
        }
    }

    // W1: cosignatures by the witnesses of the policy in force, of counted checkpoints.
    let witnesses: BTreeMap<[u8; 32], &str> = audit
        .map(|a| a.witnesses.iter().map(|w| (w.1 .0, w.0.as_str())).collect())
        .unwrap_or_default();
    let mut cosigned: BTreeMap<Id, BTreeSet<String>> = BTreeMap::new();
    for (id, bytes) in cosignatures {
        let s = match Cosignature::open(id, bytes) {
            Ok(s) => s,
            Err(e) => {
                let r = Refusal::of_error(&e);
                j.note(
                    Level::Warning,
                    "cosignature",
                    Some(*id),
                    r.rule,
                    format!("{}; junk, ignored", r.message),
                );
                continue;
            }
        };
        let why = if s.dataset != *dataset {
            Some(format!("names dataset {}, not this one", s.dataset.short()))
        } else if !witnesses.contains_key(&s.signer.0) {
            Some(format!(
                "signed by key {}, not a witness of the policy in force (seq {})",
                hex::encode(&s.signer.0[..4]),
                tip.seq
            ))
        } else if !counted.iter().any(|(c, _, _)| *c == s.checkpoint) {
            Some(format!(
                "vouches for checkpoint {}, which does not count here",
                s.checkpoint.short()
            ))
        } else {
            None
        };
        match why {
            Some(m) => j.note(
                Level::Warning,
                "cosignature",
                Some(*id),
                Rule::Cosignature,
                format!("{m}; ignored"),
            ),
            None => {
                cosigned
                    .entry(s.checkpoint)
                    .or_default()
                    .insert(witnesses[&s.signer.0].to_string());
            }
        }
    }

    j.counted = counted
        .iter()
        .map(|(id, c, _)| Counted {
            id: *id,
            signer: who(&c.signer.0),
            time: c.time,
            expires: c.expires,
            policy_seq: chain.get(&c.policy).map_or(0, |(_, p)| p.seq),
            heads: c.heads.clone(),
            witnesses: cosigned
                .get(id)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default(),
        })
        .collect();
    let quorum = audit.map_or(0, |a| a.quorum) as usize;
    j.newest = j
        .counted
        .iter()
        .rev()
        .find(|c| c.witnesses.len() >= quorum)
        .cloned();
    let latest = j.counted.last().cloned();
    match (j.newest.clone(), latest) {
        (_, None) => {
            let level = if audit.is_some() { stale } else { Level::Info };
            j.note(
                level,
                "checkpoint",
                None,
                Rule::CheckpointMissing,
                "the store holds no checkpoint that counts, so nobody can tell whether it is frozen: a writer's `coffer push` or `coffer checkpoint` publishes one".into(),
            );
        }
        (None, Some(l)) => j.note(
            stale,
            "checkpoint",
            Some(l.id),
            Rule::CheckpointQuorum,
            format!(
                "no checkpoint has the {quorum} cosignature(s) the policy asks for (the newest, by {} on {}, has {}): ask the witnesses to run `coffer witness`",
                l.signer,
                crate::history::format_time(l.time),
                l.witnesses.len()
            ),
        ),
        (Some(n), Some(l)) => {
            if now >= n.expires {
                j.note(
                    stale,
                    "checkpoint",
                    Some(n.id),
                    Rule::Freeze,
                    format!(
                        "freeze suspected: the newest checkpoint{}, signed by {} on {}, expired on {} ({} ago); the store has shown nothing fresher since. Ask the data office whether they pushed or renewed (`coffer checkpoint`) since then",
                        if quorum > 0 { " with its quorum" } else { "" },
                        n.signer,
                        crate::history::format_time(n.time),
                        crate::history::format_time(n.expires),
                        crate::history::format_age(now - n.expires)
                    ),
                );
            }
            if l.id != n.id {
                j.note(
                    Level::Info,
                    "checkpoint",
                    Some(l.id),
                    Rule::CheckpointQuorum,
                    format!(
                        "the newest checkpoint (by {} on {}) awaits cosignatures ({} of {quorum})",
                        l.signer,
                        crate::history::format_time(l.time),
                        l.witnesses.len()
                    ),
                );
            }
        }
    }
    j
}
