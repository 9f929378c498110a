//! Packs: many sealed blobs, then a sealed header listing them, then a 16-byte trailer
//! (spec/format.md, "Packs"). A pack is named by the BLAKE3 of all its bytes.

use super::blob::{Sealed, SealedBlob, SealedBundle, COMP_BUNDLE};
use crate::codec;
use crate::crypto::aead::OVERHEAD;
use crate::crypto::keys::EpochKeys;
use crate::crypto::AAD_PACK_HEADER;
use crate::error::{Error, Result};
use crate::id::Id;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Envelope kind of the (encrypted) pack header.
pub const KIND: &str = "pack-header";
/// Trailer magic.
pub const MAGIC: &[u8; 4] = b"CFPK";
/// Trailer length.
pub const TRAILER_LEN: usize = 16;
/// A pack is closed once its blobs reach this size.
pub const TARGET_SIZE: usize = 16 * 1024 * 1024;
/// Largest header accepted from storage.
pub const MAX_HEADER_LEN: u32 = 16 * 1024 * 1024;
/// A pack is also closed once it lists this many blobs. An entry takes at most 56 bytes of
/// header, so a full pack's header (7 MiB, a bundle's members past the mark included) stays
/// well inside [`MAX_HEADER_LEN`]: tiny files bundled a thousand to a few kilobytes would
/// otherwise fill the header long before the blobs reach [`TARGET_SIZE`].
pub const MAX_BLOBS: usize = 128 * 1024;

/// One blob in a pack: `[id, kind, comp, offset, length, raw_len]`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BlobEntry(pub Id, pub u8, pub u8, pub u64, pub u32, pub u32);

impl BlobEntry {
    /// Blob id.
    pub fn id(&self) -> Id {
        self.0
    }
    /// Blob kind.
    pub fn kind(&self) -> u8 {
        self.1
    }
    /// Compression.
    pub fn comp(&self) -> u8 {
        self.2
    }
    /// Offset of the sealed blob in the pack.
    pub fn offset(&self) -> u64 {
        self.3
    }
    /// Length of the sealed blob.
    pub fn length(&self) -> u32 {
        self.4
    }
    /// Plaintext length.
    pub fn raw_len(&self) -> u32 {
        self.5
    }
}

/// The decrypted header of a pack.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PackHeader {
    /// Blobs in the order they are stored.
    pub blobs: Vec<BlobEntry>,
}

/// What the trailer says, readable without keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Epoch whose keys sealed the pack.
    pub epoch: u32,
    /// Length of the sealed header just before the trailer.
    pub header_len: u32,
}

/// Builds one pack in memory.
#[derive(Default)]
pub struct PackBuilder {
    /// `pad` zero bytes, then the pack: the pack starts at an `ALIGN` boundary in memory,
    /// so a folder store writes it to the device without copying it (`store::direct`).
    buf: Vec<u8>,
    pad: usize,
    blobs: Vec<BlobEntry>,
}

/// Room a pack's buffer is given at first: a full pack's blobs, one more largest chunk, and
/// a typical header and trailer.
const RESERVE: usize = TARGET_SIZE + crate::chunking::MAX_SIZE + 64 * 1024;

impl PackBuilder {
    /// Make room for a pack, aligned, before its first blob.
    fn begin(&mut self) {
        use crate::store::direct::ALIGN;
        if self.buf.is_empty() {
            self.buf.reserve(RESERVE + ALIGN);
            let pad = self.buf.as_ptr().align_offset(ALIGN);
            self.pad = if pad < ALIGN { pad } else { 0 };
            self.buf.resize(self.pad, 0);
        }
    }

    /// Append a sealed blob.
    pub fn add(&mut self, b: SealedBlob) {
        self.begin();
        self.blobs.push(BlobEntry(
            b.id,
            b.kind,
            b.comp,
            self.len() as u64,
            b.sealed.len() as u32,
            b.raw_len,
        ));
        self.buf.extend_from_slice(&b.sealed);
    }

    /// Append a bundle: one entry per member, each with the bundle's offset and length.
    pub fn add_bundle(&mut self, b: SealedBundle) {
        self.begin();
        let offset = self.len() as u64;
        for (kind, id, raw_len) in b.members {
            self.blobs.push(BlobEntry(
                id,
                kind,
                COMP_BUNDLE,
                offset,
                b.sealed.len() as u32,
                raw_len,
            ));
        }
        self.buf.extend_from_slice(&b.sealed);
    }

    /// Append a blob or a bundle.
    pub fn add_sealed(&mut self, s: Sealed) {
        match s {
            Sealed::Blob(b) => self.add(b),
            Sealed::Bundle(b) => self.add_bundle(b),
        }
    }

    /// Bytes of blobs so far.
    pub fn len(&self) -> usize {
        self.buf.len() - self.pad
    }

    /// Whether the pack should be closed: [`TARGET_SIZE`] bytes of blobs or [`MAX_BLOBS`]
    /// entries. The one rule every writer (commit, trees, reseal) follows.
    pub fn is_full(&self) -> bool {
        self.len() >= TARGET_SIZE || self.blobs.len() >= MAX_BLOBS
    }

    /// True when no blob was added.
    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    /// Seal the header and trailer. Returns the pack id, its bytes and its header.
    pub fn finish(self, keys: &EpochKeys) -> (Id, Bytes, PackHeader) {
        self.finish_with_nonce(keys, None)
    }

    /// [`PackBuilder::finish`] with a chosen header nonce (known-answer vectors only).
    pub fn finish_with_nonce(
        self,
        keys: &EpochKeys,
        nonce: Option<&[u8; 12]>,
    ) -> (Id, Bytes, PackHeader) {
        let header = PackHeader { blobs: self.blobs };
        let mut buf = self.buf;
        let plain = codec::encode(KIND, &header);
        let before = buf.len();
        let aad = header_aad(keys.epoch);
        match nonce {
            Some(n) => keys.header.seal_with_nonce_into(n, &aad, &plain, &mut buf),
            None => keys.header.seal_into(&aad, &plain, &mut buf),
        }
        let header_len = (buf.len() - before) as u32;
        buf.extend_from_slice(&trailer_bytes(Trailer {
            epoch: keys.epoch,
            header_len,
        }));
        let pad = self.pad;
        let bytes = Bytes::from(buf).slice(pad..);
        (Id::of_stored(&bytes), bytes, header)
    }
}

/// The header entries sealed together with entry `i`: `i` alone, or every member of its
/// bundle (consecutive bundle entries with the same offset).
pub fn unit_of(blobs: &[BlobEntry], i: usize) -> std::ops::Range<usize> {
    let Some(e) = blobs.get(i) else {
        return i..i;
    };
    let mut start = i;
    while start > 0 && same_bundle(&blobs[start - 1], e) {
        start -= 1;
    }
    let mut end = i + 1;
    while end < blobs.len() && same_bundle(&blobs[end], e) {
        end += 1;
    }
    start..end
}

/// Whether two neighbouring header entries are members of one bundle (§7): both `comp = 2`
/// with one offset.
fn same_bundle(a: &BlobEntry, b: &BlobEntry) -> bool {
    a.comp() == COMP_BUNDLE && b.comp() == COMP_BUNDLE && a.offset() == b.offset()
}

/// Associated data of a pack header.
pub fn header_aad(epoch: u32) -> Vec<u8> {
    let mut a = AAD_PACK_HEADER.to_vec();
    a.extend_from_slice(&epoch.to_be_bytes());
    a
}

/// Encode a trailer: magic, version, 3 zero bytes, epoch (LE), header length (LE).
pub fn trailer_bytes(t: Trailer) -> [u8; TRAILER_LEN] {
    let mut out = [0u8; TRAILER_LEN];
    out[..4].copy_from_slice(MAGIC);
    out[4] = codec::FORMAT_VERSION as u8;
    out[8..12].copy_from_slice(&t.epoch.to_le_bytes());
    out[12..16].copy_from_slice(&t.header_len.to_le_bytes());
    out
}

/// Parse and bounds-check the trailer of a pack of `pack_len` bytes.
pub fn parse_trailer(id: &Id, pack_len: u64, tail: &[u8]) -> Result<Trailer> {
    let corrupt = |reason: String| Error::Corrupt {
        kind: "pack",
        id: *id,
        reason,
    };
    if tail.len() < TRAILER_LEN || pack_len < TRAILER_LEN as u64 {
        return Err(corrupt("shorter than a pack trailer".into()));
    }
    let t = &tail[tail.len() - TRAILER_LEN..];
    if &t[..4] != MAGIC {
        return Err(corrupt("bad trailer magic".into()));
    }
    if t[4] as u64 != codec::FORMAT_VERSION {
        return Err(Error::UnknownVersion {
            what: "pack",
            found: t[4] as u64,
            supported: codec::FORMAT_VERSION,
        });
    }
    if t[5..8] != [0, 0, 0] {
        return Err(corrupt("reserved trailer bytes are not zero".into()));
    }
    let epoch = u32::from_le_bytes([t[8], t[9], t[10], t[11]]);
    let header_len = u32::from_le_bytes([t[12], t[13], t[14], t[15]]);
    if header_len as usize <= OVERHEAD
        || header_len > MAX_HEADER_LEN
        || header_len as u64 + TRAILER_LEN as u64 > pack_len
    {
        return Err(corrupt(format!("header length {header_len} out of bounds")));
    }
    Ok(Trailer { epoch, header_len })
}

/// Decrypt and validate a pack header. `sealed_header` is exactly the header bytes;
/// `blobs_len` is the pack length minus header and trailer; `epoch` is what the trailer says,
/// and is authenticated here (it is part of the associated data).
pub fn open_header(
    keys: &EpochKeys,
    id: &Id,
    epoch: u32,
    sealed_header: &[u8],
    blobs_len: u64,
) -> Result<PackHeader> {
    let corrupt = |reason: String| Error::Corrupt {
        kind: "pack",
        id: *id,
        reason,
    };
    if keys.epoch != epoch {
        return Err(corrupt(format!(
            "trailer says epoch {epoch}, keys are for epoch {}",
            keys.epoch
        )));
    }
    let plain = keys
        .header
        .open(&header_aad(epoch), sealed_header)
        .ok_or_else(|| corrupt("header decryption failed".into()))?;
    let header: PackHeader = codec::decode(KIND, &plain).map_err(|e| corrupt(e.to_string()))?;
    let mut expect = 0u64;
    // Members of the bundle the previous entry belongs to, and their plaintext bytes.
    let (mut members, mut raw) = (0usize, 0u64);
    let mut prev: Option<&BlobEntry> = None;
    for b in &header.blobs {
        if b.kind() > super::blob::KIND_TREE || b.comp() > COMP_BUNDLE {
            return Err(corrupt("unknown blob kind or compression".into()));
        }
        if (b.length() as usize) < OVERHEAD || b.raw_len() as usize > super::MAX_BLOB_SIZE {
            return Err(corrupt("blob length out of bounds".into()));
        }
        if b.comp() == COMP_BUNDLE && b.kind() != super::blob::KIND_CHUNK {
            return Err(corrupt("a bundle holds only chunks".into()));
        }
        // A bundle's members follow one another with its offset: the first one starts it.
        let joins = prev.is_some_and(|p| same_bundle(p, b));
        if joins && prev.is_some_and(|p| p.length() != b.length()) {
            return Err(corrupt("a bundle's members disagree on its length".into()));
        }
        prev = Some(b);
        if joins {
            members += 1;
            raw += b.raw_len() as u64;
        } else {
            if b.offset() != expect {
                return Err(corrupt("blobs are not contiguous".into()));
            }
            (members, raw) = (1, b.raw_len() as u64);
            expect += b.length() as u64;
        }
        if b.comp() == COMP_BUNDLE
            && (members > super::blob::BUNDLE_READ_MAX_BLOBS
                || raw > super::blob::BUNDLE_READ_MAX_SIZE as u64)
        {
            return Err(corrupt(format!(
                "a bundle at offset {} is too large",
                b.offset()
            )));
        }
    }
    if expect != blobs_len {
        return Err(corrupt("header does not cover the pack".into()));
    }
    Ok(header)
}

/// Open a whole pack held in memory: check its id, trailer and header.
pub fn open_pack(
    keys_for: impl Fn(u32) -> Option<EpochKeys>,
    id: &Id,
    bytes: &[u8],
) -> Result<(Trailer, PackHeader)> {
    if Id::of_stored(bytes) != *id {
        return Err(Error::Corrupt {
            kind: "pack",
            id: *id,
            reason: "content does not hash to its name".into(),
        });
    }
    let t = parse_trailer(id, bytes.len() as u64, bytes)?;
    let keys = keys_for(t.epoch).ok_or_else(|| Error::Corrupt {
        kind: "pack",
        id: *id,
        reason: format!(
            "sealed under epoch {} whose key this identity does not hold",
            t.epoch
        ),
    })?;
    let hstart = bytes.len() - TRAILER_LEN - t.header_len as usize;
    let header = open_header(
        &keys,
        id,
        t.epoch,
        &bytes[hstart..bytes.len() - TRAILER_LEN],
        hstart as u64,
    )?;
    Ok((t, header))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::EpochSecret;
    use crate::object::blob::BUNDLE_MAX_BLOBS;

    /// The fullest header a writer makes (one entry short of [`MAX_BLOBS`], then a whole
    /// bundle, every integer at its widest) is one a reader accepts.
    #[test]
    fn a_full_pack_header_is_readable() {
        let keys = EpochKeys::derive(0, &EpochSecret::from_bytes(&[5u8; 64]).unwrap());
        let widest = BlobEntry(
            Id([0xff; 32]),
            1,
            COMP_BUNDLE,
            u32::MAX as u64,
            u32::MAX,
            u32::MAX,
        );
        let mut b = PackBuilder::default();
        while !b.is_full() {
            b.blobs.push(widest.clone());
        }
        b.blobs.pop();
        assert!(!b.is_full());
        b.blobs
            .extend(std::iter::repeat_n(widest, BUNDLE_MAX_BLOBS));
        let (id, bytes, _) = b.finish(&keys);
        let t = parse_trailer(&id, bytes.len() as u64, &bytes).unwrap();
        assert!(t.header_len <= MAX_HEADER_LEN / 2, "{}", t.header_len);
    }
}
