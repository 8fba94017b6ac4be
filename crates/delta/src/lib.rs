//! rsync's delta algorithm: rolling and strong checksums, the block-size
//! heuristic, signatures of a basis file, the sender's match search, and
//! the block lookup the receiver uses to patch.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checksum;
pub mod matcher;
pub mod rolling;
pub mod signature;

pub use checksum::{ChecksumKind, FileHasher};
pub use matcher::{match_file, MatchStats, Op};
pub use rolling::Rolling;
pub use signature::{sum_sizes, BlockSum, Signature, SumSizes};
