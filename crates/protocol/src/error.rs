//! Errors from decoding what the peer sent.
use std::io;

/// Why bytes from the peer could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The underlying stream failed.
    #[error("{0}")]
    Io(#[source] io::Error),
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
    /// A sum header announces blocks of length zero (upstream io.c
    /// read_sum_head(), whose wording this keeps).
    #[error("Invalid zero block length")]
    ZeroBlockLength,
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
        use crate::exit::{RERR_PROTOCOL, RERR_STREAMIO};
        match self {
            Error::Eof { .. } => RERR_STREAMIO,
            Error::Io(e) if e.kind() == io::ErrorKind::InvalidData => RERR_PROTOCOL,
            Error::Io(_) => RERR_STREAMIO,
            Error::TooLong { .. }
            | Error::Invalid { .. }
            | Error::ZeroBlockLength
            | Error::UnexpectedTag(_) => RERR_PROTOCOL,
            Error::PeerExit(code) => *code,
        }
    }

    /// Wraps this error in an `io::Error` (kind `InvalidData`, or
    /// `UnexpectedEof` for [`Error::Eof`]) so it can travel through
    /// `std::io::Read`; `From<io::Error>` unwraps it again.
    pub fn into_io(self) -> io::Error {
        match self {
            Error::Io(e) => e,
            Error::Eof { .. } => io::Error::new(io::ErrorKind::UnexpectedEof, self),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }

    /// Builds [`Error::Invalid`].
    pub(crate) fn invalid(field: &'static str, detail: impl Into<String>) -> Error {
        Error::Invalid {
            field,
            detail: detail.into(),
        }
    }
}

impl From<io::Error> for Error {
    /// Keeps a crate error that was carried inside an `io::Error` (for
    /// example a [`Error::PeerExit`] from a multiplex handler, or an
    /// unexpected tag from [`crate::MplexReader`]) as itself.
    fn from(e: io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            let kind = e.kind();
            match e.into_inner().map(|b| b.downcast::<Error>()) {
                Some(Ok(inner)) => return *inner,
                Some(Err(other)) => return Error::Io(io::Error::new(kind, other)),
                None => return Error::Io(io::Error::from(kind)),
            }
        }
        Error::Io(e)
    }
}

/// Shorthand for this crate's results.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Error::Eof { field: "x" }.exit_code(), 12);
        assert_eq!(Error::Io(io::Error::other("x")).exit_code(), 12);
        assert_eq!(
            Error::Io(io::Error::new(io::ErrorKind::InvalidData, "x")).exit_code(),
            2
        );
        assert_eq!(Error::invalid("x", "y").exit_code(), 2);
        assert_eq!(
            Error::TooLong {
                field: "x",
                len: 2,
                max: 1
            }
            .exit_code(),
            2
        );
        assert_eq!(Error::UnexpectedTag(3).exit_code(), 2);
        assert_eq!(Error::PeerExit(23).exit_code(), 23);
    }

    #[test]
    fn io_round_trip_keeps_crate_errors() {
        let e = Error::from(Error::PeerExit(5).into_io());
        assert!(matches!(e, Error::PeerExit(5)));
        let e = Error::from(Error::UnexpectedTag(9).into_io());
        assert!(matches!(e, Error::UnexpectedTag(9)));
        let e = Error::from(io::Error::new(io::ErrorKind::BrokenPipe, "gone"));
        assert!(matches!(e, Error::Io(ref i) if i.kind() == io::ErrorKind::BrokenPipe));
    }
}
