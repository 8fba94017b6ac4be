//! The receiving side's file list as its roles share it: an append-only
//! store indexed by wire ndx, made of parts (a whole list, or one slot).
//! With incremental recursion the receiver thread appends each sub-list as
//! it arrives while the generator walks the earlier ones; a part never
//! moves once stored (its items live in their own boxed slice), so a
//! reference to an item stays valid for as long as the store lives, and a
//! list is moved in without being copied or held twice.
use std::ops::Index;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Parts in the first chunk of the directory; chunk `k` holds `FIRST << k`.
const FIRST: usize = 64;
/// Chunks: room for `FIRST * (2^CHUNKS - 1)` parts, far beyond
/// [`crate::flist::MAX_ENTRIES`] lists.
const CHUNKS: usize = 24;

/// Items `start..start + items.len()`.
struct Part<T> {
    start: usize,
    items: Box<[T]>,
}

/// One chunk of the directory of parts, allocated when first needed.
type Chunk<T> = OnceLock<Box<[OnceLock<Part<T>>]>>;

/// An append-only vector whose items keep their address.
pub struct Store<T> {
    chunks: Box<[Chunk<T>]>,
    parts: AtomicUsize,
    len: AtomicUsize,
    /// Serialises appends (one writer at a time; readers never wait).
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
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Chunk and offset of part `k`.
fn locate(k: usize) -> (usize, usize) {
    let q = k / FIRST + 1;
    let c = (usize::BITS - 1 - q.leading_zeros()) as usize;
    (c, k - FIRST * ((1 << c) - 1))
}

impl<T> Store<T> {
    /// Items stored so far.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn part(&self, k: usize) -> Option<&Part<T>> {
        let (c, off) = locate(k);
        self.chunks.get(c)?.get()?.get(off)?.get()
    }
    /// Item `i`, when stored.
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len() {
            return None;
        }
        // The last part whose start is at or before `i`.
        let (mut lo, mut hi) = (0, self.parts.load(Ordering::Acquire));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.part(mid)?.start <= i {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let p = self.part(lo)?;
        p.items.get(i.checked_sub(p.start)?)
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
        let n = v.len();
        let k = self.parts.load(Ordering::Acquire);
        let (c, off) = locate(k);
        let chunk =
            self.chunks[c].get_or_init(|| (0..FIRST << c).map(|_| OnceLock::new()).collect());
        let part = Part {
            start,
            items: v.into_boxed_slice(),
        };
        if chunk[off].set(part).is_err() {
            unreachable!("store part {k} filled twice");
        }
        self.parts.store(k + 1, Ordering::Release);
        self.len.store(start + n, Ordering::Release);
        start
    }
    /// Appends `v`; returns its index.
    pub fn push(&self, v: T) -> usize {
        self.push_all(vec![v])
    }
    /// All items in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
    /// The index of `item` when it is one of ours (by address).
    pub fn position_of(&self, item: &T) -> Option<usize> {
        let size = std::mem::size_of::<T>().max(1);
        let addr = item as *const T as usize;
        for k in 0..self.parts.load(Ordering::Acquire) {
            let p = self.part(k)?;
            let base = p.items.as_ptr() as usize;
            if addr >= base && addr < base + p.items.len() * size {
                let i = p.start + (addr - base) / size;
                return self.get(i).filter(|x| std::ptr::eq(*x, item)).map(|_| i);
            }
        }
        None
    }
}

impl<T> From<Vec<T>> for Store<T> {
    fn from(v: Vec<T>) -> Self {
        let s = Store::default();
        s.push_all(v);
        s
    }
}

impl<T> Index<usize> for Store<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(x) => x,
            None => panic!("index {i} out of range ({} stored)", self.len()),
        }
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
    fn items_keep_their_address() {
        let s: Store<String> = Store::default();
        s.push("a".into());
        let first: *const String = &s[0];
        for i in 1..500 {
            s.push(i.to_string());
        }
        s.push_all(Vec::new());
        s.push_all((500..5000).map(|i| i.to_string()).collect());
        for i in 5000..5300 {
            s.push_all(vec![i.to_string(), format!("x{i}")]);
        }
        assert!(std::ptr::eq(first, &s[0]));
        assert_eq!(s.len(), 5600);
        assert_eq!(s[499], "499");
        assert_eq!(s[4999], "4999");
        assert_eq!(s[5000], "5000");
        assert_eq!(s[5001], "x5000");
        assert_eq!(s[5599], "x5299");
        assert_eq!(s.position_of(&s[1234]), Some(1234));
        assert_eq!(s.position_of(&s[5301]), Some(5301));
        assert_eq!(s.position_of(&"x".to_string()), None);
        assert!(s.get(5600).is_none());
        assert_eq!(s.iter().count(), 5600);
    }
}
