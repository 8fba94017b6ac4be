//! lz4: every DEFLATED_DATA chunk is an independent raw lz4 block of at most
//! MAX_DATA_COUNT input bytes.
use super::{write_chunk, MAX_DATA_COUNT};
use crate::error::{Error, Result};

/// Largest decompressed chunk accepted (upstream's receive buffer,
/// `LZ4_compressBound(CHUNK_SIZE)`).
pub(super) const MAX_LZ4_OUT: usize = 32768 + 32768 / 255 + 16;

/// Compresses `data` into chunks; a piece whose compressed form would not
/// fit one chunk is retried with half the input.
// upstream: token.c:send_compressed_token()
pub(super) fn compress(mut data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let mut scratch = vec![0u8; lz4_flex::block::get_maximum_output_size(MAX_DATA_COUNT)];
    while !data.is_empty() {
        let mut take = data.len().min(MAX_DATA_COUNT);
        loop {
            let n = lz4_flex::block::compress_into(&data[..take], &mut scratch)
                .map_err(|e| Error::invalid("lz4 compression", e.to_string()))?;
            if n <= MAX_DATA_COUNT {
                write_chunk(out, &scratch[..n]);
                break;
            }
            take /= 2;
            if take == 0 {
                return Err(Error::invalid("lz4 compression", "cannot fit a chunk"));
            }
        }
        data = &data[take..];
    }
    Ok(())
}

/// Receiver-side lz4 state: the last chunk's output until it is returned.
pub(super) struct Lz4Rx {
    dbuf: Vec<u8>,
    ready: usize,
}

impl std::fmt::Debug for Lz4Rx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lz4Rx").field("ready", &self.ready).finish()
    }
}

impl Lz4Rx {
    pub(super) fn new() -> Lz4Rx {
        Lz4Rx {
            dbuf: vec![0; MAX_LZ4_OUT],
            ready: 0,
        }
    }

    // upstream: token.c:recv_compressed_token() (r_inflating)
    pub(super) fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.ready = lz4_flex::block::decompress_into(chunk, &mut self.dbuf)
            .map_err(|e| Error::invalid("compressed data", format!("lz4 block: {e}")))?;
        Ok(())
    }

    pub(super) fn has_output(&self) -> bool {
        self.ready > 0
    }

    pub(super) fn drain(&mut self, buf: &mut Vec<u8>) -> usize {
        let n = std::mem::take(&mut self.ready);
        buf.extend_from_slice(&self.dbuf[..n]);
        n
    }
}
