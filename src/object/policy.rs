//! Policies: the signed list of members, their roles and the wrapped epoch keys.
//! The first (genesis) policy names the dataset: the dataset id is its object id.

use super::signed;
use crate::codec;
use crate::crypto::keys::EpochSecret;
use crate::crypto::wrap;
use crate::error::{Error, Result};
use crate::id::{Bytes32, Id};
use serde::{Deserialize, Serialize};

/// Envelope kind of a policy payload.
pub const KIND: &str = "policy";

/// Role names, strongest first.
pub const ROLES: [&str; 4] = ["owner", "admin", "writer", "reader"];

/// A member: `[label, role, signing key, X25519 key]`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Member(pub String, pub String, pub Bytes32, pub Bytes32);

impl Member {
    /// Label chosen by whoever added the member.
    pub fn label(&self) -> &str {
        &self.0
    }
    /// Role name.
    pub fn role(&self) -> &str {
        &self.1
    }
    /// Ed25519 public key.
    pub fn sign_key(&self) -> &[u8; 32] {
        &self.2 .0
    }
    /// X25519 public key.
    pub fn kx_key(&self) -> &[u8; 32] {
        &self.3 .0
    }
    /// Whether the member may sign versions.
    pub fn can_write(&self) -> bool {
        matches!(self.role(), "owner" | "admin" | "writer")
    }
}

/// An epoch secret wrapped for one member: `[X25519 key, epoch, enc, ciphertext]`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Wrap(
    pub Bytes32,
    pub u32,
    pub Bytes32,
    #[serde(with = "serde_bytes")] pub Vec<u8>,
);

/// The signed policy body. Field order is the canonical key order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// 0 for the genesis policy.
    pub seq: u64,
    /// Dataset name, for people.
    pub name: String,
    /// Time of signing, seconds since the Unix epoch, UTC.
    pub time: u64,
    /// The current epoch.
    pub epoch: u32,
    /// Wrapped epoch secrets.
    pub wraps: Vec<Wrap>,
    /// Ed25519 key of the signer; must be an owner or admin.
    pub signer: Bytes32,
    /// The dataset id; absent in the genesis policy (whose id it is), required after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<Id>,
    /// Members, sorted by label.
    pub members: Vec<Member>,
    /// The policy this one replaces; absent in the genesis policy, required after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Id>,
}

impl Policy {
    /// A genesis policy with one owner and epoch 0.
    pub fn genesis(
        name: String,
        time: u64,
        owner_label: String,
        sign_key: [u8; 32],
        kx_key: [u8; 32],
        secret: &EpochSecret,
    ) -> Result<Policy> {
        Self::genesis_with_rng(
            name,
            time,
            owner_label,
            sign_key,
            kx_key,
            secret,
            &mut rand_core::OsRng,
        )
    }

    /// [`Policy::genesis`] with a chosen RNG for the HPKE wrap (known-answer vectors only).
    pub fn genesis_with_rng<R: rand_core::CryptoRng + rand_core::RngCore>(
        name: String,
        time: u64,
        owner_label: String,
        sign_key: [u8; 32],
        kx_key: [u8; 32],
        secret: &EpochSecret,
        rng: &mut R,
    ) -> Result<Policy> {
        let (enc, ct) = wrap::wrap(&kx_key, 0, secret, rng)
            .ok_or_else(|| Error::Usage("the identity's X25519 key is invalid".into()))?;
        Ok(Policy {
            seq: 0,
            name,
            time,
            epoch: 0,
            wraps: vec![Wrap(Bytes32(kx_key), 0, Bytes32(enc), ct)],
            signer: Bytes32(sign_key),
            dataset: None,
            members: vec![Member(
                owner_label,
                "owner".into(),
                Bytes32(sign_key),
                Bytes32(kx_key),
            )],
            previous: None,
        })
    }

    /// Sign and encode. Returns `(id, stored bytes)`.
    pub fn sign(&self, key: &ed25519_dalek::SigningKey) -> (Id, Vec<u8>) {
        signed::seal(key, codec::encode(KIND, self))
    }

    /// Decode stored bytes named `id`, check the signature and the structure. For a genesis
    /// policy, the signer must be an owner listed in it.
    pub fn open(id: &Id, bytes: &[u8]) -> Result<Policy> {
        let p: Policy = signed::open_payload(KIND, id, bytes, |p: &Policy| p.signer.0)?;
        let corrupt = |reason: String| Error::Corrupt {
            kind: "policy",
            id: *id,
            reason,
        };
        if !p.members.windows(2).all(|w| w[0].label() < w[1].label()) {
            return Err(corrupt("members not sorted by label or duplicated".into()));
        }
        if p.members.iter().any(|m| !ROLES.contains(&m.role())) {
            return Err(corrupt("unknown role".into()));
        }
        if (p.seq == 0) != (p.dataset.is_none() && p.previous.is_none())
            || p.dataset.is_some() != p.previous.is_some()
        {
            return Err(corrupt(
                "dataset and previous must be absent in the genesis policy and present after it"
                    .into(),
            ));
        }
        if p.seq == 0 {
            let ok = p
                .members
                .iter()
                .any(|m| m.sign_key() == &p.signer.0 && m.role() == "owner");
            if !ok {
                return Err(corrupt(
                    "genesis policy is not signed by an owner it names".into(),
                ));
            }
        }
        Ok(p)
    }

    /// The member with this label.
    pub fn member(&self, label: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.label() == label)
    }

    /// Whether `key` may change the policy (owner or admin).
    pub fn can_administer(&self, key: &[u8; 32]) -> bool {
        self.member_by_sign_key(key)
            .is_some_and(|m| matches!(m.role(), "owner" | "admin"))
    }

    /// The member with this signing key.
    pub fn member_by_sign_key(&self, key: &[u8; 32]) -> Option<&Member> {
        self.members.iter().find(|m| m.sign_key() == key)
    }

    /// Unwrap every epoch secret wrapped for `kx_secret`; returns `(epoch, secret)` pairs.
    pub fn unwrap_for(
        &self,
        kx_public: &[u8; 32],
        kx_secret: &[u8; 32],
    ) -> Vec<(u32, EpochSecret)> {
        self.wraps
            .iter()
            .filter(|w| &w.0 .0 == kx_public)
            .filter_map(|w| wrap::unwrap(kx_secret, w.1, &w.2 .0, &w.3).map(|s| (w.1, s)))
            .collect()
    }
}
