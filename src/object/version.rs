//! Version manifests: signed, chained by parents and sequence number; the root tree and
//! message are sealed so the store learns only who committed when (spec/format.md, "Versions").

use super::signed;
use crate::codec;
use crate::crypto::keys::EpochKeys;
use crate::crypto::AAD_SEAL;
use crate::error::{Error, Result};
use crate::id::{Bytes32, Id};
use serde::{Deserialize, Serialize};

/// Envelope kind of a version payload.
pub const KIND: &str = "version";
/// Envelope kind of the sealed part.
pub const SEAL_KIND: &str = "version-seal";
/// Most parents a version may have.
pub const MAX_PARENTS: usize = 16;

/// The signed, readable-without-keys part. Field order is the canonical key order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Version {
    /// 1 + the largest parent seq; 1 for a first version.
    pub seq: u64,
    /// Commit time, seconds since the Unix epoch, UTC.
    pub time: u64,
    /// Epoch whose keys sealed this version and its new blobs.
    pub epoch: u32,
    /// Every pack holding a blob reachable from the root, sorted ascending, no duplicates.
    pub packs: Vec<Id>,
    /// Ed25519 public key of the signer.
    pub author: Bytes32,
    /// The policy in force when the version was made: the author must be a writer in it,
    /// and `epoch` must be its current epoch.
    pub policy: Id,
    /// `nonce || AES-GCM(seal key, envelope("version-seal", Seal))`.
    #[serde(with = "serde_bytes")]
    pub sealed: Vec<u8>,
    /// The dataset this version belongs to.
    pub dataset: Id,
    /// Parent version ids, sorted ascending.
    pub parents: Vec<Id>,
}

/// The sealed part, readable with the epoch key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// Root tree id.
    pub root: Id,
    /// Total bytes of regular files.
    pub bytes: u64,
    /// Number of regular files.
    pub files: u64,
    /// Commit message.
    pub message: String,
}

/// Associated data of the seal: dataset id, sequence number and epoch.
pub fn seal_aad(dataset: &Id, seq: u64, epoch: u32) -> Vec<u8> {
    let mut a = AAD_SEAL.to_vec();
    a.extend_from_slice(&dataset.0);
    a.extend_from_slice(&seq.to_be_bytes());
    a.extend_from_slice(&epoch.to_be_bytes());
    a
}

impl Seal {
    /// Encrypt for a version with these coordinates.
    pub fn seal(&self, keys: &EpochKeys, dataset: &Id, seq: u64) -> Vec<u8> {
        keys.seal.seal(
            &seal_aad(dataset, seq, keys.epoch),
            &codec::encode(SEAL_KIND, self),
        )
    }

    /// [`Seal::seal`] with a chosen nonce (known-answer vectors only).
    pub fn seal_with_nonce(
        &self,
        keys: &EpochKeys,
        dataset: &Id,
        seq: u64,
        nonce: &[u8; 12],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let aad = seal_aad(dataset, seq, keys.epoch);
        keys.seal
            .seal_with_nonce_into(nonce, &aad, &codec::encode(SEAL_KIND, self), &mut out);
        out
    }
}

impl Version {
    /// Sign and encode. Returns `(id, stored bytes)`.
    pub fn sign(&self, key: &ed25519_dalek::SigningKey) -> (Id, Vec<u8>) {
        signed::seal(key, codec::encode(KIND, self))
    }

    /// Decode stored bytes named `id`; checks name, encoding, structure and the author's
    /// signature. Whether the author was allowed to sign is the caller's (policy) check.
    pub fn open(id: &Id, bytes: &[u8]) -> Result<Version> {
        let v: Version = signed::open_payload(KIND, id, bytes, |v: &Version| v.author.0)?;
        let corrupt = |reason: String| Error::Corrupt {
            kind: "version",
            id: *id,
            reason,
        };
        if v.seq == 0 {
            return Err(corrupt("sequence number 0".into()));
        }
        if v.parents.len() > MAX_PARENTS || !v.parents.windows(2).all(|w| w[0] < w[1]) {
            return Err(corrupt("parents not sorted, duplicated or too many".into()));
        }
        if !v.packs.windows(2).all(|w| w[0] < w[1]) {
            return Err(corrupt("pack list not sorted or duplicated".into()));
        }
        Ok(v)
    }

    /// Decrypt the sealed part.
    pub fn unseal(&self, id: &Id, keys: &EpochKeys) -> Result<Seal> {
        let corrupt = |reason: String| Error::Corrupt {
            kind: "version",
            id: *id,
            reason,
        };
        let plain = keys
            .seal
            .open(&seal_aad(&self.dataset, self.seq, self.epoch), &self.sealed)
            .ok_or_else(|| corrupt("sealed part does not decrypt".into()))?;
        codec::decode(SEAL_KIND, &plain).map_err(|e| corrupt(e.to_string()))
    }
}
