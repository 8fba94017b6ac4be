//! rsync's filter rules: include/exclude patterns, merge and per-directory
//! merge files, sender/receiver-side rules, and their wire form.
//!
//! ```
//! use filter::{FilterList, Match};
//! let mut rules = FilterList::new();
//! rules.add_filter(b"+ *.c", &mut |_| None)?;
//! rules.add_filter(b"- *", &mut |_| None)?;
//! assert_eq!(rules.check(b"src/main.c", false), Match::Include);
//! assert!(rules.is_excluded(b"README", false));
//! # Ok::<(), filter::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod fuzzing;
mod implied;
mod list;
mod rule;
pub mod wildmatch;
mod wire;

pub use error::Error;
pub use implied::{ArgShape, ImpliedIncludes};
pub use list::{FilterList, Match, Note, ReadFn, DEFAULT_CVSIGNORE, MAX_MERGE_DEPTH};
pub use rule::{Rule, Side};
pub use wire::{WireOptions, MAX_WIRE_RULE_LEN};
