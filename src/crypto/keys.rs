//! Key material of a dataset epoch and the subkeys derived from it (spec/format.md, "Keys").

use super::aead::AeadKey;
use super::*;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The secret a recipient unwraps for one epoch: the epoch's data key and the dataset's
/// dedup key (the same in every epoch, so unchanged content deduplicates across epochs).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EpochSecret {
    /// Encrypts blobs, pack headers and sealed version fields of this epoch.
    pub data_key: [u8; 32],
    /// Keys blob ids and the chunker; constant for the dataset.
    pub dedup_key: [u8; 32],
}

impl EpochSecret {
    /// Serialized form inside an HPKE wrap: `data_key || dedup_key`.
    pub fn to_bytes(&self) -> zeroize::Zeroizing<[u8; 64]> {
        let mut b = zeroize::Zeroizing::new([0u8; 64]);
        b[..32].copy_from_slice(&self.data_key);
        b[32..].copy_from_slice(&self.dedup_key);
        b
    }

    /// Parse the 64-byte wrapped form.
    pub fn from_bytes(b: &[u8]) -> Option<EpochSecret> {
        if b.len() != 64 {
            return None;
        }
        let mut s = EpochSecret {
            data_key: [0; 32],
            dedup_key: [0; 32],
        };
        s.data_key.copy_from_slice(&b[..32]);
        s.dedup_key.copy_from_slice(&b[32..]);
        Some(s)
    }

    /// Fresh random secret (a new dataset's first epoch).
    pub fn generate() -> EpochSecret {
        use rand_core::{OsRng, RngCore};
        let mut s = EpochSecret {
            data_key: [0; 32],
            dedup_key: [0; 32],
        };
        OsRng.fill_bytes(&mut s.data_key);
        OsRng.fill_bytes(&mut s.dedup_key);
        s
    }
}

/// Working keys of one epoch, derived once.
#[derive(Clone)]
pub struct EpochKeys {
    /// The epoch number.
    pub epoch: u32,
    /// Blob AEAD.
    pub blob: AeadKey,
    /// Pack header AEAD.
    pub header: AeadKey,
    /// Version seal AEAD.
    pub seal: AeadKey,
    /// Keyed-hash key for blob ids.
    pub id_key: IdKey,
    /// Chunker gear table.
    pub gear: std::sync::Arc<[u64; 256]>,
}

/// The keyed BLAKE3 key for blob ids; zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct IdKey([u8; 32]);

impl IdKey {
    /// A keyed hasher that has absorbed the blob kind byte.
    pub fn hasher(&self, kind: u8) -> blake3::Hasher {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(&[kind]);
        h
    }

    /// The id of a blob of `kind` with plaintext `data`.
    pub fn blob_id(&self, kind: u8, data: &[u8]) -> crate::id::Id {
        let mut h = self.hasher(kind);
        h.update(data);
        crate::id::Id(*h.finalize().as_bytes())
    }
}

fn derive(label: &str, key: &[u8; 32]) -> zeroize::Zeroizing<[u8; 32]> {
    zeroize::Zeroizing::new(blake3::derive_key(label, key))
}

/// The chunker's gear table: 256 little-endian u64 from BLAKE3's XOF keyed by the derived seed.
pub fn gear_table(dedup_key: &[u8; 32]) -> [u64; 256] {
    let seed = derive(LABEL_CHUNKER_KEY, dedup_key);
    let mut xof = blake3::Hasher::new_keyed(&seed).finalize_xof();
    let mut bytes = [0u8; 256 * 8];
    xof.fill(&mut bytes);
    let mut table = [0u64; 256];
    for (t, c) in table.iter_mut().zip(bytes.chunks_exact(8)) {
        *t = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
    }
    bytes.zeroize();
    table
}

impl EpochKeys {
    /// Derive all working keys of `epoch` from its secret.
    pub fn derive(epoch: u32, s: &EpochSecret) -> EpochKeys {
        EpochKeys {
            epoch,
            blob: AeadKey::new(&derive(LABEL_BLOB_KEY, &s.data_key)),
            header: AeadKey::new(&derive(LABEL_PACK_HEADER_KEY, &s.data_key)),
            seal: AeadKey::new(&derive(LABEL_SEAL_KEY, &s.data_key)),
            id_key: IdKey(*derive(LABEL_BLOB_ID_KEY, &s.dedup_key)),
            gear: std::sync::Arc::new(gear_table(&s.dedup_key)),
        }
    }
}
