//! Ed25519 signatures over `SIGN_PREFIX || payload` (spec/format.md, "Signed objects").

use super::SIGN_PREFIX;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Sign a payload.
pub fn sign(key: &SigningKey, payload: &[u8]) -> [u8; 64] {
    let mut msg = Vec::with_capacity(SIGN_PREFIX.len() + payload.len());
    msg.extend_from_slice(SIGN_PREFIX);
    msg.extend_from_slice(payload);
    key.sign(&msg).to_bytes()
}

/// Verify a signature made by [`sign`]; strict verification (no malleable encodings).
pub fn verify(public: &[u8; 32], payload: &[u8], sig: &[u8]) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(public) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(sig) else {
        return false;
    };
    let mut msg = Vec::with_capacity(SIGN_PREFIX.len() + payload.len());
    msg.extend_from_slice(SIGN_PREFIX);
    msg.extend_from_slice(payload);
    vk.verify_strict(&msg, &sig).is_ok() && vk.verify(&msg, &sig).is_ok()
}
