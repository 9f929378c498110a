//! coffer: a content-addressed, versioned, encrypted vault for datasets that organisations
//! share but may not publish.
//!
//! A folder becomes a Merkle tree of content-defined chunks (BLAKE3-addressed, zstd-compressed,
//! AES-256-GCM-sealed, grouped in packs); each version is a manifest signed with Ed25519; the
//! dataset's keys are wrapped per member with HPKE. The format is specified in `spec/`.
//!
//! Layout: [`codec`] (canonical CBOR), [`crypto`] (primitives and labels), [`chunking`],
//! [`object`] (one module per stored type), [`store`] (object_store access), [`repo`] (a dataset
//! on disk: commit, checkout, caches), [`rules`] (which policies and versions are trusted),
//! [`sharing`] (changing and reporting access), [`history`], [`diff`], [`verify`], [`audit`]
//! (the keyless check from a store, its HTML page), [`witness`] (cosigning checkpoints),
//! [`hub`] (datasets in a bucket), [`rowdiff`] (row differences of tables), [`identity`],
//! [`interrupt`], [`testhook`] (pause points and the test clock).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod chunking;
pub mod codec;
pub mod crypto;
pub mod diff;
pub mod error;
pub mod history;
pub mod hub;
pub mod id;
pub mod identity;
pub mod interrupt;
pub mod object;
pub mod remote;
pub mod repo;
pub mod rowdiff;
pub mod rules;
pub mod sharing;
pub mod store;
pub mod testhook;
pub mod verify;
pub mod witness;

pub use error::{Error, Result};
pub use id::Id;
