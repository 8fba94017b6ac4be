//! Block-size heuristic (upstream generator.c sum_sizes_sqroot) and the
//! signature of a basis file.
use crate::checksum::ChecksumKind;
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
pub fn sum_sizes(len: u64, digest_len: usize, block_size: Option<u32>, redo: bool) -> SumSizes {
    let _ = (len, digest_len, block_size, redo);
    todo!()
}

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
    pub fn generate<R: Read>(basis: R, len: u64, sizes: SumSizes, kind: ChecksumKind, seed: i32, seed_fix: bool) -> io::Result<Signature> {
        let _ = (basis, len, sizes, kind, seed, seed_fix);
        todo!()
    }
    /// Byte range `(offset, len)` of block `index` in the basis, or `None`
    /// if the index is out of range.
    pub fn block_range(sizes: &SumSizes, index: u32) -> Option<(u64, usize)> {
        let _ = (sizes, index);
        todo!()
    }
}
