//! The receiving side's file list as its roles share it, indexed by wire
//! ndx and made of parts (a whole list, or one slot). With incremental
//! recursion the receiver thread appends each sub-list as it arrives while
//! the generator walks the earlier ones, and a list both roles have
//! finished is freed but for the entries kept beyond it (upstream
//! flist_free(); directories live on as in its dir_flist).
//!
//! A part is shared (`Arc`): an [`Item`] holds its part, so an entry read
//! by one role stays valid while the other frees its list; the memory goes
//! with the last holder. A list is moved in without being copied.
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// The items of one part.
enum Items<T> {
    /// Items `start..start + len`, all there.
    All(Box<[T]>),
    /// What is left of a freed part: the kept items with their offset
    /// (ascending).
    Kept(Box<[(usize, T)]>),
}

/// Items `start..start + len`.
struct Part<T> {
    start: usize,
    len: usize,
    items: Items<T>,
}

impl<T> Part<T> {
    /// The position in `items` of item `start + off`.
    fn find(&self, off: usize) -> Option<usize> {
        match &self.items {
            Items::All(v) => (off < v.len()).then_some(off),
            Items::Kept(v) => v.binary_search_by_key(&off, |(o, _)| *o).ok(),
        }
    }
    fn at(&self, pos: usize) -> &T {
        match &self.items {
            Items::All(v) => &v[pos],
            Items::Kept(v) => &v[pos].1,
        }
    }
    /// The items there, with their index.
    fn each(&self) -> Box<dyn Iterator<Item = (usize, usize)> + '_> {
        match &self.items {
            Items::All(v) => Box::new((0..v.len()).map(|p| (self.start + p, p))),
            Items::Kept(v) => Box::new(v.iter().enumerate().map(|(p, (o, _))| (self.start + o, p))),
        }
    }
}

/// One stored item, holding its part alive.
pub struct Item<T> {
    part: Arc<Part<T>>,
    pos: usize,
}

impl<T> Deref for Item<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.part.at(self.pos)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Item<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        T::fmt(self, f)
    }
}

/// A vector of parts, appended to and freed by part.
pub struct Store<T> {
    parts: RwLock<Vec<Arc<Part<T>>>>,
    len: AtomicUsize,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Store {
            parts: RwLock::new(Vec::new()),
            len: AtomicUsize::new(0),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<T> Store<T> {
    /// Indexes handed out so far (freed ones included).
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
    /// True when nothing was stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn parts(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Part<T>>>> {
        self.parts.read().unwrap_or_else(|p| p.into_inner())
    }
    /// Item `i`, when stored and not freed.
    pub fn get(&self, i: usize) -> Option<Item<T>> {
        let parts = self.parts();
        // The last part whose start is at or before `i`.
        let k = parts.partition_point(|p| p.start <= i).checked_sub(1)?;
        let part = &parts[k];
        let pos = part.find(i - part.start)?;
        Some(Item {
            part: Arc::clone(part),
            pos,
        })
    }
    /// Item `i`; panics when it is not there (callers check indexes from a
    /// peer with [`Self::get`] first).
    pub fn at(&self, i: usize) -> Item<T> {
        match self.get(i) {
            Some(x) => x,
            None => panic!("index {i} not stored ({} handed out)", self.len()),
        }
    }
    /// Appends the items of `v` (moved, not copied); returns the index of
    /// the first.
    pub fn push_all(&self, v: Vec<T>) -> usize {
        let mut parts = self.parts.write().unwrap_or_else(|p| p.into_inner());
        let start = self.len.load(Ordering::Acquire);
        if v.is_empty() {
            return start;
        }
        let len = v.len();
        parts.push(Arc::new(Part {
            start,
            len,
            items: Items::All(v.into_boxed_slice()),
        }));
        self.len.store(start + len, Ordering::Release);
        start
    }
    /// Appends `v`; returns its index.
    pub fn push(&self, v: T) -> usize {
        self.push_all(vec![v])
    }
    /// The items there, with their index, in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, Item<T>)> {
        let parts: Vec<Arc<Part<T>>> = self.parts().clone();
        parts.into_iter().flat_map(|part| {
            let items: Vec<(usize, usize)> = part.each().collect();
            items.into_iter().map(move |(i, pos)| {
                let item = Item {
                    part: Arc::clone(&part),
                    pos,
                };
                (i, item)
            })
        })
    }
    /// The index of `item` when it is one of ours (by address).
    pub fn position_of(&self, item: &T) -> Option<usize> {
        let size = std::mem::size_of::<T>().max(1);
        let addr = item as *const T as usize;
        let parts = self.parts();
        for part in parts.iter() {
            match &part.items {
                Items::All(v) => {
                    let base = v.as_ptr() as usize;
                    if addr >= base && addr < base + v.len() * size {
                        return Some(part.start + (addr - base) / size);
                    }
                }
                Items::Kept(v) => {
                    if let Some((o, _)) = v.iter().find(|(_, x)| std::ptr::eq(x, item)) {
                        return Some(part.start + o);
                    }
                }
            }
        }
        None
    }
}

impl<T: Clone> Store<T> {
    /// Frees the part starting at `start` but for the items `keep` picks
    /// (by index); they keep their index. Returns how many were freed.
    pub fn free(&self, start: usize, keep: impl Fn(usize, &T) -> bool) -> usize {
        let mut parts = self.parts.write().unwrap_or_else(|p| p.into_inner());
        let Ok(k) = parts.binary_search_by_key(&start, |p| p.start) else {
            return 0;
        };
        let old = &parts[k];
        let kept: Vec<(usize, T)> = (old.each())
            .filter(|&(i, pos)| keep(i, old.at(pos)))
            .map(|(i, pos)| (i - old.start, old.at(pos).clone()))
            .collect();
        let freed = old.each().count() - kept.len();
        parts[k] = Arc::new(Part {
            start,
            len: old.len,
            items: Items::Kept(kept.into_boxed_slice()),
        });
        freed
    }
}

impl<T> From<Vec<T>> for Store<T> {
    fn from(v: Vec<T>) -> Self {
        let s = Store::default();
        s.push_all(v);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_keep_their_index() {
        let s: Store<String> = Store::default();
        s.push("a".into());
        let first = s.at(0);
        for i in 1..500 {
            s.push(i.to_string());
        }
        s.push_all(Vec::new());
        s.push_all((500..5000).map(|i| i.to_string()).collect());
        for i in 5000..5300 {
            s.push_all(vec![i.to_string(), format!("x{i}")]);
        }
        assert!(std::ptr::eq(&*first, &*s.at(0)));
        assert_eq!(s.len(), 5600);
        assert_eq!(*s.at(499), "499");
        assert_eq!(*s.at(4999), "4999");
        assert_eq!(*s.at(5000), "5000");
        assert_eq!(*s.at(5001), "x5000");
        assert_eq!(*s.at(5599), "x5299");
        assert_eq!(s.position_of(&s.at(1234)), Some(1234));
        assert_eq!(s.position_of(&s.at(5301)), Some(5301));
        assert_eq!(s.position_of(&"x".to_string()), None);
        assert!(s.get(5600).is_none());
        assert_eq!(s.iter().count(), 5600);
    }

    #[test]
    fn a_freed_part_keeps_what_is_picked() {
        let s: Store<String> = Store::default();
        s.push("slot".into());
        s.push_all((1..=10).map(|i| format!("f{i}")).collect());
        s.push_all(vec!["next".into()]);
        let held = s.at(3);
        // Items 1..=10 go but the even ones.
        let freed = s.free(1, |i, _| i % 2 == 0);
        assert_eq!(freed, 5);
        assert_eq!(s.len(), 12, "indexes are not reused");
        assert!(s.get(3).is_none());
        assert_eq!(*held, "f3", "a held item outlives its part's freeing");
        assert_eq!(*s.at(4), "f4");
        assert_eq!(*s.at(10), "f10");
        assert_eq!(*s.at(11), "next");
        assert_eq!(*s.at(0), "slot");
        let left: Vec<usize> = s.iter().map(|(i, _)| i).collect();
        assert_eq!(left, [0, 2, 4, 6, 8, 10, 11]);
        assert_eq!(s.position_of(&s.at(8)), Some(8));
        assert_eq!(s.free(5, |_, _| false), 0, "not a part's start");
        assert_eq!(s.free(0, |_, _| false), 1);
        assert!(s.get(0).is_none());
    }
}
