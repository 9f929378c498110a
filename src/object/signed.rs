//! Signed objects: `envelope("signed", {payload, signature})`, where `payload` is itself an
//! envelope and the signature is Ed25519 over `SIGN_PREFIX || payload` (spec/format.md).

use crate::codec;
use crate::crypto::sign;
use crate::error::{Error, Result};
use crate::id::Id;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Envelope kind of the outer wrapper.
pub const KIND: &str = "signed";
/// Reason given when stored bytes do not hash to their name.
pub const MISNAMED: &str = "content does not hash to its name";
/// Reason given when a signature does not verify.
pub const BAD_SIGNATURE: &str = "signature does not verify";

#[derive(Serialize, Deserialize)]
struct SignedBody {
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    #[serde(with = "serde_bytes")]
    signature: Vec<u8>,
}

/// Sign `payload` (an encoded envelope) and wrap it. Returns `(id, stored bytes)`.
pub fn seal(key: &ed25519_dalek::SigningKey, payload: Vec<u8>) -> (Id, Vec<u8>) {
    let signature = sign::sign(key, &payload).to_vec();
    let bytes = codec::encode(KIND, &SignedBody { payload, signature });
    (Id::of_stored(&bytes), bytes)
}

/// Unwrap stored bytes of an object of `kind` named `id`: check the name, the encoding and
/// hand back `(payload, signature)`; the caller decodes the payload to learn who must have
/// signed it and then calls [`check_signature`].
pub fn open(kind: &'static str, id: &Id, bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let corrupt = |reason: String| Error::Corrupt {
        kind,
        id: *id,
        reason,
    };
    if Id::of_stored(bytes) != *id {
        return Err(corrupt(MISNAMED.into()));
    }
    let b: SignedBody = codec::decode(KIND, bytes).map_err(|e| match e {
        Error::UnknownVersion { .. } => e,
        other => corrupt(other.to_string()),
    })?;
    if b.signature.len() != 64 {
        return Err(corrupt("signature is not 64 bytes".into()));
    }
    Ok((b.payload, b.signature))
}

/// Check a signature over a payload, naming the object on failure.
pub fn check_signature(
    kind: &'static str,
    id: &Id,
    signer: &[u8; 32],
    payload: &[u8],
    signature: &[u8],
) -> Result<()> {
    if sign::verify(signer, payload, signature) {
        Ok(())
    } else {
        Err(Error::Corrupt {
            kind,
            id: *id,
            reason: BAD_SIGNATURE.into(),
        })
    }
}

/// Open a signed object named `id` whose payload is an envelope of `kind`: check the name and
/// both encodings, then the signature by the key `signer` reads from the decoded payload.
pub fn open_payload<T: DeserializeOwned + Serialize>(
    kind: &'static str,
    id: &Id,
    bytes: &[u8],
    signer: impl Fn(&T) -> [u8; 32],
) -> Result<T> {
    let (payload, sig) = open(kind, id, bytes)?;
    let value: T = codec::decode(kind, &payload).map_err(|e| match e {
        Error::UnknownVersion { .. } => e,
        other => Error::Corrupt {
            kind,
            id: *id,
            reason: other.to_string(),
        },
    })?;
    check_signature(kind, id, &signer(&value), &payload, &sig)?;
    Ok(value)
}
