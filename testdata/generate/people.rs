//! The vectors' other identities and how policies wrap keys for them.

use super::counter;
use coffer::crypto::keys::EpochSecret;
use coffer::crypto::wrap;
use coffer::id::Bytes32;
use coffer::identity::Identity;
use coffer::object::policy::{Member, Wrap};

/// Hackney: Ed25519 seed counter 0xa0.., X25519 secret counter 0x80...
pub fn hackney() -> Identity {
    Identity::from_secrets(
        "hackney",
        counter(160, 32).try_into().expect("32"),
        counter(128, 32).try_into().expect("32"),
    )
}

/// The GLA: Ed25519 seed counter 0xc0.., X25519 secret counter 0xe0...
pub fn gla() -> Identity {
    Identity::from_secrets(
        "gla",
        counter(0xc0, 32).try_into().expect("32"),
        counter(0xe0, 32).try_into().expect("32"),
    )
}

/// A member entry.
pub fn member(label: &str, role: &str, id: &Identity) -> Member {
    let p = id.public();
    Member(label.into(), role.into(), Bytes32(p.sign), Bytes32(p.kx))
}

/// `secret` wrapped as `epoch` to each member, with the vectors' deterministic RNG.
pub fn wraps<R: rand_core::CryptoRng + rand_core::RngCore>(
    members: &[Member],
    epoch: u32,
    secret: &EpochSecret,
    rng: &mut R,
) -> Vec<Wrap> {
    members
        .iter()
        .map(|m| {
            let (enc, ct) = wrap::wrap(m.kx_key(), epoch, secret, rng).expect("wrap");
            Wrap(Bytes32(*m.kx_key()), epoch, Bytes32(enc), ct)
        })
        .collect()
}
