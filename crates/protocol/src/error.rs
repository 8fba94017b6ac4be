//! Errors from decoding what the peer sent.
use std::io;

/// Why bytes from the peer could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The underlying stream failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The stream ended in the middle of a value.
    #[error("connection unexpectedly closed while reading {field}")]
    Eof {
        /// The wire field being read.
        field: &'static str,
    },
    /// A length or count from the peer exceeded its bound.
    #[error("{field} length {len} exceeds limit {max}")]
    TooLong {
        /// The wire field, as upstream names it.
        field: &'static str,
        /// The value the peer sent.
        len: u64,
        /// The limit it broke.
        max: u64,
    },
    /// A value from the peer was out of range or inconsistent.
    #[error("invalid {field}: {detail}")]
    Invalid {
        /// The wire field.
        field: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// The peer sent a multiplex tag this side does not know.
    #[error("unexpected tag {0}")]
    UnexpectedTag(u8),
    /// The peer asked us to exit with this code (MSG_ERROR_EXIT).
    #[error("peer requested error exit with code {0}")]
    PeerExit(i32),
}

impl Error {
    /// rsync's exit code for this error (see [`crate::exit`]).
    pub fn exit_code(&self) -> i32 {
        todo!()
    }
}

/// Shorthand for this crate's results.
pub type Result<T> = std::result::Result<T, Error>;
