//! The uncompressed token stream (upstream token.c simple_send_token /
//! simple_recv_token): literal runs, block matches, end.
use crate::error::Result;
use std::io::Read;

/// Largest literal run the reader accepts in one token. Upstream writes at
/// most CHUNK_SIZE (32 KiB); we allow more but bound it.
pub const MAX_LITERAL_LEN: usize = 1 << 20;
/// Literal chunk size the writer uses (upstream CHUNK_SIZE).
pub const CHUNK_SIZE: usize = 32 * 1024;

/// One token read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// `n` literal bytes were read into the caller's buffer.
    Literal(usize),
    /// Copy block `i` of the basis.
    Match(u32),
    /// End of this file's tokens.
    End,
}

/// Appends literal data, split into CHUNK_SIZE runs.
pub fn write_literal(out: &mut Vec<u8>, data: &[u8]) {
    let _ = (out, data);
    todo!()
}
/// Appends a match of block `index`.
pub fn write_match(out: &mut Vec<u8>, index: u32) {
    let _ = (out, index);
    todo!()
}
/// Appends the end token.
pub fn write_end(out: &mut Vec<u8>) {
    let _ = out;
    todo!()
}
/// Reads one token; literal bytes are placed in `buf` (resized to the run
/// length, bounded by MAX_LITERAL_LEN).
pub fn read_token<R: Read + ?Sized>(r: &mut R, buf: &mut Vec<u8>) -> Result<Token> {
    let _ = (r, buf);
    todo!()
}
