//! Relative paths that are safe to resolve beneath a [`crate::Root`].

/// Longest relative path accepted (upstream MAXPATHLEN).
pub const MAX_PATH_LEN: usize = 4096;

/// A relative path with no `..` component, not absolute, no NUL byte, at
/// most [`MAX_PATH_LEN`] bytes. `.` components and repeated slashes are
/// dropped when it is built; the empty path (or ".") names the root itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath {
    // A boxed slice: 16 bytes, not 24 (a receiver holds one per entry).
    bytes: Box<[u8]>,
}

impl RelPath {
    /// Parses a name from the peer.
    ///
    /// # Errors
    /// `Error::UnsafePath` for `..` components, a leading `/`, NUL, or
    /// over-long names.
    pub fn new(name: &[u8]) -> Result<RelPath, crate::Error> {
        if name.contains(&0) {
            return Err(unsafe_path(name, "contains NUL"));
        }
        if name.first() == Some(&b'/') {
            return Err(unsafe_path(name, "absolute"));
        }
        if name.len() > MAX_PATH_LEN {
            return Err(unsafe_path(name, "too long"));
        }
        let mut bytes = Vec::with_capacity(name.len());
        for comp in name.split(|&b| b == b'/') {
            match comp {
                b"" | b"." => {}
                b".." => return Err(unsafe_path(name, "contains ..")),
                _ => {
                    if !bytes.is_empty() {
                        bytes.push(b'/');
                    }
                    bytes.extend_from_slice(comp);
                }
            }
        }
        Ok(RelPath {
            bytes: bytes.into_boxed_slice(),
        })
    }
    /// The root itself.
    pub fn root() -> RelPath {
        RelPath {
            bytes: Box::default(),
        }
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
        let reason = match name {
            b"" => Some("empty"),
            b"." => Some("not a single component"),
            b".." => Some("contains .."),
            _ if name.contains(&0) => Some("contains NUL"),
            _ if name.contains(&b'/') => Some("not a single component"),
            _ => None,
        };
        if let Some(reason) = reason {
            return Err(unsafe_path(name, reason));
        }
        let sep = usize::from(!self.bytes.is_empty());
        if self.bytes.len() + sep + name.len() > MAX_PATH_LEN {
            return Err(unsafe_path(name, "too long"));
        }
        let mut bytes = Vec::with_capacity(self.bytes.len() + sep + name.len());
        bytes.extend_from_slice(&self.bytes);
        if sep == 1 {
            bytes.push(b'/');
        }
        bytes.extend_from_slice(name);
        Ok(RelPath {
            bytes: bytes.into_boxed_slice(),
        })
    }
    /// The parent (the root's parent is the root) and the last component.
    pub fn split_last(&self) -> (RelPath, &[u8]) {
        match self.bytes.iter().rposition(|&b| b == b'/') {
            Some(i) => (
                RelPath {
                    bytes: self.bytes[..i].into(),
                },
                &self.bytes[i + 1..],
            ),
            None => (RelPath::root(), &self.bytes[..]),
        }
    }
    /// Iterates over the components (none for the root).
    pub fn components(&self) -> impl Iterator<Item = &[u8]> {
        self.bytes.split(|&b| b == b'/').filter(|c| !c.is_empty())
    }
    /// The path, lossily decoded, for messages.
    pub fn display_lossy(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

fn unsafe_path(name: &[u8], reason: &'static str) -> crate::Error {
    crate::Error::UnsafePath {
        path: String::from_utf8_lossy(name).into_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &[u8]) -> &'static str {
        match RelPath::new(name) {
            Err(crate::Error::UnsafePath { reason, .. }) => reason,
            other => panic!("expected rejection of {name:?}, got {other:?}"),
        }
    }

    #[test]
    fn normalises() {
        assert_eq!(RelPath::new(b"a//./b/").unwrap().as_bytes(), b"a/b");
        assert!(RelPath::new(b".").unwrap().is_root());
        assert!(RelPath::new(b"").unwrap().is_root());
        assert!(RelPath::new(b"./").unwrap().is_root());
        assert_eq!(RelPath::new(b"./x").unwrap().as_bytes(), b"x");
        assert_eq!(RelPath::new(b"...").unwrap().as_bytes(), b"...");
        assert_eq!(RelPath::new(b"a/..b").unwrap().as_bytes(), b"a/..b");
    }

    #[test]
    fn rejects() {
        assert_eq!(reason(b".."), "contains ..");
        assert_eq!(reason(b"a/../b"), "contains ..");
        assert_eq!(reason(b"a/.."), "contains ..");
        assert_eq!(reason(b"/etc/passwd"), "absolute");
        assert_eq!(reason(b"a\0b"), "contains NUL");
        assert_eq!(reason(&vec![b'a'; MAX_PATH_LEN + 1]), "too long");
        assert!(RelPath::new(&vec![b'a'; MAX_PATH_LEN]).is_ok());
    }

    #[test]
    fn join_and_split() {
        let a = RelPath::new(b"a/b").unwrap();
        assert_eq!(a.join(b"c").unwrap().as_bytes(), b"a/b/c");
        assert_eq!(RelPath::root().join(b"c").unwrap().as_bytes(), b"c");
        for bad in [&b""[..], b".", b"..", b"x/y", b"x\0"] {
            assert!(a.join(bad).is_err(), "{bad:?}");
        }
        let c = a.join(b"c").unwrap();
        let (parent, last) = c.split_last();
        assert_eq!((parent.as_bytes(), last), (&b"a/b"[..], &b"c"[..]));
        let one = RelPath::new(b"x").unwrap();
        let (parent, last) = one.split_last();
        assert!(parent.is_root());
        assert_eq!(last, b"x");
        let root = RelPath::root();
        let (parent, last) = root.split_last();
        assert!(parent.is_root());
        assert_eq!(last, b"");
        assert_eq!(
            c.components().collect::<Vec<_>>(),
            vec![&b"a"[..], b"b", b"c"]
        );
    }
}
