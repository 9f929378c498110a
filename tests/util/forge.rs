//! The rules testkit's generator: well-formed objects (canonical encoding, named by their
//! hash, validly signed) that break exactly one trust rule. Each is built with the library
//! from a dataset made by the real binary, and written straight into its store, as a member
//! (or a withdrawn one, or a stranger) with write access to the bucket would.
#![allow(dead_code)]

use coffer::crypto::keys::{EpochKeys, EpochSecret};
use coffer::crypto::wrap;
use coffer::id::{Bytes32, Id};
use coffer::identity::{Identity, Passphrase};
use coffer::object::blob::{self, KIND_CHUNK};
use coffer::object::pack::PackBuilder;
use coffer::object::policy::{Member, Policy, Wrap};
use coffer::object::version::{Seal, Version};
use coffer::repo::Dataset;
use coffer::rules::History;
use coffer::store;
use std::path::Path;

/// Load the identity file `DIR/NAME.id`.
pub fn ident(dir: &Path, name: &str) -> Identity {
    Identity::load(&dir.join(format!("{name}.id")), &Passphrase::None).unwrap()
}

/// A member entry for `id`.
pub fn member(label: &str, role: &str, id: &Identity) -> Member {
    let p = id.public();
    Member(label.into(), role.into(), Bytes32(p.sign), Bytes32(p.kx))
}

/// Wrap `secret` as `epoch` for each member.
pub fn wraps_for(members: &[Member], epoch: u32, secret: &EpochSecret) -> Vec<Wrap> {
    members
        .iter()
        .map(|m| {
            let (enc, ct) = wrap::wrap(m.kx_key(), epoch, secret, &mut rand_core::OsRng).unwrap();
            Wrap(Bytes32(*m.kx_key()), epoch, Bytes32(enc), ct)
        })
        .collect()
}

/// Crafts objects into one dataset's store.
pub struct Forge {
    pub ds: Dataset,
}

impl Forge {
    pub fn open(data: &Path) -> Forge {
        Forge {
            ds: Dataset::find(data).unwrap(),
        }
    }

    pub fn hist(&self) -> History {
        self.ds.history().unwrap()
    }

    /// The epoch secrets `who` was ever given.
    pub fn secrets(&self, who: &Identity) -> std::collections::BTreeMap<u32, EpochSecret> {
        self.hist().chain.secrets_for(who)
    }

    /// Keys of `epoch` as `who` holds them, or keys nobody holds.
    pub fn keys(&self, who: &Identity, epoch: u32) -> EpochKeys {
        let s = self.secrets(who).remove(&epoch).unwrap_or_else(|| {
            // Same dedup key (ids stay comparable), a data key nobody was given.
            let mut s = self
                .secrets(who)
                .into_values()
                .next()
                .unwrap_or_else(EpochSecret::generate);
            s.data_key = [0x5a; 32];
            s
        });
        EpochKeys::derive(epoch, &s)
    }

    /// A pack holding one new chunk of `bytes`, sealed under `epoch` with `who`'s keys.
    pub fn pack(&self, who: &Identity, epoch: u32, bytes: &[u8]) -> Id {
        let k = self.keys(who, epoch);
        let mut b = PackBuilder::default();
        let id = k.id_key.blob_id(KIND_CHUNK, bytes);
        b.add(blob::seal(&k, KIND_CHUNK, id, bytes));
        let (pid, pbytes, _) = b.finish(&k);
        self.ds
            .store
            .put_new(&store::pack_path(&pid), pbytes)
            .unwrap();
        pid
    }

    /// A version by `author`: a child of the branch head under the policy in force with the
    /// head's content and packs, changed by `edit`, sealed with `author`'s key for its epoch
    /// (if held), signed by `author` and stored. Returns its id.
    pub fn version(&self, author: &Identity, edit: impl FnOnce(&mut Version)) -> Id {
        let hist = self.hist();
        let head = self.ds.head().unwrap().unwrap();
        let hv = hist.versions[&head].clone();
        let (tip_id, tip) = hist.chain.tip();
        let mut v = Version {
            seq: hv.seq + 1,
            time: hv.time + 1,
            epoch: tip.epoch,
            packs: hv.packs.clone(),
            author: Bytes32(author.public().sign),
            policy: *tip_id,
            sealed: Vec::new(),
            dataset: self.ds.id,
            parents: vec![head],
        };
        edit(&mut v);
        let owner_keys = self.keys(author, hv.epoch);
        let seal = hv.unseal(&head, &owner_keys).unwrap_or(Seal {
            root: Id::ZERO,
            bytes: 0,
            files: 0,
            message: String::new(),
        });
        let seal = Seal {
            message: "forged".into(),
            ..seal
        };
        v.sealed = seal.seal(&self.keys(author, v.epoch), &v.dataset, v.seq);
        self.store_version(&v, author)
    }

    /// Sign and store `v` as `signer`.
    pub fn store_version(&self, v: &Version, signer: &Identity) -> Id {
        let (id, bytes) = v.sign(signer.signing_key());
        self.ds
            .store
            .put_new(&store::version_path(&id), bytes)
            .unwrap();
        id
    }

    /// A policy following the one in force, with the same members, wraps and epoch, the
    /// current heads, changed by `edit` (which gets the signer's secret of the epoch in
    /// force), signed by `signer` and stored. Wraps are sorted after `edit`.
    pub fn policy(&self, signer: &Identity, edit: impl FnOnce(&mut Policy, &EpochSecret)) -> Id {
        let n = self.hist().chain.policies.len();
        self.after(n - 1, signer, edit)
    }

    /// [`Forge::policy`], following the accepted policy at chain position `pos` (the tip,
    /// again and again, makes a fork).
    pub fn after(
        &self,
        pos: usize,
        signer: &Identity,
        edit: impl FnOnce(&mut Policy, &EpochSecret),
    ) -> Id {
        let hist = self.hist();
        let (tip_id, tip) = &hist.chain.policies[pos];
        self.follow(*tip_id, tip, signer, edit)
    }

    /// [`Forge::policy`], following the stored policy `prev`, in force or not (a side, a
    /// repair that is not in force, a policy on top of one).
    pub fn child(
        &self,
        prev: Id,
        signer: &Identity,
        edit: impl FnOnce(&mut Policy, &EpochSecret),
    ) -> Id {
        let bytes = self
            .ds
            .store
            .get(&store::policy_path(&prev))
            .unwrap()
            .unwrap();
        let tip = Policy::open(&prev, &bytes).unwrap();
        self.follow(prev, &tip, signer, edit)
    }

    /// A successor of `tip` (named `tip_id`) as `signer` makes it, changed by `edit` (which
    /// gets `signer`'s secret for `tip`'s epoch, or its first, or a fresh one), stored.
    fn follow(
        &self,
        tip_id: Id,
        tip: &Policy,
        signer: &Identity,
        edit: impl FnOnce(&mut Policy, &EpochSecret),
    ) -> Id {
        let mut secrets = self.secrets(signer);
        let secret = secrets
            .remove(&tip.epoch)
            .or_else(|| secrets.into_values().next())
            .unwrap_or_else(EpochSecret::generate);
        let mut p = Policy {
            seq: tip.seq + 1,
            name: tip.name.clone(),
            time: tip.time + 1,
            audit: tip.audit.clone(),
            epoch: tip.epoch,
            heads: Some(self.hist().heads()),
            wraps: tip.wraps.clone(),
            signer: Bytes32(signer.public().sign),
            dataset: Some(self.ds.id),
            members: tip.members.clone(),
            repairs: None,
            previous: Some(tip_id),
        };
        edit(&mut p, &secret);
        p.members
            .sort_by(|a, b| a.label().as_bytes().cmp(b.label().as_bytes()));
        p.sort_wraps();
        self.store_policy(&p, signer)
    }

    /// A late fork: a successor, signed by `signer`, of the accepted policy at chain position
    /// `pos` (not the tip), adding `newcomer` as a member with `role`; stored.
    pub fn fork(&self, signer: &Identity, pos: usize, newcomer: &Identity, role: &str) -> Id {
        let h = self.hist();
        let (prev_id, prev) = h.chain.policies[pos].clone();
        let secret = self.secrets(signer).remove(&prev.epoch).unwrap();
        let mut p = prev.clone();
        p.seq += 1;
        p.time += 1;
        p.previous = Some(prev_id);
        p.dataset = Some(self.ds.id);
        p.heads = Some(vec![]);
        p.signer = Bytes32(signer.public().sign);
        let m = member("Stranger", role, newcomer);
        p.wraps
            .extend(wraps_for(std::slice::from_ref(&m), p.epoch, &secret));
        p.members.push(m);
        p.members
            .sort_by(|a, b| a.label().as_bytes().cmp(b.label().as_bytes()));
        p.sort_wraps();
        self.store_policy(&p, signer)
    }

    /// Sign and store `p` as `signer`.
    pub fn store_policy(&self, p: &Policy, signer: &Identity) -> Id {
        let (id, bytes) = p.sign(signer.signing_key());
        self.ds
            .store
            .put_new(&store::policy_path(&id), bytes)
            .unwrap();
        id
    }

    /// Rotate `p` to a new epoch: a fresh data key (same dedup key) wrapped to its members.
    pub fn rotate(p: &mut Policy, current: &EpochSecret) {
        p.epoch += 1;
        let mut s = EpochSecret::generate();
        s.dedup_key = current.dedup_key;
        let mut members = p.members.clone();
        members.sort_by(|a, b| a.label().as_bytes().cmp(b.label().as_bytes()));
        p.wraps.retain(|w| w.1 < p.epoch);
        p.wraps
            .retain(|w| members.iter().any(|m| m.kx_key() == &w.0 .0));
        p.wraps.extend(wraps_for(&members, p.epoch, &s));
    }

    /// Replace the stored object `id` (under `prefix`) by a copy whose signature's last byte
    /// is flipped, named by its new hash: only the signature is wrong.
    pub fn break_signature(&self, prefix: &str, id: &Id) -> Id {
        let name = format!("{prefix}/{id}");
        let mut b = self.ds.store.get(&name).unwrap().unwrap().to_vec();
        self.ds.store.delete(&name).unwrap();
        let n = b.len() - 1;
        b[n] ^= 1;
        let nid = Id::of_stored(&b);
        self.raw(&format!("{prefix}/{nid}"), &b);
        nid
    }

    /// Write raw bytes under `name` in the store.
    pub fn raw(&self, name: &str, bytes: &[u8]) {
        self.ds.store.put_new(name, bytes.to_vec()).unwrap();
    }
}
