//! Block-size heuristic (upstream generator.c sum_sizes_sqroot) and the
//! signature of a basis file.
use crate::checksum::ChecksumKind;
use crate::rolling::checksum1;
use std::io;

/// Upstream BLOCK_SIZE: the minimum and default block length.
pub const BLOCK_SIZE: u32 = 700;
/// Upstream MAX_BLOCK_SIZE for protocol >= 30.
pub const MAX_BLOCK_SIZE: u32 = 1 << 17;

/// The four sum-header values for a basis of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SumSizes {
    /// Number of blocks.
    pub count: u32,
    /// Block length.
    pub blength: u32,
    /// Strong-sum bytes per block.
    pub s2length: u32,
    /// Length of the last block (0 = full).
    pub remainder: u32,
}

/// Upstream's heuristic. `block_size` forces the block length (-B);
/// `redo` selects full-length strong sums (second pass).
///
/// A count that would not fit in 32 bits saturates at `u32::MAX` (upstream
/// flags such a file as an overflow error and skips it).
// upstream: generator.c:sum_sizes_sqroot()
pub fn sum_sizes(len: u64, digest_len: usize, block_size: Option<u32>, redo: bool) -> SumSizes {
    let max_s2 = SUM_LENGTH.min(digest_len) as i64;
    let blength: u32 = match block_size {
        Some(b) if b > 0 => b,
        _ if len <= u64::from(BLOCK_SIZE) * u64::from(BLOCK_SIZE) => BLOCK_SIZE,
        _ => {
            // c = 2^floor(log4(len))
            let mut c: u64 = 1;
            let mut l = len >> 2;
            while l > 0 {
                c <<= 1;
                l >>= 2;
            }
            if c >= u64::from(MAX_BLOCK_SIZE) {
                MAX_BLOCK_SIZE
            } else {
                let mut b: u64 = 0;
                loop {
                    b |= c;
                    if u128::from(len) < u128::from(b) * u128::from(b) {
                        b &= !c;
                    }
                    c >>= 1;
                    if c < 8 {
                        break;
                    }
                }
                (b as u32).max(BLOCK_SIZE)
            }
        }
    };
    let s2length = if redo {
        max_s2
    } else {
        let mut b: i64 = BLOCKSUM_BIAS;
        let mut l = len >> 1;
        while l > 0 {
            b += 2;
            l >>= 1;
        }
        let mut c = blength >> 1;
        while c > 0 && b > 0 {
            b -= 1;
            c >>= 1;
        }
        // one extra bit, minus the 32 bits of the rolling sum, rounded up;
        // integer division truncates toward zero like C's.
        let s2 = (b + 1 - 32 + 7) / 8;
        s2.max(SHORT_SUM_LENGTH).min(max_s2)
    };
    let bl = u64::from(blength);
    let remainder = (len % bl) as u32;
    let count = len / bl + u64::from(remainder != 0);
    SumSizes {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        blength,
        s2length: s2length.max(0) as u32,
        remainder,
    }
}

/// Upstream SUM_LENGTH: the longest strong sum sent per block.
const SUM_LENGTH: usize = 16;
/// Upstream SHORT_SUM_LENGTH: the first-pass csum_length.
const SHORT_SUM_LENGTH: i64 = 2;
/// Upstream BLOCKSUM_BIAS.
const BLOCKSUM_BIAS: i64 = 10;

/// Basis bytes read and summed at a time by each of the two threads of
/// [`Signature::generate`] (in whole blocks; a block longer than this is
/// read alone).
const READ_CHUNK: usize = 512 << 10;
/// A basis at least this long is read and summed by two threads, every
/// other chunk each (the sender waits for the whole signature, so the
/// other core is otherwise idle).
const SPLIT_AT: u64 = 1 << 20;

/// A basis the generator reads at any offset, from two threads at once.
pub trait ReadAt: Sync {
    /// Fills `buf` with the bytes at `off`; a basis that ends first is
    /// `UnexpectedEof`.
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()>;
}

impl ReadAt for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, off)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let src = usize::try_from(off)
            .ok()
            .and_then(|at| self.get(at..at.checked_add(buf.len())?));
        let src = src.ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, "basis shorter than its sums")
        })?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// How the blocks of a signature are summed.
#[derive(Clone, Copy)]
struct BlockHash {
    kind: ChecksumKind,
    seed: i32,
    seed_fix: bool,
    /// Strong-sum bytes kept.
    s2: usize,
}

impl BlockHash {
    /// Appends the sums of `data`'s blocks of `bl` bytes (the last may be
    /// shorter) to `out`.
    fn sum_blocks(self, data: &[u8], bl: usize, out: &mut Sums) {
        for b in data.chunks(bl) {
            let (sum2, _) = self.kind.block_sum_fixed(b, self.seed, self.seed_fix);
            out.sum1.push(checksum1(b));
            out.sum2.extend_from_slice(&sum2[..self.s2]);
        }
    }
}

/// Block sums in two flat arrays: no allocation per block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Sums {
    sum1: Vec<u32>,
    /// `s2` bytes per block, back to back.
    sum2: Vec<u8>,
}

impl Sums {
    fn feed(&self, s2: usize, sink: &mut dyn FnMut(u32, &[u8])) {
        for (i, &s1) in self.sum1.iter().enumerate() {
            sink(s1, &self.sum2[i * s2..(i + 1) * s2]);
        }
    }
}

/// The basis cut into chunks of whole blocks, read and summed one at a
/// time.
#[derive(Clone, Copy)]
struct Layout {
    sizes: SumSizes,
    /// Blocks per chunk (at least 1).
    per: usize,
    /// Number of chunks.
    chunks: usize,
}

impl Layout {
    fn new(sizes: SumSizes) -> Layout {
        let count = sizes.count as usize;
        let per = (READ_CHUNK / sizes.blength as usize).clamp(1, count.max(1));
        Layout {
            sizes,
            per,
            chunks: count.div_ceil(per),
        }
    }

    /// File offset and length of chunk `c` (`c < chunks`).
    fn chunk(&self, c: usize) -> (u64, usize) {
        let bl = self.sizes.blength as usize;
        let count = self.sizes.count as usize;
        let first = c * self.per;
        let n = self.per.min(count - first);
        let last = if first + n == count && self.sizes.remainder != 0 {
            self.sizes.remainder as usize
        } else {
            bl
        };
        (first as u64 * bl as u64, (n - 1) * bl + last)
    }

    /// Reads chunk `c` of `basis` into `buf` (grown as needed) and puts
    /// its blocks' sums in `out`.
    fn sum_chunk<B: ReadAt + ?Sized>(
        &self,
        basis: &B,
        c: usize,
        how: BlockHash,
        buf: &mut Vec<u8>,
        out: &mut Sums,
    ) -> io::Result<()> {
        let (off, n) = self.chunk(c);
        if buf.len() < n {
            buf.resize(n, 0);
        }
        basis.read_exact_at(&mut buf[..n], off)?;
        out.sum1.clear();
        out.sum2.clear();
        how.sum_blocks(&buf[..n], self.sizes.blength as usize, out);
        Ok(())
    }
}

/// All block sums of a basis file, as sent by the generator and received by
/// the sender: per block the rolling sum and the strong sum truncated to
/// [`Signature::sum2_len`] bytes, kept in two flat arrays (8 bytes a block
/// for a 4-byte strong sum; offsets and lengths follow from the index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Header values.
    pub sizes: SumSizes,
    /// Strong-sum bytes kept per block.
    s2: usize,
    sums: Sums,
}

impl Signature {
    /// A signature with no blocks yet, whose strong sums are `s2` bytes
    /// long. `capacity` blocks are reserved (the caller bounds it).
    pub fn new(sizes: SumSizes, s2: usize, capacity: usize) -> Signature {
        Signature {
            sizes,
            s2,
            sums: Sums {
                sum1: Vec::with_capacity(capacity),
                sum2: Vec::with_capacity(capacity.saturating_mul(s2)),
            },
        }
    }

    /// Appends a block's sums. `sum2` is truncated, or padded with zeros,
    /// to [`Signature::sum2_len`] bytes.
    pub fn push(&mut self, sum1: u32, sum2: &[u8]) {
        let n = sum2.len().min(self.s2);
        self.sums.sum1.push(sum1);
        self.sums.sum2.extend_from_slice(&sum2[..n]);
        let len = self.sums.sum2.len() + self.s2 - n;
        self.sums.sum2.resize(len, 0);
    }

    /// Number of blocks held.
    pub fn len(&self) -> usize {
        self.sums.sum1.len()
    }

    /// True when no block is held.
    pub fn is_empty(&self) -> bool {
        self.sums.sum1.is_empty()
    }

    /// Strong-sum bytes kept per block.
    pub fn sum2_len(&self) -> usize {
        self.s2
    }

    /// Rolling sum of block `i` (panics if out of range).
    #[inline]
    pub fn sum1(&self, i: usize) -> u32 {
        self.sums.sum1[i]
    }

    /// Strong sum of block `i` (panics if out of range).
    #[inline]
    pub fn sum2(&self, i: usize) -> &[u8] {
        &self.sums.sum2[i * self.s2..(i + 1) * self.s2]
    }

    /// `(sum1, sum2)` of each block, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[u8])> + '_ {
        (0..self.len()).map(|i| (self.sum1(i), self.sum2(i)))
    }

    /// Computes the signature of `basis` (its first `len` bytes are read).
    ///
    /// The block layout comes from `sizes`; it must cover exactly `len`
    /// bytes (else `InvalidInput`). A basis shorter than `len` gives
    /// `UnexpectedEof`. Strong sums are truncated to `s2length`.
    // upstream: generator.c:generate_and_send_sums()
    pub fn generate<B: ReadAt + ?Sized>(
        basis: &B,
        len: u64,
        sizes: SumSizes,
        kind: ChecksumKind,
        seed: i32,
        seed_fix: bool,
    ) -> io::Result<Signature> {
        let s2 = (sizes.s2length as usize).min(kind.digest_len());
        // Bounded by `len`, which the caller read from its own file.
        let mut sig = Signature::new(sizes, s2, (sizes.count as usize).min(1 << 20));
        Self::generate_with(basis, len, sizes, (kind, seed, seed_fix), &mut |s1, s2| {
            sig.push(s1, s2)
        })?;
        Ok(sig)
    }

    /// As [`Signature::generate`], but hands each block's sums to `sink`
    /// in file order instead of keeping them (the generator writes them
    /// straight out, as upstream does). The strong sums are
    /// `min(s2length, digest length)` bytes. On error, some blocks may
    /// already have been passed on.
    ///
    /// The basis is read in chunks of whole blocks; from 1 MiB on, a
    /// helper thread reads and sums every other chunk while this one does
    /// the rest (reading the basis is most of the work).
    pub fn generate_with<B: ReadAt + ?Sized>(
        basis: &B,
        len: u64,
        sizes: SumSizes,
        (kind, seed, seed_fix): (ChecksumKind, i32, bool),
        sink: &mut dyn FnMut(u32, &[u8]),
    ) -> io::Result<()> {
        if sizes.count == 0 {
            return Ok(());
        }
        let covered = Self::covered_len(&sizes)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid sum header"))?;
        if covered != len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("sum header covers {covered} bytes, basis has {len}"),
            ));
        }
        let how = BlockHash {
            kind,
            seed,
            seed_fix,
            s2: (sizes.s2length as usize).min(kind.digest_len()),
        };
        let layout = Layout::new(sizes);
        // Each buffer grows to the longest chunk it reads (never longer
        // than the basis).
        let mut buf = Vec::new();
        let mut mine = Sums::default();
        let mut one = |c: usize, sink: &mut dyn FnMut(u32, &[u8])| -> io::Result<()> {
            layout.sum_chunk(basis, c, how, &mut buf, &mut mine)?;
            mine.feed(how.s2, sink);
            Ok(())
        };
        if len < SPLIT_AT || layout.chunks < 2 {
            return (0..layout.chunks).try_for_each(|c| one(c, sink));
        }
        std::thread::scope(|s| {
            // Sums of the helper's chunks (1, 3, 5...) in order, and their
            // emptied vectors back for reuse.
            let (results, from_helper) = std::sync::mpsc::sync_channel::<io::Result<Sums>>(2);
            let (recycle, spare) = std::sync::mpsc::channel::<Sums>();
            let helper = std::thread::Builder::new().spawn_scoped(s, move || {
                let mut buf = Vec::new();
                for c in (1..layout.chunks).step_by(2) {
                    let mut out = spare.try_recv().unwrap_or_default();
                    let r = layout.sum_chunk(basis, c, how, &mut buf, &mut out);
                    let failed = r.is_err();
                    if results.send(r.map(|()| out)).is_err() || failed {
                        break;
                    }
                }
            });
            let result = if helper.is_err() {
                // No second thread: this one does it all.
                (0..layout.chunks).try_for_each(|c| one(c, sink))
            } else {
                (0..layout.chunks).step_by(2).try_for_each(|c| {
                    one(c, sink)?;
                    if c + 1 == layout.chunks {
                        return Ok(());
                    }
                    // A helper that died (panicked) is reported by join.
                    let theirs = from_helper
                        .recv()
                        .unwrap_or_else(|_| Err(io::Error::other("block-sum helper stopped")))?;
                    theirs.feed(how.s2, sink);
                    let _ = recycle.send(theirs);
                    Ok(())
                })
            };
            // A helper blocked on a full channel sees it closed and stops.
            drop(from_helper);
            if let Ok(h) = helper {
                if let Err(panic) = h.join() {
                    std::panic::resume_unwind(panic);
                }
            }
            result
        })
    }

    /// The number of basis bytes the header describes, or `None` if the
    /// header is inconsistent (blocks without a length, remainder too big).
    pub fn covered_len(sizes: &SumSizes) -> Option<u64> {
        if sizes.count == 0 {
            return Some(0);
        }
        if sizes.blength == 0 || sizes.remainder > sizes.blength {
            return None;
        }
        let last = if sizes.remainder != 0 {
            sizes.remainder
        } else {
            sizes.blength
        };
        Some(u64::from(sizes.count - 1) * u64::from(sizes.blength) + u64::from(last))
    }
    /// Byte range `(offset, len)` of block `index` in the basis, or `None`
    /// if the index is out of range.
    pub fn block_range(sizes: &SumSizes, index: u32) -> Option<(u64, usize)> {
        if index >= sizes.count {
            return None;
        }
        let len = if index == sizes.count - 1 && sizes.remainder != 0 {
            sizes.remainder
        } else {
            sizes.blength
        };
        Some((u64::from(index) * u64::from(sizes.blength), len as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// The chunked, two-thread signature equals the block-by-block one,
    /// for chunk boundaries on and off block boundaries, an odd and an
    /// even number of chunks, with and without a short last block, read
    /// from memory and from a file.
    #[test]
    fn chunked_signature_matches_per_block() {
        let data = noise((9 << 20) + 12_345);
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &data).unwrap();
        let kind = ChecksumKind::Xxh128;
        for (len, bl) in [
            (data.len(), 700u32),
            (data.len(), 131_072),
            (8 << 20, 4096),
            ((8 << 20) + READ_CHUNK, 4096),
            (5 << 20, (3 << 20) + 1),
            (SPLIT_AT as usize + 1, 700),
            (SPLIT_AT as usize - 1, 700),
            (1000, 700),
        ] {
            let len64 = len as u64;
            let sizes = sum_sizes(len64, 16, Some(bl), false);
            let sig = Signature::generate(&data[..len], len64, sizes, kind, 7, true).unwrap();
            assert_eq!(sig.len(), sizes.count as usize, "len {len} bl {bl}");
            let s2 = sizes.s2length as usize;
            for (i, (sum1, sum2)) in sig.iter().enumerate() {
                let (off, n) = Signature::block_range(&sizes, i as u32).unwrap();
                let block = &data[off as usize..off as usize + n];
                assert_eq!(sum1, checksum1(block), "len {len} bl {bl} block {i}");
                let (full, _) = kind.block_sum_fixed(block, 7, true);
                assert_eq!(sum2, &full[..s2], "len {len} bl {bl} block {i}");
            }
            // (the file is longer: only `len` bytes are read)
            let from_file = Signature::generate(&file, len64, sizes, kind, 7, true).unwrap();
            assert_eq!(from_file, sig, "len {len} bl {bl}");
        }
    }

    /// Fails the read of the chunk at `fail_at`.
    struct Failing<'a>(&'a [u8], u64);

    impl ReadAt for Failing<'_> {
        fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
            if off == self.1 {
                return Err(io::Error::other("injected read failure"));
            }
            self.0.read_exact_at(buf, off)
        }
    }

    /// A read error in either thread's chunk (first, second, in the
    /// middle, the last) ends the signature with that error, and a basis
    /// that ends early with UnexpectedEof; the blocks before it were
    /// handed out in order.
    #[test]
    fn read_errors_stop_both_threads() {
        let data = noise(4 << 20);
        let sizes = sum_sizes(data.len() as u64, 16, Some(4096), false);
        let chunk = (READ_CHUNK / 4096 * 4096) as u64;
        let n = (data.len() as u64).div_ceil(chunk);
        for c in [0, 1, 2, 5, n - 1] {
            let mut seen = 0u64;
            let r = Signature::generate_with(
                &Failing(&data, c * chunk),
                data.len() as u64,
                sizes,
                (ChecksumKind::Xxh3, 1, true),
                &mut |_, _| seen += 1,
            );
            let err = r.expect_err("read failure");
            assert_eq!(err.to_string(), "injected read failure", "chunk {c}");
            assert_eq!(seen, c * chunk / 4096, "blocks before chunk {c}");
        }
        for short in [1usize, data.len() / 2, chunk as usize + 1] {
            let r = Signature::generate(
                &data[..data.len() - short],
                data.len() as u64,
                sizes,
                ChecksumKind::Md5,
                1,
                true,
            );
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        }
    }

    /// Every strong-sum length from 0 to 16 bytes is kept as asked,
    /// each block's the prefix of its full sum; what `generate_with` hands
    /// out is what `generate` keeps; `push` truncates and pads.
    #[test]
    fn strong_sum_lengths() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let kind = ChecksumKind::Md5;
        for s2length in 0..=16u32 {
            let sizes = SumSizes {
                s2length,
                ..sum_sizes(data.len() as u64, 16, Some(700), false)
            };
            let sig = Signature::generate(&data[..], 10_000, sizes, kind, 3, true).unwrap();
            assert_eq!(sig.sum2_len(), s2length as usize);
            assert_eq!(sig.len(), 15);
            let mut streamed = Signature::new(sizes, s2length as usize, 0);
            Signature::generate_with(&data[..], 10_000, sizes, (kind, 3, true), &mut |a, b| {
                assert_eq!(b.len(), s2length as usize);
                streamed.push(a, b)
            })
            .unwrap();
            assert_eq!(streamed, sig);
            let mut pushed = Signature::new(sizes, s2length as usize, 0);
            for (i, (sum1, sum2)) in sig.iter().enumerate() {
                let (off, n) = Signature::block_range(&sizes, i as u32).unwrap();
                let full = kind.block_sum(&data[off as usize..off as usize + n], 3, true);
                assert_eq!(sum2, &full[..s2length as usize]);
                pushed.push(sum1, &full);
            }
            assert_eq!(pushed, sig);
        }
        let mut short = Signature::new(sz(1, 700, 4, 0), 4, 1);
        short.push(9, &[1, 2]);
        assert_eq!(short.sum2(0), &[1, 2, 0, 0]);
        assert_eq!(short.sum1(0), 9);
    }

    fn sz(count: u32, blength: u32, s2length: u32, remainder: u32) -> SumSizes {
        SumSizes {
            count,
            blength,
            s2length,
            remainder,
        }
    }

    #[test]
    fn heuristic_table() {
        // Section 7.3 of the protocol notes, digest length 16.
        let table = [
            (1_000u64, sz(2, 700, 2, 300)),
            (1_000_000, sz(1000, 1000, 2, 0)),
            (10_000_000, sz(3165, 3160, 2, 1760)),
            (100_000_000, sz(10000, 10000, 3, 0)),
            (1_000_000_000, sz(31630, 31616, 3, 17536)),
            (4_000_000_000, sz(63252, 63240, 4, 6760)),
            (100_000_000_000, sz(762940, 131072, 5, 59392)),
        ];
        for (len, want) in table {
            assert_eq!(sum_sizes(len, 16, None, false), want, "len {len}");
            let redo = sum_sizes(len, 16, None, true);
            assert_eq!(redo.s2length, 16);
            assert_eq!(sum_sizes(len, 8, None, true).s2length, 8);
        }
    }

    #[test]
    fn heuristic_edges() {
        assert_eq!(sum_sizes(0, 16, None, false), sz(0, 700, 2, 0));
        assert_eq!(sum_sizes(490_000, 16, None, false).blength, 700);
        assert_eq!(sum_sizes(490_001, 16, None, false).blength, 700);
        assert_eq!(
            sum_sizes(10_000, 16, Some(1024), false),
            sz(10, 1024, 2, 784)
        );
        assert_eq!(sum_sizes(10_000, 16, Some(0), false).blength, 700);
        // short digests cap s2length
        assert_eq!(sum_sizes(1 << 40, 1, None, false).s2length, 1);
    }

    #[test]
    fn ranges() {
        let s = sz(3, 10, 2, 4);
        assert_eq!(Signature::block_range(&s, 0), Some((0, 10)));
        assert_eq!(Signature::block_range(&s, 2), Some((20, 4)));
        assert_eq!(Signature::block_range(&s, 3), None);
        assert_eq!(Signature::covered_len(&s), Some(24));
        let full = sz(2, 10, 2, 0);
        assert_eq!(Signature::block_range(&full, 1), Some((10, 10)));
        assert_eq!(Signature::covered_len(&sz(1, 10, 2, 11)), None);
        assert_eq!(Signature::covered_len(&sz(1, 0, 2, 0)), None);
    }

    #[test]
    fn generate_blocks() {
        let data: Vec<u8> = (0..2500u32).map(|i| (i * 31 % 251) as u8).collect();
        let sizes = sum_sizes(data.len() as u64, 16, None, false);
        let sig = Signature::generate(&data[..], 2500, sizes, ChecksumKind::Md5, 7, true).unwrap();
        assert_eq!(sig.len(), 4);
        for (i, (sum1, sum2)) in sig.iter().enumerate() {
            let (off, n) = Signature::block_range(&sizes, i as u32).unwrap();
            let blk = &data[off as usize..off as usize + n];
            assert_eq!(sum1, checksum1(blk));
            assert_eq!(sum2, &ChecksumKind::Md5.block_sum(blk, 7, true)[..2]);
        }
        assert!(
            Signature::generate(&data[..100], 2500, sizes, ChecksumKind::Md5, 7, true).is_err()
        );
        assert!(Signature::generate(&data[..], 2499, sizes, ChecksumKind::Md5, 7, true).is_err());
        let empty = Signature::generate(
            &b""[..],
            0,
            sum_sizes(0, 16, None, false),
            ChecksumKind::Md4,
            0,
            false,
        )
        .unwrap();
        assert!(empty.is_empty());
    }
}
