//! Confinement: a directory handle ([`Root`]) whose every operation is an
//! `*at` system call beneath it, and peer-supplied names parsed into
//! [`RelPath`] before any system call sees them.
//!
//! Resolution uses openat2 with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`
//! where the kernel has it, and a component-by-component `O_NOFOLLOW` walk
//! where it does not (or when [`force_fallback`] asks for it in tests).
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod copyas;
pub mod error;
pub mod failpoint;
mod follow_leaf;
pub mod heap;
pub mod iconv;
pub mod landlock;
mod listing;
mod node_xattr;
mod open;
pub mod operator;
pub mod path;
pub mod privdrop;
pub mod rangelock;
pub mod root;
pub mod statahead;
mod tmpfile;
pub mod xattr;

pub use crate::landlock::{abi_version, confine_to, HeldDir, LandlockOutcome, Level, Rules};
pub use copyas::become_copy_as;
pub use error::Error;
pub use follow_leaf::SourceLeaf;
pub use listing::Listing;
pub use operator::Links;
pub use path::RelPath;
pub use privdrop::{
    chroot, drop_privileges, set_daemon_gid, set_daemon_uid, set_no_new_privs, PrivDropError,
};
pub use root::{force_fallback, readable_at, AmbientAuthority, FileType, ParentCache, Root, Stat};
pub use statahead::Names;
