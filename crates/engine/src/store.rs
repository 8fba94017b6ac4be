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
use std::sync::{Arc, Mutex, OnceLock};

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

/// Parts in the first chunk of the directory; chunk `k` holds `FIRST << k`.
const FIRST: usize = 64;
/// Chunks: room for `FIRST * (2^CHUNKS - 1)` parts, far beyond
/// [`crate::flist::MAX_ENTRIES`] lists.
const CHUNKS: usize = 24;

/// One part's place in the directory: its start never changes; what it
/// holds is swapped when it is freed. Each part has its own lock, so the
/// generator and receiver, working in different lists, do not contend.
struct Slot<T> {
    start: usize,
    part: Mutex<Arc<Part<T>>>,
}

impl<T> Slot<T> {
    fn part(&self) -> Arc<Part<T>> {
        Arc::clone(&self.part.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

thread_local! {
    /// Per thread: the slot each store (by address) last found.
    static HINT: [std::cell::Cell<(usize, usize)>; 4] = Default::default();
}

/// One chunk of the directory of parts, allocated when first needed.
type Chunk<T> = OnceLock<Box<[OnceLock<Slot<T>>]>>;

/// Chunk and offset of part `k`.
fn locate(k: usize) -> (usize, usize) {
    let q = k / FIRST + 1;
    let c = (usize::BITS - 1 - q.leading_zeros()) as usize;
    (c, k - FIRST * ((1 << c) - 1))
}

/// A vector of parts, appended to and freed by part. The directory of
/// parts only grows and is read without a lock.
pub struct Store<T> {
    chunks: Box<[Chunk<T>]>,
    parts: AtomicUsize,
    len: AtomicUsize,
    /// Serialises appends and frees.
    push: Mutex<()>,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Store {
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            parts: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            push: Mutex::new(()),
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
    fn slot(&self, k: usize) -> Option<&Slot<T>> {
        let (c, off) = locate(k);
        self.chunks.get(c)?.get()?.get(off)?.get()
    }
    /// The slots stored so far.
    fn slots(&self) -> impl Iterator<Item = &Slot<T>> + '_ {
        (0..self.parts.load(Ordering::Acquire)).filter_map(|k| self.slot(k))
    }
    /// The slot of the last part whose start is at or before `i`.
    fn slot_of(&self, i: usize) -> Option<&Slot<T>> {
        let (lo, hi) = (0, self.parts.load(Ordering::Acquire));
        if hi == 0 || self.slot(0)?.start > i {
            return None;
        }
        // Each role mostly reads the part it read last, or the next one.
        let me = self as *const Self as usize;
        let hint = HINT.with(|h| h.iter().find(|c| c.get().0 == me).map(|c| c.get().1));
        if let Some(k) = hint.filter(|&k| k < hi) {
            for k in k..(k + 2).min(hi) {
                let here = self.slot(k)?.start <= i;
                let below_next = k + 1 == hi || self.slot(k + 1)?.start > i;
                if here && below_next {
                    return self.slot(k);
                }
            }
        }
        let found = self.search(i, lo, hi);
        if let Some(k) = found {
            HINT.with(|h| {
                let c = h.iter().find(|c| c.get().0 == me);
                let c = c.unwrap_or_else(|| &h[me / 8 % h.len()]);
                c.set((me, k));
            });
        }
        self.slot(found?)
    }
    /// Binary search for [`Self::slot_of`] among slots `lo..hi`.
    fn search(&self, i: usize, mut lo: usize, mut hi: usize) -> Option<usize> {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.slot(mid)?.start <= i {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }
    /// Item `i`, when stored and not freed.
    pub fn get(&self, i: usize) -> Option<Item<T>> {
        let slot = self.slot_of(i)?;
        let guard = slot.part.lock().unwrap_or_else(|p| p.into_inner());
        let pos = guard.find(i - slot.start)?;
        Some(Item {
            part: Arc::clone(&guard),
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
    /// the first. Panics past the store's capacity (callers bound the
    /// count first).
    pub fn push_all(&self, v: Vec<T>) -> usize {
        let _g = self.push.lock().unwrap_or_else(|p| p.into_inner());
        let start = self.len.load(Ordering::Acquire);
        if v.is_empty() {
            return start;
        }
        let len = v.len();
        let k = self.parts.load(Ordering::Acquire);
        let (c, off) = locate(k);
        let chunk =
            self.chunks[c].get_or_init(|| (0..FIRST << c).map(|_| OnceLock::new()).collect());
        let part = Arc::new(Part {
            start,
            len,
            items: Items::All(v.into_boxed_slice()),
        });
        let slot = Slot {
            start,
            part: Mutex::new(part),
        };
        if chunk[off].set(slot).is_err() {
            unreachable!("store part {k} filled twice");
        }
        self.parts.store(k + 1, Ordering::Release);
        self.len.store(start + len, Ordering::Release);
        start
    }
    /// Appends `v`; returns its index.
    pub fn push(&self, v: T) -> usize {
        self.push_all(vec![v])
    }
    /// The items there, with their index, in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, Item<T>)> + '_ {
        self.slots().flat_map(|slot| {
            let part = slot.part();
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
        for slot in self.slots() {
            let part = slot.part();
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
        let _g = self.push.lock().unwrap_or_else(|p| p.into_inner());
        let Some(slot) = self.slot_of(start).filter(|s| s.start == start) else {
            return 0;
        };
        let old = slot.part();
        let kept: Vec<(usize, T)> = (old.each())
            .filter(|&(i, pos)| keep(i, old.at(pos)))
            .map(|(i, pos)| (i - old.start, old.at(pos).clone()))
            .collect();
        let freed = old.each().count() - kept.len();
        let new = Arc::new(Part {
            start,
            len: old.len,
            items: Items::Kept(kept.into_boxed_slice()),
        });
        *slot.part.lock().unwrap_or_else(|p| p.into_inner()) = new;
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
    fn locate_covers_chunks() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(FIRST - 1), (0, FIRST - 1));
        assert_eq!(locate(FIRST), (1, 0));
        assert_eq!(locate(3 * FIRST - 1), (1, 2 * FIRST - 1));
        assert_eq!(locate(3 * FIRST), (2, 0));
    }

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
