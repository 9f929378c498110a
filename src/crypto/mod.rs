//! Thin wrappers over vetted primitives (BLAKE3, AES-256-GCM, Ed25519, HPKE, Argon2id),
//! and every domain-separation label in one place (spec/format.md, "Labels").

pub mod aead;
pub mod keys;
pub mod sign;
pub mod wrap;

/// BLAKE3 `derive_key` context: the AES-256-GCM key for blobs, from an epoch key.
pub const LABEL_BLOB_KEY: &str = "coffer v1 2026-11-27 blob encryption key";
/// BLAKE3 `derive_key` context: the AES-256-GCM key for pack headers, from an epoch key.
pub const LABEL_PACK_HEADER_KEY: &str = "coffer v1 2026-11-27 pack header key";
/// BLAKE3 `derive_key` context: the AES-256-GCM key for sealed version fields, from an epoch key.
pub const LABEL_SEAL_KEY: &str = "coffer v1 2026-11-27 version seal key";
/// BLAKE3 `derive_key` context: the keyed-hash key for blob ids, from the dataset dedup key.
pub const LABEL_BLOB_ID_KEY: &str = "coffer v1 2026-11-27 blob id key";
/// BLAKE3 `derive_key` context: the seed of the chunker's gear table, from the dataset dedup key.
pub const LABEL_CHUNKER_KEY: &str = "coffer v1 2026-11-27 chunker gear table";
/// BLAKE3 `derive_key` context: the name of a push claim, from the remote state it builds on.
pub const LABEL_CLAIM: &str = "coffer v1 2026-11-27 push claim";
/// AEAD associated-data prefix for a blob.
pub const AAD_BLOB: &[u8] = b"coffer v1 blob";
/// AEAD associated data prefix, bundles of small blobs (spec §6.4).
pub const AAD_BUNDLE: &[u8] = b"coffer v1 bundle";
/// AEAD associated-data prefix for a pack header.
pub const AAD_PACK_HEADER: &[u8] = b"coffer v1 pack header";
/// AEAD associated-data prefix for a version's sealed field.
pub const AAD_SEAL: &[u8] = b"coffer v1 version seal";
/// AEAD associated-data prefix for a passphrase-locked identity.
pub const AAD_IDENTITY: &[u8] = b"coffer v1 identity";
/// Prefix of every Ed25519 signature input.
pub const SIGN_PREFIX: &[u8] = b"coffer v1 signed object\n";
/// HPKE `info` for wrapping epoch keys to a recipient.
pub const HPKE_INFO_WRAP: &[u8] = b"coffer v1 epoch key wrap";
/// Bech32m human-readable part of public identity strings.
pub const PUBLIC_ID_HRP: &str = "coffer";
