//! Ed25519 signatures over `SIGN_PREFIX || payload` (spec/format.md, "Signed objects").

use super::SIGN_PREFIX;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// Sign a payload.
pub fn sign(key: &SigningKey, payload: &[u8]) -> [u8; 64] {
    let mut msg = Vec::with_capacity(SIGN_PREFIX.len() + payload.len());
    msg.extend_from_slice(SIGN_PREFIX);
    msg.extend_from_slice(payload);
    key.sign(&msg).to_bytes()
}

/// Verify a signature made by [`sign`] strictly (spec/format.md §3.1): `S` below the group
/// order, `A` and `R` canonically encoded and not of small order, and the cofactorless
/// equation `[S]B = R + [k]A` checked by comparing encodings.
pub fn verify(public: &[u8; 32], payload: &[u8], sig: &[u8]) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(public) else {
        return false;
    };
    // ed25519-dalek decompresses y >= p and "negative zero" x without complaint: a key has
    // one encoding only.
    if vk.to_edwards().compress().to_bytes() != *public {
        return false;
    }
    let Ok(sig) = Signature::from_slice(sig) else {
        return false;
    };
    let mut msg = Vec::with_capacity(SIGN_PREFIX.len() + payload.len());
    msg.extend_from_slice(SIGN_PREFIX);
    msg.extend_from_slice(payload);
    // verify_strict rejects S >= L, small-order A and R, and (by comparing the recomputed R's
    // canonical encoding with the signature's bytes) any other encoding of R.
    vk.verify_strict(&msg, &sig).is_ok()
}
