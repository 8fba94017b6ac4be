//! zlib and zlibx: raw deflate (window bits 15, no header), reset per file,
//! sync-flushed at every token with the trailing `00 00 FF FF` left off the
//! wire. zlib additionally feeds every matched block into both windows.
use super::{write_chunk, write_chunks, MAX_DATA_COUNT, MAX_LITERAL_OUT};
use crate::error::{Error, Result};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The empty stored block a sync flush ends with.
const SYNC_TAIL: [u8; 4] = [0, 0, 0xff, 0xff];
/// Largest piece of a matched block fed as one stored block.
const MAX_STORED: usize = 0xffff;
/// Scratch output size for one deflate/inflate call.
const SCRATCH: usize = 64 * 1024;

/// The pieces of a matched block that go into the window: stored-block
/// sized, and below protocol 31 always taken from the block's start
/// (upstream's duplicated-data quirk, kept for compatibility).
fn window_pieces(block: &[u8], protocol: i32) -> impl Iterator<Item = &[u8]> {
    let mut off = 0usize;
    let mut left = block.len();
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = left.min(MAX_STORED);
        let piece = &block[off..off + n];
        if protocol >= 31 {
            off += n;
        }
        left -= n;
        Some(piece)
    })
}

fn deflate_err(e: impl std::fmt::Display) -> Error {
    Error::invalid("deflate", e.to_string())
}

fn inflate_err(e: impl std::fmt::Display) -> Error {
    Error::invalid("compressed data", format!("inflate failed: {e}"))
}

/// Sender-side deflate state.
pub(super) struct DeflateTx {
    c: Compress,
    feed_matches: bool,
    protocol: i32,
    /// Compressed bytes not yet sent (the tail of a flush is checked and
    /// dropped here).
    pending: Vec<u8>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for DeflateTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeflateTx")
            .field("feed_matches", &self.feed_matches)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl DeflateTx {
    pub(super) fn new(level: i32, feed_matches: bool, protocol: i32) -> DeflateTx {
        DeflateTx {
            c: Compress::new(Compression::new(level.clamp(0, 9) as u32), false),
            feed_matches,
            protocol,
            pending: Vec::new(),
            scratch: vec![0; SCRATCH],
        }
    }

    pub(super) fn reset(&mut self) {
        self.c.reset();
        self.pending.clear();
    }

    /// Runs deflate over all of `input`; output goes to `pending` (and full
    /// chunks on to `out`) when `out` is given, else it is discarded.
    fn run(
        &mut self,
        mut input: &[u8],
        flush: FlushCompress,
        mut out: Option<&mut Vec<u8>>,
    ) -> Result<()> {
        loop {
            let (in0, out0) = (self.c.total_in(), self.c.total_out());
            self.c
                .compress(input, &mut self.scratch, flush)
                .map_err(deflate_err)?;
            let used = (self.c.total_in() - in0) as usize;
            let made = (self.c.total_out() - out0) as usize;
            input = &input[used..];
            if let Some(out) = out.as_deref_mut() {
                self.pending.extend_from_slice(&self.scratch[..made]);
                // Keep at least the 4 bytes a flush may have to drop.
                while self.pending.len() >= MAX_DATA_COUNT + SYNC_TAIL.len() {
                    write_chunk(out, &self.pending[..MAX_DATA_COUNT]);
                    self.pending.drain(..MAX_DATA_COUNT);
                }
            }
            if input.is_empty() && made < self.scratch.len() {
                return Ok(());
            }
            if used == 0 && made == 0 {
                return Err(deflate_err("deflate made no progress"));
            }
        }
    }

    // upstream: token.c:send_deflated_token() (literal data)
    pub(super) fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.run(data, FlushCompress::None, Some(out))
    }

    /// Sync-flushes and sends everything but the trailing empty stored block.
    pub(super) fn flush(&mut self, out: &mut Vec<u8>) -> Result<()> {
        self.run(&[], FlushCompress::Sync, Some(out))?;
        if !self.pending.ends_with(&SYNC_TAIL) {
            return Err(deflate_err(
                "sync flush did not end with an empty stored block",
            ));
        }
        let keep = self.pending.len() - SYNC_TAIL.len();
        write_chunks(out, &self.pending[..keep]);
        self.pending.clear();
        Ok(())
    }

    /// zlib: adds a matched block to the window without sending anything.
    // upstream: token.c:send_deflated_token() (the Z_INSERT_ONLY part)
    pub(super) fn see_match(&mut self, block: &[u8]) -> Result<()> {
        if !self.feed_matches {
            return Ok(());
        }
        let protocol = self.protocol;
        for piece in window_pieces(block, protocol) {
            self.run(piece, FlushCompress::Sync, None)?;
        }
        Ok(())
    }
}

/// Receiver-side inflate state.
pub(super) struct DeflateRx {
    d: Decompress,
    feed_matches: bool,
    protocol: i32,
    /// The current compressed chunk and how much of it was consumed.
    input: Vec<u8>,
    pos: usize,
    /// The last drain filled its output: more may be waiting.
    out_full: bool,
    /// Data arrived since the last sync point.
    inflated: bool,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for DeflateRx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeflateRx")
            .field("feed_matches", &self.feed_matches)
            .field("pending_input", &(self.input.len() - self.pos))
            .finish()
    }
}

impl DeflateRx {
    pub(super) fn new(feed_matches: bool, protocol: i32) -> DeflateRx {
        DeflateRx {
            d: Decompress::new(false),
            feed_matches,
            protocol,
            input: Vec::with_capacity(MAX_DATA_COUNT),
            pos: 0,
            out_full: false,
            inflated: false,
            scratch: Vec::new(),
        }
    }

    pub(super) fn reset(&mut self) {
        self.d.reset(false);
        self.input.clear();
        self.pos = 0;
        self.out_full = false;
        self.inflated = false;
    }

    pub(super) fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.input.clear();
        self.input.extend_from_slice(chunk);
        self.pos = 0;
        self.inflated = true;
        Ok(())
    }

    pub(super) fn has_output(&self) -> bool {
        self.pos < self.input.len() || self.out_full
    }

    /// One inflate step: returns (input used, output made).
    fn step(
        d: &mut Decompress,
        input: &[u8],
        output: &mut [u8],
        flush: FlushDecompress,
    ) -> Result<(usize, usize)> {
        let (in0, out0) = (d.total_in(), d.total_out());
        let status = d.decompress(input, output, flush).map_err(inflate_err)?;
        if status == Status::StreamEnd {
            return Err(inflate_err("the stream ended with a final block"));
        }
        Ok((
            (d.total_in() - in0) as usize,
            (d.total_out() - out0) as usize,
        ))
    }

    // upstream: token.c:recv_deflated_token() (r_inflating)
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
            let step = Self::step(
                &mut self.d,
                &self.input[self.pos..],
                &mut buf[start + produced..],
                FlushDecompress::None,
            );
            let (used, made) = match step {
                Ok(v) => v,
                Err(e) => break Err(e),
            };
            self.pos += used;
            produced += made;
            if self.pos == self.input.len() && produced < room {
                break Ok(());
            }
            if used == 0 && made == 0 {
                break Err(inflate_err("no progress on compressed data"));
            }
        };
        buf.truncate(start + produced);
        result.map(|()| produced)
    }

    /// Before a token or end: returns any output still held, else restores
    /// the sync marker the sender left off.
    // upstream: token.c:recv_deflated_token() (r_inflated)
    pub(super) fn finish_data(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        if !self.inflated {
            return Ok(0);
        }
        let start = buf.len();
        let room = MAX_LITERAL_OUT.saturating_sub(start);
        buf.resize(start + room, 0);
        let step = Self::step(&mut self.d, &[], &mut buf[start..], FlushDecompress::Sync);
        let made = match step {
            Ok((_, made)) => made,
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        };
        buf.truncate(start + made);
        if made > 0 {
            self.out_full = made == room;
            return Ok(made);
        }
        self.scratch.resize(SCRATCH, 0);
        let (used, made) = Self::step(
            &mut self.d,
            &SYNC_TAIL,
            &mut self.scratch,
            FlushDecompress::Sync,
        )?;
        if used != SYNC_TAIL.len() || made != 0 {
            return Err(Error::invalid(
                "compressed data",
                "decompressor lost sync".to_string(),
            ));
        }
        self.inflated = false;
        Ok(0)
    }

    /// zlib: feeds a matched block to the inflater as stored blocks so its
    /// window matches the sender's.
    // upstream: token.c:see_deflate_token()
    pub(super) fn see_match(&mut self, block: &[u8]) -> Result<()> {
        if !self.feed_matches {
            return Ok(());
        }
        self.scratch.resize(SCRATCH, 0);
        for piece in window_pieces(block, self.protocol) {
            let len = piece.len() as u16;
            let [lo, hi] = len.to_le_bytes();
            let header = [0u8, lo, hi, !lo, !hi];
            let mut total_made = 0;
            for mut input in [&header[..], piece] {
                loop {
                    let (used, made) =
                        Self::step(&mut self.d, input, &mut self.scratch, FlushDecompress::Sync)?;
                    input = &input[used..];
                    total_made += made;
                    if input.is_empty() && made < self.scratch.len() {
                        break;
                    }
                    if used == 0 && made == 0 {
                        return Err(inflate_err("no progress on a matched block"));
                    }
                }
            }
            if total_made != piece.len() {
                return Err(Error::invalid(
                    "compressed data",
                    format!(
                        "matched block of {} bytes inflated to {total_made}: not at a sync point",
                        piece.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}
