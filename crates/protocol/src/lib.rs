//! The rsync wire protocol (versions 30 to 32), without any I/O policy.
//!
//! Encoders append to a `Vec<u8>`; decoders read from any `std::io::Read`
//! (a socket, a pipe, or a byte slice in tests and fuzzing). Every length or
//! count read from the peer is checked against a named `MAX_*` bound before
//! anything is allocated.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod acl;
pub mod compat;
pub mod compress;
pub mod error;
pub mod exit;
pub mod flist;
#[doc(hidden)]
pub mod fuzzing;
pub mod mode;
pub mod mplex;
pub mod ndx;
pub mod negotiate;
pub mod stats;
pub mod sum_head;
pub mod token;
pub mod varint;
pub mod xattr;

pub use error::Error;
pub use mplex::{Message, MplexReader, MplexWriter, MsgCode};

/// The newest protocol version oxsync speaks.
pub const PROTOCOL_VERSION: i32 = 32;
/// The oldest protocol version oxsync speaks.
pub const MIN_PROTOCOL_VERSION: i32 = 30;
