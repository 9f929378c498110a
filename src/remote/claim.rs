//! Claims: how concurrent pushes are told apart without trusting the store.
//!
//! Before a push makes its versions visible it writes one claim, named by the state of the
//! remote it builds on (the newest policy and the head versions it saw), holding the signed
//! policies and versions it is about to add. Two pushers building on the same state race for
//! the same name: with `If-None-Match: *` exactly one wins and the other is told to pull.
//! A store that ignores the condition lets both write; each reads the claim back, and if both
//! still see their own, both lines of history land as two heads, which `pull` merges.
//! Versions are immutable and named by their hash, so no interleaving can lose one.
//!
//! A claim carries whole objects so that anyone can finish a push that died between its
//! claim and its last version (spec/format.md, "Claims").

use crate::codec;
use crate::crypto::LABEL_CLAIM;
use crate::error::Result;
use crate::id::Id;
use serde::{Deserialize, Serialize};

/// Envelope kind of a claim.
pub const KIND: &str = "claim";

/// The body of a claim: stored policies and versions, oldest first.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// Envelopes of the new policies, in chain order.
    pub policies: Vec<serde_bytes::ByteBuf>,
    /// Envelopes of the new versions, parents before children.
    pub versions: Vec<serde_bytes::ByteBuf>,
}

impl Claim {
    /// Encode.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(KIND, self)
    }
    /// Decode (strictly, as everything read from a store).
    pub fn decode(bytes: &[u8]) -> Result<Claim> {
        codec::decode(KIND, bytes)
    }
}

/// The name a push builds on: BLAKE3 `derive_key(LABEL_CLAIM)` over the dataset id, the
/// remote's newest policy id and its head version ids in ascending order.
pub fn state_id(dataset: &Id, policy_tip: &Id, heads: &[Id]) -> Id {
    let mut heads = heads.to_vec();
    heads.sort();
    heads.dedup();
    let mut h = blake3::Hasher::new_derive_key(LABEL_CLAIM);
    h.update(&dataset.0);
    h.update(&policy_tip.0);
    for id in &heads {
        h.update(&id.0);
    }
    Id(*h.finalize().as_bytes())
}
