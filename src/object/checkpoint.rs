//! Checkpoints and cosignatures (spec/format.md §10.5): a writer's signed statement of what a
//! store held at a time (the policy in force and the heads), fresh until it expires; and a
//! witness's signed statement that it checked one. Whether either counts is for
//! [`crate::rules::checkpoint`].

use super::policy::MAX_HEADS;
use super::signed;
use crate::codec;
use crate::error::{Error, Result};
use crate::id::{Bytes32, Id};
use serde::{Deserialize, Serialize};

/// Envelope kind of a checkpoint payload.
pub const KIND: &str = "checkpoint";
/// Envelope kind of a cosignature payload.
pub const COSIGN_KIND: &str = "cosignature";
/// How long a checkpoint stays fresh when the policy sets no audit expiry: 7 days.
pub const DEFAULT_EXPIRY: u64 = 7 * 86_400;

/// A checkpoint. Field order is the canonical key order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// When it was signed, seconds since the Unix epoch, UTC.
    pub time: u64,
    /// The heads of the history the store held, strictly ascending, at most 256.
    pub heads: Vec<Id>,
    /// The newest accepted policy the store held.
    pub policy: Id,
    /// Ed25519 key of the signer: a writer, admin or owner.
    pub signer: Bytes32,
    /// The dataset id.
    pub dataset: Id,
    /// When it stops being fresh: after `time`, by no more than the policy's audit expiry.
    pub expires: u64,
}

/// A witness's cosignature of one checkpoint. Field order is the canonical key order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Cosignature {
    /// When it was signed.
    pub time: u64,
    /// Ed25519 key of the witness.
    pub signer: Bytes32,
    /// The dataset id.
    pub dataset: Id,
    /// The checkpoint it vouches for.
    pub checkpoint: Id,
}

fn corrupt(kind: &'static str, id: &Id, reason: String) -> Error {
    Error::Corrupt {
        kind,
        id: *id,
        reason,
    }
}

impl Checkpoint {
    /// Sign and encode. Returns `(id, stored bytes)`.
    pub fn sign(&self, key: &ed25519_dalek::SigningKey) -> (Id, Vec<u8>) {
        signed::seal(key, codec::encode(KIND, self))
    }

    /// Decode stored bytes named `id`: name, encoding, structure and the signer's signature.
    pub fn open(id: &Id, bytes: &[u8]) -> Result<Checkpoint> {
        let c: Checkpoint = signed::open_payload(KIND, id, bytes, |c: &Checkpoint| c.signer.0)?;
        if c.heads.len() > MAX_HEADS || !c.heads.windows(2).all(|w| w[0] < w[1]) {
            return Err(corrupt(
                KIND,
                id,
                format!("heads not sorted, repeated, or more than {MAX_HEADS}"),
            ));
        }
        if c.expires <= c.time {
            return Err(corrupt(KIND, id, "expires before it was signed".into()));
        }
        Ok(c)
    }
}

impl Cosignature {
    /// Sign and encode. Returns `(id, stored bytes)`.
    pub fn sign(&self, key: &ed25519_dalek::SigningKey) -> (Id, Vec<u8>) {
        signed::seal(key, codec::encode(COSIGN_KIND, self))
    }

    /// Decode stored bytes named `id`: name, encoding and the witness's signature.
    pub fn open(id: &Id, bytes: &[u8]) -> Result<Cosignature> {
        signed::open_payload(COSIGN_KIND, id, bytes, |c: &Cosignature| c.signer.0)
    }
}
