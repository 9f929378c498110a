//! Which versions are history: rules V1-V11 (spec/format.md §9) applied to every version a
//! store holds, under an accepted policy [`Chain`]; and, from the same rules, which packs a
//! new version may list (so what commit writes is exactly what readers accept).

use super::chain::Chain;
use super::{Refusal, Rule};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::object::version::Version;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What the rules say about one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Part of the history.
    Accepted,
    /// Valid by every rule that could be checked, but these listed packs are not in the
    /// store (damage, or not yet arrived).
    Incomplete(Vec<Id>),
    /// Not part of the history.
    Refused(Refusal),
}

impl Status {
    /// Accepted or incomplete: history, whatever the state of its packs.
    pub fn is_history(&self) -> bool {
        !matches!(self, Status::Refused(_))
    }
}

/// One policy that withdraws access, and what it acknowledged: the versions below its
/// heads and their packs.
struct Ack {
    /// Its position in the chain (a fork side: one past the tip).
    pos: usize,
    /// Its sequence number.
    seq: u64,
    /// Labels of the members whose read access it withdraws.
    readers: Vec<String>,
    /// Signing keys of the members whose write access it withdraws.
    writers: Vec<[u8; 32]>,
    /// Epochs the withdrawn readers held before it.
    forbidden: BTreeSet<u32>,
    versions: HashSet<Id>,
    packs: HashSet<Id>,
}

/// The versions of a store judged under an accepted chain.
pub struct History {
    /// The accepted policy chain.
    pub chain: Chain,
    /// Every version that opened (hash, encoding, signature), accepted or not.
    pub versions: BTreeMap<Id, Version>,
    /// The verdict on each of them.
    pub status: BTreeMap<Id, Status>,
    /// Version objects that did not open, with the reason.
    pub junk: Vec<(Id, Refusal)>,
    /// Suspicious but acceptable facts (a version dated before its parent).
    pub notes: Vec<(Id, String)>,
    /// Epochs of the packs versions list, from their trailers (absent: not in the store).
    pub pack_epochs: HashMap<Id, u32>,
    acks: Vec<Ack>,
}

/// Ancestors of `heads` (themselves included) among `versions`.
pub fn ancestors(versions: &BTreeMap<Id, Version>, heads: &[Id]) -> HashSet<Id> {
    let mut seen = HashSet::new();
    let mut stack: Vec<Id> = heads.to_vec();
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            if let Some(v) = versions.get(&id) {
                stack.extend(v.parents.iter().copied());
            }
        }
    }
    seen.retain(|i| versions.contains_key(i));
    seen
}

impl History {
    /// Judge `versions` (already opened) under `chain`. `pack_epoch` gives the epoch in a
    /// pack's trailer, or `None` when the pack is not in the store.
    pub fn evaluate(
        chain: Chain,
        versions: BTreeMap<Id, Version>,
        junk: Vec<(Id, Refusal)>,
        pack_epoch: impl Fn(&Id) -> Option<u32>,
    ) -> History {
        let mut pack_epochs = HashMap::new();
        for v in versions.values() {
            for p in &v.packs {
                if let Some(e) = pack_epoch(p) {
                    pack_epochs.insert(*p, e);
                }
            }
        }
        let acks = chain
            .withdrawals()
            .iter()
            .map(|w| {
                // Acknowledgement is monotone: what an earlier accepted policy acknowledged
                // existed before it, so before this withdrawal too, and a later policy cannot
                // take it back (else one admin's empty `heads` would refuse all history).
                let mut heads = w.policy.heads.clone().unwrap_or_default();
                for (_, p) in chain.policies.iter().take(w.pos) {
                    heads.extend(p.heads.iter().flatten().copied());
                }
                let set = ancestors(&versions, &heads);
                let packs = set
                    .iter()
                    .filter_map(|i| versions.get(i))
                    .flat_map(|v| v.packs.iter().copied())
                    .collect();
                Ack {
                    pos: w.pos,
                    seq: w.policy.seq,
                    readers: w.readers.iter().map(|m| m.label().to_string()).collect(),
                    writers: w.writers.iter().map(|m| *m.sign_key()).collect(),
                    forbidden: w.forbidden.clone(),
                    versions: set,
                    packs,
                }
            })
            .collect();
        let mut h = History {
            chain,
            versions,
            status: BTreeMap::new(),
            junk,
            notes: Vec::new(),
            pack_epochs,
            acks,
        };
        let mut order: Vec<(u64, Id)> = h.versions.iter().map(|(i, v)| (v.seq, *i)).collect();
        order.sort();
        let mut shared: HashMap<usize, BTreeSet<u32>> = HashMap::new();
        for (_, id) in order {
            let s = h.judge(&id, &mut shared);
            h.status.insert(id, s);
        }
        h
    }

    fn judge(&mut self, id: &Id, shared: &mut HashMap<usize, BTreeSet<u32>>) -> Status {
        let Some(v) = self.versions.get(id) else {
            return Status::Refused(Refusal::new(Rule::VersionParent, "not in the store"));
        };
        let chain = &self.chain;
        let refuse = |rule, msg: String| Status::Refused(Refusal::new(rule, msg));
        if v.dataset != chain.dataset {
            return refuse(
                Rule::VersionDataset,
                format!("belongs to dataset {}, not this one", v.dataset.short()),
            );
        }
        let Some((pos, policy)) = chain.get(&v.policy) else {
            let why = if chain.fork.iter().flatten().any(|(i, _)| *i == v.policy) {
                "which is one side of an unrepaired fork of the policy chain"
            } else {
                "which is not in the dataset's policy chain"
            };
            return refuse(
                Rule::VersionPolicy,
                format!("made under policy {}, {why}", v.policy.short()),
            );
        };
        let author = chain.label_of_sign_key(&v.author.0);
        match policy.member_by_sign_key(&v.author.0) {
            Some(m) if m.can_write() => {}
            Some(m) => {
                return refuse(
                    Rule::VersionAuthor,
                    format!(
                        "signed by {}, a {} under policy seq {}: only owners, admins and writers commit",
                        m.label(),
                        m.role(),
                        policy.seq
                    ),
                )
            }
            None => {
                return refuse(
                    Rule::VersionAuthor,
                    format!(
                        "signed by {author}, who is not a member under policy seq {}",
                        policy.seq
                    ),
                )
            }
        }
        if v.epoch != policy.epoch {
            return refuse(
                Rule::VersionEpoch,
                format!(
                    "sealed under epoch {}, but its policy (seq {}) is in epoch {}",
                    v.epoch, policy.seq, policy.epoch
                ),
            );
        }
        let mut max_seq = 0;
        for p in &v.parents {
            match self.versions.get(p) {
                Some(pv) => {
                    max_seq = max_seq.max(pv.seq);
                    if pv.time > v.time {
                        self.notes
                            .push((*id, format!("dated before its parent {}", p.short())));
                    }
                }
                None => {
                    return refuse(
                        Rule::VersionParent,
                        format!("parent {} is not in the store", p.short()),
                    )
                }
            }
        }
        if Some(v.seq) != max_seq.checked_add(1) {
            return refuse(
                Rule::VersionSeq,
                match max_seq.checked_add(1) {
                    Some(n) => format!("sequence number {} should be {n}", v.seq),
                    None => format!("a parent's sequence number {max_seq} leaves none for a child"),
                },
            );
        }
        for p in &v.parents {
            if let Some(Status::Refused(r)) = self.status.get(p) {
                return refuse(
                    Rule::VersionParent,
                    format!("parent {} is not accepted ({})", p.short(), r.rule),
                );
            }
            let ppos = self
                .versions
                .get(p)
                .and_then(|pv| chain.get(&pv.policy))
                .map(|(n, _)| n)
                .unwrap_or(0);
            if ppos > pos {
                return refuse(
                    Rule::VersionPolicyOrder,
                    format!(
                        "made under policy seq {}, older than its parent {}'s (seq {})",
                        policy.seq,
                        p.short(),
                        chain.policies[ppos].1.seq
                    ),
                );
            }
        }
        for ack in &self.acks {
            if ack.pos > pos && ack.writers.contains(&v.author.0) && !ack.versions.contains(id) {
                return refuse(
                    Rule::VersionWithdrawnWriter,
                    format!(
                        "signed by {author}, whose write access policy seq {} withdrew; it is not part of the history that policy acknowledged",
                        ack.seq
                    ),
                );
            }
        }
        let shared_epochs = shared
            .entry(pos)
            .or_insert_with(|| chain.shared_epochs(pos));
        let packs: Vec<(Id, Option<u32>)> = v
            .packs
            .iter()
            .map(|p| (*p, self.pack_epochs.get(p).copied()))
            .collect();
        if let Err(r) = check_packs(
            &self.acks,
            shared_epochs,
            |i| self.acks[i].versions.contains(id),
            v.epoch,
            &packs,
        ) {
            return Status::Refused(r);
        }
        let missing: Vec<Id> = packs
            .iter()
            .filter(|(_, e)| e.is_none())
            .map(|(p, _)| *p)
            .collect();
        if missing.is_empty() {
            Status::Accepted
        } else {
            Status::Incomplete(missing)
        }
    }

    /// The verdict on `id`, if the store holds it.
    pub fn status_of(&self, id: &Id) -> Option<&Status> {
        self.status.get(id)
    }

    /// Whether `id` is history (accepted, possibly with packs missing).
    pub fn is_history(&self, id: &Id) -> bool {
        self.status.get(id).is_some_and(Status::is_history)
    }

    /// A version that is history, or an error saying why it is not.
    pub fn get(&self, id: &Id) -> Result<&Version> {
        match (self.versions.get(id), self.status.get(id)) {
            (Some(v), Some(s)) if s.is_history() => Ok(v),
            (_, Some(Status::Refused(r))) => Err(Error::Refused {
                kind: "version",
                id: *id,
                refusal: r.clone(),
            }),
            _ => match self.junk.iter().find(|(i, _)| i == id) {
                Some((_, r)) => Err(Error::Refused {
                    kind: "version",
                    id: *id,
                    refusal: r.clone(),
                }),
                None => Err(Error::Missing {
                    kind: "version",
                    id: *id,
                }),
            },
        }
    }

    /// Versions that are history and that no other such version names as a parent.
    pub fn heads(&self) -> Vec<Id> {
        let hist: Vec<&Id> = self
            .status
            .iter()
            .filter(|(_, s)| s.is_history())
            .map(|(i, _)| i)
            .collect();
        let parents: HashSet<Id> = hist
            .iter()
            .filter_map(|i| self.versions.get(i))
            .flat_map(|v| v.parents.iter().copied())
            .collect();
        let mut out: Vec<Id> = hist
            .into_iter()
            .filter(|i| !parents.contains(i))
            .copied()
            .collect();
        out.sort();
        out
    }

    /// Whether a pack (id, trailer epoch) may be listed by a new version made under the
    /// policy in force: the same rules V9 and V10 that judge every version, for a version no
    /// policy acknowledges yet.
    pub fn usable_packs(&self) -> impl Fn(&Id, u32) -> bool + '_ {
        let pos = self.chain.policies.len() - 1;
        let shared = self.chain.shared_epochs(pos);
        let epoch = self.chain.tip().1.epoch;
        move |p: &Id, e: u32| {
            check_packs(&self.acks, &shared, |_| false, epoch, &[(*p, Some(e))]).is_ok()
        }
    }

    /// The epochs a reader of version `v` needs: its seal's and its packs'.
    pub fn epochs_needed(&self, v: &Version) -> BTreeSet<u32> {
        let mut out: BTreeSet<u32> = v
            .packs
            .iter()
            .filter_map(|p| self.pack_epochs.get(p).copied())
            .collect();
        out.insert(v.epoch);
        out
    }
}

/// Rules V9 and V10 for a version made under the policy at some position, whose members
/// hold `shared` epochs; `acked(i)` says whether withdrawal `i` acknowledged it; `seal` is
/// the epoch of its seal; `packs` the packs it lists with their trailer epochs.
fn check_packs(
    acks: &[Ack],
    shared: &BTreeSet<u32>,
    acked: impl Fn(usize) -> bool,
    seal: u32,
    packs: &[(Id, Option<u32>)],
) -> std::result::Result<(), Refusal> {
    for (i, ack) in acks.iter().enumerate() {
        if ack.readers.is_empty() || acked(i) {
            continue;
        }
        let who = || ack.readers.join(", ");
        if ack.forbidden.contains(&seal) {
            return Err(Refusal::new(
                Rule::VersionWithdrawnReader,
                format!(
                    "sealed under epoch {seal}, which {} held, after policy seq {} withdrew them, and that policy does not acknowledge it",
                    who(),
                    ack.seq
                ),
            ));
        }
        for (p, e) in packs {
            if let Some(e) = e {
                if ack.forbidden.contains(e) && !ack.packs.contains(p) {
                    return Err(Refusal::new(
                        Rule::VersionWithdrawnReader,
                        format!(
                            "lists pack {} of epoch {e}, new since policy seq {} withdrew {}, who held that epoch",
                            p.short(),
                            ack.seq,
                            who()
                        ),
                    ));
                }
            }
        }
    }
    for (p, e) in packs {
        if let Some(e) = e {
            if !shared.contains(e) {
                return Err(Refusal::new(
                    Rule::VersionPackEpoch,
                    format!(
                        "lists pack {} of epoch {e}, which not every member of its policy holds",
                        p.short()
                    ),
                ));
            }
        }
    }
    Ok(())
}
