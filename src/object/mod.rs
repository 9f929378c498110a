//! The stored object types, one module each (spec/format.md, "Objects").

pub mod blob;
pub mod pack;
pub mod policy;
pub mod signed;
pub mod tree;
pub mod version;

/// Largest plaintext of one blob: chunks are far smaller; this bounds trees.
pub const MAX_BLOB_SIZE: usize = 64 * 1024 * 1024;
