//! Policies: the signed list of members, their roles and the wrapped epoch keys
//! (spec/format.md §10). The first (genesis) policy names the dataset: the dataset id is its
//! object id. This module decodes and checks one policy's structure; whether a policy is in
//! force is decided by [`crate::rules`].

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

/// Longest member, witness or dataset name, in UTF-8 bytes.
pub const MAX_LABEL: usize = 200;
/// Most members (and most witnesses) in one policy.
pub const MAX_MEMBERS: usize = 10_000;
/// Most versions one policy may acknowledge in `heads`.
pub const MAX_HEADS: usize = 256;
/// Length of a wrapped epoch secret: 64 bytes sealed with a 16-byte tag.
pub const WRAP_CT_LEN: usize = 80;

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
    /// Whether the member may sign versions (owner, admin or writer).
    pub fn can_write(&self) -> bool {
        matches!(self.role(), "owner" | "admin" | "writer")
    }
    /// Whether the member may sign policies (owner or admin).
    pub fn can_administer(&self) -> bool {
        matches!(self.role(), "owner" | "admin")
    }
    /// Whether `other` is the same identity: both keys equal (spec §10.1: a member whose
    /// X25519 key changes is withdrawn and added again).
    pub fn same_identity(&self, other: &Member) -> bool {
        self.sign_key() == other.sign_key() && self.kx_key() == other.kx_key()
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

/// A witness: `[label, signing key]`. Witnesses cosign checkpoints; they are not members,
/// hold no data key and get no wraps.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Witness(pub String, pub Bytes32);

/// How readers judge the freshness of a dataset (spec §10.1b): checkpoints and witnesses.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// Seconds a checkpoint stays fresh after it is signed.
    pub expiry: u64,
    /// Cosignatures a checkpoint needs (0 when there are no witnesses).
    pub quorum: u32,
    /// An expired checkpoint, or one short of its quorum, is an error rather than a warning.
    pub strict: bool,
    /// The witnesses, strictly ascending by label.
    pub witnesses: Vec<Witness>,
}

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
    /// Freshness settings; absent when the dataset asks for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<Audit>,
    /// The current epoch.
    pub epoch: u32,
    /// The head versions the signer knew when signing, strictly ascending; absent in the
    /// genesis policy, present after it. A policy that withdraws a member's read or write
    /// access acknowledges exactly the history below these heads (spec §9, rules V9 and V10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<Vec<Id>>,
    /// Wrapped epoch secrets, strictly ascending by (X25519 key, epoch).
    pub wraps: Vec<Wrap>,
    /// Ed25519 key of the signer; must be an owner or admin.
    pub signer: Bytes32,
    /// The dataset id; absent in the genesis policy (whose id it is), required after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<Id>,
    /// Members, strictly ascending by the UTF-8 bytes of their labels.
    pub members: Vec<Member>,
    /// Only in a repair policy (spec §10.1c): every other policy that follows `previous` and
    /// stands in the fork it repairs, strictly ascending, at least one; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repairs: Option<Vec<Id>>,
    /// The policy this one replaces; absent in the genesis policy, required after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Id>,
}

/// Whether a label (member, witness or dataset name) is acceptable: 1 to [`MAX_LABEL`]
/// bytes of UTF-8 without control characters.
pub fn is_valid_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LABEL && !s.chars().any(char::is_control)
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
        let p = Policy {
            seq: 0,
            name,
            time,
            audit: None,
            epoch: 0,
            heads: None,
            wraps: vec![Wrap(Bytes32(kx_key), 0, Bytes32(enc), ct)],
            signer: Bytes32(sign_key),
            dataset: None,
            members: vec![Member(
                owner_label,
                "owner".into(),
                Bytes32(sign_key),
                Bytes32(kx_key),
            )],
            repairs: None,
            previous: None,
        };
        p.check_structure()
            .map_err(|why| Error::Usage(format!("cannot create the dataset: {why}")))?;
        Ok(p)
    }

    /// Sign and encode. Returns `(id, stored bytes)`.
    pub fn sign(&self, key: &ed25519_dalek::SigningKey) -> (Id, Vec<u8>) {
        signed::seal(key, codec::encode(KIND, self))
    }

    /// Decode stored bytes named `id`, check the signature by `signer` and the structure
    /// (spec §10.1: orders, uniqueness, lengths, which fields a genesis has). Whether the
    /// signer was allowed to sign, and whether the policy is in force, is for
    /// [`crate::rules`].
    pub fn open(id: &Id, bytes: &[u8]) -> Result<Policy> {
        let p: Policy = signed::open_payload(KIND, id, bytes, |p: &Policy| p.signer.0)?;
        p.check_structure().map_err(|reason| Error::Corrupt {
            kind: "policy",
            id: *id,
            reason,
        })?;
        Ok(p)
    }

    /// The structural rules of §10.1, which a policy either meets or is malformed.
    pub fn check_structure(&self) -> std::result::Result<(), String> {
        let genesis = self.seq == 0;
        if genesis != self.previous.is_none()
            || genesis != self.dataset.is_none()
            || genesis != self.heads.is_none()
        {
            return Err(
                "dataset, previous and heads must be absent in the genesis policy and present after it"
                    .into(),
            );
        }
        if !is_valid_label(&self.name) {
            return Err(format!(
                "dataset name must be 1 to {MAX_LABEL} bytes without control characters"
            ));
        }
        if self.members.is_empty() || self.members.len() > MAX_MEMBERS {
            return Err(format!("must list 1 to {MAX_MEMBERS} members"));
        }
        if !self
            .members
            .windows(2)
            .all(|w| w[0].label().as_bytes() < w[1].label().as_bytes())
        {
            return Err("members not sorted by label, or a label repeated".into());
        }
        for m in &self.members {
            if !is_valid_label(m.label()) {
                return Err(format!(
                    "member labels must be 1 to {MAX_LABEL} bytes without control characters"
                ));
            }
            if !ROLES.contains(&m.role()) {
                return Err(format!("unknown role {:?}", m.role()));
            }
        }
        let mut sign: Vec<&[u8; 32]> = self.members.iter().map(|m| m.sign_key()).collect();
        let mut kx: Vec<&[u8; 32]> = self.members.iter().map(|m| m.kx_key()).collect();
        sign.sort();
        kx.sort();
        if sign.windows(2).any(|w| w[0] == w[1]) || kx.windows(2).any(|w| w[0] == w[1]) {
            return Err("two members share a signing key or an X25519 key".into());
        }
        if !self
            .wraps
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        {
            return Err("wraps not sorted by (X25519 key, epoch), or one repeated".into());
        }
        if self.wraps.iter().any(|w| w.3.len() != WRAP_CT_LEN) {
            return Err(format!("a wrap's ciphertext is not {WRAP_CT_LEN} bytes"));
        }
        if let Some(r) = &self.repairs {
            if genesis || r.is_empty() || r.len() > MAX_HEADS || !r.windows(2).all(|w| w[0] < w[1])
            {
                return Err(format!(
                    "repairs must be absent in the genesis policy, else 1 to {MAX_HEADS} policy ids, sorted, none repeated"
                ));
            }
        }
        if let Some(h) = &self.heads {
            if h.len() > MAX_HEADS || !h.windows(2).all(|w| w[0] < w[1]) {
                return Err(format!(
                    "heads not sorted, repeated, or more than {MAX_HEADS}"
                ));
            }
        }
        if let Some(a) = &self.audit {
            if a.expiry == 0 {
                return Err("audit expiry must be at least one second".into());
            }
            if a.witnesses.len() > MAX_MEMBERS
                || !a
                    .witnesses
                    .windows(2)
                    .all(|w| w[0].0.as_bytes() < w[1].0.as_bytes())
                || a.witnesses.iter().any(|w| !is_valid_label(&w.0))
            {
                return Err("witnesses not sorted by label, repeated or badly named".into());
            }
            let mut keys: Vec<&Bytes32> = a.witnesses.iter().map(|w| &w.1).collect();
            keys.sort();
            if keys.windows(2).any(|w| w[0] == w[1]) {
                return Err("two witnesses share a signing key".into());
            }
            if (a.quorum == 0) != a.witnesses.is_empty() || a.quorum as usize > a.witnesses.len() {
                return Err("audit quorum must be 1 to the number of witnesses (0 without)".into());
            }
        }
        Ok(())
    }

    /// Sort wraps into the canonical order (writers call this before signing).
    pub fn sort_wraps(&mut self) {
        self.wraps.sort_by_key(|w| (w.0, w.1));
    }

    /// The member with this label.
    pub fn member(&self, label: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.label() == label)
    }

    /// The member with this signing key.
    pub fn member_by_sign_key(&self, key: &[u8; 32]) -> Option<&Member> {
        self.members.iter().find(|m| m.sign_key() == key)
    }

    /// The member with this X25519 key.
    pub fn member_by_kx_key(&self, key: &[u8; 32]) -> Option<&Member> {
        self.members.iter().find(|m| m.kx_key() == key)
    }

    /// Whether `key` is an owner or admin here.
    pub fn can_administer(&self, key: &[u8; 32]) -> bool {
        self.member_by_sign_key(key)
            .is_some_and(Member::can_administer)
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
