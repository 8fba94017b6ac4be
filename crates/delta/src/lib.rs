//! rsync's delta algorithm: rolling and strong checksums, the block-size
//! heuristic, signatures of a basis file, the sender's match search, and
//! the block lookup the receiver uses to patch.
//!
//! ```
//! use delta::{match_file, sum_sizes, ChecksumKind, Op, Signature};
//!
//! let basis = b"the quick brown fox jumps over the lazy dog".repeat(100);
//! let mut new = basis.clone();
//! new.splice(1000..1000, *b"NEW");
//! let kind = ChecksumKind::Md5;
//! // generator: signature of the basis
//! let sizes = sum_sizes(basis.len() as u64, kind.digest_len(), None, false);
//! let sig = Signature::generate(&basis[..], basis.len() as u64, sizes, kind, 42, true)?;
//! // sender: delta of the new file; receiver: patch against the basis
//! let mut out = Vec::new();
//! let (stats, _sum) = match_file(&new[..], &sig, kind, 42, true, &mut |op| {
//!     match op {
//!         Op::Literal(data) => out.extend_from_slice(data),
//!         Op::Match(i) => {
//!             let (off, len) = Signature::block_range(&sig.sizes, i).unwrap();
//!             out.extend_from_slice(&basis[off as usize..off as usize + len]);
//!         }
//!     }
//!     Ok(())
//! })?;
//! assert_eq!(out, new);
//! assert!(stats.literal < 2 * u64::from(sizes.blength));
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checksum;
pub mod matcher;
pub mod rolling;
pub mod signature;

pub use checksum::{ChecksumKind, FileHasher};
pub use matcher::{match_file, MatchStats, Op};
pub use rolling::Rolling;
pub use signature::{sum_sizes, Signature, SumSizes};
