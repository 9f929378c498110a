//! Coffer's crypto wrappers against test vectors published by others (not coffer's own
//! `testdata/vectors.json`, which `tests/vectors.rs` checks):
//!
//! * HPKE, RFC 9180: the CFRG's `test-vectors.json` entry for coffer's exact suite, through
//!   `crypto::wrap::{x25519_public, open_base, seal_base}` (which `wrap`/`unwrap` are built on);
//! * Ed25519, RFC 8032 §7.1: TEST 1, TEST 2, TEST 3 and TEST SHA(abc), through
//!   `crypto::sign::{sign_raw, verify_raw}` (the primitive beneath `sign`/`verify`) and
//!   coffer's key type `Identity`, plus coffer's strictness rules;
//! * bech32m, BIP 350: the valid and invalid Bech32m strings, through the `bech32` crate's
//!   decoding that `PublicIdentity::from_str` relies on, and coffer's own identity strings.
//!
//! Every published value is embedded as a constant, with its source beside it.

use bech32::primitives::decode::{CheckedHrpstring, UncheckedHrpstring};
use bech32::{Bech32, Bech32m, Hrp};
use coffer::crypto::keys::EpochSecret;
use coffer::crypto::sign::{self, sign_raw, verify_raw};
use coffer::crypto::wrap::{self, open_base, seal_base, wrap_aad, x25519_public};
use coffer::crypto::{HPKE_INFO_WRAP, PUBLIC_ID_HRP};
use coffer::error::Error;
use coffer::identity::{Identity, PublicIdentity};
use ed25519_dalek::Verifier;
use rand_core::{CryptoRng, RngCore};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn h32(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

// ---------------------------------------------------------------------------------------------
// HPKE (RFC 9180)
// ---------------------------------------------------------------------------------------------

/// One entry of the CFRG HPKE test vectors: mode 0 (base), kem_id 32 (DHKEM(X25519,
/// HKDF-SHA256)), kdf_id 1 (HKDF-SHA256), aead_id 2 (AES-256-GCM) -- exactly coffer's suite,
/// which RFC 9180's Appendix A does not print (A.1 is the AES-128-GCM suite).
///
/// Source: `test-vectors.json` of github.com/cfrg/draft-irtf-cfrg-hpke, as shipped in the
/// `hpke` 0.12.0 crate as `test-vectors-5f503c5.json` (CFRG commit 5f503c5; the file's
/// sha256 is 61fc662f01996cd06d713dacf5e133167bd309a1f329442d53f1e21a47b3ede6). The entry
/// is the only one with this (mode, kem_id, kdf_id, aead_id); `encryptions[0]` is used, the
/// one at sequence number 0, which is all a single-shot seal/open (coffer's use) produces.
mod hpke_vec {
    /// "Ode on a Grecian Urn"
    pub const INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
    pub const IKM_E: &str = "2cd7c601cefb3d42a62b04b7a9041494c06c7843818e0ce28a8f704ae7ab20f9";
    pub const SK_RM: &str = "497b4502664cfea5d5af0b39934dac72242a74f8480451e1aee7d6a53320333d";
    pub const SK_EM: &str = "179d4b53b6365c45b600c4163b61d95cbc2f4d9e36f1695558dce265ab8bab11";
    pub const PK_RM: &str = "430f4b9859665145a6b1ba274024487bd66f03a2dd577d7753c68d7d7d00c00c";
    pub const PK_EM: &str = "6c93e09869df3402d7bf231bf540fadd35cd56be14f97178f0954db94b7fc256";
    pub const ENC: &str = "6c93e09869df3402d7bf231bf540fadd35cd56be14f97178f0954db94b7fc256";
    /// `encryptions[0].aad`: "Count-0".
    pub const AAD0: &str = "436f756e742d30";
    /// `encryptions[0].pt`: "Beauty is truth, truth beauty".
    pub const PT0: &str = "4265617574792069732074727574682c20747275746820626561757479";
    pub const CT0: &str = "e5d84cd531cfb583096e7cfa9641bd3079cf3a91cda813c52deb5f512be9931980a41de125a925cdad859d5b7a";
    /// `encryptions[1].aad`: "Count-1" (used here only as a wrong aad).
    pub const AAD1: &str = "436f756e742d31";
}

/// An "RNG" that replays fixed bytes and panics if asked for more than it holds. The `hpke`
/// crate draws an ephemeral key as `DeriveKeyPair(ikm)` with `ikm` the next 32 bytes of the
/// RNG (`Kem::gen_keypair`), so replaying the vector's `ikmE` makes `seal_base` use the
/// vector's ephemeral key `skEm` -- through the crate's public API, no crypto written here.
/// It is of course not cryptographically secure: `CryptoRng` is implemented only because
/// `seal_base` requires the marker.
struct Replay {
    bytes: Vec<u8>,
    pos: usize,
}

impl Replay {
    fn new(bytes: Vec<u8>) -> Replay {
        Replay { bytes, pos: 0 }
    }

    fn exhausted(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

impl RngCore for Replay {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let end = self.pos + dest.len();
        assert!(
            end <= self.bytes.len(),
            "HPKE asked for more randomness than the vector's ikmE"
        );
        dest.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Replay {}

/// RFC 9180 vector (CFRG, suite 0x0020/0x0001/0x0002, base mode), check (a): coffer's
/// `wrap::x25519_public` (the public half of every identity's X25519 key) maps the vector's
/// `skRm` to `pkRm`, and `skEm` to `pkEm` (which is `enc`, as DHKEM(X25519) serialises it).
#[test]
fn hpke_x25519_public_matches_vector() {
    use hpke_vec::*;
    assert_eq!(x25519_public(&h32(SK_RM)), h32(PK_RM), "pk(skRm) != pkRm");
    assert_eq!(x25519_public(&h32(SK_EM)), h32(PK_EM), "pk(skEm) != pkEm");
    assert_eq!(PK_EM, ENC);
}

/// RFC 9180 vector (CFRG, suite 0x0020/0x0001/0x0002, base mode), check (b): coffer's open
/// path `wrap::open_base` -- `unwrap` is `open_base(sk, HPKE_INFO_WRAP, u32be(epoch), enc, ct)`
/// -- opens the vector's `encryptions[0].ct` with the vector's `skRm`, `info`, `aad` and `enc`
/// to its `pt`; and refuses it under another aad, another info, another key, another `enc`,
/// or with one ciphertext bit flipped.
#[test]
fn hpke_open_base_decrypts_vector() {
    use hpke_vec::*;
    let sk = h32(SK_RM);
    let enc = h32(ENC);
    let ct = h(CT0);
    let pt = open_base(&sk, &h(INFO), &h(AAD0), &enc, &ct).expect("the vector does not open");
    assert_eq!(*pt, h(PT0));

    assert!(open_base(&sk, &h(INFO), &h(AAD1), &enc, &ct).is_none());
    assert!(open_base(&sk, HPKE_INFO_WRAP, &h(AAD0), &enc, &ct).is_none());
    assert!(open_base(&h32(SK_EM), &h(INFO), &h(AAD0), &enc, &ct).is_none());
    assert!(open_base(&sk, &h(INFO), &h(AAD0), &h32(PK_RM), &ct).is_none());
    for i in [0, ct.len() / 2, ct.len() - 1] {
        let mut bad = ct.clone();
        bad[i] ^= 1;
        assert!(open_base(&sk, &h(INFO), &h(AAD0), &enc, &bad).is_none());
    }
}

/// RFC 9180 vector (CFRG, suite 0x0020/0x0001/0x0002, base mode), check (c): coffer's seal
/// path `wrap::seal_base` -- `wrap` is `seal_base(pkR, HPKE_INFO_WRAP, u32be(epoch), secret)`
/// -- given the vector's `ikmE` as its randomness (see [`Replay`]) reproduces the vector's
/// `enc` and `encryptions[0].ct` byte for byte, drawing exactly the 32 bytes of `ikmE`.
#[test]
fn hpke_seal_base_reproduces_vector() {
    use hpke_vec::*;
    let mut rng = Replay::new(h(IKM_E));
    let (enc, ct) = seal_base(&h32(PK_RM), &h(INFO), &h(AAD0), &h(PT0), &mut rng)
        .expect("seal_base refused the vector's recipient key");
    assert!(rng.exhausted(), "the ephemeral key did not come from ikmE");
    assert_eq!(hex::encode(enc), ENC, "enc differs from the vector");
    assert_eq!(hex::encode(ct), CT0, "ct differs from the vector");
}

/// Ties `wrap`/`unwrap` to the vector-checked functions above (no published vector has
/// coffer's info and aad): with the vector's recipient and ephemeral keys, `wrap(pkRm, epoch,
/// secret)` is exactly `seal_base(pkRm, "coffer v1 epoch key wrap", u32be(epoch),
/// data_key || dedup_key)`, and `unwrap` with `skRm` returns the secret, for that epoch only.
#[test]
fn hpke_wrap_is_seal_base_with_coffer_info_and_aad() {
    use hpke_vec::*;
    let secret = EpochSecret {
        data_key: [0x11; 32],
        dedup_key: [0x22; 32],
    };
    let epoch = 0x0102_0304;
    assert_eq!(wrap_aad(epoch), [1, 2, 3, 4]);
    let wrapped = wrap::wrap(&h32(PK_RM), epoch, &secret, &mut Replay::new(h(IKM_E))).unwrap();
    let sealed = seal_base(
        &h32(PK_RM),
        HPKE_INFO_WRAP,
        &[1, 2, 3, 4],
        &*secret.to_bytes(),
        &mut Replay::new(h(IKM_E)),
    )
    .unwrap();
    assert_eq!(wrapped, sealed);
    assert_eq!(hex::encode(wrapped.0), ENC);
    let back = wrap::unwrap(&h32(SK_RM), epoch, &wrapped.0, &wrapped.1).unwrap();
    assert_eq!(back.data_key, secret.data_key);
    assert_eq!(back.dedup_key, secret.dedup_key);
    assert!(wrap::unwrap(&h32(SK_RM), epoch + 1, &wrapped.0, &wrapped.1).is_none());
}

// ---------------------------------------------------------------------------------------------
// Ed25519 (RFC 8032)
// ---------------------------------------------------------------------------------------------

/// One of RFC 8032 §7.1's Ed25519 test vectors: secret key (the 32-byte seed), public key,
/// message, signature.
struct Ed25519Vector {
    name: &'static str,
    secret: &'static str,
    public: &'static str,
    message: &'static str,
    signature: &'static str,
}

/// RFC 8032 (Edwards-Curve Digital Signature Algorithm), §7.1 "Test Vectors for Ed25519":
/// TEST 1, TEST 2, TEST 3 and TEST SHA(abc) (TEST 1024, with its 1023-byte message, is left
/// out). https://www.rfc-editor.org/rfc/rfc8032#section-7.1
const RFC8032: [Ed25519Vector; 4] = [
    Ed25519Vector {
        name: "TEST 1",
        secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        message: "",
        signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    },
    Ed25519Vector {
        name: "TEST 2",
        secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        message: "72",
        signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    },
    Ed25519Vector {
        name: "TEST 3",
        secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        message: "af82",
        signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    },
    Ed25519Vector {
        name: "TEST SHA(abc)",
        secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        public: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        message: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    },
];

/// The group order L = 2^252 + 27742317777372353535851937790883648493 (RFC 8032 §5.1),
/// little-endian, built from the RFC's decimal constant.
fn group_order_le() -> [u8; 32] {
    let mut l = [0u8; 32];
    l[..16].copy_from_slice(&27742317777372353535851937790883648493u128.to_le_bytes());
    l[31] = 0x10;
    l
}

/// `sig` with `S` replaced by `S + L`: the same point equation, but a non-canonical scalar.
fn add_order_to_s(sig: &[u8; 64]) -> [u8; 64] {
    let l = group_order_le();
    let mut out = *sig;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(sig[32 + i]) + u16::from(l[i]) + carry;
        out[32 + i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    out
}

/// RFC 8032 §7.1 TEST 1, 2, 3 and SHA(abc), through coffer's signing key type and raw
/// signing path: `Identity::from_secrets` with the RFC's secret key has the RFC's public key
/// as its `public().sign`, `sign::sign_raw(identity.signing_key(), message)` (the primitive
/// under `sign::sign`) is the RFC's signature byte for byte, and `sign::verify_raw` (the
/// strict verification under `sign::verify`) accepts it and refuses it after any of several
/// one-bit flips (in R, in S, in the message, in the public key).
#[test]
fn ed25519_rfc8032_sign_and_verify() {
    for v in &RFC8032 {
        let id = Identity::from_secrets(v.name, h32(v.secret), [0; 32]);
        let public = h32(v.public);
        assert_eq!(id.public().sign, public, "{}: public key", v.name);
        let msg = h(v.message);
        let sig = sign_raw(id.signing_key(), &msg);
        assert_eq!(hex::encode(sig), v.signature, "{}: signature", v.name);
        assert!(verify_raw(&public, &msg, &sig), "{}: refused", v.name);

        for bit in [0, 7, 8 * 31 + 6, 8 * 32, 8 * 40 + 3, 8 * 63 + 3] {
            let mut bad = sig;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                !verify_raw(&public, &msg, &bad),
                "{}: sig bit {bit}",
                v.name
            );
        }
        let mut bad_msg = msg.clone();
        match bad_msg.first_mut() {
            Some(b) => *b ^= 1,
            None => bad_msg.push(0),
        }
        assert!(!verify_raw(&public, &bad_msg, &sig), "{}: message", v.name);
        let mut bad_key = public;
        bad_key[0] ^= 1;
        assert!(!verify_raw(&bad_key, &msg, &sig), "{}: key", v.name);
    }
}

/// RFC 8032 §7.1 TEST SHA(abc): its message is SHA-512("abc") (checked here with `sha2`, so
/// the 64 message bytes above are not mistyped).
#[test]
fn ed25519_rfc8032_sha_abc_message_is_sha512_of_abc() {
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha512::digest(b"abc")),
        RFC8032[3].message
    );
}

/// Coffer's domain separation over the RFC 8032 keys: `sign::sign` signs
/// `SIGN_PREFIX || payload` (so its signature of the RFC message is not the RFC's), and
/// `sign::verify` accepts it, refuses it under `verify_raw` without the prefix, and refuses
/// the RFC's own signature of the bare message.
#[test]
fn ed25519_coffer_sign_is_prefixed_rfc8032() {
    for v in &RFC8032 {
        let id = Identity::from_secrets(v.name, h32(v.secret), [0; 32]);
        let public = h32(v.public);
        let msg = h(v.message);
        let sig = sign::sign(id.signing_key(), &msg);
        let mut prefixed = coffer::crypto::SIGN_PREFIX.to_vec();
        prefixed.extend_from_slice(&msg);
        assert_eq!(sig, sign_raw(id.signing_key(), &prefixed), "{}", v.name);
        assert!(sign::verify(&public, &msg, &sig), "{}", v.name);
        assert!(verify_raw(&public, &prefixed, &sig), "{}", v.name);
        assert!(!verify_raw(&public, &msg, &sig), "{}", v.name);
        assert!(!sign::verify(&public, &msg, &h(v.signature)), "{}", v.name);
    }
}

/// Coffer's strictness rule 2 (spec/format.md §3.1, RFC 8032 §5.1.7 step 1): an RFC 8032
/// signature with `S` replaced by `S + L` satisfies the same group equation but is refused,
/// by `verify_raw` for the RFC's signatures and by `verify` for coffer's own signatures made
/// with the RFC keys.
#[test]
fn ed25519_non_canonical_s_is_refused() {
    for v in &RFC8032 {
        let public = h32(v.public);
        let msg = h(v.message);
        let sig: [u8; 64] = h(v.signature).try_into().unwrap();
        let high = add_order_to_s(&sig);
        assert_ne!(high, sig);
        assert!(
            !verify_raw(&public, &msg, &high),
            "{}: S + L accepted",
            v.name
        );

        let id = Identity::from_secrets(v.name, h32(v.secret), [0; 32]);
        let ours = sign::sign(id.signing_key(), b"payload");
        assert!(sign::verify(&public, b"payload", &ours));
        let high = add_order_to_s(&ours);
        assert!(
            !sign::verify(&public, b"payload", &high),
            "{}: S + L accepted",
            v.name
        );
    }
}

/// Coffer's strictness rule 3 (spec/format.md §3.1): a small-order public key is refused.
/// With `A` the identity point (encoding `01 00..00`, order 1) the cofactorless equation
/// `[S]B = R + [k]A` reduces to `[S]B = R`, so `R = B, S = 1` "signs" every message: the
/// lenient `ed25519_dalek::VerifyingKey::verify` accepts it (showing the equation holds),
/// coffer's `verify_raw` and `verify` refuse it. Other small-order keys (order 2 and 8, as
/// `ed25519_dalek`'s `is_weak` confirms) are refused with the RFC signatures too.
#[test]
fn ed25519_small_order_key_is_refused() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut forged = [0u8; 64];
    forged[..32]
        .copy_from_slice(curve25519_dalek::constants::ED25519_BASEPOINT_COMPRESSED.as_bytes());
    forged[32] = 1;
    for v in &RFC8032 {
        let msg = h(v.message);
        let lenient = ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap();
        assert!(
            lenient
                .verify(&msg, &ed25519_dalek::Signature::from_bytes(&forged))
                .is_ok(),
            "the forged signature should satisfy the cofactorless equation"
        );
        assert!(!verify_raw(&identity, &msg, &forged), "{}", v.name);
        assert!(!sign::verify(&identity, &msg, &forged), "{}", v.name);
    }

    // (0, -1), of order 2, and two points of order 8.
    let others = [
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    ];
    for k in others {
        let k = h32(k);
        assert!(ed25519_dalek::VerifyingKey::from_bytes(&k)
            .unwrap()
            .is_weak());
        for v in &RFC8032 {
            assert!(!verify_raw(&k, &h(v.message), &h(v.signature)));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// bech32m (BIP 350)
// ---------------------------------------------------------------------------------------------

/// BIP 350, "Test vectors for Bech32m": the strings listed as valid Bech32m.
/// https://github.com/bitcoin/bips/blob/master/bip-0350.mediawiki (read at bitcoin/bips
/// commit 7fe0b034ec967b52a5a28276419117326df93263).
const BIP350_VALID: [&str; 7] = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
];

/// BIP 350, same section: the strings listed as not valid Bech32m, with the BIP's reason.
const BIP350_INVALID: [(&str, &str); 14] = [
    ("\u{20}1xj0phk", "HRP character out of range"),
    ("\u{7f}1g6xzxy", "HRP character out of range"),
    ("\u{80}1vctc34", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
        "overall max length exceeded",
    ),
    ("qyrz8wqd2c9m", "No separator character"),
    ("1qyrz8wqd2c9m", "Empty HRP"),
    ("y1b0jsk6g", "Invalid data character"),
    ("lt1igcx5c0", "Invalid data character"),
    ("in1muywd", "Too short checksum"),
    ("mm1crxm3i", "Invalid character in checksum"),
    ("au1s5cgom", "Invalid character in checksum"),
    ("M1VUXWEZ", "checksum calculated with uppercase form of HRP"),
    ("16plkw9", "empty HRP"),
    ("1p2gdwpf", "empty HRP"),
];

/// BIP 350's valid Bech32m strings pass the checksum code coffer relies on: the `bech32`
/// crate's `CheckedHrpstring::new::<Bech32m>` (the Bech32m check inside `bech32::decode`,
/// which `PublicIdentity::from_str` calls) accepts each, `bech32::decode` itself accepts
/// each, and none has a valid Bech32 (non-m) checksum (BIP 350: "no string can be
/// simultaneously valid Bech32 and Bech32m"). Any single-character substitution in the data
/// part is caught by the Bech32m check. And `PublicIdentity::from_str` refuses them all, none
/// having coffer's HRP and 64-byte payload.
#[test]
fn bech32m_bip350_valid_strings() {
    const CHARSET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    for s in BIP350_VALID {
        CheckedHrpstring::new::<Bech32m>(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        bech32::decode(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(
            !UncheckedHrpstring::new(s)
                .unwrap()
                .has_valid_checksum::<Bech32>(),
            "{s} also has a valid bech32 checksum"
        );
        let sep = s.rfind('1').unwrap();
        for i in sep + 1..s.len() {
            for c in CHARSET.chars() {
                let orig = s.as_bytes()[i].to_ascii_lowercase() as char;
                if c == orig {
                    continue;
                }
                let mut t = s.to_ascii_lowercase();
                t.replace_range(i..i + 1, &c.to_string());
                assert!(
                    CheckedHrpstring::new::<Bech32m>(&t).is_err(),
                    "{s}: substitution at {i} undetected"
                );
            }
        }
        assert!(s.parse::<PublicIdentity>().is_err(), "{s}");
    }
}

/// BIP 350's invalid Bech32m strings are refused by the Bech32m check
/// (`CheckedHrpstring::new::<Bech32m>`) and by `bech32::decode` (which also tries Bech32).
/// The BIP's 90-character limit, which coffer lifts (spec/format.md §10.4), is not what
/// catches the "overall max length exceeded" string here: its 84-character HRP is over
/// BIP 173's 83-character HRP limit, which the crate does enforce.
#[test]
fn bech32m_bip350_invalid_strings() {
    for (s, why) in BIP350_INVALID {
        assert!(
            CheckedHrpstring::new::<Bech32m>(s).is_err(),
            "{s:?} ({why}) accepted as bech32m"
        );
        assert!(
            bech32::decode(s).is_err(),
            "{s:?} ({why}) accepted by bech32::decode"
        );
    }
}

/// Keys for coffer identity strings: RFC 8032 TEST 1's Ed25519 key and the RFC 9180 vector's
/// X25519 recipient key, so the payload (`sign_public || kx_public`) is published bytes.
fn published_identity() -> Identity {
    Identity::from_secrets("rfc", h32(RFC8032[0].secret), h32(hpke_vec::SK_RM))
}

/// Coffer's encoding of [`published_identity`]: bech32m, HRP `coffer`, over RFC 8032 TEST 1's
/// public key followed by the RFC 9180 vector's `pkRm` (coffer's own format, not a published
/// vector; its payload is checked independently below with the `bech32` primitives, and the
/// string was cross-checked once against BIP 350's reference algorithm in Python).
const PUBLISHED_IDENTITY: &str = "coffer16adfsqvzky9t042tlmfujeq88g8wzuhnm2nzxfd0qgdx3ac82ydyxr6tnpvkv52956cm5f6qy3y8h4n0qw3d64mawafudrta05qvqrq5xv0cj";

/// The same payload and HRP with a Bech32 (BIP 173, constant 1) checksum instead: only the
/// last six characters differ (also cross-checked with the reference algorithm).
const PUBLISHED_IDENTITY_BECH32: &str = "coffer16adfsqvzky9t042tlmfujeq88g8wzuhnm2nzxfd0qgdx3ac82ydyxr6tnpvkv52956cm5f6qy3y8h4n0qw3d64mawafudrta05qvqrqp6uras";

/// A coffer public identity (116 characters, beyond BIP 173/350's 90-character limit, which
/// coffer lifts) is bech32m over the published keys: it is what `Display` writes, the
/// Bech32m check of the `bech32` crate accepts it and yields exactly `pk(TEST 1) || pkRm`, it
/// has no valid Bech32 checksum, and `PublicIdentity::from_str` parses it back.
#[test]
fn coffer_identity_string_parses() {
    let public = published_identity().public();
    assert_eq!(public.sign, h32(RFC8032[0].public));
    assert_eq!(public.kx, h32(hpke_vec::PK_RM));
    let s = public.to_string();
    assert_eq!(s, PUBLISHED_IDENTITY);
    assert_eq!(s.len(), 116);

    let checked = CheckedHrpstring::new::<Bech32m>(&s).unwrap();
    assert_eq!(checked.hrp().as_str(), PUBLIC_ID_HRP);
    let data: Vec<u8> = checked.byte_iter().collect();
    let mut expected = h(RFC8032[0].public);
    expected.extend(h(hpke_vec::PK_RM));
    assert_eq!(data, expected);
    assert!(!UncheckedHrpstring::new(&s)
        .unwrap()
        .has_valid_checksum::<Bech32>());

    assert_eq!(s.parse::<PublicIdentity>().unwrap(), public);
    assert_eq!(
        format!("  {s}\n").parse::<PublicIdentity>().unwrap(),
        public
    );
}

/// Changing any one character of a coffer identity string, to any other bech32 character
/// (or, in the HRP, to another letter), is refused by `PublicIdentity::from_str` with
/// `Error::BadPublicIdentity`; so are the uppercase form (valid bech32m, but coffer requires
/// lowercase) and a copy missing its last character.
#[test]
fn coffer_identity_string_one_char_change_refused() {
    const CHARSET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let s = PUBLISHED_IDENTITY;
    let mut tried = 0;
    for i in 0..s.len() {
        let orig = s.as_bytes()[i] as char;
        for c in CHARSET.chars().chain("bio1".chars()) {
            if c == orig {
                continue;
            }
            let mut t = s.to_string();
            t.replace_range(i..i + 1, &c.to_string());
            match t.parse::<PublicIdentity>() {
                Err(Error::BadPublicIdentity(_)) => {}
                other => panic!("{t} (position {i}): {other:?}"),
            }
            tried += 1;
        }
    }
    assert!(tried > 116 * 30);

    let upper = s.to_ascii_uppercase();
    CheckedHrpstring::new::<Bech32m>(&upper).unwrap();
    assert!(matches!(
        upper.parse::<PublicIdentity>(),
        Err(Error::BadPublicIdentity(_))
    ));
    assert!(matches!(
        s[..s.len() - 1].parse::<PublicIdentity>(),
        Err(Error::BadPublicIdentity(_))
    ));
}

/// The same payload with a Bech32 (BIP 173, non-m) checksum: the `bech32` crate's `decode`
/// accepts it (it takes either checksum), but `PublicIdentity::from_str` refuses it, as
/// spec/format.md §10.4 requires, with an error that names the problem.
#[test]
fn coffer_identity_with_bech32_checksum_refused() {
    let public = published_identity().public();
    let mut data = public.sign.to_vec();
    data.extend_from_slice(&public.kx);
    let hrp = Hrp::parse(PUBLIC_ID_HRP).unwrap();
    let plain = bech32::encode::<Bech32>(hrp, &data).unwrap();
    assert_eq!(plain, PUBLISHED_IDENTITY_BECH32);
    assert_eq!(
        plain[..110],
        PUBLISHED_IDENTITY[..110],
        "only the checksum differs"
    );
    assert!(CheckedHrpstring::new::<Bech32m>(&plain).is_err());
    assert_eq!(bech32::decode(&plain).unwrap().1, data);

    let err = plain.parse::<PublicIdentity>().unwrap_err();
    assert!(matches!(err, Error::BadPublicIdentity(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("not a bech32m checksum"), "{msg}");
}
