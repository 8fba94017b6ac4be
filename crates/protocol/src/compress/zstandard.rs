//! zstd: one compression stream for the whole session, never ended or reset
//! between files, flushed (not ended) at every token and end of file.
use super::{write_chunk, MAX_DATA_COUNT, MAX_LITERAL_OUT};
use crate::error::{Error, Result};
use zstd::stream::raw::{Decoder, Encoder, InBuffer, Operation, OutBuffer};

fn compress_err(e: std::io::Error) -> Error {
    Error::invalid("zstd compression", e.to_string())
}

fn decompress_err(e: std::io::Error) -> Error {
    Error::invalid("compressed data", format!("zstd: {e}"))
}

/// Sender-side zstd state.
pub(super) struct ZstdTx {
    enc: Encoder<'static>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for ZstdTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdTx").finish_non_exhaustive()
    }
}

impl ZstdTx {
    pub(super) fn new(level: i32) -> Result<ZstdTx> {
        Ok(ZstdTx {
            enc: Encoder::new(level).map_err(compress_err)?,
            scratch: vec![0; MAX_DATA_COUNT],
        })
    }

    /// `--compress-threads`: `n` worker threads compress (0: this thread).
    // upstream: token.c:send_zstd_token() (ZSTD_c_nbWorkers)
    pub(super) fn set_workers(&mut self, n: u32) -> Result<()> {
        self.enc
            .set_parameter(zstd::stream::raw::CParameter::NbWorkers(n))
            .map_err(compress_err)
    }

    // upstream: token.c:send_zstd_token() (ZSTD_e_continue)
    pub(super) fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut input = InBuffer::around(data);
        loop {
            let mut output = OutBuffer::around(&mut self.scratch[..]);
            let before = input.pos();
            self.enc
                .run(&mut input, &mut output)
                .map_err(compress_err)?;
            let made = output.pos();
            if made > 0 {
                write_chunk(out, &self.scratch[..made]);
            }
            if input.pos() == data.len() {
                return Ok(());
            }
            if made == 0 && input.pos() == before {
                return Err(Error::invalid("zstd compression", "no progress"));
            }
        }
    }

    // upstream: token.c:send_zstd_token() (ZSTD_e_flush)
    pub(super) fn flush(&mut self, out: &mut Vec<u8>) -> Result<()> {
        loop {
            let mut output = OutBuffer::around(&mut self.scratch[..]);
            let left = self.enc.flush(&mut output).map_err(compress_err)?;
            let made = output.pos();
            if made > 0 {
                write_chunk(out, &self.scratch[..made]);
            }
            if left == 0 {
                return Ok(());
            }
            if made == 0 {
                return Err(Error::invalid("zstd compression", "flush made no progress"));
            }
        }
    }
}

/// Receiver-side zstd state.
pub(super) struct ZstdRx {
    dec: Decoder<'static>,
    input: Vec<u8>,
    pos: usize,
    out_full: bool,
}

impl std::fmt::Debug for ZstdRx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdRx")
            .field("pending_input", &(self.input.len() - self.pos))
            .finish_non_exhaustive()
    }
}

impl ZstdRx {
    pub(super) fn new() -> Result<ZstdRx> {
        Ok(ZstdRx {
            dec: Decoder::new().map_err(decompress_err)?,
            input: Vec::with_capacity(MAX_DATA_COUNT),
            pos: 0,
            out_full: false,
        })
    }

    pub(super) fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.input.clear();
        self.input.extend_from_slice(chunk);
        self.pos = 0;
        Ok(())
    }

    pub(super) fn has_output(&self) -> bool {
        self.pos < self.input.len() || self.out_full
    }

    // upstream: token.c:recv_zstd_token() (r_inflating)
    pub(super) fn drain(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        let start = buf.len();
        let room = MAX_LITERAL_OUT.saturating_sub(start);
        buf.resize(start + room, 0);
        let mut produced = 0;
        self.out_full = false;
        let result = loop {
            if produced == room {
                self.out_full = true;
                break Ok(());
            }
            let mut input = InBuffer::around(&self.input);
            input.set_pos(self.pos);
            let mut output = OutBuffer::around(&mut buf[start + produced..]);
            if let Err(e) = self.dec.run(&mut input, &mut output) {
                break Err(decompress_err(e));
            }
            let used = input.pos() - self.pos;
            let made = output.pos();
            self.pos = input.pos();
            produced += made;
            if self.pos == self.input.len() && produced < room {
                break Ok(());
            }
            if used == 0 && made == 0 {
                break Err(Error::invalid("compressed data", "zstd made no progress"));
            }
        };
        buf.truncate(start + produced);
        result.map(|()| produced)
    }
}
