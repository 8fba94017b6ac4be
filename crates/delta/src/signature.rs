//! Block-size heuristic (upstream generator.c sum_sizes_sqroot) and the
//! signature of a basis file.
use crate::checksum::ChecksumKind;
use crate::rolling::checksum1;
use std::io::{self, Read};

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

/// One block's sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSum {
    /// Rolling checksum.
    pub sum1: u32,
    /// Strong checksum, truncated to s2length.
    pub sum2: Vec<u8>,
}

/// All block sums of a basis file, as sent by the generator and received by
/// the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Header values.
    pub sizes: SumSizes,
    /// One entry per block, in file order.
    pub blocks: Vec<BlockSum>,
}

impl Signature {
    /// Computes the signature of `basis` (exactly `len` bytes are read).
    ///
    /// The block layout comes from `sizes`; it must cover exactly `len`
    /// bytes (else `InvalidInput`). A basis shorter than `len` gives
    /// `UnexpectedEof`. Strong sums are truncated to `s2length`.
    // upstream: generator.c:generate_and_send_sums()
    pub fn generate<R: Read>(
        mut basis: R,
        len: u64,
        sizes: SumSizes,
        kind: ChecksumKind,
        seed: i32,
        seed_fix: bool,
    ) -> io::Result<Signature> {
        if sizes.count == 0 {
            return Ok(Signature {
                sizes,
                blocks: Vec::new(),
            });
        }
        let covered = Self::covered_len(&sizes)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid sum header"))?;
        if covered != len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("sum header covers {covered} bytes, basis has {len}"),
            ));
        }
        let s2 = (sizes.s2length as usize).min(kind.digest_len());
        let mut buf = vec![0u8; sizes.blength as usize];
        // Bounded by `len`, which the caller read from its own file.
        let mut blocks = Vec::with_capacity(sizes.count.min(1 << 20) as usize);
        for i in 0..sizes.count {
            let (_, n) = Self::block_range(&sizes, i)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid sum header"))?;
            let data = &mut buf[..n];
            basis.read_exact(data)?;
            let (sum2, _) = kind.block_sum_fixed(data, seed, seed_fix);
            blocks.push(BlockSum {
                sum1: checksum1(data),
                sum2: sum2[..s2].to_vec(),
            });
        }
        Ok(Signature { sizes, blocks })
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
        assert_eq!(sig.blocks.len(), 4);
        for (i, b) in sig.blocks.iter().enumerate() {
            let (off, n) = Signature::block_range(&sizes, i as u32).unwrap();
            let blk = &data[off as usize..off as usize + n];
            assert_eq!(b.sum1, checksum1(blk));
            assert_eq!(
                b.sum2,
                ChecksumKind::Md5.block_sum(blk, 7, true)[..2].to_vec()
            );
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
        assert!(empty.blocks.is_empty());
    }
}
