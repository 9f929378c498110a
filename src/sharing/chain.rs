//! The policy chain: the genesis policy, then each later policy naming its predecessor, each
//! signed by an owner or admin of the policy before it. Loading walks it from the genesis and
//! reports every policy it cannot accept (a fork, a gap, a bad signer, a detached object)
//! instead of trusting it.

use crate::error::{Error, Result};
use crate::id::Id;
use crate::object::policy::Policy;
use crate::store::{self, Store};
use std::collections::{HashMap, HashSet};

/// The accepted chain, genesis first, and what was refused on the way.
pub struct Chain {
    /// Accepted policies in order: `policies[0]` is the genesis, the last is in force.
    pub policies: Vec<(Id, Policy)>,
    /// Policies that were refused, with the reason (kind "policy").
    pub refused: Vec<(Id, String)>,
}

impl Chain {
    /// The policy in force (the last accepted).
    pub fn tip(&self) -> &(Id, Policy) {
        // `load` never returns an empty chain.
        &self.policies[self.policies.len() - 1]
    }

    /// The member with this signing key in the newest policy that lists it (so people who
    /// were withdrawn keep their label in history).
    pub fn member_by_sign_key(&self, key: &[u8; 32]) -> Option<&crate::object::policy::Member> {
        self.policies
            .iter()
            .rev()
            .find_map(|(_, p)| p.member_by_sign_key(key))
    }

    /// The member with this X25519 key in the newest policy that lists it.
    pub fn member_by_kx_key(&self, key: &[u8; 32]) -> Option<&crate::object::policy::Member> {
        self.policies
            .iter()
            .rev()
            .find_map(|(_, p)| p.members.iter().find(|m| m.kx_key() == key))
    }

    /// Every epoch secret `identity` was ever given in the chain (a withdrawn member keeps the
    /// epochs it had, and gets none started by its withdrawal).
    pub fn secrets_for(
        &self,
        identity: &crate::identity::Identity,
    ) -> std::collections::BTreeMap<u32, crate::crypto::keys::EpochSecret> {
        let kx = identity.public().kx;
        let mut out = std::collections::BTreeMap::new();
        for (_, p) in &self.policies {
            for (e, s) in p.unwrap_for(&kx, identity.kx_secret()) {
                out.entry(e).or_insert(s);
            }
        }
        out
    }

    /// An accepted policy by id, with its position in the chain.
    pub fn get(&self, id: &Id) -> Option<(usize, &Policy)> {
        self.policies
            .iter()
            .position(|(i, _)| i == id)
            .map(|n| (n, &self.policies[n].1))
    }
}

/// Why `next` cannot follow `prev` (whose id is `prev_id`), if it cannot.
pub fn check_successor(dataset: &Id, prev_id: &Id, prev: &Policy, next: &Policy) -> Option<String> {
    if next.dataset != Some(*dataset) {
        return Some("belongs to another dataset".into());
    }
    if next.previous != Some(*prev_id) {
        return Some("does not name its predecessor".into());
    }
    if next.seq != prev.seq + 1 {
        return Some(format!(
            "sequence number {} after {} (a gap or a replay)",
            next.seq, prev.seq
        ));
    }
    if !prev.can_administer(&next.signer.0) {
        return Some(
            "signed by a key that was not an owner or admin of the policy before it".into(),
        );
    }
    if next.epoch < prev.epoch {
        return Some(format!(
            "goes back from epoch {} to {}",
            prev.epoch, next.epoch
        ));
    }
    if !next.members.iter().any(|m| m.role() == "owner") {
        return Some("leaves the dataset without an owner".into());
    }
    let removed: Vec<&str> = prev
        .members
        .iter()
        .filter(|m| !next.members.iter().any(|n| n.kx_key() == m.kx_key()))
        .map(|m| m.label())
        .collect();
    if !removed.is_empty() && next.epoch == prev.epoch {
        return Some(format!(
            "withdraws {} without starting a new epoch",
            removed.join(", ")
        ));
    }
    for m in &next.members {
        if !next
            .wraps
            .iter()
            .any(|w| &w.0 .0 == m.kx_key() && w.1 == next.epoch)
        {
            return Some(format!("gives {} no key for the current epoch", m.label()));
        }
    }
    for w in &next.wraps {
        if !next.members.iter().any(|m| m.kx_key() == &w.0 .0) {
            return Some("wraps a key for someone who is not a member".into());
        }
    }
    None
}

/// Load and walk the chain of `dataset` from `store`.
pub fn load(store: &Store, dataset: &Id) -> Result<Chain> {
    let mut all: HashMap<Id, Policy> = HashMap::new();
    let mut refused = Vec::new();
    for (id, _) in store.list_ids("policy")? {
        let Some(bytes) = store.get(&store::policy_path(&id))? else {
            continue;
        };
        match Policy::open(&id, &bytes) {
            Ok(p) => {
                all.insert(id, p);
            }
            Err(e) => refused.push((id, e.to_string())),
        }
    }
    let genesis = all.remove(dataset).ok_or(Error::Missing {
        kind: "policy",
        id: *dataset,
    })?;
    if genesis.seq != 0 {
        return Err(Error::Corrupt {
            kind: "policy",
            id: *dataset,
            reason: "the dataset id names a policy that is not a genesis policy".into(),
        });
    }
    let mut by_prev: HashMap<Id, Vec<Id>> = HashMap::new();
    for (id, p) in &all {
        if let Some(prev) = p.previous {
            by_prev.entry(prev).or_default().push(*id);
        }
    }
    let mut policies = vec![(*dataset, genesis)];
    let mut used: HashSet<Id> = HashSet::new();
    loop {
        let (cur_id, cur) = &policies[policies.len() - 1];
        let mut next = by_prev.remove(cur_id).unwrap_or_default();
        next.sort();
        match next.len() {
            0 => break,
            1 => {}
            _ => {
                // Two policies claim the same predecessor: accept neither.
                for id in &next {
                    used.insert(*id);
                    refused.push((
                        *id,
                        format!(
                            "forks the chain after {} (another policy follows it too)",
                            cur_id.short()
                        ),
                    ));
                }
                break;
            }
        }
        let id = next[0];
        used.insert(id);
        let p = &all[&id];
        if let Some(why) = check_successor(dataset, cur_id, cur, p) {
            refused.push((id, why));
            break;
        }
        let p = all
            .remove(&id)
            .ok_or(Error::Missing { kind: "policy", id })?;
        policies.push((id, p));
    }
    for id in all.keys() {
        if !used.contains(id) && !policies.iter().any(|(i, _)| i == id) {
            refused.push((
                *id,
                "is not part of the chain from the genesis policy (detached or replayed)".into(),
            ));
        }
    }
    refused.sort();
    Ok(Chain { policies, refused })
}
