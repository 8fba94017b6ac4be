//! Errors from confined operations.
use std::io;

/// A confined operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name from the peer was rejected before any system call.
    #[error("unsafe path {path:?}: {reason}")]
    UnsafePath {
        /// The name, lossily decoded.
        path: String,
        /// Why it was rejected ("contains ..", "absolute", "contains NUL", "too long", "empty").
        reason: &'static str,
    },
    /// A system call failed (escape attempts surface here as
    /// `PermissionDenied` or as the kernel's EXDEV/ELOOP).
    #[error("{op} {path:?} failed: {source}")]
    Io {
        /// The system call or operation, e.g. "openat2", "renameat".
        op: &'static str,
        /// The relative path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The io::ErrorKind of an `Io` error (`PermissionDenied` for an unsafe path).
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::UnsafePath { .. } => io::ErrorKind::PermissionDenied,
            Error::Io { source, .. } => source.kind(),
        }
    }
    /// The raw errno of an `Io` error, if any.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::UnsafePath { .. } => None,
            Error::Io { source, .. } => source.raw_os_error(),
        }
    }
}
