//! Wrapping an epoch secret to a recipient's X25519 key with RFC 9180 HPKE
//! (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, base mode).

use super::keys::EpochSecret;
use super::HPKE_INFO_WRAP;
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, RngCore};

type KemT = X25519HkdfSha256;

/// The associated data of a wrap: binds the epoch number.
pub fn wrap_aad(epoch: u32) -> [u8; 4] {
    epoch.to_be_bytes()
}

/// Wrap `secret` for `recipient` (X25519 public key). Returns `(enc, ciphertext)`.
pub fn wrap<R: CryptoRng + RngCore>(
    recipient: &[u8; 32],
    epoch: u32,
    secret: &EpochSecret,
    rng: &mut R,
) -> Option<([u8; 32], Vec<u8>)> {
    seal_base(
        recipient,
        HPKE_INFO_WRAP,
        &wrap_aad(epoch),
        secret.to_bytes().as_slice(),
        rng,
    )
}

/// Unwrap with the recipient's X25519 secret; `None` if it was not wrapped for this key or
/// was altered.
pub fn unwrap(secret_key: &[u8; 32], epoch: u32, enc: &[u8; 32], ct: &[u8]) -> Option<EpochSecret> {
    let pt = open_base(secret_key, HPKE_INFO_WRAP, &wrap_aad(epoch), enc, ct)?;
    EpochSecret::from_bytes(&pt)
}

/// RFC 9180 single-shot `SealBase(pkR, info, aad, pt)` in coffer's suite, the ephemeral key
/// drawn from `rng`. [`wrap`] is this with `info = HPKE_INFO_WRAP` and `aad = wrap_aad(epoch)`;
/// exposed with free `info` and `aad` so that the published RFC 9180 vectors can be run
/// through it (`tests/published_vectors.rs`).
pub fn seal_base<R: CryptoRng + RngCore>(
    recipient: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    pt: &[u8],
    rng: &mut R,
) -> Option<([u8; 32], Vec<u8>)> {
    let pk = <KemT as Kem>::PublicKey::from_bytes(recipient).ok()?;
    let (enc, ct) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, KemT, _>(
        &OpModeS::Base,
        &pk,
        info,
        pt,
        aad,
        rng,
    )
    .ok()?;
    let enc: [u8; 32] = enc.to_bytes().as_slice().try_into().ok()?;
    Some((enc, ct))
}

/// RFC 9180 single-shot `OpenBase(enc, skR, info, aad, ct)` in coffer's suite; `None` if it
/// does not open. [`unwrap`] is this with `info = HPKE_INFO_WRAP` and `aad = wrap_aad(epoch)`
/// (exposed, like [`seal_base`], for the published vectors).
pub fn open_base(
    secret_key: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    enc: &[u8; 32],
    ct: &[u8],
) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let sk = <KemT as Kem>::PrivateKey::from_bytes(secret_key).ok()?;
    let enc = <KemT as Kem>::EncappedKey::from_bytes(enc).ok()?;
    let pt = hpke::single_shot_open::<AesGcm256, HkdfSha256, KemT>(
        &OpModeR::Base,
        &sk,
        &enc,
        info,
        ct,
        aad,
    )
    .ok()?;
    Some(zeroize::Zeroizing::new(pt))
}

/// The X25519 public key of a secret (via x25519-dalek).
pub fn x25519_public(secret: &[u8; 32]) -> [u8; 32] {
    let s = x25519_dalek::StaticSecret::from(*secret);
    x25519_dalek::PublicKey::from(&s).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trip_and_wrong_key() {
        let sk = [9u8; 32];
        let pk = x25519_public(&sk);
        let s = EpochSecret::generate();
        let (enc, ct) = wrap(&pk, 3, &s, &mut rand_core::OsRng).unwrap();
        let back = unwrap(&sk, 3, &enc, &ct).unwrap();
        assert_eq!(back.data_key, s.data_key);
        assert!(unwrap(&sk, 4, &enc, &ct).is_none());
        assert!(unwrap(&[8u8; 32], 3, &enc, &ct).is_none());
    }
}
