//! [`OptIndex`]: an optional list index in 4 bytes (an `Option<u32>`
//! takes 8), for the per-entry index fields of [`super::FileEntry`].
use std::fmt;
use std::num::NonZeroU32;

/// An optional index below `u32::MAX` (wire indexes and list positions are
/// at most `i32::MAX`), held as index + 1 so `None` costs no extra bytes.
/// Read it with [`OptIndex::get`]; build it from an `Option<u32>` with
/// `into()`; it compares with an `Option<u32>` directly.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptIndex(Option<NonZeroU32>);

impl OptIndex {
    /// No index.
    pub const NONE: OptIndex = OptIndex(None);
    /// The index, if any.
    pub fn get(self) -> Option<u32> {
        self.0.map(|v| v.get() - 1)
    }
    /// True when there is an index.
    pub fn is_some(self) -> bool {
        self.0.is_some()
    }
    /// True when there is none.
    pub fn is_none(self) -> bool {
        self.0.is_none()
    }
}

impl From<Option<u32>> for OptIndex {
    /// Panics on `Some(u32::MAX)`, which no list index reaches.
    fn from(v: Option<u32>) -> Self {
        OptIndex(v.map(|v| {
            v.checked_add(1)
                .and_then(NonZeroU32::new)
                .expect("list index below u32::MAX")
        }))
    }
}

impl From<OptIndex> for Option<u32> {
    fn from(v: OptIndex) -> Self {
        v.get()
    }
}

impl PartialEq<Option<u32>> for OptIndex {
    fn eq(&self, other: &Option<u32>) -> bool {
        self.get() == *other
    }
}

impl fmt::Debug for OptIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_4_bytes() {
        assert_eq!(std::mem::size_of::<OptIndex>(), 4);
        for v in [
            None,
            Some(0),
            Some(1),
            Some(i32::MAX as u32),
            Some(u32::MAX - 1),
        ] {
            let i = OptIndex::from(v);
            assert_eq!(i.get(), v);
            assert_eq!(i, v);
            assert_eq!(i.is_some(), v.is_some());
            assert_eq!(format!("{i:?}"), format!("{v:?}"));
        }
        assert_eq!(OptIndex::default(), None);
        assert_eq!(OptIndex::NONE, OptIndex::from(None));
    }
}
