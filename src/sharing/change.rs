//! Changing who may read and write: each change is a new policy in the chain, signed by an
//! owner or admin of the policy in force. Withdrawal starts a new epoch whose key only the
//! remaining members receive.

use super::chain::check_successor;
use crate::crypto::keys::EpochSecret;
use crate::crypto::wrap;
use crate::error::{Error, Result};
use crate::id::{Bytes32, Id};
use crate::identity::{Identity, PublicIdentity};
use crate::object::policy::{Member, Policy, Wrap, ROLES};
use crate::repo::Dataset;
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
        /// Give only the current epoch, not the earlier ones.
        from_now: bool,
    },
    /// Withdraw a member: a new epoch starts, whose key they do not get.
    Remove {
        /// Their label.
        label: String,
    },
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

/// Apply a change as a new policy; returns its id and body.
pub fn apply(ds: &Dataset, identity: &Identity, change: &Change) -> Result<(Id, Policy)> {
    let _lock = ds.lock()?;
    let chain = ds.chain()?;
    let (tip_id, tip) = chain.tip();
    let me = identity.public();
    let my_label = tip
        .member_by_sign_key(&me.sign)
        .map(|m| m.label().to_string());
    let usage = |msg: String| Err(Error::Usage(msg));
    if !tip.can_administer(&me.sign) {
        return Err(Error::NotAllowed {
            who: my_label.unwrap_or_else(|| me.to_string()),
            role: "an owner or admin",
            dataset: ds.id,
        });
    }
    let mine = chain.secrets_for(identity);
    let current = mine.get(&tip.epoch).ok_or_else(|| Error::NoEpochKey {
        who: my_label.clone().unwrap_or_default(),
        epoch: tip.epoch,
        dataset: ds.id,
    })?;
    let mut members = tip.members.clone();
    let mut epoch = tip.epoch;
    let mut secret = current.clone();
    let mut extra: Vec<Wrap> = Vec::new();
    match change {
        Change::Add {
            public,
            label,
            role,
            from_now,
        } => {
            if !ROLES.contains(&role.as_str()) {
                return usage(format!(
                    "unknown role {role:?} (reader, writer, admin or owner)"
                ));
            }
            if label.trim().is_empty() || label.len() > 200 {
                return usage("a label must be 1 to 200 characters".into());
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
            if role == "owner"
                && tip
                    .member_by_sign_key(&me.sign)
                    .is_some_and(|m| m.role() != "owner")
            {
                return usage("only an owner can add an owner".into());
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
            } else {
                for (e, s) in mine.range(..tip.epoch) {
                    extra.push(wrap_for(&m, *e, s)?);
                }
            }
            members.push(m);
        }
        Change::Remove { label } => {
            let Some(m) = tip.member(label) else {
                return usage(format!(
                    "no member is labelled {label:?} (see `coffer share list`)"
                ));
            };
            if m.sign_key() == &me.sign {
                return usage("you cannot remove yourself; ask another owner or admin".into());
            }
            if m.role() == "owner"
                && tip.members.iter().filter(|x| x.role() == "owner").count() == 1
            {
                return usage(format!(
                    "{label:?} is the last owner; add another owner first"
                ));
            }
            members.retain(|x| x.label() != label);
            epoch = next_epoch(tip.epoch)?;
            secret = fresh_secret(current);
        }
    }
    members.sort_by(|a, b| a.label().cmp(b.label()));
    let mut wraps = Vec::new();
    for m in &members {
        wraps.push(wrap_for(m, epoch, &secret)?);
    }
    wraps.extend(extra);
    let next = Policy {
        seq: tip.seq + 1,
        name: tip.name.clone(),
        time: crate::repo::now().max(tip.time),
        epoch,
        wraps,
        signer: Bytes32(me.sign),
        dataset: Some(ds.id),
        members,
        previous: Some(*tip_id),
    };
    if let Some(why) = check_successor(&ds.id, tip_id, tip, &next) {
        return Err(Error::Usage(format!(
            "the change would make an invalid policy: {why}"
        )));
    }
    let (id, bytes) = next.sign(identity.signing_key());
    ds.store.put_new(&store::policy_path(&id), bytes)?;
    Ok((id, next))
}
