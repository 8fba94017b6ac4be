//! File-list index codec (protocol >= 30, upstream io.c write_ndx/read_ndx).
use crate::error::Result;
use std::io::Read;

/// End of a phase / of the transfer.
pub const NDX_DONE: i32 = -1;
/// No more incremental file lists.
pub const NDX_FLIST_EOF: i32 = -2;
/// Deletion statistics follow.
pub const NDX_DEL_STATS: i32 = -3;
/// Base of incremental file-list announcements.
pub const NDX_FLIST_OFFSET: i32 = -101;

/// Encoder state for one direction of a stream (never reset in a session).
#[derive(Debug, Clone)]
pub struct NdxWriter {
    prev_pos: i32,
    prev_neg: i32,
}

impl Default for NdxWriter {
    fn default() -> Self {
        NdxWriter { prev_pos: -1, prev_neg: 1 }
    }
}

impl NdxWriter {
    /// Appends the encoding of `ndx`.
    pub fn write(&mut self, out: &mut Vec<u8>, ndx: i32) {
        let _ = (out, ndx, self.prev_pos, self.prev_neg);
        todo!()
    }
}

/// Decoder state for one direction of a stream.
#[derive(Debug, Clone)]
pub struct NdxReader {
    prev_pos: i32,
    prev_neg: i32,
}

impl Default for NdxReader {
    fn default() -> Self {
        NdxReader { prev_pos: -1, prev_neg: 1 }
    }
}

impl NdxReader {
    /// Reads one ndx.
    pub fn read<R: Read + ?Sized>(&mut self, r: &mut R) -> Result<i32> {
        let _ = (r, self.prev_pos, self.prev_neg);
        todo!()
    }
}
