//! Which policies are in force: the genesis policy, then each later policy that follows the
//! last accepted one under rules G1-G2 and P1-P8 (spec/format.md §10.1a); forks (§10.1c);
//! and what the accepted chain says about people: who held which epoch when, and which
//! policies withdrew whom.

use super::{Refusal, Rule};
use crate::crypto::keys::EpochSecret;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::identity::Identity;
use crate::object::policy::{Member, Policy, ROLES};
use crate::store::{self, Store};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The accepted chain, genesis first, and what was refused on the way.
#[derive(Clone, Debug)]
pub struct Chain {
    /// The dataset id (the genesis policy's id).
    pub dataset: Id,
    /// Accepted policies in order: `policies[0]` is the genesis, the last is in force.
    pub policies: Vec<(Id, Policy)>,
    /// Policies that are not in force, each with the rule it breaks.
    pub refused: Vec<(Id, Refusal)>,
    /// When two or more valid policies follow the tip: each side's line of policies (spec
    /// §10.1c). None of them is in force; their withdrawals and demotions apply; nobody may
    /// commit.
    pub fork: Vec<Vec<(Id, Policy)>>,
    /// The policies, not in force, that judged the forks of this chain: see
    /// [`Chain::fork_related`].
    pub contested: Vec<Id>,
    /// The bodies of the `contested` policies.
    aside: Vec<(Id, Policy)>,
    /// While the fork after the tip stands: the lines of its repairs made early (spec
    /// §10.1c), each the repair and the policies that follow it.
    early: Vec<Vec<(Id, Policy)>>,
}

/// A policy that takes away someone's access, as the version rules V8 and V9 see it.
#[derive(Debug)]
pub struct Withdrawal<'a> {
    /// Position in the chain (a fork side counts as one past the tip).
    pub pos: usize,
    /// The policy.
    pub id: Id,
    /// Its body.
    pub policy: &'a Policy,
    /// Members of the policy before it who are not members of it (read access withdrawn).
    pub readers: Vec<&'a Member>,
    /// Members of the policy before it who could write and no longer can.
    pub writers: Vec<&'a Member>,
    /// Epochs the withdrawn readers held before this policy.
    pub forbidden: BTreeSet<u32>,
}

/// Members of `prev` who are not members (same keys) of `next`.
fn removed<'a>(prev: &'a Policy, next: &Policy) -> Vec<&'a Member> {
    prev.members
        .iter()
        .filter(|m| !next.members.iter().any(|n| n.same_identity(m)))
        .collect()
}

/// Members of `prev` who may write there and may not in `next`.
fn lost_write<'a>(prev: &'a Policy, next: &Policy) -> Vec<&'a Member> {
    prev.members
        .iter()
        .filter(|m| m.can_write())
        .filter(|m| {
            !next
                .members
                .iter()
                .any(|n| n.same_identity(m) && n.can_write())
        })
        .collect()
}

/// P6-P8 (and G1's wrap part), which every accepted policy meets.
fn check_members(p: &Policy) -> std::result::Result<(), Refusal> {
    if !p.members.iter().any(|m| m.role() == "owner") {
        return Err(Refusal::new(
            Rule::PolicyOwner,
            "leaves the dataset without an owner",
        ));
    }
    for m in &p.members {
        if !p
            .wraps
            .iter()
            .any(|w| &w.0 .0 == m.kx_key() && w.1 == p.epoch)
        {
            return Err(Refusal::new(
                Rule::PolicyWraps,
                format!("gives {} no key for epoch {}", m.label(), p.epoch),
            ));
        }
    }
    for w in &p.wraps {
        if p.member_by_kx_key(&w.0 .0).is_none() {
            return Err(Refusal::new(
                Rule::PolicyWraps,
                "wraps a key for someone who is not a member",
            ));
        }
        if w.1 > p.epoch {
            return Err(Refusal::new(
                Rule::PolicyWraps,
                format!("wraps epoch {} after its own epoch {}", w.1, p.epoch),
            ));
        }
    }
    Ok(())
}

/// G1-G2 and P6-P8 for the genesis policy.
pub fn check_genesis(p: &Policy) -> std::result::Result<(), Refusal> {
    if p.epoch != 0 || p.wraps.iter().any(|w| w.1 != 0) {
        return Err(Refusal::new(
            Rule::GenesisEpoch,
            "a genesis policy has epoch 0 and wraps no other",
        ));
    }
    if p.member_by_sign_key(&p.signer.0)
        .is_none_or(|m| m.role() != "owner")
    {
        return Err(Refusal::new(
            Rule::GenesisSigner,
            "the genesis policy is not signed by an owner it names",
        ));
    }
    check_members(p)
}

/// P1-P8: whether `next` may follow `prev` (whose id is `prev_id`) in the chain of `dataset`.
pub fn check_successor(
    dataset: &Id,
    prev_id: &Id,
    prev: &Policy,
    next: &Policy,
) -> std::result::Result<(), Refusal> {
    if next.dataset != Some(*dataset) {
        return Err(Refusal::new(
            Rule::PolicyDataset,
            "belongs to another dataset",
        ));
    }
    if next.previous != Some(*prev_id) {
        return Err(Refusal::new(
            Rule::PolicyDetached,
            "does not follow the policy in force",
        ));
    }
    if Some(next.seq) != prev.seq.checked_add(1) {
        return Err(Refusal::new(
            Rule::PolicySeq,
            format!(
                "sequence number {} after {} (a gap or a replay)",
                next.seq, prev.seq
            ),
        ));
    }
    let Some(signer) = prev
        .member_by_sign_key(&next.signer.0)
        .filter(|m| m.can_administer())
    else {
        let who = prev
            .member_by_sign_key(&next.signer.0)
            .map(|m| format!("{} ({})", m.label(), m.role()))
            .unwrap_or_else(|| "a key that is not a member".into());
        return Err(Refusal::new(
            Rule::PolicySigner,
            format!(
                "signed by {who}: only an owner or admin of the policy before it may change it"
            ),
        ));
    };
    if signer.role() != "owner" {
        let owners_kept = prev
            .members
            .iter()
            .filter(|m| m.role() == "owner")
            .all(|m| next.members.contains(m));
        let no_new_owner = next
            .members
            .iter()
            .filter(|m| m.role() == "owner")
            .all(|m| prev.members.contains(m));
        if !owners_kept || !no_new_owner {
            return Err(Refusal::new(
                Rule::PolicyRolePower,
                format!(
                    "signed by {}, an admin: only an owner may add, remove or change an owner",
                    signer.label()
                ),
            ));
        }
        if next.audit != prev.audit {
            return Err(Refusal::new(
                Rule::PolicyRolePower,
                format!(
                    "signed by {}, an admin: only an owner may change the audit settings",
                    signer.label()
                ),
            ));
        }
    }
    // A repair's epoch is judged against the sides it repairs (check_repair).
    if next.repairs.is_none()
        && next.epoch != prev.epoch
        && Some(next.epoch) != prev.epoch.checked_add(1)
    {
        return Err(Refusal::new(
            Rule::PolicyEpoch,
            format!(
                "goes from epoch {} to {}: an epoch stays or goes up by one",
                prev.epoch, next.epoch
            ),
        ));
    }
    let gone: Vec<&str> = removed(prev, next).iter().map(|m| m.label()).collect();
    if !gone.is_empty() && next.epoch == prev.epoch {
        return Err(Refusal::new(
            Rule::PolicyWithdrawalEpoch,
            format!("withdraws {} without starting a new epoch", gone.join(", ")),
        ));
    }
    check_members(next)
}

/// P8, against the chain: every epoch secret `p` wraps is for its own epoch or one the
/// accepted chain before it started. So a key from the chain in force is never for a number
/// the chain skipped (a repair may start above a repair made early, §10.1c), which only that
/// repair's own secret may fill, for its signer's own versions (§11.7).
fn check_wrapped_epochs(started: &BTreeSet<u32>, p: &Policy) -> std::result::Result<(), Refusal> {
    match p
        .wraps
        .iter()
        .find(|w| w.1 != p.epoch && !started.contains(&w.1))
    {
        Some(w) => Err(Refusal::new(
            Rule::PolicyWraps,
            format!(
                "wraps a secret for epoch {}, which no policy before it in force started",
                w.1
            ),
        )),
        None => Ok(()),
    }
}

/// Load every policy of `store` and walk the chain of `dataset` from its genesis.
pub fn load(store: &Store, dataset: &Id) -> Result<Chain> {
    let (all, refused) = load_all(store, dataset)?;
    walk(dataset, all, refused)
}

/// Whether the rules would put the policy `id` (signed, as `bytes`) in force if `store`
/// held it too: a writer checks a policy before it publishes it.
pub fn would_be_in_force(store: &Store, dataset: &Id, id: &Id, bytes: &[u8]) -> Result<bool> {
    let policy = Policy::open(id, bytes)?;
    let (mut all, refused) = load_all(store, dataset)?;
    all.insert(*id, policy);
    Ok(walk(dataset, all, refused)?.tip().0 == *id)
}

/// Opened policies by id, and those refused before the walk.
type Loaded = (BTreeMap<Id, Policy>, Vec<(Id, Refusal)>);

/// Every policy `store` holds, opened, and those that do not open, refused.
fn load_all(store: &Store, dataset: &Id) -> Result<Loaded> {
    let mut all: BTreeMap<Id, Policy> = BTreeMap::new();
    let mut refused = Vec::new();
    let names: Vec<String> = store
        .list_ids("policy")?
        .iter()
        .map(|(id, _)| store::policy_path(id))
        .collect();
    let got = crate::remote::transfer::get_all(store, &names)?;
    for (name, bytes) in names.iter().zip(got) {
        let Some(id) = crate::remote::transfer::expected_id(name) else {
            continue;
        };
        let Some(bytes) = bytes else { continue };
        match Policy::open(&id, &bytes) {
            Ok(p) => {
                all.insert(id, p);
            }
            Err(e) if id == *dataset => return Err(e),
            Err(e) => refused.push((id, Refusal::of_error(&e))),
        }
    }
    Ok((all, refused))
}

/// The line of policies starting at `side`: each next one the only valid successor of the
/// one before, or the only side left standing by the fork rule where there are several
/// (spec §10.1c). Lines are memoised by their first policy, so nested forks cost one pass.
fn line(
    dataset: &Id,
    side: &Id,
    all: &BTreeMap<Id, Policy>,
    by_prev: &HashMap<Id, Vec<Id>>,
    memo: &mut HashMap<Id, Vec<Id>>,
) -> Vec<Id> {
    if let Some(l) = memo.get(side) {
        return l.clone();
    }
    let mut out = vec![*side];
    loop {
        let cur_id = out[out.len() - 1];
        let Some(cur) = all.get(&cur_id) else { break };
        let mut valid: Vec<Id> = by_prev
            .get(&cur_id)
            .into_iter()
            .flatten()
            .filter(|id| {
                all.get(*id).is_some_and(|p| {
                    p.repairs.is_none() && check_successor(dataset, &cur_id, cur, p).is_ok()
                })
            })
            .copied()
            .collect();
        valid.sort();
        let next = match valid.len() {
            0 => break,
            1 => valid[0],
            _ => {
                let lines: Vec<Vec<Id>> = valid
                    .iter()
                    .map(|v| line(dataset, v, all, by_prev, memo))
                    .collect();
                match judge(cur, &lines, all, |_, _| false).as_slice() {
                    [one] => valid[*one],
                    _ => break,
                }
            }
        };
        // Ids are hashes of bytes that name their predecessor, so a line cannot loop; the
        // bound only guards against a bug.
        if out.contains(&next) || out.len() > all.len() {
            break;
        }
        out.push(next);
    }
    memo.insert(*side, out.clone());
    out
}

/// Walk already-opened policies from the genesis `dataset` (rules G1-G2, P1-P8, forks).
pub fn walk(
    dataset: &Id,
    mut all: BTreeMap<Id, Policy>,
    mut refused: Vec<(Id, Refusal)>,
) -> Result<Chain> {
    let genesis = all.remove(dataset).ok_or(Error::Missing {
        kind: "policy",
        id: *dataset,
    })?;
    let corrupt = |reason: String| Error::Corrupt {
        kind: "policy",
        id: *dataset,
        reason,
    };
    if genesis.seq != 0 {
        return Err(corrupt(
            "the dataset id names a policy that is not a genesis policy".into(),
        ));
    }
    check_genesis(&genesis).map_err(|r| corrupt(r.to_string()))?;
    let mut by_prev: HashMap<Id, Vec<Id>> = HashMap::new();
    for (id, p) in &all {
        match p.previous {
            Some(prev) => by_prev.entry(prev).or_default().push(*id),
            None => refused.push((
                *id,
                Refusal::new(
                    Rule::GenesisOther,
                    "another genesis policy: a different dataset in the same store",
                ),
            )),
        }
    }
    // Epoch numbers the accepted chain has started: a policy may wrap only these and its
    // own (P8), never a number the chain skipped.
    let mut started: BTreeSet<u32> = BTreeSet::from([genesis.epoch]);
    let mut policies = vec![(*dataset, genesis)];
    let mut fork = Vec::new();
    let mut contested: Vec<Id> = Vec::new();
    let mut memo = HashMap::new();
    let mut open_early = Vec::new();
    loop {
        let (cur_id, cur) = &policies[policies.len() - 1];
        let mut sides = Vec::new();
        let mut candidates = by_prev.get(cur_id).cloned().unwrap_or_default();
        candidates.sort();
        for id in candidates {
            let Some(p) = all.get(&id) else { continue };
            match check_successor(dataset, cur_id, cur, p)
                .and_then(|()| check_wrapped_epochs(&started, p))
            {
                Ok(()) => sides.push((id, p.clone())),
                Err(r) => refused.push((id, r)),
            }
        }
        // Rule 1 weighs every candidate's line: each plain side's, and each repair's (the
        // repair and the policies accepted after it), so that nobody whom a repair or a later
        // policy withdrew can reopen the fork with a late side or repair (spec §10.1c).
        let lines: Vec<Vec<Id>> = if sides.len() > 1 {
            sides
                .iter()
                .map(|(id, _)| line(dataset, id, &all, &by_prev, &mut memo))
                .collect()
        } else {
            sides.iter().map(|(id, _)| vec![*id]).collect()
        };
        let is_repair = |i: &usize| sides[*i].1.repairs.is_some();
        // Whether there is a fork at all is a matter of the plain sides: more than one.
        // Then rule 1 weighs every candidate together, plain sides and repairs, so a late
        // side cannot undo a repair, nor a late repair a withdrawal (spec §10.1c).
        let plain_all: Vec<usize> = (0..sides.len()).filter(|i| !is_repair(i)).collect();
        let forked = plain_all.len() > 1;
        // The plain sides that stand among themselves: the fork, if no repair settles it.
        let standing: Vec<usize> = if forked {
            let plain_lines: Vec<Vec<Id>> = plain_all.iter().map(|i| lines[*i].clone()).collect();
            judge(cur, &plain_lines, &all, |_, _| false)
                .into_iter()
                .map(|k| plain_all[k])
                .collect()
        } else {
            plain_all.clone()
        };
        let keep: Vec<usize> = if !forked {
            for i in (0..sides.len()).filter(|i| is_repair(i)) {
                refused.push((
                    sides[i].0,
                    Refusal::new(
                        Rule::PolicyRepair,
                        format!(
                            "a repair policy, but no fork follows policy {} (seq {})",
                            cur_id.short(),
                            cur.seq
                        ),
                    ),
                ));
            }
            plain_all.clone()
        } else {
            let names = |j: usize, i: usize| {
                sides[j]
                    .1
                    .repairs
                    .as_ref()
                    .is_some_and(|named| named.iter().any(|n| lines[i].contains(n)))
            };
            let names_id = |j: usize, n: &Id| {
                sides[j]
                    .1
                    .repairs
                    .as_ref()
                    .is_some_and(|named| named.contains(n))
            };
            let whole = lines.clone();
            let lines = cut_late(cur, &lines, &all);
            let mut keep = judge(cur, &lines, &all, names);
            let plain_in: Vec<usize> = keep.iter().copied().filter(|i| !is_repair(i)).collect();
            if plain_in.len() == 1 {
                // One side stands: no fork after all, and nothing for a repair to repair
                // (whoever holds the sides set aside judges alike, without them).
                for &i in keep.iter().filter(|i| is_repair(i)) {
                    refused.push((
                        sides[i].0,
                        Refusal::new(
                            Rule::PolicyRepair,
                            format!(
                                "a repair policy, but only one side that follows policy {} (seq {}) stands",
                                cur_id.short(),
                                cur.seq
                            ),
                        ),
                    ));
                }
                keep = plain_in;
            } else {
                // What judged this fork: the lines of the candidates that stand, and any
                // policy a standing repair names. A candidate set aside has no say over the
                // others.
                // Every candidate repair's whole line, standing or not: a repair set aside
                // still cuts the lines it names (rule 1), so every reader must hold it.
                for i in (0..sides.len()).filter(|i| is_repair(i)) {
                    contested.extend(&whole[i]);
                }
                for &i in &keep {
                    // The whole line: a repair may name a policy past where it is cut.
                    contested.extend(&whole[i]);
                    // And, on a side's or a repair's line, whatever else follows its
                    // policies: a line ends where it forks again, and a reader holding only
                    // one of those successors would see the line go on, and name its repair
                    // differently.
                    contested.extend(descendants(&whole[i], &by_prev));
                    // Every policy it names, with its line up to there (on a side set
                    // aside too): a reader holding the named policy without what leads to
                    // it would not find it on a line of the fork.
                    for n in sides[i].1.repairs.iter().flatten() {
                        for l in &whole {
                            if let Some(pos) = l.iter().position(|x| x == n) {
                                contested.extend(&l[..=pos]);
                            }
                        }
                    }
                    // And the whole line of another repair it names, with what else
                    // follows its policies (a fork nested on it): its withdrawals and epochs
                    // count in judging this one, up to the policy it names there.
                    for (j, l) in whole.iter().enumerate() {
                        let first = l.first();
                        if j != i && is_repair(&j) && first.is_some_and(|f| names_id(i, f)) {
                            contested.extend(l);
                            contested.extend(descendants(l, &by_prev));
                        }
                    }
                }
            }
            keep
        };
        for (i, (id, _)) in sides.iter().enumerate() {
            if !keep.contains(&i) && (forked || !is_repair(&i)) {
                refused.push((
                    *id,
                    Refusal::new(
                        Rule::PolicyForkWithdrawnSigner,
                        format!(
                            "follows policy {} (seq {}) like another line of policies that withdraws or demotes its signer; ignored",
                            cur_id.short(),
                            cur.seq
                        ),
                    ),
                ));
            }
        }
        let to_lines = |idx: &[usize]| -> Vec<Vec<(Id, Policy)>> {
            idx.iter()
                .map(|i| {
                    lines[*i]
                        .iter()
                        .filter_map(|id| all.get(id).map(|p| (*id, p.clone())))
                        .collect()
                })
                .collect()
        };
        let plain: Vec<usize> = keep.iter().copied().filter(|i| !is_repair(i)).collect();
        let repairs: Vec<(Id, Policy)> = keep
            .iter()
            .filter(|i| is_repair(i))
            .map(|i| sides[*i].clone())
            .collect();
        let mut repaired = None;
        let mut single = None;
        if plain.len() <= 1 && repairs.is_empty() {
            single = plain.first().map(|i| sides[*i].clone());
        } else {
            let fork_lines = to_lines(&plain);
            let every_plain = to_lines(&plain_all);
            // Each standing repair's line: what was done after it (a withdrawal on top of a
            // repair that then lost) still applies to whatever repairs it.
            // Every candidate repair's, standing or not: a repair may name one set aside.
            let repair_lines: HashMap<Id, Vec<(Id, Policy)>> = (0..sides.len())
                .filter(|i| is_repair(i))
                .map(|i| (sides[i].0, to_lines(&[i]).remove(0)))
                .collect();
            // And everything that validly follows each candidate repair, on its line or not
            // (two policies made at once on top of it): what a repair naming it may name.
            let trees: HashMap<Id, RepairTree> = (0..sides.len())
                .filter(|i| is_repair(i))
                .map(|i| {
                    let t = RepairTree::grow(dataset, &sides[i], &all, &by_prev);
                    (sides[i].0, t)
                })
                .collect();
            let (found, others, bad, early) =
                judge_repairs(cur, &fork_lines, &every_plain, &repairs, &trees);
            // Once the fork is settled, a repair made early is history (below), like the
            // sides; until then it is refused as ill-formed.
            let settled = found.is_some();
            refused.extend(
                bad.into_iter()
                    .filter(|(i, _)| !settled || !early.contains(i)),
            );
            match found {
                Some((rid, rp)) => {
                    // Every policy of every side's line, and every other well-formed repair,
                    // stays in the store, not in force.
                    let ids = fork_lines.iter().flatten().map(|(i, _)| *i);
                    // What follows a side's policies off its line (a fork nested on it) was
                    // judged with the side, and is settled with it.
                    let nested = plain.iter().flat_map(|i| descendants(&lines[*i], &by_prev));
                    let ids = ids.chain(nested);
                    let what = |early: bool| {
                        let w = if early {
                            "a repair made before every line arrived, of"
                        } else {
                            "on a side of"
                        };
                        format!(
                            "{w} the fork after policy {} (seq {}), repaired by policy {}",
                            cur_id.short(),
                            cur.seq,
                            rid.short()
                        )
                    };
                    let ids = ids.chain(others.iter().flat_map(|(i, _)| {
                        let line = repair_lines.get(i).into_iter().flatten();
                        std::iter::once(*i).chain(line.map(|(l, _)| *l))
                    }));
                    // A repair made early with its line: what its signer did on top of it
                    // (a withdrawal, say) is history too.
                    // So is any other repair the settling one names, with its line.
                    let named_by =
                        rp.repairs.iter().flatten().filter(|n| {
                            trees.contains_key(*n) && !others.iter().any(|(o, _)| o == *n)
                        });
                    let early_lines: BTreeSet<Id> = early
                        .iter()
                        .chain(named_by)
                        .flat_map(|i| trees.get(i).into_iter().flat_map(RepairTree::ids))
                        .chain(early.iter().copied())
                        .collect();
                    for id in ids.chain(early_lines.iter().copied()) {
                        let why = what(early_lines.contains(&id));
                        refused.push((id, Refusal::new(Rule::PolicyForkRepaired, why)));
                    }
                    repaired = Some((rid, rp));
                }
                None if plain.len() == 1 && others.is_empty() => {
                    // No fork after all (the repairs here settle nothing): the one side.
                    single = Some(sides[plain[0]].clone());
                }
                None => {
                    // Repairs that settle nothing set no side aside: without one, the fork is
                    // the plain sides that stand among themselves.
                    let mut fork_lines = if plain.is_empty() {
                        to_lines(&standing)
                    } else {
                        fork_lines
                    };
                    let n = fork_lines.len() + others.len();
                    for (id, _) in fork_lines.iter().filter_map(|l| l.first()) {
                        refused.push((
                            *id,
                            Refusal::new(
                                Rule::PolicyFork,
                                format!(
                                    "one of {n} policies that follow policy {} (seq {}): none is in force until an owner or admin repairs the fork (`coffer share repair`)",
                                    cur_id.short(),
                                    cur.seq
                                ),
                            ),
                        ));
                    }
                    // Repairs made at the same moment: part of the fork, for every reader.
                    for (id, _) in &others {
                        refused.push((
                            *id,
                            Refusal::new(
                                Rule::PolicyFork,
                                "a repair made at the same moment as another one, which it does not name: an owner or admin repairs again (`coffer share repair`)",
                            ),
                        ));
                        fork_lines.push(repair_lines.get(id).cloned().unwrap_or_default());
                    }
                    fork = fork_lines;
                    open_early = early
                        .iter()
                        .filter_map(|i| trees.get(i))
                        .flat_map(RepairTree::leaf_paths)
                        .collect();
                    break;
                }
            }
        }
        match repaired.or(single) {
            Some((id, p)) => {
                all.remove(&id);
                started.insert(p.epoch);
                policies.push((id, p));
            }
            None => break,
        }
    }
    let accepted: HashSet<Id> = policies.iter().map(|(i, _)| *i).collect();
    contested.sort();
    contested.dedup();
    contested.retain(|id| !accepted.contains(id));
    let aside: Vec<(Id, Policy)> = contested
        .iter()
        .filter_map(|id| all.get(id).map(|p| (*id, p.clone())))
        .collect();
    for (id, p) in all {
        if p.previous.is_none() || accepted.contains(&id) {
            continue;
        }
        refused.push((
            id,
            Refusal::new(
                Rule::PolicyDetached,
                "is not part of the chain from the genesis policy (detached, replayed, or after a refused policy)",
            ),
        ));
    }
    refused.sort_by_key(|r| r.0);
    refused.dedup_by(|a, b| a.0 == b.0);
    Ok(Chain {
        dataset: *dataset,
        policies,
        refused,
        fork,
        contested,
        aside,
        early: open_early,
    })
}

/// Every policy that follows one of `line`'s, directly or not, off the line itself.
fn descendants(line: &[Id], by_prev: &HashMap<Id, Vec<Id>>) -> Vec<Id> {
    let mut seen: HashSet<Id> = line.iter().copied().collect();
    let mut todo: Vec<Id> = line.to_vec();
    let mut out = Vec::new();
    while let Some(id) = todo.pop() {
        for next in by_prev.get(&id).into_iter().flatten() {
            if seen.insert(*next) {
                out.push(*next);
                todo.push(*next);
            }
        }
    }
    out
}

/// Whether the holder of signing key `signer` (the identity `base` names with it: both keys,
/// spec §10.1) is still an owner or admin in `p`. A changed X25519 key is a withdrawal.
fn administers(base: &Policy, p: &Policy, signer: &[u8; 32]) -> bool {
    match base.member_by_sign_key(signer) {
        Some(me) => p
            .members
            .iter()
            .any(|m| m.same_identity(me) && m.can_administer()),
        None => p.can_administer(signer),
    }
}

/// Whether `p` withdraws or demotes the holder of `signer` (as `base` names it): leaves it
/// no owner or admin, or gives an owner of `base` a lower role (an owner made an admin is
/// demoted).
fn lowers(base: &Policy, p: &Policy, signer: &[u8; 32]) -> bool {
    !administers(base, p, signer)
        || base.member_by_sign_key(signer).is_some_and(|me| {
            p.members
                .iter()
                .find(|m| m.same_identity(me))
                .is_some_and(|m| power(m.role()) < power(me.role()))
        })
}

/// Whether some policy of `line` withdraws or demotes the holder of `signer` (as `base`
/// names it): rule 1 of spec §10.1c, for fork judgement and for `share repair` alike.
pub(crate) fn withdraws<'a>(
    base: &Policy,
    line: impl IntoIterator<Item = &'a Policy>,
    signer: &[u8; 32],
) -> bool {
    line.into_iter().any(|p| lowers(base, p, signer))
}

/// How much a role may do: owner 3, admin 2, writer 1, reader 0.
pub(crate) fn power(role: &str) -> usize {
    ROLES.len()
        - 1
        - ROLES
            .iter()
            .position(|r| *r == role)
            .unwrap_or(ROLES.len() - 1)
}

/// Whether `r` repairs the fork after `base` whose standing sides have these `lines` (spec
/// §10.1c): signed by an owner or admin whom no policy of any line withdraws or demotes;
/// keeping out everyone a line's last policy no longer lists; giving nobody a higher role
/// than the lowest a line lowered them to; and starting an epoch above every epoch of `base`
/// and the lines (how far above, [`judge_repairs`] bounds), so that epoch numbers stay
/// unique in the accepted chain.
pub(crate) fn check_repair(
    base: &Policy,
    r: &Policy,
    lines: &[Vec<(Id, Policy)>],
) -> std::result::Result<(), Refusal> {
    let no = |why: String| Err(Refusal::new(Rule::PolicyRepair, why));
    let mut top = base.epoch;
    for line in lines {
        for (id, p) in line {
            top = top.max(p.epoch);
            if !administers(base, p, &r.signer.0) {
                return no(format!(
                    "signed by someone whom policy {} (seq {}) of a side withdrew or demoted",
                    id.short(),
                    p.seq
                ));
            }
        }
        let Some((_, tip)) = line.last() else {
            continue;
        };
        for m in &base.members {
            // Either key of a withdrawn member counts: a new X25519 key does not re-admit a
            // signing key a side withdrew (nor the reverse).
            let kept = r
                .members
                .iter()
                .find(|n| n.sign_key() == m.sign_key() || n.kx_key() == m.kx_key());
            match (tip.members.iter().find(|n| n.same_identity(m)), kept) {
                (None, Some(_)) => {
                    return no(format!(
                        "keeps {}, whom a side of the fork withdrew",
                        m.label()
                    ))
                }
                (Some(n), Some(k))
                    if power(n.role()) < power(m.role()) && power(k.role()) > power(n.role()) =>
                {
                    return no(format!(
                        "makes {} {}, above the {} a side of the fork left them",
                        m.label(),
                        k.role(),
                        n.role()
                    ));
                }
                _ => {}
            }
        }
    }
    if r.epoch <= top {
        return no(format!(
            "starts epoch {}, not one above every epoch of the fork's sides ({top})",
            r.epoch
        ));
    }
    Ok(())
}

/// The repairs of the fork after `base`, judged (spec §10.1c). `lines` are the standing
/// sides' lines, `every` the lines of every plain side (standing or ignored), `repairs` the
/// standing repairs, `trees` what follows every candidate repair. A repair is well-formed
/// when [`what_it_repairs`] accepts it and it names a policy on each standing line; the one
/// well-formed repair that names every other well-formed one settles the fork. Returns it,
/// the other well-formed ones, the ill-formed ones refused, and which of those were made
/// early (sound, naming at least two standing lines but not all).
#[allow(clippy::type_complexity)]
fn judge_repairs(
    base: &Policy,
    lines: &[Vec<(Id, Policy)>],
    every: &[Vec<(Id, Policy)>],
    repairs: &[(Id, Policy)],
    trees: &HashMap<Id, RepairTree>,
) -> (
    Option<(Id, Policy)>,
    Vec<(Id, Policy)>,
    Vec<(Id, Refusal)>,
    BTreeSet<Id>,
) {
    let plain_ids: BTreeSet<Id> = every.iter().flatten().map(|(i, _)| *i).collect();
    let mut early = BTreeSet::new();
    // Any repair of this fork may be named (readers hold what a standing repair names):
    // naming one that is not well-formed (made early, say) only makes its line one more
    // that this repair repairs.
    let mut allowed = plain_ids;
    allowed.extend(trees.values().flat_map(RepairTree::ids));
    let named = |p: &Policy| -> BTreeSet<Id> { p.repairs.iter().flatten().copied().collect() };
    let mut bad = Vec::new();
    let mut well = Vec::new();
    for (id, r) in repairs {
        let n = named(r);
        match what_it_repairs(base, id, r, &n, lines, trees, &allowed) {
            Ok((prefixes, on)) if on == lines.len() => well.push((*id, r.clone(), prefixes)),
            Ok((_, on)) => {
                // Sound against what it names, but it names too few lines: made early if
                // at least two (pushed at the moment another side arrived).
                if on >= 2 {
                    early.insert(*id);
                }
                bad.push((
                    *id,
                    Refusal::new(
                        Rule::PolicyRepair,
                        format!(
                            "names a policy on {on} of the {} lines of the fork after policy seq {}, not on each",
                            lines.len(),
                            base.seq
                        ),
                    ),
                ));
            }
            Err(why) => bad.push((*id, why)),
        }
    }
    let ids: BTreeSet<Id> = well.iter().map(|(i, _, _)| *i).collect();
    let found = well.iter().position(|(id, r, _)| {
        let want: BTreeSet<Id> = ids.iter().filter(|i| *i != id).copied().collect();
        named(r)
            .intersection(&ids)
            .filter(|i| *i != id)
            .copied()
            .collect::<BTreeSet<Id>>()
            == want
    });
    let found = found.map(|i| well.remove(i));
    let others: Vec<(Id, Policy)> = well.into_iter().map(|(i, p, _)| (i, p)).collect();
    (found.map(|(id, r, _)| (id, r)), others, bad, early)
}

/// A candidate repair and every policy that follows it, directly or not, each a valid
/// successor (P1-P8) of the one before: what a repair naming it may name. Each policy is
/// kept with its parent, so a path is rebuilt on demand and the tree costs one entry a
/// policy, however deep.
pub(crate) struct RepairTree {
    root: (Id, Policy),
    /// Every policy after the repair: its body and the policy it follows.
    nodes: HashMap<Id, (Policy, Id)>,
}

impl RepairTree {
    fn grow(
        dataset: &Id,
        root: &(Id, Policy),
        all: &BTreeMap<Id, Policy>,
        by_prev: &HashMap<Id, Vec<Id>>,
    ) -> RepairTree {
        let mut nodes: HashMap<Id, (Policy, Id)> = HashMap::new();
        let mut todo = vec![root.0];
        while let Some(id) = todo.pop() {
            let Some(p) = all.get(&id).or((id == root.0).then_some(&root.1)) else {
                continue;
            };
            for c in by_prev.get(&id).into_iter().flatten() {
                let Some(q) = all.get(c) else { continue };
                if *c == root.0 || nodes.contains_key(c) {
                    continue;
                }
                if check_successor(dataset, &id, p, q).is_ok() {
                    nodes.insert(*c, (q.clone(), id));
                    todo.push(*c);
                }
            }
        }
        RepairTree {
            root: root.clone(),
            nodes,
        }
    }

    /// Every policy of the tree, the repair first.
    fn ids(&self) -> impl Iterator<Item = Id> + '_ {
        std::iter::once(self.root.0).chain(self.nodes.keys().copied())
    }

    /// The policies from the repair to `to`, if `to` is in the tree.
    fn path(&self, to: &Id) -> Option<Vec<(Id, Policy)>> {
        let mut out = Vec::new();
        let mut cur = *to;
        while cur != self.root.0 {
            let (p, prev) = self.nodes.get(&cur)?;
            out.push((cur, p.clone()));
            cur = *prev;
        }
        out.push(self.root.clone());
        out.reverse();
        Some(out)
    }

    /// The path from the repair to every policy nothing in the tree follows.
    fn leaf_paths(&self) -> Vec<Vec<(Id, Policy)>> {
        let inner: HashSet<Id> = self.nodes.values().map(|(_, prev)| *prev).collect();
        self.ids()
            .filter(|i| !inner.contains(i))
            .filter_map(|i| self.path(&i))
            .collect()
    }
}

/// What repair `id` (`r`, naming `n`) repairs (spec §10.1c): each standing plain line it
/// names a policy on, up to that policy, then the line of each other repair it names, up to
/// the last policy it names there (the last its signer saw: what is appended later changes
/// nothing); and on how many of the standing `lines` it names a policy. Refused where it
/// names two policies on one line or anything but policies of this fork, names a repair
/// whose epoch is above any a repair naming it could need (so naming cannot use up the
/// epoch numbers), does not start exactly one above every epoch of what it names, or fails
/// [`check_repair`] against it. Everything here is fixed by what `r` names.
#[allow(clippy::type_complexity)]
fn what_it_repairs(
    base: &Policy,
    id: &Id,
    r: &Policy,
    n: &BTreeSet<Id>,
    lines: &[Vec<(Id, Policy)>],
    trees: &HashMap<Id, RepairTree>,
    allowed: &BTreeSet<Id>,
) -> std::result::Result<(Vec<Vec<(Id, Policy)>>, usize), Refusal> {
    let no = |why: String| Err(Refusal::new(Rule::PolicyRepair, why));
    let mut prefixes = Vec::new();
    for l in lines {
        match named_on(l, n).as_slice() {
            [] => {}
            [pos] => prefixes.push(l[..=*pos].to_vec()),
            _ => return no("names two policies on one line of the fork".into()),
        }
    }
    let on = prefixes.len();
    if !n.is_subset(allowed) {
        return no(format!(
            "names a policy that is not part of the fork after policy seq {}",
            base.seq
        ));
    }
    let epochs = |ps: &[Vec<(Id, Policy)>]| {
        ps.iter()
            .flatten()
            .map(|(_, p)| p.epoch)
            .fold(base.epoch, u32::max)
    };
    let others: Vec<(&Id, &RepairTree)> = n
        .iter()
        .filter(|o| *o != id)
        .filter_map(|o| Some((o, trees.get(o)?)))
        .collect();
    let limit = u64::from(epochs(&prefixes)) + 1 + others.len() as u64;
    for (other, tree) in others {
        if u64::from(tree.root.1.epoch) > limit {
            return no(format!(
                "names repair {}, which starts an epoch above any a repair of this fork needs (at most {limit})",
                other.short()
            ));
        }
        // The path from that repair to each policy it names after it (the last its signer
        // saw on each branch: what is appended later changes nothing), or the repair alone.
        let paths: Vec<Vec<(Id, Policy)>> = n
            .iter()
            .filter(|x| *x != other)
            .filter_map(|x| tree.path(x))
            .collect();
        if paths.is_empty() {
            prefixes.push(vec![tree.root.clone()]);
        }
        prefixes.extend(paths);
    }
    let top = epochs(&prefixes);
    if top.checked_add(1) != Some(r.epoch) {
        return no(format!(
            "starts epoch {}, not {} (one above every epoch of what it names)",
            r.epoch,
            top.saturating_add(1)
        ));
    }
    check_repair(base, r, &prefixes)?;
    Ok((prefixes, on))
}

/// Where on `line` a repair naming `named` names a policy.
fn named_on(line: &[(Id, Policy)], named: &BTreeSet<Id>) -> Vec<usize> {
    (0..line.len())
        .filter(|i| named.contains(&line[*i].0))
        .collect()
}

/// How much `key` could do in `base` if it was an owner or admin there (owner 3, admin 2);
/// None otherwise: authority gained on a side counts for nothing in rule 1.
fn base_power(base: &Policy, key: &[u8; 32]) -> Option<usize> {
    administers(base, base, key)
        .then(|| base.member_by_sign_key(key).map_or(0, |m| power(m.role())))
}

/// The weight of `q`'s signer in rule 1 of spec §10.1c. Policy `q` of one line *weighs on*
/// the policies of another when its signer was an owner or admin in `base`, at least as high
/// as every signer of theirs that was (an admin's line cannot set aside what an owner
/// signed), and `q` withdraws or demotes one of those. A signer the policy before the fork
/// does not name weighs with the role the policy before its own gives it (a co-owner added
/// on this line can withdraw the owner who added it); it is never weighed on, and never
/// counts as withdrawn by another line.
fn weight(base: &Policy, q: &Policy, all: &BTreeMap<Id, Policy>) -> Option<usize> {
    base_power(base, &q.signer.0).or_else(|| {
        let prev = all.get(&q.previous?)?;
        let m = prev.member_by_sign_key(&q.signer.0)?;
        m.can_administer().then(|| power(m.role()))
    })
}

/// Whether `line` (a candidate's line) sets aside candidate line `target` by rule 1 of spec
/// §10.1c: some policy `q` of `line` weighs on the signers of `target` ([`weight`]), and
/// `target` does not withdraw or demote `q`'s signer by a policy whose signer `line` leaves
/// standing. So a withdrawal confirmed on its line by someone the forker did not (or could
/// not) withdraw counts, while two admins who withdraw each other at once set neither aside.
/// The work is done once per distinct signer, not per policy, so crafted long lines cost
/// every reader time linear in their length.
fn sets_aside(
    base: &Policy,
    line: &[&Policy],
    target: &[&Policy],
    all: &BTreeMap<Id, Policy>,
) -> bool {
    // What weighing on `target` needs of it: its signers that `base` names as owner or admin,
    // once each, and the highest of their weights.
    let mut top = None;
    let mut signers: Vec<&[u8; 32]> = Vec::new();
    for t in target {
        if let Some(p) = base_power(base, &t.signer.0) {
            top = top.max(Some(p));
            if !signers.contains(&&t.signer.0) {
                signers.push(&t.signer.0);
            }
        }
    }
    // Whether `line` withdraws or demotes each of them (one pass each, remembered).
    let mut line_lowers: HashMap<[u8; 32], bool> = HashMap::new();
    // Whether `target` withdraws `key` by a policy whose signer `line` leaves standing.
    let mut withdrawn: HashMap<[u8; 32], bool> = HashMap::new();
    for q in line {
        let Some(mine) = weight(base, q, all) else {
            continue;
        };
        if top.is_none_or(|t| t > mine) || !signers.iter().any(|s| lowers(base, q, s)) {
            continue;
        }
        if base_power(base, &q.signer.0).is_none() {
            return true;
        }
        let key = q.signer.0;
        let by_target = match withdrawn.get(&key) {
            Some(w) => *w,
            None => {
                let mut w = false;
                for p in target {
                    if !lowers(base, p, &key) || base_power(base, &p.signer.0).is_none() {
                        continue;
                    }
                    let lowered = *line_lowers
                        .entry(p.signer.0)
                        .or_insert_with(|| withdraws(base, line.iter().copied(), &p.signer.0));
                    if !lowered {
                        w = true;
                        break;
                    }
                }
                withdrawn.insert(key, w);
                w
            }
        };
        if !by_target {
            return true;
        }
    }
    false
}

/// The candidates' lines as rule 1 judges them (spec §10.1c): where a repair names a policy
/// `n` of a line, that line ends before the first later policy that the repair's line weighs
/// on, together with all after it ([`weight`]), unless the whole line withdraws or demotes
/// that policy's signer (whoever signed that: then the lines are weighed whole, and two that
/// withdraw each other are a fork). Appended after the repair's
/// signer saw the line, by someone the repair left out, it cannot turn what the repair
/// repairs against it.
fn cut_late(base: &Policy, lines: &[Vec<Id>], all: &BTreeMap<Id, Policy>) -> Vec<Vec<Id>> {
    let get = |ids: &[Id]| -> Vec<&Policy> { ids.iter().filter_map(|id| all.get(id)).collect() };
    let mut out = lines.to_vec();
    for (j, lj) in lines.iter().enumerate() {
        let Some(named) = lj
            .first()
            .and_then(|id| all.get(id))
            .and_then(|p| p.repairs.as_ref())
        else {
            continue;
        };
        let repair_line = get(lj);
        for (i, li) in lines.iter().enumerate() {
            let Some(k) = (i != j)
                .then(|| li.iter().position(|id| named.contains(id)))
                .flatten()
            else {
                continue;
            };
            let whole = get(li);
            let present: Vec<&Policy> = li.iter().map_while(|id| all.get(id)).collect();
            // Weighing on each tail `li[m..]`, all at once, so the work is linear in the line
            // (a crafted set of long lines must not make every reader's walk cubic): the
            // highest weight among the tail's signers, and where each signer last signs.
            let mut top: Vec<Option<usize>> = vec![None; present.len() + 1];
            let mut last: HashMap<[u8; 32], usize> = HashMap::new();
            for (m, p) in present.iter().enumerate().rev() {
                top[m] = top[m + 1].max(base_power(base, &p.signer.0));
                last.entry(p.signer.0).or_insert(m);
            }
            // Each policy of the repair's line that can cut: its weight, and where the
            // signers it withdraws or demotes last sign on this line.
            let cutters: Vec<(usize, &Policy, Vec<usize>)> = repair_line
                .iter()
                .filter_map(|q| {
                    let mine = weight(base, q, all)?;
                    if withdraws(base, whole.iter().copied(), &q.signer.0) {
                        return None;
                    }
                    let lowered = last
                        .iter()
                        .filter(|(s, _)| base_power(base, s).is_some() && lowers(base, q, s))
                        .map(|(_, m)| *m)
                        .collect();
                    Some((mine, *q, lowered))
                })
                .collect();
            for m in k + 1..present.len() {
                let late = present[m];
                let cut = cutters.iter().any(|(mine, q, lowered)| {
                    top[m].is_none_or(|t| t <= *mine)
                        && lowered.iter().any(|at| *at >= m)
                        && lowers(base, q, &late.signer.0)
                });
                if cut {
                    out[i].truncate(m);
                    break;
                }
            }
        }
    }
    out
}

/// Rule 1 of spec §10.1c: which candidates after `base` stand (indexes into `lines`, each
/// candidate's line of policy ids). `names(j, i)`: candidate `j` is a repair that names a
/// policy of line `i` (what a repair repairs, it never sets aside). A candidate stands when
/// every candidate that sets it aside is itself set aside, and is set aside when one that
/// stands sets it aside, computed to a fixed point from the candidates nothing sets aside
/// (a grounded judgement: unique, whatever the order). Candidates left undecided (a cycle:
/// A withdraws B, B withdraws C, C withdraws A) all stand, and the fork stays until a repair.
/// Nothing the forker controls (ids, times, lengths of lines) decides.
fn judge(
    base: &Policy,
    lines: &[Vec<Id>],
    all: &BTreeMap<Id, Policy>,
    names: impl Fn(usize, usize) -> bool,
) -> Vec<usize> {
    let policies: Vec<Vec<&Policy>> = lines
        .iter()
        .map(|l| l.iter().filter_map(|id| all.get(id)).collect())
        .collect();
    let n = lines.len();
    let attackers: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| {
                    j != i && !names(j, i) && sets_aside(base, &policies[j], &policies[i], all)
                })
                .collect()
        })
        .collect();
    // None: undecided; Some(true): stands; Some(false): set aside.
    let mut state: Vec<Option<bool>> = vec![None; n];
    loop {
        let mut changed = false;
        for i in 0..n {
            if state[i].is_some() {
                continue;
            }
            if attackers[i].iter().all(|&j| state[j] == Some(false)) {
                state[i] = Some(true);
                changed = true;
            } else if attackers[i].iter().any(|&j| state[j] == Some(true)) {
                state[i] = Some(false);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (0..n).filter(|&i| state[i] != Some(false)).collect()
}

impl Chain {
    /// The policy in force (the last accepted).
    pub fn tip(&self) -> &(Id, Policy) {
        // `walk` never returns an empty chain.
        &self.policies[self.policies.len() - 1]
    }

    /// An accepted policy by id, with its position in the chain.
    pub fn get(&self, id: &Id) -> Option<(usize, &Policy)> {
        self.policies
            .iter()
            .position(|(i, _)| i == id)
            .map(|n| (n, &self.policies[n].1))
    }

    /// The member with this signing key in the newest policy that lists it (so people who
    /// were withdrawn keep their label in history).
    pub fn member_by_sign_key(&self, key: &[u8; 32]) -> Option<&Member> {
        self.policies
            .iter()
            .rev()
            .find_map(|(_, p)| p.member_by_sign_key(key))
    }

    /// The member with this X25519 key in the newest policy that lists it.
    pub fn member_by_kx_key(&self, key: &[u8; 32]) -> Option<&Member> {
        self.policies
            .iter()
            .rev()
            .find_map(|(_, p)| p.member_by_kx_key(key))
    }

    /// The dataset as people name it: its name and a short id.
    pub fn title(&self) -> String {
        format!("{} ({})", self.tip().1.name, self.dataset.short())
    }

    /// Who the holder of signing key `key` is to this dataset, in words for messages:
    /// "you are Hackney (reader)", "you were Hackney (reader) until Camden withdrew your
    /// access on DATE", or "you (identity key 2e2bae69) are not a member".
    pub fn you(&self, key: &[u8; 32]) -> String {
        if let Some(m) = self.tip().1.member_by_sign_key(key) {
            return format!("you are {} ({})", m.label(), m.role());
        }
        let last = self
            .policies
            .iter()
            .rposition(|(_, p)| p.member_by_sign_key(key).is_some());
        match last.and_then(|n| Some((&self.policies[n].1, &self.policies.get(n + 1)?.1))) {
            Some((was, by)) => {
                let m = was
                    .member_by_sign_key(key)
                    .map_or(("?", "?"), |m| (m.label(), m.role()));
                format!(
                    "you were {} ({}) until {} withdrew your access on {} (policy seq {})",
                    m.0,
                    m.1,
                    self.label_of_sign_key(&by.signer.0),
                    crate::history::format_time(by.time),
                    by.seq
                )
            }
            None => format!(
                "you (identity key {}) are not a member",
                hex::encode(&key[..4])
            ),
        }
    }

    /// The owners and admins in force, named with their roles: whom to ask for access.
    pub fn who_to_ask(&self) -> String {
        let names: Vec<String> = self
            .tip()
            .1
            .members
            .iter()
            .filter(|m| m.can_administer())
            .map(|m| format!("{} ({})", m.label(), m.role()))
            .collect();
        match names.len() {
            0 => "an owner".into(),
            1..=3 => names.join(" or "),
            n => format!("{} or one of {} others", names[..3].join(", "), n - 3),
        }
    }

    /// A label for a signing key: the member's, else a key prefix.
    pub fn label_of_sign_key(&self, key: &[u8; 32]) -> String {
        self.member_by_sign_key(key)
            .map(|m| m.label().to_string())
            .unwrap_or_else(|| format!("key {}", hex::encode(&key[..4])))
    }

    /// Epochs wrapped to X25519 key `kx` in the accepted policies `0..=upto`.
    pub fn held(&self, kx: &[u8; 32], upto: usize) -> BTreeSet<u32> {
        self.policies
            .iter()
            .take(upto.saturating_add(1))
            .flat_map(|(_, p)| p.wraps.iter())
            .filter(|w| &w.0 .0 == kx)
            .map(|w| w.1)
            .collect()
    }

    /// Epochs that every member of the policy at `pos` holds (judged by the chain up to and
    /// including it): the only epochs a version made under it may use (rule V10).
    pub fn shared_epochs(&self, pos: usize) -> BTreeSet<u32> {
        let Some((_, p)) = self.policies.get(pos) else {
            return BTreeSet::new();
        };
        let mut out: Option<BTreeSet<u32>> = None;
        for m in &p.members {
            let h = self.held(m.kx_key(), pos);
            out = Some(match out {
                None => h,
                Some(o) => o.intersection(&h).copied().collect(),
            });
        }
        out.unwrap_or_default()
    }

    /// Every policy that withdraws someone's read or write access, fork sides included
    /// (spec §10.1c: their withdrawals apply at once).
    pub fn withdrawals(&self) -> Vec<Withdrawal<'_>> {
        let mut out = Vec::new();
        let steps = self
            .policies
            .windows(2)
            .enumerate()
            .map(|(i, w)| (i + 1, &w[0].1, &w[1]))
            .chain(self.fork.iter().chain(&self.early).flat_map(|line| {
                let before = std::iter::once(&self.tip().1).chain(line.iter().map(|(_, p)| p));
                before
                    .zip(line.iter())
                    .map(|(prev, next)| (self.policies.len(), prev, next))
            }));
        for (pos, prev, (id, next)) in steps {
            let readers = removed(prev, next);
            let writers = lost_write(prev, next);
            if readers.is_empty() && writers.is_empty() {
                continue;
            }
            let forbidden = readers
                .iter()
                .flat_map(|m| self.held(m.kx_key(), pos - 1))
                .collect();
            out.push(Withdrawal {
                pos,
                id: *id,
                policy: next,
                readers,
                writers,
                forbidden,
            });
        }
        out
    }

    /// Every epoch secret `identity` was ever given in the accepted chain (a withdrawn
    /// member keeps the epochs it had, and gets none started by its withdrawal).
    pub fn secrets_for(&self, identity: &Identity) -> BTreeMap<u32, EpochSecret> {
        let kx = identity.public().kx;
        let mut out = BTreeMap::new();
        for (_, p) in &self.policies {
            for (e, s) in p.unwrap_for(&kx, identity.kx_secret()) {
                out.entry(e).or_insert(s);
            }
        }
        out
    }

    /// `identity`'s own policies among those that judged a fork (a repair that lost, or was
    /// made early, and what it signed on that repair's line), each with the epoch secrets it
    /// wrapped to `identity`: the one place that takes keys from policies not in force.
    fn own_aside<'a>(
        &'a self,
        identity: &'a Identity,
    ) -> impl Iterator<Item = (&'a Id, u32, EpochSecret)> + 'a {
        let me = identity.public();
        self.aside
            .iter()
            .filter(move |(_, p)| p.signer.0 == me.sign)
            .flat_map(move |(id, p)| {
                let wrapped = p.unwrap_for(&me.kx, identity.kx_secret());
                wrapped.into_iter().map(move |(e, s)| (id, e, s))
            })
    }

    /// The epoch secrets of [`Chain::own_aside`], for epoch numbers below the one in force
    /// that no accepted policy uses: what its folder may have sealed its own versions under
    /// before the fork was settled otherwise, so that `pull` can open them and make them
    /// again under the policy in force (spec §11.7). Epochs in the chain only go up, so no
    /// accepted policy will ever use such a number, and the key can never be confused with
    /// one in force. No version under such an epoch is ever history (rule V10): these keys
    /// only read.
    pub fn own_aside_secrets(&self, identity: &Identity) -> BTreeMap<u32, EpochSecret> {
        let used: BTreeSet<u32> = self.policies.iter().map(|(_, p)| p.epoch).collect();
        let now = self.tip().1.epoch;
        let mut out = BTreeMap::new();
        for (_, e, s) in self.own_aside(identity) {
            if e < now && !used.contains(&e) {
                out.entry(e).or_insert(s);
            }
        }
        out
    }

    /// The secret for `epoch` that `identity`'s own policy `policy`, one of
    /// [`Chain::own_aside`], wrapped to it, whether or not the chain in force uses that
    /// number (to explain why a version made under it does not open; never to read).
    pub fn own_aside_secret(
        &self,
        identity: &Identity,
        policy: &Id,
        epoch: u32,
    ) -> Option<EpochSecret> {
        self.own_aside(identity)
            .find(|(id, e, _)| *id == policy && *e == epoch)
            .map(|(_, _, s)| s)
    }

    /// The lines of the repairs made early of the fork after the policy in force (spec
    /// §10.1c): for each, the path from the repair to each policy at the end of a branch
    /// that follows it (one path where nothing was made at once on top of it). A repair of the fork names them,
    /// starts above their epochs and keeps their withdrawals, and their withdrawals apply
    /// while the fork stands, as the sides' do.
    pub fn early_repair_lines(&self) -> &[Vec<(Id, Policy)>] {
        &self.early
    }

    /// Whether `sign_key` may sign a new version now: a writer of the policy in force, and
    /// no unrepaired fork.
    pub fn may_write(&self, sign_key: &[u8; 32]) -> std::result::Result<&Member, Refusal> {
        if let Some((id, _)) = self.fork.first().and_then(|l| l.first()) {
            return Err(Refusal::new(
                Rule::PolicyFork,
                format!(
                    "two access changes were made at once after policy seq {} (one is {}; `coffer access` lists them): nobody can commit until an owner or admin runs `coffer share repair` and pushes it",
                    self.tip().1.seq,
                    id.short()
                ),
            ));
        }
        let tip = &self.tip().1;
        match tip.member_by_sign_key(sign_key) {
            Some(m) if m.can_write() => Ok(m),
            Some(m) => Err(Refusal::new(
                Rule::VersionAuthor,
                format!(
                    "you are {} ({}); only owners, admins and writers commit",
                    m.label(),
                    m.role()
                ),
            )),
            None => Err(Refusal::new(
                Rule::VersionAuthor,
                "you are not a member of this dataset",
            )),
        }
    }

    /// The first `n` accepted policies (at least the genesis) as a chain of their own: what
    /// a remote holding only those shows.
    pub fn prefix(&self, n: usize) -> Chain {
        Chain {
            dataset: self.dataset,
            policies: self.policies[..n.clamp(1, self.policies.len())].to_vec(),
            refused: Vec::new(),
            fork: Vec::new(),
            contested: Vec::new(),
            aside: Vec::new(),
            early: Vec::new(),
        }
    }

    /// Whether `id` is an accepted policy, a policy of an unrepaired fork's lines, or one
    /// that judged a fork ([`Chain::fork_related`]: the lines of repaired forks among them).
    pub fn knows(&self, id: &Id) -> bool {
        self.get(id).is_some()
            || self.fork.iter().flatten().any(|(i, _)| i == id)
            || self.contested.contains(id)
    }

    /// The policies a reader must hold to judge forks and repairs as this chain does: where
    /// the plain sides forked, the line of every candidate that stands (sides, repairs that
    /// settle or lose, ill-formed repairs: each may set another aside) and every policy a
    /// standing repair names, spec §10.1c. A candidate set aside has no say over the others,
    /// so a reader without it judges alike.
    pub fn fork_related(&self) -> impl Iterator<Item = &Id> {
        self.contested.iter()
    }

    /// The policies on the lines of repaired forks: not in force, but every reader holds them
    /// so that it judges the repair alike (spec §10.1c).
    pub fn repaired_sides(&self) -> impl Iterator<Item = &Id> {
        self.refused
            .iter()
            .filter(|(_, r)| r.rule == Rule::PolicyForkRepaired)
            .map(|(i, _)| i)
    }

    /// Ids of the accepted policies.
    pub fn ids(&self) -> HashSet<Id> {
        self.policies.iter().map(|(i, _)| *i).collect()
    }
}
