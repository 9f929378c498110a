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
    let pk = <KemT as Kem>::PublicKey::from_bytes(recipient).ok()?;
    let (enc, ct) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, KemT, _>(
        &OpModeS::Base,
        &pk,
        HPKE_INFO_WRAP,
        secret.to_bytes().as_slice(),
        &wrap_aad(epoch),
        rng,
    )
    .ok()?;
    let enc: [u8; 32] = enc.to_bytes().as_slice().try_into().ok()?;
    Some((enc, ct))
}

/// Unwrap with the recipient's X25519 secret; `None` if it was not wrapped for this key or
/// was altered.
pub fn unwrap(secret_key: &[u8; 32], epoch: u32, enc: &[u8; 32], ct: &[u8]) -> Option<EpochSecret> {
    let sk = <KemT as Kem>::PrivateKey::from_bytes(secret_key).ok()?;
    let enc = <KemT as Kem>::EncappedKey::from_bytes(enc).ok()?;
    let pt = zeroize::Zeroizing::new(
        hpke::single_shot_open::<AesGcm256, HkdfSha256, KemT>(
            &OpModeR::Base,
            &sk,
            &enc,
            HPKE_INFO_WRAP,
            ct,
            &wrap_aad(epoch),
        )
        .ok()?,
    );
    EpochSecret::from_bytes(&pt)
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
