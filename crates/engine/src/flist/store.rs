//! The receiving side's file list as its roles share it: an append-only
//! store indexed by wire ndx. With incremental recursion the receiver
//! thread appends each sub-list as it arrives while the generator walks
//! the earlier ones; an item never moves once stored, so a reference to it
//! stays valid for as long as the store lives.
use std::ops::Index;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Slots of the first chunk; chunk `k` holds `FIRST << k`.
const FIRST: usize = 256;
/// Chunks: room for `FIRST * (2^CHUNKS - 1)` items, far beyond
/// [`crate::flist::MAX_ENTRIES`].
const CHUNKS: usize = 24;

/// One chunk of slots, allocated when first needed.
type Chunk<T> = OnceLock<Box<[OnceLock<T>]>>;

/// An append-only vector whose items keep their address.
pub struct Store<T> {
    chunks: Box<[Chunk<T>]>,
    len: AtomicUsize,
    /// Serialises appends (one writer at a time; readers never wait).
    push: Mutex<()>,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Store {
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
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

/// Chunk and offset of item `i`.
fn locate(i: usize) -> (usize, usize) {
    let q = i / FIRST + 1;
    let k = (usize::BITS - 1 - q.leading_zeros()) as usize;
    (k, i - FIRST * ((1 << k) - 1))
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
    /// Item `i`, when stored.
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len() {
            return None;
        }
        let (k, off) = locate(i);
        self.chunks.get(k)?.get()?.get(off)?.get()
    }
    /// Appends `v`; returns its index. Panics past the store's capacity
    /// (callers bound the count first).
    pub fn push(&self, v: T) -> usize {
        let _g = self.push.lock().unwrap_or_else(|p| p.into_inner());
        let i = self.len.load(Ordering::Acquire);
        let (k, off) = locate(i);
        let chunk =
            self.chunks[k].get_or_init(|| (0..FIRST << k).map(|_| OnceLock::new()).collect());
        if chunk[off].set(v).is_err() {
            unreachable!("store slot {i} filled twice");
        }
        self.len.store(i + 1, Ordering::Release);
        i
    }
    /// All items in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
    /// The index of `item` when it is one of ours (by address).
    pub fn position_of(&self, item: &T) -> Option<usize> {
        let size = std::mem::size_of::<OnceLock<T>>().max(1);
        let addr = item as *const T as usize;
        for (k, c) in self.chunks.iter().enumerate() {
            let Some(chunk) = c.get() else { break };
            let base = chunk.as_ptr() as usize;
            if addr >= base && addr < base + chunk.len() * size {
                let i = FIRST * ((1 << k) - 1) + (addr - base) / size;
                return self.get(i).filter(|x| std::ptr::eq(*x, item)).map(|_| i);
            }
        }
        None
    }
}

impl<T> From<Vec<T>> for Store<T> {
    fn from(v: Vec<T>) -> Self {
        let s = Store::default();
        for x in v {
            s.push(x);
        }
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
        for i in 1..5000 {
            s.push(i.to_string());
        }
        assert!(std::ptr::eq(first, &s[0]));
        assert_eq!(s.len(), 5000);
        assert_eq!(s[4999], "4999");
        assert_eq!(s.position_of(&s[1234]), Some(1234));
        assert_eq!(s.position_of(&"x".to_string()), None);
        assert!(s.get(5000).is_none());
        assert_eq!(s.iter().count(), 5000);
    }
}
