//! rsync's filter rules (include/exclude/merge). Not built yet: the transfer
//! core sends and accepts only an empty rule list, and the CLI refuses every
//! filter option with a clear message until this crate is filled in.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// An ordered list of filter rules. Always empty for now.
#[derive(Debug, Default, Clone)]
pub struct FilterList {}

impl FilterList {
    /// True if no rule is present.
    pub fn is_empty(&self) -> bool {
        true
    }
}
