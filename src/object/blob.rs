//! Blobs: one chunk of file data or one tree, compressed where it pays, then sealed; and
//! bundles: small chunks compressed and sealed together (spec §6.4), so that ten thousand
//! small files compress as well as one large one.

use super::pack::BlobEntry;
use crate::crypto::keys::EpochKeys;
use crate::crypto::{AAD_BLOB, AAD_BUNDLE};
use crate::error::{Error, Result};
use crate::id::Id;

/// Blob kind byte: file data.
pub const KIND_CHUNK: u8 = 0;
/// Blob kind byte: a tree.
pub const KIND_TREE: u8 = 1;
/// Compression byte: stored as is.
pub const COMP_NONE: u8 = 0;
/// Compression byte: one zstd frame.
pub const COMP_ZSTD: u8 = 1;
/// Compression byte: a member of a bundle (one zstd frame of several blobs, §6.4).
pub const COMP_BUNDLE: u8 = 2;

/// Chunks shorter than this go into bundles (small files, and the tails of larger ones).
pub const BUNDLE_CHUNK_MAX: usize = crate::chunking::MIN_SIZE;
/// A bundle is sealed once its plaintext reaches this size (or it holds
/// [`BUNDLE_MAX_BLOBS`]): reading one small file then decompresses at most about this much.
pub const BUNDLE_TARGET: usize = 1024 * 1024;
/// Most blobs a writer puts in one bundle.
pub const BUNDLE_MAX_BLOBS: usize = 1024;
/// Most blobs a reader accepts in one bundle.
pub const BUNDLE_READ_MAX_BLOBS: usize = 4096;
/// Most plaintext a reader accepts in one bundle (the largest chunk): reading one member
/// costs at most this much work, whoever wrote the pack.
pub const BUNDLE_READ_MAX_SIZE: usize = crate::chunking::MAX_SIZE;

/// Magic number that starts a zstd frame (RFC 8878 §3.1.1); skippable frames have others.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Whether `body` is exactly one zstd frame, and not a skippable one (which decodes to
/// nothing): a decoder would otherwise join frames or skip data.
fn is_one_frame(body: &[u8]) -> bool {
    body.starts_with(&ZSTD_MAGIC)
        && zstd::zstd_safe::find_frame_compressed_size(body).ok() == Some(body.len())
}

/// zstd level 3 (zstd's default, the double-fast match finder) with smaller tables, which
/// stay in a core's L2 cache, and matches of at least 6 bytes, since in delimited text a
/// shorter match costs about as many bits as the literals it replaces. On the benchmark's
/// data this compresses with 19% less CPU than plain level 3 and stores 0.8% less
/// (`coffer-bench-data stages`, README "Stage budget"). Readers need nothing of this: any
/// zstd frame opens.
const ZSTD_LEVEL: i32 = 3;
const ZSTD_HASH_LOG: u32 = 16;
const ZSTD_CHAIN_LOG: u32 = 12;
const ZSTD_MIN_MATCH: u32 = 6;

/// A compressor set up as above; `None` if zstd cannot allocate one.
pub fn new_compressor() -> Option<zstd::bulk::Compressor<'static>> {
    use zstd::zstd_safe::CParameter;
    let mut c = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok()?;
    c.set_parameter(CParameter::HashLog(ZSTD_HASH_LOG)).ok()?;
    c.set_parameter(CParameter::ChainLog(ZSTD_CHAIN_LOG)).ok()?;
    c.set_parameter(CParameter::MinMatch(ZSTD_MIN_MATCH)).ok()?;
    Some(c)
}

/// Human name of a blob kind.
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_CHUNK => "chunk",
        KIND_TREE => "tree",
        _ => "blob",
    }
}

/// The associated data of a blob: binds its kind, compression and id.
pub fn aad(kind: u8, comp: u8, id: &Id) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_BLOB.len() + 34);
    a.extend_from_slice(AAD_BLOB);
    a.push(kind);
    a.push(comp);
    a.extend_from_slice(&id.0);
    a
}

/// The associated data of a bundle: binds every member's kind, id and length, in order.
pub fn bundle_aad<'a>(members: impl ExactSizeIterator<Item = (u8, &'a Id, u32)>) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_BUNDLE.len() + 4 + members.len() * 37);
    a.extend_from_slice(AAD_BUNDLE);
    a.extend_from_slice(&(members.len() as u32).to_be_bytes());
    for (kind, id, raw_len) in members {
        a.push(kind);
        a.extend_from_slice(&id.0);
        a.extend_from_slice(&raw_len.to_be_bytes());
    }
    a
}

/// An encoded blob ready to go into a pack.
pub struct SealedBlob {
    /// Keyed id of the plaintext.
    pub id: Id,
    /// Blob kind.
    pub kind: u8,
    /// Compression used.
    pub comp: u8,
    /// Plaintext length.
    pub raw_len: u32,
    /// `nonce || ciphertext || tag`.
    pub sealed: Vec<u8>,
}

/// Several small blobs compressed and sealed together, ready to go into a pack.
pub struct SealedBundle {
    /// Members in order: kind, id, plaintext length.
    pub members: Vec<(u8, Id, u32)>,
    /// `nonce || ciphertext || tag` of the one zstd frame of their plaintexts.
    pub sealed: Vec<u8>,
}

/// What goes into a pack: one blob, or a bundle.
pub enum Sealed {
    /// One blob on its own.
    Blob(SealedBlob),
    /// A bundle of small blobs.
    Bundle(SealedBundle),
}

/// Small blobs gathered for one bundle.
#[derive(Default)]
pub struct Bundle {
    members: Vec<(u8, Id, u32)>,
    plain: Vec<u8>,
}

impl Bundle {
    /// Add one chunk (the caller keeps it shorter than [`BUNDLE_CHUNK_MAX`]).
    pub fn add(&mut self, kind: u8, id: Id, data: &[u8]) {
        if self.plain.is_empty() {
            self.plain.reserve(BUNDLE_TARGET + BUNDLE_CHUNK_MAX);
        }
        self.members.push((kind, id, data.len() as u32));
        self.plain.extend_from_slice(data);
    }

    /// True once it should be sealed.
    pub fn is_full(&self) -> bool {
        self.plain.len() >= BUNDLE_TARGET || self.members.len() >= BUNDLE_MAX_BLOBS
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Compress and seal: one bundle, or each blob on its own when there is only one or the
    /// whole does not compress.
    pub fn seal(self, keys: &EpochKeys) -> Vec<Sealed> {
        self.seal_with_nonce(keys, None)
    }

    /// [`Bundle::seal`] with a chosen nonce (known-answer vectors only).
    pub fn seal_with_nonce(self, keys: &EpochKeys, nonce: Option<&[u8; 12]>) -> Vec<Sealed> {
        let alone = |b: &Bundle| {
            let mut at = 0usize;
            b.members
                .iter()
                .map(|&(kind, id, len)| {
                    let data = &b.plain[at..at + len as usize];
                    at += len as usize;
                    Sealed::Blob(seal_with_nonce(keys, kind, id, data, nonce))
                })
                .collect()
        };
        if self.members.len() < 2 {
            return alone(&self);
        }
        let Some(body) = compress(&self.plain) else {
            return alone(&self);
        };
        let aad = bundle_aad(self.members.iter().map(|(k, id, len)| (*k, id, *len)));
        let mut sealed = Vec::with_capacity(body.len() + crate::crypto::aead::OVERHEAD);
        match nonce {
            Some(n) => keys.blob.seal_with_nonce_into(n, &aad, &body, &mut sealed),
            None => keys.blob.seal_into(&aad, &body, &mut sealed),
        }
        vec![Sealed::Bundle(SealedBundle {
            members: self.members,
            sealed,
        })]
    }
}

thread_local! {
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

thread_local! {
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Decompress one frame of at most `cap` bytes, reusing this thread's context.
fn decompress(data: &[u8], cap: usize) -> Option<Vec<u8>> {
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = zstd::bulk::Decompressor::new().ok();
        }
        d.as_mut()?.decompress(data, cap).ok()
    })
}

/// Whether `data` looks as if it will not compress (already compressed or encrypted, like
/// the ZIP inside XLSX, most of a PDF, images): the byte entropy of a 16 KiB sample (four
/// windows spread over it) is within 0.1 bit of 8. Deciding first spares zstd a full pass
/// over such bytes, about a quarter of a council's; data shorter than the sample is tried.
pub fn looks_incompressible(data: &[u8]) -> bool {
    const WINDOW: usize = 4096;
    if data.len() < 4 * WINDOW {
        return false;
    }
    let mut hist = [0u32; 256];
    for k in 0..4 {
        let at = (data.len() - WINDOW) * k / 3;
        for b in &data[at..at + WINDOW] {
            hist[*b as usize] += 1;
        }
    }
    let n = (4 * WINDOW) as f64;
    let bits: f64 = hist
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum();
    bits > 7.9
}

fn compress(data: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = new_compressor();
        }
        if looks_incompressible(data) {
            return None;
        }
        let out = c.as_mut()?.compress(data).ok()?;
        // Keep it only where it pays: at least 1/32 smaller.
        (out.len() + out.len() / 32 < data.len()).then_some(out)
    })
}

/// Compress (where it pays) and seal a blob whose id is already known.
pub fn seal(keys: &EpochKeys, kind: u8, id: Id, data: &[u8]) -> SealedBlob {
    seal_with_nonce(keys, kind, id, data, None)
}

/// [`seal`] with a chosen nonce (known-answer vectors only); `None` draws a random one.
pub fn seal_with_nonce(
    keys: &EpochKeys,
    kind: u8,
    id: Id,
    data: &[u8],
    nonce: Option<&[u8; 12]>,
) -> SealedBlob {
    let (comp, body) = match compress(data) {
        Some(c) => (COMP_ZSTD, std::borrow::Cow::Owned(c)),
        None => (COMP_NONE, std::borrow::Cow::Borrowed(data)),
    };
    let mut sealed = Vec::new();
    let aad = aad(kind, comp, &id);
    match nonce {
        Some(n) => keys.blob.seal_with_nonce_into(n, &aad, &body, &mut sealed),
        None => keys.blob.seal_into(&aad, &body, &mut sealed),
    }
    SealedBlob {
        id,
        kind,
        comp,
        raw_len: data.len() as u32,
        sealed,
    }
}

/// Open a blob sealed under `from` (checking it fully) and seal its stored body again under
/// `to`, without compressing it again: moving content to a new epoch (spec §9, "reseal").
pub fn reseal(
    from: &EpochKeys,
    to: &EpochKeys,
    kind: u8,
    comp: u8,
    raw_len: u32,
    id: &Id,
    sealed: &[u8],
) -> Result<SealedBlob> {
    let (plain, body) = open_parts(from, kind, comp, raw_len, id, sealed, true)?;
    let body = body.unwrap_or(plain);
    let mut out = Vec::with_capacity(body.len() + crate::crypto::aead::OVERHEAD);
    to.blob.seal_into(&aad(kind, comp, id), &body, &mut out);
    Ok(SealedBlob {
        id: *id,
        kind,
        comp,
        raw_len,
        sealed: out,
    })
}

/// The blobs of one sealed range of a pack (a blob, or a bundle's members), opened and
/// each checked against its id.
pub struct Unit {
    /// Header entries it holds.
    pub entries: std::ops::Range<usize>,
    plain: Vec<u8>,
    /// Where each member's plaintext ends.
    ends: Vec<usize>,
}

impl Unit {
    /// Plaintext of header entry `i`, if this unit holds it.
    pub fn blob(&self, i: usize) -> Option<&[u8]> {
        let k = i.checked_sub(self.entries.start)?;
        let end = *self.ends.get(k)?;
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        self.plain.get(start..end)
    }

    /// [`Unit::blob`], taking the plaintext without a copy when the unit is one blob.
    pub fn into_blob(mut self, i: usize) -> Option<Vec<u8>> {
        if self.ends.len() == 1 && i == self.entries.start {
            return Some(std::mem::take(&mut self.plain));
        }
        self.blob(i).map(<[u8]>::to_vec)
    }
}

/// Open the sealed range that holds header entry `i` of a pack (`blobs` is the whole header):
/// decrypt it, decompress it and check every blob in it against its id. `sealed` is exactly
/// the bytes at that entry's offset and length.
pub fn open_unit(keys: &EpochKeys, blobs: &[BlobEntry], i: usize, sealed: &[u8]) -> Result<Unit> {
    let entries = super::pack::unit_of(blobs, i);
    let Some(e) = blobs.get(i) else {
        return Err(Error::Usage(format!("no blob {i} in the pack header")));
    };
    if e.comp() != COMP_BUNDLE {
        let plain = open(keys, e.kind(), e.comp(), e.raw_len(), &e.id(), sealed)?;
        let ends = vec![plain.len()];
        return Ok(Unit {
            entries,
            plain,
            ends,
        });
    }
    let members = &blobs[entries.clone()];
    let corrupt = |reason: &str| Error::Corrupt {
        kind: "bundle",
        id: e.id(),
        reason: reason.into(),
    };
    let total: u64 = members.iter().map(|m| m.raw_len() as u64).sum();
    if total > BUNDLE_READ_MAX_SIZE as u64 || members.iter().any(|m| m.kind() != KIND_CHUNK) {
        return Err(corrupt("exceeds the limits of a bundle"));
    }
    let aad = bundle_aad(members.iter().map(|m| (m.kind(), &m.0, m.raw_len())));
    let body = keys
        .blob
        .open(&aad, sealed)
        .ok_or_else(|| corrupt("decryption failed (altered, or sealed under another key)"))?;
    if !is_one_frame(&body) {
        return Err(corrupt("the body is not exactly one zstd frame"));
    }
    let plain = decompress(&body, total as usize).ok_or_else(|| corrupt("decompression failed"))?;
    if plain.len() as u64 != total {
        return Err(corrupt("plaintext length differs from the pack header"));
    }
    let mut ends = Vec::with_capacity(members.len());
    let mut at = 0usize;
    for m in members {
        let end = at + m.raw_len() as usize;
        if keys.id_key.blob_id(m.kind(), &plain[at..end]) != m.id() {
            return Err(Error::Corrupt {
                kind: kind_name(m.kind()),
                id: m.id(),
                reason: "plaintext in its bundle does not hash to its id".into(),
            });
        }
        ends.push(end);
        at = end;
    }
    Ok(Unit {
        entries,
        plain,
        ends,
    })
}

/// Open header entry `i` of a pack (see [`open_unit`]) and return its plaintext.
pub fn open_at(keys: &EpochKeys, blobs: &[BlobEntry], i: usize, sealed: &[u8]) -> Result<Vec<u8>> {
    let unit = open_unit(keys, blobs, i, sealed)?;
    unit.into_blob(i)
        .ok_or_else(|| Error::Usage(format!("no blob {i} in the pack header")))
}

/// Open a sealed blob (not a bundle) and check that its plaintext hashes to `id`.
pub fn open(
    keys: &EpochKeys,
    kind: u8,
    comp: u8,
    raw_len: u32,
    id: &Id,
    sealed: &[u8],
) -> Result<Vec<u8>> {
    open_parts(keys, kind, comp, raw_len, id, sealed, false).map(|(plain, _)| plain)
}

/// Open and check a blob; returns the plaintext and, with `keep_body` and compression, the
/// stored body (uncompressed, the body is the plaintext).
fn open_parts(
    keys: &EpochKeys,
    kind: u8,
    comp: u8,
    raw_len: u32,
    id: &Id,
    sealed: &[u8],
    keep_body: bool,
) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let corrupt = |reason: &str| Error::Corrupt {
        kind: kind_name(kind),
        id: *id,
        reason: reason.into(),
    };
    if raw_len as usize > super::MAX_BLOB_SIZE {
        return Err(corrupt("declared size exceeds the format limit"));
    }
    let body = keys
        .blob
        .open(&aad(kind, comp, id), sealed)
        .ok_or_else(|| corrupt("decryption failed (altered, or sealed under another key)"))?;
    let (plain, body) = match comp {
        COMP_NONE => (body, None),
        COMP_ZSTD => {
            // Exactly one frame: a decoder would otherwise join concatenated frames.
            if !is_one_frame(&body) {
                return Err(corrupt("the body is not exactly one zstd frame"));
            }
            (
                decompress(&body, raw_len as usize)
                    .ok_or_else(|| corrupt("decompression failed"))?,
                keep_body.then_some(body),
            )
        }
        _ => return Err(corrupt("unknown compression")),
    };
    if plain.len() != raw_len as usize {
        return Err(corrupt("plaintext length differs from the pack header"));
    }
    if keys.id_key.blob_id(kind, &plain) != *id {
        return Err(corrupt("plaintext does not hash to its id"));
    }
    Ok((plain, body))
}
