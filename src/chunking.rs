//! Content-defined chunking: FastCDC-style normalized chunking over a keyed gear table
//! (spec/format.md, "Chunking").
//!
//! The gear table comes from the dataset's dedup key, so boundaries of a known file differ
//! between datasets and chunk sizes do not fingerprint it.

use std::io::Read;

/// No chunk is shorter than this, except the last chunk of a file.
pub const MIN_SIZE: usize = 128 * 1024;
/// The target average chunk size.
pub const AVG_SIZE: usize = 512 * 1024;
/// No chunk is longer than this.
pub const MAX_SIZE: usize = 2 * 1024 * 1024;

const AVG_BITS: u32 = AVG_SIZE.trailing_zeros();
/// Below the average the cut condition is harder (two more bits), above it easier.
const MASK_SMALL: u64 = top_bits(AVG_BITS + 2);
const MASK_LARGE: u64 = top_bits(AVG_BITS - 2);

const fn top_bits(n: u32) -> u64 {
    (!0u64) << (64 - n)
}

/// Length of the first chunk of `data`. `data` must hold at least [`MAX_SIZE`] bytes unless it is
/// the end of the file: the result depends only on the first `MAX_SIZE` bytes.
pub fn cut(gear: &[u64; 256], data: &[u8]) -> usize {
    let n = data.len().min(MAX_SIZE);
    if n <= MIN_SIZE {
        return n;
    }
    let normal = n.min(AVG_SIZE);
    let mut h: u64 = 0;
    if let Some(len) = roll(gear, data, &mut h, MIN_SIZE..normal, MASK_SMALL) {
        return len;
    }
    roll(gear, data, &mut h, normal..n, MASK_LARGE).unwrap_or(n)
}

/// Roll the gear hash `h` over `data[at]` for `at` in `range`: the first `at + 1` where it
/// has no bit of `mask` set, or `None` with `h` rolled to the end.
///
/// Two bytes a step, as `h'' = (h << 2) + (g[a] << 1) + g[b]`: the same hash as one byte at
/// a time, but only one shift and add per two bytes waits on the previous `h`, which is
/// what bounds a byte-at-a-time loop (about 2 cycles a byte).
#[inline(always)]
fn roll(
    gear: &[u64; 256],
    data: &[u8],
    h: &mut u64,
    range: std::ops::Range<usize>,
    mask: u64,
) -> Option<usize> {
    let data = &data[..range.end];
    let mut at = range.start;
    while at + 1 < data.len() {
        let (a, b) = (gear[data[at] as usize], gear[data[at + 1] as usize]);
        let first = (*h << 1).wrapping_add(a);
        let second = (*h << 2).wrapping_add((a << 1).wrapping_add(b));
        if (first & mask == 0) | (second & mask == 0) {
            if first & mask == 0 {
                *h = first;
                return Some(at + 1);
            }
            *h = second;
            return Some(at + 2);
        }
        *h = second;
        at += 2;
    }
    if at < data.len() {
        *h = (*h << 1).wrapping_add(gear[data[at] as usize]);
        if *h & mask == 0 {
            return Some(at + 1);
        }
    }
    None
}

/// Streams chunks out of a reader with a bounded buffer.
pub struct Chunker<R> {
    reader: R,
    gear: std::sync::Arc<[u64; 256]>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

const READ_BLOCK: usize = 4 * 1024 * 1024;

impl<R: Read> Chunker<R> {
    /// Chunk `reader` with `gear`.
    pub fn new(reader: R, gear: std::sync::Arc<[u64; 256]>) -> Self {
        Self::with_size_hint(reader, gear, u64::MAX)
    }

    /// Like [`Chunker::new`], sizing the buffer for an input of about `hint` bytes (it grows
    /// if the input turns out longer), so small files do not pay for a large buffer.
    pub fn with_size_hint(reader: R, gear: std::sync::Arc<[u64; 256]>, hint: u64) -> Self {
        let cap = (hint.saturating_add(1)).min((MAX_SIZE + READ_BLOCK) as u64) as usize;
        Chunker {
            reader,
            gear,
            buf: vec![0; cap.max(4096)],
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// The next chunk, or `None` at end of input. The slice lives until the next call.
    pub fn next_chunk(&mut self) -> std::io::Result<Option<&[u8]>> {
        while !self.eof && self.end - self.start < MAX_SIZE {
            if self.end == self.buf.len() {
                if self.start == 0 {
                    let grown = (self.buf.len() * 2).min(MAX_SIZE + READ_BLOCK);
                    self.buf.resize(grown, 0);
                } else {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                }
            }
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.start == self.end {
            return Ok(None);
        }
        let len = cut(&self.gear, &self.buf[self.start..self.end]);
        let s = self.start;
        self.start += len;
        Ok(Some(&self.buf[s..s + len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table() -> std::sync::Arc<[u64; 256]> {
        std::sync::Arc::new(crate::crypto::keys::gear_table(&[1; 32]))
    }

    fn pseudo(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn chunks(data: &[u8]) -> Vec<Vec<u8>> {
        let mut c = Chunker::new(data, table());
        let mut out = Vec::new();
        while let Some(x) = c.next_chunk().unwrap() {
            out.push(x.to_vec());
        }
        out
    }

    #[test]
    fn sizes_are_bounded_and_average_is_near_target() {
        let data = pseudo(64 * 1024 * 1024, 42);
        let cs = chunks(&data);
        assert_eq!(cs.concat(), data);
        for c in &cs[..cs.len() - 1] {
            assert!(c.len() >= MIN_SIZE && c.len() <= MAX_SIZE, "{}", c.len());
        }
        let avg = data.len() / cs.len();
        assert!(avg > AVG_SIZE / 2 && avg < AVG_SIZE * 2, "average {avg}");
    }

    #[test]
    fn an_edit_in_the_middle_changes_few_chunks() {
        let data = pseudo(32 * 1024 * 1024, 7);
        let mut edited = data.clone();
        edited.splice(
            16_000_000..16_000_010,
            b"EDITED ROW, 12, 34, 56".iter().copied(),
        );
        let a: std::collections::HashSet<_> = chunks(&data).into_iter().collect();
        let b = chunks(&edited);
        let new = b.iter().filter(|c| !a.contains(*c)).count();
        assert!(new <= 3, "{new} new chunks after a one-row edit");
    }

    #[test]
    fn different_keys_cut_differently() {
        let data = pseudo(8 * 1024 * 1024, 3);
        let t2 = std::sync::Arc::new(crate::crypto::keys::gear_table(&[2; 32]));
        let a = cut(&table(), &data);
        let b = cut(&t2, &data);
        assert_ne!(a, b);
    }

    /// The cut rule one byte at a time, as spec §6.2 states it.
    fn cut_one_byte_at_a_time(gear: &[u64; 256], data: &[u8]) -> usize {
        let n = data.len().min(MAX_SIZE);
        if n <= MIN_SIZE {
            return n;
        }
        let mut h: u64 = 0;
        for (i, b) in data.iter().enumerate().take(n).skip(MIN_SIZE) {
            h = (h << 1).wrapping_add(gear[*b as usize]);
            let mask = if i < AVG_SIZE { MASK_SMALL } else { MASK_LARGE };
            if h & mask == 0 {
                return i + 1;
            }
        }
        n
    }

    #[test]
    fn two_bytes_a_step_cuts_where_one_byte_a_step_does() {
        let t = table();
        // Cuts before, at and after the average, odd and even, and ends of every parity
        // around the thresholds.
        let mut cases = 0;
        for seed in 0..64u64 {
            let data = pseudo(MAX_SIZE + 3, seed);
            let want = cut_one_byte_at_a_time(&t, &data);
            assert_eq!(cut(&t, &data), want, "seed {seed}");
            for end in [
                want - 1,
                want,
                want + 1,
                AVG_SIZE - 1,
                AVG_SIZE,
                AVG_SIZE + 1,
            ] {
                for end in [end, MIN_SIZE + 1, MIN_SIZE + 2] {
                    let d = &data[..end.min(data.len())];
                    assert_eq!(
                        cut(&t, d),
                        cut_one_byte_at_a_time(&t, d),
                        "seed {seed} end {end}"
                    );
                    cases += 1;
                }
            }
        }
        assert!(cases > 1000);
        // A run of one byte value never cuts (the hash is stuck) or cuts at once.
        for v in 0..=255u8 {
            let d = vec![v; MAX_SIZE];
            assert_eq!(cut(&t, &d), cut_one_byte_at_a_time(&t, &d), "run of {v}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn concatenation_is_identity(len in 0usize..6_000_000, seed in any::<u64>()) {
            let data = pseudo(len, seed);
            prop_assert_eq!(chunks(&data).concat(), data);
        }
    }
}
