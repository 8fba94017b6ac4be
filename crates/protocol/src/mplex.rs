//! Multiplexed I/O (upstream io.c: send_msg, read_a_msg). Frames are a
//! 4-byte little-endian header `((7 + code) << 24) | len` and `len` bytes.
use crate::error::Result;
use std::io::{self, Read, Write};

/// Largest frame payload the reader accepts (24-bit field).
pub const MAX_FRAME_LEN: usize = 0xFF_FFFF;
/// Largest non-data message the reader accepts; upstream refuses
/// messages of BIGPATHBUFLEN (5120) and more.
pub const MAX_MSG_LEN: usize = 5120;
/// Largest MSG_DATA payload the writer emits.
pub const WRITE_FRAME_LEN: usize = 32 * 1024;

/// A multiplex message code (upstream rsync.h `enum msgcode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum MsgCode {
    Data = 0,
    ErrorXfer = 1,
    Info = 2,
    Error = 3,
    Warning = 4,
    ErrorSocket = 5,
    Log = 6,
    Client = 7,
    ErrorUtf8 = 8,
    Redo = 9,
    Stats = 10,
    IoError = 22,
    IoTimeout = 33,
    Noop = 42,
    ErrorExit = 86,
    Success = 100,
    Deleted = 101,
    NoSend = 102,
}

impl MsgCode {
    /// Maps a wire code (tag byte minus 7) to a known code.
    pub fn from_wire(code: u8) -> Option<MsgCode> {
        let _ = code;
        todo!()
    }
}

/// One non-data message from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its code.
    pub code: MsgCode,
    /// Its payload (text, or a little-endian i32 for ndx-carrying codes).
    pub payload: Vec<u8>,
}

/// A callback for non-data messages. Returning `Err` aborts the read in
/// progress with that error (used for MSG_ERROR_EXIT).
pub type MsgHandler = Box<dyn FnMut(Message) -> io::Result<()> + Send>;

/// Reads the data stream out of multiplexed frames; every other message is
/// handed to the handler as it arrives. Before [`MplexReader::set_multiplexed`]
/// is switched on, bytes pass through raw.
///
/// Empty MSG_DATA frames (keep-alives) are skipped. A frame longer than
/// [`MAX_FRAME_LEN`] or a non-data message longer than [`MAX_MSG_LEN`] is an
/// `InvalidData` error; an unknown code is an `InvalidData` error whose text
/// is "unexpected tag N".
pub struct MplexReader<R> {
    inner: R,
    handler: MsgHandler,
    _p: (),
}

impl<R: Read> MplexReader<R> {
    /// Wraps `inner`; starts raw (not multiplexed).
    pub fn new(inner: R, handler: MsgHandler) -> Self {
        let _ = (inner, handler);
        todo!()
    }
    /// Switches multiplexing on or off for the following reads.
    pub fn set_multiplexed(&mut self, on: bool) {
        let _ = on;
        todo!()
    }
    /// Replaces the message handler.
    pub fn set_handler(&mut self, handler: MsgHandler) {
        let _ = handler;
        todo!()
    }
    /// Total raw bytes read from the inner stream (headers included).
    pub fn bytes_read(&self) -> u64 {
        todo!()
    }
    /// The inner stream.
    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

impl<R: Read> Read for MplexReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let _ = buf;
        todo!()
    }
}

/// Writes the data stream as MSG_DATA frames (at most [`WRITE_FRAME_LEN`]
/// each) and inserts messages between frames. Data is buffered until
/// `flush`, until the buffer holds a full frame, or until a message is sent
/// (pending data goes first, so order is kept). Before
/// `set_multiplexed(true)` data is written raw.
pub struct MplexWriter<W: Write> {
    inner: W,
    _p: (),
}

impl<W: Write> MplexWriter<W> {
    /// Wraps `inner`; starts raw.
    pub fn new(inner: W) -> Self {
        let _ = inner;
        todo!()
    }
    /// Switches multiplexing on (flushing raw data first) or off.
    pub fn set_multiplexed(&mut self, on: bool) -> io::Result<()> {
        let _ = on;
        todo!()
    }
    /// True once multiplexing is on.
    pub fn is_multiplexed(&self) -> bool {
        todo!()
    }
    /// Sends one message frame (after any pending data). Payloads longer than
    /// [`MAX_MSG_LEN`] - 1 are truncated. In raw mode a non-data message
    /// cannot be sent and is dropped (returns Ok).
    pub fn send_msg(&mut self, code: MsgCode, payload: &[u8]) -> io::Result<()> {
        let _ = (code, payload);
        todo!()
    }
    /// Total raw bytes written to the inner stream (headers included).
    pub fn bytes_written(&self) -> u64 {
        todo!()
    }
    /// The inner stream.
    pub fn inner_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for MplexWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = buf;
        todo!()
    }
    fn flush(&mut self) -> io::Result<()> {
        todo!()
    }
}

/// Decodes a little-endian i32 payload (MSG_REDO, MSG_NO_SEND, MSG_SUCCESS,
/// MSG_IO_ERROR, MSG_ERROR_EXIT); `None` if shorter than 4 bytes.
pub fn payload_i32(payload: &[u8]) -> Option<i32> {
    let _ = payload;
    todo!()
}

#[doc(hidden)]
pub fn _unused() -> Result<()> {
    Ok(())
}
