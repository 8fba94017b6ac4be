//! Compressed token streams (upstream token.c, `-z`): zlib, zlibx, zstd and
//! lz4.
//!
//! All four share one byte-oriented framing of flag bytes (see
//! [`END_FLAG`] and friends): compressed literal data travels in
//! `DEFLATED_DATA` chunks of at most [`MAX_DATA_COUNT`] bytes and block
//! matches are coalesced into runs. The sender side is a session-long
//! [`Compressor`], the receiver side a session-long [`Decompressor`]; both
//! handle any number of files one after the other (zstd keeps one stream for
//! the whole session, the others reset at every file).
//!
//! Sender usage per file: any sequence of [`Compressor::literal`] and
//! [`Compressor::matched`] calls in file order, then [`Compressor::end`];
//! the caller then writes the whole-file checksum itself.
//!
//! Receiver usage per file: call [`Decompressor::read_token`] until
//! [`Token::End`]; after copying the basis block of every
//! [`Token::Match`], call [`Decompressor::see_match`] with those bytes.
use crate::error::{Error, Result};
use crate::token::Token;
use crate::varint::WireRead;
use std::io::Read;

mod deflate;
#[doc(hidden)]
pub mod fuzzing;
mod lz4;
mod zstandard;

/// Flag byte: end of this file's tokens.
pub const END_FLAG: u8 = 0x00;
/// Flag byte: one match, followed by its absolute index as `i32le`.
pub const TOKEN_LONG: u8 = 0x20;
/// Flag byte: a run of matches, `i32le` start then `u16le` extra count.
pub const TOKENRUN_LONG: u8 = 0x21;
/// Flag byte base: compressed data; the low 6 bits are the high bits of the
/// 14-bit chunk length, the next byte the low 8 bits.
pub const DEFLATED_DATA: u8 = 0x40;
/// Flag byte base: one match, `last + (flag & 0x3f)`.
pub const TOKEN_REL: u8 = 0x80;
/// Flag byte base: a run of matches starting at `last + (flag & 0x3f)`,
/// followed by a `u16le` extra count.
pub const TOKENRUN_REL: u8 = 0xC0;
/// Largest compressed chunk (14 bits of length).
pub const MAX_DATA_COUNT: usize = 16383;
/// Most decompressed bytes returned by one [`Token::Literal`]; a larger
/// expansion is returned over several calls.
pub const MAX_LITERAL_OUT: usize = 256 * 1024;
/// Largest block index the receiver accepts (upstream MAX_TOKEN_INDEX).
pub const MAX_TOKEN_INDEX: u32 = 0x7fff_fffe;
/// Most tokens in one run (the first plus a 16-bit count of more).
pub const MAX_RUN: u32 = 65536;

/// Upstream's default `dont compress` / skip-compress list (rsync.1 "*.7z"
/// etc.). It has no wire effect: upstream only acts on a list of exactly
/// `*`, which minimises the level for every file.
pub const DEFAULT_DONT_COMPRESS: &str = "*.3g2 *.3gp *.7z *.aac *.ace *.apk *.avi *.bz2 *.deb \
*.dmg *.ear *.f4v *.flac *.flv *.gpg *.gz *.iso *.jar *.jpeg *.jpg *.lrz *.lz *.lz4 *.lzma \
*.lzo *.m1a *.m1v *.m2a *.m2ts *.m2v *.m4a *.m4b *.m4p *.m4r *.m4v *.mka *.mkv *.mov *.mp1 \
*.mp2 *.mp3 *.mp4 *.mpa *.mpeg *.mpg *.mpv *.mts *.odb *.odf *.odg *.odi *.odm *.odp *.ods \
*.odt *.oga *.ogg *.ogm *.ogv *.ogx *.opus *.otg *.oth *.otp *.ots *.ott *.oxt *.png *.qt \
*.rar *.rpm *.rz *.rzip *.spx *.squashfs *.sxc *.sxd *.sxg *.sxm *.sxw *.sz *.tbz *.tbz2 \
*.tgz *.tlz *.ts *.txz *.tzo *.vob *.war *.webm *.webp *.xz *.z *.zip *.zst";

/// A compression algorithm of the token stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Raw deflate with matched data fed into both windows (`-z` default
    /// for peers that do not negotiate).
    Zlib,
    /// Raw deflate without the matched-data feed (`--new-compress`).
    Zlibx,
    /// One session-long zstd stream.
    Zstd,
    /// Independent raw lz4 blocks.
    Lz4,
}

impl Codec {
    /// Our negotiation list, most preferred first (the client's list; a
    /// server appends `none`).
    pub const PREFERENCE: [&'static str; 4] = ["zstd", "lz4", "zlibx", "zlib"];

    /// The codec for a negotiated name; `None` for `none` and unknown names.
    // upstream: compat.c:parse_compress_choice()
    pub fn from_name(name: &str) -> Option<Codec> {
        match name {
            "zstd" => Some(Codec::Zstd),
            "lz4" => Some(Codec::Lz4),
            "zlibx" => Some(Codec::Zlibx),
            "zlib" => Some(Codec::Zlib),
            _ => None,
        }
    }

    /// The negotiation name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Zstd => "zstd",
            Codec::Lz4 => "lz4",
            Codec::Zlibx => "zlibx",
            Codec::Zlib => "zlib",
        }
    }

    /// The level the sender will use for `--compress-level` (`None` when not
    /// given), clamped to the codec's range; `None` when that level switches
    /// compression off altogether (zlib/zlibx level 0: upstream then sends
    /// the plain token stream of [`crate::token`]).
    // upstream: token.c:init_compression_level()
    pub fn effective_level(self, level: Option<i32>) -> Option<i32> {
        match self {
            Codec::Zlib | Codec::Zlibx => match level {
                None => Some(6),
                Some(0) => None,
                Some(l) => Some(l.clamp(1, 9)),
            },
            Codec::Zstd => match level {
                None | Some(0) => Some(3),
                Some(l) => Some(l.clamp(
                    ::zstd::zstd_safe::min_c_level(),
                    ::zstd::zstd_safe::max_c_level(),
                )),
            },
            Codec::Lz4 => Some(0),
        }
    }
}

/// Sender-side coalescing of block matches into runs.
#[derive(Debug)]
struct RunWriter {
    /// -1 before the first call of a file, -2 after literal data, else the
    /// last token given.
    last_token: i64,
    run_start: i64,
    last_run_end: i64,
}

impl RunWriter {
    fn new() -> RunWriter {
        RunWriter {
            last_token: -1,
            run_start: 0,
            last_run_end: 0,
        }
    }

    fn at_file_start(&self) -> bool {
        self.last_token == -1
    }

    // upstream: token.c:send_deflated_token() (the run encoding part)
    fn write_run(&mut self, out: &mut Vec<u8>) {
        let rel = self.run_start - self.last_run_end;
        let extra = self.last_token - self.run_start;
        let base = if (0..=63).contains(&rel) {
            out.push(if extra == 0 { TOKEN_REL } else { TOKENRUN_REL } + rel as u8);
            None
        } else {
            out.push(if extra == 0 {
                TOKEN_LONG
            } else {
                TOKENRUN_LONG
            });
            Some(self.run_start as i32)
        };
        if let Some(start) = base {
            out.extend_from_slice(&start.to_le_bytes());
        }
        if extra != 0 {
            out.extend_from_slice(&(extra as u16).to_le_bytes());
        }
        self.last_run_end = self.last_token;
    }

    /// Literal data follows: close any open run.
    fn literal(&mut self, out: &mut Vec<u8>) {
        match self.last_token {
            -1 => self.last_run_end = 0,
            -2 => {}
            _ => self.write_run(out),
        }
        self.last_token = -2;
    }

    /// Block `token` matched: extend the open run or start a new one.
    fn matched(&mut self, token: i64, out: &mut Vec<u8>) {
        match self.last_token {
            -1 => {
                self.last_run_end = 0;
                self.run_start = token;
            }
            -2 => self.run_start = token,
            last => {
                if token != last + 1 || token >= self.run_start + i64::from(MAX_RUN) {
                    self.write_run(out);
                    self.run_start = token;
                }
            }
        }
        self.last_token = token;
    }

    /// End of file: close any open run and write END_FLAG.
    fn end(&mut self, out: &mut Vec<u8>) {
        if self.last_token >= 0 {
            self.write_run(out);
        }
        out.push(END_FLAG);
        self.last_token = -1;
    }
}

/// Appends `data` as DEFLATED_DATA chunks of at most MAX_DATA_COUNT bytes.
fn write_chunks(out: &mut Vec<u8>, data: &[u8]) {
    for chunk in data.chunks(MAX_DATA_COUNT) {
        write_chunk(out, chunk);
    }
}

/// Appends one DEFLATED_DATA chunk (`data.len() <= MAX_DATA_COUNT`).
fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    debug_assert!(data.len() <= MAX_DATA_COUNT);
    out.push(DEFLATED_DATA + (data.len() >> 8) as u8);
    out.push(data.len() as u8);
    out.extend_from_slice(data);
}

#[derive(Debug)]
enum TxInner {
    Deflate(Box<deflate::DeflateTx>),
    Zstd(Box<zstandard::ZstdTx>),
    Lz4,
}

/// Sender side of a compressed token stream, kept for the whole session.
#[derive(Debug)]
pub struct Compressor {
    codec: Codec,
    runs: RunWriter,
    inner: TxInner,
    /// Literal data went in since the last flush.
    flush_pending: bool,
}

impl Compressor {
    /// A compressor for `codec`. `level` is `--compress-level` (`None` for
    /// the codec's default; see [`Codec::effective_level`]: a zlib level of 0
    /// is treated as 1 here, the caller should have fallen back to the plain
    /// stream); `protocol` is the negotiated protocol version (zlib's
    /// matched-data feed differs below 31).
    pub fn new(codec: Codec, level: Option<i32>, protocol: i32) -> Result<Compressor> {
        // Level 0 for zlib/zlibx means stored blocks: a session with level 0
        // never gets here (it falls back to the plain stream), but a file on
        // the skip-compress list does, and must go out uncompressed.
        let level = match (codec, level) {
            (Codec::Zlib | Codec::Zlibx, Some(0)) => 0,
            _ => codec.effective_level(level).unwrap_or(1),
        };
        let inner = match codec {
            Codec::Zlib | Codec::Zlibx => TxInner::Deflate(Box::new(deflate::DeflateTx::new(
                level,
                codec == Codec::Zlib,
                protocol,
            ))),
            Codec::Zstd => TxInner::Zstd(Box::new(zstandard::ZstdTx::new(level)?)),
            Codec::Lz4 => TxInner::Lz4,
        };
        Ok(Compressor {
            codec,
            runs: RunWriter::new(),
            inner,
            flush_pending: false,
        })
    }

    /// `--compress-threads`: zstd compresses with `n` worker threads (0:
    /// on the caller's thread); the other codecs have none.
    pub fn set_workers(&mut self, n: u32) -> Result<()> {
        match &mut self.inner {
            TxInner::Zstd(z) if n > 0 => z.set_workers(n),
            _ => Ok(()),
        }
    }

    /// The codec in use.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    fn begin_file_if_needed(&mut self) {
        if self.runs.at_file_start() {
            self.flush_pending = false;
            if let TxInner::Deflate(d) = &mut self.inner {
                d.reset();
            }
        }
    }

    /// Appends literal data (any length; empty data is ignored).
    // upstream: token.c:send_token() with token -2
    pub fn literal(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.begin_file_if_needed();
        self.runs.literal(out);
        match &mut self.inner {
            TxInner::Deflate(d) => d.compress(data, out)?,
            TxInner::Zstd(z) => z.compress(data, out)?,
            TxInner::Lz4 => lz4::compress(data, out)?,
        }
        self.flush_pending = true;
        Ok(())
    }

    fn flush(&mut self, out: &mut Vec<u8>) -> Result<()> {
        if self.flush_pending {
            match &mut self.inner {
                TxInner::Deflate(d) => d.flush(out)?,
                TxInner::Zstd(z) => z.flush(out)?,
                TxInner::Lz4 => {}
            }
            self.flush_pending = false;
        }
        Ok(())
    }

    /// Appends a match of block `index` (at most [`MAX_TOKEN_INDEX`]);
    /// `block` is that block's content (zlib feeds it into its window).
    // upstream: token.c:send_deflated_token()
    pub fn matched(&mut self, index: u32, block: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if index > MAX_TOKEN_INDEX {
            return Err(Error::invalid(
                "block index",
                format!("{index} exceeds {MAX_TOKEN_INDEX}"),
            ));
        }
        self.begin_file_if_needed();
        self.flush(out)?;
        self.runs.matched(i64::from(index), out);
        if let TxInner::Deflate(d) = &mut self.inner {
            d.see_match(block)?;
        }
        Ok(())
    }

    /// Ends the file's token stream (END_FLAG). The caller writes the
    /// whole-file checksum after it.
    pub fn end(&mut self, out: &mut Vec<u8>) -> Result<()> {
        self.begin_file_if_needed();
        self.flush(out)?;
        self.runs.end(out);
        Ok(())
    }
}

/// Receiver-side token-run state.
#[derive(Debug, Default)]
struct RunReader {
    /// The last token returned (upstream rx_token).
    token: u32,
    /// Tokens of the current run still to return.
    left: u32,
}

impl RunReader {
    fn next(&mut self) -> Option<Token> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.token += 1;
        Some(Token::Match(self.token))
    }

    // upstream: token.c:recv_compressed_token_num()
    fn start<R: Read + ?Sized>(&mut self, r: &mut R, flag: u8) -> Result<Token> {
        let is_run = if flag & TOKEN_REL != 0 {
            let incr = u32::from(flag & 0x3f);
            if self.token > MAX_TOKEN_INDEX - incr {
                return Err(bad_token(format!("{} + {incr} is too large", self.token)));
            }
            self.token += incr;
            flag & 0x40 != 0
        } else if flag == TOKEN_LONG || flag == TOKENRUN_LONG {
            let t = r.read_i32_field("compressed token")?;
            if t < 0 || t as u32 > MAX_TOKEN_INDEX {
                return Err(bad_token(format!("absolute token {t}")));
            }
            self.token = t as u32;
            flag == TOKENRUN_LONG
        } else {
            return Err(Error::invalid(
                "compressed token flag",
                format!("unknown flag byte {flag:#04x}"),
            ));
        };
        if is_run {
            let run = u32::from(r.read_u16_field("token run")?);
            if run == 0 || self.token > MAX_TOKEN_INDEX - run {
                return Err(bad_token(format!("run of {run} after {}", self.token)));
            }
            self.left = run;
        }
        Ok(Token::Match(self.token))
    }
}

fn bad_token(detail: String) -> Error {
    Error::invalid("compressed token", detail)
}

#[derive(Debug)]
enum RxInner {
    Deflate(Box<deflate::DeflateRx>),
    Zstd(Box<zstandard::ZstdRx>),
    Lz4(Box<lz4::Lz4Rx>),
}

impl RxInner {
    fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        match self {
            RxInner::Deflate(d) => d.feed(chunk),
            RxInner::Zstd(z) => z.feed(chunk),
            RxInner::Lz4(l) => l.feed(chunk),
        }
    }

    fn has_output(&self) -> bool {
        match self {
            RxInner::Deflate(d) => d.has_output(),
            RxInner::Zstd(z) => z.has_output(),
            RxInner::Lz4(l) => l.has_output(),
        }
    }

    /// Decompresses up to MAX_LITERAL_OUT bytes of pending input into buf.
    fn drain(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        match self {
            RxInner::Deflate(d) => d.drain(buf),
            RxInner::Zstd(z) => z.drain(buf),
            RxInner::Lz4(l) => Ok(l.drain(buf)),
        }
    }
}

/// Receiver side of a compressed token stream, kept for the whole session.
#[derive(Debug)]
pub struct Decompressor {
    codec: Codec,
    runs: RunReader,
    inner: RxInner,
    /// A flag byte read while the inflater still had output (zlib).
    saved_flag: Option<u8>,
    cbuf: Vec<u8>,
}

impl Decompressor {
    /// A decompressor for `codec`; `protocol` is the negotiated protocol
    /// version (zlib's matched-data feed differs below 31).
    pub fn new(codec: Codec, protocol: i32) -> Result<Decompressor> {
        let inner = match codec {
            Codec::Zlib | Codec::Zlibx => RxInner::Deflate(Box::new(deflate::DeflateRx::new(
                codec == Codec::Zlib,
                protocol,
            ))),
            Codec::Zstd => RxInner::Zstd(Box::new(zstandard::ZstdRx::new()?)),
            Codec::Lz4 => RxInner::Lz4(Box::new(lz4::Lz4Rx::new())),
        };
        Ok(Decompressor {
            codec,
            runs: RunReader::default(),
            inner,
            saved_flag: None,
            cbuf: Vec::with_capacity(MAX_DATA_COUNT),
        })
    }

    /// The codec in use.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Reads the next token. Decompressed literal data is placed in `buf`
    /// (replacing its content, at most [`MAX_LITERAL_OUT`] bytes per call).
    // upstream: token.c:recv_deflated_token(), recv_zstd_token(),
    // recv_compressed_token()
    pub fn read_token<R: Read + ?Sized>(&mut self, r: &mut R, buf: &mut Vec<u8>) -> Result<Token> {
        buf.clear();
        loop {
            if let Some(t) = self.runs.next() {
                return Ok(t);
            }
            if self.inner.has_output() {
                let n = self.inner.drain(buf)?;
                if n > 0 {
                    return Ok(Token::Literal(n));
                }
                continue;
            }
            let flag = match self.saved_flag.take() {
                Some(f) => f,
                None => r.read_u8_field("compressed token flag")?,
            };
            if flag & 0xC0 == DEFLATED_DATA {
                let lo = r.read_u8_field("compressed data length")?;
                let n = (usize::from(flag & 0x3f) << 8) | usize::from(lo);
                self.cbuf.clear();
                self.cbuf.resize(n, 0);
                r.read_exact_field(&mut self.cbuf, "compressed data")?;
                self.inner.feed(&self.cbuf)?;
                continue;
            }
            if let RxInner::Deflate(d) = &mut self.inner {
                // Finish the data before the token: remaining output first,
                // then the stripped sync marker.
                let n = d.finish_data(buf)?;
                if n > 0 {
                    self.saved_flag = Some(flag);
                    return Ok(Token::Literal(n));
                }
            }
            if flag == END_FLAG {
                self.runs = RunReader::default();
                if let RxInner::Deflate(d) = &mut self.inner {
                    d.reset();
                }
                return Ok(Token::End);
            }
            return self.runs.start(r, flag);
        }
    }

    /// Tells the decompressor the content of the block just matched, after
    /// the caller copied it (zlib keeps its window in step with the
    /// sender's; a no-op for the other codecs).
    // upstream: token.c:see_token()
    pub fn see_match(&mut self, block: &[u8]) -> Result<()> {
        match &mut self.inner {
            RxInner::Deflate(d) => d.see_match(block),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
