//! Errors from parsing filter rules and reading merge files.

/// Everything that can go wrong while building or transferring a filter list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rule could not be parsed.
    #[error("{reason} in filter rule: {text}")]
    Rule {
        /// The offending rule text (lossily decoded).
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A rule carries a modifier that is unknown or not allowed with its prefix.
    #[error("invalid modifier '{modifier}' at position {position} in filter rule: {text}")]
    Modifier {
        /// The offending rule text (lossily decoded).
        text: String,
        /// The modifier character.
        modifier: char,
        /// Its byte offset in the rule.
        position: usize,
    },
    /// A merge file (`merge`, `--exclude-from`, `--include-from`) could not be read.
    #[error("failed to open {kind} file {path}")]
    MergeFile {
        /// The file name as given.
        path: String,
        /// "include" or "exclude" (the kind of file it was read as).
        kind: &'static str,
    },
    /// Merge files include each other too deeply (or recursively).
    #[error("merge-file include depth limit ({limit}) exceeded at {path}")]
    MergeDepth {
        /// The file that would exceed the limit.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// A rule cannot be expressed in the peer's protocol version.
    #[error("filter rules are too modern for remote rsync (protocol {protocol}): {text}")]
    TooModern {
        /// The negotiated protocol version.
        protocol: u32,
        /// The rule that cannot be sent.
        text: String,
    },
    /// A received rule is longer than upstream accepts.
    #[error("received filter rule of {len} bytes exceeds the limit of {max}")]
    WireTooLong {
        /// The announced length.
        len: usize,
        /// The largest acceptable length.
        max: usize,
    },
}

impl Error {
    pub(crate) fn rule(text: &[u8], reason: &'static str) -> Error {
        Error::Rule {
            text: String::from_utf8_lossy(text).into_owned(),
            reason,
        }
    }
}
