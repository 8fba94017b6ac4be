//! [`Name`]: a file-list entry's relative path, held in 24 bytes.
//!
//! A list holds one name per file (a million files: a million names on
//! each side of a local copy), and most relative paths are short, so a
//! name of up to [`INLINE_MAX`] bytes lives inside the entry with no heap
//! allocation; a longer one lives in an exact-size heap allocation.
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest name kept inline (no heap allocation).
pub const INLINE_MAX: usize = 22;

/// A byte string (a relative name as sent, `/`-separated): it reads as a
/// `[u8]` (`Deref`), compares, orders and hashes like one, and is built
/// with `From`/`into()` from a `Vec<u8>` or `&[u8]`.
#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE_MAX] },
    Heap(Box<[u8]>),
}

impl Name {
    /// The empty name.
    pub const fn new() -> Self {
        Name(Repr::Inline {
            len: 0,
            buf: [0; INLINE_MAX],
        })
    }
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }
    /// The bytes (as `Vec::as_slice`).
    pub fn as_slice(&self) -> &[u8] {
        self.as_bytes()
    }
    /// The bytes, in a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    /// True when the bytes live in a heap allocation (longer than
    /// [`INLINE_MAX`]).
    pub fn is_heap(&self) -> bool {
        matches!(self.0, Repr::Heap(_))
    }
}

impl Default for Name {
    fn default() -> Self {
        Name::new()
    }
}

impl Deref for Name {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Name {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Name {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<&[u8]> for Name {
    fn from(b: &[u8]) -> Self {
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE_MAX => {
                let mut buf = [0; INLINE_MAX];
                buf[..b.len()].copy_from_slice(b);
                Name(Repr::Inline { len, buf })
            }
            _ => Name(Repr::Heap(b.into())),
        }
    }
}

impl<const N: usize> From<&[u8; N]> for Name {
    fn from(b: &[u8; N]) -> Self {
        Name::from(&b[..])
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name::from(s.as_bytes())
    }
}

impl From<&Vec<u8>> for Name {
    fn from(b: &Vec<u8>) -> Self {
        Name::from(b.as_slice())
    }
}

impl From<Vec<u8>> for Name {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= INLINE_MAX {
            Name::from(v.as_slice())
        } else {
            Name(Repr::Heap(v.into_boxed_slice()))
        }
    }
}

impl From<Box<[u8]>> for Name {
    fn from(b: Box<[u8]>) -> Self {
        if b.len() <= INLINE_MAX {
            Name::from(&b[..])
        } else {
            Name(Repr::Heap(b))
        }
    }
}

impl From<Name> for Vec<u8> {
    fn from(n: Name) -> Self {
        match n.0 {
            Repr::Inline { .. } => n.as_bytes().to_vec(),
            Repr::Heap(b) => b.into_vec(),
        }
    }
}

impl FromIterator<u8> for Name {
    fn from_iter<I: IntoIterator<Item = u8>>(iter: I) -> Self {
        Name::from(iter.into_iter().collect::<Vec<u8>>())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_bytes(), f)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Name {
    fn cmp(&self, other: &Name) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

macro_rules! eq_bytes {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Name {
            fn eq(&self, other: &$t) -> bool {
                self.as_bytes() == &other[..]
            }
        }
        impl PartialEq<Name> for $t {
            fn eq(&self, other: &Name) -> bool {
                &self[..] == other.as_bytes()
            }
        }
    )*};
}
eq_bytes!([u8], &[u8], Vec<u8>);

impl<const N: usize> PartialEq<[u8; N]> for Name {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_bytes() == other
    }
}
impl<const N: usize> PartialEq<&[u8; N]> for Name {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_bytes() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    #[test]
    fn is_24_bytes() {
        assert_eq!(std::mem::size_of::<Name>(), 24);
        assert_eq!(std::mem::size_of::<Option<Name>>(), 24);
    }

    #[test]
    fn short_names_are_inline_long_ones_exact() {
        for len in [0, 1, 17, INLINE_MAX] {
            let v = vec![b'a'; len];
            let n = Name::from(v.clone());
            assert!(!n.is_heap(), "{len} bytes inline");
            assert_eq!(n, v);
            assert_eq!(Name::from(&v[..]), n);
        }
        for len in [INLINE_MAX + 1, 255, 256, 4096] {
            let v: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let n = Name::from(v.clone());
            assert!(n.is_heap(), "{len} bytes on the heap");
            assert_eq!(n.len(), len);
            assert_eq!(&n[..], &v[..]);
            assert_eq!(Vec::from(n.clone()), v);
            assert_eq!(Name::from(&v[..]), n);
        }
    }

    #[test]
    fn compares_and_hashes_like_bytes() {
        let hash = |b: &[u8]| {
            let mut h = DefaultHasher::new();
            b.hash(&mut h);
            h.finish()
        };
        let long = vec![b'z'; 40];
        let names: [&[u8]; 6] = [b"", b"a", b"a/b", b"ab", b"b", &long];
        for a in names {
            let na = Name::from(a);
            let mut h = DefaultHasher::new();
            na.hash(&mut h);
            assert_eq!(h.finish(), hash(a));
            assert_eq!(format!("{na:?}"), format!("{a:?}"));
            for b in names {
                let nb = Name::from(b);
                assert_eq!(na.cmp(&nb), a.cmp(b), "{a:?} vs {b:?}");
                assert_eq!(na == nb, a == b);
            }
        }
        assert_eq!(Name::default(), b"");
        assert_eq!(Name::from(b"x/y"), b"x/y");
        let n = Name::from(b"x/y");
        assert_eq!(b"x/y".to_vec(), n);
        assert_eq!(&b"x/y"[..], n);
        let set: std::collections::HashSet<Name> = [Name::from(b"k")].into();
        assert!(set.contains(&b"k"[..]));
    }
}
