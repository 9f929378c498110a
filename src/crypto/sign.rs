//! Ed25519 signatures over `SIGN_PREFIX || payload` (spec/format.md, "Signed objects").

use super::SIGN_PREFIX;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// `SIGN_PREFIX || payload`: what [`sign`] and [`verify`] hand to Ed25519.
fn prefixed(payload: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGN_PREFIX.len() + payload.len());
    msg.extend_from_slice(SIGN_PREFIX);
    msg.extend_from_slice(payload);
    msg
}

/// Sign a payload.
pub fn sign(key: &SigningKey, payload: &[u8]) -> [u8; 64] {
    sign_raw(key, &prefixed(payload))
}

/// Verify a signature made by [`sign`] strictly (spec/format.md §3.1): `S` below the group
/// order, `A` and `R` canonically encoded and not of small order, and the cofactorless
/// equation `[S]B = R + [k]A` checked by comparing encodings.
pub fn verify(public: &[u8; 32], payload: &[u8], sig: &[u8]) -> bool {
    verify_raw(public, &prefixed(payload), sig)
}

/// Pure Ed25519 (RFC 8032) over `msg` as given, without coffer's domain prefix. Coffer signs
/// only through [`sign`]; this is the primitive beneath it, exposed so that it can be checked
/// against RFC 8032's published vectors (`tests/published_vectors.rs`).
pub fn sign_raw(key: &SigningKey, msg: &[u8]) -> [u8; 64] {
    key.sign(msg).to_bytes()
}

/// The strict verification of [`verify`] over `msg` as given, without coffer's domain prefix
/// (exposed, like [`sign_raw`], for RFC 8032's vectors; coffer verifies only through
/// [`verify`]).
pub fn verify_raw(public: &[u8; 32], msg: &[u8], sig: &[u8]) -> bool {
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
    // verify_strict rejects S >= L, small-order A and R, and (by comparing the recomputed R's
    // canonical encoding with the signature's bytes) any other encoding of R.
    vk.verify_strict(msg, &sig).is_ok()
}
