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

/// Unwrap stored bytes of an object of `kind` named `id`: check the name and the encoding
/// and hand back `(payload, signature)` (the signature is checked by [`open_payload`]).
fn open(kind: &'static str, id: &Id, bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
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

/// Objects whose signature this process has verified, by id. An id is the hash of the
/// whole stored object (payload and signature), so bytes that hash to a verified id are the
/// verified bytes: history is judged many times per command, signatures need checking once.
static VERIFIED: std::sync::Mutex<Option<std::collections::HashSet<Id>>> =
    std::sync::Mutex::new(None);

/// Most ids remembered (32 MiB); beyond that, signatures are simply checked again.
const MAX_VERIFIED: usize = 1 << 20;

/// Check a signature over a payload, naming the object on failure. `id` must be the hash of
/// the stored bytes that carry `payload` and `signature` (callers check it first).
fn check_signature(
    kind: &'static str,
    id: &Id,
    signer: &[u8; 32],
    payload: &[u8],
    signature: &[u8],
) -> Result<()> {
    let seen = |f: &dyn Fn(&mut std::collections::HashSet<Id>) -> bool| {
        let mut g = VERIFIED.lock().unwrap_or_else(|p| p.into_inner());
        f(g.get_or_insert_with(Default::default))
    };
    if seen(&|s| s.contains(id)) {
        return Ok(());
    }
    if sign::verify(signer, payload, signature) {
        seen(&|s| s.len() < MAX_VERIFIED && s.insert(*id));
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
