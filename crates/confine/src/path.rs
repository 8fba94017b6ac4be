//! Relative paths that are safe to resolve beneath a [`crate::Root`].

/// Longest relative path accepted (upstream MAXPATHLEN).
pub const MAX_PATH_LEN: usize = 4096;

/// A relative path with no `..` component, not absolute, no NUL byte, at
/// most [`MAX_PATH_LEN`] bytes. `.` components and repeated slashes are
/// dropped when it is built; the empty path (or ".") names the root itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath {
    bytes: Vec<u8>,
}

impl RelPath {
    /// Parses a name from the peer.
    ///
    /// # Errors
    /// `Error::UnsafePath` for `..` components, a leading `/`, NUL, or
    /// over-long names.
    pub fn new(name: &[u8]) -> Result<RelPath, crate::Error> {
        let _ = name;
        todo!()
    }
    /// The root itself.
    pub fn root() -> RelPath {
        RelPath { bytes: Vec::new() }
    }
    /// True for the root itself.
    pub fn is_root(&self) -> bool {
        self.bytes.is_empty()
    }
    /// The normalised bytes ("" for the root).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// `self/name` where `name` is one component (no `/`, not `.` or `..`).
    ///
    /// # Errors
    /// `Error::UnsafePath` if `name` is not a single safe component.
    pub fn join(&self, name: &[u8]) -> Result<RelPath, crate::Error> {
        let _ = name;
        todo!()
    }
    /// The parent (the root's parent is the root) and the last component.
    pub fn split_last(&self) -> (RelPath, &[u8]) {
        todo!()
    }
}
