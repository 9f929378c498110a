//! Blobs: one chunk of file data or one tree, compressed where it pays, then sealed.

use crate::crypto::keys::EpochKeys;
use crate::crypto::AAD_BLOB;
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

/// zstd level: 3 is zstd's default, the best ratio per CPU second on CSV and JSON here.
const ZSTD_LEVEL: i32 = 3;

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
            *c = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
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

/// Open a sealed blob and check that its plaintext hashes to `id`.
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
            if zstd::zstd_safe::find_frame_compressed_size(&body).ok() != Some(body.len()) {
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
