//! The sum header that precedes block checksums (upstream io.c
//! write_sum_head/read_sum_head).
use crate::error::Result;
use std::io::Read;

/// Largest block length for protocol >= 30 (upstream MAX_BLOCK_SIZE).
pub const MAX_BLOCK_SIZE: i32 = 1 << 17;
/// Most blocks a header may announce; bounds the signature allocation.
/// (A 2^40-byte file at the largest block size needs 2^23 blocks.)
pub const MAX_BLOCK_COUNT: i32 = 1 << 24;

/// count, blength, s2length, remainder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SumHead {
    /// Number of blocks.
    pub count: i32,
    /// Block length.
    pub blength: i32,
    /// Bytes of strong sum per block.
    pub s2length: i32,
    /// Length of the last block (0 = full).
    pub remainder: i32,
}

impl SumHead {
    /// Appends the four i32s.
    pub fn write(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!()
    }
    /// Reads and validates: count in 0..=MAX_BLOCK_COUNT, blength in
    /// 0..=MAX_BLOCK_SIZE, count > 0 requires blength > 0, s2length in
    /// 0..=digest_len, remainder in 0..=blength. Violations are
    /// `Error::Invalid` naming the field and the value.
    pub fn read<R: Read + ?Sized>(r: &mut R, digest_len: usize) -> Result<SumHead> {
        let _ = (r, digest_len);
        todo!()
    }
}
