//! Changing who may read and write: each change is a new policy in the chain, signed by an
//! owner or admin of the policy in force and checked by the same rules every reader applies
//! ([`crate::rules::chain::check_successor`]). Withdrawal starts a new epoch whose key only
//! the remaining members receive; every new policy records the head versions its signer
//! knew, which is the history a withdrawal acknowledges (spec/format.md §10.1a).

use crate::crypto::keys::EpochSecret;
use crate::crypto::wrap;
use crate::error::{Error, Result};
use crate::id::{Bytes32, Id};
use crate::identity::{Identity, PublicIdentity};
use crate::object::policy::{is_valid_label, Member, Policy, Wrap, MAX_LABEL, ROLES};
use crate::repo::reseal::{self, Resealed};
use crate::repo::Dataset;
use crate::rules::chain::check_successor;
use crate::store;

/// A change to the members of a dataset.
pub enum Change {
    /// Add a member.
    Add {
        /// Their public identity.
        public: PublicIdentity,
        /// The label others will see.
        label: String,
        /// `reader`, `writer`, `admin` or `owner`.
        role: String,
        /// Give only a new epoch, not the earlier ones: they read versions from now on.
        from_now: bool,
    },
    /// Withdraw a member: a new epoch starts, whose key they do not get.
    Remove {
        /// Their label.
        label: String,
    },
    /// Give a member another role (a demotion from writer takes away write access; the
    /// member keeps reading).
    Role {
        /// Their label.
        label: String,
        /// The new role.
        role: String,
    },
    /// Repair a fork (two access changes made at once): one policy that applies the changes
    /// of every side, withdrawals and demotions winning, under a new epoch (spec §10.1c).
    Repair,
    /// Set the audit settings (spec §10.1b): how long a checkpoint stays fresh, the
    /// witnesses and their quorum, whether staleness is an error; `None` removes them.
    /// Owners only.
    Audit(Option<crate::object::policy::Audit>),
}

/// What a change did.
#[derive(Debug, serde::Serialize)]
pub struct ChangeOutcome {
    /// The new policy.
    pub policy: Id,
    /// Its sequence number.
    pub seq: u64,
    /// The epoch in force after it.
    pub epoch: u32,
    /// The version that sealed the newest version's content again under the new epoch, so
    /// a member added `--from-now` can read it at once.
    pub reseal: Option<Id>,
    /// What that reseal cost.
    pub resealed: Resealed,
}

fn wrap_for(m: &Member, epoch: u32, s: &EpochSecret) -> Result<Wrap> {
    let (enc, ct) = wrap::wrap(m.kx_key(), epoch, s, &mut rand_core::OsRng).ok_or_else(|| {
        Error::BadPublicIdentity(format!("{}: not a usable X25519 key", m.label()))
    })?;
    Ok(Wrap(Bytes32(*m.kx_key()), epoch, Bytes32(enc), ct))
}

fn next_epoch(e: u32) -> Result<u32> {
    e.checked_add(1)
        .ok_or_else(|| Error::Limit("epoch numbers exhausted".into()))
}

/// A new data key; the dedup key stays, so unchanged content is not stored twice.
fn fresh_secret(current: &EpochSecret) -> EpochSecret {
    let mut fresh = EpochSecret::generate();
    fresh.dedup_key = current.dedup_key;
    fresh
}

fn check_role(role: &str) -> Result<()> {
    if ROLES.contains(&role) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "unknown role {role:?} (reader, writer, admin or owner)"
        )))
    }
}

/// Apply a change as a new policy; after adding someone `--from-now`, seal the newest
/// version's content again under the new epoch (a reseal version) so they can read it.
pub fn apply(
    ds: &Dataset,
    identity: &Identity,
    change: &Change,
    progress: bool,
) -> Result<ChangeOutcome> {
    let _lock = ds.lock()?;
    let hist = ds.history()?;
    let chain = &hist.chain;
    match (chain.fork.first().and_then(|l| l.first()), change) {
        (None, Change::Repair) => {
            return Err(Error::Usage(format!(
                "there is no fork to repair: policy seq {} is in force (see `coffer access`)",
                chain.tip().1.seq
            )))
        }
        (Some(_), Change::Repair) => return repair(ds, identity, &hist),
        (Some((id, _)), _) => {
            return Err(Error::Usage(format!(
                "the access policy forked after seq {} (one side is {}): no change can be made until an owner or admin runs `coffer share repair`",
                chain.tip().1.seq,
                id.short()
            )))
        }
        (None, _) => {}
    }
    let (tip_id, tip) = chain.tip();
    let me = identity.public();
    let my_label = tip
        .member_by_sign_key(&me.sign)
        .map(|m| m.label().to_string());
    if !tip.can_administer(&me.sign) {
        return Err(crate::rules::not_allowed(
            chain,
            &me.sign,
            crate::rules::Needs::Administer,
        ));
    }
    let mine = chain.secrets_for(identity);
    let current = mine.get(&tip.epoch).ok_or_else(|| Error::NoEpochKey {
        who: my_label.clone().unwrap_or_default(),
        epoch: tip.epoch,
        dataset: ds.id,
    })?;
    let usage = |msg: String| Err(Error::Usage(msg));
    let mut members = tip.members.clone();
    let mut epoch = tip.epoch;
    let mut secret = current.clone();
    let mut extra: Vec<Wrap> = Vec::new();
    let mut reseal_for_newcomer = false;
    match change {
        Change::Add {
            public,
            label,
            role,
            from_now,
        } => {
            check_role(role)?;
            if !is_valid_label(label) {
                return usage(format!(
                    "a label must be 1 to {MAX_LABEL} bytes without control characters"
                ));
            }
            if let Some(m) = tip.member(label) {
                return usage(format!(
                    "a member labelled {label:?} already exists (role {})",
                    m.role()
                ));
            }
            if let Some(m) = tip
                .members
                .iter()
                .find(|m| m.sign_key() == &public.sign || m.kx_key() == &public.kx)
            {
                return usage(format!(
                    "that identity is already a member, labelled {:?}",
                    m.label()
                ));
            }
            let m = Member(
                label.clone(),
                role.clone(),
                Bytes32(public.sign),
                Bytes32(public.kx),
            );
            if *from_now {
                // A new epoch that the newcomer shares from now on, and none before it.
                epoch = next_epoch(tip.epoch)?;
                secret = fresh_secret(current);
                reseal_for_newcomer = true;
            } else {
                for (e, s) in mine.range(..tip.epoch) {
                    extra.push(wrap_for(&m, *e, s)?);
                }
            }
            members.push(m);
        }
        Change::Remove { label } => {
            let Some(m) = tip.member(label) else {
                let gone = chain
                    .policies
                    .iter()
                    .rposition(|(_, p)| p.member(label).is_some())
                    .and_then(|n| chain.policies.get(n + 1));
                return match gone {
                    Some((_, by)) => usage(format!(
                        "{label:?} is already withdrawn: {} withdrew their access on {} (policy seq {}; see `coffer share list`)",
                        chain.label_of_sign_key(&by.signer.0),
                        crate::history::format_time(by.time),
                        by.seq
                    )),
                    None => usage(format!(
                        "no member is labelled {label:?} (see `coffer share list`)"
                    )),
                };
            };
            if m.sign_key() == &me.sign {
                return usage("you cannot remove yourself; ask another owner or admin".into());
            }
            members.retain(|x| x.label() != label);
            epoch = next_epoch(tip.epoch)?;
            secret = fresh_secret(current);
        }
        Change::Role { label, role } => {
            check_role(role)?;
            let Some(i) = members.iter().position(|m| m.label() == label) else {
                return usage(format!(
                    "no member is labelled {label:?} (see `coffer share list`)"
                ));
            };
            if members[i].role() == role {
                return usage(format!("{label:?} is already {role}"));
            }
            members[i].1 = role.clone();
        }
        Change::Repair => return repair(ds, identity, &hist),
        Change::Audit(a) => {
            if tip.audit == *a {
                return usage("the audit settings are already exactly these".into());
            }
        }
    }
    let mut next = next_policy(
        ds,
        (tip_id, tip),
        &hist,
        &me,
        (epoch, &secret),
        members,
        extra,
        None,
    )?;
    if let Change::Audit(a) = change {
        next.audit = a.clone();
        next.check_structure()
            .map_err(|why| Error::Usage(format!("invalid audit settings: {why}")))?;
    }
    if let Err(r) = check_successor(&ds.id, tip_id, tip, &next) {
        return Err(Error::Usage(format!(
            "the change is not allowed: {}",
            r.message
        )));
    }
    // The reseal needs every epoch of the newest version: check before changing anything.
    let head = ds.head()?;
    if reseal_for_newcomer {
        if let Some(h) = &head {
            let v = hist.get(h)?;
            let missing: Vec<u32> = hist
                .epochs_needed(v)
                .into_iter()
                .filter(|e| !mine.contains_key(e))
                .collect();
            if !missing.is_empty() {
                return usage(format!(
                    "you cannot read the newest version (epochs {missing:?}), so you cannot seal it again for the newcomer; ask a member who can (see `coffer access`)"
                ));
            }
        }
    }
    let (id, bytes) = next.sign(identity.signing_key());
    ds.store.put_new(&store::policy_path(&id), bytes)?;
    let mut out = ChangeOutcome {
        policy: id,
        seq: next.seq,
        epoch: next.epoch,
        reseal: None,
        resealed: Resealed::default(),
    };
    if let (true, Some(h)) = (reseal_for_newcomer, head) {
        let label = match change {
            Change::Add { label, .. } => label.as_str(),
            _ => "",
        };
        let message = format!("sealed again under epoch {epoch} for {label}");
        if let Some((vid, r)) = reseal_head(ds, identity, h, &message, progress)? {
            out.reseal = Some(vid);
            out.resealed = r;
        }
    }
    Ok(out)
}

/// The policy that follows `prev` with these members: `epoch`'s secret wrapped to each (plus
/// `extra` wraps), the heads of `hist`, signed by `me`; checked for structure (the callers
/// check the chain rules, which differ for a repair).
#[allow(clippy::too_many_arguments)]
fn next_policy(
    ds: &Dataset,
    (prev_id, prev): (&Id, &Policy),
    hist: &crate::rules::History,
    me: &PublicIdentity,
    (epoch, secret): (u32, &EpochSecret),
    mut members: Vec<Member>,
    extra: Vec<Wrap>,
    repairs: Option<Vec<Id>>,
) -> Result<Policy> {
    members.sort_by(|a, b| a.label().as_bytes().cmp(b.label().as_bytes()));
    let mut wraps = Vec::new();
    for m in &members {
        wraps.push(wrap_for(m, epoch, secret)?);
    }
    wraps.extend(extra);
    let what = if repairs.is_some() {
        "repair"
    } else {
        "change"
    };
    let mut next = Policy {
        seq: prev.seq + 1,
        name: prev.name.clone(),
        time: crate::repo::now().max(prev.time),
        audit: prev.audit.clone(),
        epoch,
        heads: Some(hist.heads()),
        wraps,
        signer: Bytes32(me.sign),
        dataset: Some(ds.id),
        members,
        repairs,
        previous: Some(*prev_id),
    };
    next.sort_wraps();
    next.check_structure()
        .map_err(|why| Error::Usage(format!("the {what} would make an invalid policy: {why}")))?;
    Ok(next)
}

/// `share repair`: the policy that settles the fork after the policy in force. Members of
/// that policy stay unless a side withdrew them, with the lowest role a side lowered them to
/// (else the highest a side raised them to); members a side added join with the lowest role
/// any side gave them, and the earlier epochs if a side gave them those, unless another side
/// withdrew or demoted that side's signer. A new epoch above
/// every side's starts; the policy names every side, and every other repair the rules
/// found well-formed, so every reader accepts it alike.
fn repair(
    ds: &Dataset,
    identity: &Identity,
    hist: &crate::rules::History,
) -> Result<ChangeOutcome> {
    use crate::rules::chain::{check_repair, power};
    let chain = &hist.chain;
    let (base_id, base) = chain.tip();
    let me = identity.public();
    let lines = &chain.fork;
    let sides: Vec<&Policy> = lines.iter().flatten().map(|(_, p)| p).collect();
    if !base.can_administer(&me.sign) || sides.iter().any(|p| !p.can_administer(&me.sign)) {
        return Err(Error::Usage(format!(
            "only an owner or admin whom neither side of the fork withdrew or demoted can repair it; ask {}",
            chain.who_to_ask()
        )));
    }
    let mine = chain.secrets_for(identity);
    let current = mine.get(&base.epoch).ok_or_else(|| Error::NoEpochKey {
        who: chain.label_of_sign_key(&me.sign),
        epoch: base.epoch,
        dataset: ds.id,
    })?;
    // The last policy of each line, with the line's index.
    let (tips, tip_lines): (Vec<&Policy>, Vec<usize>) = lines
        .iter()
        .enumerate()
        .filter_map(|(k, l)| l.last().map(|(_, p)| (p, k)))
        .unzip();
    // Additions and raised roles count only from a line none of whose signers another line
    // withdrew or demoted: in a fork where two admins withdrew each other (or a withdrawn
    // admin forked late, or added to another's line), nobody either of them brought in or
    // promoted gets more than before; an owner can add or promote them again afterwards.
    // Withdrawals and demotions count from every line.
    let trusted = |k: usize| {
        lines[k].iter().all(|(_, pk)| {
            lines.iter().enumerate().all(|(j, l)| {
                j == k
                    || !crate::rules::chain::withdraws(base, l.iter().map(|(_, p)| p), &pk.signer.0)
            })
        })
    };
    // Repairs of this fork that are not its sides (one made early, pushed as another side
    // arrived): what their lines withdrew or lowered stays so, or this repair would give
    // back what, say, the owner withdrew on top of its own earlier repair (so where that
    // was an owner, only an owner can repair).
    let early = chain.early_repair_lines();
    let early_tips: Vec<&Policy> = early
        .iter()
        .filter_map(|l| l.last())
        .map(|(_, p)| p)
        .collect();
    let mut members: Vec<Member> = Vec::new();
    for m in &base.members {
        let now: Vec<Option<&Member>> = tips
            .iter()
            .map(|t| t.members.iter().find(|n| n.same_identity(m)))
            .collect();
        let early_now: Vec<Option<&Member>> = early_tips
            .iter()
            .map(|t| t.members.iter().find(|n| n.same_identity(m)))
            .collect();
        if now.iter().chain(&early_now).any(Option::is_none) {
            continue; // withdrawn on a side, or on an earlier repair's line
        }
        let roles: Vec<&str> = now.iter().flatten().map(|n| n.role()).collect();
        let early_roles = early_now.iter().flatten().map(|n| n.role());
        let lowered = roles
            .iter()
            .copied()
            .chain(early_roles)
            .filter(|r| power(r) < power(m.role()));
        let role = match lowered.min_by_key(|r| power(r)) {
            Some(r) => r.to_string(),
            None => now
                .iter()
                .zip(&tip_lines)
                .filter(|(_, k)| trusted(**k))
                .filter_map(|(n, _)| n.map(|n| n.role()))
                .max_by_key(|r| power(r))
                .map_or(m.role().to_string(), |r| r.to_string()),
        };
        let mut kept = m.clone();
        kept.1 = role;
        members.push(kept);
    }
    let mut extra: Vec<Wrap> = Vec::new();
    let added_tips: Vec<&Policy> = lines
        .iter()
        .enumerate()
        .filter(|(k, _)| trusted(*k))
        .filter_map(|(_, l)| l.last())
        .map(|(_, p)| p)
        .collect();
    for t in &added_tips {
        for n in &t.members {
            if base.members.iter().any(|m| m.same_identity(n)) {
                continue;
            }
            if let Some(i) = members.iter().position(|m| m.same_identity(n)) {
                if power(n.role()) < power(members[i].role()) {
                    members[i].1 = n.role().to_string();
                }
                continue;
            }
            if members.iter().any(|m| m.label() == n.label()) {
                return Err(Error::Usage(format!(
                    "the sides of the fork gave the label {:?} to different identities: remove one of them after the repair",
                    n.label()
                )));
            }
            // Added on a side with the earlier epochs (not --from-now): give them here too.
            if t.wraps
                .iter()
                .any(|w| &w.0 .0 == n.kx_key() && w.1 <= base.epoch)
            {
                for (e, s) in mine.range(..=base.epoch) {
                    extra.push(wrap_for(n, *e, s)?);
                }
            }
            members.push(n.clone());
        }
    }
    let top = sides.iter().map(|p| p.epoch).fold(base.epoch, u32::max);
    // Above the epochs of repairs made early too: a version its signer made under one of
    // them then opens with that key, never with this repair's (spec §10.1c, §11.7).
    let seen = early
        .iter()
        .flatten()
        .map(|(_, p)| p.epoch)
        .fold(top, u32::max);
    let secret = fresh_secret(current);
    // Name the last policy of every side's line, and every repair the rules counted as one
    // more side (well-formed, made at the same moment as another).
    let mut repairs: Vec<Id> = lines
        .iter()
        .filter(|l| l.first().is_some_and(|(_, p)| p.repairs.is_none()))
        .filter_map(|l| l.last())
        .map(|(i, _)| *i)
        .collect();
    // Every other repair of the fork it holds: the well-formed ones (lines of the fork) and
    // those made early, each with the last policy of its line, so that what is appended to
    // that line later does not change how readers judge this repair.
    for l in lines.iter().chain(early) {
        if let (Some((id, p)), Some((last, _))) = (l.first(), l.last()) {
            if p.repairs.is_some() && p.previous == Some(*base_id) {
                repairs.push(*id);
                repairs.push(*last);
            }
        }
    }
    repairs.sort();
    repairs.dedup();
    let mut all_lines = lines.clone();
    all_lines.extend(early.iter().cloned());
    let next = next_policy(
        ds,
        (base_id, base),
        hist,
        &me,
        (next_epoch(seen)?, &secret),
        members,
        extra,
        Some(repairs),
    )?;
    let not_allowed = |why: String| {
        Error::Usage(format!(
            "the repair is not allowed: {why} (ask {})",
            chain.who_to_ask()
        ))
    };
    if let Err(r) = check_successor(&ds.id, base_id, base, &next)
        .and_then(|()| check_repair(base, &next, &all_lines))
    {
        return Err(not_allowed(r.message));
    }
    let (id, bytes) = next.sign(identity.signing_key());
    if !crate::rules::chain::would_be_in_force(&ds.store, &ds.id, &id, &bytes)? {
        return Err(not_allowed("the rules would not put it in force".into()));
    }
    ds.store.put_new(&store::policy_path(&id), bytes)?;
    // The walk must now accept it: anything else is a bug to report, not a state to leave.
    let after = ds.chain()?;
    if after.tip().0 != id {
        return Err(Error::Usage(format!(
            "policy {} was written but the rules do not accept it as the repair; run `coffer verify` and report this",
            id.short()
        )));
    }
    Ok(ChangeOutcome {
        policy: id,
        seq: next.seq,
        epoch: next.epoch,
        reseal: None,
        resealed: Resealed::default(),
    })
}

/// Make a version with the same content as `head` whose packs all suit the policy in force,
/// sealing again what does not; move the branch head to it. `None` when `head` already
/// suits it. The caller holds the dataset lock.
pub(crate) fn reseal_head(
    ds: &Dataset,
    identity: &Identity,
    head: Id,
    message: &str,
    progress: bool,
) -> Result<Option<(Id, Resealed)>> {
    let w = crate::repo::commit::writer(ds, identity)?;
    let v = w.hist.get(&head)?.clone();
    let usable = w.hist.usable_packs();
    if v.packs
        .iter()
        .all(|p| w.hist.pack_epochs.get(p).is_some_and(|e| usable(p, *e)))
    {
        return Ok(None);
    }
    let mut index = w.index(ds)?;
    let k = w.keyring.get(v.epoch).ok_or_else(|| Error::NoEpochKey {
        who: w.label.clone(),
        epoch: v.epoch,
        dataset: ds.id,
    })?;
    let mut seal = v.unseal(&head, &k)?;
    seal.message = message.to_string();
    let reachable = reseal::reachable(ds, &w.keyring, &index, seal.root)?;
    let r = reseal::ensure_usable(ds, &w.keyring, &w.keys, &mut index, &reachable, progress)?;
    let (vid, _) = w.write_version(
        ds,
        identity,
        &[(head, &v)],
        &seal,
        index.packs_of(&reachable)?,
    )?;
    crate::testhook::pause("version");
    ds.set_head(&vid)?;
    index.save(ds)?;
    Ok(Some((vid, r)))
}
